/* dockerfile/lint.c — BuildKit's build checks on the parse tree (see lint.h). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "dockerfile/expand.h"
#include "dockerfile/instructions.h"
#include "dockerfile/lint.h"
#include "image/config.h" /* sw_strlist_* */

typedef struct rule
{
  const char *name, *slug, *description;
} rule;

static const rule R_STAGE_CASING = { "StageNameCasing", "stage-name-casing", "Stage names should be lowercase" };
static const rule R_FROM_AS = { "FromAsCasing", "from-as-casing", "The 'as' keyword should match the case of the 'from' keyword" };
static const rule R_EMPTY_CONT = { "NoEmptyContinuation", "no-empty-continuation", "Empty continuation lines will become errors in a future release" };
static const rule R_CASING = { "ConsistentInstructionCasing", "consistent-instruction-casing", "All commands within the Dockerfile should use the same casing (either upper or lower)" };
static const rule R_DUP_STAGE = { "DuplicateStageName", "duplicate-stage-name", "Stage names should be unique" };
static const rule R_RESERVED = { "ReservedStageName", "reserved-stage-name", "Reserved words should not be used as stage names" };
static const rule R_JSON_ARGS = { "JSONArgsRecommended", "json-args-recommended", "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals" };
static const rule R_MAINTAINER = { "MaintainerDeprecated", "maintainer-deprecated", "The MAINTAINER instruction is deprecated, use a label instead to define an image author" };
static const rule R_UNDEF_FROM = { "UndefinedArgInFrom", "undefined-arg-in-from", "FROM command must use declared ARGs" };
static const rule R_WORKDIR_REL = { "WorkdirRelativePath", "workdir-relative-path", "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes" };
static const rule R_MULTIPLE = { "MultipleInstructionsDisallowed", "multiple-instructions-disallowed", "Multiple instructions of the same type should not be used in the same stage" };
static const rule R_LEGACY_KV = { "LegacyKeyValueFormat", "legacy-key-value-format", "Legacy key/value format with whitespace separator should not be used" };
static const rule R_REDUNDANT_TP = { "RedundantTargetPlatform", "redundant-target-platform", "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior" };
static const rule R_SECRETS = { "SecretsUsedInArgOrEnv", "secrets-used-in-arg-or-env", "Sensitive data should not be used in the ARG or ENV commands" };
static const rule R_INVALID_DEFAULT = { "InvalidDefaultArgInFrom", "invalid-default-arg-in-from", "Default value for global ARG results in an empty or invalid base image name" };
static const rule R_PLATFORM_CONST = { "FromPlatformFlagConstDisallowed", "from-platform-flag-const-disallowed", "FROM --platform flag should not use a constant value" };

struct lint
{
  const sw_dockerfile *df;
  sw_df_finding *v;
  size_t n;
  char **skip; /* from "# check=skip=…" */
  bool skip_all;
};

static bool
skipped (struct lint *L, const rule *r)
{
  if (L->skip_all)
    return true;
  for (size_t i = 0; L->skip && L->skip[i]; i++)
    if (strcmp (L->skip[i], r->name) == 0)
      return true;
  return false;
}

static void __attribute__ ((format (printf, 4, 5)))
report (struct lint *L, const rule *r, int line, const char *fmt, ...)
{
  if (skipped (L, r))
    return;
  va_list ap;
  va_start (ap, fmt);
  char *detail = NULL;
  if (vasprintf (&detail, fmt, ap) < 0)
    abort ();
  va_end (ap);
  L->v = sw_xreallocarray (L->v, L->n + 1, sizeof *L->v);
  L->v[L->n++] = (sw_df_finding){ r->name, r->description,
                                  sw_xasprintf ("https://docs.docker.com/go/dockerfile/rule/%s/", r->slug), detail, line };
}

/* The instruction keyword as written: the first word of the node's original line. */
static char *
keyword_of (const sw_df_node *n)
{
  const char *s = n->original ? n->original : n->value;
  while (*s == ' ' || *s == '\t')
    s++;
  size_t len = strcspn (s, " \t");
  return sw_xstrndup (s, len);
}

static bool
all_lower (const char *s)
{
  for (; *s; s++)
    if (isupper ((unsigned char) *s))
      return false;
  return true;
}

static bool
all_upper (const char *s)
{
  for (; *s; s++)
    if (islower ((unsigned char) *s))
      return false;
  return true;
}

static bool
self_consistent (const char *s)
{
  return all_lower (s) || all_upper (s);
}

