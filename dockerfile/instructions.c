/* dockerfile/instructions.c — see instructions.h.  Mirrors BuildKit's
 * frontend/dockerfile/instructions (parse.go, bflag.go, commands_run*.go): same checks,
 * same order, same messages. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/csv.h"
#include "common/strconv.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "dockerfile/instructions.h"
#include "dockerfile/suggest.h"
#include "dockerfile/location.h"
#include "dockerfile/parser_int.h"

static const char *const kind_names[] = {
  [SW_DF_ADD] = "add",         [SW_DF_ARG] = "arg",         [SW_DF_CMD] = "cmd",
  [SW_DF_COPY] = "copy",       [SW_DF_ENTRYPOINT] = "entrypoint",
  [SW_DF_ENV] = "env",         [SW_DF_EXPOSE] = "expose",   [SW_DF_FROM] = "from",
  [SW_DF_HEALTHCHECK] = "healthcheck", [SW_DF_LABEL] = "label",
  [SW_DF_MAINTAINER] = "maintainer",   [SW_DF_ONBUILD] = "onbuild", [SW_DF_RUN] = "run",
  [SW_DF_SHELL] = "shell",     [SW_DF_STOPSIGNAL] = "stopsignal", [SW_DF_USER] = "user",
  [SW_DF_VOLUME] = "volume",   [SW_DF_WORKDIR] = "workdir",
};

const char *
sw_df_kind_name (sw_df_kind kind)
{
  return kind_names[kind];
}

bool
sw_df_kind_expands (sw_df_kind kind)
{
  switch (kind)
    {
    case SW_DF_ADD: case SW_DF_ARG: case SW_DF_COPY: case SW_DF_ENV: case SW_DF_EXPOSE:
    case SW_DF_FROM: case SW_DF_LABEL: case SW_DF_ONBUILD: case SW_DF_STOPSIGNAL:
    case SW_DF_USER: case SW_DF_VOLUME: case SW_DF_WORKDIR:
      return true;
    default:
      return false;
    }
}

/* ---- small helpers -------------------------------------------------------------- */

static char *
xstrdup_or_null (const char *s)
{
  return s ? sw_xstrdup (s) : NULL;
}

static void
lower (char *s)
{
  for (; *s; s++)
    *s = (char) tolower ((unsigned char) *s);
}


/* BuildKit's suggest.Search, case-sensitive: the closest option within distance 2, or
 * NULL (also when val is itself an option). */
static const char *
suggest (const char *val, const char *const *options, size_t n)
{
  long i = sw_df_closest (val, options, n);
  return i < 0 ? NULL : options[i];
}

