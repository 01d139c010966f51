/* attest/sbom.c — see sbom.h. */
#include <ctype.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/sbom.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "image/digest.h"
#include "image/json.h"

/* Package databases bigger than this are not read (a dpkg status file of a large image is
 * a few MiB). */
#define MAX_RECORD_FILE (64u << 20)
/* A Go binary's build info section, at most. */
#define MAX_BUILDINFO (8u << 20)
#define MAX_DEPTH 64

static const char *const kind_names[] = { "deb", "apk", "npm", "pypi", "golang" };

/* ---- the package list ---------------------------------------------------------------- */

static sw_sbom_pkg *
pkg_add (sw_sbom *s, sw_sbom_kind kind, const char *name, const char *version, const char *source)
{
  s->pkgs = sw_xreallocarray (s->pkgs, s->n + 1, sizeof *s->pkgs);
  sw_sbom_pkg *p = &s->pkgs[s->n++];
  memset (p, 0, sizeof *p);
  p->kind = kind;
  p->name = sw_xstrdup (name);
  p->version = sw_xstrdup (version ? version : "");
  p->source = sw_xstrdup (source ? source : "");
  return p;
}

static void
pkg_clear (sw_sbom_pkg *p)
{
  free (p->name);
  free (p->version);
  free (p->arch);
  free (p->license);
  free (p->source);
  free (p->purl);
}

void
sw_sbom_free (sw_sbom *s)
{
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n; i++)
    pkg_clear (&s->pkgs[i]);
  free (s->pkgs);
  free (s->distro_id);
  free (s->distro_version);
  free (s);
}

/* ---- text helpers ------------------------------------------------------------------- */

/* Iterate over the lines of text: *line and *n for each, false at the end. */
static bool
next_line (const char **cur, const char *end, const char **line, size_t *n)
{
  if (*cur >= end)
    return false;
  const char *nl = memchr (*cur, '\n', (size_t) (end - *cur));
  *line = *cur;
  *n = nl ? (size_t) (nl - *cur) : (size_t) (end - *cur);
  *cur = nl ? nl + 1 : end;
  if (*n && (*line)[*n - 1] == '\r')
    (*n)--;
  return true;
}

/* "Key: value" with key matched case-insensitively: the trimmed value, or NULL. */
static char *
header_value (const char *line, size_t n, const char *key)
{
  size_t k = strlen (key);
  if (n <= k || strncasecmp (line, key, k) != 0 || line[k] != ':')
    return NULL;
  const char *v = line + k + 1, *e = line + n;
  while (v < e && (*v == ' ' || *v == '\t'))
    v++;
  while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  return sw_xstrndup (v, (size_t) (e - v));
}

static void
set_str (char **slot, char *value)
{
  free (*slot);
  *slot = value;
}

/* ---- dpkg ----------------------------------------------------------------------------- */

struct stanza
{
  char *package, *version, *arch, *status, *license;
};

static void
stanza_clear (struct stanza *st)
{
  free (st->package);
  free (st->version);
  free (st->arch);
  free (st->status);
  free (st->license);
  memset (st, 0, sizeof *st);
}

/* dpkg-query -W lists every package the database knows except those that are
 * "not-installed" (purged, but remembered for their selection state). */
static bool
dpkg_listed (const char *status)
{
  if (status == NULL)
    return true; /* status.d/ files of distroless images carry no Status field */
  const char *last = strrchr (status, ' ');
  return strcmp (last ? last + 1 : status, "not-installed") != 0;
}

static void
dpkg_flush (sw_sbom *s, struct stanza *st, const char *source)
{
  if (st->package && st->version && dpkg_listed (st->status))
    {
      sw_sbom_pkg *p = pkg_add (s, SW_SBOM_DEB, st->package, st->version, source);
      p->arch = st->arch ? sw_xstrdup (st->arch) : NULL;
    }
  stanza_clear (st);
}

void
sw_sbom_parse_dpkg (sw_sbom *s, const char *text, size_t len, const char *source)
{
  const char *cur = text, *end = text + len, *line;
  size_t n;
  struct stanza st = { 0 };
  char *v;

  while (next_line (&cur, end, &line, &n))
    {
      if (n == 0)
        {
          dpkg_flush (s, &st, source);
          continue;
        }
      if (line[0] == ' ' || line[0] == '\t')
        continue; /* a continuation line (Description, Conffiles) */
      if ((v = header_value (line, n, "Package")))
        set_str (&st.package, v);
      else if ((v = header_value (line, n, "Version")))
        set_str (&st.version, v);
      else if ((v = header_value (line, n, "Architecture")))
        set_str (&st.arch, v);
      else if ((v = header_value (line, n, "Status")))
        set_str (&st.status, v);
    }
  dpkg_flush (s, &st, source);
}

/* Licenses from a machine-readable debian/copyright (DEP-5): every "License:" field's short
 * names, mapped to SPDX identifiers where there is one (LicenseRef-… otherwise), sorted,
 * joined with AND.  NULL when the file names none (a free-form copyright file). */
