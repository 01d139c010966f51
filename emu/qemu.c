/* emu/qemu.c — finding the QEMU user-mode emulator for a platform (see emu.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
