/* image/platform.c — see platform.h.  Behaviour follows containerd's platforms package
 * (Parse, Normalize, Format, Only); the code is our own. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/platform.h"

static const char *const known_os[] = {
  "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
  "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos", NULL,
};

static const char *const known_arch[] = {
  "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
  "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
  "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm", NULL,
};

static bool
in_list (const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp (*list, s) == 0)
      return true;
  return false;
}

static void
lower (char *s)
{
  for (; *s; s++)
    *s = (char) tolower ((unsigned char) *s);
}

static void
replace (char **field, const char *value)
{
  free (*field);
  *field = sw_xstrdup (value);
}

static void
normalize_os (char **os)
{
  if (*os == NULL)
    *os = sw_xstrdup ("");
  lower (*os);
  if (strcmp (*os, "macos") == 0)
    replace (os, "darwin");
}

static void
normalize_arch (char **arch, char **variant)
{
  if (*arch == NULL)
    *arch = sw_xstrdup ("");
  if (*variant == NULL)
    *variant = sw_xstrdup ("");
  lower (*arch);
  lower (*variant);
  const char *a = *arch, *v = *variant;

  if (strcmp (a, "i386") == 0)
    {
      replace (arch, "386");
      replace (variant, "");
    }
  else if (strcmp (a, "x86_64") == 0 || strcmp (a, "x86-64") == 0 || strcmp (a, "amd64") == 0)
    {
      replace (arch, "amd64");
      if (strcmp (v, "v1") == 0)
        replace (variant, "");
    }
  else if (strcmp (a, "aarch64") == 0 || strcmp (a, "arm64") == 0)
    {
      replace (arch, "arm64");
      if (strcmp (v, "8") == 0 || strcmp (v, "v8") == 0 || strcmp (v, "v8.0") == 0)
        replace (variant, "");
      else if (strcmp (v, "9") == 0 || strcmp (v, "9.0") == 0 || strcmp (v, "v9.0") == 0)
        replace (variant, "v9");
    }
  else if (strcmp (a, "armhf") == 0)
    {
      replace (arch, "arm");
      replace (variant, "v7");
    }
  else if (strcmp (a, "armel") == 0)
    {
      replace (arch, "arm");
      replace (variant, "v6");
    }
  else if (strcmp (a, "arm") == 0)
    {
      if (v[0] == '\0' || strcmp (v, "7") == 0)
        replace (variant, "v7");
      else if (strcmp (v, "5") == 0 || strcmp (v, "6") == 0 || strcmp (v, "8") == 0)
        {
          char buf[3] = { 'v', v[0], '\0' };
          replace (variant, buf);
        }
    }
}

void
sw_platform_normalize (sw_platform *p)
{
  normalize_os (&p->os);
  normalize_arch (&p->arch, &p->variant);
  if (p->os_version == NULL)
    p->os_version = sw_xstrdup ("");
}

void
sw_platform_set (sw_platform *out, const char *os, const char *arch, const char *variant)
{
  sw_platform_clear (out);
  out->os = sw_xstrdup (os ? os : "");
  out->arch = sw_xstrdup (arch ? arch : "");
  out->variant = sw_xstrdup (variant ? variant : "");
  sw_platform_normalize (out);
}

static bool
valid_component (const char *s, size_t n, bool dots)
{
  if (n == 0 && !dots)
    return false;
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char) s[i];
      if (!(isalnum (c) || c == '_' || c == '-' || (dots && c == '.')))
        return false;
    }
  return true;
}

static int
invalid (sw_error **err, const char *spec, const char *why)
{
  return sw_error_make (err, EINVAL,
                        "invalid platform \"%s\": %s; expected os/arch[/variant], e.g. linux/arm64 or linux/arm/v7",
                        spec, why);
}

int
sw_platform_parse (const char *spec, sw_platform *out, sw_error **err)
{
  const char *parts[3];
  size_t lens[3];
  size_t n = 0;
  const char *p = spec;

  if (strchr (spec, '*'))
    return invalid (err, spec, "wildcards are not supported");
  for (;;)
    {
      const char *slash = strchr (p, '/');
      size_t len = slash ? (size_t) (slash - p) : strlen (p);
      if (n == 3)
        return invalid (err, spec, "too many components");
      parts[n] = p;
      lens[n] = len;
      n++;
      if (!slash)
        break;
      p = slash + 1;
    }

  /* The first component may be "os(os.version)". */
  const char *osv = NULL;
  size_t osv_len = 0, first_len = lens[0];
  const char *paren = memchr (parts[0], '(', lens[0]);
  if (paren)
    {
      if (lens[0] < 2 || parts[0][lens[0] - 1] != ')')
        return invalid (err, spec, "unbalanced parenthesis in the os component");
      first_len = (size_t) (paren - parts[0]);
      osv = paren + 1;
      osv_len = lens[0] - first_len - 2;
      if (!valid_component (osv, osv_len, true))
        return invalid (err, spec, "bad character in the os version");
    }
  if (!valid_component (parts[0], first_len, false))
    return invalid (err, spec, lens[0] == 0 ? "empty component" : "bad character (allowed: letters, digits, _ and -)");
  for (size_t i = 1; i < n; i++)
    if (!valid_component (parts[i], lens[i], false))
      return invalid (err, spec, lens[i] == 0 ? "empty component" : "bad character (allowed: letters, digits, _ and -)");

  sw_platform_clear (out);
  out->os_version = sw_xstrndup (osv ? osv : "", osv_len);
  if (n == 1)
    {
      cleanup_free char *word = sw_xstrndup (parts[0], first_len);
      lower (word);
      char *os = sw_xstrdup (word);
      normalize_os (&os);
      if (in_list (known_os, os))
        {
          cleanup_platform sw_platform host = SW_PLATFORM_INIT;
          free (os);
          if (sw_platform_host (&host, err) < 0)
            return sw_error_wrap (err, "platform \"%s\"", spec);
          out->os = sw_xstrndup (parts[0], first_len);
          out->arch = steal_pointer (&host.arch);
          out->variant = steal_pointer (&host.variant);
          sw_platform_normalize (out);
          return 0;
        }
      free (os);
      out->arch = sw_xstrdup (word);
      out->variant = sw_xstrdup ("");
      normalize_arch (&out->arch, &out->variant);
      if (!in_list (known_arch, out->arch))
        {
          sw_platform_clear (out);
          return invalid (err, spec, "unknown operating system or architecture");
        }
      out->os = sw_xstrdup ("linux");
      sw_platform_normalize (out);
      return 0;
    }
  out->os = sw_xstrndup (parts[0], first_len);
  out->arch = sw_xstrndup (parts[1], lens[1]);
  out->variant = n == 3 ? sw_xstrndup (parts[2], lens[2]) : sw_xstrdup ("");
  sw_platform_normalize (out);
  return 0;
}

