#!/usr/bin/env bash
# How a pushed layer goes up (registry/sink.h, sw_blob_push), seen from a recording proxy's
# log in front of a real registry.  By default a layer bigger than one upload chunk is packed
# once and streamed in one PATCH carrying the whole body, committed by a PUT without one;
# when that PATCH is refused or its connection dropped, the layer goes up again in chunks and
# the image is right.  SLIPWAY_LAYER_UPLOAD=put packs it twice and sends one monolithic PUT
# (no PATCH), with the same fallback, and sends nothing for a layer the registry already has;
# SLIPWAY_LAYER_UPLOAD=chunked keeps the one-pass chunked upload.  Each pushed image's layer
# blob hashes to its digest.
. tests/lib.sh
command -v docker-registry >/dev/null || { skip layer_upload "docker-registry not installed"; exit 0; }
dir=$(scratch_dir)
start_registry_with_busybox "$dir/registry" || exit 0
R=$REGISTRY
state=$dir/state
ctx=$dir/ctx; mkdir -p "$ctx"
# 40 MB of random bytes: gzip keeps them 40 MB, three 16 MiB chunks
printf 'FROM %s/base/busybox:latest\nRUN head -c 40000000 /dev/urandom > /blob\n' "$R" > "$ctx/Dockerfile"

# the image's last layer: "DIGEST SIZE"
top_layer() {
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$R/v2/$1/manifests/$2" | jq -r '.layers[-1] | "\(.digest) \(.size)"'
}
# the registry's bytes of that layer hash to its digest and have its size
layer_ok() {
  local d s; read -r d s < <(top_layer "$1" "$2")
  [ -n "$d" ] && [ "$s" -gt 38000000 ] || return 1
  curl -sf "http://$R/v2/$1/blobs/$d" -o "$dir/blob" || return 1
  [ "sha256:$(sha256sum < "$dir/blob" | cut -d' ' -f1)" = "$d" ] && [ "$(stat -c %s "$dir/blob")" = "$s" ]
}
# upload PUTs of repository $2 in log $1 carrying 10 MB or more (the base's layer, 1 MB, goes
# up too: the proxy's address is another registry than the base's); its PATCHes
big_puts() { grep -cE "^request PUT /v2/$2/blobs/uploads/[^ ]* body=[0-9]{8,}$" "$1"; }
big_put_bytes() { grep -oE "^request PUT /v2/$2/blobs/uploads/[^ ]* body=[0-9]+$" "$1" | sed 's/.*body=//' | sort -n | tail -1; }
patches() { grep -c "^request PATCH /v2/$2/blobs/uploads/" "$1"; }
patch_bytes() { grep -oE "^request PATCH /v2/$2/blobs/uploads/[^ ]* body=[0-9]+$" "$1" | sed 's/.*body=//' | sort -n | tail -1; }
bodiless_commits() { grep -cE "^request PUT /v2/$2/blobs/uploads/[^ ]*digest=sha256:[0-9a-f]{64} body=0$" "$1"; }
export -f big_puts big_put_bytes patches patch_bytes bodiless_commits
build_via() { # PROXY REPO [ENV…]: a fresh build of the context pushed to PROXY/REPO:1
  local p=$1 repo=$2; shift 2
  env "$@" timeout 300 "$SLIPWAY" build --progress=plain --no-cache --state-dir "$state" -t "$p/$repo:1" --push "$ctx" \
    > "$dir/out" 2>&1
}

# the default: one streamed PATCH with the whole body, one PUT without a body
start_fault_proxy "$R" log@all || { fail "proxy starts"; exit 0; }
if build_via "$PROXY" up/stream; then
  read -r d s < <(top_layer up/stream 1)
  check "a 40 MB layer goes up in one PATCH carrying all its $s bytes, committed by a PUT without a body" \
    bash -c '[ "$(patches "$1" up/stream)" = 1 ] && [ "$(patch_bytes "$1" up/stream)" = "$2" ] &&
             [ "$(big_puts "$1" up/stream)" = 0 ] && [ "$(bodiless_commits "$1" up/stream)" -ge 1 ]' _ "$PROXY_LOG" "$s"
  check "the streamed layer's bytes hash to its digest" layer_ok up/stream 1
else
  fail "build --push of a 40 MB layer" "$(tail -5 "$dir/out")"
fi