/* Errors of one instruction: located at its keyword. */
static int
fail (const sw_dockerfile *df, const sw_df_node *node, sw_error **err, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

static int
fail (const sw_dockerfile *df, const sw_df_node *node, sw_error **err, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (df)
    sw_df_error_atv (err, df, node->start_line, node->column, fmt, ap);
  else
    sw_error_makev (err, 0, fmt, ap);
  va_end (ap);
  return -1;
}

/* The same, pointing at `text` (a flag, an argument) when it can be found. */
static int
fail_at (const sw_dockerfile *df, const sw_df_node *node, const char *text, sw_error **err,
         const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

static int
fail_at (const sw_dockerfile *df, const sw_df_node *node, const char *text, sw_error **err,
         const char *fmt, ...)
{
  va_list ap;
  int line = node->start_line, col = node->column;
  va_start (ap, fmt);
  if (df)
    {
      if (text)
        sw_df_locate (df, node, text, &line, &col);
      sw_df_error_atv (err, df, line, col, fmt, ap);
    }
  else
    sw_error_makev (err, 0, fmt, ap);
  va_end (ap);
  return -1;
}

/* An error from below (the lexer), located at the instruction. */
static int
relocate (const sw_dockerfile *df, const sw_df_node *node, sw_error **err)
{
  if (!df || !err || !*err)
    return -1;
  cleanup_free char *msg = sw_xstrdup (sw_error_message (*err));
  sw_error_free (*err);
  *err = NULL;
  return fail (df, node, err, "%s", msg);
}

/* nodeArgs: the argument chain; an ONBUILD's nested instruction contributes its name and
 * its own arguments. */
static void
node_args (const sw_df_node *node, sw_strv *out)
{
  for (const sw_df_node *a = node->next; a; a = a->next)
    {
      if (a->n_children == 0)
        sw_strv_push (out, a->value);
      else if (a->n_children == 1)
        {
          sw_strv_push (out, a->children[0]->value);
          node_args (a->children[0], out);
        }
    }
}

/* ---- flags (BuildKit's BFlags) --------------------------------------------------- */

typedef enum { F_BOOL, F_STRING, F_STRINGS } ftype;

typedef struct flag
{
  const char *name;
  ftype type;
  const char *def;
  const char *value; /* borrowed from the node */
  sw_strv values;
  bool used;
} flag;

#define FL(n, t, d) { .name = (n), .type = (t), .def = (d) }

static flag *
flag_find (flag *fl, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (fl[i].name, name) == 0)
      return &fl[i];
  return NULL;
}

static void
flags_free (flag *fl, size_t n)
{
  for (size_t i = 0; i < n; i++)
    sw_strv_free (&fl[i].values);
}

static int
flags_parse (const sw_dockerfile *df, const sw_df_node *node, flag *fl, size_t n,
             sw_error **err)
{
  for (size_t i = 0; i < n; i++)
    fl[i].value = fl[i].type == F_BOOL ? (fl[i].def ? fl[i].def : "false") : fl[i].def;
  for (size_t i = 0; i < node->n_flags; i++)
    {
      const char *a = node->flags[i];
      if (strcmp (a, "--") == 0)
        return 0;
      if (strncmp (a, "--", 2) != 0)
        return fail_at (df, node, a, err, "arg should start with -- : %s", a);
      const char *eq = strchr (a, '=');
      cleanup_free char *flag_name = eq ? sw_xstrndup (a, eq - a) : sw_xstrdup (a);
      const char *value = eq ? eq + 1 : "";
      const char *name = flag_name + 2;
      flag *f = flag_find (fl, n, name);
      if (!f)
        {
          const char *names[16];
          for (size_t k = 0; k < n && k < 16; k++)
            names[k] = fl[k].name;
          const char *hint = suggest (name, names, n < 16 ? n : 16);
          if (hint)
            return fail_at (df, node, flag_name, err, "unknown flag: %s (did you mean %s?)",
                            flag_name, hint);
          return fail_at (df, node, flag_name, err, "unknown flag: %s", flag_name);
        }
      if (f->used && f->type != F_STRINGS)
        return fail_at (df, node, flag_name, err, "duplicate flag specified: %s", flag_name);
      f->used = true;
      switch (f->type)
        {
        case F_BOOL:
          if (eq && !*value)
            return fail_at (df, node, flag_name, err, "missing a value on flag: %s", flag_name);
          if (!*value || strcasecmp (value, "true") == 0)
            f->value = "true";
          else if (strcasecmp (value, "false") == 0)
            f->value = "false";
          else
            return fail_at (df, node, flag_name, err,
                            "expecting boolean value for flag %s, not: %s", flag_name, value);
          break;
        case F_STRING:
          if (!eq)
            return fail_at (df, node, flag_name, err, "missing a value on flag: %s", flag_name);
          f->value = value;
          break;
        case F_STRINGS:
          if (!eq)
            return fail_at (df, node, flag_name, err, "missing a value on flag: %s", flag_name);
          sw_strv_push (&f->values, value);
          break;
        }
    }
  return 0;
}

int
sw_df_mount_from (const char *spec, char **from, sw_error **err)
{
  sw_strv fields = { 0 };
  const char *why = NULL;
  *from = NULL;
  if (sw_csv_split (spec, &fields, &why) < 0)
    {
      sw_strv_free (&fields);
      return sw_error_make (err, 0, "failed to parse csv mounts: %s", why);
    }
  int rc = 0;
  for (size_t i = 0; i < fields.n; i++)
    {
      char *eq = strchr (fields.v[i], '=');
      if (!eq)
        continue;
      cleanup_free char *key = sw_xstrndup (fields.v[i], eq - fields.v[i]);
      lower (key);
      if (strcmp (key, "from") != 0)
        continue;
      const char *value = eq + 1;
      const char *dollar = strchr (value, '$');
      if (dollar && dollar[1] != '\0')
        {
          rc = sw_error_make (err, 0,
                              "'%s' doesn't support variable expansion, define alias stage instead",
                              key);
          break;
        }
      free (*from);
      *from = sw_xstrdup (value);
    }
  if (rc < 0)
    {
      free (*from);
      *from = NULL;
    }
  sw_strv_free (&fields);
  return rc;
}

/* ---- RUN --mount (BuildKit's parseMount with an expander) ------------------------- */

/* strconv.ParseUint (base 8 or 10, 32 bits) */
static int
go_parse_uint32 (const char *v, int base, unsigned long *out)
{
  if (!*v)
    return -1;
  for (const char *p = v; *p; p++)
    if (!(*p >= '0' && *p < (base == 8 ? '8' : ':')))
      return -1;
  errno = 0;
  unsigned long long r = strtoull (v, NULL, base);
  if (errno || r > 0xFFFFFFFFULL)
    return -1;
  *out = (unsigned long) r;
  return 0;
}

/* go-units RAMInBytes: a number, an optional space, an optional k/m/g/t/p (binary) with an
 * optional b or ib. */
static int
ram_in_bytes (const char *s, long long *out)
{
  const char *sep = NULL;
  for (const char *p = s; *p; p++)
    if (strchr ("01234567890. ", *p))
      sep = p;
  if (!sep)
    return -1;
  cleanup_free char *num = sw_xstrndup (s, (size_t) (sep - s) + (*sep == ' ' ? 0 : 1));
  cleanup_free char *sfx = sw_xstrdup (sep + 1);
  char *end;
  errno = 0;
  double size = strtod (num, &end);
  if (!*num || *end || errno || !(size >= 0))
    return -1;
  lower (sfx);
  if (*sfx)
    {
      static const char units[] = "kmgtp";
      const char *u = strchr (units, sfx[0]);
      if (strlen (sfx) > 3)
        return -1;
      if (sfx[0] == 'b')
        {
          if (sfx[1])
            return -1;
        }
      else if (!u || !*u)
        return -1;
      else
        {
          for (long i = 0; i <= u - units; i++)
            size *= 1024;
          if ((strlen (sfx) == 2 && sfx[1] != 'b') || (strlen (sfx) == 3 && strcmp (sfx + 1, "ib") != 0))
            return -1;
        }
    }
  if (size > 9.2e18)
    return -1;
  *out = (long long) size;
  return 0;
}

void
sw_df_run_mount_clear (sw_df_run_mount *m)
{
  free (m->from);
  free (m->source);
  free (m->target);
  free (m->id);
  free (m->env);
  memset (m, 0, sizeof *m);
}

static int
mount_suggest (sw_error **err, const char *msg, const char *val, const char *const *opts,
               size_t n)
{
  const char *hint = suggest (val, opts, n);
  if (hint)
    return sw_error_make (err, 0, "%s (did you mean %s?)", msg, hint);
  return sw_error_make (err, 0, "%s", msg);
}

static void
set_str (char **dst, const char *v)
{
  free (*dst);
  *dst = sw_xstrdup (v);
}

int
sw_df_run_mount_parse (const char *spec, sw_df_run_mount *m, sw_error **err)
{
  static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
  static const char *const sharings[] = { "", "shared", "private", "locked" };
  static const char *const keys[] = {
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
    "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
  };
  sw_strv f = { 0 };
  const char *why = NULL;
  bool ro_auto = true;
  int rc = -1;

  memset (m, 0, sizeof *m);
  if (sw_csv_split (spec, &f, &why) < 0)
    {
      sw_error_make (err, 0, "failed to parse csv mounts: %s", why);
      goto out;
    }
  for (size_t i = 0; i < f.n; i++)
    {
      const char *field = f.v[i];
      const char *eq = strchr (field, '=');
      cleanup_free char *key = eq ? sw_xstrndup (field, eq - field) : sw_xstrdup (field);
      const char *value = eq ? eq + 1 : NULL;
      bool secret_or_ssh = m->type == SW_DF_MOUNT_SECRET || m->type == SW_DF_MOUNT_SSH;
      lower (key);
      if (!eq)
        {
          if (!strcmp (key, "readonly") || !strcmp (key, "ro"))
            m->readonly = true, ro_auto = false;
          else if (!strcmp (key, "readwrite") || !strcmp (key, "rw"))
            m->readonly = false, ro_auto = false;
          else if (!strcmp (key, "required") && secret_or_ssh)
            m->required = true;
          else if (!strcmp (key, "required"))
            {
              sw_error_make (err, 0, "unexpected key '%s' for mount type '%s'", key,
                             types[m->type]);
              goto out;
            }
          else
            {
              sw_error_make (err, 0, "invalid field '%s' must be a key=value pair", field);
              goto out;
            }
          continue;
        }
      if (!strcmp (key, "type"))
        {
          cleanup_free char *t = sw_xstrdup (value);
          size_t k;
          lower (t);
          for (k = 0; k < 5 && strcmp (t, types[k]) != 0; k++)
            ;
          if (k == 5)
            {
              cleanup_free char *msg = sw_xasprintf ("unsupported mount type \"%s\"", value);
              mount_suggest (err, msg, value, types, 5);
              goto out;
            }
          m->type = (sw_df_mount_type) k;
        }
      else if (!strcmp (key, "from"))
        set_str (&m->from, value);
      else if (!strcmp (key, "source") || !strcmp (key, "src"))
        set_str (&m->source, value);
      else if (!strcmp (key, "target") || !strcmp (key, "dst") || !strcmp (key, "destination"))
        set_str (&m->target, value);
      else if (!strcmp (key, "readonly") || !strcmp (key, "ro") || !strcmp (key, "readwrite")
               || !strcmp (key, "rw"))
        {
          bool b;
          if (sw_parse_bool (value, &b) < 0)
            {
              sw_error_make (err, 0, "invalid value for %s: %s", key, value);
              goto out;
            }
          bool rw = !strcmp (key, "rw") || !strcmp (key, "readwrite");
          m->readonly = rw ? !b : b;
          ro_auto = false;
        }
      else if (!strcmp (key, "required"))
        {
          if (!secret_or_ssh)
            {
              sw_error_make (err, 0, "unexpected key '%s' for mount type '%s'", key,
                             types[m->type]);
              goto out;
            }
          if (sw_parse_bool (value, &m->required) < 0)
            {
              sw_error_make (err, 0, "invalid value for %s: %s", key, value);
              goto out;
            }
        }
      else if (!strcmp (key, "size"))
        {
          if (m->type != SW_DF_MOUNT_TMPFS)
            {
              sw_error_make (err, 0, "unexpected key '%s' for mount type '%s'", key,
                             types[m->type]);
              goto out;
            }
          if (ram_in_bytes (value, &m->size_limit) < 0)
            {
              sw_error_make (err, 0, "invalid value for %s: %s", key, value);
              goto out;
            }
        }
      else if (!strcmp (key, "id"))
        set_str (&m->id, value);
      else if (!strcmp (key, "sharing"))
        {
          cleanup_free char *v = sw_xstrdup (value);
          size_t k;
          lower (v);
          for (k = 1; k < 4 && strcmp (v, sharings[k]) != 0; k++)
            ;
          if (k == 4)
            {
              cleanup_free char *msg = sw_xasprintf ("unsupported sharing value \"%s\"", value);
              mount_suggest (err, msg, value, sharings + 1, 3);
              goto out;
            }
          m->sharing = (sw_df_mount_sharing) k;
        }
      else if (!strcmp (key, "mode") || !strcmp (key, "uid") || !strcmp (key, "gid"))
        {
          unsigned long v;
          if (go_parse_uint32 (value, key[0] == 'm' ? 8 : 10, &v) < 0)
            {
              sw_error_make (err, 0, "invalid value %s for %s", value, key);
              goto out;
            }
          if (key[0] == 'm')
            m->mode = v, m->has_mode = true;
          else if (key[0] == 'u')
            m->uid = v, m->has_uid = true;
          else
            m->gid = v, m->has_gid = true;
        }
      else if (!strcmp (key, "env"))
        set_str (&m->env, value);
      else
        {
          cleanup_free char *msg = sw_xasprintf ("unexpected key '%s' in '%s'", key, field);
          mount_suggest (err, msg, key, keys, sizeof keys / sizeof keys[0]);
          goto out;
        }
    }

  if (m->type != SW_DF_MOUNT_SECRET && m->type != SW_DF_MOUNT_SSH
      && m->type != SW_DF_MOUNT_CACHE)
    {
      const char *what = m->has_mode ? "mode" : m->has_uid ? "uid" : m->has_gid ? "gid" : NULL;
      if (what)
        {
          sw_error_make (err, 0, "%s not allowed for \"%s\" type mounts", what, types[m->type]);
          goto out;
        }
    }
  if (ro_auto)
    m->readonly = !(m->type == SW_DF_MOUNT_CACHE || m->type == SW_DF_MOUNT_TMPFS);
  if (m->type == SW_DF_MOUNT_SECRET)
    {
      if (m->from)
        {
          sw_error_make (err, 0, "secret mount should not have a from");
          goto out;
        }
      if (m->sharing)
        {
          sw_error_make (err, 0, "secret mount should not define sharing");
          goto out;
        }
      if (!m->source && !m->target && !m->id)
        {
          sw_error_make (err, 0, "invalid secret mount. one of source, target required");
          goto out;
        }
      if (m->source && m->id)
        {
          sw_error_make (err, 0, "both source and id can't be set");
          goto out;
        }
    }
  if (m->sharing && m->type != SW_DF_MOUNT_CACHE)
    {
      sw_error_make (err, 0, "invalid cache sharing set for %s mount", types[m->type]);
      goto out;
    }
  rc = 0;
out:
  sw_strv_free (&f);
  if (rc < 0)
    sw_df_run_mount_clear (m);
  return rc;
}

const char *
sw_df_mount_type_name (sw_df_mount_type type)
{
  static const char *const names[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
  return (unsigned) type < 5 ? names[type] : "?";
}

static char *
dup_or_null (const char *s)
{
  return s ? sw_xstrdup (s) : NULL;
}

void
sw_df_run_mount_copy (sw_df_run_mount *dst, const sw_df_run_mount *src)
{
  *dst = *src;
  dst->from = dup_or_null (src->from);
  dst->source = dup_or_null (src->source);
  dst->target = dup_or_null (src->target);
  dst->id = dup_or_null (src->id);
  dst->env = dup_or_null (src->env);
}

int
sw_df_run_mount_finish (sw_df_run_mount *m, unsigned ssh_index, const char *workdir,
                        sw_error **err)
{
  const char *type = sw_df_mount_type_name (m->type);
  switch (m->type)
    {
    case SW_DF_MOUNT_BIND:
    case SW_DF_MOUNT_CACHE:
    case SW_DF_MOUNT_TMPFS:
      if (!m->target || !*m->target)
        return sw_error_make (err, EINVAL, "mount type=%s: target is required", type);
      if (m->type == SW_DF_MOUNT_BIND && !m->source)
        m->source = sw_xstrdup (".");
      if (m->type == SW_DF_MOUNT_CACHE)
        {
          /* with from=, the cache is seeded from that tree and source= is a path in it */
          if (m->source && !m->from)
            return sw_error_make (err, ENOTSUP,
                                  "mount type=cache: not supported yet: source without from for a cache mount");
          if (m->from && !m->source)
            m->source = sw_xstrdup (".");
          if (!m->id || !*m->id)
            set_str (&m->id, m->target);
          if (m->sharing == SW_DF_SHARING_UNSET)
            m->sharing = SW_DF_SHARING_SHARED;
          if (!m->has_mode)
            m->mode = 0755, m->has_mode = true;
        }
      break;
    case SW_DF_MOUNT_SECRET:
      if (!m->id || !*m->id)
        {
          const char *b = m->target ? strrchr (m->target, '/') : NULL;
          const char *id = m->source ? m->source : b ? b + 1 : m->target;
          if (!id || !*id)
            return sw_error_make (err, EINVAL, "mount type=secret: needs id=, source= or target=");
          set_str (&m->id, id);
        }
      if (!m->target && !m->env)
        m->target = sw_xasprintf ("/run/secrets/%s", m->id);
      if (!m->has_mode)
        m->mode = 0400, m->has_mode = true;
      break;
    case SW_DF_MOUNT_SSH:
      if (!m->id || !*m->id)
        set_str (&m->id, "default");
      if (!m->target)
        m->target = sw_xasprintf ("/run/buildkit/ssh_agent.%u", ssh_index);
      if (!m->has_mode)
        m->mode = 0600, m->has_mode = true;
      break;
    }
  if (m->target && m->target[0] != '/')
    {
      const char *wd = workdir && *workdir ? workdir : "/";
      char *abs = sw_xasprintf ("%s%s%s", wd, wd[strlen (wd) - 1] == '/' ? "" : "/", m->target);
      free (m->target);
      m->target = abs;
    }
  return 0;
}

/* ---- durations (Go's time.ParseDuration) ------------------------------------------ */

static int
parse_duration (const char *s, int64_t *out, const char **why)
{
  static const struct
  {
    const char *unit;
    double ns;
  } units[] = {
    { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
    { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 },
  };
  const char *p = s;
  double total = 0;
  bool neg = false;

  if (*p == '-' || *p == '+')
    neg = *p++ == '-';
  if (strcmp (p, "0") == 0)
    {
      *out = 0;
      return 0;
    }
  if (*p == '\0')
    {
      *why = "invalid duration";
      return -1;
    }
  while (*p)
    {
      const char *start = p;
      double v = 0, frac = 0, scale = 1;
      bool digits = false;
      while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0'), digits = true;
      if (*p == '.')
        {
          p++;
          while (*p >= '0' && *p <= '9')
            frac = frac * 10 + (*p++ - '0'), scale *= 10, digits = true;
        }
      if (!digits || p == start)
        {
          *why = "invalid duration";
          return -1;
        }
      const char *u = p;
      while (*p && !(*p >= '0' && *p <= '9') && *p != '.')
        p++;
      if (u == p)
        {
          *why = "missing unit in duration";
          return -1;
        }
      size_t ul = (size_t) (p - u);
      double mult = -1;
      for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen (units[i].unit) == ul && strncmp (units[i].unit, u, ul) == 0)
          mult = units[i].ns;
      if (mult < 0)
        {
          *why = "unknown unit in duration";
          return -1;
        }
      total += (v + frac / scale) * mult;
      if (total > 9.2e18)
        {
          *why = "invalid duration";
          return -1;
        }
    }
  *out = (int64_t) (neg ? -total : total);
  return 0;
}

static int
opt_interval (const sw_dockerfile *df, const sw_df_node *node, const flag *f, int64_t *out,
              sw_error **err)
{
  const char *why = NULL;
  *out = 0;
  if (!f->value || !*f->value)
    return 0;
  if (parse_duration (f->value, out, &why) < 0)
    return fail_at (df, node, f->value, err, "time: %s \"%s\"", why, f->value);
  if (*out != 0 && *out < 1000000)
    return fail_at (df, node, f->value, err, "Interval \"%s\" cannot be less than 1ms", f->name);
  return 0;
}

/* ---- the instructions ------------------------------------------------------------- */

static sw_df_kind
kind_of (const char *name, bool *ok)
{
  *ok = true;
  for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
    if (strcasecmp (name, kind_names[i]) == 0)
      return (sw_df_kind) i;
  *ok = false;
  return SW_DF_RUN;
}

static void
join_args (sw_strv *args, bool json, char ***out, size_t *n)
{
  if (args->n == 0)
    {
      *out = sw_xcalloc (1, sizeof **out);
      *n = 0;
      return;
    }
  if (json)
    {
      *out = sw_strv_dup (args->v, args->n);
      *n = args->n;
      return;
    }
  sw_buf b = SW_BUF_INIT;
  for (size_t i = 0; i < args->n; i++)
    sw_buf_printf (&b, "%s%s", i ? " " : "", args->v[i]);
  *out = sw_xcalloc (2, sizeof **out);
  (*out)[0] = sw_buf_steal (&b);
  *n = 1;
}

static int
parse_kvps (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, const char *cmd,
            sw_df_instr *in, sw_error **err)
{
  if (args->n == 0)
    return fail (df, node, err, "%s requires at least one argument", cmd);
  if (args->n % 3 != 0)
    return fail (df, node, err, "Bad input to %s, too many arguments", cmd);
  in->kvs = sw_xcalloc (args->n / 3 + 1, sizeof *in->kvs);
  for (size_t j = 0; j < args->n; j += 3)
    {
      if (args->v[j][0] == '\0')
        return fail (df, node, err, "%s names can not be blank", cmd);
      sw_df_kv *kv = &in->kvs[in->n_kvs++];
      kv->key = sw_xstrdup (args->v[j]);
      kv->value = sw_xstrdup (args->v[j + 1]);
      kv->no_delim = args->v[j + 2][0] == '\0';
    }
  return 0;
}

/* MustParseHeredoc on one argument: the heredoc it names, if it is one. */
static bool
arg_heredoc (const char *arg, sw_df_heredoc *doc)
{
  sw_df_heredoc *docs = NULL;
  size_t n = 0;
  char *msg = NULL;
  bool found = false;
  memset (doc, 0, sizeof *doc);
  if (sw_df_heredocs_from_line (arg, &docs, &n, &msg) == 0 && n == 1)
    {
      *doc = docs[0];
      found = true;
      for (size_t i = 1; i < n; i++)
        free (docs[i].name), free (docs[i].content);
    }
  else
    for (size_t i = 0; i < n; i++)
      free (docs[i].name), free (docs[i].content);
  free (docs);
  free (msg);
  return found;
}

static int
parse_sources_and_dest (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args,
                        const char *cmd, sw_df_instr *in, sw_error **err)
{
  sw_df_heredoc doc;
  const char *dest = args->v[args->n - 1];
  if (arg_heredoc (dest, &doc))
    {
      free (doc.name);
      free (doc.content);
      return fail_at (df, node, dest, err, "%s cannot accept a heredoc as a destination", cmd);
    }
  in->dest = sw_xstrdup (dest);
  sw_strv srcs = { 0 };
  for (size_t i = 0; i + 1 < args->n; i++)
    {
      if (!arg_heredoc (args->v[i], &doc))
        {
          sw_strv_push (&srcs, args->v[i]);
          continue;
        }
      const char *content = "";
      for (size_t k = 0; k < node->n_heredocs; k++)
        if (strcmp (node->heredocs[k].name, doc.name) == 0)
          content = node->heredocs[k].content; /* BuildKit's map: the last one wins */
      in->inline_sources = sw_df_grow (in->inline_sources, in->n_inline_sources + 1,
                                        sizeof *in->inline_sources);
      sw_df_inline_source *s = &in->inline_sources[in->n_inline_sources++];
      s->data = doc.chomp ? sw_df_heredoc_chomp (content) : sw_xstrdup (content);
      s->path = doc.name;
      s->expand = doc.expand;
      free (doc.content);
    }
  in->sources = srcs.v ? srcs.v : sw_xcalloc (1, sizeof (char *));
  in->n_sources = srcs.n;
  return 0;
}

static int
parse_copy_add (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, sw_df_instr *in,
                sw_error **err)
{
  bool add = in->kind == SW_DF_ADD;
  const char *cmd = add ? "ADD" : "COPY";
  flag add_flags[] = {
    FL ("chown", F_STRING, ""), FL ("chmod", F_STRING, ""), FL ("link", F_BOOL, NULL),
    FL ("keep-git-dir", F_BOOL, NULL), FL ("checksum", F_STRING, ""),
    FL ("unpack", F_BOOL, NULL), FL ("exclude", F_STRINGS, NULL),
  };
  flag copy_flags[] = {
    FL ("chown", F_STRING, ""), FL ("from", F_STRING, ""), FL ("chmod", F_STRING, ""),
    FL ("link", F_BOOL, NULL), FL ("exclude", F_STRINGS, NULL), FL ("parents", F_BOOL, NULL),
  };
  flag *fl = add ? add_flags : copy_flags;
  size_t nfl = add ? sizeof add_flags / sizeof add_flags[0]
                   : sizeof copy_flags / sizeof copy_flags[0];
  int rc = -1;

  if (args->n < 2)
    return fail (df, node, err,
                 "%s requires at least two arguments, but only one was provided. Destination "
                 "could not be determined", cmd);
  if (flags_parse (df, node, fl, nfl, err) < 0)
    goto out;
  if (parse_sources_and_dest (df, node, args, cmd, in, err) < 0)
    goto out;
  in->chown = sw_xstrdup (flag_find (fl, nfl, "chown")->value);
  in->chmod = sw_xstrdup (flag_find (fl, nfl, "chmod")->value);
  in->link = strcmp (flag_find (fl, nfl, "link")->value, "true") == 0;
  flag *ex = flag_find (fl, nfl, "exclude");
  in->excludes = ex->values.v ? ex->values.v : sw_xcalloc (1, sizeof (char *));
  in->n_excludes = ex->values.n;
  ex->values.v = NULL, ex->values.n = 0;
  in->keep_git_dir = in->unpack = -1;
  if (add)
    {
      flag *k = flag_find (fl, nfl, "keep-git-dir"), *u = flag_find (fl, nfl, "unpack");
      if (k->used)
        in->keep_git_dir = strcmp (k->value, "true") == 0;
      if (u->used)
        in->unpack = strcmp (u->value, "true") == 0;
      in->checksum = sw_xstrdup (flag_find (fl, nfl, "checksum")->value);
    }
  else
    {
      const char *from = flag_find (fl, nfl, "from")->value;
      in->from = *from ? sw_xstrdup (from) : NULL;
      in->parents = strcmp (flag_find (fl, nfl, "parents")->value, "true") == 0;
    }
  rc = 0;
out:
  flags_free (fl, nfl);
  return rc;
}

static bool
valid_stage_name (const char *s)
{
  if (!(*s >= 'a' && *s <= 'z'))
    return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
          || *s == '.'))
      return false;
  return true;
}

