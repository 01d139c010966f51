/* dockerfile/suggest.h — "did you mean …?", as BuildKit's suggest.Search finds it.
 *
 * The closest option by Levenshtein distance, if it is within 2 edits; the first of equally
 * close options wins; nothing when val is itself an option.  Distances count bytes (BuildKit
 * counts runes: the two differ only on non-ASCII names).
 */
#ifndef SW_DOCKERFILE_SUGGEST_H
#define SW_DOCKERFILE_SUGGEST_H

#include <stddef.h>

/* Index of the suggestion among options[0..n), or -1. */
long sw_df_closest (const char *val, const char *const *options, size_t n);

#endif
