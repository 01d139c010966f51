/* exec/workers.c — see workers.h. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "exec/workers.h"

struct job
{
  sw_job_fn fn;
  void *arg;
  void (*free_arg) (void *);
  struct job *next;
};

/* A queue of jobs with its counts and its first error; the pool's lock guards it. */
struct lane
{
  struct job *head, *tail;
  size_t queued, running;
  sw_error *first_error;
};

static bool
lane_busy (const struct lane *l)
{
  return l->queued > 0 || l->running > 0;
}

struct sw_workers
{
  pthread_mutex_t lock;
  pthread_cond_t changed; /* a job was queued, started or finished; or shutdown */
  struct lane foreground; /* bounded by max_queued, served by `threads` */
  struct lane background; /* served by bg_thread (started at its first job) */
  size_t max_queued;
  bool shutdown;
  pthread_t *threads;
  size_t n_threads;
  pthread_t bg_thread;
  bool bg_started;
  sw_log_route *log_route; /* of the thread that made the pool: jobs log there */
};

/* Run job j (the lock is not held) and free it; its error (or NULL). */
static sw_error *
run_job (struct job *j)
{
  sw_error *err = NULL;
  int r = j->fn (j->arg, &err);
  if (j->free_arg)
    j->free_arg (j->arg);
  free (j);
  if (r < 0 && err == NULL)
    sw_error_make (&err, 0, "a background job failed");
  if (r == 0 && err)
    {
      sw_error_free (err);
      err = NULL;
    }
  return err;
}

/* Queue a job on l once fewer than `bound` jobs wait there. */
static void
lane_push (sw_workers *w, struct lane *l, size_t bound, sw_job_fn fn, void *arg, void (*free_arg) (void *))
{
  struct job *j = sw_xzalloc (sizeof *j);
  j->fn = fn;
  j->arg = arg;
  j->free_arg = free_arg;

  pthread_mutex_lock (&w->lock);
  while (l->queued >= bound)
    pthread_cond_wait (&w->changed, &w->lock);
  if (l->tail)
    l->tail->next = j;
  else
    l->head = j;
  l->tail = j;
  l->queued++;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
}

/* Take l's first job, which starts running (the lock is held; l is not empty). */
static struct job *
lane_pop (struct lane *l)
{
  struct job *j = l->head;
  l->head = j->next;
  if (l->head == NULL)
    l->tail = NULL;
  l->queued--;
  l->running++;
  return j;
}

/* Drop l's queued jobs: they will not run (their free_arg is called); a running one
 * finishes. */
static void
lane_drop (sw_workers *w, struct lane *l)
{
  pthread_mutex_lock (&w->lock);
  struct job *j = l->head;
  l->head = l->tail = NULL;
  l->queued = 0;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
  for (struct job *next; j; j = next)
    {
      next = j->next;
      if (j->free_arg)
        j->free_arg (j->arg);
      free (j);
    }
}

/* Wait until every job queued on l so far has run; 0, or -1 with l's first error. */
static int
lane_wait (sw_workers *w, struct lane *l, sw_error **err)
{
  int r = 0;
  pthread_mutex_lock (&w->lock);
  while (lane_busy (l))
    pthread_cond_wait (&w->changed, &w->lock);
  if (l->first_error)
    {
      sw_error_make (err, l->first_error->errnum, "%s", l->first_error->msg);
      sw_error_set_category (err, l->first_error->category);
      r = -1;
    }
  pthread_mutex_unlock (&w->lock);
  return r;
}

/* A worker thread's loop: run l's jobs, each once `yield_to` (if not NULL) is idle, until
 * the pool shuts down. */
