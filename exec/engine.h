/* exec/engine.h — the build engine: runs a plan, stage by stage, step by step.
 *
 * Private to exec/.  One root sw_engine lives for one sw_build_run().  It owns the state
 * session (scratch dirs, the layer store), the registry session, the worker pool that
 * packs and uploads each new layer while the next step runs, the emulation set, the
 * parsed Dockerfile and the context: all shared, all safe to use from several threads.
 *
 * Each platform of the build runs on a platform engine: a copy of the root's fields
 * (pointers to the shared pieces, which the root alone frees) that owns its own plan,
 * platform and stages[].  What the platforms and stages change while they run at once
 * lives in the hub (the vertex counter, the list of every layer, the cancel token, the
 * CPU slots, the disk gate), behind its lock or atomics.
 *
 * Data of one build:
 *   root engine ─ hub ─ layers (every layer any stage has: base layers and built ones)
 *   platform engine ─ stages[] (one per plan stage) ─ layers[] (pointers into the hub's)
 * A stage runs on its own thread once the stages it reads are done (run_build.c); it
 * touches only its own sw_stage and reads the finished ones.  Its events go through
 * sw_build_emit(), which hands them to the build's thread.
 * A built layer's upper dir stays on disk until the build ends: later steps mount it as a
 * lower; then the build cache moves it into the layer store (exec/cache.h), unless the
 * disk ran short and it was removed once pushed and its platform exported (exec/disk.c).  Its digest, size and
 * diffID are filled by its pack job on a worker thread and read only after
 * sw_workers_wait() — or, for a layer no image holds, by its --cache-to upload in the
 * workers' background lane, and read only after sw_workers_wait_background().
 */
#ifndef SW_EXEC_ENGINE_H
#define SW_EXEC_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dockerfile/ast.h"
#include "dockerfile/plan.h"
#include "attest/attest.h"
#include "attest/provenance.h"
#include "exec/base.h"
#include "exec/build.h"
#include "exec/commit.h"
#include "sandbox/mounts.h"
#include "store/state.h"
#include "exec/workers.h"
#include "layers/layers.h"
#include "layers/sink.h"
#include "emu/emu.h"
#include "image/config.h"
#include "image/digest.h"
#include "image/platform.h"
#include "registry/client.h"
#include "registry/ref.h"

typedef struct sw_engine sw_engine;

/* A URL a platform's ADD downloaded, with the digest of what came (none when unpacked). */
typedef struct sw_url_source
{
  char *url;
  char digest[SW_DIGEST_BUFSZ];
} sw_url_source;

/* An image a platform's build used (FROM, COPY --from), for provenance. */
typedef struct sw_image_source
{
  char *ref;
  sw_platform platform;
  char digest[SW_DIGEST_BUFSZ];
} sw_image_source;

typedef struct sw_layer
{
  bool built;                 /* made by this build (else a base image's) */
  char *dir;                  /* built: its upper dir; base: its snapshot once extracted */
  const sw_ref *source_repo;  /* base: the repository that has the blob */
  /* filled when known (base: at once; built: by the pack job) */
  char media_type[96];
  char digest[SW_DIGEST_BUFSZ];
  int64_t size;
  char diff_id[SW_DIGEST_BUFSZ];
  bool pushed;                /* built: uploaded to the push repository by its job */
  _Atomic uint64_t sent;      /* built: compressed bytes packed so far (progress) */
  _Atomic bool packed;        /* built: its job has finished */
  char *label;                /* built: the step that made it, for progress */
  /* the build cache (exec/cache.h) */
  char cache_key[65];         /* built: the step key it answers ("" when not cacheable) */
  bool from_cache;            /* dir is a layer-store dir reused from an earlier build */
  char created[64];           /* from_cache: its history entry's time */
  char *pushed_to;            /* from_cache: a repository that had its blob ("" if none) */
  struct sw_cache_loc *cache_src; /* from_cache: a --cache-from directory holding its blob,
                               * which is streamed from there; dir stays NULL until a step
                               * reads the tree (sw_cache_remote_materialize) */
  bool retired;               /* its platform is exported: no later step reads it */
  _Atomic bool cache_upload;  /* built: its --cache-to upload is queued or running (it reads
                               * dir: the disk gate leaves it) */
  bool deferred;              /* from_cache, blob known: its job waits for the export, which
                               * may find the whole image in the push repository already
                               * (under the hub's lock: the platform's stages run at once) */
} sw_layer;

