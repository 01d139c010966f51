/* exec/run_build.c — sw_build_run: a whole build, from the Dockerfile to the tags.
 *
 *   read and parse the Dockerfile → for each platform a plan → every needed stage of every
 *   platform, each on its own thread as soon as the stages it reads are done → per platform,
 *   export the target as an image → with several platforms, an index → tags, last
 *   → --metadata-file, --iidfile.
 *
 * A build that fails anywhere writes no tag: manifests are pushed by digest as they are
 * made, and only a complete build names them.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/csv.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "copy/context.h"
#include "dockerfile/lint.h"
#include "exec/cache.h"
#include "exec/engine.h"
#include "exec/outputs.h"
#include "sandbox/sandbox.h"
#include "image/mediatype.h"
#include "registry/auth.h"
#include "registry/ops.h"
#include "registry/publish.h"

/* ---- outputs -------------------------------------------------------------------- */

/* Every key of an --output spec is one slipway acts on: an option asked for and ignored
 * would be a silent surprise in CI. */
static int
check_output_keys (const char *spec, sw_error **err)
{
  static const char *const known[] = { "type", "dest", "name", "push", "tar", "oci-mediatypes", "compression",
                                       "compression-level", "push-by-digest", "name-canonical" };
  cleanup_strvec sw_strv fields = SW_STRV_INIT;
  const char *why;

  if (sw_csv_split (spec, &fields, &why) < 0)
    return sw_error_make (err, EINVAL, "invalid --output \"%s\": %s", spec, why);
  for (size_t f = 0; f < fields.n; f++)
    {
      char *p = fields.v[f];
      char *eq = strchr (p, '=');
      bool ok = false;
      if (*p == '\0')
        continue; /* an empty field ("type=local,,dest=x") names nothing */
      if (eq)
        *eq = '\0';
      for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        ok |= strcmp (p, known[i]) == 0;
      if (!ok)
        return sw_error_make (err, ENOTSUP, "not supported yet: --output %s=… (in \"%s\"); slipway knows %s", p, spec,
                              "type, dest, name, push, push-by-digest, name-canonical, tar, oci-mediatypes, "
                              "compression and compression-level");
    }
  return 0;
}

/* compression=gzip|zstd|uncompressed and compression-level=N, as buildx's image outputs
 * take them; one choice for the whole build, since a layer is packed once. */
static int
output_compression (sw_engine *e, const char *spec, sw_error **err)
{
  cleanup_free char *c = sw_csv_get (spec, "compression");
  cleanup_free char *level = sw_csv_get (spec, "compression-level");

  if (c)
    {
      sw_compression want;
      if (strcmp (c, "uncompressed") == 0)
        want = SW_COMPRESSION_NONE;
      else if (strcmp (c, "gzip") == 0)
        want = SW_COMPRESSION_GZIP;
      else if (strcmp (c, "zstd") == 0)
        want = SW_COMPRESSION_ZSTD;
      else
        return sw_error_make (err, EINVAL, "invalid compression \"%s\" in --output \"%s\": use gzip, zstd or uncompressed",
                              c, spec);
      if (e->compression_set && want != e->compression)
        return sw_error_make (err, ENOTSUP, "not supported yet: different compressions for different outputs");
      e->compression = want;
      e->compression_set = true;
    }
  if (level)
    {
      char *end;
      long v = strtol (level, &end, 10);
      if (*level == '\0' || *end || v < 0 || v > 22)
        return sw_error_make (err, EINVAL, "invalid compression-level \"%s\" in --output \"%s\"", level, spec);
      e->compression_level = (int) v;
    }
  return 0;
}

/* Decide where the image goes: push or nowhere.  Adds names given in outputs to tags. */
static int
plan_outputs (sw_engine *e, bool *push, sw_error **err)
{
  sw_build *b = e->b;
  *push = b->push;
  bool image_output = b->push; /* an image output decides the build's media types */
  if (b->load)
    return sw_error_make (err, ENOTSUP, "not supported yet: --load (there is no docker daemon to load into; "
                                        "use -o type=docker,dest=FILE and docker load)");
  for (size_t i = 0; i < b->outputs.n; i++)
    {
      const char *spec = b->outputs.v[i];
      cleanup_free char *type = sw_csv_get (spec, "type");
      cleanup_free char *shorthand = NULL;
      if (type == NULL && strchr (spec, '=') == NULL)
        {
          /* "-o DIR" is type=local,dest=DIR; "-o -" is type=tar,dest=- */
          type = sw_xstrdup (strcmp (spec, "-") == 0 ? "tar" : "local");
          spec = shorthand = sw_xasprintf ("dest=%s", spec);
        }
      if (type == NULL)
        return sw_error_make (err, EINVAL, "invalid --output \"%s\": it needs type=…", spec);
      if (check_output_keys (spec, err) < 0 || output_compression (e, spec, err) < 0)
        return -1;
      if (strcmp (type, "registry") != 0 && strcmp (type, "image") != 0)
        {
          int r = sw_outputs_add (e, type, spec, err);
          if (r < 0)
            return -1;
          if (r == 0)
            return sw_error_make (err, ENOTSUP, "not supported yet: --output type=%s", type);
          continue;
        }
      bool push_key, oci_types, by_digest, canonical;
      if (sw_output_spec_bool (spec, "push", false, &push_key, err) < 0
          || sw_output_spec_bool (spec, "oci-mediatypes", true, &oci_types, err) < 0
          || sw_output_spec_bool (spec, "push-by-digest", false, &by_digest, err) < 0
          || sw_output_spec_bool (spec, "name-canonical", false, &canonical, err) < 0)
        return -1;
      image_output = true;
      if (strcmp (type, "registry") == 0 || push_key)
        *push = true;
      /* push-by-digest: what a matrix job per platform pushes, for imagetools create to
       * combine; the name only says which repository */
      e->push_by_digest |= by_digest;
      e->name_canonical |= canonical;
      cleanup_free char *name = sw_csv_get (spec, "name");
      if (name)
        {
          char *save = NULL;
          for (char *p = strtok_r (name, ",", &save); p; p = strtok_r (NULL, ",", &save))
            {
              sw_ref *ref;
              if (sw_ref_parse (p, &ref, err) < 0)
                return sw_error_wrap (err, "invalid name in --output \"%s\"", spec);
              sw_strv_push (&b->tags, p);
              e->tags = sw_xreallocarray (e->tags, e->n_tags + 1, sizeof *e->tags);
              e->tags[e->n_tags++] = ref;
            }
        }
      if (!oci_types)
        e->docker_media_types = true;
    }
  if (!image_output && sw_outputs_docker_media_types (e))
    e->docker_media_types = true; /* the digests then name what the first file output holds */
  if (*push && b->tags.n == 0)
    return sw_error_make (err, EINVAL, "tag is needed when pushing to registry: add -t NAME:TAG");
  return 0;
}

