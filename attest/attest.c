/* attest/attest.c — see attest.h. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "common/xalloc.h"
#include "image/json.h"
#include "image/mediatype.h"

int
sw_attest_statement (const char *predicate_type, const char *predicate, const sw_attest_subject *subjects,
                     size_t n_subjects, bool pretty, sw_buf *out, sw_error **err)
{
  json_error_t jerr;
  json_t *pred = json_loads (predicate, 0, &jerr);
  if (pred == NULL)
    return sw_error_make (err, EINVAL, "attestation predicate is not JSON: %s", jerr.text);
  json_t *st = json_object ();
  json_object_set_new (st, "_type", json_string ("https://in-toto.io/Statement/v1"));
  json_object_set_new (st, "predicateType", json_string (predicate_type));
  json_t *subs = json_array ();
  for (size_t i = 0; i < n_subjects; i++)
    {
      json_t *s = json_object ();
      json_t *d = json_object ();
      const char *colon = strchr (subjects[i].digest, ':');
      char alg[16] = "sha256";
      if (colon && (size_t) (colon - subjects[i].digest) < sizeof alg)
        snprintf (alg, sizeof alg, "%.*s", (int) (colon - subjects[i].digest), subjects[i].digest);
      json_object_set_new (d, alg, json_string (colon ? colon + 1 : subjects[i].digest));
      json_object_set_new (s, "name", json_string (subjects[i].name));
      json_object_set_new (s, "digest", d);
      json_array_append_new (subs, s);
    }
  json_object_set_new (st, "subject", subs);
  json_object_set_new (st, "predicate", pred);
  if (pretty)
    {
      char *text = json_dumps (st, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
      sw_buf_puts (out, text);
      free (text);
    }
  else
    sw_json_dump (st, out);
  json_decref (st);
  return 0;
}

void
sw_attest_manifest_add (sw_attest_manifest *m, const char *predicate_type, const sw_buf *statement)
{
  m->blobs = sw_xreallocarray (m->blobs, m->n_blobs + 1, sizeof *m->blobs);
  sw_attest_blob *b = &m->blobs[m->n_blobs++];
  memset (b, 0, sizeof *b);
  b->predicate_type = sw_xstrdup (predicate_type);
  sw_buf_append (&b->data, statement->data, statement->len);
  sw_digest_bytes (statement->data, statement->len, b->digest);
}

void
sw_attest_manifest_finish (sw_attest_manifest *m, const char *subject_digest, bool docker)
{
  sw_manifest mf = { 0 };

  /* the config: a valid image config for unknown/unknown, the statements as its diffIDs
   * (they are stored uncompressed) */
  json_t *cfg = json_object ();
  json_object_set_new (cfg, "architecture", json_string ("unknown"));
  json_object_set_new (cfg, "os", json_string ("unknown"));
  json_object_set_new (cfg, "config", json_object ());
  json_t *rootfs = json_object ();
  json_object_set_new (rootfs, "type", json_string ("layers"));
  json_t *ids = json_array ();
  for (size_t i = 0; i < m->n_blobs; i++)
    json_array_append_new (ids, json_string (m->blobs[i].digest));
  json_object_set_new (rootfs, "diff_ids", ids);
  json_object_set_new (cfg, "rootfs", rootfs);
  sw_buf_truncate (&m->config, 0);
  sw_json_dump (cfg, &m->config);
  json_decref (cfg);
  sw_digest_bytes (m->config.data, m->config.len, m->config_digest);

  m->media_type = docker ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST;
  mf.media_type = (char *) m->media_type;
  mf.config.media_type = docker ? SW_MT_DOCKER_CONFIG : SW_MT_OCI_CONFIG;
  mf.config.digest = m->config_digest;
  mf.config.size = (int64_t) m->config.len;
  mf.n_layers = m->n_blobs;
  mf.layers = sw_xcalloc (m->n_blobs + 1, sizeof *mf.layers);
  for (size_t i = 0; i < m->n_blobs; i++)
    {
      mf.layers[i].media_type = SW_MT_IN_TOTO;
      mf.layers[i].digest = m->blobs[i].digest;
      mf.layers[i].size = (int64_t) m->blobs[i].data.len;
      sw_kv_set (&mf.layers[i].annotations, &mf.layers[i].n_annotations, SW_ANNOT_PREDICATE_TYPE,
                 m->blobs[i].predicate_type);
    }
  sw_buf_truncate (&m->manifest, 0);
  sw_manifest_serialize (&mf, &m->manifest);
  sw_digest_bytes (m->manifest.data, m->manifest.len, m->digest);
  snprintf (m->subject_digest, sizeof m->subject_digest, "%s", subject_digest);
  for (size_t i = 0; i < m->n_blobs; i++)
    {
      for (size_t k = 0; k < mf.layers[i].n_annotations; k++)
        {
          free (mf.layers[i].annotations[k].key);
          free (mf.layers[i].annotations[k].value);
        }
      free (mf.layers[i].annotations);
    }
  free (mf.layers);
}

static sw_desc_platform unknown_platform = { "unknown", "unknown", NULL, NULL };

void
sw_attest_descriptor (const sw_attest_manifest *m, sw_descriptor *d)
{
  memset (d, 0, sizeof *d);
  d->media_type = (char *) m->media_type;
  d->digest = (char *) m->digest;
  d->size = (int64_t) m->manifest.len;
  d->platform = &unknown_platform;
  sw_kv_set (&d->annotations, &d->n_annotations, SW_ANNOT_REF_DIGEST, m->subject_digest);
  sw_kv_set (&d->annotations, &d->n_annotations, SW_ANNOT_REF_TYPE, SW_REF_TYPE_ATTESTATION);
}

void
sw_attest_descriptor_clear (sw_descriptor *d)
{
  for (size_t k = 0; k < d->n_annotations; k++)
    {
      free (d->annotations[k].key);
      free (d->annotations[k].value);
    }
  free (d->annotations);
  d->annotations = NULL;
  d->n_annotations = 0;
}

void
sw_attest_manifest_clear (sw_attest_manifest *m)
{
  for (size_t i = 0; i < m->n_blobs; i++)
    {
      free (m->blobs[i].predicate_type);
      sw_buf_free (&m->blobs[i].data);
    }
  free (m->blobs);
  sw_buf_free (&m->config);
  sw_buf_free (&m->manifest);
  memset (m, 0, sizeof *m);
}