static void
check_casing (struct lint *L)
{
  size_t lower = 0, upper = 0;
  const sw_df_node *root = L->df->ast;
  for (size_t i = 0; i < root->n_children; i++)
    {
      cleanup_free char *k = keyword_of (root->children[i]);
      if (self_consistent (k))
        {
          if (all_lower (k))
            lower++;
          else
            upper++;
        }
    }
  bool majority_lower = lower > upper;
  for (size_t i = 0; i < root->n_children; i++)
    {
      cleanup_free char *k = keyword_of (root->children[i]);
      const char *correct = NULL;
      if (majority_lower && !all_lower (k))
        correct = "lowercase";
      else if (!majority_lower && !all_upper (k))
        correct = "uppercase";
      /* BuildKit checks the stages' FROM and their commands, not the global ARGs */
      if (correct && strcasecmp (k, "arg") == 0)
        {
          bool global = true;
          for (size_t j = 0; j < i; j++)
            if (strcasecmp (root->children[j]->value, "from") == 0)
              global = false;
          if (global)
            correct = NULL;
        }
      if (correct)
        report (L, &R_CASING, root->children[i]->start_line,
                "Command '%s' should match the case of the command majority (%s)", k, correct);
    }
}

static bool
secret_like (const char *key)
{
  static const char *const tokens[] = { "apikey", "auth", "credential", "credentials", "key", "password",
                                        "pword", "passwd", "secret", "token", NULL };
  static const char *const allow[] = { "public", "file", "version", NULL };
  cleanup_free char *k = sw_xstrdup (key);
  bool found = false, allowed = false;
  char *save = NULL;
  for (char *p = strtok_r (k, "_", &save); p; p = strtok_r (NULL, "_", &save))
    {
      for (size_t i = 0; tokens[i]; i++)
        if (strcasecmp (p, tokens[i]) == 0)
          found = true;
      for (size_t i = 0; allow[i]; i++)
        if (strcasecmp (p, allow[i]) == 0)
          allowed = true;
    }
  return found && !allowed;
}

/* Global ARGs: name → default (NULL when declared without one). */
struct args
{
  char **names, **values;
  size_t n;
};

static const char *
args_lookup (const char *name, void *userdata)
{
  struct args *a = userdata;
  for (size_t i = a->n; i-- > 0;)
    if (strcmp (a->names[i], name) == 0)
      return a->values[i] ? a->values[i] : "";
  return NULL;
}

static bool
builtin_arg (const char *name)
{
  static const char *const names[] = { "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM",
                                       "BUILDOS", "BUILDARCH", "BUILDVARIANT", NULL };
  for (size_t i = 0; names[i]; i++)
    if (strcmp (name, names[i]) == 0)
      return true;
  return false;
}

/* The names a word refers to ($X, ${X…}), in order. */
static void
referenced_names (const char *w, char ***out)
{
  for (const char *p = w; *p; p++)
    if (*p == '$')
      {
        const char *s = p + 1;
        bool brace = *s == '{';
        if (brace)
          s++;
        size_t len = 0;
        while (isalnum ((unsigned char) s[len]) || s[len] == '_')
          len++;
        if (len)
          {
            char *nm = sw_xstrndup (s, len);
            sw_strlist_push (out, nm);
            free (nm);
          }
      }
}

static bool
valid_image_name (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || s[n - 1] == ':' || s[n - 1] == '@' || s[n - 1] == '/' || s[0] == ':' || s[0] == '/')
    return false;
  for (const char *p = s; *p; p++)
    if (isspace ((unsigned char) *p))
      return false;
  return true;
}

