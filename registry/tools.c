/* registry/tools.c — the public registry tools of slipway.h: imagetools inspect/create,
 * login, logout.  Copies stream every blob registry to registry through a bounded pool of
 * threads; nothing is written to local disk. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "image/platform.h"
#include "registry/auth.h"
#include "registry/ops.h"
#include "registry/resolve.h"
#include "registry/sink.h"
#include "registry/upload.h"
#include "slipway.h"

/* The public header names the digest buffer size for its callers; it is the same buffer. */
_Static_assert (SW_IMAGE_DIGEST_BUFSZ == SW_DIGEST_BUFSZ, "slipway.h's SW_IMAGE_DIGEST_BUFSZ is image/digest.h's SW_DIGEST_BUFSZ");

static sw_registry *
new_registry (const char *const *insecure)
{
  sw_registry_options o = { .insecure = insecure };
  sw_registry_options_from_env (&o); /* these public calls have no options of their own */
  return sw_registry_new (&o);
}

static char *
platform_string (const sw_desc_platform *p)
{
  if (p == NULL)
    return sw_xstrdup ("unknown");
  return sw_xasprintf ("%s/%s%s%s", p->os, p->architecture, p->variant ? "/" : "", p->variant ? p->variant : "");
}

int
sw_imagetools_inspect (const char *refstr, const char *platform, int raw, const char *const *insecure, FILE *out,
                       sw_error **err)
{
  sw_ref *ref = NULL;
  cleanup_platform sw_platform want = SW_PLATFORM_INIT;
  if (platform && sw_platform_parse (platform, &want, err) < 0)
    return sw_error_wrap (err, "--platform");
  if (sw_ref_parse (refstr, &ref, err) < 0)
    return -1;
  sw_registry *r = new_registry (insecure);
  sw_fetched f = { 0 };
  cleanup_free char *name = NULL, *full = NULL;
  int ret = -1;
  if (platform ? sw_resolve_image (r, ref, &want, &f, NULL, err) < 0 : sw_manifest_get (r, ref, &f, err) < 0)
    goto out;
  if (raw)
    {
      fwrite (f.body.data, 1, f.body.len, out);
      ret = 0;
      goto out;
    }
  name = sw_ref_name (ref);
  full = sw_ref_string (ref);
  fprintf (out, "Name:      %s\nMediaType: %s\nDigest:    %s\n", full, f.media_type, f.digest);
  if (platform && sw_media_type_kind (f.media_type) == SW_KIND_MANIFEST)
    {
      /* what FROM would get: say which platform the chosen image is, from its config */
      sw_image_config *cfg = NULL;
      if (sw_fetch_config (r, ref, &f, &cfg, err) < 0)
        goto out;
      fprintf (out, "Platform:  %s/%s%s%s\n", cfg->os ? cfg->os : "?", cfg->architecture ? cfg->architecture : "?",
               cfg->variant ? "/" : "", cfg->variant ? cfg->variant : "");
      sw_image_config_free (cfg);
    }
  if (sw_media_type_kind (f.media_type) == SW_KIND_INDEX)
    {
      sw_index *ix = NULL;
      if (sw_index_parse (f.body.data, f.body.len, &ix, err) < 0)
        goto out;
      fprintf (out, "           \nManifests: \n");
      for (size_t i = 0; i < ix->n_manifests; i++)
        {
          cleanup_free char *plat = platform_string (ix->manifests[i].platform);
          fprintf (out, "%s  Name:        %s@%s\n  MediaType:   %s\n  Platform:    %s\n", i ? "                 \n" : "",
                   name, ix->manifests[i].digest, ix->manifests[i].media_type, plat);
          for (size_t a = 0; a < ix->manifests[i].n_annotations; a++)
            fprintf (out, "  Annotations: %s: %s\n", ix->manifests[i].annotations[a].key,
                     ix->manifests[i].annotations[a].value);
        }
      sw_index_free (ix);
    }
  ret = 0;
out:
  sw_fetched_clear (&f);
  sw_registry_free (r);
  sw_ref_free (ref);
  if (ret < 0)
    sw_error_wrap (err, "inspecting %s", refstr);
  return ret;
}

/* ---- copying ---- */

struct blob_job
{
  char *digest;
  int64_t size;
  sw_ref *src; /* repository it is read from */
};

struct plan
{
  sw_registry *r;
  const sw_ref *dst;
  struct blob_job *jobs;
  size_t n_jobs;
  size_t next;
  pthread_mutex_t mu;
  sw_error *first_err;
};

