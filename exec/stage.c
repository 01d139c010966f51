/* exec/stage.c — running one stage: FROM, then each instruction in order.
 *
 * Metadata instructions edit the image config (exec/commit.c).  RUN runs in the sandbox
 * over the stage's snapshots; COPY/ADD and WORKDIR edit a view of the tree (sandbox/view.h).
 * Each step that changes files leaves an upper dir, which becomes the stage's next layer
 * and is packed and uploaded on a worker while the next step runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/path.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/io.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "dockerfile/location.h"
#include "copy/copy.h"
#include "copy/dockerignore.h"
#include "exec/cache.h"
#include "exec/engine.h"
#include "sandbox/sandbox.h"
#include "sandbox/view.h"

double
sw_engine_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
sw_engine_locate (sw_engine *e, const sw_df_node *node, sw_error **err)
{
  cleanup_error sw_error *inner = NULL;
  if (err == NULL)
    return -1;
  sw_error_move (&inner, err);
  sw_df_error_node (err, e->df, node, "%s", inner ? sw_error_message (inner) : "failed");
  if (inner && *err)
    {
      (*err)->errnum = inner->errnum;
      if (inner->category != SW_ERR_INTERNAL) /* the cause's, not the location's */
        (*err)->category = inner->category;
    }
  return -1;
}

int
sw_engine_check_cancelled (sw_engine *e, sw_error **err)
{
  if (sw_sandbox_stop_requested (&e->hub->stop))
    {
      sw_error_make (err, ECANCELED, "cancelled");
      return sw_error_set_category (err, SW_ERR_CANCELLED);
    }
  return 0;
}

void
sw_engine_cpu_acquire (sw_engine *e)
{
  sw_engine_hub *h = e->hub;
  pthread_mutex_lock (&h->lock);
  while (h->cpu_slots == 0)
    pthread_cond_wait (&h->cpu_freed, &h->lock);
  h->cpu_slots--;
  pthread_mutex_unlock (&h->lock);
}

void
sw_engine_cpu_release (sw_engine *e)
{
  sw_engine_hub *h = e->hub;
  pthread_mutex_lock (&h->lock);
  h->cpu_slots++;
  pthread_cond_signal (&h->cpu_freed);
  pthread_mutex_unlock (&h->lock);
}

/* ---- progress ------------------------------------------------------------------- */

int
sw_engine_vertex_start (sw_engine *e, const char *fmt, ...)
{
  cleanup_free char *name = NULL;
  va_list ap;
  va_start (ap, fmt);
  name = sw_xvasprintf (fmt, ap);
  va_end (ap);
  sw_event ev = { .kind = SW_EVENT_STEP_START, .id = atomic_fetch_add (&e->hub->next_vertex, 1) + 1, .name = name };
  sw_build_emit (e->b, &ev);
  return ev.id;
}

void
sw_engine_vertex_log (sw_engine *e, int id, int stream, const char *line)
{
  sw_event ev = { .kind = SW_EVENT_STEP_LOG, .id = id, .text = line, .stream = stream };
  sw_build_emit (e->b, &ev);
}

void
sw_engine_vertex_done (sw_engine *e, int id, double started, const sw_error *err)
{
  sw_event ev = { .kind = SW_EVENT_STEP_DONE, .id = id, .elapsed = sw_engine_now () - started,
                  .status = err ? -1 : 0, .text = err ? sw_error_message (err) : NULL };
  sw_build_emit (e->b, &ev);
}

void
sw_engine_vertex_cached (sw_engine *e, int id)
{
  sw_event ev = { .kind = SW_EVENT_STEP_CACHED, .id = id };
  sw_build_emit (e->b, &ev);
}

/* "[build 2/5] " as BuildKit's prefixCommand: the stage name when it has one, the
 * index padded to the width of the total. */
static char *
step_prefix (sw_engine *e, sw_stage *s)
{
  int width = 1;
  for (int t = s->cmd_total; t >= 10; t /= 10)
    width++;
  s->cmd_index++;
  /* several platforms at once: the stage's platform first, "[linux/arm64 build 2/5] " */
  bool plat = e->b->platforms.n > 1 && s->ps->platform;
  /* an unnamed stage of a multi-stage Dockerfile is "stage-N", as BuildKit calls it */
  const char *name = s->ps->name ? s->ps->name : (e->plan->n_stages > 1 ? s->ps->display : NULL);
  return sw_xasprintf ("[%s%s%s%s%*d/%d] ", plat ? s->ps->platform : "", plat ? " " : "", name ? name : "",
                       name ? " " : "", width, s->cmd_index, s->cmd_total);
}

/* ---- layers --------------------------------------------------------------------- */

static sw_layer *
new_layer (sw_engine *e)
{
  sw_layer *l = sw_xzalloc (sizeof *l);
  sw_engine_hub *h = e->hub;
  pthread_mutex_lock (&h->lock);
  h->all_layers = sw_xreallocarray (h->all_layers, h->n_all_layers + 1, sizeof *h->all_layers);
  h->all_layers[h->n_all_layers++] = l;
  pthread_mutex_unlock (&h->lock);
  return l;
}

static void
stage_push_layer (sw_stage *s, sw_layer *l)
{
  s->layers = sw_xreallocarray (s->layers, s->n_layers + 1, sizeof *s->layers);
  s->layers[s->n_layers++] = l;
}

/* The stage's snapshot dirs, bottom first.  shape_only: a base image not extracted yet
 * may serve as a skeleton (its tree's shape; see exec/base.h) — enough for COPY and
 * WORKDIR, which read no file of the base. */
static int stage_lowers_locked (sw_engine *e, sw_stage *s, bool shape_only, char ***out, sw_error **err);

/* Stages built on s run at once and may each ask for s's tree: one extracts it, the
 * others wait and reuse it. */
