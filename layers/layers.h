/* layers/layers.h — OCI layers: directory → layer stream (pack) and back (extract).
 *
 * Pack guarantees:
 *  - One pass, nothing on disk: tar (libarchive, pax) → sha256 (diffID) → gzip|zstd|none
 *    → sha256 and size (digest) → the caller's sink.  Memory is bounded (a few MiB of
 *    buffers) whatever the layer's size.
 *  - Deterministic: entries in byte order of names, depth first (a directory, then what
 *    it holds, as Go's filepath.Walk and so containerd/BuildKit); mtimes truncated to
 *    seconds and clamped to source_date_epoch when set; no atime/ctime; uname/gname
 *    empty (ids are numeric; a host's /etc/passwd must not change a digest); xattrs in
 *    name order as SCHILY.xattr records.  The same tree gives the same digest.
 *  - Overlay upper dirs (opts.overlay): 0/0 character devices become `.wh.NAME`
 *    (regular, size 0, mode 0, uid/gid 0); directories marked opaque
 *    (trusted.overlay.opaque=y or user.overlay.opaque=y) get a `.wh..wh..opq` entry
 *    right after them.  Overlay-private xattrs are never written.  An upper dir that uses
 *    redirect_dir or metacopy cannot be turned into a layer, and says so.
 *  - Kinds: regular files (sparse ones — fewer blocks than bytes — as pax sparse 1.0,
 *    holes as SEEK_HOLE reports them, so they are part of what the digest covers),
 *    directories, symlinks,
 *    hardlinks between files of the layer, character and block devices, fifos.
 *    Sockets are skipped, as BuildKit does.  Mode keeps setuid/setgid/sticky.
 *
 * Extract guarantees:
 *  - Streaming: the extractor is a sink, so a blob download can push into it; the
 *    compressed digest and the diffID are checked when given (a mismatch fails finish).
 *  - Nothing outside the root is created, changed or removed.  Entry names with `..` or
 *    an absolute path are errors; parents are resolved with openat2(RESOLVE_IN_ROOT), so
 *    symlinks in the tree (the layer's own or earlier ones) stay inside the root; final
 *    components are never followed; hardlink targets must name a non-directory inside the
 *    root; device nodes only when opts.devices.  An error names the entry.
 *  - Whiteouts as the OCI image spec says: `.wh.NAME` hides NAME of lower layers, the
 *    opaque marker hides a directory's lower contents; neither touches what the same
 *    layer adds.  In SW_WHITEOUT_APPLY mode they delete (a flattened rootfs); in the
 *    overlay modes they become overlayfs whiteouts (a snapshot used as a lower dir).
 *  - A stream that fails mid-way may leave a partial tree inside the root; use
 *    sw_layer_snapshot_sink() for all-or-nothing.
 *  - A symlink's target is data: it is stored as written, wherever it points (`x ->
 *    ../../etc`); it is only ever resolved inside the root.  Only an entry's own *name*
 *    (and a hardlink's target) must stay inside.
 *
 * The same extractor unpacks ADD's local archives (copy/add.h), with the options BuildKit's
 * unpack implies: SW_WHITEOUT_NONE (a `.wh.` name is an ordinary file), archive_names
 * (moby Untar's names: a leading "/" and inner "a/../b" are cleaned, only a name that still
 * climbs out is refused), any_compression (bzip2 and xz besides gzip and zstd), and
 * owner_set (every entry owned by ADD --chown's uid:gid).  Directories already there are
 * merged into, as for a layer.
 */
#ifndef SW_LAYERS_LAYERS_H
#define SW_LAYERS_LAYERS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sink.h"
#include "layers/sink.h"

typedef struct sw_layer_info
{
  char diff_id[SW_DIGEST_BUFSZ]; /* sha256 of the uncompressed tar */
  char digest[SW_DIGEST_BUFSZ];  /* sha256 of the blob as stored (compressed) */
  uint64_t size;               /* blob size */
  uint64_t tar_size;           /* uncompressed size */
  sw_compression compression;
} sw_layer_info;

typedef struct sw_pack_opts
{
  sw_compression compression; /* default gzip */
  int level;                  /* -1: the compressor's default */
  int threads;                /* zstd workers; 0: one per CPU */
  bool overlay;               /* the source is an overlayfs upper dir */
  bool userxattr;             /* overlay mounted with userxattr: user.overlay.* */
  int64_t source_date_epoch;  /* clamp mtimes to this; < 0: no clamp */
  bool async;                 /* compress and sink on a worker thread (default true) */
  bool no_digests;            /* a second pass of a tree whose digests are known: no sha256
                                 computed, info's diff_id and digest stay "", the sink is
                                 finished with no digest (sizes are still counted) */
} sw_pack_opts;

