#!/usr/bin/env bash
# slipway build end to end: a real registry, real namespaces, the image checked with
# skopeo and umoci; failures publish nothing and leave no mount.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
build() { "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }
mounts_before=$(grep -c "$dir" /proc/self/mountinfo)

# unpack REF DIR: pull with skopeo and unpack with umoci (independent of slipway)
unpack() {
  rm -rf "$dir/oci" "$2"
  skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$2" >/dev/null
}
export REGISTRY
config() { skopeo inspect --tls-verify=false --raw --config "docker://$1"; }
export -f config

ctx=$dir/ctx1; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
ARG X=1
ENV GREETING=hello
RUN echo "\$GREETING \$X" > /hello && mkdir -p /data && chmod 1777 /data
WORKDIR /app
RUN echo "in \$(pwd) as \$(id -u)" > here && rm /bin/vi
USER nobody
LABEL a=b c="d e"
EXPOSE 80 53/udp
CMD ["cat", "/hello"]
DF
check "build and push" build -t "$REGISTRY/t/one:v1" --push --metadata-file "$dir/meta.json" --iidfile "$dir/iid" "$ctx"
check "skopeo inspect reads it" skopeo inspect --tls-verify=false "docker://$REGISTRY/t/one:v1"
check "umoci unpacks it" unpack "$REGISTRY/t/one:v1" "$dir/b1"
check "RUN wrote its file" grep -qx "hello 1" "$dir/b1/rootfs/hello"
check "WORKDIR created and used" grep -qx "in /app as 0" "$dir/b1/rootfs/app/here"
check "deletion became a whiteout" test ! -e "$dir/b1/rootfs/bin/vi"
check "mode bits kept (sticky)" bash -c '[ "$(stat -c %a "'"$dir"'/b1/rootfs/data")" = 1777 ]'
check "no mountpoint stubs in the image" bash -c '! ls "'"$dir"'/b1/rootfs" | grep -qxE "dev|proc|sys"'
cfg=$(config "$REGISTRY/t/one:v1")
check "config: Env" bash -c 'jq -e ".config.Env == [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"GREETING=hello\"]" <<<'"'$cfg'"' >/dev/null'
check "config: Cmd, User, WorkingDir" bash -c 'jq -e ".config.Cmd == [\"cat\",\"/hello\"] and .config.User == \"nobody\" and .config.WorkingDir == \"/app\"" <<<'"'$cfg'"' >/dev/null'
check "config: Labels, ExposedPorts" bash -c 'jq -e ".config.Labels.a == \"b\" and .config.Labels.c == \"d e\" and (.config.ExposedPorts|keys) == [\"53/udp\",\"80/tcp\"]" <<<'"'$cfg'"' >/dev/null'
check "history as BuildKit writes it" bash -c 'jq -e "[.history[].created_by][-9:] == [\"ARG X=1\",\"ENV GREETING=hello\",\"RUN |1 X=1 /bin/sh -c echo \\\"\$GREETING \$X\\\" > /hello && mkdir -p /data && chmod 1777 /data # buildkit\",\"WORKDIR /app\",\"RUN |1 X=1 /bin/sh -c echo \\\"in \$(pwd) as \$(id -u)\\\" > here && rm /bin/vi # buildkit\",\"USER nobody\",\"LABEL a=b c=d e\",\"EXPOSE [53/udp 80/tcp]\",\"CMD [\\\"cat\\\" \\\"/hello\\\"]\"]" <<<'"'$cfg'"' >/dev/null'
check "layers: base + 3 (RUN, WORKDIR, RUN)" bash -c 'jq -e "(.rootfs.diff_ids|length) == 4 and ([.history[]|select(.empty_layer|not)]|length) == 4" <<<'"'$cfg'"' >/dev/null'
check "metadata file has the digest" bash -c 'd=$(jq -r ".\"containerimage.digest\"" "'"$dir"'/meta.json"); [ "$(skopeo inspect --tls-verify=false docker://'"$REGISTRY"'/t/one:v1 | jq -r .Digest)" = "$d" ]'
check "iidfile is the config digest" bash -c '[ "$(cat "'"$dir"'/iid")" = "sha256:$(skopeo inspect --tls-verify=false --raw --config docker://'"$REGISTRY"'/t/one:v1 | sha256sum | cut -d" " -f1)" ]'

# a failing RUN: BuildKit's message, the line, no tag, no mount
ctx=$dir/ctx2; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo before\nRUN exit 3\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(build -t "$REGISTRY/t/fail:v1" --push "$ctx" 2>&1); rc=$?
check "failing RUN exits non-zero" test $rc -ne 0
check "failing RUN: BuildKit's message with the line" bash -c 'grep -q "Dockerfile:3:1: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3" <<<"$1"' _ "$out"
check "failing RUN publishes no tag" bash -c '! skopeo inspect --tls-verify=false "docker://'"$REGISTRY"'/t/fail:v1" >/dev/null 2>&1'

# bad input
out=$(build --target nope "$dir/ctx1" 2>&1); rc=$?
check "unknown --target is an error" bash -c '[ '$rc' -ne 0 ] && grep -q "target stage \"nope\" could not be found" <<<"$1"' _ "$out"
out=$(build "$dir/nonexistent" 2>&1); rc=$?
check "missing context is an error" bash -c '[ '$rc' -ne 0 ] && grep -q "not found" <<<"$1"' _ "$out"
mkdir -p "$dir/empty"
out=$(build "$dir/empty" 2>&1); rc=$?
check "missing Dockerfile is an error" bash -c '[ '$rc' -ne 0 ] && grep -q "failed to read dockerfile" <<<"$1"' _ "$out"
printf 'FROM %s/base/nothere:latest\nRUN true\n' "$REGISTRY" > "$dir/ctx2/Dockerfile"
out=$(build -t "$REGISTRY/t/fail:v2" --push "$dir/ctx2" 2>&1); rc=$?
check "unknown base image is an error at its line" bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:1:1:" <<<"$1"' _ "$out"
printf 'FROM %s/base/busybox:latest\nRUNN true\n' "$REGISTRY" > "$dir/ctx2/Dockerfile"
out=$(build "$dir/ctx2" 2>&1); rc=$?
check "unknown instruction: located, with a suggestion" bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:2:1: unknown instruction: RUNN (did you mean RUN?)" <<<"$1"' _ "$out"
check "no mount left behind" test "$(grep -c "$dir" /proc/self/mountinfo)" = "$mounts_before"
check "no scratch left in the state dir" bash -c '[ -z "$(ls -A "'"$state"'/runs" 2>/dev/null)" ]'

# COPY and ADD
ctx=$dir/ctx3; mkdir -p "$ctx/src/sub" "$ctx/skip"
echo one > "$ctx/src/a.txt"; echo two > "$ctx/src/sub/b.txt"; echo no > "$ctx/skip/x"; echo secret > "$ctx/src/key.pem"
ln -s a.txt "$ctx/src/link"
chmod 0640 "$ctx/src/a.txt"
printf 'skip\n**/*.pem\n' > "$ctx/.dockerignore"
mkdir -p "$dir/tarsrc/t" && echo intar > "$dir/tarsrc/t/f" && tar -C "$dir/tarsrc" -czf "$ctx/arch.tar.gz" t
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS build
RUN mkdir /out && echo built > /out/artifact
FROM $REGISTRY/base/busybox:latest
COPY src/ /app/src/
COPY --chown=nobody:nogroup --chmod=0600 src/*.txt /owned/
COPY --from=build /out/artifact /opt/
ADD arch.tar.gz /unpacked/
ENV WHO=world
COPY <<EOT /etc/motd
hello \$WHO
EOT
WORKDIR /w
COPY src/sub/b.txt rel
DF
check "build with COPY and ADD" build -t "$REGISTRY/t/copy:v1" --push "$ctx"
check "umoci unpacks the COPY image" unpack "$REGISTRY/t/copy:v1" "$dir/b3"
r=$dir/b3/rootfs
check "COPY dir/ copies the contents" bash -c '[ "$(cat '"$r"'/app/src/a.txt)" = one ] && [ "$(cat '"$r"'/app/src/sub/b.txt)" = two ]'
check "COPY keeps modes, owner 0:0" bash -c '[ "$(stat -c "%a %u:%g" '"$r"'/app/src/a.txt)" = "640 0:0" ]'
check "COPY keeps symlinks as symlinks" bash -c '[ "$(readlink '"$r"'/app/src/link)" = a.txt ]'
check ".dockerignore keeps files out" bash -c '[ ! -e '"$r"'/app/src/key.pem ]'
check "--chown names and --chmod" bash -c '[ "$(stat -c "%a %u:%g" '"$r"'/owned/a.txt)" = "600 65534:65534" ]'
check "COPY --from a stage" bash -c '[ "$(cat '"$r"'/opt/artifact)" = built ]'
check "ADD unpacks a local tar.gz" bash -c '[ "$(cat '"$r"'/unpacked/t/f)" = intar ]'
check "COPY heredoc, expanded" bash -c '[ "$(cat '"$r"'/etc/motd)" = "hello world" ]'
check "COPY relative to WORKDIR" bash -c '[ "$(cat '"$r"'/w/rel)" = two ]'
printf 'FROM scratch\nCOPY missing.txt /\n' > "$ctx/Dockerfile"
out=$(build "$ctx" 2>&1); rc=$?
check "COPY of a missing file names it and the line" bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:2" <<<"$1" && grep -q "missing.txt" <<<"$1"' _ "$out"
check "still no mount left behind" test "$(grep -c "$dir" /proc/self/mountinfo)" = "$mounts_before"

# ONBUILD: stored in the image, triggered when it is a base (and then not passed on)
ctx=$dir/ctx4; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nONBUILD RUN echo triggered > /from-onbuild\n' "$REGISTRY" > "$ctx/Dockerfile"
check "an image with ONBUILD" build -t "$REGISTRY/t/onbuild-base:v1" --push "$ctx"
check "ONBUILD stored in the config" bash -c '[ "$(config '"$REGISTRY"'/t/onbuild-base:v1 | jq -c .config.OnBuild)" = "[\"RUN echo triggered > /from-onbuild\"]" ]'
printf 'FROM %s/t/onbuild-base:v1\nRUN test -f /from-onbuild\n' "$REGISTRY" > "$ctx/Dockerfile"
check "its trigger runs in a child build" build -t "$REGISTRY/t/onbuild-child:v1" --push "$ctx"
check "and is not passed on" bash -c '[ "$(config '"$REGISTRY"'/t/onbuild-child:v1 | jq -c .config.OnBuild)" = null ]'

# Cancellation: SIGTERM mid-RUN stops the build, publishes nothing, leaves no scratch;
# after a SIGKILL the next build cleans up what the dead one left.
ctx=$dir/ctx6; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo started; sleep 737\n' "$REGISTRY" > "$ctx/Dockerfile"
"$SLIPWAY" build --progress=plain --state-dir "$state" -t "$REGISTRY/t/cancel:v1" --push "$ctx" > "$dir/cancel.log" 2>&1 &
pid=$!
eventually 10 grep -qs started "$dir/cancel.log" || echo "the build's RUN has not started: $(tail -3 "$dir/cancel.log")"
kill -TERM $pid; t0=$(date +%s); wait $pid; rc=$?
check "SIGTERM stops the build quickly, non-zero" bash -c '[ '$rc' -ne 0 ] && [ $(( $(date +%s) - '$t0' )) -lt 10 ]'
check "no sleep left running" no_procs "sleep 737"
check "the cancelled build published no tag" bash -c '! skopeo inspect --tls-verify=false "docker://'"$REGISTRY"'/t/cancel:v1" >/dev/null 2>&1'
check "the cancelled build left no scratch" bash -c '[ -z "$(ls -A "'"$state"'/runs" 2>/dev/null)" ]'
"$SLIPWAY" build --progress=plain --state-dir "$state" "$ctx" > "$dir/kill.log" 2>&1 &
pid=$!
eventually 10 grep -qs started "$dir/kill.log" || echo "the build's RUN has not started: $(tail -3 "$dir/kill.log")"
kill -KILL $pid; wait $pid 2>/dev/null
# The kernel delivers the parent-death signals and tears the step's PID namespace down
# after slipway is gone, not with it: give that a bounded moment on a loaded machine.
check "SIGKILL: the step's processes die with slipway" eventually 10 no_procs "sleep 737"
# and its session's lock is free once the kernel has ended every process that held it
dead_locks_free() { local l; for l in "$state"/runs/*/lock; do [ -e "$l" ] || continue; flock -n "$l" true || return 1; done; }
eventually 10 dead_locks_free || echo "the killed build's session is still locked: $(cat /proc/locks)"
printf 'FROM %s/base/busybox:latest\nRUN true\n' "$REGISTRY" > "$ctx/Dockerfile"
check "the next build runs" build "$ctx"
check "and has cleaned what the killed one left" bash -c '[ -z "$(ls -A "$1/runs" 2>/dev/null)" ] || { ls -A "$1/runs"; false; }' _ "$state"
check "no mount left after cancellations" test "$(grep -c "$dir" /proc/self/mountinfo)" = "$mounts_before"

