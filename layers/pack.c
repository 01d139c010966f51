/* layers/pack.c — directory → tar → diffID → compressor → digest → sink, in one pass.
 *
 * Header details follow what containerd's archive writer (used by BuildKit's differ)
 * produces, so layers look alike: pax format with plain ustar headers when nothing needs
 * an extended record; names relative, without "./", directories ending in "/"; mtime in
 * whole seconds, no atime/ctime; whiteouts as empty regular files with mode 0.  Where
 * containerd is not deterministic we are: uname/gname are left empty (Go fills them from
 * the host's passwd) and whiteouts carry the whiteout device's own (clamped) mtime rather
 * than the time of the diff.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "layers/layers.h"

#define READ_SIZE (1024 * 1024)
#define TAR_BLOCK (64 * 1024)

struct link_slot
{
  dev_t dev;
  ino_t ino;
  char *path; /* NULL: empty slot */
};

struct pack
{
  const sw_pack_opts *o;
  struct archive *ar;
  struct archive_entry *ent;
  sw_sink head;      /* the tar bytes go here (the diffID filter) */
  sw_error *werr;    /* an error from the sink, seen inside libarchive's callback */
  uint8_t *buf;
  struct link_slot *links;
  size_t nlinks, caplinks;
};

void
sw_pack_opts_init (sw_pack_opts *o)
{
  *o = (sw_pack_opts){ .compression = SW_COMPRESSION_GZIP, .level = -1, .threads = 0,
                       .overlay = false, .userxattr = false, .source_date_epoch = -1,
                       .async = true };
}

/* ---- hardlinks ------------------------------------------------------------------ */

static size_t
link_hash (dev_t dev, ino_t ino, size_t cap)
{
  uint64_t h = (uint64_t) ino * 0x9e3779b97f4a7c15ull ^ (uint64_t) dev;
  return (size_t) (h ^ (h >> 29)) & (cap - 1);
}

/* The first path seen for (dev, ino), or NULL after recording path as the first. */
static const char *
link_lookup_or_add (struct pack *p, dev_t dev, ino_t ino, const char *path)
{
  if (p->caplinks == 0 || (p->nlinks + 1) * 2 > p->caplinks)
    {
      size_t ncap = p->caplinks ? p->caplinks * 2 : 64;
      struct link_slot *n = sw_xcalloc (ncap, sizeof *n);
      for (size_t i = 0; i < p->caplinks; i++)
        if (p->links[i].path)
          {
            size_t j = link_hash (p->links[i].dev, p->links[i].ino, ncap);
            while (n[j].path)
              j = (j + 1) & (ncap - 1);
            n[j] = p->links[i];
          }
      free (p->links);
      p->links = n;
      p->caplinks = ncap;
    }
  size_t j = link_hash (dev, ino, p->caplinks);
  while (p->links[j].path)
    {
      if (p->links[j].dev == dev && p->links[j].ino == ino)
        return p->links[j].path;
      j = (j + 1) & (p->caplinks - 1);
    }
  p->links[j] = (struct link_slot){ dev, ino, sw_xstrdup (path) };
  p->nlinks++;
  return NULL;
}

/* ---- libarchive output ------------------------------------------------------------ */

static la_ssize_t
ar_write_cb (struct archive *a, void *ud, const void *buf, size_t len)
{
  struct pack *p = ud;
  if (p->werr || !p->head.write) /* failed, or aborted (archive_write_free closing) */
    {
      archive_set_error (a, EIO, "layer stream already failed");
      return -1;
    }
  if (sw_sink_write (&p->head, buf, len, &p->werr) < 0)
    {
      archive_set_error (a, EIO, "%s", sw_error_message (p->werr));
      return -1;
    }
  return (la_ssize_t) len;
}

static int
ar_fail (struct pack *p, const char *what, const char *path, sw_error **err)
{
  if (p->werr)
    {
      sw_error_move (err, &p->werr);
      return sw_error_wrap (err, "%s %s", what, path);
    }
  return sw_error_make (err, archive_errno (p->ar), "%s %s: %s", what, path,
                        archive_error_string (p->ar));
}

