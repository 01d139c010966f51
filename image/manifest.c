/* image/manifest.c — see manifest.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/xalloc.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "image/json.h"
#include "image/mediatype.h"

static char *
dup_or_null (const char *s)
{
  return s ? sw_xstrdup (s) : NULL;
}

void
sw_kv_set (sw_kv **kv, size_t *n, const char *key, const char *value)
{
  for (size_t i = 0; i < *n; i++)
    if (strcmp ((*kv)[i].key, key) == 0)
      {
        free ((*kv)[i].value);
        (*kv)[i].value = sw_xstrdup (value);
        return;
      }
  *kv = sw_xreallocarray (*kv, *n + 1, sizeof **kv);
  (*kv)[*n].key = sw_xstrdup (key);
  (*kv)[*n].value = sw_xstrdup (value);
  (*n)++;
}

static void
kv_free (sw_kv *kv, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (kv[i].key);
      free (kv[i].value);
    }
  free (kv);
}

static int
parse_annotations (json_t *obj, const char *where, sw_kv **kv, size_t *n, sw_error **err)
{
  if (obj == NULL || json_is_null (obj))
    return 0;
  if (!json_is_object (obj))
    return sw_error_make (err, EINVAL, "%s.annotations: expected an object", where);
  const char *k;
  json_t *v;
  json_object_foreach (obj, k, v)
    {
      if (!json_is_string (v))
        return sw_error_make (err, EINVAL, "%s.annotations[\"%s\"]: expected a string", where, k);
      sw_kv_set (kv, n, k, json_string_value (v));
    }
  return 0;
}

static int
parse_descriptor (json_t *o, const char *where, sw_descriptor *d, sw_error **err)
{
  if (!json_is_object (o))
    return sw_error_make (err, EINVAL, "%s: expected a descriptor object", where);
  json_t *mt = json_object_get (o, "mediaType"), *dg = json_object_get (o, "digest"),
         *sz = json_object_get (o, "size");
  if (!json_is_string (mt))
    return sw_error_make (err, EINVAL, "%s.mediaType: missing or not a string", where);
  if (!json_is_string (dg))
    return sw_error_make (err, EINVAL, "%s.digest: missing or not a string", where);
  if (sw_digest_validate (json_string_value (dg), err) < 0)
    return sw_error_wrap (err, "%s.digest", where);
  if (!json_is_integer (sz) || json_integer_value (sz) < 0)
    return sw_error_make (err, EINVAL, "%s.size: missing or not a non-negative integer", where);
  d->media_type = sw_xstrdup (json_string_value (mt));
  d->digest = sw_xstrdup (json_string_value (dg));
  d->size = json_integer_value (sz);
  d->artifact_type = dup_or_null (json_string_value (json_object_get (o, "artifactType")));
  if (parse_annotations (json_object_get (o, "annotations"), where, &d->annotations, &d->n_annotations, err) < 0)
    return -1;
  json_t *p = json_object_get (o, "platform");
  if (json_is_object (p))
    {
      d->platform = sw_xzalloc (sizeof *d->platform);
      d->platform->os = dup_or_null (json_string_value (json_object_get (p, "os")));
      d->platform->architecture = dup_or_null (json_string_value (json_object_get (p, "architecture")));
      d->platform->variant = dup_or_null (json_string_value (json_object_get (p, "variant")));
      d->platform->os_version = dup_or_null (json_string_value (json_object_get (p, "os.version")));
      if (d->platform->os == NULL || d->platform->architecture == NULL)
        return sw_error_make (err, EINVAL, "%s.platform: os and architecture are required", where);
    }
  return 0;
}

void
sw_descriptor_clear (sw_descriptor *d)
{
  free (d->media_type);
  free (d->digest);
  free (d->artifact_type);
  kv_free (d->annotations, d->n_annotations);
  if (d->platform)
    {
      free (d->platform->os);
      free (d->platform->architecture);
      free (d->platform->variant);
      free (d->platform->os_version);
      free (d->platform);
    }
  memset (d, 0, sizeof *d);
}

void
sw_descriptor_copy (sw_descriptor *dst, const sw_descriptor *src)
{
  memset (dst, 0, sizeof *dst);
  dst->media_type = dup_or_null (src->media_type);
  dst->digest = dup_or_null (src->digest);
  dst->size = src->size;
  dst->artifact_type = dup_or_null (src->artifact_type);
  for (size_t i = 0; i < src->n_annotations; i++)
    sw_kv_set (&dst->annotations, &dst->n_annotations, src->annotations[i].key, src->annotations[i].value);
  if (src->platform)
    {
      dst->platform = sw_xzalloc (sizeof *dst->platform);
      dst->platform->os = dup_or_null (src->platform->os);
      dst->platform->architecture = dup_or_null (src->platform->architecture);
      dst->platform->variant = dup_or_null (src->platform->variant);
      dst->platform->os_version = dup_or_null (src->platform->os_version);
    }
}

static json_t *
doc_load (const char *body, size_t len, const char *what, sw_error **err)
{
  json_error_t je;
  json_t *doc = json_loadb (body, len, 0, &je);
  if (doc == NULL)
    {
      sw_error_make (err, EINVAL, "%s: invalid JSON at line %d column %d: %s", what, je.line, je.column, je.text);
      return NULL;
    }
  if (!json_is_object (doc))
    {
      json_decref (doc);
      sw_error_make (err, EINVAL, "%s: expected a JSON object", what);
      return NULL;
    }
  json_t *sv = json_object_get (doc, "schemaVersion");
  if (!json_is_integer (sv) || json_integer_value (sv) != 2)
    {
      if (json_is_integer (sv) && json_integer_value (sv) == 1)
        sw_error_make (err, ENOTSUP, "%s: Docker schema1 manifests are obsolete and not supported; "
                                     "push the image again with a current tool", what);
      else
        sw_error_make (err, EINVAL, "%s: schemaVersion must be 2", what);
      json_decref (doc);
      return NULL;
    }
  return doc;
}

int
sw_manifest_parse (const char *body, size_t len, sw_manifest **out, sw_error **err)
{
  json_t *doc = doc_load (body, len, "image manifest", err);
  if (doc == NULL)
    return -1;
  sw_manifest *m = sw_xzalloc (sizeof *m);
  int ret = -1;
  m->media_type = dup_or_null (json_string_value (json_object_get (doc, "mediaType")));
  m->artifact_type = dup_or_null (json_string_value (json_object_get (doc, "artifactType")));
  if (m->media_type && sw_media_type_kind (m->media_type) != SW_KIND_MANIFEST)
    {
      sw_error_make (err, EINVAL, "image manifest: mediaType \"%s\" is not an image manifest", m->media_type);
      goto out;
    }
  if (parse_descriptor (json_object_get (doc, "config"), "manifest.config", &m->config, err) < 0)
    goto out;
  json_t *layers = json_object_get (doc, "layers");
  if (!json_is_array (layers))
    {
      sw_error_make (err, EINVAL, "image manifest: \"layers\" is missing or not an array");
      goto out;
    }
  m->layers = sw_xcalloc (json_array_size (layers) + 1, sizeof *m->layers);
  for (size_t i = 0; i < json_array_size (layers); i++)
    {
      char where[48];
      snprintf (where, sizeof where, "manifest.layers[%zu]", i);
      m->n_layers = i + 1;
      if (parse_descriptor (json_array_get (layers, i), where, &m->layers[i], err) < 0)
        goto out;
    }
  json_t *subj = json_object_get (doc, "subject");
  if (subj)
    {
      m->subject = sw_xzalloc (sizeof *m->subject);
      if (parse_descriptor (subj, "manifest.subject", m->subject, err) < 0)
        goto out;
    }
  if (parse_annotations (json_object_get (doc, "annotations"), "manifest", &m->annotations, &m->n_annotations, err) < 0)
    goto out;
  ret = 0;
out:
  json_decref (doc);
  if (ret < 0)
    sw_manifest_free (m);
  else
    *out = m;
  return ret;
}

int
sw_index_parse (const char *body, size_t len, sw_index **out, sw_error **err)
{
  json_t *doc = doc_load (body, len, "image index", err);
  if (doc == NULL)
    return -1;
  sw_index *ix = sw_xzalloc (sizeof *ix);
  int ret = -1;
  ix->media_type = dup_or_null (json_string_value (json_object_get (doc, "mediaType")));
  if (ix->media_type && sw_media_type_kind (ix->media_type) != SW_KIND_INDEX)
    {
      sw_error_make (err, EINVAL, "image index: mediaType \"%s\" is not an index or manifest list", ix->media_type);
      goto out;
    }
  json_t *ms = json_object_get (doc, "manifests");
  if (!json_is_array (ms))
    {
      sw_error_make (err, EINVAL, "image index: \"manifests\" is missing or not an array");
      goto out;
    }
  ix->manifests = sw_xcalloc (json_array_size (ms) + 1, sizeof *ix->manifests);
  for (size_t i = 0; i < json_array_size (ms); i++)
    {
      char where[48];
      snprintf (where, sizeof where, "index.manifests[%zu]", i);
      ix->n_manifests = i + 1;
      if (parse_descriptor (json_array_get (ms, i), where, &ix->manifests[i], err) < 0)
        goto out;
    }
  if (parse_annotations (json_object_get (doc, "annotations"), "index", &ix->annotations, &ix->n_annotations, err) < 0)
    goto out;
  ret = 0;
out:
  json_decref (doc);
  if (ret < 0)
    sw_index_free (ix);
  else
    *out = ix;
  return ret;
}

void
sw_manifest_free (sw_manifest *m)
{
  if (m == NULL)
    return;
  free (m->media_type);
  free (m->artifact_type);
  sw_descriptor_clear (&m->config);
  for (size_t i = 0; i < m->n_layers; i++)
    sw_descriptor_clear (&m->layers[i]);
  free (m->layers);
  if (m->subject)
    sw_descriptor_clear (m->subject);
  free (m->subject);
  kv_free (m->annotations, m->n_annotations);
  free (m);
}

void
sw_index_free (sw_index *ix)
{
  if (ix == NULL)
    return;
  free (ix->media_type);
  for (size_t i = 0; i < ix->n_manifests; i++)
    sw_descriptor_clear (&ix->manifests[i]);
  free (ix->manifests);
  kv_free (ix->annotations, ix->n_annotations);
  free (ix);
}

/* ---- serialization ---- */

