/* exec/commit.h — what each Dockerfile instruction does to the image config, as BuildKit.
 *
 * BuildKit's dockerfile2llb dispatchers edit the image config and append a history entry
 * ("created_by", comment "buildkit.dockerfile.v0", empty_layer for metadata-only steps).
 * These functions do the same edits with the same strings, so `docker history` and the
 * config digest of a slipway image read as BuildKit's:
 *   ENV K=V …  LABEL K=V …  CMD ["a" "b"]  ENTRYPOINT ["a"]  USER u  VOLUME [/a /b]
 *   STOPSIGNAL s  SHELL [a b]  EXPOSE [80/tcp]  MAINTAINER m  HEALTHCHECK {Test:[…] …}
 *   ARG K=V …  WORKDIR /x (a layer unless "/")  RUN … # buildkit  COPY … # buildkit
 * ONBUILD stores its expression and writes no history, as BuildKit.
 *
 * Instructions arrive already expanded (dockerfile/instructions.h sw_df_instr_expand).
 */
#ifndef SW_EXEC_COMMIT_H
#define SW_EXEC_COMMIT_H

#include <stdbool.h>

#include "common/error.h"
#include "dockerfile/instructions.h"
#include "image/config.h"

#define SW_HISTORY_COMMENT "buildkit.dockerfile.v0"

typedef struct sw_commit_state
{
  sw_image_config *config; /* edited in place */
  bool cmd_set;            /* CMD seen in this stage: ENTRYPOINT then keeps it */
  const char *epoch;       /* SOURCE_DATE_EPOCH as RFC 3339, for every entry; or NULL */
} sw_commit_state;

/* Append a history entry, dated with the epoch when one is set; else an entry with a layer
 * gets the time it is made (RFC 3339 with nanoseconds, as BuildKit writes it), and one
 * without a layer "" — exec/export.c dates it from the layer steps around it. */
void sw_commit_history (sw_commit_state *st, const char *created_by, bool with_layer);

/* Now as BuildKit writes times: "2026-12-04T19:33:20.123456789Z".  A new string. */
char *sw_commit_now (void);

/* Apply a metadata instruction (ENV LABEL CMD ENTRYPOINT USER VOLUME STOPSIGNAL SHELL
 * EXPOSE MAINTAINER HEALTHCHECK ONBUILD): edit the config, add its history entry.
 * Errors (a bad port, an unknown signal, an empty volume) are located on the node. */
int sw_commit_metadata (sw_commit_state *st, const sw_dockerfile *df, const sw_df_instr *in,
                        sw_error **err);

/* Set or replace K in a "K=V" list (Go's addEnv: the first entry for K is replaced). */
void sw_env_set (char ***env, const char *key, const char *value);
/* The value of K in a "K=V" list, or NULL. */
const char *sw_env_get (char *const *env, const char *key);

/* The shell-form command as the image or RUN sees it: SHELL (or /bin/sh -c) + the line.
 * Returns a new NULL-terminated list. */
char **sw_commit_with_shell (const sw_image_config *c, const char *line);

/* "RUN …" history text: BuildKit's runCommandString — the build args in scope, when any,
 * as "|N K=V …" before the command. */
char *sw_commit_run_string (char *const *args, char *const *build_args);

#endif
