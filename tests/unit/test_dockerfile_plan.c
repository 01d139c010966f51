/* Unit tests for dockerfile/instructions and dockerfile/plan: ARG scoping with the values
 * BuildKit's documentation gives, --target pruning, dependency order, cycles, located
 * errors, instruction parsing and expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "dockerfile/ast.h"
#include "dockerfile/instructions.h"
#include "dockerfile/plan.h"

typedef struct fixture
{
  sw_dockerfile *df;
  sw_plan *plan;
} fixture;

static int
teardown (void **state)
{
  fixture *f = *state;
  if (f)
    {
      sw_plan_free (f->plan);
      sw_dockerfile_free (f->df);
      free (f);
    }
  *state = NULL;
  return 0;
}

/* Plan text; on failure return the error message (caller frees) and leave f->plan NULL. */
static char *
try_plan (void **state, const char *text, const char *target, const char *const *args,
          const char *target_platform)
{
  teardown (state);
  fixture *f = calloc (1, sizeof *f);
  *state = f;
  sw_error *err = NULL;
  if (sw_dockerfile_parse (text, strlen (text), "Dockerfile", &f->df, &err) < 0)
    {
      char *m = strdup (sw_error_message (err));
      sw_error_free (err);
      return m;
    }
  sw_plan_opts o = { .target = target, .build_args = args, .build_platform = "linux/amd64",
                     .target_platform = target_platform };
  if (sw_plan_new (f->df, &o, &f->plan, &err) < 0)
    {
      char *m = strdup (sw_error_message (err));
      sw_error_free (err);
      return m;
    }
  return NULL;
}

static sw_plan *
plan (void **state, const char *text, const char *target, const char *const *args,
      const char *target_platform)
{
  char *m = try_plan (state, text, target, args, target_platform);
  if (m)
    fail_msg ("unexpected error: %s", m);
  return ((fixture *) *state)->plan;
}

static void
assert_error (void **state, const char *text, const char *target, const char *const *args,
              const char *want_prefix)
{
  cleanup_free char *m = try_plan (state, text, target, args, NULL);
  if (!m)
    fail_msg ("no error, want \"%s\"", want_prefix);
  if (strncmp (m, want_prefix, strlen (want_prefix)) != 0)
    fail_msg ("error \"%s\", want \"%s…\"", m, want_prefix);
}

/* The value of key in stage s just before its instruction upto; NULL when unset. */
static char *
var (sw_plan *p, size_t s, size_t upto, const char *key)
{
  sw_plan_env *env = NULL;
  sw_error *err = NULL;
  if (sw_plan_env_at (p, s, upto, NULL, &env, &err) < 0)
    fail_msg ("env_at: %s", sw_error_message (err));
  const char *v = sw_plan_env_get (env, key);
  char *r = v ? strdup (v) : NULL;
  sw_plan_env_free (env);
  return r;
}

#define assert_var(p, s, upto, key, want)                                                  \
  do                                                                                         \
    {                                                                                        \
      char *v_ = var (p, s, upto, key);                                                      \
      if ((want) == NULL)                                                                    \
        {                                                                                    \
          if (v_)                                                                            \
            fail_msg ("%s = \"%s\", want unset", key, v_);                                   \
        }                                                                                    \
      else                                                                                   \
        {                                                                                    \
          if (!v_)                                                                           \
            fail_msg ("%s unset, want \"%s\"", key, (const char *) (want));                  \
          assert_string_equal (v_, (want));                                                  \
        }                                                                                    \
      free (v_);                                                                             \
    }                                                                                        \
  while (0)

/* The instruction with its words expanded in the state just before it. */
static sw_df_instr *
expanded (sw_plan *p, size_t s, size_t i)
{
  sw_plan_env *env = NULL;
  sw_df_instr *x = NULL;
  sw_error *err = NULL;
  if (sw_plan_env_at (p, s, i, NULL, &env, &err) < 0
      || sw_plan_expand (p, p->stages[s].instrs[i], env, &x, &err) < 0)
    fail_msg ("expand: %s", sw_error_message (err));
  sw_plan_env_free (env);
  return x;
}

/* ---- ARG scoping, from BuildKit's documentation ----------------------------------- */

static void
global_arg_in_from_and_redeclared (void **state)
{
  const char *df = "ARG VERSION=latest\n"
                   "FROM busybox:$VERSION\n"
                   "ARG VERSION\n"
                   "RUN echo $VERSION > image_version\n";
  sw_plan *p = plan (state, df, NULL, NULL, NULL);
  assert_string_equal (p->stages[0].base, "busybox:latest");
  assert_int_equal (p->stages[0].base_kind, SW_PLAN_BASE_IMAGE);
  assert_var (p, 0, 0, "VERSION", NULL); /* not visible before the redeclaration */
  assert_var (p, 0, 1, "VERSION", "latest");

  const char *args[] = { "VERSION=1.36", NULL };
  p = plan (state, df, NULL, args, NULL);
  assert_string_equal (p->stages[0].base, "busybox:1.36");
  assert_var (p, 0, 1, "VERSION", "1.36");
}

