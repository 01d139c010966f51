/* slipway.h — the public C API of libslipway.
 *
 * Build OCI images from Dockerfiles, natively, and stream their layers to a registry.
 * This header is the whole contract for custom runners (and for slipway's own CLI, which
 * uses nothing else).  The model is curl's easy interface: an opaque handle, options set
 * one at a time, a callback for what happens, one call that does the work.
 *
 *   sw_error *err = NULL;
 *   sw_build *b = sw_build_new ();
 *   sw_build_set (b, SW_OPT_CONTEXT, ".", &err);
 *   sw_build_set (b, SW_OPT_TAG, "registry.example/app:1", &err);
 *   sw_build_set (b, SW_OPT_PUSH, "true", &err);
 *   sw_build_set_event_callback (b, on_event, NULL);
 *   if (sw_build_run (b, &err) < 0)
 *     fprintf (stderr, "%s\n", sw_error_message (err));
 *   sw_error_free (err);
 *   sw_build_free (b);
 *
 * Conventions: functions that can fail return 0 on success and a negative number on
 * failure, and then fill *err (which the caller frees with sw_error_free).  err may be
 * NULL if the caller does not want the details.  Strings passed in are copied.
 */
#ifndef SLIPWAY_H
#define SLIPWAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------------ */

const char *sw_version (void);

/* ---- errors ------------------------------------------------------------------- */

typedef struct sw_error sw_error;

/* The full message: what failed, where (file:line:col when it comes from a
 * Dockerfile), and what to do about it. */
const char *sw_error_message (const sw_error *err);
/* The errno behind the failure, or 0. */
int sw_error_code (const sw_error *err);
void sw_error_free (sw_error *err);

/* ---- logging ------------------------------------------------------------------ */

typedef enum sw_log_level
{
  SW_LOG_ERROR = 0,
  SW_LOG_WARN = 1,
  SW_LOG_INFO = 2,
  SW_LOG_DEBUG = 3,
} sw_log_level;

/* Library-wide verbosity (default SW_LOG_WARN).  Messages reach a build's event
 * callback as SW_EVENT_LOG while that build runs, stderr otherwise. */
void sw_set_log_level (sw_log_level level);

/* ---- builds ------------------------------------------------------------------- */

typedef struct sw_build sw_build;

/* Options.  Every value is a string with the syntax of the matching
 * `docker buildx build` flag; options marked (list) may be set many times and append. */
typedef enum sw_option
{
  SW_OPT_CONTEXT = 1,   /* build context directory (default ".") */
  SW_OPT_DOCKERFILE,    /* path of the Dockerfile (default CONTEXT/Dockerfile), "-" = stdin */
  SW_OPT_TAG,           /* (list) image reference to name the result */
  SW_OPT_BUILD_ARG,     /* (list) "KEY=VALUE", or "KEY" to take it from the environment */
  SW_OPT_TARGET,        /* stage to build */
  SW_OPT_PLATFORM,      /* (list) "linux/amd64", or a comma-separated list */
  SW_OPT_OUTPUT,        /* (list) "type=registry", "type=oci,dest=out.tar", … */
  SW_OPT_PUSH,          /* "true": shorthand for --output=type=registry */
  SW_OPT_LOAD,          /* "true": shorthand for --output=type=docker */
  SW_OPT_LABEL,         /* (list) "KEY=VALUE" */
  SW_OPT_ANNOTATION,    /* (list) "KEY=VALUE" or "TYPE:KEY=VALUE" */
  SW_OPT_NO_CACHE,      /* "true" */
  SW_OPT_PULL,          /* "true": always re-resolve base images */
  SW_OPT_SECRET,        /* (list) "id=ID,src=PATH" or "id=ID,env=VAR" */
  SW_OPT_SSH,           /* (list) "default" or "ID=SOCKET|KEY…" */
  SW_OPT_NETWORK,       /* "default", "none" or "host" */
  SW_OPT_ADD_HOST,      /* (list) "HOST:IP" */
  SW_OPT_BUILD_CONTEXT, /* (list) "NAME=PATH|docker-image://REF" */
  SW_OPT_METADATA_FILE, /* write buildx's metadata JSON here */
  SW_OPT_IIDFILE,       /* write the image ID (config digest) here */
  SW_OPT_STATE_DIR,     /* slipway's state (snapshots, caches); default /var/lib/slipway */
  SW_OPT_INSECURE_REGISTRY, /* (list) registry host[:port] reached over plain HTTP */
  /* RUN's resources (added later: explicit numbers keep the earlier ones stable) */
  SW_OPT_SHM_SIZE = 500,      /* /dev/shm's size: "64m", "1g", bytes */
  SW_OPT_ULIMIT = 501,        /* (list) "NAME=SOFT[:HARD]", e.g. "nofile=1024:2048" */
  SW_OPT_CGROUP_PARENT = 502, /* cgroup v2 path each RUN gets a cgroup of its own under */
  SW_OPT_MEMORY = 503,        /* memory.max of each RUN's cgroup ("512m"); needs CGROUP_PARENT */
  SW_OPT_CPU_QUOTA = 504,     /* cpu.max quota in µs per period; needs CGROUP_PARENT */
  SW_OPT_CPU_PERIOD = 505,    /* cpu.max period in µs (default 100000) */
  SW_OPT_CALL = 506,          /* "build" (default) or "check": BuildKit's build checks only */
} sw_option;

