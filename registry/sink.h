/* registry/sink.h — registry blobs as common/sink.h sinks, so producers that know nothing
 * about HTTP (layers/: tar → digest → compress → digest) stream straight into a registry,
 * and blob downloads stream into any consumer (an extractor, a file, another upload).
 *
 * Guarantees:
 *  - sw_registry_upload_sink: the sink's write is a chunked, resumable upload (see
 *    upload.h: one chunk of memory, nothing on disk); its finish commits the blob with
 *    `PUT ?digest=` — the digest the producer passes when it knows it (then checked against
 *    the bytes), else the one computed on the way — and fills *res; its abort cancels the
 *    upload.  Exactly as common/sink.h says, finish or abort frees it.
 *  - sw_blob_push: a blob made by a producer that can make the same bytes again (a
 *    deterministic layer packer) goes up the registry's fastest way: its digest and size
 *    learnt by a first pass, then one monolithic PUT streaming a second (see the function).
 *  - sw_blob_get_sink: the blob's bytes go to sink as they arrive; the sink is finished with
 *    the digest only when every byte arrived and matched the digest (and size), and aborted
 *    otherwise — so a consumer that commits on finish keeps nothing from bad bytes.
 */
#ifndef SW_REGISTRY_SINK_H
#define SW_REGISTRY_SINK_H

#include <stdint.h>
#include "common/sink.h"
#include "image/digest.h"
#include "registry/client.h"

typedef struct sw_blob_result
{
  char digest[SW_DIGEST_BUFSZ]; /* "" until the sink finished successfully */
  int64_t size;
} sw_blob_result;

/* Start an upload to repo; *out receives the sink.  res (may be NULL) must outlive it. */
int sw_registry_upload_sink (sw_registry *r, const sw_ref *repo, sw_sink *out, sw_blob_result *res,
                             sw_error **err);

/* Which pass a maker is asked for. */
typedef enum sw_blob_pass
{
  SW_BLOB_LEARN, /* only the digest and size are learnt: nothing is sent, no progress */
  SW_BLOB_KNOWN, /* sent, digest known already and checked by the registry: the maker need
                    not hash the bytes again (and may finish with no digest) */
  SW_BLOB_SEND,  /* sent, digest wanted again (a chunked upload: the bytes may differ) */
} sw_blob_pass;

/* Makes a blob's bytes into sink, which it finishes with their digest (or aborts): 0 / -1.
 * The digest is required except on SW_BLOB_KNOWN: it is not computed again here.  Called
 * again, it makes the same bytes. */
typedef int (*sw_blob_maker) (void *ud, sw_sink *sink, sw_blob_pass pass, sw_error **err);

/* Push the blob make makes to repo; *res gets its digest and size (the bytes' as sent).
 *  - Pass 1 only hashes and counts, keeping the bytes while they fit in one upload chunk:
 *    a blob that small goes up from memory (HEAD, then POST + PUT), made once.
 *  - A bigger one: HEAD, and nothing is sent when repo has it; else POST and one
 *    `PUT ?digest=` with Content-Length whose body is pass 2, streamed (upload.h's sw_put:
 *    a 1 MiB ring, nothing on disk).  Debian's registry ingests one PUT faster than
 *    PATCHes (512 MiB: 2.7 s against 4.8–5.1 s), but pass 1 costs a whole pack: on a loopback
 *    registry the two ways come out about even (docs/PERFORMANCE.md).
 *  - When that PUT fails for the registry's reasons (refused, an HTTP error, a dropped
 *    connection, other bytes than pass 1's), pass 3 goes into a chunked upload with its
 *    retries (upload.h), once.  A failure of make itself is returned as it is.
 *  With the session's chunked_uploads (SLIPWAY_LAYER_UPLOAD=chunked): one pass straight
 *  into a chunked upload, as for a producer that cannot make its bytes twice. */
int sw_blob_push (sw_registry *r, const sw_ref *repo, sw_blob_maker make, void *ud, sw_blob_result *res,
                  sw_error **err);

/* GET repo's blob digest into sink (finished or aborted here, always). */
int sw_blob_get_sink (sw_registry *r, const sw_ref *repo, const char *digest, int64_t size, sw_sink *sink,
                      sw_error **err);

/* Make sure dst has blob digest (of size bytes, size < 0 when unknown) that src has: nothing
 * when dst has it already (HEAD), a cross-repository mount within one registry, else the
 * download streamed into an upload (two chunks in memory, nothing on disk), started again
 * if the registry lost the upload. */
int sw_blob_copy (sw_registry *r, const sw_ref *dst, const sw_ref *src, const char *digest, int64_t size,
                  sw_error **err);

#endif
