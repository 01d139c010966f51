/* layers/extract.c — apply a layer stream onto a directory, safely.
 *
 * The extractor is a sink (so a registry download can push into it), but libarchive's
 * reader pulls; the two meet in a fixed ring of buffers between the pushing thread and a
 * reader thread that runs libarchive and makes the files.  Memory: the ring, libarchive's
 * own buffers, and one small record per entry (the names this layer made, for whiteout
 * semantics) and per directory (mtimes are set last).
 *
 * Safety model: every name is normalised and rejected if absolute or containing "..";
 * the parent directory is opened with openat2(RESOLVE_IN_ROOT), so any symlink on the way
 * resolves as if the root were "/"; the final component is only ever created, opened,
 * changed or removed relative to that parent fd and never followed (O_NOFOLLOW,
 * AT_SYMLINK_NOFOLLOW, O_EXCL after unlinking whatever was there).  Removal walks by fd.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "layers/layers.h"

#define RING_BUFS 4
#define RING_SIZE (256 * 1024)
#define SHOWN_NAME 200 /* how much of a hostile name an error message repeats */

void
sw_extract_opts_init (sw_extract_opts *o)
{
  bool root = geteuid () == 0;
  *o = (sw_extract_opts){ .digest = NULL, .diff_id = NULL, .whiteouts = SW_WHITEOUT_APPLY,
                          .devices = root, .chown = root, .max_bytes = 0 };
}

/* ---- a set of strings (the paths this layer made) ----------------------------------- */

struct strset
{
  char **slots;
  size_t n, cap;
};

static uint64_t
str_hash (const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char) *s) * 1099511628211ull;
  return h;
}

static bool
strset_has (const struct strset *set, const char *s)
{
  if (set->cap == 0)
    return false;
  for (size_t j = str_hash (s) & (set->cap - 1); set->slots[j]; j = (j + 1) & (set->cap - 1))
    if (strcmp (set->slots[j], s) == 0)
      return true;
  return false;
}

static void
strset_add (struct strset *set, const char *s)
{
  if (strset_has (set, s))
    return;
  if ((set->n + 1) * 2 > set->cap)
    {
      size_t ncap = set->cap ? set->cap * 2 : 256;
      char **n = sw_xcalloc (ncap, sizeof *n);
      for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i])
          {
            size_t j = str_hash (set->slots[i]) & (ncap - 1);
            while (n[j])
              j = (j + 1) & (ncap - 1);
            n[j] = set->slots[i];
          }
      free (set->slots);
      set->slots = n;
      set->cap = ncap;
    }
  size_t j = str_hash (s) & (set->cap - 1);
  while (set->slots[j])
    j = (j + 1) & (set->cap - 1);
  set->slots[j] = sw_xstrdup (s);
  set->n++;
}

static void
strset_free (struct strset *set)
{
  for (size_t i = 0; i < set->cap; i++)
    free (set->slots[i]);
  free (set->slots);
}

/* ---- the extractor state ------------------------------------------------------------ */

struct dirtime
{
  char *path;
  struct timespec ts[2];
};

struct xt
{
  /* ring between the pushing thread (sink writes) and the reader thread */
  pthread_t tid;
  bool started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint8_t *bufs[RING_BUFS];
  size_t lens[RING_BUFS];
  unsigned head, count;
  size_t fill;
  bool holding;       /* the reader holds bufs[head] */
  bool eof, cancel;   /* writer → reader */
  bool done, failed;  /* reader → writer */
  sw_error *rerr;

  /* reader-thread state */
  int rootfd;
  sw_extract_opts o;
  char *want_digest, *want_diff_id;
  struct archive *ar;
  struct strset made;
  struct dirtime *dirs;
  size_t ndirs, capdirs;

  /* results, filled by the filters in front of us */
  sw_digest_result blob, diff;
  sw_compression detected;
  sw_layer_info *info;
};

/* ---- paths ------------------------------------------------------------------------ */

static const char *
shown (const char *name, char *buf, size_t size)
{
  size_t n = strlen (name);
  if (n < SHOWN_NAME)
    return name;
  snprintf (buf, size, "%.*s… (%zu bytes)", SHOWN_NAME, name, n);
  return buf;
}

/* Normalise a tar name into "a/b/c": drop "." and empty components; fail on ".." and on
 * absolute names.  "" means the root itself.  With loose (an ADDed archive, read as moby's
 * Untar does), a leading "/" is dropped and ".." removes the component before it (at the
 * top of an absolute name, nothing, as Go's path.Clean); only a name that still climbs out
 * of the root is refused. */
