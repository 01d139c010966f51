/* exec/layer_job.c — pack a built layer and upload it, on a worker thread.
 *
 * The job streams: upper dir → tar → diffID → gzip → digest → the registry upload (or, when
 * the build does not push, nowhere: the digests still name the image).  Nothing touches
 * the local disk but the reads of the upper dir.  A pushed layer bigger than one upload
 * chunk goes up in one streamed PATCH as it is packed (registry/sink.h, sw_blob_push); it is
 * packed again only when the registry fails that way (then into chunks), or twice by choice
 * (SLIPWAY_LAYER_UPLOAD=put: digest first, then one monolithic PUT).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "exec/cache.h"
#include "exec/engine.h"
#include "image/mediatype.h"
#include "layers/layers.h"
#include "registry/ops.h"
#include "registry/sink.h"

/* A sink in front of another that counts what goes through, for progress events. */
struct counting_sink
{
  sw_sink down;
  _Atomic uint64_t *count;
};

static int
counting_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct counting_sink *c = ud;
  if (sw_sink_write (&c->down, p, n, err) < 0)
    return -1;
  *c->count += n;
  return 0;
}

static int
counting_finish (void *ud, const char *digest, sw_error **err)
{
  struct counting_sink *c = ud;
  int r = sw_sink_finish (&c->down, digest, err);
  free (c);
  return r;
}

static void
counting_abort (void *ud)
{
  struct counting_sink *c = ud;
  sw_sink_abort (&c->down);
  free (c);
}

static void
counting_sink (sw_sink *out, sw_sink *down, _Atomic uint64_t *count)
{
  struct counting_sink *c = sw_xzalloc (sizeof *c);
  c->down = *down;
  c->count = count;
  *out = (sw_sink){ counting_write, counting_finish, counting_abort, c };
}

struct pack_job
{
  sw_engine *e;
  sw_layer *l;
};

void
sw_engine_pack_opts (const sw_engine *e, sw_pack_opts *o)
{
  sw_pack_opts_init (o);
  o->compression = e->compression;
  o->level = e->compression_level;
  o->overlay = true;
  o->source_date_epoch = e->epoch;
}

/* A layer from the cache whose blob (packed with this build's options) is known: the push
 * repository may have it already, or get it by a cross-repository mount from where it
 * was pushed last.  1: in place, no packing needed; 0: pack and upload it. */
static int
cached_blob_in_place (sw_engine *e, sw_layer *l)
{
  cleanup_error sw_error *ignored = NULL;
  int64_t size = -1;

  if (l->digest[0] == '\0' || e->push_repo == NULL)
    return 0;
  if (sw_blob_exists (e->reg, e->push_repo, l->digest, &size, &ignored) == 1 && (size < 0 || size == l->size))
    return 1;
  sw_error_free (ignored);
  ignored = NULL;
  if (l->pushed_to && *l->pushed_to)
    {
      cleanup_free char *spec = sw_xasprintf ("%s:x", l->pushed_to);
      sw_ref *from = NULL;
      int r = 0;
      if (sw_ref_parse (spec, &from, &ignored) == 0 && strcmp (from->domain, e->push_repo->domain) == 0)
        r = sw_blob_mount (e->reg, e->push_repo, l->digest, from, &ignored) == 1;
      sw_ref_free (from);
      return r;
    }
  return 0;
}

/* One pass of packing the layer for sw_blob_push.  Its info is the last pass's that hashed
 * (pass 1, or the chunked fallback's, whose bytes were sent); the monolithic PUT's pass
 * hashes nothing — the registry checks the bytes against pass 1's digest, and equal blobs
 * have equal diffIDs.  Only passes that send count as progress. */
struct pack_pass
{
  sw_engine *e;
  sw_layer *l;
  const sw_pack_opts *o;
  sw_layer_info info;
};

