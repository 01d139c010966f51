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
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/seccomp.h"
#include "sandbox/user.h"

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
      char chunk[8192];
      for (;;)
        {
          ssize_t r = read (fd, chunk, sizeof chunk);
          if (r < 0 && errno == EINTR)
            continue;
          if (r < 0 || b.len + (size_t) (r > 0 ? r : 0) > max)
            {
              sw_buf_free (&b);
              if (r < 0)
                sw_error_errno (err, "reading /%s of the rootfs in %s", rel, s->lowers[i]);
              else
                sw_error_make (err, EFBIG, "/%s of the rootfs is larger than %zu bytes", rel, max);
              return NULL;
            }
          if (r == 0)
            break;
          sw_buf_append (&b, chunk, (size_t) r);
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

static char *
resolv_content (void)
{
  cleanup_free char *c = NULL;
  cleanup_file FILE *f = fopen ("/etc/resolv.conf", "re");
  if (f)
    {
      sw_buf b = SW_BUF_INIT;
      char chunk[4096];
      size_t n;
      while ((n = fread (chunk, 1, sizeof chunk, f)) > 0 && b.len < (1 << 20))
        sw_buf_append (&b, chunk, n);
      return sw_buf_steal (&b);
    }
  /* BuildKit's fallback when the host has none */
  return sw_xstrdup ("nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\n"
                     "nameserver 2001:4860:4860::8844\n");
}

static void
file_op (sw_sandbox_run_state *r, const char *rel, char *content, mode_t mode, uid_t uid, gid_t gid, bool ro)
{
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

static int
add_mounts (sw_sandbox_run_state *r, sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  for (size_t i = 0; i < s->n_mounts; i++)
    {
      const sw_mount *m = &s->mounts[i];
      const char *rel = keep_str (r, clean_rel (m->target));
      if (!*rel)
        return sw_error_make (err, EINVAL, "--mount target %s: cannot mount over /", m->target);
      switch (m->type)
        {
        case SW_MOUNT_BIND:
          {
            const char *base = m->from && s->from_dir ? s->from_dir (m->from, s->userdata) : NULL;
            if (m->from && !base)
              return sw_error_make (err, ENOENT, "--mount from=%s: no such stage or context", m->from);
            if (!base)
              base = s->context_dir ? s->context_dir : ".";
            cleanup_close int bfd = open (base, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (bfd < 0)
              return sw_error_errno (err, "--mount type=bind: opening %s", base);
            cleanup_free char *srel = clean_rel (m->source);
            int fd = sw_openat2 (bfd, *srel ? srel : ".", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
            if (fd < 0)
              return sw_error_errno (err, "--mount type=bind,source=%s: not found in %s", m->source,
                                     m->from ? m->from : "the build context");
            keep_fd (r, fd);
            struct stat st;
            if (fstat (fd, &st) < 0)
              return sw_error_errno (err, "--mount type=bind,source=%s", m->source);
            sw_op *op = add_op (r, SW_OP_BIND, rel, S_ISDIR (st.st_mode));
            op->src_base = keep_str (r, realpath (base, NULL) ?: sw_xstrdup (base));
            op->src_rel = keep_str (r, *srel ? sw_xstrdup (srel) : sw_xstrdup ("."));
            op->readonly = m->readonly;
            op->discard_writes = !m->readonly; /* BuildKit: rw bind writes are discarded */
            break;
          }
        case SW_MOUNT_CACHE:
          {
            cleanup_free char *path = NULL;
            int lockfd = -1;
            if (sw_state_cache_dir (s->state, m->id, m->sharing, m->uid, m->gid, m->mode, &path,
                                    &lockfd, err) < 0)
              return sw_error_wrap (err, "--mount type=cache,id=%s", m->id);
            if (lockfd >= 0)
              keep_fd (r, lockfd);
            sw_op *op = add_op (r, SW_OP_BIND, rel, true);
            op->src_base = keep_str (r, steal_pointer (&path));
            op->readonly = m->readonly;
            break;
          }
        case SW_MOUNT_TMPFS:
          {
            sw_op *op = add_op (r, SW_OP_TMPFS, rel, true);
            op->data = m->size ? keep_str (r, sw_xasprintf ("mode=1777,size=%llu", (unsigned long long) m->size))
                               : "mode=1777";
            break;
          }
        case SW_MOUNT_SECRET:
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
            sw_op *op = add_op (r, SW_OP_FILE, rel, false);
            op->content = keep_str (r, content);
            op->content_len = clen;
            op->secret = true;
            op->mode = m->mode;
            op->uid = m->uid;
            op->gid = m->gid;
            op->readonly = true;
            break;
          }
        case SW_MOUNT_SSH:
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

static void
build_env (sw_sandbox_run_state *r)
{
  const sw_sandbox_spec *s = r->spec;
  size_t n = 0, cap = 8;
  const char *ssh_target = NULL;
  for (size_t i = 0; i < s->n_mounts; i++)
    if (s->mounts[i].type == SW_MOUNT_SSH && !ssh_target)
      for (size_t k = 0; k < s->n_ssh; k++)
        if (strcmp (s->ssh[k].id, s->mounts[i].id) == 0)
          ssh_target = s->mounts[i].target;
  for (size_t i = 0; s->env && s->env[i]; i++)
    cap++;
  free (r->envp);
  r->envp = sw_xcalloc (cap, sizeof (char *));
  for (size_t i = 0; s->env && s->env[i]; i++)
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
  p->argv = s->argv;
  p->emu = s->emu;
  plan_limits (s, p);
  p->keep_caps = default_caps;
  p->masked_files = masked;
  {
    cleanup_file FILE *f = fopen ("/proc/sys/kernel/cap_last_cap", "re");
    p->last_cap = 40;
    if (!f || fscanf (f, "%d", &p->last_cap) != 1)
      p->last_cap = 40;
  }

  /* /etc files first, then the step's mounts (which may sit under them) */
  char *hosts = hosts_content (s, p->hostname, err);
  if (!hosts)
    return -1;
  file_op (r, "etc/hosts", hosts, 0644, 0, 0, false);
  file_op (r, "etc/resolv.conf", resolv_content (), 0644, 0, 0, false);
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

