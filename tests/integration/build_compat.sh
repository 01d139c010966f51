#!/usr/bin/env bash
# Behaviours where slipway must do what a current BuildKit does (each was a difference found
# by comparing the two): heredoc COPY sources, WORKDIR under USER, proxy build args, RUN's
# groups, #! heredoc scripts, error locations, and the RUN resource flags.
. tests/lib.sh
dir=$(scratch_dir)
start_registry "$dir/registry" || { fail "registry starts"; exit 0; }
tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null || { fail "base image pushed"; exit 0; }
base=$REGISTRY/base/busybox:latest
state=$dir/state
build() { timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }
# unpack REF DIR: pull with skopeo and unpack with umoci (independent of slipway)
unpack() {
  rm -rf "$dir/oci" "$2"
  skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$dir/oci:x" && umoci unpack --image "$dir/oci:x" "$2" >/dev/null
}
# df NAME: a fresh context dir $dir/NAME whose Dockerfile is stdin (@BASE@ replaced)
df() { mkdir -p "$dir/$1"; sed "s|@BASE@|$base|g" > "$dir/$1/Dockerfile"; }

# 1. COPY heredocs in any position, the context never read
df heredoc <<'DF'
FROM scratch
COPY <<EOF /hello
hi there
EOF
COPY --chmod=751 --chown=7:8 <<A <<"B" /dir/
a $X
A
b $X
B
COPY <<-EOF /dash
	tabbed
	EOF
DF
check "COPY heredoc from scratch, several, --chmod/--chown, <<- (no crash)" \
  build -t "$REGISTRY/t/heredoc:1" --push "$dir/heredoc"
if unpack "$REGISTRY/t/heredoc:1" "$dir/u1"; then
  r=$dir/u1/rootfs
  check "heredoc: content" bash -c '[ "$(cat '"$r"'/hello)" = "hi there" ] && [ "$(cat '"$r"'/dir/A)" = "a " ] && [ "$(cat '"$r"'/dir/B)" = "b \$X" ] && [ "$(cat '"$r"'/dash)" = tabbed ]'
  check "heredoc: mode and owner" bash -c '[ "$(stat -c %a:%u:%g '"$r"'/dir/A)" = 751:7:8 ]'
else
  fail "heredoc image unpacks"
fi

# 3. WORKDIR after USER: the directories it makes are the user's
df workdir <<'DF'
FROM @BASE@
RUN echo 'app:x:1000:1001::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1001:' >> /etc/group
USER app
WORKDIR /home/app/work
RUN touch x
USER 1500:1600
WORKDIR /srv/deep
WORKDIR /tmp
DF
if check "WORKDIR after USER app, then RUN touch as app" build -t "$REGISTRY/t/workdir:1" --push "$dir/workdir" &&
   unpack "$REGISTRY/t/workdir:1" "$dir/u3"; then
  r=$dir/u3/rootfs
  check "WORKDIR: made directories owned by the user (name: its primary group)" bash -c '[ "$(stat -c %u:%g '"$r"'/home/app '"$r"'/home/app/work | sort -u)" = 1000:1001 ] && [ "$(stat -c %u:%g '"$r"'/home/app/work/x)" = 1000:1001 ]'
  check "WORKDIR: uid:gid user, every missing parent" bash -c '[ "$(stat -c %u:%g '"$r"'/srv '"$r"'/srv/deep | sort -u)" = 1500:1600 ]'
  check "WORKDIR: an existing directory keeps its owner" bash -c '[ "$(stat -c %u:%g:%a '"$r"'/tmp)" = 0:0:1777 ]'
fi

# 4. the predefined proxy args reach RUN without an ARG, and stay out of config and history
df proxy <<'DF'
FROM @BASE@
RUN echo "$HTTP_PROXY|$http_proxy|$HTTPS_PROXY|$https_proxy|$NO_PROXY|$no_proxy|$ALL_PROXY" > /p
DF
if check "build with proxy build args" build -t "$REGISTRY/t/proxy:1" --push --build-arg HTTP_PROXY=http://p.invalid:3128 \
     --build-arg https_proxy=http://s.invalid:1 --build-arg NO_PROXY=localhost "$dir/proxy" &&
   unpack "$REGISTRY/t/proxy:1" "$dir/u4"; then
  check "proxy args in RUN's environment, both spellings" bash -c '[ "$(cat '"$dir"'/u4/rootfs/p)" = "http://p.invalid:3128|http://p.invalid:3128|http://s.invalid:1|http://s.invalid:1|localhost|localhost|" ]'
  check "proxy args not in the config or the history" bash -c '! skopeo inspect --tls-verify=false --raw --config "docker://'"$REGISTRY"'/t/proxy:1" | grep -qi "invalid"'
