/* exec/outputs.c — see outputs.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/csv.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/strconv.h"
#include "common/xalloc.h"
#include "exec/cache.h"
#include "exec/outputs.h"
#include "sandbox/view.h"
#include "image/docker_archive.h"
#include "image/manifest.h"
#include "image/mediatype.h"
#include "image/oci_layout.h"
#include "layers/layers.h"
#include "registry/ops.h"

typedef enum
{
  OUT_OCI,
  OUT_DOCKER,
  OUT_LOCAL,
  OUT_TAR,
} out_kind;

typedef struct output
{
  out_kind kind;
  bool tar;        /* oci/docker: a tar stream (else a directory layout) */
  bool to_stdout;  /* dest=- */
  char *dest;
  char *tmp;       /* what we write, renamed to dest on commit; NULL when writing dest itself */
  bool tmp_is_dir;
  int fd;          /* tar streams: the file (or 1) */
  char *name;      /* oci: name= for index.json annotations */
  bool docker_types; /* Docker schema2 media types */
  sw_oci_layout *w;  /* oci, docker: the layout being written, platform by platform */
  struct
  {
    char digest[SW_DIGEST_BUFSZ];
    int64_t size;
  } *manifests;      /* oci, docker: each platform's manifest as written (in o's flavour) */
  bool committed;
} output;

typedef struct sw_outputs
{
  output *v;
  size_t n;
  bool docker_media_types; /* the first oci or docker output's flavour */
  bool has_image;          /* there is an oci or docker output */
} sw_outputs;

static const char *const type_names[] = { "oci", "docker", "local", "tar" };

/* ---- parsing ------------------------------------------------------------------------ */

int
sw_output_spec_bool (const char *spec, const char *key, bool dflt, bool *out, sw_error **err)
{
  cleanup_free char *v = sw_csv_get (spec, key);
  *out = dflt;
  if (v == NULL)
    return 0;
  if (sw_parse_bool (v, out) < 0)
    return sw_error_make (err, EINVAL, "invalid --output %s=%s: expected true or false", key, v);
  return 0;
}

/* A temporary name beside path, in the same directory (so the final rename is atomic). */
static char *
tmp_beside (const char *path)
{
  cleanup_free char *copy = sw_xstrdup (path);
  cleanup_free char *copy2 = sw_xstrdup (path);
  return sw_xasprintf ("%s/.%s.slipway-XXXXXX", dirname (copy), basename (copy2));
}

/* mkdir -p of dir's parent: a directory output may name a place that does not exist yet
 * (BuildKit's local exporter creates it). */
static int
mkdir_parents (const char *dir, sw_error **err)
{
  cleanup_free char *p = sw_xstrdup (dir);
  for (char *c = p + 1; *c; c++)
    if (*c == '/')
      {
        *c = '\0';
        if (mkdir (p, 0755) < 0 && errno != EEXIST)
          return sw_error_errno (err, "creating %s", p);
        *c = '/';
      }
  return 0;
}

