/* common/strconv.h — Go's strconv.ParseBool, which buildx and BuildKit use for every
 * boolean they read (flag values, --output keys, RUN --mount and --device options), so
 * "True", "t" and "1" mean the same here as there.
 */
#ifndef SW_COMMON_STRCONV_H
#define SW_COMMON_STRCONV_H

#include <stdbool.h>

/* 1 t T TRUE true True / 0 f F FALSE false False, and nothing else.  0 and *out set, or -1
 * (out untouched): the caller reports the value and where it came from. */
int sw_parse_bool (const char *s, bool *out);

#endif
