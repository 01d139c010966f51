/* Unit tests for exec/seccomp: the default profile compiles, and the cache holds exactly
 * the compiled program. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "sandbox/seccomp.h"
#include "store/state.h"

static void
profile_compiles_and_is_cached (void **state)
{
  char dir[] = "/tmp/sw-seccomp-test.XXXXXX";
  assert_non_null (mkdtemp (dir));
  const struct sock_fprog *prog = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_seccomp_default (dir, &prog, &err), 0);
  assert_non_null (prog);
  /* hundreds of syscalls on up to three arches: a real program, well under BPF's limit */
  assert_true (prog->len > 300);
  assert_true (prog->len < 4096);

  cleanup_free char *pattern = sw_xasprintf ("%s/seccomp-v*.bpf", dir);
  glob_t g;
  assert_int_equal (glob (pattern, 0, NULL, &g), 0);
  assert_int_equal (g.gl_pathc, 1);
  struct stat st;
  assert_int_equal (stat (g.gl_pathv[0], &st), 0);
  assert_int_equal ((size_t) st.st_size, prog->len * sizeof (struct sock_filter));
  assert_int_equal (st.st_mode & 077, 0);
  void *buf = sw_xmalloc ((size_t) st.st_size);
  int fd = open (g.gl_pathv[0], O_RDONLY);
  assert_int_equal (read (fd, buf, (size_t) st.st_size), st.st_size);
  close (fd);
  assert_memory_equal (buf, prog->filter, (size_t) st.st_size);
  free (buf);
  globfree (&g);

  /* later calls give the same program without work */
  const struct sock_fprog *again = NULL;
  assert_int_equal (sw_seccomp_default (NULL, &again, NULL), 0);
  assert_ptr_equal (again, prog);
  sw_rmtree (dir, NULL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (profile_compiles_and_is_cached),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
