/* emu/emu.c — preparing emulation for one platform of one build (see emu.h). */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "emu/binfmt.h"
#include "emu/emu.h"

#define DEFAULT_BINFMT_DIR "/proc/sys/fs/binfmt_misc"
/* Inside the build's root, where the sandbox has mounted /proc. */
#define CHILD_BINFMT_DIR "/proc/sys/fs/binfmt_misc"

struct sw_emu
{
  sw_emu_binfmt_mode mode;
  const sw_emu_arch *arch;
  char *platform;     /* formatted, for messages */
  char *interpreter;  /* QEMU, or the existing entry's interpreter */
  char *binfmt_dir;   /* the host's binfmt_misc */
  char *entry_name;   /* EXISTING: theirs; HOST: ours */
  char *child_line;   /* PRIVATE: the register line, through /proc/self/fd/N */
  int qemu_fd;        /* PRIVATE: O_PATH to QEMU, -1 otherwise */
  pid_t reaper;       /* HOST */
  int keepalive;      /* HOST */
};

static const char *const mode_names[] = { "auto", "existing", "private", "host" };

int
sw_emu_binfmt_mode_parse (const char *s, sw_emu_binfmt_mode *mode, sw_error **err)
{
  for (int i = 0; i < 4; i++)
    if (strcmp (s, mode_names[i]) == 0)
      {
        *mode = (sw_emu_binfmt_mode) i;
        return 0;
      }
  return sw_error_make (err, EINVAL, "invalid binfmt mode \"%s\": expected auto, existing, private or host", s);
}

const char *
sw_emu_binfmt_mode_name (sw_emu_binfmt_mode mode)
{
  return (unsigned) mode < 4 ? mode_names[mode] : "?";
}

/* Probed once per process (two builds in two threads may ask at once). */
static pthread_once_t private_once = PTHREAD_ONCE_INIT;
static bool private_supported;

static void
probe_private (void)
{
  private_supported = sw_binfmt_private_probe (DEFAULT_BINFMT_DIR);
}

bool
sw_emu_private_supported (void)
{
  pthread_once (&private_once, probe_private);
  return private_supported;
}

static int
prepare_private (sw_emu *e, const sw_platform *target, const char *search, sw_error **err)
{
  if (sw_emu_find_qemu (target, search, &e->interpreter, err) < 0)
    return -1;
  /* The child registers after pivot_root, where QEMU's path is gone: it names the file
   * through this descriptor instead.  Not the host's file but a sealed copy: for an
   * emulated process /proc/self/exe is the interpreter, and a step that could reach the
   * host's QEMU through it could rewrite what every later foreign build runs (runc's
   * CVE-2019-5736, the same way).  O_CLOEXEC, so the step's program never holds it. */
  e->qemu_fd = sw_emu_sealed_copy (e->interpreter, err);
  if (e->qemu_fd < 0)
    return -1;
  cleanup_free char *via_fd = sw_xasprintf ("/proc/self/fd/%d", e->qemu_fd);
  cleanup_free char *name = sw_xasprintf ("slipway-%s", e->arch->qemu);
  e->child_line = sw_emu_register_line (e->arch, name, via_fd);
  e->mode = SW_EMU_BINFMT_PRIVATE;
  return 0;
}

static int
prepare_host (sw_emu *e, const sw_platform *target, const char *search, sw_error **err)
{
  static atomic_uint counter;
  if (sw_emu_find_qemu (target, search, &e->interpreter, err) < 0)
    return -1;
  e->entry_name = sw_xasprintf (SW_BINFMT_TEMP_PREFIX "%s-%d-%u", e->arch->qemu, (int) getpid (),
                                atomic_fetch_add (&counter, 1));
  cleanup_free char *entry_path = sw_xasprintf ("%s/%s", e->binfmt_dir, e->entry_name);
  cleanup_free char *line = sw_emu_register_line (e->arch, e->entry_name, e->interpreter);
  /* The reaper first: from the moment the entry exists, something will remove it. */
  if (sw_binfmt_reaper_start (entry_path, &e->reaper, &e->keepalive, err) < 0)
    return sw_error_wrap (err, "binfmt_misc cleanup process");
  if (sw_binfmt_register (e->binfmt_dir, line, err) < 0)
    return -1;
  e->mode = SW_EMU_BINFMT_HOST;
  sw_info ("emulation: registered %s for %s on the host until the build ends", e->entry_name, e->platform);
  return 0;
}

/* A working host entry: *found 0 none, 1 without P, 2 with P.  Kept in E only if TAKE
 * allows that kind. */
static int
find_existing (sw_emu *e, int *found, sw_error **err)
{
  char *name = NULL, *interp = NULL;
  bool p = false;
  if (sw_binfmt_find_existing (e->binfmt_dir, e->arch, &name, &interp, &p, err) < 0)
    return -1;
  *found = name == NULL ? 0 : p ? 2 : 1;
  free (e->entry_name);
  free (e->interpreter);
  e->entry_name = name;
  e->interpreter = interp;
  return 0;
}

static void
use_existing (sw_emu *e, int found)
{
  e->mode = SW_EMU_BINFMT_EXISTING;
  if (found == 1)
    sw_warn ("emulation for %s: the host's binfmt_misc entry %s has no P flag: multi-call binaries (busybox) "
             "will see a wrong argv[0]",
             e->platform, e->entry_name);
}

