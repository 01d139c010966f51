/* exec/commit.c — see commit.h. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <time.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/location.h"
#include "exec/commit.h"
#include "common/gofmt.h"

char *
sw_commit_now (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t n = strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  /* Go's RFC3339Nano drops trailing zeros of the fraction (and the dot with them) */
  char frac[16];
  snprintf (frac, sizeof frac, ".%09ld", ts.tv_nsec);
  for (size_t i = strlen (frac) - 1; i > 0 && frac[i] == '0'; i--)
    frac[i] = '\0';
  snprintf (buf + n, sizeof buf - n, "%sZ", strcmp (frac, ".") ? frac : "");
  return sw_xstrdup (buf);
}

void
sw_commit_history (sw_commit_state *st, const char *created_by, bool with_layer)
{
  sw_image_config *c = st->config;

  c->history = sw_xreallocarray (c->history, c->n_history + 1, sizeof *c->history);
  sw_history *h = &c->history[c->n_history++];
  memset (h, 0, sizeof *h);
  /* a metadata entry's time is given at export (""): the time of the next layer step, so
   * an unchanged rebuild, whose layers keep their cached times, dates it the same */
  h->created = st->epoch ? sw_xstrdup (st->epoch) : with_layer ? sw_commit_now () : sw_xstrdup ("");
  h->created_by = sw_xstrdup (created_by);
  h->comment = sw_xstrdup (SW_HISTORY_COMMENT);
  h->empty_layer = !with_layer;
}

static size_t
key_len (const char *kv)
{
  const char *eq = strchr (kv, '=');
  return eq ? (size_t) (eq - kv) : strlen (kv);
}

void
sw_env_set (char ***env, const char *key, const char *value)
{
  size_t klen = strlen (key);
  char *entry = sw_xasprintf ("%s=%s", key, value);

  for (size_t i = 0; *env && (*env)[i]; i++)
    if (key_len ((*env)[i]) == klen && strncmp ((*env)[i], key, klen) == 0)
      {
        free ((*env)[i]);
        (*env)[i] = entry;
        return;
      }
  sw_strlist_push (env, entry);
  free (entry);
}

const char *
sw_env_get (char *const *env, const char *key)
{
  size_t klen = strlen (key);
  for (size_t i = 0; env && env[i]; i++)
    if (key_len (env[i]) == klen && strncmp (env[i], key, klen) == 0)
      return env[i][klen] == '=' ? env[i] + klen + 1 : "";
  return NULL;
}

char **
sw_commit_with_shell (const sw_image_config *c, const char *line)
{
  char **out = NULL;
  if (c->shell && c->shell[0])
    out = sw_strlist_dup (c->shell);
  else
    {
      sw_strlist_push (&out, "/bin/sh");
      sw_strlist_push (&out, "-c");
    }
  sw_strlist_push (&out, line);
  return out;
}

char *
sw_commit_run_string (char *const *args, char *const *build_args)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  size_t n = sw_strlist_len (build_args);

  if (n)
    {
      sw_buf_printf (&b, "|%zu", n);
      for (size_t i = 0; i < n; i++)
        sw_buf_printf (&b, " %s", build_args[i]);
    }
  for (size_t i = 0; args && args[i]; i++)
    {
      if (b.len)
        sw_buf_putc (&b, ' ');
      sw_buf_puts (&b, args[i]);
    }
  return sw_buf_steal (&b);
}

/* The command list an instruction stores: exec form as is; shell form through SHELL. */
static char **
command_of (const sw_image_config *c, const sw_df_instr *in)
{
  if (in->cmdline_null)
    return NULL;
  if (in->prepend_shell)
    {
      cleanup_buf sw_buf line = SW_BUF_INIT;
      for (size_t i = 0; i < in->n_cmdline; i++)
        {
          if (i)
            sw_buf_putc (&line, ' ');
          sw_buf_puts (&line, in->cmdline[i]);
        }
      return sw_commit_with_shell (c, sw_buf_str (&line));
    }
  char **out = sw_xcalloc (in->n_cmdline + 1, sizeof *out);
  for (size_t i = 0; i < in->n_cmdline; i++)
    out[i] = sw_xstrdup (in->cmdline[i]);
  return out;
}

static void
labels_set (sw_image_config *c, const char *key, const char *value)
{
  sw_kv_set (&c->labels, &c->n_labels, key, value);
}

static bool
set_has (char *const *set, const char *s)
{
  for (size_t i = 0; set && set[i]; i++)
    if (strcmp (set[i], s) == 0)
      return true;
  return false;
}

