/* fuzz_extract — libFuzzer target for layers/extract (and the decompressor and digest
 * filters in front of it): any byte string pushed into the extract sink must give either
 * success or a clean error, never a crash, a leak, a hang, or a file outside the root.
 *
 * Each input is extracted into ROOT (on /dev/shm when there is one); a sibling OUTSIDE
 * holds one file.  After every input the target checks that the scratch directory holds
 * exactly ROOT and OUTSIDE, that OUTSIDE holds exactly its file, unchanged, then empties
 * ROOT.  A violation aborts (libFuzzer records it as a crash).
 *
 * The first input byte picks options (whiteout mode, chunk size for the writes), the rest
 * is the layer.  Device nodes are refused and the stream is bounded to 64 MiB, so inputs
 * cannot make devices or fill the disk.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "layers/layers.h"

static char scratch[256], root[300], outside[300], victim[320];
static const char victim_text[] = "do not touch\n";

static void
check_outside (void)
{
  DIR *d = opendir (scratch);
  struct dirent *de;
  int n = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (strcmp (de->d_name, "root") != 0 && strcmp (de->d_name, "outside") != 0)
        {
          fprintf (stderr, "fuzz_extract: %s appeared outside the root\n", de->d_name);
          abort ();
        }
      n++;
    }
  closedir (d);
  d = opendir (outside);
  int m = 0;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      m++;
  closedir (d);
  char buf[64] = { 0 };
  int fd = open (victim, O_RDONLY | O_NOFOLLOW);
  ssize_t r = fd >= 0 ? read (fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0)
    close (fd);
  struct stat st;
  if (n != 2 || m != 1 || r != (ssize_t) strlen (victim_text) || strcmp (buf, victim_text) != 0
      || lstat (victim, &st) < 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1
      || (st.st_mode & 07777) != 0644)
    {
      fprintf (stderr, "fuzz_extract: the outside changed\n");
      abort ();
    }
}

static void
remove_scratch (void)
{
  int fd = open (scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && sw_empty_dir_fd (fd) == 0)
    rmdir (scratch);
}

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf (scratch, sizeof scratch, "%s/fuzz-extract-XXXXXX", base);
  if (!mkdtemp (scratch))
    abort ();
  snprintf (root, sizeof root, "%s/root", scratch);
  snprintf (outside, sizeof outside, "%s/outside", scratch);
  snprintf (victim, sizeof victim, "%s/victim", outside);
  if (mkdir (root, 0755) < 0 || mkdir (outside, 0755) < 0)
    abort ();
  FILE *f = fopen (victim, "w");
  fputs (victim_text, f);
  fclose (f);
  chmod (victim, 0644);
  sw_log_set_level (SW_LOG_ERROR);
  atexit (remove_scratch);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  uint8_t opt = data[0];
  data++, size--;
  sw_extract_opts o;
  sw_extract_opts_init (&o);
  o.devices = false;
  o.max_bytes = 64 << 20;
  o.whiteouts = (sw_whiteout_mode) (opt % 3);
  size_t chunk = (opt >> 2) ? (size_t) (opt >> 2) * 97 : size + 1;

  int rfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0)
    abort ();
  sw_sink s;
  sw_error *err = NULL;
  if (sw_layer_extract_sink (&s, rfd, &o, NULL, &err) == 0)
    {
      int r = 0;
      for (size_t off = 0; off < size && r == 0; off += chunk)
        r = sw_sink_write (&s, data + off, size - off < chunk ? size - off : chunk, &err);
      if (r == 0)
        sw_sink_finish (&s, NULL, &err);
      else
        sw_sink_abort (&s);
    }
  sw_error_free (err);
  check_outside ();
  if (sw_empty_dir_fd (rfd) < 0) /* closes rfd */
    {
      perror ("fuzz_extract: cleaning the root");
      abort ();
    }
  return 0;
}