static const struct
{
  const char *debian, *spdx;
} deb_license_names[] = {
  { "gpl-1", "GPL-1.0-only" },         { "gpl-1+", "GPL-1.0-or-later" },    { "gpl-2", "GPL-2.0-only" },
  { "gpl-2+", "GPL-2.0-or-later" },    { "gpl-3", "GPL-3.0-only" },         { "gpl-3+", "GPL-3.0-or-later" },
  { "lgpl-2", "LGPL-2.0-only" },       { "lgpl-2+", "LGPL-2.0-or-later" },  { "lgpl-2.1", "LGPL-2.1-only" },
  { "lgpl-2.1+", "LGPL-2.1-or-later" }, { "lgpl-3", "LGPL-3.0-only" },      { "lgpl-3+", "LGPL-3.0-or-later" },
  { "agpl-3", "AGPL-3.0-only" },       { "agpl-3+", "AGPL-3.0-or-later" },  { "gfdl-1.2", "GFDL-1.2-only" },
  { "gfdl-1.2+", "GFDL-1.2-or-later" }, { "gfdl-1.3", "GFDL-1.3-only" },    { "gfdl-1.3+", "GFDL-1.3-or-later" },
  { "expat", "MIT" },                  { "mit", "MIT" },                    { "bsd-2-clause", "BSD-2-Clause" },
  { "bsd-3-clause", "BSD-3-Clause" },  { "bsd-4-clause", "BSD-4-Clause" },  { "apache-2.0", "Apache-2.0" },
  { "artistic", "Artistic-1.0-Perl" }, { "artistic-2.0", "Artistic-2.0" },  { "zlib", "Zlib" },
  { "isc", "ISC" },                    { "mpl-1.1", "MPL-1.1" },            { "mpl-2.0", "MPL-2.0" },
  { "cc0-1.0", "CC0-1.0" },            { "psf-2", "Python-2.0" },           { "curl", "curl" },
  { "openssl", "OpenSSL" },            { "ssleay", "OpenSSL" },             { "x11", "X11" },
  { "unicode", "Unicode-DFS-2016" },   { "bzip2-1.0.6", "bzip2-1.0.6" },    { "ftl", "FTL" },
};

static char *
deb_copyright_licenses (const char *text, size_t len)
{
  const char *cur = text, *end = text + len, *line;
  size_t n;
  char **names = NULL;
  size_t count = 0;
  char *v;

  while (next_line (&cur, end, &line, &n))
    {
      if ((v = header_value (line, n, "License")) == NULL)
        continue;
      char *save = NULL;
      for (char *t = strtok_r (v, " \t,|()", &save); t; t = strtok_r (NULL, " \t,|()", &save))
        {
          if (strcasecmp (t, "or") == 0 || strcasecmp (t, "and") == 0 || strcasecmp (t, "with") == 0
              || strcasecmp (t, "public-domain") == 0 || strchr (t, '/') || strlen (t) > 64)
            continue;
          const char *spdx = NULL;
          for (size_t i = 0; i < sizeof deb_license_names / sizeof *deb_license_names && !spdx; i++)
            if (strcasecmp (t, deb_license_names[i].debian) == 0)
              spdx = deb_license_names[i].spdx;
          sw_buf id = SW_BUF_INIT;
          if (spdx)
            sw_buf_puts (&id, spdx);
          else
            {
              size_t tn = strlen (t);
              bool later = tn > 1 && t[tn - 1] == '+';
              sw_buf_puts (&id, "LicenseRef-");
              for (size_t c = 0; c < tn - later; c++)
                sw_buf_putc (&id, isalnum ((unsigned char) t[c]) || t[c] == '.' || t[c] == '-' ? t[c] : '-');
              if (later)
                sw_buf_puts (&id, "-or-later");
            }
          bool seen = false;
          for (size_t i = 0; i < count && !seen; i++)
            seen = strcmp (names[i], sw_buf_str (&id)) == 0;
          if (seen || count >= 64)
            {
              sw_buf_free (&id);
              continue;
            }
          names = sw_xreallocarray (names, count + 1, sizeof *names);
          names[count++] = sw_buf_steal (&id);
        }
      free (v);
    }
  if (count == 0)
    return NULL;
  for (size_t i = 1; i < count; i++) /* sorted: the same file, the same expression */
    for (size_t j = i; j > 0 && strcmp (names[j - 1], names[j]) > 0; j--)
      {
        char *t = names[j];
        names[j] = names[j - 1];
        names[j - 1] = t;
      }
  sw_buf out = SW_BUF_INIT;
  for (size_t i = 0; i < count; i++)
    {
      sw_buf_printf (&out, "%s%s", i ? " AND " : "", names[i]);
      free (names[i]);
    }
  free (names);
  return sw_buf_steal (&out);
}

/* ---- apk ------------------------------------------------------------------------------ */

static void
apk_flush (sw_sbom *s, struct stanza *st, const char *source)
{
  if (st->package && st->version)
    {
      sw_sbom_pkg *p = pkg_add (s, SW_SBOM_APK, st->package, st->version, source);
      p->arch = st->arch ? sw_xstrdup (st->arch) : NULL;
      p->license = st->license ? sw_xstrdup (st->license) : NULL;
    }
  stanza_clear (st);
}

