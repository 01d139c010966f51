/* emu/emu.h — foreign platforms through QEMU, only when asked.
 *
 * Guarantees:
 *  - Deciding costs nothing and touches nothing.  sw_emu_need() and sw_emu_stage_needs()
 *    look only at the two platforms (and, for 32-bit arm on an arm64 host only, probe
 *    AArch32 support with personality(2) in a short-lived child).  They never open
 *    /proc/sys/fs/binfmt_misc and never look for QEMU.  Everything that does (the QEMU
 *    lookup, reading or writing binfmt_misc) is behind sw_emu_prepare(), which asks
 *    sw_emu_need() first and returns no handle for a native platform; the child calls do
 *    nothing without a handle — so a native build cannot touch binfmt_misc: there is no
 *    code path from it to any.
 *  - The rule, kept simple: a stage runs emulated iff it has a RUN step and its platform's
 *    architecture differs from the host's and is not one the host runs natively.  Natively
 *    run: the same arch (any amd64 level — the CPU's level is not checked — and arm
 *    variants up to the host's own); 386 on amd64 (assumes the kernel's IA32 emulation, as
 *    every Debian/Ubuntu/Fedora kernel has it); arm/v5…v8 on arm64 when the CPU and kernel
 *    run AArch32 code (personality(PER_LINUX32) succeeds — many arm64 server CPUs and
 *    Apple silicon do not).  Stages without RUN and `FROM --platform=$BUILDPLATFORM`
 *    stages (platform == host) are native.
 *  - sw_emu_prepare() picks one way to run TARGET's binaries and changes the host as
 *    little as possible, in this order (SW_EMU_BINFMT_AUTO):
 *      1. EXISTING: the host already has an enabled binfmt_misc entry with the F flag and
 *         the P flag whose magic/mask matches TARGET's ELF header — used as it is; nothing
 *         changes and QEMU is not even looked for.
 *      2. PRIVATE: the kernel has binfmt_misc instances per user namespace (Linux 6.7+;
 *         probed once per process, not guessed from the version).  The host is untouched:
 *         sw_emu_child_enter(), called in the RUN step's child, moves it into a new user
 *         namespace mapping every uid/gid to itself (root stays real root for files), a new
 *         mount namespace, mounts a fresh binfmt_misc on /proc/sys/fs/binfmt_misc and
 *         registers QEMU there.  The instance dies with the step.
 *      3. EXISTING without P: works, but multi-call binaries see a wrong argv[0] (busybox
 *         sh runs applets by exec of /proc/self/exe with argv[0] = the applet; QEMU turns
 *         that into an exec of the guest binary, and without P the kernel drops argv[0], so
 *         `cat FILE` runs `sh FILE`).  A warning says so.
 *      4. HOST: registers "slipway-<arch>-<pid>-<n>" on the host with flags PF for the
 *         build's duration.  A reaper process (own session, deaf to SIGINT/SIGTERM/SIGHUP)
 *         removes exactly the entries this handle added when sw_emu_release() runs or the
 *         build process dies in any way (SIGINT, SIGTERM, SIGKILL, crash): it polls a
 *         pidfd of the build process and a pipe release writes to.
 *    Our registrations use flags P (preserve argv[0]; QEMU 6+ reads AT_FLAGS) and F (QEMU
 *    opened at registration, so it need not exist inside the build's root).
 *  - QEMU is looked for as qemu-<arch>-static then qemu-<arch>, in the options'
 *    qemu_search (a colon-separated list of directories: the build option
 *    SW_OPT_QEMU_PATH, by default $SLIPWAY_QEMU_PATH) or else in PATH, /usr/bin and
 *    /usr/libexec/qemu-binfmt.  Not found: an error naming the platform, the binaries and
 *    the directories searched, and `apt-get install qemu-user-static`.
 *  - The magic/mask table is our own, from the ELF specification: e_ident (class, data,
 *    version; OS ABI and ABI version ignored; padding zero), e_type EXEC or DYN, e_machine
 *    (checked in tests against Debian's /usr/share/binfmts/qemu-* where installed).
 */
#ifndef SW_EMU_EMU_H
#define SW_EMU_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/error.h"
#include "image/platform.h"

/* ---- deciding (pure) ------------------------------------------------------------ */