void sw_pack_opts_init (sw_pack_opts *o);

/* Pack the tree under dirfd (not the directory's own entry) into sink, which this call
 * finishes (or aborts on failure).  info receives the digests and sizes. */
int sw_layer_pack (int dirfd, const sw_pack_opts *o, sw_sink *sink, sw_layer_info *info,
                   sw_error **err);
int sw_layer_pack_path (const char *dir, const sw_pack_opts *o, sw_sink *sink,
                        sw_layer_info *info, sw_error **err);

typedef enum sw_whiteout_mode
{
  SW_WHITEOUT_APPLY = 0,         /* delete what whiteouts hide: a flat rootfs */
  SW_WHITEOUT_OVERLAY,           /* 0/0 char devices, trusted.overlay.opaque=y */
  SW_WHITEOUT_OVERLAY_USERXATTR, /* 0/0 char devices, user.overlay.opaque=y */
  SW_WHITEOUT_NONE,              /* no whiteouts: `.wh.NAME` is a file like any other */
} sw_whiteout_mode;

typedef struct sw_extract_opts
{
  const char *digest;       /* expected blob digest, or NULL */
  const char *diff_id;      /* expected diffID, or NULL */
  sw_whiteout_mode whiteouts;
  bool devices;             /* allow device nodes (default: when running as root) */
  bool chown;               /* restore uid/gid (default: when running as root) */
  uint64_t max_bytes;       /* bound on the uncompressed stream; 0: none */
  /* A skeleton: regular files are created with their metadata but empty, except the
   * paths listed in keep_data (rootfs-relative, "etc/passwd").  The tree has the image's
   * shape (what COPY needs to resolve a destination) at a fraction of its size. */
  bool metadata_only;
  const char *const *keep_data;
  /* an archive rather than a layer (see above) */
  bool archive_names;       /* clean names as moby's Untar does instead of refusing ".." */
  bool any_compression;     /* gzip, bzip2, xz, zstd or none, found by content */
  bool owner_set;           /* owner every entry uid:gid instead of the archive's owners */
  uint32_t uid, gid;
} sw_extract_opts;

void sw_extract_opts_init (sw_extract_opts *o);

/* A sink that extracts the layer pushed into it onto the directory rootfd (dup'ed; the
 * caller keeps its fd).  Finishing it verifies digests and completes directory mtimes;
 * info (may be NULL) is filled then. */
int sw_layer_extract_sink (sw_sink *out, int rootfd, const sw_extract_opts *o,
                           sw_layer_info *info, sw_error **err);

/* Extract a whole layer read from fd (a file, a pipe). */
int sw_layer_extract_fd (int fd, int rootfd, const sw_extract_opts *o, sw_layer_info *info,
                         sw_error **err);

/* Not the engine's layer store: a build keeps its extracted layers in store/state.h's
 * STATE/layers/ALGO-HEX (sw_state_layer_begin/commit around sw_layer_extract_sink, in
 * exec/base.c).  The snapshot sink below is the stand-alone all-or-nothing form of the
 * same extraction, for callers without an engine state: only tests/tools/layertool
 * ("snapshot", used by tests/integration/layers.sh) and tests/unit/test_layers.c.  Its
 * SNAPDIR layout is its own; do not point it at a state directory.
 *
 * A sink that extracts into a new snapshot directory SNAPDIR/sha256/<hex of diff_id>,
 * all or nothing: it extracts into a temporary directory beside it and renames it into
 * place only once the stream is complete and its digests verified (diff_id always).  If
 * the snapshot already exists, the stream is still verified and then discarded.  Abort or
 * failure removes the temporary directory.  Whiteouts are kept in overlay form unless
 * o->whiteouts says otherwise (a snapshot is an overlay lower dir).  info (may be NULL)
 * is filled when the sink finishes successfully. */
int sw_layer_snapshot_sink (sw_sink *out, const char *snapdir, const char *diff_id,
                            const sw_extract_opts *o, sw_layer_info *info, sw_error **err);

/* The path of the snapshot for diff_id (malloc'ed). */
char *sw_layer_snapshot_path (const char *snapdir, const char *diff_id);

#endif
