/* dockerfile/plan.c — see plan.h.  Follows BuildKit's dockerfile2llb (Dockerfile2LLB,
 * buildMetaArgs, buildDispatchStates, toCommand, validateCircularDependency,
 * allReachableStages, dispatchArg) for what it decides and in which order it fails. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/expand.h"
#include "dockerfile/parser_int.h"
#include "dockerfile/location.h"
#include "dockerfile/plan.h"
#include "dockerfile/suggest.h"
#include "image/platform.h"

/* ---- variables ------------------------------------------------------------------ */

struct sw_plan_env
{
  char **k, **v;
  size_t n;
};

static long
env_index (const sw_plan_env *e, const char *key)
{
  for (size_t i = 0; i < e->n; i++)
    if (strcmp (e->k[i], key) == 0)
      return (long) i;
  return -1;
}

void
sw_plan_env_set (sw_plan_env *e, const char *key, const char *value)
{
  long i = env_index (e, key);
  if (i >= 0)
    {
      free (e->v[i]);
      e->v[i] = sw_xstrdup (value);
      return;
    }
  e->k = sw_df_grow (e->k, e->n + 1, sizeof *e->k);
  e->v = sw_df_grow (e->v, e->n + 1, sizeof *e->v);
  e->k[e->n] = sw_xstrdup (key);
  e->v[e->n++] = sw_xstrdup (value);
}

sw_plan_env *
sw_plan_env_new (char *const *env)
{
  sw_plan_env *e = sw_xzalloc (sizeof *e);
  for (size_t i = 0; env && env[i]; i++)
    {
      const char *eq = strchr (env[i], '=');
      cleanup_free char *k = eq ? sw_xstrndup (env[i], eq - env[i]) : sw_xstrdup (env[i]);
      sw_plan_env_set (e, k, eq ? eq + 1 : "");
    }
  return e;
}

sw_plan_env *
sw_plan_env_dup (const sw_plan_env *src)
{
  sw_plan_env *e = sw_xzalloc (sizeof *e);
  for (size_t i = 0; i < src->n; i++)
    sw_plan_env_set (e, src->k[i], src->v[i]);
  return e;
}

void
sw_plan_env_free (sw_plan_env *e)
{
  if (!e)
    return;
  for (size_t i = 0; i < e->n; i++)
    free (e->k[i]), free (e->v[i]);
  free (e->k);
  free (e->v);
  free (e);
}

const char *
sw_plan_env_get (const sw_plan_env *e, const char *key)
{
  long i = env_index (e, key);
  return i >= 0 ? e->v[i] : NULL;
}

char **
sw_plan_env_list (const sw_plan_env *e)
{
  char **l = sw_xcalloc (e->n + 1, sizeof *l);
  for (size_t i = 0; i < e->n; i++)
    l[i] = sw_xasprintf ("%s=%s", e->k[i], e->v[i]);
  return l;
}

const char *
sw_plan_env_lookup (const char *name, void *userdata)
{
  return sw_plan_env_get (userdata, name);
}

/* ---- helpers ---------------------------------------------------------------------- */

