#!/usr/bin/env bash
# A hostile Dockerfile and context, the way a pull request in CI could bring them: each
# attack must fail (or be contained) with a clear error, and after each: nothing outside
# the root changed, nothing hung (every build under `timeout`), nothing leaked (secrets in
# no layer, config or log), no tag moved on failure, no mount or process left.
#
# Covered elsewhere, not repeated here:
#   own network (host loopback, abstract sockets, AF_PACKET, entitlements)  sandbox_net.sh
#   sealed QEMU (the emulated-RUN exploit against the host's QEMU)            emu.sh
#   mount/unshare/setns/keyctl/ptrace of PID 1/clone namespaces (seccomp+caps) sandbox.sh
#   SIGKILL/SIGTERM mid-RUN: no mount, no process; the next build cleans      sandbox_build.sh
#   hostile tars (.., absolute, links out, devices) and decompression bombs    layers.sh
#   RUN --mount sources through symlinks                                       sandbox_mounts.sh
. tests/lib.sh

T=$(scratch_dir)
start_registry "$T/reg" >/dev/null || { fail "registry starts"; exit 0; }
ARCHS=amd64 bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null \
  || { fail "base image pushed"; exit 0; }
BASE=$REGISTRY/base/busybox:latest
build() { timeout 120 "$SLIPWAY" build --state-dir "$T/state" --insecure-registry "$REGISTRY" --progress plain "$@"; }
tag_of() { curl -s "http://$REGISTRY/v2/$1/manifests/$2" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' -o /dev/null -w '%{http_code}'; }
mounts_before=$(grep -c "$T" /proc/self/mountinfo)
outside=$T/outside; mkdir -p "$outside"; echo original > "$outside/victim"
snapshot_outside() { find "$outside" -printf '%p %s %T@\n' | sort | sha256sum; }
outside_sum=$(snapshot_outside)

# -- FIFOs in the context: no hang, a clear error -----------------------------------------------
mkdir -p "$T/fifo"; mkfifo "$T/fifo/pipe"
printf 'FROM %s\nRUN --mount=type=bind,source=pipe,target=/p,rw ls -l /p\n' "$BASE" > "$T/fifo/Dockerfile"
out=$(build -t "$REGISTRY/h/fifo:1" --push "$T/fifo" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'not a regular file' <<<"$out" && grep -q 'Dockerfile:2' <<<"$out"; then
  pass "RUN --mount=type=bind,source=<fifo>,rw: no hang, a clear error at Dockerfile:2"
else fail "rw bind of a FIFO" "rc=$rc $(tail -3 <<<"$out")"; fi
[ "$(tag_of h/fifo 1)" = 404 ] && pass "…and no tag" || fail "rw bind of a FIFO: no tag"
rm "$T/fifo/pipe"; mkfifo "$T/fifo/.dockerignore"
printf 'FROM %s\nCOPY Dockerfile /\n' "$BASE" > "$T/fifo/Dockerfile"
out=$(build "$T/fifo" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q '.dockerignore: it is not a regular file' <<<"$out"; then
  pass "a FIFO named .dockerignore: no hang, a clear error"
else fail "a FIFO named .dockerignore" "rc=$rc $(tail -3 <<<"$out")"; fi
rm "$T/fifo/.dockerignore" "$T/fifo/Dockerfile"; mkfifo "$T/fifo/Dockerfile"
out=$(build "$T/fifo" 2>&1); rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'not a regular file' <<<"$out"; then
  pass "a FIFO named Dockerfile in the context: no hang, a clear error"
else fail "a FIFO named Dockerfile" "rc=$rc $(tail -3 <<<"$out")"; fi

# -- /etc/resolv.conf a dangling symlink into a missing directory (systemd images) ----------------
mkdir -p "$T/resolv"
mkdir -p "$T/resolv/etc"   # a symlink inside a copied directory stays a symlink
ln -s ../run/systemd/resolve/stub-resolv.conf "$T/resolv/etc/resolv.conf"
printf 'FROM %s\nCOPY etc/ /etc/\nRUN readlink /etc/resolv.conf && grep -q nameserver /etc/resolv.conf && echo resolv-ok\n' "$BASE" > "$T/resolv/Dockerfile"
out=$(build -o "type=oci,dest=$T/resolv.tar" "$T/resolv" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q resolv-ok <<<"$out"; then
  pass "an image whose /etc/resolv.conf points into a missing /run/systemd: RUN works"
else fail "dangling /etc/resolv.conf symlink" "rc=$rc $(tail -3 <<<"$out")"; fi
if [ $rc -eq 0 ]; then
  mkdir -p "$T/resolv-oci" && tar -xf "$T/resolv.tar" -C "$T/resolv-oci"
  last=$(jq -r '.manifests[0].digest' "$T/resolv-oci/index.json" | cut -d: -f2)
  layer=$(jq -r '.layers[-1].digest' "$T/resolv-oci/blobs/sha256/$last" | cut -d: -f2)
  list=$(tar -tzf "$T/resolv-oci/blobs/sha256/$layer" 2>/dev/null || tar -tf "$T/resolv-oci/blobs/sha256/$layer")
  if ! grep -q 'run/' <<<"$list"; then pass "…the mountpoint made for it is not in the step's layer"
  else fail "dangling resolv.conf: mountpoint left in the layer" "$list"; fi
fi

# -- io_uring: denied by the seccomp profile (moby 25+) ------------------------------------------
mkdir -p "$T/uring"
if gcc -static -O2 -o "$T/uring/uring" -x c - <<'C' 2>"$T/gcc.log"; then
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main (void)
{
  char params[120] = { 0 };
  long r = syscall (SYS_io_uring_setup, 4, params);
  printf ("io_uring_setup=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0);
  printf ("io_uring_enter=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  r = syscall (SYS_io_uring_register, 0, 0, NULL, 0);
  printf ("io_uring_register=%ld errno=%s\n", r, r < 0 ? strerror (errno) : "-");
  return 0;
}
C
  printf 'FROM %s\nCOPY uring /uring\nRUN /uring\n' "$BASE" > "$T/uring/Dockerfile"
  out=$(build "$T/uring" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c 'errno=Operation not permitted' <<<"$out")" = 3 ]; then
    pass "io_uring_setup, io_uring_enter, io_uring_register fail with EPERM in RUN"
  else fail "io_uring denied" "rc=$rc $(grep io_uring <<<"$out" | tail -3)"; fi
else
  fail "io_uring helper builds" "$(tail -2 "$T/gcc.log")"
fi

# -- hostile base images: unknown or foreign layer types, a layer whose size lies ----------------
mkdir -p "$T/img"
for m in ok unknown-type foreign bad-size; do
  python3 tests/helpers/push-crafted-image.py "$REGISTRY" "h/crafted:$m" "$m" >/dev/null || fail "crafted image $m pushed"
done
for m in unknown-type foreign; do
  printf 'FROM %s/h/crafted:%s\nLABEL x=y\n' "$REGISTRY" "$m" > "$T/img/Dockerfile"
  out=$(build -t "$REGISTRY/h/from-$m:1" --push "$T/img" 2>&1); rc=$?
  want='unknown media type "application/vnd.example.unknown"'; [ $m = foreign ] && want='foreign (non-distributable) layers are not supported'
  if [ $rc -ne 0 ] && grep -qF "$want" <<<"$out" && grep -q "h/crafted:$m: layer 1 (sha256:" <<<"$out" \
     && [ "$(tag_of h/from-$m 1)" = 404 ]; then
    pass "base image with a $m layer: refused, naming the image and the layer; nothing pushed"
  else fail "base image with a $m layer is refused" "rc=$rc $(tail -2 <<<"$out")"; fi
done
printf 'FROM %s/h/crafted:bad-size\nRUN true\n' "$REGISTRY" > "$T/img/Dockerfile"
out=$(timeout 120 "$SLIPWAY" build --state-dir "$T/state-size" --progress plain "$T/img" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'the descriptor says' <<<"$out"; then
  pass "a base layer whose download is not its declared size is refused"
else fail "base layer size checked on download" "rc=$rc $(tail -2 <<<"$out")"; fi
printf 'FROM %s/h/crafted:bad-size\nLABEL x=y\n' "$REGISTRY" > "$T/img/Dockerfile"
out=$(build -t "$REGISTRY/h/from-size:1" --push "$T/img" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'the descriptor says' <<<"$out" && [ "$(tag_of h/from-size 1)" = 404 ]; then
  pass "a base layer whose declared size lies is refused when copied to the target (mount), no tag"
else fail "base layer size checked on copy" "rc=$rc $(tail -2 <<<"$out")"; fi
printf 'FROM %s/h/crafted:ok\nLABEL x=y\n' "$REGISTRY" > "$T/img/Dockerfile"
out=$(build -t "$REGISTRY/h/from-ok:1" --push "$T/img" 2>&1); rc=$?
[ $rc -eq 0 ] && pass "control: the same image with honest descriptors builds" || fail "control: crafted ok image" "$(tail -2 <<<"$out")"

# -- the context and the image's symlinks lead nowhere outside ------------------------------------
mkdir -p "$T/links"
ln -s "$outside" "$T/links/out-dir"; ln -s "$outside/victim" "$T/links/out-file"
printf 'FROM %s\nCOPY out-file /got-file\n' "$BASE" > "$T/links/Dockerfile"
out=$(build -o "type=local,dest=$T/links-out" "$T/links" 2>&1); rc=$?
if [ $rc -ne 0 ] || ! grep -rqs original "$T/links-out"; then
  pass "COPY of a context symlink that leads outside the context does not read the target"
else fail "COPY of a context symlink out of the context" "rc=$rc"; fi
printf 'FROM %s\nRUN ln -s %s /evil && ln -s / /root-link\nWORKDIR /evil/made-by-workdir\nCOPY Dockerfile /root-link%s/copied\nRUN echo x > /evil/written\n' \
  "$BASE" "$outside" "$outside" > "$T/links/Dockerfile"
out=$(build "$T/links" 2>&1); rc=$?
if [ ! -e "$outside/made-by-workdir" ] && [ ! -e "$outside/copied" ] && [ ! -e "$outside/written" ]; then
  pass "WORKDIR, COPY and RUN through symlinks in the image stay inside the root"
else fail "WORKDIR/COPY/RUN through symlinks" "$(ls "$outside")"; fi

# -- secrets: in no layer, config, log or state -------------------------------------------------
mkdir -p "$T/secret"
secret=sw-secret-$$-$RANDOM-value
printf '%s' "$secret" > "$T/secret.txt"
printf 'FROM %s\nRUN --mount=type=secret,id=tok cat /run/secrets/tok; echo done\n' "$BASE" > "$T/secret/Dockerfile"
out=$(build --secret "id=tok,src=$T/secret.txt" -t "$REGISTRY/h/secret:1" --push "$T/secret" 2>&1); rc=$?
found=$(grep -c -- "$secret" <<<"$out")
blobs=$(grep -rl -- "$secret" "$T/reg/data" 2>/dev/null | wc -l)
state=$(grep -rl -- "$secret" "$T/state" 2>/dev/null | wc -l)
if [ $rc -eq 0 ] && [ "$found" = 0 ] && [ "$blobs" = 0 ]; then
  pass "a secret is masked in the log and is in no pushed blob (layer, config, manifest)"
else fail "secret leaked" "rc=$rc log=$found blobs=$blobs $(tail -2 <<<"$out")"; fi
[ "$state" = 0 ] && pass "…nor anywhere in the state dir" || fail "secret in the state dir" "$state files"

# -- a failing build moves no tag ---------------------------------------------------------------
mkdir -p "$T/tag"
printf 'FROM %s\nRUN echo v1 > /v\n' "$BASE" > "$T/tag/Dockerfile"
build -t "$REGISTRY/h/tag:stable" --push "$T/tag" >/dev/null 2>&1
d1=$(curl -sI "http://$REGISTRY/v2/h/tag/manifests/stable" -H 'Accept: application/vnd.oci.image.manifest.v1+json' | tr -d '\r' | sed -n 's/^Docker-Content-Digest: //Ip')
printf 'FROM %s\nRUN echo v2 > /v\nRUN exit 7\n' "$BASE" > "$T/tag/Dockerfile"
build -t "$REGISTRY/h/tag:stable" --push "$T/tag" >/dev/null 2>&1; rc=$?
d2=$(curl -sI "http://$REGISTRY/v2/h/tag/manifests/stable" -H 'Accept: application/vnd.oci.image.manifest.v1+json' | tr -d '\r' | sed -n 's/^Docker-Content-Digest: //Ip')
if [ $rc -ne 0 ] && [ -n "$d1" ] && [ "$d1" = "$d2" ]; then pass "a failing build leaves the tag where it was"
else fail "a failing build moved the tag" "rc=$rc $d1 -> $d2"; fi

# -- concurrent builds on one state dir ---------------------------------------------------------
mkdir -p "$T/conc"
printf 'FROM %s\nARG N\nRUN echo "$N" > /n && sleep 1\n' "$BASE" > "$T/conc/Dockerfile"
pids=()
for n in 1 2 3; do
  build --build-arg N=$n -t "$REGISTRY/h/conc:$n" --push "$T/conc" > "$T/conc-$n.log" 2>&1 &
  pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
[ "$ok" = 3 ] && pass "three concurrent builds on one state dir all succeed" \
  || fail "concurrent builds on one state dir" "$ok of 3; $(tail -2 "$T"/conc-*.log | tr '\n' ' ')"

# -- afterwards: nothing outside changed, nothing mounted, nothing running ---------------------------
[ "$(snapshot_outside)" = "$outside_sum" ] && [ "$(cat "$outside/victim")" = original ] \
  && pass "nothing outside the root changed" || fail "something outside the root changed" "$(ls -la "$outside")"
[ "$(grep -c "$T" /proc/self/mountinfo)" = "$mounts_before" ] && pass "no mount left" \
  || fail "mounts left" "$(grep "$T" /proc/self/mountinfo | head -3)"
no_state_procs() { ! pgrep -f "$T/state" >/dev/null; }
eventually 10 no_state_procs
left=$(pgrep -a -f "$T/state" | grep -v pgrep || true)
[ -z "$left" ] && pass "no process of these builds left" || fail "processes left" "$left"
