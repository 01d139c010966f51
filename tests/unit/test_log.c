/* Unit tests for common/log: where messages go.  Inside a route, messages of other threads
 * wait for the route's thread and arrive there in order; outside, the process handler gets
 * them; with neither, the library prints nothing (stderr stays empty). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "exec/workers.h"

struct seen
{
  char text[16][128];
  sw_log_level level[16];
  pthread_t thread[16];
  int n;
};

static void
record (sw_log_level level, const char *msg, void *userdata)
{
  struct seen *s = userdata;
  if (s->n < 16)
    {
      snprintf (s->text[s->n], sizeof s->text[s->n], "%s", msg);
      s->level[s->n] = level;
      s->thread[s->n] = pthread_self ();
      s->n++;
    }
}

static int
warn_job (void *arg, sw_error **err)
{
  sw_warn ("from a worker: %s", (const char *) arg);
  return 0;
}

static void *
warn_thread (void *arg)
{
  sw_warn ("from a plain thread");
  return NULL;
}

static void
worker_messages_reach_the_route_thread_in_order (void **state)
{
  struct seen s = { 0 };
  sw_log_route *r = sw_log_route_open (record, &s);

  sw_warn ("first");
  assert_int_equal (s.n, 1); /* the route's own thread: at once */
  sw_workers *w = sw_workers_new (2, 4);
  sw_workers_submit (w, warn_job, "a", NULL);
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  sw_workers_submit (w, warn_job, "b", NULL);
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  pthread_t t;
  assert_int_equal (pthread_create (&t, NULL, warn_thread, NULL), 0);
  pthread_join (t, NULL);
  assert_int_equal (s.n, 1); /* queued, not delivered on the other threads */

  sw_log_route_drain (r);
  assert_int_equal (s.n, 4);
  assert_string_equal (s.text[1], "from a worker: a");
  assert_string_equal (s.text[2], "from a worker: b");
  assert_string_equal (s.text[3], "from a plain thread");
  for (int i = 0; i < s.n; i++)
    {
      assert_int_equal (s.level[i], SW_LOG_WARN);
      assert_true (pthread_equal (s.thread[i], pthread_self ()));
    }

  /* a message logged after a queued one comes after it */
  sw_workers_submit (w, warn_job, "c", NULL);
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  sw_warn ("last");
  assert_int_equal (s.n, 6);
  assert_string_equal (s.text[4], "from a worker: c");
  assert_string_equal (s.text[5], "last");
  sw_workers_free (w);
  sw_log_route_close (r);
}

static void
close_delivers_what_is_left (void **state)
{
  struct seen s = { 0 };
  sw_log_route *r = sw_log_route_open (record, &s);
  pthread_t t;
  assert_int_equal (pthread_create (&t, NULL, warn_thread, NULL), 0);
  pthread_join (t, NULL);
  assert_int_equal (s.n, 0);
  sw_log_route_close (r);
  assert_int_equal (s.n, 1);
  assert_null (sw_log_route_current ());
}

static void
outside_a_route_the_process_handler_gets_messages (void **state)
{
  struct seen s = { 0 };
  sw_set_log_callback (record, &s);
  sw_warn ("no build");
  sw_debug ("below the level");
  pthread_t t;
  assert_int_equal (pthread_create (&t, NULL, warn_thread, NULL), 0);
  pthread_join (t, NULL);
  assert_int_equal (s.n, 2);
  assert_string_equal (s.text[0], "no build");
  assert_string_equal (s.text[1], "from a plain thread");
  sw_set_log_callback (NULL, NULL);
  sw_warn ("dropped");
  assert_int_equal (s.n, 2);
}

static void
nothing_reaches_stderr (void **state)
{
  char path[] = "/tmp/test_log_stderr_XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  fflush (stderr);
  int saved = dup (2);
  dup2 (fd, 2);

  sw_set_log_callback (NULL, NULL);
  sw_log_set_level (SW_LOG_DEBUG);
  sw_error_log ("an error");
  sw_warn ("a warning");
  sw_debug ("a debug line");
  struct seen s = { 0 };
  sw_log_route *r = sw_log_route_open (record, &s);
  pthread_t t;
  pthread_create (&t, NULL, warn_thread, NULL);
  pthread_join (t, NULL);
  sw_log_route_close (r);
  sw_log_set_level (SW_LOG_WARN);

  fflush (stderr);
  dup2 (saved, 2);
  close (saved);
  struct stat st;
  assert_int_equal (fstat (fd, &st), 0);
  close (fd);
  unlink (path);
  assert_int_equal (st.st_size, 0);
  assert_int_equal (s.n, 1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (worker_messages_reach_the_route_thread_in_order),
    cmocka_unit_test (close_delivers_what_is_left),
    cmocka_unit_test (outside_a_route_the_process_handler_gets_messages),
    cmocka_unit_test (nothing_reaches_stderr),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
