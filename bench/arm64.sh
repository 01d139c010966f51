#!/usr/bin/env bash
# bench/arm64.sh: ../shared/bench's case arm64 (FROM busybox; one RUN that writes 128 MiB
# from /dev/urandom, sha256sums it and records `uname -m`) for linux/arm64 on this host,
# built AND pushed, side by side, alternating: `slipway build --platform linux/arm64 --push`
# and `buildah bud --platform linux/arm64` + `buildah push` (chroot isolation, vfs), each
# against its own fresh loopback registry with the same two-platform busybox base
# (tests/fixtures/push-busybox.sh).  Round 1 starts from empty state (base image pulled),
# round 2 keeps each tool's state.
#
# QEMU: slipway arranges it itself (emu/).  buildah needs a binfmt_misc entry: the host's if
# it has one for qemu-aarch64, else the script gives buildah a stand-in — a user namespace
# mapping every id to itself with its own binfmt_misc instance where qemu-aarch64-static is
# registered (flags PF) — so the host is never changed.  Prints which, and whether
# binfmt_misc was left as found.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SLIPWAY=${SLIPWAY:-$here/slipway}
. tests/lib.sh
W=$(scratch_dir)
start_registry "$W/reg" >/dev/null
bash tests/fixtures/push-busybox.sh "$REGISTRY" base/busybox:latest >/dev/null
mkdir -p "$W/ctx"
sed "s|^FROM .*|FROM $REGISTRY/base/busybox:latest|" ../shared/bench/cases/arm64/Dockerfile > "$W/ctx/Dockerfile" 2>/dev/null \
  || printf 'FROM %s/base/busybox:latest\nRUN dd if=/dev/urandom of=/blob bs=1M count=128 2>/dev/null && sha256sum /blob > /blob.sum && uname -m > /arch\n' \
       "$REGISTRY" > "$W/ctx/Dockerfile"
now() { date +%s%N; }
report() { # what start end
  local ms=$(( ($3 - $2) / 1000000 ))
  printf '%-58s %4d.%03d s\n' "$1" $((ms / 1000)) $((ms % 1000))
}
binfmt() { ls /proc/sys/fs/binfmt_misc 2>/dev/null | sort | tr '\n' ' '; }
arch_of() { skopeo inspect --tls-verify=false --config "docker://$1" | jq -r .architecture; }

slipway_round() { # round
  local s; s=$(now)
  "$SLIPWAY" build --no-cache --platform linux/arm64 --state-dir "$W/state" --insecure-registry "$REGISTRY" \
    -t "$REGISTRY/bench/arm64-$1:slipway" --push "$W/ctx" > "$W/slipway-$1.log" 2>&1 \
    || { echo "slipway build failed:"; tail -5 "$W/slipway-$1.log"; exit 1; }
  report "slipway build --push ($1, $(arch_of "$REGISTRY/bench/arm64-$1:slipway"))" "$s" "$(now)"
}

# buildah's build and push, as one shell command (run directly or in the stand-in)
buildah_cmd='B="buildah --root $W/bh/root --runroot $W/bh/run --storage-driver vfs"
$B bud --platform linux/arm64 --isolation chroot --tls-verify=false -t $REGISTRY/bench/arm64-$ROUND:buildah $W/ctx \
  > $W/buildah-$ROUND.log 2>&1 && $B push --tls-verify=false $REGISTRY/bench/arm64-$ROUND:buildah >> $W/buildah-$ROUND.log 2>&1'
standin=
if ! grep -qls '^interpreter .*qemu-aarch64' /proc/sys/fs/binfmt_misc/* 2>/dev/null; then
  [ "$("$SLIPWAY" debug emu probe)" = "private binfmt_misc: yes" ] && standin=yes
fi
export W REGISTRY buildah_cmd
buildah_round() { # round
  local s rc=0; s=$(now)
  if [ -z "$standin" ]; then
    ROUND=$1 bash -c "$buildah_cmd" || rc=$?
  else
    rm -f "$W/nspid"
    ROUND=$1 unshare --user --mount --propagation private bash -c '
      echo $$ > $W/nspid
      until grep -q 4294967295 /proc/self/uid_map; do sleep 0.01; done
      mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || exit 90
      printf "%s" ":qemu-aarch64:M:0:\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\x00\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:$(command -v qemu-aarch64-static):PF" \
        > /proc/sys/fs/binfmt_misc/register || exit 91
      eval "$buildah_cmd"' &
    local job=$!
    until [ -s "$W/nspid" ]; do sleep 0.01; done
    local p; p=$(cat "$W/nspid")
    echo "0 0 4294967295" > "/proc/$p/uid_map"; echo "0 0 4294967295" > "/proc/$p/gid_map"
    wait $job || rc=$?
  fi
  [ $rc = 0 ] || { echo "buildah failed ($rc):"; tail -5 "$W/buildah-$1.log" 2>/dev/null; exit 1; }
  report "buildah bud + push ($1, vfs, chroot${standin:+, stand-in ns}, $(arch_of "$REGISTRY/bench/arm64-$1:buildah"))" "$s" "$(now)"
}

before=$(binfmt)
if [ -n "$standin" ]; then how="a stand-in binfmt_misc (the host has no qemu-aarch64 entry)"; else how="the host entry"; fi
echo "slipway: $("$SLIPWAY" debug emu probe); buildah: $how"
have_buildah=; command -v buildah >/dev/null && have_buildah=yes
[ -n "$have_buildah" ] && on_exit "buildah --root $W/bh/root --runroot $W/bh/run --storage-driver vfs rmi -a -f >/dev/null 2>&1"
for round in cold warm; do
  slipway_round $round
  if [ -n "$have_buildah" ]; then buildah_round $round; fi
done
[ -n "$have_buildah" ] || echo "buildah: not installed"
[ "$(binfmt)" = "$before" ] && echo "binfmt_misc afterwards: as found" || echo "binfmt_misc afterwards: CHANGED: $(binfmt)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
