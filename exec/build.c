/* exec/build.c — the sw_build handle: options in, results out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "exec/build.h"

void
sw_strv_push (sw_strv *s, const char *value)
{
  s->v = sw_xreallocarray (s->v, s->n + 2, sizeof *s->v);
  s->v[s->n++] = sw_xstrdup (value);
  s->v[s->n] = NULL;
}

void
sw_strv_free (sw_strv *s)
{
  for (size_t i = 0; i < s->n; i++)
    free (s->v[i]);
  free (s->v);
  s->v = NULL;
  s->n = 0;
}

sw_build *
sw_build_new (void)
{
  sw_build *b = sw_xzalloc (sizeof *b);
  b->context = sw_xstrdup (".");
  b->network = sw_xstrdup ("default");
  b->smoke_timeout = 120;
  sw_sandbox_stop_init (&b->stop);
  return b;
}

void
sw_build_cancel (sw_build *b)
{
  sw_sandbox_stop_request (&b->stop); /* async-signal-safe: an atomic store and a write */
}

int
sw_build_check_cancelled (sw_build *b, sw_error **err)
{
  if (sw_sandbox_stop_requested (&b->stop))
    return sw_error_make (err, ECANCELED, "cancelled");
  return 0;
}

void
sw_build_free (sw_build *b)
{
  if (b == NULL)
    return;
  free (b->context);
  free (b->dockerfile);
  free (b->target);
  free (b->metadata_file);
  free (b->iidfile);
  free (b->state_dir);
  free (b->network);
  sw_strv *lists[] = { &b->tags, &b->build_args, &b->platforms, &b->outputs, &b->labels,
                       &b->annotations, &b->secrets, &b->ssh, &b->add_hosts,
                       &b->build_contexts, &b->insecure_registries, &b->smoke };
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    sw_strv_free (lists[i]);
  free (b->digest);
  free (b->image_id);
  sw_sandbox_stop_destroy (&b->stop);
  free (b);
}

static void
replace (char **slot, const char *value)
{
  free (*slot);
  *slot = sw_xstrdup (value);
}

