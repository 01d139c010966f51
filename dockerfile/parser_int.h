/* dockerfile/parser_int.h — helpers shared by the parser's files; not a public contract.
 *
 * The parser follows BuildKit's Go code closely, and Go's string handling leaks into what
 * it produces (invalid UTF-8 becomes U+FFFD in some places and not others, unicode.IsSpace
 * counts U+0085 and U+00A0…), so these helpers reproduce those Go behaviours. */
#ifndef SW_DOCKERFILE_PARSER_INT_H
#define SW_DOCKERFILE_PARSER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "common/gofmt.h" /* sw_utf8_decode, sw_go_quote */
#include "dockerfile/ast.h"

#define SW_RUNE_ERROR 0xfffd

/* unicode.IsSpace */
bool sw_df_is_space (int32_t r);
/* strings.TrimSpace / TrimLeftFunc(IsSpace) on a C string: returns a new string. */
char *sw_df_trim_space (const char *s);
const char *sw_df_skip_space (const char *s);

/* Make room for `need` elements in an array that grows one element at a time: the
 * capacity doubles, so a file of a million lines costs no quadratic copying. */
static inline void *
sw_df_grow (void *p, size_t need, size_t size)
{
  if (need > 2 && ((need - 1) & (need - 2)) != 0)
    return p;
  return sw_xreallocarray (p, need <= 1 ? 1 : 2 * (need - 1), size);
}

sw_df_node *sw_df_node_new (const char *value);
sw_df_node *sw_df_node_newn (const char *value, size_t n);

/* parseJSON: 0 with *out (possibly NULL for []) when rest is a JSON array of strings;
 * -1 when it is not a JSON array (the caller falls back to the shell form); -2 when it is
 * a JSON array with something other than strings in it (an error in BuildKit). */
int sw_df_parse_json_array (const char *rest, sw_df_node **out);

/* The argument dispatch: the node for one logical line ("RUN --mount=x make"), or -1
 * with *msg set (caller frees). */
int sw_df_node_from_line (const char *line, char escape, sw_df_node **out, char **msg);

/* heredocsFromLine: the heredocs a line opens, in order. -1 with *msg on a lexing error. */
int sw_df_heredocs_from_line (const char *line, sw_df_heredoc **out, size_t *n, char **msg);

/* ParseHeredoc of one word ("<<-'EOF'"): 0 with doc->name set for a heredoc, 0 with
 * doc->name NULL for a word that is not one, -1 with *msg for a malformed delimiter. */
int sw_df_parse_heredoc (const char *word, sw_df_heredoc *doc, char **msg);

#endif
