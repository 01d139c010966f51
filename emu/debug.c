/* emu/debug.c — `slipway debug emu …`: the emulation decisions and a minimal runner, for
 * tests and for looking at what slipway would do.  The runner is not the build sandbox
 * (exec/ owns that): just enough namespaces to run one command in a root directory the
 * way a RUN step would be run, with sw_emu_child_pre() and sw_emu_child_enter() where the
 * sandbox calls them.
 *
 *   slipway debug emu host                       the host platform
 *   slipway debug emu probe                      private binfmt_misc instances: yes | no
 *   slipway debug emu decide PLATFORM [--no-run] native | emulated
 *   slipway debug emu run [--platform P] [--binfmt MODE] [--qemu-path DIRS] ROOTFS CMD…
 *
 * run: a native platform never reaches sw_emu_prepare(), so it neither reads binfmt_misc
 * nor looks for QEMU.  ROOTFS gets a /proc directory if it has none (the command runs
 * with ROOTFS as its root, /proc mounted, in new mount and pid namespaces).  The way the
 * emulation was arranged goes to stderr: "emulation: linux/arm64: private …".
 */
#include <errno.h>
#include <fcntl.h>
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

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "emu/emu.h"
#include "slipway-debug.h" /* defines sw_debug_emu */

static const char usage[] = "usage: slipway debug emu host|probe\n"
                            "       slipway debug emu decide PLATFORM [--no-run]\n"
                            "       slipway debug emu run [--platform P] [--binfmt auto|existing|private|host]\n"
                            "                             [--qemu-path DIR[:DIR…]] ROOTFS CMD…";