# --progress: tty (live, on a pseudo-terminal), plain, rawjson, quiet
ctx=$dir/ctx7; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo line-from-run\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(script -qec "'$SLIPWAY' build --progress=tty --state-dir '$state' '$ctx'" /dev/null 2>&1)
check "tty: live header and FINISHED" bash -c 'grep -q "\[+\] Building" <<<"$1" && grep -q "FINISHED" <<<"$1" && grep -q "=> \[2/2\] RUN echo line-from-run" <<<"$1"' _ "$out"
out=$("$SLIPWAY" build --progress=plain --no-cache --state-dir "$state" "$ctx" 2>&1)
check "plain: buildx's numbered lines" bash -c 'grep -qE "^#[0-9]+ \[2/2\] RUN echo line-from-run$" <<<"$1" && grep -qE "^#[0-9]+ [0-9.]+ line-from-run$" <<<"$1" && grep -qE "^#[0-9]+ DONE [0-9.]+s$" <<<"$1"' _ "$out"
out=$("$SLIPWAY" build --progress=rawjson --no-cache --state-dir "$state" "$ctx" 2>&1)
check "rawjson: one JSON object a line" bash -c 'grep "^{" <<<"$1" | jq -e -s "map(select(.kind == \"log\" and .text == \"line-from-run\")) | length == 1" >/dev/null' _ "$out"
out=$("$SLIPWAY" build -q --state-dir "$state" "$ctx" 2>/dev/null)
check "quiet: only the image ID on stdout" bash -c 'grep -qxE "sha256:[0-9a-f]{64}" <<<"$1"' _ "$out"

