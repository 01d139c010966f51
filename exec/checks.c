/* exec/checks.c — BuildKit's build checks in a build: `--call=check` (the report, and a
 * failure when anything was found), and in an ordinary build the warnings at the end and
 * in the metadata file's "buildx.build.warnings", as buildx shows them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "copy/dockerignore.h"
#include "dockerfile/instructions.h"
#include "dockerfile/lint.h"
#include "dockerfile/plan.h"
#include "dockerfile/suggest.h"
#include "image/config.h" /* sw_strlist_* */
#include "exec/build.h"
#include "exec/engine.h"
#include "registry/auth.h" /* sw_base64_encode */

/* patternmatcher's root check: a COPY of "." is only reported when everything is ignored */
static bool
root_ignored (const sw_patterns *pm)
{
  for (size_t i = 0; i < sw_patterns_count (pm); i++)
    {
      bool exc;
      const char *p = sw_patterns_get (pm, i, &exc);
      if (!exc && (strcmp (p, "*") == 0 || strcmp (p, "**") == 0 || strcmp (p, "**/*") == 0))
        return true;
    }
  return false;
}

/* CopyIgnoredFile: a COPY/ADD from the context naming a path .dockerignore excludes (only
 * when the file has no !exception, as BuildKit). */
static void
lint_copy_ignored (sw_engine *e)
{
  sw_patterns *pm = NULL;
  sw_error *err = NULL;
  if (sw_df_lint_skipped (e->df, "CopyIgnoredFile")
      || sw_dockerignore_load (e->context, e->b->dockerfile, &pm, NULL, &err) < 0 || pm == NULL
      || sw_patterns_has_exceptions (pm))
    {
      sw_error_free (err); /* an unreadable ignore file is the build's error to report, later */
      sw_patterns_free (pm);
      return;
    }
  const sw_df_node *root = e->df->ast;
  for (size_t i = 0; i < root->n_children; i++)
    {
      sw_df_instr *in = NULL;
      if (sw_df_instr_parse (e->df, root->children[i], &in, &err) < 0)
        {
          sw_error_free (err);
          err = NULL;
          continue;
        }
      if ((in->kind == SW_DF_COPY || in->kind == SW_DF_ADD) && in->from == NULL)
        for (size_t k = 0; k < in->n_sources; k++)
          {
            const char *src = in->sources[k];
            if (strchr (src, '$') || strstr (src, "://") || strncmp (src, "git@", 4) == 0)
              continue;
            cleanup_free char *clean = sw_path_clean (src);
            const char *rel = clean;
            while (*rel == '/')
              rel++;
            bool matched = false;
            if (*rel == '\0' || strcmp (rel, ".") == 0)
              matched = root_ignored (pm);
            else if (sw_patterns_match (pm, rel, NULL, NULL, &matched, &err) < 0)
              {
                sw_error_free (err);
                err = NULL;
                matched = false;
              }
            if (matched)
              sw_df_findings_add (&e->hub->findings, &e->hub->n_findings, "CopyIgnoredFile",
                                  "Attempting to Copy file that is excluded by .dockerignore", "copy-ignored-file",
                                  sw_xasprintf ("Attempting to %s file \"%s\" that is excluded by .dockerignore",
                                                in->kind == SW_DF_ADD ? "Add" : "Copy", *rel ? rel : "."),
                                  root->children[i]->start_line);
          }
      sw_df_instr_free (in);
    }
  sw_patterns_free (pm);
}

/* UndefinedVar: the names an instruction's expansion looked up and did not find (in the
 * stage's environment, the base image's ENV included), but the stage's declared ARGs. */
struct undefined_ctx
{
  const sw_plan_env *env;
  char **missing;
};

static const char *
recording_lookup (const char *name, void *userdata)
{
  struct undefined_ctx *c = userdata;
  const char *v = sw_plan_env_get (c->env, name);
  if (v == NULL)
    sw_strlist_push (&c->missing, name);
  return v;
}

static bool
has_finding (const sw_engine *e, int line, const char *detail)
{
  for (size_t i = 0; i < e->hub->n_findings; i++)
    if (e->hub->findings[i].line == line && strcmp (e->hub->findings[i].detail, detail) == 0)
      return true;
  return false;
}

