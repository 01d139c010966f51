#!/usr/bin/env bash
# make demo: build examples/hello with slipway, push it to a loopback registry, pull it
# back with skopeo and show its config and a file from it.  Needs root (namespaces, mounts).
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh   # start_registry, scratch_dir, on_exit
SLIPWAY=$PWD/slipway

work=$(scratch_dir)
echo "==> making a busybox root filesystem from Debian's busybox-static"
rm -rf examples/hello/rootfs
tests/fixtures/busybox-rootfs.sh examples/hello/rootfs
on_exit "rm -rf '$PWD/examples/hello/rootfs'"

echo "==> starting a registry on loopback"
start_registry "$work/registry"
ref=$REGISTRY/demo/hello:latest

echo "==> slipway build -t $ref --push examples/hello"
"$SLIPWAY" build --progress=plain --state-dir "$work/state" -t "$ref" --push examples/hello

echo "==> skopeo inspect --config docker://$ref"
skopeo inspect --tls-verify=false --config "docker://$ref" | jq '{architecture, os, config, history: [.history[].created_by]}'

echo "==> pulling it back and reading /hello.txt"
skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:hello"
umoci raw unpack --rootless --image "$work/oci:hello" "$work/rootfs" >/dev/null 2>&1 ||
  umoci unpack --image "$work/oci:hello" "$work/bundle" >/dev/null
cat "$work/rootfs/hello.txt" 2>/dev/null || cat "$work/bundle/rootfs/hello.txt"