static void
warn (sw_plan *p, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
warn (sw_plan *p, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  sw_strv_push_owned (&p->warnings, sw_xvasprintf (fmt, ap));
  va_end (ap);
}

static const char *
build_arg (const sw_plan *p, const char *key, bool *found)
{
  size_t len = strlen (key);
  const char *v = NULL;
  *found = false;
  for (size_t i = 0; i < p->build_args.n; i++)
    {
      const char *a = p->build_args.v[i];
      if (strncmp (a, key, len) == 0 && (a[len] == '=' || a[len] == '\0'))
        {
          *found = true;
          v = a[len] == '=' ? a + len + 1 : "";
        }
    }
  return v;
}

/* Re-make *err located at node (the lexer's errors carry no place). */
static int
locate (const sw_dockerfile *df, const sw_df_node *node, sw_error **err)
{
  if (!err || !*err)
    return -1;
  cleanup_free char *msg = sw_xstrdup (sw_error_message (*err));
  sw_error_free (*err);
  *err = NULL;
  if (!df || !node)
    return sw_error_make (err, 0, "%s", msg);
  return sw_df_error_node (err, df, node, "%s", msg);
}


/* suggest.Search over the stage names (case-sensitive). */
static const char *
suggest_stage (const sw_plan *p, const char *val)
{
  const char **names = sw_xcalloc (p->n_stages + 1, sizeof *names);
  for (size_t i = 0; i < p->n_stages; i++)
    names[i] = p->stages[i].display;
  long i = sw_df_closest (val, names, p->n_stages);
  const char *match = i < 0 ? NULL : names[i];
  free (names);
  return match;
}

/* The stage named name (case-insensitive) among stages [0, limit), the last one of that
 * name; -1.  A sorted (name, index) table keeps this logarithmic for huge files. */
typedef struct name_ent
{
  const char *name; /* lower case, owned by the stage */
  size_t index;
} name_ent;

static int
name_ent_cmp (const void *a, const void *b)
{
  const name_ent *x = a, *y = b;
  int c = strcmp (x->name, y->name);
  return c ? c : (x->index > y->index) - (x->index < y->index);
}

static void
build_name_index (sw_plan *p)
{
  p->names = sw_xcalloc (p->n_stages + 1, sizeof *p->names);
  p->n_names = 0;
  for (size_t i = 0; i < p->n_stages; i++)
    if (p->stages[i].name)
      p->names[p->n_names++] = (name_ent){ p->stages[i].name, i };
  qsort (p->names, p->n_names, sizeof *p->names, name_ent_cmp);
}

static long
stage_by_name (const sw_plan *p, const char *name, size_t limit)
{
  cleanup_free char *key = sw_xstrdup (name);
  for (char *c = key; *c; c++)
    *c = (char) tolower ((unsigned char) *c);
  /* first entry >= (key, limit); the one before it is the answer if it has the name */
  size_t lo = 0, hi = p->n_names;
  name_ent probe = { key, limit };
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (name_ent_cmp (&p->names[mid], &probe) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo > 0 && strcmp (p->names[lo - 1].name, key) == 0)
    return (long) p->names[lo - 1].index;
  return -1;
}

/* strconv.Atoi: optional sign, decimal digits, nothing else. */
static bool
go_atoi (const char *s, long *out)
{
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!*p)
    return false;
  for (const char *q = p; *q; q++)
    if (!isdigit ((unsigned char) *q))
      return false;
  errno = 0;
  long v = strtol (s, NULL, 10);
  if (errno)
    v = *s == '-' ? LONG_MIN : LONG_MAX;
  *out = v;
  return true;
}

long
sw_plan_find_stage (const sw_plan *p, const char *name_or_index)
{
  long idx;
  if (go_atoi (name_or_index, &idx))
    return idx >= 0 && (size_t) idx < p->n_stages ? idx : -1;
  return stage_by_name (p, name_or_index, p->n_stages);
}


/* ---- stepping ---------------------------------------------------------------------- */

int
sw_plan_expand (const sw_plan *p, const sw_df_instr *in, const sw_plan_env *env,
                sw_df_instr **out, sw_error **err)
{
  const sw_dockerfile *df = in->trigger ? NULL : p->df;
  return sw_df_instr_expand (df, in, p->escape, sw_plan_env_lookup, (void *) env, out, err);
}

static bool
non_env_arg (const char *key)
{
  return strcmp (key, "BUILDKIT_SBOM_SCAN_CONTEXT") == 0
         || strcmp (key, "BUILDKIT_SBOM_SCAN_STAGE") == 0;
}

int
sw_plan_step (const sw_plan *p, const sw_df_instr *in, sw_plan_env *env, sw_error **err)
{
  const sw_dockerfile *df = in->trigger ? NULL : p->df;
  if (in->kind == SW_DF_ARG)
    {
      sw_expand_opts o = { .escape = p->escape };
      for (size_t i = 0; i < in->n_kvs; i++)
        {
          const sw_df_kv *kv = &in->kvs[i];
          bool has_value;
          const char *bv = build_arg (p, kv->key, &has_value);
          cleanup_free char *value = NULL;
          if (!kv->value && !has_value)
            {
              const char *g = sw_plan_env_get (p->global, kv->key);
              if (g)
                value = sw_xstrdup (g);
            }
          if (has_value)
            value = sw_xstrdup (bv);
          else if (kv->value)
            {
              if (sw_expand_word (kv->value, &o, sw_plan_env_lookup, env, &value, err) < 0)
                return locate (df, in->node, err);
            }
          if (value && !non_env_arg (kv->key))
            sw_plan_env_set (env, kv->key, value);
        }
      return 0;
    }
  if (in->kind == SW_DF_ENV)
    {
      sw_df_instr *x = NULL;
      if (sw_plan_expand (p, in, env, &x, err) < 0)
        return -1;
      for (size_t i = 0; i < x->n_kvs; i++)
        sw_plan_env_set (env, x->kvs[i].key, x->kvs[i].value);
      sw_df_instr_free (x);
    }
  return 0;
}

