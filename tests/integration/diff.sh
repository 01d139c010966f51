#!/usr/bin/env bash
# The differential suite: every case under tests/diff/ (a directory with a Dockerfile and its
# context) is built and pushed by a current BuildKit (docker 28 + buildx 0.29 under
# /opt/docker-sid) and by slipway, to one loopback registry, and the two images are compared
# by tests/diff/compare.py (file tree and config, read straight from the registry).
#
# A case directory may hold, besides its context:
#   args      extra build flags for both tools, one shell word list (e.g. --target x)
#   setup.sh  run (bash) inside the copied context first: what git cannot hold (modes,
#             symlinks to odd places, empty directories)
#   xfail     a known, reported difference: its first line is the reason.  The case then
#             passes while it differs and fails once it matches (so the file gets removed)
#   ignore    deliberate differences (docs/DIFFERENCES.md): extended regexes, one a line;
#             a difference line matching one is not counted (and is printed as ignored)
#   check     the case is about build checks: both tools run `--check` instead of a build,
#             and the findings (rule and line) are compared; the file lists rules to leave
#             out of the comparison, one a line (may be empty)
#   ORIGIN    where the case came from (tests/real/: the project, its Dockerfile's path and
#             commit, what was adapted)
# These files are removed from the context before building.  In the Dockerfile,
# @BASE@ (in any context file and in args) stands for a busybox image (amd64 + arm64) this
# script builds and pushes, @DEBIAN@ for a Debian 12 minbase image (amd64; made and pushed
# only when a case names it: tests/fixtures/push-debian.sh); @CTX@ in args for the case's
# context directory.  The secret DIFF_SECRET is in the environment for
# `--secret id=…,env=DIFF_SECRET`.  An `ignore` file in the cases directory itself applies
# to every case (run-to-run noise of a whole suite: apt's logs, say).
#
# DIFF_DIR picks the cases directory (default tests/diff; tests/integration/real_projects.sh
# runs tests/real) and DIFF_LABEL the checks' prefix (default "diff").
# DIFF_CASES="a b" limits the run to those cases; DIFF_JOBS sets the parallel buildx builds;
# DIFF_KEEP=DIR (emptied first!) keeps the scratch: logs/, diffs/, the registry's data.
. tests/lib.sh
O=/opt/docker-sid
cases_dir=${DIFF_DIR:-$TOP/tests/diff}
label=${DIFF_LABEL:-diff}
if [ ! -x $O/usr/sbin/dockerd ] || [ ! -x $O/usr/libexec/docker/cli-plugins/docker-buildx ]; then
  fail "reference buildx under $O" "run tests/deps.sh (it unpacks it with ../shared/bench/setup-buildx.sh)"
  exit 0
fi
dir=$(scratch_dir)
[ -n "${DIFF_KEEP:-}" ] && { dir=$DIFF_KEEP; rm -rf "$dir"; mkdir -p "$dir"; }
start_registry "$dir/registry" || { fail "registry starts"; exit 0; }
tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null || { fail "base image pushed"; exit 0; }
base=$REGISTRY/base/busybox:latest
debian=
if grep -rqs --include=Dockerfile @DEBIAN@ "$cases_dir"; then
  tests/fixtures/push-debian.sh "$REGISTRY" base/debian:bookworm >/dev/null || { fail "Debian base image pushed"; exit 0; }
  debian=$REGISTRY/base/debian:bookworm
fi

# The reference daemon: its own socket, data root and exec root under the scratch dir, no
# networking of its own (builds use --network host), the loopback registry allowed over HTTP.
mkdir -p "$dir/dockerd" "$dir/dcfg/cli-plugins"
ln -s $O/usr/libexec/docker/cli-plugins/docker-buildx "$dir/dcfg/cli-plugins/docker-buildx"
sock=$dir/dockerd/docker.sock
cat > "$dir/dockerd/daemon.json" <<JSON
{"iptables": false, "ip6tables": false, "ip-masq": false, "bridge": "none",
 "storage-driver": "overlay2", "insecure-registries": ["$REGISTRY"],
 "data-root": "$dir/dockerd/root", "exec-root": "$dir/dockerd/exec",
 "pidfile": "$dir/dockerd/docker.pid", "hosts": ["unix://$sock"],
 "features": {"containerd-snapshotter": false}}
JSON
PATH=$O/usr/bin:$O/usr/sbin:$PATH setsid dockerd --config-file "$dir/dockerd/daemon.json" \
  >"$dir/dockerd/log" 2>&1 &
