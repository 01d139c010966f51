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
 *
 * ABI rules, kept from one release to the next:
 *  - libslipway.so exports exactly the functions declared here (each marked SW_API; the
 *    library is built with -fvisibility=hidden, and a test compares the two sets).
 *  - Enums: every constant has an explicit value.  Append only; never renumber or reuse
 *    a value, even of a constant that was removed.
 *  - Structs: the library allocates every struct it hands out (sw_event), and such a
 *    struct's fields are only ever appended.  The caller never allocates one.
 *  - Functions are only added; a function's meaning does not change.
 */
#ifndef SLIPWAY_H
#define SLIPWAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what the library exports; everything else in it is hidden. */
#ifndef SW_API
#define SW_API __attribute__ ((visibility ("default")))
#endif

/* ---- version ------------------------------------------------------------------ */

/* The version of this header.  SLIPWAY_VERSION_NUM is 0xMMmmpp (major, minor, patch, a
 * byte each, as curl's LIBCURL_VERSION_NUM), so `#if SLIPWAY_VERSION_NUM >= 0x000200`
 * works; sw_version_num() gives the library's, which may be newer than the header a
 * program was compiled with. */
#define SLIPWAY_VERSION_MAJOR 0
#define SLIPWAY_VERSION_MINOR 1
#define SLIPWAY_VERSION_PATCH 0
#define SLIPWAY_VERSION_NUM                                                                \
  ((SLIPWAY_VERSION_MAJOR << 16) | (SLIPWAY_VERSION_MINOR << 8) | SLIPWAY_VERSION_PATCH)

/* "0.1.0" */
SW_API const char *sw_version (void);
/* 0x000100 for 0.1.0 */
SW_API unsigned sw_version_num (void);

/* ---- errors ------------------------------------------------------------------- */

typedef struct sw_error sw_error;

/* What kind of failure, so a runner can tell a typo from an outage: retry REGISTRY,
 * report INPUT and STEP to the author, alert on IO and INTERNAL.  The category is the
 * one of the innermost cause: context added on the way up does not change it. */
typedef enum sw_error_category
{
  SW_ERR_INTERNAL = 0,  /* none of the below (a bug, or a cause not classified) */
  SW_ERR_INPUT = 1,     /* the Dockerfile, an option or flag, the build context */
  SW_ERR_REGISTRY = 2,  /* a registry: unreachable, refused, authentication, bad answer */
  SW_ERR_STEP = 3,      /* a RUN step ran and exited non-zero */
  SW_ERR_IO = 4,        /* a local system call failed (disk, memory, permissions) */
  SW_ERR_CANCELLED = 5, /* sw_build_cancel() or sw_cancel() */
} sw_error_category;

/* The full message: what failed, where (file:line:col when it comes from a
 * Dockerfile), and what to do about it. */
SW_API const char *sw_error_message (const sw_error *err);
/* The errno behind the failure, or 0. */
SW_API int sw_error_code (const sw_error *err);
/* The failure's category (SW_ERR_INTERNAL for err NULL). */
SW_API sw_error_category sw_error_category_of (const sw_error *err);
SW_API void sw_error_free (sw_error *err);

/* ---- logging ------------------------------------------------------------------ */

typedef enum sw_log_level
{
  SW_LOG_ERROR = 0,
  SW_LOG_WARN = 1,
  SW_LOG_INFO = 2,
  SW_LOG_DEBUG = 3,
} sw_log_level;

/* Library-wide verbosity (default SW_LOG_WARN).  Messages reach a build's event
 * callback as SW_EVENT_LOG while that build runs (on the thread that called
 * sw_build_run(), whichever thread logged them), the process-wide callback below
 * otherwise, or nowhere: the library never writes to stderr on its own. */
SW_API void sw_set_log_level (sw_log_level level);

/* The process-wide callback for messages outside a running build (imagetools, login,
 * prune); NULL removes it.  Called on the thread that logged the message. */
