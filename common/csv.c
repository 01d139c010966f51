/* common/csv.c — see csv.h.  Follows encoding/csv's readRecord for a single line, with
 * LazyQuotes and TrimLeadingSpace off, as buildx and BuildKit leave them. */
#include <stdbool.h>
#include <string.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/xalloc.h"

static const char bare_quote[] = "bare \" in non-quoted-field";
static const char bad_quote[] = "extraneous or missing \" in quoted-field";

/* The end of a line: "\n" or "\r\n" (encoding/csv reads one record a line). */
static bool
at_eol (const char *p)
{
  return p[0] == '\n' || (p[0] == '\r' && p[1] == '\n');
}

/* One field starting at *p; *p is left on the comma, line end or NUL that ends it. */
static int
read_field (const char **pp, sw_buf *f, const char **why)
{
  const char *p = *pp;
  if (*p != '"')
    {
      for (; *p && *p != ',' && !at_eol (p); p++)
        {
          if (*p == '"')
            return *why = bare_quote, -1;
          sw_buf_putc (f, *p);
        }
      *pp = p;
      return 0;
    }
  for (p++;; p++)
    {
      if (*p == '\0')
        return *why = bad_quote, -1;
      if (p[0] == '\r' && p[1] == '\n')
        continue; /* a quoted line break is "\n", whatever the line ending */
      if (*p != '"')
        sw_buf_putc (f, *p);
      else if (p[1] == '"')
        sw_buf_putc (f, *p++);
      else if (p[1] == ',' || p[1] == '\0' || at_eol (p + 1))
        {
          *pp = p + 1;
          return 0;
        }
      else
        return *why = bad_quote, -1;
    }
}

int
sw_csv_split (const char *record, sw_strv *out, const char **why)
{
  const char *p = record;
  while (at_eol (p))
    p += p[0] == '\r' ? 2 : 1; /* blank lines before the record are skipped */
  for (;;)
    {
      sw_buf f = SW_BUF_INIT;
      if (read_field (&p, &f, why) < 0)
        {
          sw_buf_free (&f);
          return -1;
        }
      sw_strv_push_owned (out, sw_buf_steal (&f));
      if (*p != ',')
        return 0;
      p++;
    }
}

char *
sw_csv_get (const char *spec, const char *key)
{
  cleanup_strvec sw_strv fields = SW_STRV_INIT;
  const char *why;
  size_t klen = strlen (key);
  if (sw_csv_split (spec, &fields, &why) < 0)
    return NULL;
  for (size_t i = 0; i < fields.n; i++)
    if (strncmp (fields.v[i], key, klen) == 0 && fields.v[i][klen] == '=')
      return sw_xstrdup (fields.v[i] + klen + 1);
  return NULL;
}
