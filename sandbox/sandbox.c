/* sandbox/sandbox.c — the sandbox's parent side: clone, output, exit status, cancellation.
 * The contract is in sandbox.h; the plan is made in sandbox_plan.c, carried out by the
 * child in sandbox_child.c. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_child.h"
#include "sandbox/sandbox_int.h"

#define SW_LINE_MAX 65536

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

void
sw_sandbox_cancel_reset (void)
{
  char buf[64];
  pthread_once (&cancel_once, cancel_init);
  while (cancel_pipe[0] >= 0 && read (cancel_pipe[0], buf, sizeof buf) > 0)
    ;
  cancelled = 0;
}

bool
sw_sandbox_cancelled (void)
{
  return cancelled != 0;
}

void
sw_sandbox_stop_init (sw_sandbox_stop *s)
{
  atomic_init (&s->requested, 0);
  if (pipe2 (s->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    s->pipe[0] = s->pipe[1] = -1;
}

void
sw_sandbox_stop_request (sw_sandbox_stop *s)
{
  int saved = errno;
  atomic_store (&s->requested, 1);
  if (s->pipe[1] >= 0)
    {
      ssize_t r = write (s->pipe[1], "x", 1); /* never read: every waiter sees it */
      (void) r;
    }
  errno = saved;
}

bool
sw_sandbox_stop_requested (const sw_sandbox_stop *s)
{
  return s && atomic_load (&((sw_sandbox_stop *) s)->requested) != 0;
}

