/* Unit tests for dockerfile/expand: every operator, quote and escape case, with the values
 * BuildKit's shell lexer gives (its envVarTest/wordsTest semantics and lex_test cases).
 *
 * Beyond these, the expander was checked differentially against BuildKit's own
 * shell/lex.go (built with Go 1.19, outside this repository): the same
 * (options, word, environment) inputs in tests/fuzz/fuzz_expand.c's format through both,
 * ProcessWord and ProcessWords compared byte for byte — the fuzz corpus plus 60,000
 * generated words, no difference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "dockerfile/expand.h"

#define ERR NULL /* expected: an error */

typedef struct wcase
{
  const char *in;
  const char *want; /* ERR for an error */
} wcase;

static char *home_env[] = { "PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL=", NULL };

static void
run_cases (const wcase *cases, size_t n, char **env, int escape)
{
  sw_expand_opts o = { .escape = escape };
  int bad = 0;
  for (size_t i = 0; i < n; i++)
    {
      char *out = NULL;
      sw_error *err = NULL;
      int rc = sw_expand_word (cases[i].in, &o, sw_expand_lookup_envv, env, &out, &err);
      if (cases[i].want == ERR)
        {
          if (rc == 0)
            {
              print_error ("%s: want an error, got \"%s\"\n", cases[i].in, out);
              bad++;
            }
        }
      else if (rc < 0)
        {
          print_error ("%s: want \"%s\", got error %s\n", cases[i].in, cases[i].want,
                       sw_error_message (err));
          bad++;
        }
      else if (strcmp (out, cases[i].want) != 0)
        {
          print_error ("%s: want \"%s\", got \"%s\"\n", cases[i].in, cases[i].want, out);
          bad++;
        }
      free (out);
      sw_error_free (err);
    }
  assert_int_equal (bad, 0);
}

#define RUN(c, env) run_cases (c, sizeof c / sizeof c[0], env, '\\')

static void
plain_and_braced (void **state)
{
  static const wcase c[] = {
    { "hello", "hello" },
    { "he$PWD", "he/home" },
    { "he${PWD}", "he/home" },
    { "he${hi}", "he" },
    { "he${hi}xx", "hexx" },
    { "he$pwd.", "he." },          /* names are case-sensitive on Unix */
    { "$.", "$." },                /* $ without a name is literal */
    { "he$.x", "he$.x" },
    { "x$", "x$" },
    { "he$1x", "hex" },            /* positional parameters: digits only, never set */
    { "$999aaa", "aaa" },
    { "${001}aaa", "aaa" },
    { "$@@@", "@@" },              /* special parameters: one character */
    { "${#}", "" },
    { "${$:-bbb}", "bbb" },
    { "${0:+bbb}", "" },
    { "$KOREAN", "한국어" },
    { "안녕$KOREAN", "안녕한국어" },
    { "${aaa}}", "}" },
    { "${PWD}${SHELL}", "/homebash" },
  };
  RUN (c, home_env);
}

static void
bad_substitutions (void **state)
{
  static const wcase c[] = {
    { "${}", ERR },     { "he${}xx", ERR },  { "he${.}", ERR },       { "${{aaa}", ERR },
    { "${aaa", ERR },   { "he${PWD", ERR },  { "${:}", ERR },         { "${:-bbb}", ERR },
    { "${:+bbb}", ERR }, { "he${XXX:YYY}", ERR }, { "he${PWD:=000}xx", ERR },
    { "${FOO=aaa}", ERR }, { "${FOO=}", ERR }, { "${aaa:-bbb", ERR },
    { "${aaa:-bbb ${foo}", ERR }, { "${FOO:#}", ERR }, { "${FOO:##}", ERR },
    { "${FOO:%}", ERR }, { "${FOO:%%}", ERR }, { "${FOO//ww}", ERR }, { "${FOO//}", ERR },
    { "${#FOO}", ERR },
  };
  RUN (c, home_env);
}