static int
parse_from (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, sw_df_instr *in,
            sw_error **err)
{
  flag fl[] = { FL ("platform", F_STRING, "") };
  if (args->n == 3 && strcasecmp (args->v[1], "as") == 0)
    {
      char *name = sw_xstrdup (args->v[2]);
      lower (name);
      if (!valid_stage_name (name))
        {
          free (name);
          cleanup_buf sw_buf q = SW_BUF_INIT;
          sw_go_quote (&q, args->v[2]);
          return fail_at (df, node, args->v[2], err,
                          "invalid name for build stage: %s, name can't start with a number "
                          "or contain symbols", sw_buf_str (&q));
        }
      in->stage_name = name;
    }
  else if (args->n != 1)
    return fail (df, node, err, "FROM requires either one or three arguments");
  if (flags_parse (df, node, fl, 1, err) < 0)
    return -1;
  in->base = sw_xstrdup (args->v[0]);
  in->platform = *fl[0].value ? sw_xstrdup (fl[0].value) : NULL;
  return 0;
}

/* BuildKit's ParseDevice, for its errors: NAME[,required[=BOOL]] or name=NAME,… */
static int
check_device (const sw_dockerfile *df, const sw_df_node *node, const char *spec,
              sw_error **err)
{
  static const char *const keys[] = { "name", "required" };
  sw_strv f = { 0 };
  const char *why = NULL;
  const char *name = NULL;
  bool b;
  int rc = 0;
  if (sw_csv_split (spec, &f, &why) < 0)
    rc = fail_at (df, node, spec, err, "failed to parse csv devices: %s", why);
  for (size_t i = 0; i < f.n && rc == 0; i++)
    {
      const char *field = f.v[i], *eq = strchr (field, '=');
      cleanup_free char *key = eq ? sw_xstrndup (field, eq - field) : sw_xstrdup (field);
      lower (key);
      if (!eq && strcmp (key, "required") == 0)
        continue;
      if (eq && strcmp (key, "name") == 0)
        {
          if (name && *name)
            rc = fail_at (df, node, spec, err, "device name already set to %s", name);
          name = eq + 1;
        }
      else if (eq && strcmp (key, "required") == 0)
        {
          if (sw_parse_bool (eq + 1, &b) < 0)
            rc = fail_at (df, node, spec, err, "invalid value for %s: %s", key, eq + 1);
        }
      else if (!name || !*name)
        name = field; /* a bare field (or an unknown key) names the device */
      else if (!eq)
        rc = fail_at (df, node, spec, err, "invalid field '%s' must be a key=value pair", field);
      else
        {
          const char *hint = suggest (key, keys, 2);
          if (hint)
            rc = fail_at (df, node, spec, err, "unexpected key '%s' in '%s' (did you mean %s?)",
                          key, field, hint);
          else
            rc = fail_at (df, node, spec, err, "unexpected key '%s' in '%s'", key, field);
        }
    }
  sw_strv_free (&f);
  return rc;
}

