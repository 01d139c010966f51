#!/usr/bin/env bash
# The action's version and install steps, run as the runner runs them: slipway is built
# from the action's checkout (this tree) into runner.tool_cache/slipway/VERSION — the path
# actions/cache keeps — and a second run with that prefix present builds nothing.
. tests/lib.sh
python3 -c 'import yaml' 2>/dev/null || { fail "python3-yaml installed (make deps)"; exit 0; }
dir=$(scratch_dir)
step() { # CASE STEP CONTEXT_JSON
  local c=$dir/$1; mkdir -p "$c"; : > "$c/output"; : > "$c/path"
  echo "$3" > "$c/ctx.json"
  GITHUB_OUTPUT=$c/output GITHUB_PATH=$c/path timeout 900 python3 tests/action/run-step.py action.yml "$2" "$c/ctx.json" > "$c/log" 2>&1
}
step version version '{}'; rc=$?
key=$(sed -n 's/^key=//p' "$dir/version/output")
check "version step: VERSION-HASH" bash -c '[ '"$rc"' -eq 0 ] && [[ $1 =~ ^[0-9.]+-[0-9a-f]{12}$ ]]' _ "$key"
ctx=$(jq -n --arg k "$key" --arg tc "$dir/toolcache" '{steps: {version: {outputs: {key: $k}}}, runner: {tool_cache: $tc}}')
step install1 install "$ctx"; rc=$?
prefix=$dir/toolcache/slipway/$key
check "install step: slipway built into the tool cache" bash -c '[ '"$rc"' -eq 0 ] && "$1/bin/slipway" version | grep -q "^slipway "' _ "$prefix"
[ "$rc" -eq 0 ] || tail -5 "$dir/install1/log"
check "install step: output bin, and PREFIX/bin on GITHUB_PATH" bash -c '
  grep -qx "bin=$1/bin/slipway" "$2/output" && grep -qx "$1/bin" "$2/path"' _ "$prefix" "$dir/install1"
step install2 install "$ctx"; rc=$?
check "install step again (as restored by actions/cache): nothing built" bash -c '
  [ '"$rc"' -eq 0 ] && grep -q "already in" "$1/log" && ! grep -q "make install" "$1/log" && grep -qx "bin=$2/bin/slipway" "$1/output"' _ "$dir/install2" "$prefix"
echo "another" > "$prefix/.slipway-version"
step install3 install "$ctx"; rc=$?
check "a prefix holding another version is rebuilt" bash -c '[ '"$rc"' -eq 0 ] && ! grep -q "already in" "$1/log" && [ "$(cat "$2/.slipway-version")" = "$3" ]' _ "$dir/install3" "$prefix" "$key"
