/* dockerfile/expand.c — see expand.h.
 *
 * The shape follows BuildKit's shell/lex.go on purpose (a rune scanner; stop_on,
 * dollar, single/double quote, name), so that behaviour, quirks included, can be checked
 * against it side by side.  The shell patterns of # % / are matched by a small Pike VM
 * with leftmost-first priorities, which gives the same matches Go's regexp gives for the
 * regexps BuildKit builds from them (literals, ".", ".*", ".*?"), in time linear in the
 * value for each start position and without recursion.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/gofmt.h"
#include "common/strv.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "dockerfile/expand.h"
#include "dockerfile/parser_int.h"
#include "dockerfile/unicode_class.h"

#define R_EOF (-1)
#define R_ERROR 0xFFFD
#define R_BOM 0xFEFF

/* ---- UTF-8, as Go decodes it --------------------------------------------------- */

/* Decode one rune at s[0..len): invalid or truncated sequences, overlong forms,
 * surrogates and values past U+10FFFF read as U+FFFD of width 1 (utf8.DecodeRune). */
static int32_t
utf8_decode (const unsigned char *s, size_t len, size_t *width)
{
  int32_t r = sw_utf8_decode (s, len, width);
  return r < 0 ? R_ERROR : r;
}

/* A decoded string: runes and, for slicing the original bytes, their offsets
 * (off[n] is the byte length). */
typedef struct text
{
  int32_t *r;
  size_t *off;
  size_t n;
} text;

static void
text_decode (text *t, const char *s, size_t len)
{
  t->r = sw_xcalloc (len + 1, sizeof *t->r);
  t->off = sw_xcalloc (len + 1, sizeof *t->off);
  t->n = 0;
  for (size_t i = 0; i < len;)
    {
      size_t w;
      t->off[t->n] = i;
      t->r[t->n++] = utf8_decode ((const unsigned char *) s + i, len - i, &w);
      i += w;
    }
  t->off[t->n] = len;
}

static void
text_free (text *t)
{
  free (t->r);
  free (t->off);
}

/* ---- character classes (Go's unicode package) ---------------------------------- */

static bool
is_space (int32_t r)
{
  switch (r)
    {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F:
    case 0x205F: case 0x3000:
      return true;
    }
  return r >= 0x2000 && r <= 0x200A;
}

static bool
is_digit (int32_t r)
{
  return sw_df_is_digit (r);
}

static bool
is_letter (int32_t r)
{
  return sw_df_is_letter (r);
}

/* ---- shell patterns → a tiny regexp program ------------------------------------ */

#define P_ANY (-2)  /* "."  : one rune but a newline */
#define P_STAR (-3) /* ".*" or ".*?" : any run without a newline */

typedef struct pattern
{
  int32_t *tok; /* a rune (a literal), P_ANY or P_STAR */
  size_t n;
  bool greedy;
} pattern;

/* BuildKit's convertShellPatternToRegex over the runes of a pattern.  A leading BOM is
 * dropped, as Go's text/scanner drops it. */
static int
pattern_compile (const int32_t *src, size_t n, bool greedy, pattern *p, sw_error **err)
{
  size_t i = 0;
  p->tok = sw_xcalloc (n + 1, sizeof *p->tok);
  p->n = 0;
  p->greedy = greedy;
  if (n > 0 && src[0] == R_BOM)
    i = 1;
  while (i < n)
    {
      int32_t c = src[i++];
      if (c == '*')
        p->tok[p->n++] = P_STAR;
      else if (c == '?')
        p->tok[p->n++] = P_ANY;
      else if (c == '\\')
        {
          /* \} and \/ keep } and / from ending the ${}; the \ is not part of the pattern */
          if (i < n && (src[i] == '}' || src[i] == '/'))
            continue;
          if (i >= n)
            {
              free (p->tok);
              p->tok = NULL;
              return sw_error_make (err, 0, "invalid escape '\\' at the end of the pattern");
            }
          c = src[i++];
          if (c != '*' && c != '?' && c != '\\')
            {
              sw_buf b = SW_BUF_INIT;
              sw_utf8_append (&b, c);
              free (p->tok);
              p->tok = NULL;
              sw_error_make (err, 0, "invalid escape '\\%s'", sw_buf_str (&b));
              sw_buf_free (&b);
              return -1;
            }
          p->tok[p->n++] = c;
        }
      else
        p->tok[p->n++] = c;
    }
  return 0;
}

