/* registry/ops.c — see ops.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/cleanup.h"
#include "common/io.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "image/mediatype.h"
#include "registry/ops.h"
#include "registry/upload.h"

char *
sw_scope_pull (const sw_ref *repo)
{
  return sw_xasprintf ("repository:%s:pull", repo->path);
}

char *
sw_scope_push (const sw_ref *repo)
{
  return sw_xasprintf ("repository:%s:pull,push", repo->path);
}

/* ---- documents by digest, kept between sessions (sw_registry_set_docs) ---- */

static char *
doc_path (sw_registry *r, const char *digest)
{
  const char *dir = sw_registry_docs (r);
  if (dir == NULL || strncmp (digest, "sha256:", 7) != 0 || sw_digest_validate (digest, NULL) < 0)
    return NULL;
  return sw_xasprintf ("%s/sha256-%s", dir, digest + 7);
}

/* true: out holds the document, its digest checked (anything else there is ignored) */
static bool
doc_read (sw_registry *r, const char *digest, size_t limit, sw_buf *out)
{
  cleanup_free char *p = doc_path (r, digest);
  cleanup_close int fd = p ? open (p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
  cleanup_buf sw_buf b = SW_BUF_INIT;
  char got[SW_DIGEST_BUFSZ];
  if (fd < 0 || sw_read_all (fd, limit, &b) < 0)
    return false;
  sw_digest_bytes (b.data, b.len, got);
  if (strcmp (got, digest) != 0)
    return false;
  sw_buf_append (out, b.data, b.len);
  return true;
}

/* Best effort: a temporary name, then a rename, so a reader never sees half a document. */
static void
doc_write (sw_registry *r, const char *digest, const void *data, size_t len)
{
  cleanup_free char *p = doc_path (r, digest);
  if (p == NULL)
    return;
  cleanup_free char *tmp = sw_xasprintf ("%s.tmp-XXXXXX", p);
  int fd = mkostemp (tmp, O_CLOEXEC);
  if (fd < 0)
    return;
  bool ok = sw_write_all (fd, data, len) == 0 && fchmod (fd, 0644) == 0;
  close (fd);
  if (!ok || rename (tmp, p) < 0)
    unlink (tmp);
}

void
sw_fetched_clear (sw_fetched *f)
{
  sw_buf_free (&f->body);
  free (f->media_type);
  memset (f, 0, sizeof *f);
}

static char *
ref_display (const sw_ref *ref)
{
  return sw_ref_string (ref);
}

static int manifest_get (sw_registry *r, const sw_ref *ref, bool missing_ok, sw_fetched *out, sw_error **err);

int
sw_manifest_get (sw_registry *r, const sw_ref *ref, sw_fetched *out, sw_error **err)
{
  return manifest_get (r, ref, false, out, err) < 0 ? -1 : 0;
}

int
sw_manifest_get_if (sw_registry *r, const sw_ref *ref, sw_fetched *out, sw_error **err)
{
  return manifest_get (r, ref, true, out, err);
}

static int
manifest_get (sw_registry *r, const sw_ref *ref, bool missing_ok, sw_fetched *out, sw_error **err)
{
  cleanup_free char *scope = sw_scope_pull (ref);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/manifests/%s", ref->path, sw_ref_reference (ref));
  static const char *hdrs[] = { "Accept: " SW_MANIFEST_ACCEPT, NULL };
  sw_req req = { .method = "GET", .repo = ref, .url = url, .scope = scope, .headers = hdrs };
  sw_resp resp = { 0 };
  cleanup_free char *name = ref_display (ref);
  bool kept = ref->digest && doc_read (r, ref->digest, 4u << 20, &resp.body);
  if (!kept && sw_registry_do (r, &req, &resp, err) < 0)
    {
      sw_resp_clear (&resp);
      return sw_error_wrap (err, "fetching manifest %s", name);
    }
  if (!kept && resp.status == 404 && missing_ok)
    {
      sw_resp_clear (&resp);
      return 0;
    }
  if (!kept && resp.status != 200)
    {
      sw_resp_error (&req, &resp, err);
      sw_resp_clear (&resp);
      return sw_error_wrap (err, "fetching manifest %s", name);
    }
  sw_manifest_kind k = sw_manifest_sniff (sw_buf_str (&resp.body), resp.body.len, resp.content_type);
  if (k == SW_KIND_SCHEMA1)
    {
      sw_resp_clear (&resp);
      return sw_error_make (err, ENOTSUP, "%s is a Docker schema1 manifest, which is obsolete and not supported: "
                                          "push the image again with a current docker, buildx or skopeo", name);
    }
  if (k == SW_KIND_UNKNOWN)
    {
      sw_error_make (err, EPROTO, "%s: the registry returned a document that is neither a manifest nor an index (Content-Type %s)",
                     name, resp.content_type ? resp.content_type : "none");
      sw_resp_clear (&resp);
      return -1;
    }
  sw_digest_bytes (sw_buf_str (&resp.body), resp.body.len, out->digest);
  if (ref->digest && strcmp (ref->digest, out->digest) != 0)
    {
      sw_error_make (err, EIO, "manifest %s: the registry sent bytes whose digest is %s; refusing them", name, out->digest);
      sw_resp_clear (&resp);
      return -1;
    }
  /* the document's own mediaType wins over Content-Type (some registries send json) */
  json_t *doc = json_loadb (sw_buf_str (&resp.body), resp.body.len, 0, NULL);
  const char *mt = json_string_value (json_object_get (doc, "mediaType"));
  if (mt == NULL && resp.content_type)
    mt = resp.content_type;
  out->media_type = sw_xstrndup (mt ? mt : (k == SW_KIND_INDEX ? SW_MT_OCI_INDEX : SW_MT_OCI_MANIFEST),
                                 strcspn (mt ? mt : "x", ";"));
  if (mt == NULL)
    {
      free (out->media_type);
      out->media_type = sw_xstrdup (k == SW_KIND_INDEX ? SW_MT_OCI_INDEX : SW_MT_OCI_MANIFEST);
    }
  json_decref (doc);
  if (ref->digest && !kept)
    doc_write (r, ref->digest, resp.body.data, resp.body.len);
  out->body = resp.body;
  resp.body = (sw_buf) SW_BUF_INIT;
  sw_resp_clear (&resp);
  return 1;
}

int
sw_manifest_head (sw_registry *r, const sw_ref *ref, char digest[SW_DIGEST_BUFSZ], sw_error **err)
{
  cleanup_free char *scope = sw_scope_pull (ref);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/manifests/%s", ref->path, sw_ref_reference (ref));
  static const char *hdrs[] = { "Accept: " SW_MANIFEST_ACCEPT, NULL };
  sw_req req = { .method = "HEAD", .repo = ref, .url = url, .scope = scope, .headers = hdrs };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 404)
    ret = 0;
  else if (resp.status == 200 && resp.docker_digest && sw_digest_validate (resp.docker_digest, NULL) == 0)
    {
      snprintf (digest, SW_DIGEST_BUFSZ, "%s", resp.docker_digest);
      ret = 1;
    }
  else
    sw_resp_error (&req, &resp, err);
out:
  sw_resp_clear (&resp);
  return ret;
}

