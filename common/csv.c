/* common/csv.c — see csv.h.  Follows encoding/csv's readRecord for a single line, with
 * LazyQuotes and TrimLeadingSpace off, as buildx and BuildKit leave them. */
#include <string.h>

#include "common/buf.h"
#include "common/csv.h"
#include "common/xalloc.h"

static const char bare_quote[] = "bare \" in non-quoted-field";
static const char bad_quote[] = "extraneous or missing \" in quoted-field";

/* One field starting at *p; *p is left on the ',' or the NUL that ends it. */
static int
read_field (const char **pp, sw_buf *f, const char **why)
{
  const char *p = *pp;
  if (*p != '"')
    {
      for (; *p && *p != ','; p++)
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
      if (*p != '"')
        sw_buf_putc (f, *p);
      else if (p[1] == '"')
        sw_buf_putc (f, *p++);
      else if (p[1] == ',' || p[1] == '\0')
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
