/* Unit tests for exec/build.c: every option's good and bad values, messages that name the
 * flag and the value, list options appending, and the knobs' environment defaults. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "exec/build.h"
#include "registry/client.h"

/* set must fail, and its message contain each of the NULL-terminated words */
static void
expect_bad (sw_build *b, sw_option opt, const char *value, ...)
{
  sw_error *err = NULL;
  va_list ap;
  assert_int_equal (sw_build_set (b, opt, value, &err), -1);
  assert_non_null (err);
  va_start (ap, value);
  for (const char *w = va_arg (ap, const char *); w; w = va_arg (ap, const char *))
    if (strstr (sw_error_message (err), w) == NULL)
      fail_msg ("\"%s\" lacks \"%s\"", sw_error_message (err), w);
  va_end (ap);
  sw_error_free (err);
}

static void
expect_ok (sw_build *b, sw_option opt, const char *value)
{
  sw_error *err = NULL;
  if (sw_build_set (b, opt, value, &err) < 0)
    fail_msg ("option %d \"%s\": %s", (int) opt, value ? value : "(null)", sw_error_message (err));
}

/* Events made on other threads (stages running at once) reach the callback on the build's
 * thread, each thread's in order, with their strings intact and their time stamped. */
struct seen
{
  pthread_t owner;
  bool wrong_thread;
  int n, last[2];
  bool out_of_order, time_missing;
};

static void
on_event (const sw_event *ev, void *userdata)
{
  struct seen *s = userdata;
  int who, k;
  s->wrong_thread |= !pthread_equal (s->owner, pthread_self ());
  s->time_missing |= ev->time <= 0;
  if (ev->text && sscanf (ev->text, "t%d line %d", &who, &k) == 2 && who >= 0 && who < 2)
    {
      s->out_of_order |= k != s->last[who] + 1;
      s->last[who] = k;
      s->n++;
    }
}

struct emitter
{
  sw_build *b;
  int who;
};

static void *
emit_lines (void *arg)
{
  struct emitter *em = arg;
  for (int k = 1; k <= 200; k++)
    {
      char text[32];
      snprintf (text, sizeof text, "t%d line %d", em->who, k);
      sw_event ev = { .kind = SW_EVENT_STEP_LOG, .id = em->who + 1, .text = text, .stream = 1 };
      sw_build_emit (em->b, &ev);
    }
  sw_build_wake (em->b);
  return NULL;
}

static void
events_reach_the_callers_thread (void **state)
{
  sw_build *b = sw_build_new ();
  struct seen s = { .owner = pthread_self () };
  pthread_t t[2];
  struct emitter em[2] = { { b, 0 }, { b, 1 } };
  sw_build_set_event_callback (b, on_event, &s);
  for (int i = 0; i < 2; i++)
    assert_int_equal (pthread_create (&t[i], NULL, emit_lines, &em[i]), 0);
  for (int i = 0; i < 200 && s.n < 400; i++)
    sw_build_pump (b, 0.05);
  for (int i = 0; i < 2; i++)
    pthread_join (t[i], NULL);
  sw_build_pump (b, 0);
  assert_int_equal (s.n, 400);
  assert_false (s.wrong_thread);
  assert_false (s.out_of_order);
  assert_false (s.time_missing);
  sw_build_free (b);
}

static void
strings_replace (void **state)
{
  sw_build *b = sw_build_new ();
  assert_string_equal (b->context, ".");
  expect_ok (b, SW_OPT_CONTEXT, "/ctx");
  expect_ok (b, SW_OPT_CONTEXT, "/ctx2");
  assert_string_equal (b->context, "/ctx2");
  expect_ok (b, SW_OPT_DOCKERFILE, "-");
  expect_ok (b, SW_OPT_TARGET, "build");
  expect_ok (b, SW_OPT_METADATA_FILE, "/m.json");
  expect_ok (b, SW_OPT_IIDFILE, "/iid");
  expect_ok (b, SW_OPT_STATE_DIR, "/state");
  assert_string_equal (b->dockerfile, "-");
  assert_string_equal (b->target, "build");
  assert_string_equal (b->state_dir, "/state");
  expect_bad (b, SW_OPT_TARGET, NULL, "needs a value", NULL);
  sw_build_free (b);
}

static void
network (void **state)
{
  sw_build *b = sw_build_new ();
  assert_string_equal (b->network, "default");
  expect_ok (b, SW_OPT_NETWORK, "none");
  expect_ok (b, SW_OPT_NETWORK, "host");
  assert_string_equal (b->network, "host");
  expect_bad (b, SW_OPT_NETWORK, "bridge", "network", "\"bridge\"", "default, none or host", NULL);
  assert_string_equal (b->network, "host"); /* a bad value changes nothing */
  sw_build_free (b);
}

