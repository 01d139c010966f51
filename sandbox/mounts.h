/* sandbox/mounts.h — RUN --mount specs, --secret and --ssh sources.
 *
 * Guarantees: sw_mount_parse() reads BuildKit's --mount syntax (comma-separated key=value,
 * bare booleans) and fills BuildKit's defaults:
 *   bind   target required; source "." of `from` (the context unless from= names a stage);
 *          read-only unless rw/readwrite
 *   cache  target required; id = target; sharing=shared; mode 0755; uid=gid=0
 *   tmpfs  target required; size= optional
 *   secret id = basename of target, target = /run/secrets/ID; mode 0400; uid=gid=0;
 *          required=false (a missing optional secret is skipped)
 *   ssh    id "default"; target /run/buildkit/ssh_agent.N; mode 0600; SSH_AUTH_SOCK set
 * Unknown keys and malformed values are errors naming the key and the value.
 * Secret and ssh sources parse `docker buildx build --secret/--ssh` values.
 */
#ifndef SW_EXEC_MOUNTS_H
#define SW_EXEC_MOUNTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "store/state.h"

typedef enum sw_mount_type
{
  SW_MOUNT_BIND = 1,
  SW_MOUNT_CACHE,
  SW_MOUNT_TMPFS,
  SW_MOUNT_SECRET,
  SW_MOUNT_SSH,
} sw_mount_type;

typedef struct sw_mount
{
  sw_mount_type type;
  char *target;  /* absolute, inside the rootfs */
  char *source;  /* bind: path inside `from` (default "."); cache: unused */
  char *from;    /* bind: stage or context name as written; the engine resolves it */
  char *id;      /* cache, secret, ssh */
  bool readonly; /* bind: default true; cache: default false */
  bool required; /* secret, ssh */
  sw_cache_sharing sharing;
  uid_t uid;
  gid_t gid;
  mode_t mode;
  uint64_t size; /* tmpfs bytes, 0 = kernel default */
} sw_mount;

/* n: the index of this mount among the step's ssh mounts (for the default target). */
int sw_mount_parse (const char *spec, unsigned n, sw_mount *out, sw_error **err);
void sw_mount_clear (sw_mount *m);

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
