/* exec/remote_cache.c — --cache-from / --cache-to: the build cache outside the state dir,
 * for a runner that starts with an empty one.
 *
 * Format (docs/CACHE.md): one OCI image manifest per cache, whose config (media type
 * application/vnd.slipway.cache.config.v1+json) maps step keys to the layer each made:
 *   {"entries":{"KEY":{"created":…,"diffID":…,"digest":…,"mediaType":…,"packOpts":…,"size":…}},
 *    "schemaVersion":1}
 * and whose layers are those layers' blobs — ordinary image layers, so a registry keeps
 * them alive and they can be mounted into an image's repository.  The same manifest lives
 * in a registry (type=registry,ref=R: the tag R) or in an OCI layout directory
 * (type=local: index.json names it); this file holds the format and the flow, the
 * transports (exec/cache_transport.h) only move bytes.
 *
 * Export merges with what the location holds already (entries of other keys are kept:
 * an amd64 and an arm64 job share one cache without erasing each other).  A directory is
 * read, merged and written under a lock; a registry has no lock nor compare-and-swap, so
 * after writing, the exporter reads the ref again and, when an export that raced with it
 * dropped some of its entries, merges and writes again (a few rounds, bounded).
 *
 * Import is lazy: a local miss looks the key up in the --cache-from sources, in order; a
 * hit's tree is extracted into the layer store (and recorded locally) only when a later
 * step reads it; until then its blob stays where it is and goes from there wherever the
 * build puts it (a push: registry-to-registry; an OCI output or another cache: streamed).
 * The blob is checked whole before the hit counts (verify_lazy).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "common/cleanup.h"
#include "common/csv.h"
#include "common/log.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "exec/cache.h"
#include "exec/cache_transport.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "layers/layers.h"
#include "registry/ops.h"
#include "registry/sink.h"
#include "store/stepcache.h"

#define SW_MT_CACHE_CONFIG "application/vnd.slipway.cache.config.v1+json"
#define CONFIG_LIMIT (16u << 20)
/* a registry export that keeps finding its entries dropped by racing exports gives up
 * (with a warning) after this many writes */
#define PUBLISH_ROUNDS 6

typedef struct remote_entry
{
  char key[65];
  sw_step_record rec;
  sw_cache_loc *loc;
} remote_entry;

struct sw_remote_cache
{
  sw_cache_loc **from;  /* --cache-from sources, in order */
  size_t n_from;
  pthread_mutex_t load_lock; /* stages look keys up at once: the refs are read once */
  bool loaded;
  remote_entry *entries;
  size_t n_entries;
  sw_cache_loc *to;     /* --cache-to, or NULL */
  bool mode_max;
  bool ignore_error;
  /* --cache-to compression= / compression-level=: the cache's own layers are packed so
   * (when that differs from the image's, they are other blobs than the image's layers) */
  bool compression_set;
  sw_compression compression;
  int compression_level; /* -1: the compressor's default, or the image's when no compression= */
  /* the uploads queued while the build ran (sw_cache_remote_layer_built) */
  pthread_mutex_t uploads_lock;
  struct cache_upload *uploads;
  atomic_bool upload_failed; /* the later ones need not run: the export fails (or warns) */
};

/* One layer's cache upload, run in the workers' background lane; the export takes the
 * blob it put in place (done) instead of putting it again. */
typedef struct cache_upload
{
  sw_engine *e;
  sw_layer *l;
  bool done;
  char diff_id[SW_DIGEST_BUFSZ];
  char digest[SW_DIGEST_BUFSZ];
  char media_type[96];
  int64_t size;
  struct cache_upload *next;
} cache_upload;

/* ---- specs ---- */

static void
loc_free (sw_cache_loc *loc)
{
  if (loc == NULL)
    return;
  if (loc->t->unlock)
    loc->t->unlock (loc);
  sw_ref_free (loc->ref);
  free (loc->name);
  free (loc->dir);
  free (loc->digest);
  free (loc);
}

