/* sandbox/limits.h — what a RUN step may use: /dev/shm's size, rlimits, and a cgroup.
 *
 * Guarantees:
 *  - sw_shm_size_parse() reads docker's --shm-size (a byte count with an optional binary
 *    unit: 64m, 1g, 128MiB, 134217728) and refuses 0, negative and malformed sizes.
 *  - sw_ulimit_parse() reads docker's --ulimit NAME=SOFT[:HARD] (HARD defaults to SOFT,
 *    -1 is unlimited, SOFT may not exceed HARD) for the names docker knows.
 *  - sw_cgroup_step_*(): with a parent cgroup (cgroup v2 only), each step gets a cgroup
 *    of its own under it (PARENT/slipway-<pid>-<n>) with the limits given, the step's
 *    processes are put there before they run anything, and the cgroup is killed and
 *    removed when the step ends — a runaway step stays inside its limits and leaves no
 *    process behind.  On a host without cgroup v2 this is an error that says so.
 */
#ifndef SW_SANDBOX_LIMITS_H
#define SW_SANDBOX_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define SW_SHM_SIZE_DEFAULT (64ull << 20)

typedef struct sw_ulimit
{
  int resource; /* RLIMIT_* */
  uint64_t soft, hard; /* RLIM_INFINITY for -1 */
} sw_ulimit;

int sw_shm_size_parse (const char *s, uint64_t *bytes, sw_error **err);
int sw_ulimit_parse (const char *spec, sw_ulimit *out, sw_error **err);

/* Resource limits for a step's cgroup; 0 = none. */
typedef struct sw_cgroup_limits
{
  uint64_t memory_max; /* memory.max, bytes */
  uint64_t pids_max;   /* pids.max */
  uint64_t cpu_quota_us, cpu_period_us; /* cpu.max */
} sw_cgroup_limits;

/* The cgroup v2 directory for PARENT (a path under the cgroup2 mount, as --cgroup-parent
 * takes it: "ci" or "/ci/builds"); fails when the host has no cgroup v2 or PARENT does
 * not exist. */
int sw_cgroup_parent_check (const char *parent, sw_error **err);

/* Make the step's cgroup and apply the limits; *dir is its path, *fd its directory fd
 * (for clone3's CLONE_INTO_CGROUP or writing cgroup.procs). */
int sw_cgroup_step_create (const char *parent, const sw_cgroup_limits *lim, char **dir, int *fd,
                           sw_error **err);
/* Kill whatever is left in it and remove it (best effort; never fails). */
void sw_cgroup_step_remove (char *dir, int fd);

#endif
