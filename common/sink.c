/* common/sink.c — the file-descriptor and null sinks.  See sink.h. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/io.h"
#include "common/sink.h"
#include "common/xalloc.h"

struct fd_sink
{
  int fd;
  bool close_fd;
  uint64_t bytes;
  uint64_t *bytes_out;
};

static int
fd_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct fd_sink *s = ud;
  if (sw_write_all (s->fd, buf, len) < 0)
    return sw_error_errno (err, "writing to fd %d", s->fd);
  s->bytes += (uint64_t) len;
  if (s->bytes_out)
    *s->bytes_out = s->bytes;
  return 0;
}

static int
fd_finish (void *ud, const char *digest, sw_error **err)
{
  struct fd_sink *s = ud;
  int r = 0;
  if (s->close_fd && close (s->fd) < 0)
    r = sw_error_errno (err, "closing fd %d", s->fd);
  free (s);
  return r;
}

static void
fd_abort (void *ud)
{
  struct fd_sink *s = ud;
  if (s->close_fd)
    close (s->fd);
  free (s);
}

void
sw_sink_fd (sw_sink *out, int fd, bool close_fd, uint64_t *bytes_out)
{
  struct fd_sink *s = sw_xzalloc (sizeof *s);
  s->fd = fd;
  s->close_fd = close_fd;
  s->bytes_out = bytes_out;
  if (bytes_out)
    *bytes_out = 0;
  *out = (sw_sink){ fd_write, fd_finish, fd_abort, s };
}

static int
null_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  return 0;
}

void
sw_sink_null (sw_sink *out)
{
  *out = (sw_sink){ null_write, NULL, NULL, NULL };
}
