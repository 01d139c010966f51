/* common/error.c — see error.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"

int
sw_error_makev (sw_error **err, int errnum, const char *fmt, va_list ap)
{
  char *msg;

  if (err == NULL)
    return -1;
  msg = sw_xvasprintf (fmt, ap);
  if (*err != NULL)
    {
      /* A second error while one is pending: keep both rather than lose either. */
      char *joined = sw_xasprintf ("%s; %s", (*err)->msg, msg);
      free (msg);
      free ((*err)->msg);
      (*err)->msg = joined;
      return -1;
    }
  *err = sw_xmalloc (sizeof **err);
  (*err)->errnum = errnum;
  (*err)->msg = msg;
  (*err)->category = errnum == ECANCELED ? SW_ERR_CANCELLED : SW_ERR_INTERNAL;
  return -1;
}

int
sw_error_make (sw_error **err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  sw_error_makev (err, errnum, fmt, ap);
  va_end (ap);
  return -1;
}

int
sw_error_errno (sw_error **err, const char *fmt, ...)
{
  int saved = errno;
  char *what;
  va_list ap;

  va_start (ap, fmt);
  what = sw_xvasprintf (fmt, ap);
  va_end (ap);
  sw_error_make (err, saved, "%s: %s", what, strerror (saved));
  sw_error_set_category (err, SW_ERR_IO);
  free (what);
  errno = saved;
  return -1;
}

int
sw_error_wrap (sw_error **err, const char *fmt, ...)
{
  char *context, *joined;
  va_list ap;

  if (err == NULL)
    return -1;
  va_start (ap, fmt);
  context = sw_xvasprintf (fmt, ap);
  va_end (ap);
  if (*err == NULL)
    {
      sw_error_make (err, 0, "%s", context);
      free (context);
      return -1;
    }
  joined = sw_xasprintf ("%s: %s", context, (*err)->msg);
  free (context);
  free ((*err)->msg);
  (*err)->msg = joined;
  return -1;
}

int
sw_error_set_category (sw_error **err, sw_error_category cat)
{
  if (err && *err && (*err)->category == SW_ERR_INTERNAL)
    (*err)->category = cat;
  return -1;
}

void
sw_error_move (sw_error **dst, sw_error **src)
{
  if (dst == NULL)
    {
      sw_error_free (*src);
    }
  else if (*dst != NULL)
    {
      sw_error_make (dst, (*src)->errnum, "%s", (*src)->msg);
      sw_error_set_category (dst, (*src)->category);
      sw_error_free (*src);
    }
  else
    *dst = *src;
  *src = NULL;
}

/* Public accessors (include/slipway.h). */

const char *
sw_error_message (const sw_error *err)
{
  return err ? err->msg : "";
}

int
sw_error_code (const sw_error *err)
{
  return err ? err->errnum : 0;
}

sw_error_category
sw_error_category_of (const sw_error *err)
{
  return err ? err->category : SW_ERR_INTERNAL;
}

void
sw_error_free (sw_error *err)
{
  if (err == NULL)
    return;
  free (err->msg);
  free (err);
}
