/* common/error.h — error objects.
 *
 * A function that can fail returns int (0 on success, negative on failure) and, on
 * failure, fills *err with an error object: a message and the errno that caused it.
 * Callers add context on the way up with sw_error_wrap(), so the final message reads
 * outermost first: "pushing layer 3: PATCH /v2/x/blobs/uploads/…: connection reset".
 * The model is crun's libcrun_error_t.
 *
 * Rules:
 *  - err may be NULL: the error is then dropped (but the return value still says so).
 *  - *err must be NULL on entry to sw_error_make(); making an error twice is a bug and
 *    the second message is appended to the first rather than leaking it.
 *  - Whoever receives an error owns it and frees it with sw_error_free().
 *  - Category (slipway.h's sw_error_category): the innermost code that knows what kind of
 *    failure it is says so with sw_error_set_category(); an error that already has one
 *    keeps it, so wrapping and categorising again on the way up never change it.  Without
 *    one, an error made from errno ECANCELED is SW_ERR_CANCELLED, one made by
 *    sw_error_errno() is SW_ERR_IO, any other SW_ERR_INTERNAL.
 */
#ifndef SW_COMMON_ERROR_H
#define SW_COMMON_ERROR_H

#include <stdarg.h>
#include "slipway.h" /* the public typedef sw_error and its accessors */

struct sw_error
{
  int errnum;  /* errno value, or 0 when the failure has no errno */
  char *msg;   /* the chain, outermost context first */
  sw_error_category category; /* SW_ERR_INTERNAL until someone knows better */
};

/* Make a new error.  errnum may be 0.  Returns -1 so callers can `return sw_error_make(...)`. */
int sw_error_make (sw_error **err, int errnum, const char *fmt, ...)
  __attribute__ ((format (printf, 3, 4)));
int sw_error_makev (sw_error **err, int errnum, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 3, 0)));

/* Same as sw_error_make(err, errno, ...) with strerror(errno) appended. */
int sw_error_errno (sw_error **err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Prefix context to an existing error: "context: previous message".  Returns -1.
 * With no error in *err (a caller bug), makes one from the context alone. */
int sw_error_wrap (sw_error **err, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* Give *err (if any) the category cat, unless it already has one.  Returns -1, so that
 * `return sw_error_set_category (err, SW_ERR_INPUT);` ends a failing path. */
int sw_error_set_category (sw_error **err, sw_error_category cat);

/* Move an error from *src to *dst (which must be empty); *src becomes NULL. */
void sw_error_move (sw_error **dst, sw_error **src);

#endif