void
sw_sandbox_stop_destroy (sw_sandbox_stop *s)
{
  for (int i = 0; i < 2; i++)
    if (s->pipe[i] >= 0)
      close (s->pipe[i]), s->pipe[i] = -1;
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

/* ---- talking to the child ---- */

/* A secret never reaches a log: its value, and each of its lines long enough to mean
 * something, are masked in the step's output (as CI systems mask registered secrets). */
#define SW_SECRET_MIN 4
#define SW_MASK "****"

static void
add_needle (sw_sandbox_run_state *r, const char *p, size_t n)
{
  while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  while (n > 0 && (*p == ' ' || *p == '\t'))
    p++, n--;
  if (n < SW_SECRET_MIN)
    return;
  r->needles = sw_xreallocarray (r->needles, r->n_needles + 1, sizeof *r->needles);
  r->needles[r->n_needles++] = sw_xstrndup (p, n);
}

static void
collect_needles (sw_sandbox_run_state *r)
{
  for (size_t i = 0; i < r->n_secret_env; i++)
    {
      const char *v = strchr (r->secret_env[i], '=') + 1;
      add_needle (r, v, strlen (v));
    }
  for (size_t i = 0; i < r->n_ops; i++)
    {
      const sw_op *op = &r->ops[i];
      if (!op->secret)
        continue;
      add_needle (r, op->content, op->content_len);
      const char *c = op->content, *end = op->content + op->content_len;
      while (c < end)
        {
          const char *nl = memchr (c, '\n', (size_t) (end - c));
          size_t len = nl ? (size_t) (nl - c) : (size_t) (end - c);
          if (len != op->content_len)
            add_needle (r, c, len);
          c += len + 1;
        }
    }
}

static void
output_line (sw_sandbox_run_state *r, int stream, const char *line, size_t len)
{
  const sw_sandbox_spec *s = r->spec;
  if (!s->output)
    return;
  if (r->n_needles == 0)
    {
      s->output (stream, line, len, s->userdata);
      return;
    }
  sw_buf o = SW_BUF_INIT;
  for (size_t i = 0; i < len;)
    {
      size_t best = 0;
      for (size_t k = 0; k < r->n_needles; k++)
        {
          size_t nl = strlen (r->needles[k]);
          if (nl > best && nl <= len - i && memcmp (line + i, r->needles[k], nl) == 0)
            best = nl;
        }
      if (best)
        sw_buf_puts (&o, SW_MASK), i += best;
      else
        sw_buf_append (&o, line + i, 1), i++;
    }
  s->output (stream, o.data ? o.data : "", o.len, s->userdata);
  sw_buf_free (&o);
}

static void
emit (sw_sandbox_run_state *r, int stream, const char *data, size_t n, bool eof)
{
  sw_buf *b = &r->line[stream];
  sw_buf_append (b, data, n);
  size_t start = 0;
  for (size_t i = 0; i < b->len; i++)
    if (b->data[i] == '\n' || i - start + 1 >= SW_LINE_MAX)
      {
        size_t len = i - start + (b->data[i] == '\n' ? 0 : 1);
        output_line (r, stream, b->data + start, len);
        start = i + 1;
      }
  if (eof && start < b->len)
    {
      output_line (r, stream, b->data + start, b->len - start);
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
remove_upper_stubs (sw_sandbox_run_state *r)
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
          cleanup_close int dfd = slash ? sw_openat2 (ufd, p, O_PATH | O_DIRECTORY,
                                                      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
                                        : fcntl (ufd, F_DUPFD_CLOEXEC, 0);
          if (dfd < 0 || fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            break;
          if (slash)
            *slash = '/';
          for (size_t i = 0; s->lowers && s->lowers[i] && !in_lower; i++)
            {
              cleanup_close int lfd = open (s->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
              struct stat ls;
              int fd = lfd >= 0 ? sw_openat2 (lfd, p, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) : -1;
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
  sw_sandbox_run_state r;
  int sv[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
  char *cg_dir = NULL; /* the step's own cgroup, with --cgroup-parent */
  int cg_fd = -1;
  int ret = -1, status = -1;
  bool exec_failed = false, setup_failed = false;
  sw_child_msg msg;

  *exit_code = -1;
  memset (&r, 0, sizeof r);
  r.spec = spec;
  r.pidfd = r.sync_fd = r.out_rd = r.err_rd = -1;
  r.pid = -1;
  pthread_once (&cancel_once, cancel_init);
  if (cancelled || sw_sandbox_stop_requested (spec->stop))
    return sw_error_make (err, ECANCELED, "cancelled");
  if (sw_sandbox_run_prepare (&r, err) < 0)
    goto out;
  collect_needles (&r);

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2 (outp, O_CLOEXEC) < 0
      || pipe2 (errp, O_CLOEXEC) < 0)
    {
      sw_error_errno (err, "creating the step's pipes");
      goto out_fds;
    }
  r.plan.sync_fd = sv[1];
  r.plan.out_fd = outp[1];
  r.plan.err_fd = errp[1];

  if (spec->cgroup_parent
      && sw_cgroup_step_create (spec->cgroup_parent, &spec->cgroup_limits, &cg_dir, &cg_fd, err) < 0)
    goto out_fds;
  struct clone_args ca;
  memset (&ca, 0, sizeof ca);
  ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD
             | (spec->network == SW_NET_NONE ? CLONE_NEWNET : 0);
  /* SW_NET_DEFAULT: the child joins the own network (r.plan.net_fd) */
  if (cg_fd >= 0)
    {
      /* born in the step's cgroup, with a cgroup namespace so the parent's name stays hidden */
      ca.flags |= CLONE_INTO_CGROUP | CLONE_NEWCGROUP;
      ca.cgroup = (uint64_t) cg_fd;
    }
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
    struct pollfd pf[6];
    bool out_open = true, err_open = true, sync_open = true, exited = false;
    struct timespec drain_start = { 0, 0 };
    char buf[65536];
    while (out_open || err_open || sync_open || !exited)
      {
        int k = 0, i_out = -1, i_err = -1, i_sync = -1, i_pid = -1, i_cancel = -1, i_stop = -1;
        int timeout = exited ? 200 : -1;
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
        if (spec->stop && spec->stop->pipe[0] >= 0)
          pf[i_stop = k++] = (struct pollfd){ spec->stop->pipe[0], POLLIN, 0 };
        else if (spec->stop)
          timeout = 200;
        int pr = poll (pf, (nfds_t) k, timeout);
        if (pr < 0 && errno != EINTR)
          {
            sw_error_errno (err, "waiting for the step");
            goto cancel;
          }
        if (cancelled || (i_cancel >= 0 && pf[i_cancel].revents) || sw_sandbox_stop_requested (spec->stop)
            || (i_stop >= 0 && pf[i_stop].revents))
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
                    const char *hint = "";
                    if (strstr (msg.text, "overlay") && msg.err == ENODEV)
                      hint = " (the kernel has no overlayfs: modprobe overlay)";
                    else if (strstr (msg.text, "overlay") && msg.err == EINVAL)
                      hint = " (the upper dir and the state dir must be on a filesystem overlayfs"
                             " can write to — ext4, xfs, btrfs, tmpfs — and no lower dir may be"
                             " the upper dir of a running step)";
                    sw_error_make (err, msg.err, "setting up the step's process: %s: %s%s", msg.text,
                                   strerror (msg.err), hint);
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
      sw_error_set_category (err, SW_ERR_STEP);
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
  sw_cgroup_step_remove (cg_dir, cg_fd);
  if (*exit_code >= 0 || exec_failed)
    remove_upper_stubs (&r);
out:
  sw_sandbox_run_free (&r);
  return ret;
}

