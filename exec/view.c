/* exec/view.c — see view.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "exec/view.h"

struct view
{
  const char *const *lowers;
  const char *upper, *work, *scratch;
  sw_view_fn fn;
  void *arg;
  sw_error *err;
  int ret;
};

static size_t
count (const char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

/* Runs on its own thread: everything it mounts dies with the thread's namespace. */
static void *
view_thread (void *data)
{
  struct view *v = data;
  size_t n = count (v->lowers);
  cleanup_buf sw_buf opts = SW_BUF_INIT;
  int *fds = NULL;
  int rootfd = -1;

  /* A private mount namespace for this thread alone (CLONE_FS comes with it, so the
   * process's other threads keep theirs). */
  if (unshare (CLONE_NEWNS) < 0)
    {
      v->ret = sw_error_errno (&v->err, "unshare(CLONE_NEWNS) for a build view");
      return NULL;
    }
  /* Nothing we mount may propagate back to the host's namespace. */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      v->ret = sw_error_errno (&v->err, "making the view's mount namespace private");
      return NULL;
    }

  if (n == 0 || (n == 1 && v->upper == NULL))
    {
      /* Nothing to merge: the one directory is the tree. */
      const char *dir = v->upper ? v->upper : v->lowers[0];
      rootfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (rootfd < 0)
        v->ret = sw_error_errno (&v->err, "open %s", dir);
    }
  else
    {
      /* Lowers are named by descriptor number relative to /proc/self/fd, so neither the
       * option page's 4 KiB nor ':' in a path limits how many there can be. */
      fds = sw_xcalloc (n, sizeof *fds);
      for (size_t i = 0; i < n; i++)
        fds[i] = -1;
      sw_buf_puts (&opts, "lowerdir=");
      for (size_t i = 0; i < n; i++)
        {
          /* overlayfs lists the top layer first */
          const char *dir = v->lowers[n - 1 - i];
          fds[i] = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
          if (fds[i] < 0)
            {
              v->ret = sw_error_errno (&v->err, "open %s", dir);
              goto out;
            }
          sw_buf_printf (&opts, "%s%d", i ? ":" : "", fds[i]);
        }
      if (v->upper)
        sw_buf_printf (&opts, ",upperdir=%s,workdir=%s,volatile", v->upper, v->work);
      if (chdir ("/proc/self/fd") < 0)
        {
          v->ret = sw_error_errno (&v->err, "chdir /proc/self/fd");
          goto out;
        }
      if (mount ("overlay", v->scratch, "overlay", v->upper ? 0 : MS_RDONLY, sw_buf_str (&opts)) < 0)
        {
          v->ret = sw_error_errno (&v->err, "mounting the overlay for a build view on %s", v->scratch);
          goto out;
        }
      rootfd = open (v->scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (rootfd < 0)
        v->ret = sw_error_errno (&v->err, "open %s", v->scratch);
    }
  if (rootfd >= 0)
    v->ret = v->fn (rootfd, v->arg, &v->err);
out:
  if (rootfd >= 0)
    close (rootfd);
  for (size_t i = 0; fds && i < n; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  free (fds);
  return NULL;
}

int
sw_view_run (const char *const *lowers, const char *upper, const char *work, const char *scratch,
             sw_view_fn fn, void *arg, sw_error **err)
{
  struct view v = { lowers, upper, work, scratch, fn, arg, NULL, 0 };
  pthread_t t;
  int r = pthread_create (&t, NULL, view_thread, &v);

  if (r != 0)
    {
      errno = r;
      return sw_error_errno (err, "starting a build view thread");
    }
  pthread_join (t, NULL);
  if (v.ret < 0)
    {
      if (v.err == NULL)
        sw_error_make (&v.err, 0, "a build view failed");
      sw_error_move (err, &v.err);
      return -1;
    }
  return 0;
}
