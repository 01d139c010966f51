/* Tests for exec/copy and exec/add: the C API on real directories (a context, a target
 * rootfs), checking trees, modes, owners and times; ADD of real tar files made by tar(1)
 * and python3, and of URLs served by python3's http.server on loopback. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "copy/add.h"
#include "copy/context.h"
#include "copy/copy.h"
#include "copy/copy_int.h"
#include "copy/dockerignore.h"

static char top[64];
static char ctx[128], dst[128];
static int ctx_fd = -1, dst_fd = -1;

static void
sh (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *cmd = sw_xvasprintf (fmt, ap);
  va_end (ap);
  int r = system (cmd);
  if (r != 0)
    fail_msg ("command failed (%d): %s", r, cmd);
  free (cmd);
}

static void
put (const char *root, const char *rel, const char *content, mode_t mode)
{
  char *p = sw_xasprintf ("%s/%s", root, rel);
  char *d = sw_xstrdup (p);
  *strrchr (d, '/') = '\0';
  sh ("mkdir -p '%s'", d);
  FILE *f = fopen (p, "w");
  assert_non_null (f);
  fputs (content, f);
  fclose (f);
  assert_int_equal (chmod (p, mode), 0);
  free (p);
  free (d);
}

static char *
slurp (const char *rel)
{
  char *p = sw_xasprintf ("%s/%s", dst, rel);
  FILE *f = fopen (p, "r");
  free (p);
  if (!f)
    return NULL;
  char buf[4096];
  size_t n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  return sw_xstrdup (buf);
}

static bool
lst (const char *rel, struct stat *st)
{
  char *p = sw_xasprintf ("%s/%s", dst, rel);
  int r = lstat (p, st);
  free (p);
  return r == 0;
}

static void
assert_file (const char *rel, const char *content, mode_t mode, uid_t uid, gid_t gid)
{
  struct stat st;
  if (!lst (rel, &st))
    fail_msg ("%s missing in the destination", rel);
  cleanup_free char *c = slurp (rel);
  if (content && strcmp (c, content) != 0)
    fail_msg ("%s: content '%s', want '%s'", rel, c, content);
  if ((st.st_mode & 07777) != mode)
    fail_msg ("%s: mode %o, want %o", rel, st.st_mode & 07777, mode);
  if (geteuid () == 0 && (st.st_uid != uid || st.st_gid != gid))
    fail_msg ("%s: owner %u:%u, want %u:%u", rel, st.st_uid, st.st_gid, uid, gid);
}

static void
assert_absent (const char *rel)
{
  struct stat st;
  if (lst (rel, &st))
    fail_msg ("%s should not exist", rel);
}

static void
set_mtime (const char *root, const char *rel, time_t t)
{
  char *p = sw_xasprintf ("%s/%s", root, rel);
  struct timespec ts[2] = { { t, 123456789 }, { t, 123456789 } };
  assert_int_equal (utimensat (AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
  free (p);
}

static int
setup (void **state)
{
  strcpy (top, "/tmp/sw-copy.XXXXXX");
  assert_non_null (mkdtemp (top));
  snprintf (ctx, sizeof ctx, "%s/ctx", top);
  snprintf (dst, sizeof dst, "%s/root", top);
  sh ("mkdir -p %s %s", ctx, dst);
  ctx_fd = open (ctx, O_PATH | O_DIRECTORY | O_CLOEXEC);
  dst_fd = open (dst, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return 0;
}

static int
teardown (void **state)
{
  close (ctx_fd);
  close (dst_fd);
  sh ("rm -rf '%s'", top);
  return 0;
}

/* Run COPY (or ADD) src… dest with options; returns the error message or NULL. */
typedef struct
{
  bool add;
  const char *workdir, *chown, *chmod, *checksum;
  const char *excludes[8];
  bool parents;
  const sw_patterns *ignore;
  int src_fd; /* 0 = the context */
  bool stage;
  const sw_copy_heredoc *heredoc;
  int unpack;
  int user_fd; /* 0 = the destination */
} xo;

static char *
run (xo x, const char *dest, ...)
{
  const char *srcs[8];
  size_t n = 0;
  va_list ap;
  /* COPY gives every file an owner (0:0 by default): chown needs root.  Without it (make
   * check-unit as a user) the copying tests are skipped, the rest still run. */
  if (geteuid () != 0)
    skip ();
  va_start (ap, dest);
  for (const char *s; (s = va_arg (ap, const char *)) && n < 8;)
    srcs[n++] = s;
  va_end (ap);
  size_t ne = 0;
  while (ne < 8 && x.excludes[ne])
    ne++;
  sw_copy_opts o = {
    .add = x.add,
    .where = "Dockerfile:7",
    .src_root_fd = x.src_fd ? x.src_fd : ctx_fd,
    .ignore = x.ignore,
    .src_is_context = !x.stage,
    .dst_root_fd = dst_fd,
    .user_root_fd = x.user_fd ? x.user_fd : -1,
    .workdir = x.workdir,
    .srcs = srcs,
    .n_srcs = n,
    .heredocs = x.heredoc,
    .n_heredocs = x.heredoc ? 1 : 0,
    .dest = dest,
    .chown = x.chown,
    .chmod = x.chmod,
    .excludes = x.excludes,
    .n_excludes = ne,
    .parents = x.parents,
    .checksum = x.checksum,
    .unpack = x.unpack ? x.unpack : -1,
    .tmp_dir = top,
  };
  sw_error *err = NULL;
  if (sw_copy_run (&o, &err) == 0)
    return NULL;
  char *m = sw_xstrdup (sw_error_message (err));
  sw_error_free (err);
  return m;
}

#define OK(call)                                                                                  \
  do                                                                                              \
    {                                                                                             \
      char *_e = (call);                                                                          \
      if (_e)                                                                                     \
        fail_msg ("unexpected error: %s", _e);                                                    \
    }                                                                                             \
  while (0)

