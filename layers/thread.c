/* layers/thread.c — a sink that runs its downstream on a worker thread.
 *
 * The producer fills one buffer of a fixed ring while the worker drains the others, so
 * memory is exactly nbufs*bufsize and the two sides overlap on two cores.  The worker owns
 * the downstream sink until it exits; finish and abort join it first, so the downstream
 * is never touched by two threads at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "layers/sink.h"

struct th_sink
{
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned nbufs;
  size_t bufsize;
  uint8_t **bufs;
  size_t *lens;
  unsigned head, count; /* filled buffers waiting for the worker: head .. head+count-1 */
  size_t fill;          /* bytes in the producer's buffer, bufs[(head+count) % nbufs] */
  bool done, cancel, failed;
  sw_error *werr;
  sw_sink down;
};

static void *
worker (void *arg)
{
  struct th_sink *s = arg;
  pthread_mutex_lock (&s->mu);
  for (;;)
    {
      while (s->count == 0 && !s->done && !s->cancel)
        pthread_cond_wait (&s->cv, &s->mu);
      if (s->cancel || (s->count == 0 && s->done))
        break;
      uint8_t *b = s->bufs[s->head];
      size_t n = s->lens[s->head];
      pthread_mutex_unlock (&s->mu);
      sw_error *e = NULL;
      int r = sw_sink_write (&s->down, b, n, &e);
      pthread_mutex_lock (&s->mu);
      if (r < 0)
        {
          s->failed = true;
          s->werr = e;
          pthread_cond_broadcast (&s->cv);
          break;
        }
      s->head = (s->head + 1) % s->nbufs;
      s->count--;
      pthread_cond_broadcast (&s->cv);
    }
  pthread_mutex_unlock (&s->mu);
  return NULL;
}

static void
th_free (struct th_sink *s)
{
  for (unsigned i = 0; i < s->nbufs; i++)
    free (s->bufs[i]);
  free (s->bufs);
  free (s->lens);
  sw_error_free (s->werr);
  pthread_mutex_destroy (&s->mu);
  pthread_cond_destroy (&s->cv);
  free (s);
}

/* Hand the producer's buffer to the worker; wait for a free one.  Called with mu held. */
static int
submit_locked (struct th_sink *s, sw_error **err)
{
  unsigned slot = (s->head + s->count) % s->nbufs;
  s->lens[slot] = s->fill;
  s->count++;
  s->fill = 0;
  pthread_cond_broadcast (&s->cv);
  while (s->count == s->nbufs && !s->failed)
    pthread_cond_wait (&s->cv, &s->mu);
  if (s->failed)
    {
      sw_error_move (err, &s->werr);
      return -1;
    }
  return 0;
}

static int
th_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct th_sink *s = ud;
  const uint8_t *p = buf;
  while (len > 0)
    {
      unsigned slot = (s->head + s->count) % s->nbufs; /* only the producer changes count up */
      size_t n = s->bufsize - s->fill;
      if (n > len)
        n = len;
      memcpy (s->bufs[slot] + s->fill, p, n);
      s->fill += n;
      p += n;
      len -= n;
      if (s->fill == s->bufsize)
        {
          pthread_mutex_lock (&s->mu);
          int r = submit_locked (s, err);
          pthread_mutex_unlock (&s->mu);
          if (r < 0)
            return -1;
        }
    }
  return 0;
}

static void
th_stop (struct th_sink *s, bool cancel)
{
  pthread_mutex_lock (&s->mu);
  if (cancel)
    s->cancel = true;
  s->done = true;
  pthread_cond_broadcast (&s->cv);
  pthread_mutex_unlock (&s->mu);
  pthread_join (s->tid, NULL);
}

static int
th_finish (void *ud, const char *digest, sw_error **err)
{
  struct th_sink *s = ud;
  int r = 0;
  pthread_mutex_lock (&s->mu);
  if (s->fill > 0 && !s->failed)
    r = submit_locked (s, err);
  else if (s->failed)
    {
      sw_error_move (err, &s->werr);
      r = -1;
    }
  pthread_mutex_unlock (&s->mu);
  th_stop (s, r < 0);
  if (r == 0 && s->failed)
    {
      sw_error_move (err, &s->werr);
      r = -1;
    }
  if (r < 0)
    sw_sink_abort (&s->down);
  else
    r = sw_sink_finish (&s->down, digest, err);
  th_free (s);
  return r;
}

static void
th_abort (void *ud)
{
  struct th_sink *s = ud;
  th_stop (s, true);
  sw_sink_abort (&s->down);
  th_free (s);
}

int
sw_sink_thread (sw_sink *out, sw_sink *down, unsigned nbufs, size_t bufsize, sw_error **err)
{
  if (nbufs < 2)
    nbufs = 2;
  struct th_sink *s = sw_xzalloc (sizeof *s);
  s->nbufs = nbufs;
  s->bufsize = bufsize;
  s->bufs = sw_xcalloc (nbufs, sizeof *s->bufs);
  s->lens = sw_xcalloc (nbufs, sizeof *s->lens);
  for (unsigned i = 0; i < nbufs; i++)
    s->bufs[i] = sw_xmalloc (bufsize);
  pthread_mutex_init (&s->mu, NULL);
  pthread_cond_init (&s->cv, NULL);
  s->down = *down;
  int r = pthread_create (&s->tid, NULL, worker, s);
  if (r != 0)
    {
      s->down = (sw_sink){ 0 };
      th_free (s);
      errno = r;
      return sw_error_errno (err, "starting the layer compression thread");
    }
  *down = (sw_sink){ 0 };
  *out = (sw_sink){ th_write, th_finish, th_abort, s };
  return 0;
}
