/* examples/runner.c — a custom runner on libslipway: build a context, print every event.
 *
 *   runner CONTEXT [TAG]        (state in $SLIPWAY_STATE_DIR when set; with $SLIPWAY_DEBUG,
 *                                the library's debug messages too)
 *
 * Shows the whole public API a runner needs: a handle, options, an event callback, run,
 * cancellation from a signal handler, and the error's category to decide what to do.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "slipway.h"

static void
on_event (const sw_event *ev, void *userdata)
{
  (void) userdata;
  switch (ev->kind)
    {
    case SW_EVENT_STEP_START: printf ("step %d: %s\n", ev->id, ev->name); break;
    case SW_EVENT_STEP_LOG: printf ("step %d| %s\n", ev->id, ev->text); break;
    case SW_EVENT_STEP_DONE: printf ("step %d: %s (%.2fs)\n", ev->id, ev->status ? "failed" : "done", ev->elapsed); break;
    case SW_EVENT_STEP_CACHED: printf ("step %d: cached\n", ev->id); break;
    case SW_EVENT_WARNING: printf ("warning: %s\n", ev->text); break;
    case SW_EVENT_LOG: printf ("log %d: %s\n", (int) ev->level, ev->text); break;
    default: break;
    }
}

static sw_build *running;

static void
on_interrupt (int sig)
{
  (void) sig;
  sw_build_cancel (running); /* async-signal-safe; the run then fails as cancelled */
}

static const char *
category_name (sw_error_category c)
{
  switch (c)
    {
    case SW_ERR_INPUT: return "fix the Dockerfile or the options";
    case SW_ERR_REGISTRY: return "registry trouble: worth a retry";
    case SW_ERR_STEP: return "a step failed";
    case SW_ERR_IO: return "local I/O";
    case SW_ERR_CANCELLED: return "cancelled";
    case SW_ERR_INTERNAL: break;
    }
  return "internal";
}

int
main (int argc, char **argv)
{
  sw_error *err = NULL;
  sw_build *b;
  int rc = 0;

  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: %s CONTEXT [TAG]\n", argv[0]);
      return 2;
    }
  if (getenv ("SLIPWAY_DEBUG") && *getenv ("SLIPWAY_DEBUG"))
    sw_set_log_level (SW_LOG_DEBUG);
  b = sw_build_new ();
  if ((getenv ("SLIPWAY_STATE_DIR") && sw_build_set (b, SW_OPT_STATE_DIR, getenv ("SLIPWAY_STATE_DIR"), &err) < 0)
      || sw_build_set (b, SW_OPT_CONTEXT, argv[1], &err) < 0
      || (argc == 3 && (sw_build_set (b, SW_OPT_TAG, argv[2], &err) < 0
                        || sw_build_set (b, SW_OPT_PUSH, "true", &err) < 0)))
    goto fail;
  sw_build_set_event_callback (b, on_event, NULL);
  running = b;
  signal (SIGINT, on_interrupt);
  signal (SIGTERM, on_interrupt);
  if (sw_build_run (b, &err) < 0)
    goto fail;
  printf ("image %s\n", sw_build_digest (b) ? sw_build_digest (b) : "(not pushed)");
  goto out;
fail:
  fprintf (stderr, "runner: %s [%s]\n", sw_error_message (err), category_name (sw_error_category_of (err)));
  sw_error_free (err);
  rc = 1;
out:
  signal (SIGINT, SIG_DFL); /* no cancel of a freed handle */
  signal (SIGTERM, SIG_DFL);
  sw_build_free (b);
  return rc;
}
