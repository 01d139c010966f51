#!/usr/bin/env bash
# RUN's network: its own namespace by default (pasta), with the outside reachable and DNS
# working, but none of the host's loopback listeners, abstract unix sockets or traffic
# (slipway's own registry upload) in reach; `none` is lo alone; the host's network and an
# unconfined step are entitlements (--allow network.host / security.insecure).  Each
# isolation check has its control in host mode, so it can fail.
. tests/lib.sh

T=$(scratch_dir)
ST=$T/state
bash tests/fixtures/busybox-rootfs.sh "$T/rootfs"
R=$T/rootfs
gcc -static -O2 -o "$R/bin/sniff" tests/tools/sniff.c 2>"$T/gcc.log" || { fail "sniff helper builds" "$(tail -3 "$T/gcc.log")"; exit 0; }
run() { timeout 60 "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" "$@"; }
host_ip=$(ip -4 route get 192.0.2.200 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
[ -z "$host_ip" ] && host_ip=$(ip -4 -o addr show scope global | awk '{sub("/.*","",$4); print $4; exit}')

# -- the host's loopback listener and its non-loopback address ----------------------------
port=$(free_port)
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.recv(1024); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost-secret\n"); c.close()' "$port" &
lpid=$!
on_exit "kill $lpid 2>/dev/null"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
probe="timeout 5 wget -q -O - http://127.0.0.1:$port/ 2>&1; echo lo=\$?; timeout 5 wget -q -O - http://$host_ip:$port/ 2>&1; echo ip=\$?"
out=$(run -- sh -c "$probe" 2>&1)
if grep -q 'lo=[1-9]' <<<"$out" && grep -q 'ip=[1-9]' <<<"$out" && ! grep -q host-secret <<<"$out"; then
  pass "own network: the host's 127.0.0.1 listener is out of reach (via 127.0.0.1 and via $host_ip)"
else fail "own network: the host's loopback listener is out of reach" "$out"; fi
out=$(run --network host -- sh -c "$probe" 2>&1)
grep -q host-secret <<<"$out" && pass "control: with the host's network the listener answers" \
  || fail "control: with the host's network the listener answers" "$out"

# -- abstract unix sockets ------------------------------------------------------------------
name=sw-abstract-$$-$RANDOM
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(1); time.sleep(120)' "$name" &
apid=$!
on_exit "kill $apid 2>/dev/null"
for _ in $(seq 50); do grep -q "@$name" /proc/net/unix && break; sleep 0.05; done
out=$(run -- sh -c 'cat /proc/net/unix; echo n=$(($(wc -l < /proc/net/unix) - 1))' 2>&1)
host_n=$(($(wc -l < /proc/net/unix) - 1))
if ! grep -q "@$name" <<<"$out" && ! grep -q '@' <<<"$out" && grep -q 'n=0' <<<"$out"; then
  pass "own network: none of the host's $host_n unix sockets (abstract ones included) in /proc/net/unix"
else fail "own network: the host's abstract unix sockets are not seen" "$(head -5 <<<"$out")"; fi
out=$(run --network host -- sh -c 'cat /proc/net/unix' 2>&1)
grep -q "@$name" <<<"$out" && pass "control: with the host's network the abstract socket is seen" \
  || fail "control: with the host's network the abstract socket is seen" "$(head -3 <<<"$out")"

# -- DNS and the outside ----------------------------------------------------------------------
name=deb.debian.org
want=$(getent ahostsv4 "$name" | awk '{print $1; exit}')
out=$(run -- sh -c "cat /etc/resolv.conf; nslookup $name; timeout 30 wget -q -O - http://$name/debian/dists/bookworm/Release | head -2" 2>&1)
if [ -n "$want" ] && grep -q "Address: *$want" <<<"$out" && ! grep -qE '^nameserver +(127\.|::1)' <<<"$out"; then
  pass "own network: DNS resolves $name as the host does ($want), no loopback nameserver"
else fail "own network: DNS resolves $name" "want=$want $(tr '\n' ' ' <<<"$out" | head -c 600)"; fi
grep -q '^Origin: Debian' <<<"$out" && pass "own network: the Debian mirror answers an HTTP request from the step" \
  || fail "own network: the Debian mirror answers from the step" "$(tail -3 <<<"$out")"

# -- none: lo only ---------------------------------------------------------------------------
out=$(run --network none -- sh -c 'echo $(ls /sys/class/net); timeout 5 wget -q -O - http://'"$host_ip:$port"'/ 2>&1; echo rc=$?' 2>&1)
if [ "$(head -1 <<<"$out" | awk '{$1=$1; print}')" = lo ] && grep -q 'rc=[1-9]' <<<"$out"; then
  pass "network none: only lo, nothing reachable"
else fail "network none: only lo" "$out"; fi

# -- builds: the registry upload is not on the step's wire; entitlements ------------------------
start_registry "$T/reg" >/dev/null || { fail "registry starts"; exit 0; }
ARCHS=amd64 bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null || { fail "base image pushed"; exit 0; }
rport=${REGISTRY##*:}
mkdir -p "$T/ctx"
cp "$R/bin/sniff" "$T/ctx/sniff"
build() { timeout 300 "$SLIPWAY" build --state-dir "$T/bstate" --insecure-registry "$REGISTRY" --progress plain --no-cache "$@"; }
# step 1 makes a 96 MiB layer that uploads while step 2 sniffs for 4 s
cat > "$T/ctx/Dockerfile" <<EOF
FROM $REGISTRY/base/busybox:latest
RUN head -c 100663296 /dev/urandom > /blob
RUN --mount=type=bind,source=sniff,target=/sniff /sniff $rport 4
EOF
out=$(build -t "$REGISTRY/t/sniff:own" --push "$T/ctx" 2>&1); rc=$?
line=$(grep -o 'packets=[0-9]* port=[0-9]* auth=[0-9]*' <<<"$out" | tail -1)
if [ $rc -eq 0 ] && [[ $line =~ port=0\ auth=0 ]]; then
  pass "own network: an AF_PACKET socket in RUN sees none of slipway's upload ($line)"
else fail "own network: AF_PACKET sees none of the upload" "rc=$rc line='$line' $(tail -3 <<<"$out")"; fi
out=$(build -t "$REGISTRY/t/sniff:host" --push --network host --allow network.host "$T/ctx" 2>&1); rc=$?
line=$(grep -o 'packets=[0-9]* port=[0-9]* auth=[0-9]*' <<<"$out" | tail -1)
if [ $rc -eq 0 ] && [[ $line =~ port=[1-9] ]]; then
  pass "control: with --network host the same step sees the upload ($line)"
else fail "control: with --network host the step sees the upload" "rc=$rc line='$line' $(tail -3 <<<"$out")"; fi

printf 'FROM %s/base/busybox:latest\nRUN ls /sys/class/net\n' "$REGISTRY" > "$T/ctx/Dockerfile"
out=$(build -t "$REGISTRY/t/net:1" --push --network host "$T/ctx" 2>&1); rc=$?
tags=$(curl -s "http://$REGISTRY/v2/t/net/tags/list")
if [ $rc -ne 0 ] && grep -q -- '--allow network.host' <<<"$out" && ! grep -q '"1"' <<<"$tags"; then
  pass "--network host without --allow network.host: refused, naming the flag, no tag"
else fail "--network host without --allow is refused" "rc=$rc $(tail -2 <<<"$out")"; fi
printf 'FROM %s/base/busybox:latest\nRUN --network=host ls /sys/class/net | tr "\\n" " "\n' "$REGISTRY" > "$T/ctx/Dockerfile"
out=$(build -t "$REGISTRY/t/net:2" --push "$T/ctx" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q -- '--allow network.host' <<<"$out" && grep -q 'Dockerfile:2' <<<"$out"; then
  pass "RUN --network=host without --allow network.host: refused at Dockerfile:2, naming the flag"
else fail "RUN --network=host without --allow is refused" "rc=$rc $(tail -2 <<<"$out")"; fi
out=$(build -t "$REGISTRY/t/net:3" --push --allow network.host "$T/ctx" 2>&1); rc=$?
host_ifs=$(ls /sys/class/net | tr '\n' ' ')
if [ $rc -eq 0 ] && grep -qF "$host_ifs" <<<"$out"; then pass "RUN --network=host with --allow network.host sees the host's interfaces"
else fail "RUN --network=host with --allow network.host" "rc=$rc $(grep -E 'lo|error' <<<"$out" | tail -3)"; fi
out=$(build --allow network.bogus "$T/ctx" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q 'network.bogus' <<<"$out" && pass "an unknown entitlement is an error naming it" \
  || fail "an unknown entitlement is an error" "rc=$rc $out"

printf 'FROM %s/base/busybox:latest\nRUN --security=insecure grep -E "^(CapEff|Seccomp):" /proc/self/status | tr "\\t\\n" "  "\n' "$REGISTRY" > "$T/ctx/Dockerfile"
out=$(build -t "$REGISTRY/t/insecure:1" --push "$T/ctx" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q -- '--allow security.insecure' <<<"$out"; then
  pass "RUN --security=insecure without --allow security.insecure: refused, naming the flag"
else fail "RUN --security=insecure without --allow is refused" "rc=$rc $(tail -2 <<<"$out")"; fi
out=$(build -t "$REGISTRY/t/insecure:2" --push --allow security.insecure "$T/ctx" 2>&1); rc=$?
full=$(sed -n 's/^CapPrm:\t*//p' /proc/self/status)  # all slipway holds (root's)
if [ $rc -eq 0 ] && grep -q "CapEff: *$full" <<<"$out" && grep -q 'Seccomp: *0' <<<"$out"; then
  pass "RUN --security=insecure with --allow: every capability, no seccomp"
else fail "RUN --security=insecure with --allow" "rc=$rc $(grep -E 'CapEff|error' <<<"$out" | tail -2)"; fi

# -- nothing of the network outlives slipway (SIGKILL mid-RUN) ----------------------------------
# The build's own pasta and holder, by the pids its debug log names: after slipway's SIGKILL
# both are gone entirely — killed and reaped by the keeper (their subreaper), not zombies left
# to an init that may never reap them — and the keeper has ended.
piddirs() { find /tmp -maxdepth 1 -name 'slipway-pasta-*' -mmin -10 | wc -l; }
dirs_pre=$(piddirs)
printf 'FROM %s/base/busybox:latest\nRUN echo running-$((40+2)); sleep 300\n' "$REGISTRY" > "$T/ctx/Dockerfile"
"$SLIPWAY" build --debug --state-dir "$T/bstate" --insecure-registry "$REGISTRY" --progress plain "$T/ctx" > "$T/out" 2>&1 &
pid=$!
for _ in $(seq 400); do grep -q running-42 "$T/out" 2>/dev/null && break; sleep 0.05; done
read -r npasta nkeeper nholder < <(sed -n 's/.*own network ready (pasta \([0-9]*\), keeper \([0-9]*\), holder \([0-9]*\)).*/\1 \2 \3/p' "$T/out")
running() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
if grep -q running-42 "$T/out" && running "$npasta" && grep -qa pasta "/proc/$npasta/cmdline" && running "$nholder"; then
  pass "mid-RUN: the build's pasta and holder run"
else fail "mid-RUN: the build's pasta and holder run" "pasta=$npasta holder=$nholder $(tail -2 "$T/out")"; fi
kill -KILL $pid; wait $pid 2>/dev/null
gone() { local p; for p in "$@"; do [ -z "$p" ] || [ ! -e "/proc/$p" ] || return 1; done; }
for _ in $(seq 100); do gone "$npasta" "$nholder" && ! running "$nkeeper" && break; sleep 0.05; done
if [ -n "$npasta" ] && gone "$npasta" "$nholder"; then pass "SIGKILL mid-RUN: the build's pasta and holder are gone, reaped"
else fail "SIGKILL mid-RUN: pasta and holder gone, reaped" "pasta=$npasta:$(awk '{print $3}' /proc/$npasta/stat 2>/dev/null) holder=$nholder:$(awk '{print $3}' /proc/$nholder/stat 2>/dev/null)"; fi
if [ -n "$nkeeper" ] && ! running "$nkeeper"; then pass "SIGKILL mid-RUN: the keeper has ended"
else fail "SIGKILL mid-RUN: the keeper has ended" "keeper=$nkeeper"; fi
sleep 0.5
[ "$(piddirs)" -le "$dirs_pre" ] && pass "no pid-file directory of pasta left behind" \
  || fail "pasta pid-file directories left" "$(find /tmp -maxdepth 1 -name 'slipway-pasta-*' -mmin -10)"
