/* dockerfile/parser.c — BuildKit's frontend/dockerfile/parser.Parse, in C.  See ast.h.
 *
 * The loop reads physical lines; parser directives are recognised only until the first
 * line that is not one; a logical line is built from continuation lines (skipping comment
 * lines and, with a warning, blank ones); the logical line becomes a node through
 * line_parsers.c; heredoc bodies follow for ADD/COPY/RUN (also under ONBUILD). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "dockerfile/ast.h"
#include "dockerfile/location.h"
#include "dockerfile/parser_int.h"

/* bufio.MaxScanTokenSize: BuildKit's scanner cannot hold a longer line. */
#define MAX_LINE 65536

typedef struct scanner
{
  const char *text;
  size_t len, pos;
  int line;       /* lines handed out so far */
  bool too_long;  /* stopped at a line longer than MAX_LINE */
} scanner;

/* The next physical line, with its '\n' (a copy; caller frees). */
static char *
scan (scanner *sc)
{
  const char *start, *nl;
  size_t n;

  if (sc->too_long || sc->pos >= sc->len)
    return NULL;
  start = sc->text + sc->pos;
  nl = memchr (start, '\n', sc->len - sc->pos);
  n = nl ? (size_t) (nl - start) + 1 : sc->len - sc->pos;
  /* bufio.Scanner: a token must fit its 64 KiB buffer; without a newline one byte less */
  if (n > MAX_LINE || (nl == NULL && n >= MAX_LINE))
    {
      sc->too_long = true;
      return NULL;
    }
  sc->pos += n;
  sc->line++;
  return sw_xstrndup (start, n);
}

/* ---- small Go-isms --------------------------------------------------------------- */

static void
trim_newline (char *s)
{
  size_t n = strlen (s);
  while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
    s[--n] = '\0';
}

static bool
is_comment (const char *s)
{
  return *sw_df_skip_space (s) == '#';
}

/* trimContinuationCharacter: the line-continuation regexp
 * ([^E])E[ \t]*$|^E[ \t]*$ for the escape character E. */
