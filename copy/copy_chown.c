/* copy/copy_chown.c — --chown=user[:group] as BuildKit resolves it (its readUser):
 *  - "root" and decimal numbers are ids; a user id alone gives that id as the gid too;
 *  - a user name takes uid and primary gid from the target's /etc/passwd, a group name
 *    the gid from /etc/group (through sandbox/user.h's parser);
 *  - a name that is not there, or a missing file, gives 0 — BuildKit does not fail, so a
 *    Dockerfile that builds there builds here; slipway logs a warning instead. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "copy/copy_int.h"
#include "sandbox/user.h"

#define MAX_USER_FILE (10u << 20)

/* Go's strconv.ParseInt(s, 10, 32), and "root" as 0. */
static bool
parse_id (const char *s, long *out)
{
  if (strcmp (s, "root") == 0)
    {
      *out = 0;
      return true;
    }
  if (!*s)
    return false;
  char *end;
  errno = 0;
  long v = strtol (s, &end, 10);
  if (errno || *end || v < -2147483648L || v > 2147483647L || s[0] == ' ')
    return false;
  *out = v;
  return true;
}

int
sw_copy_chown_resolve (const char *spec, int user_root, uid_t *uid, gid_t *gid, sw_error **err)
{
  cleanup_free char *user = sw_xstrdup (spec);
  char *group = strchr (user, ':');
  if (group)
    *group++ = '\0';
  *uid = 0;
  *gid = 0;
  cleanup_free char *passwd = NULL, *groupf = NULL;
  size_t len;
  long id;
  if (parse_id (user, &id))
    *uid = *gid = (uid_t) id;
  else
    {
      int r = sw_copy_read_in_root (user_root, "/etc/passwd", MAX_USER_FILE, &passwd, &len, err);
      if (r < 0)
        return sw_error_wrap (err, "--chown=%s", spec);
      if (r == 1)
        sw_warn ("--chown=%s: the target has no /etc/passwd; using uid 0 (as BuildKit)", spec);
      else
        {
          sw_user u = { 0 };
          cleanup_error sw_error *e = NULL;
          if (sw_user_resolve (user, passwd, NULL, &u, &e) < 0)
            sw_warn ("--chown=%s: %s; using uid 0 (as BuildKit)", spec, sw_error_message (e));
          else
            {
              *uid = u.uid;
              *gid = u.gid;
            }
          sw_user_clear (&u);
        }
    }
  if (group)
    {
      if (parse_id (group, &id))
        *gid = (gid_t) id;
      else
        {
          int r = sw_copy_read_in_root (user_root, "/etc/group", MAX_USER_FILE, &groupf, &len,
                                        err);
          if (r < 0)
            return sw_error_wrap (err, "--chown=%s", spec);
          cleanup_free char *s = sw_xasprintf ("0:%s", group);
          sw_user u = { 0 };
          cleanup_error sw_error *e = NULL;
          if (r == 1 || sw_user_resolve (s, NULL, groupf, &u, &e) < 0)
            sw_warn ("--chown=%s: group %s not found in the target; keeping gid %u (as BuildKit)",
                     spec, group, (unsigned) *gid);
          else
            *gid = u.gid;
          sw_user_clear (&u);
        }
    }
  return 0;
}
