/* cli/progress_tty.h — the live terminal display behind --progress=tty (progress.c). */
#ifndef SW_CLI_PROGRESS_TTY_H
#define SW_CLI_PROGRESS_TTY_H

#include "slipway.h"

struct tty;

struct tty *cli_tty_new (void);
void cli_tty_event (struct tty *t, const sw_event *ev);
/* Draw the final state and stop. */
void cli_tty_free (struct tty *t);

#endif
