/* dockerfile/gostr.c — Go's UTF-8 and space rules, as the parser needs them. */
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "dockerfile/parser_int.h"

bool
sw_df_is_space (int32_t r)
{
  switch (r)
    {
    case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
    case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029: case 0x202f:
    case 0x205f: case 0x3000:
      return true;
    default:
      return r >= 0x2000 && r <= 0x200a;
    }
}

const char *
sw_df_skip_space (const char *s)
{
  size_t n = strlen (s), i = 0, w;

  while (i < n && sw_df_is_space (sw_utf8_decode ((const unsigned char *) s + i, n - i, &w)))
    i += w;
  return s + i;
}

char *
sw_df_trim_space (const char *s)
{
  const char *start = sw_df_skip_space (s);
  size_t n = strlen (start), end = 0, i = 0, w;

  /* walk forward, remembering where the last non-space rune ended */
  while (i < n)
    {
      int32_t r = sw_utf8_decode ((const unsigned char *) start + i, n - i, &w);
      i += w;
      if (!sw_df_is_space (r))
        end = i;
    }
  return sw_xstrndup (start, end);
}

sw_df_node *
sw_df_node_newn (const char *value, size_t n)
{
  sw_df_node *node = sw_xzalloc (sizeof *node);
  node->value = sw_xmalloc (n + 1);
  if (n > 0)
    memcpy (node->value, value, n);
  node->value[n] = '\0';
  node->value_len = n;
  node->original = sw_xstrdup ("");
  return node;
}

sw_df_node *
sw_df_node_new (const char *value)
{
  return sw_df_node_newn (value ? value : "", value ? strlen (value) : 0);
}
