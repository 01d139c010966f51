/* exec/copy_step.c — COPY and ADD as build steps.
 *
 * copy/copy.c knows what to copy where (BuildKit's rules); this file gives it the two
 * trees: the source (the context, another stage's rootfs or an image's) and the
 * destination, a private overlay view of the stage whose writes land in a new upper dir
 * — the step's layer.  COPY --link (without --chmod, as BuildKit) copies into an empty
 * tree instead: a layer that does not depend on what is below it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include <stdatomic.h>

#include "common/xalloc.h"
#include "copy/copy.h"
#include "copy/context.h"
#include "exec/engine.h"
#include "sandbox/view.h"

/* The context and its .dockerignore, the first time a step needs them, as buildx's
 * "[internal] load build context". */
static int
load_context (sw_engine *e, sw_error **err)
{
  /* The build opened the context (run_build.c); the first COPY that reads it says so. */
  if (atomic_exchange (&e->hub->context_announced, true))
    return 0;
  double t0 = sw_engine_now ();
  int id = sw_engine_vertex_start (e, "[internal] load build context");
  sw_engine_vertex_done (e, id, t0, NULL);
  return 0;
}

struct copy_call
{
  sw_copy_opts *o;
};

static int
copy_in_view (int dst_fd, int src_fd, void *arg, sw_error **err)
{
  struct copy_call *c = arg;
  c->o->dst_root_fd = dst_fd;
  if (src_fd >= 0)
    c->o->src_root_fd = src_fd;
  return sw_copy_run (c->o, err);
}

static int
copy_in_view1 (int dst_fd, void *arg, sw_error **err)
{
  return copy_in_view (dst_fd, -1, arg, err);
}

/* The source tree's lowers for --from: a stage of this build or an image. */
static int
from_lowers (sw_engine *e, sw_stage *s, const char *from, char ***lowers, sw_base_image **image,
             sw_error **err)
{
  long idx = sw_plan_find_stage (e->plan, from);
  const char *named = sw_engine_build_context (e, from);
  if (idx >= 0)
    return sw_engine_stage_lowers (e, &e->stages[idx], lowers, err);
  if (named && strncmp (named, "docker-image://", 15) == 0)
    from = named + 15;
  else if (named)
    {
      /* a local directory context: the tree is that directory */
      cleanup_free char *abs = realpath (named, NULL);
      if (abs == NULL)
        return sw_error_errno (err, "--build-context %s=%s", from, named);
      *lowers = NULL;
      sw_strlist_push (lowers, abs);
      return 0;
    }
  if (sw_base_resolve (e->reg, from, &s->platform, image, err) < 0
      || sw_base_extract (e->reg, e->state, *image, err) < 0)
    return -1;
  *lowers = sw_strlist_dup ((*image)->lowers);
  if (*lowers == NULL)
    *lowers = sw_xcalloc (1, sizeof **lowers);
  return 0;
}

int
sw_engine_copy (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err)
{
  bool add = in->kind == SW_DF_ADD;
  bool link = sw_copy_link_applies (in->link, in->chmod);
  cleanup_strv char **lowers = NULL;
  cleanup_strv char **src_lowers = NULL;
  cleanup_free char *upper = NULL, *work = NULL, *mnt = NULL, *src_mnt = NULL, *tmp = NULL;
  cleanup_free char *where = sw_xasprintf ("%s:%d", e->df->path, in->node->start_line);
  cleanup_free char *src_desc = NULL;
  sw_base_image *image = NULL;
  sw_copy_heredoc *heredocs = NULL;
  sw_copy_opts o = { 0 };
  double t0 = sw_engine_now ();
  int id = -1, r = -1;

  o.add = add;
  o.where = where;
  o.src_root_fd = -1;
  o.dst_root_fd = -1;
  o.user_root_fd = -1;
  o.workdir = s->config->working_dir;
  o.srcs = (const char *const *) in->sources;
  o.n_srcs = in->n_sources;
  o.dest = in->dest;
  o.chown = in->chown;
  o.chmod = in->chmod;
  o.excludes = (const char *const *) in->excludes;
  o.n_excludes = in->n_excludes;
  o.parents = in->parents;
  o.checksum = in->checksum;
  o.unpack = in->unpack;
  o.transport = e->reg;
  heredocs = sw_xcalloc (in->n_inline_sources + 1, sizeof *heredocs);
  for (size_t i = 0; i < in->n_inline_sources; i++)
    heredocs[i] = (sw_copy_heredoc){ in->inline_sources[i].path, in->inline_sources[i].data,
                                     strlen (in->inline_sources[i].data) };
  o.heredocs = heredocs;
  o.n_heredocs = in->n_inline_sources;
  if (sw_copy_check (&o, err) < 0)
    goto fail_early;

  if (in->from == NULL && in->n_sources > 0 && load_context (e, err) < 0)
    goto fail_early;
  id = sw_engine_vertex_start (e, "%s%s", prefix, in->original);
  if (in->from)
    {
      if (from_lowers (e, s, in->from, &src_lowers, &image, err) < 0)
        goto out;
      src_desc = sw_xasprintf ("stage %s", in->from);
      o.src_desc = src_desc;
    }
  else
    {
      sw_context_as_source (e->ctx, &o);
    }
  if ((!link && sw_engine_stage_shape (e, s, &lowers, err) < 0)
      || sw_state_mkscratch (e->state, "upper", &upper, err) < 0
      || sw_state_mkscratch (e->state, "work", &work, err) < 0
      || sw_state_mkscratch (e->state, "mnt", &mnt, err) < 0
      || sw_state_mkscratch (e->state, "tmp", &tmp, err) < 0)
    goto out;
  o.tmp_dir = tmp;

  struct copy_call call = { &o };
  if (in->from)
    {
      if (sw_state_mkscratch (e->state, "src", &src_mnt, err) < 0)
        goto out;
      sw_view_tree dst = { (const char *const *) lowers, upper, work, mnt };
      sw_view_tree src = { (const char *const *) src_lowers, NULL, NULL, src_mnt };
      r = sw_view_run2 (&dst, &src, copy_in_view, &call, err);
    }
  else
    r = sw_view_run ((const char *const *) lowers, upper, work, mnt, copy_in_view1, &call, err);
  if (r < 0)
    goto out;

  {
    cleanup_free char *hist = sw_copy_history (&o);
    cleanup_free char *line = sw_xasprintf ("%s # buildkit", hist);
    sw_commit_history (&s->commit, line, true);
  }
  {
    cleanup_free char *label = sw_xasprintf ("%s%s", prefix, in->original);
    sw_engine_add_built_layer (e, s, upper, label);
  }
out:
  if (work)
    sw_rmtree (work, NULL);
  if (tmp)
    sw_rmtree (tmp, NULL);
  sw_base_free (image);
  free (heredocs);
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  return r < 0 ? sw_engine_locate (e, in->node, err) : 0;
fail_early:
  free (heredocs);
  return sw_engine_locate (e, in->node, err);
}
