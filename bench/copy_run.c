/* bench/copy_run CONTEXT ROOT: `COPY . /app/` from CONTEXT into the directory ROOT through
 * copy/copy.h (the engine's path), once; prints the wall time in ms. */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "copy/context.h"
#include "copy/copy.h"

int
main (int argc, char **argv)
{
  if (argc != 3)
    return 2;
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  sw_error *err = NULL;
  sw_context *c = NULL;
  if (sw_context_open (argv[1], NULL, &c, &err) < 0)
    goto fail;
  const char *srcs[] = { "." };
  sw_copy_opts o = { .srcs = srcs, .n_srcs = 1, .dest = "/app/", .user_root_fd = -1 };
  sw_context_as_source (c, &o);
  o.dst_root_fd = open (argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (sw_copy_run (&o, &err) < 0)
    goto fail;
  clock_gettime (CLOCK_MONOTONIC, &b);
  printf ("%.0f\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6);
  sw_context_free (c);
  return 0;
fail:
  fprintf (stderr, "%s\n", sw_error_message (err));
  return 1;
}
