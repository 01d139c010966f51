/* cli/buildx.c — the `docker buildx` face: slipway as the docker CLI plugin docker-buildx.
 *
 * `make install-buildx-plugin` links ~/.docker/cli-plugins/docker-buildx to the slipway
 * binary.  The docker CLI runs a plugin as `docker-buildx docker-cli-plugin-metadata` to
 * learn about it, and `docker buildx ARGS…` as `docker-buildx buildx ARGS…`; main() sends
 * both here when argv[0]'s name is docker-buildx.  `slipway buildx ARGS…` is the same
 * face without the plugin.
 *
 * What each command does, as buildx users (and docker/build-push-action) expect:
 *   build, b     slipway build (the same flags)
 *   imagetools   slipway imagetools
 *   version      "github.com/docker/buildx v0.29.0-slipway 0.1.0": the buildx release
 *                whose flags slipway build follows, then slipway's own version
 *   inspect, ls  one builder, "slipway", with one node, "slipway0"
 *   du, prune    the state dir's size; slipway prune
 *   create, use, rm, stop   nothing to do (what docker/setup-buildx-action runs succeeds)
 * Any builder name (--builder, BUILDX_BUILDER, create --name) stands for the one builder,
 * with a notice on stderr.  Everything else (bake, history, …) fails saying slipway does
 * not have it.
 *
 * The BuildKit version shown is "slipway-VERSION", which is no semantic version: tools that
 * switch BuildKit features on by version (build-push-action's default provenance
 * attestation) leave them off instead of asking for what slipway cannot do.
 */
#include <ftw.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/cli.h"

/* The buildx release whose `build` flags slipway's follow. */
#define BUILDX_COMPAT "0.29.0"
#define BUILDER_NAME "slipway"
#define NODE_NAME "slipway0"
#define DEFAULT_STATE_DIR "/var/lib/slipway"

static void
buildx_usage (FILE *out)
{
  fprintf (out,
           "Usage:  docker buildx [OPTIONS] COMMAND\n\n"
           "Extended build capabilities, provided by slipway (native builds, no daemon)\n\n"
           "Options:\n"
           "      --builder string   Override the configured builder instance (any name means slipway's one)\n"
           "  -D, --debug            Enable debug logging\n\n"
           "Commands:\n"
           "  build       Start a build (slipway build)\n"
           "  du          Disk usage of slipway's state dir\n"
           "  imagetools  Commands to work on images in registry\n"
           "  inspect     Inspect the builder\n"
           "  ls          List builders\n"
           "  prune       Remove build cache (slipway prune)\n"
           "  version     Show buildx version information\n\n"
           "Run 'docker buildx COMMAND --help' for more information on a command.\n");
}

/* Any builder name stands for slipway's one builder: docker/setup-buildx-action creates one
 * with a generated name and build-push-action then passes --builder NAME, and a workflow
 * that uses both must build unchanged.  The substitution is said once on stderr, never
 * silent. */
static void
note_builder (const char *name)
{
  static bool said;
  if (name == NULL || *name == '\0' || strcmp (name, BUILDER_NAME) == 0 || strcmp (name, "default") == 0 || said)
    return;
  said = true;
  fprintf (stderr, "slipway: builder \"%s\" stands for slipway's only builder, \"%s\" (it builds in this process)\n",
           name, BUILDER_NAME);
}

/* Removes --builder NAME / --builder=NAME from argv in place; returns the new argc. */
static int
strip_builder (int argc, char **argv)
{
  int out = 0;
  for (int i = 0; i < argc; i++)
    {
      const char *name = NULL;
      if (i > 0 && strcmp (argv[i], "--") == 0)
        {
          while (i < argc)
            argv[out++] = argv[i++];
          break;
        }
      if (i > 0 && strcmp (argv[i], "--builder") == 0 && i + 1 < argc)
        name = argv[++i];
      else if (i > 0 && strncmp (argv[i], "--builder=", 10) == 0)
        name = argv[i] + 10;
      else
        {
          argv[out++] = argv[i];
          continue;
        }
      note_builder (name);
    }
  argv[out] = NULL;
  return out;
}

/* ---- platforms: the host's, then those QEMU can run ------------------------------------ */

struct arch
{
  const char *machine; /* uname -m */
  const char *platform;
  const char *qemu;    /* qemu-ARCH */
};

static const struct arch arches[] = {
  { "x86_64", "linux/amd64", "x86_64" },   { "aarch64", "linux/arm64", "aarch64" },
  { "riscv64", "linux/riscv64", "riscv64" }, { "ppc64le", "linux/ppc64le", "ppc64le" },
  { "s390x", "linux/s390x", "s390x" },     { "i686", "linux/386", "i386" },
  { "armv7l", "linux/arm/v7", "arm" },     { "mips64", "linux/mips64le", "mips64el" },
  { "loongarch64", "linux/loong64", "loongarch64" },
};
#define N_ARCHES (sizeof arches / sizeof *arches)

