/* exec/build.c — the sw_build handle: options in, results out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/csv.h"
#include "common/strconv.h"
#include "common/error.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "attest/provenance.h"
#include "exec/build.h"
#include "registry/client.h"
#include "registry/ref.h"

struct sw_queued_event
{
  sw_event ev; /* name and text owned */
  struct sw_queued_event *next;
};

static struct sw_queued_event *
take_events (sw_build *b)
{
  pthread_mutex_lock (&b->events_lock);
  struct sw_queued_event *q = b->events_head;
  b->events_head = b->events_tail = NULL;
  pthread_mutex_unlock (&b->events_lock);
  return q;
}

/* The environment variables that give the knobs with no buildx flag their defaults: read
 * once, here, so a build's settings do not change under it and an embedder can override
 * each one per build. */
static const struct
{
  sw_option opt;
  const char *var;
} env_defaults[] = {
  { SW_OPT_CHUNK_SIZE, "SLIPWAY_CHUNK_SIZE" },
  { SW_OPT_RETRY_ATTEMPTS, "SLIPWAY_RETRY_ATTEMPTS" },
  { SW_OPT_RETRY_SECONDS, "SLIPWAY_RETRY_SECONDS" },
  { SW_OPT_DAEMON_JSON, "SLIPWAY_DAEMON_JSON" },
  { SW_OPT_QEMU_PATH, "SLIPWAY_QEMU_PATH" },
  { SW_OPT_SOURCE_DATE_EPOCH, "SOURCE_DATE_EPOCH" },
  { SW_OPT_LAYER_UPLOAD, "SLIPWAY_LAYER_UPLOAD" },
};

sw_build *
sw_build_new (void)
{
  sw_build *b = sw_xzalloc (sizeof *b);
  b->context = sw_xstrdup (".");
  b->network = sw_xstrdup ("default");
  b->smoke_timeout = 120;
  sw_sandbox_stop_init (&b->stop);
  b->owner = pthread_self ();
  pthread_mutex_init (&b->events_lock, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&b->events_cond, &ca);
  pthread_condattr_destroy (&ca);
  b->source_date_epoch = -1;
  for (size_t i = 0; i < sizeof env_defaults / sizeof *env_defaults; i++)
    {
      const char *v = getenv (env_defaults[i].var);
      sw_error *e = NULL;
      if (v == NULL || *v == '\0' || sw_build_set (b, env_defaults[i].opt, v, &e) == 0)
        continue;
      /* sw_build_new cannot fail: the run reports it, unless the option replaces it */
      if (b->env_error == NULL)
        {
          b->env_error = e;
          sw_error_wrap (&b->env_error, "environment variable %s", env_defaults[i].var);
          b->env_error_opt = env_defaults[i].opt;
        }
      else
        sw_error_free (e);
    }
  b->provenance = b->sbom = -1;
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
  free (b->daemon_json);
  free (b->qemu_path);
  sw_error_free (b->env_error);
  free (b->provenance_spec);
  free (b->sbom_spec);
  free (b->ulimits);
  free (b->cgroup_parent);
  sw_strv *lists[] = { &b->tags, &b->build_args, &b->platforms, &b->outputs, &b->labels,
                       &b->annotations, &b->secrets, &b->ssh, &b->add_hosts,
                       &b->build_contexts, &b->insecure_registries, &b->no_cache_filter,
                       &b->cache_from, &b->cache_to, &b->smoke };
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    sw_strv_free (lists[i]);
  free (b->digest);
  free (b->image_id);
  sw_sandbox_stop_destroy (&b->stop);
  for (struct sw_queued_event *q = take_events (b), *next; q; q = next)
    {
      next = q->next;
      free ((char *) q->ev.name);
      free ((char *) q->ev.text);
      free (q);
    }
  pthread_mutex_destroy (&b->events_lock);
  pthread_cond_destroy (&b->events_cond);
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
  if (value == NULL)
    *out = true; /* "--push" alone */
  else if (sw_parse_bool (value, out) < 0)
    return sw_error_make (err, EINVAL, "invalid value %s for %s: use true or false", value, name);
  return 0;
}

