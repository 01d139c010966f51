/* sandbox/limits.c — /dev/shm's size, rlimits and the step's cgroup (see limits.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "sandbox/limits.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define CGROUP_ROOT "/sys/fs/cgroup"

/* docker's units.RAMInBytes: NUMBER[.FRACTION] [k|m|g|t|p][i][b], binary units. */
int
sw_shm_size_parse (const char *s, uint64_t *bytes, sw_error **err)
{
  char *end;
  errno = 0;
  if (!isdigit ((unsigned char) *s))
    goto bad;
  double v = strtod (s, &end);
  if (errno || end == s)
    goto bad;
  if (*end == ' ')
    end++;
  uint64_t mult = 1;
  switch (tolower ((unsigned char) *end))
    {
    case 'k': mult = 1ull << 10; end++; break;
    case 'm': mult = 1ull << 20; end++; break;
    case 'g': mult = 1ull << 30; end++; break;
    case 't': mult = 1ull << 40; end++; break;
    case 'p': mult = 1ull << 50; end++; break;
    default: break;
    }
  if (tolower ((unsigned char) *end) == 'i' && mult > 1)
    end++;
  if (tolower ((unsigned char) *end) == 'b')
    end++;
  if (*end || v * (double) mult >= 18446744073709551615.0 || (uint64_t) (v * (double) mult) == 0)
    goto bad;
  *bytes = (uint64_t) (v * (double) mult);
  return 0;
bad:
  return sw_error_make (err, EINVAL, "invalid --shm-size \"%s\": expected a size such as 64m, 1g or 134217728", s);
}