static void
global_arg_not_visible_without_redeclaration (void **state)
{
  sw_plan *p = plan (state,
                     "ARG CODE_VERSION=latest\n"
                     "FROM base:${CODE_VERSION}\n"
                     "CMD /code/run-app\n"
                     "FROM extras:${CODE_VERSION}\n"
                     "CMD /code/run-extras\n",
                     NULL, NULL, NULL);
  assert_string_equal (p->stages[0].base, "base:latest");
  assert_string_equal (p->stages[1].base, "extras:latest");
  assert_var (p, 0, 1, "CODE_VERSION", NULL);
  assert_var (p, 1, 1, "CODE_VERSION", NULL);
}

static void
arg_default_before_declaration (void **state)
{
  /* docs: "USER ${username:-some_user}" before "ARG username" */
  const char *df = "FROM busybox\n"
                   "USER ${username:-some_user}\n"
                   "ARG username\n"
                   "USER $username\n";
  const char *args[] = { "username=what_user", NULL };
  sw_plan *p = plan (state, df, NULL, args, NULL);
  sw_df_instr *u1 = expanded (p, 0, 0), *u2 = expanded (p, 0, 2);
  assert_string_equal (u1->value, "some_user");
  assert_string_equal (u2->value, "what_user");
  sw_df_instr_free (u1);
  sw_df_instr_free (u2);

  p = plan (state, df, NULL, NULL, NULL);
  u2 = expanded (p, 0, 2);
  assert_string_equal (u2->value, ""); /* declared without a value: unset */
  sw_df_instr_free (u2);
}

static void
env_overrides_arg (void **state)
{
  const char *args[] = { "CONT_IMG_VER=v2.0.1", NULL };
  sw_plan *p = plan (state,
                     "FROM ubuntu\n"
                     "ARG CONT_IMG_VER\n"
                     "ENV CONT_IMG_VER=v1.0.0\n"
                     "RUN echo $CONT_IMG_VER\n",
                     NULL, args, NULL);
  assert_var (p, 0, 2, "CONT_IMG_VER", "v1.0.0");

  const char *df = "FROM ubuntu\n"
                   "ARG CONT_IMG_VER\n"
                   "ENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n"
                   "RUN echo $CONT_IMG_VER\n";
  p = plan (state, df, NULL, args, NULL);
  assert_var (p, 0, 2, "CONT_IMG_VER", "v2.0.1");
  p = plan (state, df, NULL, NULL, NULL);
  assert_var (p, 0, 2, "CONT_IMG_VER", "v1.0.0");
}

static void
arg_scope_ends_with_the_stage (void **state)
{
  const char *args[] = { "SETTINGS=fast", NULL };
  sw_plan *p = plan (state,
                     "FROM busybox\n"
                     "ARG SETTINGS\n"
                     "RUN ./run/setup $SETTINGS\n"
                     "FROM busybox\n"
                     "RUN ./run/other $SETTINGS\n",
                     NULL, args, NULL);
  assert_var (p, 0, 1, "SETTINGS", "fast");
  assert_var (p, 1, 1, "SETTINGS", NULL);
}

static void
arg_defaults_and_build_args (void **state)
{
  const char *df = "ARG G\n"
                   "FROM x\n"
                   "ENV A=hello\n"
                   "ARG B=$A-world\n"
                   "ARG C=1\n"
                   "ARG G\n"
                   "ARG D=\"two words\" E=$B\n";
  sw_plan *p = plan (state, df, NULL, NULL, NULL);
  assert_var (p, 0, 5, "B", "hello-world"); /* default expanded with the stage's state */
  assert_var (p, 0, 5, "C", "1");
  assert_var (p, 0, 5, "G", NULL);          /* global without value or build arg */
  assert_var (p, 0, 5, "D", "two words");
  assert_var (p, 0, 5, "E", "hello-world");

  const char *args[] = { "C=2", "G=g", "B=b", NULL };
  p = plan (state, df, NULL, args, NULL);
  assert_var (p, 0, 5, "B", "b");
  assert_var (p, 0, 5, "C", "2");
  assert_var (p, 0, 5, "G", "g");
  assert_var (p, 0, 5, "E", "b");
  /* ARGs are variables for RUN, not ENV of the image, but expansion sees both */
  sw_plan_env *env = NULL;
  assert_int_equal (sw_plan_env_at (p, 0, 5, NULL, &env, NULL), 0);
  cleanup_strv char **list = sw_plan_env_list (env);
  assert_string_equal (list[0], "A=hello");
  sw_plan_env_free (env);
}

static void
global_args_chain_and_see_automatic_ones (void **state)
{
  sw_plan *p = plan (state,
                     "ARG OS=alpine\n"
                     "ARG IMG=$OS-$TARGETARCH\n"
                     "FROM $IMG\n",
                     NULL, NULL, "linux/arm64");
  assert_string_equal (p->stages[0].base, "alpine-arm64");
}

