/* bench/pushblob.c — push stdin as one blob through slipway's upload sink (the
 * common/sink.h interface layers/ writes into: chunked, double-buffered, resumable) and
 * report what it cost: `pushblob HOST:PORT/REPO < data`.  Prints one line:
 *   digest=… bytes=N seconds=S MiB/s=T maxrss_KiB=K disk_write_bytes=W
 * (disk writes from /proc/self/io's write_bytes: bytes this process sent to storage). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "registry/client.h"
#include "registry/ref.h"
#include "registry/sink.h"

static long long
io_write_bytes (void)
{
  FILE *f = fopen ("/proc/self/io", "r");
  char line[128];
  long long v = -1;
  while (f && fgets (line, sizeof line, f))
    if (strncmp (line, "write_bytes:", 12) == 0)
      v = atoll (line + 12);
  if (f)
    fclose (f);
  return v;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: pushblob HOST:PORT/REPO < data\n");
      return 2;
    }
  sw_error *err = NULL;
  sw_ref *ref = NULL;
  if (sw_ref_parse (argv[1], &ref, &err) < 0)
    goto fail;
  sw_registry_options ro = { 0 };
  sw_registry_options_from_env (&ro); /* SLIPWAY_CHUNK_SIZE and the retry knobs, as before */
  sw_registry *r = sw_registry_new (&ro);
  long long w0 = io_write_bytes ();
  double t0 = sw_now ();
  sw_sink sink;
  sw_blob_result res;
  if (sw_registry_upload_sink (r, ref, &sink, &res, &err) < 0)
    goto fail;
  static char buf[1 << 20];
  ssize_t n;
  while ((n = read (0, buf, sizeof buf)) > 0)
    if (sw_sink_write (&sink, buf, (size_t) n, &err) < 0)
      {
        sw_sink_abort (&sink);
        goto fail;
      }
  /* the digest is known only now: the sink computed it on the way */
  if (sw_sink_finish (&sink, NULL, &err) < 0)
    goto fail;
  const char *digest = res.digest;
  int64_t size = res.size;
  double secs = sw_now () - t0;
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("digest=%s bytes=%lld seconds=%.2f MiB/s=%.0f maxrss_KiB=%ld disk_write_bytes=%lld\n", digest,
          (long long) size, secs, (double) size / 1048576.0 / secs, ru.ru_maxrss, io_write_bytes () - w0);
  sw_registry_free (r);
  sw_ref_free (ref);
  return 0;
fail:
  fprintf (stderr, "pushblob: %s\n", sw_error_message (err));
  return 1;
}
