/* dockerfile/json.c — the exec form: a JSON array of strings, read as Go's
 * encoding/json reads it into []any (so what BuildKit accepts and rejects is the same):
 * strict JSON syntax, U+FFFD for invalid UTF-8 and lone surrogates, a number beyond
 * float64's range is a decoding error (so the line falls back to the shell form). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/parser_int.h"

#define MAX_DEPTH 10000 /* encoding/json's maxNestingDepth */

typedef struct jp
{
  const unsigned char *s;
  size_t n, i;
  bool bad_number; /* a well-formed number out of float64's range */
} jp;

static void
ws (jp *p)
{
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n'
                         || p->s[p->i] == '\r'))
    p->i++;
}

static int
hex4 (jp *p, size_t at)
{
  int v = 0;
  if (at + 4 > p->n)
    return -1;
  for (size_t k = 0; k < 4; k++)
    {
      unsigned char c = p->s[at + k];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return -1;
    }
  return v;
}

/* A string at p->i (on the opening quote).  out may be NULL to only validate. */
static bool
string (jp *p, sw_buf *out)
{
  p->i++;
  while (p->i < p->n)
    {
      unsigned char c = p->s[p->i];
      if (c == '"')
        {
          p->i++;
          return true;
        }
      if (c < 0x20)
        return false;
      if (c == '\\')
        {
          if (p->i + 1 >= p->n)
            return false;
          unsigned char e = p->s[p->i + 1];
          char lit = 0;
          switch (e)
            {
            case '"': lit = '"'; break;
            case '\\': lit = '\\'; break;
            case '/': lit = '/'; break;
            case 'b': lit = '\b'; break;
            case 'f': lit = '\f'; break;
            case 'n': lit = '\n'; break;
            case 'r': lit = '\r'; break;
            case 't': lit = '\t'; break;
            case 'u':
              {
                int r = hex4 (p, p->i + 2);
                if (r < 0)
                  return false;
                p->i += 6;
                if (r >= 0xd800 && r < 0xe000)
                  {
                    /* utf16.DecodeRune with a following \u, else U+FFFD */
                    int r2 = -1;
                    if (r < 0xdc00 && p->i + 1 < p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u')
                      r2 = hex4 (p, p->i + 2);
                    if (r2 >= 0xdc00 && r2 < 0xe000)
                      {
                        r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
                        p->i += 6;
                      }
                    else
                      r = SW_RUNE_ERROR;
                  }
                if (out)
                  sw_utf8_append (out, r);
                continue;
              }
            default:
              return false;
            }
          if (out)
            sw_buf_putc (out, lit);
          p->i += 2;
          continue;
        }
      if (c < 0x80)
        {
          if (out)
            sw_buf_putc (out, (char) c);
          p->i++;
          continue;
        }
      size_t w;
      int32_t r = sw_utf8_decode (p->s + p->i, p->n - p->i, &w);
      if (out)
        sw_utf8_append (out, r); /* -1 becomes U+FFFD */
      p->i += w;
    }
  return false;
}

static bool
digits (jp *p)
{
  size_t start = p->i;
  while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
    p->i++;
  return p->i > start;
}

static bool
number (jp *p)
{
  size_t start = p->i;
  if (p->s[p->i] == '-')
    p->i++;
  if (p->i < p->n && p->s[p->i] == '0')
    p->i++;
  else if (p->i >= p->n || p->s[p->i] < '1' || p->s[p->i] > '9' || !digits (p))
    return false;
  if (p->i < p->n && p->s[p->i] == '.')
    {
      p->i++;
      if (!digits (p))
        return false;
    }
  if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E'))
    {
      p->i++;
      if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
        p->i++;
      if (!digits (p))
        return false;
    }
  cleanup_free char *num = sw_xstrndup ((const char *) p->s + start, p->i - start);
  if (isinf (strtod (num, NULL)))
    p->bad_number = true;
  return true;
}

static bool
literal (jp *p, const char *word)
{
  size_t l = strlen (word);
  if (p->n - p->i < l || memcmp (p->s + p->i, word, l) != 0)
    return false;
  p->i += l;
  return true;
}

static bool value (jp *p, int depth);

static bool
container (jp *p, int depth, char close)
{
  if (depth > MAX_DEPTH)
    return false;
  p->i++;
  ws (p);
  if (p->i < p->n && p->s[p->i] == close)
    {
      p->i++;
      return true;
    }
  for (;;)
    {
      if (close == '}')
        {
          if (p->i >= p->n || p->s[p->i] != '"' || !string (p, NULL))
            return false;
          ws (p);
          if (p->i >= p->n || p->s[p->i] != ':')
            return false;
          p->i++;
          ws (p);
        }
      if (!value (p, depth))
        return false;
      ws (p);
      if (p->i >= p->n)
        return false;
      if (p->s[p->i] == close)
        {
          p->i++;
          return true;
        }
      if (p->s[p->i] != ',')
        return false;
      p->i++;
      ws (p);
    }
}

static bool
value (jp *p, int depth)
{
  if (p->i >= p->n)
    return false;
  switch (p->s[p->i])
    {
    case '"': return string (p, NULL);
    case '[': return container (p, depth + 1, ']');
    case '{': return container (p, depth + 1, '}');
    case 't': return literal (p, "true");
    case 'f': return literal (p, "false");
    case 'n': return literal (p, "null");
    default:
      if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9'))
        return number (p);
      return false;
    }
}

int
sw_df_parse_json_array (const char *rest, sw_df_node **out)
{
  const char *start = sw_df_skip_space (rest);
  jp p = { (const unsigned char *) start, strlen (start), 0, false };
  sw_df_node *head = NULL, **tail = &head;
  bool strings_only = true;

  *out = NULL;
  if (*start != '[')
    return -1;
  /* Validate the whole document first, as json.Unmarshal does, then decode. */
  if (!value (&p, 0))
    return -1;
  ws (&p);
  if (p.i != p.n)
    return -1;
  if (p.bad_number)
    return -1;

  p.i = 1;
  ws (&p);
  while (p.i < p.n && p.s[p.i] != ']')
    {
      if (p.s[p.i] == '"')
        {
          cleanup_buf sw_buf b = SW_BUF_INIT;
          string (&p, &b);
          *tail = sw_df_node_newn (sw_buf_str (&b), b.len);
          tail = &(*tail)->next;
        }
      else
        {
          strings_only = false;
          value (&p, 1);
        }
      ws (&p);
      if (p.i < p.n && p.s[p.i] == ',')
        p.i++;
      ws (&p);
    }
  if (!strings_only)
    {
      sw_df_node_free (head);
      return -2;
    }
  *out = head;
  return 0;
}
