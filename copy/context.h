/* copy/context.h — the build context: its directory and its .dockerignore, opened once per
 * build and handed to every COPY/ADD that reads from it.
 *
 * Guarantees: sw_context_open() fails with a clear message when the directory is missing
 * or not a directory, or when the ignore file exists but cannot be read or parsed (the
 * message names the file); the ignore file is <Dockerfile>.dockerignore when it exists,
 * else DIR/.dockerignore (see copy/dockerignore.h).  The fd is O_PATH|O_DIRECTORY and
 * every read through it goes through RESOLVE_IN_ROOT (copy/copy.h), so a symlink in the
 * context never reaches outside it.
 */
#ifndef SW_EXEC_CONTEXT_H
#define SW_EXEC_CONTEXT_H

#include "common/error.h"
#include "copy/copy.h"
#include "copy/dockerignore.h"

typedef struct sw_context
{
  char *dir;          /* as given */
  int fd;             /* O_PATH directory fd */
  sw_patterns *ignore; /* NULL when there are no patterns */
  char *ignore_file;  /* the file the patterns came from, or NULL */
} sw_context;

/* dockerfile: the Dockerfile's path, or NULL / "-" (stdin). */
int sw_context_open (const char *dir, const char *dockerfile, sw_context **out, sw_error **err);
void sw_context_free (sw_context *c);

/* Point a COPY/ADD at the context: src_root_fd, ignore, src_is_context, src_desc. */
void sw_context_as_source (const sw_context *c, sw_copy_opts *o);

#endif