static void
plan_add_blob (struct plan *p, const sw_descriptor *d, const sw_ref *src)
{
  for (size_t i = 0; i < p->n_jobs; i++)
    if (strcmp (p->jobs[i].digest, d->digest) == 0)
      return;
  p->jobs = sw_xreallocarray (p->jobs, p->n_jobs + 1, sizeof *p->jobs);
  p->jobs[p->n_jobs++] = (struct blob_job){ sw_xstrdup (d->digest), d->size, sw_ref_dup (src) };
}


static void *
worker (void *arg)
{
  struct plan *p = arg;
  for (;;)
    {
      pthread_mutex_lock (&p->mu);
      if (p->next >= p->n_jobs || p->first_err)
        {
          pthread_mutex_unlock (&p->mu);
          return NULL;
        }
      struct blob_job *j = &p->jobs[p->next++];
      pthread_mutex_unlock (&p->mu);
      sw_error *e = NULL;
      if (sw_blob_copy (p->r, p->dst, j->src, j->digest, j->size, &e) < 0)
        {
          sw_error_wrap (&e, "copying blob %s", j->digest);
          pthread_mutex_lock (&p->mu);
          if (p->first_err == NULL)
            p->first_err = e;
          else
            sw_error_free (e);
          pthread_mutex_unlock (&p->mu);
        }
    }
}

static int
run_plan (struct plan *p, sw_error **err)
{
  int n = sw_registry_parallel (p->r);
  if ((size_t) n > p->n_jobs)
    n = (int) p->n_jobs;
  pthread_t th[16];
  if (n > 16)
    n = 16;
  int started = 0;
  for (int i = 0; i < n; i++)
    if (pthread_create (&th[i], NULL, worker, p) == 0)
      started++;
  if (started == 0 && p->n_jobs)
    worker (p);
  for (int i = 0; i < started; i++)
    pthread_join (th[i], NULL);
  if (p->first_err)
    {
      sw_error_move (err, &p->first_err);
      return -1;
    }
  return 0;
}

/* A manifest to put into the destination, by digest. */
struct man
{
  sw_fetched f;
  sw_desc_platform *platform; /* from the index, or the config */
  sw_kv *annotations;
  size_t n_annotations;
  size_t src_idx; /* the source it comes from (blobs are read there) */
};

static int
collect_manifest (sw_registry *r, struct plan *p, const sw_ref *src, sw_fetched *f, sw_error **err)
{
  sw_manifest *m = NULL;
  if (sw_manifest_parse (f->body.data, f->body.len, &m, err) < 0)
    return -1;
  plan_add_blob (p, &m->config, src);
  for (size_t i = 0; i < m->n_layers; i++)
    /* foreign layers live outside the registry (Windows base layers): not copied */
    if (strcmp (m->layers[i].media_type, SW_MT_DOCKER_FOREIGN_LAYER) != 0)
      plan_add_blob (p, &m->layers[i], src);
  sw_manifest_free (m);
  return 0;
}

/* Platform of a single image, from its config. */
static int
platform_from_config (sw_registry *r, const sw_ref *src, sw_fetched *f, sw_desc_platform **out, sw_error **err)
{
  sw_manifest *m = NULL;
  if (sw_manifest_parse (f->body.data, f->body.len, &m, err) < 0)
    return -1;
  sw_buf cfg = SW_BUF_INIT;
  int ret = sw_blob_get_small (r, src, m->config.digest, 4u << 20, &cfg, err);
  if (ret == 0)
    {
      json_t *doc = json_loadb (sw_buf_str (&cfg), cfg.len, 0, NULL);
      const char *os = json_string_value (json_object_get (doc, "os"));
      const char *arch = json_string_value (json_object_get (doc, "architecture"));
      const char *variant = json_string_value (json_object_get (doc, "variant"));
      if (os && arch)
        {
          *out = sw_xzalloc (sizeof **out);
          (*out)->os = sw_xstrdup (os);
          (*out)->architecture = sw_xstrdup (arch);
          (*out)->variant = variant && *variant ? sw_xstrdup (variant) : NULL;
        }
      json_decref (doc);
    }
  sw_buf_free (&cfg);
  sw_manifest_free (m);
  return ret;
}

static void
free_mans (struct man *ms, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      sw_fetched_clear (&ms[i].f);
      if (ms[i].platform)
        {
          sw_descriptor d = { 0 };
          d.platform = ms[i].platform;
          sw_descriptor_clear (&d);
        }
      for (size_t a = 0; a < ms[i].n_annotations; a++)
        free (ms[i].annotations[a].key), free (ms[i].annotations[a].value);
      free (ms[i].annotations);
    }
  free (ms);
}

