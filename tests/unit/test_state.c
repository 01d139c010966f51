/* Unit tests for store/state: layout, sessions, layer store, caches, size bound, prune. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "store/state.h"
#include "store/stepcache.h"

static char *
tmpdir (void)
{
  char *d = sw_xstrdup ("/tmp/sw-state-test.XXXXXX");
  assert_non_null (mkdtemp (d));
  return d;
}

static bool
exists (const char *p)
{
  struct stat st;
  return stat (p, &st) == 0;
}

static void
write_file (const char *p, size_t n)
{
  FILE *f = fopen (p, "w");
  assert_non_null (f);
  for (size_t i = 0; i < n; i++)
    fputc ((int) (i * 7), f);
  fclose (f);
}

#define DIFFID "sha256:4c1d0a5b2f3e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4"

static void
layer_store_commit_and_reuse (void **state)
{
  cleanup_free char *d = tmpdir ();
  sw_state *st = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_state_open (d, &st, &err), 0);
  assert_false (sw_state_layer_has (st, DIFFID));

  cleanup_free char *tmp = NULL;
  assert_int_equal (sw_state_layer_begin (st, &tmp, &err), 0);
  cleanup_free char *f = sw_xasprintf ("%s/hello", tmp);
  write_file (f, 10);
  assert_int_equal (sw_state_layer_commit (st, DIFFID, tmp, &err), 0);
  assert_true (sw_state_layer_has (st, DIFFID));
  cleanup_free char *path = NULL;
  assert_int_equal (sw_state_layer_path (st, DIFFID, &path, &err), 0);
  cleanup_free char *want = sw_xasprintf ("%s/layers/sha256-%s", d, strchr (DIFFID, ':') + 1);
  assert_string_equal (path, want);
  cleanup_free char *f2 = sw_xasprintf ("%s/hello", path);
  assert_true (exists (f2));

  /* a second extraction of the same layer (a race lost) is dropped, not an error */
  cleanup_free char *tmp2 = NULL;
  assert_int_equal (sw_state_layer_begin (st, &tmp2, &err), 0);
  assert_int_equal (sw_state_layer_commit (st, DIFFID, tmp2, &err), 0);
  assert_false (exists (tmp2));
  sw_state_close (st);

  /* reused by the next process */
  assert_int_equal (sw_state_open (d, &st, &err), 0);
  assert_true (sw_state_layer_has (st, DIFFID));
  sw_state_close (st);
  sw_rmtree (d, NULL);
}

static void
bad_diffids_are_refused (void **state)
{
  cleanup_free char *d = tmpdir ();
  sw_state *st = NULL;
  assert_int_equal (sw_state_open (d, &st, NULL), 0);
  static const char *const bad[] = { "sha256:../../etc", "4c1d0a5b2f3e6d7c8b9a0f1e2d3c4b5a", "SHA256:abcdefabcdefabcdefabcdefabcdefabcdef",
                                     "sha256:short", "sha256/x:4c1d0a5b2f3e6d7c8b9a0f1e2d3c4b5a69788796", NULL };
  for (const char *const *b = bad; *b; b++)
    {
      char *p = NULL;
      cleanup_error sw_error *err = NULL;
      if (sw_state_layer_path (st, *b, &p, &err) == 0)
        fail_msg ("accepted %s", *b);
      assert_non_null (strstr (sw_error_message (err), "malformed diffID"));
    }
  sw_state_close (st);
  sw_rmtree (d, NULL);
}

static void
dead_sessions_are_cleaned_live_ones_kept (void **state)
{
  cleanup_free char *d = tmpdir ();
  sw_state *a = NULL, *b = NULL;
  assert_int_equal (sw_state_open (d, &a, NULL), 0);
  /* a session whose owner died: its lock file exists but nobody holds it */
  cleanup_free char *dead = sw_xasprintf ("%s/runs/999999-dead", d);
  assert_int_equal (mkdir (dead, 0700), 0);
  cleanup_free char *lock = sw_xasprintf ("%s/lock", dead);
  write_file (lock, 0);
  cleanup_free char *junk = sw_xasprintf ("%s/upper", dead);
  assert_int_equal (mkdir (junk, 0700), 0);

  assert_int_equal (sw_state_open (d, &b, NULL), 0);
  assert_false (exists (dead));
  assert_true (exists (sw_state_session (a))); /* alive: locked by a */
  cleanup_free char *sa = sw_xstrdup (sw_state_session (a));
  sw_state_close (a);
  assert_false (exists (sa));
  sw_state_close (b);
  sw_rmtree (d, NULL);
}