/* ---- the walk -------------------------------------------------------------------- */

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Sorted names of a directory (without . and ..), NULL-terminated. */
static int
list_dir (int dirfd, const char *rel, char ***out, size_t *n_out, sw_error **err)
{
  int fd = dup (dirfd);
  if (fd < 0)
    return sw_error_errno (err, "dup");
  DIR *d = fdopendir (fd);
  if (!d)
    {
      close (fd);
      return sw_error_errno (err, "opening directory %s", rel[0] ? rel : ".");
    }
  rewinddir (d);
  size_t n = 0, cap = 16;
  char **v = sw_xcalloc (cap, sizeof *v);
  struct dirent *de;
  errno = 0;
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (n + 1 >= cap)
        {
          cap *= 2;
          v = sw_xreallocarray (v, cap, sizeof *v);
        }
      v[n++] = sw_xstrdup (de->d_name);
      errno = 0;
    }
  int saved = errno;
  closedir (d);
  v[n] = NULL;
  if (saved)
    {
      errno = saved;
      sw_cleanup_strvp (&v);
      return sw_error_errno (err, "reading directory %s", rel[0] ? rel : ".");
    }
  qsort (v, n, sizeof *v, cmp_names);
  *out = v;
  *n_out = n;
  return 0;
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static bool
is_overlay_xattr (const char *name)
{
  return strncmp (name, "trusted.overlay.", 16) == 0 || strncmp (name, "user.overlay.", 13) == 0;
}

/* Which xattrs go into the layer: user.*, trusted.* and security.* except the host's
 * SELinux label, never overlayfs' own.  system.* (POSIX ACLs) are left out, as BuildKit
 * does. */
static bool
keep_xattr (const char *name)
{
  if (is_overlay_xattr (name))
    return false;
  if (strcmp (name, "security.selinux") == 0)
    return false;
  return strncmp (name, "user.", 5) == 0 || strncmp (name, "trusted.", 8) == 0
         || strncmp (name, "security.", 9) == 0;
}

/* Read xattrs of fd (fd >= 0) or of the path procpath (symlinks, devices, fifos), add the
 * kept ones to the entry in name order, and report the overlay markers. */
static int
read_xattrs (struct pack *p, int fd, const char *procpath, const char *rel, bool *opaque,
             sw_error **err)
{
  char stackbuf[4096];
  cleanup_free char *list = NULL;
  ssize_t n = fd >= 0 ? flistxattr (fd, stackbuf, sizeof stackbuf)
                      : llistxattr (procpath, stackbuf, sizeof stackbuf);
  if (n < 0 && errno == ERANGE)
    {
      ssize_t want = fd >= 0 ? flistxattr (fd, NULL, 0) : llistxattr (procpath, NULL, 0);
      if (want < 0)
        return sw_error_errno (err, "listing xattrs of %s", rel);
      list = sw_xmalloc ((size_t) want + 1);
      n = fd >= 0 ? flistxattr (fd, list, (size_t) want) : llistxattr (procpath, list, (size_t) want);
    }
  if (n < 0)
    {
      if (errno == ENOTSUP || errno == EPERM || errno == EACCES)
        return 0;
      return sw_error_errno (err, "listing xattrs of %s", rel);
    }
  if (n == 0)
    return 0;
  const char *names = list ? list : stackbuf;
  size_t count = 0;
  for (ssize_t i = 0; i < n; i += (ssize_t) strlen (names + i) + 1)
    count++;
  cleanup_free const char **v = sw_xcalloc (count ? count : 1, sizeof *v);
  count = 0;
  for (ssize_t i = 0; i < n; i += (ssize_t) strlen (names + i) + 1)
    v[count++] = names + i;
  qsort (v, count, sizeof *v, cmp_str);

  const char *opq_name = p->o->userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
  for (size_t i = 0; i < count; i++)
    {
      const char *name = v[i];
      bool keep = keep_xattr (name);
      bool want_ovl = p->o->overlay && is_overlay_xattr (name);
      if (!keep && !want_ovl)
        continue;
      if (want_ovl)
        {
          const char *suffix = strrchr (name, '.') + 1; /* "redirect" of "trusted.overlay.redirect" */
          if (strcmp (suffix, "redirect") == 0 || strcmp (suffix, "metacopy") == 0)
            return sw_error_make (err, ENOTSUP,
                                  "%s carries the overlay xattr %s: mount the overlay with "
                                  "redirect_dir=off,metacopy=off so its upper dir is a plain diff",
                                  rel, name);
          if (strcmp (name, opq_name) != 0)
            continue;
        }
      char vbuf[4096];
      cleanup_free char *big = NULL;
      ssize_t vn = fd >= 0 ? fgetxattr (fd, name, vbuf, sizeof vbuf)
                           : lgetxattr (procpath, name, vbuf, sizeof vbuf);
      if (vn < 0 && errno == ERANGE)
        {
          ssize_t want = fd >= 0 ? fgetxattr (fd, name, NULL, 0) : lgetxattr (procpath, name, NULL, 0);
          if (want >= 0)
            {
              big = sw_xmalloc ((size_t) want + 1);
              vn = fd >= 0 ? fgetxattr (fd, name, big, (size_t) want)
                           : lgetxattr (procpath, name, big, (size_t) want);
            }
        }
      if (vn < 0)
        {
          if (errno == ENODATA || errno == EPERM || errno == EACCES)
            continue;
          return sw_error_errno (err, "reading xattr %s of %s", name, rel);
        }
      const char *val = big ? big : vbuf;
      if (want_ovl)
        {
          if (opaque && vn >= 1 && val[0] == 'y')
            *opaque = true;
          continue;
        }
      archive_entry_xattr_add_entry (p->ent, name, val, (size_t) vn);
    }
  return 0;
}

