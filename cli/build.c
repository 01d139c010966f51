/* cli/build.c — `slipway build [OPTIONS] PATH|-`, flag for flag `docker buildx build`.
 *
 * Every flag buildx has is known here.  A flag slipway does not implement yet is an error
 * that says so; it is never accepted and ignored, because a CI job that asks for
 * something and silently does not get it is worse than one that stops.
 *
 * Exit status: 0 the build succeeded; 1 the build failed (the Dockerfile, a step, the
 * registry…); 2 usage: an unknown or unsupported flag, a flag value with the wrong
 * syntax, a missing context.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/gitctx.h"
#include "cli/progress.h"

enum flag_kind
{
  FLAG_OPTION,      /* maps to an sw_option */
  FLAG_PROGRESS,    /* handled by the CLI's display */
  FLAG_QUIET,
  FLAG_DEBUG,
  FLAG_CHECK,       /* --check = --call=check */
  FLAG_UNSUPPORTED,
};

struct flag
{
  const char *name;
  char short_name;   /* 0 for none */
  bool takes_value;
  enum flag_kind kind;
  sw_option option;  /* FLAG_OPTION */
  const char *help;  /* NULL hides the flag from --help (buildx's legacy flags) */
};

#define OPT(n, s, o, h) { n, s, true, FLAG_OPTION, o, h }
#define BOOL_OPT(n, o, h) { n, 0, false, FLAG_OPTION, o, h }
#define TODO(n, v, h) { n, 0, v, FLAG_UNSUPPORTED, 0, h }

static const struct flag flags[] = {
  OPT ("add-host", 0, SW_OPT_ADD_HOST, "Add a custom host-to-IP mapping (HOST:IP)"),
  OPT ("allow", 0, SW_OPT_ALLOW, "Allow extra privileged entitlement (network.host, security.insecure)"),
  OPT ("annotation", 0, SW_OPT_ANNOTATION, "Add annotation to the image"),
  OPT ("attest", 0, SW_OPT_ATTEST, "Attestation parameters (type=provenance,… or type=sbom,…)"),
  OPT ("build-arg", 0, SW_OPT_BUILD_ARG, "Set build-time variables"),
  OPT ("build-context", 0, SW_OPT_BUILD_CONTEXT, "Additional build contexts (NAME=PATH)"),
  TODO ("builder", true, "Override the configured builder instance"),
  OPT ("cache-from", 0, SW_OPT_CACHE_FROM, "External cache sources (type=registry,ref=R or type=local,src=DIR[,digest=D])"),
  OPT ("cache-to", 0, SW_OPT_CACHE_TO, "Cache export destinations (type=registry,ref=R or type=local,dest=DIR; mode=min|max)"),
  OPT ("call", 0, SW_OPT_CALL, "Set method for evaluating build (build, check)"),
  OPT ("cgroup-parent", 0, SW_OPT_CGROUP_PARENT, "Set the parent cgroup for the RUN instructions (cgroup v2)"),
  { "check", 0, false, FLAG_CHECK, 0, "Shorthand for --call=check" },
  { "debug", 'D', false, FLAG_DEBUG, 0, "Enable debug logging" },
  OPT ("file", 'f', SW_OPT_DOCKERFILE, "Name of the Dockerfile (default: PATH/Dockerfile)"),
  OPT ("iidfile", 0, SW_OPT_IIDFILE, "Write the image ID to a file"),
  OPT ("label", 0, SW_OPT_LABEL, "Set metadata for an image"),
  BOOL_OPT ("load", SW_OPT_LOAD, "Shorthand for --output=type=docker"),
  OPT ("metadata-file", 0, SW_OPT_METADATA_FILE, "Write build result metadata to a file"),
  OPT ("network", 0, SW_OPT_NETWORK, "Networking mode for RUN: default (own), none, host (needs --allow network.host)"),
  BOOL_OPT ("no-cache", SW_OPT_NO_CACHE, "Do not use cache when building the image"),
  OPT ("no-cache-filter", 0, SW_OPT_NO_CACHE_FILTER, "Do not cache specified stages"),
  OPT ("output", 'o', SW_OPT_OUTPUT, "Output destination (type=registry, type=oci,dest=…, …)"),
  OPT ("platform", 0, SW_OPT_PLATFORM, "Set target platform for build"),
  { "progress", 0, true, FLAG_PROGRESS, 0, "Progress output: auto, plain, tty, quiet, rawjson" },
  OPT ("provenance", 0, SW_OPT_PROVENANCE, "Shorthand for --attest=type=provenance (true, false, mode=min|max,…)"),
  BOOL_OPT ("pull", SW_OPT_PULL, "Always attempt to pull all referenced images"),
  BOOL_OPT ("push", SW_OPT_PUSH, "Shorthand for --output=type=registry"),
  { "quiet", 'q', false, FLAG_QUIET, 0, "Suppress the build output and print image ID on success" },
  OPT ("sbom", 0, SW_OPT_SBOM, "Shorthand for --attest=type=sbom"),
  OPT ("secret", 0, SW_OPT_SECRET, "Secret to expose to the build (id=ID,src=PATH|env=VAR)"),
  OPT ("shm-size", 0, SW_OPT_SHM_SIZE, "Shared memory size for build containers"),
  OPT ("ssh", 0, SW_OPT_SSH, "SSH agent socket or keys to expose to the build"),
  OPT ("tag", 't', SW_OPT_TAG, "Name and optionally a tag (format: name:tag)"),
  OPT ("target", 0, SW_OPT_TARGET, "Set the target build stage to build"),
  OPT ("ulimit", 0, SW_OPT_ULIMIT, "Ulimit options"),
  /* slipway's own */
  OPT ("state-dir", 0, SW_OPT_STATE_DIR, "slipway: state directory (default /var/lib/slipway)"),
  OPT ("insecure-registry", 0, SW_OPT_INSECURE_REGISTRY, "slipway: reach this registry over plain HTTP"),
  OPT ("smoke", 0, SW_OPT_SMOKE, "slipway: run this shell command in the built image before any tag moves"),
  OPT ("smoke-timeout", 0, SW_OPT_SMOKE_TIMEOUT, "slipway: seconds a smoke command may run (default 120)"),
  OPT ("publish", 0, SW_OPT_PUBLISH, "slipway: tags (default) or none (push by digest only)"),
  OPT ("max-parallelism", 0, SW_OPT_MAX_PARALLELISM, "slipway: CPU-bound steps at once (default: the CPUs)"),
  /* buildx's legacy flags, hidden in its help too */
  TODO ("compress", false, NULL),
  OPT ("cpu-period", 0, SW_OPT_CPU_PERIOD, NULL),
  OPT ("cpu-quota", 0, SW_OPT_CPU_QUOTA, NULL),
  TODO ("cpu-shares", true, NULL),
  TODO ("cpuset-cpus", true, NULL),
  TODO ("cpuset-mems", true, NULL),
  TODO ("force-rm", false, NULL),
  TODO ("isolation", true, NULL),
  OPT ("memory", 0, SW_OPT_MEMORY, NULL),
  TODO ("memory-swap", true, NULL),
  TODO ("print", true, NULL),
  TODO ("rm", false, NULL),
  TODO ("security-opt", true, NULL),
  TODO ("squash", false, NULL),
};
#define N_FLAGS (sizeof flags / sizeof *flags)

