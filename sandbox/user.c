/* sandbox/user.c — USER spec → uid, gid, groups (see user.h for the rules). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "sandbox/user.h"

#define SW_ID_MAX 2147483647LL

/* A decimal number as Go's strconv.Atoi reads it (optional sign).  Returns false when s
 * is not a number at all. */
static bool
parse_num (const char *s, size_t n, long long *out)
{
  size_t i = 0;
  bool neg = false;
  long long v = 0;

  if (n == 0)
    return false;
  if (s[0] == '+' || s[0] == '-')
    {
      neg = s[0] == '-';
      i = 1;
      if (n == 1)
        return false;
    }
  for (; i < n; i++)
    {
      if (s[i] < '0' || s[i] > '9')
        return false;
      if (v > (1LL << 40)) /* far out of range already; keep it out of range */
        continue;
      v = v * 10 + (s[i] - '0');
    }
  *out = neg ? -v : v;
  return true;
}

/* Split one line into at most max fields at ':'; fields point into line (not
 * terminated), lengths in len[].  Returns the number of fields. */
static int
split_fields (const char *line, size_t n, const char **f, size_t *len, int max)
{
  int k = 0;
  const char *start = line;
  for (size_t i = 0; i <= n && k < max; i++)
    if (i == n || line[i] == ':')
      {
        f[k] = start;
        len[k] = (size_t) (line + i - start);
        k++;
        start = line + i + 1;
      }
  return k;
}

static bool
field_eq (const char *f, size_t n, const char *s)
{
  return strlen (s) == n && memcmp (f, s, n) == 0;
}

static long long
field_num (const char *f, size_t n)
{
  long long v = 0;
  return parse_num (f, n, &v) ? v : 0; /* as runc: a malformed id reads as 0 */
}

/* Iterate over the trimmed, non-empty, non-comment lines of a file's contents. */
typedef struct line_iter
{
  const char *p;
} line_iter;

static bool
next_line (line_iter *it, const char **line, size_t *n)
{
  while (it->p && *it->p)
    {
      const char *s = it->p;
      const char *e = strchr (s, '\n');
      it->p = e ? e + 1 : NULL;
      if (!e)
        e = s + strlen (s);
      while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
        s++;
      while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
      if (s == e || *s == '#')
        continue;
      *line = s;
      *n = (size_t) (e - s);
      return true;
    }
  return false;
}

void
sw_user_clear (sw_user *u)
{
  free (u->groups);
  free (u->home);
  free (u->name);
  memset (u, 0, sizeof *u);
}

int
sw_user_resolve (const char *spec, const char *passwd, const char *group, sw_user *out,
                 sw_error **err)
{
  const char *colon = strchr (spec, ':');
  size_t ulen = colon ? (size_t) (colon - spec) : strlen (spec);
  const char *garg = colon ? colon + 1 : "";
  size_t glen = strlen (garg);
  long long uidnum = 0, gidnum = 0;
  bool uid_numeric = parse_num (spec, ulen, &uidnum);
  bool gid_numeric = parse_num (garg, glen, &gidnum);
  bool matched = false;
  line_iter it;
  const char *line;
  size_t n;

  memset (out, 0, sizeof *out);
  /* runc splits "a:b:c" into user "a", group "b"; the rest is ignored. */
  if (colon && strchr (garg, ':'))
    glen = (size_t) (strchr (garg, ':') - garg), gid_numeric = parse_num (garg, glen, &gidnum);

  it.p = passwd;
  while (passwd && next_line (&it, &line, &n))
    {
      const char *f[7];
      size_t fl[7];
      int k = split_fields (line, n, f, fl, 7);
      long long uid = k > 2 ? field_num (f[2], fl[2]) : 0;
      bool hit;
      if (ulen == 0)
        hit = uid == 0;
      else if (uid_numeric)
        hit = uid == uidnum;
      else
        hit = fl[0] == ulen && memcmp (f[0], spec, ulen) == 0;
      if (!hit)
        continue;
      out->uid = (uid_t) uid;
      out->gid = (gid_t) (k > 3 ? field_num (f[3], fl[3]) : 0);
      out->name = sw_xstrndup (f[0], fl[0]);
      out->home = k > 5 ? sw_xstrndup (f[5], fl[5]) : sw_xstrdup ("");
      matched = true;
      break;
    }
  if (!matched && ulen > 0)
    {
      if (!uid_numeric)
        return sw_error_make (err, ENOENT,
                              "unable to find user %.*s: no matching entries in passwd file",
                              (int) ulen, spec);
      if (uidnum < 0 || uidnum > SW_ID_MAX)
        return sw_error_make (err, ERANGE, "user \"%s\": uids and gids must be in range 0-%lld",
                              spec, SW_ID_MAX);
      out->uid = (uid_t) uidnum;
    }
  if (!out->home)
    out->home = sw_xstrdup ("/");

  if (glen > 0 || matched)
    {
      bool found = false;
      it.p = group;
      while (group && next_line (&it, &line, &n))
        {
          const char *f[4];
          size_t fl[4];
          int k = split_fields (line, n, f, fl, 4);
          long long gid = k > 2 ? field_num (f[2], fl[2]) : 0;
          if (glen > 0)
            {
              bool hit = gid_numeric ? gid == gidnum
                                     : (fl[0] == glen && memcmp (f[0], garg, glen) == 0);
              if (hit)
                {
                  out->gid = (gid_t) gid;
                  found = true;
                  break;
                }
              continue;
            }
          /* implicit form: is the matched user a member? */
          if (k < 4)
            continue;
          const char *m = f[3], *end = f[3] + fl[3];
          while (m < end)
            {
              const char *c = memchr (m, ',', (size_t) (end - m));
              size_t ml = c ? (size_t) (c - m) : (size_t) (end - m);
              if (field_eq (m, ml, out->name))
                {
                  out->groups = sw_xreallocarray (out->groups, out->ngroups + 1, sizeof (gid_t));
                  out->groups[out->ngroups++] = (gid_t) gid;
                  break;
                }
              m += ml + 1;
            }
        }
      if (glen > 0 && !found)
        {
          if (!gid_numeric)
            {
              int r = sw_error_make (err, ENOENT,
                                     "unable to find group %.*s: no matching entries in group file",
                                     (int) glen, garg);
              sw_user_clear (out);
              return r;
            }
          if (gidnum < 0 || gidnum > SW_ID_MAX)
            {
              sw_user_clear (out);
              return sw_error_make (err, ERANGE, "user \"%s\": uids and gids must be in range 0-%lld",
                                    spec, SW_ID_MAX);
            }
          out->gid = (gid_t) gidnum;
        }
    }
  return 0;
}