# Flags that shape the image: --label, --annotation, --build-arg from the environment,
# --build-context (a directory and docker-image://)
ctx=$dir/ctx8; mkdir -p "$ctx" "$dir/extra"
echo from-extra > "$dir/extra/file"
cat > "$ctx/Dockerfile" <<DF
FROM base AS b
FROM $REGISTRY/base/busybox:latest
ARG FROM_ENV
COPY --from=extra /file /extra-file
COPY --from=b /bin/busybox /copied-busybox
RUN echo "\$FROM_ENV" > /from-env
DF
check "build with --label, --annotation, --build-arg KEY, --build-context" env FROM_ENV=env-value "$SLIPWAY" build --progress=plain --state-dir "$state" \
  --label org.example.a=1 --annotation org.example.m=2 --build-arg FROM_ENV \
  --build-context extra="$dir/extra" --build-context base="docker-image://$REGISTRY/base/busybox:latest" \
  -t "$REGISTRY/t/flags:v1" --push "$ctx"
check "--label lands in the config" bash -c '[ "$(config '"$REGISTRY"'/t/flags:v1 | jq -r ".config.Labels[\"org.example.a\"]")" = 1 ]'
check "--annotation lands on the manifest" bash -c '[ "$(skopeo inspect --tls-verify=false --raw docker://'"$REGISTRY"'/t/flags:v1 | jq -r ".annotations[\"org.example.m\"]")" = 2 ]'
check "unpack the flags image" unpack "$REGISTRY/t/flags:v1" "$dir/b8"
check "--build-arg KEY takes the environment's value" grep -qx env-value "$dir/b8/rootfs/from-env"
check "--build-context NAME=DIR serves COPY --from=NAME" grep -qx from-extra "$dir/b8/rootfs/extra-file"
check "--build-context NAME=docker-image://REF serves FROM NAME" test -x "$dir/b8/rootfs/copied-busybox"
out=$("$SLIPWAY" build --state-dir "$state" - 2>&1 </dev/null); rc=$?
check "a context on stdin is refused clearly" bash -c '[ '$rc' -ne 0 ] && grep -q "not supported yet: a build context read from stdin" <<<"$1"' _ "$out"

