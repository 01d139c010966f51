/* image/oci_layout.h — an OCI image layout written as it is produced: a tar stream on a
 * file descriptor (`-o type=oci,dest=FILE|-`) or a directory (`tar=false`).
 *
 * Guarantees:
 *  - Streaming: a blob is announced with its digest and size before its bytes (a tar
 *    header needs the size), then its producer pushes the bytes through a sink straight
 *    into the tar entry (or the blob file).  Nothing is buffered beyond libarchive's block.
 *  - Verified: the bytes a producer pushes are hashed on the way; a blob whose digest or
 *    size differs from what was announced fails add_blob, and the writer is then broken
 *    (every later call fails): a half-written tar is never finished into a valid one.
 *  - Deterministic: entries have mode 0644 (directories 0755), uid/gid 0, mtime 0 (or the
 *    given epoch), no user or group names; a blob already added is not added twice.
 *  - Directory layouts: a blob is written to a temporary name in blobs/sha256 and renamed
 *    into place only once verified; a blob already present is kept.
 *
 * The caller writes the small files (oci-layout, index.json, a docker archive's
 * manifest.json) with sw_oci_layout_add_file, typically last.
 */
#ifndef SW_IMAGE_OCI_LAYOUT_H
#define SW_IMAGE_OCI_LAYOUT_H

#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/sink.h"

typedef struct sw_oci_layout sw_oci_layout;

/* A blob's producer: push the blob's bytes into sink and then finish it (or abort it on
 * failure).  It must finish or abort sink exactly once, whatever happens. */
typedef int (*sw_blob_producer) (void *arg, sw_sink *sink, sw_error **err);

/* A tar stream on fd (not closed by the writer; the caller owns it).  mtime: entries'
 * modification time (seconds; 0 or SOURCE_DATE_EPOCH). */
int sw_oci_layout_new_tar (int fd, int64_t mtime, sw_oci_layout **out, sw_error **err);
/* A directory layout at dir (created if needed). */
int sw_oci_layout_new_dir (const char *dir, sw_oci_layout **out, sw_error **err);

/* Add blob digest of size bytes, whose bytes producer pushes.  No-op when already added. */
int sw_oci_layout_add_blob (sw_oci_layout *w, const char *digest, int64_t size, sw_blob_producer producer,
                            void *arg, sw_error **err);
/* Add a small blob from memory; its digest goes to digest_out (SW_DIGEST_BUFSZ) when not NULL. */
int sw_oci_layout_add_blob_bytes (sw_oci_layout *w, const void *p, size_t n, char *digest_out, sw_error **err);
/* Add a file by name at the layout's top (oci-layout, index.json, manifest.json, …). */
int sw_oci_layout_add_file (sw_oci_layout *w, const char *name, const void *p, size_t n, sw_error **err);
/* The "oci-layout" file, and index.json naming one manifest (or index) descriptor, with
 * an org.opencontainers.image.ref.name annotation when ref_name is not NULL and, when
 * image_name is not NULL, io.containerd.image.name (as BuildKit writes them). */
int sw_oci_layout_write_index (sw_oci_layout *w, const char *media_type, const char *digest, int64_t size,
                               const char *image_name, const char *ref_name, sw_error **err);
/* End the tar stream (the closing blocks). */
int sw_oci_layout_finish (sw_oci_layout *w, sw_error **err);
void sw_oci_layout_free (sw_oci_layout *w);

#endif