static void
forget_existing (sw_emu *e)
{
  free (e->entry_name);
  free (e->interpreter);
  e->entry_name = e->interpreter = NULL;
}

int
sw_emu_prepare (const sw_platform *host, const sw_platform *target, const sw_emu_options *opts, sw_emu **out,
                sw_error **err)
{
  static const sw_emu_options defaults = { SW_EMU_BINFMT_AUTO, NULL, NULL };
  cleanup_platform sw_platform this_host = SW_PLATFORM_INIT;
  bool emulate = false;
  int found = 0;
  int rc = 0;

  *out = NULL;
  if (host == NULL)
    {
      if (sw_platform_host (&this_host, err) < 0)
        return -1;
      host = &this_host;
    }
  /* The gate: a native platform goes no further, so it cannot touch binfmt_misc or QEMU. */
  if (sw_emu_need (host, target, &emulate, err) < 0)
    return -1;
  if (!emulate)
    return 0;

  sw_emu *e = sw_xzalloc (sizeof *e);
  if (opts == NULL)
    opts = &defaults;
  e->qemu_fd = -1;
  e->keepalive = -1;
  e->platform = sw_platform_format (target);
  e->binfmt_dir = sw_xstrdup (opts->binfmt_dir ? opts->binfmt_dir : DEFAULT_BINFMT_DIR);
  e->arch = sw_emu_arch_for (target); /* not NULL: sw_emu_need() checked */

  switch (opts->mode)
    {
    case SW_EMU_BINFMT_AUTO:
      if ((rc = find_existing (e, &found, err)) < 0)
        break;
      if (found == 2)
        use_existing (e, found);
      else if (sw_emu_private_supported ())
        {
          forget_existing (e);
          rc = prepare_private (e, target, opts->qemu_search, err);
        }
      else if (found == 1)
        use_existing (e, found);
      else
        rc = prepare_host (e, target, opts->qemu_search, err);
      break;
    case SW_EMU_BINFMT_EXISTING:
      if ((rc = find_existing (e, &found, err)) == 0 && !found)
        rc = sw_error_make (err, ENOENT,
                            "platform %s: the host has no working binfmt_misc registration for %s in %s (enabled, "
                            "with the F flag)",
                            e->platform, e->arch->qemu, e->binfmt_dir);
      else if (rc == 0)
        use_existing (e, found);
      break;
    case SW_EMU_BINFMT_PRIVATE:
      if (!sw_emu_private_supported ())
        rc = sw_error_make (err, ENOTSUP,
                            "platform %s: this kernel has no binfmt_misc instance per user namespace (needs Linux "
                            "6.7 or later, and user namespaces)",
                            e->platform);
      else
        rc = prepare_private (e, target, opts->qemu_search, err);
      break;
    case SW_EMU_BINFMT_HOST:
      rc = prepare_host (e, target, opts->qemu_search, err);
      break;
    }
  if (rc < 0)
    {
      sw_emu_release (e);
      return -1;
    }
  sw_debug ("emulation for %s: %s, interpreter %s", e->platform, sw_emu_binfmt_mode_name (e->mode), e->interpreter);
  *out = e;
  return 0;
}

sw_emu_binfmt_mode
sw_emu_mode (const sw_emu *e)
{
  return e->mode;
}

const char *
sw_emu_interpreter (const sw_emu *e)
{
  return e->interpreter;
}

const char *
sw_emu_entry_name (const sw_emu *e)
{
  return e->mode == SW_EMU_BINFMT_PRIVATE ? NULL : e->entry_name;
}

int
sw_emu_child_pre (const sw_emu *e, int *procfd, const char **what)
{
  *procfd = -1;
  if (e == NULL || e->mode != SW_EMU_BINFMT_PRIVATE)
    return 0;
  /* our /proc/<pid> on the host's proc, which stays writable, unlike the build's /proc */
  *procfd = open ("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*procfd < 0)
    {
      *what = "opening /proc/self for emulation";
      return -1;
    }
  return 0;
}

int
sw_emu_child_enter (const sw_emu *e, int procfd, const char **what)
{
  struct stat st;
  if (e == NULL || e->mode != SW_EMU_BINFMT_PRIVATE)
    return 0;
  if (procfd < 0)
    {
      errno = EBADF;
      *what = "emulation: sw_emu_child_pre() was not called";
      return -1;
    }
  if (stat (CHILD_BINFMT_DIR, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      *what = "emulation: /proc/sys/fs/binfmt_misc is missing in the build's root (is /proc mounted?)";
      return -1;
    }
  int rc = sw_binfmt_private_enter (procfd, CHILD_BINFMT_DIR, CHILD_BINFMT_DIR "/register", e->child_line, what);
  int saved = errno;
  close (procfd);
  errno = saved;
  return rc;
}

void
sw_emu_release (sw_emu *e)
{
  if (e == NULL)
    return;
  if (e->reaper > 0 || e->keepalive >= 0)
    sw_binfmt_reaper_stop (e->reaper, e->keepalive); /* removes our entry, then exits */
  if (e->qemu_fd >= 0)
    close (e->qemu_fd);
  free (e->platform);
  free (e->interpreter);
  free (e->binfmt_dir);
  free (e->entry_name);
  free (e->child_line);
  free (e);
}
