/* exec/base.c — see base.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "exec/base.h"
#include "exec/workers.h"
#include "image/mediatype.h"
#include "layers/layers.h"
#include "registry/ops.h"
#include "registry/resolve.h"
#include "registry/sink.h"

int
sw_base_resolve (sw_registry *r, const char *image, const sw_platform *want, sw_base_image **out,
                 sw_error **err)
{
  sw_base_image *b = sw_xzalloc (sizeof *b);
  sw_fetched f = { 0 };
  int ret = -1;

  b->name = sw_xstrdup (image);
  if (sw_ref_parse (image, &b->repo, err) < 0)
    goto out;
  if (sw_resolve_image (r, b->repo, want, &f, b->top_digest, err) < 0)
    goto out;
  {
    /* "docker.io/library/busybox:latest@sha256:<index>", as BuildKit names the source */
    cleanup_free char *name = sw_ref_name (b->repo);
    const char *tag = b->repo->tag ? b->repo->tag : (b->repo->digest ? NULL : "latest");
    b->resolved = sw_xasprintf ("%s%s%s@%s", name, tag ? ":" : "", tag ? tag : "", *b->top_digest ? b->top_digest : f.digest);
  }
  /* From here on the repository is named by the manifest's digest. */
  free (b->repo->digest);
  b->repo->digest = sw_xstrdup (f.digest);
  memcpy (b->manifest_digest, f.digest, sizeof b->manifest_digest);
  b->manifest_media_type = sw_xstrdup (f.media_type ? f.media_type : SW_MT_OCI_MANIFEST);
  if (sw_manifest_parse (f.body.data, f.body.len, &b->manifest, err) < 0)
    {
      sw_error_wrap (err, "%s", image);
      goto out;
    }
  if (sw_fetch_config (r, b->repo, &f, &b->config, err) < 0)
    {
      sw_error_wrap (err, "%s: image config", image);
      goto out;
    }
  /* every layer a kind slipway can unpack and may copy: a foreign (non-distributable)
   * layer must not be fetched or pushed elsewhere, and an unknown one would be carried
   * into the pushed manifest unread */
  for (size_t i = 0; i < b->manifest->n_layers; i++)
    {
      const sw_descriptor *l = &b->manifest->layers[i];
      const char *mt = l->media_type ? l->media_type : "";
      if (strstr (mt, "foreign") || strstr (mt, "nondistributable"))
        {
          sw_error_make (err, ENOTSUP, "%s: layer %zu (%s) has media type %s: foreign (non-distributable) layers "
                         "are not supported", image, i + 1, l->digest, mt);
          goto out;
        }
      if (strcmp (mt, SW_MT_OCI_LAYER) && strcmp (mt, SW_MT_OCI_LAYER_GZIP) && strcmp (mt, SW_MT_OCI_LAYER_ZSTD)
          && strcmp (mt, SW_MT_DOCKER_LAYER_GZIP))
        {
          sw_error_make (err, ENOTSUP, "%s: layer %zu (%s) has an unknown media type \"%s\" (want a tar, tar+gzip "
                         "or tar+zstd image layer)", image, i + 1, l->digest, mt);
          goto out;
        }
      if (l->size < 0)
        {
          sw_error_make (err, EINVAL, "%s: layer %zu (%s) has no valid size", image, i + 1, l->digest);
          goto out;
        }
    }
  if (sw_strlist_len (b->config->diff_ids) != b->manifest->n_layers)
    {
      sw_error_make (err, EINVAL, "%s: the config lists %zu diffIDs for %zu layers", image,
                     sw_strlist_len (b->config->diff_ids), b->manifest->n_layers);
      goto out;
    }
  if (b->config->architecture && want->arch && strcmp (b->config->architecture, want->arch) != 0)
    {
      cleanup_free char *want_s = sw_platform_format (want);
      sw_warn ("InvalidBaseImagePlatform: Base image %s was pulled with platform \"%s/%s\", expected \"%s\" for current build",
               image, b->config->os ? b->config->os : "linux", b->config->architecture, want_s);
    }
  *out = b;
  b = NULL;
  ret = 0;
