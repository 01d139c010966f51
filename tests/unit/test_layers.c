/* Unit tests for layers/ and common/sink: filters, pack/extract through sinks, hostile
 * entries.  (tests/integration/layers.sh covers real trees, overlayfs and the corpus.) */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "layers/layers.h"
#include "layers/sink.h"

/* ---- helpers: a memory sink, a failing sink ------------------------------------------ */

struct mem
{
  sw_buf b;
  char digest[SW_DIGEST_BUFSZ];
  int finished, aborted;
};

static int
mem_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  sw_buf_append (&((struct mem *) ud)->b, buf, len);
  return 0;
}

static int
mem_finish (void *ud, const char *digest, sw_error **err)
{
  struct mem *m = ud;
  m->finished++;
  if (digest)
    snprintf (m->digest, sizeof m->digest, "%s", digest);
  return 0;
}

static void
mem_abort (void *ud)
{
  ((struct mem *) ud)->aborted++;
}

static sw_sink
mem_sink (struct mem *m)
{
  memset (m, 0, sizeof *m);
  return (sw_sink){ mem_write, mem_finish, mem_abort, m };
}

struct failing
{
  size_t after, seen;
  int aborted;
};

static int
fail_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct failing *f = ud;
  f->seen += len;
  if (f->seen > f->after)
    return sw_error_make (err, ENOSPC, "downstream full");
  return 0;
}

static void
fail_abort (void *ud)
{
  ((struct failing *) ud)->aborted++;
}

static void
write_chunked (sw_sink *s, const void *data, size_t len, size_t chunk)
{
  const char *p = data;
  while (len > 0)
    {
      size_t n = len < chunk ? len : chunk;
      sw_error *err = NULL;
      assert_int_equal (sw_sink_write (s, p, n, &err), 0);
      p += n;
      len -= n;
    }
}

static uint8_t *
pseudo_random (size_t n, unsigned seed, bool text)
{
  uint8_t *p = sw_xmalloc (n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++)
    {
      x = x * 1664525u + 1013904223u;
      p[i] = text ? (uint8_t) ("abc efg\n"[(x >> 24) % 8]) : (uint8_t) (x >> 24);
    }
  return p;
}

/* ---- digest ------------------------------------------------------------------------- */

static void
sha256_known_vector (void **state)
{
  struct mem m;
  sw_sink down = mem_sink (&m), s;
  sw_digest_result r = { 0 };
  sw_sink_sha256 (&s, &down, &r, NULL);
  write_chunked (&s, "abc", 3, 1);
  assert_int_equal (sw_sink_finish (&s, NULL, NULL), 0);
  const char *want = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  assert_string_equal (r.digest, want);
  assert_int_equal (r.size, 3);
  assert_string_equal (m.digest, want); /* passed on to the sink that got the bytes */
  assert_int_equal (m.b.len, 3);
  assert_int_equal (m.finished, 1);
  sw_buf_free (&m.b);
}

static void
sha256_mismatch_fails_and_aborts_down (void **state)
{
  struct mem m;
  sw_sink down = mem_sink (&m), s;
  cleanup_error sw_error *err = NULL;
  sw_sink_sha256 (&s, &down, NULL, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
  write_chunked (&s, "abc", 3, 3);
  assert_int_equal (sw_sink_finish (&s, NULL, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "digest mismatch"));
  assert_non_null (strstr (sw_error_message (err), "ba7816bf"));
  assert_int_equal (m.aborted, 1);
  assert_int_equal (m.finished, 0);
  sw_sink_abort (&s); /* a no-op after finish */
  sw_buf_free (&m.b);
}

/* ---- compressors and the decompressor ---------------------------------------------- */

static void
roundtrip (sw_compression c, int level, bool text, size_t len, size_t chunk)
{
  cleanup_free uint8_t *data = pseudo_random (len, (unsigned) len, text);
  struct mem z, plain;
  sw_sink zdown = mem_sink (&z), cs;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_sink_compress (&cs, &zdown, c, level, 2, &err), 0);
  write_chunked (&cs, data, len, chunk);
  assert_int_equal (sw_sink_finish (&cs, NULL, &err), 0);

  sw_sink pdown = mem_sink (&plain), ds;
  sw_compression detected = (sw_compression) -1;
  sw_sink_decompress (&ds, &pdown, 0, &detected);
  write_chunked (&ds, z.b.data, z.b.len, chunk / 3 + 1);
  assert_int_equal (sw_sink_finish (&ds, NULL, &err), 0);
  assert_int_equal (detected, c);
  assert_int_equal (plain.b.len, len);
  assert_memory_equal (plain.b.data, data, len);
  if (text && len > 0 && c != SW_COMPRESSION_NONE && level != 0)
    assert_true (z.b.len < len / 2);
  sw_buf_free (&z.b);
  sw_buf_free (&plain.b);
}