static void
serve (sw_workers *w, struct lane *l, const struct lane *yield_to)
{
  sw_log_route_adopt (w->log_route);
  pthread_mutex_lock (&w->lock);
  for (;;)
    {
      while (!w->shutdown && (l->head == NULL || (yield_to && lane_busy (yield_to))))
        pthread_cond_wait (&w->changed, &w->lock);
      if (w->shutdown)
        break;
      struct job *j = lane_pop (l);
      pthread_cond_broadcast (&w->changed); /* a bounded submit may go on */
      pthread_mutex_unlock (&w->lock);

      sw_error *err = run_job (j);

      pthread_mutex_lock (&w->lock);
      if (l->first_error == NULL)
        l->first_error = err; /* the first failure is the one reported */
      else
        sw_error_free (err);
      l->running--;
      pthread_cond_broadcast (&w->changed);
    }
  pthread_mutex_unlock (&w->lock);
}

static void *
foreground_main (void *data)
{
  sw_workers *w = data;
  serve (w, &w->foreground, NULL);
  return NULL;
}

/* The background lane's thread: a job starts only while the foreground is idle. */
static void *
background_main (void *data)
{
  sw_workers *w = data;
  serve (w, &w->background, &w->foreground);
  return NULL;
}

sw_workers *
sw_workers_new (size_t threads, size_t max_queued)
{
  sw_workers *w = sw_xzalloc (sizeof *w);
  pthread_mutex_init (&w->lock, NULL);
  pthread_cond_init (&w->changed, NULL);
  w->max_queued = max_queued ? max_queued : 1;
  w->log_route = sw_log_route_current ();
  w->threads = sw_xcalloc (threads ? threads : 1, sizeof *w->threads);
  for (size_t i = 0; i < (threads ? threads : 1); i++)
    if (pthread_create (&w->threads[w->n_threads], NULL, foreground_main, w) == 0)
      w->n_threads++;
  if (w->n_threads == 0)
    abort (); /* no thread at all: the process is out of resources */
  return w;
}

void
sw_workers_submit (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *))
{
  lane_push (w, &w->foreground, w->max_queued, fn, arg, free_arg);
}

int
sw_workers_wait (sw_workers *w, sw_error **err)
{
  return lane_wait (w, &w->foreground, err);
}

size_t
sw_workers_pending (sw_workers *w)
{
  pthread_mutex_lock (&w->lock);
  size_t n = w->foreground.queued + w->foreground.running;
  pthread_mutex_unlock (&w->lock);
  return n;
}

bool
sw_workers_failed (sw_workers *w)
{
  pthread_mutex_lock (&w->lock);
  bool failed = w->foreground.first_error != NULL;
  pthread_mutex_unlock (&w->lock);
  return failed;
}

void
sw_workers_submit_background (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *))
{
  pthread_mutex_lock (&w->lock);
  if (!w->bg_started)
    {
      if (pthread_create (&w->bg_thread, NULL, background_main, w) != 0)
        abort (); /* the process is out of resources */
      w->bg_started = true;
    }
  pthread_mutex_unlock (&w->lock);
  lane_push (w, &w->background, SIZE_MAX, fn, arg, free_arg);
}

int
sw_workers_wait_background (sw_workers *w, sw_error **err)
{
  return lane_wait (w, &w->background, err);
}

void
sw_workers_drop_background (sw_workers *w)
{
  lane_drop (w, &w->background);
}

void
sw_workers_free (sw_workers *w)
{
  if (w == NULL)
    return;
  /* No job starts once shutdown is set; what has not started is dropped: destroying the
   * pool means the build is over. */
  pthread_mutex_lock (&w->lock);
  w->shutdown = true;
  pthread_mutex_unlock (&w->lock);
  lane_drop (w, &w->foreground);
  lane_drop (w, &w->background);
  for (size_t i = 0; i < w->n_threads; i++)
    pthread_join (w->threads[i], NULL);
  if (w->bg_started)
    pthread_join (w->bg_thread, NULL);
  sw_error_free (w->foreground.first_error);
  sw_error_free (w->background.first_error);
  pthread_mutex_destroy (&w->lock);
  pthread_cond_destroy (&w->changed);
  free (w->threads);
  free (w);
}