static void
build_usage (FILE *out)
{
  fprintf (out, "Usage: slipway build [OPTIONS] PATH | -\n\n"
                "Start a build: the same flags and Dockerfiles as docker buildx build.\n"
                "Exit status: 0 built, 1 the build failed, 2 usage (a flag or its value).\n\n"
                "Options:\n");
  for (size_t i = 0; i < N_FLAGS; i++)
    {
      const struct flag *f = &flags[i];
      char left[64];
      if (f->help == NULL)
        continue;
      if (f->short_name)
        snprintf (left, sizeof left, "-%c, --%s%s", f->short_name, f->name, f->takes_value ? " value" : "");
      else
        snprintf (left, sizeof left, "    --%s%s", f->name, f->takes_value ? " value" : "");
      fprintf (out, "  %-32s %s%s\n", left, f->help,
               f->kind == FLAG_UNSUPPORTED ? " (not supported yet)" : "");
    }
}

/* "-o -", or a spec with dest=- */
static bool
output_to_stdout (const char *spec)
{
  size_t n = strlen (spec);
  return strcmp (spec, "-") == 0 || strstr (spec, "dest=-,") != NULL
         || (n >= 6 && strcmp (spec + n - 6, "dest=-") == 0);
}

static sw_build *running_build;

static void
on_signal (int sig)
{
  (void) sig;
  /* the build notices, kills its steps, cleans up and fails; and publishes nothing even
   * when no step is running (a signal during the push stops it before the tags) */
  sw_build_cancel (running_build);
}

