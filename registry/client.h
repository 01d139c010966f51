/* registry/client.h — one registry session: transport, retries and authentication.
 *
 * Guarantees:
 *  - HTTPS with the system CAs ($SSL_CERT_FILE, when set, replaces them; a registry's
 *    /etc/docker/certs.d/HOST/ca.crt is added); plain HTTP only for loopback hosts and hosts
 *    named insecure (options, or "insecure-registries" in docker's daemon.json: the
 *    options' daemon_json, else /etc/docker/daemon.json), and only after HTTPS failed to
 *    connect (as docker does).  A host named insecure also accepts an unverifiable
 *    certificate.  Proxies come from the environment (libcurl: http_proxy, https_proxy,
 *    no_proxy); loopback hosts are never proxied (as Go's net/http).
 *  - Retries with exponential backoff and jitter on 5xx, 429 (Retry-After honoured) and
 *    dropped connections, bounded in count and in time; the final error says how many
 *    attempts over how long.
 *  - Authentication as the registry asks (WWW-Authenticate): Bearer tokens fetched with
 *    the user's credentials or anonymously, refresh tokens used and kept, tokens cached per
 *    host and scope until they expire; a 401 with a cached token drops it and authenticates
 *    again (so an expired token mid-push only costs one round trip); Basic.
 *  - Redirects (blob GETs to a CDN) are followed by hand, with no Authorization header to
 *    the new host.
 *  - Thread-safe: several threads may run requests on one sw_registry at once.
 *  - No credential or token is ever logged or put in an error message.
 */
#ifndef SW_REGISTRY_CLIENT_H
#define SW_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/error.h"
#include "image/digest.h"
#include "registry/ref.h"

typedef struct sw_registry_options
{
  const char *const *insecure; /* NULL-terminated "host[:port]" list, may be NULL */
  size_t chunk_size;           /* upload chunk; 0 → 16 MiB */
  int max_attempts;            /* per request; 0 → 6 */
  double max_retry_seconds;    /* per request; 0 → 120 */
  int parallel;                /* blobs in flight at once; 0 → 4 */
  const char *daemon_json;     /* docker's daemon.json; NULL → /etc/docker/daemon.json */
  int layer_upload;            /* sw_blob_push's way for a blob bigger than one chunk:
                                  an sw_layer_upload (registry/sink.h) */
} sw_registry_options;

/* How sw_blob_push sends a blob bigger than one chunk (registry/sink.h). */
typedef enum sw_layer_upload
{
  SW_LAYER_UPLOAD_STREAM = 0, /* made once, streamed in one PATCH, committed by PUT ?digest= */
  SW_LAYER_UPLOAD_PUT,        /* made twice: its digest first, then one monolithic PUT */
  SW_LAYER_UPLOAD_CHUNKED,    /* made once into PATCH chunks (resumable) */
} sw_layer_upload;

/* "stream", "put" or "chunked" → *out: 0, or -1 for anything else. */
int sw_layer_upload_parse (const char *s, sw_layer_upload *out);

/* The session reads no environment.  A public entry point with no options of its own
 * (imagetools, login) takes these knobs from it here: fills the fields still 0/NULL from
 * $SLIPWAY_CHUNK_SIZE, $SLIPWAY_RETRY_ATTEMPTS, $SLIPWAY_RETRY_SECONDS (positive
 * integers; anything else is ignored), $SLIPWAY_DAEMON_JSON and $SLIPWAY_LAYER_UPLOAD
 * (sw_layer_upload_parse's words; anything else leaves layer_upload).  A build takes them as
 * build options instead (exec/build.c), with the same variables as defaults. */
void sw_registry_options_from_env (sw_registry_options *o);

typedef struct sw_registry sw_registry;

sw_registry *sw_registry_new (const sw_registry_options *opts);
void sw_registry_free (sw_registry *r);
size_t sw_registry_chunk_size (const sw_registry *r);
sw_layer_upload sw_registry_layer_upload (const sw_registry *r);
int sw_registry_parallel (const sw_registry *r);

/* A directory where documents fetched by digest (image manifests, configs) are kept and
 * found again: they never change, so a later session reads them there (their digest
 * checked on every read) instead of asking the registry.  Tags are always asked.  dir
 * must exist; NULL turns it off.  Set before the session is shared between threads. */
void sw_registry_set_docs (sw_registry *r, const char *dir);
const char *sw_registry_docs (const sw_registry *r);

