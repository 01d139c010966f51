/* emu/binfmt.c — binfmt_misc: reading the host's entries, a temporary host entry with its
 * reaper, and a private instance in a new user namespace (see emu.h for the contract).
 * Only sw_emu_prepare() and sw_emu_child_enter() lead here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/io.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "emu/binfmt.h"

#define MAX_MAGIC 128

/* Read a small file (binfmt_misc entries are under a page). */
static char *
read_small (int dirfd, const char *name)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *buf = sw_xmalloc (4097);
  size_t len = 0;
  for (;;)
    {
      ssize_t n = read (fd, buf + len, 4096 - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      len += (size_t) n;
      if (len == 4096)
        break;
    }
  buf[len] = '\0';
  return buf;
}

static size_t
unhex (const char *s, unsigned char *out, size_t max)
{
  size_t n = 0;
  while (s[0] && s[1] && n < max)
    {
      unsigned v;
      if (sscanf (s, "%2x", &v) != 1)
        break;
      out[n++] = (unsigned char) v;
      s += 2;
    }
  return n;
}

/* Does the entry text (the format of /proc/sys/fs/binfmt_misc/NAME) describe an enabled,
 * F-flagged magic entry that recognizes HDR?  On success copies the interpreter. */
bool
sw_binfmt_entry_matches (const char *text, const unsigned char *hdr, size_t hdr_len, char **interpreter,
                         bool *preserve_argv0)
{
  bool enabled = false, flag_f = false, flag_p = false, have_magic = false, have_mask = false;
  int offset = 0;
  unsigned char magic[MAX_MAGIC], mask[MAX_MAGIC];
  size_t magic_len = 0, mask_len = 0;
  cleanup_free char *interp = NULL;
  cleanup_free char *copy = sw_xstrdup (text);
  char *save = NULL;

  for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    {
      if (strcmp (line, "enabled") == 0)
        enabled = true;
      else if (strncmp (line, "interpreter ", 12) == 0)
        {
          free (interp);
          interp = sw_xstrdup (line + 12);
        }
      else if (strncmp (line, "flags: ", 7) == 0 || strcmp (line, "flags:") == 0)
        {
          flag_f = strchr (line + 6, 'F') != NULL;
          flag_p = strchr (line + 6, 'P') != NULL;
        }
      else if (strncmp (line, "offset ", 7) == 0)
        offset = atoi (line + 7);
      else if (strncmp (line, "magic ", 6) == 0)
        {
          magic_len = unhex (line + 6, magic, MAX_MAGIC);
          have_magic = true;
        }
      else if (strncmp (line, "mask ", 5) == 0)
        {
          mask_len = unhex (line + 5, mask, MAX_MAGIC);
          have_mask = true;
        }
    }
  /* Without F the kernel opens the interpreter at exec time, inside the build's root,
   * where there is no QEMU: such an entry does not work for containers. */
  if (!enabled || !flag_f || !have_magic || interp == NULL || magic_len == 0)
    return false;
  if (have_mask && mask_len != magic_len)
    return false;
  if (offset < 0 || (size_t) offset + magic_len > hdr_len)
    return false;
  for (size_t i = 0; i < magic_len; i++)
    {
      unsigned char m = have_mask ? mask[i] : 0xff;
      if ((hdr[offset + i] ^ magic[i]) & m)
        return false;
    }
  if (interpreter)
    *interpreter = steal_pointer (&interp);
  if (preserve_argv0)
    *preserve_argv0 = flag_p;
  return true;
}

int
sw_binfmt_find_existing (const char *dir, const sw_emu_arch *a, char **name, char **interpreter,
                         bool *preserve_argv0, sw_error **err)
{
  unsigned char hdr[SW_EMU_MAGIC_LEN];
  cleanup_close int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  *name = NULL;
  *interpreter = NULL;
  *preserve_argv0 = false;
  if (dfd < 0)
    {
      if (errno == ENOENT)
        return 0;
      return sw_error_errno (err, "open %s", dir);
    }
  cleanup_free char *status = read_small (dfd, "status");
  if (status == NULL || strncmp (status, "enabled", 7) != 0)
    return 0; /* not mounted (an empty dir) or switched off */

  sw_emu_arch_sample_header (a, hdr);
  int dup_fd = dup (dfd);
  if (dup_fd < 0)
    return sw_error_errno (err, "dup");
  cleanup_dir DIR *d = fdopendir (dup_fd);
  if (d == NULL)
    {
      close (dup_fd);
      return sw_error_errno (err, "opendir %s", dir);
    }
  /* The first match, but one with the P flag over one without. */
  struct dirent *de;
  while ((de = readdir (d)))
    {
      char *interp = NULL;
      bool p = false;
      if (de->d_name[0] == '.' || strcmp (de->d_name, "register") == 0 || strcmp (de->d_name, "status") == 0)
        continue;
      /* Another build's temporary entry goes away when that build ends: never ours to use. */
      if (strncmp (de->d_name, SW_BINFMT_TEMP_PREFIX, strlen (SW_BINFMT_TEMP_PREFIX)) == 0)
        continue;
      cleanup_free char *text = read_small (dfd, de->d_name);
      if (text == NULL || !sw_binfmt_entry_matches (text, hdr, sizeof hdr, &interp, &p))
        continue;
      if (*name == NULL || (p && !*preserve_argv0))
        {
          free (*name);
          free (*interpreter);
          *name = sw_xstrdup (de->d_name);
          *interpreter = interp;
          *preserve_argv0 = p;
        }
      else
        free (interp);
    }
  return 0;
}

