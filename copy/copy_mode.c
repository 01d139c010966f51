/* copy/copy_mode.c — --chmod values: octal, or symbolic as chmod(1) with a zero umask
 * (BuildKit parses them with a Go port of BSD setmode(3); these are the same rules:
 * `X` looks at the mode before the change, `s` and `t` are ignored for "o" alone,
 * `=` without who keeps the sticky bit). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "copy/copy_int.h"

#define STANDARD_BITS (S_ISUID | S_ISGID | 0777)

struct sw_mode_cmd
{
  char op;        /* '+', '-', 'X', or 'u' 'g' 'o' for a copy from that class */
  mode_t bits;    /* the bits touched (for a copy: a mask) */
  bool set, clear; /* copies: '+' sets, '-' clears, '=' both */
  bool tu, tg, to; /* copies: target classes */
};

static void
add_cmd (sw_copy_mode *m, char op, mode_t who, mode_t arg, char copy_op)
{
  struct sw_mode_cmd c = { 0 };
  if (op == '=')
    {
      c.op = '-';
      c.bits = who ? who : STANDARD_BITS;
      m->cmds = sw_xreallocarray (m->cmds, m->ncmds + 1, sizeof c);
      m->cmds[m->ncmds++] = c;
      op = '+';
    }
  c.op = op;
  if (op == '+' || op == '-' || op == 'X')
    c.bits = who ? (who & arg) : arg;
  else
    {
      c.tu = !who || (who & S_IRUSR);
      c.tg = !who || (who & S_IRGRP);
      c.to = !who || (who & S_IROTH);
      c.bits = (mode_t) ~0;
      c.set = copy_op == '+' || copy_op == '=';
      c.clear = copy_op == '-' || copy_op == '=';
    }
  m->cmds = sw_xreallocarray (m->cmds, m->ncmds + 1, sizeof c);
  m->cmds[m->ncmds++] = c;
}

static int
parse_symbolic (const char *s, sw_copy_mode *m)
{
  bool equal_done = false;
  for (;;)
    {
      mode_t who = 0;
      for (;; s++)
        {
          if (*s == 'a')
            who |= STANDARD_BITS;
          else if (*s == 'u')
            who |= S_ISUID | S_IRWXU;
          else if (*s == 'g')
            who |= S_ISGID | S_IRWXG;
          else if (*s == 'o')
            who |= S_IRWXO;
          else
            break;
        }
      if (*s == '\0')
        return -1;
    getop:;
      char op = *s++;
      if (op != '+' && op != '-' && op != '=')
        return -1;
      if (op == '=')
        equal_done = false;
      who &= ~(mode_t) S_ISVTX;
      mode_t perm = 0, perm_x = 0;
      for (;; s++)
        {
          char b = *s;
          if (b == 'r')
            perm |= 0444;
          else if (b == 's')
            {
              if (who == 0 || (who & ~(mode_t) S_IRWXO))
                perm |= S_ISUID | S_ISGID;
            }
          else if (b == 't')
            {
              if (who == 0 || (who & ~(mode_t) S_IRWXO))
                {
                  who |= S_ISVTX;
                  perm |= S_ISVTX;
                }
            }
          else if (b == 'w')
            perm |= 0222;
          else if (b == 'X')
            {
              if (op == '+')
                perm_x = 0111;
            }
          else if (b == 'x')
            perm |= 0111;
          else if (b == 'u' || b == 'g' || b == 'o')
            {
              if (perm)
                {
                  add_cmd (m, op, who, perm, 0);
                  perm = 0;
                }
              if (op == '=')
                equal_done = true;
              if (perm_x)
                {
                  add_cmd (m, 'X', who, perm_x, 0);
                  perm_x = 0;
                }
              add_cmd (m, b, who, 0, op);
            }
          else
            {
              if (perm || (op == '=' && !equal_done))
                {
                  if (op == '=')
                    equal_done = true;
                  add_cmd (m, op, who, perm, 0);
                }
              if (perm_x)
                add_cmd (m, 'X', who, perm_x, 0);
              break;
            }
        }
      if (*s == '\0')
        return 0;
      if (*s != ',')
        goto getop;
      s++;
    }
}

int
sw_copy_mode_parse (const char *s, sw_copy_mode *m, sw_error **err)
{
  memset (m, 0, sizeof *m);
  if (!s || !*s)
    return 0;
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 8);
  bool all_octal = strspn (s, "01234567") == strlen (s);
  if (all_octal && errno == 0 && *end == '\0')
    {
      if (v > 07777)
        goto non_octal;
      m->set = true;
      m->octal = (mode_t) v;
      return 0;
    }
  if (s[0] >= '0' && s[0] <= '9')
    goto non_octal;
  m->set = true;
  m->symbolic = true;
  if (parse_symbolic (s, m) < 0)
    {
      sw_copy_mode_clear (m);
      return sw_error_make (err, EINVAL,
                            "invalid --chmod value '%s': not octal (0 to 07777) nor a symbolic "
                            "mode like u+x,go-w",
                            s);
    }
  return 0;
non_octal:
  return sw_error_make (err, EINVAL,
                        "invalid chmod parameter: '%s'. it should be octal string and between 0 "
                        "and 07777",
                        s);
}

static void
copy_class (mode_t *newmode, const struct sw_mode_cmd *c, mode_t value)
{
  if (c->clear)
    {
      mode_t clr = c->set ? 07 : value;
      if (c->tu)
        *newmode &= ~((clr << 6) & c->bits);
      if (c->tg)
        *newmode &= ~((clr << 3) & c->bits);
      if (c->to)
        *newmode &= ~(clr & c->bits);
    }
  if (c->set)
    {
      if (c->tu)
        *newmode |= (value << 6) & c->bits;
      if (c->tg)
        *newmode |= (value << 3) & c->bits;
      if (c->to)
        *newmode |= value & c->bits;
    }
}

mode_t
sw_copy_mode_apply (const sw_copy_mode *m, mode_t st_mode)
{
  mode_t omode = st_mode & 07777;
  if (!m || !m->set)
    return omode;
  if (!m->symbolic)
    return m->octal & 07777;
  mode_t newmode = omode;
  for (size_t i = 0; i < m->ncmds; i++)
    {
      const struct sw_mode_cmd *c = &m->cmds[i];
      switch (c->op)
        {
        case 'u':
          copy_class (&newmode, c, (newmode & S_IRWXU) >> 6);
          break;
        case 'g':
          copy_class (&newmode, c, (newmode & S_IRWXG) >> 3);
          break;
        case 'o':
          copy_class (&newmode, c, newmode & S_IRWXO);
          break;
        case '+':
          newmode |= c->bits;
          break;
        case '-':
          newmode &= ~c->bits;
          break;
        case 'X':
          if ((omode & 0111) || S_ISDIR (st_mode))
            newmode |= c->bits;
          break;
        }
    }
  return newmode & 07777;
}

void
sw_copy_mode_clear (sw_copy_mode *m)
{
  free (m->cmds);
  m->cmds = NULL;
  m->ncmds = 0;
}
