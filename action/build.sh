#!/usr/bin/env bash
# action/build.sh — the build step of slipway's GitHub Action (action.yml).
#
# Reads docker/build-push-action's inputs from the environment as INPUT_<NAME> (the name
# upper-cased; "build-args" may come as INPUT_BUILD_ARGS or, as the runner spells it for
# other actions, INPUT_BUILD-ARGS), turns them into one `slipway build`, and writes the
# outputs imageid, digest and metadata to $GITHUB_OUTPUT, a Markdown summary to
# $GITHUB_STEP_SUMMARY.  Lists follow build-push-action's syntax (see parse_list).
#
# SLIPWAY names the binary (default: slipway on PATH); SLIPWAY_STATE_DIR, when set, is
# passed as --state-dir.  When not root, slipway runs under
# sudo -E (it needs namespaces and mounts), with DOCKER_CONFIG pinned to the caller's so
# that docker/login-action's credentials are the ones used.
set -euo pipefail

err() { echo "::error title=slipway::$*"; exit 1; }
notice() { echo "::notice title=slipway::$*"; }

# input NAME: the input's value ("" when unset).
input() {
  local up=${1^^} v
  v=$(printenv "INPUT_${up//-/_}") || v=$(printenv "INPUT_$up") || v=
  printf '%s' "$v"
}

# trim: strip leading and trailing whitespace (core.getInput does it for every input).
trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

# parse_list NAME [ignore-comma] [no-quote] [no-trim]: the input as build-push-action's
# Util.getInputList reads it, into the array LIST.  The text is CSV: records end at
# newlines, a field wrapped in double quotes may hold commas, newlines and "" for a quote
# (a quote inside an unquoted field is kept as is).  A record of one field is split at
# commas unless ignore-comma; a record of several fields gives each field, or, with
# ignore-comma, the fields joined back with commas.  Empty items are dropped, the others
# trimmed (unless no-trim).
parse_list() {
  local name=$1; shift
  local ignore_comma=false quote=true do_trim=true o
  for o in "$@"; do
    case $o in ignore-comma) ignore_comma=true ;; no-quote) quote=false ;; no-trim) do_trim=false ;; esac
  done
  local text; text=$(input "$name")
  $do_trim && text=$(trim "$text")
  LIST=()
  local -a fields=()
  local field="" in_quotes=false field_start=true i c n=${#text}
  flush_record() {
    local f
    if [ ${#fields[@]} -eq 1 ] && [ -z "${fields[0]}" ]; then fields=(); return; fi
    if [ ${#fields[@]} -eq 1 ]; then
      if $ignore_comma; then LIST+=("${fields[0]}"); else
        # even a quoted field is split: getInputList does so for a record of one field
        f=${fields[0]}
        while [[ $f == *,* ]]; do LIST+=("${f%%,*}"); f=${f#*,}; done
        LIST+=("$f")
      fi
    elif $ignore_comma; then
      local joined=${fields[0]}
      for f in "${fields[@]:1}"; do joined+=",$f"; done
      LIST+=("$joined")
    else
      LIST+=("${fields[@]}")
    fi
    fields=()
  }
  for ((i = 0; i < n; i++)); do
    c=${text:i:1}
    if $in_quotes; then
      if [ "$c" = '"' ]; then
        if [ "${text:i+1:1}" = '"' ]; then field+='"'; i=$((i + 1)); else in_quotes=false; fi
      else
        field+=$c
      fi
      continue
    fi
    case $c in
      '"')
        if $quote && $field_start; then in_quotes=true; field_start=false; else field+=$c; field_start=false; fi ;;
      ,) fields+=("$field"); field=""; field_start=true ;;
      $'\r') ;;
      $'\n') fields+=("$field"); field=""; field_start=true; flush_record ;;
      *) field+=$c; field_start=false ;;
    esac
  done
  fields+=("$field"); flush_record
  local -a out=()
  for o in "${LIST[@]}"; do
    $do_trim && o=$(trim "$o")
    [ -n "$o" ] && out+=("$o")
  done
  LIST=("${out[@]}")
}

