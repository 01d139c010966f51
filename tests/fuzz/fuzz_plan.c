/* libFuzzer target for dockerfile/instructions and dockerfile/plan.
 *
 * Input: a Dockerfile.  Whatever parses is planned (two build args, the last stage as
 * target), then every needed stage is stepped through to its end and each of its
 * instructions expanded, as an engine would: nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerfile/ast.h"
#include "dockerfile/plan.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  sw_dockerfile *df = NULL;
  sw_plan *p = NULL;
  sw_error *err = NULL;
  static const char *const args[] = { "A=1", "TARGETARCH=arm", NULL };
  sw_plan_opts o = { .build_args = args, .build_platform = "linux/amd64",
                     .target_platform = "linux/arm/v7" };

  if (sw_dockerfile_parse ((const char *) data, size, "Dockerfile", &df, &err) < 0)
    goto out;
  if (sw_plan_new (df, &o, &p, &err) < 0)
    goto out;
  free (sw_plan_dump (p));
  for (size_t k = 0; k < p->n_order; k++)
    {
      const sw_plan_stage *st = &p->stages[p->order[k]];
      sw_plan_env *env = NULL;
      if (sw_plan_env_at (p, p->order[k], 0, NULL, &env, &err) < 0)
        {
          sw_error_free (err);
          err = NULL;
          continue;
        }
      for (size_t i = 0; i < st->n_instrs; i++)
        {
          sw_df_instr *x = NULL;
          if (sw_plan_expand (p, st->instrs[i], env, &x, &err) == 0)
            sw_df_instr_free (x);
          sw_error_free (err);
          err = NULL;
          if (sw_plan_step (p, st->instrs[i], env, &err) < 0)
            {
              sw_error_free (err);
              err = NULL;
            }
        }
      char **list = sw_plan_env_list (env);
      for (char **l = list; *l; l++)
        free (*l);
      free (list);
      sw_plan_env_free (env);
    }
out:
  sw_error_free (err);
  sw_plan_free (p);
  sw_dockerfile_free (df);
  return 0;
}
