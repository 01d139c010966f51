/* fuzz_dockerignore — .dockerignore parsing, patternmatcher matching and Go's
 * filepath.Match on arbitrary input: the first line is a path, the rest an ignore file;
 * each ignore line is also tried as a filepath.Match pattern on the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "copy/dockerignore.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = sw_xstrndup ((const char *) data, size);
  char *nl = strchr (text, '\n');
  const char *path = text, *rest = "";
  if (nl)
    {
      *nl = '\0';
      rest = nl + 1;
    }
  sw_patterns *pm = NULL;
  sw_error *err = NULL;
  if (sw_dockerignore_parse (rest, strlen (rest), "fuzz", &pm, &err) == 0 && pm)
    {
      size_t n = sw_patterns_count (pm);
      bool *info = sw_xcalloc (n + 1, 1), *child = sw_xcalloc (n + 1, 1);
      bool m;
      if (sw_patterns_match (pm, path, NULL, info, &m, NULL) == 0)
        sw_patterns_match (pm, path, info, child, &m, NULL);
      for (size_t i = 0; i < n; i++)
        {
          bool exc;
          const char *p = sw_patterns_get (pm, i, &exc);
          sw_glob_match (p, path, &m);
        }
      free (info);
      free (child);
      sw_patterns_free (pm);
    }
  sw_error_free (err);
  char *c = sw_path_clean (path);
  free (c);
  free (text);
  return 0;
}
