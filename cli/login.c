/* cli/login.c — `slipway login` and `slipway logout`, writing docker's config.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int
cli_login (int argc, char **argv)
{
  if (getenv ("SLIPWAY_DEBUG") && *getenv ("SLIPWAY_DEBUG"))
    sw_set_log_level (SW_LOG_DEBUG);
  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway login [OPTIONS] [SERVER]\n\n"
              "Log in to a registry (docker.io when SERVER is omitted); credentials go to\n"
              "$DOCKER_CONFIG/config.json (~/.docker/config.json), as docker login writes them.\n\n"
              "Options:\n"
              "  -u, --username string            Username\n"
              "  -p, --password string            Password (prefer --password-stdin)\n"
              "      --password-stdin             Take the password from stdin\n"
              "      --insecure-registry HOST     reach HOST over plain HTTP or without verifying TLS\n");
      return 0;
    }
  const char *user = NULL, *pass = NULL, *server = NULL;
  const char *insecure[2] = { NULL, NULL };
  int from_stdin = 0;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char **slot = NULL;
      if (strcmp (a, "-u") == 0 || strcmp (a, "--username") == 0)
        slot = &user;
      else if (strcmp (a, "-p") == 0 || strcmp (a, "--password") == 0)
        slot = &pass;
      else if (strcmp (a, "--insecure-registry") == 0)
        slot = &insecure[0];
      else if (strncmp (a, "--username=", 11) == 0)
        user = a + 11;
      else if (strncmp (a, "--password=", 11) == 0)
        pass = a + 11;
      else if (strcmp (a, "--password-stdin") == 0)
        from_stdin = 1;
      else if (a[0] == '-')
        {
          cli_fail ("unknown flag: %s", a);
          return 2;
        }
      else if (server == NULL)
        server = a;
      else
        {
          cli_fail ("\"login\" requires at most 1 argument");
          return 2;
        }
      if (slot)
        {
          if (i + 1 >= argc)
            {
              cli_fail ("flag needs an argument: %s", a);
              return 2;
            }
          *slot = argv[++i];
        }
    }
  char *line = NULL;
  if (from_stdin)
    {
      if (pass)
        {
          cli_fail ("--password and --password-stdin are mutually exclusive");
          return 2;
        }
      if (user == NULL)
        {
          cli_fail ("must provide --username with --password-stdin");
          return 2;
        }
      size_t cap = 0;
      ssize_t n = getline (&line, &cap, stdin);
      if (n <= 0)
        {
          free (line);
          cli_fail ("no password on stdin");
          return 1;
        }
      while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
      pass = line;
    }
  else if (pass)
    fprintf (stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  if (user == NULL || pass == NULL)
    {
      free (line);
      cli_fail ("login needs --username and a password (--password-stdin)");
      return 2;
    }
  sw_error *err = NULL;
  int rc = sw_registry_login (server, user, pass, insecure, &err);
  if (line)
    {
      memset (line, 0, strlen (line));
      free (line);
    }
  if (rc < 0)
    return cli_report (err);
  printf ("Login Succeeded\n");
  return 0;
}

int
cli_logout (int argc, char **argv)
{
  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway logout [SERVER]\n\nLog out from a registry (remove its credentials from config.json)\n");
      return 0;
    }
  if (argc > 2)
    {
      cli_fail ("\"logout\" requires at most 1 argument");
      return 2;
    }
  sw_error *err = NULL;
  const char *server = argc == 2 ? argv[1] : NULL;
  if (sw_registry_logout (server, &err) < 0)
    return cli_report (err);
  printf ("Removing login credentials for %s\n", server ? server : "https://index.docker.io/v1/");
  return 0;
}