static void
expect_error (char *e, const char *needle)
{
  if (!e)
    fail_msg ("expected an error containing '%s'", needle);
  if (!strstr (e, needle))
    fail_msg ("error '%s' lacks '%s'", e, needle);
  free (e);
}

/* ---- destination rules ---- */

static void
file_into_dir_and_as_name (void **state)
{
  put (ctx, "a.txt", "A", 0640);
  if (geteuid () == 0)
    sh ("chown 1234:1234 %s/a.txt", ctx);
  set_mtime (ctx, "a.txt", 1600000000);
  OK (run ((xo) { 0 }, "/d1/", "a.txt", NULL));
  assert_file ("d1/a.txt", "A", 0640, 0, 0); /* context files arrive as 0:0 */
  struct stat st;
  assert_true (lst ("d1/a.txt", &st));
  assert_int_equal (st.st_mtim.tv_sec, 1600000000);
  assert_int_equal (st.st_mtim.tv_nsec, 123456789);
  assert_true (lst ("d1", &st));
  assert_int_equal (st.st_mode & 07777, 0755);

  OK (run ((xo) { 0 }, "/d2/sub/new", "a.txt", NULL)); /* no slash: the file is the dest */
  assert_file ("d2/sub/new", "A", 0640, 0, 0);
  OK (run ((xo) { 0 }, "/d1", "a.txt", NULL)); /* existing dir: goes inside */
  assert_file ("d1/a.txt", "A", 0640, 0, 0);
  /* relative to WORKDIR, "." and "" are the workdir itself */
  OK (run ((xo) { .workdir = "/app" }, ".", "a.txt", NULL));
  assert_file ("app/a.txt", "A", 0640, 0, 0);
  OK (run ((xo) { .workdir = "/app" }, "rel/", "a.txt", NULL));
  assert_file ("app/rel/a.txt", "A", 0640, 0, 0);
  /* a file never replaces a directory (an existing dir as the dest takes it inside) */
  sh ("mkdir -p %s/blocked/a.txt", dst);
  OK (run ((xo) { 0 }, "/blocked/a.txt", "a.txt", NULL));
  assert_file ("blocked/a.txt/a.txt", "A", 0640, 0, 0);
  expect_error (run ((xo) { 0 }, "/blocked/", "a.txt", NULL), "cannot replace to directory");
}

static void
directory_contents (void **state)
{
  put (ctx, "dir/x", "X", 0600);
  put (ctx, "dir/sub/y", "Y", 0644);
  sh ("chmod 0700 %s/dir && chmod 0750 %s/dir/sub", ctx, ctx);
  set_mtime (ctx, "dir/sub", 1500000000);
  set_mtime (ctx, "dir", 1400000000);
  OK (run ((xo) { 0 }, "/out", "dir", NULL));
  assert_file ("out/x", "X", 0600, 0, 0);
  assert_file ("out/sub/y", "Y", 0644, 0, 0);
  struct stat st;
  assert_true (lst ("out", &st));
  assert_int_equal (st.st_mode & 07777, 0755); /* made by MkdirAll, not the source's 0700 */
  assert_int_equal (st.st_mtim.tv_sec, 1400000000); /* but given the source's times */
  assert_true (lst ("out/sub", &st));
  assert_int_equal (st.st_mode & 07777, 0750);
  assert_int_equal (st.st_mtim.tv_sec, 1500000000);
  /* merging into an existing dir keeps what was there */
  put (dst, "out2/keep", "K", 0644);
  OK (run ((xo) { 0 }, "/out2/", "dir/", NULL));
  assert_file ("out2/keep", "K", 0644, 0, 0);
  assert_file ("out2/sub/y", "Y", 0644, 0, 0);
  /* copying a dir onto a file fails */
  put (dst, "afile", "F", 0644);
  expect_error (run ((xo) { 0 }, "/afile", "dir", NULL), "non-directory");
}

static void
wildcards_and_missing (void **state)
{
  put (ctx, "w/one.txt", "1", 0644);
  put (ctx, "w/two.txt", "2", 0644);
  put (ctx, "w/three.md", "3", 0644);
  put (ctx, "w/d1/in", "i", 0644);
  OK (run ((xo) { 0 }, "/wc/", "w/*.txt", NULL));
  assert_file ("wc/one.txt", "1", 0644, 0, 0);
  assert_file ("wc/two.txt", "2", 0644, 0, 0);
  assert_absent ("wc/three.md");
  /* a matched directory copies its contents, flat */
  OK (run ((xo) { 0 }, "/wd/", "w/d?", NULL));
  assert_file ("wd/in", "i", 0644, 0, 0);
  /* matching nothing is not an error (BuildKit's AllowEmptyWildcard) */
  OK (run ((xo) { 0 }, "/none/", "w/*.nothing", NULL));
  assert_absent ("none");
  /* a missing plain path is, with the line and the path */
  char *e = run ((xo) { 0 }, "/x/", "w/missing.txt", NULL);
  assert_non_null (e);
  assert_non_null (strstr (e, "Dockerfile:7: COPY:"));
  expect_error (e, "\"/w/missing.txt\": not found");
  expect_error (run ((xo) { 0 }, "/x/", "nodir/*.txt", NULL), "\"/nodir\": not found");
  /* several sources, destination without a slash: one after the other (BuildKit) */
  OK (run ((xo) { 0 }, "/multi", "w/one.txt", "w/two.txt", NULL));
  assert_file ("multi", "2", 0644, 0, 0);
  OK (run ((xo) { 0 }, "/multi2/", "w/one.txt", "w/three.md", NULL));
  assert_file ("multi2/one.txt", "1", 0644, 0, 0);
  assert_file ("multi2/three.md", "3", 0644, 0, 0);
}

