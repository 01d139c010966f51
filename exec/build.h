/* exec/build.h — the build handle behind include/slipway.h's sw_build.
 *
 * build.c owns the options (parsed and checked as they are set, so a bad flag fails
 * before any work starts); the engine that runs a build reads them from here.
 */
#ifndef SW_EXEC_BUILD_H
#define SW_EXEC_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "common/strv.h"
#include "sandbox/sandbox.h"
#include "sandbox/limits.h"
#include "slipway.h"

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
      add_hosts, build_contexts, insecure_registries, no_cache_filter, cache_from, cache_to;
  bool push, load, no_cache, pull;
  /* knobs with no buildx flag; sw_build_new() takes their defaults from the environment */
  size_t chunk_size;       /* 0: the registry client's default */
  int retry_attempts;      /* 0: default */
  double retry_seconds;    /* 0: default */
  char *daemon_json;       /* NULL: /etc/docker/daemon.json */
  char *qemu_path;         /* NULL: the default search */
  int layer_upload;        /* an sw_layer_upload (registry/client.h): SLIPWAY_LAYER_UPLOAD */
  int64_t source_date_epoch; /* -1: none */
  int max_parallelism;     /* 0: the number of CPUs */
  sw_error *env_error;     /* a bad value in one of those variables, reported by the run */
  sw_option env_error_opt; /* the option it was for: setting the option clears it */
  /* attestations: -1 not asked (buildx's default applies), 0 off, 1 on; with the spec
   * ("mode=max,builder-id=…") of the last flag that turned it on */
  int provenance, sbom;
  char *provenance_spec, *sbom_spec;
  bool allow_network_host, allow_security_insecure; /* --allow entitlements */
  /* SW_OPT_GRANT: set, the user's grant those entitlements must fit in (bake's --allow) */
  bool grant_set, grant_network_host, grant_security_insecure;
  bool call_check; /* --call=check: run the build checks only */
  /* RUN's resources (sandbox/limits.h) */
  uint64_t shm_size;
  sw_ulimit *ulimits;
  size_t n_ulimits;
  char *cgroup_parent;
  sw_cgroup_limits cgroup_limits;
  bool publish_none;     /* SW_OPT_PUBLISH "none": push by digest, move no tag */
  sw_strv smoke;         /* SW_OPT_SMOKE commands */
  int smoke_timeout;     /* seconds */

  sw_event_callback cb;
  void *cb_userdata;
  struct sw_log_route *log_route; /* while running with a callback: the library's messages */
  /* Events of other threads (stages running at once), queued for the build's thread. */
  pthread_t owner;                /* the thread in sw_build_run() */
  pthread_mutex_t events_lock;
  pthread_cond_t events_cond;     /* an event was queued, or sw_build_wake() */
  struct sw_queued_event *events_head, *events_tail;
  unsigned wakeups;               /* under events_lock: sw_build_wake() calls */

  char *digest;   /* results, after a successful run */
  char *image_id;

  sw_sandbox_stop stop; /* sw_build_cancel(): every RUN of this build waits on it */
};

/* After sw_build_cancel(): fills *err (ECANCELED, "cancelled") and returns -1; else 0.
 * The engine asks between steps and before it publishes anything. */
int sw_build_check_cancelled (sw_build *b, sw_error **err);

/* With SW_OPT_GRANT set: -1 (EPERM, SW_ERR_INPUT) when SW_OPT_ALLOW asks for an
 * entitlement the grant lacks, naming it and the flag that grants it; else 0.  The run
 * asks before any work. */
int sw_build_check_grant (const sw_build *b, sw_error **err);

/* Emit an event to the build's callback, if any.  On the build's thread it is delivered
 * at once (messages other threads logged meanwhile first, as SW_EVENT_LOG); from any
 * other thread it is copied and queued, and the build's thread delivers it at its next
 * sw_build_emit() or sw_build_pump(): the callback only ever runs on the caller's thread,
 * and the events of one thread keep their order. */
void sw_build_emit (sw_build *b, const sw_event *ev);
/* On the build's thread: deliver what is queued; if nothing was, wait up to timeout
 * seconds for an event or a sw_build_wake(), and deliver what came. */
void sw_build_pump (sw_build *b, double timeout);
/* From any thread: end the build thread's current sw_build_pump() wait early. */
void sw_build_wake (sw_build *b);
/* Around a run: the library's messages become SW_EVENT_LOG events of this build (when it
 * has a callback; else they take the process-wide path, common/log.h). */
void sw_build_log_begin (sw_build *b);
void sw_build_log_end (sw_build *b);

#endif
