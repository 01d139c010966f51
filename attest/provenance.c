/* attest/provenance.c — see provenance.h. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "attest/provenance.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "image/json.h"
#include "registry/ref.h"

/* BuildKit's build types: v1's names its definitions document, v0.2's is older. */
#define BUILD_TYPE_V1 "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
#define BUILD_TYPE_V02 "https://mobyproject.org/buildkit@v1"
#define FRONTEND "dockerfile.v0"

/* ---- options ------------------------------------------------------------------------- */

static int
parse_bool_value (const char *key, const char *v, bool *out, sw_error **err)
{
  if (strcmp (v, "true") == 0 || strcmp (v, "1") == 0)
    *out = true;
  else if (strcmp (v, "false") == 0 || strcmp (v, "0") == 0)
    *out = false;
  else
    return sw_error_make (err, EINVAL, "invalid provenance %s=%s: expected true or false", key, v);
  return 0;
}

int
sw_prov_opts_parse (const char *spec, sw_prov_opts *o, char **keep, sw_error **err)
{
  char *copy = sw_xstrdup (spec ? spec : "");
  char *save = NULL;

  memset (o, 0, sizeof *o);
  *keep = copy;
  for (char *f = strtok_r (copy, ",", &save); f; f = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (f, '=');
      const char *v = eq ? eq + 1 : "";
      if (eq)
        *eq = '\0';
      if (strcmp (f, "type") == 0 || strcmp (f, "disabled") == 0 || strcmp (f, "inline-only") == 0)
        continue; /* decided by the caller */
      if (strcmp (f, "mode") == 0)
        {
          if (strcmp (v, "max") == 0 || strcmp (v, "full") == 0)
            o->max = true;
          else if (strcmp (v, "min") == 0)
            o->max = false;
          else
            return sw_error_make (err, EINVAL, "invalid provenance mode \"%s\": use min or max", v);
        }
      else if (strcmp (f, "builder-id") == 0)
        o->builder_id = v;
      else if (strcmp (f, "version") == 0)
        {
          if (strcmp (v, "v1") == 0)
            o->v02 = false;
          else if (strcmp (v, "v0.2") == 0)
            o->v02 = true;
          else
            return sw_error_make (err, EINVAL, "invalid provenance version \"%s\": use v1 or v0.2", v);
        }
      else if (strcmp (f, "reproducible") == 0)
        {
          if (parse_bool_value (f, v, &o->reproducible, err) < 0)
            return -1;
        }
      else
        return sw_error_make (err, EINVAL,
                              "unknown provenance option \"%s\": slipway knows mode, builder-id, version and "
                              "reproducible",
                              f);
    }
  return 0;
}

/* ---- purls and URLs ------------------------------------------------------------------ */

static void
pct (sw_buf *b, const char *s, const char *keep)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if (isalnum (*p) || strchr ("-._~", *p) || (keep && strchr (keep, *p)))
      sw_buf_putc (b, (char) *p);
    else
      sw_buf_printf (b, "%%%02X", *p);
}

char *
sw_docker_purl (const char *ref, const sw_platform *platform)
{
  sw_ref *r = NULL;
  sw_buf b = SW_BUF_INIT;
  const char *sep = "?";

  if (sw_ref_parse (ref, &r, NULL) < 0)
    {
      /* not a reference docker would take: named as it is */
      sw_buf_puts (&b, "pkg:docker/");
      pct (&b, ref, "/:");
      return sw_buf_steal (&b);
    }
  /* the familiar name: docker.io and library/ left out */
  cleanup_free char *name = NULL;
  if (strcmp (r->domain, "docker.io") == 0)
    name = sw_xstrdup (strncmp (r->path, "library/", 8) == 0 && strchr (r->path + 8, '/') == NULL ? r->path + 8
                                                                                                  : r->path);
  else
    name = sw_xasprintf ("%s/%s", r->domain, r->path);
  sw_buf_puts (&b, "pkg:docker/");
  pct (&b, name, "/:");
  if (r->tag)
    {
      sw_buf_putc (&b, '@');
      pct (&b, r->tag, NULL);
    }
  if (r->digest)
    {
      sw_buf_printf (&b, "%sdigest=", sep);
      pct (&b, r->digest, NULL);
      sep = "&";
    }
  if (platform)
    {
      cleanup_free char *p = sw_platform_format (platform);
      sw_buf_printf (&b, "%splatform=", sep);
      pct (&b, p, NULL);
    }
  sw_ref_free (r);
  return sw_buf_steal (&b);
}

