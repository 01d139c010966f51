/* emu/set.c — a build's emulation handles, one per foreign platform, made at the first
 * emulated stage of that platform (see emu.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "emu/emu.h"

typedef struct entry
{
  char *platform; /* normalized "os/arch[/variant]" */
  sw_emu *emu;
} entry;

struct sw_emu_set
{
  pthread_mutex_t lock;
  sw_emu_options opts;
  char *qemu_search, *binfmt_dir; /* owned copies of the options' strings */
  sw_platform host;
  bool have_host;
  entry *entries;
  size_t n;
};

sw_emu_set *
sw_emu_set_new (const sw_emu_options *opts)
{
  sw_emu_set *s = sw_xzalloc (sizeof *s);
  pthread_mutex_init (&s->lock, NULL);
  if (opts)
    {
      s->opts = *opts;
      s->qemu_search = opts->qemu_search ? sw_xstrdup (opts->qemu_search) : NULL;
      s->binfmt_dir = opts->binfmt_dir ? sw_xstrdup (opts->binfmt_dir) : NULL;
      s->opts.qemu_search = s->qemu_search;
      s->opts.binfmt_dir = s->binfmt_dir;
    }
  s->host = (sw_platform) SW_PLATFORM_INIT;
  return s;
}

static int
for_stage_locked (sw_emu_set *s, const char *platform, bool has_run, const sw_emu **out, sw_error **err)
{
  cleanup_platform sw_platform target = SW_PLATFORM_INIT;
  bool emulate = false;

  *out = NULL;
  if (!has_run)
    return 0; /* nothing executes: not even the platform's arch matters */
  if (!s->have_host)
    {
      if (sw_platform_host (&s->host, err) < 0)
        return -1;
      s->have_host = true;
    }
  if (sw_platform_parse (platform, &target, err) < 0)
    return -1;
  if (sw_emu_need (&s->host, &target, &emulate, err) < 0)
    return -1;
  if (!emulate)
    return 0;
  cleanup_free char *key = sw_platform_format (&target);
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->entries[i].platform, key) == 0)
      {
        *out = s->entries[i].emu;
        return 0;
      }
  sw_emu *emu = NULL;
  if (sw_emu_prepare (&s->host, &target, &s->opts, &emu, err) < 0)
    return -1;
  s->entries = sw_xreallocarray (s->entries, s->n + 1, sizeof *s->entries);
  s->entries[s->n].platform = steal_pointer (&key);
  s->entries[s->n].emu = emu;
  s->n++;
  *out = emu;
  return 0;
}

int
sw_emu_set_for_stage (sw_emu_set *s, const char *platform, bool has_run, const sw_emu **out, sw_error **err)
{
  pthread_mutex_lock (&s->lock);
  int rc = for_stage_locked (s, platform, has_run, out, err);
  pthread_mutex_unlock (&s->lock);
  return rc;
}

void
sw_emu_set_free (sw_emu_set *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n; i++)
    {
      sw_emu_release (s->entries[i].emu);
      free (s->entries[i].platform);
    }
  free (s->entries);
  sw_platform_clear (&s->host);
  free (s->qemu_search);
  free (s->binfmt_dir);
  pthread_mutex_destroy (&s->lock);
  free (s);
}
