/* Unit tests for image/oci_layout and image/docker_archive: streaming blobs into a tar or a
 * directory, verified while written, read back with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "image/docker_archive.h"
#include "image/oci_layout.h"

/* A producer pushing text in 3-byte writes (so entries are written in pieces). */
struct text
{
  const char *s;
  bool no_finish;
};

static int
produce_text (void *arg, sw_sink *sink, sw_error **err)
{
  struct text *t = arg;
  size_t n = strlen (t->s);
  for (size_t i = 0; i < n; i += 3)
    if (sw_sink_write (sink, t->s + i, n - i < 3 ? n - i : 3, err) < 0)
      {
        sw_sink_abort (sink);
        return -1;
      }
  if (t->no_finish)
    return 0;
  return sw_sink_finish (sink, NULL, err);
}

static int
tmpfile_fd (void)
{
  char path[] = "/tmp/test_oci_layout.XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  unlink (path);
  return fd;
}

/* Read the tar on fd back: names in order, joined by ' ', and the content of one entry. */
static void
read_tar (int fd, sw_buf *names, const char *want, sw_buf *content)
{
  lseek (fd, 0, SEEK_SET);
  struct archive *a = archive_read_new ();
  archive_read_support_format_tar (a);
  assert_int_equal (archive_read_open_fd (a, fd, 4096), ARCHIVE_OK);
  struct archive_entry *ent;
  while (archive_read_next_header (a, &ent) == ARCHIVE_OK)
    {
      sw_buf_printf (names, "%s%s", names->len ? " " : "", archive_entry_pathname (ent));
      if (want && strcmp (archive_entry_pathname (ent), want) == 0)
        {
          char buf[4096];
          la_ssize_t n;
          while ((n = archive_read_data (a, buf, sizeof buf)) > 0)
            sw_buf_append (content, buf, (size_t) n);
        }
    }
  archive_read_free (a);
}

static void
tar_layout_streams_and_reads_back (void **state)
{
  cleanup_error sw_error *err = NULL;
  cleanup_buf sw_buf names = SW_BUF_INIT;
  cleanup_buf sw_buf content = SW_BUF_INIT;
  sw_oci_layout *w = NULL;
  struct text t = { "layer bytes, pushed in pieces", false };
  char d[SW_DIGEST_BUFSZ];
  int fd = tmpfile_fd ();

  sw_digest_bytes (t.s, strlen (t.s), d);
  assert_int_equal (sw_oci_layout_new_tar (fd, 0, &w, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, d, (int64_t) strlen (t.s), produce_text, &t, &err), 0);
  /* a blob added twice is written once */
  assert_int_equal (sw_oci_layout_add_blob (w, d, (int64_t) strlen (t.s), produce_text, &t, &err), 0);
  assert_int_equal (sw_oci_layout_write_index (w, "application/vnd.oci.image.manifest.v1+json", d, 3, "r/x:v1", "v1", &err),
                    0);
  assert_int_equal (sw_oci_layout_finish (w, &err), 0);
  sw_oci_layout_free (w);

  cleanup_free char *name = sw_xasprintf ("blobs/sha256/%s", sw_digest_hex (d));
  read_tar (fd, &names, name, &content);
  cleanup_free char *want = sw_xasprintf ("blobs/ blobs/sha256/ %s oci-layout index.json", name);
  assert_string_equal (names.data, want);
  assert_string_equal (content.data, t.s);
  sw_buf_truncate (&names, 0);
  sw_buf_truncate (&content, 0);
  read_tar (fd, &names, "index.json", &content);
  assert_non_null (strstr (content.data, "\"org.opencontainers.image.ref.name\":\"v1\""));
  assert_non_null (strstr (content.data, d));
  close (fd);
}

static void
tar_blob_with_wrong_digest_breaks_the_stream (void **state)
{
  cleanup_error sw_error *err = NULL;
  sw_oci_layout *w = NULL;
  struct text t = { "these are not the bytes announced", false };
  char d[SW_DIGEST_BUFSZ];
  int fd = tmpfile_fd ();

  sw_digest_bytes ("something else entirely, same...", strlen (t.s), d);
  assert_int_equal (sw_oci_layout_new_tar (fd, 0, &w, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, d, (int64_t) strlen (t.s), produce_text, &t, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "the bytes written have digest"));
  sw_error_free (err);
  err = NULL;
  /* nothing after a bad entry can make the stream valid */
  assert_int_equal (sw_oci_layout_add_file (w, "index.json", "{}", 2, &err), -1);
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_oci_layout_finish (w, &err), -1);
  sw_oci_layout_free (w);
  /* what was still buffered is dropped and no closing blocks are added: this small stream
   * wrote nothing at all, so no reader can take it for a whole archive */
  assert_int_equal (lseek (fd, 0, SEEK_END), 0);
  close (fd);
}