void
sw_sbom_parse_apk (sw_sbom *s, const char *text, size_t len, const char *source)
{
  const char *cur = text, *end = text + len, *line;
  size_t n;
  struct stanza st = { 0 };

  while (next_line (&cur, end, &line, &n))
    {
      if (n == 0)
        {
          apk_flush (s, &st, source);
          continue;
        }
      if (n < 2 || line[1] != ':')
        continue;
      char *v = sw_xstrndup (line + 2, n - 2);
      switch (line[0])
        {
        case 'P': set_str (&st.package, v); break;
        case 'V': set_str (&st.version, v); break;
        case 'A': set_str (&st.arch, v); break;
        case 'L': set_str (&st.license, v); break;
        default: free (v);
        }
    }
  apk_flush (s, &st, source);
}

/* ---- npm ------------------------------------------------------------------------------ */

/* "license": "MIT", {"type": "MIT"}, or the old "licenses": [{"type": …}, …]. */
static char *
npm_license (json_t *o)
{
  json_t *l = json_object_get (o, "license");
  if (json_is_string (l))
    return sw_xstrdup (json_string_value (l));
  if (json_is_object (l) && json_is_string (json_object_get (l, "type")))
    return sw_xstrdup (json_string_value (json_object_get (l, "type")));
  json_t *ls = json_object_get (o, "licenses");
  if (json_is_array (ls) && json_array_size (ls) > 0)
    {
      sw_buf b = SW_BUF_INIT;
      size_t i;
      json_t *x;
      json_array_foreach (ls, i, x)
        {
          const char *t = json_is_string (x) ? json_string_value (x) : json_string_value (json_object_get (x, "type"));
          if (t)
            sw_buf_printf (&b, "%s%s", b.len ? " OR " : "", t);
        }
      return b.len ? sw_buf_steal (&b) : (sw_buf_free (&b), NULL);
    }
  return NULL;
}

static void
npm_add (sw_sbom *s, const char *name, json_t *o, const char *source)
{
  const char *version = json_string_value (json_object_get (o, "version"));
  if (name == NULL || *name == '\0' || version == NULL || *version == '\0')
    return;
  sw_sbom_pkg *p = pkg_add (s, SW_SBOM_NPM, name, version, source);
  p->license = npm_license (o);
}

void
sw_sbom_parse_npm_package (sw_sbom *s, const char *text, size_t len, const char *source)
{
  json_t *o = json_loadb (text, len, 0, NULL);
  if (json_is_object (o))
    npm_add (s, json_string_value (json_object_get (o, "name")), o, source);
  json_decref (o);
}

/* lockfileVersion 1: "dependencies": {name: {version, dependencies: {…}}}, nested. */
static void
npm_lock_v1 (sw_sbom *s, json_t *deps, const char *source, int depth)
{
  const char *name;
  json_t *d;
  if (!json_is_object (deps) || depth > MAX_DEPTH)
    return;
  json_object_foreach (deps, name, d)
    {
      if (!json_is_object (d))
        continue;
      npm_add (s, name, d, source);
      npm_lock_v1 (s, json_object_get (d, "dependencies"), source, depth + 1);
    }
}

void
sw_sbom_parse_npm_lock (sw_sbom *s, const char *text, size_t len, const char *source)
{
  json_t *o = json_loadb (text, len, 0, NULL);
  json_t *pkgs = json_object_get (o, "packages");
  if (json_is_object (pkgs))
    {
      /* lockfileVersion 2 and 3: "packages": {"node_modules/a/node_modules/@s/b": {…}} */
      const char *key;
      json_t *d;
      json_object_foreach (pkgs, key, d)
        {
          const char *nm = NULL;
          for (const char *p = key; (p = strstr (p, "node_modules/")); p++)
            nm = p;
          if (nm == NULL || !json_is_object (d) || json_is_true (json_object_get (d, "link")))
            continue; /* the root project (""), workspaces, links */
          const char *name = json_string_value (json_object_get (d, "name"));
          npm_add (s, name ? name : nm + strlen ("node_modules/"), d, source);
        }
    }
  else if (json_is_object (o))
    npm_lock_v1 (s, json_object_get (o, "dependencies"), source, 0);
  json_decref (o);
}

/* ---- Python --------------------------------------------------------------------------- */

void
sw_sbom_parse_python_metadata (sw_sbom *s, const char *text, size_t len, const char *source)
{
  const char *cur = text, *end = text + len, *line;
  size_t n;
  cleanup_free char *name = NULL, *version = NULL, *license = NULL, *expr = NULL;
  char *v;

  /* the headers end at the first empty line; the description follows */
  while (next_line (&cur, end, &line, &n) && n > 0)
    {
      if ((v = header_value (line, n, "Name")))
        set_str (&name, v);
      else if ((v = header_value (line, n, "Version")))
        set_str (&version, v);
      else if ((v = header_value (line, n, "License-Expression")))
        set_str (&expr, v);
      else if ((v = header_value (line, n, "License")))
        set_str (&license, v);
    }
  if (name == NULL || version == NULL || *name == '\0')
    return;
  sw_sbom_pkg *p = pkg_add (s, SW_SBOM_PYPI, name, version, source);
  if (expr && *expr)
    p->license = steal_pointer (&expr);
  else if (license && *license && strcasecmp (license, "UNKNOWN") != 0 && strlen (license) < 200)
    p->license = steal_pointer (&license);
}

