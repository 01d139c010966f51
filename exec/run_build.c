/* exec/run_build.c — sw_build_run: the engine that runs a plan.
 *
 * Not written yet (issue: the build end to end).  Until then it says so plainly rather
 * than pretending to build.
 */
#include <errno.h>

#include "common/error.h"
#include "exec/build.h"

int
sw_build_run (sw_build *b, sw_error **err)
{
  (void) b;
  return sw_error_make (err, ENOSYS, "building images is not implemented yet in this version of slipway");
}