/* A whole decimal number in [min, max]. */
static int
parse_number (const char *name, const char *what, const char *value, long long min, long long max,
              long long *out, sw_error **err)
{
  char *end;
  errno = 0;
  long long v = strtoll (value, &end, 10);
  if (*value == '\0' || *end != '\0' || errno == ERANGE || v < min || v > max)
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s: expected %s", value, name, what);
  *out = v;
  return 0;
}

static int
set_knob (sw_build *b, sw_option opt, const char *value, sw_error **err)
{
  long long v;
  switch (opt)
    {
    case SW_OPT_CHUNK_SIZE:
      if (parse_number ("SW_OPT_CHUNK_SIZE (SLIPWAY_CHUNK_SIZE)", "a number of bytes from 1024 to 4294967296",
                        value, 1024, 4LL << 30, &v, err) < 0)
        return -1;
      b->chunk_size = (size_t) v;
      return 0;
    case SW_OPT_RETRY_ATTEMPTS:
      if (parse_number ("SW_OPT_RETRY_ATTEMPTS (SLIPWAY_RETRY_ATTEMPTS)", "a number of attempts from 1 to 100",
                        value, 1, 100, &v, err) < 0)
        return -1;
      b->retry_attempts = (int) v;
      return 0;
    case SW_OPT_RETRY_SECONDS:
      if (parse_number ("SW_OPT_RETRY_SECONDS (SLIPWAY_RETRY_SECONDS)", "a number of seconds from 1 to 86400",
                        value, 1, 86400, &v, err) < 0)
        return -1;
      b->retry_seconds = (double) v;
      return 0;
    case SW_OPT_SOURCE_DATE_EPOCH:
      if (parse_number ("SW_OPT_SOURCE_DATE_EPOCH (SOURCE_DATE_EPOCH)", "seconds since 1970", value, 0,
                        253402300799LL /* 9999-12-31 */, &v, err) < 0)
        return -1;
      b->source_date_epoch = v;
      return 0;
    case SW_OPT_DAEMON_JSON: replace (&b->daemon_json, value); return 0;
    case SW_OPT_QEMU_PATH: replace (&b->qemu_path, value); return 0;
    case SW_OPT_LAYER_UPLOAD:
      {
        sw_layer_upload mode;
        if (sw_layer_upload_parse (value, &mode) < 0)
          return sw_error_make (err, EINVAL, "invalid value \"%s\" for SW_OPT_LAYER_UPLOAD (SLIPWAY_LAYER_UPLOAD): "
                                             "expected stream, put or chunked", value ? value : "");
        b->layer_upload = (int) mode;
        return 0;
      }
    default: return sw_error_make (err, EINVAL, "unknown build option %d", (int) opt);
    }
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

/* A buildx CSV spec ("type=local,\"dest=a,b\""), read as buildx reads it. */
static int
check_csv (const char *name, const char *value, sw_error **err)
{
  cleanup_strvec sw_strv fields = SW_STRV_INIT;
  const char *why;
  if (sw_csv_split (value, &fields, &why) < 0)
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s: %s", value, name, why);
  return 0;
}

/* One attestation request, as buildx canonicalizes --provenance/--sbom/--attest: "true",
 * "false", or key=value fields (type=… already known; disabled=true turns it off). */
static int
set_attestation (sw_build *b, const char *type, const char *value, sw_error **err)
{
  bool prov = strcmp (type, "provenance") == 0;
  int *state = prov ? &b->provenance : &b->sbom;
  char **spec = prov ? &b->provenance_spec : &b->sbom_spec;
  bool on = true;

  if (strcmp (value, "true") == 0 || strcmp (value, "1") == 0 || *value == '\0')
    value = "";
  else if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
    on = false;
  else
    {
      cleanup_free char *disabled = sw_csv_get (value, "disabled");
      if (disabled && strcmp (disabled, "true") == 0)
        on = false;
      else if (disabled && strcmp (disabled, "false") != 0)
        return sw_error_make (err, EINVAL, "invalid %s attestation \"%s\": disabled=%s (use true or false)", type,
                              value, disabled);
    }
  if (on && prov)
    {
      /* checked now, so that a typo fails before the build */
      sw_prov_opts o;
      cleanup_free char *keep = NULL;
      if (sw_prov_opts_parse (value, &o, &keep, err) < 0)
        return -1;
    }
  else if (on)
    {
      cleanup_strvec sw_strv fields = SW_STRV_INIT;
      const char *why;
      if (sw_csv_split (value, &fields, &why) < 0)
        return sw_error_make (err, EINVAL, "invalid sbom attestation \"%s\": %s", value, why);
      for (size_t i = 0; i < fields.n; i++)
        {
          char *f = fields.v[i];
          char *eq = strchr (f, '=');
          if (eq)
            *eq = '\0';
          if (*f == '\0' || strcmp (f, "type") == 0 || strcmp (f, "disabled") == 0)
            continue;
          if (strcmp (f, "generator") == 0)
            return sw_error_make (err, ENOTSUP,
                                  "not supported: sbom generator=%s — slipway makes the SBOM itself, with no scanner "
                                  "image; drop generator=",
                                  eq ? eq + 1 : "");
          return sw_error_make (err, ENOTSUP, "not supported yet: sbom option \"%s\" (in \"%s\")", f, value);
        }
    }
  *state = on;
  free (*spec);
  *spec = sw_xstrdup (value);
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
      bool ignored;
      if (v && *v && sw_parse_bool (v, &ignored) < 0)
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

/* The entitlements an --allow value names: buildx's CSV list, so "a,b" is two and a field
 * may be quoted.  strict (what a build may use): only network.host and security.insecure,
 * the two slipway enforces.  Not strict (a grant): other names (buildx bake's fs=…, ssh)
 * grant nothing slipway ever asks for and are passed over, and "" grants none.  A refused
 * value sets nothing. */
static int
parse_entitlements (const char *value, bool strict, bool *network_host, bool *security_insecure, sw_error **err)
{
  cleanup_strvec sw_strv list = SW_STRV_INIT;
  const char *why;
  bool nh = false, si = false;
  if (sw_csv_split (value, &list, &why) < 0)
    return sw_error_make (err, EINVAL, "invalid --allow \"%s\": %s", value, why);
  for (size_t i = 0; i < list.n; i++)
    if (strcmp (list.v[i], "network.host") == 0)
      nh = true;
    else if (strcmp (list.v[i], "security.insecure") == 0)
      si = true;
    else if (strict)
      return sw_error_make (err, EINVAL, "invalid --allow \"%s\": entitlements are network.host and "
                            "security.insecure", list.v[i]);
  *network_host = nh;
  *security_insecure = si;
  return 0;
}

int
sw_build_check_grant (const sw_build *b, sw_error **err)
{
  const char *missing = NULL;
  if (!b->grant_set)
    return 0;
  if (b->allow_network_host && !b->grant_network_host)
    missing = "network.host";
  else if (b->allow_security_insecure && !b->grant_security_insecure)
    missing = "security.insecure";
  if (missing == NULL)
    return 0;
  sw_error_make (err, EPERM, "additional privileges requested: %s (grant them with --allow %s)", missing, missing);
  return sw_error_set_category (err, SW_ERR_INPUT);
}

/* A positive count of microseconds (--cpu-quota, --cpu-period). */
static int
parse_micros (const char *name, const char *value, uint64_t *out, sw_error **err)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull (value, &end, 10);
  if (errno || end == value || *end || v == 0 || *value == '-')
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s: a positive number of microseconds", value, name);
  *out = v;
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
      if (check_csv ("--output", value, err) < 0 || check_output (value, err) < 0)
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
        bool network_host = false, security_insecure = false;
        if (parse_entitlements (value, true, &network_host, &security_insecure, err) < 0)
          return -1;
        b->allow_network_host |= network_host;
        b->allow_security_insecure |= security_insecure;
        return 0;
      }
    case SW_OPT_GRANT:
      {
        bool network_host = false, security_insecure = false;
        if (parse_entitlements (value, false, &network_host, &security_insecure, err) < 0)
          return -1;
        b->grant_set = true;
        b->grant_network_host |= network_host;
        b->grant_security_insecure |= security_insecure;
        return 0;
      }
    case SW_OPT_CACHE_FROM: sw_strv_push (&b->cache_from, value); return 0;
    case SW_OPT_CACHE_TO: sw_strv_push (&b->cache_to, value); return 0;
    case SW_OPT_NO_CACHE_FILTER:
      {
        /* "a,b" is the same as two options, as BuildKit reads its no-cache attribute */
        cleanup_strvec sw_strv list = SW_STRV_INIT;
        const char *why;
        if (sw_csv_split (value, &list, &why) < 0)
          return sw_error_make (err, EINVAL, "invalid --no-cache-filter \"%s\": %s", value, why);
        for (size_t i = 0; i < list.n; i++)
          if (*list.v[i])
            sw_strv_push (&b->no_cache_filter, list.v[i]);
        return 0;
      }
    case SW_OPT_PUSH: return parse_bool ("--push", value, &b->push, err);
    case SW_OPT_LOAD: return parse_bool ("--load", value, &b->load, err);
    case SW_OPT_NO_CACHE: return parse_bool ("--no-cache", value, &b->no_cache, err);
    case SW_OPT_PULL: return parse_bool ("--pull", value, &b->pull, err);
    case SW_OPT_MAX_PARALLELISM:
      {
        long long v;
        if (parse_number ("--max-parallelism", "a number of steps from 1 to 1024", value, 1, 1024, &v, err) < 0)
          return -1;
        b->max_parallelism = (int) v;
        return 0;
      }
    case SW_OPT_CHUNK_SIZE:
    case SW_OPT_RETRY_ATTEMPTS:
    case SW_OPT_RETRY_SECONDS:
    case SW_OPT_DAEMON_JSON:
    case SW_OPT_QEMU_PATH:
    case SW_OPT_SOURCE_DATE_EPOCH:
    case SW_OPT_LAYER_UPLOAD:
      if (set_knob (b, opt, value, err) < 0)
        return -1;
      if (b->env_error && b->env_error_opt == opt)
        {
          sw_error_free (b->env_error); /* the option replaces the variable's bad value */
          b->env_error = NULL;
        }
      return 0;
    case SW_OPT_PROVENANCE: return set_attestation (b, "provenance", value, err);
    case SW_OPT_SBOM: return set_attestation (b, "sbom", value, err);
    case SW_OPT_ATTEST:
      {
        cleanup_free char *type = sw_csv_get (value, "type");
        if (type == NULL || (strcmp (type, "provenance") != 0 && strcmp (type, "sbom") != 0))
          return sw_error_make (err, EINVAL, "invalid --attest \"%s\": type=provenance or type=sbom is needed", value);
        return set_attestation (b, type, value, err);
      }
    case SW_OPT_CALL:
      if (strcmp (value, "build") == 0 || strcmp (value, "check") == 0)
        {
          b->call_check = strcmp (value, "check") == 0;
          return 0;
        }
      return sw_error_make (err, ENOTSUP, "not supported yet: --call=%s (slipway knows build and check)", value);
    case SW_OPT_SHM_SIZE: return sw_shm_size_parse (value, &b->shm_size, err);
    case SW_OPT_ULIMIT:
      {
        sw_ulimit u;
        if (sw_ulimit_parse (value, &u, err) < 0)
          return -1;
        b->ulimits = sw_xreallocarray (b->ulimits, b->n_ulimits + 1, sizeof *b->ulimits);
        b->ulimits[b->n_ulimits++] = u;
        return 0;
      }
    case SW_OPT_CGROUP_PARENT:
      if (sw_cgroup_parent_check (value, err) < 0)
        return -1;
      replace (&b->cgroup_parent, value);
      return 0;
    case SW_OPT_MEMORY: return sw_shm_size_parse (value, &b->cgroup_limits.memory_max, err) < 0
                               ? sw_error_wrap (err, "--memory") : 0;
    case SW_OPT_CPU_QUOTA: return parse_micros ("--cpu-quota", value, &b->cgroup_limits.cpu_quota_us, err);
    case SW_OPT_CPU_PERIOD: return parse_micros ("--cpu-period", value, &b->cgroup_limits.cpu_period_us, err);
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

static void
deliver_queued (sw_build *b)
{
  for (struct sw_queued_event *q = take_events (b), *next; q; q = next)
    {
      next = q->next;
      if (b->cb)
        b->cb (&q->ev, b->cb_userdata);
      free ((char *) q->ev.name);
      free ((char *) q->ev.text);
      free (q);
    }
}

static double
wall_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
sw_build_emit (sw_build *b, const sw_event *ev_in)
{
  sw_event stamped = *ev_in;
  const sw_event *ev = &stamped;
  if (stamped.time == 0)
    stamped.time = wall_now ();
  if (!pthread_equal (b->owner, pthread_self ()))
    {
      if (b->cb == NULL)
        return;
      struct sw_queued_event *q = sw_xzalloc (sizeof *q);
      q->ev = *ev;
      q->ev.name = ev->name ? sw_xstrdup (ev->name) : NULL;
      q->ev.text = ev->text ? sw_xstrdup (ev->text) : NULL;
      pthread_mutex_lock (&b->events_lock);
      if (b->events_tail)
        b->events_tail->next = q;
      else
        b->events_head = q;
      b->events_tail = q;
      pthread_cond_signal (&b->events_cond);
      pthread_mutex_unlock (&b->events_lock);
      return;
    }
  sw_log_route_drain (b->log_route);
  deliver_queued (b);
  if (b->cb)
    b->cb (ev, b->cb_userdata);
}

void
sw_build_pump (sw_build *b, double timeout)
{
  sw_log_route_drain (b->log_route);
  pthread_mutex_lock (&b->events_lock);
  if (b->events_head == NULL && timeout > 0)
    {
      struct timespec until;
      unsigned seen = b->wakeups;
      clock_gettime (CLOCK_MONOTONIC, &until);
      until.tv_sec += (time_t) timeout;
      until.tv_nsec += (long) ((timeout - (double) (time_t) timeout) * 1e9);
      if (until.tv_nsec >= 1000000000L)
        {
          until.tv_sec++;
          until.tv_nsec -= 1000000000L;
        }
      while (b->events_head == NULL && b->wakeups == seen)
        if (pthread_cond_timedwait (&b->events_cond, &b->events_lock, &until) != 0)
          break;
    }
  pthread_mutex_unlock (&b->events_lock);
  sw_log_route_drain (b->log_route);
  deliver_queued (b);
}

void
sw_build_wake (sw_build *b)
{
  pthread_mutex_lock (&b->events_lock);
  b->wakeups++;
  pthread_cond_signal (&b->events_cond);
  pthread_mutex_unlock (&b->events_lock);
}

static void
log_to_event (sw_log_level level, const char *msg, void *userdata)
{
  sw_build *b = userdata;
  sw_event ev = { .kind = SW_EVENT_LOG, .level = level, .text = msg };
  b->cb (&ev, b->cb_userdata);
}

void
sw_build_log_begin (sw_build *b)
{
  b->owner = pthread_self (); /* the thread that runs the build delivers its events */
  if (b->cb && b->log_route == NULL)
    b->log_route = sw_log_route_open (log_to_event, b);
}

void
sw_build_log_end (sw_build *b)
{
  sw_log_route_close (b->log_route);
  b->log_route = NULL;
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
