/* bake/compose.c — compose files as bake reads them: each service with a `build:` section
 * is a target named after the service (buildx's ParseCompose), all of them in the
 * "default" group.  YAML through libyaml into a JSON tree; `${VAR}`, `${VAR:-default}`,
 * `${VAR-default}`, `$VAR` and `$$` interpolated from the environment and ./.env, as
 * compose does.  The contract is in bake.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bake/bake.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/xalloc.h"

/* ---- YAML → JSON ------------------------------------------------------------------------ */

static json_t *
node_json (yaml_document_t *doc, yaml_node_t *n, int depth)
{
  if (n == NULL || depth > 64)
    return json_null ();
  switch (n->type)
    {
    case YAML_SCALAR_NODE:
      {
        const char *v = (const char *) n->data.scalar.value;
        size_t len = n->data.scalar.length;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
          {
            if (len == 0 || strcmp (v, "~") == 0 || strcmp (v, "null") == 0)
              return json_null ();
            if (strcmp (v, "true") == 0 || strcmp (v, "false") == 0)
              return json_boolean (v[0] == 't');
          }
        return json_stringn (v, len);
      }
    case YAML_SEQUENCE_NODE:
      {
        json_t *a = json_array ();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
          json_array_append_new (a, node_json (doc, yaml_document_get_node (doc, *i), depth + 1));
        return a;
      }
    case YAML_MAPPING_NODE:
      {
        json_t *o = json_object ();
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
          {
            yaml_node_t *k = yaml_document_get_node (doc, p->key);
            if (k == NULL || k->type != YAML_SCALAR_NODE)
              continue;
            cleanup_free char *key = sw_xstrndup ((const char *) k->data.scalar.value, k->data.scalar.length);
            json_object_set_new (o, key, node_json (doc, yaml_document_get_node (doc, p->value), depth + 1));
          }
        return o;
      }
    default:
      return json_null ();
    }
}

/* ---- interpolation ------------------------------------------------------------------------ */

typedef struct env
{
  sw_hcl_lookup_fn lookup;
  void *ud;
  json_t *dotenv; /* ./.env: used for names the environment does not set */
} env;

static const char *
env_get (const env *e, const char *name)
{
  const char *v = e->lookup (e->ud, name);
  if (v == NULL && e->dotenv)
    v = json_string_value (json_object_get (e->dotenv, name));
  return v;
}

static int
interpolate (const env *e, const char *s, const char *file, sw_buf *out, sw_error **err)
{
  for (const char *p = s; *p;)
    {
      if (p[0] != '$')
        {
          sw_buf_putc (out, *p++);
          continue;
        }
      if (p[1] == '$')
        {
          sw_buf_putc (out, '$');
          p += 2;
          continue;
        }
      if (p[1] == '{')
        {
          const char *close = strchr (p + 2, '}');
          if (close == NULL)
            {
              sw_error_make (err, EINVAL, "%s: invalid interpolation format for \"%s\": a ${ is not closed", file, s);
              return sw_error_set_category (err, SW_ERR_INPUT);
            }
          cleanup_free char *inner = sw_xstrndup (p + 2, (size_t) (close - p - 2));
          char *op = inner + strcspn (inner, ":-?+");
          const char *dflt = NULL;
          bool colon = false;
          char kind = 0;
          if (*op)
            {
              colon = *op == ':';
              kind = colon ? op[1] : op[0];
              dflt = op + (colon ? 2 : 1);
              *op = '\0';
            }
          const char *v = env_get (e, inner);
          bool unset = v == NULL, empty = v == NULL || *v == '\0';
          if (kind == '-' && (colon ? empty : unset))
            v = dflt;
          else if (kind == '+')
            v = (colon ? !empty : !unset) ? dflt : "";
          else if (kind == '?' && (colon ? empty : unset))
            {
              sw_error_make (err, EINVAL, "%s: required variable %s is missing a value: %s", file, inner, dflt);
              return sw_error_set_category (err, SW_ERR_INPUT);
            }
          sw_buf_puts (out, v ? v : "");
          p = close + 1;
          continue;
        }
      if (isalpha ((unsigned char) p[1]) || p[1] == '_')
        {
          const char *b = p + 1, *q = b;
          while (isalnum ((unsigned char) *q) || *q == '_')
            q++;
          cleanup_free char *name = sw_xstrndup (b, (size_t) (q - b));
          const char *v = env_get (e, name);
          sw_buf_puts (out, v ? v : "");
          p = q;
          continue;
        }
      sw_buf_putc (out, *p++);
    }
  return 0;
}

