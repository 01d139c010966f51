/* exec/sandbox.c — the sandbox's parent side: plan, clone, handshake, output, cleanup.
 * The contract is in sandbox.h; the child side in sandbox_child.c. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "exec/sandbox.h"
#include "exec/sandbox_child.h"
#include "exec/sandbox_int.h"
#include "exec/seccomp.h"
#include "exec/user.h"

#define SW_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SW_DEFAULT_HOSTNAME "buildkitsandbox"
#define SW_LINE_MAX 65536

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

/* ---- cancellation ---- */

static int cancel_pipe[2] = { -1, -1 };
static volatile sig_atomic_t cancelled;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;

static void
cancel_init (void)
{
  if (pipe2 (cancel_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    cancel_pipe[0] = cancel_pipe[1] = -1;
}

void
sw_sandbox_cancel (void)
{
  int saved = errno;
  cancelled = 1;
  if (cancel_pipe[1] >= 0)
    {
      ssize_t r = write (cancel_pipe[1], "x", 1);
      (void) r;
    }
  errno = saved;
}

bool
sw_sandbox_cancelled (void)
{
  return cancelled != 0;
}

/* ---- small helpers ---- */

int
sw_net_mode_parse (const char *s, sw_net_mode *out, sw_error **err)
{
  if (!s || !*s || strcmp (s, "default") == 0)
    *out = SW_NET_DEFAULT;
  else if (strcmp (s, "none") == 0)
    *out = SW_NET_NONE;
  else if (strcmp (s, "host") == 0)
    *out = SW_NET_HOST;
  else
    return sw_error_make (err, EINVAL, "invalid network mode \"%s\": want default, none or host", s);
  return 0;
}

/* Go's %q of strings.Join(argv, " "), which BuildKit's message uses. */
char *
sw_sandbox_describe_argv (const char *const *argv)
{
  sw_buf b = SW_BUF_INIT;
  sw_buf_putc (&b, '"');
  for (size_t i = 0; argv && argv[i]; i++)
    {
      if (i)
        sw_buf_putc (&b, ' ');
      for (const unsigned char *c = (const unsigned char *) argv[i]; *c; c++)
        switch (*c)
          {
          case '"': sw_buf_puts (&b, "\\\""); break;
          case '\\': sw_buf_puts (&b, "\\\\"); break;
          case '\n': sw_buf_puts (&b, "\\n"); break;
          case '\t': sw_buf_puts (&b, "\\t"); break;
          case '\r': sw_buf_puts (&b, "\\r"); break;
          default:
            if (*c < 0x20 || *c == 0x7f)
              sw_buf_printf (&b, "\\x%02x", *c);
            else
              sw_buf_putc (&b, (char) *c);
          }
    }
  sw_buf_putc (&b, '"');
  return sw_buf_steal (&b);
}

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

static int
openat2_in (int dirfd, const char *rel, int flags, uint64_t resolve)
{
  struct open_how how;
  memset (&how, 0, sizeof how);
  how.flags = (uint64_t) (flags | O_CLOEXEC);
  how.resolve = resolve;
  int fd;
  do
    fd = (int) syscall (SYS_openat2, dirfd, rel, &how, sizeof how);
  while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  return fd;
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
          int fd = openat2_in (lfd, prefix, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
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
        int fd = openat2_in (lfd, rel, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
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
      cleanup_close int fd = openat2_in (lfd, rel, O_RDONLY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
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

typedef struct run
{
  const sw_sandbox_spec *spec;
  sw_plan plan;
  char *scratch;    /* this step's overlay work dir */
  char *step_stubs; /* this step's stub layer, when its mounts need one */
  char *workdir_outside; /* a work dir made beside the upper dir (other filesystem) */
  int *fds;              /* everything opened for the child */
  size_t n_fds;
  sw_op *ops;
  size_t n_ops;
  char **strings; /* owned strings the ops point to */
  size_t n_strings;
  char **envp;
  const char **lowers;
  char **stub_targets; /* rootfs-relative mountpoints, for the post-run check */
  size_t n_stub_targets;
  char *workdir;
  sw_user user;
  pid_t pid;
  int pidfd;
  int sync_fd;
  int out_rd, err_rd;
  sw_buf line[3];
} run;

static int
keep_fd (run *r, int fd)
{
  r->fds = sw_xreallocarray (r->fds, r->n_fds + 1, sizeof *r->fds);
  r->fds[r->n_fds++] = fd;
  return fd;
}

static const char *
keep_str (run *r, char *s)
{
  r->strings = sw_xreallocarray (r->strings, r->n_strings + 1, sizeof *r->strings);
  r->strings[r->n_strings++] = s;
  return s;
}

static sw_op *
add_op (run *r, sw_op_kind kind, const char *target_rel, bool is_dir)
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

static void
run_free (run *r)
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
file_op (run *r, const char *rel, char *content, mode_t mode, uid_t uid, gid_t gid, bool ro)
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
make_step_stubs (run *r, const char *dir, sw_error **err)
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
add_mounts (run *r, sw_error **err)
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
            int fd = openat2_in (bfd, *srel ? srel : ".", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
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
build_env (run *r)
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

static int
prepare (run *r, sw_error **err)
{
  const sw_sandbox_spec *s = r->spec;
  sw_plan *p = &r->plan;
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

/* ---- talking to the child ---- */

static void
emit (run *r, int stream, const char *data, size_t n, bool eof)
{
  sw_buf *b = &r->line[stream];
  const sw_sandbox_spec *s = r->spec;
  sw_buf_append (b, data, n);
  size_t start = 0;
  for (size_t i = 0; i < b->len; i++)
    if (b->data[i] == '\n' || i - start + 1 >= SW_LINE_MAX)
      {
        size_t len = i - start + (b->data[i] == '\n' ? 0 : 1);
        if (s->output)
          s->output (stream, b->data + start, len, s->userdata);
        start = i + 1;
      }
  if (eof && start < b->len)
    {
      if (s->output)
        s->output (stream, b->data + start, b->len - start, s->userdata);
      start = b->len;
    }
  if (start > 0)
    {
      memmove (b->data, b->data + start, b->len - start);
      sw_buf_truncate (b, b->len - start);
    }
}

/* Remove mountpoint stubs that had to be made in the upper dir (a layer hid the stub
 * layer's): an empty file or dir at a mount target, or its parents, that no lower has. */
static void
remove_upper_stubs (run *r)
{
  const sw_sandbox_spec *s = r->spec;
  static const char *const fixed[] = { "dev", "proc", "sys", NULL };
  cleanup_close int ufd = open (s->upper, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (ufd < 0)
    return;
  size_t nfix = 3;
  for (size_t t = 0; t < nfix + r->n_stub_targets; t++)
    {
      cleanup_free char *p = sw_xstrdup (t < nfix ? fixed[t] : r->stub_targets[t - nfix]);
      for (;;)
        {
          struct stat st;
          bool in_lower = false;
          char *slash = strrchr (p, '/');
          const char *name = slash ? slash + 1 : p;
          if (slash)
            *slash = 0;
          cleanup_close int dfd = slash ? openat2_in (ufd, p, O_PATH | O_DIRECTORY,
                                                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
                                        : dup (ufd);
          if (dfd < 0 || fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            break;
          if (slash)
            *slash = '/';
          for (size_t i = 0; s->lowers && s->lowers[i] && !in_lower; i++)
            {
              cleanup_close int lfd = open (s->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
              struct stat ls;
              int fd = lfd >= 0 ? openat2_in (lfd, p, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) : -1;
              if (fd >= 0 || (lfd >= 0 && fstatat (lfd, p, &ls, AT_SYMLINK_NOFOLLOW) == 0))
                in_lower = true;
              if (fd >= 0)
                close (fd);
            }
          if (in_lower)
            break;
          if (S_ISREG (st.st_mode) && st.st_size == 0)
            {
              if (unlinkat (dfd, name, 0) < 0)
                break;
            }
          else if (S_ISDIR (st.st_mode))
            {
              if (unlinkat (dfd, name, AT_REMOVEDIR) < 0)
                break; /* not empty: the step put something there */
            }
          else
            break;
          sw_debug ("sandbox: removed mountpoint stub /%s from the upper dir", p);
          slash = strrchr (p, '/');
          if (!slash)
            break;
          *slash = 0;
        }
    }
}

int
sw_sandbox_run (const sw_sandbox_spec *spec, int *exit_code, sw_error **err)
{
  run r;
  int sv[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
  int ret = -1, status = -1;
  bool exec_failed = false, setup_failed = false;
  sw_child_msg msg;

  *exit_code = -1;
  memset (&r, 0, sizeof r);
  r.spec = spec;
  r.pidfd = r.sync_fd = r.out_rd = r.err_rd = -1;
  r.pid = -1;
  pthread_once (&cancel_once, cancel_init);
  if (cancelled)
    return sw_error_make (err, ECANCELED, "cancelled");
  if (prepare (&r, err) < 0)
    goto out;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2 (outp, O_CLOEXEC) < 0
      || pipe2 (errp, O_CLOEXEC) < 0)
    {
      sw_error_errno (err, "creating the step's pipes");
      goto out_fds;
    }
  r.plan.sync_fd = sv[1];
  r.plan.out_fd = outp[1];
  r.plan.err_fd = errp[1];

  struct clone_args ca;
  memset (&ca, 0, sizeof ca);
  ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD
             | (spec->network == SW_NET_NONE ? CLONE_NEWNET : 0);
  ca.pidfd = (uint64_t) (uintptr_t) &r.pidfd;
  ca.exit_signal = SIGCHLD;
  long pid = syscall (SYS_clone3, &ca, sizeof ca);
  if (pid == 0)
    sw_sandbox_child (&r.plan);
  if (pid < 0)
    {
      sw_error_errno (err, "creating the step's namespaces (clone3; slipway must run as root)");
      goto out_fds;
    }
  r.pid = (pid_t) pid;
  r.sync_fd = sv[0], sv[0] = -1;
  r.out_rd = outp[0], outp[0] = -1;
  r.err_rd = errp[0], errp[0] = -1;
  close (sv[1]), sv[1] = -1;
  close (outp[1]), outp[1] = -1;
  close (errp[1]), errp[1] = -1;

  /* run phase: stream output until the step's init exits and the pipes close */
  {
    struct pollfd pf[5];
    bool out_open = true, err_open = true, sync_open = true, exited = false;
    struct timespec drain_start = { 0, 0 };
    char buf[65536];
    while (out_open || err_open || sync_open || !exited)
      {
        int k = 0, i_out = -1, i_err = -1, i_sync = -1, i_pid = -1, i_cancel = -1;
        if (out_open)
          pf[i_out = k++] = (struct pollfd){ r.out_rd, POLLIN, 0 };
        if (err_open)
          pf[i_err = k++] = (struct pollfd){ r.err_rd, POLLIN, 0 };
        if (sync_open)
          pf[i_sync = k++] = (struct pollfd){ r.sync_fd, POLLIN, 0 };
        if (!exited)
          pf[i_pid = k++] = (struct pollfd){ r.pidfd, POLLIN, 0 };
        if (cancel_pipe[0] >= 0)
          pf[i_cancel = k++] = (struct pollfd){ cancel_pipe[0], POLLIN, 0 };
        int pr = poll (pf, (nfds_t) k, exited ? 200 : -1);
        if (pr < 0 && errno != EINTR)
          {
            sw_error_errno (err, "waiting for the step");
            goto cancel;
          }
        if (cancelled || (i_cancel >= 0 && pf[i_cancel].revents))
          goto cancel;
        if (pr == 0 && exited)
          {
            /* a process that escaped with the pipe (it cannot leave the PID namespace, but
             * could pass the fd): do not wait for it forever */
            struct timespec now;
            clock_gettime (CLOCK_MONOTONIC, &now);
            if (now.tv_sec - drain_start.tv_sec >= 2)
              break;
            continue;
          }
        if (pr <= 0)
          continue;
        if (i_out >= 0 && pf[i_out].revents)
          {
            ssize_t rn = read (r.out_rd, buf, sizeof buf);
            if (rn > 0)
              emit (&r, 1, buf, (size_t) rn, false);
            else if (rn == 0 || errno != EINTR)
              out_open = false, emit (&r, 1, "", 0, true);
          }
        if (i_err >= 0 && pf[i_err].revents)
          {
            ssize_t rn = read (r.err_rd, buf, sizeof buf);
            if (rn > 0)
              emit (&r, 2, buf, (size_t) rn, false);
            else if (rn == 0 || errno != EINTR)
              err_open = false, emit (&r, 2, "", 0, true);
          }
        if (i_sync >= 0 && pf[i_sync].revents)
          {
            ssize_t rn = recv (r.sync_fd, &msg, sizeof msg, MSG_WAITALL);
            if (rn == (ssize_t) sizeof msg && (msg.kind == SW_MSG_EXEC || msg.kind == SW_MSG_ERROR))
              {
                msg.text[sizeof msg.text - 1] = 0;
                if (msg.kind == SW_MSG_EXEC)
                  {
                    exec_failed = true;
                    sw_error_make (err, msg.err, "%s: %s", msg.text,
                                   strstr (msg.text, "$PATH") || strstr (msg.text, "denied")
                                     ? "cannot run the command"
                                     : strerror (msg.err));
                  }
                else
                  {
                    setup_failed = true;
                    sw_error_make (err, msg.err, "setting up the step's process: %s: %s", msg.text,
                                   strerror (msg.err));
                  }
              }
            else
              sync_open = false; /* EOF: the command was executed */
          }
        if (i_pid >= 0 && pf[i_pid].revents)
          {
            siginfo_t si;
            memset (&si, 0, sizeof si);
            if (waitid (P_PIDFD, (id_t) r.pidfd, &si, WEXITED) == 0)
              {
                status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
                exited = true;
                r.pid = -1;
                clock_gettime (CLOCK_MONOTONIC, &drain_start);
              }
          }
      }
  }
  if (exec_failed || setup_failed)
    goto out_fds;
  *exit_code = status;
  if (status != 0)
    {
      cleanup_free char *d = sw_sandbox_describe_argv (spec->argv);
      sw_error_make (err, 0, "process %s did not complete successfully: exit code: %d", d, status);
      goto out_fds;
    }
  ret = 0;
  goto out_fds;

cancel:
  if (r.pidfd >= 0)
    syscall (SYS_pidfd_send_signal, r.pidfd, SIGKILL, NULL, 0);
  if (err && !*err)
    sw_error_make (err, ECANCELED, "cancelled");
out_fds:
  for (int i = 0; i < 2; i++)
    {
      if (sv[i] >= 0)
        close (sv[i]);
      if (outp[i] >= 0)
        close (outp[i]);
      if (errp[i] >= 0)
        close (errp[i]);
    }
  if (r.pid > 0)
    {
      syscall (SYS_pidfd_send_signal, r.pidfd, SIGKILL, NULL, 0);
      siginfo_t si;
      while (waitid (P_PIDFD, (id_t) r.pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    }
  if (*exit_code >= 0 || exec_failed)
    remove_upper_stubs (&r);
out:
  run_free (&r);
  return ret;
}
