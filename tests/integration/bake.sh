#!/usr/bin/env bash
# slipway bake: --print equals buildx 0.29's on a corpus of bake files (HCL, JSON, compose,
# inherits, variables, groups, --set; tests/fixtures/bake, expected.json written by buildx
# itself through regen.sh), and atomic publish: a failing target or smoke test moves no tag
# of any target; a target used as another's context is built once; the tags of the target
# marked x-slipway-publish-last go last; publish --from across two separate builds.
. tests/lib.sh
dir=$(scratch_dir)
corpus=$TOP/tests/fixtures/bake

n=0 same=0
for c in "$corpus"/*/; do
  name=$(basename "$c")
  got=$( cd "$c" && set -a && { [ ! -f env ] || . ./env; } && set +a && "$SLIPWAY" bake --print $(cat cmd) 2>&1 | jq -S . 2>&1)
  n=$((n + 1))
  if [ "$got" = "$(cat "$c/expected.json")" ]; then same=$((same + 1)); else fail "bake --print $name equals buildx's" "$(diff <(echo "$got") "$c/expected.json" | head -5 | tr '\n' ' ')"; fi
done
check "bake --print equals buildx 0.29's on $same of $n bake files (at least 15)" test "$same" = "$n" -a "$n" -ge 15
# where buildx itself is on the machine, ask it again (the stored files must still be its answer)
bx=/opt/docker-sid/usr/libexec/docker/cli-plugins/docker-buildx
if [ -x "$bx" ] && [ -x /opt/docker-sid/usr/bin/docker ]; then
  mkdir -p "$dir/dc/cli-plugins" && ln -s "$bx" "$dir/dc/cli-plugins/docker-buildx"
  live=0
  for c in "$corpus"/*/; do
    out=$( cd "$c" && set -a && { [ ! -f env ] || . ./env; } && set +a && DOCKER_CONFIG=$dir/dc timeout 30 /opt/docker-sid/usr/bin/docker buildx bake --print $(cat cmd) 2>/dev/null | jq -S .)
    [ "$out" = "$(cat "$c/expected.json")" ] && live=$((live + 1))
  done
  check "the stored answers are still buildx's ($live of $n)" test "$live" = "$n"
fi
check "bake --print: an unknown target is an error" bash -c 'cd "$1/01-hcl-basic" && ! "$2" bake --print nope 2>/dev/null' _ "$corpus" "$SLIPWAY"
check "bake --print: a syntax error names file, line and column" bash -c 'printf "target \"a\" {\n  tags = [\"x\"\n}\n" > "$1/bad.hcl"; "$2" bake -f "$1/bad.hcl" --print a 2>&1 | grep -q "bad.hcl:3,1"' _ "$dir" "$SLIPWAY"

