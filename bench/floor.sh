#!/usr/bin/env bash
# bench/floor.sh [CASE…]: each case of ../shared/bench/cases against its physical floor,
# measured in the same run, and each tool's build+push time as a multiple of it.
#
# The floor of a case is the work itself, with nothing around it:
#   pull   the base layers fetched from 127.0.0.1:5001 (curl to /dev/null)
#   run    each RUN's command alone: in `unshare --pid --fork --mount`, /dev and /proc
#          mounted, `chroot ROOTFS /bin/sh -c CMD` on an unpacked copy of its stage's base (WORKDIR and COPY from the context
#          applied by hand first, not timed); a foreign platform under bare
#          qemu-aarch64-static inside the same chroot
#   ingest the registry's ingest of the same bytes slipway pushed: each new layer blob sent
#          by a streamed `curl -T` PUT to the loopback registry (127.0.0.1:5000)
# floor = pull + run + ingest (packing overlaps the upload, as slipway and buildx do).
# ROUNDS (default 3) rounds, each measuring every tool and every part of the floor once, in
# turn; each figure printed is its fastest round's (the network's and the machine's noise only
# ever add time: an apt-get over the network varies by seconds between minutes).
# The tools run through ../shared/bench/anchors.sh (buildx 0.29 on docker 28: /opt/docker-sid),
# from a private copy whose sampler of the state tmpfs's peak use (`df | tail | tr` 20 times a
# second: on two cores it slows every tool's build, and the floor's parts do not pay it; this
# script prints no peak) only idles; SAMPLER=1 runs anchors.sh as it is.
# Prints one line per case:  case platform floor (pull run ingest)  slipway s ×floor  buildx s ×floor
# UPLOADS="put chunked" adds a column per way: slipway with SLIPWAY_LAYER_UPLOAD=put (each
# layer packed twice: its digest, then one monolithic PUT) or chunked (packed once into
# resumable 16 MiB PATCHes), beside the default (one streamed PATCH).
# Needs root, the bench registries (../shared/bench/registry.sh), skopeo, umoci, curl, jq.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$here/../shared/bench" 2>/dev/null && pwd) || shared=$(cd "$here/../../shared/bench" 2>/dev/null && pwd) \
  || { echo "no ../shared/bench" >&2; exit 2; }
