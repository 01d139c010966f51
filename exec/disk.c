/* exec/disk.c — the build never fails for want of disk while it holds layers it no longer
 * needs, nor because its platforms and stages wrote at once what fits one after another.
 *
 * Layers: a build keeps each new layer (its upper dir) until the build ends: the cache
 * stores them then.  When the state dir's filesystem runs short, the layers of platforms
 * already exported that are already in the registry — and that no later step can read
 * (each platform runs its stages anew) — are removed.  They are then simply not cached.
 * File outputs (-o oci|docker|tar|local) pack layers again at the end, so with those
 * nothing is removed.
 *
 * The gate: platforms and independent stages run at once, and two steps writing at once
 * need the room of both.  On a state dir with little room (a 600 MiB tmpfs, a small CI
 * disk) a two-platform build whose each platform writes 512 MiB fits only if the first
 * platform's layer is pushed and removed before the second one's is written — one after
 * the other, as before the platforms ran at once.  So every step that writes into the
 * state dir (RUN, COPY, ADD) passes the gate first, and is admitted when the free space
 * covers, each at a guess of what one step writes:
 *   - itself,
 *   - every write already running (admitted, not ended),
 *   - the next write of every platform ahead of its own (lower --platform index, not
 *     exported yet) that is not writing right now: a later platform must not take the
 *     room an earlier one needs to finish, or neither might,
 * plus a margin.  Otherwise it waits (bounded waits: it sees a cancel within 0.25 s) for a
 * write to end or a platform to be exported, whose pushed layers may then go.  Platforms
 * ahead never wait for those behind them: the first platform not exported is admitted as
 * soon as no other write is running, room or not (nothing else would make room; a
 * sequential build would write there too).  So the first platform always progresses,
 * then the next one — no deadlock — and with ample disk nothing waits at all.
 *
 * The guess: the size of a step's output is unknown until it ran, so a write counts as the
 * largest layer this build has made, and at least SW_DISK_WRITE_GUESS.  Over-estimating
 * only costs overlap on a small disk; under-estimating costs the build.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "exec/engine.h"

/* What a step we know nothing about is taken to write: most steps write far less; the
 * ones that write more are seen once one of them has run (the largest layer so far). */
#define SW_DISK_WRITE_GUESS ((uint64_t) 1 << 30)
/* Kept free beyond the guesses: metadata, scratch dirs, the base layers a step extracts. */
#define SW_DISK_MARGIN ((uint64_t) 64 << 20)

static bool
free_space (sw_engine *e, uint64_t *avail, uint64_t *total)
{
  struct statvfs vfs;
  if (statvfs (sw_state_session (e->state), &vfs) < 0)
    return false;
  *avail = (uint64_t) vfs.f_bavail * vfs.f_frsize;
  *total = (uint64_t) vfs.f_blocks * vfs.f_frsize;
  return true;
}

/* Under the hub's lock. */
static uint64_t
write_guess (const sw_engine_hub *h)
{
  uint64_t largest = 0;
  for (size_t i = 0; i < h->n_all_layers; i++)
    if (h->all_layers[i]->built && h->all_layers[i]->size > 0 && (uint64_t) h->all_layers[i]->size > largest)
      largest = (uint64_t) h->all_layers[i]->size;
  largest += largest / 10;
  return largest > SW_DISK_WRITE_GUESS ? largest : SW_DISK_WRITE_GUESS;
}

/* Under the hub's lock: the room e's next write needs (see the top of the file), and
 * whether e's platform is the first not exported (it writes first). */
static uint64_t
room_needed (const sw_engine *e, bool *first)
{
  const sw_engine_hub *h = e->hub;
  size_t ahead = 0;
  *first = true;
  for (size_t p = 0; p < e->platform_index && p < h->n_platforms; p++)
    if (!h->platform_exported[p])
      {
        *first = false;
        ahead += h->platform_writers[p] == 0; /* the running ones are in disk_writers */
      }
  return write_guess (h) * (1 + h->disk_writers + ahead) + SW_DISK_MARGIN;
}

