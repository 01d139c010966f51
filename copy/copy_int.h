/* copy/copy_int.h — private to copy/copy*.c and copy/add.c.
 *
 * Paths "in a root" are absolute, cleaned strings ("/", "/a/b") naming a place inside a
 * directory fd that stands for "/".  They are only ever opened with openat2
 * RESOLVE_IN_ROOT, so no symlink (raced or planted) can lead outside the root. */
#ifndef SW_EXEC_COPY_INT_H
#define SW_EXEC_COPY_INT_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/fsutil.h" /* sw_open_in_root, sw_remove_all_at */
#include "copy/dockerignore.h"

/* ---- copy_path.c ---- */

/* continuity's fs.RootPath: resolve p inside root as if root were "/", following
 * symlinks in every component (the last one too when follow_final); a tail that does
 * not exist is kept as it is.  *out is a cleaned absolute path. */
int sw_copy_root_path (int rootfd, const char *p, bool follow_final, char **out, sw_error **err);

/* Open the parent directory of path (O_PATH|O_DIRECTORY) and point *name at its last
 * component ("." for "/").  -1 with errno set. */
int sw_copy_open_parent (int rootfd, const char *path, const char **name);

/* fsutil's MkdirAll on an already resolved path: create each missing directory with
 * mode (chmod'ed after mkdir so the umask does not apply), owned by uid:gid when
 * uid != (uid_t) -1.  An existing non-directory is an error. */
int sw_copy_mkdir_all (int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid,
                       sw_error **err);

/* The names in d but "." and "..", sorted by strcmp (byte order: a walk in a fixed
 * order), malloc'ed one by one in a malloc'ed array; d is closed. */
char **sw_copy_read_names (DIR *d, size_t *n);

/* overlayfs's own xattrs (trusted.overlay.*, user.overlay.*): never copied, as they
 * would change what the target's overlay shows (an opaque dir hides its lower). */
bool sw_copy_xattr_private (const char *name);

/* path.Join(a, b) cleaned, absolute. */
char *sw_copy_join (const char *a, const char *b);

/* ---- copy_mode.c ---- */

typedef struct sw_copy_mode
{
  bool set;      /* --chmod given */
  bool symbolic; /* else octal */
  mode_t octal;
  struct sw_mode_cmd *cmds;
  size_t ncmds;
} sw_copy_mode;

/* Parse --chmod as BuildKit does: octal up to 07777, else a chmod(1) symbolic mode. */
int sw_copy_mode_parse (const char *s, sw_copy_mode *m, sw_error **err);
/* The permission bits (07777) a copied entry of mode st_mode gets. */
mode_t sw_copy_mode_apply (const sw_copy_mode *m, mode_t st_mode);
void sw_copy_mode_clear (sw_copy_mode *m);

/* ---- copy_chown.c ---- */

/* --chown=user[:group] with BuildKit's rules, names looked up in user_root's
 * /etc/passwd and /etc/group. */
int sw_copy_chown_resolve (const char *spec, int user_root, uid_t *uid, gid_t *gid,
                           sw_error **err);

/* ---- copy_tree.c ---- */

typedef struct sw_copier
{
  int src_root, dst_root;
  const sw_patterns *ignore; /* .dockerignore, matched on paths relative to src_root */
  sw_patterns *include;      /* --parents pattern, relative to the copied source */
  sw_patterns *exclude;      /* --exclude, relative to the copied source */
  bool chown;
  uid_t uid;
  gid_t gid;
  bool owner_zero; /* the source is the build context: files arrive owned by 0:0 */
  const sw_copy_mode *mode;
  /* hardlinks seen: source (dev, ino) → first destination path */
  struct sw_copy_link *links;
  size_t nlinks;
  /* directories walked but not created yet (include/exception patterns) */
  struct sw_copy_pending *pending;
  size_t npending;
} sw_copier;

/* fsutil copy.Copy for one source: src is a cleaned absolute path in src_root, already
 * resolved as wanted; name is the last component of the source as written (a followed
 * symlink keeps its own name); dst is the destination as the action gives it (a trailing
 * "/" is meaningful).  copy_dir_contents: BuildKit's DirCopyContents. */
int sw_copier_copy (sw_copier *c, const char *src, const char *name, const char *dst,
                    bool copy_dir_contents, sw_error **err);
void sw_copier_clear (sw_copier *c);

/* ---- shared ---- */

/* Read a small regular file inside root (at most max bytes); 1 when it does not exist. */
int sw_copy_read_in_root (int rootfd, const char *path, size_t max, char **data, size_t *len,
                          sw_error **err);

#endif