static int
normalise (const char *raw, const char *what, bool loose, char **out, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  if (raw == NULL)
    return sw_error_make (err, EINVAL, "layer %s with no name (or one libarchive cannot represent)", what);
  bool absolute = raw[0] == '/';
  if (absolute && !loose)
    return sw_error_make (err, EPERM, "layer %s \"%s\": absolute path, refusing to write outside the root",
                          what, shown (raw, sb, sizeof sb));
  sw_buf b = SW_BUF_INIT;
  const char *p = raw;
  while (*p)
    {
      const char *e = strchr (p, '/');
      size_t n = e ? (size_t) (e - p) : strlen (p);
      if (n == 2 && p[0] == '.' && p[1] == '.')
        {
          if (loose && b.len)
            {
              /* drop the last component */
              char *last = memrchr (b.data, '/', b.len);
              b.len = last ? (size_t) (last - (char *) b.data) : 0;
              b.data[b.len] = '\0';
            }
          else if (!(loose && absolute))
            {
              sw_buf_free (&b);
              return sw_error_make (err, EPERM, "layer %s \"%s\": \"..\" in the path, refusing to write outside the root",
                                    what, shown (raw, sb, sizeof sb));
            }
        }
      else if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (b.len)
            sw_buf_putc (&b, '/');
          sw_buf_append (&b, p, n);
        }
      p += n;
      if (*p == '/')
        p++;
    }
  *out = sw_buf_steal (&b);
  return 0;
}

/* Open the directory rel inside the root (symlinks resolved inside it), creating missing
 * components (0755) when create; the directories made are recorded as this layer's. */
static int
open_dir (struct xt *x, const char *rel, bool create, const char *entry, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  int fd = sw_open_in_root (x->rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT || !create)
    return sw_error_errno (err, "layer entry \"%s\": opening its directory", shown (entry, sb, sizeof sb));
  cleanup_close int cur = fcntl (x->rootfd, F_DUPFD_CLOEXEC, 0);
  cleanup_free char *prefix = sw_xstrdup (rel);
  size_t len = strlen (rel);
  for (size_t i = 0; i <= len; i++)
    {
      if (prefix[i] != '/' && prefix[i] != '\0')
        continue;
      char saved = prefix[i];
      prefix[i] = '\0';
      const char *comp = strrchr (prefix, '/');
      comp = comp ? comp + 1 : prefix;
      int nfd = sw_open_in_root (x->rootfd, prefix, O_RDONLY | O_DIRECTORY, 0);
      if (nfd < 0 && errno == ENOENT)
        {
          if (mkdirat (cur, comp, 0755) < 0 && errno != EEXIST)
            return sw_error_errno (err, "layer entry \"%s\": creating its directory %s",
                                   shown (entry, sb, sizeof sb), prefix);
          strset_add (&x->made, prefix);
          nfd = sw_open_in_root (x->rootfd, prefix, O_RDONLY | O_DIRECTORY, 0);
        }
      if (nfd < 0)
        return sw_error_errno (err, "layer entry \"%s\": opening its directory %s",
                               shown (entry, sb, sizeof sb), prefix);
      close (cur);
      cur = nfd;
      prefix[i] = saved;
    }
  return sw_steal_fd (&cur);
}

static char *
join (const char *parent, const char *base)
{
  return parent[0] ? sw_xasprintf ("%s/%s", parent, base) : sw_xstrdup (base);
}

/* ---- metadata --------------------------------------------------------------------- */

static bool
skip_xattr (const char *name)
{
  /* overlayfs' own metadata must never come from a layer: a planted redirect or opaque
   * xattr would change what an overlay over this snapshot shows */
  return strncmp (name, "trusted.overlay.", 16) == 0 || strncmp (name, "user.overlay.", 13) == 0
         || strcmp (name, "security.selinux") == 0;
}

static int
set_xattrs (struct xt *x, struct archive_entry *e, int fd, int parentfd, const char *base,
            const char *path, sw_error **err)
{
  const char *name;
  const void *val;
  size_t size;
  char sb[SHOWN_NAME + 64];
  if (archive_entry_xattr_reset (e) == 0)
    return 0;
  char procpath[64 + 4096];
  snprintf (procpath, sizeof procpath, "/proc/self/fd/%d/%s", parentfd, base);
  while (archive_entry_xattr_next (e, &name, &val, &size) == ARCHIVE_OK)
    {
      if (!name || skip_xattr (name))
        continue;
      int r = fd >= 0 ? fsetxattr (fd, name, val, size, 0) : lsetxattr (procpath, name, val, size, 0);
      if (r < 0)
        {
          if (errno == ENOTSUP || errno == EPERM || errno == EACCES)
            {
              sw_debug ("layer entry %s: xattr %s not restored: %s", path, name, strerror (errno));
              continue;
            }
          return sw_error_errno (err, "layer entry \"%s\": setting xattr %s", shown (path, sb, sizeof sb), name);
        }
    }
  return 0;
}

