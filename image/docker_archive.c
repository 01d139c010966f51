/* image/docker_archive.c — see docker_archive.h. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "image/docker_archive.h"
#include "image/json.h"

static char *
blob_path (const char *digest)
{
  return sw_xasprintf ("blobs/%.*s/%s", (int) (strchr (digest, ':') - digest), digest, sw_digest_hex (digest));
}

int
sw_docker_archive_write (sw_oci_layout *w, const sw_docker_archive_image *img, sw_error **err)
{
  cleanup_buf sw_buf manifest = SW_BUF_INIT;
  cleanup_buf sw_buf repos = SW_BUF_INIT;
  json_t *entry = json_object ();
  json_t *layers = json_array ();
  json_t *tags = json_array ();
  json_t *repositories = json_object ();
  char *p;

  p = blob_path (img->config_digest);
  json_object_set_new (entry, "Config", json_string (p));
  free (p);
  for (size_t i = 0; i < img->n_tags; i++)
    {
      const char *t = img->repo_tags[i];
      json_array_append_new (tags, json_string (t));
      /* "repositories": {"name": {"tag": "<image id hex>"}}; the tag is after the last
       * ':' that follows the last '/' (a registry host may have a port). */
      const char *slash = strrchr (t, '/');
      const char *colon = strrchr (slash ? slash : t, ':');
      cleanup_free char *name = colon ? sw_xstrndup (t, (size_t) (colon - t)) : sw_xstrdup (t);
      const char *tag = colon ? colon + 1 : "latest";
      json_t *r = json_object_get (repositories, name);
      if (r == NULL)
        {
          r = json_object ();
          json_object_set_new (repositories, name, r);
        }
      json_object_set_new (r, tag, json_string (sw_digest_hex (img->config_digest)));
    }
  json_object_set_new (entry, "RepoTags", tags);
  for (size_t i = 0; i < img->n_layers; i++)
    {
      p = blob_path (img->layer_digests[i]);
      json_array_append_new (layers, json_string (p));
      free (p);
    }
  json_object_set_new (entry, "Layers", layers);
  json_t *top = json_array ();
  json_array_append_new (top, entry);
  sw_json_dump (top, &manifest);
  json_decref (top);
  sw_json_dump (repositories, &repos);
  json_decref (repositories);
  if (sw_oci_layout_add_file (w, "manifest.json", manifest.data, manifest.len, err) < 0)
    return -1;
  if (img->n_tags && sw_oci_layout_add_file (w, "repositories", repos.data, repos.len, err) < 0)
    return -1;
  return 0;
}