static void
symlinks_and_hardlinks (void **state)
{
  put (ctx, "s/target.txt", "T", 0644);
  sh ("ln -s target.txt %s/s/link && ln -s /s/target.txt %s/toplink", ctx, ctx);
  sh ("ln -s /etc/passwd %s/escape", ctx);
  sh ("ln %s/s/target.txt %s/s/hard", ctx, ctx);
  /* named source symlink: followed, keeps its own name */
  OK (run ((xo) { 0 }, "/l/", "toplink", NULL));
  assert_file ("l/toplink", "T", 0644, 0, 0);
  /* inside a copied dir: copied as a symlink */
  OK (run ((xo) { 0 }, "/sd/", "s", NULL));
  struct stat st, st2;
  assert_true (lst ("sd/link", &st));
  assert_true (S_ISLNK (st.st_mode));
  char buf[64] = "";
  char *p = sw_xasprintf ("%s/sd/link", dst);
  assert_int_equal (readlink (p, buf, sizeof buf), 10);
  free (p);
  assert_string_equal (buf, "target.txt");
  /* hardlinks stay hardlinks */
  assert_true (lst ("sd/hard", &st));
  assert_true (lst ("sd/target.txt", &st2));
  assert_int_equal (st.st_ino, st2.st_ino);
  /* a symlink leading out of the context resolves inside it: not found */
  expect_error (run ((xo) { 0 }, "/x/", "escape", NULL), "not found");
}

static void
destination_symlinks_stay_inside (void **state)
{
  put (ctx, "in.txt", "I", 0644);
  char *outside = sw_xasprintf ("%s/outside", top);
  sh ("mkdir -p %s && ln -s ../../../../../../%s %s/evil && ln -s /abs %s/evil2", outside,
      outside + 1, dst, dst);
  OK (run ((xo) { 0 }, "/evil/", "in.txt", NULL));
  OK (run ((xo) { 0 }, "/evil2/", "in.txt", NULL));
  char *leak = sw_xasprintf ("%s/in.txt", outside);
  assert_int_not_equal (access (leak, F_OK), 0); /* nothing written outside the root */
  assert_file ("abs/in.txt", "I", 0644, 0, 0);  /* the absolute link resolved in the root */
  free (leak);
  free (outside);
}

static void
chown_and_chmod (void **state)
{
  put (dst, "etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1001:1002::/home/alice:/bin/sh\n",
       0644);
  put (dst, "etc/group", "root:x:0:\nstaff:x:50:\n", 0644);
  put (ctx, "o/f", "F", 0600);
  OK (run ((xo) { .chown = "1000" }, "/c1/new/", "o", NULL));
  assert_file ("c1/new/f", "F", 0600, 1000, 1000);
  struct stat st;
  assert_true (lst ("c1", &st));
  if (geteuid () == 0)
    assert_int_equal (st.st_uid, 1000); /* created parents get --chown too */
  OK (run ((xo) { .chown = "alice" }, "/c2/", "o/f", NULL));
  assert_file ("c2/f", "F", 0600, 1001, 1002);
  OK (run ((xo) { .chown = "alice:staff" }, "/c3/", "o/f", NULL));
  assert_file ("c3/f", "F", 0600, 1001, 50);
  OK (run ((xo) { .chown = "nobody-here" }, "/c4/", "o/f", NULL)); /* BuildKit: 0, no error */
  assert_file ("c4/f", "F", 0600, 0, 0);

  OK (run ((xo) { .chmod = "0751" }, "/m1/deep/", "o", NULL));
  assert_file ("m1/deep/f", "F", 0751, 0, 0);
  assert_true (lst ("m1", &st));
  assert_int_equal (st.st_mode & 07777, 0751); /* BuildKit makes parents with the octal mode */
  OK (run ((xo) { .chmod = "u+x,g=u,o-rwx" }, "/m2/", "o/f", NULL));
  assert_file ("m2/f", "F", 0770, 0, 0);
  OK (run ((xo) { .chmod = "a+X" }, "/m3/", "o/f", NULL)); /* X: no exec bit, not a dir */
  assert_file ("m3/f", "F", 0600, 0, 0);
  OK (run ((xo) { .chmod = "4755" }, "/m4/", "o/f", NULL));
  assert_file ("m4/f", "F", 04755, 0, 0);
  expect_error (run ((xo) { .chmod = "999" }, "/m5/", "o/f", NULL), "invalid chmod parameter");
  expect_error (run ((xo) { .chmod = "u+q" }, "/m5/", "o/f", NULL), "--chmod");
  assert_false (sw_copy_link_applies (true, "0644"));
  assert_true (sw_copy_link_applies (true, NULL));
}