/* ---- Go ------------------------------------------------------------------------------- */

static const unsigned char go_magic[] = "\xff Go buildinf:";
#define GO_MAGIC_LEN 14
#define GO_HEADER_LEN 32
#define GO_FLAG_INLINE 0x2

static bool
uvarint (const unsigned char **p, const unsigned char *end, uint64_t *out)
{
  uint64_t v = 0;
  for (unsigned shift = 0; *p < end && shift < 64; shift += 7)
    {
      unsigned char c = *(*p)++;
      v |= (uint64_t) (c & 0x7f) << shift;
      if (!(c & 0x80))
        {
          *out = v;
          return true;
        }
    }
  return false;
}

/* A varint-prefixed string: its bytes (which may hold NULs) and length. */
static bool
go_string (const unsigned char **p, const unsigned char *end, const unsigned char **s, size_t *n)
{
  uint64_t len;
  if (!uvarint (p, end, &len) || len > (uint64_t) (end - *p))
    return false;
  *s = *p;
  *n = (size_t) len;
  *p += len;
  return true;
}

int
sw_sbom_go_buildinfo_blob (const unsigned char *data, size_t len, char **go_version, char **modinfo)
{
  const unsigned char *p, *end = data + len, *vers, *mod;
  size_t vn, mn;
  *go_version = *modinfo = NULL;
  if (len < GO_HEADER_LEN || memcmp (data, go_magic, GO_MAGIC_LEN) != 0)
    return 0;
  /* Go 1.18 and later write the two strings inline after the header (varint length,
   * bytes); older ones point at string headers in the data segment: not read. */
  if (!(data[GO_MAGIC_LEN + 1] & GO_FLAG_INLINE))
    return 0;
  p = data + GO_HEADER_LEN;
  if (!go_string (&p, end, &vers, &vn) || !go_string (&p, end, &mod, &mn))
    return 0;
  /* modinfo is wrapped in 16-byte sentinels (binary, NULs included), the last one
   * preceded by a newline */
  if (mn >= 33 && mod[mn - 17] == '\n')
    {
      mod += 16;
      mn -= 32;
    }
  *go_version = sw_xstrndup ((const char *) vers, vn);
  *modinfo = sw_xstrndup ((const char *) mod, mn);
  return 1;
}

static bool
pread_full (int fd, void *buf, size_t n, off_t off)
{
  size_t got = 0;
  while (got < n)
    {
      ssize_t r = pread (fd, (char *) buf + got, n - got, off + (off_t) got);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        return false;
      got += (size_t) r;
    }
  return true;
}

/* The .go.buildinfo section's file offset and size, from the ELF section headers. */
static bool
elf_find_section (int fd, const char *want, uint64_t *off, uint64_t *size)
{
  unsigned char ident[EI_NIDENT];
  if (!pread_full (fd, ident, sizeof ident, 0) || memcmp (ident, ELFMAG, SELFMAG) != 0)
    return false;
  bool is64 = ident[EI_CLASS] == ELFCLASS64;
  bool swap = ident[EI_DATA] != (__BYTE_ORDER == __LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB);
#define FIX16(x) (swap ? __builtin_bswap16 (x) : (x))
#define FIX32(x) (swap ? __builtin_bswap32 (x) : (x))
#define FIX64(x) (swap ? __builtin_bswap64 (x) : (x))
  uint64_t shoff;
  unsigned shentsize, shnum, shstrndx;
  if (is64)
    {
      Elf64_Ehdr h;
      if (!pread_full (fd, &h, sizeof h, 0))
        return false;
      shoff = FIX64 (h.e_shoff), shentsize = FIX16 (h.e_shentsize), shnum = FIX16 (h.e_shnum);
      shstrndx = FIX16 (h.e_shstrndx);
    }
  else
    {
      Elf32_Ehdr h;
      if (!pread_full (fd, &h, sizeof h, 0))
        return false;
      shoff = FIX32 (h.e_shoff), shentsize = FIX16 (h.e_shentsize), shnum = FIX16 (h.e_shnum);
      shstrndx = FIX16 (h.e_shstrndx);
    }
  if (shoff == 0 || shnum == 0 || shnum > 4096 || shstrndx >= shnum
      || shentsize != (is64 ? sizeof (Elf64_Shdr) : sizeof (Elf32_Shdr)))
    return false;
  cleanup_free unsigned char *sh = sw_xmalloc ((size_t) shnum * shentsize);
  if (!pread_full (fd, sh, (size_t) shnum * shentsize, (off_t) shoff))
    return false;
  uint64_t offs[2], sizes[2]; /* [0] the wanted section's candidate, [1] shstrtab */
  uint32_t name_off;
#define SECTION(i, o, sz, nm)                                                                            \
  do                                                                                                     \
    {                                                                                                    \
      if (is64)                                                                                          \
        {                                                                                                \
          Elf64_Shdr *s_ = (Elf64_Shdr *) (sh + (size_t) (i) * shentsize);                                \
          o = FIX64 (s_->sh_offset), sz = FIX64 (s_->sh_size), nm = FIX32 (s_->sh_name);                 \
        }                                                                                                \
      else                                                                                               \
        {                                                                                                \
          Elf32_Shdr *s_ = (Elf32_Shdr *) (sh + (size_t) (i) * shentsize);                                \
          o = FIX32 (s_->sh_offset), sz = FIX32 (s_->sh_size), nm = FIX32 (s_->sh_name);                 \
        }                                                                                                \
    }                                                                                                    \
  while (0)
  SECTION (shstrndx, offs[1], sizes[1], name_off);
  if (sizes[1] == 0 || sizes[1] > (1u << 20))
    return false;
  cleanup_free char *names = sw_xmalloc (sizes[1] + 1);
  if (!pread_full (fd, names, sizes[1], (off_t) offs[1]))
    return false;
  names[sizes[1]] = '\0';
  for (unsigned i = 0; i < shnum; i++)
    {
      SECTION (i, offs[0], sizes[0], name_off);
      if (name_off < sizes[1] && strcmp (names + name_off, want) == 0)
        {
          *off = offs[0];
          *size = sizes[0];
          return true;
        }
    }
  return false;
#undef SECTION
#undef FIX16
#undef FIX32
#undef FIX64
}

