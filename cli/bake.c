/* cli/bake.c — `slipway bake [TARGET|GROUP…]`, flag for flag `docker buildx bake`, and
 * `slipway publish --from METADATA.json [--smoke CMD…]`.
 *
 * The definition comes from the library (sw_bake_definition: buildx's files, lookup,
 * merging and overrides); each target is one sw_build.  Independent targets build two at
 * a time (a target whose contexts name `target:y` waits for y).  With --push, the default
 * publish is atomic: every target is pushed by digest only, smoke-tested, and then all
 * tags of all targets move in one sw_publish_run() — a failure anywhere moves no tag of
 * any target.  --publish=per-target gives buildx's behaviour (each target tags as it
 * finishes).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_PARALLEL 2

struct list
{
  const char **v; /* NULL-terminated */
  size_t n;
};

static void
list_push (struct list *l, const char *s)
{
  l->v = realloc (l->v, (l->n + 2) * sizeof *l->v);
  if (l->v == NULL)
    abort ();
  l->v[l->n++] = s;
  l->v[l->n] = NULL;
}

enum tstate
{
  T_WAITING,
  T_RUNNING,
  T_DONE,
  T_FAILED,
  T_SKIPPED,
};

struct target
{
  const char *name;
  json_t *def;
  sw_build *b;
  enum tstate state;
  char *digest;
  char *metadata_path;
  bool linked;   /* only built as another target's context (output cacheonly): never tagged */
  char *repo;    /* the repository its image is pushed to (its first tag's) */
  bool pushes;   /* its outputs push (--push, --set *.push, or an image/registry output) */
  sw_error *err;
  struct bake *bake;
};

struct bake
{
  struct target *t;
  size_t n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running;
  bool failed;
  bool quiet;
  bool push;
  bool per_target;
  const char *state_dir;
  struct list insecure;
  struct list allow; /* --allow: the entitlements targets may be given */
  struct list smoke;
  const char *smoke_timeout;
  pthread_mutex_t out_mu;
  char tmpdir[64];
};

static struct bake *running_bake;

static void
on_signal (int sig)
{
  (void) sig;
  sw_cancel (); /* every running step of every target; the builds then fail */
  for (size_t i = 0; running_bake && i < running_bake->n; i++)
    if (running_bake->t[i].b)
      sw_build_cancel (running_bake->t[i].b);
}

/* ---- progress: every line prefixed with its target -------------------------------- */

static void
on_event (const sw_event *ev, void *userdata)
{
  struct target *t = userdata;
  struct bake *bk = t->bake;
  if (bk->quiet && ev->kind != SW_EVENT_WARNING)
    return;
  pthread_mutex_lock (&bk->out_mu);
  switch (ev->kind)
    {
    case SW_EVENT_STEP_START:
      fprintf (stderr, "[%s] #%d %s\n", t->name, ev->id, ev->name ? ev->name : "");
      break;
    case SW_EVENT_STEP_LOG:
      fprintf (stderr, "[%s] #%d %s\n", t->name, ev->id, ev->text ? ev->text : "");
      break;
    case SW_EVENT_STEP_DONE:
      if (ev->status == 0)
        fprintf (stderr, "[%s] #%d DONE %.1fs\n", t->name, ev->id, ev->elapsed);
      else
        fprintf (stderr, "[%s] #%d ERROR: %s\n", t->name, ev->id, ev->text ? ev->text : "");
      break;
    case SW_EVENT_STEP_CACHED:
      fprintf (stderr, "[%s] #%d CACHED\n", t->name, ev->id);
      break;
    case SW_EVENT_WARNING:
      fprintf (stderr, "[%s] WARNING: %s\n", t->name, ev->text ? ev->text : "");
      break;
    case SW_EVENT_LOG:
      if (ev->level <= SW_LOG_WARN)
        fprintf (stderr, "[%s] %s\n", t->name, ev->text ? ev->text : "");
      break;
    case SW_EVENT_PROGRESS:
      break;
    }
  pthread_mutex_unlock (&bk->out_mu);
}

static void
on_publish_event (const sw_event *ev, void *userdata)
{
  struct bake *bk = userdata;
  if (!bk->quiet && ev->text)
    fprintf (stderr, "[publish] %s\n", ev->text);
}

/* ---- a target's build ----------------------------------------------------------------- */

static char *repo_of (const char *ref);

static int
set (sw_build *b, sw_option o, const char *v, sw_error **err)
{
  return sw_build_set (b, o, v, err);
}

static int
unsupported (const struct target *t, const char *field, sw_error **err)
{
  /* the public API has no error constructor: a build option that is known to fail */
  (void) err;
  fprintf (stderr, "slipway: target %s: not supported yet: %s\n", t->name, field);
  return -1;
}

