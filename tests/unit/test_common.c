/* Unit tests for common/: errors, buffers, string vectors, CSV, ParseBool, path.Clean,
 * sw_write_all, the bounded recursive remove. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/csv.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "common/io.h"
#include "common/path.h"
#include "common/strconv.h"
#include "common/strv.h"

static int
fails_with_context (sw_error **err)
{
  if (sw_error_make (err, ENOENT, "open %s", "x") == 0)
    return 0;
  return sw_error_wrap (err, "reading config");
}

static void
error_chain_reads_outermost_first (void **state)
{
  cleanup_error sw_error *err = NULL;
  assert_int_equal (fails_with_context (&err), -1);
  assert_non_null (err);
  assert_string_equal (sw_error_message (err), "reading config: open x");
  assert_int_equal (sw_error_code (err), ENOENT);
}

static void
error_errno_appends_strerror (void **state)
{
  cleanup_error sw_error *err = NULL;
  errno = EACCES;
  sw_error_errno (&err, "open %s", "/etc/x");
  assert_string_equal (sw_error_message (err), "open /etc/x: Permission denied");
  assert_int_equal (sw_error_code (err), EACCES);
}

static void
error_null_is_dropped (void **state)
{
  assert_int_equal (sw_error_make (NULL, 0, "ignored"), -1);
  assert_int_equal (sw_error_wrap (NULL, "ignored"), -1);
}

static void
error_twice_keeps_both (void **state)
{
  cleanup_error sw_error *err = NULL;
  sw_error_make (&err, 0, "first");
  sw_error_make (&err, 0, "second");
  assert_string_equal (sw_error_message (err), "first; second");
}

static void
error_category_innermost_wins (void **state)
{
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_error_category_of (NULL), SW_ERR_INTERNAL);
  sw_error_make (&err, EIO, "GET /v2/");
  assert_int_equal (sw_error_category_of (err), SW_ERR_INTERNAL);
  sw_error_set_category (&err, SW_ERR_REGISTRY);
  sw_error_wrap (&err, "pulling base");
  sw_error_set_category (&err, SW_ERR_INPUT); /* an outer caller's guess does not win */
  assert_int_equal (sw_error_category_of (err), SW_ERR_REGISTRY);
  sw_error_free (err);
  err = NULL;
  errno = ENOSPC;
  sw_error_errno (&err, "writing");
  assert_int_equal (sw_error_category_of (err), SW_ERR_IO);
  sw_error_free (err);
  err = NULL;
  sw_error_make (&err, ECANCELED, "cancelled");
  assert_int_equal (sw_error_category_of (err), SW_ERR_CANCELLED);
  /* moved onto a pending error: the pending one's category stays */
  cleanup_error sw_error *other = NULL;
  sw_error_make (&other, 0, "step");
  sw_error_set_category (&other, SW_ERR_STEP);
  sw_error_move (&err, &other);
  assert_int_equal (sw_error_category_of (err), SW_ERR_CANCELLED);
}

static void
version_agrees (void **state)
{
  char s[32];
  snprintf (s, sizeof s, "%d.%d.%d", SLIPWAY_VERSION_MAJOR, SLIPWAY_VERSION_MINOR, SLIPWAY_VERSION_PATCH);
  assert_string_equal (sw_version (), s);
  assert_int_equal (sw_version_num (), SLIPWAY_VERSION_NUM);
  assert_int_equal (SLIPWAY_VERSION_NUM,
                    (SLIPWAY_VERSION_MAJOR << 16) + (SLIPWAY_VERSION_MINOR << 8) + SLIPWAY_VERSION_PATCH);
}

static void
buf_grows_and_formats (void **state)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  assert_string_equal (sw_buf_str (&b), "");
  for (int i = 0; i < 1000; i++)
    sw_buf_printf (&b, "%d,", i);
  assert_int_equal (b.len, strlen (b.data));
  assert_memory_equal (b.data, "0,1,2,", 6);
  sw_buf_truncate (&b, 2);
  sw_buf_putc (&b, 'x');
  assert_string_equal (sw_buf_str (&b), "0,x");
}

