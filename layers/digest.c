/* layers/digest.c — the sha256 filter, over image/digest.h's streaming sha256, and its
 * counting-only twin (h == NULL). */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "image/digest.h"
#include "layers/sink.h"


struct sha_sink
{
  sw_sha256 *h;
  sw_sink down;
  uint64_t size;
  sw_digest_result *res;
  char *expect;
};

static void
sha_free (struct sha_sink *s)
{
  sw_sha256_free (s->h);
  free (s->expect);
  free (s);
}

static int
sha_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct sha_sink *s = ud;
  if (len == 0)
    return 0;
  if (s->h)
    sw_sha256_update (s->h, buf, len);
  s->size += len;
  return sw_sink_write (&s->down, buf, len, err);
}

static int
sha_finish (void *ud, const char *digest_in, sw_error **err)
{
  struct sha_sink *s = ud;
  char digest[SW_DIGEST_BUFSZ] = "";

  if (s->h == NULL)
    {
      if (s->res)
        s->res->size = s->size;
      int r = sw_sink_finish (&s->down, digest_in, err);
      sha_free (s);
      return r;
    }
  sw_sha256_final (s->h, digest);
  if (s->expect && strcmp (s->expect, digest) != 0)
    {
      sw_error_make (err, 0, "digest mismatch: expected %s, got %s (%llu bytes)", s->expect,
                     digest, (unsigned long long) s->size);
      sw_sink_abort (&s->down);
      sha_free (s);
      return -1;
    }
  if (s->res)
    {
      memcpy (s->res->digest, digest, sizeof digest);
      s->res->size = s->size;
    }
  int r = sw_sink_finish (&s->down, digest, err);
  sha_free (s);
  return r;
}

static void
sha_abort (void *ud)
{
  struct sha_sink *s = ud;
  sw_sink_abort (&s->down);
  sha_free (s);
}

void
sw_sink_sha256 (sw_sink *out, sw_sink *down, sw_digest_result *res, const char *expect)
{
  struct sha_sink *s = sw_xzalloc (sizeof *s);
  s->h = sw_sha256_new ();
  s->down = *down;
  *down = (sw_sink){ 0 };
  s->res = res;
  s->expect = expect ? sw_xstrdup (expect) : NULL;
  *out = (sw_sink){ sha_write, sha_finish, sha_abort, s };
}

void
sw_sink_count (sw_sink *out, sw_sink *down, sw_digest_result *res)
{
  struct sha_sink *s = sw_xzalloc (sizeof *s);
  s->down = *down;
  *down = (sw_sink){ 0 };
  s->res = res;
  *out = (sw_sink){ sha_write, sha_finish, sha_abort, s };
}
