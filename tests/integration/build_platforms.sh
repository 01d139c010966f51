#!/usr/bin/env bash
# Foreign and multi-platform builds: arm64 through QEMU only when asked, an index for
# several platforms, and binfmt_misc left as it was found.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
build() { "$SLIPWAY" build --progress=plain --state-dir "$dir/state" "$@"; }
binfmt_state() { ls /proc/sys/fs/binfmt_misc 2>/dev/null | sort; }
before=$(binfmt_state)

ctx=$dir/ctx; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM --platform=\$BUILDPLATFORM $REGISTRY/base/busybox:latest AS tool
ARG TARGETARCH BUILDARCH
RUN echo "built on \$BUILDARCH for \$TARGETARCH: \$(uname -m)" > /note
FROM $REGISTRY/base/busybox:latest
COPY --from=tool /note /note
RUN uname -m > /arch
DF

check "arm64 build pushes" build --platform linux/arm64 -t "$REGISTRY/t/arm:v1" --push "$ctx"
check "the image's config says arm64" bash -c '[ "$(skopeo inspect --tls-verify=false --config docker://'"$REGISTRY"'/t/arm:v1 | jq -r .architecture)" = arm64 ]'
rm -rf "$dir/oci" "$dir/b"
skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$REGISTRY/t/arm:v1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$dir/b" >/dev/null
check "an arm64 RUN sees aarch64" grep -qx aarch64 "$dir/b/rootfs/arch"
check "the \$BUILDPLATFORM stage ran natively" grep -qx "built on amd64 for arm64: x86_64" "$dir/b/rootfs/note"
check "binfmt_misc as found after an arm64 build" test "$(binfmt_state)" = "$before"

check "two-platform build pushes an index" build --platform linux/amd64,linux/arm64 -t "$REGISTRY/t/multi:v1" --push "$ctx"
raw=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/multi:v1")
check "the index names both platforms" bash -c 'jq -e "(.mediaType == \"application/vnd.oci.image.index.v1+json\") and ([.manifests[].platform.architecture] == [\"amd64\",\"arm64\"])" <<<"$1" >/dev/null' _ "$raw"
rm -rf "$dir/oci" "$dir/b"
skopeo copy -q --src-tls-verify=false --override-arch arm64 "docker://$REGISTRY/t/multi:v1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$dir/b" >/dev/null
check "skopeo --override-arch arm64 gets the arm64 image" grep -qx aarch64 "$dir/b/rootfs/arch"
rm -rf "$dir/oci" "$dir/b"
skopeo copy -q --src-tls-verify=false --override-arch amd64 "docker://$REGISTRY/t/multi:v1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$dir/b" >/dev/null
check "and amd64 the amd64 one" grep -qx x86_64 "$dir/b/rootfs/arch"
check "binfmt_misc as found after a two-platform build" test "$(binfmt_state)" = "$before"

# A native build never opens binfmt_misc nor looks for QEMU.
printf 'FROM %s/base/busybox:latest\nRUN true\n' "$REGISTRY" > "$ctx/Dockerfile"
strace -f -qq -e trace=openat,open,execve,statx,newfstatat,access -o "$dir/trace" "$SLIPWAY" build -q --state-dir "$dir/state" "$ctx" >/dev/null 2>&1
check "a native build touches neither binfmt_misc nor QEMU" bash -c '! grep -E "binfmt_misc|qemu" "'"$dir"'/trace"'
