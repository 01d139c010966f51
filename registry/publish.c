/* registry/publish.c — a set of tags moved together: stage, record, write, put back.
 * The contract is in publish.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "registry/ops.h"
#include "registry/publish.h"
#include "registry/sink.h"

bool
sw_publish_tag_is_versioned (const char *tag)
{
  const char *p = tag;
  size_t run = 0, best = 0;

  /* 1.2.3, v1, v2.0-rc1: a release number */
  if (*p == 'v' || *p == 'V')
    p++;
  if (isdigit ((unsigned char) *p))
    return true;
  /* a timestamp or a date somewhere in it: main-20240501, build-1714550400 */
  for (p = tag; *p; p++)
    {
      run = isdigit ((unsigned char) *p) ? run + 1 : 0;
      if (run > best)
        best = run;
    }
  return best >= 8;
}

static bool
same_repo (const sw_ref *a, const sw_ref *b)
{
  return strcmp (a->domain, b->domain) == 0 && strcmp (a->path, b->path) == 0;
}

static sw_ref *
ref_at (const sw_ref *repo, const char *tag, const char *digest)
{
  sw_ref *r = sw_ref_dup (repo);
  free (r->tag);
  free (r->digest);
  r->tag = tag ? sw_xstrdup (tag) : NULL;
  r->digest = digest ? sw_xstrdup (digest) : NULL;
  return r;
}

/* ---- step 1: the images, by digest, in every repository a tag names ---------------- */

static int
copy_manifest_blobs (sw_registry *r, const sw_ref *dst, const sw_ref *src, const sw_fetched *f, sw_error **err)
{
  sw_manifest *m = NULL;
  int ret = -1;
  if (sw_manifest_parse (f->body.data, f->body.len, &m, err) < 0)
    return -1;
  if (sw_blob_copy (r, dst, src, m->config.digest, m->config.size, err) < 0)
    goto out;
  for (size_t i = 0; i < m->n_layers; i++)
    if (strcmp (m->layers[i].media_type, SW_MT_DOCKER_FOREIGN_LAYER) != 0
        && sw_blob_copy (r, dst, src, m->layers[i].digest, m->layers[i].size, err) < 0)
      goto out;
  ret = 0;
out:
  sw_manifest_free (m);
  return ret;
}

/* Make dst hold image (and everything under it) by digest: blobs first (mounted within one
 * registry), then the platform manifests, then the image's own document. */
static int
copy_image (sw_registry *r, const sw_ref *dst, const sw_ref *src, const sw_fetched *image, sw_error **err)
{
  if (sw_media_type_kind (image->media_type) == SW_KIND_INDEX)
    {
      sw_index *ix = NULL;
      if (sw_index_parse (image->body.data, image->body.len, &ix, err) < 0)
        return -1;
      for (size_t i = 0; i < ix->n_manifests; i++)
        {
          sw_fetched child = { 0 };
          sw_ref *cref = ref_at (src, NULL, ix->manifests[i].digest);
          int rc = sw_manifest_get (r, cref, &child, err);
          sw_ref_free (cref);
          if (rc == 0 && sw_media_type_kind (child.media_type) == SW_KIND_MANIFEST)
            rc = copy_manifest_blobs (r, dst, src, &child, err);
          if (rc == 0)
            rc = sw_manifest_put (r, dst, child.digest, child.media_type, child.body.data, child.body.len, err);
          sw_fetched_clear (&child);
          if (rc < 0)
            {
              sw_index_free (ix);
              return -1;
            }
        }
      sw_index_free (ix);
    }
  else if (copy_manifest_blobs (r, dst, src, image, err) < 0)
    return -1;
  return sw_manifest_put (r, dst, image->digest, image->media_type, image->body.data, image->body.len, err);
}

/* ---- the set ------------------------------------------------------------------------ */

enum slot_state
{
  SLOT_UNTOUCHED,
  SLOT_MOVED,     /* names the new image */
  SLOT_FAILED,    /* its write failed: where it points is asked again */
  SLOT_RESTORED,  /* back at its recorded digest */
  SLOT_REMOVED,   /* did not exist before, deleted again */
  SLOT_STUCK,     /* moved, and could not be put back */
};

struct slot
{
  const sw_publish_tag *t;
  sw_fetched image;   /* the document the tag must name */
  bool existed;
  sw_fetched old;     /* the document it named before (when existed) */
  enum slot_state state;
  char *why;          /* SLOT_STUCK: why the put-back failed */
};

