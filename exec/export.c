/* exec/export.c — a stage becomes an image: config, manifest, and (when pushing) every blob
 * in the registry.
 *
 * Order matters for what a failed build leaves behind: blobs first (new layers were
 * uploaded by their jobs as they were made; base layers are mounted across repositories
 * or streamed registry to registry), then the config, then the manifest by digest.  Tags
 * are not written here: run_build.c writes them last, after every platform's image.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "exec/engine.h"
#include "exec/outputs.h"
#include "image/mediatype.h"
#include "registry/ops.h"
#include "registry/sink.h"

struct base_job
{
  sw_engine *e;
  const sw_layer *l;
};

static int
base_job (void *arg, sw_error **err)
{
  struct base_job *j = arg;
  const sw_layer *l = j->l;
  if (sw_blob_copy (j->e->reg, j->e->push_repo, l->source_repo, l->digest, l->size, err) < 0)
    return sw_error_wrap (err, "copying base layer %s", l->digest);
  return 0;
}

/* The image's creation time: the epoch when set; else the newest time of the layers this
 * build contributes (a fresh step's own time, or the one the cache kept) — so an unchanged
 * rebuild gives the same config and the same image digest, as with BuildKit; else the
 * build's start. */
static const char *
image_created (sw_engine *e, const sw_stage *s)
{
  const char *newest = NULL;
  if (e->epoch_str)
    return e->epoch_str;
  for (size_t i = 0; i < s->n_layers; i++)
    {
      const sw_layer *l = s->layers[i];
      if (!l->built || l->created[0] == '\0')
        continue;
      if (newest == NULL || strcmp (l->created, newest) > 0)
        newest = l->created;
    }
  return newest ? newest : e->created;
}

/* Date the metadata entries (created "": exec/commit.h) with the time of the next entry
 * that has one, the last ones with the image's. */
static void
date_history (sw_image_config *c, const char *created)
{
  const char *next = created;
  for (size_t i = c->n_history; i-- > 0;)
    {
      sw_history *h = &c->history[i];
      if (h->created && h->created[0] == '\0')
        {
          free (h->created);
          h->created = sw_xstrdup (next);
        }
      else if (h->created)
        next = h->created;
    }
}

/* The config and the manifest of s as they stand (every layer's digest known). */
static void
compose (sw_engine *e, sw_stage *s, sw_manifest *m, sw_buf *config_json, sw_buf *manifest_json,
         sw_image_result *out)
{
  /* --label: on the image being exported, as buildx sets them */
  for (size_t i = 0; i < e->b->labels.n; i++)
    {
      cleanup_free char *k = sw_xstrdup (e->b->labels.v[i]);
      char *eq = strchr (k, '=');
      *eq = '\0';
      sw_kv_set (&s->config->labels, &s->config->n_labels, k, eq + 1);
    }
  sw_strlist_free (s->config->diff_ids);
  s->config->diff_ids = NULL;
  for (size_t i = 0; i < s->n_layers; i++)
    sw_strlist_push (&s->config->diff_ids, s->layers[i]->diff_id);
  free (s->config->created);
  s->config->created = sw_xstrdup (image_created (e, s));
  date_history (s->config, s->config->created);
  sw_buf_truncate (config_json, 0);
  sw_image_config_serialize (s->config, config_json);

  m->media_type = e->docker_media_types ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST;
  m->config.media_type = e->docker_media_types ? SW_MT_DOCKER_CONFIG : SW_MT_OCI_CONFIG;
  sw_digest_bytes (config_json->data, config_json->len, out->config_digest);
  m->config.digest = out->config_digest;
  m->config.size = (int64_t) config_json->len;
  m->n_layers = s->n_layers;
  m->layers = sw_xcalloc (s->n_layers + 1, sizeof *m->layers);
  for (size_t i = 0; i < s->n_layers; i++)
    {
      const sw_layer *l = s->layers[i];
      m->layers[i].media_type = (char *) sw_outputs_layer_media_type (l->media_type, e->docker_media_types);
      m->layers[i].digest = (char *) l->digest;
      m->layers[i].size = l->size;
    }
  /* --annotation KEY=VALUE and manifest:KEY=VALUE go on the image manifest */
  for (size_t i = 0; i < e->b->annotations.n; i++)
    {
      const char *a = e->b->annotations.v[i];
      if (strncmp (a, "index:", 6) == 0)
        continue;
      if (strncmp (a, "manifest:", 9) == 0)
        a += 9;
      cleanup_free char *k = sw_xstrdup (a);
      char *eq = strchr (k, '=');
      *eq = '\0';
      sw_kv_set (&m->annotations, &m->n_annotations, k, eq + 1);
    }
  sw_buf_truncate (manifest_json, 0);
  sw_manifest_serialize (m, manifest_json);
  sw_digest_bytes (manifest_json->data, manifest_json->len, out->manifest_digest);
}

static void
manifest_clear (sw_manifest *m)
{
  for (size_t i = 0; i < m->n_annotations; i++)
    {
      free (m->annotations[i].key);
      free (m->annotations[i].value);
    }
  free (m->annotations);
  free (m->layers);
  *m = (sw_manifest){ 0 };
}