/* Does code for TARGET need QEMU on HOST?  Error for a non-linux OS on either side or an
 * architecture slipway has no emulator entry for. */
int sw_emu_need (const sw_platform *host, const sw_platform *target, bool *emulate, sw_error **err);

/* The per-stage rule: emulated iff the stage has a RUN step and sw_emu_need() says so. */
int sw_emu_stage_needs (const sw_platform *host, const sw_platform *stage_platform, bool has_run,
                        bool *emulate, sw_error **err);

/* ---- the architecture table ------------------------------------------------------ */

typedef struct sw_emu_arch
{
  const char *arch;       /* OCI architecture: "arm64" */
  const char *qemu;       /* QEMU's name for it: "aarch64" (qemu-aarch64-static) */
  unsigned char elf_class; /* 1 = ELFCLASS32, 2 = ELFCLASS64 */
  unsigned char elf_data;  /* 1 = little endian, 2 = big endian */
  unsigned short machine;  /* e_machine */
} sw_emu_arch;

#define SW_EMU_MAGIC_LEN 20

/* The entry for PLATFORM's architecture, or NULL. */
const sw_emu_arch *sw_emu_arch_for (const sw_platform *platform);
/* binfmt_misc magic and mask (SW_EMU_MAGIC_LEN bytes each, offset 0) for A. */
void sw_emu_arch_magic (const sw_emu_arch *a, unsigned char magic[SW_EMU_MAGIC_LEN],
                        unsigned char mask[SW_EMU_MAGIC_LEN]);
/* A minimal ELF header prefix for A (what the kernel would see in an executable). */
void sw_emu_arch_sample_header (const sw_emu_arch *a, unsigned char hdr[SW_EMU_MAGIC_LEN]);
/* The binfmt_misc register line ":NAME:M:0:MAGIC:MASK:INTERPRETER:PF" (bytes \x-escaped). */
char *sw_emu_register_line (const sw_emu_arch *a, const char *name, const char *interpreter);

/* ---- QEMU lookup ----------------------------------------------------------------- */

/* Find QEMU for PLATFORM.  search: colon-separated directories replacing the defaults, or
 * NULL ($PATH:/usr/bin:/usr/libexec/qemu-binfmt).  No environment variable is read here. */
int sw_emu_find_qemu (const sw_platform *platform, const char *search, char **path, sw_error **err);

/* A sealed copy of the file at PATH: a memfd (close-on-exec) with its content and the
 * seals F_SEAL_WRITE|GROW|SHRINK|SEAL, so neither whoever runs it nor anyone holding it
 * can change it.  What PRIVATE mode registers instead of the host's QEMU.  -1 on error. */
int sw_emu_sealed_copy (const char *path, sw_error **err);

/* ---- binfmt_misc (only reached for emulated stages) ------------------------------ */

typedef enum sw_emu_binfmt_mode
{
  SW_EMU_BINFMT_AUTO = 0, /* existing, else private, else host */
  SW_EMU_BINFMT_EXISTING, /* only a working host registration; error if none */
  SW_EMU_BINFMT_PRIVATE,  /* only a private instance; error if the kernel has none */
  SW_EMU_BINFMT_HOST,     /* a temporary host registration (even if one exists) */
} sw_emu_binfmt_mode;

/* "auto", "existing", "private", "host" */
int sw_emu_binfmt_mode_parse (const char *s, sw_emu_binfmt_mode *mode, sw_error **err);
const char *sw_emu_binfmt_mode_name (sw_emu_binfmt_mode mode);

typedef struct sw_emu_options
{
  sw_emu_binfmt_mode mode;
  const char *qemu_search; /* see sw_emu_find_qemu(); NULL for the defaults */
  const char *binfmt_dir;  /* the host's binfmt_misc; NULL: /proc/sys/fs/binfmt_misc */
} sw_emu_options;

typedef struct sw_emu sw_emu;

/* Arrange for TARGET's binaries to run on HOST (NULL: this machine), in the order above.
 * When sw_emu_need() says TARGET runs natively, *out is NULL and nothing at all is done
 * — no binfmt_misc, no QEMU — so calling this for a native platform is harmless, and a
 * NULL handle is valid everywhere below (child calls do nothing, release ignores it).
 * In HOST mode this registers on the host now; PRIVATE work happens in the child.  One
 * handle per build and platform, shared by that platform's emulated stages. */
