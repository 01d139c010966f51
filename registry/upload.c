/* registry/upload.c — see upload.h. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/ops.h"
#include "registry/upload.h"

struct sw_upload
{
  sw_registry *r;
  sw_ref *repo;
  char *scope;
  char *location; /* where the next request goes (the registry moves it at each step) */
  /* Two chunk buffers: the producer fills one while a sender thread PATCHes the other, so
   * making bytes and sending them overlap; memory stays at two chunks. */
  char *bufs[2];
  size_t alloc[2];
  int cur;        /* the buffer being filled */
  size_t len;     /* bytes in bufs[cur] */
  size_t chunk;
  pthread_t th;
  bool th_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *send_buf; /* handed to the sender; bytes not yet acknowledged, starting at offset */
  size_t send_len;
  bool busy, quit;
  sw_error *send_err;
  uint64_t offset; /* bytes the registry holds */
  sw_sha256 *h;
  uint64_t total;  /* bytes written by the producer */
  bool done;
};

uint64_t
sw_upload_offset (const sw_upload *u)
{
  return u->offset;
}

static void
set_location (sw_upload *u, const char *loc)
{
  if (loc && *loc)
    {
      free (u->location);
      u->location = sw_xstrdup (loc);
    }
}

int
sw_upload_session (sw_registry *r, const sw_ref *repo, const char *scope, char **location, sw_error **err)
{
  cleanup_free char *url = sw_xasprintf ("/v2/%s/blobs/uploads/", repo->path);
  sw_req req = { .method = "POST", .repo = repo, .url = url, .scope = scope };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status != 202 || resp.location == NULL)
    {
      if (resp.status == 202)
        sw_error_make (err, EPROTO, "POST %s: the registry started an upload without a Location", url);
      else
        sw_resp_error (&req, &resp, err);
      goto out;
    }
  *location = steal_pointer (&resp.location);
  ret = 0;
out:
  sw_resp_clear (&resp);
  return ret;
}

void
sw_upload_cancel (sw_registry *r, const sw_ref *repo, const char *scope, const char *location)
{
  sw_req req = { .method = "DELETE", .repo = repo, .url = location, .scope = scope, .no_retry = true };
  sw_resp resp = { 0 };
  sw_error *e = NULL;
  sw_registry_do (r, &req, &resp, &e);
  sw_error_free (e);
  sw_resp_clear (&resp);
}

int
sw_upload_start (sw_registry *r, const sw_ref *repo, sw_upload **out, sw_error **err)
{
  sw_upload *u = sw_xzalloc (sizeof *u);
  u->r = r;
  u->repo = sw_ref_dup (repo);
  u->scope = sw_scope_push (repo);
  u->chunk = sw_registry_chunk_size (r);
  u->h = sw_sha256_new ();
  pthread_mutex_init (&u->mu, NULL);
  pthread_cond_init (&u->cv, NULL);
  if (sw_upload_session (r, repo, u->scope, &u->location, err) < 0)
    {
      sw_upload_free (u);
      return sw_error_wrap (err, "starting an upload to %s/%s", repo->domain, repo->path);
    }
  *out = u;
  return 0;
}

/* Ask the registry how much of the upload it holds: GET location → 204, Range: 0-N. */
static int
query_status (sw_upload *u, uint64_t *have, sw_error **err)
{
  sw_req req = { .method = "GET", .repo = u->repo, .url = u->location, .scope = u->scope, .no_retry = true };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (u->r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 404)
    {
      cleanup_error sw_error *detail = NULL;
      sw_resp_error (&req, &resp, &detail);
      sw_error_make (err, ESTALE, "the registry lost the upload (%s)", sw_error_message (detail));
      goto out;
    }
  if (resp.status != 204 && resp.status != 200)
    {
      sw_resp_error (&req, &resp, err);
      goto out;
    }
  *have = 0;
  if (resp.range)
    {
      const char *dash = strchr (resp.range, '-');
      if (dash)
        {
          /* distribution writes "0-0" both for nothing and for one byte */
          uint64_t end = strtoull (dash + 1, NULL, 10);
          *have = end == 0 ? (u->offset >= 1 ? 1 : 0) : end + 1;
        }
    }
  set_location (u, resp.location);
  ret = 0;
out:
  sw_resp_clear (&resp);
  return ret;
}

static bool
transient_status (long s)
{
  return s >= 500 || s == 429 || s == 416 || s == 408;
}

/* PATCH everything in buf; on failure find out where the upload stands and resend the rest
 * from memory. */