typedef struct vm_thread
{
  size_t state; /* index of the token it waits at; p->n = matched */
  size_t start;
} vm_thread;

typedef struct vm
{
  const pattern *p;
  vm_thread *list[2];
  size_t len[2];
  unsigned *mark;
  unsigned gen;
} vm;

static void
vm_add (vm *m, int l, size_t state, size_t start)
{
  if (m->mark[state] == m->gen)
    return;
  m->mark[state] = m->gen;
  m->list[l][m->len[l]++] = (vm_thread){ state, start };
}

/* The epsilon closure of "at token ti", in priority order: a greedy star prefers to
 * consume, a lazy one to move on. */
static void
vm_closure (vm *m, int l, size_t ti, size_t start)
{
  const pattern *p = m->p;
  size_t k = ti;
  while (k < p->n && p->tok[k] == P_STAR)
    {
      if (p->greedy)
        vm_add (m, l, k, start);
      k++;
    }
  vm_add (m, l, k, start);
  if (!p->greedy)
    for (size_t j = k; j > ti; j--)
      vm_add (m, l, j - 1, start);
}

/* Leftmost-first match of p in t, searching from rune index from (only there when
 * anchored).  Go's regexp semantics: among the matches at the leftmost start, the one
 * a backtracking engine would find first. */
static bool
pattern_find (const pattern *p, const text *t, size_t from, bool anchored, size_t *ms,
              size_t *me)
{
  vm m = { .p = p };
  bool matched = false;
  int cur = 0;

  m.list[0] = sw_xcalloc (p->n + 1, sizeof (vm_thread));
  m.list[1] = sw_xcalloc (p->n + 1, sizeof (vm_thread));
  m.mark = sw_xcalloc (p->n + 1, sizeof (unsigned));
  m.gen = 1;
  m.len[0] = 0;
  vm_closure (&m, 0, 0, from);
  for (size_t i = from;; i++)
    {
      int nxt = 1 - cur;
      m.gen++;
      m.len[nxt] = 0;
      for (size_t k = 0; k < m.len[cur]; k++)
        {
          vm_thread th = m.list[cur][k];
          if (th.state == p->n)
            {
              matched = true;
              *ms = th.start;
              *me = i;
              break; /* lower-priority threads lose */
            }
          if (i >= t->n)
            continue;
          int32_t c = t->r[i], tok = p->tok[th.state];
          bool ok = (tok == P_ANY || tok == P_STAR) ? c != '\n' : c == tok;
          if (ok)
            vm_closure (&m, nxt, tok == P_STAR ? th.state : th.state + 1, th.start);
        }
      if (i >= t->n)
        break;
      if (!matched && !anchored)
        vm_closure (&m, nxt, 0, i + 1);
      cur = nxt;
      if (m.len[cur] == 0)
        break;
    }
  free (m.list[0]);
  free (m.list[1]);
  free (m.mark);
  return matched;
}

/* ---- the lexer ---------------------------------------------------------------- */

typedef struct fields
{
  sw_strv w;
  bool in_word;
} fields;

typedef struct lexer
{
  sw_expand_opts o;
  sw_expand_lookup lookup;
  void *ud;
  const int32_t *src;
  size_t n, pos;
  bool raw_escapes;
  int depth;
  sw_buf wbuf; /* the pending field, shared by nested stop_on calls as in BuildKit */
} lexer;

static int32_t
peek (lexer *lx)
{
  return lx->pos < lx->n ? lx->src[lx->pos] : R_EOF;
}

static int32_t
next (lexer *lx)
{
  return lx->pos < lx->n ? lx->src[lx->pos++] : R_EOF;
}

static const char *
get_env (lexer *lx, const char *name)
{
  return lx->lookup ? lx->lookup (name, lx->ud) : NULL;
}

static void
fields_push (lexer *lx, fields *f)
{
  sw_strv_push_owned (&f->w, sw_xstrndup (lx->wbuf.data, lx->wbuf.len));
  sw_buf_truncate (&lx->wbuf, 0);
  f->in_word = false;
}