/* ---- the Dockerfile --------------------------------------------------------------- */

static int
read_all (int fd, sw_buf *out, sw_error **err)
{
  if (sw_read_all (fd, 64u << 20, out) == 0)
    return 0;
  if (errno == EFBIG)
    return sw_error_make (err, EFBIG, "the Dockerfile is larger than 64 MiB");
  return sw_error_errno (err, "reading the Dockerfile");
}

static int
load_dockerfile (sw_engine *e, sw_error **err)
{
  sw_build *b = e->b;
  cleanup_buf sw_buf text = SW_BUF_INIT;
  cleanup_close int fd = -1;
  const char *display;

  if (b->dockerfile && strcmp (b->dockerfile, "-") == 0)
    {
      e->dockerfile_path = sw_xstrdup ("Dockerfile");
      display = "Dockerfile";
      if (read_all (STDIN_FILENO, &text, err) < 0)
        return -1;
    }
  else
    {
      e->dockerfile_path = b->dockerfile ? sw_xstrdup (b->dockerfile) : sw_xasprintf ("%s/Dockerfile", e->context);
      display = b->dockerfile ? b->dockerfile : "Dockerfile";
      /* the context's Dockerfile must be a file (a FIFO there must not hang the build);
       * an explicit -f may be a pipe (-f <(…)), as with buildx */
      fd = open (e->dockerfile_path, O_RDONLY | O_CLOEXEC | (b->dockerfile ? 0 : O_NONBLOCK | O_NOCTTY));
      if (fd < 0)
        {
          sw_error_make (err, errno, "failed to read dockerfile: open %s: %s", e->dockerfile_path, strerror (errno));
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      struct stat st;
      if (!b->dockerfile && (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)))
        {
          sw_error_make (err, EINVAL, "failed to read dockerfile: %s is not a regular file", e->dockerfile_path);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      if (read_all (fd, &text, err) < 0)
        return -1;
    }
  int id = sw_engine_vertex_start (e, "[internal] load build definition from %s", display);
  double t0 = sw_engine_now ();
  e->dockerfile_text = sw_xstrdup (text.data ? text.data : "");
  int r = sw_dockerfile_parse (text.data ? text.data : "", text.len, display, &e->df, err);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  if (r == 0 && e->df->syntax)
    /* BuildKit would fetch that frontend image and run it; slipway has one front end */
    sw_warn ("%s:%d: # syntax=%s requested: slipway uses its built-in Dockerfile frontend instead", display,
             e->df->syntax_line, e->df->syntax);
  return r;
}

/* The context directory and its ignore file, as buildx's first steps read them. */
static int
load_context (sw_engine *e, sw_error **err)
{
  int id = sw_engine_vertex_start (e, "[internal] load .dockerignore");
  double t0 = sw_engine_now ();
  int r = sw_context_open (e->context, e->b->dockerfile, &e->ctx, err);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  if (r < 0)
    sw_error_set_category (err, SW_ERR_INPUT);
  return r;
}

/* ---- the engine's life -------------------------------------------------------------- */

static char *
rfc3339 (time_t t)
{
  struct tm tm;
  char buf[64];
  gmtime_r (&t, &tm);
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return sw_xstrdup (buf);
}

static int
engine_open (sw_engine *e, sw_build *b, sw_error **err)
{
  char *real;

  e->b = b;
  e->epoch = -1;
  e->compression = SW_COMPRESSION_GZIP;
  e->compression_level = -1;
  if (b->env_error)
    {
      sw_error_make (err, b->env_error->errnum, "%s", sw_error_message (b->env_error));
      return -1;
    }
  if (b->source_date_epoch >= 0)
    {
      e->epoch = b->source_date_epoch;
      e->epoch_str = rfc3339 ((time_t) b->source_date_epoch);
    }
  e->created = rfc3339 (time (NULL));
  if (strcmp (b->context, "-") == 0)
    return sw_error_make (err, ENOTSUP, "not supported yet: a build context read from stdin (-); "
                                        "give a directory, and -f - for a Dockerfile on stdin");
  real = realpath (b->context, NULL);
  if (real == NULL)
    {
      sw_error_make (err, errno, "unable to prepare context: path \"%s\" not found: %s", b->context, strerror (errno));
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  e->context = real;
  struct stat st;
  if (stat (real, &st) < 0 || !S_ISDIR (st.st_mode))
    return sw_error_make (err, ENOTDIR, "unable to prepare context: %s is not a directory", b->context);
  if (sw_platform_host (&e->host, err) < 0)
    return -1;
  for (size_t i = 0; i < b->tags.n; i++)
    {
      sw_ref *ref;
      if (sw_ref_parse (b->tags.v[i], &ref, err) < 0)
        return sw_error_wrap (err, "invalid tag");
      e->tags = sw_xreallocarray (e->tags, e->n_tags + 1, sizeof *e->tags);
      e->tags[e->n_tags++] = ref;
    }
  /* --build-arg KEY takes KEY's value from the environment, and is dropped when it has
   * none, as docker does. */
  for (size_t i = 0; i < b->build_args.n; i++)
    {
      const char *a = b->build_args.v[i];
      if (strchr (a, '='))
        sw_strlist_push (&e->build_args, a);
      else if (getenv (a))
        {
          cleanup_free char *kv = sw_xasprintf ("%s=%s", a, getenv (a));
          sw_strlist_push (&e->build_args, kv);
        }
    }
  for (size_t i = 0; i < b->build_contexts.n; i++)
    {
      const char *v = strchr (b->build_contexts.v[i], '=') + 1;
      struct stat cst;
      if (strncmp (v, "docker-image://", 15) != 0 && (stat (v, &cst) < 0 || !S_ISDIR (cst.st_mode)))
        return sw_error_make (err, ENOTSUP, "--build-context %s: only docker-image://REF and local directories are "
                                            "supported yet", b->build_contexts.v[i]);
    }
  for (size_t i = 0; i < b->annotations.n; i++)
    {
      const char *a = b->annotations.v[i];
      const char *colon = strchr (a, ':'), *eq = strchr (a, '=');
      if (colon && colon < eq && strncmp (a, "manifest:", 9) != 0 && strncmp (a, "index:", 6) != 0)
        return sw_error_make (err, ENOTSUP, "not supported yet: --annotation %s (only manifest: and index: annotations)",
                              a);
      /* as BuildKit: one platform makes no index to put it on, and dropping it would be silent */
      if (strncmp (a, "index:", 6) == 0 && b->platforms.n < 2)
        return sw_error_make (err, EINVAL, "--annotation %s: index annotations not supported for single platform export "
                                           "(an index is made only for several --platform values)", a);
    }
  for (size_t i = 0; i < b->secrets.n; i++)
    {
      e->secrets = sw_xreallocarray (e->secrets, e->n_secrets + 1, sizeof *e->secrets);
      memset (&e->secrets[e->n_secrets], 0, sizeof *e->secrets);
      if (sw_secret_src_parse (b->secrets.v[i], &e->secrets[e->n_secrets], err) < 0)
        return sw_error_wrap (err, "--secret");
      e->n_secrets++;
    }
  for (size_t i = 0; i < b->ssh.n; i++)
    {
      e->ssh = sw_xreallocarray (e->ssh, e->n_ssh + 1, sizeof *e->ssh);
      memset (&e->ssh[e->n_ssh], 0, sizeof *e->ssh);
      if (sw_ssh_src_parse (b->ssh.v[i], &e->ssh[e->n_ssh], err) < 0)
        return sw_error_wrap (err, "--ssh");
      e->n_ssh++;
    }
  sw_registry_options ro = { .insecure = (const char *const *) b->insecure_registries.v,
                             .chunk_size = b->chunk_size,
                             .max_attempts = b->retry_attempts,
                             .max_retry_seconds = b->retry_seconds,
                             .daemon_json = b->daemon_json,
                             .layer_upload = b->layer_upload };
  e->hub = sw_xzalloc (sizeof *e->hub);
  sw_sandbox_stop_init (&e->hub->stop);
  pthread_mutex_init (&e->hub->lock, NULL);
  pthread_cond_init (&e->hub->cpu_freed, NULL);
  pthread_cond_init (&e->hub->disk_changed, NULL);
  e->hub->n_platforms = b->platforms.n ? b->platforms.n : 1;
  e->hub->platform_writers = sw_xcalloc (e->hub->n_platforms, sizeof *e->hub->platform_writers);
  e->hub->platform_exported = sw_xcalloc (e->hub->n_platforms, sizeof *e->hub->platform_exported);
  e->hub->cpu_slots = b->max_parallelism > 0 ? b->max_parallelism : (int) sysconf (_SC_NPROCESSORS_ONLN);
  if (e->hub->cpu_slots < 1)
    e->hub->cpu_slots = 1;
  e->reg = sw_registry_new (&ro);
  if (sw_state_open (b->state_dir, &e->state, err) < 0)
    return -1;
  {
    /* manifests and configs by digest: a base resolved again costs one request (its tag) */
    cleanup_free char *docs = sw_xasprintf ("%s/docs", sw_state_dir (e->state));
    sw_registry_set_docs (e->reg, docs);
  }
  /* Two workers: one layer compresses while another uploads; the queue bound keeps a
   * burst of small steps from piling up work. */
  e->workers = sw_workers_new (2, 8);
  sw_emu_options eo = { .mode = SW_EMU_BINFMT_AUTO, .qemu_search = b->qemu_path };
  e->emu = sw_emu_set_new (&eo);
  return sw_cache_remote_open (e, err);
}

static void
engine_stages_free (sw_engine *e)
{
  sw_engine_prefetch_end (e);
  for (size_t i = 0; e->plan && e->stages && i < e->plan->n_stages; i++)
    {
      sw_stage *s = &e->stages[i];
      pthread_mutex_destroy (&s->base_lock);
      sw_platform_clear (&s->platform);
      sw_base_free (s->base);
      sw_image_config_free (s->config);
      sw_plan_env_free (s->env);
      sw_strlist_free (s->arg_names);
      free (s->layers);
    }
  free (e->stages);
  e->stages = NULL;
}

static void
engine_close (sw_engine *e)
{
  sw_strv_free (&e->plan_warnings);
  if (e->workers)
    {
      sw_workers_wait (e->workers, NULL);
      sw_workers_free (e->workers);
    }
  if (e->state)
    sw_cache_commit (e); /* before the session goes: its layers move to the store */
  engine_stages_free (e);
  sw_outputs_free (e);
  sw_emu_set_free (e->emu); /* removes any binfmt entry this build added */
  sw_cache_remote_free (e);
  if (e->hub)
    {
      sw_engine_hub *h = e->hub;
      for (size_t i = 0; i < h->n_all_layers; i++)
        {
          free (h->all_layers[i]->dir);
          free (h->all_layers[i]->label);
          free (h->all_layers[i]->pushed_to);
          free (h->all_layers[i]);
        }
      free (h->all_layers);
      sw_df_findings_free (h->findings, h->n_findings);
      sw_sandbox_stop_destroy (&h->stop);
      pthread_mutex_destroy (&h->lock);
      pthread_cond_destroy (&h->cpu_freed);
      pthread_cond_destroy (&h->disk_changed);
      free (h->platform_writers);
      free (h->platform_exported);
      free (h);
    }
  sw_plan_free (e->plan);
  sw_dockerfile_free (e->df);
  if (e->state)
    sw_state_close (e->state); /* removes the session: every upper dir of this build */
  sw_registry_free (e->reg);
  for (size_t i = 0; i < e->n_tags; i++)
    sw_ref_free (e->tags[i]);
  free (e->tags);
  sw_ref_free (e->push_repo);
  for (size_t i = 0; i < e->n_secrets; i++)
    sw_secret_src_clear (&e->secrets[i]);
  free (e->secrets);
  for (size_t i = 0; i < e->n_ssh; i++)
    sw_ssh_src_clear (&e->ssh[i]);
  free (e->ssh);
  sw_platform_clear (&e->host);
  sw_platform_clear (&e->platform);
  sw_strlist_free (e->build_args);
  free (e->context);
  sw_context_free (e->ctx);
  free (e->dockerfile_path);
  free (e->dockerfile_text);
  sw_engine_attest_free (e);
  free (e->created);
  free (e->epoch_str);
}

const char *
sw_engine_build_context (sw_engine *e, const char *name)
{
  size_t n = strlen (name);
  for (size_t i = 0; i < e->b->build_contexts.n; i++)
    {
      const char *c = e->b->build_contexts.v[i];
      if (strncmp (c, name, n) == 0 && c[n] == '=')
        return c + n + 1;
    }
  return NULL;
}

/* ---- the platforms and their stages, at once ------------------------------------------ */

/* One platform of the build: a platform engine (engine.h) with the root's shared pieces. */
typedef struct platform_build
{
  sw_engine e;
  const char *name; /* the --platform value, or NULL for the host's */
  size_t index;
} platform_build;

enum task_state
{
  TASK_WAITING,
  TASK_RUNNING,
  TASK_DONE,
  TASK_FAILED
};

/* One stage of one platform, on its own thread once the stages it reads are done; or a
 * platform's export, once all its stages are. */
typedef struct stage_task
{
  platform_build *pb;
  size_t stage;
  sw_image_result *export; /* an export task: the platform's image goes here */
  enum task_state state; /* under the scheduler's lock */
  bool started;          /* a thread was made (to join) */
  pthread_t thread;
  sw_error *err;
  unsigned long fail_seq; /* the order failures happened in: the first one is the build's error */
  struct scheduler *sched;
} stage_task;

typedef struct scheduler
{
  sw_build *b;
  sw_engine_hub *hub;
  sw_log_route *route;
  pthread_mutex_t lock;
  unsigned long failures;
  stage_task *tasks;
  size_t n_tasks;
} scheduler;

static int platform_export (platform_build *pb, sw_image_result *out, sw_error **err);

static void *
stage_thread (void *arg)
{
  stage_task *t = arg;
  scheduler *sc = t->sched;

  sw_log_route_adopt (sc->route); /* its messages reach the build's thread */
  int r = t->export ? platform_export (t->pb, t->export, &t->err) : sw_engine_run_stage (&t->pb->e, t->stage, &t->err);
  pthread_mutex_lock (&sc->lock);
  t->state = r < 0 ? TASK_FAILED : TASK_DONE;
  if (r < 0)
    t->fail_seq = ++sc->failures;
  pthread_mutex_unlock (&sc->lock);
  if (r < 0)
    sw_sandbox_stop_request (&sc->hub->stop); /* the siblings stop now: their steps are killed */
  sw_build_wake (sc->b);
  return NULL;
}

/* Are the stages t reads (its base, COPY --from, RUN --mount=from=) done?  An export
 * reads all its platform's. */
static bool
task_ready (scheduler *sc, const stage_task *t)
{
  if (t->export)
    {
      for (size_t i = 0; i < sc->n_tasks; i++)
        if (sc->tasks[i].pb == t->pb && !sc->tasks[i].export && sc->tasks[i].state != TASK_DONE)
          return false;
      return true;
    }
  const sw_plan_stage *ps = &t->pb->e.plan->stages[t->stage];
  for (size_t d = 0; d < ps->n_deps; d++)
    {
      if (ps->deps[d].stage < 0)
        continue;
      for (size_t i = 0; i < sc->n_tasks; i++)
        if (sc->tasks[i].pb == t->pb && !sc->tasks[i].export && sc->tasks[i].stage == (size_t) ps->deps[d].stage
            && sc->tasks[i].state != TASK_DONE)
          return false;
    }
  return true;
}

/* The failure to report: the first that was not a cancellation (a sibling stopped
 * because of it, or the caller's cancel). */
static stage_task *
first_failure (scheduler *sc)
{
  stage_task *best = NULL;
  for (int pass = 0; pass < 2 && best == NULL; pass++)
    for (size_t i = 0; i < sc->n_tasks; i++)
      {
        stage_task *t = &sc->tasks[i];
        if (t->state != TASK_FAILED || (pass == 0 && sw_error_category_of (t->err) == SW_ERR_CANCELLED))
          continue;
        if (best == NULL || t->fail_seq < best->fail_seq)
          best = t;
      }
  return best;
}

/* Run every needed stage of every platform, and export each platform's image: each as
 * soon as what it reads is done, all on their own threads, while this thread hands their
 * events to the caller.  A platform is exported as soon as its own stages are done, not
 * after the others': its image is out sooner, and once exported its pushed layers may
 * leave the disk for the platforms still writing (exec/disk.c). */
static int
run_stages (sw_engine *root, platform_build *pbs, size_t n_platforms, sw_image_result *results, sw_error **err)
{
  scheduler sc = { .b = root->b, .hub = root->hub, .route = root->b->log_route };
  int r = 0;

  pthread_mutex_init (&sc.lock, NULL);
  for (size_t p = 0; p < n_platforms; p++)
    sc.n_tasks += pbs[p].e.plan->n_order + 1;
  sc.tasks = sw_xcalloc (sc.n_tasks + 1, sizeof *sc.tasks);
  for (size_t p = 0, k = 0; p < n_platforms; p++)
    {
      for (size_t i = 0; i < pbs[p].e.plan->n_order; i++, k++)
        sc.tasks[k] = (stage_task){ .pb = &pbs[p], .stage = pbs[p].e.plan->order[i], .sched = &sc };
      sc.tasks[k++] = (stage_task){ .pb = &pbs[p], .export = &results[p], .sched = &sc };
    }

  for (;;)
    {
      size_t running = 0, waiting = 0;
      pthread_mutex_lock (&sc.lock);
      bool failed = sc.failures > 0;
      for (size_t i = 0; i < sc.n_tasks; i++)
        {
          stage_task *t = &sc.tasks[i];
          if (t->state == TASK_WAITING && !failed && task_ready (&sc, t))
            {
              t->state = TASK_RUNNING;
              if (pthread_create (&t->thread, NULL, stage_thread, t) != 0)
                {
                  t->state = TASK_FAILED;
                  t->fail_seq = ++sc.failures;
                  sw_error_make (&t->err, errno, "cannot start a thread for a stage");
                  failed = true;
                  continue;
                }
              t->started = true;
            }
          running += t->state == TASK_RUNNING;
          waiting += t->state == TASK_WAITING;
        }
      pthread_mutex_unlock (&sc.lock);
      if (running == 0 && (waiting == 0 || failed))
        break;
      if (sw_sandbox_stop_requested (&root->b->stop))
        sw_sandbox_stop_request (&root->hub->stop); /* the caller's cancel reaches every stage */
      sw_build_pump (root->b, 0.2);
    }
  for (size_t i = 0; i < sc.n_tasks; i++)
    if (sc.tasks[i].started)
      pthread_join (sc.tasks[i].thread, NULL);
  sw_build_pump (root->b, 0);

  stage_task *first = first_failure (&sc);
  if (first)
    {
      sw_error_move (err, &first->err);
      r = -1;
    }
  else if (sw_build_check_cancelled (root->b, err) < 0)
    r = sw_error_set_category (err, SW_ERR_CANCELLED);
  for (size_t i = 0; i < sc.n_tasks; i++)
    sw_error_free (sc.tasks[i].err);
  free (sc.tasks);
  pthread_mutex_destroy (&sc.lock);
  return r;
}

/* The platform engine for one platform: the root's shared pieces, its own plan and stages. */
static int
platform_open (sw_engine *root, platform_build *pb, const char *platform, size_t index, sw_error **err)
{
  cleanup_free char *host = sw_platform_format (&root->host);
  sw_plan_opts po = { .target = root->b->target,
                      .build_args = (const char *const *) root->build_args,
                      .build_platform = host,
                      .target_platform = platform };

  pb->e = *root;
  pb->e.plan = NULL;
  pb->e.stages = NULL;
  memset (&pb->e.platform, 0, sizeof pb->e.platform);
  pb->name = platform;
  pb->index = index;
  pb->e.platform_index = index;
  if (sw_plan_new (root->df, &po, &pb->e.plan, err) < 0)
    return -1;
  for (size_t i = 0; i < pb->e.plan->warnings.n; i++)
    {
      sw_event ev = { .kind = SW_EVENT_WARNING, .text = pb->e.plan->warnings.v[i] };
      sw_build_emit (root->b, &ev);
      if (index == 0) /* the metadata file lists them once, as buildx does */
        sw_strv_push (&root->plan_warnings, pb->e.plan->warnings.v[i]);
    }
  pb->e.stages = sw_xcalloc (pb->e.plan->n_stages + 1, sizeof *pb->e.stages);
  for (size_t i = 0; i < pb->e.plan->n_stages; i++)
    pthread_mutex_init (&pb->e.stages[i].base_lock, NULL);
  /* provenance lists this platform's images and URLs: its own lists, not the root's */
  pb->e.sources = NULL;
  pb->e.n_sources = 0;
  pb->e.urls = NULL;
  pb->e.n_urls = 0;
  /* every stage's base resolves now, all at once (the stages take them as they start) */
  sw_engine_prefetch_bases (&pb->e);
  return 0;
}

static void
platform_close (platform_build *pb)
{
  sw_engine_forget_images (&pb->e);
  engine_stages_free (&pb->e);
  sw_plan_free (pb->e.plan);
  pb->e.plan = NULL;
  sw_platform_clear (&pb->e.platform);
}

/* After its stages, on its own thread: the platform's image, its attestations, its smoke
 * tests.  Its blobs go into the file outputs later, platform by platform in order, on the
 * build's thread (the outputs are single streams). */
static int
platform_export (platform_build *pb, sw_image_result *out, sw_error **err)
{
  sw_engine *e = &pb->e;
  sw_stage *target = &e->stages[e->plan->target];
  if (sw_engine_check_cancelled (e, err) < 0)
    return -1;
  if (sw_engine_attest_predicates (e, target, out, err) < 0 || sw_engine_export_image (e, target, out, err) < 0
      || sw_engine_attest (e, target, out, err) < 0 || sw_engine_smoke (e, target, err) < 0)
    return -1;
  /* no later step reads this platform's layers: once pushed, the disk may have them back
   * (with file outputs nothing goes: they pack the layers again) */
  sw_engine_platform_exported (e);
  return 0;
}

/* ---- results ---------------------------------------------------------------------------- */

static int
write_file (const char *path, const char *content, sw_error **err)
{
  FILE *f = fopen (path, "we");
  if (f == NULL)
    return sw_error_errno (err, "open %s", path);
  fputs (content, f);
  if (fclose (f) != 0)
    return sw_error_errno (err, "write %s", path);
  return 0;
}

/* buildx's build reference, BUILDER/NODE/ID: slipway is the one builder, slipway0 its node
 * (what `docker buildx ls` shows through the plugin); ID is random, 25 characters of
 * [a-z0-9] as BuildKit's. */
static void
build_ref (char *out, size_t size)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char rnd[25];
  char id[sizeof rnd + 1];

  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    for (size_t i = 0; i < sizeof rnd; i++) /* no entropy yet: still unique enough per build */
      rnd[i] = (unsigned char) (rand () ^ (int) getpid () ^ (int) time (NULL));
  for (size_t i = 0; i < sizeof rnd; i++)
    id[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
  id[sizeof rnd] = '\0';
  snprintf (out, size, "slipway/slipway0/%s", id);
}

static int
write_metadata (sw_engine *e, const char *digest, const char *media_type, int64_t size, const char *config_digest,
                sw_error **err)
{
  sw_build *b = e->b;
  cleanup_buf sw_buf names = SW_BUF_INIT;
  cleanup_buf sw_buf json = SW_BUF_INIT;
  char ref[64];

  /* config_digest is NULL for several platforms: there is no one config, and buildx then
   * writes the index's digest as the image ID and no containerimage.config.digest */
  if (b->iidfile && write_file (b->iidfile, config_digest ? config_digest : digest, err) < 0)
    return -1;
  if (b->metadata_file == NULL)
    return 0;
  for (size_t i = 0; i < e->n_tags; i++)
    {
      cleanup_free char *s = sw_ref_string (e->tags[i]);
      if (e->name_canonical)
        {
          /* REPO@DIGEST: the tag, if any, dropped */
          sw_ref *r = sw_ref_dup (e->tags[i]);
          free (r->tag);
          r->tag = NULL;
          free (r->digest);
          r->digest = sw_xstrdup (digest);
          free (s);
          s = sw_ref_string (r);
          sw_ref_free (r);
        }
      sw_buf_printf (&names, "%s%s", i ? "," : "", s);
    }
  sw_buf_puts (&json, "{\n");
  if (config_digest)
    sw_buf_printf (&json, "  \"containerimage.config.digest\": \"%s\",\n", config_digest);
  sw_buf_printf (&json,
                 "  \"containerimage.descriptor\": {\n    \"mediaType\": \"%s\",\n    \"digest\": \"%s\",\n"
                 "    \"size\": %lld\n  },\n  \"containerimage.digest\": \"%s\"",
                 media_type, digest, (long long) size, digest);
  if (names.len)
    sw_buf_printf (&json, ",\n  \"image.name\": \"%s\"", names.data);
  build_ref (ref, sizeof ref);
  sw_buf_printf (&json, ",\n  \"buildx.build.ref\": \"%s\",\n  \"buildx.build.warnings\": [", ref);
  /* the build checks' findings, then the plan's warnings (buildx's VertexWarning: level 1,
   * the message base64-encoded in "short") */
  size_t n = sw_engine_lint_metadata (e, &json);
  for (size_t i = 0; i < e->plan_warnings.n; i++, n++)
    {
      cleanup_free char *b64 = sw_base64_encode (e->plan_warnings.v[i], strlen (e->plan_warnings.v[i]));
      sw_buf_printf (&json, "%s\n    { \"level\": 1, \"short\": \"%s\" }", n ? "," : "", b64);
    }
  sw_buf_puts (&json, n ? "\n  ]\n}\n" : "]\n}\n");
  return write_file (b->metadata_file, json.data, err);
}

/* The names, all together: see registry/publish.h.  Each tag's repository gets the image by
 * digest first (blobs mounted from the push repository). */
struct publish_vertex
{
  sw_engine *e;
  int id;
};

static void
publish_note (void *ud, const char *line)
{
  struct publish_vertex *v = ud;
  sw_engine_vertex_log (v->e, v->id, 1, line);
}

static int
push_tags (sw_engine *e, int vertex, const char *digest, const sw_buf *document, const char *media_type,
           sw_error **err)
{
  struct publish_vertex v = { e, vertex };
  sw_publish_tag *pt = sw_xcalloc (e->n_tags + 1, sizeof *pt);
  for (size_t i = 0; i < e->n_tags; i++)
    pt[i] = (sw_publish_tag){ .tag = e->tags[i], .source = e->push_repo, .digest = digest,
                              .document = document->data, .document_len = document->len,
                              .media_type = media_type };
  int r = sw_publish_tags (e->reg, pt, e->n_tags, publish_note, &v, err);
  free (pt);
  return r;
}

int
sw_build_run (sw_build *b, sw_error **err)
{
  sw_engine e = { 0 };
  sw_image_result *results = NULL;
  platform_build *pbs = NULL;
  size_t n_pbs = 0;
  size_t n_platforms = b->platforms.n ? b->platforms.n : 1;
  cleanup_buf sw_buf final = SW_BUF_INIT; /* the document the tags name */
  char final_digest[SW_DIGEST_BUFSZ] = "";
  const char *final_type = NULL;
  bool push;
  int r = -1;

  if (sw_build_check_cancelled (b, err) < 0)
    return -1;
  /* BuildKit's entitlements, checked before any work (RUN --network=host: at the step):
   * what the build may use must fit in the user's grant, when there is one */
  if (sw_build_check_grant (b, err) < 0)
    return -1;
  if (b->network && strcmp (b->network, "host") == 0 && !b->allow_network_host)
    {
      sw_error_make (err, EPERM, "network.host is not allowed: --network host needs --allow network.host");
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if ((b->cgroup_limits.memory_max || b->cgroup_limits.cpu_quota_us) && b->cgroup_parent == NULL)
    {
      sw_error_make (err, EINVAL, "--memory and --cpu-quota limit each RUN's own cgroup: they need "
                     "--cgroup-parent (the cgroup v2 those go under)");
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  sw_build_log_begin (b);
  if (engine_open (&e, b, err) < 0 || plan_outputs (&e, &push, err) < 0 || sw_engine_attest_setup (&e, push, err) < 0)
    {
      sw_error_set_category (err, SW_ERR_INPUT); /* the options and the context */
      goto out;
    }
  if (push)
    {
      /* New layers go to the first tag's repository; the others get them by mount. */
      e.push_repo = sw_ref_dup (e.tags[0]);
      free (e.push_repo->tag);
      e.push_repo->tag = NULL;
      free (e.push_repo->digest);
      e.push_repo->digest = NULL;
    }
  else if (b->outputs.n == 0 && !b->call_check)
    sw_warn ("No output specified: the build result will only be checked, not stored (use --push or -o)");
  if (load_dockerfile (&e, err) < 0 || load_context (&e, err) < 0)
    goto out;
  sw_engine_lint (&e);
  if (b->call_check)
    {
      r = sw_engine_check_report (&e, err);
      goto out;
    }

  results = sw_xcalloc (n_platforms, sizeof *results);
  pbs = sw_xcalloc (n_platforms, sizeof *pbs);
  for (size_t i = 0; i < n_platforms; i++, n_pbs++)
    if (platform_open (&e, &pbs[i], b->platforms.n ? b->platforms.v[i] : NULL, i, err) < 0)
      goto out;
  /* every platform runs every stage it needs, all at once where the graph allows, and
   * exports its image once its stages are done */
  if (run_stages (&e, pbs, n_platforms, results, err) < 0)
    goto out;
  for (size_t i = 0; i < n_platforms; i++)
    if (sw_outputs_write_platform (&pbs[i].e, &pbs[i].e.stages[pbs[i].e.plan->target], &results[i], i, n_platforms,
                                   err)
        < 0)
      goto out;

  /* An index with several platforms, or with attestations (as buildx: a single-platform
   * image without attestations stays a plain manifest, which some runtimes need). */
  bool attested = results[0].attested;
  if (n_platforms == 1 && !attested)
    {
      snprintf (final_digest, sizeof final_digest, "%s", results[0].manifest_digest);
      final_type = results[0].manifest_media_type;
      sw_buf_append (&final, results[0].manifest_json.data, results[0].manifest_json.len);
    }
  else
    {
      sw_index ix = { 0 };
      ix.media_type = e.docker_media_types ? SW_MT_DOCKER_LIST : SW_MT_OCI_INDEX;
      ix.n_manifests = n_platforms;
      ix.manifests = sw_xcalloc (2 * n_platforms, sizeof *ix.manifests);
      sw_desc_platform *plats = sw_xcalloc (n_platforms, sizeof *plats);
      for (size_t i = 0; i < n_platforms; i++)
        {
          ix.manifests[i].media_type = results[i].manifest_media_type;
          ix.manifests[i].digest = results[i].manifest_digest;
          ix.manifests[i].size = results[i].manifest_size;
          plats[i].os = results[i].platform.os;
          plats[i].architecture = results[i].platform.arch;
          plats[i].variant = *results[i].platform.variant ? results[i].platform.variant : NULL;
          ix.manifests[i].platform = &plats[i];
        }
      /* the attestation manifests, after every runnable one */
      for (size_t i = 0; i < n_platforms; i++)
        if (results[i].attested)
          sw_attest_descriptor (&results[i].attest, &ix.manifests[ix.n_manifests++]);
      for (size_t i = 0; i < b->annotations.n; i++)
        if (strncmp (b->annotations.v[i], "index:", 6) == 0)
          {
            cleanup_free char *k = sw_xstrdup (b->annotations.v[i] + 6);
            char *eq = strchr (k, '=');
            *eq = '\0';
            sw_kv_set (&ix.annotations, &ix.n_annotations, k, eq + 1);
          }
      sw_index_serialize (&ix, &final);
      for (size_t i = n_platforms; i < ix.n_manifests; i++)
        sw_attest_descriptor_clear (&ix.manifests[i]);
      for (size_t i = 0; i < ix.n_annotations; i++)
        {
          free (ix.annotations[i].key);
          free (ix.annotations[i].value);
        }
      free (ix.annotations);
      free (ix.manifests);
      free (plats);
      sw_digest_bytes (final.data, final.len, final_digest);
      final_type = ix.media_type;
      if (push && sw_manifest_put (e.reg, e.push_repo, final_digest, final_type, final.data, final.len, err) < 0)
        goto out;
    }

  /* The files (-o oci|docker|local|tar), before the names: a failed output publishes no tag. */
  if (sw_build_check_cancelled (b, err) < 0)
    goto out;
  if (sw_outputs_write_image (&e, results, n_platforms, final_type, final_digest, &final, err) < 0
      || sw_outputs_commit (&e, err) < 0)
    goto out;

  /* The cache export, before the names: without ignore-error, a failed export fails the
   * build with no tag moved. */
  if (sw_cache_remote_export (&e, results, n_platforms, err) < 0)
    goto out;

  /* Last: the names.  Everything they point at is in the registry by now, and passed its
   * smoke tests.  With SW_OPT_PUBLISH "none" the caller names it (sw_publish_run). */
  if (push && e.push_by_digest)
    {
      /* no name: the manifest by its digest (an index already is) */
      if (n_platforms == 1
          && sw_manifest_put (e.reg, e.push_repo, final_digest, final_type, final.data, final.len, err) < 0)
        goto out;
    }
  else if (push && !b->publish_none)
    {
      int id = sw_engine_vertex_start (&e, "pushing tags");
      double t0 = sw_engine_now ();
      int pr = push_tags (&e, id, final_digest, &final, final_type, err);
      sw_engine_vertex_done (&e, id, t0, pr < 0 ? *err : NULL);
      if (pr < 0)
        goto out;
    }
  if (write_metadata (&e, final_digest, final_type,
                      n_platforms == 1 && !attested ? results[0].manifest_size : (int64_t) final.len,
                      n_platforms == 1 ? results[0].config_digest : NULL, err) < 0)
    goto out;
  free (b->digest);
  b->digest = sw_xstrdup (final_digest);
  free (b->image_id);
  b->image_id = sw_xstrdup (results[0].config_digest);
  sw_engine_lint_warnings (&e);
  r = 0;
out:
  for (size_t i = 0; results && i < n_platforms; i++)
    {
      free (results[i].manifest_media_type);
      sw_buf_free (&results[i].manifest_json);
      sw_buf_free (&results[i].config_json);
      free (results[i].layers);
      sw_image_result_attest_clear (&results[i]);
      sw_platform_clear (&results[i].platform);
    }
  free (results);
  if (e.workers)
    {
      /* their jobs read the platforms' layers; a failed build's cache uploads that have
       * not started are not wanted any more */
      if (r < 0)
        sw_workers_drop_background (e.workers);
      sw_workers_wait (e.workers, NULL);
      sw_workers_wait_background (e.workers, NULL);
    }
  for (size_t i = 0; i < n_pbs; i++)
    platform_close (&pbs[i]);
  free (pbs);
  engine_close (&e); /* joins every thread of the build: nothing logs for it after this */
  sw_build_log_end (b);
  return r;
}
