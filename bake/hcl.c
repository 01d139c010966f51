/* bake/hcl.c — HCL for bake files: a recursive-descent parser straight over the text (no
 * token list: a template's `${…}` parses an expression in place), and an evaluator over
 * jansson values.  The contract is in hcl.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bake/hcl.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

/* ---- the tree ------------------------------------------------------------------------ */

typedef enum
{
  X_LIT,      /* lit */
  X_TEMPLATE, /* kids: string literals and expressions, concatenated */
  X_REF,      /* name */
  X_LIST,     /* kids */
  X_OBJECT,   /* kids: key, value, key, value… (a key is an expression) */
  X_CALL,     /* name(kids) */
  X_COND,     /* a ? b : c */
  X_BINOP,    /* a op b */
  X_UNARY,    /* op a ('!' or '-') */
  X_ATTR,     /* a.name */
  X_INDEX,    /* a[b] */
} xkind;

typedef struct xnode
{
  xkind kind;
  int line, col;
  json_t *lit;
  char *name;
  char op[3];
  struct xnode *a, *b, *c;
  struct xnode **kids;
  size_t n_kids;
} xnode;

typedef struct hitem
{
  bool is_block;
  char *name;      /* attribute name, or block type */
  char **labels;   /* block */
  size_t n_labels;
  xnode *expr;     /* attribute */
  struct hitem *body;
  size_t n_body;
  int line;
} hitem;

struct sw_hcl_file
{
  char *name;
  hitem *items;
  size_t n_items;
};

static xnode *
xnew (xkind k, int line, int col)
{
  xnode *x = sw_xzalloc (sizeof *x);
  x->kind = k;
  x->line = line;
  x->col = col;
  return x;
}

static void
xadd (xnode *x, xnode *kid)
{
  x->kids = sw_xreallocarray (x->kids, x->n_kids + 1, sizeof *x->kids);
  x->kids[x->n_kids++] = kid;
}

static void
xfree (xnode *x)
{
  if (x == NULL)
    return;
  json_decref (x->lit);
  free (x->name);
  xfree (x->a);
  xfree (x->b);
  xfree (x->c);
  for (size_t i = 0; i < x->n_kids; i++)
    xfree (x->kids[i]);
  free (x->kids);
  free (x);
}

static void
items_free (hitem *it, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (it[i].name);
      for (size_t j = 0; j < it[i].n_labels; j++)
        free (it[i].labels[j]);
      free (it[i].labels);
      xfree (it[i].expr);
      items_free (it[i].body, it[i].n_body);
    }
  free (it);
}

void
sw_hcl_file_free (sw_hcl_file *f)
{
  if (f == NULL)
    return;
  items_free (f->items, f->n_items);
  free (f->name);
  free (f);
}

/* ---- the parser ---------------------------------------------------------------------- */

typedef struct parser
{
  const char *s, *end, *p;
  const char *file;
  int line;
  const char *line_start;
  sw_error **err;
  bool failed;
  int depth;
} parser;

static int
col_of (parser *ps)
{
  return (int) (ps->p - ps->line_start) + 1;
}

