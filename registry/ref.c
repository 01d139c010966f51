/* registry/ref.c — see ref.h.  Grammar from distribution/reference, written anew. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "registry/ref.h"

#define NAME_MAX_TOTAL 255

static bool
alnum_lower (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool
valid_component (const char *s, size_t n)
{
  size_t i = 0;
  if (n == 0 || !alnum_lower (s[0]))
    return false;
  while (i < n)
    {
      while (i < n && alnum_lower (s[i]))
        i++;
      if (i == n)
        return true;
      size_t sep = i;
      if (s[i] == '.')
        i++;
      else if (s[i] == '_')
        {
          i++;
          if (i < n && s[i] == '_')
            i++;
        }
      else if (s[i] == '-')
        while (i < n && s[i] == '-')
          i++;
      else
        return false;
      if (i == sep || i == n || !alnum_lower (s[i]))
        return false;
    }
  return true;
}

static bool
valid_path (const char *p, const char **bad_upper)
{
  const char *s = p;
  for (const char *c = p; *c; c++)
    if (isupper ((unsigned char) *c))
      *bad_upper = c;
  for (;;)
    {
      const char *slash = strchr (s, '/');
      size_t n = slash ? (size_t) (slash - s) : strlen (s);
      if (!valid_component (s, n))
        return false;
      if (!slash)
        return true;
      s = slash + 1;
    }
}

/* host: domain-component(.domain-component)* or [ipv6], then optional :port */
static bool
valid_domain (const char *d)
{
  const char *s = d;
  if (*s == '[')
    {
      const char *e = strchr (s, ']');
      if (!e || e == s + 1)
        return false;
      for (const char *c = s + 1; c < e; c++)
        if (!isxdigit ((unsigned char) *c) && *c != ':')
          return false;
      s = e + 1;
    }
  else
    {
      for (;;)
        {
          size_t n = 0;
          while (isalnum ((unsigned char) s[n]) || s[n] == '-')
            n++;
          if (n == 0 || s[0] == '-' || s[n - 1] == '-')
            return false;
          s += n;
          if (*s != '.')
            break;
          s++;
        }
    }
  if (*s == ':')
    {
      s++;
      if (!isdigit ((unsigned char) *s))
        return false;
      while (isdigit ((unsigned char) *s))
        s++;
    }
  return *s == '\0';
}

static bool
valid_tag (const char *t)
{
  size_t n = strlen (t);
  if (n == 0 || n > 128)
    return false;
  if (!(isalnum ((unsigned char) t[0]) || t[0] == '_'))
    return false;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum ((unsigned char) t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
      return false;
  return true;
}

static bool
is_hex64 (const char *s)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return false;
  return n == 64;
}

void
sw_ref_free (sw_ref *r)
{
  if (r == NULL)
    return;
  free (r->domain);
  free (r->path);
  free (r->tag);
  free (r->digest);
  free (r);
}

static int
bad (sw_error **err, const char *s, const char *why)
{
  sw_error_make (err, EINVAL, "invalid reference \"%s\": %s", s, why);
  return sw_error_set_category (err, SW_ERR_INPUT); /* a name the user wrote, not the registry */
}

int
sw_ref_parse (const char *s, sw_ref **out, sw_error **err)
{
  if (s == NULL || *s == '\0')
    {
      sw_error_make (err, EINVAL, "invalid reference \"\": an image reference is required (e.g. docker.io/library/busybox:latest)");
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (strlen (s) > 4096)
    {
      sw_error_make (err, EINVAL, "invalid reference: longer than 4096 characters");
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (strpbrk (s, " \t\n\r"))
    return bad (err, s, "contains whitespace");
  cleanup_free char *work = sw_xstrdup (s);
  char *digest = NULL, *tag = NULL;
  char *at = strchr (work, '@');
  if (at)
    {
      *at = '\0';
      digest = at + 1;
      if (sw_digest_validate (digest, NULL) < 0)
        return bad (err, s, "the digest after '@' must be sha256:<64 lowercase hex digits>");
    }
  /* a tag is after the last ':' that comes after the last '/' */
  char *slash = strrchr (work, '/');
  char *colon = strrchr (slash ? slash : work, ':');
  if (colon)
    {
      *colon = '\0';
      tag = colon + 1;
      if (!valid_tag (tag))
        return bad (err, s, "the tag must be 1 to 128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'");
    }
  const char *name = work;
  if (*name == '\0')
    return bad (err, s, "the repository name is empty");
  if (is_hex64 (name))
    return bad (err, s, "a 64-character hexadecimal string is an image ID, not a repository name");

  sw_ref *r = sw_xzalloc (sizeof *r);
  const char *first_slash = strchr (name, '/');
  const char *rest;
  bool host_given = false;
  if (first_slash)
    {
      size_t dn = (size_t) (first_slash - name);
      bool lower = true;
      for (size_t i = 0; i < dn; i++)
        if (isupper ((unsigned char) name[i]))
          lower = false;
      if (memchr (name, '.', dn) || memchr (name, ':', dn) || (dn == 9 && memcmp (name, "localhost", 9) == 0) || !lower)
        host_given = true;
    }
  if (host_given)
    {
      r->domain = sw_xstrndup (name, (size_t) (first_slash - name));
      rest = first_slash + 1;
      if (!valid_domain (r->domain))
        {
          sw_ref_free (r);
          return bad (err, s, "the registry host must be a hostname or [IPv6] address with an optional :port");
        }
    }
  else
    {
      r->domain = sw_xstrdup ("docker.io");
      rest = name;
    }
  if (strcmp (r->domain, "index.docker.io") == 0)
    {
      free (r->domain);
      r->domain = sw_xstrdup ("docker.io");
    }
  if (strcmp (r->domain, "docker.io") == 0 && strchr (rest, '/') == NULL)
    r->path = sw_xasprintf ("library/%s", rest);
  else
    r->path = sw_xstrdup (rest);
  const char *upper = NULL;
  if (!valid_path (r->path, &upper) || upper)
    {
      sw_ref_free (r);
      if (upper)
        return bad (err, s, "repository name must be lowercase");
      return bad (err, s, "each path component must be lowercase letters and digits, separated by '.', '_', '__' or '-'");
    }
  if (strlen (r->domain) + 1 + strlen (r->path) > NAME_MAX_TOTAL)
    {
      sw_ref_free (r);
      return bad (err, s, "the repository name is longer than 255 characters");
    }
  r->digest = digest ? sw_xstrdup (digest) : NULL;
  r->tag = tag ? sw_xstrdup (tag) : (digest ? NULL : sw_xstrdup ("latest"));
  *out = r;
  return 0;
}

sw_ref *
sw_ref_dup (const sw_ref *r)
{
  sw_ref *d = sw_xzalloc (sizeof *d);
  d->domain = sw_xstrdup (r->domain);
  d->path = sw_xstrdup (r->path);
  d->tag = r->tag ? sw_xstrdup (r->tag) : NULL;
  d->digest = r->digest ? sw_xstrdup (r->digest) : NULL;
  return d;
}

char *
sw_ref_name (const sw_ref *r)
{
  return sw_xasprintf ("%s/%s", r->domain, r->path);
}

char *
sw_ref_string (const sw_ref *r)
{
  return sw_xasprintf ("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", r->tag ? r->tag : "",
                       r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *
sw_ref_api_host (const sw_ref *r)
{
  return strcmp (r->domain, "docker.io") == 0 ? "registry-1.docker.io" : r->domain;
}

const char *
sw_ref_reference (const sw_ref *r)
{
  return r->digest ? r->digest : r->tag;
}
