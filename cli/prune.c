/* cli/prune.c — `slipway prune [--state-dir DIR]`: empty the state dir. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char prune_usage[] =
  "Usage: slipway prune [--state-dir DIR]\n\n"
  "Remove extracted base layers, RUN cache mounts and the scratch of dead builds from the\n"
  "state dir (default /var/lib/slipway).  Refuses while a build is using it.\n";

int
cli_prune (int argc, char **argv)
{
  const char *dir = NULL;
  sw_error *err = NULL;
  uint64_t freed = 0;

  if (cli_wants_help (argc, argv))
    {
      fputs (prune_usage, stdout);
      return 0;
    }
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--state-dir") == 0 && i + 1 < argc)
        dir = argv[++i];
      else if (strncmp (argv[i], "--state-dir=", 12) == 0)
        dir = argv[i] + 12;
      else
        {
          fputs (prune_usage, stderr);
          return 2;
        }
    }
  if (sw_prune (dir, &freed, &err) < 0)
    return cli_report (err);
  printf ("Total reclaimed space: %.1f MB\n", (double) freed / 1e6);
  return 0;
}
