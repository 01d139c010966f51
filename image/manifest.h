/* image/manifest.h — descriptors, image manifests and indexes (OCI and Docker schema2).
 *
 * Guarantees: parsing checks what a registry or the build relies on (schemaVersion 2,
 * valid digests, sizes >= 0, a media type for every descriptor) and names the offending
 * field; serializing is canonical and deterministic — compact JSON, fields in the OCI
 * spec's order, annotation keys sorted — so the same model always gives the same bytes
 * and therefore the same digest.  Unknown fields are dropped on re-serialization: to
 * copy a manifest byte for byte, keep its bytes, not the model.
 */
#ifndef SW_IMAGE_MANIFEST_H
#define SW_IMAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "common/error.h"
#include "common/buf.h"

typedef struct sw_kv
{
  char *key;
  char *value;
} sw_kv;

/* The platform a descriptor in an index is for. */
typedef struct sw_desc_platform
{
  char *os;
  char *architecture;
  char *variant;    /* NULL when none */
  char *os_version; /* NULL when none */
} sw_desc_platform;

typedef struct sw_descriptor
{
  char *media_type;
  char *digest;
  int64_t size;
  char *artifact_type;    /* NULL when none */
  sw_kv *annotations;     /* n_annotations pairs */
  size_t n_annotations;
  sw_desc_platform *platform; /* NULL when none */
} sw_descriptor;

typedef struct sw_manifest
{
  char *media_type; /* OCI or Docker manifest type; NULL when the document has none */
  char *artifact_type;
  sw_descriptor config;
  sw_descriptor *layers;
  size_t n_layers;
  sw_descriptor *subject; /* NULL when none */
  sw_kv *annotations;
  size_t n_annotations;
} sw_manifest;

typedef struct sw_index
{
  char *media_type; /* OCI index or Docker manifest list */
  sw_descriptor *manifests;
  size_t n_manifests;
  sw_kv *annotations;
  size_t n_annotations;
} sw_index;

int sw_manifest_parse (const char *body, size_t len, sw_manifest **out, sw_error **err);
int sw_index_parse (const char *body, size_t len, sw_index **out, sw_error **err);
/* Append the canonical JSON to out. */
void sw_manifest_serialize (const sw_manifest *m, sw_buf *out);
void sw_index_serialize (const sw_index *ix, sw_buf *out);
void sw_manifest_free (sw_manifest *m);
void sw_index_free (sw_index *ix);

/* Deep copies and frees for building models. */
void sw_descriptor_copy (sw_descriptor *dst, const sw_descriptor *src);
void sw_descriptor_clear (sw_descriptor *d);
/* Add (or replace) an annotation. */
void sw_kv_set (sw_kv **kv, size_t *n, const char *key, const char *value);

#endif
