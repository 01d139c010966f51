#!/usr/bin/env bash
# bench/layers.sh — pack throughput and memory: slipway's one-pass layer pipeline against
# `tar | gzip` and `tar | pigz` (and `tar | zstd -T0`) on the same trees, in one run.
#
#   bench/layers.sh            (or: make bench-layers)
#   SIZE_MB=512 BENCH_DIR=/var/tmp/slipway-bench bench/layers.sh
#
# Two trees of SIZE_MB MiB each: incompressible (8 files of random bytes) and text (copies
# of /usr/include, /usr/share/perl* and /usr/lib/python3* until the size is reached: many
# small real files).  Files are read once first, so the figures are CPU, not disk.
# slipway's figures are end to end: tar → sha256 (diffID) → compress → sha256 (digest) →
# /dev/null; the peers only tar and compress (no digests).  MB/s is input MiB per second of
# wall time; peak RSS is the largest process of the pipeline.
set -eu
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-512}
BENCH_DIR=${BENCH_DIR:-/var/tmp/slipway-bench-layers}
BUILD=${BUILD:-build}
T=$BUILD/tools/layertool
[ -x "$T" ] || make unit >/dev/null
for tool in pigz zstd awk /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/layers.sh needs $tool (make deps)"; exit 1; }
done

mkdir -p "$BENCH_DIR"
rand=$BENCH_DIR/random text=$BENCH_DIR/text
if [ ! -f "$rand/.done-$SIZE_MB" ]; then
  rm -rf "$rand"; mkdir -p "$rand"
  for i in 1 2 3 4 5 6 7 8; do head -c $((SIZE_MB * 1024 * 1024 / 8)) /dev/urandom > "$rand/blob$i"; done
  touch "$rand/.done-$SIZE_MB"
fi
if [ ! -f "$text/.done-$SIZE_MB" ]; then
  rm -rf "$text"; mkdir -p "$text"
  srcs=$(ls -d /usr/include /usr/share/perl* /usr/lib/python3* 2>/dev/null)
  i=0
  full() { [ "$(du -sm --apparent-size "$text" | cut -f1)" -ge "$SIZE_MB" ]; }
  while ! full; do
    i=$((i + 1)); mkdir -p "$text/copy$i"
    for s in $srcs; do full || cp -a "$s" "$text/copy$i/" 2>/dev/null || true; done
    [ $i -lt 50 ] || break
  done
  touch "$text/.done-$SIZE_MB"
fi

mib() { du -sb --apparent-size "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }
warm() { find "$1" -type f -exec cat {} + >/dev/null; }

# run LABEL DATA CMD…: time CMD (stdout counted, then discarded), print a row
row() { printf '%-8s %-40s %8s %10s %10s %7s\n' "$@"; }
run() {
  local label=$1 data=$2; shift 2
  local in_mb out t0 t1 stats rss secs
  in_mb=$(mib "$data")
  warm "$data"
  stats=$(mktemp)
  t0=$(date +%s.%N)
  out=$( { /usr/bin/time -f '%M' -o "$stats" bash -c "$*" | wc -c; } )
  t1=$(date +%s.%N)
  rss=$(tail -1 "$stats"); rm -f "$stats"
  row "$(basename "$data")" "$label" $(awk -v a="$t0" -v b="$t1" -v i="$in_mb" -v r="$rss" -v o="$out" \
      'BEGIN { printf "%.0f %.1f %.1f %.3f", i / (b - a), r / 1024, o / 1048576, o / (i * 1048576) }')
}

echo "# slipway layers bench: $(nproc) CPUs, $(uname -r), $(date -u +%FT%TZ)"
echo "# trees: random $(mib "$rand") MiB ($(find "$rand" -type f | wc -l) files), text $(mib "$text") MiB ($(find "$text" -type f | wc -l) files)"
row data tool "MB/s" "RSS(MiB)" "out(MiB)" ratio
for d in "$rand" "$text"; do
  run "slipway pack gzip (ISA-L level 2)"  "$d" "$T pack -c gzip '$d' 2>/dev/null"
  run "slipway pack zstd (level 3, MT)"    "$d" "$T pack -c zstd '$d' 2>/dev/null"
  run "slipway pack uncompressed"          "$d" "$T pack -c none '$d' 2>/dev/null"
  run "tar | gzip (-6, buildx's level)"    "$d" "tar -C '$d' -cf - . | gzip -6"
  run "tar | pigz (-6, $(nproc) threads)"  "$d" "tar -C '$d' -cf - . | pigz -6"
  run "tar | zstd -3 -T0"                  "$d" "tar -C '$d' -cf - . | zstd -q -3 -T0"
done
