#!/usr/bin/env bash
# imagetools against real registries (Debian's docker-registry, anonymous, plain HTTP on
# loopback): inspect, byte-for-byte copy of a two-platform index within and across
# registries, combining single-platform images into an index, digest verification.
. tests/lib.sh
export SLIPWAY
command -v docker-registry >/dev/null || { skip registry_copy "docker-registry not installed"; exit 0; }
work=$(scratch_dir)
start_registry "$work/a" || { fail "registry starts"; exit 0; }
A=$REGISTRY
start_registry "$work/b" || { fail "second registry starts"; exit 0; }
B=$REGISTRY

if ! idx=$(bash tests/fixtures/push-busybox.sh "$A" src/bb:1 2>"$work/fixture.log" | tail -1); then
  fail "two-platform busybox fixture" "$(tail -3 "$work/fixture.log")"; exit 0
fi
raw() { skopeo inspect --raw --tls-verify=false "docker://$1"; }

check "inspect --raw gives the registry's bytes" bash -c '
  [ "$("$SLIPWAY" imagetools inspect --raw '"$A"'/src/bb:1 | sha256sum | cut -d" " -f1)" = "'"${idx#sha256:}"'" ]'
check "inspect lists both platforms" bash -c '
  out=$("$SLIPWAY" imagetools inspect '"$A"'/src/bb:1); grep -q "Platform:    linux/amd64" <<<"$out" &&
  grep -q "Platform:    linux/arm64" <<<"$out" && grep -q "Digest:    '"$idx"'" <<<"$out"'
check "inspect by digest" bash -c '"$SLIPWAY" imagetools inspect --raw '"$A/src/bb@$idx"' >/dev/null'

arm=$(raw "$A/src/bb:1" | jq -r '.manifests[] | select(.platform.architecture=="arm64") | .digest')
for spec in linux/arm64 linux/arm64/v8 aarch64; do
  check "platform selection: $spec picks the arm64 image" bash -c '
    [ "sha256:$("$SLIPWAY" imagetools inspect --raw --platform '"$spec"' '"$A"'/src/bb:1 | sha256sum | cut -d" " -f1)" = "'"$arm"'" ]'
done
check "platform selection: x86_64 picks amd64" bash -c '
  "$SLIPWAY" imagetools inspect --raw --platform x86_64 '"$A"'/src/bb:1 | jq -e ".config.digest" >/dev/null &&
  [ "$("$SLIPWAY" imagetools inspect --raw --platform x86_64 '"$A"'/src/bb:1)" = "$(skopeo inspect --raw --tls-verify=false docker://'"$A"'/src/bb:1-amd64)" ]'
check "platform selection: the chosen image's config says arm64" bash -c '
  "$SLIPWAY" imagetools inspect --platform arm64 '"$A"'/src/bb:1 | grep -q "^Platform:  linux/arm64"'
check "platform selection: no match lists what the index has" bash -c '
  out=$("$SLIPWAY" imagetools inspect --platform linux/s390x '"$A"'/src/bb:1 2>&1); [ $? -ne 0 ] &&
  grep -q "no image for platform linux/s390x (it has: linux/amd64, linux/arm64)" <<<"$out"'

# the done-when check: a copy to another registry is the same bytes, and so is every manifest under it
check "create copies a two-platform index across registries byte for byte" bash -c '
  "$SLIPWAY" imagetools create -t '"$B"'/x:y '"$A"'/src/bb:1 &&
  [ "$(skopeo inspect --raw --tls-verify=false docker://'"$B"'/x:y)" = "$(skopeo inspect --raw --tls-verify=false docker://'"$A"'/src/bb:1)" ]'
check "the copy is complete (skopeo copies every platform out of it)" bash -c '
  skopeo copy -q --all --src-tls-verify=false docker://'"$B"'/x:y oci:'"$work"'/out:x &&
  [ "$(jq -r ".manifests[0].digest" '"$work"'/out/index.json)" = "'"$idx"'" ]'
check "create within a registry (cross-repository mount)" bash -c '
  "$SLIPWAY" imagetools create -t '"$A"'/other/bb:copy '"$A"'/src/bb:1 &&
  [ "$(skopeo inspect --raw --tls-verify=false docker://'"$A"'/other/bb:copy | sha256sum | cut -d" " -f1)" = "'"${idx#sha256:}"'" ]'
start_fault_proxy "$A" log@all
check "blobs another repository has are mounted, not uploaded" bash -c '
  "$SLIPWAY" imagetools create -t '"$PROXY"'/mounted/bb:1 '"$PROXY"'/src/bb:1 &&
  grep -q "^request POST /v2/mounted/bb/blobs/uploads/?mount=sha256:.*&from=src%2Fbb" '"$PROXY_LOG"' &&
  ! grep -q "^request PATCH" '"$PROXY_LOG"' && ! grep -q "^request GET /v2/src/bb/blobs/" '"$PROXY_LOG"''
check "blobs the destination has are skipped (HEAD), nothing uploaded" bash -c '
  n=$(wc -l < '"$PROXY_LOG"'); "$SLIPWAY" imagetools create -t '"$PROXY"'/mounted/bb:2 '"$PROXY"'/src/bb:1 &&
  tail -n +$((n + 1)) '"$PROXY_LOG"' > '"$work"'/second.log &&
  grep -q "^request HEAD /v2/mounted/bb/blobs/" '"$work"'/second.log && ! grep -qE "^request (POST|PATCH)" '"$work"'/second.log'
check "create with several tags" bash -c '
  "$SLIPWAY" imagetools create -t '"$B"'/m:1 -t '"$B"'/m:2 '"$A"'/src/bb:1 &&
  [ "$(skopeo inspect --raw --tls-verify=false docker://'"$B"'/m:2 | sha256sum | cut -d" " -f1)" = "'"${idx#sha256:}"'" ]'

check "create combines single-platform images into one index" bash -c '
  "$SLIPWAY" imagetools create -t '"$B"'/comb:1 '"$A"'/src/bb:1-amd64 '"$A"'/src/bb:1-arm64 &&
  j=$(skopeo inspect --raw --tls-verify=false docker://'"$B"'/comb:1) &&
  [ "$(jq -r ".mediaType" <<<"$j")" = application/vnd.oci.image.index.v1+json ] &&
  [ "$(jq -r "[.manifests[].platform.architecture]|join(\",\")" <<<"$j")" = amd64,arm64 ] &&
  skopeo copy -q --all --src-tls-verify=false docker://'"$B"'/comb:1 oci:'"$work"'/comb:x'

check "invalid reference: clear error" bash -c '
  out=$("$SLIPWAY" imagetools inspect "'"$A"'/Upper/Case" 2>&1); [ $? -ne 0 ] && grep -q "must be lowercase" <<<"$out"'
check "missing image: clear error" bash -c '
  out=$("$SLIPWAY" imagetools inspect '"$A"'/nope:1 2>&1); [ $? -ne 0 ] && grep -q "HTTP 404" <<<"$out" && grep -q "MANIFEST_UNKNOWN" <<<"$out"'

# a blob whose bytes do not match its digest is refused, and the destination keeps nothing
python3 tests/helpers/push-random-image.py "$A" bad/img:1 2 >/dev/null 2>"$work/layer"
layer=$(tail -1 "$work/layer"); hex=${layer#sha256:}
f="$work/a/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
head -c $((2<<20)) /dev/urandom > "$f"
check "a blob that does not match its digest is rejected" bash -c '
  out=$("$SLIPWAY" imagetools create -t '"$B"'/bad/img:1 '"$A"'/bad/img:1 2>&1); [ $? -ne 0 ] &&
  grep -q "refusing them" <<<"$out" && grep -q "'"$layer"'" <<<"$out"'
check "…and the destination holds neither the blob nor the tag" bash -c '
  [ "$(curl -s -o /dev/null -w "%{http_code}" -I http://'"$B"'/v2/bad/img/blobs/'"$layer"')" = 404 ] &&
  [ "$(curl -s -o /dev/null -w "%{http_code}" http://'"$B"'/v2/bad/img/manifests/1)" = 404 ]'

# proxies from the environment: a name that only the proxy can reach
start_fault_proxy "$A"
check "http_proxy from the environment is used (and loopback bypasses it)" bash -c '
  out=$(http_proxy=http://'"$PROXY"' https_proxy=http://'"$PROXY"' "$SLIPWAY" imagetools inspect --raw \
        --insecure-registry registry.invalid:5000 registry.invalid:5000/src/bb:1) &&
  [ "$out" = "$(skopeo inspect --raw --tls-verify=false docker://'"$A"'/src/bb:1)" ] &&
  grep -q "^forward registry.invalid:5000" '"$PROXY_LOG"' &&
  http_proxy=http://127.0.0.1:1 "$SLIPWAY" imagetools inspect '"$A"'/src/bb:1 >/dev/null'