dpid=$!
stop_dockerd() {
  kill "$dpid" 2>/dev/null
  for _ in $(seq 1 200); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null
  # whatever the daemon left mounted under its root
  grep -o " $dir/dockerd[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
}
on_exit stop_dockerd
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$dir/dcfg DOCKER_BUILDKIT=1 BUILDX_NO_DEFAULT_ATTESTATIONS=1
for _ in $(seq 1 300); do
  [ -S "$sock" ] && timeout 5 $O/usr/bin/docker info >/dev/null 2>&1 && break
  sleep 0.1
done
timeout 5 $O/usr/bin/docker info >/dev/null 2>&1 || { fail "reference dockerd starts" "$(tail -3 "$dir/dockerd/log")"; exit 0; }

# Prepare every case: a context copy with @BASE@ replaced and the case's own files removed.
mkdir -p "$dir/ctx" "$dir/logs"
names=()
for c in "$cases_dir"/*/; do
  name=$(basename "$c")
  [ -f "$c/Dockerfile" ] || continue
  if [ -n "${DIFF_CASES:-}" ] && ! grep -qw -- "$name" <<<"$DIFF_CASES"; then continue; fi
  ctx=$dir/ctx/$name
  cp -a "$c" "$ctx"
  grep -rlZ --exclude=args -e @BASE@ -e @DEBIAN@ "$ctx" | xargs -0 -r sed -i "s|@BASE@|$base|g; s|@DEBIAN@|$debian|g"
  if [ -f "$ctx/setup.sh" ]; then
    (cd "$ctx" && BASE=$base bash ./setup.sh) >"$dir/logs/$name.setup" 2>&1 || { fail "$name: setup.sh" "$(tail -3 "$dir/logs/$name.setup")"; continue; }
  fi
  rm -f "$ctx/args" "$ctx/setup.sh" "$ctx/xfail" "$ctx/ignore" "$ctx/check" "$ctx/ORIGIN"
  names+=("$name")
done

# build TOOL NAME: one build and push, its log in logs/NAME.TOOL, exit status in .rc
build_case() {
  local tool=$1 name=$2 rc
  local ctx=$dir/ctx/$name args=()
  [ -f "$cases_dir/$name/args" ] && read -r -a args <<<"$(sed "s|@BASE@|$base|g; s|@DEBIAN@|$debian|g; s|@CTX@|$ctx|g" "$cases_dir/$name/args")"
  if [ -f "$cases_dir/$name/check" ]; then
    # build checks: "Rule@line" for every finding, sorted
    case $tool in
    buildx) timeout 600 $O/usr/bin/docker buildx build --progress=plain --check "${args[@]}" "$ctx" ;;
    slipway) timeout 600 "$SLIPWAY" build --progress=plain --state-dir "$dir/state-$name" --check "${args[@]}" "$ctx" ;;
    esac >"$dir/logs/$name.$tool" 2>&1
    echo 0 >"$dir/logs/$name.$tool.rc"
    awk '/^WARNING: [A-Za-z]+ - https:/ { rule = $2; next }
         rule != "" && /Dockerfile:[0-9]+$/ { n = split($0, a, ":"); print rule "@" a[n]; rule = "" }' \
      "$dir/logs/$name.$tool" | grep -v -E "^($(paste -sd'|' "$cases_dir/$name/check" | sed 's/^$/NONE/'))@" | sort >"$dir/logs/$name.$tool.findings"
    [ "$tool" = slipway ] && rm -rf "$dir/state-$name"
    return 0
  fi
  case $tool in
  buildx)
    timeout 600 $O/usr/bin/docker buildx build --progress=plain --provenance=false --sbom=false \
      --network host --output "type=registry,name=$REGISTRY/diff/$name:buildx" "${args[@]}" "$ctx" ;;
  slipway)
    timeout 600 "$SLIPWAY" build --progress=plain --state-dir "$dir/state-$name" \
      --output "type=registry,name=$REGISTRY/diff/$name:slipway" "${args[@]}" "$ctx" ;;
  esac >"$dir/logs/$name.$tool" 2>&1
  rc=$?
  echo $rc >"$dir/logs/$name.$tool.rc"
  [ "$tool" = slipway ] && rm -rf "$dir/state-$name"
  return 0
}
export -f build_case
export dir cases_dir base debian REGISTRY O SLIPWAY DIFF_SECRET="a secret value"
jobs=${DIFF_JOBS:-3}
start=$(date +%s)
# both tools at once: buildx's daemon and slipway's sandboxes do not share anything
printf '%s\n' "${names[@]}" | xargs -P "$jobs" -I{} bash -c 'build_case buildx {}' &
bx=$!
printf '%s\n' "${names[@]}" | xargs -P 2 -I{} bash -c 'build_case slipway {}'
wait $bx
echo "built ${#names[@]} cases with both tools in $(( $(date +%s) - start ))s"

# compare every case that both tools built, in one process
: > "$dir/compare.list"
for name in "${names[@]}"; do
  plat=linux/amd64
  if [ -f "$cases_dir/$name/args" ]; then
    p=$(grep -oE -- '--platform[= ][^ ]+' "$cases_dir/$name/args" | head -1 | sed 's/--platform[= ]//')
    [ -n "$p" ] && plat=$p
  fi
  [ -f "$cases_dir/$name/check" ] && continue
  [ "$(cat "$dir/logs/$name.buildx.rc")" = 0 ] && [ "$(cat "$dir/logs/$name.slipway.rc")" = 0 ] &&
    echo "$name $plat diff/$name:buildx diff/$name:slipway" >> "$dir/compare.list"
done
mkdir -p "$dir/diffs"
NAME_A=buildx NAME_B=slipway timeout 900 python3 "$TOP/tests/diff/compare.py" "$REGISTRY" --batch \
  "$dir/compare.list" "$dir/diffs" || fail "compare.py ran" "exit $?"

# drop_ignored FILE: the difference lines on stdin that match none of FILE's regexes, each
# with its continuation lines (indented: the two texts of a small file that differs)
drop_ignored() {
  local line skipping=0
  while IFS= read -r line; do
    if [[ $line == "    "* ]]; then [ $skipping = 1 ] || printf '%s\n' "$line"; continue; fi
    if grep -qE -f "$1" <<<"$line"; then skipping=1; else skipping=0; printf '%s\n' "$line"; fi
  done
}

npass=0 nfail=0 nxfail=0
for name in "${names[@]}"; do
  rcb=$(cat "$dir/logs/$name.buildx.rc" 2>/dev/null || echo ?)
  rcs=$(cat "$dir/logs/$name.slipway.rc" 2>/dev/null || echo ?)
  if [ -f "$cases_dir/$name/check" ]; then
    out=$(diff <(sed 's/^/buildx finds /' "$dir/logs/$name.buildx.findings") \
               <(sed 's/^/buildx finds /' "$dir/logs/$name.slipway.findings") | grep '^[<>]' |
          sed 's/^< buildx finds /only buildx finds /; s/^> buildx finds /only slipway finds /')
    [ -s "$dir/logs/$name.buildx.findings" ] || out="buildx found nothing (the case itself is wrong):"$'\n'"$(tail -15 "$dir/logs/$name.buildx")"
  elif [ "$rcb" != 0 ]; then
    out="buildx failed (the case itself is wrong):"$'\n'"$(tail -15 "$dir/logs/$name.buildx")"
  elif [ "$rcs" != 0 ]; then
    out="slipway failed, buildx built it:"$'\n'"$(tail -15 "$dir/logs/$name.slipway")"
  elif [ ! -f "$dir/diffs/$name.diff" ]; then
    out="not compared"
  else
    out=$(cat "$dir/diffs/$name.diff")
    for ign in "$cases_dir/ignore" "$cases_dir/$name/ignore"; do
      if [ -n "$out" ] && [ -f "$ign" ]; then
        grep -E -f "$ign" <<<"$out" | sed "s/^/ignored (deliberate) $name: /"
        out=$(drop_ignored "$ign" <<<"$out")
      fi
    done
  fi
  if [ -f "$cases_dir/$name/xfail" ]; then
    reason=$(head -1 "$cases_dir/$name/xfail")
    if [ -n "$out" ]; then
      pass "$label $name (xfail: $reason)"; nxfail=$((nxfail + 1))
    else
      fail "$label $name" "marked xfail ($reason) but the images now match: remove its xfail file"; nfail=$((nfail + 1))
    fi
    continue
  fi
  if [ -z "$out" ]; then
    pass "$label $name"; npass=$((npass + 1))
  else
    echo "--- $name: buildx vs slipway"; sed 's/^/    /' <<<"$out"
    fail "$label $name"; nfail=$((nfail + 1))
  fi
done
echo "$label: ${#names[@]} cases, $npass match, $nxfail xfail, $nfail differ; $(( $(date +%s) - start ))s"
