#!/usr/bin/env bash
# bench/attest.sh [RUNS]: what attestations add to a push.  The same build, pushed to a
# fresh loopback registry, with --provenance=false, with the default (provenance mode=min),
# with --provenance=mode=max and with --sbom=true (plus the default provenance), RUNS times
# each (default 5), interleaved, warm state (the first, cold, round is not counted).
# Two images: busybox with a RUN (small tree), and, when the bench registry on
# 127.0.0.1:5001 has it, debian:bookworm with a RUN (a real Debian tree for the SBOM scan).
# Prints the median and the mean wall time of each variant and what each adds to the first,
# and the median CPU time (user+sys) of the slipway process: on a busy machine the wall
# times are noisy, the CPU time much less.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SLIPWAY=${SLIPWAY:-$here/slipway}
RUNS=${1:-5}
. tests/lib.sh
unset BUILDX_NO_DEFAULT_ATTESTATIONS
trap _sw_run_exit EXIT
W=$(scratch_dir)
start_registry "$W/reg" >/dev/null
bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null

cases=(busybox)
mkdir -p "$W/busybox"
printf 'FROM %s/base/busybox:latest\nARG N\nRUN echo "$N" > /n && cp -r /bin /copy\n' "$REGISTRY" > "$W/busybox/Dockerfile"
if curl -sf -o /dev/null "http://127.0.0.1:5001/v2/"; then
  cases+=(debian)
  mkdir -p "$W/debian"
  printf 'FROM 127.0.0.1:5001/debian:bookworm\nARG N\nRUN echo "$N" > /n\n' > "$W/debian/Dockerfile"
fi
variants=("--provenance=false" "" "--provenance=mode=max" "--sbom=true")
names=("--provenance=false" "default (provenance min)" "--provenance=mode=max" "--sbom=true (+ provenance min)")

now() { date +%s%N; }
one() { # case variant-index run → "wall_ms cpu_ms"
  local c=$1 v=$2 r=$3 s e
  s=$(now)
  # a build arg that changes every run: the RUN runs, the layer is new, the push is real
  /usr/bin/time -f '%U %S' -o "$W/time" "$SLIPWAY" build -q --state-dir "$W/state-$c" ${variants[$v]} \
    --build-arg "N=$r-$v-$RANDOM" -t "$REGISTRY/bench/$c:v$v-$r" --push "$W/$c" > "$W/log" 2>&1 \
    || { cat "$W/log"; exit 1; }
  e=$(now)
  echo "$(( (e - s) / 1000000 )) $(awk '{printf "%d", ($1 + $2) * 1000}' "$W/time")"
}
stats() { sort -n | awk '{a[NR]=$1; s+=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%d %d", m, s/NR}'; }

for c in "${cases[@]}"; do
  for v in "${!variants[@]}"; do one "$c" "$v" warm >/dev/null; done # cold round, not counted
  declare -A t=() u=()
  for r in $(seq 1 "$RUNS"); do
    for v in "${!variants[@]}"; do
      read -r wall cpu <<<"$(one "$c" "$v" "$r")"
      t[$v]+="$wall "
      u[$v]+="$cpu "
    done
  done
  echo "== $c: $RUNS runs each, milliseconds: wall median / mean (+ median over --provenance=false), CPU median (+)"
  read -r base _ <<<"$(tr ' ' '\n' <<<"${t[0]}" | grep . | stats)"
  read -r cbase _ <<<"$(tr ' ' '\n' <<<"${u[0]}" | grep . | stats)"
  for v in "${!variants[@]}"; do
    read -r med mean <<<"$(tr ' ' '\n' <<<"${t[$v]}" | grep . | stats)"
    read -r cmed _ <<<"$(tr ' ' '\n' <<<"${u[$v]}" | grep . | stats)"
    printf '  %-34s %6d / %6d (%+5d)   cpu %5d (%+5d)\n' "${names[$v]}" "$med" "$mean" $((med - base)) "$cmed" $((cmed - cbase))
  done
  unset t u
done
