/* cli/imagetools.c — `slipway imagetools inspect|create`, as buildx has them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
usage (FILE *out)
{
  fprintf (out, "Usage: slipway imagetools COMMAND\n\n"
                "Commands to work on images in registries\n\n"
                "Commands:\n"
                "  create      Create a new image based on source images\n"
                "  inspect     Show details of an image in the registry\n\n"
                "Options for both:\n"
                "      --insecure-registry HOST[:PORT]   reach HOST over plain HTTP or without verifying TLS\n");
}

/* Collects the option values shared by both subcommands. */
struct opts
{
  const char **tags;
  size_t n_tags;
  const char **insecure;
  size_t n_insecure;
  const char **args;
  size_t n_args;
  int raw;
  const char *platform;
};

static void
push (const char ***v, size_t *n, const char *s)
{
  *v = realloc (*v, (*n + 2) * sizeof **v);
  if (*v == NULL)
    abort ();
  (*v)[(*n)++] = s;
  (*v)[*n] = NULL;
}

static int
parse (int argc, char **argv, struct opts *o, int allow_tag, int allow_raw)
{
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *val = NULL;
      if (strcmp (a, "--") == 0)
        {
          for (i++; i < argc; i++)
            push (&o->args, &o->n_args, argv[i]);
          break;
        }
      if (allow_raw && strcmp (a, "--raw") == 0)
        {
          o->raw = 1;
          continue;
        }
      int is_tag = allow_tag && (strcmp (a, "-t") == 0 || strcmp (a, "--tag") == 0 || strncmp (a, "--tag=", 6) == 0);
      int is_insecure = strcmp (a, "--insecure-registry") == 0 || strncmp (a, "--insecure-registry=", 20) == 0;
      int is_platform = allow_raw && (strcmp (a, "--platform") == 0 || strncmp (a, "--platform=", 11) == 0);
      if (is_tag || is_insecure || is_platform)
        {
          const char *eq = strchr (a, '=');
          if (eq && a[1] == '-')
            val = eq + 1;
          else if (i + 1 < argc)
            val = argv[++i];
          else
            {
              cli_fail ("flag needs an argument: %s", a);
              return -1;
            }
          if (is_platform)
            o->platform = val;
          else if (is_tag)
            push (&o->tags, &o->n_tags, val);
          else
            push (&o->insecure, &o->n_insecure, val);
          continue;
        }
      if (a[0] == '-' && a[1] != '\0')
        {
          cli_fail ("unknown flag: %s", a);
          return -1;
        }
      push (&o->args, &o->n_args, a);
    }
  return 0;
}

static void
opts_free (struct opts *o)
{
  free (o->tags);
  free (o->insecure);
  free (o->args);
}

static int
inspect (int argc, char **argv)
{
  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway imagetools inspect [OPTIONS] NAME\n\nShow details of an image in the registry\n\n"
              "Options:\n      --raw               Show original, unformatted JSON manifest\n"
              "      --platform string   Show the image for this platform only (slipway extension)\n");
      return 0;
    }
  struct opts o = { 0 };
  if (parse (argc, argv, &o, 0, 1) < 0)
    return opts_free (&o), 2;
  if (o.n_args != 1)
    {
      cli_fail ("\"imagetools inspect\" requires exactly 1 argument");
      opts_free (&o);
      return 2;
    }
  sw_error *err = NULL;
  int rc = sw_imagetools_inspect (o.args[0], o.platform, o.raw, o.insecure, stdout, &err);
  opts_free (&o);
  if (rc < 0)
    return cli_report (err);
  return 0;
}

static int
create (int argc, char **argv)
{
  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway imagetools create [OPTIONS] [SOURCE] [SOURCE...]\n\n"
              "Create a new image based on source images\n\n"
              "Options:\n  -t, --tag stringArray   Set reference for new image\n");
      return 0;
    }
  struct opts o = { 0 };
  if (parse (argc, argv, &o, 1, 0) < 0)
    return opts_free (&o), 2;
  if (o.n_tags == 0)
    {
      cli_fail ("imagetools create: at least one --tag is required");
      opts_free (&o);
      return 2;
    }
  if (o.n_args == 0)
    {
      cli_fail ("imagetools create: no source images given");
      opts_free (&o);
      return 2;
    }
  sw_error *err = NULL;
  char digest[SW_IMAGE_DIGEST_BUFSZ];
  int rc = sw_imagetools_create (o.tags, o.args, o.insecure, digest, &err);
  opts_free (&o);
  if (rc < 0)
    return cli_report (err);
  fprintf (stderr, "pushed %s\n", digest);
  return 0;
}

int
cli_imagetools (int argc, char **argv)
{
  if (getenv ("SLIPWAY_DEBUG") && *getenv ("SLIPWAY_DEBUG"))
    sw_set_log_level (SW_LOG_DEBUG);
  if (argc < 2 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "--help") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (strcmp (argv[1], "inspect") == 0)
    return inspect (argc - 1, argv + 1);
  if (strcmp (argv[1], "create") == 0)
    return create (argc - 1, argv + 1);
  cli_fail ("unknown imagetools command \"%s\": use inspect or create", argv[1]);
  return 2;
}