static int
parse_bool (const char *name, const char *value, bool *out, sw_error **err)
{
  if (value == NULL || strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
    *out = true;
  else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
    *out = false;
  else
    return sw_error_make (err, EINVAL, "invalid value %s for %s: use true or false", value, name);
  return 0;
}

/* "KEY=VALUE" with a non-empty key. */
static int
check_key_value (const char *name, const char *value, sw_error **err)
{
  const char *eq = strchr (value, '=');
  if (eq == NULL || eq == value)
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s: expected KEY=VALUE", value, name);
  return 0;
}

static int
build_set (sw_build *b, sw_option opt, const char *value, sw_error **err)
{
  if (value == NULL && opt != SW_OPT_PUSH && opt != SW_OPT_LOAD && opt != SW_OPT_NO_CACHE
      && opt != SW_OPT_PULL)
    return sw_error_make (err, EINVAL, "option %d needs a value", (int) opt);

  switch (opt)
    {
    case SW_OPT_CONTEXT: replace (&b->context, value); return 0;
    case SW_OPT_DOCKERFILE: replace (&b->dockerfile, value); return 0;
    case SW_OPT_TARGET: replace (&b->target, value); return 0;
    case SW_OPT_METADATA_FILE: replace (&b->metadata_file, value); return 0;
    case SW_OPT_IIDFILE: replace (&b->iidfile, value); return 0;
    case SW_OPT_STATE_DIR: replace (&b->state_dir, value); return 0;
    case SW_OPT_NETWORK:
      if (strcmp (value, "default") && strcmp (value, "none") && strcmp (value, "host"))
        return sw_error_make (err, EINVAL, "invalid network mode \"%s\": use default, none or host", value);
      replace (&b->network, value);
      return 0;
    case SW_OPT_TAG: sw_strv_push (&b->tags, value); return 0;
    case SW_OPT_BUILD_ARG:
      if (*value == '\0' || *value == '=')
        return sw_error_make (err, EINVAL, "invalid build arg \"%s\": expected KEY=VALUE or KEY", value);
      sw_strv_push (&b->build_args, value);
      return 0;
    case SW_OPT_PLATFORM:
      {
        /* "a,b" is the same as two options. */
        cleanup_free char *copy = sw_xstrdup (value);
        char *save = NULL;
        for (char *p = strtok_r (copy, ",", &save); p; p = strtok_r (NULL, ",", &save))
          sw_strv_push (&b->platforms, p);
        return 0;
      }
    case SW_OPT_OUTPUT: sw_strv_push (&b->outputs, value); return 0;
    case SW_OPT_LABEL:
      if (check_key_value ("--label", value, err) < 0)
        return -1;
      sw_strv_push (&b->labels, value);
      return 0;
    case SW_OPT_ANNOTATION:
      if (check_key_value ("--annotation", value, err) < 0)
        return -1;
      sw_strv_push (&b->annotations, value);
      return 0;
    case SW_OPT_SECRET: sw_strv_push (&b->secrets, value); return 0;
    case SW_OPT_SSH: sw_strv_push (&b->ssh, value); return 0;
    case SW_OPT_ADD_HOST:
      if (strchr (value, ':') == NULL && strchr (value, '=') == NULL)
        return sw_error_make (err, EINVAL, "invalid --add-host \"%s\": expected HOST:IP", value);
      sw_strv_push (&b->add_hosts, value);
      return 0;
    case SW_OPT_BUILD_CONTEXT:
      if (check_key_value ("--build-context", value, err) < 0)
        return -1;
      sw_strv_push (&b->build_contexts, value);
      return 0;
    case SW_OPT_INSECURE_REGISTRY: sw_strv_push (&b->insecure_registries, value); return 0;
    case SW_OPT_PUSH: return parse_bool ("--push", value, &b->push, err);
    case SW_OPT_LOAD: return parse_bool ("--load", value, &b->load, err);
    case SW_OPT_NO_CACHE: return parse_bool ("--no-cache", value, &b->no_cache, err);
    case SW_OPT_PULL: return parse_bool ("--pull", value, &b->pull, err);
    case SW_OPT_PUBLISH:
      if (strcmp (value, "tags") && strcmp (value, "none"))
        return sw_error_make (err, EINVAL, "invalid publish mode \"%s\": use tags or none", value);
      b->publish_none = strcmp (value, "none") == 0;
      return 0;
    case SW_OPT_SMOKE:
      if (*value == '\0')
        return sw_error_make (err, EINVAL, "invalid --smoke: the command is empty");
      sw_strv_push (&b->smoke, value);
      return 0;
    case SW_OPT_SMOKE_TIMEOUT:
      {
        char *end;
        long v = strtol (value, &end, 10);
        if (*value == '\0' || (*end && strcmp (end, "s")) || v <= 0 || v > 86400)
          return sw_error_make (err, EINVAL, "invalid --smoke-timeout \"%s\": seconds, 1 to 86400", value);
        b->smoke_timeout = (int) v;
        return 0;
      }
    }
  return sw_error_make (err, EINVAL, "unknown build option %d", (int) opt);
}

int
sw_build_set (sw_build *b, sw_option opt, const char *value, sw_error **err)
{
  if (build_set (b, opt, value, err) < 0)
    return sw_error_set_category (err, SW_ERR_INPUT);
  return 0;
}

void
sw_build_set_event_callback (sw_build *b, sw_event_callback cb, void *userdata)
{
  b->cb = cb;
  b->cb_userdata = userdata;
}

void
sw_build_emit (sw_build *b, const sw_event *ev)
{
  if (b->cb)
    b->cb (ev, b->cb_userdata);
}

const char *
sw_build_digest (const sw_build *b)
{
  return b->digest;
}

const char *
sw_build_image_id (const sw_build *b)
{
  return b->image_id;
}