static time_t
clamp_time (struct pack *p, time_t t)
{
  if (p->o->source_date_epoch >= 0 && t > (time_t) p->o->source_date_epoch)
    return (time_t) p->o->source_date_epoch;
  return t;
}

static int
write_header (struct pack *p, const char *path, sw_error **err)
{
  int r = archive_write_header (p->ar, p->ent);
  if (r == ARCHIVE_WARN)
    sw_warn ("layer entry %s: %s", path, archive_error_string (p->ar));
  else if (r != ARCHIVE_OK)
    return ar_fail (p, "writing the tar header of", path, err);
  return 0;
}

static int
write_data (struct pack *p, const void *buf, size_t len, const char *path, sw_error **err)
{
  la_ssize_t w = archive_write_data (p->ar, buf, len);
  if (w < 0 || (size_t) w != len)
    return ar_fail (p, "writing the data of", path, err);
  return 0;
}

static int
copy_range (struct pack *p, int fd, off_t off, off_t len, const char *path, sw_error **err)
{
  while (len > 0)
    {
      size_t want = len > READ_SIZE ? READ_SIZE : (size_t) len;
      ssize_t n = pread (fd, p->buf, want, off);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return sw_error_errno (err, "reading %s", path);
        }
      if (n == 0)
        return sw_error_make (err, EIO, "%s shrank while it was being packed", path);
      if (write_data (p, p->buf, (size_t) n, path, err) < 0)
        return -1;
      off += n;
      len -= n;
    }
  return 0;
}

static int
write_zeros (struct pack *p, off_t len, const char *path, sw_error **err)
{
  static const uint8_t zeros[64 * 1024];
  while (len > 0)
    {
      size_t n = len > (off_t) sizeof zeros ? sizeof zeros : (size_t) len;
      if (write_data (p, zeros, n, path, err) < 0)
        return -1;
      len -= (off_t) n;
    }
  return 0;
}

