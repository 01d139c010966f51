#!/usr/bin/env bash
# A Git URL as the build context, as buildx takes it (docker/build-push-action's default
# context is one): git:// through a real `git daemon`, #REF and #REF:SUBDIR, ?ref=&subdir=,
# and an HTTP server that wants a token, sent from the GIT_AUTH_TOKEN.HOST secret as
# BuildKit sends it.  The fetched tree is removed after the build.
. tests/lib.sh
command -v git >/dev/null || { fail "git installed"; exit 0; }
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
export TMPDIR=$dir/tmp
mkdir -p "$TMPDIR"

repo=$dir/repo
git init -q -b main "$repo"
printf 'root\n' > "$repo/hello"
printf 'FROM %s/base/busybox:latest\nCOPY hello /hello\n' "$REGISTRY" > "$repo/Dockerfile"
mkdir -p "$repo/app"
printf 'app\n' > "$repo/app/hello"
printf 'FROM %s/base/busybox:latest\nCOPY hello /hello\nRUN cat /hello > /copied\n' "$REGISTRY" > "$repo/app/Dockerfile"
printf 'FROM %s/base/busybox:latest\nCOPY hello /alt\n' "$REGISTRY" > "$repo/app/Alt.Dockerfile"
git -C "$repo" add -A
git -C "$repo" -c user.email=t@example.com -c user.name=t commit -qm first
sha1=$(git -C "$repo" rev-parse HEAD)
printf 'second\n' > "$repo/hello"
git -C "$repo" -c user.email=t@example.com -c user.name=t commit -qam second
mkdir -p "$dir/srv"
git clone -q --bare "$repo" "$dir/srv/repo.git"
git -C "$dir/srv/repo.git" update-server-info

port=$(free_port)
git daemon --base-path="$dir/srv" --export-all --listen=127.0.0.1 --port="$port" --reuseaddr >"$dir/daemon.log" 2>&1 &
dpid=$!
on_exit "kill $dpid 2>/dev/null; wait $dpid 2>/dev/null"
for _ in $(seq 1 50); do git ls-remote "git://127.0.0.1:$port/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done

# content FILE REF: FILE's content in the pushed image REF
content() {
  local d; d=$(mktemp -d "$dir/x.XXXXXX")
  skopeo copy -q --src-tls-verify=false "docker://$2" "oci:$d/oci:x" >/dev/null && umoci unpack --image "$d/oci:x" "$d/b" >/dev/null &&
    cat "$d/b/rootfs/$1"
}
export -f content
export dir
build() { timeout 600 "$SLIPWAY" build --progress=plain --state-dir "$dir/state" "$@"; }

check "git://…/repo.git (the default branch's tip)" build --push -t "$REGISTRY/g/a:1" "git://127.0.0.1:$port/repo.git"
check "  … builds its last commit" bash -c '[ "$(content hello "$1")" = second ]' _ "$REGISTRY/g/a:1"
check "#SHA of an older commit" build --push -t "$REGISTRY/g/a:2" "git://127.0.0.1:$port/repo.git#$sha1"
check "  … builds that commit" bash -c '[ "$(content hello "$1")" = root ]' _ "$REGISTRY/g/a:2"
check "#main:app: a subdir as the context, its Dockerfile, a RUN" build --push -t "$REGISTRY/g/a:3" "git://127.0.0.1:$port/repo.git#main:app"
check "  … built from the subdir" bash -c '[ "$(content copied "$1")" = app ]' _ "$REGISTRY/g/a:3"
check "?ref=main&subdir=app with -f inside the remote context" build --push -t "$REGISTRY/g/a:4" -f Alt.Dockerfile \
  "git://127.0.0.1:$port/repo.git?ref=main&subdir=app"
check "  … the Dockerfile named by -f, read in the subdir" bash -c '[ "$(content alt "$1")" = app ]' _ "$REGISTRY/g/a:4"
out=$(build "git://127.0.0.1:$port/repo.git#no-such-branch" 2>&1); rc=$?
check "an unknown ref fails saying what it could not fetch" bash -c '[ "$1" -eq 1 ] && grep -q "cannot fetch no-such-branch" <<<"$2"' _ "$rc" "$out"
check "#main:../x is refused" bash -c '! timeout 600 "$SLIPWAY" build --state-dir "$1/state" "git://127.0.0.1:$2/repo.git#main:../x" 2>/dev/null' _ "$dir" "$port"

# HTTP that wants a token (dumb HTTP: no shallow fetch, so the whole history is fetched)
hport=$(free_port)
python3 tests/helpers/git-http-server.py "$dir/srv" "$hport" tok-123 >"$dir/http.log" 2>&1 &
hpid=$!
on_exit "kill $hpid 2>/dev/null; wait $hpid 2>/dev/null"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$hport/" && break; sleep 0.1; done
printf 'tok-123\n' > "$dir/token"
out=$(build "http://127.0.0.1:$hport/repo.git#main" 2>&1); rc=$?
check "HTTP without the token: fails, pointing at GIT_AUTH_TOKEN" bash -c '[ "$1" -ne 0 ] && grep -q "GIT_AUTH_TOKEN" <<<"$2"' _ "$rc" "$out"
out=$(build --push -t "$REGISTRY/g/h:1" --secret "id=GIT_AUTH_TOKEN.127.0.0.1:$hport,src=$dir/token" "http://127.0.0.1:$hport/repo.git#main" 2>&1); rc=$?
check "HTTP with --secret id=GIT_AUTH_TOKEN.HOST (as build-push-action passes github-token)" test "$rc" -eq 0
check "  … builds the repository" bash -c '[ "$(content hello "$1")" = second ]' _ "$REGISTRY/g/h:1"
check "the token is not in the build's output" bash -c '! grep -q tok-123 <<<"$1"' _ "$out"
check "no fetched tree left behind" bash -c '[ -z "$(ls -A "$1")" ]' _ "$TMPDIR"
