/* registry/sink.c — see sink.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "registry/ops.h"
#include "registry/sink.h"
#include "registry/upload.h"

struct upload_sink
{
  sw_upload *u;
  sw_blob_result *res;
};

static int
us_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct upload_sink *s = ud;
  return sw_upload_write (s->u, p, n, err);
}

static int
us_finish (void *ud, const char *digest, sw_error **err)
{
  struct upload_sink *s = ud;
  char d[SW_DIGEST_BUFSZ];
  int64_t size = 0;
  int ret = sw_upload_finish (s->u, digest, d, &size, err);
  if (ret == 0 && s->res)
    {
      memcpy (s->res->digest, d, sizeof d);
      s->res->size = size;
    }
  sw_upload_free (s->u); /* cancels the upload when finish failed */
  free (s);
  return ret;
}

static void
us_abort (void *ud)
{
  struct upload_sink *s = ud;
  sw_upload_free (s->u);
  free (s);
}

int
sw_registry_upload_sink (sw_registry *r, const sw_ref *repo, sw_sink *out, sw_blob_result *res, sw_error **err)
{
  sw_upload *u = NULL;
  if (res)
    memset (res, 0, sizeof *res);
  if (sw_upload_start (r, repo, &u, err) < 0)
    return -1;
  struct upload_sink *s = sw_xzalloc (sizeof *s);
  s->u = u;
  s->res = res;
  *out = (sw_sink){ us_write, us_finish, us_abort, s };
  return 0;
}

static int
to_sink (void *ud, const void *p, size_t n, sw_error **err)
{
  return sw_sink_write (ud, p, n, err);
}

int
sw_blob_get_sink (sw_registry *r, const sw_ref *repo, const char *digest, int64_t size, sw_sink *sink,
                  sw_error **err)
{
  if (sw_blob_get (r, repo, digest, size, to_sink, sink, err) < 0)
    {
      sw_sink_abort (sink);
      return -1;
    }
  return sw_sink_finish (sink, digest, err);
}

int
sw_blob_copy (sw_registry *r, const sw_ref *dst, const sw_ref *src, const char *digest, int64_t size, sw_error **err)
{
  int64_t have = -1;
  int e = sw_blob_exists (r, dst, digest, &have, err);
  if (e < 0)
    return -1;
  /* a blob that is there already, or mounted, is not read: its size is checked against
   * the descriptor instead (a download checks size and digest as it goes) */
  if (e == 1)
    {
      if (size >= 0 && have >= 0 && have != size)
        return sw_error_make (err, EIO, "blob %s in %s/%s is %lld bytes, the descriptor says %lld", digest,
                              dst->domain, dst->path, (long long) have, (long long) size);
      sw_debug ("blob %s already in %s/%s", digest, dst->domain, dst->path);
      return 0;
    }
  if (strcmp (dst->domain, src->domain) == 0 && strcmp (dst->path, src->path) != 0)
    {
      int m = sw_blob_mount (r, dst, digest, src, err);
      if (m < 0)
        return -1;
      if (m == 1)
        {
          sw_debug ("blob %s mounted from %s", digest, src->path);
          int x = size >= 0 ? sw_blob_exists (r, dst, digest, &have, err) : 0;
          if (x < 0)
            return -1;
          if (x == 1 && have >= 0 && have != size)
            return sw_error_make (err, EIO, "blob %s from %s/%s is %lld bytes, the descriptor says %lld", digest,
                                  src->domain, src->path, (long long) have, (long long) size);
          return 0;
        }
    }
  /* registry to registry: the download streams into the upload, two chunks in memory; the
   * source can be read again, so an upload the registry lost (ESTALE) starts over */
  for (int attempt = 1;; attempt++)
    {
      sw_sink up;
      sw_blob_result res;
      sw_error *ue = NULL;
      if (sw_registry_upload_sink (r, dst, &up, &res, err) < 0)
        return -1;
      if (sw_blob_get_sink (r, src, digest, size, &up, &ue) == 0)
        return 0;
      if (sw_error_code (ue) != ESTALE || attempt >= 3)
        {
          sw_error_move (err, &ue);
          return -1;
        }
      sw_debug ("blob %s: %s; starting the upload again", digest, sw_error_message (ue));
      sw_error_free (ue);
    }
}
