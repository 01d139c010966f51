/* image/platform.h — OCI platforms: parse, normalize, format, match, detect the host's.
 *
 * Guarantees:
 *  - Every sw_platform that leaves this module (parse, set, host, copy) is normalized the
 *    way containerd's platforms.Normalize does it, so two spellings of one platform compare
 *    equal with plain string comparison:
 *        os:   lower case; "macos" -> "darwin"
 *        arch: lower case; i386 -> 386; x86_64, x86-64 -> amd64; aarch64 -> arm64;
 *              armhf -> arm/v7; armel -> arm/v6
 *        variant: amd64 "v1" -> ""; arm64 "8", "v8", "v8.0" -> "" and "9", "9.0", "v9.0" -> "v9";
 *              arm "" and "7" -> "v7", "5" "6" "8" -> "v5" "v6" "v8"; i386 drops its variant
 *    (so "linux/arm64/v8" == "linux/arm64" and "linux/arm" == "linux/arm/v7").
 *  - Parsing accepts what containerd's platforms.Parse accepts: "os/arch[/variant]", with
 *    "os(os.version)" allowed as the first component, and a lone known OS ("linux": the
 *    host's architecture) or a lone known architecture ("arm64": os linux).  Each component
 *    matches [A-Za-z0-9_-]+ (the os.version in parentheses [A-Za-z0-9_.-]*); anything else
 *    is an error that quotes the input and says what was expected.
 *  - Matching for picking a manifest out of an index follows containerd's platforms.Only:
 *    the exact platform first, then the compatible ones in containerd's order
 *        amd64/vN -> amd64/vN-1 … amd64 (v1) -> 386
 *        arm/vN   -> arm/vN-1 … arm/v5
 *        arm64    -> arm/v8, arm/v7, arm/v6, arm/v5
 *    os must be equal; os.version only counts for windows (major.minor.build must agree
 *    when both sides have one).  os.features are carried, never matched.
 *  - Nothing here touches binfmt_misc or QEMU; host detection is uname(2) only (plus a
 *    personality(2) probe in a short-lived child for arm64 hosts' AArch32 support, which
 *    lives in emu/, not here).
 */
#ifndef SW_IMAGE_PLATFORM_H
#define SW_IMAGE_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct sw_platform
{
  char *os;            /* "linux" */
  char *arch;          /* "amd64", "arm64", "arm", … (OCI "architecture") */
  char *variant;       /* "" when none; never NULL in a filled platform */
  char *os_version;    /* "" when none (OCI "os.version") */
  char **os_features;  /* NULL-terminated, or NULL when none (OCI "os.features") */
} sw_platform;

#define SW_PLATFORM_INIT { NULL, NULL, NULL, NULL, NULL }

/* Parse SPEC ("linux/arm64", "linux/arm/v7", "aarch64", "windows(10.0.17763)/amd64") into
 * *out (which must be SW_PLATFORM_INIT or cleared), normalized. */
int sw_platform_parse (const char *spec, sw_platform *out, sw_error **err);

/* Fill *out from separate fields (as found in an OCI index's "platform" object, where
 * variant may be NULL), normalized.  Never fails: the fields are not validated beyond
 * NULL → "" (an index may carry platforms this build does not know). */
void sw_platform_set (sw_platform *out, const char *os, const char *arch, const char *variant);

/* Normalize p in place (only needed after editing the fields by hand). */
void sw_platform_normalize (sw_platform *p);

/* "os/arch[/variant]" (containerd's platforms.Format; os "" → "unknown").  Caller frees. */
char *sw_platform_format (const sw_platform *p);

/* os, arch and variant equal (both sides normalized first). */
bool sw_platform_equal (const sw_platform *a, const sw_platform *b);

/* How well CANDIDATE serves a build for WANT: 0 = exact, 1, 2, … = less preferred
 * compatible platforms (containerd's order, see above), -1 = cannot run it. */
int sw_platform_match_rank (const sw_platform *want, const sw_platform *candidate);

/* Index of the best candidate for WANT among N, ties going to the earlier one (index
 * order, as containerd sorts stably); -1 when none matches. */
long sw_platform_pick (const sw_platform *want, const sw_platform *candidates, size_t n);

/* The host's platform from uname(2): x86_64 → linux/amd64, aarch64 → linux/arm64,
 * armv7l → linux/arm/v7, armv6l → linux/arm/v6, i686 → linux/386, riscv64, ppc64le,
 * s390x, … */
int sw_platform_host (sw_platform *out, sw_error **err);

/* Map a uname(2) machine string to (arch, variant) without consulting the running
 * kernel; exposed for tests.  Returns false for an unknown machine. */
bool sw_platform_from_machine (const char *machine, const char **arch, const char **variant);

void sw_platform_copy (sw_platform *dst, const sw_platform *src);
void sw_platform_clear (sw_platform *p);

static inline void
sw_cleanup_platformp (sw_platform *p)
{
  sw_platform_clear (p);
}
#define cleanup_platform __attribute__ ((cleanup (sw_cleanup_platformp)))

#endif
