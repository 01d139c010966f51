/* tests/tools/cancel_build.c — sw_build_cancel() from a signal handler, with two builds
 * running in one process: only the cancelled one stops.
 *
 *   cancel_build CTX_A STATE_A TAG_A CTX_B STATE_B
 *
 * Build A (pushed to TAG_A) and build B (no output) run on two threads.  When A's step
 * prints "started", the main thread sends the process SIGUSR1, whose handler calls
 * sw_build_cancel (A).  Prints one line per build:
 *   A rc=-1 category=5 errno=125 seconds=0.4 message=…   (seconds after the signal)
 *   B rc=0 category=0 errno=0 seconds=3.1 message=       (seconds of the whole build)
 * and exits 0 when A failed as cancelled within 10 s of the signal and B succeeded.
 * Uses only slipway.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slipway.h"

struct job
{
  sw_build *b;
  int rc;
  sw_error_category category;
  int code;
  char message[512];
  double started, ended;
};

static sw_build *victim;
static int started_pipe[2];
static double signalled_at;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
on_usr1 (int sig)
{
  (void) sig;
  sw_build_cancel (victim);
}

static void
on_event (const sw_event *ev, void *userdata)
{
  (void) userdata;
  if (ev->kind == SW_EVENT_STEP_LOG && ev->text && strstr (ev->text, "started"))
    {
      ssize_t r = write (started_pipe[1], "s", 1);
      (void) r;
    }
}

static void *
run (void *arg)
{
  struct job *j = arg;
  sw_error *err = NULL;
  j->started = now ();
  j->rc = sw_build_run (j->b, &err);
  j->ended = now ();
  if (j->b == victim) /* A never printed "started": do not leave main waiting */
    {
      ssize_t r = write (started_pipe[1], "d", 1);
      (void) r;
    }
  j->category = sw_error_category_of (err);
  j->code = sw_error_code (err);
  snprintf (j->message, sizeof j->message, "%s", err ? sw_error_message (err) : "");
  sw_error_free (err);
  return NULL;
}

static sw_build *
make_build (const char *ctx, const char *state, const char *tag)
{
  sw_build *b = sw_build_new ();
  if (sw_build_set (b, SW_OPT_CONTEXT, ctx, NULL) < 0 || sw_build_set (b, SW_OPT_STATE_DIR, state, NULL) < 0
      || (tag && (sw_build_set (b, SW_OPT_TAG, tag, NULL) < 0 || sw_build_set (b, SW_OPT_PUSH, "true", NULL) < 0)))
    {
      fprintf (stderr, "cancel_build: bad options\n");
      return NULL;
    }
  return b;
}

int
main (int argc, char **argv)
{
  struct job a = { 0 }, b = { 0 };
  pthread_t ta, tb;
  char c;

  if (argc != 6)
    {
      fprintf (stderr, "usage: %s CTX_A STATE_A TAG_A CTX_B STATE_B\n", argv[0]);
      return 2;
    }
  if (pipe (started_pipe) < 0)
    return 2;
  a.b = victim = make_build (argv[1], argv[2], argv[3]);
  b.b = make_build (argv[4], argv[5], NULL);
  if (!a.b || !b.b)
    return 2;
  sw_build_set_event_callback (a.b, on_event, NULL);
  struct sigaction sa = { .sa_handler = on_usr1 };
  sigemptyset (&sa.sa_mask);
  sigaction (SIGUSR1, &sa, NULL);

  pthread_create (&tb, NULL, run, &b);
  pthread_create (&ta, NULL, run, &a);
  /* wait (bounded by the build's own sleep) for A's step to be running */
  while (read (started_pipe[0], &c, 1) < 0 && errno == EINTR)
    ;
  signalled_at = now ();
  kill (getpid (), SIGUSR1);
  pthread_join (ta, NULL);
  pthread_join (tb, NULL);

  double a_seconds = a.ended - signalled_at, b_seconds = b.ended - b.started;
  printf ("A rc=%d category=%d errno=%d seconds=%.1f message=%s\n", a.rc, (int) a.category, a.code, a_seconds,
          a.message);
  printf ("B rc=%d category=%d errno=%d seconds=%.1f message=%s\n", b.rc, (int) b.category, b.code, b_seconds,
          b.message);
  sw_build_free (a.b);
  sw_build_free (b.b);
  return a.rc < 0 && a.category == SW_ERR_CANCELLED && a_seconds < 10 && b.rc == 0 ? 0 : 1;
}