static void
gzip_roundtrips_every_level (void **state)
{
  for (int level = 0; level <= 3; level++)
    {
      roundtrip (SW_COMPRESSION_GZIP, level, true, 3 << 20, 65537);
      roundtrip (SW_COMPRESSION_GZIP, level, false, 1 << 20, 4096);
    }
  roundtrip (SW_COMPRESSION_GZIP, -1, true, 0, 1);
}

static void
zstd_and_none_roundtrip (void **state)
{
  roundtrip (SW_COMPRESSION_ZSTD, 0, true, 3 << 20, 100000);
  roundtrip (SW_COMPRESSION_ZSTD, 19, false, 1 << 20, 777);
  roundtrip (SW_COMPRESSION_NONE, 0, false, 1 << 20, 333);
  roundtrip (SW_COMPRESSION_NONE, 0, false, 3, 1); /* shorter than any magic */
}

static void
gzip_output_independent_of_chunking (void **state)
{
  size_t len = 2 << 20;
  cleanup_free uint8_t *data = pseudo_random (len, 7, true);
  sw_buf outs[3] = { SW_BUF_INIT, SW_BUF_INIT, SW_BUF_INIT };
  size_t chunks[3] = { 1000, 256 * 1024, len };
  for (int i = 0; i < 3; i++)
    {
      struct mem m;
      sw_sink d = mem_sink (&m), g;
      assert_int_equal (sw_sink_gzip (&g, &d, -1, NULL), 0);
      write_chunked (&g, data, len, chunks[i]);
      assert_int_equal (sw_sink_finish (&g, NULL, NULL), 0);
      outs[i] = m.b;
    }
  assert_int_equal (outs[0].len, outs[1].len);
  assert_int_equal (outs[0].len, outs[2].len);
  assert_memory_equal (outs[0].data, outs[1].data, outs[0].len);
  assert_memory_equal (outs[0].data, outs[2].data, outs[0].len);
  for (int i = 0; i < 3; i++)
    sw_buf_free (&outs[i]);
}

static void
gzip_bad_level_is_an_error (void **state)
{
  struct mem m;
  sw_sink d = mem_sink (&m), g;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_sink_gzip (&g, &d, 9, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "levels 0 to 3"));
}

static sw_buf
gzip_of (const void *data, size_t len)
{
  struct mem m;
  sw_sink d = mem_sink (&m), g;
  assert_int_equal (sw_sink_gzip (&g, &d, 1, NULL), 0);
  write_chunked (&g, data, len, len ? len : 1);
  assert_int_equal (sw_sink_finish (&g, NULL, NULL), 0);
  return m.b;
}

static int
decompress_all (const void *data, size_t len, uint64_t max, sw_buf *out, sw_error **err)
{
  struct mem m;
  sw_sink d = mem_sink (&m), s;
  sw_sink_decompress (&s, &d, max, NULL);
  if (sw_sink_write (&s, data, len, err) < 0)
    {
      sw_sink_abort (&s);
      sw_buf_free (&m.b);
      return -1;
    }
  int r = sw_sink_finish (&s, NULL, err);
  if (out)
    *out = m.b;
  else
    sw_buf_free (&m.b);
  return r;
}