/* An object of buildx's CSV attributes back to "k=v,k=v" (type first). */
static char *
csv_of (const json_t *o)
{
  size_t cap = 256, len = 0;
  char *s = calloc (1, cap);
  const char *k;
  json_t *v;
  const char *type = json_string_value (json_object_get (o, "type"));
  if (s == NULL)
    abort ();
  if (type)
    len += (size_t) snprintf (s, cap, "type=%s", type);
  json_object_foreach ((json_t *) o, k, v)
    {
      if (strcmp (k, "type") == 0 || !json_is_string (v))
        continue;
      size_t need = len + strlen (k) + strlen (json_string_value (v)) + 4;
      if (need > cap)
        {
          cap = need * 2;
          s = realloc (s, cap);
          if (s == NULL)
            abort ();
        }
      len += (size_t) snprintf (s + len, cap - len, "%s%s=%s", len ? "," : "", k, json_string_value (v));
    }
  return s;
}

/* The target's definition as build options.  -1 when a field is not supported (said on
 * stderr) or an option is refused (*err). */
static int
configure (struct bake *bk, struct target *t, sw_error **err)
{
  const json_t *d = t->def;
  sw_build *b = t->b;
  const char *k;
  json_t *v;
  size_t i;
  json_t *e;
  const char *ctx = json_string_value (json_object_get (d, "context"));
  const char *df = json_string_value (json_object_get (d, "dockerfile"));

  static const char *const refused[] = { "dockerfile-inline", "cache-from", "cache-to", "attest", "shm-size",
                                         "ulimits", "call", "no-cache-filter" };
  for (i = 0; i < sizeof refused / sizeof *refused; i++)
    if (json_object_get (d, refused[i]))
      return unsupported (t, refused[i], err);
  /* What the target asks — its `entitlements`, and network.host for network = "host" — is
   * what its build may use; bake's --allow is the user's grant ("" when there is none),
   * which the build checks it against before any work, as buildx bake does */
  json_array_foreach (json_object_get (d, "entitlements"), i, e)
    {
      const char *name = json_string_value (e);
      if (strcmp (name, "network.host") != 0 && strcmp (name, "security.insecure") != 0)
        return unsupported (t, name, err);
      if (set (b, SW_OPT_ALLOW, name, err) < 0)
        return -1;
    }
  const char *network = json_string_value (json_object_get (d, "network"));
  if (network && strcmp (network, "host") == 0 && set (b, SW_OPT_ALLOW, "network.host", err) < 0)
    return -1;
  if (bk->allow.n == 0 && set (b, SW_OPT_GRANT, "", err) < 0)
    return -1;
  for (i = 0; i < bk->allow.n; i++)
    if (set (b, SW_OPT_GRANT, bk->allow.v[i], err) < 0)
      return -1;
  if (set (b, SW_OPT_CONTEXT, ctx, err) < 0)
    return -1;
  if (df)
    {
      /* buildx: the Dockerfile is relative to the context unless absolute */
      char *path = df[0] == '/' ? strdup (df) : NULL;
      if (path == NULL && asprintf (&path, "%s/%s", ctx, df) < 0)
        abort ();
      int r = set (b, SW_OPT_DOCKERFILE, path, err);
      free (path);
      if (r < 0)
        return -1;
    }
  json_array_foreach (json_object_get (d, "tags"), i, e)
    if (set (b, SW_OPT_TAG, json_string_value (e), err) < 0)
      return -1;
  if (json_array_size (json_object_get (d, "tags")))
    t->repo = repo_of (json_string_value (json_array_get (json_object_get (d, "tags"), 0)));
  json_object_foreach (json_object_get (d, "args"), k, v)
    {
      char *kv;
      if (json_is_null (v))
        continue;
      if (asprintf (&kv, "%s=%s", k, json_string_value (v)) < 0)
        abort ();
      int r = set (b, SW_OPT_BUILD_ARG, kv, err);
      free (kv);
      if (r < 0)
        return -1;
    }
  json_object_foreach (json_object_get (d, "labels"), k, v)
    {
      char *kv;
      if (json_is_null (v))
        continue;
      if (asprintf (&kv, "%s=%s", k, json_string_value (v)) < 0)
        abort ();
      int r = set (b, SW_OPT_LABEL, kv, err);
      free (kv);
      if (r < 0)
        return -1;
    }
  json_object_foreach (json_object_get (d, "extra-hosts"), k, v)
    {
      char *kv;
      if (asprintf (&kv, "%s=%s", k, json_string_value (v)) < 0)
        abort ();
      int r = set (b, SW_OPT_ADD_HOST, kv, err);
      free (kv);
      if (r < 0)
        return -1;
    }
  json_array_foreach (json_object_get (d, "annotations"), i, e)
    if (set (b, SW_OPT_ANNOTATION, json_string_value (e), err) < 0)
      return -1;
  json_array_foreach (json_object_get (d, "platforms"), i, e)
    if (set (b, SW_OPT_PLATFORM, json_string_value (e), err) < 0)
      return -1;
  if (json_object_get (d, "target") && set (b, SW_OPT_TARGET, json_string_value (json_object_get (d, "target")), err) < 0)
    return -1;
  if (json_object_get (d, "network")
      && set (b, SW_OPT_NETWORK, json_string_value (json_object_get (d, "network")), err) < 0)
    return -1;
  if (json_is_true (json_object_get (d, "no-cache")) && set (b, SW_OPT_NO_CACHE, "true", err) < 0)
    return -1;
  if (json_is_true (json_object_get (d, "pull")) && set (b, SW_OPT_PULL, "true", err) < 0)
    return -1;
  json_array_foreach (json_object_get (d, "secret"), i, e)
    {
      char *spec = csv_of (e);
      int r = set (b, SW_OPT_SECRET, spec, err);
      free (spec);
      if (r < 0)
        return -1;
    }
  json_array_foreach (json_object_get (d, "ssh"), i, e)
    {
      const char *id = json_string_value (json_object_get (e, "id"));
      json_t *paths = json_object_get (e, "paths");
      char *spec = NULL;
      if (json_array_size (paths))
        {
          if (asprintf (&spec, "%s=%s", id, json_string_value (json_array_get (paths, 0))) < 0)
            abort ();
        }
      else
        spec = strdup (id);
      int r = set (b, SW_OPT_SSH, spec, err);
      free (spec);
      if (r < 0)
        return -1;
    }
  json_object_foreach (json_object_get (d, "contexts"), k, v)
    {
      const char *s = json_string_value (v);
      char *kv = NULL;
      if (strncmp (s, "target:", 7) == 0)
        {
          /* the other target's image, by digest, in its repository */
          struct target *o = NULL;
          for (size_t j = 0; j < bk->n; j++)
            if (strcmp (bk->t[j].name, s + 7) == 0)
              o = &bk->t[j];
          if (o == NULL || o->digest == NULL || o->repo == NULL || !o->pushes)
            {
              fprintf (stderr, "slipway: target %s: not supported yet: contexts %s=%s without --push and tags on %s "
                               "(the image is passed by digest through the registry)\n",
                       t->name, k, s, s + 7);
              return -1;
            }
          if (asprintf (&kv, "%s=docker-image://%s@%s", k, o->repo, o->digest) < 0)
            abort ();
        }
      else if (asprintf (&kv, "%s=%s", k, s) < 0)
        abort ();
      int r = set (b, SW_OPT_BUILD_CONTEXT, kv, err);
      free (kv);
      if (r < 0)
        return -1;
    }
  bool push = false;
  json_array_foreach (json_object_get (d, "output"), i, e)
    {
      const char *type = json_string_value (json_object_get (e, "type"));
      const char *p = json_string_value (json_object_get (e, "push"));
      if (type && (strcmp (type, "registry") == 0 || (strcmp (type, "image") == 0 && p && strcmp (p, "true") == 0)))
        {
          push = true;
          continue;
        }
      if (type && strcmp (type, "cacheonly") == 0)
        {
          /* another target's context: its image reaches that build by digest, through the
           * registry, and is never named */
          t->linked = true;
          if (bk->push)
            push = true;
          continue;
        }
      char *spec = csv_of (e);
      int r = set (b, SW_OPT_OUTPUT, spec, err);
      free (spec);
      if (r < 0)
        return -1;
    }
  if (push && t->linked && json_array_size (json_object_get (d, "tags")) == 0)
    {
      /* an untagged context target is pushed, by digest only, into the repository of a
       * target that uses it: the tag given here only chooses that repository and is never
       * written (SW_OPT_PUBLISH "none") */
      const char *repo_tag = NULL;
      for (size_t j = 0; j < bk->n && repo_tag == NULL; j++)
        {
          json_t *c = json_object_get (bk->t[j].def, "contexts");
          const char *ck;
          json_t *cv;
          json_object_foreach (c, ck, cv)
            if (strncmp (json_string_value (cv), "target:", 7) == 0 && strcmp (json_string_value (cv) + 7, t->name) == 0
                && json_array_size (json_object_get (bk->t[j].def, "tags")))
              repo_tag = json_string_value (json_array_get (json_object_get (bk->t[j].def, "tags"), 0));
        }
      if (repo_tag == NULL)
        {
          fprintf (stderr, "slipway: target %s: not supported yet: a context target whose users have no tags\n",
                   t->name);
          return -1;
        }
      char *tag;
      t->repo = repo_of (repo_tag);
      if (asprintf (&tag, "%s:never-written-context-%s", t->repo, t->name) < 0)
        abort ();
      int r = set (b, SW_OPT_TAG, tag, err);
      free (tag);
      if (r < 0)
        return -1;
    }
  t->pushes = push;
  if (push)
    {
      if (set (b, SW_OPT_PUSH, "true", err) < 0)
        return -1;
      if ((!bk->per_target || t->linked) && set (b, SW_OPT_PUBLISH, "none", err) < 0)
        return -1;
    }
  json_array_foreach (json_object_get (d, "x-slipway-smoke"), i, e)
    if (set (b, SW_OPT_SMOKE, json_string_value (e), err) < 0)
      return -1;
  for (i = 0; i < bk->smoke.n; i++)
    if (set (b, SW_OPT_SMOKE, bk->smoke.v[i], err) < 0)
      return -1;
  if (bk->smoke_timeout && set (b, SW_OPT_SMOKE_TIMEOUT, bk->smoke_timeout, err) < 0)
    return -1;
  if (bk->state_dir && set (b, SW_OPT_STATE_DIR, bk->state_dir, err) < 0)
    return -1;
  for (i = 0; i < bk->insecure.n; i++)
    if (set (b, SW_OPT_INSECURE_REGISTRY, bk->insecure.v[i], err) < 0)
      return -1;
  if (set (b, SW_OPT_METADATA_FILE, t->metadata_path, err) < 0)
    return -1;
  return 0;
}