static void
from_stage_keeps_owner (void **state)
{
  char *stage = sw_xasprintf ("%s/stage", top);
  put (stage, "bin/tool", "T", 0755);
  if (geteuid () == 0)
    sh ("chown 42:43 %s/bin/tool", stage);
  int sfd = open (stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
  OK (run ((xo) { .src_fd = sfd, .stage = true }, "/usr/local/bin/", "/bin/tool", NULL));
  assert_file ("usr/local/bin/tool", "T", 0755, 42, 43);
  close (sfd);
  free (stage);
}

static void
exclude_and_parents (void **state)
{
  put (ctx, "p/a/b/c.txt", "C", 0644);
  put (ctx, "p/a/b/d.log", "D", 0644);
  put (ctx, "p/a/e.txt", "E", 0644);
  /* `*` does not cross directories: "*.log" leaves a/b/d.log alone (as BuildKit) */
  OK (run ((xo) { .excludes = { "*.log" } }, "/ex0/", "p", NULL));
  assert_file ("ex0/a/b/d.log", "D", 0644, 0, 0);
  OK (run ((xo) { .excludes = { "**/*.log", "**/e.txt" } }, "/ex/", "p", NULL));
  assert_file ("ex/a/b/c.txt", "C", 0644, 0, 0);
  assert_absent ("ex/a/b/d.log");
  assert_absent ("ex/a/e.txt");
  OK (run ((xo) { .excludes = { "a/b" } }, "/ex2/", "p", NULL));
  assert_absent ("ex2/a/b");
  assert_file ("ex2/a/e.txt", "E", 0644, 0, 0);

  OK (run ((xo) { .parents = true }, "/par/", "p/a/b/c.txt", NULL));
  assert_file ("par/p/a/b/c.txt", "C", 0644, 0, 0);
  assert_absent ("par/p/a/e.txt");
  OK (run ((xo) { .parents = true }, "/piv/", "p/./a/b/c.txt", NULL));
  assert_file ("piv/a/b/c.txt", "C", 0644, 0, 0);
  OK (run ((xo) { .parents = true }, "/pw/", "p/a/*/*.txt", NULL));
  assert_file ("pw/p/a/b/c.txt", "C", 0644, 0, 0);
  assert_absent ("pw/p/a/b/d.log");
  expect_error (run ((xo) { .parents = true }, "/pm/", "p/nope.txt", NULL), "not found");
}

static void
dockerignore_applies (void **state)
{
  put (ctx, "ig/keep.txt", "K", 0644);
  put (ctx, "ig/drop.log", "D", 0644);
  put (ctx, "ig/logs/important.log", "I", 0644);
  put (ctx, "ig/logs/other.log", "O", 0644);
  const char *text = "ig/*.log\nig/logs\n!ig/logs/important.log\n";
  sw_patterns *pm = NULL;
  assert_int_equal (sw_dockerignore_parse (text, strlen (text), ".dockerignore", &pm, NULL), 0);
  OK (run ((xo) { .ignore = pm }, "/ig/", "ig", NULL));
  assert_file ("ig/keep.txt", "K", 0644, 0, 0);
  assert_absent ("ig/drop.log");
  assert_file ("ig/logs/important.log", "I", 0644, 0, 0);
  assert_absent ("ig/logs/other.log");
  expect_error (run ((xo) { .ignore = pm }, "/x/", "ig/drop.log", NULL), "excluded by .dockerignore");
  OK (run ((xo) { .ignore = pm }, "/ig2/", "ig/*", NULL)); /* wildcards skip ignored files */
  assert_absent ("ig2/drop.log");
  assert_file ("ig2/keep.txt", "K", 0644, 0, 0);
  sw_patterns_free (pm);
}

static void
heredocs (void **state)
{
  sw_copy_heredoc h = { "EOF", "hello\nworld\n", 12 };
  OK (run ((xo) { .heredoc = &h }, "/h/", NULL));
  assert_file ("h/EOF", "hello\nworld\n", 0644, 0, 0);
  OK (run ((xo) { .heredoc = &h }, "/h/named.sh", NULL));
  assert_file ("h/named.sh", "hello\nworld\n", 0644, 0, 0);
  OK (run ((xo) { .heredoc = &h, .chmod = "755", .chown = "7:8" }, "/h2/", NULL));
  assert_file ("h2/EOF", "hello\nworld\n", 0755, 7, 8);
}

/* ---- ADD ---- */

static void
add_archives (void **state)
{
  put (top, "src/t/file.txt", "in tar", 0640);
  put (top, "src/t/sub/n.txt", "nested", 0600);
  sh ("cd %s/src && tar --owner=1234 --group=4321 --numeric-owner -cf %s/arch.tar t", top, ctx);
  sh ("cd %s && gzip -c arch.tar > arch.tgz && bzip2 -c arch.tar > arch.tbz && xz -c arch.tar > "
      "arch.txz && zstd -q -c arch.tar > arch.tzst && cp arch.tgz not-a-tar-name",
      ctx);
  const char *names[] = { "arch.tar", "arch.tgz", "arch.tbz", "arch.txz", "arch.tzst",
                          "not-a-tar-name" };
  for (size_t i = 0; i < 6; i++)
    {
      char *d = sw_xasprintf ("/x%zu", i); /* no slash: still a directory to unpack into */
      OK (run ((xo) { .add = true }, d, names[i], NULL));
      char *f = sw_xasprintf ("x%zu/t/file.txt", i);
      char *n = sw_xasprintf ("x%zu/t/sub/n.txt", i);
      assert_file (f, "in tar", 0640, 1234, 4321);
      assert_file (n, "nested", 0600, 1234, 4321);
      free (d);
      free (f);
      free (n);
    }
  /* --chown overrides the archive's owners */
  OK (run ((xo) { .add = true, .chown = "5:6" }, "/xc/", "arch.tgz", NULL));
  assert_file ("xc/t/file.txt", "in tar", 0640, 5, 6);
  /* COPY never unpacks */
  OK (run ((xo) { 0 }, "/cp/", "arch.tgz", NULL));
  struct stat st;
  assert_true (lst ("cp/arch.tgz", &st));
  assert_true (S_ISREG (st.st_mode));
  /* a non-archive is copied as a file */
  put (ctx, "plain.gz", "not gzip", 0644);
  OK (run ((xo) { .add = true }, "/pl/", "plain.gz", NULL));
  assert_file ("pl/plain.gz", "not gzip", 0644, 0, 0);
}

static void
add_archive_escapes (void **state)
{
  sh ("cd %s && python3 - <<'EOF'\n"
      "import tarfile, io\n"
      "def mk(name, entries):\n"
      "    with tarfile.open(name, 'w') as t:\n"
      "        for e in entries: t.addfile(e[0], e[1])\n"
      "i = tarfile.TarInfo('../evil.txt'); i.size = 1\n"
      "mk('dotdot.tar', [(i, io.BytesIO(b'x'))])\n"
      "l = tarfile.TarInfo('up'); l.type = tarfile.SYMTYPE; l.linkname = '../../../etc'\n"
      "mk('symup.tar', [(l, None)])\n"
      "a = tarfile.TarInfo('abs'); a.type = tarfile.SYMTYPE; a.linkname = '/'\n"
      "f = tarfile.TarInfo('abs/through.txt'); f.size = 1\n"
      "mk('through.tar', [(a, None), (f, io.BytesIO(b'y'))])\n"
      "h = tarfile.TarInfo('hl'); h.type = tarfile.LNKTYPE; h.linkname = '../../etc/passwd'\n"
      "mk('hardup.tar', [(h, None)])\n"
      "i = tarfile.TarInfo('a/../../evil2.txt'); i.size = 1\n"
      "mk('dotdot2.tar', [(i, io.BytesIO(b'x'))])\n"
      "c = tarfile.TarInfo('a/../clean.txt'); c.size = 1\n"
      "w = tarfile.TarInfo('d/.wh.hidden'); w.size = 2\n"
      "o = tarfile.TarInfo('d/.wh..wh..opq'); o.size = 0\n"
      "mk('names.tar', [(c, io.BytesIO(b'c')), (w, io.BytesIO(b'wh')), (o, io.BytesIO(b''))])\n"
      "EOF",
      ctx);
  expect_error (run ((xo) { .add = true }, "/t1/", "dotdot.tar", NULL), "outside");
  expect_error (run ((xo) { .add = true }, "/t1b/", "dotdot2.tar", NULL), "outside");
  expect_error (run ((xo) { .add = true }, "/t1c/", "hardup.tar", NULL), "outside");
  /* a symlink's target is data: one pointing above the root is stored as written (as
   * BuildKit does), and nothing is written outside the destination */
  OK (run ((xo) { .add = true }, "/t2/", "symup.tar", NULL));
  char link[256];
  char *lp = sw_xasprintf ("%s/t2/up", dst);
  ssize_t ln = readlink (lp, link, sizeof link - 1);
  free (lp);
  assert_true (ln > 0);
  link[ln] = 0;
  assert_string_equal (link, "../../../etc");
  /* names as moby's Untar cleans them; .wh. names are ordinary files in an ADDed archive;
   * an existing directory is merged into */
  put (dst, "t4/d/kept", "k", 0644);
  OK (run ((xo) { .add = true }, "/t4/", "names.tar", NULL));
  assert_file ("t4/clean.txt", "c", 0644, 0, 0);
  assert_file ("t4/d/.wh.hidden", "wh", 0644, 0, 0);
  assert_file ("t4/d/.wh..wh..opq", "", 0644, 0, 0);
  assert_file ("t4/d/kept", "k", 0644, 0, 0);
  /* an absolute symlink is allowed, and writing through it stays in the destination */
  OK (run ((xo) { .add = true }, "/t3/", "through.tar", NULL));
  assert_file ("t3/through.txt", "y", 0644, 0, 0);
  char *out = sw_xasprintf ("%s/through.txt", dst);
  (void) out;
  free (out);
}

static pid_t server_pid = -1;

static int
start_server (const char *dir)
{
  char *portfile = sw_xasprintf ("%s/port", top);
  server_pid = fork ();
  if (server_pid == 0)
    {
      if (chdir (dir) < 0)
        _exit (1);
      execlp ("python3", "python3", "-c",
              "import http.server, socketserver, sys\n"
              "class H(http.server.SimpleHTTPRequestHandler):\n"
              "    def log_message(self, *a): pass\n"
              "s = socketserver.TCPServer(('127.0.0.1', 0), H)\n"
              "open(sys.argv[1], 'w').write(str(s.server_address[1]))\n"
              "s.serve_forever()\n",
              portfile, (char *) NULL);
      _exit (127);
    }
  int port = 0;
  for (int i = 0; i < 100 && port == 0; i++)
    {
      usleep (50000);
      FILE *f = fopen (portfile, "r");
      if (f)
        {
          if (fscanf (f, "%d", &port) != 1)
            port = 0;
          fclose (f);
        }
    }
  free (portfile);
  return port;
}

static void
add_urls (void **state)
{
  if (geteuid () != 0)
    skip (); /* before the server starts: a skip later would leave it running */
  char *www = sw_xasprintf ("%s/www", top);
  put (www, "dl/tool.sh", "#!/bin/sh\necho hi\n", 0755);
  set_mtime (www, "dl/tool.sh", 1650000000);
  sh ("cd %s/dl && tar -czf pkg.tgz tool.sh", www);
  int port = start_server (www);
  if (port == 0)
    {
      kill (server_pid, SIGKILL);
      waitpid (server_pid, NULL, 0);
      skip ();
    }
  char *url = sw_xasprintf ("http://127.0.0.1:%d/dl/tool.sh", port);
  OK (run ((xo) { .add = true }, "/u/", url, NULL));
  assert_file ("u/tool.sh", "#!/bin/sh\necho hi\n", 0600, 0, 0);
  struct stat st;
  assert_true (lst ("u/tool.sh", &st));
  assert_int_equal (st.st_mtim.tv_sec, 1650000000); /* from Last-Modified */
  OK (run ((xo) { .add = true, .chmod = "755" }, "/u/renamed", url, NULL));
  assert_file ("u/renamed", "#!/bin/sh\necho hi\n", 0755, 0, 0);
  const char *good = "sha256:a5a8b4cc1f8a5b46b6ee5b80ba1ed2d6a4be2f3f38b4e0e8a58d1b3cc2d7f6e9";
  /* compute the real digest with openssl(1) to have a good one */
  char *cmd = sw_xasprintf ("sha256sum %s/dl/tool.sh | cut -c1-64 > %s/sum", www, top);
  sh ("%s", cmd);
  free (cmd);
  char *sumf = sw_xasprintf ("%s/sum", top);
  FILE *f = fopen (sumf, "r");
  char hex[80] = "";
  assert_int_equal (fscanf (f, "%64s", hex), 1);
  fclose (f);
  free (sumf);
  char *right = sw_xasprintf ("sha256:%s", hex);
  OK (run ((xo) { .add = true, .checksum = right }, "/u2/", url, NULL));
  assert_file ("u2/tool.sh", NULL, 0600, 0, 0);
  expect_error (run ((xo) { .add = true, .checksum = good }, "/u3/", url, NULL), "digest mismatch");
  assert_absent ("u3/tool.sh");
  expect_error (run ((xo) { .add = true, .checksum = "md5:abc" }, "/u3/", url, NULL),
                "invalid checksum");
  expect_error (run ((xo) { .checksum = right }, "/u3/", url, NULL), "COPY");
  char *missing = sw_xasprintf ("http://127.0.0.1:%d/nope", port);
  expect_error (run ((xo) { .add = true }, "/u4/", missing, NULL), "invalid response status 404");
  /* URL archives are not unpacked unless --unpack */
  char *tgz = sw_xasprintf ("http://127.0.0.1:%d/dl/pkg.tgz", port);
  OK (run ((xo) { .add = true }, "/u5/", tgz, NULL));
  assert_file ("u5/pkg.tgz", NULL, 0600, 0, 0);
  OK (run ((xo) { .add = true, .unpack = 1 }, "/u6/", tgz, NULL));
  assert_file ("u6/tool.sh", "#!/bin/sh\necho hi\n", 0755, 0, 0);
  expect_error (run ((xo) { 0 }, "/u7/", url, NULL), "source can't be a URL for COPY");
  expect_error (run ((xo) { .add = true }, "/g/", "https://github.com/moby/buildkit.git#v0.1", NULL),
                "not supported yet");
  kill (server_pid, SIGTERM);
  waitpid (server_pid, NULL, 0);
  free (tgz);
  free (missing);
  free (right);
  free (url);
  free (www);
}

static void
url_filenames (void **state)
{
  static const char *cases[][2] = {
    { "https://example.com/a/b/tool.tar.gz?x=1#f", "tool.tar.gz" },
    { "https://example.com/", "__unnamed__" },
    { "https://example.com", "__unnamed__" },
    { "http://h/dir/my%20file.txt", "my file.txt" },
  };
  for (size_t i = 0; i < 4; i++)
    {
      cleanup_free char *n = sw_add_url_filename (cases[i][0]);
      assert_string_equal (n, cases[i][1]);
    }
}

static void
history_text (void **state)
{
  const char *srcs[] = { "a", "b" };
  sw_copy_opts o = { .add = false, .srcs = srcs, .n_srcs = 2, .dest = "/d/", .chown = "1:2",
                     .chmod = "644", .parents = true };
  cleanup_free char *h = sw_copy_history (&o);
  assert_string_equal (h, "COPY --parents --chown=1:2 --chmod=644 a b /d/");
}

static void
context_root_and_specials (void **state)
{
  put (ctx, "r/f.txt", "F", 0644);
  put (ctx, "Dockerfile", "FROM scratch\n", 0644);
  sh ("mkfifo %s/r/fifo && mkdir %s/r/sub", ctx, ctx);
  char *fx = sw_xasprintf ("%s/r/f.txt", ctx), *dx = sw_xasprintf ("%s/r/sub", ctx);
  bool xattrs = lsetxattr (fx, "user.note", "hello", 5, 0) == 0;
  if (xattrs)
    assert_int_equal (lsetxattr (dx, "user.overlay.opaque", "y", 1, 0), 0);
  else
    assert_int_equal (errno, ENOTSUP); /* only a file system without user xattrs may skip */
  free (fx);
  free (dx);
  OK (run ((xo) { .workdir = "/app" }, ".", ".", NULL));
  assert_file ("app/r/f.txt", "F", 0644, 0, 0);
  assert_file ("app/Dockerfile", "FROM scratch\n", 0644, 0, 0);
  struct stat st;
  assert_true (lst ("app/r/fifo", &st));
  assert_true (S_ISFIFO (st.st_mode));
  if (xattrs)
    {
      char v[16] = "";
      char *p = sw_xasprintf ("%s/app/r/f.txt", dst);
      assert_int_equal (lgetxattr (p, "user.note", v, sizeof v), 5);
      assert_string_equal (v, "hello");
      free (p);
      /* overlayfs's private xattrs are never carried over */
      p = sw_xasprintf ("%s/app/r/sub", dst);
      assert_true (lgetxattr (p, "user.overlay.opaque", v, sizeof v) < 0);
      free (p);
    }
  /* no special case for the Dockerfile: .dockerignore can exclude it (as BuildKit) */
  const char *text = "Dockerfile\n";
  sw_patterns *pm = NULL;
  assert_int_equal (sw_dockerignore_parse (text, strlen (text), ".dockerignore", &pm, NULL), 0);
  OK (run ((xo) { .ignore = pm }, "/all/", ".", NULL));
  assert_absent ("all/Dockerfile");
  assert_file ("all/r/f.txt", "F", 0644, 0, 0);
  expect_error (run ((xo) { .ignore = pm }, "/x/", "Dockerfile", NULL), "excluded by .dockerignore");
  sw_patterns_free (pm);
}

/* Symbolic --chmod against chmod(1) with a zero umask, on files and directories. */
static void
symbolic_modes_match_chmod (void **state)
{
  /* BuildKit's setmode port honours X only after "+": "a=rX" on a directory is 0444
   * there (chmod(1) says 0555), so that one is checked alone. */
  sw_copy_mode m0;
  assert_int_equal (sw_copy_mode_parse ("a=rX", &m0, NULL), 0);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFDIR | 0644), 0444);
  sw_copy_mode_clear (&m0);
  /* and X looks at the mode before the change (chmod(1): after the "a=r") */
  assert_int_equal (sw_copy_mode_parse ("a=r,a+X", &m0, NULL), 0);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFREG | 0755), 0555);
  sw_copy_mode_clear (&m0);
  static const char *modes[] = { "u+x", "g-w", "o=r", "a+X", "u=rwx,go=rx", "go=u-w", "+X",
                                 "a-x,u+s", "=rw", "g+s,+t", "u=g", "o-rwx,g=o", "a+rwx",
                                 "ug+w,o-r", "=" };
  /* "go=u" copies rwx only: a set-gid bit survives (setmode), chmod(1) drops it */
  assert_int_equal (sw_copy_mode_parse ("go=u-w", &m0, NULL), 0);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFREG | 02700), 02755);
  sw_copy_mode_clear (&m0);
  /* the documented example: "=rw,+X" keeps the execute bits the file had */
  assert_int_equal (sw_copy_mode_parse ("=rw,+X", &m0, NULL), 0);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFREG | 0755), 0777);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFREG | 0644), 0666);
  sw_copy_mode_clear (&m0);
  /* "o+t": setmode ignores s and t for "o" alone */
  assert_int_equal (sw_copy_mode_parse ("o+t", &m0, NULL), 0);
  assert_int_equal (sw_copy_mode_apply (&m0, S_IFDIR | 0755), 0755);
  sw_copy_mode_clear (&m0);
  static const mode_t starts[] = { 0644, 0755, 0600, 0751, 0070 };
  char *f = sw_xasprintf ("%s/mf", top), *d = sw_xasprintf ("%s/md", top);
  sh ("touch %s && mkdir -p %s", f, d);
  mode_t old = umask (0);
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    for (size_t j = 0; j < sizeof starts / sizeof starts[0]; j++)
      for (int isdir = 0; isdir < 2; isdir++)
        {
          const char *path = isdir ? d : f;
          assert_int_equal (chmod (path, starts[j]), 0);
          char *cmd = sw_xasprintf ("chmod %s %s", modes[i], path);
          assert_int_equal (system (cmd), 0);
          free (cmd);
          struct stat st;
          assert_int_equal (stat (path, &st), 0);
          sw_copy_mode m;
          assert_int_equal (sw_copy_mode_parse (modes[i], &m, NULL), 0);
          mode_t got = sw_copy_mode_apply (&m, (isdir ? S_IFDIR : S_IFREG) | starts[j]);
          sw_copy_mode_clear (&m);
          /* GNU chmod keeps a directory's set-gid bit unless told otherwise; BSD's
           * setmode (BuildKit's) clears it with "=": compare without it there. */
          mode_t want = st.st_mode & 07777;
          if (isdir && (starts[j] & S_ISGID) && !strchr (modes[i], 's'))
            want &= ~S_ISGID, got &= ~S_ISGID;
          if (got != want)
            fail_msg ("chmod %s on %s %o: got %o, chmod(1) gives %o", modes[i],
                      isdir ? "dir" : "file", starts[j], got, want);
        }
  umask (old);
  free (f);
  free (d);
}