int
sw_sbom_go_buildinfo_fd (int fd, char **go_version, char **modinfo)
{
  uint64_t off, size;
  *go_version = *modinfo = NULL;
  if (!elf_find_section (fd, ".go.buildinfo", &off, &size) || size < GO_HEADER_LEN)
    return 0;
  if (size > MAX_BUILDINFO)
    size = MAX_BUILDINFO;
  cleanup_free unsigned char *data = sw_xmalloc (size);
  if (!pread_full (fd, data, size, (off_t) off))
    return 0;
  return sw_sbom_go_buildinfo_blob (data, size, go_version, modinfo);
}

/* "mod\tPATH\tVERSION\tSUM", "dep\t…", "=>\t…" (the previous one's replacement). */
void
sw_sbom_parse_go_modinfo (sw_sbom *s, const char *go_version, const char *modinfo, const char *source)
{
  const char *cur = modinfo, *end = modinfo + strlen (modinfo), *line;
  size_t n;
  sw_sbom_pkg *last = NULL;

  while (next_line (&cur, end, &line, &n))
    {
      cleanup_free char *l = sw_xstrndup (line, n);
      char *f[4] = { 0 };
      char *save = NULL;
      size_t k = 0;
      for (char *p = strtok_r (l, "\t", &save); p && k < 4; p = strtok_r (NULL, "\t", &save))
        f[k++] = p;
      if (k < 2)
        continue;
      bool main_mod = strcmp (f[0], "mod") == 0;
      if (main_mod || strcmp (f[0], "dep") == 0)
        {
          /* the main module of a build from a work tree is "(devel)": no version to report */
          const char *v = f[2] && strcmp (f[2], "(devel)") != 0 ? f[2] : "";
          if (main_mod && *v == '\0')
            {
              last = NULL;
              continue;
            }
          last = pkg_add (s, SW_SBOM_GOLANG, f[1], v, source);
        }
      else if (strcmp (f[0], "=>") == 0 && last)
        {
          /* a replaced module is reported as what was really built in */
          set_str (&last->name, sw_xstrdup (f[1]));
          set_str (&last->version, sw_xstrdup (f[2] ? f[2] : ""));
        }
    }
  if (go_version && strncmp (go_version, "go", 2) == 0)
    {
      /* the standard library, as scanners report it: "stdlib" at the toolchain's version */
      cleanup_free char *v = sw_xstrdup (go_version + 2);
      v[strcspn (v, " ")] = '\0'; /* "go1.22.1 X:boringcrypto" */
      sw_sbom_pkg *p = pkg_add (s, SW_SBOM_GOLANG, "stdlib", v, source);
      p->license = sw_xstrdup ("BSD-3-Clause");
    }
}

/* ---- purls ------------------------------------------------------------------------------ */

static void
pct (sw_buf *b, const char *s, bool keep_slash)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    if (isalnum (*p) || *p == '.' || *p == '-' || *p == '_' || *p == '~' || (keep_slash && *p == '/'))
      sw_buf_putc (b, (char) *p);
    else
      sw_buf_printf (b, "%%%02X", *p);
}

