#!/usr/bin/env bash
# libslipway as a runner uses it: sw_build_cancel() stops one build of a process, from a
# signal handler, and leaves the others running; the cancelled one publishes nothing,
# leaves no process, no mount and no scratch.  A failure's category tells a failed step,
# a typo and an outage apart.
. tests/lib.sh
BUILD=${BUILD:-build}
tool=$TOP/$BUILD/tools/cancel_build
[ -x "$tool" ] || { fail "cancel_build tool built" "$tool missing (make unit)"; exit 0; }
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0

mkdir -p "$dir/a" "$dir/b"
printf 'FROM %s/base/busybox:latest\nRUN echo started; sleep 30 # cancel-marker-a\nRUN touch /never\n' "$REGISTRY" > "$dir/a/Dockerfile"
printf 'FROM %s/base/busybox:latest\nRUN sleep 3 # cancel-marker-b\n' "$REGISTRY" > "$dir/b/Dockerfile"
out=$(timeout 60 "$tool" "$dir/a" "$dir/state-a" "$REGISTRY/t/cancelled:v1" "$dir/b" "$dir/state-b" 2>&1); rc=$?
echo "$out" | grep -E '^(A|B) '
check "sw_build_cancel from a signal handler: that build fails as cancelled within seconds, the other succeeds" test $rc -eq 0
check "the cancelled build's error is ECANCELED and says cancelled" bash -c 'grep -q "^A rc=-1 category=5 errno=125 .*cancelled" <<<"$1"' _ "$out"
check "no step process left" eventually 10 no_procs cancel-marker
check "no mount left" test "$(grep -c "$dir" /proc/self/mountinfo)" = 0
check "the cancelled build published no tag" bash -c '! skopeo inspect --tls-verify=false "docker://'"$REGISTRY"'/t/cancelled:v1" >/dev/null 2>&1'
check "the cancelled build left no scratch" bash -c '[ -z "$(ls -A "'"$dir"'/state-a/runs" 2>/dev/null)" ]'

# the error's category through the whole engine (examples/runner prints it): a failing
# step, a typo in the Dockerfile, a base image on a registry nobody listens on
runner=$TOP/$BUILD/examples/runner
mkdir -p "$dir/step" "$dir/typo" "$dir/down"
printf 'FROM %s/base/busybox:latest\nRUN exit 3\n' "$REGISTRY" > "$dir/step/Dockerfile"
printf 'FROM %s/base/busybox:latest\nRUNN true\n' "$REGISTRY" > "$dir/typo/Dockerfile"
printf 'FROM 127.0.0.1:%s/base/busybox:latest\nRUN true\n' "$(free_port)" > "$dir/down/Dockerfile"
export SLIPWAY_STATE_DIR=$dir/state-c SLIPWAY_RETRY_ATTEMPTS=1
out=$(timeout 120 "$runner" "$dir/step" 2>&1)
check "a failing RUN is SW_ERR_STEP" bash -c 'grep -q "exit code: 3" <<<"$1" && grep -q "\[a step failed\]" <<<"$1"' _ "$out"
out=$(timeout 120 "$runner" "$dir/typo" 2>&1)
check "an unknown instruction is SW_ERR_INPUT" bash -c 'grep -q "\[fix the Dockerfile or the options\]" <<<"$1"' _ "$out"
out=$(timeout 120 "$runner" "$dir/down" 2>&1)
check "an unreachable base registry is SW_ERR_REGISTRY" bash -c 'grep -q "\[registry trouble: worth a retry\]" <<<"$1"' _ "$out"
unset SLIPWAY_STATE_DIR SLIPWAY_RETRY_ATTEMPTS
