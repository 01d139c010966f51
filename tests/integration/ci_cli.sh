#!/usr/bin/env bash
# What CI needs from `slipway build`: every --metadata-file key buildx writes (as
# docker/build-push-action reads them), --iidfile, --progress=auto (plain when stderr is
# no terminal, the live display when it is), exit codes 0 / 1 (the build failed) /
# 2 (usage), push-by-digest.
. tests/lib.sh
dir=$(scratch_dir)
start_registry "$dir/registry" || { fail "registry starts"; exit 0; }
tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null || { fail "base image pushed"; exit 0; }
build() { timeout 600 "$SLIPWAY" build --state-dir "$dir/state" "$@"; }
ctx=$dir/ctx; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo hi > /hi\n' "$REGISTRY" > "$ctx/Dockerfile"
raw_digest() { skopeo inspect --raw --tls-verify=false "docker://$1" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }
export -f raw_digest

build --push -t "$REGISTRY/ci/one:1" --metadata-file "$dir/md.json" --iidfile "$dir/iid" \
  --build-arg NOBODY_READS_ME=1 "$ctx" 2> "$dir/auto.err"; rc=$?
check "exit 0 when the build succeeds" test "$rc" -eq 0
check "--metadata-file: every key buildx writes for an image" jq -e '
  (keys | sort) == (["buildx.build.ref", "buildx.build.warnings", "containerimage.config.digest",
                     "containerimage.descriptor", "containerimage.digest", "image.name"] | sort)' "$dir/md.json"
check "containerimage.digest and the descriptor name what the tag names" bash -c '
  d=$(raw_digest "$2") && jq -e --arg d "$d" ".[\"containerimage.digest\"] == \$d and .[\"containerimage.descriptor\"].digest == \$d
    and .[\"containerimage.descriptor\"].mediaType == \"application/vnd.oci.image.manifest.v1+json\"
    and (.[\"containerimage.descriptor\"].size | type) == \"number\"" "$1" >/dev/null' _ "$dir/md.json" "$REGISTRY/ci/one:1"
check "containerimage.config.digest and --iidfile: the image's config digest" bash -c '
  c=$(skopeo inspect --raw --tls-verify=false docker://$2 | jq -r .config.digest) &&
  [ "$(jq -r ".[\"containerimage.config.digest\"]" "$1")" = "$c" ] && [ "$(cat "$3")" = "$c" ]' _ "$dir/md.json" "$REGISTRY/ci/one:1" "$dir/iid"
check "image.name is the tag; buildx.build.ref is BUILDER/NODE/ID" bash -c '
  jq -e ".[\"image.name\"] == \"$2\" and (.[\"buildx.build.ref\"] | test(\"^slipway/slipway0/[a-z0-9]{25}$\"))" "$1" >/dev/null' _ "$dir/md.json" "$REGISTRY/ci/one:1"
check "buildx.build.warnings: the unused build arg, as buildx's VertexWarning (base64 short)" bash -c '
  jq -r ".[\"buildx.build.warnings\"][0].short" "$1" | base64 -d | grep -q NOBODY_READS_ME &&
  jq -e ".[\"buildx.build.warnings\"][0].level == 1" "$1" >/dev/null' _ "$dir/md.json"
check "--progress=auto with stderr not a terminal: plain" bash -c 'grep -q "^#[0-9]* \[" "$1" && grep -q "^#[0-9]* DONE " "$1" && ! grep -q $'"'"'\x1b\['"'"' "$1"' _ "$dir/auto.err"
script -qec "timeout 600 '$SLIPWAY' build --state-dir '$dir/state' --push -t '$REGISTRY/ci/one:2' '$ctx'" /dev/null > "$dir/tty.out" 2>&1
check "--progress=auto on a terminal: the live display" bash -c 'grep -q "\[+\] Building" "$1" && grep -q $'"'"'\x1b\['"'"' "$1"' _ "$dir/tty.out"

# two platforms: the index's descriptor
build --push -t "$REGISTRY/ci/multi:1" --platform linux/amd64,linux/arm64 --metadata-file "$dir/md2.json" --iidfile "$dir/iid2" "$ctx" 2>/dev/null
check "two platforms: containerimage.digest and descriptor name the index" bash -c '
  d=$(raw_digest "$2") && jq -e --arg d "$d" ".[\"containerimage.digest\"] == \$d and .[\"containerimage.descriptor\"].mediaType == \"application/vnd.oci.image.index.v1+json\"" "$1" >/dev/null' \
  _ "$dir/md2.json" "$REGISTRY/ci/multi:1"
check "two platforms: no one config digest; --iidfile gets the index digest (as buildx)" bash -c '
  jq -e "has(\"containerimage.config.digest\") | not" "$1" >/dev/null && [ "$(cat "$2")" = "$(jq -r ".[\"containerimage.digest\"]" "$1")" ]' \
  _ "$dir/md2.json" "$dir/iid2"

# push-by-digest: no tag, the manifest by digest, image.name canonical
build --platform linux/amd64 -o "type=image,name=$REGISTRY/ci/bydigest,push-by-digest=true,name-canonical=true,push=true" \
  --metadata-file "$dir/md3.json" "$ctx" 2>/dev/null
check "push-by-digest: the manifest is there by digest, no tag" bash -c '
  d=$(jq -r ".[\"containerimage.digest\"]" "$1") && skopeo inspect --raw --tls-verify=false docker://$2@$d >/dev/null &&
  ! skopeo inspect --raw --tls-verify=false docker://$2:latest >/dev/null 2>&1 &&
  [ "$(jq -r ".[\"image.name\"]" "$1")" = "$2@$d" ]' _ "$dir/md3.json" "$REGISTRY/ci/bydigest"

# exit codes
printf 'FROM %s/base/busybox:latest\nRUN exit 7\n' "$REGISTRY" > "$dir/Dockerfile.fail"
build -f "$dir/Dockerfile.fail" "$ctx" 2>/dev/null; rc=$?
check "exit 1 when the build fails" test "$rc" -eq 1
build --frobnicate "$ctx" 2>/dev/null; rc=$?
check "exit 2 for an unknown flag" test "$rc" -eq 2
build --network sideways "$ctx" 2>/dev/null; rc=$?
check "exit 2 for a flag value with the wrong syntax" test "$rc" -eq 2
build 2>/dev/null; rc=$?
check "exit 2 without a context" test "$rc" -eq 2
build --builder other "$ctx" 2>/dev/null; rc=$?
check "exit 2 for a flag slipway does not implement" test "$rc" -eq 2

# metadata-action's index: annotations on a one-platform build: an error, as BuildKit's, not a silent drop
out=$(build --push -t "$REGISTRY/ci/idx:1" --annotation "index:org.opencontainers.image.title=t" "$ctx" 2>&1); rc=$?
check "index: annotation with one platform fails naming it, nothing pushed" bash -c '
  [ "$1" -ne 0 ] && grep -q "index:org.opencontainers.image.title=t: index annotations not supported for single platform" <<<"$2" &&
  ! skopeo inspect --raw --tls-verify=false docker://$3 >/dev/null 2>&1' _ "$rc" "$out" "$REGISTRY/ci/idx:1"
