/* common/log.c — see log.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"

static _Atomic sw_log_level current_level = SW_LOG_WARN;

/* The process-wide handler; `deliver_lock` keeps its calls one at a time. */
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t deliver_lock = PTHREAD_MUTEX_INITIALIZER;
static sw_log_handler process_handler;
static void *process_userdata;

struct queued
{
  sw_log_level level;
  char *msg;
  struct queued *next;
};

struct sw_log_route
{
  sw_log_handler handler;
  void *userdata;
  pthread_t owner;
  struct queued *head, *tail; /* under routes_lock */
  struct sw_log_route *prev;  /* the route opened before this one, still open */
};

/* Every open route, newest first; guards their queues too. */
static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;
static sw_log_route *newest_route;
static _Thread_local sw_log_route *thread_route;

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
  pthread_mutex_lock (&handler_lock);
  process_handler = handler;
  process_userdata = userdata;
  pthread_mutex_unlock (&handler_lock);
}

void
sw_set_log_callback (sw_log_handler handler, void *userdata)
{
  sw_log_set_handler (handler, userdata);
}

static struct queued *
take_queue (sw_log_route *r)
{
  pthread_mutex_lock (&routes_lock);
  struct queued *q = r->head;
  r->head = r->tail = NULL;
  pthread_mutex_unlock (&routes_lock);
  return q;
}

void
sw_log_route_drain (sw_log_route *r)
{
  if (r == NULL || !pthread_equal (r->owner, pthread_self ()))
    return;
  for (struct queued *q = take_queue (r), *next; q; q = next)
    {
      next = q->next;
      r->handler (q->level, q->msg, r->userdata);
      free (q->msg);
      free (q);
    }
}

sw_log_route *
sw_log_route_open (sw_log_handler handler, void *userdata)
{
  sw_log_route *r = sw_xzalloc (sizeof *r);
  r->handler = handler;
  r->userdata = userdata;
  r->owner = pthread_self ();
  pthread_mutex_lock (&routes_lock);
  r->prev = newest_route;
  newest_route = r;
  pthread_mutex_unlock (&routes_lock);
  thread_route = r;
  return r;
}

void
sw_log_route_close (sw_log_route *r)
{
  if (r == NULL)
    return;
  sw_log_route_drain (r);
  pthread_mutex_lock (&routes_lock);
  for (sw_log_route **p = &newest_route; *p; p = &(*p)->prev)
    if (*p == r)
      {
        *p = r->prev;
        break;
      }
  /* A message queued after the drain above (a thread that outlived the build) is dropped
   * with the route: there is no caller left to deliver it to. */
  for (struct queued *q = r->head, *next; q; q = next)
    {
      next = q->next;
      free (q->msg);
      free (q);
    }
  pthread_mutex_unlock (&routes_lock);
  if (thread_route == r)
    thread_route = NULL;
  free (r);
}

sw_log_route *
sw_log_route_current (void)
{
  return thread_route;
}

void
sw_log_route_adopt (sw_log_route *r)
{
  thread_route = r;
}

/* Queue msg on the route this thread logs to; false when there is none. */
static bool
enqueue (sw_log_level level, char *msg)
{
  pthread_mutex_lock (&routes_lock);
  sw_log_route *r = thread_route ? thread_route : newest_route;
  if (r == NULL)
    {
      pthread_mutex_unlock (&routes_lock);
      return false;
    }
  struct queued *q = sw_xzalloc (sizeof *q);
  q->level = level;
  q->msg = msg;
  if (r->tail)
    r->tail->next = q;
  else
    r->head = q;
  r->tail = q;
  pthread_mutex_unlock (&routes_lock);
  return true;
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

  sw_log_route *own = thread_route;
  if (own && pthread_equal (own->owner, pthread_self ()))
    {
      sw_log_route_drain (own); /* what workers said first comes first */
      own->handler (level, msg, own->userdata);
      free (msg);
      return;
    }
  if (enqueue (level, msg))
    return;

  pthread_mutex_lock (&handler_lock);
  sw_log_handler h = process_handler;
  void *ud = process_userdata;
  pthread_mutex_unlock (&handler_lock);
  if (h)
    {
      pthread_mutex_lock (&deliver_lock);
      h (level, msg, ud);
      pthread_mutex_unlock (&deliver_lock);
    }
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