/* ---- scheduling ----------------------------------------------------------------------- */

static bool
deps_state (struct bake *bk, const struct target *t, bool *failed)
{
  const char *k;
  json_t *v;
  bool ready = true;
  json_object_foreach (json_object_get (t->def, "contexts"), k, v)
    {
      const char *s = json_string_value (v);
      if (strncmp (s, "target:", 7) != 0)
        continue;
      for (size_t j = 0; j < bk->n; j++)
        if (strcmp (bk->t[j].name, s + 7) == 0)
          {
            if (bk->t[j].state == T_FAILED || bk->t[j].state == T_SKIPPED)
              *failed = true;
            if (bk->t[j].state != T_DONE)
              ready = false;
          }
    }
  return ready;
}

static void *
build_thread (void *arg)
{
  struct target *t = arg;
  struct bake *bk = t->bake;
  sw_error *err = NULL;
  int r = sw_build_run (t->b, &err);
  pthread_mutex_lock (&bk->mu);
  if (r == 0)
    {
      t->state = T_DONE;
      t->digest = sw_build_digest (t->b) ? strdup (sw_build_digest (t->b)) : NULL;
    }
  else
    {
      t->state = T_FAILED;
      t->err = err;
      if (!bk->failed)
        {
          /* one failed: no tag of any target will move; stop the others now */
          bk->failed = true;
          for (size_t j = 0; j < bk->n; j++)
            if (bk->t[j].state == T_RUNNING && &bk->t[j] != t)
              sw_build_cancel (bk->t[j].b);
        }
    }
  bk->running--;
  pthread_cond_broadcast (&bk->cv);
  pthread_mutex_unlock (&bk->mu);
  return NULL;
}