static void
automatic_platform_args (void **state)
{
  const char *df = "FROM --platform=$BUILDPLATFORM golang AS build\n"
                   "ARG TARGETPLATFORM\n"
                   "ARG BUILDPLATFORM\n"
                   "RUN echo \"on $BUILDPLATFORM, for $TARGETPLATFORM\"\n"
                   "FROM alpine\n"
                   "RUN echo $TARGETARCH\n"
                   "ARG TARGETARCH\n"
                   "ARG TARGETOS TARGETVARIANT BUILDARCH BUILDOS\n"
                   "COPY --from=build /out /out\n";
  sw_plan *p = plan (state, df, NULL, NULL, "linux/arm/v7");
  assert_string_equal (p->stages[0].platform, "linux/amd64");
  assert_true (p->stages[0].platform_explicit);
  assert_string_equal (p->stages[1].platform, "linux/arm/v7");
  assert_var (p, 0, 2, "TARGETPLATFORM", "linux/arm/v7");
  assert_var (p, 0, 2, "BUILDPLATFORM", "linux/amd64");
  assert_var (p, 1, 1, "TARGETARCH", NULL); /* global scope only until declared */
  assert_var (p, 1, 3, "TARGETARCH", "arm");
  assert_var (p, 1, 3, "TARGETOS", "linux");
  assert_var (p, 1, 3, "TARGETVARIANT", "v7");
  assert_var (p, 1, 3, "BUILDARCH", "amd64");
  assert_var (p, 1, 3, "BUILDOS", "linux");

  /* implicit target: the build platform; normalization as containerd's */
  p = plan (state, df, NULL, NULL, NULL);
  assert_string_equal (p->target_platform, "linux/amd64");
  assert_true (p->implicit_target);
  p = plan (state, df, NULL, NULL, "linux/arm64/v8");
  assert_var (p, 1, 3, "TARGETVARIANT", "");
  assert_string_equal (sw_plan_env_get (p->global, "TARGETPLATFORM"), "linux/arm64");

  /* a build arg overrides an automatic one */
  const char *args[] = { "TARGETARCH=riscv64", NULL };
  p = plan (state, df, NULL, args, NULL);
  assert_var (p, 1, 3, "TARGETARCH", "riscv64");
  assert_int_equal (p->warnings.n, 0);
}

static void
targetstage (void **state)
{
  const char *df = "FROM alpine AS one\nARG TARGETSTAGE\nFROM alpine\nARG TARGETSTAGE\n";
  sw_plan *p = plan (state, df, "one", NULL, NULL);
  assert_var (p, 0, 1, "TARGETSTAGE", "one");
  p = plan (state, df, NULL, NULL, NULL);
  assert_var (p, 1, 1, "TARGETSTAGE", "default");
}

static void
stage_on_stage_inherits_variables (void **state)
{
  sw_plan *p = plan (state,
                     "FROM --platform=linux/riscv64 alpine AS base\n"
                     "ARG A=1\n"
                     "ENV B=2\n"
                     "FROM base\n"
                     "RUN x\n",
                     NULL, NULL, NULL);
  assert_int_equal (p->stages[1].base_kind, SW_PLAN_BASE_STAGE);
  assert_int_equal (p->stages[1].base_stage, 0);
  assert_string_equal (p->stages[1].platform, "linux/riscv64");
  assert_var (p, 1, 0, "A", "1");
  assert_var (p, 1, 0, "B", "2");
}

/* ---- stages, --target, order, cycles -------------------------------------------- */

static const char multi[] = "FROM alpine AS a\n"
                            "FROM alpine AS b\n"
                            "COPY --from=a /x /x\n"
                            "FROM scratch AS c\n"
                            "FROM b AS d\n"
                            "RUN --mount=type=bind,from=c,target=/c true\n"
                            "FROM alpine AS unused\n"
                            "COPY --from=0 /a /a\n";

static void
target_prunes (void **state)
{
  sw_plan *p = plan (state, multi, "d", NULL, NULL);
  assert_int_equal (p->target, 3);
  assert_int_equal (p->n_order, 4);
  assert_string_equal (p->stages[p->order[0]].display, "a");
  assert_string_equal (p->stages[p->order[1]].display, "b");
  assert_string_equal (p->stages[p->order[2]].display, "c");
  assert_string_equal (p->stages[p->order[3]].display, "d");
  assert_false (p->stages[4].needed);
  assert_int_equal (p->stages[2].base_kind, SW_PLAN_BASE_SCRATCH);
  assert_int_equal (p->stages[3].base_kind, SW_PLAN_BASE_STAGE);

  p = plan (state, multi, "B", NULL, NULL); /* case-insensitive */
  assert_int_equal (p->n_order, 2);
  assert_int_equal (p->order[0], 0);
  assert_int_equal (p->order[1], 1);

  p = plan (state, multi, NULL, NULL, NULL); /* the last stage, which needs stage 0 */
  assert_int_equal (p->target, 4);
  assert_int_equal (p->n_order, 2);
  assert_int_equal (p->order[0], 0);
  assert_int_equal (sw_plan_find_stage (p, "0"), 0);
  assert_int_equal (sw_plan_find_stage (p, "D"), 3);
  assert_int_equal (sw_plan_find_stage (p, "9"), -1);

  assert_error (state, multi, "nope", NULL, "target stage \"nope\" could not be found");
  assert_error (state, multi, "unusd", NULL,
                "target stage \"unusd\" could not be found (did you mean unused?)");
}

