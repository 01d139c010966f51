/* exec/gofmt.h — the few Go formatting verbs BuildKit's history entries are made with.
 *
 * BuildKit writes `created_by` with fmt.Sprintf: `CMD %q` of a []string, `VOLUME %v`,
 * `HEALTHCHECK %+v` of a struct with time.Duration fields.  An image is only the same as
 * BuildKit's if these strings are byte for byte the same, so they are reproduced here.
 */
#ifndef SW_EXEC_GOFMT_H
#define SW_EXEC_GOFMT_H

#include <stdint.h>

#include "common/buf.h"

/* strconv.Quote: "…" with Go's escapes (\" \\ \n \t \x00 \u00ad …). */
void sw_go_quote (sw_buf *out, const char *s);
/* %q of a []string: ["a" "b"]. */
void sw_go_quote_list (sw_buf *out, char *const *v);
/* %v of a []string: [a b]. */
void sw_go_list (sw_buf *out, char *const *v);
/* time.Duration.String(): "1m30s", "0s", "1.5s", "500ms", "2h0m0s". */
void sw_go_duration (sw_buf *out, int64_t ns);

#endif
