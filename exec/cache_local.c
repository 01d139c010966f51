/* exec/cache_local.c — --cache-to type=local,dest=DIR and --cache-from type=local,src=DIR:
 * the build cache in an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/…), as buildx's local cache is, for CI caches that save and restore a
 * directory (actions/cache).  index.json names the one cache manifest of the format
 * (exec/remote_cache.c, docs/CACHE.md); `digest=` on import names another manifest of the
 * layout instead.
 *
 * Writes are all-or-nothing: a blob goes to a temporary name and is renamed to its digest
 * once complete (a blob already there is not written again: the layout only grows by what
 * it lacks), and index.json is replaced by a rename.  Exporters take an flock on the
 * directory around read-merge-write, so two builds exporting to one directory keep each
 * other's entries.  Readers take no lock: every file they read is whole.  A blob whose
 * bytes no longer match its name is removed when a read finds it (the step runs, and the
 * next export writes the blob again).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/io.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "exec/cache.h"
#include "exec/cache_transport.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "image/oci_layout.h"
#include "registry/sink.h"

#define SW_MT_CACHE_CONFIG "application/vnd.slipway.cache.config.v1+json"
#define SMALL_LIMIT (16u << 20)
#define LOCK_WAIT_SECONDS 300

/* DIR/blobs/ALGO/HEX */
static char *
blob_path (const char *dir, const char *digest)
{
  return sw_xasprintf ("%s/blobs/%.*s/%s", dir, (int) (strchr (digest, ':') - digest), digest, sw_digest_hex (digest));
}

static int
mkdir_p (const char *path, sw_error **err)
{
  cleanup_free char *p = sw_xstrdup (path);
  for (char *s = p + 1;; s++)
    {
      if (*s != '/' && *s != '\0')
        continue;
      char c = *s;
      *s = '\0';
      if (mkdir (p, 0755) < 0 && errno != EEXIST)
        return sw_error_errno (err, "creating %s", p);
      *s = c;
      if (c == '\0')
        return 0;
    }
}

/* A small blob (a manifest, a config), checked against its digest. */
static int
read_small_blob (const char *dir, const char *digest, sw_buf *out, sw_error **err)
{
  char got[SW_DIGEST_BUFSZ];
  if (sw_digest_validate (digest, err) < 0)
    return sw_error_wrap (err, "in %s", dir);
  cleanup_free char *path = blob_path (dir, digest);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "reading %s", path);
  if (sw_read_all (fd, SMALL_LIMIT, out) < 0)
    return sw_error_errno (err, "reading %s", path);
  sw_digest_bytes (out->data, out->len, got);
  if (strcmp (got, digest) != 0)
    return sw_error_make (err, EIO, "%s is corrupted: its content is %s", path, got);
  return 0;
}

/* The manifest index.json names (the first OCI image manifest in it). */
static int
index_manifest (const char *dir, char digest[SW_DIGEST_BUFSZ], sw_error **err)
{
  cleanup_free char *path = sw_xasprintf ("%s/index.json", dir);
  cleanup_buf sw_buf body = SW_BUF_INIT;
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  sw_index *ix = NULL;
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? 0 : sw_error_errno (err, "reading %s", path);
  if (sw_read_all (fd, SMALL_LIMIT, &body) < 0)
    return sw_error_errno (err, "reading %s", path);
  if (sw_index_parse (body.data, body.len, &ix, err) < 0)
    return sw_error_wrap (err, "%s", path);
  int r = sw_error_make (err, EINVAL, "%s names no image manifest (a cache another tool wrote cannot be read)", path);
  for (size_t i = 0; i < ix->n_manifests; i++)
    if (ix->manifests[i].media_type && strcmp (ix->manifests[i].media_type, SW_MT_OCI_MANIFEST) == 0
        && ix->manifests[i].digest)
      {
        snprintf (digest, SW_DIGEST_BUFSZ, "%s", ix->manifests[i].digest);
        sw_error_free (*err);
        *err = NULL;
        r = 1;
        break;
      }
  sw_index_free (ix);
  return r;
}

