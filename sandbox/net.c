/* sandbox/net.c — the RUN steps' own network namespace and its pasta (see net.h).
 *
 * The pieces, made the first time a step needs the network:
 *   keeper  forked from slipway, root: starts the holder and pasta, then waits for
 *           slipway's end (its pidfd, or EOF on a pipe only slipway holds), kills pasta
 *           and reaps it and the holder (it is their subreaper: the daemonized pasta is
 *           its child, not init's, which may never reap it).
 *   holder  the keeper's child: becomes nobody, unshares a user namespace (owned by
 *           nobody) and a network namespace owned by it, brings lo up, says so, and lives
 *           as long as the keeper.
 *   pasta   started by the keeper with the holder's user and network namespaces as
 *           inherited fds (/proc/self/fd/N: pasta drops to nobody before it opens them,
 *           and another process's /proc/PID/ns files would then be out of its reach);
 *           it joins them (it owns them, as nobody), configures the tap interface
 *           (--config-net) and goes to the background once the namespace works: the
 *           process we started exiting 0 means ready.
 *   netfd   slipway's fd of the namespace; each step's child setns()es into it.
 */
#include <errno.h>
#include <linux/close_range.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
#include "sandbox/net.h"

#define NOBODY 65534
/* Where the step sends DNS when the host has only a loopback resolver: pasta forwards
 * queries to this address to the host's resolver (a link-local address no network uses). */
#define DNS_FORWARD_ADDR "169.254.1.1"

static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;
static int net_fd = -1;

/* ---- DNS ---- */

static bool
is_loopback_ns (const char *addr)
{
  return strncmp (addr, "127.", 4) == 0 || strcmp (addr, "::1") == 0 || strcmp (addr, "0.0.0.0") == 0
         || strcmp (addr, "::") == 0;
}

/* FILE's content with its loopback nameserver lines dropped; *n_ns counts those kept.
 * NULL when the file cannot be read. */
static char *
resolv_without_loopback (const char *file, int *n_ns)
{
  cleanup_file FILE *f = fopen (file, "re");
  *n_ns = 0;
  if (!f)
    return NULL;
  sw_buf b = SW_BUF_INIT;
  char line[1024];
  while (fgets (line, sizeof line, f) && b.len < (1 << 20))
    {
      char addr[256];
      if (sscanf (line, " nameserver %255s", addr) == 1)
        {
          if (is_loopback_ns (addr))
            continue;
          (*n_ns)++;
        }
      sw_buf_puts (&b, line);
    }
  return sw_buf_steal (&b);
}

static char *
read_text (const char *file)
{
  cleanup_file FILE *f = fopen (file, "re");
  if (!f)
    return NULL;
  sw_buf b = SW_BUF_INIT;
  char chunk[4096];
  size_t n;
  while ((n = fread (chunk, 1, sizeof chunk, f)) > 0 && b.len < (1 << 20))
    sw_buf_append (&b, chunk, n);
  return sw_buf_steal (&b);
}

/* The own network's resolv.conf; *forward set when pasta must forward DNS for it. */
static char *
own_resolv (bool *forward)
{
  int n = 0;
  *forward = false;
  char *c = resolv_without_loopback ("/etc/resolv.conf", &n);
  if (c && n > 0)
    return c;
  free (c);
  c = resolv_without_loopback ("/run/systemd/resolve/resolv.conf", &n);
  if (c && n > 0)
    return c;
  free (c);
  if (access ("/etc/resolv.conf", F_OK) < 0)
    /* BuildKit's fallback when the host has none */
    return sw_xstrdup ("nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\n"
                       "nameserver 2001:4860:4860::8844\n");
  *forward = true;
  return sw_xstrdup ("nameserver " DNS_FORWARD_ADDR "\n");
}

char *
sw_sandbox_net_resolv (sw_net_mode mode)
{
  if (mode == SW_NET_DEFAULT)
    {
      bool fwd;
      return own_resolv (&fwd);
    }
  char *c = read_text ("/etc/resolv.conf");
  if (c)
    return c;
  return sw_xstrdup ("nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\n"
                     "nameserver 2001:4860:4860::8844\n");
}

/* ---- the keeper ---- */

static int
write_all (int fd, const void *p, size_t n)
{
  const char *c = p;
  while (n)
    {
      ssize_t w = write (fd, c, n);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0)
        return -1;
      c += w;
      n -= (size_t) w;
    }
  return 0;
}

