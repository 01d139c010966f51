/* Unit tests for exec/workers: every job runs, the queue bound holds, errors surface. */
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

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (all_jobs_run_before_wait_returns),
    cmocka_unit_test (first_error_is_reported),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
