/* copy/dockerignore.c — Go's filepath.Match, moby/patternmatcher, .dockerignore files.
 *
 * patternmatcher compiles each pattern to a Go regexp; we compile to a short token list
 * and match it by backtracking, which gives the same answers for every pattern that
 * filepath.Match accepts (the only ones patternmatcher.New lets through).  The special
 * "exact", "prefix" and "suffix" match kinds are kept as they are because they do not
 * always agree with the regexp (`**file` matches "xfile" by suffix). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/path.h"
#include "common/xalloc.h"
#include "copy/dockerignore.h"

/* ---- UTF-8 ------------------------------------------------------------------- */

#define RUNE_ERROR 0xFFFDu

/* Decode one rune as Go does: an invalid sequence is RUNE_ERROR of width 1. */
static uint32_t
decode_rune (const char *s, size_t *width)
{
  const unsigned char *u = (const unsigned char *) s;
  if (u[0] < 0x80)
    {
      *width = u[0] ? 1 : 0;
      return u[0];
    }
  size_t n;
  uint32_t r, min;
  if ((u[0] & 0xE0) == 0xC0)
    n = 2, r = u[0] & 0x1F, min = 0x80;
  else if ((u[0] & 0xF0) == 0xE0)
    n = 3, r = u[0] & 0x0F, min = 0x800;
  else if ((u[0] & 0xF8) == 0xF0)
    n = 4, r = u[0] & 0x07, min = 0x10000;
  else
    {
      *width = 1;
      return RUNE_ERROR;
    }
  for (size_t i = 1; i < n; i++)
    {
      if ((u[i] & 0xC0) != 0x80)
        {
          *width = 1;
          return RUNE_ERROR;
        }
      r = (r << 6) | (u[i] & 0x3F);
    }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    {
      *width = 1;
      return RUNE_ERROR;
    }
  *width = n;
  return r;
}

/* ---- filepath.Match ---------------------------------------------------------- */

/* One item of a character class, `\` escapes honoured.  -1 on a malformed class. */
static int
class_char (const char **pp, uint32_t *r)
{
  const char *p = *pp;
  if (*p == '\0' || *p == '-' || *p == ']')
    return -1;
  if (*p == '\\')
    {
      p++;
      if (*p == '\0')
        return -1;
    }
  size_t w;
  *r = decode_rune (p, &w);
  if (*r == RUNE_ERROR && w == 1)
    return -1;
  p += w;
  if (*p == '\0')
    return -1;
  *pp = p;
  return 0;
}

/* Match one chunk (no unbracketed '*') against the start of s.
 * Returns -1 on a malformed chunk; else 0 with *ok and *rest. */
static int
match_chunk (const char *chunk, const char *s, const char **rest, bool *ok)
{
  bool failed = false;
  const char *c = chunk;
  while (*c)
    {
      if (!failed && *s == '\0')
        failed = true;
      if (*c == '[')
        {
          uint32_t r = 0;
          if (!failed)
            {
              size_t w;
              r = decode_rune (s, &w);
              s += w;
            }
          c++;
          bool negated = false;
          if (*c == '^')
            {
              negated = true;
              c++;
            }
          bool match = false;
          int nrange = 0;
          for (;;)
            {
              if (*c == ']' && nrange > 0)
                {
                  c++;
                  break;
                }
              uint32_t lo, hi;
              if (class_char (&c, &lo) < 0)
                return -1;
              hi = lo;
              if (*c == '-')
                {
                  c++;
                  if (class_char (&c, &hi) < 0)
                    return -1;
                }
              if (lo <= r && r <= hi)
                match = true;
              nrange++;
            }
          if (match == negated)
            failed = true;
        }
      else if (*c == '?')
        {
          if (!failed)
            {
              if (*s == '/')
                failed = true;
              size_t w;
              decode_rune (s, &w);
              s += w;
            }
          c++;
        }
      else
        {
          if (*c == '\\')
            {
              c++;
              if (*c == '\0')
                return -1;
            }
          if (!failed)
            {
              if (*c != *s)
                failed = true;
              s++;
            }
          c++;
        }
    }
  *ok = !failed;
  *rest = failed ? NULL : s;
  return 0;
}

