/* common/io.h — writing a whole buffer to an fd.
 *
 * Guarantees: sw_write_all() retries EINTR and partial writes until every byte is written
 * or write(2) fails; it allocates nothing and calls nothing but write(2), so the sandbox's
 * child may use it between clone and exec.
 */
#ifndef SW_COMMON_IO_H
#define SW_COMMON_IO_H

#include <stddef.h>

/* 0 when all len bytes are written; -1 with errno set otherwise (a write of 0 bytes, which
 * a regular file or pipe never returns for len > 0, is reported as EIO rather than looped
 * on). */
int sw_write_all (int fd, const void *buf, size_t len);

#endif
