/* dockerfile/heredoc.c — which heredocs a line opens: BuildKit's heredocsFromLine and
 * heredocFromMatch.  They run BuildKit's shell lexer (frontend/dockerfile/shell) with no
 * variables and SkipUnsetEnv, so only its word splitting, quoting and the way it keeps
 * "$x"/"${x…}" text matter; this file carries exactly that subset of the lexer (the
 * full expander is dockerfile/'s word expansion, used by the instruction layer).  Quirks
 * kept on purpose because they decide what is a heredoc: the word buffer is shared with
 * nested ${…} processing (and reset by it), "<<" swallows the blanks after it, and the
 * lexer's escape character is always the backslash. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "dockerfile/parser_int.h"

#define LEX_EOF (-1)

typedef struct words
{
  sw_strv w;
  bool in_word;
} words;

typedef struct lexer
{
  int32_t *src;
  size_t n, pos;
  bool raw_quotes, raw_escapes;
  sw_buf wbuf; /* shellWord.wordsBuffer, shared by nested processStopOn calls */
  const char *err;
} lexer;

static void
add_raw_char (lexer *lx, words *w, int32_t ch)
{
  sw_utf8_append (&lx->wbuf, ch);
  w->in_word = true;
}

static void
add_char (lexer *lx, words *w, int32_t ch)
{
  if (sw_df_is_space (ch) && w->in_word)
    {
      if (lx->wbuf.len != 0)
        {
          sw_strv_push (&w->w, sw_buf_str (&lx->wbuf));
          sw_buf_truncate (&lx->wbuf, 0);
          w->in_word = false;
        }
    }
  else if (!sw_df_is_space (ch))
    add_raw_char (lx, w, ch);
}

static void
add_string (lexer *lx, words *w, const char *s)
{
  size_t n = strlen (s), wd;
  for (size_t i = 0; i < n; i += wd)
    add_char (lx, w, sw_utf8_decode ((const unsigned char *) s + i, n - i, &wd));
}

static void
add_raw_string (lexer *lx, words *w, const char *s)
{
  sw_buf_puts (&lx->wbuf, s);
  w->in_word = true;
}

static void
get_words (lexer *lx, words *w)
{
  if (lx->wbuf.len > 0)
    {
      sw_strv_push (&w->w, sw_buf_str (&lx->wbuf));
      sw_buf_truncate (&lx->wbuf, 0);
      w->in_word = false;
    }
}

static int32_t
peek (lexer *lx)
{
  return lx->pos < lx->n ? lx->src[lx->pos] : LEX_EOF;
}

static int32_t
next (lexer *lx)
{
  return lx->pos < lx->n ? lx->src[lx->pos++] : LEX_EOF;
}

static int stop_on (lexer *lx, int32_t stop, bool raw_escapes, sw_buf *result, words *out);

static int
single_quote (lexer *lx, sw_buf *res)
{
  int32_t ch = next (lx);
  if (lx->raw_quotes)
    sw_utf8_append (res, ch);
  for (;;)
    {
      ch = next (lx);
      if (ch == LEX_EOF)
        {
          lx->err = "unexpected end of statement while looking for matching single-quote";
          return -1;
        }
      if (ch == '\'')
        {
          if (lx->raw_quotes)
            sw_utf8_append (res, ch);
          return 0;
        }
      sw_utf8_append (res, ch);
    }
}

static int dollar (lexer *lx, sw_buf *res);

static int
double_quote (lexer *lx, sw_buf *res)
{
  int32_t ch = next (lx);
  if (lx->raw_quotes)
    sw_utf8_append (res, ch);
  for (;;)
    {
      switch (peek (lx))
        {
        case LEX_EOF:
          lx->err = "unexpected end of statement while looking for matching double-quote";
          return -1;
        case '"':
          ch = next (lx);
          if (lx->raw_quotes)
            sw_utf8_append (res, ch);
          return 0;
        case '$':
          if (dollar (lx, res) < 0)
            return -1;
          break;
        default:
          ch = next (lx);
          if (ch == '\\')
            {
              if (lx->raw_escapes)
                sw_utf8_append (res, ch);
              int32_t p = peek (lx);
              if (p == LEX_EOF)
                continue;
              if (p == '"' || p == '$' || p == '\\')
                ch = next (lx);
            }
          sw_utf8_append (res, ch);
        }
    }
}

static bool
name_char (int32_t ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
         || ch == '_' || (ch >= 0x80 && !sw_df_is_space (ch) && ch != SW_RUNE_ERROR);
}

