/* Unit tests for image/platform: containerd's documented normalizations, parse errors,
 * formatting, the match order for picking a manifest out of an index, host mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "image/platform.h"

/* parse SPEC and format it back */
static char *
roundtrip (const char *spec)
{
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  cleanup_error sw_error *err = NULL;
  if (sw_platform_parse (spec, &p, &err) < 0)
    return NULL;
  return sw_platform_format (&p);
}

static void
expect (const char *spec, const char *want)
{
  cleanup_free char *got = roundtrip (spec);
  if (got == NULL || strcmp (got, want) != 0)
    fail_msg ("parse(\"%s\"): got \"%s\", want \"%s\"", spec, got ? got : "(error)", want);
}

static void
normalizes_like_containerd (void **state)
{
  expect ("linux/amd64", "linux/amd64");
  expect ("linux/x86_64", "linux/amd64");
  expect ("linux/x86-64", "linux/amd64");
  expect ("linux/amd64/v1", "linux/amd64");
  expect ("linux/amd64/v3", "linux/amd64/v3");
  expect ("linux/aarch64", "linux/arm64");
  expect ("linux/arm64", "linux/arm64");
  expect ("linux/arm64/v8", "linux/arm64");
  expect ("linux/arm64/8", "linux/arm64");
  expect ("linux/aarch64/v8", "linux/arm64");
  expect ("linux/arm64/9", "linux/arm64/v9");
  expect ("linux/armhf", "linux/arm/v7");
  expect ("linux/armel", "linux/arm/v6");
  expect ("linux/arm", "linux/arm/v7");
  expect ("linux/arm/7", "linux/arm/v7");
  expect ("linux/arm/v7", "linux/arm/v7");
  expect ("linux/arm/6", "linux/arm/v6");
  expect ("linux/arm/v5", "linux/arm/v5");
  expect ("linux/arm/8", "linux/arm/v8");
  expect ("linux/i386", "linux/386");
  expect ("linux/386", "linux/386");
  expect ("Linux/AMD64", "linux/amd64");
  expect ("macos/arm64", "darwin/arm64");
  expect ("linux/riscv64", "linux/riscv64");
  expect ("linux/ppc64le", "linux/ppc64le");
  expect ("linux/s390x", "linux/s390x");
  expect ("windows/amd64", "windows/amd64");
  /* a lone architecture means linux */
  expect ("aarch64", "linux/arm64");
  expect ("armhf", "linux/arm/v7");
  expect ("arm", "linux/arm/v7");
  expect ("s390x", "linux/s390x");
}

static void
lone_os_takes_host_arch (void **state)
{
  cleanup_platform sw_platform host = SW_PLATFORM_INIT, p = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_host (&host, NULL), 0);
  assert_int_equal (sw_platform_parse ("linux", &p, NULL), 0);
  assert_true (sw_platform_equal (&host, &p));
}

static void
os_version_in_parentheses (void **state)
{
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("windows(10.0.17763)/amd64", &p, NULL), 0);
  assert_string_equal (p.os, "windows");
  assert_string_equal (p.os_version, "10.0.17763");
  assert_string_equal (p.arch, "amd64");
}

static void
rejects_bad_specs (void **state)
{
  const char *bad[] = { "", "linux/", "/amd64", "linux//v7", "linux/amd64/v1/x", "linux/*",
                        "linux/am d64", "linux/arm64/v8.0", "notanos", "linux(10/amd64", NULL };
  for (const char **b = bad; *b; b++)
    {
      cleanup_platform sw_platform p = SW_PLATFORM_INIT;
      cleanup_error sw_error *err = NULL;
      if (sw_platform_parse (*b, &p, &err) == 0)
        fail_msg ("parse(\"%s\") succeeded", *b);
      assert_non_null (err);
      assert_non_null (strstr (sw_error_message (err), "expected os/arch[/variant]"));
      assert_non_null (strstr (sw_error_message (err), *b));
    }
}

static void
set_normalizes_index_fields (void **state)
{
  cleanup_platform sw_platform p = SW_PLATFORM_INIT;
  sw_platform_set (&p, "linux", "arm64", "v8.0");
  assert_string_equal (p.variant, "");
  sw_platform_set (&p, "linux", "arm", NULL);
  assert_string_equal (p.variant, "v7");
  sw_platform_set (&p, NULL, NULL, NULL);
  cleanup_free char *f = sw_platform_format (&p);
  assert_string_equal (f, "unknown");
}

static void
equal_ignores_spelling (void **state)
{
  cleanup_platform sw_platform a = SW_PLATFORM_INIT, b = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("linux/arm64/v8", &a, NULL), 0);
  sw_platform_set (&b, "linux", "aarch64", NULL);
  assert_true (sw_platform_equal (&a, &b));
  sw_platform_set (&b, "linux", "arm64", "v9");
  assert_false (sw_platform_equal (&a, &b));
}

static int
rank (const char *want, const char *os, const char *arch, const char *variant)
{
  cleanup_platform sw_platform w = SW_PLATFORM_INIT, c = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse (want, &w, NULL), 0);
  sw_platform_set (&c, os, arch, variant);
  return sw_platform_match_rank (&w, &c);
}