static int
read_all (int fd, void *p, size_t n)
{
  char *c = p;
  while (n)
    {
      ssize_t r = read (fd, c, n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return -1;
      c += r;
      n -= (size_t) r;
    }
  return 0;
}

typedef struct keeper_report
{
  int err;       /* 0, or the errno of what failed */
  int step;      /* what failed: 1 namespaces, 2 starting pasta, 3 pasta failed */
  int status;    /* pasta's wait status (step 3) */
  pid_t holder;  /* the holder, in the namespaces */
  pid_t pasta;   /* pasta in the background */
} keeper_report;

/* The holder: nobody, in a new user namespace it owns and a network namespace that user
 * namespace owns, lo up; reports its errno (0: done), then lives as long as the keeper
 * (EOF on hold, or the keeper's death). */
__attribute__ ((noreturn)) static void
holder (int hold, int ready, pid_t keeper_pid)
{
  int err = 0;
  if (syscall (SYS_setgroups, 0, NULL) < 0 || syscall (SYS_setresgid, NOBODY, NOBODY, NOBODY) < 0
      || syscall (SYS_setresuid, NOBODY, NOBODY, NOBODY) < 0)
    err = errno ? errno : EPERM;
  /* after the credential change, which clears a parent-death signal set before it */
  else if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid () != keeper_pid)
    err = errno ? errno : ESRCH;
  else if (unshare (CLONE_NEWUSER | CLONE_NEWNET) < 0)
    err = errno ? errno : EPERM;
  else
    {
      /* lo up: the owner of the user namespace has every capability in it */
      struct ifreq ifr;
      int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      memset (&ifr, 0, sizeof ifr);
      memcpy (ifr.ifr_name, "lo", 3);
      if (s < 0 || ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
        err = errno ? errno : EIO;
      else
        {
          ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
          if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
            err = errno ? errno : EIO;
        }
      if (s >= 0)
        close (s);
    }
  (void) write_all (ready, &err, sizeof err);
  close (ready);
  if (err != 0)
    _exit (1);
  for (;;)
    {
      char c;
      ssize_t r = read (hold, &c, 1);
      if (r == 0 || (r < 0 && errno != EINTR))
        _exit (0);
    }
}

/* "/proc/PID/ns/NAME" without stdio (the keeper may not allocate or lock) */
static void
ns_path (char *buf, pid_t pid, const char *name)
{
  char digits[16];
  int n = 0;
  unsigned v = (unsigned) pid;
  do
    digits[n++] = (char) ('0' + v % 10);
  while ((v /= 10) && n < 15);
  size_t len = 0;
  memcpy (buf, "/proc/", 6), len = 6;
  while (n)
    buf[len++] = digits[--n];
  memcpy (buf + len, "/ns/", 4), len += 4;
  memcpy (buf + len, name, strlen (name) + 1);
}

/* Everything the keeper needs, made before the fork. */
typedef struct keeper_args
{
  pid_t build;             /* slipway */
  const char *const *argv; /* pasta's */
  const char *pidfile;
  const char *piddir; /* the pid file's own directory, removed with it */
  int ctl;   /* read end: EOF when slipway is gone */
  int ready; /* write end: the keeper_report */
  int errw;  /* write end: pasta's stderr */
} keeper_args;

/* The keeper's end: pasta killed, the holder told (EOF on its pipe), and both reaped —
 * as their subreaper they are our children, whatever pasta's daemonizing did. */
static void
keeper_cleanup (int pasta_pidfd, int hold)
{
  if (pasta_pidfd >= 0)
    syscall (SYS_pidfd_send_signal, pasta_pidfd, SIGKILL, NULL, 0);
  if (hold >= 0)
    close (hold);
  while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
    ;
}

/* The keeper's body: a forked copy of a possibly multithreaded process, so system calls
 * only until it execs nothing itself (raw ones for credentials: glibc's wrappers would
 * signal threads that are not there).  It stays root: it starts pasta itself — so a
 * slipway killed while pasta starts still leaves nobody behind — and kills it when
 * slipway is gone. */
__attribute__ ((noreturn)) static void
keeper (const keeper_args *a)
{
  keeper_report rep;
  memset (&rep, 0, sizeof rep);
  int hold[2] = { -1, -1 }, hready[2] = { -1, -1 }, pasta_pidfd = -1;
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  signal (SIGQUIT, SIG_IGN);
  setsid ();
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0)
    {
      dup2 (null, 0), dup2 (null, 1), dup2 (null, 2);
      if (null > 2)
        close (null);
    }
  /* slipway's other fds are close-on-exec (pasta never sees them), but the keeper never
   * execs: it must not hold, say, the read end of a step's output pipe */
  {
    int keep[3] = { a->ctl, a->ready, a->errw }, next = 3;
    for (int i = 0; i < 3; i++)
      for (int j = i + 1; j < 3; j++)
        if (keep[j] < keep[i])
          {
            int t = keep[i];
            keep[i] = keep[j], keep[j] = t;
          }
    for (int i = 0; i < 3; i++)
      {
        if (keep[i] > next)
          syscall (SYS_close_range, (unsigned) next, (unsigned) keep[i] - 1, 0U);
        next = keep[i] + 1;
      }
    syscall (SYS_close_range, (unsigned) next, ~0U, 0U);
  }
  /* slipway's end, however it comes.  The pipe's EOF alone is not enough: a child slipway
   * forked and that has not exec'd yet holds a copy of its write end.  The pidfd, opened
   * while slipway is still our parent, is slipway's and not a reused pid's. */
  int build = (int) syscall (SYS_pidfd_open, a->build, 0);
  if (build < 0 || getppid () != a->build)
    {
      rep.err = ESRCH, rep.step = 1;
      goto report;
    }
  /* pasta daemonizes: its daemon becomes our child, not init's (which may never reap it),
   * so that we can wait for it once killed */
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    {
      rep.err = errno, rep.step = 1;
      goto report;
    }
  if (pipe2 (hold, O_CLOEXEC) < 0 || pipe2 (hready, O_CLOEXEC) < 0)
    {
      rep.err = errno, rep.step = 1;
      goto report;
    }
  pid_t self = getpid ();
  pid_t h = (pid_t) syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (h == 0)
    {
      close (hold[1]), close (hready[0]), close (a->ctl), close (a->ready), close (a->errw), close (build);
      holder (hold[0], hready[1], self);
    }
  close (hold[0]), close (hready[1]);
  if (h < 0 || read_all (hready[0], &rep.err, sizeof rep.err) < 0 || rep.err != 0)
    {
      rep.err = rep.err ? rep.err : errno ? errno : EIO, rep.step = 1;
      goto report;
    }
  close (hready[0]);
  rep.holder = h;
  {
    char up[64], np[64];
    ns_path (up, h, "user");
    ns_path (np, h, "net");
    int u = open (up, O_RDONLY | O_CLOEXEC), n = open (np, O_RDONLY | O_CLOEXEC);
    if (u < 0 || n < 0)
      {
        rep.err = errno, rep.step = 1;
        goto report;
      }
    pid_t l = (pid_t) syscall (SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (l == 0)
      {
        /* pasta: the namespaces as fds 3 and 4 (it opens /proc/self/fd/N after dropping
         * privileges, and another process's /proc/PID/ns would be out of its reach) */
        int e2 = fcntl (a->errw, F_DUPFD, 10), u2 = fcntl (u, F_DUPFD, 10), n2 = fcntl (n, F_DUPFD, 10);
        if (e2 < 0 || u2 < 0 || n2 < 0 || dup2 (e2, 2) < 0 || dup2 (u2, 3) < 0 || dup2 (n2, 4) < 0)
          _exit (127);
        syscall (SYS_close_range, 5U, ~0U, 0U);
        /* default dispositions and no blocked signal: pasta takes an inherited SIG_IGN for
         * SIGPIPE (engines ignore it) as a failure to install its handlers */
        for (int sig = 1; sig < NSIG; sig++)
          if (sig != SIGKILL && sig != SIGSTOP)
            signal (sig, SIG_DFL);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        execv (a->argv[0], (char *const *) a->argv);
        _exit (127);
      }
    close (u), close (n), close (a->errw);
    if (l < 0)
      {
        rep.err = errno, rep.step = 2;
        goto report;
      }
    int st = 0;
    while (waitpid (l, &st, 0) < 0 && errno == EINTR)
      ;
    /* in the background now: its pid from the pid file */
    char buf[32];
    ssize_t r = -1;
    int pf = open (a->pidfile, O_RDONLY | O_CLOEXEC);
    if (pf >= 0)
      r = read (pf, buf, sizeof buf - 1), close (pf);
    /* here, not in slipway: slipway may be gone by now (a build that ended early) */
    unlink (a->pidfile);
    rmdir (a->piddir);
    pid_t p = 0;
    for (ssize_t i = 0; i < r && buf[i] >= '0' && buf[i] <= '9'; i++)
      p = p * 10 + (buf[i] - '0');
    pasta_pidfd = p > 0 ? (int) syscall (SYS_pidfd_open, p, 0) : -1;
    if (!WIFEXITED (st) || WEXITSTATUS (st) != 0 || pasta_pidfd < 0)
      {
        rep.err = EIO, rep.step = 3, rep.status = st;
        goto report;
      }
    rep.pasta = p;
    (void) write_all (a->ready, &rep, sizeof rep);
    close (a->ready);
    struct pollfd ends[2] = { { a->ctl, POLLIN, 0 }, { build, POLLIN, 0 } };
    while (poll (ends, 2, -1) < 0 && errno == EINTR)
      ;
    keeper_cleanup (pasta_pidfd, hold[1]);
    _exit (0);
  }
report:
  (void) write_all (a->ready, &rep, sizeof rep);
  unlink (a->pidfile); /* slipway does too, unless it is gone */
  rmdir (a->piddir);
  keeper_cleanup (pasta_pidfd, hold[1]);
  _exit (1);
}

/* ---- pasta ---- */

static char *
find_pasta (void)
{
  const char *env = getenv ("SLIPWAY_PASTA");
  if (env && *env)
    return sw_xstrdup (env);
  const char *path = getenv ("PATH");
  cleanup_free char *dirs = sw_xasprintf ("%s:/usr/bin:/usr/sbin:/bin:/sbin", path ? path : "");
  char *save = NULL;
  for (char *d = strtok_r (dirs, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      cleanup_free char *p = sw_xasprintf ("%s/pasta", d);
      if (access (p, X_OK) == 0)
        return steal_pointer (&p);
    }
  return NULL;
}

/* pasta's own lines from its stderr, not its complaints about syslog */
static char *
pasta_message (const char *text)
{
  cleanup_free char *copy = sw_xstrdup (text);
  sw_buf why = SW_BUF_INIT;
  char *save = NULL;
  for (char *l = strtok_r (copy, "\n", &save); l; l = strtok_r (NULL, "\n", &save))
    if (!strstr (l, "syslog") && strncmp (l, "Don't run as root", 17) != 0)
      sw_buf_printf (&why, "%s%s", why.len ? "; " : "", l);
  if (!why.len)
    sw_buf_puts (&why, "no message");
  return sw_buf_steal (&why);
}

static int
net_setup (sw_error **err)
{
  struct timespec t0, t1;
  clock_gettime (CLOCK_MONOTONIC, &t0);
  cleanup_free char *pasta = find_pasta ();
  if (!pasta)
    return sw_error_make (err, ENOENT,
                          "RUN steps get their own network through pasta, which is not installed: "
                          "apt-get install passt (or build with --network none, or with --network host "
                          "and --allow network.host to share the host's network)");
  bool forward = false;
  free (own_resolv (&forward));

  char dir[] = "/tmp/slipway-pasta-XXXXXX";
  if (!mkdtemp (dir))
    return sw_error_errno (err, "creating a directory for pasta's pid file");
  cleanup_free char *pidfile = sw_xasprintf ("%s/pid", dir);
  const char *argv[32];
  int n = 0;
  argv[n++] = pasta;
  argv[n++] = "--config-net";
  argv[n++] = "--quiet";
  /* nothing forwarded either way: the host's listeners stay out of reach */
  argv[n++] = "-t", argv[n++] = "none", argv[n++] = "-u", argv[n++] = "none";
  argv[n++] = "-T", argv[n++] = "none", argv[n++] = "-U", argv[n++] = "none";
  /* the gateway's address is the real gateway, not an alias of the host's loopback */
  argv[n++] = "--no-map-gw";
  if (forward)
    argv[n++] = "--dns-forward", argv[n++] = DNS_FORWARD_ADDR;
  argv[n++] = "--pid", argv[n++] = pidfile;
  /* pasta opens /dev/net/tun after dropping to nobody: where the device is root's alone
   * (mode 0600 rather than Debian's 0666) it has to stay root, with the few capabilities
   * it keeps for itself (NET_ADMIN, NET_BIND_SERVICE, SYS_ADMIN) */
  struct stat tun;
  if (stat ("/dev/net/tun", &tun) == 0 && (tun.st_mode & 0006) != 0006)
    argv[n++] = "--runas", argv[n++] = "0";
  else
    chmod (dir, 0733); /* nobody's pasta writes its pid file there (no listing, no reading) */
  argv[n++] = "--userns", argv[n++] = "/proc/self/fd/3";
  argv[n++] = "--netns", argv[n++] = "/proc/self/fd/4";
  argv[n] = NULL;

  int ctl[2] = { -1, -1 }, ready[2] = { -1, -1 }, errp[2] = { -1, -1 };
  if (pipe2 (ctl, O_CLOEXEC) < 0 || pipe2 (ready, O_CLOEXEC) < 0 || pipe2 (errp, O_CLOEXEC) < 0)
    {
      int e = sw_error_errno (err, "pipe");
      for (int i = 0; i < 2; i++)
        close (ctl[i]), close (ready[i]), close (errp[i]);
      rmdir (dir);
      return e;
    }
  keeper_args ka = { getpid (), argv, pidfile, dir, ctl[0], ready[1], errp[1] };
  pid_t k = fork ();
  if (k == 0)
    keeper (&ka);
  close (ctl[0]), close (ready[1]), close (errp[1]);
  if (k < 0)
    {
      int e = sw_error_errno (err, "fork");
      close (ctl[1]), close (ready[0]), close (errp[0]);
      rmdir (dir);
      return e;
    }
  sw_buf msg = SW_BUF_INIT;
  {
    char buf[1024];
    ssize_t r;
    while ((r = read (errp[0], buf, sizeof buf)) != 0)
      {
        if (r < 0 && errno == EINTR)
          continue;
        if (r < 0)
          break;
        if (msg.len < 8192)
          sw_buf_append (&msg, buf, (size_t) r);
      }
    close (errp[0]);
  }
  keeper_report rep = { EIO, 1, 0, 0, 0 };
  bool got = read_all (ready[0], &rep, sizeof rep) == 0;
  close (ready[0]);
  unlink (pidfile);
  rmdir (dir);
  int nfd = -1;
  if (got && rep.err == 0)
    {
      cleanup_free char *np = sw_xasprintf ("/proc/%d/ns/net", (int) rep.holder);
      nfd = open (np, O_RDONLY | O_CLOEXEC);
      if (nfd < 0)
        rep.err = errno, rep.step = 1;
    }
  if (!got || rep.err != 0)
    {
      if (rep.step == 3)
        {
          cleanup_free char *why = pasta_message (sw_buf_str (&msg));
          int st = rep.status;
          sw_error_make (err, EIO, "starting %s for the RUN steps' network failed (%s %d: %s)", pasta,
                         WIFEXITED (st) ? "exit code" : "signal", WIFEXITED (st) ? WEXITSTATUS (st) : WTERMSIG (st),
                         why);
        }
      else
        sw_error_make (err, got ? rep.err : EIO, "%s for the RUN steps' network: %s",
                       rep.step == 2 ? "starting pasta" : "creating a user and a network namespace (user namespaces disabled?)",
                       strerror (got ? rep.err : EIO));
      sw_buf_free (&msg);
      close (ctl[1]); /* the keeper exits (and kills pasta if it runs) */
      while (waitpid (k, NULL, 0) < 0 && errno == EINTR)
        ;
      return -1;
    }
  sw_buf_free (&msg);
  /* ctl[1] stays open (close-on-exec) until this process ends: its EOF is the keeper's cue */
  net_fd = nfd;
  clock_gettime (CLOCK_MONOTONIC, &t1);
  sw_debug ("sandbox: own network ready (pasta %d, keeper %d, holder %d) in %.1f ms%s", (int) rep.pasta, (int) k,
            (int) rep.holder,
            (double) (t1.tv_sec - t0.tv_sec) * 1e3 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6,
            forward ? ", DNS forwarded to the host's resolver" : "");
  return 0;
}

int
sw_sandbox_net_fd (int *fd, sw_error **err)
{
  int rc = 0;
  pthread_mutex_lock (&net_lock);
  if (net_fd < 0)
    rc = net_setup (err);
  *fd = net_fd;
  pthread_mutex_unlock (&net_lock);
  return rc;
}

static void *
warm_thread (void *arg)
{
  (void) arg;
  int fd;
  sw_error *e = NULL;
  if (sw_sandbox_net_fd (&fd, &e) < 0)
    sw_error_free (e); /* the step's own call makes it again and reports it */
  return NULL;
}

void
sw_sandbox_network_warm (sw_net_mode mode)
{
  if (mode != SW_NET_DEFAULT)
    return;
  /* Never wait here: whoever holds the lock is making the network (it is held for all of
   * net_setup) or finds it made, and the caller has other work to do meanwhile — a stage's
   * RUN that blocked here on the warm-up its FROM started would extract its base only
   * after pasta is up, one after the other instead of at once. */
  if (pthread_mutex_trylock (&net_lock) != 0)
    return;
  bool ready = net_fd >= 0;
  pthread_mutex_unlock (&net_lock);
  pthread_t t;
  if (!ready && pthread_create (&t, NULL, warm_thread, NULL) == 0)
    pthread_detach (t);
}