/* Split off the next chunk: leading stars, then up to the next unbracketed star. */
static const char *
scan_chunk (const char *p, bool *star, char **chunk)
{
  *star = false;
  while (*p == '*')
    {
      p++;
      *star = true;
    }
  bool inrange = false;
  size_t i;
  for (i = 0; p[i]; i++)
    {
      if (p[i] == '\\')
        {
          if (p[i + 1])
            i++;
        }
      else if (p[i] == '[')
        inrange = true;
      else if (p[i] == ']')
        inrange = false;
      else if (p[i] == '*' && !inrange)
        break;
    }
  *chunk = sw_xstrndup (p, i);
  return p + i;
}

int
sw_glob_match (const char *pattern, const char *name, bool *matched)
{
  const char *pat = pattern;
  *matched = false;
  while (*pat)
    {
      bool star;
      cleanup_free char *chunk = NULL;
      pat = scan_chunk (pat, &star, &chunk);
      if (star && *chunk == '\0')
        {
          *matched = strchr (name, '/') == NULL;
          return 0;
        }
      const char *t;
      bool ok;
      int r = match_chunk (chunk, name, &t, &ok);
      if (r == 0 && ok && (*t == '\0' || *pat != '\0'))
        {
          name = t;
          continue;
        }
      if (r < 0)
        return -1;
      if (star)
        {
          bool found = false;
          for (size_t i = 0; name[i] && name[i] != '/'; i++)
            {
              if (match_chunk (chunk, name + i + 1, &t, &ok) < 0)
                return -1;
              if (ok)
                {
                  if (*pat == '\0' && *t != '\0')
                    continue;
                  name = t;
                  found = true;
                  break;
                }
            }
          if (found)
            continue;
        }
      /* Not a match: the rest of the pattern must still be well-formed. */
      while (*pat)
        {
          cleanup_free char *c2 = NULL;
          pat = scan_chunk (pat, &star, &c2);
          if (match_chunk (c2, "", &t, &ok) < 0)
            return -1;
        }
      return 0;
    }
  *matched = *name == '\0';
  return 0;
}

bool
sw_glob_has_wildcards (const char *s)
{
  for (size_t i = 0; s[i]; i++)
    {
      if (s[i] == '\\')
        {
          if (s[i + 1])
            i++;
        }
      else if (s[i] == '*' || s[i] == '?' || s[i] == '[')
        return true;
    }
  return false;
}

/* ---- patternmatcher ---------------------------------------------------------- */

enum match_kind { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_REGEXP };
enum tok_kind { TOK_LIT, TOK_ONE, TOK_CLASS, TOK_STAR, TOK_DSTAR_DIR, TOK_DSTAR_ALL };

typedef struct tok
{
  enum tok_kind kind;
  char c;
  bool negated;
  uint32_t *ranges; /* lo, hi pairs */
  size_t nranges;
} tok;

typedef struct pattern
{
  char *text; /* cleaned, without the leading '!' */
  bool exception;
  enum match_kind kind;
  tok *toks;
  size_t ntoks;
  bool bad; /* accepted by filepath.Match but not by Go's regexp (a reversed range) */
} pattern;

struct sw_patterns
{
  pattern *v;
  size_t n;
  bool exceptions;
};

static tok *
push_tok (pattern *p, enum tok_kind kind)
{
  p->toks = sw_xreallocarray (p->toks, p->ntoks + 1, sizeof (tok));
  tok *t = &p->toks[p->ntoks++];
  memset (t, 0, sizeof *t);
  t->kind = kind;
  return t;
}

/* Parse a class starting after '['; returns the position after ']' or NULL. */
static const char *
compile_class (const char *c, tok *t, bool *bad)
{
  if (*c == '^')
    {
      t->negated = true;
      c++;
    }
  for (;;)
    {
      if (*c == ']' && t->nranges > 0)
        return c + 1;
      uint32_t lo, hi;
      if (class_char (&c, &lo) < 0)
        return NULL;
      hi = lo;
      if (*c == '-')
        {
          c++;
          if (class_char (&c, &hi) < 0)
            return NULL;
        }
      if (lo > hi)
        *bad = true;
      t->ranges = sw_xreallocarray (t->ranges, 2 * (t->nranges + 1), sizeof (uint32_t));
      t->ranges[2 * t->nranges] = lo;
      t->ranges[2 * t->nranges + 1] = hi;
      t->nranges++;
    }
}