int
sw_plan_env_at (const sw_plan *p, size_t stage, size_t upto, char *const *base_env,
                sw_plan_env **out, sw_error **err)
{
  /* the chain of base stages, walked root first (no recursion: a chain can be long) */
  cleanup_free size_t *chain = sw_xcalloc (p->n_stages + 1, sizeof *chain);
  size_t n = 0;
  for (long s = (long) stage;; s = p->stages[s].base_stage)
    {
      chain[n++] = (size_t) s;
      if (p->stages[s].base_kind != SW_PLAN_BASE_STAGE || n > p->n_stages)
        break;
    }
  const sw_plan_stage *root = &p->stages[chain[n - 1]];
  sw_plan_env *env = sw_plan_env_new (root->base_kind == SW_PLAN_BASE_IMAGE ? base_env : NULL);
  *out = NULL;
  for (size_t k = n; k > 0; k--)
    {
      const sw_plan_stage *st = &p->stages[chain[k - 1]];
      size_t lim = k == 1 ? upto : st->n_instrs;
      for (size_t i = 0; i < lim && i < st->n_instrs; i++)
        if (sw_plan_step (p, st->instrs[i], env, err) < 0)
          {
            sw_plan_env_free (env);
            return -1;
          }
    }
  *out = env;
  return 0;
}

/* ---- building the plan ------------------------------------------------------------- */

static void
stage_add_instr (sw_plan_stage *st, sw_df_instr *in)
{
  st->instrs = sw_df_grow (st->instrs, st->n_instrs + 1, sizeof *st->instrs);
  st->instrs[st->n_instrs++] = in;
}

static void
stage_add_dep (sw_plan_stage *st, long stage, const char *image, const sw_df_instr *by)
{
  st->deps = sw_df_grow (st->deps, st->n_deps + 1, sizeof *st->deps);
  st->deps[st->n_deps++] = (sw_plan_dep){ stage, image ? sw_xstrdup (image) : NULL, by };
}

static int
parse_stages (sw_plan *p, sw_error **err)
{
  const sw_dockerfile *df = p->df;
  for (size_t i = 0; i < df->ast->n_children; i++)
    {
      const sw_df_node *node = df->ast->children[i];
      sw_df_instr *in = NULL;
      if (sw_df_instr_parse (df, node, &in, err) < 0)
        return -1;
      if (in->kind == SW_DF_FROM)
        {
          p->stages = sw_df_grow (p->stages, p->n_stages + 1, sizeof *p->stages);
          sw_plan_stage *st = &p->stages[p->n_stages];
          memset (st, 0, sizeof *st);
          st->index = p->n_stages++;
          st->from = in;
          st->base_stage = -1;
          st->name = in->stage_name ? sw_xstrdup (in->stage_name) : NULL;
          st->display = st->name ? sw_xstrdup (st->name) : sw_xasprintf ("stage-%zu", st->index);
          continue;
        }
      if (p->n_stages == 0)
        {
          if (in->kind == SW_DF_ARG)
            {
              p->meta_args = sw_df_grow (p->meta_args, p->n_meta_args + 1,
                                        sizeof *p->meta_args);
              p->meta_args[p->n_meta_args++] = in;
              continue;
            }
          sw_df_instr_free (in);
          return sw_df_error_node (err, df, node, "no build stage in current context");
        }
      stage_add_instr (&p->stages[p->n_stages - 1], in);
    }
  if (p->n_stages == 0)
    return sw_error_make (err, 0, "%s: dockerfile contains no stages to build",
                          df->path ? df->path : "Dockerfile");
  build_name_index (p);
  return 0;
}

static int
setup_platforms (sw_plan *p, const sw_plan_opts *o, sw_error **err)
{
  cleanup_platform sw_platform bp = SW_PLATFORM_INIT;
  cleanup_platform sw_platform tp = SW_PLATFORM_INIT;
  if (o->build_platform)
    {
      if (sw_platform_parse (o->build_platform, &bp, err) < 0)
        return sw_error_wrap (err, "build platform");
    }
  else if (sw_platform_host (&bp, err) < 0)
    return -1;
  if (o->target_platform)
    {
      if (sw_platform_parse (o->target_platform, &tp, err) < 0)
        return sw_error_wrap (err, "target platform");
    }
  else
    {
      sw_platform_copy (&tp, &bp);
      p->implicit_target = true;
    }
  p->build_platform = sw_platform_format (&bp);
  p->target_platform = sw_platform_format (&tp);

  const char *target = o->target && *o->target ? o->target
                       : p->stages[p->n_stages - 1].name ? p->stages[p->n_stages - 1].name
                                                         : "default";
  const char *kv[][2] = {
    { "BUILDPLATFORM", p->build_platform }, { "BUILDOS", bp.os },
    { "BUILDOSVERSION", bp.os_version },    { "BUILDARCH", bp.arch },
    { "BUILDVARIANT", bp.variant },         { "TARGETPLATFORM", p->target_platform },
    { "TARGETOS", tp.os },                  { "TARGETOSVERSION", tp.os_version },
    { "TARGETARCH", tp.arch },              { "TARGETVARIANT", tp.variant },
    { "TARGETSTAGE", target },
  };
  p->global = sw_plan_env_new (NULL);
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    {
      bool found;
      const char *v = build_arg (p, kv[i][0], &found);
      sw_plan_env_set (p->global, kv[i][0], found ? v : (kv[i][1] ? kv[i][1] : ""));
    }
  return 0;
}

