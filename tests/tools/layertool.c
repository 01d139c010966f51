/* layertool — drive layers/ from the shell, for tests/integration/layers.sh and
 * bench/layers.sh.  Not installed, not part of the public API.
 *
 *   layertool pack [-c gzip|zstd|none] [-l LEVEL] [-t THREADS] [--overlay] [--userxattr]
 *                  [--epoch SECONDS] [--sync] DIR          blob to stdout
 *   layertool extract [--digest D] [--diff-id D] [--overlay] [--no-devices] [--max BYTES]
 *                  ROOT                                     blob from stdin
 *   layertool snapshot SNAPDIR DIFFID                       blob from stdin
 *
 * Each prints "diff_id=… digest=… size=… tar_size=… maxrss_kb=…" on stderr when done.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "layers/layers.h"

static long
maxrss_kb (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static void
report (const sw_layer_info *info)
{
  fprintf (stderr, "diff_id=%s digest=%s size=%llu tar_size=%llu compression=%s maxrss_kb=%ld\n",
           info->diff_id, info->digest, (unsigned long long) info->size,
           (unsigned long long) info->tar_size, sw_compression_name (info->compression), maxrss_kb ());
}

static int
die (sw_error *err)
{
  fprintf (stderr, "layertool: %s\n", sw_error_message (err));
  sw_error_free (err);
  return 1;
}

static int
usage (void)
{
  fprintf (stderr, "usage: layertool pack|extract|snapshot … (see tests/tools/layertool.c)\n");
  return 2;
}

int
main (int argc, char **argv)
{
  sw_error *err = NULL;
  sw_layer_info info = { 0 };
  if (argc < 2)
    return usage ();
  const char *cmd = argv[1];
  if (strcmp (cmd, "pack") == 0)
    {
      sw_pack_opts o;
      sw_pack_opts_init (&o);
      const char *dir = NULL;
      for (int i = 2; i < argc; i++)
        {
          const char *a = argv[i];
          if (strcmp (a, "-c") == 0 && i + 1 < argc)
            {
              if (sw_compression_parse (argv[++i], &o.compression, &err) < 0)
                return die (err);
            }
          else if (strcmp (a, "-l") == 0 && i + 1 < argc)
            o.level = atoi (argv[++i]);
          else if (strcmp (a, "-t") == 0 && i + 1 < argc)
            o.threads = atoi (argv[++i]);
          else if (strcmp (a, "--overlay") == 0)
            o.overlay = true;
          else if (strcmp (a, "--userxattr") == 0)
            o.userxattr = true;
          else if (strcmp (a, "--epoch") == 0 && i + 1 < argc)
            o.source_date_epoch = atoll (argv[++i]);
          else if (strcmp (a, "--sync") == 0)
            o.async = false;
          else if (!dir)
            dir = a;
          else
            return usage ();
        }
      if (!dir)
        return usage ();
      sw_sink out;
      sw_sink_fd (&out, 1, false, NULL);
      if (sw_layer_pack_path (dir, &o, &out, &info, &err) < 0)
        return die (err);
      report (&info);
      return 0;
    }
  if (strcmp (cmd, "extract") == 0)
    {
      sw_extract_opts o;
      sw_extract_opts_init (&o);
      const char *root = NULL;
      for (int i = 2; i < argc; i++)
        {
          const char *a = argv[i];
          if (strcmp (a, "--digest") == 0 && i + 1 < argc)
            o.digest = argv[++i];
          else if (strcmp (a, "--diff-id") == 0 && i + 1 < argc)
            o.diff_id = argv[++i];
          else if (strcmp (a, "--overlay") == 0)
            o.whiteouts = SW_WHITEOUT_OVERLAY;
          else if (strcmp (a, "--no-devices") == 0)
            o.devices = false;
          else if (strcmp (a, "--max") == 0 && i + 1 < argc)
            o.max_bytes = strtoull (argv[++i], NULL, 10);
          else if (!root)
            root = a;
          else
            return usage ();
        }
      if (!root)
        return usage ();
      cleanup_close int rfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (rfd < 0)
        {
          perror (root);
          return 1;
        }
      if (sw_layer_extract_fd (0, rfd, &o, &info, &err) < 0)
        return die (err);
      report (&info);
      return 0;
    }
  if (strcmp (cmd, "snapshot") == 0 && argc == 4)
    {
      sw_sink s;
      if (sw_layer_snapshot_sink (&s, argv[2], argv[3], NULL, &err) < 0)
        return die (err);
      char buf[65536];
      ssize_t n;
      while ((n = read (0, buf, sizeof buf)) > 0)
        if (sw_sink_write (&s, buf, (size_t) n, &err) < 0)
          {
            sw_sink_abort (&s);
            return die (err);
          }
      if (n < 0)
        {
          sw_sink_abort (&s);
          perror ("read");
          return 1;
        }
      if (sw_sink_finish (&s, NULL, &err) < 0)
        return die (err);
      cleanup_free char *p = sw_layer_snapshot_path (argv[2], argv[3]);
      printf ("%s\n", p);
      return 0;
    }
  return usage ();
}
