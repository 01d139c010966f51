#!/usr/bin/env bash
# bench/network.sh: what RUN's own network (pasta, the default) costs against the host's
# (--network host --allow network.host), side by side, alternating, ROUNDS each (default 3):
#   cbuild    ../shared/bench's cbuild case: apt-get update + install gcc over the network in
#             127.0.0.1:5001/debian:bookworm, then a static build (needs setup-debian.sh)
#   download  one RUN fetching 100 MiB over HTTP with busybox wget, from a server in a
#             network namespace of its own behind a veth pair (the host's loopback and its
#             own addresses are out of the step's reach by design)
#   noop      one `RUN true` (the per-build cost of starting pasta)
# Prints wall times per round and the medians.  CASES="noop download" picks cases.  Base images: 127.0.0.1:5001 (setup.sh).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SLIPWAY=${SLIPWAY:-$here/slipway}
SHARED=${SHARED:-$here/../shared}
[ -d "$SHARED/bench" ] || SHARED=/work/shared
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-noop download cbuild}
. tests/lib.sh
W=$(scratch_dir)
BASE=127.0.0.1:5001

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fmt() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# one build, wall time in ms on stdout; MODE own|host
build_ms() { # case mode round
  local c=$1 mode=$2 r=$3 s e extra=()
  [ "$mode" = host ] && extra=(--network host --allow network.host)
  s=$(now)
  "$SLIPWAY" build --no-cache --state-dir "$W/state-$c-$mode" --progress plain "${extra[@]}" "$W/$c" \
    > "$W/$c-$mode-$r.log" 2>&1 || { echo "FAILED: $c $mode: $(tail -3 "$W/$c-$mode-$r.log")" >&2; echo -1; return; }
  e=$(now)
  echo $(( (e - s) / 1000000 ))
}

bench_case() { # case
  local c=$1 r own=() host=() t
  for r in $(seq 1 "$ROUNDS"); do
    t=$(build_ms "$c" own "$r"); own+=("$t")
    t=$(build_ms "$c" host "$r"); host+=("$t")
    printf '  %-9s round %d   own network %8s s   host network %8s s\n' "$c" "$r" "$(fmt "${own[-1]}")" "$(fmt "${host[-1]}")"
  done
  local mo mh
  mo=$(printf '%s\n' "${own[@]}" | median); mh=$(printf '%s\n' "${host[@]}" | median)
  printf '%-10s median     own network %8s s   host network %8s s   own/host %s\n' "$c" "$(fmt "$mo")" "$(fmt "$mh")" \
    "$(awk -v a="$mo" -v b="$mh" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')"
}

curl -sf "http://$BASE/v2/busybox/tags/list" >/dev/null || { echo "no $BASE/busybox: run ../shared/bench/setup.sh" >&2; exit 1; }

# -- noop ------------------------------------------------------------------------------------
mkdir -p "$W/noop"
printf 'FROM %s/busybox:latest\nRUN true\n' "$BASE" > "$W/noop/Dockerfile"

# -- download: a server behind a veth pair, in a network namespace held by a sleeping process -----
mkdir -p "$W/download" "$W/www"
head -c $((100 << 20)) /dev/urandom > "$W/www/blob"
unshare --net sleep 100000 &
holder=$!
on_exit "kill $holder 2>/dev/null"
sleep 0.2
veth=swb$$
ip link add "${veth}h" type veth peer name "${veth}n"
on_exit "ip link del ${veth}h 2>/dev/null"
ip link set "${veth}n" netns "$holder"
ip addr add 10.213.$(($$ % 200)).1/30 dev "${veth}h"
ip link set "${veth}h" up
srv=10.213.$(($$ % 200)).2
nsenter -t "$holder" -n sh -c "ip addr add $srv/30 dev ${veth}n && ip link set ${veth}n up && ip link set lo up && ip route add default via 10.213.$(($$ % 200)).1"
nsenter -t "$holder" -n python3 -m http.server 8000 --bind "$srv" --directory "$W/www" >/dev/null 2>&1 &
spid=$!
on_exit "kill $spid 2>/dev/null"
for _ in $(seq 100); do curl -sf -o /dev/null "http://$srv:8000/" && break; sleep 0.05; done
printf 'FROM %s/busybox:latest\nRUN wget -q -O /dev/null http://%s:8000/blob\n' "$BASE" "$srv" > "$W/download/Dockerfile"
s=$(now); curl -s -o /dev/null "http://$srv:8000/blob"; e=$(now)
echo "download from the host itself (curl, no sandbox): $(fmt $(( (e - s) / 1000000 ))) s"

# -- cbuild --------------------------------------------------------------------------------------
have_debian=
if curl -sf "http://$BASE/v2/debian/tags/list" | grep -q bookworm; then
  have_debian=yes
  mkdir -p "$W/cbuild"
  cp "$SHARED/bench/cases/cbuild/"* "$W/cbuild/"
fi

echo "slipway $("$SLIPWAY" version 2>/dev/null | head -1), $ROUNDS rounds, alternating own/host"
for c in $CASES; do
  if [ "$c" = cbuild ] && [ -z "$have_debian" ]; then
    echo "cbuild: skipped ($BASE/debian:bookworm missing: ../shared/bench/setup-debian.sh)"; continue
  fi
  bench_case "$c"
done