export SLIPWAY=${SLIPWAY:-$here/slipway}
W=$(mktemp -d /tmp/slipway-floor.XXXXXX)
trap 'for m in $(grep -o "$W[^ ]*" /proc/self/mountinfo | sort -r); do umount -l "$m"; done 2>/dev/null; rm -rf "$W"' EXIT
cases=("$@"); [ ${#cases[@]} -gt 0 ] || cases=(fat arm64 cbuild multistage copyctx steps30)
HUB=127.0.0.1:5001 TARGET=127.0.0.1:5000
"$shared/registry.sh" start >/dev/null

platform_of() { [ "$1" = arm64 ] && echo linux/arm64 || echo linux/amd64; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# unpack REF ARCH DIR: the base's rootfs (not timed)
unpack() {
  rm -rf "$W/oci" "$3"
  skopeo copy -q --src-tls-verify=false --override-arch "$2" "docker://$1" "oci:$W/oci:x" &&
    umoci unpack --image "$W/oci:x" "$3" >/dev/null
}

# pull_floor REF ARCH: seconds to fetch the base's layer blobs
pull_floor() {
  local ref=$1 arch=$2 repo=${1#*/} ; repo=${repo%:*}
  local tag=${1##*:}
  local m; m=$(skopeo inspect --tls-verify=false --raw --override-arch "$arch" "docker://$ref")
  if jq -e '.manifests' <<<"$m" >/dev/null; then
    local d; d=$(jq -r --arg a "$arch" '.manifests[]|select(.platform.architecture==$a).digest' <<<"$m" | head -1)
    m=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "http://$HUB/v2/$repo/manifests/$d")
  fi
  local t0; t0=$(now)
  for b in $(jq -r '.layers[].digest' <<<"$m"); do curl -fs -o /dev/null "http://$HUB/v2/$repo/blobs/$b"; done
  secs "$t0" "$(now)"
  : "$tag"
}

# run_floor CASE ARCH: seconds of every RUN alone, stage by stage, on its base
run_floor() {
  local ctx=$shared/cases/$1 arch=$2 total=0 root="" wd=/ qemu=""
  [ "$arch" = arm64 ] && qemu=/usr/bin/qemu-aarch64-static
  while IFS= read -r line; do
    set -- $line
    case ${1^^} in
    FROM)
      local img=$2
      root=$W/root-$(echo "$img" | tr -c 'a-z0-9' _)-$arch
      [ -d "$root/rootfs" ] || unpack "$img" "$arch" "$root" || { echo "unpack $img failed" >&2; return 1; }
      rm -rf "$W/stage"; cp -a "$root/rootfs" "$W/stage"
      cp /etc/resolv.conf "$W/stage/etc/resolv.conf" 2>/dev/null
      [ -n "$qemu" ] && cp "$qemu" "$W/stage/qemu"
      wd=/ ;;
    WORKDIR) wd=$2; mkdir -p "$W/stage$wd" ;;
    COPY)
      case $2 in --from=*) ;; *) cp -a "$ctx/$2" "$W/stage$wd/${3%.}" 2>/dev/null ;; esac ;;
    RUN)
      local cmd=${line#* }
      local t0; t0=$(now)
      # the environment is set outside: the base may have no env binary
      env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        unshare --pid --fork --mount --propagation private /bin/sh -c \
          'mkdir -p "$1/dev" "$1/proc" && mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" && exec chroot "$1" $2 /bin/sh -c "cd $3 && $4"' \
          _ "$W/stage" "${qemu:+/qemu}" "$wd" "$cmd" >"$W/run.log" 2>&1 \
        || { echo "RUN failed in the floor: $cmd" >&2; tail -3 "$W/run.log" >&2; }
      total=$(echo "$total + $(secs "$t0" "$(now)")" | bc) ;;
    esac
  done < <(grep -v '^\s*#' "$ctx/Dockerfile" | grep -v '^\s*$')
  echo "$total"
}

# ingest_floor REF BASEREF ARCH: seconds for the registry to take the new layers' bytes
ingest_floor() {
  local ref=$1 repo=${1#*/}; repo=${repo%:*}
  local m; m=$(skopeo inspect --tls-verify=false --raw "docker://$ref") || { echo 0; return; }
  if jq -e '.manifests' <<<"$m" >/dev/null; then # an index (the image and its provenance)
    local md; md=$(jq -r --arg a "$3" '.manifests[]|select(.platform.architecture==$a).digest' <<<"$m" | head -1)
    m=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "http://$TARGET/v2/$repo/manifests/$md")
  fi
  local base; base=$(skopeo inspect --tls-verify=false --raw --override-arch "$3" "docker://$2")
  if jq -e '.manifests' <<<"$base" >/dev/null; then
    local bd; bd=$(jq -r --arg a "$3" '.manifests[]|select(.platform.architecture==$a).digest' <<<"$base" | head -1)
    local brepo=${2#*/}; brepo=${brepo%:*}
    base=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "http://$HUB/v2/$brepo/manifests/$bd")
  fi
  local total=0
  for d in $(jq -r '.layers[].digest' <<<"$m"); do
    jq -e --arg d "$d" '[.layers[].digest] | index($d)' <<<"$base" >/dev/null && continue
    curl -fs -o "$W/blob" "http://$TARGET/v2/$repo/blobs/$d" || continue
    local loc; loc=$(curl -fsi -X POST "http://$TARGET/v2/floor/ingest/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    case $loc in http*) ;; *) loc=http://$TARGET$loc ;; esac
    local sep='?'; case $loc in *\?*) sep='&' ;; esac
    local t0; t0=$(now)
    curl -fs -T "$W/blob" -X PUT -H 'Content-Type: application/octet-stream' "$loc${sep}digest=$d" >/dev/null
    total=$(echo "$total + $(secs "$t0" "$(now)")" | bc)
    rm -f "$W/blob"
  done
  echo "$total"
}