static void
entry_times (struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime (e);
  ts[1].tv_nsec = archive_entry_mtime_is_set (e) ? archive_entry_mtime_nsec (e) : 0;
  if (ts[1].tv_nsec < 0 || ts[1].tv_nsec > 999999999)
    ts[1].tv_nsec = 0;
  if (archive_entry_atime_is_set (e))
    {
      ts[0].tv_sec = archive_entry_atime (e);
      ts[0].tv_nsec = archive_entry_atime_nsec (e);
      if (ts[0].tv_nsec < 0 || ts[0].tv_nsec > 999999999)
        ts[0].tv_nsec = 0;
    }
  else
    ts[0] = ts[1];
}

/* Owner, mode, xattrs and times of what was just made: through fd when there is one,
 * else relative to the parent without following. */
static int
set_meta (struct xt *x, struct archive_entry *e, int fd, int parentfd, const char *base,
          const char *path, bool symlink, bool times, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  const char *sp = shown (path, sb, sizeof sb);
  if (x->o.chown || x->o.owner_set)
    {
      uid_t uid = x->o.owner_set ? (uid_t) x->o.uid : (uid_t) archive_entry_uid (e);
      gid_t gid = x->o.owner_set ? (gid_t) x->o.gid : (gid_t) archive_entry_gid (e);
      int r = fd >= 0 ? fchown (fd, uid, gid) : fchownat (parentfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
      if (r < 0)
        return sw_error_errno (err, "layer entry \"%s\": chown %u:%u", sp, uid, gid);
    }
  if (!symlink)
    {
      mode_t perm = archive_entry_perm (e) & 07777;
      int r = fd >= 0 ? fchmod (fd, perm) : fchmodat (parentfd, base, perm, 0);
      if (r < 0)
        return sw_error_errno (err, "layer entry \"%s\": chmod %o", sp, perm);
    }
  if (set_xattrs (x, e, fd, parentfd, base, path, err) < 0)
    return -1;
  if (times)
    {
      struct timespec ts[2];
      entry_times (e, ts);
      int r = fd >= 0 ? futimens (fd, ts) : utimensat (parentfd, base, ts, AT_SYMLINK_NOFOLLOW);
      if (r < 0)
        return sw_error_errno (err, "layer entry \"%s\": setting times", sp);
    }
  return 0;
}

/* ---- one entry ------------------------------------------------------------------- */

static int
whiteout (struct xt *x, const char *parent, const char *base, const char *path, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  bool overlay = x->o.whiteouts != SW_WHITEOUT_APPLY;
  if (strcmp (base, ".wh..wh..opq") == 0)
    {
      cleanup_close int dfd = open_dir (x, parent, true, path, err);
      if (dfd < 0)
        return -1;
      if (overlay)
        {
          const char *xname = x->o.whiteouts == SW_WHITEOUT_OVERLAY_USERXATTR ? "user.overlay.opaque"
                                                                              : "trusted.overlay.opaque";
          if (fsetxattr (dfd, xname, "y", 1, 0) < 0)
            return sw_error_errno (err, "layer entry \"%s\": marking %s opaque (%s)",
                                   shown (path, sb, sizeof sb), parent[0] ? parent : "/", xname);
          return 0;
        }
      /* hide what lower layers put in this directory, keep what this layer put there */
      int fd2 = fcntl (dfd, F_DUPFD_CLOEXEC, 0);
      DIR *d = fd2 >= 0 ? fdopendir (fd2) : NULL;
      if (!d)
        {
          if (fd2 >= 0)
            close (fd2);
          return sw_error_errno (err, "layer entry \"%s\": listing %s", shown (path, sb, sizeof sb), parent);
        }
      struct dirent *de;
      int r = 0;
      while ((de = readdir (d)) && r == 0)
        {
          if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
          cleanup_free char *child = join (parent, de->d_name);
          if (strset_has (&x->made, child))
            continue;
          if (sw_remove_all_at (dfd, de->d_name) < 0)
            r = sw_error_errno (err, "layer entry \"%s\": removing %s", shown (path, sb, sizeof sb), child);
        }
      closedir (d);
      return r;
    }
  if (strncmp (base, ".wh..wh.", 8) == 0)
    return 0; /* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to apply */
  const char *name = base + 4;
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return sw_error_make (err, EINVAL, "layer entry \"%s\": a whiteout that names nothing",
                          shown (path, sb, sizeof sb));
  cleanup_free char *target = join (parent, name);
  if (strset_has (&x->made, target))
    return 0; /* a whiteout never hides what its own layer adds */
  cleanup_close int dfd = open_dir (x, parent, overlay, path, err);
  if (dfd < 0)
    {
      if (!overlay && sw_error_code (*err) == ENOENT)
        {
          sw_error_free (*err);
          *err = NULL;
          return 0; /* nothing there to hide */
        }
      return -1;
    }
  if (sw_remove_all_at (dfd, name) < 0)
    return sw_error_errno (err, "layer entry \"%s\": removing %s", shown (path, sb, sizeof sb), target);
  if (overlay && mknodat (dfd, name, S_IFCHR | 0, makedev (0, 0)) < 0)
    return sw_error_errno (err, "layer entry \"%s\": making the overlay whiteout %s",
                           shown (path, sb, sizeof sb), target);
  return 0;
}

static int
write_file_data (struct xt *x, struct archive_entry *e, int fd, const char *path, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  const void *buf;
  size_t size;
  la_int64_t off;
  int64_t end = archive_entry_size (e);
  if (x->o.max_bytes && end > 0 && (uint64_t) end > x->o.max_bytes)
    return sw_error_make (err, EFBIG, "layer entry \"%s\": %lld bytes is over the limit of %llu",
                          shown (path, sb, sizeof sb), (long long) end,
                          (unsigned long long) x->o.max_bytes);
  for (;;)
    {
      int r = archive_read_data_block (x->ar, &buf, &size, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r < ARCHIVE_WARN)
        {
          if (x->failed || x->cancel)
            return sw_error_make (err, EIO, "layer entry \"%s\": stream aborted", shown (path, sb, sizeof sb));
          return sw_error_make (err, EINVAL, "layer entry \"%s\": %s", shown (path, sb, sizeof sb),
                                archive_error_string (x->ar));
        }
      const char *p = buf;
      while (size > 0)
        {
          ssize_t n = pwrite (fd, p, size, off);
          if (n < 0)
            {
              if (errno == EINTR)
                continue;
              return sw_error_errno (err, "layer entry \"%s\": writing", shown (path, sb, sizeof sb));
            }
          p += n;
          size -= (size_t) n;
          off += n;
        }
    }
  /* sparse files (and ones ending in a hole) get their full length */
  struct stat st;
  if (fstat (fd, &st) == 0 && end >= 0 && st.st_size < end && ftruncate (fd, end) < 0)
    return sw_error_errno (err, "layer entry \"%s\": truncate", shown (path, sb, sizeof sb));
  return 0;
}

/* metadata_only: is this file's content left out?  (libarchive skips unread data.) */
static bool
skip_data (const struct xt *x, const char *path)
{
  if (!x->o.metadata_only)
    return false;
  for (size_t i = 0; x->o.keep_data && x->o.keep_data[i]; i++)
    if (strcmp (path, x->o.keep_data[i]) == 0)
      return false;
  return true;
}

static int
extract_entry (struct xt *x, struct archive_entry *e, sw_error **err)
{
  char sb[SHOWN_NAME + 64];
  cleanup_free char *path = NULL;
  if (normalise (archive_entry_pathname (e), "entry", x->o.archive_names, &path, err) < 0)
    return -1;
  if (path[0] == '\0')
    return 0; /* the root's own entry ("./"): the root is the caller's */
  const char *sp = shown (path, sb, sizeof sb);
  char *slash = strrchr (path, '/');
  cleanup_free char *parent = slash ? sw_xstrndup (path, (size_t) (slash - path)) : sw_xstrdup ("");
  const char *base = slash ? slash + 1 : path;

  if (x->o.whiteouts != SW_WHITEOUT_NONE && strncmp (base, ".wh.", 4) == 0)
    return whiteout (x, parent, base, path, err);

  mode_t type = archive_entry_filetype (e);
  const char *hardlink = archive_entry_hardlink (e);
  if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR
      && type != AE_IFBLK && type != AE_IFIFO)
    return sw_error_make (err, EINVAL, "layer entry \"%s\": unsupported entry type (mode %o)", sp, type);
  if ((type == AE_IFCHR || type == AE_IFBLK) && !hardlink && !x->o.devices)
    return sw_error_make (err, EPERM,
                          "layer entry \"%s\": device nodes are not permitted here (extracting without privilege)", sp);

  cleanup_close int pfd = open_dir (x, parent, true, path, err);
  if (pfd < 0)
    return -1;

  struct stat st;
  bool merge = false;
  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
    {
      if (type == AE_IFDIR && !hardlink && S_ISDIR (st.st_mode))
        merge = true;
      else if (sw_remove_all_at (pfd, base) < 0)
        return sw_error_errno (err, "layer entry \"%s\": replacing what was there", sp);
    }
  else if (errno != ENOENT)
    return sw_error_errno (err, "layer entry \"%s\": stat", sp);

  if (hardlink)
    {
      cleanup_free char *target = NULL;
      if (normalise (hardlink, "hardlink target of", x->o.archive_names, &target, err) < 0)
        return sw_error_wrap (err, "layer entry \"%s\"", sp);
      if (target[0] == '\0')
        return sw_error_make (err, EPERM, "layer entry \"%s\": hardlink to the root", sp);
      char *ts = strrchr (target, '/');
      cleanup_free char *tparent = ts ? sw_xstrndup (target, (size_t) (ts - target)) : sw_xstrdup ("");
      const char *tbase = ts ? ts + 1 : target;
      cleanup_close int tfd = open_dir (x, tparent, false, path, err);
      if (tfd < 0)
        return sw_error_wrap (err, "hardlink target \"%s\"", target);
      struct stat tst;
      if (fstatat (tfd, tbase, &tst, AT_SYMLINK_NOFOLLOW) < 0)
        return sw_error_errno (err, "layer entry \"%s\": hardlink target \"%s\"", sp, target);
      if (S_ISDIR (tst.st_mode))
        return sw_error_make (err, EPERM, "layer entry \"%s\": hardlink to a directory (%s)", sp, target);
      if (linkat (tfd, tbase, pfd, base, 0) < 0)
        return sw_error_errno (err, "layer entry \"%s\": hardlink to %s", sp, target);
      strset_add (&x->made, path);
      return 0;
    }

  switch (type)
    {
    case AE_IFDIR:
      {
        if (!merge && mkdirat (pfd, base, 0700) < 0)
          return sw_error_errno (err, "layer entry \"%s\": mkdir", sp);
        cleanup_close int fd = openat (pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
          return sw_error_errno (err, "layer entry \"%s\": open", sp);
        if (set_meta (x, e, fd, pfd, base, path, false, false, err) < 0)
          return -1;
        if (x->ndirs == x->capdirs)
          {
            x->capdirs = x->capdirs ? x->capdirs * 2 : 64;
            x->dirs = sw_xreallocarray (x->dirs, x->capdirs, sizeof *x->dirs);
          }
        x->dirs[x->ndirs].path = sw_xstrdup (path);
        entry_times (e, x->dirs[x->ndirs].ts);
        x->ndirs++;
        break;
      }
    case AE_IFREG:
      {
        cleanup_close int fd
            = openat (pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
          return sw_error_errno (err, "layer entry \"%s\": create", sp);
        if (!skip_data (x, path) && write_file_data (x, e, fd, path, err) < 0)
          return -1;
        if (set_meta (x, e, fd, pfd, base, path, false, true, err) < 0)
          return -1;
        break;
      }
    case AE_IFLNK:
      {
        const char *target = archive_entry_symlink (e);
        if (!target)
          return sw_error_make (err, EINVAL, "layer entry \"%s\": symlink without a target", sp);
        /* a symlink may point anywhere: it is resolved inside the root whenever we use it */
        if (symlinkat (target, pfd, base) < 0)
          return sw_error_errno (err, "layer entry \"%s\": symlink", sp);
        if (set_meta (x, e, -1, pfd, base, path, true, true, err) < 0)
          return -1;
        break;
      }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
      {
        dev_t dev = type == AE_IFIFO ? 0 : makedev (archive_entry_rdevmajor (e), archive_entry_rdevminor (e));
        if (mknodat (pfd, base, type | (archive_entry_perm (e) & 0777), dev) < 0)
          return sw_error_errno (err, "layer entry \"%s\": mknod", sp);
        if (set_meta (x, e, -1, pfd, base, path, false, true, err) < 0)
          return -1;
        break;
      }
    }
  strset_add (&x->made, path);
  return 0;
}

/* ---- the reader thread ------------------------------------------------------------ */

static la_ssize_t
ring_read (struct archive *a, void *ud, const void **buf)
{
  struct xt *x = ud;
  pthread_mutex_lock (&x->mu);
  if (x->holding)
    {
      x->head = (x->head + 1) % RING_BUFS;
      x->count--;
      x->holding = false;
      pthread_cond_broadcast (&x->cv);
    }
  while (x->count == 0 && !x->eof && !x->cancel)
    pthread_cond_wait (&x->cv, &x->mu);
  la_ssize_t r;
  if (x->cancel)
    {
      archive_set_error (a, ECANCELED, "layer stream aborted");
      r = -1;
    }
  else if (x->count == 0)
    r = 0; /* end of stream */
  else
    {
      *buf = x->bufs[x->head];
      r = (la_ssize_t) x->lens[x->head];
      x->holding = true;
    }
  pthread_mutex_unlock (&x->mu);
  return r;
}

static int
run_extract (struct xt *x, sw_error **err)
{
  x->ar = archive_read_new ();
  if (!x->ar)
    abort ();
  /* tar only (ustar, pax, GNU): layers are tars, and every other format is attack surface */
  archive_read_support_format_tar (x->ar);
  if (x->o.any_compression)
    {
      /* an ADDed archive: decompressed here, by content (the sink passes it through) */
      archive_read_support_filter_gzip (x->ar);
      archive_read_support_filter_bzip2 (x->ar);
      archive_read_support_filter_xz (x->ar);
      archive_read_support_filter_zstd (x->ar);
    }
  if (archive_read_open2 (x->ar, x, NULL, ring_read, NULL, NULL) != ARCHIVE_OK)
    return sw_error_make (err, EINVAL, "the layer is not a tar stream (%s)", archive_error_string (x->ar));
  for (;;)
    {
      struct archive_entry *e;
      int r = archive_read_next_header (x->ar, &e);
      if (r == ARCHIVE_EOF)
        break;
      if (r == ARCHIVE_WARN)
        sw_debug ("layer: %s", archive_error_string (x->ar));
      else if (r != ARCHIVE_OK)
        {
          if (x->cancel)
            return sw_error_make (err, ECANCELED, "layer stream aborted");
          return sw_error_make (err, EINVAL, "reading the layer's tar: %s%s",
                                archive_error_string (x->ar),
                                x->eof ? " (the stream is truncated or is not a tar)" : "");
        }
      if (extract_entry (x, e, err) < 0)
        return -1;
    }
  /* directory times last: making their contents changed them */
  for (size_t i = x->ndirs; i-- > 0;)
    {
      int fd = sw_open_in_root (x->rootfd, x->dirs[i].path, O_RDONLY | O_DIRECTORY, 0);
      if (fd < 0)
        continue; /* removed by a later whiteout or replaced */
      futimens (fd, x->dirs[i].ts);
      close (fd);
    }
  return 0;
}

static void *
reader (void *arg)
{
  struct xt *x = arg;
  sw_error *e = NULL;
  /* pax names are UTF-8; with a UTF-8 locale (this thread only) libarchive hands them
   * over unchanged */
  locale_t utf8 = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
  if (utf8)
    uselocale (utf8);
  int r = run_extract (x, &e);
  if (x->ar)
    {
      archive_read_free (x->ar); /* in the locale it was used with */
      x->ar = NULL;
    }
  if (utf8)
    {
      uselocale (LC_GLOBAL_LOCALE);
      freelocale (utf8);
    }
  pthread_mutex_lock (&x->mu);
  x->done = true;
  if (r < 0)
    {
      x->failed = true;
      x->rerr = e;
    }
  if (x->holding)
    {
      x->head = (x->head + 1) % RING_BUFS;
      x->count--;
      x->holding = false;
    }
  /* anything still queued (tar padding after the end marker) is dropped */
  x->count = 0;
  pthread_cond_broadcast (&x->cv);
  pthread_mutex_unlock (&x->mu);
  return NULL;
}

static void
xt_free (struct xt *x)
{
  if (x->ar)
    archive_read_free (x->ar);
  for (unsigned i = 0; i < RING_BUFS; i++)
    free (x->bufs[i]);
  for (size_t i = 0; i < x->ndirs; i++)
    free (x->dirs[i].path);
  free (x->dirs);
  strset_free (&x->made);
  sw_error_free (x->rerr);
  free (x->want_digest);
  free (x->want_diff_id);
  if (x->rootfd >= 0)
    close (x->rootfd);
  pthread_mutex_destroy (&x->mu);
  pthread_cond_destroy (&x->cv);
  free (x);
}

static int
reader_error (struct xt *x, sw_error **err)
{
  if (x->rerr)
    sw_error_move (err, &x->rerr);
  else
    sw_error_make (err, EIO, "the layer extraction failed earlier");
  return -1;
}

/* Hand the filled buffer over; wait for room.  mu held. */
static int
submit_locked (struct xt *x, sw_error **err)
{
  if (x->done)
    {
      x->fill = 0;
      return x->failed ? reader_error (x, err) : 0;
    }
  unsigned slot = (x->head + x->count) % RING_BUFS;
  x->lens[slot] = x->fill;
  x->count++;
  x->fill = 0;
  pthread_cond_broadcast (&x->cv);
  while (x->count == RING_BUFS && !x->done)
    pthread_cond_wait (&x->cv, &x->mu);
  if (x->failed)
    return reader_error (x, err);
  return 0;
}

static int
xt_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct xt *x = ud;
  const uint8_t *p = buf;
  while (len > 0)
    {
      pthread_mutex_lock (&x->mu);
      bool done = x->done, failed = x->failed;
      unsigned slot = (x->head + x->count) % RING_BUFS;
      pthread_mutex_unlock (&x->mu);
      if (failed)
        {
          pthread_mutex_lock (&x->mu);
          int r = reader_error (x, err);
          pthread_mutex_unlock (&x->mu);
          return r;
        }
      if (done)
        return 0; /* after the end-of-archive marker: padding, ignored (still digested) */
      size_t n = RING_SIZE - x->fill;
      if (n > len)
        n = len;
      memcpy (x->bufs[slot] + x->fill, p, n);
      x->fill += n;
      p += n;
      len -= n;
      if (x->fill == RING_SIZE)
        {
          pthread_mutex_lock (&x->mu);
          int r = submit_locked (x, err);
          pthread_mutex_unlock (&x->mu);
          if (r < 0)
            return -1;
        }
    }
  return 0;
}

static void
stop (struct xt *x, bool cancel)
{
  pthread_mutex_lock (&x->mu);
  x->eof = true;
  if (cancel)
    x->cancel = true;
  pthread_cond_broadcast (&x->cv);
  pthread_mutex_unlock (&x->mu);
  if (x->started)
    pthread_join (x->tid, NULL);
  x->started = false;
}

static int
xt_finish (void *ud, const char *digest, sw_error **err)
{
  struct xt *x = ud;
  int r = 0;
  pthread_mutex_lock (&x->mu);
  if (x->fill > 0)
    r = submit_locked (x, err);
  pthread_mutex_unlock (&x->mu);
  stop (x, r < 0);
  if (r == 0 && x->failed)
    r = reader_error (x, err);
  if (r == 0 && x->info)
    {
      memset (x->info, 0, sizeof *x->info);
      memcpy (x->info->digest, x->blob.digest, SW_DIGEST_BUFSZ);
      memcpy (x->info->diff_id, x->diff.digest, SW_DIGEST_BUFSZ);
      x->info->size = x->blob.size;
      x->info->tar_size = x->diff.size;
      x->info->compression = x->detected;
    }
  xt_free (x);
  return r;
}

static void
xt_abort (void *ud)
{
  struct xt *x = ud;
  stop (x, true);
  xt_free (x);
}

int
sw_layer_extract_sink (sw_sink *out, int rootfd, const sw_extract_opts *o,
                       sw_layer_info *info, sw_error **err)
{
  struct xt *x = sw_xzalloc (sizeof *x);
  if (o)
    x->o = *o;
  else
    sw_extract_opts_init (&x->o);
  x->want_digest = x->o.digest ? sw_xstrdup (x->o.digest) : NULL;
  x->want_diff_id = x->o.diff_id ? sw_xstrdup (x->o.diff_id) : NULL;
  x->o.digest = x->want_digest;
  x->o.diff_id = x->want_diff_id;
  x->info = info;
  pthread_mutex_init (&x->mu, NULL);
  pthread_cond_init (&x->cv, NULL);
  for (unsigned i = 0; i < RING_BUFS; i++)
    x->bufs[i] = sw_xmalloc (RING_SIZE);
  x->rootfd = fcntl (rootfd, F_DUPFD_CLOEXEC, 0);
  if (x->rootfd < 0)
    {
      xt_free (x);
      return sw_error_errno (err, "extracting a layer: the root directory");
    }
  int r = pthread_create (&x->tid, NULL, reader, x);
  if (r != 0)
    {
      xt_free (x);
      errno = r;
      return sw_error_errno (err, "extracting a layer: starting the reader thread");
    }
  x->started = true;

  /* blob → sha256 (digest) → decompress → sha256 (diffID) → x */
  sw_sink tail = { xt_write, xt_finish, xt_abort, x }, dec, diffsink;
  sw_sink_sha256 (&diffsink, &tail, &x->diff, x->o.diff_id);
  if (x->o.any_compression)
    dec = diffsink; /* libarchive's filters decompress in the reader */
  else
    sw_sink_decompress (&dec, &diffsink, x->o.max_bytes, &x->detected);
  sw_sink_sha256 (out, &dec, &x->blob, x->o.digest);
  return 0;
}

int
sw_layer_extract_fd (int fd, int rootfd, const sw_extract_opts *o, sw_layer_info *info,
                     sw_error **err)
{
  sw_sink s;
  if (sw_layer_extract_sink (&s, rootfd, o, info, err) < 0)
    return -1;
  cleanup_free uint8_t *buf = sw_xmalloc (RING_SIZE);
  for (;;)
    {
      ssize_t n = read (fd, buf, RING_SIZE);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          sw_error_errno (err, "reading the layer");
          sw_sink_abort (&s);
          return -1;
        }
      if (n == 0)
        break;
      if (sw_sink_write (&s, buf, (size_t) n, err) < 0)
        {
          sw_sink_abort (&s);
          return sw_error_wrap (err, "extracting a layer");
        }
    }
  if (sw_sink_finish (&s, NULL, err) < 0)
    return sw_error_wrap (err, "extracting a layer");
  return 0;
}