static void
fields_raw_char (lexer *lx, fields *f, int32_t c)
{
  sw_utf8_append (&lx->wbuf, c);
  f->in_word = true;
}

static void
fields_char (lexer *lx, fields *f, int32_t c)
{
  if (is_space (c) && f->in_word)
    {
      if (lx->wbuf.len != 0)
        fields_push (lx, f);
    }
  else if (!is_space (c))
    fields_raw_char (lx, f, c);
}

/* Text from a $ expansion: split at white space (invalid UTF-8 reads as U+FFFD, as a Go
 * range over a string does). */
static void
fields_string (lexer *lx, fields *f, const char *s, size_t len)
{
  for (size_t i = 0; i < len;)
    {
      size_t w;
      int32_t c = utf8_decode ((const unsigned char *) s + i, len - i, &w);
      fields_char (lx, f, c);
      i += w;
    }
}

static void
fields_raw_string (lexer *lx, fields *f, const char *s, size_t len)
{
  sw_buf_append (&lx->wbuf, s, len);
  f->in_word = true;
}

static void
fields_free (fields *f)
{
  sw_strv_free (&f->w);
}

static int dollar (lexer *lx, sw_buf *out, sw_error **err);

static void
rune_str (sw_buf *b, int32_t c)
{
  if (c == R_EOF)
    sw_buf_puts (b, "end of word");
  else
    sw_utf8_append (b, c);
}

static int
single_quote (lexer *lx, sw_buf *out, sw_error **err)
{
  int32_t c = next (lx);
  if (lx->o.raw_quotes)
    sw_utf8_append (out, c);
  for (;;)
    {
      c = next (lx);
      if (c == R_EOF)
        return sw_error_make (err, 0,
                              "unexpected end of statement while looking for matching single-quote");
      if (c == '\'')
        {
          if (lx->o.raw_quotes)
            sw_utf8_append (out, c);
          return 0;
        }
      sw_utf8_append (out, c);
    }
}

static int
double_quote (lexer *lx, sw_buf *out, sw_error **err)
{
  int32_t c = next (lx);
  if (lx->o.raw_quotes)
    sw_utf8_append (out, c);
  for (;;)
    {
      int32_t p = peek (lx);
      if (p == R_EOF)
        return sw_error_make (err, 0,
                              "unexpected end of statement while looking for matching double-quote");
      if (p == '"')
        {
          c = next (lx);
          if (lx->o.raw_quotes)
            sw_utf8_append (out, c);
          return 0;
        }
      if (p == '$')
        {
          if (dollar (lx, out, err) < 0)
            return -1;
          continue;
        }
      c = next (lx);
      if (c == lx->o.escape)
        {
          if (lx->raw_escapes)
            sw_utf8_append (out, c);
          p = peek (lx);
          if (p == R_EOF)
            continue; /* a lone escape at the very end: dropped, then the quote is open */
          if (p == '"' || p == '$' || p == lx->o.escape)
            c = next (lx);
        }
      sw_utf8_append (out, c);
    }
}

/* "<<" and the blanks after it stay together, so a heredoc marker is one field. */
static void
possible_heredoc (lexer *lx, sw_buf *out)
{
  next (lx);
  if (peek (lx) != '<')
    {
      sw_buf_putc (out, '<');
      return;
    }
  next (lx);
  sw_buf_puts (out, "<<");
  while (peek (lx) == '\t' || peek (lx) == '\r' || peek (lx) == ' ')
    sw_utf8_append (out, next (lx));
}

/* Process up to stop (R_EOF: the end of the word) into result; the fields go to *out
 * when out is not NULL. */
