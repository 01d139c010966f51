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
#include "registry/sink.h"

struct pack_job
{
  sw_engine *e;
  sw_layer *l;
};

static int
pack_job (void *arg, sw_error **err)
{
  struct pack_job *j = arg;
  sw_engine *e = j->e;
  sw_layer *l = j->l;
  sw_pack_opts o;
  sw_layer_info info;
  sw_sink sink = { 0 };

  sw_pack_opts_init (&o);
  o.compression = SW_COMPRESSION_GZIP;
  o.overlay = true;
  o.source_date_epoch = e->epoch;
  if (e->push_repo)
    {
      if (sw_registry_upload_sink (e->reg, e->push_repo, &sink, NULL, err) < 0)
        return sw_error_wrap (err, "uploading a layer");
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
