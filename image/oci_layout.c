/* image/oci_layout.c — see oci_layout.h. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "image/json.h"
#include "image/oci_layout.h"

struct sw_oci_layout
{
  struct archive *ar;  /* tar mode */
  int fd;              /* tar mode: where the stream goes */
  bool dead;           /* tar mode: write nothing more (an unfinished stream stays unfinished) */
  int64_t mtime;
  int dirfd;           /* directory mode: the layout's top */
  char *dir;
  bool broken;         /* a blob failed mid-entry: the stream cannot be finished */
  bool blobs_dirs;     /* tar mode: blobs/ and blobs/sha256/ entries written */
  bool closed;         /* tar mode: the closing blocks are written */
  char **added;        /* digests already in the layout */
  size_t n_added;
};

static bool
has_blob (sw_oci_layout *w, const char *digest)
{
  for (size_t i = 0; i < w->n_added; i++)
    if (strcmp (w->added[i], digest) == 0)
      return true;
  return false;
}

static void
note_blob (sw_oci_layout *w, const char *digest)
{
  w->added = sw_xreallocarray (w->added, w->n_added + 1, sizeof *w->added);
  w->added[w->n_added++] = sw_xstrdup (digest);
}

static int
ar_error (sw_oci_layout *w, sw_error **err, const char *what, const char *name)
{
  int e = archive_errno (w->ar);
  w->broken = true;
  return sw_error_make (err, e ? e : EIO, "writing the OCI layout tar: %s %s: %s", what, name,
                        archive_error_string (w->ar) ? archive_error_string (w->ar) : "write error");
}

/* libarchive's output: full writes to the fd, or nothing once the writer is dead. */
static la_ssize_t
tar_write_cb (struct archive *a, void *ud, const void *buf, size_t len)
{
  sw_oci_layout *w = ud;
  if (w->dead)
    {
      archive_set_error (a, EIO, "the stream was abandoned");
      return -1;
    }
  if (sw_write_all (w->fd, buf, len) < 0)
    {
      archive_set_error (a, errno, "%s", strerror (errno));
      return -1;
    }
  return (la_ssize_t) len;
}

int
sw_oci_layout_new_tar (int fd, int64_t mtime, sw_oci_layout **out, sw_error **err)
{
  sw_oci_layout *w = sw_xzalloc (sizeof *w);
  w->dirfd = -1;
  w->fd = fd;
  w->mtime = mtime;
  w->ar = archive_write_new ();
  if (w->ar == NULL)
    abort ();
  /* ustar headers where they suffice, pax records only for what ustar cannot say (a
   * layer over 8 GiB): what `docker save` and BuildKit's exporters write. */
  if (archive_write_set_format_pax_restricted (w->ar) != ARCHIVE_OK
      || archive_write_set_bytes_in_last_block (w->ar, 1) != ARCHIVE_OK
      || archive_write_open2 (w->ar, w, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK)
    {
      ar_error (w, err, "opening", "the stream");
      sw_oci_layout_free (w);
      return -1;
    }
  *out = w;
  return 0;
}

static int
mkdirs_at (int dirfd, const char *path, sw_error **err)
{
  if (mkdirat (dirfd, path, 0755) < 0 && errno != EEXIST)
    return sw_error_errno (err, "creating %s in the OCI layout", path);
  return 0;
}

int
sw_oci_layout_new_dir (const char *dir, sw_oci_layout **out, sw_error **err)
{
  if (mkdir (dir, 0755) < 0 && errno != EEXIST)
    return sw_error_errno (err, "creating the OCI layout directory %s", dir);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "opening the OCI layout directory %s", dir);
  if (mkdirs_at (fd, "blobs", err) < 0 || mkdirs_at (fd, "blobs/sha256", err) < 0)
    {
      close (fd);
      return -1;
    }
  sw_oci_layout *w = sw_xzalloc (sizeof *w);
  w->dirfd = fd;
  w->dir = sw_xstrdup (dir);
  *out = w;
  return 0;
}

/* ---- tar entries -------------------------------------------------------------------- */

