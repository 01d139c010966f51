/* common/csv.c — see csv.h. */
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "common/csv.h"

char *
sw_csv_get (const char *spec, const char *key)
{
  cleanup_free char *copy = sw_xstrdup (spec);
  char *save = NULL;
  size_t klen = strlen (key);
  for (char *p = strtok_r (copy, ",", &save); p; p = strtok_r (NULL, ",", &save))
    if (strncmp (p, key, klen) == 0 && p[klen] == '=')
      return sw_xstrdup (p + klen + 1);
  return NULL;
}
