#!/usr/bin/env bash
# libslipway's ABI: the shared library exports exactly the functions include/slipway.h
# declares, the header's version agrees with the Makefile and the library, and
# `make install` installs the public header only.
. tests/lib.sh
BUILD=${BUILD:-build}
so=$TOP/$BUILD/libslipway.so
[ -f "$so" ] || { fail "libslipway.so built" "$so missing"; exit 0; }
dir=$(scratch_dir)

# the functions a header declares, by the compiler's own reading of it (-aux-info lists
# every prototype with the file that declared it)
declared() {
  ${CC:-cc} -aux-info "$dir/aux" -I"$TOP/include" -fsyntax-only -x c "$1" &&
    grep -F "$1:" "$dir/aux" | sed -E 's|^/\*[^*]*\*/ *||; s/ *\(.*//; s/.*[ *]//' | sort -u
}
# what a shared library exports (sanitizer builds add their own hooks: not ours)
exported() {
  nm -D --defined-only "$1" | awk '{print $NF}' | grep -vE '^(__asan|__ubsan|__odr_asan|__sanitizer|__lsan)' | sort -u
}
declared "$TOP/include/slipway.h" > "$dir/declared"
exported "$so" > "$dir/exported"
check "slipway.h declares the public API (sanity: sw_build_run, sw_version_num)" \
  bash -c 'grep -qx sw_build_run "$1" && grep -qx sw_version_num "$1"' _ "$dir/declared"
if diff -q "$dir/declared" "$dir/exported" >/dev/null; then
  pass "libslipway.so exports exactly what slipway.h declares ($(wc -l < "$dir/exported") functions)"
else
  fail "libslipway.so exports exactly what slipway.h declares" \
    "exported, not declared: $(comm -13 "$dir/declared" "$dir/exported" | head -20 | tr '\n' ' '); declared, not exported: $(comm -23 "$dir/declared" "$dir/exported" | tr '\n' ' ')"
fi
declared "$TOP/include/slipway-debug.h" > "$dir/debug"
check "the debug helpers are not exported" bash -c '[ -s "$1" ] && [ -z "$(comm -12 "$1" "$2")" ]' _ "$dir/debug" "$dir/exported"
check "every enum constant in slipway.h has an explicit value" bash -c '
  ! ${CC:-cc} -E -P -I"$1/include" -x c "$1/include/slipway.h" | tr -s " \n" " " | grep -oE "enum [a-z_]+ \{[^}]*\}" |
    grep -oE "SW_[A-Z0-9_]+ *[,}]" | grep .' _ "$TOP"
check "no merge=union on the public header" bash -c '! grep -E "^include/slipway(-debug)?\.h .*merge=union" "$1/.gitattributes"' _ "$TOP"

# version: Makefile VERSION = header MAJOR.MINOR.PATCH = what the library says
mk=$(sed -nE 's/^VERSION *:?= *([0-9.]+).*/\1/p' "$TOP/Makefile")
hdr=$(printf '#include "slipway.h"\nSLIPWAY_VERSION_MAJOR.SLIPWAY_VERSION_MINOR.SLIPWAY_VERSION_PATCH\n' |
      ${CC:-cc} -E -P -I"$TOP/include" -x c - | tail -1 | tr -d ' ')
check "the Makefile's VERSION ($mk) is the header's ($hdr)" test -n "$mk" -a "$mk" = "$hdr"
# make install: the public header only
san_make=; [ "$BUILD" = build-asan ] && san_make="SANITIZE=1"
if make -s -C "$TOP" install PREFIX="$dir/prefix" BUILD="$BUILD" $san_make >"$dir/install.log" 2>&1; then
  check "make install installs slipway.h and nothing else into include/" test "$(ls "$dir/prefix/include")" = slipway.h
  printf '%s\n' '#include <stdio.h>' '#include <slipway.h>' \
    'int main (void) { printf ("%s %06x %06x\n", sw_version (), sw_version_num (), SLIPWAY_VERSION_NUM); return 0; }' \
    > "$dir/v.c"
  san=; [ "$BUILD" = build-asan ] && san="-fsanitize=address,undefined"
  if ${CC:-cc} $san -I"$dir/prefix/include" "$dir/v.c" -o "$dir/v" -L"$dir/prefix/lib" -lslipway -Wl,-rpath,"$dir/prefix/lib" 2>"$dir/cc.err"; then
    got=$("$dir/v")
    want=$(printf '%s %02x%02x%02x' "$hdr" $(tr . ' ' <<<"$hdr"))
    check "the library reports the header's version: $got" test "$got" = "$want ${want#* }"
  else
    fail "a program builds against the installed slipway.h and libslipway.so" "$(head -3 "$dir/cc.err")"
  fi
  check "the installed library exports the same set" bash -c 'diff <(nm -D --defined-only "$1" | awk "{print \$NF}" | grep -vE "^(__asan|__ubsan|__odr_asan|__sanitizer|__lsan)" | sort -u) "$2"' _ "$dir/prefix/lib/libslipway.so.0" "$dir/exported"
else
  fail "make install" "$(tail -3 "$dir/install.log")"
fi

# the CLI's sources include slipway.h, slipway-debug.h and their own headers, nothing else of ours
check "cli/ includes only slipway.h, slipway-debug.h and cli/ headers" bash -c '
  ! grep -hE "^#include \"" "$1"/cli/*.c "$1"/cli/*.h | grep -vE "\"(slipway\.h|slipway-debug\.h|cli/[a-z_]+\.h)\""' _ "$TOP"
