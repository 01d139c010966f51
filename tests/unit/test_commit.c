/* Unit tests for exec/commit: the config edits and history strings BuildKit writes, byte
 * for byte (`docker history` and the config digest depend on them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/ast.h"
#include "dockerfile/instructions.h"
#include "exec/commit.h"

static const char *
no_vars (const char *name, void *userdata)
{
  return NULL;
}

/* Apply every instruction after FROM of text to st; returns what the last one returned. */
static int
apply (sw_commit_state *st, const char *text, sw_error **err)
{
  sw_dockerfile *df = NULL;
  int r = 0;
  assert_int_equal (sw_dockerfile_parse (text, strlen (text), "Dockerfile", &df, NULL), 0);
  for (size_t i = 1; i < df->ast->n_children; i++)
    {
      sw_df_instr *raw = NULL, *in = NULL;
      sw_error *perr = NULL;
      if (sw_df_instr_parse (df, df->ast->children[i], &raw, &perr) < 0)
        fail_msg ("parse: %s", sw_error_message (perr));
      assert_int_equal (sw_df_instr_expand (df, raw, df->escape, no_vars, NULL, &in, NULL), 0);
      r = sw_commit_metadata (st, df, in, err);
      sw_df_instr_free (raw);
      sw_df_instr_free (in);
    }
  sw_dockerfile_free (df);
  return r;
}

static const char *
last_history (const sw_commit_state *st)
{
  assert_true (st->config->n_history > 0);
  return st->config->history[st->config->n_history - 1].created_by;
}

/* one instruction on a fresh config: its history text */
static void
expect_history (const char *instr, const char *want)
{
  sw_commit_state st = { .config = sw_image_config_new () };
  cleanup_free char *text = sw_xasprintf ("FROM scratch\n%s\n", instr);
  sw_error *err = NULL;
  if (apply (&st, text, &err) < 0)
    fail_msg ("%s: %s", instr, sw_error_message (err));
  if (strcmp (last_history (&st), want) != 0)
    fail_msg ("%s: history \"%s\", want \"%s\"", instr, last_history (&st), want);
  sw_image_config_free (st.config);
}

static void
metadata_history_strings (void **state)
{
  expect_history ("CMD [\"a\", \"b\"]", "CMD [\"a\" \"b\"]");
  expect_history ("CMD echo hi", "CMD [\"/bin/sh\" \"-c\" \"echo hi\"]");
  expect_history ("CMD [\"tab\\there\"]", "CMD [\"tab\\there\"]");
  expect_history ("ENTRYPOINT [\"/entry\"]", "ENTRYPOINT [\"/entry\"]");
  expect_history ("ENV A=1 B=\"two words\"", "ENV A=1 B=two words");
  expect_history ("LABEL a=b c=\"d e\"", "LABEL a=b c=d e");
  expect_history ("USER nobody:nogroup", "USER nobody:nogroup");
  expect_history ("VOLUME /data /logs", "VOLUME [/data /logs]");
  expect_history ("VOLUME [\"/a\"]", "VOLUME [/a]");
  expect_history ("EXPOSE 80 53/udp", "EXPOSE [53/udp 80/tcp]");
  expect_history ("EXPOSE 8000-8001", "EXPOSE [8000/tcp 8001/tcp]");
  expect_history ("STOPSIGNAL SIGQUIT", "STOPSIGNAL SIGQUIT");
  expect_history ("SHELL [\"/bin/bash\", \"-ec\"]", "SHELL [/bin/bash -ec]");
  expect_history ("MAINTAINER someone@example.com", "MAINTAINER someone@example.com");
}

static void
healthcheck_formats (void **state)
{
  expect_history ("HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD wget -q localhost || exit 1",
                  "HEALTHCHECK {Test:[CMD-SHELL wget -q localhost || exit 1] Interval:30s Timeout:5s "
                  "StartPeriod:0s StartInterval:0s Retries:2}");
  expect_history ("HEALTHCHECK --interval=1m30s --start-period=500ms CMD [\"/check\", \"-v\"]",
                  "HEALTHCHECK {Test:[CMD /check -v] Interval:1m30s Timeout:0s StartPeriod:500ms "
                  "StartInterval:0s Retries:0}");
  expect_history ("HEALTHCHECK NONE", "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s "
                                      "StartInterval:0s Retries:0}");

  sw_commit_state st = { .config = sw_image_config_new () };
  assert_int_equal (apply (&st, "FROM scratch\nHEALTHCHECK --interval=30s --retries=2 CMD true\n", NULL), 0);
  /* docker's HealthConfig: omitempty fields, durations in nanoseconds */
  assert_string_equal (st.config->healthcheck_json,
                       "{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":30000000000,\"Retries\":2}");
  sw_image_config_free (st.config);
}

