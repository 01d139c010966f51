/* exec/layer_job.c — pack a built layer and upload it, on a worker thread.
 *
 * The job streams: upper dir → tar → diffID → gzip → digest → the registry upload (or, when
 * the build does not push, nowhere: the digests still name the image).  Nothing touches
 * the local disk but the reads of the upper dir.
 */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/sink.h"
#include "common/xalloc.h"
#include "exec/engine.h"
#include "image/mediatype.h"
#include "layers/layers.h"
#include "registry/upload.h"

/* An sw_sink over a registry upload: registry/ knows nothing of sinks and layers/ nothing
 * of HTTP, so the two meet here. */
struct upload_sink
{
  sw_upload *u;
};

static int
upload_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct upload_sink *s = ud;
  return sw_upload_write (s->u, p, n, err);
}

static int
upload_finish (void *ud, const char *digest, sw_error **err)
{
  struct upload_sink *s = ud;
  char got[SW_DIGEST_BUFSZ];
  int64_t size;
  int r = sw_upload_finish (s->u, digest, got, &size, err);
  sw_upload_free (s->u);
  free (s);
  return r;
}

static void
upload_abort (void *ud)
{
  struct upload_sink *s = ud;
  sw_upload_free (s->u); /* cancels the upload */
  free (s);
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
  o->compression = SW_COMPRESSION_GZIP;
  o->overlay = true;
  o->source_date_epoch = e->epoch;
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

  sw_engine_pack_opts (e, &o);
  if (e->push_repo)
    {
      struct upload_sink *us = sw_xzalloc (sizeof *us);
      if (sw_upload_start (e->reg, e->push_repo, &us->u, err) < 0)
        {
          free (us);
          return sw_error_wrap (err, "uploading a layer");
        }
      sink = (sw_sink){ upload_write, upload_finish, upload_abort, us };
    }
  else
    sw_sink_null (&sink);
  if (sw_layer_pack_path (l->dir, &o, &sink, &info, err) < 0)
    return sw_error_wrap (err, "packing the layer of %s", l->dir);
  snprintf (l->digest, sizeof l->digest, "%s", info.digest);
  snprintf (l->diff_id, sizeof l->diff_id, "%s", info.diff_id);
  l->size = (int64_t) info.size;
  snprintf (l->media_type, sizeof l->media_type, "%s", SW_MT_OCI_LAYER_GZIP);
  l->pushed = e->push_repo != NULL;
  return 0;
}

void
sw_engine_queue_pack (sw_engine *e, sw_layer *l)
{
  struct pack_job *j = sw_xzalloc (sizeof *j);
  j->e = e;
  j->l = l;
  sw_workers_submit (e->workers, pack_job, j, free);
}