# The metadata instructions, field by field, with BuildKit's history strings
ctx=$dir/ctx9; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS base
CMD ["base-cmd"]
FROM base
MAINTAINER someone@example.com
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT echo entry
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD wget -q localhost || exit 1
VOLUME /data /logs
STOPSIGNAL SIGQUIT
RUN echo shell-form
DF
check "build with every metadata instruction" build -t "$REGISTRY/t/meta:v1" --push "$ctx"
cfg=$(config "$REGISTRY/t/meta:v1")
check "ENTRYPOINT through SHELL, and it resets the inherited CMD" bash -c 'jq -e ".config.Entrypoint == [\"/bin/sh\",\"-ec\",\"echo entry\"] and .config.Cmd == null" <<<"$1" >/dev/null' _ "$cfg"
check "SHELL, VOLUME, STOPSIGNAL, MAINTAINER" bash -c 'jq -e ".config.Shell == [\"/bin/sh\",\"-ec\"] and (.config.Volumes|keys) == [\"/data\",\"/logs\"] and .config.StopSignal == \"SIGQUIT\" and .author == \"someone@example.com\"" <<<"$1" >/dev/null' _ "$cfg"
check "HEALTHCHECK as docker stores it" bash -c 'jq -e ".config.Healthcheck == {\"Test\":[\"CMD-SHELL\",\"wget -q localhost || exit 1\"],\"Interval\":30000000000,\"Timeout\":5000000000,\"Retries\":2}" <<<"$1" >/dev/null' _ "$cfg"
check "history strings as BuildKit's" bash -c 'jq -e "[.history[].created_by][-8:] == [\"CMD [\\\"base-cmd\\\"]\",\"MAINTAINER someone@example.com\",\"SHELL [/bin/sh -ec]\",\"ENTRYPOINT [\\\"/bin/sh\\\" \\\"-ec\\\" \\\"echo entry\\\"]\",\"HEALTHCHECK {Test:[CMD-SHELL wget -q localhost || exit 1] Interval:30s Timeout:5s StartPeriod:0s StartInterval:0s Retries:2}\",\"VOLUME [/data /logs]\",\"STOPSIGNAL SIGQUIT\",\"RUN /bin/sh -ec echo shell-form # buildkit\"]" <<<"$1" >/dev/null' _ "$cfg"
out=$("$SLIPWAY" build --state-dir "$state" -o type=oci,dest=$dir/x.tar,force-compression=true "$dir/ctx1" 2>&1); rc=$?
check "an --output key slipway does not act on is refused, not ignored" bash -c '[ '$rc' -ne 0 ] && grep -q "not supported yet: --output force-compression" <<<"$1"' _ "$out"
"$SLIPWAY" build -q --state-dir "$state" -o type=oci,dest=- "$dir/ctx1" > "$dir/q.tar" 2>"$dir/q.err"
check "-q with dest=-: the tar on stdout stays a tar, the ID goes to stderr" bash -c 'tar -tf "'"$dir"'/q.tar" | grep -qx index.json && grep -qxE "sha256:[0-9a-f]{64}" "'"$dir"'/q.err"'

