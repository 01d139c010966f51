/* dockerfile/suggest.c — see suggest.h. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "dockerfile/suggest.h"

static size_t
levenshtein (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  size_t *row = sw_xcalloc (lb + 1, sizeof *row);

  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++)
    {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= lb; j++)
        {
          size_t up = row[j];
          size_t best = diag + (a[i - 1] != b[j - 1]);
          if (up + 1 < best)
            best = up + 1;
          if (row[j - 1] + 1 < best)
            best = row[j - 1] + 1;
          row[j] = best;
          diag = up;
        }
    }
  size_t d = row[lb];
  free (row);
  return d;
}

long
sw_df_closest (const char *val, const char *const *options, size_t n)
{
  long match = -1;
  size_t mindist = 3;

  /* Nothing much longer than every option is within 2 edits of one; this also bounds the
   * work on hostile input. */
  if (strlen (val) > 128)
    return -1;
  for (size_t i = 0; i < n; i++)
    {
      if (strcmp (val, options[i]) == 0)
        return -1;
      size_t d = levenshtein (val, options[i]);
      if (d < mindist)
        {
          mindist = d;
          match = (long) i;
        }
    }
  return match;
}
