/* common/io.h — writing a whole buffer to an fd.
 *
 * Guarantees: sw_write_all() retries EINTR and partial writes until every byte is written
 * or write(2) fails; it allocates nothing and calls nothing but write(2), so the sandbox's
 * child may use it between clone and exec.  sw_read_all() reads to the end of a small file
 * (a Dockerfile, .dockerignore, /etc/passwd) with a size bound, so a huge or endless
 * input fails instead of filling memory.
 */
#ifndef SW_COMMON_IO_H
#define SW_COMMON_IO_H

#include <stddef.h>

#include "common/buf.h"

/* 0 when all len bytes are written; -1 with errno set otherwise (a write of 0 bytes, which
 * a regular file or pipe never returns for len > 0, is reported as EIO rather than looped
 * on). */
int sw_write_all (int fd, const void *buf, size_t len);

/* Append everything fd has, up to its end, to out.  0, or -1 with errno set: EFBIG when
 * there is more than max bytes (out then holds what was read). */
int sw_read_all (int fd, size_t max, sw_buf *out);

#endif
