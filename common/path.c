/* common/path.c — see path.h. */
#include <stdbool.h>
#include <string.h>

#include "common/path.h"
#include "common/xalloc.h"

/* Go's lexical rules, one pass: out never grows past the input plus a lone "." or "/". */
char *
sw_path_clean (const char *p)
{
  if (*p == '\0')
    return sw_xstrdup (".");
  bool rooted = p[0] == '/';
  size_t n = strlen (p);
  char *out = sw_xmalloc (n + 2);
  size_t w = 0, r = 0, dotdot = 0;
  if (rooted)
    {
      out[w++] = '/';
      r = 1;
      dotdot = 1;
    }
  while (r < n)
    {
      if (p[r] == '/')
        r++;
      else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/'))
        r++;
      else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/'))
        {
          r += 2;
          if (w > dotdot)
            {
              w--;
              while (w > dotdot && out[w] != '/')
                w--;
            }
          else if (!rooted)
            {
              if (w > 0)
                out[w++] = '/';
              out[w++] = '.';
              out[w++] = '.';
              dotdot = w;
            }
        }
      else
        {
          if ((rooted && w != 1) || (!rooted && w != 0))
            out[w++] = '/';
          for (; r < n && p[r] != '/'; r++)
            out[w++] = p[r];
        }
    }
  if (w == 0)
    out[w++] = '.';
  out[w] = '\0';
  return out;
}
