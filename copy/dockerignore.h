/* copy/dockerignore.h — .dockerignore files and the path patterns of COPY --exclude and
 * COPY --parents, with moby/patternmatcher's exact semantics.
 *
 * Guarantees:
 *  - sw_glob_match() is Go's filepath.Match on Linux: `*` and `?` never match '/', classes
 *    `[a-z]`, `[^a-z]`, `\` escapes; a malformed pattern is an error (ErrBadPattern), also
 *    when the name does not match.
 *  - sw_patterns_new() cleans each pattern as patternmatcher.New does (trim, filepath.Clean,
 *    a leading `!` makes an exception) and rejects a bare `!` or a malformed pattern.
 *  - sw_patterns_match() is MatchesUsingParentResults: patterns apply in order, a later
 *    `!exception` re-includes, a directory that matches makes everything below it match,
 *    `**` matches any number of directories (also none); "dir" followed by
 *    a slash and `**` does not match "dir" itself.
 *  - sw_dockerignore_load() reads <Dockerfile>.dockerignore beside the Dockerfile when it
 *    exists, else CONTEXT/.dockerignore (BuildKit's precedence), with BuildKit's line rules
 *    (UTF-8 BOM, `#` comments only at column 0, whitespace trimmed, leading `/` dropped).
 *    A missing file means no patterns; a file that exists but cannot be read is an error
 *    (BuildKit silently ignores it; slipway says so instead).
 *  - No Dockerfile/.dockerignore special case: like BuildKit, a context's Dockerfile and
 *    .dockerignore are excluded when a pattern says so (COPY of them then fails).
 */
#ifndef SW_EXEC_DOCKERIGNORE_H
#define SW_EXEC_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/path.h" /* its patterns are cleaned with sw_path_clean */

/* Go's filepath.Match.  Returns 0 and sets *matched, or -1 for a malformed pattern. */
int sw_glob_match (const char *pattern, const char *name, bool *matched);

/* True when a path component has an unescaped `*`, `?` or `[` (BuildKit's containsWildcards). */
bool sw_glob_has_wildcards (const char *s);

typedef struct sw_patterns sw_patterns;

/* Compile patterns (NULL-free array of n strings).  Empty ones are skipped; a bare "!" or
 * a malformed pattern fails with a message naming it. */
int sw_patterns_new (const char *const *patterns, size_t n, sw_patterns **out, sw_error **err);
void sw_patterns_free (sw_patterns *pm);
/* Number of patterns kept (the length of a match-info array). */
size_t sw_patterns_count (const sw_patterns *pm);
/* True when some pattern is an `!exception`: an excluded directory may then hold
 * included files, so walks must look inside it. */
bool sw_patterns_has_exceptions (const sw_patterns *pm);
/* The i-th cleaned pattern (for messages). */
const char *sw_patterns_get (const sw_patterns *pm, size_t i, bool *exception);

/* Match a slash-separated path relative to the patterns' root.  parent_info is the
 * info_out of the path's parent directory (sw_patterns_count() bools) or NULL when
 * unknown (then parents are checked from the path itself, MatchesOrParentMatches);
 * info_out (same size, may be NULL) receives this path's info for its children.
 * Returns -1 only for a pattern that turns out malformed at match time. */
int sw_patterns_match (const sw_patterns *pm, const char *path, const bool *parent_info,
                       bool *info_out, bool *matched, sw_error **err);

/* Parse the text of an ignore file into patterns (BuildKit's ignorefile.ReadAll followed by
 * patternmatcher.New).  name is used in messages.  *out is NULL when there are none. */
int sw_dockerignore_parse (const char *text, size_t len, const char *name, sw_patterns **out,
                           sw_error **err);

/* Load the ignore patterns of a build: dockerfile is the Dockerfile's path (NULL or "-"
 * for CONTEXT/Dockerfile or stdin: only CONTEXT/.dockerignore is then looked at).
 * *out is NULL when there is no ignore file or it has no patterns.  *used_name (may be
 * NULL) receives the path of the file used, or NULL. */
int sw_dockerignore_load (const char *context_dir, const char *dockerfile, sw_patterns **out,
                          char **used_name, sw_error **err);

#endif
