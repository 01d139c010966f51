/* attest/provenance.h — SLSA provenance of a build, with the fields BuildKit writes, so
 * that what reads BuildKit's provenance reads slipway's.
 *
 * v1 (https://slsa.dev/provenance/v1, the default as in BuildKit): buildDefinition
 * {buildType, externalParameters {configSource, request}, internalParameters
 * {builderPlatform}, resolvedDependencies} and runDetails {builder.id, metadata
 * {invocationID, startedOn, finishedOn, buildkit_metadata, buildkit_completeness,
 * buildkit_reproducible}}.  v0.2 (https://slsa.dev/provenance/v0.2): the same facts in
 * that version's shape (builder, buildType, invocation, materials, metadata), as
 * BuildKit converts them.
 *
 * mode min drops the build arguments and labels (and says the request is incomplete);
 * max keeps them and adds the Dockerfile itself (buildkit_metadata.source).  Secret and
 * SSH values never reach this module: max names their IDs only, min not even those.
 * Credentials in a URL (https://user:token@host/…) are removed before they are written.
 */
#ifndef SW_ATTEST_PROVENANCE_H
#define SW_ATTEST_PROVENANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "image/platform.h"

#define SW_PREDICATE_SLSA1 "https://slsa.dev/provenance/v1"
#define SW_PREDICATE_SLSA02 "https://slsa.dev/provenance/v0.2"
#define SW_PREDICATE_SPDX "https://spdx.dev/Document"

typedef struct sw_prov_opts
{
  bool max;               /* mode=max (else min) */
  bool v02;               /* version=v0.2 (else v1) */
  const char *builder_id; /* builder-id=…; NULL: none */
  bool reproducible;      /* reproducible=true */
} sw_prov_opts;

/* "mode=min,builder-id=…,version=v1,reproducible=…" (the --provenance / --attest
 * type=provenance value without type=): o is filled, strings point into a copy owned by
 * *keep (free it after o's last use).  The error names the key. */
int sw_prov_opts_parse (const char *spec, sw_prov_opts *o, char **keep, sw_error **err);

/* An image this build used, as BuildKit lists it: pkg:docker/NAME@TAG?platform=… and
 * the digest the reference resolved to. */
typedef struct sw_prov_image
{
  const char *ref;       /* as FROM or COPY --from named it */
  const sw_platform *platform;
  const char *digest;    /* "sha256:…" */
} sw_prov_image;

typedef struct sw_prov_url
{
  const char *url;       /* an ADD URL */
  const char *digest;
} sw_prov_url;

typedef struct sw_prov_input
{
  const char *dockerfile_path;     /* configSource.path: the Dockerfile as given ("Dockerfile") */
  const char *dockerfile_text;     /* max: the Dockerfile's bytes (NUL-terminated) */
  const char *vcs_source;          /* the context's Git repository URL, or NULL */
  const char *vcs_revision;        /* and its commit */
  const char *const *args;         /* request args, "KEY=VALUE" ("build-arg:X=…", "label:…", "target=…") */
  const char *const *locals;       /* local sources ("context", "dockerfile") */
  const char *const *secret_ids;   /* --secret IDs (max names them) */
  const char *const *ssh_ids;
  const char *builder_platform;    /* "linux/amd64" */
  const sw_prov_image *images;
  size_t n_images;
  const sw_prov_url *urls;
  size_t n_urls;
  const char *invocation_id;
  const char *started_on;          /* RFC 3339 */
  const char *finished_on;
} sw_prov_input;

/* The predicate, as JSON, into out; returns its predicate type. */
const char *sw_provenance_predicate (const sw_prov_opts *o, const sw_prov_input *in, sw_buf *out);

/* pkg:docker/NAME@TAG?platform=OS%2FARCH — BuildKit's purl for an image reference
 * (NAME in docker's familiar form: "busybox", "127.0.0.1:5000/app"; with a digest in the
 * reference, a digest= qualifier).  platform may be NULL. */
char *sw_docker_purl (const char *ref, const sw_platform *platform);

/* url without its user:password@ part. */
char *sw_redact_url (const char *url);

#endif
