/* common/buf.h — a growable byte buffer, always NUL-terminated.
 *
 * For building strings and small documents (manifests, configs, messages).  Never for
 * layer data: layers stream through sinks and are never held whole in memory.
 */
#ifndef SW_COMMON_BUF_H
#define SW_COMMON_BUF_H

#include <stddef.h>

typedef struct sw_buf
{
  char *data; /* NUL-terminated; NULL until something is added */
  size_t len;
  size_t cap;
} sw_buf;

#define SW_BUF_INIT { NULL, 0, 0 }

void sw_buf_append (sw_buf *b, const void *p, size_t n);
void sw_buf_puts (sw_buf *b, const char *s);
void sw_buf_putc (sw_buf *b, char c);
void sw_buf_printf (sw_buf *b, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void sw_buf_truncate (sw_buf *b, size_t len);
/* Hand the contents out (never NULL: "" for an empty buffer) and reset the buffer. */
char *sw_buf_steal (sw_buf *b);
void sw_buf_free (sw_buf *b);
/* The contents as a string; "" for an empty buffer. */
const char *sw_buf_str (const sw_buf *b);

static inline void
sw_cleanup_bufp (sw_buf *b)
{
  sw_buf_free (b);
}
#define cleanup_buf __attribute__ ((cleanup (sw_cleanup_bufp)))

#endif