int sw_emu_prepare (const sw_platform *host, const sw_platform *target, const sw_emu_options *opts, sw_emu **out,
                    sw_error **err);

/* The way chosen: SW_EMU_BINFMT_EXISTING, _PRIVATE or _HOST. */
sw_emu_binfmt_mode sw_emu_mode (const sw_emu *e);
/* The interpreter: the QEMU binary, or the existing entry's interpreter. */
const char *sw_emu_interpreter (const sw_emu *e);
/* The host entry's name (EXISTING and HOST modes), else NULL. */
const char *sw_emu_entry_name (const sw_emu *e);

/* The RUN step's child side, in two calls.  Both are async-signal-safe — no allocation,
 * no stdio, no locking libc function, children by raw clone — so a child made by clone3
 * from a multithreaded engine may call them.  On failure: -1, errno set, *what names the
 * step (a static string).  In modes other than PRIVATE both do nothing.
 *
 * sw_emu_child_pre(): after the child has its own namespaces, BEFORE pivot_root (while
 * the host's /proc is reachable): opens our /proc/<pid> there (*procfd; -1 if unneeded).
 *
 * sw_emu_child_enter(): AFTER the sandbox's mounts (overlay, /proc, /sys, /dev…) and
 * pivot_root, and BEFORE it drops capabilities, installs seccomp or starts the command
 * (the command and the step's init inherit what it does):
 *   - a new user namespace mapping every uid/gid to itself, so root stays real root for
 *     files, written by a helper child through procfd (the build's /proc is read-only);
 *   - a new mount namespace owned by it, a fresh binfmt_misc on /proc/sys/fs/binfmt_misc
 *     (works on a read-only /proc), QEMU registered there with the F flag through
 *     /proc/self/fd/N, a sealed memfd copy of QEMU the handle holds (sw_emu_sealed_copy:
 *     QEMU need not be in the build's root, the step's program never holds the fd, and
 *     the interpreter it reaches through /proc/self/exe cannot be written), then that
 *     binfmt_misc mount made read-only, so the step (root in that user namespace, but
 *     without CAP_SYS_ADMIN) can neither unregister the entry nor register its own.
 * Consequences for the step, all documented behaviour of user namespaces: the bounding
 * set is full again (drop capabilities after this call); mounts made before are locked
 * (a step cannot unmount them); mknod of devices and trusted.* xattrs fail with EPERM;
 * sethostname must come before this call (the UTS namespace belongs to the host's user
 * namespace).  Closes procfd. */
int sw_emu_child_pre (const sw_emu *e, int *procfd, const char **what);
int sw_emu_child_enter (const sw_emu *e, int procfd, const char **what);

/* Undo what prepare did (HOST mode: remove exactly our entry, synchronously) and free. */
void sw_emu_release (sw_emu *e);

/* ---- for the engine: a build's handles ------------------------------------------ */

/* One build's emulation: a handle per foreign platform, prepared at the first emulated
 * stage of that platform and shared by its later stages; freeing the set releases them
 * all (host entries removed).  Thread-safe, for platforms built in parallel. */
typedef struct sw_emu_set sw_emu_set;

sw_emu_set *sw_emu_set_new (const sw_emu_options *opts); /* opts may be NULL; copied */
/* The handle for a stage on PLATFORM ("os/arch[/variant]", the plan's stage platform) to
 * pass to the sandbox: NULL when the stage runs natively — it has no RUN step
 * (HAS_RUN false) or the host runs PLATFORM — in which case nothing was touched. */
int sw_emu_set_for_stage (sw_emu_set *s, const char *platform, bool has_run, const sw_emu **out,
                          sw_error **err);
void sw_emu_set_free (sw_emu_set *s);

/* Does this kernel give each user namespace its own binfmt_misc?  Probed once in a
 * throw-away child (new user and mount namespaces, mount binfmt_misc). */
bool sw_emu_private_supported (void);

/* `slipway debug emu host|probe|decide …` (emu/debug.c), results to out.  `run` is not
 * here: it goes through the sandbox (sandbox/debug.c, sw_debug_emu). */
int sw_emu_debug (int argc, char **argv, FILE *out, sw_error **err);
/* The usage text of `slipway debug emu`, run included. */
extern const char sw_emu_debug_usage[];

#endif