# FAULT on the one-request upload (METHOD: PATCH streamed, PUT monolithic) of REPO with
# ENV…: the layer goes up again in chunks (at least MIN PATCHes in all), and right
falls_back() { # FAULT KIND METHOD REPO MIN [ENV…]
  local fault=$1 kind=$2 method=$3 repo=$4 min=$5; shift 5
  start_fault_proxy "$R" log@all "$fault" || { fail "proxy starts"; return; }
  if build_via "$PROXY" "$repo" "$@"; then
    check "$fault on the $method: the layer goes up again in chunks" \
      bash -c 'grep -q "^fault $2 on $4 /v2/$3/blobs/uploads/" "$1" && [ "$(patches "$1" "$3")" -ge "$5" ]' \
      _ "$PROXY_LOG" "$kind" "$repo" "$method" "$min"
    check "$fault on the $method: the pushed layer's bytes hash to its digest" layer_ok "$repo" 1
  else
    fail "$fault on the $method: build --push falls back to chunks" "$(tail -5 "$dir/out") $(grep -E '^fault' "$PROXY_LOG")"
  fi
}

# the streamed PATCH refused (500) or its connection dropped: one PATCH, then 3 chunks
falls_back 500@1 500 PATCH up/patch500 4
falls_back drop@1 drop PATCH up/patchdrop 4

# SLIPWAY_LAYER_UPLOAD=put: one PUT with the whole body
start_fault_proxy "$R" log@all || { fail "proxy starts"; exit 0; }
if build_via "$PROXY" up/one SLIPWAY_LAYER_UPLOAD=put; then
  read -r d s < <(top_layer up/one 1)
  check "put: a 40 MB layer goes up in one PUT carrying all its $s bytes, no PATCH" \
    bash -c '[ "$(big_puts "$1" up/one)" = 1 ] && [ "$(big_put_bytes "$1" up/one)" = "$2" ] && [ "$(patches "$1" up/one)" = 0 ]' _ "$PROXY_LOG" "$s"
  check "put: the pushed layer's bytes hash to its digest" layer_ok up/one 1
else
  fail "build --push of a 40 MB layer" "$(tail -5 "$dir/out")"
fi

# the monolithic PUT refused (500) or its connection dropped: 3 chunks
falls_back bigput500@1 500 PUT up/bigput500 3 SLIPWAY_LAYER_UPLOAD=put
falls_back bigputdrop@1 drop PUT up/bigputdrop 3 SLIPWAY_LAYER_UPLOAD=put

# put: a layer the registry has already: HEAD, nothing sent.  COPY of the same context file
# makes the same blob again (--no-cache: packed anew, not taken from the build cache)
head -c 3000000 /dev/urandom > "$ctx/data"
printf 'FROM %s/base/busybox:latest\nCOPY data /data\n' "$R" > "$ctx/Dockerfile"
check "a 3 MB layer (1 MiB chunks) is pushed" build_via "$R" up/again SLIPWAY_CHUNK_SIZE=1048576
read -r d s < <(top_layer up/again 1)
start_fault_proxy "$R" log@all || { fail "proxy starts"; exit 0; }
if build_via "$PROXY" up/again SLIPWAY_CHUNK_SIZE=1048576 SLIPWAY_LAYER_UPLOAD=put; then
  check "put: a layer already in the registry is not uploaded again" \
    bash -c 'grep -q "^request HEAD /v2/up/again/blobs/$2 " "$1" && ! grep -q "^request PUT /v2/up/again/blobs/uploads/.*digest=$2 " "$1" &&
             [ "$(patches "$1" up/again)" = 0 ]' _ "$PROXY_LOG" "$d"
else
  fail "build --push of a layer already there" "$(tail -5 "$dir/out")"
fi

# the switch: one pass, PATCH chunks and the closing PUT without a body
printf 'FROM %s/base/busybox:latest\nRUN head -c 40000000 /dev/urandom > /blob\n' "$R" > "$ctx/Dockerfile"
start_fault_proxy "$R" log@all || { fail "proxy starts"; exit 0; }
if build_via "$PROXY" up/chunked SLIPWAY_LAYER_UPLOAD=chunked; then
  check "SLIPWAY_LAYER_UPLOAD=chunked: PATCH chunks, no big PUT" \
    bash -c '[ "$(patches "$1" up/chunked)" -ge 3 ] && [ "$(big_puts "$1" up/chunked)" = 0 ]' _ "$PROXY_LOG"
  check "SLIPWAY_LAYER_UPLOAD=chunked: the pushed layer's bytes hash to its digest" layer_ok up/chunked 1
else
  fail "build --push with SLIPWAY_LAYER_UPLOAD=chunked" "$(tail -5 "$dir/out")"
fi
out=$(SLIPWAY_LAYER_UPLOAD=patch "$SLIPWAY" build --state-dir "$state" -t "$R/up/bad:1" --push "$ctx" 2>&1)
check "SLIPWAY_LAYER_UPLOAD=patch is refused, naming the values" grep -q "SLIPWAY_LAYER_UPLOAD.*expected stream, put or chunked" <<<"$out"
