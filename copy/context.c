/* copy/context.c — the build context directory and its ignore patterns. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "copy/context.h"

int
sw_context_open (const char *dir, const char *dockerfile, sw_context **out, sw_error **err)
{
  *out = NULL;
  int fd = open (dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return sw_error_make (err, ENOENT, "unable to prepare context: path \"%s\" not found", dir);
      if (errno == ENOTDIR)
        return sw_error_make (err, ENOTDIR,
                              "unable to prepare context: \"%s\" is not a directory", dir);
      return sw_error_errno (err, "unable to prepare context: %s", dir);
    }
  sw_context *c = sw_xzalloc (sizeof *c);
  c->dir = sw_xstrdup (dir);
  c->fd = fd;
  if (sw_dockerignore_load (dir, dockerfile, &c->ignore, &c->ignore_file, err) < 0)
    {
      sw_context_free (c);
      return -1;
    }
  *out = c;
  return 0;
}

void
sw_context_free (sw_context *c)
{
  if (!c)
    return;
  if (c->fd >= 0)
    close (c->fd);
  sw_patterns_free (c->ignore);
  free (c->ignore_file);
  free (c->dir);
  free (c);
}

void
sw_context_as_source (const sw_context *c, sw_copy_opts *o)
{
  o->src_root_fd = c->fd;
  o->ignore = c->ignore;
  o->src_is_context = true;
  o->src_desc = "build context";
}
