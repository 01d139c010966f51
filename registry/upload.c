/* registry/upload.c — see upload.h. */
#include <errno.h>
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
  char *buf;      /* bytes not yet acknowledged, starting at offset */
  size_t len;
  size_t alloc;
  size_t chunk;
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
sw_upload_start (sw_registry *r, const sw_ref *repo, sw_upload **out, sw_error **err)
{
  sw_upload *u = sw_xzalloc (sizeof *u);
  u->r = r;
  u->repo = sw_ref_dup (repo);
  u->scope = sw_scope_push (repo);
  u->chunk = sw_registry_chunk_size (r);
  u->h = sw_sha256_new ();
  cleanup_free char *url = sw_xasprintf ("/v2/%s/blobs/uploads/", repo->path);
  sw_req req = { .method = "POST", .repo = repo, .url = url, .scope = u->scope };
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
  set_location (u, resp.location);
  ret = 0;
out:
  sw_resp_clear (&resp);
  if (ret < 0)
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
flush (sw_upload *u, sw_error **err)
{
  double t0 = sw_now ();
  int attempt = 0;
  while (u->len > 0)
    {
      char range[64];
      snprintf (range, sizeof range, "Content-Range: %" PRIu64 "-%" PRIu64, u->offset, u->offset + u->len - 1);
      const char *hdrs[] = { range, NULL };
      sw_req req = { .method = "PATCH", .repo = u->repo, .url = u->location, .scope = u->scope, .headers = hdrs,
                     .body = u->buf, .body_len = u->len, .has_body = true, .no_retry = true };
      sw_resp resp = { 0 };
      sw_error *e = NULL;
      int rc = sw_registry_do (u->r, &req, &resp, &e);
      if (rc == 0 && resp.status == 202)
        {
          set_location (u, resp.location);
          u->offset += u->len;
          u->len = 0;
          sw_resp_clear (&resp);
          sw_error_free (e);
          return 0;
        }
      if (rc == 0 && !transient_status (resp.status))
        {
          sw_resp_error (&req, &resp, err);
          sw_resp_clear (&resp);
          return sw_error_wrap (err, "uploading bytes %" PRIu64 "-%" PRIu64, u->offset, u->offset + u->len - 1);
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
                                  u->offset, u->offset + u->len - 1, u->repo->domain, u->repo->path, why, attempt,
                                  sw_now () - t0);
          sw_debug ("upload chunk at %" PRIu64 " failed (%s): asking the registry where the upload stands", u->offset, why);
          uint64_t have;
          sw_error *qe = NULL;
          if (query_status (u, &have, &qe) < 0)
            {
              free (why);
              why = sw_xstrdup (sw_error_message (qe));
              sw_error_free (qe);
              free (retry_after);
              retry_after = NULL;
              continue;
            }
          if (have < u->offset || have > u->offset + u->len)
            return sw_error_make (err, EIO, "upload to %s/%s: the registry holds %" PRIu64 " bytes but %" PRIu64
                                            "-%" PRIu64 " are all that is in memory; cannot resume",
                                  u->repo->domain, u->repo->path, have, u->offset, u->offset + u->len);
          size_t skip = (size_t) (have - u->offset);
          memmove (u->buf, u->buf + skip, u->len - skip);
          u->len -= skip;
          u->offset = have;
          break;
        }
    }
  return 0;
}

int
sw_upload_write (sw_upload *u, const void *p, size_t n, sw_error **err)
{
  const char *s = p;
  sw_sha256_update (u->h, p, n);
  u->total += n;
  while (n > 0)
    {
      if (u->alloc < u->chunk && u->len + n > u->alloc)
        {
          size_t want = u->alloc ? u->alloc : 64 * 1024;
          while (want < u->len + n && want < u->chunk)
            want *= 2;
          if (want > u->chunk)
            want = u->chunk;
          u->buf = sw_xrealloc (u->buf, want);
          u->alloc = want;
        }
      size_t room = u->alloc - u->len;
      size_t take = n < room ? n : room;
      memcpy (u->buf + u->len, s, take);
      u->len += take;
      s += take;
      n -= take;
      if (u->len == u->chunk && flush (u, err) < 0)
        return -1;
    }
  return 0;
}

int
sw_upload_sink (void *ud, const void *p, size_t n, sw_error **err)
{
  return sw_upload_write (ud, p, n, err);
}

int
sw_upload_finish (sw_upload *u, const char *expected, char digest[SW_DIGEST_BUFSZ], int64_t *size, sw_error **err)
{
  char d[SW_DIGEST_BUFSZ];
  sw_sha256_final (u->h, d);
  if (expected && strcmp (expected, d) != 0)
    return sw_error_make (err, EIO, "upload to %s/%s: the bytes have digest %s, expected %s; not committing them",
                          u->repo->domain, u->repo->path, d, expected);
  if (flush (u, err) < 0)
    return -1;
  cleanup_free char *url = sw_xasprintf ("%s%cdigest=%s", u->location, strchr (u->location, '?') ? '&' : '?', d);
  sw_req req = { .method = "PUT", .repo = u->repo, .url = url, .scope = u->scope, .has_body = true };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (u->r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 201 || resp.status == 204 || resp.status == 200)
    ret = 0;
  else if (resp.status == 404)
    {
      /* a retried PUT whose first try committed: the blob is there */
      int64_t have = -1;
      if (sw_blob_exists (u->r, u->repo, d, &have, NULL) == 1 && (uint64_t) have == u->total)
        ret = 0;
      else
        sw_resp_error (&req, &resp, err);
    }
  else
    sw_resp_error (&req, &resp, err);
  if (ret == 0 && resp.docker_digest && strcmp (resp.docker_digest, d) != 0)
    ret = sw_error_make (err, EIO, "the registry stored the upload as %s, but its bytes are %s", resp.docker_digest, d);
out:
  sw_resp_clear (&resp);
  if (ret < 0)
    return sw_error_wrap (err, "committing blob %s to %s/%s", d, u->repo->domain, u->repo->path);
  u->done = true;
  if (digest)
    memcpy (digest, d, SW_DIGEST_BUFSZ);
  if (size)
    *size = (int64_t) u->total;
  return 0;
}

void
sw_upload_free (sw_upload *u)
{
  if (u == NULL)
    return;
  if (!u->done && u->location)
    {
      sw_req req = { .method = "DELETE", .repo = u->repo, .url = u->location, .scope = u->scope, .no_retry = true };
      sw_resp resp = { 0 };
      sw_error *e = NULL;
      sw_registry_do (u->r, &req, &resp, &e);
      sw_error_free (e);
      sw_resp_clear (&resp);
    }
  sw_ref_free (u->repo);
  free (u->scope);
  free (u->location);
  free (u->buf);
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