static void
default_and_alternative (void **state)
{
  static char *env[] = { "FOO=xxx", "BAR=", "PWD=/home", "SHELL=bash", NULL };
  static const wcase c[] = {
    { "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "xxx  ccc" },
    { "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "xxx bbb ccc" },
    { "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "aaa bbb " },
    { "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "aaa  " },
    { "${FOO:-}", "xxx" },
    { "${BAZ:-}", "" },
    { "he${XXX:-$PWD}xx", "he/homexx" },
    { "he${XXX:-${PWD:-yyy}}xx", "he/homexx" },
    { "he${XXX:-${YYY:-yyy}}xx", "heyyyxx" },
    { "he${XXX:+${PWD}}xx", "hexx" },
    { "he${PWD:+${XXX}}xx", "hexx" },
    { "he${PWD:+${SHELL}}xx", "hebashxx" },
    { "he${PWD:+${PWD}:}xx", "he/home:xx" },
    { "he${XXX:-\\$PWD:}xx", "he$PWD:xx" },
    { "he${XXX:-\\${PWD}z}xx", "he${PWDz}xx" },
    { "${aaa:-bbb}}", "bbb}" },
    { "${aaa:-bbb {foo}", "bbb {foo" },
    { "${aaa:-'q}'}", "q}" },     /* quotes in the operand are processed */
    { "${aaa:-\"a b\"}", "a b" },
  };
  RUN (c, env);
}

static void
required (void **state)
{
  static char *set[] = { "VAR=plain", "ARG=x", NULL };
  static char *empty[] = { "VAR=", "ARG=x", NULL };
  static char *unset[] = { "ARG=x", NULL };
  static const wcase on_set[] = {
    { "${VAR:?message here$ARG}", "plain" },
    { "${VAR?message here$ARG}", "plain" },
  };
  static const wcase on_empty[] = {
    { "${VAR:?message here$ARG}", ERR },
    { "${VAR?message here$ARG}", "" },
  };
  static const wcase on_unset[] = {
    { "${VAR:?message here$ARG}", ERR },
    { "${VAR?message here$ARG}", ERR },
    { "${VAR?}", ERR },
    { "${VAR:?}", ERR },
  };
  RUN (on_set, set);
  RUN (on_empty, empty);
  RUN (on_unset, unset);

  /* the message is the operand, expanded; or BuildKit's default */
  cleanup_error sw_error *err = NULL;
  char *out = NULL;
  assert_int_equal (sw_expand_word ("${VAR:?message here$ARG}", NULL, sw_expand_lookup_envv,
                                    empty, &out, &err), -1);
  assert_string_equal (sw_error_message (err),
                       "failed to process \"${VAR:?message here$ARG}\": VAR: message herex");
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_expand_word ("${VAR?}", NULL, sw_expand_lookup_envv, unset, &out, &err),
                    -1);
  assert_string_equal (sw_error_message (err),
                       "failed to process \"${VAR?}\": VAR: is not allowed to be unset");
  sw_error_free (err);
  err = NULL;
  assert_int_equal (sw_expand_word ("${VAR:?}", NULL, sw_expand_lookup_envv, empty, &out, &err),
                    -1);
  assert_string_equal (sw_error_message (err),
                       "failed to process \"${VAR:?}\": VAR: is not allowed to be empty");
}

static void
prefix_and_suffix (void **state)
{
  static char *xxyy[] = { "FOO=xxyy", "BAR=x", "EMPTY=", NULL };
  static const wcase c[] = {
    { "${FOO#*x*y}", "y" },
    { "${FOO#*}", "xxyy" },       /* shortest * is empty */
    { "${FOO##*}", "" },
    { "${FOO#$BAR}", "xyy" },
    { "${FOO#$EMPTY}", "xxyy" },
    { "${FOO#}", "xxyy" },
    { "${FOO##*x}", "yy" },
    { "${FOO#*x}", "xyy" },
    { "${FOO##}", "xxyy" },
    { "${FOO%y}", "xxy" },
    { "${FOO%y*}", "xxy" },
    { "${FOO%%y*}", "xx" },
    { "${FOO%x}", "xxyy" },       /* no match: unchanged */
    { "${FOO%}", "xxyy" },
    { "${FOO%%$EMPTY}", "xxyy" },
    { "${ABC:-.}${FOO%x}${ABC:-.}", ".xxyy." },
    { "${UNSET#x}", "" },
    { "${FOO#?}", "xyy" },
    { "${FOO%??}", "xx" },
  };
  RUN (c, xxyy);

  static char *special[] = { "FOO=()[]{}^$.*?|\\x", NULL };
  static const wcase c2[] = { { "${FOO#()[]{\\}^$.\\*\\?|\\\\}", "x" } };
  RUN (c2, special);

  static char *stars[] = { "FOO=xx**", "Q=???y", "A=a***yy*", "NL=ab\ncd", NULL };
  static const wcase c3[] = {
    { "${FOO%%\\**}", "xx" },
    { "${Q#?\\?}", "?y" },
    { "${A%%\\**\\*}", "a" },
    { "${NL#*}", "ab\ncd" },
    { "${NL##*}", "\ncd" },       /* * never crosses a newline */
    { "${NL%%*}", "ab\n" },
    { "${NL#ab?}", "ab\ncd" },    /* nor does ? */
    { "${FOO#\\x}", ERR },        /* only * ? \ can be escaped */
  };
  RUN (c3, stars);

  static char *uni[] = { "U=🖖🚀👽", NULL };
  static const wcase c4[] = { { "${U%?}", "🖖🚀" }, { "${U#?}", "🚀👽" }, { "${U%%🚀*}", "🖖" } };
  RUN (c4, uni);
}

static void
replacement (void **state)
{
  static char *e1[] = { "FOO=/foo*/*/*.txt", "NEEDLE=\\*/", NULL };
  static char *e2[] = { "FOO=/tmp/tmp/bar.txt", "NEEDLE=/tmp", NULL };
  static char *e3[] = { "FOO=/a/foo/b/c.txt", "NEEDLE=/?/", "REPLACEMENT=/", NULL };
  static char *e4[] = { "FOO=http://google.de", "NEEDLE=http://", "REPLACEMENT=https://",
                        NULL };
  static char *e5[] = { "FOO=/tmp/foo.txt", NULL };
  static char *e6[] = { "FOO=xxyy", "BAR=", NULL };
  static const wcase c1[] = { { "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
                                "/foo.*/*.txt - /foo..*.txt" } };
  static const wcase c2[] = { { "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", "/tmp/bar.txt - /bar.txt" } };
  static const wcase c3[] = { { "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
                                "/foo/b/c.txt - /foo/c.txt" } };
  static const wcase c4[] = { { "${FOO/$NEEDLE/$REPLACEMENT}", "https://google.de" } };
  static const wcase c5[] = { { "${FOO//\\//\\/}", "\\/tmp\\/foo.txt" } };
  static const wcase c6[] = {
    { "${FOO/$BAR/ww}", "wwxxyy" },
    { "${FOO///}", "xxyy" },
    { "${NOPE///}", "" },
    { "${FOO/x/z}", "zxyy" },
    { "${FOO//x/z}", "zzyy" },
    { "${FOO//y*/-}", "xx-" },
    { "${FOO//x*y/-}", "-" },       /* greedy */
    { "${FOO//?/<$0>}", "<><><><>" },  /* the lexer expands $0 (never set) first */
    { "${FOO//\\$0/a}", ERR },        /* \$ is no pattern escape */
    { "${FOO/", ERR },
  };
  RUN (c1, e1);
  RUN (c2, e2);
  RUN (c3, e3);
  RUN (c4, e4);
  RUN (c5, e5);
  RUN (c6, e6);

  /* ${V//p/r} runs r through Go's template expansion: $0 is the match, $$ a $ */
  static char *e7[] = { "FOO=ab", "R=[$0]", "D=$$", "N=${x}", NULL };
  static const wcase c7[] = {
    { "${FOO//?/$R}", "[a][b]" },
    { "${FOO/?/$R}", "[$0]b" },       /* single replacement is literal */
    { "${FOO//a/$D}", "$b" },
    { "${FOO//a/$N}", "b" },
  };
  RUN (c7, e7);
}

static void
quotes_and_escapes (void **state)
{
  static const wcase c[] = {
    { "he'll'o", "hello" },
    { "he'llo", ERR },
    { "he\\'llo", "he'llo" },
    { "he\\\\'llo", ERR },
    { "abc\\tdef", "abctdef" },
    { "\"abc\\tdef\"", "abc\\tdef" },     /* inside "" \ quotes only " $ \ */
    { "\"abc\\\\tdef\"", "abc\\tdef" },
    { "'abc\\tdef'", "abc\\tdef" },
    { "hello\\", "hello" },               /* a trailing escape is dropped */
    { "hello\\\\", "hello\\" },
    { "\"hello", ERR },
    { "\"hello\\\"", ERR },
    { "\"hel'lo\"", "hel'lo" },
    { "'hello", ERR },
    { "'hello\\'", "hello\\" },
    { "\"''\"", "''" },
    { "he\\$PWD", "he$PWD" },
    { "he\\\\$PWD", "he\\/home" },
    { "\"he\\$PWD\"", "he$PWD" },
    { "\"he\\\\$PWD\"", "he\\/home" },
    { "'he\\$PWD'", "he\\$PWD" },
    { "\\${}", "${}" },
    { "he\\${}xx", "he${}xx" },
    { "'he${XX}'", "he${XX}" },
    { "\"he${PWD}\"", "he/home" },
    { "\"he'$PWD'\"", "he'/home'" },
    { "'\"hello\"'", "\"hello\"" },
    { "안'녕'하세요", "안녕하세요" },
    { "안녕\\'하세요", "안녕'하세요" },
    { "a << b", "a << b" },
  };
  RUN (c, home_env);
}

static void
backtick_escape (void **state)
{
  static const wcase c[] = {
    { "he`$PWD", "he$PWD" },
    { "he\\$PWD", "he\\/home" },          /* \ is an ordinary character */
    { "C:\\Windows", "C:\\Windows" },
    { "\"a`\"b\"", "a\"b" },
    { "\"a\\\"", "a\\" },
    { "x``", "x`" },
    { "x`", "x" },
  };
  run_cases (c, sizeof c / sizeof c[0], home_env, '`');
}

typedef struct fcase
{
  const char *in;
  const char *want; /* fields joined with '|', "error" for an error */
} fcase;

static void
word_splitting (void **state)
{
  static char *env[] = { "hi=hi", "space=abc  def", "leading=  ab c", "trailing=ab c   ", NULL };
  static const fcase c[] = {
    { "hello", "hello" },
    { "hello${hi}bye", "hellohibye" },
    { "hello${space}bye", "helloabc|defbye" },
    { "hello\"${space}\"bye", "helloabc  defbye" },
    { "hello \"${space}\"bye", "hello|abc  defbye" },
    { "hello${leading}def", "hello|ab|cdef" },
    { "hello\"${leading}\" def", "hello  ab c|def" },
    { "hello${leading}", "hello|ab|c" },
    { "hello${trailing}", "helloab|c" },
    { "hello${trailing}d", "helloab|c|d" },
    { "hello\"${trailing}\"d", "helloab c   d" },
    { "hel\"lo${trailing}\"", "helloab c   " },
    { "hello\" there  \"", "hello there  " },
    { "hello there     ", "hello|there" },
    { "hello\\ there", "hello there" },
    { "hello\" there", "error" },
    { "hello\\\" there", "hello\"|there" },
    { "hello\"\\\\there\"", "hello\\there" },
    { "hello'\\\\there'", "hello\\\\there" },
    { "hello'$there'", "hello$there" },
    { "  a  \"\"  b ", "a|b" },           /* empty quotes make no field */
    { "80/tcp 443", "80/tcp|443" },
    { "a <<  EOF b", "a|<<  EOF|b" },     /* << keeps its blanks */
    { "ab${X:-c}d", "cd" },                /* BuildKit's shared-buffer quirk */
    { "a ${X:-b c} d", "a|b|c|d" },
    { "", "" },
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    {
      char **words = NULL;
      size_t n = 0;
      sw_error *err = NULL;
      sw_buf got = SW_BUF_INIT;
      if (sw_expand_words (c[i].in, NULL, sw_expand_lookup_envv, env, &words, &n, &err) < 0)
        sw_buf_puts (&got, "error");
      else
        {
          for (size_t k = 0; k < n; k++)
            sw_buf_printf (&got, "%s%s", k ? "|" : "", words[k]);
          assert_null (words[n]);
        }
      if (strcmp (sw_buf_str (&got), c[i].want) != 0)
        {
          print_error ("%s: want [%s], got [%s]\n", c[i].in, c[i].want, sw_buf_str (&got));
          bad++;
        }
      sw_buf_free (&got);
      sw_expand_words_free (words);
      sw_error_free (err);
    }
  assert_int_equal (bad, 0);
}

static void
options (void **state)
{
  char *out = NULL;
  /* as BuildKit's RUN custom name: raw quotes, unset references kept */
  sw_expand_opts keep = { .raw_quotes = true, .skip_unset_env = true };
  static char *env[] = { "A=1", NULL };
  assert_int_equal (sw_expand_word ("'x' \"$A\" $B ${C} ${D:-d} ${E/x/y}", &keep,
                                    sw_expand_lookup_envv, env, &out, NULL), 0);
  assert_string_equal (out, "'x' \"1\" $B ${C} ${D:-d} ${E/x/y}");
  free (out);

  sw_expand_opts raw = { .raw_escapes = true };
  assert_int_equal (sw_expand_word ("a\\ b\\$A", &raw, sw_expand_lookup_envv, env, &out, NULL),
                    0);
  assert_string_equal (out, "a\\ b\\$A");
  free (out);

  /* as BuildKit's ExpandRaw (heredoc bodies): quotes are ordinary */
  sw_expand_opts noq = { .skip_process_quotes = true };
  assert_int_equal (sw_expand_word ("echo 'it''s' \"$A\"", &noq, sw_expand_lookup_envv, env,
                                    &out, NULL), 0);
  assert_string_equal (out, "echo 'it''s' \"1\"");
  free (out);

  /* a NULL lookup: nothing is set */
  assert_int_equal (sw_expand_word ("[${A:-z}]", NULL, NULL, NULL, &out, NULL), 0);
  assert_string_equal (out, "[z]");
  free (out);
}

static const char *
record (const char *name, void *ud)
{
  sw_buf *b = ud;
  sw_buf_printf (b, "%s,", name);
  return strcmp (name, "SET") == 0 ? "v" : NULL;
}

static void
lookups_are_reported (void **state)
{
  cleanup_buf sw_buf seen = SW_BUF_INIT;
  char *out = NULL;
  assert_int_equal (sw_expand_word ("$SET ${UNSET:-$OTHER} '$NOT' \\$NOPE", NULL, record, &seen,
                                    &out, NULL), 0);
  assert_string_equal (out, "v  $NOT $NOPE");
  /* operands are expanded before the variable is read, as in BuildKit */
  assert_string_equal (sw_buf_str (&seen), "SET,OTHER,UNSET,");
  free (out);
}

static void
envv_lookup (void **state)
{
  static char *env[] = { "A=1", "B", "A=2", "AB=3", NULL };
  assert_string_equal (sw_expand_lookup_envv ("A", env), "2");
  assert_string_equal (sw_expand_lookup_envv ("B", env), "");
  assert_string_equal (sw_expand_lookup_envv ("AB", env), "3");
  assert_null (sw_expand_lookup_envv ("C", env));
}

static void
error_messages (void **state)
{
  struct
  {
    const char *in, *msg;
  } c[] = {
    { "${}", "failed to process \"${}\": syntax error: bad substitution" },
    { "${A", "failed to process \"${A\": syntax error: missing '}'" },
    { "${A:-x", "failed to process \"${A:-x\": syntax error: missing '}'" },
    { "${A/x", "failed to process \"${A/x\": syntax error: missing '/' in ${}" },
    { "'x", "failed to process \"'x\": unexpected end of statement while looking for matching single-quote" },
    { "${A:=x}", "failed to process \"${A:=x}\": unsupported modifier (:=) in substitution" },
    { "${A:#x}", "failed to process \"${A:#x}\": unsupported modifier (:#) in substitution" },
    { "${A#\\q}", "failed to process \"${A#\\\\q}\": invalid pattern (\\q) in substitution: invalid escape '\\q'" },
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    {
      cleanup_error sw_error *err = NULL;
      char *out = NULL;
      assert_int_equal (sw_expand_word (c[i].in, NULL, NULL, NULL, &out, &err), -1);
      assert_string_equal (sw_error_message (err), c[i].msg);
    }
}

static void
null_err_is_allowed (void **state)
{
  const char *bad[] = { "${A/x", "${A", "${A:-x", "${}", "'x", "${A#\\q}", "${A?}" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      char *out = NULL, **w = NULL;
      assert_int_equal (sw_expand_word (bad[i], NULL, NULL, NULL, &out, NULL), -1);
      assert_int_equal (sw_expand_words (bad[i], NULL, NULL, NULL, &w, NULL, NULL), -1);
    }
}

static void
deep_nesting_is_an_error_not_a_crash (void **state)
{
  sw_buf b = SW_BUF_INIT;
  for (int i = 0; i < 5000; i++)
    sw_buf_puts (&b, "${A:-");
  for (int i = 0; i < 5000; i++)
    sw_buf_putc (&b, '}');
  cleanup_error sw_error *err = NULL;
  char *out = NULL;
  assert_int_equal (sw_expand_word (sw_buf_str (&b), NULL, NULL, NULL, &out, &err), -1);
  sw_buf_free (&b);
}

static void
long_patterns_stay_linear (void **state)
{
  /* a pattern that makes a backtracking matcher exponential */
  sw_buf v = SW_BUF_INIT, w = SW_BUF_INIT;
  sw_buf_puts (&v, "V=");
  for (int i = 0; i < 3000; i++)
    sw_buf_putc (&v, 'a');
  sw_buf_puts (&w, "${V//");
  for (int i = 0; i < 30; i++)
    sw_buf_puts (&w, "*a");
  sw_buf_puts (&w, "b/x}");
  char *env[] = { v.data, NULL };
  char *out = NULL;
  assert_int_equal (sw_expand_word (w.data, NULL, sw_expand_lookup_envv, env, &out, NULL), 0);
  assert_string_equal (out, v.data + 2);
  free (out);
  sw_buf_free (&v);
  sw_buf_free (&w);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (plain_and_braced),
    cmocka_unit_test (bad_substitutions),
    cmocka_unit_test (default_and_alternative),
    cmocka_unit_test (required),
    cmocka_unit_test (prefix_and_suffix),
    cmocka_unit_test (replacement),
    cmocka_unit_test (quotes_and_escapes),
    cmocka_unit_test (backtick_escape),
    cmocka_unit_test (word_splitting),
    cmocka_unit_test (options),
    cmocka_unit_test (lookups_are_reported),
    cmocka_unit_test (envv_lookup),
    cmocka_unit_test (error_messages),
    cmocka_unit_test (null_err_is_allowed),
    cmocka_unit_test (deep_nesting_is_an_error_not_a_crash),
    cmocka_unit_test (long_patterns_stay_linear),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
