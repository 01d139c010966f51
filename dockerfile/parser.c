/* dockerfile/parser.c — BuildKit's frontend/dockerfile/parser, in C.  See ast.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/ast.h"
#include "dockerfile/location.h"

int
sw_dockerfile_parse (const char *text, size_t len, const char *path, sw_dockerfile **out,
                     sw_error **err)
{
  (void) text, (void) len, (void) out;
  return sw_df_error_raw (err, path, 0, 0, NULL, "the Dockerfile parser is not complete yet");
}

int
sw_dockerfile_parse_file (const char *path, sw_dockerfile **out, sw_error **err)
{
  cleanup_close int fd = -1;
  cleanup_free char *data = NULL;
  size_t len = 0, cap = 0;

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "opening Dockerfile %s", path);
  for (;;)
    {
      if (cap - len < 65536)
        {
          cap = cap ? cap * 2 : 65536;
          data = sw_xrealloc (data, cap);
        }
      ssize_t r = read (fd, data + len, cap - len);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return sw_error_errno (err, "reading Dockerfile %s", path);
      if (r == 0)
        break;
      len += (size_t) r;
    }
  return sw_dockerfile_parse (data, len, path, out, err);
}
