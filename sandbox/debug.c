/* sandbox/debug.c — sw_debug_run and sw_debug_emu (slipway-debug.h) and the public sw_cancel (slipway.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "emu/emu.h"
#include "sandbox/sandbox.h"
#include "store/state.h"
#include "slipway-debug.h" /* defines sw_debug_run */

void
sw_cancel (void)
{
  sw_sandbox_cancel ();
}

static size_t
count (const char *const *v)
{
  return v ? sw_strlist_len ((char *const *) v) : 0;
}

int
sw_debug_run (const sw_debug_run_options *o, const char *const *argv, int *exit_code, sw_error **err)
{
  sw_state *st = NULL;
  sw_sandbox_spec spec;
  size_t nm = count (o->mounts), ns = count (o->secrets), nh = count (o->ssh);
  sw_df_run_mount *mounts = sw_xcalloc (nm + 1, sizeof *mounts);
  sw_secret_src *secrets = sw_xcalloc (ns + 1, sizeof *secrets);
  sw_ssh_src *ssh = sw_xcalloc (nh + 1, sizeof *ssh);
  size_t pm = 0, ps = 0, ph = 0;
  unsigned nssh = 0;
  char *upper = NULL;
  sw_emu *emu = NULL;
  int ret = -1;

  *exit_code = -1;
  memset (&spec, 0, sizeof spec);
  if (!argv || !argv[0])
    {
      sw_error_make (err, EINVAL, "debug run: no command given (slipway debug run [OPTIONS] -- CMD…)");
      goto out;
    }
  if (sw_net_mode_parse (o->network, &spec.network, err) < 0)
    goto out;
  /* the same parser and defaults as a Dockerfile's RUN --mount */
  for (; pm < nm; pm++)
    {
      int rc = sw_df_run_mount_parse (o->mounts[pm], &mounts[pm], err);
      if (rc == 0)
        rc = sw_df_run_mount_finish (&mounts[pm], nssh, o->workdir, err);
      if (rc < 0)
        {
          sw_error_wrap (err, "--mount %s", o->mounts[pm]);
          pm++;
          goto out;
        }
      if (mounts[pm].type == SW_DF_MOUNT_SSH)
        nssh++;
    }
  for (; ps < ns; ps++)
    if (sw_secret_src_parse (o->secrets[ps], &secrets[ps], err) < 0)
      goto out;
  for (; ph < nh; ph++)
    if (sw_ssh_src_parse (o->ssh[ph], &ssh[ph], err) < 0)
      goto out;
  if (sw_state_open (o->state_dir, &st, err) < 0)
    goto out;
  if (!o->upper && sw_state_mkscratch (st, "upper", &upper, err) < 0)
    goto out;

  spec.state = st;
  spec.lowers = o->lowers;
  spec.upper = o->upper ? o->upper : upper;
  spec.argv = argv;
  spec.env = o->env;
  spec.user = o->user;
  spec.workdir = o->workdir;
  spec.hostname = o->hostname;
  spec.extra_hosts = o->add_hosts;
  spec.mounts = mounts;
  spec.n_mounts = nm;
  spec.context_dir = o->context;
  spec.secrets = secrets;
  spec.n_secrets = ns;
  spec.ssh = ssh;
  spec.n_ssh = nh;
  spec.output = o->output;
  spec.userdata = o->userdata;
  if (o->platform)
    {
      sw_platform target = SW_PLATFORM_INIT;
      int rc = sw_platform_parse (o->platform, &target, err);
      if (rc == 0)
        {
          /* this debug entry point has no option for it: the variable builds default to */
          sw_emu_options eo = { .qemu_search = getenv ("SLIPWAY_QEMU_PATH") };
          rc = sw_emu_prepare (NULL, &target, &eo, &emu, err); /* NULL when native */
        }
      sw_platform_clear (&target);
      if (rc < 0)
        goto out;
      spec.emu = emu;
    }
  ret = sw_sandbox_run (&spec, exit_code, err);
out:
  sw_emu_release (emu);
  sw_state_close (st);
  free (upper);
  for (size_t i = 0; i < pm; i++)
    sw_df_run_mount_clear (&mounts[i]);
  for (size_t i = 0; i < ps; i++)
    sw_secret_src_clear (&secrets[i]);
  for (size_t i = 0; i < ph; i++)
    sw_ssh_src_clear (&ssh[i]);
  free (mounts);
  free (secrets);
  free (ssh);
  return ret;
}

