/* placeholder until the parser lands: keeps the link complete */
#include <errno.h>
#include "common/error.h"
int
sw_dockerfile_dump_ast (const char *path, FILE *out, sw_error **err)
{
  (void) out;
  return sw_error_make (err, ENOSYS, "%s: the Dockerfile parser is not built yet", path);
}