static void
compile_pattern (pattern *p)
{
  enum match_kind kind = MATCH_EXACT;
  const char *s = p->text;
  for (int i = 0; *s; i++)
    {
      char ch = *s++;
      if (ch == '*')
        {
          if (*s == '*')
            {
              s++;
              if (*s == '/')
                s++;
              if (*s == '\0')
                {
                  if (kind == MATCH_EXACT)
                    kind = MATCH_PREFIX;
                  else
                    {
                      push_tok (p, TOK_DSTAR_ALL);
                      kind = MATCH_REGEXP;
                    }
                }
              else
                {
                  push_tok (p, TOK_DSTAR_DIR);
                  kind = MATCH_REGEXP;
                }
              if (i == 0)
                kind = MATCH_SUFFIX;
            }
          else
            {
              push_tok (p, TOK_STAR);
              kind = MATCH_REGEXP;
            }
        }
      else if (ch == '?')
        {
          push_tok (p, TOK_ONE);
          kind = MATCH_REGEXP;
        }
      else if (ch == '\\')
        {
          if (*s)
            {
              push_tok (p, TOK_LIT)->c = *s++;
              kind = MATCH_REGEXP;
            }
          else
            push_tok (p, TOK_LIT)->c = '\\';
        }
      else if (ch == '[')
        {
          tok *t = push_tok (p, TOK_CLASS);
          const char *end = compile_class (s, t, &p->bad);
          if (!end)
            {
              p->bad = true;
              break;
            }
          s = end;
          kind = MATCH_REGEXP;
        }
      else if (ch == ']')
        {
          push_tok (p, TOK_LIT)->c = ch;
          kind = MATCH_REGEXP;
        }
      else
        push_tok (p, TOK_LIT)->c = ch;
    }
  p->kind = kind;
}

/* Backtracking with a memo of (token, position) pairs known to fail, so the match is
 * polynomial like Go's regexp engine, whatever the pattern. */
typedef struct mctx
{
  const char *base;
  size_t len, ntoks;
  unsigned char *failed;
} mctx;

static bool tok_match_1 (mctx *m, const tok *t, size_t nt, const char *s);

static bool
tok_match (mctx *m, const tok *t, size_t nt, const char *s)
{
  size_t key = (m->ntoks - nt) * (m->len + 1) + (size_t) (s - m->base);
  if (m->failed[key])
    return false;
  bool r = tok_match_1 (m, t, nt, s);
  if (!r)
    m->failed[key] = 1;
  return r;
}

static bool
tok_match_1 (mctx *m, const tok *t, size_t nt, const char *s)
{
  if (nt == 0)
    return *s == '\0';
  size_t w;
  switch (t->kind)
    {
    case TOK_LIT:
      return *s == t->c && tok_match (m, t + 1, nt - 1, s + 1);
    case TOK_ONE:
      if (*s == '\0' || *s == '/')
        return false;
      decode_rune (s, &w);
      return tok_match (m, t + 1, nt - 1, s + w);
    case TOK_CLASS:
      {
        if (*s == '\0')
          return false;
        uint32_t r = decode_rune (s, &w);
        bool in = false;
        for (size_t i = 0; i < t->nranges; i++)
          if (t->ranges[2 * i] <= r && r <= t->ranges[2 * i + 1])
            in = true;
        return in != t->negated && tok_match (m, t + 1, nt - 1, s + w);
      }
    case TOK_STAR:
      for (const char *p = s;; p += w)
        {
          if (tok_match (m, t + 1, nt - 1, p))
            return true;
          if (*p == '\0' || *p == '/')
            return false;
          decode_rune (p, &w);
        }
    case TOK_DSTAR_DIR: /* the regexp (.*SLASH)? */
      if (tok_match (m, t + 1, nt - 1, s))
        return true;
      for (const char *p = s; *p && *p != '\n'; p++)
        if (*p == '/' && tok_match (m, t + 1, nt - 1, p + 1))
          return true;
      return false;
    case TOK_DSTAR_ALL: /* the regexp .* */
      for (const char *p = s;; p++)
        {
          if (tok_match (m, t + 1, nt - 1, p))
            return true;
          if (*p == '\0' || *p == '\n')
            return false;
        }
    }
  return false;
}

