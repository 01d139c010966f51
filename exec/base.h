/* exec/base.h — a stage's base image: resolved eagerly, extracted lazily.
 *
 * Resolving reads only the manifest (through the index, for the build's platform) and
 * the config: a stage that never runs a command never downloads a layer, and its push
 * reuses the base's blobs from the registry.  A stage that only COPYs onto its base
 * needs the tree's shape, not its contents: a skeleton.  Extracting downloads every layer straight
 * into the state's layer store (keyed by diffID, all or nothing, digests verified while
 * the bytes go by), several at once on a bounded pool of threads (the registry session's
 * parallelism), and reuses layers an earlier build extracted.
 */
#ifndef SW_EXEC_BASE_H
#define SW_EXEC_BASE_H

#include "store/state.h"
#include "image/config.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "registry/client.h"
#include "registry/ref.h"

typedef struct sw_base_image
{
  char *name;             /* as written in FROM, expanded */
  sw_ref *repo;           /* where its blobs live */
  char manifest_digest[SW_DIGEST_BUFSZ];
  char top_digest[SW_DIGEST_BUFSZ]; /* what the reference resolved to (its index, if any) */
  char *resolved;         /* what buildx's FROM line shows: the normalized reference and the
                           * digest it resolved to (the index's, when it is one) */
  char *manifest_media_type;
  sw_manifest *manifest;
  sw_image_config *config;
  char **lowers;          /* snapshot dirs, bottom layer first; NULL until extracted */
  char **skeleton;        /* the same as skeletons (sw_base_skeleton), or NULL */
} sw_base_image;

/* Resolve image for platform want.  A warning (through the log) when an image without an
 * index does not match the platform, as BuildKit warns. */
int sw_base_resolve (sw_registry *r, const char *image, const sw_platform *want,
                     sw_base_image **out, sw_error **err);

/* Every layer of b is in the layer store already (an earlier build extracted it). */
bool sw_base_stored (sw_state *st, const sw_base_image *b);
/* Every layer's skeleton is (an earlier build fetched the shape). */
bool sw_base_shape_stored (sw_state *st, const sw_base_image *b);

/* Make sure every layer is in the store and fill b->lowers.  progress, if set, is told
 * about each layer as it starts being fetched (for the build's events). */
int sw_base_extract (sw_registry *r, sw_state *st, sw_base_image *b, sw_error **err);

/* The layers' shape without their contents, for COPY and WORKDIR: every directory,
 * symlink, whiteout and file with its metadata, but files empty (except /etc/passwd and
 * /etc/group, for --chown names).  The stream is still read whole and verified; nothing
 * goes to disk (the skeletons are kept in the layer store, under names of their own, for
 * the next build).  Fills b->skeleton — or, when every layer is in the store already,
 * b->lowers (the tree itself, nothing fetched). */
int sw_base_skeleton (sw_registry *r, sw_state *st, sw_base_image *b, sw_error **err);

void sw_base_free (sw_base_image *b);

#endif
