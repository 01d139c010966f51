/* cli/progress_tty.c — --progress=tty: buildx's live display.
 *
 *   [+] Building 4.2s (6/9)
 *    => [internal] load build definition from Dockerfile          0.0s
 *    => [2/4] RUN make                                             3.1s
 *    => => # cc -o app app.c
 *    => exporting to image                                         0.8s
 *    => => [2/4] RUN make                                    12.30MB
 *
 * The screen is redrawn in place (cursor up, clear line) on every event and ten times a
 * second for the clocks; a ticker thread does the latter, so every access to the state
 * holds the lock.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/progress_tty.h"

#define LOG_LINES 6

struct vertex
{
  int id;
  char *name;
  double start, elapsed;
  int state; /* 0 running, 1 done, 2 error, 3 cached */
  char *logs[LOG_LINES];
  size_t n_logs, next_log;
  char **progress_names;
  unsigned long long *progress_bytes;
  size_t n_progress;
};

struct tty
{
  pthread_mutex_t lock;
  pthread_t ticker;
  bool stop;
  double start;
  struct vertex *v;
  size_t n;
  int drawn; /* lines drawn last time, to move back over */
};

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
width (void)
{
  struct winsize ws;
  if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    return ws.ws_col;
  return 80;
}

/* One line, cut to the terminal's width, with the time right-aligned. */
static void
line (FILE *out, int cols, const char *left, const char *right)
{
  int room = cols - 1 - (right ? (int) strlen (right) + 1 : 0);
  int len = (int) strlen (left);
  fputs ("\x1b[2K", out);
  if (len > room)
    fprintf (out, "%.*s", room, left);
  else
    fprintf (out, "%s%*s", left, room - len, "");
  if (right)
    fprintf (out, " %s", right);
  fputc ('\n', out);
}

static void
draw (struct tty *t)
{
  FILE *out = stderr;
  int cols = width ();
  int lines = 0;
  size_t done = 0;
  char buf[1024], right[64];
  double tnow = now ();

  for (size_t i = 0; i < t->n; i++)
    done += t->v[i].state != 0;
  if (t->drawn > 0)
    fprintf (out, "\x1b[%dA", t->drawn);
  snprintf (buf, sizeof buf, "[+] Building %.1fs (%zu/%zu)%s", tnow - t->start, done, t->n,
            t->stop ? " FINISHED" : "");
  line (out, cols, buf, NULL);
  lines++;
  for (size_t i = 0; i < t->n; i++)
    {
      struct vertex *v = &t->v[i];
      double el = v->state == 0 ? tnow - v->start : v->elapsed;
      snprintf (buf, sizeof buf, " => %s%s", v->state == 2 ? "ERROR " : "", v->name);
      if (v->state == 3)
        snprintf (right, sizeof right, "CACHED");
      else
        snprintf (right, sizeof right, "%.1fs", el);
      line (out, cols, buf, right);
      lines++;
      for (size_t p = 0; v->state == 0 && p < v->n_progress; p++)
        {
          snprintf (buf, sizeof buf, " => => pushing %s", v->progress_names[p]);
          snprintf (right, sizeof right, "%.2fMB", (double) v->progress_bytes[p] / 1e6);
          line (out, cols, buf, right);
          lines++;
        }
      if (v->state == 0 || v->state == 2)
        for (size_t k = 0; k < v->n_logs; k++)
          {
            size_t idx = (v->next_log + LOG_LINES - v->n_logs + k) % LOG_LINES;
            snprintf (buf, sizeof buf, " => => # %s", v->logs[idx]);
            fputs ("\x1b[2m", out);
            line (out, cols, buf, NULL);
            fputs ("\x1b[0m", out);
            lines++;
          }
    }
  /* Clear what the last, longer drawing left below. */
  for (int i = lines; i < t->drawn; i++)
    fputs ("\x1b[2K\n", out);
  if (t->drawn > lines)
    fprintf (out, "\x1b[%dA", t->drawn - lines);
  t->drawn = lines;
  fflush (out);
}

