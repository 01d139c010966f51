/* dockerfile/instructions.h — typed instructions from the syntax tree.
 *
 * Contract: sw_df_instr_parse() turns one instruction node of dockerfile/ast.h into a
 * typed instruction exactly where BuildKit's instructions.ParseInstruction does, with the
 * same checks in the same order, and every failure located (dockerfile/location.h):
 *
 *  - the flags each instruction allows (anything else: "unknown flag: --x", with "did you
 *    mean" when one is close), a flag given twice, a missing or non-boolean value;
 *    ARG, STOPSIGNAL and HEALTHCHECK NONE do not look at flags at all, as in BuildKit;
 *  - argument counts ("WORKDIR requires exactly one argument", "COPY requires at least
 *    two arguments, but only one was provided. …", "FROM requires either one or three
 *    arguments"…), stage-name syntax, HEALTHCHECK types and durations, RUN --network /
 *    --security values, RUN --mount from= with a variable, SHELL not in JSON form,
 *    ONBUILD ONBUILD/FROM/MAINTAINER, a heredoc as a COPY/ADD destination;
 *  - an unknown instruction: "unknown instruction: RUNN (did you mean RUN?)".
 *
 * Words are NOT expanded here: expansion depends on the ARG/ENV state at the point of
 * execution, which dockerfile/plan.h tracks.  sw_df_instr_expand() applies it later,
 * to exactly the words BuildKit expands: ADD, COPY (sources, destination, --chown,
 * --chmod, --checksum; heredoc bodies whose delimiter was unquoted, with quotes left
 * alone), ENV and LABEL (keys and values), EXPOSE (split into ports), STOPSIGNAL, USER,
 * VOLUME, WORKDIR, RUN --mount values.  RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and
 * MAINTAINER keep their words for the shell or as written.  FROM and ARG are expanded by
 * the plan (FROM with the global ARGs, ARG defaults with the stage's state); ONBUILD
 * keeps its expression, which expands when the trigger runs.
 *
 * An instruction owns its strings and borrows nothing but `node` (valid while the
 * sw_dockerfile lives).
 */
#ifndef SW_DOCKERFILE_INSTRUCTIONS_H
#define SW_DOCKERFILE_INSTRUCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "dockerfile/ast.h"
#include "dockerfile/expand.h"

typedef enum sw_df_kind
{
  SW_DF_ADD,
  SW_DF_ARG,
  SW_DF_CMD,
  SW_DF_COPY,
  SW_DF_ENTRYPOINT,
  SW_DF_ENV,
  SW_DF_EXPOSE,
  SW_DF_FROM,
  SW_DF_HEALTHCHECK,
  SW_DF_LABEL,
  SW_DF_MAINTAINER,
  SW_DF_ONBUILD,
  SW_DF_RUN,
  SW_DF_SHELL,
  SW_DF_STOPSIGNAL,
  SW_DF_USER,
  SW_DF_VOLUME,
  SW_DF_WORKDIR,
} sw_df_kind;

/* ENV/LABEL pair, or ARG name[=default] (value NULL when ARG has no default). */
typedef struct sw_df_kv
{
  char *key;
  char *value;
  bool no_delim; /* ENV KEY VALUE (old form, no '=') */
} sw_df_kv;

/* A COPY/ADD source given inline by a heredoc: the file `path` with `data`. */
typedef struct sw_df_inline_source
{
  char *path;
  char *data;  /* already chomped for <<- */
  bool expand; /* delimiter unquoted: expand $ in data (quotes stay as they are) */
} sw_df_inline_source;

/* A RUN heredoc: a file the shell command refers to (`RUN <<EOF`). */
typedef struct sw_df_inline_file
{
  char *name;
  char *data; /* NOT chomped: chomp says whether to */
  bool chomp;
} sw_df_inline_file;

typedef struct sw_df_mount
{
  char *spec; /* the --mount value as written: "type=cache,target=/root/.cache" */
  char *from; /* its from= (stages are found through it), or NULL; never expanded */
} sw_df_mount;

/* A RUN --mount, parsed after expansion the way BuildKit's parseMount does at dispatch. */
typedef enum sw_df_mount_type
{
  SW_DF_MOUNT_BIND,
  SW_DF_MOUNT_CACHE,
  SW_DF_MOUNT_TMPFS,
  SW_DF_MOUNT_SECRET,
  SW_DF_MOUNT_SSH,
} sw_df_mount_type;

typedef enum sw_df_mount_sharing
{
  SW_DF_SHARING_UNSET,
  SW_DF_SHARING_SHARED,
  SW_DF_SHARING_PRIVATE,
  SW_DF_SHARING_LOCKED,
} sw_df_mount_sharing;

typedef struct sw_df_run_mount
{
  sw_df_mount_type type;           /* default bind */
  char *from, *source, *target, *id; /* NULL when not given */
  char *env;                       /* secret: env=NAME; NULL when not given */
  bool readonly;                   /* default: true for bind/secret/ssh, false for cache/tmpfs */
  bool required;
  long long size_limit;            /* tmpfs size=, bytes; 0 when not given */
  sw_df_mount_sharing sharing;
  bool has_mode, has_uid, has_gid;
  unsigned long mode, uid, gid;
} sw_df_run_mount;

