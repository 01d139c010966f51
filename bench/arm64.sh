#!/usr/bin/env bash
# bench/arm64.sh: ../shared/bench's case arm64 (FROM busybox; one RUN that writes 128 MiB
# from /dev/urandom, sha256sums it and records `uname -m`) for linux/arm64 on this host,
# built AND pushed, side by side: `slipway build --platform linux/arm64 --push` and
# `buildah bud --platform linux/arm64` + `buildah push` (chroot isolation, vfs), each against
# its own fresh loopback registry with the same two-platform busybox base
# (tests/fixtures/push-busybox.sh).  slipway arranges QEMU itself (emu/); buildah needs the
# host's binfmt_misc entry for arm64 and is skipped without one.  Also prints the way
# slipway ran QEMU and whether binfmt_misc was left as found.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SLIPWAY=${SLIPWAY:-$here/slipway}
. tests/lib.sh
W=$(scratch_dir)
start_registry "$W/reg" >/dev/null
bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null
mkdir -p "$W/ctx"
sed "s|^FROM .*|FROM $REGISTRY/base/busybox:latest|" ../shared/bench/cases/arm64/Dockerfile > "$W/ctx/Dockerfile" 2>/dev/null \
  || printf 'FROM %s/base/busybox:latest\nRUN dd if=/dev/urandom of=/blob bs=1M count=128 2>/dev/null && sha256sum /blob > /blob.sum && uname -m > /arch\n' \
       "$REGISTRY" > "$W/ctx/Dockerfile"
now() { date +%s%N; }
report() { # tool start end
  local ms=$(( ($3 - $2) / 1000000 ))
  printf '%-46s %4d.%03d s\n' "$1" $((ms / 1000)) $((ms % 1000))
}
binfmt() { ls /proc/sys/fs/binfmt_misc 2>/dev/null | sort | tr '\n' ' '; }
arch_of() { skopeo inspect --tls-verify=false --config "docker://$1" | jq -r .architecture; }

before=$(binfmt)
echo "slipway emulation: $("$SLIPWAY" debug emu probe), host entries: $before"
for round in cold warm; do
  s=$(now)
  "$SLIPWAY" build --platform linux/arm64 --state-dir "$W/state" --insecure-registry "$REGISTRY" \
    -t "$REGISTRY/bench/arm64-$round:slipway" --push "$W/ctx" > "$W/slipway-$round.log" 2>&1 \
    || { echo "slipway build failed:"; tail -5 "$W/slipway-$round.log"; exit 1; }
  report "slipway build --push ($round state, $(arch_of "$REGISTRY/bench/arm64-$round:slipway"))" "$s" "$(now)"
done
[ "$(binfmt)" = "$before" ] && echo "binfmt_misc after slipway: as found" || echo "binfmt_misc after slipway: CHANGED: $(binfmt)"

if command -v buildah >/dev/null && grep -qls '^interpreter .*qemu-aarch64' /proc/sys/fs/binfmt_misc/* 2>/dev/null; then
  B=(buildah --root "$W/bh/root" --runroot "$W/bh/run" --storage-driver vfs)
  on_exit "${B[*]} rm -a >/dev/null 2>&1; ${B[*]} rmi -a -f >/dev/null 2>&1"
  s=$(now)
  "${B[@]}" bud --platform linux/arm64 --isolation chroot --tls-verify=false -t "$REGISTRY/bench/arm64:buildah" "$W/ctx" \
      > "$W/buildah.log" 2>&1 \
    && "${B[@]}" push --tls-verify=false "$REGISTRY/bench/arm64:buildah" >> "$W/buildah.log" 2>&1 \
    || { echo "buildah failed:"; tail -5 "$W/buildah.log"; exit 1; }
  report "buildah bud + push (vfs, chroot, $(arch_of "$REGISTRY/bench/arm64:buildah"))" "$s" "$(now)"
else
  echo "buildah: skipped (needs buildah and a host binfmt_misc entry for qemu-aarch64)"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
