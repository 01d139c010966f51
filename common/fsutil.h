/* common/fsutil.h — opening paths inside a root directory fd, and rm -rf by fd.
 *
 * Guarantees: sw_open_in_root() and sw_openat2() never leave the directory fd they are
 * given through a symlink or "..": the kernel resolves the path (openat2 RESOLVE_IN_ROOT,
 * or whatever resolve flags the caller names), so neither a planted nor a raced symlink
 * leads outside.  Every fd they return is O_CLOEXEC.  sw_remove_all_at() never follows a
 * symlink, and works by fd, so a tree deeper than PATH_MAX is removed too; it holds one fd
 * per level, and stops at SW_REMOVE_MAX_DEPTH levels (ELOOP) instead of running out of fds
 * or stack on a hostile tree.  It is the one recursive remove of the code base.
 *
 * Used by exec/ (COPY, ADD, the sandbox) and layers/ (extraction), which each had their
 * own copy of these few lines.
 */
#ifndef SW_COMMON_FSUTIL_H
#define SW_COMMON_FSUTIL_H

#include <stdint.h>
#include <sys/types.h>

/* openat2(2) with the given resolve flags; EAGAIN and EINTR retried; flags get
 * O_CLOEXEC.  -1 with errno set. */
int sw_openat2 (int dirfd, const char *rel, int flags, uint64_t resolve);

/* openat2(rootfd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), EAGAIN and EINTR
 * retried, flags get O_CLOEXEC; mode applies with O_CREAT or O_TMPFILE.  Leading '/' are
 * dropped and "" means the root itself.  -1 with errno set. */
int sw_open_in_root (int rootfd, const char *path, int flags, mode_t mode);

/* The deepest tree sw_remove_all_at() descends: "name" itself is level 0. */
#define SW_REMOVE_MAX_DEPTH 4096u

/* rm -rf of dirfd/name, never following a symlink.  0 when it is gone (or was never
 * there), -1 with errno set to the first failure's (what could be removed is; ELOOP for a
 * directory deeper than SW_REMOVE_MAX_DEPTH, which is left in place with its parents). */
int sw_remove_all_at (int dirfd, const char *name);
/* The same with another depth bound (tests; callers that know their trees are shallow). */
int sw_remove_all_at_bounded (int dirfd, const char *name, unsigned max_depth);

/* Remove everything in the directory dfd (sw_remove_all_at on each entry), then
 * close dfd, which is
 * the caller's no more either way.  0, or -1 with errno set. */
int sw_empty_dir_fd (int dfd);

#endif
