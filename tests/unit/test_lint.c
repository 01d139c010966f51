/* Unit tests for dockerfile/lint (BuildKit's build checks) and sandbox/limits' parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "dockerfile/lint.h"
#include "sandbox/limits.h"

/* "Rule@line: detail" lines of every finding for text. */
static char *
lint (const char *text)
{
  sw_dockerfile *df = NULL;
  cleanup_error sw_error *err = NULL;
  if (sw_dockerfile_parse (text, strlen (text), "Dockerfile", &df, &err) < 0)
    fail_msg ("parse: %s", sw_error_message (err));
  sw_df_finding *f;
  size_t n;
  sw_df_lint (df, &f, &n);
  char *out = NULL;
  size_t len = 0;
  FILE *m = open_memstream (&out, &len);
  for (size_t i = 0; i < n; i++)
    fprintf (m, "%s@%d: %s\n", f[i].rule, f[i].line, f[i].detail);
  fclose (m);
  sw_df_findings_free (f, n);
  sw_dockerfile_free (df);
  return out;
}

static void
expect_lint (const char *text, const char *want)
{
  cleanup_free char *got = lint (text);
  assert_string_equal (got, want);
}

static void
clean_dockerfile_has_no_findings (void **state)
{
  expect_lint ("FROM busybox AS build\nRUN true\nWORKDIR /app\nCMD [\"sh\"]\n", "");
}

static void
stage_names_and_casing (void **state)
{
  expect_lint ("FROM a as Build\nfrom b AS build\nRUN x\nFROM c AS scratch\n",
               "StageNameCasing@1: Stage name 'Build' should be lowercase\n"
               "FromAsCasing@1: 'as' and 'FROM' keywords' casing do not match\n"
               "DuplicateStageName@2: Duplicate stage name \"build\", stage names should be unique\n"
               "FromAsCasing@2: 'AS' and 'from' keywords' casing do not match\n"
               "ConsistentInstructionCasing@2: Command 'from' should match the case of the command majority (uppercase)\n"
               "ReservedStageName@4: Stage name should not use the same name as reserved stage \"scratch\"\n");
}

static void
stage_rules (void **state)
{
  expect_lint ("FROM a\nMAINTAINER me\nENV K v\nLABEL l=1\nWORKDIR rel\nWORKDIR rel2\nCMD echo\nCMD [\"x\"]\n"
               "ENTRYPOINT run\nARG API_TOKEN\nARG PUBLIC_KEY\nENV DB_PASSWORD=x\n",
               "MaintainerDeprecated@2: Maintainer instruction is deprecated in favor of using label\n"
               "LegacyKeyValueFormat@3: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format\n"
               "WorkdirRelativePath@5: Relative workdir \"rel\" can have unexpected results if the base image changes\n"
               "JSONArgsRecommended@7: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n"
               "MultipleInstructionsDisallowed@7: Multiple CMD instructions should not be used in the same stage because only the last one will be used\n"
               "JSONArgsRecommended@9: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals\n"
               "SecretsUsedInArgOrEnv@10: Do not use ARG or ENV instructions for sensitive data (ARG \"API_TOKEN\")\n"
               "SecretsUsedInArgOrEnv@12: Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\")\n");
}

static void
shell_form_after_shell_is_fine (void **state)
{
  expect_lint ("FROM a\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo\n", "");
}

static void
from_args_and_platform (void **state)
{
  expect_lint ("ARG TAG=1\nARG EMPTY\nFROM img:${TAG}\nFROM img:${NOPE}\nFROM ${EMPTY}\n"
               "FROM --platform=linux/amd64 x\nFROM --platform=linux/arm64 x AS build-arm64\n"
               "FROM --platform=$TARGETPLATFORM x\nFROM --platform=$BUILDPLATFORM x\n",
               "InvalidDefaultArgInFrom@4: Default value for ARG img:${NOPE} results in empty or invalid base image name\n"
               "UndefinedArgInFrom@4: FROM argument 'NOPE' is not declared\n"
               "InvalidDefaultArgInFrom@5: Default value for ARG ${EMPTY} results in empty or invalid base image name\n"
               "FromPlatformFlagConstDisallowed@6: FROM --platform flag should not use constant value \"linux/amd64\"\n"
               "RedundantTargetPlatform@8: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior\n");
}

static void
empty_continuation_and_skip (void **state)
{
  expect_lint ("FROM a\nRUN a \\\n\n  b\n", "NoEmptyContinuation@4: Empty continuation line\n");
  expect_lint ("# check=skip=NoEmptyContinuation,MaintainerDeprecated\nFROM a\nMAINTAINER x\nRUN a \\\n\n  b\n", "");
  expect_lint ("# check=skip=all\nFROM a as B\n", "");
}

static void
shm_size (void **state)
{
  uint64_t v;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_shm_size_parse ("134217728", &v, &err), 0);
  assert_int_equal (v, 134217728);
  assert_int_equal (sw_shm_size_parse ("128m", &v, &err), 0);
  assert_int_equal (v, 128u << 20);
  assert_int_equal (sw_shm_size_parse ("1GiB", &v, &err), 0);
  assert_int_equal (v, 1u << 30);
  assert_int_equal (sw_shm_size_parse ("1.5k", &v, &err), 0);
  assert_int_equal (v, 1536);
  assert_int_equal (sw_shm_size_parse ("0", &v, &err), -1);
  sw_error_free (err), err = NULL;
  assert_int_equal (sw_shm_size_parse ("-1m", &v, &err), -1);
  sw_error_free (err), err = NULL;
  assert_int_equal (sw_shm_size_parse ("12q", &v, &err), -1);
}

static void
ulimit (void **state)
{
  sw_ulimit u;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_ulimit_parse ("nofile=1024:2048", &u, &err), 0);
  assert_int_equal (u.resource, RLIMIT_NOFILE);
  assert_int_equal (u.soft, 1024);
  assert_int_equal (u.hard, 2048);
  assert_int_equal (sw_ulimit_parse ("nproc=100", &u, &err), 0);
  assert_int_equal (u.hard, 100);
  assert_int_equal (sw_ulimit_parse ("core=-1", &u, &err), 0);
  assert_true (u.soft == (uint64_t) RLIM_INFINITY);
  assert_int_equal (sw_ulimit_parse ("nofile=10:5", &u, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "greater than hard"));
  sw_error_free (err), err = NULL;
  assert_int_equal (sw_ulimit_parse ("what=1", &u, &err), -1);
  sw_error_free (err), err = NULL;
  assert_int_equal (sw_ulimit_parse ("nofile", &u, &err), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (clean_dockerfile_has_no_findings),
    cmocka_unit_test (stage_names_and_casing),
    cmocka_unit_test (stage_rules),
    cmocka_unit_test (shell_form_after_shell_is_fine),
    cmocka_unit_test (from_args_and_platform),
    cmocka_unit_test (empty_continuation_and_skip),
    cmocka_unit_test (shm_size),
    cmocka_unit_test (ulimit),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
