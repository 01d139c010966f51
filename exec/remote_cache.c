/* exec/remote_cache.c — --cache-from / --cache-to type=registry: the build cache in a
 * registry, for a runner that starts with an empty state dir.
 *
 * Format (docs/CACHE.md): one OCI image manifest per cache ref, whose config (media type
 * application/vnd.slipway.cache.config.v1+json) maps step keys to the layer each made:
 *   {"entries":{"KEY":{"created":…,"diffID":…,"digest":…,"mediaType":…,"packOpts":…,"size":…}},
 *    "schemaVersion":1}
 * and whose layers are those layers' blobs — ordinary image layers, so the registry keeps
 * them alive and they can be mounted into an image's repository.  Export merges with what
 * the ref holds already (entries of other keys are kept: an amd64 and an arm64 job share
 * one ref without erasing each other).
 *
 * Import is lazy: a local miss looks the key up in the --cache-from refs, in order; a hit
 * fetches the blob into the layer store and records it locally, and from then on it is a
 * local hit (and its push is a cross-repository mount from the cache repository).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/cleanup.h"
#include "common/csv.h"
#include "common/log.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "exec/cache.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "layers/layers.h"
#include "registry/ops.h"
#include "registry/sink.h"
#include "store/stepcache.h"

#define SW_MT_CACHE_CONFIG "application/vnd.slipway.cache.config.v1+json"
#define CONFIG_LIMIT (16u << 20)

typedef struct remote_entry
{
  char key[65];
  sw_step_record rec;
  const sw_ref *repo;
} remote_entry;

struct sw_remote_cache
{
  sw_ref **from;        /* --cache-from refs, in order */
  size_t n_from;
  pthread_mutex_t load_lock; /* stages look keys up at once: the refs are read once */
  bool loaded;
  remote_entry *entries;
  size_t n_entries;
  sw_ref *to;           /* --cache-to ref, or NULL */
  bool mode_max;
  bool ignore_error;
};

/* ---- specs ---- */

static int
parse_spec (const char *flag, const char *spec, sw_ref **ref, sw_error **err)
{
  cleanup_free char *type = sw_csv_get (spec, "type");
  cleanup_free char *r = sw_csv_get (spec, "ref");
  if (type == NULL && strchr (spec, '=') == NULL)
    r = sw_xstrdup (spec); /* "--cache-from user/app:cache" is type=registry,ref= */
  else if (type == NULL || strcmp (type, "registry") != 0)
    return sw_error_make (err, ENOTSUP, "not supported yet: %s type=%s", flag, type ? type : "(none)");
  if (r == NULL || *r == '\0')
    return sw_error_make (err, EINVAL, "invalid %s \"%s\": type=registry needs ref=REPOSITORY[:TAG]", flag, spec);
  if (sw_ref_parse (r, ref, err) < 0)
    return sw_error_wrap (err, "invalid %s \"%s\"", flag, spec);
  return 0;
}