typedef struct sw_stage
{
  const sw_plan_stage *ps;
  size_t index;               /* in the plan */
  sw_platform platform;
  bool done;
  sw_base_image *base;        /* an image base */
  struct sw_stage *base_stage;
  sw_image_config *config;    /* the image being made */
  sw_commit_state commit;
  sw_plan_env *env;
  char **arg_names;           /* ARGs declared in this stage (for RUN's history text) */
  sw_layer **layers;          /* bottom first, base layers included */
  size_t n_layers;
  int cmd_index, cmd_total;   /* for "[name 2/5]" */
  char key[65];               /* the build cache's key after the last step ("" : none) */
  bool no_cache;              /* --no-cache or --no-cache-filter names it: run every step */
  pthread_mutex_t base_lock;  /* the lazy extraction of base (stages built on this one may
                               * ask for it at once) */
  bool network_warmed;        /* its RUNs' network is being brought up (at its first miss) */
  struct sw_base_prefetch *prefetch; /* its base being resolved ahead (sw_engine_prefetch_bases) */
} sw_stage;

/* What the stages and platforms running at once share and change. */
typedef struct sw_engine_hub
{
  atomic_int next_vertex;      /* buildx's #N */
  atomic_bool context_announced;
  sw_sandbox_stop stop;        /* every step of the build waits on it: the caller's cancel
                                * and a failed stage's, which stops its siblings */
  pthread_mutex_t lock;        /* guards what follows */
  pthread_cond_t cpu_freed;
  int cpu_slots;               /* CPU-bound steps that may start now (--max-parallelism) */
  sw_layer **all_layers;
  size_t n_all_layers;
  struct sw_df_finding *findings; /* build checks (exec/checks.c): UndefinedVar adds to them
                                   * as the stages step */
  size_t n_findings;
  /* the disk gate (exec/disk.c) */
  pthread_cond_t disk_changed; /* a write ended, or a platform was exported */
  size_t disk_writers;         /* steps writing into the state dir right now */
  size_t n_platforms;
  size_t *platform_writers;    /* [n_platforms]: the same, per platform */
  bool *platform_exported;     /* [n_platforms]: its image is out, its layers retired */
} sw_engine_hub;

struct sw_engine
{
  sw_build *b;
  sw_engine_hub *hub;
  sw_state *state;
  sw_registry *reg;
  sw_workers *workers;
  sw_emu_set *emu;            /* QEMU for foreign stages; touched only by their RUN steps */
  sw_dockerfile *df;
  sw_plan *plan;
  char *context;              /* absolute */
  struct sw_context *ctx;     /* the context dir and its .dockerignore, opened when needed */
  char *dockerfile_path;
  sw_platform host;
  sw_platform platform;       /* the one being built */
  size_t platform_index;      /* its place in --platform (the root: 0) */
  sw_stage *stages;           /* plan->n_stages of them */
  sw_ref **tags;
  size_t n_tags;
  sw_ref *push_repo;          /* where new layers are uploaded; NULL when not pushing */
  char **build_args;          /* "K=V": --build-arg, with "K" alone taken from the environment */
  sw_secret_src *secrets;
  size_t n_secrets;
  sw_ssh_src *ssh;
  size_t n_ssh;
  int64_t epoch;              /* SOURCE_DATE_EPOCH or -1 */
  char *epoch_str;            /* RFC 3339 of the epoch, or NULL */
  char *created;              /* RFC 3339 time of this build */
  struct sw_outputs *outputs; /* -o oci|docker|local|tar (exec/outputs.h); NULL when none */
  bool docker_media_types;    /* Docker schema2 media types instead of OCI ones */
  sw_compression compression; /* of new layers: --output compression= (default gzip) */
  int compression_level;      /* -1: the compressor's default */
  bool compression_set;
  char *dockerfile_text;      /* as read (provenance mode=max carries it) */
  sw_strv plan_warnings;      /* root: the first platform's plan warnings, for --metadata-file */
  /* attestations (exec/attest_step.c) */
  bool attest_provenance, attest_sbom;
  bool attest_prov_inline_only; /* buildx's default provenance: image outputs only */
  sw_prov_opts prov;
  char *prov_keep;
  char invocation_id[32];
  char *started_on;
  sw_image_source *sources;   /* the platform being built's images */
  size_t n_sources;
  sw_url_source *urls;        /* and its ADD URLs */
  size_t n_urls;
  bool push_by_digest;        /* --output …,push-by-digest=true: manifests by digest, no tag */
  bool name_canonical;        /* --output …,name-canonical=true: image.name as NAME@DIGEST */
  struct sw_remote_cache *remote; /* --cache-from/--cache-to (exec/remote_cache.c); NULL: none */
};