static int
interpolate_tree (const env *e, json_t *v, const char *file, sw_error **err)
{
  if (json_is_string (v))
    {
      cleanup_buf sw_buf o = SW_BUF_INIT;
      sw_buf_puts (&o, "");
      if (interpolate (e, json_string_value (v), file, &o, err) < 0)
        return -1;
      json_string_setn (v, o.data, o.len);
      return 0;
    }
  if (json_is_array (v))
    {
      size_t i;
      json_t *x;
      json_array_foreach (v, i, x)
        if (interpolate_tree (e, x, file, err) < 0)
          return -1;
    }
  if (json_is_object (v))
    {
      const char *k;
      json_t *x;
      json_object_foreach (v, k, x)
        if (strncmp (k, "x-", 2) != 0 && interpolate_tree (e, x, file, err) < 0)
          return -1;
    }
  return 0;
}

/* .env: KEY=VALUE lines, # comments, optional quotes. */
static json_t *
read_dotenv (void)
{
  FILE *f = fopen (".env", "re");
  if (f == NULL)
    return NULL;
  json_t *o = json_object ();
  char *line = NULL;
  size_t cap = 0;
  while (getline (&line, &cap, f) > 0)
    {
      char *s = line;
      while (isspace ((unsigned char) *s))
        s++;
      if (*s == '#' || *s == '\0')
        continue;
      if (strncmp (s, "export ", 7) == 0)
        s += 7;
      char *eq = strchr (s, '=');
      if (eq == NULL)
        continue;
      *eq = '\0';
      char *k = s, *v = eq + 1;
      for (char *t = k + strlen (k); t > k && isspace ((unsigned char) t[-1]);)
        *--t = '\0';
      size_t vl = strcspn (v, "\r\n");
      v[vl] = '\0';
      if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
        v[vl - 1] = '\0', v++;
      json_object_set_new (o, k, json_string (v));
    }
  free (line);
  fclose (f);
  return o;
}

/* ---- services → targets ------------------------------------------------------------------------ */

/* A list, or a string split at white space (x-bake's stringArray). */
static json_t *
string_list (const json_t *v)
{
  json_t *l = json_array ();
  if (json_is_array (v))
    {
      size_t i;
      json_t *e;
      json_array_foreach (v, i, e)
        if (json_is_string (e))
          json_array_append (l, e);
    }
  else if (json_is_string (v))
    {
      cleanup_free char *s = sw_xstrdup (json_string_value (v));
      char *save = NULL;
      for (char *t = strtok_r (s, " \t\n", &save); t; t = strtok_r (NULL, " \t\n", &save))
        json_array_append_new (l, json_string (t));
    }
  return l;
}

/* args/labels: a map, or a list of "K=V" (a bare "K" in args takes the environment's value). */
static json_t *
mapping (const json_t *v, bool args, const env *e)
{
  json_t *m = json_object ();
  if (json_is_object (v))
    {
      const char *k;
      json_t *x;
      json_object_foreach ((json_t *) v, k, x)
        {
          if (json_is_null (x))
            {
              const char *ev = args ? env_get (e, k) : NULL;
              if (ev)
                json_object_set_new (m, k, json_string (ev));
              else if (!args)
                json_object_set_new (m, k, json_string (""));
              continue;
            }
          char *s = sw_hcl_value_string (x);
          if (s)
            json_object_set_new (m, k, json_string (s));
          free (s);
        }
    }
  else if (json_is_array (v))
    {
      size_t i;
      json_t *x;
      json_array_foreach (v, i, x)
        {
          const char *s = json_string_value (x);
          if (s == NULL)
            continue;
          const char *eq = strchr (s, '=');
          if (eq)
            {
              cleanup_free char *k = sw_xstrndup (s, (size_t) (eq - s));
              json_object_set_new (m, k, json_string (eq + 1));
            }
          else if (args && env_get (e, s))
            json_object_set_new (m, s, json_string (env_get (e, s)));
          else if (!args)
            json_object_set_new (m, s, json_string (""));
        }
    }
  return m;
}

static void
set_nonempty (json_t *t, const char *key, json_t *v)
{
  if ((json_is_array (v) && json_array_size (v) == 0) || (json_is_object (v) && json_object_size (v) == 0)
      || (json_is_string (v) && *json_string_value (v) == '\0'))
    json_decref (v);
  else
    json_object_set_new (t, key, v);
}

