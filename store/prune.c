/* store/prune.c — the public sw_prune (slipway.h): `slipway prune` over the state dir. */
#include "slipway.h"
#include "store/state.h"

int
sw_prune (const char *state_dir, uint64_t *freed_bytes, sw_error **err)
{
  uint64_t freed = 0;
  int r = sw_state_prune (state_dir ? state_dir : SW_STATE_DEFAULT_DIR, &freed, err);
  if (freed_bytes)
    *freed_bytes = freed;
  return r;
}
