/* Unit tests for exec/workers: every job runs, the queue bound holds, errors surface, the
 * background lane waits for the foreground. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/workers.h"

static atomic_int ran;
static atomic_int freed;

static int
count_job (void *arg, sw_error **err)
{
  usleep (1000);
  atomic_fetch_add (&ran, 1);
  return 0;
}

static int
failing_job (void *arg, sw_error **err)
{
  return sw_error_make (err, 0, "job %d failed", *(int *) arg);
}

static void
count_free (void *arg)
{
  atomic_fetch_add (&freed, 1);
}

static void
all_jobs_run_before_wait_returns (void **state)
{
  sw_workers *w = sw_workers_new (2, 3);
  ran = 0;
  freed = 0;
  for (int i = 0; i < 50; i++)
    sw_workers_submit (w, count_job, NULL, count_free);
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  assert_int_equal (ran, 50);
  assert_int_equal (freed, 50);
  assert_false (sw_workers_failed (w));
  sw_workers_free (w);
}

static void
first_error_is_reported (void **state)
{
  sw_workers *w = sw_workers_new (1, 4);
  static int one = 1, two = 2;
  sw_error *err = NULL;
  ran = 0;
  sw_workers_submit (w, failing_job, &one, NULL);
  sw_workers_submit (w, failing_job, &two, NULL);
  sw_workers_submit (w, count_job, NULL, NULL);
  assert_int_equal (sw_workers_wait (w, &err), -1);
  assert_string_equal (sw_error_message (err), "job 1 failed");
  assert_int_equal (ran, 1); /* later jobs still ran */
  assert_true (sw_workers_failed (w));
  sw_error_free (err);
  sw_workers_free (w);
}

static atomic_int fg_running;
static atomic_int bg_saw_fg_running;

static int
slow_fg_job (void *arg, sw_error **err)
{
  atomic_fetch_add (&fg_running, 1);
  usleep (20000);
  atomic_fetch_add (&ran, 1);
  atomic_fetch_sub (&fg_running, 1);
  return 0;
}

static int
bg_job (void *arg, sw_error **err)
{
  if (atomic_load (&fg_running) > 0)
    atomic_fetch_add (&bg_saw_fg_running, 1);
  usleep (5000);
  atomic_fetch_add (&freed, 1); /* counts background runs here */
  return arg ? sw_error_make (err, 0, "background job %d failed", *(int *) arg) : 0;
}

static void
background_runs_behind_the_foreground (void **state)
{
  sw_workers *w = sw_workers_new (2, 8);
  static int three = 3;
  sw_error *err = NULL;
  ran = freed = fg_running = bg_saw_fg_running = 0;
  /* each background job comes right after a foreground one: it starts only once the
   * foreground is idle, so after the job queued before it */
  for (int i = 0; i < 5; i++)
    {
      sw_workers_submit (w, slow_fg_job, NULL, NULL);
      sw_workers_submit_background (w, bg_job, i == 2 ? &three : NULL, NULL);
    }
  assert_int_equal (sw_workers_wait (w, NULL), 0); /* not about the background's error */
  assert_int_equal (ran, 5);
  assert_false (sw_workers_failed (w));
  assert_int_equal (sw_workers_wait_background (w, &err), -1);
  assert_string_equal (sw_error_message (err), "background job 3 failed");
  assert_int_equal (freed, 5);
  assert_int_equal (bg_saw_fg_running, 0);
  sw_error_free (err);
  sw_workers_free (w);
}

static void
dropped_background_jobs_never_run (void **state)
{
  sw_workers *w = sw_workers_new (1, 8);
  ran = freed = 0;
  sw_workers_submit (w, slow_fg_job, NULL, NULL); /* holds the background lane back */
  for (int i = 0; i < 4; i++)
    sw_workers_submit_background (w, bg_job, NULL, count_free);
  sw_workers_drop_background (w);
  assert_int_equal (sw_workers_wait_background (w, NULL), 0);
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  /* count_free counted the 4 dropped jobs' args; none of them ran (bg_job counts too) */
  assert_int_equal (freed, 4);
  sw_workers_free (w);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (all_jobs_run_before_wait_returns),
    cmocka_unit_test (first_error_is_reported),
    cmocka_unit_test (background_runs_behind_the_foreground),
    cmocka_unit_test (dropped_background_jobs_never_run),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