/* "--cache-from user/app:cache" is type=registry,ref=user/app:cache (as buildx). */
static int
parse_spec (const char *flag, const char *spec, bool export, sw_cache_loc **out, sw_error **err)
{
  cleanup_free char *type = sw_csv_get (spec, "type");
  cleanup_free char *r = sw_csv_get (spec, "ref");
  sw_cache_loc *loc = sw_xzalloc (sizeof *loc);
  loc->lock_fd = -1;
  *out = loc;
  if (type == NULL && strchr (spec, '=') == NULL)
    r = sw_xstrdup (spec);
  else if (type == NULL || (strcmp (type, "registry") != 0 && strcmp (type, "local") != 0))
    {
      loc->t = &sw_cache_registry_transport;
      return sw_error_make (err, ENOTSUP, "not supported yet: %s type=%s", flag, type ? type : "(none)");
    }
  if (type && strcmp (type, "local") == 0)
    {
      const char *k = export ? "dest" : "src";
      loc->t = &sw_cache_local_transport;
      loc->dir = sw_csv_get (spec, k);
      loc->digest = export ? NULL : sw_csv_get (spec, "digest");
      if (loc->dir == NULL || *loc->dir == '\0')
        return sw_error_make (err, EINVAL, "invalid %s \"%s\": type=local needs %s=DIRECTORY", flag, spec, k);
      if (loc->digest && sw_digest_validate (loc->digest, err) < 0)
        return sw_error_wrap (err, "invalid %s \"%s\"", flag, spec);
      loc->name = sw_xasprintf ("type=local,%s=%s", k, loc->dir);
      return 0;
    }
  loc->t = &sw_cache_registry_transport;
  if (r == NULL || *r == '\0')
    return sw_error_make (err, EINVAL, "invalid %s \"%s\": type=registry needs ref=REPOSITORY[:TAG]", flag, spec);
  if (sw_ref_parse (r, &loc->ref, err) < 0)
    return sw_error_wrap (err, "invalid %s \"%s\"", flag, spec);
  loc->name = sw_xasprintf ("%s/%s:%s", loc->ref->domain, loc->ref->path, loc->ref->tag ? loc->ref->tag : "latest");
  return 0;
}

/* compression=gzip|zstd|uncompressed[,compression-level=N], as an image output takes them */
static int
parse_compression (struct sw_remote_cache *rc, const char *spec, sw_error **err)
{
  cleanup_free char *c = sw_csv_get (spec, "compression");
  cleanup_free char *level = sw_csv_get (spec, "compression-level");
  rc->compression_level = -1;
  if (c)
    {
      if (strcmp (c, "uncompressed") == 0)
        rc->compression = SW_COMPRESSION_NONE;
      else if (strcmp (c, "gzip") == 0)
        rc->compression = SW_COMPRESSION_GZIP;
      else if (strcmp (c, "zstd") == 0)
        rc->compression = SW_COMPRESSION_ZSTD;
      else
        return sw_error_make (err, EINVAL, "invalid compression \"%s\" in --cache-to \"%s\": use gzip, zstd or uncompressed",
                              c, spec);
      rc->compression_set = true;
    }
  if (level)
    {
      char *end;
      long v = strtol (level, &end, 10);
      if (*level == '\0' || *end || v < 0 || v > 22)
        return sw_error_make (err, EINVAL, "invalid compression-level \"%s\" in --cache-to \"%s\": use 0 to 22", level,
                              spec);
      rc->compression_level = (int) v;
    }
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
  pthread_mutex_init (&rc->uploads_lock, NULL);
  e->remote = rc;
  for (size_t i = 0; i < b->cache_from.n; i++)
    {
      sw_cache_loc *loc;
      int r = parse_spec ("--cache-from", b->cache_from.v[i], false, &loc, err);
      rc->from = sw_xreallocarray (rc->from, rc->n_from + 1, sizeof *rc->from);
      rc->from[rc->n_from++] = loc;
      if (r < 0)
        return -1;
    }
  if (b->cache_to.n > 1)
    return sw_error_make (err, ENOTSUP, "not supported yet: several --cache-to");
  if (b->cache_to.n == 1)
    {
      const char *spec = b->cache_to.v[0];
      cleanup_free char *mode = sw_csv_get (spec, "mode");
      cleanup_free char *ie = sw_csv_get (spec, "ignore-error");
      if (parse_spec ("--cache-to", spec, true, &rc->to, err) < 0)
        return -1;
      if (mode && strcmp (mode, "min") && strcmp (mode, "max"))
        return sw_error_make (err, EINVAL, "invalid mode \"%s\" in --cache-to \"%s\": use min or max", mode, spec);
      rc->mode_max = mode && strcmp (mode, "max") == 0;
      rc->ignore_error = ie && (strcmp (ie, "true") == 0 || strcmp (ie, "1") == 0);
      if (parse_compression (rc, spec, err) < 0)
        return -1;
      static const char *const known[] = { "type",           "ref",          "dest",        "mode",
                                           "ignore-error",   "oci-mediatypes", "image-manifest", "compression",
                                           "compression-level" };
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
    loc_free (rc->from[i]);
  free (rc->from);
  free (rc->entries);
  loc_free (rc->to);
  for (cache_upload *u = rc->uploads, *next; u; u = next)
    {
      next = u->next;
      free (u);
    }
  pthread_mutex_destroy (&rc->uploads_lock);
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

static json_t *
entry_json (const char *diff_id, const char *digest, const char *media_type, const char *opts, const char *created,
            int64_t size)
{
  return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I}", "diffID", diff_id, "digest", digest, "mediaType", media_type,
                    "packOpts", opts, "created", created, "size", (json_int_t) size);
}