static void
decompress_multi_member_truncated_trailing (void **state)
{
  sw_buf a = gzip_of ("hello ", 6), b = gzip_of ("world", 5), both = SW_BUF_INIT, out;
  sw_buf_append (&both, a.data, a.len);
  sw_buf_append (&both, b.data, b.len);
  assert_int_equal (decompress_all (both.data, both.len, 0, &out, NULL), 0);
  assert_string_equal (sw_buf_str (&out), "hello world");
  sw_buf_free (&out);

  cleanup_error sw_error *e1 = NULL, *e2 = NULL;
  assert_int_equal (decompress_all (a.data, a.len - 3, 0, NULL, &e1), -1);
  assert_non_null (strstr (sw_error_message (e1), "truncated gzip"));
  sw_buf_append (&both, "garbage! garbage! garbage! garbage!", 35);
  assert_int_equal (decompress_all (both.data, both.len, 0, NULL, &e2), -1);
  assert_non_null (strstr (sw_error_message (e2), "corrupt gzip"));
  sw_buf_free (&a);
  sw_buf_free (&b);
  sw_buf_free (&both);
}

static void
decompress_bomb_is_bounded (void **state)
{
  size_t len = 8 << 20;
  cleanup_free uint8_t *zeros = sw_xzalloc (len);
  sw_buf z = gzip_of (zeros, len);
  assert_true (z.len < len / 100);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (decompress_all (z.data, z.len, 1 << 20, NULL, &err), -1);
  assert_int_equal (sw_error_code (err), EFBIG);
  assert_int_equal (decompress_all (z.data, z.len, len, NULL, NULL), 0); /* exactly the limit */
  sw_buf_free (&z);
}

/* ---- thread and fd sinks ------------------------------------------------------------ */

static void
thread_sink_passes_everything_in_order (void **state)
{
  size_t len = 5 << 20;
  cleanup_free uint8_t *data = pseudo_random (len, 3, false);
  struct mem m;
  sw_sink d = mem_sink (&m), t;
  assert_int_equal (sw_sink_thread (&t, &d, 3, 100000, NULL), 0);
  write_chunked (&t, data, len, 77777);
  assert_int_equal (sw_sink_finish (&t, "sha256:x", NULL), 0);
  assert_int_equal (m.b.len, len);
  assert_memory_equal (m.b.data, data, len);
  assert_string_equal (m.digest, "sha256:x");
  sw_buf_free (&m.b);
}

static void
thread_sink_reports_downstream_errors (void **state)
{
  size_t len = 4 << 20;
  cleanup_free uint8_t *data = pseudo_random (len, 5, false);
  struct failing f = { .after = 1 << 20 };
  sw_sink d = { fail_write, NULL, fail_abort, &f }, t;
  assert_int_equal (sw_sink_thread (&t, &d, 2, 65536, NULL), 0);
  cleanup_error sw_error *err = NULL;
  int r = 0;
  for (size_t off = 0; off < len && r == 0; off += 65536)
    r = sw_sink_write (&t, data + off, 65536, &err);
  if (r == 0)
    r = sw_sink_finish (&t, NULL, &err);
  else
    sw_sink_abort (&t);
  assert_int_equal (r, -1);
  assert_non_null (strstr (sw_error_message (err), "downstream full"));
  assert_int_equal (f.aborted, 1);
}

static void
fd_sink_writes_and_counts (void **state)
{
  char path[] = "/tmp/sw-test-fd-XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  uint64_t n = 0;
  sw_sink s;
  sw_sink_fd (&s, fd, true, &n);
  write_chunked (&s, "0123456789", 10, 3);
  assert_int_equal (n, 10);
  assert_int_equal (sw_sink_finish (&s, NULL, NULL), 0);
  struct stat st;
  assert_int_equal (stat (path, &st), 0);
  assert_int_equal (st.st_size, 10);
  unlink (path);
}

static void
compression_names_parse (void **state)
{
  sw_compression c;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_compression_parse ("zstd", &c, NULL), 0);
  assert_int_equal (c, SW_COMPRESSION_ZSTD);
  assert_int_equal (sw_compression_parse ("uncompressed", &c, NULL), 0);
  assert_int_equal (c, SW_COMPRESSION_NONE);
  assert_int_equal (sw_compression_parse ("lz4", &c, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "\"lz4\""));
}