/* The child side: runs as pid 1 of a new pid namespace. Returns only on failure. */
static void
run_child (const char *rootfs, char **cmd, const sw_emu *emu, int errfd)
{
  const char *what = "";
  int procfd = -1;
  cleanup_free char *proc = sw_xasprintf ("%s/proc", rootfs);

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  what = "make / private";
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    goto fail;
  what = "bind the root";
  if (mount (rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    goto fail;
  what = "mkdir proc";
  if (mkdir (proc, 0555) < 0 && errno != EEXIST)
    goto fail;
  what = "mount proc";
  /* read-only, as the sandbox mounts it */
  if (mount ("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
    goto fail;
  if (sw_emu_child_pre (emu, &procfd, &what) < 0)
    goto fail;
  what = "chdir";
  if (chdir (rootfs) < 0)
    goto fail;
  what = "pivot_root";
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    goto fail;
  what = "detach the old root";
  if (umount2 (".", MNT_DETACH) < 0 || chdir ("/") < 0)
    goto fail;
  if (sw_emu_child_enter (emu, procfd, &what) < 0)
    goto fail;
  setenv ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  execvp (cmd[0], cmd);
  dprintf (errfd, "exec %s: %s", cmd[0], strerror (errno));
  _exit (127);
fail:
  dprintf (errfd, "%s: %s", what, strerror (errno));
  _exit (125);
}

static int
run (int argc, char **argv, FILE *info, sw_error **err)
{
  const char *platform = NULL, *qemu_path = NULL;
  sw_emu_options opts = { SW_EMU_BINFMT_AUTO, NULL, NULL };
  int i = 0;

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (i + 1 >= argc)
        return sw_error_make (err, EINVAL, "%s needs a value\n%s", argv[i], usage);
      if (strcmp (argv[i], "--platform") == 0)
        platform = argv[++i];
      else if (strcmp (argv[i], "--binfmt") == 0)
        {
          if (sw_emu_binfmt_mode_parse (argv[++i], &opts.mode, err) < 0)
            return -1;
        }
      else if (strcmp (argv[i], "--qemu-path") == 0)
        qemu_path = argv[++i];
      else
        return sw_error_make (err, EINVAL, "unknown option %s\n%s", argv[i], usage);
    }
  if (argc - i < 2)
    return sw_error_make (err, EINVAL, "run needs ROOTFS and a command\n%s", usage);
  opts.qemu_search = qemu_path;
  const char *rootfs = argv[i];
  char **cmd = argv + i + 1;

  cleanup_platform sw_platform host = SW_PLATFORM_INIT, target = SW_PLATFORM_INIT;
  if (sw_platform_host (&host, err) < 0)
    return -1;
  if (platform == NULL)
    sw_platform_copy (&target, &host);
  else if (sw_platform_parse (platform, &target, err) < 0)
    return -1;
  /* Always through prepare, as the engine does: for a native platform it returns no
   * handle without touching anything (the strace test in tests/integration/emu.sh). */
  sw_emu *emu = NULL;
  cleanup_free char *pf = sw_platform_format (&target);
  if (sw_emu_prepare (&host, &target, &opts, &emu, err) < 0)
    return -1;
  if (emu)
    fprintf (info, "emulation: %s: %s, interpreter %s%s%s\n", pf, sw_emu_binfmt_mode_name (sw_emu_mode (emu)),
             sw_emu_interpreter (emu), sw_emu_entry_name (emu) ? ", entry " : "",
             sw_emu_entry_name (emu) ? sw_emu_entry_name (emu) : "");
  else
    fprintf (info, "emulation: %s: native\n", pf);
  fflush (info);

  int errpipe[2];
  if (pipe2 (errpipe, O_CLOEXEC) < 0)
    {
      sw_emu_release (emu);
      return sw_error_errno (err, "pipe");
    }
  pid_t parent = getpid ();
  pid_t pid = fork ();
  if (pid == 0)
    {
      close (errpipe[0]);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent) /* died before the prctl: nobody would kill us */
        _exit (125);
      if (unshare (CLONE_NEWNS | CLONE_NEWPID) < 0)
        {
          dprintf (errpipe[1], "unshare: %s", strerror (errno));
          _exit (125);
        }
      pid_t init = fork ();
      if (init == 0)
        run_child (rootfs, cmd, emu, errpipe[1]);
      close (errpipe[1]);
      int st = 0;
      if (init < 0 || waitpid (init, &st, 0) < 0)
        _exit (125);
      _exit (WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st));
    }
  close (errpipe[1]);
  if (pid < 0)
    {
      close (errpipe[0]);
      sw_emu_release (emu);
      return sw_error_errno (err, "fork");
    }
  char msg[1024];
  ssize_t n;
  while ((n = read (errpipe[0], msg, sizeof msg - 1)) < 0 && errno == EINTR)
    ;
  close (errpipe[0]);
  int st = 0;
  while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
    ;
  sw_emu_release (emu);
  if (n > 0)
    {
      msg[n] = '\0';
      return sw_error_make (err, 0, "running %s in %s: %s", cmd[0], rootfs, msg);
    }
  return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

int
sw_debug_emu (int argc, char **argv, FILE *out, FILE *info, sw_error **err)
{
  if (argc >= 1 && strcmp (argv[0], "host") == 0 && argc == 1)
    {
      cleanup_platform sw_platform host = SW_PLATFORM_INIT;
      if (sw_platform_host (&host, err) < 0)
        return -1;
      cleanup_free char *s = sw_platform_format (&host);
      fprintf (out, "%s\n", s);
      return 0;
    }
  if (argc == 1 && strcmp (argv[0], "probe") == 0)
    {
      fprintf (out, "private binfmt_misc: %s\n", sw_emu_private_supported () ? "yes" : "no");
      return 0;
    }
  if (argc >= 2 && argc <= 3 && strcmp (argv[0], "decide") == 0)
    {
      bool has_run = !(argc == 3 && strcmp (argv[2], "--no-run") == 0);
      if (argc == 3 && has_run)
        return sw_error_make (err, EINVAL, "unknown option %s\n%s", argv[2], usage);
      cleanup_platform sw_platform host = SW_PLATFORM_INIT, target = SW_PLATFORM_INIT;
      bool emulate;
      if (sw_platform_host (&host, err) < 0 || sw_platform_parse (argv[1], &target, err) < 0
          || sw_emu_stage_needs (&host, &target, has_run, &emulate, err) < 0)
        return -1;
      cleanup_free char *s = sw_platform_format (&target);
      fprintf (out, "%s %s\n", s, emulate ? "emulated" : "native");
      return 0;
    }
  if (argc >= 1 && strcmp (argv[0], "run") == 0)
    return run (argc - 1, argv + 1, info, err);
  return sw_error_make (err, EINVAL, "%s", usage);
}
