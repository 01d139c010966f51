/* sandbox/sandbox.h — run one process over overlay snapshots, the way a RUN step runs.
 *
 * sw_sandbox_run() runs spec->argv in new mount, PID, IPC and UTS namespaces, in a network
 * namespace of its own unless spec->network is SW_NET_HOST (sandbox/net.h), whose root is an overlayfs of spec->lowers (bottom
 * first) under spec->upper (an empty directory).  Guarantees:
 *  - After it returns, spec->upper holds exactly the step's changes, in overlayfs form:
 *    new and changed files, char 0:0 whiteouts for deletions, trusted.overlay.opaque=y
 *    on directories that were replaced (the layer packer turns these into .wh. entries
 *    and skips trusted.overlay.* xattrs).  Mountpoints slipway needs (/dev /proc /sys
 *    /etc/hosts /etc/resolv.conf /etc/hostname, mount targets) never appear in it: they
 *    come from a stub layer below the rootfs, and any stub that had to be made in the
 *    upper dir is removed afterwards.  WORKDIR, when missing, is created (root, 0755),
 *    as BuildKit does, and so does appear.  The upper dir's own mode and owner are set to
 *    those of the top snapshot's root (they are what the step sees as "/").
 *  - No mount is ever made in slipway's own mount namespace: every mount lives in the
 *    step's namespace and goes away with its last process, whatever happens to slipway
 *    (the step's init gets SIGKILL when slipway dies).
 *  - Inside: /proc and /sys read-only (docker's masked paths masked), a minimal /dev
 *    (null zero full random urandom tty bound from the host, ptmx over its own devpts, shm,
 *    mqueue, fd links); every mount the step can write to is nodev, since the step holds
 *    CAP_MKNOD and there is no device cgroup;
 *    /etc/hosts (localhost, the hostname and extra hosts), /etc/resolv.conf (sw_sandbox_net_resolv()),
 *    /etc/hostname; PID 1 is a small non-dumpable init that reaps and exits with the
 *    command's status; the command runs with docker's default capabilities (none for a
 *    non-root user), no_new_privs, docker's default seccomp profile, RLIMIT_NOFILE
 *    1048576 (the host's hard limit if lower), umask 022, stdin /dev/null, every other fd
 *    closed, and the USER resolved as docker does (sandbox/user.h) from the snapshots'
 *    /etc/passwd and /etc/group before anything is mounted.
 *  - stdout and stderr arrive through spec->output one line at a time (without the
 *    newline; a line longer than 64 KiB arrives in pieces), on the calling thread, with
 *    the value of every secret mounted in the step (and each of its lines of 4 characters
 *    or more) replaced by "****" — BuildKit prints them; a CI log must not.
 *  - A non-zero exit is an error worded as BuildKit's:
 *      process "/bin/sh -c exit 3" did not complete successfully: exit code: 3
 *    and *exit_code tells the code (128+N for a signal N).
 *  - sw_sandbox_cancel() (async-signal-safe, for SIGINT/SIGTERM handlers) kills every
 *    running step's whole PID namespace; sw_sandbox_run() then cleans up its scratch and
 *    fails with ECANCELED, and later calls fail at once (until sw_sandbox_cancel_reset()).
 *    sw_sandbox_stop_request() does the same for the steps whose spec->stop is that
 *    token only (one build's steps: sw_build_cancel), for good.
 * How the engine chains steps (each step's upper dir is a lower of the next):
 *
 *   sw_state_open (state_dir, &st, &err);            once per build
 *   base layers:  sw_state_layer_has / _begin / _commit (layers/ extracts into the dir)
 *   each RUN:     sw_state_mkscratch (st, "snap", &upper, &err);
 *                 spec.lowers = { base layer dirs…, earlier uppers… }; spec.upper = upper;
 *                 sw_sandbox_run (&spec, &code, &err);   then pack `upper` as the layer
 *   SIGINT/TERM:  the engine's handler calls sw_cancel () (= sw_sandbox_cancel)
 *   sw_state_close (st);                              removes the session's snapshots
 *
 * The calling process must be root (CAP_SYS_ADMIN in the initial namespaces).  The child
 * side allocates nothing and calls no locking libc function, so running a step from a
 * multithreaded engine is safe.
 */
#ifndef SW_EXEC_SANDBOX_H
#define SW_EXEC_SANDBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "sandbox/limits.h"
#include "sandbox/mounts.h"
#include "store/state.h"