static void
empty_layer_and_dates (void **state)
{
  sw_commit_state st = { .config = sw_image_config_new () };
  assert_int_equal (apply (&st, "FROM scratch\nENV A=1\n", NULL), 0);
  sw_commit_history (&st, "RUN /bin/sh -c true # buildkit", true);
  sw_history *h = st.config->history;
  assert_int_equal (st.config->n_history, 2);
  assert_true (h[0].empty_layer);   /* metadata: no layer */
  assert_string_equal (h[0].comment, SW_HISTORY_COMMENT);
  assert_false (h[1].empty_layer);
  /* a layer entry dated with its step's time, RFC 3339 with nanoseconds (BuildKit's
   * RFC3339Nano: trailing zeros of the fraction dropped); a metadata entry left for the
   * export to date ("") from the layer steps around it, which the cache keeps */
  assert_string_equal (h[0].created, "");
  for (int i = 1; i < 2; i++)
    {
      int y, mo, d, hh, mi, ss;
      char rest[32] = "";
      assert_non_null (h[i].created);
      assert_int_equal (sscanf (h[i].created, "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &hh, &mi, &ss, rest), 7);
      assert_true (y >= 2024);
      assert_true (strcmp (rest, "Z") == 0 || (rest[0] == '.' && strlen (rest) <= 11 && rest[strlen (rest) - 1] == 'Z'
                                               && rest[strlen (rest) - 2] != '0'));
    }
  sw_image_config_free (st.config);

  /* with SOURCE_DATE_EPOCH every entry carries the epoch */
  sw_commit_state ep = { .config = sw_image_config_new (), .epoch = "1970-01-01T00:00:00Z" };
  sw_commit_history (&ep, "ENV A=1", false);
  sw_commit_history (&ep, "COPY a /b # buildkit", true);
  assert_string_equal (ep.config->history[0].created, "1970-01-01T00:00:00Z");
  assert_string_equal (ep.config->history[1].created, "1970-01-01T00:00:00Z");
  sw_image_config_free (ep.config);
}

static void
run_strings (void **state)
{
  char *args[] = { "/bin/sh", "-c", "echo \"$X\" > /f", NULL };
  char *one[] = { "A=b", NULL };
  char *two[] = { "A=b", "C=d e", NULL };
  cleanup_free char *plain = sw_commit_run_string (args, NULL);
  cleanup_free char *with1 = sw_commit_run_string (args, one);
  cleanup_free char *with2 = sw_commit_run_string (args, two);
  assert_string_equal (plain, "/bin/sh -c echo \"$X\" > /f");
  assert_string_equal (with1, "|1 A=b /bin/sh -c echo \"$X\" > /f");
  assert_string_equal (with2, "|2 A=b C=d e /bin/sh -c echo \"$X\" > /f");

  sw_image_config *c = sw_image_config_new ();
  cleanup_strv char **sh = sw_commit_with_shell (c, "make");
  assert_string_equal (sh[0], "/bin/sh");
  assert_string_equal (sh[1], "-c");
  assert_string_equal (sh[2], "make");
  assert_null (sh[3]);
  sw_image_config_free (c);
}

static void
cmd_and_entrypoint (void **state)
{
  sw_commit_state st = { .config = sw_image_config_new () };
  assert_int_equal (apply (&st, "FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\nCMD run\n", NULL), 0);
  assert_string_equal (st.config->cmd[0], "/bin/bash"); /* shell form goes through SHELL */
  assert_string_equal (last_history (&st), "CMD [\"/bin/bash\" \"-c\" \"run\"]");
  assert_true (st.config->args_escaped);
  /* ENTRYPOINT after CMD in the same stage keeps the CMD */
  assert_int_equal (apply (&st, "FROM scratch\nENTRYPOINT [\"/e\"]\n", NULL), 0);
  assert_non_null (st.config->cmd);
  sw_image_config_free (st.config);

  /* an inherited CMD is reset by ENTRYPOINT */
  sw_commit_state inh = { .config = sw_image_config_new () };
  sw_strlist_push (&inh.config->cmd, "inherited");
  assert_int_equal (apply (&inh, "FROM scratch\nENTRYPOINT [\"/e\"]\n", NULL), 0);
  assert_null (inh.config->cmd);
  sw_image_config_free (inh.config);
}

static void
env_list (void **state)
{
  cleanup_strv char **env = NULL;
  sw_env_set (&env, "PATH", "/bin");
  sw_env_set (&env, "A", "1");
  sw_env_set (&env, "PATH", "/usr/bin");
  assert_string_equal (env[0], "PATH=/usr/bin"); /* replaced in place */
  assert_string_equal (sw_env_get (env, "A"), "1");
  assert_null (sw_env_get (env, "PAT"));
  assert_null (env[2]);
}

static void
bad_values_are_located (void **state)
{
  const char *bad[][2] = { { "EXPOSE 80/sctpx", "Dockerfile:2" },
                           { "STOPSIGNAL SIGNOPE", "invalid signal: SIGNOPE" },
                           { "VOLUME [\"$UNSET\"]", "VOLUME specified can not be an empty string" } };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      sw_commit_state st = { .config = sw_image_config_new () };
      sw_error *err = NULL;
      cleanup_free char *text = sw_xasprintf ("FROM scratch\n%s\n", bad[i][0]);
      assert_int_equal (apply (&st, text, &err), -1);
      if (strstr (sw_error_message (err), bad[i][1]) == NULL)
        fail_msg ("%s: \"%s\" lacks \"%s\"", bad[i][0], sw_error_message (err), bad[i][1]);
      sw_error_free (err);
      sw_image_config_free (st.config);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (metadata_history_strings),
    cmocka_unit_test (healthcheck_formats),
    cmocka_unit_test (empty_layer_and_dates),
    cmocka_unit_test (run_strings),
    cmocka_unit_test (cmd_and_entrypoint),
    cmocka_unit_test (env_list),
    cmocka_unit_test (bad_values_are_located),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
