/* copy/add.c — ADD's local archives (found by libarchive, extracted by layers/) and URLs
 * (downloaded over registry/'s transport). */
#include <archive.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/io.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "copy/add.h"
#include "copy/copy_int.h"
#include "layers/layers.h"
#include "registry/client.h"

bool
sw_add_is_http (const char *src)
{
  return (strncmp (src, "http://", 7) == 0 || strncmp (src, "https://", 8) == 0)
         && !sw_add_is_git (src);
}

bool
sw_add_is_git (const char *src)
{
  if (strncmp (src, "git@", 4) == 0 || strncmp (src, "git://", 6) == 0
      || strncmp (src, "ssh://", 6) == 0)
    return true;
  if (strncmp (src, "http://", 7) != 0 && strncmp (src, "https://", 8) != 0)
    return false;
  /* https://host/org/repo.git, optionally with #ref[:subdir] or a ?query */
  size_t n = strcspn (src, "#?");
  return n >= 4 && strncmp (src + n - 4, ".git", 4) == 0;
}

static int
hexval (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char) tolower ((unsigned char) c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

char *
sw_add_url_filename (const char *url)
{
  const char *p = strstr (url, "://");
  p = p ? p + 3 : url;
  p += strcspn (p, "/?#"); /* skip the host */
  size_t n = strcspn (p, "?#");
  cleanup_free char *path = sw_xstrndup (p, n);
  /* percent-decode, as Go's url.Parse does for u.Path */
  char *w = path;
  for (char *r = path; *r; r++)
    {
      if (r[0] == '%' && hexval (r[1]) >= 0 && hexval (r[2]) >= 0)
        {
          *w++ = (char) (hexval (r[1]) * 16 + hexval (r[2]));
          r += 2;
        }
      else
        *w++ = *r;
    }
  *w = '\0';
  cleanup_free char *clean = sw_path_clean (*path ? path : ".");
  const char *base = strrchr (clean, '/');
  base = base ? base + 1 : clean;
  if (*base == '\0' || strcmp (base, ".") == 0 || strcmp (base, "..") == 0)
    return sw_xstrdup ("__unnamed__");
  return sw_xstrdup (base);
}

/* The algorithm of a --checksum value ("sha256:<hex>"…) and the hex length it needs; NULL
 * when it names none of sha256, sha384, sha512. */
static const char *
checksum_alg (const char *checksum, const char **hex, size_t *hexlen)
{
  static const struct
  {
    const char *alg;
    size_t hexlen;
  } algs[] = { { "sha256", 64 }, { "sha384", 96 }, { "sha512", 128 } };
  for (size_t i = 0; i < 3; i++)
    {
      size_t l = strlen (algs[i].alg);
      if (strncmp (checksum, algs[i].alg, l) == 0 && checksum[l] == ':')
        {
          *hex = checksum + l + 1;
          *hexlen = algs[i].hexlen;
          return algs[i].alg;
        }
    }
  return NULL;
}

int
sw_add_checksum_check (const char *checksum, sw_error **err)
{
  const char *hex;
  size_t hl;
  if (!checksum_alg (checksum, &hex, &hl))
    return sw_error_make (err, EINVAL,
                          "invalid checksum digest format: %s (want sha256:<64 hex digits>)",
                          checksum);
  if (strlen (hex) != hl || strspn (hex, "0123456789abcdef") != hl)
    return sw_error_make (err, EINVAL,
                          "invalid checksum digest format: %s (want %zu lowercase hex digits)",
                          checksum, hl);
  return 0;
}

/* ---- archives ---------------------------------------------------------------- */

static struct archive *
reader_for (int fd)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_none (a);
  archive_read_support_filter_gzip (a);
  archive_read_support_filter_bzip2 (a);
  archive_read_support_filter_xz (a);
  archive_read_support_filter_zstd (a);
  archive_read_support_format_tar (a);
  if (archive_read_open_fd (a, fd, 1 << 16) != ARCHIVE_OK)
    {
      archive_read_free (a);
      return NULL;
    }
  return a;
}

int
sw_add_is_archive (int root, const char *path, bool *is, sw_error **err)
{
  *is = false;
  cleanup_close int fd = sw_open_in_root (root, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return 0;
  struct archive *a = reader_for (fd);
  if (!a)
    return 0;
  struct archive_entry *e;
  int r = archive_read_next_header (a, &e);
  *is = r == ARCHIVE_OK || r == ARCHIVE_WARN;
  archive_read_free (a);
  return 0;
}

int
sw_add_unpack (int root, const char *path, int dst_root, const char *dest, bool chown, uid_t uid,
               gid_t gid, sw_error **err)
{
  if (sw_copy_mkdir_all (dst_root, dest, 0755, chown ? uid : (uid_t) -1, chown ? gid : (gid_t) -1,
                         err)
      < 0)
    return -1;
  cleanup_close int fd = sw_open_in_root (root, path, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
  if (fd < 0)
    return sw_error_errno (err, "open %s", path);
  cleanup_close int destfd = sw_open_in_root (dst_root, dest, O_PATH | O_DIRECTORY, 0);
  if (destfd < 0)
    return sw_error_errno (err, "open %s", dest);
  /* the layers' extractor, applied flat the way BuildKit unpacks an ADDed archive */
  sw_extract_opts o;
  sw_extract_opts_init (&o);
  o.whiteouts = SW_WHITEOUT_NONE;
  o.archive_names = true;
  o.any_compression = true;
  o.owner_set = chown;
  o.uid = (uint32_t) uid;
  o.gid = (uint32_t) gid;
  if (sw_layer_extract_fd (fd, destfd, &o, NULL, err) < 0)
    return sw_error_wrap (err, "extracting %s into %s", path, dest);
  return 0;
}

/* ---- URLs -------------------------------------------------------------------- */

static int
write_download (void *ud, const void *p, size_t n, sw_error **err)
{
  if (sw_write_all (*(int *) ud, p, n) < 0)
    return sw_error_errno (err, "writing the download");
  return 0;
}

int
sw_add_fetch (sw_registry *transport, const char *url, const char *checksum, int dirfd,
              const char *name, sw_error **err)
{
  const char *alg = NULL, *want = NULL;
  size_t wantlen = 0;
  if (checksum)
    {
      if (sw_add_checksum_check (checksum, err) < 0)
        return -1;
      alg = checksum_alg (checksum, &want, &wantlen);
    }
  cleanup_close int fd
      = openat (dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return sw_error_errno (err, "creating the download of %s", url);
  if (fchmod (fd, 0600) < 0)
    return sw_error_errno (err, "chmod the download of %s", url);
  /* the registry's transport: its CAs, insecure hosts, proxies and retries serve ADD too */
  sw_registry *own = transport ? NULL : sw_registry_new (NULL);
  sw_fetch_result res;
  int r = sw_registry_fetch_url (transport ? transport : own, url, alg, write_download, &fd,
                                 &res, err);
  sw_registry_free (own);
  if (r < 0)
    return sw_error_wrap (err, "downloading %s", url);
  if (checksum && strcmp (res.digest, checksum) != 0)
    return sw_error_make (err, EINVAL, "digest mismatch for %s: %s (expected: %s)", url, res.digest,
                          checksum);
  time_t mtime = res.last_modified > 0 ? (time_t) res.last_modified : 0;
  struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
  if (futimens (fd, ts) < 0)
    return sw_error_errno (err, "setting the time of the download of %s", url);
  return 0;
}
