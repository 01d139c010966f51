/* sandbox/user.h — USER resolution, as docker does it.
 *
 * Guarantees: sw_user_resolve() maps a USER spec ("", "name", "uid", "name:group",
 * "uid:gid", …) to uid, gid, supplementary gids and home with the rules of runc's
 * GetExecUser, which docker and BuildKit use:
 *  - "" means uid 0; a name is looked up in passwd (first match wins); a number is a uid
 *    even when no passwd entry has it (then gid 0 and home "/");
 *  - an explicit group (name or number) sets the gid and no supplementary groups;
 *  - otherwise the supplementary groups are those of /etc/group that list the matched
 *    user's name as a member, in file order;
 *  - ids outside 0..2147483647 and unknown names are errors that name the spec.
 * The inputs are the files' contents (NULL when the file does not exist); nothing is
 * read from the filesystem here, so the function is pure and unit-testable.
 */
#ifndef SW_EXEC_USER_H
#define SW_EXEC_USER_H

#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

typedef struct sw_user
{
  uid_t uid;
  gid_t gid;
  size_t ngroups;
  gid_t *groups; /* supplementary gids, owned */
  char *home;    /* owned; "/" when passwd has no entry */
  char *name;    /* matched passwd name, or NULL; owned */
} sw_user;

int sw_user_resolve (const char *spec, const char *passwd, const char *group, sw_user *out,
                     sw_error **err);
void sw_user_clear (sw_user *u);

#endif