/* Every layer the build contributes to s came from the cache with its blob known (their
 * jobs deferred): when the push repository already has this very manifest, it has the
 * config and every layer too (a registry takes a manifest only once it holds all its
 * blobs), and nothing needs to be checked or sent.  1: in place; 0: push as usual. */
static bool
all_deferred (const sw_stage *s)
{
  bool deferred = false;
  for (size_t i = 0; i < s->n_layers; i++)
    {
      const sw_layer *l = s->layers[i];
      if (l->built && !l->deferred)
        return false;
      deferred |= l->deferred;
    }
  return deferred;
}

static int
image_in_place (sw_engine *e, sw_stage *s, const char *manifest_digest)
{
  cleanup_error sw_error *ignored = NULL;
  char got[SW_DIGEST_BUFSZ];
  sw_ref *ref = sw_ref_dup (e->push_repo);
  free (ref->tag);
  ref->tag = NULL;
  free (ref->digest);
  ref->digest = sw_xstrdup (manifest_digest);
  int r = sw_manifest_head (e->reg, ref, got, &ignored) == 1 && strcmp (got, manifest_digest) == 0;
  sw_ref_free (ref);
  if (!r)
    return 0;
  for (size_t i = 0; i < s->n_layers; i++)
    {
      sw_layer *l = s->layers[i];
      if (!l->deferred)
        continue;
      l->deferred = false;
      l->sent = (uint64_t) l->size;
      l->pushed = true;
      l->packed = true;
    }
  return 1;
}

int
sw_engine_export_image (sw_engine *e, sw_stage *s, sw_image_result *out, sw_error **err)
{
  cleanup_buf sw_buf config_json = SW_BUF_INIT;
  cleanup_buf sw_buf manifest_json = SW_BUF_INIT;
  sw_manifest m = { 0 };
  double t0 = sw_engine_now ();
  int id = sw_engine_vertex_start (e, "exporting to image");
  int r = -1;
  bool in_place = false;

  if (e->push_repo && all_deferred (s))
    {
      /* an unchanged rebuild: one HEAD of the manifest may spare a HEAD a layer */
      if (sw_workers_wait (e->workers, err) < 0)
        goto out;
      compose (e, s, &m, &config_json, &manifest_json, out);
      manifest_clear (&m);
      in_place = image_in_place (e, s, out->manifest_digest) == 1;
    }
  sw_engine_queue_deferred (e); /* what is not in place is checked (and sent) as usual */

  /* Base layers go to the push repository on the workers too, beside the last new layers'
   * uploads rather than after them (each is a HEAD, and maybe a GET and an upload: a chain
   * of round trips that used to sit between the last step and the config). */
  if (e->push_repo && !in_place)
    for (size_t i = 0; i < s->n_layers; i++)
      if (!s->layers[i]->built)
        {
          struct base_job *j = sw_xzalloc (sizeof *j);
          j->e = e;
          j->l = s->layers[i];
          sw_workers_submit (e->workers, base_job, j, free);
        }
  /* Every new layer's digest is known once its job is done, every base layer in place;
   * meanwhile, say how far each new layer has got (buildx's "pushing layers" lines). */
  for (unsigned tick = 0; sw_workers_pending (e->workers) > 0; tick++)
    {
      /* look often (the last upload's end is on the critical path), report 10 times a second */
      for (size_t i = 0; tick % 5 == 0 && i < s->n_layers; i++)
        {
          sw_layer *l = s->layers[i];
          if (!l->built || l->packed)
            continue;
          sw_event ev = { .kind = SW_EVENT_PROGRESS, .id = id, .current = l->sent,
                          .name = l->label };
          sw_build_emit (e->b, &ev);
        }
      struct timespec ts = { 0, 20 * 1000 * 1000 };
      nanosleep (&ts, NULL);
    }
  if (sw_workers_wait (e->workers, err) < 0)
    goto out;

  compose (e, s, &m, &config_json, &manifest_json, out);
  out->manifest_size = (int64_t) manifest_json.len;
  out->manifest_media_type = sw_xstrdup (m.media_type);
  sw_platform_copy (&out->platform, &s->platform);

  if (e->push_repo && !in_place)
    {
      char got[SW_DIGEST_BUFSZ];
      if (sw_blob_put_small (e->reg, e->push_repo, config_json.data, config_json.len, got, err) < 0)
        goto out;
      if (sw_manifest_put (e->reg, e->push_repo, out->manifest_digest, m.media_type, manifest_json.data,
                           manifest_json.len, err) < 0)
        goto out;
    }
  sw_buf_append (&out->manifest_json, manifest_json.data, manifest_json.len);
  sw_buf_append (&out->config_json, config_json.data, config_json.len);
  out->layers = sw_xcalloc (s->n_layers + 1, sizeof *out->layers);
  memcpy (out->layers, s->layers, s->n_layers * sizeof *out->layers);
  out->n_layers = s->n_layers;
  r = 0;
out:
  manifest_clear (&m);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  return r;
}