static int
order_key (const sw_publish_tag *t)
{
  if (t->last)
    return 2;
  return sw_publish_tag_is_versioned (t->tag->tag ? t->tag->tag : "latest") ? 1 : 0;
}

static void
note (sw_publish_note_fn fn, void *ud, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));
static void
note (sw_publish_note_fn fn, void *ud, const char *fmt, ...)
{
  va_list ap;
  cleanup_free char *s = NULL;
  if (fn == NULL)
    return;
  va_start (ap, fmt);
  if (vasprintf (&s, fmt, ap) < 0)
    s = NULL;
  va_end (ap);
  if (s)
    fn (ud, s);
}

static int
delete_tag (sw_registry *r, const sw_ref *tag, sw_error **err)
{
  cleanup_free char *scope = sw_xasprintf ("repository:%s:pull,push,delete", tag->path);
  cleanup_free char *url = sw_xasprintf ("/v2/%s/manifests/%s", tag->path, tag->tag);
  sw_req req = { .method = "DELETE", .repo = tag, .url = url, .scope = scope };
  sw_resp resp = { 0 };
  int ret = -1;
  if (sw_registry_do (r, &req, &resp, err) == 0)
    {
      if (resp.status == 202 || resp.status == 200 || resp.status == 404)
        ret = 0;
      else
        sw_resp_error (&req, &resp, err);
    }
  sw_resp_clear (&resp);
  return ret;
}

/* Put a moved tag back where it was.  0, or -1 with the reason in *why. */
static void
put_back (sw_registry *r, struct slot *s)
{
  sw_error *e = NULL;
  const sw_ref *tag = s->t->tag;
  int rc;
  if (s->existed)
    rc = sw_manifest_put (r, tag, tag->tag, s->old.media_type, s->old.body.data, s->old.body.len, &e);
  else
    rc = delete_tag (r, tag, &e);
  if (rc == 0)
    s->state = s->existed ? SLOT_RESTORED : SLOT_REMOVED;
  else
    {
      s->state = SLOT_STUCK;
      s->why = sw_xstrdup (e ? sw_error_message (e) : "unknown error");
    }
  sw_error_free (e);
}

/* "  host/repo:tag: back at sha256:… (was moved to sha256:…)" */
static void
describe (sw_registry *r, const struct slot *s, sw_buf *out)
{
  cleanup_free char *name = sw_ref_string (s->t->tag);
  const char *old = s->existed ? s->old.digest : NULL;
  sw_buf_printf (out, "\n  %s: ", name);
  switch (s->state)
    {
    case SLOT_UNTOUCHED:
      if (old)
        sw_buf_printf (out, "unchanged, at %s", old);
      else
        sw_buf_puts (out, "unchanged, does not exist");
      break;
    case SLOT_RESTORED:
      sw_buf_printf (out, "put back at %s", old);
      break;
    case SLOT_REMOVED:
      sw_buf_puts (out, "removed again (it did not exist before)");
      break;
    case SLOT_STUCK:
      if (s->existed)
        sw_buf_printf (out, "STILL AT THE NEW %s (was %s; putting it back failed: %s)", s->image.digest, old, s->why);
      else
        sw_buf_printf (out, "STILL AT THE NEW %s (it did not exist before; this registry refused to delete it: %s)",
                       s->image.digest, s->why);
      break;
    case SLOT_FAILED:
    case SLOT_MOVED:
      {
        char now[SW_DIGEST_BUFSZ] = "";
        sw_error *e = NULL;
        int h = sw_manifest_head (r, s->t->tag, now, &e);
        if (h < 0)
          sw_buf_printf (out, "unknown (the write failed and asking failed too: %s)", sw_error_message (e));
        else if (h == 0)
          sw_buf_puts (out, "does not exist");
        else if (strcmp (now, s->image.digest) == 0)
          sw_buf_printf (out, "at the NEW %s", now);
        else
          sw_buf_printf (out, "%s %s", old && strcmp (now, old) == 0 ? "unchanged, at" : "at", now);
        sw_error_free (e);
      }
      break;
    }
}

