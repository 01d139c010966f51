/* layers/decompress.c — decompression by magic: gzip (ISA-L inflate), zstd, or none. */
#include <errno.h>
#include <isa-l.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/xalloc.h"
#include "layers/sink.h"

#define OUT_SIZE (256 * 1024)

enum dstate
{
  D_SNIFF,    /* fewer than 4 bytes seen */
  D_PASS,     /* uncompressed */
  D_GZIP,
  D_ZSTD,
};

struct dec_sink
{
  enum dstate st;
  uint8_t magic[4];
  size_t nmagic;
  struct inflate_state *inf;
  bool member_done; /* gzip: the last member ended cleanly */
  ZSTD_DCtx *dctx;
  size_t zrem;      /* zstd: what ZSTD_decompressStream last said remains (0 = frame end) */
  bool zany;        /* zstd: any input fed */
  uint8_t *out;
  uint64_t produced, max_out;
  sw_compression *detected;
  sw_sink down;
};

static void
dec_free (struct dec_sink *s)
{
  free (s->inf);
  ZSTD_freeDCtx (s->dctx);
  free (s->out);
  free (s);
}

static int
emit (struct dec_sink *s, const void *p, size_t n, sw_error **err)
{
  if (n == 0)
    return 0;
  s->produced += n;
  if (s->max_out && s->produced > s->max_out)
    return sw_error_make (err, EFBIG,
                          "layer expands beyond the limit of %llu bytes (a decompression bomb?)",
                          (unsigned long long) s->max_out);
  return sw_sink_write (&s->down, p, n, err);
}

static int
gz_feed (struct dec_sink *s, const uint8_t *p, size_t len, sw_error **err)
{
  struct inflate_state *st = s->inf;
  while (len > 0)
    {
      uint32_t chunk = len > (1u << 30) ? (1u << 30) : (uint32_t) len;
      st->next_in = (uint8_t *) p;
      st->avail_in = chunk;
      for (;;)
        {
          if (s->member_done)
            {
              /* another gzip member follows (pigz -i, concatenated streams) */
              isal_inflate_reset (st);
              st->crc_flag = ISAL_GZIP;
              s->member_done = false;
            }
          st->next_out = s->out;
          st->avail_out = OUT_SIZE;
          int r = isal_inflate (st);
          if (r < 0)
            return sw_error_make (err, EINVAL, "corrupt gzip stream (isa-l inflate error %d)", r);
          if (emit (s, s->out, OUT_SIZE - st->avail_out, err) < 0)
            return -1;
          if (st->block_state == ISAL_BLOCK_FINISH)
            {
              s->member_done = true;
              if (st->avail_in == 0)
                break;
              continue;
            }
          if (st->avail_in == 0 && st->avail_out != 0)
            break;
        }
      p += chunk;
      len -= chunk;
    }
  return 0;
}

static int
zs_feed (struct dec_sink *s, const uint8_t *p, size_t len, sw_error **err)
{
  ZSTD_inBuffer in = { p, len, 0 };
  if (len)
    s->zany = true;
  for (;;)
    {
      ZSTD_outBuffer ob = { s->out, OUT_SIZE, 0 };
      size_t r = ZSTD_decompressStream (s->dctx, &ob, &in);
      if (ZSTD_isError (r))
        return sw_error_make (err, EINVAL, "corrupt zstd stream: %s", ZSTD_getErrorName (r));
      s->zrem = r;
      if (emit (s, s->out, ob.pos, err) < 0)
        return -1;
      if (in.pos == in.size && ob.pos < ob.size)
        return 0;
    }
}

static int
feed (struct dec_sink *s, const uint8_t *p, size_t len, sw_error **err)
{
  switch (s->st)
    {
    case D_PASS:
      return emit (s, p, len, err);
    case D_GZIP:
      return gz_feed (s, p, len, err);
    case D_ZSTD:
      return zs_feed (s, p, len, err);
    default:
      abort ();
    }
}

static void
decide (struct dec_sink *s)
{
  static const uint8_t zmagic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
  if (s->nmagic >= 2 && s->magic[0] == 0x1f && s->magic[1] == 0x8b)
    {
      s->st = D_GZIP;
      s->inf = sw_xzalloc (sizeof *s->inf);
      isal_inflate_init (s->inf);
      s->inf->crc_flag = ISAL_GZIP;
      if (s->detected)
        *s->detected = SW_COMPRESSION_GZIP;
    }
  else if (s->nmagic == 4 && memcmp (s->magic, zmagic, 4) == 0)
    {
      s->st = D_ZSTD;
      s->dctx = ZSTD_createDCtx ();
      if (!s->dctx)
        abort ();
      /* bound the window (memory) to zstd's default maximum: 128 MiB */
      ZSTD_DCtx_setParameter (s->dctx, ZSTD_d_windowLogMax, 27);
      if (s->detected)
        *s->detected = SW_COMPRESSION_ZSTD;
    }
  else
    {
      s->st = D_PASS;
      if (s->detected)
        *s->detected = SW_COMPRESSION_NONE;
    }
}

static int
dec_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct dec_sink *s = ud;
  const uint8_t *p = buf;
  if (s->st == D_SNIFF)
    {
      while (len > 0 && s->nmagic < 4)
        s->magic[s->nmagic++] = *p++, len--;
      if (s->nmagic < 4)
        return 0;
      decide (s);
      if (feed (s, s->magic, 4, err) < 0)
        return -1;
    }
  return len ? feed (s, p, len, err) : 0;
}

static int
dec_finish (void *ud, const char *digest, sw_error **err)
{
  struct dec_sink *s = ud;
  int r = 0;
  if (s->st == D_SNIFF)
    {
      decide (s);
      r = feed (s, s->magic, s->nmagic, err);
    }
  if (r == 0 && s->st == D_GZIP && !s->member_done)
    r = sw_error_make (err, EINVAL, "truncated gzip stream (it ends mid-member)");
  if (r == 0 && s->st == D_ZSTD && (s->zrem != 0 || !s->zany))
    r = sw_error_make (err, EINVAL, "truncated zstd stream (it ends mid-frame)");
  if (r < 0)
    {
      sw_sink_abort (&s->down);
      dec_free (s);
      return -1;
    }
  /* the digest, if any, is of the compressed bytes; an uncompressed stream passes it on */
  r = sw_sink_finish (&s->down, s->st == D_PASS ? digest : NULL, err);
  dec_free (s);
  return r;
}

static void
dec_abort (void *ud)
{
  struct dec_sink *s = ud;
  sw_sink_abort (&s->down);
  dec_free (s);
}

void
sw_sink_decompress (sw_sink *out, sw_sink *down, uint64_t max_out, sw_compression *detected)
{
  struct dec_sink *s = sw_xzalloc (sizeof *s);
  s->st = D_SNIFF;
  s->out = sw_xmalloc (OUT_SIZE);
  s->max_out = max_out;
  s->detected = detected;
  s->down = *down;
  *down = (sw_sink){ 0 };
  *out = (sw_sink){ dec_write, dec_finish, dec_abort, s };
}