static void
add_unique (json_t *l, const json_t *more)
{
  size_t i, j;
  json_t *e, *x;
  json_array_foreach (more, i, e)
    {
      bool dup = false;
      json_array_foreach (l, j, x)
        dup |= json_equal (e, x);
      if (!dup)
        json_array_append (l, e);
    }
}


static json_t *
context_value (const json_t *v)
{
  const char *s = json_string_value (v);
  if (s == NULL || *s == '\0' || strstr (s, "://") || strncmp (s, "git@", 4) == 0)
    return s ? json_incref ((json_t *) v) : json_string ("");
  char *c = sw_path_clean (s);
  json_t *r = json_string (c);
  free (c);
  return r;
}

static json_t *
service_target (const json_t *svc, const json_t *build, const json_t *top_secrets, const env *e)
{
  json_t *t = json_object ();
  if (json_is_string (build))
    {
      json_object_set_new (t, "context", context_value (build));
      goto image;
    }
  set_nonempty (t, "context", context_value (json_object_get (build, "context")));
  if (json_object_get (build, "dockerfile"))
    set_nonempty (t, "dockerfile", json_incref (json_object_get (build, "dockerfile")));
  if (json_object_get (build, "dockerfile_inline"))
    set_nonempty (t, "dockerfile-inline", json_incref (json_object_get (build, "dockerfile_inline")));
  if (json_object_get (build, "additional_contexts"))
    {
      json_t *c = mapping (json_object_get (build, "additional_contexts"), false, e);
      const char *k;
      json_t *v;
      json_object_foreach (c, k, v)
        {
          /* compose's service:NAME is bake's target:NAME */
          const char *s = json_string_value (v);
          if (strncmp (s, "service:", 8) == 0)
            {
              char *n = sw_xasprintf ("target:%s", s + 8);
              json_string_set (v, n);
              free (n);
            }
        }
      set_nonempty (t, "contexts", c);
    }
  if (json_object_get (build, "args"))
    set_nonempty (t, "args", mapping (json_object_get (build, "args"), true, e));
  if (json_object_get (build, "labels"))
    set_nonempty (t, "labels", mapping (json_object_get (build, "labels"), false, e));
  set_nonempty (t, "tags", string_list (json_object_get (build, "tags")));
  set_nonempty (t, "cache-from", string_list (json_object_get (build, "cache_from")));
  set_nonempty (t, "cache-to", string_list (json_object_get (build, "cache_to")));
  set_nonempty (t, "platforms", string_list (json_object_get (build, "platforms")));
  if (json_is_string (json_object_get (build, "network")))
    set_nonempty (t, "network", json_incref (json_object_get (build, "network")));
  if (json_is_string (json_object_get (build, "target")))
    set_nonempty (t, "target", json_incref (json_object_get (build, "target")));
  if (json_is_true (json_object_get (build, "no_cache")))
    json_object_set_new (t, "no-cache", json_true ());
  if (json_is_true (json_object_get (build, "pull")))
    json_object_set_new (t, "pull", json_true ());
  /* secrets: ids that the top-level secrets section defines (file or environment) */
  json_t *secrets = json_object_get (build, "secrets");
  if (json_is_array (secrets))
    {
      json_t *l = json_array ();
      size_t i;
      json_t *s;
      json_array_foreach (secrets, i, s)
        {
          const char *src = json_is_string (s) ? json_string_value (s) : json_string_value (json_object_get (s, "source"));
          const char *id = json_is_object (s) && json_object_get (s, "target")
                             ? json_string_value (json_object_get (s, "target"))
                             : src;
          json_t *def = src ? json_object_get (top_secrets, src) : NULL;
          if (src == NULL || def == NULL)
            continue;
          char *spec = json_object_get (def, "environment")
                         ? sw_xasprintf ("id=%s,env=%s", id, json_string_value (json_object_get (def, "environment")))
                         : sw_xasprintf ("id=%s,src=%s", id, json_string_value (json_object_get (def, "file")));
          json_array_append_new (l, json_string (spec));
          free (spec);
        }
      set_nonempty (t, "secret", l);
    }
  json_t *xb = json_object_get (build, "x-bake");
  if (json_is_object (xb))
    {
      static const char *const lists[][2] = { { "tags", "tags" },       { "cache-from", "cache-from" },
                                              { "cache-to", "cache-to" }, { "secret", "secret" },
                                              { "ssh", "ssh" },         { "platforms", "platforms" },
                                              { "output", "output" },   { "no-cache-filter", "no-cache-filter" } };
      for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        {
          json_t *more = string_list (json_object_get (xb, lists[i][0]));
          if (json_array_size (more))
            {
              json_t *cur = json_object_get (t, lists[i][1]);
              if (cur == NULL)
                json_object_set_new (t, lists[i][1], cur = json_array ());
              add_unique (cur, more);
            }
          json_decref (more);
        }
      if (json_is_boolean (json_object_get (xb, "pull")))
        json_object_set (t, "pull", json_object_get (xb, "pull"));
      if (json_is_boolean (json_object_get (xb, "no-cache")))
        json_object_set (t, "no-cache", json_object_get (xb, "no-cache"));
      if (json_is_object (json_object_get (xb, "contexts")))
        {
          json_t *c = json_object_get (t, "contexts");
          if (c == NULL)
            json_object_set_new (t, "contexts", c = json_object ());
          json_object_update (c, json_object_get (xb, "contexts"));
        }
    }
  /* slipway's own, beside x-bake */
  json_t *smoke = json_object_get (build, "x-slipway-smoke");
  if (smoke == NULL)
    smoke = json_object_get (svc, "x-slipway-smoke");
  if (smoke)
    set_nonempty (t, "x-slipway-smoke", string_list (smoke));
  json_t *last = json_object_get (build, "x-slipway-publish-last");
  if (json_is_boolean (last))
    json_object_set (t, "x-slipway-publish-last", last);
image:
  if (json_object_get (t, "tags") == NULL && json_is_string (json_object_get (svc, "image")))
    {
      json_t *l = json_array ();
      json_array_append (l, json_object_get (svc, "image"));
      json_object_set_new (t, "tags", l);
    }
  return t;
}

