/* exec/cache.h — the build cache as the engine uses it: step keys, hits, records.
 *
 * Private to exec/.  The definition of a key is in docs/CACHE.md; in short, a stage's key
 * starts from its base (image manifest digest + platform, or "scratch" + platform, or the
 * base stage's last key) and every step that makes a layer (RUN, WORKDIR, COPY, ADD)
 * chains SHA-256(parent key, what the step does, what it reads).  Metadata instructions
 * do not enter the chain: the config they edit is recomputed on every build (it is cheap),
 * and a RUN's key holds what of the config it sees (env, user, workdir, shell).
 *
 * The stage code calls, per layer step:  key → sw_cache_try() → on a miss, run the step
 * and set s->key = key before sw_engine_add_built_layer(), which tags the layer with it.
 * sw_cache_commit() at the end of the build stores every tagged layer and its record.
 */
#ifndef SW_EXEC_CACHE_H
#define SW_EXEC_CACHE_H

#include "exec/engine.h"
#include "store/stepcache.h"

struct sw_copy_opts;

/* The key a stage starts from, after FROM (s->key). */
void sw_cache_stage_root (sw_engine *e, sw_stage *s);

/* RUN: the key from the step's argv (SHELL applied), history text, and what of the
 * config and the mounts it reads; bind mounts from the context hash the files they
 * show.  key "" when the step cannot be cached (parent uncacheable, a bind mount from an
 * image). */
int sw_cache_key_run (sw_engine *e, sw_stage *s, const sw_df_instr *in, char *const *argv,
                      const char *history, char key[65], sw_error **err);
/* WORKDIR that makes a directory. */
void sw_cache_key_workdir (sw_engine *e, sw_stage *s, const char *workdir, char key[65]);
/* COPY/ADD: src_key is the source stage's key (COPY --from=STAGE) or what else names the
 * content (ADD --checksum of URLs); NULL when
 * content_dir is given: a tree holding exactly what the step copies (the copy done into
 * an empty root), hashed without mtimes. */
int sw_cache_key_copy (sw_engine *e, sw_stage *s, const struct sw_copy_opts *o, const sw_df_instr *in,
                       const char *history, const char *src_key, const char *content_dir, char key[65],
                       sw_error **err);

/* Look key up.  A hit appends the stored layer to s (and its history entry, with the time
 * of the build that made it), sets s->key, emits SW_EVENT_STEP_CACHED for vertex and
 * returns 1.  0: a miss (or --no-cache, or a corrupted record, which is dropped). */
int sw_cache_try (sw_engine *e, sw_stage *s, const char *key, const char *history, const char *label,
                  int vertex);

/* After the build (success or not, workers idle): move each built layer that has a key
 * into the layer store and write its record. */
void sw_cache_commit (sw_engine *e);

/* ---- the cache in a registry (exec/remote_cache.c) ---- */
/* Check --cache-from/--cache-to; nothing is fetched yet.  Unsupported types fail with
 * "not supported yet: --cache-to type=gha". */
int sw_cache_remote_open (sw_engine *e, sw_error **err);
void sw_cache_remote_free (sw_engine *e);
/* On a local miss: is key in a --cache-from source (a directory or a registry), its blob
 * whole and packed with this build's options?  Whole means: hashed as it is read, or, for
 * a registry's blob when the build pushes, copied into the target repository
 * registry-to-registry (the target checks the digest).  1: *rec filled, *src the source;
 * the layer's tree is extracted only if a later step reads it (sw_cache_remote_materialize)
 * and its blob is streamed from the source wherever it goes (sw_cache_remote_blob).
 * 0: not such a hit (try sw_cache_remote_fetch); -1: the entry's blob is corrupted or
 * cannot be had (a warning; a miss). */
struct sw_cache_loc;
int sw_cache_remote_lazy (sw_engine *e, const char *key, sw_step_record *rec, struct sw_cache_loc **src);
/* l is such a hit: extract its tree into the layer store, record it locally, set l->dir. */
int sw_cache_remote_materialize (sw_engine *e, sw_layer *l, sw_error **err);
/* l is such a hit: its blob into sink (finished or aborted here, always). */
struct sw_sink;
int sw_cache_remote_blob (sw_engine *e, const sw_layer *l, struct sw_sink *sink, sw_error **err);
/* On a local miss: is key in a --cache-from ref?  Then its layer is fetched into the
 * layer store and recorded locally (1); 0 otherwise (or when fetching failed: a warning). */
int sw_cache_remote_fetch (sw_engine *e, const char *key);
/* A step made layer l (exported: it is in the image, on the target's chain): when the
 * --cache-to export will hold it (mode=max: every such layer; mode=min: the image's), its
 * upload is queued now in the workers' background lane, behind the image's own jobs, so
 * that the blob is in place before the build ends.  Nothing when there is no --cache-to. */
void sw_cache_remote_layer_built (sw_engine *e, sw_layer *l, bool exported);
/* --cache-to: after the image is pushed, before any tag.  Waits for the uploads queued
 * while the build ran (their first failure is the export's), puts the blobs they did not
 * cover, then publishes the cache's manifest. */
int sw_cache_remote_export (sw_engine *e, const sw_image_result *results, size_t n_results, sw_error **err);

#endif
