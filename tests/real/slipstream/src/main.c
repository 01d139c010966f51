/* A stand-in for slipstream's main: print the SHA-256 of its first argument with OpenSSL. */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

int
main (int argc, char **argv)
{
  const char *text = argc > 1 ? argv[1] : "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!EVP_Digest (text, strlen (text), md, &n, EVP_sha256 (), NULL))
    return 1;
  for (unsigned int i = 0; i < n; i++)
    printf ("%02x", md[i]);
  putchar ('\n');
  return 0;
}