static int
parse_port_number (const char *s, size_t n, long *out)
{
  char buf[16];
  char *end;
  if (n == 0 || n >= sizeof buf)
    return -1;
  memcpy (buf, s, n);
  buf[n] = '\0';
  errno = 0;
  long v = strtol (buf, &end, 10);
  if (errno || *end || v < 0 || v > 65535)
    return -1;
  *out = v;
  return 0;
}

/* "[ip:][hostport:]port[-end][/proto]" → every "port/proto" (BuildKit's parsePort, with
 * the host parts accepted and ignored as BuildKit does). */
static int
expand_port (const char *raw, char ***out, sw_error **err)
{
  const char *spec = strrchr (raw, ':');
  spec = spec ? spec + 1 : raw;
  const char *slash = strchr (spec, '/');
  size_t portlen = slash ? (size_t) (slash - spec) : strlen (spec);
  cleanup_free char *proto = sw_xstrdup (slash && slash[1] ? slash + 1 : "tcp");
  const char *dash = memchr (spec, '-', portlen);
  long start, end;

  for (char *p = proto; *p; p++)
    *p = (char) tolower ((unsigned char) *p);
  if (strcmp (proto, "tcp") && strcmp (proto, "udp") && strcmp (proto, "sctp"))
    return sw_error_make (err, EINVAL, "invalid port: \"%s\": invalid proto: %s", raw, proto);
  if (parse_port_number (spec, dash ? (size_t) (dash - spec) : portlen, &start) < 0)
    return sw_error_make (err, EINVAL, "invalid containerPort: %.*s", (int) portlen, spec);
  end = start;
  if (dash && parse_port_number (dash + 1, portlen - (size_t) (dash + 1 - spec), &end) < 0)
    return sw_error_make (err, EINVAL, "invalid containerPort: %.*s", (int) portlen, spec);
  if (end < start)
    return sw_error_make (err, EINVAL, "invalid port range: %.*s", (int) portlen, spec);
  for (long p = start; p <= end; p++)
    {
      cleanup_free char *s = sw_xasprintf ("%ld/%s", p, proto);
      sw_strlist_push (out, s);
    }
  return 0;
}

static bool
signal_valid (const char *s)
{
  /* moby's signal.ParseSignal: a number, or a name with or without SIG. */
  char *end;
  long n = strtol (s, &end, 10);
  if (*s && *end == '\0')
    return n > 0 && n < NSIG;
  const char *name = strncasecmp (s, "SIG", 3) == 0 ? s + 3 : s;
  for (int i = 1; i < NSIG; i++)
    {
      const char *abbrev = sigabbrev_np (i);
      if (abbrev && strcasecmp (abbrev, name) == 0)
        return true;
    }
  return strncasecmp (name, "RTMIN", 5) == 0 || strncasecmp (name, "RTMAX", 5) == 0;
}

static void
healthcheck_apply (sw_commit_state *st, const sw_df_healthcheck *h)
{
  cleanup_buf sw_buf json = SW_BUF_INIT;
  cleanup_buf sw_buf hist = SW_BUF_INIT;
  const struct
  {
    const char *name;
    int64_t ns;
  } durations[] = { { "Interval", h->interval_ns },
                    { "Timeout", h->timeout_ns },
                    { "StartPeriod", h->start_period_ns },
                    { "StartInterval", h->start_interval_ns } };

  /* Docker's HealthConfig: every field omitempty. */
  sw_buf_puts (&json, "{\"Test\":[");
  for (size_t i = 0; i < h->n_test; i++)
    {
      if (i)
        sw_buf_putc (&json, ',');
      sw_go_quote (&json, h->test[i]); /* JSON-compatible for what Dockerfiles hold */
    }
  sw_buf_putc (&json, ']');
  for (size_t i = 0; i < 4; i++)
    if (durations[i].ns)
      sw_buf_printf (&json, ",\"%s\":%lld", durations[i].name, (long long) durations[i].ns);
  if (h->retries)
    sw_buf_printf (&json, ",\"Retries\":%d", h->retries);
  sw_buf_putc (&json, '}');
  free (st->config->healthcheck_json);
  st->config->healthcheck_json = sw_buf_steal (&json);

  /* fmt %+v of the struct: {Test:[CMD-SHELL curl x] Interval:30s … Retries:0} */
  sw_buf_puts (&hist, "HEALTHCHECK {Test:");
  sw_go_list (&hist, h->test);
  for (size_t i = 0; i < 4; i++)
    {
      sw_buf_printf (&hist, " %s:", durations[i].name);
      sw_go_duration (&hist, durations[i].ns);
    }
  sw_buf_printf (&hist, " Retries:%d}", h->retries);
  sw_commit_history (st, sw_buf_str (&hist), false);
}

