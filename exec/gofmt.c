/* exec/gofmt.c — see gofmt.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "exec/gofmt.h"

/* Decode one UTF-8 sequence; -1 (and width 1) when invalid, as Go's utf8.DecodeRune. */
static int32_t
decode_rune (const unsigned char *s, size_t *width)
{
  unsigned char c = s[0];
  int32_t r;
  size_t n;

  if (c < 0x80)
    {
      *width = 1;
      return c;
    }
  if ((c & 0xe0) == 0xc0)
    n = 2, r = c & 0x1f;
  else if ((c & 0xf0) == 0xe0)
    n = 3, r = c & 0x0f;
  else if ((c & 0xf8) == 0xf0)
    n = 4, r = c & 0x07;
  else
    goto invalid;
  for (size_t i = 1; i < n; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        goto invalid;
      r = (r << 6) | (s[i] & 0x3f);
    }
  /* Overlong forms and surrogates are invalid in Go too. */
  if ((n == 2 && r < 0x80) || (n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10ffff))
      || (r >= 0xd800 && r <= 0xdfff))
    goto invalid;
  *width = n;
  return r;
invalid:
  *width = 1;
  return -1;
}

/* Go's strconv.IsPrint, close enough for what Dockerfiles hold: printable ASCII and
 * every non-control code point outside the C1 block and a few invisible formatters. */
static bool
is_print (int32_t r)
{
  if (r < 0x20 || r == 0x7f)
    return false;
  if (r >= 0x80 && r < 0xa0)
    return false;
  if (r == 0xad || (r >= 0x200b && r <= 0x200f) || (r >= 0x2028 && r <= 0x202e) || r == 0xfeff)
    return false;
  return true;
}

void
sw_go_quote (sw_buf *out, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;

  sw_buf_putc (out, '"');
  while (*p)
    {
      size_t w;
      int32_t r = decode_rune (p, &w);
      if (r < 0)
        sw_buf_printf (out, "\\x%02x", *p);
      else if (r == '"' || r == '\\')
        {
          sw_buf_putc (out, '\\');
          sw_buf_putc (out, (char) r);
        }
      else if (is_print (r))
        sw_buf_append (out, p, w);
      else
        switch (r)
          {
          case '\a': sw_buf_puts (out, "\\a"); break;
          case '\b': sw_buf_puts (out, "\\b"); break;
          case '\f': sw_buf_puts (out, "\\f"); break;
          case '\n': sw_buf_puts (out, "\\n"); break;
          case '\r': sw_buf_puts (out, "\\r"); break;
          case '\t': sw_buf_puts (out, "\\t"); break;
          case '\v': sw_buf_puts (out, "\\v"); break;
          default:
            if (r < 0x20 || r == 0x7f)
              sw_buf_printf (out, "\\x%02x", (unsigned) r);
            else if (r < 0x10000)
              sw_buf_printf (out, "\\u%04x", (unsigned) r);
            else
              sw_buf_printf (out, "\\U%08x", (unsigned) r);
          }
      p += w;
    }
  sw_buf_putc (out, '"');
}

void
sw_go_quote_list (sw_buf *out, char *const *v)
{
  sw_buf_putc (out, '[');
  for (size_t i = 0; v && v[i]; i++)
    {
      if (i)
        sw_buf_putc (out, ' ');
      sw_go_quote (out, v[i]);
    }
  sw_buf_putc (out, ']');
}

void
sw_go_list (sw_buf *out, char *const *v)
{
  sw_buf_putc (out, '[');
  for (size_t i = 0; v && v[i]; i++)
    {
      if (i)
        sw_buf_putc (out, ' ');
      sw_buf_puts (out, v[i]);
    }
  sw_buf_putc (out, ']');
}

/* Append the fraction v/10^prec with trailing zeros dropped (and no dot when zero). */
static void
put_fraction (char *buf, size_t *len, uint64_t frac, int prec)
{
  char digits[16];
  int n = prec;
  bool any = false;

  for (int i = prec - 1; i >= 0; i--)
    {
      digits[i] = (char) ('0' + frac % 10);
      frac /= 10;
    }
  while (n > 0 && digits[n - 1] == '0')
    n--;
  for (int i = 0; i < n; i++)
    {
      if (!any)
        buf[(*len)++] = '.';
      any = true;
      buf[(*len)++] = digits[i];
    }
}

void
sw_go_duration (sw_buf *out, int64_t ns)
{
  char buf[64];
  size_t len = 0;
  bool neg = ns < 0;
  uint64_t u = neg ? (uint64_t) (-(ns + 1)) + 1 : (uint64_t) ns;

  if (neg)
    buf[len++] = '-';
  if (u == 0)
    {
      sw_buf_puts (out, "0s");
      return;
    }
  if (u < 1000000000ULL)
    {
      /* Sub-second: the largest unit that keeps an integer part. */
      const char *unit;
      int prec;
      if (u < 1000ULL)
        unit = "ns", prec = 0;
      else if (u < 1000000ULL)
        unit = "µs", prec = 3;
      else
        unit = "ms", prec = 6;
      uint64_t scale = 1;
      for (int i = 0; i < prec; i++)
        scale *= 10;
      len += (size_t) snprintf (buf + len, sizeof buf - len, "%llu", (unsigned long long) (u / scale));
      put_fraction (buf, &len, u % scale, prec);
      buf[len] = '\0';
      sw_buf_puts (out, buf);
      sw_buf_puts (out, unit);
      return;
    }
  uint64_t secs = u / 1000000000ULL, frac = u % 1000000000ULL;
  uint64_t h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
  if (h)
    len += (size_t) snprintf (buf + len, sizeof buf - len, "%lluh", (unsigned long long) h);
  if (h || m)
    len += (size_t) snprintf (buf + len, sizeof buf - len, "%llum", (unsigned long long) m);
  len += (size_t) snprintf (buf + len, sizeof buf - len, "%llu", (unsigned long long) s);
  put_fraction (buf, &len, frac, 9);
  buf[len++] = 's';
  buf[len] = '\0';
  sw_buf_puts (out, buf);
}
