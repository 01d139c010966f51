/* sandbox/seccomp.c — moby's default seccomp profile through libseccomp.
 *
 * Profile followed: moby v28 (profiles/seccomp/default.json as of docker 28.x), which
 * since moby 25 no longer allows io_uring_setup, io_uring_enter and io_uring_register
 * (io_uring has been a steady source of kernel exploits; they now fail with EPERM).
 * Bump SW_SECCOMP_PROFILE_VERSION with any change here: it names the cached BPF.
 *
 * The tables below restate the profile for a container holding Docker's default
 * capabilities (CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP
 * SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE): the capability-gated entries
 * that such a container gets (chroot) are folded into the allowlist, those it does not
 * get (mount, unshare, setns, keyctl is absent altogether, …) are left out and so fail
 * with EPERM, the profile's default action.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/io.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "sandbox/seccomp.h"

/* Allowed unconditionally (names unknown to an arch are skipped, as moby does). */
static const char *const allow_all[] = {
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
  "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
  "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
  "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
  "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
  "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
  "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
  "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
  "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
  "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
  "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
  "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
  "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
  "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
  "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
  "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
  "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
  "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
  "io_submit", "ipc", "kill",
  "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
  "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
  "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
  "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
  "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
  "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
  "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
  "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
  "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
  "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
  "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
  "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
  "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
  "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
  "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
  "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
  "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
  "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
  "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
  "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
  "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
  "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
  "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
  "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
  "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
  "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
  "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
  "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
  "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
  "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
  "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
  "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
  "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
  "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
  "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
  "waitid", "waitpid", "write", "writev",
  /* gated on CAP_SYS_CHROOT, which the default set holds */
  "chroot",
  NULL,
};

/* minKernel 4.8: before it, seccomp could be bypassed through ptrace. */
static const char *const allow_ptrace[] = { "process_vm_readv", "process_vm_writev", "ptrace", NULL };

static const char *const allow_x86[] = { "arch_prctl", "modify_ldt", NULL };
static const char *const allow_arm[] = { "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2",
                                         "breakpoint", "cacheflush", "set_tls", NULL };
static const char *const allow_ppc[] = { "sync_file_range2", "swapcontext", NULL };
static const char *const allow_s390[] = { "s390_pci_mmio_read", "s390_pci_mmio_write",
                                          "s390_runtime_instr", NULL };
static const char *const allow_riscv[] = { "riscv_flush_icache", NULL };

/* personality(2) values the profile allows: PER_LINUX, UNAME26, PER_LINUX32,
 * UNAME26|PER_LINUX32, and the query 0xffffffff. */
static const scmp_datum_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may not make namespaces. */
#define SW_CLONE_NS_MASK 0x7E020000ULL
#define SW_AF_VSOCK 40

static struct sock_fprog compiled;
static int compile_errno;
static char compile_msg[160];
static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;
static bool compile_done;

/* Bump when the tables above change: it is part of the cache file's name. */
#define SW_SECCOMP_PROFILE_VERSION 2 /* 2: moby v28 (no io_uring) */

static void
add_names (scmp_filter_ctx ctx, const char *const *names)
{
  for (; *names; names++)
    {
      int nr = seccomp_syscall_resolve_name (*names);
      if (nr == __NR_SCMP_ERROR)
        continue; /* unknown to this libseccomp: moby skips these too */
      int r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, nr, 0);
      if (r < 0 && r != -EEXIST)
        sw_debug ("seccomp: %s not added: %s", *names, strerror (-r));
    }
}

static bool
kernel_at_least (int major, int minor)
{
  struct utsname u;
  int ma = 0, mi = 0;
  if (uname (&u) < 0 || sscanf (u.release, "%d.%d", &ma, &mi) != 2)
    return true;
  return ma > major || (ma == major && mi >= minor);
}

static int
build (scmp_filter_ctx ctx)
{
  uint32_t native = seccomp_arch_native ();
  int r;

  /* The profile's archMap: the native arch and its compat arches. */
  if (native == SCMP_ARCH_X86_64)
    {
      if ((r = seccomp_arch_add (ctx, SCMP_ARCH_X86)) < 0 && r != -EEXIST)
        return r;
      if ((r = seccomp_arch_add (ctx, SCMP_ARCH_X32)) < 0 && r != -EEXIST)
        return r;
    }
  else if (native == SCMP_ARCH_AARCH64)
    {
      if ((r = seccomp_arch_add (ctx, SCMP_ARCH_ARM)) < 0 && r != -EEXIST)
        return r;
    }

  add_names (ctx, allow_all);
  if (kernel_at_least (4, 8))
    add_names (ctx, allow_ptrace);
  if (native == SCMP_ARCH_X86_64 || native == SCMP_ARCH_X86 || native == SCMP_ARCH_X32)
    add_names (ctx, allow_x86);
  if (native == SCMP_ARCH_AARCH64 || native == SCMP_ARCH_ARM)
    add_names (ctx, allow_arm);
  if (native == SCMP_ARCH_PPC64LE)
    add_names (ctx, allow_ppc);
  if (native == SCMP_ARCH_S390X || native == SCMP_ARCH_S390)
    add_names (ctx, allow_s390);
  if (native == SCMP_ARCH_RISCV64)
    add_names (ctx, allow_riscv);

  r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (socket), 1,
                        SCMP_A0 (SCMP_CMP_NE, SW_AF_VSOCK));
  if (r < 0)
    return r;
  for (size_t i = 0; i < sizeof personalities / sizeof *personalities; i++)
    if ((r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (personality), 1,
                               SCMP_A0 (SCMP_CMP_EQ, personalities[i]))) < 0)
      return r;
  /* s390 swaps clone's first two arguments. */
  if (native == SCMP_ARCH_S390X || native == SCMP_ARCH_S390)
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (clone), 1,
                          SCMP_A1 (SCMP_CMP_MASKED_EQ, SW_CLONE_NS_MASK, 0));
  else
    r = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (clone), 1,
                          SCMP_A0 (SCMP_CMP_MASKED_EQ, SW_CLONE_NS_MASK, 0));
  if (r < 0)
    return r;
  /* ENOSYS, not EPERM: glibc then falls back to clone(), which the rule above filters. */
  r = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
  if (r < 0 && r != -EEXIST)
    return r;
  return 0;
}

