/* bake/definition.c — sw_bake_definition(), the public face of bake/ (include/slipway.h). */
#include <stdlib.h>

#include "bake/bake.h"
#include "slipway.h"

int
sw_bake_definition (const char *const *files, const char *const *targets, const char *const *overrides,
                    unsigned flags, char **json_out, sw_error **err)
{
  sw_bake_opts o = { .files = files, .targets = targets, .overrides = overrides,
                     .extensions = (flags & SW_BAKE_EXTENSIONS) != 0 };
  json_t *def = NULL;
  if (sw_bake_resolve (&o, &def, err) < 0)
    return -1;
  /* as Go's json.MarshalIndent: two spaces, fields in their order, maps already sorted */
  *json_out = json_dumps (def, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
  json_decref (def);
  return 0;
}

void
sw_free (void *p)
{
  free (p);
}