/* Run every target, MAX_PARALLEL at a time, dependencies first.  0 when all succeeded. */
static int
run_all (struct bake *bk)
{
  pthread_t *threads = calloc (bk->n + 1, sizeof *threads);
  bool *started = calloc (bk->n + 1, sizeof *started);
  int rc = 0;
  pthread_mutex_lock (&bk->mu);
  for (;;)
    {
      bool pending = false, progressed = false;
      for (size_t i = 0; i < bk->n; i++)
        {
          struct target *t = &bk->t[i];
          if (t->state != T_WAITING)
            continue;
          pending = true;
          bool dep_failed = false;
          bool ready = deps_state (bk, t, &dep_failed);
          if (bk->failed || dep_failed)
            {
              t->state = T_SKIPPED;
              progressed = true;
              continue;
            }
          if (!ready || bk->running >= MAX_PARALLEL)
            continue;
          sw_error *err = NULL;
          t->b = sw_build_new ();
          sw_build_set_event_callback (t->b, on_event, t);
          pthread_mutex_unlock (&bk->mu);
          int cr = configure (bk, t, &err);
          pthread_mutex_lock (&bk->mu);
          if (cr < 0)
            {
              if (err)
                fprintf (stderr, "slipway: target %s: %s\n", t->name, sw_error_message (err));
              sw_error_free (err);
              t->state = T_FAILED;
              bk->failed = true;
              progressed = true;
              continue;
            }
          t->state = T_RUNNING;
          bk->running++;
          if (pthread_create (&threads[i], NULL, build_thread, t) != 0)
            {
              t->state = T_FAILED;
              bk->failed = true;
              bk->running--;
              continue;
            }
          started[i] = true;
          progressed = true;
        }
      if (!pending && bk->running == 0)
        break;
      if (!progressed)
        {
          if (bk->running == 0)
            {
              /* waiting on something that can never finish: a dependency cycle */
              for (size_t i = 0; i < bk->n; i++)
                if (bk->t[i].state == T_WAITING)
                  bk->t[i].state = T_SKIPPED;
              bk->failed = true;
              continue;
            }
          pthread_cond_wait (&bk->cv, &bk->mu);
        }
    }
  pthread_mutex_unlock (&bk->mu);
  for (size_t i = 0; i < bk->n; i++)
    if (started[i])
      pthread_join (threads[i], NULL);
  for (size_t i = 0; i < bk->n; i++)
    if (bk->t[i].state != T_DONE)
      rc = -1;
  free (threads);
  free (started);
  return rc;
}

/* ---- publishing ------------------------------------------------------------------------- */

