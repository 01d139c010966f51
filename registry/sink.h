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
 *    deterministic layer packer) goes up the registry's fastest way — by default made once
 *    and streamed in one PATCH — and, when the registry fails that way, made again into
 *    the chunked upload with its retries (see the function).
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
 * The way is the session's sw_layer_upload (registry/client.h):
 *  - stream (the default): made once (SW_BLOB_SEND), its bytes kept while they fit in one
 *    upload chunk — a blob that small goes up from memory (HEAD, then POST + PUT) — and
 *    once they outgrow it, all of them go in one PATCH whose body is streamed in HTTP/1.1
 *    chunks (upload.h, sw_put_start_stream: a 1 MiB ring, nothing on disk), committed by a
 *    bodiless `PUT ?digest=` with the digest make computed.  Packing and the registry's
 *    ingest overlap, one request carries the blob: the fastest way on a loopback registry
 *    (docs/PERFORMANCE.md).  A big blob the registry has already is sent again (its digest
 *    is known only at the end).  When that PATCH or its commit fails for the registry's
 *    reasons, make runs again into a chunked upload, once.
 *  - put: pass 1 only hashes and counts (SW_BLOB_LEARN), keeping the bytes while they fit
 *    in one upload chunk: a blob that small goes up from memory, made once.
 *    A bigger one: HEAD, and nothing is sent when repo has it; else POST and one
 *    `PUT ?digest=` with Content-Length whose body is pass 2, streamed (sw_put).  When that
 *    PUT fails for the registry's reasons (refused, an HTTP error, a dropped connection,
 *    other bytes than pass 1's), pass 3 goes into a chunked upload, once.
 *  - chunked: one pass straight into a chunked upload (16 MiB PATCHes, each resumable).
 *  A failure of make itself is returned as it is. */
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