static void
process_name (lexer *lx, sw_buf *name)
{
  while (peek (lx) != LEX_EOF)
    {
      int32_t ch = peek (lx);
      if (name->len == 0 && ch >= '0' && ch <= '9')
        {
          while (peek (lx) >= '0' && peek (lx) <= '9')
            sw_utf8_append (name, next (lx));
          return;
        }
      if (name->len == 0 && ch > 0 && ch < 0x80 && strchr ("@*#?-$!0", (int) ch))
        {
          sw_utf8_append (name, next (lx));
          return;
        }
      if (!name_char (ch))
        break;
      sw_utf8_append (name, next (lx));
    }
}

/* processDollar with no variables set and SkipUnsetEnv: the text is kept. */
static int
dollar (lexer *lx, sw_buf *res)
{
  cleanup_buf sw_buf name = SW_BUF_INIT;
  int32_t ch;

  next (lx);
  if (peek (lx) != '{')
    {
      process_name (lx, &name);
      sw_buf_putc (res, '$');
      sw_buf_puts (res, sw_buf_str (&name));
      return 0;
    }
  next (lx);
  ch = peek (lx);
  if (ch == LEX_EOF)
    {
      lx->err = "syntax error: missing '}'";
      return -1;
    }
  if (ch == '{' || ch == '}' || ch == ':')
    {
      lx->err = "syntax error: bad substitution";
      return -1;
    }
  process_name (lx, &name);
  ch = next (lx);
  cleanup_buf sw_buf chs = SW_BUF_INIT;
  sw_utf8_append (&chs, ch);
  bool null_is_unset = false;
  switch (ch)
    {
    case '}':
      sw_buf_printf (res, "${%s}", sw_buf_str (&name));
      return 0;
    case ':':
      null_is_unset = true;
      ch = next (lx);
      sw_utf8_append (&chs, ch);
      /* fallthrough */
    case '+':
    case '-':
    case '?':
    case '#':
    case '%':
      {
        bool raw = ch == '#' || ch == '%';
        cleanup_buf sw_buf word = SW_BUF_INIT;
        if (null_is_unset && raw)
          {
            lx->err = "unsupported modifier in substitution";
            return -1;
          }
        if (stop_on (lx, '}', raw, &word, NULL) < 0)
          return -1;
        sw_buf_printf (res, "${%s%s%s}", sw_buf_str (&name), sw_buf_str (&chs), sw_buf_str (&word));
        return 0;
      }
    case '/':
      {
        cleanup_buf sw_buf pattern = SW_BUF_INIT;
        cleanup_buf sw_buf repl = SW_BUF_INIT;
        if (peek (lx) == '/')
          next (lx);
        if (stop_on (lx, '/', true, &pattern, NULL) < 0)
          return -1;
        if (stop_on (lx, '}', true, &repl, NULL) < 0)
          return -1;
        sw_buf_printf (res, "${%s/%s/%s}", sw_buf_str (&name), sw_buf_str (&pattern),
                       sw_buf_str (&repl));
        return 0;
      }
    default:
      lx->err = "unsupported modifier in substitution";
      return -1;
    }
}

static void
possible_heredoc (lexer *lx, sw_buf *res)
{
  next (lx);
  if (peek (lx) != '<')
    {
      sw_buf_putc (res, '<');
      return;
    }
  next (lx);
  sw_buf_puts (res, "<<");
  while (peek (lx) == '\t' || peek (lx) == '\r' || peek (lx) == ' ')
    sw_utf8_append (res, next (lx));
}

/* processStopOn.  out (the words) may be NULL when the caller drops them. */
static int
stop_on (lexer *lx, int32_t stop, bool raw_escapes, sw_buf *result, words *out)
{
  words w = { 0 };
  bool saved = lx->raw_escapes;
  int ret = -1;

  sw_buf_truncate (&lx->wbuf, 0);
  lx->raw_escapes = raw_escapes;
  while (peek (lx) != LEX_EOF)
    {
      int32_t ch = peek (lx);
      if (stop != LEX_EOF && ch == stop)
        {
          next (lx);
          get_words (lx, &w);
          ret = 0;
          goto done;
        }
      if (ch == '$' || ch == '<' || ch == '\'' || ch == '"')
        {
          cleanup_buf sw_buf tmp = SW_BUF_INIT;
          int r;
          if (ch == '$')
            r = dollar (lx, &tmp);
          else if (ch == '<')
            r = (possible_heredoc (lx, &tmp), 0);
          else if (ch == '\'')
            r = single_quote (lx, &tmp);
          else
            r = double_quote (lx, &tmp);
          if (r < 0)
            goto done;
          sw_buf_puts (result, sw_buf_str (&tmp));
          if (ch == '$')
            add_string (lx, &w, sw_buf_str (&tmp));
          else
            add_raw_string (lx, &w, sw_buf_str (&tmp));
          continue;
        }
      ch = next (lx);
      if (ch == '\\')
        {
          if (lx->raw_escapes)
            {
              add_raw_char (lx, &w, ch);
              sw_utf8_append (result, ch);
            }
          ch = next (lx);
          if (ch == LEX_EOF)
            break;
          add_raw_char (lx, &w, ch);
        }
      else
        add_char (lx, &w, ch);
      sw_utf8_append (result, ch);
    }
  if (stop != LEX_EOF)
    {
      lx->err = "unexpected end of statement";
      goto done;
    }
  get_words (lx, &w);
  ret = 0;
done:
  lx->raw_escapes = saved;
  if (ret == 0 && out != NULL)
    *out = w;
  else
    sw_strv_free (&w.w);
  return ret;
}

