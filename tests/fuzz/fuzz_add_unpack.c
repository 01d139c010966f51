/* fuzz_add_unpack — ADD's archive extraction on arbitrary bytes: whatever the archive
 * holds, nothing may appear outside the destination directory (checked after each run
 * against a sibling directory that must stay empty). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "copy/add.h"
#include "copy/copy_int.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
count_entries (const char *path)
{
  DIR *d = opendir (path);
  int n = 0;
  if (!d)
    return -1;
  for (struct dirent *de; (de = readdir (d));)
    if (strcmp (de->d_name, ".") && strcmp (de->d_name, ".."))
      n++;
  closedir (d);
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char top[] = "/tmp/fuzz-unpack.XXXXXX";
  if (!mkdtemp (top))
    abort ();
  char *src = sw_xasprintf ("%s/src", top), *root = sw_xasprintf ("%s/root", top);
  char *canary = sw_xasprintf ("%s/root/canary", top), *cmd = sw_xasprintf ("rm -rf %s", top);
  mkdir (src, 0755);
  mkdir (root, 0755);
  mkdir (canary, 0755);
  char *f = sw_xasprintf ("%s/a.tar", src);
  FILE *fp = fopen (f, "w");
  fwrite (data, 1, size, fp);
  fclose (fp);
  int sfd = open (src, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int rfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  bool is = false;
  sw_error *err = NULL;
  if (sw_add_is_archive (sfd, "/a.tar", &is, &err) == 0 && is)
    sw_add_unpack (sfd, "/a.tar", rfd, "/dest", false, 0, 0, &err);
  sw_error_free (err);
  /* the root holds only "canary" (empty) and "dest"; the top only "src" and "root" */
  if (count_entries (canary) != 0 || count_entries (root) > 2 || count_entries (top) != 2
      || count_entries (src) != 1)
    abort ();
  close (sfd);
  close (rfd);
  if (system (cmd) != 0)
    abort ();
  free (f);
  free (src);
  free (root);
  free (canary);
  free (cmd);
  return 0;
}