/* Open the destination now, so that a bad place fails before the build runs. */
static int
open_dest (output *o, sw_error **err)
{
  struct stat st;
  const char *what = type_names[o->kind];

  if (o->to_stdout)
    {
      if (isatty (STDOUT_FILENO))
        return sw_error_make (err, EINVAL,
                              "--output type=%s,dest=-: refusing to write a tar stream to the terminal "
                              "(redirect stdout to a file or a pipe)",
                              what);
      o->fd = STDOUT_FILENO;
      return 0;
    }
  bool want_dir = o->kind == OUT_LOCAL || ((o->kind == OUT_OCI || o->kind == OUT_DOCKER) && !o->tar);
  if (want_dir && stat (o->dest, &st) == 0)
    {
      if (!S_ISDIR (st.st_mode))
        return sw_error_make (err, ENOTDIR, "--output type=%s: destination %s exists and is not a directory", what,
                              o->dest);
      if (access (o->dest, W_OK) < 0)
        return sw_error_errno (err, "--output type=%s: cannot write into %s", what, o->dest);
      return 0; /* an existing directory is written into, as buildx does */
    }
  if (!want_dir && stat (o->dest, &st) == 0 && S_ISDIR (st.st_mode))
    return sw_error_make (err, EISDIR, "--output type=%s: destination %s is a directory; give a file name", what,
                          o->dest);
  if (want_dir && mkdir_parents (o->dest, err) < 0)
    return sw_error_wrap (err, "--output type=%s: cannot create the directory %s", what, o->dest);
  o->tmp = tmp_beside (o->dest);
  if (want_dir)
    {
      o->tmp_is_dir = true;
      if (mkdtemp (o->tmp) == NULL)
        {
          int e = errno;
          free (o->tmp);
          o->tmp = NULL;
          errno = e;
          return sw_error_errno (err, "--output type=%s: cannot create the directory %s", what, o->dest);
        }
      chmod (o->tmp, 0755); /* mkdtemp makes 0700 */
      return 0;
    }
  o->fd = mkostemp (o->tmp, O_CLOEXEC);
  if (o->fd < 0)
    {
      int e = errno;
      free (o->tmp);
      o->tmp = NULL;
      errno = e;
      return sw_error_errno (err, "--output type=%s: cannot create %s", what, o->dest);
    }
  fchmod (o->fd, 0644); /* mkstemp makes 0600; an output file is an ordinary file */
  return 0;
}

int
sw_outputs_add (sw_engine *e, const char *type, const char *spec, sw_error **err)
{
  out_kind kind;
  size_t k;

  for (k = 0; k < sizeof type_names / sizeof *type_names; k++)
    if (strcmp (type, type_names[k]) == 0)
      break;
  if (k == sizeof type_names / sizeof *type_names)
    return 0;
  kind = (out_kind) k;
  if (e->outputs == NULL)
    e->outputs = sw_xzalloc (sizeof *e->outputs);
  sw_outputs *os = e->outputs;

  output o = { .kind = kind, .fd = -1 };
  o.dest = sw_csv_get (spec, "dest");
  if (o.dest == NULL || *o.dest == '\0')
    {
      free (o.dest);
      return sw_error_make (err, EINVAL, "--output type=%s needs a destination: add dest=%s", type,
                            kind == OUT_LOCAL ? "DIR" : "FILE (or dest=- for stdout)");
    }
  o.name = sw_csv_get (spec, "name");
  if (o.name)
    {
      sw_ref *ref;
      if (sw_ref_parse (o.name, &ref, err) < 0)
        {
          sw_error_wrap (err, "invalid name in --output \"%s\"", spec);
          goto fail;
        }
      free (o.name);
      o.name = sw_ref_string (ref); /* normalized: docker.io/library/x:latest */
      sw_ref_free (ref);
    }
  bool tar = true, oci_types = kind != OUT_DOCKER;
  if ((kind == OUT_OCI || kind == OUT_DOCKER)
      && (sw_output_spec_bool (spec, "tar", true, &tar, err) < 0 || sw_output_spec_bool (spec, "oci-mediatypes", kind != OUT_DOCKER, &oci_types, err) < 0))
    goto fail;
  o.tar = kind == OUT_TAR || ((kind == OUT_OCI || kind == OUT_DOCKER) && tar);
  if (kind == OUT_DOCKER && !o.tar)
    {
      sw_error_make (err, ENOTSUP, "not supported yet: --output type=docker,tar=false (use type=oci,tar=false)");
      goto fail;
    }
  if (kind == OUT_DOCKER && e->b->platforms.n > 1)
    {
      sw_error_make (err, ENOTSUP, "docker exporter does not currently support exporting manifest lists "
                                   "(build one --platform, or use --output type=oci)");
      goto fail;
    }
  if (strcmp (o.dest, "-") == 0)
    {
      if (!o.tar)
        {
          sw_error_make (err, EINVAL, "--output type=%s,dest=-: only a tar stream can go to stdout", type);
          goto fail;
        }
      for (size_t i = 0; i < os->n; i++)
        if (os->v[i].to_stdout)
          {
            sw_error_make (err, EINVAL, "--output: only one output can go to stdout (dest=-)");
            goto fail;
          }
      o.to_stdout = true;
    }
  o.docker_types = !oci_types;
  if (os->n == 0 || !os->has_image)
    os->docker_media_types = !oci_types && (kind == OUT_OCI || kind == OUT_DOCKER);
  os->has_image |= kind == OUT_OCI || kind == OUT_DOCKER;
  if (open_dest (&o, err) < 0)
    goto fail;
  os->v = sw_xreallocarray (os->v, os->n + 1, sizeof *os->v);
  os->v[os->n++] = o;
  return 1;
fail:
  free (o.dest);
  free (o.name);
  return -1;
}

