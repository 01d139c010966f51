#!/usr/bin/env bash
# layers/: pack → extract round trips for every kind of entry, determinism, GNU tar
# cross-checks, overlayfs whiteouts and opaque directories (real mounts), snapshots, and a
# corpus of hostile layers that must fail naming the entry and change nothing outside.
. tests/lib.sh

T=${BUILD:-build}/tools/layertool
[ -x "$T" ] || { fail "layertool" "$T not built (make unit)"; exit 0; }
T=$(realpath "$T")
TREE="python3 $TOP/tests/fixtures/layers_tree.py"
W=$(scratch_dir)
cd "$W" || exit 1

# ---- round trips --------------------------------------------------------------------
$TREE make src
$TREE list src > src.list
for c in gzip zstd none; do
  rm -rf out && mkdir out
  check "round trip ($c): every kind of entry comes back the same" bash -c "
    $T pack -c $c src > l.$c 2>pack.$c.log &&
    $T extract --digest \$(sed -n 's/.*digest=\([^ ]*\).*/\1/p' pack.$c.log) \
      --diff-id \$(sed -n 's/.*diff_id=\([^ ]*\).*/\1/p' pack.$c.log) out < l.$c &&
    $TREE list out | diff src.list -"
done
check "sockets are skipped" bash -c "! tar -tzf l.gzip | grep -q sock"
check "sparse file stays sparse after extract" bash -c \
  "[ \$(stat -c %b out/sparse.img) -lt 1024 ] && [ \$(stat -c %s out/sparse.img) -eq 67108864 ]"
check "gzip layer is a standard gzip stream (gzip -t)" gzip -t l.gzip
check "zstd layer is a standard zstd stream (zstd -t)" zstd -q -t l.zstd
check "diffID = sha256 of the decompressed stream (gzip -dc | sha256sum)" bash -c "
  [ sha256:\$(gzip -dc l.gzip | sha256sum | cut -d' ' -f1) = \$(sed -n 's/.*diff_id=\([^ ]*\).*/\1/p' pack.gzip.log) ]"
check "digest = sha256 of the blob, size = its length" bash -c "
  [ sha256:\$(sha256sum < l.gzip | cut -d' ' -f1) = \$(sed -n 's/.* digest=\([^ ]*\).*/\1/p' pack.gzip.log) ] &&
  grep -q \" size=\$(stat -c %s l.gzip) \" pack.gzip.log"
check "the three compressions share one diffID" bash -c "
  [ \$(sed -n 's/.*diff_id=\([^ ]*\).*/\1/p' pack.gzip.log pack.zstd.log pack.none.log | sort -u | wc -l) -eq 1 ]"

# ---- tar header details (what containerd/BuildKit write) -------------------------------
check "tar headers: relative names, dirs end in /, no uname, whole-second mtimes, SCHILY xattrs" \
  python3 - "$W/l.none" <<'PY'
import sys, tarfile
t = tarfile.open(sys.argv[1])
names = []
for m in t.getmembers():
    raw = m.pax_headers.get("path", m.name)
    assert not raw.startswith(("/", "./")), raw
    if m.isdir(): assert t.fileobj and True
    assert m.uname == "" and m.gname == "", (m.name, m.uname)
    assert "mtime" not in m.pax_headers and "atime" not in m.pax_headers and "ctime" not in m.pax_headers, m.pax_headers
    for k in m.pax_headers:
        assert k in ("path", "linkpath") or k.startswith(("SCHILY.xattr.", "GNU.sparse.")), k
    names.append(m.name)
caps = [m for m in t.getmembers() if "SCHILY.xattr.security.capability" in m.pax_headers]
assert caps, "security.capability missing"
PY
check "directory entries end in / in the raw headers" bash -c "tar -tf l.none | grep -qx 'etc/app/'"
check "entries sorted, each directory before its contents" bash -c "
  tar -tf l.none > names && python3 -c '