typedef void (*sw_log_callback) (sw_log_level level, const char *msg, void *userdata);
SW_API void sw_set_log_callback (sw_log_callback cb, void *userdata);

/* ---- builds ------------------------------------------------------------------- */

typedef struct sw_build sw_build;

/* Options.  Every value is a string with the syntax of the matching
 * `docker buildx build` flag; options marked (list) may be set many times and append. */
typedef enum sw_option
{
  SW_OPT_CONTEXT = 1,   /* build context directory (default ".") */
  SW_OPT_DOCKERFILE = 2, /* path of the Dockerfile (default CONTEXT/Dockerfile), "-" = stdin */
  SW_OPT_TAG = 3,       /* (list) image reference to name the result */
  SW_OPT_BUILD_ARG = 4, /* (list) "KEY=VALUE", or "KEY" to take it from the environment */
  SW_OPT_TARGET = 5,    /* stage to build */
  SW_OPT_PLATFORM = 6,  /* (list) "linux/amd64", or a comma-separated list */
  SW_OPT_OUTPUT = 7,    /* (list) "type=registry", "type=oci,dest=out.tar", … */
  SW_OPT_PUSH = 8,      /* "true": shorthand for --output=type=registry */
  SW_OPT_LOAD = 9,      /* "true": shorthand for --output=type=docker */
  SW_OPT_LABEL = 10,    /* (list) "KEY=VALUE" */
  SW_OPT_ANNOTATION = 11, /* (list) "KEY=VALUE" or "TYPE:KEY=VALUE" */
  SW_OPT_NO_CACHE = 12, /* "true" */
  SW_OPT_PULL = 13,     /* "true": always re-resolve base images */
  SW_OPT_SECRET = 14,   /* (list) "id=ID,src=PATH" or "id=ID,env=VAR" */
  SW_OPT_SSH = 15,      /* (list) "default" or "ID=SOCKET|KEY…" */
  SW_OPT_NETWORK = 16,  /* "default", "none" or "host" */
  SW_OPT_ADD_HOST = 17, /* (list) "HOST:IP" */
  SW_OPT_BUILD_CONTEXT = 18, /* (list) "NAME=PATH|docker-image://REF" */
  SW_OPT_METADATA_FILE = 19, /* write buildx's metadata JSON here */
  SW_OPT_IIDFILE = 20,  /* write the image ID (config digest) here */
  SW_OPT_STATE_DIR = 21, /* slipway's state (snapshots, caches); default /var/lib/slipway */
  SW_OPT_INSECURE_REGISTRY = 22, /* (list) registry host[:port] reached over plain HTTP */
  /* Knobs that have no buildx flag.  Each defaults to the environment variable named, read
   * by sw_build_new(); setting the option overrides it. */
  SW_OPT_CHUNK_SIZE = 100,        /* registry upload chunk, bytes ($SLIPWAY_CHUNK_SIZE; 16 MiB) */
  SW_OPT_RETRY_ATTEMPTS = 101,    /* attempts per registry request ($SLIPWAY_RETRY_ATTEMPTS; 6) */
  SW_OPT_RETRY_SECONDS = 102,     /* time bound of a request's retries ($SLIPWAY_RETRY_SECONDS; 120) */
  SW_OPT_DAEMON_JSON = 103,       /* docker's daemon.json, for insecure-registries
                                     ($SLIPWAY_DAEMON_JSON; /etc/docker/daemon.json) */
  SW_OPT_QEMU_PATH = 104,         /* ":"-separated directories holding QEMU ($SLIPWAY_QEMU_PATH;
                                     PATH, /usr/bin, /usr/libexec/qemu-binfmt) */
  SW_OPT_SOURCE_DATE_EPOCH = 105, /* seconds since 1970 for reproducible timestamps
                                     ($SOURCE_DATE_EPOCH; none) */
  SW_OPT_LAYER_UPLOAD = 106,      /* how a pushed layer bigger than one chunk goes up:
                                     "stream" (packed once, streamed in one PATCH),
                                     "put" (packed twice: digest, then one monolithic PUT) or
                                     "chunked" (packed once into PATCH chunks)
                                     ($SLIPWAY_LAYER_UPLOAD; stream) */
  /* (list) an entitlement, as buildx's --allow: "network.host" (RUN may share the host's
   * network: --network host, RUN --network=host), "security.insecure" (RUN
   * --security=insecure runs unconfined); comma-separated lists too */
  SW_OPT_ALLOW = 200,
  /* (list) an entitlement the user grants, as `docker buildx bake --allow` (SW_OPT_ALLOW's
   * syntax; "" grants none; names slipway never asks for, such as bake's fs=…, are passed
   * over), for a build whose SW_OPT_ALLOW comes from a file the user may not have written
   * (a bake target's `entitlements`, `network = "host"`).  Once it is set, sw_build_run()
   * refuses, before any work, an SW_OPT_ALLOW entitlement that no grant names:
   * "additional privileges requested: network.host (grant them with --allow network.host)".
   * Unset, SW_OPT_ALLOW is its own grant (`docker buildx build --allow`). */
  SW_OPT_GRANT = 201,
  /* Attestations, attached as buildx attaches them.  Without any of these, a pushed image
   * gets provenance mode=min, as buildx does, unless BUILDX_NO_DEFAULT_ATTESTATIONS=1. */
  SW_OPT_PROVENANCE = 400, /* "true", "false", or "mode=min|max,builder-id=…,version=v1|v0.2" */
  SW_OPT_SBOM = 401,       /* "true" or "false" (the SBOM is made natively: no generator image) */
  SW_OPT_ATTEST = 402,     /* (list) "type=provenance,…" or "type=sbom,…"; disabled=true turns one off */
  /* RUN's resources (added later: explicit numbers keep the earlier ones stable) */
  SW_OPT_SHM_SIZE = 500,      /* /dev/shm's size: "64m", "1g", bytes */
  SW_OPT_ULIMIT = 501,        /* (list) "NAME=SOFT[:HARD]", e.g. "nofile=1024:2048" */
  SW_OPT_CGROUP_PARENT = 502, /* cgroup v2 path each RUN gets a cgroup of its own under */
  SW_OPT_MEMORY = 503,        /* memory.max of each RUN's cgroup ("512m"); needs CGROUP_PARENT */
  SW_OPT_CPU_QUOTA = 504,     /* cpu.max quota in µs per period; needs CGROUP_PARENT */
  SW_OPT_CPU_PERIOD = 505,    /* cpu.max period in µs (default 100000) */
  SW_OPT_CALL = 506,          /* "build" (default) or "check": BuildKit's build checks only */
  /* the build cache (docs/CACHE.md) */
  SW_OPT_NO_CACHE_FILTER = 600, /* (list) stage whose steps run even when cached ("a,b" = two) */
  SW_OPT_CACHE_FROM = 601, /* (list) "type=registry,ref=R": a cache to read, tried in order */
  SW_OPT_CACHE_TO = 602,   /* "type=registry,ref=R[,mode=min|max][,ignore-error=true]" */
  /* 700…: publishing and smoke tests */
  SW_OPT_PUBLISH = 700, /* with a push: "tags" (default) moves every tag at the end, together
                           (see sw_publish_run); "none" pushes by digest only and moves no tag:
                           sw_build_digest() names the image, the caller publishes it */
  SW_OPT_SMOKE = 701,   /* (list) a shell command run in the built image (its env, user and
                           workdir, no network) before any tag moves; non-zero exit fails the build */
  SW_OPT_SMOKE_TIMEOUT = 702, /* seconds a smoke command may run (default 120) */
  SW_OPT_MAX_PARALLELISM = 800,   /* CPU-bound steps (native RUNs) at once, 1 to 1024; default
                                     the number of CPUs.  Stages that do not depend on each
                                     other and the platforms run at once regardless. */
} sw_option;

