/* Unit tests for RUN --mount as the engine and the sandbox receive it (the front end's
 * sw_df_run_mount_parse + sw_df_run_mount_finish), the --secret/--ssh sources of
 * sandbox/mounts, and store/state helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "dockerfile/instructions.h"
#include "sandbox/mounts.h"
#include "sandbox/sandbox.h"
#include "store/state.h"

/* parse + finish, as exec/stage.c and sw_debug_run do */
static int
mount (const char *spec, unsigned ssh_index, const char *workdir, sw_df_run_mount *m,
       sw_error **err)
{
  int rc = sw_df_run_mount_parse (spec, m, err);
  if (rc == 0 && (rc = sw_df_run_mount_finish (m, ssh_index, workdir, err)) < 0)
    sw_df_run_mount_clear (m);
  return rc;
}

static void
bind_defaults (void **state)
{
  sw_df_run_mount m;
  assert_int_equal (mount ("target=/src", 0, NULL, &m, NULL), 0);
  assert_int_equal (m.type, SW_DF_MOUNT_BIND);
  assert_string_equal (m.target, "/src");
  assert_string_equal (m.source, ".");
  assert_true (m.readonly);
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=bind,from=build,source=/out,target=/o,rw", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.from, "build");
  assert_string_equal (m.source, "/out");
  assert_false (m.readonly);
  sw_df_run_mount_clear (&m);
  /* a relative target is joined to the workdir, as BuildKit does */
  assert_int_equal (mount ("target=rel", 0, "/work", &m, NULL), 0);
  assert_string_equal (m.target, "/work/rel");
  sw_df_run_mount_clear (&m);
}

static void
keys_and_types_are_case_insensitive (void **state)
{
  sw_df_run_mount m;
  assert_int_equal (mount ("Type=Cache,Target=/c,ID=x,Sharing=Locked", 0, NULL, &m, NULL), 0);
  assert_int_equal (m.type, SW_DF_MOUNT_CACHE);
  assert_string_equal (m.target, "/c");
  assert_string_equal (m.id, "x");
  assert_int_equal (m.sharing, SW_DF_SHARING_LOCKED);
  sw_df_run_mount_clear (&m);
}

static void
cache_defaults_and_options (void **state)
{
  sw_df_run_mount m;
  assert_int_equal (mount ("type=cache,target=/root/.cache", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.id, "/root/.cache");
  assert_int_equal (m.sharing, SW_DF_SHARING_SHARED);
  assert_int_equal (m.mode, 0755);
  assert_false (m.readonly);
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=cache,id=go,target=/go,sharing=locked,uid=1000,gid=1001,mode=0700", 0,
                           NULL, &m, NULL), 0);
  assert_string_equal (m.id, "go");
  assert_int_equal (m.sharing, SW_DF_SHARING_LOCKED);
  assert_int_equal (m.uid, 1000);
  assert_int_equal (m.gid, 1001);
  assert_int_equal (m.mode, 0700);
  sw_df_run_mount_clear (&m);
  /* from=: the cache is seeded from that tree; source= is a path in it ("." by default) */
  assert_int_equal (mount ("type=cache,from=deps,target=/c", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.from, "deps");
  assert_string_equal (m.source, ".");
  assert_string_equal (m.id, "/c");
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=cache,from=deps,source=/out,target=/c", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.source, "/out");
  sw_df_run_mount_clear (&m);
}

