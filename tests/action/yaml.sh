#!/usr/bin/env bash
# action.yml and examples/github/*.yml are valid YAML; action.yml is a composite action
# with every input and output docker/build-push-action documents, with its defaults, and
# passes each input to the build step; the examples use the action.
. tests/lib.sh
python3 -c 'import yaml' 2>/dev/null || { fail "python3-yaml installed (make deps)"; exit 0; }

check "action.yml parses as YAML" python3 -c 'import yaml,sys; yaml.safe_load(open("action.yml"))'
for f in examples/github/*.yml; do
  check "$f parses as YAML" python3 -c 'import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); assert d["jobs"]' "$f"
done
check "four example workflows, each using the action" bash -c '
  [ "$(ls examples/github/*.yml | wc -l)" -ge 4 ] && for f in examples/github/*.yml; do grep -q "uses: OWNER/slipway@" "$f" || exit 1; done'

check "inputs and outputs: build-push-action's, with its defaults" python3 - <<'PY'
import yaml, sys
# docker/build-push-action v6's inputs (action.yml) and their defaults (None: no default)
BUILD_PUSH_ACTION_V6_INPUTS = {
    "add-hosts": None, "allow": None, "annotations": None, "attests": None,
    "build-args": None, "build-contexts": None, "builder": None, "cache-from": None,
    "cache-to": None, "call": None, "cgroup-parent": None, "context": None, "file": None,
    "labels": None, "load": "false", "network": None, "no-cache": "false",
    "no-cache-filters": None, "outputs": None, "platforms": None, "provenance": None,
    "pull": "false", "push": "false", "sbom": None, "secrets": None, "secret-envs": None,
    "secret-files": None, "shm-size": None, "ssh": None, "tags": None, "target": None,
    "ulimit": None, "github-token": "${{ github.token }}",
}
BUILD_PUSH_ACTION_V6_OUTPUTS = {"imageid", "digest", "metadata"}
a = yaml.safe_load(open("action.yml"))
errors = []
inputs = a.get("inputs") or {}
missing = set(BUILD_PUSH_ACTION_V6_INPUTS) - set(inputs)
extra = set(inputs) - set(BUILD_PUSH_ACTION_V6_INPUTS)
if missing: errors.append(f"missing inputs: {sorted(missing)}")
if extra: errors.append(f"inputs build-push-action does not have: {sorted(extra)}")
for name, default in BUILD_PUSH_ACTION_V6_INPUTS.items():
    spec = inputs.get(name) or {}
    if spec.get("default") != default:
        errors.append(f"input {name}: default {spec.get('default')!r}, build-push-action has {default!r}")
    if spec.get("required", False):
        errors.append(f"input {name} is required; none is in build-push-action")
if set(a.get("outputs") or {}) != BUILD_PUSH_ACTION_V6_OUTPUTS:
    errors.append(f"outputs {sorted(a.get('outputs') or {})}")
runs = a["runs"]
if runs.get("using") != "composite": errors.append("not a composite action")
build = next(s for s in runs["steps"] if s.get("id") == "build")
for name in BUILD_PUSH_ACTION_V6_INPUTS:
    var = "INPUT_" + name.upper().replace("-", "_")
    if build["env"].get(var) != "${{ inputs.%s }}" % name:
        errors.append(f"the build step does not pass {name} as {var}")
for o in BUILD_PUSH_ACTION_V6_OUTPUTS:
    if a["outputs"][o].get("value") != "${{ steps.build.outputs.%s }}" % o:
        errors.append(f"output {o} does not come from the build step")
print("\n".join(errors))
sys.exit(1 if errors else 0)
PY
check "every input is read by action/build.sh" bash -c '
  for n in $(python3 -c "import yaml; print(\" \".join(yaml.safe_load(open(\"action.yml\"))[\"inputs\"]))"); do
    grep -qE "(input|parse_list|bool) $n([ ;)]|\$)" action/build.sh || { echo "not read: $n"; exit 1; }
  done'
check "the install step builds with tests/deps.sh's build packages" bash -c '
  . <(sed -n "/^build_deps()/,/^}/p" action/install.sh); d=$(build_deps | tr "\n" " ")
  for p in gcc make pkg-config libarchive-dev libcurl4-openssl-dev libjansson-dev libseccomp-dev; do grep -qw -- "$p" <<<"$d" || exit 1; done'
