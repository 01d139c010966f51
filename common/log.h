/* common/log.h — leveled logging for the library.
 *
 * The library never writes to stdout/stderr on its own: messages go to a handler (the
 * public API routes them into the build's event callback; the default handler writes to
 * stderr).  Secrets never reach a log call: callers redact before formatting.
 */
#ifndef SW_COMMON_LOG_H
#define SW_COMMON_LOG_H

#include "slipway.h" /* sw_log_level */

typedef void (*sw_log_handler) (sw_log_level level, const char *msg, void *userdata);

void sw_log_set_level (sw_log_level level);
sw_log_level sw_log_get_level (void);
/* NULL restores the default stderr handler. */
void sw_log_set_handler (sw_log_handler handler, void *userdata);
void sw_log (sw_log_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#define sw_error_log(...) sw_log (SW_LOG_ERROR, __VA_ARGS__)
#define sw_warn(...) sw_log (SW_LOG_WARN, __VA_ARGS__)
#define sw_info(...) sw_log (SW_LOG_INFO, __VA_ARGS__)
#define sw_debug(...) sw_log (SW_LOG_DEBUG, __VA_ARGS__)

#endif
