/* Unit tests for emu/: the decision rule, the magic/mask table against real ELF files,
 * reading binfmt_misc entries, the QEMU lookup and its error, and prepare() against a
 * fake binfmt_misc directory (the real one is exercised by tests/integration/emu.sh). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "emu/binfmt.h"
#include "emu/emu.h"

static char last_warning[512];

static void
record_log (sw_log_level level, const char *msg, void *userdata)
{
  if (level == SW_LOG_WARN)
    snprintf (last_warning, sizeof last_warning, "%s", msg);
}

static bool
need (const char *host, const char *target, bool has_run)
{
  cleanup_platform sw_platform h = SW_PLATFORM_INIT, t = SW_PLATFORM_INIT;
  bool emulate = true;
  assert_int_equal (sw_platform_parse (host, &h, NULL), 0);
  assert_int_equal (sw_platform_parse (target, &t, NULL), 0);
  assert_int_equal (sw_emu_stage_needs (&h, &t, has_run, &emulate, NULL), 0);
  return emulate;
}

static void
decision_rule (void **state)
{
  assert_true (need ("linux/amd64", "linux/arm64", true));
  assert_false (need ("linux/amd64", "linux/arm64", false)); /* no RUN: nothing executes */
  assert_false (need ("linux/amd64", "linux/amd64", true));
  assert_false (need ("linux/amd64", "linux/x86_64", true));
  assert_false (need ("linux/amd64", "linux/amd64/v3", true));
  assert_false (need ("linux/amd64", "linux/386", true));
  assert_true (need ("linux/amd64", "linux/arm/v7", true));
  assert_true (need ("linux/amd64", "linux/riscv64", true));
  assert_true (need ("linux/amd64", "linux/ppc64le", true));
  assert_true (need ("linux/amd64", "linux/s390x", true));
  assert_true (need ("linux/arm64", "linux/amd64", true));
  assert_true (need ("linux/arm64", "linux/386", true));
  assert_false (need ("linux/arm64", "linux/aarch64", true));
  assert_false (need ("linux/arm64", "linux/arm64/v8", true));
  assert_false (need ("linux/arm/v7", "linux/arm/v6", true));
  assert_true (need ("linux/arm/v6", "linux/arm/v7", true));
  assert_true (need ("linux/s390x", "linux/arm64", true));
}

static void
decision_errors (void **state)
{
  cleanup_platform sw_platform h = SW_PLATFORM_INIT, t = SW_PLATFORM_INIT;
  cleanup_error sw_error *err = NULL;
  bool emulate;
  sw_platform_set (&h, "linux", "amd64", NULL);
  sw_platform_set (&t, "windows", "amd64", NULL);
  assert_int_equal (sw_emu_need (&h, &t, &emulate, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "windows/amd64"));
  sw_error_free (steal_pointer (&err));
  sw_platform_set (&t, "linux", "mips", NULL);
  assert_int_equal (sw_emu_need (&h, &t, &emulate, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "no emulator known"));
}

/* The first bytes of an ELF file. */
static size_t
head (const char *path, unsigned char *buf, size_t n)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t r = read (fd, buf, n);
  return r < 0 ? 0 : (size_t) r;
}

static bool
magic_matches (const sw_emu_arch *a, const unsigned char *hdr)
{
  unsigned char magic[SW_EMU_MAGIC_LEN], mask[SW_EMU_MAGIC_LEN];
  sw_emu_arch_magic (a, magic, mask);
  for (int i = 0; i < SW_EMU_MAGIC_LEN; i++)
    if ((hdr[i] ^ magic[i]) & mask[i])
      return false;
  return true;
}

