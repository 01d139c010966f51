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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"
#include "copy/add.h"
#include "copy/copy.h"
#include "copy/context.h"
#include "exec/cache.h"
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

int
sw_engine_from_tree (sw_engine *e, sw_stage *s, const char *from, char ***lowers, sw_base_image **image,
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
  if (sw_base_resolve (e->reg, from, &s->platform, image, err) < 0)
    return -1;
  sw_engine_note_image (e, from, &s->platform, (*image)->top_digest);
  if (sw_base_extract (e->reg, e->state, *image, err) < 0)
    return -1;
  *lowers = sw_strlist_dup ((*image)->lowers);
  if (*lowers == NULL)
    *lowers = sw_xcalloc (1, sizeof **lowers);
  return 0;
}

/* ADD's URLs, for provenance, with the digest of what each download gave: the file the
 * step left in its new layer (dest/NAME when dest is a directory, else dest).  An unpacked
 * download has no one file to name: its URL is listed without a digest. */
static void
note_urls (sw_engine *e, const sw_copy_opts *o, const char *upper)
{
  cleanup_close int ufd = -1;
  for (size_t i = 0; i < o->n_srcs; i++)
    {
      const char *url = o->srcs[i];
      char digest[SW_DIGEST_BUFSZ] = "";
      if (!sw_add_is_http (url))
        continue;
      if (o->unpack != 1)
        {
          cleanup_free char *name = sw_add_url_filename (url);
          size_t dn = strlen (o->dest);
          bool dir_dest = (dn && o->dest[dn - 1] == '/') || o->n_srcs + o->n_heredocs > 1;
          cleanup_free char *dest = o->dest[0] == '/' ? sw_xstrdup (o->dest)
                                                      : sw_xasprintf ("%s/%s", o->workdir ? o->workdir : "",
                                                                      o->dest);
          if (ufd < 0)
            ufd = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          struct stat st;
          cleanup_close int dfd = ufd < 0 ? -1 : sw_open_in_root (ufd, dest, O_RDONLY | O_NOFOLLOW | O_PATH, 0);
          if (dfd >= 0 && fstat (dfd, &st) == 0 && S_ISDIR (st.st_mode))
            dir_dest = true;
          cleanup_free char *path = dir_dest ? sw_xasprintf ("%s/%s", dest, name) : sw_xstrdup (dest);
          cleanup_close int fd = ufd < 0 ? -1 : sw_open_in_root (ufd, path, O_RDONLY | O_NOFOLLOW, 0);
          if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
            {
              sw_sha256 *h = sw_sha256_new ();
              char buf[65536];
              ssize_t n;
              while ((n = read (fd, buf, sizeof buf)) > 0)
                sw_sha256_update (h, buf, (size_t) n);
              if (n == 0)
                sw_sha256_final (h, digest);
              sw_sha256_free (h);
            }
        }
      sw_engine_note_url (e, url, digest);
    }
}

/* Where the step reads from: another stage's or an image's tree (src_lowers), or the
 * context.  Done once, when first needed (a cache hit on COPY --from=STAGE never needs it). */
struct copy_source
{
  bool ready;
  char **src_lowers;
  sw_base_image *image;
  char *src_desc;
};

static int
copy_source (sw_engine *e, sw_stage *s, const sw_df_instr *in, sw_copy_opts *o, struct copy_source *src,
             sw_error **err)
{
  if (src->ready)
    return 0;
  if (in->from)
    {
      if (sw_engine_from_tree (e, s, in->from, &src->src_lowers, &src->image, err) < 0)
        return -1;
      src->src_desc = sw_xasprintf ("stage %s", in->from);
      o->src_desc = src->src_desc;
    }
  else if (e->ctx != NULL)
    sw_context_as_source (e->ctx, o);
  /* else: only heredoc sources (`COPY <<EOF /x`) — nothing is read from the context, which
   * stays unopened; src_root_fd stays -1 */
  src->ready = true;
  return 0;
}

/* Copy into the tree of lowers (none: an empty tree) with upper as the new layer. */
static int
copy_into (sw_engine *e, const sw_df_instr *in, sw_copy_opts *o, struct copy_source *src, char **lowers,
           const char *upper, sw_error **err)
{
  cleanup_free char *work = NULL, *mnt = NULL, *src_mnt = NULL;
  struct copy_call call = { o };
  int r = -1;

  if (sw_state_mkscratch (e->state, "work", &work, err) < 0 || sw_state_mkscratch (e->state, "mnt", &mnt, err) < 0)
    goto out;
  if (in->from)
    {
      if (sw_state_mkscratch (e->state, "src", &src_mnt, err) < 0)
        goto out;
      sw_view_tree dst = { (const char *const *) lowers, upper, work, mnt };
      sw_view_tree srct = { (const char *const *) src->src_lowers, NULL, NULL, src_mnt };
      r = sw_view_run2 (&dst, &srct, copy_in_view, &call, err);
    }
  else
    r = sw_view_run ((const char *const *) lowers, upper, work, mnt, copy_in_view1, &call, err);
out:
  if (work)
    sw_rmtree (work, NULL);
  return r;
}

