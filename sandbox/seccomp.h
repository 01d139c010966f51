/* sandbox/seccomp.h — Docker's default seccomp profile, compiled once.
 *
 * Guarantees: sw_seccomp_default() returns the BPF program of moby's default profile
 * (profiles/seccomp/default.json) as it applies to a container with Docker's default
 * capabilities: the allowlist, the arch-specific and kernel-version entries, socket() but
 * not AF_VSOCK, personality() for the five allowed values, clone() without namespace
 * flags, clone3() failing with ENOSYS (so libc falls back to clone), everything else
 * EPERM.  The host's native arch plus its compat arches (x86 and x32 on x86_64, arm on
 * aarch64) are covered.  The program is compiled through libseccomp on first use and kept
 * for the life of the process (thread-safe); loading it needs no allocation, so it can be
 * installed in a freshly cloned child with a single prctl().
 */
#ifndef SW_EXEC_SECCOMP_H
#define SW_EXEC_SECCOMP_H

#include <linux/filter.h>

#include "common/error.h"

/* The compiled default profile; *prog stays valid for the life of the process.
 * cache_dir (may be NULL): a root-only directory where the compiled program is kept
 * between processes, keyed by libseccomp's version, the kernel release and the arch
 * (compiling takes tens of ms; reading it back, microseconds). */
int sw_seccomp_default (const char *cache_dir, const struct sock_fprog **prog, sw_error **err);

#endif
