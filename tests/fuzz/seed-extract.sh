#!/usr/bin/env bash
# Seeds for fuzz_extract (written into tests/fuzz/corpus-extract/, never committed): the
# hostile corpus of tests/fixtures/hostile_tars.py and small layers packed by layertool,
# uncompressed, gzip and zstd, each prefixed by the option byte the target reads first.
set -eu
cd "$(dirname "$0")"
TOP=$(cd ../.. && pwd)
T=$TOP/build/tools/layertool
[ -x "$T" ] || make -C "$TOP" unit >/dev/null
out=corpus-extract
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$TOP/tests/fixtures/hostile_tars.py" "$tmp/h" "$tmp/outside" >/dev/null
mkdir -p "$tmp/tree/d/e" && echo a > "$tmp/tree/a" && ln -s ../a "$tmp/tree/d/l" && ln "$tmp/tree/a" "$tmp/tree/d/h"
mkdir -p "$tmp/tree/o" && touch "$tmp/tree/o/.wh.x" "$tmp/tree/o/.wh..wh..opq"
i=0
for c in none gzip zstd; do
  "$T" pack -c $c "$tmp/tree" > "$tmp/l.$c" 2>/dev/null
done
for f in "$tmp"/h/*.tar* "$tmp"/l.*; do
  for opt in 0 1 2 9; do
    i=$((i + 1)); { printf "\\x$(printf %02x $opt)"; head -c 65536 "$f"; } > "$out/seed-$i"
  done
done
echo "fuzz_extract: $i seeds in $out"
