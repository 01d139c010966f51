/* cli/main.c — `slipway COMMAND …`: dispatch to the subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
  { "bake", cli_bake, "Build several images from a file (docker buildx bake), published together" },
  { "build", cli_build, "Build an image from a Dockerfile (flags as docker buildx build)" },
  { "buildx", cli_buildx, "The docker buildx commands (what the docker-buildx plugin runs)" },
  { "debug", cli_debug, "Inspect how slipway reads its input (debug ast FILE)" },
  { "imagetools", cli_imagetools, "Commands to work on images in registries (inspect, create)" },
  { "login", cli_login, "Log in to a registry" },
  { "logout", cli_logout, "Log out from a registry" },
  { "publish", cli_publish, "Move the tags of images pushed by digest, all together (--from METADATA)" },
  { "prune", cli_prune, "Remove cached layers and build caches from the state dir" },
  { "version", cli_version, "Show the version" },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: slipway COMMAND [OPTIONS]\n\n"
                "Build container images from Dockerfiles, natively, streaming layers to the registry.\n\n"
                "Commands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'slipway COMMAND --help' for more information on a command.\n");
}

void
cli_fail (const char *fmt, ...)
{
  va_list ap;
  fputs ("slipway: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  fputc ('\n', stderr);
}

int
cli_report (sw_error *err)
{
  cli_fail ("%s", err ? sw_error_message (err) : "unknown error");
  sw_error_free (err);
  return 1;
}

int
cli_wants_help (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--") == 0)
        return 0;
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        return 1;
    }
  return 0;
}

/* The library's messages outside a build: "slipway: warning: …" on stderr (during a build
 * they arrive as SW_EVENT_LOG and the progress display prints them). */
static void
print_log (sw_log_level level, const char *msg, void *userdata)
{
  static const char *const names[] = { "error", "warning", "info", "debug" };
  (void) userdata;
  fprintf (stderr, "slipway: %s: %s\n", (unsigned) level < 4 ? names[level] : "log", msg);
}

int
main (int argc, char **argv)
{
  sw_set_log_callback (print_log, NULL);
  const char *self = argc > 0 ? strrchr (argv[0], '/') : NULL;

  /* installed as the docker CLI plugin docker-buildx (a link to this binary) */
  self = self ? self + 1 : argc > 0 ? argv[0] : "";
  if (strcmp (self, "docker-buildx") == 0)
    return cli_buildx_plugin (argc, argv);
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  if (strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "help") == 0)
    {
      usage (stdout);
      return 0;
    }
  if (strcmp (argv[1], "--version") == 0 || strcmp (argv[1], "-v") == 0)
    return cli_version (1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  cli_fail ("unknown command \"%s\": run 'slipway --help' for the list", argv[1]);
  return 2;
}
