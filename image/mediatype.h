/* image/mediatype.h — the media types slipway reads and writes.
 *
 * Guarantees: every manifest-like type a registry can return is classified as an index
 * (OCI index, Docker manifest list), an image manifest (OCI, Docker schema2), a schema1
 * manifest (refused by callers, with a clear message) or unknown.
 */
#ifndef SW_IMAGE_MEDIATYPE_H
#define SW_IMAGE_MEDIATYPE_H

#include <stdbool.h>

#define SW_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define SW_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define SW_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define SW_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define SW_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define SW_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define SW_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

#define SW_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define SW_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define SW_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define SW_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define SW_MT_DOCKER_FOREIGN_LAYER "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define SW_MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define SW_MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* The Accept header value for manifest GETs: every type slipway understands, indexes first. */
#define SW_MANIFEST_ACCEPT                                                                         \
  SW_MT_OCI_INDEX ", " SW_MT_DOCKER_LIST ", " SW_MT_OCI_MANIFEST ", " SW_MT_DOCKER_MANIFEST

typedef enum sw_manifest_kind
{
  SW_KIND_UNKNOWN = 0,
  SW_KIND_INDEX,    /* OCI index or Docker manifest list */
  SW_KIND_MANIFEST, /* OCI image manifest or Docker schema2 */
  SW_KIND_SCHEMA1,  /* Docker schema1: obsolete, refused */
} sw_manifest_kind;

/* Classify by media type; parameters after ';' are ignored. */
sw_manifest_kind sw_media_type_kind (const char *media_type);
/* Classify a document: its mediaType field first, then the Content-Type a registry gave,
 * then its shape ("manifests" → index, "layers" → manifest, schemaVersion 1 → schema1). */
sw_manifest_kind sw_manifest_sniff (const char *body, size_t len, const char *content_type);

#endif
