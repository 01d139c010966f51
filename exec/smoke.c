/* exec/smoke.c — smoke tests (SW_OPT_SMOKE): each command runs in the image just built,
 * before any tag moves, the way `docker run IMAGE sh -c CMD` would run it: the image's
 * env, user and workdir, the target stage's layers as its root (a throwaway upper dir),
 * no network, a foreign platform under QEMU as its RUN steps are, and a time limit.  A
 * failure fails the build, so no tag moves; its output is the vertex's log. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "exec/engine.h"

struct watchdog
{
  sw_sandbox_stop stop;  /* this command's own token */
  sw_sandbox_stop *build; /* the build's (the hub's): the caller's cancel, or another
                          * platform's failure while this one is exported, stops it too */
  int seconds;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  bool fired;
};

static void *
watchdog_main (void *arg)
{
  struct watchdog *w = arg;
  struct timespec deadline;
  clock_gettime (CLOCK_REALTIME, &deadline);
  time_t end = deadline.tv_sec + w->seconds;
  pthread_mutex_lock (&w->mu);
  while (!w->done)
    {
      struct timespec now, tick;
      clock_gettime (CLOCK_REALTIME, &now);
      if (now.tv_sec >= end)
        {
          w->fired = true;
          sw_sandbox_stop_request (&w->stop);
          break;
        }
      if (sw_sandbox_stop_requested (w->build))
        {
          sw_sandbox_stop_request (&w->stop);
          break;
        }
      tick = now;
      tick.tv_nsec += 200 * 1000 * 1000;
      if (tick.tv_nsec >= 1000000000L)
        tick.tv_sec++, tick.tv_nsec -= 1000000000L;
      pthread_cond_timedwait (&w->cv, &w->mu, &tick);
    }
  pthread_mutex_unlock (&w->mu);
  return NULL;
}

struct smoke_output
{
  sw_engine *e;
  int id;
};

static void
on_output (int stream, const char *line, size_t len, void *userdata)
{
  struct smoke_output *o = userdata;
  cleanup_free char *s = sw_xstrndup (line, len);
  sw_engine_vertex_log (o->e, o->id, stream, s);
}

static int
smoke_one (sw_engine *e, sw_stage *s, char **lowers, const char *cmd, sw_error **err)
{
  sw_build *b = e->b;
  cleanup_free char *upper = NULL;
  cleanup_free char *plat = sw_platform_format (&s->platform);
  const char *argv[] = { "/bin/sh", "-c", cmd, NULL };
  sw_sandbox_spec spec = { 0 };
  struct watchdog w = { .build = &e->hub->stop, .seconds = b->smoke_timeout };
  pthread_t th;
  int code = -1, r;
  double t0 = sw_engine_now ();
  int id = sw_engine_vertex_start (e, "smoke test (%s): %s", plat, cmd);
  struct smoke_output o = { e, id };

  if (sw_state_mkscratch (e->state, "upper", &upper, err) < 0
      || sw_emu_set_for_stage (e->emu, s->ps->platform, true, &spec.emu, err) < 0)
    {
      sw_engine_vertex_done (e, id, t0, *err);
      return -1;
    }
  spec.state = e->state;
  spec.lowers = (const char *const *) lowers;
  spec.upper = upper;
  spec.argv = argv;
  spec.env = (const char *const *) s->config->env;
  spec.user = s->config->user;
  spec.workdir = s->config->working_dir;
  spec.network = SW_NET_NONE;
  spec.output = on_output;
  spec.userdata = &o;
  spec.stop = &w.stop;
  sw_sandbox_stop_init (&w.stop);
  pthread_mutex_init (&w.mu, NULL);
  pthread_cond_init (&w.cv, NULL);
  bool watching = pthread_create (&th, NULL, watchdog_main, &w) == 0;
  r = sw_sandbox_run (&spec, &code, err);
  pthread_mutex_lock (&w.mu);
  w.done = true;
  pthread_cond_signal (&w.cv);
  pthread_mutex_unlock (&w.mu);
  if (watching)
    pthread_join (th, NULL);
  pthread_cond_destroy (&w.cv);
  pthread_mutex_destroy (&w.mu);
  sw_sandbox_stop_destroy (&w.stop);
  if (r < 0 && w.fired)
    {
      sw_error_free (*err);
      *err = NULL;
      sw_error_make (err, ETIMEDOUT, "smoke test \"%s\" (%s) did not finish in %d s (--smoke-timeout)", cmd, plat,
                     b->smoke_timeout);
    }
  else if (r < 0)
    sw_error_wrap (err, "smoke test \"%s\" (%s) failed; no tag was moved", cmd, plat);
  if (r < 0)
    sw_error_set_category (err, sw_sandbox_stop_requested (&e->hub->stop) && !w.fired ? SW_ERR_CANCELLED : SW_ERR_STEP);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  return r;
}

int
sw_engine_smoke (sw_engine *e, sw_stage *s, sw_error **err)
{
  cleanup_strv char **lowers = NULL;
  if (e->b->smoke.n == 0)
    return 0;
  if (sw_engine_stage_lowers (e, s, &lowers, err) < 0)
    return -1;
  for (size_t i = 0; i < e->b->smoke.n; i++)
    if (smoke_one (e, s, lowers, e->b->smoke.v[i], err) < 0)
      return -1;
  return 0;
}