int
sw_binfmt_register (const char *dir, const char *line, sw_error **err)
{
  cleanup_free char *reg = sw_xasprintf ("%s/register", dir);
  cleanup_close int fd = open (reg, O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return sw_error_errno (err, "open %s (binfmt_misc is not mounted: mount -t binfmt_misc binfmt_misc %s)", reg, dir);
  if (fd < 0)
    return sw_error_errno (err, "open %s", reg);
  /* binfmt_misc takes a registration in one write(2). */
  ssize_t n = write (fd, line, strlen (line));
  if (n < 0)
    return sw_error_errno (err, "register with %s", reg);
  return 0;
}

/* Remove DIR/NAME by writing "-1" to it.  Async-signal-safe apart from the caller's path. */
static void
remove_entry_path (const char *path)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      (void) sw_write_all (fd, "-1", 2);
      close (fd);
    }
}

/* ---- the reaper ------------------------------------------------------------------- */
/* It removes the entry when the build process exits (a pidfd becomes readable: any exit,
 * SIGKILL included) or when sw_binfmt_reaper_stop() writes to the pipe — whichever comes
 * first.  Watching the process itself, not only the pipe's EOF, matters: a child the build
 * forked may still hold a copy of the pipe's write end. */

int
sw_binfmt_reaper_start (const char *entry_path, pid_t *pid, int *keepalive, sw_error **err)
{
  int p[2];
  pid_t build = getpid ();
  if (pipe2 (p, O_CLOEXEC) < 0)
    return sw_error_errno (err, "pipe");
  pid_t child = fork ();
  if (child < 0)
    {
      close (p[0]);
      close (p[1]);
      return sw_error_errno (err, "fork");
    }
  if (child == 0)
    {
      /* Out of the build's session and process group, deaf to the signals that end a
       * build, holding nothing of the build but the read end. */
      signal (SIGINT, SIG_IGN);
      signal (SIGTERM, SIG_IGN);
      signal (SIGHUP, SIG_IGN);
      signal (SIGQUIT, SIG_IGN);
      setsid ();
      close (p[1]);
      int pidfd = (int) syscall (SYS_pidfd_open, build, 0);
      /* still our parent after opening: the pidfd is the build's, not a reused pid's */
      bool alive = pidfd >= 0 && getppid () == build;
      if (alive)
        {
          /* Keep the read end and the pidfd as 3 and 4, /dev/null on 0-2, nothing else:
           * the reaper must not hold the build's pipes open (a caller waiting for EOF on
           * our stderr would wait for it). */
          int fds[2] = { p[0], pidfd };
          for (int i = 0; i < 2; i++)
            {
              int moved = fcntl (fds[i], F_DUPFD, 5);
              if (moved < 0)
                _exit (1);
              fds[i] = moved;
            }
          if (dup2 (fds[0], 3) < 0 || dup2 (fds[1], 4) < 0 || chdir ("/") < 0)
            alive = false;
          syscall (SYS_close_range, 5U, ~0U, 0U);
          int null = open ("/dev/null", O_RDWR);
          if (null >= 0)
            {
              dup2 (null, 0);
              dup2 (null, 1);
              dup2 (null, 2);
              if (null > 4)
                close (null);
            }
        }
      while (alive)
        {
          struct pollfd w[2] = { { 3, POLLIN, 0 }, { 4, POLLIN, 0 } };
          int n = poll (w, 2, -1);
          if (n < 0 && errno == EINTR)
            continue;
          break; /* the build released us, or exited, or poll failed: remove */
        }
      remove_entry_path (entry_path);
      _exit (0);
    }
  close (p[0]);
  *pid = child;
  *keepalive = p[1];
  return 0;
}

