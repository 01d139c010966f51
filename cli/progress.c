/* cli/progress.c — see progress.h.
 *
 * plain mirrors buildx's plain printer:
 *   #5 [build 2/4] RUN make
 *   #5 0.213 cc -o app app.c
 *   #5 DONE 0.4s
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/progress_tty.h"

enum mode
{
  MODE_PLAIN,
  MODE_TTY,
  MODE_QUIET,
  MODE_RAWJSON,
};

struct cli_progress
{
  enum mode mode;
  struct timespec start;
  struct tty *tty;
};

/* The public API has no error constructor (errors come from the library); a bad mode is
 * reported by the caller from a message we keep here. */
struct cli_progress *
cli_progress_new (const char *mode, sw_error **err)
{
  struct cli_progress *p = calloc (1, sizeof *p);
  (void) err;
  if (p == NULL)
    abort ();
  if (strcmp (mode, "plain") == 0)
    p->mode = MODE_PLAIN;
  else if (strcmp (mode, "tty") == 0)
    p->mode = MODE_TTY;
  else if (strcmp (mode, "quiet") == 0)
    p->mode = MODE_QUIET;
  else if (strcmp (mode, "rawjson") == 0)
    p->mode = MODE_RAWJSON;
  else if (strcmp (mode, "auto") == 0)
    p->mode = isatty (STDERR_FILENO) ? MODE_TTY : MODE_PLAIN;
  else
    {
      cli_fail ("invalid progress mode \"%s\": use auto, plain, tty, quiet or rawjson", mode);
      free (p);
      exit (2);
    }
  clock_gettime (CLOCK_MONOTONIC, &p->start);
  if (p->mode == MODE_TTY)
    p->tty = cli_tty_new ();
  return p;
}

void
cli_progress_free (struct cli_progress *p)
{
  if (p->tty)
    cli_tty_free (p->tty);
  free (p);
}

static double
since_start (const struct cli_progress *p)
{
  struct timespec now;
  clock_gettime (CLOCK_MONOTONIC, &now);
  return (double) (now.tv_sec - p->start.tv_sec) + (double) (now.tv_nsec - p->start.tv_nsec) / 1e9;
}

static void
json_string (FILE *out, const char *s)
{
  fputc ('"', out);
  for (; s && *s; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '"' || c == '\\')
        fprintf (out, "\\%c", c);
      else if (c < 0x20)
        fprintf (out, "\\u%04x", c);
      else
        fputc (c, out);
    }
  fputc ('"', out);
}

static void
rawjson_event (const sw_event *ev)
{
  static const char *const kinds[] = { "", "start", "log", "done", "cached", "progress", "warning", "log" };
  /* the line is made in memory and written at once: stderr is unbuffered, and character by
   * character a step's output cost a system call per byte */
  char *line = NULL;
  size_t len = 0;
  FILE *out = open_memstream (&line, &len);
  if (out == NULL)
    out = stderr;
  fprintf (out, "{\"kind\":\"%s\",\"id\":%d", kinds[ev->kind], ev->id);
  if (ev->name)
    {
      fputs (",\"name\":", out);
      json_string (out, ev->name);
    }
  if (ev->text)
    {
      fputs (",\"text\":", out);
      json_string (out, ev->text);
    }
  if (ev->kind == SW_EVENT_PROGRESS)
    fprintf (out, ",\"current\":%llu,\"total\":%llu", (unsigned long long) ev->current,
             (unsigned long long) ev->total);
  if (ev->kind == SW_EVENT_STEP_DONE)
    fprintf (out, ",\"status\":%d,\"elapsed\":%.3f", ev->status, ev->elapsed);
  if (ev->time > 0)
    fprintf (out, ",\"time\":%.6f", ev->time);
  fputs ("}\n", out);
  if (out != stderr && fclose (out) == 0)
    fwrite (line, 1, len, stderr);
  free (line);
}

void
cli_progress_event (const sw_event *ev, void *userdata)
{
  struct cli_progress *p = userdata;

  if (p->mode == MODE_RAWJSON)
    {
      rawjson_event (ev);
      return;
    }
  if (p->mode == MODE_TTY)
    {
      cli_tty_event (p->tty, ev);
      return;
    }
  if (p->mode == MODE_QUIET)
    {
      if (ev->kind == SW_EVENT_WARNING || (ev->kind == SW_EVENT_LOG && ev->level <= SW_LOG_WARN))
        fprintf (stderr, "%s\n", ev->text);
      return;
    }
  switch (ev->kind)
    {
    case SW_EVENT_STEP_START:
      fprintf (stderr, "#%d %s\n", ev->id, ev->name ? ev->name : "");
      break;
    case SW_EVENT_STEP_LOG:
      fprintf (stderr, "#%d %.3f %s\n", ev->id, since_start (p), ev->text ? ev->text : "");
      break;
    case SW_EVENT_STEP_DONE:
      if (ev->status == 0)
        fprintf (stderr, "#%d DONE %.1fs\n\n", ev->id, ev->elapsed);
      else
        fprintf (stderr, "#%d ERROR: %s\n\n", ev->id, ev->text ? ev->text : "failed");
      break;
    case SW_EVENT_STEP_CACHED:
      fprintf (stderr, "#%d CACHED\n\n", ev->id);
      break;
    case SW_EVENT_PROGRESS:
      if (ev->total && ev->current == ev->total)
        fprintf (stderr, "#%d %.2fMB done\n", ev->id, (double) ev->total / 1e6);
      break;
    case SW_EVENT_WARNING:
      fprintf (stderr, "WARNING: %s\n", ev->text ? ev->text : "");
      break;
    case SW_EVENT_LOG:
      fprintf (stderr, "%s\n", ev->text ? ev->text : "");
      break;
    }
  fflush (stderr);
}