# Lazy base: a stage that never runs a command never extracts its base; its push mounts
# the base's blobs (same registry) or streams them across (another registry).
ctx=$dir/ctx10; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nENV LAZY=1\nLABEL lazy=yes\n' "$REGISTRY" > "$ctx/Dockerfile"
lazy_state=$dir/lazy-state
check "metadata-only build pushes" "$SLIPWAY" build -q --state-dir "$lazy_state" -t "$REGISTRY/t/lazy:v1" --push "$ctx"
check "its base was never extracted" bash -c '[ -z "$(ls -A "'"$lazy_state"'/layers" 2>/dev/null)" ]'
REGISTRY_A=$REGISTRY
start_registry "$dir/registry-b" || fail "second registry starts"
check "pushing to another registry streams the base blobs across" "$SLIPWAY" build -q --state-dir "$lazy_state" -t "$REGISTRY/t/lazy:v1" --push "$ctx"
check "still nothing extracted" bash -c '[ -z "$(ls -A "'"$lazy_state"'/layers" 2>/dev/null)" ]'
check "the copy in the other registry is complete" bash -c 'rm -rf "'"$dir"'/oci-b"; skopeo copy -q --src-tls-verify=false docker://'"$REGISTRY"'/t/lazy:v1 oci:'"$dir"'/oci-b:x'
REGISTRY=$REGISTRY_A
# ... and a stage that only COPYs onto its base fetches the base's shape, not its contents
ctx=$dir/ctx11; mkdir -p "$ctx"; echo copied > "$ctx/f"
printf 'FROM %s/base/busybox:latest\nCOPY --chown=nobody f /bin/newfile\nCOPY f /etc/passwd-copy\nWORKDIR /bin/sub\n' "$REGISTRY" > "$ctx/Dockerfile"
lazy_state2=$dir/lazy-state2
check "COPY-only build pushes" "$SLIPWAY" build -q --state-dir "$lazy_state2" -t "$REGISTRY/t/lazycopy:v1" --push "$ctx"
base_layer=$(skopeo inspect --tls-verify=false --config "docker://$REGISTRY/base/busybox:latest-amd64" | jq -r '.rootfs.diff_ids[0]')
check "COPY onto a base never extracts it" bash -c '[ -n "$2" ] && [ ! -e "$1/layers/${2/:/-}" ]' _ "$lazy_state2" "$base_layer"
check "unpack the COPY-only image" unpack "$REGISTRY/t/lazycopy:v1" "$dir/b11"
check "copied files land, owned per --chown from the base's passwd" bash -c '[ "$(cat '"$dir"'/b11/rootfs/bin/newfile)" = copied ] && [ "$(stat -c %u '"$dir"'/b11/rootfs/bin/newfile)" = 65534 ]'
check "the base's files keep their contents (only the shape was fetched)" bash -c '[ "$(stat -c %s '"$dir"'/b11/rootfs/bin/busybox)" -gt 100000 ] && grep -q "^root:" '"$dir"'/b11/rootfs/etc/passwd'
check "the new layers hold only what the steps added" bash -c 'skopeo inspect --tls-verify=false --raw docker://'"$REGISTRY"'/t/lazycopy:v1 | jq -e "[.layers[1:][].size] | all(. < 4096)" >/dev/null'