static int
stop_on (lexer *lx, int32_t stop, bool raw_escapes, sw_buf *result, fields *out,
         sw_error **err)
{
  fields f = { 0 };
  bool saved_raw = lx->raw_escapes;
  int rc = -1;

  sw_buf_truncate (&lx->wbuf, 0);
  lx->raw_escapes = raw_escapes;
  if (++lx->depth > SW_EXPAND_MAX_DEPTH)
    {
      sw_error_make (err, 0, "substitutions nested more than %d deep", SW_EXPAND_MAX_DEPTH);
      goto out;
    }
  while (peek (lx) != R_EOF)
    {
      int32_t c = peek (lx);
      if (stop != R_EOF && c == stop)
        {
          next (lx);
          rc = 0;
          goto out;
        }
      if (c == '$' || c == '<' || (!lx->o.skip_process_quotes && (c == '\'' || c == '"')))
        {
          sw_buf tmp = SW_BUF_INIT;
          int r = 0;
          if (c == '$')
            r = dollar (lx, &tmp, err);
          else if (c == '<')
            possible_heredoc (lx, &tmp);
          else if (c == '\'')
            r = single_quote (lx, &tmp, err);
          else
            r = double_quote (lx, &tmp, err);
          if (r < 0)
            {
              sw_buf_free (&tmp);
              goto out;
            }
          sw_buf_append (result, tmp.data ? tmp.data : "", tmp.len);
          if (c == '$')
            fields_string (lx, &f, tmp.data ? tmp.data : "", tmp.len);
          else
            fields_raw_string (lx, &f, tmp.data ? tmp.data : "", tmp.len);
          sw_buf_free (&tmp);
          continue;
        }
      c = next (lx);
      if (c == lx->o.escape)
        {
          if (lx->raw_escapes)
            {
              fields_raw_char (lx, &f, c);
              sw_utf8_append (result, c);
            }
          c = next (lx); /* the escape character quotes what follows, except the end */
          if (c == R_EOF)
            break;
          fields_raw_char (lx, &f, c);
        }
      else
        fields_char (lx, &f, c);
      sw_utf8_append (result, c);
    }
  if (stop != R_EOF)
    {
      sw_buf s = SW_BUF_INIT;
      rune_str (&s, stop);
      sw_error_make (err, 0, "unexpected end of statement while looking for matching %s",
                     sw_buf_str (&s));
      sw_buf_free (&s);
      goto out;
    }
  rc = 0;

out:
  if (rc == 0 && lx->wbuf.len > 0)
    fields_push (lx, &f);
  if (rc == 0 && out)
    *out = f;
  else
    fields_free (&f);
  lx->raw_escapes = saved_raw;
  lx->depth--;
  return rc;
}

static bool
is_special_param (int32_t c)
{
  return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!'
         || c == '0';
}

static void
process_name (lexer *lx, sw_buf *name)
{
  while (peek (lx) != R_EOF)
    {
      int32_t c = peek (lx);
      if (name->len == 0 && is_digit (c))
        {
          while (peek (lx) != R_EOF && is_digit (peek (lx)))
            sw_utf8_append (name, next (lx));
          return;
        }
      if (name->len == 0 && is_special_param (c))
        {
          sw_utf8_append (name, next (lx));
          return;
        }
      if (!is_letter (c) && !is_digit (c) && c != '_')
        break;
      sw_utf8_append (name, next (lx));
    }
}

/* ${V#p} ${V##p}: cut the match of pattern at the start of value (original bytes). */
static int
trim_prefix (const char *pat, const char *value, bool greedy, sw_buf *out, sw_error **err)
{
  text pt, vt;
  pattern p;
  size_t ms, me;

  text_decode (&pt, pat, strlen (pat));
  int rc = pattern_compile (pt.r, pt.n, greedy, &p, err);
  text_free (&pt);
  if (rc < 0)
    return sw_error_wrap (err, "invalid pattern (%s) in substitution", pat);
  text_decode (&vt, value, strlen (value));
  if (pattern_find (&p, &vt, 0, true, &ms, &me))
    sw_buf_puts (out, value + vt.off[me]);
  else
    sw_buf_puts (out, value);
  text_free (&vt);
  free (p.tok);
  return 0;
}

/* ${V%p} ${V%%p}: as BuildKit, reverse value and pattern (keeping \x pairs in order) and
 * cut a prefix.  The value goes through runes, so invalid UTF-8 comes out as U+FFFD. */