import sys
n = [l.rstrip(\"\\n\").rstrip(\"/\") for l in open(\"names\")]
seen = set()
for p in n:
    parent = p.rsplit(\"/\", 1)[0] if \"/\" in p else \"\"
    assert parent == \"\" or parent in seen, p
    seen.add(p)
'"

# ---- determinism and SOURCE_DATE_EPOCH ---------------------------------------------------
for c in gzip zstd; do
  check "same tree, same digest ($c: twice, and with --sync: chunking does not matter)" bash -c "
    a=\$($T pack -c $c src 2>&1 >/dev/null | sed 's/ maxrss.*//'); b=\$($T pack -c $c --sync src 2>&1 >/dev/null | sed 's/ maxrss.*//')
    c=\$($T pack -c $c src 2>&1 >/dev/null | sed 's/ maxrss.*//'); [ \"\$a\" = \"\$b\" ] && [ \"\$a\" = \"\$c\" ]"
done
check "zstd digest does not depend on the worker count (-t 1 = -t 3)" bash -c "
  [ \"\$($T pack -c zstd -t 1 src 2>&1 >/dev/null | cut -d' ' -f2)\" = \"\$($T pack -c zstd -t 3 src 2>&1 >/dev/null | cut -d' ' -f2)\" ]"
check "SOURCE_DATE_EPOCH clamps mtimes: a touched tree keeps its digest" bash -c "
  cp -a src src2 && a=\$($T pack --epoch 1500000000 src 2>&1 >/dev/null | cut -d' ' -f1-2) &&
  touch src2/etc/empty && b=\$($T pack --epoch 1500000000 src2 2>&1 >/dev/null | cut -d' ' -f1-2) &&
  [ \"\$a\" = \"\$b\" ] && [ \$(tar -tvzf <($T pack --epoch 1500000000 src2 2>/dev/null) | grep -c 2017-07-14) -gt 5 ]"
check "without the clamp, a touched file changes the digest" bash -c "
  a=\$($T pack src 2>&1 >/dev/null | cut -d' ' -f1); b=\$($T pack src2 2>&1 >/dev/null | cut -d' ' -f1); [ \"\$a\" != \"\$b\" ]"

# ---- cross-checks with GNU tar --------------------------------------------------------------
check "GNU tar extracts our layer to the same tree" bash -c "
  rm -rf g && mkdir g && tar --xattrs --xattrs-include='*' -xpzf l.gzip -C g && $TREE list g | diff src.list -"
check "we extract GNU tar's pax archive of the tree to the same tree" bash -c "
  rm -rf g2 && mkdir g2 &&
  tar --format=pax --xattrs --xattrs-include='*' --sparse --exclude=./tmp/sock -C src -cf - . | $T extract g2 &&
  $TREE list g2 | diff src.list -"
check "we extract a GNU-format (not pax) tar with long names" bash -c "
  rm -rf g3 && mkdir g3 && tar --format=gnu -C src -cf - deep | $T extract g3 &&
  [ -f g3/deep/\$(ls src/deep)/\$(ls src/deep/*) ]"
check "we extract pigz -i multi-member gzip" bash -c "
  rm -rf g4 && mkdir g4 && tar -C src -cf - usr | pigz -i -b 32 | $T extract g4 && cmp g4/usr/bin/tool src/usr/bin/tool"

# ---- overlayfs: whiteouts and opaque directories ----------------------------------------------
mkdir -p ov/lower/a ov/lower/dir/sub ov/upper ov/work ov/merged
echo keep > ov/lower/a/keep; echo gone > ov/lower/a/gone; echo x > ov/lower/dir/x
echo y > ov/lower/dir/sub/y; echo f > ov/lower/file
if mount -t overlay -o lowerdir=ov/lower,upperdir=ov/upper,workdir=ov/work,redirect_dir=off,metacopy=off none ov/merged 2>/dev/null; then
  on_exit "umount -l '$W/ov/merged' 2>/dev/null"
  rm ov/merged/a/gone; rm -rf ov/merged/dir; mkdir ov/merged/dir; echo z > ov/merged/dir/z
  echo changed > ov/merged/file; echo new > ov/merged/new
  NO_DIR_MTIME=1 $TREE list ov/merged > merged.list
  umount ov/merged
  $T pack -c none ov/lower > lower.tar 2>lower.log
  $T pack --overlay ov/upper > upper.tgz 2>upper.log
  check "overlay whiteout (0/0 char device) becomes .wh.NAME" bash -c "tar -tzf upper.tgz | grep -qx 'a/.wh.gone'"
  check "opaque directory gets .wh..wh..opq right after it" bash -c \
    "tar -tzf upper.tgz | grep -A1 -x 'dir/' | grep -qx 'dir/.wh..wh..opq'"
  check "whiteout entries are empty regular files, mode 0, 0:0" bash -c \
    "tar -tvzf upper.tgz | grep '.wh.' | grep -v '^---------- 0/0 *0 '; [ \$? -eq 1 ]"
  check "no overlay xattrs in the layer" bash -c "! python3 -c '
import tarfile,sys
t=tarfile.open(\"upper.tgz\")
sys.exit(0 if any(\"overlay\" in k for m in t.getmembers() for k in m.pax_headers) else 1)'"
  rm -rf flat && mkdir flat
  check "applying lower then upper gives the merged view (OCI whiteout semantics)" bash -c "
    $T extract flat < lower.tar && $T extract flat < upper.tgz && NO_DIR_MTIME=1 $TREE list flat | diff merged.list -"
  check "opaque marker keeps what its own layer adds (dir/z), hides the rest" bash -c \
    "[ -f flat/dir/z ] && [ ! -e flat/dir/x ] && [ ! -e flat/dir/sub ] && [ -f flat/a/keep ] && [ ! -e flat/a/gone ]"
  # snapshots keyed by diffID in overlay form, then an overlay over them
  d1=$(sed -n 's/.*diff_id=\([^ ]*\).*/\1/p' lower.log); d2=$(sed -n 's/.*diff_id=\([^ ]*\).*/\1/p' upper.log)
  check "snapshot sink: lower layer lands in SNAP/sha256/<hex>" bash -c \
    "p=\$($T snapshot snaps $d1 < lower.tar) && [ \"\$p\" = snaps/sha256/${d1#sha256:} ] && [ -f \$p/a/gone ]"
  check "snapshot sink: upper layer keeps overlay whiteouts and the opaque xattr" bash -c "
    p=\$($T snapshot snaps $d2 < upper.tgz) && [ -c \$p/a/gone ] &&
    python3 -c 'import os,sys; sys.exit(os.getxattr(\"'\$p'/dir\", \"trusted.overlay.opaque\") != b\"y\")'"
  mkdir -p ov/m2
  if mount -t overlay -o "lowerdir=snaps/sha256/${d2#sha256:}:snaps/sha256/${d1#sha256:}" none ov/m2 2>/dev/null; then
    on_exit "umount -l '$W/ov/m2' 2>/dev/null"
    check "an overlay over the two snapshots shows the merged view" bash -c \
      "NO_DIR_MTIME=1 $TREE list ov/m2 | diff merged.list -"
    umount ov/m2
  else
    skip "overlay over snapshots" "mount failed"
  fi
  check "snapshot with a wrong diffID leaves nothing behind" bash -c "
    bad=sha256:\$(printf '%064d' 0); ! $T snapshot snaps \$bad < lower.tar 2>err && grep -q 'digest mismatch' err &&
    [ ! -e snaps/sha256/\${bad#sha256:} ] && [ -z \"\$(ls -A snaps/sha256 | grep '^\\.tmp')\" ]"
else
  skip "overlay whiteouts" "cannot mount overlayfs here"
fi

# userxattr overlays and overlay features that cannot be a layer
mkdir -p ux/d && echo a > ux/d/a && python3 -c "import os; os.setxattr('ux/d', 'user.overlay.opaque', b'y')"
check "--userxattr: user.overlay.opaque=y marks an opaque directory" bash -c \
  "$T pack -c none --overlay --userxattr ux 2>/dev/null | tar -tf - | grep -qx 'd/.wh..wh..opq'"
check "without --userxattr, user.overlay.* is neither opaque nor packed" bash -c \
  "! $T pack -c none --overlay ux 2>/dev/null | tar -tf - | grep -q wh"
mkdir -p rd/moved && python3 -c "import os; os.setxattr('rd/moved', 'trusted.overlay.redirect', b'/old')"
check "an upper dir using redirect_dir is refused with advice" bash -c \
  "! $T pack --overlay rd 2>err >/dev/null && grep -q 'redirect_dir=off' err"

# ---- hostile layers ------------------------------------------------------------------------
mkdir -p outside && echo victim > outside/victim
python3 "$TOP/tests/fixtures/hostile_tars.py" corpus "$W/outside"
snapshot_outside() { (cd outside && find . -printf '%p %y %s %m %T@\n' | sort; cat victim) | sha256sum; }
before=$(snapshot_outside)
for f in corpus/*.tar*; do
  n=$(basename "$f"); n=${n%%.tar*}; expect=$(cat "corpus/$n.expect")
  rm -rf root && mkdir root
  out=$($T extract --no-devices root < "$f" 2>&1); rc=$?
  if [ "$expect" = OK ]; then
    [ $rc -eq 0 ] && pass "hostile $n: legal, extracted inside the root" || fail "hostile $n" "rc=$rc $out"
  elif [ "$expect" = SAFE ]; then
    pass "hostile $n: rc=$rc (either is fine; outside checked below)"
  elif [ $rc -ne 0 ] && grep -qF -- "$expect" <<<"$out"; then
    pass "hostile $n: refused, naming the entry"
  else
    fail "hostile $n" "rc=$rc, expected an error containing '$expect': ${out:0:300}"
  fi
  [ "$(snapshot_outside)" = "$before" ] || fail "hostile $n: outside changed"
done
rm -rf root && mkdir root
$T extract root < corpus/overlay-xattr.tar 2>/dev/null
check "overlay xattrs in a layer are dropped, others kept" python3 -c "
import os,sys
x = os.listxattr('root/x')
sys.exit(0 if 'user.ok' in x and not any('overlay' in n for n in x) else 1)"
rm -rf root && mkdir root
$T extract root < corpus/symlink-then-file.tar 2>/dev/null
check "a file replacing a symlink replaces it (no write through)" bash -c \
  "[ -f root/f ] && [ ! -L root/f ] && [ \"\$(cat root/f)\" = replaced ] && [ ! -e outside/victim2 ]"
check "outside the root unchanged after the whole corpus" bash -c "[ '$(snapshot_outside)' = '$before' ]"

# wrong digests
check "wrong blob digest fails, naming both digests" bash -c "
  rm -rf r && mkdir r && ! $T extract --digest sha256:\$(printf '%064d' 1) r < l.gzip 2>err &&
  grep -q 'digest mismatch: expected sha256:0000' err"
check "wrong diffID fails" bash -c "
  rm -rf r && mkdir r && ! $T extract --diff-id sha256:\$(printf '%064d' 2) r < l.zstd 2>err && grep -q 'digest mismatch' err"

# decompression bombs: bounded by --max, in bounded memory
truncate -s 1G zeros.img
tar -cf - zeros.img | igzip -1 -c > bomb.tgz
tar -cf - zeros.img | zstd -q -19 -c > bomb.tzst
rm -f zeros.img
for b in bomb.tgz bomb.tzst; do
  check "decompression bomb $b stops at the limit" bash -c "
    rm -rf r && mkdir r && ! $T extract --max 16777216 r < $b 2>err && grep -qE 'limit|bomb' err"
done
case ${BUILD:-build} in *asan*) RSS_LIMIT=262144 ;; *) RSS_LIMIT=65536 ;; esac  # ASan's shadow memory
check "extracting a 1 GiB layer streams in bounded memory (< 64 MiB RSS)" bash -c "
  rm -rf r && mkdir r && $T extract r < bomb.tzst 2>log && rss=\$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' log) &&
  echo rss=\$rss && [ \"\$rss\" -lt $RSS_LIMIT ]"
rm -rf r

# ---- pack memory bound -------------------------------------------------------------------------
mkdir big && head -c 200M /dev/urandom > big/rand
check "packing 200 MiB keeps peak RSS under 64 MiB (gzip and zstd)" bash -c "
  for c in gzip zstd; do $T pack -c \$c big 2>log >/dev/null || exit 1
    rss=\$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' log); echo \$c rss=\$rss; [ \"\$rss\" -lt $RSS_LIMIT ] || exit 1; done"
rm -rf big