out:
  sw_fetched_clear (&f);
  sw_base_free (b);
  return ret;
}

/* ---- extraction ------------------------------------------------------------------ */

struct extract_job
{
  sw_registry *r;
  sw_state *st;
  const sw_ref *repo;
  const sw_descriptor *layer;
  const char *diff_id;
  bool skeleton;   /* metadata only, into the session's scratch (see base.h) */
  char *skel_dir;  /* skeleton: where it went */
  sw_error *err;
};

/* What a skeleton keeps the contents of: the files --chown names are looked up in. */
static const char *const skeleton_keep[] = { "etc/passwd", "etc/group", NULL };

/* Skeletons are kept in the layer store too, under a name derived from the diffID (never
 * a real layer's): the next build's COPY finds the shape without fetching anything. */
static void
skeleton_id (const char *diff_id, char out[SW_DIGEST_BUFSZ])
{
  cleanup_free char *name = sw_xasprintf ("slipway skeleton v1 of %s", diff_id);
  sw_digest_bytes (name, strlen (name), out);
}

static int
extract_one (struct extract_job *j, sw_error **err)
{
  cleanup_free char *tmp = NULL;
  cleanup_close int fd = -1;
  sw_extract_opts o;
  sw_sink sink = { 0 };

  char skel_id[SW_DIGEST_BUFSZ];
  if (j->skeleton)
    {
      skeleton_id (j->diff_id, skel_id);
      if (sw_state_layer_has (j->st, skel_id))
        return sw_state_layer_path (j->st, skel_id, &j->skel_dir, err);
    }
  else if (sw_state_layer_has (j->st, j->diff_id))
    return 0;
  if (strstr (j->layer->media_type, "foreign") || strstr (j->layer->media_type, "nondistributable"))
    return sw_error_make (err, ENOTSUP, "layer %s is a foreign (non-distributable) layer: not supported",
                          j->layer->digest);
  if (sw_state_layer_begin (j->st, &tmp, err) < 0)
    return -1;
  fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "open %s", tmp);
  sw_extract_opts_init (&o);
  o.digest = j->layer->digest;
  o.diff_id = j->diff_id;
  o.whiteouts = SW_WHITEOUT_OVERLAY; /* the snapshot is an overlay lower dir */
  o.metadata_only = j->skeleton;
  o.keep_data = skeleton_keep;
  if (sw_layer_extract_sink (&sink, fd, &o, NULL, err) < 0)
    goto fail;
  if (sw_blob_get_sink (j->r, j->repo, j->layer->digest, j->layer->size, &sink, err) < 0)
    goto fail;
  if (j->skeleton)
    {
      if (sw_state_layer_commit (j->st, skel_id, tmp, err) < 0)
        return -1;
      return sw_state_layer_path (j->st, skel_id, &j->skel_dir, err);
    }
  return sw_state_layer_commit (j->st, j->diff_id, tmp, err);
fail:
  sw_rmtree (tmp, NULL);
  return sw_error_wrap (err, "extracting layer %s", j->layer->digest);
}

/* A job of the pool: the error stays with its layer, so the first layer's error (in
 * order) is the one reported, whatever finished first. */
static int
extract_job_run (void *arg, sw_error **err)
{
  struct extract_job *j = arg;
  extract_one (j, &j->err);
  return 0;
}

/* Fetch every layer of b, full (into the layer store) or as skeletons (into the session),
 * on a bounded pool as wide as the registry session's parallelism: each job spends its
 * time waiting on the network or the disk, and an image with many layers must not mean
 * as many threads and connections. */