static char *
cache_path (const char *dir)
{
  struct utsname u;
  const struct scmp_version *v = seccomp_version ();
  if (uname (&u) < 0 || !v)
    return NULL;
  /* the release can hold odd characters: keep only the safe ones */
  char rel[65];
  size_t k = 0;
  for (const char *c = u.release; *c && k < sizeof rel - 1; c++)
    rel[k++] = (isalnum ((unsigned char) *c) || *c == '.' || *c == '-') ? *c : '_';
  rel[k] = 0;
  return sw_xasprintf ("%s/seccomp-v%d-%s-%u.%u.%u-%s.bpf", dir, SW_SECCOMP_PROFILE_VERSION,
                       u.machine, v->major, v->minor, v->micro, rel);
}

static bool
load_cache (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0)
    return false;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)
      || st.st_size <= 0 || st.st_size > 65536 * (off_t) sizeof (struct sock_filter)
      || st.st_size % (off_t) sizeof (struct sock_filter) != 0)
    {
      close (fd);
      return false;
    }
  struct sock_filter *insns = sw_xmalloc ((size_t) st.st_size);
  if (pread (fd, insns, (size_t) st.st_size, 0) != st.st_size)
    {
      free (insns);
      close (fd);
      return false;
    }
  close (fd);
  compiled.filter = insns;
  compiled.len = (unsigned short) (st.st_size / (off_t) sizeof (struct sock_filter));
  return true;
}

static void
store_cache (const char *path)
{
  char *tmp = sw_xasprintf ("%s.tmp-%ld", path, (long) getpid ());
  int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  size_t n = compiled.len * sizeof (struct sock_filter);
  if (fd >= 0)
    {
      bool ok = sw_write_all (fd, compiled.filter, n) == 0;
      close (fd);
      if (!ok || rename (tmp, path) < 0)
        unlink (tmp);
    }
  free (tmp);
}

static void
compile (void)
{
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
  int r, fd = -1;
  struct stat st;

  if (!ctx)
    {
      compile_errno = ENOMEM;
      snprintf (compile_msg, sizeof compile_msg, "seccomp_init failed");
      return;
    }
  /* no_new_privs is set by the sandbox itself, right before loading. */
  seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  r = build (ctx);
  if (r < 0)
    {
      compile_errno = -r;
      snprintf (compile_msg, sizeof compile_msg, "building the default seccomp profile");
      goto out;
    }
  fd = memfd_create ("sw-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    {
      compile_errno = errno;
      snprintf (compile_msg, sizeof compile_msg, "memfd_create");
      goto out;
    }
  r = seccomp_export_bpf (ctx, fd);
  if (r < 0 || fstat (fd, &st) < 0 || st.st_size <= 0
      || st.st_size % (off_t) sizeof (struct sock_filter) != 0)
    {
      compile_errno = r < 0 ? -r : EINVAL;
      snprintf (compile_msg, sizeof compile_msg, "exporting the seccomp BPF program");
      goto out;
    }
  struct sock_filter *insns = sw_xmalloc ((size_t) st.st_size);
  if (pread (fd, insns, (size_t) st.st_size, 0) != st.st_size)
    {
      compile_errno = EIO;
      snprintf (compile_msg, sizeof compile_msg, "reading the seccomp BPF program back");
      free (insns);
      goto out;
    }
  compiled.filter = insns;
  compiled.len = (unsigned short) (st.st_size / (off_t) sizeof (struct sock_filter));
out:
  if (fd >= 0)
    close (fd);
  seccomp_release (ctx);
}

int
sw_seccomp_default (const char *cache_dir, const struct sock_fprog **prog, sw_error **err)
{
  pthread_mutex_lock (&compile_lock);
  if (!compile_done)
    {
      char *path = cache_dir ? cache_path (cache_dir) : NULL;
      if (!path || !load_cache (path))
        {
          compile ();
          if (path && compiled.filter)
            store_cache (path);
        }
      free (path);
      compile_done = true;
    }
  pthread_mutex_unlock (&compile_lock);
  if (!compiled.filter)
    return sw_error_make (err, compile_errno, "%s: %s", compile_msg, strerror (compile_errno));
  *prog = &compiled;
  return 0;
}
