/* registry/auth.c — see auth.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/io.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/auth.h"

char *
sw_docker_config_dir (void)
{
  const char *d = getenv ("DOCKER_CONFIG");
  if (d && *d)
    return sw_xstrdup (d);
  const char *home = getenv ("HOME");
  return sw_xasprintf ("%s/.docker", home && *home ? home : "/root");
}

const char *
sw_auth_config_key (const char *host)
{
  if (strcmp (host, "docker.io") == 0 || strcmp (host, "index.docker.io") == 0
      || strcmp (host, "registry-1.docker.io") == 0)
    return "https://index.docker.io/v1/";
  return host;
}

void
sw_creds_free (sw_creds *c)
{
  if (c == NULL)
    return;
  if (c->password)
    explicit_bzero (c->password, strlen (c->password));
  if (c->identity_token)
    explicit_bzero (c->identity_token, strlen (c->identity_token));
  free (c->username);
  free (c->password);
  free (c->identity_token);
  free (c);
}

char *
sw_base64_encode (const void *p, size_t n)
{
  char *out = sw_xmalloc (4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock ((unsigned char *) out, p, (int) n);
  return out;
}

char *
sw_base64_decode (const char *s, size_t *len)
{
  size_t n = strlen (s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    n--;
  if (n % 4 != 0)
    return NULL;
  unsigned char *out = sw_xmalloc (n / 4 * 3 + 1);
  int r = EVP_DecodeBlock (out, (const unsigned char *) s, (int) n);
  if (r < 0)
    {
      free (out);
      return NULL;
    }
  size_t l = (size_t) r;
  if (n >= 1 && s[n - 1] == '=')
    l--;
  if (n >= 2 && s[n - 2] == '=')
    l--;
  out[l] = '\0';
  if (len)
    *len = l;
  return (char *) out;
}

static json_t *
load_config (sw_error **err)
{
  cleanup_free char *dir = sw_docker_config_dir ();
  cleanup_free char *path = sw_xasprintf ("%s/config.json", dir);
  json_error_t je;
  if (access (path, F_OK) < 0)
    return json_object ();
  json_t *doc = json_load_file (path, 0, &je);
  if (doc == NULL || !json_is_object (doc))
    {
      json_decref (doc);
      sw_error_make (err, EINVAL, "%s: invalid JSON at line %d: %s; fix or remove the file", path, je.line, je.text);
      return NULL;
    }
  return doc;
}

/* Give the helper host on its stdin: a socket, not a pipe, so that a helper that exits
 * without reading gives EPIPE from send (MSG_NOSIGNAL) instead of a SIGPIPE, without
 * touching the process's signal dispositions. */
static void
send_host (int fd, const char *host)
{
  size_t len = strlen (host), off = 0;
  while (off < len)
    {
      ssize_t n = send (fd, host + off, len - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; /* the helper went away: its exit status tells what happened */
      off += (size_t) n;
    }
}

/* Run docker-credential-NAME get with host on stdin. */
static int
helper_get (const char *helper, const char *host, sw_creds **out, sw_error **err)
{
  cleanup_free char *prog = sw_xasprintf ("docker-credential-%s", helper);
  int in[2], outp[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
    return sw_error_errno (err, "socketpair");
  if (pipe2 (outp, O_CLOEXEC) < 0)
    {
      close (in[0]);
      close (in[1]);
      return sw_error_errno (err, "pipe");
    }
  pid_t pid = fork ();
  if (pid < 0)
    {
      int saved = errno;
      close (in[0]);
      close (in[1]);
      close (outp[0]);
      close (outp[1]);
      errno = saved;
      return sw_error_errno (err, "fork");
    }
  if (pid == 0)
    {
      dup2 (in[1], 0);
      dup2 (outp[1], 1);
      int devnull = open ("/dev/null", O_WRONLY);
      if (devnull >= 0)
        dup2 (devnull, 2);
      execlp (prog, prog, "get", (char *) NULL);
      _exit (127);
    }
  close (in[1]);
  close (outp[1]);
  send_host (in[0], host);
  close (in[0]);
  sw_buf b = SW_BUF_INIT;
  char tmp[4096];
  ssize_t n;
  while (((n = read (outp[0], tmp, sizeof tmp)) > 0 || (n < 0 && errno == EINTR)) && b.len < (1 << 20))
    if (n > 0)
      sw_buf_append (&b, tmp, (size_t) n);
  close (outp[0]);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  int ret = 0;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 127)
    ret = sw_error_make (err, ENOENT, "credential helper %s not found in PATH (named by config.json for %s)", prog, host);
  else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      /* "credentials not found" is a normal answer: anonymous access */
      if (b.data && strstr (b.data, "credentials not found"))
        ret = 0;
      else
        ret = sw_error_make (err, EIO, "credential helper %s failed for %s", prog, host);
    }
  else
    {
      json_t *doc = json_loadb (b.data ? b.data : "", b.len, 0, NULL);
      const char *u = json_string_value (json_object_get (doc, "Username"));
      const char *s = json_string_value (json_object_get (doc, "Secret"));
      if (doc == NULL || s == NULL)
        ret = sw_error_make (err, EINVAL, "credential helper %s gave no Secret for %s", prog, host);
      else
        {
          sw_creds *c = sw_xzalloc (sizeof *c);
          if (u && strcmp (u, "<token>") == 0)
            c->identity_token = sw_xstrdup (s);
          else
            {
              c->username = sw_xstrdup (u ? u : "");
              c->password = sw_xstrdup (s);
            }
          *out = c;
        }
      json_decref (doc);
    }
  if (b.data)
    explicit_bzero (b.data, b.len);
  sw_buf_free (&b);
  return ret;
}

