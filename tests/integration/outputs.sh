#!/usr/bin/env bash
# slipway build's file outputs: -o type=oci|docker|local|tar (and "-o DIR"), checked with
# skopeo, umoci and tar against the same image pushed to a real registry.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
export SOURCE_DATE_EPOCH=1700000000 # two builds of one Dockerfile give the same bytes
build() { "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }

# tree DIR: one line per entry (path, type, mode, owner, link target, size of files), sorted.
tree() {
  (cd "$1" && find . -mindepth 1 \( -type d -printf '%p d %m %U:%G\n' \) -o \( ! -type d -printf '%p %y %m %U:%G %l %s\n' \) | LC_ALL=C sort)
}
same_tree() { diff <(tree "$1") <(tree "$2") >&2; }
# files under DIR hashed (content equal, not only sizes)
sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
same_files() { diff <(sums "$1") <(sums "$2") >&2; }

ctx=$dir/ctx; mkdir -p "$ctx"
echo "from the context" > "$ctx/note.txt"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
RUN echo hello > /hello && chown 1:2 /hello && chmod 4755 /hello && rm /bin/vi && ln -s /hello /link \
 && mkdir -p /data/sub && chmod 1777 /data && ln /hello /hard && rm -r /root
COPY note.txt /data/sub/
DF

check "build: push and every file output at once" build -t "$REGISTRY/t/out:v1" --push \
  --metadata-file "$dir/meta.json" --iidfile "$dir/iid" \
  -o "type=oci,dest=$dir/img.oci.tar" -o "type=docker,dest=$dir/img.docker.tar" \
  -o "type=local,dest=$dir/local" -o "type=tar,dest=$dir/rootfs.tar" "$ctx"

# the reference: the pushed image, pulled and unpacked by skopeo and umoci
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/t/out:v1" "oci:$dir/ref:x" \
  && umoci unpack --image "$dir/ref:x" "$dir/ref-bundle" >/dev/null
ref=$dir/ref-bundle/rootfs
check "reference image unpacked" test -f "$ref/hello"
check "reference has the deletions applied" bash -c "[ ! -e '$ref/bin/vi' ] && [ ! -e '$ref/root' ]"

# type=oci
check "oci: skopeo inspect oci-archive" skopeo inspect "oci-archive:$dir/img.oci.tar"
check "oci: same manifest digest as pushed" bash -c '[ "$(skopeo inspect oci-archive:'"$dir"'/img.oci.tar | jq -r .Digest)" = "$(jq -r .\"containerimage.digest\" '"$dir"'/meta.json)" ]'
mkdir -p "$dir/oci-x" && tar -xf "$dir/img.oci.tar" -C "$dir/oci-x"
check "oci: umoci unpacks the extracted layout" bash -c "umoci unpack --image '$dir/oci-x:v1' '$dir/oci-bundle' >/dev/null"
check "oci: same file tree as the pushed image" same_tree "$dir/oci-bundle/rootfs" "$ref"
check "oci: same file contents as the pushed image" same_files "$dir/oci-bundle/rootfs" "$ref"
check "oci: index.json names the image" bash -c "jq -e '.manifests[0].annotations[\"org.opencontainers.image.ref.name\"] == \"v1\"' '$dir/oci-x/index.json' >/dev/null"
check "oci: OCI media types" bash -c "skopeo inspect --raw oci-archive:'$dir/img.oci.tar' | jq -e '.mediaType == \"application/vnd.oci.image.manifest.v1+json\" and (.layers|all(.mediaType == \"application/vnd.oci.image.layer.v1.tar+gzip\"))' >/dev/null"

# dest=- : the same bytes through a pipe; the progress stays on stderr
build -t "$REGISTRY/t/out:v1" -o type=oci,dest=- "$ctx" 2>"$dir/stderr.txt" | cat > "$dir/stdout.oci.tar"
check "oci dest=-: the same tar as dest=FILE" cmp "$dir/stdout.oci.tar" "$dir/img.oci.tar"
check "oci dest=-: progress went to stderr" grep -q "exporting to oci image format" "$dir/stderr.txt"
out=$(script -qec "$SLIPWAY build --progress=plain --state-dir $state -o type=oci,dest=- $ctx" /dev/null 2>&1) && rc=0 || rc=$?
check "oci dest=-: a terminal is refused, as buildx does" bash -c '[ '$rc' -ne 0 ] && grep -q "refusing to write a tar stream to the terminal" <<<"$1"' _ "$out"

# tar=false: a directory layout
check "oci tar=false: build" build -t "$REGISTRY/t/out:v1" -o "type=oci,dest=$dir/layout,tar=false" "$ctx"
check "oci tar=false: skopeo inspect oci:DIR" skopeo inspect "oci:$dir/layout"
check "oci tar=false: umoci unpacks it" bash -c "umoci unpack --image '$dir/layout:v1' '$dir/layout-bundle' >/dev/null"
check "oci tar=false: same file tree" same_tree "$dir/layout-bundle/rootfs" "$ref"
check "oci tar=false: no temporary files left" bash -c "! find '$dir/layout' -name '*.tmp-*' | grep -q ."

# type=docker
check "docker: skopeo inspect docker-archive" skopeo inspect "docker-archive:$dir/img.docker.tar"
mkdir -p "$dir/docker-x" && tar -xf "$dir/img.docker.tar" -C "$dir/docker-x"
check "docker: manifest.json names config, layers and the tag" bash -c "
  m='$dir/docker-x/manifest.json'
  jq -e '.[0].RepoTags == [\"$REGISTRY/t/out:v1\"] and (.[0].Layers|length) == 3' \"\$m\" >/dev/null &&
  for f in \$(jq -r '.[0].Config, .[0].Layers[]' \"\$m\"); do test -f '$dir/docker-x/'\"\$f\" || exit 1; done"
check "docker: repositories maps the tag" bash -c "jq -e '.[\"$REGISTRY/t/out\"].v1' '$dir/docker-x/repositories' >/dev/null"
check "docker: config is the image's (iidfile)" bash -c "[ \"\$(jq -r '.[0].Config' '$dir/docker-x/manifest.json' | sed 's,blobs/sha256/,sha256:,')\" = \"\$(cat '$dir/iid')\" ]"
check "docker: Docker schema2 media types" bash -c "
  d=\$(jq -r '.manifests[0].digest' '$dir/docker-x/index.json' | cut -d: -f2)
  jq -e '.mediaType == \"application/vnd.docker.distribution.manifest.v2+json\" and .config.mediaType == \"application/vnd.docker.container.image.v1+json\" and (.layers|all(.mediaType == \"application/vnd.docker.image.rootfs.diff.tar.gzip\"))' '$dir/docker-x/blobs/sha256/'\"\$d\" >/dev/null"
check "docker: skopeo reads the layers back (copy to oci)" bash -c "skopeo copy -q docker-archive:'$dir/img.docker.tar' oci:'$dir/from-docker:x' && umoci unpack --image '$dir/from-docker:x' '$dir/docker-bundle' >/dev/null"
check "docker: same file tree" same_tree "$dir/docker-bundle/rootfs" "$ref"
out=$(build --load "$ctx" 2>&1) && rc=0 || rc=$?
check "--load: not supported (no daemon), says what to use" bash -c '[ '$rc' -ne 0 ] && grep -q "type=docker,dest=FILE" <<<"$1"' _ "$out"

# type=local and "-o DIR"
check "local: same file tree as the pushed image" same_tree "$dir/local" "$ref"
check "local: same file contents" same_files "$dir/local" "$ref"
check "local: setuid, owner, symlink, hardlink kept" bash -c "
  [ \"\$(stat -c '%a %u:%g' '$dir/local/hello')\" = '4755 1:2' ] && [ \"\$(readlink '$dir/local/link')\" = /hello ] &&
  [ \"\$(stat -c %i '$dir/local/hello')\" = \"\$(stat -c %i '$dir/local/hard')\" ]"
check "local: deleted files absent" bash -c "[ ! -e '$dir/local/bin/vi' ] && [ ! -e '$dir/local/root' ] && [ -e '$dir/local/bin/busybox' ]"
check "-o DIR: build (parents made as needed)" build -o "$dir/new/short" "$ctx"
check "-o DIR: the directory and its parents made" test -f "$dir/new/short/hello"
mv "$dir/new/short" "$dir/short"
check "-o DIR: same tree as type=local" same_tree "$dir/short" "$dir/local"
check "-o DIR: into an existing directory again" build -o "$dir/short" "$ctx"
check "-o DIR: the tree is the same after the second export" same_tree "$dir/short" "$dir/local"

# type=tar
mkdir -p "$dir/tar-x" && tar --numeric-owner -xpf "$dir/rootfs.tar" -C "$dir/tar-x"
check "tar: same file tree as the pushed image" same_tree "$dir/tar-x" "$ref"
check "tar: no whiteout entries" bash -c "! tar -tf '$dir/rootfs.tar' | grep -q '\.wh\.'"
build -o - "$ctx" 2>/dev/null | tar -t > "$dir/tar-stdout.list"
check "-o - (tar to stdout): streams the same listing" bash -c "diff <(tar -tf '$dir/rootfs.tar') '$dir/tar-stdout.list' >&2"
build -o - "$ctx" 2>"$dir/epipe.txt" | head -c 100 >/dev/null; rc=${PIPESTATUS[0]}
check "-o - whose reader goes away: an error (not a kill), says why" bash -c '[ '$rc' = 1 ] && grep -q "Broken pipe" "$1"' _ "$dir/epipe.txt"

# Docker media types for the pushed image
check "oci-mediatypes=false: build and push" build -o "type=image,name=$REGISTRY/t/dmt:v1,push=true,oci-mediatypes=false" \
  --metadata-file "$dir/meta-d.json" "$ctx"
raw=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/t/dmt:v1")
check "oci-mediatypes=false: Docker manifest, config and layer types" bash -c "jq -e '.mediaType == \"application/vnd.docker.distribution.manifest.v2+json\" and .config.mediaType == \"application/vnd.docker.container.image.v1+json\" and (.layers|all(.mediaType == \"application/vnd.docker.image.rootfs.diff.tar.gzip\"))' <<<'$raw' >/dev/null"
check "oci-mediatypes=false: metadata file says so" bash -c "jq -e '.\"containerimage.descriptor\".mediaType == \"application/vnd.docker.distribution.manifest.v2+json\" and .\"containerimage.digest\" == \"sha256:$(printf %s "$raw" | sha256sum | cut -d' ' -f1)\"' '$dir/meta-d.json' >/dev/null"
check "type=docker alone: build" build -o "type=docker,dest=$dir/alone.tar,name=$REGISTRY/t/named" --metadata-file "$dir/meta-a.json" "$ctx"
check "type=docker name=: RepoTags, normalized" bash -c "[ \"\$(tar -xOf '$dir/alone.tar' manifest.json | jq -c '.[0].RepoTags')\" = '[\"$REGISTRY/t/named:latest\"]' ]"
check "type=docker alone: the metadata digest is the archive's" bash -c "
  [ \"\$(tar -xOf '$dir/alone.tar' index.json | jq -r '.manifests[0].digest')\" = \"\$(jq -r '.\"containerimage.digest\"' '$dir/meta-a.json')\" ]"

# several platforms (no RUN, so no emulation): an index in the layout, a directory per platform
mctx=$dir/mctx; mkdir -p "$mctx"
printf 'FROM %s/base/busybox:latest\nCOPY note.txt /\n' "$REGISTRY" > "$mctx/Dockerfile"
cp "$ctx/note.txt" "$mctx/"
check "two platforms: build" build --platform linux/amd64,linux/arm64 -o "type=oci,dest=$dir/multi.tar" -o "type=local,dest=$dir/multi" "$mctx"
check "two platforms: the layout holds an index of both" bash -c "
  mkdir -p '$dir/multi-x' && tar -xf '$dir/multi.tar' -C '$dir/multi-x' &&
  d=\$(jq -r '.manifests[0].digest' '$dir/multi-x/index.json' | cut -d: -f2) &&
  jq -e '[.manifests[].platform.architecture] == [\"amd64\",\"arm64\"]' '$dir/multi-x/blobs/sha256/'\"\$d\" >/dev/null"
check "two platforms: skopeo reads the arm64 image" skopeo --override-arch arm64 inspect "oci-archive:$dir/multi.tar"
check "two platforms: a local dir per platform" bash -c "[ -f '$dir/multi/linux_amd64/note.txt' ] && [ -f '$dir/multi/linux_arm64/note.txt' ] && file -L '$dir/multi/linux_arm64/bin/busybox' | grep -q aarch64 || [ \"\$(od -An -tx1 -j18 -N2 '$dir/multi/linux_arm64/bin/busybox' | tr -d ' ')\" = b700 ]"
check "two platforms, Docker types pushed, OCI file: build" build --platform linux/amd64,linux/arm64 \
  --annotation "index:org.example.note=kept" -o "type=image,name=$REGISTRY/t/multi:v1,push=true,oci-mediatypes=false" \
  -o "type=oci,dest=$dir/multi2.tar" "$mctx"
check "two platforms: the registry has a Docker manifest list" bash -c "skopeo inspect --raw --tls-verify=false docker://$REGISTRY/t/multi:v1 | jq -e '.mediaType == \"application/vnd.docker.distribution.manifest.list.v2+json\"' >/dev/null"
check "two platforms: the file has an OCI index of OCI manifests, annotations kept" bash -c "
  mkdir -p '$dir/multi2-x' && tar -xf '$dir/multi2.tar' -C '$dir/multi2-x' &&
  d=\$(jq -r '.manifests[0].digest' '$dir/multi2-x/index.json' | cut -d: -f2) && ix='$dir/multi2-x/blobs/sha256/'\$d &&
  jq -e '.mediaType == \"application/vnd.oci.image.index.v1+json\" and .annotations[\"org.example.note\"] == \"kept\" and (.manifests|all(.mediaType == \"application/vnd.oci.image.manifest.v1+json\"))' \$ix >/dev/null &&
  for m in \$(jq -r '.manifests[].digest' \$ix | cut -d: -f2); do
    jq -e '.mediaType == \"application/vnd.oci.image.manifest.v1+json\" and (.layers|all(.mediaType == \"application/vnd.oci.image.layer.v1.tar+gzip\"))' '$dir/multi2-x/blobs/sha256/'\$m >/dev/null || exit 1
  done"
check "two platforms: skopeo copies the whole OCI file" skopeo copy -q --all "oci-archive:$dir/multi2.tar" "oci:$dir/multi2-copy:x"
out=$(build --platform linux/amd64,linux/arm64 -o "type=docker,dest=$dir/multi-docker.tar" "$mctx" 2>&1) && rc=0 || rc=$?
check "two platforms: type=docker refuses a manifest list, leaves no file" bash -c '[ '$rc' -ne 0 ] && grep -q "manifest lists" <<<"$1" && [ ! -e "'"$dir"'/multi-docker.tar" ]' _ "$out"

# bad destinations: a clear error before any step, and nothing left behind
touch "$dir/afile"
out=$(build -o "type=oci,dest=$dir/afile/x.tar" "$ctx" 2>&1) && rc=0 || rc=$?
check "unwritable dest: clear error" bash -c '[ '$rc' -ne 0 ] && grep -q "cannot create .*afile/x.tar" <<<"$1" && ! grep -q "RUN" <<<"$1"' _ "$out"
mkdir -p "$dir/ro" && mount -t tmpfs -o ro,size=1m tmpfs "$dir/ro" && on_exit "umount '$dir/ro' 2>/dev/null"
out=$(build -o "type=tar,dest=$dir/ro/r.tar" "$ctx" 2>&1) && rc=0 || rc=$?
check "read-only dest: clear error" bash -c '[ '$rc' -ne 0 ] && grep -q "Read-only file system" <<<"$1"' _ "$out"
umount "$dir/ro"
out=$(build -o "type=local,dest=$dir/afile" "$ctx" 2>&1) && rc=0 || rc=$?
check "local dest is a file: clear error" bash -c '[ '$rc' -ne 0 ] && grep -q "not a directory" <<<"$1"' _ "$out"
out=$(build -o "type=oci" "$ctx" 2>&1) && rc=0 || rc=$?
check "no dest: clear error" bash -c '[ '$rc' -ne 0 ] && grep -q "needs a destination" <<<"$1"' _ "$out"

# option values are CSV as buildx reads them: quotes keep a comma in a value; booleans are
# strconv.ParseBool's; a stray quote or a non-boolean is an error before any step
check "quoted dest with a comma: build" build -o "type=local,\"dest=$dir/a,b\"" "$ctx"
check "quoted dest with a comma: the rootfs is in DIR 'a,b'" test -f "$dir/a,b/hello"
out=$(build -o "type=local,dest=$dir/x\"y" "$ctx" 2>&1) && rc=0 || rc=$?
check "bare quote in --output: Go's CSV error, nothing built" bash -c '[ '$rc' -ne 0 ] && grep -q "bare \" in non-quoted-field" <<<"$1" && ! grep -q "RUN" <<<"$1"' _ "$out"
check "tar=False (ParseBool): a directory layout" build -o "type=oci,dest=$dir/layoutF,tar=False" "$ctx"
check "tar=False: skopeo inspect oci:DIR" skopeo inspect "oci:$dir/layoutF"
out=$(build -o "type=oci,dest=$dir/yes.tar,tar=yes" "$ctx" 2>&1) && rc=0 || rc=$?
check "tar=yes: an error naming the key and the value" bash -c '[ '$rc' -ne 0 ] && grep -q "tar=yes" <<<"$1" && [ ! -e "'"$dir"'/yes.tar" ]' _ "$out"
out=$(build -t "$REGISTRY/t/out:v1" -o "type=image,push=maybe" "$ctx" 2>&1) && rc=0 || rc=$?
check "type=image,push=maybe: an error naming the key and the value" bash -c '[ '$rc' -ne 0 ] && grep -q "push=maybe" <<<"$1"' _ "$out"
fctx=$dir/fctx; mkdir -p "$fctx"
printf 'FROM %s/base/busybox:latest\nRUN echo x > /x\nRUN exit 4\n' "$REGISTRY" > "$fctx/Dockerfile"
mkdir -p "$dir/fail"
out=$(build -t "$REGISTRY/t/fail:v1" --push -o "type=oci,dest=$dir/fail/f.tar" -o "type=local,dest=$dir/fail/loc" \
  -o "type=tar,dest=$dir/fail/r.tar" "$fctx" 2>&1) && rc=0 || rc=$?
check "failed build: exits non-zero" test $rc -ne 0
check "failed build: no output file, directory or temporary left" bash -c "[ -z \"\$(ls -A '$dir/fail')\" ]"
check "failed build: no tag" bash -c "! skopeo inspect --tls-verify=false docker://$REGISTRY/t/fail:v1 >/dev/null 2>&1"

# only this script's places: other builds on the machine may mount things of their own
check "no mount left behind" bash -c "! grep -qF '$dir' /proc/self/mountinfo"
check "no scratch left in the state dir" bash -c '[ -z "$(ls -A "'"$state"'/runs" 2>/dev/null)" ]'