static void
dependencies_first (void **state)
{
  sw_plan *p = plan (state,
                     "FROM alpine AS a\n"
                     "COPY --from=b /x /x\n"
                     "FROM alpine AS b\n"
                     "COPY --from=busybox:1.36 /bin/sh /sh\n",
                     "a", NULL, NULL);
  assert_int_equal (p->n_order, 2);
  assert_int_equal (p->order[0], 1);
  assert_int_equal (p->order[1], 0);
  /* an --from that is no stage is an image */
  assert_int_equal (p->stages[1].n_deps, 1);
  assert_int_equal (p->stages[1].deps[0].stage, -1);
  assert_string_equal (p->stages[1].deps[0].image, "busybox:1.36");
}

static void
from_names_only_earlier_stages (void **state)
{
  sw_plan *p = plan (state, "FROM b AS a\nFROM alpine AS b\n", "a", NULL, NULL);
  assert_int_equal (p->stages[0].base_kind, SW_PLAN_BASE_IMAGE);
  assert_string_equal (p->stages[0].base, "b");
  assert_int_equal (p->n_order, 1);
}

static void
cycles (void **state)
{
  assert_error (state,
                "FROM alpine AS a\n"
                "COPY --from=b /x /x\n"
                "FROM alpine AS b\n"
                "COPY --from=a /y /y\n",
                NULL, NULL, "Dockerfile:4:6: circular dependency detected on stage: a");
  assert_error (state, "FROM alpine AS self\nCOPY --from=self /x /y\n", NULL, NULL,
                "Dockerfile:2:6: circular dependency detected on stage: self");
  assert_error (state,
                "FROM alpine AS a\n"
                "RUN --mount=from=b,target=/b true\n"
                "FROM alpine AS b\n"
                "COPY --from=a /y /y\n"
                "FROM alpine\n",
                NULL, NULL, "Dockerfile:4:6: circular dependency detected on stage: a");
}

static void
duplicate_names_last_wins (void **state)
{
  sw_plan *p = plan (state, "FROM a AS x\nFROM b AS X\nFROM x\nFROM c\nCOPY --from=x / /\n",
                     "x", NULL, NULL);
  assert_int_equal (p->target, 1);
  assert_int_equal (p->stages[2].base_stage, 1);
  assert_int_equal (p->warnings.n, 1);
  assert_string_equal (p->warnings.v[0],
                       "Dockerfile:2: duplicate stage name \"x\", stage names should be unique");
  p = plan (state, "FROM a AS x\nFROM b AS X\nFROM x\nFROM c\nCOPY --from=x / /\n", NULL,
            NULL, NULL);
  assert_int_equal (p->stages[3].deps[0].stage, 1);
}

static void
onbuild_in_the_same_file (void **state)
{
  sw_plan *p = plan (state,
                     "FROM alpine AS base\n"
                     "ONBUILD COPY --from=helper /x /x\n"
                     "FROM alpine AS helper\n"
                     "FROM base\n"
                     "RUN true\n",
                     NULL, NULL, NULL);
  assert_int_equal (p->stages[2].n_onbuild, 1);
  assert_int_equal (p->stages[2].n_instrs, 2);
  assert_int_equal (p->stages[2].instrs[0]->kind, SW_DF_COPY);
  assert_int_equal (p->n_order, 3);
  assert_true (p->stages[1].needed);
}

static void
unused_build_args_warn (void **state)
{
  const char *args[] = { "FOO=1", "BAR=2", "HTTP_PROXY=http://p", "ONLY_UNUSED=x",
                         "BUILDKIT_INLINE_CACHE=1", "AAA", NULL };
  sw_plan *p = plan (state,
                     "FROM alpine AS x\n"
                     "ARG ONLY_UNUSED\n"
                     "FROM alpine\n"
                     "ARG BAR\n",
                     NULL, args, NULL);
  assert_int_equal (p->warnings.n, 1);
  assert_string_equal (p->warnings.v[0],
                       "[Warning] One or more build-args [AAA FOO ONLY_UNUSED] were not consumed");
}

/* ---- errors, located ------------------------------------------------------------ */

