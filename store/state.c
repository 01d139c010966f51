/* store/state.c — the state directory: sessions, layer store, caches, size bound. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/io.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "store/state.h"
#include "store/stepcache.h"
#include "image/digest.h"

struct sw_state
{
  char *dir;
  char *session;
  int state_lock; /* STATE/lock, shared */
  int session_lock;
  char *stubs;
  char *merged, *staging;
  unsigned scratch_seq;
  pthread_mutex_t lock; /* steps may run on several threads of one engine */
};

/* ---- small filesystem helpers ---- */

/* rm -rf through the one bounded remove (common/fsutil), with the error this module's
 * callers report. */
static int
rmtree_fd (int parent, const char *name, sw_error **err)
{
  if (sw_remove_all_at (parent, name) == 0)
    return 0;
  if (errno == ELOOP)
    return sw_error_make (err, ELOOP, "removing %s: tree too deep (more than %u levels)", name,
                          SW_REMOVE_MAX_DEPTH);
  return sw_error_errno (err, "removing %s", name);
}

int
sw_rmtree_at (int dirfd, const char *name, sw_error **err)
{
  return rmtree_fd (dirfd, name, err);
}

int
sw_rmtree (const char *path, sw_error **err)
{
  return rmtree_fd (AT_FDCWD, path, err);
}