/* BuildKit's own --exclude integration test (frontend/dockerfile/exclude_patterns_test.go),
 * same tree, same Dockerfile lines, same expectations. */
static void
buildkit_exclude_cases (void **state)
{
  sh ("cd %s && mkdir dir1 dir2 dir3 dir4 && printf 2 > dir1/file-101.png && printf 3 > "
      "dir1/file-102.txt && printf 4 > dir1/file-103.jpeg && printf 6 > dir2/file-201.pdf && "
      "printf 7 > dir2/file-202.jpeg && printf 8 > dir2/file-203.png && printf 9 > "
      "dir3/file-301.mp3 && printf 10 > dir3/file-302.mpeg && printf 11 > dir4/file-401.txt && "
      "ln -s file-401.txt dir4/file-402.txt && ln -s file-404.txt dir4/file-403.txt",
      ctx);
  OK (run ((xo) { .excludes = { "*/*.png", "*/*.jpeg" } }, "/1", ".", NULL));
  OK (run ((xo) { .excludes = { "*/*.pdf", "*/*.txt" } }, "/2", ".", NULL));
  OK (run ((xo) { .add = true, .excludes = { "*.mp3" } }, "/3/", "dir3/", NULL));
  OK (run ((xo) { .excludes = { "*.mp3", "*.jpeg", "*.png", "*.pdf", "*.txt" } }, "/4/", "dir*",
           NULL));
  OK (run ((xo) { .add = true, .excludes = { "*.mp*", "*.jpeg", "*.png", "*.pdf" } }, "/5",
           "dir*", NULL));
  OK (run ((xo) { .add = true, .excludes = { "*" } }, "/6", "dir*", NULL));
  static const struct
  {
    const char *f, *content; /* NULL: excluded */
  } want[] = {
    { "1/dir1/file-101.png", NULL },  { "1/dir1/file-102.txt", "3" },
    { "1/dir1/file-103.jpeg", NULL }, { "1/dir2/file-201.pdf", "6" },
    { "1/dir2/file-202.jpeg", NULL }, { "1/dir2/file-203.png", NULL },
    { "1/dir3/file-301.mp3", "9" },   { "1/dir3/file-302.mpeg", "10" },
    { "1/dir4/file-401.txt", "11" },  { "1/dir4/file-402.txt", "@file-401.txt" },
    { "1/dir4/file-403.txt", "@file-404.txt" },
    { "2/dir1/file-101.png", "2" },   { "2/dir1/file-102.txt", NULL },
    { "2/dir1/file-103.jpeg", "4" },  { "2/dir2/file-201.pdf", NULL },
    { "2/dir2/file-202.jpeg", "7" },  { "2/dir2/file-203.png", "8" },
    { "2/dir3/file-301.mp3", "9" },   { "2/dir3/file-302.mpeg", "10" },
    { "2/dir4/file-401.txt", NULL },  { "2/dir4/file-402.txt", NULL },
    { "2/dir4/file-403.txt", NULL },
    { "3/file-301.mp3", NULL },       { "3/file-302.mpeg", "10" },
    { "4/file-101.png", NULL },       { "4/file-102.txt", NULL },
    { "4/file-103.jpeg", NULL },      { "4/file-201.pdf", NULL },
    { "4/file-301.mp3", NULL },       { "4/file-302.mpeg", "10" },
    { "4/dir4/file-401.txt", NULL },  { "4/file-401.txt", NULL },
    { "5/file-101.png", NULL },       { "5/file-102.txt", "3" },
    { "5/file-302.mpeg", NULL },      { "5/file-301.mp3", NULL },
    { "5/file-401.txt", "11" },       { "5/file-402.txt", "@file-401.txt" },
    { "5/file-403.txt", "@file-404.txt" },
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    {
      struct stat st;
      if (!want[i].content)
        {
          assert_absent (want[i].f);
          continue;
        }
      if (!lst (want[i].f, &st))
        fail_msg ("%s should exist", want[i].f);
      if (want[i].content[0] == '@')
        {
          char buf[64] = "";
          char *p = sw_xasprintf ("%s/%s", dst, want[i].f);
          assert_true (readlink (p, buf, sizeof buf) > 0);
          free (p);
          assert_string_equal (buf, want[i].content + 1);
        }
      else
        {
          cleanup_free char *c = slurp (want[i].f);
          assert_string_equal (c, want[i].content);
        }
    }
  struct stat st;
  assert_true (lst ("6", &st) && S_ISDIR (st.st_mode));
  char *six = sw_xasprintf ("rmdir %s/6", dst); /* fails unless empty */
  assert_int_equal (system (six), 0);
  free (six);
}

/* --link: the engine hands an empty upper as the destination and the stage's rootfs for
 * --chown names. */
static void
link_into_empty_upper (void **state)
{
  char *base = sw_xasprintf ("%s/base", top);
  put (base, "etc/passwd", "alice:x:1001:1002::/:/bin/sh\n", 0644);
  sh ("mkdir -p %s/usr/bin", base);
  put (ctx, "tool", "T", 0755);
  int bfd = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
  OK (run ((xo) { .user_fd = bfd, .chown = "alice" }, "/usr/bin", "tool", NULL));
  /* in the empty upper /usr/bin does not exist: the file is /usr/bin itself (BuildKit) */
  assert_file ("usr/bin", "T", 0755, 1001, 1002);
  assert_absent ("etc/passwd");
  close (bfd);
  free (base);
}

static void
context_open (void **state)
{
  put (ctx, ".dockerignore", "secret*\n", 0644);
  put (ctx, "secret.key", "S", 0600);
  put (ctx, "ok.txt", "O", 0644);
  sw_context *c = NULL;
  assert_int_equal (sw_context_open (ctx, NULL, &c, NULL), 0);
  assert_non_null (c->ignore);
  const char *srcs[] = { "secret.key" };
  sw_copy_opts o = { .dst_root_fd = dst_fd, .user_root_fd = -1, .srcs = srcs, .n_srcs = 1,
                     .dest = "/x/", .where = "Dockerfile:3" };
  sw_context_as_source (c, &o);
  sw_error *err = NULL;
  assert_int_equal (sw_copy_run (&o, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "Dockerfile:3: COPY: \"/secret.key\""));
  assert_non_null (strstr (sw_error_message (err), ".dockerignore"));
  sw_error_free (err);
  sw_context_free (c);

  err = NULL;
  char *missing = sw_xasprintf ("%s/nope", top);
  assert_int_equal (sw_context_open (missing, NULL, &c, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "not found"));
  sw_error_free (err);
  free (missing);
  /* an ignore file that cannot be parsed is an error naming it */
  put (ctx, ".dockerignore", "ok\n!\n", 0644);
  err = NULL;
  assert_int_equal (sw_context_open (ctx, NULL, &c, &err), -1);
  assert_non_null (strstr (sw_error_message (err), ".dockerignore"));
  sw_error_free (err);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (file_into_dir_and_as_name, setup, teardown),
    cmocka_unit_test_setup_teardown (directory_contents, setup, teardown),
    cmocka_unit_test_setup_teardown (wildcards_and_missing, setup, teardown),
    cmocka_unit_test_setup_teardown (symlinks_and_hardlinks, setup, teardown),
    cmocka_unit_test_setup_teardown (destination_symlinks_stay_inside, setup, teardown),
    cmocka_unit_test_setup_teardown (chown_and_chmod, setup, teardown),
    cmocka_unit_test_setup_teardown (from_stage_keeps_owner, setup, teardown),
    cmocka_unit_test_setup_teardown (exclude_and_parents, setup, teardown),
    cmocka_unit_test_setup_teardown (dockerignore_applies, setup, teardown),
    cmocka_unit_test_setup_teardown (heredocs, setup, teardown),
    cmocka_unit_test_setup_teardown (add_archives, setup, teardown),
    cmocka_unit_test_setup_teardown (add_archive_escapes, setup, teardown),
    cmocka_unit_test_setup_teardown (add_urls, setup, teardown),
    cmocka_unit_test_setup_teardown (context_root_and_specials, setup, teardown),
    cmocka_unit_test_setup_teardown (symbolic_modes_match_chmod, setup, teardown),
    cmocka_unit_test_setup_teardown (buildkit_exclude_cases, setup, teardown),
    cmocka_unit_test_setup_teardown (link_into_empty_upper, setup, teardown),
    cmocka_unit_test_setup_teardown (context_open, setup, teardown),
    cmocka_unit_test (url_filenames),
    cmocka_unit_test (history_text),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