fi

# 5. RUN's supplementary groups: the primary gid first, then those /etc/group lists (the
# kernel's list, not `id -G`, which adds the gid itself)
df groups <<'DF'
FROM @BASE@
RUN echo 'wheel:x:10:root' >> /etc/group
RUN sed -n 's/^Groups:[[:space:]]*//p' /proc/self/status > /root-groups
USER 1042:1043
RUN sed -n 's/^Groups:[[:space:]]*//p' /proc/self/status > /tmp/numeric-groups
USER nobody
RUN sed -n 's/^Groups:[[:space:]]*//p' /proc/self/status > /tmp/nobody-groups
DF
if check "build with USER changes" build -t "$REGISTRY/t/groups:1" --push "$dir/groups" &&
   unpack "$REGISTRY/t/groups:1" "$dir/u5"; then
  r=$dir/u5/rootfs
  check "groups: root gets 0 and wheel" test "$(cat "$r/root-groups" | xargs)" = "0 10"
  check "groups: USER uid:gid gets the gid" test "$(cat "$r/tmp/numeric-groups" | xargs)" = "1043"
  check "groups: a named user gets its primary gid" test "$(cat "$r/tmp/nobody-groups" | xargs)" = "65534"
fi

# 7. a RUN heredoc with a #! line runs with that interpreter (also as a non-root user)
df shebang <<'DF'
FROM @BASE@
RUN <<EOF
#!/bin/awk -f
BEGIN { print "from awk" > "/awk" }
EOF
USER nobody
RUN <<SCRIPT
#!/bin/sh
echo "$0 as $(id -u)" > /tmp/sh
SCRIPT
DF
if check "RUN heredoc with #!/bin/awk -f, and #!/bin/sh as nobody" build -t "$REGISTRY/t/shebang:1" --push "$dir/shebang" &&
   unpack "$REGISTRY/t/shebang:1" "$dir/u7"; then
  check "#! heredoc: awk ran the script" test "$(cat "$dir/u7/rootfs/awk")" = "from awk"
  check "#! heredoc: the script's path and user" test "$(cat "$dir/u7/rootfs/tmp/sh")" = "/dev/pipes/SCRIPT as 65534"
  check "#! heredoc: nothing of /dev/pipes in the image" test ! -e "$dir/u7/rootfs/dev/pipes"
fi

# 9. an error is located once: "Dockerfile:2:1: COPY: …", never "Dockerfile:2:1: Dockerfile:2: …"
df located <<'DF'
FROM scratch
COPY missing.txt /x
DF
out=$(build "$dir/located" 2>&1)
check "COPY error: one location" bash -c 'grep -q "Dockerfile:2:1: COPY: \"/missing.txt\": not found" <<<"$1" && ! grep -q "Dockerfile:2:1: Dockerfile" <<<"$1"' _ "$out"
printf 'FROM scratch\nCOPY --chmod=abc x /x\n' > "$dir/located/Dockerfile"
out=$(build "$dir/located" 2>&1)
check "COPY flag error: one location" bash -c 'grep -q "Dockerfile:2:1: COPY: invalid --chmod" <<<"$1" && ! grep -q "Dockerfile:2:1: Dockerfile" <<<"$1"' _ "$out"

# 10. RUN's resources: --shm-size, --ulimit; --cgroup-parent (cgroup v2 hosts)
df limits <<'DF'
FROM @BASE@
RUN mount | grep /dev/shm > /shm; ulimit -n > /nofile; ulimit -Hn > /nofile-hard; ulimit -s > /stack
DF
if check "build with --shm-size and --ulimit" build -t "$REGISTRY/t/limits:1" --push --shm-size 128m \
     --ulimit nofile=1062:2048 --ulimit stack=16777216 "$dir/limits" && unpack "$REGISTRY/t/limits:1" "$dir/u10"; then
  r=$dir/u10/rootfs
  check "--shm-size: /dev/shm is that big" grep -q "size=131072k" "$r/shm"
  check "--ulimit nofile=1062:2048: soft and hard" bash -c '[ "$(cat '"$r"'/nofile) $(cat '"$r"'/nofile-hard)" = "1062 2048" ]'
  check "--ulimit stack=16777216 (bytes: ulimit -s shows KiB)" test "$(cat "$r/stack")" = 16384