int
sw_cache_remote_open (sw_engine *e, sw_error **err)
{
  sw_build *b = e->b;
  if (b->cache_from.n == 0 && b->cache_to.n == 0)
    return 0;
  struct sw_remote_cache *rc = sw_xzalloc (sizeof *rc);
  pthread_mutex_init (&rc->load_lock, NULL);
  e->remote = rc;
  for (size_t i = 0; i < b->cache_from.n; i++)
    {
      sw_ref *ref;
      if (parse_spec ("--cache-from", b->cache_from.v[i], &ref, err) < 0)
        return -1;
      rc->from = sw_xreallocarray (rc->from, rc->n_from + 1, sizeof *rc->from);
      rc->from[rc->n_from++] = ref;
    }
  if (b->cache_to.n > 1)
    return sw_error_make (err, ENOTSUP, "not supported yet: several --cache-to");
  if (b->cache_to.n == 1)
    {
      const char *spec = b->cache_to.v[0];
      cleanup_free char *mode = sw_csv_get (spec, "mode");
      cleanup_free char *ie = sw_csv_get (spec, "ignore-error");
      if (parse_spec ("--cache-to", spec, &rc->to, err) < 0)
        return -1;
      if (mode && strcmp (mode, "min") && strcmp (mode, "max"))
        return sw_error_make (err, EINVAL, "invalid mode \"%s\" in --cache-to \"%s\": use min or max", mode, spec);
      rc->mode_max = mode && strcmp (mode, "max") == 0;
      rc->ignore_error = ie && (strcmp (ie, "true") == 0 || strcmp (ie, "1") == 0);
      static const char *const known[] = { "type", "ref", "mode", "ignore-error", "oci-mediatypes", "image-manifest" };
      cleanup_free char *copy = sw_xstrdup (spec);
      char *save = NULL;
      for (char *p = strtok_r (copy, ",", &save); p && strchr (spec, '='); p = strtok_r (NULL, ",", &save))
        {
          char *eq = strchr (p, '=');
          bool ok = false;
          if (eq)
            *eq = '\0';
          for (size_t k = 0; k < sizeof known / sizeof *known; k++)
            ok |= strcmp (p, known[k]) == 0;
          if (!ok)
            return sw_error_make (err, ENOTSUP, "not supported yet: --cache-to %s=… (in \"%s\")", p, spec);
        }
    }
  return 0;
}

void
sw_cache_remote_free (sw_engine *e)
{
  struct sw_remote_cache *rc = e->remote;
  if (rc == NULL)
    return;
  for (size_t i = 0; i < rc->n_from; i++)
    sw_ref_free (rc->from[i]);
  free (rc->from);
  free (rc->entries);
  sw_ref_free (rc->to);
  pthread_mutex_destroy (&rc->load_lock);
  free (rc);
  e->remote = NULL;
}

/* ---- the cache config ---- */

static void
copy_str (char *dst, size_t n, json_t *o, const char *k)
{
  const char *v = json_string_value (json_object_get (o, k));
  snprintf (dst, n, "%s", v ? v : "");
}

/* Fetch ref's cache config and add its entries (first source wins for a key).  0 when the
 * ref does not exist (a first run). */
static int
load_ref (sw_engine *e, const sw_ref *ref, remote_entry **v, size_t *n, sw_error **err)
{
  sw_fetched f = { 0 };
  sw_manifest *m = NULL;
  cleanup_buf sw_buf cfg = SW_BUF_INIT;
  json_t *root = NULL;
  char digest[SW_DIGEST_BUFSZ];
  int r = -1;

  cleanup_error sw_error *head_err = NULL;
  int has = sw_manifest_head (e->reg, ref, digest, &head_err);
  if (has == 0)
    return 0;
  if (sw_manifest_get (e->reg, ref, &f, err) < 0 || sw_manifest_parse (f.body.data, f.body.len, &m, err) < 0)
    goto out;
  if (m->config.media_type == NULL || strcmp (m->config.media_type, SW_MT_CACHE_CONFIG) != 0)
    {
      sw_error_make (err, EINVAL, "%s/%s is not a slipway cache (config type %s)", ref->domain, ref->path,
                     m->config.media_type ? m->config.media_type : "none");
      goto out;
    }
  if (sw_blob_get_small (e->reg, ref, m->config.digest, CONFIG_LIMIT, &cfg, err) < 0)
    goto out;
  json_error_t je;
  root = json_loadb (cfg.data, cfg.len, 0, &je);
  json_t *entries = json_object_get (root, "entries");
  if (!json_is_object (entries))
    {
      sw_error_make (err, EINVAL, "cache config of %s: no \"entries\" object", ref->path);
      goto out;
    }
  const char *key;
  json_t *o;
  json_object_foreach (entries, key, o)
    {
      bool seen = false;
      for (size_t i = 0; i < *n && !seen; i++)
        seen = strcmp ((*v)[i].key, key) == 0;
      if (seen || strlen (key) != 64)
        continue;
      *v = sw_xreallocarray (*v, *n + 1, sizeof **v);
      remote_entry *re = &(*v)[(*n)++];
      memset (re, 0, sizeof *re);
      snprintf (re->key, sizeof re->key, "%s", key);
      copy_str (re->rec.diff_id, sizeof re->rec.diff_id, o, "diffID");
      copy_str (re->rec.blob_digest, sizeof re->rec.blob_digest, o, "digest");
      copy_str (re->rec.blob_media_type, sizeof re->rec.blob_media_type, o, "mediaType");
      copy_str (re->rec.blob_opts, sizeof re->rec.blob_opts, o, "packOpts");
      copy_str (re->rec.created, sizeof re->rec.created, o, "created");
      re->rec.blob_size = json_integer_value (json_object_get (o, "size"));
      re->repo = ref;
    }
  r = 0;
out:
  json_decref (root);
  sw_manifest_free (m);
  sw_fetched_clear (&f);
  return r;
}