static void
located_errors (void **state)
{
  assert_error (state, "FROM alpine\nRUNN make\n", NULL, NULL,
                "Dockerfile:2:1: unknown instruction: RUNN (did you mean RUN?)\n 2 | RUNN make\n");
  assert_error (state, "FROM alpine\ncopy --chwon=1 a b\n", NULL, NULL,
                "Dockerfile:2:6: unknown flag: --chwon (did you mean chown?)");
  assert_error (state, "FROM alpine\nCOPY --bogus=1 a b\n", NULL, NULL,
                "Dockerfile:2:6: unknown flag: --bogus\n");
  assert_error (state, "FROM alpine\nWORKDIR\n", NULL, NULL,
                "Dockerfile:2:1: WORKDIR requires exactly one argument");
  assert_error (state, "FROM alpine\nSTOPSIGNAL\n", NULL, NULL,
                "Dockerfile:2:1: STOPSIGNAL requires exactly one argument");
  assert_error (state, "FROM alpine\nENV\n", NULL, NULL,
                "Dockerfile:2:1: ENV requires at least one argument");
  assert_error (state, "FROM alpine\nEXPOSE\n", NULL, NULL,
                "Dockerfile:2:1: EXPOSE requires at least one argument");
  assert_error (state, "FROM alpine\nARG\n", NULL, NULL,
                "Dockerfile:2:1: ARG requires at least one argument");
  assert_error (state, "FROM alpine\nARG =x\n", NULL, NULL,
                "Dockerfile:2:1: ARG names can not be blank");
  assert_error (state, "FROM alpine\nSHELL\n", NULL, NULL,
                "Dockerfile:2:1: SHELL requires at least one argument");
  assert_error (state, "FROM alpine\nCOPY a\n", NULL, NULL,
                "Dockerfile:2:1: COPY requires at least two arguments, but only one was "
                "provided. Destination could not be determined");
  assert_error (state, "FROM alpine AS\n", NULL, NULL,
                "Dockerfile:1:1: FROM requires either one or three arguments");
  assert_error (state, "FROM alpine AS 1st\n", NULL, NULL,
                "Dockerfile:1:16: invalid name for build stage: \"1st\", name can't start with a "
                "number or contain symbols");
  assert_error (state, "RUN true\nFROM alpine\n", NULL, NULL,
                "Dockerfile:1:1: no build stage in current context");
  assert_error (state, "ARG A=1\n", NULL, NULL,
                "Dockerfile: dockerfile contains no stages to build");
  assert_error (state, "FROM alpine\nCOPY --link --link a b\n", NULL, NULL,
                "Dockerfile:2:6: duplicate flag specified: --link");
  assert_error (state, "FROM alpine\nADD --unpack=maybe a b\n", NULL, NULL,
                "Dockerfile:2:5: expecting boolean value for flag --unpack, not: maybe");
  assert_error (state, "FROM alpine\nCOPY --from a b\n", NULL, NULL,
                "Dockerfile:2:6: missing a value on flag: --from");
  assert_error (state, "FROM alpine\nUSER --x=1 me\n", NULL, NULL,
                "Dockerfile:2:6: unknown flag: --x");
  assert_error (state, "FROM alpine\nRUN --network=bogus true\n", NULL, NULL,
                "Dockerfile:2:5: invalid network mode \"bogus\"");
  assert_error (state, "FROM alpine\nRUN --device=a,name=b true\n", NULL, NULL,
                "Dockerfile:2:14: device name already set to a");
  assert_error (state, "FROM alpine\nRUN --device=a,required=maybe true\n", NULL, NULL,
                "Dockerfile:2:14: invalid value for required: maybe");
  assert_error (state, "FROM alpine\nRUN --device=a,nmae=b true\n", NULL, NULL,
                "Dockerfile:2:14: unexpected key 'nmae' in 'nmae=b' (did you mean name?)");
  assert_error (state, "FROM alpine\nRUN --security=root true\n", NULL, NULL,
                "Dockerfile:2:5: security \"root\" is not valid");
  assert_error (state, "FROM alpine\nRUN --mount=from=$X,target=/x true\n", NULL, NULL,
                "Dockerfile:2:1: 'from' doesn't support variable expansion, define alias stage "
                "instead");
  assert_error (state, "ARG X=a\nFROM alpine AS a\nFROM alpine\nCOPY --from=$X a b\n", NULL,
                NULL,
                "Dockerfile:4:6: variable expansion is not supported for --from, define a new "
                "stage with FROM using ARG from global scope as a workaround");
  assert_error (state, "FROM alpine\nCOPY --from=7 a b\n", NULL, NULL,
                "Dockerfile:2:6: invalid stage index 7");
  assert_error (state, "FROM alpine\nHEALTHCHECK --interval=10us CMD true\n", NULL, NULL,
                "Dockerfile:2:24: Interval \"interval\" cannot be less than 1ms");
  assert_error (state, "FROM alpine\nHEALTHCHECK --timeout=5x CMD true\n", NULL, NULL,
                "Dockerfile:2:23: time: unknown unit in duration \"5x\"");
  assert_error (state, "FROM alpine\nHEALTHCHECK --retries=-1 CMD true\n", NULL, NULL,
                "Dockerfile:2:23: --retries cannot be negative (-1)");
  assert_error (state, "FROM alpine\nHEALTHCHECK NONE x\n", NULL, NULL,
                "Dockerfile:2:1: HEALTHCHECK NONE takes no arguments");
  assert_error (state, "FROM alpine\nHEALTHCHECK FOO true\n", NULL, NULL,
                "Dockerfile:2:13: Unknown type \"FOO\" in HEALTHCHECK (try CMD)");
  assert_error (state, "FROM alpine\nSHELL sh -c\n", NULL, NULL,
                "Dockerfile:2:1: SHELL requires the arguments to be in JSON form");
  assert_error (state, "FROM alpine\nONBUILD ONBUILD RUN x\n", NULL, NULL,
                "Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  assert_error (state, "FROM alpine\nONBUILD FROM x\n", NULL, NULL,
                "Dockerfile:2:1: FROM isn't allowed as an ONBUILD trigger");
  assert_error (state, "FROM alpine\nVOLUME [\"\"]\n", NULL, NULL,
                "Dockerfile:2:1: VOLUME specified can not be an empty string");
  assert_error (state, "FROM alpine\nCOPY a <<EOF\nx\nEOF\n", NULL, NULL,
                "Dockerfile:2:8: COPY cannot accept a heredoc as a destination");
  assert_error (state, "ARG B=\nFROM $B\n", NULL, NULL,
                "Dockerfile:2:1: base name ($B) should not be blank");
  assert_error (state, "FROM ${X:?needed}\n", NULL, NULL,
                "Dockerfile:1:1: failed to process \"${X:?needed}\": X: needed");
  assert_error (state, "FROM --platform=linux/x/y/z alpine\n", NULL, NULL,
                "Dockerfile:1:1: failed to parse platform linux/x/y/z: ");
  assert_error (state, "FROM --platform=${P:?} alpine\n", NULL, NULL,
                "Dockerfile:1:1: failed to process arguments for platform ${P:?}: failed to "
                "process \"${P:?}\": P: is not allowed to be unset\n");
  assert_error (state, "FROM --platform=$NOPE alpine\n", NULL, NULL,
                "Dockerfile:1:1: empty platform value from expression $NOPE");
}