/* Read loc's cache config and add its entries to *v (the first source wins for a key).
 * 0 when there is no cache there (a first run), 1 when read. */
static int
load_entries (sw_engine *e, sw_cache_loc *loc, remote_entry **v, size_t *n, sw_error **err)
{
  cleanup_buf sw_buf cfg = SW_BUF_INIT;
  int has = loc->t->read_config (e, loc, &cfg, err);
  if (has <= 0)
    return has;
  json_error_t je;
  json_t *root = json_loadb (cfg.data, cfg.len, 0, &je);
  json_t *entries = json_object_get (root, "entries");
  if (!json_is_object (entries))
    {
      json_decref (root);
      return sw_error_make (err, EINVAL, "the cache config of %s has no \"entries\" object", loc->name);
    }
  const char *key;
  json_t *o;
  json_object_foreach (entries, key, o)
    {
      bool seen = false;
      for (size_t i = 0; i < *n && !seen; i++)
        seen = strcmp ((*v)[i].key, key) == 0;
      if (seen || strlen (key) != SW_STEP_KEY_HEX)
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
      re->loc = loc;
    }
  json_decref (root);
  return 1;
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
      int r = load_entries (e, rc->from[i], &rc->entries, &rc->n_entries, &err);
      if (r < 0)
        sw_warn ("--cache-from %s: %s (not used)", rc->from[i]->name, sw_error_message (err));
      else if (r == 0 && rc->from[i]->t == &sw_cache_local_transport)
        sw_warn ("--cache-from %s: no cache there (not used)", rc->from[i]->name);
    }
out:
  pthread_mutex_unlock (&rc->load_lock);
}

/* ---- import ---- */

static remote_entry *
find_entry (sw_engine *e, const char *key)
{
  struct sw_remote_cache *rc = e->remote;
  if (rc == NULL || rc->n_from == 0)
    return NULL;
  load_sources (e);
  for (size_t i = 0; i < rc->n_entries; i++)
    if (strcmp (rc->entries[i].key, key) == 0)
      return sw_digest_validate (rc->entries[i].rec.diff_id, NULL) == 0
                 && sw_digest_validate (rc->entries[i].rec.blob_digest, NULL) == 0
               ? &rc->entries[i]
               : NULL;
  return NULL;
}

/* Extract the blob loc has for rec into the layer store (unless it is there already) and
 * record it locally under key.  The blob's digest and diffID are checked while it is
 * extracted: nothing is kept from a corrupted one. */
static int
extract_entry (sw_engine *e, sw_cache_loc *loc, const char *key, const sw_step_record *entry, sw_error **err)
{
  cleanup_free char *tmp = NULL, *path = NULL;
  cleanup_close int fd = -1;
  if (!sw_state_layer_has (e->state, entry->diff_id))
    {
      sw_extract_opts o;
      sw_sink sink = { 0 };
      if (sw_state_layer_begin (e->state, &tmp, err) < 0)
        return -1;
      fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      sw_extract_opts_init (&o);
      o.digest = entry->blob_digest;
      o.diff_id = entry->diff_id;
      o.whiteouts = SW_WHITEOUT_OVERLAY;
      if (fd < 0)
        sw_error_errno (err, "open %s", tmp);
      if (fd < 0 || sw_layer_extract_sink (&sink, fd, &o, NULL, err) < 0
          || loc->t->get_blob (e, loc, entry->blob_digest, entry->blob_size, &sink, err) < 0
          || sw_state_layer_commit (e->state, entry->diff_id, tmp, err) < 0)
        {
          sw_rmtree (tmp, NULL);
          return -1;
        }
    }
  sw_step_record rec = *entry;
  if (loc->ref) /* from a registry, a later push mounts the blob from there */
    snprintf (rec.pushed_to, sizeof rec.pushed_to, "%s/%s", loc->ref->domain, loc->ref->path);
  if (sw_state_layer_path (e->state, rec.diff_id, &path, err) < 0 || sw_step_stamp (path, rec.stamp, err) < 0
      || sw_step_put (e->state, key, &rec, err) < 0)
    return -1;
  return 0;
}