static void
load_sources (sw_engine *e)
{
  struct sw_remote_cache *rc = e->remote;
  pthread_mutex_lock (&rc->load_lock);
  if (rc->loaded)
    goto out;
  rc->loaded = true;
  for (size_t i = 0; i < rc->n_from; i++)
    {
      cleanup_error sw_error *err = NULL;
      if (load_ref (e, rc->from[i], &rc->entries, &rc->n_entries, &err) < 0)
        sw_warn ("--cache-from %s/%s: %s (not used)", rc->from[i]->domain, rc->from[i]->path, sw_error_message (err));
    }
out:
  pthread_mutex_unlock (&rc->load_lock);
}

/* ---- import ---- */

int
sw_cache_remote_fetch (sw_engine *e, const char *key)
{
  struct sw_remote_cache *rc = e->remote;
  remote_entry *re = NULL;

  if (rc == NULL || rc->n_from == 0)
    return 0;
  load_sources (e);
  for (size_t i = 0; i < rc->n_entries && !re; i++)
    if (strcmp (rc->entries[i].key, key) == 0)
      re = &rc->entries[i];
  if (re == NULL || sw_digest_validate (re->rec.diff_id, NULL) < 0 || sw_digest_validate (re->rec.blob_digest, NULL) < 0)
    return 0;

  cleanup_error sw_error *err = NULL;
  cleanup_free char *tmp = NULL, *path = NULL;
  cleanup_close int fd = -1;
  if (!sw_state_layer_has (e->state, re->rec.diff_id))
    {
      sw_extract_opts o;
      sw_sink sink = { 0 };
      if (sw_state_layer_begin (e->state, &tmp, &err) < 0)
        goto fail;
      fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        {
          sw_error_errno (&err, "open %s", tmp);
          goto fail;
        }
      sw_extract_opts_init (&o);
      o.digest = re->rec.blob_digest;
      o.diff_id = re->rec.diff_id; /* checked while the bytes go by: a corrupted blob fails here */
      o.whiteouts = SW_WHITEOUT_OVERLAY;
      if (sw_layer_extract_sink (&sink, fd, &o, NULL, &err) < 0
          || sw_blob_get_sink (e->reg, re->repo, re->rec.blob_digest, re->rec.blob_size, &sink, &err) < 0
          || sw_state_layer_commit (e->state, re->rec.diff_id, tmp, &err) < 0)
        goto fail;
    }
  sw_step_record rec = re->rec;
  snprintf (rec.pushed_to, sizeof rec.pushed_to, "%s/%s", re->repo->domain, re->repo->path);
  if (sw_state_layer_path (e->state, rec.diff_id, &path, &err) < 0 || sw_step_stamp (path, rec.stamp, &err) < 0
      || sw_step_put (e->state, key, &rec, &err) < 0)
    goto fail;
  return 1;
fail:
  if (tmp)
    sw_rmtree (tmp, NULL);
  sw_warn ("--cache-from %s/%s: layer %s: %s (the step runs instead)", re->repo->domain, re->repo->path,
           re->rec.blob_digest, sw_error_message (err));
  return 0;
}