typedef enum sw_net_mode
{
  SW_NET_DEFAULT = 0, /* an own network namespace with outbound connectivity through pasta,
                       * no path to the host's loopback (sandbox/net.h) */
  SW_NET_NONE,        /* a new network namespace with only lo (up) */
  SW_NET_HOST,        /* the host's network (the engine asks for --allow network.host) */
} sw_net_mode;

/* Parse "default" | "none" | "host". */
int sw_net_mode_parse (const char *s, sw_net_mode *out, sw_error **err);

/* A cancel token for a group of steps (one build's).  Requesting it is async-signal-safe
 * (an atomic store and a write to a pipe that wakes every step waiting on it); it stays
 * requested until destroyed. */
typedef struct sw_sandbox_stop
{
  atomic_int requested;
  int pipe[2]; /* -1 when no pipe could be made: then steps look at the flag every 200 ms */
} sw_sandbox_stop;

void sw_sandbox_stop_init (sw_sandbox_stop *s);
void sw_sandbox_stop_request (sw_sandbox_stop *s);
bool sw_sandbox_stop_requested (const sw_sandbox_stop *s); /* s may be NULL */
void sw_sandbox_stop_destroy (sw_sandbox_stop *s);
/* Start making the own network (sandbox/net.h) in the background, for a caller that knows
 * a step will need it and has other work first (a base image to extract): pasta takes a
 * few hundred milliseconds to come up, once per process.  Nothing for other modes. */
void sw_sandbox_network_warm (sw_net_mode mode);

/* One line of output; stream 1 = stdout, 2 = stderr. */
typedef void (*sw_sandbox_output) (int stream, const char *line, size_t len, void *userdata);

typedef struct sw_sandbox_spec
{
  sw_state *state;           /* required: scratch lives in its session, caches under it */
  const char *const *lowers; /* NULL-terminated, bottom (base layer) first; may be empty */
  const char *upper;         /* an existing empty directory */
  const char *const *argv;   /* the process; argv[0] looked up in the rootfs's PATH */
  const char *const *env;    /* KEY=VALUE; PATH defaults to docker's, HOME to the user's */
  const char *user;          /* USER spec; NULL or "" = root */
  const char *workdir;       /* absolute; NULL = "/" */
  const char *hostname;      /* NULL = "buildkitsandbox" */
  sw_net_mode network;
  /* RUN --security=insecure (the engine asks for --allow security.insecure): every
   * capability, no seccomp, no masked paths, /proc and /sys writable — BuildKit's */
  bool insecure;
  const char *const *extra_hosts; /* "HOST:IP" or "HOST=IP" */
  const sw_df_run_mount *mounts; /* finished (sw_df_run_mount_finish) */
  size_t n_mounts;
  /* Where bind mounts read from: context_dir for a mount without from=; for mounts[i]
   * with from= (a stage, an image, a named context), from_trees[i]: that tree's snapshot
   * dirs, bottom first, NULL-terminated (empty: an empty tree).  The step sees the tree
   * the snapshots make (an overlay of them, read-only; rw writes are discarded).  Sources
   * are resolved inside their tree or directory (never outside it). */
  const char *context_dir;
  const char *const *const *from_trees;
  const sw_secret_src *secrets;
  size_t n_secrets;
  const sw_ssh_src *ssh;
  size_t n_ssh;
  sw_sandbox_output output;
  void *userdata;
  /* emulation for a foreign platform (emu/emu.h: sw_emu_prepare); NULL runs natively */
  const struct sw_emu *emu;
  /* cancels this step besides sw_sandbox_cancel(); NULL: only that one */
  sw_sandbox_stop *stop;
  /* limits (sandbox/limits.h): /dev/shm's size (0: 64 MiB), rlimits set after the
   * defaults, and a cgroup of the step's own under cgroup_parent (cgroup v2; NULL: the
   * step stays in slipway's cgroup) with cgroup_limits */
  uint64_t shm_size;
  const sw_ulimit *ulimits;
  size_t n_ulimits;
  const char *cgroup_parent;
  sw_cgroup_limits cgroup_limits;
} sw_sandbox_spec;

/* Returns 0 when the process ran and exited 0; -1 otherwise (setup failure, non-zero
 * exit, cancellation).  *exit_code: the process's exit code, or -1 if it never ran. */
int sw_sandbox_run (const sw_sandbox_spec *spec, int *exit_code, sw_error **err);

void sw_sandbox_cancel (void);
bool sw_sandbox_cancelled (void);
/* Forget an earlier cancellation (a long-lived runner starting its next build). */
void sw_sandbox_cancel_reset (void);

/* The argv as BuildKit quotes it in its failure message. */
char *sw_sandbox_describe_argv (const char *const *argv);

#endif
