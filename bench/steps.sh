#!/usr/bin/env bash
# bench/steps.sh [N]: per-step overhead of a trivial RUN, N steps (default 30) chained over
# snapshots (step i runs over the base rootfs and the upper dirs of steps 1…i-1), through
# `slipway debug run`; and the same N trivial `buildah run` steps (vfs, chroot isolation)
# on the same busybox rootfs when buildah is installed.  Prints ms per step side by side.
# (The push half of the steps30 case comes with the build engine: see docs/PERFORMANCE.md.)
set -eu
N=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
SLIPWAY=${SLIPWAY:-$here/slipway}
W=$(mktemp -d /tmp/slipway-bench-steps.XXXXXX)
trap 'buildah --root "$W/bh/root" --runroot "$W/bh/run" --storage-driver vfs rm -a >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
bash "$here/tests/fixtures/busybox-rootfs.sh" "$W/rootfs"

now() { date +%s%N; }
# warm: state dir layout, stub tree, seccomp program cache
"$SLIPWAY" debug run --state-dir "$W/state" --rootfs "$W/rootfs" -- true

lowers=(--rootfs "$W/rootfs")
start=$(now)
for i in $(seq 1 "$N"); do
  mkdir "$W/s$i"
  "$SLIPWAY" debug run --state-dir "$W/state" "${lowers[@]}" --upper "$W/s$i" -- /bin/sh -c "echo $i > /step$i"
  lowers+=(--lower "$W/s$i")
done
end=$(now)
sw=$(( (end - start) / N / 1000 ))
# the last step must see every earlier step's file
"$SLIPWAY" debug run --state-dir "$W/state" "${lowers[@]}" -- /bin/sh -c "test \$(cat /step1)\$(cat /step$N) = 1$N" \
  || { echo "chained steps lost a layer" >&2; exit 1; }
printf 'slipway debug run (a process per step): %d steps, %d.%03d ms/step\n' "$N" $((sw / 1000)) $((sw % 1000))

# in one process, as the build engine runs steps: sandbox/sandbox.h directly
if [ -f "$here/build/libslipway.a" ]; then
  cc -O2 -std=gnu17 -D_GNU_SOURCE -I"$here/include" -I"$here" -o "$W/step_loop" "$here/bench/step_loop.c" \
     "$here/build/libslipway.a" $(pkg-config --libs libarchive libcurl jansson libseccomp libzstd libcrypto libisal) -lpthread
  mkdir "$W/loop"
  read -r n min med mean < <("$W/step_loop" "$W/state" "$W/rootfs" "$W/loop" "$N")
  printf 'slipway sandbox, in-process (engine path): %d steps, ms/step min %s median %s mean %s\n' "$n" "$min" "$med" "$mean"
fi

if command -v buildah >/dev/null; then
  B=(buildah --root "$W/bh/root" --runroot "$W/bh/run" --storage-driver vfs)
  ctr=$("${B[@]}" from scratch 2>/dev/null | tail -1)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$W/rootfs/." "$mnt/"
  start=$(now)
  for i in $(seq 1 "$N"); do
    "${B[@]}" run --isolation chroot "$ctr" -- /bin/sh -c "echo $i > /step$i"
  done
  end=$(now)
  bh=$(( (end - start) / N / 1000 ))
  printf 'buildah run (vfs, chroot): %d steps, %d.%03d ms/step\n' "$N" $((bh / 1000)) $((bh % 1000))
else
  echo "buildah: not installed (apt-get install buildah) — no side-by-side figure"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
