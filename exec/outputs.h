/* exec/outputs.h — the build's non-registry outputs (buildx's -o types oci, docker, local,
 * tar), written as the build ends, streamed, with nothing staged on disk.
 *
 *   oci, docker  the image as an OCI layout (tar on a file or stdout, or a directory with
 *                tar=false) / a docker-archive tar.  Blobs are written, verified, straight
 *                from where they are: a base layer streams from its registry; a built layer
 *                is packed AGAIN from its upper dir (packing is deterministic: the pack job
 *                gave the digest and size, the second pass must give exactly those bytes,
 *                and a difference fails the output).
 *   local, tar   the target stage's final rootfs: its snapshot dirs merged read-only by
 *                overlayfs (so the kernel applies whiteouts), packed as one tar stream into
 *                a file or stdout, or extracted into a directory.
 *
 * Guarantees: every destination is checked when the output is added, before any step
 * runs (an unwritable place fails at once).  A file or a new directory is made under a
 * temporary name beside its destination and renamed into place only when the build has
 * succeeded; a failed build leaves none of it (stdout, of course, cannot be taken back; a
 * failed stream there is left without its closing blocks, so no reader takes it as whole).
 * Tar streams on stdout refuse a terminal, as buildx does.
 */
#ifndef SW_EXEC_OUTPUTS_H
#define SW_EXEC_OUTPUTS_H

#include <stdbool.h>

#include "exec/engine.h"

/* Add an output of type (oci, docker, local, tar) described by buildx CSV spec ("-o DIR"
 * is passed as type local with spec "dest=DIR").  Returns 1 when the type is one of
 * these, 0 when it is not (the caller handles it), -1 on error. */
int sw_outputs_add (sw_engine *e, const char *type, const char *spec, sw_error **err);

/* The boolean key of an --output spec (strconv.ParseBool, as buildx reads it): dflt when the
 * key is absent; an error naming the key and the value otherwise. */
int sw_output_spec_bool (const char *spec, const char *key, bool dflt, bool *out, sw_error **err);

/* Whether the first oci or docker output wants Docker schema2 media types (type=docker does
 * by default).  Each output gets its own flavour whatever the build's: an output whose
 * flavour differs from the pushed image's gets the manifests re-made (same config, same
 * layer blobs, other media types, so other manifest digests), as BuildKit's exporters do. */
bool sw_outputs_docker_media_types (const sw_engine *e);

/* Whether there is a type=docker output (a docker-archive holds no attestation), a type=oci
 * one (which stores them as the registry does). */
bool sw_outputs_has_docker (const sw_engine *e);
bool sw_outputs_has_oci (const sw_engine *e);

/* After a platform's target stage is built and exported as r (platform index of
 * n_platforms): the local and tar outputs from the stage's rootfs (a subdir per platform,
 * "linux_amd64", when there are several, as buildx does), and this platform's blobs into
 * the oci and docker outputs. */
int sw_outputs_write_platform (sw_engine *e, sw_stage *s, const sw_image_result *r, size_t index, size_t n_platforms,
                               sw_error **err);

/* After every platform: the end of the oci and docker outputs.  final is the document the
 * tags name (a manifest, or an index over results[]). */
int sw_outputs_write_image (sw_engine *e, const sw_image_result *results, size_t n_results, const char *final_type,
                            const char *final_digest, const sw_buf *final, sw_error **err);

/* Move every output into place (the build succeeded). */
int sw_outputs_commit (sw_engine *e, sw_error **err);

/* Free them; what was not committed is removed. */
void sw_outputs_free (sw_engine *e);

/* A layer media type in the build's flavour: Docker schema2 names or OCI ones. */
const char *sw_outputs_layer_media_type (const char *media_type, bool docker);

#endif
