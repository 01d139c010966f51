/* registry/sink.c — see sink.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
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

/* ---- sw_blob_push ---- */

/* Pass 1: the digest and size of what make makes, and its bytes while they fit in cap.  The
 * digest is the one make finishes the sink with (a packer hashes its output anyway: hashing
 * it here again would cost a second sha256 over the blob).  The state is the caller's (the
 * sink owns nothing to free). */
struct learn
{
  uint64_t size;
  char *buf; /* NULL once the blob outgrew cap */
  size_t len, alloc, cap;
  char digest[SW_DIGEST_BUFSZ];
};

static int
learn_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct learn *l = ud;
  (void) err;
  l->size += n;
  if (l->buf && l->len + n > l->cap)
    {
      free (l->buf);
      l->buf = NULL;
    }
  if (l->buf)
    {
      if (l->len + n > l->alloc)
        {
          while (l->alloc < l->len + n)
            l->alloc *= 2;
          if (l->alloc > l->cap)
            l->alloc = l->cap;
          l->buf = sw_xrealloc (l->buf, l->alloc);
        }
      memcpy (l->buf + l->len, p, n);
      l->len += n;
    }
  return 0;
}

static int
learn_finish (void *ud, const char *digest, sw_error **err)
{
  struct learn *l = ud;
  if (digest == NULL || sw_digest_validate (digest, NULL) < 0)
    return sw_error_make (err, EINVAL, "a blob to push was made without its digest");
  snprintf (l->digest, sizeof l->digest, "%s", digest);
  return 0;
}

static void
learn_abort (void *ud)
{
  (void) ud;
}

/* Pass 2: a sink over one streamed PUT, noting when it (the registry's side) failed. */
struct put_sink
{
  sw_put *p;
  bool *failed;
};

static int
ps_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct put_sink *s = ud;
  if (sw_put_write (s->p, p, n, err) < 0)
    {
      *s->failed = true;
      return -1;
    }
  return 0;
}

static int
ps_finish (void *ud, const char *digest, sw_error **err)
{
  struct put_sink *s = ud;
  int ret = sw_put_finish (s->p, digest, err);
  if (ret < 0)
    *s->failed = true;
  sw_put_free (s->p);
  free (s);
  return ret;
}

static void
ps_abort (void *ud)
{
  struct put_sink *s = ud;
  sw_put_free (s->p);
  free (s);
}

static int
push_chunked (sw_registry *r, const sw_ref *repo, sw_blob_maker make, void *ud, sw_blob_result *res, sw_error **err)
{
  sw_sink up;
  if (sw_registry_upload_sink (r, repo, &up, res, err) < 0)
    return -1;
  return make (ud, &up, SW_BLOB_SEND, err);
}

/* A blob that fit in one chunk, made and kept in memory: HEAD, then POST + PUT. */
static int
push_small (sw_registry *r, const sw_ref *repo, const struct learn *l, sw_blob_result *res, sw_error **err)
{
  if (sw_blob_put_small (r, repo, l->buf, l->len, res->digest, err) < 0)
    return -1;
  res->size = (int64_t) l->size;
  return 0;
}

/* The streamed way, one pass: the bytes are kept while they fit in one chunk (then they go
 * up as push_small's); the write that outgrows it opens one streamed PATCH (upload.h,
 * sw_put_start_stream) that carries them all, committed at finish with the digest make
 * computed.  The state is the caller's. */
struct stream
{
  struct learn l;
  sw_registry *r;
  const sw_ref *repo;
  sw_put *p;   /* open once the blob outgrew the chunk */
  bool failed; /* the registry's side failed: the chunked way may still work */
};

static int
stream_write (void *ud, const void *buf, size_t n, sw_error **err)
{
  struct stream *s = ud;
  if (s->p == NULL && s->l.len + n > s->l.cap)
    {
      if (sw_put_start_stream (s->r, s->repo, &s->p, err) < 0 || sw_put_write (s->p, s->l.buf, s->l.len, err) < 0)
        {
          s->failed = true;
          return -1;
        }
      free (s->l.buf);
      s->l.buf = NULL;
    }
  if (s->p == NULL)
    return learn_write (&s->l, buf, n, err);
  s->l.size += n;
  if (sw_put_write (s->p, buf, n, err) < 0)
    {
      s->failed = true;
      return -1;
    }
  return 0;
}