/* Use these credentials for domain instead of config.json's (login checks them). */
void sw_registry_set_creds (sw_registry *r, const char *domain, const char *username, const char *password);

/* A body consumer: 0 to continue, -1 to stop (with *err filled). */
typedef int (*sw_write_fn) (void *ud, const void *p, size_t n, sw_error **err);
/* A body producer: up to cap bytes into p, *got = how many (0: the body ended); 0, or -1 to
 * stop the request (with *err filled). */
typedef int (*sw_read_fn) (void *ud, void *p, size_t cap, size_t *got, sw_error **err);

typedef struct sw_req
{
  const char *method;
  const sw_ref *repo;          /* the repository: host and auth context */
  const char *url;             /* "/v2/…" or an absolute URL (a Location) */
  const char *scope;           /* "repository:NAME:pull" (several, space-separated) */
  const char *const *headers;  /* extra "Name: value" lines, NULL-terminated */
  const void *body;            /* a body from memory (may be NULL with body_len 0) */
  size_t body_len;
  bool has_body;
  /* Or a body streamed from body_read, body_len bytes exactly (Content-Length), or as many
   * as it gives when body_unsized (Transfer-Encoding: chunked).  It can be read only once,
   * so such a request is sent once: no retry, no re-authentication after a 401, no
   * redirect — the caller gets the registry's answer, whatever it is.  A body_read failure
   * fails the request with its error. */
  sw_read_fn body_read;
  void *body_read_ud;
  bool body_unsized;
  sw_write_fn sink;            /* 2xx bodies go here when set, else to resp->body */
  void *sink_ud;
  bool no_retry;               /* the caller handles retries (chunk uploads) */
  bool follow_redirects;       /* blob GETs */
  bool anonymous;              /* no credentials, no auth exchange (repo may be NULL: the
                                  host is the absolute url's) */
  bool accept_gzip;            /* ask for gzip; the sink gets the decoded body */
} sw_req;

typedef struct sw_resp
{
  long status;
  sw_buf body;  /* error bodies, small documents; bounded to 8 MiB */
  char *location;
  char *content_type;
  char *docker_digest;
  char *range;
  char *www_authenticate;
  char *retry_after;
  char *last_modified;
  int64_t content_length;
  char *url;    /* the absolute URL that answered */
} sw_resp;

void sw_resp_clear (sw_resp *r);

/* Run a request.  0 when the registry answered (any status: the caller decides), -1 when it
 * could not be reached or kept failing past the retry bound (*err says why).  resp must be
 * zeroed or cleared. */
int sw_registry_do (sw_registry *r, const sw_req *req, sw_resp *resp, sw_error **err);

/* "GET http://h/v2/x/manifests/y: 404 Not Found (MANIFEST_UNKNOWN: manifest unknown)" */
int sw_resp_error (const sw_req *req, const sw_resp *resp, sw_error **err);

/* Sleep for the backoff of attempt n (1-based), honouring Retry-After; false when that
 * would pass the retry bound that started at t0 (monotonic seconds). */
bool sw_registry_backoff (sw_registry *r, int attempt, double t0, const char *retry_after);
int sw_registry_max_attempts (const sw_registry *r);
double sw_now (void);

/* What a download of a plain URL ended with. */
typedef struct sw_fetch_result
{
  long status;                      /* the final response's status */
  int64_t last_modified;            /* its Last-Modified, seconds since the epoch; -1: none */
  char digest[SW_DIGEST_MAX_BUFSZ]; /* "ALG:<hex>" of the body the sink received */
  uint64_t size;                    /* bytes the sink received */
} sw_fetch_result;

/* GET a plain http(s) URL (ADD <url>) into sink over this session's transport: the same
 * CAs (SSL_CERT_FILE, /etc/docker/certs.d/HOST/ca.crt), insecure hosts, proxies (loopback
 * never proxied), timeouts, and retries with backoff on 5xx, 429 and dropped connections
 * while nothing was delivered yet; redirects followed (http and https only, at most 10);
 * gzip asked for and decoded (as Go's client); no credential ever sent.  digest_alg
 * ("sha256", "sha384", "sha512"; NULL: sha256) names the digest computed over the body.
 * 0 on a 2xx; -1 otherwise, with "GET URL: invalid response status N" for an HTTP error
 * (res->status still says which). */
int sw_registry_fetch_url (sw_registry *r, const char *url, const char *digest_alg,
                           sw_write_fn sink, void *ud, sw_fetch_result *res, sw_error **err);

#endif
