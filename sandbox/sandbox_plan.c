/* sandbox/sandbox_plan.c — the parent prepares a step: USER from the snapshots, env, the
 * /etc files, RUN --mount sources, scratch dirs, the lower stack.  Everything the child
 * needs is computed here, before the clone (see sandbox_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common/io.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/net.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/seccomp.h"
#include "sandbox/user.h"
#include "sandbox/view.h"

#define SW_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SW_DEFAULT_HOSTNAME "buildkitsandbox"

/* Docker's default capability set. */
#define CAPBIT(n) (1ULL << (n))
static const uint64_t default_caps = CAPBIT (0) /* CHOWN */ | CAPBIT (1) /* DAC_OVERRIDE */
                                     | CAPBIT (3) /* FOWNER */ | CAPBIT (4) /* FSETID */
                                     | CAPBIT (5) /* KILL */ | CAPBIT (6) /* SETGID */
                                     | CAPBIT (7) /* SETUID */ | CAPBIT (8) /* SETPCAP */
                                     | CAPBIT (10) /* NET_BIND_SERVICE */ | CAPBIT (13) /* NET_RAW */
                                     | CAPBIT (18) /* SYS_CHROOT */ | CAPBIT (27) /* MKNOD */
                                     | CAPBIT (29) /* AUDIT_WRITE */ | CAPBIT (31) /* SETFCAP */;

/* Docker's masked paths (its read-only paths are covered by /proc being read-only). */
static const char *const masked[] = { "proc/asound", "proc/acpi", "proc/kcore", "proc/keys",
                                      "proc/latency_stats", "proc/timer_list", "proc/timer_stats",
                                      "proc/sched_debug", "proc/scsi", "sys/firmware",
                                      "sys/devices/virtual/powercap", NULL };

/* "/a/./b/../c/" → "a/c"; never climbs above the root.  "" for "/". */
static char *
clean_rel (const char *path)
{
  cleanup_free char *copy = sw_xstrdup (path);
  char **parts = sw_xcalloc (strlen (path) + 1, sizeof *parts);
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r (copy, "/", &save); t; t = strtok_r (NULL, "/", &save))
    {
      if (strcmp (t, ".") == 0)
        continue;
      if (strcmp (t, "..") == 0)
        {
          if (n)
            n--;
          continue;
        }
      parts[n++] = t;
    }
  sw_buf b = SW_BUF_INIT;
  for (size_t i = 0; i < n; i++)
    {
      if (i)
        sw_buf_putc (&b, '/');
      sw_buf_puts (&b, parts[i]);
    }
  free (parts);
  return sw_buf_steal (&b);
}

/* --shm-size and --ulimit for the child (which allocates nothing: the options string is
 * made here). */
static void
plan_limits (const sw_sandbox_spec *s, sw_sandbox_plan *p)
{
  unsigned long long shm = s->shm_size ? s->shm_size : SW_SHM_SIZE_DEFAULT;
  snprintf (p->shm_opts, sizeof p->shm_opts, "mode=1777,size=%lluk", shm / 1024);
  p->ulimits = s->ulimits;
  p->n_ulimits = s->n_ulimits;
}

/* BuildKit's executor puts the primary gid first among the supplementary groups when the
 * passwd/group lookup did not list it (`id` shows groups=0(root),10(wheel) for root, and
 * groups=1043 for USER 1042:1043). */
static void
ensure_primary_gid (sw_user *u)
{
  for (size_t i = 0; i < u->ngroups; i++)
    if (u->groups[i] == u->gid)
      return;
  u->groups = sw_xreallocarray (u->groups, u->ngroups + 1, sizeof *u->groups);
  memmove (u->groups + 1, u->groups, u->ngroups * sizeof *u->groups);
  u->groups[0] = u->gid;
  u->ngroups++;
}

/* A file of the rootfs the snapshots make, read before anything is mounted: the first
 * snapshot from the top that has it (or hides it with a whiteout, or an opaque parent
 * directory) decides.  NULL without error when absent.  Symlinks resolve within one
 * snapshot, which is all /etc/passwd and /etc/group ever need. */