static json_t *
annotations_json (const sw_kv *kv, size_t n)
{
  const char **keys = sw_xcalloc (n + 1, sizeof *keys);
  json_t **vals = sw_xcalloc (n + 1, sizeof *vals);
  for (size_t i = 0; i < n; i++)
    {
      keys[i] = kv[i].key;
      vals[i] = json_string (kv[i].value);
    }
  json_t *o = sw_json_sorted_object (keys, vals, n);
  free (keys);
  free (vals);
  return o;
}

static json_t *
descriptor_json (const sw_descriptor *d)
{
  json_t *o = json_object ();
  json_object_set_new (o, "mediaType", json_string (d->media_type ? d->media_type : ""));
  if (d->artifact_type)
    json_object_set_new (o, "artifactType", json_string (d->artifact_type));
  json_object_set_new (o, "digest", json_string (d->digest ? d->digest : ""));
  json_object_set_new (o, "size", json_integer (d->size));
  if (d->n_annotations)
    json_object_set_new (o, "annotations", annotations_json (d->annotations, d->n_annotations));
  if (d->platform)
    {
      json_t *p = json_object ();
      json_object_set_new (p, "architecture", json_string (d->platform->architecture));
      json_object_set_new (p, "os", json_string (d->platform->os));
      if (d->platform->os_version)
        json_object_set_new (p, "os.version", json_string (d->platform->os_version));
      if (d->platform->variant)
        json_object_set_new (p, "variant", json_string (d->platform->variant));
      json_object_set_new (o, "platform", p);
    }
  return o;
}