char *
sw_platform_format (const sw_platform *p)
{
  cleanup_buf sw_buf b = SW_BUF_INIT;
  sw_buf_puts (&b, p->os && *p->os ? p->os : "unknown");
  if (p->arch && *p->arch)
    sw_buf_printf (&b, "/%s", p->arch);
  if (p->variant && *p->variant)
    sw_buf_printf (&b, "/%s", p->variant);
  return sw_buf_steal (&b);
}

static const char *
str_or_empty (const char *s)
{
  return s ? s : "";
}

/* Compare two normalized platforms (os, arch, variant). */
static bool
same (const char *os, const char *arch, const char *variant, const sw_platform *b)
{
  return strcmp (os, str_or_empty (b->os)) == 0 && strcmp (arch, str_or_empty (b->arch)) == 0
         && strcmp (variant, str_or_empty (b->variant)) == 0;
}

bool
sw_platform_equal (const sw_platform *a, const sw_platform *b)
{
  cleanup_platform sw_platform na = SW_PLATFORM_INIT, nb = SW_PLATFORM_INIT;
  sw_platform_copy (&na, a);
  sw_platform_copy (&nb, b);
  return same (na.os, na.arch, na.variant, &nb);
}

/* Length of "major.minor.build" at the start of a version string. */
static size_t
build_prefix (const char *v)
{
  int dots = 0;
  size_t i = 0;
  for (; v[i]; i++)
    if (v[i] == '.' && ++dots == 3)
      break;
  return i;
}

/* Windows images only run on a host of the same major.minor.build. */
static bool
os_version_ok (const sw_platform *want, const sw_platform *have)
{
  if (strcmp (str_or_empty (want->os), "windows") != 0)
    return true;
  const char *a = str_or_empty (want->os_version), *b = str_or_empty (have->os_version);
  if (!*a || !*b)
    return true;
  size_t la = build_prefix (a), lb = build_prefix (b);
  return la == lb && memcmp (a, b, la) == 0;
}

/* The variant number of "vN" (or "N"), or -1. */
static int
variant_number (const char *v)
{
  if (*v == 'v')
    v++;
  if (!*v)
    return -1;
  char *end;
  long n = strtol (v, &end, 10);
  return *end || n < 0 || n > 99 ? -1 : (int) n;
}

/* Rank of HAVE in containerd's platformVector for (arch, variant), or -1.  Both sides are
 * normalized; base is the rank of the first vector element. */