static const struct
{
  const char *name;
  int resource;
} ulimit_names[] = {
  { "as", RLIMIT_AS },       { "core", RLIMIT_CORE },         { "cpu", RLIMIT_CPU },
  { "data", RLIMIT_DATA },   { "fsize", RLIMIT_FSIZE },       { "locks", RLIMIT_LOCKS },
  { "memlock", RLIMIT_MEMLOCK }, { "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE },
  { "nofile", RLIMIT_NOFILE }, { "nproc", RLIMIT_NPROC },     { "rss", RLIMIT_RSS },
  { "rtprio", RLIMIT_RTPRIO }, { "rttime", RLIMIT_RTTIME },   { "sigpending", RLIMIT_SIGPENDING },
  { "stack", RLIMIT_STACK },
};

static int
parse_limit (const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (errno || end == s || *end || v < -1)
    return -1;
  *out = v == -1 ? (uint64_t) RLIM_INFINITY : (uint64_t) v;
  return 0;
}

/* docker's units.ParseUlimit: NAME=SOFT[:HARD]. */
int
sw_ulimit_parse (const char *spec, sw_ulimit *out, sw_error **err)
{
  const char *eq = strchr (spec, '=');
  if (eq == NULL)
    return sw_error_make (err, EINVAL, "invalid --ulimit \"%s\": expected NAME=SOFT[:HARD], e.g. nofile=1024:2048", spec);
  size_t i;
  for (i = 0; i < sizeof ulimit_names / sizeof *ulimit_names; i++)
    if (strlen (ulimit_names[i].name) == (size_t) (eq - spec) && strncmp (spec, ulimit_names[i].name, eq - spec) == 0)
      break;
  if (i == sizeof ulimit_names / sizeof *ulimit_names)
    return sw_error_make (err, EINVAL, "invalid --ulimit \"%s\": unknown limit %.*s (known: as, core, cpu, data, "
                          "fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack)",
                          spec, (int) (eq - spec), spec);
  cleanup_free char *vals = sw_xstrdup (eq + 1);
  char *colon = strchr (vals, ':');
  if (colon)
    *colon++ = '\0';
  uint64_t soft, hard;
  if (parse_limit (vals, &soft) < 0 || (colon && parse_limit (colon, &hard) < 0))
    return sw_error_make (err, EINVAL, "invalid --ulimit \"%s\": limits are integers (-1 for unlimited)", spec);
  if (!colon)
    hard = soft;
  if (soft > hard)
    return sw_error_make (err, EINVAL, "invalid --ulimit \"%s\": soft limit %s is greater than hard limit %s", spec,
                          vals, colon);
  out->resource = ulimit_names[i].resource;
  out->soft = soft;
  out->hard = hard;
  return 0;
}

/* ---- cgroup v2 ---------------------------------------------------------------- */

static char *
parent_path (const char *parent)
{
  while (*parent == '/')
    parent++;
  return *parent ? sw_xasprintf ("%s/%s", CGROUP_ROOT, parent) : sw_xstrdup (CGROUP_ROOT);
}

int
sw_cgroup_parent_check (const char *parent, sw_error **err)
{
  struct statfs fs;
  if (statfs (CGROUP_ROOT, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
    return sw_error_make (err, ENOTSUP, "--cgroup-parent %s: this host has no cgroup v2 at %s (a cgroup v1 or "
                          "hybrid host); slipway places steps only in cgroup v2", parent, CGROUP_ROOT);
  if (strstr (parent, ".."))
    return sw_error_make (err, EINVAL, "--cgroup-parent %s: a path under %s without \"..\"", parent, CGROUP_ROOT);
  cleanup_free char *dir = parent_path (parent);
  struct stat st;
  if (stat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
    return sw_error_errno (err, "--cgroup-parent %s: %s", parent, dir);
  return 0;
}

static int
write_file_at (int dirfd, const char *name, const char *value)
{
  int fd = openat (dirfd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write (fd, value, strlen (value));
  int saved = errno;
  close (fd);
  errno = saved;
  return n == (ssize_t) strlen (value) ? 0 : -1;
}

/* Enable in the parent's subtree the controllers a limit needs (they must be available). */
static int
enable_controller (const char *parent_dir, const char *ctrl, sw_error **err)
{
  cleanup_close int pfd = open (parent_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *plus = sw_xasprintf ("+%s", ctrl);
  if (pfd < 0 || write_file_at (pfd, "cgroup.subtree_control", plus) < 0)
    return sw_error_errno (err, "enabling the %s controller in %s (is it in its cgroup.controllers, and "
                           "does the cgroup hold no process of its own?)", ctrl, parent_dir);
  return 0;
}

int
sw_cgroup_step_create (const char *parent, const sw_cgroup_limits *lim, char **dir, int *fd, sw_error **err)
{
  static atomic_uint counter;
  cleanup_free char *pdir = parent_path (parent);
  *dir = NULL;
  *fd = -1;
  if (sw_cgroup_parent_check (parent, err) < 0)
    return -1;
  if ((lim->memory_max && enable_controller (pdir, "memory", err) < 0)
      || (lim->pids_max && enable_controller (pdir, "pids", err) < 0)
      || (lim->cpu_quota_us && enable_controller (pdir, "cpu", err) < 0))
    return -1;
  char *path = sw_xasprintf ("%s/slipway-%ld-%u", pdir, (long) getpid (), atomic_fetch_add (&counter, 1));
  if (mkdir (path, 0755) < 0)
    {
      sw_error_errno (err, "creating the step's cgroup %s", path);
      free (path);
      return -1;
    }
  int dfd = open (path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  char v[64];
  int r = dfd < 0 ? -1 : 0;
  if (r == 0 && lim->memory_max)
    {
      snprintf (v, sizeof v, "%" PRIu64, lim->memory_max);
      r = write_file_at (dfd, "memory.max", v);
      if (r == 0)
        write_file_at (dfd, "memory.swap.max", "0"); /* no swap beyond the limit, as docker --memory-swap=--memory */
    }
  if (r == 0 && lim->pids_max)
    {
      snprintf (v, sizeof v, "%" PRIu64, lim->pids_max);
      r = write_file_at (dfd, "pids.max", v);
    }
  if (r == 0 && lim->cpu_quota_us)
    {
      snprintf (v, sizeof v, "%" PRIu64 " %" PRIu64, lim->cpu_quota_us, lim->cpu_period_us ? lim->cpu_period_us : 100000);
      r = write_file_at (dfd, "cpu.max", v);
    }
  if (r < 0)
    {
      sw_error_errno (err, "setting up the step's cgroup %s", path);
      sw_cgroup_step_remove (path, dfd);
      return -1;
    }
  *dir = path;
  *fd = dfd;
  return 0;
}

void
sw_cgroup_step_remove (char *dir, int fd)
{
  if (dir)
    {
      /* cgroup.kill (5.14+) ends every process left; then rmdir, retried while they go */
      if (fd >= 0)
        write_file_at (fd, "cgroup.kill", "1");
      for (int i = 0; i < 200 && rmdir (dir) < 0 && errno == EBUSY; i++)
        nanosleep (&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
    }
  if (fd >= 0)
    close (fd);
  free (dir);
}
