/* common/gofmt.c — see gofmt.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/gofmt.h"

int32_t
sw_utf8_decode (const unsigned char *s, size_t n, size_t *width)
{
  unsigned c = s[0];
  int32_t r;
  size_t need;

  *width = 1;
  if (c < 0x80)
    return (int32_t) c;
  if (c >= 0xc2 && c <= 0xdf)
    need = 1, r = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    need = 2, r = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    need = 3, r = c & 0x07;
  else
    return -1;
  if (n < need + 1)
    return -1;
  for (size_t i = 1; i <= need; i++)
    {
      if ((s[i] & 0xc0) != 0x80)
        return -1;
      r = (r << 6) | (s[i] & 0x3f);
    }
  if ((need == 2 && r < 0x800) || (need == 3 && (r < 0x10000 || r > 0x10ffff))
      || (r >= 0xd800 && r <= 0xdfff))
    return -1;
  *width = need + 1;
  return r;
}

void
sw_utf8_append (sw_buf *b, int32_t r)
{
  char u[4];

  if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
    r = 0xfffd;
  if (r < 0x80)
    {
      sw_buf_putc (b, (char) r);
      return;
    }
  if (r < 0x800)
    {
      u[0] = (char) (0xc0 | (r >> 6));
      u[1] = (char) (0x80 | (r & 0x3f));
      sw_buf_append (b, u, 2);
    }
  else if (r < 0x10000)
    {
      u[0] = (char) (0xe0 | (r >> 12));
      u[1] = (char) (0x80 | ((r >> 6) & 0x3f));
      u[2] = (char) (0x80 | (r & 0x3f));
      sw_buf_append (b, u, 3);
    }
  else
    {
      u[0] = (char) (0xf0 | (r >> 18));
      u[1] = (char) (0x80 | ((r >> 12) & 0x3f));
      u[2] = (char) (0x80 | ((r >> 6) & 0x3f));
      u[3] = (char) (0x80 | (r & 0x3f));
      sw_buf_append (b, u, 4);
    }
}

/* An approximation of Go's strconv.IsPrint for runes above ASCII: letters, marks,
 * numbers, punctuation, symbols and U+0020 are printable; the other spaces, controls,
 * format characters and unassigned planes' private use are not. */
static bool
go_is_print (int32_t r)
{
  if (r < 0x20 || r == 0x7f)
    return false;
  if (r < 0x7f)
    return true;
  if (r < 0xa1 || r == 0xad)
    return false;
  if (r == 0x1680 || (r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f)
      || (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff || r == 0x061c
      || r == 0x180e || (r >= 0xfff0 && r <= 0xfffb) || r == 0xfffe || r == 0xffff
      || (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000 || (r & 0xfffe) == 0xfffe
      || (r >= 0xe0000 && r <= 0xe0fff) || (r >= 0x600 && r <= 0x605) || r == 0x6dd
      || r == 0x70f || r == 0x8e2 || r == 0x110bd || r == 0x110cd
      || (r >= 0x13430 && r <= 0x1343f) || (r >= 0x1bca0 && r <= 0x1bca3)
      || (r >= 0x1d173 && r <= 0x1d17a) || (r >= 0xfdd0 && r <= 0xfdef))
    return false;
  return true;
}

void
sw_go_quoten (sw_buf *out, const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *) s;
  static const char hex[] = "0123456789abcdef";

  sw_buf_putc (out, '"');
  for (size_t i = 0; i < n;)
    {
      size_t w;
      int32_t r = sw_utf8_decode (p + i, n - i, &w);
      if (r < 0)
        {
          sw_buf_printf (out, "\\x%c%c", hex[p[i] >> 4], hex[p[i] & 15]);
          i += w;
          continue;
        }
      switch (r)
        {
        case '"': sw_buf_puts (out, "\\\""); break;
        case '\\': sw_buf_puts (out, "\\\\"); break;
        case '\a': sw_buf_puts (out, "\\a"); break;
        case '\b': sw_buf_puts (out, "\\b"); break;
        case '\f': sw_buf_puts (out, "\\f"); break;
        case '\n': sw_buf_puts (out, "\\n"); break;
        case '\r': sw_buf_puts (out, "\\r"); break;
        case '\t': sw_buf_puts (out, "\\t"); break;
        case '\v': sw_buf_puts (out, "\\v"); break;
        default:
          if (go_is_print (r))
            sw_buf_append (out, p + i, w);
          else if (r < 0x20 || r == 0x7f)
            sw_buf_printf (out, "\\x%02x", (unsigned) r);
          else if (r < 0x10000)
            sw_buf_printf (out, "\\u%04x", (unsigned) r);
          else
            sw_buf_printf (out, "\\U%08x", (unsigned) r);
        }
      i += w;
    }
  sw_buf_putc (out, '"');
}

void
sw_go_quote (sw_buf *out, const char *s)
{
  sw_go_quoten (out, s, strlen (s));
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
