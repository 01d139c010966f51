/* sandbox/view.h — a stage's root filesystem, mounted for a moment, visible to no one else.
 *
 * COPY, ADD and WORKDIR edit a stage's tree without running a process in it: they need the
 * tree as the next step will see it (the snapshots below, merged by overlayfs) with writes
 * landing in a new upper dir, which then is the step's layer.  sw_view_run() mounts that
 * overlay on a short-lived thread that first moves into a mount namespace of its own, calls
 * fn with a descriptor of the merged root, and ends.  The mount lives only in that thread's
 * namespace: slipway's own namespace never sees it, and when the thread ends — or the
 * process dies, however — the kernel takes it down.  No unmount to forget, ever.
 *
 * With no lowers, fn gets the upper dir itself (nothing to merge, nothing mounted); with no
 * upper, the view is read-only (a source for COPY --from).
 */
#ifndef SW_EXEC_VIEW_H
#define SW_EXEC_VIEW_H

#include "common/error.h"

typedef int (*sw_view_fn) (int rootfd, void *arg, sw_error **err);

/* One tree.  lowers: NULL-terminated, bottom first (may be NULL or empty).  upper and work:
 * empty directories on one filesystem (upper NULL for a read-only view; work is then
 * unused).  mountpoint: an empty directory to mount on. */
typedef struct sw_view_tree
{
  const char *const *lowers;
  const char *upper;
  const char *work;
  const char *mountpoint;
} sw_view_tree;

int sw_view_run (const char *const *lowers, const char *upper, const char *work, const char *scratch,
                 sw_view_fn fn, void *arg, sw_error **err);

/* Two trees at once (COPY --from: a read-only source and the destination): fn gets both
 * roots, in the same private namespace. */
typedef int (*sw_view2_fn) (int dst_fd, int src_fd, void *arg, sw_error **err);
int sw_view_run2 (const sw_view_tree *dst, const sw_view_tree *src, sw_view2_fn fn, void *arg,
                  sw_error **err);

#endif
