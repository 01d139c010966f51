#!/usr/bin/env bash
# Edges where slipway must do what BuildKit does, checked end to end on a real registry:
# a RUN --mount=type=secret,env=VAR value reaches the step only (never a layer, the config,
# its history or the log, where it is masked); a bad --mount key is named once, located;
# ADD of an archive whose symlink points above the root stores it as written while an entry
# whose name climbs out is still refused and writes nothing anywhere.
. tests/lib.sh
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
state=$dir/state
build() { "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }
mounts_before=$(grep -c "$dir" /proc/self/mountinfo)
unpack() {
  rm -rf "$dir/oci" "$2"
  skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$2" >/dev/null
}

# ---- type=secret,env=VAR ----
ctx=$dir/ctx1; mkdir -p "$ctx"
tok="tok-$RANDOM-$RANDOM-$RANDOM"; printf '%s' "$tok" > "$dir/tok.txt"
h=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
cat > "$ctx/Dockerfile" <<DF
FROM $REGISTRY/base/busybox:latest
ARG PLAIN=1
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo "value: \$TOK"; echo "\$TOK" >&2; test "\$(printf %s "\$TOK" | sha256sum | cut -d" " -f1)" = $h && echo ok > /env-ok; env | grep -c "^TOK=" > /in-env'
RUN sh -c 'env | grep -c "^TOK=" > /later || true'
DF
out=$(build --secret id=tok,src="$dir/tok.txt" --metadata-file "$dir/meta.json" -t "$REGISTRY/t/secret:v1" --push "$ctx" 2>&1); rc=$?
check "RUN --mount=type=secret,env=VAR builds" bash -c '[ '$rc' = 0 ] || { echo "$1" | tail; false; }' _ "$out"
check "the secret is never in the build log" bash -c '! grep -qF "$1" <<<"$2"' _ "$tok" "$out"
check "the step's output shows it masked" bash -c 'grep -q "value: \*\*\*\*" <<<"$1"' _ "$out"
check "unpack the secret image" unpack "$REGISTRY/t/secret:v1" "$dir/b1"
check "the step had the value in VAR" test -s "$dir/b1/rootfs/env-ok"
check "VAR is the step's alone (not a later step's)" bash -c '[ "$(cat "'"$dir"'/b1/rootfs/later")" = 0 ]'
cfg=$(skopeo inspect --tls-verify=false --raw --config "docker://$REGISTRY/t/secret:v1")
check "the secret is in no layer, no config, no history, no metadata" \
  bash -c '! grep -rqF "$1" "'"$dir"'/b1" "'"$dir"'/oci" "'"$dir"'/meta.json" && ! grep -qF "$1" <<<"$2"' _ "$tok" "$cfg"
check "the config's Env has no TOK" bash -c '! jq -e ".config.Env[] | select(startswith(\"TOK=\"))" <<<"$1" >/dev/null' _ "$cfg"

# ---- a bad --mount key: BuildKit's message, once, at its line ----
printf 'FROM %s/base/busybox:latest\nRUN --mount=type=secret,id=x,frob=1 true\n' "$REGISTRY" > "$ctx/Dockerfile"
out=$(build "$ctx" 2>&1); rc=$?
check "an unknown --mount key is a located error, said once" \
  bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:2:[0-9]*: unexpected key '"'frob'"' in '"'frob=1'"'" <<<"$1" && [ "$(grep -o "unexpected key" <<<"$1" | wc -l)" = 1 ] && ! grep -q -- "--mount .*: --mount" <<<"$1" || { echo "$1" | tail -4; false; }' _ "$out"

# ---- ADD: a link above the root is data; a name above the root is refused ----
probe=slipway-edge-probe-$$
python3 - "$dir/ctx2" "$probe" <<'PY'
import io, os, sys, tarfile
d, probe = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
with tarfile.open(os.path.join(d, 'link.tar'), 'w') as t:
    l = tarfile.TarInfo('link'); l.type = tarfile.SYMTYPE; l.linkname = '../' + probe + '/target'
    t.addfile(l)
    f = tarfile.TarInfo(probe + '/target'); f.size = 7; t.addfile(f, io.BytesIO(b'inside\n'))
with tarfile.open(os.path.join(d, 'climb.tar'), 'w') as t:
    f = tarfile.TarInfo('../../../../../../tmp/' + probe + '-climb'); f.size = 4; t.addfile(f, io.BytesIO(b'out\n'))
PY
printf 'FROM %s/base/busybox:latest\nADD link.tar /\nRUN cat /link > /seen\n' "$REGISTRY" > "$dir/ctx2/Dockerfile"
check "ADD of a tar whose link points above the root" build -t "$REGISTRY/t/link:v1" --push "$dir/ctx2"
check "unpack the link image" unpack "$REGISTRY/t/link:v1" "$dir/b2"
check "the link is stored as written" bash -c '[ "$(readlink "'"$dir"'/b2/rootfs/link")" = "../'"$probe"'/target" ]'
check "a later RUN resolves it inside the root" bash -c '[ "$(cat "'"$dir"'/b2/rootfs/seen")" = inside ]'
check "nothing was written outside the root" bash -c '[ ! -e "/'"$probe"'" ] && [ ! -e "/tmp/'"$probe"'" ]'
printf 'FROM %s/base/busybox:latest\nADD climb.tar /\n' "$REGISTRY" > "$dir/ctx2/Dockerfile"
out=$(build -t "$REGISTRY/t/climb:v1" --push "$dir/ctx2" 2>&1); rc=$?
check "ADD of a tar whose entry climbs above the root is refused at its line" \
  bash -c '[ '$rc' -ne 0 ] && grep -q "Dockerfile:2" <<<"$1" || { echo "$1" | tail -4; false; }' _ "$out"
check "the climbing entry was written nowhere" bash -c '[ ! -e "/tmp/'"$probe"'-climb" ] && ! find "'"$state"'" -name "'"$probe"'-climb" | grep -q .'
check "the refused build pushed no tag" bash -c '! skopeo inspect --tls-verify=false "docker://'"$REGISTRY"'/t/climb:v1" >/dev/null 2>&1'
check "no mount left behind" test "$(grep -c "$dir" /proc/self/mountinfo)" = "$mounts_before"
