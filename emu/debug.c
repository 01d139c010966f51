/* emu/debug.c — `slipway debug emu host|probe|decide`: the emulation decisions, for tests
 * and for looking at what slipway would do.
 *
 *   slipway debug emu host                       the host platform
 *   slipway debug emu probe                      private binfmt_misc instances: yes | no
 *   slipway debug emu decide PLATFORM [--no-run] native | emulated
 *
 * `slipway debug emu run` runs a command through the build sandbox, which is above emu/:
 * it lives in sandbox/debug.c, which hands everything else to sw_emu_debug().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "emu/emu.h"
#include "slipway-debug.h" /* defines sw_debug_emu */

const char sw_emu_debug_usage[] = "usage: slipway debug emu host|probe\n"
                                      "       slipway debug emu decide PLATFORM [--no-run]\n"
                                      "       slipway debug emu run [--platform P] [--binfmt auto|existing|private|host]\n"
                                      "                             [--qemu-path DIR[:DIR…]] ROOTFS CMD…";

int
sw_emu_debug (int argc, char **argv, FILE *out, sw_error **err)
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
        return sw_error_make (err, EINVAL, "unknown option %s\n%s", argv[2], sw_emu_debug_usage);
      cleanup_platform sw_platform host = SW_PLATFORM_INIT, target = SW_PLATFORM_INIT;
      bool emulate;
      if (sw_platform_host (&host, err) < 0 || sw_platform_parse (argv[1], &target, err) < 0
          || sw_emu_stage_needs (&host, &target, has_run, &emulate, err) < 0)
        return -1;
      cleanup_free char *s = sw_platform_format (&target);
      fprintf (out, "%s %s\n", s, emulate ? "emulated" : "native");
      return 0;
    }
  return sw_error_make (err, EINVAL, "%s", sw_emu_debug_usage);
}
