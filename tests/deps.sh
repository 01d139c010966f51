#!/usr/bin/env bash
# Install the Debian packages that building and testing slipway need.  Idempotent: when
# everything is there it only checks, and touches neither apt's lists nor the network.
set -eu
pkgs=(
  # build
  gcc make pkg-config
  libarchive-dev libisal-dev libzstd-dev libssl-dev libcurl4-openssl-dev libjansson-dev
  libseccomp-dev libcmocka-dev libyaml-dev
  # tests: a real registry, independent validators, base-image material, emulation
  docker-registry skopeo umoci busybox-static qemu-user-static
  jq openssl apache2-utils ca-certificates python3 curl iproute2 util-linux
  strace
  bzip2 xz-utils  # ADD archive tests (exec/add)
  # fuzzing and comparisons
  clang libclang-rt-14-dev isal pigz zstd
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# arm64 packages (busybox-static:arm64 for foreign-platform tests) are fetched with
# `apt-get download`, which needs the architecture known to dpkg and apt.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
fi