/* ---- `slipway debug emu run`: one command of a platform, through the build sandbox ---- */

struct emu_output
{
  FILE *out, *info;
};

static void
emu_run_output (int stream, const char *line, size_t len, void *ud)
{
  struct emu_output *o = ud;
  FILE *f = stream == 2 ? o->info : o->out;
  fwrite (line, 1, len, f);
  fputc ('\n', f);
  fflush (f);
}

/* ROOTFS is the only (read-only) layer and a scratch upper takes the writes; the emulation
 * is prepared as the engine prepares it (a native platform never reaches binfmt_misc or
 * QEMU), with --binfmt and --qemu-path as the build's options.  The way the emulation was
 * arranged goes to info: "emulation: linux/arm64: private, interpreter …".  Returns the
 * command's exit code, or -1 when it could not run. */
static int
emu_run (int argc, char **argv, FILE *out, FILE *info, sw_error **err)
{
  const char *platform = NULL;
  sw_emu_options opts = { SW_EMU_BINFMT_AUTO, NULL, NULL };
  int i = 0;

  for (; i < argc && argv[i][0] == '-'; i++)
    {
      if (i + 1 >= argc)
        return sw_error_make (err, EINVAL, "%s needs a value\n%s", argv[i], sw_emu_debug_usage);
      if (strcmp (argv[i], "--platform") == 0)
        platform = argv[++i];
      else if (strcmp (argv[i], "--binfmt") == 0)
        {
          if (sw_emu_binfmt_mode_parse (argv[++i], &opts.mode, err) < 0)
            return -1;
        }
      else if (strcmp (argv[i], "--qemu-path") == 0)
        opts.qemu_search = argv[++i];
      else
        return sw_error_make (err, EINVAL, "unknown option %s\n%s", argv[i], sw_emu_debug_usage);
    }
  if (argc - i < 2)
    return sw_error_make (err, EINVAL, "run needs ROOTFS and a command\n%s", sw_emu_debug_usage);
  const char *lowers[] = { argv[i], NULL };
  const char *const *cmd = (const char *const *) argv + i + 1;

  cleanup_platform sw_platform host = SW_PLATFORM_INIT, target = SW_PLATFORM_INIT;
  if (sw_platform_host (&host, err) < 0)
    return -1;
  if (platform == NULL)
    sw_platform_copy (&target, &host);
  else if (sw_platform_parse (platform, &target, err) < 0)
    return -1;
  sw_emu *emu = NULL;
  cleanup_free char *pf = sw_platform_format (&target);
  if (sw_emu_prepare (&host, &target, &opts, &emu, err) < 0)
    return -1;
  if (emu)
    fprintf (info, "emulation: %s: %s, interpreter %s%s%s\n", pf, sw_emu_binfmt_mode_name (sw_emu_mode (emu)),
             sw_emu_interpreter (emu), sw_emu_entry_name (emu) ? ", entry " : "",
             sw_emu_entry_name (emu) ? sw_emu_entry_name (emu) : "");
  else
    fprintf (info, "emulation: %s: native\n", pf);
  fflush (info);

  sw_state *st = NULL;
  cleanup_free char *upper = NULL;
  struct emu_output o = { out, info };
  int code = -1, rc = -1;
  if (sw_state_open (NULL, &st, err) == 0 && sw_state_mkscratch (st, "upper", &upper, err) == 0)
    {
      sw_sandbox_spec spec;
      memset (&spec, 0, sizeof spec);
      spec.state = st;
      spec.lowers = lowers;
      spec.upper = upper;
      spec.argv = cmd;
      spec.output = emu_run_output;
      spec.userdata = &o;
      spec.emu = emu;
      /* a command to try under QEMU needs no network: none, so that no pasta is started
       * (which a user namespace without the rights for it could not) */
      spec.network = SW_NET_NONE;
      rc = sw_sandbox_run (&spec, &code, err);
      if (rc < 0 && code >= 0)
        {
          /* it ran: its exit code is the answer, as a shell's would be */
          sw_error_free (*err);
          *err = NULL;
          rc = code;
        }
      else if (rc == 0)
        rc = code;
    }
  sw_state_close (st);
  sw_emu_release (emu);
  return rc;
}

int
sw_debug_emu (int argc, char **argv, FILE *out, FILE *info, sw_error **err)
{
  if (argc >= 1 && strcmp (argv[0], "run") == 0)
    return emu_run (argc - 1, argv + 1, out, info, err);
  return sw_emu_debug (argc, argv, out, err);
}