# ---- building and publishing ----
start_registry_with_busybox "$dir/registry" || exit 0
R=$REGISTRY
exists() { skopeo inspect --tls-verify=false --raw "docker://$1" >/dev/null 2>&1; }
digest_of() { skopeo inspect --tls-verify=false --raw "docker://$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }
w=$dir/w; mkdir -p "$w/ok" "$w/bad" "$w/base" "$w/app"
printf 'FROM %s/base/busybox:latest\nRUN echo ok > /ok\n' "$R" > "$w/ok/Dockerfile"
printf 'FROM %s/base/busybox:latest\nRUN sleep 1; exit 7\n' "$R" > "$w/bad/Dockerfile"
printf 'FROM %s/base/busybox:latest\nRUN echo base > /base-marker\n' "$R" > "$w/base/Dockerfile"
printf 'FROM base\nARG N\nRUN cat /base-marker && echo $N > /n\n' > "$w/app/Dockerfile"
bake() { (cd "$w" && "$SLIPWAY" bake --progress=plain --state-dir "$dir/state" "$@"); }

cat > "$w/fail.hcl" <<HCL
target "good" {
  context = "ok"
  tags = ["$R/b/good:1"]
}
target "broken" {
  context = "bad"
  tags = ["$R/b/broken:1"]
}
group "default" {
  targets = ["good", "broken"]
}
HCL
out=$(bake -f fail.hcl --push 2>&1); rc=$?
check "a failing target fails the bake" test $rc -ne 0
check "a failing target: no tag of either target" bash -c '! skopeo inspect --tls-verify=false "docker://$1/b/good:1" >/dev/null 2>&1 && ! skopeo inspect --tls-verify=false "docker://$1/b/broken:1" >/dev/null 2>&1' _ "$R"
check "a failing target: the message says no tag moved" grep -q "no tag of any target was moved" <<<"$out"

out=$(bake -f fail.hcl --push --publish=per-target 2>&1); rc=$?
check "--publish=per-target: buildx's way, the good target is tagged though the other failed" \
  bash -c '[ $1 -ne 0 ] && skopeo inspect --tls-verify=false "docker://$2/b/good:1" >/dev/null 2>&1 && ! skopeo inspect --tls-verify=false "docker://$2/b/broken:1" >/dev/null 2>&1' _ $rc "$R"

cat > "$w/smoke.hcl" <<HCL
target "a" {
  context = "ok"
  tags = ["$R/s/a:1"]
  x-slipway-smoke = ["test -f /ok"]
}
target "b" {
  context = "ok"
  tags = ["$R/s/b:1"]
  x-slipway-smoke = ["echo smoke-output-here; test -f /missing"]
}
HCL
out=$(bake -f smoke.hcl --push a b 2>&1); rc=$?
check "a failing smoke test fails the bake" test $rc -ne 0
check "a failing smoke test: no tag of any target" bash -c '! skopeo inspect --tls-verify=false "docker://$1/s/a:1" >/dev/null 2>&1 && ! skopeo inspect --tls-verify=false "docker://$1/s/b:1" >/dev/null 2>&1' _ "$R"
check "a failing smoke test: its output is shown" grep -q "smoke-output-here" <<<"$out" || echo "$out" | grep -E "ERROR|slipway:" | head -5 >&2
out=$(bake -f smoke.hcl --push --smoke 'exit 3' a 2>&1); rc=$?
check "bake --smoke applies to every target (and fails here)" bash -c '[ $1 -ne 0 ] && ! skopeo inspect --tls-verify=false "docker://$2/s/a:1" >/dev/null 2>&1' _ $rc "$R"

# an output in the file (type=registry) pushes without --push, and publishes too
cat > "$w/out.hcl" <<HCL
target "default" {
  context = "ok"
  tags = ["$R/o/a:1"]
  output = ["type=registry"]
}
HCL
check "a registry output in the file publishes its tags (no --push)" bash -c 'cd "$1" && "$2" bake --progress=quiet --state-dir "$3" -f out.hcl && skopeo inspect --tls-verify=false "docker://$4/o/a:1" >/dev/null 2>&1' _ "$w" "$SLIPWAY" "$dir/state" "$R"

# entitlements: a target's network = "host" (or entitlements = [...]) is given only when bake's
# --allow grants it, as buildx bake asks; without it, an error naming the flag and no tag
mkdir -p "$w/hostnet"
printf 'FROM %s/base/busybox:latest\nRUN ls /sys/class/net | tr "\\n" " " > /ifs\n' "$R" > "$w/hostnet/Dockerfile"
cat > "$w/net.hcl" <<HCL
target "default" {
  context = "hostnet"
  network = "host"
  tags = ["$R/n/host:1"]
}
target "insecure" {
  context = "hostnet"
  entitlements = ["security.insecure"]
  tags = ["$R/n/insecure:1"]
}
HCL
out=$(cd "$w" && "$SLIPWAY" bake --progress=quiet --state-dir "$dir/state" -f net.hcl --push 2>&1); rc=$?
check "network = \"host\" without --allow: refused, naming --allow network.host, no tag" bash -c \
  '[ $1 -ne 0 ] && grep -q -- "--allow network.host" <<<"$2" && ! skopeo inspect --tls-verify=false "docker://$3/n/host:1" >/dev/null 2>&1' _ $rc "$out" "$R"
out=$(cd "$w" && "$SLIPWAY" bake --progress=quiet --state-dir "$dir/state" -f net.hcl --push insecure 2>&1); rc=$?
check "entitlements = [\"security.insecure\"] without --allow: refused, naming the flag" bash -c \
  '[ $1 -ne 0 ] && grep -q -- "--allow security.insecure" <<<"$2"' _ $rc "$out"
out=$(cd "$w" && "$SLIPWAY" bake --progress=quiet --state-dir "$dir/state" -f net.hcl --allow network.host --set "default.output=type=local,dest=$w/hostnet-out" default 2>&1); rc=$?
host_ifs=$(ls /sys/class/net | tr '\n' ' ')
check "network = \"host\" with --allow network.host: the RUN sees the host's interfaces" bash -c \
  '[ $1 -eq 0 ] && [ "$(cat "$2/ifs")" = "$3" ] || { echo "rc=$1 $4"; false; }' _ $rc "$w/hostnet-out" "$host_ifs" "$(tail -2 <<<"$out")"

# three images on one base target: the base is built once and named by digest
cat > "$w/three.hcl" <<HCL
target "base" {
  context = "base"
  tags = ["$R/t/base:1"]
}
target "_app" {
  context = "app"
  contexts = { base = "target:base" }
}
target "one" {
  inherits = ["_app"]
  args = { N = "1" }
  tags = ["$R/t/one:1.0.0", "$R/t/one:latest"]
  x-slipway-publish-last = true
}
target "two" {
  inherits = ["_app"]
  args = { N = "2" }
  tags = ["$R/t/two:latest", "$R/t/two:2.0.0"]
}
target "three" {
  inherits = ["_app"]
  args = { N = "3" }
  tags = ["$R/t/three:latest"]
  x-slipway-smoke = ["test \$(cat /n) = 3"]
}
group "default" {
  targets = ["one", "two", "three"]
}
HCL
start_fault_proxy "$R" log@all || { fail "proxy starts"; exit 0; }
sed "s/$R/$PROXY/g" "$w/three.hcl" > "$w/three-proxy.hcl"
out=$(bake -f three-proxy.hcl --push --metadata-file "$dir/meta.json" 2>&1); rc=$?
check "bake of three images sharing a base target" test $rc -eq 0 || echo "$out" | grep -iE "error|slipway:" | head -5 >&2
check "the base target was built once" test "$(grep -c '^\[base\] #[0-9]* \[2/2\] RUN echo base' <<<"$out")" = 1
check "every tag names its image" bash -c 'for t in one:1.0.0 one:latest two:latest two:2.0.0 three:latest; do skopeo inspect --tls-verify=false "docker://$1/t/$t" >/dev/null 2>&1 || exit 1; done' _ "$R"
check "the base, only another target's context, is not tagged" bash -c '! skopeo inspect --tls-verify=false "docker://$1/t/base:1" >/dev/null 2>&1' _ "$R"
check "the three images share the base's layers" bash -c 'l() { skopeo inspect --tls-verify=false "docker://$1/t/$2:latest" | jq -c ".Layers[:-1]"; }; a=$(l "$1" one); [ -n "$a" ] && [ "$a" = "$(l "$1" two)" ] && [ "$a" = "$(l "$1" three)" ] && [ "$(jq length <<<"$a")" = 2 ]' _ "$R"
tagorder=$(grep -oE "request PUT /v2/t/[a-z]+/manifests/[^s][^ ]*" "$PROXY_LOG" | sed 's|.*/v2/t/||; s|/manifests/|:|' | tr '\n' ' ')
check "tags in one loop, moving first, versioned next, publish-last target last (saw: $tagorder)" \
  bash -c '[[ "$1" =~ ^(base:1\ )?((two:latest|three:latest)\ ){2}(base:1\ )?two:2.0.0\ one:1.0.0\ one:latest\ $ ]] || [[ "$1" =~ two:latest.*three:latest.*two:2.0.0\ one:1.0.0\ one:latest ]]' _ "$tagorder"
check "no tag was written before every image was pushed" \
  bash -c 'first_tag=$(grep -nE "request PUT /v2/t/[a-z]+/manifests/[^s]" "$1" | head -1 | cut -d: -f1); last_digest=$(grep -nE "request PUT /v2/t/[a-z]+/manifests/sha256:" "$1" | tail -1 | cut -d: -f1); [ "$last_digest" -lt "$first_tag" ]' _ "$PROXY_LOG"
check "--metadata-file is keyed by target" jq -e '.one["containerimage.digest"] and .two["containerimage.digest"] and .three["containerimage.digest"]' "$dir/meta.json"

# publish --from: two separate builds push by digest; one final job moves the tags
printf 'FROM %s/base/busybox:latest\nRUN echo p1 > /p\n' "$R" > "$w/ok/Dockerfile.p1"
printf 'FROM %s/base/busybox:latest\nRUN echo p2 > /p\n' "$R" > "$w/ok/Dockerfile.p2"
"$SLIPWAY" build --progress=quiet --state-dir "$dir/state" -f "$w/ok/Dockerfile.p1" -t "$R/p/one:1" -t "$R/p/one:latest" --push --publish none --metadata-file "$dir/m1.json" "$w/ok" >/dev/null 2>&1
"$SLIPWAY" build --progress=quiet --state-dir "$dir/state" -f "$w/ok/Dockerfile.p2" -t "$R/p/two:1" --push --publish none --metadata-file "$dir/m2.json" "$w/ok" >/dev/null 2>&1
check "builds with --publish none move no tag" bash -c '! skopeo inspect --tls-verify=false "docker://$1/p/one:1" >/dev/null 2>&1 && ! skopeo inspect --tls-verify=false "docker://$1/p/two:1" >/dev/null 2>&1' _ "$R"
check "publish --from two metadata files" "$SLIPWAY" publish --from "$dir/m1.json" --from "$dir/m2.json"
check "publish --from: every tag names its build's image" bash -c '[ "sha256:$(skopeo inspect --tls-verify=false --raw "docker://$1/p/one:latest" | sha256sum | cut -d" " -f1)" = "$(jq -r ".\"containerimage.digest\"" "$2")" ] && [ "sha256:$(skopeo inspect --tls-verify=false --raw "docker://$1/p/two:1" | sha256sum | cut -d" " -f1)" = "$(jq -r ".\"containerimage.digest\"" "$3")" ]' _ "$R" "$dir/m1.json" "$dir/m2.json"
check "publish --from: a digest the registry lacks moves no tag" bash -c 'jq ".\"containerimage.digest\" = \"sha256:$(printf %064d 0)\" | .\"image.name\" = \"$1/p/three:1\"" "$2" > "$3/m3.json"; ! "$4" publish --from "$2" --from "$3/m3.json" 2>/dev/null && ! skopeo inspect --tls-verify=false "docker://$1/p/three:1" >/dev/null 2>&1' _ "$R" "$dir/m1.json" "$dir" "$SLIPWAY"
check "publish --from --smoke: a failing smoke test moves no tag" bash -c '"$4" publish --from "$2" --smoke "test -f /nothing-here" --state-dir "$3/state" 2>/dev/null; [ $? -ne 0 ] && [ "$(skopeo inspect --tls-verify=false --raw "docker://$1/p/one:1" | sha256sum | cut -d" " -f1)" = "$(skopeo inspect --tls-verify=false --raw "docker://$1/p/one:latest" | sha256sum | cut -d" " -f1)" ]' _ "$R" "$dir/m1.json" "$dir" "$SLIPWAY"
printf 'FROM %s/base/busybox:latest\nRUN echo p4 > /p\n' "$R" > "$w/ok/Dockerfile.p4"
"$SLIPWAY" build --progress=quiet --state-dir "$dir/state" -f "$w/ok/Dockerfile.p4" -t "$R/p/four:1" --push --publish none --metadata-file "$dir/m4.json" "$w/ok" >/dev/null 2>&1
check "publish --from --smoke: passing smoke tests, then the tags" bash -c '"$4" publish --from "$2" --smoke "grep -q p4 /p" --state-dir "$3/state" >/dev/null 2>&1 && skopeo inspect --tls-verify=false "docker://$1/p/four:1" >/dev/null 2>&1' _ "$R" "$dir/m4.json" "$dir" "$SLIPWAY"
check "publish --from --smoke: a failing one stopped the tag" bash -c 'printf "FROM %s/base/busybox:latest\nRUN echo p5 > /p\n" "$1" > "$3/w/ok/Dockerfile.p5"; "$4" build --progress=quiet --state-dir "$3/state" -f "$3/w/ok/Dockerfile.p5" -t "$1/p/five:1" --push --publish none --metadata-file "$3/m5.json" "$3/w/ok" >/dev/null 2>&1; ! "$4" publish --from "$3/m5.json" --smoke "grep -q p4 /p" --state-dir "$3/state" >/dev/null 2>&1 && ! skopeo inspect --tls-verify=false "docker://$1/p/five:1" >/dev/null 2>&1' _ "$R" "" "$dir" "$SLIPWAY"
check "no mount left" test "$(grep -c "$dir" /proc/self/mountinfo)" = 0