sw_build *sw_build_new (void);
void sw_build_free (sw_build *b);

/* Set (or, for list options, add) an option.  Fails on an unknown option or a value
 * whose syntax is wrong; the message names the option and the value. */
int sw_build_set (sw_build *b, sw_option opt, const char *value, sw_error **err);

/* ---- events ------------------------------------------------------------------- */

typedef enum sw_event_kind
{
  SW_EVENT_STEP_START = 1, /* a step (vertex) begins: id, name */
  SW_EVENT_STEP_LOG,       /* one line of a step's output: id, text, stream (1 or 2) */
  SW_EVENT_STEP_DONE,      /* a step ends: id, elapsed, status (0 ok), text = error */
  SW_EVENT_STEP_CACHED,    /* a step was satisfied without running: id */
  SW_EVENT_PROGRESS,       /* bytes moved for a step (upload, download): id, current, total */
  SW_EVENT_WARNING,        /* a build warning: text (file:line: message) */
  SW_EVENT_LOG,            /* a library log message: level, text */
} sw_event_kind;

typedef struct sw_event
{
  sw_event_kind kind;
  int id;             /* step number, as buildx's #N; 0 when not about a step */
  const char *name;   /* "[build 2/4] RUN make" */
  const char *text;   /* log line, warning or error text; may be NULL */
  int stream;         /* 1 stdout, 2 stderr (STEP_LOG) */
  int status;         /* STEP_DONE: 0 ok, negative failed */
  sw_log_level level; /* LOG */
  uint64_t current;   /* PROGRESS */
  uint64_t total;     /* PROGRESS; 0 when unknown */
  double elapsed;     /* STEP_DONE: seconds */
} sw_event;

/* Called on the thread that runs sw_build_run(), one event at a time.  The event and its
 * strings are valid only during the call. */
typedef void (*sw_event_callback) (const sw_event *ev, void *userdata);

void sw_build_set_event_callback (sw_build *b, sw_event_callback cb, void *userdata);

/* Run the build: resolve, execute, export.  Blocks until done.  A build that fails
 * publishes no tag. */
int sw_build_run (sw_build *b, sw_error **err);

/* After a successful run: the digest of the image's manifest (or index for several
 * platforms), and of its config (the image ID).  NULL before. */
const char *sw_build_digest (const sw_build *b);
const char *sw_build_image_id (const sw_build *b);

/* ---- tools -------------------------------------------------------------------- */

/* Parse a Dockerfile and write its AST to out in BuildKit's dump format (what
 * `slipway debug ast` prints).  Parse errors come back as *err with file:line:col. */
int sw_dockerfile_dump_ast (const char *path, FILE *out, sw_error **err);

/* emu: `slipway debug emu host|decide|run …` (see emu/debug.c).  Results go to out, the
 * way emulation was arranged to info.  Returns the command's exit status (run), 0, or -1. */
