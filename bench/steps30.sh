#!/usr/bin/env bash
# bench/steps30.sh: ../shared/bench's case steps30 (FROM busybox + 30 trivial RUN steps),
# built AND pushed, side by side: `slipway build --push` and `buildah bud` + `buildah push`
# (chroot isolation, vfs), each against its own fresh loopback registry with the same busybox
# base (tests/fixtures/push-busybox.sh).  Prints wall seconds and ms per step.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SLIPWAY=${SLIPWAY:-$here/slipway}
. tests/lib.sh
W=$(scratch_dir)
KEEP_LOGS=${KEEP_LOGS:-}
start_registry "$W/reg" >/dev/null
ARCHS=amd64 bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null
mkdir -p "$W/ctx"
sed "s|^FROM .*|FROM $REGISTRY/base/busybox:latest|" ../shared/bench/cases/steps30/Dockerfile > "$W/ctx/Dockerfile" 2>/dev/null \
  || { printf 'FROM %s/base/busybox:latest\n' "$REGISTRY" > "$W/ctx/Dockerfile"
       for i in $(seq 1 30); do echo "RUN echo step $i > /f$i" >> "$W/ctx/Dockerfile"; done; }
n=$(grep -c '^RUN' "$W/ctx/Dockerfile")
now() { date +%s%N; }
report() { # tool start end
  local ms=$(( ($3 - $2) / 1000000 ))
  printf '%-34s %3d RUN steps  %6d.%03d s  %5d ms/step\n' "$1" "$n" $((ms / 1000)) $((ms % 1000)) $((ms / n))
}

# slipway: base layer fetched and extracted on the first run; the second run reuses it from
# the state dir (as CI with a kept --state-dir would) and pushes into a fresh repository
for round in cold warm; do
  s=$(now)
  "$SLIPWAY" build --state-dir "$W/state" --insecure-registry "$REGISTRY" -t "$REGISTRY/bench/steps30-$round:slipway" --push "$W/ctx" \
    > "$W/slipway-$round.log" 2>&1 || { echo "slipway build failed:"; tail -5 "$W/slipway-$round.log"; exit 1; }
  report "slipway build --push ($round state)" "$s" "$(now)"
done

if command -v buildah >/dev/null; then
  B=(buildah --root "$W/bh/root" --runroot "$W/bh/run" --storage-driver vfs)
  on_exit "${B[*]} rm -a >/dev/null 2>&1; ${B[*]} rmi -a -f >/dev/null 2>&1"
  s=$(now)
  "${B[@]}" bud --isolation chroot --tls-verify=false -t "$REGISTRY/bench/steps30:buildah" "$W/ctx" > "$W/buildah.log" 2>&1 \
    && "${B[@]}" push --tls-verify=false "$REGISTRY/bench/steps30:buildah" >> "$W/buildah.log" 2>&1 \
    || { echo "buildah failed:"; tail -5 "$W/buildah.log"; exit 1; }
  report "buildah bud + push (vfs, chroot)" "$s" "$(now)"
fi
[ -n "$KEEP_LOGS" ] && cp "$W"/*.log "$KEEP_LOGS"/
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