int
sw_commit_metadata (sw_commit_state *st, const sw_dockerfile *df, const sw_df_instr *in,
                    sw_error **err)
{
  sw_image_config *c = st->config;
  cleanup_buf sw_buf msg = SW_BUF_INIT;

  switch (in->kind)
    {
    case SW_DF_ENV:
    case SW_DF_LABEL:
      sw_buf_puts (&msg, in->kind == SW_DF_ENV ? "ENV" : "LABEL");
      for (size_t i = 0; i < in->n_kvs; i++)
        {
          const sw_df_kv *kv = &in->kvs[i];
          if (in->kind == SW_DF_ENV)
            sw_env_set (&c->env, kv->key, kv->value ? kv->value : "");
          else
            labels_set (c, kv->key, kv->value ? kv->value : "");
          sw_buf_printf (&msg, " %s=%s", kv->key, kv->value ? kv->value : "");
        }
      break;

    case SW_DF_CMD:
    case SW_DF_ENTRYPOINT:
      {
        char **args = command_of (c, in);
        bool is_cmd = in->kind == SW_DF_CMD;
        sw_buf_puts (&msg, is_cmd ? "CMD " : "ENTRYPOINT ");
        sw_go_quote_list (&msg, args);
        if (is_cmd)
          {
            sw_strlist_free (c->cmd);
            c->cmd = args;
            c->args_escaped = true;
            st->cmd_set = true;
          }
        else
          {
            sw_strlist_free (c->entrypoint);
            c->entrypoint = args;
            if (!st->cmd_set)
              {
                /* An ENTRYPOINT resets an inherited CMD, as docker documents. */
                sw_strlist_free (c->cmd);
                c->cmd = NULL;
              }
          }
        break;
      }

    case SW_DF_USER:
      free (c->user);
      c->user = sw_xstrdup (in->value);
      sw_buf_printf (&msg, "USER %s", in->value);
      break;

    case SW_DF_VOLUME:
      for (size_t i = 0; i < in->n_words; i++)
        {
          if (in->words[i][0] == '\0')
            return sw_df_error_node (err, df, in->node, "VOLUME specified can not be an empty string");
          if (!set_has (c->volumes, in->words[i]))
            sw_strlist_push (&c->volumes, in->words[i]);
        }
      sw_buf_puts (&msg, "VOLUME ");
      sw_go_list (&msg, in->words);
      break;

    case SW_DF_STOPSIGNAL:
      if (!signal_valid (in->value))
        return sw_df_error_node (err, df, in->node, "invalid signal: %s", in->value);
      free (c->stop_signal);
      c->stop_signal = sw_xstrdup (in->value);
      sw_buf_printf (&msg, "STOPSIGNAL %s", in->value);
      break;

    case SW_DF_SHELL:
      sw_strlist_free (c->shell);
      c->shell = sw_xcalloc (in->n_cmdline + 1, sizeof *c->shell);
      for (size_t i = 0; i < in->n_cmdline; i++)
        c->shell[i] = sw_xstrdup (in->cmdline[i]);
      sw_buf_puts (&msg, "SHELL ");
      sw_go_list (&msg, c->shell);
      break;

    case SW_DF_EXPOSE:
      {
        cleanup_strv char **ports = NULL;
        for (size_t i = 0; i < in->n_words; i++)
          if (expand_port (in->words[i], &ports, err) < 0)
            {
              int line, col;
              sw_df_locate (df, in->node, in->words[i], &line, &col);
              cleanup_error sw_error *inner = NULL;
              sw_error_move (&inner, err);
              return sw_df_error_at (err, df, line, col, "%s", sw_error_message (inner));
            }
        for (size_t i = 0; ports && ports[i]; i++)
          if (!set_has (c->exposed_ports, ports[i]))
            sw_strlist_push (&c->exposed_ports, ports[i]);
        sw_buf_puts (&msg, "EXPOSE ");
        sw_go_list (&msg, ports);
        break;
      }

    case SW_DF_MAINTAINER:
      free (c->author);
      c->author = sw_xstrdup (in->value);
      sw_buf_printf (&msg, "MAINTAINER %s", in->value);
      break;

    case SW_DF_HEALTHCHECK:
      healthcheck_apply (st, in->health);
      return 0;

    case SW_DF_ONBUILD:
      sw_strlist_push (&c->on_build, in->value);
      return 0;

    default:
      return sw_df_error_node (err, df, in->node, "internal error: %s is not a metadata instruction",
                               sw_df_kind_name (in->kind));
    }
  sw_commit_history (st, sw_buf_str (&msg), false);
  return 0;
}