fi
out=$(build --ulimit nofile=10:5 "$dir/limits" 2>&1); rc=$?
check "--ulimit soft above hard: refused" bash -c '[ '$rc' -ne 0 ] && grep -q "soft limit 10 is greater than hard limit 5" <<<"$1"' _ "$out"
out=$(build --ulimit bogus=1 "$dir/limits" 2>&1); rc=$?
check "--ulimit unknown name: refused" bash -c '[ '$rc' -ne 0 ] && grep -q "unknown limit bogus" <<<"$1"' _ "$out"
out=$(build --shm-size lots "$dir/limits" 2>&1); rc=$?
check "--shm-size malformed: refused" bash -c '[ '$rc' -ne 0 ] && grep -q "invalid --shm-size" <<<"$1"' _ "$out"
out=$(build --memory 64m "$dir/limits" 2>&1); rc=$?
check "--memory without --cgroup-parent: refused, says why" bash -c '[ '$rc' -ne 0 ] && grep -q "need --cgroup-parent" <<<"$1"' _ "$out"
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
  cg=slipway-test-$$
  mkdir "/sys/fs/cgroup/$cg" && on_exit "rmdir /sys/fs/cgroup/$cg"
  echo 10 > "/sys/fs/cgroup/$cg/pids.max" 2>/dev/null || echo "+pids" > /sys/fs/cgroup/cgroup.subtree_control
  echo 10 > "/sys/fs/cgroup/$cg/pids.max"
  cat > "$dir/limits/Dockerfile" <<DF
FROM $base
RUN mkdir /out; (for i in \$(seq 1 12); do sleep 1 & done 2>/out/error); cat /proc/self/cgroup > /out/cgroup
DF
  if check "--cgroup-parent: build" build -t "$REGISTRY/t/cgroup:1" --push --cgroup-parent "$cg" --memory 256m "$dir/limits" &&
     unpack "$REGISTRY/t/cgroup:1" "$dir/u10c"; then
    check "--cgroup-parent: the parent's pids.max holds the step" grep -q "Resource temporarily unavailable" "$dir/u10c/rootfs/out/error"
    check "--cgroup-parent: its name does not leak into the step" bash -c '! grep -q '"$cg"' '"$dir"'/u10c/rootfs/out/cgroup'
    check "--cgroup-parent: the step's cgroup is gone" bash -c '[ -z "$(ls /sys/fs/cgroup/'"$cg"' | grep slipway-)" ]'
  fi
else
  out=$(build --cgroup-parent ci "$dir/limits" 2>&1); rc=$?
  check "--cgroup-parent on a cgroup v1 host: refused, says why" bash -c '[ '$rc' -ne 0 ] && grep -q "no cgroup v2" <<<"$1"' _ "$out"
  # The cgroup v2 path on this v1 host: in a mount namespace of its own, the (global, unused)
  # cgroup v2 hierarchy is mounted at /sys/fs/cgroup.  Its controllers are all held by v1, so
  # no limit can be set there, but a step is still placed in a cgroup of its own, which is
  # killed and removed when the step ends.
  cg=slipway-test-$$
  cat > "$dir/limits/Dockerfile" <<DF
FROM $base
RUN sleep 600 & echo started; sleep 2
DF
  cat > "$dir/cg2.sh" <<'SH'
set -u
mount -t cgroup2 none /sys/fs/cgroup || { echo "cannot mount cgroup2"; exit 1; }
mkdir "/sys/fs/cgroup/$CG" || exit 1
timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$STATE" --cgroup-parent "$CG" --no-cache "$CTX" > "$OUT/build.log" 2>&1 &
pid=$!
# the step's cgroup, seen from outside while the step runs, and the processes in it
for _ in $(seq 1 300); do
  procs=$(cat /sys/fs/cgroup/"$CG"/slipway-*/cgroup.procs 2>/dev/null)
  [ -n "$procs" ] && break
  sleep 0.1
done
echo "$procs" > "$OUT/procs"
wait $pid; echo $? > "$OUT/rc"
ls /sys/fs/cgroup/"$CG" | grep slipway- > "$OUT/left"
timeout 300 "$SLIPWAY" build --progress=plain --state-dir "$STATE" --cgroup-parent "$CG" --memory 64m --no-cache "$CTX" > "$OUT/memory.log" 2>&1
echo $? > "$OUT/memory.rc"
rmdir "/sys/fs/cgroup/$CG"
SH
  mkdir -p "$dir/cg2"
  CG=$cg STATE=$state CTX=$dir/limits OUT=$dir/cg2 SLIPWAY=$SLIPWAY timeout 600 unshare -m --propagation private bash "$dir/cg2.sh"
  check "cgroup v2 (mounted privately): --cgroup-parent builds" bash -c '[ "$(cat "$1/rc")" = 0 ]' _ "$dir/cg2"
  check "cgroup v2: the step ran in a cgroup of its own under the parent" test -s "$dir/cg2/procs"
  check "cgroup v2: the step's cgroup is removed when the step ends" test ! -s "$dir/cg2/left"
  check "cgroup v2: what the step left in the background died with its cgroup" bash -c '! pgrep -f "slee[p] 600" >/dev/null'
  check "cgroup v2 without the memory controller: --memory refused, says why" \
    bash -c '[ "$(cat "$1/memory.rc")" != 0 ] && grep -q "enabling the memory controller" "$1/memory.log" || { tail -3 "$1/memory.log"; false; }' _ "$dir/cg2"
