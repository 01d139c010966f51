/* copy/copy.c — one COPY or ADD instruction: the destination rules of dockerfile2llb,
 * the source kinds (paths and wildcards, URLs, heredocs), the FileOp backend's loop over
 * matched sources (docopy), then copy/copy_tree.c for each. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/path.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "copy/add.h"
#include "copy/copy.h"
#include "copy/copy_int.h"

static const char *
cmd_name (const sw_copy_opts *o)
{
  return o->add ? "ADD" : "COPY";
}

static int
fail (const sw_copy_opts *o, sw_error **err)
{
  if (o->where && *o->where)
    return sw_error_wrap (err, "%s: %s", o->where, cmd_name (o));
  return sw_error_wrap (err, "%s", cmd_name (o));
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  return a >= b && strcmp (s + a - b, suffix) == 0;
}

/* NormalizePath(parent, p, keepSlash): join, clean, keep a trailing "/" or "/.". */
static char *
normalize (const char *parent, const char *p, bool keep_slash)
{
  cleanup_free char *j
      = p[0] == '/' ? sw_path_clean (p) : sw_copy_join (parent ? parent : "/", p);
  if (!keep_slash)
    return steal_pointer (&j);
  if (ends_with (p, "/") && !ends_with (j, "/"))
    return sw_xasprintf ("%s/", j);
  if (ends_with (p, "/."))
    return sw_xasprintf ("%s%s.", j, strcmp (j, "/") ? "/" : "");
  return steal_pointer (&j);
}

/* pathRelativeToWorkingDir */
static char *
dest_path (const sw_copy_opts *o)
{
  const char *d = o->dest ? o->dest : "";
  if (strcmp (d, ".") == 0 || *d == '\0')
    d = "./";
  return normalize (o->workdir, d, true);
}

bool
sw_copy_link_applies (bool link, const char *chmod)
{
  return link && (!chmod || !*chmod);
}

int
sw_copy_check (const sw_copy_opts *o, sw_error **err)
{
  sw_copy_mode m;
  if (sw_copy_mode_parse (o->chmod, &m, err) < 0)
    return fail (o, err);
  sw_copy_mode_clear (&m);
  for (size_t i = 0; i < o->n_srcs; i++)
    {
      const char *s = o->srcs[i];
      if (sw_add_is_git (s))
        {
          if (!o->add)
            sw_error_make (err, EINVAL, "source can't be a git ref for COPY: %s", s);
          else
            sw_error_make (err, ENOTSUP, "not supported yet: ADD of a git repository (%s)", s);
          return fail (o, err);
        }
      if (sw_add_is_http (s) && !o->add)
        {
          sw_error_make (err, EINVAL, "source can't be a URL for COPY: %s (use ADD, or curl in a RUN)",
                         s);
          return fail (o, err);
        }
    }
  if (o->checksum && *o->checksum)
    {
      if (!o->add)
        sw_error_make (err, EINVAL, "checksum can't be specified for COPY");
      else if (o->n_srcs + o->n_heredocs != 1)
        sw_error_make (err, EINVAL, "checksum can't be specified for multiple sources");
      else if (o->n_srcs != 1 || !sw_add_is_http (o->srcs[0]))
        sw_error_make (err, EINVAL, "checksum requires HTTP(S) or Git sources");
      else if (sw_add_checksum_check (o->checksum, err) == 0)
        return 0;
      return fail (o, err);
    }
  if (o->n_excludes)
    {
      sw_patterns *pm = NULL;
      if (sw_patterns_new (o->excludes, o->n_excludes, &pm, err) < 0)
        {
          sw_error_wrap (err, "invalid --exclude");
          return fail (o, err);
        }
      sw_patterns_free (pm);
    }
  return 0;
}

char *
sw_copy_history (const sw_copy_opts *o)
{
  sw_buf b = SW_BUF_INIT;
  sw_buf_puts (&b, cmd_name (o));
  if (o->parents)
    sw_buf_puts (&b, " --parents");
  if (o->chown && *o->chown)
    sw_buf_printf (&b, " --chown=%s", o->chown);
  if (o->chmod && *o->chmod)
    sw_buf_printf (&b, " --chmod=%s", o->chmod);
  for (size_t i = 0; i < o->n_srcs; i++)
    sw_buf_printf (&b, " %s", o->srcs[i]);
  for (size_t i = 0; i < o->n_heredocs; i++)
    sw_buf_printf (&b, " <<%s", o->heredocs[i].name);
  sw_buf_printf (&b, " %s", o->dest ? o->dest : "");
  return sw_buf_steal (&b);
}

