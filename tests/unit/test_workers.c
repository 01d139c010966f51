/* Unit tests for exec/workers: every job runs, the queue bound holds, errors surface, the
 * background lane waits for the foreground, the pool's end drops what has not started. */
#include <pthread.h>
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

/* Held until `gate_open` is set (bounded: at most 5 s, so a broken pool fails, not hangs). */
static atomic_bool gate_open;

static int
gated_job (void *arg, sw_error **err)
{
  for (int i = 0; i < 5000 && !atomic_load (&gate_open); i++)
    usleep (1000);
  return 0;
}

static atomic_bool fourth_submitted;

static void *
submit_fourth (void *data)
{
  sw_workers_submit (data, count_job, NULL, NULL);
  atomic_store (&fourth_submitted, true);
  return NULL;
}

static void
submit_blocks_at_max_queued (void **state)
{
  sw_workers *w = sw_workers_new (1, 2);
  pthread_t t;
  ran = 0;
  gate_open = fourth_submitted = false;
  sw_workers_submit (w, gated_job, NULL, NULL); /* runs, holding the only thread */
  sw_workers_submit (w, count_job, NULL, NULL);
  sw_workers_submit (w, count_job, NULL, NULL); /* two queued: the bound */
  assert_int_equal (pthread_create (&t, NULL, submit_fourth, w), 0);
  usleep (50000);
  assert_false (atomic_load (&fourth_submitted));
  assert_int_equal (sw_workers_pending (w), 3);
  /* background jobs are not bounded, nor counted by pending */
  for (int i = 0; i < 5; i++)
    sw_workers_submit_background (w, count_job, NULL, NULL);
  assert_int_equal (sw_workers_pending (w), 3);
  atomic_store (&gate_open, true);
  pthread_join (t, NULL);
  assert_true (atomic_load (&fourth_submitted));
  assert_int_equal (sw_workers_wait (w, NULL), 0);
  assert_int_equal (sw_workers_wait_background (w, NULL), 0);
  assert_int_equal (ran, 8);
  sw_workers_free (w);
}

static atomic_int ran_at_bg_start;

static int
record_ran_job (void *arg, sw_error **err)
{
  atomic_store (&ran_at_bg_start, atomic_load (&ran));
  return 0;
}

static void
background_starts_after_queued_foreground (void **state)
{
  sw_workers *w = sw_workers_new (1, 8);
  ran = 0;
  ran_at_bg_start = -1;
  /* one thread: two of these wait in the queue while the background job is submitted */
  for (int i = 0; i < 3; i++)
    sw_workers_submit (w, slow_fg_job, NULL, NULL);
  sw_workers_submit_background (w, record_ran_job, NULL, NULL);
  assert_int_equal (sw_workers_wait_background (w, NULL), 0);
  assert_int_equal (ran_at_bg_start, 3);
  /* a job queued but not yet taken by a worker holds the lane back too: both threads
   * wake at once, and the background one must not win */
  for (int i = 0; i < 300; i++)
    {
      sw_workers_submit (w, count_job, NULL, NULL);
      sw_workers_submit_background (w, record_ran_job, NULL, NULL);
      assert_int_equal (sw_workers_wait_background (w, NULL), 0);
      assert_int_equal (ran_at_bg_start, 4 + i);
    }
  sw_workers_free (w);
}

/* Holds the only thread until the pool's end has dropped the 5 queued jobs' args. */
static int
wait_for_drops_job (void *arg, sw_error **err)
{
  for (int i = 0; i < 5000 && atomic_load (&freed) < 5; i++)
    usleep (1000);
  return 0;
}

static void
free_drops_queued_jobs (void **state)
{
  sw_workers *w = sw_workers_new (1, 8);
  ran = freed = 0;
  sw_workers_submit (w, wait_for_drops_job, NULL, NULL);
  for (int i = 0; i < 3; i++)
    sw_workers_submit (w, count_job, NULL, count_free);
  for (int i = 0; i < 2; i++)
    sw_workers_submit_background (w, count_job, NULL, count_free);
  sw_workers_free (w); /* the running job finishes; the 5 queued ones never run */
  assert_int_equal (freed, 5);
  assert_int_equal (ran, 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (all_jobs_run_before_wait_returns),
    cmocka_unit_test (first_error_is_reported),
    cmocka_unit_test (submit_blocks_at_max_queued),
    cmocka_unit_test (background_runs_behind_the_foreground),
    cmocka_unit_test (background_starts_after_queued_foreground),
    cmocka_unit_test (dropped_background_jobs_never_run),
    cmocka_unit_test (free_drops_queued_jobs),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
