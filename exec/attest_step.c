/* exec/attest_step.c — a platform's attestations, made after its image is exported: the
 * provenance of the build and the SBOM of the image's root file system, as in-toto
 * statements in an attestation manifest (attest/attest.h), pushed by digest beside the
 * image.  run_build.c lists it in the index; outputs.c puts it in oci outputs and writes
 * the statements as files into local ones.
 *
 * Which attestations: --provenance, --sbom and --attest as buildx reads them; without any
 * provenance flag, a pushed image gets provenance mode=min (buildx's default, for image
 * outputs only), unless BUILDX_NO_DEFAULT_ATTESTATIONS is true.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attest/attest.h"
#include "attest/provenance.h"
#include "attest/sbom.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "exec/engine.h"
#include "exec/outputs.h"
#include "registry/ops.h"
#include "sandbox/view.h"

static char *
rfc3339_now (void)
{
  struct timespec ts;
  struct tm tm;
  char buf[64];
  clock_gettime (CLOCK_REALTIME, &ts);
  gmtime_r (&ts.tv_sec, &tm);
  size_t n = strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf (buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return sw_xstrdup (buf);
}

static bool
env_true (const char *name)
{
  const char *v = getenv (name);
  return v && (strcmp (v, "1") == 0 || strcasecmp (v, "true") == 0 || strcasecmp (v, "t") == 0);
}

int
sw_engine_attest_setup (sw_engine *e, bool push, sw_error **err)
{
  sw_build *b = e->b;
  const char *nodef = getenv ("BUILDX_NO_DEFAULT_ATTESTATIONS");

  if (nodef && *nodef && !env_true ("BUILDX_NO_DEFAULT_ATTESTATIONS") && strcmp (nodef, "0") != 0
      && strcasecmp (nodef, "false") != 0 && strcasecmp (nodef, "f") != 0)
    return sw_error_make (err, EINVAL, "invalid BUILDX_NO_DEFAULT_ATTESTATIONS \"%s\": use 1 or 0", nodef);
  e->attest_sbom = b->sbom == 1;
  if (b->provenance == 1)
    {
      e->attest_provenance = true;
      if (sw_prov_opts_parse (b->provenance_spec, &e->prov, &e->prov_keep, err) < 0)
        return -1;
    }
  else if (b->provenance == -1 && push && !env_true ("BUILDX_NO_DEFAULT_ATTESTATIONS"))
    {
      e->attest_provenance = true;
      e->attest_prov_inline_only = true;
      if (sw_prov_opts_parse ("mode=min", &e->prov, &e->prov_keep, err) < 0)
        return -1;
    }
  if (!e->attest_provenance && !e->attest_sbom)
    return 0;
  /* as buildx: asked-for attestations need an index, which a docker-archive cannot hold
   * (the default provenance just stays out of it) */
  if ((b->provenance == 1 || b->sbom == 1) && sw_outputs_has_docker (e))
    return sw_error_make (err, ENOTSUP, "docker exporter does not support exporting manifest lists, use the oci "
                                        "exporter instead (--output type=oci), or drop --provenance/--sbom/--attest");

  /* an invocation ID as BuildKit's: 25 characters of [0-9a-z] */
  unsigned char rnd[25];
  if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
    return sw_error_errno (err, "getrandom");
  for (size_t i = 0; i < sizeof rnd; i++)
    e->invocation_id[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[rnd[i] % 36];
  e->invocation_id[sizeof rnd] = '\0';
  e->started_on = rfc3339_now ();
  return 0;
}

/* The platform's stages run at once: its lists change under the hub's lock. */
void
sw_engine_note_image (sw_engine *e, const char *ref, const sw_platform *p, const char *digest)
{
  pthread_mutex_lock (&e->hub->lock);
  for (size_t i = 0; i < e->n_sources; i++)
    if (strcmp (e->sources[i].ref, ref) == 0 && sw_platform_equal (&e->sources[i].platform, p))
      goto out;
  e->sources = sw_xreallocarray (e->sources, e->n_sources + 1, sizeof *e->sources);
  sw_image_source *src = &e->sources[e->n_sources++];
  memset (src, 0, sizeof *src);
  src->ref = sw_xstrdup (ref);
  sw_platform_copy (&src->platform, p);
  snprintf (src->digest, sizeof src->digest, "%s", digest ? digest : "");
out:
  pthread_mutex_unlock (&e->hub->lock);
}

