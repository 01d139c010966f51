#!/usr/bin/env bash
# action/build.sh's readers, sourced: build-push-action's list syntax (Util.getInputList:
# newline-separated CSV records, commas splitting one-field records unless the input is
# one of those read with ignoreComma, quotes, trimming) and the summary's step table.
. tests/lib.sh
. action/build.sh
set +euo pipefail
# list NAME VALUE OPTS…: the items, each in [ ]
list() { local n=$1 v=$2; shift 2; export "INPUT_${n^^}"="$v"; n=${n//_/-}; parse_list "$n" "$@"; printf '[%s]' "${LIST[@]}"; }

check "tags: newlines and commas both separate, blanks dropped, items trimmed" \
  test "$(list tags $'a/b:1,a/b:2\n  a/b:3  \n\n')" = "[a/b:1][a/b:2][a/b:3]"
check "platforms: \"linux/amd64, linux/arm64\"" test "$(list platforms 'linux/amd64, linux/arm64')" = "[linux/amd64][linux/arm64]"
check "build-args (ignoreComma): a comma stays in the value" \
  test "$(list build_args $'A=1,2\nB=x' ignore-comma)" = "[A=1,2][B=x]"
check "a quoted record is unquoted, \"\" is a quote" \
  test "$(list labels $'"k=a ""q"" b"\nl=2' ignore-comma)" = '[k=a "q" b][l=2]'
check "a quoted record may span lines (multi-line secret)" \
  test "$(list secrets $'"K=line1\nline2"\nL=v' ignore-comma no-trim)" = $'[K=line1\nline2][L=v]'
check "secrets keep their spaces (trimWhitespace false)" \
  test "$(list secrets 'K= v ' ignore-comma no-trim)" = "[K= v ]"
check "outputs: quotes are not special (quote: false)" \
  test "$(list outputs 'type=local,dest="x y"' ignore-comma no-quote)" = '[type=local,dest="x y"]'
check "a one-field record is split at commas even when quoted (as getInputList)" \
  test "$(list tags '"a,b"')" = "[a][b]"
check "metadata-action annotations: level prefixes kept whole" \
  test "$(list annotations $'manifest:org.opencontainers.image.title=t\nindex:org.opencontainers.image.description=a, b' ignore-comma)" = \
       "[manifest:org.opencontainers.image.title=t][index:org.opencontainers.image.description=a, b]"
env 'INPUT_NO-CACHE-FILTERS=a,b' bash -c '. action/build.sh; set +eu; parse_list no-cache-filters; [ "$(printf "[%s]" "${LIST[@]}")" = "[a][b]" ]' &&
  pass "INPUT_NAME-WITH-HYPHENS (the runner's spelling for JavaScript actions) is read" ||
  fail "INPUT_NAME-WITH-HYPHENS (the runner's spelling for JavaScript actions) is read"

log=$(mktemp); on_exit "rm -f $log"
cat > "$log" <<'LOG'
#1 [internal] load build definition from Dockerfile
#1 DONE 0.0s

#2 [internal] load metadata for r/busybox:latest
#2 CACHED

#3 [stage-0 2/3] RUN echo a | b
#3 0.104 DONE something printed by the step
#3 DONE 1.5s

#4 [stage-0 3/3] RUN false
#4 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1
LOG
t=$(steps_table "$log")
check "summary steps: times, CACHED, ERROR, a log line is no DONE, pipes escaped" test "$t" = '| 1 | `[internal] load build definition from Dockerfile` | 0.0s |
| 2 | `[internal] load metadata for r/busybox:latest` | CACHED |
| 3 | `[stage-0 2/3] RUN echo a \| b` | 1.5s |
| 4 | `[stage-0 3/3] RUN false` | ERROR |'
