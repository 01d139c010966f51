/* common/cleanup.h — scoped resources through __attribute__((cleanup)).
 *
 *   cleanup_free char *s = sw_xstrdup ("x");   freed when s leaves scope
 *   cleanup_close int fd = open (...);          closed when fd leaves scope (if >= 0)
 *   return steal_pointer (&s);                   hand ownership out, scope frees nothing
 */
#ifndef SW_COMMON_CLEANUP_H
#define SW_COMMON_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strv.h"

static inline void
sw_cleanup_freep (void *p)
{
  void **pp = (void **) p;
  free (*pp);
}

static inline void
sw_cleanup_closep (int *fd)
{
  if (*fd >= 0)
    {
      int saved = errno; /* closing must not clobber the errno a caller reports */
      close (*fd);
      errno = saved;
    }
}

static inline void
sw_cleanup_fclosep (FILE **f)
{
  if (*f)
    fclose (*f);
}

static inline void
sw_cleanup_closedirp (DIR **d)
{
  if (*d)
    closedir (*d);
}

static inline void
sw_cleanup_errorp (sw_error **e)
{
  sw_error_free (*e);
}

/* A NULL-terminated array of strings, every element owned. */
static inline void
sw_cleanup_strvp (char ***v)
{
  sw_strlist_free (*v);
}

#define cleanup_free __attribute__ ((cleanup (sw_cleanup_freep)))
#define cleanup_close __attribute__ ((cleanup (sw_cleanup_closep)))
#define cleanup_file __attribute__ ((cleanup (sw_cleanup_fclosep)))
#define cleanup_dir __attribute__ ((cleanup (sw_cleanup_closedirp)))
#define cleanup_error __attribute__ ((cleanup (sw_cleanup_errorp)))
#define cleanup_strv __attribute__ ((cleanup (sw_cleanup_strvp)))

static inline void *
sw_steal_pointer (void *pp)
{
  void **p = (void **) pp;
  void *v = *p;
  *p = NULL;
  return v;
}
#define steal_pointer(pp) sw_steal_pointer (pp)

static inline int
sw_steal_fd (int *fd)
{
  int v = *fd;
  *fd = -1;
  return v;
}

#endif