static bool
qemu_available (const char *qemu)
{
  static const char *const dirs[] = { "/usr/bin", "/usr/local/bin", "/usr/libexec/qemu-binfmt" };
  for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++)
    for (int s = 0; s < 2; s++)
      {
        char path[256];
        snprintf (path, sizeof path, "%s/qemu-%s%s", dirs[d], qemu, s ? "" : "-static");
        if (access (path, X_OK) == 0)
          return true;
      }
  return false;
}

/* Writes the platforms comma-separated ("linux/amd64, linux/arm64"), host first. */
static void
print_platforms (FILE *out, const char *sep)
{
  struct utsname u;
  const struct arch *host = NULL;
  bool first = true;

  if (uname (&u) == 0)
    for (size_t i = 0; i < N_ARCHES; i++)
      if (strcmp (u.machine, arches[i].machine) == 0)
        host = &arches[i];
  if (host)
    {
      fputs (host->platform, out);
      first = false;
      if (strcmp (host->platform, "linux/amd64") == 0)
        fprintf (out, "%slinux/386", sep); /* IA32 emulation, as emu/ assumes */
    }
  for (size_t i = 0; i < N_ARCHES; i++)
    if (&arches[i] != host && qemu_available (arches[i].qemu)
        && !(host && strcmp (host->platform, "linux/amd64") == 0 && strcmp (arches[i].platform, "linux/386") == 0))
      {
        fprintf (out, "%s%s", first ? "" : sep, arches[i].platform);
        first = false;
      }
}

/* ---- the commands ---------------------------------------------------------------------- */

static int
buildx_version (int argc, char **argv)
{
  (void) argv;
  if (argc > 1 && !cli_wants_help (argc, argv))
    {
      cli_fail ("\"docker buildx version\" accepts no arguments");
      return 2;
    }
  printf ("github.com/docker/buildx v" BUILDX_COMPAT "-slipway %s\n", sw_version ());
  return 0;
}

static int
buildx_inspect (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--bootstrap") == 0)
        continue;
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          printf ("Usage:  docker buildx inspect [NAME]\n\nInspect the builder (slipway has one: \"%s\")\n",
                  BUILDER_NAME);
          return 0;
        }
      if (argv[i][0] == '-')
        {
          cli_fail ("unknown flag: %s", argv[i]);
          return 2;
        }
      note_builder (argv[i]);
    }
  printf ("Name:          %s\n"
          "Driver:        slipway\n\n"
          "Nodes:\n"
          "Name:             %s\n"
          "Endpoint:         local\n"
          "Status:           running\n"
          "BuildKit version: slipway-%s\n"
          "Platforms:        ",
          BUILDER_NAME, NODE_NAME, sw_version ());
  print_platforms (stdout, ", ");
  putchar ('\n');
  return 0;
}

static int
buildx_ls (int argc, char **argv)
{
  bool json = false;
  for (int i = 1; i < argc; i++)
    {
      const char *fmt = NULL;
      if (strcmp (argv[i], "--format") == 0 && i + 1 < argc)
        fmt = argv[++i];
      else if (strncmp (argv[i], "--format=", 9) == 0)
        fmt = argv[i] + 9;
      else if (strcmp (argv[i], "--no-trunc") == 0)
        continue;
      else if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          printf ("Usage:  docker buildx ls [--format table|json]\n\nList builders\n");
          return 0;
        }
      else
        {
          cli_fail ("unknown flag: %s", argv[i]);
          return 2;
        }
      if (strcmp (fmt, "json") == 0)
        json = true;
      else if (strcmp (fmt, "table") != 0)
        {
          cli_fail ("unsupported --format \"%s\": use table or json", fmt);
          return 2;
        }
    }
  if (json)
    {
      printf ("{\"Name\":\"%s\",\"Driver\":\"slipway\",\"Dynamic\":false,\"Nodes\":[{\"Name\":\"%s\","
              "\"Endpoint\":\"local\",\"Status\":\"running\",\"Version\":\"slipway-%s\",\"Platforms\":[\"",
              BUILDER_NAME, NODE_NAME, sw_version ());
      print_platforms (stdout, "\",\"");
      printf ("\"]}],\"Current\":true}\n");
      return 0;
    }
  printf ("%-24s %-20s %-10s %-16s %s\n", "NAME/NODE", "DRIVER/ENDPOINT", "STATUS", "BUILDKIT", "PLATFORMS");
  printf ("%-24s %-20s %-10s %-16s %s\n", BUILDER_NAME "*", "slipway", "", "", "");
  printf (" \\_ %-20s  \\_ %-16s %-10s slipway-%-8s ", NODE_NAME, "local", "running", sw_version ());
  print_platforms (stdout, ", ");
  putchar ('\n');
  return 0;
}