/* Disk use of a tree in bytes (blocks, not lengths), not crossing into other mounts. */
static uint64_t
du_fd (int parent, const char *name, int depth)
{
  struct stat st;
  uint64_t total;
  if (fstatat (parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return 0;
  total = (uint64_t) st.st_blocks * 512;
  if (!S_ISDIR (st.st_mode) || depth > 4096)
    return total;
  int fd = openat (parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return total;
  DIR *d = fdopendir (fd);
  if (!d)
    {
      close (fd);
      return total;
    }
  struct dirent *de;
  while ((de = readdir (d)))
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      total += du_fd (dirfd (d), de->d_name, depth + 1);
  closedir (d);
  return total;
}

static int
mkdir_p (const char *path, mode_t mode, sw_error **err)
{
  cleanup_free char *p = sw_xstrdup (path);
  for (char *s = p + 1; *s; s++)
    if (*s == '/')
      {
        *s = 0;
        if (mkdir (p, mode) < 0 && errno != EEXIST)
          return sw_error_errno (err, "creating %s", p);
        *s = '/';
      }
  if (mkdir (p, mode) < 0 && errno != EEXIST)
    return sw_error_errno (err, "creating %s", p);
  return 0;
}

int
sw_parse_size (const char *s, uint64_t *bytes)
{
  char *end;
  errno = 0;
  double v = strtod (s, &end);
  if (errno || end == s || v < 0)
    return -1;
  while (*end == ' ')
    end++;
  uint64_t mult = 1;
  switch (toupper ((unsigned char) *end))
    {
    case 0: break;
    case 'B': mult = 1; end++; break;
    case 'K': mult = 1ULL << 10; end++; break;
    case 'M': mult = 1ULL << 20; end++; break;
    case 'G': mult = 1ULL << 30; end++; break;
    case 'T': mult = 1ULL << 40; end++; break;
    default: return -1;
    }
  if (mult > 1 && (*end == 'i' || *end == 'I'))
    end++;
  if (mult > 1 && (*end == 'b' || *end == 'B'))
    end++;
  if (*end)
    return -1;
  *bytes = (uint64_t) (v * (double) mult);
  return 0;
}

static int gc_unlocked (const char *dir, uint64_t max_bytes, uint64_t *freed, sw_error **err);

/* ---- sessions ---- */

static int
open_lock (const char *path, sw_error **err)
{
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return sw_error_errno (err, "opening lock %s", path);
  return fd;
}

/* Remove sessions whose owner is gone: their flock is free. */
static void
clean_dead_sessions (const char *dir, const char *mine)
{
  cleanup_free char *runs = sw_xasprintf ("%s/runs", dir);
  cleanup_dir DIR *d = opendir (runs);
  struct dirent *de;
  if (!d)
    return;
  while ((de = readdir (d)))
    {
      if (de->d_name[0] == '.' && (de->d_name[1] == 0 || strcmp (de->d_name, "..") == 0))
        continue;
      if (mine && strcmp (de->d_name, mine) == 0)
        continue;
      /* a session being born (".new-…") makes its lock file, then locks it, then takes its
       * final name: until then an unlocked lock says nothing, so only its age does */
      if (strncmp (de->d_name, ".new-", 5) == 0)
        {
          struct stat st;
          if (fstatat (dirfd (d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && time (NULL) - st.st_mtime < 60)
            continue;
        }
      cleanup_free char *lock = sw_xasprintf ("%s/%s/lock", runs, de->d_name);
      cleanup_close int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) < 0)
        continue; /* alive (with no lock file at all it is debris) */
      cleanup_error sw_error *e = NULL;
      sw_info ("state: removing the scratch of a dead run: %s/%s", runs, de->d_name);
      if (sw_rmtree_at (dirfd (d), de->d_name, &e) < 0)
        sw_warn ("state: %s", sw_error_message (e));
    }
}

static int
make_stubs (const char *path, sw_error **err)
{
  cleanup_free char *tmp = sw_xasprintf ("%s.new-XXXXXX", path);
  static const char *const dirs[] = { "dev", "proc", "sys", "etc", NULL };
  static const char *const files[] = { "etc/hosts", "etc/resolv.conf", "etc/hostname", NULL };
  if (!mkdtemp (tmp))
    return sw_error_errno (err, "creating %s", tmp);
  chmod (tmp, 0755);
  int fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return sw_error_errno (err, "opening %s", tmp);
  for (const char *const *d = dirs; *d; d++)
    if (mkdirat (fd, *d, 0755) < 0 || fchmodat (fd, *d, 0755, 0) < 0)
      {
        close (fd);
        return sw_error_errno (err, "creating %s/%s", tmp, *d);
      }
  for (const char *const *f = files; *f; f++)
    {
      int ffd = openat (fd, *f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (ffd >= 0 && fchmod (ffd, 0644) < 0)
        {
          close (ffd);
          ffd = -1;
        }
      if (ffd < 0)
        {
          close (fd);
          return sw_error_errno (err, "creating %s/%s", tmp, *f);
        }
      close (ffd);
    }
  close (fd);
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      sw_rmtree (tmp, NULL);
      if (saved != EEXIST && saved != ENOTEMPTY)
        return sw_error_make (err, saved, "creating %s: %s", path, strerror (saved));
    }
  return 0;
}

int
sw_state_stubs (sw_state *st, const char **path, sw_error **err)
{
  int r = 0;
  pthread_mutex_lock (&st->lock);
  if (!st->stubs)
    {
      cleanup_free char *p = sw_xasprintf ("%s/stubs", st->dir);
      struct stat sb;
      if (stat (p, &sb) < 0 && make_stubs (p, err) < 0)
        r = -1;
      else
        st->stubs = steal_pointer (&p);
    }
  *path = st->stubs;
  pthread_mutex_unlock (&st->lock);
  return r;
}

int
sw_state_open (const char *dir, sw_state **out, sw_error **err)
{
  static const char *const subdirs[] = { "layers", "cache", "runs", "steps", "packs", "docs", NULL };
  sw_state *st;
  uint64_t max = 0;

  if (!dir || !*dir)
    dir = SW_STATE_DEFAULT_DIR;
  if (mkdir_p (dir, 0700, err) < 0)
    return sw_error_wrap (err, "state dir %s (choose another with --state-dir)", dir);
  for (const char *const *s = subdirs; *s; s++)
    {
      cleanup_free char *p = sw_xasprintf ("%s/%s", dir, *s);
      if (mkdir (p, 0700) < 0 && errno != EEXIST)
        return sw_error_errno (err, "creating %s", p);
    }
  st = sw_xzalloc (sizeof *st);
  pthread_mutex_init (&st->lock, NULL);
  /* absolute: the sandbox's child changes directory while it uses these paths */
  st->dir = realpath (dir, NULL);
  if (!st->dir)
    st->dir = sw_xstrdup (dir);
  st->state_lock = st->session_lock = -1;
  {
    cleanup_free char *lp = sw_xasprintf ("%s/lock", dir);
    st->state_lock = open_lock (lp, err);
    if (st->state_lock < 0)
      goto fail;
  }
  /* A bad config is an error before any work starts. */
  if (sw_state_max_size (dir, &max, err) < 0)
    goto fail;
  /* Alone?  Then this is the moment to enforce the size bound. */
  if (flock (st->state_lock, LOCK_EX | LOCK_NB) == 0)
    {
      clean_dead_sessions (dir, NULL);
      cleanup_error sw_error *e = NULL;
      uint64_t freed = 0;
      if (max > 0 && gc_unlocked (dir, max, &freed, &e) < 0)
        sw_warn ("state: %s", sw_error_message (e));
    }
  if (flock (st->state_lock, LOCK_SH) < 0)
    {
      sw_error_errno (err, "locking %s/lock", dir);
      goto fail;
    }
  clean_dead_sessions (dir, NULL);

  {
    cleanup_free char *tmp = sw_xasprintf ("%s/runs/.new-XXXXXX", dir);
    if (!mkdtemp (tmp))
      {
        sw_error_errno (err, "creating a session under %s/runs", dir);
        goto fail;
      }
    cleanup_free char *lp = sw_xasprintf ("%s/lock", tmp);
    st->session_lock = open_lock (lp, err);
    if (st->session_lock < 0 || flock (st->session_lock, LOCK_EX) < 0)
      {
        sw_rmtree (tmp, NULL);
        if (st->session_lock >= 0)
          sw_error_errno (err, "locking %s", lp);
        goto fail;
      }
    char pid[32];
    int n = snprintf (pid, sizeof pid, "%ld\n", (long) getpid ());
    if (sw_write_all (st->session_lock, pid, (size_t) n) < 0)
      sw_debug ("state: writing pid into %s: %s", lp, strerror (errno));
    st->session = sw_xasprintf ("%s/runs/%ld-%s", dir, (long) getpid (), strrchr (tmp, '-') + 1);
    if (rename (tmp, st->session) < 0)
      {
        sw_error_errno (err, "naming session %s", st->session);
        sw_rmtree (tmp, NULL);
        goto fail;
      }
  }
  *out = st;
  return 0;
fail:
  free (st->session);
  st->session = NULL;
  sw_state_close (st);
  return -1;
}

void
sw_state_close (sw_state *st)
{
  if (!st)
    return;
  if (st->session)
    {
      cleanup_error sw_error *e = NULL;
      if (sw_rmtree (st->session, &e) < 0)
        sw_warn ("state: %s", sw_error_message (e));
    }
  if (st->session_lock >= 0)
    close (st->session_lock);
  if (st->state_lock >= 0)
    close (st->state_lock);
  free (st->session);
  free (st->stubs);
  free (st->merged);
  free (st->staging);
  free (st->dir);
  pthread_mutex_destroy (&st->lock);
  free (st);
}

const char *
sw_state_dir (const sw_state *st)
{
  return st->dir;
}

const char *
sw_state_session (const sw_state *st)
{
  return st->session;
}

int
sw_state_mountdirs (sw_state *st, const char **merged, const char **staging, sw_error **err)
{
  int r = 0;
  pthread_mutex_lock (&st->lock);
  if (!st->merged)
    {
      cleanup_free char *m = sw_xasprintf ("%s/m", st->session);
      cleanup_free char *s = sw_xasprintf ("%s/s", st->session);
      if ((mkdir (m, 0755) < 0 && errno != EEXIST) || (mkdir (s, 0700) < 0 && errno != EEXIST))
        r = sw_error_errno (err, "creating mountpoints in %s", st->session);
      else
        {
          st->merged = steal_pointer (&m);
          st->staging = steal_pointer (&s);
        }
    }
  *merged = st->merged;
  *staging = st->staging;
  pthread_mutex_unlock (&st->lock);
  return r;
}

void
sw_state_discard (sw_state *st, const char *path)
{
  pthread_mutex_lock (&st->lock);
  unsigned seq = ++st->scratch_seq;
  pthread_mutex_unlock (&st->lock);
  cleanup_free char *trash = sw_xasprintf ("%s/trash", st->session);
  cleanup_free char *to = sw_xasprintf ("%s/%u", trash, seq);
  if (mkdir (trash, 0700) < 0 && errno != EEXIST)
    goto remove;
  if (rename (path, to) == 0)
    return;
remove:
  {
    cleanup_error sw_error *e = NULL;
    if (sw_rmtree (path, &e) < 0)
      sw_warn ("state: %s", sw_error_message (e));
  }
}

int
sw_state_mkscratch (sw_state *st, const char *prefix, char **path, sw_error **err)
{
  pthread_mutex_lock (&st->lock);
  unsigned seq = ++st->scratch_seq;
  pthread_mutex_unlock (&st->lock);
  char *p = sw_xasprintf ("%s/%s%u", st->session, prefix, seq);
  /* 0755: a scratch dir is often a snapshot's "/" (the session dir above is 0700) */
  if (mkdir (p, 0755) < 0 || chmod (p, 0755) < 0)
    {
      int r = sw_error_errno (err, "creating %s", p);
      free (p);
      return r;
    }
  *path = p;
  return 0;
}

/* ---- layers ---- */

static int
layer_name (const char *diffid, char *out, size_t outsz, sw_error **err)
{
  const char *colon = strchr (diffid, ':');
  size_t alen = colon ? (size_t) (colon - diffid) : 0;
  size_t hlen = colon ? strlen (colon + 1) : 0;
  bool ok = colon && alen > 0 && alen < 16 && hlen >= 32 && hlen <= 128;
  for (size_t i = 0; ok && i < alen; i++)
    ok = islower ((unsigned char) diffid[i]) || isdigit ((unsigned char) diffid[i]);
  for (size_t i = 0; ok && i < hlen; i++)
    ok = isxdigit ((unsigned char) colon[1 + i]) && !isupper ((unsigned char) colon[1 + i]);
  if (!ok || alen + hlen + 2 > outsz)
    return sw_error_make (err, EINVAL, "malformed diffID \"%s\" (want ALGO:HEX)", diffid);
  snprintf (out, outsz, "%.*s-%s", (int) alen, diffid, colon + 1);
  return 0;
}

int
sw_state_layer_path (sw_state *st, const char *diffid, char **path, sw_error **err)
{
  char name[160];
  if (layer_name (diffid, name, sizeof name, err) < 0)
    return -1;
  *path = sw_xasprintf ("%s/layers/%s", st->dir, name);
  return 0;
}

bool
sw_state_layer_has (sw_state *st, const char *diffid)
{
  cleanup_free char *p = NULL;
  struct stat sb;
  if (sw_state_layer_path (st, diffid, &p, NULL) < 0 || stat (p, &sb) < 0 || !S_ISDIR (sb.st_mode))
    return false;
  utimensat (AT_FDCWD, p, NULL, 0); /* last use, for the LRU bound */
  return true;
}

int
sw_state_layer_begin (sw_state *st, char **tmpdir, sw_error **err)
{
  if (sw_state_mkscratch (st, "layer", tmpdir, err) < 0)
    return -1;
  chmod (*tmpdir, 0755); /* it becomes the rootfs's / */
  return 0;
}

int
sw_state_layer_commit (sw_state *st, const char *diffid, const char *tmpdir, sw_error **err)
{
  cleanup_free char *p = NULL;
  if (sw_state_layer_path (st, diffid, &p, err) < 0)
    return -1;
  if (rename (tmpdir, p) == 0)
    return 0;
  if (errno == EEXIST || errno == ENOTEMPTY)
    return sw_rmtree (tmpdir, err); /* someone else stored it first: same content */
  return sw_error_errno (err, "storing layer %s in %s", diffid, p);
}

/* ---- caches ---- */

static void
hash_id (const char *id, char out[33])
{
  char d[SW_DIGEST_BUFSZ];
  sw_digest_bytes (id, strlen (id), d);
  memcpy (out, sw_digest_hex (d), 32); /* the first 16 bytes, in lowercase hex */
  out[32] = '\0';
}

static int
cache_create (const char *path, uid_t uid, gid_t gid, mode_t mode, sw_error **err)
{
  struct stat sb;
  if (stat (path, &sb) == 0)
    return 0;
  cleanup_free char *tmp = sw_xasprintf ("%s.new-XXXXXX", path);
  if (!mkdtemp (tmp))
    return sw_error_errno (err, "creating cache %s", path);
  if (chown (tmp, uid, gid) < 0 || chmod (tmp, mode) < 0)
    {
      int r = sw_error_errno (err, "setting owner and mode of cache %s", path);
      rmdir (tmp);
      return r;
    }
  if (rename (tmp, path) < 0)
    {
      int saved = errno;
      rmdir (tmp);
      if (saved != EEXIST && saved != ENOTEMPTY)
        return sw_error_make (err, saved, "creating cache %s: %s", path, strerror (saved));
    }
  return 0;
}

int
sw_state_cache_dir (sw_state *st, const char *id, sw_cache_sharing sharing, uid_t uid, gid_t gid,
                    mode_t mode, char **path, int *lockfd, sw_error **err)
{
  char h[33];
  hash_id (id, h);
  *lockfd = -1;
  for (unsigned i = 0;; i++)
    {
      cleanup_free char *p = i ? sw_xasprintf ("%s/cache/%s-%u", st->dir, h, i)
                               : sw_xasprintf ("%s/cache/%s", st->dir, h);
      cleanup_free char *lp = sw_xasprintf ("%s.lock", p);
      int fd = -1;
      if (sharing != SW_CACHE_SHARED)
        {
          fd = open_lock (lp, err);
          if (fd < 0)
            return -1;
          int op = sharing == SW_CACHE_LOCKED ? LOCK_EX : LOCK_EX | LOCK_NB;
          if (flock (fd, op) < 0)
            {
              int saved = errno;
              close (fd);
              if (sharing == SW_CACHE_PRIVATE && saved == EWOULDBLOCK && i < 1000)
                continue; /* in use: a private mount gets its own instance */
              return sw_error_make (err, saved, "locking cache %s: %s", id, strerror (saved));
            }
        }
      if (cache_create (p, uid, gid, mode, err) < 0)
        {
          if (fd >= 0)
            close (fd);
          return -1;
        }
      utimensat (AT_FDCWD, p, NULL, 0);
      *lockfd = fd;
      *path = steal_pointer (&p);
      return 0;
    }
}

/* ---- size ---- */

int
sw_state_max_size (const char *dir, uint64_t *bytes, sw_error **err)
{
  cleanup_free char *p = sw_xasprintf ("%s/config", dir);
  cleanup_file FILE *f = fopen (p, "re");
  char line[512];
  unsigned lineno = 0;
  *bytes = 0;
  if (!f)
    return errno == ENOENT ? 0 : sw_error_errno (err, "reading %s", p);
  while (fgets (line, sizeof line, f))
    {
      char *s = line, *eq, *k, *v, *e;
      lineno++;
      while (isspace ((unsigned char) *s))
        s++;
      if (!*s || *s == '#')
        continue;
      eq = strchr (s, '=');
      if (!eq)
        return sw_error_make (err, EINVAL, "%s:%u: expected key = value", p, lineno);
      k = s;
      for (e = eq; e > k && isspace ((unsigned char) e[-1]); e--)
        ;
      *e = 0;
      v = eq + 1;
      while (isspace ((unsigned char) *v))
        v++;
      for (e = v + strlen (v); e > v && isspace ((unsigned char) e[-1]); e--)
        ;
      *e = 0;
      if (strcmp (k, "max-size") == 0)
        {
          if (sw_parse_size (v, bytes) < 0)
            return sw_error_make (err, EINVAL, "%s:%u: bad max-size \"%s\" (e.g. 20G, 512MiB)", p,
                                  lineno, v);
        }
      else
        sw_warn ("%s:%u: unknown key \"%s\" ignored", p, lineno, k);
    }
  return 0;
}

typedef struct entry
{
  char *path;
  time_t used;
  uint64_t size;
} entry;

static void
collect (const char *dir, const char *sub, entry **v, size_t *n, uint64_t *total)
{
  cleanup_free char *p = sw_xasprintf ("%s/%s", dir, sub);
  cleanup_dir DIR *d = opendir (p);
  struct dirent *de;
  if (!d)
    return;
  while ((de = readdir (d)))
    {
      struct stat sb;
      if (de->d_name[0] == '.' || strstr (de->d_name, ".lock"))
        continue;
      if (fstatat (dirfd (d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR (sb.st_mode))
        continue;
      *v = sw_xreallocarray (*v, *n + 1, sizeof **v);
      (*v)[*n].path = sw_xasprintf ("%s/%s", p, de->d_name);
      (*v)[*n].used = sb.st_mtime;
      (*v)[*n].size = du_fd (dirfd (d), de->d_name, 0);
      *total += (*v)[*n].size;
      (*n)++;
    }
}

static int
by_use (const void *a, const void *b)
{
  const entry *x = a, *y = b;
  return (x->used > y->used) - (x->used < y->used);
}

static int
gc_unlocked (const char *dir, uint64_t max_bytes, uint64_t *freed, sw_error **err)
{
  entry *v = NULL;
  size_t n = 0;
  uint64_t total = 0;
  int r = 0;

  *freed = 0;
  collect (dir, "layers", &v, &n, &total);
  collect (dir, "cache", &v, &n, &total);
  qsort (v, n, sizeof *v, by_use);
  for (size_t i = 0; i < n; i++)
    {
      if (total > max_bytes && r == 0)
        {
          sw_info ("state: over the bound (%llu > %llu bytes): removing %s",
                   (unsigned long long) total, (unsigned long long) max_bytes, v[i].path);
          r = sw_rmtree (v[i].path, err);
          total -= v[i].size;
          *freed += v[i].size;
        }
      free (v[i].path);
    }
  free (v);
  if (*freed > 0)
    sw_step_sweep (dir); /* the records of evicted layers are misses now: drop them */
  return r;
}

int
sw_state_gc (const char *dir, uint64_t max_bytes, uint64_t *freed, sw_error **err)
{
  cleanup_free char *lp = sw_xasprintf ("%s/lock", dir);
  cleanup_close int fd = open (lp, O_RDWR | O_CLOEXEC);
  *freed = 0;
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    return 0; /* in use (or nothing there): the next lone process does it */
  return gc_unlocked (dir, max_bytes, freed, err);
}

int
sw_state_prune (const char *dir, uint64_t *freed, sw_error **err)
{
  static const char *const subs[] = { "layers", "cache", "runs", "steps", "packs", "docs", NULL };
  cleanup_free char *lp = sw_xasprintf ("%s/lock", dir);
  cleanup_close int fd = -1;
  struct stat sb;

  *freed = 0;
  if (stat (dir, &sb) < 0)
    return errno == ENOENT ? 0 : sw_error_errno (err, "state dir %s", dir);
  fd = open (lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return sw_error_errno (err, "opening %s", lp);
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    return sw_error_make (err, EBUSY,
                          "state dir %s is in use by a running build; prune when it has finished",
                          dir);
  for (const char *const *s = subs; *s; s++)
    {
      cleanup_free char *p = sw_xasprintf ("%s/%s", dir, *s);
      cleanup_dir DIR *d = opendir (p);
      struct dirent *de;
      if (!d)
        continue;
      while ((de = readdir (d)))
        {
          if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
            continue;
          *freed += du_fd (dirfd (d), de->d_name, 0);
          if (sw_rmtree_at (dirfd (d), de->d_name, err) < 0)
            return sw_error_wrap (err, "pruning %s", p);
        }
    }
  return 0;
}
