#!/usr/bin/env python3
"""push-random-image.py REGISTRY REPO:TAG MIB: push a one-layer image whose layer is MIB
MiB of random bytes (not a real tar: registries do not look inside) to REGISTRY over plain
HTTP with monolithic uploads.  Prints the manifest digest."""
import hashlib, http.client, json, os, sys

reg, ref, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
repo, tag = ref.rsplit(":", 1)
host, port = reg.split(":")

def req(method, path, body=b"", headers=None):
    c = http.client.HTTPConnection(host, int(port), timeout=300)
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

layer = os.urandom(mib << 20)
ld, ls = put_blob(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd, cs = put_blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]}).encode()
r, body = req("PUT", f"/v2/{repo}/manifests/{tag}", man,
              {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
assert r.status == 201, (r.status, body)
print("sha256:" + hashlib.sha256(man).hexdigest())
print(ld, file=sys.stderr)
