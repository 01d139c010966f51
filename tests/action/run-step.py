#!/usr/bin/env python3
"""run-step.py ACTION_YML STEP_ID CONTEXT_JSON: run one step of a composite action the way the
GitHub runner does: every ${{ … }} in its env and run is replaced from the context (inputs
given in CONTEXT_JSON's "inputs", else the input's default from action.yml, itself
evaluated), then `run` goes to `bash --noprofile --norc -eo pipefail FILE` with the step's
env on top of ours.  CONTEXT_JSON also gives "steps" ({id: {outputs: {…}}}), "github" and
"runner".  Exits with the step's exit status."""
import json, os, re, subprocess, sys, tempfile

import yaml

action_path, step_id, ctx_path = sys.argv[1:4]
action = yaml.safe_load(open(action_path))
ctx = json.load(open(ctx_path))
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def lookup(expr):
    cur = ctx
    for part in expr.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ""
        cur = cur[part]
    return cur if isinstance(cur, str) else json.dumps(cur)


def evaluate(text):
    return EXPR.sub(lambda m: lookup(m.group(1)), str(text))


inputs = {}
for name, spec in (action.get("inputs") or {}).items():
    given = ctx.get("inputs", {}).get(name)
    inputs[name] = given if given is not None else evaluate((spec or {}).get("default", ""))
ctx["inputs"] = inputs

step = next((s for s in action["runs"]["steps"] if s.get("id") == step_id), None)
if step is None:
    sys.exit(f"run-step: no step with id {step_id} in {action_path}")
env = dict(os.environ)
env["GITHUB_ACTION_PATH"] = os.path.dirname(os.path.abspath(action_path))
for k, v in (step.get("env") or {}).items():
    env[k] = evaluate(v)
with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
    f.write(evaluate(step["run"]))
try:
    rc = subprocess.call(["bash", "--noprofile", "--norc", "-eo", "pipefail", f.name], env=env)
finally:
    os.unlink(f.name)
sys.exit(rc)