int
sw_cache_remote_fetch (sw_engine *e, const char *key)
{
  remote_entry *re = find_entry (e, key);
  cleanup_error sw_error *err = NULL;
  if (re == NULL)
    return 0;
  if (extract_entry (e, re->loc, key, &re->rec, &err) == 0)
    return 1;
  sw_warn ("--cache-from %s: layer %s: %s (the step runs instead)", re->loc->name, re->rec.blob_digest,
           sw_error_message (err));
  return 0;
}

/* Make sure the hit's blob is whole before the step is reported CACHED — a bad blob is
 * then a miss and the step runs, never a wrong image nor a failed push.  When the build
 * pushes, a registry's blob goes to the target repository now, registry-to-registry (a
 * mount within one registry, else a download streamed into an upload: the download is
 * hashed on the way and the target checks the digest when the upload completes), so the
 * check costs nothing the push would not; otherwise the blob is read and hashed. */
static int
verify_lazy (sw_engine *e, remote_entry *re, sw_error **err)
{
  sw_sink check;
  if (re->loc->t == &sw_cache_registry_transport && e->push_repo)
    return sw_blob_copy (e->reg, e->push_repo, re->loc->ref, re->rec.blob_digest, re->rec.blob_size, err);
  sw_sink_null (&check);
  return re->loc->t->get_blob (e, re->loc, re->rec.blob_digest, re->rec.blob_size, &check, err);
}

int
sw_cache_remote_lazy (sw_engine *e, const char *key, sw_step_record *rec, sw_cache_loc **src)
{
  remote_entry *re = find_entry (e, key);
  char opts[64];
  cleanup_error sw_error *err = NULL;

  /* a blob packed with other options than this build's is not the image's layer: that
   * hit is extracted (sw_cache_remote_fetch) and packed again */
  snprintf (opts, sizeof opts, "%d/%d/%lld", (int) e->compression, e->compression_level, (long long) e->epoch);
  if (re == NULL || strcmp (re->rec.blob_opts, opts) != 0)
    return 0;
  if (verify_lazy (e, re, &err) < 0)
    {
      sw_warn ("--cache-from %s: layer %s: %s (the step runs instead)", re->loc->name, re->rec.blob_digest,
               sw_error_message (err));
      return -1;
    }
  *rec = re->rec;
  if (re->loc->ref) /* a later export copies the blob from there */
    snprintf (rec->pushed_to, sizeof rec->pushed_to, "%s/%s", re->loc->ref->domain, re->loc->ref->path);
  *src = re->loc;
  return 1;
}

int
sw_cache_remote_materialize (sw_engine *e, sw_layer *l, sw_error **err)
{
  sw_step_record rec = { 0 };
  snprintf (rec.diff_id, sizeof rec.diff_id, "%s", l->diff_id);
  snprintf (rec.blob_digest, sizeof rec.blob_digest, "%s", l->digest);
  snprintf (rec.blob_media_type, sizeof rec.blob_media_type, "%s", l->media_type);
  snprintf (rec.blob_opts, sizeof rec.blob_opts, "%d/%d/%lld", (int) e->compression, e->compression_level,
            (long long) e->epoch);
  snprintf (rec.created, sizeof rec.created, "%s", l->created);
  snprintf (rec.created_by, sizeof rec.created_by, "%s", l->label ? l->label : "");
  rec.blob_size = l->size;
  if (extract_entry (e, l->cache_src, l->cache_key, &rec, err) < 0)
    return sw_error_wrap (err, "extracting the cached layer of %s from --cache-from %s", l->label,
                          l->cache_src->name);
  return sw_state_layer_path (e->state, l->diff_id, &l->dir, err);
}

int
sw_cache_remote_blob (sw_engine *e, const sw_layer *l, sw_sink *sink, sw_error **err)
{
  return l->cache_src->t->get_blob (e, l->cache_src, l->digest, l->size, sink, err);
}

/* ---- export ---- */

/* How the cache's layers are packed: the image's options, with --cache-to's compression
 * and level when it has them. */
static void
cache_pack_opts (sw_engine *e, sw_pack_opts *o)
{
  struct sw_remote_cache *rc = e->remote;
  sw_engine_pack_opts (e, o);
  if (rc == NULL || rc->to == NULL)
    return;
  if (rc->compression_set)
    {
      o->compression = rc->compression;
      o->level = rc->compression_level;
    }
  else if (rc->compression_level >= 0)
    o->level = rc->compression_level;
}