char *
sw_redact_url (const char *url)
{
  const char *scheme = strstr (url, "://");
  if (scheme == NULL)
    return sw_xstrdup (url);
  const char *host = scheme + 3;
  const char *end = host + strcspn (host, "/?#");
  const char *at = memrchr (host, '@', (size_t) (end - host));
  if (at == NULL)
    return sw_xstrdup (url);
  return sw_xasprintf ("%.*s%s", (int) (host - url), url, at + 1);
}

/* ---- the predicate -------------------------------------------------------------------- */

static json_t *
digest_set (const char *digest)
{
  json_t *d = json_object ();
  const char *colon = digest ? strchr (digest, ':') : NULL;
  if (colon)
    {
      cleanup_free char *alg = sw_xstrndup (digest, (size_t) (colon - digest));
      json_object_set_new (d, alg, json_string (colon + 1));
    }
  return d;
}

/* A Git commit: sha1, or sha256 for a SHA-256 repository. */
static json_t *
commit_digest (const char *commit)
{
  json_t *d = json_object ();
  json_object_set_new (d, strlen (commit) == 64 ? "sha256" : "sha1", json_string (commit));
  return d;
}

static json_t *
resolved_dependencies (const sw_prov_input *in, const char *uri_key)
{
  json_t *a = json_array ();
  for (size_t i = 0; i < in->n_images; i++)
    {
      json_t *m = json_object ();
      cleanup_free char *purl = sw_docker_purl (in->images[i].ref, in->images[i].platform);
      json_object_set_new (m, uri_key, json_string (purl));
      if (in->images[i].digest && *in->images[i].digest)
        json_object_set_new (m, "digest", digest_set (in->images[i].digest));
      json_array_append_new (a, m);
    }
  for (size_t i = 0; i < in->n_urls; i++)
    {
      json_t *m = json_object ();
      cleanup_free char *u = sw_redact_url (in->urls[i].url);
      json_object_set_new (m, uri_key, json_string (u));
      if (in->urls[i].digest && *in->urls[i].digest)
        json_object_set_new (m, "digest", digest_set (in->urls[i].digest));
      json_array_append_new (a, m);
    }
  return a;
}

/* Whether min mode drops an arg (its values are the user's: build args and labels). */
static bool
min_drops (const char *arg)
{
  return strncmp (arg, "build-arg:", 10) == 0 || strncmp (arg, "label:", 6) == 0;
}

