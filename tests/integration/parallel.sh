#!/usr/bin/env bash
# The build's shape: stages that do not depend on each other run at once, the platforms of
# a multi-platform build run at once, the result does not depend on the interleaving, and a
# failing stage stops its siblings at once.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
export SOURCE_DATE_EPOCH=1700000000 # history and config times pinned: digests comparable
now() { date +%s.%N; }
digest_of() { skopeo inspect --tls-verify=false --raw "docker://$1" | sha256sum | cut -d' ' -f1; }

# two independent stages that each sleep 2 s, and a final stage reading both
ctx=$dir/ctx1; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS a
RUN sleep 2 && echo a > /a
FROM $REGISTRY/base/busybox:latest AS b
RUN sleep 2 && echo b > /b
FROM $REGISTRY/base/busybox:latest
COPY --from=a /a /a
COPY --from=b /b /b
DF
# warm the state (the base's layers) so the timing measures the stages alone; the timed
# build runs its steps (--no-cache: the warm-up's would all hit)
"$SLIPWAY" build -q --state-dir "$state" "$ctx" >/dev/null 2>&1
t0=$(now)
timeout 60 "$SLIPWAY" build --no-cache --progress=rawjson --state-dir "$state" -t "$REGISTRY/t/par:v1" --push "$ctx" 2>"$dir/raw.json"; rc=$?
t1=$(now)
check "two independent stages build" test $rc -eq 0
# the RUN steps' own start and end times, from the event stream
span() { # NAME-PREFIX → "start end"
  python3 - "$dir/raw.json" "$1" <<'PY'
import json, sys
start = {}; end = {}
for line in open(sys.argv[1]):
    try: ev = json.loads(line)
    except ValueError: continue
    if ev.get("kind") == "start" and ev.get("name", "").startswith(sys.argv[2]): start[ev["id"]] = ev["time"]
    if ev.get("kind") == "done" and ev["id"] in start: end[ev["id"]] = ev["time"]
i = next(iter(start))
print(start[i], end[i])
PY
}
read -r as ae < <(span "[a 2/2] RUN")
read -r bs be < <(span "[b 2/2] RUN")
check "rawjson times: the two RUN steps overlapped (a $as–$ae, b $bs–$be)" \
  bash -c '(( $(echo "'"$as"' < '"$be"' && '"$bs"' < '"$ae"'" | bc) ))'
check "an unnamed stage of a multi-stage file is numbered as stage-N, as buildx" grep -q '"\[stage-2 2/3\] COPY --from=a /a /a"' "$dir/raw.json"
check "the final image has both stages' files" bash -c 'skopeo inspect --tls-verify=false --config "docker://'"$REGISTRY"'/t/par:v1" | jq -e "(.rootfs.diff_ids|length) == 3" >/dev/null'

# one step at a time gives the same image, byte for byte
t2=$(now)
check "the same build with --max-parallelism 1" "$SLIPWAY" build -q --no-cache --max-parallelism 1 --state-dir "$state" -t "$REGISTRY/t/seq:v1" --push "$ctx"
t3=$(now)
# the whole build, beside the same build one step at a time in the same run (so a loaded
# machine slows both): one after the other the sleeps alone take 4 s, at once 2 s — the
# build at once is at least 1 s shorter
par=$(echo "$t1 - $t0" | bc); seq=$(echo "$t3 - $t2" | bc)
check "at once ($par s) at least 1 s shorter than one step at a time ($seq s)" bash -c '(( $(echo "'"$par"' + 1 < '"$seq"'" | bc) ))'
check "same manifest digest whatever the interleaving" test "$(digest_of "$REGISTRY/t/par:v1")" = "$(digest_of "$REGISTRY/t/seq:v1")"
out=$("$SLIPWAY" build --max-parallelism 0 "$ctx" 2>&1); rc=$?
check "--max-parallelism 0 is refused" bash -c '[ '$rc' -ne 0 ] && grep -q "max-parallelism" <<<"$1"' _ "$out"