/* Lex.ProcessWords(s) with escape '\\', no variables, SkipUnsetEnv. */
static int
process_words (const char *s, bool raw_quotes, bool raw_escapes, words *out, const char **err)
{
  lexer lx = { 0 };
  cleanup_buf sw_buf result = SW_BUF_INIT;
  size_t n = strlen (s), w;
  int r;

  lx.src = sw_xcalloc (n + 1, sizeof *lx.src);
  for (size_t i = 0; i < n; i += w)
    {
      int32_t ch = sw_utf8_decode ((const unsigned char *) s + i, n - i, &w);
      lx.src[lx.n++] = ch < 0 ? SW_RUNE_ERROR : ch;
    }
  lx.raw_quotes = raw_quotes;
  lx.raw_escapes = raw_escapes;
  r = stop_on (&lx, LEX_EOF, raw_escapes, &result, out);
  *err = lx.err;
  free (lx.src);
  sw_buf_free (&lx.wbuf);
  return r;
}

static size_t
count_quotes (const char *s)
{
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\'' || *s == '"';
  return n;
}

/* heredocFromMatch over reHeredoc = ^(\d*)<<(-?)\s*([^<]*)$.  0: *doc filled or left with
 * a NULL name (not a heredoc); -1: lexing error. */
int
sw_df_parse_heredoc (const char *word, sw_df_heredoc *doc, char **msg)
{
  const char *p = word, *rest;
  unsigned long long fd = 0;
  words cooked = { 0 }, raw = { 0 };
  const char *err = NULL;
  int ret = 0;

  memset (doc, 0, sizeof *doc);
  while (*p >= '0' && *p <= '9')
    {
      fd = fd * 10 + (unsigned) (*p - '0');
      p++;
    }
  if (p[0] != '<' || p[1] != '<')
    return 0;
  p += 2;
  doc->chomp = *p == '-';
  if (*p == '-')
    p++;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\f' || *p == '\r')
    p++;
  rest = p;
  if (strchr (rest, '<') != NULL || *rest == '\0')
    return 0;

  /* Lex the word with and without quotes: a quote in one but not the
   * other means part of the delimiter was quoted, so the body is not expanded. */
  if (process_words (rest, false, false, &cooked, &err) < 0)
    goto lex_error;
  if (cooked.w.n != 1)
    goto out;
  if (process_words (rest, true, false, &raw, &err) < 0)
    goto lex_error;
  if (raw.w.n != cooked.w.n)
    {
      *msg = sw_xasprintf ("internal lexing of heredoc produced inconsistent results: %s", rest);
      ret = -1;
      goto out;
    }
  doc->name = sw_xstrdup (cooked.w.v[0]);
  doc->expand = count_quotes (cooked.w.v[0]) == count_quotes (raw.w.v[0]);
  doc->fd = (unsigned) fd;
  goto out;

lex_error:
  {
    cleanup_buf sw_buf q = SW_BUF_INIT;
    sw_go_quote (&q, rest);
    *msg = sw_xasprintf ("failed to process %s: %s", sw_buf_str (&q), err ? err : "lexing error");
    ret = -1;
  }
out:
  sw_strv_free (&cooked.w);
  sw_strv_free (&raw.w);
  return ret;
}

int
sw_df_heredocs_from_line (const char *line, sw_df_heredoc **out, size_t *n, char **msg)
{
  words w = { 0 };
  const char *err = NULL;

  *out = NULL;
  *n = 0;
  if (process_words (line, true, true, &w, &err) < 0)
    return 0; /* BuildKit ignores this error: the line simply has no heredocs */
  for (size_t i = 0; i < w.w.n; i++)
    {
      sw_df_heredoc doc;
      if (sw_df_parse_heredoc (w.w.v[i], &doc, msg) < 0)
        {
          for (size_t j = 0; j < *n; j++)
            free ((*out)[j].name);
          free (*out);
          *out = NULL;
          *n = 0;
          sw_strv_free (&w.w);
          return -1;
        }
      if (doc.name == NULL)
        continue;
      doc.content = sw_xstrdup ("");
      *out = sw_df_grow (*out, *n + 1, sizeof **out);
      (*out)[(*n)++] = doc;
    }
  sw_strv_free (&w.w);
  return 0;
}
