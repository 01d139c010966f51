/* bake/bake.c — files → config (targets and groups) → resolved targets, as buildx.
 * The contract is in bake.h.
 *
 * A target is held as a JSON object with buildx's field names and normalized types:
 * strings, bools, string lists, and maps of strings (args/labels/extra-hosts values may
 * be null: "unset", skipped when merged).  CSV-valued lists (output, cache-from,
 * cache-to, secret, ssh) stay strings until printed, where they become objects as
 * buildx's types marshal them. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bake/bake.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/csv.h"
#include "common/xalloc.h"

enum ftype
{
  F_STRING,
  F_BOOL,
  F_LIST_REPLACE, /* a later definition replaces the list */
  F_LIST_APPEND,  /* a later definition adds to it */
  F_MAP,          /* merged key by key; null values skipped */
  F_DESCRIPTION,  /* replaced when not empty */
};

/* In buildx's Target field order (what --print writes). */
static const struct field
{
  const char *name;
  enum ftype type;
  bool csv; /* printed as objects */
} fields[] = {
  { "description", F_DESCRIPTION, false },
  { "inherits", F_LIST_APPEND, false },
  { "annotations", F_LIST_APPEND, false },
  { "attest", F_LIST_APPEND, true },
  { "context", F_STRING, false },
  { "contexts", F_MAP, false },
  { "dockerfile", F_STRING, false },
  { "dockerfile-inline", F_STRING, false },
  { "args", F_MAP, false },
  { "labels", F_MAP, false },
  { "tags", F_LIST_REPLACE, false },
  { "cache-from", F_LIST_APPEND, true },
  { "cache-to", F_LIST_REPLACE, true },
  { "target", F_STRING, false },
  { "secret", F_LIST_APPEND, true },
  { "ssh", F_LIST_APPEND, true },
  { "platforms", F_LIST_REPLACE, false },
  { "output", F_LIST_REPLACE, true },
  { "pull", F_BOOL, false },
  { "no-cache", F_BOOL, false },
  { "network", F_STRING, false },
  { "no-cache-filter", F_LIST_APPEND, false },
  { "shm-size", F_STRING, false },
  { "ulimits", F_LIST_APPEND, false },
  { "call", F_STRING, false },
  { "entitlements", F_LIST_APPEND, false },
  { "extra-hosts", F_MAP, false },
  /* slipway's */
  { "x-slipway-smoke", F_LIST_REPLACE, false },
  { "x-slipway-publish-last", F_BOOL, false },
};
#define N_FIELDS (sizeof fields / sizeof *fields)

static const struct field *
field_named (const char *name)
{
  for (size_t i = 0; i < N_FIELDS; i++)
    if (strcmp (fields[i].name, name) == 0)
      return &fields[i];
  return NULL;
}

typedef struct config
{
  json_t *targets; /* name → target object, in definition order */
  json_t *groups;  /* name → {"description"?, "targets": [...]} */
} config;

/* ---- values into fields --------------------------------------------------------------- */

static int
bad_type (const char *where, const char *name, const char *what, sw_error **err)
{
  sw_error_make (err, EINVAL, "%s: Incorrect attribute value type; %s must be %s", where, name, what);
  return sw_error_set_category (err, SW_ERR_INPUT);
}

static int
to_field (const struct field *f, const json_t *v, const char *where, json_t **out, sw_error **err)
{
  *out = NULL;
  if (json_is_null (v))
    return 0; /* an attribute set to null is as if not set */
  switch (f->type)
    {
    case F_STRING:
    case F_DESCRIPTION:
      {
        char *s = sw_hcl_value_string (v);
        if (s == NULL)
          return bad_type (where, f->name, "a string", err);
        *out = json_string (s);
        free (s);
        return 0;
      }
    case F_BOOL:
      if (json_is_boolean (v))
        *out = json_incref ((json_t *) v);
      else if (json_is_string (v) && (strcmp (json_string_value (v), "true") == 0 || strcmp (json_string_value (v), "false") == 0))
        *out = json_boolean (strcmp (json_string_value (v), "true") == 0);
      else
        return bad_type (where, f->name, "a bool", err);
      return 0;
    case F_LIST_REPLACE:
    case F_LIST_APPEND:
      {
        if (!json_is_array (v))
          return bad_type (where, f->name, "a list of strings", err);
        json_t *l = json_array ();
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e)
          {
            if (json_is_null (e))
              continue;
            char *s = sw_hcl_value_string (e);
            if (s == NULL)
              {
                json_decref (l);
                return bad_type (where, f->name, "a list of strings", err);
              }
            json_array_append_new (l, json_string (s));
            free (s);
          }
        *out = l;
        return 0;
      }
    case F_MAP:
      {
        if (!json_is_object (v))
          return bad_type (where, f->name, "a map of strings", err);
        json_t *m = json_object ();
        const char *k;
        json_t *e;
        json_object_foreach ((json_t *) v, k, e)
          {
            if (json_is_null (e))
              {
                json_object_set_new (m, k, json_null ());
                continue;
              }
            char *s = sw_hcl_value_string (e);
            if (s == NULL)
              {
                json_decref (m);
                return bad_type (where, f->name, "a map of strings", err);
              }
            json_object_set_new (m, k, json_string (s));
            free (s);
          }
        *out = m;
        return 0;
      }
    }
  return 0;
}