/* buildMetaArgs: the ARGs before the first FROM, in order, into the global scope. */
static int
meta_args (sw_plan *p, sw_error **err)
{
  sw_expand_opts o = { .escape = p->escape };
  for (size_t i = 0; i < p->n_meta_args; i++)
    {
      const sw_df_instr *in = p->meta_args[i];
      for (size_t k = 0; k < in->n_kvs; k++)
        {
          bool found;
          const char *bv = build_arg (p, in->kvs[k].key, &found);
          cleanup_free char *value = NULL;
          if (found)
            value = sw_xstrdup (bv);
          else if (in->kvs[k].value
                   && sw_expand_word (in->kvs[k].value, &o, sw_plan_env_lookup, p->global,
                                      &value, err) < 0)
            return locate (p->df, in->node, err);
          if (value)
            sw_plan_env_set (p->global, in->kvs[k].key, value);
        }
    }
  return 0;
}

static int
resolve_bases (sw_plan *p, sw_error **err)
{
  sw_expand_opts o = { .escape = p->escape };
  for (size_t i = 0; i < p->n_stages; i++)
    {
      sw_plan_stage *st = &p->stages[i];
      const sw_df_instr *from = st->from;
      if (sw_expand_word (from->base, &o, sw_plan_env_lookup, p->global, &st->base, err) < 0)
        return locate (p->df, from->node, err);
      if (!*st->base)
        return sw_df_error_node (err, p->df, from->node, "base name (%s) should not be blank",
                                 from->base);
      if (from->platform)
        {
          cleanup_free char *pl = NULL;
          cleanup_platform sw_platform plat = SW_PLATFORM_INIT;
          if (sw_expand_word (from->platform, &o, sw_plan_env_lookup, p->global, &pl, err) < 0)
            {
              cleanup_free char *msg = sw_xstrdup (sw_error_message (*err));
              sw_error_free (*err);
              *err = NULL;
              return sw_df_error_node (err, p->df, from->node,
                                       "failed to process arguments for platform %s: %s",
                                       from->platform, msg);
            }
          if (!*pl)
            return sw_df_error_node (err, p->df, from->node,
                                     "empty platform value from expression %s", from->platform);
          if (sw_platform_parse (pl, &plat, err) < 0)
            {
              cleanup_free char *msg = sw_xstrdup (sw_error_message (*err));
              sw_error_free (*err);
              *err = NULL;
              return sw_df_error_node (err, p->df, from->node, "failed to parse platform %s: %s",
                                       from->platform, msg);
            }
          st->platform = sw_platform_format (&plat);
          st->platform_explicit = true;
        }
      long base = stage_by_name (p, st->base, i);
      /* exact: BuildKit looks the base name up as written, names are stored lower case */
      if (base >= 0 && strcmp (p->stages[base].name, st->base) != 0)
        base = -1;
      if (base >= 0)
        {
          st->base_kind = SW_PLAN_BASE_STAGE;
          st->base_stage = base;
          free (st->platform);
          st->platform = sw_xstrdup (p->stages[base].platform);
          st->platform_explicit = p->stages[base].platform_explicit;
          stage_add_dep (st, base, NULL, NULL);
        }
      else if (strcmp (st->base, "scratch") == 0)
        st->base_kind = SW_PLAN_BASE_SCRATCH;
      else
        st->base_kind = SW_PLAN_BASE_IMAGE;
      if (!st->platform)
        st->platform = sw_xstrdup (p->target_platform);
    }
  return 0;
}

/* initOnBuildTriggers for a stage built on a stage: the base's ONBUILD expressions run
 * first in this stage. */
