/* layers/compress.c — gzip (ISA-L igzip) and zstd compressor filters. */
#include <errno.h>
#include <isa-l.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zstd.h>

#include "common/xalloc.h"
#include "layers/sink.h"

/* Big enough that each downstream write is worth a syscall or an HTTP chunk append. */
#define OUT_SIZE (256 * 1024)

int
sw_compression_parse (const char *s, sw_compression *out, sw_error **err)
{
  if (strcasecmp (s, "gzip") == 0)
    *out = SW_COMPRESSION_GZIP;
  else if (strcasecmp (s, "zstd") == 0)
    *out = SW_COMPRESSION_ZSTD;
  else if (strcasecmp (s, "uncompressed") == 0 || strcasecmp (s, "none") == 0)
    *out = SW_COMPRESSION_NONE;
  else
    return sw_error_make (err, EINVAL,
                          "unknown compression \"%s\": use gzip, zstd or uncompressed", s);
  return 0;
}

const char *
sw_compression_name (sw_compression c)
{
  switch (c)
    {
    case SW_COMPRESSION_GZIP:
      return "gzip";
    case SW_COMPRESSION_ZSTD:
      return "zstd";
    default:
      return "uncompressed";
    }
}

/* ---- gzip ---------------------------------------------------------------------- */

/* ISA-L's output depends on how the input is split across isal_deflate() calls, so the
 * input is fed in fixed IN_CHUNK pieces whatever the writes look like: the compressed
 * bytes (and so the layer digest) are a function of the uncompressed bytes alone. */
#define IN_CHUNK (256 * 1024)

struct gz_sink
{
  struct isal_zstream zs;
  uint8_t *level_buf;
  uint8_t *out;
  uint8_t *in;   /* a partial chunk */
  size_t inlen;
  sw_sink down;
};

static void
gz_free (struct gz_sink *s)
{
  free (s->level_buf);
  free (s->out);
  free (s->in);
  free (s);
}

static int
gz_run (struct gz_sink *s, sw_error **err)
{
  do
    {
      s->zs.next_out = s->out;
      s->zs.avail_out = OUT_SIZE;
      int r = isal_deflate (&s->zs);
      if (r != COMP_OK)
        return sw_error_make (err, 0, "gzip (isa-l) failed: error %d", r);
      size_t n = OUT_SIZE - s->zs.avail_out;
      if (n > 0 && sw_sink_write (&s->down, s->out, n, err) < 0)
        return -1;
    }
  while (s->zs.avail_in > 0 || s->zs.avail_out == 0
         || (s->zs.end_of_stream && s->zs.internal_state.state != ZSTATE_END));
  return 0;
}

static int
gz_feed (struct gz_sink *s, const uint8_t *p, size_t n, sw_error **err)
{
  s->zs.next_in = (uint8_t *) p;
  s->zs.avail_in = (uint32_t) n;
  return gz_run (s, err);
}

static int
gz_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct gz_sink *s = ud;
  const uint8_t *p = buf;
  if (s->inlen > 0)
    {
      size_t n = IN_CHUNK - s->inlen < len ? IN_CHUNK - s->inlen : len;
      memcpy (s->in + s->inlen, p, n);
      s->inlen += n;
      p += n;
      len -= n;
      if (s->inlen < IN_CHUNK)
        return 0;
      s->inlen = 0;
      if (gz_feed (s, s->in, IN_CHUNK, err) < 0)
        return -1;
    }
  for (; len >= IN_CHUNK; p += IN_CHUNK, len -= IN_CHUNK) /* whole chunks: no copy */
    if (gz_feed (s, p, IN_CHUNK, err) < 0)
      return -1;
  memcpy (s->in, p, len);
  s->inlen = len;
  return 0;
}

static int
gz_finish (void *ud, const char *digest, sw_error **err)
{
  struct gz_sink *s = ud;
  s->zs.next_in = s->in;
  s->zs.avail_in = (uint32_t) s->inlen;
  s->inlen = 0;
  s->zs.end_of_stream = 1;
  if (gz_run (s, err) < 0)
    {
      sw_sink_abort (&s->down);
      gz_free (s);
      return -1;
    }
  int r = sw_sink_finish (&s->down, NULL, err);
  gz_free (s);
  return r;
}

static void
gz_abort (void *ud)
{
  struct gz_sink *s = ud;
  sw_sink_abort (&s->down);
  gz_free (s);
}

