#!/usr/bin/env bash
# bench/copy.sh [NFILES] [BIG_MiB]: `COPY . /app/` of a context of NFILES small files (default
# 20000, 1 KiB, 200 dirs) plus one BIG_MiB file (default 256), through copy/copy.h, side by
# side with `cp -a` of the same tree (both on the same filesystem, page cache warm; the
# second of two runs is reported).  BENCH_DIR=/dev/shm puts it all on tmpfs.
set -eu
N=${1:-20000}
BIG=${2:-256}
here=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${BENCH_DIR:-/tmp}/slipway-bench-copy.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -std=gnu17 -D_GNU_SOURCE -I"$here/include" -I"$here" -o "$W/copy_run" "$here/bench/copy_run.c" \
   "$here/build/libslipway.a" $(pkg-config --libs libarchive libcurl jansson libseccomp libzstd libcrypto libisal) -lpthread
python3 - "$W/ctx" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(1024))
PY
head -c "$((BIG << 20))" /dev/urandom > "$W/ctx/big.bin"
cat "$W/ctx/big.bin" > /dev/null
# wall and CPU (user+sys) seconds: the machine may be shared, CPU time is the steadier figure
t() { /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -1; }
for run in 1 2; do
  rm -rf "$W/r1" "$W/r2"; mkdir -p "$W/r1" "$W/r2/app"
  read -r sw_wall sw_u sw_s < <(t "$W/copy_run" "$W/ctx" "$W/r1")
  read -r cp_wall cp_u cp_s < <(t cp -a "$W/ctx/." "$W/r2/app/")
done
diff -r "$W/r1/app" "$W/r2/app" >/dev/null || { echo "trees differ" >&2; exit 1; }
printf 'COPY . /app/ of %d files + %d MiB: slipway wall %ss cpu %.2fs | cp -a wall %ss cpu %.2fs\n' \
  "$N" "$BIG" "$sw_wall" "$(awk "BEGIN{print $sw_u + $sw_s}")" "$cp_wall" "$(awk "BEGIN{print $cp_u + $cp_s}")"
