/* dockerfile/plan.h — the build plan: stages, their bases, what the target needs, in order.
 *
 * Contract: sw_plan_new() reads a parsed Dockerfile the way BuildKit's dockerfile2llb
 * does before it runs anything, and fails (located, with file:line:col and a caret) where
 * BuildKit fails:
 *
 *  - Stages: each FROM [--platform=P] IMAGE [AS NAME] starts one.  IMAGE and P are
 *    expanded with the global scope only: the automatic ARGs (BUILDPLATFORM, BUILDOS,
 *    BUILDOSVERSION, BUILDARCH, BUILDVARIANT, TARGETPLATFORM, TARGETOS, TARGETOSVERSION,
 *    TARGETARCH, TARGETVARIANT, TARGETSTAGE) and the ARGs before the first FROM, each
 *    overridden by a --build-arg of the same name.  IMAGE naming an earlier stage (exact,
 *    case-sensitive match) makes that stage the base; "scratch" is the empty base; anything
 *    else is an image reference.  A stage whose base is a stage gets that stage's platform
 *    (as BuildKit's dispatch state does); otherwise --platform, else the target platform.
 *  - Instructions before the first FROM other than ARG: "no build stage in current
 *    context".  No FROM at all: "dockerfile contains no stages to build".
 *  - Dependencies: the base stage, COPY --from=NAME|INDEX and RUN --mount=…,from=NAME.
 *    --from names are looked up case-insensitively among all stages (a later stage too);
 *    a name that is no stage is an image (a warning says so when it is close to a stage
 *    name); an index out of range is an error; --from with a variable is an error.
 *    A stage whose base stage has ONBUILD instructions runs those triggers first
 *    (n_onbuild of them at the start of instrs), and their --from count as dependencies.
 *  - Cycles among all stages (not only the needed ones) are an error, as in BuildKit:
 *    "circular dependency detected on stage: NAME", located at the instruction that closes
 *    the cycle.
 *  - The target: --target (case-insensitive), else the last stage; a missing one is
 *    `target stage "x" could not be found` with "did you mean".  `order` lists exactly the
 *    stages the target needs (transitively), dependencies before dependents, otherwise in
 *    file order; nothing else ever runs.
 *  - Warnings (plan->warnings): build args that no ARG in the global scope or in a needed
 *    stage declares ("[Warning] One or more build-args [A B] were not consumed"), the
 *    automatic ones, proxy variables and BUILDKIT_* excepted; duplicate stage names.
 *
 * ARG scoping is BuildKit's, applied at execution time through sw_plan_env (a stage's
 * variables evolve instruction by instruction, and the base image's Env is only known
 * then):
 *  - a global ARG is visible in a stage only after `ARG NAME` there (its value: the
 *    --build-arg, else the global value);
 *  - `ARG NAME=default` takes the --build-arg if there is one, else default expanded
 *    with the stage's variables at that point; `ARG NAME` with neither stays unset;
 *  - ENV and ARG set the same variables, the later one wins; both are seen by RUN;
 *  - a stage based on a stage starts with that stage's final variables.
 * An engine runs a stage as:
 *
 *     env = base is a stage ? sw_plan_env_dup (env_of[base]) : sw_plan_env_new (image Env)
 *     for each instr:  sw_plan_expand (plan, instr, env, &x)   (words as BuildKit sees them)
 *                      … execute x (RUN gets sw_plan_env_list (env)) …
 *                      sw_plan_step (plan, instr, env)          (ARG/ENV update env)
 *
 * Before sw_plan_env_new() the engine adds PATH=SW_PLAN_DEFAULT_PATH to an image's Env that
 * has no PATH, as BuildKit does for Linux bases (and for scratch).
 *
 * A plan is for one target platform (TARGETPLATFORM and the default stage platform come
 * from it): a multi-platform build makes one plan per platform from the same df.
 * The plan borrows df (keep it alive) and owns everything else.
 */
#ifndef SW_DOCKERFILE_PLAN_H
#define SW_DOCKERFILE_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strv.h"
#include "dockerfile/ast.h"
#include "dockerfile/instructions.h"

#define SW_PLAN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct sw_plan_opts
{
  const char *target;           /* --target; NULL: the last stage */
  const char *const *build_args; /* NULL-terminated "KEY=VALUE" ("KEY" alone: empty value) */
  const char *build_platform;   /* "os/arch[/variant]"; NULL: the host's */
  const char *target_platform;  /* NULL: the build platform (BuildKit's implicit target) */
} sw_plan_opts;