static void
magic_recognizes_real_binaries (void **state)
{
  /* This test program is an ELF for the host: exactly the host's entry must match it. */
  unsigned char hdr[SW_EMU_MAGIC_LEN];
  cleanup_platform sw_platform host = SW_PLATFORM_INIT;
  assert_int_equal (head ("/proc/self/exe", hdr, sizeof hdr), sizeof hdr);
  assert_int_equal (sw_platform_host (&host, NULL), 0);
  const char *arches[] = { "amd64", "arm64", "arm", "386", "riscv64", "ppc64le", "ppc64", "s390x", "loong64" };
  for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
    {
      cleanup_platform sw_platform p = SW_PLATFORM_INIT;
      sw_platform_set (&p, "linux", arches[i], NULL);
      const sw_emu_arch *a = sw_emu_arch_for (&p);
      assert_non_null (a);
      assert_int_equal (magic_matches (a, hdr), strcmp (arches[i], host.arch) == 0);
      /* and each entry matches the sample header it makes */
      unsigned char sample[SW_EMU_MAGIC_LEN];
      sw_emu_arch_sample_header (a, sample);
      assert_true (magic_matches (a, sample));
    }
  /* An arm64 busybox from the test fixtures' cache, when present. */
  const char *cache = getenv ("SW_FIXTURE_CACHE") ? getenv ("SW_FIXTURE_CACHE") : "/var/cache/slipway-tests";
  cleanup_free char *bb = sw_xasprintf ("%s/busybox-arm64/bin/busybox", cache);
  if (head (bb, hdr, sizeof hdr) == sizeof hdr)
    {
      cleanup_platform sw_platform p = SW_PLATFORM_INIT;
      sw_platform_set (&p, "linux", "arm64", NULL);
      assert_true (magic_matches (sw_emu_arch_for (&p), hdr));
      sw_platform_set (&p, "linux", "amd64", NULL);
      assert_false (magic_matches (sw_emu_arch_for (&p), hdr));
    }
}

/* binfmt-support's notation ("\x7fELF\x02…": escapes and plain characters) → bytes */
static size_t
unescape (const char *s, unsigned char *out, size_t max)
{
  size_t n = 0;
  unsigned v;
  while (n < max && *s && *s != '\n' && *s != ' ')
    if (s[0] == '\\' && s[1] == 'x' && sscanf (s + 2, "%2x", &v) == 1)
      {
        out[n++] = (unsigned char) v;
        s += 4;
      }
    else
      out[n++] = (unsigned char) *s++;
  return n;
}

static bool
masked_equal (const unsigned char *hdr, const unsigned char *magic, const unsigned char *mask, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((hdr[i] ^ magic[i]) & mask[i])
      return false;
  return true;
}

/* An independent reference: Debian's qemu-user-static describes each emulator for
 * binfmt-support in /usr/share/binfmts/qemu-NAME.  Our table and theirs must recognize
 * each other's idea of the architecture's executables. */
static void
magic_agrees_with_debian (void **state)
{
  const char *arches[] = { "amd64", "arm64", "arm", "386", "riscv64", "ppc64le", "ppc64", "s390x", "loong64" };
  int compared = 0;
  for (size_t i = 0; i < sizeof arches / sizeof arches[0]; i++)
    {
      cleanup_platform sw_platform p = SW_PLATFORM_INIT;
      sw_platform_set (&p, "linux", arches[i], NULL);
      const sw_emu_arch *a = sw_emu_arch_for (&p);
      cleanup_free char *path = sw_xasprintf ("/usr/share/binfmts/qemu-%s", a->qemu);
      FILE *f = fopen (path, "re");
      if (f == NULL)
        continue; /* not shipped (the host's own architecture is not) */
      unsigned char dm[64], dk[64], mine[SW_EMU_MAGIC_LEN], mask[SW_EMU_MAGIC_LEN], sample[SW_EMU_MAGIC_LEN];
      size_t nm = 0, nk = 0;
      int offset = -1;
      char line[1024];
      while (fgets (line, sizeof line, f))
        {
          if (strncmp (line, "magic ", 6) == 0)
            nm = unescape (line + 6, dm, sizeof dm);
          else if (strncmp (line, "mask ", 5) == 0)
            nk = unescape (line + 5, dk, sizeof dk);
          else if (strncmp (line, "offset ", 7) == 0)
            offset = atoi (line + 7);
        }
      fclose (f);
      assert_int_equal (offset, 0);
      assert_int_equal (nm, SW_EMU_MAGIC_LEN);
      assert_int_equal (nk, SW_EMU_MAGIC_LEN);
      sw_emu_arch_magic (a, mine, mask);
      sw_emu_arch_sample_header (a, sample);
      if (!masked_equal (sample, dm, dk, SW_EMU_MAGIC_LEN))
        fail_msg ("%s: our sample header does not match Debian's %s", arches[i], path);
      if (!masked_equal (dm, mine, mask, SW_EMU_MAGIC_LEN))
        fail_msg ("%s: Debian's magic does not match ours", arches[i]);
      compared++;
    }
  if (compared == 0)
    skip (); /* qemu-user-static not installed */
}

