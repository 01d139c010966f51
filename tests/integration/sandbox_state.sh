#!/usr/bin/env bash
# Cancellation and the state dir: SIGTERM/SIGINT/SIGKILL mid-RUN leave no mount and no
# process; the next run cleans what a SIGKILLed one left; prune; the size bound.
. tests/lib.sh

T=$(scratch_dir)
ST=$T/state
bash tests/fixtures/busybox-rootfs.sh "$T/rootfs"
R=$T/rootfs
mkdir -p "$T/up"

marker=sw-sleep-$$-$RANDOM

for sig in TERM INT KILL; do
  rm -rf "$T/up"; mkdir "$T/up"
  rm -f "$T/out"; "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --upper "$T/up" -- /bin/sh -c "echo started; sleep 300; echo $marker" >"$T/out" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q started "$T/out" 2>/dev/null && break; sleep 0.05; done
  kill -"$sig" "$pid"; wait "$pid" 2>/dev/null; rc=$?
  eventually 10 no_procs "$marker"
  left_procs=$(count_procs "$marker")
  # no process of the step left means no mount namespace of it left; and nothing is ever
  # mounted in ours
  left_mounts=$(grep -c "$T" /proc/self/mountinfo)
  sessions=$(ls "$ST/runs" | wc -l)
  if [ "$rc" -ne 0 ] && [ "$left_procs" = 0 ] && [ "$left_mounts" = 0 ]; then
    pass "SIG$sig mid-RUN: slipway fails, the step's processes and mounts are gone"
  else fail "SIG$sig mid-RUN" "rc=$rc procs=$left_procs host mounts: $left_mounts"; fi
  if [ "$sig" = KILL ]; then
    if [ "$sessions" = 1 ]; then pass "a SIGKILLed run leaves its session behind"
    else fail "a SIGKILLed run leaves its session behind" "sessions: $sessions"; fi
    "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" -- true
    if [ "$(ls "$ST/runs" | wc -l)" = 0 ]; then pass "the next run cleans the dead run's state"
    else fail "the next run cleans the dead run's state" "$(ls "$ST/runs")"; fi
  else
    if [ "$sessions" = 0 ] && grep -q cancelled "$T/out"; then pass "SIG$sig: the step's state is removed"
    else fail "SIG$sig: the step's state is removed" "sessions=$sessions $(cat "$T/out")"; fi
  fi
done

# prune: empties caches and refuses while a build runs
"$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --mount type=cache,id=p,target=/c -- /bin/sh -c 'head -c 100000 /dev/urandom > /c/blob' >/dev/null 2>&1
rm -f "$T/out"; "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" -- /bin/sh -c "echo started; sleep 300; echo $marker" >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q started "$T/out" 2>/dev/null && break; sleep 0.05; done
out=$("$SLIPWAY" prune --state-dir "$ST" 2>&1); rc=$?
kill -TERM "$pid"; wait "$pid"
if [ $rc -ne 0 ] && grep -q 'in use by a running build' <<<"$out" && [ -n "$(ls "$ST/cache")" ]; then
  pass "prune refuses while a build uses the state dir"
else fail "prune refuses while a build uses the state dir" "rc=$rc $out"; fi
out=$("$SLIPWAY" prune --state-dir "$ST" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q 'Total reclaimed space' <<<"$out" && [ -z "$(find "$ST/cache" "$ST/layers" "$ST/runs" -mindepth 1)" ]; then
  pass "prune empties caches, layers and dead runs"
else fail "prune empties caches, layers and dead runs" "rc=$rc $out $(ls -R "$ST" | head)"; fi

# the size bound from STATE/config: least recently used caches go first
"$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --mount type=cache,id=old,target=/c -- /bin/sh -c 'head -c 300000 /dev/urandom > /c/blob' >/dev/null 2>&1
sleep 1.1
"$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --mount type=cache,id=new,target=/c -- /bin/sh -c 'head -c 300000 /dev/urandom > /c/blob' >/dev/null 2>&1
echo "max-size = 500K" > "$ST/config"
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --mount type=cache,id=old,target=/old --mount type=cache,id=new,target=/new \
      -- /bin/sh -c 'ls /old | wc -l; ls /new | wc -l' 2>&1)
if [ "$out" = "$(printf '0\n1')" ]; then pass "over the configured max-size, the least recently used cache is dropped"
else fail "the size bound drops the least recently used cache" "$out"; fi
echo "max-size = lots" > "$ST/config"
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" -- true 2>&1)
if grep -q 'bad max-size "lots"' <<<"$out"; then pass "a bad max-size is reported with its file and line"
else fail "a bad max-size is reported" "$out"; fi
rm -f "$ST/config"