static void
booleans (void **state)
{
  sw_build *b = sw_build_new ();
  expect_ok (b, SW_OPT_PUSH, "true");
  assert_true (b->push);
  expect_ok (b, SW_OPT_PUSH, "false");
  assert_false (b->push);
  expect_ok (b, SW_OPT_PUSH, NULL); /* a bare flag */
  assert_true (b->push);
  expect_ok (b, SW_OPT_LOAD, "1");
  assert_true (b->load);
  expect_ok (b, SW_OPT_NO_CACHE, "0");
  assert_false (b->no_cache);
  expect_ok (b, SW_OPT_PULL, "true");
  assert_true (b->pull);
  expect_bad (b, SW_OPT_PUSH, "yes please", "--push", "yes please", NULL);
  expect_bad (b, SW_OPT_LOAD, "maybe", "--load", NULL);
  expect_bad (b, SW_OPT_NO_CACHE, "2", "--no-cache", NULL);
  expect_bad (b, SW_OPT_PULL, "", "--pull", NULL);
  sw_build_free (b);
}

static void
lists_append_and_check (void **state)
{
  sw_build *b = sw_build_new ();
  expect_ok (b, SW_OPT_TAG, "a:1");
  expect_ok (b, SW_OPT_TAG, "b:2");
  assert_int_equal (b->tags.n, 2);
  assert_string_equal (b->tags.v[1], "b:2");
  assert_null (b->tags.v[2]);

  expect_ok (b, SW_OPT_BUILD_ARG, "A=1");
  expect_ok (b, SW_OPT_BUILD_ARG, "FROM_ENV");
  expect_bad (b, SW_OPT_BUILD_ARG, "=1", "build arg", "\"=1\"", NULL);
  expect_bad (b, SW_OPT_BUILD_ARG, "", "build arg", NULL);
  assert_int_equal (b->build_args.n, 2);

  expect_ok (b, SW_OPT_PLATFORM, "linux/amd64,linux/arm64");
  expect_ok (b, SW_OPT_PLATFORM, "linux/riscv64");
  assert_int_equal (b->platforms.n, 3);
  assert_string_equal (b->platforms.v[1], "linux/arm64");

  expect_ok (b, SW_OPT_LABEL, "a=b");
  expect_ok (b, SW_OPT_LABEL, "empty=");
  expect_bad (b, SW_OPT_LABEL, "novalue", "--label", "novalue", "KEY=VALUE", NULL);
  expect_bad (b, SW_OPT_LABEL, "=x", "--label", NULL);
  assert_int_equal (b->labels.n, 2);

  expect_ok (b, SW_OPT_ANNOTATION, "index:k=v");
  expect_bad (b, SW_OPT_ANNOTATION, "k", "--annotation", NULL);

  expect_ok (b, SW_OPT_ADD_HOST, "h:1.2.3.4");
  expect_ok (b, SW_OPT_ADD_HOST, "h=1.2.3.4");
  expect_bad (b, SW_OPT_ADD_HOST, "h", "--add-host", "\"h\"", "HOST:IP", NULL);

  expect_ok (b, SW_OPT_BUILD_CONTEXT, "base=docker-image://alpine");
  expect_bad (b, SW_OPT_BUILD_CONTEXT, "base", "--build-context", NULL);

  expect_ok (b, SW_OPT_OUTPUT, "type=registry");
  expect_ok (b, SW_OPT_SECRET, "id=a,src=/dev/null");
  expect_ok (b, SW_OPT_SSH, "default");
  expect_ok (b, SW_OPT_INSECURE_REGISTRY, "r:5000");
  assert_int_equal (b->outputs.n + b->secrets.n + b->ssh.n + b->insecure_registries.n, 4);
  sw_build_free (b);
}

/* --allow: buildx's CSV list of the two entitlements slipway enforces.  A grant (bake's
 * --allow) passes over names slipway never asks for; once one is set, a build asking beyond
 * it is refused by the run before any work, naming the flag that grants what is missing. */
