/* registry/upload.h — a streaming, chunked, resumable blob upload: the sink that layers
 * are written into.  The digest is known only when the stream ends.
 *
 *   sw_upload *u;
 *   sw_upload_start (reg, repo, &u, &err);              POST /v2/NAME/blobs/uploads/
 *   sw_upload_write (u, p, n, &err);  …                 PATCH a chunk each time the buffer fills
 *   sw_upload_finish (u, NULL, digest, &size, &err);    PATCH the rest, PUT ?digest=
 *   sw_upload_free (u);                                  (cancels the upload if not finished)
 *
 * The pair (sw_upload_write, sw_upload_finish) has the shape of a sink: a write callback
 * and a finish that returns the digest, so a producer (layers/) can stream into it through
 * its own sink interface without registry/ knowing about it.
 *
 * Guarantees: memory is two chunk buffers (chunk size from the sw_registry, default
 * 16 MiB) whatever the blob's size — the producer fills one while a sender thread PATCHes
 * the other, so producing and sending overlap; nothing goes to disk; each chunk is PATCHed with
 * Content-Range; when a chunk fails (dropped connection, 5xx, 429) the upload's state is
 * asked for (GET → Range) and the missing bytes are re-sent from memory, with backoff,
 * bounded in attempts and time; a 401 (token expiry) re-authenticates and continues.  The
 * sha256 is computed as bytes go by; finish fails when the caller expected another digest.
 * When the registry loses the session itself (404 on a chunk or on the status query, as
 * distribution answers after a reply was lost and its state token went stale), the error
 * has code ESTALE: the upload cannot go on, and a producer that can make the bytes again
 * (a registry-to-registry copy, a deterministic layer) starts a new upload.
 */
#ifndef SW_REGISTRY_UPLOAD_H
#define SW_REGISTRY_UPLOAD_H

#include <stdint.h>
#include "image/digest.h"
#include "registry/client.h"

typedef struct sw_upload sw_upload;

int sw_upload_start (sw_registry *r, const sw_ref *repo, sw_upload **out, sw_error **err);
int sw_upload_write (sw_upload *u, const void *p, size_t n, sw_error **err);
/* expected: NULL, or the digest the bytes must have (copying a known blob). */
int sw_upload_finish (sw_upload *u, const char *expected, char digest[SW_DIGEST_BUFSZ], int64_t *size,
                      sw_error **err);
void sw_upload_free (sw_upload *u);
/* Bytes sent so far (progress). */
uint64_t sw_upload_offset (const sw_upload *u);

/* An sw_write_fn over an upload, for sw_blob_get: registry-to-registry streaming. */
int sw_upload_sink (void *ud, const void *p, size_t n, sw_error **err);

/* A monolithic upload (registry/put.c), for a blob whose digest and size are known before
 * its bytes are made (a producer that makes them twice: once to learn them, once to send):
 *
 *   sw_put_start (reg, repo, digest, size, &p, &err);    POST /v2/NAME/blobs/uploads/, then a
 *                                                         thread starts PUT ?digest= with
 *                                                         Content-Length: size
 *   sw_put_write (p, buf, n, &err);  …                    the PUT's body, as it is made
 *   sw_put_finish (p, &err);                              the registry's answer: committed?
 *   sw_put_free (p);                                      (cancels the upload if not finished)
 *
 * Why: a registry ingests a blob through one PUT several times faster than through PATCHes
 * (distribution 2.8: 2.5–4×, docs/PERFORMANCE.md).  Guarantees: memory is one small ring
 * (1 MiB) between the writer and the transfer's thread, whatever the size; nothing goes to
 * disk; the bytes are counted as they go and are not hashed again here: the registry checks
 * them against the digest in the URL (as the spec requires) and the count against
 * Content-Length, and finish also fails when the producer's own digest differs.  No resume and no retry:
 * the body cannot be read again, so any failure — refused, an HTTP error, a dropped
 * connection, the registry answering before the body ended (then the next write fails) — is
 * reported and the session cancelled; the caller starts another upload (chunked) if it can
 * make the bytes again.  A reply lost after the commit is found by HEAD. */
typedef struct sw_put sw_put;

int sw_put_start (sw_registry *r, const sw_ref *repo, const char *digest, uint64_t size, sw_put **out,
                  sw_error **err);
/* The same with digest and size unknown until the last byte (a producer that makes its bytes
 * once): the body goes in one PATCH, in HTTP/1.1 chunks, and sw_put_finish, which then needs
 * the digest, commits it with a bodiless `PUT ?digest=` — the registry checks the bytes.  On a
 * loopback registry (distribution 2.8) one PATCH ingests as fast as one PUT and 32 PATCHes
 * of 16 MiB take over twice as long (docs/PERFORMANCE.md). */
int sw_put_start_stream (sw_registry *r, const sw_ref *repo, sw_put **out, sw_error **err);
int sw_put_write (sw_put *p, const void *buf, size_t n, sw_error **err);
/* digest: the bytes' digest as their producer computed it (NULL: unknown, not for a
 * stream); another than the announced one stops the upload. */
int sw_put_finish (sw_put *p, const char *digest, sw_error **err);
void sw_put_free (sw_put *p);

/* Shared by both: POST a new upload session (*location: where it goes on, malloc'ed), and
 * DELETE one that will not be finished (errors ignored: the registry expires it anyway). */
int sw_upload_session (sw_registry *r, const sw_ref *repo, const char *scope, char **location, sw_error **err);
void sw_upload_cancel (sw_registry *r, const sw_ref *repo, const char *scope, const char *location);
/* The URL that commits a session as blob digest: location with `digest=` added (malloc'ed). */
char *sw_upload_commit_url (const char *location, const char *digest);
/* Commit a session that holds all of a blob's size bytes: a bodiless `PUT ?digest=` (with the
 * client's retries: a retried PUT whose first try committed gets 404, and the blob is found
 * by HEAD).  Fails when the registry stored other bytes than digest. */
int sw_upload_commit (sw_registry *r, const sw_ref *repo, const char *scope, const char *location,
                      const char *digest, uint64_t size, sw_error **err);

#endif