int
sw_sink_gzip (sw_sink *out, sw_sink *down, int level, sw_error **err)
{
  static const uint32_t bufsize[] = { ISAL_DEF_LVL0_DEFAULT, ISAL_DEF_LVL1_DEFAULT,
                                       ISAL_DEF_LVL2_DEFAULT, ISAL_DEF_LVL3_DEFAULT };
  if (level < 0)
    level = SW_GZIP_DEFAULT_LEVEL;
  if (level > 3)
    return sw_error_make (err, EINVAL, "gzip level %d out of range: ISA-L has levels 0 to 3",
                          level);
  struct gz_sink *s = sw_xzalloc (sizeof *s);
  isal_deflate_init (&s->zs);
  s->zs.level = (uint32_t) level;
  s->zs.level_buf_size = bufsize[level];
  s->level_buf = bufsize[level] ? sw_xmalloc (bufsize[level]) : NULL;
  s->zs.level_buf = s->level_buf;
  s->zs.gzip_flag = IGZIP_GZIP; /* ISA-L's default header: mtime 0, no name */
  s->zs.flush = NO_FLUSH;
  s->out = sw_xmalloc (OUT_SIZE);
  s->in = sw_xmalloc (IN_CHUNK);
  s->down = *down;
  *down = (sw_sink){ 0 };
  *out = (sw_sink){ gz_write, gz_finish, gz_abort, s };
  return 0;
}

/* ---- zstd ---------------------------------------------------------------------- */

#define ZSTD_JOB_SIZE (2 * 1024 * 1024)

struct zs_sink
{
  ZSTD_CCtx *cctx;
  uint8_t *out;
  size_t outsize;
  sw_sink down;
};

static void
zs_free (struct zs_sink *s)
{
  ZSTD_freeCCtx (s->cctx);
  free (s->out);
  free (s);
}

static int
zs_run (struct zs_sink *s, ZSTD_inBuffer *in, ZSTD_EndDirective mode, sw_error **err)
{
  for (;;)
    {
      ZSTD_outBuffer ob = { s->out, s->outsize, 0 };
      size_t rem = ZSTD_compressStream2 (s->cctx, &ob, in, mode);
      if (ZSTD_isError (rem))
        return sw_error_make (err, 0, "zstd compression failed: %s", ZSTD_getErrorName (rem));
      if (ob.pos > 0 && sw_sink_write (&s->down, s->out, ob.pos, err) < 0)
        return -1;
      if (mode == ZSTD_e_end ? rem == 0 : in->pos == in->size)
        return 0;
    }
}

static int
zs_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct zs_sink *s = ud;
  ZSTD_inBuffer in = { buf, len, 0 };
  return len ? zs_run (s, &in, ZSTD_e_continue, err) : 0;
}

static int
zs_finish (void *ud, const char *digest, sw_error **err)
{
  struct zs_sink *s = ud;
  ZSTD_inBuffer in = { NULL, 0, 0 };
  if (zs_run (s, &in, ZSTD_e_end, err) < 0)
    {
      sw_sink_abort (&s->down);
      zs_free (s);
      return -1;
    }
  int r = sw_sink_finish (&s->down, NULL, err);
  zs_free (s);
  return r;
}

static void
zs_abort (void *ud)
{
  struct zs_sink *s = ud;
  sw_sink_abort (&s->down);
  zs_free (s);
}

int
sw_sink_zstd (sw_sink *out, sw_sink *down, int level, int threads, sw_error **err)
{
  struct zs_sink *s = sw_xzalloc (sizeof *s);
  s->cctx = ZSTD_createCCtx ();
  if (s->cctx == NULL)
    abort ();
  if (level <= 0) /* 0 or -1: the default (zstd's negative "fast" levels are not offered) */
    level = ZSTD_CLEVEL_DEFAULT;
  size_t r = ZSTD_CCtx_setParameter (s->cctx, ZSTD_c_compressionLevel, level);
  /* Always the multi-threaded mode, even with one worker: its output does not depend on
   * the worker count (libzstd guarantees it), whereas single-threaded mode's differs, so
   * the digest would change with the machine's CPU count. */
  if (!ZSTD_isError (r))
    {
      r = ZSTD_CCtx_setParameter (s->cctx, ZSTD_c_nbWorkers, threads > 1 ? threads : 1);
      if (ZSTD_isError (r))
        r = 0; /* a libzstd built without threads: compress on this one */
      else
        /* Memory: libzstd keeps a few jobs in flight per worker, each an input and an
         * output buffer; its default job (4 windows, 8 MiB at level 3) costs ~120 MiB
         * on two CPUs.  A fixed 2 MiB job keeps the pack under 64 MiB; jobs overlap their
         * window, so the ratio barely moves.  Fixed, so the digest stays the same on
         * every machine. */
        r = ZSTD_CCtx_setParameter (s->cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE);
    }
  if (ZSTD_isError (r))
    {
      zs_free (s);
      return sw_error_make (err, EINVAL, "zstd level %d: %s", level, ZSTD_getErrorName (r));
    }
  s->outsize = ZSTD_CStreamOutSize ();
  s->out = sw_xmalloc (s->outsize);
  s->down = *down;
  *down = (sw_sink){ 0 };
  *out = (sw_sink){ zs_write, zs_finish, zs_abort, s };
  return 0;
}

int
sw_sink_compress (sw_sink *out, sw_sink *down, sw_compression c, int level, int threads,
                  sw_error **err)
{
  switch (c)
    {
    case SW_COMPRESSION_GZIP:
      return sw_sink_gzip (out, down, level, err);
    case SW_COMPRESSION_ZSTD:
      return sw_sink_zstd (out, down, level, threads, err);
    default:
      *out = *down;
      *down = (sw_sink){ 0 };
      return 0;
    }
}