int
sw_publish_tags (sw_registry *r, const sw_publish_tag *tags, size_t n, sw_publish_note_fn note_fn, void *ud,
                 sw_error **err)
{
  struct slot *slots = sw_xcalloc (n + 1, sizeof *slots);
  size_t *order = sw_xcalloc (n + 1, sizeof *order);
  int ret = -1;

  for (size_t i = 0; i < n; i++)
    {
      slots[i].t = &tags[i];
      if (tags[i].tag->tag == NULL)
        {
          cleanup_free char *s = sw_ref_string (tags[i].tag);
          sw_error_make (err, EINVAL, "publish: %s has no tag", s);
          goto out;
        }
      for (size_t j = 0; j < i; j++)
        if (same_repo (tags[i].tag, tags[j].tag) && strcmp (tags[i].tag->tag, tags[j].tag->tag) == 0
            && strcmp (tags[i].digest, tags[j].digest) != 0)
          {
            cleanup_free char *s = sw_ref_string (tags[i].tag);
            sw_error_make (err, EINVAL, "publish: %s is asked to name two images (%s and %s)", s, tags[j].digest,
                           tags[i].digest);
            sw_error_set_category (err, SW_ERR_INPUT);
            goto out;
          }
    }

  /* 1. Stage: each image by digest where its tags live, and each tag's current state. */
  for (size_t i = 0; i < n; i++)
    {
      const sw_publish_tag *t = &tags[i];
      cleanup_free char *tagname = sw_ref_string (t->tag);
      int rc;
      if (t->document && t->media_type)
        {
          /* the caller put it there by digest: its own bytes, checked against the digest */
          sw_fetched *f = &slots[i].image;
          sw_buf_append (&f->body, t->document, t->document_len);
          f->media_type = sw_xstrdup (t->media_type);
          sw_digest_bytes (t->document, t->document_len, f->digest);
          rc = strcmp (f->digest, t->digest) == 0 ? 0 : sw_error_make (err, EINVAL, "the document given has digest %s", f->digest);
        }
      else
        {
          sw_ref *src = ref_at (t->source, NULL, t->digest);
          rc = sw_manifest_get (r, src, &slots[i].image, err);
          sw_ref_free (src);
        }
      if (rc < 0)
        {
          sw_error_wrap (err, "publish: the image for %s (%s) is not in %s/%s", tagname, t->digest,
                         t->source->domain, t->source->path);
          goto out;
        }
      bool staged = same_repo (t->tag, t->source);
      for (size_t j = 0; j < i && !staged; j++)
        staged = same_repo (tags[j].tag, t->tag) && strcmp (tags[j].digest, t->digest) == 0;
      if (!staged)
        {
          cleanup_free char *repo = sw_ref_name (t->tag);
          note (note_fn, ud, "staging %s in %s", t->digest, repo);
          if (copy_image (r, t->tag, t->source, &slots[i].image, err) < 0)
            {
              sw_error_wrap (err, "publish: copying %s into %s (no tag was moved)", t->digest, repo);
              goto out;
            }
        }
      int h = sw_manifest_get_if (r, t->tag, &slots[i].old, err);
      if (h < 0)
        {
          sw_error_wrap (err, "publish: reading where %s points now (no tag was moved)", tagname);
          goto out;
        }
      slots[i].existed = h == 1;
    }

  /* 2. Write, the tags automation watches last (a stable order otherwise). */
  size_t k = 0;
  for (int key = 0; key <= 2; key++)
    for (size_t i = 0; i < n; i++)
      if (order_key (&tags[i]) == key)
        order[k++] = i;
  for (k = 0; k < n; k++)
    {
      struct slot *s = &slots[order[k]];
      const sw_ref *tag = s->t->tag;
      if (s->existed && strcmp (s->old.digest, s->image.digest) == 0)
        continue; /* already there: nothing to write, nothing to put back */
      if (sw_manifest_put (r, tag, tag->tag, s->image.media_type, s->image.body.data, s->image.body.len, err) < 0)
        {
          s->state = SLOT_FAILED;
          break;
        }
      s->state = SLOT_MOVED;
    }
  if (k == n)
    {
      for (k = 0; k < n; k++)
        {
          cleanup_free char *name = sw_ref_string (slots[order[k]].t->tag);
          note (note_fn, ud, "%s → %s", name, slots[order[k]].image.digest);
        }
      ret = 0;
      goto out;
    }

  /* 3. Put back what moved, newest first, then say where every tag is. */
  for (size_t j = k; j-- > 0;)
    if (slots[order[j]].state == SLOT_MOVED)
      put_back (r, &slots[order[j]]);
  {
    cleanup_buf sw_buf report = SW_BUF_INIT;
    for (size_t j = 0; j < n; j++)
      describe (r, &slots[order[j]], &report);
    sw_error_wrap (err, "publish failed; where each tag points now:%s\nthe write that failed", report.data);
  }

out:
  for (size_t i = 0; i < n; i++)
    {
      sw_fetched_clear (&slots[i].image);
      sw_fetched_clear (&slots[i].old);
      free (slots[i].why);
    }
  free (slots);
  free (order);
  return ret;
}

