/* layers/sink.h — sink filters: digests, compressors, decompressors, a worker thread.
 *
 * The sink interface itself is common/sink.h (shared with registry/).  Each filter here is
 * an sw_sink that transforms or observes the bytes and pushes them into a downstream sink
 * it then owns: finishing or aborting a filter finishes or aborts everything below it.
 * So a layer pipeline is built back to front and driven by writes at its head:
 *
 *   tar → sha256 (diffID) → gzip|zstd|none → sha256 (digest, size) → registry upload
 *
 * Guarantees: every filter uses a fixed amount of memory whatever the stream's length
 * (compressors and decompressors keep one window/buffer, the thread filter a fixed ring of
 * buffers); a filter's result (a digest, a count) is written to caller-owned storage when
 * the filter finishes successfully, and is untouched otherwise.
 */
#ifndef SW_LAYERS_SINK_H
#define SW_LAYERS_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sink.h"
#include "image/digest.h" /* SW_DIGEST_BUFSZ */

typedef struct sw_digest_result
{
  char digest[SW_DIGEST_BUFSZ]; /* "sha256:…", "" until finished */
  uint64_t size;              /* bytes that passed through */
} sw_digest_result;

/* sha256 of everything written, passed through unchanged to down.  On finish, fills *res,
 * checks it against expect (a "sha256:…" digest, or NULL to accept any), and finishes down
 * with the digest (down received exactly those bytes).  A mismatch fails finish with a
 * message giving both digests, and aborts down. */
void sw_sink_sha256 (sw_sink *out, sw_sink *down, sw_digest_result *res, const char *expect);

/* The same filter without the hash: counts into res->size (res->digest stays ""), and
 * finishes down with whatever digest it was given. */
void sw_sink_count (sw_sink *out, sw_sink *down, sw_digest_result *res);

typedef enum sw_compression
{
  SW_COMPRESSION_NONE = 0,
  SW_COMPRESSION_GZIP,
  SW_COMPRESSION_ZSTD,
} sw_compression;

/* Parse "gzip", "zstd", "uncompressed"/"none" (buildx's compression= values). */
int sw_compression_parse (const char *s, sw_compression *out, sw_error **err);
const char *sw_compression_name (sw_compression c);

/* The ISA-L level that matches or beats buildx's default gzip ratio (see
 * docs/PERFORMANCE.md, "Layers", for the measurement). */
#define SW_GZIP_DEFAULT_LEVEL 2

/* gzip through ISA-L igzip.  level is ISA-L's 0..3; -1 means SW_GZIP_DEFAULT_LEVEL.
 * The output is a standard single-member gzip stream (RFC 1952), mtime 0, no name, so
 * the same input always gives the same bytes. */
int sw_sink_gzip (sw_sink *out, sw_sink *down, int level, sw_error **err);

/* zstd through libzstd; level 0 or -1 means zstd's default (3).  libzstd's worker threads
 * (at least one): the output does not depend on the thread count, nor on how the input
 * is split into writes. */
int sw_sink_zstd (sw_sink *out, sw_sink *down, int level, int threads, sw_error **err);

/* Any of the three; for NONE, *out is down itself (moved). */
int sw_sink_compress (sw_sink *out, sw_sink *down, sw_compression c, int level, int threads,
                      sw_error **err);

/* Decompress by magic: gzip (ISA-L inflate, multi-member streams allowed), zstd, or
 * anything else passed through as an uncompressed tar.  max_out, if not 0, bounds the
 * decompressed bytes (a decompression bomb fails at the limit instead of filling the
 * disk).  Truncated or corrupt compressed input fails at write or finish.  *detected, if
 * not NULL, receives what the magic said once known. */
void sw_sink_decompress (sw_sink *out, sw_sink *down, uint64_t max_out, sw_compression *detected);

/* Run down on a worker thread: writes are copied into a ring of nbufs buffers of bufsize
 * bytes (so memory is nbufs*bufsize) and the worker pushes them on.  Lets the producer
 * (tar + diffID) and the consumer (compress + digest + upload) use two cores.  An error
 * downstream is reported at the next write or at finish. */
int sw_sink_thread (sw_sink *out, sw_sink *down, unsigned nbufs, size_t bufsize, sw_error **err);

#endif