fi

# 10. build checks: --check / --call=check, warnings in a build and in the metadata file
df lint <<'DF'
FROM @BASE@ as Builder
MAINTAINER someone
ENV A b
CMD echo hi
CMD ["sh"]
FROM builder AS final
WORKDIR rel
DF
out=$(build --check "$dir/lint" 2>&1); rc=$?
check "--check: fails when rules are broken, builds nothing" bash -c '[ '$rc' -ne 0 ] && grep -q "Check complete, 7 warnings have been found!" <<<"$1" && ! grep -q "RUN\|exporting" <<<"$1"' _ "$out"
for w in "StageNameCasing - https://docs.docker.com/go/dockerfile/rule/stage-name-casing/" \
         "Stage name 'Builder' should be lowercase" "'as' and 'FROM' keywords' casing do not match" \
         "Maintainer instruction is deprecated in favor of using label" \
         '"ENV key=value" should be used instead of legacy "ENV key value" format' \
         "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals" \
         "Multiple CMD instructions should not be used in the same stage because only the last one will be used" \
         'Relative workdir "rel" can have unexpected results if the base image changes' \
         ' 1 | >>> FROM '; do
  check "--check reports: $w" grep -qF -- "$w" <<<"$out"
done
out=$(build --call=check "$dir/lint" 2>&1); rc=$?
check "--call=check is --check" bash -c '[ '$rc' -ne 0 ] && grep -q "Check complete, 7 warnings" <<<"$1"' _ "$out"
printf '# check=skip=all\nFROM %s\n' "$base" > "$dir/lint/Dockerfile.ok"
out=$(build --check -f "$dir/lint/Dockerfile.ok" "$dir/lint" 2>&1); rc=$?
check "--check: a clean Dockerfile passes" bash -c '[ '$rc' -eq 0 ] && grep -q "Check complete, no warnings found." <<<"$1"' _ "$out"
out=$(build -t "$REGISTRY/t/lint:1" --push --metadata-file "$dir/lint-meta.json" "$dir/lint" 2>&1); rc=$?
check "a build with broken rules still builds, and warns" bash -c '[ '$rc' -eq 0 ] && grep -q "WARNING: FromAsCasing: '"'"'as'"'"' and '"'"'FROM'"'"' keywords'"'"' casing do not match (line 1)" <<<"$1"' _ "$out"
check "metadata: buildx.build.warnings, base64 as buildx writes them" bash -c 'jq -e "[.\"buildx.build.warnings\"[] | .short | @base64d] | index(\"StageNameCasing: Stage name '"'"'Builder'"'"' should be lowercase\") != null" "'"$dir"'/lint-meta.json" >/dev/null'
mkdir -p "$dir/lint2"; echo x > "$dir/lint2/notes.md"; echo y > "$dir/lint2/keep.txt"; printf '*.md\n' > "$dir/lint2/.dockerignore"
printf 'FROM %s\nCOPY keep.txt /\nADD notes.md /\n' "$base" > "$dir/lint2/Dockerfile"
out=$(build --check "$dir/lint2" 2>&1); rc=$?
check "--check: CopyIgnoredFile for a source .dockerignore excludes" bash -c '[ '$rc' -ne 0 ] && grep -q "Check complete, 1 warning has been found!" <<<"$1" && grep -qF "Attempting to Add file \"notes.md\" that is excluded by .dockerignore" <<<"$1"' _ "$out"
printf 'FROM %s\nENV GREETING=hi\nARG DECL\nENV X=$UNDEF_THING Y=$DECL P=$PATH\nLABEL l=$GRETING\nRUN echo $NOT_CHECKED\n' "$base" > "$dir/lint2/Dockerfile"
out=$(build -t "$REGISTRY/t/lint:2" --push "$dir/lint2" 2>&1); rc=$?
check "UndefinedVar in a build: the stage's and the base's variables count, RUN is not checked" bash -c '[ '$rc' -eq 0 ] && [ "$(grep -c UndefinedVar <<<"$1")" = 2 ] && grep -qF "UndefinedVar: Usage of undefined variable '"'"'\$UNDEF_THING'"'"' (line 4)" <<<"$1" && grep -qF "Usage of undefined variable '"'"'\$GRETING'"'"' (did you mean \$GREETING?) (line 5)" <<<"$1"' _ "$out"