static int
pack_pass (void *ud, sw_sink *sink, sw_blob_pass pass, sw_error **err)
{
  struct pack_pass *p = ud;
  sw_pack_opts o = *p->o;
  sw_layer_info info;
  sw_sink counted = *sink;
  if (pass != SW_BLOB_LEARN)
    {
      p->l->sent = 0;
      counting_sink (&counted, sink, &p->l->sent);
    }
  *sink = (sw_sink){ 0 };
  o.no_digests = pass == SW_BLOB_KNOWN;
  if (sw_layer_pack_path (p->l->dir, &o, &counted, &info, err) < 0)
    return -1;
  if (!o.no_digests)
    p->info = info;
  return 0;
}

static int
pack_job (void *arg, sw_error **err)
{
  struct pack_job *j = arg;
  sw_engine *e = j->e;
  sw_layer *l = j->l;
  sw_pack_opts o;
  sw_layer_info info;
  sw_sink sink = { 0 };

  if (l->from_cache && cached_blob_in_place (e, l))
    {
      l->sent = (uint64_t) l->size;
      l->pushed = true;
      l->packed = true;
      return 0;
    }
  if (l->cache_src && e->push_repo)
    {
      /* a hit from a --cache-from directory: its blob, streamed as it is stored there */
      sw_sink counted;
      if (sw_registry_upload_sink (e->reg, e->push_repo, &sink, NULL, err) < 0)
        return sw_error_wrap (err, "uploading a layer");
      counting_sink (&counted, &sink, &l->sent);
      int r = sw_cache_remote_blob (e, l, &counted, err);
      l->packed = true;
      if (r < 0)
        return sw_error_wrap (err, "uploading the cached layer of %s", l->label);
      l->pushed = true;
      return 0;
    }
  sw_engine_pack_opts (e, &o);
  if (e->push_repo)
    {
      /* packing is deterministic, so sw_blob_push may make the blob again (a fallback to
       * chunks, or the two-pass PUT); see registry/sink.h */
      struct pack_pass pass = { .e = e, .l = l, .o = &o };
      sw_blob_result res;
      int r = sw_blob_push (e->reg, e->push_repo, pack_pass, &pass, &res, err);
      l->packed = true;
      if (r < 0)
        return sw_error_wrap (err, "packing the layer of %s", l->dir);
      info = pass.info;
      l->sent = info.size; /* all of it, even when the registry had it and nothing went */
    }
  else
    {
      sw_sink null;
      sw_sink_null (&null);
      counting_sink (&sink, &null, &l->sent);
      int r = sw_layer_pack_path (l->dir, &o, &sink, &info, err);
      l->packed = true;
      if (r < 0)
        return sw_error_wrap (err, "packing the layer of %s", l->dir);
    }
  if (l->from_cache && strcmp (l->diff_id, info.diff_id) != 0)
    return sw_error_make (err, EIO, "the cached layer of %s changed while it was packed (diffID %s, recorded %s); "
                                    "run the build again (or with --no-cache)", l->label, info.diff_id, l->diff_id);
  sw_layer_record_pack (l, &info, o.compression);
  l->pushed = e->push_repo != NULL;
  return 0;
}

void
sw_layer_record_pack (sw_layer *l, const sw_layer_info *info, sw_compression compression)
{
  snprintf (l->digest, sizeof l->digest, "%s", info->digest);
  snprintf (l->diff_id, sizeof l->diff_id, "%s", info->diff_id);
  l->size = (int64_t) info->size;
  snprintf (l->media_type, sizeof l->media_type, "%s",
            compression == SW_COMPRESSION_ZSTD   ? SW_MT_OCI_LAYER_ZSTD
            : compression == SW_COMPRESSION_NONE ? SW_MT_OCI_LAYER
                                                 : SW_MT_OCI_LAYER_GZIP);
}

void
sw_engine_queue_pack (sw_engine *e, sw_layer *l)
{
  struct pack_job *j = sw_xzalloc (sizeof *j);
  j->e = e;
  j->l = l;
  sw_workers_submit (e->workers, pack_job, j, free);
}