static int
local_read_config (sw_engine *e, sw_cache_loc *loc, sw_buf *cfg, sw_error **err)
{
  char digest[SW_DIGEST_BUFSZ];
  cleanup_buf sw_buf man = SW_BUF_INIT;
  sw_manifest *m = NULL;
  (void) e;

  if (loc->digest)
    snprintf (digest, sizeof digest, "%s", loc->digest);
  else
    {
      int r = index_manifest (loc->dir, digest, err);
      if (r <= 0)
        return r;
    }
  if (read_small_blob (loc->dir, digest, &man, err) < 0 || sw_manifest_parse (man.data, man.len, &m, err) < 0)
    return -1;
  int r = -1;
  if (m->config.media_type == NULL || strcmp (m->config.media_type, SW_MT_CACHE_CONFIG) != 0)
    sw_error_make (err, EINVAL, "%s in %s is not a slipway cache (config type %s)", digest, loc->dir,
                   m->config.media_type ? m->config.media_type : "none");
  else if (read_small_blob (loc->dir, m->config.digest, cfg, err) == 0)
    r = 1;
  sw_manifest_free (m);
  return r;
}

/* The blob file into sink, hashed on the way: a file whose bytes are not its name is
 * removed (only a complete read can tell). */
static int
local_get_blob (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size, sw_sink *sink, sw_error **err)
{
  cleanup_free char *path = blob_path (loc->dir, digest);
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  char got[SW_DIGEST_BUFSZ];
  (void) e;

  if (fd < 0 || fstat (fd, &st) < 0)
    {
      sw_sink_abort (sink);
      return sw_error_errno (err, "reading %s", path);
    }
  if (size >= 0 && st.st_size != size)
    {
      sw_sink_abort (sink);
      unlink (path);
      return sw_error_make (err, EIO, "%s is corrupted: %lld bytes, not %lld (removed)", path, (long long) st.st_size,
                            (long long) size);
    }
  enum { CHUNK = 1 << 20 };
  cleanup_free char *buf = sw_xmalloc (CHUNK);
  sw_sha256 *h = sw_sha256_new ();
  ssize_t n;
  while ((n = read (fd, buf, CHUNK)) > 0)
    {
      sw_sha256_update (h, buf, (size_t) n);
      if (sw_sink_write (sink, buf, (size_t) n, err) < 0)
        {
          sw_sha256_free (h);
          sw_sink_abort (sink);
          return -1;
        }
    }
  if (n < 0)
    {
      sw_error_errno (err, "reading %s", path);
      sw_sha256_free (h);
      sw_sink_abort (sink);
      return -1;
    }
  sw_sha256_final (h, got);
  sw_sha256_free (h);
  if (strcmp (got, digest) != 0)
    {
      sw_sink_abort (sink);
      unlink (path);
      return sw_error_make (err, EIO, "%s is corrupted: its content is %s (removed)", path, got);
    }
  return sw_sink_finish (sink, digest, err);
}

/* A unique temporary name in the blob directory (another process, another thread). */
static char *
tmp_name (const char *dir)
{
  static _Atomic unsigned counter;
  return sw_xasprintf ("%s/blobs/sha256/.tmp-%d-%u", dir, (int) getpid (), ++counter);
}

/* From where the blob can be had without packing: the push of this build, or of an
 * earlier one (a layer from the cache); NULL when nowhere. */
static sw_ref *
pushed_repo (sw_engine *e, const sw_layer *l)
{
  sw_ref *ref = NULL;
  cleanup_error sw_error *ignored = NULL;
  if (l->digest[0] == '\0')
    return NULL;
  if (l->pushed && e->push_repo)
    {
      cleanup_free char *spec = sw_xasprintf ("%s/%s:x", e->push_repo->domain, e->push_repo->path);
      sw_ref_parse (spec, &ref, &ignored);
    }
  else if (l->pushed_to && *l->pushed_to)
    {
      cleanup_free char *spec = sw_xasprintf ("%s:x", l->pushed_to);
      sw_ref_parse (spec, &ref, &ignored);
    }
  return ref;
}