# two platforms at once equal each built alone
ctx=$dir/ctx2; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM --platform=\$BUILDPLATFORM $REGISTRY/base/busybox:latest AS tool
ARG TARGETARCH
RUN echo "for \$TARGETARCH" > /note
FROM $REGISTRY/base/busybox:latest
COPY --from=tool /note /note
RUN uname -m > /arch && sleep 1
DF
check "amd64 alone" "$SLIPWAY" build -q --state-dir "$state" --platform linux/amd64 -t "$REGISTRY/t/one:amd64" --push "$ctx"
check "arm64 alone" "$SLIPWAY" build -q --state-dir "$state" --platform linux/arm64 -t "$REGISTRY/t/one:arm64" --push "$ctx"
t0=$(now)
timeout 120 "$SLIPWAY" build --no-cache --progress=rawjson --state-dir "$state" --platform linux/amd64,linux/arm64 -t "$REGISTRY/t/two:v1" --push "$ctx" 2>"$dir/raw2.json"; rc=$?
check "both platforms at once" test $rc -eq 0
ix=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/t/two:v1")
check "the index's amd64 manifest is the one built alone" test "$(jq -r '.manifests[]|select(.platform.architecture=="amd64").digest' <<<"$ix")" = "sha256:$(digest_of "$REGISTRY/t/one:amd64")"
check "the index's arm64 manifest is the one built alone" test "$(jq -r '.manifests[]|select(.platform.architecture=="arm64").digest' <<<"$ix")" = "sha256:$(digest_of "$REGISTRY/t/one:arm64")"
check "a second two-platform build gives the same index" bash -c '"$1" build -q --state-dir "$2" --platform linux/amd64,linux/arm64 -t "$3/t/two:v2" --push "$4" && [ "$(skopeo inspect --tls-verify=false --raw docker://$3/t/two:v2 | sha256sum)" = "$(skopeo inspect --tls-verify=false --raw docker://$3/t/two:v1 | sha256sum)" ]' _ "$SLIPWAY" "$state" "$REGISTRY" "$ctx"
read -r ys ye < <(python3 - "$dir/raw2.json" <<'PY'
import json, sys
s = {}; e = {}
for line in open(sys.argv[1]):
    try: ev = json.loads(line)
    except ValueError: continue
    n = ev.get("name", "")
    if ev.get("kind") == "start" and "RUN uname" in n: s[ev["id"]] = (n, ev["time"])
    if ev.get("kind") == "done" and ev["id"] in s: e[ev["id"]] = ev["time"]
ids = sorted(s)
print(*[f"{s[i][1]} {e[i]}" for i in ids])
PY
)
check "rawjson times: the platforms' RUN steps overlapped" bash -c 'set -- $1; [ $# -eq 4 ] && (( $(echo "$1 < $4 && $3 < $2" | bc) ))' _ "$ys $ye"
check "the progress names each platform's step" bash -c 'grep -q "\[linux/arm64 stage-1 3/3\] RUN uname" "$1" && grep -q "\[linux/amd64 stage-1 3/3\] RUN uname" "$1"' _ "$dir/raw2.json"

# a failing stage stops a sleeping sibling at once; the error is the failure's, no tag moves
ctx=$dir/ctx3; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest AS slow
RUN sleep 43 && echo never > /n
FROM $REGISTRY/base/busybox:latest AS bad
RUN sleep 0.5 && echo compiler says no && exit 7
FROM $REGISTRY/base/busybox:latest
COPY --from=slow /n /n
COPY --from=bad /n /m
DF
"$SLIPWAY" build -q --state-dir "$state" -t "$REGISTRY/t/keep:v1" --push "$dir/ctx1" >/dev/null 2>&1
before=$(digest_of "$REGISTRY/t/keep:v1")
t0=$(now)
out=$(timeout 60 "$SLIPWAY" build --progress=plain --state-dir "$state" -t "$REGISTRY/t/keep:v1" --push "$ctx" 2>&1); rc=$?
t1=$(now)
check "the failing build fails" test $rc -ne 0 -a $rc -ne 124
check "it failed quickly: the sleeping sibling was stopped ($(echo "$t1 - $t0" | bc) s)" bash -c '(( $(echo "'"$t1"' - '"$t0"' < 8" | bc) ))'
check "the error names the first failure" bash -c 'grep -q "exit code: 7" <<<"$1" && ! grep -q "^slipway: cancelled" <<<"$1"' _ "$out"
check "the error repeats the step's last output" bash -c 'grep -q "^compiler says no" <<<"$1"' _ "$out"
check "no tag moved" test "$(digest_of "$REGISTRY/t/keep:v1")" = "$before"
check "no sleep left running" eventually 10 no_procs "sleep 43"
check "nothing left mounted" test "$(grep -c "$dir" /proc/self/mountinfo)" -eq 0

# a platform exports (and runs its smoke tests) as soon as its own stages are done, while
# the others still build; a later failure of another platform stops its smoke test too
ctx=$dir/ctx4; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
RUN if [ "\$(uname -m)" = aarch64 ]; then sleep 6; echo arm64 says no; exit 9; fi
DF
t0=$(now)
out=$(timeout 120 "$SLIPWAY" build --progress=plain --state-dir "$state" --platform linux/amd64,linux/arm64 \
      -t "$REGISTRY/t/keep:v1" --push --smoke 'sleep 47' "$ctx" 2>&1); rc=$?
t1=$(now)
check "a platform's failure fails the two-platform build" test $rc -ne 0 -a $rc -ne 124
check "the other platform's smoke test ran while it built" grep -q "smoke test (linux/amd64): sleep 47" <<<"$out"
check "and was stopped: the build failed well before the smoke test's 47 s ($(echo "$t1 - $t0" | bc) s)" \
  bash -c '(( $(echo "'"$t1"' - '"$t0"' < 30" | bc) ))'
check "the error is the failing platform's" bash -c 'grep -q "exit code: 9" <<<"$1" && grep -q "^arm64 says no" <<<"$1"' _ "$out"
check "no tag moved by the failed two-platform build" test "$(digest_of "$REGISTRY/t/keep:v1")" = "$before"
check "no smoke test left running" eventually 10 no_procs "sleep 47"
check "nothing left mounted after it" test "$(grep -c "$dir" /proc/self/mountinfo)" -eq 0