static int
trim_suffix (const char *pat, const char *value, bool greedy, sw_buf *out, sw_error **err)
{
  text pt, vt, rv;
  pattern p;
  size_t ms, me;
  int rc;

  text_decode (&pt, pat, strlen (pat));
  int32_t *rp = sw_xcalloc (pt.n + 1, sizeof *rp);
  size_t last = pt.n ? pt.n - 1 : 0;
  for (size_t i = 0; i < pt.n;)
    {
      size_t o = last - i;
      if (pt.r[i] == '\\' && i != last)
        {
          rp[o - 1] = '\\';
          rp[o] = pt.r[i + 1];
          i += 2;
        }
      else
        rp[o] = pt.r[i++];
    }
  rc = pattern_compile (rp, pt.n, greedy, &p, err);
  free (rp);
  text_free (&pt);
  if (rc < 0)
    return sw_error_wrap (err, "invalid pattern (%s) in substitution", pat);

  text_decode (&vt, value, strlen (value));
  rv.n = vt.n;
  rv.off = NULL;
  rv.r = sw_xcalloc (vt.n + 1, sizeof *rv.r);
  for (size_t i = 0; i < vt.n; i++)
    rv.r[i] = vt.r[vt.n - 1 - i];
  size_t keep = vt.n;
  if (pattern_find (&p, &rv, 0, true, &ms, &me))
    keep = vt.n - me;
  for (size_t i = 0; i < keep; i++)
    sw_utf8_append (out, vt.r[i]);
  free (rv.r);
  text_free (&vt);
  free (p.tok);
  return 0;
}

/* Go's Regexp.Expand for a regexp with no groups: $0 and ${0} are the match, $$ is $,
 * any other well-formed $name is empty, a malformed $ is literal. */
static void
expand_template (sw_buf *out, const char *tpl, const char *match, size_t match_len)
{
  const char *s = tpl;
  while (*s)
    {
      const char *d = strchr (s, '$');
      if (!d)
        break;
      sw_buf_append (out, s, d - s);
      s = d + 1;
      if (*s == '$')
        {
          sw_buf_putc (out, '$');
          s++;
          continue;
        }
      bool brace = *s == '{';
      const char *n = s + (brace ? 1 : 0), *e = n;
      while (*e)
        {
          size_t w;
          int32_t c = utf8_decode ((const unsigned char *) e, strlen (e), &w);
          if (!is_letter (c) && !is_digit (c) && c != '_')
            break;
          e += w;
        }
      if (e == n || (brace && *e != '}'))
        {
          sw_buf_putc (out, '$'); /* malformed: the $ is literal */
          continue;
        }
      if (e - n == 1 && *n == '0')
        sw_buf_append (out, match, match_len);
      s = e + (brace ? 1 : 0);
    }
  sw_buf_puts (out, s);
}

/* ${V/p/r} and ${V//p/r}: Go's FindStringIndex / ReplaceAllString, greedy stars. */
static int
replace (const char *pat, const char *repl, const char *value, bool all, sw_buf *out,
         sw_error **err)
{
  text pt, vt;
  pattern p;
  size_t ms, me;

  text_decode (&pt, pat, strlen (pat));
  int rc = pattern_compile (pt.r, pt.n, true, &p, err);
  text_free (&pt);
  if (rc < 0)
    return sw_error_wrap (err, "invalid pattern (%s) in substitution", pat);
  text_decode (&vt, value, strlen (value));
  if (!all)
    {
      if (pattern_find (&p, &vt, 0, false, &ms, &me))
        {
          sw_buf_append (out, value, vt.off[ms]);
          sw_buf_puts (out, repl);
          sw_buf_puts (out, value + vt.off[me]);
        }
      else
        sw_buf_puts (out, value);
    }
  else
    {
      size_t last = 0, sp = 0;
      while (sp <= vt.n && pattern_find (&p, &vt, sp, false, &ms, &me))
        {
          sw_buf_append (out, value + vt.off[last], vt.off[ms] - vt.off[last]);
          if (me > last || ms == 0)
            expand_template (out, repl, value + vt.off[ms], vt.off[me] - vt.off[ms]);
          last = me;
          sp = sp + 1 > me ? sp + 1 : me;
        }
      sw_buf_puts (out, value + vt.off[last]);
    }
  text_free (&vt);
  free (p.tok);
  return 0;
}

static int
missing_brace (lexer *lx, sw_error **err)
{
  (void) lx;
  sw_error_free (*err);
  *err = NULL;
  return sw_error_make (err, 0, "syntax error: missing '}'");
}

