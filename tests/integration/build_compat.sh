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

# 5. RUN's supplementary groups: the primary gid first, then those /etc/group lists
df groups <<'DF'
FROM @BASE@
RUN echo 'wheel:x:10:root' >> /etc/group
RUN id -G > /root-groups
USER 1042:1043
RUN id -G > /tmp/numeric-groups
USER nobody
RUN id -G > /tmp/nobody-groups
DF
if check "build with USER changes" build -t "$REGISTRY/t/groups:1" --push "$dir/groups" &&
   unpack "$REGISTRY/t/groups:1" "$dir/u5"; then
  r=$dir/u5/rootfs
  check "groups: root gets 0 and wheel" test "$(cat "$r/root-groups")" = "0 10"
  check "groups: USER uid:gid gets the gid" test "$(cat "$r/tmp/numeric-groups")" = "1043"
  check "groups: a named user gets its primary gid" test "$(cat "$r/tmp/nobody-groups")" = "65534"
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