int
sw_manifest_put (sw_registry *r, const sw_ref *repo, const char *reference, const char *media_type,
                 const void *body, size_t len, sw_error **err)
{
  cleanup_free char *scope = sw_scope_push (repo);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/manifests/%s", repo->path, reference);
  cleanup_free char *ct = sw_xasprintf ("Content-Type: %s", media_type);
  const char *hdrs[] = { ct, NULL };
  sw_req req = { .method = "PUT", .repo = repo, .url = url, .scope = scope, .headers = hdrs, .body = body,
                 .body_len = len };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status != 201 && resp.status != 200 && resp.status != 202)
    {
      sw_resp_error (&req, &resp, err);
      goto out;
    }
  ret = 0;
out:
  sw_resp_clear (&resp);
  if (ret < 0)
    sw_error_wrap (err, "pushing manifest %s/%s:%s", repo->domain, repo->path, reference);
  return ret;
}

int
sw_blob_exists (sw_registry *r, const sw_ref *repo, const char *digest, int64_t *size, sw_error **err)
{
  cleanup_free char *scope = sw_scope_pull (repo);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/blobs/%s", repo->path, digest);
  sw_req req = { .method = "HEAD", .repo = repo, .url = url, .scope = scope, .follow_redirects = true };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 200)
    {
      if (size)
        *size = resp.content_length;
      ret = 1;
    }
  else if (resp.status == 404 || resp.status == 401 || resp.status == 403)
    ret = 0; /* not visible to us: upload it */
  else
    sw_resp_error (&req, &resp, err);