static int
dollar (lexer *lx, sw_buf *out, sw_error **err)
{
  cleanup_buf sw_buf name = SW_BUF_INIT;
  cleanup_buf sw_buf chs = SW_BUF_INIT;
  cleanup_buf sw_buf word = SW_BUF_INIT;
  const char *value;
  bool null_is_unset = false;
  int32_t c;

  next (lx);
  if (peek (lx) != '{')
    {
      process_name (lx, &name);
      if (name.len == 0)
        {
          sw_buf_putc (out, '$');
          return 0;
        }
      value = get_env (lx, name.data);
      if (!value && lx->o.skip_unset_env)
        sw_buf_printf (out, "$%s", name.data);
      else if (value)
        sw_buf_puts (out, value);
      return 0;
    }

  next (lx);
  c = peek (lx);
  if (c == R_EOF)
    return sw_error_make (err, 0, "syntax error: missing '}'");
  if (c == '{' || c == '}' || c == ':')
    return sw_error_make (err, 0, "syntax error: bad substitution");
  process_name (lx, &name);
  c = next (lx);
  rune_str (&chs, c);
  if (c == '}')
    {
      value = get_env (lx, sw_buf_str (&name));
      if (!value && lx->o.skip_unset_env)
        sw_buf_printf (out, "${%s}", sw_buf_str (&name));
      else if (value)
        sw_buf_puts (out, value);
      return 0;
    }
  if (c == ':' || c == '+' || c == '-' || c == '?' || c == '#' || c == '%')
    {
      if (c == ':')
        {
          null_is_unset = true;
          c = next (lx);
          rune_str (&chs, c);
        }
      bool raw = c == '#' || c == '%';
      if (null_is_unset && raw)
        return sw_error_make (err, 0, "unsupported modifier (%s) in substitution",
                              sw_buf_str (&chs));
      if (stop_on (lx, '}', raw, &word, NULL, err) < 0)
        {
          if (peek (lx) == R_EOF)
            return missing_brace (lx, err);
          return -1;
        }
      value = get_env (lx, sw_buf_str (&name));
      bool set = value != NULL;
      if (!set && lx->o.skip_unset_env)
        {
          sw_buf_printf (out, "${%s%s%s}", sw_buf_str (&name), sw_buf_str (&chs),
                         sw_buf_str (&word));
          return 0;
        }
      cleanup_free char *v = sw_xstrdup (set ? value : "");
      const char *w = sw_buf_str (&word);
      switch (c)
        {
        case '-':
          sw_buf_puts (out, (!set || (null_is_unset && !*v)) ? w : v);
          return 0;
        case '+':
          sw_buf_puts (out, (!set || (null_is_unset && !*v)) ? "" : w);
          return 0;
        case '?':
          if (!set)
            return sw_error_make (err, 0, "%s: %s", sw_buf_str (&name),
                                  *w ? w : "is not allowed to be unset");
          if (null_is_unset && !*v)
            return sw_error_make (err, 0, "%s: %s", sw_buf_str (&name),
                                  *w ? w : "is not allowed to be empty");
          sw_buf_puts (out, v);
          return 0;
        case '#':
        case '%':
          {
            bool greedy = false;
            if (*w == (char) c)
              greedy = true, w++;
            if (c == '%')
              return trim_suffix (w, v, greedy, out, err);
            return trim_prefix (w, v, greedy, out, err);
          }
        default:
          return sw_error_make (err, 0, "unsupported modifier (%s) in substitution",
                                sw_buf_str (&chs));
        }
    }
  if (c == '/')
    {
      cleanup_buf sw_buf pat = SW_BUF_INIT;
      bool all = peek (lx) == '/';
      if (all)
        next (lx);
      if (stop_on (lx, '/', true, &pat, NULL, err) < 0)
        {
          if (peek (lx) == R_EOF)
            {
              sw_error_free (*err);
              *err = NULL;
              return sw_error_make (err, 0, "syntax error: missing '/' in ${}");
            }
          return -1;
        }
      if (stop_on (lx, '}', true, &word, NULL, err) < 0)
        {
          if (peek (lx) == R_EOF)
            return missing_brace (lx, err);
          return -1;
        }
      value = get_env (lx, sw_buf_str (&name));
      if (!value && lx->o.skip_unset_env)
        {
          sw_buf_printf (out, "${%s/%s/%s}", sw_buf_str (&name), sw_buf_str (&pat),
                         sw_buf_str (&word));
          return 0;
        }
      cleanup_free char *v = sw_xstrdup (value ? value : "");
      return replace (sw_buf_str (&pat), sw_buf_str (&word), v, all, out, err);
    }
  if (c == R_EOF)
    return sw_error_make (err, 0, "syntax error: missing '}'");
  return sw_error_make (err, 0, "unsupported modifier (%s) in substitution", sw_buf_str (&chs));
}

