/* exec/build.h — the build handle behind include/slipway.h's sw_build.
 *
 * build.c owns the options (parsed and checked as they are set, so a bad flag fails
 * before any work starts); the engine that runs a build reads them from here.
 */
#ifndef SW_EXEC_BUILD_H
#define SW_EXEC_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/sandbox.h"
#include "slipway.h"

typedef struct sw_strv
{
  char **v; /* NULL-terminated */
  size_t n;
} sw_strv;

void sw_strv_push (sw_strv *s, const char *value);
void sw_strv_free (sw_strv *s);

struct sw_build
{
  char *context;
  char *dockerfile;
  char *target;
  char *metadata_file;
  char *iidfile;
  char *state_dir;
  char *network;
  sw_strv tags, build_args, platforms, outputs, labels, annotations, secrets, ssh,
      add_hosts, build_contexts, insecure_registries;
  bool push, load, no_cache, pull;
  bool publish_none;     /* SW_OPT_PUBLISH "none": push by digest, move no tag */
  sw_strv smoke;         /* SW_OPT_SMOKE commands */
  int smoke_timeout;     /* seconds */

  sw_event_callback cb;
  void *cb_userdata;

  char *digest;   /* results, after a successful run */
  char *image_id;

  sw_sandbox_stop stop; /* sw_build_cancel(): every RUN of this build waits on it */
};

/* After sw_build_cancel(): fills *err (ECANCELED, "cancelled") and returns -1; else 0.
 * The engine asks between steps and before it publishes anything. */
int sw_build_check_cancelled (sw_build *b, sw_error **err);

/* Emit an event to the build's callback, if any. */
void sw_build_emit (sw_build *b, const sw_event *ev);

#endif
