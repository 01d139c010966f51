/* sandbox/debug.c — the public sw_debug_run and sw_cancel (slipway.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "emu/emu.h"
#include "sandbox/sandbox.h"
#include "store/state.h"

void
sw_cancel (void)
{
  sw_sandbox_cancel ();
}

static size_t
count (const char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

int
sw_debug_run (const sw_debug_run_options *o, const char *const *argv, int *exit_code, sw_error **err)
{
  sw_state *st = NULL;
  sw_sandbox_spec spec;
  size_t nm = count (o->mounts), ns = count (o->secrets), nh = count (o->ssh);
  sw_mount *mounts = sw_xcalloc (nm + 1, sizeof *mounts);
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
  for (; pm < nm; pm++)
    if (sw_mount_parse (o->mounts[pm], nssh, &mounts[pm], err) < 0)
      goto out;
    else if (mounts[pm].type == SW_MOUNT_SSH)
      nssh++;
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
    sw_mount_clear (&mounts[i]);
  for (size_t i = 0; i < ps; i++)
    sw_secret_src_clear (&secrets[i]);
  for (size_t i = 0; i < ph; i++)
    sw_ssh_src_clear (&ssh[i]);
  free (mounts);
  free (secrets);
  free (ssh);
  return ret;
}
