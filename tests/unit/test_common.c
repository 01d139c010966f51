/* Unit tests for common/: errors, buffers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/error.h"

static int
fails_with_context (sw_error **err)
{
  if (sw_error_make (err, ENOENT, "open %s", "x") == 0)
    return 0;
  return sw_error_wrap (err, "reading config");
}

static void
error_chain_reads_outermost_first (void **state)
{
  cleanup_error sw_error *err = NULL;
  assert_int_equal (fails_with_context (&err), -1);
  assert_non_null (err);
  assert_string_equal (sw_error_message (err), "reading config: open x");
  assert_int_equal (sw_error_code (err), ENOENT);
}

static void
error_errno_appends_strerror (void **state)
{
  cleanup_error sw_error *err = NULL;
  errno = EACCES;
  sw_error_errno (&err, "open %s", "/etc/x");
  assert_string_equal (sw_error_message (err), "open /etc/x: Permission denied");
  assert_int_equal (sw_error_code (err), EACCES);
}

static void
error_null_is_dropped (void **state)
{
  assert_int_equal (sw_error_make (NULL, 0, "ignored"), -1);
  assert_int_equal (sw_error_wrap (NULL, "ignored"), -1);
}

static void
error_twice_keeps_both (void **state)
{
  cleanup_error sw_error *err = NULL;
  sw_error_make (&err, 0, "first");
  sw_error_make (&err, 0, "second");
  assert_string_equal (sw_error_message (err), "first; second");
}

static void
error_category_innermost_wins (void **state)
{
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_error_category_of (NULL), SW_ERR_INTERNAL);
  sw_error_make (&err, EIO, "GET /v2/");
  assert_int_equal (sw_error_category_of (err), SW_ERR_INTERNAL);
  sw_error_set_category (&err, SW_ERR_REGISTRY);
  sw_error_wrap (&err, "pulling base");
  sw_error_set_category (&err, SW_ERR_INPUT); /* an outer caller's guess does not win */
  assert_int_equal (sw_error_category_of (err), SW_ERR_REGISTRY);
  sw_error_free (err);
  err = NULL;
  errno = ENOSPC;
  sw_error_errno (&err, "writing");
  assert_int_equal (sw_error_category_of (err), SW_ERR_IO);
  sw_error_free (err);
  err = NULL;
  sw_error_make (&err, ECANCELED, "cancelled");
  assert_int_equal (sw_error_category_of (err), SW_ERR_CANCELLED);
  /* moved onto a pending error: the pending one's category stays */
  cleanup_error sw_error *other = NULL;
  sw_error_make (&other, 0, "step");
  sw_error_set_category (&other, SW_ERR_STEP);
  sw_error_move (&err, &other);
  assert_int_equal (sw_error_category_of (err), SW_ERR_CANCELLED);
}

static void
version_agrees (void **state)
{
  char s[32];
  snprintf (s, sizeof s, "%d.%d.%d", SLIPWAY_VERSION_MAJOR, SLIPWAY_VERSION_MINOR, SLIPWAY_VERSION_PATCH);
  assert_string_equal (sw_version (), s);
  assert_int_equal (sw_version_num (), SLIPWAY_VERSION_NUM);
  assert_int_equal (SLIPWAY_VERSION_NUM,
                    (SLIPWAY_VERSION_MAJOR << 16) + (SLIPWAY_VERSION_MINOR << 8) + SLIPWAY_VERSION_PATCH);
}

static void
buf_grows_and_formats (void **state)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  assert_string_equal (sw_buf_str (&b), "");
  for (int i = 0; i < 1000; i++)
    sw_buf_printf (&b, "%d,", i);
  assert_int_equal (b.len, strlen (b.data));
  assert_memory_equal (b.data, "0,1,2,", 6);
  sw_buf_truncate (&b, 2);
  sw_buf_putc (&b, 'x');
  assert_string_equal (sw_buf_str (&b), "0,x");
}

static void
steal_pointer_leaves_null (void **state)
{
  cleanup_free char *s = strdup ("x");
  char *t = steal_pointer (&s);
  assert_null (s);
  free (t);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (error_chain_reads_outermost_first),
    cmocka_unit_test (error_errno_appends_strerror),
    cmocka_unit_test (error_null_is_dropped),
    cmocka_unit_test (error_twice_keeps_both),
    cmocka_unit_test (error_category_innermost_wins),
    cmocka_unit_test (version_agrees),
    cmocka_unit_test (buf_grows_and_formats),
    cmocka_unit_test (steal_pointer_leaves_null),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