# bool NAME: core.getBooleanInput — true/True/TRUE, false/False/FALSE; empty is false.
bool() {
  local v; v=$(trim "$(input "$1")")
  case $v in
    true | True | TRUE) return 0 ;;
    false | False | FALSE | "") return 1 ;;
    *) err "input $1: \"$v\" is not a boolean (use true or false)" ;;
  esac
}

# steps_table LOG: the steps from the plain progress: "#N NAME" opens step N, "#N DONE 1.2s",
# "#N CACHED" and "#N ERROR: …" close it.
steps_table() {
  awk '
    /^#[0-9]+ / {
      id = $1; rest = substr($0, length($1) + 2)
      if (!(id in name)) { name[id] = rest; order[++n] = id; next }
      if (rest ~ /^DONE [0-9.]+s$/) { split(rest, a, " "); state[id] = a[2] }
      else if (rest == "CACHED") state[id] = "CACHED"
      else if (rest ~ /^ERROR/) state[id] = "ERROR"
    }
    END {
      for (i = 1; i <= n; i++) {
        id = order[i]; s = (id in state) ? state[id] : ""
        gsub(/\|/, "\\|", name[id])
        printf "| %s | `%s` | %s |\n", substr(id, 2), name[id], s
      }
    }' "$1"
}

# sourced (tests/action/lists.sh): the functions only
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then return 0; fi

SLIPWAY=${SLIPWAY:-slipway}
work=$(mktemp -d "${RUNNER_TEMP:-/tmp}/slipway-action.XXXXXX")
# secrets are written here: removed whatever happens
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# ---- what slipway cannot honour: refuse it, naming the input -------------------------------
# `slipway build --help` marks the flags it does not implement yet; an input that maps to
# one of those fails here, before anything is built.
help=$("$SLIPWAY" build --help)
unsupported() { grep -qE -- "--$1( value)? .*\(not supported yet\)" <<<"$help"; }
refuse_if_unsupported() { # INPUT FLAG
  if unsupported "$2"; then
    err "input $1: slipway cannot honour it yet (it maps to --$2, which slipway does not implement); remove it to build with slipway"
  fi
}

args=(build)
ws=${GITHUB_WORKSPACE:-$PWD}

# builder: slipway builds in-process, there is no builder to choose
builder=$(trim "$(input builder)")
[ -n "$builder" ] && notice "input builder=$builder is meaningless for slipway (it builds in this process, with no builder instance): ignored"

