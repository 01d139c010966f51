/* fuzz_sbom — libFuzzer target for attest/sbom's record parsers: whatever an image holds in
 * its package databases (dpkg status, apk's installed db, package.json, package-lock.json,
 * METADATA) or in a Go binary's build info must give packages or nothing, never a crash, a
 * leak or a hang; and the SPDX document made from them must be JSON.
 *
 * The first input byte picks the parser, the rest is the record.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/sbom.h"
#include "common/xalloc.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  unsigned which = data[0] % 7;
  const char *text = (const char *) data + 1;
  size_t len = size - 1;
  sw_sbom *s = sw_xzalloc (sizeof *s);
  s->distro_id = sw_xstrdup ("debian");
  s->distro_version = sw_xstrdup ("12");

  switch (which)
    {
    case 0: sw_sbom_parse_dpkg (s, text, len, "/var/lib/dpkg/status"); break;
    case 1: sw_sbom_parse_apk (s, text, len, "/lib/apk/db/installed"); break;
    case 2: sw_sbom_parse_npm_package (s, text, len, "/node_modules/x/package.json"); break;
    case 3: sw_sbom_parse_npm_lock (s, text, len, "/package-lock.json"); break;
    case 4: sw_sbom_parse_python_metadata (s, text, len, "/x.dist-info/METADATA"); break;
    case 5:
      {
        char *vers = NULL, *mod = NULL;
        if (sw_sbom_go_buildinfo_blob ((const unsigned char *) text, len, &vers, &mod))
          sw_sbom_parse_go_modinfo (s, vers, mod, "/bin/x");
        free (vers);
        free (mod);
        break;
      }
    case 6:
      {
        char *z = sw_xstrndup (text, len); /* modinfo text, as the blob reader gives it */
        sw_sbom_parse_go_modinfo (s, "go1.22.1", z, "/bin/x");
        free (z);
        break;
      }
    }
  sw_sbom_finish (s);
  sw_buf out = SW_BUF_INIT;
  sw_sbom_spdx (s, "fuzz", "2024-01-01T00:00:00Z", "seed", &out);
  json_t *doc = json_loads (sw_buf_str (&out), 0, NULL);
  if (doc == NULL)
    abort (); /* the document must always be JSON */
  json_decref (doc);
  sw_buf_free (&out);
  sw_sbom_free (s);
  return 0;
}