static void
check_from (struct lint *L, const sw_df_node *n, struct args *gargs, char ***stage_names)
{
  int line = n->start_line;
  cleanup_free char *fromkw = keyword_of (n);
  const sw_df_node *base = n->next;
  const char *as = base && base->next ? base->next->value : NULL;
  const char *name = as && base->next->next ? base->next->next->value : NULL;
  if (name)
    {
      cleanup_free char *lower = sw_xstrdup (name);
      for (char *p = lower; *p; p++)
        *p = (char) tolower ((unsigned char) *p);
      if (strcmp (lower, "scratch") == 0 || strcmp (lower, "context") == 0)
        report (L, &R_RESERVED, line, "Stage name should not use the same name as reserved stage \"%s\"", lower);
      for (size_t i = 0; *stage_names && (*stage_names)[i]; i++)
        if (strcmp ((*stage_names)[i], lower) == 0)
          report (L, &R_DUP_STAGE, line, "Duplicate stage name \"%s\", stage names should be unique", lower);
      sw_strlist_push (stage_names, lower);
      if (!all_lower (name))
        report (L, &R_STAGE_CASING, line, "Stage name '%s' should be lowercase", name);
      if (self_consistent (fromkw) && all_upper (fromkw) != all_upper (as))
        report (L, &R_FROM_AS, line, "'%s' and '%s' keywords' casing do not match", as, fromkw);
    }
  /* --platform */
  for (size_t i = 0; i < n->n_flags; i++)
    if (strncmp (n->flags[i], "--platform=", 11) == 0)
      {
        const char *v = n->flags[i] + 11;
        if (strcmp (v, "$TARGETPLATFORM") == 0 || strcmp (v, "${TARGETPLATFORM}") == 0)
          report (L, &R_REDUNDANT_TP, line,
                  "Setting platform to predefined %s in FROM is redundant as this is the default behavior", v);
        else if (!strchr (v, '$') && strchr (v, '/'))
          {
            cleanup_free char *os = sw_xstrndup (v, strcspn (v, "/"));
            const char *arch0 = strchr (v, '/') + 1;
            cleanup_free char *arch = sw_xstrndup (arch0, strcspn (arch0, "/"));
            if (!(name && (strstr (name, os) || strstr (name, arch))))
              report (L, &R_PLATFORM_CONST, line, "FROM --platform flag should not use constant value \"%s\"", v);
          }
      }
  /* the base's ARGs */
  if (base && strchr (base->value, '$'))
    {
      cleanup_strv char **refs = NULL;
      cleanup_strv char **undeclared = NULL;
      referenced_names (base->value, &refs);
      bool all_defaults = true;
      for (size_t i = 0; refs && refs[i]; i++)
        {
          if (builtin_arg (refs[i]))
            continue;
          bool declared = false, has_default = false;
          for (size_t j = 0; j < gargs->n; j++)
            if (strcmp (gargs->names[j], refs[i]) == 0)
              {
                declared = true;
                has_default = gargs->values[j] != NULL;
              }
          if (!declared)
            sw_strlist_push (&undeclared, refs[i]);
          if (!has_default)
            all_defaults = false;
        }
      (void) all_defaults;
      cleanup_free char *expanded = NULL;
      sw_expand_opts o = { .escape = L->df->escape };
      sw_error *e = NULL;
      if (sw_expand_word (base->value, &o, args_lookup, gargs, &expanded, &e) == 0)
        {
          if (!valid_image_name (expanded))
            report (L, &R_INVALID_DEFAULT, line,
                    "Default value for ARG %s results in empty or invalid base image name", base->value);
        }
      else
        sw_error_free (e);
      for (size_t i = 0; undeclared && undeclared[i]; i++)
        report (L, &R_UNDEF_FROM, line, "FROM argument '%s' is not declared", undeclared[i]);
    }
}

/* "ENV a b" / "LABEL a b": the first argument after the keyword has no '='. */
static bool
legacy_kv (const sw_df_node *n)
{
  const char *s = n->original;
  while (*s == ' ' || *s == '\t')
    s++;
  s += strcspn (s, " \t");
  while (*s == ' ' || *s == '\t')
    s++;
  size_t len = strcspn (s, " \t");
  return memchr (s, '=', len) == NULL && s[len] != '\0';
}

/* "# check=skip=A,B" or "skip=all", possibly with ";error=true" */
static void
parse_check_directive (struct lint *L)
{
  const char *s = L->df->check ? strstr (L->df->check, "skip=") : NULL;
  if (s == NULL)
    return;
  cleanup_free char *list = sw_xstrndup (s + 5, strcspn (s + 5, ";"));
  if (strcmp (list, "all") == 0)
    L->skip_all = true;
  char *save = NULL;
  for (char *p = strtok_r (list, ",", &save); p; p = strtok_r (NULL, ",", &save))
    sw_strlist_push (&L->skip, p);
}

