/* Unit tests for exec/dockerignore: the cases of moby/patternmatcher's own tests and
 * Go's filepath.Match tests, .dockerignore line rules, and which ignore file is used. */
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

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "copy/dockerignore.h"

/* MatchesOrParentMatches of one pattern list; -1 when New or Match fails. */
static int
matches (const char *path, const char *const *pats, size_t n)
{
  sw_patterns *pm = NULL;
  if (sw_patterns_new (pats, n, &pm, NULL) < 0)
    return -1;
  bool m = false;
  int r = sw_patterns_match (pm, path, NULL, NULL, &m, NULL);
  sw_patterns_free (pm);
  return r < 0 ? -1 : m;
}

/* The same through MatchesUsingParentResults, walking down the parents. */
static int
matches_walk (const char *path, const char *const *pats, size_t n)
{
  sw_patterns *pm = NULL;
  if (sw_patterns_new (pats, n, &pm, NULL) < 0)
    return -1;
  size_t k = sw_patterns_count (pm);
  bool *info = sw_xcalloc (k + 1, 1), *next = sw_xcalloc (k + 1, 1);
  bool have = false, m = false;
  char *p = sw_xstrdup (path);
  int r = 0;
  for (char *q = p;; q++)
    {
      if (*q == '/' || *q == '\0')
        {
          char saved = *q;
          *q = '\0';
          if (saved == '\0')
            {
              r = sw_patterns_match (pm, p, have ? info : NULL, next, &m, NULL);
              break;
            }
          if (sw_patterns_match (pm, p, have ? info : NULL, next, &m, NULL) < 0)
            {
              r = -1;
              break;
            }
          memcpy (info, next, k);
          have = true;
          *q = saved;
        }
    }
  free (p);
  free (info);
  free (next);
  sw_patterns_free (pm);
  return r < 0 ? -1 : m;
}

struct mcase
{
  const char *pattern, *text;
  bool pass;
};

