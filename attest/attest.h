/* attest/attest.h — attestations stored as BuildKit stores them.
 *
 * An attestation is an in-toto Statement (https://in-toto.io/Statement/v1) about one
 * platform's image manifest: its subjects name the image (pkg:docker/NAME@TAG?platform=…)
 * with the manifest's digest.  A platform's statements go into one attestation manifest:
 * each statement a layer of media type application/vnd.in-toto+json annotated
 * in-toto.io/predicate-type, and a config that is a valid image config for
 * "unknown/unknown" listing the layers as its diffIDs (only there for compatibility).
 * The index lists it after the runnable manifests, with platform unknown/unknown and the
 * annotations vnd.docker.reference.type=attestation-manifest and
 * vnd.docker.reference.digest=<the image manifest's digest>.
 */
#ifndef SW_ATTEST_ATTEST_H
#define SW_ATTEST_ATTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "image/digest.h"
#include "image/manifest.h"

#define SW_MT_IN_TOTO "application/vnd.in-toto+json"
#define SW_ANNOT_PREDICATE_TYPE "in-toto.io/predicate-type"
#define SW_ANNOT_REF_TYPE "vnd.docker.reference.type"
#define SW_ANNOT_REF_DIGEST "vnd.docker.reference.digest"
#define SW_REF_TYPE_ATTESTATION "attestation-manifest"

typedef struct sw_attest_subject
{
  const char *name;   /* a purl, or a file's path for a local output */
  const char *digest; /* "sha256:…" */
} sw_attest_subject;

/* The statement around a predicate (JSON text).  Fails only when predicate is not JSON. */
int sw_attest_statement (const char *predicate_type, const char *predicate, const sw_attest_subject *subjects,
                         size_t n_subjects, bool pretty, sw_buf *out, sw_error **err);

typedef struct sw_attest_blob
{
  char *predicate_type;
  sw_buf data;                    /* the statement */
  char digest[SW_DIGEST_BUFSZ];
} sw_attest_blob;

typedef struct sw_attest_manifest
{
  sw_attest_blob *blobs;
  size_t n_blobs;
  sw_buf config;
  char config_digest[SW_DIGEST_BUFSZ];
  sw_buf manifest;
  char digest[SW_DIGEST_BUFSZ];
  const char *media_type;         /* OCI or Docker manifest */
  char subject_digest[SW_DIGEST_BUFSZ]; /* the image manifest it is about */
} sw_attest_manifest;

/* Add a statement as the next layer. */
void sw_attest_manifest_add (sw_attest_manifest *m, const char *predicate_type, const sw_buf *statement);
/* Make the config and the manifest (docker: schema2 media types) once every statement is in. */
void sw_attest_manifest_finish (sw_attest_manifest *m, const char *subject_digest, bool docker);
/* Its descriptor for the index (platform unknown/unknown, the two annotations); the
 * strings point into m and into static storage: valid while m is.  Free the descriptor's
 * own arrays with sw_attest_descriptor_clear. */
void sw_attest_descriptor (const sw_attest_manifest *m, sw_descriptor *d);
void sw_attest_descriptor_clear (sw_descriptor *d);
void sw_attest_manifest_clear (sw_attest_manifest *m);

#endif
