#!/usr/bin/env bash
# The build cache in the state dir: what hits and what misses (docs/CACHE.md), the same
# image digest for an unchanged rebuild, --no-cache and --no-cache-filter, a corrupted
# layer in the store (a miss, never a wrong image), two builds at once on one state dir;
# the cache in a registry and in a directory (type=local): cold hits, corrupted blobs,
# and several builds exporting to one cache at once.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state

# build NAME ARGS…: a build with its plain log in $dir/NAME.log and its metadata in
# $dir/NAME.json; its exit status.
build() {
  local name=$1; shift
  timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$state" --metadata-file "$dir/$name.json" "$@" \
    > "$dir/$name.log" 2>&1
}
digest() { jq -r '."containerimage.digest"' "$dir/$1.json" 2>/dev/null; }
# cached NAME: the steps of build NAME that were CACHED, one a line ("RUN cat …")
cached() {
  awk '/^#[0-9]+ \[/ { id=$1; sub(/^#[0-9]+ \[[^]]*\] /, ""); name[id]=$0 }
       /^#[0-9]+ CACHED/ { print name[$1] }' "$dir/$1.log"
}
# steps NAME: every step of build NAME that makes a layer
steps() { awk '/^#[0-9]+ \[.*\] (RUN|COPY|ADD|WORKDIR)/ { sub(/^#[0-9]+ \[[^]]*\] /, ""); print }' "$dir/$1.log" | sort -u; }
all_cached() { [ -n "$(steps "$1")" ] && [ "$(cached "$1" | sort -u)" = "$(steps "$1")" ]; }
none_cached() { [ -z "$(cached "$1")" ]; }
is_cached() { cached "$1" | grep -qF -- "$2"; }

ctx=$dir/ctx; mkdir -p "$ctx/src/sub"
echo a > "$ctx/src/a.txt"
echo b > "$ctx/src/sub/b.txt"
echo secret-notes > "$ctx/src/ignored.txt"
echo 'src/ignored.txt' > "$ctx/.dockerignore"
dockerfile() { # ENV value
  cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
ARG V=1
ENV E=$1
COPY src/ /src/
RUN cat /src/a.txt > /all && echo "\$V \$E" >> /all
RUN --mount=type=bind,source=src/sub,target=/m ls -ln /m > /owners
WORKDIR /w
DF
}
dockerfile 1
img=$REGISTRY/t/cache:v1

check "first build" build b1 -t "$img" --push "$ctx"
check "first build: nothing cached" none_cached b1
check "unchanged rebuild" build b2 -t "$img" --push "$ctx"
check "unchanged rebuild: every step CACHED" all_cached b2
check "unchanged rebuild: the same image digest" test "$(digest b1)" = "$(digest b2)"
check "unchanged rebuild: the base is not extracted" bash -c '! grep -q "extracting" "'"$dir"'/b2.log"'

# an unchanged rebuild asks the registry for the image's manifest once instead of for each
# layer, and starts no network for RUNs that do not run
strace -f -qq -e trace=execve,sendto -s 120 -o "$dir/b3.trace" \
  "$SLIPWAY" build --progress=plain --state-dir "$state" --metadata-file "$dir/b3.json" -t "$img" --push "$ctx" \
  > "$dir/b3.log" 2>&1
check "unchanged rebuild (traced): every step CACHED, the same digest" bash -c \
  "$(declare -f cached steps all_cached digest); dir=$dir; all_cached b3 && [ \"\$(digest b1)\" = \"\$(digest b3)\" ]"
check "unchanged rebuild: the manifest is found in the registry (HEAD)" grep -q "HEAD /v2/t/cache/manifests/$(digest b1)" "$dir/b3.trace"
check "unchanged rebuild: no layer is checked one by one" bash -c '! grep -q "HEAD /v2/t/cache/blobs/" "$1"' _ "$dir/b3.trace"
check "unchanged rebuild: no network started for the RUNs (no pasta)" bash -c '! grep -q "execve(\"[^\"]*pasta" "$1"' _ "$dir/b3.trace"
check "unchanged rebuild: the base is resolved by its tag alone (manifest and config kept by digest)" bash -c \
  'grep -q "GET /v2/base/busybox/manifests/latest" "$1" && ! grep -qE "GET /v2/base/busybox/(manifests|blobs)/sha256:" "$1"' _ "$dir/b3.trace"
# a kept document that no longer matches its digest is fetched again, never used
for f in "$state"/docs/sha256-*; do echo '{"schemaVersion":2}' > "$f"; done
check "kept documents damaged: the rebuild fetches them again" build b3b -t "$img" --push "$ctx"
check "kept documents damaged: the same image" test "$(digest b1)" = "$(digest b3b)"
check "kept documents damaged: rewritten whole" bash -c 'for f in "$1"/docs/sha256-*; do [ "$(sha256sum < "$f" | cut -d" " -f1)" = "${f##*sha256-}" ] || exit 1; done' _ "$state"
# the manifest gone from the repository (its blobs still there): pushed again, whole
curl -fs -X DELETE "http://$REGISTRY/v2/t/cache/manifests/$(digest b1)" >/dev/null
check "the image's manifest deleted, an unchanged rebuild pushes it again" build b4 -t "$img" --push "$ctx"
check "and it is in the registry again, with the same digest" bash -c \
  '[ "$(skopeo inspect --tls-verify=false --raw "docker://$1@$2" | sha256sum | cut -d" " -f1)" = "${2#sha256:}" ]' _ "$REGISTRY/t/cache" "$(digest b1)"
# another repository: its cached layers are checked (and mounted) as usual
check "an unchanged rebuild pushed to another repository" build b5 -t "$REGISTRY/t/cache-other:v1" --push "$ctx"
check "the other repository has the image and every layer" skopeo copy -q --src-tls-verify=false \
  "docker://$REGISTRY/t/cache-other:v1" "dir:$dir/b5-copy"

# ARG value: the RUNs that see it run, the COPY before them hits
check "--build-arg V=2 builds" build arg -t "$img" --push --build-arg V=2 "$ctx"
check "ARG value: COPY hits" is_cached arg "COPY src/ /src/"
if is_cached arg "RUN cat"; then fail "ARG value: the RUN that sees it misses"; else pass "ARG value: the RUN that sees it misses"; fi