bool
sw_outputs_has_docker (const sw_engine *e)
{
  for (size_t i = 0; e->outputs && i < e->outputs->n; i++)
    if (e->outputs->v[i].kind == OUT_DOCKER)
      return true;
  return false;
}

bool
sw_outputs_has_oci (const sw_engine *e)
{
  for (size_t i = 0; e->outputs && i < e->outputs->n; i++)
    if (e->outputs->v[i].kind == OUT_OCI)
      return true;
  return false;
}

bool
sw_outputs_docker_media_types (const sw_engine *e)
{
  return e->outputs && e->outputs->docker_media_types;
}

const char *
sw_outputs_layer_media_type (const char *mt, bool docker)
{
  if (docker)
    {
      if (strcmp (mt, SW_MT_OCI_LAYER_GZIP) == 0)
        return SW_MT_DOCKER_LAYER_GZIP;
      if (strcmp (mt, SW_MT_OCI_LAYER) == 0)
        return "application/vnd.docker.image.rootfs.diff.tar";
      return mt; /* zstd has no Docker name: BuildKit keeps the OCI one */
    }
  if (strcmp (mt, SW_MT_DOCKER_LAYER_GZIP) == 0)
    return SW_MT_OCI_LAYER_GZIP;
  if (strcmp (mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
    return SW_MT_OCI_LAYER;
  return mt;
}

/* ---- the rootfs: local and tar ------------------------------------------------------ */

struct rootfs_call
{
  output *o;
  const char *subdir; /* several platforms: "linux_amd64" */
  int destfd;
};

static int
rootfs_in_view (int rootfd, void *arg, sw_error **err)
{
  struct rootfs_call *c = arg;
  sw_pack_opts po;
  sw_layer_info info;
  sw_sink sink = { 0 };

  sw_pack_opts_init (&po);
  po.compression = SW_COMPRESSION_NONE;
  po.overlay = false; /* the merged view: overlayfs already applied the whiteouts */
  po.source_date_epoch = -1;
  if (c->o->kind == OUT_TAR)
    sw_sink_fd (&sink, c->o->fd, false, NULL);
  else
    {
      sw_extract_opts xo;
      sw_extract_opts_init (&xo);
      xo.whiteouts = SW_WHITEOUT_APPLY;
      if (sw_layer_extract_sink (&sink, c->destfd, &xo, NULL, err) < 0)
        return -1;
    }
  return sw_layer_pack (rootfd, &po, &sink, &info, err);
}

static int write_attestation_files (const sw_image_result *r, int destfd, sw_error **err);

static int
write_rootfs (sw_engine *e, output *o, const sw_image_result *res, const char *const *lowers, const char *mnt,
              const char *subdir, sw_error **err)
{
  struct rootfs_call c = { o, subdir, -1 };
  int r;

  if (o->kind == OUT_LOCAL)
    {
      const char *dir = o->tmp ? o->tmp : o->dest;
      cleanup_free char *path = subdir ? sw_xasprintf ("%s/%s", dir, subdir) : sw_xstrdup (dir);
      if (subdir && mkdir (path, 0755) < 0 && errno != EEXIST)
        return sw_error_errno (err, "--output type=local: creating %s", path);
      c.destfd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (c.destfd < 0)
        return sw_error_errno (err, "--output type=local: opening %s", path);
    }
  (void) e;
  r = sw_view_run (lowers, NULL, NULL, mnt, rootfs_in_view, &c, err);
  if (r == 0 && c.destfd >= 0)
    r = write_attestation_files (res, c.destfd, err);
  if (c.destfd >= 0)
    close (c.destfd);
  return r;
}

static int
write_rootfs_outputs (sw_engine *e, sw_stage *s, const sw_image_result *res, size_t platform_index,
                      size_t n_platforms, sw_error **err)
{
  sw_outputs *os = e->outputs;
  cleanup_strv char **lowers = NULL;
  cleanup_free char *empty = NULL;
  cleanup_free char *mnt = NULL;
  cleanup_free char *subdir = NULL;
  size_t n = 0;
  bool any = false;
  int r = 0;

  for (size_t i = 0; os && i < os->n; i++)
    any |= os->v[i].kind == OUT_LOCAL || os->v[i].kind == OUT_TAR;
  if (!any)
    return 0;
  for (size_t i = 0; i < os->n; i++)
    if (os->v[i].kind == OUT_TAR && n_platforms > 1)
      return sw_error_make (err, ENOTSUP, "not supported yet: --output type=tar with several platforms "
                                          "(use type=local, which writes one directory per platform)");
  for (size_t i = 0; i < os->n; i++)
    for (size_t k = 0; os->v[i].kind == OUT_TAR && k < res->n_attestations; k++)
      if (!res->attestations[k].inline_only)
        return sw_error_make (err, ENOTSUP, "not supported yet: attestations in a --output type=tar "
                                            "(use type=local, which gets them as files, or type=oci)");
  if (n_platforms > 1)
    {
      subdir = sw_platform_format (&s->platform);
      for (char *p = subdir; *p; p++)
        if (*p == '/')
          *p = '_';
    }
  (void) platform_index;

  double t0 = sw_engine_now ();
  bool has_local = false, has_tar = false;
  for (size_t i = 0; i < os->n; i++)
    has_local |= os->v[i].kind == OUT_LOCAL, has_tar |= os->v[i].kind == OUT_TAR;
  const char *what = has_local && has_tar ? "directory and tarball" : has_local ? "directory" : "tarball";
  int id = sw_engine_vertex_start (e, "exporting to client %s%s%s", what, subdir ? " for " : "", subdir ? subdir : "");
  if (sw_engine_stage_lowers (e, s, &lowers, err) < 0)
    goto out;
  while (lowers[n])
    n++;
  /* overlayfs needs two lowers for a read-only mount, and a lone snapshot may still hold
   * overlay whiteouts: an empty top lower makes it a real overlay either way. */
  if (n < 2)
    {
      if (sw_state_mkscratch (e->state, "empty", &empty, err) < 0)
        goto out;
      sw_strlist_push (&lowers, empty);
      if (n == 0)
        {
          /* scratch with nothing in it: the empty dir is the whole tree */
        }
    }
  if (sw_state_mkscratch (e->state, "mnt", &mnt, err) < 0)
    goto out;
  for (size_t i = 0; i < os->n; i++)
    {
      output *o = &os->v[i];
      if (o->kind != OUT_LOCAL && o->kind != OUT_TAR)
        continue;
      if (write_rootfs (e, o, res, (const char *const *) lowers, mnt, subdir, err) < 0)
        {
          sw_error_wrap (err, "--output type=%s,dest=%s", type_names[o->kind], o->dest);
          goto out;
        }
    }
  sw_engine_vertex_done (e, id, t0, NULL);
  return 0;
out:
  r = -1;
  sw_engine_vertex_done (e, id, t0, *err);
  return r;
}

/* ---- attestations as files in a local output ---------------------------------------- */

/* Every regular file of the tree under dirfd, with its sha256: the statements' subjects,
 * as BuildKit's local exporter names them (paths relative to the output). */
static int
hash_tree (int dirfd, const char *prefix, sw_strv *names, sw_strv *digests, int depth, sw_error **err)
{
  int fd = dup (dirfd);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  struct dirent *de;
  int r = 0;

  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return sw_error_errno (err, "reading the output directory");
    }
  rewinddir (d);
  while (r == 0 && (de = readdir (d)))
    {
      struct stat st;
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0
          || fstatat (dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue;
      cleanup_free char *path = *prefix ? sw_xasprintf ("%s/%s", prefix, de->d_name) : sw_xstrdup (de->d_name);
      if (S_ISDIR (st.st_mode) && depth < 256)
        {
          cleanup_close int sub = openat (dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub >= 0)
            r = hash_tree (sub, path, names, digests, depth + 1, err);
        }
      else if (S_ISREG (st.st_mode))
        {
          cleanup_close int f = openat (dirfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          char buf[65536], dg[SW_DIGEST_BUFSZ];
          ssize_t n;
          if (f < 0)
            continue; /* a file the build made unreadable to root is not one we can name */
          sw_sha256 *h = sw_sha256_new ();
          while ((n = read (f, buf, sizeof buf)) > 0)
            sw_sha256_update (h, buf, (size_t) n);
          sw_sha256_final (h, dg);
          sw_sha256_free (h);
          if (n < 0)
            {
              r = sw_error_errno (err, "reading %s in the output", path);
              break;
            }
          sw_strv_push (names, path);
          sw_strv_push (digests, dg);
        }
    }
  closedir (d);
  return r;
}

/* provenance.json, sbom.spdx.json: the statements, their subjects the output's files. */
static int
write_attestation_files (const sw_image_result *r, int destfd, sw_error **err)
{
  sw_strv names = { 0 }, digests = { 0 };
  size_t n_files = 0;
  int ret = -1;

  for (size_t i = 0; i < r->n_attestations; i++)
    n_files += !r->attestations[i].inline_only;
  if (n_files == 0)
    return 0;
  if (hash_tree (destfd, "", &names, &digests, 0, err) < 0)
    goto out;
  sw_attest_subject *subjects = sw_xcalloc (names.n + 1, sizeof *subjects);
  for (size_t i = 0; i < names.n; i++)
    subjects[i] = (sw_attest_subject){ names.v[i], digests.v[i] };
  for (size_t i = 0; i < r->n_attestations; i++)
    {
      const sw_attestation *a = &r->attestations[i];
      cleanup_buf sw_buf st = SW_BUF_INIT;
      if (a->inline_only)
        continue;
      if (sw_attest_statement (a->predicate_type, sw_buf_str (&a->predicate), subjects, names.n, true, &st, err) < 0)
        {
          free (subjects);
          goto out;
        }
      cleanup_close int fd = openat (destfd, a->filename, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0 || write (fd, st.data, st.len) != (ssize_t) st.len)
        {
          free (subjects);
          sw_error_errno (err, "writing %s", a->filename);
          goto out;
        }
    }
  free (subjects);
  ret = 0;
out:
  sw_strv_free (&names);
  sw_strv_free (&digests);
  return ret;
}

/* ---- the image: oci and docker ------------------------------------------------------ */

struct layer_producer
{
  sw_engine *e;
  const sw_layer *l;
};

/* Base layers: from the registry, as they are stored there (blob get verifies them). */
static int
blob_to_sink (void *ud, const void *p, size_t n, sw_error **err)
{
  return sw_sink_write (ud, p, n, err);
}

static int
produce_layer (void *arg, sw_sink *sink, sw_error **err)
{
  struct layer_producer *lp = arg;
  const sw_layer *l = lp->l;

  if (!l->built)
    {
      if (sw_blob_get (lp->e->reg, l->source_repo, l->digest, l->size, blob_to_sink, sink, err) < 0)
        {
          sw_sink_abort (sink);
          return -1;
        }
      return sw_sink_finish (sink, l->digest, err);
    }
  if (l->cache_src) /* a hit from a --cache-from directory: its blob as stored there */
    return sw_cache_remote_blob (lp->e, l, sink, err);
  /* Built layers: packed again.  The pack is deterministic, so these are the bytes the pack
   * job hashed; the layout's sink checks the digest and size while writing. */
  sw_pack_opts o;
  sw_layer_info info;
  sw_engine_pack_opts (lp->e, &o);
  if (sw_layer_pack_path (l->dir, &o, sink, &info, err) < 0)
    return -1;
  if (strcmp (info.digest, l->digest) != 0)
    return sw_error_make (err, EIO, "packing %s again gave %s, not %s: the layer's directory changed", l->dir,
                          info.digest, l->digest);
  return 0;
}

/* A manifest in the other flavour: the same config and layer bytes, the other media types
 * (so another digest). */
static int
reflavour (const sw_buf *manifest, bool docker, sw_buf *out, sw_error **err)
{
  sw_manifest *m = NULL;
  if (sw_manifest_parse (manifest->data, manifest->len, &m, err) < 0)
    return -1;
  free (m->media_type);
  m->media_type = sw_xstrdup (docker ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST);
  free (m->config.media_type);
  m->config.media_type = sw_xstrdup (docker ? SW_MT_DOCKER_CONFIG : SW_MT_OCI_CONFIG);
  for (size_t k = 0; k < m->n_layers; k++)
    {
      char *mt = sw_xstrdup (sw_outputs_layer_media_type (m->layers[k].media_type, docker));
      free (m->layers[k].media_type);
      m->layers[k].media_type = mt;
    }
  sw_manifest_serialize (m, out);
  sw_manifest_free (m);
  return 0;
}

static int
open_layout (sw_engine *e, output *o, sw_error **err)
{
  if (o->w)
    return 0;
  if (o->tar)
    return sw_oci_layout_new_tar (o->fd, e->epoch > 0 ? e->epoch : 0, &o->w, err);
  return sw_oci_layout_new_dir (o->tmp ? o->tmp : o->dest, &o->w, err);
}

/* One platform's image into o: its layers, config and manifest (in o's flavour). */
static int
image_platform (sw_engine *e, output *o, const sw_image_result *r, size_t index, size_t n_platforms, sw_error **err)
{
  cleanup_buf sw_buf converted = SW_BUF_INIT;
  const sw_buf *manifest = &r->manifest_json;

  if (open_layout (e, o, err) < 0)
    return -1;
  if (o->manifests == NULL)
    o->manifests = sw_xcalloc (n_platforms, sizeof *o->manifests);
  if (o->docker_types != e->docker_media_types)
    {
      if (reflavour (&r->manifest_json, o->docker_types, &converted, err) < 0)
        return -1;
      manifest = &converted;
    }
  for (size_t i = 0; i < r->n_layers; i++)
    {
      struct layer_producer lp = { e, r->layers[i] };
      if (sw_oci_layout_add_blob (o->w, r->layers[i]->digest, r->layers[i]->size, produce_layer, &lp, err) < 0)
        return -1;
    }
  if (sw_oci_layout_add_blob_bytes (o->w, r->config_json.data, r->config_json.len, NULL, err) < 0
      || sw_oci_layout_add_blob_bytes (o->w, manifest->data, manifest->len, o->manifests[index].digest, err) < 0)
    return -1;
  o->manifests[index].size = (int64_t) manifest->len;
  /* the attestation manifest, as BuildKit's oci exporter stores it (a docker-archive has
   * no place for it) */
  if (r->attested && o->kind == OUT_OCI)
    {
      for (size_t i = 0; i < r->attest.n_blobs; i++)
        if (sw_oci_layout_add_blob_bytes (o->w, r->attest.blobs[i].data.data, r->attest.blobs[i].data.len, NULL, err)
            < 0)
          return -1;
      if (sw_oci_layout_add_blob_bytes (o->w, r->attest.config.data, r->attest.config.len, NULL, err) < 0
          || sw_oci_layout_add_blob_bytes (o->w, r->attest.manifest.data, r->attest.manifest.len, NULL, err) < 0)
        return -1;
    }
  return 0;
}

int
sw_outputs_write_platform (sw_engine *e, sw_stage *s, const sw_image_result *r, size_t index, size_t n_platforms,
                           sw_error **err)
{
  sw_outputs *os = e->outputs;
  if (write_rootfs_outputs (e, s, r, index, n_platforms, err) < 0)
    return -1;
  for (size_t i = 0; os && i < os->n; i++)
    {
      output *o = &os->v[i];
      if (o->kind != OUT_OCI && o->kind != OUT_DOCKER)
        continue;
      double t0 = sw_engine_now ();
      int id = sw_engine_vertex_start (e, "exporting to %s image format%s%s", o->kind == OUT_OCI ? "oci" : "docker",
                                       o->tar ? ", sending tarball to " : ", writing layout to ",
                                       o->to_stdout ? "stdout" : o->dest);
      int r2 = image_platform (e, o, r, index, n_platforms, err);
      if (r2 < 0)
        sw_error_wrap (err, "--output type=%s,dest=%s", type_names[o->kind], o->dest);
      sw_engine_vertex_done (e, id, t0, r2 < 0 ? *err : NULL);
      if (r2 < 0)
        return -1;
    }
  return 0;
}

/* The end of an oci or docker output: the index (several platforms), index.json, the
 * docker-archive files, the tar's closing blocks. */
static int
finish_image (sw_engine *e, output *o, const sw_image_result *results, size_t n_results, const char *final_type,
              const char *final_digest, const sw_buf *final, sw_error **err)
{
  cleanup_free char *image_name = NULL;
  cleanup_buf sw_buf index = SW_BUF_INIT;
  char index_digest[SW_DIGEST_BUFSZ];
  const char *ref_name = NULL;
  int64_t final_size = (int64_t) final->len;

  if (o->w == NULL)
    return sw_error_make (err, EINVAL, "internal error: no image was written to the output");
  bool is_index = strcmp (final_type, SW_MT_OCI_INDEX) == 0 || strcmp (final_type, SW_MT_DOCKER_LIST) == 0;
  if (is_index && o->kind == OUT_DOCKER)
    {
      /* a docker-archive holds one image: its manifest, without the attestations */
      is_index = false;
      final_type = o->docker_types ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST;
      final_digest = o->manifests[0].digest;
      final_size = o->manifests[0].size;
    }
  else if (o->docker_types != e->docker_media_types)
    {
      if (!is_index)
        {
          final_type = o->docker_types ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST;
          final_digest = o->manifests[0].digest;
          final_size = o->manifests[0].size;
        }
      else
        {
          /* The build's index with this output's manifests: platforms and annotations kept. */
          sw_index *ix = NULL;
          if (sw_index_parse (final->data, final->len, &ix, err) < 0)
            return -1;
          free (ix->media_type);
          ix->media_type = sw_xstrdup (o->docker_types ? SW_MT_DOCKER_LIST : SW_MT_OCI_INDEX);
          for (size_t i = 0; i < ix->n_manifests && i < n_results; i++)
            {
              free (ix->manifests[i].media_type);
              ix->manifests[i].media_type = sw_xstrdup (o->docker_types ? SW_MT_DOCKER_MANIFEST : SW_MT_OCI_MANIFEST);
              free (ix->manifests[i].digest);
              ix->manifests[i].digest = sw_xstrdup (o->manifests[i].digest);
              ix->manifests[i].size = o->manifests[i].size;
            }
          /* attestation manifests keep their bytes; their reference follows the image */
          for (size_t i = n_results; i < ix->n_manifests; i++)
            for (size_t k = 0; k < ix->manifests[i].n_annotations; k++)
              for (size_t j = 0; j < n_results; j++)
                if (strcmp (ix->manifests[i].annotations[k].key, "vnd.docker.reference.digest") == 0
                    && strcmp (ix->manifests[i].annotations[k].value, results[j].manifest_digest) == 0)
                  {
                    free (ix->manifests[i].annotations[k].value);
                    ix->manifests[i].annotations[k].value = sw_xstrdup (o->manifests[j].digest);
                    break;
                  }
          sw_index_serialize (ix, &index);
          final_type = o->docker_types ? SW_MT_DOCKER_LIST : SW_MT_OCI_INDEX;
          sw_index_free (ix);
          final = &index;
          final_size = (int64_t) index.len;
        }
    }
  if (is_index)
    {
      if (sw_oci_layout_add_blob_bytes (o->w, final->data, final->len, index_digest, err) < 0)
        return -1;
      final_digest = index_digest;
    }
  if (o->name)
    {
      image_name = sw_xstrdup (o->name);
    }
  else if (e->n_tags)
    image_name = sw_ref_string (e->tags[0]);
  if (image_name)
    {
      /* the tag part: after the last ':' that follows the last '/' */
      const char *slash = strrchr (image_name, '/');
      const char *colon = strrchr (slash ? slash : image_name, ':');
      ref_name = colon ? colon + 1 : NULL;
    }
  if (sw_oci_layout_write_index (o->w, final_type, final_digest, final_size, image_name, ref_name, err) < 0)
    return -1;
  if (o->kind == OUT_DOCKER)
    {
      const sw_image_result *res = &results[0];
      cleanup_free const char **layers = sw_xcalloc (res->n_layers + 1, sizeof *layers);
      cleanup_strv char **tags = NULL;
      for (size_t i = 0; i < res->n_layers; i++)
        layers[i] = res->layers[i]->digest;
      size_t n_tags = 0;
      if (o->name)
        sw_strlist_push (&tags, image_name), n_tags = 1; /* name= names this archive's image */
      else
        for (; n_tags < e->n_tags; n_tags++)
          {
            cleanup_free char *t = sw_ref_string (e->tags[n_tags]);
            sw_strlist_push (&tags, t);
          }
      sw_docker_archive_image img = { res->config_digest, layers, res->n_layers, (const char *const *) tags,
                                      n_tags };
      if (sw_docker_archive_write (o->w, &img, err) < 0)
        return -1;
    }
  return sw_oci_layout_finish (o->w, err);
}

int
sw_outputs_write_image (sw_engine *e, const sw_image_result *results, size_t n_results, const char *final_type,
                        const char *final_digest, const sw_buf *final, sw_error **err)
{
  sw_outputs *os = e->outputs;
  for (size_t i = 0; os && i < os->n; i++)
    {
      output *o = &os->v[i];
      if (o->kind != OUT_OCI && o->kind != OUT_DOCKER)
        continue;
      if (finish_image (e, o, results, n_results, final_type, final_digest, final, err) < 0)
        return sw_error_wrap (err, "--output type=%s,dest=%s", type_names[o->kind], o->dest);
    }
  return 0;
}

/* ---- commit and cleanup ------------------------------------------------------------- */

int
sw_outputs_commit (sw_engine *e, sw_error **err)
{
  sw_outputs *os = e->outputs;
  for (size_t i = 0; os && i < os->n; i++)
    {
      output *o = &os->v[i];
      if (o->fd >= 0 && o->fd != STDOUT_FILENO)
        {
          int r = close (o->fd);
          o->fd = -1;
          if (r < 0)
            return sw_error_errno (err, "--output type=%s: writing %s", type_names[o->kind], o->dest);
        }
      if (o->tmp)
        {
          if (o->tmp_is_dir)
            {
              /* a directory that appeared meanwhile is not replaced */
              if (rename (o->tmp, o->dest) < 0)
                return sw_error_errno (err, "--output type=%s: moving the result to %s", type_names[o->kind],
                                       o->dest);
            }
          else if (rename (o->tmp, o->dest) < 0)
            return sw_error_errno (err, "--output type=%s: moving the result to %s", type_names[o->kind], o->dest);
          free (o->tmp);
          o->tmp = NULL;
        }
      o->committed = true;
    }
  return 0;
}

void
sw_outputs_free (sw_engine *e)
{
  sw_outputs *os = e->outputs;
  if (os == NULL)
    return;
  for (size_t i = 0; i < os->n; i++)
    {
      output *o = &os->v[i];
      sw_oci_layout_free (o->w);
      free (o->manifests);
      if (o->fd >= 0 && o->fd != STDOUT_FILENO)
        close (o->fd);
      if (o->tmp)
        {
          if (o->tmp_is_dir)
            sw_remove_all_at (AT_FDCWD, o->tmp); /* a tree we made ourselves */
          else
            unlink (o->tmp);
        }
      free (o->tmp);
      free (o->dest);
      free (o->name);
    }
  free (os->v);
  free (os);
  e->outputs = NULL;
}