/* ---- the public face (include/slipway.h) ------------------------------------------------- */

struct sw_publish
{
  sw_registry *reg;
  char **insecure;
  sw_ref **tags;
  sw_ref **images;
  unsigned *flags;
  size_t n;
  sw_event_callback cb;
  void *cb_ud;
};

sw_publish *
sw_publish_new (const char *const *insecure)
{
  sw_publish *p = sw_xzalloc (sizeof *p);
  size_t n = 0;
  while (insecure && insecure[n])
    n++;
  p->insecure = sw_xcalloc (n + 1, sizeof *p->insecure);
  for (size_t i = 0; i < n; i++)
    p->insecure[i] = sw_xstrdup (insecure[i]);
  sw_registry_options ro = { .insecure = (const char *const *) p->insecure };
  p->reg = sw_registry_new (&ro);
  return p;
}

void
sw_publish_free (sw_publish *p)
{
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n; i++)
    {
      sw_ref_free (p->tags[i]);
      sw_ref_free (p->images[i]);
    }
  free (p->tags);
  free (p->images);
  free (p->flags);
  sw_registry_free (p->reg);
  for (size_t i = 0; p->insecure[i]; i++)
    free (p->insecure[i]);
  free (p->insecure);
  free (p);
}

int
sw_publish_add (sw_publish *p, const char *tag, const char *image, unsigned flags, sw_error **err)
{
  sw_ref *t = NULL, *im = NULL;
  if (sw_ref_parse (tag, &t, err) < 0)
    return sw_error_set_category (err, SW_ERR_INPUT);
  if (t->digest)
    {
      sw_ref_free (t);
      sw_error_make (err, EINVAL, "publish: tag %s must not have a digest", tag);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (sw_ref_parse (image, &im, err) < 0)
    {
      sw_ref_free (t);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (im->digest == NULL)
    {
      sw_ref_free (t);
      sw_ref_free (im);
      sw_error_make (err, EINVAL, "publish: %s must name the image by digest (REPO@sha256:…)", image);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  if (strcmp (t->domain, im->domain) != 0)
    {
      sw_error_make (err, ENOTSUP, "not supported yet: publishing %s from another registry (%s)", tag, im->domain);
      sw_ref_free (t);
      sw_ref_free (im);
      return sw_error_set_category (err, SW_ERR_INPUT);
    }
  p->tags = sw_xreallocarray (p->tags, p->n + 1, sizeof *p->tags);
  p->images = sw_xreallocarray (p->images, p->n + 1, sizeof *p->images);
  p->flags = sw_xreallocarray (p->flags, p->n + 1, sizeof *p->flags);
  p->tags[p->n] = t;
  p->images[p->n] = im;
  p->flags[p->n] = flags;
  p->n++;
  return 0;
}

void
sw_publish_set_event_callback (sw_publish *p, sw_event_callback cb, void *userdata)
{
  p->cb = cb;
  p->cb_ud = userdata;
}

static void
publish_event (void *ud, const char *line)
{
  sw_publish *p = ud;
  sw_event ev = { .kind = SW_EVENT_LOG, .level = SW_LOG_INFO, .text = line };
  if (p->cb)
    p->cb (&ev, p->cb_ud);
}

int
sw_publish_run (sw_publish *p, sw_error **err)
{
  sw_publish_tag *pt = sw_xcalloc (p->n + 1, sizeof *pt);
  for (size_t i = 0; i < p->n; i++)
    pt[i] = (sw_publish_tag){ .tag = p->tags[i], .source = p->images[i], .digest = p->images[i]->digest,
                              .last = (p->flags[i] & SW_PUBLISH_LAST) != 0 };
  int r = sw_publish_tags (p->reg, pt, p->n, publish_event, p, err);
  free (pt);
  return r;
}
