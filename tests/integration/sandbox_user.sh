#!/usr/bin/env bash
# USER and WORKDIR give what docker gives for the same image (runc's rules: a uid without
# a passwd entry gets gid 0, names come from /etc/passwd, supplementary groups from
# /etc/group, an explicit group drops them; HOME from passwd).
. tests/lib.sh

T=$(scratch_dir)
bash tests/fixtures/busybox-rootfs.sh "$T/rootfs"
R=$T/rootfs
cat > "$R/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
svc:x:999:998::/var/lib/svc:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$R/etc/group" <<'G'
root:x:0:
wheel:x:10:root,alice
alice:x:1000:
svc:x:998:
staff:x:50:alice,svc
nogroup:x:65534:
G
mkdir -p "$R/home/alice"; chown 1000:1000 "$R/home/alice"

# user spec | expected "uid gid groups HOME": what a BuildKit RUN prints for
# `id -u; id -g; /proc/self/status Groups; $HOME` on this image (docker's user lookup, and
# BuildKit's executor puts the primary gid among the groups; the kernel lists them sorted)
cases=(
  "|0 0 0 10|/root"
  "root|0 0 0 10|/root"
  "alice|1000 1000 10 50 1000|/home/alice"
  "1000|1000 1000 10 50 1000|/home/alice"
  "alice:staff|1000 50 50|/home/alice"
  "alice:0|1000 0 0|/home/alice"
  "svc|999 998 50 998|/var/lib/svc"
  "4242|4242 0 0|/"
  "4242:4343|4242 4343 4343|/"
  "nobody|65534 65534 65534|/nonexistent"
)
for c in "${cases[@]}"; do
  spec=${c%%|*}; rest=${c#*|}; want_ids=${rest%%|*}; want_home=${rest#*|}
  rm -rf "$T/up"; mkdir "$T/up"
  out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --upper "$T/up" --user "$spec" -- \
        /bin/sh -c 'echo "$(id -u) $(id -g) $(sed -n "s/^Groups:[[:space:]]*//p" /proc/self/status)|$HOME"' 2>&1)
  got=$(echo "$out" | sed 's/ *|/|/; s/ *$//')
  if [ "$got" = "$want_ids|$want_home" ]; then pass "USER '$spec' → $want_ids, HOME=$want_home"
  else fail "USER '$spec'" "want '$want_ids|$want_home' got '$out'"; fi
done

out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --user mallory -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'unable to find user mallory: no matching entries in passwd file' <<<"$out"; then
  pass "an unknown user name is docker's error"
else fail "an unknown user name is docker's error" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --user alice:ghosts -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'unable to find group ghosts' <<<"$out"; then pass "an unknown group name is docker's error"
else fail "an unknown group name is docker's error" "$out"; fi

# non-root users get no capabilities at all
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --user alice -- /bin/sh -c 'grep -E "^Cap(Eff|Prm):" /proc/self/status' 2>&1)
if [ "$(grep -c '0000000000000000' <<<"$out")" = 2 ]; then pass "a non-root USER has no capabilities"
else fail "a non-root USER has no capabilities" "$out"; fi

# WORKDIR: created if missing (root, 0755, as BuildKit), relative parts cleaned, existing kept
rm -rf "$T/up"; mkdir "$T/up"
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --upper "$T/up" --user alice --workdir /srv/./app/../app -- /bin/sh -c 'pwd; touch f 2>/dev/null || echo readonly-for-alice' 2>&1)
if [ "$(head -1 <<<"$out")" = /srv/app ] && [ "$(stat -c '%u:%g %a' "$T/up/srv/app")" = "0:0 755" ] \
   && grep -q readonly-for-alice <<<"$out"; then
  pass "WORKDIR is made like BuildKit's (root, 0755) and the process starts in it"
else fail "WORKDIR is made like BuildKit's" "$out $(stat -c '%u:%g %a' "$T/up/srv/app" 2>&1)"; fi
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --user alice --workdir /home/alice -- /bin/sh -c 'pwd; touch f && echo writable' 2>&1)
if [ "$out" = "$(printf '/home/alice\nwritable')" ]; then pass "an existing WORKDIR keeps its owner"
else fail "an existing WORKDIR keeps its owner" "$out"; fi

# USER is read from the snapshots as overlayfs stacks them: the top one that has
# /etc/passwd wins, a whiteout hides it, an opaque /etc hides what is below
mkdir -p "$T/l1/etc" "$T/l2/etc" "$T/l3/etc"
printf 'root:x:0:0::/root:/bin/sh\ncarol:x:3000:3000::/home/carol:/bin/sh\n' > "$T/l1/etc/passwd"
mknod "$T/l2/etc/passwd" c 0 0
printf 'root:x:0:0::/root:/bin/sh\ndave:x:4000:4000::/d:/bin/sh\n' > "$T/l3/etc/passwd"
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --lower "$T/l1" --user carol -- id -u 2>&1)
if [ "$out" = 3000 ]; then pass "USER comes from the top snapshot's /etc/passwd"
else fail "USER comes from the top snapshot's /etc/passwd" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --lower "$T/l1" --lower "$T/l2" --user carol -- id -u 2>&1)
if grep -q 'unable to find user carol' <<<"$out"; then pass "a whiteout of /etc/passwd hides the lower one"
else fail "a whiteout of /etc/passwd hides the lower one" "$out"; fi
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --lower "$T/l1" --lower "$T/l2" --lower "$T/l3" --user dave -- id -u 2>&1)
if [ "$out" = 4000 ]; then pass "a newer /etc/passwd over a whiteout is used"
else fail "a newer /etc/passwd over a whiteout is used" "$out"; fi
mkdir -p "$T/l4/etc"; setfattr -n trusted.overlay.opaque -v y "$T/l4/etc" 2>/dev/null || python3 -c 'import os,sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")' "$T/l4/etc"
out=$("$SLIPWAY" debug run --state-dir "$T/state" --rootfs "$R" --lower "$T/l1" --lower "$T/l4" --user carol -- id -u 2>&1)
if grep -q 'unable to find user carol' <<<"$out"; then pass "an opaque /etc hides the passwd below it"
else fail "an opaque /etc hides the passwd below it" "$out"; fi
