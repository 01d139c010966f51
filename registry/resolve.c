/* registry/resolve.c — see resolve.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "registry/resolve.h"

int
sw_resolve_image (sw_registry *r, const sw_ref *ref, const sw_platform *want, sw_fetched *manifest,
                  char index_digest[SW_DIGEST_BUFSZ], sw_error **err)
{
  sw_fetched top = { 0 };
  if (sw_manifest_get (r, ref, &top, err) < 0)
    return -1;
  if (index_digest)
    memcpy (index_digest, top.digest, SW_DIGEST_BUFSZ);
  if (sw_media_type_kind (top.media_type) != SW_KIND_INDEX)
    {
      *manifest = top;
      return 0;
    }
  sw_index *ix = NULL;
  int ret = -1;
  cleanup_free char *name = sw_ref_string (ref);
  cleanup_free char *wanted = sw_platform_format (want);
  if (sw_index_parse (top.body.data, top.body.len, &ix, err) < 0)
    goto out;
  sw_platform *cands = sw_xcalloc (ix->n_manifests + 1, sizeof *cands);
  size_t *which = sw_xcalloc (ix->n_manifests + 1, sizeof *which);
  size_t n = 0;
  sw_buf offered = SW_BUF_INIT;
  for (size_t i = 0; i < ix->n_manifests; i++)
    {
      const sw_desc_platform *p = ix->manifests[i].platform;
      if (p == NULL || sw_media_type_kind (ix->manifests[i].media_type) != SW_KIND_MANIFEST)
        continue;
      if (strcmp (p->os, "unknown") == 0)
        continue; /* buildx attestation manifests */
      sw_platform_set (&cands[n], p->os, p->architecture, p->variant);
      which[n] = i;
      cleanup_free char *f = sw_platform_format (&cands[n]);
      sw_buf_printf (&offered, "%s%s", offered.len ? ", " : "", f);
      n++;
    }
  long best = sw_platform_pick (want, cands, n);
  if (best < 0)
    sw_error_make (err, ENOENT, "%s has no image for platform %s (it has: %s); pick one of those with --platform",
                   name, wanted, offered.len ? offered.data : "none");
  else
    {
      sw_ref *child = sw_ref_dup (ref);
      free (child->tag), child->tag = NULL;
      free (child->digest), child->digest = sw_xstrdup (ix->manifests[which[best]].digest);
      ret = sw_manifest_get (r, child, manifest, err);
      sw_ref_free (child);
    }
  for (size_t i = 0; i < n; i++)
    sw_platform_clear (&cands[i]);
  free (cands);
  free (which);
  sw_buf_free (&offered);
out:
  sw_index_free (ix);
  sw_fetched_clear (&top);
  return ret;
}

int
sw_fetch_config (sw_registry *r, const sw_ref *repo, const sw_fetched *manifest, sw_image_config **out,
                 sw_error **err)
{
  sw_manifest *m = NULL;
  if (sw_manifest_parse (manifest->body.data, manifest->body.len, &m, err) < 0)
    return -1;
  cleanup_buf sw_buf cfg = SW_BUF_INIT;
  int ret = sw_blob_get_small (r, repo, m->config.digest, 8u << 20, &cfg, err);
  if (ret == 0)
    ret = sw_image_config_parse (cfg.data ? cfg.data : "", cfg.len, out, err);
  sw_manifest_free (m);
  return ret;
}