static int
pattern_match (const pattern *p, const char *path, bool *matched, sw_error **err)
{
  size_t n = strlen (p->text), pl = strlen (path);
  if (p->bad)
    return sw_error_make (err, EINVAL, "syntax error in pattern %s", p->text);
  switch (p->kind)
    {
    case MATCH_EXACT:
      *matched = strcmp (path, p->text) == 0;
      break;
    case MATCH_PREFIX:
      *matched = strncmp (path, p->text, n - 2) == 0;
      break;
    case MATCH_SUFFIX:
      {
        const char *suffix = p->text + 2;
        size_t sl = n - 2;
        *matched = (pl >= sl && strcmp (path + pl - sl, suffix) == 0)
                   || (suffix[0] == '/' && strcmp (path, suffix + 1) == 0);
        break;
      }
    case MATCH_REGEXP:
      {
        mctx m = { path, pl, p->ntoks, sw_xcalloc ((p->ntoks + 1) * (pl + 1), 1) };
        *matched = tok_match (&m, p->toks, p->ntoks, path);
        free (m.failed);
      }
      break;
    }
  return 0;
}

static bool
is_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *
trim (const char *s, size_t n)
{
  while (n && is_space (*s))
    s++, n--;
  while (n && is_space (s[n - 1]))
    n--;
  return sw_xstrndup (s, n);
}

int
sw_patterns_new (const char *const *patterns, size_t n, sw_patterns **out, sw_error **err)
{
  sw_patterns *pm = sw_xzalloc (sizeof *pm);
  pm->v = sw_xcalloc (n ? n : 1, sizeof (pattern));
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *t = trim (patterns[i], strlen (patterns[i]));
      if (*t == '\0')
        continue;
      cleanup_free char *c = sw_path_clean (t);
      pattern *p = &pm->v[pm->n];
      const char *body = c;
      if (c[0] == '!')
        {
          if (c[1] == '\0')
            {
              sw_patterns_free (pm);
              return sw_error_make (err, EINVAL, "illegal exclusion pattern: \"!\"");
            }
          p->exception = true;
          pm->exceptions = true;
          body++;
        }
      bool dummy;
      if (sw_glob_match (body, ".", &dummy) < 0)
        {
          sw_error_make (err, EINVAL, "syntax error in pattern \"%s\"", patterns[i]);
          sw_patterns_free (pm);
          return -1;
        }
      p->text = sw_xstrdup (body);
      pm->n++;
      compile_pattern (p);
    }
  *out = pm;
  return 0;
}

void
sw_patterns_free (sw_patterns *pm)
{
  if (!pm)
    return;
  for (size_t i = 0; i < pm->n; i++)
    {
      for (size_t j = 0; j < pm->v[i].ntoks; j++)
        free (pm->v[i].toks[j].ranges);
      free (pm->v[i].toks);
      free (pm->v[i].text);
    }
  free (pm->v);
  free (pm);
}

size_t
sw_patterns_count (const sw_patterns *pm)
{
  return pm ? pm->n : 0;
}

bool
sw_patterns_has_exceptions (const sw_patterns *pm)
{
  return pm && pm->exceptions;
}

const char *
sw_patterns_get (const sw_patterns *pm, size_t i, bool *exception)
{
  if (exception)
    *exception = pm->v[i].exception;
  return pm->v[i].text;
}

int
sw_patterns_match (const sw_patterns *pm, const char *path, const bool *parent_info,
                   bool *info_out, bool *matched, sw_error **err)
{
  *matched = false;
  for (size_t i = 0; i < pm->n; i++)
    {
      const pattern *p = &pm->v[i];
      bool m = parent_info ? parent_info[i] : false;
      if (!m)
        {
          if (p->exception != *matched)
            {
              if (info_out)
                info_out[i] = false;
              continue;
            }
          if (pattern_match (p, path, &m, err) < 0)
            return -1;
          if (!m && !parent_info)
            {
              /* Check each parent directory of path, shortest first. */
              const char *slash = strrchr (path, '/');
              if (slash && slash != path)
                {
                  cleanup_free char *dir = sw_xstrndup (path, slash - path);
                  for (char *q = dir;; q++)
                    {
                      if (*q == '/' || *q == '\0')
                        {
                          char saved = *q;
                          *q = '\0';
                          int r = pattern_match (p, dir, &m, NULL);
                          *q = saved;
                          if (r == 0 && m)
                            break;
                          m = false;
                        }
                      if (*q == '\0')
                        break;
                    }
                }
            }
        }
      if (info_out)
        info_out[i] = m;
      if (m)
        *matched = !p->exception;
    }
  return 0;
}