/* ---- sources ----------------------------------------------------------------- */

/* Is the (resolved) path absent from the build context because of .dockerignore? */
static int
ignored (const sw_copy_opts *o, const char *path, bool is_dir, bool *out, sw_error **err)
{
  *out = false;
  if (!o->ignore || strcmp (path, "/") == 0)
    return 0;
  bool m;
  if (sw_patterns_match (o->ignore, path + 1, NULL, NULL, &m, err) < 0)
    return -1;
  /* an ignored directory still arrives when an exception may bring a child back */
  *out = m && !(is_dir && sw_patterns_has_exceptions (o->ignore));
  return 0;
}

static int
not_found (const sw_copy_opts *o, const char *path, bool because_ignored, sw_error **err)
{
  if (because_ignored)
    return sw_error_make (err, ENOENT,
                          "\"%s\": not found: it is excluded by .dockerignore (remove the "
                          "pattern that matches it, or add a !exception)",
                          path);
  return sw_error_make (err, ENOENT, "\"%s\": not found in the %s (check the path: sources are "
                        "relative to it, not to WORKDIR)",
                        path, o->src_desc ? o->src_desc : "build context");
}

/* Look a resolved path up: 1 present, 0 absent. */
static int
lookup (const sw_copy_opts *o, const char *resolved, struct stat *st, bool *is_ignored,
        sw_error **err)
{
  *is_ignored = false;
  cleanup_close int fd = sw_open_in_root (o->src_root_fd, resolved, O_PATH | O_NOFOLLOW, 0);
  if (fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return 0;
      return sw_error_errno (err, "stat %s", resolved);
    }
  if (fstat (fd, st) < 0)
    return sw_error_errno (err, "stat %s", resolved);
  if (ignored (o, resolved, S_ISDIR (st->st_mode), is_ignored, err) < 0)
    return -1;
  return *is_ignored ? 0 : 1;
}

static size_t
count_components (const char *p)
{
  size_t n = 1;
  for (; *p; p++)
    if (*p == '/')
      n++;
  return n;
}

/* filepath.Walk of base (resolved, inside the source root) matching each path relative to
 * it against pat; a matching directory is not descended into. */
