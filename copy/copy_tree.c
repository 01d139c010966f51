/* copy/copy_tree.c — copying one resolved source into the destination root, as
 * tonistiigi/fsutil's copy.Copy does it for BuildKit's FileOp:
 *  - a directory is merged into an existing one; a directory the copy creates gets the
 *    source's mode, owner and times, an existing top-level one only the source's times;
 *  - a file replaces a file or symlink, never a directory;
 *  - symlinks are copied as symlinks, devices and fifos recreated, hardlinks within one
 *    source kept as hardlinks, xattrs copied (failures ignored, as BuildKit does);
 *  - owner: --chown, else the source's (0:0 for the build context, whose transfer resets
 *    ownership), mode: --chmod applied to everything copied (directories too), times:
 *    the source's atime and mtime;
 *  - --exclude / --parents patterns match paths relative to the copied source, and a
 *    directory whose children may still be included is created only when one is.
 * Every file system call goes through a directory fd opened with RESOLVE_IN_ROOT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/io.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "copy/copy_int.h"

struct sw_copy_link
{
  dev_t dev;
  ino_t ino;
  char *dst;
};

struct sw_copy_pending
{
  char *src, *dst;
  bool copied;
};

static char *
dir_name (const char *p)
{
  const char *s = strrchr (p, '/');
  if (!s || s == p)
    return sw_xstrdup ("/");
  return sw_xstrndup (p, s - p);
}

static void
copy_xattrs (int sdir, const char *sname, int ddir, const char *dname)
{
  char sp[64 + 4096], dp[64 + 4096];
  snprintf (sp, sizeof sp, "/proc/self/fd/%d/%s", sdir, sname);
  snprintf (dp, sizeof dp, "/proc/self/fd/%d/%s", ddir, dname);
  ssize_t n = llistxattr (sp, NULL, 0);
  if (n <= 0)
    return;
  cleanup_free char *names = sw_xmalloc (n);
  n = llistxattr (sp, names, n);
  for (ssize_t i = 0; i < n; i += strlen (names + i) + 1)
    {
      const char *k = names + i;
      if (sw_copy_xattr_private (k))
        continue;
      ssize_t vl = lgetxattr (sp, k, NULL, 0);
      if (vl < 0)
        continue;
      cleanup_free char *v = sw_xmalloc (vl + 1);
      vl = lgetxattr (sp, k, v, vl);
      if (vl < 0 || lsetxattr (dp, k, v, vl, 0) < 0)
        sw_debug ("copy: xattr %s on %s not copied: %s", k, dname, strerror (errno));
    }
}

/* fsutil's copyFileInfo: owner, mode (not for symlinks), times. */
static int
file_info (sw_copier *c, const struct stat *st, int ddir, const char *dname, const char *dst,
           sw_error **err)
{
  uid_t uid = c->chown ? c->uid : (c->owner_zero ? 0 : st->st_uid);
  gid_t gid = c->chown ? c->gid : (c->owner_zero ? 0 : st->st_gid);
  if (fchownat (ddir, dname, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
    return sw_error_errno (err, "failed to chown %s", dst);
  if (!S_ISLNK (st->st_mode)
      && fchmodat (ddir, dname, sw_copy_mode_apply (c->mode, st->st_mode), 0) < 0)
    return sw_error_errno (err, "failed to chmod %s", dst);
  struct timespec ts[2] = { st->st_atim, st->st_mtim };
  if (utimensat (ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return sw_error_errno (err, "failed to utime %s", dst);
  return 0;
}

/* copyDirectoryOnly: mkdir with the source mode, or chmod an existing one when the
 * caller overwrites metadata. */
static int
dir_only (int ddir, const char *dname, const char *dst, const struct stat *st, bool overwrite,
          bool *created, sw_error **err)
{
  struct stat t;
  *created = false;
  if (fstatat (ddir, dname, &t, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno != ENOENT)
        return sw_error_errno (err, "failed to stat %s", dst);
      if (mkdirat (ddir, dname, st->st_mode & 07777) < 0)
        return sw_error_errno (err, "failed to mkdir %s", dst);
      *created = true;
      return 0;
    }
  if (!S_ISDIR (t.st_mode))
    return sw_error_make (err, ENOTDIR, "cannot copy to non-directory: %s", dst);
  if (overwrite && fchmodat (ddir, dname, st->st_mode & 07777, 0) < 0)
    return sw_error_errno (err, "failed to chmod on %s", dst);
  return 0;
}

/* Create the directories walked past without creating them, now that something below
 * them is copied. */
static int
create_pending (sw_copier *c, sw_error **err)
{
  for (size_t i = 0; i < c->npending; i++)
    {
      struct sw_copy_pending *p = &c->pending[i];
      if (p->copied)
        continue;
      struct stat st;
      cleanup_close int sfd = sw_open_in_root (c->src_root, p->src, O_PATH, 0);
      if (sfd < 0 || fstat (sfd, &st) < 0)
        return sw_error_errno (err, "failed to stat %s", p->src);
      if (!S_ISDIR (st.st_mode))
        return sw_error_make (err, ENOTDIR, "%s is not a directory", p->src);
      const char *dname, *sname;
      cleanup_close int ddir = sw_copy_open_parent (c->dst_root, p->dst, &dname);
      cleanup_close int sdir = sw_copy_open_parent (c->src_root, p->src, &sname);
      if (ddir < 0 || sdir < 0)
        return sw_error_errno (err, "failed to open the parent of %s", p->dst);
      bool created;
      if (dir_only (ddir, dname, p->dst, &st, false, &created, err) < 0)
        return -1;
      if (created)
        {
          if (file_info (c, &st, ddir, dname, p->dst, err) < 0)
            return -1;
          copy_xattrs (sdir, sname, ddir, dname);
        }
      p->copied = true;
    }
  return 0;
}

static int
copy_content (int sdir, const char *sname, int ddir, const char *dname, const char *dst,
              sw_error **err)
{
  cleanup_close int in = openat (sdir, sname, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (in < 0)
    return sw_error_errno (err, "failed to open source of %s", dst);
  cleanup_close int out
      = openat (ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (out < 0)
    return sw_error_errno (err, "failed to open target %s", dst);
  bool first = true;
  for (;;)
    {
      ssize_t n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);
      if (n == 0)
        return 0;
      if (n > 0)
        {
          first = false;
          continue;
        }
      if (errno == EINTR)
        continue;
      if (!first
          || (errno != ENOSYS && errno != EXDEV && errno != EPERM && errno != EIO
              && errno != EOPNOTSUPP && errno != EINVAL))
        return sw_error_errno (err, "copy file range failed for %s", dst);
      break;
    }
  char buf[1 << 16];
  for (;;)
    {
      ssize_t r = read (in, buf, sizeof buf);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return sw_error_errno (err, "reading the source of %s", dst);
      if (r == 0)
        return 0;
      if (sw_write_all (out, buf, (size_t) r) < 0)
        return sw_error_errno (err, "writing %s", dst);
    }
}

static int
match (const sw_patterns *pm, const char *path, const bool *parent, bool **info, bool *m,
       sw_error **err)
{
  *info = sw_xcalloc (sw_patterns_count (pm) + 1, sizeof (bool));
  return sw_patterns_match (pm, path, parent, *info, m, err);
}

static int
copy_entry (sw_copier *c, const char *src, const char *comp, const char *dst, bool overwrite,
            const bool *pinc, const bool *pexc, const bool *pign, int psdir, int pddir,
            sw_error **err)
{
  bool include = true, excluded = false, ignored = false, m;
  cleanup_free bool *inc = NULL, *exc = NULL, *ign = NULL;
  if (*comp)
    {
      if (c->include)
        {
          if (match (c->include, comp, pinc, &inc, &m, err) < 0)
            return sw_error_wrap (err, "failed to match include patterns");
          include = m;
        }
      if (c->exclude)
        {
          if (match (c->exclude, comp, pexc, &exc, &m, err) < 0)
            return sw_error_wrap (err, "failed to match exclude patterns");
          if (m)
            include = false, excluded = true;
        }
    }
  if (c->ignore && strcmp (src, "/") != 0)
    {
      if (match (c->ignore, src + 1, *comp ? pign : NULL, &ign, &m, err) < 0)
        return sw_error_wrap (err, "failed to match .dockerignore patterns");
      if (m)
        include = false, ignored = true;
    }
  bool look_inside = c->include || (excluded && sw_patterns_has_exceptions (c->exclude))
                     || (ignored && sw_patterns_has_exceptions (c->ignore));
  if (!include && !look_inside)
    return 0;

  /* the parent directories: the caller's fds when it has them (children met by readdir),
   * else resolved from the root */
  const char *sname, *dname = NULL;
  cleanup_close int sdir_own = -1, ddir_own = -1;
  int sdir = psdir, ddir = -1;
  if (sdir >= 0)
    sname = strrchr (src, '/') + 1;
  else
    sdir = sdir_own = sw_copy_open_parent (c->src_root, src, &sname);
  struct stat st;
  if (sdir < 0 || fstatat (sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sw_error_errno (err, "failed to stat %s", src);
  if (!include && !S_ISDIR (st.st_mode))
    return 0;
  if (include && create_pending (c, err) < 0)
    return -1;

  struct stat tst;
  bool target_exists = false;
  if (include)
    {
      if (pddir >= 0)
        {
          ddir = pddir;
          dname = strrchr (dst, '/') + 1;
        }
      else
        ddir = ddir_own = sw_copy_open_parent (c->dst_root, dst, &dname);
      if (ddir < 0)
        return sw_error_errno (err, "failed to open the parent of %s", dst);
      if (fstatat (ddir, dname, &tst, AT_SYMLINK_NOFOLLOW) == 0)
        target_exists = true;
      else if (errno != ENOENT)
        return sw_error_errno (err, "failed to stat %s", dst);
      if (!S_ISDIR (st.st_mode) && target_exists)
        {
          if (S_ISDIR (tst.st_mode))
            return sw_error_make (err, EISDIR, "cannot replace to directory %s with file", dst);
          if (unlinkat (ddir, dname, 0) < 0)
            return sw_error_errno (err, "failed to remove %s", dst);
        }
    }

  bool copy_info = include, restore_times = false;
  if (S_ISDIR (st.st_mode))
    {
      bool created = false;
      if (include && dir_only (ddir, dname, dst, &st, overwrite, &created, err) < 0)
        return -1;
      c->pending = sw_xreallocarray (c->pending, c->npending + 1, sizeof *c->pending);
      c->pending[c->npending++]
          = (struct sw_copy_pending) { sw_xstrdup (src), sw_xstrdup (dst), include };
      size_t level = c->npending;
      int r = 0;
      cleanup_close int csdir = openat (sdir, sname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      cleanup_close int cddir
          = include ? openat (ddir, dname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (csdir < 0)
        r = sw_error_errno (err, "failed to open %s", src);
      cleanup_close int dfd = openat (sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      DIR *d = dfd >= 0 && r == 0 ? fdopendir (dfd) : NULL;
      if (!d)
        {
          if (r == 0)
            r = sw_error_errno (err, "failed to read %s", src);
        }
      else
        {
          dfd = -1;
          size_t n = 0;
          char **names = sw_copy_read_names (d, &n);
          for (size_t i = 0; i < n; i++)
            {
              if (r == 0)
                {
                  cleanup_free char *s2 = sw_copy_join (src, names[i]);
                  cleanup_free char *d2 = sw_copy_join (dst, names[i]);
                  cleanup_free char *c2
                      = *comp ? sw_xasprintf ("%s/%s", comp, names[i]) : sw_xstrdup (names[i]);
                  r = copy_entry (c, s2, c2, d2, true, inc, exc, ign, csdir, cddir, err);
                }
              free (names[i]);
            }
          free (names);
        }
      /* pop this level (and anything a failure left) */
      while (c->npending >= level)
        {
          c->npending--;
          free (c->pending[c->npending].src);
          free (c->pending[c->npending].dst);
        }
      if (r < 0)
        return -1;
      if (!overwrite)
        {
          copy_info = created;
          restore_times = !created;
        }
    }
  else if (S_ISREG (st.st_mode))
    {
      const char *first = NULL;
      if (st.st_nlink > 1)
        {
          for (size_t i = 0; i < c->nlinks; i++)
            if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino)
              first = c->links[i].dst;
          if (!first)
            {
              c->links = sw_xreallocarray (c->links, c->nlinks + 1, sizeof *c->links);
              c->links[c->nlinks++] = (struct sw_copy_link) { st.st_dev, st.st_ino, sw_xstrdup (dst) };
            }
        }
      if (first)
        {
          const char *fname;
          cleanup_close int fdir = sw_copy_open_parent (c->dst_root, first, &fname);
          if (fdir < 0 || linkat (fdir, fname, ddir, dname, 0) < 0)
            return sw_error_errno (err, "failed to create hard link %s", dst);
        }
      else if (copy_content (sdir, sname, ddir, dname, dst, err) < 0)
        return sw_error_wrap (err, "failed to copy files");
    }
  else if (S_ISLNK (st.st_mode))
    {
      char target[4096];
      ssize_t n = readlinkat (sdir, sname, target, sizeof target - 1);
      if (n < 0)
        return sw_error_errno (err, "failed to read link: %s", src);
      target[n] = '\0';
      if (symlinkat (target, ddir, dname) < 0)
        return sw_error_errno (err, "failed to create symlink: %s", dst);
    }
  else
    {
      mode_t mode = st.st_mode;
      if (S_ISSOCK (mode)) /* a socket is copied as a stub, as fsutil does */
        mode = S_IFREG | (mode & 07777);
      if (mknodat (ddir, dname, mode, st.st_rdev) < 0)
        return sw_error_errno (err, "failed to create device %s", dst);
    }

  if (copy_info)
    {
      if (file_info (c, &st, ddir, dname, dst, err) < 0)
        return sw_error_wrap (err, "failed to copy file info");
      copy_xattrs (sdir, sname, ddir, dname);
    }
  else if (restore_times && target_exists)
    {
      struct timespec ts[2] = { st.st_atim, st.st_mtim };
      if (utimensat (ddir, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return sw_error_errno (err, "failed to restore file timestamp of %s", dst);
    }
  return 0;
}

int
sw_copier_copy (sw_copier *c, const char *src, const char *name, const char *dst,
                bool copy_dir_contents, sw_error **err)
{
  mode_t dmode = (c->mode && c->mode->set && !c->mode->symbolic) ? (c->mode->octal & 0777) : 0755;
  uid_t uid = c->chown ? c->uid : (uid_t) -1;
  gid_t gid = c->chown ? c->gid : (gid_t) -1;

  /* the directory the destination lives in (or the destination, with a trailing slash) */
  const char *slash = strrchr (dst, '/');
  const char *f = slash ? slash + 1 : dst;
  cleanup_free char *ensure = (*f && strcmp (f, ".") != 0)
                                  ? sw_xstrndup (dst, slash ? (size_t) (slash - dst + 1) : 0)
                                  : sw_xstrdup (dst);
  if (*ensure)
    {
      cleanup_free char *r = NULL;
      if (sw_copy_root_path (c->dst_root, ensure, true, &r, err) < 0
          || sw_copy_mkdir_all (c->dst_root, r, dmode, uid, gid, err) < 0)
        return -1;
    }
  cleanup_free char *rdst = NULL;
  if (sw_copy_root_path (c->dst_root, dst, true, &rdst, err) < 0)
    return -1;

  /* prepareTargetDir */
  struct stat sst, dstt;
  cleanup_close int sfd = sw_open_in_root (c->src_root, src, O_PATH | O_NOFOLLOW, 0);
  if (sfd < 0 || fstat (sfd, &sst) < 0)
    return sw_error_errno (err, "lstat %s", src);
  cleanup_close int dfd = sw_open_in_root (c->dst_root, rdst, O_PATH, 0);
  bool dst_exists = dfd >= 0 && fstat (dfd, &dstt) == 0;
  if (!dst_exists && dfd < 0 && errno != ENOENT && errno != ENOTDIR)
    return sw_error_errno (err, "failed to lstat destination path %s", rdst);
  cleanup_free char *dest = sw_xstrdup (rdst);
  if ((!copy_dir_contents && S_ISDIR (sst.st_mode) && dst_exists)
      || (!S_ISDIR (sst.st_mode) && dst_exists && S_ISDIR (dstt.st_mode)))
    {
      free (dest);
      dest = sw_copy_join (rdst, name);
    }
  cleanup_free char *target
      = (copy_dir_contents && S_ISDIR (sst.st_mode) && !dst_exists) ? sw_xstrdup (dest)
                                                                     : dir_name (dest);
  if (sw_copy_mkdir_all (c->dst_root, target, dmode, uid, gid, err) < 0)
    return -1;
  return copy_entry (c, src, "", dest, false, NULL, NULL, NULL, -1, -1, err);
}

void
sw_copier_clear (sw_copier *c)
{
  for (size_t i = 0; i < c->nlinks; i++)
    free (c->links[i].dst);
  free (c->links);
  c->links = NULL;
  c->nlinks = 0;
  for (size_t i = 0; i < c->npending; i++)
    {
      free (c->pending[i].src);
      free (c->pending[i].dst);
    }
  free (c->pending);
  c->pending = NULL;
  c->npending = 0;
}