static int
parse_run (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, sw_df_instr *in,
           sw_error **err)
{
  flag fl[] = {
    FL ("device", F_STRINGS, NULL), FL ("mount", F_STRINGS, NULL),
    FL ("network", F_STRING, "default"), FL ("security", F_STRING, "sandbox"),
  };
  size_t nfl = sizeof fl / sizeof fl[0];
  int rc = -1;

  if (flags_parse (df, node, fl, nfl, err) < 0)
    goto out;
  join_args (args, node->json, &in->cmdline, &in->n_cmdline);
  in->prepend_shell = !node->json;
  in->devices = fl[0].values.v ? fl[0].values.v : sw_xcalloc (1, sizeof (char *));
  in->n_devices = fl[0].values.n;
  fl[0].values.v = NULL, fl[0].values.n = 0;
  for (size_t i = 0; i < in->n_devices; i++)
    if (check_device (df, node, in->devices[i], err) < 0)
      goto out;
  in->mounts = sw_xcalloc (fl[1].values.n + 1, sizeof *in->mounts);
  for (size_t i = 0; i < fl[1].values.n; i++)
    {
      sw_df_mount *m = &in->mounts[in->n_mounts++];
      m->spec = sw_xstrdup (fl[1].values.v[i]);
      if (sw_df_mount_from (m->spec, &m->from, err) < 0)
        {
          relocate (df, node, err);
          goto out;
        }
    }
  const char *net = fl[2].value, *sec = fl[3].value;
  if (strcmp (net, "default") != 0 && strcmp (net, "none") != 0 && strcmp (net, "host") != 0)
    {
      cleanup_buf sw_buf q = SW_BUF_INIT;
      sw_go_quote (&q, net);
      fail_at (df, node, "--network", err, "invalid network mode %s", sw_buf_str (&q));
      goto out;
    }
  if (strcmp (sec, "sandbox") != 0 && strcmp (sec, "insecure") != 0)
    {
      cleanup_buf sw_buf q = SW_BUF_INIT;
      sw_go_quote (&q, sec);
      fail_at (df, node, "--security", err, "security %s is not valid", sw_buf_str (&q));
      goto out;
    }
  in->network = sw_xstrdup (net);
  in->security = sw_xstrdup (sec);
  in->files = sw_xcalloc (node->n_heredocs + 1, sizeof *in->files);
  for (size_t i = 0; i < node->n_heredocs; i++)
    {
      in->files[i].name = sw_xstrdup (node->heredocs[i].name);
      in->files[i].data = sw_xstrdup (node->heredocs[i].content);
      in->files[i].chomp = node->heredocs[i].chomp;
    }
  in->n_files = node->n_heredocs;
  rc = 0;
out:
  flags_free (fl, nfl);
  return rc;
}

