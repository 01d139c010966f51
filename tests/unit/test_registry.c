/* Unit tests for registry/: references, challenges, base64, credentials from config.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "registry/auth.h"
#include "registry/ref.h"

#define D "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
expect_ref (const char *in, const char *want)
{
  sw_ref *r = NULL;
  cleanup_error sw_error *err = NULL;
  if (sw_ref_parse (in, &r, &err) < 0)
    fail_msg ("%s: %s", in, sw_error_message (err));
  cleanup_free char *s = sw_ref_string (r);
  assert_string_equal (s, want);
  sw_ref_free (r);
}

static void
expect_bad (const char *in, const char *why)
{
  sw_ref *r = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_ref_parse (in, &r, &err), -1);
  if (strstr (sw_error_message (err), why) == NULL)
    fail_msg ("%s: got \"%s\", wanted \"%s\"", in, sw_error_message (err), why);
}

static void
refs_normalize_like_docker (void **state)
{
  expect_ref ("busybox", "docker.io/library/busybox:latest");
  expect_ref ("busybox:1.36", "docker.io/library/busybox:1.36");
  expect_ref ("user/app", "docker.io/user/app:latest");
  expect_ref ("index.docker.io/library/x", "docker.io/library/x:latest");
  expect_ref ("index.docker.io/x", "docker.io/library/x:latest");
  expect_ref ("localhost/x", "localhost/x:latest");
  expect_ref ("localhost:5000/x", "localhost:5000/x:latest");
  expect_ref ("127.0.0.1:5000/a/b:tag@" D, "127.0.0.1:5000/a/b:tag@" D);
  expect_ref ("ghcr.io/o/r@" D, "ghcr.io/o/r@" D);
  expect_ref ("[::1]:5000/x:y", "[::1]:5000/x:y");
  expect_ref ("Host.Example/a", "Host.Example/a:latest");
  expect_ref ("a/b__c.d-e--f", "docker.io/a/b__c.d-e--f:latest");
  expect_ref ("localhost:5000", "docker.io/library/localhost:5000");
  sw_ref *r = NULL;
  assert_int_equal (sw_ref_parse ("busybox", &r, NULL), 0);
  assert_string_equal (sw_ref_api_host (r), "registry-1.docker.io");
  assert_string_equal (sw_ref_reference (r), "latest");
  sw_ref_free (r);
  assert_int_equal (sw_ref_parse ("h:1/x@" D, &r, NULL), 0);
  assert_null (r->tag);
  assert_string_equal (sw_ref_reference (r), D);
  sw_ref_free (r);
}

static void
refs_refused_clearly (void **state)
{
  expect_bad ("", "required");
  expect_bad ("Busybox", "lowercase");
  expect_bad ("docker.io/Library/x", "lowercase");
  expect_bad ("x:-bad", "tag");
  expect_bad ("x@sha256:1234", "digest");
  expect_bad ("a//b", "path component");
  expect_bad ("a/b_", "path component");
  expect_bad ("-h:5000/x", "registry host");
  expect_bad ("x y", "whitespace");
  expect_bad ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "image ID");
  char longname[300];
  memset (longname, 'a', sizeof longname);
  longname[299] = '\0';
  expect_bad (longname, "255");
}

static void
challenges_parse (void **state)
{
  sw_challenge c;
  sw_challenge_parse ("Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\",error=\"invalid_token\"", &c);
  assert_int_equal (c.scheme, SW_AUTH_BEARER);
  assert_string_equal (c.realm, "https://auth.example/token");
  assert_string_equal (c.service, "registry.example");
  assert_string_equal (c.scope, "repository:a/b:pull,push");
  assert_string_equal (c.error, "invalid_token");
  sw_challenge_clear (&c);
  sw_challenge_parse ("Basic realm=\"Registry Realm\"", &c);
  assert_int_equal (c.scheme, SW_AUTH_BASIC);
  assert_string_equal (c.realm, "Registry Realm");
  sw_challenge_clear (&c);
  sw_challenge_parse ("Negotiate", &c);
  assert_int_equal (c.scheme, SW_AUTH_NONE);
  sw_challenge_clear (&c);
  sw_challenge_parse (NULL, &c);
  assert_int_equal (c.scheme, SW_AUTH_NONE);
}

static void
base64_roundtrip (void **state)
{
  cleanup_free char *e = sw_base64_encode ("user:pa:ss", 10);
  assert_string_equal (e, "dXNlcjpwYTpzcw==");
  size_t n;
  cleanup_free char *d = sw_base64_decode (e, &n);
  assert_int_equal (n, 10);
  assert_string_equal (d, "user:pa:ss");
  assert_null (sw_base64_decode ("abc", NULL));
}

static void
creds_from_config_json (void **state)
{
  char dir[] = "/tmp/sw-test-docker-XXXXXX";
  assert_non_null (mkdtemp (dir));
  setenv ("DOCKER_CONFIG", dir, 1);
  sw_creds *c = NULL;
  assert_int_equal (sw_creds_lookup ("r.example", &c, NULL), 0);
  assert_null (c);
  assert_int_equal (sw_auth_store ("r.example:5000", "alice", "s3cret", NULL, NULL), 0);
  assert_int_equal (sw_auth_store ("docker.io", "bob", "pw", NULL, NULL), 0);
  assert_int_equal (sw_creds_lookup ("r.example:5000", &c, NULL), 0);
  assert_non_null (c);
  assert_string_equal (c->username, "alice");
  assert_string_equal (c->password, "s3cret");
  sw_creds_free (c);
  c = NULL;
  assert_int_equal (sw_creds_lookup ("docker.io", &c, NULL), 0);
  assert_string_equal (c->username, "bob");
  sw_creds_free (c);
  /* the file is what docker writes: auths keyed by host, docker.io under its v1 URL */
  cleanup_free char *path = NULL;
  assert_true (asprintf (&path, "%s/config.json", dir) > 0);
  FILE *f = fopen (path, "r");
  char text[4096] = { 0 };
  size_t got = fread (text, 1, sizeof text - 1, f);
  fclose (f);
  assert_true (got > 0);
  assert_non_null (strstr (text, "\"https://index.docker.io/v1/\""));
  assert_non_null (strstr (text, "\"auth\": \"YWxpY2U6czNjcmV0\""));
  assert_int_equal (sw_auth_erase ("r.example:5000", NULL), 0);
  c = NULL;
  assert_int_equal (sw_creds_lookup ("r.example:5000", &c, NULL), 0);
  assert_null (c);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_auth_erase ("r.example:5000", &err), -1);
  assert_non_null (strstr (sw_error_message (err), "not logged in"));
  /* identity tokens and a broken auth value */
  f = fopen (path, "w");
  fputs ("{\"auths\":{\"t.example\":{\"auth\":\"\",\"identitytoken\":\"rt\"},\"b.example\":{\"auth\":\"!!!\"}}}", f);
  fclose (f);
  c = NULL;
  assert_int_equal (sw_creds_lookup ("t.example", &c, NULL), 0);
  assert_string_equal (c->identity_token, "rt");
  sw_creds_free (c);
  cleanup_error sw_error *e2 = NULL;
  assert_int_equal (sw_creds_lookup ("b.example", &c, &e2), -1);
  assert_non_null (strstr (sw_error_message (e2), "not base64"));
  unlink (path);
  rmdir (dir);
  unsetenv ("DOCKER_CONFIG");
}