static void
null_err_is_allowed (void **state)
{
  const char *bad[] = { "FROM --platform=${P:?} a\n", "FROM --platform=x/y/z/w a\n",
                        "FROM a\nRUNN x\n", "ARG A=1\n", "FROM ${X:?}\n" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      sw_dockerfile *df = NULL;
      sw_plan *p = NULL;
      assert_int_equal (sw_dockerfile_parse (bad[i], strlen (bad[i]), NULL, &df, NULL), 0);
      assert_int_equal (sw_plan_new (df, NULL, &p, NULL), -1);
      assert_null (p);
      sw_dockerfile_free (df);
    }
}

static void
expansion_errors_are_located (void **state)
{
  sw_plan *p = plan (state, "FROM alpine\nARG V\nENV A=${V:?required}\n", NULL, NULL, NULL);
  sw_plan_env *env = NULL;
  sw_error *err = NULL;
  assert_int_equal (sw_plan_env_at (p, 0, 2, NULL, &env, &err), -1);
  assert_string_equal (sw_error_message (err),
                       "Dockerfile:3:1: failed to process \"${V:?required}\": V: required\n"
                       " 3 | ENV A=${V:?required}\n"
                       "   | ^");
  sw_error_free (err);
}

/* ---- instructions and their expansion ------------------------------------------ */

static void
instructions_expand_like_buildkit (void **state)
{
  sw_plan *p = plan (state,
                     "FROM alpine\n"                                   /* stage 0 */
                     "ENV NAME=world DIR=/srv\n"                       /* 0 */
                     "ARG PORTS=\"8080 9090/udp\"\n"                   /* 1 */
                     "COPY <<EOF /a\nhello $NAME \"q\" \\$x\nEOF\n"   /* 2 */
                     "COPY <<'EOF' /b\nhello $NAME\nEOF\n"             /* 3 */
                     "COPY --chown=$NAME:$NAME --chmod=755 src/$NAME $DIR/\n" /* 4 */
                     "EXPOSE $PORTS 80\n"                              /* 5 */
                     "RUN echo $NAME\n"                                /* 6 */
                     "WORKDIR $DIR/app\n"                              /* 7 */
                     "LABEL \"$NAME\"=\"$DIR x\" other=$NAME\n"        /* 8 */
                     "VOLUME [\"$DIR/data\", \"/v\"]\n"                /* 9 */
                     "STOPSIGNAL SIG$NAME\n"                           /* 10 */
                     "ENV A=1 B=$A\n"                                  /* 11 */
                     "CMD echo $NAME\n"                                /* 12 */
                     "RUN --mount=type=cache,id=$NAME,target=$DIR/c true\n", /* 13 */
                     NULL, NULL, NULL);
  sw_df_instr *x;

  x = expanded (p, 0, 2);
  assert_int_equal (x->n_inline_sources, 1);
  assert_string_equal (x->inline_sources[0].path, "EOF");
  assert_string_equal (x->inline_sources[0].data, "hello world \"q\" $x\n");
  sw_df_instr_free (x);

  x = expanded (p, 0, 3);
  assert_false (x->inline_sources[0].expand);
  assert_string_equal (x->inline_sources[0].data, "hello $NAME\n");
  sw_df_instr_free (x);

  x = expanded (p, 0, 4);
  assert_string_equal (x->chown, "world:world");
  assert_string_equal (x->chmod, "755");
  assert_int_equal (x->n_sources, 1);
  assert_string_equal (x->sources[0], "src/world");
  assert_string_equal (x->dest, "/srv/");
  sw_df_instr_free (x);

  x = expanded (p, 0, 5);
  assert_int_equal (x->n_words, 3);
  assert_string_equal (x->words[0], "8080");
  assert_string_equal (x->words[1], "9090/udp");
  assert_string_equal (x->words[2], "80");
  sw_df_instr_free (x);

  x = expanded (p, 0, 6); /* RUN: the shell expands, not the front end */
  assert_int_equal (x->n_cmdline, 1);
  assert_string_equal (x->cmdline[0], "echo $NAME");
  assert_true (x->prepend_shell);
  sw_df_instr_free (x);

  x = expanded (p, 0, 7);
  assert_string_equal (x->value, "/srv/app");
  sw_df_instr_free (x);

  x = expanded (p, 0, 8);
  assert_int_equal (x->n_kvs, 2);
  assert_string_equal (x->kvs[0].key, "world");
  assert_string_equal (x->kvs[0].value, "/srv x");
  assert_string_equal (x->kvs[1].value, "world");
  sw_df_instr_free (x);

  x = expanded (p, 0, 9);
  assert_int_equal (x->n_words, 2);
  assert_string_equal (x->words[0], "/srv/data");
  sw_df_instr_free (x);

  x = expanded (p, 0, 10);
  assert_string_equal (x->value, "SIGworld");
  sw_df_instr_free (x);

  assert_var (p, 0, 12, "A", "1");
  assert_var (p, 0, 12, "B", ""); /* one ENV's pairs all see the state before it */

  x = expanded (p, 0, 12);
  assert_string_equal (x->cmdline[0], "echo $NAME");
  sw_df_instr_free (x);

  x = expanded (p, 0, 13);
  assert_string_equal (x->mounts[0].spec, "type=cache,id=world,target=/srv/c");
  assert_non_null (x->run_mounts);
  assert_int_equal (x->run_mounts[0].type, SW_DF_MOUNT_CACHE);
  assert_string_equal (x->run_mounts[0].id, "world");
  assert_string_equal (x->run_mounts[0].target, "/srv/c");
  assert_false (x->run_mounts[0].readonly);
  sw_df_instr_free (x);
}