# --output compression=zstd|uncompressed: new layers packed that way, with the right media type
ctx=$dir/ctx12; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo zstd-layer > /z\n' "$REGISTRY" > "$ctx/Dockerfile"
check "build with compression=zstd" "$SLIPWAY" build -q --state-dir "$state" -o "type=registry,name=$REGISTRY/t/zstd:v1,compression=zstd" "$ctx"
raw=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/zstd:v1")
check "the new layer is zstd, the base keeps its own" bash -c 'jq -e ".layers[-1].mediaType == \"application/vnd.oci.image.layer.v1.tar+zstd\" and .layers[0].mediaType == \"application/vnd.oci.image.layer.v1.tar+gzip\"" <<<"$1" >/dev/null' _ "$raw"
d=$(jq -r '.layers[-1].digest' <<<"$raw")
check "the zstd layer decodes to the step's file" bash -c 'curl -fs "http://'"$REGISTRY"'/v2/t/zstd/blobs/'"$d"'" | zstd -dc | tar -xO z | grep -qx zstd-layer'
check "build with compression=uncompressed" "$SLIPWAY" build -q --state-dir "$state" -o "type=registry,name=$REGISTRY/t/plain:v1,compression=uncompressed" "$ctx"
check "the new layer is a plain tar" bash -c 'skopeo inspect --tls-verify=false --raw docker://'"$REGISTRY"'/t/plain:v1 | jq -e ".layers[-1].mediaType == \"application/vnd.oci.image.layer.v1.tar\"" >/dev/null'
out=$("$SLIPWAY" build --state-dir "$state" -o "type=registry,name=$REGISTRY/t/x:v1,compression=brotli" "$ctx" 2>&1); rc=$?
check "an unknown compression is an error" bash -c '[ '$rc' -ne 0 ] && grep -q "invalid compression \"brotli\"" <<<"$1"' _ "$out"
ctx=$dir/ctx13; mkdir -p "$ctx/.dockerignore"; echo x > "$ctx/f"; printf 'FROM scratch\nCOPY f /\n' > "$ctx/Dockerfile"
out=$("$SLIPWAY" build --state-dir "$state" "$ctx" 2>&1); rc=$?
check "an unreadable .dockerignore is a clear error at [internal] load .dockerignore, as buildx" bash -c '[ '$rc' -ne 0 ] && grep -q "load .dockerignore" <<<"$1" && grep -q "cannot read .*\.dockerignore: it is a directory" <<<"$1"' _ "$out"