static int
parse_healthcheck (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args,
                   sw_df_instr *in, sw_error **err)
{
  flag fl[] = {
    FL ("interval", F_STRING, ""), FL ("timeout", F_STRING, ""),
    FL ("start-period", F_STRING, ""), FL ("start-interval", F_STRING, ""),
    FL ("retries", F_STRING, ""),
  };
  size_t nfl = sizeof fl / sizeof fl[0];
  sw_df_healthcheck *h;

  if (args->n == 0)
    return fail (df, node, err, "HEALTHCHECK requires at least one argument");
  h = in->health = sw_xzalloc (sizeof *h);
  cleanup_free char *typ = sw_xstrdup (args->v[0]);
  for (char *p = typ; *p; p++)
    *p = (char) toupper ((unsigned char) *p);
  if (strcmp (typ, "NONE") == 0)
    {
      if (args->n != 1)
        return fail (df, node, err, "HEALTHCHECK NONE takes no arguments");
      h->test = sw_xcalloc (2, sizeof *h->test);
      h->test[0] = sw_xstrdup ("NONE");
      h->n_test = 1;
      return 0;
    }
  if (flags_parse (df, node, fl, nfl, err) < 0)
    return -1;
  if (strcmp (typ, "CMD") != 0)
    return fail_at (df, node, args->v[0], err, "Unknown type \"%s\" in HEALTHCHECK (try CMD)",
                    typ);
  sw_strv rest = { args->v + 1, args->n - 1, 0 }; /* a view: never freed */
  char **cmd;
  size_t ncmd;
  join_args (&rest, node->json, &cmd, &ncmd);
  if (ncmd == 0)
    {
      free (cmd);
      return fail (df, node, err, "Missing command after HEALTHCHECK CMD");
    }
  h->test = sw_xcalloc (ncmd + 2, sizeof *h->test);
  h->test[0] = sw_xstrdup (node->json ? "CMD" : "CMD-SHELL");
  for (size_t i = 0; i < ncmd; i++)
    h->test[i + 1] = cmd[i];
  h->n_test = ncmd + 1;
  free (cmd);
  if (opt_interval (df, node, &fl[0], &h->interval_ns, err) < 0
      || opt_interval (df, node, &fl[1], &h->timeout_ns, err) < 0
      || opt_interval (df, node, &fl[2], &h->start_period_ns, err) < 0
      || opt_interval (df, node, &fl[3], &h->start_interval_ns, err) < 0)
    return -1;
  if (*fl[4].value)
    {
      char *end;
      errno = 0;
      long long r = strtoll (fl[4].value, &end, 10);
      if (*end || end == fl[4].value || errno || r > INT32_MAX || r < INT32_MIN
          || isspace ((unsigned char) fl[4].value[0]) || fl[4].value[0] == '+')
        return fail_at (df, node, fl[4].value, err, "strconv.ParseInt: parsing \"%s\": %s",
                        fl[4].value, errno || (*end == 0 && end != fl[4].value)
                                       ? "value out of range" : "invalid syntax");
      if (r < 0)
        return fail_at (df, node, fl[4].value, err, "--retries cannot be negative (%lld)", r);
      h->retries = (int) r;
    }
  return 0;
}