out:
  sw_resp_clear (&resp);
  return ret;
}

struct verify
{
  sw_sha256 *h;
  int64_t n;
  int64_t limit;
  sw_write_fn sink;
  void *ud;
};

static int
verify_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct verify *v = ud;
  v->n += (int64_t) n;
  if (v->limit >= 0 && v->n > v->limit)
    return sw_error_make (err, EIO, "the registry sent more bytes than the blob's size (%lld)", (long long) v->limit);
  sw_sha256_update (v->h, p, n);
  return v->sink (v->ud, p, n, err);
}

int
sw_blob_get (sw_registry *r, const sw_ref *repo, const char *digest, int64_t size, sw_write_fn sink, void *ud,
             sw_error **err)
{
  if (sw_digest_validate (digest, err) < 0)
    return -1;
  if (strncmp (digest, "sha256:", 7) != 0)
    return sw_error_make (err, ENOTSUP, "blob %s: only sha256 blobs can be verified", digest);
  cleanup_free char *scope = sw_scope_pull (repo);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/blobs/%s", repo->path, digest);
  struct verify v = { .h = sw_sha256_new (), .limit = size, .sink = sink, .ud = ud };
  sw_req req = { .method = "GET", .repo = repo, .url = url, .scope = scope, .sink = verify_write, .sink_ud = &v,
                 .follow_redirects = true };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status != 200)
    {
      sw_resp_error (&req, &resp, err);
      goto out;
    }
  char got[SW_DIGEST_BUFSZ];
  sw_sha256_final (v.h, got);
  if (strcmp (got, digest) != 0)
    {
      sw_error_make (err, EIO, "the registry sent bytes whose sha256 is %s; refusing them", got);
      goto out;
    }
  if (size >= 0 && v.n != size)
    {
      sw_error_make (err, EIO, "the registry sent %lld bytes, the descriptor says %lld", (long long) v.n, (long long) size);
      goto out;
    }
  ret = 0;
out:
  sw_sha256_free (v.h);
  sw_resp_clear (&resp);
  if (ret < 0)
    sw_error_wrap (err, "fetching blob %s from %s/%s", digest, repo->domain, repo->path);
  return ret;
}

struct membuf
{
  sw_buf *b;
  size_t limit;
};

static int
mem_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct membuf *m = ud;
  if (m->b->len + n > m->limit)
    return sw_error_make (err, EFBIG, "blob larger than %zu bytes", m->limit);
  sw_buf_append (m->b, p, n);
  return 0;
}

int
sw_blob_get_small (sw_registry *r, const sw_ref *repo, const char *digest, size_t limit, sw_buf *out, sw_error **err)
{
  struct membuf m = { out, limit };
  size_t before = out->len;
  if (doc_read (r, digest, limit, out))
    return 0;
  if (sw_blob_get (r, repo, digest, -1, mem_write, &m, err) < 0)
    return -1;
  doc_write (r, digest, out->data + before, out->len - before);
  return 0;
}

int
sw_blob_mount (sw_registry *r, const sw_ref *repo, const char *digest, const sw_ref *from, sw_error **err)
{
  if (strcmp (repo->domain, from->domain) != 0)
    return 0;
  cleanup_free char *scope = sw_xasprintf ("repository:%s:pull,push repository:%s:pull", repo->path, from->path);
  CURL *c = curl_easy_init ();
  char *fe = curl_easy_escape (c, from->path, 0);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/blobs/uploads/?mount=%s&from=%s", repo->path, digest, fe);
  curl_free (fe);
  curl_easy_cleanup (c);
  sw_req req = { .method = "POST", .repo = repo, .url = url, .scope = scope };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 201)
    ret = 1;
  else if (resp.status == 202)
    {
      if (resp.location)
        sw_upload_cancel (r, repo, scope, resp.location);
      ret = 0;
    }
  else if (resp.status == 401 || resp.status == 403 || resp.status == 404)
    ret = 0;
  else
    sw_resp_error (&req, &resp, err);
out:
  sw_resp_clear (&resp);
  return ret;
}
