/* exec/cache.c — step keys, cache hits and the records written after a build.
 *
 * See exec/cache.h for the flow and docs/CACHE.md for the key's definition.  The
 * persistent side (records, stamps) is store/stepcache.h; a cached layer's tree is a
 * layer-store dir (store/state.h), named by its diffID like an extracted base layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "copy/copy.h"
#include "copy/dockerignore.h"
#include "exec/cache.h"
#include "layers/layers.h"
#include "registry/ref.h"
#include "store/stepcache.h"

/* The version of the key's definition: bump it when the definition changes, and every
 * old record becomes a miss instead of a wrong hit. */
#define KEY_VERSION "slipway-step-key-v1"

/* ---- the key builder: SHA-256 over (name, value) pairs, each length-prefixed ---- */

typedef struct ckey
{
  sw_sha256 *h;
} ckey;

static void
ck_put (ckey *k, const char *name, const void *v, size_t n)
{
  uint64_t len[2] = { strlen (name), n };
  sw_sha256_update (k->h, len, sizeof len);
  sw_sha256_update (k->h, name, len[0]);
  if (n)
    sw_sha256_update (k->h, v, n);
}

static void
ck_str (ckey *k, const char *name, const char *v)
{
  /* NULL and "" differ: a flag not given is not a flag given empty */
  if (v == NULL)
    ck_put (k, name, "\xff", 1);
  else
    ck_put (k, name, v, strlen (v) + 1);
}

static void
ck_num (ckey *k, const char *name, long long v)
{
  char buf[32];
  snprintf (buf, sizeof buf, "%lld", v);
  ck_str (k, name, buf);
}

static void
ck_strv (ckey *k, const char *name, char *const *v)
{
  size_t n = 0;
  for (; v && v[n]; n++)
    ck_str (k, name, v[n]);
  ck_num (k, name, (long long) n);
}

static void
ck_begin (ckey *k, const char *kind, const char *parent)
{
  k->h = sw_sha256_new ();
  ck_str (k, "version", KEY_VERSION);
  ck_str (k, "parent", parent);
  ck_str (k, "kind", kind);
}

static void
ck_final (ckey *k, char key[65])
{
  char d[SW_DIGEST_BUFSZ];
  sw_sha256_final (k->h, d);
  sw_sha256_free (k->h);
  k->h = NULL;
  snprintf (key, 65, "%s", sw_digest_hex (d));
}

static void
ck_abandon (ckey *k, char key[65])
{
  sw_sha256_free (k->h);
  k->h = NULL;
  key[0] = '\0';
}

/* ---- content hashes: a tree's layer tar with every mtime set to 0 ---- */

/* Path, type, mode, owner, link target, xattrs and content of everything under path —
 * exactly what a layer tar records — but not mtimes: a fresh checkout hashes the same.
 * A regular file hashes as a tree holding it would (name aside). */
static int
content_hash (const char *path, bool overlay, char out[SW_DIGEST_BUFSZ], sw_error **err)
{
  struct stat sb;
  if (lstat (path, &sb) < 0)
    return sw_error_errno (err, "hashing %s for the build cache", path);
  if (S_ISDIR (sb.st_mode))
    {
      sw_pack_opts o;
      sw_layer_info info;
      sw_sink sink;
      sw_pack_opts_init (&o);
      o.compression = SW_COMPRESSION_NONE;
      o.overlay = overlay;
      o.source_date_epoch = 0; /* mtimes out of the hash */
      o.async = false;
      sw_sink_null (&sink);
      if (sw_layer_pack_path (path, &o, &sink, &info, err) < 0)
        return sw_error_wrap (err, "hashing %s for the build cache", path);
      snprintf (out, SW_DIGEST_BUFSZ, "%s", info.diff_id);
      return 0;
    }
  sw_sha256 *h = sw_sha256_new ();
  char meta[96];
  int n = snprintf (meta, sizeof meta, "%o %ju:%ju %lld", (unsigned) sb.st_mode, (uintmax_t) sb.st_uid,
                    (uintmax_t) sb.st_gid, (long long) sb.st_size);
  sw_sha256_update (h, meta, (size_t) n + 1);
  if (S_ISLNK (sb.st_mode))
    {
      char target[4096];
      ssize_t tn = readlink (path, target, sizeof target);
      if (tn > 0)
        sw_sha256_update (h, target, (size_t) tn);
    }
  else if (S_ISREG (sb.st_mode))
    {
      cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      char buf[65536];
      ssize_t r;
      if (fd < 0)
        {
          sw_sha256_free (h);
          return sw_error_errno (err, "hashing %s for the build cache", path);
        }
      while ((r = read (fd, buf, sizeof buf)) > 0)
        sw_sha256_update (h, buf, (size_t) r);
      if (r < 0)
        {
          sw_sha256_free (h);
          return sw_error_errno (err, "hashing %s for the build cache", path);
        }
    }
  sw_sha256_final (h, out);
  sw_sha256_free (h);
  return 0;
}

