/* emu/qemu.c — finding the QEMU user-mode emulator for a platform (see emu.h). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "emu/emu.h"

static bool
is_executable (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && S_ISREG (st.st_mode) && access (path, X_OK) == 0;
}

/* Append DIRS (colon-separated) to the search list, skipping empties and duplicates. */
static void
add_dirs (sw_buf *list, const char *dirs)
{
  if (dirs == NULL)
    return;
  cleanup_free char *copy = sw_xstrdup (dirs);
  char *save = NULL;
  for (char *d = strtok_r (copy, ":", &save); d; d = strtok_r (NULL, ":", &save))
    {
      /* a duplicate check on the ":"-joined list */
      cleanup_free char *needle = sw_xasprintf (":%s:", d);
      cleanup_free char *hay = sw_xasprintf (":%s:", sw_buf_str (list));
      if (strstr (hay, needle))
        continue;
      if (list->len)
        sw_buf_putc (list, ':');
      sw_buf_puts (list, d);
    }
}

int
sw_emu_find_qemu (const sw_platform *platform, const char *search, char **path, sw_error **err)
{
  const sw_emu_arch *a = sw_emu_arch_for (platform);
  cleanup_free char *pf = sw_platform_format (platform);
  cleanup_buf sw_buf dirs = SW_BUF_INIT;

  if (a == NULL)
    return sw_error_make (err, ENOTSUP, "platform %s: no emulator known for architecture \"%s\"", pf,
                          platform->arch);
  if (search)
    add_dirs (&dirs, search);
  else
    {
      add_dirs (&dirs, getenv ("PATH"));
      add_dirs (&dirs, "/usr/bin:/usr/libexec/qemu-binfmt");
    }

  const char *suffixes[] = { "-static", "" };
  for (size_t s = 0; s < 2; s++)
    {
      cleanup_free char *copy = sw_xstrdup (sw_buf_str (&dirs));
      char *save = NULL;
      for (char *d = strtok_r (copy, ":", &save); d; d = strtok_r (NULL, ":", &save))
        {
          cleanup_free char *p = sw_xasprintf ("%s/qemu-%s%s", d, a->qemu, suffixes[s]);
          if (is_executable (p))
            {
              *path = steal_pointer (&p);
              return 0;
            }
        }
    }
  return sw_error_make (err, ENOENT,
                        "platform %s needs emulation on this host, but no QEMU user-mode emulator was found: "
                        "looked for qemu-%s-static and qemu-%s in %s; install it with `apt-get install "
                        "qemu-user-static`",
                        pf, a->qemu, a->qemu, dirs.len ? sw_buf_str (&dirs) : "(no directories)");
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int
sw_emu_sealed_copy (const char *path, sw_error **err)
{
  cleanup_close int in = open (path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      sw_error_errno (err, "open %s", path);
      return -1;
    }
  const char *base = strrchr (path, '/');
  base = base ? base + 1 : path;
  /* MFD_EXEC: executable whatever vm.memfd_noexec says (kernels before 6.3 lack the flag,
   * and their memfds are executable anyway) */
  int fd = memfd_create (base, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create (base, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    {
      sw_error_errno (err, "memfd_create for a sealed copy of %s", path);
      return -1;
    }
  for (;;)
    {
      ssize_t n = sendfile (fd, in, NULL, 1 << 30);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          sw_error_errno (err, "copying %s into a sealed memfd", path);
          close (fd);
          return -1;
        }
      if (n == 0)
        break;
    }
  /* nothing can write, grow, shrink or unseal it any more: not the step, not anyone */
  if (fchmod (fd, 0555) < 0
      || fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
    {
      sw_error_errno (err, "sealing the copy of %s", path);
      close (fd);
      return -1;
    }
  return fd;
}