/* The request: frontend, args (sorted, as Go writes a map), secrets, ssh, locals. */
static json_t *
request (const sw_prov_opts *o, const sw_prov_input *in, bool *complete)
{
  json_t *req = json_object ();
  size_t n = 0;
  *complete = true;
  json_object_set_new (req, "frontend", json_string (FRONTEND));
  while (in->args && in->args[n])
    n++;
  const char **keys = sw_xcalloc (n + 1, sizeof *keys);
  json_t **vals = sw_xcalloc (n + 1, sizeof *vals);
  char **owned = sw_xcalloc (n + 1, sizeof *owned);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      const char *eq = strchr (in->args[i], '=');
      if (eq == NULL)
        continue;
      if (!o->max && min_drops (in->args[i]))
        {
          *complete = false;
          continue;
        }
      owned[k] = sw_xstrndup (in->args[i], (size_t) (eq - in->args[i]));
      bool dup = false;
      for (size_t j = 0; j < k; j++)
        dup |= strcmp (keys[j], owned[k]) == 0;
      if (dup)
        {
          free (owned[k]);
          owned[k] = NULL;
          continue;
        }
      keys[k] = owned[k];
      vals[k] = json_string (eq + 1);
      k++;
    }
  if (k > 0)
    json_object_set_new (req, "args", sw_json_sorted_object (keys, vals, k));
  for (size_t i = 0; i < k; i++)
    free (owned[i]);
  free (owned);
  free (keys);
  free (vals);
  if (o->max)
    {
      /* the IDs a build used, never their values */
      const char *const *lists[2] = { in->secret_ids, in->ssh_ids };
      const char *names[2] = { "secrets", "ssh" };
      for (int l = 0; l < 2; l++)
        if (lists[l] && lists[l][0])
          {
            json_t *a = json_array ();
            for (size_t i = 0; lists[l][i]; i++)
              {
                json_t *s = json_object ();
                json_object_set_new (s, "id", json_string (lists[l][i]));
                json_array_append_new (a, s);
              }
            json_object_set_new (req, names[l], a);
          }
    }
  if (in->locals && in->locals[0])
    {
      json_t *a = json_array ();
      for (size_t i = 0; in->locals[i]; i++)
        {
          json_t *s = json_object ();
          json_object_set_new (s, "name", json_string (in->locals[i]));
          json_array_append_new (a, s);
        }
      json_object_set_new (req, "locals", a);
    }
  return req;
}

