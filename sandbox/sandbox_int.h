/* sandbox/sandbox_int.h — private to sandbox/sandbox*.c: the plan the parent prepares and the
 * child carries out.
 *
 * Everything the child needs is computed before the clone: strings, fds, the seccomp
 * program.  The child (a copy of the parent made by clone3 without CLONE_VM) only reads
 * this memory and makes system calls; it never allocates and never calls libc functions
 * that take locks, because another thread of the parent may have held them at the clone.
 *
 * The types are sw_sandbox_plan and sw_sandbox_run_state, not sw_plan: that name is the
 * build plan of dockerfile/plan.h, and a file may well include both headers.
 */
#ifndef SW_EXEC_SANDBOX_INT_H
#define SW_EXEC_SANDBOX_INT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "sandbox/limits.h"

typedef enum sw_op_kind
{
  SW_OP_BIND = 1, /* src_fd → target */
  SW_OP_TMPFS,    /* a tmpfs at target */
  SW_OP_FILE,     /* content (from this memory) → a file on the staging tmpfs → target */
} sw_op_kind;

typedef struct sw_op
{
  sw_op_kind kind;
  const char *target; /* relative to the rootfs ("etc/hosts") */
  bool target_is_dir;
  bool readonly;
  bool discard_writes; /* SW_OP_BIND rw: writes land on a tmpfs overlay, not the source */
  bool secret;         /* SW_OP_FILE holding a secret: masked in the step's output */
  /* SW_OP_BIND: the source, opened by the child (a mount must be bound from the child's
   * own mount namespace): src_base, and src_rel resolved inside it when not NULL */
  const char *src_base;
  const char *src_rel;
  /* SW_OP_BIND from a tree of snapshots (RUN --mount from=) when not NULL: the child merges
   * these dirs (top first, NULL-terminated; none: an empty tree) read-only on the staging
   * tmpfs, and resolves src_rel inside that; src_base is unused */
  const char *const *src_lowers;
  const char *content;/* SW_OP_FILE */
  size_t content_len;
  mode_t mode;        /* SW_OP_FILE, SW_OP_TMPFS */
  uid_t uid;
  gid_t gid;
  const char *data;   /* SW_OP_TMPFS: mount options */
} sw_op;

#define SW_MAX_GROUPS 65536

typedef struct sw_sandbox_plan
{
  /* overlay */
  /* opened by the child (overlayfs clones its layers' mounts, which must be in the
   * child's namespace), then named by fd number with the cwd at /proc/self/fd, so no
   * path length or ':' escaping limits apply */
  const char *const *lowers; /* top first, stubs last */
  const char *upper;
  const char *work;
  const char *merged;       /* the mountpoint */
  const char *staging;      /* a dir for the staging tmpfs (SW_OP_FILE contents) */
  bool net_none;
  int net_fd;     /* the own network namespace to join (sandbox/net.h), or -1 */
  bool insecure;  /* RUN --security=insecure: /proc and /sys writable, no masked paths */
  const char *hostname;
  const sw_op *ops;
  size_t n_ops;
  const char *const *masked_files; /* rootfs-relative, bound to /dev/null if they exist */
  const char *const *masked_dirs;  /* rootfs-relative, covered by an empty ro tmpfs */

  /* process */
  const char *const *argv;
  char **envp;
  uid_t uid;            /* USER, resolved by the parent from the snapshots */
  gid_t gid;
  size_t ngroups;
  const gid_t *groups;
  const char *path_env; /* the PATH to search for argv[0] */
  const char *workdir;  /* absolute and clean; created (root, 0755) when missing */
  uint64_t keep_caps;   /* bounding and effective set for root */
  int last_cap;
  const struct sock_fprog *seccomp;
  const struct sw_emu *emu; /* NULL: native (emu/emu.h, child side) */
  char shm_opts[64];        /* /dev/shm's tmpfs options */
  const sw_ulimit *ulimits; /* --ulimit, applied after the default RLIMIT_NOFILE */
  size_t n_ulimits;

  /* plumbing (fd numbers in the child) */
  int sync_fd;
  int out_fd, err_fd;
} sw_sandbox_plan;

/* The parent's view of one step: the plan and everything it owns. */
#include "common/buf.h"
#include "common/error.h"
#include "common/fsutil.h" /* sw_openat2 */
#include "sandbox/sandbox.h"
#include "sandbox/user.h"

typedef struct sw_sandbox_run_state
{
  const sw_sandbox_spec *spec;
  sw_sandbox_plan plan;
  char *scratch;    /* this step's overlay work dir */
  char *step_stubs; /* this step's stub layer, when its mounts need one */
  char *workdir_outside; /* a work dir made beside the upper dir (other filesystem) */
  int *fds;              /* everything opened for the child */
  size_t n_fds;
  sw_op *ops;
  size_t n_ops;
  char **strings; /* owned strings the ops point to */
  size_t n_strings;
  char **envp;
  char **secret_env; /* VAR=VALUE of secret mounts with env= */
  size_t n_secret_env;
  const char **lowers;
  char **stub_targets; /* rootfs-relative mountpoints, for the post-run check */
  size_t n_stub_targets;
  char *workdir;
  sw_user user;
  pid_t pid;
  int pidfd;
  int sync_fd;
  int out_rd, err_rd;
  sw_buf line[3];
  char **needles; /* secret values (whole, and each long line) masked in output */
  size_t n_needles;
} sw_sandbox_run_state;

/* Fill r->plan from r->spec (sandbox_plan.c); on failure r still needs sw_sandbox_run_free. */
int sw_sandbox_run_prepare (sw_sandbox_run_state *r, sw_error **err);
/* Close, free, and discard the step's scratch. */
void sw_sandbox_run_free (sw_sandbox_run_state *r);

/* The child's entry point after clone3: never returns. */
__attribute__ ((noreturn)) void sw_sandbox_child (const sw_sandbox_plan *p);

#endif
