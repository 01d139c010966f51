/* dockerfile/location.h — errors that point into a Dockerfile.
 *
 * Every error about a Dockerfile's content names the file, line and column and shows the
 * line with a caret under the column, so the user sees what and where at once:
 *
 *   Dockerfile:12:5: unknown instruction: RUNN (did you mean RUN?)
 *     12 | RUNN make
 *        | ^
 *
 * Lines and columns are 1-based; column counts bytes.  A line outside the file (or 0)
 * gives just "PATH:LINE: message" (or "PATH: message"); a column of 0 omits the caret.
 */
#ifndef SW_DOCKERFILE_LOCATION_H
#define SW_DOCKERFILE_LOCATION_H

#include <stdarg.h>

#include "common/error.h"
#include "dockerfile/ast.h"

/* Make *err located at line:column of df.  Returns -1. */
int sw_df_error_at (sw_error **err, const sw_dockerfile *df, int line, int column,
                    const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));
int sw_df_error_atv (sw_error **err, const sw_dockerfile *df, int line, int column,
                     const char *fmt, va_list ap) __attribute__ ((format (printf, 5, 0)));

/* Same, at an instruction node's keyword (node->start_line, node->column). */
int sw_df_error_node (sw_error **err, const sw_dockerfile *df, const sw_df_node *node,
                      const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

/* Find where text (a flag, an argument, a stage name…) first appears in the source lines
 * of instruction node, so an error can point at it rather than at the keyword.  Fills
 * *line and *column and returns true when found; otherwise gives the keyword's place and
 * returns false. */
bool sw_df_locate (const sw_dockerfile *df, const sw_df_node *node, const char *text,
                   int *line, int *column);

/* The lower level for callers without a parsed tree: source_line may be NULL. */
int sw_df_error_raw (sw_error **err, const char *path, int line, int column,
                     const char *source_line, const char *fmt, ...)
  __attribute__ ((format (printf, 6, 7)));

#endif
