#!/usr/bin/env bash
# RUN --mount from=: a bind or cache mount of another stage's tree, an image's (by reference
# or through --build-context NAME=docker-image://…) or a --build-context directory, as
# BuildKit mounts them: the tree the snapshots make (whiteouts hide what they delete),
# read-only unless rw (and then the writes are discarded), source= a directory or a file;
# a cache seeded from the tree keeps what the steps write.  Nothing of it lands in a layer.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
build() { "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }
mounts_before=$(grep -c "$dir" /proc/self/mountinfo)
unpack() {
  rm -rf "$dir/oci" "$2"
  skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$2" >/dev/null
}

# an image of two layers (busybox, then a RUN that adds /data and deletes /bin/vi)
mkdir -p "$dir/imgctx"
cat > "$dir/imgctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
RUN mkdir /data && echo image > /data/f && rm /bin/vi
DF
check "source image built and pushed" build -t "$REGISTRY/t/src:v1" --push "$dir/imgctx"

mkdir -p "$dir/ctx" "$dir/named/d"
echo named-context > "$dir/named/d/g"
cat > "$dir/ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS src
RUN mkdir -p /out/sub && echo stage > /out/sub/f && echo top > /out/file && rm /bin/vi && chmod 750 /out

FROM $REGISTRY/base/busybox:latest
RUN --mount=type=bind,from=src,target=/s \\
    --mount=type=bind,from=src,source=/out/sub,target=/sub \\
    --mount=type=bind,from=src,source=out/file,target=/onefile \\
    --mount=type=bind,from=img,source=/data,target=/img \\
    --mount=type=bind,from=$REGISTRY/t/src:v1,target=/byref \\
    --mount=type=bind,from=named,source=d,target=/ctxd \\
    --mount=type=bind,from=src,source=/out,target=/rw,rw \\
    sh -c 'cat /s/out/sub/f /sub/f /onefile /img/f /byref/data/f /ctxd/g > /result; \\
           test ! -e /s/bin/vi && test ! -e /byref/bin/vi && test -e /bin/vi && echo whiteouts >> /result; \\
           for p in /s /sub /img /byref /ctxd; do touch \$p/x 2>/dev/null && echo writable \$p >> /result; done; \\
           echo ro >> /result; \\
           echo w > /rw/new && cat /rw/new >> /result'
RUN --mount=type=bind,from=src,source=/out,target=/rw,rw sh -c 'test ! -e /rw/new && echo discarded > /discard'
RUN --mount=type=cache,id=seeded,from=src,source=/out,target=/cache,uid=1000,mode=0777 sh -c 'cat /cache/file > /cache1; stat -c "%a %u" /cache > /cachestat; echo more >> /cache/file'
RUN --mount=type=cache,id=seeded,from=src,source=/out,target=/cache sh -c 'cat /cache/file > /cache2'
RUN --mount=type=cache,id=img,from=img,target=/ic sh -c 'cat /ic/data/f > /icache; echo again >> /ic/data/f'
DF
out=$(build -t "$REGISTRY/t/from:v1" --push --build-context img=docker-image://$REGISTRY/t/src:v1 \
      --build-context named="$dir/named" "$dir/ctx" 2>&1); rc=$?
check "RUN --mount from= a stage, an image, a context builds" bash -c '[ '$rc' = 0 ] || { echo "$1" | tail -20; false; }' _ "$out"
check "the image unpacks" unpack "$REGISTRY/t/from:v1" "$dir/b1"
r=$dir/b1/rootfs
check "bind from a stage, a subdir, a file, an image (context and reference), a context dir" \
  bash -c '[ "$(head -6 "'"$r"'/result")" = "$(printf "stage\nstage\ntop\nimage\nimage\nnamed-context")" ] || { cat "'"$r"'/result"; false; }'
check "the mounted trees show their whiteouts (a stage's, an image's)" grep -qx whiteouts "$r/result"
check "bind from= is read-only by default" bash -c 'grep -qx ro "$1" && ! grep -q writable "$1"' _ "$r/result"
check "bind from= rw is writable" grep -qx w "$r/result"
check "bind from= rw writes are discarded" grep -qx discarded "$r/discard"
check "nothing of the mounts lands in the layers" bash -c 'for p in s sub onefile img byref ctxd rw cache ic out data; do [ ! -e "'"$r"'/$p" ] || { echo "/$p"; exit 1; }; done'
check "the named context dir is untouched" bash -c '[ "$(ls "'"$dir"'/named/d")" = g ]'
check "a cache from= a stage starts as the stage's source dir" grep -qx top "$r/cache1"
check "a cache from= has the tree's owner and mode (uid, mode shape only an empty cache)" bash -c '[ "$(cat "'"$r"'/cachestat")" = "750 0" ]'
check "a cache from= keeps what a step wrote" bash -c '[ "$(cat "'"$r"'/cache2")" = "$(printf "top\nmore")" ]'
check "a cache from= an image starts as the image's tree" bash -c '[ "$(cat "'"$r"'/icache")" = image ]'

# the next build sees the image-seeded cache as the last step left it (same id, same image)
printf 'FROM %s/base/busybox:latest\nRUN --mount=type=cache,id=img,from=%s/t/src:v1,target=/ic cat /ic/data/f > /icache\n' \
  "$REGISTRY" "$REGISTRY" > "$dir/ctx/Dockerfile"
check "a second build with the cache from= an image" build -t "$REGISTRY/t/from:v2" --push "$dir/ctx"
check "the image unpacks (2)" unpack "$REGISTRY/t/from:v2" "$dir/b2"
check "the image-seeded cache persists across builds" bash -c '[ "$(cat "'"$dir"'/b2/rootfs/icache")" = "$(printf "image\nagain")" ]'

# a source that the tree lacks is a located error
printf 'FROM %s/base/busybox:latest AS src\nRUN true\nFROM %s/base/busybox:latest\nRUN --mount=type=bind,from=src,source=/nope,target=/x true\n' \
  "$REGISTRY" "$REGISTRY" > "$dir/ctx/Dockerfile"
out=$(build "$dir/ctx" 2>&1); rc=$?
check "a missing source in the from= tree is an error at its line" \
  bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:4.*source=/nope: not found in src" <<<"$1" || { echo "$1" | tail -5; false; }' _ "$out"
check "no mount left behind" test "$(grep -c "$dir" /proc/self/mountinfo)" = "$mounts_before"
