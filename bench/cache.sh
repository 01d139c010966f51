#!/usr/bin/env bash
# bench/cache.sh: the build cache, slipway beside buildx 0.29 (docker driver), in one run.
#   - unchanged rebuild with a warm cache (steps30, cbuild), build + push, median of 3
#   - one source file changed (cbuild: hello.c): only the steps after the COPY run
# Cases come from ../shared/bench/cases (bases on 127.0.0.1:5001, set up by
# ../shared/bench/setup.sh); pushes go to a registry of this script's own on a free port.
# buildx: /opt/docker-sid (../shared/bench/setup-buildx.sh), its dockerd on its own socket
# and data root.  Prints one line a measurement:  tool case what seconds
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
SLIPWAY=${SLIPWAY:-$here/slipway}
cases=${CASES:-steps30 cbuild}
shared=$(cd "$here/../shared/bench" 2>/dev/null && pwd) || shared=/work/shared/bench
cd "$here"
. tests/lib.sh
W=$(scratch_dir)
start_registry "$W/registry" || { echo "registry does not start" >&2; exit 1; }
O=/opt/docker-sid

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

sw_build() { # CASE CTX [EXTRA FLAGS…]
  local c=$1 ctx=$2; shift 2
  "$SLIPWAY" build --progress=plain --state-dir "${SW_STATE:-$W/sw-state}" --insecure-registry 127.0.0.1:5001 \
    -t "$REGISTRY/bench/$c:slipway" --push "$@" "$ctx" > "$W/sw-$c.log" 2>&1
}

bx_up() {
  [ -x $O/usr/sbin/dockerd ] || return 1
  sock=$W/docker.sock
  mkdir -p "$W/bx-config/cli-plugins"
  ln -sf $O/usr/libexec/docker/cli-plugins/docker-buildx "$W/bx-config/cli-plugins/docker-buildx"
  printf '%s\n' '{"iptables": false, "ip6tables": false, "ip-masq": false, "bridge": "none", "storage-driver": "overlay2",' \
    ' "insecure-registries": ["127.0.0.1:5001", "'"$REGISTRY"'"], "data-root": "'"$W/bx-root"'", "exec-root": "'"$W/bx-exec"'",' \
    ' "pidfile": "'"$W/bx.pid"'", "hosts": ["unix://'"$sock"'"], "features": {"containerd-snapshotter": false}}' > "$W/daemon.json"
  ( PATH=$O/usr/bin:$O/usr/sbin:$PATH setsid dockerd --config-file "$W/daemon.json" > "$W/dockerd.log" 2>&1 & )
  for _ in $(seq 1 150); do [ -S "$sock" ] && DOCKER_HOST=unix://$sock $O/usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.1; done
  on_exit "kill \$(cat '$W/bx.pid') 2>/dev/null; sleep 2; umount -R '$W/bx-root' 2>/dev/null; umount -R '$W/bx-exec' 2>/dev/null"
  DOCKER_HOST=unix://$sock $O/usr/bin/docker info >/dev/null 2>&1
}
bx_build() { # CASE CTX
  DOCKER_HOST=unix://$W/docker.sock DOCKER_CONFIG=$W/bx-config $O/usr/bin/docker buildx build --network host \
    --provenance=false -t "$REGISTRY/bench/$1:buildx" --push "$2" > "$W/bx-$1.log" 2>&1
}

measure() { # TOOL CASE
  local tool=$1 c=$2 ctx=$W/ctx-$1-$2 t0 t1 r=() i
  rm -rf "$ctx"; cp -r "$shared/cases/$c" "$ctx"
  t0=$(now); ${tool}_build "$c" "$ctx" || { echo "$tool $c cold build failed (see $W/$tool-$c.log)" >&2; return 1; }; t1=$(now)
  echo "$tool $c cold $(secs "$t0" "$t1")"
  for i in 1 2 3; do
    t0=$(now); ${tool}_build "$c" "$ctx"; t1=$(now); r+=("$(secs "$t0" "$t1")")
  done
  echo "$tool $c unchanged-rebuild $(median3 "${r[@]}")"
  if [ -f "$ctx/hello.c" ]; then
    r=()
    for i in 1 2 3; do
      echo "/* change $i */" >> "$ctx/hello.c"
      t0=$(now); ${tool}_build "$c" "$ctx"; t1=$(now); r+=("$(secs "$t0" "$t1")")
    done
    echo "$tool $c one-file-change $(median3 "${r[@]}")"
    if [ "$tool" = sw ]; then echo "sw $c steps-run-after-change $(grep -cE '^#[0-9]+ DONE' "$W/sw-$c.log") cached $(grep -c CACHED "$W/sw-$c.log")"; fi
  fi
}

# the registry cache on a cold runner: a build exporting mode=max (its cost against the cold
# build above), then one with an empty state dir and --cache-from
remote() { # CASE
  local c=$1 ctx=$W/ctx-sw-$1 t0 t1
  SW_STATE=$W/sw-remote-1; export SW_STATE
  t0=$(now); sw_build "$c" "$ctx" --cache-to "type=registry,ref=$REGISTRY/cache/$c:main,mode=max" || echo "sw $c cache-to failed" >&2
  t1=$(now); echo "sw $c cold+cache-to-max $(secs "$t0" "$t1")"
  SW_STATE=$W/sw-remote-2
  t0=$(now); sw_build "$c" "$ctx" --cache-from "type=registry,ref=$REGISTRY/cache/$c:main" || echo "sw $c cache-from failed" >&2
  t1=$(now); echo "sw $c cold-runner-cache-from $(secs "$t0" "$t1") cached $(grep -c CACHED "$W/sw-$c.log")"
  unset SW_STATE
}

for c in $cases; do measure sw "$c"; done
for c in ${REMOTE_CASES:-cbuild}; do remote "$c"; done
[ "${BUILDX:-1}" = 0 ] && exit 0
if bx_up; then
  for c in $cases; do measure bx "$c"; done
else
  echo "buildx: $O not set up (../shared/bench/setup-buildx.sh); slipway figures only" >&2
fi
