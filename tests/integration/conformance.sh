#!/usr/bin/env bash
# BuildKit's Dockerfile parser conformance cases (../shared/conformance/dockerfile-parser):
# `slipway debug ast` must print each testfiles case's result exactly, and reject every
# testfiles-negative case with a located error ("Dockerfile:LINE…" or "PATH: …").
. tests/lib.sh

dir=$SHARED/conformance/dockerfile-parser
if [ ! -d "$dir/testfiles" ]; then
  skip conformance "$dir is missing (CI has ../shared beside the clone); cases not run"
  exit 0
fi
tmp=$(scratch_dir)

for case in "$dir"/testfiles/*/; do
  name=$(basename "$case")
  if "$SLIPWAY" debug ast "$case/Dockerfile" >"$tmp/out" 2>"$tmp/err" \
     && cmp -s "$tmp/out" "$case/result"; then
    pass "ast/$name"
  else
    fail "ast/$name" "$(head -c 300 "$tmp/err"; diff "$case/result" "$tmp/out" | head -6 | tr '\n' ' ')"
  fi
done

for case in "$dir"/testfiles-negative/*/; do
  name=$(basename "$case")
  if "$SLIPWAY" debug ast "$case/Dockerfile" >"$tmp/out" 2>"$tmp/err"; then
    fail "negative/$name" "accepted: $(head -c 200 "$tmp/out")"
  elif grep -q "Dockerfile\(:[0-9]\+\)*: " "$tmp/err"; then
    pass "negative/$name"
  else
    fail "negative/$name" "error is not located: $(head -c 200 "$tmp/err")"
  fi
done
