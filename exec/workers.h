/* exec/workers.h — a small pool of worker threads for the build's background work.
 *
 * The engine packs and uploads each layer here while the next step runs.  Jobs are plain
 * function calls; the pool is bounded (a submit blocks while `max_queued` jobs wait), so a
 * fast producer cannot pile up unbounded work or memory.  The first job that fails keeps its
 * error; later jobs still run (their own cleanup matters), and sw_workers_wait() reports the
 * first error.  Jobs may check sw_workers_failed() to stop early.  Jobs log to the route of
 * the thread that made the pool (common/log.h): a build's messages reach its own thread.
 *
 * Background jobs (sw_workers_submit_background) are work that must not slow the
 * foreground's: they run on a thread of their own, one at a time, and one starts only while
 * no foreground job waits or runs — so every foreground job submitted before a background
 * one has finished when it starts (the cache upload of a layer finds the layer's own pack
 * job done).  sw_workers_wait(), sw_workers_pending() and sw_workers_failed() are about
 * foreground jobs only; sw_workers_wait_background() waits for the background ones and
 * reports their first error.
 */
#ifndef SW_EXEC_WORKERS_H
#define SW_EXEC_WORKERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct sw_workers sw_workers;
typedef int (*sw_job_fn) (void *arg, sw_error **err);

sw_workers *sw_workers_new (size_t threads, size_t max_queued);
/* Queue fn(arg).  free_arg, if not NULL, is called on arg after the job ran (or if it
 * never runs: it was dropped, or the pool is being destroyed). */
void sw_workers_submit (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *));
/* Wait until every job submitted so far has run; 0, or -1 with the first job's error. */
int sw_workers_wait (sw_workers *w, sw_error **err);
/* Jobs queued or running right now. */
size_t sw_workers_pending (sw_workers *w);
/* True once any job has failed. */
bool sw_workers_failed (sw_workers *w);
/* Queue fn(arg) in the background lane (see above); free_arg as for sw_workers_submit.
 * Never blocks: the lane is not bounded (its jobs are few: one a layer). */
void sw_workers_submit_background (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *));
/* Wait until every background job submitted so far has run (or was dropped); 0, or -1
 * with the first background job's error. */
int sw_workers_wait_background (sw_workers *w, sw_error **err);
/* Drop the background jobs that have not started (the build failed: their work is no
 * longer wanted), calling their free_arg; the running one finishes. */
void sw_workers_drop_background (sw_workers *w);
/* Waits for running jobs, drops queued ones (background ones too), frees the pool. */
void sw_workers_free (sw_workers *w);

#endif
