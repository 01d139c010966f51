/* layers/digest.c — the sha256 filter (OpenSSL EVP; SHA-NI where the CPU has it). */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "layers/sink.h"

struct sha_sink
{
  EVP_MD_CTX *ctx;
  sw_sink down;
  uint64_t size;
  sw_digest_result *res;
  char *expect;
};

static void
sha_free (struct sha_sink *s)
{
  EVP_MD_CTX_free (s->ctx);
  free (s->expect);
  free (s);
}

static int
sha_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct sha_sink *s = ud;
  if (len == 0)
    return 0;
  if (EVP_DigestUpdate (s->ctx, buf, len) != 1)
    return sw_error_make (err, 0, "sha256 update failed");
  s->size += len;
  return sw_sink_write (&s->down, buf, len, err);
}

static int
sha_finish (void *ud, const char *digest_in, sw_error **err)
{
  struct sha_sink *s = ud;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char digest[SW_DIGEST_LEN];
  static const char hex[] = "0123456789abcdef";

  if (EVP_DigestFinal_ex (s->ctx, md, &mdlen) != 1 || mdlen != 32)
    {
      sw_sink_abort (&s->down);
      sha_free (s);
      return sw_error_make (err, 0, "sha256 final failed");
    }
  memcpy (digest, "sha256:", 7);
  for (unsigned i = 0; i < 32; i++)
    {
      digest[7 + 2 * i] = hex[md[i] >> 4];
      digest[8 + 2 * i] = hex[md[i] & 15];
    }
  digest[71] = '\0';
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
  s->ctx = EVP_MD_CTX_new ();
  if (s->ctx == NULL || EVP_DigestInit_ex (s->ctx, EVP_sha256 (), NULL) != 1)
    abort (); /* only on OOM: OpenSSL's sha256 is always there */
  s->down = *down;
  *down = (sw_sink){ 0 };
  s->res = res;
  s->expect = expect ? sw_xstrdup (expect) : NULL;
  *out = (sw_sink){ sha_write, sha_finish, sha_abort, s };
}
