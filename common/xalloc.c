/* common/xalloc.c — see xalloc.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xalloc.h"

static void __attribute__ ((noreturn))
out_of_memory (void)
{
  static const char msg[] = "slipway: out of memory\n";
  (void) !write (STDERR_FILENO, msg, sizeof msg - 1);
  abort ();
}

void *
sw_xmalloc (size_t size)
{
  void *p = malloc (size ? size : 1);
  if (p == NULL)
    out_of_memory ();
  return p;
}

void *
sw_xzalloc (size_t size)
{
  return sw_xcalloc (1, size);
}

void *
sw_xcalloc (size_t n, size_t size)
{
  void *p = calloc (n ? n : 1, size ? size : 1);
  if (p == NULL)
    out_of_memory ();
  return p;
}

void *
sw_xrealloc (void *p, size_t size)
{
  p = realloc (p, size ? size : 1);
  if (p == NULL)
    out_of_memory ();
  return p;
}

void *
sw_xreallocarray (void *p, size_t n, size_t size)
{
  p = reallocarray (p, n ? n : 1, size ? size : 1);
  if (p == NULL)
    out_of_memory ();
  return p;
}

char *
sw_xstrdup (const char *s)
{
  char *p = strdup (s ? s : "");
  if (p == NULL)
    out_of_memory ();
  return p;
}

char *
sw_xstrndup (const char *s, size_t n)
{
  char *p = strndup (s, n);
  if (p == NULL)
    out_of_memory ();
  return p;
}

char *
sw_xvasprintf (const char *fmt, va_list ap)
{
  char *p;
  if (vasprintf (&p, fmt, ap) < 0)
    out_of_memory ();
  return p;
}

char *
sw_xasprintf (const char *fmt, ...)
{
  va_list ap;
  char *p;
  va_start (ap, fmt);
  p = sw_xvasprintf (fmt, ap);
  va_end (ap);
  return p;
}
