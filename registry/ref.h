/* registry/ref.h — image references, parsed and normalized as docker does
 * (distribution/reference's ParseNormalizedNamed + TagNameOnly).
 *
 * Guarantees: "busybox" → docker.io/library/busybox:latest; "index.docker.io/x" →
 * docker.io/library/x; a first component with '.' or ':' or equal to "localhost" is a
 * registry host (host[:port], [v6]:port); the repository path is lowercase components
 * separated by '/', each [a-z0-9]+ joined by '.', '_', "__" or dashes; tags are
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests are validated; names are at most 255
 * characters.  The tag defaults to "latest" only when there is neither tag nor digest.
 * Every refusal names the reference and the rule it broke.
 */
#ifndef SW_REGISTRY_REF_H
#define SW_REGISTRY_REF_H

#include "common/error.h"

typedef struct sw_ref
{
  char *domain; /* "docker.io", "127.0.0.1:5000" */
  char *path;   /* "library/busybox" */
  char *tag;    /* NULL when only a digest was given */
  char *digest; /* NULL when none */
} sw_ref;

int sw_ref_parse (const char *s, sw_ref **out, sw_error **err);
void sw_ref_free (sw_ref *r);
sw_ref *sw_ref_dup (const sw_ref *r);
/* "domain/path" */
char *sw_ref_name (const sw_ref *r);
/* The normalized full form: domain/path[:tag][@digest] */
char *sw_ref_string (const sw_ref *r);
/* The host to talk to: docker.io → registry-1.docker.io. */
const char *sw_ref_api_host (const sw_ref *r);
/* What the manifest URL names: the digest when there is one, else the tag. */
const char *sw_ref_reference (const sw_ref *r);

#endif