/* ---- keys ---- */

void
sw_cache_stage_root (sw_engine *e, sw_stage *s)
{
  ckey k;
  cleanup_free char *platform = sw_platform_format (&s->platform);

  if (s->base_stage)
    {
      /* a stage FROM a stage continues its chain */
      memcpy (s->key, s->base_stage->key, sizeof s->key);
      return;
    }
  ck_begin (&k, "FROM", NULL);
  ck_str (&k, "platform", platform);
  ck_str (&k, "base", s->base ? s->base->manifest_digest : "scratch");
  /* SOURCE_DATE_EPOCH clamps the layer's mtimes, so it changes its diffID */
  ck_num (&k, "epoch", e->epoch);
  ck_final (&k, s->key);
}

static bool
inside (const char *root, const char *path)
{
  size_t n = strlen (root);
  return strncmp (root, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A bind mount's content: a stage's key, or the hash of the context files it shows.
 * *ok false: the mount's source cannot be keyed (an image), so neither can the step. */
static int
key_bind_source (sw_engine *e, ckey *k, const sw_df_run_mount *m, bool *ok, sw_error **err)
{
  const char *root = e->context;
  cleanup_free char *named_abs = NULL;

  if (m->from)
    {
      long idx = sw_plan_find_stage (e->plan, m->from);
      const char *named = sw_engine_build_context (e, m->from);
      if (idx >= 0 && e->stages[idx].done)
        {
          if (e->stages[idx].key[0] == '\0')
            *ok = false;
          ck_str (k, "from-stage", e->stages[idx].key);
          return 0;
        }
      if (named == NULL || strncmp (named, "docker-image://", 15) == 0)
        {
          *ok = false; /* an image by name: its content is not known before it is pulled */
          return 0;
        }
      named_abs = realpath (named, NULL);
      if (named_abs == NULL)
        {
          *ok = false;
          return 0;
        }
      root = named_abs;
    }
  cleanup_free char *clean = sw_path_clean (m->source && *m->source ? m->source : "/");
  cleanup_free char *joined = sw_xasprintf ("%s/%s", root, clean[0] == '/' ? clean + 1 : clean);
  cleanup_free char *real = realpath (joined, NULL);
  if (real == NULL || !inside (root, real))
    {
      *ok = false; /* the step will fail (or do something odd) anyway: no record of it */
      return 0;
    }
  char h[SW_DIGEST_BUFSZ];
  if (content_hash (real, false, h, err) < 0)
    return -1;
  ck_str (k, "content", h);
  return 0;
}

int
sw_cache_key_run (sw_engine *e, sw_stage *s, const sw_df_instr *in, char *const *argv, const char *history,
                  char key[65], sw_error **err)
{
  ckey k;
  cleanup_strv char **env = NULL;
  bool ok = true;

  key[0] = '\0';
  if (s->key[0] == '\0')
    return 0;
  ck_begin (&k, "RUN", s->key);
  ck_str (&k, "history", history);
  ck_strv (&k, "argv", argv);
  env = sw_plan_env_list (s->env);
  ck_strv (&k, "env", env);
  ck_str (&k, "user", s->config->user);
  ck_str (&k, "workdir", s->config->working_dir);
  ck_str (&k, "network", in->network && *in->network ? in->network : e->b->network);
  ck_strv (&k, "add-host", e->b->add_hosts.v);
  for (size_t i = 0; i < in->n_mounts && in->run_mounts; i++)
    {
      const sw_df_run_mount *m = &in->run_mounts[i];
      ck_num (&k, "mount", m->type);
      ck_str (&k, "from", m->from);
      ck_str (&k, "source", m->source);
      ck_str (&k, "target", m->target);
      ck_str (&k, "id", m->id);
      ck_str (&k, "env", m->env);
      ck_num (&k, "readonly", m->readonly);
      ck_num (&k, "required", m->required);
      ck_num (&k, "size", m->size_limit);
      ck_num (&k, "sharing", m->sharing);
      ck_num (&k, "mode", m->has_mode ? (long long) m->mode : -1);
      ck_num (&k, "uid", m->has_uid ? (long long) m->uid : -1);
      ck_num (&k, "gid", m->has_gid ? (long long) m->gid : -1);
      /* a secret's value and a cache mount's content never enter the key */
      if (m->type == SW_DF_MOUNT_BIND && key_bind_source (e, &k, m, &ok, err) < 0)
        {
          ck_abandon (&k, key);
          return -1;
        }
    }
  if (!ok)
    {
      ck_abandon (&k, key);
      return 0;
    }
  ck_final (&k, key);
  return 0;
}

void
sw_cache_key_workdir (sw_engine *e, sw_stage *s, const char *workdir, char key[65])
{
  ckey k;
  (void) e;
  key[0] = '\0';
  if (s->key[0] == '\0')
    return;
  ck_begin (&k, "WORKDIR", s->key);
  ck_str (&k, "workdir", workdir);
  ck_str (&k, "user", s->config->user);
  ck_final (&k, key);
}

int
sw_cache_key_copy (sw_engine *e, sw_stage *s, const sw_copy_opts *o, const sw_df_instr *in, const char *history,
                   const char *src_key, const char *content_dir, char key[65], sw_error **err)
{
  ckey k;
  (void) e;
  key[0] = '\0';
  if (s->key[0] == '\0' || (src_key && !*src_key))
    return 0;
  ck_begin (&k, o->add ? "ADD" : "COPY", s->key);
  ck_str (&k, "history", history);
  for (size_t i = 0; i < o->n_srcs; i++)
    ck_str (&k, "src", o->srcs[i]);
  ck_str (&k, "dest", o->dest);
  ck_str (&k, "chown", o->chown);
  ck_str (&k, "chmod", o->chmod);
  for (size_t i = 0; i < o->n_excludes; i++)
    ck_str (&k, "exclude", o->excludes[i]);
  ck_num (&k, "parents", o->parents);
  ck_str (&k, "checksum", o->checksum);
  ck_num (&k, "unpack", o->unpack);
  ck_num (&k, "link", in->link);
  ck_str (&k, "workdir", o->workdir);
  ck_str (&k, "from", in->from);
  for (size_t i = 0; i < o->n_heredocs; i++)
    {
      ck_str (&k, "heredoc", o->heredocs[i].name);
      ck_put (&k, "data", o->heredocs[i].data, o->heredocs[i].len);
    }
  if (src_key)
    ck_str (&k, "from-stage", src_key);
  else
    {
      char h[SW_DIGEST_BUFSZ];
      if (content_hash (content_dir, true, h, err) < 0)
        {
          ck_abandon (&k, key);
          return -1;
        }
      ck_str (&k, "content", h);
    }
  ck_final (&k, key);
  return 0;
}

/* ---- hits ---- */

static void
pack_opts_string (sw_engine *e, char *out, size_t n)
{
  snprintf (out, n, "%d/%d/%lld", (int) e->compression, e->compression_level, (long long) e->epoch);
}

/* The diffID a directory packs to with the build's options: its tar, uncompressed, hashed
 * and thrown away. */
static int
tree_diff_id (sw_engine *e, const char *dir, char out[SW_DIGEST_BUFSZ], sw_error **err)
{
  sw_pack_opts o;
  sw_layer_info info;
  sw_sink sink;
  sw_engine_pack_opts (e, &o);
  o.compression = SW_COMPRESSION_NONE;
  o.async = false;
  sw_sink_null (&sink);
  if (sw_layer_pack_path (dir, &o, &sink, &info, err) < 0)
    return -1;
  snprintf (out, SW_DIGEST_BUFSZ, "%s", info.diff_id);
  return 0;
}

/* Is the stored layer dir still what was recorded?  The stamp says "untouched" in a
 * directory walk; when it differs (someone wrote in the store), the tree is packed again
 * and its diffID compared. */
static bool
layer_intact (sw_engine *e, const char *dir, sw_step_record *rec)
{
  char stamp[SW_DIGEST_BUFSZ];
  cleanup_error sw_error *err = NULL;

  if (sw_step_stamp (dir, stamp, &err) < 0)
    return false;
  if (*rec->stamp && strcmp (stamp, rec->stamp) == 0)
    return true;

  char diff_id[SW_DIGEST_BUFSZ];
  if (tree_diff_id (e, dir, diff_id, &err) < 0 || strcmp (diff_id, rec->diff_id) != 0)
    return false;
  snprintf (rec->stamp, sizeof rec->stamp, "%s", stamp);
  return true;
}

static int cache_try (sw_engine *e, sw_stage *s, const char *key, const char *history, const char *label,
                      int vertex);

int
sw_cache_try (sw_engine *e, sw_stage *s, const char *key, const char *history, const char *label, int vertex)
{
  if (cache_try (e, s, key, history, label, vertex))
    return 1;
  sw_engine_stage_missed (e, s);
  return 0;
}

static int
cache_try (sw_engine *e, sw_stage *s, const char *key, const char *history, const char *label, int vertex)
{
  sw_step_record rec;
  cleanup_free char *dir = NULL;
  char opts[64];
  struct sw_cache_loc *lazy = NULL; /* a hit whose tree stays in a --cache-from source */

  if (key[0] == '\0' || s->no_cache)
    return 0;
  if (sw_step_get (e->state, key, &rec) != 1)
    {
      int r = sw_cache_remote_lazy (e, key, &rec, &lazy);
      if (r < 0 || (r == 0 && (sw_cache_remote_fetch (e, key) != 1 || sw_step_get (e->state, key, &rec) != 1)))
        return 0;
    }
  if (!lazy
      && (sw_state_layer_path (e->state, rec.diff_id, &dir, NULL) < 0 || !sw_state_layer_has (e->state, rec.diff_id)))
    {
      sw_step_drop (e->state, key); /* its layer was evicted */
      return 0;
    }
  if (!lazy && !layer_intact (e, dir, &rec))
    {
      sw_warn ("cache: the stored layer of \"%s\" (%s) changed on disk; running the step again", label, dir);
      sw_step_drop (e->state, key);
      return 0;
    }

  sw_layer proto = { 0 };
  proto.dir = dir;
  proto.label = (char *) label;
  proto.pushed_to = rec.pushed_to;
  proto.cache_src = lazy;
  snprintf (proto.diff_id, sizeof proto.diff_id, "%s", rec.diff_id);
  snprintf (proto.created, sizeof proto.created, "%s", rec.created);
  snprintf (proto.cache_key, sizeof proto.cache_key, "%s", key);
  pack_opts_string (e, opts, sizeof opts);
  if (*rec.blob_digest && strcmp (rec.blob_opts, opts) == 0)
    {
      snprintf (proto.digest, sizeof proto.digest, "%s", rec.blob_digest);
      snprintf (proto.media_type, sizeof proto.media_type, "%s", rec.blob_media_type);
      proto.size = rec.blob_size;
    }
  sw_engine_add_cached_layer (e, s, &proto);

  sw_commit_history (&s->commit, history, true);
  if (e->epoch_str == NULL && *rec.created)
    {
      sw_history *h = &s->config->history[s->config->n_history - 1];
      free (h->created);
      h->created = sw_xstrdup (rec.created); /* the time the layer was made, as BuildKit keeps it */
    }
  memcpy (s->key, key, sizeof s->key);

  sw_event ev = { .kind = SW_EVENT_STEP_CACHED, .id = vertex };
  sw_build_emit (e->b, &ev);
  return 1;
}

/* ---- records, after the build ---- */

static int
layer_diff_id (sw_engine *e, sw_layer *l, sw_error **err)
{
  if (l->diff_id[0])
    return 0;
  return tree_diff_id (e, l->dir, l->diff_id, err);
}

static int
commit_layer (sw_engine *e, sw_layer *l, sw_error **err)
{
  sw_step_record rec = { 0 }, old;
  cleanup_free char *path = NULL;
  char opts[64];
  bool had = sw_step_get (e->state, l->cache_key, &old) == 1;

  if (!l->from_cache)
    {
      if (layer_diff_id (e, l, err) < 0 || sw_state_layer_path (e->state, l->diff_id, &path, err) < 0
          || sw_state_layer_commit (e->state, l->diff_id, l->dir, err) < 0)
        return -1;
      free (l->dir);
      l->dir = sw_xstrdup (path);
    }
  snprintf (rec.diff_id, sizeof rec.diff_id, "%s", l->diff_id);
  snprintf (rec.created, sizeof rec.created, "%s",
            e->epoch_str && !l->from_cache ? e->epoch_str : *l->created ? l->created : e->created);
  snprintf (rec.created_by, sizeof rec.created_by, "%s", l->label ? l->label : "");
  pack_opts_string (e, opts, sizeof opts);
  if (l->digest[0] && l->packed)
    {
      snprintf (rec.blob_opts, sizeof rec.blob_opts, "%s", opts);
      snprintf (rec.blob_digest, sizeof rec.blob_digest, "%s", l->digest);
      snprintf (rec.blob_media_type, sizeof rec.blob_media_type, "%s", l->media_type);
      rec.blob_size = l->size;
    }
  else if (had && strcmp (old.diff_id, rec.diff_id) == 0)
    {
      /* keep what an earlier build learnt about the blob */
      memcpy (rec.blob_opts, old.blob_opts, sizeof rec.blob_opts);
      memcpy (rec.blob_digest, old.blob_digest, sizeof rec.blob_digest);
      memcpy (rec.blob_media_type, old.blob_media_type, sizeof rec.blob_media_type);
      rec.blob_size = old.blob_size;
    }
  if (l->pushed && e->push_repo)
    {
      cleanup_free char *repo = sw_xasprintf ("%s/%s", e->push_repo->domain, e->push_repo->path);
      snprintf (rec.pushed_to, sizeof rec.pushed_to, "%s", repo);
    }
  else if (l->pushed_to)
    snprintf (rec.pushed_to, sizeof rec.pushed_to, "%s", l->pushed_to);
  if (had && l->from_cache && strcmp (old.blob_digest, rec.blob_digest) == 0
      && strcmp (old.blob_opts, rec.blob_opts) == 0 && strcmp (old.pushed_to, rec.pushed_to) == 0)
    return 0; /* nothing new to say */
  if (sw_step_stamp (l->dir, rec.stamp, err) < 0)
    return -1;
  return sw_step_put (e->state, l->cache_key, &rec, err);
}

void
sw_cache_commit (sw_engine *e)
{
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    {
      sw_layer *l = e->hub->all_layers[i];
      cleanup_error sw_error *err = NULL;
      if (!l->built || l->cache_key[0] == '\0' || l->dir == NULL)
        continue;
      if (commit_layer (e, l, &err) < 0)
        sw_warn ("cache: not keeping the layer of %s: %s", l->label ? l->label : "a step", sw_error_message (err));
    }
}