static int
stage_lowers (sw_engine *e, sw_stage *s, bool shape_only, char ***out, sw_error **err)
{
  pthread_mutex_lock (&s->base_lock);
  int r = stage_lowers_locked (e, s, shape_only, out, err);
  pthread_mutex_unlock (&s->base_lock);
  return r;
}

static int
stage_lowers_locked (sw_engine *e, sw_stage *s, bool shape_only, char ***out, sw_error **err)
{
  char **lowers = NULL;
  bool need = s->base && s->base->lowers == NULL && s->base->manifest->n_layers > 0;
  bool skeleton = need && shape_only;

  /* what an earlier build left in the store (the base extracted, or its shape) serves
   * at once, with no request and nothing to show: a base extracted is its own shape */
  if (need && sw_base_stored (e->state, s->base))
    {
      if (sw_base_extract (e->reg, e->state, s->base, err) < 0)
        return -1;
      need = skeleton = false;
    }
  else if (skeleton && !s->base->skeleton && sw_base_shape_stored (e->state, s->base))
    {
      if (sw_base_skeleton (e->reg, e->state, s->base, err) < 0)
        return -1;
    }

  if (need && !(skeleton && s->base->skeleton))
    {
      int id = sw_engine_vertex_start (e, "[%s] %s %s", s->ps->display, skeleton ? "fetching the shape of" : "extracting",
                                       s->base->name);
      double t0 = sw_engine_now ();
      int r = skeleton ? sw_base_skeleton (e->reg, e->state, s->base, err)
                       : sw_base_extract (e->reg, e->state, s->base, err);
      sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
      if (r < 0)
        return -1;
    }
  if (s->base_stage)
    {
      /* The base stage's own lowers (it ran already) are the bottom of ours. */
      if (stage_lowers (e, s->base_stage, shape_only, &lowers, err) < 0)
        return -1;
    }
  for (size_t i = 0; i < s->n_layers; i++)
    {
      sw_layer *l = s->layers[i];
      if (s->base_stage && i < s->base_stage->n_layers)
        continue; /* already listed through the base stage */
      if (!l->built && l->dir == NULL && s->base && s->base->lowers)
        l->dir = sw_xstrdup (s->base->lowers[i]); /* base layers are the first n of the stage */
      if (l->built && l->dir == NULL && l->cache_src && sw_cache_remote_materialize (e, l, err) < 0)
        {
          sw_strlist_free (lowers);
          return -1;
        }
      if (l->dir)
        sw_strlist_push (&lowers, l->dir);
      else if (!l->built && s->base && s->base->skeleton)
        sw_strlist_push (&lowers, s->base->skeleton[i]);
    }
  if (lowers == NULL)
    lowers = sw_xcalloc (1, sizeof *lowers);
  *out = lowers;
  return 0;
}

int
sw_engine_stage_lowers (sw_engine *e, sw_stage *s, char ***out, sw_error **err)
{
  return stage_lowers (e, s, false, out, err);
}

int
sw_engine_stage_shape (sw_engine *e, sw_stage *s, char ***out, sw_error **err)
{
  return stage_lowers (e, s, true, out, err);
}

/* ---- FROM ----------------------------------------------------------------------- */

static sw_image_config *
config_copy (const sw_image_config *c)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  sw_image_config *copy = NULL;
  sw_image_config_serialize (c, &b);
  if (sw_image_config_parse (b.data, b.len, &copy, NULL) < 0)
    abort (); /* our own serialization always parses */
  return copy;
}

