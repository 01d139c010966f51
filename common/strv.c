/* common/strv.c — see strv.h. */
#include <stdlib.h>

#include "common/strv.h"
#include "common/xalloc.h"

void
sw_strv_push_owned (sw_strv *s, char *value)
{
  if (s->n + 2 > s->cap)
    {
      s->cap = s->cap < 4 ? 4 : 2 * s->cap;
      s->v = sw_xreallocarray (s->v, s->cap, sizeof *s->v);
    }
  s->v[s->n++] = value;
  s->v[s->n] = NULL;
}

void
sw_strv_push (sw_strv *s, const char *value)
{
  sw_strv_push_owned (s, sw_xstrdup (value));
}

void
sw_strv_free (sw_strv *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  s->v = NULL;
  s->n = 0;
  s->cap = 0;
}

char **
sw_strv_steal (sw_strv *s)
{
  char **v = s->v;
  s->v = NULL;
  s->n = 0;
  s->cap = 0;
  return v;
}

char **
sw_strv_dup (char *const *v, size_t n)
{
  if (!v)
    return NULL;
  char **r = sw_xcalloc (n + 1, sizeof *r);
  for (size_t i = 0; i < n; i++)
    r[i] = sw_xstrdup (v[i]);
  return r;
}

size_t
sw_strlist_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char **
sw_strlist_dup (char *const *v)
{
  return sw_strv_dup (v, sw_strlist_len (v));
}

void
sw_strlist_push (char ***v, const char *s)
{
  size_t n = sw_strlist_len (*v);
  *v = sw_xreallocarray (*v, n + 2, sizeof **v);
  (*v)[n] = sw_xstrdup (s);
  (*v)[n + 1] = NULL;
}

void
sw_strlist_free (char **v)
{
  for (size_t i = 0; v && v[i]; i++)
    free (v[i]);
  free (v);
}
