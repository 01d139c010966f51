/* copy/add.h — the parts of ADD that COPY lacks: local tar archives and URLs.
 *
 * Guarantees:
 *  - sw_add_is_archive() says yes exactly when BuildKit's isArchivePath would: a regular
 *    file that, once decompressed (gzip, bzip2, xz, zstd or none, found by content, not
 *    by name), starts with a valid tar header.
 *  - sw_add_unpack() extracts like moby's chrootarchive.Untar, through the layers'
 *    extractor (layers/layers.h, applied flat): the destination directory is the root of
 *    every path in the archive (openat2 RESOLVE_IN_ROOT, so neither "../" names, absolute
 *    names, hardlinks nor symlinks — in the archive or already on disk — reach outside
 *    it); names and hardlinks that climb out are errors; a symlink is stored as written
 *    wherever it points (as BuildKit does); `.wh.` names are ordinary files; existing
 *    directories are merged into; owners from the archive (or --chown), modes and times
 *    from the archive, directory times set last, xattrs best effort.
 *  - sw_add_fetch() downloads a URL into DIR/NAME over the registry's transport
 *    (registry/client.h sw_registry_fetch_url: its CAs, insecure hosts, proxies, retries,
 *    redirects), mode 0600, mtime from Last-Modified (else the epoch), verifies --checksum
 *    (sha256/sha384/sha512) and fails on an HTTP error status with the status in the
 *    message.
 */
#ifndef SW_EXEC_ADD_H
#define SW_EXEC_ADD_H

#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "registry/client.h"

bool sw_add_is_http (const char *src);
bool sw_add_is_git (const char *src);

/* The file name BuildKit gives a URL download: the last path component, percent-decoded,
 * or "__unnamed__".  Caller frees. */
char *sw_add_url_filename (const char *url);

/* Check a --checksum value ("sha256:<64 hex>", sha384, sha512). */
int sw_add_checksum_check (const char *checksum, sw_error **err);

/* path is a resolved path inside root. */
int sw_add_is_archive (int root, const char *path, bool *is, sw_error **err);

/* Extract root:path into the directory dst_root:dest (resolved; created 0755 and owned
 * per chown when missing). */
int sw_add_unpack (int root, const char *path, int dst_root, const char *dest, bool chown,
                   uid_t uid, gid_t gid, sw_error **err);

/* transport: the build's registry session; NULL makes one for this download. */
int sw_add_fetch (sw_registry *transport, const char *url, const char *checksum, int dirfd,
                  const char *name, sw_error **err);

#endif