void
sw_binfmt_reaper_stop (pid_t pid, int keepalive)
{
  if (keepalive >= 0)
    {
      (void) sw_write_all (keepalive, "x", 1);
      close (keepalive);
    }
  if (pid > 0)
    while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
      ;
}

/* ---- private instance -------------------------------------------------------------- */
/* Everything below runs in a sandbox child made by clone3 from a multithreaded process:
 * no allocation, no stdio, no libc function that takes a lock, raw clone for children. */

static int
fail_at (const char **what, const char *step)
{
  if (what)
    *what = step;
  return -1;
}

/* Move the calling (real-root) process into a new user namespace mapping every id to
 * itself.  The map must be written from the parent namespace, so a helper child still
 * in it writes it, through PROCFD (our /proc/<pid> directory on a writable proc). */
static int
enter_identity_userns (int procfd, const char **what)
{
  int go[2];
  static const char map[] = "0 0 4294967295\n";

  if (pipe2 (go, O_CLOEXEC) < 0)
    return fail_at (what, "pipe for the user namespace helper");
  pid_t helper = (pid_t) syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (helper < 0)
    {
      int e = errno;
      close (go[0]);
      close (go[1]);
      errno = e;
      return fail_at (what, "starting the user namespace helper");
    }
  if (helper == 0)
    {
      char c;
      close (go[1]);
      if (read (go[0], &c, 1) != 1)
        _exit (2);
      int fd = openat (procfd, "uid_map", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || sw_write_all (fd, map, sizeof map - 1) < 0)
        _exit (3);
      close (fd);
      fd = openat (procfd, "gid_map", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || sw_write_all (fd, map, sizeof map - 1) < 0)
        _exit (4);
      close (fd);
      _exit (0);
    }
  close (go[0]);
  int rc = unshare (CLONE_NEWUSER);
  int saved = errno;
  if (rc == 0)
    (void) sw_write_all (go[1], "x", 1);
  close (go[1]);
  int status = 0;
  while (waitpid (helper, &status, 0) < 0 && errno == EINTR)
    ;
  if (rc < 0)
    {
      errno = saved;
      return fail_at (what, "unshare(CLONE_NEWUSER) for emulation");
    }
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      errno = EPERM;
      return fail_at (what, "writing the identity uid/gid map of the emulation's user namespace");
    }
  return 0;
}

int
sw_binfmt_private_enter (int procfd, const char *mountpoint, const char *register_path, const char *line,
                         const char **what)
{
  if (enter_identity_userns (procfd, what) < 0)
    return -1;
  /* A mount namespace owned by the new user namespace: binfmt_misc mounted here is a new
   * instance, tied to this user namespace, and the host's entries are not seen in it. */
  if (unshare (CLONE_NEWNS) < 0)
    return fail_at (what, "unshare(CLONE_NEWNS) for emulation");
  if (mount ("binfmt_misc", mountpoint, "binfmt_misc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return fail_at (what, "mounting a private binfmt_misc instance (needs Linux 6.7 or later)");
  if (line == NULL)
    return 0;
  int fd = open (register_path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return fail_at (what, "opening the private binfmt_misc register file");
  ssize_t n;
  size_t len = strlen (line);
  do
    n = write (fd, line, len); /* one write: binfmt_misc takes a registration whole */
  while (n < 0 && errno == EINTR);
  int e = errno;
  close (fd);
  errno = e;
  if (n < 0)
    return fail_at (what, "registering QEMU in the private binfmt_misc instance");
  /* read-only from now on: the step is root in this user namespace, and binfmt_misc
   * checks no capability for writes to status or an entry — but it cannot remount */
  if (mount (NULL, mountpoint, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    return fail_at (what, "making the private binfmt_misc instance read-only");
  return 0;
}

bool
sw_binfmt_private_probe (const char *mountpoint)
{
  pid_t pid = fork ();
  if (pid < 0)
    return false;
  if (pid == 0)
    {
      /* a child of a possibly multithreaded process: system calls only, no logging */
      const char *what = NULL;
      int procfd = open ("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
      /* in a new mount namespace first, so the probe's mount is never seen anywhere */
      if (procfd < 0 || unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        _exit (1);
      _exit (sw_binfmt_private_enter (procfd, mountpoint, NULL, NULL, &what) < 0 ? 1 : 0);
    }
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
  sw_debug ("binfmt_misc instance per user namespace: %s", ok ? "supported" : "not supported");
  return ok;
}