/* "host/repo:tag" → "host/repo" (a malloc'ed copy). */
static char *
repo_of (const char *ref)
{
  char *r = strdup (ref);
  char *at = strchr (r, '@');
  if (at)
    *at = '\0';
  char *slash = strrchr (r, '/'), *colon = strrchr (r, ':');
  if (colon && (slash == NULL || colon > slash))
    *colon = '\0';
  return r;
}

/* One target's tags onto the publish set: the image is in its first tag's repository. */
static int
publish_add_tags (sw_publish *p, const char *names, const char *digest, bool last, sw_error **err)
{
  char *copy = strdup (names), *save = NULL;
  char *first = NULL;
  int r = 0;
  for (char *n = strtok_r (copy, ",", &save); n && r == 0; n = strtok_r (NULL, ",", &save))
    {
      if (first == NULL)
        first = repo_of (n);
      char *image;
      if (asprintf (&image, "%s@%s", first, digest) < 0)
        abort ();
      r = sw_publish_add (p, n, image, last ? SW_PUBLISH_LAST : 0, err);
      free (image);
    }
  free (first);
  free (copy);
  return r;
}

static int
publish_all (struct bake *bk)
{
  sw_error *err = NULL;
  sw_publish *p = sw_publish_new (bk->insecure.v);
  sw_publish_set_event_callback (p, on_publish_event, bk);
  int r = 0;
  for (size_t i = 0; i < bk->n && r == 0; i++)
    {
      struct target *t = &bk->t[i];
      json_t *tags = json_object_get (t->def, "tags");
      if (t->digest == NULL || json_array_size (tags) == 0 || !t->pushes || t->linked)
        continue;
      bool last = json_is_true (json_object_get (t->def, "x-slipway-publish-last"));
      size_t j;
      json_t *e;
      json_array_foreach (tags, j, e)
        {
          char *image, *repo = repo_of (json_string_value (json_array_get (tags, 0)));
          if (asprintf (&image, "%s@%s", repo, t->digest) < 0)
            abort ();
          r = sw_publish_add (p, json_string_value (e), image, last ? SW_PUBLISH_LAST : 0, &err);
          free (image);
          free (repo);
          if (r < 0)
            break;
        }
    }
  if (r == 0)
    r = sw_publish_run (p, &err);
  sw_publish_free (p);
  if (r < 0)
    return cli_report (err);
  return 0;
}

/* {"TARGET": {…the build's metadata…}, …} as buildx writes it for bake. */
static int
write_metadata (struct bake *bk, const char *path)
{
  json_t *all = json_object ();
  for (size_t i = 0; i < bk->n; i++)
    {
      json_t *m = json_load_file (bk->t[i].metadata_path, 0, NULL);
      if (m)
        json_object_set_new (all, bk->t[i].name, m);
    }
  int r = json_dump_file (all, path, JSON_INDENT (2) | JSON_SORT_KEYS);
  json_decref (all);
  if (r < 0)
    {
      cli_fail ("writing %s: %s", path, strerror (errno));
      return 1;
    }
  return 0;
}

/* ---- the command ------------------------------------------------------------------------- */

static void
bake_usage (FILE *out)
{
  fprintf (out,
           "Usage: slipway bake [OPTIONS] [TARGET...]\n\n"
           "Build from a file: the same files, targets and flags as docker buildx bake.\n"
           "With --push, every target is pushed by digest, smoke-tested, and then all tags of all\n"
           "targets move together: a failure anywhere moves no tag.\n\n"
           "Options:\n"
           "      --allow stringArray         Allow build to access specified resources (network.host, security.insecure)\n"
           "  -f, --file stringArray          Build definition file\n"
           "      --load                      Shorthand for \"--set=*.output=type=docker\"\n"
           "      --metadata-file string      Write build result metadata to a file\n"
           "      --no-cache                  Do not use cache when building the image\n"
           "      --print                     Print the options without building\n"
           "      --progress string           Set type of progress output (auto, plain, quiet)\n"
           "      --pull                      Always attempt to pull all referenced images\n"
           "      --push                      Shorthand for \"--set=*.output=type=registry\"\n"
           "      --set stringArray           Override target value (e.g., \"targetpattern.key=value\")\n"
           "      --smoke string              slipway: run this command in every built image before any tag moves\n"
           "      --smoke-timeout string      slipway: seconds a smoke command may run (default 120)\n"
           "      --publish string            slipway: atomic (default) or per-target\n"
           "      --state-dir string          slipway: state directory (default /var/lib/slipway)\n"
           "      --insecure-registry string  slipway: reach this registry over plain HTTP\n");
}

enum
{
  O_PRINT = 256,
  O_PUSH,
  O_LOAD,
  O_NO_CACHE,
  O_PULL,
  O_PROGRESS,
  O_METADATA,
  O_SET,
  O_SMOKE,
  O_SMOKE_TIMEOUT,
  O_PUBLISH,
  O_STATE_DIR,
  O_INSECURE,
  O_ATTEST,
  O_ALLOW,
  O_TODO,
};

