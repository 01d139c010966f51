/* exec/cache_transport.h — where an exported build cache lives: a registry ref or an OCI
 * layout directory.
 *
 * Private to exec/.  The format is one (docs/CACHE.md: one OCI image manifest whose
 * config maps step keys to layer descriptors, whose layers are those blobs); what differs
 * between `type=registry` and `type=local` is only how its three kinds of bytes move:
 * the config (read), a layer blob (read into a sink, written from a built layer), and the
 * config + manifest that name the whole cache (published).  exec/remote_cache.c holds the
 * format and the import/export flow and calls a location only through this table; the
 * registry transport is in exec/remote_cache.c, the directory one in exec/cache_local.c.
 */
#ifndef SW_EXEC_CACHE_TRANSPORT_H
#define SW_EXEC_CACHE_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/sink.h"
#include "exec/engine.h"

typedef struct sw_cache_loc sw_cache_loc;

typedef struct sw_cache_transport
{
  const char *type; /* as in --cache-to type=… */
  /* publish is done under a lock that also covers the read before it, so a read-merge-
   * write cannot lose another writer's entries (a directory: flock).  Without it (a
   * registry has no compare-and-swap), the exporter re-reads after writing and merges
   * again (exec/remote_cache.c). */
  bool atomic;
  /* The cache config's bytes, checked against the digest its manifest gives: 1; 0 when
   * there is no cache there (yet); -1 when what is there is not a readable cache. */
  int (*read_config) (sw_engine *e, sw_cache_loc *loc, sw_buf *cfg, sw_error **err);
  /* Blob digest (size bytes, < 0: unknown) into sink, which is finished only when every
   * byte came and matched, and aborted otherwise (finished or aborted here, always). */
  int (*get_blob) (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size, sw_sink *sink,
                   sw_error **err);
  /* Make sure the location has built layer l's blob; fills l's digest, size and media
   * type when they were not known (a layer never packed: a stage that is not exported). */
  int (*put_layer) (sw_engine *e, sw_cache_loc *loc, sw_layer *l, sw_error **err);
  /* Does the location hold blob digest of size bytes already?  (A HEAD; a stat.)  An
   * answer that cannot be had is "no": the caller then puts the blob. */
  bool (*has_blob) (sw_engine *e, sw_cache_loc *loc, const char *digest, int64_t size);
  /* Around the read-merge-publish of an export (NULL: no lock). */
  int (*lock) (sw_cache_loc *loc, sw_error **err);
  void (*unlock) (sw_cache_loc *loc);
  /* Make config cfg and manifest man (which lists cfg's blobs, all already there) the
   * location's cache. */
  int (*publish) (sw_engine *e, sw_cache_loc *loc, const sw_buf *cfg, const sw_buf *man, sw_error **err);
} sw_cache_transport;

struct sw_cache_loc
{
  const sw_cache_transport *t;
  char *name;     /* for messages: "type=registry,ref=…", "type=local,dest=…" */
  sw_ref *ref;    /* registry */
  char *dir;      /* local: src= or dest= */
  char *digest;   /* local src: digest= (a manifest of the layout) or NULL */
  int lock_fd;    /* local: the directory, flock'ed while exporting; -1 */
};

extern const sw_cache_transport sw_cache_registry_transport;
extern const sw_cache_transport sw_cache_local_transport;

/* Pack built layer l's dir with the cache's options into sink (which this finishes or
 * aborts), and fill l's digest, diffID, size and media type; a layer whose digest was
 * known must pack to the same one (packing is deterministic), and is left as it is.  With
 * a compression of the cache's own, what the packing gave is recorded in the state dir
 * (store/stepcache.h: sw_pack_put), for the next export of that layer.
 * Put_layer runs on a worker thread while the build goes on (the background lane:
 * exec/workers.h), after the layer's own pack job. */
int sw_cache_pack_layer (sw_engine *e, sw_layer *l, sw_sink *sink, sw_error **err);

#endif