/* buildkit_metadata: the Git checkout (vcs) and, with max, the Dockerfile (source). */
static json_t *
buildkit_metadata (const sw_prov_opts *o, const sw_prov_input *in)
{
  json_t *m = json_object ();
  if (in->vcs_source || in->vcs_revision)
    {
      json_t *vcs = json_object ();
      if (in->vcs_revision)
        json_object_set_new (vcs, "revision", json_string (in->vcs_revision));
      if (in->vcs_source)
        {
          cleanup_free char *u = sw_redact_url (in->vcs_source);
          json_object_set_new (vcs, "source", json_string (u));
        }
      json_object_set_new (m, "vcs", vcs);
    }
  if (o->max && in->dockerfile_text)
    {
      json_t *info = json_object ();
      json_object_set_new (info, "filename", json_string (in->dockerfile_path ? in->dockerfile_path : "Dockerfile"));
      json_object_set_new (info, "language", json_string ("Dockerfile"));
      /* bytes, base64 as Go's encoding/json writes a []byte */
      size_t n = strlen (in->dockerfile_text);
      static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      sw_buf b64 = SW_BUF_INIT;
      const unsigned char *d = (const unsigned char *) in->dockerfile_text;
      for (size_t i = 0; i < n; i += 3)
        {
          unsigned v = (unsigned) d[i] << 16 | (i + 1 < n ? (unsigned) d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
          sw_buf_putc (&b64, tbl[v >> 18 & 63]);
          sw_buf_putc (&b64, tbl[v >> 12 & 63]);
          sw_buf_putc (&b64, i + 1 < n ? tbl[v >> 6 & 63] : '=');
          sw_buf_putc (&b64, i + 2 < n ? tbl[v & 63] : '=');
        }
      json_object_set_new (info, "data", json_string (sw_buf_str (&b64)));
      sw_buf_free (&b64);
      json_t *infos = json_array ();
      json_array_append_new (infos, info);
      json_t *src = json_object ();
      json_object_set_new (src, "infos", infos);
      json_object_set_new (m, "source", src);
    }
  return m;
}

static json_t *
config_source (const sw_prov_input *in, const char *path_key)
{
  json_t *cs = json_object ();
  /* a Git checkout: the repository and the commit the Dockerfile was read at (BuildKit
   * writes the same for a Git URL context) */
  if (in->vcs_source && in->vcs_revision)
    {
      cleanup_free char *u = sw_redact_url (in->vcs_source);
      json_object_set_new (cs, "uri", json_string (u));
      json_object_set_new (cs, "digest", commit_digest (in->vcs_revision));
    }
  if (in->dockerfile_path)
    json_object_set_new (cs, path_key, json_string (in->dockerfile_path));
  return cs;
}

const char *
sw_provenance_predicate (const sw_prov_opts *o, const sw_prov_input *in, sw_buf *out)
{
  bool request_complete;
  json_t *req = request (o, in, &request_complete);
  /* local sources (the context dir) are not pinned by any digest: as BuildKit says, the
   * dependencies are then incomplete */
  bool deps_complete = !(in->locals && in->locals[0]);
  json_t *p = json_object ();

  if (!o->v02)
    {
      json_t *bd = json_object ();
      json_object_set_new (bd, "buildType", json_string (BUILD_TYPE_V1));
      json_t *ext = json_object ();
      json_object_set_new (ext, "configSource", config_source (in, "path"));
      json_object_set_new (ext, "request", req);
      json_object_set_new (bd, "externalParameters", ext);
      json_t *internal = json_object ();
      json_object_set_new (internal, "builderPlatform", json_string (in->builder_platform));
      json_object_set_new (bd, "internalParameters", internal);
      json_t *deps = resolved_dependencies (in, "uri");
      if (json_array_size (deps) > 0)
        json_object_set_new (bd, "resolvedDependencies", deps);
      else
        json_decref (deps);
      json_object_set_new (p, "buildDefinition", bd);

      json_t *rd = json_object ();
      json_t *builder = json_object ();
      json_object_set_new (builder, "id", json_string (o->builder_id ? o->builder_id : ""));
      json_object_set_new (rd, "builder", builder);
      json_t *md = json_object ();
      json_object_set_new (md, "invocationID", json_string (in->invocation_id));
      json_object_set_new (md, "startedOn", json_string (in->started_on));
      json_object_set_new (md, "finishedOn", json_string (in->finished_on));
      json_object_set_new (md, "buildkit_metadata", buildkit_metadata (o, in));
      json_t *c = json_object ();
      json_object_set_new (c, "request", json_boolean (request_complete));
      json_object_set_new (c, "resolvedDependencies", json_boolean (deps_complete));
      json_object_set_new (md, "buildkit_completeness", c);
      if (o->reproducible)
        json_object_set_new (md, "buildkit_reproducible", json_true ());
      json_object_set_new (rd, "metadata", md);
      json_object_set_new (p, "runDetails", rd);
    }
  else
    {
      json_t *builder = json_object ();
      json_object_set_new (builder, "id", json_string (o->builder_id ? o->builder_id : ""));
      json_object_set_new (p, "builder", builder);
      json_object_set_new (p, "buildType", json_string (BUILD_TYPE_V02));
      json_t *mats = resolved_dependencies (in, "uri");
      if (json_array_size (mats) > 0)
        json_object_set_new (p, "materials", mats);
      else
        json_decref (mats);
      json_t *inv = json_object ();
      json_object_set_new (inv, "configSource", config_source (in, "entryPoint"));
      json_object_set_new (inv, "parameters", req);
      json_t *env = json_object ();
      json_object_set_new (env, "platform", json_string (in->builder_platform));
      json_object_set_new (inv, "environment", env);
      json_object_set_new (p, "invocation", inv);
      json_t *md = json_object ();
      json_object_set_new (md, "buildInvocationID", json_string (in->invocation_id));
      json_object_set_new (md, "buildStartedOn", json_string (in->started_on));
      json_object_set_new (md, "buildFinishedOn", json_string (in->finished_on));
      json_t *c = json_object ();
      json_object_set_new (c, "parameters", json_boolean (request_complete));
      json_object_set_new (c, "environment", json_true ());
      json_object_set_new (c, "materials", json_boolean (deps_complete));
      json_object_set_new (md, "completeness", c);
      json_object_set_new (md, "reproducible", json_boolean (o->reproducible));
      json_object_set_new (md, "https://mobyproject.org/buildkit@v1#metadata", buildkit_metadata (o, in));
      json_object_set_new (p, "metadata", md);
    }
  sw_json_dump (p, out);
  json_decref (p);
  return o->v02 ? SW_PREDICATE_SLSA02 : SW_PREDICATE_SLSA1;
}