int
cli_build (int argc, char **argv)
{
  struct option longopts[N_FLAGS + 2];
  char shortopts[64] = "+h";
  const char *progress = "auto";
  bool quiet = false;
  bool stdout_taken = false; /* an output streams to stdout */
  sw_error *err = NULL;
  sw_build *b;
  int rc;
  const char *secrets[64]; /* --secret specs, for a Git context's token */
  size_t n_secrets = 0;
  const char *dockerfile = NULL;
  char *git_dir = NULL, *context = NULL;

  if (cli_wants_help (argc, argv))
    {
      build_usage (stdout);
      return 0;
    }

  for (size_t i = 0; i < N_FLAGS; i++)
    {
      longopts[i] = (struct option){ flags[i].name, flags[i].takes_value ? required_argument : no_argument,
                                     NULL, 256 + (int) i };
      if (flags[i].short_name)
        {
          size_t n = strlen (shortopts);
          shortopts[n++] = flags[i].short_name;
          if (flags[i].takes_value)
            shortopts[n++] = ':';
          shortopts[n] = '\0';
        }
    }
  longopts[N_FLAGS] = (struct option){ "help", no_argument, NULL, 'h' };
  longopts[N_FLAGS + 1] = (struct option){ 0 };

  b = sw_build_new ();
  opterr = 0;
  optind = 1;
  for (;;)
    {
      int c = getopt_long (argc, argv, shortopts, longopts, NULL);
      const struct flag *f = NULL;
      if (c == -1)
        break;
      if (c == '?' || c == ':')
        {
          if (optopt >= 256)
            cli_fail ("flag needs an argument: --%s", flags[optopt - 256].name);
          else if (optopt)
            cli_fail ("unknown shorthand flag: '%c' in -%c", optopt, optopt);
          else
            cli_fail ("unknown flag: %s", argv[optind - 1]);
          fprintf (stderr, "See 'slipway build --help'.\n");
          sw_build_free (b);
          return 2;
        }
      if (c >= 256)
        f = &flags[c - 256];
      else
        for (size_t i = 0; i < N_FLAGS; i++)
          if (flags[i].short_name == c)
            f = &flags[i];
      if (f == NULL)
        continue;
      switch (f->kind)
        {
        case FLAG_OPTION:
          if (f->option == SW_OPT_OUTPUT && output_to_stdout (optarg))
            stdout_taken = true;
          if (f->option == SW_OPT_SECRET && n_secrets + 1 < sizeof secrets / sizeof *secrets)
            secrets[n_secrets++] = optarg;
          if (f->option == SW_OPT_DOCKERFILE)
            dockerfile = optarg;
          if (sw_build_set (b, f->option, f->takes_value ? optarg : "true", &err) < 0)
            {
              /* a flag's value with the wrong syntax is a usage error, as an unknown flag */
              sw_build_free (b);
              cli_report (err);
              return 2;
            }
          break;
        case FLAG_PROGRESS:
          progress = optarg;
          break;
        case FLAG_QUIET:
          quiet = true;
          break;
        case FLAG_DEBUG:
          sw_set_log_level (SW_LOG_DEBUG);
          break;
        case FLAG_CHECK:
          if (sw_build_set (b, SW_OPT_CALL, "check", &err) < 0)
            {
              sw_build_free (b);
              return cli_report (err);
            }
          break;
        case FLAG_UNSUPPORTED:
          cli_fail ("not supported yet: --%s", f->name);
          sw_build_free (b);
          return 2;
        }
    }

  if (optind != argc - 1)
    {
      cli_fail ("\"build\" requires exactly 1 argument (the context: PATH or -)\n"
                "See 'slipway build --help'.");
      sw_build_free (b);
      return 2;
    }
  secrets[n_secrets] = NULL;
  if (cli_git_is_url (argv[optind]))
    {
      if (cli_git_fetch (argv[optind], secrets, &git_dir, &context) < 0)
        {
          sw_build_free (b);
          return 1;
        }
      /* buildx reads -f inside a remote context */
      if (dockerfile && *dockerfile != '/' && strcmp (dockerfile, "-") != 0)
        {
          char *path = NULL;
          if (asprintf (&path, "%s/%s", context, dockerfile) < 0)
            abort ();
          rc = sw_build_set (b, SW_OPT_DOCKERFILE, path, &err);
          free (path);
          if (rc < 0)
            goto failed;
        }
    }
  if (sw_build_set (b, SW_OPT_CONTEXT, context ? context : argv[optind], &err) < 0)
    goto failed;

  struct cli_progress *display = cli_progress_new (quiet ? "quiet" : progress, &err);
  if (display == NULL)
    goto failed;
  sw_build_set_event_callback (b, cli_progress_event, display);
  running_build = b;
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  /* A reader of -o …,dest=- that goes away must give an error (EPIPE) and a clean exit, not a
   * kill that leaves the build's scratch to the next run. */
  signal (SIGPIPE, SIG_IGN);
  rc = sw_build_run (b, &err);
  sa.sa_handler = SIG_DFL; /* b is about to be freed */
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  cli_progress_free (display);
  if (rc < 0)
    goto failed;
  if (quiet && sw_build_image_id (b))
    /* stdout may be carrying a tar output (dest=-): the ID must not land in it */
    fprintf (stdout_taken ? stderr : stdout, "%s\n", sw_build_image_id (b));
  sw_build_free (b);
  cli_git_cleanup (git_dir);
  free (git_dir);
  free (context);
  return 0;

failed:
  sw_build_free (b);
  cli_git_cleanup (git_dir);
  free (git_dir);
  free (context);
  return cli_report (err);
}