/* ---- ignore files ------------------------------------------------------------ */

int
sw_dockerignore_parse (const char *text, size_t len, const char *name, sw_patterns **out,
                       sw_error **err)
{
  char **lines = NULL;
  size_t n = 0;
  size_t pos = 0;
  bool first = true;
  *out = NULL;
  while (pos < len)
    {
      const char *start = text + pos;
      const char *nl = memchr (start, '\n', len - pos);
      size_t ll = nl ? (size_t) (nl - start) : len - pos;
      pos += ll + (nl ? 1 : 0);
      if (ll && start[ll - 1] == '\r')
        ll--;
      if (first && ll >= 3 && memcmp (start, "\xEF\xBB\xBF", 3) == 0)
        start += 3, ll -= 3;
      first = false;
      if (ll && start[0] == '#')
        continue;
      cleanup_free char *pat = trim (start, ll);
      if (*pat == '\0')
        continue;
      bool invert = pat[0] == '!';
      cleanup_free char *body = invert ? trim (pat + 1, strlen (pat + 1)) : sw_xstrdup (pat);
      if (*body)
        {
          char *c = sw_path_clean (body);
          free (body);
          body = c;
          if (body[0] == '/' && body[1] != '\0')
            memmove (body, body + 1, strlen (body));
        }
      lines = sw_xreallocarray (lines, n + 1, sizeof (char *));
      lines[n++] = sw_xasprintf ("%s%s", invert ? "!" : "", body);
    }
  int r = 0;
  if (n)
    {
      r = sw_patterns_new ((const char *const *) lines, n, out, err);
      if (r < 0)
        sw_error_wrap (err, "%s", name);
      else if ((*out)->n == 0)
        {
          sw_patterns_free (*out);
          *out = NULL;
        }
    }
  for (size_t i = 0; i < n; i++)
    free (lines[i]);
  free (lines);
  return r;
}

/* Read a whole (small) file; 1 when it does not exist. */
static int
read_small_file (const char *path, char **data, size_t *len, sw_error **err)
{
  /* O_NONBLOCK: a FIFO in the context must not hang the build in open */
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return 1;
      return sw_error_errno (err, "cannot read %s (make it readable, or remove it)", path);
    }
  struct stat st;
  if (fstat (fd, &st) < 0)
    return sw_error_errno (err, "stat %s", path);
  if (S_ISDIR (st.st_mode))
    return sw_error_make (err, EISDIR, "cannot read %s: it is a directory (remove it or make it a file)",
                          path);
  if (!S_ISREG (st.st_mode))
    return sw_error_make (err, EINVAL, "cannot read %s: it is not a regular file (a FIFO, socket or device; "
                          "remove it or make it a file)", path);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  if (sw_read_all (fd, 64u << 20, &b) < 0)
    {
      if (errno == EFBIG)
        return sw_error_make (err, EFBIG, "%s is larger than 64 MiB", path);
      return sw_error_errno (err, "cannot read %s (make it readable, or remove it)", path);
    }
  *len = b.len;
  *data = sw_buf_steal (&b);
  return 0;
}

int
sw_dockerignore_load (const char *context_dir, const char *dockerfile, sw_patterns **out,
                      char **used_name, sw_error **err)
{
  *out = NULL;
  if (used_name)
    *used_name = NULL;
  cleanup_free char *path = NULL;
  cleanup_free char *data = NULL;
  size_t len = 0;
  int r = 1;
  if (dockerfile && *dockerfile && strcmp (dockerfile, "-") != 0)
    {
      path = sw_xasprintf ("%s.dockerignore", dockerfile);
      r = read_small_file (path, &data, &len, err);
      if (r < 0)
        return -1;
    }
  if (r == 1)
    {
      free (path);
      path = sw_xasprintf ("%s/.dockerignore", context_dir);
      r = read_small_file (path, &data, &len, err);
      if (r < 0)
        return -1;
      if (r == 1)
        return 0;
    }
  if (sw_dockerignore_parse (data, len, path, out, err) < 0)
    return -1;
  if (used_name)
    *used_name = steal_pointer (&path);
  return 0;
}