static void
secret_and_ssh_defaults (void **state)
{
  sw_df_run_mount m;
  assert_int_equal (mount ("type=secret,id=npm", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.target, "/run/secrets/npm");
  assert_int_equal (m.mode, 0400);
  assert_false (m.required);
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=secret,target=/root/.npmrc,required", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.id, ".npmrc");
  assert_true (m.required);
  sw_df_run_mount_clear (&m);
  /* env= alone: the secret is only that variable, no file */
  assert_int_equal (mount ("type=secret,id=tok,env=TOKEN", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.env, "TOKEN");
  assert_null (m.target);
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=secret,id=tok,env=TOKEN,target=/t", 0, NULL, &m, NULL), 0);
  assert_string_equal (m.target, "/t");
  sw_df_run_mount_clear (&m);
  assert_int_equal (mount ("type=ssh", 1, NULL, &m, NULL), 0);
  assert_string_equal (m.id, "default");
  assert_string_equal (m.target, "/run/buildkit/ssh_agent.1");
  assert_int_equal (m.mode, 0600);
  sw_df_run_mount_clear (&m);
}

static void
bad_specs_are_errors (void **state)
{
  static const char *const bad[] = { "type=cache", "type=bogus,target=/x", "target=/x,frob=1",
                                     "type=cache,target=/x,sharing=sometimes", "type=cache,target=/x,mode=99",
                                     "type=tmpfs,target=/x,size=lots", "type=secret",
                                     "type=bind,target=/x,ro=maybe", "type=cache,target=/x,source=/y",
                                     "type=bind,target=/x,uid=1", NULL };
  for (const char *const *b = bad; *b; b++)
    {
      sw_df_run_mount m;
      cleanup_error sw_error *err = NULL;
      if (mount (*b, 0, NULL, &m, &err) == 0)
        fail_msg ("accepted: %s", *b);
      assert_non_null (err);
    }
}

static void
secret_sources (void **state)
{
  sw_secret_src s;
  assert_int_equal (sw_secret_src_parse ("id=a,src=/tmp/a", &s, NULL), 0);
  assert_string_equal (s.path, "/tmp/a");
  assert_null (s.env);
  sw_secret_src_clear (&s);
  assert_int_equal (sw_secret_src_parse ("id=TOKEN", &s, NULL), 0);
  assert_string_equal (s.env, "TOKEN");
  sw_secret_src_clear (&s);
  assert_int_equal (sw_secret_src_parse ("id=t,type=env,src=GH", &s, NULL), 0);
  assert_string_equal (s.env, "GH");
  assert_null (s.path);
  sw_secret_src_clear (&s);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_secret_src_parse ("src=/x", &s, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "--secret src=/x"));
  assert_int_equal (sw_secret_src_parse ("id=x,type=file", &s, NULL), -1);
}

static void
failure_message_quotes_like_go (void **state)
{
  const char *argv[] = { "/bin/sh", "-c", "echo \"hi\" \\ done\n", NULL };
  cleanup_free char *d = sw_sandbox_describe_argv (argv);
  assert_string_equal (d, "\"/bin/sh -c echo \\\"hi\\\" \\\\ done\\n\"");
}

static void
sizes_parse (void **state)
{
  uint64_t b;
  assert_int_equal (sw_parse_size ("10G", &b), 0);
  assert_int_equal (b, 10ULL << 30);
  assert_int_equal (sw_parse_size ("512MiB", &b), 0);
  assert_int_equal (b, 512ULL << 20);
  assert_int_equal (sw_parse_size ("1.5k", &b), 0);
  assert_int_equal (b, 1536);
  assert_int_equal (sw_parse_size ("123", &b), 0);
  assert_int_equal (b, 123);
  assert_int_equal (sw_parse_size ("12Q", &b), -1);
  assert_int_equal (sw_parse_size ("", &b), -1);
}

static void
network_modes (void **state)
{
  sw_net_mode m;
  assert_int_equal (sw_net_mode_parse ("none", &m, NULL), 0);
  assert_int_equal (m, SW_NET_NONE);
  assert_int_equal (sw_net_mode_parse (NULL, &m, NULL), 0);
  assert_int_equal (m, SW_NET_DEFAULT);
  assert_int_equal (sw_net_mode_parse ("bridge", &m, NULL), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (bind_defaults),
    cmocka_unit_test (keys_and_types_are_case_insensitive),
    cmocka_unit_test (cache_defaults_and_options),
    cmocka_unit_test (secret_and_ssh_defaults),
    cmocka_unit_test (bad_specs_are_errors),
    cmocka_unit_test (secret_sources),
    cmocka_unit_test (failure_message_quotes_like_go),
    cmocka_unit_test (sizes_parse),
    cmocka_unit_test (network_modes),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