static int
flush (sw_upload *u, char *buf, size_t *lenp, sw_error **err)
{
  double t0 = sw_now ();
  int attempt = 0;
  while ((*lenp) > 0)
    {
      char range[64];
      snprintf (range, sizeof range, "Content-Range: %" PRIu64 "-%" PRIu64, u->offset, u->offset + (*lenp) - 1);
      const char *hdrs[] = { range, NULL };
      sw_req req = { .method = "PATCH", .repo = u->repo, .url = u->location, .scope = u->scope, .headers = hdrs,
                     .body = buf, .body_len = (*lenp), .has_body = true, .no_retry = true };
      sw_resp resp = { 0 };
      sw_error *e = NULL;
      int rc = sw_registry_do (u->r, &req, &resp, &e);
      if (rc == 0 && resp.status == 202)
        {
          set_location (u, resp.location);
          u->offset += (*lenp);
          (*lenp) = 0;
          sw_resp_clear (&resp);
          sw_error_free (e);
          return 0;
        }
      if (rc == 0 && resp.status == 404)
        {
          /* BLOB_UPLOAD_INVALID/UNKNOWN: the registry dropped the session (distribution does
           * when a reply was lost and its state token went stale); only a fresh upload of the
           * whole blob can help, which the producer must decide */
          cleanup_error sw_error *detail = NULL;
          sw_resp_error (&req, &resp, &detail);
          sw_resp_clear (&resp);
          return sw_error_make (err, ESTALE, "uploading bytes %" PRIu64 "-%" PRIu64 ": the registry lost the upload (%s)",
                                u->offset, u->offset + (*lenp) - 1, sw_error_message (detail));
        }
      if (rc == 0 && !transient_status (resp.status))
        {
          sw_resp_error (&req, &resp, err);
          sw_resp_clear (&resp);
          return sw_error_wrap (err, "uploading bytes %" PRIu64 "-%" PRIu64, u->offset, u->offset + (*lenp) - 1);
        }
      /* a dropped connection or a server error: back off, then ask where the upload stands */
      cleanup_free char *why = rc < 0 ? sw_xstrdup (sw_error_message (e)) : sw_xasprintf ("HTTP %ld", resp.status);
      cleanup_free char *retry_after = resp.retry_after ? sw_xstrdup (resp.retry_after) : NULL;
      sw_resp_clear (&resp);
      sw_error_free (e);
      for (;;)
        {
          attempt++;
          if (attempt >= sw_registry_max_attempts (u->r) || !sw_registry_backoff (u->r, attempt, t0, retry_after))
            return sw_error_make (err, EIO, "uploading bytes %" PRIu64 "-%" PRIu64 " to %s/%s: %s; gave up after %d attempts in %.1f s",
                                  u->offset, u->offset + (*lenp) - 1, u->repo->domain, u->repo->path, why, attempt,
                                  sw_now () - t0);
          sw_debug ("upload chunk at %" PRIu64 " failed (%s): asking the registry where the upload stands", u->offset, why);
          uint64_t have;
          sw_error *qe = NULL;
          if (query_status (u, &have, &qe) < 0)
            {
              if (sw_error_code (qe) == ESTALE)
                {
                  sw_error_move (err, &qe);
                  return sw_error_wrap (err, "uploading bytes %" PRIu64 "-%" PRIu64, u->offset, u->offset + (*lenp) - 1);
                }
              free (why);
              why = sw_xstrdup (sw_error_message (qe));
              sw_error_free (qe);
              free (retry_after);
              retry_after = NULL;
              continue;
            }
          if (have < u->offset || have > u->offset + (*lenp))
            return sw_error_make (err, ESTALE, "upload to %s/%s: the registry holds %" PRIu64 " bytes but %" PRIu64
                                            "-%" PRIu64 " are all that is in memory; cannot resume",
                                  u->repo->domain, u->repo->path, have, u->offset, u->offset + (*lenp));
          size_t skip = (size_t) (have - u->offset);
          memmove (buf, buf + skip, (*lenp) - skip);
          (*lenp) -= skip;
          u->offset = have;
          break;
        }
    }
  return 0;
}

static void *
sender (void *arg)
{
  sw_upload *u = arg;
  pthread_mutex_lock (&u->mu);
  for (;;)
    {
      while (!u->busy && !u->quit)
        pthread_cond_wait (&u->cv, &u->mu);
      if (!u->busy)
        break;
      pthread_mutex_unlock (&u->mu);
      sw_error *e = NULL;
      size_t len = u->send_len;
      int rc = flush (u, u->send_buf, &len, &e);
      pthread_mutex_lock (&u->mu);
      if (rc < 0 && u->send_err == NULL)
        u->send_err = e;
      else
        sw_error_free (e);
      u->busy = false;
      pthread_cond_broadcast (&u->cv);
    }
  pthread_mutex_unlock (&u->mu);
  return NULL;
}