/* ---- du --------------------------------------------------------------------------------- */

static uint64_t du_total;
static void *du_seen; /* tsearch tree of hard-linked inodes already counted */

static int
inode_cmp (const void *a, const void *b)
{
  const struct stat *x = a, *y = b;
  if (x->st_dev != y->st_dev)
    return x->st_dev < y->st_dev ? -1 : 1;
  return x->st_ino < y->st_ino ? -1 : x->st_ino > y->st_ino;
}

static int
du_visit (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void) path;
  (void) ftw;
  if (type == FTW_NS)
    return 0;
  if (!S_ISDIR (st->st_mode) && st->st_nlink > 1)
    {
      struct stat *key = malloc (sizeof *key);
      if (key == NULL)
        abort ();
      *key = *st;
      void **found = tsearch (key, &du_seen, inode_cmp);
      if (found == NULL)
        abort ();
      if (*found != key)
        {
          free (key);
          return 0;
        }
    }
  du_total += (uint64_t) st->st_blocks * 512;
  return 0;
}

/* docker's units.HumanSize: decimal units, four significant digits. */
static void
human_size (uint64_t n, char *out, size_t size)
{
  static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
  double v = (double) n;
  size_t u = 0;
  while (v >= 1000 && u + 1 < sizeof units / sizeof *units)
    {
      v /= 1000;
      u++;
    }
  snprintf (out, size, "%.4g%s", v, units[u]);
}

static const char *
state_dir_flag (int argc, char **argv, int *i)
{
  if (strcmp (argv[*i], "--state-dir") == 0 && *i + 1 < argc)
    return argv[++*i];
  if (strncmp (argv[*i], "--state-dir=", 12) == 0)
    return argv[*i] + 12;
  return NULL;
}

static int
buildx_du (int argc, char **argv)
{
  const char *dir = DEFAULT_STATE_DIR;
  char size[32];
  for (int i = 1; i < argc; i++)
    {
      const char *d = state_dir_flag (argc, argv, &i);
      if (d)
        dir = d;
      else if (strcmp (argv[i], "--verbose") == 0)
        continue;
      else if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          printf ("Usage:  docker buildx du [--state-dir DIR]\n\nDisk usage of slipway's state dir (default %s)\n",
                  DEFAULT_STATE_DIR);
          return 0;
        }
      else
        {
          cli_fail ("not supported by slipway: docker buildx du %s", argv[i]);
          return 2;
        }
    }
  du_total = 0;
  if (access (dir, F_OK) == 0 && nftw (dir, du_visit, 32, FTW_PHYS) < 0)
    {
      cli_fail ("du: cannot read %s: %m", dir);
      return 1;
    }
  tdestroy (du_seen, free);
  du_seen = NULL;
  human_size (du_total, size, sizeof size);
  /* everything in the state dir can be pruned: it is all cache */
  printf ("Reclaimable:\t%s\nTotal:\t\t%s\n", size, size);
  return 0;
}

static int
buildx_prune (int argc, char **argv)
{
  const char *dir = NULL;
  bool force = false;
  uint64_t freed = 0;
  sw_error *err = NULL;
  char size[32];

  for (int i = 1; i < argc; i++)
    {
      const char *d = state_dir_flag (argc, argv, &i);
      if (d)
        dir = d;
      else if (strcmp (argv[i], "-f") == 0 || strcmp (argv[i], "--force") == 0)
        force = true;
      else if (strcmp (argv[i], "-af") == 0 || strcmp (argv[i], "-fa") == 0)
        force = true;
      else if (strcmp (argv[i], "-a") == 0 || strcmp (argv[i], "--all") == 0 || strcmp (argv[i], "--verbose") == 0)
        continue; /* slipway's prune always removes everything */
      else if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          printf ("Usage:  docker buildx prune [-a] [-f] [--state-dir DIR]\n\n"
                  "Remove build cache: all of slipway's state dir (default %s), as slipway prune\n",
                  DEFAULT_STATE_DIR);
          return 0;
        }
      else
        {
          /* --filter, --keep-storage, --max-used-space…: slipway empties the whole cache */
          cli_fail ("not supported by slipway: docker buildx prune %s (slipway prune removes the whole cache)",
                    argv[i]);
          return 2;
        }
    }
  if (!force)
    {
      char answer[16] = "";
      fprintf (stderr, "WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] ");
      if (fgets (answer, sizeof answer, stdin) == NULL || (answer[0] != 'y' && answer[0] != 'Y'))
        return 0;
    }
  if (sw_prune (dir, &freed, &err) < 0)
    return cli_report (err);
  human_size (freed, size, sizeof size);
  printf ("Total:\t%s\n", size);
  return 0;
}

/* create, use, rm, stop: there is one builder, always running, so nothing to do; what
 * docker/setup-buildx-action runs before and after a build succeeds. */
