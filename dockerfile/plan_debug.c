/* dockerfile/plan_debug.c — `slipway debug plan FILE [--target T] [--build-arg K=V]…
 * [--platform P] [--build-platform P]`: the plan slipway would execute, without running
 * anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/ast.h"
#include "dockerfile/plan.h"
#include "slipway-debug.h" /* defines sw_debug_plan */

static const char *
opt_value (int argc, char **argv, int *i, const char *name)
{
  size_t len = strlen (name);
  if (strncmp (argv[*i], name, len) != 0)
    return NULL;
  if (argv[*i][len] == '=')
    return argv[*i] + len + 1;
  if (argv[*i][len] == '\0' && *i + 1 < argc)
    return argv[++*i];
  return NULL;
}

int
sw_debug_plan (int argc, char **argv, FILE *out, sw_error **err)
{
  const char *file = NULL;
  sw_plan_opts o = { 0 };
  cleanup_free const char **args = sw_xcalloc ((size_t) argc + 1, sizeof *args);
  size_t n_args = 0;

  for (int i = 0; i < argc; i++)
    {
      const char *v;
      if ((v = opt_value (argc, argv, &i, "--target")))
        o.target = v;
      else if ((v = opt_value (argc, argv, &i, "--build-arg")))
        args[n_args++] = v;
      else if ((v = opt_value (argc, argv, &i, "--platform")))
        o.target_platform = v;
      else if ((v = opt_value (argc, argv, &i, "--build-platform")))
        o.build_platform = v;
      else if (argv[i][0] == '-' || file)
        return sw_error_make (err, 0, "debug plan: unexpected argument %s (usage: slipway "
                              "debug plan FILE [--target T] [--build-arg K=V]… [--platform P] "
                              "[--build-platform P])", argv[i]);
      else
        file = argv[i];
    }
  if (!file)
    return sw_error_make (err, 0, "debug plan: which Dockerfile? (usage: slipway debug plan FILE …)");
  o.build_args = args;

  sw_dockerfile *df = NULL;
  sw_plan *p = NULL;
  if (sw_dockerfile_parse_file (file, &df, err) < 0)
    return -1;
  if (sw_plan_new (df, &o, &p, err) < 0)
    {
      sw_dockerfile_free (df);
      return -1;
    }
  cleanup_free char *d = sw_plan_dump (p);
  fputs (d, out);
  sw_plan_free (p);
  sw_dockerfile_free (df);
  return 0;
}
