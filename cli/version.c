/* cli/version.c — `slipway version`. */
#include <stdio.h>

#include "cli/cli.h"

int
cli_version (int argc, char **argv)
{
  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway version\n\nShow slipway's version.\n");
      return 0;
    }
  if (argc > 1)
    {
      cli_fail ("version takes no arguments");
      return 2;
    }
  printf ("slipway %s\n", sw_version ());
  return 0;
}