static char *
make_purl (const sw_sbom *s, const sw_sbom_pkg *p)
{
  sw_buf b = SW_BUF_INIT;
  sw_buf_printf (&b, "pkg:%s/", kind_names[p->kind]);
  switch (p->kind)
    {
    case SW_SBOM_DEB:
    case SW_SBOM_APK:
      pct (&b, s->distro_id ? s->distro_id : p->kind == SW_SBOM_DEB ? "debian" : "alpine", false);
      sw_buf_putc (&b, '/');
      pct (&b, p->name, false);
      break;
    case SW_SBOM_NPM:
      if (p->name[0] == '@' && strchr (p->name, '/'))
        {
          /* @scope/name: the scope is the namespace, its '@' encoded */
          const char *slash = strchr (p->name, '/');
          cleanup_free char *scope = sw_xstrndup (p->name, (size_t) (slash - p->name));
          pct (&b, scope, false);
          sw_buf_putc (&b, '/');
          pct (&b, slash + 1, false);
        }
      else
        pct (&b, p->name, false);
      break;
    case SW_SBOM_PYPI:
      {
        /* PEP 503 normalized: lowercase, runs of -_. become one '-' */
        cleanup_free char *norm = sw_xstrdup (p->name);
        char *w = norm;
        for (const char *r = p->name; *r; r++)
          {
            if (*r == '-' || *r == '_' || *r == '.')
              {
                if (w == norm || w[-1] != '-')
                  *w++ = '-';
              }
            else
              *w++ = (char) tolower ((unsigned char) *r);
          }
        *w = '\0';
        pct (&b, norm, false);
        break;
      }
    case SW_SBOM_GOLANG:
      pct (&b, p->name, true);
      break;
    }
  if (*p->version)
    {
      sw_buf_putc (&b, '@');
      pct (&b, p->version, false);
    }
  bool q = false;
  if (p->arch)
    {
      sw_buf_puts (&b, "?arch=");
      pct (&b, p->arch, false);
      q = true;
    }
  if ((p->kind == SW_SBOM_DEB || p->kind == SW_SBOM_APK) && s->distro_id && s->distro_version)
    {
      sw_buf_puts (&b, q ? "&distro=" : "?distro=");
      cleanup_free char *d = sw_xasprintf ("%s-%s", s->distro_id, s->distro_version);
      pct (&b, d, false);
    }
  return sw_buf_steal (&b);
}

static int
pkg_cmp (const void *a, const void *b)
{
  const sw_sbom_pkg *x = a, *y = b;
  int c;
  if (x->kind != y->kind)
    return (int) x->kind - (int) y->kind;
  if ((c = strcmp (x->name, y->name)) || (c = strcmp (x->version, y->version)) || (c = strcmp (x->source, y->source)))
    return c;
  return 0;
}

void
sw_sbom_finish (sw_sbom *s)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->pkgs[i].purl == NULL)
      s->pkgs[i].purl = make_purl (s, &s->pkgs[i]);
  if (s->n > 1)
    qsort (s->pkgs, s->n, sizeof *s->pkgs, pkg_cmp);
  /* The same package seen twice (package-lock.json and node_modules/, a module in two Go
   * binaries) is one package where it was read first. */
  size_t w = 0;
  for (size_t i = 0; i < s->n; i++)
    {
      if (w > 0 && strcmp (s->pkgs[w - 1].purl, s->pkgs[i].purl) == 0)
        {
          pkg_clear (&s->pkgs[i]);
          continue;
        }
      s->pkgs[w++] = s->pkgs[i];
    }
  s->n = w;
}

/* ---- the scan ---------------------------------------------------------------------------- */

/* A small file's bytes, read by fd (NULL when it cannot be read or is too large). */
static char *
slurp_fd (int fd, size_t *len)
{
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || (uint64_t) st.st_size > MAX_RECORD_FILE)
    return NULL;
  char *buf = sw_xmalloc ((size_t) st.st_size + 1);
  if (st.st_size > 0 && !pread_full (fd, buf, (size_t) st.st_size, 0))
    {
      free (buf);
      return NULL;
    }
  buf[st.st_size] = '\0';
  *len = (size_t) st.st_size;
  return buf;
}

static char *
slurp_in_root (int rootfd, const char *path, size_t *len)
{
  cleanup_close int fd = sw_open_in_root (rootfd, path, O_RDONLY | O_NOFOLLOW, 0);
  return fd < 0 ? NULL : slurp_fd (fd, len);
}

typedef void (*parser_fn) (sw_sbom *, const char *, size_t, const char *);

static void
parse_file_at (sw_sbom *s, int dirfd, const char *name, const char *path, parser_fn fn)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  size_t len = 0;
  cleanup_free char *text = fd < 0 ? NULL : slurp_fd (fd, &len);
  if (text)
    fn (s, text, len, path);
}

static void
read_os_release (sw_sbom *s, int rootfd)
{
  size_t len = 0;
  cleanup_free char *text = slurp_in_root (rootfd, "/etc/os-release", &len);
  if (text == NULL)
    text = slurp_in_root (rootfd, "/usr/lib/os-release", &len);
  const char *cur = text, *end = text ? text + len : NULL, *line;
  size_t n;
  while (text && next_line (&cur, end, &line, &n))
    {
      char **slot = NULL;
      size_t k = 0;
      if (n > 3 && strncmp (line, "ID=", 3) == 0)
        slot = &s->distro_id, k = 3;
      else if (n > 11 && strncmp (line, "VERSION_ID=", 11) == 0)
        slot = &s->distro_version, k = 11;
      if (slot == NULL)
        continue;
      const char *v = line + k, *e = line + n;
      if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v)
        v++, e--;
      set_str (slot, sw_xstrndup (v, (size_t) (e - v)));
    }
}

static bool
has_suffix (const char *s, const char *suffix)
{
  size_t n = strlen (s), k = strlen (suffix);
  return n >= k && strcmp (s + n - k, suffix) == 0;
}

