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

int
sw_empty_dir_fd (int dfd)
{
  DIR *d = fdopendir (dfd);
  if (!d)
    {
      close (dfd);
      return -1;
    }
  struct dirent *de;
  int r = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (sw_remove_all_at (dirfd (d), de->d_name) < 0)
        r = -1;
    }
  closedir (d);
  return r;
}

int
sw_remove_all_at (int pfd, const char *name)
{
  struct stat st;
  if (fstatat (pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR (st.st_mode))
    return unlinkat (pfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
  int fd = openat (pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int r = sw_empty_dir_fd (fd);
  if (r == 0 && unlinkat (pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    r = -1;
  return r;
}
