/* Unit tests for common/gofmt: the outputs of Go's strconv.Quote, %q and %v of a []string,
 * and time.Duration.String(), as Go 1.22 prints them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/gofmt.h"

static void
expect_quote (const char *in, const char *want)
{
  sw_buf b = SW_BUF_INIT;
  sw_go_quote (&b, in);
  if (strcmp (sw_buf_str (&b), want) != 0)
    fail_msg ("quote: got %s, want %s", sw_buf_str (&b), want);
  sw_buf_free (&b);
}

static void
expect_duration (int64_t ns, const char *want)
{
  sw_buf b = SW_BUF_INIT;
  sw_go_duration (&b, ns);
  if (strcmp (sw_buf_str (&b), want) != 0)
    fail_msg ("duration %lld: got %s, want %s", (long long) ns, sw_buf_str (&b), want);
  sw_buf_free (&b);
}

static void
quote_plain_and_escapes (void **state)
{
  expect_quote ("", "\"\"");
  expect_quote ("echo hi", "\"echo hi\"");
  expect_quote ("say \"hi\"", "\"say \\\"hi\\\"\"");
  expect_quote ("a\\b", "\"a\\\\b\"");
  expect_quote ("$X 'q'", "\"$X 'q'\""); /* nothing shell-ish is escaped */
}

static void
quote_control_chars (void **state)
{
  expect_quote ("\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\"");
  expect_quote ("a\x01" "b", "\"a\\x01b\"");
  expect_quote ("\x1b[0m", "\"\\x1b[0m\"");
  expect_quote ("\x7f", "\"\\x7f\"");
  expect_quote ("\xc2\x85", "\"\\u0085\"");   /* C1 control NEL */
  expect_quote ("\xc2\xad", "\"\\u00ad\"");   /* soft hyphen: not printable in Go */
  expect_quote ("\xe2\x80\x8b", "\"\\u200b\""); /* zero width space */
  expect_quote ("\xe2\x80\xa8", "\"\\u2028\""); /* line separator */
  expect_quote ("\xef\xbb\xbf", "\"\\ufeff\""); /* BOM */
}

static void
quote_unicode_and_invalid_utf8 (void **state)
{
  expect_quote ("caf\xc3\xa9", "\"caf\xc3\xa9\"");                 /* é stays */
  expect_quote ("\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\""); /* 日本 */
  expect_quote ("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");       /* 😀 */
  expect_quote ("\xff", "\"\\xff\"");
  expect_quote ("a\xc3", "\"a\\xc3\"");                           /* truncated sequence */
  expect_quote ("\xc0\xaf", "\"\\xc0\\xaf\"");                     /* overlong '/' */
  expect_quote ("\xed\xa0\x80", "\"\\xed\\xa0\\x80\"");             /* a surrogate */
}

static void
lists (void **state)
{
  char *v[] = { "/bin/sh", "-c", "echo \"a b\"", NULL };
  char *empty[] = { NULL };
  sw_buf b = SW_BUF_INIT;
  sw_go_quote_list (&b, v);
  assert_string_equal (sw_buf_str (&b), "[\"/bin/sh\" \"-c\" \"echo \\\"a b\\\"\"]");
  sw_buf_free (&b);
  sw_go_list (&b, v);
  assert_string_equal (sw_buf_str (&b), "[/bin/sh -c echo \"a b\"]");
  sw_buf_free (&b);
  sw_go_quote_list (&b, empty);
  sw_go_list (&b, NULL);
  assert_string_equal (sw_buf_str (&b), "[][]");
  sw_buf_free (&b);
}

static void
durations (void **state)
{
  const int64_t us = 1000, ms = 1000 * us, s = 1000 * ms;
  expect_duration (0, "0s");
  expect_duration (1, "1ns");
  expect_duration (999, "999ns");
  expect_duration (1100, "1.1\xc2\xb5s"); /* µs, as Go writes it (U+00B5) */
  expect_duration (500 * ms, "500ms");
  expect_duration (1 * ms, "1ms");
  expect_duration (1500 * us, "1.5ms");
  expect_duration (999999999, "999.999999ms");
  expect_duration (1 * s, "1s");
  expect_duration (1500 * ms, "1.5s");
  expect_duration (30 * s, "30s");
  expect_duration (90 * s, "1m30s");
  expect_duration (60 * s, "1m0s");
  expect_duration (2 * 3600 * s, "2h0m0s");
  expect_duration (3723 * s + 500 * ms, "1h2m3.5s");
  expect_duration (s + 1, "1.000000001s");
  expect_duration (-1 * s, "-1s");
  expect_duration (-1500 * us, "-1.5ms");
  expect_duration (INT64_MIN, "-2562047h47m16.854775808s");
  expect_duration (INT64_MAX, "2562047h47m16.854775807s");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (quote_plain_and_escapes),
    cmocka_unit_test (quote_control_chars),
    cmocka_unit_test (quote_unicode_and_invalid_utf8),
    cmocka_unit_test (lists),
    cmocka_unit_test (durations),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
