/* image/json.c — see json.h. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "image/json.h"

static int
dump_cb (const char *p, size_t n, void *data)
{
  sw_buf_append (data, p, n);
  return 0;
}

void
sw_json_dump (json_t *o, sw_buf *out)
{
  json_dump_callback (o, dump_cb, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

struct pair
{
  const char *k;
  json_t *v;
};

static int
cmp_pair (const void *a, const void *b)
{
  return strcmp (((const struct pair *) a)->k, ((const struct pair *) b)->k);
}

json_t *
sw_json_sorted_object (const char **keys, json_t **values, size_t n)
{
  struct pair *p = sw_xcalloc (n + 1, sizeof *p);
  for (size_t i = 0; i < n; i++)
    p[i] = (struct pair){ keys[i], values[i] };
  qsort (p, n, sizeof *p, cmp_pair);
  json_t *o = json_object ();
  for (size_t i = 0; i < n; i++)
    json_object_set_new (o, p[i].k, p[i].v);
  free (p);
  return o;
}
