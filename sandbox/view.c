/* sandbox/view.c — see view.h. */
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
#include "common/strv.h"
#include "common/xalloc.h"
#include "sandbox/view.h"

struct view
{
  const sw_view_tree *trees[2];
  size_t n_trees;
  sw_view_fn fn;
  sw_view2_fn fn2;
  void *arg;
  sw_error *err;
  int ret;
};

static size_t
count (const char *const *v)
{
  return v ? sw_strlist_len ((char *const *) v) : 0;
}

/* Open tree t as a directory fd, mounting an overlay when there is something to merge. */
static int
open_view_tree (const sw_view_tree *t, int *rootfd, sw_error **err)
{
  size_t n = count (t->lowers);
  cleanup_buf sw_buf opts = SW_BUF_INIT;
  int *fds;
  int ret = -1;

  if (n == 0 || (n == 1 && t->upper == NULL))
    {
      /* Nothing to merge: the one directory is the tree. */
      const char *dir = t->upper ? t->upper : t->lowers[0];
      *rootfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      return *rootfd < 0 ? sw_error_errno (err, "open %s", dir) : 0;
    }
  /* Lowers are named by descriptor number relative to /proc/self/fd, so neither the
   * option page's 4 KiB nor ':' in a path limits how many there can be. */
  fds = sw_xcalloc (n, sizeof *fds);
  for (size_t i = 0; i < n; i++)
    fds[i] = -1;
  sw_buf_puts (&opts, "lowerdir=");
  for (size_t i = 0; i < n; i++)
    {
      const char *dir = t->lowers[n - 1 - i]; /* overlayfs lists the top layer first */
      fds[i] = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fds[i] < 0)
        {
          sw_error_errno (err, "open %s", dir);
          goto out;
        }
      sw_buf_printf (&opts, "%s%d", i ? ":" : "", fds[i]);
    }
  if (t->upper)
    sw_buf_printf (&opts, ",upperdir=%s,workdir=%s,volatile", t->upper, t->work);
  if (chdir ("/proc/self/fd") < 0)
    {
      sw_error_errno (err, "chdir /proc/self/fd");
      goto out;
    }
  if (mount ("overlay", t->mountpoint, "overlay", t->upper ? 0 : MS_RDONLY, sw_buf_str (&opts)) < 0)
    {
      sw_error_errno (err, "mounting the overlay for a build view on %s", t->mountpoint);
      goto out;
    }
  *rootfd = open (t->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*rootfd < 0)
    sw_error_errno (err, "open %s", t->mountpoint);
  else
    ret = 0;
out:
  for (size_t i = 0; i < n; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  free (fds);
  return ret;
}

/* Runs on its own thread: everything it mounts dies with the thread's namespace. */
static void *
view_thread (void *data)
{
  struct view *v = data;
  int fds[2] = { -1, -1 };

  v->ret = -1;
  /* A private mount namespace for this thread alone (CLONE_FS comes with it, so the
   * process's other threads keep theirs). */
  if (unshare (CLONE_NEWNS) < 0)
    {
      sw_error_errno (&v->err, "unshare(CLONE_NEWNS) for a build view");
      return NULL;
    }
  /* Nothing we mount may propagate back to the host's namespace. */
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    {
      sw_error_errno (&v->err, "making the view's mount namespace private");
      return NULL;
    }
  for (size_t i = 0; i < v->n_trees; i++)
    if (open_view_tree (v->trees[i], &fds[i], &v->err) < 0)
      goto out;
  v->ret = v->fn2 ? v->fn2 (fds[0], fds[1], v->arg, &v->err) : v->fn (fds[0], v->arg, &v->err);
out:
  for (size_t i = 0; i < 2; i++)
    if (fds[i] >= 0)
      close (fds[i]);
  return NULL;
}

static int
run (struct view *v, sw_error **err)
{
  pthread_t t;
  int r = pthread_create (&t, NULL, view_thread, v);

  if (r != 0)
    {
      errno = r;
      return sw_error_errno (err, "starting a build view thread");
    }
  pthread_join (t, NULL);
  if (v->ret < 0)
    {
      if (v->err == NULL)
        sw_error_make (&v->err, 0, "a build view failed");
      sw_error_move (err, &v->err);
      return -1;
    }
  return 0;
}

int
sw_view_run (const char *const *lowers, const char *upper, const char *work, const char *scratch,
             sw_view_fn fn, void *arg, sw_error **err)
{
  sw_view_tree t = { lowers, upper, work, scratch };
  struct view v = { { &t, NULL }, 1, fn, NULL, arg, NULL, 0 };
  return run (&v, err);
}

int
sw_view_run2 (const sw_view_tree *dst, const sw_view_tree *src, sw_view2_fn fn, void *arg, sw_error **err)
{
  struct view v = { { dst, src }, 2, NULL, fn, arg, NULL, 0 };
  return run (&v, err);
}