static int
parse_onbuild (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, sw_df_instr *in,
               sw_error **err)
{
  if (args->n == 0)
    return fail (df, node, err, "ONBUILD requires at least one argument");
  if (flags_parse (df, node, NULL, 0, err) < 0)
    return -1;
  cleanup_free char *trig = sw_df_trim_space (args->v[0]);
  for (char *p = trig; *p; p++)
    *p = (char) toupper ((unsigned char) *p);
  if (strcmp (trig, "ONBUILD") == 0)
    return fail (df, node, err, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (strcmp (trig, "MAINTAINER") == 0 || strcmp (trig, "FROM") == 0)
    return fail (df, node, err, "%s isn't allowed as an ONBUILD trigger", trig);

  /* (?i)^\s*ONBUILD\s* removed from the original line */
  const char *o = node->original;
  while (*o == ' ' || *o == '\t' || *o == '\n' || *o == '\f' || *o == '\r')
    o++;
  if (strncasecmp (o, "onbuild", 7) == 0)
    {
      o += 7;
      while (*o == ' ' || *o == '\t' || *o == '\n' || *o == '\f' || *o == '\r')
        o++;
    }
  else
    o = node->original;
  sw_buf b = SW_BUF_INIT;
  sw_buf_puts (&b, o);
  const sw_df_node *child = node->next && node->next->n_children ? node->next->children[0] : NULL;
  const sw_df_node *hd = child && child->n_heredocs ? child : node;
  for (size_t i = 0; i < hd->n_heredocs; i++)
    sw_buf_printf (&b, "\n%s%s", hd->heredocs[i].content, hd->heredocs[i].name);
  in->value = sw_buf_steal (&b);
  return 0;
}

static int
parse_one_arg (const sw_dockerfile *df, const sw_df_node *node, sw_strv *args, const char *cmd,
               bool parse_flags, sw_df_instr *in, sw_error **err)
{
  if (args->n != 1)
    return fail (df, node, err, "%s requires exactly one argument", cmd);
  if (parse_flags && flags_parse (df, node, NULL, 0, err) < 0)
    return -1;
  in->value = sw_xstrdup (args->v[0]);
  return 0;
}

static int
str_cmp (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

int
sw_df_instr_parse (const sw_dockerfile *df, const sw_df_node *node, sw_df_instr **out,
                   sw_error **err)
{
  bool known;
  sw_df_kind kind = kind_of (node->value, &known);
  sw_strv args = { 0 };
  int rc = -1;

  *out = NULL;
  if (!known)
    {
      cleanup_free char *hint = sw_df_suggest_instruction (node->value);
      if (hint)
        return fail (df, node, err, "unknown instruction: %s (did you mean %s?)", node->value,
                     hint);
      return fail (df, node, err, "unknown instruction: %s", node->value);
    }
  sw_df_instr *in = sw_xzalloc (sizeof *in);
  in->kind = kind;
  in->node = node;
  in->original = sw_xstrdup (node->original ? node->original : "");
  node_args (node, &args);

  switch (kind)
    {
    case SW_DF_ENV:
    case SW_DF_LABEL:
      if (flags_parse (df, node, NULL, 0, err) < 0)
        goto out;
      rc = parse_kvps (df, node, &args, kind == SW_DF_ENV ? "ENV" : "LABEL", in, err);
      break;
    case SW_DF_MAINTAINER:
      rc = parse_one_arg (df, node, &args, "MAINTAINER", true, in, err);
      break;
    case SW_DF_ADD:
    case SW_DF_COPY:
      rc = parse_copy_add (df, node, &args, in, err);
      break;
    case SW_DF_FROM:
      rc = parse_from (df, node, &args, in, err);
      break;
    case SW_DF_ONBUILD:
      rc = parse_onbuild (df, node, &args, in, err);
      break;
    case SW_DF_WORKDIR:
      rc = parse_one_arg (df, node, &args, "WORKDIR", true, in, err);
      break;
    case SW_DF_RUN:
      rc = parse_run (df, node, &args, in, err);
      break;
    case SW_DF_CMD:
    case SW_DF_ENTRYPOINT:
      if (flags_parse (df, node, NULL, 0, err) < 0)
        goto out;
      join_args (&args, node->json, &in->cmdline, &in->n_cmdline);
      in->prepend_shell = !node->json;
      in->cmdline_null = kind == SW_DF_ENTRYPOINT && in->n_cmdline == 0;
      rc = 0;
      break;
    case SW_DF_HEALTHCHECK:
      rc = parse_healthcheck (df, node, &args, in, err);
      break;
    case SW_DF_EXPOSE:
      if (args.n == 0)
        {
          fail (df, node, err, "EXPOSE requires at least one argument");
          goto out;
        }
      if (flags_parse (df, node, NULL, 0, err) < 0)
        goto out;
      in->words = sw_strv_dup (args.v, args.n);
      in->n_words = args.n;
      qsort (in->words, in->n_words, sizeof *in->words, str_cmp);
      rc = 0;
      break;
    case SW_DF_USER:
      rc = parse_one_arg (df, node, &args, "USER", true, in, err);
      break;
    case SW_DF_VOLUME:
      if (args.n == 0)
        {
          fail (df, node, err, "VOLUME requires at least one argument");
          goto out;
        }
      if (flags_parse (df, node, NULL, 0, err) < 0)
        goto out;
      in->words = sw_xcalloc (args.n + 1, sizeof *in->words);
      for (size_t i = 0; i < args.n; i++)
        {
          char *v = sw_df_trim_space (args.v[i]);
          if (!*v)
            {
              free (v);
              fail (df, node, err, "VOLUME specified can not be an empty string");
              goto out;
            }
          in->words[in->n_words++] = v;
        }
      rc = 0;
      break;
    case SW_DF_STOPSIGNAL:
      rc = parse_one_arg (df, node, &args, "STOPSIGNAL", false, in, err);
      break;
    case SW_DF_ARG:
      if (args.n < 1)
        {
          fail (df, node, err, "ARG requires at least one argument");
          goto out;
        }
      in->kvs = sw_xcalloc (args.n + 1, sizeof *in->kvs);
      for (size_t i = 0; i < args.n; i++)
        {
          char *eq = strchr (args.v[i], '=');
          if (eq == args.v[i])
            {
              fail (df, node, err, "ARG names can not be blank");
              goto out;
            }
          sw_df_kv *kv = &in->kvs[in->n_kvs++];
          kv->key = eq ? sw_xstrndup (args.v[i], eq - args.v[i]) : sw_xstrdup (args.v[i]);
          kv->value = eq ? sw_xstrdup (eq + 1) : NULL;
        }
      rc = 0;
      break;
    case SW_DF_SHELL:
      if (flags_parse (df, node, NULL, 0, err) < 0)
        goto out;
      join_args (&args, node->json, &in->cmdline, &in->n_cmdline);
      if (in->n_cmdline == 0)
        fail (df, node, err, "SHELL requires at least one argument");
      else if (!node->json)
        fail (df, node, err, "SHELL requires the arguments to be in JSON form");
      else
        rc = 0;
      break;
    }
out:
  sw_strv_free (&args);
  if (rc < 0)
    {
      sw_df_instr_free (in);
      return -1;
    }
  *out = in;
  return 0;
}

void
sw_df_instr_free (sw_df_instr *in)
{
  if (!in)
    return;
  free (in->original);
  sw_strlist_free (in->cmdline);
  for (size_t i = 0; i < in->n_files; i++)
    free (in->files[i].name), free (in->files[i].data);
  free (in->files);
  for (size_t i = 0; i < in->n_mounts; i++)
    free (in->mounts[i].spec), free (in->mounts[i].from);
  free (in->mounts);
  free (in->network);
  free (in->security);
  sw_strlist_free (in->devices);
  sw_strlist_free (in->sources);
  for (size_t i = 0; i < in->n_inline_sources; i++)
    free (in->inline_sources[i].path), free (in->inline_sources[i].data);
  free (in->inline_sources);
  free (in->dest);
  free (in->from);
  free (in->chown);
  free (in->chmod);
  free (in->checksum);
  sw_strlist_free (in->excludes);
  for (size_t i = 0; i < in->n_kvs; i++)
    free (in->kvs[i].key), free (in->kvs[i].value);
  free (in->kvs);
  free (in->base);
  free (in->stage_name);
  free (in->platform);
  sw_strlist_free (in->words);
  free (in->value);
  if (in->health)
    sw_strlist_free (in->health->test);
  free (in->health);
  for (size_t i = 0; in->run_mounts && i < in->n_mounts; i++)
    sw_df_run_mount_clear (&in->run_mounts[i]);
  free (in->run_mounts);
  free (in);
}

/* ---- expansion at execution time -------------------------------------------------- */

static sw_df_instr *
instr_dup (const sw_df_instr *in)
{
  sw_df_instr *c = sw_xzalloc (sizeof *c);
  *c = *in;
  c->original = sw_xstrdup (in->original);
  c->cmdline = sw_strv_dup (in->cmdline, in->n_cmdline);
  c->files = NULL;
  if (in->files)
    {
      c->files = sw_xcalloc (in->n_files + 1, sizeof *c->files);
      for (size_t i = 0; i < in->n_files; i++)
        {
          c->files[i] = in->files[i];
          c->files[i].name = sw_xstrdup (in->files[i].name);
          c->files[i].data = sw_xstrdup (in->files[i].data);
        }
    }
  c->mounts = NULL;
  if (in->mounts)
    {
      c->mounts = sw_xcalloc (in->n_mounts + 1, sizeof *c->mounts);
      for (size_t i = 0; i < in->n_mounts; i++)
        {
          c->mounts[i].spec = sw_xstrdup (in->mounts[i].spec);
          c->mounts[i].from = xstrdup_or_null (in->mounts[i].from);
        }
    }
  c->network = xstrdup_or_null (in->network);
  c->security = xstrdup_or_null (in->security);
  c->devices = sw_strv_dup (in->devices, in->n_devices);
  c->sources = sw_strv_dup (in->sources, in->n_sources);
  c->inline_sources = NULL;
  if (in->inline_sources)
    {
      c->inline_sources = sw_xcalloc (in->n_inline_sources + 1, sizeof *c->inline_sources);
      for (size_t i = 0; i < in->n_inline_sources; i++)
        {
          c->inline_sources[i] = in->inline_sources[i];
          c->inline_sources[i].path = sw_xstrdup (in->inline_sources[i].path);
          c->inline_sources[i].data = sw_xstrdup (in->inline_sources[i].data);
        }
    }
  c->dest = xstrdup_or_null (in->dest);
  c->from = xstrdup_or_null (in->from);
  c->chown = xstrdup_or_null (in->chown);
  c->chmod = xstrdup_or_null (in->chmod);
  c->checksum = xstrdup_or_null (in->checksum);
  c->excludes = sw_strv_dup (in->excludes, in->n_excludes);
  c->kvs = NULL;
  if (in->kvs)
    {
      c->kvs = sw_xcalloc (in->n_kvs + 1, sizeof *c->kvs);
      for (size_t i = 0; i < in->n_kvs; i++)
        {
          c->kvs[i] = in->kvs[i];
          c->kvs[i].key = sw_xstrdup (in->kvs[i].key);
          c->kvs[i].value = xstrdup_or_null (in->kvs[i].value);
        }
    }
  c->base = xstrdup_or_null (in->base);
  c->stage_name = xstrdup_or_null (in->stage_name);
  c->platform = xstrdup_or_null (in->platform);
  c->words = sw_strv_dup (in->words, in->n_words);
  c->value = xstrdup_or_null (in->value);
  c->run_mounts = NULL;
  c->health = NULL;
  if (in->health)
    {
      c->health = sw_xzalloc (sizeof *c->health);
      *c->health = *in->health;
      c->health->test = sw_strv_dup (in->health->test, in->health->n_test);
    }
  return c;
}

typedef struct expander
{
  sw_expand_opts opts;
  sw_expand_lookup lookup;
  void *ud;
} expander;

static int
expand_in_place (const expander *x, char **word, sw_error **err)
{
  if (!*word)
    return 0;
  char *out = NULL;
  if (sw_expand_word (*word, &x->opts, x->lookup, x->ud, &out, err) < 0)
    return -1;
  free (*word);
  *word = out;
  return 0;
}

/* A --mount value with every key=value's value expanded (BuildKit's parseMount with an
 * expander), written back as CSV. */
static int
expand_mount (const expander *x, char **spec, sw_error **err)
{
  sw_strv f = { 0 };
  const char *why = NULL;
  sw_buf b = SW_BUF_INIT;
  int rc = -1;
  if (sw_csv_split (*spec, &f, &why) < 0)
    {
      sw_error_make (err, 0, "failed to parse csv mounts: %s", why);
      goto out;
    }
  for (size_t i = 0; i < f.n; i++)
    {
      char *eq = strchr (f.v[i], '=');
      cleanup_free char *field = NULL;
      if (eq)
        {
          cleanup_free char *value = sw_xstrdup (eq + 1);
          if (expand_in_place (x, &value, err) < 0)
            goto out;
          field = sw_xasprintf ("%.*s=%s", (int) (eq - f.v[i]), f.v[i], value);
        }
      else
        field = sw_xstrdup (f.v[i]);
      if (i)
        sw_buf_putc (&b, ',');
      if (strpbrk (field, ",\"\n\r") || (*field == ' '))
        {
          sw_buf_putc (&b, '"');
          for (const char *p = field; *p; p++)
            {
              if (*p == '"')
                sw_buf_putc (&b, '"');
              sw_buf_putc (&b, *p);
            }
          sw_buf_putc (&b, '"');
        }
      else
        sw_buf_puts (&b, field);
    }
  free (*spec);
  *spec = sw_buf_steal (&b);
  rc = 0;
out:
  sw_buf_free (&b);
  sw_strv_free (&f);
  return rc;
}

int
sw_df_instr_expand (const sw_dockerfile *df, const sw_df_instr *in, int escape,
                    sw_expand_lookup lookup, void *userdata, sw_df_instr **out,
                    sw_error **err)
{
  expander x = { .opts = { .escape = escape }, .lookup = lookup, .ud = userdata };
  sw_df_instr *c = instr_dup (in);
  int rc = -1;

  switch (in->kind)
    {
    case SW_DF_ENV:
    case SW_DF_LABEL:
      for (size_t i = 0; i < c->n_kvs; i++)
        if (expand_in_place (&x, &c->kvs[i].key, err) < 0
            || expand_in_place (&x, &c->kvs[i].value, err) < 0)
          goto out;
      break;
    case SW_DF_ADD:
    case SW_DF_COPY:
      if (expand_in_place (&x, &c->chown, err) < 0 || expand_in_place (&x, &c->chmod, err) < 0
          || expand_in_place (&x, &c->checksum, err) < 0)
        goto out;
      for (size_t i = 0; i < c->n_sources; i++)
        if (expand_in_place (&x, &c->sources[i], err) < 0)
          goto out;
      if (expand_in_place (&x, &c->dest, err) < 0)
        goto out;
      {
        /* heredoc bodies: BuildKit's ExpandRaw, a '\\' lexer that leaves quotes alone */
        expander raw = { .opts = { .escape = '\\', .skip_process_quotes = true },
                         .lookup = lookup, .ud = userdata };
        for (size_t i = 0; i < c->n_inline_sources; i++)
          if (c->inline_sources[i].expand
              && expand_in_place (&raw, &c->inline_sources[i].data, err) < 0)
            goto out;
      }
      break;
    case SW_DF_WORKDIR:
    case SW_DF_USER:
    case SW_DF_STOPSIGNAL:
      if (expand_in_place (&x, &c->value, err) < 0)
        goto out;
      break;
    case SW_DF_VOLUME:
      for (size_t i = 0; i < c->n_words; i++)
        if (expand_in_place (&x, &c->words[i], err) < 0)
          goto out;
      break;
    case SW_DF_EXPOSE:
      {
        sw_strv ports = { 0 };
        for (size_t i = 0; i < in->n_words; i++)
          {
            char **w = NULL;
            size_t n = 0;
            if (sw_expand_words (in->words[i], &x.opts, lookup, userdata, &w, &n, err) < 0)
              {
                sw_strv_free (&ports);
                goto out;
              }
            for (size_t k = 0; k < n; k++)
              sw_strv_push (&ports, w[k]);
            sw_expand_words_free (w);
          }
        sw_strlist_free (c->words);
        c->words = ports.v ? ports.v : sw_xcalloc (1, sizeof (char *));
        c->n_words = ports.n;
      }
      break;
    case SW_DF_RUN:
      for (size_t i = 0; i < c->n_mounts; i++)
        if (expand_mount (&x, &c->mounts[i].spec, err) < 0)
          goto out;
      c->run_mounts = sw_xcalloc (c->n_mounts + 1, sizeof *c->run_mounts);
      for (size_t i = 0; i < c->n_mounts; i++)
        if (sw_df_run_mount_parse (c->mounts[i].spec, &c->run_mounts[i], err) < 0)
          goto out;
      break;
    default:
      break;
    }
  rc = 0;
out:
  if (rc < 0)
    {
      sw_df_instr_free (c);
      return relocate (df, in->node, err);
    }
  *out = c;
  return 0;
}