static void
caches_gc_and_prune (void **state)
{
  cleanup_free char *d = tmpdir ();
  sw_state *st = NULL;
  cleanup_error sw_error *err = NULL;
  cleanup_free char *c1 = NULL, *c2 = NULL;
  int l1 = -1, l2 = -1;
  if (geteuid () != 0)
    skip (); /* cache dirs are made with an owner (uid 0 here): chown needs root */
  assert_int_equal (sw_state_open (d, &st, &err), 0);
  assert_int_equal (sw_state_cache_dir (st, "one", SW_CACHE_SHARED, 0, 0, 0755, &c1, &l1, &err), 0);
  assert_int_equal (l1, -1);
  assert_int_equal (sw_state_cache_dir (st, "two", SW_CACHE_LOCKED, 0, 0, 0700, &c2, &l2, &err), 0);
  assert_true (l2 >= 0);
  struct stat sb;
  assert_int_equal (stat (c2, &sb), 0);
  assert_int_equal (sb.st_mode & 07777, 0700);
  /* private: a second user while the first holds it gets its own instance */
  cleanup_free char *p1 = NULL, *p2 = NULL;
  int pl1 = -1, pl2 = -1;
  assert_int_equal (sw_state_cache_dir (st, "p", SW_CACHE_PRIVATE, 0, 0, 0755, &p1, &pl1, &err), 0);
  assert_int_equal (sw_state_cache_dir (st, "p", SW_CACHE_PRIVATE, 0, 0, 0755, &p2, &pl2, &err), 0);
  assert_string_not_equal (p1, p2);
  close (l2);
  close (pl1);
  close (pl2);
  cleanup_free char *big = sw_xasprintf ("%s/blob", c1);
  write_file (big, 200000);
  uint64_t freed = 0;
  /* in use: gc and prune keep away */
  assert_int_equal (sw_state_gc (d, 1000, &freed, &err), 0);
  assert_int_equal (freed, 0);
  assert_int_equal (sw_state_prune (d, &freed, &err), -1);
  assert_int_equal (sw_error_code (err), EBUSY);
  sw_error_free (err);
  err = NULL;
  sw_state_close (st);
  assert_int_equal (sw_state_gc (d, 100000, &freed, &err), 0);
  assert_true (freed >= 200000);
  assert_false (exists (big));
  assert_int_equal (sw_state_prune (d, &freed, &err), 0);
  assert_false (exists (c2));
  sw_rmtree (d, NULL);
}

static void
config_max_size (void **state)
{
  cleanup_free char *d = tmpdir ();
  cleanup_free char *cfg = sw_xasprintf ("%s/config", d);
  uint64_t max = 1;
  assert_int_equal (sw_state_max_size (d, &max, NULL), 0);
  assert_int_equal (max, 0);
  FILE *f = fopen (cfg, "w");
  fputs ("# the bound\n\n  max-size =  20G  \n", f);
  fclose (f);
  assert_int_equal (sw_state_max_size (d, &max, NULL), 0);
  assert_int_equal (max, 20ULL << 30);
  f = fopen (cfg, "w");
  fputs ("max-size\n", f);
  fclose (f);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_state_max_size (d, &max, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "config:1"));
  sw_rmtree (d, NULL);
}

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Step records: written whole, read back, refused for malformed keys; the stamp of a
 * layer dir changes when a file in it does; the sweep after eviction drops records whose
 * layer is gone and keeps the others. */
