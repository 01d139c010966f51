#!/usr/bin/env bash
# bench/parallel.sh: the build's shape, slipway vs buildx 0.29 in one run.
#   par2       a multi-stage case with two independent heavy stages — `apt-get install` in
#              Debian (network and dpkg) and a CPU-bound compile stand-in (sha256 of 1 GiB,
#              about as long as the apt stage on this machine) — and a final stage that
#              copies from both: slipway (stages at once), slipway with --max-parallelism 1
#              (one step at a time: the sequential time), buildx; and each heavy stage alone
#              (--target), whose longer one is what no schedule can beat
#   par2-long  the same with a 3 GiB stand-in (about three times the apt stage): at once
#              and one at a time, to show the bound an unbalanced pair sets
#   arm64      ../shared/bench's arm64 case for linux/amd64 alone, linux/arm64 alone, and both
#              platforms in one build
# Each build+push through ../shared/bench/anchors.sh (fresh tool state on a tmpfs, a fresh
# registry), run from a private copy so this script's own cases sit beside the shared ones.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$here/../shared/bench" 2>/dev/null && pwd) || shared=$(cd "$here/../../shared/bench" 2>/dev/null && pwd) \
  || { echo "no ../shared/bench" >&2; exit 2; }
W=$(mktemp -d /tmp/slipway-parallel.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/bench/cases/par2" "$W/bench/cases/par2-long"
cp "$shared/anchors.sh" "$W/bench/"
for f in registry.sh setup-buildx.sh; do ln -s "$shared/$f" "$W/bench/$f"; done
ln -s "$shared/cases/arm64" "$W/bench/cases/arm64"
par2_case() { # GIBIBYTES of the compile stand-in
  cat <<DF
FROM 127.0.0.1:5001/debian:bookworm AS web
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*
FROM 127.0.0.1:5001/busybox:latest AS compile
RUN mkdir /out && dd if=/dev/zero bs=1M count=$(($1 * 1024)) 2>/dev/null | sha256sum > /out/sum
FROM 127.0.0.1:5001/busybox:latest
COPY --from=web /usr/sbin/nginx /usr/sbin/nginx
COPY --from=compile /out/sum /sum
DF
}
par2_case 1 > "$W/bench/cases/par2/Dockerfile"
par2_case 3 > "$W/bench/cases/par2-long/Dockerfile"
wrap() { # NAME ARGS…: a slipway that adds ARGS to its build
  printf '#!/bin/bash\nexec %s "$1" %s "${@:2}"\n' "${SLIPWAY:-$here/slipway}" "${*:2}" > "$W/slipway-$1"
  chmod +x "$W/slipway-$1"
}
wrap seq --max-parallelism 1
wrap web --target web
wrap compile --target compile

t() { # SLIPWAY-BINARY TOOL CASE PLATFORM → seconds or fail
  local out; out=$(SLIPWAY=$1 "$W/bench/anchors.sh" "$2" "$3" "$4")
  grep -q "rc=0" <<<"$out" && sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$out" || echo fail
}
ratio() { case "$1$2" in *fail*) echo "-" ;; *) printf '%.2f' "$(echo "$1 / $2" | bc -l)" ;; esac; }
S=${SLIPWAY:-$here/slipway}

par=$(t "$S" slipway par2 linux/amd64)
seq=$(t "$W/slipway-seq" slipway par2 linux/amd64)
bx=$(t "$S" buildx par2 linux/amd64)
web=$(t "$W/slipway-web" slipway par2 linux/amd64)
cpl=$(t "$W/slipway-compile" slipway par2 linux/amd64)
echo "par2 (apt-get ∥ 1 GiB compile): slipway ${par}s  sequential ${seq}s  buildx ${bx}s  slipway/sequential $(ratio "$par" "$seq")  slipway/buildx $(ratio "$par" "$bx")"
echo "  each heavy stage alone: web ${web}s, compile ${cpl}s"
par=$(t "$S" slipway par2-long linux/amd64)
seq=$(t "$W/slipway-seq" slipway par2-long linux/amd64)
echo "par2-long (apt-get ∥ 3 GiB compile): slipway ${par}s  sequential ${seq}s  slipway/sequential $(ratio "$par" "$seq")"

for tool in slipway buildx; do
  a=$(t "$S" $tool arm64 linux/amd64)
  b=$(t "$S" $tool arm64 linux/arm64)
  both=$(t "$S" $tool arm64 linux/amd64,linux/arm64)
  sum=$(case "$a$b" in *fail*) echo fail ;; *) echo "$a + $b" | bc ;; esac)
  echo "arm64 two platforms, $tool: amd64 ${a}s + arm64 ${b}s = ${sum}s; both at once ${both}s ($(ratio "$both" "$sum") of the sum)"
done
