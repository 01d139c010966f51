/* bake/bake.h — `docker buildx bake` definitions: files found, read, merged and resolved
 * as buildx 0.29 does (bake/bake.go: defaultFilenames, ReadTargets, Target.Merge,
 * AddOverrides).  Parsers only: this module builds nothing; it turns files and flags into
 * the list of resolved targets, as the JSON buildx's --print writes:
 *
 *   {"group": {"default": {"targets": [...]}}, "target": {"NAME": {"context": ".", ...}}}
 *
 * Files: with none given, the first of each default name that exists in the current
 * directory, in buildx's order (compose.yaml, compose.yml, docker-compose.yml,
 * docker-compose.yaml, docker-bake.json, docker-bake.hcl, docker-bake.override.json,
 * docker-bake.override.hcl); a file is compose when it parses as YAML with `services`,
 * JSON when it parses as a JSON object, HCL otherwise.  Targets: the named targets or
 * groups (glob patterns allowed), "default" when none; `inherits` merged in order, then
 * the overrides (`--set target.key=value`, `*.key`, `key+=value` appends).  A target
 * another names in `contexts = { x = "target:y" }` is resolved too (output cacheonly
 * when it was not asked for).
 *
 * slipway's own fields (`x-slipway-smoke`: commands run in the built image;
 * `x-slipway-publish-last`: its tags go last) are read from the same files — buildx
 * ignores them — and written only when asked (extensions).
 */
#ifndef SW_BAKE_BAKE_H
#define SW_BAKE_BAKE_H

#include <jansson.h>
#include <stdbool.h>
#include "bake/hcl.h"
#include "common/error.h"

typedef struct sw_bake_opts
{
  const char *const *files;     /* NULL-terminated; NULL or empty: the default names */
  const char *const *targets;   /* NULL-terminated; NULL or empty: "default" */
  const char *const *overrides; /* NULL-terminated "--set" values */
  sw_hcl_lookup_fn lookup;      /* the environment (NULL: getenv) */
  void *lookup_ud;
  bool extensions;              /* keep x-slipway-* fields in the result */
} sw_bake_opts;

/* The resolved definition ({"group": …, "target": …}), a new reference. */
int sw_bake_resolve (const sw_bake_opts *o, json_t **out, sw_error **err);

/* Read a compose file's services with a build: section as bake targets (bake/compose.c):
 * a JSON object {"target": {…}} in bake's JSON syntax.  1 when text is a compose file,
 * 0 when it is not (no `services`, or not YAML), -1 on error. */
int sw_bake_compose_read (const char *text, size_t len, const char *name, sw_hcl_lookup_fn lookup, void *ud,
                          json_t **out, sw_error **err);

#endif