/* path ends in "/node_modules/NAME" or "/node_modules/@SCOPE/NAME" */
static bool
is_node_module_dir (const char *path)
{
  const char *last = strrchr (path, '/');
  if (last == NULL || last == path)
    return false;
  const char *p = last - 1;
  while (p > path && *p != '/')
    p--;
  if (p[1] == '@')
    {
      if (p == path)
        return false;
      const char *q = p - 1;
      while (q > path && *q != '/')
        q--;
      return (size_t) (p - q) == strlen ("/node_modules") && strncmp (q, "/node_modules", 13) == 0;
    }
  return (size_t) (last - p) == strlen ("/node_modules") && strncmp (p, "/node_modules", 13) == 0;
}

static void
check_go_binary (sw_sbom *s, int dirfd, const char *name, const char *path)
{
  cleanup_close int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  cleanup_free char *vers = NULL, *mod = NULL;
  if (fd >= 0 && sw_sbom_go_buildinfo_fd (fd, &vers, &mod) == 1)
    sw_sbom_parse_go_modinfo (s, vers, mod, path);
}

static void
walk (sw_sbom *s, int dirfd, const char *dirpath, int depth)
{
  if (depth > MAX_DEPTH)
    return;
  int fd = dup (dirfd);
  if (fd < 0)
    return;
  cleanup_dir DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return;
    }
  bool dist_info = has_suffix (dirpath, ".dist-info");
  bool node_module = is_node_module_dir (dirpath);
  struct dirent *de;
  while ((de = readdir (d)))
    {
      const char *name = de->d_name;
      if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        continue;
      if (depth == 0 && (strcmp (name, "proc") == 0 || strcmp (name, "sys") == 0 || strcmp (name, "dev") == 0))
        continue;
      cleanup_free char *path = sw_xasprintf ("%s/%s", depth == 0 ? "" : dirpath, name);
      struct stat st;
      if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          cleanup_close int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0)
            walk (s, sub, path, depth + 1);
          continue;
        }
      if (!S_ISREG (st.st_mode))
        continue;
      if (dist_info && strcmp (name, "METADATA") == 0)
        parse_file_at (s, dirfd, name, path, sw_sbom_parse_python_metadata);
      else if (node_module && strcmp (name, "package.json") == 0)
        parse_file_at (s, dirfd, name, path, sw_sbom_parse_npm_package);
      else if (strcmp (name, "package-lock.json") == 0)
        parse_file_at (s, dirfd, name, path, sw_sbom_parse_npm_lock);
      else if ((st.st_mode & 0111) && st.st_size >= 4096)
        check_go_binary (s, dirfd, name, path);
    }
}

