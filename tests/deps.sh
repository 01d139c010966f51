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
  jq openssl apache2-utils ca-certificates python3 python3-yaml curl iproute2 util-linux git
  strace
  passt  # pasta: the own network of RUN steps
  bzip2 xz-utils  # ADD archive tests (exec/add)
  debootstrap  # the Debian 12 base of the real projects' Dockerfiles (tests/real)
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
# The reference BuildKit: docker 28.5 + buildx 0.29 unpacked under /opt/docker-sid (nothing of
# Debian 12's docker replaced) by the bench's setup script, idempotent.  The differential
# suites compare against it (tests/integration/diff.sh, real_projects.sh) and attest.sh reads
# attestations back with it.
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x /opt/docker-sid/usr/sbin/dockerd ] || [ ! -x /opt/docker-sid/usr/libexec/docker/cli-plugins/docker-buildx ]; then
  for s in "${SHARED:-$top/../shared}/bench/setup-buildx.sh" "$top/../../shared/bench/setup-buildx.sh"; do
    if [ -f "$s" ]; then bash "$s" >/dev/null; break; fi
  done
fi