/* Are the cache's layers other blobs than the image's? */
static bool
own_compression (sw_engine *e)
{
  sw_pack_opts o;
  cache_pack_opts (e, &o);
  return o.compression != e->compression || o.level != e->compression_level;
}

/* The cache's pack options as its entries' packOpts say them. */
static void
cache_opts_string (sw_engine *e, char *buf, size_t n)
{
  sw_pack_opts o;
  cache_pack_opts (e, &o);
  snprintf (buf, n, "%d/%d/%lld", (int) o.compression, o.level, (long long) e->epoch);
}

int
sw_cache_pack_layer (sw_engine *e, sw_layer *l, sw_sink *sink, sw_error **err)
{
  sw_pack_opts o;
  sw_layer_info info;
  if (l->dir == NULL)
    {
      sw_sink_abort (sink);
      return sw_error_make (err, ENOENT, "the layer of %s is no longer on disk", l->label);
    }
  cache_pack_opts (e, &o);
  if (sw_layer_pack_path (l->dir, &o, sink, &info, err) < 0)
    return -1;
  if (l->digest[0])
    {
      /* known already (and maybe read by the image's export right now): only checked */
      if (strcmp (l->digest, info.digest) != 0)
        return sw_error_make (err, EIO, "packing %s again gave %s, not %s", l->dir, info.digest, l->digest);
      return 0;
    }
  sw_layer_record_pack (l, &info, o.compression);
  if (own_compression (e))
    {
      /* the next export of this layer knows the blob before packing: it asks the
       * destination first */
      char opts[64];
      sw_pack_record pr = { 0 };
      cleanup_error sw_error *perr = NULL;
      snprintf (pr.digest, sizeof pr.digest, "%s", l->digest);
      snprintf (pr.media_type, sizeof pr.media_type, "%s", l->media_type);
      pr.size = l->size;
      cache_opts_string (e, opts, sizeof opts);
      if (sw_pack_put (e->state, l->diff_id, opts, &pr, &perr) < 0)
        sw_debug ("cache: not recording the blob of %s: %s", l->label, sw_error_message (perr));
    }
  return 0;
}

/* sw_blob_push's maker over sw_cache_pack_layer. */
struct cache_pack
{
  sw_engine *e;
  sw_layer *l;
};

static int
cache_pack_pass (void *ud, sw_sink *sink, sw_blob_pass pass, sw_error **err)
{
  struct cache_pack *p = ud;
  sw_sink s = *sink;
  *sink = (sw_sink){ 0 };
  return sw_cache_pack_layer (p->e, p->l, &s, err);
}

static bool
in_results (const sw_layer *l, const sw_image_result *results, size_t n)
{
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < results[i].n_layers; k++)
      if (results[i].layers[k] == l)
        return true;
  return false;
}

/* Make sure the cache's location has l's blob as the cache stores it, and fill *blob with
 * its descriptor (diff_id, digest, media_type, size). */
static int
put_entry (sw_engine *e, sw_layer *l, sw_layer *blob, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  sw_cache_loc *to = rc->to;

  if (!own_compression (e))
    {
      if (to->t->put_layer (e, to, l, err) < 0)
        return -1;
      *blob = *l;
      return 0;
    }
  /* With a compression of its own, the cache's blob is the layer's tree packed so: a
   * stand-in for the layer that knows only its tree (the image's blob, wherever it was
   * pushed or whatever cache it came from, is not that blob).  When an earlier export
   * recorded what that packing gives, the destination may have it already: then nothing
   * is packed nor sent (nor a lazy hit's tree extracted). */
  char opts[64];
  sw_pack_record pr;
  *blob = *l;
  blob->digest[0] = blob->media_type[0] = '\0';
  blob->size = 0;
  blob->pushed = false;
  blob->pushed_to = NULL;
  blob->cache_src = NULL;
  cache_opts_string (e, opts, sizeof opts);
  if (l->diff_id[0] && sw_pack_get (e->state, l->diff_id, opts, &pr) == 1 && to->t->has_blob (e, to, pr.digest, pr.size))
    {
      snprintf (blob->digest, sizeof blob->digest, "%s", pr.digest);
      snprintf (blob->media_type, sizeof blob->media_type, "%s", pr.media_type);
      blob->size = pr.size;
      return 0;
    }
  if (l->dir == NULL && l->cache_src && sw_cache_remote_materialize (e, l, err) < 0)
    return -1;
  blob->dir = l->dir;
  return to->t->put_layer (e, to, blob, err);
}

static void
upload_release (void *arg)
{
  cache_upload *u = arg;
  u->l->cache_upload = false; /* done, or dropped: the disk gate may take its dir */
}