static int
buildx_builder_noop (int argc, char **argv)
{
  static const char *const valued[] = { "--name", "--driver", "--driver-opt", "--buildkitd-flags",
                                        "--buildkitd-config", "--config", "--platform", "--node",
                                        "--timeout", "--builder" };
  const char *name = NULL;
  bool create = strcmp (argv[0], "create") == 0;

  for (int i = 1; i < argc; i++)
    {
      bool takes_value = false;
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          printf ("Usage:  docker buildx %s [OPTIONS] [NAME]\n\n"
                  "slipway has one builder, \"%s\", always running: nothing to do.\n",
                  argv[0], BUILDER_NAME);
          return 0;
        }
      for (size_t v = 0; v < sizeof valued / sizeof *valued; v++)
        if (strcmp (argv[i], valued[v]) == 0)
          takes_value = true;
      if (takes_value && i + 1 < argc)
        {
          if (strcmp (argv[i], "--name") == 0)
            name = argv[i + 1];
          i++;
        }
      else if (strncmp (argv[i], "--name=", 7) == 0)
        name = argv[i] + 7;
      else if (argv[i][0] != '-' && !create)
        name = argv[i]; /* use/rm/stop NAME; create's positional is an endpoint */
    }
  if (create)
    {
      fprintf (stderr, "slipway: docker buildx create: nothing to create, slipway builds in this process; "
                       "%s%s%s stands for its builder (driver, options and endpoint are not used)\n",
               name ? "\"" : "", name ? name : "the name", name ? "\"" : "");
      printf ("%s\n", name ? name : BUILDER_NAME);
    }
  else
    note_builder (name);
  return 0;
}

struct subcommand
{
  const char *name;
  int (*run) (int argc, char **argv);
};

static const struct subcommand subcommands[] = {
  { "build", cli_build },        { "b", cli_build },         { "imagetools", cli_imagetools },
  { "version", buildx_version }, { "inspect", buildx_inspect }, { "ls", buildx_ls },
  { "du", buildx_du },           { "prune", buildx_prune },  { "use", buildx_builder_noop },
  { "create", buildx_builder_noop }, { "rm", buildx_builder_noop }, { "stop", buildx_builder_noop },
};

/* argv[0] is "buildx". */
int
cli_buildx (int argc, char **argv)
{
  int i = 1;

  /* buildx's global flags come before the command */
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0)
        {
          buildx_usage (stdout);
          return 0;
        }
      if (strcmp (argv[i], "-D") == 0 || strcmp (argv[i], "--debug") == 0)
        sw_set_log_level (SW_LOG_DEBUG);
      else if (strcmp (argv[i], "--builder") == 0 && i + 1 < argc)
        note_builder (argv[++i]);
      else if (strncmp (argv[i], "--builder=", 10) == 0)
        note_builder (argv[i] + 10);
      else
        {
          cli_fail ("unknown flag: %s", argv[i]);
          return 2;
        }
    }
  note_builder (getenv ("BUILDX_BUILDER"));
  if (i == argc)
    {
      /* `docker buildx` alone prints the usage and succeeds: that is how tools check that
       * buildx is there */
      buildx_usage (stdout);
      return 0;
    }
  for (size_t c = 0; c < sizeof subcommands / sizeof *subcommands; c++)
    if (strcmp (argv[i], subcommands[c].name) == 0)
      {
        int n = strip_builder (argc - i, argv + i);
        if (subcommands[c].run == cli_build)
          argv[i] = (char *) "build";
        return subcommands[c].run (n, argv + i);
      }
  cli_fail ("not supported by slipway: docker buildx %s (slipway answers build, imagetools, version, inspect, ls, "
            "du, prune, and create/use/rm/stop as no-ops)",
            argv[i]);
  return 1;
}

/* Invoked as docker-buildx: argv[1] is "docker-cli-plugin-metadata", or "buildx" followed
 * by what the user typed after `docker buildx`. */
int
cli_buildx_plugin (int argc, char **argv)
{
  if (argc >= 2 && strcmp (argv[1], "docker-cli-plugin-metadata") == 0)
    {
      printf ("{\n"
              "  \"SchemaVersion\": \"0.1.0\",\n"
              "  \"Vendor\": \"slipway\",\n"
              "  \"Version\": \"v" BUILDX_COMPAT "-slipway\",\n"
              "  \"ShortDescription\": \"Docker Buildx (slipway %s: native builds, no daemon)\"\n"
              "}\n",
              sw_version ());
      return 0;
    }
  if (argc >= 2 && strcmp (argv[1], "buildx") == 0)
    return cli_buildx (argc - 1, argv + 1);
  /* run directly, as buildx's standalone binary is */
  argv[0] = (char *) "buildx";
  return cli_buildx (argc, argv);
}
