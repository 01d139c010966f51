/* registry/ops.h — the distribution API: manifests, blobs, mounts.
 *
 * Guarantees: manifest GETs send every type slipway understands in Accept and refuse
 * Docker schema1 with a clear message; a manifest fetched by digest is checked against
 * that digest; blob GETs stream into a sink (never held whole) and are sha256-verified —
 * on a mismatch the call fails after the last byte, so a caller that stages nothing until
 * success keeps nothing derived from bad bytes; manifests are PUT with their media type.
 */
#ifndef SW_REGISTRY_OPS_H
#define SW_REGISTRY_OPS_H

#include <stdint.h>
#include "common/buf.h"
#include "image/digest.h"
#include "registry/client.h"

typedef struct sw_fetched
{
  sw_buf body;
  char *media_type;
  char digest[SW_DIGEST_BUFSZ];
} sw_fetched;

void sw_fetched_clear (sw_fetched *f);

/* GET the manifest ref names (its digest if it has one, else its tag). */
int sw_manifest_get (sw_registry *r, const sw_ref *ref, sw_fetched *out, sw_error **err);
/* The same, for a manifest that may not exist: 1 and *out when it does, 0 when the
 * registry answers 404 (one request where HEAD then GET would make two). */
int sw_manifest_get_if (sw_registry *r, const sw_ref *ref, sw_fetched *out, sw_error **err);
/* HEAD: 1 and the digest when the manifest exists, 0 when not. */
int sw_manifest_head (sw_registry *r, const sw_ref *ref, char digest[SW_DIGEST_BUFSZ], sw_error **err);
/* PUT body as repo's manifest named reference (a tag, or a digest). */
int sw_manifest_put (sw_registry *r, const sw_ref *repo, const char *reference, const char *media_type,
                     const void *body, size_t len, sw_error **err);

/* HEAD a blob: 1 (and its size) when repo has it, 0 when not. */
int sw_blob_exists (sw_registry *r, const sw_ref *repo, const char *digest, int64_t *size, sw_error **err);
/* GET a blob into sink, verifying its sha256 (and size when size >= 0). */
int sw_blob_get (sw_registry *r, const sw_ref *repo, const char *digest, int64_t size, sw_write_fn sink, void *ud,
                 sw_error **err);
/* Small blobs (configs): GET into memory, verified; refuses anything over limit bytes. */
int sw_blob_get_small (sw_registry *r, const sw_ref *repo, const char *digest, size_t limit, sw_buf *out,
                       sw_error **err);
/* Cross-repository mount from another repository of the same registry: 1 when mounted,
 * 0 when the registry started an upload instead (which is cancelled). */
int sw_blob_mount (sw_registry *r, const sw_ref *repo, const char *digest, const sw_ref *from, sw_error **err);
/* Monolithic upload of a small blob from memory (POST + PUT). */
int sw_blob_put_small (sw_registry *r, const sw_ref *repo, const void *p, size_t n, char digest[SW_DIGEST_BUFSZ],
                       sw_error **err);

/* Scopes for tokens. */
char *sw_scope_pull (const sw_ref *repo);
char *sw_scope_push (const sw_ref *repo);

#endif