static int
onbuild_triggers (sw_plan *p, sw_plan_stage *st, sw_error **err)
{
  if (st->base_kind != SW_PLAN_BASE_STAGE)
    return 0;
  const sw_plan_stage *base = &p->stages[st->base_stage];
  sw_df_instr **own = st->instrs;
  size_t n_own = st->n_instrs;
  st->instrs = NULL;
  st->n_instrs = 0;
  int rc = 0;
  for (size_t i = base->n_onbuild; i < base->n_instrs && rc == 0; i++)
    {
      const sw_df_instr *ob = base->instrs[i];
      if (ob->kind != SW_DF_ONBUILD)
        continue;
      sw_dockerfile *tdoc = NULL;
      if (sw_dockerfile_parse (ob->value, strlen (ob->value), p->df->path, &tdoc, err) < 0)
        {
          rc = locate (p->df, ob->node, err);
          break;
        }
      p->trigger_docs = sw_df_grow (p->trigger_docs, p->n_trigger_docs + 1,
                                        sizeof *p->trigger_docs);
      p->trigger_docs[p->n_trigger_docs++] = tdoc;
      for (size_t k = 0; k < tdoc->ast->n_children; k++)
        {
          sw_df_instr *t = NULL;
          if (sw_df_instr_parse (NULL, tdoc->ast->children[k], &t, err) < 0)
            {
              rc = locate (p->df, ob->node, err);
              break;
            }
          if (t->kind == SW_DF_FROM)
            {
              sw_df_instr_free (t);
              rc = sw_df_error_node (err, p->df, ob->node,
                                     "FROM isn't allowed as an ONBUILD trigger");
              break;
            }
          t->trigger = true;
          stage_add_instr (st, t);
          st->n_onbuild++;
        }
    }
  for (size_t i = 0; i < n_own; i++)
    stage_add_instr (st, own[i]);
  free (own);
  return rc;
}

static int
find_deps (sw_plan *p, sw_plan_stage *st, sw_error **err)
{
  for (size_t i = 0; i < st->n_instrs; i++)
    {
      const sw_df_instr *in = st->instrs[i];
      const sw_dockerfile *df = i < st->n_onbuild ? NULL : p->df;
      const sw_df_node *where = i < st->n_onbuild ? st->from->node : in->node;
      if (in->kind == SW_DF_COPY && in->from)
        {
          cleanup_free char *x = NULL;
          sw_expand_opts o = { .escape = p->escape };
          if (sw_expand_word (in->from, &o, NULL, NULL, &x, err) < 0)
            return locate (df ? df : p->df, where, err);
          if (strcmp (x, in->from) != 0)
            {
              int line = where->start_line, col = where->column;
              if (df)
                sw_df_locate (p->df, where, "--from", &line, &col);
              return sw_df_error_at (err, p->df, line, col,
                                     "variable expansion is not supported for --from, define a "
                                     "new stage with FROM using ARG from global scope as a "
                                     "workaround");
            }
          long idx;
          if (go_atoi (in->from, &idx))
            {
              if (idx < 0 || (size_t) idx >= p->n_stages)
                {
                  int line = where->start_line, col = where->column;
                  if (df)
                    sw_df_locate (p->df, where, "--from", &line, &col);
                  return sw_df_error_at (err, p->df, line, col, "invalid stage index %ld", idx);
                }
              stage_add_dep (st, idx, NULL, in);
              continue;
            }
          long s = stage_by_name (p, in->from, p->n_stages);
          if (s >= 0)
            stage_add_dep (st, s, NULL, in);
          else
            {
              const char *hint = suggest_stage (p, in->from);
              if (hint)
                warn (p, "%s:%d: COPY --from=%s names no stage, so it is an image to pull "
                      "(did you mean the stage %s?)", p->df->path ? p->df->path : "Dockerfile",
                      where->start_line, in->from, hint);
              stage_add_dep (st, -1, in->from, in);
            }
        }
      if (in->kind == SW_DF_RUN)
        for (size_t m = 0; m < in->n_mounts; m++)
          {
            const char *from = in->mounts[m].from ? in->mounts[m].from : "scratch";
            long s = stage_by_name (p, from, p->n_stages);
            if (s >= 0)
              stage_add_dep (st, s, NULL, in);
            else if (in->mounts[m].from)
              stage_add_dep (st, -1, from, in);
          }
    }
  return 0;
}

/* validateCircularDependency: a depth-first walk over every stage's command sources,
 * with an explicit stack (a chain of stages can be long).  Returns the instruction that
 * closes a cycle, or NULL. */