static void perr (parser *ps, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
perr (parser *ps, const char *fmt, ...)
{
  if (ps->failed)
    return;
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *m = sw_xvasprintf (fmt, ap);
  va_end (ap);
  sw_error_make (ps->err, EINVAL, "%s:%d,%d: %s", ps->file, ps->line, col_of (ps), m);
  sw_error_set_category (ps->err, SW_ERR_INPUT);
  ps->failed = true;
}

static int
peekc (parser *ps)
{
  return ps->p < ps->end ? (unsigned char) *ps->p : -1;
}

static void
advance (parser *ps)
{
  if (ps->p < ps->end)
    {
      if (*ps->p == '\n')
        {
          ps->line++;
          ps->line_start = ps->p + 1;
        }
      ps->p++;
    }
}

/* Skip blanks and comments; newlines too when nl. */
static void
skip (parser *ps, bool nl)
{
  for (;;)
    {
      int c = peekc (ps);
      if (c == ' ' || c == '\t' || c == '\r' || (nl && c == '\n'))
        advance (ps);
      else if (c == '#' || (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '/'))
        {
          while (peekc (ps) != -1 && peekc (ps) != '\n')
            advance (ps);
        }
      else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*')
        {
          advance (ps), advance (ps);
          while (peekc (ps) != -1 && !(peekc (ps) == '*' && ps->p + 1 < ps->end && ps->p[1] == '/'))
            advance (ps);
          if (peekc (ps) == -1)
            {
              perr (ps, "unterminated comment");
              return;
            }
          advance (ps), advance (ps);
        }
      else
        return;
    }
}

static bool
is_ident_start (int c)
{
  return isalpha (c) || c == '_';
}

static bool
is_ident_char (int c)
{
  return isalnum (c) || c == '_' || c == '-';
}

static char *
ident (parser *ps)
{
  const char *b = ps->p;
  if (!is_ident_start (peekc (ps)))
    return NULL;
  while (is_ident_char (peekc (ps)))
    advance (ps);
  return sw_xstrndup (b, (size_t) (ps->p - b));
}

static bool
accept (parser *ps, const char *tok)
{
  size_t n = strlen (tok);
  if ((size_t) (ps->end - ps->p) >= n && memcmp (ps->p, tok, n) == 0)
    {
      for (size_t i = 0; i < n; i++)
        advance (ps);
      return true;
    }
  return false;
}

static bool
expect (parser *ps, const char *tok, bool nl)
{
  skip (ps, nl);
  if (accept (ps, tok))
    return true;
  perr (ps, "expected \"%s\"", tok);
  return false;
}

static xnode *parse_expr (parser *ps, bool nl);

/* Expressions separated by commas up to CLOSE (a trailing comma allowed), each added to x: a
 * list's items or a call's arguments.  A call's argument expansion (`f(xs...)`) is refused by
 * name rather than read as a syntax error. */
static void
parse_items (parser *ps, xnode *x, const char *close, bool call)
{
  for (;;)
    {
      skip (ps, true);
      if (accept (ps, close))
        return;
      xnode *e = parse_expr (ps, true);
      if (e == NULL)
        return;
      xadd (x, e);
      skip (ps, true);
      if (call && accept (ps, "..."))
        {
          perr (ps, "argument expansion (...) is not supported");
          return;
        }
      if (!accept (ps, ","))
        {
          expect (ps, close, true);
          return;
        }
    }
}

static void
utf8_put (sw_buf *b, unsigned long cp)
{
  char o[4];
  if (cp < 0x80)
    sw_buf_putc (b, (char) cp);
  else if (cp < 0x800)
    {
      o[0] = (char) (0xC0 | (cp >> 6)), o[1] = (char) (0x80 | (cp & 0x3F));
      sw_buf_append (b, o, 2);
    }
  else if (cp < 0x10000)
    {
      o[0] = (char) (0xE0 | (cp >> 12)), o[1] = (char) (0x80 | ((cp >> 6) & 0x3F)), o[2] = (char) (0x80 | (cp & 0x3F));
      sw_buf_append (b, o, 3);
    }
  else
    {
      o[0] = (char) (0xF0 | (cp >> 18)), o[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
      o[2] = (char) (0x80 | ((cp >> 6) & 0x3F)), o[3] = (char) (0x80 | (cp & 0x3F));
      sw_buf_append (b, o, 4);
    }
}

static void
flush_lit (xnode *t, sw_buf *lit)
{
  if (lit->len == 0)
    return;
  xnode *l = xnew (X_LIT, t->line, t->col);
  l->lit = json_stringn (lit->data, lit->len);
  xadd (t, l);
  sw_buf_truncate (lit, 0);
}

/* The body of a template up to `stop` (a '"', or the end of a heredoc's text when
 * heredoc): literal text, escapes (quoted strings only), and ${ expr }. */
static xnode *
parse_template (parser *ps, bool quoted, const char *text_end)
{
  xnode *t = xnew (X_TEMPLATE, ps->line, col_of (ps));
  cleanup_buf sw_buf lit = SW_BUF_INIT;
  const char *end = text_end ? text_end : ps->end;

  while (!ps->failed)
    {
      if (ps->p >= end)
        {
          if (quoted)
            perr (ps, "unterminated string");
          break;
        }
      int c = peekc (ps);
      if (quoted && c == '"')
        {
          advance (ps);
          break;
        }
      if (quoted && c == '\n')
        {
          perr (ps, "unterminated string (a quoted string cannot span lines; use a heredoc)");
          break;
        }
      if (c == '$' && accept (ps, "$${"))
        {
          sw_buf_puts (&lit, "${");
          continue;
        }
      if (c == '%' && accept (ps, "%%{"))
        {
          sw_buf_puts (&lit, "%{");
          continue;
        }
      if (c == '%' && ps->p + 1 < end && ps->p[1] == '{')
        {
          perr (ps, "template directives (%%{ … }) are not supported; use ${ cond ? a : b }");
          break;
        }
      if (c == '$' && accept (ps, "${"))
        {
          flush_lit (t, &lit);
          skip (ps, true);
          accept (ps, "~");
          xnode *e = parse_expr (ps, true);
          if (e == NULL)
            break;
          xadd (t, e);
          skip (ps, true);
          accept (ps, "~");
          if (!expect (ps, "}", true))
            break;
          continue;
        }
      if (quoted && c == '\\')
        {
          advance (ps);
          int e = peekc (ps);
          advance (ps);
          switch (e)
            {
            case 'n': sw_buf_putc (&lit, '\n'); break;
            case 't': sw_buf_putc (&lit, '\t'); break;
            case 'r': sw_buf_putc (&lit, '\r'); break;
            case '"': sw_buf_putc (&lit, '"'); break;
            case '\\': sw_buf_putc (&lit, '\\'); break;
            case 'u':
            case 'U':
              {
                int n = e == 'u' ? 4 : 8;
                char hex[9] = "";
                for (int i = 0; i < n; i++)
                  {
                    if (!isxdigit (peekc (ps)))
                      {
                        perr (ps, "invalid \\%c escape", e);
                        return t;
                      }
                    hex[i] = (char) peekc (ps);
                    advance (ps);
                  }
                utf8_put (&lit, strtoul (hex, NULL, 16));
                break;
              }
            default:
              perr (ps, "invalid escape sequence \\%c", e > 0 ? e : '?');
              return t;
            }
          continue;
        }
      sw_buf_putc (&lit, (char) c);
      advance (ps);
    }
  flush_lit (t, &lit);
  return t;
}

/* <<EOT / <<-EOT: the lines up to a line holding only the marker. */
static xnode *
parse_heredoc (parser *ps)
{
  bool indent = accept (ps, "-");
  cleanup_free char *marker = ident (ps);
  if (marker == NULL)
    {
      perr (ps, "expected a heredoc marker after <<");
      return NULL;
    }
  while (peekc (ps) == ' ' || peekc (ps) == '\t' || peekc (ps) == '\r')
    advance (ps);
  if (peekc (ps) != '\n')
    {
      perr (ps, "a heredoc marker must end its line");
      return NULL;
    }
  advance (ps);
  /* find the closing line */
  const char *body = ps->p, *q = ps->p, *close = NULL, *after = NULL;
  size_t ml = strlen (marker);
  while (q < ps->end)
    {
      const char *eol = memchr (q, '\n', (size_t) (ps->end - q));
      const char *le = eol ? eol : ps->end;
      const char *t = q;
      while (t < le && (*t == ' ' || *t == '\t'))
        t++;
      const char *te = le;
      while (te > t && te[-1] == '\r')
        te--;
      if ((size_t) (te - t) == ml && memcmp (t, marker, ml) == 0)
        {
          close = q;
          after = le;
          break;
        }
      q = eol ? eol + 1 : ps->end;
    }
  if (close == NULL)
    {
      perr (ps, "heredoc %s is not closed", marker);
      return NULL;
    }
  xnode *t = parse_template (ps, false, close);
  while (ps->p < after)
    advance (ps);
  if (t && indent)
    {
      /* <<-: remove the smallest indentation of the lines from every line */
      size_t minind = (size_t) -1;
      for (const char *l = body; l < close;)
        {
          const char *eol = memchr (l, '\n', (size_t) (close - l));
          const char *le = eol ? eol : close;
          size_t ind = 0;
          while (l + ind < le && (l[ind] == ' ' || l[ind] == '\t'))
            ind++;
          if (l + ind < le && ind < minind)
            minind = ind;
          l = eol ? eol + 1 : close;
        }
      if (minind != (size_t) -1 && minind > 0)
        for (size_t i = 0; i < t->n_kids; i++)
          if (t->kids[i]->kind == X_LIT)
            {
              const char *s = json_string_value (t->kids[i]->lit);
              cleanup_buf sw_buf o = SW_BUF_INIT;
              /* a literal piece starts at a line start when it is the first one */
              bool bol = i == 0;
              for (const char *c = s; *c;)
                {
                  if (bol)
                    {
                      size_t k = 0;
                      while (k < minind && (c[k] == ' ' || c[k] == '\t'))
                        k++;
                      c += k;
                      bol = false;
                      continue;
                    }
                  sw_buf_putc (&o, *c);
                  if (*c == '\n')
                    bol = true;
                  c++;
                }
              json_decref (t->kids[i]->lit);
              t->kids[i]->lit = json_stringn (o.data ? o.data : "", o.len);
            }
    }
  return t;
}

static xnode *
parse_number (parser *ps)
{
  const char *b = ps->p;
  bool real = false;
  while (isdigit (peekc (ps)))
    advance (ps);
  if (peekc (ps) == '.' && ps->p + 1 < ps->end && isdigit ((unsigned char) ps->p[1]))
    {
      real = true;
      advance (ps);
      while (isdigit (peekc (ps)))
        advance (ps);
    }
  if (peekc (ps) == 'e' || peekc (ps) == 'E')
    {
      real = true;
      advance (ps);
      if (peekc (ps) == '+' || peekc (ps) == '-')
        advance (ps);
      while (isdigit (peekc (ps)))
        advance (ps);
    }
  cleanup_free char *s = sw_xstrndup (b, (size_t) (ps->p - b));
  xnode *x = xnew (X_LIT, ps->line, col_of (ps));
  double d = strtod (s, NULL);
  x->lit = (!real && d < 9e15) ? json_integer ((json_int_t) strtoll (s, NULL, 10)) : json_real (d);
  return x;
}

static xnode *
parse_primary (parser *ps, bool nl)
{
  skip (ps, nl);
  int line = ps->line, col = col_of (ps);
  int c = peekc (ps);
  xnode *x = NULL;

  if (++ps->depth > 200)
    {
      perr (ps, "expression nested too deeply");
      return NULL;
    }
  if (c == '"')
    {
      advance (ps);
      x = parse_template (ps, true, NULL);
    }
  else if (c == '<' && accept (ps, "<<"))
    x = parse_heredoc (ps);
  else if (isdigit (c))
    x = parse_number (ps);
  else if (c == '(')
    {
      advance (ps);
      x = parse_expr (ps, true);
      if (x && !expect (ps, ")", true))
        {
          xfree (x);
          x = NULL;
        }
    }
  else if (c == '[')
    {
      advance (ps);
      x = xnew (X_LIST, line, col);
      parse_items (ps, x, "]", false);
    }
  else if (c == '{')
    {
      advance (ps);
      x = xnew (X_OBJECT, line, col);
      for (;;)
        {
          skip (ps, true);
          if (accept (ps, "}"))
            break;
          xnode *k;
          if (is_ident_start (peekc (ps)))
            {
              int kl = ps->line, kc = col_of (ps);
              char *name = ident (ps);
              k = xnew (X_LIT, kl, kc);
              k->lit = json_string (name);
              free (name);
            }
          else
            k = parse_expr (ps, true);
          if (k == NULL)
            break;
          xadd (x, k);
          skip (ps, false);
          if (!accept (ps, "=") && !accept (ps, ":"))
            {
              perr (ps, "expected \"=\" or \":\" after an object key");
              break;
            }
          /* a newline ends the value: it separates the object's items */
          xnode *v = parse_expr (ps, false);
          if (v == NULL)
            break;
          xadd (x, v);
          skip (ps, false);
          if (accept (ps, ",") || accept (ps, "\n"))
            continue;
          skip (ps, true);
          if (!expect (ps, "}", true))
            break;
          break;
        }
    }
  else if (is_ident_start (c))
    {
      char *name = ident (ps);
      if (strcmp (name, "true") == 0 || strcmp (name, "false") == 0 || strcmp (name, "null") == 0)
        {
          x = xnew (X_LIT, line, col);
          x->lit = name[0] == 't' ? json_true () : name[0] == 'f' ? json_false () : json_null ();
          free (name);
        }
      else
        {
          skip (ps, false);
          if (peekc (ps) == '(')
            {
              advance (ps);
              x = xnew (X_CALL, line, col);
              x->name = name;
              parse_items (ps, x, ")", true);
            }
          else
            {
              x = xnew (X_REF, line, col);
              x->name = name;
            }
        }
    }
  else if (c == -1)
    perr (ps, "expected an expression, found the end of the file");
  else
    perr (ps, "expected an expression, found \"%c\"", c);
  ps->depth--;
  if (ps->failed)
    {
      xfree (x);
      return NULL;
    }
  /* postfix: .attr, [index] */
  for (;;)
    {
      if (peekc (ps) == '.' && ps->p + 1 < ps->end && is_ident_start ((unsigned char) ps->p[1]))
        {
          advance (ps);
          xnode *a = xnew (X_ATTR, ps->line, col_of (ps));
          a->a = x;
          a->name = ident (ps);
          x = a;
        }
      else if (peekc (ps) == '.' && ps->p + 1 < ps->end && isdigit ((unsigned char) ps->p[1]))
        {
          advance (ps);
          xnode *a = xnew (X_INDEX, ps->line, col_of (ps));
          a->a = x;
          a->b = parse_number (ps);
          x = a;
        }
      else if (peekc (ps) == '[')
        {
          advance (ps);
          xnode *a = xnew (X_INDEX, ps->line, col_of (ps));
          a->a = x;
          a->b = parse_expr (ps, true);
          x = a;
          if (a->b == NULL || !expect (ps, "]", true))
            {
              xfree (x);
              return NULL;
            }
        }
      else
        return x;
    }
}

static xnode *
parse_unary (parser *ps, bool nl)
{
  skip (ps, nl);
  int line = ps->line, col = col_of (ps);
  if (peekc (ps) == '!' || (peekc (ps) == '-' && !(ps->p + 1 < ps->end && isdigit ((unsigned char) ps->p[1]))))
    {
      char op = (char) peekc (ps);
      advance (ps);
      xnode *a = parse_unary (ps, nl);
      if (a == NULL)
        return NULL;
      xnode *x = xnew (X_UNARY, line, col);
      x->op[0] = op;
      x->a = a;
      return x;
    }
  if (peekc (ps) == '-')
    {
      advance (ps);
      xnode *n = parse_primary (ps, nl);
      if (n && n->kind == X_LIT && json_is_integer (n->lit))
        {
          json_integer_set (n->lit, -json_integer_value (n->lit));
          return n;
        }
      if (n && n->kind == X_LIT && json_is_real (n->lit))
        {
          json_real_set (n->lit, -json_real_value (n->lit));
          return n;
        }
      xnode *x = xnew (X_UNARY, line, col);
      x->op[0] = '-';
      x->a = n;
      return n ? x : (xfree (x), NULL);
    }
  return parse_primary (ps, nl);
}

/* Binary operators by precedence, loosest first. */
static const char *const levels[][4] = {
  { "||", NULL }, { "&&", NULL }, { "==", "!=", NULL }, { "<=", ">=", "<", ">" }, { "+", "-", NULL },
  { "*", "/", "%", NULL },
};
#define N_LEVELS (sizeof levels / sizeof *levels)

static xnode *
parse_binary (parser *ps, size_t level, bool nl)
{
  if (level == N_LEVELS)
    return parse_unary (ps, nl);
  xnode *x = parse_binary (ps, level + 1, nl);
  while (x)
    {
      skip (ps, nl);
      const char *found = NULL;
      for (size_t i = 0; i < 4 && levels[level][i]; i++)
        {
          const char *op = levels[level][i];
          size_t n = strlen (op);
          if ((size_t) (ps->end - ps->p) >= n && memcmp (ps->p, op, n) == 0)
            {
              /* "<<" is a heredoc, "=" alone is not "==" */
              if (strcmp (op, "<") == 0 && ps->p + 1 < ps->end && ps->p[1] == '<')
                continue;
              found = op;
              break;
            }
        }
      if (found == NULL)
        return x;
      int line = ps->line, col = col_of (ps);
      accept (ps, found);
      xnode *b = parse_binary (ps, level + 1, nl);
      if (b == NULL)
        {
          xfree (x);
          return NULL;
        }
      xnode *o = xnew (X_BINOP, line, col);
      snprintf (o->op, sizeof o->op, "%s", found);
      o->a = x;
      o->b = b;
      x = o;
    }
  return x;
}

static xnode *
parse_expr (parser *ps, bool nl)
{
  xnode *x = parse_binary (ps, 0, nl);
  if (x == NULL)
    return NULL;
  skip (ps, nl);
  if (peekc (ps) == '?')
    {
      int line = ps->line, col = col_of (ps);
      advance (ps);
      xnode *b = parse_expr (ps, true);
      if (b == NULL || !expect (ps, ":", true))
        {
          xfree (x);
          xfree (b);
          return NULL;
        }
      xnode *c = parse_expr (ps, nl);
      if (c == NULL)
        {
          xfree (x);
          xfree (b);
          return NULL;
        }
      xnode *o = xnew (X_COND, line, col);
      o->a = x, o->b = b, o->c = c;
      return o;
    }
  return x;
}

/* A body: attributes and blocks up to `}` (or the end of the file at top level). */
static int
parse_body (parser *ps, bool top, hitem **out, size_t *n_out)
{
  hitem *items = NULL;
  size_t n = 0;
  for (;;)
    {
      skip (ps, true);
      if (ps->failed)
        break;
      if (peekc (ps) == -1)
        {
          if (!top)
            perr (ps, "missing \"}\" at the end of the file");
          break;
        }
      if (!top && accept (ps, "}"))
        break;
      int line = ps->line;
      char *name = ident (ps);
      if (name == NULL)
        {
          perr (ps, "expected an attribute or a block, found \"%c\"", peekc (ps));
          break;
        }
      items = sw_xreallocarray (items, n + 1, sizeof *items);
      hitem *it = &items[n++];
      memset (it, 0, sizeof *it);
      it->name = name;
      it->line = line;
      skip (ps, false);
      if (accept (ps, "="))
        {
          it->expr = parse_expr (ps, false);
          if (it->expr == NULL)
            break;
          skip (ps, false);
          if (peekc (ps) != '\n' && peekc (ps) != -1 && peekc (ps) != '}')
            {
              perr (ps, "unexpected \"%c\" after the value of %s (one attribute per line)", peekc (ps), name);
              break;
            }
          continue;
        }
      it->is_block = true;
      for (;;)
        {
          skip (ps, false);
          if (peekc (ps) == '"')
            {
              advance (ps);
              const char *b = ps->p;
              while (peekc (ps) != -1 && peekc (ps) != '"' && peekc (ps) != '\n')
                advance (ps);
              if (peekc (ps) != '"')
                {
                  perr (ps, "unterminated block label");
                  break;
                }
              it->labels = sw_xreallocarray (it->labels, it->n_labels + 1, sizeof *it->labels);
              it->labels[it->n_labels++] = sw_xstrndup (b, (size_t) (ps->p - b));
              advance (ps);
            }
          else if (is_ident_start (peekc (ps)))
            {
              it->labels = sw_xreallocarray (it->labels, it->n_labels + 1, sizeof *it->labels);
              it->labels[it->n_labels++] = ident (ps);
            }
          else
            break;
        }
      if (ps->failed)
        break;
      if (!accept (ps, "{"))
        {
          perr (ps, "expected \"=\" or a block after %s", name);
          break;
        }
      if (parse_body (ps, false, &it->body, &it->n_body) < 0)
        break;
    }
  *out = items;
  *n_out = n;
  return ps->failed ? -1 : 0;
}

int
sw_hcl_parse (const char *text, size_t len, const char *name, sw_hcl_file **out, sw_error **err)
{
  parser ps = { .s = text, .end = text + len, .p = text, .file = name, .line = 1, .line_start = text, .err = err };
  sw_hcl_file *f = sw_xzalloc (sizeof *f);
  f->name = sw_xstrdup (name);
  if (parse_body (&ps, true, &f->items, &f->n_items) < 0)
    {
      sw_hcl_file_free (f);
      return -1;
    }
  *out = f;
  return 0;
}

/* ---- HCL's JSON syntax ------------------------------------------------------------------ */

static xnode *
json_expr (const json_t *v, const char *file, sw_error **err)
{
  xnode *x = NULL;
  if (json_is_string (v))
    {
      const char *s = json_string_value (v);
      parser ps = { .s = s, .end = s + strlen (s), .p = s, .file = file, .line = 1, .line_start = s, .err = err };
      x = parse_template (&ps, false, NULL);
      if (ps.failed)
        {
          xfree (x);
          return NULL;
        }
      return x;
    }
  if (json_is_array (v))
    {
      x = xnew (X_LIST, 0, 0);
      size_t i;
      json_t *e;
      json_array_foreach (v, i, e)
        {
          xnode *k = json_expr (e, file, err);
          if (k == NULL)
            return xfree (x), NULL;
          xadd (x, k);
        }
      return x;
    }
  if (json_is_object (v))
    {
      x = xnew (X_OBJECT, 0, 0);
      const char *k;
      json_t *e;
      json_object_foreach ((json_t *) v, k, e)
        {
          xnode *kn = xnew (X_LIT, 0, 0);
          kn->lit = json_string (k);
          xadd (x, kn);
          xnode *vn = json_expr (e, file, err);
          if (vn == NULL)
            return xfree (x), NULL;
          xadd (x, vn);
        }
      return x;
    }
  x = xnew (X_LIT, 0, 0);
  x->lit = json_deep_copy (v);
  return x;
}

/* {"target": {"a": {…}, "b": {…}}, "variable": {"X": {"default": …}}, "group": …, "ATTR": v} */
int
sw_hcl_parse_json (const char *text, size_t len, const char *name, sw_hcl_file **out, sw_error **err)
{
  json_error_t je;
  json_t *doc = json_loadb (text, len, JSON_DECODE_ANY, &je);
  if (doc == NULL || !json_is_object (doc))
    {
      json_decref (doc);
      sw_error_make (err, EINVAL, "%s:%d,%d: not a bake file in JSON: %s", name, je.line, je.column,
                     doc ? "the top level must be an object" : je.text);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  sw_hcl_file *f = sw_xzalloc (sizeof *f);
  f->name = sw_xstrdup (name);
  const char *key;
  json_t *val;
  int ret = 0;
  json_object_foreach (doc, key, val)
    {
      bool blocky = strcmp (key, "target") == 0 || strcmp (key, "group") == 0 || strcmp (key, "variable") == 0;
      if (blocky && json_is_object (val))
        {
          const char *label;
          json_t *body;
          json_object_foreach (val, label, body)
            {
              /* {"a": [{…}, {…}]} is two blocks of one name */
              size_t nb = json_is_array (body) ? json_array_size (body) : 1;
              for (size_t b = 0; b < nb && ret == 0; b++)
                {
                  json_t *bo = json_is_array (body) ? json_array_get (body, b) : body;
                  if (!json_is_object (bo))
                    {
                      ret = sw_error_make (err, EINVAL, "%s: %s \"%s\" must be an object", name, key, label);
                      break;
                    }
                  f->items = sw_xreallocarray (f->items, f->n_items + 1, sizeof *f->items);
                  hitem *it = &f->items[f->n_items++];
                  memset (it, 0, sizeof *it);
                  it->is_block = true;
                  it->name = sw_xstrdup (key);
                  it->labels = sw_xcalloc (1, sizeof *it->labels);
                  it->labels[0] = sw_xstrdup (label);
                  it->n_labels = 1;
                  const char *ak;
                  json_t *av;
                  json_object_foreach (bo, ak, av)
                    {
                      xnode *x = json_expr (av, name, err);
                      if (x == NULL)
                        {
                          ret = -1;
                          break;
                        }
                      it->body = sw_xreallocarray (it->body, it->n_body + 1, sizeof *it->body);
                      hitem *at = &it->body[it->n_body++];
                      memset (at, 0, sizeof *at);
                      at->name = sw_xstrdup (ak);
                      at->expr = x;
                    }
                }
            }
        }
      else
        {
          xnode *x = json_expr (val, name, err);
          if (x == NULL)
            {
              ret = -1;
              break;
            }
          f->items = sw_xreallocarray (f->items, f->n_items + 1, sizeof *f->items);
          hitem *it = &f->items[f->n_items++];
          memset (it, 0, sizeof *it);
          it->name = sw_xstrdup (key);
          it->expr = x;
        }
      if (ret < 0)
        break;
    }
  json_decref (doc);
  if (ret < 0)
    {
      sw_hcl_file_free (f);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  *out = f;
  return 0;
}

/* ---- evaluation ------------------------------------------------------------------------- */

typedef struct var
{
  char *name;
  const xnode *def;   /* NULL: no default */
  const char *file;
  bool top_attr;      /* a top-level attribute: no environment override */
  json_t *value;      /* once evaluated */
  bool busy;
} var;

typedef struct evaluator
{
  var *vars;
  size_t n_vars;
  const char *file; /* of the expression being evaluated */
  sw_hcl_lookup_fn lookup;
  void *ud;
  sw_error **err;
} evaluator;

static json_t *eval (evaluator *ev, const xnode *x);

static json_t *
eval_fail (evaluator *ev, const xnode *x, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static json_t *
eval_fail (evaluator *ev, const xnode *x, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *m = sw_xvasprintf (fmt, ap);
  va_end (ap);
  if (x && x->line)
    sw_error_make (ev->err, EINVAL, "%s:%d,%d: %s", ev->file, x->line, x->col, m);
  else
    sw_error_make (ev->err, EINVAL, "%s: %s", ev->file, m);
  sw_error_set_category (ev->err, SW_ERR_INPUT);
  return NULL;
}

char *
sw_hcl_value_string (const json_t *v)
{
  char buf[64];
  if (json_is_string (v))
    return sw_xstrdup (json_string_value (v));
  if (json_is_integer (v))
    return sw_xasprintf ("%lld", (long long) json_integer_value (v));
  if (json_is_real (v))
    {
      double d = json_real_value (v);
      if (d == floor (d) && fabs (d) < 1e15)
        return sw_xasprintf ("%lld", (long long) d);
      snprintf (buf, sizeof buf, "%.17g", d);
      /* the shortest form that reads back the same, as cty prints */
      for (int p = 1; p <= 17; p++)
        {
          snprintf (buf, sizeof buf, "%.*g", p, d);
          if (strtod (buf, NULL) == d)
            break;
        }
      return sw_xstrdup (buf);
    }
  if (json_is_true (v))
    return sw_xstrdup ("true");
  if (json_is_false (v))
    return sw_xstrdup ("false");
  return NULL;
}

static bool
to_number (const json_t *v, double *out)
{
  if (json_is_number (v))
    {
      *out = json_number_value (v);
      return true;
    }
  if (json_is_string (v))
    {
      const char *s = json_string_value (v);
      char *end;
      if (*s == '\0')
        return false;
      *out = strtod (s, &end);
      return *end == '\0';
    }
  return false;
}

static json_t *
number_value (double d)
{
  if (d == floor (d) && fabs (d) < 9e15)
    return json_integer ((json_int_t) d);
  return json_real (d);
}

static bool
to_bool (const json_t *v, bool *out)
{
  if (json_is_boolean (v))
    {
      *out = json_is_true (v);
      return true;
    }
  if (json_is_string (v) && (strcmp (json_string_value (v), "true") == 0 || strcmp (json_string_value (v), "false") == 0))
    {
      *out = strcmp (json_string_value (v), "true") == 0;
      return true;
    }
  return false;
}

static json_t *
eval_var (evaluator *ev, const xnode *at, const char *name)
{
  var *v = NULL;
  for (size_t i = ev->n_vars; i-- > 0;)
    if (strcmp (ev->vars[i].name, name) == 0)
      {
        v = &ev->vars[i];
        break;
      }
  if (v == NULL)
    return eval_fail (ev, at, "Unknown variable; There is no variable named \"%s\".", name);
  if (v->value)
    return json_incref (v->value);
  if (v->busy)
    return eval_fail (ev, at, "variable cycle not allowed for %s", name);
  v->busy = true;
  const char *saved = ev->file;
  json_t *val;
  const char *env = v->top_attr ? NULL : ev->lookup (ev->ud, name);
  ev->file = v->file;
  if (v->def)
    val = eval (ev, v->def);
  else
    val = json_string ("");
  ev->file = saved;
  if (val && env)
    {
      /* the environment wins, converted to the default's type */
      json_t *e = NULL;
      double d;
      if (json_is_boolean (val))
        {
          /* Go's strconv.ParseBool */
          static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
          static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
          for (size_t i = 0; i < 6 && e == NULL; i++)
            if (strcmp (env, yes[i]) == 0)
              e = json_true ();
            else if (strcmp (env, no[i]) == 0)
              e = json_false ();
          if (e == NULL)
            {
              json_decref (val);
              v->busy = false;
              return eval_fail (ev, at, "failed to parse %s as bool: \"%s\"", name, env);
            }
        }
      else if (json_is_number (val))
        {
          json_t *tmp = json_string (env);
          bool ok = to_number (tmp, &d);
          json_decref (tmp);
          if (!ok)
            {
              json_decref (val);
              v->busy = false;
              return eval_fail (ev, at, "failed to parse %s as number: \"%s\"", name, env);
            }
          e = number_value (d);
        }
      else if (json_is_string (val) || json_is_null (val))
        e = json_string (env);
      else
        {
          json_decref (val);
          v->busy = false;
          return eval_fail (ev, at, "unsupported type for variable %s from the environment", name);
        }
      json_decref (val);
      val = e;
    }
  v->busy = false;
  if (val == NULL)
    return NULL;
  v->value = json_incref (val);
  return val;
}

static json_t *
eval_template (evaluator *ev, const xnode *x)
{
  if (x->n_kids == 1 && x->kids[0]->kind != X_LIT)
    return eval (ev, x->kids[0]); /* "${X}" is X itself, with its type */
  cleanup_buf sw_buf out = SW_BUF_INIT;
  sw_buf_puts (&out, "");
  for (size_t i = 0; i < x->n_kids; i++)
    {
      json_t *v = eval (ev, x->kids[i]);
      if (v == NULL)
        return NULL;
      char *s = sw_hcl_value_string (v);
      json_decref (v);
      if (s == NULL)
        return eval_fail (ev, x->kids[i], "Invalid template interpolation value; the value is null, a list or an "
                                          "object, which cannot be a string");
      sw_buf_puts (&out, s);
      free (s);
    }
  return json_stringn (out.data, out.len);
}

static bool
values_equal (const json_t *a, const json_t *b)
{
  if (json_is_number (a) && json_is_number (b))
    return json_number_value (a) == json_number_value (b);
  return json_equal ((json_t *) a, (json_t *) b);
}

static json_t *
eval_binop (evaluator *ev, const xnode *x)
{
  const char *op = x->op;
  json_t *a = eval (ev, x->a);
  if (a == NULL)
    return NULL;
  if (strcmp (op, "&&") == 0 || strcmp (op, "||") == 0)
    {
      bool ab, bb;
      if (!to_bool (a, &ab))
        {
          json_decref (a);
          return eval_fail (ev, x->a, "a bool is required for %s", op);
        }
      json_decref (a);
      json_t *b = eval (ev, x->b);
      if (b == NULL)
        return NULL;
      bool ok = to_bool (b, &bb);
      json_decref (b);
      if (!ok)
        return eval_fail (ev, x->b, "a bool is required for %s", op);
      return json_boolean (op[0] == '&' ? (ab && bb) : (ab || bb));
    }
  json_t *b = eval (ev, x->b);
  if (b == NULL)
    {
      json_decref (a);
      return NULL;
    }
  json_t *r = NULL;
  if (strcmp (op, "==") == 0 || strcmp (op, "!=") == 0)
    r = json_boolean (values_equal (a, b) == (op[0] == '='));
  else
    {
      double da, db;
      if (!to_number (a, &da) || !to_number (b, &db))
        r = eval_fail (ev, x, "Invalid operand; a number is required for \"%s\"", op);
      else if (strcmp (op, "<") == 0)
        r = json_boolean (da < db);
      else if (strcmp (op, ">") == 0)
        r = json_boolean (da > db);
      else if (strcmp (op, "<=") == 0)
        r = json_boolean (da <= db);
      else if (strcmp (op, ">=") == 0)
        r = json_boolean (da >= db);
      else if (op[0] == '+')
        r = number_value (da + db);
      else if (op[0] == '-')
        r = number_value (da - db);
      else if (op[0] == '*')
        r = number_value (da * db);
      else if ((op[0] == '/' || op[0] == '%') && db == 0)
        r = eval_fail (ev, x, "Zero divisor");
      else if (op[0] == '/')
        r = number_value (da / db);
      else
        r = number_value (fmod (da, db));
    }
  json_decref (a);
  json_decref (b);
  return r;
}

/* ---- functions: the ones bake files use -------------------------------------------------- */

static const char *
arg_str (json_t **args, size_t i, char **tmp)
{
  *tmp = sw_hcl_value_string (args[i]);
  return *tmp;
}

static json_t *
call (evaluator *ev, const xnode *x, json_t **args, size_t n)
{
  const char *f = x->name;
#define NEED(k)                                                                                          \
  do                                                                                                     \
    if (n != (k))                                                                                        \
      return eval_fail (ev, x, "Not enough function arguments; %s takes %d arguments", f, (int) (k));  \
  while (0)
  if (strcmp (f, "equal") == 0 || strcmp (f, "notequal") == 0)
    {
      NEED (2);
      return json_boolean (values_equal (args[0], args[1]) == (f[0] == 'e'));
    }
  if (strcmp (f, "and") == 0 || strcmp (f, "or") == 0)
    {
      bool acc = f[0] == 'a';
      for (size_t i = 0; i < n; i++)
        {
          bool b;
          if (!to_bool (args[i], &b))
            return eval_fail (ev, x, "%s: a bool is required", f);
          acc = f[0] == 'a' ? (acc && b) : (acc || b);
        }
      return json_boolean (acc);
    }
  if (strcmp (f, "not") == 0)
    {
      bool b;
      NEED (1);
      if (!to_bool (args[0], &b))
        return eval_fail (ev, x, "not: a bool is required");
      return json_boolean (!b);
    }
  if (strcmp (f, "lower") == 0 || strcmp (f, "upper") == 0 || strcmp (f, "trimspace") == 0)
    {
      cleanup_free char *s = NULL;
      NEED (1);
      if (arg_str (args, 0, &s) == NULL)
        return eval_fail (ev, x, "%s: a string is required", f);
      if (f[0] == 't')
        {
          char *b = s, *e = s + strlen (s);
          while (isspace ((unsigned char) *b))
            b++;
          while (e > b && isspace ((unsigned char) e[-1]))
            e--;
          return json_stringn (b, (size_t) (e - b));
        }
      for (char *p = s; *p; p++)
        *p = (char) (f[0] == 'l' ? tolower ((unsigned char) *p) : toupper ((unsigned char) *p));
      return json_string (s);
    }
  if (strcmp (f, "trimprefix") == 0 || strcmp (f, "trimsuffix") == 0)
    {
      cleanup_free char *s = NULL, *a = NULL;
      NEED (2);
      if (arg_str (args, 0, &s) == NULL || arg_str (args, 1, &a) == NULL)
        return eval_fail (ev, x, "%s: strings are required", f);
      size_t ls = strlen (s), la = strlen (a);
      if (f[4] == 'p')
        return json_string (la <= ls && strncmp (s, a, la) == 0 ? s + la : s);
      if (la <= ls && strcmp (s + ls - la, a) == 0)
        s[ls - la] = '\0';
      return json_string (s);
    }
  if (strcmp (f, "replace") == 0)
    {
      cleanup_free char *s = NULL, *a = NULL, *b = NULL;
      NEED (3);
      if (arg_str (args, 0, &s) == NULL || arg_str (args, 1, &a) == NULL || arg_str (args, 2, &b) == NULL)
        return eval_fail (ev, x, "replace: strings are required");
      if (*a == '\0' || (a[0] == '/' && a[strlen (a) - 1] == '/' && strlen (a) > 1))
        return eval_fail (ev, x, "replace: regular expressions are not supported");
      cleanup_buf sw_buf o = SW_BUF_INIT;
      sw_buf_puts (&o, "");
      for (const char *p = s; *p;)
        if (strncmp (p, a, strlen (a)) == 0)
          sw_buf_puts (&o, b), p += strlen (a);
        else
          sw_buf_putc (&o, *p++);
      return json_stringn (o.data, o.len);
    }
  if (strcmp (f, "join") == 0)
    {
      cleanup_free char *sep = NULL;
      cleanup_buf sw_buf o = SW_BUF_INIT;
      bool first = true;
      if (n < 2 || arg_str (args, 0, &sep) == NULL)
        return eval_fail (ev, x, "join: a separator and lists are required");
      sw_buf_puts (&o, "");
      for (size_t i = 1; i < n; i++)
        {
          size_t k;
          json_t *e;
          if (!json_is_array (args[i]))
            return eval_fail (ev, x, "join: a list is required");
          json_array_foreach (args[i], k, e)
            {
              char *s = sw_hcl_value_string (e);
              if (s == NULL)
                return eval_fail (ev, x, "join: the list holds a value that is not a string");
              sw_buf_printf (&o, "%s%s", first ? "" : sep, s);
              free (s);
              first = false;
            }
        }
      return json_stringn (o.data, o.len);
    }
  if (strcmp (f, "split") == 0)
    {
      cleanup_free char *sep = NULL, *s = NULL;
      NEED (2);
      if (arg_str (args, 0, &sep) == NULL || arg_str (args, 1, &s) == NULL || *sep == '\0')
        return eval_fail (ev, x, "split: strings are required");
      json_t *l = json_array ();
      char *p = s;
      for (char *q; (q = strstr (p, sep)); p = q + strlen (sep))
        json_array_append_new (l, json_stringn (p, (size_t) (q - p)));
      json_array_append_new (l, json_string (p));
      return l;
    }
  if (strcmp (f, "concat") == 0)
    {
      json_t *l = json_array ();
      for (size_t i = 0; i < n; i++)
        {
          if (!json_is_array (args[i]))
            {
              json_decref (l);
              return eval_fail (ev, x, "concat: lists are required");
            }
          json_array_extend (l, args[i]);
        }
      return l;
    }
  if (strcmp (f, "coalesce") == 0)
    {
      /* the first argument that is not null ("" is a value) */
      for (size_t i = 0; i < n; i++)
        if (!json_is_null (args[i]))
          return json_incref (args[i]);
      return eval_fail (ev, x, "coalesce: no non-null argument");
    }
  if (strcmp (f, "length") == 0)
    {
      NEED (1);
      if (json_is_array (args[0]))
        return json_integer ((json_int_t) json_array_size (args[0]));
      if (json_is_object (args[0]))
        return json_integer ((json_int_t) json_object_size (args[0]));
      if (json_is_string (args[0]))
        return json_integer ((json_int_t) strlen (json_string_value (args[0])));
      return eval_fail (ev, x, "length: a collection or a string is required");
    }
  if (strcmp (f, "substr") == 0)
    {
      cleanup_free char *s = NULL;
      double off, len;
      NEED (3);
      if (arg_str (args, 0, &s) == NULL || !to_number (args[1], &off) || !to_number (args[2], &len))
        return eval_fail (ev, x, "substr: a string, an offset and a length are required");
      long L = (long) strlen (s), o = (long) off, l = (long) len;
      if (o < 0)
        o += L;
      if (o < 0 || o > L)
        return eval_fail (ev, x, "substr: offset out of range");
      if (l < 0 || o + l > L)
        l = L - o;
      return json_stringn (s + o, (size_t) l);
    }
  if (strcmp (f, "format") == 0)
    {
      cleanup_free char *fmt = NULL;
      cleanup_buf sw_buf o = SW_BUF_INIT;
      size_t ai = 1;
      if (n < 1 || arg_str (args, 0, &fmt) == NULL)
        return eval_fail (ev, x, "format: a format string is required");
      sw_buf_puts (&o, "");
      for (const char *p = fmt; *p; p++)
        {
          if (*p != '%')
            {
              sw_buf_putc (&o, *p);
              continue;
            }
          p++;
          if (*p == '%')
            {
              sw_buf_putc (&o, '%');
              continue;
            }
          if ((*p != 's' && *p != 'd' && *p != 'v') || ai >= n)
            return eval_fail (ev, x, "format: only %%s, %%d and %%v are supported, one argument each");
          char *s = sw_hcl_value_string (args[ai++]);
          if (s == NULL)
            return eval_fail (ev, x, "format: an argument is not a string or a number");
          sw_buf_puts (&o, s);
          free (s);
        }
      return json_stringn (o.data, o.len);
    }
  if (strcmp (f, "contains") == 0)
    {
      NEED (2);
      if (!json_is_array (args[0]))
        return eval_fail (ev, x, "contains: a list is required");
      size_t i;
      json_t *e;
      json_array_foreach (args[0], i, e)
        if (values_equal (e, args[1]))
          return json_true ();
      return json_false ();
    }
  if (strcmp (f, "tostring") == 0)
    {
      NEED (1);
      char *s = sw_hcl_value_string (args[0]);
      if (s == NULL)
        return json_is_null (args[0]) ? json_null () : eval_fail (ev, x, "tostring: not a primitive value");
      json_t *r = json_string (s);
      free (s);
      return r;
    }
  return eval_fail (ev, x, "Call to unknown function; There is no function named \"%s\" (slipway knows equal, "
                           "notequal, and, or, not, lower, upper, trimspace, trimprefix, trimsuffix, replace, join, "
                           "split, concat, coalesce, length, substr, format, contains, tostring).",
                    f);
#undef NEED
}

static json_t *
eval (evaluator *ev, const xnode *x)
{
  switch (x->kind)
    {
    case X_LIT:
      return json_incref (x->lit);
    case X_TEMPLATE:
      return eval_template (ev, x);
    case X_REF:
      return eval_var (ev, x, x->name);
    case X_LIST:
      {
        json_t *l = json_array ();
        for (size_t i = 0; i < x->n_kids; i++)
          {
            json_t *v = eval (ev, x->kids[i]);
            if (v == NULL)
              return json_decref (l), NULL;
            json_array_append_new (l, v);
          }
        return l;
      }
    case X_OBJECT:
      {
        json_t *o = json_object ();
        for (size_t i = 0; i + 1 < x->n_kids; i += 2)
          {
            json_t *k = x->kids[i]->kind == X_LIT ? json_incref (x->kids[i]->lit) : eval (ev, x->kids[i]);
            if (k == NULL)
              return json_decref (o), NULL;
            char *ks = sw_hcl_value_string (k);
            json_decref (k);
            if (ks == NULL)
              {
                json_decref (o);
                return eval_fail (ev, x->kids[i], "Incorrect key type; an object key must be a string");
              }
            json_t *v = eval (ev, x->kids[i + 1]);
            if (v == NULL)
              {
                free (ks);
                return json_decref (o), NULL;
              }
            json_object_set_new (o, ks, v);
            free (ks);
          }
        return o;
      }
    case X_CALL:
      {
        json_t **args = sw_xcalloc (x->n_kids + 1, sizeof *args);
        json_t *r = NULL;
        size_t i;
        for (i = 0; i < x->n_kids; i++)
          if ((args[i] = eval (ev, x->kids[i])) == NULL)
            break;
        if (i == x->n_kids)
          r = call (ev, x, args, x->n_kids);
        for (size_t j = 0; j < i; j++)
          json_decref (args[j]);
        free (args);
        return r;
      }
    case X_COND:
      {
        json_t *c = eval (ev, x->a);
        bool b;
        if (c == NULL)
          return NULL;
        bool ok = to_bool (c, &b);
        json_decref (c);
        if (!ok)
          return eval_fail (ev, x->a, "Incorrect condition type; the condition must be a bool");
        return eval (ev, b ? x->b : x->c);
      }
    case X_BINOP:
      return eval_binop (ev, x);
    case X_UNARY:
      {
        json_t *a = eval (ev, x->a);
        if (a == NULL)
          return NULL;
        json_t *r;
        double d;
        bool b;
        if (x->op[0] == '!')
          r = to_bool (a, &b) ? json_boolean (!b) : eval_fail (ev, x, "a bool is required for !");
        else
          r = to_number (a, &d) ? number_value (-d) : eval_fail (ev, x, "a number is required for -");
        json_decref (a);
        return r;
      }
    case X_ATTR:
      {
        json_t *a = eval (ev, x->a);
        if (a == NULL)
          return NULL;
        json_t *v = json_is_object (a) ? json_object_get (a, x->name) : NULL;
        json_t *r = v ? json_incref (v) : eval_fail (ev, x, "Unsupported attribute; there is no attribute \"%s\"", x->name);
        json_decref (a);
        return r;
      }
    case X_INDEX:
      {
        json_t *a = eval (ev, x->a);
        if (a == NULL)
          return NULL;
        json_t *k = eval (ev, x->b);
        json_t *r = NULL;
        double d;
        if (k == NULL)
          ;
        else if (json_is_array (a) && to_number (k, &d) && d >= 0 && (size_t) d < json_array_size (a))
          r = json_incref (json_array_get (a, (size_t) d));
        else if (json_is_object (a) && json_is_string (k) && json_object_get (a, json_string_value (k)))
          r = json_incref (json_object_get (a, json_string_value (k)));
        else
          r = eval_fail (ev, x, "Invalid index");
        json_decref (a);
        json_decref (k);
        return r;
      }
    }
  return eval_fail (ev, x, "internal error: unknown expression");
}

static void
add_var (evaluator *ev, const char *name, const xnode *def, const char *file, bool top)
{
  ev->vars = sw_xreallocarray (ev->vars, ev->n_vars + 1, sizeof *ev->vars);
  ev->vars[ev->n_vars++] = (var){ .name = sw_xstrdup (name), .def = def, .file = file, .top_attr = top };
}

void
sw_hcl_blocks_free (sw_hcl_block *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (b[i].type);
      free (b[i].name);
      free (b[i].where);
      json_decref (b[i].attrs);
    }
  free (b);
}

int
sw_hcl_eval (sw_hcl_file *const *files, size_t n_files, sw_hcl_lookup_fn lookup, void *ud, sw_hcl_block **out,
             size_t *n_out, sw_error **err)
{
  evaluator ev = { .lookup = lookup, .ud = ud, .err = err };
  sw_hcl_block *blocks = NULL;
  size_t n = 0;
  int ret = -1;

  /* Variables first: a later definition of a name hides an earlier one (eval_var looks
   * from the end). */
  for (size_t f = 0; f < n_files; f++)
    for (size_t i = 0; i < files[f]->n_items; i++)
      {
        const hitem *it = &files[f]->items[i];
        if (!it->is_block)
          add_var (&ev, it->name, it->expr, files[f]->name, true);
        else if (strcmp (it->name, "variable") == 0)
          {
            const xnode *def = NULL;
            if (it->n_labels != 1)
              {
                sw_error_make (err, EINVAL, "%s:%d: a variable block needs one name", files[f]->name, it->line);
                goto out;
              }
            for (size_t j = 0; j < it->n_body; j++)
              if (!it->body[j].is_block && strcmp (it->body[j].name, "default") == 0)
                def = it->body[j].expr;
            add_var (&ev, it->labels[0], def, files[f]->name, false);
          }
      }

  for (size_t f = 0; f < n_files; f++)
    for (size_t i = 0; i < files[f]->n_items; i++)
      {
        const hitem *it = &files[f]->items[i];
        if (!it->is_block || strcmp (it->name, "variable") == 0)
          continue;
        if (strcmp (it->name, "function") == 0)
          {
            sw_error_make (err, ENOTSUP, "%s:%d: not supported yet: user-defined functions (function blocks)",
                           files[f]->name, it->line);
            goto out;
          }
        if (strcmp (it->name, "target") != 0 && strcmp (it->name, "group") != 0)
          {
            sw_error_make (err, EINVAL, "%s:%d: Unsupported block type; Blocks of type \"%s\" are not expected here.",
                           files[f]->name, it->line, it->name);
            goto out;
          }
        if (it->n_labels != 1)
          {
            sw_error_make (err, EINVAL, "%s:%d: a %s block needs one name", files[f]->name, it->line, it->name);
            goto out;
          }
        blocks = sw_xreallocarray (blocks, n + 1, sizeof *blocks);
        sw_hcl_block *b = &blocks[n++];
        b->type = sw_xstrdup (it->name);
        b->name = sw_xstrdup (it->labels[0]);
        b->where = sw_xasprintf ("%s:%d", files[f]->name, it->line);
        b->attrs = json_object ();
        ev.file = files[f]->name;
        for (size_t j = 0; j < it->n_body; j++)
          {
            if (it->body[j].is_block)
              {
                if (strcmp (it->body[j].name, "matrix") == 0)
                  sw_error_make (err, ENOTSUP, "%s:%d: not supported yet: matrix", files[f]->name, it->body[j].line);
                else
                  sw_error_make (err, EINVAL, "%s:%d: Unsupported block type \"%s\" in %s \"%s\"", files[f]->name,
                                 it->body[j].line, it->body[j].name, it->name, it->labels[0]);
                goto out;
              }
            if (strcmp (it->body[j].name, "matrix") == 0)
              {
                sw_error_make (err, ENOTSUP, "%s:%d: not supported yet: matrix", files[f]->name, it->body[j].line);
                goto out;
              }
            json_t *v = eval (&ev, it->body[j].expr);
            if (v == NULL)
              goto out;
            json_object_set_new (b->attrs, it->body[j].name, v);
          }
      }
  *out = blocks;
  *n_out = n;
  blocks = NULL;
  n = 0;
  ret = 0;
out:
  if (ret < 0)
    sw_error_set_category (err, SW_ERR_INPUT);
  sw_hcl_blocks_free (blocks, n);
  for (size_t i = 0; i < ev.n_vars; i++)
    {
      free (ev.vars[i].name);
      json_decref (ev.vars[i].value);
    }
  free (ev.vars);
  return ret;
}
