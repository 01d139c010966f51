/* Unit tests for bake/: the HCL subset (values, templates, heredocs, operators, functions,
 * variables and the environment, errors with positions), and the publish order rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bake/hcl.h"
#include "common/cleanup.h"
#include "registry/publish.h"

static const char *
env_of (void *ud, const char *name)
{
  const char *const *kv = ud;
  for (size_t i = 0; kv && kv[i]; i += 2)
    if (strcmp (kv[i], name) == 0)
      return kv[i + 1];
  return NULL;
}

/* Evaluate TEXT (one target "t" block expected) and return attribute NAME as compact JSON. */
static char *
eval_attr (const char *text, const char *const *env, const char *name, char **errmsg)
{
  sw_error *err = NULL;
  sw_hcl_file *f = NULL;
  sw_hcl_block *b = NULL;
  size_t n = 0;
  char *out = NULL;
  *errmsg = NULL;
  if (sw_hcl_parse (text, strlen (text), "t.hcl", &f, &err) == 0
      && sw_hcl_eval (&f, 1, env_of, (void *) env, &b, &n, &err) == 0)
    {
      json_t *v = n ? json_object_get (b[0].attrs, name) : NULL;
      out = v ? json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    }
  if (err)
    *errmsg = strdup (sw_error_message (err));
  sw_error_free (err);
  sw_hcl_blocks_free (b, n);
  sw_hcl_file_free (f);
  return out;
}

#define EXPECT(text, env, attr, want)                                                             \
  do                                                                                              \
    {                                                                                             \
      char *em;                                                                                   \
      char *got = eval_attr (text, env, attr, &em);                                               \
      if (got == NULL)                                                                            \
        fail_msg ("%s: %s", text, em ? em : "(attribute missing)");                               \
      assert_string_equal (got, want);                                                            \
      free (got);                                                                                 \
      free (em);                                                                                  \
    }                                                                                             \
  while (0)

static void
values_and_templates (void **state)
{
  EXPECT ("target \"t\" {\n a = \"x${1 + 2}y\"\n}\n", NULL, "a", "\"x3y\"");
  EXPECT ("target \"t\" {\n a = \"$${NO} %%{no}\"\n}\n", NULL, "a", "\"${NO} %{no}\"");
  EXPECT ("target \"t\" {\n a = [1, 2.5, true, null, \"s\"]\n}\n", NULL, "a", "[1,2.5,true,null,\"s\"]");
  EXPECT ("target \"t\" {\n a = {\n  k = \"v\"\n  \"q.r\": 2,\n }\n}\n", NULL, "a", "{\"k\":\"v\",\"q.r\":2}");
  EXPECT ("target \"t\" {\n a = \"\\u00e9\\t\\\"\"\n}\n", NULL, "a", "\"\xc3\xa9\\t\\\"\"");
  EXPECT ("target \"t\" {\n a = <<-EOT\n    one\n      two\n    EOT\n}\n", NULL, "a", "\"one\\n  two\\n\"");
  EXPECT ("target \"t\" {\n a = <<EOT\nx ${\"y\"}\nEOT\n}\n", NULL, "a", "\"x y\\n\"");
  /* comments of three kinds */
  EXPECT ("# c\n// c\ntarget \"t\" { /* c */\n a = 1 # c\n}\n", NULL, "a", "1");
}

static void
operators_and_functions (void **state)
{
  EXPECT ("target \"t\" {\n a = 7 % 3 * 2 - -1\n}\n", NULL, "a", "3");
  EXPECT ("target \"t\" {\n a = 1 < 2 && !false || false\n}\n", NULL, "a", "true");
  EXPECT ("target \"t\" {\n a = \"x\" == \"y\" ? \"same\" : \"differ\"\n}\n", NULL, "a", "\"differ\"");
  EXPECT ("target \"t\" {\n a = [\"p\", \"q\"][1]\n}\n", NULL, "a", "\"q\"");
  EXPECT ("target \"t\" {\n a = join(\",\", split(\"-\", \"a-b\"), [\"c\"])\n}\n", NULL, "a", "\"a,b,c\"");
  EXPECT ("target \"t\" {\n a = format(\"%s:%d\", upper(\"x\"), 5)\n}\n", NULL, "a", "\"X:5\"");
  EXPECT ("target \"t\" {\n a = substr(\"abcdef\", 1, 3)\n}\n", NULL, "a", "\"bcd\"");
  EXPECT ("target \"t\" {\n a = coalesce(null, \"\", \"z\")\n}\n", NULL, "a", "\"\"");
}

