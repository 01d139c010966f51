#!/usr/bin/env bash
# The RUN sandbox through `slipway debug run`: isolation, confinement, output, failures.
. tests/lib.sh

T=$(scratch_dir)
ST=$T/state
bash tests/fixtures/busybox-rootfs.sh "$T/rootfs"
R=$T/rootfs
# run [FLAGS…] -- CMD…: one step over $R with a fresh upper dir $T/up
run() { rm -rf "$T/up"; mkdir "$T/up"; "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --upper "$T/up" "$@"; }

check "a step runs and streams stdout and stderr apart" bash -c '
  out=$('"$(declare -f run)"'; T='"$T"' ST='"$ST"' R='"$R"' SLIPWAY='"$SLIPWAY"' run -- /bin/sh -c "echo one; echo two >&2; echo three" 2>'"$T"'/err)
  [ "$out" = "$(printf "one\nthree")" ] && [ "$(cat '"$T"'/err)" = two ]'

out=$(run -- /bin/sh -c 'echo partial; exit 3' 2>&1); rc=$?
if [ $rc -eq 3 ] && grep -qF 'process "/bin/sh -c echo partial; exit 3" did not complete successfully: exit code: 3' <<<"$out"; then
  pass "a failing step is reported as BuildKit does, with its exit code"
else fail "a failing step is reported as BuildKit does" "rc=$rc $out"; fi

out=$(run -- nosuchcmd 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -qF 'exec: "nosuchcmd": executable file not found in $PATH' <<<"$out"; then
  pass "a missing command is a clear error"
else fail "a missing command is a clear error" "rc=$rc $out"; fi

out=$(run -- /bin/sh -c 'mount -t tmpfs t /mnt; echo "mount=$?"; unshare -m true; echo "unshare=$?"; unshare -U true; echo "userns=$?"; nsenter -t 1 -m true; echo "nsenter=$?"' 2>&1)
if grep -q 'mount=1' <<<"$out" && grep -q 'unshare=1' <<<"$out" && grep -q 'userns=1' <<<"$out" \
   && grep -q 'nsenter=1' <<<"$out" && grep -q 'Operation not permitted' <<<"$out"; then
  pass "mount, unshare and setns are refused (EPERM)"
else fail "mount, unshare and setns are refused" "$out"; fi

# keyctl and ptrace need syscalls busybox does not make: a tiny static helper
if gcc -static -O2 -o "$R/bin/probe" -x c - <<'C' 2>"$T/gcc.log"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
int main (void)
{
  long r = syscall (SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0);
  printf ("keyctl=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_add_key, "user", "k", "v", 1, -3);
  printf ("add_key=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = ptrace (PTRACE_ATTACH, 1, 0, 0);
  printf ("ptrace1=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_clone3, NULL, 0);
  printf ("clone3=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_personality, 0x0008000);
  printf ("personality=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_socket, 40 /* AF_VSOCK */, 1, 0);
  printf ("vsock=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_socket, 1 /* AF_UNIX */, 1, 0);
  printf ("unix=%s\n", r >= 0 ? "ok" : strerror (errno));
  r = syscall (SYS_clone, 0x20000000 /* CLONE_NEWPID */ | 17, 0, 0, 0, 0);
  printf ("clone-newpid=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  if (r == 0)
    _exit (0);
  return 0;
}
C
then
  out=$(run -- /bin/probe 2>&1)
  if grep -q 'keyctl=-1 errno=Operation not permitted' <<<"$out" && grep -q 'add_key=-1 errno=Operation not permitted' <<<"$out" \
     && grep -q 'ptrace1=-1 errno=Operation not permitted' <<<"$out"; then
    pass "keyctl, add_key and ptrace of PID 1 are refused (EPERM)"
  else fail "keyctl, add_key and ptrace of PID 1 are refused" "$out"; fi
  if grep -q 'clone3=-1 errno=Function not implemented' <<<"$out" && grep -q 'personality=-1 errno=Operation not permitted' <<<"$out" \
     && grep -q 'vsock=-1 errno=Operation not permitted' <<<"$out" && grep -q 'unix=ok' <<<"$out" \
     && grep -q 'clone-newpid=-1 errno=Operation not permitted' <<<"$out"; then
    pass "seccomp as moby's: clone3 ENOSYS, clone with namespace flags, AF_VSOCK and odd personality() EPERM"
  else fail "seccomp: clone3 and personality as the moby profile" "$out"; fi
  rm -f "$R/bin/probe"
else
  skip "keyctl and ptrace are refused" "no static libc to build the probe: $(tail -1 "$T/gcc.log")"
fi

out=$(run -- /bin/sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status' 2>&1)
if grep -qP 'CapEff:\t00000000a80425fb' <<<"$out" && grep -qP 'CapBnd:\t00000000a80425fb' <<<"$out" \
   && grep -qP 'NoNewPrivs:\t1' <<<"$out" && grep -qP 'Seccomp:\t2' <<<"$out"; then
  pass "root gets docker's default capabilities, no_new_privs and a seccomp filter"
else fail "docker's default capabilities, no_new_privs, seccomp" "$out"; fi

out=$(run -- /bin/sh -c 'sleep 5 & ps -o pid,comm,args > /tmp/ps; kill %1; cat /tmp/ps' 2>&1)
maxpid=$(awk 'NR>1{print $1}' <<<"$out" | sort -n | tail -1)
if [ "${maxpid:-99}" -le 10 ] && grep -qE '^ +1 ' <<<"$out" && grep -q 'sleep' <<<"$out" \
   && ! grep -qE 'bash|debug run|--state-dir' <<<"$out"; then
  pass "ps inside sees only the step's processes"
else fail "ps inside sees only the step's processes" "$out"; fi

out=$(run --network none -- /bin/sh -c 'ls /sys/class/net | tr "\n" " "; echo; ip -o addr show lo' 2>&1)
if [ "$(head -1 <<<"$out")" = "lo " ] && grep -q 'inet 127.0.0.1' <<<"$out"; then
  pass "network none has only lo, up"
else fail "network none has only lo" "$out"; fi
host_ifs=$(ls /sys/class/net | sort | tr '\n' ' ')
out=$(run --network host -- /bin/sh -c 'ls /sys/class/net | sort | tr "\n" " "' 2>&1)
if [ "$out" = "$host_ifs" ]; then pass "network host shares the host's network"
else fail "network host shares the host's network" "in: $out host: $host_ifs"; fi
# the default (its own network through pasta) is tests/integration/sandbox_net.sh's

out=$(run --add-host db.internal:10.1.2.3 --hostname builder -- /bin/sh -c 'cat /etc/hosts; hostname; cat /etc/hostname; test -s /etc/resolv.conf && echo resolv-ok' 2>&1)
if grep -qP '^10\.1\.2\.3\tdb\.internal$' <<<"$out" && grep -qP '^127\.0\.0\.1\tlocalhost builder$' <<<"$out" \
   && [ "$(grep -c '^builder$' <<<"$out")" = 2 ] && grep -q resolv-ok <<<"$out"; then
  pass "/etc/hosts (with --add-host), /etc/hostname, /etc/resolv.conf"
else fail "/etc/hosts, /etc/hostname, /etc/resolv.conf" "$out"; fi

out=$(run -- /bin/sh -c 'echo x > /proc/sys/kernel/hostname; echo "proc=$?"; touch /sys/x; echo "sys=$?"; ls /dev | tr "\n" " "; echo; ls -l /dev/ptmx; echo hi > /dev/shm/x && echo shm-ok' 2>&1)
if grep -q 'proc=1' <<<"$out" && grep -q 'sys=1' <<<"$out" && grep -q 'shm-ok' <<<"$out" \
   && grep -q 'full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero' <<<"$out"; then
  pass "/proc and /sys read-only, a minimal /dev"
else fail "/proc and /sys read-only, a minimal /dev" "$out"; fi

# CAP_MKNOD is docker's, but with no device cgroup every writable place is nodev: a device
# node can be made (and lands in the layer, as with docker) but not opened
out=$(run --mount type=cache,id=dev,target=/c -- /bin/sh -c 'mknod /tmp/disk b 8 0 && echo made; head -c1 /tmp/disk >/dev/null 2>&1 || echo tmp-denied
  mknod /dev/disk b 8 0; head -c1 /dev/disk >/dev/null 2>&1 || echo dev-denied
  mknod /c/disk b 8 0; head -c1 /c/disk >/dev/null 2>&1 || echo cache-denied; rm -f /c/disk
  head -c 3 /dev/zero | wc -c; ls /proc/self/fd | wc -l' 2>&1)
if [ "$(tr '\n' ' ' <<<"$out")" = "made tmp-denied dev-denied cache-denied 3 4 " ]; then
  pass "device nodes the step makes cannot be opened; only stdio reaches the command"
else fail "device nodes the step makes cannot be opened" "$out"; fi

# The upper dir is the diff, exactly: no trace of /dev, /proc, /sys, /etc/hosts…
mkdir -p "$R/data"; echo keep > "$R/data/keep"; echo old > "$R/data/mod"; echo gone > "$R/data/del"
run -- /bin/sh -c 'echo new > /data/new; echo changed > /data/mod; rm /data/del; mkdir -p /opt/app; echo y > /opt/app/f' >/dev/null 2>&1
got=$(cd "$T/up" && find . | sort | tr '\n' ' ')
want=". ./data ./data/del ./data/mod ./data/new ./opt ./opt/app ./opt/app/f "
if [ "$got" = "$want" ] && [ "$(stat -c %F:%t,%T "$T/up/data/del")" = "character special file:0,0" ] \
   && [ "$(cat "$T/up/data/mod")" = changed ]; then
  pass "the upper dir holds exactly the step's changes (whiteout for a deletion)"
else fail "the upper dir holds exactly the step's changes" "got: $got"; fi
rm -rf "$R/data"

# a rootfs with no /etc, /dev, /proc at all: still no trace
mkdir -p "$T/bare/bin"; cp "$R/bin/busybox" "$T/bare/bin/"; ln -s busybox "$T/bare/bin/sh"
rm -rf "$T/up"; mkdir "$T/up"
"$SLIPWAY" debug run --state-dir "$ST" --rootfs "$T/bare" --upper "$T/up" --add-host a:1.1.1.1 \
  --mount type=tmpfs,target=/scratch/tmp -- /bin/sh -c 'test -e /etc/hosts && test -e /dev/null' >/dev/null 2>&1; rc=$?
got=$(cd "$T/up" && find . | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$got" = ". " ]; then pass "mountpoints missing from the rootfs leave nothing in the layer"
else fail "mountpoints missing from the rootfs leave nothing in the layer" "rc=$rc upper: $got"; fi

# WORKDIR is created (as BuildKit does) and is the cwd
out=$(run --workdir /app/src -- /bin/sh -c pwd 2>&1)
if [ "$out" = /app/src ] && [ -d "$T/up/app/src" ]; then pass "WORKDIR is created when missing and is the cwd"
else fail "WORKDIR is created when missing" "$out"; fi

# many lowers: a chain of 150 snapshots, each adding one file (a path-based lowerdir= would
# pass the one-page limit of mount options long before)
lowers=(--rootfs "$R")
for i in $(seq 1 150); do mkdir -p "$T/l/$i/files"; echo "$i" > "$T/l/$i/files/f$i"; lowers+=(--lower "$T/l/$i"); done
rm -rf "$T/up"; mkdir "$T/up"
out=$("$SLIPWAY" debug run --state-dir "$ST" "${lowers[@]}" --upper "$T/up" -- /bin/sh -c 'ls /files | wc -l; cat /files/f150' 2>&1)
if [ "$out" = "$(printf '150\n150')" ]; then pass "150 lower snapshots stack in order"
else fail "150 lower snapshots stack in order" "$out"; fi

# bad input: clear errors, nothing left behind
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$T/nonexistent" -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "lower dir $T/nonexistent: No such file or directory" <<<"$out"; then pass "a missing lower dir is named in the error"
else fail "a missing lower dir is named in the error" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --network bridge -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'invalid network mode "bridge"' <<<"$out"; then pass "a bad network mode is named in the error"
else fail "a bad network mode is named in the error" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --mount type=cache,target=/c,sharing=maybe -- true 2>&1); rc=$?
# the Dockerfile's parser reads it, with BuildKit's message, behind the flag and its value
if [ $rc -ne 0 ] && grep -qF -- '--mount type=cache,target=/c,sharing=maybe: unsupported sharing value "maybe"' <<<"$out"; then pass "a bad --mount is named in the error"
else fail "a bad --mount is named in the error" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --workdir /etc/passwd -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'working directory' <<<"$out"; then pass "a WORKDIR that is a file is a clear error"
else fail "a WORKDIR that is a file is a clear error" "$out"; fi
if [ -z "$(find "$ST/runs" -mindepth 1)" ] && ! grep -q "$ST" /proc/self/mountinfo; then
  pass "failed runs leave no session and no mount"
else fail "failed runs leave no session and no mount" "$(ls "$ST/runs")"; fi

# an image whose /etc/resolv.conf is a dangling symlink (as some distributions ship it)
mkdir -p "$T/dangling/etc" "$T/dangling/run"; ln -s ../run/resolv.stub "$T/dangling/etc/resolv.conf"
out=$("$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --lower "$T/dangling" -- /bin/sh -c 'test -s /etc/resolv.conf && echo resolv-ok' 2>&1)
if [ "$out" = resolv-ok ]; then pass "a dangling /etc/resolv.conf symlink still gets the host's resolv.conf"
else fail "a dangling /etc/resolv.conf symlink" "$out"; fi

# background processes left by the command neither hang the step nor outlive it
marker=sw-bg-$$-$RANDOM
s=$(date +%s)
out=$(run -- /bin/sh -c "( sleep 300; echo $marker ) & ( setsid sh -c 'sleep 301; echo $marker' & ); echo done" 2>&1)
e=$(date +%s)
left=$(count_procs "$marker")
if [ "$out" = done ] && [ $((e - s)) -lt 10 ] && [ "$left" = 0 ]; then
  pass "background processes end with the step and do not hang it"
else fail "background processes end with the step" "out=$out took=$((e - s))s left=$left"; fi
