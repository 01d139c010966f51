/* slipway-debug.h — the `slipway debug …` helpers: for slipway's own CLI and tests only.
 *
 * Not installed and not part of the ABI: libslipway.so does not export these (the CLI and
 * the tests link libslipway.a), and they may change in any release.  They take the CLI's
 * argc/argv, or a caller-allocated options struct, which the public API never does.
 */
#ifndef SLIPWAY_DEBUG_H
#define SLIPWAY_DEBUG_H

#include "slipway.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse a Dockerfile and write its AST to out in BuildKit's dump format (what
 * `slipway debug ast` prints).  Parse errors come back as *err with file:line:col. */
int sw_dockerfile_dump_ast (const char *path, FILE *out, sw_error **err);

/* emu: `slipway debug emu host|decide|run …` (sandbox/debug.c runs commands; emu/debug.c answers host and decide).  Results go to out, the
 * way emulation was arranged to info.  Returns the command's exit status (run), 0, or -1. */
int sw_debug_emu (int argc, char **argv, FILE *out, FILE *info, sw_error **err);

/* plan: `slipway debug plan FILE [--target T] [--build-arg K=V]… [--platform P]
 * [--build-platform P]` (see dockerfile/plan_debug.c): the stages the target needs, in
 * order, with their bases, platforms and the global ARG scope.  0 or -1. */
int sw_debug_plan (int argc, char **argv, FILE *out, sw_error **err);

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

#ifdef __cplusplus
}
#endif

#endif