int sw_debug_emu (int argc, char **argv, FILE *out, FILE *info, sw_error **err);

/* ---- registry tools (registry/): imagetools, login ------------------------------ */

/* insecure: NULL-terminated list of registries ("host[:port]") reachable over plain HTTP
 * or with an unverifiable certificate (as --insecure-registry); may be NULL.  Loopback
 * registries may always use plain HTTP. */

/* Write what REF names: with raw, the manifest or index bytes exactly as the registry
 * holds them; else a summary as `docker buildx imagetools inspect` prints it.  With
 * platform ("linux/arm64", may be NULL), an index is first narrowed to that platform's
 * image, as FROM does. */
int sw_imagetools_inspect (const char *ref, const char *platform, int raw, const char *const *insecure, FILE *out,
                           sw_error **err);

/* Make the NULL-terminated list of tags name the sources: one source is copied
 * byte for byte (index or manifest, every manifest and blob it names, streamed registry to
 * registry with nothing on local disk); several single-platform images (or indexes) are
 * combined into one index.  Blobs the destination has are skipped, blobs in another
 * repository of the same registry are mounted.  Tags are written last.  With digest_out
 * (SW_IMAGE_DIGEST_BUFSZ bytes), receives the digest of what the tags name. */
#define SW_IMAGE_DIGEST_BUFSZ 72
int sw_imagetools_create (const char *const *tags, const char *const *sources, const char *const *insecure,
                          char *digest_out, sw_error **err);

/* Check the credentials against SERVER (a host[:port], or docker.io when NULL) and store
 * them in $DOCKER_CONFIG/config.json (~/.docker/config.json) as `docker login` does. */
int sw_registry_login (const char *server, const char *username, const char *password,
                       const char *const *insecure, sw_error **err);
/* Remove SERVER's credentials from config.json. */
int sw_registry_logout (const char *server, sw_error **err);
/* ---- sandbox and state (sandbox/, store/) -------------------------- */

/* Cancel every running step: kills its whole PID namespace; the build then cleans up and
 * fails.  Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
void sw_cancel (void);

/* `slipway prune`: empty the state dir's layer store, caches and dead runs' scratch.
 * state_dir NULL means /var/lib/slipway.  Fails (EBUSY) while a build uses it. */
int sw_prune (const char *state_dir, uint64_t *freed_bytes, sw_error **err);

/* `slipway debug run`: run one command the way a RUN step runs, for tests and debugging.
 * Lists are NULL-terminated and may be NULL. */
typedef struct sw_debug_run_options
{
  const char *const *lowers;  /* snapshot dirs, bottom first (--rootfs DIR is one lower) */
  const char *upper;          /* empty dir that receives the changes; NULL: a scratch one */
  const char *state_dir;      /* NULL: /var/lib/slipway */
  const char *network;        /* "default", "none", "host" */
  const char *user;           /* USER spec */
  const char *workdir;        /* WORKDIR */
  const char *hostname;
  const char *context;        /* where bind mounts read from (default ".") */
  const char *const *env;     /* KEY=VALUE */
  const char *const *mounts;  /* RUN --mount specs */
  const char *const *secrets; /* --secret specs */
  const char *const *ssh;     /* --ssh specs */
  const char *const *add_hosts; /* HOST:IP */
  const char *platform;       /* run emulated when foreign (emu/); NULL: the host's */
  /* each output line (stream 1 or 2), without its newline */
  void (*output) (int stream, const char *line, size_t len, void *userdata);
  void *userdata;
} sw_debug_run_options;

/* Returns 0 when the command ran and exited 0; -1 otherwise, with *exit_code the command's
 * exit code (-1 when it never ran) and *err saying why. */
int sw_debug_run (const sw_debug_run_options *o, const char *const *argv, int *exit_code,
                  sw_error **err);
/* plan: `slipway debug plan FILE [--target T] [--build-arg K=V]… [--platform P]
 * [--build-platform P]` (see dockerfile/plan_debug.c): the stages the target needs, in
 * order, with their bases, platforms and the global ARG scope.  0 or -1. */
int sw_debug_plan (int argc, char **argv, FILE *out, sw_error **err);

#ifdef __cplusplus
}
#endif

#endif
