/* common/log.h — leveled logging for the library.
 *
 * The library never writes to stdout/stderr on its own.  A message goes, in this order:
 *   - to the route of the build it belongs to (exec/ opens one per sw_build_run() whose
 *     caller set an event callback): delivered at once when logged on the build's own
 *     thread, else queued and delivered by that thread at its next event point
 *     (sw_log_route_drain), so the embedder's callback only ever runs on the caller's
 *     thread;
 *   - else to the process-wide handler (sw_set_log_callback, what the CLI installs);
 *   - else nowhere.
 * A thread logs for a build when it adopted the build's route (the worker pool does) or,
 * failing that, when exactly that build is the most recent one running in the process.
 * Secrets never reach a log call: callers redact before formatting.
 */
#ifndef SW_COMMON_LOG_H
#define SW_COMMON_LOG_H

#include "slipway.h" /* sw_log_level */

typedef void (*sw_log_handler) (sw_log_level level, const char *msg, void *userdata);

void sw_log_set_level (sw_log_level level);
sw_log_level sw_log_get_level (void);
/* The process-wide handler for messages outside any build; NULL: messages are dropped.
 * Called one message at a time, on the thread that logs; it must not log itself. */
void sw_log_set_handler (sw_log_handler handler, void *userdata);
void sw_log (sw_log_level level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* sw_set_log_callback (slipway.h) is sw_log_set_handler for embedders. */

/* ---- per-build routes ---- */
typedef struct sw_log_route sw_log_route;

/* Open a route on the calling thread (the build's thread): from now until
 * sw_log_route_close, this thread's messages and those of threads that adopted the route
 * (or that belong to no other route) reach handler on this thread. */
sw_log_route *sw_log_route_open (sw_log_handler handler, void *userdata);
/* On the route's thread: deliver the messages other threads queued, in order. */
void sw_log_route_drain (sw_log_route *r);
/* On the route's thread: drain, then stop routing.  NULL is a no-op. */
void sw_log_route_close (sw_log_route *r);
/* The route this thread logs to (its own or adopted), or NULL. */
sw_log_route *sw_log_route_current (void);
/* Make this thread's messages go to r (NULL: back to the default lookup).  r must stay
 * open while the thread uses it. */
void sw_log_route_adopt (sw_log_route *r);

#define sw_error_log(...) sw_log (SW_LOG_ERROR, __VA_ARGS__)
#define sw_warn(...) sw_log (SW_LOG_WARN, __VA_ARGS__)
#define sw_info(...) sw_log (SW_LOG_INFO, __VA_ARGS__)
#define sw_debug(...) sw_log (SW_LOG_DEBUG, __VA_ARGS__)

#endif
