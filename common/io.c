/* common/io.c — see io.h. */
#include <errno.h>
#include <unistd.h>

#include "common/io.h"

int
sw_write_all (int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        {
          errno = EIO;
          return -1;
        }
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

int
sw_read_all (int fd, size_t max, sw_buf *out)
{
  char chunk[8192];
  size_t got = 0;
  for (;;)
    {
      ssize_t n = read (fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        return 0;
      if (got + (size_t) n > max)
        {
          errno = EFBIG;
          return -1;
        }
      got += (size_t) n;
      sw_buf_append (out, chunk, (size_t) n);
    }
}
