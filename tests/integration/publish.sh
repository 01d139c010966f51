#!/usr/bin/env bash
# Tags moved together (registry/publish.h): several -t, in several repositories of one
# registry; the tags automation watches written last; a tag write that fails part-way puts
# the tags already moved back where they were.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
digest_of() { skopeo inspect --tls-verify=false --raw "docker://$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }
exists() { skopeo inspect --tls-verify=false --raw "docker://$1" >/dev/null 2>&1; }

ctx=$dir/ctx; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo one > /v\n' "$REGISTRY" > "$ctx/Dockerfile"

# through a recording proxy: the order of the tag writes
start_fault_proxy "$REGISTRY" log@all || { fail "proxy starts"; exit 0; }
R=$PROXY
check "build --push with tags in two repositories" \
  "$SLIPWAY" build --progress=plain --state-dir "$state" -t "$R/p/app:1.2.3" -t "$R/p/app:latest" \
  -t "$R/p/other:20240501" -t "$R/p/other:main" --push "$ctx"
d=$(digest_of "$REGISTRY/p/app:latest")
check "every tag names the image" bash -c '[ -n "$1" ] && for t in app:1.2.3 other:20240501 other:main; do
  [ "$(skopeo inspect --tls-verify=false --raw "docker://'"$REGISTRY"'/p/$t" | sha256sum | cut -d" " -f1)" = "$1" ] || exit 1; done' _ "$d"
order=$(grep -oE "request PUT /v2/p/[a-z]+/manifests/[^s][^ ]*" "$PROXY_LOG" | sed 's|.*/v2/p/||; s|/manifests/|:|' | tr '\n' ' ')
check "moving tags first, versioned tags last (saw: $order)" test "$order" = "app:latest other:main app:1.2.3 other:20240501 "
check "the second repository got the image by digest before any tag" \
  bash -c 'awk "/PUT \/v2\/p\/other\/manifests\/sha256:/{m=NR} /PUT \/v2\/p\/[a-z]+\/manifests\/[^s]/{if(!t)t=NR} END{exit !(m && m<t)}" "$1"' _ "$PROXY_LOG"
check "the second repository's blobs were mounted, not uploaded again" \
  bash -c 'grep -q "request POST /v2/p/other/blobs/uploads/?mount=" "$1" && ! grep -q "request PATCH /v2/p/other/" "$1"' _ "$PROXY_LOG"

# the third tag write fails for good: the first tag goes back, the new one is deleted or named
start_fault_proxy "$REGISTRY" tag500@3 || { fail "fault proxy starts"; exit 0; }
F=$PROXY
printf 'FROM %s/base/busybox:latest\nRUN echo two > /v\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(SLIPWAY_RETRY_ATTEMPTS=2 "$SLIPWAY" build --progress=plain --state-dir "$state" -t "$F/p/app:latest" \
      -t "$F/p/app:1.2.4" -t "$F/p/app:fresh" --push "$ctx" 2>&1); rc=$?
check "a failed tag write fails the build" test $rc -ne 0
check "the moved tag is back where it was" test "$(digest_of "$REGISTRY/p/app:latest")" = "$d"
check "the failed tag was not created" bash -c '! skopeo inspect --tls-verify=false --raw "docker://'"$REGISTRY"'/p/app:1.2.4" >/dev/null 2>&1'
check "the error names every tag and where it points" bash -c 'grep -q "p/app:latest: put back at sha256:$2" <<<"$1" && grep -q "p/app:1.2.4: does not exist" <<<"$1"' _ "$out" "$d"
# writes go latest, fresh, 1.2.4 (versioned last): 'fresh' did not exist, so it was removed,
# or — where the registry refuses DELETE by tag — named as still pointing at the new image
if exists "$REGISTRY/p/app:fresh"; then
  check "a new tag the registry would not delete is named in the error" grep -q "p/app:fresh: STILL AT THE NEW" <<<"$out"
else
  check "a new tag is deleted again" grep -q "p/app:fresh: removed again" <<<"$out"
fi

# smoke tests: in the built image (env, user, workdir, no network), before any tag moves
printf 'FROM %s/base/busybox:latest\nENV GREET=hi\nWORKDIR /w\nRUN echo ok > /w/f\nUSER nobody\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$("$SLIPWAY" build --progress=plain --state-dir "$state" -t "$REGISTRY/sm/ok:1" --push \
      --smoke 'echo "$GREET $(pwd) $(id -u) $(cat f)"' --smoke 'ip link 2>/dev/null | grep -c "^[0-9]" || cat /proc/net/dev | grep -c :' "$ctx" 2>&1); rc=$?
check "build --smoke: passing smoke tests, then the tag" bash -c '[ $1 -eq 0 ] && skopeo inspect --tls-verify=false "docker://$2/sm/ok:1" >/dev/null 2>&1' _ $rc "$REGISTRY"
check "build --smoke runs with the image's env, workdir and user" grep -q "hi /w 65534 ok" <<<"$out"
check "build --smoke has no network but lo" bash -c 'grep -A3 "smoke test.*proc/net/dev" <<<"$1" | grep -qE "#[0-9]+ [0-9.]+ 1$"' _ "$out"
out=$("$SLIPWAY" build --progress=plain --state-dir "$state" -t "$REGISTRY/sm/bad:1" --push --smoke 'echo visible-output; exit 4' "$ctx" 2>&1); rc=$?
check "build --smoke: a failing command fails the build, output shown" bash -c '[ $1 -ne 0 ] && grep -q visible-output <<<"$2" && grep -q "exit code: 4" <<<"$2"' _ $rc "$out"
check "build --smoke: a failing command moves no tag" bash -c '! skopeo inspect --tls-verify=false "docker://$1/sm/bad:1" >/dev/null 2>&1' _ "$REGISTRY"
start=$(date +%s)
out=$("$SLIPWAY" build --progress=plain --state-dir "$state" -t "$REGISTRY/sm/slow:1" --push --smoke 'sleep 67; echo publish-smoke-slow' --smoke-timeout 2 "$ctx" 2>&1); rc=$?
check "build --smoke-timeout stops a command and fails the build" bash -c '[ $1 -ne 0 ] && [ $(( $(date +%s) - $2 )) -lt 40 ] && grep -q "did not finish in 2 s" <<<"$3"' _ $rc "$start" "$out"
check "build --smoke-timeout: no tag" bash -c '! skopeo inspect --tls-verify=false "docker://$1/sm/slow:1" >/dev/null 2>&1' _ "$REGISTRY"
# the shell and its sleep, by marks of this test alone (a bare "sleep 60" may be another test's)
no_smoke_procs() { no_procs publish-smoke-slow && no_procs "sleep 67"; }
check "no sandbox process left" eventually 10 no_smoke_procs