/* A block's attributes as a target; unknown attributes are ignored, as buildx does. */
static int
target_from_attrs (const json_t *attrs, const char *where, json_t **out, sw_error **err)
{
  json_t *t = json_object ();
  const char *k;
  json_t *v;
  json_object_foreach ((json_t *) attrs, k, v)
    {
      const struct field *f = field_named (k);
      json_t *fv;
      if (f == NULL)
        continue;
      if (to_field (f, v, where, &fv, err) < 0)
        {
          json_decref (t);
          return -1;
        }
      if (fv)
        json_object_set_new (t, k, fv);
    }
  *out = t;
  return 0;
}

/* ---- Target.Merge -------------------------------------------------------------------- */

static void
merge_target (json_t *t, const json_t *t2)
{
  for (size_t i = 0; i < N_FIELDS; i++)
    {
      const struct field *f = &fields[i];
      json_t *v2 = json_object_get (t2, f->name);
      if (v2 == NULL)
        continue;
      json_t *v1 = json_object_get (t, f->name);
      switch (f->type)
        {
        case F_DESCRIPTION:
          if (*json_string_value (v2) == '\0')
            break;
          /* fall through */
        case F_STRING:
        case F_BOOL:
        case F_LIST_REPLACE:
          json_object_set_new (t, f->name, json_deep_copy (v2));
          break;
        case F_LIST_APPEND:
          if (v1 == NULL)
            json_object_set_new (t, f->name, json_deep_copy (v2));
          else
            json_array_extend (v1, v2);
          break;
        case F_MAP:
          {
            const char *k;
            json_t *e;
            json_object_foreach (v2, k, e)
              {
                /* contexts keep "" (removed by normalize); the others skip null */
                if (json_is_null (e))
                  continue;
                if (v1 == NULL)
                  {
                    v1 = json_object ();
                    json_object_set_new (t, f->name, v1);
                  }
                json_object_set (v1, k, e);
              }
            break;
          }
        }
    }
}

static void
dedup_list (json_t *l)
{
  for (size_t i = 0; l && i < json_array_size (l); i++)
    for (size_t j = 0; j < i; j++)
      if (json_equal (json_array_get (l, i), json_array_get (l, j)))
        {
          json_array_remove (l, i--);
          break;
        }
}

static void
normalize (json_t *t)
{
  static const char *const lists[] = { "annotations", "attest", "tags", "secret", "ssh", "platforms", "cache-from",
                                       "cache-to", "output", "no-cache-filter", "ulimits" };
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    dedup_list (json_object_get (t, lists[i]));
  json_t *net = json_object_get (t, "network");
  if (net && strcmp (json_string_value (net), "host") == 0)
    {
      json_t *e = json_object_get (t, "entitlements");
      if (e == NULL)
        json_object_set_new (t, "entitlements", e = json_array ());
      json_array_append_new (e, json_string ("network.host"));
    }
  dedup_list (json_object_get (t, "entitlements"));
  json_t *c = json_object_get (t, "contexts");
  if (c)
    {
      const char *k;
      json_t *v;
      void *tmp;
      json_object_foreach_safe (c, tmp, k, v)
        if (*json_string_value (v) == '\0')
          json_object_del (c, k);
      if (json_object_size (c) == 0)
        json_object_del (t, "contexts");
    }
}

/* ---- overrides (--set) ---------------------------------------------------------------- */

typedef struct override
{
  char *key;     /* "args.X", "tags", … */
  char *value;   /* the last value given */
  json_t *arr;   /* list keys: every value given */
  bool append;
  bool has_value;
} override;

typedef struct target_overrides
{
  char *target;
  override *o;
  size_t n;
} target_overrides;

typedef struct overrides
{
  target_overrides *t;
  size_t n;
} overrides;

static void
overrides_free (overrides *o)
{
  for (size_t i = 0; i < o->n; i++)
    {
      for (size_t j = 0; j < o->t[i].n; j++)
        {
          free (o->t[i].o[j].key);
          free (o->t[i].o[j].value);
          json_decref (o->t[i].o[j].arr);
        }
      free (o->t[i].o);
      free (o->t[i].target);
    }
  free (o->t);
}

static override *
override_slot (overrides *o, const char *target, const char *key)
{
  target_overrides *to = NULL;
  for (size_t i = 0; i < o->n && !to; i++)
    if (strcmp (o->t[i].target, target) == 0)
      to = &o->t[i];
  if (to == NULL)
    {
      o->t = sw_xreallocarray (o->t, o->n + 1, sizeof *o->t);
      to = &o->t[o->n++];
      *to = (target_overrides){ .target = sw_xstrdup (target) };
    }
  for (size_t i = 0; i < to->n; i++)
    if (strcmp (to->o[i].key, key) == 0)
      return &to->o[i];
  to->o = sw_xreallocarray (to->o, to->n + 1, sizeof *to->o);
  override *ov = &to->o[to->n++];
  *ov = (override){ .key = sw_xstrdup (key) };
  return ov;
}

