/* store/stepcache.c — step records in STATE/steps, pack records in STATE/packs (see
 * stepcache.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/stepcache.h"

static bool
key_ok (const char *key)
{
  size_t n = strlen (key);
  if (n != SW_STEP_KEY_HEX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((key[i] >= '0' && key[i] <= '9') || (key[i] >= 'a' && key[i] <= 'f')))
      return false;
  return true;
}

static char *
record_path_in (const char *state_dir, const char *sub, const char *key)
{
  return sw_xasprintf ("%s/%s/%s", state_dir, sub, key);
}

static char *
record_path (const char *state_dir, const char *key)
{
  return record_path_in (state_dir, "steps", key);
}

static void
field (char *dst, size_t dstsz, const char *v)
{
  snprintf (dst, dstsz, "%s", v);
}

static int
read_record (const char *p, sw_step_record *out)
{
  FILE *f = fopen (p, "re");
  char line[2048];
  if (f == NULL)
    return 0;
  memset (out, 0, sizeof *out);
  while (fgets (line, sizeof line, f))
    {
      line[strcspn (line, "\n")] = '\0';
      char *sp = strchr (line, ' ');
      if (sp == NULL)
        continue;
      *sp = '\0';
      const char *v = sp + 1;
      if (strcmp (line, "diff_id") == 0)
        field (out->diff_id, sizeof out->diff_id, v);
      else if (strcmp (line, "created") == 0)
        field (out->created, sizeof out->created, v);
      else if (strcmp (line, "created_by") == 0)
        field (out->created_by, sizeof out->created_by, v);
      else if (strcmp (line, "blob_opts") == 0)
        field (out->blob_opts, sizeof out->blob_opts, v);
      else if (strcmp (line, "blob_digest") == 0)
        field (out->blob_digest, sizeof out->blob_digest, v);
      else if (strcmp (line, "blob_size") == 0)
        out->blob_size = strtoll (v, NULL, 10);
      else if (strcmp (line, "blob_media_type") == 0)
        field (out->blob_media_type, sizeof out->blob_media_type, v);
      else if (strcmp (line, "pushed_to") == 0)
        field (out->pushed_to, sizeof out->pushed_to, v);
      else if (strcmp (line, "stamp") == 0)
        field (out->stamp, sizeof out->stamp, v);
    }
  fclose (f);
  if (sw_digest_validate (out->diff_id, NULL) < 0)
    return 0;
  if (*out->blob_digest && sw_digest_validate (out->blob_digest, NULL) < 0)
    out->blob_digest[0] = out->blob_opts[0] = '\0';
  return 1;
}

int
sw_step_get (sw_state *st, const char *key, sw_step_record *out)
{
  if (!key_ok (key))
    return 0;
  cleanup_free char *p = record_path (sw_state_dir (st), key);
  return read_record (p, out);
}

/* One line per field; newlines in values (a history text may hold a heredoc) would cut a
 * record, so they are written as spaces: created_by is informative only. */
static void
put_line (FILE *f, const char *name, const char *v)
{
  if (v == NULL || *v == '\0')
    return;
  fprintf (f, "%s ", name);
  for (const char *p = v; *p; p++)
    fputc (*p == '\n' || *p == '\r' ? ' ' : *p, f);
  fputc ('\n', f);
}

static int
write_record (const char *p, const sw_step_record *rec, sw_error **err)
{
  cleanup_free char *tmp = sw_xasprintf ("%s.%ld.tmp", p, (long) getpid ());
  FILE *f = fopen (tmp, "wxe");
  if (f == NULL && errno == EEXIST)
    {
      unlink (tmp); /* a leftover of this pid's earlier life */
      f = fopen (tmp, "wxe");
    }
  if (f == NULL)
    return sw_error_errno (err, "writing cache record %s", tmp);
  put_line (f, "diff_id", rec->diff_id);
  put_line (f, "created", rec->created);
  put_line (f, "created_by", rec->created_by);
  put_line (f, "blob_opts", rec->blob_opts);
  put_line (f, "blob_digest", rec->blob_digest);
  if (*rec->blob_digest)
    fprintf (f, "blob_size %" PRId64 "\n", rec->blob_size);
  put_line (f, "blob_media_type", rec->blob_media_type);
  put_line (f, "pushed_to", rec->pushed_to);
  put_line (f, "stamp", rec->stamp);
  if (fclose (f) != 0)
    {
      sw_error_errno (err, "writing cache record %s", tmp);
      unlink (tmp);
      return -1;
    }
  if (rename (tmp, p) < 0)
    {
      sw_error_errno (err, "storing cache record %s", p);
      unlink (tmp);
      return -1;
    }
  return 0;
}

int
sw_step_put (sw_state *st, const char *key, const sw_step_record *rec, sw_error **err)
{
  if (!key_ok (key))
    return sw_error_make (err, EINVAL, "malformed step key \"%s\"", key);
  cleanup_free char *p = record_path (sw_state_dir (st), key);
  return write_record (p, rec, err);
}

/* ---- pack records ---- */

static char *
pack_path (sw_state *st, const char *diff_id, const char *opts)
{
  char d[SW_DIGEST_BUFSZ];
  cleanup_free char *name = sw_xasprintf ("%s %s", diff_id, opts);
  sw_digest_bytes (name, strlen (name), d);
  return record_path_in (sw_state_dir (st), "packs", sw_digest_hex (d));
}

