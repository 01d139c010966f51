/* common/log.c — see log.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"

static sw_log_level current_level = SW_LOG_WARN;
static sw_log_handler current_handler;
static void *current_userdata;
/* Worker threads (uploads) log too; one message at a time keeps lines whole. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
sw_log_set_level (sw_log_level level)
{
  current_level = level;
}

sw_log_level
sw_log_get_level (void)
{
  return current_level;
}

void
sw_log_set_handler (sw_log_handler handler, void *userdata)
{
  pthread_mutex_lock (&log_lock);
  current_handler = handler;
  current_userdata = userdata;
  pthread_mutex_unlock (&log_lock);
}

void
sw_log (sw_log_level level, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  if (level > current_level)
    return;
  va_start (ap, fmt);
  msg = sw_xvasprintf (fmt, ap);
  va_end (ap);
  pthread_mutex_lock (&log_lock);
  if (current_handler)
    current_handler (level, msg, current_userdata);
  else
    fprintf (stderr, "slipway: %s: %s\n", level_names[level], msg);
  pthread_mutex_unlock (&log_lock);
  free (msg);
}

/* Public (include/slipway.h). */
void
sw_set_log_level (sw_log_level level)
{
  sw_log_set_level (level);
}

const char *
sw_version (void)
{
  return SLIPWAY_VERSION;
}

unsigned
sw_version_num (void)
{
  return SLIPWAY_VERSION_NUM;
}
