#!/usr/bin/env bash
# The `docker buildx` face through the real docker CLI: slipway linked as the CLI plugin
# docker-buildx in $DOCKER_CONFIG/cli-plugins (as `make install-buildx-plugin` does), no
# daemon anywhere.  `docker buildx build --push` must run slipway and push; version, ls and
# inspect answer what docker/build-push-action parses.
. tests/lib.sh
DOCKER=${DOCKER:-/opt/docker-sid/usr/bin/docker}
# the docker 28 CLI is unpacked by ../shared/bench/setup-buildx.sh; wait a while for it
for _ in $(seq 1 60); do [ -x "$DOCKER" ] && break; sleep 5; done
[ -x "$DOCKER" ] || { fail "docker CLI at $DOCKER (run ../shared/bench/setup-buildx.sh)"; exit 0; }
dir=$(scratch_dir)
export DOCKER_CONFIG=$dir/docker
# nothing listens there: a command that needed a daemon would fail
export DOCKER_HOST=unix://$dir/no-daemon.sock
mkdir -p "$DOCKER_CONFIG/cli-plugins"
make -s install-buildx-plugin BUILDX_PLUGIN_TARGET="$SLIPWAY" DOCKER_CLI_PLUGINS="$DOCKER_CONFIG/cli-plugins" >/dev/null ||
  { fail "make install-buildx-plugin"; exit 0; }
check "make install-buildx-plugin links docker-buildx to slipway" test "$(readlink -f "$DOCKER_CONFIG/cli-plugins/docker-buildx")" = "$(readlink -f "$SLIPWAY")"
dk() { timeout 120 "$DOCKER" "$@"; }

check "plugin metadata: SchemaVersion 0.1.0, Vendor, Version" bash -c '
  m=$("$DOCKER_CONFIG/cli-plugins/docker-buildx" docker-cli-plugin-metadata) &&
  jq -e ".SchemaVersion == \"0.1.0\" and .Vendor == \"slipway\" and (.Version | startswith(\"v0.29\")) and (.ShortDescription | length > 0)" <<<"$m" >/dev/null'
check "docker lists the plugin as buildx" bash -c '
  timeout 60 "'"$DOCKER"'" info --format "{{json .ClientInfo.Plugins}}" 2>/dev/null | jq -e ".[] | select(.Name == \"buildx\" and .Vendor == \"slipway\")" >/dev/null'
check "docker buildx (no command) succeeds, as build-push-action's availability check needs" dk buildx
ver=$(dk buildx version)
# build-push-action's parseVersion: the first /\sv?([0-9a-f]{7}|[0-9.]+)/
check "docker buildx version parses as buildx 0.29.0" bash -c '
  v=$(python3 -c "import re,sys; print(re.search(r\"\\sv?([0-9a-f]{7}|[0-9.]+)\", sys.argv[1]).group(1))" "$1") && [ "$v" = 0.29.0 ] &&
  grep -q "slipway" <<<"$1"' _ "$ver"
check "docker buildx ls: one builder, slipway, current" bash -c '
  out=$(timeout 60 "'"$DOCKER"'" buildx ls) && grep -q "^slipway\*" <<<"$out" && grep -q "slipway0.*running" <<<"$out" &&
  timeout 60 "'"$DOCKER"'" buildx ls --format json | jq -e ".Name == \"slipway\" and .Current" >/dev/null'
check "docker buildx inspect: Name, Driver, node with status and platforms" bash -c '
  out=$(timeout 60 "'"$DOCKER"'" buildx inspect --bootstrap) && grep -qx "Name: *slipway" <<<"$out" &&
  grep -qx "Driver: *slipway" <<<"$out" && grep -qx "Name: *slipway0" <<<"$out" && grep -q "^Platforms: *linux/" <<<"$out"'
# what docker/setup-buildx-action runs: create a named builder, boot it, inspect it, remove it
check "setup-buildx-action's create/inspect/rm succeed, the name standing for slipway's builder" bash -c '
  d="'"$DOCKER"'"
  out=$(timeout 60 "$d" buildx create --name builder-1234 --driver docker-container --buildkitd-flags "--allow-insecure-entitlement network.host" --use 2>"'"$dir"'/create.err") &&
  [ "$out" = builder-1234 ] && grep -q "builder-1234.*stands for its builder" "'"$dir"'/create.err" &&
  timeout 60 "$d" buildx inspect --bootstrap --builder builder-1234 >/dev/null 2>&1 &&
  timeout 60 "$d" buildx inspect builder-1234 2>/dev/null | grep -qx "Driver: *slipway" &&
  timeout 60 "$d" buildx rm builder-1234 2>/dev/null'
check "docker buildx bake: refused, naming it" bash -c '
  out=$(timeout 60 "'"$DOCKER"'" buildx bake 2>&1); [ $? -ne 0 ] && grep -q "not supported by slipway: docker buildx bake" <<<"$out"'
check "docker buildx du answers with a total" bash -c '
  timeout 60 "'"$DOCKER"'" buildx du --state-dir "'"$dir"'/state" | grep -q "^Total:"'