/* ---- export ---- */

static bool
in_results (const sw_layer *l, const sw_image_result *results, size_t n)
{
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < results[i].n_layers; k++)
      if (results[i].layers[k] == l)
        return true;
  return false;
}

/* Make sure the cache repository has l's blob: a mount or registry-to-registry copy when
 * the image's push made it, else a pack of its dir (which also gives its digest). */
static int
export_blob (sw_engine *e, sw_layer *l, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  if (l->digest[0] && l->pushed && e->push_repo)
    return sw_blob_copy (e->reg, rc->to, e->push_repo, l->digest, l->size, err);
  if (l->digest[0] && l->pushed_to && *l->pushed_to)
    {
      cleanup_free char *spec = sw_xasprintf ("%s:x", l->pushed_to);
      sw_ref *from = NULL;
      int r = -1;
      if (sw_ref_parse (spec, &from, err) == 0)
        r = sw_blob_copy (e->reg, rc->to, from, l->digest, l->size, err);
      sw_ref_free (from);
      if (r == 0)
        return 0;
      sw_error_free (*err);
      *err = NULL;
    }
  if (l->dir == NULL)
    return sw_error_make (err, ENOENT, "the layer of %s is no longer on disk", l->label);
  sw_pack_opts o;
  sw_layer_info info;
  sw_sink sink;
  sw_engine_pack_opts (e, &o);
  if (sw_registry_upload_sink (e->reg, rc->to, &sink, NULL, err) < 0
      || sw_layer_pack_path (l->dir, &o, &sink, &info, err) < 0)
    return -1;
  if (l->digest[0] && strcmp (l->digest, info.digest) != 0)
    return sw_error_make (err, EIO, "packing %s again gave %s, not %s", l->dir, info.digest, l->digest);
  snprintf (l->digest, sizeof l->digest, "%s", info.digest);
  snprintf (l->diff_id, sizeof l->diff_id, "%s", info.diff_id);
  l->size = (int64_t) info.size;
  snprintf (l->media_type, sizeof l->media_type, "%s",
            o.compression == SW_COMPRESSION_ZSTD   ? SW_MT_OCI_LAYER_ZSTD
            : o.compression == SW_COMPRESSION_NONE ? SW_MT_OCI_LAYER
                                                   : SW_MT_OCI_LAYER_GZIP);
  return 0;
}

