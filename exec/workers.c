/* exec/workers.c — see workers.h. */
#include <pthread.h>
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

struct sw_workers
{
  pthread_mutex_t lock;
  pthread_cond_t changed; /* a job was queued, started or finished; or shutdown */
  struct job *head, *tail;
  size_t queued, running, max_queued;
  bool shutdown;
  sw_error *first_error;
  pthread_t *threads;
  size_t n_threads;
  /* the background lane: its own queue and thread (started at its first job) */
  struct job *bg_head, *bg_tail;
  size_t bg_queued, bg_running;
  sw_error *bg_first_error;
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

static void
keep_first (sw_error **first, sw_error *err)
{
  if (err == NULL)
    return;
  if (*first == NULL)
    *first = err;
  else
    sw_error_free (err);
}

static void *
worker_main (void *data)
{
  sw_workers *w = data;

  sw_log_route_adopt (w->log_route);
  pthread_mutex_lock (&w->lock);
  for (;;)
    {
      while (w->head == NULL && !w->shutdown)
        pthread_cond_wait (&w->changed, &w->lock);
      if (w->head == NULL)
        break;
      struct job *j = w->head;
      w->head = j->next;
      if (w->head == NULL)
        w->tail = NULL;
      w->queued--;
      w->running++;
      pthread_cond_broadcast (&w->changed);
      pthread_mutex_unlock (&w->lock);

      sw_error *err = run_job (j);

      pthread_mutex_lock (&w->lock);
      keep_first (&w->first_error, err);
      w->running--;
      pthread_cond_broadcast (&w->changed);
    }
  pthread_mutex_unlock (&w->lock);
  return NULL;
}

/* The background lane's thread: a job starts only while the foreground is idle. */
static void *
background_main (void *data)
{
  sw_workers *w = data;

  sw_log_route_adopt (w->log_route);
  pthread_mutex_lock (&w->lock);
  for (;;)
    {
      while (!w->shutdown && (w->bg_head == NULL || w->queued > 0 || w->running > 0))
        pthread_cond_wait (&w->changed, &w->lock);
      if (w->shutdown)
        break;
      struct job *j = w->bg_head;
      w->bg_head = j->next;
      if (w->bg_head == NULL)
        w->bg_tail = NULL;
      w->bg_queued--;
      w->bg_running++;
      pthread_mutex_unlock (&w->lock);

      sw_error *err = run_job (j);

      pthread_mutex_lock (&w->lock);
      keep_first (&w->bg_first_error, err);
      w->bg_running--;
      pthread_cond_broadcast (&w->changed);
    }
  pthread_mutex_unlock (&w->lock);
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
    if (pthread_create (&w->threads[w->n_threads], NULL, worker_main, w) == 0)
      w->n_threads++;
  if (w->n_threads == 0)
    abort (); /* no thread at all: the process is out of resources */
  return w;
}

void
sw_workers_submit (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *))
{
  struct job *j = sw_xzalloc (sizeof *j);
  j->fn = fn;
  j->arg = arg;
  j->free_arg = free_arg;

  pthread_mutex_lock (&w->lock);
  while (w->queued >= w->max_queued)
    pthread_cond_wait (&w->changed, &w->lock);
  if (w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  w->queued++;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
}

int
sw_workers_wait (sw_workers *w, sw_error **err)
{
  int r = 0;
  pthread_mutex_lock (&w->lock);
  while (w->queued > 0 || w->running > 0)
    pthread_cond_wait (&w->changed, &w->lock);
  if (w->first_error)
    {
      sw_error_make (err, w->first_error->errnum, "%s", w->first_error->msg);
      sw_error_set_category (err, w->first_error->category);
      r = -1;
    }
  pthread_mutex_unlock (&w->lock);
  return r;
}

void
sw_workers_submit_background (sw_workers *w, sw_job_fn fn, void *arg, void (*free_arg) (void *))
{
  struct job *j = sw_xzalloc (sizeof *j);
  j->fn = fn;
  j->arg = arg;
  j->free_arg = free_arg;

  pthread_mutex_lock (&w->lock);
  if (!w->bg_started)
    {
      if (pthread_create (&w->bg_thread, NULL, background_main, w) != 0)
        abort (); /* the process is out of resources */
      w->bg_started = true;
    }
  if (w->bg_tail)
    w->bg_tail->next = j;
  else
    w->bg_head = j;
  w->bg_tail = j;
  w->bg_queued++;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
}

int
sw_workers_wait_background (sw_workers *w, sw_error **err)
{
  int r = 0;
  pthread_mutex_lock (&w->lock);
  while (w->bg_queued > 0 || w->bg_running > 0)
    pthread_cond_wait (&w->changed, &w->lock);
  if (w->bg_first_error)
    {
      sw_error_make (err, w->bg_first_error->errnum, "%s", w->bg_first_error->msg);
      sw_error_set_category (err, w->bg_first_error->category);
      r = -1;
    }
  pthread_mutex_unlock (&w->lock);
  return r;
}

/* Free a list of jobs that will not run. */
static void
drop_jobs (struct job *head)
{
  for (struct job *j = head, *next; j; j = next)
    {
      next = j->next;
      if (j->free_arg)
        j->free_arg (j->arg);
      free (j);
    }
}

void
sw_workers_drop_background (sw_workers *w)
{
  pthread_mutex_lock (&w->lock);
  struct job *head = w->bg_head;
  w->bg_head = w->bg_tail = NULL;
  w->bg_queued = 0;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
  drop_jobs (head);
}

size_t
sw_workers_pending (sw_workers *w)
{
  pthread_mutex_lock (&w->lock);
  size_t n = w->queued + w->running;
  pthread_mutex_unlock (&w->lock);
  return n;
}

bool
sw_workers_failed (sw_workers *w)
{
  pthread_mutex_lock (&w->lock);
  bool failed = w->first_error != NULL;
  pthread_mutex_unlock (&w->lock);
  return failed;
}

void
sw_workers_free (sw_workers *w)
{
  if (w == NULL)
    return;
  pthread_mutex_lock (&w->lock);
  /* Drop what has not started: destroying the pool means the build is over. */
  struct job *head = w->head, *bg_head = w->bg_head;
  w->head = w->tail = w->bg_head = w->bg_tail = NULL;
  w->queued = w->bg_queued = 0;
  w->shutdown = true;
  pthread_cond_broadcast (&w->changed);
  pthread_mutex_unlock (&w->lock);
  drop_jobs (head);
  drop_jobs (bg_head);
  for (size_t i = 0; i < w->n_threads; i++)
    pthread_join (w->threads[i], NULL);
  if (w->bg_started)
    pthread_join (w->bg_thread, NULL);
  sw_error_free (w->first_error);
  sw_error_free (w->bg_first_error);
  pthread_mutex_destroy (&w->lock);
  pthread_cond_destroy (&w->changed);
  free (w->threads);
  free (w);
}