# ENV
dockerfile 2
check "ENV E=2 builds" build env -t "$img" --push "$ctx"
check "ENV value: COPY hits" is_cached env "COPY src/ /src/"
if is_cached env "RUN cat"; then fail "ENV value: RUN misses"; else pass "ENV value: RUN misses"; fi
dockerfile 1

# file content, mode, a new file: the COPY misses
echo a2 > "$ctx/src/a.txt"
check "content change builds" build content -t "$img" --push "$ctx"
if is_cached content "COPY src/"; then fail "file content: COPY misses"; else pass "file content: COPY misses"; fi
check "file content: the base, extracted by the first build, is neither fetched nor extracted again" \
  bash -c '! grep -qE "fetching the shape of|extracting" "$1"' _ "$dir/content.log"
echo a > "$ctx/src/a.txt"
build back -t "$img" --push "$ctx"
check "content back: every step CACHED" all_cached back
check "content back: the first digest" test "$(digest b1)" = "$(digest back)"
chmod 600 "$ctx/src/a.txt"
build mode -t "$img" --push "$ctx"
if is_cached mode "COPY src/"; then fail "file mode: COPY misses"; else pass "file mode: COPY misses"; fi
chmod 644 "$ctx/src/a.txt"
echo new > "$ctx/src/new.txt"
build newfile -t "$img" --push "$ctx"
if is_cached newfile "COPY src/"; then fail "a new file: COPY misses"; else pass "a new file: COPY misses"; fi
rm "$ctx/src/new.txt"

# owner: COPY from the context writes 0:0 (the layer is the same: a hit); a bind mount
# shows the owner (a miss)
chown 1234:1234 "$ctx/src/sub/b.txt"
build owner -t "$img" --push "$ctx"
check "owner: COPY (which writes 0:0) hits" is_cached owner "COPY src/"
if is_cached owner "RUN --mount"; then fail "owner: the RUN whose bind mount shows it misses"; else pass "owner: the RUN whose bind mount shows it misses"; fi
chown 0:0 "$ctx/src/sub/b.txt"

# .dockerignore'd file, mtime only: hits, the same image
echo changed > "$ctx/src/ignored.txt"
touch -d '2001-02-03 04:05:06' "$ctx/src/a.txt" "$ctx/src/sub/b.txt" "$ctx/src"
build ignored -t "$img" --push "$ctx"
check "ignored file and mtimes changed: every step CACHED" all_cached ignored
check "ignored file and mtimes changed: the first digest" test "$(digest b1)" = "$(digest ignored)"

# --no-cache runs everything; the build after it hits again
build nocache -t "$img" --push --no-cache "$ctx"
check "--no-cache: nothing CACHED" none_cached nocache
build after -t "$img" --push "$ctx"
check "after --no-cache: every step CACHED" all_cached after

# base image digest: the same tag, another image → every step misses
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$REGISTRY/base/busybox:latest-amd64" \
  "docker://$REGISTRY/base/moving:v1"
sed -i "s|base/busybox:latest|base/moving:v1|" "$ctx/Dockerfile"
build moving1 -t "$img" --push "$ctx"
build moving2 -t "$img" --push "$ctx"
check "a base by another name, same digest: CACHED" all_cached moving2
mkdir -p "$dir/ctx2"; printf 'FROM %s/base/busybox:latest\nRUN echo other > /other\n' "$REGISTRY" > "$dir/ctx2/Dockerfile"
build other -t "$REGISTRY/base/moving:v1" --push "$dir/ctx2"
build moving3 -t "$img" --push "$ctx"
check "the base's tag moved to another digest: every step misses" none_cached moving3
dockerfile 1

# platform: a FROM scratch COPY for amd64, then arm64
mkdir -p "$dir/ctx3"; echo x > "$dir/ctx3/x"; printf 'FROM scratch\nCOPY x /x\n' > "$dir/ctx3/Dockerfile"
build p1 --platform linux/amd64 -o "type=oci,dest=$dir/p1.tar" "$dir/ctx3"
build p2 --platform linux/amd64 -o "type=oci,dest=$dir/p2.tar" "$dir/ctx3"
build p3 --platform linux/arm64 -o "type=oci,dest=$dir/p3.tar" "$dir/ctx3"
check "platform: the same one hits" all_cached p2
check "platform: another one misses" none_cached p3

# --no-cache-filter STAGE: that stage's steps run, the others hit
mkdir -p "$dir/ctx4"
cat > "$dir/ctx4/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS compile
RUN echo compiled > /out
FROM $REGISTRY/base/busybox:latest
RUN echo final > /final
COPY --from=compile /out /out
DF
build f1 -t "$REGISTRY/t/filter:v1" --push "$dir/ctx4"
build f2 -t "$REGISTRY/t/filter:v1" --push "$dir/ctx4"
check "multi-stage rebuild: every step CACHED" all_cached f2
check "multi-stage rebuild: the cached compile stage is not extracted" bash -c '! grep -q "extracting" "'"$dir"'/f2.log"'
build f3 -t "$REGISTRY/t/filter:v1" --push --no-cache-filter compile "$dir/ctx4"
if is_cached f3 "RUN echo compiled"; then fail "--no-cache-filter compile: its RUN runs"; else pass "--no-cache-filter compile: its RUN runs"; fi
check "--no-cache-filter compile: the final stage's RUN hits" is_cached f3 "RUN echo final"

