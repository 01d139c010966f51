/* sandbox/mounts.h — the sources of RUN's secret and ssh mounts.
 *
 * RUN --mount values themselves are parsed once, by the front end (dockerfile/instructions.h:
 * sw_df_run_mount_parse, then sw_df_run_mount_finish for BuildKit's defaults); the sandbox
 * consumes those typed mounts.  What is parsed here are the `docker buildx build --secret`
 * and `--ssh` values that say where a secret's bytes or an agent's socket come from; every
 * error names the flag and the value.
 */
#ifndef SW_SANDBOX_MOUNTS_H
#define SW_SANDBOX_MOUNTS_H

#include "common/error.h"
#include "dockerfile/instructions.h"

typedef struct sw_secret_src
{
  char *id;
  char *path; /* one of path, env */
  char *env;
} sw_secret_src;

/* "id=ID,src=PATH" | "id=ID,source=PATH" | "id=ID,env=VAR" | "id=ID,type=file|env,…";
 * like buildx: without src/env, type=env reads $ID, otherwise src defaults to nothing. */
int sw_secret_src_parse (const char *spec, sw_secret_src *out, sw_error **err);
void sw_secret_src_clear (sw_secret_src *s);

typedef struct sw_ssh_src
{
  char *id;     /* "default" when omitted */
  char *socket; /* the agent socket; default $SSH_AUTH_SOCK */
} sw_ssh_src;

/* "default" | "ID" | "ID=SOCKET". */
int sw_ssh_src_parse (const char *spec, sw_ssh_src *out, sw_error **err);
void sw_ssh_src_clear (sw_ssh_src *s);

#endif