void
sw_engine_note_url (sw_engine *e, const char *url, const char *digest)
{
  pthread_mutex_lock (&e->hub->lock);
  for (size_t i = 0; i < e->n_urls; i++)
    if (strcmp (e->urls[i].url, url) == 0 && strcmp (e->urls[i].digest, digest) == 0)
      goto out;
  e->urls = sw_xreallocarray (e->urls, e->n_urls + 1, sizeof *e->urls);
  e->urls[e->n_urls].url = sw_xstrdup (url);
  snprintf (e->urls[e->n_urls].digest, sizeof e->urls[e->n_urls].digest, "%s", digest);
  e->n_urls++;
out:
  pthread_mutex_unlock (&e->hub->lock);
}

void
sw_engine_forget_images (sw_engine *e)
{
  for (size_t i = 0; i < e->n_urls; i++)
    free (e->urls[i].url);
  free (e->urls);
  e->urls = NULL;
  e->n_urls = 0;
  for (size_t i = 0; i < e->n_sources; i++)
    {
      free (e->sources[i].ref);
      sw_platform_clear (&e->sources[i].platform);
    }
  free (e->sources);
  e->sources = NULL;
  e->n_sources = 0;
}

void
sw_engine_attest_free (sw_engine *e)
{
  sw_engine_forget_images (e);
  free (e->prov_keep);
  free (e->started_on);
}

/* ---- Git: the context's repository and commit, as buildx records them ---------------- */

static char *
read_small (const char *path)
{
  cleanup_close int fd = open (path, O_RDONLY | O_CLOEXEC);
  char buf[4096];
  ssize_t n = fd < 0 ? -1 : read (fd, buf, sizeof buf - 1);
  if (n < 0)
    return NULL;
  buf[n] = '\0';
  return sw_xstrdup (buf);
}