static char *
read_from_lowers (const sw_sandbox_spec *s, const char *rel, size_t max, sw_error **err)
{
  size_t nl = 0;
  while (s->lowers && s->lowers[nl])
    nl++;
  for (size_t i = nl; i-- > 0;)
    {
      cleanup_close int lfd = open (s->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (lfd < 0)
        {
          sw_error_errno (err, "lower dir %s", s->lowers[i]);
          return NULL;
        }
      /* the directories on the way: absent here → look lower; a whiteout hides the file
       * from every layer below; an opaque one too, once this layer has not got it */
      cleanup_free char *prefix = sw_xstrdup (rel);
      bool opaque = false, missing = false;
      for (char *c = strchr (prefix, '/'); c && !missing; c = strchr (c + 1, '/'))
        {
          struct stat st;
          char path[64], v = 0;
          *c = 0;
          int fd = sw_openat2 (lfd, prefix, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
          *c = '/';
          if (fd < 0)
            {
              missing = true;
              break;
            }
          snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
          bool whiteout = fstat (fd, &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == 0;
          if (S_ISDIR (st.st_mode) && getxattr (path, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y')
            opaque = true;
          close (fd);
          if (whiteout)
            return NULL;
        }
      if (missing)
        continue;
      {
        struct stat st;
        int fd = sw_openat2 (lfd, rel, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
          {
            if (opaque)
              return NULL;
            continue;
          }
        bool whiteout = fstat (fd, &st) == 0 && S_ISCHR (st.st_mode) && st.st_rdev == 0;
        close (fd);
        if (whiteout)
          return NULL;
      }
      cleanup_close int fd = sw_openat2 (lfd, rel, O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (fd < 0)
        {
          sw_error_errno (err, "reading /%s of the rootfs in %s", rel, s->lowers[i]);
          return NULL;
        }
      sw_buf b = SW_BUF_INIT;
      if (sw_read_all (fd, max, &b) < 0)
        {
          if (errno == EFBIG)
            sw_error_make (err, EFBIG, "/%s of the rootfs is larger than %zu bytes", rel, max);
          else
            sw_error_errno (err, "reading /%s of the rootfs in %s", rel, s->lowers[i]);
          sw_buf_free (&b);
          return NULL;
        }
      return sw_buf_steal (&b);
    }
  return NULL;
}

static bool
env_has (const char *const *env, const char *key)
{
  size_t k = strlen (key);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp (env[i], key, k) == 0 && env[i][k] == '=')
      return true;
  return false;
}

static const char *
env_get (char **env, const char *key)
{
  size_t k = strlen (key);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp (env[i], key, k) == 0 && env[i][k] == '=')
      return env[i] + k + 1;
  return NULL;
}

/* ---- the run's resources ---- */


static int
keep_fd (sw_sandbox_run_state *r, int fd)
{
  r->fds = sw_xreallocarray (r->fds, r->n_fds + 1, sizeof *r->fds);
  r->fds[r->n_fds++] = fd;
  return fd;
}

static const char *
keep_str (sw_sandbox_run_state *r, char *s)
{
  r->strings = sw_xreallocarray (r->strings, r->n_strings + 1, sizeof *r->strings);
  r->strings[r->n_strings++] = s;
  return s;
}

static sw_op *
add_op (sw_sandbox_run_state *r, sw_op_kind kind, const char *target_rel, bool is_dir)
{
  r->ops = sw_xreallocarray (r->ops, r->n_ops + 1, sizeof *r->ops);
  sw_op *op = &r->ops[r->n_ops++];
  memset (op, 0, sizeof *op);
  op->kind = kind;
  op->target = target_rel;
  op->target_is_dir = is_dir;
  r->stub_targets = sw_xreallocarray (r->stub_targets, r->n_stub_targets + 1, sizeof (char *));
  r->stub_targets[r->n_stub_targets++] = sw_xstrdup (target_rel);
  return op;
}

void
sw_sandbox_run_free (sw_sandbox_run_state *r)
{
  for (size_t i = 0; i < r->n_fds; i++)
    if (r->fds[i] >= 0)
      close (r->fds[i]);
  free (r->fds);
  for (size_t i = 0; i < r->n_strings; i++)
    free (r->strings[i]);
  free (r->strings);
  free (r->ops);
  free (r->lowers);
  for (size_t i = 0; r->envp && r->envp[i]; i++)
    free (r->envp[i]);
  free (r->envp);
  for (size_t i = 0; i < r->n_secret_env; i++)
    free (r->secret_env[i]);
  free (r->secret_env);
  for (size_t i = 0; i < r->n_stub_targets; i++)
    free (r->stub_targets[i]);
  for (size_t i = 0; i < r->n_needles; i++)
    free (r->needles[i]);
  free (r->needles);
  free (r->stub_targets);
  if (r->scratch)
    {
      sw_state_discard (r->spec->state, r->scratch);
      free (r->scratch);
    }
  if (r->step_stubs)
    {
      sw_state_discard (r->spec->state, r->step_stubs);
      free (r->step_stubs);
    }
  if (r->workdir_outside)
    {
      cleanup_error sw_error *e = NULL;
      if (sw_rmtree (r->workdir_outside, &e) < 0)
        sw_warn ("sandbox: %s", sw_error_message (e));
      free (r->workdir_outside);
    }
  free (r->workdir);
  sw_user_clear (&r->user);
  if (r->pidfd >= 0)
    close (r->pidfd);
  if (r->sync_fd >= 0)
    close (r->sync_fd);
  if (r->out_rd >= 0)
    close (r->out_rd);
  if (r->err_rd >= 0)
    close (r->err_rd);
  for (int i = 0; i < 3; i++)
    sw_buf_free (&r->line[i]);
}

/* ---- preparing the plan ---- */

static char *
hosts_content (const sw_sandbox_spec *s, const char *hostname, sw_error **err)
{
  sw_buf b = SW_BUF_INIT;
  sw_buf_printf (&b, "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
  for (size_t i = 0; s->extra_hosts && s->extra_hosts[i]; i++)
    {
      const char *h = s->extra_hosts[i];
      const char *sep = strchr (h, '=');
      if (!sep)
        sep = strchr (h, ':');
      if (!sep || sep == h || !sep[1])
        {
          sw_buf_free (&b);
          sw_error_make (err, EINVAL, "invalid --add-host \"%s\": want HOST:IP", h);
          return NULL;
        }
      sw_buf_printf (&b, "%s\t%.*s\n", sep + 1, (int) (sep - h), h);
    }
  return sw_buf_steal (&b);
}

/* When the rootfs's REL is a symlink (the top snapshot that has it decides), the child
 * creates its target to mount on (sandbox_child.c, ensure()): that file and the
 * directories made for it are stubs too, removed from the upper dir after the step. */
static void
link_target_stub (sw_sandbox_run_state *r, const char *rel)
{
  const sw_sandbox_spec *s = r->spec;
  size_t nl = 0;
  while (s->lowers && s->lowers[nl])
    nl++;
  for (size_t i = nl; i-- > 0;)
    {
      char target[4096];
      cleanup_close int lfd = open (s->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
      struct stat st;
      if (lfd < 0 || fstatat (lfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (!S_ISLNK (st.st_mode))
        return;
      ssize_t n = readlinkat (lfd, rel, target, sizeof target - 1);
      if (n <= 0)
        return;
      target[n] = 0;
      cleanup_free char *dir = sw_xstrdup (rel);
      char *slash = strrchr (dir, '/');
      if (slash)
        *slash = 0;
      cleanup_free char *joined = target[0] == '/' ? sw_xstrdup (target)
                                                   : sw_xasprintf ("%s/%s", slash ? dir : "", target);
      char *clean = clean_rel (joined);
      if (*clean)
        {
          r->stub_targets = sw_xreallocarray (r->stub_targets, r->n_stub_targets + 1, sizeof (char *));
          r->stub_targets[r->n_stub_targets++] = clean;
        }
      else
        free (clean);
      return;
    }
}

static void
file_op (sw_sandbox_run_state *r, const char *rel, char *content, mode_t mode, uid_t uid, gid_t gid, bool ro)
{
  link_target_stub (r, rel);
  sw_op *op = add_op (r, SW_OP_FILE, keep_str (r, sw_xstrdup (rel)), false);
  op->content = keep_str (r, content);
  op->content_len = strlen (content);
  op->mode = mode;
  op->uid = uid;
  op->gid = gid;
  op->readonly = ro;
}

static int
secret_content (const sw_sandbox_spec *s, const char *id, char **out, size_t *len, sw_error **err)
{
  *out = NULL;
  *len = 0;
  for (size_t i = 0; i < s->n_secrets; i++)
    {
      const sw_secret_src *src = &s->secrets[i];
      if (strcmp (src->id, id) != 0)
        continue;
      if (src->env)
        {
          const char *v = getenv (src->env);
          if (v)
            *out = sw_xstrdup (v), *len = strlen (v);
          return 0;
        }
      cleanup_close int fd = open (src->path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        return sw_error_errno (err, "secret %s: reading %s", id, src->path);
      sw_buf b = SW_BUF_INIT;
      char chunk[8192];
      ssize_t n;
      while ((n = read (fd, chunk, sizeof chunk)) > 0)
        {
          sw_buf_append (&b, chunk, (size_t) n);
          if (b.len > 500 * 1024)
            {
              sw_buf_free (&b);
              return sw_error_make (err, EFBIG, "secret %s: %s is larger than 500 KiB", id, src->path);
            }
        }
      if (n < 0)
        {
          sw_buf_free (&b);
          return sw_error_errno (err, "secret %s: reading %s", id, src->path);
        }
      /* contents may hold NULs: SW_OP_FILE takes a length, so keep it exact */
      *len = b.len;
      *out = sw_buf_steal (&b);
      return 0;
    }
  return 0;
}

/* Make a step stub tree (dirs, empty files) for the mount targets the shared stubs lack. */
static int
make_step_stubs (sw_sandbox_run_state *r, const char *dir, sw_error **err)
{
  if (chmod (dir, 0755) < 0)
    return sw_error_errno (err, "preparing %s", dir);
  for (size_t i = 0; i < r->n_ops; i++)
    {
      const sw_op *op = &r->ops[i];
      cleanup_free char *path = sw_xasprintf ("%s/%s", dir, op->target);
      for (char *s = path + strlen (dir) + 1; *s; s++)
        if (*s == '/')
          {
            *s = 0;
            if (mkdir (path, 0755) < 0 && errno != EEXIST)
              return sw_error_errno (err, "creating %s", path);
            chmod (path, 0755); /* whatever slipway's umask */
            *s = '/';
          }
      if (op->target_is_dir)
        {
          if (mkdir (path, 0755) < 0 && errno != EEXIST)
            return sw_error_errno (err, "creating %s", path);
          chmod (path, 0755);
        }
      else
        {
          int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
          if (fd < 0 && errno != EISDIR)
            return sw_error_errno (err, "creating %s", path);
          if (fd >= 0)
            close (fd);
        }
    }
  return 0;
}

static sw_cache_sharing
cache_sharing (sw_df_mount_sharing s)
{
  switch (s)
    {
    case SW_DF_SHARING_PRIVATE:
      return SW_CACHE_PRIVATE;
    case SW_DF_SHARING_LOCKED:
      return SW_CACHE_LOCKED;
    default:
      return SW_CACHE_SHARED;
    }
}

static size_t
count_dirs (const char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

/* The snapshot dirs of a tree, top first (as overlayfs lists them), owned by r. */
static const char *const *
keep_tree_top_first (sw_sandbox_run_state *r, const char *const *tree)
{
  size_t n = count_dirs (tree);
  const char **v = sw_xcalloc (n + 1, sizeof *v);
  for (size_t k = 0; k < n; k++)
    v[k] = keep_str (r, sw_xstrdup (tree[n - 1 - k]));
  keep_str (r, (char *) v);
  return v;
}

struct source_stat
{
  const char *rel;
  struct stat st;
};

static int
stat_source_in_view (int rootfd, void *arg, sw_error **err)
{
  struct source_stat *a = arg;
  cleanup_close int fd = sw_openat2 (rootfd, *a->rel ? a->rel : ".", O_PATH,
                                     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 || fstat (fd, &a->st) < 0)
    return sw_error_errno (err, "%s", a->rel);
  return 0;
}

/* stat source (clean, relative) in the tree its snapshots make, through a read-only
 * view of them (sandbox/view.h): the child merges them only once it runs. */
static int
stat_source_in_tree (sw_sandbox_run_state *r, const char *const *tree, const char *source,
                     struct stat *st, sw_error **err)
{
  if (count_dirs (tree) == 0)
    {
      /* an empty tree: only its root exists */
      if (*source)
        {
          errno = ENOENT;
          return sw_error_errno (err, "%s", source);
        }
      memset (st, 0, sizeof *st);
      st->st_mode = S_IFDIR | 0755;
      return 0;
    }
  const char *merged, *staging;
  if (sw_state_mountdirs (r->spec->state, &merged, &staging, err) < 0)
    return -1;
  struct source_stat a = { source, { 0 } };
  if (sw_view_run (tree, NULL, NULL, merged, stat_source_in_view, &a, err) < 0)
    return -1;
  *st = a.st;
  return 0;
}

/* A bind mount: source= inside the build context, or inside the tree of from= (tree: its
 * snapshot dirs, bottom first).  A tree of one dir is that dir, bound as the context is;
 * a tree of several (or none) is merged by the child (sw_op.src_lowers). */
static int
add_bind (sw_sandbox_run_state *r, const sw_df_run_mount *m, const char *rel, const char *const *tree,
          sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  cleanup_free char *srel = clean_rel (m->source ? m->source : ".");
  const char *where = m->from ? m->from : "the build context";
  const char *base = NULL;
  struct stat st;

  if (!tree)
    base = s->context_dir ? s->context_dir : ".";
  else if (count_dirs (tree) == 1)
    base = tree[0];
  if (base)
    {
      cleanup_close int bfd = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (bfd < 0)
        return sw_error_errno (err, "--mount type=bind: opening %s", base);
      int fd = sw_openat2 (bfd, *srel ? srel : ".", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (fd < 0)
        return sw_error_errno (err, "--mount type=bind,source=%s: not found in %s", m->source, where);
      keep_fd (r, fd);
      if (fstat (fd, &st) < 0)
        return sw_error_errno (err, "--mount type=bind,source=%s", m->source);
    }
  else if (stat_source_in_tree (r, tree, srel, &st, err) < 0)
    {
      if ((*err)->errnum == ENOENT)
        {
          sw_error_free (*err);
          *err = NULL;
          errno = ENOENT;
          return sw_error_errno (err, "--mount type=bind,source=%s: not found in %s", m->source, where);
        }
      return sw_error_wrap (err, "--mount type=bind,from=%s,source=%s", m->from, m->source);
    }
  sw_op *op = add_op (r, SW_OP_BIND, rel, S_ISDIR (st.st_mode));
  if (base)
    op->src_base = keep_str (r, realpath (base, NULL) ?: sw_xstrdup (base));
  else
    op->src_lowers = keep_tree_top_first (r, tree);
  op->src_rel = keep_str (r, *srel ? sw_xstrdup (srel) : sw_xstrdup ("."));
  op->readonly = m->readonly;
  op->discard_writes = !m->readonly; /* BuildKit: rw bind writes are discarded */
  return 0;
}

/* A cache mount.  With from=, BuildKit's cache starts as a copy of that tree (a cache per
 * id and tree): here the tree is the overlay's lower and the cache keeps only what the
 * steps change, in its upper and work dirs; source= is then a path in that merged tree.  As
 * in BuildKit, uid, gid and mode shape only a cache that starts empty (no from=). */
static int
add_cache (sw_sandbox_run_state *r, const sw_df_run_mount *m, const char *rel, const char *const *tree,
           sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  cleanup_free char *path = NULL;
  cleanup_free char *key = NULL;
  int lockfd = -1;
  size_t n = count_dirs (tree);

  if (tree)
    {
      /* the tree's snapshot dirs name it: the same stage result or image, the same cache */
      cleanup_buf sw_buf b = SW_BUF_INIT;
      sw_buf_printf (&b, "%s\n", m->id);
      for (size_t k = 0; k < n; k++)
        sw_buf_printf (&b, "%s\n", tree[k]);
      key = sw_buf_steal (&b);
    }
  /* a seeded cache is an overlay's upper and work dirs, which two mounts at once would
   * corrupt (overlayfs resets the work dir when it mounts): shared steps take turns */
  sw_cache_sharing sharing = cache_sharing (m->sharing);
  if (tree && n > 0 && sharing == SW_CACHE_SHARED)
    sharing = SW_CACHE_LOCKED;
  if (sw_state_cache_dir (s->state, key ? key : m->id, sharing, tree ? 0 : (uid_t) m->uid,
                          tree ? 0 : (gid_t) m->gid, tree ? 0755 : (mode_t) m->mode, &path, &lockfd, err) < 0)
    return sw_error_wrap (err, "--mount type=cache,id=%s", m->id);
  if (lockfd >= 0)
    keep_fd (r, lockfd);
  if (!tree)
    {
      sw_op *op = add_op (r, SW_OP_BIND, rel, true);
      op->src_base = keep_str (r, steal_pointer (&path));
      op->readonly = m->readonly;
      return 0;
    }
  cleanup_free char *srel = clean_rel (m->source ? m->source : ".");
  if (n == 0)
    {
      /* seeded from an empty tree: a plain cache, where only the root exists at first */
      if (*srel)
        return sw_error_make (err, ENOENT, "--mount type=cache,from=%s,source=%s: not found", m->from,
                              m->source);
      sw_op *op = add_op (r, SW_OP_BIND, rel, true);
      op->src_base = keep_str (r, steal_pointer (&path));
      op->src_rel = keep_str (r, *srel ? sw_xstrdup (srel) : sw_xstrdup ("."));
      op->readonly = m->readonly;
      return 0;
    }
  struct stat st, top;
  if (stat_source_in_tree (r, tree, srel, &st, err) < 0)
    return sw_error_wrap (err, "--mount type=cache,from=%s,source=%s: not found", m->from, m->source);
  if (stat (tree[n - 1], &top) < 0)
    return sw_error_errno (err, "--mount type=cache,from=%s: %s", m->from, tree[n - 1]);
  cleanup_free char *upper = sw_xasprintf ("%s/upper", path);
  cleanup_free char *work = sw_xasprintf ("%s/work", path);
  if (mkdir (upper, 0755) == 0)
    {
      /* the merged root looks like the upper dir's: like the tree's root, as a copy would */
      if (chmod (upper, top.st_mode & 07777) < 0 || chown (upper, top.st_uid, top.st_gid) < 0)
        return sw_error_errno (err, "--mount type=cache,id=%s: %s", m->id, upper);
    }
  else if (errno != EEXIST)
    return sw_error_errno (err, "--mount type=cache,id=%s: %s", m->id, upper);
  if (mkdir (work, 0700) < 0 && errno != EEXIST)
    return sw_error_errno (err, "--mount type=cache,id=%s: %s", m->id, work);
  sw_op *op = add_op (r, SW_OP_BIND, rel, S_ISDIR (st.st_mode));
  op->src_lowers = keep_tree_top_first (r, tree);
  op->src_base = keep_str (r, steal_pointer (&path));
  op->src_rel = keep_str (r, *srel ? sw_xstrdup (srel) : sw_xstrdup ("."));
  op->readonly = m->readonly;
  return 0;
}

static int
add_mounts (sw_sandbox_run_state *r, sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const sw_df_run_mount *m = &s->mounts[i];
      const char *rel = m->target ? keep_str (r, clean_rel (m->target)) : NULL;
      if (rel && !*rel)
        return sw_error_make (err, EINVAL, "--mount target %s: cannot mount over /", m->target);
      if (!rel && m->type != SW_DF_MOUNT_SECRET)
        return sw_error_make (err, EINVAL, "--mount type=%s: no target", sw_df_mount_type_name (m->type));
      switch (m->type)
        {
        case SW_DF_MOUNT_BIND:
        case SW_DF_MOUNT_CACHE:
          {
            const char *const *tree = NULL;
            if (m->from)
              {
                tree = s->from_trees ? s->from_trees[i] : NULL;
                if (!tree)
                  return sw_error_make (err, ENOENT, "--mount from=%s: no such stage or context", m->from);
              }
            if ((m->type == SW_DF_MOUNT_BIND ? add_bind (r, m, rel, tree, err) : add_cache (r, m, rel, tree, err)) < 0)
              return -1;
            break;
          }
        case SW_DF_MOUNT_TMPFS:
          {
            sw_op *op = add_op (r, SW_OP_TMPFS, rel, true);
            op->data = m->size_limit > 0 ? keep_str (r, sw_xasprintf ("mode=1777,size=%llu", (unsigned long long) m->size_limit))
                               : "mode=1777";
            break;
          }
        case SW_DF_MOUNT_SECRET:
          {
            char *content = NULL;
            size_t clen = 0;
            if (secret_content (s, m->id, &content, &clen, err) < 0)
              return -1;
            if (!content)
              {
                if (m->required)
                  return sw_error_make (err, ENOENT, "secret %s: not found (pass it with --secret id=%s,src=FILE)",
                                        m->id, m->id);
                continue; /* an optional secret that is not given is simply absent */
              }
            if (m->env)
              {
                /* env=VAR: the value reaches the process's environment only; it is
                 * masked in the output like a file secret's */
                r->secret_env = sw_xreallocarray (r->secret_env, r->n_secret_env + 1,
                                                  sizeof *r->secret_env);
                r->secret_env[r->n_secret_env++] = sw_xasprintf ("%s=%.*s", m->env, (int) clen, content);
              }
            if (!rel)
              {
                free (content);
                continue;
              }
            sw_op *op = add_op (r, SW_OP_FILE, rel, false);
            op->content = keep_str (r, content);
            op->content_len = clen;
            op->secret = true;
            op->mode = (mode_t) m->mode;
            op->uid = (uid_t) m->uid;
            op->gid = (gid_t) m->gid;
            op->readonly = true;
            break;
          }
        case SW_DF_MOUNT_SSH:
          {
            const sw_ssh_src *src = NULL;
            for (size_t k = 0; k < s->n_ssh; k++)
              if (strcmp (s->ssh[k].id, m->id) == 0)
                src = &s->ssh[k];
            if (!src)
              {
                if (m->required)
                  return sw_error_make (err, ENOENT, "ssh %s: no agent forwarded (pass --ssh %s=SOCKET)",
                                        m->id, m->id);
                continue;
              }
            struct stat st;
            if (stat (src->socket, &st) < 0)
              return sw_error_errno (err, "ssh %s: agent socket %s", m->id, src->socket);
            if (!S_ISSOCK (st.st_mode))
              return sw_error_make (err, ENOTSUP, "ssh %s: %s is not a socket (keys are not supported yet: use an agent)",
                                    m->id, src->socket);
            sw_op *op = add_op (r, SW_OP_BIND, rel, false);
            op->src_base = keep_str (r, realpath (src->socket, NULL) ?: sw_xstrdup (src->socket));
            op->readonly = false;
            break;
          }
        }
    }
  return 0;
}

/* True when a secret's env= names the variable of KEY=VALUE. */
static bool
secret_env_has (const sw_sandbox_run_state *r, const char *kv)
{
  size_t klen = strcspn (kv, "=");
  for (size_t i = 0; i < r->n_secret_env; i++)
    if (strncmp (r->secret_env[i], kv, klen) == 0 && r->secret_env[i][klen] == '=')
      return true;
  return false;
}

static void
build_env (sw_sandbox_run_state *r)
{
  const sw_sandbox_spec *s = r->spec;
  size_t n = 0, cap = 8;
  const char *ssh_target = NULL;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].type == SW_DF_MOUNT_SSH && !ssh_target)
      for (size_t k = 0; k < s->n_ssh; k++)
        if (strcmp (s->ssh[k].id, s->mounts[i].id) == 0)
          ssh_target = s->mounts[i].target;
  for (size_t i = 0; s->env && s->env[i]; i++)
    cap++;
  cap += r->n_secret_env;
  free (r->envp);
  r->envp = sw_xcalloc (cap, sizeof (char *));
  /* a secret's env= wins over an ENV of the same name, as in BuildKit */
  for (size_t i = 0; i < r->n_secret_env; i++)
    r->envp[n++] = sw_xstrdup (r->secret_env[i]);
  for (size_t i = 0; s->env && s->env[i]; i++)
    if (!secret_env_has (r, s->env[i]))
      r->envp[n++] = sw_xstrdup (s->env[i]);
  if (!env_has (s->env, "PATH"))
    r->envp[n++] = sw_xstrdup ("PATH=" SW_DEFAULT_PATH);
  if (ssh_target && !env_has (s->env, "SSH_AUTH_SOCK"))
    r->envp[n++] = sw_xasprintf ("SSH_AUTH_SOCK=%s", ssh_target);
  if (!env_has (s->env, "HOME"))
    r->envp[n++] = sw_xasprintf ("HOME=%s", r->user.home && *r->user.home ? r->user.home : "/");
  r->plan.envp = r->envp;
}

int
sw_sandbox_run_prepare (sw_sandbox_run_state *r, sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  sw_sandbox_plan *p = &r->plan;
  const char *stubs;
  struct stat up, sc;
  size_t nl = 0;

  if (!s->state || !s->upper || !s->argv || !s->argv[0])
    return sw_error_make (err, EINVAL, "sandbox: state, upper and argv are required");
  if (sw_seccomp_default (sw_state_dir (s->state), &p->seccomp, err) < 0)
    return -1;
  if (sw_state_stubs (s->state, &stubs, err) < 0)
    return -1;

  r->workdir = s->workdir && *s->workdir ? clean_rel (s->workdir) : sw_xstrdup ("");
  p->workdir = keep_str (r, sw_xasprintf ("/%s", r->workdir));
  p->hostname = s->hostname && *s->hostname ? s->hostname : SW_DEFAULT_HOSTNAME;
  p->net_none = s->network == SW_NET_NONE;
  p->net_fd = -1;
  if (s->network == SW_NET_DEFAULT && sw_sandbox_net_fd (&p->net_fd, err) < 0)
    return -1;
  p->argv = s->argv;
  p->emu = s->emu;
  p->insecure = s->insecure;
  plan_limits (s, p);
  p->keep_caps = default_caps;
  p->masked_files = masked;
  {
    cleanup_file FILE *f = fopen ("/proc/sys/kernel/cap_last_cap", "re");
    p->last_cap = 40;
    if (!f || fscanf (f, "%d", &p->last_cap) != 1)
      p->last_cap = 40;
  }
  if (s->insecure)
    {
      /* BuildKit's security.insecure: a privileged container — every capability the
       * kernel knows, no seccomp, nothing masked */
      p->seccomp = NULL;
      p->masked_files = NULL;
      p->keep_caps = p->last_cap >= 63 ? ~0ULL : (1ULL << (p->last_cap + 1)) - 1;
      /* …that slipway itself holds (a container may run it with fewer) */
      struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
      struct __user_cap_data_struct d[2];
      if (syscall (SYS_capget, &hdr, d) == 0)
        p->keep_caps &= (uint64_t) d[0].permitted | (uint64_t) d[1].permitted << 32;
    }

  /* /etc files first, then the step's mounts (which may sit under them) */
  char *hosts = hosts_content (s, p->hostname, err);
  if (!hosts)
    return -1;
  file_op (r, "etc/hosts", hosts, 0644, 0, 0, false);
  file_op (r, "etc/resolv.conf", sw_sandbox_net_resolv (s->network), 0644, 0, 0, false);
  file_op (r, "etc/hostname", sw_xasprintf ("%s\n", p->hostname), 0644, 0, 0, false);
  size_t n_default_ops = r->n_ops;
  if (add_mounts (r, err) < 0)
    return -1;

  /* USER, from the rootfs's /etc/passwd and /etc/group as the snapshots make them */
  {
    sw_error *e = NULL;
    cleanup_free char *passwd = read_from_lowers (s, "etc/passwd", 16 << 20, &e);
    cleanup_free char *group = e ? NULL : read_from_lowers (s, "etc/group", 16 << 20, &e);
    if (e)
      {
        sw_error_move (err, &e);
        return -1;
      }
    if (sw_user_resolve (s->user ? s->user : "", passwd, group, &r->user, err) < 0)
      return -1;
    ensure_primary_gid (&r->user);
    if (r->user.ngroups > SW_MAX_GROUPS)
      return sw_error_make (err, E2BIG, "user %s: more than %d supplementary groups", s->user,
                            SW_MAX_GROUPS);
    p->uid = r->user.uid;
    p->gid = r->user.gid;
    p->ngroups = r->user.ngroups;
    p->groups = r->user.groups;
  }
  build_env (r);
  p->path_env = env_get (r->envp, "PATH");
  if (!p->path_env)
    p->path_env = SW_DEFAULT_PATH;

  /* scratch: the overlay's work dir, fresh, on the upper dir's filesystem; the mountpoint
   * and the staging dir are the session's (each step mounts them in its own namespace) */
  if (stat (s->upper, &up) < 0)
    return sw_error_errno (err, "upper dir %s", s->upper);
  if (!S_ISDIR (up.st_mode))
    return sw_error_make (err, ENOTDIR, "upper dir %s is not a directory", s->upper);
  if (stat (sw_state_session (s->state), &sc) < 0)
    return sw_error_errno (err, "session dir %s", sw_state_session (s->state));
  const char *work;
  if (sc.st_dev == up.st_dev)
    {
      if (sw_state_mkscratch (s->state, "w", &r->scratch, err) < 0)
        return -1;
      work = r->scratch;
    }
  else
    {
      cleanup_free char *copy = sw_xstrdup (s->upper);
      char *slash = strrchr (copy, '/');
      const char *parent = slash && slash != copy ? (*slash = 0, copy) : slash ? "/" : ".";
      r->workdir_outside = sw_xasprintf ("%s/.slipway-work-XXXXXX", parent);
      if (!mkdtemp (r->workdir_outside))
        {
          int e = sw_error_errno (err, "creating the overlay work dir beside %s", s->upper);
          free (r->workdir_outside);
          r->workdir_outside = NULL;
          return e;
        }
      work = r->workdir_outside;
    }
  if (sw_state_mountdirs (s->state, &p->merged, &p->staging, err) < 0)
    return -1;

  /* lower stack, top first; the stubs at the very bottom */
  for (nl = 0; s->lowers && s->lowers[nl]; nl++)
    ;
  r->lowers = sw_xcalloc (nl + 3, sizeof (char *));
  size_t k = 0;
  for (size_t i = nl; i-- > 0;)
    {
      struct stat ls;
      if (stat (s->lowers[i], &ls) < 0 || !S_ISDIR (ls.st_mode))
        return sw_error_make (err, errno ? errno : ENOTDIR, "lower dir %s: %s", s->lowers[i],
                              errno ? strerror (errno) : "not a directory");
      r->lowers[k++] = s->lowers[i];
    }
  if (r->n_ops > n_default_ops)
    {
      if (sw_state_mkscratch (s->state, "stubs", &r->step_stubs, err) < 0)
        return -1;
      if (make_step_stubs (r, r->step_stubs, err) < 0)
        return -1;
      r->lowers[k++] = r->step_stubs;
    }
  r->lowers[k++] = stubs;
  p->lowers = r->lowers;
  /* overlayfs shows the upper dir's own mode and owner as the rootfs's "/": give it those
   * of the top snapshot's root (0755 root for an empty stack), as a copy-up would */
  {
    struct stat top;
    if (stat (r->lowers[0], &top) < 0)
      return sw_error_errno (err, "lower dir %s", r->lowers[0]);
    if (nl == 0)
      top.st_mode = S_IFDIR | 0755, top.st_uid = 0, top.st_gid = 0;
    if ((up.st_mode & 07777) != (top.st_mode & 07777) && chmod (s->upper, top.st_mode & 07777) < 0)
      return sw_error_errno (err, "setting the mode of upper dir %s", s->upper);
    if ((up.st_uid != top.st_uid || up.st_gid != top.st_gid) && chown (s->upper, top.st_uid, top.st_gid) < 0)
      return sw_error_errno (err, "setting the owner of upper dir %s", s->upper);
  }
  p->upper = s->upper;
  p->work = work;
  p->ops = r->ops;
  p->n_ops = r->n_ops;
  return 0;
}