SW_API sw_build *sw_build_new (void);
SW_API void sw_build_free (sw_build *b);

/* Set (or, for list options, add) an option.  Fails on an unknown option or a value
 * whose syntax is wrong; the message names the option and the value. */
SW_API int sw_build_set (sw_build *b, sw_option opt, const char *value, sw_error **err);

/* ---- events ------------------------------------------------------------------- */

typedef enum sw_event_kind
{
  SW_EVENT_STEP_START = 1, /* a step (vertex) begins: id, name */
  SW_EVENT_STEP_LOG = 2,   /* one line of a step's output: id, text, stream (1 or 2) */
  SW_EVENT_STEP_DONE = 3,  /* a step ends: id, elapsed, status (0 ok), text = error */
  SW_EVENT_STEP_CACHED = 4, /* a step was satisfied without running: id */
  SW_EVENT_PROGRESS = 5,   /* bytes moved for a step (upload, download): id, current, total */
  SW_EVENT_WARNING = 6,    /* a build warning: text (file:line: message) */
  SW_EVENT_LOG = 7,        /* a library log message: level, text */
} sw_event_kind;

/* Allocated by the library; fields are only ever appended (see the ABI rules above). */
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
  double time;        /* when it happened (seconds since 1970, CLOCK_REALTIME) — events of
                         concurrent stages are delivered later, on the caller's thread */
} sw_event;