void
sw_df_lint (const sw_dockerfile *df, sw_df_finding **out, size_t *n)
{
  struct lint L = { df, NULL, 0, NULL, false };
  struct args gargs = { 0 };
  cleanup_strv char **stage_names = NULL;
  *out = NULL;
  *n = 0;
  parse_check_directive (&L);
  for (size_t i = 0; i < df->n_warnings; i++)
    report (&L, &R_EMPTY_CONT, df->warnings[i].line, "Empty continuation line");
  const sw_df_node *root = df->ast;
  bool in_stage = false, workdir_set = false;
  int cmd_line = 0, entrypoint_line = 0, health_line = 0;
  bool shell_set = false;
  for (size_t i = 0; i < root->n_children; i++)
    {
      const sw_df_node *node = root->children[i];
      const char *kw = node->value;
      int line = node->start_line;
      if (strcasecmp (kw, "from") == 0)
        {
          check_from (&L, node, &gargs, &stage_names);
          in_stage = true;
          workdir_set = shell_set = false;
          cmd_line = entrypoint_line = health_line = 0;
          continue;
        }
      sw_df_instr *in = NULL;
      sw_error *e = NULL;
      if (sw_df_instr_parse (df, node, &in, &e) < 0)
        {
          sw_error_free (e);
          continue;
        }
      switch (in->kind)
        {
        case SW_DF_ARG:
          for (size_t k = 0; k < in->n_kvs; k++)
            {
              if (!in_stage)
                {
                  gargs.names = sw_xreallocarray (gargs.names, gargs.n + 1, sizeof *gargs.names);
                  gargs.values = sw_xreallocarray (gargs.values, gargs.n + 1, sizeof *gargs.values);
                  gargs.names[gargs.n] = sw_xstrdup (in->kvs[k].key);
                  gargs.values[gargs.n++] = in->kvs[k].value ? sw_xstrdup (in->kvs[k].value) : NULL;
                }
              if (secret_like (in->kvs[k].key))
                report (&L, &R_SECRETS, line, "Do not use ARG or ENV instructions for sensitive data (%s \"%s\")",
                        "ARG", in->kvs[k].key);
            }
          break;
        case SW_DF_ENV:
        case SW_DF_LABEL:
          if (legacy_kv (node))
            report (&L, &R_LEGACY_KV, line, "\"%s key=value\" should be used instead of legacy \"%s key value\" format",
                    in->kind == SW_DF_ENV ? "ENV" : "LABEL", in->kind == SW_DF_ENV ? "ENV" : "LABEL");
          if (in->kind == SW_DF_ENV)
            for (size_t k = 0; k < in->n_kvs; k++)
              if (secret_like (in->kvs[k].key))
                report (&L, &R_SECRETS, line, "Do not use ARG or ENV instructions for sensitive data (%s \"%s\")",
                        "ENV", in->kvs[k].key);
          break;
        case SW_DF_MAINTAINER:
          report (&L, &R_MAINTAINER, line, "Maintainer instruction is deprecated in favor of using label");
          break;
        case SW_DF_WORKDIR:
          if (!workdir_set && in->value && in->value[0] != '/' && in->value[0] != '$')
            report (&L, &R_WORKDIR_REL, line, "Relative workdir \"%s\" can have unexpected results if the base image changes",
                    in->value);
          workdir_set = true;
          break;
        case SW_DF_SHELL:
          shell_set = true;
          break;
        case SW_DF_CMD:
        case SW_DF_ENTRYPOINT:
        case SW_DF_HEALTHCHECK:
          {
            int *seen = in->kind == SW_DF_CMD ? &cmd_line : in->kind == SW_DF_ENTRYPOINT ? &entrypoint_line : &health_line;
            cleanup_free char *k = keyword_of (node);
            if (*seen)
              report (&L, &R_MULTIPLE, *seen,
                      "Multiple %s instructions should not be used in the same stage because only the last one will be used", k);
            *seen = line;
            if (in->kind != SW_DF_HEALTHCHECK && in->prepend_shell && !shell_set)
              report (&L, &R_JSON_ARGS, line,
                      "JSON arguments recommended for %s to prevent unintended behavior related to OS signals", k);
            break;
          }
        default:
          break;
        }
      sw_df_instr_free (in);
    }
  check_casing (&L); /* last: on a line, BuildKit reports it after the instruction's own */
  for (size_t i = 0; i < gargs.n; i++)
    {
      free (gargs.names[i]);
      free (gargs.values[i]);
    }
  free (gargs.names);
  free (gargs.values);
  sw_strlist_free (L.skip);
  /* sorted by line, stable */
  for (size_t i = 1; i < L.n; i++)
    for (size_t j = i; j > 0 && L.v[j - 1].line > L.v[j].line; j--)
      {
        sw_df_finding t = L.v[j];
        L.v[j] = L.v[j - 1];
        L.v[j - 1] = t;
      }
  *out = L.v;
  *n = L.n;
}

bool
sw_df_lint_skipped (const sw_dockerfile *df, const char *name)
{
  struct lint L = { df, NULL, 0, NULL, false };
  const rule r = { name, "", "" };
  parse_check_directive (&L);
  bool s = skipped (&L, &r);
  sw_strlist_free (L.skip);
  return s;
}

void
sw_df_findings_add (sw_df_finding **v, size_t *n, const char *rule_name, const char *description, const char *slug,
                    char *detail, int line)
{
  *v = sw_xreallocarray (*v, *n + 1, sizeof **v);
  size_t i = *n;
  while (i > 0 && (*v)[i - 1].line > line)
    {
      (*v)[i] = (*v)[i - 1];
      i--;
    }
  (*v)[i] = (sw_df_finding){ rule_name, description, sw_xasprintf ("https://docs.docker.com/go/dockerfile/rule/%s/", slug),
                             detail, line };
  (*n)++;
}

void
sw_df_findings_free (sw_df_finding *f, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      free (f[i].url);
      free (f[i].detail);
    }
  free (f);
}
