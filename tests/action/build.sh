#!/usr/bin/env bash
# The action's build step, run as the runner runs it (tests/action/run-step.py: inputs
# substituted into action.yml's env, GITHUB_OUTPUT/GITHUB_ENV/GITHUB_STEP_SUMMARY as
# files), against a TLS registry with htpasswd whose credentials are in a DOCKER_CONFIG
# written as docker/login-action writes it.  Each output is checked against the registry.
. tests/lib.sh
command -v docker-registry >/dev/null || { fail "docker-registry installed"; exit 0; }
dir=$(scratch_dir)
start_registry "$dir/plain" || { fail "registry starts"; exit 0; }
P=$REGISTRY
tests/fixtures/push-busybox.sh "$P" base/busybox:latest >/dev/null || { fail "base image pushed"; exit 0; }
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=slipway-action-ca
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext
  htpasswd -Bbn ci 'ci-P4ss' > htpasswd
) >/dev/null 2>&1
start_registry_ext "$dir/tls" https "  tls: { certificate: $dir/srv.pem, key: $dir/srv.key }" \
  "auth: { htpasswd: { realm: test, path: $dir/htpasswd } }" || { fail "TLS registry starts"; exit 0; }
T=$REGISTRY
export SSL_CERT_FILE=$dir/ca.pem
# docker/login-action: config.json with auths[registry].auth = base64(user:password)
export DOCKER_CONFIG=$dir/docker
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$T" "$(printf 'ci:ci-P4ss' | base64)" > "$DOCKER_CONFIG/config.json"
export SLIPWAY_STATE_DIR=$dir/state RUNNER_TEMP=$dir/runner-temp
mkdir -p "$RUNNER_TEMP"
sk() { skopeo "$@" --tls-verify=false --creds ci:ci-P4ss; }
raw_digest() { sk inspect --raw "docker://$1" | sha256sum | sed 's/^/sha256:/; s/ .*//'; }
export -f raw_digest sk

# run_action CASE WORKSPACE INPUTS_JSON: the build step; its files in $dir/CASE/
run_action() {
  local c=$dir/$1
  mkdir -p "$c"
  : > "$c/output"; : > "$c/env"; : > "$c/summary"
  jq -n --argjson inputs "$3" --arg bin "$SLIPWAY" --arg ws "$2" --arg temp "$RUNNER_TEMP" \
    '{inputs: $inputs, steps: {install: {outputs: {bin: $bin}}}, github: {token: "ghs_fake", workspace: $ws},
      runner: {temp: $temp, tool_cache: $temp}}' > "$c/ctx.json"
  (cd "$2" && GITHUB_OUTPUT=$c/output GITHUB_ENV=$c/env GITHUB_STEP_SUMMARY=$c/summary GITHUB_WORKSPACE=$2 \
     timeout 900 python3 "$TOP/tests/action/run-step.py" "$TOP/action.yml" build "$c/ctx.json") > "$c/log" 2>&1
}
# output CASE NAME: a step output, from GITHUB_OUTPUT's NAME=VALUE and NAME<<DELIM forms
output() {
  python3 - "$dir/$1/output" "$2" <<'PY'
import sys
lines, want, out = open(sys.argv[1]).read().split("\n"), sys.argv[2], None
i = 0
while i < len(lines):
    l = lines[i]
    if "<<" in l and ("=" not in l or l.index("<<") < l.index("=")):
        name, delim = l.split("<<", 1)
        j = lines.index(delim, i + 1)
        val = "\n".join(lines[i + 1:j])
        i = j + 1
    elif "=" in l:
        name, val = l.split("=", 1)
        i += 1
    else:
        i += 1
        continue
    if name == want:
        out = val
print(out if out is not None else "", end="")
PY
}

# ---- 1. one platform, a build arg, a secret, the builder input ----------------------------
ws=$dir/ws1; mkdir -p "$ws"
cat > "$ws/Dockerfile" <<DF
FROM $P/base/busybox:latest
ARG GREETING
RUN --mount=type=secret,id=token sh -c 'cat /run/secrets/token | sha256sum > /token.sum; echo "\$GREETING" > /greeting'
DF
secret='s3cr3t value, with a comma'
run_action one "$ws" "$(jq -n --arg t "$T/app/one:1" --arg s "token=$secret" \
  '{tags: $t, push: "true", "build-args": "GREETING=hello, world", secrets: $s, builder: "mybuilder"}')"; rc=$?
