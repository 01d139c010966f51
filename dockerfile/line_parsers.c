/* dockerfile/line_parsers.c — one logical line to one instruction node: splitCommand,
 * extractBuilderFlags and the per-instruction argument parsers of BuildKit's
 * frontend/dockerfile/parser (line_parsers.go, split_command.go), rule for rule. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/strv.h"
#include "common/xalloc.h"
#include "dockerfile/parser_int.h"

/* reWhitespace = [\t\v\f\r ]+ */
static bool
re_ws (char c)
{
  return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

/* unicode.IsSpace(rune(b)) for one byte, as split_command.go and parseHealthConfig test
 * bytes: 0x85 and 0xa0 count even inside a UTF-8 sequence. */
static bool
byte_space (unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xa0;
}

/* ---- parseWords ------------------------------------------------------------------ */

static void
parse_words (const char *rest, char escape, sw_strv *words)
{
  enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
  const unsigned char *s = (const unsigned char *) rest;
  size_t len = strlen (rest), w = 0;
  int32_t ch = 0, quote = 0;
  bool blank_ok = false;
  cleanup_buf sw_buf b = SW_BUF_INIT;

  for (size_t pos = 0; pos <= len; pos += w)
    {
      if (pos != len)
        ch = sw_utf8_decode (s + pos, len - pos, &w);
      if (phase == IN_SPACES)
        {
          if (pos == len)
            break;
          if (sw_df_is_space (ch))
            continue;
          phase = IN_WORD;
        }
      if (pos == len)
        {
          if (blank_ok || b.len > 0)
            sw_strv_push (words, sw_buf_str (&b));
          break;
        }
      if (phase == IN_WORD)
        {
          if (sw_df_is_space (ch))
            {
              phase = IN_SPACES;
              if (blank_ok || b.len > 0)
                sw_strv_push (words, sw_buf_str (&b));
              sw_buf_truncate (&b, 0);
              blank_ok = false;
              continue;
            }
          if (ch == '\'' || ch == '"')
            {
              quote = ch;
              blank_ok = true;
              phase = IN_QUOTE;
            }
          if (ch == escape)
            {
              if (pos + w == len)
                continue;
              sw_utf8_append (&b, ch);
              pos += w;
              ch = sw_utf8_decode (s + pos, len - pos, &w);
            }
          sw_utf8_append (&b, ch);
          continue;
        }
      /* IN_QUOTE */
      if (ch == quote)
        phase = IN_WORD;
      if (ch == escape && quote != '\'')
        {
          if (pos + w == len)
            {
              phase = IN_WORD;
              continue;
            }
          pos += w;
          sw_utf8_append (&b, ch);
          ch = sw_utf8_decode (s + pos, len - pos, &w);
        }
      sw_utf8_append (&b, ch);
    }
}

/* ---- the argument parsers --------------------------------------------------------- */

typedef struct parsed
{
  sw_df_node *next;
  bool json;
  char *msg; /* set on error */
} parsed;

static void
parse_ignore (const char *rest, char escape, parsed *out)
{
  out->next = sw_df_node_new ("");
}

static void
parse_strings_ws (const char *rest, char escape, parsed *out)
{
  sw_df_node **tail = &out->next;
  const char *p = rest;

  if (*rest == '\0')
    return;
  /* regexp.Split(rest, -1): leading or trailing separators give empty fields */
  for (;;)
    {
      size_t n = 0;
      while (p[n] && !re_ws (p[n]))
        n++;
      *tail = sw_df_node_newn (p, n);
      tail = &(*tail)->next;
      p += n;
      if (*p == '\0')
        break;
      while (re_ws (*p))
        p++;
    }
}

static void
parse_string (const char *rest, char escape, parsed *out)
{
  if (*rest != '\0')
    out->next = sw_df_node_new (rest);
}

static void
parse_name_or_name_val (const char *rest, char escape, parsed *out)
{
  sw_strv words = { 0 };
  sw_df_node **tail = &out->next;

  parse_words (rest, escape, &words);
  for (size_t i = 0; i < words.n; i++)
    {
      *tail = sw_df_node_new (words.v[i]);
      tail = &(*tail)->next;
    }
  sw_strv_free (&words);
}

static sw_df_node *
key_value (const char *key, size_t klen, const char *value, const char *sep)
{
  sw_df_node *k = sw_df_node_newn (key, klen);
  k->next = sw_df_node_new (value);
  k->next->next = sw_df_node_new (sep);
  return k;
}

static void
parse_name_val (const char *rest, char escape, const char *key, parsed *out)
{
  sw_strv words = { 0 };
  sw_df_node **tail = &out->next;

  parse_words (rest, escape, &words);
  if (words.n == 0)
    goto done;
  if (strchr (words.v[0], '=') == NULL)
    {
      /* the old form: KEY name value, split once at whitespace */
      size_t n = 0;
      while (rest[n] && !re_ws (rest[n]))
        n++;
      if (rest[n] == '\0')
        {
          out->msg = sw_xasprintf ("%s must have two arguments", key);
          goto done;
        }
      const char *v = rest + n;
      while (re_ws (*v))
        v++;
      out->next = key_value (rest, n, v, "");
      goto done;
    }
  for (size_t i = 0; i < words.n; i++)
    {
      const char *eq = strchr (words.v[i], '=');
      if (eq == NULL)
        {
          cleanup_buf sw_buf q = SW_BUF_INIT;
          sw_go_quote (&q, words.v[i]);
          out->msg = sw_xasprintf ("Syntax error - can't find = in %s. Must be of the form: name=value",
                                   sw_buf_str (&q));
          sw_df_node_free (out->next);
          out->next = NULL;
          goto done;
        }
      *tail = key_value (words.v[i], (size_t) (eq - words.v[i]), eq + 1, "=");
      tail = &(*tail)->next->next->next;
    }
done:
  sw_strv_free (&words);
}

static void
parse_env (const char *rest, char escape, parsed *out)
{
  parse_name_val (rest, escape, "ENV", out);
}

static void
parse_label (const char *rest, char escape, parsed *out)
{
  parse_name_val (rest, escape, "LABEL", out);
}

static void
parse_maybe_json (const char *rest, char escape, parsed *out)
{
  int r;

  if (*rest == '\0')
    return;
  r = sw_df_parse_json_array (rest, &out->next);
  if (r == 0)
    {
      out->json = true;
      return;
    }
  if (r == -2)
    {
      out->msg = sw_xstrdup ("when using JSON array syntax, arrays must be comprised of strings only");
      return;
    }
  out->next = sw_df_node_new (rest);
}

static void
parse_maybe_json_to_list (const char *rest, char escape, parsed *out)
{
  int r = sw_df_parse_json_array (rest, &out->next);
  if (r == 0)
    {
      out->json = true;
      return;
    }
  if (r == -2)
    {
      out->msg = sw_xstrdup ("when using JSON array syntax, arrays must be comprised of strings only");
      return;
    }
  parse_strings_ws (rest, escape, out);
}

static void
parse_health_config (const char *rest, char escape, parsed *out)
{
  size_t sep = 0, next;
  const unsigned char *s = (const unsigned char *) rest;
  parsed cmd = { 0 };

  while (s[sep] && !byte_space (s[sep]))
    sep++;
  next = sep;
  while (s[next] && byte_space (s[next]))
    next++;
  if (sep == 0)
    return;
  parse_maybe_json (rest + next, escape, &cmd);
  if (cmd.msg)
    {
      out->msg = cmd.msg;
      return;
    }
  out->next = sw_df_node_newn (rest, sep);
  out->next->next = cmd.next;
  out->json = cmd.json;
}

static void parse_sub_command (const char *rest, char escape, parsed *out);

static const struct
{
  const char *name;
  void (*fn) (const char *rest, char escape, parsed *out);
} dispatch[] = {
  { "add", parse_maybe_json_to_list },
  { "arg", parse_name_or_name_val },
  { "cmd", parse_maybe_json },
  { "copy", parse_maybe_json_to_list },
  { "entrypoint", parse_maybe_json },
  { "env", parse_env },
  { "expose", parse_strings_ws },
  { "from", parse_strings_ws },
  { "healthcheck", parse_health_config },
  { "label", parse_label },
  { "maintainer", parse_string },
  { "onbuild", parse_sub_command },
  { "run", parse_maybe_json },
  { "shell", parse_maybe_json },
  { "stopsignal", parse_string },
  { "user", parse_string },
  { "volume", parse_maybe_json_to_list },
  { "workdir", parse_string },
};

static void
parse_sub_command (const char *rest, char escape, parsed *out)
{
  sw_df_node *child = NULL;

  if (*rest == '\0')
    return;
  if (sw_df_node_from_line (rest, escape, &child, &out->msg) < 0)
    return;
  out->next = sw_df_node_new ("");
  out->next->children = sw_xmalloc (sizeof *out->next->children);
  out->next->children[0] = child;
  out->next->n_children = 1;
}

/* ---- splitCommand ----------------------------------------------------------------- */

/* extractBuilderFlags: the leading --flags (quotes and escapes processed, bytes taken one
 * at a time as Go's rune(line[pos]) does); returns where the arguments start. */
static const char *
extract_flags (const char *line, char escape, sw_strv *flags)
{
  enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
  const unsigned char *s = (const unsigned char *) line;
  size_t len = strlen (line);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  unsigned char ch = 0, quote = 0;
  bool blank_ok = false;

  for (size_t pos = 0; pos <= len; pos++)
    {
      if (pos != len)
        ch = s[pos];
      if (phase == IN_SPACES)
        {
          if (pos == len)
            break;
          if (byte_space (ch))
            continue;
          if (ch != '-' || pos + 1 == len || s[pos + 1] != '-')
            return line + pos;
          phase = IN_WORD;
        }
      if (pos == len)
        {
          if (strcmp (sw_buf_str (&b), "--") != 0 && (blank_ok || b.len > 0))
            sw_strv_push (flags, sw_buf_str (&b));
          break;
        }
      if (phase == IN_WORD)
        {
          if (byte_space (ch))
            {
              phase = IN_SPACES;
              if (strcmp (sw_buf_str (&b), "--") == 0)
                return line + pos;
              if (blank_ok || b.len > 0)
                sw_strv_push (flags, sw_buf_str (&b));
              sw_buf_truncate (&b, 0);
              blank_ok = false;
              continue;
            }
          if (ch == '\'' || ch == '"')
            {
              quote = ch;
              blank_ok = true;
              phase = IN_QUOTE;
              continue;
            }
          if (ch == (unsigned char) escape)
            {
              if (pos + 1 == len)
                continue;
              pos++;
              ch = s[pos];
            }
          sw_utf8_append (&b, ch);
          continue;
        }
      /* IN_QUOTE */
      if (ch == quote)
        {
          phase = IN_WORD;
          continue;
        }
      if (ch == (unsigned char) escape)
        {
          if (pos + 1 == len)
            {
              phase = IN_WORD;
              continue;
            }
          pos++;
          ch = s[pos];
        }
      sw_utf8_append (&b, ch);
    }
  return line + len;
}

int
sw_df_node_from_line (const char *line, char escape, sw_df_node **out, char **msg)
{
  cleanup_free char *trimmed = sw_df_trim_space (line);
  cleanup_free char *cmd = NULL;
  cleanup_free char *args = NULL;
  sw_strv flags = { 0 };
  parsed p = { 0 };
  size_t n = 0;
  void (*fn) (const char *, char, parsed *) = parse_ignore;

  *out = NULL;
  while (trimmed[n] && !re_ws (trimmed[n]))
    n++;
  cmd = sw_xstrndup (trimmed, n);
  if (trimmed[n] != '\0')
    {
      const char *rest = trimmed + n;
      while (re_ws (*rest))
        rest++;
      args = sw_df_trim_space (extract_flags (rest, escape, &flags));
    }
  else
    args = sw_xstrdup ("");

  for (size_t i = 0; i < sizeof dispatch / sizeof *dispatch; i++)
    if (strcasecmp (cmd, dispatch[i].name) == 0)
      fn = dispatch[i].fn;
  fn (args, escape, &p);
  if (p.msg)
    {
      sw_strv_free (&flags);
      sw_df_node_free (p.next);
      *msg = p.msg;
      return -1;
    }
  sw_df_node *node = sw_df_node_new (cmd);
  free (node->original);
  node->original = sw_xstrdup (line);
  node->next = p.next;
  node->json = p.json;
  node->flags = flags.v;
  node->n_flags = flags.n;
  *out = node;
  return 0;
}
