/* cli/progress.h — showing a build's events: --progress=auto|plain|tty|quiet|rawjson.
 * Everything goes to stderr, as with buildx; stdout stays free for tar outputs (dest=-). */
#ifndef SW_CLI_PROGRESS_H
#define SW_CLI_PROGRESS_H

#include "slipway.h"

struct cli_progress;

/* NULL (and *err) for a mode that does not exist. */
struct cli_progress *cli_progress_new (const char *mode, sw_error **err);
void cli_progress_free (struct cli_progress *p);
/* An sw_event_callback; userdata is the cli_progress. */
void cli_progress_event (const sw_event *ev, void *userdata);

#endif
