#!/usr/bin/env bash
# The sandbox under `slipway build`: USER and WORKDIR from the Dockerfile, a build killed
# mid-RUN (SIGTERM, SIGKILL) leaves no mount, and the next build cleans what it left.
. tests/lib.sh

T=$(scratch_dir)
start_registry "$T/reg" >/dev/null || { fail "registry starts"; exit 0; }
ARCHS=amd64 bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null \
  || { fail "base image pushed"; exit 0; }
build() { "$SLIPWAY" build --state-dir "$T/state" --insecure-registry "$REGISTRY" --progress plain "$@"; }
mkdir -p "$T/ctx"

# docker's answers for this Dockerfile on the busybox base (root, nobody in /etc/passwd)
cat > "$T/ctx/Dockerfile" <<EOF2
FROM $REGISTRY/base/busybox:latest
RUN echo "A \$(id -u):\$(id -g):\$(pwd)"
USER nobody
RUN echo "B \$(id -u):\$(id -g):\$(pwd):\$HOME"
USER 1234
WORKDIR /app/src
RUN echo "C \$(id -u):\$(id -g):\$(pwd)"
USER 1234:5678
WORKDIR rel
RUN echo "D \$(id -u):\$(id -g):\$(pwd)"
EOF2
out=$(build -t "$REGISTRY/t/user:1" --push "$T/ctx" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'A 0:0:/$' <<<"$out" && grep -q 'B 65534:65534:/:/nonexistent$' <<<"$out" \
   && grep -q 'C 1234:0:/app/src$' <<<"$out" && grep -q 'D 1234:5678:/app/src/rel$' <<<"$out"; then
  pass "USER and WORKDIR in a Dockerfile give docker's uid, gid, HOME and paths"
else fail "USER and WORKDIR in a Dockerfile" "rc=$rc $(grep -E '^#[0-9]+ [0-9.]+ [A-D] |error|slipway:' <<<"$out" | head -8)"; fi

marker=sw-build-$$-$RANDOM
printf 'FROM %s/base/busybox:latest\nRUN echo one > /one\nRUN echo started; sleep 300; echo %s\n' "$REGISTRY" "$marker" > "$T/ctx/Dockerfile"
for sig in TERM KILL; do
  rm -f "$T/out"
  # slipway itself in the background (not a function: $! must be slipway's pid)
  "$SLIPWAY" build --state-dir "$T/state" --insecure-registry "$REGISTRY" --progress plain \
    -t "$REGISTRY/t/cancel:1" --push "$T/ctx" > "$T/out" 2>&1 &
  pid=$!
  for _ in $(seq 400); do grep -q started "$T/out" 2>/dev/null && break; sleep 0.05; done
  kill -"$sig" "$pid"; wait "$pid" 2>/dev/null; rc=$?
  eventually 10 no_procs "$marker"
  # no process of the step is left, so no mount namespace of it is either; and nothing
  # was ever mounted in ours
  left=$(count_procs "$marker")
  host=$(grep -c "$T" /proc/self/mountinfo)
  sessions=$(find "$T/state/runs" -mindepth 1 -maxdepth 1 | wc -l)
  if [ $rc -ne 0 ] && [ "$left" = 0 ] && [ "$host" = 0 ] && grep -q started "$T/out"; then
    pass "a build killed by SIG$sig mid-RUN fails and leaves no process and no mount"
  else fail "a build killed by SIG$sig mid-RUN" "rc=$rc step processes left: $left, host mounts: $host"; fi
  if [ "$sig" = TERM ]; then
    if [ "$sessions" = 0 ] && grep -q cancelled "$T/out"; then pass "SIGTERM: the build removes its state and says cancelled"
    else fail "SIGTERM: the build removes its state" "sessions=$sessions $(tail -2 "$T/out")"; fi
  else
    if [ "$sessions" = 1 ]; then pass "SIGKILL: the dead build's state is left"
    else fail "SIGKILL: the dead build's state is left" "sessions=$sessions"; fi
  fi
done
printf 'FROM %s/base/busybox:latest\nRUN true\n' "$REGISTRY" > "$T/ctx/Dockerfile"
out=$(build -t "$REGISTRY/t/next:1" --push "$T/ctx" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$(find "$T/state/runs" -mindepth 1)" ]; then pass "the next build cleans the killed build's state"
else fail "the next build cleans the killed build's state" "rc=$rc $(ls "$T/state/runs")"; fi