static void
instruction_shapes (void **state)
{
  sw_plan *p = plan (state,
                     "FROM --platform=linux/arm64 alpine:3 AS Build\n"
                     "RUN [\"echo\", \"a b\"]\n"
                     "ENTRYPOINT []\n"
                     "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/\n"
                     "HEALTHCHECK NONE\n"
                     "ADD --keep-git-dir=false --checksum=sha256:abc --exclude=*.md --exclude=x "
                     "https://e/x.tgz /x/\n"
                     "COPY --parents --link --from=alpine:3 a b /c/\n"
                     "SHELL [\"/bin/bash\", \"-c\"]\n"
                     "MAINTAINER me\n"
                     "ONBUILD RUN echo hi\n"
                     "EXPOSE 9 10 8\n"
                     "HEALTHCHECK --timeout=3s CMD [\"curl\", \"-f\"]\n"
                     "CMD [\"a\"]\n"
                     "ENTRYPOINT top -b\n",
                     NULL, NULL, NULL);
  sw_plan_stage *st = &p->stages[0];
  assert_string_equal (st->name, "build");
  assert_string_equal (st->from->platform, "linux/arm64");
  sw_df_instr **in = st->instrs;
  assert_false (in[0]->prepend_shell);
  assert_int_equal (in[0]->n_cmdline, 2);
  assert_string_equal (in[0]->cmdline[1], "a b");
  assert_string_equal (in[0]->network, "default");
  assert_string_equal (in[0]->security, "sandbox");
  assert_true (in[1]->cmdline_null);
  assert_string_equal (in[2]->health->test[0], "CMD-SHELL");
  assert_string_equal (in[2]->health->test[1], "curl -f http://x/");
  assert_int_equal (in[2]->health->interval_ns, 5000000000LL);
  assert_int_equal (in[2]->health->retries, 3);
  assert_string_equal (in[3]->health->test[0], "NONE");
  assert_int_equal (in[4]->keep_git_dir, 0);
  assert_int_equal (in[4]->unpack, -1);
  assert_string_equal (in[4]->checksum, "sha256:abc");
  assert_int_equal (in[4]->n_excludes, 2);
  assert_string_equal (in[4]->excludes[1], "x");
  assert_true (in[5]->parents && in[5]->link);
  assert_string_equal (in[5]->from, "alpine:3");
  assert_int_equal (in[5]->n_sources, 2);
  assert_string_equal (in[6]->cmdline[1], "-c");
  assert_string_equal (in[7]->value, "me");
  assert_string_equal (in[8]->value, "RUN echo hi");
  assert_string_equal (in[9]->words[0], "10"); /* BuildKit sorts the raw words */
  assert_string_equal (in[9]->words[2], "9");
  assert_string_equal (in[10]->health->test[0], "CMD");
  assert_string_equal (in[10]->health->test[2], "-f");
  assert_int_equal (in[10]->health->timeout_ns, 3000000000LL);
  assert_false (in[11]->prepend_shell);
  assert_true (in[12]->prepend_shell);
  assert_string_equal (in[12]->cmdline[0], "top -b");
  assert_true (sw_df_kind_expands (SW_DF_COPY));
  assert_false (sw_df_kind_expands (SW_DF_RUN));
  assert_false (sw_df_kind_expands (SW_DF_CMD));
  assert_false (sw_df_kind_expands (SW_DF_ENTRYPOINT));
}