/* The data regions of a sparse file, or false when it has no holes worth recording. */
static bool
sparse_map (struct pack *p, int fd, const struct stat *st)
{
  if (st->st_size == 0 || (off_t) st->st_blocks * 512 >= st->st_size)
    return false;
  off_t pos = 0;
  bool any_hole = false;
  while (pos < st->st_size)
    {
      off_t data = lseek (fd, pos, SEEK_DATA);
      if (data < 0)
        {
          if (errno == ENXIO) /* a hole up to the end */
            {
              any_hole = true;
              break;
            }
          return false;
        }
      off_t hole = lseek (fd, data, SEEK_HOLE);
      if (hole < 0)
        return false;
      if (data > pos)
        any_hole = true;
      archive_entry_sparse_add_entry (p->ent, data, hole - data);
      pos = hole;
    }
  if (!any_hole)
    {
      archive_entry_sparse_clear (p->ent);
      return false;
    }
  /* a file ending in a hole: a last, empty region marks where it ends */
  if (pos < st->st_size)
    archive_entry_sparse_add_entry (p->ent, st->st_size, 0);
  return true;
}

static int
write_regular_data (struct pack *p, int fd, const struct stat *st, bool sparse,
                    const char *path, sw_error **err)
{
  if (!sparse)
    return copy_range (p, fd, 0, st->st_size, path, err);
  /* pax's sparse writer takes the whole logical file and skips the holes itself */
  off_t pos = 0;
  while (pos < st->st_size)
    {
      off_t data = lseek (fd, pos, SEEK_DATA);
      if (data < 0)
        data = st->st_size;
      if (data > st->st_size)
        data = st->st_size;
      if (write_zeros (p, data - pos, path, err) < 0)
        return -1;
      if (data >= st->st_size)
        break;
      off_t hole = lseek (fd, data, SEEK_HOLE);
      if (hole < 0 || hole > st->st_size)
        hole = st->st_size;
      if (copy_range (p, fd, data, hole - data, path, err) < 0)
        return -1;
      pos = hole;
    }
  return 0;
}

static void
entry_common (struct pack *p, const char *tarpath, const struct stat *st)
{
  archive_entry_clear (p->ent);
  archive_entry_copy_pathname (p->ent, tarpath);
  archive_entry_set_uid (p->ent, st->st_uid);
  archive_entry_set_gid (p->ent, st->st_gid);
  archive_entry_set_mtime (p->ent, clamp_time (p, st->st_mtim.tv_sec), 0);
}

static int walk (struct pack *p, int dirfd, const char *rel, sw_error **err);

