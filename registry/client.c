/* registry/client.c — see client.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "registry/auth.h"
#include "registry/client.h"

#define BODY_LIMIT (8u << 20)

enum
{
  SCHEME_UNKNOWN = 0,
  SCHEME_HTTPS,
  SCHEME_HTTP
};

struct host
{
  char *name;
  int scheme;
  bool creds_loaded;
  sw_creds *creds;
  char *refresh_token;
  bool basic; /* the registry asked for Basic */
  struct host *next;
};

struct token
{
  char *host;
  char *scope;
  char *value;
  double expires; /* monotonic seconds */
  struct token *next;
};

struct sw_registry
{
  char **insecure;
  size_t chunk_size;
  sw_layer_upload layer_upload;
  int max_attempts;
  double max_seconds;
  int parallel;
  pthread_mutex_t mu;
  pthread_mutex_t probe_mu; /* one scheme probe at a time (see probe_scheme) */
  CURLSH *share;
  pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
  struct host *hosts;
  struct token *tokens;
  char *docs; /* sw_registry_set_docs */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void
curl_init_once (void)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
}

double
sw_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
share_lock (CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
  sw_registry *r = ud;
  pthread_mutex_lock (&r->share_mu[d]);
}

static void
share_unlock (CURL *h, curl_lock_data d, void *ud)
{
  sw_registry *r = ud;
  pthread_mutex_unlock (&r->share_mu[d]);
}

static long
env_long (const char *name)
{
  const char *v = getenv (name);
  if (v == NULL || *v == '\0')
    return 0;
  char *end;
  long n = strtol (v, &end, 10);
  return (*end == '\0' && n > 0) ? n : 0;
}

void
sw_registry_options_from_env (sw_registry_options *o)
{
  const char *dj = getenv ("SLIPWAY_DAEMON_JSON");
  if (o->chunk_size == 0)
    o->chunk_size = (size_t) env_long ("SLIPWAY_CHUNK_SIZE");
  if (o->max_attempts == 0)
    o->max_attempts = (int) env_long ("SLIPWAY_RETRY_ATTEMPTS");
  if (o->max_retry_seconds <= 0)
    o->max_retry_seconds = (double) env_long ("SLIPWAY_RETRY_SECONDS");
  if (o->daemon_json == NULL && dj && *dj)
    o->daemon_json = dj;
  const char *lu = getenv ("SLIPWAY_LAYER_UPLOAD");
  sw_layer_upload mode;
  if (lu && sw_layer_upload_parse (lu, &mode) == 0)
    o->layer_upload = (int) mode;
}

