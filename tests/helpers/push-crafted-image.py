#!/usr/bin/env python3
"""push-crafted-image.py REGISTRY REPO:TAG MODE: push a one-layer amd64 image (the layer a
real tar+gzip holding /hello) whose manifest lies about its layer, over plain HTTP:
  ok            nothing wrong (the control)
  unknown-type  the layer's mediaType is application/vnd.example.unknown
  foreign       the layer is a docker foreign (non-distributable) layer
  bad-size      the layer's size is one byte more than the blob
Prints the manifest digest."""
import gzip, hashlib, http.client, io, json, sys, tarfile

reg, ref, mode = sys.argv[1], sys.argv[2], sys.argv[3]
repo, tag = ref.rsplit(":", 1)
host, port = reg.split(":")

def req(method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(host, int(port), timeout=60)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data

def put_blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    r, _ = req("POST", f"/v2/{repo}/blobs/uploads/")
    assert r.status == 202, r.status
    loc = r.getheader("Location")
    loc = loc[loc.index("/v2/"):] if "/v2/" in loc else loc
    r, body = req("PUT", f"{loc}{'&' if '?' in loc else '?'}digest={d}", data,
                  {"Content-Type": "application/octet-stream"})
    assert r.status == 201, (r.status, body)
    return d, len(data)

raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
    content = b"hello\n"
    info = tarfile.TarInfo("hello"); info.size = len(content); info.mode = 0o644
    t.addfile(info, io.BytesIO(content))
tar = raw.getvalue()
layer = gzip.compress(tar, mtime=0)
ld, ls = put_blob(layer)
diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
cd, cs = put_blob(cfg)
mt = {"ok": "application/vnd.oci.image.layer.v1.tar+gzip",
      "unknown-type": "application/vnd.example.unknown",
      "foreign": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "bad-size": "application/vnd.oci.image.layer.v1.tar+gzip"}[mode]
size = ls + 1 if mode == "bad-size" else ls
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": [{"mediaType": mt, "digest": ld, "size": size}]}).encode()
r, body = req("PUT", f"/v2/{repo}/manifests/{tag}", man,
              {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
assert r.status == 201, (r.status, body)
print("sha256:" + hashlib.sha256(man).hexdigest())
