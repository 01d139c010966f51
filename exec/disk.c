/* exec/disk.c — the build never fails for want of disk while it holds layers it no longer
 * needs.
 *
 * A multi-platform build keeps each platform's new layers (their upper dirs) until the
 * build ends: the cache stores them then.  When the state dir's filesystem runs short,
 * the layers of platforms already finished that are already in the registry — and that no
 * later step can read (each platform runs its stages anew) — are removed before the next
 * step writes.  They are then simply not cached.  File outputs (-o oci|docker|tar|local)
 * pack layers again at the end, so with those nothing is removed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "exec/engine.h"

/* Short: less free space than the largest layer this build made (the best guess of the
 * next one) plus a margin, or under 5% of the filesystem. */
static bool
disk_short (sw_engine *e, uint64_t *avail)
{
  struct statvfs vfs;
  uint64_t largest = 0;

  if (statvfs (sw_state_session (e->state), &vfs) < 0)
    return false;
  *avail = (uint64_t) vfs.f_bavail * vfs.f_frsize;
  pthread_mutex_lock (&e->hub->lock); /* other stages add layers meanwhile */
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    if (e->hub->all_layers[i]->built && e->hub->all_layers[i]->size > 0 && (uint64_t) e->hub->all_layers[i]->size > largest)
      largest = (uint64_t) e->hub->all_layers[i]->size;
  pthread_mutex_unlock (&e->hub->lock);
  uint64_t want = largest + largest / 10 + (64u << 20);
  uint64_t five_percent = (uint64_t) vfs.f_blocks * vfs.f_frsize / 20;
  return *avail < want || *avail < five_percent;
}

void
sw_engine_make_room (sw_engine *e)
{
  uint64_t avail = 0;

  if (e->outputs != NULL || !disk_short (e, &avail))
    return;
  pthread_mutex_lock (&e->hub->lock);
  for (size_t i = 0; i < e->hub->n_all_layers; i++)
    {
      sw_layer *l = e->hub->all_layers[i];
      if (!l->built || !l->retired || l->from_cache || !l->packed || !l->pushed || l->dir == NULL)
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
    }
  pthread_mutex_unlock (&e->hub->lock);
}
