#!/usr/bin/env bash
# Nothing staged: the `fat` case (a 512 MiB incompressible layer) builds and pushes with
# the state dir and TMPDIR on a 600 MiB tmpfs — the layer itself plus a little, where a
# builder that exports layers to local disk first needs twice that.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
tmpfs=$dir/tmpfs; mkdir -p "$tmpfs"
mount -t tmpfs -o size=600m slipway-test-disk "$tmpfs" || { fail "tmpfs mounted"; exit 0; }
on_exit "umount -l '$tmpfs'"
ctx=$dir/ctx; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN dd if=/dev/urandom of=/blob bs=1M count=512 2>/dev/null\nCMD ["ls", "-l", "/blob"]\n' "$REGISTRY" > "$ctx/Dockerfile"

peakf=$dir/peak
( peak=0; while :; do u=$(df -B1 --output=used "$tmpfs" | tail -1 | tr -d ' '); [ "$u" -gt "$peak" ] && { peak=$u; echo $peak > "$peakf"; }; sleep 0.05; done ) &
poller=$!
on_exit "kill $poller 2>/dev/null"
TMPDIR=$tmpfs "$SLIPWAY" build --progress=plain --state-dir "$tmpfs/state" -t "$REGISTRY/t/fat:v1" --push "$ctx" > "$dir/log" 2>&1
rc=$?
kill $poller 2>/dev/null; wait $poller 2>/dev/null
check "fat builds and pushes on a 600 MiB tmpfs" test $rc -eq 0
[ $rc -eq 0 ] || tail -5 "$dir/log"
peak_mib=$(( $(cat "$peakf" 2>/dev/null || echo 0) / 1048576 ))
echo "peak local disk: ${peak_mib} MiB for a 512 MiB layer"
check "peak local disk at most 1.05x the layer (538 MiB)" test "$peak_mib" -le 538
size=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/fat:v1" | jq '.layers[-1].size')
check "the pushed layer is the 512 MiB blob, compressed" test "${size:-0}" -gt 536000000
check "the state dir is left with no scratch" bash -c '[ -z "$(ls -A "'"$tmpfs"'/state/runs" 2>/dev/null)" ]'

# The same for two platforms, on a fresh 600 MiB tmpfs.  The platforms run at once, but the
# disk gate (exec/disk.c) holds the arm64 RUN back while the amd64 one writes: the amd64
# layer is pushed and its platform exported before the arm64 RUN writes its own, and no later
# step reads it, so it goes when the disk runs short.
tmpfs2=$dir/tmpfs2; mkdir -p "$tmpfs2"
mount -t tmpfs -o size=600m slipway-test-disk2 "$tmpfs2" || { fail "second tmpfs mounted"; exit 0; }
on_exit "umount -l '$tmpfs2'"
peakf2=$dir/peak2
( peak=0; while :; do u=$(df -B1 --output=used "$tmpfs2" | tail -1 | tr -d ' '); [ "$u" -gt "$peak" ] && { peak=$u; echo $peak > "$peakf2"; }; sleep 0.05; done ) &
poller2=$!
on_exit "kill $poller2 2>/dev/null"
TMPDIR=$tmpfs2 timeout 900 "$SLIPWAY" build --debug --progress=plain --state-dir "$tmpfs2/state" --platform linux/amd64,linux/arm64 \
  -t "$REGISTRY/t/fat2:v1" --push "$ctx" > "$dir/log2" 2>&1
rc=$?
kill $poller2 2>/dev/null; wait $poller2 2>/dev/null
check "two-platform fat builds and pushes on a 600 MiB tmpfs" test $rc -eq 0
[ $rc -eq 0 ] || tail -5 "$dir/log2"
peak_mib=$(( $(cat "$peakf2" 2>/dev/null || echo 0) / 1048576 ))
echo "peak local disk: ${peak_mib} MiB for two 512 MiB layers"
check "two platforms: peak local disk at most 1.05x one layer (538 MiB)" test "$peak_mib" -le 538
check "two platforms: a RUN waited at the disk gate, then the pushed layer left the disk" \
  bash -c 'grep -q "a step waits for the writes before it" "$1" && grep -q "removing the already pushed layer" "$1"' _ "$dir/log2"
raw=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/fat2:v1")
check "two platforms: an index of both" bash -c 'jq -e "[.manifests[].platform.architecture] == [\"amd64\",\"arm64\"]" <<<"$1" >/dev/null' _ "$raw"
check "two platforms: no scratch left" bash -c '[ -z "$(ls -A "$1/state/runs" 2>/dev/null)" ]' _ "$tmpfs2"