sw_registry *
sw_registry_new (const sw_registry_options *o)
{
  pthread_once (&curl_once, curl_init_once);
  sw_registry *r = sw_xzalloc (sizeof *r);
  size_t n = 0;
  while (o && o->insecure && o->insecure[n])
    n++;
  r->insecure = sw_xcalloc (n + 1, sizeof *r->insecure);
  for (size_t i = 0; i < n; i++)
    r->insecure[i] = sw_xstrdup (o->insecure[i]);
  /* and docker's daemon configuration: "insecure-registries": ["host:port", …] */
  const char *dj = o ? o->daemon_json : NULL;
  json_t *daemon = json_load_file (dj && *dj ? dj : "/etc/docker/daemon.json", 0, NULL);
  json_t *list = json_object_get (daemon, "insecure-registries");
  for (size_t i = 0; i < json_array_size (list); i++)
    {
      const char *h = json_string_value (json_array_get (list, i));
      if (h == NULL)
        continue;
      if (strncmp (h, "http://", 7) == 0)
        h += 7;
      else if (strncmp (h, "https://", 8) == 0)
        h += 8;
      r->insecure = sw_xreallocarray (r->insecure, n + 2, sizeof *r->insecure);
      r->insecure[n++] = sw_xstrndup (h, strcspn (h, "/"));
      r->insecure[n] = NULL;
    }
  json_decref (daemon);
  r->chunk_size = o && o->chunk_size ? o->chunk_size : (size_t) 16 << 20;
  r->layer_upload = o ? (sw_layer_upload) o->layer_upload : SW_LAYER_UPLOAD_STREAM;
  r->max_attempts = o && o->max_attempts ? o->max_attempts : 6;
  r->max_seconds = o && o->max_retry_seconds > 0 ? o->max_retry_seconds : 120;
  r->parallel = o && o->parallel ? o->parallel : 4;
  pthread_mutex_init (&r->mu, NULL);
  pthread_mutex_init (&r->probe_mu, NULL);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init (&r->share_mu[i], NULL);
  r->share = curl_share_init ();
  curl_share_setopt (r->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt (r->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt (r->share, CURLSHOPT_USERDATA, r);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt (r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return r;
}

void
sw_registry_free (sw_registry *r)
{
  if (r == NULL)
    return;
  free (r->docs);
  curl_share_cleanup (r->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy (&r->share_mu[i]);
  pthread_mutex_destroy (&r->mu);
  pthread_mutex_destroy (&r->probe_mu);
  for (size_t i = 0; r->insecure[i]; i++)
    free (r->insecure[i]);
  free (r->insecure);
  for (struct host *h = r->hosts, *next; h; h = next)
    {
      next = h->next;
      free (h->name);
      sw_creds_free (h->creds);
      if (h->refresh_token)
        explicit_bzero (h->refresh_token, strlen (h->refresh_token));
      free (h->refresh_token);
      free (h);
    }
  for (struct token *t = r->tokens, *next; t; t = next)
    {
      next = t->next;
      explicit_bzero (t->value, strlen (t->value));
      free (t->host);
      free (t->scope);
      free (t->value);
      free (t);
    }
  free (r);
}

size_t
sw_registry_chunk_size (const sw_registry *r)
{
  return r->chunk_size;
}

sw_layer_upload
sw_registry_layer_upload (const sw_registry *r)
{
  return r->layer_upload;
}

int
sw_layer_upload_parse (const char *s, sw_layer_upload *out)
{
  static const char *const names[] = { [SW_LAYER_UPLOAD_STREAM] = "stream", [SW_LAYER_UPLOAD_PUT] = "put",
                                       [SW_LAYER_UPLOAD_CHUNKED] = "chunked" };
  for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
    if (strcmp (s, names[i]) == 0)
      {
        *out = (sw_layer_upload) i;
        return 0;
      }
  return -1;
}

int
sw_registry_parallel (const sw_registry *r)
{
  return r->parallel;
}

void
sw_registry_set_docs (sw_registry *r, const char *dir)
{
  free (r->docs);
  r->docs = dir ? sw_xstrdup (dir) : NULL;
}

const char *
sw_registry_docs (const sw_registry *r)
{
  return r->docs;
}

int
sw_registry_max_attempts (const sw_registry *r)
{
  return r->max_attempts;
}

void
sw_resp_clear (sw_resp *r)
{
  sw_buf_free (&r->body);
  free (r->location);
  free (r->content_type);
  free (r->docker_digest);
  free (r->range);
  free (r->www_authenticate);
  free (r->retry_after);
  free (r->last_modified);
  free (r->url);
  memset (r, 0, sizeof *r);
}

/* ---- hosts ---- */

static bool
host_is_loopback (const char *host)
{
  cleanup_free char *h = sw_xstrdup (host);
  char *p = h;
  if (*p == '[')
    {
      p++;
      char *e = strchr (p, ']');
      if (e)
        *e = '\0';
    }
  else
    {
      char *c = strrchr (p, ':');
      if (c)
        *c = '\0';
    }
  if (strcmp (p, "localhost") == 0 || strcmp (p, "::1") == 0)
    return true;
  struct in_addr a;
  if (inet_pton (AF_INET, p, &a) == 1)
    return (ntohl (a.s_addr) >> 24) == 127;
  return false;
}

static bool
host_is_insecure (sw_registry *r, const char *host)
{
  for (size_t i = 0; r->insecure[i]; i++)
    if (strcmp (r->insecure[i], host) == 0)
      return true;
  return false;
}

/* Caller holds r->mu. */
static struct host *
host_get (sw_registry *r, const char *name)
{
  for (struct host *h = r->hosts; h; h = h->next)
    if (strcmp (h->name, name) == 0)
      return h;
  struct host *h = sw_xzalloc (sizeof *h);
  h->name = sw_xstrdup (name);
  h->next = r->hosts;
  r->hosts = h;
  return h;
}

static int
host_creds (sw_registry *r, const char *domain, sw_creds **out, sw_error **err)
{
  pthread_mutex_lock (&r->mu);
  struct host *h = host_get (r, domain);
  int ret = 0;
  if (!h->creds_loaded)
    {
      ret = sw_creds_lookup (domain, &h->creds, err);
      if (ret == 0)
        h->creds_loaded = true;
    }
  *out = h->creds;
  pthread_mutex_unlock (&r->mu);
  return ret;
}

void
sw_registry_set_creds (sw_registry *r, const char *domain, const char *username, const char *password)
{
  pthread_mutex_lock (&r->mu);
  struct host *h = host_get (r, domain);
  sw_creds_free (h->creds);
  h->creds = sw_xzalloc (sizeof *h->creds);
  h->creds->username = sw_xstrdup (username);
  h->creds->password = sw_xstrdup (password);
  h->creds_loaded = true;
  pthread_mutex_unlock (&r->mu);
}

/* ---- one HTTP exchange ---- */

struct xfer
{
  const sw_req *req;
  sw_resp *resp;
  bool to_sink;
  bool sink_failed;
  uint64_t delivered;
  sw_error *sink_err;
  bool read_failed; /* the streamed body's producer failed: read_err says why */
  sw_error *read_err;
};

static char *
header_value (const char *line, size_t n, const char *name)
{
  size_t kn = strlen (name);
  if (n <= kn + 1 || strncasecmp (line, name, kn) != 0 || line[kn] != ':')
    return NULL;
  const char *v = line + kn + 1;
  const char *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
    end--;
  return sw_xstrndup (v, (size_t) (end - v));
}

static size_t
on_header (char *p, size_t size, size_t nmemb, void *ud)
{
  struct xfer *x = ud;
  size_t n = size * nmemb;
  sw_resp *r = x->resp;
  if (n > 5 && strncmp (p, "HTTP/", 5) == 0)
    {
      /* a new response (after 100 Continue): forget the previous headers */
      long status = 0;
      const char *sp = memchr (p, ' ', n);
      if (sp)
        status = strtol (sp + 1, NULL, 10);
      free (r->location), r->location = NULL;
      free (r->content_type), r->content_type = NULL;
      free (r->docker_digest), r->docker_digest = NULL;
      free (r->range), r->range = NULL;
      free (r->www_authenticate), r->www_authenticate = NULL;
      free (r->retry_after), r->retry_after = NULL;
      free (r->last_modified), r->last_modified = NULL;
      r->content_length = -1;
      r->status = status;
      x->to_sink = x->req->sink && status >= 200 && status < 300;
      return n;
    }
  char *v;
#define GRAB(field, name)                                                                          \
  if ((v = header_value (p, n, name)))                                                             \
    {                                                                                              \
      free (r->field);                                                                             \
      r->field = v;                                                                                \
      return n;                                                                                    \
    }
  GRAB (location, "Location");
  GRAB (content_type, "Content-Type");
  GRAB (docker_digest, "Docker-Content-Digest");
  GRAB (range, "Range");
  GRAB (www_authenticate, "WWW-Authenticate");
  GRAB (retry_after, "Retry-After");
  GRAB (last_modified, "Last-Modified");
#undef GRAB
  if ((v = header_value (p, n, "Content-Length")))
    {
      r->content_length = strtoll (v, NULL, 10);
      free (v);
    }
  return n;
}

static size_t
on_body (char *p, size_t size, size_t nmemb, void *ud)
{
  struct xfer *x = ud;
  size_t n = size * nmemb;
  if (x->to_sink)
    {
      if (x->req->sink (x->req->sink_ud, p, n, &x->sink_err) < 0)
        {
          x->sink_failed = true;
          return 0;
        }
      x->delivered += n;
      return n;
    }
  if (x->resp->body.len + n > BODY_LIMIT)
    return 0;
  sw_buf_append (&x->resp->body, p, n);
  return n;
}

static size_t
on_read (char *p, size_t size, size_t nmemb, void *ud)
{
  struct xfer *x = ud;
  size_t got = 0;
  if (x->req->body_read (x->req->body_read_ud, p, size * nmemb, &got, &x->read_err) < 0)
    {
      x->read_failed = true;
      return CURL_READFUNC_ABORT;
    }
  return got;
}

static void
set_ca (CURL *c, const char *host)
{
  const char *ssl_file = getenv ("SSL_CERT_FILE");
  if (ssl_file && *ssl_file)
    curl_easy_setopt (c, CURLOPT_CAINFO, ssl_file);
  const char *ssl_dir = getenv ("SSL_CERT_DIR");
  if (ssl_dir && *ssl_dir)
    curl_easy_setopt (c, CURLOPT_CAPATH, ssl_dir);
  cleanup_free char *certs = sw_xasprintf ("/etc/docker/certs.d/%s/ca.crt", host);
  if (access (certs, R_OK) == 0)
    curl_easy_setopt (c, CURLOPT_CAINFO, certs);
}

/* One exchange, no retries, no auth logic.  Returns the CURLcode. */
static CURLcode
perform (sw_registry *r, const char *url, const char *host_for_ca, bool insecure_tls, const sw_req *req,
         const char *authorization, sw_resp *resp, struct xfer *x, char *errbuf)
{
  CURL *c = curl_easy_init ();
  if (c == NULL)
    abort ();
  struct curl_slist *hl = NULL;
  if (authorization)
    {
      cleanup_free char *h = sw_xasprintf ("Authorization: %s", authorization);
      hl = curl_slist_append (hl, h);
      explicit_bzero (h, strlen (h));
    }
  hl = curl_slist_append (hl, "Expect:");
  for (size_t i = 0; req->headers && req->headers[i]; i++)
    hl = curl_slist_append (hl, req->headers[i]);
  if (req->has_body || req->body_read)
    hl = curl_slist_append (hl, "Content-Type: application/octet-stream");

  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_SHARE, r->share);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt (c, CURLOPT_USERAGENT, "slipway/" SLIPWAY_VERSION);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (c, CURLOPT_HEADERDATA, x);
  curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (c, CURLOPT_WRITEDATA, x);
  curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (req->accept_gzip)
    curl_easy_setopt (c, CURLOPT_ACCEPT_ENCODING, "gzip");
  set_ca (c, host_for_ca);
  if (host_is_loopback (host_for_ca))
    curl_easy_setopt (c, CURLOPT_NOPROXY, "*"); /* as Go's net/http: loopback is never proxied */
  if (insecure_tls)
    {
      curl_easy_setopt (c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  if (strcmp (req->method, "HEAD") == 0)
    curl_easy_setopt (c, CURLOPT_NOBODY, 1L);
  else if (req->body_read)
    {
      /* "Expect:" above: the body follows the headers at once, no 100-continue round trip */
      curl_easy_setopt (c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, req->method);
      curl_easy_setopt (c, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt (c, CURLOPT_READDATA, x);
      /* an unknown size (-1): libcurl sends HTTP/1.1's chunked encoding */
      curl_easy_setopt (c, CURLOPT_INFILESIZE_LARGE, req->body_unsized ? (curl_off_t) -1 : (curl_off_t) req->body_len);
      curl_easy_setopt (c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024); /* fewer, larger sends */
    }
  else if (strcmp (req->method, "GET") != 0)
    {
      curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, req->method);
      if (req->has_body || strcmp (req->method, "DELETE") != 0)
        {
          curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
          curl_easy_setopt (c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
  errbuf[0] = '\0';
  resp->status = 0;
  resp->content_length = -1;
  CURLcode rc = curl_easy_perform (c);
  char *eff = NULL;
  curl_easy_getinfo (c, CURLINFO_EFFECTIVE_URL, &eff);
  free (resp->url);
  resp->url = sw_xstrdup (eff ? eff : url);
  curl_easy_cleanup (c);
  curl_slist_free_all (hl);
  return rc;
}

static bool
transient_curl (CURLcode rc)
{
  switch (rc)
    {
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
    }
}

bool
sw_registry_backoff (sw_registry *r, int attempt, double t0, const char *retry_after)
{
  double delay = 0.2 * (double) (1u << (attempt > 10 ? 10 : attempt - 1));
  if (delay > 10)
    delay = 10;
  delay = delay * (0.5 + 0.5 * ((double) random () / (double) RAND_MAX));
  if (retry_after && *retry_after)
    {
      char *end;
      double ra = strtod (retry_after, &end);
      if (end != retry_after && ra >= 0)
        delay = ra > 60 ? 60 : ra; /* an HTTP date or absurd value: clamp */
    }
  if (sw_now () - t0 + delay > r->max_seconds)
    return false;
  struct timespec ts = { (time_t) delay, (long) ((delay - (double) (time_t) delay) * 1e9) };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
    ;
  return true;
}

/* ---- tokens ---- */

static char *
token_cached (sw_registry *r, const char *host, const char *scope)
{
  char *v = NULL;
  double now = sw_now ();
  pthread_mutex_lock (&r->mu);
  for (struct token *t = r->tokens; t; t = t->next)
    if (strcmp (t->host, host) == 0 && strcmp (t->scope, scope) == 0 && t->expires > now)
      {
        v = sw_xstrdup (t->value);
        break;
      }
  pthread_mutex_unlock (&r->mu);
  return v;
}

static void
token_drop (sw_registry *r, const char *host, const char *scope)
{
  pthread_mutex_lock (&r->mu);
  for (struct token *t = r->tokens; t; t = t->next)
    if (strcmp (t->host, host) == 0 && strcmp (t->scope, scope) == 0)
      t->expires = 0;
  pthread_mutex_unlock (&r->mu);
}

static void
token_store (sw_registry *r, const char *host, const char *scope, const char *value, double ttl)
{
  pthread_mutex_lock (&r->mu);
  struct token *t = sw_xzalloc (sizeof *t);
  t->host = sw_xstrdup (host);
  t->scope = sw_xstrdup (scope);
  t->value = sw_xstrdup (value);
  t->expires = sw_now () + (ttl > 30 ? ttl - 10 : ttl * 0.8);
  t->next = r->tokens;
  r->tokens = t;
  pthread_mutex_unlock (&r->mu);
}

static void
append_scopes (sw_buf *q, CURL *c, const char *scopes)
{
  cleanup_free char *copy = sw_xstrdup (scopes ? scopes : "");
  char *save = NULL;
  for (char *s = strtok_r (copy, " ", &save); s; s = strtok_r (NULL, " ", &save))
    {
      char *e = curl_easy_escape (c, s, 0);
      sw_buf_printf (q, "&scope=%s", e);
      curl_free (e);
    }
}

/* Fetch a Bearer token for (host, scope) as challenge ch says. */
static int
fetch_token (sw_registry *r, const char *domain, const sw_challenge *ch, const char *scope, sw_error **err)
{
  sw_creds *creds = NULL;
  if (host_creds (r, domain, &creds, err) < 0)
    return -1;
  if (ch->realm == NULL)
    return sw_error_make (err, EPROTO, "%s asked for a Bearer token without a realm", domain);
  CURL *esc = curl_easy_init ();
  char *svc = curl_easy_escape (esc, ch->service ? ch->service : "", 0);
  cleanup_free char *refresh = NULL;
  pthread_mutex_lock (&r->mu);
  struct host *h = host_get (r, domain);
  if (h->refresh_token)
    refresh = sw_xstrdup (h->refresh_token);
  else if (creds && creds->identity_token)
    refresh = sw_xstrdup (creds->identity_token);
  pthread_mutex_unlock (&r->mu);

  sw_buf q = SW_BUF_INIT;
  sw_req treq = { 0 };
  cleanup_free char *basic = NULL;
  cleanup_free char *url = NULL;
  if (refresh)
    {
      /* OAuth2 refresh-token grant, as docker does with an identity token */
      char *rt = curl_easy_escape (esc, refresh, 0);
      sw_buf_printf (&q, "grant_type=refresh_token&client_id=slipway&service=%s", svc);
      append_scopes (&q, esc, scope);
      sw_buf_printf (&q, "&refresh_token=%s", rt);
      explicit_bzero (rt, strlen (rt));
      curl_free (rt);
      url = sw_xstrdup (ch->realm);
      treq.method = "POST";
      treq.body = q.data;
      treq.body_len = q.len;
    }
  else
    {
      sw_buf_printf (&q, "%s%sservice=%s", ch->realm, strchr (ch->realm, '?') ? "&" : "?", svc);
      append_scopes (&q, esc, scope);
      if (creds && creds->username && creds->password)
        {
          char *acc = curl_easy_escape (esc, creds->username, 0);
          sw_buf_printf (&q, "&account=%s&client_id=slipway&offline_token=true", acc);
          curl_free (acc);
          cleanup_free char *up = sw_xasprintf ("%s:%s", creds->username, creds->password);
          char *b64 = sw_base64_encode (up, strlen (up));
          basic = sw_xasprintf ("Basic %s", b64);
          explicit_bzero (up, strlen (up));
          explicit_bzero (b64, strlen (b64));
          free (b64);
        }
      url = sw_buf_steal (&q);
      treq.method = "GET";
    }
  curl_free (svc);
  curl_easy_cleanup (esc);

  sw_resp resp = { 0 };
  struct xfer x = { .req = &treq, .resp = &resp };
  char errbuf[CURL_ERROR_SIZE];
  static const char *form_hdr[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
  if (refresh)
    treq.headers = form_hdr, treq.has_body = false;
  int ret = -1;
  CURLcode rc = CURLE_OK;
  double t0 = sw_now ();
  for (int attempt = 1;; attempt++)
    {
      sw_resp_clear (&resp);
      rc = perform (r, url, domain, false, &treq, basic, &resp, &x, errbuf);
      bool transient = rc != CURLE_OK ? transient_curl (rc) : (resp.status >= 500 || resp.status == 429);
      if (!transient || attempt >= r->max_attempts || !sw_registry_backoff (r, attempt, t0, resp.retry_after))
        break;
    }
  /* the realm URL is the token server's, with no secret in it (credentials go in headers or
   * the POST body), so naming the server's host is safe */
  if (rc != CURLE_OK)
    sw_error_make (err, EIO, "getting a token for %s from its auth server: %s", domain, errbuf[0] ? errbuf : curl_easy_strerror (rc));
  else if (resp.status == 401 || resp.status == 403)
    sw_error_make (err, EACCES, "the auth server of %s refused %s (HTTP %ld): check the credentials (slipway login %s)",
                   domain, creds ? "the credentials" : "anonymous access", resp.status, domain);
  else if (resp.status != 200)
    sw_error_make (err, EIO, "getting a token for %s: the auth server answered HTTP %ld", domain, resp.status);
  else
    {
      json_t *doc = json_loadb (sw_buf_str (&resp.body), resp.body.len, 0, NULL);
      const char *tok = json_string_value (json_object_get (doc, "token"));
      if (tok == NULL || *tok == '\0')
        tok = json_string_value (json_object_get (doc, "access_token"));
      json_int_t ttl = json_integer_value (json_object_get (doc, "expires_in"));
      const char *rt = json_string_value (json_object_get (doc, "refresh_token"));
      if (tok == NULL || *tok == '\0')
        sw_error_make (err, EPROTO, "the auth server of %s answered without a token", domain);
      else
        {
          token_store (r, domain, scope ? scope : "", tok, ttl > 0 ? (double) ttl : 60);
          if (rt && *rt)
            {
              pthread_mutex_lock (&r->mu);
              struct host *hh = host_get (r, domain);
              free (hh->refresh_token);
              hh->refresh_token = sw_xstrdup (rt);
              pthread_mutex_unlock (&r->mu);
            }
          ret = 0;
        }
      json_decref (doc);
    }
  if (resp.body.data)
    explicit_bzero (resp.body.data, resp.body.len);
  sw_resp_clear (&resp);
  if (q.data)
    explicit_bzero (q.data, q.len);
  sw_buf_free (&q);
  if (basic)
    explicit_bzero (basic, strlen (basic));
  return ret;
}

static char *
basic_header (sw_registry *r, const char *domain, sw_error **err, int *failed)
{
  sw_creds *creds = NULL;
  *failed = 0;
  if (host_creds (r, domain, &creds, err) < 0)
    {
      *failed = 1;
      return NULL;
    }
  if (creds == NULL || creds->username == NULL || creds->password == NULL)
    return NULL;
  cleanup_free char *up = sw_xasprintf ("%s:%s", creds->username, creds->password);
  char *b64 = sw_base64_encode (up, strlen (up));
  char *h = sw_xasprintf ("Basic %s", b64);
  explicit_bzero (up, strlen (up));
  explicit_bzero (b64, strlen (b64));
  free (b64);
  return h;
}

/* The Authorization value to send now, or NULL. */
static char *
current_auth (sw_registry *r, const char *domain, const char *scope, sw_error **err, int *failed)
{
  *failed = 0;
  pthread_mutex_lock (&r->mu);
  bool basic = host_get (r, domain)->basic;
  pthread_mutex_unlock (&r->mu);
  if (basic)
    return basic_header (r, domain, err, failed);
  char *tok = token_cached (r, domain, scope ? scope : "");
  if (tok == NULL)
    return NULL;
  char *h = sw_xasprintf ("Bearer %s", tok);
  explicit_bzero (tok, strlen (tok));
  free (tok);
  return h;
}

/* Strip the query from a URL for messages: upload URLs carry state tokens. */
static char *
url_for_message (const char *url)
{
  return sw_xstrndup (url, strcspn (url, "?"));
}

static int
ensure_scheme (sw_registry *r, const char *domain, int *scheme)
{
  pthread_mutex_lock (&r->mu);
  *scheme = host_get (r, domain)->scheme;
  pthread_mutex_unlock (&r->mu);
  return 0;
}

static void
set_scheme (sw_registry *r, const char *domain, int scheme)
{
  pthread_mutex_lock (&r->mu);
  host_get (r, domain)->scheme = scheme;
  pthread_mutex_unlock (&r->mu);
}

/* Does a host that may speak plain HTTP (loopback, --insecure-registry) speak TLS?  A TLS
 * handshake alone answers it (CONNECT_ONLY: no request, no header, no credential is sent).
 * Trying the first real request over HTTPS would answer it too, but libcurl parses the whole
 * CA bundle for that try (~35 ms of CPU, 0.1-0.2 s on a loaded machine), once per thread that
 * races to it; the handshake here loads no CA: it verifies nothing and trusts nothing, the
 * requests that follow over HTTPS verify as always.  One probe per host and process: threads
 * that arrive meanwhile wait for its answer.  A host that cannot be reached stays unknown, and
 * the first request reports why. */
static void
probe_scheme (sw_registry *r, const char *domain)
{
  int scheme;
  pthread_mutex_lock (&r->probe_mu);
  ensure_scheme (r, domain, &scheme);
  if (scheme == SCHEME_UNKNOWN)
    {
      CURL *c = curl_easy_init ();
      if (c == NULL)
        abort ();
      cleanup_free char *url = sw_xasprintf ("https://%s/v2/", domain);
      curl_easy_setopt (c, CURLOPT_URL, url);
      curl_easy_setopt (c, CURLOPT_CONNECT_ONLY, 1L);
      curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 30L);
      curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "https");
      curl_easy_setopt (c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (c, CURLOPT_SSL_VERIFYHOST, 0L);
      curl_easy_setopt (c, CURLOPT_CAINFO, NULL);
      curl_easy_setopt (c, CURLOPT_CAPATH, NULL);
      if (host_is_loopback (domain))
        curl_easy_setopt (c, CURLOPT_NOPROXY, "*");
      CURLcode rc = curl_easy_perform (c);
      curl_easy_cleanup (c);
      if (rc == CURLE_OK)
        set_scheme (r, domain, SCHEME_HTTPS);
      else if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR)
        {
          sw_debug ("%s: no TLS handshake (%s): plain HTTP (loopback or insecure registry)", domain,
                    curl_easy_strerror (rc));
          set_scheme (r, domain, SCHEME_HTTP);
        }
    }
  pthread_mutex_unlock (&r->probe_mu);
}

static int
registry_do (sw_registry *r, const sw_req *req, sw_resp *resp, sw_error **err)
{
  const char *scheme_end = strstr (req->url, "://");
  if (!req->repo && !scheme_end)
    return sw_error_make (err, EINVAL, "%s %s: a request without a repository needs an absolute URL",
                          req->method, req->url);
  cleanup_free char *url_host
      = req->repo ? NULL : sw_xstrndup (scheme_end + 3, strcspn (scheme_end + 3, "/?#"));
  const char *domain = req->repo ? sw_ref_api_host (req->repo) : url_host;
  if (url_host && strchr (url_host, '@'))
    domain = strrchr (url_host, '@') + 1; /* user:password@host: the host alone */
  bool may_http = host_is_loopback (domain) || host_is_insecure (r, domain);
  bool insecure_tls = host_is_insecure (r, domain);
  cleanup_free char *url = NULL;
  bool absolute = strncmp (req->url, "http://", 7) == 0 || strncmp (req->url, "https://", 8) == 0;
  int redirects = 0;
  bool foreign = false; /* following a redirect to another host: no auth */
  bool auth_retried = false;
  double t0 = sw_now ();
  int attempt = 0;
  char errbuf[CURL_ERROR_SIZE];
  cleanup_free char *target = sw_xstrdup (req->url);

  if (!absolute && may_http)
    {
      int known;
      ensure_scheme (r, domain, &known);
      if (known == SCHEME_UNKNOWN)
        probe_scheme (r, domain);
    }
  for (;;)
    {
      int scheme;
      ensure_scheme (r, domain, &scheme);
      free (url);
      if (absolute)
        url = sw_xstrdup (target);
      else
        url = sw_xasprintf ("%s://%s%s", scheme == SCHEME_HTTP ? "http" : "https", domain, target);

      int failed = 0;
      cleanup_free char *authz
          = foreign || req->anonymous ? NULL : current_auth (r, req->repo->domain, req->scope, err, &failed);
      if (failed)
        return -1;
      struct xfer x = { .req = req, .resp = resp };
      sw_resp_clear (resp);
      CURLcode rc = perform (r, url, domain, insecure_tls, req, authz, resp, &x, errbuf);
      if (authz)
        explicit_bzero (authz, strlen (authz));
      if (x.sink_failed)
        {
          sw_error_move (err, &x.sink_err);
          cleanup_free char *m = url_for_message (url);
          return sw_error_wrap (err, "%s %s", req->method, m);
        }
      if (x.read_failed)
        {
          sw_error_move (err, &x.read_err);
          cleanup_free char *m = url_for_message (url);
          return sw_error_wrap (err, "%s %s", req->method, m);
        }
      sw_error_free (x.read_err);
      if (req->body_read)
        {
          /* its body is gone: whatever happened is the caller's to handle */
          if (rc == CURLE_OK)
            return 0;
          cleanup_free char *m = url_for_message (url);
          return sw_error_make (err, EIO, "%s %s: %s", req->method, m, errbuf[0] ? errbuf : curl_easy_strerror (rc));
        }
      if (rc != CURLE_OK && !absolute && scheme == SCHEME_UNKNOWN && may_http
          && (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING
              || rc == CURLE_RECV_ERROR || rc == CURLE_UNSUPPORTED_PROTOCOL))
        {
          sw_debug ("%s: HTTPS failed (%s), trying plain HTTP (loopback or insecure registry)", domain,
                    curl_easy_strerror (rc));
          set_scheme (r, domain, SCHEME_HTTP);
          continue;
        }
      if (rc == CURLE_OK && !absolute && scheme == SCHEME_UNKNOWN)
        set_scheme (r, domain, SCHEME_HTTPS);
      if (rc == CURLE_PEER_FAILED_VERIFICATION || (rc == CURLE_SSL_CONNECT_ERROR && !may_http))
        {
          cleanup_free char *m = url_for_message (url);
          return sw_error_make (err, EIO, "%s %s: TLS: %s; if %s uses a private CA, point SSL_CERT_FILE at it "
                                          "(or put it in /etc/docker/certs.d/%s/ca.crt), or name the registry with --insecure-registry",
                                req->method, m, errbuf[0] ? errbuf : curl_easy_strerror (rc), domain, domain);
        }
      bool transient = rc != CURLE_OK ? transient_curl (rc) : (resp->status >= 500 || resp->status == 429);
      if (transient && !req->no_retry && x.delivered == 0)
        {
          attempt++;
          if (attempt < r->max_attempts && sw_registry_backoff (r, attempt, t0, resp->retry_after))
            {
              cleanup_free char *m = url_for_message (url);
              sw_debug ("%s %s: %s, retrying (attempt %d)", req->method, m,
                        rc != CURLE_OK ? curl_easy_strerror (rc) : "server error", attempt + 1);
              continue;
            }
          cleanup_free char *m = url_for_message (url);
          if (rc != CURLE_OK)
            return sw_error_make (err, EIO, "%s %s: %s; gave up after %d attempts in %.1f s", req->method, m,
                                  errbuf[0] ? errbuf : curl_easy_strerror (rc), attempt, sw_now () - t0);
          return sw_error_make (err, EIO, "%s %s: HTTP %ld; the server kept failing, gave up after %d attempts in %.1f s",
                                req->method, m, resp->status, attempt, sw_now () - t0);
        }
      if (rc != CURLE_OK)
        {
          cleanup_free char *m = url_for_message (url);
          return sw_error_make (err, EIO, "%s %s: %s", req->method, m, errbuf[0] ? errbuf : curl_easy_strerror (rc));
        }
      if (resp->status == 401 && !foreign && !auth_retried && !req->anonymous)
        {
          auth_retried = true;
          sw_challenge ch;
          sw_challenge_parse (resp->www_authenticate, &ch);
          int ret = 0;
          if (ch.scheme == SW_AUTH_BEARER)
            {
              token_drop (r, req->repo->domain, req->scope ? req->scope : "");
              ret = fetch_token (r, req->repo->domain, &ch, req->scope, err);
            }
          else if (ch.scheme == SW_AUTH_BASIC)
            {
              pthread_mutex_lock (&r->mu);
              host_get (r, req->repo->domain)->basic = true;
              pthread_mutex_unlock (&r->mu);
              sw_creds *c = NULL;
              ret = host_creds (r, req->repo->domain, &c, err);
              if (ret == 0 && c == NULL)
                {
                  sw_challenge_clear (&ch);
                  return 0; /* nothing to answer with: the caller reports the 401 */
                }
            }
          int asked = ch.scheme;
          sw_challenge_clear (&ch);
          if (ret < 0)
            return -1;
          if (asked != SW_AUTH_NONE)
            continue;
        }
      if (req->follow_redirects && resp->status >= 300 && resp->status < 400 && resp->location && redirects < 10)
        {
          redirects++;
          cleanup_free char *next = NULL;
          if (strncmp (resp->location, "http://", 7) == 0 || strncmp (resp->location, "https://", 8) == 0)
            next = sw_xstrdup (resp->location);
          else if (resp->location[0] == '/')
            {
              const char *p = strstr (url, "://");
              size_t hostend = (size_t) (strchr (p + 3, '/') ? strchr (p + 3, '/') - url : (long) strlen (url));
              next = sw_xasprintf ("%.*s%s", (int) hostend, url, resp->location);
            }
          else
            break;
          /* another host (or scheme/port) gets no Authorization header */
          const char *a = strstr (url, "://") + 3, *b = strstr (next, "://") + 3;
          size_t an = strcspn (a, "/"), bn = strcspn (b, "/");
          if (an != bn || strncmp (a, b, an) != 0 || strncmp (url, next, 5) != 0)
            foreign = true;
          free (target);
          target = steal_pointer (&next);
          absolute = true;
          continue;
        }
      return 0;
    }
  return 0;
}

/* A failure of the exchange is the registry's (unreachable, TLS, auth, retries spent),
 * unless the caller's body callback failed and said otherwise (a full disk is IO). */
int
sw_registry_do (sw_registry *r, const sw_req *req, sw_resp *resp, sw_error **err)
{
  if (registry_do (r, req, resp, err) < 0)
    return sw_error_set_category (err, SW_ERR_REGISTRY);
  return 0;
}

int
sw_resp_error (const sw_req *req, const sw_resp *resp, sw_error **err)
{
  cleanup_free char *m = url_for_message (resp->url ? resp->url : req->url);
  const char *what = "";
  cleanup_free char *detail = NULL;
  json_t *doc = resp->body.len ? json_loadb (resp->body.data, resp->body.len, 0, NULL) : NULL;
  json_t *e0 = json_array_get (json_object_get (doc, "errors"), 0);
  if (e0)
    detail = sw_xasprintf (" (%s: %s)", json_string_value (json_object_get (e0, "code")) ?: "?",
                           json_string_value (json_object_get (e0, "message")) ?: "");
  json_decref (doc);
  switch (resp->status)
    {
    case 401:
      what = "; authentication required: run slipway login for this registry";
      break;
    case 403:
      what = "; access denied";
      break;
    case 404:
      what = "; not found";
      break;
    }
  sw_error_make (err, resp->status == 404 ? ENOENT : (resp->status == 401 || resp->status == 403) ? EACCES : EIO,
                 "%s %s: HTTP %ld%s%s", req->method, m, resp->status, detail ? detail : "", what);
  return sw_error_set_category (err, SW_ERR_REGISTRY);
}

/* ---- plain downloads (ADD <url>) ---- */

struct fetch_sink
{
  sw_write_fn down;
  void *ud;
  sw_hasher *h;
  uint64_t size;
};

static int
fetch_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct fetch_sink *f = ud;
  sw_hasher_update (f->h, p, n);
  f->size += n;
  return f->down (f->ud, p, n, err);
}

int
sw_registry_fetch_url (sw_registry *r, const char *url, const char *digest_alg,
                       sw_write_fn sink, void *ud, sw_fetch_result *res, sw_error **err)
{
  memset (res, 0, sizeof *res);
  res->last_modified = -1;
  if (strncmp (url, "http://", 7) != 0 && strncmp (url, "https://", 8) != 0)
    return sw_error_make (err, EINVAL, "%s: only http and https URLs can be downloaded", url);
  struct fetch_sink f = { sink, ud, sw_hasher_new (digest_alg ? digest_alg : "sha256"), 0 };
  if (!f.h)
    return sw_error_make (err, EINVAL, "%s: unsupported digest algorithm %s", url, digest_alg);
  sw_req req = { .method = "GET", .url = url, .sink = fetch_write, .sink_ud = &f,
                 .follow_redirects = true, .anonymous = true, .accept_gzip = true };
  sw_resp resp = { 0 };
  int rc = sw_registry_do (r, &req, &resp, err);
  if (rc == 0)
    {
      res->status = resp.status;
      res->size = f.size;
      sw_hasher_final (f.h, res->digest);
      if (resp.last_modified)
        {
          time_t t = curl_getdate (resp.last_modified, NULL);
          res->last_modified = t > 0 ? (int64_t) t : -1;
        }
      if (resp.status < 200 || resp.status >= 300)
        {
          cleanup_free char *m = url_for_message (resp.url ? resp.url : url);
          rc = sw_error_make (err, resp.status == 404 ? ENOENT : EIO, "GET %s: invalid response status %ld",
                              m, resp.status);
        }
    }
  sw_hasher_free (f.h);
  sw_resp_clear (&resp);
  return rc;
}