/* Wait until the sender is idle; its error, if any, becomes ours. */
static int
wait_idle (sw_upload *u, sw_error **err)
{
  if (!u->th_started)
    return 0;
  pthread_mutex_lock (&u->mu);
  while (u->busy)
    pthread_cond_wait (&u->cv, &u->mu);
  sw_error *e = steal_pointer (&u->send_err);
  pthread_mutex_unlock (&u->mu);
  if (e)
    {
      sw_error_move (err, &e);
      return -1;
    }
  return 0;
}

/* Give the full buffer to the sender and go on filling the other one. */
static int
hand_off (sw_upload *u, sw_error **err)
{
  if (!u->th_started)
    {
      if (pthread_create (&u->th, NULL, sender, u) != 0)
        {
          /* no thread: send synchronously */
          size_t len = u->len;
          int rc = flush (u, u->bufs[u->cur], &len, err);
          u->len = 0;
          return rc;
        }
      u->th_started = true;
    }
  if (wait_idle (u, err) < 0)
    return -1;
  pthread_mutex_lock (&u->mu);
  u->send_buf = u->bufs[u->cur];
  u->send_len = u->len;
  u->busy = true;
  pthread_cond_broadcast (&u->cv);
  pthread_mutex_unlock (&u->mu);
  u->cur ^= 1;
  u->len = 0;
  return 0;
}

static void
stop_sender (sw_upload *u)
{
  if (!u->th_started)
    return;
  pthread_mutex_lock (&u->mu);
  u->quit = true;
  pthread_cond_broadcast (&u->cv);
  pthread_mutex_unlock (&u->mu);
  pthread_join (u->th, NULL);
  u->th_started = false;
  sw_error_free (u->send_err);
  u->send_err = NULL;
}

int
sw_upload_write (sw_upload *u, const void *p, size_t n, sw_error **err)
{
  const char *s = p;
  sw_sha256_update (u->h, p, n);
  u->total += n;
  while (n > 0)
    {
      int c = u->cur;
      if (u->alloc[c] < u->chunk && u->len + n > u->alloc[c])
        {
          size_t want = u->alloc[c] ? u->alloc[c] : 64 * 1024;
          while (want < u->len + n && want < u->chunk)
            want *= 2;
          if (want > u->chunk)
            want = u->chunk;
          u->bufs[c] = sw_xrealloc (u->bufs[c], want);
          u->alloc[c] = want;
        }
      size_t room = u->alloc[c] - u->len;
      size_t take = n < room ? n : room;
      memcpy (u->bufs[c] + u->len, s, take);
      u->len += take;
      s += take;
      n -= take;
      if (u->len == u->chunk && hand_off (u, err) < 0)
        return -1;
    }
  return 0;
}

int
sw_upload_sink (void *ud, const void *p, size_t n, sw_error **err)
{
  return sw_upload_write (ud, p, n, err);
}

/* A blob that fits in one chunk goes in the closing PUT's body: POST + PUT, one request less
 * than POST + PATCH + PUT, as the distribution spec allows ("monolithic upload").  1 when that
 * PUT did not commit it: the session it used is dropped, a fresh one (offset 0) is open, and
 * the caller goes on with PATCH + PUT and their retries; the bytes are still in memory.  0
 * when committed, -1 on an error the fresh session could not get past. */
static int
put_whole (sw_upload *u, const char *d, sw_error **err)
{
  cleanup_free char *url = sw_upload_commit_url (u->location, d);
  sw_req req = { .method = "PUT", .repo = u->repo, .url = url, .scope = u->scope, .body = u->bufs[u->cur],
                 .body_len = u->len, .has_body = true, .no_retry = true };
  sw_resp resp = { 0 };
  sw_error *e = NULL;
  int rc = sw_registry_do (u->r, &req, &resp, &e);
  bool ok = rc == 0 && (resp.status == 201 || resp.status == 204 || resp.status == 200)
            && (resp.docker_digest == NULL || strcmp (resp.docker_digest, d) == 0);
  sw_debug ("monolithic PUT of %zu bytes to %s/%s: %s", u->len, u->repo->domain, u->repo->path,
            ok ? "committed" : rc < 0 ? sw_error_message (e) : "refused");
  sw_resp_clear (&resp);
  sw_error_free (e);
  if (ok)
    {
      u->offset = u->len;
      return 0;
    }
  /* a reply lost after the commit: the blob is there */
  int64_t have = -1;
  if (sw_blob_exists (u->r, u->repo, d, &have, NULL) == 1 && (uint64_t) have == u->total)
    {
      u->offset = u->len;
      return 0;
    }
  /* whatever that session holds now, start again from a fresh one */
  sw_upload_cancel (u->r, u->repo, u->scope, u->location);
  free (u->location);
  u->location = NULL;
  if (sw_upload_session (u->r, u->repo, u->scope, &u->location, err) < 0)
    return sw_error_wrap (err, "restarting the upload to %s/%s", u->repo->domain, u->repo->path);
  return 1;
}