static const sw_df_instr *
cycle_walk (sw_plan *p, size_t from, unsigned char *state, size_t *stack, size_t *pos)
{
  size_t depth = 0;
  if (state[from])
    return NULL;
  state[from] = 2; /* on the path */
  stack[depth] = from;
  pos[depth++] = 0;
  while (depth > 0)
    {
      size_t s = stack[depth - 1];
      const sw_plan_stage *st = &p->stages[s];
      if (pos[depth - 1] >= st->n_deps)
        {
          state[s] = 1; /* done */
          depth--;
          continue;
        }
      const sw_plan_dep *d = &st->deps[pos[depth - 1]++];
      if (d->stage < 0 || !d->by)
        continue;
      if (state[d->stage] == 2)
        return d->by;
      if (state[d->stage] == 0)
        {
          state[d->stage] = 2;
          stack[depth] = (size_t) d->stage;
          pos[depth++] = 0;
        }
    }
  return NULL;
}

static int
check_cycles (sw_plan *p, sw_error **err)
{
  cleanup_free unsigned char *state = sw_xcalloc (p->n_stages, 1);
  cleanup_free size_t *stack = sw_xcalloc (p->n_stages + 1, sizeof *stack);
  cleanup_free size_t *pos = sw_xcalloc (p->n_stages + 1, sizeof *pos);
  for (size_t s = 0; s < p->n_stages; s++)
    {
      const sw_df_instr *c = cycle_walk (p, s, state, stack, pos);
      if (c)
        {
          const sw_df_node *where = c->trigger ? p->stages[s].from->node : c->node;
          int line = where->start_line, col = where->column;
          if (where == c->node)
            sw_df_locate (p->df, where, c->kind == SW_DF_COPY ? "--from" : "--mount", &line,
                          &col);
          return sw_df_error_at (err, p->df, line, col,
                                 "circular dependency detected on stage: %s",
                                 p->stages[s].display);
        }
    }
  return 0;
}

static void
mark_needed (sw_plan *p, size_t target)
{
  cleanup_free size_t *todo = sw_xcalloc (p->n_stages + 1, sizeof *todo);
  size_t n = 0;
  p->stages[target].needed = true;
  todo[n++] = target;
  while (n > 0)
    {
      const sw_plan_stage *st = &p->stages[todo[--n]];
      for (size_t i = 0; i < st->n_deps; i++)
        {
          long d = st->deps[i].stage;
          if (d >= 0 && !p->stages[d].needed)
            {
              p->stages[d].needed = true;
              todo[n++] = (size_t) d;
            }
        }
    }
}

/* Kahn's algorithm, always taking the ready stage that comes first in the file: the
 * dependencies first, otherwise file order.  O((stages + edges) log stages). */
static void
heap_push (size_t *h, size_t *n, size_t v)
{
  size_t i = (*n)++;
  h[i] = v;
  while (i > 0 && h[(i - 1) / 2] > h[i])
    {
      size_t t = h[i];
      h[i] = h[(i - 1) / 2];
      h[(i - 1) / 2] = t;
      i = (i - 1) / 2;
    }
}

static size_t
heap_pop (size_t *h, size_t *n)
{
  size_t top = h[0], i = 0;
  h[0] = h[--*n];
  for (;;)
    {
      size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < *n && h[l] < h[m])
        m = l;
      if (r < *n && h[r] < h[m])
        m = r;
      if (m == i)
        break;
      size_t t = h[i];
      h[i] = h[m];
      h[m] = t;
      i = m;
    }
  return top;
}

static void
make_order (sw_plan *p)
{
  size_t n = p->n_stages, n_edges = 0;
  cleanup_free size_t *indeg = sw_xcalloc (n + 1, sizeof *indeg);
  cleanup_free size_t *first = sw_xcalloc (n + 2, sizeof *first);
  for (size_t s = 0; s < n; s++)
    for (size_t i = 0; p->stages[s].needed && i < p->stages[s].n_deps; i++)
      {
        long d = p->stages[s].deps[i].stage;
        if (d >= 0 && (size_t) d != s)
          {
            indeg[s]++;
            first[d + 1]++;
            n_edges++;
          }
      }
  for (size_t s = 0; s < n; s++)
    first[s + 1] += first[s];
  cleanup_free size_t *edges = sw_xcalloc (n_edges + 1, sizeof *edges);
  cleanup_free size_t *fill = sw_xcalloc (n + 1, sizeof *fill);
  for (size_t s = 0; s < n; s++)
    for (size_t i = 0; p->stages[s].needed && i < p->stages[s].n_deps; i++)
      {
        long d = p->stages[s].deps[i].stage;
        if (d >= 0 && (size_t) d != s)
          edges[first[d] + fill[d]++] = s;
      }
  cleanup_free size_t *heap = sw_xcalloc (n + 1, sizeof *heap);
  size_t hn = 0;
  p->order = sw_xcalloc (n + 1, sizeof *p->order);
  for (size_t s = 0; s < n; s++)
    if (p->stages[s].needed && indeg[s] == 0)
      heap_push (heap, &hn, s);
  while (hn > 0)
    {
      size_t s = heap_pop (heap, &hn);
      p->order[p->n_order++] = s;
      for (size_t e = first[s]; e < first[s + 1]; e++)
        if (--indeg[edges[e]] == 0)
          heap_push (heap, &hn, edges[e]);
    }
}