int
sw_sbom_scan (int rootfd, sw_sbom **out, sw_error **err)
{
  sw_sbom *s = sw_xzalloc (sizeof *s);
  struct stat st;
  size_t len = 0;

  if (fstat (rootfd, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      sw_sbom_free (s);
      return sw_error_make (err, ENOTDIR, "SBOM scan: the root is not a directory");
    }
  read_os_release (s, rootfd);

  cleanup_free char *status = slurp_in_root (rootfd, "/var/lib/dpkg/status", &len);
  if (status)
    sw_sbom_parse_dpkg (s, status, len, "/var/lib/dpkg/status");
  /* distroless: one file per package, no Status field */
  cleanup_close int sd = sw_open_in_root (rootfd, "/var/lib/dpkg/status.d", O_RDONLY | O_DIRECTORY, 0);
  if (sd >= 0)
    {
      int fd2 = dup (sd);
      cleanup_dir DIR *d = fd2 >= 0 ? fdopendir (fd2) : NULL;
      struct dirent *de;
      if (d == NULL && fd2 >= 0)
        close (fd2);
      while (d && (de = readdir (d)))
        {
          if (de->d_name[0] == '.' || has_suffix (de->d_name, ".md5sums"))
            continue;
          cleanup_free char *path = sw_xasprintf ("/var/lib/dpkg/status.d/%s", de->d_name);
          parse_file_at (s, sd, de->d_name, path, sw_sbom_parse_dpkg);
        }
    }
  /* Debian packages' licenses: their copyright files */
  for (size_t i = 0; i < s->n; i++)
    {
      if (s->pkgs[i].kind != SW_SBOM_DEB || strchr (s->pkgs[i].name, '/'))
        continue;
      cleanup_free char *path = sw_xasprintf ("/usr/share/doc/%s/copyright", s->pkgs[i].name);
      size_t clen = 0;
      cleanup_free char *text = slurp_in_root (rootfd, path, &clen);
      if (text)
        s->pkgs[i].license = deb_copyright_licenses (text, clen);
    }
  cleanup_free char *apk = slurp_in_root (rootfd, "/lib/apk/db/installed", &len);
  if (apk)
    sw_sbom_parse_apk (s, apk, len, "/lib/apk/db/installed");
  walk (s, rootfd, "", 0);
  sw_sbom_finish (s);
  *out = s;
  return 0;
}

/* ---- SPDX ---------------------------------------------------------------------------------- */

/* An SPDX ID is [A-Za-z0-9.-]+. */
static void
spdx_id_part (sw_buf *b, const char *s)
{
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    sw_buf_putc (b, isalnum (*p) || *p == '.' || *p == '-' ? (char) *p : '-');
}

/* Whether a license string can stand as an SPDX license expression as it is: identifiers
 * ([A-Za-z0-9.+-], LicenseRef-…) joined by AND, OR, WITH and parentheses. */
static bool
spdx_expression_like (const char *l)
{
  if (*l == '\0')
    return false;
  for (const unsigned char *p = (const unsigned char *) l; *p; p++)
    if (!(isalnum (*p) || strchr (".+-:() ", *p)))
      return false;
  return strstr (l, "  ") == NULL && l[0] != ' ';
}

/* A JSON string from what an image's metadata says: bytes that are not UTF-8 become '?'
 * (jansson refuses them, and a package must not lose its name for a stray byte). */
static json_t *
jstr (const char *v)
{
  json_t *j = json_string (v);
  if (j)
    return j;
  cleanup_free char *copy = sw_xstrdup (v);
  for (char *c = copy; *c; c++)
    if ((unsigned char) *c >= 0x80)
      *c = '?';
  return json_string (copy);
}

static json_t *
spdx_package (const sw_sbom_pkg *p, size_t index)
{
  static const char *const source_of[] = { "DPKG DB", "APK DB", "installed node module", "installed python package",
                                           "go module information" };
  sw_buf id = SW_BUF_INIT;
  json_t *o = json_object ();
  sw_buf_printf (&id, "SPDXRef-Package-%s-", kind_names[p->kind]);
  spdx_id_part (&id, p->name);
  sw_buf_printf (&id, "-%zu", index);
  json_object_set_new (o, "name", jstr (p->name));
  json_object_set_new (o, "SPDXID", json_string (sw_buf_str (&id)));
  if (*p->version)
    json_object_set_new (o, "versionInfo", jstr (p->version));
  json_object_set_new (o, "downloadLocation", json_string ("NOASSERTION"));
  json_object_set_new (o, "filesAnalyzed", json_false ());
  json_object_set_new (o, "licenseConcluded", json_string ("NOASSERTION"));
  if (p->license && spdx_expression_like (p->license))
    json_object_set_new (o, "licenseDeclared", jstr (p->license));
  else
    {
      json_object_set_new (o, "licenseDeclared", json_string ("NOASSERTION"));
      if (p->license)
        json_object_set_new (o, "licenseComments", jstr (p->license));
    }
  json_object_set_new (o, "copyrightText", json_string ("NOASSERTION"));
  cleanup_free char *info = sw_xasprintf ("acquired package info from %s: %s", source_of[p->kind], p->source);
  json_object_set_new (o, "sourceInfo", jstr (info));
  json_t *ref = json_object ();
  json_object_set_new (ref, "referenceCategory", json_string ("PACKAGE-MANAGER"));
  json_object_set_new (ref, "referenceType", json_string ("purl"));
  json_object_set_new (ref, "referenceLocator", jstr (p->purl));
  json_t *refs = json_array ();
  json_array_append_new (refs, ref);
  json_object_set_new (o, "externalRefs", refs);
  sw_buf_free (&id);
  return o;
}

void
sw_sbom_spdx (const sw_sbom *s, const char *name, const char *created, const char *ns_seed, sw_buf *out)
{
  json_t *doc = json_object ();
  sw_buf ns = SW_BUF_INIT;

  sw_buf_puts (&ns, "https://spdx.org/spdxdocs/slipway-");
  spdx_id_part (&ns, name);
  sw_buf_putc (&ns, '-');
  spdx_id_part (&ns, ns_seed);
  json_object_set_new (doc, "spdxVersion", json_string ("SPDX-2.3"));
  json_object_set_new (doc, "dataLicense", json_string ("CC0-1.0"));
  json_object_set_new (doc, "SPDXID", json_string ("SPDXRef-DOCUMENT"));
  json_object_set_new (doc, "name", jstr (name));
  json_object_set_new (doc, "documentNamespace", json_string (sw_buf_str (&ns)));
  json_t *ci = json_object ();
  json_t *creators = json_array ();
  json_array_append_new (creators, json_string ("Organization: slipway"));
  json_array_append_new (creators, json_string ("Tool: slipway-" SLIPWAY_VERSION));
  json_object_set_new (ci, "creators", creators);
  json_object_set_new (ci, "created", json_string (created));
  json_object_set_new (doc, "creationInfo", ci);
  json_t *pkgs = json_array ();
  json_t *rels = json_array ();
  for (size_t i = 0; i < s->n; i++)
    {
      json_t *p = spdx_package (&s->pkgs[i], i);
      json_t *r = json_object ();
      json_object_set_new (r, "spdxElementId", json_string ("SPDXRef-DOCUMENT"));
      json_object_set_new (r, "relatedSpdxElement", json_incref (json_object_get (p, "SPDXID")));
      json_object_set_new (r, "relationshipType", json_string ("DESCRIBES"));
      json_array_append_new (rels, r);
      json_array_append_new (pkgs, p);
    }
  json_object_set_new (doc, "packages", pkgs);
  json_object_set_new (doc, "relationships", rels);
  sw_json_dump (doc, out);
  json_decref (doc);
  sw_buf_free (&ns);
}