static void
tar_blob_short_or_unfinished_fails (void **state)
{
  cleanup_error sw_error *err = NULL;
  sw_oci_layout *w = NULL;
  struct text t = { "short", false };
  char d[SW_DIGEST_BUFSZ];
  int fd = tmpfile_fd ();

  sw_digest_bytes (t.s, strlen (t.s), d);
  assert_int_equal (sw_oci_layout_new_tar (fd, 0, &w, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, d, 100, produce_text, &t, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "bytes where 100 were announced"));
  sw_oci_layout_free (w);
  sw_error_free (err);
  err = NULL;

  t.no_finish = true;
  assert_int_equal (sw_oci_layout_new_tar (fd, 0, &w, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, d, (int64_t) strlen (t.s), produce_text, &t, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "without finishing"));
  sw_oci_layout_free (w);
  close (fd);
}

static int
count_entries (const char *dir)
{
  DIR *d = opendir (dir);
  int n = 0;
  struct dirent *de;
  assert_non_null (d);
  while ((de = readdir (d)))
    n += strcmp (de->d_name, ".") && strcmp (de->d_name, "..");
  closedir (d);
  return n;
}

static void
dir_layout_renames_only_verified_blobs (void **state)
{
  cleanup_error sw_error *err = NULL;
  char top[] = "/tmp/test_oci_layout_dir.XXXXXX";
  sw_oci_layout *w = NULL;
  struct text good = { "a good blob", false }, bad = { "a bad blob!", false };
  char d[SW_DIGEST_BUFSZ], dbad[SW_DIGEST_BUFSZ];
  struct stat st;

  assert_non_null (mkdtemp (top));
  cleanup_free char *layout = sw_xasprintf ("%s/layout", top);
  cleanup_free char *blobs = sw_xasprintf ("%s/blobs/sha256", layout);
  sw_digest_bytes (good.s, strlen (good.s), d);
  sw_digest_bytes ("a bad blob?", strlen (bad.s), dbad);
  assert_int_equal (sw_oci_layout_new_dir (layout, &w, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, d, (int64_t) strlen (good.s), produce_text, &good, &err), 0);
  assert_int_equal (sw_oci_layout_add_blob (w, dbad, (int64_t) strlen (bad.s), produce_text, &bad, &err), -1);
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_oci_layout_write_index (w, "application/vnd.oci.image.manifest.v1+json", d, 11, NULL, NULL, &err),
                    0);
  assert_int_equal (sw_oci_layout_finish (w, &err), 0);
  sw_oci_layout_free (w);

  assert_int_equal (count_entries (blobs), 1); /* the good one, no temporary */
  cleanup_free char *p = sw_xasprintf ("%s/%s", blobs, sw_digest_hex (d));
  assert_int_equal (stat (p, &st), 0);
  assert_int_equal (st.st_size, 11);
  assert_int_equal (count_entries (layout), 3); /* blobs oci-layout index.json */
  cleanup_free char *cmd = sw_xasprintf ("rm -rf '%s'", top);
  assert_int_equal (system (cmd), 0);
}

static void
docker_archive_manifest_json (void **state)
{
  cleanup_error sw_error *err = NULL;
  cleanup_buf sw_buf names = SW_BUF_INIT;
  cleanup_buf sw_buf content = SW_BUF_INIT;
  sw_oci_layout *w = NULL;
  int fd = tmpfile_fd ();
  const char *cfg = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  const char *layers[] = { "sha256:2222222222222222222222222222222222222222222222222222222222222222" };
  const char *tags[] = { "localhost:5000/a/b:v1", "busybox:latest" };
  sw_docker_archive_image img = { cfg, layers, 1, tags, 2 };

  assert_int_equal (sw_oci_layout_new_tar (fd, 0, &w, &err), 0);
  assert_int_equal (sw_docker_archive_write (w, &img, &err), 0);
  assert_int_equal (sw_oci_layout_finish (w, &err), 0);
  sw_oci_layout_free (w);
  read_tar (fd, &names, "manifest.json", &content);
  assert_string_equal (names.data, "manifest.json repositories");
  assert_string_equal (content.data,
                       "[{\"Config\":\"blobs/sha256/1111111111111111111111111111111111111111111111111111111111111111\","
                       "\"RepoTags\":[\"localhost:5000/a/b:v1\",\"busybox:latest\"],"
                       "\"Layers\":[\"blobs/sha256/2222222222222222222222222222222222222222222222222222222222222222\"]}]");
  sw_buf_truncate (&names, 0);
  sw_buf_truncate (&content, 0);
  read_tar (fd, &names, "repositories", &content);
  assert_non_null (strstr (content.data, "\"localhost:5000/a/b\":{\"v1\":\"1111"));
  assert_non_null (strstr (content.data, "\"busybox\":{\"latest\":\"1111"));
  close (fd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (tar_layout_streams_and_reads_back),
    cmocka_unit_test (tar_blob_with_wrong_digest_breaks_the_stream),
    cmocka_unit_test (tar_blob_short_or_unfinished_fails),
    cmocka_unit_test (dir_layout_renames_only_verified_blobs),
    cmocka_unit_test (docker_archive_manifest_json),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