int
sw_imagetools_create (const char *const *tags, const char *const *sources, const char *const *insecure,
                      char *digest_out, sw_error **err)
{
  size_t n_tags = 0, n_src = 0;
  while (tags && tags[n_tags])
    n_tags++;
  while (sources && sources[n_src])
    n_src++;
  if (n_tags == 0)
    return sw_error_make (err, EINVAL, "imagetools create: at least one -t/--tag is required");
  if (n_src == 0)
    return sw_error_make (err, EINVAL, "imagetools create: at least one source image is required");

  sw_ref **dst = sw_xcalloc (n_tags, sizeof *dst);
  sw_ref **src = sw_xcalloc (n_src, sizeof *src);
  sw_registry *r = new_registry (insecure);
  struct man *mans = NULL;
  size_t n_mans = 0;
  sw_fetched top = { 0 }; /* the document the tags will name */
  int ret = -1;
  for (size_t i = 0; i < n_tags; i++)
    if (sw_ref_parse (tags[i], &dst[i], err) < 0)
      goto out;
    else if (dst[i]->digest)
      {
        sw_error_make (err, EINVAL, "imagetools create: tag %s must not have a digest", tags[i]);
        goto out;
      }
  for (size_t i = 0; i < n_src; i++)
    if (sw_ref_parse (sources[i], &src[i], err) < 0)
      goto out;

  /* Resolve every source: its top document and every image manifest under it. */
  for (size_t s = 0; s < n_src; s++)
    {
      sw_fetched f = { 0 };
      if (sw_manifest_get (r, src[s], &f, err) < 0)
        goto out;
      if (sw_media_type_kind (f.media_type) == SW_KIND_INDEX)
        {
          sw_index *ix = NULL;
          if (sw_index_parse (f.body.data, f.body.len, &ix, err) < 0)
            {
              sw_fetched_clear (&f);
              goto out;
            }
          for (size_t i = 0; i < ix->n_manifests; i++)
            {
              sw_ref *child = sw_ref_dup (src[s]);
              free (child->tag), child->tag = NULL;
              free (child->digest), child->digest = sw_xstrdup (ix->manifests[i].digest);
              mans = sw_xreallocarray (mans, n_mans + 1, sizeof *mans);
              struct man *m = &mans[n_mans];
              memset (m, 0, sizeof *m);
              m->src_idx = s;
              int rc = sw_manifest_get (r, child, &m->f, err);
              sw_ref_free (child);
              if (rc < 0)
                {
                  sw_index_free (ix);
                  sw_fetched_clear (&f);
                  goto out;
                }
              n_mans++;
              sw_descriptor tmp;
              sw_descriptor_copy (&tmp, &ix->manifests[i]);
              m->platform = steal_pointer (&tmp.platform);
              m->annotations = steal_pointer (&tmp.annotations);
              m->n_annotations = tmp.n_annotations, tmp.n_annotations = 0;
              sw_descriptor_clear (&tmp);
            }
          sw_index_free (ix);
        }
      else
        {
          mans = sw_xreallocarray (mans, n_mans + 1, sizeof *mans);
          memset (&mans[n_mans], 0, sizeof *mans);
          mans[n_mans].src_idx = s;
          sw_buf_append (&mans[n_mans].f.body, f.body.data, f.body.len);
          mans[n_mans].f.media_type = sw_xstrdup (f.media_type);
          memcpy (mans[n_mans].f.digest, f.digest, SW_DIGEST_BUFSZ);
          n_mans++;
          if (n_src > 1 && platform_from_config (r, src[s], &mans[n_mans - 1].f, &mans[n_mans - 1].platform, err) < 0)
            {
              sw_fetched_clear (&f);
              goto out;
            }
        }
      if (n_src == 1)
        top = f;
      else
        sw_fetched_clear (&f);
    }

  /* Several sources: one index of every image manifest (OCI unless all are Docker's). */
  if (n_src > 1)
    {
      sw_index ix = { 0 };
      bool all_docker = true;
      for (size_t i = 0; i < n_mans; i++)
        if (strcmp (mans[i].f.media_type, SW_MT_DOCKER_MANIFEST) != 0)
          all_docker = false;
      ix.media_type = sw_xstrdup (all_docker ? SW_MT_DOCKER_LIST : SW_MT_OCI_INDEX);
      ix.manifests = sw_xcalloc (n_mans + 1, sizeof *ix.manifests);
      for (size_t i = 0; i < n_mans; i++)
        {
          for (size_t j = 0; j < ix.n_manifests; j++)
            if (strcmp (ix.manifests[j].digest, mans[i].f.digest) == 0)
              goto dup;
          sw_descriptor *d = &ix.manifests[ix.n_manifests++];
          d->media_type = sw_xstrdup (mans[i].f.media_type);
          d->digest = sw_xstrdup (mans[i].f.digest);
          d->size = (int64_t) mans[i].f.body.len;
          if (mans[i].platform)
            {
              sw_descriptor tmp = { 0 };
              sw_descriptor src_d = { .platform = mans[i].platform };
              sw_descriptor_copy (&tmp, &src_d);
              d->platform = steal_pointer (&tmp.platform);
            }
        dup:;
        }
      sw_buf body = SW_BUF_INIT;
      sw_index_serialize (&ix, &body);
      top.body = body;
      top.media_type = sw_xstrdup (ix.media_type);
      sw_digest_bytes (body.data, body.len, top.digest);
      free (ix.media_type);
      for (size_t i = 0; i < ix.n_manifests; i++)
        sw_descriptor_clear (&ix.manifests[i]);
      free (ix.manifests);
    }

  /* For each destination repository: blobs, then manifests by digest, then the tags. */
  for (size_t t = 0; t < n_tags; t++)
    {
      bool done_repo = false;
      for (size_t u = 0; u < t; u++)
        if (strcmp (dst[u]->domain, dst[t]->domain) == 0 && strcmp (dst[u]->path, dst[t]->path) == 0)
          done_repo = true;
      if (done_repo)
        continue;
      struct plan p = { .r = r, .dst = dst[t] };
      pthread_mutex_init (&p.mu, NULL);
      int rc = 0;
      for (size_t i = 0; i < n_mans && rc == 0; i++)
        rc = collect_manifest (r, &p, src[mans[i].src_idx], &mans[i].f, err);
      if (rc == 0)
        rc = run_plan (&p, err);
      for (size_t i = 0; i < p.n_jobs; i++)
        free (p.jobs[i].digest), sw_ref_free (p.jobs[i].src);
      free (p.jobs);
      pthread_mutex_destroy (&p.mu);
      if (rc < 0)
        goto out;
      bool top_is_index = sw_media_type_kind (top.media_type) == SW_KIND_INDEX;
      if (top_is_index)
        for (size_t i = 0; i < n_mans; i++)
          if (sw_manifest_put (r, dst[t], mans[i].f.digest, mans[i].f.media_type, mans[i].f.body.data,
                               mans[i].f.body.len, err) < 0)
            goto out;
      if (sw_manifest_put (r, dst[t], top.digest, top.media_type, top.body.data, top.body.len, err) < 0)
        goto out;
    }
  for (size_t t = 0; t < n_tags; t++)
    if (sw_manifest_put (r, dst[t], dst[t]->tag, top.media_type, top.body.data, top.body.len, err) < 0)
      goto out;
  if (digest_out)
    memcpy (digest_out, top.digest, SW_DIGEST_BUFSZ);
  ret = 0;
out:
  sw_fetched_clear (&top);
  free_mans (mans, n_mans);
  for (size_t i = 0; i < n_tags; i++)
    sw_ref_free (dst[i]);
  for (size_t i = 0; i < n_src; i++)
    sw_ref_free (src[i]);
  free (dst);
  free (src);
  sw_registry_free (r);
  if (ret < 0)
    sw_error_wrap (err, "imagetools create");
  return ret;
}