typedef struct sw_df_healthcheck
{
  char **test; /* {"NONE"}, {"CMD", args…} or {"CMD-SHELL", "cmd line"}; NULL-terminated */
  size_t n_test;
  int64_t interval_ns, timeout_ns, start_period_ns, start_interval_ns; /* 0: unset */
  int retries;
} sw_df_healthcheck;

typedef struct sw_df_instr
{
  sw_df_kind kind;
  const sw_df_node *node; /* where it came from, for messages */
  char *original;         /* the source line (node->original) */

  /* RUN, CMD, ENTRYPOINT, SHELL: the command line.  Exec form (json): the arguments;
   * shell form: one string, the arguments joined by spaces; prepend_shell says which. */
  char **cmdline;
  size_t n_cmdline;
  bool prepend_shell;
  bool cmdline_null; /* ENTRYPOINT with no arguments: clears the entrypoint */
  sw_df_inline_file *files; /* RUN heredocs */
  size_t n_files;

  /* RUN flags */
  sw_df_mount *mounts;
  size_t n_mounts;
  char *network;  /* "default", "none", "host" */
  char *security; /* "sandbox", "insecure" */
  char **devices;
  size_t n_devices;

  /* COPY/ADD */
  char **sources; /* paths (and URLs/git refs for ADD), as written */
  size_t n_sources;
  sw_df_inline_source *inline_sources;
  size_t n_inline_sources;
  char *dest;
  char *from;     /* COPY --from: a stage name, a stage index or an image */
  char *chown, *chmod, *checksum;
  bool link, parents;
  int keep_git_dir, unpack; /* ADD: -1 not given, 0 false, 1 true */
  char **excludes;
  size_t n_excludes;

  /* ENV, LABEL, ARG */
  sw_df_kv *kvs;
  size_t n_kvs;

  /* FROM */
  char *base;        /* image, stage name or "scratch", as written */
  char *stage_name;  /* lower-cased AS name, or NULL */
  char *platform;    /* --platform as written, or NULL */

  /* EXPOSE (sorted as BuildKit sorts them), VOLUME (trimmed) */
  char **words;
  size_t n_words;

  /* WORKDIR path, USER, STOPSIGNAL, MAINTAINER; ONBUILD: the trigger expression */
  char *value;

  sw_df_healthcheck *health; /* HEALTHCHECK */

  /* a base stage's ONBUILD trigger run in this stage: node is in the trigger's own parse,
   * not in the Dockerfile (messages then point at the stage's FROM) */
  bool trigger;

  /* RUN after sw_df_instr_expand: mounts[i] parsed (n_mounts of them); NULL before */
  sw_df_run_mount *run_mounts;
} sw_df_instr;

/* The lower-case name of a kind: "copy". */
const char *sw_df_kind_name (sw_df_kind kind);

/* True for the kinds whose words BuildKit expands (see the contract above). */
bool sw_df_kind_expands (sw_df_kind kind);

/* Parse instruction node of df.  On failure returns -1 with a located *err. */
int sw_df_instr_parse (const sw_dockerfile *df, const sw_df_node *node, sw_df_instr **out,
                       sw_error **err);

void sw_df_instr_free (sw_df_instr *in);

/* A copy of in with its words expanded through lookup, as BuildKit's dispatch does
 * (ARG and FROM are returned unexpanded: the plan handles them).  escape is the
 * Dockerfile's escape character.  df locates errors (may be NULL). */
int sw_df_instr_expand (const sw_dockerfile *df, const sw_df_instr *in, int escape,
                        sw_expand_lookup lookup, void *userdata, sw_df_instr **out,
                        sw_error **err);

/* Parse an (already expanded) --mount value with BuildKit's rules and messages: type=
 * bind|cache|tmpfs|secret|ssh, from, source|src, target|dst|destination, ro|readonly,
 * rw|readwrite, required (secret, ssh), size (tmpfs), id, sharing=shared|private|locked
 * (cache), mode (octal), uid, gid (secret, ssh, cache), env (secret).  Unlocated errors. */
int sw_df_run_mount_parse (const char *spec, sw_df_run_mount *out, sw_error **err);
void sw_df_run_mount_clear (sw_df_run_mount *m);
void sw_df_run_mount_copy (sw_df_run_mount *dst, const sw_df_run_mount *src);

/* Fill in what BuildKit's dispatcher derives for what a parsed --mount leaves out, so that
 * the engine and the sandbox read one typed mount:
 *   bind    target required; source "." (of from=, or of the build context)
 *   cache   target required; id = target; sharing shared; mode 0755; source "." of from=
 *           (a cache seeded from that tree); no source without from yet
 *   tmpfs   target required
 *   secret  id = id, else source, else the target's basename; target /run/secrets/ID
 *           unless env= alone is given (then the secret is only that variable); mode 0400
 *   ssh     id "default"; target /run/buildkit/ssh_agent.N (N: ssh_index, the mount's
 *           rank among the step's ssh mounts); mode 0600
 * has_mode is set afterwards; a relative target is joined to workdir (NULL: "/") as
 * BuildKit does.  Unlocated errors. */
int sw_df_run_mount_finish (sw_df_run_mount *m, unsigned ssh_index, const char *workdir,
                            sw_error **err);

/* The lower-case name of a mount type: "cache". */
const char *sw_df_mount_type_name (sw_df_mount_type type);

/* The from= of a --mount value as BuildKit reads it before expansion; NULL when absent.
 * -1 (with *err, unlocated) when from= uses a variable. */
int sw_df_mount_from (const char *spec, char **from, sw_error **err);

#endif
