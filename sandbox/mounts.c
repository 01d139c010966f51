/* sandbox/mounts.c — parsing --secret and --ssh values (see mounts.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/csv.h"
#include "common/xalloc.h"
#include "sandbox/mounts.h"

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
  cleanup_strvec sw_strv fields = SW_STRV_INIT;
  const char *type = NULL, *why = NULL;
  cleanup_free char *typebuf = NULL;

  memset (out, 0, sizeof *out);
  /* buildx reads --secret as a CSV record: "id=x,src=a,b" needs quotes, as there */
  if (sw_csv_split (spec, &fields, &why) < 0)
    return sw_error_make (err, EINVAL, "--secret %s: %s", spec, why);
  for (size_t i = 0; i < fields.n; i++)
    {
      char *tok = fields.v[i];
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