/* Put *err at node's place in the Dockerfile ("Dockerfile:12:5: …" and a caret). -1. */
int sw_engine_locate (sw_engine *e, const sw_df_node *node, sw_error **err);

/* ---- progress: buildx's numbered vertices ---- */
int sw_engine_vertex_start (sw_engine *e, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void sw_engine_vertex_log (sw_engine *e, int id, int stream, const char *line);
void sw_engine_vertex_done (sw_engine *e, int id, double started, const sw_error *err);
/* A started vertex that was satisfied without running (a cache hit): ends it as CACHED. */
void sw_engine_vertex_cached (sw_engine *e, int id);

/* After a cancel (the caller's, or a failed stage's): ECANCELED "cancelled", -1; else 0. */
int sw_engine_check_cancelled (sw_engine *e, sw_error **err);
/* A CPU-bound step waits for one of the --max-parallelism slots, and gives it back. */
void sw_engine_cpu_acquire (sw_engine *e);
void sw_engine_cpu_release (sw_engine *e);

/* ---- stages ---- */
/* Run stage index of e's plan; the stages it reads must be done.  Returns 0 or -1. */
int sw_engine_run_stage (sw_engine *e, size_t index, sw_error **err);
/* Resolve the base images of every stage the plan runs, all at once on threads of their
 * own, so that a stage's FROM finds its base resolved instead of asking the registry in
 * turn.  sw_engine_prefetch_end() waits for them and drops what no stage took. */
void sw_engine_prefetch_bases (sw_engine *e);
void sw_engine_prefetch_end (sw_engine *e);
/* A step of s is not in the cache (or s runs every step): what its later RUNs need that
 * takes a while to come up (the own network) starts now, in the background.  Once per
 * stage. */
void sw_engine_stage_missed (sw_engine *e, sw_stage *s);
/* The stage's snapshot dirs, bottom first, extracting its base image if needed.  A new
 * NULL-terminated list (free with sw_strlist_free). */
int sw_engine_stage_lowers (sw_engine *e, sw_stage *s, char ***out, sw_error **err);
/* The same for a step that needs only the tree's shape (COPY's and WORKDIR's destination):
 * a base image not extracted yet is fetched as a skeleton instead (exec/base.h), so a
 * stage that never runs a command never extracts its base. */
int sw_engine_stage_shape (sw_engine *e, sw_stage *s, char ***out, sw_error **err);

/* ---- layers ---- */
/* Register a built layer (its upper dir) on stage s and queue its pack-and-upload. */
void sw_engine_add_built_layer (sw_engine *e, sw_stage *s, const char *upper, const char *label);

/* Register a layer the cache supplied (exec/cache.c): the new layer takes proto's
 * fields (dir, label, diff_id, created, blob descriptor when known, …) and, when the stage
 * is exported, a job that makes sure its blob is where the image goes. */
void sw_engine_add_cached_layer (sw_engine *e, sw_stage *s, const sw_layer *proto);

/* ---- the disk gate (exec/disk.c) ---- */
/* Before a step writes into the state dir (RUN, COPY, ADD): wait until the state dir's
 * filesystem has room for it beside the writes already running, removing exported
 * platforms' pushed layers if that makes room.  0 once admitted (then call
 * sw_engine_disk_leave), -1 when the build is cancelled meanwhile. */
int sw_engine_disk_enter (sw_engine *e, sw_error **err);
void sw_engine_disk_leave (sw_engine *e);
/* e's platform is exported: no later step reads its layers, which may now go once pushed;
 * the platform after it writes first from now on. */
void sw_engine_platform_exported (sw_engine *e);

/* Queue a built layer's pack-and-upload on the workers (exec/layer_job.c). */
void sw_engine_queue_pack (sw_engine *e, sw_layer *l);
/* What packing l's tree with `compression` gave (digest, diffID, size, media type), recorded
 * on l: the image's pack and the cache's own-compression pack record it alike. */
void sw_layer_record_pack (sw_layer *l, const sw_layer_info *info, sw_compression compression);
/* Queue the jobs of the deferred cached layers: the image will not be found whole in the
 * push repository (a step missed), so each blob is checked while the build goes on. */
void sw_engine_queue_deferred (sw_engine *e);
/* The options every built layer is packed with: packing again with them gives the same
 * bytes (exec/outputs.c relies on it). */
struct sw_pack_opts;
void sw_engine_pack_opts (const sw_engine *e, struct sw_pack_opts *o);

/* The tree a COPY --from or a RUN --mount from= names, as snapshot dirs bottom first (a
 * new NULL-terminated list): a stage of this build (run already), a --build-context (a
 * directory, or docker-image://), else an image for s's platform, extracted (*image: free
 * it with sw_base_free once the tree is no longer used; NULL for the others). */
int sw_engine_from_tree (sw_engine *e, sw_stage *s, const char *from, char ***lowers, sw_base_image **image,
                         sw_error **err);

/* COPY and ADD (exec/copy_step.c). */
int sw_engine_copy (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err);

/* ---- export ---- */
/* Publish the target stage as an image: blobs, config, manifest (and with several
 * platforms, an index: see run_build.c), returning its manifest descriptor pieces. */
typedef struct sw_image_result
{
  char manifest_digest[SW_DIGEST_BUFSZ];
  int64_t manifest_size;
  char *manifest_media_type;
  char config_digest[SW_DIGEST_BUFSZ];
  sw_platform platform;
  sw_buf manifest_json;       /* the manifest's bytes, as pushed */
  sw_buf config_json;         /* the config's bytes */
  sw_layer **layers;          /* the image's layers, bottom first (owned by the engine) */
  size_t n_layers;
  /* attestations: the predicates (for local outputs, which get them as files) and the
   * attestation manifest over them (pushed beside the image when pushing) */
  struct sw_attestation *attestations;
  size_t n_attestations;
  sw_attest_manifest attest;
  bool attested;
} sw_image_result;

typedef struct sw_attestation
{
  const char *predicate_type;
  const char *filename;       /* in a local output: provenance.json, sbom.spdx.json */
  bool inline_only;           /* not for local outputs (buildx's default provenance) */
  sw_buf predicate;
} sw_attestation;
int sw_engine_export_image (sw_engine *e, sw_stage *s, sw_image_result *out, sw_error **err);

/* Smoke tests (exec/smoke.c): run every SW_OPT_SMOKE command in stage s's image (its
 * env, user, workdir; no network; emulated when foreign).  0, or -1 at the first failure. */
int sw_engine_smoke (sw_engine *e, sw_stage *s, sw_error **err);

double sw_engine_now (void);

/* ---- attestations (exec/attest_step.c) ---- */
/* Decide which attestations this build makes (the options, buildx's default for a push). */
int sw_engine_attest_setup (sw_engine *e, bool push, sw_error **err);
/* Remember an image the platform being built used. */
void sw_engine_note_image (sw_engine *e, const char *ref, const sw_platform *p, const char *digest);
void sw_engine_forget_images (sw_engine *e);
/* And a URL an ADD fetched ("" digest when unknown). */
void sw_engine_note_url (sw_engine *e, const char *url, const char *digest);
/* Before export (so that the SBOM's scan of the stage's tree runs while the workers still
 * pack and upload its layers): r's predicates.  After export: their statements about r's
 * manifest and the attestation manifest (pushed by digest when pushing).  Both do nothing
 * when the build makes no attestation. */
int sw_engine_attest_predicates (sw_engine *e, sw_stage *s, sw_image_result *r, sw_error **err);
int sw_engine_attest (sw_engine *e, sw_stage *s, sw_image_result *r, sw_error **err);
void sw_image_result_attest_clear (sw_image_result *r);
void sw_engine_attest_free (sw_engine *e);
/* Build checks (exec/checks.c): run them on e->df; --call=check's report (fails when
 * anything was found); the warnings after an ordinary build; their metadata entry. */
void sw_engine_lint (sw_engine *e);
int sw_engine_check_report (sw_engine *e, sw_error **err);
void sw_engine_lint_warnings (sw_engine *e);
/* UndefinedVar, checked as a stage steps (it needs the stage's environment). */
void sw_engine_lint_undefined (sw_engine *e, sw_stage *s, const sw_df_instr *raw);
struct sw_buf;
/* Writes the findings as entries of buildx.build.warnings (", " between them); returns
 * how many. */
size_t sw_engine_lint_metadata (sw_engine *e, struct sw_buf *json);

/* The --build-context value for name ("docker-image://REF" or a directory), or NULL. */
const char *sw_engine_build_context (sw_engine *e, const char *name);

#endif