static int
upload_job (void *arg, sw_error **err)
{
  cache_upload *u = arg;
  struct sw_remote_cache *rc = u->e->remote;
  sw_layer blob;

  if (rc->upload_failed)
    return 0; /* the export fails with the first failure already */
  if (put_entry (u->e, u->l, &blob, err) < 0)
    {
      rc->upload_failed = true;
      return sw_error_wrap (err, "uploading the layer of %s", u->l->label ? u->l->label : "a step");
    }
  snprintf (u->diff_id, sizeof u->diff_id, "%s", blob.diff_id);
  snprintf (u->digest, sizeof u->digest, "%s", blob.digest);
  snprintf (u->media_type, sizeof u->media_type, "%s", blob.media_type);
  u->size = blob.size;
  u->done = true;
  sw_debug ("--cache-to %s: the layer of %s is in place (%s) while the build goes on", rc->to->name, u->l->label,
            u->digest);
  return 0;
}

void
sw_cache_remote_layer_built (sw_engine *e, sw_layer *l, bool exported)
{
  struct sw_remote_cache *rc = e->remote;
  if (rc == NULL || rc->to == NULL || l->cache_key[0] == '\0' || (!rc->mode_max && !exported))
    return;
  cache_upload *u = sw_xzalloc (sizeof *u);
  u->e = e;
  u->l = l;
  pthread_mutex_lock (&rc->uploads_lock);
  u->next = rc->uploads;
  rc->uploads = u;
  pthread_mutex_unlock (&rc->uploads_lock);
  l->cache_upload = true;
  sw_workers_submit_background (e->workers, upload_job, u, upload_release);
}

static const cache_upload *
upload_of (struct sw_remote_cache *rc, const sw_layer *l)
{
  for (const cache_upload *u = rc->uploads; u; u = u->next)
    if (u->l == l)
      return u;
  return NULL;
}

/* The entries this build exports (their blobs put in place first: by the uploads queued
 * while it ran, else now), as a JSON object. */
static int
our_entries (sw_engine *e, const sw_image_result *results, size_t n_results, json_t *entries, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  char opts[64];
  cache_opts_string (e, opts, sizeof opts);
  if (sw_workers_wait_background (e->workers, err) < 0)
    return -1;
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    {
      sw_layer *l = e->hub->all_layers[i];
      if (!l->built || l->cache_key[0] == '\0' || (!rc->mode_max && !in_results (l, results, n_results)))
        continue;
      const cache_upload *u = upload_of (rc, l);
      sw_layer blob;
      if (u && u->done)
        {
          memset (&blob, 0, sizeof blob);
          snprintf (blob.diff_id, sizeof blob.diff_id, "%s", u->diff_id);
          snprintf (blob.digest, sizeof blob.digest, "%s", u->digest);
          snprintf (blob.media_type, sizeof blob.media_type, "%s", u->media_type);
          blob.size = u->size;
        }
      else if (put_entry (e, l, &blob, err) < 0)
        return -1;
      /* a built layer keeps its step's own time (its history entry's), as the cache's does */
      json_object_set_new (entries, l->cache_key,
                           entry_json (blob.diff_id, blob.digest, blob.media_type, opts,
                                       *l->created ? l->created : (e->epoch_str ? e->epoch_str : e->created),
                                       blob.size));
    }
  return 0;
}

