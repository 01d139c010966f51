#!/usr/bin/env bash
# Run every test and end with one line: "N passed, N failed[, N skipped]".
#   unit:        $BUILD/tests/test_* (cmocka binaries, one per module)
#   integration: tests/integration/*.sh (see tests/lib.sh), the conformance suite among them
# Exit status: 0 when nothing failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export SLIPWAY=${SLIPWAY:-$PWD/slipway} TOP=$PWD
passed=0 failed=0 skipped=0
failures=()
fail_lines=()  # repeated at the end, where a log's tail shows them

for t in "$BUILD"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  out=$("$t" 2>&1); rc=$?
  p=$(grep -oE '^\[  PASSED  \] [0-9]+' <<<"$out" | grep -oE '[0-9]+$' | head -1)
  f=$(grep -oE '^\[  FAILED  \] [0-9]+ test' <<<"$out" | grep -oE '[0-9]+' | head -1)
  p=${p:-0} f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or failed outside a test
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -gt 0 ]; then
    failures+=("unit/$name")
    echo "$out" | grep -E 'FAILED|ERROR|Failure|error:|Sanitizer|runtime error' | head -20
  fi
  echo "unit $name: $p passed, $f failed"
done

for t in tests/integration/*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  start=$(date +%s)
  out=$(bash "$t" 2>&1); rc=$?
  p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out"); s=$(grep -c '^SKIP ' <<<"$out")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; out+=$'\n'"FAIL $name: exited $rc"; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  grep -E '^(FAIL|SKIP) ' <<<"$out" | sed "s|^|  $name: |"
  while IFS= read -r line; do fail_lines+=("$name: $line"); done < <(grep -E '^FAIL ' <<<"$out")
  if [ "$f" -gt 0 ]; then
    failures+=("integration/$name")
    grep -vE '^(PASS|FAIL|SKIP) ' <<<"$out" | tail -15 | sed "s#^#  $name | #"
  fi
  echo "integration $name: $p passed, $f failed, $s skipped ($(( $(date +%s) - start ))s)"
done

if [ ${#failures[@]} -gt 0 ]; then
  for line in "${fail_lines[@]}"; do echo "  $line"; done
  echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
