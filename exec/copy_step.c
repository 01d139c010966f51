/* exec/copy_step.c — COPY and ADD: files from the context or another stage into a new
 * layer.  Wired to exec/copy.h (the copy semantics) once that lands. */
#include <errno.h>

#include "exec/engine.h"

int
sw_engine_copy (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err)
{
  sw_error_make (err, ENOSYS, "not supported yet: %s", sw_df_kind_name (in->kind));
  return sw_engine_locate (e, in->node, err);
}