# a COPY-only stage: the base's shape is fetched once, kept in the store, and serves the
# next build's COPY (the base itself is never extracted)
mkdir -p "$dir/ctx6"; echo one > "$dir/ctx6/f"
printf 'FROM %s/base/busybox:latest\nCOPY --chown=nobody f /bin/f\n' "$REGISTRY" > "$dir/ctx6/Dockerfile"
state=$dir/state-shape
build s1 -t "$REGISTRY/t/shape:v1" --push "$dir/ctx6"
check "COPY-only, first build: the shape is fetched" grep -q "fetching the shape of" "$dir/s1.log"
echo two > "$dir/ctx6/f"
build s2 -t "$REGISTRY/t/shape:v1" --push "$dir/ctx6"
check "COPY-only, a file changed: the COPY runs" bash -c "$(declare -f cached is_cached); dir=$dir; ! is_cached s2 'COPY'"
check "COPY-only, a file changed: the shape comes from the store" bash -c '! grep -q "fetching the shape of" "$1"' _ "$dir/s2.log"
base_layer=$(skopeo inspect --tls-verify=false --config "docker://$REGISTRY/base/busybox:latest-amd64" | jq -r '.rootfs.diff_ids[0]')
check "COPY-only: the base is never extracted" bash -c '[ -n "$2" ] && [ ! -e "$1/layers/${2/:/-}" ]' _ "$state" "$base_layer"
build s3 -o "type=local,dest=$dir/s3" "$dir/ctx6"
check "COPY-only: the new file, owned per --chown from the base's passwd" bash -c \
  '[ "$(cat "$1/bin/f")" = two ] && [ "$(stat -c %u "$1/bin/f")" = 65534 ]' _ "$dir/s3"
state=$dir/state

