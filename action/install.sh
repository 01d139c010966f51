#!/usr/bin/env bash
# action/install.sh — the install step of slipway's GitHub Action: build slipway from the
# action's own checkout ($GITHUB_ACTION_PATH) into a prefix that actions/cache keeps
# between runs, unless that prefix already holds this very version.
#
#   action/install.sh version   prints the version key (VERSION-<hash of the sources>)
#   action/install.sh install   installs, puts PREFIX/bin on $GITHUB_PATH, writes the
#                               outputs "bin" (the binary) and "prefix"
#
# PREFIX defaults to $RUNNER_TOOL_CACHE/slipway/<version>.  Build dependencies are the
# "build" section of tests/deps.sh, installed with apt-get (sudo when not root); nothing is
# downloaded from anywhere but the distribution's archive.  INPUT_PLATFORMS naming a
# foreign platform also installs qemu-user-static.
set -euo pipefail
src=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src"

version() {
  local v h
  v=$(sed -n 's/^VERSION *:= *//p' Makefile)
  # the sources themselves: a checkout of another commit is another version
  h=$(find Makefile include common image dockerfile layers registry emu store sandbox copy exec cli \
        -type f \( -name '*.c' -o -name '*.h' -o -name Makefile \) -print0 2>/dev/null |
      sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)
  echo "$v-$h"
}

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# the "# build" section of tests/deps.sh: the package names up to the next comment line
build_deps() {
  sed -n '/^ *# build/,/^ *# /{/^ *#/d;p}' tests/deps.sh | tr -s ' \n' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$'
}

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "apt-get install ${missing[*]}"
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

foreign_platforms() {
  local host p
  case $(uname -m) in x86_64) host=amd64 ;; aarch64) host=arm64 ;; *) host=$(uname -m) ;; esac
  for p in $(tr ',\n' '  ' <<<"${INPUT_PLATFORMS:-}"); do
    p=${p#linux/}; p=${p%%/*}
    [ -z "$p" ] || [ "$p" = "$host" ] && continue
    [ "$host" = amd64 ] && [ "$p" = 386 ] && continue # IA32 emulation: native
    return 0
  done
  return 1
}

install() {
  local ver prefix
  ver=$(version)
  prefix=${PREFIX:-${RUNNER_TOOL_CACHE:-/opt/hostedtoolcache}/slipway/$ver}
  # the build's libraries are the runtime's too: a prefix restored from the cache on a fresh
  # runner still needs them (and jq for the build step, git for Git contexts)
  apt_install $(build_deps) jq git
  if foreign_platforms; then apt_install qemu-user-static; fi
  if [ -x "$prefix/bin/slipway" ] && [ "$(cat "$prefix/.slipway-version" 2>/dev/null)" = "$ver" ]; then
    echo "slipway $ver already in $prefix"
  else
    echo "::group::build slipway $ver into $prefix"
    # the workflow's environment must not steer the build (BUILD=, CFLAGS=… are common names):
    # the version key says what was built
    local clean=(env -u BUILD -u SANITIZE -u CFLAGS -u LDFLAGS -u MAKEFLAGS -u MFLAGS)
    "${clean[@]}" make -j"$(nproc)" all
    "${clean[@]}" make install PREFIX="$prefix"
    echo "$ver" > "$prefix/.slipway-version"
    echo "::endgroup::"
  fi
  "$prefix/bin/slipway" version
  [ -n "${GITHUB_PATH:-}" ] && echo "$prefix/bin" >> "$GITHUB_PATH"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "bin=$prefix/bin/slipway" >> "$GITHUB_OUTPUT"
    echo "prefix=$prefix" >> "$GITHUB_OUTPUT"
  fi
}

case ${1:-install} in
  version) version ;;
  install) install ;;
  *) echo "usage: $0 version|install" >&2; exit 2 ;;
esac
