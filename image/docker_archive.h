/* image/docker_archive.h — the files that make an OCI layout tar also a docker-archive
 * (what `docker load` and `skopeo … docker-archive:` read), as BuildKit's docker exporter
 * writes it: the blobs stay where the OCI layout has them (blobs/sha256/HEX), and
 * manifest.json lists the config, the layers bottom first, and the tags as RepoTags;
 * `repositories` maps each name to its tag for older loaders.
 *
 * Guarantees: the JSON is deterministic (the same image and tags give the same bytes);
 * tags are written as given (normalized names, "name:tag"); an image with no tag has
 * an empty RepoTags (docker load then keeps it untagged).
 */
#ifndef SW_IMAGE_DOCKER_ARCHIVE_H
#define SW_IMAGE_DOCKER_ARCHIVE_H

#include <stddef.h>

#include "image/oci_layout.h"

typedef struct sw_docker_archive_image
{
  const char *config_digest;
  const char *const *layer_digests; /* bottom first */
  size_t n_layers;
  const char *const *repo_tags;     /* "name:tag"; may be NULL */
  size_t n_tags;
} sw_docker_archive_image;

/* Add manifest.json and repositories to w (whose blobs already hold everything named). */
int sw_docker_archive_write (sw_oci_layout *w, const sw_docker_archive_image *img, sw_error **err);

#endif