/* Go's %q, near enough for a message. */
static void
go_quote (sw_buf *b, const char *s)
{
  size_t len = strlen (s);
  sw_buf_putc (b, '"');
  for (size_t i = 0; i < len;)
    {
      size_t w;
      int32_t c = utf8_decode ((const unsigned char *) s + i, len - i, &w);
      if (c == R_ERROR && w == 1)
        sw_buf_printf (b, "\\x%02x", (unsigned char) s[i]);
      else if (c == '"' || c == '\\')
        sw_buf_printf (b, "\\%c", (char) c);
      else if (c == '\n')
        sw_buf_puts (b, "\\n");
      else if (c == '\t')
        sw_buf_puts (b, "\\t");
      else if (c == '\r')
        sw_buf_puts (b, "\\r");
      else if (c < 0x20 || c == 0x7F)
        sw_buf_printf (b, "\\x%02x", (unsigned) c);
      else
        sw_buf_append (b, s + i, w);
      i += w;
    }
  sw_buf_putc (b, '"');
}

static int
process (const char *word, const sw_expand_opts *opts, sw_expand_lookup lookup,
         void *userdata, sw_buf *result, fields *f, sw_error **err)
{
  lexer lx = { 0 };
  text t;
  int rc;

  if (opts)
    lx.o = *opts;
  if (lx.o.escape == 0)
    lx.o.escape = '\\';
  lx.lookup = lookup;
  lx.ud = userdata;
  lx.raw_escapes = lx.o.raw_escapes;
  text_decode (&t, word, strlen (word));
  lx.src = t.r;
  lx.n = t.n;
  if (lx.n > 0 && lx.src[0] == R_BOM) /* Go's scanner skips a leading BOM */
    lx.pos = 1;
  /* a local error: the code below replaces messages, which needs one even when the
   * caller passes err == NULL */
  sw_error *local = NULL;
  rc = stop_on (&lx, R_EOF, lx.o.raw_escapes, result, f, &local);
  text_free (&t);
  sw_buf_free (&lx.wbuf);
  if (rc < 0)
    {
      sw_buf q = SW_BUF_INIT;
      go_quote (&q, word);
      sw_error_wrap (&local, "failed to process %s", sw_buf_str (&q));
      sw_buf_free (&q);
      if (err)
        sw_error_move (err, &local);
      sw_error_free (local);
    }
  return rc;
}

int
sw_expand_word (const char *word, const sw_expand_opts *opts, sw_expand_lookup lookup,
                void *userdata, char **out, sw_error **err)
{
  sw_buf result = SW_BUF_INIT;
  if (process (word, opts, lookup, userdata, &result, NULL, err) < 0)
    {
      sw_buf_free (&result);
      return -1;
    }
  *out = sw_buf_steal (&result);
  return 0;
}

int
sw_expand_words (const char *word, const sw_expand_opts *opts, sw_expand_lookup lookup,
                 void *userdata, char ***out, size_t *n, sw_error **err)
{
  sw_buf result = SW_BUF_INIT;
  fields f = { 0 };
  int rc = process (word, opts, lookup, userdata, &result, &f, err);
  sw_buf_free (&result);
  if (rc < 0)
    return -1;
  if (n)
    *n = f.w.n;
  *out = f.w.v ? sw_strv_steal (&f.w) : sw_xcalloc (1, sizeof (char *));
  return 0;
}

const char *
sw_expand_lookup_envv (const char *name, void *userdata)
{
  char **env = userdata;
  const char *found = NULL;
  size_t len = strlen (name);
  for (size_t i = 0; env && env[i]; i++)
    {
      if (strncmp (env[i], name, len) != 0)
        continue;
      if (env[i][len] == '=')
        found = env[i] + len + 1;
      else if (env[i][len] == '\0')
        found = "";
    }
  return found;
}

void
sw_expand_words_free (char **words)
{
  if (!words)
    return;
  for (char **p = words; *p; p++)
    free (*p);
  free (words);
}
