#!/usr/bin/env bash
# The GitHub Action (action.yml, action/): every script of tests/action/, each run as an
# integration test is (PASS/FAIL/SKIP lines), from the repository's top.
. tests/lib.sh
for t in tests/action/*.sh; do
  [ -f "$t" ] || continue
  name=$(basename "$t" .sh)
  out=$(timeout 1800 bash "$t" 2>&1); rc=$?
  # each line prefixed with the script's name, so that two scripts' checks stay apart
  grep -E '^(PASS|FAIL|SKIP) ' <<<"$out" | sed -E "s/^(PASS|FAIL|SKIP) /\1 $name: /"
  if [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
    fail "$name" "exited $rc: $(tail -3 <<<"$out" | tr '\n' ' ')"
  fi
done
