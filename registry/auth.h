/* registry/auth.h — credentials and challenges.
 *
 * Credentials come from docker's client config ($DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json): credHelpers[host], then credsStore, through
 * `docker-credential-NAME get` (host on stdin, JSON on stdout); else auths[host] with
 * base64 "user:password" in "auth" (or "username"/"password") and "identitytoken".
 * docker.io is looked up as "https://index.docker.io/v1/" (and as "docker.io").
 *
 * Guarantees: secrets never reach a log call or an error message (errors name the host
 * and the helper, never the values); a missing or empty config means anonymous.
 */
#ifndef SW_REGISTRY_AUTH_H
#define SW_REGISTRY_AUTH_H

#include "common/error.h"

typedef struct sw_creds
{
  char *username;
  char *password;
  char *identity_token; /* an OAuth2 refresh token */
} sw_creds;

/* The config directory: $DOCKER_CONFIG or ~/.docker. */
char *sw_docker_config_dir (void);
/* The key docker uses in "auths" for a registry host. */
const char *sw_auth_config_key (const char *host);
/* Look up credentials for host (a reference's domain).  *out is NULL when there are none. */
int sw_creds_lookup (const char *host, sw_creds **out, sw_error **err);
void sw_creds_free (sw_creds *c);

/* A parsed WWW-Authenticate challenge. */
typedef struct sw_challenge
{
  int scheme; /* 0 none, 1 Basic, 2 Bearer */
  char *realm;
  char *service;
  char *scope;
  char *error;
} sw_challenge;

enum
{
  SW_AUTH_NONE = 0,
  SW_AUTH_BASIC = 1,
  SW_AUTH_BEARER = 2
};

void sw_challenge_parse (const char *header, sw_challenge *out);
void sw_challenge_clear (sw_challenge *c);

char *sw_base64_encode (const void *p, size_t n);
/* NULL when s is not valid base64. */
char *sw_base64_decode (const char *s, size_t *len);

/* login/logout: store or remove auths[key] in config.json, keeping every other field. */
int sw_auth_store (const char *host, const char *username, const char *password, const char *identity_token,
                   sw_error **err);
int sw_auth_erase (const char *host, sw_error **err);

#endif
