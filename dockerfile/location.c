/* dockerfile/location.c — see location.h. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/location.h"

/* The source line, then a caret under column: "  12 | RUNN make\n     | ^".  Tabs before the
 * column are kept under the caret so it lines up in a terminal. */
static void
put_excerpt (sw_buf *b, int line, int column, const char *src)
{
  char num[32];
  int w;
  size_t n;

  w = snprintf (num, sizeof num, "%d", line);
  n = strlen (src);
  sw_buf_printf (b, "\n %s | ", num);
  for (size_t i = 0; i < n; i++) /* a control byte would garble the terminal */
    sw_buf_putc (b, ((unsigned char) src[i] < 0x20 && src[i] != '\t') ? '?' : src[i]);
  if (column <= 0)
    return;
  sw_buf_printf (b, "\n %*s | ", w, "");
  for (int i = 1; i < column; i++)
    sw_buf_putc (b, ((size_t) i <= n && src[i - 1] == '\t') ? '\t' : ' ');
  sw_buf_putc (b, '^');
}

static int
error_rawv (sw_error **err, const char *path, int line, int column, const char *src,
            const char *fmt, va_list ap)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  cleanup_free char *msg = sw_xvasprintf (fmt, ap);

  if (path == NULL)
    path = "Dockerfile";
  if (line > 0 && column > 0)
    sw_buf_printf (&b, "%s:%d:%d: %s", path, line, column, msg);
  else if (line > 0)
    sw_buf_printf (&b, "%s:%d: %s", path, line, msg);
  else
    sw_buf_printf (&b, "%s: %s", path, msg);
  /* a blank line with no column to point at shows nothing worth seeing */
  if (line > 0 && src != NULL && (column > 0 || src[strspn (src, " \t")] != '\0'))
    put_excerpt (&b, line, column, src);
  sw_error_make (err, 0, "%s", sw_buf_str (&b));
  return sw_error_set_category (err, SW_ERR_INPUT);
}

int
sw_df_error_raw (sw_error **err, const char *path, int line, int column,
                 const char *source_line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  error_rawv (err, path, line, column, source_line, fmt, ap);
  va_end (ap);
  return -1;
}

int
sw_df_error_atv (sw_error **err, const sw_dockerfile *df, int line, int column,
                 const char *fmt, va_list ap)
{
  const char *src = NULL;

  if (df != NULL && line > 0 && (size_t) line <= df->n_lines)
    src = df->lines[line - 1];
  return error_rawv (err, df ? df->path : NULL, line, column, src, fmt, ap);
}

int
sw_df_error_at (sw_error **err, const sw_dockerfile *df, int line, int column,
                const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  sw_df_error_atv (err, df, line, column, fmt, ap);
  va_end (ap);
  return -1;
}

int
sw_df_error_node (sw_error **err, const sw_dockerfile *df, const sw_df_node *node,
                  const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (node != NULL)
    sw_df_error_atv (err, df, node->start_line, node->column, fmt, ap);
  else
    sw_df_error_atv (err, df, 0, 0, fmt, ap);
  va_end (ap);
  return -1;
}

bool
sw_df_locate (const sw_dockerfile *df, const sw_df_node *node, const char *text,
              int *line, int *column)
{
  *line = node ? node->start_line : 0;
  *column = node ? node->column : 0;
  if (df == NULL || node == NULL || text == NULL || *text == '\0')
    return false;
  for (int l = node->start_line; l > 0 && l <= node->end_line && (size_t) l <= df->n_lines; l++)
    {
      const char *src = df->lines[l - 1];
      /* on the first line, search after the keyword so "RUN run" finds the argument */
      const char *from = src;
      if (l == node->start_line && node->column > 0
          && strlen (src) >= (size_t) node->column - 1 + strlen (node->value))
        from = src + node->column - 1 + strlen (node->value);
      const char *hit = strstr (from, text);
      if (hit != NULL)
        {
          *line = l;
          *column = (int) (hit - src) + 1;
          return true;
        }
    }
  return false;
}