static json_t *
auths_entry (json_t *auths, const char *host)
{
  const char *key = sw_auth_config_key (host);
  json_t *e = json_object_get (auths, key);
  if (e == NULL)
    e = json_object_get (auths, host);
  if (e == NULL)
    {
      /* entries written as URLs: "https://host" or "http://host/v2/" */
      const char *k;
      json_t *v;
      json_object_foreach (auths, k, v)
        {
          const char *h = k;
          if (strncmp (h, "https://", 8) == 0)
            h += 8;
          else if (strncmp (h, "http://", 7) == 0)
            h += 7;
          size_t n = strcspn (h, "/");
          if (n == strlen (host) && strncmp (h, host, n) == 0)
            return v;
        }
    }
  return e;
}

int
sw_creds_lookup (const char *host, sw_creds **out, sw_error **err)
{
  *out = NULL;
  json_t *cfg = load_config (err);
  if (cfg == NULL)
    return -1;
  int ret = 0;
  const char *key = sw_auth_config_key (host);
  const char *helper = json_string_value (json_object_get (json_object_get (cfg, "credHelpers"), host));
  if (helper == NULL)
    helper = json_string_value (json_object_get (json_object_get (cfg, "credHelpers"), key));
  if (helper == NULL)
    helper = json_string_value (json_object_get (cfg, "credsStore"));
  if (helper && *helper)
    {
      ret = helper_get (helper, key, out, err);
      goto done;
    }
  json_t *e = auths_entry (json_object_get (cfg, "auths"), host);
  if (json_is_object (e))
    {
      sw_creds *c = sw_xzalloc (sizeof *c);
      const char *auth = json_string_value (json_object_get (e, "auth"));
      const char *it = json_string_value (json_object_get (e, "identitytoken"));
      if (auth && *auth)
        {
          size_t len;
          char *dec = sw_base64_decode (auth, &len);
          char *colon = dec ? memchr (dec, ':', len) : NULL;
          if (colon == NULL)
            {
              free (dec);
              sw_creds_free (c);
              ret = sw_error_make (err, EINVAL, "config.json: the \"auth\" of %s is not base64 of user:password; "
                                                "run slipway login %s again", key, host);
              goto done;
            }
          *colon = '\0';
          c->username = sw_xstrdup (dec);
          c->password = sw_xstrdup (colon + 1);
          explicit_bzero (dec, len);
          free (dec);
        }
      else
        {
          const char *u = json_string_value (json_object_get (e, "username"));
          const char *p = json_string_value (json_object_get (e, "password"));
          if (u && p)
            {
              c->username = sw_xstrdup (u);
              c->password = sw_xstrdup (p);
            }
        }
      if (it && *it)
        c->identity_token = sw_xstrdup (it);
      if (c->password || c->identity_token)
        *out = c;
      else
        sw_creds_free (c);
    }
done:
  json_decref (cfg);
  return ret;
}