/* ---- pack and extract through sinks --------------------------------------------------- */

static char *
make_tmpdir (void)
{
  char *d = sw_xstrdup ("/tmp/sw-test-layers-XXXXXX");
  assert_non_null (mkdtemp (d));
  return d;
}

static void
rm_rf (const char *d)
{
  cleanup_free char *cmd = sw_xasprintf ("rm -rf '%s'", d);
  assert_int_equal (system (cmd), 0);
}

static void
put (const char *dir, const char *name, const char *content, mode_t mode)
{
  cleanup_free char *p = sw_xasprintf ("%s/%s", dir, name);
  int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, content, strlen (content)), (ssize_t) strlen (content));
  close (fd);
  chmod (p, mode);
}

static void
pack_then_extract_through_sinks (void **state)
{
  cleanup_free char *src = make_tmpdir (), *dst = make_tmpdir ();
  cleanup_free char *sub = sw_xasprintf ("%s/dir", src);
  assert_int_equal (mkdir (sub, 0750), 0);
  put (src, "a", "alpha\n", 04755);
  put (src, "dir/b", "beta\n", 0600);
  cleanup_free char *ln = sw_xasprintf ("%s/dir/link", src);
  assert_int_equal (symlink ("../a", ln), 0);

  sw_pack_opts o;
  sw_pack_opts_init (&o);
  o.compression = SW_COMPRESSION_ZSTD;
  struct mem blob;
  sw_sink s = mem_sink (&blob);
  sw_layer_info info;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_layer_pack_path (src, &o, &s, &info, &err), 0);
  assert_int_equal (info.size, blob.b.len);
  assert_string_equal (blob.digest, info.digest);
  assert_true (info.tar_size >= 6 * 512);

  int rfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  sw_extract_opts eo;
  sw_extract_opts_init (&eo);
  eo.digest = info.digest;
  eo.diff_id = info.diff_id;
  sw_layer_info got;
  sw_sink x;
  assert_int_equal (sw_layer_extract_sink (&x, rfd, &eo, &got, &err), 0);
  write_chunked (&x, blob.b.data, blob.b.len, 13); /* a download's small reads */
  assert_int_equal (sw_sink_finish (&x, NULL, &err), 0);
  close (rfd);
  assert_string_equal (got.diff_id, info.diff_id);
  assert_int_equal (got.compression, SW_COMPRESSION_ZSTD);

  /* a second pass with no_digests: the same bytes, no digest computed or passed on */
  o.no_digests = true;
  struct mem again;
  sw_sink s2 = mem_sink (&again);
  sw_layer_info info2;
  assert_int_equal (sw_layer_pack_path (src, &o, &s2, &info2, &err), 0);
  assert_int_equal (again.b.len, blob.b.len);
  assert_memory_equal (again.b.data, blob.b.data, blob.b.len);
  assert_int_equal (info2.size, info.size);
  assert_int_equal (info2.tar_size, info.tar_size);
  assert_string_equal (info2.digest, "");
  assert_string_equal (info2.diff_id, "");
  assert_string_equal (again.digest, "");
  sw_buf_free (&again.b);

  struct stat st;
  cleanup_free char *pa = sw_xasprintf ("%s/a", dst), *pb = sw_xasprintf ("%s/dir/b", dst),
                    *pl = sw_xasprintf ("%s/dir/link", dst), *pd = sw_xasprintf ("%s/dir", dst);
  assert_int_equal (lstat (pa, &st), 0);
  assert_int_equal (st.st_mode & 07777, 04755);
  assert_int_equal (st.st_size, 6);
  assert_int_equal (lstat (pb, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0600);
  assert_int_equal (lstat (pd, &st), 0);
  assert_int_equal (st.st_mode & 07777, 0750);
  char target[16] = { 0 };
  assert_int_equal (readlink (pl, target, sizeof target - 1), 4);
  assert_string_equal (target, "../a");
  sw_buf_free (&blob.b);
  rm_rf (src);
  rm_rf (dst);
}