static bool
trim_continuation (char *s, char escape)
{
  size_t n = strlen (s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  if (n == 0 || s[n - 1] != escape)
    return true;
  if (n >= 2 && s[n - 2] == escape)
    return true;
  s[n - 1] = '\0';
  return false;
}

/* ---- parser directives ------------------------------------------------------------ */

enum { DIR_SYNTAX, DIR_ESCAPE, DIR_CHECK, DIR_N };
static const char *const directive_names[DIR_N] = { "syntax", "escape", "check" };

typedef struct directives
{
  bool done;
  bool seen[DIR_N];
  char escape;
} directives;

static bool
re_s (char c) /* RE2's \s */
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool
is_alpha (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* DirectiveParser.ParseLine, then possibleParserDirective.  Returns 1 for a directive
 * (*which, *value set), 0 for none, -1 with *msg for an error. */
static int
parse_directive (directives *d, const char *line, int *which, char **value, char **msg)
{
  const char *p, *key, *v;
  size_t klen, vlen;

  if (d->done)
    return 0;
  if (line[0] != '#')
    {
      d->done = true;
      return 0;
    }
  p = sw_df_skip_space (line + 1);
  /* ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ */
  key = p;
  if (!is_alpha (*p))
    goto not_directive;
  while (is_alpha (*p) || (*p >= '0' && *p <= '9'))
    p++;
  klen = (size_t) (p - key);
  while (re_s (*p))
    p++;
  if (*p != '=')
    goto not_directive;
  p++;
  v = p;
  while (re_s (*v))
    v++;
  vlen = strlen (v);
  while (vlen > 0 && re_s (v[vlen - 1]))
    vlen--;
  if (vlen == 0)
    {
      /* (.+?) needs one character: \s* gives back the last blank */
      if (*p == '\0')
        goto not_directive;
      v = p + strlen (p) - 1;
      vlen = 1;
    }
  for (int i = 0; i < DIR_N; i++)
    if (strlen (directive_names[i]) == klen && strncasecmp (key, directive_names[i], klen) == 0)
      {
        if (d->seen[i])
          {
            *msg = sw_xasprintf ("only one %s parser directive can be used", directive_names[i]);
            return -1;
          }
        d->seen[i] = true;
        *which = i;
        *value = sw_xstrndup (v, vlen);
        if (i == DIR_ESCAPE)
          {
            if (strcmp (*value, "`") != 0 && strcmp (*value, "\\") != 0)
              {
                *msg = sw_xasprintf ("invalid escape token '%s' does not match ` or \\", *value);
                free (*value);
                *value = NULL;
                return -1;
              }
            d->escape = (*value)[0];
          }
        return 1;
      }
not_directive:
  d->done = true;
  return 0;
}

/* ---- building the result ---------------------------------------------------------- */

typedef struct parse_state
{
  sw_dockerfile *df;
  scanner sc;
  directives dir;
  int current_line;
  sw_strv comments;
} parse_state;

static void
split_lines (sw_dockerfile *df, const char *text, size_t len)
{
  size_t start = 0;

  for (size_t i = 0; i <= len; i++)
    if (i == len || text[i] == '\n')
      {
        if (i == len && start == len && len > 0)
          break; /* no empty line after the final newline */
        size_t n = i - start;
        if (n > 0 && text[start + n - 1] == '\r')
          n--;
        df->lines = sw_df_grow (df->lines, df->n_lines + 1, sizeof *df->lines);
        df->lines[df->n_lines++] = sw_xstrndup (text + start, n);
        start = i + 1;
      }
}

static void
add_warning (sw_dockerfile *df, const char *line, int lineno)
{
  sw_df_warning *w;

  df->warnings = sw_df_grow (df->warnings, df->n_warnings + 1, sizeof *df->warnings);
  w = &df->warnings[df->n_warnings++];
  w->short_msg = sw_xasprintf ("Empty continuation line found in: %s", line);
  w->detail = sw_xstrdup ("Empty continuation lines will become errors in a future release");
  w->url = sw_xstrdup ("https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/");
  w->line = lineno;
}

static void
set_lines (sw_df_node *node, int start, int end, int column)
{
  node->start_line = start;
  node->end_line = end;
  node->column = column;
  /* ONBUILD's instruction sits on the same lines */
  if (node->next != NULL)
    for (size_t i = 0; i < node->next->n_children; i++)
      set_lines (node->next->children[i], start, end, column);
}

static void
add_child (sw_df_node *root, sw_df_node *child)
{
  if (root->start_line < 0)
    root->start_line = child->start_line;
  root->end_line = child->end_line;
  root->children = sw_df_grow (root->children, root->n_children + 1, sizeof *root->children);
  root->children[root->n_children++] = child;
}

/* canContainHeredoc: ADD, COPY, RUN (also as ONBUILD's instruction), not in JSON form. */
static bool
can_contain_heredoc (const sw_df_node *node)
{
  if (strcasecmp (node->value, "onbuild") == 0 && node->next != NULL && node->next->n_children > 0)
    node = node->next->children[0];
  if (strcasecmp (node->value, "add") != 0 && strcasecmp (node->value, "copy") != 0
      && strcasecmp (node->value, "run") != 0)
    return false;
  return !node->json;
}

static int
column_of (const sw_dockerfile *df, int line, const char *needle)
{
  if (line < 1 || (size_t) line > df->n_lines)
    return 0;
  const char *hit = strstr (df->lines[line - 1], needle);
  return hit ? (int) (hit - df->lines[line - 1]) + 1 : 0;
}

/* Read the bodies of the heredocs the node opened. */
static int
read_heredocs (parse_state *ps, sw_df_node *child, const char *line, int start_line,
               sw_error **err)
{
  sw_df_heredoc *docs = NULL;
  size_t n = 0;
  cleanup_free char *msg = NULL;

  if (sw_df_heredocs_from_line (line, &docs, &n, &msg) < 0)
    return sw_df_error_at (err, ps->df, start_line, child->column, "%s", msg);
  child->heredocs = docs;
  child->n_heredocs = n;
  for (size_t i = 0; i < n; i++)
    {
      sw_df_heredoc *doc = &docs[i];
      cleanup_buf sw_buf content = SW_BUF_INIT;
      bool terminated = false;
      char *raw;

      while ((raw = scan (&ps->sc)) != NULL)
        {
          cleanup_free char *possible = sw_xstrdup (raw);
          const char *cmp = possible;
          ps->current_line++;
          trim_newline (possible);
          if (doc->chomp)
            while (*cmp == '\t')
              cmp++;
          if (strcmp (cmp, doc->name) == 0)
            {
              terminated = true;
              free (raw);
              break;
            }
          sw_buf_puts (&content, raw);
          free (raw);
        }
      free (doc->content);
      doc->content = sw_buf_steal (&content);
      if (!terminated)
        {
          int col = column_of (ps->df, start_line, "<<");
          return sw_df_error_at (err, ps->df, start_line, col ? col : child->column,
                                 "unterminated heredoc: no line \"%s\" ends the heredoc "
                                 "opened here (before the end of the file)", doc->name);
        }
    }
  return 0;
}

static int
parse_lines (parse_state *ps, sw_error **err)
{
  sw_dockerfile *df = ps->df;
  for (;;)
    {
      cleanup_free char *raw = scan (&ps->sc);
      cleanup_free char *value = NULL;
      cleanup_free char *msg = NULL;
      cleanup_buf sw_buf logical = SW_BUF_INIT;
      char *bytes = raw;
      int which = -1, r, start_line, column;
      bool end_of_line, has_empty = false;

      if (raw == NULL)
        break;
      if (ps->current_line == 0 && strncmp (bytes, "\xef\xbb\xbf", 3) == 0)
        bytes += 3;
      if (is_comment (bytes))
        {
          char *comment = sw_df_trim_space (bytes + 1);
          if (*comment == '\0')
            {
              free (comment);
              sw_strv_free (&ps->comments);
            }
          else
            {
              sw_strv_push_owned (&ps->comments, comment);
            }
        }
      trim_newline (bytes);
      char *token = (char *) sw_df_skip_space (bytes);
      column = (int) (token - bytes) + 1;
      r = parse_directive (&ps->dir, token, &which, &value, &msg);
      if (r < 0)
        return sw_df_error_at (err, df, ps->current_line + 1, column, "%s", msg);
      if (r == 1)
        {
          if (ps->comments.n > 0)
            {
              free (ps->comments.v[--ps->comments.n]);
              ps->comments.v[ps->comments.n] = NULL;
            }
          if (which == DIR_SYNTAX)
            df->syntax = sw_xstrdup (value), df->syntax_line = ps->current_line + 1;
          else if (which == DIR_CHECK)
            df->check = sw_xstrdup (value), df->check_line = ps->current_line + 1;
          else
            df->escape_line = ps->current_line + 1;
        }
      if (*token == '#')
        *token = '\0'; /* trimComments */
      ps->current_line++;
      start_line = ps->current_line;
      end_of_line = trim_continuation (token, ps->dir.escape);
      if (end_of_line && *token == '\0')
        continue;
      sw_buf_puts (&logical, token);

      while (!end_of_line)
        {
          cleanup_free char *cont = scan (&ps->sc);
          cleanup_free char *dv = NULL;
          cleanup_free char *dmsg = NULL;
          int dw;

          if (cont == NULL)
            break;
          trim_newline (cont);
          if (parse_directive (&ps->dir, cont, &dw, &dv, &dmsg) < 0)
            return sw_df_error_at (err, df, ps->current_line + 1, 1, "%s", dmsg);
          ps->current_line++;
          if (is_comment (cont))
            continue;
          if (*sw_df_skip_space (cont) == '\0')
            {
              has_empty = true;
              continue;
            }
          end_of_line = trim_continuation (cont, ps->dir.escape);
          sw_buf_puts (&logical, cont);
        }

      const char *line = sw_buf_str (&logical);
      if (has_empty)
        add_warning (df, line, ps->current_line);

      sw_df_node *child = NULL;
      cleanup_free char *lmsg = NULL;
      if (sw_df_node_from_line (line, ps->dir.escape, &child, &lmsg) < 0)
        return sw_df_error_at (err, df, start_line, column, "%s", lmsg);
      set_lines (child, start_line, ps->current_line, column);
      child->n_prev_comment = ps->comments.n;
      child->prev_comment = sw_strv_steal (&ps->comments);

      if (can_contain_heredoc (child) && strstr (line, "<<") != NULL)
        {
          if (read_heredocs (ps, child, line, start_line, err) < 0)
            {
              sw_df_node_free (child);
              return -1;
            }
          set_lines (child, start_line, ps->current_line, column);
        }
      add_child (df->ast, child);
    }
  return 0;
}

int
sw_dockerfile_parse (const char *text, size_t len, const char *path, sw_dockerfile **out,
                     sw_error **err)
{
  sw_dockerfile *df = sw_xzalloc (sizeof *df);
  parse_state ps = { 0 };
  const char *nul;

  *out = NULL;
  df->path = sw_xstrdup (path ? path : "Dockerfile");
  df->escape = '\\';
  df->ast = sw_df_node_new ("");
  df->ast->start_line = -1;
  split_lines (df, text, len);
  if (df->n_lines > 0 && strncmp (df->lines[0], "\xef\xbb\xbf", 3) == 0)
    memmove (df->lines[0], df->lines[0] + 3, strlen (df->lines[0]) - 2);

  nul = memchr (text, '\0', len);
  if (nul != NULL)
    {
      int line = 1;
      for (const char *p = text; p < nul; p++)
        line += *p == '\n';
      sw_df_error_at (err, df, line, 0, "the Dockerfile contains a NUL byte; it must be text");
      sw_dockerfile_free (df);
      return -1;
    }

  ps.df = df;
  ps.sc.text = text;
  ps.sc.len = len;
  ps.dir.escape = '\\';
  if (parse_lines (&ps, err) < 0)
    goto fail;
  df->escape = ps.dir.escape;
  if (df->ast->n_children == 0)
    {
      /* located at the end of the file, as BuildKit does */
      sw_df_error_at (err, df, ps.current_line, 0, "file with no instructions: a Dockerfile "
                      "needs at least a FROM instruction");
      goto fail;
    }
  if (ps.sc.too_long)
    {
      sw_df_error_at (err, df, ps.sc.line + 1, 0, "dockerfile line greater than max allowed "
                      "size of %d", MAX_LINE - 1);
      goto fail;
    }
  sw_strv_free (&ps.comments);
  *out = df;
  return 0;

fail:
  sw_strv_free (&ps.comments);
  sw_dockerfile_free (df);
  return -1;
}

int
sw_dockerfile_parse_file (const char *path, sw_dockerfile **out, sw_error **err)
{
  cleanup_close int fd = -1;
  cleanup_free char *data = NULL;
  size_t len = 0, cap = 0;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "opening Dockerfile %s", path);
  for (;;)
    {
      if (cap - len < 65536)
        {
          cap = cap ? cap * 2 : 65536;
          data = sw_xrealloc (data, cap);
        }
      ssize_t r = read (fd, data + len, cap - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return sw_error_errno (err, "reading Dockerfile %s", path);
      if (r == 0)
        break;
      len += (size_t) r;
    }
  return sw_dockerfile_parse (data, len, path, out, err);
}
