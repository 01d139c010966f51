/* image/digest.h — content digests ("sha256:<64 hex>") and streaming sha256.
 *
 * Guarantees: sw_digest_validate() accepts exactly the digests the OCI image spec calls
 * registered and canonical for sha256 and sha512 (lowercase hex of the right length) and
 * explains any refusal; the sha256 context hashes a stream of any length in O(1) memory
 * (OpenSSL EVP, SHA-NI where the CPU has it).
 */
#ifndef SW_IMAGE_DIGEST_H
#define SW_IMAGE_DIGEST_H

#include <stddef.h>
#include "common/error.h"

/* "sha256:" + 64 hex + NUL: the one digest-buffer size of the code base (slipway.h's
 * SW_IMAGE_DIGEST_BUFSZ is asserted equal to it). */
#define SW_DIGEST_SHA256_LEN 71
#define SW_DIGEST_BUFSZ 72

/* 0 when s is "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>". */
int sw_digest_validate (const char *s, sw_error **err);
/* The hex part of a valid digest (after the colon). */
const char *sw_digest_hex (const char *digest);

typedef struct sw_sha256 sw_sha256;
sw_sha256 *sw_sha256_new (void);
void sw_sha256_update (sw_sha256 *h, const void *p, size_t n);
/* Writes "sha256:<hex>" into out (SW_DIGEST_BUFSZ bytes); the context can be reused
 * after sw_sha256_reset(). */
void sw_sha256_final (sw_sha256 *h, char out[SW_DIGEST_BUFSZ]);
void sw_sha256_reset (sw_sha256 *h);
void sw_sha256_free (sw_sha256 *h);
/* One-shot digest of a small buffer (a manifest, a config). */
void sw_digest_bytes (const void *p, size_t n, char out[SW_DIGEST_BUFSZ]);

/* The same for any algorithm a digest or an ADD --checksum may name: "sha256", "sha384",
 * "sha512".  sw_hasher_new returns NULL for any other name; final writes "ALG:<hex>". */
#define SW_DIGEST_MAX_BUFSZ (7 + 128 + 1)
typedef struct sw_hasher sw_hasher;
sw_hasher *sw_hasher_new (const char *alg);
void sw_hasher_update (sw_hasher *h, const void *p, size_t n);
void sw_hasher_final (sw_hasher *h, char out[SW_DIGEST_MAX_BUFSZ]);
void sw_hasher_free (sw_hasher *h);

#endif