static void
step_records (void **state)
{
  cleanup_free char *d = tmpdir ();
  sw_state *st = NULL;
  cleanup_error sw_error *err = NULL;
  sw_step_record rec = { 0 }, got;
  assert_int_equal (sw_state_open (d, &st, &err), 0);

  assert_int_equal (sw_step_get (st, KEY, &got), 0);
  snprintf (rec.diff_id, sizeof rec.diff_id, "%s", DIFFID);
  snprintf (rec.created, sizeof rec.created, "2026-01-02T03:04:05Z");
  snprintf (rec.created_by, sizeof rec.created_by, "RUN a\nb");
  snprintf (rec.blob_opts, sizeof rec.blob_opts, "1/-1/-1");
  snprintf (rec.blob_digest, sizeof rec.blob_digest, "%s", DIFFID);
  rec.blob_size = 1234567890123;
  assert_int_equal (sw_step_put (st, KEY, &rec, &err), 0);
  assert_int_equal (sw_step_get (st, KEY, &got), 1);
  assert_string_equal (got.diff_id, DIFFID);
  assert_string_equal (got.created, rec.created);
  assert_string_equal (got.created_by, "RUN a b"); /* one line a field */
  assert_string_equal (got.blob_digest, DIFFID);
  assert_true (got.blob_size == 1234567890123);
  assert_int_equal (sw_step_put (st, "../x", &rec, &err), -1);
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_step_get (st, "ABC", &got), 0);

  /* stamps */
  cleanup_free char *tmp = NULL;
  char s1[SW_DIGEST_BUFSZ], s2[SW_DIGEST_BUFSZ], s3[SW_DIGEST_BUFSZ];
  assert_int_equal (sw_state_layer_begin (st, &tmp, &err), 0);
  cleanup_free char *sub = sw_xasprintf ("%s/sub", tmp);
  assert_int_equal (mkdir (sub, 0755), 0);
  cleanup_free char *f = sw_xasprintf ("%s/sub/file", tmp);
  write_file (f, 10);
  assert_int_equal (sw_step_stamp (tmp, s1, &err), 0);
  assert_int_equal (sw_step_stamp (tmp, s2, &err), 0);
  assert_string_equal (s1, s2);
  usleep (10000);
  write_file (f, 10); /* same bytes, rewritten: its ctime moves */
  assert_int_equal (sw_step_stamp (tmp, s3, &err), 0);
  assert_string_not_equal (s1, s3);

  /* sweep: the record stays while its layer is in the store, goes with it */
  assert_int_equal (sw_state_layer_commit (st, DIFFID, tmp, &err), 0);
  /* a pack record: found for its diffID and options only */
  sw_pack_record pr = { .size = 1234 }, pgot;
  snprintf (pr.digest, sizeof pr.digest, "sha256:%064d", 7);
  snprintf (pr.media_type, sizeof pr.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  assert_int_equal (sw_pack_get (st, DIFFID, "2/-1/-1", &pgot), 0);
  assert_int_equal (sw_pack_put (st, DIFFID, "2/-1/-1", &pr, &err), 0);
  assert_int_equal (sw_pack_get (st, DIFFID, "2/-1/-1", &pgot), 1);
  assert_string_equal (pgot.digest, pr.digest);
  assert_string_equal (pgot.media_type, pr.media_type);
  assert_int_equal (pgot.size, 1234);
  assert_int_equal (sw_pack_get (st, DIFFID, "2/3/-1", &pgot), 0);
  sw_step_sweep (d);
  assert_int_equal (sw_step_get (st, KEY, &got), 1);
  assert_int_equal (sw_pack_get (st, DIFFID, "2/-1/-1", &pgot), 1);
  cleanup_free char *lp = NULL;
  assert_int_equal (sw_state_layer_path (st, DIFFID, &lp, &err), 0);
  assert_int_equal (sw_rmtree (lp, &err), 0);
  sw_step_sweep (d);
  assert_int_equal (sw_step_get (st, KEY, &got), 0);
  assert_int_equal (sw_pack_get (st, DIFFID, "2/-1/-1", &pgot), 0); /* gone with its layer */
  sw_state_close (st);
  sw_rmtree (d, NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (layer_store_commit_and_reuse),
    cmocka_unit_test (bad_diffids_are_refused),
    cmocka_unit_test (dead_sessions_are_cleaned_live_ones_kept),
    cmocka_unit_test (caches_gc_and_prune),
    cmocka_unit_test (config_max_size),
    cmocka_unit_test (step_records),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
