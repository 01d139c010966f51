/* dockerfile/expand.h — word expansion, as BuildKit's shell lexer does it.
 *
 * Contract: the result of every function here is what BuildKit's
 * frontend/dockerfile/shell.Lex gives for the same word, environment and options —
 * the values, the word splitting, and which inputs are errors:
 *
 *  - $NAME, ${NAME}; NAME is letters, digits and _; a leading digit run ($1, $999) or
 *    one special character (@ * # ? - $ ! 0) is a name too, and such names are simply
 *    looked up (they are never set in a Dockerfile).  "$" not followed by a name is "$".
 *  - ${V:-w} ${V-w} ${V:+w} ${V+w} ${V:?msg} ${V?msg}: default, alternative, required
 *    (the colon forms treat an empty value as unset).  w is itself expanded.
 *  - ${V#p} ${V##p} ${V%p} ${V%%p}: remove the shortest/longest matching prefix/suffix;
 *    ${V/p/r} ${V//p/r}: replace the first/every match.  Patterns know * and ? (neither
 *    crosses a newline, as in BuildKit where they become the regexp ".") and \ to quote
 *    * ? \ } /; no bracket expressions.  ${V//p/r} expands $0 / ${0} in r to the match
 *    and $$ to $ (Go's Regexp.ReplaceAllString), ${V/p/r} does not.
 *  - '…' is literal; "…" expands $ and lets the escape character quote " $ and itself;
 *    outside quotes the escape character quotes any character; a trailing escape
 *    character is dropped.  The escape character is the Dockerfile's (\ or `).
 *  - Errors: an unterminated quote or ${, ${}, ${:…}, an unknown modifier (${V:=x},
 *    ${V:#x}), ${V?}/${V:?} failing (the message is "NAME: msg", default "is not allowed
 *    to be unset"/"… empty"), an invalid pattern escape.  Every error message reads
 *    `failed to process "WORD": reason`, as BuildKit's.
 *  - sw_expand_words() splits the result into fields where BuildKit's ProcessWords does:
 *    at white space that comes from the source or from a $ expansion, never inside
 *    quotes or at an escaped character; empty fields are dropped.  That includes
 *    BuildKit's quirk that a nested ${…} operand resets the pending field, so
 *    "ab${X:-c}d" splits to ["cd"] (the joined result is still "abcd").
 *
 * Names may contain non-ASCII letters and digits as Go's unicode.IsLetter/IsDigit say
 * (dockerfile/unicode_class.h).  Known difference, on input no Dockerfile has: nesting
 * deeper than SW_EXPAND_MAX_DEPTH is an error rather than unbounded recursion.
 * Invalid UTF-8 in the word is read as U+FFFD, as Go's scanner does.
 *
 * Variables are found through a callback, so the caller decides what the environment is
 * (the stage's ARG/ENV state at that instruction) and can record which names a word
 * used (for BuildKit's "unused build argument" warning).  Nothing here allocates
 * anything the caller does not free, touches the filesystem, or logs.
 */
#ifndef SW_DOCKERFILE_EXPAND_H
#define SW_DOCKERFILE_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define SW_EXPAND_MAX_DEPTH 200

/* Value of name, or NULL when unset ("" is set-but-empty).  The pointer need only stay
 * valid until the next call.  Called once per reference, in source order. */
typedef const char *(*sw_expand_lookup) (const char *name, void *userdata);

typedef struct sw_expand_opts
{
  int escape;               /* the escape character: '\\' (default when 0) or '`' */
  bool raw_quotes;          /* keep the quote characters in the result */
  bool raw_escapes;         /* keep escape characters in the result */
  bool skip_process_quotes; /* quotes are ordinary characters */
  bool skip_unset_env;      /* leave references to unset names as written */
} sw_expand_opts;

/* Expand word into one string (BuildKit's ProcessWord).  opts may be NULL (defaults:
 * escape '\\', all flags false); lookup may be NULL (nothing is set).  On success *out
 * is a new string.  On failure returns -1 and fills *err. */
int sw_expand_word (const char *word, const sw_expand_opts *opts, sw_expand_lookup lookup,
                    void *userdata, char **out, sw_error **err);

/* Expand word and split it into fields (BuildKit's ProcessWords).  On success *out is a
 * new NULL-terminated array of new strings (free with sw_expand_words_free) and *n (if not
 * NULL) its length. */
int sw_expand_words (const char *word, const sw_expand_opts *opts, sw_expand_lookup lookup,
                     void *userdata, char ***out, size_t *n, sw_error **err);

/* A lookup over a NULL-terminated "KEY=VALUE" array (userdata is the array): the last
 * entry for a key wins; an entry "KEY" without '=' sets KEY to "". */
const char *sw_expand_lookup_envv (const char *name, void *userdata);

void sw_expand_words_free (char **words);

#endif
