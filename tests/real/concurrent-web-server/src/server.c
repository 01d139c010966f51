/* A stand-in for the project's server: worker threads draining a queue. */
#include <pthread.h>
#include <stdio.h>
#include "queue.h"

static struct queue q;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *
worker (void *arg)
{
  (void) arg;
  for (;;)
    {
      pthread_mutex_lock (&mu);
      int fd = queue_pop (&q);
      pthread_mutex_unlock (&mu);
      if (fd < 0)
        return NULL;
      printf ("served %d\n", fd);
    }
}

int
main (void)
{
  pthread_t t[4];
  for (int i = 0; i < 16; i++)
    queue_push (&q, i);
  for (int i = 0; i < 4; i++)
    pthread_create (&t[i], NULL, worker, NULL);
  for (int i = 0; i < 4; i++)
    pthread_join (t[i], NULL);
  return 0;
}