void
sw_engine_lint_undefined (sw_engine *e, sw_stage *s, const sw_df_instr *raw)
{
  if (raw->trigger || raw->kind == SW_DF_ARG || raw->kind == SW_DF_FROM || !sw_df_kind_expands (raw->kind)
      || sw_df_lint_skipped (e->df, "UndefinedVar"))
    return;
  struct undefined_ctx c = { s->env, NULL };
  sw_df_instr *tmp = NULL;
  sw_error *err = NULL;
  if (sw_df_instr_expand (e->df, raw, e->df->escape, recording_lookup, &c, &tmp, &err) < 0)
    sw_error_free (err); /* the step reports its own expansion error */
  sw_df_instr_free (tmp);
  cleanup_strv char **env = sw_plan_env_list (s->env);
  size_t n_env = sw_strlist_len (env);
  for (size_t i = 0; i < n_env; i++)
    env[i][strcspn (env[i], "=")] = '\0';
  for (size_t i = 0; c.missing && c.missing[i]; i++)
    {
      const char *name = c.missing[i];
      bool declared = false;
      for (size_t j = 0; s->arg_names && s->arg_names[j]; j++)
        declared |= strcmp (s->arg_names[j], name) == 0;
      if (declared)
        continue;
      long k = sw_df_closest (name, (const char *const *) env, n_env);
      char *detail = k >= 0 ? sw_xasprintf ("Usage of undefined variable '$%s' (did you mean $%s?)", name, env[k])
                            : sw_xasprintf ("Usage of undefined variable '$%s'", name);
      int line = raw->node->start_line;
      pthread_mutex_lock (&e->hub->lock); /* the stages and platforms step at once */
      if (has_finding (e, line, detail))
        free (detail); /* another platform's run of the same stage */
      else
        sw_df_findings_add (&e->hub->findings, &e->hub->n_findings, "UndefinedVar",
                            "Variables should be defined before their use", "undefined-var", detail, line);
      pthread_mutex_unlock (&e->hub->lock);
    }
  sw_strlist_free (c.missing);
}

void
sw_engine_lint (sw_engine *e)
{
  sw_df_findings_free (e->hub->findings, e->hub->n_findings);
  sw_df_lint (e->df, &e->hub->findings, &e->hub->n_findings);
  lint_copy_ignored (e);
}

/* buildx's snippet: the finding's line with two lines of context each side. */
static void
snippet (const sw_dockerfile *df, int line, sw_buf *out)
{
  sw_buf_printf (out, "%s:%d\n--------------------\n", df->path, line);
  for (int l = line - 2; l <= line + 2; l++)
    if (l >= 1 && (size_t) l <= df->n_lines)
      sw_buf_printf (out, " %3d | %s %s\n", l, l == line ? ">>>" : "   ", df->lines[l - 1]);
  sw_buf_puts (out, "--------------------\n");
}

int
sw_engine_check_report (sw_engine *e, sw_error **err)
{
  cleanup_buf sw_buf head = SW_BUF_INIT;
  if (e->hub->n_findings == 0)
    sw_buf_puts (&head, "Check complete, no warnings found.");
  else
    sw_buf_printf (&head, "Check complete, %zu warning%s been found!", e->hub->n_findings,
                   e->hub->n_findings == 1 ? " has" : "s have");
  sw_event ev = { .kind = SW_EVENT_LOG, .level = SW_LOG_WARN, .text = sw_buf_str (&head) };
  sw_build_emit (e->b, &ev);
  for (size_t i = 0; i < e->hub->n_findings; i++)
    {
      const sw_df_finding *f = &e->hub->findings[i];
      cleanup_buf sw_buf t = SW_BUF_INIT;
      sw_buf_printf (&t, "%s - %s\n%s\n", f->rule, f->url, f->detail);
      snippet (e->df, f->line, &t);
      sw_event w = { .kind = SW_EVENT_WARNING, .text = sw_buf_str (&t) };
      sw_build_emit (e->b, &w);
    }
  if (e->hub->n_findings)
    return sw_error_make (err, EINVAL, "%zu build check%s failed", e->hub->n_findings, e->hub->n_findings == 1 ? "" : "s");
  return 0;
}

void
sw_engine_lint_warnings (sw_engine *e)
{
  for (size_t i = 0; i < e->hub->n_findings; i++)
    {
      cleanup_free char *t = sw_xasprintf ("%s: %s (line %d)", e->hub->findings[i].rule, e->hub->findings[i].detail,
                                           e->hub->findings[i].line);
      sw_event w = { .kind = SW_EVENT_WARNING, .text = t };
      sw_build_emit (e->b, &w);
    }
}

/* A JSON string literal (the texts here are plain, but quotes and backslashes are escaped). */
static void
json_str (sw_buf *b, const char *s)
{
  sw_buf_putc (b, '"');
  for (; *s; s++)
    {
      if (*s == '"' || *s == '\\')
        sw_buf_putc (b, '\\');
      sw_buf_putc (b, *s);
    }
  sw_buf_putc (b, '"');
}

size_t
sw_engine_lint_metadata (sw_engine *e, sw_buf *json)
{
  /* BuildKit's VertexWarning as buildx marshals it: byte strings in base64 */
  for (size_t i = 0; i < e->hub->n_findings; i++)
    {
      const sw_df_finding *f = &e->hub->findings[i];
      cleanup_free char *shortmsg = sw_xasprintf ("%s: %s", f->rule, f->detail);
      cleanup_free char *s64 = sw_base64_encode (shortmsg, strlen (shortmsg));
      cleanup_free char *d64 = sw_base64_encode (f->description, strlen (f->description));
      sw_buf_printf (json, "%s\n    {\n      \"level\": 1,\n      \"short\": \"%s\",\n      \"detail\": [\"%s\"],\n      \"url\": ",
                     i ? "," : "", s64, d64);
      json_str (json, f->url);
      sw_buf_puts (json, ",\n      \"sourceInfo\": {\"filename\": ");
      json_str (json, e->df->path);
      sw_buf_printf (json, "},\n      \"range\": [{\"start\": {\"line\": %d}, \"end\": {\"line\": %d}}]\n    }", f->line,
                     f->line);
    }
  return e->hub->n_findings;
}