/* ---- login ---- */

static char *
server_host (const char *server)
{
  if (server == NULL || *server == '\0')
    return sw_xstrdup ("docker.io");
  const char *s = server;
  if (strncmp (s, "https://", 8) == 0)
    s += 8;
  else if (strncmp (s, "http://", 7) == 0)
    s += 7;
  char *h = sw_xstrndup (s, strcspn (s, "/"));
  if (strcmp (h, "index.docker.io") == 0 || strcmp (h, "registry-1.docker.io") == 0)
    {
      free (h);
      h = sw_xstrdup ("docker.io");
    }
  return h;
}

int
sw_registry_login (const char *server, const char *username, const char *password, const char *const *insecure,
                   sw_error **err)
{
  if (username == NULL || *username == '\0' || password == NULL || *password == '\0')
    return sw_error_make (err, EINVAL, "login: a username and a password are required");
  cleanup_free char *host = server_host (server);
  sw_registry *r = new_registry (insecure);
  sw_registry_set_creds (r, host, username, password);
  sw_ref ref = { .domain = host, .path = (char *) "", .tag = NULL, .digest = NULL };
  sw_req req = { .method = "GET", .repo = &ref, .url = "/v2/", .scope = "" };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) < 0)
    goto out;
  if (resp.status == 401 || resp.status == 403)
    {
      sw_error_make (err, EACCES, "login to %s: the registry refused the credentials for user %s (HTTP %ld)", host,
                     username, resp.status);
      goto out;
    }
  if (resp.status != 200)
    {
      sw_resp_error (&req, &resp, err);
      goto out;
    }
  ret = sw_auth_store (host, username, password, NULL, err);
out:
  sw_resp_clear (&resp);
  sw_registry_free (r);
  return ret;
}

int
sw_registry_logout (const char *server, sw_error **err)
{
  cleanup_free char *host = server_host (server);
  return sw_auth_erase (host, err);
}
