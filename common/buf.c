/* common/buf.c — see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"

static void
reserve (sw_buf *b, size_t extra)
{
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap *= 2;
  b->data = sw_xrealloc (b->data, cap);
  b->cap = cap;
}

void
sw_buf_append (sw_buf *b, const void *p, size_t n)
{
  reserve (b, n);
  if (n)
    memcpy (b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void
sw_buf_puts (sw_buf *b, const char *s)
{
  sw_buf_append (b, s, strlen (s));
}

void
sw_buf_putc (sw_buf *b, char c)
{
  sw_buf_append (b, &c, 1);
}

void
sw_buf_printf (sw_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = vsnprintf (NULL, 0, fmt, ap);
  va_end (ap);
  if (n <= 0)
    return;
  reserve (b, (size_t) n);
  va_start (ap, fmt);
  vsnprintf (b->data + b->len, (size_t) n + 1, fmt, ap);
  va_end (ap);
  b->len += (size_t) n;
}

void
sw_buf_truncate (sw_buf *b, size_t len)
{
  if (len < b->len)
    {
      b->len = len;
      b->data[len] = '\0';
    }
}

char *
sw_buf_steal (sw_buf *b)
{
  char *p = b->data ? b->data : sw_xstrdup ("");
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void
sw_buf_free (sw_buf *b)
{
  free (b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

const char *
sw_buf_str (const sw_buf *b)
{
  return b->data ? b->data : "";
}
