#include "queue.h"

int
queue_push (struct queue *q, int fd)
{
  if (q->len == QUEUE_CAP)
    return -1;
  q->items[q->tail] = fd;
  q->tail = (q->tail + 1) % QUEUE_CAP;
  q->len++;
  return 0;
}

int
queue_pop (struct queue *q)
{
  if (q->len == 0)
    return -1;
  int fd = q->items[q->head];
  q->head = (q->head + 1) % QUEUE_CAP;
  q->len--;
  return fd;
}
