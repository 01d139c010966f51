/* sandbox/mounts.c — parsing RUN --mount, --secret and --ssh values (see mounts.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "sandbox/mounts.h"

static int
parse_bool (const char *key, const char *v, bool *out, sw_error **err)
{
  if (!v || strcmp (v, "true") == 0 || strcmp (v, "1") == 0)
    *out = true;
  else if (strcmp (v, "false") == 0 || strcmp (v, "0") == 0)
    *out = false;
  else
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s: want true or false", v, key);
  return 0;
}

static int
parse_uint (const char *key, const char *v, int base, unsigned long max, unsigned long *out,
            sw_error **err)
{
  char *end;
  if (!v || !*v)
    return sw_error_make (err, EINVAL, "%s needs a value", key);
  errno = 0;
  unsigned long x = strtoul (v, &end, base);
  if (errno || *end || x > max || v[0] == '-')
    return sw_error_make (err, EINVAL, "invalid value \"%s\" for %s", v, key);
  *out = x;
  return 0;
}

void
sw_mount_clear (sw_mount *m)
{
  free (m->target);
  free (m->source);
  free (m->from);
  free (m->id);
  memset (m, 0, sizeof *m);
}

int
sw_mount_parse (const char *spec, unsigned n, sw_mount *out, sw_error **err)
{
  cleanup_free char *copy = sw_xstrdup (spec);
  char *save = NULL, *tok;
  bool ro_set = false, mode_set = false;
  int r = 0;

  memset (out, 0, sizeof *out);
  out->type = SW_MOUNT_BIND; /* BuildKit's default type */
  /* type first: the defaults depend on it */
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    if (strncmp (tok, "type=", 5) == 0)
      {
        const char *t = tok + 5;
        if (strcmp (t, "bind") == 0)
          out->type = SW_MOUNT_BIND;
        else if (strcmp (t, "cache") == 0)
          out->type = SW_MOUNT_CACHE;
        else if (strcmp (t, "tmpfs") == 0)
          out->type = SW_MOUNT_TMPFS;
        else if (strcmp (t, "secret") == 0)
          out->type = SW_MOUNT_SECRET;
        else if (strcmp (t, "ssh") == 0)
          out->type = SW_MOUNT_SSH;
        else
          return sw_error_make (err, EINVAL, "--mount %s: unsupported mount type \"%s\"", spec, t);
      }
  out->readonly = out->type == SW_MOUNT_BIND;
  out->mode = out->type == SW_MOUNT_SECRET ? 0400 : out->type == SW_MOUNT_SSH ? 0600 : 0755;

  free (copy);
  copy = sw_xstrdup (spec);
  save = NULL;
  for (tok = strtok_r (copy, ",", &save); tok && r == 0; tok = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (tok, '=');
      const char *v = eq ? eq + 1 : NULL;
      unsigned long x;
      if (eq)
        *eq = 0;
      if (strcmp (tok, "type") == 0)
        continue;
      if (strcmp (tok, "target") == 0 || strcmp (tok, "dst") == 0 || strcmp (tok, "destination") == 0)
        {
          if (!v || !*v)
            r = sw_error_make (err, EINVAL, "--mount %s: empty target", spec);
          else
            free (out->target), out->target = sw_xstrdup (v);
        }
      else if ((strcmp (tok, "source") == 0 || strcmp (tok, "src") == 0) && v)
        free (out->source), out->source = sw_xstrdup (v);
      else if (strcmp (tok, "from") == 0 && v)
        free (out->from), out->from = sw_xstrdup (v);
      else if (strcmp (tok, "id") == 0 && v)
        free (out->id), out->id = sw_xstrdup (v);
      else if (strcmp (tok, "ro") == 0 || strcmp (tok, "readonly") == 0)
        r = parse_bool (tok, v, &out->readonly, err), ro_set = true;
      else if (strcmp (tok, "rw") == 0 || strcmp (tok, "readwrite") == 0)
        {
          bool rw = false;
          r = parse_bool (tok, v, &rw, err);
          out->readonly = !rw;
          ro_set = true;
        }
      else if (strcmp (tok, "required") == 0)
        r = parse_bool (tok, v, &out->required, err);
      else if (strcmp (tok, "sharing") == 0 && v)
        {
          if (strcmp (v, "shared") == 0)
            out->sharing = SW_CACHE_SHARED;
          else if (strcmp (v, "private") == 0)
            out->sharing = SW_CACHE_PRIVATE;
          else if (strcmp (v, "locked") == 0)
            out->sharing = SW_CACHE_LOCKED;
          else
            r = sw_error_make (err, EINVAL, "--mount %s: invalid sharing \"%s\" (shared, private or locked)",
                               spec, v);
        }
      else if (strcmp (tok, "uid") == 0)
        {
          if ((r = parse_uint (tok, v, 10, 2147483647UL, &x, err)) == 0)
            out->uid = (uid_t) x;
        }
      else if (strcmp (tok, "gid") == 0)
        {
          if ((r = parse_uint (tok, v, 10, 2147483647UL, &x, err)) == 0)
            out->gid = (gid_t) x;
        }
      else if (strcmp (tok, "mode") == 0)
        {
          if ((r = parse_uint (tok, v, 8, 07777, &x, err)) == 0)
            out->mode = (mode_t) x, mode_set = true;
        }
      else if (strcmp (tok, "size") == 0 && out->type == SW_MOUNT_TMPFS)
        {
          if (!v || sw_parse_size (v, &out->size) < 0)
            r = sw_error_make (err, EINVAL, "--mount %s: invalid size \"%s\"", spec, v ? v : "");
        }
      else
        r = sw_error_make (err, EINVAL, "--mount %s: unexpected key '%s'", spec, tok);
      if (r < 0)
        {
          sw_mount_clear (out);
          return sw_error_wrap (err, "--mount %s", spec);
        }
    }
  (void) ro_set;
  (void) mode_set;

  switch (out->type)
    {
    case SW_MOUNT_BIND:
    case SW_MOUNT_CACHE:
    case SW_MOUNT_TMPFS:
      if (!out->target)
        r = sw_error_make (err, EINVAL, "--mount %s: target is required", spec);
      if (out->type == SW_MOUNT_CACHE && r == 0)
        {
          if (out->from || out->source)
            r = sw_error_make (err, ENOTSUP, "--mount %s: not supported yet: from/source for a cache mount", spec);
          else if (!out->id)
            out->id = sw_xstrdup (out->target);
        }
      if (out->type == SW_MOUNT_BIND && !out->source && r == 0)
        out->source = sw_xstrdup (".");
      break;
    case SW_MOUNT_SECRET:
      if (!out->id && out->target)
        {
          const char *b = strrchr (out->target, '/');
          out->id = sw_xstrdup (b ? b + 1 : out->target);
        }
      if (!out->id || !*out->id)
        r = sw_error_make (err, EINVAL, "--mount %s: a secret mount needs id= or target=", spec);
      else if (!out->target)
        out->target = sw_xasprintf ("/run/secrets/%s", out->id);
      break;
    case SW_MOUNT_SSH:
      if (!out->id)
        out->id = sw_xstrdup ("default");
      if (!out->target)
        out->target = sw_xasprintf ("/run/buildkit/ssh_agent.%u", n);
      break;
    }
  if (r == 0 && out->target[0] != '/')
    {
      /* BuildKit resolves a relative target against the workdir; the engine makes it
       * absolute before it gets here */
      r = sw_error_make (err, EINVAL, "--mount %s: target \"%s\" must be an absolute path", spec,
                         out->target);
    }
  if (r < 0)
    sw_mount_clear (out);
  return r;
}