static void
register_line_is_escaped (void **state)
{
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  sw_platform_set (&p, "linux", "arm64", NULL);
  cleanup_free char *line = sw_emu_register_line (sw_emu_arch_for (&p), "slipway-aarch64", "/usr/bin/qemu-aarch64-static");
  assert_string_equal (line, ":slipway-aarch64:M:0:"
                             "\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:"
                             "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:"
                             "/usr/bin/qemu-aarch64-static:PF");
  sw_platform_set (&p, "linux", "s390x", NULL); /* big endian: e_type and e_machine swap */
  cleanup_free char *be = sw_emu_register_line (sw_emu_arch_for (&p), "x", "/q");
  assert_non_null (strstr (be, "\\x00\\x02\\x00\\x16:"));
  assert_non_null (strstr (be, "\\xff\\xfe\\xff\\xff:/q:PF"));
}

static const char entry_f[] = "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\noffset 0\n"
                              "magic 7f454c460201010000000000000000000200b700\n"
                              "mask ffffffffffffff00fffffffffffffffffeffffff\n";

static const char entry_pf[] = "enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: POCF\noffset 0\n"
                               "magic 7f454c460201010000000000000000000200b700\n"
                               "mask ffffffffffffff00fffffffffffffffffeffffff\n";

static void
entry_parsing (void **state)
{
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  unsigned char hdr[SW_EMU_MAGIC_LEN];
  cleanup_free char *interp = NULL;

  sw_platform_set (&p, "linux", "arm64", NULL);
  sw_emu_arch_sample_header (sw_emu_arch_for (&p), hdr);
  bool p_flag = true;
  assert_true (sw_binfmt_entry_matches (entry_f, hdr, sizeof hdr, &interp, &p_flag));
  assert_string_equal (interp, "/usr/bin/qemu-aarch64-static");
  assert_false (p_flag);
  free (steal_pointer (&interp));
  const char *with_p = entry_pf;
  assert_true (sw_binfmt_entry_matches (with_p, hdr, sizeof hdr, NULL, &p_flag));
  assert_true (p_flag);

  /* no F: the interpreter would be looked up inside the build's root */
  char *no_f = sw_xstrdup (entry_f);
  strstr (no_f, "flags: F")[7] = ' ';
  assert_false (sw_binfmt_entry_matches (no_f, hdr, sizeof hdr, NULL, NULL));
  free (no_f);
  char *disabled = sw_xasprintf ("disabled%s", entry_f + 7);
  assert_false (sw_binfmt_entry_matches (disabled, hdr, sizeof hdr, NULL, NULL));
  free (disabled);
  /* a riscv64 header does not match an aarch64 entry */
  sw_platform_set (&p, "linux", "riscv64", NULL);
  sw_emu_arch_sample_header (sw_emu_arch_for (&p), hdr);
  assert_false (sw_binfmt_entry_matches (entry_f, hdr, sizeof hdr, NULL, NULL));
  /* extension entries never match */
  assert_false (sw_binfmt_entry_matches ("enabled\ninterpreter /x\nflags: F\nextension .exe\n", hdr, sizeof hdr, NULL, NULL));
}

static char *
make_dir (void)
{
  char tmpl[] = "/tmp/sw-test-emu.XXXXXX";
  assert_non_null (mkdtemp (tmpl));
  return sw_xstrdup (tmpl);
}

