/* Unit tests for exec/user: USER resolution with docker's (runc's) rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "sandbox/user.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment\n"
                             "\n"
                             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                             "alice:x:1000:1000::/home/alice:/bin/sh\n"
                             "  bob:x:1001:100:Bob:/home/bob:/bin/sh  \n"
                             "1002:x:1003:1003::/home/numeric:/bin/sh\n"
                             "alice:x:2000:2000::/dup:/bin/sh\n";
static const char group[] = "root:x:0:\n"
                            "wheel:x:10:root,alice\n"
                            "users:x:100:\n"
                            "alice:x:1000:\n"
                            "staff:x:50:bob,alice\n"
                            "docker:x:999:alicex,xalice\n";

static void
expect (const char *spec, const char *pw, const char *gr, unsigned uid, unsigned gid,
        const char *home, size_t ngroups, const unsigned *groups)
{
  sw_user u;
  cleanup_error sw_error *err = NULL;
  int r = sw_user_resolve (spec, pw, gr, &u, &err);
  if (r < 0)
    fail_msg ("%s: %s", spec, sw_error_message (err));
  assert_int_equal (u.uid, uid);
  assert_int_equal (u.gid, gid);
  assert_string_equal (u.home, home);
  assert_int_equal (u.ngroups, ngroups);
  for (size_t i = 0; i < ngroups; i++)
    assert_int_equal (u.groups[i], groups[i]);
  sw_user_clear (&u);
}

static void
expect_error (const char *spec, const char *pw, const char *gr, const char *msg)
{
  sw_user u;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_user_resolve (spec, pw, gr, &u, &err), -1);
  assert_non_null (err);
  assert_non_null (strstr (sw_error_message (err), msg));
}

static void
empty_spec_is_root_with_its_groups (void **state)
{
  unsigned g[] = { 10 };
  expect ("", passwd, group, 0, 0, "/root", 1, g);
}

static void
name_gets_passwd_gid_home_and_member_groups (void **state)
{
  unsigned g[] = { 10, 50 };
  expect ("alice", passwd, group, 1000, 1000, "/home/alice", 2, g);
}

static void
numeric_uid_with_entry_is_that_entry (void **state)
{
  unsigned g[] = { 10, 50 };
  expect ("1000", passwd, group, 1000, 1000, "/home/alice", 2, g);
}

static void
numeric_uid_without_entry_gets_gid_0 (void **state)
{
  expect ("4242", passwd, group, 4242, 0, "/", 0, NULL);
}

static void
explicit_group_by_name_or_number_drops_supplementary (void **state)
{
  expect ("alice:staff", passwd, group, 1000, 50, "/home/alice", 0, NULL);
  expect ("alice:50", passwd, group, 1000, 50, "/home/alice", 0, NULL);
  expect ("alice:777", passwd, group, 1000, 777, "/home/alice", 0, NULL);
  expect ("4242:4243", passwd, group, 4242, 4243, "/", 0, NULL);
}

static void
numeric_spec_matches_uid_not_name (void **state)
{
  /* "1002" is a uid, never the user named "1002" */
  expect ("1002", passwd, group, 1002, 0, "/", 0, NULL);
  expect ("1003", passwd, group, 1003, 1003, "/home/numeric", 0, NULL);
}

static void
first_match_wins_and_lines_are_trimmed (void **state)
{
  unsigned g[] = { 50 };
  expect ("bob", passwd, group, 1001, 100, "/home/bob", 1, g);
}

static void
member_names_match_exactly (void **state)
{
  /* docker's "alicex,xalice" must not count as alice */
  unsigned g[] = { 10, 50 };
  expect ("alice", passwd, group, 1000, 1000, "/home/alice", 2, g);
}

static void
missing_files (void **state)
{
  expect ("", NULL, NULL, 0, 0, "/", 0, NULL);
  expect ("123:456", NULL, NULL, 123, 456, "/", 0, NULL);
  expect_error ("alice", NULL, NULL, "unable to find user alice: no matching entries in passwd file");
  expect_error ("1000:staff", NULL, NULL, "unable to find group staff");
}

static void
errors_name_the_spec (void **state)
{
  expect_error ("mallory", passwd, group, "unable to find user mallory");
  expect_error ("alice:nogroup", passwd, group, "unable to find group nogroup: no matching entries in group file");
  expect_error ("-1", passwd, group, "uids and gids must be in range");
  expect_error ("99999999999", passwd, group, "uids and gids must be in range");
  expect_error ("0:-5", passwd, group, "uids and gids must be in range");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (empty_spec_is_root_with_its_groups),
    cmocka_unit_test (name_gets_passwd_gid_home_and_member_groups),
    cmocka_unit_test (numeric_uid_with_entry_is_that_entry),
    cmocka_unit_test (numeric_uid_without_entry_gets_gid_0),
    cmocka_unit_test (explicit_group_by_name_or_number_drops_supplementary),
    cmocka_unit_test (numeric_spec_matches_uid_not_name),
    cmocka_unit_test (first_match_wins_and_lines_are_trimmed),
    cmocka_unit_test (member_names_match_exactly),
    cmocka_unit_test (missing_files),
    cmocka_unit_test (errors_name_the_spec),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
