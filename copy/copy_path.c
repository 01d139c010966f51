/* copy/copy_path.c — paths inside a root: symlink resolution as continuity's RootPath,
 * openat2 RESOLVE_IN_ROOT, and fsutil's MkdirAll. */
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
#include "common/xalloc.h"
#include "copy/copy.h"
#include "copy/copy_int.h"

char *
sw_copy_join (const char *a, const char *b)
{
  cleanup_free char *j = sw_xasprintf ("/%s/%s", a, b);
  return sw_path_clean (j);
}

int
sw_copy_open_parent (int rootfd, const char *path, const char **name)
{
  const char *slash = strrchr (path, '/');
  if (!slash || strcmp (path, "/") == 0)
    {
      *name = ".";
      return sw_open_in_root (rootfd, "/", O_PATH | O_DIRECTORY, 0);
    }
  *name = slash + 1;
  cleanup_free char *dir = sw_xstrndup (path, slash - path);
  return sw_open_in_root (rootfd, *dir ? dir : "/", O_PATH | O_DIRECTORY, 0);
}

int
sw_copy_root_path (int rootfd, const char *p, bool follow_final, char **out, sw_error **err)
{
  cleanup_free char *todo = sw_copy_join ("/", p);
  int links = 0;
restart:
  {
    cleanup_buf sw_buf done = SW_BUF_INIT; /* resolved prefix, no trailing slash ("" = root) */
    const char *s = todo + 1;
    while (*s)
      {
        const char *e = strchr (s, '/');
        size_t n = e ? (size_t) (e - s) : strlen (s);
        bool last = e == NULL;
        cleanup_free char *comp = sw_xstrndup (s, n);
        s += n + (e ? 1 : 0);
        if (last && !follow_final)
          {
            sw_buf_putc (&done, '/');
            sw_buf_puts (&done, comp);
            break;
          }
        cleanup_close int dfd = sw_open_in_root (rootfd, done.len ? done.data : "/",
                                                      O_PATH | O_DIRECTORY, 0);
        struct stat st;
        if (dfd < 0 || fstatat (dfd, comp, &st, AT_SYMLINK_NOFOLLOW) < 0)
          {
            if (errno != ENOENT && errno != ENOTDIR)
              return sw_error_errno (err, "resolving %s", p);
            /* does not exist: keep the rest as it is */
            sw_buf_putc (&done, '/');
            sw_buf_puts (&done, comp);
            if (*s)
              {
                sw_buf_putc (&done, '/');
                sw_buf_puts (&done, s);
              }
            break;
          }
        if (!S_ISLNK (st.st_mode))
          {
            sw_buf_putc (&done, '/');
            sw_buf_puts (&done, comp);
            continue;
          }
        if (++links > 255)
          return sw_error_make (err, ELOOP, "resolving %s: too many levels of symbolic links", p);
        char target[4096];
        ssize_t tl = readlinkat (dfd, comp, target, sizeof target - 1);
        if (tl < 0)
          return sw_error_errno (err, "reading link %s/%s", done.len ? done.data : "", comp);
        target[tl] = '\0';
        char *next;
        if (target[0] == '/')
          next = sw_xasprintf ("%s/%s", target, s);
        else
          next = sw_xasprintf ("%s/%s/%s", done.len ? done.data : "", target, s);
        free (todo);
        todo = sw_copy_join ("/", next);
        free (next);
        goto restart;
      }
    *out = done.len ? sw_buf_steal (&done) : sw_xstrdup ("/");
    cleanup_free char *c = *out;
    *out = sw_path_clean (c);
    return 0;
  }
}

int
sw_copy_mkdir_all (int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid,
                   sw_error **err)
{
  cleanup_close int fd = sw_open_in_root (rootfd, "/", O_PATH | O_DIRECTORY, 0);
  if (fd < 0)
    return sw_error_errno (err, "opening the destination root");
  cleanup_free char *clean = sw_path_clean (path);
  const char *s = clean;
  cleanup_buf sw_buf sofar = SW_BUF_INIT;
  while (*s)
    {
      while (*s == '/')
        s++;
      if (!*s)
        break;
      const char *e = strchr (s, '/');
      size_t n = e ? (size_t) (e - s) : strlen (s);
      cleanup_free char *comp = sw_xstrndup (s, n);
      s += n;
      sw_buf_putc (&sofar, '/');
      sw_buf_puts (&sofar, comp);
      int next = openat (fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (fd, comp, mode) < 0 && errno != EEXIST)
            return sw_error_errno (err, "mkdir %s", sofar.data);
          if (fchmodat (fd, comp, mode, 0) < 0)
            return sw_error_errno (err, "chmod %s", sofar.data);
          if (uid != (uid_t) -1 && fchownat (fd, comp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return sw_error_errno (err, "chown %s", sofar.data);
          next = openat (fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      if (next < 0)
        {
          if (errno == ENOTDIR || errno == ELOOP)
            return sw_error_make (err, ENOTDIR, "mkdir %s: not a directory", sofar.data);
          return sw_error_errno (err, "mkdir %s", sofar.data);
        }
      close (fd);
      fd = next;
    }
  return 0;
}

int
sw_copy_read_in_root (int rootfd, const char *path, size_t max, char **data, size_t *len,
                      sw_error **err)
{
  cleanup_free char *resolved = NULL;
  if (sw_copy_root_path (rootfd, path, true, &resolved, err) < 0)
    return -1;
  cleanup_close int fd = sw_open_in_root (rootfd, resolved, O_RDONLY | O_NOCTTY, 0);
  if (fd < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return 1;
      return sw_error_errno (err, "open %s", path);
    }
  struct stat st;
  if (fstat (fd, &st) < 0)
    return sw_error_errno (err, "stat %s", path);
  if (!S_ISREG (st.st_mode))
    return sw_error_make (err, EINVAL, "%s is not a regular file", path);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  if (sw_read_all (fd, max, &b) < 0)
    {
      if (errno == EFBIG)
        return sw_error_make (err, EFBIG, "%s exceeds %zu bytes", path, max);
      return sw_error_errno (err, "read %s", path);
    }
  *len = b.len;
  *data = sw_buf_steal (&b);
  return 0;
}

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

char **
sw_copy_read_names (DIR *d, size_t *n)
{
  char **names = NULL;
  struct dirent *de;
  *n = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      names = sw_xreallocarray (names, *n + 1, sizeof (char *));
      names[(*n)++] = sw_xstrdup (de->d_name);
    }
  closedir (d);
  if (*n > 1) /* never qsort (NULL, 0, …): its pointer must not be null, even for 0 */
    qsort (names, *n, sizeof (char *), cmp_names);
  return names;
}

bool
sw_copy_xattr_private (const char *name)
{
  return strncmp (name, "trusted.overlay.", 16) == 0 || strncmp (name, "user.overlay.", 13) == 0;
}

int
sw_copy_mkdir_in_root (int dst_root, const char *path, const char *user, sw_error **err)
{
  cleanup_free char *resolved = NULL;
  uid_t uid = (uid_t) -1;
  gid_t gid = (gid_t) -1;
  if (user && *user && sw_copy_chown_resolve (user, dst_root, &uid, &gid, err) < 0)
    return -1;
  if (sw_copy_root_path (dst_root, path, true, &resolved, err) < 0)
    return -1;
  return sw_copy_mkdir_all (dst_root, resolved, 0755, uid, gid, err);
}
