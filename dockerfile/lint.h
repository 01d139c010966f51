/* dockerfile/lint.h — BuildKit's build checks (`docker buildx build --check`).
 *
 * Guarantees: sw_df_lint() runs, on a parsed Dockerfile, the rules of BuildKit's
 * frontend/dockerfile/linter with their names, descriptions, documentation URLs and
 * messages, each finding at the line BuildKit reports: StageNameCasing, FromAsCasing,
 * NoEmptyContinuation, ConsistentInstructionCasing, DuplicateStageName, ReservedStageName,
 * JSONArgsRecommended, MaintainerDeprecated, UndefinedArgInFrom, WorkdirRelativePath,
 * MultipleInstructionsDisallowed, LegacyKeyValueFormat, RedundantTargetPlatform,
 * SecretsUsedInArgOrEnv, InvalidDefaultArgInFrom, FromPlatformFlagConstDisallowed.
 * Findings come sorted by line.  The rules that need the build context or the base
 * images are not run here: CopyIgnoredFile and UndefinedVar are the engine's
 * (exec/checks.c); InvalidBaseImagePlatform is not implemented yet.
 * A "# check=skip=A,B" (or skip=all) directive disables rules as BuildKit's does.
 */
#ifndef SW_DOCKERFILE_LINT_H
#define SW_DOCKERFILE_LINT_H

#include <stdbool.h>
#include <stddef.h>

#include "dockerfile/ast.h"

typedef struct sw_df_finding
{
  const char *rule;        /* "StageNameCasing" */
  const char *description; /* the rule's description */
  char *url;               /* https://docs.docker.com/go/dockerfile/rule/stage-name-casing/ */
  char *detail;            /* "Stage name 'Builder' should be lowercase" */
  int line;                /* 1-based */
} sw_df_finding;

/* All findings for df, in *out (*n of them; free with sw_df_findings_free). */
void sw_df_lint (const sw_dockerfile *df, sw_df_finding **out, size_t *n);

/* For the rules run elsewhere (they need the context): whether df's "# check=skip=…"
 * turns rule off, and a finding added to a list in line order (detail is taken). */
bool sw_df_lint_skipped (const sw_dockerfile *df, const char *rule);
void sw_df_findings_add (sw_df_finding **v, size_t *n, const char *rule, const char *description,
                         const char *slug, char *detail, int line);
void sw_df_findings_free (sw_df_finding *f, size_t n);

#endif