static int
pack_one (struct pack *p, int dirfd, const char *rel, const char *name, sw_error **err)
{
  cleanup_free char *path = rel[0] ? sw_xasprintf ("%s/%s", rel, name) : sw_xstrdup (name);
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return sw_error_errno (err, "stat %s", path);

  char procpath[64];
  snprintf (procpath, sizeof procpath, "/proc/self/fd/%d/", dirfd);
  cleanup_free char *lpath = sw_xasprintf ("%s%s", procpath, name);

  switch (st.st_mode & S_IFMT)
    {
    case S_IFSOCK:
      sw_debug ("layer: skipping socket %s", path);
      return 0;

    case S_IFCHR:
    case S_IFBLK:
      if (p->o->overlay && S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0))
        {
          cleanup_free char *wh = rel[0] ? sw_xasprintf ("%s/.wh.%s", rel, name)
                                         : sw_xasprintf (".wh.%s", name);
          struct stat z = { 0 };
          z.st_mtim.tv_sec = st.st_mtim.tv_sec;
          entry_common (p, wh, &z);
          archive_entry_set_filetype (p->ent, AE_IFREG);
          archive_entry_set_perm (p->ent, 0);
          archive_entry_set_size (p->ent, 0);
          return write_header (p, wh, err);
        }
      /* fallthrough */
    case S_IFIFO:
      entry_common (p, path, &st);
      archive_entry_set_mode (p->ent, st.st_mode);
      archive_entry_set_rdevmajor (p->ent, major (st.st_rdev));
      archive_entry_set_rdevminor (p->ent, minor (st.st_rdev));
      if (read_xattrs (p, -1, lpath, path, NULL, err) < 0)
        return -1;
      return write_header (p, path, err);

    case S_IFLNK:
      {
        size_t cap = (size_t) (st.st_size > 0 ? st.st_size : 255) + 1;
        cleanup_free char *target = sw_xmalloc (cap);
        ssize_t n = readlinkat (dirfd, name, target, cap);
        if (n < 0)
          return sw_error_errno (err, "readlink %s", path);
        if ((size_t) n >= cap)
          return sw_error_make (err, EIO, "%s changed while it was being packed", path);
        target[n] = '\0';
        entry_common (p, path, &st);
        archive_entry_set_mode (p->ent, st.st_mode);
        archive_entry_copy_symlink (p->ent, target);
        if (read_xattrs (p, -1, lpath, path, NULL, err) < 0)
          return -1;
        return write_header (p, path, err);
      }

    case S_IFREG:
      {
        if (st.st_nlink > 1)
          {
            const char *first = link_lookup_or_add (p, st.st_dev, st.st_ino, path);
            if (first)
              {
                entry_common (p, path, &st);
                archive_entry_set_mode (p->ent, st.st_mode);
                archive_entry_copy_hardlink (p->ent, first);
                archive_entry_set_size (p->ent, 0);
                return write_header (p, path, err);
              }
          }
        cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
          return sw_error_errno (err, "open %s", path);
        entry_common (p, path, &st);
        archive_entry_set_mode (p->ent, st.st_mode);
        archive_entry_set_size (p->ent, st.st_size);
        bool sparse = sparse_map (p, fd, &st);
        if (read_xattrs (p, fd, NULL, path, NULL, err) < 0)
          return -1;
        if (write_header (p, path, err) < 0)
          return -1;
        posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return write_regular_data (p, fd, &st, sparse, path, err);
      }

    case S_IFDIR:
      {
        cleanup_close int fd
            = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
          return sw_error_errno (err, "open directory %s", path);
        cleanup_free char *dpath = sw_xasprintf ("%s/", path);
        bool opaque = false;
        entry_common (p, dpath, &st);
        archive_entry_set_mode (p->ent, st.st_mode);
        if (read_xattrs (p, fd, NULL, path, &opaque, err) < 0)
          return -1;
        if (write_header (p, dpath, err) < 0)
          return -1;
        if (opaque)
          {
            cleanup_free char *opq = sw_xasprintf ("%s/.wh..wh..opq", path);
            struct stat z = { 0 };
            z.st_mtim.tv_sec = st.st_mtim.tv_sec;
            entry_common (p, opq, &z);
            archive_entry_set_filetype (p->ent, AE_IFREG);
            archive_entry_set_perm (p->ent, 0);
            archive_entry_set_size (p->ent, 0);
            if (write_header (p, opq, err) < 0)
              return -1;
          }
        return walk (p, fd, path, err);
      }

    default:
      sw_warn ("layer: skipping %s of unknown type %o", path, st.st_mode & S_IFMT);
      return 0;
    }
}

static int
walk (struct pack *p, int dirfd, const char *rel, sw_error **err)
{
  cleanup_strv char **names = NULL;
  size_t n = 0;
  if (list_dir (dirfd, rel, &names, &n, err) < 0)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (pack_one (p, dirfd, rel, names[i], err) < 0)
      return -1;
  return 0;
}

/* ---- the pipeline ---------------------------------------------------------------- */

static long
ncpus (void)
{
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? n : 1;
}

