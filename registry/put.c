/* registry/put.c — a blob upload in one request whose body is streamed; see upload.h.
 *
 * Two shapes share it: the monolithic PUT (digest and size known first: `PUT ?digest=`
 * with Content-Length) and the streamed PATCH (neither known: one PATCH whose body goes in
 * HTTP/1.1 chunks, then a bodiless `PUT ?digest=` with the digest the producer computed —
 * how a docker client pushes a layer).
 *
 * The writer (a packer's sink) and the transfer (libcurl, pulling the body through a read
 * callback) run on two threads and meet in a ring of RING bytes: the writer waits while it
 * is full, the transfer while it is empty.  Either side ending early wakes the other, so
 * neither can wait forever: the transfer ends when the registry answers (or the
 * connection drops), the writer sees that at its next write; a writer that gives up
 * (abort, a wrong digest) makes the transfer's next read fail, and the registry, short of
 * its Content-Length, commits nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/ops.h"
#include "registry/upload.h"

#define RING ((size_t) 1 << 20)

struct sw_put
{
  sw_registry *r;
  sw_ref *repo;
  char *scope;
  char *location;
  bool stream;      /* the streamed PATCH: digest and size unknown until finish */
  char digest[SW_DIGEST_BUFSZ];
  uint64_t size;    /* announced (not for a stream) */
  uint64_t written; /* bytes the writer gave */

  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *ring;
  size_t head, len;  /* the unread bytes: ring[head…], len of them, wrapping */
  bool eof;          /* the writer is done: the transfer has all of the body */
  bool stopped;      /* the writer gave up: the transfer must fail */
  bool ended;        /* the transfer returned */
  uint64_t taken;    /* bytes the transfer read */

  pthread_t th;
  bool th_started;
  int rc;            /* the transfer's outcome: sw_registry_do's, then resp */
  sw_resp resp;
  sw_error *err;
  bool done;         /* committed */
};

static int
body_read (void *ud, void *buf, size_t cap, size_t *got, sw_error **err)
{
  sw_put *p = ud;
  pthread_mutex_lock (&p->mu);
  while (p->len == 0 && !p->eof && !p->stopped)
    pthread_cond_wait (&p->cv, &p->mu);
  if (p->stopped)
    {
      pthread_mutex_unlock (&p->mu);
      return sw_error_make (err, ECANCELED, "the blob's producer stopped after %" PRIu64 " bytes", p->taken);
    }
  size_t n = p->len < cap ? p->len : cap;
  size_t first = RING - p->head < n ? RING - p->head : n;
  memcpy (buf, p->ring + p->head, first);
  memcpy ((char *) buf + first, p->ring, n - first);
  p->head = (p->head + n) % RING;
  p->len -= n;
  p->taken += n;
  *got = n;
  pthread_cond_broadcast (&p->cv);
  pthread_mutex_unlock (&p->mu);
  return 0;
}

static void *
transfer (void *arg)
{
  sw_put *p = arg;
  cleanup_free char *url = p->stream ? sw_xstrdup (p->location) : sw_upload_commit_url (p->location, p->digest);
  sw_req req = { .method = p->stream ? "PATCH" : "PUT", .repo = p->repo, .url = url, .scope = p->scope,
                 .body_read = body_read, .body_read_ud = p, .body_len = (size_t) p->size,
                 .body_unsized = p->stream, .no_retry = true };
  sw_error *e = NULL;
  sw_resp resp = { 0 };
  int rc = sw_registry_do (p->r, &req, &resp, &e);
  pthread_mutex_lock (&p->mu);
  p->rc = rc;
  p->resp = resp;
  p->err = e;
  p->ended = true;
  pthread_cond_broadcast (&p->cv);
  pthread_mutex_unlock (&p->mu);
  return NULL;
}

static int
put_open (sw_registry *r, const sw_ref *repo, const char *digest, uint64_t size, sw_put **out, sw_error **err)
{
  sw_put *p = sw_xzalloc (sizeof *p);
  p->r = r;
  p->repo = sw_ref_dup (repo);
  p->scope = sw_scope_push (repo);
  p->stream = digest == NULL;
  snprintf (p->digest, sizeof p->digest, "%s", digest ? digest : "");
  p->size = size;
  pthread_mutex_init (&p->mu, NULL);
  pthread_cond_init (&p->cv, NULL);
  p->ring = sw_xmalloc (RING);
  if (sw_upload_session (r, repo, p->scope, &p->location, err) < 0)
    {
      sw_put_free (p);
      return sw_error_wrap (err, "starting an upload to %s/%s", repo->domain, repo->path);
    }
  if (pthread_create (&p->th, NULL, transfer, p) != 0)
    {
      sw_put_free (p);
      return sw_error_make (err, EAGAIN, "uploading to %s/%s: cannot start a thread", repo->domain, repo->path);
    }
  p->th_started = true;
  *out = p;
  return 0;
}

int
sw_put_start (sw_registry *r, const sw_ref *repo, const char *digest, uint64_t size, sw_put **out, sw_error **err)
{
  return put_open (r, repo, digest, size, out, err);
}

int
sw_put_start_stream (sw_registry *r, const sw_ref *repo, sw_put **out, sw_error **err)
{
  return put_open (r, repo, NULL, 0, out, err);
}

