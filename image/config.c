/* image/config.c — see config.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/xalloc.h"
#include "image/config.h"
#include "image/digest.h"
#include "image/json.h"

sw_image_config *
sw_image_config_new (void)
{
  return sw_xzalloc (sizeof (sw_image_config));
}

void
sw_image_config_free (sw_image_config *c)
{
  if (c == NULL)
    return;
  char **strs[] = { &c->created, &c->author, &c->architecture, &c->os, &c->os_version, &c->variant,
                    &c->user, &c->working_dir, &c->stop_signal, &c->healthcheck_json };
  for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
    free (*strs[i]);
  sw_strlist_free (c->exposed_ports);
  sw_strlist_free (c->env);
  sw_strlist_free (c->entrypoint);
  sw_strlist_free (c->cmd);
  sw_strlist_free (c->volumes);
  sw_strlist_free (c->shell);
  sw_strlist_free (c->on_build);
  sw_strlist_free (c->diff_ids);
  for (size_t i = 0; i < c->n_labels; i++)
    {
      free (c->labels[i].key);
      free (c->labels[i].value);
    }
  free (c->labels);
  for (size_t i = 0; i < c->n_history; i++)
    {
      free (c->history[i].created);
      free (c->history[i].created_by);
      free (c->history[i].author);
      free (c->history[i].comment);
    }
  free (c->history);
  free (c);
}

static char *
str_field (json_t *o, const char *k)
{
  const char *s = json_string_value (json_object_get (o, k));
  return s ? sw_xstrdup (s) : NULL;
}

static int
strv_field (json_t *o, const char *k, char ***out, sw_error **err)
{
  json_t *a = json_object_get (o, k);
  if (a == NULL || json_is_null (a))
    return 0;
  if (!json_is_array (a))
    return sw_error_make (err, EINVAL, "image config: %s must be an array of strings", k);
  *out = sw_xcalloc (json_array_size (a) + 1, sizeof **out);
  for (size_t i = 0; i < json_array_size (a); i++)
    {
      const char *s = json_string_value (json_array_get (a, i));
      if (s == NULL)
        return sw_error_make (err, EINVAL, "image config: %s[%zu] must be a string", k, i);
      (*out)[i] = sw_xstrdup (s);
    }
  return 0;
}

static int
set_field (json_t *o, const char *k, char ***out, sw_error **err)
{
  json_t *s = json_object_get (o, k);
  if (s == NULL || json_is_null (s))
    return 0;
  if (!json_is_object (s))
    return sw_error_make (err, EINVAL, "image config: %s must be an object", k);
  const char *key;
  json_t *v;
  *out = sw_xcalloc (1, sizeof **out);
  json_object_foreach (s, key, v)
    sw_strlist_push (out, key);
  return 0;
}

int
sw_image_config_parse (const char *body, size_t len, sw_image_config **out, sw_error **err)
{
  json_error_t je;
  json_t *doc = json_loadb (body, len, 0, &je);
  if (doc == NULL)
    return sw_error_make (err, EINVAL, "image config: invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
  sw_image_config *c = sw_image_config_new ();
  int ret = -1;
  if (!json_is_object (doc))
    {
      sw_error_make (err, EINVAL, "image config: expected a JSON object");
      goto out;
    }
  c->created = str_field (doc, "created");
  c->author = str_field (doc, "author");
  c->architecture = str_field (doc, "architecture");
  c->os = str_field (doc, "os");
  c->os_version = str_field (doc, "os.version");
  c->variant = str_field (doc, "variant");
  json_t *cf = json_object_get (doc, "config");
  if (json_is_object (cf))
    {
      c->user = str_field (cf, "User");
      c->working_dir = str_field (cf, "WorkingDir");
      c->stop_signal = str_field (cf, "StopSignal");
      c->args_escaped = json_is_true (json_object_get (cf, "ArgsEscaped"));
      if (set_field (cf, "ExposedPorts", &c->exposed_ports, err) < 0 || strv_field (cf, "Env", &c->env, err) < 0
          || strv_field (cf, "Entrypoint", &c->entrypoint, err) < 0 || strv_field (cf, "Cmd", &c->cmd, err) < 0
          || set_field (cf, "Volumes", &c->volumes, err) < 0 || strv_field (cf, "Shell", &c->shell, err) < 0
          || strv_field (cf, "OnBuild", &c->on_build, err) < 0)
        goto out;
      json_t *labels = json_object_get (cf, "Labels");
      if (json_is_object (labels))
        {
          const char *k;
          json_t *v;
          json_object_foreach (labels, k, v)
            sw_kv_set (&c->labels, &c->n_labels, k, json_is_string (v) ? json_string_value (v) : "");
        }
      json_t *hc = json_object_get (cf, "Healthcheck");
      if (json_is_object (hc))
        c->healthcheck_json = json_dumps (hc, JSON_COMPACT | JSON_SORT_KEYS);
    }
  else if (cf && !json_is_null (cf))
    {
      sw_error_make (err, EINVAL, "image config: \"config\" must be an object");
      goto out;
    }
  json_t *rootfs = json_object_get (doc, "rootfs");
  if (json_is_object (rootfs))
    {
      if (strv_field (rootfs, "diff_ids", &c->diff_ids, err) < 0)
        goto out;
      for (size_t i = 0; c->diff_ids && c->diff_ids[i]; i++)
        if (sw_digest_validate (c->diff_ids[i], err) < 0)
          {
            sw_error_wrap (err, "image config: rootfs.diff_ids[%zu]", i);
            goto out;
          }
    }
  json_t *hist = json_object_get (doc, "history");
  if (json_is_array (hist))
    {
      c->history = sw_xcalloc (json_array_size (hist) + 1, sizeof *c->history);
      for (size_t i = 0; i < json_array_size (hist); i++)
        {
          json_t *h = json_array_get (hist, i);
          sw_history *e = &c->history[c->n_history++];
          e->created = str_field (h, "created");
          e->created_by = str_field (h, "created_by");
          e->author = str_field (h, "author");
          e->comment = str_field (h, "comment");
          e->empty_layer = json_is_true (json_object_get (h, "empty_layer"));
        }
    }
  ret = 0;
out:
  json_decref (doc);
  if (ret < 0)
    sw_image_config_free (c);
  else
    *out = c;
  return ret;
}

static json_t *
strv_json (char **v)
{
  json_t *a = json_array ();
  for (size_t i = 0; v && v[i]; i++)
    json_array_append_new (a, json_string (v[i]));
  return a;
}

static json_t *
set_json (char **v)
{
  size_t n = sw_strlist_len (v);
  json_t **vals = sw_xcalloc (n + 1, sizeof *vals);
  for (size_t i = 0; i < n; i++)
    vals[i] = json_object ();
  json_t *o = sw_json_sorted_object ((const char **) v, vals, n);
  free (vals);
  return o;
}

static void
put_str (json_t *o, const char *k, const char *v)
{
  if (v)
    json_object_set_new (o, k, json_string (v));
}

void
sw_image_config_serialize (const sw_image_config *c, sw_buf *out)
{
  json_t *o = json_object ();
  put_str (o, "created", c->created);
  put_str (o, "author", c->author);
  put_str (o, "architecture", c->architecture ? c->architecture : "");
  put_str (o, "os", c->os ? c->os : "");
  put_str (o, "os.version", c->os_version);
  put_str (o, "variant", c->variant);

  json_t *cf = json_object ();
  put_str (cf, "User", c->user);
  if (c->exposed_ports)
    json_object_set_new (cf, "ExposedPorts", set_json (c->exposed_ports));
  if (c->env)
    json_object_set_new (cf, "Env", strv_json (c->env));
  if (c->entrypoint)
    json_object_set_new (cf, "Entrypoint", strv_json (c->entrypoint));
  if (c->cmd)
    json_object_set_new (cf, "Cmd", strv_json (c->cmd));
  if (c->healthcheck_json)
    {
      json_t *hc = json_loads (c->healthcheck_json, 0, NULL);
      if (hc)
        json_object_set_new (cf, "Healthcheck", hc);
    }
  if (c->volumes)
    json_object_set_new (cf, "Volumes", set_json (c->volumes));
  put_str (cf, "WorkingDir", c->working_dir);
  if (c->labels)
    {
      const char **keys = sw_xcalloc (c->n_labels + 1, sizeof *keys);
      json_t **vals = sw_xcalloc (c->n_labels + 1, sizeof *vals);
      for (size_t i = 0; i < c->n_labels; i++)
        {
          keys[i] = c->labels[i].key;
          vals[i] = json_string (c->labels[i].value);
        }
      json_object_set_new (cf, "Labels", sw_json_sorted_object (keys, vals, c->n_labels));
      free (keys);
      free (vals);
    }
  put_str (cf, "StopSignal", c->stop_signal);
  if (c->args_escaped)
    json_object_set_new (cf, "ArgsEscaped", json_true ());
  if (c->shell)
    json_object_set_new (cf, "Shell", strv_json (c->shell));
  if (c->on_build)
    json_object_set_new (cf, "OnBuild", strv_json (c->on_build));
  json_object_set_new (o, "config", cf);

  json_t *rootfs = json_object ();
  json_object_set_new (rootfs, "type", json_string ("layers"));
  json_object_set_new (rootfs, "diff_ids", strv_json (c->diff_ids));
  json_object_set_new (o, "rootfs", rootfs);

  if (c->n_history)
    {
      json_t *hs = json_array ();
      for (size_t i = 0; i < c->n_history; i++)
        {
          json_t *h = json_object ();
          put_str (h, "created", c->history[i].created);
          put_str (h, "created_by", c->history[i].created_by);
          put_str (h, "author", c->history[i].author);
          put_str (h, "comment", c->history[i].comment);
          if (c->history[i].empty_layer)
            json_object_set_new (h, "empty_layer", json_true ());
          json_array_append_new (hs, h);
        }
      json_object_set_new (o, "history", hs);
    }
  sw_json_dump (o, out);
  json_decref (o);
}