void
sw_secret_src_clear (sw_secret_src *s)
{
  free (s->id);
  free (s->path);
  free (s->env);
  memset (s, 0, sizeof *s);
}

int
sw_secret_src_parse (const char *spec, sw_secret_src *out, sw_error **err)
{
  cleanup_free char *copy = sw_xstrdup (spec);
  char *save = NULL, *tok;
  const char *type = NULL;
  cleanup_free char *typebuf = NULL;

  memset (out, 0, sizeof *out);
  for (tok = strtok_r (copy, ",", &save); tok; tok = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (tok, '=');
      if (!eq)
        {
          sw_secret_src_clear (out);
          return sw_error_make (err, EINVAL, "--secret %s: expected key=value, got \"%s\"", spec, tok);
        }
      *eq = 0;
      const char *v = eq + 1;
      if (strcmp (tok, "id") == 0)
        free (out->id), out->id = sw_xstrdup (v);
      else if (strcmp (tok, "src") == 0 || strcmp (tok, "source") == 0)
        free (out->path), out->path = sw_xstrdup (v);
      else if (strcmp (tok, "env") == 0)
        free (out->env), out->env = sw_xstrdup (v);
      else if (strcmp (tok, "type") == 0)
        {
          if (strcmp (v, "file") != 0 && strcmp (v, "env") != 0)
            {
              sw_secret_src_clear (out);
              return sw_error_make (err, EINVAL, "--secret %s: type must be file or env", spec);
            }
          free (typebuf);
          type = typebuf = sw_xstrdup (v);
        }
      else
        {
          sw_secret_src_clear (out);
          return sw_error_make (err, EINVAL, "--secret %s: unexpected key '%s'", spec, tok);
        }
    }
  if (!out->id || !*out->id)
    {
      sw_secret_src_clear (out);
      return sw_error_make (err, EINVAL, "--secret %s: id= is required", spec);
    }
  if (type && strcmp (type, "env") == 0 && out->path && !out->env)
    out->env = steal_pointer (&out->path); /* type=env,src=VAR */
  if (!out->path && !out->env)
    {
      if (type && strcmp (type, "file") == 0)
        {
          sw_secret_src_clear (out);
          return sw_error_make (err, EINVAL, "--secret %s: src= is required for type=file", spec);
        }
      out->env = sw_xstrdup (out->id); /* buildx: --secret id=TOKEN reads $TOKEN */
    }
  return 0;
}

void
sw_ssh_src_clear (sw_ssh_src *s)
{
  free (s->id);
  free (s->socket);
  memset (s, 0, sizeof *s);
}

int
sw_ssh_src_parse (const char *spec, sw_ssh_src *out, sw_error **err)
{
  const char *eq = strchr (spec, '=');
  memset (out, 0, sizeof *out);
  out->id = eq ? sw_xstrndup (spec, (size_t) (eq - spec)) : sw_xstrdup (*spec ? spec : "default");
  if (eq)
    {
      if (strchr (eq + 1, ','))
        {
          sw_ssh_src_clear (out);
          return sw_error_make (err, ENOTSUP, "--ssh %s: not supported yet: several sockets or keys for one id", spec);
        }
      out->socket = sw_xstrdup (eq + 1);
    }
  else
    {
      const char *s = getenv ("SSH_AUTH_SOCK");
      if (!s || !*s)
        {
          sw_ssh_src_clear (out);
          return sw_error_make (err, ENOENT, "--ssh %s: SSH_AUTH_SOCK is not set; give a socket as ID=PATH", spec);
        }
      out->socket = sw_xstrdup (s);
    }
  return 0;
}