static int
finished (sw_upload *u, const char *d, char digest[SW_DIGEST_BUFSZ], int64_t *size)
{
  u->done = true;
  if (digest)
    memcpy (digest, d, SW_DIGEST_BUFSZ);
  if (size)
    *size = (int64_t) u->total;
  return 0;
}

int
sw_upload_finish (sw_upload *u, const char *expected, char digest[SW_DIGEST_BUFSZ], int64_t *size, sw_error **err)
{
  char d[SW_DIGEST_BUFSZ];
  sw_sha256_final (u->h, d);
  if (expected && strcmp (expected, d) != 0)
    return sw_error_make (err, EIO, "upload to %s/%s: the bytes have digest %s, expected %s; not committing them",
                          u->repo->domain, u->repo->path, d, expected);
  if (wait_idle (u, err) < 0)
    return -1;
  stop_sender (u);
  size_t len = u->len;
  if (len > 0 && u->offset == 0 && u->total == len)
    {
      int w = put_whole (u, d, err);
      if (w < 0)
        return -1;
      if (w == 0)
        return finished (u, d, digest, size);
      len = u->len; /* a fresh session: on with PATCH + PUT */
    }
  if (len > 0 && flush (u, u->bufs[u->cur], &len, err) < 0)
    return -1;
  u->len = 0;
  if (sw_upload_commit (u->r, u->repo, u->scope, u->location, d, u->total, err) < 0)
    return -1;
  return finished (u, d, digest, size);
}

char *
sw_upload_commit_url (const char *location, const char *digest)
{
  return sw_xasprintf ("%s%cdigest=%s", location, strchr (location, '?') ? '&' : '?', digest);
}

int
sw_upload_commit (sw_registry *r, const sw_ref *repo, const char *scope, const char *location, const char *digest,
                  uint64_t size, sw_error **err)
{
  cleanup_free char *url = sw_upload_commit_url (location, digest);
  sw_req req = { .method = "PUT", .repo = repo, .url = url, .scope = scope, .has_body = true };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 201 || resp.status == 204 || resp.status == 200)
    ret = 0;
  else if (resp.status == 404)
    {
      /* a retried PUT whose first try committed: the blob is there */
      int64_t have = -1;
      if (sw_blob_exists (r, repo, digest, &have, NULL) == 1 && (uint64_t) have == size)
        ret = 0;
      else
        sw_resp_error (&req, &resp, err);
    }
  else
    sw_resp_error (&req, &resp, err);
  if (ret == 0 && resp.docker_digest && strcmp (resp.docker_digest, digest) != 0)
    ret = sw_error_make (err, EIO, "the registry stored the upload as %s, but its bytes are %s", resp.docker_digest,
                         digest);
out:
  sw_resp_clear (&resp);
  if (ret < 0)
    return sw_error_wrap (err, "committing blob %s to %s/%s", digest, repo->domain, repo->path);
  return 0;
}

void
sw_upload_free (sw_upload *u)
{
  if (u == NULL)
    return;
  stop_sender (u);
  if (!u->done && u->location)
    sw_upload_cancel (u->r, u->repo, u->scope, u->location);
  sw_ref_free (u->repo);
  free (u->scope);
  free (u->location);
  free (u->bufs[0]);
  free (u->bufs[1]);
  pthread_mutex_destroy (&u->mu);
  pthread_cond_destroy (&u->cv);
  sw_sha256_free (u->h);
  free (u);
}

int
sw_blob_put_small (sw_registry *r, const sw_ref *repo, const void *p, size_t n, char digest[SW_DIGEST_BUFSZ],
                   sw_error **err)
{
  char d[SW_DIGEST_BUFSZ];
  sw_digest_bytes (p, n, d);
  if (digest)
    memcpy (digest, d, SW_DIGEST_BUFSZ);
  if (sw_blob_exists (r, repo, d, NULL, err) == 1)
    return 0;
  sw_upload *u = NULL;
  if (sw_upload_start (r, repo, &u, err) < 0)
    return -1;
  int ret = sw_upload_write (u, p, n, err);
  if (ret == 0)
    ret = sw_upload_finish (u, d, NULL, NULL, err);
  sw_upload_free (u);
  return ret;
}