static void
steal_pointer_leaves_null (void **state)
{
  cleanup_free char *s = strdup ("x");
  char *t = steal_pointer (&s);
  assert_null (s);
  free (t);
}

/* ---- sw_strv ---------------------------------------------------------------------- */

static void
strv_grows_null_terminated (void **state)
{
  cleanup_strvec sw_strv s = SW_STRV_INIT;
  assert_null (s.v);
  for (int i = 0; i < 1000; i++)
    {
      char n[16];
      snprintf (n, sizeof n, "%d", i);
      if (i % 2)
        sw_strv_push (&s, n);
      else
        sw_strv_push_owned (&s, strdup (n));
      assert_null (s.v[s.n]);
    }
  assert_int_equal (s.n, 1000);
  assert_string_equal (s.v[999], "999");
  cleanup_strv char **copy = sw_strv_dup (s.v, s.n);
  assert_int_equal (sw_strlist_len (copy), 1000);
  assert_string_equal (copy[500], "500");
  cleanup_strv char **stolen = sw_strv_steal (&s);
  assert_int_equal (s.n, 0);
  assert_null (s.v);
  assert_string_equal (stolen[0], "0");
  sw_strlist_push (&stolen, "x");
  assert_string_equal (stolen[1000], "x");
  assert_null (stolen[1001]);
}

/* ---- CSV as Go's encoding/csv reads one record -------------------------------------- */

static void
csv_expect (const char *record, size_t n, const char *const *fields)
{
  cleanup_strvec sw_strv f = SW_STRV_INIT;
  const char *why = NULL;
  if (sw_csv_split (record, &f, &why) < 0)
    fail_msg ("%s: %s", record, why);
  assert_int_equal (f.n, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal (f.v[i], fields[i]);
}

static void
csv_reads_go_quoting (void **state)
{
  csv_expect ("a,b,c", 3, (const char *[]){ "a", "b", "c" });
  csv_expect ("type=local,\"dest=a,b\"", 2, (const char *[]){ "type=local", "dest=a,b" });
  csv_expect ("\"a\"\"b\",c", 2, (const char *[]){ "a\"b", "c" });
  csv_expect ("\"\"\"\"", 1, (const char *[]){ "\"" });
  csv_expect ("\"\"", 1, (const char *[]){ "" });
  csv_expect ("", 1, (const char *[]){ "" });
  csv_expect ("a,", 2, (const char *[]){ "a", "" });
  csv_expect (",,", 3, (const char *[]){ "", "", "" });
  csv_expect (" a , b ", 2, (const char *[]){ " a ", " b " }); /* nothing trimmed */
  csv_expect ("\"a\nb\",c", 2, (const char *[]){ "a\nb", "c" });
  csv_expect ("a,\"b,c\",\"d\"", 3, (const char *[]){ "a", "b,c", "d" });
  /* one record a line, as buildx reads only the first: the rest is ignored */
  csv_expect ("a,b\nc,d", 2, (const char *[]){ "a", "b" });
  csv_expect ("a,b\r\nc", 2, (const char *[]){ "a", "b" });
  csv_expect ("\"a\"\nb", 1, (const char *[]){ "a" });
  csv_expect ("\n\r\na", 1, (const char *[]){ "a" }); /* blank lines before it skipped */
  csv_expect ("\"a\r\nb\"", 1, (const char *[]){ "a\nb" });
  csv_expect ("a\rb", 1, (const char *[]){ "a\rb" }); /* a lone CR is data */
}

static void
csv_rejects_bad_quotes (void **state)
{
  static const struct
  {
    const char *record, *why;
  } bad[] = {
    { "a\"b", "bare \" in non-quoted-field" },
    { "x=\"a\"", "bare \" in non-quoted-field" },
    { " \"a\"", "bare \" in non-quoted-field" }, /* the quote is not the field's first byte */
    { "a,b\"", "bare \" in non-quoted-field" },
    { "\"a\"b", "extraneous or missing \" in quoted-field" },
    { "\"a\" ,b", "extraneous or missing \" in quoted-field" },
    { "\"abc", "extraneous or missing \" in quoted-field" },
    { "a,\"b", "extraneous or missing \" in quoted-field" },
    { "\"", "extraneous or missing \" in quoted-field" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      cleanup_strvec sw_strv f = SW_STRV_INIT;
      const char *why = NULL;
      if (sw_csv_split (bad[i].record, &f, &why) != -1)
        fail_msg ("accepted %s", bad[i].record);
      assert_string_equal (why, bad[i].why);
    }
}

static void
csv_get_reads_quoted_values (void **state)
{
  cleanup_free char *dest = sw_csv_get ("type=local,\"dest=a,b\"", "dest");
  assert_string_equal (dest, "a,b");
  cleanup_free char *empty = sw_csv_get ("type=tar,dest=", "dest");
  assert_string_equal (empty, "");
  cleanup_free char *first = sw_csv_get ("name=a,name=b", "name");
  assert_string_equal (first, "a");
  assert_null (sw_csv_get ("type=local,destination=x", "dest")); /* the whole key */
  assert_null (sw_csv_get ("type=local,dest", "dest"));
  assert_null (sw_csv_get ("type=local,dest=\"x\"", "dest")); /* not valid CSV */
}

/* ---- strconv.ParseBool ---------------------------------------------------------------- */

static void
parse_bool_is_go_strconv (void **state)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  static const char *const bad[] = { "", "yes", "no", "on", "tRUE", "TRue", "fALSE", " true", "true ", "2", "00", "y" };
  for (size_t i = 0; i < 6; i++)
    {
      bool b = false;
      assert_int_equal (sw_parse_bool (yes[i], &b), 0);
      assert_true (b);
      b = true;
      assert_int_equal (sw_parse_bool (no[i], &b), 0);
      assert_false (b);
    }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      bool b = true;
      if (sw_parse_bool (bad[i], &b) != -1)
        fail_msg ("accepted \"%s\"", bad[i]);
      assert_true (b); /* untouched */
    }
}