/* The transfer's outcome, once it ended, as an error: what the registry said. */
static int
transfer_error (sw_put *p, sw_error **err)
{
  if (p->rc < 0)
    {
      sw_error_move (err, &p->err);
      return -1;
    }
  cleanup_free char *url = p->stream ? sw_xstrdup (p->location) : sw_upload_commit_url (p->location, p->digest);
  sw_req req = { .method = p->stream ? "PATCH" : "PUT", .repo = p->repo, .url = url };
  return sw_resp_error (&req, &p->resp, err);
}

int
sw_put_write (sw_put *p, const void *buf, size_t n, sw_error **err)
{
  const char *s = buf;
  if (!p->stream && p->written + n > p->size)
    return sw_error_make (err, EIO, "upload to %s/%s: the blob is longer than the %" PRIu64 " bytes announced",
                          p->repo->domain, p->repo->path, p->size);
  p->written += n;
  pthread_mutex_lock (&p->mu);
  while (n > 0)
    {
      while (p->len == RING && !p->ended)
        pthread_cond_wait (&p->cv, &p->mu);
      if (p->ended)
        {
          pthread_mutex_unlock (&p->mu);
          transfer_error (p, err);
          return sw_error_wrap (err, "the registry ended the upload after %" PRIu64 " bytes", p->taken);
        }
      size_t tail = (p->head + p->len) % RING;
      size_t room = RING - p->len;
      size_t take = n < room ? n : room;
      size_t first = RING - tail < take ? RING - tail : take;
      memcpy (p->ring + tail, s, first);
      memcpy (p->ring, s + first, take - first);
      p->len += take;
      s += take;
      n -= take;
      pthread_cond_broadcast (&p->cv);
    }
  pthread_mutex_unlock (&p->mu);
  return 0;
}

/* End the transfer: with the whole body (eof) or making it fail (stop). */
static void
end_transfer (sw_put *p, bool stop)
{
  if (!p->th_started)
    return;
  pthread_mutex_lock (&p->mu);
  if (stop)
    p->stopped = true;
  else
    p->eof = true;
  pthread_cond_broadcast (&p->cv);
  pthread_mutex_unlock (&p->mu);
  pthread_join (p->th, NULL);
  p->th_started = false;
}

/* The streamed PATCH has all of the body: the session is committed as the chunked upload's
 * is, with a bodiless PUT ?digest= where the registry checks the bytes it holds. */
static int
stream_finish (sw_put *p, const char *digest, sw_error **err)
{
  if (digest == NULL || sw_digest_validate (digest, NULL) < 0)
    {
      end_transfer (p, true);
      return sw_error_make (err, EINVAL, "upload to %s/%s: a streamed blob needs its digest to be committed",
                            p->repo->domain, p->repo->path);
    }
  end_transfer (p, false);
  if (p->rc < 0 || p->resp.status != 202)
    {
      transfer_error (p, err);
      return sw_error_wrap (err, "sending blob %s (%" PRIu64 " bytes) to %s/%s in one PATCH", digest, p->written,
                            p->repo->domain, p->repo->path);
    }
  if (p->resp.location && *p->resp.location)
    {
      free (p->location);
      p->location = steal_pointer (&p->resp.location);
    }
  if (sw_upload_commit (p->r, p->repo, p->scope, p->location, digest, p->written, err) < 0)
    return -1;
  p->done = true;
  return 0;
}

int
sw_put_finish (sw_put *p, const char *digest, sw_error **err)
{
  const char *d = p->digest;
  if (p->stream)
    return stream_finish (p, digest, err);
  if (p->written != p->size || (digest && strcmp (digest, p->digest) != 0))
    {
      end_transfer (p, true);
      return sw_error_make (err, EIO, "upload to %s/%s: the bytes are %" PRIu64 " with digest %s, announced %" PRIu64
                                      " with %s; not committing them",
                            p->repo->domain, p->repo->path, p->written, digest ? digest : "(not given)", p->size,
                            p->digest);
    }
  end_transfer (p, false);
  long s = p->rc == 0 ? p->resp.status : 0;
  if ((s == 201 || s == 204 || s == 200) && (p->resp.docker_digest == NULL || strcmp (p->resp.docker_digest, d) == 0))
    {
      p->done = true;
      return 0;
    }
  /* a reply lost after the commit: the blob is there */
  int64_t have = -1;
  if (s == 0 && sw_blob_exists (p->r, p->repo, d, &have, NULL) == 1 && (uint64_t) have == p->size)
    {
      p->done = true;
      return 0;
    }
  if (s >= 200 && s < 300)
    sw_error_make (err, EIO, "the registry stored the upload as %s, but its bytes are %s", p->resp.docker_digest, d);
  else
    transfer_error (p, err);
  return sw_error_wrap (err, "committing blob %s to %s/%s in one PUT", d, p->repo->domain, p->repo->path);
}

void
sw_put_free (sw_put *p)
{
  if (p == NULL)
    return;
  end_transfer (p, true);
  if (!p->done && p->location)
    sw_upload_cancel (p->r, p->repo, p->scope, p->location);
  sw_resp_clear (&p->resp);
  sw_error_free (p->err);
  sw_ref_free (p->repo);
  free (p->scope);
  free (p->location);
  free (p->ring);
  pthread_mutex_destroy (&p->mu);
  pthread_cond_destroy (&p->cv);
  free (p);
}