/* Called on the thread that runs sw_build_run(), one event at a time.  The event and its
 * strings are valid only during the call. */
typedef void (*sw_event_callback) (const sw_event *ev, void *userdata);

SW_API void sw_build_set_event_callback (sw_build *b, sw_event_callback cb, void *userdata);

/* Run the build: resolve, execute, export.  Blocks until done.  A build that fails
 * publishes no tag. */
SW_API int sw_build_run (sw_build *b, sw_error **err);

/* Cancel this build, from any thread or from a signal handler (async-signal-safe): its
 * running steps are killed (each step's whole PID namespace), the build cleans up, and
 * sw_build_run() fails with an SW_ERR_CANCELLED error (errno ECANCELED) and publishes
 * nothing.  Other builds of the process go on.  Cancelling is for good: a later
 * sw_build_run() on the same handle fails at once.  Call it only while b is not freed. */
SW_API void sw_build_cancel (sw_build *b);

/* After a successful run: the digest of the image's manifest (or index: for several
 * platforms, or when attestations are attached), and of its config (the image ID).  NULL
 * before. */
SW_API const char *sw_build_digest (const sw_build *b);
SW_API const char *sw_build_image_id (const sw_build *b);

/* ---- registry tools (registry/): imagetools, login ------------------------------ */

/* Public and kept: these are what `slipway imagetools` and `slipway login` run, and what a
 * scale-out build uses to merge the single-platform images its CI jobs pushed (one job
 * per platform, each `slipway build --push` to its own tag) into one multi-platform
 * index, with the credentials stored by sw_registry_login(). */

/* insecure: NULL-terminated list of registries ("host[:port]") reachable over plain HTTP
 * or with an unverifiable certificate (as --insecure-registry); may be NULL.  Loopback
 * registries may always use plain HTTP. */

/* Write what REF names: with raw, the manifest or index bytes exactly as the registry
 * holds them; else a summary as `docker buildx imagetools inspect` prints it.  With
 * platform ("linux/arm64", may be NULL), an index is first narrowed to that platform's
 * image, as FROM does. */
SW_API int sw_imagetools_inspect (const char *ref, const char *platform, int raw, const char *const *insecure,
                                  FILE *out, sw_error **err);

/* Make the NULL-terminated list of tags name the sources: one source is copied
 * byte for byte (index or manifest, every manifest and blob it names, streamed registry to
 * registry with nothing on local disk); several single-platform images (or indexes) are
 * combined into one index.  Blobs the destination has are skipped, blobs in another
 * repository of the same registry are mounted.  Tags are written last.  With digest_out
 * (SW_IMAGE_DIGEST_BUFSZ bytes), receives the digest of what the tags name. */
