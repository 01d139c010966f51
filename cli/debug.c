/* cli/debug.c — `slipway debug ast FILE`: how slipway reads a Dockerfile. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char debug_usage[] =
  "Usage: slipway debug ast FILE\n"
  "       slipway debug emu host|probe|decide|run …   (emulation: see `slipway debug emu`)\n"
  "       slipway debug run [OPTIONS] -- CMD…  (see slipway debug run --help)\n"
  "       slipway debug plan FILE [--target T] [--build-arg K=V]… [--platform P]\n\n"
  "Print the Dockerfile FILE's syntax tree in BuildKit's dump format, one instruction a\n"
  "line.  A file that does not parse is an error with its line and column.\n";

int
cli_debug (int argc, char **argv)
{
  sw_error *err = NULL;

  if (argc >= 2 && strcmp (argv[1], "run") == 0)
    return cli_debug_run (argc - 1, argv + 1);
  if (cli_wants_help (argc, argv))
    {
      fputs (debug_usage, stdout);
      return 0;
    }
  if (argc >= 2 && strcmp (argv[1], "emu") == 0)
    {
      int rc = sw_debug_emu (argc - 2, argv + 2, stdout, stderr, &err);
      return rc < 0 ? cli_report (err) : rc;
    }
  if (argc >= 2 && strcmp (argv[1], "plan") == 0)
    return sw_debug_plan (argc - 2, argv + 2, stdout, &err) < 0 ? cli_report (err) : 0;
  if (argc != 3 || strcmp (argv[1], "ast") != 0)
    {
      fputs (debug_usage, stderr);
      return 2;
    }
  if (sw_dockerfile_dump_ast (argv[2], stdout, &err) < 0)
    return cli_report (err);
  return 0;
}
