/* emu/decide.c — native or emulated?  Pure: no binfmt_misc, no QEMU (see emu.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "emu/emu.h"

/* "vN" → N, or 0 when absent/unparsable. */
static int
arm_level (const char *variant)
{
  if (variant == NULL || variant[0] != 'v')
    return 0;
  return atoi (variant + 1);
}

/* Can this arm64 host run AArch32 code?  The kernel refuses PER_LINUX32 when the CPU has
 * no 32-bit EL0 (arch/arm64: personality checks system_supports_32bit_el0()).  Probed in
 * a child so the build process's own personality never changes. */
static pthread_once_t aarch32_once = PTHREAD_ONCE_INIT;
static bool aarch32_ok;

static void
probe_aarch32 (void)
{
  pid_t pid = fork ();
  if (pid == 0)
    _exit (personality (PER_LINUX32) < 0 ? 1 : 0);
  int status = 0;
  if (pid < 0)
    return;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return;
  aarch32_ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

static bool
aarch32_supported (void)
{
  pthread_once (&aarch32_once, probe_aarch32);
  return aarch32_ok;
}

static bool
runs_natively (const sw_platform *host, const sw_platform *target)
{
  const char *h = host->arch, *t = target->arch;
  if (strcmp (h, t) == 0)
    {
      if (strcmp (t, "arm") == 0)
        return arm_level (target->variant) <= arm_level (host->variant);
      return true;
    }
  if (strcmp (h, "amd64") == 0 && strcmp (t, "386") == 0)
    return true;
  if (strcmp (h, "arm64") == 0 && strcmp (t, "arm") == 0)
    return arm_level (target->variant) <= 8 && aarch32_supported ();
  return false;
}

int
sw_emu_need (const sw_platform *host, const sw_platform *target, bool *emulate, sw_error **err)
{
  cleanup_platform sw_platform h = SW_PLATFORM_INIT, t = SW_PLATFORM_INIT;
  sw_platform_copy (&h, host);
  sw_platform_copy (&t, target);

  if (strcmp (t.os, "linux") != 0 || strcmp (h.os, "linux") != 0)
    {
      cleanup_free char *ts = sw_platform_format (&t);
      return sw_error_make (err, ENOTSUP, "platform %s: slipway builds linux images on linux only", ts);
    }
  if (runs_natively (&h, &t))
    {
      *emulate = false;
      return 0;
    }
  if (sw_emu_arch_for (&t) == NULL)
    {
      cleanup_free char *ts = sw_platform_format (&t);
      return sw_error_make (err, ENOTSUP,
                            "platform %s: no emulator known for architecture \"%s\" (supported: amd64, arm64, "
                            "arm, 386, riscv64, ppc64le, ppc64, s390x, loong64)",
                            ts, t.arch);
    }
  *emulate = true;
  return 0;
}

int
sw_emu_stage_needs (const sw_platform *host, const sw_platform *stage_platform, bool has_run,
                    bool *emulate, sw_error **err)
{
  if (!has_run)
    {
      *emulate = false;
      return 0;
    }
  return sw_emu_need (host, stage_platform, emulate, err);
}