static int
vector_rank (const char *os, const char *arch, const char *variant, const sw_platform *have, int base)
{
  int r = base;
  if (same (os, arch, variant, have))
    return r;
  r++;
  if (strcmp (arch, "amd64") == 0)
    {
      int n = variant_number (variant);
      for (int v = n - 1; n > 1 && v >= 1; v--, r++)
        {
          char vv[16];
          snprintf (vv, sizeof vv, "v%d", v);
          if (same (os, arch, v == 1 ? "" : vv, have))
            return r;
        }
      return same (os, "386", "", have) ? r : -1;
    }
  if (strcmp (arch, "arm") == 0)
    {
      int n = variant_number (variant);
      for (int v = n - 1; n > 5 && v >= 5; v--, r++)
        {
          char vv[16];
          snprintf (vv, sizeof vv, "v%d", v);
          if (same (os, arch, vv, have))
            return r;
        }
      return -1;
    }
  if (strcmp (arch, "arm64") == 0)
    {
      /* containerd: arm64 (any variant but v9+) can also run 32-bit arm up to v8. */
      const char *v = *variant ? variant : "v8";
      if (variant_number (v) != 8)
        return -1;
      return vector_rank (os, "arm", "v8", have, r);
    }
  return -1;
}

int
sw_platform_match_rank (const sw_platform *want, const sw_platform *candidate)
{
  cleanup_platform sw_platform w = SW_PLATFORM_INIT, c = SW_PLATFORM_INIT;
  sw_platform_copy (&w, want);
  sw_platform_copy (&c, candidate);
  if (!os_version_ok (&w, &c))
    return -1;
  return vector_rank (w.os, w.arch, w.variant, &c, 0);
}

long
sw_platform_pick (const sw_platform *want, const sw_platform *candidates, size_t n)
{
  long best = -1;
  int best_rank = -1;
  for (size_t i = 0; i < n; i++)
    {
      int r = sw_platform_match_rank (want, &candidates[i]);
      if (r >= 0 && (best < 0 || r < best_rank))
        {
          best = (long) i;
          best_rank = r;
        }
    }
  return best;
}

bool
sw_platform_from_machine (const char *m, const char **arch, const char **variant)
{
  static const struct
  {
    const char *machine, *arch, *variant;
  } table[] = {
    { "x86_64", "amd64", "" },   { "amd64", "amd64", "" },     { "i386", "386", "" },
    { "i486", "386", "" },       { "i586", "386", "" },        { "i686", "386", "" },
    { "aarch64", "arm64", "" },  { "arm64", "arm64", "" },     { "armv8l", "arm", "v8" },
    { "armv7l", "arm", "v7" },   { "armv7", "arm", "v7" },     { "armv6l", "arm", "v6" },
    { "armv5tel", "arm", "v5" }, { "armv5tejl", "arm", "v5" }, { "riscv64", "riscv64", "" },
    { "ppc64le", "ppc64le", "" }, { "ppc64", "ppc64", "" },    { "s390x", "s390x", "" },
    { "mips64", "mips64", "" },  { "loongarch64", "loong64", "" },
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp (table[i].machine, m) == 0)
      {
        *arch = table[i].arch;
        *variant = table[i].variant;
        return true;
      }
  return false;
}

int
sw_platform_host (sw_platform *out, sw_error **err)
{
  struct utsname u;
  const char *arch, *variant;

  if (uname (&u) < 0)
    return sw_error_errno (err, "uname");
  if (!sw_platform_from_machine (u.machine, &arch, &variant))
    return sw_error_make (err, 0, "host platform: unknown machine \"%s\" (uname -m); pass --platform explicitly",
                          u.machine);
  sw_platform_set (out, "linux", arch, variant);
  return 0;
}

void
sw_platform_copy (sw_platform *dst, const sw_platform *src)
{
  sw_platform_clear (dst);
  dst->os = sw_xstrdup (str_or_empty (src->os));
  dst->arch = sw_xstrdup (str_or_empty (src->arch));
  dst->variant = sw_xstrdup (str_or_empty (src->variant));
  dst->os_version = sw_xstrdup (str_or_empty (src->os_version));
  if (src->os_features)
    {
      size_t n = 0;
      while (src->os_features[n])
        n++;
      dst->os_features = sw_xcalloc (n + 1, sizeof (char *));
      for (size_t i = 0; i < n; i++)
        dst->os_features[i] = sw_xstrdup (src->os_features[i]);
    }
  sw_platform_normalize (dst);
}

void
sw_platform_clear (sw_platform *p)
{
  free (p->os);
  free (p->arch);
  free (p->variant);
  free (p->os_version);
  if (p->os_features)
    for (char **f = p->os_features; *f; f++)
      free (*f);
  free (p->os_features);
  *p = (sw_platform) SW_PLATFORM_INIT;
}