typedef enum sw_plan_base_kind
{
  SW_PLAN_BASE_IMAGE,
  SW_PLAN_BASE_STAGE,
  SW_PLAN_BASE_SCRATCH,
} sw_plan_base_kind;

/* Something a stage reads from: another stage, or an image (COPY --from=alpine). */
typedef struct sw_plan_dep
{
  long stage;             /* index into plan->stages, or -1 for an image */
  char *image;            /* the image reference when stage == -1 */
  const sw_df_instr *by;  /* the instruction that needs it (NULL for the base stage) */
} sw_plan_dep;

typedef struct sw_plan_env sw_plan_env;

typedef struct sw_plan_stage
{
  size_t index;             /* position among the FROMs, 0-based */
  char *name;               /* AS name, lower case, or NULL */
  char *display;            /* name, or "stage-N" */
  sw_df_instr *from;        /* the FROM instruction */
  sw_plan_base_kind base_kind;
  char *base;               /* expanded IMAGE (image ref, stage name or "scratch") */
  long base_stage;          /* SW_PLAN_BASE_STAGE: index; else -1 */
  char *platform;           /* effective platform, normalized "os/arch[/variant]" */
  bool platform_explicit;   /* from --platform (or from the base stage's) */
  sw_df_instr **instrs;     /* after FROM, in order; ONBUILD triggers first */
  size_t n_instrs;
  size_t n_onbuild;
  sw_plan_dep *deps;        /* base stage first, then --from / mounts in order */
  size_t n_deps;
  bool needed;              /* the target needs it */
} sw_plan_stage;

typedef struct sw_plan
{
  const sw_dockerfile *df;
  int escape;
  sw_plan_stage *stages;
  size_t n_stages;
  size_t target;            /* index of the target stage */
  size_t *order;            /* needed stages, dependencies first */
  size_t n_order;
  char *build_platform;     /* normalized */
  char *target_platform;    /* normalized */
  bool implicit_target;     /* no target platform was given */
  sw_df_instr **meta_args;  /* the ARGs before the first FROM */
  size_t n_meta_args;
  sw_plan_env *global;      /* the global scope, build args applied */
  sw_strv build_args;       /* "KEY=VALUE", as given */
  sw_strv warnings;
  sw_dockerfile **trigger_docs; /* parsed ONBUILD expressions (the triggers point in here) */
  size_t n_trigger_docs;
  struct name_ent *names;   /* private: stage names, sorted, for lookups */
  size_t n_names;
} sw_plan;

int sw_plan_new (const sw_dockerfile *df, const sw_plan_opts *opts, sw_plan **out,
                 sw_error **err);
void sw_plan_free (sw_plan *plan);

/* Index of the stage named name (case-insensitive) or given by its decimal index; -1. */
long sw_plan_find_stage (const sw_plan *plan, const char *name_or_index);

/* ---- execution-time variables --------------------------------------------------- */

/* From a NULL-terminated "KEY=VALUE" list (a base image's Env; NULL for none). */
sw_plan_env *sw_plan_env_new (char *const *env);
sw_plan_env *sw_plan_env_dup (const sw_plan_env *env);
void sw_plan_env_free (sw_plan_env *env);
/* NULL when unset. */
const char *sw_plan_env_get (const sw_plan_env *env, const char *key);
void sw_plan_env_set (sw_plan_env *env, const char *key, const char *value);
/* "KEY=VALUE" for each variable, in the order first set; NULL-terminated, caller frees
 * (sw_expand_words_free). */
char **sw_plan_env_list (const sw_plan_env *env);
/* An sw_expand_lookup over an sw_plan_env (userdata). */
const char *sw_plan_env_lookup (const char *name, void *userdata);

/* Apply instruction in's effect on the variables: ARG resolves and sets its names (as
 * described above), ENV expands and sets; any other kind changes nothing. */
int sw_plan_step (const sw_plan *plan, const sw_df_instr *in, sw_plan_env *env,
                  sw_error **err);

/* in with its words expanded with env, as BuildKit dispatches it (see instructions.h). */
int sw_plan_expand (const sw_plan *plan, const sw_df_instr *in, const sw_plan_env *env,
                    sw_df_instr **out, sw_error **err);

/* The variables of stage `stage` just before its instruction `upto` (n_instrs: at its
 * end), starting from base_env for an image base (or nothing), through its base stages.
 * For tests and `slipway debug plan`; an engine steps the env itself. */
int sw_plan_env_at (const sw_plan *plan, size_t stage, size_t upto, char *const *base_env,
                    sw_plan_env **out, sw_error **err);

/* A human-readable dump of the plan (what `slipway debug plan` prints). */
char *sw_plan_dump (const sw_plan *plan);

#endif