check "single platform: the step succeeds" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -5 "$dir/one/log"
d=$(output one digest)
check "single platform: digest names what the tag names" bash -c '[ -n "$1" ] && [ "$1" = "$(raw_digest "$2")" ]' _ "$d" "$T/app/one:1"
md=$(output one metadata)
check "single platform: metadata parses and has buildx's keys" bash -c '
  jq -e "has(\"containerimage.digest\") and has(\"containerimage.config.digest\") and has(\"containerimage.descriptor\")
         and has(\"image.name\") and has(\"buildx.build.ref\") and has(\"buildx.build.warnings\")
         and .[\"containerimage.digest\"] == \"$2\" and .[\"containerimage.descriptor\"].digest == \"$2\"
         and .[\"image.name\"] == \"$3\"" <<<"$1" >/dev/null' _ "$md" "$d" "$T/app/one:1"
check "single platform: imageid is the config digest" bash -c '
  [ "$1" = "$(sk inspect --raw docker://$2 | jq -r .config.digest)" ]' _ "$(output one imageid)" "$T/app/one:1"
skopeo copy -q --src-tls-verify=false --src-creds ci:ci-P4ss "docker://$T/app/one:1" "oci:$dir/oci1:x" >/dev/null 2>&1 && umoci unpack --image "$dir/oci1:x" "$dir/b1" >/dev/null 2>&1
check "the secret reached the RUN (its hash is in the image)" bash -c '[ "$(cut -d" " -f1 "$1")" = "$(printf %s "$2" | sha256sum | cut -d" " -f1)" ]' _ "$dir/b1/rootfs/token.sum" "$secret"
check "a build arg with a comma stays one (ignoreComma)" grep -qx "hello, world" "$dir/b1/rootfs/greeting"
check "the secret's value is masked and not in the log" bash -c '
  grep -qxF "::add-mask::$2" "$1" && [ "$(grep -cF "$2" "$1")" = 1 ]' _ "$dir/one/log" "$secret"
check "the secret's temp file is removed" bash -c '[ -z "$(ls -A "$1")" ]' _ "$RUNNER_TEMP"
check "builder: accepted with a notice naming it" grep -q "^::notice title=slipway::input builder=mybuilder" "$dir/one/log"
check "the build log is grouped" bash -c 'grep -qx "::group::slipway build" "$1" && grep -qx "::endgroup::" "$1"' _ "$dir/one/log"
check "summary: digest, tag, size and the steps with their times" bash -c '
  s=$1; grep -qF "$2" "$s" && grep -qF "$3" "$s" && grep -qE "^\| linux/amd64 \| [0-9.]+[kM]?B \|" "$s" &&
  grep -qE "^\| [0-9]+ \| \`\[.*RUN --mount=type=secret.*\` \| [0-9.]+s \|$" "$s"' _ "$dir/one/summary" "$d" "$T/app/one:1"

# ---- 2. two platforms, metadata-action's outputs as they come -----------------------------
ws=$dir/ws2; mkdir -p "$ws"
printf 'FROM %s/base/busybox:latest\nRUN uname -m > /arch\n' "$P" > "$ws/Dockerfile"
tags="$T/app/multi:1.2.3
$T/app/multi:latest"
labels='org.opencontainers.image.title=multi
org.opencontainers.image.description=two platforms, one index
org.opencontainers.image.version=1.2.3'
annotations='manifest:org.opencontainers.image.title=multi
manifest:org.opencontainers.image.version=1.2.3
index:org.opencontainers.image.title=multi
index:org.opencontainers.image.description=two platforms, one index'
run_action multi "$ws" "$(jq -n --arg t "$tags" --arg l "$labels" --arg a "$annotations" \
  '{tags: $t, labels: $l, annotations: $a, platforms: "linux/amd64,linux/arm64", push: "true"}')"; rc=$?
check "two platforms (arm64 under QEMU): the step succeeds" test "$rc" -eq 0
[ "$rc" -eq 0 ] || tail -5 "$dir/multi/log"
d=$(output multi digest)
idx=$(sk inspect --raw "docker://$T/app/multi:1.2.3" 2>/dev/null)
check "two platforms: digest names the index both tags name" bash -c '
  [ -n "$1" ] && [ "$1" = "$(raw_digest "$2:1.2.3")" ] && [ "$1" = "$(raw_digest "$2:latest")" ]' _ "$d" "$T/app/multi"
check "two platforms: the index lists amd64 and arm64, with index: annotations" bash -c '
  jq -e "([.manifests[].platform.architecture] == [\"amd64\",\"arm64\"]) and .annotations[\"org.opencontainers.image.description\"] == \"two platforms, one index\"" <<<"$1" >/dev/null' _ "$idx"
m=$(sk inspect --raw "docker://$T/app/multi@$(jq -r '.manifests[1].digest' <<<"$idx")" 2>/dev/null)
check "two platforms: manifest: annotations on each image" bash -c '
  jq -e ".annotations[\"org.opencontainers.image.version\"] == \"1.2.3\" and (.annotations | has(\"org.opencontainers.image.description\") | not)" <<<"$1" >/dev/null' _ "$m"
check "two platforms: labels in the config, the one with a comma whole" bash -c '
  sk inspect --config docker://$1@$(jq -r ".manifests[1].digest" <<<"$2") |
  jq -e ".architecture == \"arm64\" and .config.Labels[\"org.opencontainers.image.description\"] == \"two platforms, one index\" and .config.Labels[\"org.opencontainers.image.version\"] == \"1.2.3\"" >/dev/null' _ "$T/app/multi" "$idx"
check "two platforms: metadata image.name lists both tags" bash -c '
  [ "$(jq -r ".[\"image.name\"]" <<<"$1")" = "$2:1.2.3,$2:latest" ]' _ "$(output multi metadata)" "$T/app/multi"
check "two platforms: summary has a size for each platform" bash -c '
  grep -qE "^\| linux/amd64 \| [0-9.]+[kM]?B \|" "$1" && grep -qE "^\| linux/arm64 \| [0-9.]+[kM]?B \|" "$1"' _ "$dir/multi/summary"

# ---- 3. a matrix split per platform, pushed by digest, merged with imagetools create ------
ws=$dir/ws5; mkdir -p "$ws"
printf 'FROM %s/base/busybox:latest\nRUN uname -m > /arch\n' "$P" > "$ws/Dockerfile"
digests=()
for plat in linux/amd64 linux/arm64; do
  run_action "matrix-${plat#*/}" "$ws" "$(jq -n --arg p "$plat" --arg o "type=image,name=$T/app/matrix,push-by-digest=true,name-canonical=true,push=true" \
    '{platforms: $p, outputs: $o}')" || tail -5 "$dir/matrix-${plat#*/}/log"
  digests+=("$(output "matrix-${plat#*/}" digest)")
done
check "matrix: each platform's job gives a digest, and pushes no tag" bash -c '
  [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ] &&
  # the registry answers 404 for a repository without tags
  n=$(sk list-tags docker://$3 2>/dev/null | jq ".Tags | length") ; [ "${n:-0}" = 0 ] &&
  sk inspect --raw docker://$3@$1 >/dev/null && sk inspect --raw docker://$3@$2 >/dev/null' _ "${digests[@]}" "$T/app/matrix"
check "matrix: metadata image.name is NAME@DIGEST (name-canonical)" bash -c '
  [ "$(jq -r ".[\"image.name\"]" <<<"$1")" = "$2@$3" ]' _ "$(output matrix-arm64 metadata)" "$T/app/matrix" "${digests[1]}"
"$SLIPWAY" imagetools create -t "$T/app/matrix:1" "$T/app/matrix@${digests[0]}" "$T/app/matrix@${digests[1]}" >/dev/null 2>&1
check "matrix: imagetools create merges the digests into one index" bash -c '
  sk inspect --raw docker://$1 | jq -e "[.manifests[].digest] == [\"$2\", \"$3\"] and [.manifests[].platform.architecture] == [\"amd64\",\"arm64\"]" >/dev/null' \
  _ "$T/app/matrix:1" "${digests[@]}"

# ---- 3b. a Git context on "the GitHub server", fetched with the github-token input -------
repo=$dir/gitrepo
git init -q -b main "$repo"
printf 'from git\n' > "$repo/hello"
printf 'FROM %s/base/busybox:latest\nCOPY hello /hello\n' "$P" > "$repo/Dockerfile"
git -C "$repo" add -A && git -C "$repo" -c user.email=t@example.com -c user.name=t commit -qm one
mkdir -p "$dir/gitsrv/o" && git clone -q --bare "$repo" "$dir/gitsrv/o/r.git" && git -C "$dir/gitsrv/o/r.git" update-server-info
gport=$(free_port)
python3 tests/helpers/git-http-server.py "$dir/gitsrv" "$gport" ghs_tok3n >/dev/null 2>&1 &
gpid=$!
on_exit "kill $gpid 2>/dev/null; wait $gpid 2>/dev/null"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$gport/" && break; sleep 0.1; done
ws=$dir/ws-empty; mkdir -p "$ws"
GITHUB_SERVER_URL=http://127.0.0.1:$gport run_action git "$ws" "$(jq -n --arg t "$T/app/git:1" --arg c "http://127.0.0.1:$gport/o/r.git#$(git -C "$repo" rev-parse HEAD)" \
  '{tags: $t, push: "true", context: $c, "github-token": "ghs_tok3n"}')"; rc=$?
check "Git context: fetched with github-token (as GIT_AUTH_TOKEN.HOST), built, pushed" bash -c '
  [ "$1" -eq 0 ] && [ "$2" = "$(raw_digest "$3")" ]' _ "$rc" "$(output git digest)" "$T/app/git:1"
[ "$rc" -eq 0 ] || tail -5 "$dir/git/log"
check "Git context: the token is masked and nowhere in the log" bash -c '
  grep -qx "::add-mask::ghs_tok3n" "$1" && [ "$(grep -c ghs_tok3n "$1")" = 1 ]' _ "$dir/git/log"

# ---- 4. inputs slipway cannot honour -----------------------------------------------------
ws=$dir/ws3; mkdir -p "$ws"; printf 'FROM %s/base/busybox:latest\n' "$P" > "$ws/Dockerfile"
run_action unsupported "$ws" "$(jq -n --arg t "$T/app/no:1" \
  '{tags: $t, push: "true", "cache-from": "type=gha", "cache-to": "type=gha,mode=max"}')"; rc=$?
check "cache-from type=gha: the step fails naming the cache type" bash -c '[ "$1" -ne 0 ] && grep -q "not supported yet: --cache-.* type=gha" "$2"' _ "$rc" "$dir/unsupported/log"
check "cache-from: nothing pushed" bash -c '! sk inspect --raw docker://$1 >/dev/null 2>&1' _ "$T/app/no:1"
run_action unsupported2 "$ws" "$(jq -n --arg t "$T/app/no:1" '{tags: $t, push: "true", call: "outline"}')"; rc=$?
check "call: outline: the step fails naming it" bash -c '[ "$1" -ne 0 ] && grep -q "not supported yet: --call=outline" "$2"' _ "$rc" "$dir/unsupported2/log"
run_action badbool "$ws" "$(jq -n --arg t "$T/app/no:1" '{tags: $t, push: "yes"}')"; rc=$?
check "push: yes is no boolean: fails naming the input" bash -c '[ "$1" -ne 0 ] && grep -q "input push" "$2"' _ "$rc" "$dir/badbool/log"

run_action badsecret "$ws" "$(jq -n --arg t "$T/app/no:1" '{tags: $t, secrets: "no-equals-sign-s3cr3t"}')"; rc=$?
check "secrets: an entry without = fails without showing it" bash -c '[ "$1" -ne 0 ] && grep -q "input secrets: entry 1 has no" "$2" && ! grep -q s3cr3t "$2"' _ "$rc" "$dir/badsecret/log"

# ---- 5. a failing build --------------------------------------------------------------------
ws=$dir/ws4; mkdir -p "$ws"; printf 'FROM %s/base/busybox:latest\nRUN exit 3\n' "$P" > "$ws/Dockerfile"
run_action failing "$ws" "$(jq -n --arg t "$T/app/fail:1" '{tags: $t, push: "true"}')"; rc=$?
check "a failing build fails the step with an error line, pushes nothing" bash -c '
  [ "$1" -ne 0 ] && grep -q "^::error title=slipway::build failed" "$2" && ! sk inspect --raw docker://$3 >/dev/null 2>&1' _ "$rc" "$dir/failing/log" "$T/app/fail:1"
check "a failing build: the summary says so and shows the failed step" bash -c '
  grep -q "^### slipway build failed" "$1" && grep -qE "RUN exit 3.*\| ERROR \|" "$1"' _ "$dir/failing/summary"