static int
save_config (json_t *cfg, sw_error **err)
{
  cleanup_free char *dir = sw_docker_config_dir ();
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return sw_error_errno (err, "creating %s", dir);
  cleanup_free char *path = sw_xasprintf ("%s/config.json", dir);
  cleanup_free char *tmp = sw_xasprintf ("%s/config.json.tmp.%d", dir, (int) getpid ());
  char *text = json_dumps (cfg, JSON_INDENT (1) | JSON_PRESERVE_ORDER);
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      free (text);
      return sw_error_errno (err, "writing %s", tmp);
    }
  size_t n = strlen (text);
  bool ok = sw_write_all (fd, text, n) == 0 && sw_write_all (fd, "\n", 1) == 0 && fsync (fd) == 0;
  explicit_bzero (text, n);
  free (text);
  close (fd);
  if (!ok || rename (tmp, path) < 0)
    {
      unlink (tmp);
      return sw_error_errno (err, "writing %s", path);
    }
  return 0;
}

int
sw_auth_store (const char *host, const char *username, const char *password, const char *identity_token,
               sw_error **err)
{
  json_t *cfg = load_config (err);
  if (cfg == NULL)
    return -1;
  const char *key = sw_auth_config_key (host);
  json_t *auths = json_object_get (cfg, "auths");
  if (!json_is_object (auths))
    {
      auths = json_object ();
      json_object_set_new (cfg, "auths", auths);
    }
  json_t *e = json_object ();
  if (identity_token && *identity_token)
    {
      cleanup_free char *up = sw_xasprintf ("%s:", username ? username : "");
      cleanup_free char *b64 = sw_base64_encode (up, strlen (up));
      json_object_set_new (e, "auth", json_string (b64));
      json_object_set_new (e, "identitytoken", json_string (identity_token));
    }
  else
    {
      cleanup_free char *up = sw_xasprintf ("%s:%s", username, password);
      char *b64 = sw_base64_encode (up, strlen (up));
      json_object_set_new (e, "auth", json_string (b64));
      explicit_bzero (up, strlen (up));
      explicit_bzero (b64, strlen (b64));
      free (b64);
    }
  json_object_set_new (auths, key, e);
  int ret = save_config (cfg, err);
  json_decref (cfg);
  return ret;
}

int
sw_auth_erase (const char *host, sw_error **err)
{
  json_t *cfg = load_config (err);
  if (cfg == NULL)
    return -1;
  json_t *auths = json_object_get (cfg, "auths");
  const char *key = sw_auth_config_key (host);
  int found = json_is_object (auths) && (json_object_del (auths, key) == 0 || json_object_del (auths, host) == 0);
  int ret = found ? save_config (cfg, err) : 0;
  json_decref (cfg);
  if (ret == 0 && !found)
    return sw_error_make (err, ENOENT, "not logged in to %s", host);
  return ret;
}

/* WWW-Authenticate: Bearer realm="…",service="…",scope="…" */
void
sw_challenge_parse (const char *h, sw_challenge *c)
{
  memset (c, 0, sizeof *c);
  if (h == NULL)
    return;
  while (*h == ' ')
    h++;
  if (strncasecmp (h, "bearer", 6) == 0)
    c->scheme = SW_AUTH_BEARER, h += 6;
  else if (strncasecmp (h, "basic", 5) == 0)
    c->scheme = SW_AUTH_BASIC, h += 5;
  else
    return;
  while (*h)
    {
      while (*h == ' ' || *h == ',')
        h++;
      const char *k = h;
      while (*h && *h != '=' && *h != ' ')
        h++;
      size_t kn = (size_t) (h - k);
      if (*h != '=')
        break;
      h++;
      sw_buf v = SW_BUF_INIT;
      if (*h == '"')
        {
          h++;
          while (*h && *h != '"')
            {
              if (*h == '\\' && h[1])
                h++;
              sw_buf_putc (&v, *h++);
            }
          if (*h == '"')
            h++;
        }
      else
        while (*h && *h != ',' && *h != ' ')
          sw_buf_putc (&v, *h++);
      char **slot = NULL;
      if (kn == 5 && strncasecmp (k, "realm", 5) == 0)
        slot = &c->realm;
      else if (kn == 7 && strncasecmp (k, "service", 7) == 0)
        slot = &c->service;
      else if (kn == 5 && strncasecmp (k, "scope", 5) == 0)
        slot = &c->scope;
      else if (kn == 5 && strncasecmp (k, "error", 5) == 0)
        slot = &c->error;
      if (slot && *slot == NULL)
        *slot = sw_buf_steal (&v);
      sw_buf_free (&v);
    }
}

void
sw_challenge_clear (sw_challenge *c)
{
  free (c->realm);
  free (c->service);
  free (c->scope);
  free (c->error);
  memset (c, 0, sizeof *c);
}
