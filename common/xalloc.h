/* common/xalloc.h — allocation that cannot fail.
 *
 * Out of memory is not an error slipway can report usefully mid-build (the report itself
 * would need memory), so, like crun and git, these abort with a message instead of
 * returning NULL.  Every allocation in the library goes through them.
 */
#ifndef SW_COMMON_XALLOC_H
#define SW_COMMON_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *sw_xmalloc (size_t size);
void *sw_xzalloc (size_t size);
void *sw_xcalloc (size_t n, size_t size);
void *sw_xrealloc (void *p, size_t size);
void *sw_xreallocarray (void *p, size_t n, size_t size);
char *sw_xstrdup (const char *s);
char *sw_xstrndup (const char *s, size_t n);
char *sw_xasprintf (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
char *sw_xvasprintf (const char *fmt, va_list ap) __attribute__ ((format (printf, 1, 0)));

#endif
