/* sandbox/sandbox_child.c — the sandbox's child side: mounts, pivot_root, init, exec.
 *
 * Runs in a clone3() copy of a possibly multithreaded parent: system calls only (raw ones
 * for the credential calls, whose glibc wrappers signal every thread), no allocation, no
 * stdio.  Every failure is reported to the parent as one fixed-size record on sync_fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/io.h" /* sw_write_all: write(2) only, safe here */
#include "emu/emu.h"
#include "sandbox/sandbox_child.h"
#include "sandbox/sandbox_int.h"

/* ---- reporting ---- */

typedef struct msgbuf
{
  sw_child_msg m;
  size_t len;
} msgbuf;

static void
add (msgbuf *b, const char *s)
{
  while (s && *s && b->len + 1 < sizeof b->m.text)
    b->m.text[b->len++] = *s++;
  b->m.text[b->len] = 0;
}

static void
send_msg (int fd, int kind, int errnum, const char *what, const char *arg, const char *what2)
{
  msgbuf b;
  memset (&b, 0, sizeof b);
  b.m.kind = kind;
  b.m.err = errnum;
  add (&b, what);
  add (&b, arg);
  add (&b, what2);
  ssize_t r;
  do
    r = write (fd, &b.m, sizeof b.m);
  while (r < 0 && errno == EINTR);
}

__attribute__ ((noreturn)) static void
die (const sw_sandbox_plan *p, const char *what, const char *arg)
{
  send_msg (p->sync_fd, SW_MSG_ERROR, errno, what, arg, NULL);
  _exit (126);
}

static void
fd_path (char buf[32], int fd)
{
  char digits[12];
  int n = 0;
  unsigned v = (unsigned) fd;
  memcpy (buf, "/proc/self/fd/", 14);
  do
    digits[n++] = (char) ('0' + v % 10);
  while ((v /= 10) && n < 11);
  for (int i = 0; i < n; i++)
    buf[14 + i] = digits[n - 1 - i];
  buf[14 + n] = 0;
}

static bool
add_str (char *buf, size_t *len, size_t cap, const char *s)
{
  size_t n = strlen (s);
  if (*len + n + 1 > cap)
    return false;
  memcpy (buf + *len, s, n + 1);
  *len += n;
  return true;
}

static bool
add_int (char *buf, size_t *len, size_t cap, int v)
{
  char tmp[32];
  fd_path (tmp, v);
  return add_str (buf, len, cap, tmp + 14);
}

/* ---- paths inside the rootfs ---- */