/* ---- path.Clean ------------------------------------------------------------------------ */

static void
path_clean_is_go_path_clean (void **state)
{
  static const char *const cases[][2] = {
    /* already clean */
    { "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { ".", "." }, { "..", ".." },
    { "../..", "../.." }, { "../../abc", "../../abc" }, { "/abc", "/abc" }, { "/", "/" },
    /* trailing slashes go */
    { "abc/", "abc" }, { "abc/def/", "abc/def" }, { "./", "." }, { "../", ".." }, { "/abc/", "/abc" },
    /* doubled slashes collapse */
    { "abc//def//ghi", "abc/def/ghi" }, { "//abc", "/abc" }, { "///abc", "/abc" }, { "//abc//", "/abc" },
    /* "." elements go */
    { "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" }, { "abc/.", "abc" }, { "./abc", "abc" },
    /* ".." eats the element before it, never past the root */
    { "abc/def/ghi/../jkl", "abc/def/jkl" }, { "abc/def/../ghi/../jkl", "abc/jkl" }, { "abc/def/..", "abc" },
    { "abc/def/../..", "." }, { "/abc/def/../..", "/" }, { "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
    { "abc/def/../../../ghi/jkl/../../../mno", "../../mno" }, { "/..", "/" }, { "/../abc", "/abc" },
    /* combinations */
    { "abc/./../def", "def" }, { "abc//./../def", "def" }, { "abc/../../././../def", "../../def" },
    /* names that only look like dots */
    { "...", "..." }, { "a/.../b", "a/.../b" }, { "..a/b", "..a/b" }, { "a/.b/..", "a" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    {
      cleanup_free char *c = sw_path_clean (cases[i][0]);
      if (strcmp (c, cases[i][1]) != 0)
        fail_msg ("Clean(%s) = %s, want %s", cases[i][0], c, cases[i][1]);
      cleanup_free char *again = sw_path_clean (c); /* Clean is idempotent */
      assert_string_equal (again, c);
    }
}

/* ---- sw_write_all --------------------------------------------------------------------- */

#define PIPE_TOTAL (4u << 20)

static void
on_alarm (int sig)
{
  (void) sig;
}

static void *
slow_reader (void *arg)
{
  int fd = *(int *) arg;
  static unsigned char buf[4096];
  size_t got = 0;
  bool same = true;
  ssize_t n;
  usleep (20000); /* let the writer fill the pipe and block */
  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        break;
      for (ssize_t i = 0; i < n; i++)
        same &= buf[i] == (unsigned char) ((got + (size_t) i) * 7 % 251);
      got += (size_t) n;
    }
  return (void *) (uintptr_t) (same && got == PIPE_TOTAL);
}

static void
write_all_survives_signals_and_partial_writes (void **state)
{
  int p[2];
  assert_int_equal (pipe (p), 0);
  unsigned char *data = malloc (PIPE_TOTAL);
  for (size_t i = 0; i < PIPE_TOTAL; i++)
    data[i] = (unsigned char) (i * 7 % 251);

  /* A timer signal without SA_RESTART interrupts the blocked write: write(2) then returns
   * what it moved so far (a partial write) or fails with EINTR. */
  struct sigaction sa = { .sa_handler = on_alarm }, old;
  sigemptyset (&sa.sa_mask);
  assert_int_equal (sigaction (SIGALRM, &sa, &old), 0);
  sigset_t alrm, prev;
  sigemptyset (&alrm);
  sigaddset (&alrm, SIGALRM);
  pthread_sigmask (SIG_BLOCK, &alrm, &prev); /* the reader thread never takes it */
  pthread_t t;
  assert_int_equal (pthread_create (&t, NULL, slow_reader, &p[0]), 0);
  pthread_sigmask (SIG_SETMASK, &prev, NULL);
  struct itimerval it = { { 0, 200 }, { 0, 200 } };
  setitimer (ITIMER_REAL, &it, NULL);

  int r = sw_write_all (p[1], data, PIPE_TOTAL);

  struct itimerval off = { { 0, 0 }, { 0, 0 } };
  setitimer (ITIMER_REAL, &off, NULL);
  sigaction (SIGALRM, &old, NULL);
  close (p[1]);
  void *ok;
  pthread_join (t, &ok);
  close (p[0]);
  free (data);
  assert_int_equal (r, 0);
  assert_true (ok != NULL); /* every byte, in order */
}

static void
write_all_reports_a_closed_pipe (void **state)
{
  int p[2];
  assert_int_equal (pipe (p), 0);
  close (p[0]);
  void (*old) (int) = signal (SIGPIPE, SIG_IGN);
  errno = 0;
  assert_int_equal (sw_write_all (p[1], "x", 1), -1);
  assert_int_equal (errno, EPIPE);
  signal (SIGPIPE, old);
  close (p[1]);
  assert_int_equal (sw_write_all (p[1], "", 0), 0); /* nothing to write: no call at all */
}

static void
read_all_is_bounded (void **state)
{
  int p[2];
  assert_int_equal (pipe (p), 0);
  assert_int_equal (sw_write_all (p[1], "0123456789", 10), 0);
  close (p[1]);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  assert_int_equal (sw_read_all (p[0], 10, &b), 0); /* exactly the bound: fine */
  assert_string_equal (sw_buf_str (&b), "0123456789");
  close (p[0]);

  assert_int_equal (pipe (p), 0);
  assert_int_equal (sw_write_all (p[1], "0123456789", 10), 0);
  close (p[1]);
  cleanup_buf sw_buf c = SW_BUF_INIT;
  errno = 0;
  assert_int_equal (sw_read_all (p[0], 9, &c), -1);
  assert_int_equal (errno, EFBIG);
  close (p[0]);
}

/* ---- the bounded recursive remove -------------------------------------------------------- */

static char *
make_chain (const char *top, int depth)
{
  char *path = strdup (top);
  for (int i = 0; i < depth; i++)
    {
      char *next;
      assert_true (asprintf (&next, "%s/d", path) > 0);
      free (path);
      path = next;
      assert_int_equal (mkdir (path, 0755), 0);
    }
  return path;
}

static void
remove_all_stops_at_the_depth_bound (void **state)
{
  char tmpl[] = "/tmp/sw-test-common-XXXXXX";
  assert_non_null (mkdtemp (tmpl));
  cleanup_free char *tree = NULL, *outside = NULL, *kept = NULL;
  assert_true (asprintf (&tree, "%s/tree", tmpl) > 0);
  assert_true (asprintf (&outside, "%s/outside", tmpl) > 0);
  assert_true (asprintf (&kept, "%s/outside/kept", tmpl) > 0);
  assert_int_equal (mkdir (tree, 0755), 0);
  assert_int_equal (mkdir (outside, 0755), 0);
  close (open (kept, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));

  /* tree/d/d/d/d/d (level 5), a file beside the chain, a symlink to outside */
  cleanup_free char *deepest = make_chain (tree, 5);
  cleanup_free char *file = NULL, *link = NULL;
  assert_true (asprintf (&file, "%s/file", tree) > 0);
  assert_true (asprintf (&link, "%s/d/link", tree) > 0);
  close (open (file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  assert_int_equal (symlink (outside, link), 0);

  /* Bounded at 3 levels: the chain below is refused, the rest goes. */
  errno = 0;
  assert_int_equal (sw_remove_all_at_bounded (AT_FDCWD, tree, 3), -1);
  assert_int_equal (errno, ELOOP);
  struct stat st;
  assert_int_equal (access (deepest, F_OK), 0);     /* beyond the bound: left */
  assert_int_equal (access (file, F_OK), -1);       /* beside it: removed */
  assert_int_equal (lstat (link, &st), -1);         /* the link itself removed... */
  assert_int_equal (access (kept, F_OK), 0);        /* ...never followed */

  /* The default bound takes it all. */
  assert_int_equal (sw_remove_all_at (AT_FDCWD, tree), 0);
  assert_int_equal (access (tree, F_OK), -1);
  assert_int_equal (sw_remove_all_at (AT_FDCWD, tree), 0); /* already gone: fine */
  assert_true (SW_REMOVE_MAX_DEPTH >= 1024);

  assert_int_equal (sw_remove_all_at (AT_FDCWD, tmpl), 0);
  assert_int_equal (access (tmpl, F_OK), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (error_chain_reads_outermost_first),
    cmocka_unit_test (error_errno_appends_strerror),
    cmocka_unit_test (error_null_is_dropped),
    cmocka_unit_test (error_twice_keeps_both),
    cmocka_unit_test (error_category_innermost_wins),
    cmocka_unit_test (version_agrees),
    cmocka_unit_test (buf_grows_and_formats),
    cmocka_unit_test (steal_pointer_leaves_null),
    cmocka_unit_test (strv_grows_null_terminated),
    cmocka_unit_test (csv_reads_go_quoting),
    cmocka_unit_test (csv_rejects_bad_quotes),
    cmocka_unit_test (csv_get_reads_quoted_values),
    cmocka_unit_test (parse_bool_is_go_strconv),
    cmocka_unit_test (path_clean_is_go_path_clean),
    cmocka_unit_test (write_all_survives_signals_and_partial_writes),
    cmocka_unit_test (write_all_reports_a_closed_pipe),
    cmocka_unit_test (read_all_is_bounded),
    cmocka_unit_test (remove_all_stops_at_the_depth_bound),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
