/* A stand-in for gvm-libs' host lists: count the entries of a comma-separated list. */
#include <glib.h>
#include "hosts.h"

unsigned int
gvm_hosts_count (const char *list)
{
  gchar **parts = g_strsplit (list, ",", -1);
  unsigned int n = 0;
  for (gchar **p = parts; *p; p++)
    if (*g_strstrip (*p) != '\0')
      n++;
  g_strfreev (parts);
  return n;
}
