#!/usr/bin/env bash
# The command line: help, version, and flags that are not implemented fail loudly.
. tests/lib.sh

check "version prints the version" bash -c '"$SLIPWAY" version | grep -qE "^slipway [0-9]+\.[0-9]+\.[0-9]+$"'
check "--help lists build" bash -c '"$SLIPWAY" --help | grep -q "^  build"'
check "build --help lists buildx flags" bash -c '
  h=$("$SLIPWAY" build --help)
  for f in --tag --file --build-arg --target --platform --push --load --output --label --no-cache \
           --pull --progress --metadata-file --iidfile --secret --ssh --network --add-host \
           --cache-from --cache-to --build-context --annotation --provenance --sbom; do
    grep -q -- "$f" <<<"$h" || { echo "missing $f"; exit 1; }
  done'
check "unimplemented flag fails with not supported yet" bash -c '
  out=$("$SLIPWAY" build --cache-to type=inline . 2>&1); rc=$?
  [ $rc -ne 0 ] && grep -q "not supported yet: --cache-to" <<<"$out"'
check "a bad --provenance mode is refused, naming it" bash -c '
  out=$("$SLIPWAY" build --provenance=mode=maximal . 2>&1); [ $? -ne 0 ] && grep -q "invalid provenance mode \"maximal\"" <<<"$out"'
check "--attest needs a type" bash -c '
  out=$("$SLIPWAY" build --attest mode=max . 2>&1); [ $? -ne 0 ] && grep -q "type=provenance or type=sbom is needed" <<<"$out"'
check "--attest type=sbom,generator=… is refused: the SBOM is made without a scanner image" bash -c '
  out=$("$SLIPWAY" build --attest type=sbom,generator=docker/scout-sbom-indexer . 2>&1); [ $? -ne 0 ] && grep -q "generator" <<<"$out"'
check "unknown flag is an error" bash -c '
  out=$("$SLIPWAY" build --frobnicate . 2>&1); [ $? -eq 2 ] && grep -q "unknown flag: --frobnicate" <<<"$out"'
check "build needs exactly one context" bash -c '
  out=$("$SLIPWAY" build 2>&1); [ $? -eq 2 ] && grep -q "requires exactly 1 argument" <<<"$out"'
check "bad --network value names the value" bash -c '
  out=$("$SLIPWAY" build --network bogus . 2>&1); [ $? -ne 0 ] && grep -q "invalid network mode \"bogus\"" <<<"$out"'
check "unknown command" bash -c '
  out=$("$SLIPWAY" frob 2>&1); [ $? -eq 2 ] && grep -q "unknown command" <<<"$out"'
check "make install gives a usable library, header and slipway.pc" bash -c '
  d=$(mktemp -d); trap "rm -rf $d" EXIT
  san_make=; [ "${BUILD:-build}" = build-asan ] && san_make="SANITIZE=1"
  make -s install PREFIX=$d/prefix BUILD=${BUILD:-build} $san_make >/dev/null &&
  printf "#include <slipway.h>\n#include <stdio.h>\nint main(void){puts(sw_version());return 0;}\n" > $d/t.c &&
  export PKG_CONFIG_PATH=$d/prefix/lib/pkgconfig &&
  san=; [ "${BUILD:-build}" = build-asan ] && san="-fsanitize=address,undefined"  # the library carries ASan
  cc $san $d/t.c $(pkg-config --cflags --libs slipway) -o $d/t &&
  [ "$(LD_LIBRARY_PATH=$d/prefix/lib $d/t)" = "$("$SLIPWAY" version | cut -d" " -f2)" ] &&
  [ -x $d/prefix/bin/slipway ]'