anchors=$shared/anchors.sh
if [ "${SAMPLER:-0}" != 1 ]; then
  mkdir -p "$W/bench"
  for f in registry.sh setup-buildx.sh cases; do ln -s "$shared/$f" "$W/bench/$f"; done
  sed 's|^( peak=0; while :; do .*done ) &$|( while :; do sleep 1; done ) \&|' "$shared/anchors.sh" > "$W/bench/anchors.sh"
  chmod +x "$W/bench/anchors.sh"
  if grep -q '^( while :; do sleep 1; done ) &$' "$W/bench/anchors.sh"; then
    anchors=$W/bench/anchors.sh
  else
    echo "floor.sh: anchors.sh's disk sampler not found; running it as it is (as SAMPLER=1)" >&2
  fi
fi

tool_time() { # TOOL CASE PLATFORM → seconds (or "fail")
  local out; out=$("$anchors" "$1" "$2" "$3")
  grep -q "rc=0" <<<"$out" && sed -n 's/.*wall_s=\([0-9.]*\).*/\1/p' <<<"$out" || echo fail
}

ROUNDS=${ROUNDS:-3}
min() { [ "$1" = fail ] || [ "$2" = fail ] && { [ "$1" = fail ] && echo "$2" || echo "$1"; return; }
        [ "$(echo "$1 < $2" | bc)" = 1 ] && echo "$1" || echo "$2"; }
uploads=(${UPLOADS:-})
printf '%-10s %-12s %8s %22s %16s %16s' case platform floor_s "(pull run ingest)" slipway_s buildx_s
for u in "${uploads[@]}"; do printf ' %16s' "slipway_${u}_s"; done
echo
for c in "${cases[@]}"; do
  plat=$(platform_of "$c"); arch=${plat#*/}
  [ -f "$shared/cases/$c/Dockerfile" ] || { echo "$c: no such case" >&2; continue; }
  last_base=$(grep -i '^FROM' "$shared/cases/$c/Dockerfile" | tail -1 | awk '{print $2}')
  s=fail bx=fail pull=fail run=fail ingest=fail
  declare -A alt=()
  for u in "${uploads[@]}"; do alt[$u]=fail; done
  for r in $(seq 1 "$ROUNDS"); do
    s=$(min "$s" "$(tool_time slipway "$c" "$plat")")
    # the same bytes slipway pushed, ingested alone (the registry holds only this run's image)
    ingest=$(min "$ingest" "$(ingest_floor "$TARGET/bench/$c:slipway" "$last_base" "$arch")")
    bx=$(min "$bx" "$(tool_time buildx "$c" "$plat")")
    for u in "${uploads[@]}"; do
      alt[$u]=$(min "${alt[$u]}" "$(SLIPWAY_LAYER_UPLOAD=$u tool_time slipway "$c" "$plat")")
    done
    p=0
    for b in $(grep -i '^FROM' "$shared/cases/$c/Dockerfile" | awk '{print $2}' | sort -u); do
      p=$(echo "$p + $(pull_floor "$b" "$arch")" | bc)
    done
    pull=$(min "$pull" "$p")
    run=$(min "$run" "$(run_floor "$c" "$arch")")
  done
  floor=$(echo "$pull + $run + $ingest" | bc)
  mult() { [ "$1" = fail ] && echo fail || printf '%.2f (%.2fx)' "$1" "$(echo "$1 / $floor" | bc -l)"; }
  printf '%-10s %-12s %8.2f %22s %16s %16s' "$c" "$plat" "$floor" \
    "($(printf '%.2f %.2f %.2f' "$pull" "$run" "$ingest"))" "$(mult "$s")" "$(mult "$bx")"
  for u in "${uploads[@]}"; do printf ' %16s' "$(mult "${alt[$u]}")"; done
  echo
  unset alt
done
