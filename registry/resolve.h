/* registry/resolve.h — from a reference to one platform's image: what FROM needs.
 *
 * Guarantees: an index (OCI or Docker list) is narrowed to the manifest that best serves
 * the wanted platform, with image/platform.h's normalization and containerd's preference
 * order (arm64 ≡ arm64/v8, x86_64 → amd64; exact first, then compatible ones); entries
 * without a platform are skipped (attestations); when nothing fits, the error lists what
 * the index offers.  A single-platform manifest is returned as it is (its config says its
 * platform).  Every document fetched by digest is verified.
 */
#ifndef SW_REGISTRY_RESOLVE_H
#define SW_REGISTRY_RESOLVE_H

#include "image/config.h"
#include "image/platform.h"
#include "registry/ops.h"

/* *manifest receives the chosen image manifest (bytes, media type, digest); index_digest
 * (may be NULL) the digest the reference resolved to at its top. */
int sw_resolve_image (sw_registry *r, const sw_ref *ref, const sw_platform *want, sw_fetched *manifest,
                      char index_digest[SW_DIGEST_BUFSZ], sw_error **err);

/* Fetch and parse the config of an image manifest (verified, at most 8 MiB). */
int sw_fetch_config (sw_registry *r, const sw_ref *repo, const sw_fetched *manifest, sw_image_config **out,
                     sw_error **err);

#endif