int
sw_pack_get (sw_state *st, const char *diff_id, const char *opts, sw_pack_record *out)
{
  sw_step_record rec;
  cleanup_free char *p = pack_path (st, diff_id, opts);
  if (read_record (p, &rec) != 1 || strcmp (rec.diff_id, diff_id) != 0 || strcmp (rec.blob_opts, opts) != 0
      || *rec.blob_digest == '\0' || rec.blob_size <= 0)
    return 0;
  memset (out, 0, sizeof *out);
  snprintf (out->digest, sizeof out->digest, "%s", rec.blob_digest);
  snprintf (out->media_type, sizeof out->media_type, "%s", rec.blob_media_type);
  out->size = rec.blob_size;
  return 1;
}

int
sw_pack_put (sw_state *st, const char *diff_id, const char *opts, const sw_pack_record *in, sw_error **err)
{
  sw_step_record rec = { 0 };
  cleanup_free char *p = pack_path (st, diff_id, opts);
  cleanup_free char *dir = sw_xasprintf ("%s/packs", sw_state_dir (st));
  if (mkdir (dir, 0700) < 0 && errno != EEXIST)
    return sw_error_errno (err, "creating %s", dir);
  snprintf (rec.diff_id, sizeof rec.diff_id, "%s", diff_id);
  snprintf (rec.blob_opts, sizeof rec.blob_opts, "%s", opts);
  snprintf (rec.blob_digest, sizeof rec.blob_digest, "%s", in->digest);
  snprintf (rec.blob_media_type, sizeof rec.blob_media_type, "%s", in->media_type);
  rec.blob_size = in->size;
  return write_record (p, &rec, err);
}

void
sw_step_drop (sw_state *st, const char *key)
{
  if (!key_ok (key))
    return;
  cleanup_free char *p = record_path (sw_state_dir (st), key);
  unlink (p);
}

/* ---- stamps ---- */

static int
cmp_names (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static int
stamp_dir (int dfd, const char *rel, sw_sha256 *h, int depth, sw_error **err)
{
  DIR *d;
  struct dirent *de;
  char **names = NULL;
  size_t n = 0;
  int r = 0;

  if (depth > 256)
    return sw_error_make (err, ELOOP, "layer tree too deep at %s", rel);
  d = fdopendir (dfd);
  if (d == NULL)
    {
      close (dfd);
      return sw_error_errno (err, "reading %s", rel);
    }
  while ((de = readdir (d)))
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      names = sw_xreallocarray (names, n + 1, sizeof *names);
      names[n++] = sw_xstrdup (de->d_name);
    }
  if (n > 1)
    qsort (names, n, sizeof *names, cmp_names); /* names is NULL in an empty directory */
  for (size_t i = 0; i < n; i++)
    {
      struct stat sb;
      if (r < 0)
        {
          free (names[i]);
          continue;
        }
      cleanup_free char *path = sw_xasprintf ("%s/%s", rel, names[i]);
      if (fstatat (dirfd (d), names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0)
        r = sw_error_errno (err, "stat %s", path);
      else
        {
          char rec[160];
          int len = snprintf (rec, sizeof rec, "%ju %lld.%09ld %lld %o %ju:%ju",
                              (uintmax_t) sb.st_ino, (long long) sb.st_ctim.tv_sec, sb.st_ctim.tv_nsec,
                              (long long) sb.st_size, (unsigned) sb.st_mode, (uintmax_t) sb.st_uid,
                              (uintmax_t) sb.st_gid);
          sw_sha256_update (h, path, strlen (path) + 1);
          sw_sha256_update (h, rec, (size_t) len + 1);
          if (S_ISDIR (sb.st_mode))
            {
              int cfd = openat (dirfd (d), names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
              if (cfd < 0)
                r = sw_error_errno (err, "opening %s", path);
              else
                r = stamp_dir (cfd, path, h, depth + 1, err);
            }
        }
      free (names[i]);
    }
  free (names);
  closedir (d);
  return r;
}

int
sw_step_stamp (const char *dir, char out[SW_DIGEST_BUFSZ], sw_error **err)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "opening %s", dir);
  sw_sha256 *h = sw_sha256_new ();
  int r = stamp_dir (fd, "", h, 0, err);
  sw_sha256_final (h, out);
  sw_sha256_free (h);
  return r;
}

/* ---- after eviction ---- */

static void
sweep_dir (const char *state_dir, const char *sub)
{
  cleanup_free char *p = sw_xasprintf ("%s/%s", state_dir, sub);
  cleanup_dir DIR *d = opendir (p);
  struct dirent *de;
  if (!d)
    return;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.')
        continue;
      cleanup_free char *rp = sw_xasprintf ("%s/%s", p, de->d_name);
      FILE *f = fopen (rp, "re");
      char line[256];
      bool live = false, tmp = strstr (de->d_name, ".tmp") != NULL;
      while (f && !tmp && fgets (line, sizeof line, f))
        if (strncmp (line, "diff_id ", 8) == 0)
          {
            line[strcspn (line, "\n")] = '\0';
            char *colon = strchr (line + 8, ':');
            struct stat sb;
            if (colon)
              {
                *colon = '\0';
                cleanup_free char *lp = sw_xasprintf ("%s/layers/%s-%s", state_dir, line + 8, colon + 1);
                live = stat (lp, &sb) == 0;
              }
            break;
          }
      if (f)
        fclose (f);
      if (!live)
        unlinkat (dirfd (d), de->d_name, 0);
    }
}

void
sw_step_sweep (const char *state_dir)
{
  sweep_dir (state_dir, "steps");
  sweep_dir (state_dir, "packs");
}