static int
fetch_layers (sw_registry *r, sw_state *st, sw_base_image *b, bool skeleton, char ***out, sw_error **err)
{
  size_t n = b->manifest->n_layers;
  struct extract_job *jobs = sw_xcalloc (n + 1, sizeof *jobs);
  size_t width = (size_t) sw_registry_parallel (r);
  char **dirs = NULL;
  int ret = 0;

  if (width > n)
    width = n;
  if (n > 0)
    {
      sw_workers *pool = sw_workers_new (width, width);
      for (size_t i = 0; i < n; i++)
        {
          jobs[i] = (struct extract_job){ r, st, b->repo, &b->manifest->layers[i], b->config->diff_ids[i], skeleton,
                                          NULL, NULL };
          sw_workers_submit (pool, extract_job_run, &jobs[i], NULL);
        }
      sw_workers_wait (pool, NULL);
      sw_workers_free (pool);
    }
  for (size_t i = 0; i < n; i++)
    if (jobs[i].err)
      {
        if (ret == 0)
          sw_error_move (err, &jobs[i].err);
        sw_error_free (jobs[i].err);
        ret = -1;
      }
  dirs = sw_xcalloc (n + 1, sizeof *dirs);
  for (size_t i = 0; i < n; i++)
    {
      if (skeleton)
        dirs[i] = steal_pointer (&jobs[i].skel_dir);
      else if (ret == 0)
        ret = sw_state_layer_path (st, b->config->diff_ids[i], &dirs[i], err);
      free (jobs[i].skel_dir);
    }
  free (jobs);
  if (ret < 0)
    {
      sw_strlist_free (dirs); /* the skeletons made are whole: they stay in the store */
      return sw_error_wrap (err, "%s", b->name);
    }
  *out = dirs;
  return 0;
}

bool
sw_base_stored (sw_state *st, const sw_base_image *b)
{
  for (size_t i = 0; i < b->manifest->n_layers; i++)
    if (!sw_state_layer_has (st, b->config->diff_ids[i]))
      return false;
  return true;
}

bool
sw_base_shape_stored (sw_state *st, const sw_base_image *b)
{
  for (size_t i = 0; i < b->manifest->n_layers; i++)
    {
      char id[SW_DIGEST_BUFSZ];
      skeleton_id (b->config->diff_ids[i], id);
      if (!sw_state_layer_has (st, id))
        return false;
    }
  return true;
}

int
sw_base_extract (sw_registry *r, sw_state *st, sw_base_image *b, sw_error **err)
{
  if (b->lowers)
    return 0;
  if (sw_base_stored (st, b))
    {
      /* an earlier build extracted it: no pool, no request */
      size_t n = b->manifest->n_layers;
      char **dirs = sw_xcalloc (n + 1, sizeof *dirs);
      for (size_t i = 0; i < n; i++)
        if (sw_state_layer_path (st, b->config->diff_ids[i], &dirs[i], err) < 0)
          {
            sw_strlist_free (dirs);
            return sw_error_wrap (err, "%s", b->name);
          }
      b->lowers = dirs;
      return 0;
    }
  return fetch_layers (r, st, b, false, &b->lowers, err);
}

int
sw_base_skeleton (sw_registry *r, sw_state *st, sw_base_image *b, sw_error **err)
{
  if (b->skeleton || b->lowers)
    return 0;
  /* the whole tree is in the store already: it serves as its own shape, and reading
   * nothing beats fetching the layers again for their metadata */
  if (sw_base_stored (st, b))
    return sw_base_extract (r, st, b, err);
  return fetch_layers (r, st, b, true, &b->skeleton, err);
}

void
sw_base_free (sw_base_image *b)
{
  if (b == NULL)
    return;
  free (b->name);
  free (b->resolved);
  sw_ref_free (b->repo);
  free (b->manifest_media_type);
  sw_manifest_free (b->manifest);
  sw_image_config_free (b->config);
  sw_strlist_free (b->lowers);
  sw_strlist_free (b->skeleton); /* its dirs are the layer store's */
  free (b);
}
