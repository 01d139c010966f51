#!/usr/bin/env bash
# bench/outputs.sh [MIB]: what a file output costs.  A build whose one RUN writes MIB MiB
# (default 256) of incompressible data, built:
#   push              --push alone (the layer packed once, streamed to the registry)
#   push+oci          --push -o type=oci,dest=FILE (the layer packed AGAIN into the tar)
#   oci               -o type=oci,dest=FILE alone
#   oci to a pipe     -o type=oci,dest=- | cat >/dev/null
# beside the peer doing the same export from the pushed image:
#   skopeo            skopeo copy docker://… oci-archive:FILE (downloads, stages, tars)
# For each: wall time, CPU time (user+sys), and for slipway the "exporting to oci image
# format" step alone.  On a loaded machine the CPU figure is the one to compare.
set -eu
cd "$(dirname "$0")/.."
mib=${1:-256}
. tests/lib.sh
make -s all >/dev/null
work=$(scratch_dir)
start_registry "$work/registry"
tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null
mkdir -p "$work/ctx"
printf 'FROM %s/base/busybox:latest\nRUN dd if=/dev/urandom of=/big bs=1M count=%d 2>/dev/null\n' "$REGISTRY" "$mib" > "$work/ctx/Dockerfile"
sd="--no-cache --state-dir $work/state"  # every build runs its RUN: the layer is new each time

run() { # NAME CMD…: wall and CPU time (user+sys, children included); the export step's time
  local name=$1; shift
  local export
  TIMEFORMAT='%R %U %S'
  { time "$@" 2>"$work/log" >/dev/null || { cat "$work/log" >&2; exit 1; }; } 2>"$work/time"
  export=$(awk '/exporting to oci image format/ {id=$1} id && $1==id && /DONE/ {print $3}' "$work/log" | tail -1)
  read -r wall user sys <"$work/time"
  printf '%-16s wall %6.2fs  cpu %6.2fs   export step %s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "${export:--}"
}
echo "layer: $mib MiB incompressible; load: $(cut -d" " -f1-3 /proc/loadavg)"
run "push" ./slipway build --progress=plain $sd -t "$REGISTRY/b/out:v1" --push "$work/ctx"
run "push+oci" ./slipway build --progress=plain $sd -t "$REGISTRY/b/out:v1" --push -o "type=oci,dest=$work/a.tar" "$work/ctx"
run "oci" ./slipway build --progress=plain $sd -o "type=oci,dest=$work/b.tar" "$work/ctx"
run "oci to a pipe" bash -c "./slipway build --progress=plain $sd -o type=oci,dest=- '$work/ctx' | cat >/dev/null"
run "skopeo" skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/b/out:v1" "oci-archive:$work/c.tar"
ls -l "$work/a.tar" "$work/c.tar" | awk '{print "  " $5, $9}'