/* ---- snapshots keyed by diffID -------------------------------------------------------- */

struct snap
{
  sw_sink inner;
  int snapfd;     /* SNAPDIR/sha256 */
  char *tmpname;  /* name of the temporary directory in snapfd */
  char *hex;
};

static void
snap_free (struct snap *s)
{
  if (s->tmpname)
    sw_remove_all_at (s->snapfd, s->tmpname);
  close (s->snapfd);
  free (s->tmpname);
  free (s->hex);
  free (s);
}

static int
snap_write (void *ud, const void *buf, size_t len, sw_error **err)
{
  struct snap *s = ud;
  return sw_sink_write (&s->inner, buf, len, err);
}

static int
snap_finish (void *ud, const char *digest, sw_error **err)
{
  struct snap *s = ud;
  int r = sw_sink_finish (&s->inner, digest, err);
  if (r == 0)
    {
      if (renameat (s->snapfd, s->tmpname, s->snapfd, s->hex) == 0)
        {
          free (s->tmpname);
          s->tmpname = NULL;
        }
      else if (errno != EEXIST && errno != ENOTEMPTY)
        r = sw_error_errno (err, "moving snapshot %s into place", s->hex);
      /* else another extraction of the same layer won: ours is removed */
    }
  snap_free (s);
  return r;
}