static int
parse_overrides (const config *c, const char *const *sets, sw_bake_opts const *bo, overrides *out, sw_error **err)
{
  for (size_t i = 0; sets && sets[i]; i++)
    {
      cleanup_free char *s = sw_xstrdup (sets[i]);
      char *eq = strchr (s, '=');
      const char *value = eq ? eq + 1 : NULL;
      if (eq)
        *eq = '\0';
      size_t kl = strlen (s);
      bool append = kl > 0 && s[kl - 1] == '+';
      if (append)
        s[kl - 1] = '\0';
      char *dot = strchr (s, '.');
      if (dot == NULL)
        {
          sw_error_make (err, EINVAL, "invalid override key %s, expected target.name", s);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      *dot = '\0';
      const char *pattern = s, *key = dot + 1;
      cleanup_free char *first = sw_xstrdup (key);
      char *d2 = strchr (first, '.');
      if (d2)
        *d2 = '\0';
      bool has_name = d2 != NULL;
      if (value == NULL && strcmp (first, "args") != 0)
        {
          sw_error_make (err, EINVAL, "invalid override %s, expected target.name=value", sets[i]);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      bool is_list = false;
      static const char *const list_keys[] = { "output", "cache-to", "cache-from", "tags", "platform", "secrets",
                                               "ssh", "attest", "entitlements", "network", "annotations", "policy" };
      for (size_t k = 0; k < sizeof list_keys / sizeof *list_keys; k++)
        is_list |= strcmp (first, list_keys[k]) == 0;
      if (!is_list && has_name == false
          && (strcmp (first, "args") == 0 || strcmp (first, "contexts") == 0 || strcmp (first, "labels") == 0))
        {
          sw_error_make (err, EINVAL, "invalid key %s, %s requires name", sets[i], first);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      cleanup_free char *envval = NULL;
      if (value == NULL) /* args.X with no value: from the environment, or nothing */
        {
          const char *ev = bo->lookup ? bo->lookup (bo->lookup_ud, d2 + 1) : getenv (d2 + 1);
          if (ev == NULL)
            continue;
          value = envval = sw_xstrdup (ev);
        }
      /* the targets the pattern names (an exact name first, as buildx) */
      bool exact = json_object_get (c->targets, pattern) != NULL;
      bool any = false;
      const char *name;
      json_t *t;
      json_object_foreach (c->targets, name, t)
        {
          if (exact ? strcmp (name, pattern) != 0 : fnmatch (pattern, name, 0) != 0)
            continue;
          any = true;
          override *ov = override_slot (out, name, key);
          if (is_list)
            {
              ov->append = append;
              if (ov->arr == NULL)
                ov->arr = json_array ();
              json_array_append_new (ov->arr, json_string (value));
            }
          free (ov->value);
          ov->value = sw_xstrdup (value);
          ov->has_value = true;
        }
      if (!any)
        {
          sw_error_make (err, EINVAL, "could not find any target matching '%s'", pattern);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
    }
  return 0;
}

static int
parse_bool_value (const char *key, const char *v, bool *out, sw_error **err)
{
  static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
  static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };
  for (size_t i = 0; i < 6; i++)
    {
      if (strcmp (v, yes[i]) == 0)
        return *out = true, 0;
      if (strcmp (v, no[i]) == 0)
        return *out = false, 0;
    }
  sw_error_make (err, EINVAL, "invalid value %s for boolean key %s", v, key);
  return sw_error_set_category (err, SW_ERR_INPUT);
}

static json_t *
map_field (json_t *t, const char *name)
{
  json_t *m = json_object_get (t, name);
  if (m == NULL)
    json_object_set_new (t, name, m = json_object ());
  return m;
}

static void
list_set (json_t *t, const char *name, const override *o)
{
  json_t *cur = json_object_get (t, name);
  if (o->append && cur)
    json_array_extend (cur, o->arr);
  else
    json_object_set_new (t, name, json_deep_copy (o->arr));
}

/* setPushOverride: push=true makes every image output push, or adds one. */
static void
push_override (json_t *t, bool push)
{
  json_t *outs = json_object_get (t, "output");
  if (!push)
    {
      for (size_t i = 0; outs && i < json_array_size (outs); i++)
        {
          const char *s = json_string_value (json_array_get (outs, i));
          if (strstr (s, "type=registry"))
            json_array_remove (outs, i--);
          else if (strstr (s, "type=image"))
            {
              char *n = sw_xasprintf ("%s,push=false", s);
              json_array_set_new (outs, i, json_string (n));
              free (n);
            }
        }
      return;
    }
  bool add = true;
  for (size_t i = 0; outs && i < json_array_size (outs); i++)
    {
      const char *s = json_string_value (json_array_get (outs, i));
      if (strstr (s, "type=docker") == NULL)
        add = false;
      if (strstr (s, "type=image"))
        {
          char *n = sw_xasprintf ("%s,push=true", s);
          json_array_set_new (outs, i, json_string (n));
          free (n);
        }
    }
  if (add)
    {
      if (outs == NULL)
        json_object_set_new (t, "output", outs = json_array ());
      json_array_append_new (outs, json_string ("type=image,push=true"));
    }
}

static int
apply_overrides (json_t *t, const char *name, const overrides *os, sw_error **err)
{
  const target_overrides *to = NULL;
  for (size_t i = 0; i < os->n; i++)
    if (strcmp (os->t[i].target, name) == 0)
      to = &os->t[i];
  for (size_t i = 0; to && i < to->n; i++)
    {
      const override *o = &to->o[i];
      const char *k = o->key, *v = o->value;
      const char *sub = strchr (k, '.');
      size_t kl = sub ? (size_t) (sub - k) : strlen (k);
      bool b;
#define IS(s) (kl == strlen (s) && strncmp (k, s, kl) == 0)
      if (IS ("context") || IS ("dockerfile") || IS ("target") || IS ("call") || IS ("shm-size"))
        json_object_set_new (t, IS ("shm-size") ? "shm-size" : k, json_string (v));
      else if (IS ("network"))
        json_object_set_new (t, "network", json_string (v));
      else if (IS ("args") || IS ("labels") || IS ("contexts") || IS ("extra-hosts"))
        {
          cleanup_free char *f = sw_xstrndup (k, kl);
          json_object_set_new (map_field (t, f), sub + 1, json_string (v));
        }
      else if (IS ("tags") || IS ("output") || IS ("cache-to") || IS ("no-cache-filter") || IS ("ulimits"))
        list_set (t, k, o);
      else if (IS ("platform"))
        list_set (t, "platforms", o);
      else if (IS ("secrets"))
        list_set (t, "secret", o);
      else if (IS ("ssh") || IS ("cache-from"))
        {
          json_t *cur = json_object_get (t, k);
          if (o->append && cur)
            json_array_extend (cur, o->arr);
          else
            json_object_set_new (t, k, json_deep_copy (o->arr));
        }
      else if (IS ("annotations") || IS ("entitlements") || IS ("attest"))
        {
          json_t *cur = json_object_get (t, k);
          if (cur == NULL)
            json_object_set_new (t, k, json_deep_copy (o->arr));
          else
            json_array_extend (cur, o->arr);
        }
      else if (IS ("no-cache") || IS ("pull"))
        {
          if (parse_bool_value (k, v, &b, err) < 0)
            return -1;
          json_object_set_new (t, k, json_boolean (b));
        }
      else if (IS ("push"))
        {
          if (parse_bool_value (k, v, &b, err) < 0)
            return -1;
          push_override (t, b);
        }
      else if (IS ("load"))
        {
          if (parse_bool_value (k, v, &b, err) < 0)
            return -1;
          if (b)
            {
              json_t *outs = json_object_get (t, "output");
              if (outs == NULL)
                json_object_set_new (t, "output", outs = json_array ());
              json_array_append_new (outs, json_string ("type=docker"));
            }
        }
      else if (IS ("x-slipway-smoke"))
        {
          json_t *cur = json_object_get (t, k);
          if (o->append && cur)
            json_array_append_new (cur, json_string (v));
          else
            {
              json_t *l = json_array ();
              json_array_append_new (l, json_string (v));
              json_object_set_new (t, k, l);
            }
        }
      else
        {
          cleanup_free char *f = sw_xstrndup (k, kl);
          sw_error_make (err, EINVAL, "unknown key: %s", f);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
#undef IS
    }
  return 0;
}

/* ---- resolving ------------------------------------------------------------------------- */

static int
resolve_target (const config *c, const char *name, json_t *visiting, const overrides *os, json_t **out,
                sw_error **err)
{
  json_t *def = json_object_get (c->targets, name);
  if (def == NULL)
    {
      sw_error_make (err, ENOENT, "failed to find target %s", name);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (json_object_get (visiting, name))
    {
      /* buildx returns the unfinished target (nil): the cycle adds nothing */
      *out = NULL;
      return 0;
    }
  json_object_set_new (visiting, name, json_true ());
  json_t *tt = json_object ();
  json_t *inh = json_object_get (def, "inherits");
  for (size_t i = 0; inh && i < json_array_size (inh); i++)
    {
      json_t *p;
      if (resolve_target (c, json_string_value (json_array_get (inh, i)), visiting, os, &p, err) < 0)
        {
          json_decref (tt);
          return -1;
        }
      if (p)
        {
          merge_target (tt, p);
          json_decref (p);
        }
    }
  json_t *m = json_object ();
  merge_target (m, tt);
  merge_target (m, def);
  json_decref (tt);
  if (apply_overrides (m, name, os, err) < 0)
    {
      json_decref (m);
      return -1;
    }
  normalize (m);
  *out = m;
  return 0;
}

static int
resolve_final (const config *c, const char *name, const overrides *os, json_t **out, sw_error **err)
{
  json_t *visiting = json_object ();
  int r = resolve_target (c, name, visiting, os, out, err);
  json_decref (visiting);
  if (r < 0)
    return -1;
  json_object_del (*out, "inherits");
  if (json_object_get (*out, "context") == NULL)
    json_object_set_new (*out, "context", json_string ("."));
  json_t *df = json_object_get (*out, "dockerfile");
  if (df == NULL || *json_string_value (df) == '\0')
    json_object_set_new (*out, "dockerfile", json_string ("Dockerfile"));
  return 0;
}

/* The targets and groups a name reaches (buildx's Config.group). */
static void
resolve_group (const config *c, const char *name, json_t *visited, json_t *targets, json_t *groups)
{
  json_t *g = json_object_get (c->groups, name);
  if (g == NULL)
    {
      json_array_append_new (targets, json_string (name));
      return;
    }
  if (json_object_get (visited, name))
    return;
  json_object_set_new (visited, name, json_true ());
  json_array_append_new (groups, json_string (name));
  json_t *ts = json_object_get (g, "targets");
  for (size_t i = 0; ts && i < json_array_size (ts); i++)
    resolve_group (c, json_string_value (json_array_get (ts, i)), visited, targets, groups);
}

static int
load_links (const config *c, const char *name, json_t *t, json_t *tmap, const overrides *os, json_t *visited,
            sw_error **err)
{
  json_t *ctxs = json_object_get (t, "contexts");
  const char *k;
  json_t *v;
  json_array_append_new (visited, json_string (name));
  json_object_foreach (ctxs, k, v)
    {
      const char *s = json_string_value (v);
      if (strncmp (s, "target:", 7) != 0)
        continue;
      const char *other = s + 7;
      if (strcmp (other, name) == 0)
        {
          sw_error_make (err, EINVAL, "target %s cannot link to itself", other);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      size_t i;
      json_t *e;
      json_array_foreach (visited, i, e)
        if (strcmp (json_string_value (e), other) == 0)
          {
            sw_error_make (err, EINVAL, "infinite loop from %s to %s", name, other);
            return sw_error_set_category (err, SW_ERR_INPUT);
          }
      json_t *t2 = json_object_get (tmap, other);
      if (t2 == NULL)
        {
          if (resolve_final (c, other, os, &t2, err) < 0)
            return -1;
          json_t *outs = json_array ();
          json_array_append_new (outs, json_string ("type=cacheonly"));
          json_object_set_new (t2, "output", outs);
          json_object_set_new (tmap, other, t2);
        }
      json_t *sub = json_deep_copy (visited);
      int r = load_links (c, other, t2, tmap, os, sub, err);
      json_decref (sub);
      if (r < 0)
        return -1;
    }
  return 0;
}

/* ---- printing: buildx's types ------------------------------------------------------------ */

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Re-insert o's keys in sorted order: Go's encoding/json writes maps so, and jansson
 * keeps insertion order. */
static void
sorted_keys (json_t *o)
{
  size_t n = json_object_size (o), i = 0;
  char **keys = sw_xcalloc (n + 1, sizeof *keys);
  json_t **vals = sw_xcalloc (n + 1, sizeof *vals);
  const char *k;
  json_t *v;
  json_object_foreach (o, k, v)
    keys[i++] = sw_xstrdup (k);
  qsort (keys, n, sizeof *keys, cmp_str);
  for (i = 0; i < n; i++)
    vals[i] = json_incref (json_object_get (o, keys[i]));
  json_object_clear (o);
  for (i = 0; i < n; i++)
    {
      json_object_set_new (o, keys[i], vals[i]);
      free (keys[i]);
    }
  free (keys);
  free (vals);
}

/* A buildx option value ("type=local,dest=out") as buildx splits it: Go's encoding/csv.
 * A value that is not valid CSV is kept whole, as one field. */
static json_t *
csv_fields (const char *s)
{
  json_t *l = json_array ();
  cleanup_strvec sw_strv parts = SW_STRV_INIT;
  const char *why;
  if (sw_csv_split (s, &parts, &why) < 0)
    {
      json_array_append_new (l, json_string (s));
      return l;
    }
  for (size_t i = 0; i < parts.n; i++)
    json_array_append_new (l, json_string (parts.v[i]));
  return l;
}

static json_t *
csv_object (const char *s, const char *bare_key)
{
  json_t *o = json_object ();
  json_t *fs = csv_fields (s);
  size_t i;
  json_t *e;
  json_array_foreach (fs, i, e)
    {
      const char *f = json_string_value (e);
      const char *eq = strchr (f, '=');
      if (eq == NULL)
        {
          json_object_set_new (o, bare_key, json_string (f));
          continue;
        }
      cleanup_free char *k = sw_xstrndup (f, (size_t) (eq - f));
      json_object_set_new (o, k, json_string (eq + 1));
    }
  json_decref (fs);
  if (strcmp (bare_key, "type") == 0)
    sorted_keys (o); /* an export or cache entry is a map; a secret is a struct */
  return o;
}

static json_t *
print_csv_list (const char *field, const json_t *l)
{
  json_t *out = json_array ();
  size_t i;
  json_t *e;
  json_array_foreach (l, i, e)
    {
      const char *s = json_string_value (e);
      json_t *o;
      if (strcmp (field, "cache-from") == 0 || strcmp (field, "cache-to") == 0)
        {
          if (strchr (s, '=') == NULL)
            {
              o = json_object ();
              json_object_set_new (o, "type", json_string ("registry"));
              json_object_set_new (o, "ref", json_string (s));
            }
          else
            o = csv_object (s, "type");
        }
      else if (strcmp (field, "output") == 0)
        {
          if (strchr (s, '=') == NULL)
            {
              o = json_object ();
              json_object_set_new (o, "type", json_string (strcmp (s, "-") == 0 ? "tar" : "local"));
              json_object_set_new (o, "dest", json_string (s));
            }
          else
            o = csv_object (s, "type");
        }
      else if (strcmp (field, "ssh") == 0)
        {
          o = json_object ();
          const char *eq = strchr (s, '=');
          if (eq == NULL)
            json_object_set_new (o, "id", json_string (s));
          else
            {
              json_object_set_new (o, "id", json_stringn (s, (size_t) (eq - s)));
              json_t *paths = csv_fields (eq + 1);
              json_object_set_new (o, "paths", paths);
            }
        }
      else
        o = csv_object (s, "id");
      json_array_append_new (out, o);
    }
  return out;
}

/* "${" is written "$${" (and "%{" "%%{") in args, labels, extra-hosts, annotations and
 * dockerfile-inline, so the printed file reads back the same (Target.MarshalJSON). */
static json_t *
escaped (const char *s)
{
  cleanup_buf sw_buf o = SW_BUF_INIT;
  sw_buf_puts (&o, "");
  for (const char *p = s; *p; p++)
    {
      if ((p[0] == '$' || p[0] == '%') && p[1] == '{')
        sw_buf_putc (&o, p[0]);
      sw_buf_putc (&o, *p);
    }
  return json_stringn (o.data, o.len);
}

static json_t *
print_target (const json_t *t, bool extensions)
{
  json_t *o = json_object ();
  for (size_t i = 0; i < N_FIELDS; i++)
    {
      const struct field *f = &fields[i];
      json_t *v = json_object_get (t, f->name);
      if (v == NULL || (strncmp (f->name, "x-slipway-", 10) == 0 && !extensions))
        continue;
      if ((json_is_array (v) && json_array_size (v) == 0) || (json_is_object (v) && json_object_size (v) == 0)
          || (f->type == F_DESCRIPTION && *json_string_value (v) == '\0'))
        continue; /* omitempty */
      bool esc = strcmp (f->name, "args") == 0 || strcmp (f->name, "labels") == 0
                 || strcmp (f->name, "extra-hosts") == 0;
      if (f->csv)
        json_object_set_new (o, f->name, print_csv_list (f->name, v));
      else if (esc)
        {
          json_t *m = json_object ();
          const char *k;
          json_t *e;
          json_object_foreach (v, k, e)
            json_object_set_new (m, k, json_is_null (e) ? json_null () : escaped (json_string_value (e)));
          sorted_keys (m);
          json_object_set_new (o, f->name, m);
        }
      else if (strcmp (f->name, "annotations") == 0)
        {
          json_t *l = json_array ();
          size_t j;
          json_t *e;
          json_array_foreach (v, j, e)
            json_array_append_new (l, escaped (json_string_value (e)));
          json_object_set_new (o, f->name, l);
        }
      else if (strcmp (f->name, "dockerfile-inline") == 0)
        json_object_set_new (o, f->name, escaped (json_string_value (v)));
      else if (json_is_object (v))
        {
          json_t *m = json_deep_copy (v);
          sorted_keys (m);
          json_object_set_new (o, f->name, m);
        }
      else
        json_object_set (o, f->name, v);
    }
  return o;
}

/* ---- files ------------------------------------------------------------------------------ */

static const char *const default_names[] = { "compose.yaml", "compose.yml", "docker-compose.yml",
                                             "docker-compose.yaml", "docker-bake.json", "docker-bake.hcl",
                                             "docker-bake.override.json", "docker-bake.override.hcl", NULL };

static int
read_file (const char *path, sw_buf *out, sw_error **err)
{
  FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "re");
  if (f == NULL)
    {
      sw_error_make (err, errno, "failed to read %s: %s", path, strerror (errno));
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  char buf[65536];
  size_t n;
  while ((n = fread (buf, 1, sizeof buf, f)) > 0)
    {
      if (out->len + n > (16u << 20))
        {
          if (f != stdin)
            fclose (f);
          sw_error_make (err, EFBIG, "%s is larger than 16 MiB", path);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      sw_buf_append (out, buf, n);
    }
  if (f != stdin)
    fclose (f);
  sw_buf_puts (out, "");
  return 0;
}

static const char *
env_lookup (void *ud, const char *name)
{
  (void) ud;
  return getenv (name);
}

/* Add a compose or HCL file's targets to the config (blocks of one name merge). */
static void
config_add_target (config *c, const char *name, json_t *t)
{
  json_t *cur = json_object_get (c->targets, name);
  if (cur)
    {
      merge_target (cur, t);
      json_decref (t);
    }
  else
    json_object_set_new (c->targets, name, t);
}

static void
config_add_group (config *c, const char *name, const json_t *attrs)
{
  json_t *g = json_object_get (c->groups, name);
  json_t *ts = json_object_get (attrs, "targets");
  if (g == NULL)
    {
      g = json_object ();
      json_object_set_new (g, "targets", json_array ());
      json_object_set_new (c->groups, name, g);
    }
  json_t *gt = json_object_get (g, "targets");
  for (size_t i = 0; json_is_array (ts) && i < json_array_size (ts); i++)
    {
      json_t *e = json_array_get (ts, i);
      bool dup = false;
      size_t j;
      json_t *x;
      json_array_foreach (gt, j, x)
        dup |= json_equal (x, e);
      if (!dup && json_is_string (e))
        json_array_append (gt, e);
    }
  json_t *d = json_object_get (attrs, "description");
  if (json_is_string (d) && *json_string_value (d))
    json_object_set (g, "description", d);
}

static bool
valid_target_name (const char *s)
{
  if (*s == '\0')
    return false;
  for (; *s; s++)
    if (!(isalnum ((unsigned char) *s) || *s == '_' || *s == '-'))
      return false;
  return true;
}

int
sw_bake_resolve (const sw_bake_opts *o, json_t **out, sw_error **err)
{
  config c = { .targets = json_object (), .groups = json_object () };
  sw_hcl_file **hcl = NULL;
  size_t n_hcl = 0, n_files = 0;
  sw_hcl_block *blocks = NULL;
  size_t n_blocks = 0;
  overrides os = { 0 };
  json_t *tmap = json_object (), *gmap = json_object ();
  json_t *compose_targets = json_array ();
  sw_hcl_lookup_fn lookup = o->lookup ? o->lookup : env_lookup;
  const char *const *names = o->files && o->files[0] ? o->files : default_names;
  bool defaults = !(o->files && o->files[0]);
  int ret = -1;

  for (size_t i = 0; names[i]; i++)
    {
      cleanup_buf sw_buf text = SW_BUF_INIT;
      struct stat st;
      if (defaults && stat (names[i], &st) < 0)
        continue;
      if (read_file (names[i], &text, err) < 0)
        goto out;
      n_files++;
      json_t *ct = NULL;
      int isc = sw_bake_compose_read (text.data, text.len, names[i], lookup, o->lookup_ud, &ct, err);
      if (isc < 0)
        goto out;
      if (isc == 1)
        {
          json_array_append_new (compose_targets, ct);
          continue;
        }
      sw_hcl_file *f = NULL;
      json_t *probe = json_loadb (text.data, text.len, 0, NULL);
      int r = probe && json_is_object (probe) ? sw_hcl_parse_json (text.data, text.len, names[i], &f, err)
                                              : sw_hcl_parse (text.data, text.len, names[i], &f, err);
      json_decref (probe);
      if (r < 0)
        goto out;
      hcl = sw_xreallocarray (hcl, n_hcl + 1, sizeof *hcl);
      hcl[n_hcl++] = f;
    }
  if (n_files == 0)
    {
      sw_error_make (err, ENOENT, "couldn't find a bake definition");
      sw_error_set_category (err, SW_ERR_INPUT);
      goto out;
    }

  /* compose first, then HCL/JSON (as buildx's ParseFiles) */
  for (size_t i = 0; i < json_array_size (compose_targets); i++)
    {
      json_t *ts = json_object_get (json_array_get (compose_targets, i), "target");
      const char *name;
      json_t *attrs;
      json_object_foreach (ts, name, attrs)
        {
          json_t *t;
          if (target_from_attrs (attrs, "compose", &t, err) < 0)
            goto out;
          config_add_target (&c, name, t);
          /* every service that builds is in the "default" group */
          json_t *g = json_pack ("{s:[s]}", "targets", name);
          config_add_group (&c, "default", g);
          json_decref (g);
        }
    }
  if (n_hcl && sw_hcl_eval (hcl, n_hcl, lookup, o->lookup_ud, &blocks, &n_blocks, err) < 0)
    goto out;
  for (size_t i = 0; i < n_blocks; i++)
    {
      if (!valid_target_name (blocks[i].name))
        {
          sw_error_make (err, EINVAL, "%s: invalid %s name \"%s\": only letters, digits, - and _", blocks[i].where,
                         blocks[i].type, blocks[i].name);
          sw_error_set_category (err, SW_ERR_INPUT);
          goto out;
        }
      if (strcmp (blocks[i].type, "group") == 0)
        config_add_group (&c, blocks[i].name, blocks[i].attrs);
      else
        {
          json_t *t;
          if (target_from_attrs (blocks[i].attrs, blocks[i].where, &t, err) < 0)
            goto out;
          config_add_target (&c, blocks[i].name, t);
        }
    }

  /* the names asked for: globs expanded over groups, then targets */
  json_t *wanted = json_array ();
  const char *const dflt[] = { "default", NULL };
  const char *const *ask = o->targets && o->targets[0] ? o->targets : dflt;
  for (size_t i = 0; ask[i]; i++)
    {
      if (strpbrk (ask[i], "*?[]") == NULL)
        {
          json_array_append_new (wanted, json_string (ask[i]));
          continue;
        }
      bool any = false;
      const char *name;
      json_t *v;
      json_object_foreach (c.groups, name, v)
        if (fnmatch (ask[i], name, 0) == 0)
          json_array_append_new (wanted, json_string (name)), any = true;
      json_object_foreach (c.targets, name, v)
        if (fnmatch (ask[i], name, 0) == 0)
          json_array_append_new (wanted, json_string (name)), any = true;
      if (!any)
        {
          json_decref (wanted);
          sw_error_make (err, EINVAL, "could not find any target matching \"%s\"", ask[i]);
          sw_error_set_category (err, SW_ERR_INPUT);
          goto out;
        }
    }
  dedup_list (wanted);
  if (parse_overrides (&c, o->overrides, o, &os, err) < 0)
    {
      json_decref (wanted);
      goto out;
    }
  size_t wi;
  json_t *w;
  json_array_foreach (wanted, wi, w)
    {
      json_t *visited = json_object (), *ts = json_array (), *gs = json_array ();
      resolve_group (&c, json_string_value (w), visited, ts, gs);
      dedup_list (ts);
      size_t k;
      json_t *e;
      int bad = 0;
      json_array_foreach (ts, k, e)
        {
          json_t *t;
          if (resolve_final (&c, json_string_value (e), &os, &t, err) < 0)
            {
              bad = 1;
              break;
            }
          json_object_set_new (tmap, json_string_value (e), t);
        }
      json_array_foreach (gs, k, e)
        {
          json_t *g = json_object_get (c.groups, json_string_value (e));
          if (g)
            json_object_set (gmap, json_string_value (e), g);
        }
      json_decref (visited);
      json_decref (ts);
      json_decref (gs);
      if (bad)
        {
          json_decref (wanted);
          goto out;
        }
    }
  /* the names asked for make the "default" group (unless it was asked for itself) */
  json_array_foreach (wanted, wi, w)
    {
      const char *wn = json_string_value (w);
      json_t *g = json_object_get (gmap, "default");
      if (g && strcmp (wn, "default") == 0)
        continue;
      if (g == NULL)
        {
          g = json_object ();
          json_object_set_new (g, "targets", json_array ());
          json_object_set_new (gmap, "default", g);
        }
      json_array_append (json_object_get (g, "targets"), w);
    }
  json_decref (wanted);
  {
    json_t *g = json_object_get (gmap, "default");
    if (g)
      {
        json_t *gt = json_object_get (g, "targets");
        dedup_list (gt);
        /* sort.Strings */
        size_t n = json_array_size (gt);
        for (size_t i = 1; i < n; i++)
          for (size_t j = i; j > 0 && strcmp (json_string_value (json_array_get (gt, j - 1)),
                                              json_string_value (json_array_get (gt, j))) > 0;
               j--)
            {
              json_t *a = json_incref (json_array_get (gt, j - 1));
              json_array_set (gt, j - 1, json_array_get (gt, j));
              json_array_set_new (gt, j, a);
            }
      }
  }
  {
    /* linked targets: a snapshot of the names, since load_links adds to the map */
    json_t *names_now = json_array ();
    const char *name;
    json_t *t;
    json_object_foreach (tmap, name, t)
      json_array_append_new (names_now, json_string (name));
    size_t k;
    json_t *e;
    json_array_foreach (names_now, k, e)
      {
        json_t *visited = json_array ();
        int r = load_links (&c, json_string_value (e), json_object_get (tmap, json_string_value (e)), tmap, &os,
                            visited, err);
        json_decref (visited);
        if (r < 0)
          {
            json_decref (names_now);
            goto out;
          }
      }
    json_decref (names_now);
  }

  /* the result, as buildx prints it (maps sorted by key, as Go's encoding/json) */
  json_t *res = json_object ();
  json_t *pg = json_object (), *pt = json_object ();
  const char *name;
  json_t *v;
  sorted_keys (gmap);
  sorted_keys (tmap);
  json_object_foreach (gmap, name, v)
    {
      json_t *g = json_object ();
      json_t *d = json_object_get (v, "description");
      if (d)
        json_object_set (g, "description", d);
      json_object_set (g, "targets", json_object_get (v, "targets"));
      json_object_set_new (pg, name, g);
    }
  json_object_foreach (tmap, name, v)
    json_object_set_new (pt, name, print_target (v, o->extensions));
  if (json_object_size (pg))
    json_object_set_new (res, "group", pg);
  else
    json_decref (pg);
  json_object_set_new (res, "target", pt);
  *out = res;
  ret = 0;
out:
  overrides_free (&os);
  sw_hcl_blocks_free (blocks, n_blocks);
  for (size_t i = 0; i < n_hcl; i++)
    sw_hcl_file_free (hcl[i]);
  free (hcl);
  json_decref (compose_targets);
  json_decref (tmap);
  json_decref (gmap);
  json_decref (c.targets);
  json_decref (c.groups);
  return ret;
}