int
cli_bake (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "file", required_argument, NULL, 'f' },
    { "print", no_argument, NULL, O_PRINT },
    { "push", no_argument, NULL, O_PUSH },
    { "load", no_argument, NULL, O_LOAD },
    { "no-cache", no_argument, NULL, O_NO_CACHE },
    { "pull", no_argument, NULL, O_PULL },
    { "progress", required_argument, NULL, O_PROGRESS },
    { "metadata-file", required_argument, NULL, O_METADATA },
    { "set", required_argument, NULL, O_SET },
    { "smoke", required_argument, NULL, O_SMOKE },
    { "smoke-timeout", required_argument, NULL, O_SMOKE_TIMEOUT },
    { "publish", required_argument, NULL, O_PUBLISH },
    { "state-dir", required_argument, NULL, O_STATE_DIR },
    { "insecure-registry", required_argument, NULL, O_INSECURE },
    { "provenance", required_argument, NULL, O_ATTEST },
    { "sbom", required_argument, NULL, O_ATTEST },
    { "builder", required_argument, NULL, O_TODO },
    { "list", required_argument, NULL, O_TODO },
    { "call", required_argument, NULL, O_TODO },
    { "check", no_argument, NULL, O_TODO },
    { "allow", required_argument, NULL, O_ALLOW },
    { "help", no_argument, NULL, 'h' },
    { 0 },
  };
  struct list files = { 0 }, sets = { 0 }, targets = { 0 };
  struct bake bk = { .quiet = false };
  bool print = false;
  const char *metadata = NULL;
  int rc = 1;

  if (cli_wants_help (argc, argv))
    {
      bake_usage (stdout);
      return 0;
    }
  opterr = 0;
  optind = 1;
  for (;;)
    {
      int c = getopt_long (argc, argv, "+f:h", longopts, NULL);
      if (c == -1)
        break;
      switch (c)
        {
        case 'f': list_push (&files, optarg); break;
        case O_PRINT: print = true; break;
        case O_PUSH: bk.push = true; list_push (&sets, "*.push=true"); break;
        case O_LOAD: list_push (&sets, "*.load=true"); break;
        case O_NO_CACHE: list_push (&sets, "*.no-cache=true"); break;
        case O_PULL: list_push (&sets, "*.pull=true"); break;
        case O_PROGRESS:
          if (strcmp (optarg, "quiet") == 0)
            bk.quiet = true;
          else if (strcmp (optarg, "auto") && strcmp (optarg, "plain") && strcmp (optarg, "tty"))
            {
              cli_fail ("invalid --progress \"%s\": use auto, plain, tty or quiet", optarg);
              return 2;
            }
          break;
        case O_METADATA: metadata = optarg; break;
        case O_SET: list_push (&sets, optarg); break;
        case O_SMOKE: list_push (&bk.smoke, optarg); break;
        case O_SMOKE_TIMEOUT: bk.smoke_timeout = optarg; break;
        case O_PUBLISH:
          if (strcmp (optarg, "per-target") == 0)
            bk.per_target = true;
          else if (strcmp (optarg, "atomic") != 0)
            {
              cli_fail ("invalid --publish \"%s\": use atomic or per-target", optarg);
              return 2;
            }
          break;
        case O_STATE_DIR: bk.state_dir = optarg; break;
        case O_INSECURE: list_push (&bk.insecure, optarg); break;
        case O_ALLOW: list_push (&bk.allow, optarg); break;
        case O_ATTEST:
          if (strcmp (optarg, "false") && strcmp (optarg, "0"))
            {
              cli_fail ("not supported yet: --%s=%s (only false)", argv[optind - 1] + 2, optarg);
              return 2;
            }
          break;
        case O_TODO:
          cli_fail ("not supported yet: %s", argv[optind - 1]);
          return 2;
        default:
          cli_fail ("unknown flag: %s\nSee 'slipway bake --help'.", argv[optind - 1]);
          return 2;
        }
    }
  for (int i = optind; i < argc; i++)
    list_push (&targets, argv[i]);
  /* a --set push must also make the publish happen */
  for (size_t i = 0; i < sets.n; i++)
    if (strstr (sets.v[i], ".push=true") || strstr (sets.v[i], ".output=type=registry"))
      bk.push = true;

  char *def_json = NULL;
  sw_error *err = NULL;
  if (print)
    {
      if (sw_bake_definition (files.v, targets.v, sets.v, 0, &def_json, &err) < 0)
        {
          rc = cli_report (err);
          goto out_lists;
        }
      printf ("%s\n", def_json);
      sw_free (def_json);
      rc = 0;
      goto out_lists;
    }
  if (sw_bake_definition (files.v, targets.v, sets.v, SW_BAKE_EXTENSIONS, &def_json, &err) < 0)
    {
      rc = cli_report (err);
      goto out_lists;
    }
  json_t *def = json_loads (def_json, 0, NULL);
  sw_free (def_json);
  json_t *tmap = json_object_get (def, "target");
  bk.n = json_object_size (tmap);
  bk.t = calloc (bk.n + 1, sizeof *bk.t);
  pthread_mutex_init (&bk.mu, NULL);
  pthread_mutex_init (&bk.out_mu, NULL);
  pthread_cond_init (&bk.cv, NULL);
  snprintf (bk.tmpdir, sizeof bk.tmpdir, "/tmp/slipway-bake.XXXXXX");
  if (mkdtemp (bk.tmpdir) == NULL)
    {
      cli_fail ("mkdtemp: %s", strerror (errno));
      json_decref (def);
      goto out_lists;
    }
  {
    const char *name;
    json_t *t;
    size_t i = 0;
    json_object_foreach (tmap, name, t)
      {
        bk.t[i].name = name;
        bk.t[i].def = t;
        bk.t[i].bake = &bk;
        if (asprintf (&bk.t[i].metadata_path, "%s/%zu.json", bk.tmpdir, i) < 0)
          abort ();
        i++;
      }
  }
  running_bake = &bk;
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  int built = run_all (&bk);
  for (size_t i = 0; i < bk.n; i++)
    if (bk.t[i].state == T_FAILED && bk.t[i].err)
      fprintf (stderr, "slipway: target %s: %s\n", bk.t[i].name, sw_error_message (bk.t[i].err));
    else if (bk.t[i].state == T_SKIPPED)
      fprintf (stderr, "slipway: target %s: not built (another target failed)\n", bk.t[i].name);
  if (built < 0)
    {
      if (!bk.per_target)
        fprintf (stderr, "slipway: bake failed: no tag of any target was moved\n");
      rc = 1;
    }
  else
    {
      rc = 0;
      bool any_push = false;
      for (size_t i = 0; i < bk.n; i++)
        any_push |= bk.t[i].pushes && !bk.t[i].linked;
      if (any_push && !bk.per_target)
        rc = publish_all (&bk);
      if (rc == 0 && metadata)
        rc = write_metadata (&bk, metadata);
    }
  sa.sa_handler = SIG_DFL;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  running_bake = NULL;
  for (size_t i = 0; i < bk.n; i++)
    {
      sw_build_free (bk.t[i].b);
      sw_error_free (bk.t[i].err);
      free (bk.t[i].digest);
      free (bk.t[i].repo);
      if (bk.t[i].metadata_path)
        unlink (bk.t[i].metadata_path);
      free (bk.t[i].metadata_path);
    }
  rmdir (bk.tmpdir);
  free (bk.t);
  json_decref (def);
  pthread_mutex_destroy (&bk.mu);
  pthread_mutex_destroy (&bk.out_mu);
  pthread_cond_destroy (&bk.cv);