static int
walk_match (const sw_copy_opts *o, const char *base, const char *rel, const char *pat,
            size_t depth, size_t max_depth, sw_strv *out, sw_error **err)
{
  cleanup_free char *dir = *rel ? sw_copy_join (base, rel) : sw_xstrdup (base);
  cleanup_close int fd = sw_open_in_root (o->src_root_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
  if (fd < 0)
    return 0; /* not a directory */
  DIR *d = fdopendir (fd);
  if (!d)
    return sw_error_errno (err, "reading %s", dir);
  fd = -1;
  size_t n = 0;
  char **names = sw_copy_read_names (d, &n);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    {
      cleanup_free char *crel = *rel ? sw_xasprintf ("%s/%s", rel, names[i]) : sw_xstrdup (names[i]);
      cleanup_free char *full = sw_copy_join (base, crel);
      struct stat st;
      cleanup_close int efd = sw_open_in_root (o->src_root_fd, full, O_PATH | O_NOFOLLOW, 0);
      if (efd < 0 || fstat (efd, &st) < 0)
        continue;
      bool ign;
      if (ignored (o, full, S_ISDIR (st.st_mode), &ign, err) < 0)
        {
          r = -1;
          break;
        }
      if (ign)
        continue;
      bool m = false;
      if (sw_glob_match (pat, crel, &m) < 0)
        {
          r = sw_error_make (err, EINVAL, "syntax error in pattern %s", pat);
          break;
        }
      if (m)
        {
          sw_strv_push_owned (out, steal_pointer (&full));
          continue;
        }
      if (S_ISDIR (st.st_mode) && depth + 1 < max_depth)
        r = walk_match (o, base, crel, pat, depth + 1, max_depth, out, err);
    }
  for (size_t i = 0; i < n; i++)
    free (names[i]);
  free (names);
  return r;
}

/* copy.ResolveWildcards with followLinks, for a cleaned absolute source path. */
static int
resolve_wildcards (const sw_copy_opts *o, const char *src, sw_strv *out, sw_error **err)
{
  if (!sw_glob_has_wildcards (src))
    {
      sw_strv_push_owned (out, sw_xstrdup (src));
      return 0;
    }
  /* split at the first component with a wildcard */
  cleanup_buf sw_buf d1 = SW_BUF_INIT;
  const char *p = src + 1, *d2 = NULL;
  while (*p)
    {
      size_t n = strcspn (p, "/");
      cleanup_free char *comp = sw_xstrndup (p, n);
      if (sw_glob_has_wildcards (comp))
        {
          d2 = p;
          break;
        }
      sw_buf_putc (&d1, '/');
      sw_buf_puts (&d1, comp);
      p += n + (p[n] ? 1 : 0);
    }
  cleanup_free char *base = NULL;
  if (sw_copy_root_path (o->src_root_fd, d1.len ? d1.data : "/", true, &base, err) < 0)
    return -1;
  struct stat st;
  bool ign;
  int r = lookup (o, base, &st, &ign, err);
  if (r < 0)
    return -1;
  if (r == 0)
    return not_found (o, d1.len ? d1.data : "/", ign, err);
  return walk_match (o, base, "", d2, 0, count_components (d2), out, err);
}

/* ---- running ----------------------------------------------------------------- */

struct run
{
  const sw_copy_opts *o;
  char *dest;
  sw_copy_mode mode;
  bool chown;
  uid_t uid;
  gid_t gid;
  sw_patterns *exclude;
};

static void
copier_init (struct run *R, sw_copier *c, int src_root, bool owner_zero, const sw_patterns *ignore)
{
  memset (c, 0, sizeof *c);
  c->src_root = src_root;
  c->dst_root = R->o->dst_root_fd;
  c->ignore = ignore;
  c->exclude = R->exclude;
  c->chown = R->chown;
  c->uid = R->uid;
  c->gid = R->gid;
  c->owner_zero = owner_zero;
  c->mode = &R->mode;
}

static int
unpack_to_dest (struct run *R, int root, const char *path, sw_error **err)
{
  cleanup_free char *d = NULL;
  if (sw_copy_root_path (R->o->dst_root_fd, R->dest, true, &d, err) < 0)
    return -1;
  return sw_add_unpack (root, path, R->o->dst_root_fd, d, R->chown, R->uid, R->gid, err);
}

static const char *
last_name (const char *p)
{
  const char *s = strrchr (p, '/');
  return s && s[1] ? s + 1 : (strcmp (p, "/") == 0 ? "/" : p);
}

static int
copy_local (struct run *R, const char *written, sw_error **err)
{
  const sw_copy_opts *o = R->o;
  if (o->src_root_fd < 0)
    return sw_error_make (err, EINVAL, "%s: no source to copy from", written);
  cleanup_free char *src = NULL;
  sw_patterns *include = NULL;
  cleanup_free char *required = NULL;
  if (o->parents)
    {
      const char *pivot = strstr (written, "/./");
      cleanup_free char *parent = pivot ? sw_xstrndup (written, pivot - written) : sw_xstrdup ("/");
      const char *pattern = pivot ? pivot + 3 : written;
      cleanup_free char *np = normalize ("/", pattern, false);
      const char *inc = np + 1;
      if (*inc == '\0')
        inc = "**";
      if (sw_patterns_new (&inc, 1, &include, err) < 0)
        return sw_error_wrap (err, "--parents %s", written);
      if (!sw_glob_has_wildcards (parent) && !sw_glob_has_wildcards (pattern))
        required = sw_copy_join (parent, np);
      src = normalize ("/", parent, false);
    }
  else
    src = normalize ("/", written, false);

  sw_strv m = SW_STRV_INIT;
  int r = resolve_wildcards (o, src, &m, err);
  for (size_t i = 0; r == 0 && i < m.n; i++)
    {
      cleanup_free char *resolved = NULL;
      if (sw_copy_root_path (o->src_root_fd, m.v[i], true, &resolved, err) < 0)
        {
          r = -1;
          break;
        }
      struct stat st;
      bool ign;
      int found = lookup (o, resolved, &st, &ign, err);
      if (found <= 0)
        {
          r = found < 0 ? -1 : not_found (o, m.v[i], ign, err);
          break;
        }
      if (required)
        {
          cleanup_free char *rr = NULL;
          struct stat rst;
          bool rign;
          if (sw_copy_root_path (o->src_root_fd, required, true, &rr, err) < 0
              || (found = lookup (o, rr, &rst, &rign, err)) < 0)
            {
              r = -1;
              break;
            }
          if (found == 0)
            {
              r = not_found (o, required, rign, err);
              break;
            }
        }
      if (o->add && o->unpack != 0 && S_ISREG (st.st_mode))
        {
          bool is = false;
          if (sw_add_is_archive (o->src_root_fd, resolved, &is, err) < 0)
            {
              r = -1;
              break;
            }
          if (is)
            {
              r = unpack_to_dest (R, o->src_root_fd, resolved, err);
              continue;
            }
        }
      sw_copier c;
      copier_init (R, &c, o->src_root_fd, o->src_is_context, o->ignore);
      c.include = include;
      r = sw_copier_copy (&c, resolved, last_name (m.v[i]), R->dest, true, err);
      sw_copier_clear (&c);
    }
  sw_strv_free (&m);
  sw_patterns_free (include);
  return r;
}

/* A staging directory for files that do not come from a root (URLs, heredocs). */
static int
stage_dir (const sw_copy_opts *o, char **path, int *fd, sw_error **err)
{
  const char *tmp = o->tmp_dir ? o->tmp_dir : getenv ("TMPDIR");
  *path = sw_xasprintf ("%s/slipway-copy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp (*path))
    return sw_error_errno (err, "creating a staging directory in %s", tmp && *tmp ? tmp : "/tmp");
  *fd = open (*path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0)
    return sw_error_errno (err, "opening %s", *path);
  return 0;
}

static void
unstage (char *path, int fd)
{
  if (fd >= 0)
    close (fd);
  if (path)
    {
      int pfd = open ("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (pfd >= 0)
        {
          sw_remove_all_at (pfd, path + 1);
          close (pfd);
        }
      free (path);
    }
}

/* Copy stage:/name (a regular file we made) like BuildKit copies an HTTP or inline source:
 * no symlink following, no directory-contents rule. */
static int
copy_staged (struct run *R, int fd, const char *name, bool unpack, sw_error **err)
{
  cleanup_free char *p = sw_copy_join ("/", name);
  if (unpack)
    {
      bool is = false;
      if (sw_add_is_archive (fd, p, &is, err) < 0)
        return -1;
      if (is)
        return unpack_to_dest (R, fd, p, err);
    }
  sw_copier c;
  copier_init (R, &c, fd, true, NULL);
  int r = sw_copier_copy (&c, p, name, R->dest, false, err);
  sw_copier_clear (&c);
  return r;
}

static int
copy_url (struct run *R, const char *url, sw_error **err)
{
  cleanup_free char *name = sw_add_url_filename (url);
  char *dir = NULL;
  int fd = -1;
  int r = stage_dir (R->o, &dir, &fd, err);
  if (r == 0)
    r = sw_add_fetch (R->o->transport, url, R->o->checksum && *R->o->checksum ? R->o->checksum : NULL, fd, name,
                      err);
  if (r == 0)
    r = copy_staged (R, fd, name, R->o->unpack == 1, err);
  unstage (dir, fd);
  return r;
}

static int
copy_heredoc (struct run *R, const sw_copy_heredoc *h, sw_error **err)
{
  const char *name = last_name (h->name);
  char *dir = NULL;
  int fd = -1;
  int r = stage_dir (R->o, &dir, &fd, err);
  if (r == 0)
    {
      int f = openat (fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (f < 0)
        r = sw_error_errno (err, "staging heredoc %s", h->name);
      else
        {
          if (sw_write_all (f, h->data, h->len) < 0)
            r = sw_error_errno (err, "staging heredoc %s", h->name);
          if (r == 0 && fchmod (f, 0644) < 0)
            r = sw_error_errno (err, "staging heredoc %s", h->name);
          close (f);
        }
    }
  if (r == 0)
    r = copy_staged (R, fd, name, false, err);
  unstage (dir, fd);
  return r;
}

int
sw_copy_run (const sw_copy_opts *o, sw_error **err)
{
  if (sw_copy_check (o, err) < 0)
    return -1;
  struct run R = { .o = o };
  R.dest = dest_path (o);
  int r = 0;
  if (sw_copy_mode_parse (o->chmod, &R.mode, err) < 0)
    r = -1;
  if (r == 0 && o->chown && *o->chown)
    {
      R.chown = true;
      r = sw_copy_chown_resolve (o->chown, o->user_root_fd >= 0 ? o->user_root_fd : o->dst_root_fd,
                                 &R.uid, &R.gid, err);
    }
  if (r == 0 && o->n_excludes)
    r = sw_patterns_new (o->excludes, o->n_excludes, &R.exclude, err);
  for (size_t i = 0; r == 0 && i < o->n_srcs; i++)
    {
      const char *s = o->srcs[i];
      if (sw_add_is_http (s))
        r = copy_url (&R, s, err);
      else
        r = copy_local (&R, s, err);
    }
  for (size_t i = 0; r == 0 && i < o->n_heredocs; i++)
    r = copy_heredoc (&R, &o->heredocs[i], err);
  sw_copy_mode_clear (&R.mode);
  sw_patterns_free (R.exclude);
  free (R.dest);
  if (r < 0)
    return fail (o, err);
  return 0;
}
