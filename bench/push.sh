#!/usr/bin/env bash
# bench/push.sh [MIB]: push a blob of MIB MiB (default 1024) of random data to a loopback
# registry (Debian's docker-registry), slipway beside skopeo, in one run:
#   1. local → registry: slipway's streaming chunked upload (bench/pushblob.c, reading the
#      bytes from a pipe) vs `skopeo copy oci:LAYOUT docker://…` of an image holding that
#      blob as its layer.
#   2. registry → registry: `slipway imagetools create` vs `skopeo copy docker:// docker://`
#      of that image.
# For each: wall time, throughput, peak RSS, bytes the tool itself wrote to local disk.
set -eu
cd "$(dirname "$0")/.."
mib=${1:-1024}
. tests/lib.sh
make -s all >/dev/null
work=$(scratch_dir)
cc -O2 -std=gnu17 -D_GNU_SOURCE -I. -Iinclude -o "$work/pushblob" bench/pushblob.c build/libslipway.a \
  $(pkg-config --libs libcurl jansson libcrypto) -lpthread
start_registry "$work/r1"; R1=$REGISTRY
start_registry "$work/r2"; R2=$REGISTRY

# the image: an OCI layout whose one layer is the random blob
python3 - "$work/layout" "$mib" <<'PY'
import hashlib, json, os, sys
lay, mib = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{lay}/blobs/sha256", exist_ok=True)
h = hashlib.sha256(); tmp = f"{lay}/blobs/tmp"
with open(tmp, "wb") as f:
    for _ in range(mib):
        b = os.urandom(1 << 20); h.update(b); f.write(b)
ld = h.hexdigest(); os.rename(tmp, f"{lay}/blobs/sha256/{ld}")
def put(obj):
    data = json.dumps(obj, separators=(",", ":")).encode(); d = hashlib.sha256(data).hexdigest()
    open(f"{lay}/blobs/sha256/{d}", "wb").write(data); return "sha256:" + d, len(data)
cd, cs = put({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}})
md, ms = put({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
              "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + ld, "size": mib << 20}]})
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
           "size": ms, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, open(f"{lay}/index.json", "w"))
open(f"{lay}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
print("sha256:" + ld, file=open(f"{lay}/../layer", "w"))
PY
layer=$(cat "$work/layer")
blobfile=$work/layout/blobs/sha256/${layer#sha256:}
cat "$blobfile" >/dev/null   # warm the page cache for both tools

row() { # TOOL CASE LINE
  local s rss w
  s=$(grep -o 'seconds=[0-9.]*' <<<"$3" | cut -d= -f2); rss=$(grep -o 'maxrss_KiB=[0-9]*' <<<"$3" | cut -d= -f2)
  w=$(grep -o 'disk_write_bytes=[0-9-]*' <<<"$3" | cut -d= -f2)
  printf '%-8s %-22s %8.2f s %8.0f MiB/s %8.1f MiB RSS %12s B written\n' "$1" "$2" "$s" \
    "$(echo "$mib / $s" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$w"
}
echo "push of a $mib MiB random blob to loopback docker-registry $(docker-registry --version | awk '{print $3}'), skopeo $(skopeo --version | awk '{print $3}')"
m=$(python3 bench/measure.py "$work/pushblob" "$R1/bench/slipway" < "$blobfile" 2>&1 >"$work/pb.out")
line=$(cat "$work/pb.out")
grep -q "$layer" <<<"$line" || { echo "slipway pushed the wrong digest: $line" >&2; exit 1; }
# rusage of the whole process (includes startup), disk writes from /proc/self/io
row slipway "local → registry" "$(sed 's/ disk_write_bytes=[0-9-]*//' <<<"$m") $(grep -o 'disk_write_bytes=[0-9-]*' <<<"$line")"
m=$(python3 bench/measure.py skopeo copy -q --dest-tls-verify=false "oci:$work/layout:bench" "docker://$R1/bench/skopeo:1" 2>&1)
row skopeo "local → registry" "$m"
m=$(python3 bench/measure.py "$SLIPWAY" imagetools create -t "$R2/bench/slipway:1" "$R1/bench/skopeo:1" 2>&1 | grep seconds=)
row slipway "registry → registry" "$m"
m=$(python3 bench/measure.py skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$R1/bench/skopeo:1" "docker://$R2/bench/skopeo:1" 2>&1 | grep seconds=)
row skopeo "registry → registry" "$m"