static int
local_put_layer (sw_engine *e, sw_cache_loc *loc, sw_layer *l, sw_error **err)
{
  struct stat st;
  cleanup_free char *blobs = sw_xasprintf ("%s/blobs/sha256", loc->dir);
  if (mkdir_p (blobs, err) < 0)
    return -1;
  if (l->digest[0])
    {
      cleanup_free char *path = blob_path (loc->dir, l->digest);
      if (stat (path, &st) == 0 && st.st_size == l->size)
        return 0; /* content-addressed: what is there is that blob (a read checks it) */
    }

  cleanup_free char *tmp = tmp_name (loc->dir);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return sw_error_errno (err, "creating %s", tmp);
  sw_sink sink;
  sw_sink_fd (&sink, fd, true, NULL);
  int r;
  if (l->cache_src)
    r = sw_cache_remote_blob (e, l, &sink, err);
  else if (l->dir)
    r = sw_cache_pack_layer (e, l, &sink, err);
  else
    {
      sw_ref *from = pushed_repo (e, l);
      if (from)
        r = sw_blob_get_sink (e->reg, from, l->digest, l->size, &sink, err);
      else
        {
          sw_sink_abort (&sink);
          r = sw_error_make (err, ENOENT, "the layer of %s is no longer on disk", l->label);
        }
      sw_ref_free (from);
    }
  cleanup_free char *path = r == 0 ? blob_path (loc->dir, l->digest) : NULL;
  if (r == 0 && rename (tmp, path) < 0)
    r = sw_error_errno (err, "renaming %s to %s", tmp, path);
  if (r < 0)
    {
      unlink (tmp);
      return sw_error_wrap (err, "writing the blob of %s to %s", l->label ? l->label : "a layer", loc->dir);
    }
  return 0;
}

static bool
local_has_blob (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size)
{
  struct stat st;
  cleanup_free char *path = blob_path (loc->dir, digest);
  (void) e;
  return stat (path, &st) == 0 && st.st_size == size; /* content-addressed (a read checks it) */
}

static int
local_lock (sw_cache_loc *loc, sw_error **err)
{
  if (mkdir_p (loc->dir, err) < 0)
    return -1;
  loc->lock_fd = open (loc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (loc->lock_fd < 0)
    return sw_error_errno (err, "opening %s", loc->dir);
  for (int waited_ms = 0; flock (loc->lock_fd, LOCK_EX | LOCK_NB) < 0; waited_ms += 50)
    {
      if (errno != EWOULDBLOCK && errno != EINTR)
        return sw_error_errno (err, "locking %s", loc->dir);
      if (waited_ms >= LOCK_WAIT_SECONDS * 1000)
        return sw_error_make (err, ETIMEDOUT, "another export has held %s for %d s", loc->dir, LOCK_WAIT_SECONDS);
      struct timespec ts = { 0, 50 * 1000000L };
      nanosleep (&ts, NULL);
    }
  return 0;
}

static void
local_unlock (sw_cache_loc *loc)
{
  if (loc->lock_fd >= 0)
    close (loc->lock_fd); /* releases the flock */
  loc->lock_fd = -1;
}

static int
local_publish (sw_engine *e, sw_cache_loc *loc, const sw_buf *cfg, const sw_buf *man, sw_error **err)
{
  sw_oci_layout *w = NULL;
  char digest[SW_DIGEST_BUFSZ];
  (void) e;
  int r = -1;
  if (sw_oci_layout_new_dir (loc->dir, &w, err) == 0 && sw_oci_layout_add_blob_bytes (w, cfg->data, cfg->len, NULL, err) == 0
      && sw_oci_layout_add_blob_bytes (w, man->data, man->len, digest, err) == 0
      && sw_oci_layout_write_index (w, SW_MT_OCI_MANIFEST, digest, (int64_t) man->len, NULL, NULL, err) == 0)
    r = 0;
  sw_oci_layout_free (w);
  return r;
}

const sw_cache_transport sw_cache_local_transport = {
  .type = "local",
  .atomic = true,
  .read_config = local_read_config,
  .get_blob = local_get_blob,
  .put_layer = local_put_layer,
  .has_blob = local_has_blob,
  .lock = local_lock,
  .unlock = local_unlock,
  .publish = local_publish,
};
