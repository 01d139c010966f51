/* common/gofmt.h — the few Go formatting rules BuildKit's strings are made with.
 *
 * BuildKit writes `created_by` with fmt.Sprintf: `CMD %q` of a []string, `VOLUME %v`,
 * `HEALTHCHECK %+v` of a struct with time.Duration fields.  An image is only the same as
 * BuildKit's if these strings are byte for byte the same, so they are reproduced here —
 * once, for the front end's AST dump and the engine's history alike.
 */
#ifndef SW_COMMON_GOFMT_H
#define SW_COMMON_GOFMT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* utf8.DecodeRune of s[0..n): the rune and its width; -1 (width 1) when invalid. */
int32_t sw_utf8_decode (const unsigned char *s, size_t n, size_t *width);
/* utf8.AppendRune: a negative or invalid rune is written as U+FFFD. */
void sw_utf8_append (sw_buf *b, int32_t r);
/* strconv.Quote: "…" with Go's escapes (\" \\ \n \t \x00 \u00ad …). */
void sw_go_quote (sw_buf *out, const char *s);
/* The same for n bytes that may hold NULs or invalid UTF-8 (\xff). */
void sw_go_quoten (sw_buf *out, const char *s, size_t n);
/* %q of a []string: ["a" "b"]. */
void sw_go_quote_list (sw_buf *out, char *const *v);
/* %v of a []string: [a b]. */
void sw_go_list (sw_buf *out, char *const *v);
/* time.Duration.String(): "1m30s", "0s", "1.5s", "500ms", "2h0m0s". */
void sw_go_duration (sw_buf *out, int64_t ns);

#endif
