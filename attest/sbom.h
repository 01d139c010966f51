/* attest/sbom.h — what software a root file system holds, read natively from the package
 * managers' own records, and written as an SPDX 2.3 document.
 *
 * BuildKit runs a scanner image over the result; slipway reads the same records itself,
 * with no image to pull:
 *   Debian/Ubuntu  /var/lib/dpkg/status, and /var/lib/dpkg/status.d/ (distroless: a file a package)
 *   Alpine         /lib/apk/db/installed
 *   npm            node_modules/NAME/package.json (and @SCOPE/NAME), package-lock.json
 *   Python         *.dist-info/METADATA
 *   Go             the build info Go 1.18+ embeds in its ELF binaries (.go.buildinfo)
 *
 * Guarantees: the scan reads only through the root fd it is given (never follows a
 * symlink, never leaves the tree), skips /proc, /sys and /dev, and never fails on a
 * malformed record — a record it cannot read is skipped (a broken package database gives
 * an SBOM with fewer packages, not a failed build); it fails only when the root cannot be
 * read at all.  The output is deterministic: packages sorted, no time or random value
 * except the `created` and namespace the caller passes.
 */
#ifndef SW_ATTEST_SBOM_H
#define SW_ATTEST_SBOM_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

typedef enum sw_sbom_kind
{
  SW_SBOM_DEB,
  SW_SBOM_APK,
  SW_SBOM_NPM,
  SW_SBOM_PYPI,
  SW_SBOM_GOLANG,
} sw_sbom_kind;

typedef struct sw_sbom_pkg
{
  sw_sbom_kind kind;
  char *name;
  char *version;
  char *arch;      /* deb, apk: as the database says; else NULL */
  char *license;   /* as the metadata says it (not necessarily an SPDX expression); NULL */
  char *source;    /* the file it was read from, absolute in the image */
  char *purl;
} sw_sbom_pkg;

typedef struct sw_sbom
{
  sw_sbom_pkg *pkgs;
  size_t n;
  char *distro_id;      /* /etc/os-release ID ("debian"), or NULL */
  char *distro_version; /* VERSION_ID ("12"), or NULL */
} sw_sbom;

/* Scan the tree under rootfd (a directory fd; not closed). */
int sw_sbom_scan (int rootfd, sw_sbom **out, sw_error **err);

/* The SPDX 2.3 JSON document.  name: what it describes (the image's name); created: RFC
 * 3339 time; ns_seed: makes documentNamespace unique (a digest of the image, say). */
void sw_sbom_spdx (const sw_sbom *s, const char *name, const char *created, const char *ns_seed, sw_buf *out);

void sw_sbom_free (sw_sbom *s);

/* Parsers, one per record format, on bytes in memory (the scan feeds them; tests too).
 * Each appends what it finds to s; source is recorded as the packages' origin. */
void sw_sbom_parse_dpkg (sw_sbom *s, const char *text, size_t len, const char *source);
void sw_sbom_parse_apk (sw_sbom *s, const char *text, size_t len, const char *source);
void sw_sbom_parse_npm_package (sw_sbom *s, const char *text, size_t len, const char *source);
void sw_sbom_parse_npm_lock (sw_sbom *s, const char *text, size_t len, const char *source);
void sw_sbom_parse_python_metadata (sw_sbom *s, const char *text, size_t len, const char *source);
/* The modinfo text of a Go binary's build info ("path\t…\nmod\t…\ndep\t…"), and its Go
 * version ("go1.22.1"). */
void sw_sbom_parse_go_modinfo (sw_sbom *s, const char *go_version, const char *modinfo, const char *source);
/* A Go binary's build info: the blob that starts with "\xff Go buildinf:" (p, len bytes
 * available), or an ELF file (its .go.buildinfo section).  1 and the two strings
 * (malloc'ed) when found, 0 when not a Go binary or one older than Go 1.18 (whose build
 * info points into the data segment instead of holding the strings). */
int sw_sbom_go_buildinfo_blob (const unsigned char *p, size_t len, char **go_version, char **modinfo);
int sw_sbom_go_buildinfo_fd (int fd, char **go_version, char **modinfo);
/* Fill every package's purl (done by sw_sbom_scan; parsers called directly need it). */
void sw_sbom_finish (sw_sbom *s);

#endif
