/* registry/publish.h — move a set of tags to digests, all or none (as far as a registry allows).
 *
 * A registry has no transaction: each tag is one PUT.  So the set is published in three
 * steps that keep the window small and the failure honest:
 *   1. stage: every image is made present, by digest, in the repository of each of its
 *      tags (blobs mounted from the source repository, manifests put by digest); each
 *      tag's current digest is recorded (absent = the tag did not exist) with its bytes;
 *   2. write: every tag is PUT in one tight loop, the tags automation watches last
 *      (an explicit "last" mark, else version- or timestamp-looking tags after moving
 *      tags such as `latest`);
 *   3. on a failed write: the tags already moved are put back to their recorded bytes
 *      (a tag that did not exist is deleted, where the registry allows DELETE by tag) and
 *      the error names every tag and where it points now.
 * Nothing is written before step 2, so a failure in step 1 moves no tag.
 */
#ifndef SW_REGISTRY_PUBLISH_H
#define SW_REGISTRY_PUBLISH_H

#include <stdbool.h>
#include "common/error.h"
#include "registry/client.h"
#include "registry/ref.h"

typedef struct sw_publish_tag
{
  const sw_ref *tag;    /* domain/path:tag to move */
  const sw_ref *source; /* the repository holding the image (manifest by digest and its blobs) */
  const char *digest;   /* what the tag must name: a manifest or an index digest */
  bool last;            /* written after every tag without the mark */
  /* optional: the document digest names, when the caller has its bytes (then it is not
   * fetched again from source; it must be there all the same) */
  const void *document;
  size_t document_len;
  const char *media_type;
} sw_publish_tag;

/* Called once per tag written or put back, for progress ("TAG → DIGEST"). */
typedef void (*sw_publish_note_fn) (void *ud, const char *line);

int sw_publish_tags (sw_registry *r, const sw_publish_tag *tags, size_t n, sw_publish_note_fn note, void *ud,
                     sw_error **err);

/* True for a tag that names one release (1.2.3, v2, 2024-05-01, 20240501T1200, …): such tags
 * are the ones image automation picks, so they go after moving tags like `latest`. */
bool sw_publish_tag_is_versioned (const char *tag);

#endif
