/* bench/step_loop.c — N trivial RUN steps chained over snapshots in one process, the way
 * the build engine drives sandbox/sandbox.h; prints ms per step (min, median, mean).
 *   step_loop STATE_DIR ROOTFS WORKDIR N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sandbox/sandbox.h"
#include "store/state.h"

static double
now_ms (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  if (argc != 5)
    return 2;
  int n = atoi (argv[4]);
  sw_state *st = NULL;
  sw_error *err = NULL;
  if (sw_state_open (argv[1], &st, &err) < 0)
    {
      fprintf (stderr, "%s\n", sw_error_message (err));
      return 1;
    }
  const char **lowers = calloc ((size_t) n + 2, sizeof *lowers);
  double *t = calloc ((size_t) n, sizeof *t), sum = 0;
  lowers[0] = argv[2];
  for (int i = 0; i < n; i++)
    {
      char *upper = NULL, cmd[64];
      if (asprintf (&upper, "%s/s%d", argv[3], i) < 0 || mkdir (upper, 0755) < 0)
        return 1;
      snprintf (cmd, sizeof cmd, "echo %d > /step%d", i, i);
      const char *args[] = { "/bin/sh", "-c", cmd, NULL };
      sw_sandbox_spec spec;
      memset (&spec, 0, sizeof spec);
      spec.state = st;
      spec.lowers = lowers;
      spec.upper = upper;
      spec.argv = args;
      int code;
      double a = now_ms ();
      if (sw_sandbox_run (&spec, &code, &err) < 0)
        {
          fprintf (stderr, "step %d: %s\n", i, sw_error_message (err));
          return 1;
        }
      t[i] = now_ms () - a;
      sum += t[i];
      lowers[i + 1] = upper;
    }
  qsort (t, (size_t) n, sizeof *t, cmp);
  printf ("%d %.2f %.2f %.2f\n", n, t[0], t[n / 2], sum / n);
  sw_state_close (st);
  return 0;
}
