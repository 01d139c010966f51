/* store/stepcache.h — the build cache's records in the state dir: step key → layer.
 *
 * Layout (beside store/state.h's):
 *   STATE/steps/KEYHEX    one record a step key (64 hex digits, see docs/CACHE.md), a few
 *                         "name value" lines, written to a temporary name and renamed (a
 *                         reader sees a whole record or none; concurrent writers of one
 *                         key write the same facts, the last rename wins).
 * The layer itself is the directory STATE/layers/ALGO-HEX of its diffID (the layer store
 * of extracted base layers: one tree a diffID, committed by atomic rename, LRU-bounded by
 * max-size).  A record whose layer is gone, or whose layer dir changed since it was
 * recorded (its stamp differs and its re-packed diffID too), is a miss — never a wrong
 * layer.
 * Thread-safe: every call works on its own files.
 */
#ifndef SW_STORE_STEPCACHE_H
#define SW_STORE_STEPCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "image/digest.h"
#include "store/state.h"

#define SW_STEP_KEY_HEX 64

typedef struct sw_step_record
{
  char diff_id[SW_DIGEST_BUFSZ];  /* the layer (its dir in the layer store) */
  char created[64];               /* the history entry's time when the step ran */
  char created_by[1024];          /* the history text (for `slipway debug`, and a check) */
  /* the blob as last packed: valid for those pack options only ("" when never packed) */
  char blob_opts[64];             /* e.g. "gzip/-1/-1": compression, level, epoch */
  char blob_digest[SW_DIGEST_BUFSZ];
  int64_t blob_size;
  char blob_media_type[96];
  char pushed_to[256];            /* repository it was last pushed to ("" if none) */
  char stamp[SW_DIGEST_BUFSZ];    /* sw_step_stamp() of the layer dir when recorded */
} sw_step_record;

/* Read key's record: 1 found (and *out filled), 0 none or unreadable (a miss). */
int sw_step_get (sw_state *st, const char *key, sw_step_record *out);
/* Write (replace) key's record atomically. */
int sw_step_put (sw_state *st, const char *key, const sw_step_record *rec, sw_error **err);
/* Forget key (a corrupted entry). */
void sw_step_drop (sw_state *st, const char *key);

/* A cheap fingerprint of a layer dir: every entry below it (not the dir itself) by path,
 * inode, ctime, size and mode.  Any change to a file in it changes its ctime, so an equal
 * stamp means an untouched tree; a different one means "verify by re-packing".  -1 when
 * the dir cannot be read. */
int sw_step_stamp (const char *dir, char out[SW_DIGEST_BUFSZ], sw_error **err);

/* ---- pack records: STATE/packs/HEX ----
 * What packing a layer with some options gave, when those are not its step record's (a
 * --cache-to compression= of its own): HEX is SHA-256 of "DIFFID OPTS".  Lets an export
 * know the blob's digest before packing, to ask the destination whether it has it.
 * Written like step records (temporary name, rename); the same facts for the same name. */
typedef struct sw_pack_record
{
  char digest[SW_DIGEST_BUFSZ];
  int64_t size;
  char media_type[96];
} sw_pack_record;

/* 1 found (*out filled), 0 none or unreadable. */
int sw_pack_get (sw_state *st, const char *diff_id, const char *opts, sw_pack_record *out);
int sw_pack_put (sw_state *st, const char *diff_id, const char *opts, const sw_pack_record *rec, sw_error **err);

/* Remove records (step and pack ones) whose layer is no longer in the store (after the size bound evicted it).
 * Called by the state's gc under the exclusive lock. */
void sw_step_sweep (const char *state_dir);

#endif