static const struct mcase match_cases[] = {
  { "**", "file", true },
  { "**", "file/", true },
  { "**/", "file", true },
  { "**/", "file/", true },
  { "**", "/", true },
  { "**/", "/", true },
  { "**", "dir/file", true },
  { "**/", "dir/file", true },
  { "**", "dir/file/", true },
  { "**/", "dir/file/", true },
  { "**/**", "dir/file", true },
  { "**/**", "dir/file/", true },
  { "dir/**", "dir/file", true },
  { "dir/**", "dir/file/", true },
  { "dir/**", "dir/dir2/file", true },
  { "dir/**", "dir/dir2/file/", true },
  { "**/dir", "dir", true },
  { "**/dir", "dir/file", true },
  { "**/dir2/*", "dir/dir2/file", true },
  { "**/dir2/*", "dir/dir2/file/", true },
  { "**/dir2/**", "dir/dir2/dir3/file", true },
  { "**/dir2/**", "dir/dir2/dir3/file/", true },
  { "**file", "file", true },
  { "**file", "dir/file", true },
  { "**/file", "dir/file", true },
  { "**file", "dir/dir/file", true },
  { "**/file", "dir/dir/file", true },
  { "**/file*", "dir/dir/file", true },
  { "**/file*", "dir/dir/file.txt", true },
  { "**/file*txt", "dir/dir/file.txt", true },
  { "**/file*.txt", "dir/dir/file.txt", true },
  { "**/file*.txt*", "dir/dir/file.txt", true },
  { "**/**/*.txt", "dir/dir/file.txt", true },
  { "**/**/*.txt2", "dir/dir/file.txt", false },
  { "**/*.txt", "file.txt", true },
  { "**/**/*.txt", "file.txt", true },
  { "a**/*.txt", "a/file.txt", true },
  { "a**/*.txt", "a/dir/file.txt", true },
  { "a**/*.txt", "a/dir/dir/file.txt", true },
  { "a/*.txt", "a/dir/file.txt", false },
  { "a/*.txt", "a/file.txt", true },
  { "a/*.txt**", "a/file.txt", true },
  { "a[b-d]e", "ae", false },
  { "a[b-d]e", "ace", true },
  { "a[b-d]e", "aae", false },
  { "a[^b-d]e", "aze", true },
  { ".*", ".foo", true },
  { ".*", "foo", false },
  { "abc.def", "abcdef", false },
  { "abc.def", "abc.def", true },
  { "abc.def", "abcZdef", false },
  { "abc?def", "abcZdef", true },
  { "abc?def", "abcdef", false },
  { "a\\\\", "a\\", true },
  { "**/foo/bar", "foo/bar", true },
  { "**/foo/bar", "dir/foo/bar", true },
  { "**/foo/bar", "dir/dir2/foo/bar", true },
  { "abc/**", "abc", false },
  { "abc/**", "abc/def", true },
  { "abc/**", "abc/def/ghi", true },
  { "**/.foo", ".foo", true },
  { "**/.foo", "bar.foo", false },
  { "a(b)c/def", "a(b)c/def", true },
  { "a(b)c/def", "a(b)c/xyz", false },
  { "a.|)$(}+{bc", "a.|)$(}+{bc", true },
  { "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
    "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true },
  { "dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true },
  { "a\\*b", "a*b", true },
};

static void
patternmatcher_cases (void **state)
{
  for (size_t i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++)
    {
      const struct mcase *c = &match_cases[i];
      const char *pats[] = { c->pattern };
      int got = matches (c->text, pats, 1);
      int got2 = matches_walk (c->text, pats, 1);
      if (got != (int) c->pass || got2 != (int) c->pass)
        fail_msg ("pattern %s text %s: want %d, got %d / %d", c->pattern, c->text, c->pass, got,
                  got2);
    }
}

static void
multi_pattern_cases (void **state)
{
  const char *p1[] = { "**", "!util/docker/web" };
  assert_int_equal (matches ("util/docker/web/foo", p1, 2), 0);
  assert_int_equal (matches_walk ("util/docker/web/foo", p1, 2), 0);
  const char *p2[] = { "**", "!util/docker/web", "util/docker/web/foo" };
  assert_int_equal (matches ("util/docker/web/foo", p2, 3), 1);
  assert_int_equal (matches_walk ("util/docker/web/foo", p2, 3), 1);
  const char *p3[] = { "**", "!dist/*.whl" };
  assert_int_equal (matches ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", p3, 2), 0);
  const char *p4[] = { "docs", "!docs/README.md" };
  assert_int_equal (matches ("docs/README.md", p4, 2), 0);
  const char *p5[] = { "docs/", "!docs/README.md" };
  assert_int_equal (matches ("docs/README.md", p5, 2), 0);
  const char *p6[] = { "docs/*", "!docs/README.md" };
  assert_int_equal (matches ("docs/README.md", p6, 2), 0);
  const char *p7[] = { "*.go", "!fileutils.go" };
  assert_int_equal (matches ("fileutils.go", p7, 2), 0);
  const char *p8[] = { "!fileutils.go", "*.go" };
  assert_int_equal (matches ("fileutils.go", p8, 2), 1);
  const char *p9[] = { "*" };
  assert_int_equal (matches ("fileutils.go", p9, 1), 1);
  const char *p10[] = { "docs" };
  assert_int_equal (matches ("docs/a/b/c", p10, 1), 1);
  assert_int_equal (matches ("docsx", p10, 1), 0);
}

static void
bad_patterns (void **state)
{
  const char *bang[] = { "!" };
  assert_int_equal (matches ("x", bang, 1), -1);
  const char *br[] = { "[" };
  assert_int_equal (matches ("/any/path/there", br, 1), -1);
  /* filepath.Match accepts it, Go's regexp does not: an error at match time. */
  const char *rev[] = { "[Local-Only]/" };
  assert_int_equal (matches ("x", rev, 1), -1);
  const char *none[] = { "" };
  assert_int_equal (matches ("x", none, 1), 0);
}

struct gcase
{
  const char *pattern, *s;
  int want; /* 1 match, 0 no match, -1 bad pattern */
};

static const struct gcase glob_cases[] = {
  { "abc", "abc", 1 },
  { "*", "abc", 1 },
  { "*c", "abc", 1 },
  { "a*", "a", 1 },
  { "a*", "abc", 1 },
  { "a*", "ab/c", 0 },
  { "a*/b", "abc/b", 1 },
  { "a*/b", "a/c/b", 0 },
  { "a*b*c*d*e*/f", "axbxcxdxe/f", 1 },
  { "a*b*c*d*e*/f", "axbxcxdxexxx/f", 1 },
  { "a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0 },
  { "a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0 },
  { "a*b?c*x", "abxbbxdbxebxczzx", 1 },
  { "a*b?c*x", "abxbbxdbxebxczzy", 0 },
  { "ab[c]", "abc", 1 },
  { "ab[b-d]", "abc", 1 },
  { "ab[e-g]", "abc", 0 },
  { "ab[^c]", "abc", 0 },
  { "ab[^b-d]", "abc", 0 },
  { "ab[^e-g]", "abc", 1 },
  { "a\\*b", "a*b", 1 },
  { "a\\*b", "ab", 0 },
  { "a?b", "a\xe2\x98\xba" "b", 1 },
  { "a[^a]b", "a\xe2\x98\xba" "b", 1 },
  { "a???b", "a\xe2\x98\xba" "b", 0 },
  { "a[^a][^a][^a]b", "a\xe2\x98\xba" "b", 0 },
  { "[a-\xce\xb6]*", "\xce\xb1", 1 },
  { "*[a-\xce\xb6]", "A", 0 },
  { "a?b", "a/b", 0 },
  { "a*b", "a/b", 0 },
  { "[\\]a]", "]", 1 },
  { "[\\-]", "-", 1 },
  { "[x\\-]", "x", 1 },
  { "[x\\-]", "-", 1 },
  { "[x\\-]", "z", 0 },
  { "[\\-x]", "x", 1 },
  { "[\\-x]", "-", 1 },
  { "[\\-x]", "a", 0 },
  { "[]a]", "]", -1 },
  { "[-]", "-", -1 },
  { "[x-]", "x", -1 },
  { "[x-]", "-", -1 },
  { "[x-]", "z", -1 },
  { "[-x]", "x", -1 },
  { "[-x]", "-", -1 },
  { "[-x]", "a", -1 },
  { "\\", "a", -1 },
  { "[a-b-c]", "a", -1 },
  { "[", "a", -1 },
  { "[^", "a", -1 },
  { "[^bc", "a", -1 },
  { "a[", "a", -1 },
  { "a[", "ab", -1 },
  { "a[", "x", -1 },
  { "a/b[", "x", -1 },
  { "*x", "xxx", 1 },
};

static void
filepath_match_cases (void **state)
{
  for (size_t i = 0; i < sizeof glob_cases / sizeof glob_cases[0]; i++)
    {
      const struct gcase *c = &glob_cases[i];
      bool m = false;
      int r = sw_glob_match (c->pattern, c->s, &m);
      int got = r < 0 ? -1 : m;
      if (got != c->want)
        fail_msg ("Match(%s, %s): want %d got %d", c->pattern, c->s, c->want, got);
      /* patternmatcher agrees with filepath.Match on these (its TestMatch). */
      const char *pats[] = { c->pattern };
      int pm = matches (c->s, pats, 1);
      if (c->want != -1 && pm != c->want && strcmp (c->pattern, "a*") != 0)
        fail_msg ("Matches(%s, %s): want %d got %d", c->pattern, c->s, c->want, pm);
    }
}

static void
clean_paths (void **state)
{
  static const char *cases[][2] = {
    { "", "." },       { "abc", "abc" },     { "abc/def", "abc/def" }, { "a/b/c", "a/b/c" },
    { ".", "." },      { "..", ".." },       { "../..", "../.." },     { "../../abc", "../../abc" },
    { "/abc", "/abc" }, { "/", "/" },        { "abc/", "abc" },        { "abc/def/", "abc/def" },
    { "/abc/", "/abc" }, { "abc//def//ghi", "abc/def/ghi" },          { "//abc", "/abc" },
    { "abc/./def", "abc/def" },             { "/./abc/def", "/abc/def" }, { "abc/.", "abc" },
    { "abc/def/ghi/../jkl", "abc/def/jkl" }, { "abc/def/../ghi/../jkl", "abc/jkl" },
    { "abc/def/..", "abc" }, { "abc/def/../..", "." }, { "/abc/def/../..", "/" },
    { "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
    { "abc/def/../../../ghi/jkl/../../../mno", "../../mno" }, { "/../abc", "/abc" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      cleanup_free char *c = sw_path_clean (cases[i][0]);
      if (strcmp (c, cases[i][1]) != 0)
        fail_msg ("Clean(%s) = %s, want %s", cases[i][0], c, cases[i][1]);
    }
}

static int
ignored (const sw_patterns *pm, const char *path)
{
  bool m = false;
  if (!pm)
    return 0;
  if (sw_patterns_match (pm, path, NULL, NULL, &m, NULL) < 0)
    return -1;
  return m;
}

static void
ignore_file_rules (void **state)
{
  const char *text = "\xEF\xBB\xBF# comment\n"
                     "   # not a comment\n"
                     "/abs/path\n"
                     "./rel/x/../y\n"
                     "  spaced  \r\n"
                     "*.log\n"
                     "! keep.log\n"
                     "\n"
                     "node_modules\n";
  sw_patterns *pm = NULL;
  assert_int_equal (sw_dockerignore_parse (text, strlen (text), ".dockerignore", &pm, NULL), 0);
  assert_non_null (pm);
  assert_int_equal (sw_patterns_count (pm), 7);
  assert_string_equal (sw_patterns_get (pm, 0, NULL), "# not a comment");
  assert_string_equal (sw_patterns_get (pm, 1, NULL), "abs/path");
  assert_string_equal (sw_patterns_get (pm, 2, NULL), "rel/y");
  assert_string_equal (sw_patterns_get (pm, 3, NULL), "spaced");
  bool exc = false;
  assert_string_equal (sw_patterns_get (pm, 5, &exc), "keep.log");
  assert_true (exc);
  assert_true (sw_patterns_has_exceptions (pm));
  assert_int_equal (ignored (pm, "abs/path/file"), 1);
  assert_int_equal (ignored (pm, "rel/y"), 1);
  assert_int_equal (ignored (pm, "a.log"), 1);
  assert_int_equal (ignored (pm, "keep.log"), 0);
  assert_int_equal (ignored (pm, "sub/a.log"), 0); /* `*` does not cross directories */
  assert_int_equal (ignored (pm, "node_modules/x/y.js"), 1);
  assert_int_equal (ignored (pm, "Dockerfile"), 0);
  sw_patterns_free (pm);

  sw_error *err = NULL;
  assert_int_equal (sw_dockerignore_parse ("ok\n!\n", 5, "ctx/.dockerignore", &pm, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "ctx/.dockerignore"));
  assert_non_null (strstr (sw_error_message (err), "illegal exclusion pattern"));
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_dockerignore_parse ("a[\n", 3, "x", &pm, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "syntax error in pattern"));
  sw_error_free (err);

  assert_int_equal (sw_dockerignore_parse ("# only\n\n", 8, "x", &pm, NULL), 0);
  assert_null (pm);
}

static void
write_file (const char *path, const char *s)
{
  FILE *f = fopen (path, "w");
  assert_non_null (f);
  fputs (s, f);
  fclose (f);
}

static void
which_ignore_file (void **state)
{
  char tmpl[] = "/tmp/sw-ignore.XXXXXX";
  char *dir = mkdtemp (tmpl);
  assert_non_null (dir);
  cleanup_free char *ctx = sw_xasprintf ("%s/ctx", dir);
  cleanup_free char *df = sw_xasprintf ("%s/app.Dockerfile", dir);
  cleanup_free char *dfi = sw_xasprintf ("%s/app.Dockerfile.dockerignore", dir);
  cleanup_free char *ci = sw_xasprintf ("%s/ctx/.dockerignore", dir);
  assert_int_equal (mkdir (ctx, 0755), 0);

  sw_patterns *pm = NULL;
  char *used = NULL;
  /* none at all */
  assert_int_equal (sw_dockerignore_load (ctx, df, &pm, &used, NULL), 0);
  assert_null (pm);
  assert_null (used);

  write_file (ci, "from-context\n");
  assert_int_equal (sw_dockerignore_load (ctx, df, &pm, &used, NULL), 0);
  assert_string_equal (used, ci);
  assert_int_equal (ignored (pm, "from-context"), 1);
  sw_patterns_free (pm);
  free (used);

  write_file (dfi, "from-dockerfile\n");
  assert_int_equal (sw_dockerignore_load (ctx, df, &pm, &used, NULL), 0);
  assert_string_equal (used, dfi);
  assert_int_equal (ignored (pm, "from-dockerfile"), 1);
  assert_int_equal (ignored (pm, "from-context"), 0);
  sw_patterns_free (pm);
  free (used);

  /* stdin Dockerfile: only the context's */
  assert_int_equal (sw_dockerignore_load (ctx, "-", &pm, &used, NULL), 0);
  assert_string_equal (used, ci);
  sw_patterns_free (pm);
  free (used);

  /* unreadable: a clear error, not silence */
  unlink (ci);
  assert_int_equal (mkdir (ci, 0755), 0);
  sw_error *err = NULL;
  assert_int_equal (sw_dockerignore_load (ctx, NULL, &pm, &used, &err), -1);
  assert_non_null (strstr (sw_error_message (err), ".dockerignore"));
  assert_non_null (strstr (sw_error_message (err), "directory"));
  sw_error_free (err);

  rmdir (ci);
  unlink (dfi);
  rmdir (ctx);
  rmdir (dir);
}

/* A pattern that makes naive backtracking exponential must still answer at once. */
static void
pathological_pattern_is_fast (void **state)
{
  const char *pats[] = { "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "**/**/**/**/**/**/**/**/x" };
  char path[200];
  memset (path, 'a', 120);
  path[120] = '\0';
  assert_int_equal (matches (path, pats, 1), 0);
  char deep[400] = "";
  for (int i = 0; i < 60; i++)
    strcat (deep, "d/");
  strcat (deep, "y");
  assert_int_equal (matches (deep, pats + 1, 1), 0);
  bool m;
  assert_int_equal (sw_glob_match (pats[0], path, &m), 0);
  assert_false (m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (patternmatcher_cases), cmocka_unit_test (multi_pattern_cases),
    cmocka_unit_test (bad_patterns),         cmocka_unit_test (filepath_match_cases),
    cmocka_unit_test (clean_paths),          cmocka_unit_test (ignore_file_rules),
    cmocka_unit_test (which_ignore_file),
    cmocka_unit_test (pathological_pattern_is_fast),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