# a corrupted layer in the store: a miss and a rebuild, never a wrong image
build c1 -o "type=local,dest=$dir/c1" "$ctx"
# the store dirs of the layers whose /all is this build's (the same content made by
# earlier builds under other keys has other mtimes, so other dirs)
the_layers() {
  local r d
  for r in "$state"/steps/*; do
    d=$(awk '/^diff_id/ { print $2 }' "$r")
    if cmp -s "$state/layers/${d/:/-}/all" "$dir/c1/all"; then echo "$state/layers/${d/:/-}"; fi
  done
}
layers=$(the_layers)
check "the RUN's layer is in the store" test -n "$layers"
for l in $layers; do echo WRONG > "$l/all"; done
build c2 -o "type=local,dest=$dir/c2" "$ctx"
if is_cached c2 "RUN cat"; then fail "corrupted layer: the step runs again"; else pass "corrupted layer: the step runs again"; fi
check "corrupted layer: the image has the right file" cmp "$dir/c1/all" "$dir/c2/all"
check "corrupted layer: a warning says so" grep -q "changed on disk" "$dir/c2.log"
build c3 -o "type=local,dest=$dir/c3" "$ctx"
check "the layer is stored again and hits" is_cached c3 "RUN cat"
for l in $(the_layers); do rm -rf "$l"; done
build c4 -o "type=local,dest=$dir/c4" "$ctx"
if is_cached c4 "RUN cat"; then fail "a layer gone from the store: the step runs again"; else pass "a layer gone from the store: the step runs again"; fi
check "a layer gone from the store: the right file" cmp "$dir/c1/all" "$dir/c4/all"

# two builds at once on one state dir, sharing their first steps
mkdir -p "$dir/cc1" "$dir/cc2"
for i in 1 2; do
  printf 'FROM %s/base/busybox:latest\nRUN echo shared > /shared\nRUN echo mine%s > /mine\n' "$REGISTRY" $i > "$dir/cc$i/Dockerfile"
done
build cc1a -t "$REGISTRY/t/cc1:v1" --push "$dir/cc1" & p1=$!
build cc2a -t "$REGISTRY/t/cc2:v1" --push "$dir/cc2" & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
check "two concurrent builds on one state dir succeed" test $r1 -eq 0 -a $r2 -eq 0
build cc1b -t "$REGISTRY/t/cc1:v1" --push "$dir/cc1"
build cc2b -t "$REGISTRY/t/cc2:v1" --push "$dir/cc2"
check "after them, each rebuild is CACHED" bash -c "$(declare -f cached steps all_cached); dir=$dir; all_cached cc1b && all_cached cc2b"
# (both made the shared step; the record of one of them stays, so a rebuild may take the
# other's layer: a correct image, but not always the first digest.  From then on, stable.)
build cc1c -t "$REGISTRY/t/cc1:v1" --push "$dir/cc1"
check "and a rebuild after that gives the same digest again" test "$(digest cc1b)" = "$(digest cc1c)"

# max-size: the least recently used layers go, and their records with them
n_before=$(ls "$state/steps" | wc -l)
echo "max-size = 1" > "$state/config"
build small -o "type=local,dest=$dir/small" "$ctx"
check "max-size: the build after the bound shrank the store succeeds" cmp "$dir/c1/all" "$dir/small/all"
check "max-size: no record points at a missing layer" bash -c '
  for r in "$1"/steps/*; do [ -e "$r" ] || continue; d=$(awk "/^diff_id/ {print \$2}" "$r"); test -d "$1/layers/${d/:/-}" || exit 1; done' _ "$state"
check "max-size: the records of evicted layers are gone" test "$(ls "$state/steps" | wc -l)" -lt "$n_before"
rm -f "$state/config"
check "the state dir is left with no scratch" bash -c '[ -z "$(ls -A "$1/runs" 2>/dev/null)" ]' _ "$state"

# ---- the cache in a registry (--cache-to / --cache-from type=registry) ----
cref=$REGISTRY/cache/app:main
state=$dir/state-r1
check "--cache-to type=registry,mode=max exports" build r1 -t "$REGISTRY/t/remote:v1" --push \
  --cache-to "type=registry,ref=$cref,mode=max" "$dir/ctx4"
craw=$(skopeo inspect --tls-verify=false --raw "docker://$cref")
# three steps, two blobs: COPY --from=compile /out makes the very layer of RUN … > /out
check "the cache ref is an OCI manifest with the cache config and each blob once" bash -c \
  'jq -e ".config.mediaType == \"application/vnd.slipway.cache.config.v1+json\" and (.layers | length) == 2" <<<"$1" >/dev/null' _ "$craw"
state=$dir/state-r2 # a cold runner
check "a cold state dir with --cache-from builds" build r2 -t "$REGISTRY/t/remote:v1" --push --cache-from "type=registry,ref=$cref" "$dir/ctx4"
check "cold state dir + --cache-from: every step CACHED (mode=max: the compile stage too)" all_cached r2
check "cold state dir + --cache-from: the same image digest" test "$(digest r1)" = "$(digest r2)"
check "cold state dir + --cache-from: nothing extracted, the layer store empty (the blobs are mounted)" bash -c \
  '! grep -q "extracting" "$1/r2.log" && [ -z "$(ls -A "$1/state-r2/layers" 2>/dev/null)" ]' _ "$dir"
state=$dir/state-r3
check "mode=min exports" build r3 -t "$REGISTRY/t/remote:v1" --push --cache-to "type=registry,ref=$REGISTRY/cache/min:x,mode=min" "$dir/ctx4"
state=$dir/state-r4
build r4 -t "$REGISTRY/t/remote:v1" --push --cache-from "type=registry,ref=$REGISTRY/cache/min:x" "$dir/ctx4"
check "mode=min: the exported image's steps hit" is_cached r4 "RUN echo final"
check "mode=min: a compile stage's do not (the COPY --from still hits: its key is known)" bash -c \
  "$(declare -f cached is_cached); dir=$dir; ! is_cached r4 'RUN echo compiled' && is_cached r4 'COPY --from=compile'"

# a corrupted blob in the cache registry: a miss, the step runs, the image is right
mkdir -p "$dir/ctx5"; printf 'FROM %s/base/busybox:latest\nRUN echo fine > /fine\n' "$REGISTRY" > "$dir/ctx5/Dockerfile"
state=$dir/state-k1
build k1 -o "type=local,dest=$dir/k1" --cache-to "type=registry,ref=$REGISTRY/cache/bad:x,mode=max" "$dir/ctx5"
blob=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/bad:x" | jq -r '.layers[0].digest')
data=$dir/registry/data/docker/registry/v2/blobs/sha256/${blob:7:2}/${blob#sha256:}/data
check "the cache blob is in the registry's storage" test -f "$data"
size=$(stat -c %s "$data"); head -c "$size" /dev/urandom > "$data"
state=$dir/state-k2
check "a corrupted cache blob: the build succeeds" build k2 -o "type=local,dest=$dir/k2" --cache-from "type=registry,ref=$REGISTRY/cache/bad:x" "$dir/ctx5"
if is_cached k2 "RUN echo fine"; then fail "a corrupted cache blob: the step runs"; else pass "a corrupted cache blob: the step runs"; fi
check "a corrupted cache blob: the right file" bash -c '[ "$(cat "$1/fine")" = fine ]' _ "$dir/k2"
check "a corrupted cache blob: a warning says so" grep -q "cache-from" "$dir/k2.log"

# the cache in another registry than the image's: a hit's blob is streamed from one into
# the other, nothing on local disk; a corrupted blob there is a miss and the step runs
first_registry=$REGISTRY
start_registry "$dir/registry2" || { fail "a second registry starts"; exit 0; }
creg=$REGISTRY; REGISTRY=$first_registry
mkdir -p "$dir/ctx7"
printf 'FROM %s/base/busybox:latest\nRUN head -c 8388608 /dev/urandom > /big\nRUN echo fine > /fine\n' "$REGISTRY" > "$dir/ctx7/Dockerfile"
state=$dir/state-x1
check "export to a cache in another registry" build x1 -t "$REGISTRY/t/xreg:v1" --push \
  --cache-to "type=registry,ref=$creg/cache/x:main,mode=max" "$dir/ctx7"
state=$dir/state-x2
check "a cold state dir with --cache-from another registry, pushing to a new repository" build x2 \
  -t "$REGISTRY/t/xreg-new:v1" --push --cache-from "type=registry,ref=$creg/cache/x:main" "$dir/ctx7"
check "from another registry: every step CACHED, the same image digest" bash -c \
  "$(declare -f cached steps all_cached digest); dir=$dir; all_cached x2 && [ \"\$(digest x1)\" = \"\$(digest x2)\" ]"
check "from another registry: nothing extracted, the layer store empty" bash -c \
  '! grep -q "extracting" "$1/x2.log" && [ -z "$(ls -A "$1/state-x2/layers" 2>/dev/null)" ]' _ "$dir"
check "from another registry: under 1 MiB written to the state dir (the layers are 8 MiB)" bash -c \
  '[ "$(du -sk "$1" | cut -f1)" -lt 1024 ]' _ "$dir/state-x2"
check "from another registry: the pushed image is whole (every blob verified by a copy)" \
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/t/xreg-new:v1" "oci:$dir/x2-copy:x"
# corrupt the small layer's blob (RUN echo fine) in the cache registry's storage
xblob=$(skopeo inspect --tls-verify=false --raw "docker://$creg/cache/x:main" | jq -r '.layers | min_by(.size) | .digest')
xdata=$dir/registry2/data/docker/registry/v2/blobs/sha256/${xblob:7:2}/${xblob#sha256:}/data
check "the small cache blob is in the cache registry's storage" test -f "$xdata"
head -c "$(stat -c %s "$xdata")" /dev/urandom > "$xdata"
state=$dir/state-x3
check "a corrupted blob in another registry, pushing: the build succeeds" build x3 \
  -t "$REGISTRY/t/xreg-bad:v1" --push --cache-from "type=registry,ref=$creg/cache/x:main" "$dir/ctx7"
check "a corrupted blob in another registry: its step runs, the other hits" bash -c \
  "$(declare -f cached is_cached); dir=$dir; ! is_cached x3 'RUN echo fine' && is_cached x3 'RUN head'"
check "a corrupted blob in another registry: a warning says so" grep -q "cache-from.*the step runs instead" "$dir/x3.log"
check "a corrupted blob in another registry: the pushed image is whole" \
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/t/xreg-bad:v1" "oci:$dir/x3-copy:x"
printf 'FROM %s/t/xreg-bad:v1\n' "$REGISTRY" > "$dir/x3-check.Dockerfile"
state=$dir/state-x4
build x4 -o "type=local,dest=$dir/x4" -f "$dir/x3-check.Dockerfile" "$dir/ctx7"
check "a corrupted blob in another registry: the image has the right files" bash -c \
  '[ "$(cat "$1/fine")" = fine ] && [ "$(stat -c %s "$1/big")" = 8388608 ]' _ "$dir/x4"

# --cache-to compression=: the cache's own layers are packed so; a cold build from it hits
# and makes the same (gzip) image
state=$dir/state-z1
check "--cache-to compression=zstd,compression-level=3 exports" build z1 -t "$REGISTRY/t/zcache:v1" --push \
  --cache-to "type=registry,ref=$REGISTRY/cache/z:x,mode=max,compression=zstd,compression-level=3" "$dir/ctx4"
zraw=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/z:x")
check "compression=zstd: the cache's layers are zstd blobs" bash -c \
  'jq -e "(.layers | length) == 2 and all(.layers[]; .mediaType == \"application/vnd.oci.image.layer.v1.tar+zstd\")" <<<"$1" >/dev/null' _ "$zraw"
check "compression=zstd: the cache's blobs are zstd frames" bash -c \
  'd=$(jq -r ".layers[0].digest" <<<"$1"); curl -sf "http://$2/v2/cache/z/blobs/$d" | head -c 4 | od -An -tx1 | grep -q "28 b5 2f fd"' _ "$zraw" "$REGISTRY"
state=$dir/state-z2
check "a cold build from the zstd cache" build z2 -t "$REGISTRY/t/zcache:v1" --push --cache-from "type=registry,ref=$REGISTRY/cache/z:x" "$dir/ctx4"
check "from the zstd cache: every step CACHED, the same (gzip) image" bash -c \
  "$(declare -f cached steps all_cached digest); dir=$dir; all_cached z2 && [ \"\$(digest z1)\" = \"\$(digest z2)\" ]"
state=$dir/state-z3
check "--cache-to type=local,compression=uncompressed exports" build z3 -o "type=local,dest=$dir/z3" \
  --cache-to "type=local,dest=$dir/zlocal,mode=max,compression=uncompressed" "$dir/ctx4"
check "compression=uncompressed: the directory's layers are plain tars" bash -c \
  'm=$(jq -r ".manifests[0].digest" "$1/index.json" | cut -d: -f2); jq -e "(.layers | length) == 2 and all(.layers[]; .mediaType == \"application/vnd.oci.image.layer.v1.tar\")" "$1/blobs/sha256/$m" >/dev/null && for d in $(jq -r ".layers[].digest" "$1/blobs/sha256/$m" | cut -d: -f2); do tar -tf "$1/blobs/sha256/$d" >/dev/null || exit 1; done' _ "$dir/zlocal"
state=$dir/state-z4
check "a cold build from the uncompressed directory cache hits every step" bash -c \
  "$(declare -f build cached steps all_cached); dir=$dir; state=$state; SLIPWAY=$SLIPWAY; build z4 -o type=local,dest=$dir/z4 --cache-from type=local,src=$dir/zlocal $dir/ctx4 && all_cached z4 && cmp $dir/z3/final $dir/z4/final"
if build z5 --cache-to "type=registry,ref=$REGISTRY/cache/z:y,compression=brotli" "$dir/ctx4"; then
  fail "--cache-to compression=brotli is refused"; else
  check "--cache-to compression=brotli: says what it takes" grep -q 'invalid compression "brotli" in --cache-to.*use gzip, zstd or uncompressed' "$dir/z5.log"; fi

# the export runs beside the build: a compile stage's layer (not in the image) is in the
# cache registry before the build's last step ends.  The cache's registry is reached through
# a proxy that logs when each request was answered; the steps' ends are in the rawjson
# progress (both wall-clock times of this machine).  The last step's 5 s leave room for the
# COPY layer's push and the 8 MB blob's pack and upload on a loaded machine.
start_fault_proxy "$REGISTRY" timed@all || fail "the timing proxy starts"
mkdir -p "$dir/ctx-early"
cat > "$dir/ctx-early/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS first
RUN sleep 3 && head -c 8000000 /dev/urandom > /x && echo first > /first
FROM $REGISTRY/base/busybox:latest
COPY --from=first /x /x
RUN sleep 5
DF
state=$dir/state-early
check "mode=max export beside a two-stage build" bash -c \
  'timeout 300 "$1" build --progress=rawjson --state-dir "$2" -t "$3" --push --cache-to "type=registry,ref=$4,mode=max" "$5" 2> "$6"' \
  _ "$SLIPWAY" "$state" "$REGISTRY/t/early:v1" "$PROXY/cache/early:x" "$dir/ctx-early" "$dir/early.events"
# the first stage's blob: the big one of the cache's layers that the image does not have
early_blob=$(jq -rn --argjson c "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/early:x" || echo null)" \
  --argjson i "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/early:v1" || echo null)" \
  '([$c.layers[] | select(.size > 4000000) | .digest] - [$i.layers[].digest])[0] // empty' 2>/dev/null)
early_up=$(grep -oE "^answered PUT /v2/cache/early/blobs/uploads/[^ ]*${early_blob#sha256:}[^ ]* 201 t=[0-9.]+" "$PROXY_LOG" | head -1 | sed 's/.*t=//')
last_id=$(jq -R 'fromjson? // empty | select(.kind == "start" and ((.name // "") | endswith("RUN sleep 5"))) | .id' "$dir/early.events" | head -1)
last_end=$(jq -R --argjson id "${last_id:-0}" 'fromjson? // empty | select(.kind == "done" and .id == $id) | .time' "$dir/early.events" | head -1)
check "the first stage's cache blob is uploaded before the build's last step ends (upload $early_up, step end $last_end)" \
  awk -v u="${early_up:-}" -v e="${last_end:-}" -v b="${early_blob:-}" 'BEGIN { exit !(b != "" && u != "" && e != "" && u + 0 < e + 0) }'
state=$dir/state-early2
check "a cold state dir hits every step from that cache" bash -c \
  "$(declare -f build cached steps all_cached); dir=$dir; state=$state; SLIPWAY=$SLIPWAY; build early2 -t $REGISTRY/t/early:v1 --push --cache-from type=registry,ref=$REGISTRY/cache/early:x $dir/ctx-early && all_cached early2"

# compression=zstd exported twice from one state dir: the first export records what packing
# each layer gave (STATE/packs), the second asks the registry (HEAD) and uploads no layer
state=$dir/state-zt
check "compression=zstd through the proxy: the first export" build zt1 -t "$REGISTRY/t/zt:v1" --push \
  --cache-to "type=registry,ref=$PROXY/cache/zt:x,mode=max,compression=zstd" "$dir/ctx4"
zt_man1=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/zt:x")
zt_layers=$(jq -r '.layers[].digest | sub("sha256:"; "")' <<<"$zt_man1" | tr '\n' ' ')
mark=$(wc -l < "$PROXY_LOG")
check "compression=zstd: the same state dir exports again" build zt2 -t "$REGISTRY/t/zt:v1" --push \
  --cache-to "type=registry,ref=$PROXY/cache/zt:x,mode=max,compression=zstd" "$dir/ctx4"
check "compression=zstd: the pack records are in the state dir" bash -c '[ "$(ls "$1/packs" | wc -l)" -ge 2 ]' _ "$state"
check "compression=zstd: the first export uploaded each zstd layer ($zt_layers)" bash -c \
  '[ -n "$2" ] && for h in $2; do head -n "$3" "$1" | grep -qE "^request PUT /v2/cache/zt/blobs/uploads/.*$h" || exit 1; done' _ "$PROXY_LOG" "$zt_layers" "$mark"
check "compression=zstd: the second export asks the registry for each layer and uploads none" bash -c \
  'tail -n +"$(($3 + 1))" "$1" > "$1.second"; [ -n "$2" ] && for h in $2; do grep -q "^request HEAD /v2/cache/zt/blobs/sha256:$h" "$1.second" && ! grep -qE "^request PUT /v2/cache/zt/blobs/uploads/.*$h" "$1.second" || exit 1; done' \
  _ "$PROXY_LOG" "$zt_layers" "$mark"
check "compression=zstd: the cache is the same after the second export" \
  test "$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/cache/zt:x")" = "$zt_man1"

# two platforms exporting to one ref: neither erases the other
state=$dir/state-p1
build pa --platform linux/amd64 -t "$REGISTRY/t/plat:amd64" --push --cache-to "type=registry,ref=$REGISTRY/cache/plat:x,mode=max" "$dir/ctx3"
state=$dir/state-p2
build pb --platform linux/arm64 -t "$REGISTRY/t/plat:arm64" --push --cache-to "type=registry,ref=$REGISTRY/cache/plat:x,mode=max" "$dir/ctx3"
state=$dir/state-p3
build pc --platform linux/amd64 -t "$REGISTRY/t/plat:amd64" --push --cache-from "type=registry,ref=$REGISTRY/cache/plat:x" "$dir/ctx3"
build pd --platform linux/arm64 -t "$REGISTRY/t/plat:arm64" --push --cache-from "type=registry,ref=$REGISTRY/cache/plat:x" "$dir/ctx3"
check "two platforms' exports to one ref: amd64 still hits" all_cached pc
check "two platforms' exports to one ref: arm64 hits" all_cached pd

# ---- the cache in a directory (--cache-to / --cache-from type=local): an OCI layout ----
ldir=$dir/lcache
state=$dir/state-l1
check "--cache-to type=local,mode=max exports" build l1 -t "$REGISTRY/t/local:v1" --push \
  --cache-to "type=local,dest=$ldir,mode=max" "$dir/ctx4"
check "the local cache is an OCI layout" bash -c 'jq -e ".imageLayoutVersion" "$1/oci-layout" && test -d "$1/blobs/sha256"' _ "$ldir"
lman=$(jq -r '.manifests[0].digest' "$ldir/index.json" 2>/dev/null)
check "its index.json names one cache manifest, with each blob once" bash -c \
  'jq -e ".manifests | length == 1" "$1/index.json" && jq -e ".config.mediaType == \"application/vnd.slipway.cache.config.v1+json\" and (.layers | length) == 2" "$1/blobs/sha256/${2#sha256:}"' _ "$ldir" "$lman"
blobs_before=$(cd "$ldir/blobs/sha256" && stat -c '%n %i %Y' * | sort)
state=$dir/state-l2 # a cold runner
check "a cold state dir with --cache-from type=local builds" build l2 -t "$REGISTRY/t/local:v1" --push \
  --cache-from "type=local,src=$ldir" "$dir/ctx4"
check "cold state dir + type=local: every step CACHED (mode=max: the compile stage too)" all_cached l2
check "cold state dir + type=local: the same image digest" test "$(digest l1)" = "$(digest l2)"
check "cold state dir + type=local: nothing is extracted (no base, no cached layer)" bash -c \
  '! grep -q "extracting" "$1/l2.log" && [ -z "$(ls -A "$1/state-l2/layers" 2>/dev/null)" ]' _ "$dir"
# a repository that has none of the blobs: the cached layers are streamed from the directory
state=$dir/state-l2n
check "cold state dir + type=local, pushing to a new repository" build l2n -t "$REGISTRY/t/local-new:v1" --push \
  --cache-from "type=local,src=$ldir" "$dir/ctx4"
check "pushing to a new repository: every step CACHED, the same image digest" bash -c \
  "$(declare -f cached steps all_cached digest); dir=$dir; all_cached l2n && [ \"\$(digest l1)\" = \"\$(digest l2n)\" ]"
check "pushing to a new repository: the registry has every blob of the image" \
  skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/t/local-new:v1" "oci:$dir/l2n-copy:x"
check "pushing to a new repository: nothing extracted" bash -c '[ -z "$(ls -A "$1" 2>/dev/null)" ]' _ "$dir/state-l2n/layers"
# the blobs of hits from the directory also go, as they are, into an OCI archive and into
# another cache (here a registry ref, mode=max: the compile stage's layer too)
state=$dir/state-l2o
check "cold state dir + type=local: -o type=oci and --cache-to type=registry" build l2o \
  -o "type=oci,dest=$dir/l2o.tar" --cache-from "type=local,src=$ldir" \
  --cache-to "type=registry,ref=$REGISTRY/cache/fromlocal:x,mode=max" "$dir/ctx4"
check "the OCI archive is whole (every blob verified by a copy)" \
  skopeo copy -q "oci-archive:$dir/l2o.tar" "oci:$dir/l2o-copy:x"
check "and nothing was extracted" bash -c '[ -z "$(ls -A "$1" 2>/dev/null)" ]' _ "$dir/state-l2o/layers"
state=$dir/state-l2p
check "a cold build from the registry cache written from the directory's" build l2p -t "$REGISTRY/t/local:v1" --push \
  --cache-from "type=registry,ref=$REGISTRY/cache/fromlocal:x" "$dir/ctx4"
check "… hits every step, the same image digest" bash -c \
  "$(declare -f cached steps all_cached digest); dir=$dir; all_cached l2p && [ \"\$(digest l1)\" = \"\$(digest l2p)\" ]"
# a later RUN reads the cached layers' tree: then (only then) they are extracted
mkdir -p "$dir/ctx6"; { cat "$dir/ctx4/Dockerfile"; echo 'RUN cat /final /out > /both'; } > "$dir/ctx6/Dockerfile"
state=$dir/state-l2r
check "a RUN after cached steps from the directory builds" build l2r -o "type=local,dest=$dir/l2r" \
  --cache-from "type=local,src=$ldir" "$dir/ctx6"
check "a RUN after cached steps: they hit, it runs" bash -c \
  "$(declare -f cached is_cached); dir=$dir; is_cached l2r 'RUN echo final' && is_cached l2r 'COPY --from=compile' && ! is_cached l2r 'RUN cat /final'"
check "a RUN after cached steps: it saw their files" bash -c '[ "$(cat "$1/both")" = "$(printf "final\ncompiled")" ]' _ "$dir/l2r"
state=$dir/state-l1
check "a second export of the same build to the directory" build l1b -t "$REGISTRY/t/local:v1" --push \
  --cache-to "type=local,dest=$ldir,mode=max" "$dir/ctx4"
check "the second export wrote no blob (none added, none rewritten)" \
  test "$blobs_before" = "$(cd "$ldir/blobs/sha256" && stat -c '%n %i %Y' * | sort)"
check "and index.json names the same manifest" test "$lman" = "$(jq -r '.manifests[0].digest' "$ldir/index.json")"
check "no temporary file is left in the directory" bash -c '[ -z "$(find "$1" -name "*.tmp*" -o -name ".tmp*")" ]' _ "$ldir"
state=$dir/state-l3
check "--cache-from type=local,digest= names the manifest" build l3 -o "type=local,dest=$dir/l3" \
  --cache-from "type=local,src=$ldir,digest=$lman" "$dir/ctx4"
check "type=local,digest=: every step CACHED" all_cached l3

# a missing or unreadable directory: a warning and a miss, as buildx
state=$dir/state-l4
check "a missing --cache-from directory: the build succeeds" build l4 -o "type=local,dest=$dir/l4" \
  --cache-from "type=local,src=$dir/nowhere" "$dir/ctx5"
check "a missing --cache-from directory: a warning" grep -q "nowhere: no cache there" "$dir/l4.log"
check "a missing --cache-from directory: the step runs" none_cached l4
cp -a "$ldir" "$dir/lbroken"; echo '{"manifests": [' > "$dir/lbroken/index.json"
state=$dir/state-l5
check "a corrupt index.json: the build succeeds" build l5 -o "type=local,dest=$dir/l5" \
  --cache-from "type=local,src=$dir/lbroken" "$dir/ctx4"
check "a corrupt index.json: a warning, every step runs" bash -c \
  "$(declare -f cached none_cached); dir=$dir; grep -q 'lbroken.*not used' \$dir/l5.log && none_cached l5"
if build l6 --cache-to "type=local" "$dir/ctx5"; then fail "--cache-to type=local without dest= is refused"; else
  check "--cache-to type=local without dest=: says what it needs" grep -q "type=local needs dest=DIRECTORY" "$dir/l6.log"; fi

# a corrupted blob in the directory: a miss, the step runs, the image is right; the blob
# is removed and the next export writes it again
state=$dir/state-lk1
build lk1 -o "type=local,dest=$dir/lk1" --cache-to "type=local,dest=$dir/lbad,mode=max" "$dir/ctx5"
lblob=$(jq -r '.layers[0].digest' "$dir/lbad/blobs/sha256/$(jq -r '.manifests[0].digest' "$dir/lbad/index.json" | cut -d: -f2)")
check "the cache blob is in the directory" test -f "$dir/lbad/blobs/sha256/${lblob#sha256:}"
lsize=$(stat -c %s "$dir/lbad/blobs/sha256/${lblob#sha256:}")
head -c "$lsize" /dev/urandom > "$dir/lbad/blobs/sha256/${lblob#sha256:}"
state=$dir/state-lk2
check "a corrupted blob in the directory: the build succeeds" build lk2 -o "type=local,dest=$dir/lk2" \
  --cache-from "type=local,src=$dir/lbad" --cache-to "type=local,dest=$dir/lbad,mode=max" "$dir/ctx5"
if is_cached lk2 "RUN echo fine"; then fail "a corrupted blob in the directory: the step runs"; else pass "a corrupted blob in the directory: the step runs"; fi
check "a corrupted blob in the directory: the right file" bash -c '[ "$(cat "$1/fine")" = fine ]' _ "$dir/lk2"
check "a corrupted blob in the directory: a warning says so" grep -q "corrupted" "$dir/lk2.log"
state=$dir/state-lk3
build lk3 -o "type=local,dest=$dir/lk3" --cache-from "type=local,src=$dir/lbad" "$dir/ctx5"
check "after the export that followed, a cold build hits again" all_cached lk3

# ---- several builds exporting to one cache at the same moment: none loses its entries ----
# amd64 and arm64 (a RUN under emulation) of one Dockerfile, and two FROM scratch
# Dockerfiles, four processes exporting to one registry ref and to one directory at once;
# then a cold build of each hits.
mkdir -p "$dir/cx1" "$dir/cx2" "$dir/cx3"
printf 'FROM %s/base/busybox:latest\nRUN uname -m > /arch\n' "$REGISTRY" > "$dir/cx1/Dockerfile"
for i in 2 3; do echo "content $i" > "$dir/cx$i/f"; printf 'FROM scratch\nCOPY f /f\n' > "$dir/cx$i/Dockerfile"; done
concurrent() { # NAME-PREFIX CACHE-TO: the four builds at once, each with its own cold state dir
  local pids=() rc=0
  state=$dir/state-$1a build "$1a" --platform linux/amd64 -o "type=local,dest=$dir/$1a" --cache-to "$2" "$dir/cx1" & pids+=($!)
  state=$dir/state-$1b build "$1b" --platform linux/arm64 -o "type=local,dest=$dir/$1b" --cache-to "$2" "$dir/cx1" & pids+=($!)
  state=$dir/state-$1c build "$1c" --platform linux/amd64 -o "type=local,dest=$dir/$1c" --cache-to "$2" "$dir/cx2" & pids+=($!)
  state=$dir/state-$1d build "$1d" --platform linux/arm64 -o "type=local,dest=$dir/$1d" --cache-to "$2" "$dir/cx3" & pids+=($!)
  local names=(a b c d) i
  for i in 0 1 2 3; do # a failed build's last lines become the check's reason
    wait "${pids[$i]}" && continue
    rc=1; echo "$1${names[$i]}: $(tail -n 2 "$dir/$1${names[$i]}.log" | tr '\n' ' ')"
  done
  return $rc
}
cold_hits() { # NAME-PREFIX CACHE-FROM: a cold build of each of the four hits every step
  local ok=0
  state=$dir/state-$1A build "$1A" --platform linux/amd64 -o "type=local,dest=$dir/$1A" --cache-from "$2" "$dir/cx1" && all_cached "$1A" || ok=1
  state=$dir/state-$1B build "$1B" --platform linux/arm64 -o "type=local,dest=$dir/$1B" --cache-from "$2" "$dir/cx1" && all_cached "$1B" || ok=1
  state=$dir/state-$1C build "$1C" --platform linux/amd64 -o "type=local,dest=$dir/$1C" --cache-from "$2" "$dir/cx2" && all_cached "$1C" || ok=1
  state=$dir/state-$1D build "$1D" --platform linux/arm64 -o "type=local,dest=$dir/$1D" --cache-from "$2" "$dir/cx3" && all_cached "$1D" || ok=1
  return $ok
}
check "four concurrent builds exporting to one registry ref succeed" concurrent xr "type=registry,ref=$REGISTRY/cache/shared:x,mode=max"
check "the ref holds the entries of all four" bash -c \
  'skopeo inspect --tls-verify=false --raw "docker://$1" | jq -e ".layers | length == 4" >/dev/null' _ "$REGISTRY/cache/shared:x"
check "a cold build of each of the four hits every step" cold_hits yr "type=registry,ref=$REGISTRY/cache/shared:x"
check "the arm64 RUN from the cache made an arm64 file" bash -c '[ "$(cat "$1/arch")" = aarch64 ]' _ "$dir/yrB"
check "four concurrent builds exporting to one directory succeed" concurrent xl "type=local,dest=$dir/shared,mode=max"
check "the directory's cache holds the entries of all four" bash -c \
  'jq -e ".layers | length == 4" "$1/blobs/sha256/$(jq -r ".manifests[0].digest" "$1/index.json" | cut -d: -f2)" >/dev/null' _ "$dir/shared"
check "a cold build of each of the four hits every step (directory)" cold_hits yl "type=local,src=$dir/shared"

# export failures: fatal (and no tag) unless ignore-error=true; unsupported types say so
state=$dir/state-e
dead=127.0.0.1:$(free_port)
if build e1 -t "$REGISTRY/t/exp:v1" --push --cache-to "type=registry,ref=$dead/cache/x:y" "$dir/ctx3"; then
  fail "an export that fails fails the build"
else pass "an export that fails fails the build"; fi
check "and no tag was written" bash -c '! skopeo inspect --tls-verify=false --raw "docker://$1" >/dev/null 2>&1' _ "$REGISTRY/t/exp:v1"
check "ignore-error=true: a warning, the build succeeds" build e2 -t "$REGISTRY/t/exp:v1" --push \
  --cache-to "type=registry,ref=$dead/cache/x:y,ignore-error=true" "$dir/ctx3"
# an export that fails mid-upload: the cache's registry (a second one, behind the fault proxy)
# drops every blob upload after taking part of its body; two attempts a request keep it short
main_registry=$REGISTRY
start_registry "$dir/registry-faulty" || fail "the cache's registry starts"
faulty_upstream=$REGISTRY; REGISTRY=$main_registry
start_fault_proxy "$faulty_upstream" $(for n in $(seq 1 12); do printf 'drop@%d putdrop@%d ' "$n" "$n"; done) \
  || fail "fault proxy starts"
mkdir -p "$dir/ctx-mid"
printf 'FROM %s\nRUN head -c 3000000 /dev/urandom > /blob\n' "$REGISTRY/base/busybox:latest" > "$dir/ctx-mid/Dockerfile"
if SLIPWAY_RETRY_ATTEMPTS=2 build em1 --no-cache -t "$REGISTRY/t/mid:v1" --push \
     --cache-to "type=registry,ref=$PROXY/cache/mid:x" "$dir/ctx-mid"; then
  fail "an export failing mid-upload fails the build"
else pass "an export failing mid-upload fails the build"; fi
check "the upload was cut in the middle (the proxy dropped a blob's body)" grep -q "^fault \(drop\|putdrop\) on \(PATCH\|PUT\) .*/cache/mid/blobs/uploads/" "$PROXY_LOG"
check "and the image's tag was not written" bash -c '! skopeo inspect --tls-verify=false --raw "docker://$1" >/dev/null 2>&1' _ "$REGISTRY/t/mid:v1"
check "ignore-error=true, the same failure mid-upload: the build succeeds" env SLIPWAY_RETRY_ATTEMPTS=2 bash -c \
  'timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$1" --no-cache -t "$2" --push --cache-to "type=registry,ref=$3,ignore-error=true" "$4" > "$5" 2>&1' \
  _ "$state" "$REGISTRY/t/mid:v1" "$PROXY/cache/mid:x" "$dir/ctx-mid" "$dir/em2.log"
check "with a warning naming the cache export" bash -c 'grep -q -- "--cache-to .*cache/mid:x failed (ignore-error=true)" "$1" || { tail -5 "$1"; false; }' _ "$dir/em2.log"
check "and the image's tag points at the image" skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/mid:v1"
if build e3 --cache-to type=gha "$dir/ctx3"; then fail "--cache-to type=gha is refused"; else
  check "--cache-to type=gha: not supported yet" grep -q "not supported yet: --cache-to type=gha" "$dir/e3.log"; fi