static void
snap_abort (void *ud)
{
  struct snap *s = ud;
  sw_sink_abort (&s->inner);
  snap_free (s);
}

char *
sw_layer_snapshot_path (const char *snapdir, const char *diff_id)
{
  const char *hex = strncmp (diff_id, "sha256:", 7) == 0 ? diff_id + 7 : diff_id;
  return sw_xasprintf ("%s/sha256/%s", snapdir, hex);
}

int
sw_layer_snapshot_sink (sw_sink *out, const char *snapdir, const char *diff_id,
                        const sw_extract_opts *o, sw_layer_info *info, sw_error **err)
{
  if (!diff_id || strncmp (diff_id, "sha256:", 7) != 0 || strlen (diff_id) != 71
      || strspn (diff_id + 7, "0123456789abcdef") != 64)
    return sw_error_make (err, EINVAL, "snapshot: \"%s\" is not a sha256 diffID", diff_id ? diff_id : "");
  sw_extract_opts opts;
  if (o)
    opts = *o;
  else
    {
      sw_extract_opts_init (&opts);
      opts.whiteouts = SW_WHITEOUT_OVERLAY;
    }
  opts.diff_id = diff_id;

  if (mkdir (snapdir, 0700) < 0 && errno != EEXIST)
    return sw_error_errno (err, "snapshot directory %s", snapdir);
  cleanup_free char *sub = sw_xasprintf ("%s/sha256", snapdir);
  if (mkdir (sub, 0700) < 0 && errno != EEXIST)
    return sw_error_errno (err, "snapshot directory %s", sub);
  struct snap *s = sw_xzalloc (sizeof *s);
  s->snapfd = open (sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (s->snapfd < 0)
    {
      free (s);
      return sw_error_errno (err, "snapshot directory %s", sub);
    }
  s->hex = sw_xstrdup (diff_id + 7);
  for (unsigned i = 0;; i++)
    {
      free (s->tmpname);
      s->tmpname = sw_xasprintf (".tmp-%s-%d-%u", s->hex, (int) getpid (), i);
      if (mkdirat (s->snapfd, s->tmpname, 0755) == 0)
        break;
      if (errno != EEXIST || i > 1000)
        {
          sw_error_errno (err, "snapshot: creating %s/%s", sub, s->tmpname);
          free (s->tmpname);
          s->tmpname = NULL;
          snap_free (s);
          return -1;
        }
    }
  cleanup_close int tfd = openat (s->snapfd, s->tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (tfd < 0 || sw_layer_extract_sink (&s->inner, tfd, &opts, info, err) < 0)
    {
      if (tfd < 0)
        sw_error_errno (err, "snapshot: opening %s", s->tmpname);
      snap_free (s);
      return -1;
    }
  *out = (sw_sink){ snap_write, snap_finish, snap_abort, s };
  return 0;
}