static void
entitlements_and_grants (void **state)
{
  sw_build *b = sw_build_new ();
  sw_error *err = NULL;
  expect_bad (b, SW_OPT_ALLOW, "network.host,fs.read=/x", "--allow", "\"fs.read=/x\"",
              "network.host and security.insecure", NULL);
  assert_false (b->allow_network_host); /* a refused value sets nothing */
  expect_bad (b, SW_OPT_ALLOW, "", "invalid --allow \"\"", NULL);
  expect_bad (b, SW_OPT_ALLOW, "\"network.host", "--allow", "extraneous or missing", NULL);
  expect_ok (b, SW_OPT_ALLOW, "\"network.host\",security.insecure");
  assert_true (b->allow_network_host);
  assert_true (b->allow_security_insecure);
  assert_int_equal (sw_build_check_grant (b, NULL), 0); /* no grant: --allow is its own */

  expect_ok (b, SW_OPT_GRANT, ""); /* grants none */
  assert_int_equal (sw_build_check_grant (b, &err), -1);
  assert_string_equal (sw_error_message (err),
                       "additional privileges requested: network.host (grant them with --allow network.host)");
  assert_int_equal (sw_error_code (err), EPERM);
  assert_int_equal (sw_error_category_of (err), SW_ERR_INPUT);
  sw_error_free (err);
  err = NULL;
  expect_ok (b, SW_OPT_GRANT, "fs.read=/x,network.host");
  assert_int_equal (sw_build_check_grant (b, &err), -1);
  assert_string_equal (sw_error_message (err),
                       "additional privileges requested: security.insecure (grant them with --allow security.insecure)");
  sw_error_free (err);
  err = NULL;
  expect_bad (b, SW_OPT_GRANT, "security.insecure\"", "--allow", "bare \"", NULL);
  expect_ok (b, SW_OPT_GRANT, "security.insecure");
  assert_int_equal (sw_build_check_grant (b, NULL), 0);
  sw_build_free (b);

  /* the run refuses first: the state dir it names is never made */
  char state_dir[64];
  snprintf (state_dir, sizeof state_dir, "/tmp/test_build_options.%d", (int) getpid ());
  b = sw_build_new ();
  expect_ok (b, SW_OPT_STATE_DIR, state_dir);
  expect_ok (b, SW_OPT_ALLOW, "security.insecure");
  expect_ok (b, SW_OPT_GRANT, "network.host");
  assert_int_equal (sw_build_run (b, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "security.insecure (grant them with --allow security.insecure)"));
  assert_int_equal (access (state_dir, F_OK), -1);
  sw_error_free (err);
  sw_build_free (b);
}

static void
unknown_option (void **state)
{
  sw_build *b = sw_build_new ();
  expect_bad (b, (sw_option) 99, "x", "unknown build option 99", NULL);
  expect_bad (b, (sw_option) 0, "x", "unknown build option 0", NULL);
  sw_build_free (b);
}

static void
knobs (void **state)
{
  sw_build *b = sw_build_new ();
  expect_ok (b, SW_OPT_CHUNK_SIZE, "1048576");
  assert_int_equal (b->chunk_size, 1048576);
  expect_bad (b, SW_OPT_CHUNK_SIZE, "1M", "SW_OPT_CHUNK_SIZE", "SLIPWAY_CHUNK_SIZE", "\"1M\"", NULL);
  expect_bad (b, SW_OPT_CHUNK_SIZE, "10", "SW_OPT_CHUNK_SIZE", NULL);
  expect_bad (b, SW_OPT_CHUNK_SIZE, "99999999999999999999", "SW_OPT_CHUNK_SIZE", NULL);
  assert_int_equal (b->chunk_size, 1048576);
  expect_ok (b, SW_OPT_RETRY_ATTEMPTS, "3");
  assert_int_equal (b->retry_attempts, 3);
  expect_bad (b, SW_OPT_RETRY_ATTEMPTS, "0", "SW_OPT_RETRY_ATTEMPTS", "SLIPWAY_RETRY_ATTEMPTS", NULL);
  expect_bad (b, SW_OPT_RETRY_ATTEMPTS, "-1", "SW_OPT_RETRY_ATTEMPTS", NULL);
  expect_ok (b, SW_OPT_RETRY_SECONDS, "20");
  assert_true (b->retry_seconds == 20.0);
  expect_bad (b, SW_OPT_RETRY_SECONDS, "2.5", "SW_OPT_RETRY_SECONDS", "SLIPWAY_RETRY_SECONDS", NULL);
  expect_ok (b, SW_OPT_SOURCE_DATE_EPOCH, "0");
  assert_int_equal (b->source_date_epoch, 0);
  expect_ok (b, SW_OPT_SOURCE_DATE_EPOCH, "1700000000");
  assert_int_equal (b->source_date_epoch, 1700000000);
  expect_bad (b, SW_OPT_SOURCE_DATE_EPOCH, "yesterday", "SOURCE_DATE_EPOCH", "seconds since 1970", NULL);
  expect_bad (b, SW_OPT_SOURCE_DATE_EPOCH, "-5", "SOURCE_DATE_EPOCH", NULL);
  expect_ok (b, SW_OPT_MAX_PARALLELISM, "3");
  assert_int_equal (b->max_parallelism, 3);
  expect_bad (b, SW_OPT_MAX_PARALLELISM, "0", "--max-parallelism", "from 1 to 1024", NULL);
  expect_bad (b, SW_OPT_MAX_PARALLELISM, "many", "--max-parallelism", NULL);
  expect_bad (b, SW_OPT_MAX_PARALLELISM, "1025", "--max-parallelism", NULL);
  assert_int_equal (b->max_parallelism, 3); /* a refused value changes nothing */
  expect_ok (b, SW_OPT_DAEMON_JSON, "/etc/d.json");
  assert_string_equal (b->daemon_json, "/etc/d.json");
  expect_ok (b, SW_OPT_QEMU_PATH, "/opt/qemu:/usr/bin");
  assert_string_equal (b->qemu_path, "/opt/qemu:/usr/bin");
  expect_bad (b, SW_OPT_QEMU_PATH, NULL, "needs a value", NULL);
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_STREAM);
  expect_ok (b, SW_OPT_LAYER_UPLOAD, "chunked");
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_CHUNKED);
  expect_bad (b, SW_OPT_LAYER_UPLOAD, "patch", "SW_OPT_LAYER_UPLOAD", "SLIPWAY_LAYER_UPLOAD", "stream, put or chunked",
              NULL);
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_CHUNKED);
  expect_ok (b, SW_OPT_LAYER_UPLOAD, "put");
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_PUT);
  expect_ok (b, SW_OPT_LAYER_UPLOAD, "stream");
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_STREAM);
  sw_build_free (b);
}