void
sw_manifest_serialize (const sw_manifest *m, sw_buf *out)
{
  json_t *o = json_object ();
  json_object_set_new (o, "schemaVersion", json_integer (2));
  json_object_set_new (o, "mediaType", json_string (m->media_type ? m->media_type : SW_MT_OCI_MANIFEST));
  if (m->artifact_type)
    json_object_set_new (o, "artifactType", json_string (m->artifact_type));
  json_object_set_new (o, "config", descriptor_json (&m->config));
  json_t *ls = json_array ();
  for (size_t i = 0; i < m->n_layers; i++)
    json_array_append_new (ls, descriptor_json (&m->layers[i]));
  json_object_set_new (o, "layers", ls);
  if (m->subject)
    json_object_set_new (o, "subject", descriptor_json (m->subject));
  if (m->n_annotations)
    json_object_set_new (o, "annotations", annotations_json (m->annotations, m->n_annotations));
  sw_json_dump (o, out);
  json_decref (o);
}

void
sw_index_serialize (const sw_index *ix, sw_buf *out)
{
  json_t *o = json_object ();
  json_object_set_new (o, "schemaVersion", json_integer (2));
  json_object_set_new (o, "mediaType", json_string (ix->media_type ? ix->media_type : SW_MT_OCI_INDEX));
  json_t *ms = json_array ();
  for (size_t i = 0; i < ix->n_manifests; i++)
    json_array_append_new (ms, descriptor_json (&ix->manifests[i]));
  json_object_set_new (o, "manifests", ms);
  if (ix->n_annotations)
    json_object_set_new (o, "annotations", annotations_json (ix->annotations, ix->n_annotations));
  sw_json_dump (o, out);
  json_decref (o);
}