static bool
builtin_arg (const char *k)
{
  static const char *const names[] = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "SOURCE_DATE_EPOCH",
    "BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
    "TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT",
    "TARGETSTAGE",
  };
  if (strncmp (k, "BUILDKIT_", 9) == 0)
    return true;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp (k, names[i]) == 0)
      return true;
  return false;
}

static bool
arg_declared (const sw_df_instr *in, const char *key, size_t keylen)
{
  if (in->kind != SW_DF_ARG)
    return false;
  for (size_t i = 0; i < in->n_kvs; i++)
    if (strlen (in->kvs[i].key) == keylen && strncmp (in->kvs[i].key, key, keylen) == 0)
      return true;
  return false;
}

static void
unused_build_args (sw_plan *p)
{
  sw_buf unused = SW_BUF_INIT;
  cleanup_strvec sw_strv keys = SW_STRV_INIT;
  for (size_t i = 0; i < p->build_args.n; i++)
    {
      const char *a = p->build_args.v[i];
      size_t len = strcspn (a, "=");
      cleanup_free char *key = sw_xstrndup (a, len);
      bool used = builtin_arg (key);
      for (size_t k = 0; k < p->n_meta_args && !used; k++)
        used = arg_declared (p->meta_args[k], a, len);
      for (size_t s = 0; s < p->n_stages && !used; s++)
        if (p->stages[s].needed)
          for (size_t k = 0; k < p->stages[s].n_instrs && !used; k++)
            used = arg_declared (p->stages[s].instrs[k], a, len);
      for (size_t k = 0; k < keys.n && !used; k++)
        used = strcmp (keys.v[k], key) == 0; /* given twice: report once */
      if (!used)
        sw_strv_push_owned (&keys, steal_pointer (&key));
    }
  if (keys.n == 0)
    return;
  /* sorted, as Docker prints them */
  for (size_t i = 1; i < keys.n; i++)
    for (size_t j = i; j > 0 && strcmp (keys.v[j - 1], keys.v[j]) > 0; j--)
      {
        char *t = keys.v[j];
        keys.v[j] = keys.v[j - 1];
        keys.v[j - 1] = t;
      }
  for (size_t i = 0; i < keys.n; i++)
    sw_buf_printf (&unused, "%s%s", i ? " " : "", keys.v[i]);
  warn (p, "[Warning] One or more build-args [%s] were not consumed", sw_buf_str (&unused));
  sw_buf_free (&unused);
}

static int plan_new (const sw_dockerfile *df, const sw_plan_opts *opts, sw_plan **out,
                     sw_error **err);

int
sw_plan_new (const sw_dockerfile *df, const sw_plan_opts *opts, sw_plan **out, sw_error **err)
{
  /* a local error: messages are rewritten on the way up, even for a caller that passes
   * err == NULL */
  sw_error *local = NULL;
  int rc = plan_new (df, opts, out, &local);
  if (rc < 0 && err)
    sw_error_move (err, &local);
  sw_error_free (local);
  return rc;
}

