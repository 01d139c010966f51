/* dockerfile/ast.c — freeing, dumping and naming the nodes of ast.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "dockerfile/ast.h"
#include "dockerfile/suggest.h"
#include "dockerfile/location.h"
#include "dockerfile/parser_int.h"
#include "slipway-debug.h" /* defines sw_dockerfile_dump_ast */

static const char *const instructions[] = {
  "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
  "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume",
  "workdir",
};

static void
node_free (sw_df_node *n)
{
  while (n != NULL)
    {
      sw_df_node *next = n->next;
      for (size_t i = 0; i < n->n_children; i++)
        node_free (n->children[i]);
      free (n->children);
      for (size_t i = 0; i < n->n_heredocs; i++)
        {
          free (n->heredocs[i].name);
          free (n->heredocs[i].content);
        }
      free (n->heredocs);
      for (size_t i = 0; i < n->n_flags; i++)
        free (n->flags[i]);
      free (n->flags);
      for (size_t i = 0; i < n->n_prev_comment; i++)
        free (n->prev_comment[i]);
      free (n->prev_comment);
      free (n->value);
      free (n->original);
      free (n);
      n = next;
    }
}

void
sw_df_node_free (sw_df_node *n)
{
  node_free (n);
}

void
sw_dockerfile_free (sw_dockerfile *df)
{
  if (df == NULL)
    return;
  node_free (df->ast);
  for (size_t i = 0; i < df->n_lines; i++)
    free (df->lines[i]);
  free (df->lines);
  for (size_t i = 0; i < df->n_warnings; i++)
    {
      free (df->warnings[i].short_msg);
      free (df->warnings[i].detail);
      free (df->warnings[i].url);
    }
  free (df->warnings);
  free (df->path);
  free (df->syntax);
  free (df->check);
  free (df);
}

size_t
sw_df_node_nargs (const sw_df_node *node)
{
  size_t n = 0;
  for (const sw_df_node *a = node ? node->next : NULL; a; a = a->next)
    n++;
  return n;
}

bool
sw_df_is_instruction (const char *name)
{
  for (size_t i = 0; i < sizeof instructions / sizeof *instructions; i++)
    if (strcasecmp (name, instructions[i]) == 0)
      return true;
  return false;
}

/* ---- Go's strconv.Quote ---------------------------------------------------------- */

/* ---- Node.Dump ------------------------------------------------------------------- */

/* strings.TrimSpace of the dump (which never holds a NUL: the quoting escapes it). */
static void
trim_space (sw_buf *b)
{
  cleanup_free char *t = sw_df_trim_space (sw_buf_str (b));
  sw_buf_truncate (b, 0);
  sw_buf_puts (b, t);
}

static void
dump (sw_buf *out, const sw_df_node *node)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;

  for (const char *p = node->value; *p; p++) /* strings.ToLower, ASCII part */
    sw_buf_putc (&b, (*p >= 'A' && *p <= 'Z') ? (char) (*p - 'A' + 'a') : *p);
  if (node->n_flags > 0)
    {
      sw_buf_puts (&b, " [");
      for (size_t i = 0; i < node->n_flags; i++)
        {
          if (i > 0)
            sw_buf_putc (&b, ' ');
          sw_go_quote (&b, node->flags[i]);
        }
      sw_buf_putc (&b, ']');
    }
  for (size_t i = 0; i < node->n_children; i++)
    {
      sw_buf_putc (&b, '(');
      dump (&b, node->children[i]);
      sw_buf_puts (&b, ")\n");
    }
  for (const sw_df_node *n = node->next; n; n = n->next)
    {
      sw_buf_putc (&b, ' ');
      if (n->n_children > 0)
        dump (&b, n);
      else
        sw_go_quoten (&b, n->value, n->value_len);
    }
  trim_space (&b);
  sw_buf_append (out, sw_buf_str (&b), b.len);
}

char *
sw_df_node_dump (const sw_df_node *node)
{
  sw_buf b = SW_BUF_INIT;
  dump (&b, node);
  return sw_buf_steal (&b);
}

char *
sw_dockerfile_dump (const sw_dockerfile *df)
{
  sw_buf b = SW_BUF_INIT;
  dump (&b, df->ast);
  sw_buf_putc (&b, '\n');
  return sw_buf_steal (&b);
}

int
sw_dockerfile_dump_ast (const char *path, FILE *out, sw_error **err)
{
  sw_dockerfile *df = NULL;
  cleanup_free char *text = NULL;

  if (sw_dockerfile_parse_file (path, &df, err) < 0)
    return -1;
  if (sw_df_check_instructions (df, err) < 0)
    {
      sw_dockerfile_free (df);
      return -1;
    }
  /* BuildKit's Result.PrintWarnings, through the library's log (common/log.h) */
  for (size_t i = 0; i < df->n_warnings; i++)
    sw_warn ("%s:%d: %s", df->path, df->warnings[i].line, df->warnings[i].short_msg);
  if (df->n_warnings > 0)
    sw_warn ("Empty continuation lines will become errors in a future release.");
  text = sw_dockerfile_dump (df);
  sw_dockerfile_free (df);
  if (fputs (text, out) == EOF || fflush (out) == EOF)
    return sw_error_errno (err, "writing the syntax tree");
  return 0;
}

/* ---- suggestions ----------------------------------------------------------------- */


char *
sw_df_suggest_instruction (const char *name)
{
  cleanup_free char *lower = sw_xstrdup (name);
  const char *match = NULL;
  bool all_lower = true;

  for (char *p = lower; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      {
        *p = (char) (*p - 'A' + 'a');
        all_lower = false;
      }
  long i = sw_df_closest (lower, instructions, sizeof instructions / sizeof *instructions);
  if (i < 0)
    return NULL;
  match = instructions[i];
  char *s = sw_xstrdup (match);
  /* suggest's matchCase: an all-lower name gets lower case; all-upper gets upper; a
   * mixed-case name gets the option as listed (lower). */
  bool all_upper = true;
  for (const char *p = name; *p; p++)
    if (*p >= 'a' && *p <= 'z')
      all_upper = false;
  if (!all_lower && all_upper)
    for (char *p = s; *p; p++)
      *p = (char) (*p - 'a' + 'A');
  return s;
}

char *
sw_df_heredoc_chomp (const char *content)
{
  sw_buf b = SW_BUF_INIT;
  bool bol = true;

  for (const char *p = content; *p; p++)
    {
      if (bol && *p == '\t')
        continue;
      sw_buf_putc (&b, *p);
      bol = *p == '\n';
    }
  return sw_buf_steal (&b);
}

static int
check_node (const sw_dockerfile *df, const sw_df_node *node, sw_error **err)
{
  cleanup_free char *hint = NULL;
  int line, col;

  if (sw_df_is_instruction (node->value))
    return 0;
  sw_df_locate (df, node, NULL, &line, &col);
  if (node->value[0] == '\0')
    return sw_df_error_at (err, df, line, col, "empty instruction: a line continuation "
                           "with nothing after it");
  hint = sw_df_suggest_instruction (node->value);
  if (hint)
    return sw_df_error_at (err, df, line, col, "unknown instruction: %s (did you mean %s?)",
                           node->value, hint);
  return sw_df_error_at (err, df, line, col, "unknown instruction: %s", node->value);
}

int
sw_df_check_instructions (const sw_dockerfile *df, sw_error **err)
{
  for (size_t i = 0; i < df->ast->n_children; i++)
    if (check_node (df, df->ast->children[i], err) < 0)
      return -1;
  return 0;
}