# WORKDIR through a symlink in the image follows it inside the rootfs, never on the host
probe=slipway-escape-probe-$$
ctx=$dir/ctx14; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN ln -s /tmp /escape && ln -s opt /rel\nWORKDIR /escape/%s\nWORKDIR /rel/sub\nRUN test -d /tmp/%s && test -d /opt/sub && pwd > /pwd\n' "$REGISTRY" "$probe" "$probe" > "$ctx/Dockerfile"
check "WORKDIR through absolute and relative symlinks" build -t "$REGISTRY/t/wdlink:v1" --push "$ctx"
check "nothing was made on the host through the absolute symlink" test ! -e "/tmp/$probe"
rmdir "/tmp/$probe" 2>/dev/null
check "unpack the WORKDIR-through-links image" unpack "$REGISTRY/t/wdlink:v1" "$dir/b14"
check "the image's tree has the directories the links lead to" bash -c '[ -d '"$dir"'/b14/rootfs/tmp/'"$probe"' ] && [ -d '"$dir"'/b14/rootfs/opt/sub ] && [ "$(cat '"$dir"'/b14/rootfs/pwd)" = /opt/sub ]'

# RUN --mount reaches the sandbox through the front end's one parser: keys and types in any
# case (as BuildKit reads them), a relative target under the WORKDIR, a secret as an env var
ctx=$dir/ctx15; mkdir -p "$ctx"
tok="tok-$RANDOM-$RANDOM-value"; printf '%s' "$tok" > "$dir/tok.txt"
h=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
WORKDIR /w
RUN --mount=Type=Cache,Target=/c,ID=mixed-case echo run >> /c/log && cat /c/log | wc -l > /runs
RUN --mount=TYPE=tmpfs,DST=scratch grep -q ' /w/scratch tmpfs ' /proc/mounts && touch /w/scratch/ok-tmpfs
RUN --mount=type=secret,id=tok,env=TOK,required sh -c 'test "\$(printf %s "\$TOK" | sha256sum | cut -d" " -f1)" = $h && test ! -e /run/secrets/tok && echo env-secret-ok > /env-ok'
DF
check "RUN --mount with mixed-case keys, a relative target, a secret in env=" \
  build --secret id=tok,src="$dir/tok.txt" -t "$REGISTRY/t/mounts:v1" --push "$ctx"