static int
plan_new (const sw_dockerfile *df, const sw_plan_opts *opts, sw_plan **out, sw_error **err)
{
  static const sw_plan_opts none = { 0 };
  const sw_plan_opts *o = opts ? opts : &none;
  sw_plan *p = sw_xzalloc (sizeof *p);

  *out = NULL;
  p->df = df;
  p->escape = df->escape ? df->escape : '\\';
  for (size_t i = 0; o->build_args && o->build_args[i]; i++)
    sw_strv_push (&p->build_args, o->build_args[i]);

  if (parse_stages (p, err) < 0 || setup_platforms (p, o, err) < 0 || meta_args (p, err) < 0
      || resolve_bases (p, err) < 0)
    goto fail;
  for (size_t s = 0; s < p->n_stages; s++)
    if (onbuild_triggers (p, &p->stages[s], err) < 0 || find_deps (p, &p->stages[s], err) < 0)
      goto fail;
  if (check_cycles (p, err) < 0)
    goto fail;

  for (size_t k = 1; k < p->n_names; k++)
    if (strcmp (p->names[k - 1].name, p->names[k].name) == 0)
      warn (p, "%s:%d: duplicate stage name \"%s\", stage names should be unique",
            df->path ? df->path : "Dockerfile",
            p->stages[p->names[k].index].from->node->start_line, p->names[k].name);

  if (o->target && *o->target)
    {
      long t = stage_by_name (p, o->target, p->n_stages);
      if (t < 0)
        {
          const char *hint = suggest_stage (p, o->target);
          if (hint)
            sw_error_make (err, 0, "target stage \"%s\" could not be found (did you mean %s?)",
                           o->target, hint);
          else
            sw_error_make (err, 0, "target stage \"%s\" could not be found", o->target);
          goto fail;
        }
      p->target = (size_t) t;
    }
  else
    p->target = p->n_stages - 1;
  mark_needed (p, p->target);
  make_order (p);
  unused_build_args (p);
  *out = p;
  return 0;

fail:
  sw_plan_free (p);
  return -1;
}

void
sw_plan_free (sw_plan *p)
{
  if (!p)
    return;
  for (size_t s = 0; s < p->n_stages; s++)
    {
      sw_plan_stage *st = &p->stages[s];
      free (st->name);
      free (st->display);
      sw_df_instr_free (st->from);
      free (st->base);
      free (st->platform);
      for (size_t i = 0; i < st->n_instrs; i++)
        sw_df_instr_free (st->instrs[i]);
      free (st->instrs);
      for (size_t i = 0; i < st->n_deps; i++)
        free (st->deps[i].image);
      free (st->deps);
    }
  free (p->stages);
  free (p->names);
  free (p->order);
  free (p->build_platform);
  free (p->target_platform);
  for (size_t i = 0; i < p->n_meta_args; i++)
    sw_df_instr_free (p->meta_args[i]);
  free (p->meta_args);
  sw_plan_env_free (p->global);
  sw_strv_free (&p->build_args);
  sw_strv_free (&p->warnings);
  for (size_t i = 0; i < p->n_trigger_docs; i++)
    sw_dockerfile_free (p->trigger_docs[i]);
  free (p->trigger_docs);
  free (p);
}

/* ---- dump ------------------------------------------------------------------------ */

char *
sw_plan_dump (const sw_plan *p)
{
  sw_buf b = SW_BUF_INIT;
  static const char *const base_kinds[] = { "image", "stage", "scratch" };

  sw_buf_printf (&b, "build platform: %s\ntarget platform: %s%s\n", p->build_platform,
                 p->target_platform, p->implicit_target ? " (implicit)" : "");
  sw_buf_printf (&b, "target: %s\nglobal scope:\n", p->stages[p->target].display);
  for (size_t i = 0; i < p->global->n; i++)
    sw_buf_printf (&b, "  %s=%s\n", p->global->k[i], p->global->v[i]);
  for (size_t s = 0; s < p->n_stages; s++)
    {
      const sw_plan_stage *st = &p->stages[s];
      sw_buf_printf (&b, "stage %zu %s: FROM %s %s, platform %s%s%s\n", st->index, st->display,
                     base_kinds[st->base_kind], st->base, st->platform,
                     st->platform_explicit ? " (explicit)" : "", st->needed ? "" : ", not needed");
      for (size_t i = 0; i < st->n_deps; i++)
        {
          const sw_plan_dep *d = &st->deps[i];
          if (d->stage >= 0)
            sw_buf_printf (&b, "  needs stage %s%s%s\n", p->stages[d->stage].display,
                           d->by ? " for " : " as base", d->by ? sw_df_kind_name (d->by->kind) : "");
          else
            sw_buf_printf (&b, "  needs image %s for %s\n", d->image, sw_df_kind_name (d->by->kind));
        }
      for (size_t i = 0; i < st->n_instrs; i++)
        {
          const sw_df_instr *in = st->instrs[i];
          sw_buf_printf (&b, "  %s%d: %s\n", i < st->n_onbuild ? "onbuild " : "",
                         in->node->start_line, in->original);
        }
    }
  sw_buf_puts (&b, "order:");
  for (size_t i = 0; i < p->n_order; i++)
    sw_buf_printf (&b, " %s", p->stages[p->order[i]].display);
  sw_buf_putc (&b, '\n');
  for (size_t i = 0; i < p->warnings.n; i++)
    sw_buf_printf (&b, "%s\n", p->warnings.v[i]);
  return sw_buf_steal (&b);
}
