/* A stand-in for the project's request queue: a bounded ring of connection numbers. */
#ifndef QUEUE_H
#define QUEUE_H
#define QUEUE_CAP 64
struct queue { int items[QUEUE_CAP]; int head, tail, len; };
int queue_push (struct queue *q, int fd);
int queue_pop (struct queue *q);
#endif