static int
export_cache (sw_engine *e, const sw_image_result *results, size_t n_results, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  remote_entry *v = NULL;
  size_t n = 0;
  json_t *entries = json_object ();
  cleanup_buf sw_buf cfg = SW_BUF_INIT;
  cleanup_buf sw_buf man = SW_BUF_INIT;
  sw_manifest m = { 0 };
  char opts[64], cfg_digest[SW_DIGEST_BUFSZ], got[SW_DIGEST_BUFSZ], man_digest[SW_DIGEST_BUFSZ];
  int r = -1;

  snprintf (opts, sizeof opts, "%d/%d/%lld", (int) e->compression, e->compression_level, (long long) e->epoch);
  /* ours first (a key made again replaces the old entry), then what the ref holds */
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    {
      sw_layer *l = e->hub->all_layers[i];
      if (!l->built || l->cache_key[0] == '\0' || (!rc->mode_max && !in_results (l, results, n_results)))
        continue;
      if (export_blob (e, l, err) < 0)
        goto out;
      json_t *o = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "diffID", l->diff_id, "digest", l->digest, "mediaType",
                             l->media_type, "packOpts", opts, "created",
                             *l->created ? l->created : (e->epoch_str ? e->epoch_str : e->created), "size",
                             (json_int_t) l->size);
      json_object_set_new (entries, l->cache_key, o);
    }
  if (load_ref (e, rc->to, &v, &n, err) < 0)
    {
      /* an unreadable old cache is replaced, not merged */
      sw_warn ("--cache-to: %s (its entries are not kept)", sw_error_message (*err));
      sw_error_free (*err);
      *err = NULL;
    }
  for (size_t i = 0; i < n; i++)
    if (json_object_get (entries, v[i].key) == NULL)
      json_object_set_new (entries, v[i].key,
                           json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "diffID", v[i].rec.diff_id, "digest",
                                      v[i].rec.blob_digest, "mediaType", v[i].rec.blob_media_type, "packOpts",
                                      v[i].rec.blob_opts, "created", v[i].rec.created, "size",
                                      (json_int_t) v[i].rec.blob_size));
  json_t *root = json_pack ("{s:i, s:o}", "schemaVersion", 1, "entries", entries);
  entries = NULL;
  char *text = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref (root);
  sw_buf_puts (&cfg, text);
  free (text);
  if (sw_blob_put_small (e->reg, rc->to, cfg.data, cfg.len, got, err) < 0)
    goto out;
  sw_digest_bytes (cfg.data, cfg.len, cfg_digest);

  /* the manifest lists every blob the entries name, once */
  {
    json_t *all = NULL;
    json_error_t je;
    all = json_loadb (cfg.data, cfg.len, 0, &je);
    json_t *ents = json_object_get (all, "entries");
    const char *k;
    json_t *o;
    m.media_type = SW_MT_OCI_MANIFEST;
    m.config.media_type = SW_MT_CACHE_CONFIG;
    m.config.digest = cfg_digest;
    m.config.size = (int64_t) cfg.len;
    m.layers = sw_xcalloc (json_object_size (ents) + 1, sizeof *m.layers);
    json_object_foreach (ents, k, o)
      {
        const char *d = json_string_value (json_object_get (o, "digest"));
        bool dup = false;
        for (size_t i = 0; i < m.n_layers && !dup; i++)
          dup = strcmp (m.layers[i].digest, d) == 0;
        if (dup || d == NULL)
          continue;
        m.layers[m.n_layers].media_type = sw_xstrdup (json_string_value (json_object_get (o, "mediaType")));
        m.layers[m.n_layers].digest = sw_xstrdup (d);
        m.layers[m.n_layers].size = json_integer_value (json_object_get (o, "size"));
        m.n_layers++;
      }
    json_decref (all);
  }
  sw_manifest_serialize (&m, &man);
  sw_digest_bytes (man.data, man.len, man_digest);
  r = sw_manifest_put (e->reg, rc->to, rc->to->tag ? rc->to->tag : "latest", SW_MT_OCI_MANIFEST, man.data, man.len,
                       err);
out:
  for (size_t i = 0; i < m.n_layers; i++)
    {
      free (m.layers[i].media_type);
      free (m.layers[i].digest);
    }
  free (m.layers);
  json_decref (entries);
  free (v);
  return r;
}

int
sw_cache_remote_export (sw_engine *e, const sw_image_result *results, size_t n_results, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  if (rc == NULL || rc->to == NULL)
    return 0;
  int id = sw_engine_vertex_start (e, "exporting cache to registry");
  double t0 = sw_engine_now ();
  cleanup_error sw_error *xerr = NULL;
  int r = export_cache (e, results, n_results, &xerr);
  if (r < 0 && rc->ignore_error)
    {
      sw_warn ("--cache-to %s/%s failed (ignore-error=true): %s", rc->to->domain, rc->to->path,
               sw_error_message (xerr));
      r = 0;
    }
  sw_engine_vertex_done (e, id, t0, r < 0 ? xerr : NULL);
  if (r < 0)
    {
      sw_error_move (err, &xerr);
      return sw_error_wrap (err, "exporting the cache (--cache-to; ignore-error=true makes this a warning)");
    }
  return 0;
}