static sw_image_config *
empty_config (const sw_platform *p)
{
  /* BuildKit's emptyImage: a scratch stage starts with PATH and WorkingDir "/". */
  sw_image_config *c = sw_image_config_new ();
  c->architecture = sw_xstrdup (p->arch);
  c->os = sw_xstrdup (p->os);
  if (p->variant && *p->variant)
    c->variant = sw_xstrdup (p->variant);
  c->working_dir = sw_xstrdup ("/");
  sw_strlist_push (&c->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  return c;
}

/* BuildKit numbers only the steps that make a vertex: FROM, then RUN, COPY, ADD and
 * WORKDIR (ENV, ARG, LABEL, CMD… edit the config and take no number): "[build 2/11]". */
static bool
numbered (const sw_df_instr *in)
{
  return in->kind == SW_DF_RUN || in->kind == SW_DF_COPY || in->kind == SW_DF_ADD || in->kind == SW_DF_WORKDIR;
}

static int
count_commands (const sw_plan_stage *ps)
{
  int n = 1;
  for (size_t i = 0; i < ps->n_instrs; i++)
    n += numbered (ps->instrs[i]);
  return n;
}

/* ---- FROM ------------------------------------------------------------------------ */

/* The image a stage's FROM names (after --build-context NAME=docker-image://REF); NULL:
 * not an image, or a build context that is not one (stage_from says why). */
static const char *
from_image_ref (sw_engine *e, const sw_plan_stage *ps)
{
  if (ps->base_kind != SW_PLAN_BASE_IMAGE)
    return NULL;
  const char *named = sw_engine_build_context (e, ps->base);
  if (named && strncmp (named, "docker-image://", 15) == 0)
    return named + 15;
  return named ? NULL : ps->base;
}

struct sw_base_prefetch
{
  pthread_t thread;
  sw_registry *reg;
  char *ref;
  sw_platform platform;
  sw_base_image *base; /* the result, or err */
  sw_error *err;
};

static void *
prefetch_thread (void *arg)
{
  struct sw_base_prefetch *p = arg;
  sw_base_resolve (p->reg, p->ref, &p->platform, &p->base, &p->err);
  return NULL;
}

void
sw_engine_prefetch_bases (sw_engine *e)
{
  for (size_t i = 0; i < e->plan->n_order; i++)
    {
      sw_stage *s = &e->stages[e->plan->order[i]];
      const sw_plan_stage *ps = &e->plan->stages[e->plan->order[i]];
      const char *ref = from_image_ref (e, ps);
      struct sw_base_prefetch *p;
      if (ref == NULL || s->prefetch)
        continue;
      p = sw_xzalloc (sizeof *p);
      if (sw_platform_parse (ps->platform, &p->platform, NULL) < 0)
        {
          free (p);
          continue; /* stage_from reports it */
        }
      p->reg = e->reg;
      p->ref = sw_xstrdup (ref);
      if (pthread_create (&p->thread, NULL, prefetch_thread, p) != 0)
        {
          sw_platform_clear (&p->platform);
          free (p->ref);
          free (p);
          continue; /* stage_from resolves it itself */
        }
      s->prefetch = p;
    }
}

/* Join s's prefetch and take its result (*base or *err); -1 when there was none. */
static int
prefetch_take (sw_stage *s, sw_base_image **base, sw_error **err)
{
  struct sw_base_prefetch *p = s->prefetch;
  if (p == NULL)
    return -1;
  s->prefetch = NULL;
  pthread_join (p->thread, NULL);
  *base = p->base;
  int r = p->base ? 0 : 1;
  if (p->err)
    sw_error_move (err, &p->err);
  sw_platform_clear (&p->platform);
  free (p->ref);
  free (p);
  return r;
}

void
sw_engine_prefetch_end (sw_engine *e)
{
  for (size_t i = 0; e->plan && e->stages && i < e->plan->n_stages; i++)
    {
      sw_base_image *b = NULL;
      sw_error *ignored = NULL;
      if (prefetch_take (&e->stages[i], &b, &ignored) >= 0)
        {
          sw_base_free (b);
          sw_error_free (ignored);
        }
    }
}

static int
stage_from (sw_engine *e, sw_stage *s, sw_error **err)
{
  const sw_plan_stage *ps = s->ps;
  cleanup_free char *prefix = NULL;
  cleanup_free char *pstr = NULL;
  sw_error *ferr = NULL;
  int id;
  double t0 = sw_engine_now ();

  if (sw_platform_parse (ps->platform, &s->platform, err) < 0)
    return sw_df_error_node (err, e->df, ps->from->node, "invalid platform %s", ps->platform);
  s->cmd_total = count_commands (ps);
  prefix = step_prefix (e, s);

  switch (ps->base_kind)
    {
    case SW_PLAN_BASE_SCRATCH:
      s->config = empty_config (&s->platform);
      s->env = sw_plan_env_new (s->config->env);
      sw_cache_stage_root (e, s);
      return 0;

    case SW_PLAN_BASE_STAGE:
      s->base_stage = &e->stages[ps->base_stage];
      s->config = config_copy (s->base_stage->config);
      s->env = sw_plan_env_new (s->config->env);
      /* A stage based on a stage starts with that stage's variables, ARGs included. */
      sw_plan_env_free (s->env);
      s->env = sw_plan_env_dup (s->base_stage->env);
      for (size_t i = 0; i < s->base_stage->n_layers; i++)
        stage_push_layer (s, s->base_stage->layers[i]);
      id = sw_engine_vertex_start (e, "%sFROM %s", prefix, ps->base);
      sw_engine_vertex_done (e, id, t0, NULL);
      sw_cache_stage_root (e, s);
      return 0;

    case SW_PLAN_BASE_IMAGE:
      break;
    }

  /* --build-context NAME=docker-image://REF replaces the image FROM names */
  const char *base_ref = ps->base;
  const char *named = sw_engine_build_context (e, ps->base);
  if (named && strncmp (named, "docker-image://", 15) == 0)
    base_ref = named + 15;
  else if (named)
    {
      sw_error_make (err, ENOTSUP, "not supported yet: FROM a local directory build context (%s)", ps->base);
      return sw_engine_locate (e, ps->from->node, err);
    }
  id = sw_engine_vertex_start (e, "[internal] load metadata for %s", base_ref);
  /* resolved ahead when the build started (the same reference and platform) */
  int took = prefetch_take (s, &s->base, &ferr);
  if (took > 0 || (took < 0 && sw_base_resolve (e->reg, base_ref, &s->platform, &s->base, &ferr) < 0))
    {
      sw_engine_vertex_done (e, id, t0, ferr);
      sw_error_move (err, &ferr);
      return sw_engine_locate (e, ps->from->node, err);
    }
  sw_engine_vertex_done (e, id, t0, NULL);
  sw_engine_note_image (e, base_ref, &s->platform, s->base->top_digest);

  s->config = config_copy (s->base->config);
  /* The image takes the platform the build asked for, as BuildKit records it. */
  free (s->config->architecture);
  s->config->architecture = sw_xstrdup (s->platform.arch);
  free (s->config->os);
  s->config->os = sw_xstrdup (s->platform.os);
  free (s->config->variant);
  s->config->variant = (s->platform.variant && *s->platform.variant) ? sw_xstrdup (s->platform.variant) : NULL;
  if (s->config->env == NULL)
    sw_strlist_push (&s->config->env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  s->env = sw_plan_env_new (s->config->env);
  for (size_t i = 0; i < s->base->manifest->n_layers; i++)
    {
      const sw_descriptor *d = &s->base->manifest->layers[i];
      sw_layer *l = new_layer (e);
      l->source_repo = s->base->repo;
      snprintf (l->media_type, sizeof l->media_type, "%s", d->media_type);
      snprintf (l->digest, sizeof l->digest, "%s", d->digest);
      l->size = d->size;
      snprintf (l->diff_id, sizeof l->diff_id, "%s", s->base->config->diff_ids[i]);
      stage_push_layer (s, l);
    }
  t0 = sw_engine_now ();
  id = sw_engine_vertex_start (e, "%sFROM %s", prefix, s->base->resolved);
  sw_engine_vertex_done (e, id, t0, NULL);
  sw_cache_stage_root (e, s);
  return 0;
}

/* ---- built layers: pack and upload on a worker ----------------------------------- */

/* Is stage s one whose layers end up in the exported image (the target, or a stage the
 * target is built FROM, transitively)?  Layers of other stages are read only through
 * COPY --from, straight from their upper dirs: packing them would be wasted work. */
static bool
on_exported_chain (sw_engine *e, const sw_stage *s)
{
  for (long i = (long) e->plan->target; i >= 0; i = e->plan->stages[i].base_stage)
    {
      if ((size_t) i == s->index)
        return true;
      if (e->plan->stages[i].base_kind != SW_PLAN_BASE_STAGE)
        break;
    }
  return false;
}

void
sw_engine_add_built_layer (sw_engine *e, sw_stage *s, const char *upper, const char *label)
{
  sw_layer *l = new_layer (e);
  l->built = true;
  l->label = sw_xstrdup (label);
  l->dir = sw_xstrdup (upper);
  snprintf (l->cache_key, sizeof l->cache_key, "%s", s->key); /* the step's key, if any */
  /* the time its history entry (added just before) got: the cache keeps it for a rebuild */
  if (s->config->n_history > 0 && s->config->history[s->config->n_history - 1].created)
    snprintf (l->created, sizeof l->created, "%s", s->config->history[s->config->n_history - 1].created);
  stage_push_layer (s, l);
  sw_engine_queue_deferred (e); /* a new layer: a new image, not in the registry yet */
  bool exported = on_exported_chain (e, s);
  if (exported)
    sw_engine_queue_pack (e, l);
  else
    l->packed = true; /* never exported: nothing to pack */
  /* its --cache-to upload, now, behind its pack job (and every other image job) */
  sw_cache_remote_layer_built (e, l, exported);
}

void
sw_engine_add_cached_layer (sw_engine *e, sw_stage *s, const sw_layer *proto)
{
  sw_layer *l = new_layer (e);
  l->built = true;
  l->from_cache = true;
  l->dir = proto->dir ? sw_xstrdup (proto->dir) : NULL; /* NULL: in proto->cache_src */
  l->cache_src = proto->cache_src;
  l->label = sw_xstrdup (proto->label);
  l->pushed_to = proto->pushed_to ? sw_xstrdup (proto->pushed_to) : NULL;
  memcpy (l->media_type, proto->media_type, sizeof l->media_type);
  memcpy (l->digest, proto->digest, sizeof l->digest);
  memcpy (l->diff_id, proto->diff_id, sizeof l->diff_id);
  memcpy (l->created, proto->created, sizeof l->created);
  memcpy (l->cache_key, proto->cache_key, sizeof l->cache_key);
  l->size = proto->size;
  stage_push_layer (s, l);
  /* a blob already packed with this build's options needs no job when nothing is pushed;
   * when pushing, its job waits: if every layer hits, the export first asks the registry
   * for the whole image (one request instead of one a layer) */
  if (!on_exported_chain (e, s) || (!e->push_repo && l->digest[0]))
    l->packed = true;
  else if (e->push_repo && l->digest[0])
    {
      pthread_mutex_lock (&e->hub->lock); /* sibling stages queue the deferred ones */
      l->deferred = true;
      pthread_mutex_unlock (&e->hub->lock);
    }
  else
    sw_engine_queue_pack (e, l);
}

void
sw_engine_queue_deferred (sw_engine *e)
{
  /* this platform's layers only (another platform's image may still be found whole), under
   * the hub's lock: the platform's stages run at once */
  sw_layer **queue = NULL;
  size_t n = 0;
  pthread_mutex_lock (&e->hub->lock);
  for (size_t i = 0; e->stages && i < e->plan->n_stages; i++)
    for (size_t j = 0; j < e->stages[i].n_layers; j++)
      {
        sw_layer *l = e->stages[i].layers[j];
        if (l->deferred)
          {
            l->deferred = false;
            queue = sw_xreallocarray (queue, n + 1, sizeof *queue);
            queue[n++] = l;
          }
      }
  pthread_mutex_unlock (&e->hub->lock);
  for (size_t i = 0; i < n; i++) /* a submit may block on the pool's bound: not under the lock */
    sw_engine_queue_pack (e, queue[i]);
  free (queue);
}

/* ---- RUN ------------------------------------------------------------------------ */

struct run_script
{
  const char *name; /* the heredoc's delimiter */
  char *data;       /* the script, chomped as written; NULL: no script */
  char *dir;        /* the directory mounted at /dev/pipes */
};

/* The last lines a step printed, repeated in its error as buildx does, so the compiler's
 * message sits next to the failure. */
#define TAIL_LINES 10

struct run_output
{
  sw_engine *e;
  int id;
  struct run_script *script;
  char *tail[TAIL_LINES]; /* a ring: the newest at (n_lines - 1) % TAIL_LINES */
  size_t n_lines;
};

static void
on_output (int stream, const char *line, size_t len, void *userdata)
{
  struct run_output *o = userdata;
  char *s = sw_xstrndup (line, len);
  sw_engine_vertex_log (o->e, o->id, stream, s);
  free (o->tail[o->n_lines % TAIL_LINES]);
  o->tail[o->n_lines++ % TAIL_LINES] = s;
}

static void
run_output_clear (struct run_output *o)
{
  for (size_t i = 0; i < TAIL_LINES; i++)
    free (o->tail[i]);
}

/* *err (located) with the step's name and its last output lines before it:
 *   ------
 *    > [build 2/3] RUN make:
 *   cc: error: …
 *   ------
 *   Dockerfile:3:1: process "/bin/sh -c make" did not complete successfully: exit code: 2 */
static void
error_with_tail (sw_error **err, const struct run_output *o, const char *name)
{
  cleanup_buf sw_buf msg = SW_BUF_INIT;
  cleanup_error sw_error *inner = NULL;

  if (err == NULL || *err == NULL || o->n_lines == 0 || sw_error_category_of (*err) == SW_ERR_CANCELLED)
    return; /* a cancelled step did not fail by itself: its output explains nothing */
  sw_error_move (&inner, err);
  sw_buf_printf (&msg, "------\n > %s:\n", name);
  size_t first = o->n_lines > TAIL_LINES ? o->n_lines - TAIL_LINES : 0;
  for (size_t i = first; i < o->n_lines; i++)
    sw_buf_printf (&msg, "%s\n", o->tail[i % TAIL_LINES]);
  sw_buf_printf (&msg, "------\n%s", sw_error_message (inner));
  sw_error_make (err, sw_error_code (inner), "%s", sw_buf_str (&msg));
  sw_error_set_category (err, sw_error_category_of (inner));
}

/* A RUN heredoc that starts with "#!" is a script BuildKit writes (0755, named after its
 * delimiter) into a read-only directory mounted at /dev/pipes/ and runs through the shell
 * as "/dev/pipes/NAME", so the kernel starts the interpreter its #! line names. */
#define HEREDOC_PIPES "/dev/pipes"
#define HEREDOC_FROM "\001run-heredoc" /* a from= no Dockerfile can write */

/* Write the script and add its mount to the step's: a read-only bind whose tree is the
 * script's directory (mounts and trees have room for it: the caller made them one longer). */
static int
run_script_prepare (sw_engine *e, struct run_script *rs, sw_df_run_mount *mounts, char ***trees, size_t *n_mounts,
                    sw_error **err)
{
  if (sw_state_mkscratch (e->state, "heredoc", &rs->dir, err) < 0)
    return -1;
  cleanup_free char *path = sw_xasprintf ("%s/%s", rs->dir, rs->name);
  cleanup_close int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0755);
  if (fd < 0 || sw_write_all (fd, rs->data, strlen (rs->data)) < 0 || fchmod (fd, 0755) < 0)
    return sw_error_errno (err, "writing the RUN heredoc script %s", rs->name);
  sw_df_run_mount *m = &mounts[*n_mounts];
  memset (m, 0, sizeof *m);
  m->type = SW_DF_MOUNT_BIND;
  m->target = sw_xstrdup (HEREDOC_PIPES);
  m->source = sw_xstrdup (".");
  m->from = sw_xstrdup (HEREDOC_FROM);
  m->readonly = true;
  trees[*n_mounts] = NULL;
  sw_strlist_push (&trees[*n_mounts], rs->dir);
  (*n_mounts)++;
  return 0;
}

/* BuildKit's RUN arguments: the shell form through SHELL, heredocs as BuildKit runs them.
 * A #! heredoc fills *script (run_script_prepare makes the file). */
static int
run_args (sw_stage *s, const sw_df_instr *in, char ***out, struct run_script *script, sw_error **err)
{
  cleanup_buf sw_buf line = SW_BUF_INIT;

  if (!in->prepend_shell)
    {
      char **args = sw_xcalloc (in->n_cmdline + 1, sizeof *args);
      for (size_t i = 0; i < in->n_cmdline; i++)
        args[i] = sw_xstrdup (in->cmdline[i]);
      *out = args;
      return 0;
    }
  for (size_t i = 0; i < in->n_cmdline; i++)
    {
      if (i)
        sw_buf_putc (&line, ' ');
      sw_buf_puts (&line, in->cmdline[i]);
    }
  if (in->n_files > 0)
    {
      const sw_df_inline_file *f = &in->files[0];
      const char *cmd = sw_buf_str (&line);
      bool only_heredoc = strncmp (cmd, "<<", 2) == 0 && strchr (cmd, ' ') == NULL && in->n_files == 1;
      if (only_heredoc)
        {
          cleanup_free char *data = f->chomp ? sw_df_heredoc_chomp (f->data) : sw_xstrdup (f->data);
          if (strncmp (data, "#!", 2) == 0)
            {
              cleanup_free char *cmd2 = sw_xasprintf ("%s/%s", HEREDOC_PIPES, f->name);
              script->name = f->name;
              script->data = steal_pointer (&data);
              *out = sw_commit_with_shell (s->config, cmd2);
              return 0;
            }
          /* a "fake" heredoc: the body is the shell command */
          *out = sw_commit_with_shell (s->config, data);
          return 0;
        }
      /* anything more complex is handed to the shell to interpret */
      for (size_t i = 0; i < in->n_files; i++)
        sw_buf_printf (&line, "\n%s%s", in->files[i].data, in->files[i].name);
    }
  *out = sw_commit_with_shell (s->config, sw_buf_str (&line));
  return 0;
}

static const char *
net_of (sw_engine *e, const sw_df_instr *in)
{
  /* RUN --network=default (the parser's default too) means the build's --network */
  if (in->network && *in->network && strcmp (in->network, "default") != 0)
    return in->network;
  return e->b->network;
}

/* The trees of the mounts with from= (a stage, a named context, an image), for the
 * sandbox: trees[i] is mounts[i]'s, NULL without from=; images[i] the image it holds. */
static int
run_mount_trees (sw_engine *e, sw_stage *s, const sw_df_run_mount *mounts, size_t n, char ****trees,
                 sw_base_image ***images, sw_error **err)
{
  *trees = sw_xcalloc (n + 1, sizeof **trees);
  *images = sw_xcalloc (n + 1, sizeof **images);
  for (size_t i = 0; i < n; i++)
    if (mounts[i].from && sw_engine_from_tree (e, s, mounts[i].from, &(*trees)[i], &(*images)[i], err) < 0)
      return sw_error_wrap (err, "--mount from=%s", mounts[i].from);
  return 0;
}

/* Set KEY=value in a NULL-terminated "K=V" list, replacing an entry with that key. */
static void
env_put (char ***env, const char *key, const char *value)
{
  size_t klen = strlen (key);
  char *kv = sw_xasprintf ("%s=%s", key, value);
  for (size_t i = 0; *env && (*env)[i]; i++)
    if (strncmp ((*env)[i], key, klen) == 0 && (*env)[i][klen] == '=')
      {
        free ((*env)[i]);
        (*env)[i] = kv;
        return;
      }
  sw_strlist_push (env, kv);
  free (kv);
}

/* The predefined proxy args: a --build-arg http_proxy (any case; of several spellings the
 * last in byte order wins, as BuildKit sorts them) reaches every RUN as both HTTP_PROXY
 * and http_proxy without an ARG, and — not being an ARG — stays out of the image config
 * and the history. */
static void
add_proxy_env (char ***env, char *const *build_args)
{
  static const char *const names[][2] = { { "HTTP_PROXY", "http_proxy" }, { "HTTPS_PROXY", "https_proxy" },
                                          { "FTP_PROXY", "ftp_proxy" },   { "NO_PROXY", "no_proxy" },
                                          { "ALL_PROXY", "all_proxy" } };
  for (size_t n = 0; n < sizeof names / sizeof names[0]; n++)
    {
      const char *best = NULL;
      size_t klen = strlen (names[n][0]);
      for (size_t i = 0; build_args && build_args[i]; i++)
        if (strncasecmp (build_args[i], names[n][0], klen) == 0 && build_args[i][klen] == '='
            && (best == NULL || strncmp (build_args[i], best, klen) >= 0))
          best = build_args[i];
      if (best && best[klen + 1])
        {
          env_put (env, names[n][0], best + klen + 1);
          env_put (env, names[n][1], best + klen + 1);
        }
    }
}

static int
stage_run (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err)
{
  cleanup_strv char **args = NULL;
  cleanup_strv char **lowers = NULL;
  cleanup_strv char **env = NULL;
  cleanup_free char *upper = NULL;
  cleanup_free char *hist = NULL;
  cleanup_free char *label = NULL;
  cleanup_free char *desc = NULL;
  char key[65] = "";
  sw_df_run_mount *mounts = NULL;
  size_t n_mounts = 0;
  char ***trees = NULL;
  sw_base_image **images = NULL;
  sw_sandbox_spec spec = { 0 };
  struct run_script script = { 0 };
  struct run_output o = { 0 };
  bool failed_run = false, writing = false;
  sw_net_mode net;
  int code = -1, id, r = -1;
  double t0 = sw_engine_now ();

  if (run_args (s, in, &args, &script, err) < 0)
    return sw_engine_locate (e, in->node, err);
  /* history: "RUN |1 A=b /bin/sh -c make # buildkit" */
  {
    cleanup_strv char **build_args = NULL;
    for (size_t i = 0; s->arg_names && s->arg_names[i]; i++)
      {
        const char *v = sw_plan_env_get (s->env, s->arg_names[i]);
        cleanup_free char *kv = sw_xasprintf ("%s=%s", s->arg_names[i], v ? v : "");
        sw_strlist_push (&build_args, kv);
      }
    cleanup_free char *cmd = sw_commit_run_string (args, build_args);
    hist = sw_xasprintf ("RUN %s # buildkit", cmd);
  }
  label = sw_xasprintf ("%s%s", prefix, in->original);
  id = sw_engine_vertex_start (e, "%s%s", prefix, in->original);
  if (sw_cache_key_run (e, s, in, args, hist, key, err) < 0)
    goto out;
  if (sw_cache_try (e, s, key, hist, label, id))
    return 0;
  /* the step writes its upper dir (and maybe extracts its base) into the state dir */
  if (sw_engine_disk_enter (e, err) < 0)
    goto out;
  writing = true;
  if (sw_net_mode_parse (net_of (e, in), &net, err) < 0)
    goto out;
  /* BuildKit's entitlements: the host's network and an unconfined step are opt-in */
  if (net == SW_NET_HOST && !e->b->allow_network_host)
    {
      sw_error_make (err, EPERM, "network.host is not allowed: RUN with the host's network (%s) needs "
                     "--allow network.host", in->network && *in->network ? "RUN --network=host" : "--network host");
      sw_engine_locate (e, in->node, err);
      goto out;
    }
  if (in->security && strcmp (in->security, "insecure") == 0)
    {
      if (!e->b->allow_security_insecure)
        {
          sw_error_make (err, EPERM, "security.insecure is not allowed: RUN --security=insecure needs "
                         "--allow security.insecure");
          sw_engine_locate (e, in->node, err);
          goto out;
        }
      spec.insecure = true;
    }
  /* pasta comes up while the base layers are extracted */
  sw_sandbox_network_warm (net);
  if (sw_engine_stage_lowers (e, s, &lowers, err) < 0)
    goto out;
  if (sw_state_mkscratch (e->state, "upper", &upper, err) < 0)
    goto out;
  /* the front end parsed the mounts when it expanded the RUN; only the defaults that
   * depend on the step (the workdir, the ssh mounts' rank) are filled in here */
  if (in->n_mounts && !in->run_mounts)
    {
      sw_error_make (err, EINVAL, "internal error: RUN --mount reached the engine unparsed");
      goto out;
    }
  mounts = sw_xcalloc (in->n_mounts + 2, sizeof *mounts); /* + the #! script's, + NULL */
  for (unsigned n_ssh = 0; n_mounts < in->n_mounts; n_mounts++)
    {
      sw_df_run_mount_copy (&mounts[n_mounts], &in->run_mounts[n_mounts]);
      if (sw_df_run_mount_finish (&mounts[n_mounts], n_ssh, s->config->working_dir, err) < 0)
        {
          sw_error_wrap (err, "--mount %s", in->mounts[n_mounts].spec);
          sw_engine_locate (e, in->node, err);
          n_mounts++;
          goto out;
        }
      if (mounts[n_mounts].type == SW_DF_MOUNT_SSH)
        n_ssh++;
    }
  if (run_mount_trees (e, s, mounts, n_mounts, &trees, &images, err) < 0)
    {
      sw_engine_locate (e, in->node, err);
      goto out;
    }
  if (script.data && run_script_prepare (e, &script, mounts, trees, &n_mounts, err) < 0)
    goto out;
  env = sw_plan_env_list (s->env);
  add_proxy_env (&env, e->build_args);
  /* Only here, at a RUN of a foreign stage, does emulation get looked at at all. */
  if (sw_emu_set_for_stage (e->emu, s->ps->platform, true, &spec.emu, err) < 0)
    goto out;

  o.e = e;
  o.id = id;
  o.script = &script;
  spec.state = e->state;
  spec.lowers = (const char *const *) lowers;
  spec.upper = upper;
  spec.argv = (const char *const *) args;
  spec.env = (const char *const *) env;
  spec.user = s->config->user;
  spec.workdir = s->config->working_dir;
  spec.network = net;
  spec.extra_hosts = (const char *const *) e->b->add_hosts.v;
  spec.mounts = mounts;
  spec.n_mounts = n_mounts;
  spec.context_dir = e->context;
  spec.from_trees = (const char *const *const *) trees;
  spec.shm_size = e->b->shm_size;
  spec.ulimits = e->b->ulimits;
  spec.n_ulimits = e->b->n_ulimits;
  spec.cgroup_parent = e->b->cgroup_parent;
  spec.cgroup_limits = e->b->cgroup_limits;
  spec.secrets = e->secrets;
  spec.n_secrets = e->n_secrets;
  spec.ssh = e->ssh;
  spec.n_ssh = e->n_ssh;
  spec.output = on_output;
  spec.userdata = &o;
  spec.stop = &e->hub->stop;
  /* A native step is CPU work and waits for a slot; an emulated one runs beside them (its
   * interpreter's own pace bounds it) */
  if (spec.emu == NULL)
    sw_engine_cpu_acquire (e);
  r = sw_sandbox_run (&spec, &code, err);
  if (spec.emu == NULL)
    sw_engine_cpu_release (e);
  if (r < 0)
    {
      sw_engine_locate (e, in->node, err);
      failed_run = true;
      goto out;
    }

  sw_commit_history (&s->commit, hist, true);
  memcpy (s->key, key, sizeof s->key);
  sw_engine_add_built_layer (e, s, upper, label);
out:
  if (writing)
    sw_engine_disk_leave (e);
  for (size_t i = 0; i < n_mounts; i++)
    {
      sw_strlist_free (trees ? trees[i] : NULL);
      sw_base_free (images ? images[i] : NULL);
      sw_df_run_mount_clear (&mounts[i]);
    }
  free (trees);
  free (images);
  free (mounts);
  if (script.dir)
    sw_rmtree (script.dir, NULL);
  free (script.dir);
  free (script.data);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  if (failed_run)
    {
      /* the step's own line shows the short message; the build's error has the tail */
      cleanup_free char *name = sw_xasprintf ("%s%s", prefix, in->original);
      error_with_tail (err, &o, name);
    }
  run_output_clear (&o);
  return r;
}

/* ---- WORKDIR -------------------------------------------------------------------- */

/* WORKDIR's path: relative to the previous one, cleaned as Go's path.Clean. */
static char *
workdir_join (const char *base, const char *rel)
{
  cleanup_free char *joined = rel[0] == '/' ? sw_xstrdup (rel) : sw_xasprintf ("%s/%s", base && *base ? base : "/", rel);
  return sw_path_clean (joined);
}

struct mkdir_args
{
  const char *path;
  const char *user; /* the stage's USER: BuildKit makes WORKDIR's directories its own */
};

static int
mkdir_in_view (int rootfd, void *arg, sw_error **err)
{
  struct mkdir_args *a = arg;
  if (sw_copy_mkdir_in_root (rootfd, a->path, a->user, err) < 0)
    return sw_error_wrap (err, "WORKDIR %s", a->path);
  return 0;
}

static int
stage_workdir (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err)
{
  cleanup_free char *wd = workdir_join (s->config->working_dir, in->value);
  cleanup_free char *hist = sw_xasprintf ("WORKDIR %s", wd);

  free (s->config->working_dir);
  s->config->working_dir = sw_xstrdup (wd);
  if (strcmp (wd, "/") == 0)
    {
      sw_commit_history (&s->commit, hist, false);
      return 0;
    }

  /* BuildKit makes the directory (a layer of its own) so later steps find it. */
  cleanup_strv char **lowers = NULL;
  cleanup_free char *upper = NULL, *work = NULL, *mnt = NULL;
  double t0 = sw_engine_now ();
  int id = sw_engine_vertex_start (e, "%sWORKDIR %s", prefix, wd);
  struct mkdir_args a = { wd, s->config->user };
  cleanup_free char *label = sw_xasprintf ("%sWORKDIR %s", prefix, wd);
  char key[65];
  int r = -1;

  sw_cache_key_workdir (e, s, wd, key);
  if (sw_cache_try (e, s, key, hist, label, id))
    return 0;
  if (sw_engine_stage_shape (e, s, &lowers, err) < 0 || sw_state_mkscratch (e->state, "upper", &upper, err) < 0
      || sw_state_mkscratch (e->state, "work", &work, err) < 0 || sw_state_mkscratch (e->state, "mnt", &mnt, err) < 0)
    goto out;
  if (sw_view_run ((const char *const *) lowers, upper, work, mnt, mkdir_in_view, &a, err) < 0)
    goto out;
  sw_commit_history (&s->commit, hist, true);
  memcpy (s->key, key, sizeof s->key);
  sw_engine_add_built_layer (e, s, upper, label);
  r = 0;
out:
  if (work)
    sw_rmtree (work, NULL);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  return r;
}

/* ---- ARG ------------------------------------------------------------------------ */

static void
stage_arg_history (sw_stage *s, const sw_df_instr *in)
{
  cleanup_buf sw_buf msg = SW_BUF_INIT;
  sw_buf_puts (&msg, "ARG");
  for (size_t i = 0; i < in->n_kvs; i++)
    {
      const char *v = sw_plan_env_get (s->env, in->kvs[i].key);
      sw_buf_printf (&msg, " %s", in->kvs[i].key);
      if (v)
        sw_buf_printf (&msg, "=%s", v);
      bool known = false;
      for (size_t j = 0; s->arg_names && s->arg_names[j]; j++)
        known |= strcmp (s->arg_names[j], in->kvs[i].key) == 0;
      if (!known)
        sw_strlist_push (&s->arg_names, in->kvs[i].key);
    }
  sw_commit_history (&s->commit, sw_buf_str (&msg), false);
}

/* ---- the stage loop ------------------------------------------------------------- */

static int
stage_step (sw_engine *e, sw_stage *s, const sw_df_instr *raw, sw_error **err)
{
  sw_df_instr *in = NULL;
  cleanup_free char *prefix = NULL;
  int r = 0;

  sw_engine_lint_undefined (e, s, raw);
  if (sw_plan_expand (e->plan, raw, s->env, &in, err) < 0)
    return -1;
  switch (in->kind)
    {
    case SW_DF_ARG:
      r = sw_plan_step (e->plan, raw, s->env, err);
      if (r == 0)
        stage_arg_history (s, in);
      break;
    case SW_DF_ENV:
      r = sw_plan_step (e->plan, raw, s->env, err);
      if (r == 0)
        r = sw_commit_metadata (&s->commit, e->df, in, err);
      break;
    case SW_DF_RUN:
      prefix = step_prefix (e, s);
      r = stage_run (e, s, in, prefix, err);
      break;
    case SW_DF_WORKDIR:
      prefix = step_prefix (e, s);
      r = stage_workdir (e, s, in, prefix, err);
      break;
    case SW_DF_COPY:
    case SW_DF_ADD:
      prefix = step_prefix (e, s);
      r = sw_engine_copy (e, s, in, prefix, err);
      break;
    case SW_DF_FROM:
      r = sw_df_error_node (err, e->df, in->node, "internal error: FROM inside a stage");
      break;
    default:
      r = sw_commit_metadata (&s->commit, e->df, in, err);
      break;
    }
  sw_df_instr_free (in);
  return r;
}

/* ONBUILD triggers of an image base run first, as BuildKit does, and are then dropped
 * from the image.  (A stage base's triggers are already in the plan's instructions.) */
static int
run_image_triggers (sw_engine *e, sw_stage *s, sw_error **err)
{
  char **triggers = s->config->on_build;
  int r = 0;

  s->config->on_build = NULL;
  for (size_t i = 0; r == 0 && triggers && triggers[i]; i++)
    {
      sw_dockerfile *tdf = NULL;
      sw_df_instr *in = NULL;
      cleanup_free char *name = sw_xasprintf ("ONBUILD trigger of %s", s->base->name);
      r = sw_dockerfile_parse (triggers[i], strlen (triggers[i]), name, &tdf, err);
      if (r == 0 && tdf->ast->n_children != 1)
        r = sw_error_make (err, EINVAL, "%s: onbuild trigger should be a single expression", name);
      if (r == 0)
        r = sw_df_instr_parse (tdf, tdf->ast->children[0], &in, err);
      if (r == 0)
        r = stage_step (e, s, in, err);
      sw_df_instr_free (in);
      sw_dockerfile_free (tdf);
    }
  sw_strlist_free (triggers);
  return r;
}

/* --no-cache, or --no-cache-filter naming the stage (by name, or by index as buildx
 * accepts it): its steps run even when the cache has them. */
static bool
stage_no_cache (sw_engine *e, const sw_plan_stage *ps)
{
  if (e->b->no_cache)
    return true;
  for (size_t i = 0; i < e->b->no_cache_filter.n; i++)
    {
      const char *f = e->b->no_cache_filter.v[i];
      if (ps->name && strcasecmp (ps->name, f) == 0)
        return true;
      if (sw_plan_find_stage (e->plan, f) == (long) (ps - e->plan->stages))
        return true;
    }
  return false;
}

void
sw_engine_stage_missed (sw_engine *e, sw_stage *s)
{
  if (s->network_warmed)
    return;
  s->network_warmed = true;
  /* the first RUN on the own network ahead: pasta comes up while this step and the base
   * layers' extraction go on */
  for (size_t i = 0; i < s->ps->n_instrs; i++)
    {
      sw_net_mode m;
      sw_error *ignored = NULL;
      const sw_df_instr *in = s->ps->instrs[i];
      if (in->kind == SW_DF_RUN && sw_net_mode_parse (net_of (e, in), &m, &ignored) == 0)
        {
          sw_sandbox_network_warm (m);
          break;
        }
      sw_error_free (ignored);
    }
}

int
sw_engine_run_stage (sw_engine *e, size_t index, sw_error **err)
{
  sw_stage *s = &e->stages[index];

  if (s->done)
    return 0;
  s->ps = &e->plan->stages[index];
  s->index = index;
  s->no_cache = stage_no_cache (e, s->ps);
  /* a stage that runs its steps whatever the cache holds: pasta comes up while the base
   * is resolved; otherwise at the stage's first miss (sw_engine_stage_missed) — an
   * all-cached build starts no network at all */
  if (s->no_cache)
    sw_engine_stage_missed (e, s);
  if (stage_from (e, s, err) < 0)
    return -1;
  s->commit.config = s->config;
  s->commit.epoch = e->epoch_str;
  if (s->base && s->config->on_build && run_image_triggers (e, s, err) < 0)
    return -1;
  if (s->ps->n_onbuild > 0)
    {
      /* the base stage's triggers run here; the image does not pass them on */
      sw_strlist_free (s->config->on_build);
      s->config->on_build = NULL;
    }
  for (size_t i = 0; i < s->ps->n_instrs; i++)
    if (sw_engine_check_cancelled (e, err) < 0 || stage_step (e, s, s->ps->instrs[i], err) < 0)
      return -1;
  s->done = true;
  return 0;
}