int
sw_layer_pack (int dirfd, const sw_pack_opts *o, sw_sink *sink, sw_layer_info *info,
               sw_error **err)
{
  sw_pack_opts defaults;
  if (!o)
    {
      sw_pack_opts_init (&defaults);
      o = &defaults;
    }
  sw_digest_result diff = { 0 }, blob = { 0 };
  struct pack p = { .o = o };
  sw_sink s_digest, s_comp, s_async;
  int r = -1;

  /* Built back to front:
   *   sink ← sha256 (digest) ← [thread] ← compressor ← [thread] ← sha256 (diffID) ← tar
   * Three threads for four stages of similar cost, so that two CPUs stay busy whichever
   * stage is the slowest for this data (gzip on text, the two hashes on random bytes). */
  if (o->no_digests)
    sw_sink_count (&s_digest, sink, &blob);
  else
    sw_sink_sha256 (&s_digest, sink, &blob, NULL);
  sw_sink s_tail = s_digest;
  if (o->async && o->compression != SW_COMPRESSION_NONE
      && sw_sink_thread (&s_tail, &s_digest, 4, 1024 * 1024, err) < 0)
    {
      sw_sink_abort (&s_digest);
      return sw_error_wrap (err, "packing a layer");
    }
  int threads = o->threads > 0 ? o->threads : (int) ncpus ();
  if (sw_sink_compress (&s_comp, &s_tail, o->compression, o->level, threads, err) < 0)
    {
      sw_sink_abort (&s_tail);
      return sw_error_wrap (err, "packing a layer");
    }
  if (o->async)
    {
      if (sw_sink_thread (&s_async, &s_comp, 4, 1024 * 1024, err) < 0)
        {
          sw_sink_abort (&s_comp);
          return sw_error_wrap (err, "packing a layer");
        }
    }
  else
    s_async = s_comp, s_comp = (sw_sink){ 0 };
  if (o->no_digests)
    sw_sink_count (&p.head, &s_async, &diff);
  else
    sw_sink_sha256 (&p.head, &s_async, &diff, NULL);

  /* Names are bytes; libarchive converts them from the locale's charset to pax's UTF-8.
   * A UTF-8 locale for this thread only (the caller's is restored) makes that an identity
   * for UTF-8 names; others fall back to a hdrcharset=BINARY record. */
  locale_t utf8 = newlocale (LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
  locale_t prev = utf8 ? uselocale (utf8) : (locale_t) 0;
  p.buf = sw_xmalloc (READ_SIZE);
  p.ent = archive_entry_new ();
  p.ar = archive_write_new ();
  if (!p.ar || !p.ent)
    abort ();
  if (archive_write_set_format_pax_restricted (p.ar) != ARCHIVE_OK
      || archive_write_set_options (p.ar, "xattrheader=SCHILY") != ARCHIVE_OK
      || archive_write_set_bytes_per_block (p.ar, TAR_BLOCK) != ARCHIVE_OK
      || archive_write_set_bytes_in_last_block (p.ar, 1) != ARCHIVE_OK
      || archive_write_open2 (p.ar, &p, NULL, ar_write_cb, NULL, NULL) != ARCHIVE_OK)
    {
      ar_fail (&p, "setting up", "the tar writer", err);
      goto out;
    }

  if (walk (&p, dirfd, "", err) < 0)
    goto out;
  if (archive_write_close (p.ar) != ARCHIVE_OK)
    {
      ar_fail (&p, "closing", "the tar stream", err);
      goto out;
    }
  if (sw_sink_finish (&p.head, NULL, err) < 0)
    goto out;
  if (info)
    {
      memset (info, 0, sizeof *info);
      memcpy (info->diff_id, diff.digest, SW_DIGEST_BUFSZ);
      memcpy (info->digest, blob.digest, SW_DIGEST_BUFSZ);
      info->size = blob.size;
      info->tar_size = diff.size;
      info->compression = o->compression;
    }
  r = 0;

out:
  if (r < 0)
    {
      sw_sink_abort (&p.head);
      sw_error_wrap (err, "packing a layer");
    }
  archive_write_free (p.ar); /* after close or abort: never calls back into the sinks */
  if (utf8)
    {
      uselocale (prev);
      freelocale (utf8);
    }
  archive_entry_free (p.ent);
  sw_error_free (p.werr);
  for (size_t i = 0; i < p.caplinks; i++)
    free (p.links[i].path);
  free (p.links);
  free (p.buf);
  return r;
}

int
sw_layer_pack_path (const char *dir, const sw_pack_opts *o, sw_sink *sink,
                    sw_layer_info *info, sw_error **err)
{
  cleanup_close int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      sw_sink_abort (sink);
      return sw_error_errno (err, "packing %s: open", dir);
    }
  return sw_layer_pack (fd, o, sink, info, err);
}
