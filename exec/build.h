/* exec/build.h — the build handle behind include/slipway.h's sw_build.
 *
 * build.c owns the options (parsed and checked as they are set, so a bad flag fails
 * before any work starts); the engine that runs a build reads them from here.
 */
#ifndef SW_EXEC_BUILD_H
#define SW_EXEC_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "sandbox/limits.h"
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
  bool call_check; /* --call=check: run the build checks only */
  /* RUN's resources (sandbox/limits.h) */
  uint64_t shm_size;
  sw_ulimit *ulimits;
  size_t n_ulimits;
  char *cgroup_parent;
  sw_cgroup_limits cgroup_limits;

  sw_event_callback cb;
  void *cb_userdata;

  char *digest;   /* results, after a successful run */
  char *image_id;
};

/* Emit an event to the build's callback, if any. */
void sw_build_emit (sw_build *b, const sw_event *ev);

#endif