static void
write_file (const char *dir, const char *name, const char *text, mode_t mode)
{
  cleanup_free char *p = sw_xasprintf ("%s/%s", dir, name);
  FILE *f = fopen (p, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
  chmod (p, mode);
}

static void
remove_dir (const char *dir)
{
  cleanup_free char *cmd = sw_xasprintf ("rm -rf '%s'", dir);
  assert_int_equal (system (cmd), 0);
}

static void
qemu_lookup_and_missing_error (void **state)
{
  cleanup_free char *dir = make_dir ();
  cleanup_free char *dir2 = make_dir ();
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  cleanup_error sw_error *err = NULL;
  cleanup_free char *path = NULL;
  cleanup_free char *search = sw_xasprintf ("%s:%s", dir, dir2);

  sw_platform_set (&p, "linux", "arm64", NULL);
  assert_int_equal (sw_emu_find_qemu (&p, search, &path, &err), -1);
  const char *m = sw_error_message (err);
  assert_non_null (strstr (m, "linux/arm64"));
  assert_non_null (strstr (m, "qemu-aarch64-static"));
  assert_non_null (strstr (m, dir2));
  assert_non_null (strstr (m, "apt-get install qemu-user-static"));

  write_file (dir2, "qemu-aarch64", "#!/bin/sh\n", 0755);
  write_file (dir, "qemu-aarch64-static", "not executable", 0644);
  assert_int_equal (sw_emu_find_qemu (&p, search, &path, NULL), 0);
  cleanup_free char *want = sw_xasprintf ("%s/qemu-aarch64", dir2);
  assert_string_equal (path, want);
  free (steal_pointer (&path));
  write_file (dir2, "qemu-aarch64-static", "#!/bin/sh\n", 0755);
  assert_int_equal (sw_emu_find_qemu (&p, search, &path, NULL), 0);
  free (want);
  want = sw_xasprintf ("%s/qemu-aarch64-static", dir2); /* -static wins over the plain name */
  assert_string_equal (path, want);
  remove_dir (dir);
  remove_dir (dir2);
}

static void
prepare_uses_existing_entry_without_qemu (void **state)
{
  cleanup_free char *dir = make_dir ();
  cleanup_platform sw_platform p = SW_PLATFORM_INIT, amd64 = SW_PLATFORM_INIT;
  sw_emu *e = NULL;
  sw_emu_options opts = { SW_EMU_BINFMT_EXISTING, "/nonexistent", NULL };

  opts.binfmt_dir = dir;
  sw_platform_set (&p, "linux", "arm64", NULL);
  sw_platform_set (&amd64, "linux", "amd64", NULL);
  write_file (dir, "status", "enabled\n", 0644);
  write_file (dir, "register", "", 0200);
  write_file (dir, "qemu-arm", "enabled\ninterpreter /usr/bin/qemu-arm-static\nflags: F\noffset 0\n"
                               "magic 7f454c4601010100000000000000000002002800\n"
                               "mask ffffffffffffff00fffffffffffffffffeffffff\n", 0644);
  write_file (dir, "their-aarch64", entry_f, 0644);
  last_warning[0] = '\0';
  assert_int_equal (sw_emu_prepare (&amd64, &p, &opts, &e, NULL), 0);
  assert_int_equal (sw_emu_mode (e), SW_EMU_BINFMT_EXISTING);
  assert_string_equal (sw_emu_entry_name (e), "their-aarch64");
  assert_non_null (strstr (last_warning, "has no P flag")); /* said, since busybox suffers */
  assert_string_equal (sw_emu_interpreter (e), "/usr/bin/qemu-aarch64-static");
  int procfd = 0;
  const char *what = NULL;
  assert_int_equal (sw_emu_child_pre (e, &procfd, &what), 0); /* nothing to do in the child */
  assert_int_equal (procfd, -1);
  assert_int_equal (sw_emu_child_enter (e, procfd, &what), 0);
  sw_emu_release (e);

  /* another build's temporary entry is never used: it goes away with that build */
  write_file (dir, "slipway-aarch64-1-0", entry_pf, 0644);
  assert_int_equal (sw_emu_prepare (&amd64, &p, &opts, &e, NULL), 0);
  assert_string_equal (sw_emu_entry_name (e), "their-aarch64");
  sw_emu_release (e);
  cleanup_free char *tmp_path = sw_xasprintf ("%s/slipway-aarch64-1-0", dir);
  unlink (tmp_path);

  /* auto prefers an entry with the P flag, and then never looks for QEMU (the search
   * path has none) */
  write_file (dir, "their-aarch64-p", entry_pf, 0644);
  opts.mode = SW_EMU_BINFMT_AUTO;
  assert_int_equal (sw_emu_prepare (&amd64, &p, &opts, &e, NULL), 0);
  assert_int_equal (sw_emu_mode (e), SW_EMU_BINFMT_EXISTING);
  assert_string_equal (sw_emu_entry_name (e), "their-aarch64-p");
  sw_emu_release (e);
  /* without P, auto tries a private instance first where the kernel has them (and then
   * needs QEMU: the search path has none, so that is the error) */
  cleanup_free char *pf_path = sw_xasprintf ("%s/their-aarch64-p", dir);
  unlink (pf_path);
  if (geteuid () == 0 && sw_emu_private_supported ())
    {
      cleanup_error sw_error *err2 = NULL;
      assert_int_equal (sw_emu_prepare (&amd64, &p, &opts, &e, &err2), -1);
      assert_non_null (strstr (sw_error_message (err2), "apt-get install qemu-user-static"));
    }

  /* binfmt_misc switched off: the entry does not count */
  cleanup_error sw_error *err = NULL;
  write_file (dir, "status", "disabled\n", 0644);
  opts.mode = SW_EMU_BINFMT_EXISTING;
  assert_int_equal (sw_emu_prepare (&amd64, &p, &opts, &e, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "no working binfmt_misc registration"));

  /* native: no handle, and the (bogus) binfmt dir and QEMU path are never consulted */
  opts.binfmt_dir = "/nonexistent/binfmt_misc";
  e = (sw_emu *) 1;
  assert_int_equal (sw_emu_prepare (&p, &p, &opts, &e, NULL), 0);
  assert_null (e);
  sw_emu_release (NULL);
  remove_dir (dir);
}

static void
host_mode_without_binfmt_misc (void **state)
{
  cleanup_free char *dir = make_dir (); /* no register file: as if not mounted */
  cleanup_free char *qdir = make_dir ();
  cleanup_platform sw_platform host = SW_PLATFORM_INIT, p = SW_PLATFORM_INIT;
  cleanup_error sw_error *err = NULL;
  sw_emu *e = NULL;
  sw_emu_options opts = { SW_EMU_BINFMT_HOST, qdir, dir };

  write_file (qdir, "qemu-aarch64-static", "#!/bin/sh\n", 0755);
  sw_platform_set (&host, "linux", "amd64", NULL);
  sw_platform_set (&p, "linux", "arm64", NULL);
  assert_int_equal (sw_emu_prepare (&host, &p, &opts, &e, &err), -1);
  assert_null (e);
  assert_non_null (strstr (sw_error_message (err), "binfmt_misc is not mounted"));
  remove_dir (dir);
  remove_dir (qdir);
}

static void
private_instance_probe (void **state)
{
  struct utsname u;
  int major = 0, minor = 0;
  uname (&u);
  sscanf (u.release, "%d.%d", &major, &minor);
  if (geteuid () != 0)
    skip ();
  /* The probe is a real test of the kernel: it must agree with the version rule. */
  bool want = major > 6 || (major == 6 && minor >= 7);
  assert_int_equal (sw_emu_private_supported (), want);
}

/* An entry as the kernel shows it, for A's magic, with FLAGS. */
static char *
entry_text (const sw_emu_arch *a, const char *flags)
{
  unsigned char magic[SW_EMU_MAGIC_LEN], mask[SW_EMU_MAGIC_LEN];
  char hm[2 * SW_EMU_MAGIC_LEN + 1], hk[2 * SW_EMU_MAGIC_LEN + 1];
  sw_emu_arch_magic (a, magic, mask);
  for (int i = 0; i < SW_EMU_MAGIC_LEN; i++)
    {
      sprintf (hm + 2 * i, "%02x", magic[i]);
      sprintf (hk + 2 * i, "%02x", mask[i]);
    }
  return sw_xasprintf ("enabled\ninterpreter /usr/bin/qemu-%s-static\nflags: %s\noffset 0\nmagic %s\nmask %s\n",
                       a->qemu, flags, hm, hk);
}

static void
set_one_handle_per_platform (void **state)
{
  cleanup_platform sw_platform host = SW_PLATFORM_INIT, foreign = SW_PLATFORM_INIT;
  cleanup_free char *dir = make_dir ();
  const sw_emu *a = NULL, *b = (const sw_emu *) 1;

  assert_int_equal (sw_platform_host (&host, NULL), 0);
  sw_platform_set (&foreign, "linux", strcmp (host.arch, "arm64") == 0 ? "amd64" : "arm64", NULL);
  cleanup_free char *fs = sw_platform_format (&foreign);
  cleanup_free char *hs = sw_platform_format (&host);
  cleanup_free char *text = entry_text (sw_emu_arch_for (&foreign), "PF");
  write_file (dir, "status", "enabled\n", 0644);
  write_file (dir, "theirs", text, 0644);

  sw_emu_options opts = { SW_EMU_BINFMT_EXISTING, "/nonexistent", dir };
  sw_emu_set *set = sw_emu_set_new (&opts);
  assert_int_equal (sw_emu_set_for_stage (set, hs, true, &a, NULL), 0);
  assert_null (a); /* native */
  assert_int_equal (sw_emu_set_for_stage (set, fs, false, &a, NULL), 0);
  assert_null (a); /* no RUN */
  assert_int_equal (sw_emu_set_for_stage (set, fs, true, &a, NULL), 0);
  assert_non_null (a);
  assert_int_equal (sw_emu_mode (a), SW_EMU_BINFMT_EXISTING);
  assert_string_equal (sw_emu_entry_name (a), "theirs");
  /* another spelling of the same platform: the same handle */
  cleanup_free char *other = sw_xasprintf ("%s", strcmp (foreign.arch, "arm64") == 0 ? "linux/aarch64" : "linux/x86_64");
  assert_int_equal (sw_emu_set_for_stage (set, other, true, &b, NULL), 0);
  assert_ptr_equal (a, b);
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_emu_set_for_stage (set, "linux/s390x", true, &b, &err), -1); /* no entry, existing mode */
  assert_non_null (strstr (sw_error_message (err), "linux/s390x"));
  sw_emu_set_free (set);
  remove_dir (dir);
}

static void
mode_names (void **state)
{
  sw_emu_binfmt_mode m;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_emu_binfmt_mode_parse ("private", &m, NULL), 0);
  assert_int_equal (m, SW_EMU_BINFMT_PRIVATE);
  assert_string_equal (sw_emu_binfmt_mode_name (SW_EMU_BINFMT_HOST), "host");
  assert_int_equal (sw_emu_binfmt_mode_parse ("sometimes", &m, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "auto, existing, private or host"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (decision_rule),
    cmocka_unit_test (decision_errors),
    cmocka_unit_test (magic_recognizes_real_binaries),
    cmocka_unit_test (magic_agrees_with_debian),
    cmocka_unit_test (register_line_is_escaped),
    cmocka_unit_test (entry_parsing),
    cmocka_unit_test (qemu_lookup_and_missing_error),
    cmocka_unit_test (prepare_uses_existing_entry_without_qemu),
    cmocka_unit_test (host_mode_without_binfmt_misc),
    cmocka_unit_test (private_instance_probe),
    cmocka_unit_test (set_one_handle_per_platform),
    cmocka_unit_test (mode_names),
  };
  sw_log_set_handler (record_log, NULL);
  return cmocka_run_group_tests (tests, NULL, NULL);
}