start_registry_with_busybox "$dir/registry" || exit 0
ctx=$dir/ctx; mkdir -p "$ctx"
printf 'FROM %s/base/busybox:latest\nRUN echo built-by-plugin > /hello\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(cd "$ctx" && dk buildx build --progress=plain --push --builder slipway -t "$REGISTRY/x:1" --state-dir "$dir/state" \
        --metadata-file "$dir/md.json" --iidfile "$dir/iid" . 2>&1); rc=$?
check "docker buildx build --push runs slipway and pushes" bash -c '[ '"$rc"' -eq 0 ] && grep -q "RUN echo built-by-plugin" <<<"$1"' _ "$out"
[ "$rc" -eq 0 ] || echo "$out" | tail -5
check "the pushed tag names the digest in the metadata file" bash -c '
  d=$(skopeo inspect --raw --tls-verify=false docker://'"$REGISTRY"'/x:1 | sha256sum | sed "s/^/sha256:/; s/ .*//") &&
  [ "$d" = "$(jq -r ".[\"containerimage.digest\"]" "'"$dir"'/md.json")" ] &&
  [ "$(cat "'"$dir"'/iid")" = "$(jq -r ".[\"containerimage.config.digest\"]" "'"$dir"'/md.json")" ]'
check "the image has the RUN's file" bash -c '
  skopeo copy -q --src-tls-verify=false docker://'"$REGISTRY"'/x:1 oci:'"$dir"'/oci:x && umoci unpack --image '"$dir"'/oci:x '"$dir"'/b >/dev/null &&
  grep -qx built-by-plugin '"$dir"'/b/rootfs/hello'
check "docker buildx imagetools inspect reads it back" bash -c '
  timeout 60 "'"$DOCKER"'" buildx imagetools inspect '"$REGISTRY"'/x:1 | grep -q "^Digest:"'
check "docker buildx build --builder OTHER (as setup-buildx-action names it): built by slipway, with a notice" bash -c '
  out=$(cd "'"$ctx"'" && timeout 300 "'"$DOCKER"'" buildx build --builder builder-1234 --progress=plain --push -t '"$REGISTRY"'/x:2 . 2>&1) &&
  grep -q "builder \"builder-1234\" stands for slipway" <<<"$out" && skopeo inspect --raw --tls-verify=false docker://'"$REGISTRY"'/x:2 >/dev/null'
check "docker buildx du: the state dir the build used is not empty" bash -c '
  timeout 60 "'"$DOCKER"'" buildx du --state-dir "'"$dir"'/state" | grep -qE "^Total:[[:space:]]+[0-9.]+[kMG]B"' 
check "docker buildx prune -f empties it" bash -c '
  timeout 60 "'"$DOCKER"'" buildx prune -f --state-dir "'"$dir"'/state" | grep -q "^Total:" &&
  timeout 60 "'"$DOCKER"'" buildx du --state-dir "'"$dir"'/state" | grep -qE "^Total:[[:space:]]+[0-9.]+(B|kB)$"'
out=$(cd "$ctx" && dk build --progress=plain --push -t "$REGISTRY/x:legacy" . 2>&1); rc=$?
check "docker build (the buildx alias) runs slipway too" bash -c '[ '"$rc"' -eq 0 ] && skopeo inspect --raw --tls-verify=false docker://'"$REGISTRY"'/x:legacy >/dev/null'
[ "$rc" -eq 0 ] || echo "$out" | tail -5

# exactly what docker/build-push-action runs for a workflow that gives no context: its
# default Git context (the repository at the event's commit) with github-token as the
# GIT_AUTH_TOKEN.HOST secret, --iidfile and --metadata-file
repo=$dir/repo
git init -q -b main "$repo"
printf 'FROM %s/base/busybox:latest\nRUN echo from-git > /hello\n' "$REGISTRY" > "$repo/Dockerfile"
git -C "$repo" add -A && git -C "$repo" -c user.email=t@example.com -c user.name=t commit -qm one
mkdir -p "$dir/gitsrv/owner" && git clone -q --bare "$repo" "$dir/gitsrv/owner/repo.git" && git -C "$dir/gitsrv/owner/repo.git" update-server-info
gport=$(free_port)
python3 tests/helpers/git-http-server.py "$dir/gitsrv" "$gport" ghs_abc >/dev/null 2>&1 &
gpid=$!
on_exit "kill $gpid 2>/dev/null; wait $gpid 2>/dev/null"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$gport/" && break; sleep 0.1; done
printf 'ghs_abc' > "$dir/gh-token"
out=$(cd "$dir" && dk buildx build --iidfile "$dir/iid2" --secret "id=GIT_AUTH_TOKEN.127.0.0.1:$gport,src=$dir/gh-token" \
        --tag "$REGISTRY/x:git" --metadata-file "$dir/md2.json" --push \
        "http://127.0.0.1:$gport/owner/repo.git#$(git -C "$repo" rev-parse HEAD)" 2>&1); rc=$?
check "build-push-action's default Git context through docker buildx build: fetched, built, pushed" bash -c '
  [ "$1" -eq 0 ] && d=$(skopeo inspect --raw --tls-verify=false docker://$2 | sha256sum | sed "s/^/sha256:/; s/ .*//") &&
  [ "$d" = "$(jq -r ".[\"containerimage.digest\"]" "$3")" ]' _ "$rc" "$REGISTRY/x:git" "$dir/md2.json"
[ "$rc" -eq 0 ] || echo "$out" | tail -5