/* A tar with one entry, made with libarchive in memory. */
static sw_buf
tar_with (const char *name, mode_t type, const char *link)
{
  struct archive *a = archive_write_new ();
  archive_write_set_format_pax_restricted (a);
  size_t cap = 1 << 20, used = 0;
  char *mem = sw_xmalloc (cap);
  assert_int_equal (archive_write_open_memory (a, mem, cap, &used), ARCHIVE_OK);
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, 0644);
  if (type == AE_IFLNK)
    archive_entry_set_symlink (e, link);
  else if (link)
    archive_entry_set_hardlink (e, link);
  archive_entry_set_size (e, type == AE_IFREG && !link ? 1 : 0);
  assert_int_equal (archive_write_header (a, e), ARCHIVE_OK);
  if (type == AE_IFREG && !link)
    archive_write_data (a, "x", 1);
  archive_entry_free (e);
  archive_write_close (a);
  archive_write_free (a);
  sw_buf b = SW_BUF_INIT;
  sw_buf_append (&b, mem, used);
  free (mem);
  return b;
}

static void
hostile_entries_fail_naming_the_entry (void **state)
{
  struct
  {
    const char *name;
    mode_t type;
    const char *link;
    const char *want;
  } cases[] = {
    { "../escape", AE_IFREG, NULL, "\"../escape\"" },
    { "ok/../../escape", AE_IFREG, NULL, "\"ok/../../escape\"" },
    { "/etc/escape", AE_IFREG, NULL, "absolute path" },
    { "h", AE_IFREG, "../../etc/passwd", "\"h\"" },
    { "h", AE_IFREG, "/etc/passwd", "\"h\"" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *dst = make_tmpdir ();
      sw_buf t = tar_with (cases[i].name, cases[i].type, cases[i].link);
      int rfd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      sw_sink x;
      cleanup_error sw_error *err = NULL;
      assert_int_equal (sw_layer_extract_sink (&x, rfd, NULL, NULL, &err), 0);
      int r = sw_sink_write (&x, t.data, t.len, &err);
      if (r == 0)
        r = sw_sink_finish (&x, NULL, &err);
      else
        sw_sink_abort (&x);
      close (rfd);
      assert_int_equal (r, -1);
      if (!strstr (sw_error_message (err), cases[i].want))
        fail_msg ("case %zu: \"%s\" does not contain %s", i, sw_error_message (err), cases[i].want);
      sw_buf_free (&t);
      rm_rf (dst);
    }
}

static void
snapshot_abort_leaves_nothing (void **state)
{
  cleanup_free char *snap = make_tmpdir ();
  sw_sink s;
  const char *id = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  assert_int_equal (sw_layer_snapshot_sink (&s, snap, id, NULL, NULL, NULL), 0);
  sw_buf t = tar_with ("file", AE_IFREG, NULL);
  assert_int_equal (sw_sink_write (&s, t.data, t.len, NULL), 0);
  sw_sink_abort (&s);
  cleanup_free char *cmd = sw_xasprintf ("[ -z \"$(ls -A '%s/sha256')\" ]", snap);
  assert_int_equal (system (cmd), 0);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_layer_snapshot_sink (&s, snap, "sha256:nothex", NULL, NULL, &err), -1);
  sw_buf_free (&t);
  rm_rf (snap);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (sha256_known_vector),
    cmocka_unit_test (sha256_mismatch_fails_and_aborts_down),
    cmocka_unit_test (gzip_roundtrips_every_level),
    cmocka_unit_test (zstd_and_none_roundtrip),
    cmocka_unit_test (gzip_output_independent_of_chunking),
    cmocka_unit_test (gzip_bad_level_is_an_error),
    cmocka_unit_test (decompress_multi_member_truncated_trailing),
    cmocka_unit_test (decompress_bomb_is_bounded),
    cmocka_unit_test (thread_sink_passes_everything_in_order),
    cmocka_unit_test (thread_sink_reports_downstream_errors),
    cmocka_unit_test (fd_sink_writes_and_counts),
    cmocka_unit_test (compression_names_parse),
    cmocka_unit_test (pack_then_extract_through_sinks),
    cmocka_unit_test (hostile_entries_fail_naming_the_entry),
    cmocka_unit_test (snapshot_abort_leaves_nothing),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