static void
run_mounts_as_buildkit_reads_them (void **state)
{
  struct
  {
    const char *spec, *err;
  } bad[] = {
    { "type=bogus", "unsupported mount type \"bogus\"" },
    { "type=cachee", "unsupported mount type \"cachee\" (did you mean cache?)" },
    { "type=secret", "invalid secret mount. one of source, target required" },
    { "type=secret,id=a,src=b", "both source and id can't be set" },
    { "type=secret,id=a,from=x", "secret mount should not have a from" },
    { "type=bind,mode=0755,target=/x", "mode not allowed for \"bind\" type mounts" },
    { "target=/x,sharing=locked", "invalid cache sharing set for bind mount" },
    { "type=cache,sharing=lockd", "unsupported sharing value \"lockd\" (did you mean locked?)" },
    { "type=cache,required", "unexpected key 'required' for mount type 'cache'" },
    { "type=cache,size=1m", "unexpected key 'size' for mount type 'cache'" },
    { "type=cache,mode=9", "invalid value 9 for mode" },
    { "type=cache,ro=maybe", "invalid value for ro: maybe" },
    { "type=cache,tagret=/x", "unexpected key 'tagret' in 'tagret=/x' (did you mean target?)" },
    { "type=cache,bogus", "invalid field 'bogus' must be a key=value pair" },
    { "type=cache,\"target=/x", "failed to parse csv mounts: extraneous or missing \" in quoted-field" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      sw_df_run_mount m;
      cleanup_error sw_error *err = NULL;
      if (sw_df_run_mount_parse (bad[i].spec, &m, &err) == 0)
        fail_msg ("%s: no error", bad[i].spec);
      assert_string_equal (sw_error_message (err), bad[i].err);
    }

  sw_df_run_mount m;
  assert_int_equal (sw_df_run_mount_parse ("target=/src", &m, NULL), 0);
  assert_int_equal (m.type, SW_DF_MOUNT_BIND);
  assert_true (m.readonly); /* bind mounts are read-only unless rw */
  sw_df_run_mount_clear (&m);
  assert_int_equal (sw_df_run_mount_parse ("type=bind,target=/src,rw", &m, NULL), 0);
  assert_false (m.readonly);
  sw_df_run_mount_clear (&m);
  assert_int_equal (sw_df_run_mount_parse ("type=tmpfs,target=/t,size=64m", &m, NULL), 0);
  assert_int_equal (m.size_limit, 64LL << 20);
  assert_false (m.readonly);
  sw_df_run_mount_clear (&m);
  assert_int_equal (sw_df_run_mount_parse ("type=secret,id=tok,env=TOKEN,required", &m, NULL),
                    0);
  assert_true (m.required && m.readonly);
  assert_string_equal (m.env, "TOKEN");
  sw_df_run_mount_clear (&m);
  assert_int_equal (sw_df_run_mount_parse ("type=cache,target=/c,uid=1000,mode=0700,"
                                           "sharing=private,from=build,source=/s",
                                           &m, NULL), 0);
  assert_true (m.has_uid && m.uid == 1000 && m.has_mode && m.mode == 0700);
  assert_int_equal (m.sharing, SW_DF_SHARING_PRIVATE);
  assert_string_equal (m.from, "build");
  sw_df_run_mount_clear (&m);
  assert_int_equal (sw_df_run_mount_parse ("\"type=bind\",\"target=/a,b\"", &m, NULL), 0);
  assert_string_equal (m.target, "/a,b");
  sw_df_run_mount_clear (&m);
}

static void
dump_mentions_everything (void **state)
{
  sw_plan *p = plan (state, multi, "d", NULL, NULL);
  cleanup_free char *d = sw_plan_dump (p);
  assert_non_null (strstr (d, "target: d\n"));
  assert_non_null (strstr (d, "order: a b c d\n"));
  assert_non_null (strstr (d, "not needed"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown (global_arg_in_from_and_redeclared, teardown),
    cmocka_unit_test_teardown (global_arg_not_visible_without_redeclaration, teardown),
    cmocka_unit_test_teardown (arg_default_before_declaration, teardown),
    cmocka_unit_test_teardown (env_overrides_arg, teardown),
    cmocka_unit_test_teardown (arg_scope_ends_with_the_stage, teardown),
    cmocka_unit_test_teardown (arg_defaults_and_build_args, teardown),
    cmocka_unit_test_teardown (global_args_chain_and_see_automatic_ones, teardown),
    cmocka_unit_test_teardown (automatic_platform_args, teardown),
    cmocka_unit_test_teardown (targetstage, teardown),
    cmocka_unit_test_teardown (stage_on_stage_inherits_variables, teardown),
    cmocka_unit_test_teardown (target_prunes, teardown),
    cmocka_unit_test_teardown (dependencies_first, teardown),
    cmocka_unit_test_teardown (from_names_only_earlier_stages, teardown),
    cmocka_unit_test_teardown (cycles, teardown),
    cmocka_unit_test_teardown (duplicate_names_last_wins, teardown),
    cmocka_unit_test_teardown (onbuild_in_the_same_file, teardown),
    cmocka_unit_test_teardown (unused_build_args_warn, teardown),
    cmocka_unit_test_teardown (located_errors, teardown),
    cmocka_unit_test_teardown (null_err_is_allowed, teardown),
    cmocka_unit_test_teardown (expansion_errors_are_located, teardown),
    cmocka_unit_test_teardown (instructions_expand_like_buildkit, teardown),
    cmocka_unit_test_teardown (instruction_shapes, teardown),
    cmocka_unit_test_teardown (run_mounts_as_buildkit_reads_them, teardown),
    cmocka_unit_test_teardown (dump_mentions_everything, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