out_lists:
  free (files.v);
  free (sets.v);
  free (targets.v);
  free (bk.smoke.v);
  free (bk.insecure.v);
  free (bk.allow.v);
  return rc;
}

/* ---- slipway publish --from METADATA.json --------------------------------------------------- */

/* Smoke-test an image already in the registry: a build of `FROM REPO@DIGEST` with the smoke
 * commands and no output (the base's layers are fetched, the commands run on them), on this
 * machine's platform. */
static int
smoke_image (const char *repo, const char *digest, const struct list *smoke, const struct list *insecure,
             const char *timeout, const char *state_dir, sw_error **err)
{
  char dir[] = "/tmp/slipway-smoke.XXXXXX";
  char *df = NULL;
  int r = -1;
  if (mkdtemp (dir) == NULL)
    {
      cli_fail ("mkdtemp: %s", strerror (errno));
      return -1;
    }
  if (asprintf (&df, "%s/Dockerfile", dir) < 0)
    abort ();
  FILE *f = fopen (df, "we");
  if (f)
    {
      fprintf (f, "FROM %s@%s\n", repo, digest);
      fclose (f);
      sw_build *b = sw_build_new ();
      struct bake quiet = { .quiet = false };
      struct target t = { .name = repo, .bake = &quiet };
      pthread_mutex_init (&quiet.out_mu, NULL);
      sw_build_set_event_callback (b, on_event, &t);
      r = sw_build_set (b, SW_OPT_CONTEXT, dir, err);
      for (size_t i = 0; r == 0 && i < smoke->n; i++)
        r = sw_build_set (b, SW_OPT_SMOKE, smoke->v[i], err);
      for (size_t i = 0; r == 0 && i < insecure->n; i++)
        r = sw_build_set (b, SW_OPT_INSECURE_REGISTRY, insecure->v[i], err);
      if (r == 0 && timeout)
        r = sw_build_set (b, SW_OPT_SMOKE_TIMEOUT, timeout, err);
      if (r == 0 && state_dir)
        r = sw_build_set (b, SW_OPT_STATE_DIR, state_dir, err);
      /* no output: the build only checks, which is all a smoke test needs */
      if (r == 0)
        r = sw_build_run (b, err);
      sw_build_free (b);
      pthread_mutex_destroy (&quiet.out_mu);
    }
  else
    cli_fail ("%s: %s", df, strerror (errno));
  char *rm = NULL;
  if (asprintf (&rm, "rm -rf '%s'", dir) >= 0 && system (rm) != 0)
    cli_fail ("could not remove %s", dir);
  free (rm);
  free (df);
  return r;
}

