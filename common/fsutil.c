/* common/fsutil.c — see fsutil.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fsutil.h"

static int
openat2_retry (int dirfd, const char *rel, int flags, mode_t mode, uint64_t resolve)
{
  struct open_how how;
  memset (&how, 0, sizeof how);
  how.flags = (uint64_t) (flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  int fd;
  /* EAGAIN: a rename raced the lookup (RESOLVE_IN_ROOT refuses to guess) */
  do
    fd = (int) syscall (SYS_openat2, dirfd, rel, &how, sizeof how);
  while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  return fd;
}

int
sw_openat2 (int dirfd, const char *rel, int flags, uint64_t resolve)
{
  return openat2_retry (dirfd, rel, flags, 0, resolve);
}

int
sw_open_in_root (int rootfd, const char *path, int flags, mode_t mode)
{
  while (*path == '/')
    path++;
  if (*path == '\0')
    path = ".";
  return openat2_retry (rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

static int remove_at (int pfd, const char *name, unsigned depth, unsigned max_depth);

/* Empty dfd, entry by entry, going on past a failure so that what can go, goes; the first
 * failure's errno is the one reported. */
static int
empty_dir (int dfd, unsigned depth, unsigned max_depth)
{
  DIR *d = fdopendir (dfd);
  if (!d)
    {
      int e = errno;
      close (dfd);
      errno = e;
      return -1;
    }
  struct dirent *de;
  int r = 0, first = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (remove_at (dirfd (d), de->d_name, depth, max_depth) < 0 && r == 0)
        r = -1, first = errno;
    }
  closedir (d);
  if (r < 0)
    errno = first;
  return r;
}

static int
remove_at (int pfd, const char *name, unsigned depth, unsigned max_depth)
{
  struct stat st;
  if (fstatat (pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (pfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  if (depth >= max_depth)
    {
      errno = ELOOP; /* every level holds an fd: a hostile tree must not exhaust them */
      return -1;
    }
  int fd = openat (pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -1;
  if (empty_dir (fd, depth + 1, max_depth) < 0)
    return -1;
  return unlinkat (pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

int
sw_remove_all_at_bounded (int dirfd, const char *name, unsigned max_depth)
{
  return remove_at (dirfd, name, 0, max_depth);
}

int
sw_remove_all_at (int dirfd, const char *name)
{
  return remove_at (dirfd, name, 0, SW_REMOVE_MAX_DEPTH);
}

int
sw_empty_dir_fd (int dfd)
{
  return empty_dir (dfd, 0, SW_REMOVE_MAX_DEPTH);
}