static bool
ends_with (const char *s, const char *suffix)
{
  size_t a = strlen (s), b = strlen (suffix);
  if (a < b)
    return false;
  for (size_t i = 0; i < b; i++)
    if (tolower ((unsigned char) s[a - b + i]) != suffix[i])
      return false;
  return true;
}

int
sw_bake_compose_read (const char *text, size_t len, const char *name, sw_hcl_lookup_fn lookup, void *ud, json_t **out,
                      sw_error **err)
{
  bool yaml_name = ends_with (name, ".yml") || ends_with (name, ".yaml");
  if (!yaml_name && (ends_with (name, ".json") || ends_with (name, ".hcl")))
    return 0;
  yaml_parser_t p;
  yaml_document_t doc;
  json_t *root = NULL;
  if (!yaml_parser_initialize (&p))
    return sw_error_make (err, ENOMEM, "yaml parser");
  yaml_parser_set_input_string (&p, (const unsigned char *) text, len);
  if (!yaml_parser_load (&p, &doc))
    {
      if (yaml_name)
        sw_error_make (err, EINVAL, "%s:%zu:%zu: invalid YAML: %s", name, p.problem_mark.line + 1,
                       p.problem_mark.column + 1, p.problem ? p.problem : "parse error");
      yaml_parser_delete (&p);
      return yaml_name ? sw_error_set_category (err, SW_ERR_INPUT) : 0;
    }
  root = node_json (&doc, yaml_document_get_root_node (&doc), 0);
  yaml_document_delete (&doc);
  yaml_parser_delete (&p);
  json_t *services = json_object_get (root, "services");
  if (!json_is_object (services))
    {
      json_decref (root);
      if (yaml_name)
        {
          sw_error_make (err, EINVAL, "%s: not a compose file: it has no services", name);
          return sw_error_set_category (err, SW_ERR_INPUT);
        }
      return 0;
    }
  env e = { .lookup = lookup, .ud = ud, .dotenv = read_dotenv () };
  int ret = -1;
  json_t *res = json_object (), *targets = json_object ();
  json_object_set_new (res, "target", targets);
  const char *sname;
  json_t *svc;
  json_object_foreach (services, sname, svc)
    {
      json_t *build = json_object_get (svc, "build");
      if (build == NULL || json_is_null (build))
        continue;
      if (interpolate_tree (&e, svc, name, err) < 0)
        goto out;
      /* buildx: a service name's '.' becomes '_' */
      cleanup_free char *tname = sw_xstrdup (sname);
      for (char *c = tname; *c; c++)
        if (*c == '.')
          *c = '_';
      json_object_set_new (targets, tname, service_target (svc, build, json_object_get (root, "secrets"), &e));
    }
  *out = json_incref (res);
  ret = 1;
out:
  json_decref (res);
  json_decref (root);
  json_decref (e.dotenv);
  return ret;
}
