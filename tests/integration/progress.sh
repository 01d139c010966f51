#!/usr/bin/env bash
# Progress as a buildx user reads it: step numbers per stage, the FROM line's resolved
# digest, the .dockerignore step, the # syntax= notice, a failed RUN's last output lines in
# its error, and history entries dated with their own step's time.
. tests/lib.sh
dir=$(scratch_dir)
start_registry "$dir/registry" || { fail "registry starts"; exit 0; }
index=$(tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest) || { fail "base image pushed"; exit 0; }
state=$dir/state
build() { "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }

ctx=$dir/ctx1; mkdir -p "$ctx"; echo f > "$ctx/f"
cat > "$ctx/Dockerfile" <<DF
# syntax=docker/dockerfile:1-labs
FROM $REGISTRY/base/busybox:latest AS build
ARG X=1
ENV A=1
RUN true
LABEL a=b
COPY f /f
WORKDIR /w
CMD ["sh"]
DF
out=$(build -t "$REGISTRY/t/p:v1" --push "$ctx" 2>&1); rc=$?
check "the build succeeds" test $rc -eq 0
check "steps numbered as buildx: only FROM, RUN, COPY, WORKDIR count" bash -c '
  grep -q "\] \[build 1/4\] FROM " <<<"$1" || grep -q "#[0-9]* \[build 1/4\] FROM " <<<"$1" || exit 1
  grep -q "\[build 2/4\] RUN true" <<<"$1" && grep -q "\[build 3/4\] COPY f /f" <<<"$1" && grep -q "\[build 4/4\] WORKDIR /w" <<<"$1"' _ "$out"
check "the FROM line shows the reference and the index digest it resolved to" \
  grep -q "\[build 1/4\] FROM $REGISTRY/base/busybox:latest@$index\$" <<<"$out"
check "an [internal] load .dockerignore step" grep -q "^#[0-9]* \[internal\] load .dockerignore" <<<"$out"
check "one notice names the requested frontend" bash -c '[ "$(grep -c "docker/dockerfile:1-labs" <<<"$1")" -eq 1 ] && grep "docker/dockerfile:1-labs" <<<"$1" | grep -q "built-in"' _ "$out"

# history: each entry dated with its own step's time, RFC 3339 with nanoseconds, in order
cfg=$(skopeo inspect --tls-verify=false --raw --config "docker://$REGISTRY/t/p:v1")
check "every history entry of this build has a time, metadata entries too" \
  bash -c 'jq -e "[.history[-7:][] | .created | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]*[1-9])?Z$\")] | all" <<<"$1" >/dev/null' _ "$cfg"
check "the entries include empty_layer ones" bash -c 'jq -e "[.history[-7:][] | select(.empty_layer)] | length >= 4" <<<"$1" >/dev/null' _ "$cfg"
check "times in step order, with sub-second precision" bash -c '
  t=$(jq -r ".history[-7:][].created" <<<"$1"); [ "$t" = "$(sort <<<"$t")" ] && grep -q "\." <<<"$t"' _ "$cfg"
check "the config's created is at or after the last step" bash -c '
  [ "$(printf "%s\n%s\n" "$(jq -r ".history[-1].created" <<<"$1")" "$(jq -r .created <<<"$1")" | sort | tail -1)" = "$(jq -r .created <<<"$1")" ]' _ "$cfg"
SOURCE_DATE_EPOCH=86400 "$SLIPWAY" build -q --state-dir "$state" -t "$REGISTRY/t/p:epoch" --push "$ctx" >/dev/null 2>&1
cfg=$(skopeo inspect --tls-verify=false --raw --config "docker://$REGISTRY/t/p:epoch")
check "SOURCE_DATE_EPOCH pins every time of this build" \
  bash -c 'jq -e "([.history[-7:][].created] | unique) == [\"1970-01-02T00:00:00Z\"] and .created == \"1970-01-02T00:00:00Z\"" <<<"$1" >/dev/null' _ "$cfg"

# a failed RUN: its last ten lines, then where it is
ctx=$dir/ctx2; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest AS build\nRUN for i in $(seq 1 15); do echo "line $i"; done; exit 2\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(build "$ctx" 2>&1); rc=$?
err=$(sed -n '/^slipway: /,$p' <<<"$out")
check "the failed build exits non-zero" test $rc -ne 0
check "the error shows the step" grep -q "^ > \[build 2/2\] RUN for i" <<<"$err"
check "the error repeats the last 10 output lines" bash -c 'for i in $(seq 6 15); do grep -qx "line $i" <<<"$1" || exit 1; done; ! grep -qx "line 5" <<<"$1"' _ "$err"
check "the lines come before the Dockerfile location" bash -c '
  a=$(grep -n -x "line 15" <<<"$1" | cut -d: -f1); b=$(grep -n "Dockerfile:2:1: process" <<<"$1" | cut -d: -f1); [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]' _ "$err"
check "the step's own ERROR line stays short" bash -c 'grep "^#[0-9]* ERROR:" <<<"$1" | grep -q "^#[0-9]* ERROR: Dockerfile:2:1: process"' _ "$out"
check "nothing left mounted" test "$(grep -c "$dir" /proc/self/mountinfo)" -eq 0