static void
knobs_default_to_the_environment (void **state)
{
  setenv ("SLIPWAY_CHUNK_SIZE", "2097152", 1);
  setenv ("SLIPWAY_RETRY_ATTEMPTS", "4", 1);
  setenv ("SLIPWAY_RETRY_SECONDS", "30", 1);
  setenv ("SLIPWAY_DAEMON_JSON", "/tmp/daemon.json", 1);
  setenv ("SLIPWAY_QEMU_PATH", "/q", 1);
  setenv ("SOURCE_DATE_EPOCH", "1234", 1);
  setenv ("SLIPWAY_LAYER_UPLOAD", "chunked", 1);
  sw_build *b = sw_build_new ();
  /* read once, at sw_build_new: a later change of the environment does not matter */
  setenv ("SLIPWAY_CHUNK_SIZE", "4194304", 1);
  assert_int_equal (b->chunk_size, 2097152);
  assert_int_equal (b->retry_attempts, 4);
  assert_true (b->retry_seconds == 30.0);
  assert_string_equal (b->daemon_json, "/tmp/daemon.json");
  assert_string_equal (b->qemu_path, "/q");
  assert_int_equal (b->source_date_epoch, 1234);
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_CHUNKED);
  assert_null (b->env_error);
  expect_ok (b, SW_OPT_CHUNK_SIZE, "1048576"); /* the option overrides */
  assert_int_equal (b->chunk_size, 1048576);
  sw_build_free (b);

  /* a bad variable is kept for the run to report, unless the option replaces it */
  setenv ("SLIPWAY_RETRY_ATTEMPTS", "many", 1);
  b = sw_build_new ();
  assert_non_null (b->env_error);
  assert_non_null (strstr (sw_error_message (b->env_error), "SLIPWAY_RETRY_ATTEMPTS"));
  assert_non_null (strstr (sw_error_message (b->env_error), "\"many\""));
  expect_ok (b, SW_OPT_RETRY_ATTEMPTS, "2");
  assert_null (b->env_error);
  sw_build_free (b);

  const char *vars[] = { "SLIPWAY_CHUNK_SIZE", "SLIPWAY_RETRY_ATTEMPTS", "SLIPWAY_RETRY_SECONDS",
                         "SLIPWAY_DAEMON_JSON", "SLIPWAY_QEMU_PATH", "SOURCE_DATE_EPOCH",
                         "SLIPWAY_LAYER_UPLOAD" };
  for (size_t i = 0; i < 7; i++)
    unsetenv (vars[i]);
  b = sw_build_new ();
  assert_int_equal (b->chunk_size, 0);
  assert_int_equal (b->retry_attempts, 0);
  assert_null (b->daemon_json);
  assert_null (b->qemu_path);
  assert_int_equal (b->source_date_epoch, -1);
  assert_int_equal (b->layer_upload, SW_LAYER_UPLOAD_STREAM);
  sw_build_free (b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (strings_replace),
    cmocka_unit_test (network),
    cmocka_unit_test (booleans),
    cmocka_unit_test (lists_append_and_check),
    cmocka_unit_test (entitlements_and_grants),
    cmocka_unit_test (unknown_option),
    cmocka_unit_test (knobs),
    cmocka_unit_test (knobs_default_to_the_environment),
    cmocka_unit_test (events_reach_the_callers_thread),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