static int
open_in (int rootfd, const char *rel, int flags)
{
  return sw_openat2 (rootfd, rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* An O_PATH fd of rel, created (dirs 0755, file 0644, root) if missing: mountpoints
 * normally come from the stub layer, this is the fallback when a layer hides them. */
static int
ensure (int rootfd, const char *rel, bool is_dir)
{
  char buf[4096];
  size_t n = strlen (rel);
  int fd = open_in (rootfd, rel, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  if (!is_dir)
    {
      /* a dangling symlink (/etc/resolv.conf → ../run/…): create its target, inside the
       * root, as runc does */
      fd = open_in (rootfd, rel, O_WRONLY | O_CREAT);
      if (fd < 0 && errno == ENOENT && n < sizeof buf)
        {
          /* …and the missing directories on the way to it (systemd's
           * ../run/systemd/resolve/stub-resolv.conf in an image without /run/systemd).
           * The link is read here; the path is made through ensure() — every component
           * opened RESOLVE_IN_ROOT, so ".." and further links stay inside the root. */
          char target[4096];
          memcpy (buf, rel, n + 1);
          char *slash = strrchr (buf, '/');
          const char *name = slash ? slash + 1 : buf;
          if (slash)
            *slash = 0;
          int pfd = open_in (rootfd, slash ? buf : ".", O_PATH | O_DIRECTORY);
          ssize_t tl = pfd >= 0 ? readlinkat (pfd, name, target, sizeof target - 1) : -1;
          if (pfd >= 0)
            close (pfd);
          size_t dl = slash ? strlen (buf) : 0;
          if (tl > 0 && dl + 1 + (size_t) tl + 1 <= sizeof buf)
            {
              target[tl] = 0;
              /* the target, rootfs-relative: absolute → from the root; relative → from
               * the link's directory */
              const char *t = target;
              size_t len = 0;
              if (*t == '/')
                while (*t == '/')
                  t++;
              else if (slash)
                buf[dl] = '/', len = dl + 1;
              memcpy (buf + len, t, strlen (t) + 1);
              char *tslash = strrchr (buf, '/');
              if (tslash && tslash != buf)
                {
                  *tslash = 0;
                  int d = ensure (rootfd, buf, true);
                  if (d >= 0)
                    {
                      close (d);
                      fd = open_in (rootfd, rel, O_WRONLY | O_CREAT);
                    }
                }
            }
          if (fd < 0)
            errno = ENOENT;
        }
      if (fd >= 0)
        {
          close (fd);
          return open_in (rootfd, rel, O_PATH);
        }
    }
  if (n >= sizeof buf)
    {
      errno = ENAMETOOLONG;
      return -1;
    }
  memcpy (buf, rel, n + 1);
  for (size_t i = 0; i <= n; i++)
    {
      if (buf[i] != '/' && buf[i] != 0)
        continue;
      if (i == 0 || buf[i - 1] == '/')
        continue;
      char saved = buf[i];
      buf[i] = 0;
      int cfd = open_in (rootfd, buf, O_PATH);
      if (cfd < 0 && errno == ENOENT)
        {
          /* split into parent and name */
          char *slash = strrchr (buf, '/');
          int pfd;
          const char *name;
          if (slash)
            {
              *slash = 0;
              pfd = open_in (rootfd, buf, O_PATH | O_DIRECTORY);
              *slash = '/';
              name = slash + 1;
            }
          else
            {
              pfd = open_in (rootfd, ".", O_PATH | O_DIRECTORY);
              name = buf;
            }
          if (pfd < 0)
            return -1;
          bool last = saved == 0;
          int r;
          if (!last || is_dir)
            r = mkdirat (pfd, name, 0755);
          else
            {
              r = openat (pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
              if (r >= 0)
                r = close (r);
            }
          close (pfd);
          if (r < 0 && errno != EEXIST)
            return -1;
          cfd = open_in (rootfd, buf, O_PATH);
        }
      if (cfd < 0)
        return -1;
      buf[i] = saved;
      if (saved == 0)
        return cfd;
      close (cfd);
    }
  errno = ENOENT;
  return -1;
}

static void
mount_at (const sw_sandbox_plan *p, int rootfd, const char *rel, bool is_dir, const char *src,
          const char *type, unsigned long flags, const char *data)
{
  char path[32];
  int fd = ensure (rootfd, rel, is_dir);
  if (fd < 0)
    die (p, "creating mountpoint /", rel);
  fd_path (path, fd);
  if (mount (src, path, type, flags, data) < 0)
    die (p, "mounting /", rel);
  close (fd);
}

/* In a user namespace whose creator denied setgroups (unshare --map-root-user does), the
 * groups cannot change at all: the step keeps the namespace's, and setgroups' EPERM is no
 * failure. */
static bool
setgroups_denied (void)
{
  char buf[16] = "";
  int fd = open ("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  return n >= 4 && strncmp (buf, "deny", 4) == 0;
}

/* sysfs, read-only.  In a user namespace that does not own the network namespace (slipway
 * itself run in one, as `debug emu run` is in tests) sysfs cannot be mounted: the host's
 * /sys is bound read-only instead, as rootless container runtimes do. */
static void
mount_sys (const sw_sandbox_plan *p, int rootfd, unsigned long ro)
{
  const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | ro;
  char path[32];
  int fd = ensure (rootfd, "sys", true);
  if (fd < 0)
    die (p, "creating mountpoint /", "sys");
  fd_path (path, fd);
  if (mount ("sysfs", path, "sysfs", flags, NULL) < 0)
    {
      if (errno != EPERM || mount ("/sys", path, NULL, MS_BIND | MS_REC, NULL) < 0)
        die (p, "mounting /", "sys");
      /* the fd is the directory under the bind: the remount needs the bind's own root */
      close (fd);
      fd = open_in (rootfd, "sys", O_PATH | O_DIRECTORY);
      if (fd < 0)
        die (p, "opening /", "sys");
      fd_path (path, fd);
      if (ro && mount (NULL, path, NULL, MS_BIND | MS_REMOUNT | flags, NULL) < 0)
        die (p, "making /sys read-only", NULL);
    }
  close (fd);
}

static int
open_src (const sw_sandbox_plan *p, const sw_op *op)
{
  int base = open (op->src_base, O_PATH | O_CLOEXEC | (op->src_rel ? O_DIRECTORY : 0));
  if (base < 0)
    die (p, "opening mount source ", op->src_base);
  if (!op->src_rel)
    return base;
  int fd = open_in (base, op->src_rel, O_PATH);
  if (fd < 0)
    die (p, "opening mount source ", op->src_rel);
  close (base);
  return fd;
}

/* The tree of a mount with from= (op->src_lowers, top first), merged on the staging tmpfs
 * under a name of its own: read-only, or, for a cache seeded from the tree, over the
 * cache's persistent upper and work dirs (op->src_base).  No snapshots: an empty,
 * read-only tmpfs.  Returns an O_PATH fd of op->src_rel inside it. */
static int
open_tree_src (const sw_sandbox_plan *p, int stage, const sw_op *op, size_t i)
{
  char name[32], path[32], opts[4096];
  char tname[40] = "t";
  size_t len = 0;
  fd_path (name, (int) i);
  const char *idx = strrchr (name, '/') + 1;
  memcpy (tname + 1, idx, strlen (idx) + 1);
  if (mkdirat (stage, tname, 0755) < 0)
    die (p, "creating the mountpoint of the tree for /", op->target);
  int t = openat (stage, tname, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (t < 0)
    die (p, "opening the mountpoint of the tree for /", op->target);
  fd_path (path, t);
  if (!op->src_lowers[0])
    {
      if (mount ("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755") < 0)
        die (p, "mounting the empty tree for /", op->target);
    }
  else
    {
      int fds[2 + 512];
      size_t nfd = 0;
      bool ok = add_str (opts, &len, sizeof opts, "lowerdir=");
      for (size_t k = 0; op->src_lowers[k]; k++)
        {
          if (nfd >= sizeof fds / sizeof *fds - 2)
            {
              errno = E2BIG;
              die (p, "too many snapshots in the tree for /", op->target);
            }
          fds[nfd] = open (op->src_lowers[k], O_PATH | O_DIRECTORY | O_CLOEXEC);
          if (fds[nfd] < 0)
            die (p, "opening snapshot ", op->src_lowers[k]);
          ok = ok && (k == 0 || add_str (opts, &len, sizeof opts, ":")) && add_int (opts, &len, sizeof opts, fds[nfd]);
          nfd++;
        }
      if (op->src_base)
        {
          int c = open (op->src_base, O_PATH | O_DIRECTORY | O_CLOEXEC);
          if (c < 0)
            die (p, "opening the cache ", op->src_base);
          fds[nfd] = openat (c, "upper", O_PATH | O_DIRECTORY | O_CLOEXEC);
          fds[nfd + 1] = openat (c, "work", O_PATH | O_DIRECTORY | O_CLOEXEC);
          close (c);
          if (fds[nfd] < 0 || fds[nfd + 1] < 0)
            die (p, "opening the upper and work dirs of the cache ", op->src_base);
          ok = ok && add_str (opts, &len, sizeof opts, ",upperdir=") && add_int (opts, &len, sizeof opts, fds[nfd])
               && add_str (opts, &len, sizeof opts, ",workdir=") && add_int (opts, &len, sizeof opts, fds[nfd + 1])
               && add_str (opts, &len, sizeof opts, ",index=off,metacopy=off,redirect_dir=off");
          nfd += 2;
        }
      if (!ok)
        {
          errno = E2BIG;
          die (p, "too many snapshots in the tree for /", op->target);
        }
      unsigned long flags = MS_NOSUID | MS_NODEV | (op->src_base ? 0 : MS_RDONLY);
      int here = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (here < 0 || chdir ("/proc/self/fd") < 0)
        die (p, "chdir /proc/self/fd", NULL);
      if (mount ("overlay", path, "overlay", flags, opts) < 0)
        die (p, "mounting the tree for /", op->target);
      if (fchdir (here) < 0)
        die (p, "returning to the working directory", NULL);
      close (here);
      for (size_t k = 0; k < nfd; k++)
        close (fds[k]);
    }
  close (t);
  /* the name again: it now crosses into the mount */
  int root = openat (stage, tname, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    die (p, "opening the tree for /", op->target);
  int fd = open_in (root, op->src_rel ? op->src_rel : ".", O_PATH);
  if (fd < 0)
    die (p, "opening mount source ", op->src_rel);
  close (root);
  return fd;
}

static void
bind_at (const sw_sandbox_plan *p, int rootfd, const char *rel, bool is_dir, int srcfd, bool ro)
{
  char src[32], path[32];
  int fd = ensure (rootfd, rel, is_dir);
  if (fd < 0)
    die (p, "creating mountpoint /", rel);
  fd_path (src, srcfd);
  fd_path (path, fd);
  if (mount (src, path, NULL, MS_BIND, NULL) < 0)
    die (p, "bind-mounting onto /", rel);
  close (fd);
  /* nodev always: the step holds CAP_MKNOD, so a device node it made in a bound host dir
   * (a cache, the context) must not open.  The fd must name the new mount. */
  fd = open_in (rootfd, rel, O_PATH);
  if (fd < 0)
    die (p, "reopening /", rel);
  fd_path (path, fd);
  if (mount (NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0), NULL) < 0)
    die (p, ro ? "making read-only /" : "making nodev /", rel);
  close (fd);
}

/* A writable view of src whose writes are thrown away: an overlay with src below and an
 * upper dir on the staging tmpfs (a file is copied onto the tmpfs instead). */
static void
discard_bind (const sw_sandbox_plan *p, int rootfd, int stage, const sw_op *op, int src, size_t i)
{
  char name[32], path[32], opts[256];
  size_t len = 0;
  fd_path (name, (int) i);
  const char *idx = strrchr (name, '/') + 1;
  char uname[40] = "u", wname[40] = "w";
  size_t il = strlen (idx);
  memcpy (uname + 1, idx, il + 1);
  memcpy (wname + 1, idx, il + 1);
  if (!op->target_is_dir)
    {
      fd_path (path, src);
      /* O_NONBLOCK: a FIFO (or a device) from the context must not block the step forever
       * in open; only a regular file can be copied */
      struct stat sst;
      if (fstat (src, &sst) == 0 && !S_ISREG (sst.st_mode))
        {
          errno = EINVAL;
          die (p, "the rw bind source is not a regular file or a directory (a FIFO, socket or device cannot be "
                  "copied) for /", op->target);
        }
      int in = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
      if (in >= 0 && (fstat (in, &sst) < 0 || !S_ISREG (sst.st_mode)))
        {
          errno = EINVAL;
          die (p, "the rw bind source is not a regular file or a directory for /", op->target);
        }
      int out = openat (stage, uname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (in < 0 || out < 0)
        die (p, "copying the rw bind source for /", op->target);
      for (;;)
        {
          ssize_t n = copy_file_range (in, NULL, out, NULL, 1 << 30, 0);
          if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS))
            {
              char buf[8192];
              n = read (in, buf, sizeof buf);
              if (n > 0 && sw_write_all (out, buf, (size_t) n) < 0)
                n = -1;
            }
          if (n < 0 && errno == EINTR)
            continue;
          if (n < 0)
            die (p, "copying the rw bind source for /", op->target);
          if (n == 0)
            break;
        }
      close (in);
      close (out);
      int copy = openat (stage, uname, O_PATH | O_CLOEXEC);
      if (copy < 0)
        die (p, "reopening the rw bind copy for /", op->target);
      bind_at (p, rootfd, op->target, false, copy, false);
      close (copy);
      return;
    }
  if (mkdirat (stage, uname, 0755) < 0 || mkdirat (stage, wname, 0700) < 0)
    die (p, "creating the rw bind overlay for /", op->target);
  int u = openat (stage, uname, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int w = openat (stage, wname, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (u < 0 || w < 0)
    die (p, "opening the rw bind overlay for /", op->target);
  bool ok = add_str (opts, &len, sizeof opts, "lowerdir=") && add_int (opts, &len, sizeof opts, src)
            && add_str (opts, &len, sizeof opts, ",upperdir=") && add_int (opts, &len, sizeof opts, u)
            && add_str (opts, &len, sizeof opts, ",workdir=") && add_int (opts, &len, sizeof opts, w);
  if (!ok)
    die (p, "rw bind overlay options", NULL);
  int t = ensure (rootfd, op->target, true);
  if (t < 0)
    die (p, "creating mountpoint /", op->target);
  fd_path (path, t);
  int here = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (here < 0 || chdir ("/proc/self/fd") < 0 || mount ("overlay", path, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
    die (p, "mounting the rw bind overlay on /", op->target);
  if (fchdir (here) < 0)
    die (p, "returning to the working directory", NULL);
  close (here);
  close (t);
  close (u);
  close (w);
}

/* Bind a host device node; the mount keeps the host /dev's flags (not nodev). */
static void
bind_dev (const sw_sandbox_plan *p, int rootfd, const char *rel, int host)
{
  char src[32], path[32];
  int fd = ensure (rootfd, rel, false);
  if (fd < 0)
    die (p, "creating /", rel);
  fd_path (src, host);
  fd_path (path, fd);
  if (mount (src, path, NULL, MS_BIND, NULL) < 0)
    die (p, "binding /", rel);
  close (fd);
}

static void
setup_dev (const sw_sandbox_plan *p, int rootfd)
{
  static const struct
  {
    const char *name;
    unsigned maj, min;
  } nodes[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
                { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
  static const struct
  {
    const char *name, *to;
  } links[] = { { "ptmx", "pts/ptmx" }, { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
                { "core", "/proc/kcore" } };
  char path[32];

  /* /dev is nodev like everything the step can write to (it holds CAP_MKNOD, and there is
   * no device cgroup): its nodes are the host's, bound one by one, as bubblewrap does */
  mount_at (p, rootfd, "dev", true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME,
            "mode=755,size=65536k");
  int dev = open_in (rootfd, "dev", O_PATH | O_DIRECTORY);
  if (dev < 0)
    die (p, "opening /dev", NULL);
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++)
    {
      char name[64] = "/dev/";
      memcpy (name + 5, nodes[i].name, strlen (nodes[i].name) + 1);
      int host = open (name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
      struct stat st;
      if (host < 0 || fstat (host, &st) < 0 || !S_ISCHR (st.st_mode)
          || st.st_rdev != makedev (nodes[i].maj, nodes[i].min))
        die (p, "the host lacks ", name);
      bind_dev (p, rootfd, name + 1, host);
      close (host);
    }
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlinkat (links[i].to, dev, links[i].name) < 0)
      die (p, "creating /dev/", links[i].name);
  const struct
  {
    const char *name, *type, *data;
    mode_t mode;
    unsigned long flags;
  } subs[] = {
    { "pts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", 0755, MS_NOSUID | MS_NOEXEC },
    { "shm", "tmpfs", p->shm_opts, 01777, MS_NOSUID | MS_NODEV | MS_NOEXEC },
    { "mqueue", "mqueue", NULL, 0755, MS_NOSUID | MS_NODEV | MS_NOEXEC },
  };
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
    {
      if (mkdirat (dev, subs[i].name, subs[i].mode) < 0)
        die (p, "creating /dev/", subs[i].name);
      int fd = openat (dev, subs[i].name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0)
        die (p, "opening /dev/", subs[i].name);
      fd_path (path, fd);
      if (mount (subs[i].type, path, subs[i].type, subs[i].flags, subs[i].data) < 0)
        {
          /* in a user namespace that maps only root, gid 5 (tty) does not exist */
          if (errno != EINVAL || strcmp (subs[i].type, "devpts") != 0
              || mount ("devpts", path, "devpts", subs[i].flags, "newinstance,ptmxmode=0666,mode=0620") < 0)
            die (p, "mounting /dev/", subs[i].name);
        }
      close (fd);
    }
  close (dev);
}

/* --ulimit NAME=SOFT:HARD, after the defaults (so nofile=… overrides them). */
static void
apply_ulimits (const sw_sandbox_plan *p)
{
  for (size_t i = 0; i < p->n_ulimits; i++)
    {
      struct rlimit rl = { (rlim_t) p->ulimits[i].soft, (rlim_t) p->ulimits[i].hard };
      if (syscall (SYS_prlimit64, 0, p->ulimits[i].resource, &rl, NULL) < 0)
        die (p, "setting a --ulimit", NULL);
    }
}

static void
mask_paths (const sw_sandbox_plan *p, int rootfd)
{
  char src[32], path[32];
  int null = open_in (rootfd, "dev/null", O_PATH);
  if (null < 0)
    die (p, "opening /dev/null", NULL);
  fd_path (src, null);
  for (const char *const *f = p->masked_files; f && *f; f++)
    {
      int fd = open_in (rootfd, *f, O_PATH | O_NOFOLLOW);
      if (fd < 0)
        continue; /* not on this kernel */
      fd_path (path, fd);
      struct stat st;
      if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
        {
          if (mount ("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0") < 0)
            die (p, "masking /", *f);
        }
      else if (mount (src, path, NULL, MS_BIND, NULL) < 0)
        die (p, "masking /", *f);
      close (fd);
    }
  close (null);
}

static void
loopback_up (const sw_sandbox_plan *p)
{
  struct ifreq ifr;
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    die (p, "socket for lo", NULL);
  memset (&ifr, 0, sizeof ifr);
  memcpy (ifr.ifr_name, "lo", 3);
  if (ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    die (p, "reading the flags of lo", NULL);
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    die (p, "bringing lo up", NULL);
  close (s);
}

/* Overwrite this process's argv area (what /proc/PID/cmdline shows) with "init". */
static void
blank_cmdline (void)
{
  char buf[2048];
  int fd = open ("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return;
  buf[n] = 0;
  char *s = strrchr (buf, ')');
  if (!s)
    return;
  /* fields after ")" start at 3 (state); arg_start is 48, arg_end 49 */
  unsigned long v[2] = { 0, 0 };
  int field = 2;
  for (char *c = s + 1; *c && field < 49; c++)
    if (*c == ' ')
      {
        field++;
        if (field == 48 || field == 49)
          {
            unsigned long x = 0;
            for (char *d = c + 1; *d >= '0' && *d <= '9'; d++)
              x = x * 10 + (unsigned long) (*d - '0');
            v[field - 48] = x;
          }
      }
  if (v[0] && v[1] > v[0] + 5)
    {
      memset ((void *) v[0], 0, v[1] - v[0]);
      memcpy ((void *) v[0], "init", 4);
    }
}

/* ---- the command ---- */

__attribute__ ((noreturn)) static void
exec_command (const sw_sandbox_plan *p)
{
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  char buf[4096];
  int out, err, null;

  setsid ();
  umask (022); /* docker's; the init ran with 0 to make /dev exactly */
  /* move the pipes out of the way of 0-2 before dup2 */
  out = fcntl (p->out_fd, F_DUPFD_CLOEXEC, 10);
  err = fcntl (p->err_fd, F_DUPFD_CLOEXEC, 10);
  null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (out < 0 || err < 0 || null < 0 || dup2 (null, 0) < 0 || dup2 (out, 1) < 0 || dup2 (err, 2) < 0)
    die (p, "setting up stdio", NULL);
  /* whatever else this copy of slipway holds (an engine's sockets, a library's fd opened
   * without O_CLOEXEC, a host directory) must not reach the command */
  if (syscall (SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
    die (p, "marking inherited fds close-on-exec", NULL);

  struct rlimit nofile = { 1048576, 1048576 };
  if (syscall (SYS_prlimit64, 0, RLIMIT_NOFILE, &nofile, NULL) < 0)
    {
      /* the host caps nr_open lower: take what it allows */
      struct rlimit cur;
      if (syscall (SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &cur) == 0)
        {
          cur.rlim_cur = cur.rlim_max;
          syscall (SYS_prlimit64, 0, RLIMIT_NOFILE, &cur, NULL);
        }
    }
  apply_ulimits (p);

  if (chdir (p->workdir) < 0)
    {
      /* WORKDIR is made when missing, as BuildKit does: root-owned, 0755 */
      char dir[4096];
      size_t n = strlen (p->workdir);
      if (errno != ENOENT || n >= sizeof dir)
        die (p, "changing to the working directory ", p->workdir);
      memcpy (dir, p->workdir, n + 1);
      for (size_t i = 1; i <= n; i++)
        if (dir[i] == '/' || dir[i] == 0)
          {
            char saved = dir[i];
            dir[i] = 0;
            if (mkdir (dir, 0755) < 0 && errno != EEXIST)
              die (p, "creating the working directory ", dir);
            dir[i] = saved;
          }
      if (chdir (p->workdir) < 0)
        die (p, "changing to the working directory ", p->workdir);
    }

  for (int cap = 0; cap <= p->last_cap; cap++)
    if (!(p->keep_caps & (1ULL << cap)) && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
      die (p, "dropping capabilities from the bounding set", NULL);
  prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  memset (data, 0, sizeof data);
  data[0].effective = data[0].permitted = (uint32_t) p->keep_caps;
  data[1].effective = data[1].permitted = (uint32_t) (p->keep_caps >> 32);
  if (syscall (SYS_capset, &hdr, data) < 0)
    die (p, "setting capabilities", NULL);

  if (syscall (SYS_setgroups, p->ngroups, p->groups) < 0 && !(errno == EPERM && setgroups_denied ()))
    die (p, "setting supplementary groups", NULL);
  if (syscall (SYS_setresgid, p->gid, p->gid, p->gid) < 0)
    die (p, "setting the group id", NULL);
  if (syscall (SYS_setresuid, p->uid, p->uid, p->uid) < 0)
    die (p, "setting the user id", NULL);
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    die (p, "setting no_new_privs", NULL);
  if (p->seccomp && prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p->seccomp, 0, 0) < 0)
    die (p, "loading the seccomp profile", NULL);

  const char *cmd = p->argv[0];
  int saved = ENOENT;
  if (strchr (cmd, '/'))
    {
      execve (cmd, (char *const *) p->argv, (char *const *) p->envp);
      saved = errno;
      send_msg (p->sync_fd, SW_MSG_EXEC, saved, "exec: \"", cmd, "\"");
      _exit (127);
    }
  bool eacces = false;
  const char *s = p->path_env;
  while (1)
    {
      const char *e = strchr (s, ':');
      size_t dl = e ? (size_t) (e - s) : strlen (s);
      size_t cl = strlen (cmd);
      if (dl == 0)
        buf[0] = '.', dl = 1;
      else if (dl < sizeof buf)
        memcpy (buf, s, dl);
      if (dl + 1 + cl + 1 <= sizeof buf)
        {
          buf[dl] = '/';
          memcpy (buf + dl + 1, cmd, cl + 1);
          execve (buf, (char *const *) p->argv, (char *const *) p->envp);
          if (errno == EACCES)
            eacces = true;
          else if (errno != ENOENT && errno != ENOTDIR)
            {
              send_msg (p->sync_fd, SW_MSG_EXEC, errno, "exec: \"", cmd, "\"");
              _exit (127);
            }
        }
      if (!e)
        break;
      s = e + 1;
    }
  send_msg (p->sync_fd, SW_MSG_EXEC, eacces ? EACCES : ENOENT, "exec: \"", cmd,
            eacces ? "\": permission denied" : "\": executable file not found in $PATH");
  _exit (127);
}

void
sw_sandbox_child (const sw_sandbox_plan *p)
{
  char path[32];

  prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  umask (0);
  /* the own network first: the sysfs mounted below shows the namespace's interfaces */
  if (p->net_fd >= 0 && setns (p->net_fd, CLONE_NEWNET) < 0)
    die (p, "joining the steps' network namespace", NULL);
  int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0)
    die (p, "opening the working directory", NULL);
  if (mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
    die (p, "making mounts private", NULL);
  /* the overlay options name lower, upper and work dirs by fd number */
  {
    char opts[4096];
    size_t len = 0;
    bool ok = add_str (opts, &len, sizeof opts, "lowerdir=");
    for (size_t i = 0; p->lowers[i]; i++)
      {
        int fd = open (p->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
          die (p, "opening lower dir ", p->lowers[i]);
        ok = ok && (i == 0 || add_str (opts, &len, sizeof opts, ":")) && add_int (opts, &len, sizeof opts, fd);
      }
    int ufd = open (p->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int wfd = open (p->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ufd < 0 || wfd < 0)
      die (p, "opening the upper and work dirs ", p->upper);
    ok = ok && add_str (opts, &len, sizeof opts, ",upperdir=") && add_int (opts, &len, sizeof opts, ufd)
         && add_str (opts, &len, sizeof opts, ",workdir=") && add_int (opts, &len, sizeof opts, wfd)
         /* no redirects, metacopy or index: the upper dir must be a plain, complete diff */
         && add_str (opts, &len, sizeof opts, ",index=off,metacopy=off,redirect_dir=off");
    size_t base_len = len;
    /* volatile: no syncs of the upper fs, above all none at unmount, which would sync the
     * whole host filesystem (hundreds of ms on a busy disk); a step's upper dir is worth
     * nothing after a crash anyway.  Kernels before 5.10 lack it. */
    ok = ok && add_str (opts, &len, sizeof opts, ",volatile");
    if (!ok)
      {
        errno = E2BIG;
        die (p, "too many lower dirs for one overlay mount", NULL);
      }
    /* the mountpoint by fd too: relative paths stay relative to slipway's cwd */
    int mfd = open (p->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (mfd < 0)
      die (p, "opening the mountpoint ", p->merged);
    char mpath[32];
    fd_path (mpath, mfd);
    if (chdir ("/proc/self/fd") < 0)
      die (p, "chdir /proc/self/fd", NULL);
    if (mount ("overlay", mpath, "overlay", MS_NODEV, opts) < 0)
      {
        opts[base_len] = 0;
        len = base_len;
        if (errno != EINVAL || mount ("overlay", mpath, "overlay", MS_NODEV, opts) < 0)
          {
            /* in a user namespace (slipway itself run in one, as `debug emu run` is in
             * tests) overlayfs refuses trusted.* xattrs: userxattr keeps its metadata in
             * user.overlay.* (what a layer's packer reads with userxattr), and implies
             * redirect_dir=nofollow (no redirects made either), which =off contradicts */
            static const char no_redirect[] = ",redirect_dir=off";
            len = base_len - (sizeof no_redirect - 1);
            opts[len] = 0;
            if (errno != EPERM || !add_str (opts, &len, sizeof opts, ",userxattr")
                || mount ("overlay", mpath, "overlay", MS_NODEV, opts) < 0)
              die (p, "mounting the overlay rootfs", NULL);
          }
      }
    if (fchdir (cwd) < 0)
      die (p, "returning to the working directory", NULL);
    close (mfd);
  }
  int rootfd = open (p->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    die (p, "opening the rootfs", NULL);

  /* read-write only for RUN --security=insecure (with --allow security.insecure) */
  unsigned long ro = p->insecure ? 0 : MS_RDONLY;
  mount_at (p, rootfd, "proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL);
  mount_sys (p, rootfd, ro);
  setup_dev (p, rootfd);

  int stage = -1;
#define STAGE()                                                                                    \
  do                                                                                               \
    if (stage < 0)                                                                                 \
      {                                                                                            \
        if (mount ("tmpfs", p->staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") < 0)           \
          die (p, "mounting the staging tmpfs", NULL);                                             \
        stage = open (p->staging, O_PATH | O_DIRECTORY | O_CLOEXEC);                               \
        if (stage < 0)                                                                             \
          die (p, "opening the staging tmpfs", NULL);                                              \
      }                                                                                            \
  while (0)
  for (size_t i = 0; i < p->n_ops; i++)
    {
      const sw_op *op = &p->ops[i];
      switch (op->kind)
        {
        case SW_OP_BIND:
          {
            int src;
            if (op->src_lowers)
              {
                STAGE ();
                src = open_tree_src (p, stage, op, i);
              }
            else
              src = open_src (p, op);
            if (op->discard_writes)
              {
                STAGE ();
                discard_bind (p, rootfd, stage, op, src, i);
              }
            else
              bind_at (p, rootfd, op->target, op->target_is_dir, src, op->readonly);
            close (src);
            break;
          }
        case SW_OP_TMPFS:
          mount_at (p, rootfd, op->target, true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, op->data);
          break;
        case SW_OP_FILE:
          {
            char name[32];
            STAGE ();
            fd_path (name, (int) i); /* a unique name: "/proc/self/fd/I" → take the tail */
            const char *base = strrchr (name, '/') + 1;
            int fd = openat (stage, base, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0)
              die (p, "staging the content of /", op->target);
            if (sw_write_all (fd, op->content, op->content_len) < 0)
              die (p, "staging the content of /", op->target);
            if (fchown (fd, op->uid, op->gid) < 0 || fchmod (fd, op->mode) < 0)
              die (p, "setting owner and mode of /", op->target);
            close (fd);
            int src = openat (stage, base, O_PATH | O_CLOEXEC);
            if (src < 0)
              die (p, "reopening staged /", op->target);
            bind_at (p, rootfd, op->target, false, src, op->readonly);
            close (src);
            break;
          }
        }
    }
  mask_paths (p, rootfd);
  /* emulation (emu/emu.h): our /proc/<pid> on the host's proc, before it goes away */
  int emu_procfd = -1;
  const char *emu_what = NULL;
  if (sw_emu_child_pre (p->emu, &emu_procfd, &emu_what) < 0)
    die (p, emu_what, NULL);

  if (fchdir (rootfd) < 0)
    die (p, "entering the rootfs", NULL);
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    die (p, "pivot_root", NULL);
  if (umount2 (".", MNT_DETACH) < 0)
    die (p, "detaching the old root", NULL);
  if (chdir ("/") < 0)
    die (p, "chdir /", NULL);
  close (rootfd);
  if (stage >= 0)
    close (stage);
  if (p->net_none)
    loopback_up (p);
  if (sethostname (p->hostname, strlen (p->hostname)) < 0)
    die (p, "setting the hostname", NULL);
  /* emulation: private binfmt_misc in a new user namespace, before caps and seccomp */
  if (sw_emu_child_enter (p->emu, emu_procfd, &emu_what) < 0)
    die (p, emu_what, NULL);

  pid_t pid = (pid_t) syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0)
    die (p, "starting the process", NULL);
  if (pid == 0)
    exec_command (p);

  /* init: hold nothing the step could use, reap, exit with the command's status */
  (void) path;
  syscall (SYS_close_range, 0U, ~0U, 0U);
  /* ps in the step shows this init, not slipway's command line (which may name files the
   * step has no business knowing) */
  prctl (PR_SET_NAME, "init", 0, 0, 0);
  blank_cmdline ();
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct none[2];
    memset (none, 0, sizeof none);
    syscall (SYS_capset, &hdr, none);
  }
  for (;;)
    {
      int st;
      pid_t w = (pid_t) syscall (SYS_wait4, -1, &st, 0, NULL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        _exit (126);
      if (w == pid)
        {
          if (WIFEXITED (st))
            _exit (WEXITSTATUS (st));
          _exit (128 + WTERMSIG (st));
        }
    }
}