#define SW_IMAGE_DIGEST_BUFSZ 72
SW_API int sw_imagetools_create (const char *const *tags, const char *const *sources,
                                 const char *const *insecure, char *digest_out, sw_error **err);

/* Check the credentials against SERVER (a host[:port], or docker.io when NULL) and store
 * them in $DOCKER_CONFIG/config.json (~/.docker/config.json) as `docker login` does. */
SW_API int sw_registry_login (const char *server, const char *username, const char *password,
                              const char *const *insecure, sw_error **err);
/* Remove SERVER's credentials from config.json. */
SW_API int sw_registry_logout (const char *server, sw_error **err);

/* ---- publishing: several tags moved together (registry/publish.c) -------------------- */

/* A set of tags to move to images that are already in the registry by digest (pushed with
 * SW_OPT_PUBLISH "none", or by separate builds).  sw_publish_run() copies each image by
 * digest into every repository a tag names (blobs mounted within a registry), records
 * where each tag points, writes every tag in one loop — tags marked SW_PUBLISH_LAST, then
 * version- or timestamp-looking tags (1.2.3, 20240501) after moving tags like `latest` —
 * and, when a write fails part-way, puts the moved tags back where they were (deleting
 * the ones that did not exist, where the registry allows it) and fails with a message
 * naming every tag and where it points now.  Nothing is written before every image has
 * been found and staged. */
typedef struct sw_publish sw_publish;

#define SW_PUBLISH_LAST 1u /* write this tag after the others */

/* insecure: as for sw_imagetools_create; may be NULL. */
SW_API sw_publish *sw_publish_new (const char *const *insecure);
SW_API void sw_publish_free (sw_publish *p);
/* Move tag ("host/repo:tag") to image ("host/repo@sha256:…", the repository that holds it). */
SW_API int sw_publish_add (sw_publish *p, const char *tag, const char *image, unsigned flags, sw_error **err);
/* Progress: one SW_EVENT_LOG (level SW_LOG_INFO) per tag written or put back. */
SW_API void sw_publish_set_event_callback (sw_publish *p, sw_event_callback cb, void *userdata);
SW_API int sw_publish_run (sw_publish *p, sw_error **err);

/* ---- bake definitions (bake/) ----------------------------------------------------------- */

/* Read `docker buildx bake` definition files (docker-bake.hcl, docker-bake.json, compose
 * files) with buildx's lookup order, merge and override rules, and resolve targets
 * (target or group names, globs; NULL means "default"), overrides as `--set` takes them.
 * files NULL: buildx's default names in the current directory.  *json_out receives the
 * definition as `docker buildx bake --print` writes it ({"group": …, "target": …}); free
 * it with sw_free().  With SW_BAKE_EXTENSIONS, targets also carry slipway's own fields
 * from the files (x-slipway-smoke, x-slipway-publish-last). */
#define SW_BAKE_EXTENSIONS 1u
SW_API int sw_bake_definition (const char *const *files, const char *const *targets, const char *const *overrides,
                               unsigned flags, char **json_out, sw_error **err);

/* Free memory the library returned (sw_bake_definition's JSON). */
SW_API void sw_free (void *p);

/* ---- sandbox and state (sandbox/, store/) -------------------------- */

/* Cancel every running step of every build in the process (sw_build_cancel() cancels
 * one): kills each step's whole PID namespace; the builds then clean up and fail.
 * Async-signal-safe: call it from a SIGINT/SIGTERM handler. */
SW_API void sw_cancel (void);

/* `slipway prune`: empty the state dir's layer store, caches and dead runs' scratch.
 * state_dir NULL means /var/lib/slipway.  Fails (EBUSY) while a build uses it. */
SW_API int sw_prune (const char *state_dir, uint64_t *freed_bytes, sw_error **err);

#ifdef __cplusplus
}
#endif

#endif