static int
stream_finish (void *ud, const char *digest, sw_error **err)
{
  struct stream *s = ud;
  if (learn_finish (&s->l, digest, err) < 0)
    return -1;
  if (s->p && sw_put_finish (s->p, digest, err) < 0)
    {
      s->failed = true;
      return -1;
    }
  return 0;
}

static int
push_streamed (sw_registry *r, const sw_ref *repo, sw_blob_maker make, void *ud, sw_blob_result *res, sw_error **err)
{
  struct stream s = { .l = { .cap = sw_registry_chunk_size (r), .alloc = 64 * 1024 }, .r = r, .repo = repo };
  s.l.buf = sw_xmalloc (s.l.alloc);
  sw_sink sink = { stream_write, stream_finish, learn_abort, &s };
  cleanup_error sw_error *made_err = NULL;
  int made = make (ud, &sink, SW_BLOB_SEND, &made_err);
  cleanup_free char *small = s.l.buf;
  sw_put_free (s.p); /* an unfinished session is cancelled */
  if (made == 0 && small)
    return push_small (r, repo, &s.l, res, err);
  if (made == 0)
    {
      memcpy (res->digest, s.l.digest, sizeof s.l.digest);
      res->size = (int64_t) s.l.size;
      return 0;
    }
  if (!s.failed)
    {
      sw_error_move (err, &made_err);
      return -1;
    }
  sw_info ("uploading a blob to %s/%s in one streamed PATCH failed (%s); uploading it in chunks", repo->domain,
           repo->path, sw_error_message (made_err));
  return push_chunked (r, repo, make, ud, res, err);
}

/* The two-pass way: pass 1 learns the digest (and keeps a small blob), HEAD, pass 2 streams
 * into one monolithic PUT. */
static int
push_twice (sw_registry *r, const sw_ref *repo, sw_blob_maker make, void *ud, sw_blob_result *res, sw_error **err)
{
  struct learn l = { .cap = sw_registry_chunk_size (r), .alloc = 64 * 1024 };
  l.buf = sw_xmalloc (l.alloc);
  sw_sink first = { learn_write, learn_finish, learn_abort, &l };
  int made = make (ud, &first, SW_BLOB_LEARN, err);
  cleanup_free char *small = l.buf;
  if (made < 0)
    return -1;

  if (small)
    return push_small (r, repo, &l, res, err);
  int64_t have = -1;
  cleanup_error sw_error *head_err = NULL;
  int e = sw_blob_exists (r, repo, l.digest, &have, &head_err);
  if (e == 1 && (have < 0 || (uint64_t) have == l.size))
    {
      sw_debug ("blob %s already in %s/%s: not uploaded", l.digest, repo->domain, repo->path);
      memcpy (res->digest, l.digest, sizeof l.digest);
      res->size = (int64_t) l.size;
      return 0;
    }

  bool failed = false;
  sw_put *p = NULL;
  cleanup_error sw_error *put_err = NULL;
  if (sw_put_start (r, repo, l.digest, l.size, &p, &put_err) == 0)
    {
      struct put_sink *s = sw_xzalloc (sizeof *s);
      s->p = p;
      s->failed = &failed;
      sw_sink second = { ps_write, ps_finish, ps_abort, s };
      if (make (ud, &second, SW_BLOB_KNOWN, &put_err) == 0)
        {
          memcpy (res->digest, l.digest, sizeof l.digest);
          res->size = (int64_t) l.size;
          return 0;
        }
      if (!failed)
        {
          sw_error_move (err, &put_err);
          return -1;
        }
    }
  sw_info ("uploading blob %s to %s/%s in one PUT failed (%s); uploading it in chunks", l.digest, repo->domain,
           repo->path, sw_error_message (put_err));
  return push_chunked (r, repo, make, ud, res, err);
}

int
sw_blob_push (sw_registry *r, const sw_ref *repo, sw_blob_maker make, void *ud, sw_blob_result *res, sw_error **err)
{
  memset (res, 0, sizeof *res);
  switch (sw_registry_layer_upload (r))
    {
    case SW_LAYER_UPLOAD_CHUNKED: return push_chunked (r, repo, make, ud, res, err);
    case SW_LAYER_UPLOAD_PUT: return push_twice (r, repo, make, ud, res, err);
    case SW_LAYER_UPLOAD_STREAM: break;
    }
  return push_streamed (r, repo, make, ud, res, err);
}