static void
match_order_like_containerd_only (void **state)
{
  assert_int_equal (rank ("linux/amd64", "linux", "amd64", NULL), 0);
  assert_int_equal (rank ("linux/amd64", "linux", "386", NULL), 1);
  assert_int_equal (rank ("linux/amd64", "linux", "arm64", NULL), -1);
  assert_int_equal (rank ("linux/amd64", "windows", "amd64", NULL), -1);
  assert_int_equal (rank ("linux/amd64/v3", "linux", "amd64", "v2"), 1);
  assert_int_equal (rank ("linux/amd64/v3", "linux", "amd64", NULL), 2);
  assert_int_equal (rank ("linux/amd64/v3", "linux", "386", NULL), 3);
  assert_int_equal (rank ("linux/amd64", "linux", "amd64", "v2"), -1);
  assert_int_equal (rank ("linux/arm64", "linux", "arm64", "v8"), 0);
  assert_int_equal (rank ("linux/arm64", "linux", "aarch64", NULL), 0);
  assert_int_equal (rank ("linux/arm64", "linux", "arm", "v8"), 1);
  assert_int_equal (rank ("linux/arm64", "linux", "arm", "v7"), 2);
  assert_int_equal (rank ("linux/arm64", "linux", "arm", "v5"), 4);
  assert_int_equal (rank ("linux/arm64", "linux", "amd64", NULL), -1);
  assert_int_equal (rank ("linux/arm/v7", "linux", "arm", NULL), 0);
  assert_int_equal (rank ("linux/arm/v7", "linux", "arm", "v6"), 1);
  assert_int_equal (rank ("linux/arm/v7", "linux", "arm", "v5"), 2);
  assert_int_equal (rank ("linux/arm/v6", "linux", "arm", "v7"), -1);
  assert_int_equal (rank ("linux/arm/v6", "linux", "arm64", NULL), -1);
  assert_int_equal (rank ("linux/386", "linux", "amd64", NULL), -1);
}

static void
pick_prefers_exact_then_order (void **state)
{
  sw_platform idx[4] = { SW_PLATFORM_INIT, SW_PLATFORM_INIT, SW_PLATFORM_INIT, SW_PLATFORM_INIT };
  sw_platform_set (&idx[0], "linux", "arm", "v6");
  sw_platform_set (&idx[1], "linux", "arm", "v7");
  sw_platform_set (&idx[2], "linux", "amd64", NULL);
  sw_platform_set (&idx[3], "linux", "arm64", "v8");
  cleanup_platform sw_platform w = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("linux/arm64", &w, NULL), 0);
  assert_int_equal (sw_platform_pick (&w, idx, 4), 3);
  assert_int_equal (sw_platform_pick (&w, idx, 3), 1); /* no arm64: arm/v7 before arm/v6 */
  assert_int_equal (sw_platform_parse ("linux/s390x", &w, NULL), 0);
  assert_int_equal (sw_platform_pick (&w, idx, 4), -1);
  for (int i = 0; i < 4; i++)
    sw_platform_clear (&idx[i]);
}

static void
windows_os_version_must_agree (void **state)
{
  cleanup_platform sw_platform w = SW_PLATFORM_INIT, c = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("windows(10.0.17763)/amd64", &w, NULL), 0);
  assert_int_equal (sw_platform_parse ("windows(10.0.17763.1234)/amd64", &c, NULL), 0);
  assert_int_equal (sw_platform_match_rank (&w, &c), 0);
  sw_platform_clear (&c);
  assert_int_equal (sw_platform_parse ("windows(10.0.20348.1)/amd64", &c, NULL), 0);
  assert_int_equal (sw_platform_match_rank (&w, &c), -1);
}

static void
machine_mapping (void **state)
{
  const char *a, *v;
  struct
  {
    const char *m, *a, *v;
  } t[] = { { "x86_64", "amd64", "" }, { "aarch64", "arm64", "" }, { "armv7l", "arm", "v7" },
            { "armv6l", "arm", "v6" }, { "i686", "386", "" },       { "riscv64", "riscv64", "" },
            { "ppc64le", "ppc64le", "" }, { "s390x", "s390x", "" } };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    {
      assert_true (sw_platform_from_machine (t[i].m, &a, &v));
      assert_string_equal (a, t[i].a);
      assert_string_equal (v, t[i].v);
    }
  assert_false (sw_platform_from_machine ("vax", &a, &v));
}

static void
copy_keeps_features (void **state)
{
  cleanup_platform sw_platform a = SW_PLATFORM_INIT, b = SW_PLATFORM_INIT;
  sw_platform_set (&a, "windows", "amd64", NULL);
  a.os_features = calloc (2, sizeof (char *));
  a.os_features[0] = strdup ("win32k");
  sw_platform_copy (&b, &a);
  assert_non_null (b.os_features);
  assert_string_equal (b.os_features[0], "win32k");
  assert_null (b.os_features[1]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (normalizes_like_containerd),
    cmocka_unit_test (lone_os_takes_host_arch),
    cmocka_unit_test (os_version_in_parentheses),
    cmocka_unit_test (rejects_bad_specs),
    cmocka_unit_test (set_normalizes_index_fields),
    cmocka_unit_test (equal_ignores_spelling),
    cmocka_unit_test (match_order_like_containerd_only),
    cmocka_unit_test (pick_prefers_exact_then_order),
    cmocka_unit_test (windows_os_version_must_agree),
    cmocka_unit_test (machine_mapping),
    cmocka_unit_test (copy_keeps_features),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