static int
tar_header (sw_oci_layout *w, const char *name, bool dir, int64_t size, sw_error **err)
{
  struct archive_entry *ent = archive_entry_new ();
  archive_entry_copy_pathname (ent, name);
  archive_entry_set_filetype (ent, dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm (ent, dir ? 0755 : 0644);
  archive_entry_set_size (ent, dir ? 0 : size);
  archive_entry_set_mtime (ent, w->mtime, 0);
  archive_entry_set_uid (ent, 0);
  archive_entry_set_gid (ent, 0);
  int r = archive_write_header (w->ar, ent);
  archive_entry_free (ent);
  if (r != ARCHIVE_OK)
    return ar_error (w, err, "header of", name);
  return 0;
}

static int
tar_data (sw_oci_layout *w, const char *name, const void *p, size_t n, sw_error **err)
{
  const char *c = p;
  while (n > 0)
    {
      la_ssize_t k = archive_write_data (w->ar, c, n);
      if (k <= 0)
        return ar_error (w, err, "data of", name);
      c += k;
      n -= (size_t) k;
    }
  return 0;
}

static int
tar_blob_dirs (sw_oci_layout *w, sw_error **err)
{
  if (w->blobs_dirs)
    return 0;
  if (tar_header (w, "blobs/", true, 0, err) < 0 || tar_header (w, "blobs/sha256/", true, 0, err) < 0)
    return -1;
  w->blobs_dirs = true;
  return 0;
}

/* ---- the blob sink: hashes and counts what the producer pushes ---------------------- */

struct blob_sink
{
  sw_oci_layout *w;
  const char *name;   /* for messages */
  int fd;             /* directory mode: the temporary blob file */
  sw_sha256 *h;
  uint64_t n, size;
  bool finished;      /* finish was called and everything matched */
  char got[SW_DIGEST_BUFSZ];
  const char *expect;
};

static int
blob_write (void *ud, const void *p, size_t n, sw_error **err)
{
  struct blob_sink *s = ud;
  if (s->n + n > s->size)
    return sw_error_make (err, EIO, "blob %s is larger than the %llu bytes announced", s->expect,
                          (unsigned long long) s->size);
  sw_sha256_update (s->h, p, n);
  s->n += n;
  if (s->fd >= 0)
    {
      if (sw_write_all (s->fd, p, n) < 0)
        return sw_error_errno (err, "writing blob %s in %s", s->expect, s->w->dir);
      return 0;
    }
  return tar_data (s->w, s->name, p, n, err);
}

static int
blob_finish (void *ud, const char *digest, sw_error **err)
{
  struct blob_sink *s = ud;
  (void) digest;
  sw_sha256_final (s->h, s->got);
  if (s->n != s->size)
    return sw_error_make (err, EIO, "blob %s: %llu bytes where %llu were announced", s->expect,
                          (unsigned long long) s->n, (unsigned long long) s->size);
  if (strcmp (s->got, s->expect) != 0)
    return sw_error_make (err, EIO, "blob %s: the bytes written have digest %s", s->expect, s->got);
  s->finished = true;
  return 0;
}

static void
blob_abort (void *ud)
{
  (void) ud; /* the caller sees finished == false */
}

int
sw_oci_layout_add_blob (sw_oci_layout *w, const char *digest, int64_t size, sw_blob_producer producer, void *arg,
                        sw_error **err)
{
  cleanup_free char *name = NULL;
  cleanup_free char *tmp = NULL;
  struct blob_sink s = { .w = w, .fd = -1, .size = (uint64_t) size, .expect = digest };
  int r;

  if (w->broken)
    return sw_error_make (err, EIO, "the OCI layout stream already failed");
  if (sw_digest_validate (digest, err) < 0)
    return sw_error_wrap (err, "invalid blob digest");
  if (size < 0)
    return sw_error_make (err, EINVAL, "invalid blob descriptor %s (size %lld)", digest, (long long) size);
  if (has_blob (w, digest))
    return 0;
  name = sw_xasprintf ("blobs/%.*s/%s", (int) (strchr (digest, ':') - digest), digest, sw_digest_hex (digest));
  s.name = name;
  if (w->ar)
    {
      if (tar_blob_dirs (w, err) < 0 || tar_header (w, name, false, size, err) < 0)
        return -1;
    }
  else
    {
      struct stat st;
      if (fstatat (w->dirfd, name, &st, 0) == 0 && st.st_size == size)
        {
          note_blob (w, digest); /* content-addressed: what is there is that blob */
          return 0;
        }
      tmp = sw_xasprintf ("%s.tmp-%d", name, (int) getpid ());
      s.fd = openat (w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (s.fd < 0)
        return sw_error_errno (err, "creating %s/%s", w->dir, tmp);
    }
  s.h = sw_sha256_new ();
  sw_sink sink = { blob_write, blob_finish, blob_abort, &s };
  r = producer (arg, &sink, err);
  sw_sink_abort (&sink); /* a no-op when the producer finished it, as it must */
  sw_sha256_free (s.h);
  if (r == 0 && !s.finished)
    r = sw_error_make (err, EIO, "blob %s: its producer ended without finishing it", digest);
  if (w->ar)
    {
      if (r < 0)
        w->broken = true; /* the entry is short or wrong: nothing after it can be valid */
      return r < 0 ? sw_error_wrap (err, "writing blob %s", digest) : (note_blob (w, digest), 0);
    }
  if (r == 0 && close (s.fd) < 0)
    r = sw_error_errno (err, "writing %s/%s", w->dir, tmp);
  else if (r < 0)
    close (s.fd);
  if (r == 0 && renameat (w->dirfd, tmp, w->dirfd, name) < 0)
    r = sw_error_errno (err, "renaming %s into place in %s", tmp, w->dir);
  if (r < 0)
    {
      unlinkat (w->dirfd, tmp, 0);
      return sw_error_wrap (err, "writing blob %s", digest);
    }
  note_blob (w, digest);
  return 0;
}

struct bytes_arg
{
  const void *p;
  size_t n;
};

static int
bytes_producer (void *arg, sw_sink *sink, sw_error **err)
{
  struct bytes_arg *a = arg;
  if (sw_sink_write (sink, a->p, a->n, err) < 0)
    {
      sw_sink_abort (sink);
      return -1;
    }
  return sw_sink_finish (sink, NULL, err);
}

int
sw_oci_layout_add_blob_bytes (sw_oci_layout *w, const void *p, size_t n, char *digest_out, sw_error **err)
{
  char d[SW_DIGEST_BUFSZ];
  struct bytes_arg a = { p, n };
  sw_digest_bytes (p, n, d);
  if (digest_out)
    memcpy (digest_out, d, SW_DIGEST_BUFSZ);
  return sw_oci_layout_add_blob (w, d, (int64_t) n, bytes_producer, &a, err);
}

int
sw_oci_layout_add_file (sw_oci_layout *w, const char *name, const void *p, size_t n, sw_error **err)
{
  if (w->broken)
    return sw_error_make (err, EIO, "the OCI layout stream already failed");
  if (w->ar)
    return tar_header (w, name, false, (int64_t) n, err) < 0 ? -1 : tar_data (w, name, p, n, err);

  cleanup_free char *tmp = sw_xasprintf ("%s.tmp-%d", name, (int) getpid ());
  int fd = openat (w->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return sw_error_errno (err, "creating %s/%s", w->dir, tmp);
  if (sw_write_all (fd, p, n) < 0)
    {
      sw_error_errno (err, "writing %s/%s", w->dir, name);
      close (fd);
      unlinkat (w->dirfd, tmp, 0);
      return -1;
    }
  if (close (fd) < 0 || renameat (w->dirfd, tmp, w->dirfd, name) < 0)
    {
      sw_error_errno (err, "writing %s/%s", w->dir, name);
      unlinkat (w->dirfd, tmp, 0);
      return -1;
    }
  return 0;
}

int
sw_oci_layout_write_index (sw_oci_layout *w, const char *media_type, const char *digest, int64_t size,
                           const char *image_name, const char *ref_name, sw_error **err)
{
  static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
  cleanup_buf sw_buf out = SW_BUF_INIT;
  json_t *desc = json_object ();
  json_object_set_new (desc, "mediaType", json_string (media_type));
  json_object_set_new (desc, "digest", json_string (digest));
  json_object_set_new (desc, "size", json_integer (size));
  if (image_name || ref_name)
    {
      json_t *ann = json_object ();
      if (image_name)
        json_object_set_new (ann, "io.containerd.image.name", json_string (image_name));
      if (ref_name)
        json_object_set_new (ann, "org.opencontainers.image.ref.name", json_string (ref_name));
      json_object_set_new (desc, "annotations", ann);
    }
  json_t *ix = json_object ();
  json_object_set_new (ix, "schemaVersion", json_integer (2));
  json_object_set_new (ix, "mediaType", json_string ("application/vnd.oci.image.index.v1+json"));
  json_t *arr = json_array ();
  json_array_append_new (arr, desc);
  json_object_set_new (ix, "manifests", arr);
  sw_json_dump (ix, &out);
  json_decref (ix);
  if (sw_oci_layout_add_file (w, "oci-layout", layout, sizeof layout - 1, err) < 0)
    return -1;
  return sw_oci_layout_add_file (w, "index.json", out.data, out.len, err);
}

int
sw_oci_layout_finish (sw_oci_layout *w, sw_error **err)
{
  if (w->broken)
    return sw_error_make (err, EIO, "the OCI layout stream already failed");
  if (w->ar && archive_write_close (w->ar) != ARCHIVE_OK)
    return ar_error (w, err, "closing", "the stream");
  w->closed = true;
  return 0;
}

void
sw_oci_layout_free (sw_oci_layout *w)
{
  if (w == NULL)
    return;
  if (w->ar)
    {
      /* Unfinished: no padding, no closing blocks; it must not look whole.  (Not
       * archive_write_fail(): it skips the close that frees the writer's buffers.) */
      if (!w->closed)
        w->dead = true;
      archive_write_free (w->ar);
    }
  if (w->dirfd >= 0)
    close (w->dirfd);
  for (size_t i = 0; i < w->n_added; i++)
    free (w->added[i]);
  free (w->added);
  free (w->dir);
  free (w);
}
