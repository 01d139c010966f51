# tests/lib.sh — sourced by integration tests.
#
# A test script reports each check with `pass NAME`, `fail NAME [WHY]` or `skip NAME WHY`;
# tests/run.sh counts the lines.  Scripts run as root, from the repository's top, with
# $SLIPWAY naming the binary under test.  Anything a script starts or mounts it stops and
# unmounts itself (register cleanups with `on_exit CMD`).

: "${SLIPWAY:=$PWD/slipway}"
export SLIPWAY
TOP=${TOP:-$PWD}
SHARED=${SHARED:-$TOP/../shared}
# Tests read pushed images' manifests directly; buildx's default provenance (which would
# make each push an index) is tested where it is meant: tests/integration/attest.sh.
export BUILDX_NO_DEFAULT_ATTESTATIONS=1

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; }
skip() { echo "SKIP $1: $2"; }

# check NAME CMD…: pass when CMD succeeds.
check() {
  local name=$1; shift
  if "$@" >/tmp/sw-check.$$ 2>&1; then pass "$name"; else fail "$name" "$(tail -3 /tmp/sw-check.$$ | tr '\n' ' ')"; fi
  rm -f /tmp/sw-check.$$
}

_sw_exit_cmds=()
on_exit() { _sw_exit_cmds+=("$*"); }
_sw_run_exit() { local i; for ((i=${#_sw_exit_cmds[@]}-1; i>=0; i--)); do eval "${_sw_exit_cmds[$i]}" || true; done; _sw_rm_scratch; }
trap _sw_run_exit EXIT

# A scratch directory removed at exit.  Usually called as T=$(scratch_dir), in a subshell
# whose on_exit would be lost: the dirs are listed in a file named after $$ (the same in
# subshells) and removed by the script's own exit trap.
_sw_scratch_list=/tmp/slipway-test-scratch.$$
scratch_dir() { local d; d=$(mktemp -d /tmp/slipway-test.XXXXXX); echo "$d" >> "$_sw_scratch_list"; echo "$d"; }
_sw_rm_scratch() {
  [ -f "$_sw_scratch_list" ] || return 0
  local d; while read -r d; do rm -rf "$d"; done < "$_sw_scratch_list"; rm -f "$_sw_scratch_list"
}

# count_procs MARKER: how many processes have MARKER in their command line (this scan
# never counts itself: it greps for "[m]arker", which does not match its own text).
count_procs() {
  local marker=$1 n=0 p
  for p in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' 2>/dev/null <"$p" | grep -q "[${marker:0:1}]${marker:1}" && n=$((n + 1))
  done
  echo "$n"
}

# eventually SECONDS CMD…: CMD succeeds within SECONDS, polled every 0.1 s — for what the
# kernel finishes after a process is gone (parent-death signals, a PID namespace's teardown),
# which a loaded machine may take a while to get to.
eventually() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.1; done; }
# no_procs MARKER: no process has MARKER in its command line (see count_procs)
no_procs() { [ "$(count_procs "$1")" = 0 ]; }

# free_port: a TCP port nothing listens on, on 127.0.0.1.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# start_registry DIR: Debian's docker-registry on a fresh loopback port with its data in
# DIR; sets REGISTRY=127.0.0.1:PORT and stops it (by pid) at exit.
start_registry() { start_registry_ext "$1" http "" ""; }

# start_registry_with_busybox DIR: start_registry, then the busybox base (amd64 + arm64, from
# tests/fixtures/push-busybox.sh) as $REGISTRY/base/busybox:latest.  A failure is reported as
# a FAIL and returns 1: the caller exits, as nothing else of it can run.
start_registry_with_busybox() {
  start_registry "$1" || { fail "registry starts"; return 1; }
  tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null || { fail "base image pushed"; return 1; }
}

# start_registry_ext DIR SCHEME HTTP_EXTRA TOP_EXTRA: as start_registry, with YAML lines added
# under http: (HTTP_EXTRA, indented by the caller: e.g. "  tls: {…}") and at the top level
# (TOP_EXTRA: auth:, …); SCHEME (http|https) is how readiness is probed.  Any answer
# (401 included) means up.
start_registry_ext() {
  local dir=$1 scheme=$2 http_extra=$3 top_extra=$4 port
  port=$(free_port)
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $dir/data }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$port
$http_extra
$top_extra
YML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  local pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  REGISTRY=127.0.0.1:$port
  for _ in $(seq 1 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://$REGISTRY/v2/" 2>/dev/null)" != 000 ] && return 0
    sleep 0.05
  done
  echo "registry on $REGISTRY did not start: $(tail -3 "$dir/registry.log")" >&2
  return 1
}

# start_fault_proxy UPSTREAM RULE…: tests/helpers/fault-proxy.py in front of UPSTREAM
# (host:port); sets PROXY=127.0.0.1:PORT, its log in $PROXY_LOG; stopped at exit.
start_fault_proxy() {
  local upstream=$1; shift
  local pf; pf=$(mktemp -u /tmp/sw-proxy.XXXXXX)
  PROXY_LOG=$pf.log
  python3 "$TOP/tests/helpers/fault-proxy.py" "$pf" "$upstream" "$@" 2>"$PROXY_LOG" &
  local pid=$!
  on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f '$pf' '$PROXY_LOG'"
  for _ in $(seq 1 100); do
    [ -s "$pf" ] && { PROXY=127.0.0.1:$(cat "$pf"); return 0; }
    sleep 0.05
  done
  echo "fault proxy did not start: $(cat "$PROXY_LOG")" >&2
  return 1
}