check "a second build sees the same mixed-case cache" build --no-cache --secret id=tok,src="$dir/tok.txt" -t "$REGISTRY/t/mounts:v2" --push "$ctx"
check "unpack the mounts image" unpack "$REGISTRY/t/mounts:v2" "$dir/b15"
check "the cache mount persisted across builds (Type=Cache,Target=)" bash -c '[ "$(cat '"$dir"'/b15/rootfs/runs)" = 2 ]'
check "the relative tmpfs target was mounted under the WORKDIR and left nothing" test ! -e "$dir/b15/rootfs/w/scratch/ok-tmpfs"
check "the env= secret was the step's variable, not a file" test -s "$dir/b15/rootfs/env-ok"
check "the env= secret is in no layer or config" bash -c '! grep -rqF "'"$tok"'" "'"$dir"'/b15" "'"$dir"'/oci"'

# ADD of an archive goes through the layers' extractor, applied flat: a symlink that points
# above the root is stored as written (BuildKit does the same), a later RUN sees it, and
# nothing is ever written outside the image — not even through the link
probe=slipway-add-probe-$$
ctx=$dir/ctx16; mkdir -p "$ctx"
python3 - "$ctx/up.tar" "$probe" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], 'w') as t:
    l = tarfile.TarInfo('link'); l.type = tarfile.SYMTYPE; l.linkname = '../tmp/' + sys.argv[2]
    t.addfile(l)
    w = tarfile.TarInfo('d/.wh.plain'); w.size = 5; t.addfile(w, io.BytesIO(b'plain'))
PY
printf 'FROM %s/base/busybox:latest\nADD up.tar /\nRUN readlink /link > /seen && cat /d/.wh.plain > /whseen && mkdir -p /tmp/%s && echo inside > /link/f\n' "$REGISTRY" "$probe" > "$ctx/Dockerfile"
check "ADD a tar with a symlink above the root" build -t "$REGISTRY/t/addup:v1" --push "$ctx"
check "nothing was written outside the image through the link" test ! -e "/tmp/$probe"
check "unpack the ADD-symlink image" unpack "$REGISTRY/t/addup:v1" "$dir/b16"
check "the link is stored as written and a later RUN reads it" bash -c '[ "$(readlink '"$dir"'/b16/rootfs/link)" = "../tmp/'"$probe"'" ] && [ "$(cat '"$dir"'/b16/rootfs/seen)" = "../tmp/'"$probe"'" ]'
check "writing through the link stayed in the image (/tmp/$probe/f)" bash -c '[ "$(cat '"$dir"'/b16/rootfs/tmp/'"$probe"'/f)" = inside ]'
check "a .wh. name in an ADDed tar is an ordinary file" bash -c '[ "$(cat '"$dir"'/b16/rootfs/whseen)" = plain ]'

# The library's messages reach a runner's callback as SW_EVENT_LOG, those of worker threads
# too (a layer's pack job logs "sink thread: …" on a pool thread), and nothing reaches
# stderr; `slipway build` prints the same messages through its own handler.
ctx=$dir/ctx17; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo runner > /r\n' "$REGISTRY" > "$ctx/Dockerfile"
SLIPWAY_DEBUG=1 SLIPWAY_STATE_DIR=$state timeout 120 "$BUILD/examples/runner" "$ctx" "$REGISTRY/t/runner:v1" \
  > "$dir/runner.out" 2> "$dir/runner.err"; rc=$?
check "the runner builds and pushes" bash -c '[ '$rc' -eq 0 ] && grep -q "^image sha256:" "$1"' _ "$dir/runner.out"
check "a worker thread's message reaches the runner as SW_EVENT_LOG" grep -q "^log 3: sink thread: " "$dir/runner.out"
check "the library wrote nothing to the runner's stderr" test ! -s "$dir/runner.err"
SLIPWAY_STATE_DIR=$state timeout 120 "$BUILD/examples/runner" "$ctx" > "$dir/runner2.out" 2> "$dir/runner2.err"
check "a warning reaches the runner as SW_EVENT_LOG (level 1)" grep -q "^log 1: No output specified" "$dir/runner2.out"
check "no stderr with the warning either" test ! -s "$dir/runner2.err"
out=$(build --debug --no-cache -t "$REGISTRY/t/runner:v2" --push "$ctx" 2>&1) # --no-cache: the runner's build cached the RUN, and a hit packs nothing
check "slipway build shows the worker thread's messages" bash -c 'grep -q "^sink thread: " <<<"$1"' _ "$out"