/* One build's metadata ({"containerimage.digest", "image.name"}) onto the set. */
struct publish_job
{
  const struct list *smoke, *insecure;
  const char *smoke_timeout, *state_dir;
};

static int
publish_entry (sw_publish *p, const char *label, const json_t *m, const struct publish_job *job, sw_error **err,
               bool *added)
{
  const char *digest = json_string_value (json_object_get (m, "containerimage.digest"));
  const char *names = json_string_value (json_object_get (m, "image.name"));
  if (digest == NULL || names == NULL)
    {
      fprintf (stderr, "slipway: publish: %s has no containerimage.digest or no image.name\n", label);
      return -1;
    }
  *added = true;
  if (job->smoke->n)
    {
      char *first = strdup (names);
      char *comma = strchr (first, ',');
      if (comma)
        *comma = '\0';
      char *repo = repo_of (first);
      int r = smoke_image (repo, digest, job->smoke, job->insecure, job->smoke_timeout, job->state_dir, err);
      free (repo);
      free (first);
      if (r < 0)
        return -1;
    }
  return publish_add_tags (p, names, digest, json_is_true (json_object_get (m, "x-slipway-publish-last")), err);
}

int
cli_publish (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "from", required_argument, NULL, 'F' },
    { "insecure-registry", required_argument, NULL, 'I' },
    { "smoke", required_argument, NULL, 'S' },
    { "smoke-timeout", required_argument, NULL, 'T' },
    { "state-dir", required_argument, NULL, 'D' },
    { "help", no_argument, NULL, 'h' },
    { 0 },
  };
  struct list from = { 0 }, insecure = { 0 }, smoke = { 0 };
  const char *smoke_timeout = NULL, *state_dir = NULL;
  sw_error *err = NULL;
  int rc = 1;

  if (cli_wants_help (argc, argv))
    {
      printf ("Usage: slipway publish --from METADATA.json [--from …]\n\n"
              "Move the tags named in build metadata files (--metadata-file of slipway build or bake,\n"
              "pushed with --publish none) to their images, all together: each image is checked to\n"
              "be in the registry first, and a failed write puts the moved tags back.\n\n"
              "Options:\n"
              "      --from string               a metadata file (repeatable)\n"
              "      --smoke string              run this command in every image (on this machine's platform)\n"
              "                                  before any tag moves (repeatable)\n"
              "      --smoke-timeout string      seconds a smoke command may run (default 120)\n"
              "      --state-dir string          state directory for the smoke tests\n"
              "      --insecure-registry string  reach this registry over plain HTTP\n");
      return 0;
    }
  opterr = 0;
  optind = 1;
  for (;;)
    {
      int c = getopt_long (argc, argv, "+h", longopts, NULL);
      if (c == -1)
        break;
      if (c == 'F')
        list_push (&from, optarg);
      else if (c == 'I')
        list_push (&insecure, optarg);
      else if (c == 'S')
        list_push (&smoke, optarg);
      else if (c == 'T')
        smoke_timeout = optarg;
      else if (c == 'D')
        state_dir = optarg;
      else
        {
          cli_fail ("unknown flag: %s\nSee 'slipway publish --help'.", argv[optind - 1]);
          rc = 2;
          goto out;
        }
    }
  if (from.n == 0 || optind != argc)
    {
      cli_fail ("publish needs --from METADATA.json and no other argument");
      rc = 2;
      goto out;
    }
  sw_publish *p = sw_publish_new (insecure.v);
  struct bake quiet = { .quiet = false };
  sw_publish_set_event_callback (p, on_publish_event, &quiet);
  int r = 0;
  bool added = false;
  struct publish_job job = { &smoke, &insecure, smoke_timeout, state_dir };
  for (size_t i = 0; i < from.n && r == 0; i++)
    {
      json_error_t je;
      json_t *m = json_load_file (from.v[i], 0, &je);
      if (m == NULL || !json_is_object (m))
        {
          cli_fail ("publish: %s: %s", from.v[i], m ? "not a JSON object" : je.text);
          json_decref (m);
          r = -1;
          break;
        }
      if (json_object_get (m, "containerimage.digest"))
        r = publish_entry (p, from.v[i], m, &job, &err, &added);
      else
        {
          /* bake's: keyed by target */
          const char *k;
          json_t *v;
          json_object_foreach (m, k, v)
            if (json_is_object (v) && r == 0)
              r = publish_entry (p, k, v, &job, &err, &added);
        }
      json_decref (m);
    }
  if (r == 0 && !added)
    {
      cli_fail ("publish: no image with tags in %s", from.v[0]);
      r = -1;
    }
  if (r == 0)
    r = sw_publish_run (p, &err);
  sw_publish_free (p);
  if (r < 0)
    rc = err ? cli_report (err) : 1;
  else
    rc = 0;
out:
  free (from.v);
  free (insecure.v);
  free (smoke.v);
  return rc;
}