static void
variables_and_environment (void **state)
{
  static const char *const env[] = { "TAG", "9", "ON", "true", "N", "4", NULL };
  const char *file = "variable \"TAG\" {\n default = \"1\"\n}\nvariable \"ON\" {\n default = false\n}\n"
                     "variable \"N\" {\n default = 1\n}\nvariable \"E\" {}\nTOP = \"t-${TAG}\"\n"
                     "target \"t\" {\n a = [TAG, ON, N + 1, E, TOP]\n}\n";
  EXPECT (file, NULL, "a", "[\"1\",false,2,\"\",\"t-1\"]");
  EXPECT (file, env, "a", "[\"9\",true,5,\"\",\"t-9\"]");
  /* a variable's default may use another; a cycle is an error */
  EXPECT ("variable \"A\" {\n default = \"${B}!\"\n}\nvariable \"B\" {\n default = \"b\"\n}\n"
          "target \"t\" {\n a = A\n}\n",
          NULL, "a", "\"b!\"");
  char *em;
  char *got = eval_attr ("variable \"A\" {\n default = A\n}\ntarget \"t\" {\n a = A\n}\n", NULL, "a", &em);
  assert_null (got);
  assert_non_null (strstr (em, "variable cycle"));
  free (em);
  static const char *const badenv[] = { "N", "many", NULL };
  got = eval_attr (file, badenv, "a", &em);
  assert_null (got);
  assert_non_null (strstr (em, "as number"));
  free (em);
}

static void
errors_have_positions (void **state)
{
  static const struct
  {
    const char *text, *want;
  } cases[] = {
    { "target \"t\" {\n a = [1, 2\n}\n", "t.hcl:3,1" },
    { "target \"t\" {\n a = \"open\n}\n", "unterminated string" },
    { "target \"t\" {\n a = nope\n}\n", "t.hcl:2,6: Unknown variable" },
    { "target \"t\" {\n a = nofn(1)\n}\n", "no function named \"nofn\"" },
    { "target \"t\" {\n a = 1 b = 2\n}\n", "one attribute per line" },
    { "target \"t\" {\n a = 1\n", "missing \"}\"" },
    { "target \"t\" {\n a = <<EOT\nnever closed\n}\n", "heredoc EOT is not closed" },
    { "target \"t\" {\n a = \"x${[1]}\"\n}\n", "Invalid template interpolation" },
    { "target \"t\" {\n a = 1 / 0\n}\n", "Zero divisor" },
    { "thing \"t\" {\n}\n", "Unsupported block type" },
    { "target \"t\" {\n a = \"%{ if true }x%{ endif }\"\n}\n", "template directives" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    {
      char *em;
      char *got = eval_attr (cases[i].text, NULL, "a", &em);
      if (got)
        fail_msg ("%s: accepted, gave %s", cases[i].text, got);
      if (em == NULL || strstr (em, cases[i].want) == NULL)
        fail_msg ("%s: got \"%s\", want \"%s\"", cases[i].text, em ? em : "", cases[i].want);
      free (em);
    }
}

static void
json_syntax (void **state)
{
  const char *text = "{\"variable\": {\"V\": {\"default\": \"x\"}}, \"target\": {\"t\": {\"a\": [\"${V}-1\", 2]}}}";
  sw_error *err = NULL;
  sw_hcl_file *f = NULL;
  sw_hcl_block *b = NULL;
  size_t n = 0;
  assert_int_equal (sw_hcl_parse_json (text, strlen (text), "t.json", &f, &err), 0);
  assert_int_equal (sw_hcl_eval (&f, 1, env_of, NULL, &b, &n, &err), 0);
  assert_int_equal (n, 1);
  char *s = json_dumps (json_object_get (b[0].attrs, "a"), JSON_COMPACT);
  assert_string_equal (s, "[\"x-1\",2]");
  free (s);
  sw_hcl_blocks_free (b, n);
  sw_hcl_file_free (f);
}

static void
publish_order (void **state)
{
  static const char *const versioned[] = { "1.2.3", "v2", "V1.0-rc1", "2024-05-01", "main-20240501", "build-1714550400" };
  static const char *const moving[] = { "latest", "main", "stable", "edge", "pr-123", "sha-abc1234" };
  for (size_t i = 0; i < sizeof versioned / sizeof *versioned; i++)
    if (!sw_publish_tag_is_versioned (versioned[i]))
      fail_msg ("%s should be versioned", versioned[i]);
  for (size_t i = 0; i < sizeof moving / sizeof *moving; i++)
    if (sw_publish_tag_is_versioned (moving[i]))
      fail_msg ("%s should be a moving tag", moving[i]);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (values_and_templates),
    cmocka_unit_test (operators_and_functions),
    cmocka_unit_test (variables_and_environment),
    cmocka_unit_test (errors_have_positions),
    cmocka_unit_test (json_syntax),
    cmocka_unit_test (publish_order),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
