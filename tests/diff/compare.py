#!/usr/bin/env python3
"""Compare two images in a registry the way a user of either would see them.

  compare.py REGISTRY REF_A REF_B [PLATFORM]
  compare.py REGISTRY --batch LIST OUTDIR

The batch form reads lines "NAME PLATFORM REF_A REF_B" from LIST and writes each case's
differences to OUTDIR/NAME.diff (empty when the images match); one process and one cache of
layer blobs (the shared base) for the whole suite.

REF_A and REF_B are repository:tag in REGISTRY (plain HTTP, no auth), PLATFORM os/arch[/variant]
picks the image from an index (default linux/amd64).  Everything is read straight from the
registry — manifest, config, layer blobs — because copying an image elsewhere may rewrite its
config.  The file tree is rebuilt by applying each image's layers in order (whiteouts and opaque
directories included) and compared entry by entry: type, mode, uid/gid, size, content sha256,
link target, hardlink group, xattrs.  The config is compared on what a container sees (Env, Cmd,
Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal, Healthcheck, Shell,
OnBuild), the platform, the layer count and the history's created_by/empty_layer.

Ignored as noise: timestamps; an empty /dev, /proc or /sys directory present in one image only
(BuildKit's runtime leaves these mount-point stubs in RUN layers of a base that lacks them).

Prints one line per difference, labelled with A's and B's names; exits 1 when any was found.
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile, urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
CONFIG_KEYS = ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
               "Labels", "StopSignal", "Healthcheck", "Shell", "OnBuild"]
STUBS = {"dev", "proc", "sys"}


def get(registry, path, accept=None):
    req = urllib.request.Request("http://%s/v2/%s" % (registry, path))
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read(), r.headers.get("Content-Type", "")


def split_ref(ref):
    repo, _, tag = ref.rpartition(":")
    if "/" in tag or not repo:
        return ref, "latest"
    return repo, tag


_blob_cache = {}


def layer_blob(registry, repo, desc):
    """A layer's uncompressed tar, cached by digest (every case shares the base's)."""
    d = desc["digest"]
    if d not in _blob_cache:
        data = get(registry, "%s/blobs/%s" % (repo, d))[0]
        mt = desc.get("mediaType", "")
        if "zstd" in mt:
            data = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
        elif "gzip" in mt or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        _blob_cache[d] = data
    return _blob_cache[d]


def load_image(registry, ref, platform):
    repo, tag = split_ref(ref)
    body, ctype = get(registry, "%s/manifests/%s" % (repo, tag), ACCEPT)
    man = json.loads(body)
    mtype = man.get("mediaType", ctype)
    if mtype in INDEX_TYPES or "manifests" in man:
        want = platform.split("/")
        chosen = None
        for m in man["manifests"]:
            p = m.get("platform", {})
            got = [p.get("os"), p.get("architecture")] + ([p["variant"]] if p.get("variant") else [])
            if got[:len(want)] == want and p.get("os") != "unknown":
                chosen = m
                break
        if chosen is None:
            raise SystemExit("%s: no %s image in the index" % (ref, platform))
        body, ctype = get(registry, "%s/manifests/%s" % (repo, chosen["digest"]), ACCEPT)
        man = json.loads(body)
    cfg = json.loads(get(registry, "%s/blobs/%s" % (repo, man["config"]["digest"]))[0])
    layers = [layer_blob(registry, repo, l) for l in man["layers"]]
    return cfg, layers


def norm(name):
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def build_tree(layers):
    """path -> entry dict; hardlinked entries share an 'inode' number."""
    tree = {}
    next_inode = [0]

    def remove(path, keep=None):
        for p in [p for p in tree if p == path or p.startswith(path + "/")]:
            if keep is None or p not in keep:
                del tree[p]

    for data in layers:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        added = set()
        for m in tf:
            path = norm(m.name)
            base = path.rsplit("/", 1)[-1]
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            if base == ".wh..wh..opq":
                remove_children = [p for p in tree if p.startswith(parent + "/" if parent else "") and p != parent and p not in added]
                for p in remove_children:
                    del tree[p]
                continue
            if base.startswith(".wh."):
                target = (parent + "/" if parent else "") + base[4:]
                remove(target)
                continue
            if path == "":
                continue
            # an entry replaces whatever was there (a directory over a directory merges)
            old = tree.get(path)
            if old is not None and not (old["type"] == "dir" and m.isdir()):
                remove(path)
            e = {"mode": "%o" % m.mode, "uid": m.uid, "gid": m.gid,
                 "xattrs": {k[len("SCHILY.xattr."):]: v for k, v in m.pax_headers.items()
                            if k.startswith("SCHILY.xattr.")}}
            if m.isdir():
                e.update(type="dir")
            elif m.islnk():
                t = tree.get(norm(m.linkname))
                if t is None:
                    e.update(type="file", size=0, sha256="(dangling hardlink %s)" % m.linkname)
                    next_inode[0] += 1
                    e["inode"] = next_inode[0]
                else:
                    e = dict(t)
                    e["xattrs"] = dict(t["xattrs"])
            elif m.issym():
                e.update(type="symlink", target=m.linkname)
            elif m.isreg():
                content = tf.extractfile(m).read()
                next_inode[0] += 1
                e.update(type="file", size=len(content), sha256=hashlib.sha256(content).hexdigest(),
                         inode=next_inode[0])
                if len(content) <= 2048:
                    e["_text"] = content  # shown when the contents differ, never compared
            elif m.ischr() or m.isblk():
                e.update(type="chr" if m.ischr() else "blk", dev="%d:%d" % (m.devmajor, m.devminor))
            elif m.isfifo():
                e.update(type="fifo")
            else:
                e.update(type="other%s" % m.type)
            tree[path] = e
            added.add(path)
    # hardlink groups: the other names of the same inode
    by_inode = {}
    for p, e in tree.items():
        if "inode" in e:
            by_inode.setdefault(e["inode"], []).append(p)
    for p, e in tree.items():
        if "inode" in e:
            group = sorted(by_inode[e["inode"]])
            e["hardlinks"] = group if len(group) > 1 else []
    for e in tree.values():
        e.pop("inode", None)
    return tree


def history(cfg):
    return [(h.get("created_by", ""), bool(h.get("empty_layer", False))) for h in cfg.get("history", [])]


def compare(a_name, a, b_name, b):
    diffs = []
    cfg_a, layers_a = a
    cfg_b, layers_b = b
    ca, cb = cfg_a.get("config", {}) or {}, cfg_b.get("config", {}) or {}
    for k in CONFIG_KEYS:
        va, vb = ca.get(k), cb.get(k)
        # an empty list/map and an absent key mean the same to a container
        if va in ([], {}, ""):
            va = None
        if vb in ([], {}, ""):
            vb = None
        if va != vb:
            diffs.append("config.%s: %s=%s %s=%s" % (k, a_name, json.dumps(va), b_name, json.dumps(vb)))
    for k in ("architecture", "os", "variant"):
        if cfg_a.get(k) != cfg_b.get(k):
            diffs.append("%s: %s=%s %s=%s" % (k, a_name, cfg_a.get(k), b_name, cfg_b.get(k)))
    if len(layers_a) != len(layers_b):
        diffs.append("layer count: %s=%d %s=%d" % (a_name, len(layers_a), b_name, len(layers_b)))
    ha, hb = history(cfg_a), history(cfg_b)
    if ha != hb:
        n = max(len(ha), len(hb))
        for i in range(n):
            x = ha[i] if i < len(ha) else None
            y = hb[i] if i < len(hb) else None
            if x != y:
                diffs.append("history[%d]: %s=%s %s=%s" % (i, a_name, json.dumps(x), b_name, json.dumps(y)))
    ta, tb = build_tree(layers_a), build_tree(layers_b)
    for p in sorted(set(ta) | set(tb)):
        x, y = ta.get(p), tb.get(p)
        tx = x.pop("_text", None) if x else None
        ty = y.pop("_text", None) if y else None
        if x == y:
            continue
        if (x is None or y is None) and p in STUBS:
            e = x or y
            if e["type"] == "dir" and not any(q.startswith(p + "/") for q in (ta if x else tb)):
                continue
        if x is None:
            diffs.append("/%s: only in %s (%s)" % (p, b_name, describe(y)))
        elif y is None:
            diffs.append("/%s: only in %s (%s)" % (p, a_name, describe(x)))
        else:
            fields = [k for k in sorted(set(x) | set(y)) if x.get(k) != y.get(k)]
            diffs.append("/%s: %s" % (p, ", ".join("%s %s=%s %s=%s" % (k, a_name, x.get(k), b_name, y.get(k))
                                                   for k in fields)))
            if "sha256" in fields and tx is not None and ty is not None:
                diffs.append("    %s: %r" % (a_name, tx.decode(errors="replace")))
                diffs.append("    %s: %r" % (b_name, ty.decode(errors="replace")))
    return diffs


def describe(e):
    s = "%s %s %d:%d" % (e["type"], e["mode"], e["uid"], e["gid"])
    if e["type"] == "file":
        s += " %d bytes" % e["size"]
    if e["type"] == "symlink":
        s += " -> %s" % e["target"]
    return s


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    name_a = os.environ.get("NAME_A", "A")
    name_b = os.environ.get("NAME_B", "B")
    if sys.argv[2] == "--batch":
        registry, lst, outdir = sys.argv[1], sys.argv[3], sys.argv[4]
        for line in open(lst):
            if not line.strip():
                continue
            name, platform, ref_a, ref_b = line.split()
            try:
                out = compare(name_a, load_image(registry, ref_a, platform),
                              name_b, load_image(registry, ref_b, platform))
            except Exception as ex:  # one broken case must not hide the others
                out = ["comparison failed: %r" % ex]
            with open(os.path.join(outdir, name + ".diff"), "w") as f:
                f.write("".join(d + "\n" for d in out))
        return
    registry, ref_a, ref_b = sys.argv[1:4]
    platform = sys.argv[4] if len(sys.argv) > 4 else "linux/amd64"
    a = load_image(registry, ref_a, platform)
    b = load_image(registry, ref_b, platform)
    diffs = compare(name_a, a, name_b, b)
    for d in diffs:
        print(d)
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