static void *
tick (void *data)
{
  struct tty *t = data;
  for (;;)
    {
      struct timespec ts = { 0, 100 * 1000 * 1000 };
      nanosleep (&ts, NULL);
      pthread_mutex_lock (&t->lock);
      if (t->stop)
        {
          pthread_mutex_unlock (&t->lock);
          return NULL;
        }
      draw (t);
      pthread_mutex_unlock (&t->lock);
    }
}

struct tty *
cli_tty_new (void)
{
  struct tty *t = calloc (1, sizeof *t);
  if (t == NULL)
    abort ();
  pthread_mutex_init (&t->lock, NULL);
  t->start = now ();
  if (pthread_create (&t->ticker, NULL, tick, t) != 0)
    t->ticker = 0;
  return t;
}

static struct vertex *
find (struct tty *t, int id)
{
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].id == id)
      return &t->v[i];
  return NULL;
}

static char *
xdup (const char *s)
{
  char *p = strdup (s ? s : "");
  if (p == NULL)
    abort ();
  return p;
}

void
cli_tty_event (struct tty *t, const sw_event *ev)
{
  struct vertex *v;

  pthread_mutex_lock (&t->lock);
  switch (ev->kind)
    {
    case SW_EVENT_STEP_START:
      t->v = realloc (t->v, (t->n + 1) * sizeof *t->v);
      if (t->v == NULL)
        abort ();
      v = &t->v[t->n++];
      memset (v, 0, sizeof *v);
      v->id = ev->id;
      v->name = xdup (ev->name);
      v->start = now ();
      break;
    case SW_EVENT_STEP_LOG:
      if ((v = find (t, ev->id)) != NULL)
        {
          free (v->logs[v->next_log]);
          v->logs[v->next_log] = xdup (ev->text);
          v->next_log = (v->next_log + 1) % LOG_LINES;
          if (v->n_logs < LOG_LINES)
            v->n_logs++;
        }
      break;
    case SW_EVENT_STEP_DONE:
    case SW_EVENT_STEP_CACHED:
      if ((v = find (t, ev->id)) != NULL)
        {
          v->elapsed = ev->kind == SW_EVENT_STEP_DONE ? ev->elapsed : 0;
          v->state = ev->kind == SW_EVENT_STEP_CACHED ? 3 : ev->status == 0 ? 1 : 2;
        }
      break;
    case SW_EVENT_PROGRESS:
      if ((v = find (t, ev->id)) != NULL)
        {
          size_t p;
          for (p = 0; p < v->n_progress; p++)
            if (strcmp (v->progress_names[p], ev->name ? ev->name : "") == 0)
              break;
          if (p == v->n_progress)
            {
              v->progress_names = realloc (v->progress_names, (p + 1) * sizeof *v->progress_names);
              v->progress_bytes = realloc (v->progress_bytes, (p + 1) * sizeof *v->progress_bytes);
              if (!v->progress_names || !v->progress_bytes)
                abort ();
              v->progress_names[p] = xdup (ev->name);
              v->n_progress++;
            }
          v->progress_bytes[p] = ev->current;
        }
      break;
    case SW_EVENT_WARNING:
    case SW_EVENT_LOG:
      /* Above the live area: move up over it, print, and let the next draw redo it. */
      if (t->drawn > 0)
        fprintf (stderr, "\x1b[%dA\x1b[J", t->drawn);
      t->drawn = 0;
      fprintf (stderr, "%s%s\n", ev->kind == SW_EVENT_WARNING ? "WARNING: " : "", ev->text ? ev->text : "");
      break;
    }
  draw (t);
  pthread_mutex_unlock (&t->lock);
}

void
cli_tty_free (struct tty *t)
{
  pthread_mutex_lock (&t->lock);
  t->stop = true;
  draw (t);
  pthread_mutex_unlock (&t->lock);
  if (t->ticker)
    pthread_join (t->ticker, NULL);
  for (size_t i = 0; i < t->n; i++)
    {
      struct vertex *v = &t->v[i];
      free (v->name);
      for (size_t k = 0; k < LOG_LINES; k++)
        free (v->logs[k]);
      for (size_t p = 0; p < v->n_progress; p++)
        free (v->progress_names[p]);
      free (v->progress_names);
      free (v->progress_bytes);
    }
  free (t->v);
  pthread_mutex_destroy (&t->lock);
  free (t);
}
