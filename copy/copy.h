/* copy/copy.h — COPY and ADD, with BuildKit's semantics (dockerfile2llb's dispatchCopy,
 * the FileOp backend, tonistiigi/fsutil's copy).  The engine calls sw_copy_run() once per
 * instruction, with the step's view of the target rootfs as a directory fd.
 *
 * What it guarantees, rule by rule:
 *  - Sources are relative to the source root (the build context, or another stage's
 *    rootfs; never WORKDIR).  Wildcards are Go filepath.Match per path component; a
 *    pattern that matches nothing is silently skipped (BuildKit's AllowEmptyWildcard);
 *    a plain path that does not exist is an error naming it.  .dockerignore'd paths do
 *    not exist.  A named source that is a symlink is followed (inside the source root);
 *    symlinks met inside a copied directory are copied as symlinks.
 *  - The destination is relative to WORKDIR unless absolute.  A directory source copies
 *    its contents.  A file goes into the destination when that is an existing directory
 *    or ends with "/", else it becomes the destination.  Several sources with a
 *    destination lacking "/" are copied one after the other onto the same path, as
 *    BuildKit does (it has no "must end with /" error).  Missing directories of the
 *    destination are created 0755 (or the octal --chmod's rwx bits), owned by --chown
 *    when given.
 *  - Owners: --chown (names from the target's /etc/passwd and /etc/group; unknown → 0),
 *    else 0:0 for context files and heredocs, the source's owner for --from stages.
 *    Modes: --chmod (octal or symbolic) on everything copied, else the source's.  Times,
 *    xattrs, hardlinks within one source: preserved.
 *  - --exclude patterns match below each copied source; --parents keeps the source's
 *    path under the destination (a "/./" in the source marks where the kept part starts).
 *  - ADD: a local tar (plain, gzip, bzip2, xz, zstd; found by content) is unpacked into
 *    the destination directory, entries kept inside it; an http(s) URL is downloaded
 *    (mode 0600, mtime from Last-Modified, name from the URL's last path component),
 *    checked against --checksum; a git URL is "not supported yet".
 *  - Heredocs become files (0644, or --chmod) named after the heredoc.
 *  - Every path in the destination is resolved with openat2 RESOLVE_IN_ROOT: nothing is
 *    ever written outside dst_root, whatever symlinks it holds.
 * Errors read "Dockerfile:12: COPY: …" (with opts.where; the engine, which locates errors
 * itself, leaves it NULL) and name the path.
 */
#ifndef SW_EXEC_COPY_H
#define SW_EXEC_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "copy/dockerignore.h"

typedef struct sw_copy_heredoc
{
  const char *name; /* the file name: the heredoc's word (`COPY <<EOF /x/` → /x/EOF) */
  const char *data; /* already expanded when the delimiter was unquoted */
  size_t len;
} sw_copy_heredoc;

typedef struct sw_copy_opts
{
  bool add;          /* ADD (archives unpacked, URLs allowed) rather than COPY */
  const char *where; /* "Dockerfile:12", put in front of errors; may be NULL */

  int src_root_fd;           /* the context dir or another stage's rootfs; -1 if unused */
  const char *src_desc;      /* for messages: "build context", "stage builder"; may be NULL */
  const sw_patterns *ignore; /* the context's .dockerignore, or NULL */
  bool src_is_context;       /* files arrive owned by 0:0 */

  int dst_root_fd;   /* the target rootfs as the step sees it (overlay mount or upper) */
  int user_root_fd;  /* where --chown names are looked up; -1 = dst_root_fd */
  const char *workdir; /* the stage's WORKDIR (absolute); NULL = "/" */

  const char *const *srcs; /* as written: paths, wildcards, URLs */
  size_t n_srcs;
  const sw_copy_heredoc *heredocs;
  size_t n_heredocs;
  const char *dest;

  const char *chown;             /* NULL or "user[:group]" */
  const char *chmod;             /* NULL, octal, or symbolic */
  const char *const *excludes;   /* --exclude patterns */
  size_t n_excludes;
  bool parents;                  /* --parents */
  const char *checksum;          /* ADD --checksum=sha256:… (URLs only) */
  int unpack;                    /* ADD --unpack: -1 unset (archives from the context are
                                    unpacked, URLs are not), 0 false, 1 true */
  const char *tmp_dir;           /* where URL downloads and heredocs are staged; NULL = $TMPDIR */
  struct sw_registry *transport; /* downloads URLs (the build's registry session); NULL: a
                                    session of its own per download */
} sw_copy_opts;

/* Check the flags alone (--chmod syntax, --checksum rules, URL/git sources for COPY):
 * the errors a Dockerfile gets before anything runs. */
int sw_copy_check (const sw_copy_opts *o, sw_error **err);

/* Run the instruction. */
int sw_copy_run (const sw_copy_opts *o, sw_error **err);

/* WORKDIR's `mkdir -p` in the stage's tree: symlinks on the way are followed inside
 * dst_root (an absolute link never reaches the host), missing directories are made 0755,
 * owned by `user` (the stage's USER, resolved in dst_root as --chown is; NULL or "" for
 * root), as BuildKit's mkdir with the image's user does.  Existing directories keep their
 * owner. */
int sw_copy_mkdir_in_root (int dst_root, const char *path, const char *user, sw_error **err);

/* BuildKit makes a COPY --link its own layer, independent of the base, only when it has
 * no --chmod; otherwise it is an ordinary COPY onto the stage's rootfs. */
bool sw_copy_link_applies (bool link, const char *chmod);

/* The history entry BuildKit writes for the step ("COPY --chown=a:b src /dst",
 * "ADD <<EOF /x" …); caller frees. */
char *sw_copy_history (const sw_copy_opts *o);

#endif