static void
chomp (char *s)
{
  size_t n = strlen (s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    s[--n] = '\0';
}

/* The commit a ref names: a loose ref file, else packed-refs. */
static char *
resolve_ref (const char *common, const char *gitdir, const char *ref)
{
  const char *dirs[2] = { gitdir, common };
  for (int i = 0; i < 2; i++)
    {
      cleanup_free char *p = sw_xasprintf ("%s/%s", dirs[i], ref);
      char *v = read_small (p);
      if (v)
        {
          chomp (v);
          return v;
        }
    }
  cleanup_free char *pp = sw_xasprintf ("%s/packed-refs", common);
  cleanup_file FILE *f = fopen (pp, "re");
  char line[1024];
  while (f && fgets (line, sizeof line, f))
    {
      chomp (line);
      char *sp = strchr (line, ' ');
      if (line[0] != '#' && line[0] != '^' && sp && strcmp (sp + 1, ref) == 0)
        return sw_xstrndup (line, (size_t) (sp - line));
    }
  return NULL;
}

/* [remote "origin"] url = … from the repository's config. */
static char *
origin_url (const char *common)
{
  cleanup_free char *p = sw_xasprintf ("%s/config", common);
  cleanup_file FILE *f = fopen (p, "re");
  char line[2048];
  bool in_origin = false;
  while (f && fgets (line, sizeof line, f))
    {
      chomp (line);
      char *s = line + strspn (line, " \t");
      if (*s == '[')
        {
          in_origin = strcmp (s, "[remote \"origin\"]") == 0;
          continue;
        }
      if (in_origin && strncmp (s, "url", 3) == 0)
        {
          char *eq = strchr (s, '=');
          if (eq)
            return sw_xstrdup (eq + 1 + strspn (eq + 1, " \t"));
        }
    }
  return NULL;
}

static void
git_info (const char *dir, char **source, char **revision)
{
  cleanup_free char *d = sw_xstrdup (dir);
  *source = *revision = NULL;
  for (;;)
    {
      cleanup_free char *dotgit = sw_xasprintf ("%s/.git", d);
      struct stat st;
      if (stat (dotgit, &st) == 0)
        {
          cleanup_free char *gitdir = NULL, *common = NULL;
          if (S_ISDIR (st.st_mode))
            gitdir = sw_xstrdup (dotgit);
          else
            {
              /* a worktree: "gitdir: PATH", and PATH/commondir names the shared part */
              cleanup_free char *t = read_small (dotgit);
              if (t == NULL || strncmp (t, "gitdir: ", 8) != 0)
                return;
              chomp (t);
              gitdir = t[8] == '/' ? sw_xstrdup (t + 8) : sw_xasprintf ("%s/%s", d, t + 8);
            }
          cleanup_free char *cd_path = sw_xasprintf ("%s/commondir", gitdir);
          cleanup_free char *cd = read_small (cd_path);
          if (cd)
            {
              chomp (cd);
              common = cd[0] == '/' ? sw_xstrdup (cd) : sw_xasprintf ("%s/%s", gitdir, cd);
            }
          else
            common = sw_xstrdup (gitdir);
          cleanup_free char *head_path = sw_xasprintf ("%s/HEAD", gitdir);
          cleanup_free char *head = read_small (head_path);
          if (head == NULL)
            return;
          chomp (head);
          if (strncmp (head, "ref: ", 5) == 0)
            *revision = resolve_ref (common, gitdir, head + 5);
          else
            *revision = sw_xstrdup (head);
          *source = origin_url (common);
          return;
        }
      char *slash = strrchr (d, '/');
      if (slash == NULL || slash == d)
        return;
      *slash = '\0';
    }
}

/* ---- provenance ---------------------------------------------------------------------- */

static int
make_provenance (sw_engine *e, sw_stage *s, sw_attestation *out, sw_error **err)
{
  sw_build *b = e->b;
  cleanup_strv char **args = NULL;
  cleanup_strv char **locals = NULL;
  cleanup_strv char **secret_ids = NULL;
  cleanup_strv char **ssh_ids = NULL;
  cleanup_free char *vcs_source = NULL, *vcs_revision = NULL;
  cleanup_free char *builder_platform = sw_platform_format (&e->host);
  cleanup_free char *finished = rfc3339_now ();
  cleanup_free char *df_name = NULL;
  sw_prov_image *images = sw_xcalloc (e->n_sources + 1, sizeof *images);

  /* the request as buildx sends it to the Dockerfile frontend */
  if (b->target)
    {
      cleanup_free char *a = sw_xasprintf ("target=%s", b->target);
      sw_strlist_push (&args, a);
    }
  for (size_t i = 0; e->build_args && e->build_args[i]; i++)
    {
      cleanup_free char *a = sw_xasprintf ("build-arg:%s", e->build_args[i]);
      sw_strlist_push (&args, a);
    }
  for (size_t i = 0; i < b->labels.n; i++)
    {
      cleanup_free char *a = sw_xasprintf ("label:%s", b->labels.v[i]);
      sw_strlist_push (&args, a);
    }
  if (b->no_cache)
    sw_strlist_push (&args, "no-cache=");
  if (strcmp (b->network, "default") != 0)
    {
      cleanup_free char *a = sw_xasprintf ("force-network-mode=%s", b->network);
      sw_strlist_push (&args, a);
    }
  if (b->add_hosts.n)
    {
      sw_buf h = SW_BUF_INIT;
      sw_buf_puts (&h, "add-hosts=");
      for (size_t i = 0; i < b->add_hosts.n; i++)
        sw_buf_printf (&h, "%s%s", i ? "," : "", b->add_hosts.v[i]);
      sw_strlist_push (&args, sw_buf_str (&h));
      sw_buf_free (&h);
    }
  sw_strlist_push (&locals, "context");
  sw_strlist_push (&locals, "dockerfile");
  for (size_t i = 0; i < b->build_contexts.n; i++)
    {
      const char *c = b->build_contexts.v[i];
      const char *eq = strchr (c, '=');
      cleanup_free char *name = sw_xstrndup (c, (size_t) (eq - c));
      cleanup_free char *a = strncmp (eq + 1, "docker-image://", 15) == 0
                                 ? sw_xasprintf ("context:%s=%s", name, eq + 1)
                                 : sw_xasprintf ("context:%s=local:%s", name, name);
      sw_strlist_push (&args, a);
      if (strncmp (eq + 1, "docker-image://", 15) != 0)
        sw_strlist_push (&locals, name);
    }
  for (size_t i = 0; i < e->n_secrets; i++)
    sw_strlist_push (&secret_ids, e->secrets[i].id);
  for (size_t i = 0; i < e->n_ssh; i++)
    sw_strlist_push (&ssh_ids, e->ssh[i].id);
  for (size_t i = 0; i < e->n_sources; i++)
    images[i] = (sw_prov_image){ e->sources[i].ref, &e->sources[i].platform, e->sources[i].digest };
  sw_prov_url *urls = sw_xcalloc (e->n_urls + 1, sizeof *urls);
  for (size_t i = 0; i < e->n_urls; i++)
    urls[i] = (sw_prov_url){ e->urls[i].url, e->urls[i].digest };
  /* BUILDX_GIT_INFO=0 keeps the repository out, as with buildx */
  const char *gi = getenv ("BUILDX_GIT_INFO");
  if (!(gi && (strcmp (gi, "0") == 0 || strcasecmp (gi, "false") == 0)))
    git_info (e->context, &vcs_source, &vcs_revision);
  if (b->dockerfile == NULL || strcmp (b->dockerfile, "-") == 0)
    df_name = sw_xstrdup ("Dockerfile");
  else
    {
      const char *slash = strrchr (b->dockerfile, '/');
      df_name = sw_xstrdup (slash ? slash + 1 : b->dockerfile);
    }

  sw_prov_input in = {
    .dockerfile_path = df_name,
    .dockerfile_text = e->dockerfile_text,
    .vcs_source = vcs_source,
    .vcs_revision = vcs_revision,
    .args = (const char *const *) args,
    .locals = (const char *const *) locals,
    .secret_ids = (const char *const *) secret_ids,
    .ssh_ids = (const char *const *) ssh_ids,
    .builder_platform = builder_platform,
    .images = images,
    .n_images = e->n_sources,
    .urls = urls,
    .n_urls = e->n_urls,
    .invocation_id = e->invocation_id,
    .started_on = e->started_on,
    .finished_on = finished,
  };
  (void) s;
  out->predicate_type = sw_provenance_predicate (&e->prov, &in, &out->predicate);
  out->filename = "provenance.json";
  out->inline_only = e->attest_prov_inline_only;
  free (images);
  free (urls);
  return 0;
}

/* ---- SBOM ------------------------------------------------------------------------------- */

struct sbom_call
{
  sw_sbom *sbom;
};

static int
scan_in_view (int rootfd, void *arg, sw_error **err)
{
  struct sbom_call *c = arg;
  return sw_sbom_scan (rootfd, &c->sbom, err);
}

static int
make_sbom (sw_engine *e, sw_stage *s, sw_attestation *out, sw_error **err)
{
  cleanup_strv char **lowers = NULL;
  cleanup_free char *empty = NULL, *mnt = NULL;
  struct sbom_call c = { NULL };
  size_t n = 0;

  if (sw_engine_stage_lowers (e, s, &lowers, err) < 0)
    return -1;
  while (lowers[n])
    n++;
  /* the stage's tree as the image has it: its snapshots merged read-only by overlayfs, so
   * a file a later layer deleted is not reported; an empty top lower makes a lone
   * snapshot (or none) a real overlay too */
  if (n < 2)
    {
      if (sw_state_mkscratch (e->state, "empty", &empty, err) < 0)
        return -1;
      sw_strlist_push (&lowers, empty);
    }
  if (sw_state_mkscratch (e->state, "mnt", &mnt, err) < 0)
    return -1;
  if (sw_view_run ((const char *const *) lowers, NULL, NULL, mnt, scan_in_view, &c, err) < 0)
    return sw_error_wrap (err, "SBOM: scanning the image");
  cleanup_free char *name = e->n_tags ? sw_ref_string (e->tags[0]) : sw_xstrdup ("image");
  /* SPDX wants seconds: the build's own time (or SOURCE_DATE_EPOCH) */
  cleanup_free char *plat = sw_platform_format (&s->platform);
  cleanup_free char *seed = sw_xasprintf ("%s-%s", e->invocation_id, plat);
  sw_sbom_spdx (c.sbom, name, e->epoch_str ? e->epoch_str : e->created, seed, &out->predicate);
  sw_sbom_free (c.sbom);
  out->predicate_type = SW_PREDICATE_SPDX;
  out->filename = "sbom.spdx.json";
  return 0;
}

/* ---- the attestation manifest ----------------------------------------------------------- */

struct put_job
{
  sw_engine *e;
  const sw_buf *data;
};

static int
put_job (void *arg, sw_error **err)
{
  struct put_job *j = arg;
  char got[SW_DIGEST_BUFSZ];
  if (sw_blob_put_small (j->e->reg, j->e->push_repo, j->data->data, j->data->len, got, err) < 0)
    return sw_error_wrap (err, "pushing an attestation");
  return 0;
}

int
sw_engine_attest_predicates (sw_engine *e, sw_stage *s, sw_image_result *r, sw_error **err)
{
  double t0;
  int id, ret = -1;

  if (!e->attest_provenance && !e->attest_sbom)
    return 0;
  t0 = sw_engine_now ();
  id = sw_engine_vertex_start (e, "generating attestations");
  r->attestations = sw_xcalloc (2, sizeof *r->attestations);
  if (e->attest_sbom && make_sbom (e, s, &r->attestations[r->n_attestations++], err) < 0)
    goto out;
  if (e->attest_provenance && make_provenance (e, s, &r->attestations[r->n_attestations++], err) < 0)
    goto out;
  ret = 0;
out:
  sw_engine_vertex_done (e, id, t0, ret < 0 ? *err : NULL);
  return ret;
}

int
sw_engine_attest (sw_engine *e, sw_stage *s, sw_image_result *r, sw_error **err)
{
  cleanup_strv char **names = NULL;
  double t0;
  int id, ret = -1;

  if (r->n_attestations == 0)
    return 0;
  (void) s;
  t0 = sw_engine_now ();
  id = sw_engine_vertex_start (e, "exporting attestation manifest");

  /* Only an image destination (the registry, an oci layout) gets the attestation
   * manifest; local outputs need only the predicates, and the build's result stays the
   * image manifest. */
  if (e->push_repo == NULL && !sw_outputs_has_oci (e))
    {
      ret = 0;
      goto out;
    }

  /* subjects: each name of the image, for this platform, with its manifest's digest */
  sw_attest_subject *subjects = sw_xcalloc (e->n_tags + 1, sizeof *subjects);
  for (size_t i = 0; i < e->n_tags; i++)
    {
      cleanup_free char *full = sw_ref_string (e->tags[i]);
      char *purl = sw_docker_purl (full, &r->platform);
      sw_strlist_push (&names, purl);
      free (purl);
    }
  for (size_t i = 0; i < e->n_tags; i++)
    subjects[i] = (sw_attest_subject){ names[i], r->manifest_digest };
  for (size_t i = 0; i < r->n_attestations; i++)
    {
      cleanup_buf sw_buf st = SW_BUF_INIT;
      const sw_attestation *a = &r->attestations[i];
      if (sw_attest_statement (a->predicate_type, sw_buf_str (&a->predicate), subjects, e->n_tags, false, &st, err) < 0)
        {
          free (subjects);
          goto out;
        }
      sw_attest_manifest_add (&r->attest, a->predicate_type, &st);
    }
  free (subjects);
  sw_attest_manifest_finish (&r->attest, r->manifest_digest, e->docker_media_types);
  r->attested = true;

  if (e->push_repo)
    {
      /* The statements on the workers and the config here, at the same time: each upload
       * is a few round trips the registry takes its time over, and they add up on the
       * push's critical path.  Then the manifest, once they are all in. */
      char got[SW_DIGEST_BUFSZ];
      for (size_t i = 0; i < r->attest.n_blobs; i++)
        {
          struct put_job *j = sw_xzalloc (sizeof *j);
          *j = (struct put_job){ e, &r->attest.blobs[i].data };
          sw_workers_submit (e->workers, put_job, j, free);
        }
      int cr = sw_blob_put_small (e->reg, e->push_repo, r->attest.config.data, r->attest.config.len, got, err);
      if (sw_workers_wait (e->workers, cr < 0 ? NULL : err) < 0 || cr < 0)
        goto out;
      if (sw_manifest_put (e->reg, e->push_repo, r->attest.digest, r->attest.media_type, r->attest.manifest.data,
                           r->attest.manifest.len, err)
          < 0)
        goto out;
    }
  ret = 0;
out:
  sw_engine_vertex_done (e, id, t0, ret < 0 ? *err : NULL);
  return ret;
}

void
sw_image_result_attest_clear (sw_image_result *r)
{
  for (size_t i = 0; i < r->n_attestations; i++)
    sw_buf_free (&r->attestations[i].predicate);
  free (r->attestations);
  r->attestations = NULL;
  r->n_attestations = 0;
  sw_attest_manifest_clear (&r->attest);
  r->attested = false;
}
