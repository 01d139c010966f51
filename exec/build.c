/* exec/build.c — the sw_build handle: options in, results out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/xalloc.h"
#include "common/csv.h"
#include "exec/build.h"
#include "registry/ref.h"

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
  return b;
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
                       &b->build_contexts, &b->insecure_registries };
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    sw_strv_free (lists[i]);
  free (b->digest);
  free (b->image_id);
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

/* A tag, as buildx checks it before any work: the reference grammar, and a registry port
 * that exists (the grammar takes any digits; the error would otherwise come from curl). */
static int
check_tag (const char *value, sw_error **err)
{
  sw_ref *ref = NULL;
  sw_error *e = NULL;
  if (sw_ref_parse (value, &ref, &e) < 0)
    {
      sw_error_move (err, &e);
      return sw_error_wrap (err, "invalid tag \"%s\"", value);
    }
  const char *colon = strrchr (ref->domain, ':');
  const char *bracket = strrchr (ref->domain, ']');
  int rc = 0;
  if (colon && (!bracket || colon > bracket))
    {
      char *end = NULL;
      long port = strtol (colon + 1, &end, 10);
      if (!*(colon + 1) || *end || port < 1 || port > 65535)
        rc = sw_error_make (err, EINVAL, "invalid tag \"%s\": invalid reference format: port %s is out of range "
                            "(1-65535)", value, colon + 1);
    }
  sw_ref_free (ref);
  return rc;
}

/* Go's strconv.ParseBool, which buildx uses for an exporter's boolean attributes. */
static bool
go_bool (const char *v)
{
  static const char *const ok[] = { "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False" };
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
    if (strcmp (v, ok[i]) == 0)
      return true;
  return false;
}

static int
check_output (const char *value, sw_error **err)
{
  static const char *const bools[] = { "push", "push-by-digest", "insecure", "registry.insecure", "oci-mediatypes",
                                       "force-compression", "store", "unpack", "rewrite-timestamp",
                                       "name-canonical", "tar", "oci-artifact" };
  if (strcmp (value, "-") == 0 || strchr (value, '=') == NULL)
    return 0; /* "-o -", "-o DIR": buildx's shorthands */
  cleanup_free char *type = sw_csv_get (value, "type");
  if (type && !*type)
    return sw_error_make (err, EINVAL, "invalid output \"%s\": type is empty", value);
  for (size_t i = 0; i < sizeof bools / sizeof *bools; i++)
    {
      cleanup_free char *v = sw_csv_get (value, bools[i]);
      if (v && *v && !go_bool (v))
        return sw_error_make (err, EINVAL, "invalid output \"%s\": %s=%s is not a boolean (true or false)", value,
                              bools[i], v);
    }
  return 0;
}

/* A secret whose file is missing fails now, as buildx does, not when (or if) a step asks. */
static int
check_secret (const char *value, sw_error **err)
{
  cleanup_free char *src = sw_csv_get (value, "src");
  cleanup_free char *source = src ? NULL : sw_csv_get (value, "source");
  cleanup_free char *type = sw_csv_get (value, "type");
  const char *file = src ? src : source;
  if (type && strcmp (type, "file") && strcmp (type, "env"))
    return sw_error_make (err, EINVAL, "invalid --secret \"%s\": unsupported secret type %s", value, type);
  if (file && (!type || strcmp (type, "file") == 0))
    {
      struct stat st;
      if (!*file)
        return sw_error_make (err, EINVAL, "invalid --secret \"%s\": src is empty", value);
      if (stat (file, &st) < 0)
        return sw_error_errno (err, "invalid --secret \"%s\": failed to stat %s", value, file);
    }
  return 0;
}

int
sw_build_set (sw_build *b, sw_option opt, const char *value, sw_error **err)
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
    case SW_OPT_STATE_DIR:
      if (!*value)
        return sw_error_make (err, EINVAL, "invalid --state-dir \"\": a directory is needed");
      replace (&b->state_dir, value);
      return 0;
    case SW_OPT_NETWORK:
      if (strcmp (value, "default") && strcmp (value, "none") && strcmp (value, "host"))
        return sw_error_make (err, EINVAL, "invalid network mode \"%s\": use default, none or host", value);
      replace (&b->network, value);
      return 0;
    case SW_OPT_TAG:
      if (check_tag (value, err) < 0)
        return -1;
      sw_strv_push (&b->tags, value);
      return 0;
    case SW_OPT_BUILD_ARG:
      if (*value == '\0' || *value == '=')
        return sw_error_make (err, EINVAL, "invalid build arg \"%s\": expected KEY=VALUE or KEY", value);
      sw_strv_push (&b->build_args, value);
      return 0;
    case SW_OPT_PLATFORM:
      {
        /* "a,b" is the same as two options. */
        /* an empty element ("linux/amd64,,") is an error, as in buildx, not skipped */
        cleanup_free char *copy = sw_xstrdup (value);
        for (char *p = copy;;)
          {
            char *comma = strchr (p, ',');
            if (comma)
              *comma = 0;
            if (!*p)
              return sw_error_make (err, EINVAL, "invalid --platform \"%s\": an empty platform in the list", value);
            if (!comma)
              break;
            p = comma + 1;
          }
        copy = (free (copy), sw_xstrdup (value));
        char *save = NULL;
        for (char *p = strtok_r (copy, ",", &save); p; p = strtok_r (NULL, ",", &save))
          sw_strv_push (&b->platforms, p);
        return 0;
      }
    case SW_OPT_OUTPUT:
      if (check_output (value, err) < 0)
        return -1;
      sw_strv_push (&b->outputs, value);
      return 0;
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
    case SW_OPT_SECRET:
      if (check_secret (value, err) < 0)
        return -1;
      sw_strv_push (&b->secrets, value);
      return 0;
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
    case SW_OPT_ALLOW:
      {
        cleanup_free char *copy = sw_xstrdup (value);
        char *save = NULL;
        for (char *p = strtok_r (copy, ",", &save); p; p = strtok_r (NULL, ",", &save))
          if (strcmp (p, "network.host") == 0)
            b->allow_network_host = true;
          else if (strcmp (p, "security.insecure") == 0)
            b->allow_security_insecure = true;
          else
            return sw_error_make (err, EINVAL, "invalid --allow \"%s\": entitlements are network.host and "
                                  "security.insecure", p);
        if (!*value)
          return sw_error_make (err, EINVAL, "invalid --allow \"\": entitlements are network.host and "
                                "security.insecure");
        return 0;
      }
    case SW_OPT_PUSH: return parse_bool ("--push", value, &b->push, err);
    case SW_OPT_LOAD: return parse_bool ("--load", value, &b->load, err);
    case SW_OPT_NO_CACHE: return parse_bool ("--no-cache", value, &b->no_cache, err);
    case SW_OPT_PULL: return parse_bool ("--pull", value, &b->pull, err);
    }
  return sw_error_make (err, EINVAL, "unknown build option %d", (int) opt);
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