/* The step's cache key.  COPY --from=STAGE keys on that stage's key: when it hits, the
 * source stage's tree is never read.  Anything else is copied first into an empty tree
 * (*copied, a scratch dir) whose content — exactly the files the step takes, after
 * .dockerignore, --exclude, --chmod — is hashed. */
static int
copy_key (sw_engine *e, sw_stage *s, const sw_df_instr *in, sw_copy_opts *o, struct copy_source *src,
          const char *hist, char key[65], char **copied, sw_error **err)
{
  key[0] = '\0';
  if (s->key[0] == '\0')
    return 0;
  if (in->from)
    {
      long idx = sw_plan_find_stage (e->plan, in->from);
      if (idx >= 0 && e->stages[idx].done && e->stages[idx].key[0])
        return sw_cache_key_copy (e, s, o, in, hist, e->stages[idx].key, NULL, key, err);
    }
  /* ADD --checksum of URLs: the checksum names the content; nothing to download */
  bool urls = o->add && o->checksum && *o->checksum && o->n_srcs > 0;
  for (size_t i = 0; urls && i < o->n_srcs; i++)
    urls = strncmp (o->srcs[i], "http://", 7) == 0 || strncmp (o->srcs[i], "https://", 8) == 0;
  if (urls)
    {
      cleanup_free char *by = sw_xasprintf ("checksum %s", o->checksum);
      return sw_cache_key_copy (e, s, o, in, hist, by, NULL, key, err);
    }
  if (copy_source (e, s, in, o, src, err) < 0 || sw_state_mkscratch (e->state, "upper", copied, err) < 0
      || copy_into (e, in, o, src, NULL, *copied, err) < 0)
    return -1;
  return sw_cache_key_copy (e, s, o, in, hist, NULL, *copied, key, err);
}

int
sw_engine_copy (sw_engine *e, sw_stage *s, const sw_df_instr *in, const char *prefix, sw_error **err)
{
  bool add = in->kind == SW_DF_ADD;
  bool link = sw_copy_link_applies (in->link, in->chmod);
  cleanup_strv char **lowers = NULL;
  cleanup_free char *upper = NULL, *tmp = NULL, *copied = NULL;
  cleanup_free char *where = sw_xasprintf ("%s:%d", e->df->path, in->node->start_line);
  cleanup_free char *hist = NULL, *label = NULL;
  struct copy_source src = { 0 };
  sw_copy_heredoc *heredocs = NULL;
  sw_copy_opts o = { 0 };
  char key[65] = "";
  double t0 = sw_engine_now ();
  int id = -1, r = -1;
  bool writing = false;

  o.add = add;
  o.where = NULL; /* sw_engine_locate puts "Dockerfile:L:C:" in front of any error */
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
  {
    cleanup_free char *h = sw_copy_history (&o);
    hist = sw_xasprintf ("%s # buildkit", h);
  }
  label = sw_xasprintf ("%s%s", prefix, in->original);
  id = sw_engine_vertex_start (e, "%s%s", prefix, in->original);
  /* the copy (for its cache key, then the layer) goes into the state dir */
  if (sw_engine_disk_enter (e, err) < 0)
    goto out;
  writing = true;
  if (sw_state_mkscratch (e->state, "tmp", &tmp, err) < 0)
    goto out;
  o.tmp_dir = tmp;

  if (copy_key (e, s, in, &o, &src, hist, key, &copied, err) < 0)
    goto out;
  if (sw_cache_try (e, s, key, hist, label, id))
    {
      if (copied)
        sw_state_discard (e->state, copied);
      r = 1;
      goto out;
    }

  if ((link || s->n_layers == 0) && copied)
    {
      /* the copy into an empty tree is the layer itself (--link, or nothing below yet) */
      upper = copied;
      copied = NULL;
    }
  else
    {
      if (copy_source (e, s, in, &o, &src, err) < 0
          || (!link && sw_engine_stage_shape (e, s, &lowers, err) < 0)
          || sw_state_mkscratch (e->state, "upper", &upper, err) < 0
          || copy_into (e, in, &o, &src, lowers, upper, err) < 0)
        goto out;
      if (copied)
        sw_state_discard (e->state, copied);
    }

  if (add)
    note_urls (e, &o, upper);
  sw_commit_history (&s->commit, hist, true);
  memcpy (s->key, key, sizeof s->key);
  sw_engine_add_built_layer (e, s, upper, label);
  r = 0;
out:
  if (writing)
    sw_engine_disk_leave (e);
  if (tmp)
    sw_rmtree (tmp, NULL);
  sw_base_free (src.image);
  sw_strlist_free (src.src_lowers);
  free (src.src_desc);
  free (heredocs);
  if (r == 1)
    return 0; /* cached: the vertex is done */
  sw_engine_vertex_done (e, id, t0, r < 0 ? *err : NULL);
  return r < 0 ? sw_engine_locate (e, in->node, err) : 0;
fail_early:
  free (heredocs);
  return sw_engine_locate (e, in->node, err);
}
