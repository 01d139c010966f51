/* cli/debug_run.c — `slipway debug run [OPTIONS] -- CMD…`: one command in the RUN sandbox. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char run_usage[] =
  "Usage: slipway debug run [OPTIONS] -- CMD [ARG…]\n\n"
  "Run CMD the way a RUN step runs: namespaces, overlayfs, seccomp, capabilities.\n\n"
  "Options:\n"
  "  --rootfs DIR       the root filesystem (same as one --lower)\n"
  "  --lower DIR        a snapshot below the step, bottom first (repeatable)\n"
  "  --upper DIR        empty dir that receives the step's changes (default: discarded)\n"
  "  --state-dir DIR    slipway's state (default /var/lib/slipway)\n"
  "  --network MODE     default (an own network through pasta), none or host\n"
  "  --user USER        name or uid[:gid], resolved in the rootfs\n"
  "  --workdir DIR      working directory (created if missing)\n"
  "  --hostname NAME    (default buildkitsandbox)\n"
  "  --platform P       run as platform P (os/arch[/variant]); QEMU when foreign\n"
  "  --env KEY=VALUE    (repeatable)\n"
  "  --mount SPEC       a RUN --mount spec (repeatable)\n"
  "  --context DIR      where bind mounts read from (default .)\n"
  "  --secret SPEC      id=ID,src=PATH or id=ID,env=VAR (repeatable)\n"
  "  --ssh SPEC         default or ID=SOCKET (repeatable)\n"
  "  --add-host H:IP    an /etc/hosts entry (repeatable)\n";

typedef struct list
{
  const char **v;
  size_t n;
} list;

static void
push (list *l, const char *s)
{
  const char **v = realloc (l->v, (l->n + 2) * sizeof *v);
  if (!v)
    abort ();
  l->v = v;
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

static void
on_output (int stream, const char *line, size_t len, void *userdata)
{
  FILE *f = stream == 2 ? stderr : stdout;
  (void) userdata;
  fwrite (line, 1, len, f);
  fputc ('\n', f);
  fflush (f);
}

static void
on_signal (int sig)
{
  (void) sig;
  sw_cancel ();
}

int
cli_debug_run (int argc, char **argv)
{
  sw_debug_run_options o;
  list lowers = { 0 }, env = { 0 }, mounts = { 0 }, secrets = { 0 }, ssh = { 0 }, hosts = { 0 };
  sw_error *err = NULL;
  int i, code = -1;

  memset (&o, 0, sizeof o);
  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--") == 0)
        {
          i++;
          break;
        }
      if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0)
        {
          fputs (run_usage, stdout);
          return 0;
        }
      if (a[0] != '-')
        break;
      const char *eq = strchr (a, '=');
      char name[32];
      const char *val;
      if (eq && a[1] == '-')
        {
          snprintf (name, sizeof name, "%.*s", (int) (eq - a), a);
          val = eq + 1;
        }
      else
        {
          snprintf (name, sizeof name, "%s", a);
          if (i + 1 >= argc)
            {
              cli_fail ("flag needs an argument: %s", a);
              return 2;
            }
          val = argv[++i];
        }
      if (strcmp (name, "--rootfs") == 0 || strcmp (name, "--lower") == 0)
        push (&lowers, val);
      else if (strcmp (name, "--upper") == 0)
        o.upper = val;
      else if (strcmp (name, "--state-dir") == 0)
        o.state_dir = val;
      else if (strcmp (name, "--network") == 0)
        o.network = val;
      else if (strcmp (name, "--user") == 0)
        o.user = val;
      else if (strcmp (name, "--workdir") == 0)
        o.workdir = val;
      else if (strcmp (name, "--hostname") == 0)
        o.hostname = val;
      else if (strcmp (name, "--platform") == 0)
        o.platform = val;
      else if (strcmp (name, "--context") == 0)
        o.context = val;
      else if (strcmp (name, "--env") == 0 || strcmp (name, "-e") == 0)
        push (&env, val);
      else if (strcmp (name, "--mount") == 0)
        push (&mounts, val);
      else if (strcmp (name, "--secret") == 0)
        push (&secrets, val);
      else if (strcmp (name, "--ssh") == 0)
        push (&ssh, val);
      else if (strcmp (name, "--add-host") == 0)
        push (&hosts, val);
      else
        {
          cli_fail ("unknown flag: %s", name);
          return 2;
        }
    }
  if (i >= argc)
    {
      fputs (run_usage, stderr);
      return 2;
    }
  o.lowers = lowers.v;
  o.env = env.v;
  o.mounts = mounts.v;
  o.secrets = secrets.v;
  o.ssh = ssh.v;
  o.add_hosts = hosts.v;
  o.output = on_output;

  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  int r = sw_debug_run (&o, (const char *const *) argv + i, &code, &err);
  free (lowers.v);
  free (env.v);
  free (mounts.v);
  free (secrets.v);
  free (ssh.v);
  free (hosts.v);
  if (r < 0)
    {
      cli_report (err);
      /* the command's own status when it ran, as `docker run` does; 125 when it never did */
      return code > 0 ? code : code == 0 ? 1 : 125;
    }
  return 0;
}
