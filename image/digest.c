/* image/digest.c — see digest.h. */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "common/xalloc.h"
#include "image/digest.h"

struct sw_sha256
{
  EVP_MD_CTX *ctx;
};

static int
check_hex (const char *s, size_t want)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return -1;
  return n == want ? 0 : -1;
}

int
sw_digest_validate (const char *s, sw_error **err)
{
  if (s == NULL || *s == '\0')
    return sw_error_make (err, EINVAL, "invalid digest \"\": expected sha256:<64 hex digits>");
  const char *colon = strchr (s, ':');
  if (colon == NULL)
    return sw_error_make (err, EINVAL, "invalid digest \"%.80s\": expected ALGORITHM:HEX, e.g. sha256:<64 hex digits>", s);
  size_t alen = (size_t) (colon - s);
  size_t want;
  if (alen == 6 && memcmp (s, "sha256", 6) == 0)
    want = 64;
  else if (alen == 6 && memcmp (s, "sha512", 6) == 0)
    want = 128;
  else
    return sw_error_make (err, EINVAL, "unsupported digest algorithm \"%.*s\" in \"%.80s\": use sha256 or sha512",
                          (int) (alen > 20 ? 20 : alen), s, s);
  if (check_hex (colon + 1, want) < 0)
    return sw_error_make (err, EINVAL, "invalid digest \"%.80s\": expected %zu lowercase hex digits after \"%.*s:\"",
                          s, want, (int) alen, s);
  return 0;
}

const char *
sw_digest_hex (const char *digest)
{
  const char *c = strchr (digest, ':');
  return c ? c + 1 : digest;
}

sw_sha256 *
sw_sha256_new (void)
{
  sw_sha256 *h = sw_xzalloc (sizeof *h);
  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx == NULL)
    abort ();
  sw_sha256_reset (h);
  return h;
}

void
sw_sha256_reset (sw_sha256 *h)
{
  if (EVP_DigestInit_ex (h->ctx, EVP_sha256 (), NULL) != 1)
    abort ();
}

void
sw_sha256_update (sw_sha256 *h, const void *p, size_t n)
{
  if (n)
    EVP_DigestUpdate (h->ctx, p, n);
}

/* "ALG:" and the hex of the context's digest into out (room for ALG, ':', 2*len+1). */
static void
final_hex (EVP_MD_CTX *ctx, const char *alg, char *out)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex (ctx, md, &len);
  size_t n = strlen (alg);
  memcpy (out, alg, n);
  out[n++] = ':';
  for (unsigned i = 0; i < len; i++)
    {
      out[n++] = hex[md[i] >> 4];
      out[n++] = hex[md[i] & 15];
    }
  out[n] = '\0';
}

void
sw_sha256_final (sw_sha256 *h, char out[SW_DIGEST_BUFSZ])
{
  final_hex (h->ctx, "sha256", out);
}

void
sw_sha256_free (sw_sha256 *h)
{
  if (h == NULL)
    return;
  EVP_MD_CTX_free (h->ctx);
  free (h);
}

void
sw_digest_bytes (const void *p, size_t n, char out[SW_DIGEST_BUFSZ])
{
  sw_sha256 *h = sw_sha256_new ();
  sw_sha256_update (h, p, n);
  sw_sha256_final (h, out);
  sw_sha256_free (h);
}

struct sw_hasher
{
  EVP_MD_CTX *ctx;
  const char *alg;
};

sw_hasher *
sw_hasher_new (const char *alg)
{
  static const char *const algs[] = { "sha256", "sha384", "sha512" };
  const EVP_MD *md = NULL;
  size_t i;
  for (i = 0; i < 3 && !md; i++)
    if (alg && strcmp (alg, algs[i]) == 0)
      md = i == 0 ? EVP_sha256 () : i == 1 ? EVP_sha384 () : EVP_sha512 ();
  if (!md)
    return NULL;
  sw_hasher *h = sw_xzalloc (sizeof *h);
  h->alg = algs[i - 1];
  h->ctx = EVP_MD_CTX_new ();
  if (h->ctx == NULL || EVP_DigestInit_ex (h->ctx, md, NULL) != 1)
    abort ();
  return h;
}

void
sw_hasher_update (sw_hasher *h, const void *p, size_t n)
{
  if (n)
    EVP_DigestUpdate (h->ctx, p, n);
}

void
sw_hasher_final (sw_hasher *h, char out[SW_DIGEST_MAX_BUFSZ])
{
  final_hex (h->ctx, h->alg, out);
}

void
sw_hasher_free (sw_hasher *h)
{
  if (h == NULL)
    return;
  EVP_MD_CTX_free (h->ctx);
  free (h);
}
