#!/usr/bin/env bash
# Emulation: native runs never touch binfmt_misc or QEMU; arm64 runs see aarch64 and leave
# the host's binfmt_misc as they found it (private instance, existing entry, or a
# temporary host entry removed on exit and when killed); the missing-QEMU error; the
# busybox push fixture.  Uses `slipway debug emu run` (sandbox/debug.c: the build sandbox with
# the emulation options of a build) and `slipway debug run --platform`.  The temporary-host-entry checks run
# against a stand-in binfmt_misc in their own user namespace where the kernel allows it
# (SW_EMU_REAL_HOST=1: against the real one), so concurrent test runs never see our entries.
. tests/lib.sh
export SLIPWAY
set -m # background jobs keep SIGINT (bash ignores it for them without job control)

BM=/proc/sys/fs/binfmt_misc

# Every entry's name and content, and the global status.  Other worktrees run this same
# script at the same time: a temporary entry of another live slipway process
# (slipway-ARCH-PID-N) is theirs and not counted; one whose process is gone is a leak and is.
binfmt_state() {
  local f n pid
  for f in "$BM"/*; do
    n=$(basename "$f")
    [ "$n" = register ] && continue
    if [[ $n =~ ^slipway-.*-([0-9]+)-[0-9]+$ ]]; then
      pid=${BASH_REMATCH[1]}
      [ -d "/proc/$pid" ] && [ "$pid" != "${job:-}" ] && continue
    fi
    echo "== $n"; cat "$f" 2>/dev/null
  done
}
ours() { ls "$BM" | grep '^slipway-' || true; }
# LeakSanitizer cannot run under ptrace: off for the traced runs of an ASan build
nolsan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
# -- a temporary entry "on the host": registered, used, removed — also when killed ------------
# Other worktrees run their tests on this machine at the same time and compare binfmt_misc
# before and after; an entry of ours appearing there would fail them.  So where the kernel
# has per-user-namespace instances, this section runs in a user and mount namespace of its
# own with a fresh binfmt_misc on /proc/sys/fs/binfmt_misc: slipway's host mode runs its
# real code path (register with PF, reaper, removal) against that instance, which stands in
# for the host.  SW_EMU_REAL_HOST=1 runs it against the real host instead.  (Defined here,
# before any check, because the stand-in run re-enters this script for this section only.)
host_section() {
  local where=$1 out before seen sig
  before=$(binfmt_state)
  out=$("$SLIPWAY" debug emu run --platform "$foreign" --binfmt host "$foreign_rootfs" uname -m 2>"$work/err")
  if [ "$out" = "$want_m" ] && grep -q "emulation: $foreign: host" "$work/err"; then
    pass "emulated (host, $where): uname -m = $want_m"
  else
    fail "emulated (host, $where): uname -m = $want_m" "got '$out': $(cat "$work/err")"
  fi
  out=$("$SLIPWAY" debug emu run --platform "$foreign" --binfmt host "$foreign_rootfs" sh -c 'cat /etc/group | head -1' 2>&1)
  if grep -qx 'root:x:0:' <<<"$out"; then pass "emulated (host, $where): busybox applets keep their argv[0]"
  else fail "emulated (host, $where): busybox applets keep their argv[0]" "$out"; fi
  [ "$(binfmt_state)" = "$before" ] && pass "emulated (host, $where): binfmt_misc exactly as found afterwards" \
    || fail "emulated (host, $where): binfmt_misc exactly as found afterwards" "$(diff <(echo "$before") <(binfmt_state) | head -5)"

  # a duration no other run uses, so the leftover-process check below sees only ours
  local nap=$((1000 + $$ % 9000))
  for sig in TERM INT KILL; do
    before=$(binfmt_state)
    "$SLIPWAY" debug emu run --platform "$foreign" --binfmt host "$foreign_rootfs" sleep $nap >/dev/null 2>&1 &
    job=$!
    on_exit "kill -KILL $job 2>/dev/null"
    seen=
    for _ in $(seq 1 100); do ls "$BM" | grep -q "^slipway-.*-$job-" && { seen=1; break; }; sleep 0.05; done
    kill -$sig $job 2>/dev/null
    wait $job 2>/dev/null
    for _ in $(seq 1 100); do ls "$BM" | grep -q "^slipway-.*-$job-" || break; sleep 0.05; done
    if [ -z "$seen" ]; then
      fail "host entry removed after SIG$sig ($where)" "the entry never appeared"
    elif [ "$(binfmt_state)" = "$before" ]; then
      pass "host entry removed after SIG$sig during an emulated run ($where)"
    else
      fail "host entry removed after SIG$sig ($where)" "$(ours)"
    fi
  done
  local left=
  for _ in $(seq 1 40); do left=$(pgrep -af "qemu-.*sleep $nap\$" || true); [ -z "$left" ] && break; sleep 0.05; done
  [ -z "$left" ] && pass "no emulated process outlives a killed run ($where)" \
    || fail "no emulated process outlives a killed run ($where)" "$left"

  before=$(binfmt_state)
  if "$SLIPWAY" debug emu run --platform "$foreign" --binfmt host --qemu-path "$work/none:$work/nothing" \
       "$foreign_rootfs" true 2>"$work/err"; then
    fail "missing QEMU (host, $where) is an error" "it succeeded"
  else
    local q=qemu-$want_m-static
    if grep -q "platform $foreign" "$work/err" && grep -q "$q" "$work/err" && grep -q "$work/nothing" "$work/err" \
       && grep -q 'apt-get install qemu-user-static' "$work/err"; then
      pass "missing QEMU (host, $where): error names the platform, $q, the search path and apt-get"
    else
      fail "missing QEMU (host, $where): error text" "$(cat "$work/err")"
    fi
  fi
  [ "$(binfmt_state)" = "$before" ] && pass "missing QEMU (host, $where): binfmt_misc untouched" \
    || fail "missing QEMU (host, $where): binfmt_misc untouched"
}

if [ "${1:-}" = --host-section ]; then
  # inside the stand-in namespace (see below), with work, foreign… from the outer run
  host_section "$2"
  exit 0
fi

work=$(scratch_dir)
amd=$work/amd64 arm=$work/arm64
bash tests/fixtures/busybox-rootfs.sh "$amd" amd64
bash tests/fixtures/busybox-rootfs.sh "$arm" arm64

kver=$(uname -r)
private_ok=; [ "$("$SLIPWAY" debug emu probe)" = "private binfmt_misc: yes" ] && private_ok=yes
host_ok=; [ -e "$BM/register" ] && host_ok=yes   # the host's binfmt_misc is mounted

# -- decisions ---------------------------------------------------------------------------
check "host platform is linux/amd64 or linux/arm64" bash -c '"$SLIPWAY" debug emu host | grep -qxE "linux/(amd64|arm64)"'
host=$("$SLIPWAY" debug emu host)
foreign=linux/arm64; want_m=aarch64; native_rootfs=$amd; foreign_rootfs=$arm
if [ "$host" = linux/arm64 ]; then foreign=linux/amd64; want_m=x86_64; native_rootfs=$arm; foreign_rootfs=$amd; fi
check "decide: $foreign with RUN is emulated" bash -c "[ \"\$(\"\$SLIPWAY\" debug emu decide $foreign)\" = '$foreign emulated' ]"
check "decide: $foreign without RUN is native" bash -c "[ \"\$(\"\$SLIPWAY\" debug emu decide $foreign --no-run)\" = '$foreign native' ]"
check "decide: the host's platform is native" bash -c "[ \"\$(\"\$SLIPWAY\" debug emu decide $host)\" = '$host native' ]"

# -- native: binfmt_misc untouched, QEMU never looked for --------------------------------
before=$(binfmt_state)
out=$("$SLIPWAY" debug emu run "$native_rootfs" uname -m 2>"$work/err")
if [ "$out" = "$(uname -m)" ]; then pass "native run works"; else fail "native run works" "got '$out': $(cat "$work/err")"; fi
[ "$(binfmt_state)" = "$before" ] && pass "native run: binfmt_misc exactly as found" || fail "native run: binfmt_misc exactly as found"
if command -v strace >/dev/null; then
  ASAN_OPTIONS=$nolsan strace -f -qq -e trace=%file,execve -o "$work/native.trace" "$SLIPWAY" debug emu run "$native_rootfs" true 2>/dev/null
  if [ -s "$work/native.trace" ] && ! grep -qE 'binfmt_misc|qemu' "$work/native.trace"; then
    pass "native run: no file access to binfmt_misc or QEMU (strace)"
  else
    fail "native run: no file access to binfmt_misc or QEMU (strace)" "$(grep -E 'binfmt_misc|qemu' "$work/native.trace" | head -3)"
  fi
  # the control: the same trace of an emulated run does show them, so the check above can fail
  ASAN_OPTIONS=$nolsan strace -f -qq -e trace=%file,execve -o "$work/foreign.trace" "$SLIPWAY" debug emu run --platform "$foreign" "$foreign_rootfs" true 2>/dev/null
  grep -q binfmt_misc "$work/foreign.trace" && pass "strace control: an emulated run does touch binfmt_misc" \
    || fail "strace control: an emulated run does touch binfmt_misc"
else
  skip "native run: strace" "strace not installed"
fi

# -- emulated: every way, host left as found ---------------------------------------------
before=$(binfmt_state)
for mode in auto private existing; do
  if [ "$mode" = private ] && [ -z "$private_ok" ]; then skip "emulated ($mode)" "no private binfmt_misc (kernel $kver)"; continue; fi
  if [ "$mode" = existing ] && ! grep -qs '^flags: .*F' "$BM"/* ; then
    # No registration on this host: make one, as a distribution's qemu-user-binfmt would,
    # for this check alone (and remove it afterwards).
    mounted_bm=
    if [ ! -e "$BM/register" ] && mount -t binfmt_misc binfmt_misc "$BM" 2>/dev/null; then
      mounted_bm=yes   # for this check alone: the machine did not have it mounted
      on_exit "umount '$BM' 2>/dev/null"
    fi
    if [ "$foreign" = linux/arm64 ] && [ -e "$BM/register" ] && [ -x /usr/bin/qemu-aarch64-static ]; then
      printf '%s' ':qemu-aarch64-testhost:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:PF' > "$BM/register"
      on_exit "[ -e '$BM/qemu-aarch64-testhost' ] && echo -1 > '$BM/qemu-aarch64-testhost'"
      made_host_entry=yes
    else
      skip "emulated ($mode)" "no host registration, and none can be made here"; continue
    fi
  fi
  out=$("$SLIPWAY" debug emu run --platform "$foreign" --binfmt $mode "$foreign_rootfs" uname -m 2>"$work/err")
  if [ "$out" = "$want_m" ] && grep -q "emulation: $foreign: " "$work/err"; then
    pass "emulated ($mode, $(sed -n 's/.*: \([a-z]*\), interpreter.*/\1/p' "$work/err")): uname -m = $want_m"
  else
    fail "emulated ($mode): uname -m = $want_m" "got '$out': $(cat "$work/err")"
  fi
  if [ "$mode" != existing ]; then
    # busybox runs applets by exec of /proc/self/exe with argv[0] = the applet: needs the P flag
    out=$("$SLIPWAY" debug emu run --platform "$foreign" --binfmt $mode "$foreign_rootfs" sh -c 'cat /etc/group | head -1' 2>&1)
    if grep -qx 'root:x:0:' <<<"$out"; then pass "emulated ($mode): busybox applets keep their argv[0]"
    else fail "emulated ($mode): busybox applets keep their argv[0]" "$out"; fi
  fi
  if [ "$mode" = existing ] && [ -n "${made_host_entry:-}" ]; then
    [ -e "$BM/qemu-aarch64-testhost" ] && pass "emulated ($mode): the existing entry was used and left in place" \
      || fail "emulated ($mode): the existing entry was used and left in place"
    echo -1 > "$BM/qemu-aarch64-testhost"
    [ -n "$mounted_bm" ] && umount "$BM"
  fi
  [ "$(binfmt_state)" = "$before" ] && pass "emulated ($mode): binfmt_misc exactly as found afterwards" \
    || fail "emulated ($mode): binfmt_misc exactly as found afterwards" "$(diff <(echo "$before") <(binfmt_state) | head -5)"
done

# -- private instance: the host's entries are not seen, ours is not on the host -----------
if [ -n "$private_ok" ]; then
  before=$(binfmt_state)
  "$SLIPWAY" debug emu run --platform "$foreign" --binfmt private "$foreign_rootfs" \
    sh -c 'echo $(ls /proc/sys/fs/binfmt_misc); /bin/cat /proc/sys/fs/binfmt_misc/slipway-*' >"$work/inside" 2>"$work/err"
  if [ "$(head -1 "$work/inside")" = "register slipway-$want_m status" ] && grep -q '^interpreter /proc/self/fd/' "$work/inside"; then
    pass "private instance: only slipway's entry inside, QEMU pinned through an fd"
  else
    fail "private instance: only slipway's entry inside" "$(head -3 "$work/inside" | tr '\n' ' ') $(cat "$work/err")"
  fi
  [ "$(binfmt_state)" = "$before" ] && pass "private instance: no entry on the host" \
    || fail "private instance: no entry on the host" "$(diff <(echo "$before") <(binfmt_state) | head -5)"
else
  skip "private instance" "no private binfmt_misc (kernel $kver)"
fi

# -- through the build sandbox: `slipway debug run --platform` ------------------------------
if "$SLIPWAY" debug run --help 2>/dev/null | grep -q -- --platform; then
  before=$(binfmt_state)
  ASAN_OPTIONS=$nolsan strace -f -qq -e trace=%file,execve -o "$work/run-native.trace" \
    "$SLIPWAY" debug run --rootfs "$native_rootfs" -- uname -m >"$work/out" 2>"$work/err"
  if [ "$(cat "$work/out")" = "$(uname -m)" ] && [ -s "$work/run-native.trace" ] \
     && ! grep -qE 'binfmt_misc|qemu' "$work/run-native.trace"; then
    pass "native debug run: no file access to binfmt_misc or QEMU (strace)"
  else
    fail "native debug run: no binfmt_misc/QEMU access" "$(cat "$work/out"; grep -E 'binfmt_misc|qemu' "$work/run-native.trace" | head -3)"
  fi
  mkdir -p "$work/up"
  out=$("$SLIPWAY" debug run --rootfs "$foreign_rootfs" --upper "$work/up" --platform "$foreign" -- \
        sh -c 'uname -m; cat /etc/group | head -1; echo hi > /f; mkdir /d; chown 65534:65534 /d; rm /bin/ls; rm -rf /root; mkdir /root' 2>&1)
  [ "$out" = "$(printf '%s\nroot:x:0:' "$want_m")" ] && pass "emulated RUN in the sandbox: uname -m = $want_m, applets work" \
    || fail "emulated RUN in the sandbox" "$out"
  if [ "$(stat -c '%u:%g' "$work/up/f" "$work/up/d" 2>/dev/null | tr '\n' ' ')" = "0:0 65534:65534 " ] \
     && [ "$(stat -c '%F %t:%T' "$work/up/bin/ls" 2>/dev/null)" = "character special file 0:0" ] \
     && python3 -c 'import os,sys; sys.exit(0 if os.getxattr(sys.argv[1], "trusted.overlay.opaque") == b"y" else 1)' "$work/up/root"; then
    pass "emulated RUN in the sandbox: upper dir as a native one (owners, whiteout, opaque dir)"
  else
    fail "emulated RUN in the sandbox: upper dir" "$(ls -la "$work/up" "$work/up/bin" 2>&1 | head -8)"
  fi
  [ "$(binfmt_state)" = "$before" ] && pass "sandbox runs: binfmt_misc exactly as found" \
    || fail "sandbox runs: binfmt_misc exactly as found" "$(diff <(echo "$before") <(binfmt_state) | head -5)"
else
  skip "emulated RUN in the sandbox" "slipway debug run has no --platform"
fi

# -- the QEMU a step reaches is a sealed copy (private instance) ------------------------------
# The exploit: an emulated step opens another emulated process's /proc/PID/exe (QEMU itself:
# QEMU only hides its own /proc/self/exe), unregisters the entry through its binfmt_misc
# instance, then — as a native binary, so that no process runs QEMU any more — reopens that
# fd for writing and appends.  Each step must fail and the host's QEMU stay byte for byte.
if [ -n "$private_ok" ] && [ "$foreign" = linux/arm64 ]; then
  qdir=$work/qemu; mkdir -p "$qdir"
  cp /usr/bin/qemu-aarch64-static "$qdir/"   # a copy: a failure must not break the machine
  sum=$(sha256sum < "$qdir/qemu-aarch64-static")
  xroot=$work/xroot; cp -a "$arm" "$xroot"
  gcc -static -O2 -o "$xroot/writer" -x c - <<'C' 2>"$work/gcc.log"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main (int argc, char **argv)
{
  int fd = open (argv[1], O_WRONLY | O_APPEND);
  if (fd < 0) { printf ("reopen=%s\n", strerror (errno)); return 1; }
  ssize_t n = write (fd, "x", 1);
  printf ("write=%s\n", n == 1 ? "ok" : strerror (errno));
  return n == 1 ? 0 : 1;
}
C
  out=$(SLIPWAY_QEMU_PATH=$qdir timeout 60 "$SLIPWAY" debug run --state-dir "$work/xstate" --platform linux/arm64 --rootfs "$xroot" -- \
    sh -c 'sleep 30 & p=$!; sleep 0.3; echo "exe=$(readlink /proc/$p/exe)"; exec 3</proc/$p/exe; kill $p; wait
           echo -1 > /proc/sys/fs/binfmt_misc/status; echo "unregister=$?"
           echo ":evil:M::abc::/bin/sh:" > /proc/sys/fs/binfmt_misc/register; echo "register=$?"
           exec /writer /proc/self/fd/3' 2>&1)
  if grep -q 'exe=/memfd:' <<<"$out"; then pass "sealed QEMU: an emulated process's exe is a memfd, not the host's file"
  else fail "sealed QEMU: the exe is a memfd" "$out"; fi
  if grep -q 'unregister=[1-9]' <<<"$out" && grep -q 'register=[1-9]' <<<"$out"; then
    pass "sealed QEMU: the step can neither unregister nor register in its binfmt_misc (read-only)"
  else fail "sealed QEMU: binfmt_misc is read-only for the step" "$out"; fi
  if grep -qE '^(reopen|write)=' <<<"$out" && ! grep -q 'write=ok' <<<"$out"; then
    pass "sealed QEMU: reopening the interpreter for writing fails ($(grep -E '^(reopen|write)=' <<<"$out"))"
  else fail "sealed QEMU: reopening the interpreter for writing fails" "$out"; fi
  [ "$(sha256sum < "$qdir/qemu-aarch64-static")" = "$sum" ] && pass "sealed QEMU: the host's QEMU file is unchanged (sha256)" \
    || fail "sealed QEMU: the host's QEMU file is unchanged" "digest changed"
else
  skip "sealed QEMU" "no private binfmt_misc (kernel $kver) or host not amd64"
fi

# -- no QEMU (private; host: in host_section) -------------------------------------------------
if [ -n "$private_ok" ]; then
  before=$(binfmt_state)
  if "$SLIPWAY" debug emu run --platform "$foreign" --binfmt private --qemu-path "$work/none:$work/nothing" \
       "$foreign_rootfs" true 2>"$work/err"; then
    fail "missing QEMU (private) is an error" "it succeeded"
  else
    q=qemu-$want_m-static
    if grep -q "platform $foreign" "$work/err" && grep -q "$q" "$work/err" && grep -q "$work/nothing" "$work/err" \
       && grep -q 'apt-get install qemu-user-static' "$work/err"; then
      pass "missing QEMU (private): error names the platform, $q, the search path and apt-get"
    else
      fail "missing QEMU (private): error text" "$(cat "$work/err")"
    fi
  fi
  [ "$(binfmt_state)" = "$before" ] && pass "missing QEMU (private): binfmt_misc untouched" || fail "missing QEMU (private): binfmt_misc untouched"
fi

# -- host mode, where it cannot disturb other runs ------------------------------------------------
if [ -n "$private_ok" ] && [ -z "${SW_EMU_REAL_HOST:-}" ]; then
  export SLIPWAY foreign want_m foreign_rootfs work
  before=$(binfmt_state)
  unshare --user --map-root-user --mount --propagation private \
    bash -c 'mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && exec bash "$0" --host-section "a stand-in binfmt_misc"' \
    "$TOP/tests/integration/emu.sh" || fail "host section in its own namespace" "exited $?"
  [ "$(binfmt_state)" = "$before" ] && pass "the real host's binfmt_misc saw none of the stand-in's entries" \
    || fail "the real host's binfmt_misc saw none of the stand-in's entries" "$(diff <(echo "$before") <(binfmt_state) | head -5)"
elif [ -n "$host_ok" ]; then
  host_section "the real host"
else
  skip "emulated (host)" "binfmt_misc not mounted on the host"
fi

# -- the push fixture ---------------------------------------------------------------------------
if start_registry "$work/registry"; then
  if bash tests/fixtures/push-busybox.sh "$REGISTRY" fixture/busybox:t >"$work/digest" 2>"$work/err"; then
    raw=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/fixture/busybox:t")
    plats=$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | join(",")' <<<"$raw")
    [ "$plats" = linux/amd64,linux/arm64 ] && pass "push-busybox: index with linux/amd64 and linux/arm64" \
      || fail "push-busybox: index platforms" "$plats"
    a=$(skopeo inspect --tls-verify=false --override-arch arm64 "docker://$REGISTRY/fixture/busybox:t" | jq -r .Architecture)
    [ "$a" = arm64 ] && pass "push-busybox: skopeo --override-arch arm64 picks arm64" || fail "push-busybox: override-arch" "$a"
    cfg=$(skopeo inspect --config --tls-verify=false "docker://$REGISTRY/fixture/busybox:t-amd64")
    jq -e '.architecture == "amd64" and .os == "linux" and .config.Cmd == ["sh"] and (.config.Env[0] | startswith("PATH="))' \
      <<<"$cfg" >/dev/null && pass "push-busybox: per-arch tag with architecture, os, Cmd, Env" \
      || fail "push-busybox: per-arch config" "$cfg"
  else
    fail "push-busybox" "$(tail -3 "$work/err")"
  fi
else
  fail "push-busybox" "registry did not start"
fi
