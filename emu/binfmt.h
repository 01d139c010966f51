/* emu/binfmt.h — emu/'s private binfmt_misc helpers (not for other modules: use emu.h).
 * Nothing here is called on a native build's path. */
#ifndef SW_EMU_BINFMT_H
#define SW_EMU_BINFMT_H

#include <stdbool.h>
#include <sys/types.h>

#include "emu/emu.h"

/* Names of the temporary entries slipway registers on a host: PREFIX<qemu arch>-<pid>-<n>. */
#define SW_BINFMT_TEMP_PREFIX "slipway-"

/* Entry text as read from binfmt_misc/NAME: enabled, F flag, magic/mask matching HDR? */
bool sw_binfmt_entry_matches (const char *text, const unsigned char *hdr, size_t hdr_len, char **interpreter,
                              bool *preserve_argv0);
/* A working entry in DIR for A, one with the P flag preferred, never another build's
 * temporary one; *name NULL when none (DIR absent or binfmt_misc disabled too). */
int sw_binfmt_find_existing (const char *dir, const sw_emu_arch *a, char **name, char **interpreter,
                             bool *preserve_argv0, sw_error **err);
int sw_binfmt_register (const char *dir, const char *line, sw_error **err);
/* A process that removes ENTRY_PATH when *keepalive is closed or its holders die. */
int sw_binfmt_reaper_start (const char *entry_path, pid_t *pid, int *keepalive, sw_error **err);
void sw_binfmt_reaper_stop (pid_t pid, int keepalive);
/* New identity-mapped user ns (maps written through PROCFD, our /proc/<pid> on a writable
 * proc) + mount ns, binfmt_misc on MOUNTPOINT, LINE (if any) written to REGISTER_PATH.
 * Async-signal-safe; on failure -1, errno set, *what names the step. */
int sw_binfmt_private_enter (int procfd, const char *mountpoint, const char *register_path, const char *line,
                             const char **what);
bool sw_binfmt_private_probe (const char *mountpoint);

#endif
