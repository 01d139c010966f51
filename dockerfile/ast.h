/* dockerfile/ast.h — the Dockerfile syntax tree, as BuildKit's parser builds it.
 *
 * Contract (what the rest of slipway may rely on):
 *  - sw_dockerfile_parse() reads a whole Dockerfile the way BuildKit's
 *    frontend/dockerfile/parser.Parse does: parser directives (# syntax=, # escape=,
 *    # check=) at the top, comments, continuation lines with the escape character,
 *    heredocs for ADD/COPY/RUN (and ONBUILD of those), the per-instruction argument rules
 *    (JSON exec form with its fallbacks, ENV/LABEL pairs, HEALTHCHECK, ONBUILD nesting…),
 *    and leading --flags.  It accepts exactly what BuildKit's parser accepts: an unknown
 *    instruction name is NOT an error here (BuildKit's parser keeps it with no arguments);
 *    the instruction layer rejects it, with sw_df_suggest_instruction() for "did you
 *    mean".  Rejections: no instructions at all, a repeated directive, a bad escape
 *    token, ENV/LABEL syntax errors, JSON arrays of non-strings, an unterminated heredoc.
 *    Every error is located (see dockerfile/location.h).
 *  - The tree has BuildKit's shape: the root's children are the instructions, one node
 *    each; an instruction's value is its name as written (case preserved; compare with
 *    strcasecmp), its arguments hang off `next` as a chain of nodes.  ONBUILD's `next` is
 *    a node whose single child is the triggered instruction.  ENV and LABEL args come in
 *    triples: key, value, separator ("=" for KEY=VALUE, "" for the old `ENV KEY VALUE`).
 *  - Arguments are NOT expanded and quotes are NOT removed (that is the instruction
 *    layer's job, dockerfile/ shell lexer, done by "plan").
 *  - Line numbers are 1-based lines of the source; column is the 1-based byte column of
 *    the instruction keyword on start_line (after leading whitespace).
 *  - The result owns everything; sw_dockerfile_free() frees it all.  Never NULL fields
 *    where a string is expected: value and original are "" rather than NULL.
 */
#ifndef SW_DOCKERFILE_AST_H
#define SW_DOCKERFILE_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

typedef struct sw_df_heredoc
{
  char *name;    /* the delimiter word, quotes removed: EOF */
  char *content; /* the body, every line with its newline; tabs NOT yet chomped */
  unsigned fd;   /* 3<<EOF → 3; 0 when absent */
  bool expand;   /* delimiter was unquoted: the body is subject to expansion */
  bool chomp;    /* <<-: leading tabs are stripped (sw_df_heredoc_chomp) */
} sw_df_heredoc;

typedef struct sw_df_node sw_df_node;
struct sw_df_node
{
  char *value;       /* instruction name (root: "") or one argument */
  size_t value_len;  /* strlen(value), except when a JSON string held \u0000 */
  sw_df_node *next;  /* the next argument */
  sw_df_node **children;
  size_t n_children;
  sw_df_heredoc *heredocs;
  size_t n_heredocs;
  bool json;         /* Attributes["json"]: the arguments were a JSON (exec form) array */
  char *original;    /* the logical line (continuations joined, comments dropped) */
  char **flags;      /* "--from=build", quotes removed, as BuildKit keeps them */
  size_t n_flags;
  int start_line;    /* 1-based; -1 on an empty root */
  int end_line;      /* last line, heredoc bodies included */
  int column;        /* 1-based column of the instruction keyword on start_line */
  char **prev_comment; /* comment lines just above the instruction, '#' stripped */
  size_t n_prev_comment;
};

typedef struct sw_df_warning
{
  char *short_msg; /* "Empty continuation line found in: RUN …" */
  char *detail;
  char *url;
  int line;
} sw_df_warning;

typedef struct sw_dockerfile
{
  char *path;        /* as given to sw_dockerfile_parse (for messages) */
  sw_df_node *ast;   /* the root */
  char escape;       /* '\\' or '`' */
  char *syntax;      /* value of "# syntax=", or NULL */
  char *check;       /* value of "# check=", or NULL */
  int syntax_line, escape_line, check_line; /* 0 when absent */
  char **lines;      /* the source, split at '\n', without line ends; lines[0] is line 1 */
  size_t n_lines;
  sw_df_warning *warnings;
  size_t n_warnings;
} sw_dockerfile;

/* Parse len bytes of text.  path names the file in messages ("Dockerfile" if NULL).
 * On success *out is a new tree (free with sw_dockerfile_free).  On failure returns -1
 * and *err reads "PATH:LINE:COL: message" followed by the source line and a caret. */
int sw_dockerfile_parse (const char *text, size_t len, const char *path,
                         sw_dockerfile **out, sw_error **err);

/* Read and parse a file. */
int sw_dockerfile_parse_file (const char *path, sw_dockerfile **out, sw_error **err);

void sw_dockerfile_free (sw_dockerfile *df);
/* Free a node, its children and its whole next chain. */
void sw_df_node_free (sw_df_node *node);

/* BuildKit's Node.Dump() of one node, without a trailing newline.  Caller frees. */
char *sw_df_node_dump (const sw_df_node *node);

/* The dump of a whole file, as `slipway debug ast` prints it (ends with "\n"). */
char *sw_dockerfile_dump (const sw_dockerfile *df);

/* Number of arguments in node->next's chain. */
size_t sw_df_node_nargs (const sw_df_node *node);

/* True for an instruction name BuildKit knows (case-insensitive). */
bool sw_df_is_instruction (const char *name);

/* BuildKit's suggest.Search over the instruction names: the closest one by Levenshtein
 * distance (case-insensitive, distance < 3), cased like name (all lower → lower, else
 * upper), or NULL when none is close or name is itself an instruction.  Caller frees. */
char *sw_df_suggest_instruction (const char *name);

/* Reject what BuildKit's instruction layer rejects by name: an unknown instruction,
 * located, with BuildKit's "did you mean" suggestion:
 *   Dockerfile:3:1: unknown instruction: RUNN (did you mean RUN?)
 * ONBUILD's trigger is not checked: BuildKit checks it only when a child image runs it.
 * `slipway debug ast` applies this, so what it prints is what a build would accept. */
int sw_df_check_instructions (const sw_dockerfile *df, sw_error **err);

/* The body of a <<- heredoc with leading tabs removed from every line.  Caller frees. */
char *sw_df_heredoc_chomp (const char *content);

#endif