static int
cmp_keys (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The cache config (ours, then the location's entries of other keys) and its manifest,
 * which lists every blob the entries name, once. */
static void
make_cache (json_t *ours, const remote_entry *v, size_t n, sw_buf *cfg, sw_buf *man)
{
  json_t *entries = json_deep_copy (ours);
  for (size_t i = 0; i < n; i++)
    if (json_object_get (entries, v[i].key) == NULL)
      json_object_set_new (entries, v[i].key,
                           entry_json (v[i].rec.diff_id, v[i].rec.blob_digest, v[i].rec.blob_media_type,
                                       v[i].rec.blob_opts, v[i].rec.created, v[i].rec.blob_size));
  json_t *root = json_pack ("{s:i, s:O}", "schemaVersion", 1, "entries", entries);
  char *text = json_dumps (root, JSON_COMPACT | JSON_SORT_KEYS);
  sw_buf_puts (cfg, text);
  free (text);

  char cfg_digest[SW_DIGEST_BUFSZ];
  sw_manifest m = { 0 };
  sw_digest_bytes (cfg->data, cfg->len, cfg_digest);
  m.media_type = SW_MT_OCI_MANIFEST;
  m.config.media_type = SW_MT_CACHE_CONFIG;
  m.config.digest = cfg_digest;
  m.config.size = (int64_t) cfg->len;
  m.layers = sw_xcalloc (json_object_size (entries) + 1, sizeof *m.layers);
  /* in key order (json_dumps sorted them; iterate the same way for a stable manifest) */
  const char **keys = sw_xcalloc (json_object_size (entries) + 1, sizeof *keys);
  size_t nk = 0;
  const char *k;
  json_t *o;
  json_object_foreach (entries, k, o)
    keys[nk++] = k;
  qsort (keys, nk, sizeof *keys, cmp_keys);
  for (size_t i = 0; i < nk; i++)
    {
      o = json_object_get (entries, keys[i]);
      const char *d = json_string_value (json_object_get (o, "digest"));
      bool dup = false;
      for (size_t j = 0; j < m.n_layers && !dup && d; j++)
        dup = strcmp (m.layers[j].digest, d) == 0;
      if (dup || d == NULL)
        continue;
      m.layers[m.n_layers].media_type = (char *) json_string_value (json_object_get (o, "mediaType"));
      m.layers[m.n_layers].digest = (char *) d;
      m.layers[m.n_layers].size = json_integer_value (json_object_get (o, "size"));
      m.n_layers++;
    }
  sw_manifest_serialize (&m, man);
  free (keys);
  free (m.layers);
  json_decref (entries);
  json_decref (root);
}

static bool
has_all (json_t *ours, const remote_entry *v, size_t n)
{
  const char *k;
  json_t *o;
  json_object_foreach (ours, k, o)
    {
      bool found = false;
      for (size_t i = 0; i < n && !found; i++)
        found = strcmp (v[i].key, k) == 0;
      if (!found)
        return false;
    }
  return true;
}

/* The pause before reading a registry cache again: an export that read the ref before
 * our write writes its own after a read-to-write gap about as long as ours (took_ms: a
 * few requests), so twice that (at least 150 ms), plus a random part so that two racing
 * exporters do not keep meeting. */
static void
settle (long took_ms)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  unsigned seed = (unsigned) now.tv_nsec ^ ((unsigned) getpid () << 16);
  long ms = (2 * took_ms > 150 ? 2 * took_ms : 150) + (long) (rand_r (&seed) % 500);
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
}

/* Read, merge, write — and, where the write is not atomic with the read, read again and
 * write again while entries of ours are missing. */
static int
publish (sw_engine *e, json_t *ours, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  sw_cache_loc *to = rc->to;

  for (int round = 0;; round++)
    {
      remote_entry *v = NULL;
      size_t n = 0;
      cleanup_buf sw_buf cfg = SW_BUF_INIT;
      cleanup_buf sw_buf man = SW_BUF_INIT;
      cleanup_error sw_error *rerr = NULL;
      int r;
      double t0 = sw_engine_now ();

      if (to->t->lock && to->t->lock (to, err) < 0)
        return -1;
      if (load_entries (e, to, &v, &n, &rerr) < 0)
        {
          /* an unreadable old cache is replaced, not merged */
          sw_warn ("--cache-to %s: %s (its entries are not kept)", to->name, sw_error_message (rerr));
          free (v);
          v = NULL;
          n = 0;
        }
      if ((round > 0 && has_all (ours, v, n)) || round == PUBLISH_ROUNDS)
        {
          if (to->t->unlock)
            to->t->unlock (to);
          if (round == PUBLISH_ROUNDS && !has_all (ours, v, n))
            sw_warn ("--cache-to %s: other exports to the same ref kept replacing it; %d of this build's entries "
                     "may be missing from it",
                     to->name, (int) json_object_size (ours));
          free (v);
          return 0;
        }
      if (round > 0)
        sw_debug ("--cache-to %s: an export that ran at the same time dropped entries of ours; merging again",
                  to->name);
      make_cache (ours, v, n, &cfg, &man);
      free (v);
      r = to->t->publish (e, to, &cfg, &man, err);
      if (to->t->unlock)
        to->t->unlock (to);
      if (r < 0)
        return -1;
      if (to->t->atomic)
        return 0;
      settle ((long) ((sw_engine_now () - t0) * 1000));
    }
}

static int
export_cache (sw_engine *e, const sw_image_result *results, size_t n_results, sw_error **err)
{
  json_t *ours = json_object ();
  int r = our_entries (e, results, n_results, ours, err);
  if (r == 0)
    r = publish (e, ours, err);
  json_decref (ours);
  return r;
}

int
sw_cache_remote_export (sw_engine *e, const sw_image_result *results, size_t n_results, sw_error **err)
{
  struct sw_remote_cache *rc = e->remote;
  if (rc == NULL || rc->to == NULL)
    return 0;
  int id = sw_engine_vertex_start (e, "exporting cache to %s", rc->to->t == &sw_cache_local_transport ? "client directory" : "registry");
  double t0 = sw_engine_now ();
  cleanup_error sw_error *xerr = NULL;
  int r = export_cache (e, results, n_results, &xerr);
  if (r < 0 && rc->ignore_error)
    {
      sw_warn ("--cache-to %s failed (ignore-error=true): %s", rc->to->name, sw_error_message (xerr));
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

/* ---- the registry transport: the cache is the manifest tagged ref ---- */

static int
registry_read_config (sw_engine *e, sw_cache_loc *loc, sw_buf *cfg, sw_error **err)
{
  sw_fetched f = { 0 };
  sw_manifest *m = NULL;
  char digest[SW_DIGEST_BUFSZ];
  int r = -1;

  cleanup_error sw_error *head_err = NULL;
  if (sw_manifest_head (e->reg, loc->ref, digest, &head_err) == 0)
    return 0;
  if (sw_manifest_get (e->reg, loc->ref, &f, err) < 0 || sw_manifest_parse (f.body.data, f.body.len, &m, err) < 0)
    goto out;
  if (m->config.media_type == NULL || strcmp (m->config.media_type, SW_MT_CACHE_CONFIG) != 0)
    {
      sw_error_make (err, EINVAL, "%s is not a slipway cache (config type %s)", loc->name,
                     m->config.media_type ? m->config.media_type : "none");
      goto out;
    }
  if (sw_blob_get_small (e->reg, loc->ref, m->config.digest, CONFIG_LIMIT, cfg, err) < 0)
    goto out;
  r = 1;
out:
  sw_manifest_free (m);
  sw_fetched_clear (&f);
  return r;
}

static int
registry_get_blob (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size, sw_sink *sink, sw_error **err)
{
  return sw_blob_get_sink (e->reg, loc->ref, digest, size, sink, err);
}

/* A mount or registry-to-registry copy when the image's push (or an earlier one) put the
 * blob in a repository, else a pack of the layer's dir straight into an upload. */
static int
registry_put_layer (sw_engine *e, sw_cache_loc *loc, sw_layer *l, sw_error **err)
{
  if (l->digest[0] && l->pushed && e->push_repo)
    return sw_blob_copy (e->reg, loc->ref, e->push_repo, l->digest, l->size, err);
  if (l->digest[0] && l->pushed_to && *l->pushed_to)
    {
      cleanup_free char *spec = sw_xasprintf ("%s:x", l->pushed_to);
      sw_ref *from = NULL;
      int r = -1;
      if (sw_ref_parse (spec, &from, err) == 0)
        r = sw_blob_copy (e->reg, loc->ref, from, l->digest, l->size, err);
      sw_ref_free (from);
      if (r == 0)
        return 0;
      sw_error_free (*err);
      *err = NULL;
    }
  if (l->cache_src)
    {
      sw_sink sink;
      if (sw_registry_upload_sink (e->reg, loc->ref, &sink, NULL, err) < 0)
        return -1;
      return sw_cache_remote_blob (e, l, &sink, err);
    }
  /* packing is deterministic: sw_blob_push may make the blob again (registry/sink.h) */
  struct cache_pack pass = { e, l };
  sw_blob_result res;
  return sw_blob_push (e->reg, loc->ref, cache_pack_pass, &pass, &res, err);
}

static bool
registry_has_blob (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size)
{
  cleanup_error sw_error *ignored = NULL;
  int64_t got = -1;
  return sw_blob_exists (e->reg, loc->ref, digest, &got, &ignored) == 1 && (got < 0 || got == size);
}

static int
registry_publish (sw_engine *e, sw_cache_loc *loc, const sw_buf *cfg, const sw_buf *man, sw_error **err)
{
  char got[SW_DIGEST_BUFSZ];
  if (sw_blob_put_small (e->reg, loc->ref, cfg->data, cfg->len, got, err) < 0)
    return -1;
  return sw_manifest_put (e->reg, loc->ref, loc->ref->tag ? loc->ref->tag : "latest", SW_MT_OCI_MANIFEST, man->data,
                          man->len, err);
}

const sw_cache_transport sw_cache_registry_transport = {
  .type = "registry",
  .atomic = false,
  .read_config = registry_read_config,
  .get_blob = registry_get_blob,
  .put_layer = registry_put_layer,
  .has_blob = registry_has_blob,
  .publish = registry_publish,
};