/* Remove the pushed layers of exported platforms while the free space is under want (or
 * under 5% of the filesystem).  True if it removed any. */
static bool
make_room (sw_engine *e, uint64_t avail, uint64_t total, uint64_t want)
{
  bool removed = false;

  if (e->outputs != NULL || (avail >= want && avail >= total / 20))
    return false;
  pthread_mutex_lock (&e->hub->lock);
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    {
      sw_layer *l = e->hub->all_layers[i];
      if (!l->built || !l->retired || l->from_cache || !l->packed || !l->pushed || l->dir == NULL
          || l->cache_upload) /* the cache's upload still reads it */
        continue;
      cleanup_error sw_error *err = NULL;
      sw_info ("disk: %llu MiB free; removing the already pushed layer of %s", (unsigned long long) (avail >> 20),
               l->label ? l->label : l->dir);
      if (sw_rmtree (l->dir, &err) < 0)
        {
          sw_warn ("disk: %s", sw_error_message (err));
          continue;
        }
      free (l->dir);
      l->dir = NULL;
      l->cache_key[0] = '\0'; /* gone: nothing to store */
      removed = true;
    }
  pthread_mutex_unlock (&e->hub->lock);
  return removed;
}

int
sw_engine_disk_enter (sw_engine *e, sw_error **err)
{
  sw_engine_hub *h = e->hub;
  bool said = false;

  for (;;)
    {
      uint64_t avail, total, need;
      bool first;

      if (sw_engine_check_cancelled (e, err) < 0)
        return -1;
      if (!free_space (e, &avail, &total))
        avail = total = UINT64_MAX; /* cannot tell: do not hold the build up */
      pthread_mutex_lock (&h->lock);
      need = room_needed (e, &first);
      pthread_mutex_unlock (&h->lock);
      if (avail < need && make_room (e, avail, total, need) && free_space (e, &avail, &total))
        continue; /* look again with the room made */

      pthread_mutex_lock (&h->lock);
      need = room_needed (e, &first); /* the others moved meanwhile */
      if (avail >= need || (first && h->disk_writers == 0))
        {
          h->disk_writers++;
          h->platform_writers[e->platform_index]++;
          pthread_mutex_unlock (&h->lock);
          return 0;
        }
      if (!said)
        {
          sw_info ("disk: %llu MiB free in the state dir, %llu MiB wanted: a step waits for the writes before it",
                    (unsigned long long) (avail >> 20), (unsigned long long) (need >> 20));
          said = true;
        }
      struct timespec until;
      clock_gettime (CLOCK_REALTIME, &until);
      until.tv_nsec += 250 * 1000 * 1000;
      if (until.tv_nsec >= 1000 * 1000 * 1000)
        {
          until.tv_sec++;
          until.tv_nsec -= 1000 * 1000 * 1000;
        }
      pthread_cond_timedwait (&h->disk_changed, &h->lock, &until);
      pthread_mutex_unlock (&h->lock);
    }
}

void
sw_engine_disk_leave (sw_engine *e)
{
  sw_engine_hub *h = e->hub;
  pthread_mutex_lock (&h->lock);
  h->disk_writers--;
  h->platform_writers[e->platform_index]--;
  pthread_cond_broadcast (&h->disk_changed);
  pthread_mutex_unlock (&h->lock);
}

void
sw_engine_platform_exported (sw_engine *e)
{
  sw_engine_hub *h = e->hub;
  pthread_mutex_lock (&h->lock);
  for (size_t i = 0; i < e->plan->n_stages; i++)
    for (size_t j = 0; j < e->stages[i].n_layers; j++)
      e->stages[i].layers[j]->retired = true;
  h->platform_exported[e->platform_index] = true;
  pthread_cond_broadcast (&h->disk_changed);
  pthread_mutex_unlock (&h->lock);
}