/* An outage is told apart from a typo: a registry nobody listens on is SW_ERR_REGISTRY. */
static void
unreachable_registry_is_registry_error (void **state)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  assert_true (fd >= 0);
  assert_int_equal (bind (fd, (struct sockaddr *) &a, sizeof a), 0);
  assert_int_equal (getsockname (fd, (struct sockaddr *) &a, &len), 0);
  close (fd); /* the port is now closed: connections are refused */
  char ref[64];
  snprintf (ref, sizeof ref, "127.0.0.1:%d/x/y:1", ntohs (a.sin_port));
  setenv ("SLIPWAY_RETRY_ATTEMPTS", "1", 1);
  FILE *out = fopen ("/dev/null", "w");
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_imagetools_inspect (ref, NULL, 1, NULL, out, &err), -1);
  fclose (out);
  unsetenv ("SLIPWAY_RETRY_ATTEMPTS");
  assert_int_equal (sw_error_category_of (err), SW_ERR_REGISTRY);

  /* and a malformed reference is the caller's input, not the registry's */
  cleanup_error sw_error *e2 = NULL;
  out = fopen ("/dev/null", "w");
  assert_int_equal (sw_imagetools_inspect ("UPPER/Case::x", NULL, 1, NULL, out, &e2), -1);
  fclose (out);
  assert_int_equal (sw_error_category_of (e2), SW_ERR_INPUT);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (refs_normalize_like_docker),
    cmocka_unit_test (refs_refused_clearly),
    cmocka_unit_test (challenges_parse),
    cmocka_unit_test (base64_roundtrip),
    cmocka_unit_test (creds_from_config_json),
    cmocka_unit_test (unreachable_registry_is_registry_error),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
