/* store/state.h — slipway's state directory (--state-dir, default /var/lib/slipway).
 *
 * Layout (the contract other modules rely on):
 *   STATE/config              optional "key = value" lines; "max-size = 20G" bounds the store
 *   STATE/lock                flock: shared while a process uses the state, exclusive for prune
 *   STATE/layers/ALGO-HEX/    an extracted base layer, keyed by its diffID ("sha256:…"); its
 *                             mtime is its last use (for the size bound's LRU order)
 *   STATE/cache/HASH/         a RUN --mount=type=cache directory (HASH of its id)
 *   STATE/steps/KEY           the build cache's step records (store/stepcache.h); their
 *                             layers are layer-store dirs like base layers
 *   STATE/packs/HEX           what packing a layer with other options gave (a cache's own
 *                             compression: store/stepcache.h), dropped with the layer
 *   STATE/docs/sha256-HEX      image manifests and configs fetched by digest, kept for
 *                             the next build (registry/client.h: sw_registry_set_docs)
 *   STATE/stubs/              empty mountpoints (dev proc sys etc/hosts …) the sandbox puts
 *                             below every rootfs, so mountpoints never land in a layer
 *   STATE/runs/SESSION/       one process's scratch (step work dirs, layer extraction temp
 *                             dirs, a build's snapshots); SESSION/lock is flocked by its owner
 *                             and holds its pid.
 * Guarantees: opening the state finds sessions whose owner died (even by SIGKILL: the
 * flock is gone) and removes them; a session is removed when closed; layer commits are
 * atomic renames, so a layer dir either is complete or does not exist; prune and the size
 * bound never remove what a live session holds a lock on (they take the exclusive lock).
 * One sw_state may be used from several threads at once.
 */
#ifndef SW_EXEC_STATE_H
#define SW_EXEC_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"

#define SW_STATE_DEFAULT_DIR "/var/lib/slipway"

typedef struct sw_state sw_state;

/* Create the layout if needed, take the shared lock, clean dead sessions and start this
 * process's session.  dir NULL means SW_STATE_DEFAULT_DIR. */
int sw_state_open (const char *dir, sw_state **out, sw_error **err);
/* Remove this session's scratch and release the locks. */
void sw_state_close (sw_state *st);

const char *sw_state_dir (const sw_state *st);
/* This process's session directory (STATE/runs/SESSION). */
const char *sw_state_session (const sw_state *st);
/* A new empty directory (0755) inside the session (for a step's scratch, a snapshot, …);
 * returned path is owned by the caller. */
int sw_state_mkscratch (sw_state *st, const char *prefix, char **path, sw_error **err);
/* The session's mountpoint for step roots and its staging dir (made on first use; every
 * step mounts over them in its own mount namespace, so steps can share them). */
int sw_state_mountdirs (sw_state *st, const char **merged, const char **staging, sw_error **err);
/* Move a scratch directory out of the way in one rename; its removal waits for
 * sw_state_close (removing a tree costs milliseconds a step on a busy disk). */
void sw_state_discard (sw_state *st, const char *path);
/* The shared stub tree (see above), created on first use. */
int sw_state_stubs (sw_state *st, const char **path, sw_error **err);

/* ---- extracted base layers, by diffID ---- */
/* Path of the layer's directory, whether or not it exists (owned by the caller).  Fails on
 * a malformed diffID. */
int sw_state_layer_path (sw_state *st, const char *diffid, char **path, sw_error **err);
/* True if the layer is in the store; marks it used. */
bool sw_state_layer_has (sw_state *st, const char *diffid);
/* A temporary directory to extract into, then commit it under the diffID (an atomic
 * rename; if another process committed the same layer first, the temp dir is removed). */
int sw_state_layer_begin (sw_state *st, char **tmpdir, sw_error **err);
int sw_state_layer_commit (sw_state *st, const char *diffid, const char *tmpdir, sw_error **err);

/* ---- cache mounts ---- */
typedef enum sw_cache_sharing
{
  SW_CACHE_SHARED = 0,
  SW_CACHE_PRIVATE,
  SW_CACHE_LOCKED,
} sw_cache_sharing;

/* The directory of cache id (created with uid, gid, mode the first time).  *lockfd is a
 * lock to hold while the step runs (-1 when none is needed); close it afterwards. */
int sw_state_cache_dir (sw_state *st, const char *id, sw_cache_sharing sharing, uid_t uid,
                        gid_t gid, mode_t mode, char **path, int *lockfd, sw_error **err);

/* ---- size ---- */
/* The bound from STATE/config ("max-size"), in bytes; 0 = no bound. */
int sw_state_max_size (const char *dir, uint64_t *bytes, sw_error **err);
/* Remove least recently used layers (and caches) until the store fits max_bytes; step
 * records whose layer went with them are removed too. */
int sw_state_gc (const char *dir, uint64_t max_bytes, uint64_t *freed, sw_error **err);
/* `slipway prune`: remove every layer, cache and dead session.  Waits for no one: fails
 * with EBUSY when a build is using the state. */
int sw_state_prune (const char *dir, uint64_t *freed, sw_error **err);

/* ---- helpers shared with the sandbox ---- */
/* Remove name (file or tree) under dirfd without following symlinks: sw_remove_all_at
 * (common/fsutil.h) with an error object. */
int sw_rmtree_at (int dirfd, const char *name, sw_error **err);
int sw_rmtree (const char *path, sw_error **err);
/* Parse "10G", "512MiB", "1000000" into bytes. */
int sw_parse_size (const char *s, uint64_t *bytes);

#endif