parse_list add-hosts;                    for v in "${LIST[@]}"; do args+=(--add-host "$v"); done
parse_list allow;                        [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported allow allow
for v in "${LIST[@]}"; do args+=(--allow "$v"); done
parse_list annotations ignore-comma;     for v in "${LIST[@]}"; do args+=(--annotation "$v"); done
parse_list attests ignore-comma;         [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported attests attest
for v in "${LIST[@]}"; do args+=(--attest "$v"); done
parse_list build-args ignore-comma;      for v in "${LIST[@]}"; do args+=(--build-arg "$v"); done
parse_list build-contexts ignore-comma
for v in "${LIST[@]}"; do args+=(--build-context "${v//\{\{defaultContext\}\}/$ws}"); done
parse_list cache-from ignore-comma;      [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported cache-from cache-from
for v in "${LIST[@]}"; do args+=(--cache-from "$v"); done
parse_list cache-to ignore-comma;        [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported cache-to cache-to
for v in "${LIST[@]}"; do args+=(--cache-to "$v"); done
call=$(trim "$(input call)")
if [ -n "$call" ] && [ "$call" != build ]; then refuse_if_unsupported call call; args+=(--call "$call"); fi
cgroup_parent=$(trim "$(input cgroup-parent)")
if [ -n "$cgroup_parent" ]; then refuse_if_unsupported cgroup-parent cgroup-parent; args+=(--cgroup-parent "$cgroup_parent"); fi
file=$(trim "$(input file)")
[ -n "$file" ] && args+=(--file "$file")
parse_list labels ignore-comma;          for v in "${LIST[@]}"; do args+=(--label "$v"); done
bool load && args+=(--load)
network=$(trim "$(input network)")
[ -n "$network" ] && args+=(--network "$network")
bool no-cache && args+=(--no-cache)
parse_list no-cache-filters;             [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported no-cache-filters no-cache-filter
for v in "${LIST[@]}"; do args+=(--no-cache-filter "$v"); done
parse_list outputs ignore-comma no-quote; for v in "${LIST[@]}"; do args+=(--output "$v"); done
parse_list platforms;                    platforms=("${LIST[@]}")
if [ ${#platforms[@]} -gt 0 ]; then p=$(IFS=,; echo "${platforms[*]}"); args+=(--platform "$p"); fi
# provenance and sbom go to slipway's flags as they are; slipway says what it supports
provenance=$(trim "$(input provenance)")
[ -n "$provenance" ] && args+=(--provenance "$provenance")
sbom=$(trim "$(input sbom)")
[ -n "$sbom" ] && args+=(--sbom "$sbom")
bool pull && args+=(--pull)
bool push && args+=(--push)

# secrets: KEY=VALUE, the value through a file of $work (mode 600, removed at exit)
parse_list secrets ignore-comma no-trim
n=0
for v in "${LIST[@]}"; do
  n=$((n + 1))
  # the entry itself is never shown: without its "=" it may be the secret
  [[ $v == *=* ]] || err "input secrets: entry $n has no \"=\": expected KEY=VALUE"
  key=$(trim "${v%%=*}"); val=${v#*=}
  [ -n "$key" ] || err "input secrets: entry $n has no key: expected KEY=VALUE"
  # the value reaches the log only masked (a command's data escapes % as %25)
  while IFS= read -r line; do [ -n "$line" ] && echo "::add-mask::${line//%/%25}"; done <<<"$val"
  f=$work/secret-$n
  (umask 077; printf '%s' "$val" > "$f")
  args+=(--secret "id=$key,src=$f")
done
parse_list secret-envs
for v in "${LIST[@]}"; do
  [[ $v == *=* ]] || err "input secret-envs: \"$v\": expected KEY=ENVNAME"
  args+=(--secret "id=${v%%=*},env=${v#*=}")
done
parse_list secret-files ignore-comma
for v in "${LIST[@]}"; do
  [[ $v == *=* ]] || err "input secret-files: \"$v\": expected KEY=PATH"
  args+=(--secret "id=${v%%=*},src=${v#*=}")
done
shm=$(trim "$(input shm-size)")
if [ -n "$shm" ]; then refuse_if_unsupported shm-size shm-size; args+=(--shm-size "$shm"); fi
parse_list ssh;                          for v in "${LIST[@]}"; do args+=(--ssh "$v"); done
parse_list tags;                         tags=("${LIST[@]}")
for v in "${tags[@]}"; do args+=(--tag "$v"); done
target=$(trim "$(input target)")
[ -n "$target" ] && args+=(--target "$target")
parse_list ulimit ignore-comma;          [ ${#LIST[@]} -gt 0 ] && refuse_if_unsupported ulimit ulimit
for v in "${LIST[@]}"; do args+=(--ulimit "$v"); done
# context: the workspace by default (build-push-action's default is the repository's Git
# URL; slipway builds the checked-out directory).  "{{defaultContext}}:sub" is the subdir.
# A Git URL is fetched by slipway.
context=$(trim "$(input context)")
case $context in
  "") context=$ws ;;
  "{{defaultContext}}") context=$ws ;;
  "{{defaultContext}}:"*) context=$ws/${context#"{{defaultContext}}:"} ;;
esac

# github-token: as build-push-action, the token for a Git context on this GitHub server
# (unless the secrets already give one), through a file of $work
token=$(input github-token)
server=${GITHUB_SERVER_URL:-https://github.com}; server=${server#*://}; server=${server%%/*}
if [ -n "$token" ] && [[ $context == *://$server/* ]] && [[ $(input secrets) != *GIT_AUTH_TOKEN* ]]; then
  echo "::add-mask::${token//%/%25}"
  (umask 077; printf '%s' "$token" > "$work/git-token")
  args+=(--secret "id=GIT_AUTH_TOKEN.$server,src=$work/git-token")
fi

args+=(--metadata-file "$work/metadata.json" --iidfile "$work/iid" --progress plain)
[ -n "${SLIPWAY_STATE_DIR:-}" ] && args+=(--state-dir "$SLIPWAY_STATE_DIR")
args+=("$context")

run=("$SLIPWAY")
if [ "$(id -u)" != 0 ]; then
  export DOCKER_CONFIG=${DOCKER_CONFIG:-$HOME/.docker}
  run=(sudo -E env "PATH=$PATH" "$SLIPWAY")
fi

echo "::group::slipway build"
echo "slipway ${args[*]}" | sed 's/id=\([^,]*\),src=[^ ]*secret-[0-9]*/id=\1,src=…/g'
set +e
"${run[@]}" "${args[@]}" 2> >(tee "$work/build.log" >&2)
rc=$?
set -e
wait # the tee
echo "::endgroup::"

# ---- outputs ----------------------------------------------------------------------------
out_multiline() { # NAME FILE
  local delim; delim="ghadelimiter_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
  { echo "$1<<$delim"; cat "$2"; [ -z "$(tail -c1 "$2")" ] || echo; echo "$delim"; } >> "${GITHUB_OUTPUT:-/dev/null}"
}
imageid="" digest=""
[ -s "$work/iid" ] && imageid=$(cat "$work/iid")
if [ -s "$work/metadata.json" ]; then
  digest=$(jq -r '.["containerimage.digest"] // empty' "$work/metadata.json")
  out_multiline metadata "$work/metadata.json"
fi
echo "imageid=$imageid" >> "${GITHUB_OUTPUT:-/dev/null}"
echo "digest=$digest" >> "${GITHUB_OUTPUT:-/dev/null}"

# ---- the summary -------------------------------------------------------------------------
# size of one manifest: config + layers (compressed, as pushed)
manifest_size() { jq '[.config.size] + [.layers[].size] | add'; }

summary() {
  local status=$1
  echo "### slipway build $status"
  echo
  if [ ${#tags[@]} -gt 0 ]; then
    echo "**Tags:** $(printf '`%s` ' "${tags[@]}")"
    echo
  fi
  [ -n "$digest" ] && { echo "**Digest:** \`$digest\`"; echo; }
  [ -n "$imageid" ] && [ "$imageid" != "$digest" ] && { echo "**Image ID:** \`$imageid\`"; echo; }
  # sizes per platform, read back from the registry when the image was pushed
  if [ -n "$digest" ] && [ ${#tags[@]} -gt 0 ] && bool push; then
    local repo=${tags[0]%@*} raw
    [[ ${repo##*/} == *:* ]] && repo=${repo%:*}
    if raw=$("${run[@]}" imagetools inspect --raw "$repo@$digest" 2>/dev/null); then
      echo "| Platform | Size (compressed) |"
      echo "|---|---|"
      if jq -e '.manifests' <<<"$raw" >/dev/null; then
        jq -r '.manifests[] | select(.platform.os != "unknown") | "\(.digest) \(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end)"' <<<"$raw" |
          while read -r d p; do
            s=$("${run[@]}" imagetools inspect --raw "$repo@$d" 2>/dev/null | manifest_size) || s=?
            echo "| $p | $(numfmt --to=si --suffix=B "$s" 2>/dev/null || echo "$s B") |"
          done
      else
        s=$(manifest_size <<<"$raw")
        echo "| ${platforms[0]:-$(uname -m | sed 's/x86_64/linux\/amd64/; s/aarch64/linux\/arm64/')} | $(numfmt --to=si --suffix=B "$s" 2>/dev/null || echo "$s B") |"
      fi
      echo
    fi
  fi
  echo "| # | Step | Time |"
  echo "|---|---|---|"
  steps_table "$work/build.log"
}
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  if [ $rc -eq 0 ]; then summary succeeded; else summary failed; fi >> "$GITHUB_STEP_SUMMARY"
fi

if [ $rc -ne 0 ]; then
  echo "::error title=slipway::build failed: $(grep -v '^#' "$work/build.log" | grep -v '^$' | tail -1)"
  exit $rc
fi
echo "digest: $digest"
