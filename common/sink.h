/* common/sink.h — the streaming sink: where layer and blob bytes go.
 *
 * Every consumer of a byte stream (a registry blob upload, a file descriptor, a digest or
 * compression filter in front of another sink, an extractor) is an sw_sink: three
 * callbacks and a userdata, in the style of curl's and libarchive's callback I/O.  A
 * producer pushes bytes with sw_sink_write() and ends the stream with exactly one of
 * sw_sink_finish() (all bytes were good) or sw_sink_abort() (throw them away).
 *
 * Why here and not in layers/: layers/ produces streams and registry/ consumes them
 * (upload) and produces them (download into an extractor), and the design forbids either
 * module depending on the other.  The vtable is a few lines of plain C with no behaviour
 * of its own beyond the fd sink, so it lives in common/ where both can see it.
 *
 * Contract (what a sink guarantees and what a producer must do):
 *  - write() consumes all len bytes or fails; there are no short writes.  len may be 0.
 *  - After write() fails, the producer calls abort() (never finish()).
 *  - finish() is called at most once, after the last write.  `digest` is the digest
 *    ("sha256:<64 hex>") of exactly the bytes this sink received, when the producer knows
 *    it (a digest filter passes it on to its downstream sink), or NULL.  A registry upload
 *    uses it for the closing `PUT ?digest=`; a sink that needs it and gets NULL fails.
 *  - abort() may be called at any time instead of finish(); it never fails.  It undoes
 *    what can be undone (cancels an upload, leaves no half-made snapshot behind).
 *  - Exactly one of finish()/abort() is called, and it releases the sink's userdata (a
 *    sink frees itself).  A finish() that fails has also cleaned up as abort() would, so
 *    the producer never calls anything on a sink after finish(), whatever it returned.
 *    The inline wrappers below clear the struct, so sw_sink_abort() on a sink already
 *    finished or aborted is a harmless no-op (handy on error paths).
 *  - Sinks are not thread-safe; one producer thread at a time.
 *  - A sink never holds more than a bounded buffer of its own (no whole-blob buffering).
 */
#ifndef SW_COMMON_SINK_H
#define SW_COMMON_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef int (*sw_sink_write_fn) (void *userdata, const void *buf, size_t len, sw_error **err);
typedef int (*sw_sink_finish_fn) (void *userdata, const char *digest, sw_error **err);
typedef void (*sw_sink_abort_fn) (void *userdata);

typedef struct sw_sink
{
  sw_sink_write_fn write;
  sw_sink_finish_fn finish;
  sw_sink_abort_fn abort;
  void *userdata;
} sw_sink;

static inline int
sw_sink_write (sw_sink *s, const void *buf, size_t len, sw_error **err)
{
  return s->write (s->userdata, buf, len, err);
}

/* Releases the sink whether it succeeds or fails. */
static inline int
sw_sink_finish (sw_sink *s, const char *digest, sw_error **err)
{
  int r = s->finish ? s->finish (s->userdata, digest, err) : 0;
  s->write = NULL, s->finish = NULL, s->abort = NULL, s->userdata = NULL;
  return r;
}

/* Safe on a sink that was already finished or aborted (then a no-op). */
static inline void
sw_sink_abort (sw_sink *s)
{
  if (s->abort)
    s->abort (s->userdata);
  s->write = NULL, s->finish = NULL, s->abort = NULL, s->userdata = NULL;
}

/* A sink writing to fd (full writes, EINTR retried).  With close_fd, finish/abort close
 * it; finish then also fails if close() reports an error (NFS, quota).  Never seeks, so
 * pipes and sockets work.  bytes_out, if not NULL, receives the running byte count. */
void sw_sink_fd (sw_sink *out, int fd, bool close_fd, uint64_t *bytes_out);

/* A sink that discards everything (for measuring and for digest-only passes). */
void sw_sink_null (sw_sink *out);

#endif
