/* Unit tests for attest/: the SBOM's record parsers and tree scan on small fixtures
 * written here, Go build info, SPDX output, purls, provenance and statements. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "attest/attest.h"
#include "attest/provenance.h"
#include "attest/sbom.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

static sw_sbom *
new_sbom (void)
{
  return sw_xzalloc (sizeof (sw_sbom));
}

static const sw_sbom_pkg *
find (const sw_sbom *s, const char *name)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp (s->pkgs[i].name, name) == 0)
      return &s->pkgs[i];
  return NULL;
}

/* ---- dpkg -------------------------------------------------------------------------- */

static const char dpkg_status[] = "Package: libc6\n"
                                  "Status: install ok installed\n"
                                  "Priority: optional\n"
                                  "Architecture: amd64\n"
                                  "Version: 2.36-9+deb12u4\n"
                                  "Description: GNU C Library\n"
                                  " Contains the standard libraries.\n"
                                  " Package: not-a-field\n"
                                  "\n"
                                  "Package: purged-one\n"
                                  "Status: purge ok not-installed\n"
                                  "Architecture: amd64\n"
                                  "Version: 1.0\n"
                                  "\n"
                                  "Package: half-gone\n"
                                  "Status: deinstall ok config-files\n"
                                  "Architecture: all\n"
                                  "Version: 1:0.5-2\n"
                                  "\n"
                                  "Package: no-version\n"
                                  "Status: install ok installed\n";

static void
dpkg_status_parsed_as_dpkg_query_lists (void **state)
{
  sw_sbom *s = new_sbom ();
  sw_sbom_parse_dpkg (s, dpkg_status, strlen (dpkg_status), "/var/lib/dpkg/status");
  s->distro_id = sw_xstrdup ("debian");
  s->distro_version = sw_xstrdup ("12");
  sw_sbom_finish (s);
  /* dpkg-query -W lists installed and config-files packages, not purged ones */
  assert_int_equal (s->n, 2);
  const sw_sbom_pkg *p = find (s, "libc6");
  assert_non_null (p);
  assert_string_equal (p->version, "2.36-9+deb12u4");
  assert_string_equal (p->arch, "amd64");
  assert_string_equal (p->purl, "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12");
  p = find (s, "half-gone");
  assert_non_null (p);
  assert_string_equal (p->purl, "pkg:deb/debian/half-gone@1%3A0.5-2?arch=all&distro=debian-12");
  assert_null (find (s, "purged-one"));
  assert_null (find (s, "not-a-field"));
  sw_sbom_free (s);

  /* bytes that are not UTF-8 do not cost a package its name in the SPDX document */
  s = new_sbom ();
  static const char latin1[] = "Package: caf\xe9\nVersion: 1.0\nArchitecture: all\n";
  sw_sbom_parse_dpkg (s, latin1, strlen (latin1), "/var/lib/dpkg/status");
  sw_sbom_finish (s);
  cleanup_buf sw_buf out = SW_BUF_INIT;
  sw_sbom_spdx (s, "x", "2024-01-02T03:04:05Z", "seed", &out);
  assert_non_null (strstr (out.data, "\"name\":\"caf?\""));
  assert_non_null (strstr (out.data, "pkg:deb/debian/caf%E9@1.0?arch=all"));
  sw_sbom_free (s);
}

/* ---- apk --------------------------------------------------------------------------- */

static void
apk_installed_db (void **state)
{
  static const char db[] = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n"
                           "C:Q1def=\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\nF:bin\nR:busybox\n";
  sw_sbom *s = new_sbom ();
  s->distro_id = sw_xstrdup ("alpine");
  s->distro_version = sw_xstrdup ("3.19.1");
  sw_sbom_parse_apk (s, db, strlen (db), "/lib/apk/db/installed");
  sw_sbom_finish (s);
  assert_int_equal (s->n, 2);
  const sw_sbom_pkg *p = find (s, "busybox");
  assert_non_null (p);
  assert_string_equal (p->license, "GPL-2.0-only");
  assert_string_equal (p->purl, "pkg:apk/alpine/busybox@1.36.1-r5?arch=x86_64&distro=alpine-3.19.1");
  sw_sbom_free (s);
}

/* ---- npm ---------------------------------------------------------------------------- */

static void
npm_package_and_lock (void **state)
{
  static const char pkg[] = "{\"name\":\"@types/node\",\"version\":\"20.1.0\",\"license\":\"MIT\"}";
  static const char old_style[] = "{\"name\":\"left-pad\",\"version\":\"1.3.0\",\"licenses\":[{\"type\":\"WTFPL\"}]}";
  static const char lock3[] = "{\"lockfileVersion\":3,\"packages\":{"
                              "\"\":{\"name\":\"app\",\"version\":\"1.0.0\"},"
                              "\"node_modules/express\":{\"version\":\"4.18.2\",\"license\":\"MIT\"},"
                              "\"node_modules/express/node_modules/debug\":{\"version\":\"2.6.9\"},"
                              "\"node_modules/linked\":{\"link\":true,\"resolved\":\"../x\"}}}";
  static const char lock1[] = "{\"lockfileVersion\":1,\"dependencies\":{\"ms\":{\"version\":\"2.0.0\","
                              "\"dependencies\":{\"inner\":{\"version\":\"0.1.0\"}}}}}";
  sw_sbom *s = new_sbom ();
  sw_sbom_parse_npm_package (s, pkg, strlen (pkg), "/app/node_modules/@types/node/package.json");
  sw_sbom_parse_npm_package (s, old_style, strlen (old_style), "/app/node_modules/left-pad/package.json");
  sw_sbom_parse_npm_lock (s, lock3, strlen (lock3), "/app/package-lock.json");
  sw_sbom_parse_npm_lock (s, lock1, strlen (lock1), "/old/package-lock.json");
  sw_sbom_parse_npm_lock (s, "{not json", 9, "/bad/package-lock.json"); /* skipped, no crash */
  sw_sbom_finish (s);
  assert_int_equal (s->n, 6);
  assert_string_equal (find (s, "@types/node")->purl, "pkg:npm/%40types/node@20.1.0");
  assert_string_equal (find (s, "left-pad")->license, "WTFPL");
  assert_string_equal (find (s, "express")->license, "MIT");
  assert_string_equal (find (s, "debug")->purl, "pkg:npm/debug@2.6.9");
  assert_non_null (find (s, "inner"));
  assert_null (find (s, "app"));
  assert_null (find (s, "linked"));
  sw_sbom_free (s);
}

/* ---- Python ---------------------------------------------------------------------------- */

static void
python_metadata (void **state)
{
  static const char md[] = "Metadata-Version: 2.1\nName: Flask_Login\nVersion: 0.6.3\nLicense: MIT\n"
                           "Classifier: License :: OSI Approved :: MIT License\n\nLicense: not a header\n";
  static const char md2[] = "Metadata-Version: 2.4\nName: pkg\nVersion: 1.0\nLicense-Expression: Apache-2.0 OR MIT\n";
  sw_sbom *s = new_sbom ();
  sw_sbom_parse_python_metadata (s, md, strlen (md), "/usr/lib/python3/dist-packages/Flask_Login-0.6.3.dist-info/METADATA");
  sw_sbom_parse_python_metadata (s, md2, strlen (md2), "/x.dist-info/METADATA");
  sw_sbom_finish (s);
  assert_int_equal (s->n, 2);
  assert_string_equal (find (s, "Flask_Login")->purl, "pkg:pypi/flask-login@0.6.3");
  assert_string_equal (find (s, "Flask_Login")->license, "MIT");
  assert_string_equal (find (s, "pkg")->license, "Apache-2.0 OR MIT");
  sw_sbom_free (s);
}

/* ---- Go ----------------------------------------------------------------------------------- */

/* A Go 1.18+ build info blob: header, then varint-prefixed version and modinfo (the latter
 * between its 16-byte sentinels). */
static size_t
make_buildinfo (unsigned char *out, const char *vers, const char *mod)
{
  size_t n = 0;
  memcpy (out, "\xff Go buildinf:", 14);
  out[14] = 8;   /* pointer size */
  out[15] = 0x2; /* inline strings, little endian */
  memset (out + 16, 0, 16);
  n = 32;
  out[n++] = (unsigned char) strlen (vers);
  memcpy (out + n, vers, strlen (vers));
  n += strlen (vers);
  size_t ml = strlen (mod) + 32;
  out[n++] = (unsigned char) (0x80 | (ml & 0x7f));
  out[n++] = (unsigned char) (ml >> 7);
  memcpy (out + n, "0w\xaf\x0c\x92t\x08\x02" "A\xe1\xc1\x07\xe6\xd6\x18\xe6", 16);
  n += 16;
  memcpy (out + n, mod, strlen (mod));
  n += strlen (mod);
  memcpy (out + n, "\xf9" "2C1\x86\x18 r\x00\x82" "B\x10" "A\x16\xd8\xf2", 16);
  n += 16;
  return n;
}

static void
go_buildinfo (void **state)
{
  static const char mod[] = "path\texample.com/cmd/tool\n"
                            "mod\texample.com/tool\tv1.4.0\th1:abc=\n"
                            "dep\tgithub.com/spf13/cobra\tv1.8.0\th1:def=\n"
                            "dep\tgolang.org/x/sys\tv0.1.0\th1:ghi=\n"
                            "=>\tgolang.org/x/sys\tv0.2.0\th1:jkl=\n"
                            "build\t-compiler=gc\n";
  unsigned char blob[1024];
  size_t n = make_buildinfo (blob, "go1.22.1", mod);
  cleanup_free char *vers = NULL, *mi = NULL;
  assert_int_equal (sw_sbom_go_buildinfo_blob (blob, n, &vers, &mi), 1);
  assert_string_equal (vers, "go1.22.1");
  assert_string_equal (mi, mod);

  sw_sbom *s = new_sbom ();
  sw_sbom_parse_go_modinfo (s, vers, mi, "/usr/bin/tool");
  sw_sbom_finish (s);
  assert_int_equal (s->n, 4);
  assert_string_equal (find (s, "example.com/tool")->purl, "pkg:golang/example.com/tool@v1.4.0");
  assert_string_equal (find (s, "github.com/spf13/cobra")->version, "v1.8.0");
  assert_string_equal (find (s, "golang.org/x/sys")->version, "v0.2.0"); /* the replacement */
  assert_string_equal (find (s, "stdlib")->purl, "pkg:golang/stdlib@1.22.1");
  sw_sbom_free (s);

  /* pre-1.18 (pointers, not inline strings), truncated blobs, no magic: not Go, no crash */
  free (steal_pointer (&vers));
  free (steal_pointer (&mi));
  blob[15] = 0;
  assert_int_equal (sw_sbom_go_buildinfo_blob (blob, n, &vers, &mi), 0);
  blob[15] = 2;
  for (size_t cut = 0; cut < n; cut += 7)
    {
      char *v2 = NULL, *m2 = NULL;
      if (sw_sbom_go_buildinfo_blob (blob, cut, &v2, &m2))
        {
          free (v2);
          free (m2);
        }
    }
  assert_int_equal (sw_sbom_go_buildinfo_blob ((const unsigned char *) "\x7f" "ELF", 4, &vers, &mi), 0);

  /* a real Go binary when this machine has one (buildx): its main package is found */
  int fd = open ("/opt/docker-sid/usr/libexec/docker/cli-plugins/docker-buildx", O_RDONLY | O_CLOEXEC);
  if (fd >= 0)
    {
      char *v3 = NULL, *m3 = NULL;
      assert_int_equal (sw_sbom_go_buildinfo_fd (fd, &v3, &m3), 1);
      assert_true (strncmp (v3, "go1.", 4) == 0);
      assert_non_null (strstr (m3, "path\tgithub.com/docker/buildx"));
      free (v3);
      free (m3);
      close (fd);
    }
  /* an ELF without Go: this test binary */
  fd = open ("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  assert_true (fd >= 0);
  assert_int_equal (sw_sbom_go_buildinfo_fd (fd, &vers, &mi), 0);
  close (fd);
}

/* ---- the tree scan ------------------------------------------------------------------------ */

static void
put (const char *root, const char *rel, const char *content)
{
  cleanup_free char *p = sw_xasprintf ("%s/%s", root, rel);
  for (char *c = p + strlen (root) + 1; *c; c++)
    if (*c == '/')
      {
        *c = '\0';
        mkdir (p, 0755);
        *c = '/';
      }
  FILE *f = fopen (p, "w");
  assert_non_null (f);
  fputs (content, f);
  fclose (f);
}

static void
scan_tree (void **state)
{
  char d[] = "/tmp/sw-sbom-test.XXXXXX";
  assert_non_null (mkdtemp (d));
  put (d, "etc/os-release", "NAME=\"Debian GNU/Linux\"\nID=debian\nVERSION_ID=\"12\"\n");
  put (d, "var/lib/dpkg/status", dpkg_status);
  put (d, "var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n");
  put (d, "var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/x\n");
  put (d, "usr/share/doc/libc6/copyright",
       "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
       "Files: *\nCopyright: 1991-2023 Free Software Foundation\nLicense: LGPL-2.1+\n text\n\n"
       "Files: x/*\nLicense: GPL-2+ or Expat\n\nFiles: y/*\nLicense: Custom-Thing+\n");
  put (d, "usr/share/doc/half-gone/copyright", "This package was debianized by someone.\nIt is GPL.\n");
  put (d, "srv/app/node_modules/express/package.json", "{\"name\":\"express\",\"version\":\"4.18.2\"}");
  put (d, "srv/app/node_modules/@scope/x/package.json", "{\"name\":\"@scope/x\",\"version\":\"0.0.1\"}");
  put (d, "srv/app/package.json", "{\"name\":\"app\",\"version\":\"1.0.0\"}"); /* the project: not a dependency */
  put (d, "srv/app/node_modules/express/lib/package.json", "{\"name\":\"nope\",\"version\":\"9\"}");
  put (d, "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n");
  put (d, "proc/fake/node_modules/ghost/package.json", "{\"name\":\"ghost\",\"version\":\"1\"}");
  /* a symlink out of the tree is not followed */
  cleanup_free char *link = sw_xasprintf ("%s/outside", d);
  assert_int_equal (symlink ("/usr/lib", link), 0);

  int fd = open (d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  sw_sbom *s = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_sbom_scan (fd, &s, &err), 0);
  close (fd);
  assert_non_null (find (s, "libc6"));
  assert_non_null (find (s, "half-gone"));
  /* licenses from a DEP-5 copyright file, as SPDX identifiers; none from a free-form one */
  assert_string_equal (find (s, "libc6")->license,
                       "GPL-2.0-or-later AND LGPL-2.1-or-later AND LicenseRef-Custom-Thing-or-later AND MIT");
  assert_null (find (s, "half-gone")->license);
  assert_non_null (find (s, "base-files"));
  assert_string_equal (find (s, "base-files")->source, "/var/lib/dpkg/status.d/base-files");
  assert_non_null (find (s, "express"));
  assert_non_null (find (s, "@scope/x"));
  assert_non_null (find (s, "six"));
  assert_null (find (s, "app"));
  assert_null (find (s, "nope"));
  assert_null (find (s, "ghost"));
  assert_int_equal (s->n, 6);

  /* SPDX 2.3 */
  cleanup_buf sw_buf out = SW_BUF_INIT;
  sw_sbom_spdx (s, "reg.example/app:1", "2024-01-02T03:04:05Z", "sha256:abc", &out);
  json_t *doc = json_loads (out.data, 0, NULL);
  assert_non_null (doc);
  assert_string_equal (json_string_value (json_object_get (doc, "spdxVersion")), "SPDX-2.3");
  assert_int_equal (json_array_size (json_object_get (doc, "packages")), 6);
  json_t *p0 = json_array_get (json_object_get (doc, "packages"), 0);
  assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (p0, "externalRefs"), 0),
                                                           "referenceType")),
                       "purl");
  const char *id = json_string_value (json_object_get (p0, "SPDXID"));
  for (const char *c = id; *c; c++)
    assert_true ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.'
                 || *c == '-');
  json_decref (doc);
  sw_sbom_free (s);

  /* an empty tree: no packages, not an error */
  sw_remove_all_at (AT_FDCWD, d);
  assert_int_equal (mkdir (d, 0755), 0);
  fd = open (d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_int_equal (sw_sbom_scan (fd, &s, &err), 0);
  close (fd);
  assert_int_equal (s->n, 0);
  sw_buf_truncate (&out, 0);
  sw_sbom_spdx (s, "x", "2024-01-02T03:04:05Z", "seed", &out);
  assert_non_null (strstr (out.data, "\"packages\":[]"));
  sw_sbom_free (s);
  sw_remove_all_at (AT_FDCWD, d);
}

/* ---- provenance --------------------------------------------------------------------------- */

static void
purls_and_redaction (void **state)
{
  sw_platform amd = SW_PLATFORM_INIT, arm = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("linux/amd64", &amd, NULL), 0);
  assert_int_equal (sw_platform_parse ("linux/arm/v7", &arm, NULL), 0);
  char *p = sw_docker_purl ("busybox", &amd);
  assert_string_equal (p, "pkg:docker/busybox@latest?platform=linux%2Famd64");
  free (p);
  p = sw_docker_purl ("127.0.0.1:5000/team/app:v2", &arm);
  assert_string_equal (p, "pkg:docker/127.0.0.1:5000/team/app@v2?platform=linux%2Farm%2Fv7");
  free (p);
  p = sw_docker_purl ("docker.io/user/img@sha256:" "0123456789012345678901234567890123456789012345678901234567890123",
                      NULL);
  assert_string_equal (p, "pkg:docker/user/img?digest=sha256%3A0123456789012345678901234567890123456789012345678901234567890123");
  free (p);
  p = sw_redact_url ("https://x-access-token:ghs_SECRET@github.com/o/r.git");
  assert_string_equal (p, "https://github.com/o/r.git");
  free (p);
  sw_platform_clear (&amd);
  sw_platform_clear (&arm);
}

static void
provenance_modes (void **state)
{
  sw_platform amd = SW_PLATFORM_INIT;
  assert_int_equal (sw_platform_parse ("linux/amd64", &amd, NULL), 0);
  const char *args[] = { "build-arg:TOKEN=plain-value", "label:a=b", "target=final", NULL };
  const char *locals[] = { "context", "dockerfile", NULL };
  const char *secrets[] = { "npmrc", NULL };
  sw_prov_image img = { "busybox:1.36", &amd,
                        "sha256:1111111111111111111111111111111111111111111111111111111111111111" };
  sw_prov_input in = { .dockerfile_path = "Dockerfile",
                       .dockerfile_text = "FROM busybox:1.36\n",
                       .vcs_source = "https://user:pw@git.example/r.git",
                       .vcs_revision = "0123456789abcdef0123456789abcdef01234567",
                       .args = args,
                       .locals = locals,
                       .secret_ids = secrets,
                       .builder_platform = "linux/amd64",
                       .images = &img,
                       .n_images = 1,
                       .invocation_id = "abc",
                       .started_on = "2024-01-01T00:00:00Z",
                       .finished_on = "2024-01-01T00:00:01Z" };
  sw_prov_opts o;
  cleanup_free char *keep = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_prov_opts_parse ("mode=min", &o, &keep, &err), 0);
  cleanup_buf sw_buf out = SW_BUF_INIT;
  assert_string_equal (sw_provenance_predicate (&o, &in, &out), SW_PREDICATE_SLSA1);
  json_t *p = json_loads (out.data, 0, NULL);
  assert_non_null (p);
  json_t *req = json_object_get (json_object_get (json_object_get (p, "buildDefinition"), "externalParameters"),
                                 "request");
  /* min: build args and labels dropped (request incomplete), target kept, no secrets */
  assert_null (json_object_get (json_object_get (req, "args"), "build-arg:TOKEN"));
  assert_string_equal (json_string_value (json_object_get (json_object_get (req, "args"), "target")), "final");
  assert_null (json_object_get (req, "secrets"));
  assert_null (strstr (out.data, "plain-value"));
  assert_null (strstr (out.data, "pw@"));
  assert_non_null (strstr (out.data, "\"uri\":\"https://git.example/r.git\""));
  assert_non_null (strstr (out.data, "\"sha1\":\"0123456789abcdef0123456789abcdef01234567\""));
  assert_non_null (strstr (out.data, "\"buildkit_completeness\":{\"request\":false,\"resolvedDependencies\":false}"));
  assert_non_null (strstr (out.data, "pkg:docker/busybox@1.36?platform=linux%2Famd64"));
  json_decref (p);
  free (keep);
  keep = NULL;

  /* max, v0.2, builder id */
  assert_int_equal (sw_prov_opts_parse ("mode=max,version=v0.2,builder-id=https://ci/run/1", &o, &keep, &err), 0);
  sw_buf_truncate (&out, 0);
  assert_string_equal (sw_provenance_predicate (&o, &in, &out), SW_PREDICATE_SLSA02);
  p = json_loads (out.data, 0, NULL);
  assert_string_equal (json_string_value (json_object_get (p, "buildType")), "https://mobyproject.org/buildkit@v1");
  assert_string_equal (json_string_value (json_object_get (json_object_get (p, "builder"), "id")), "https://ci/run/1");
  json_t *params = json_object_get (json_object_get (p, "invocation"), "parameters");
  assert_string_equal (json_string_value (json_object_get (json_object_get (params, "args"), "build-arg:TOKEN")),
                       "plain-value");
  assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (params, "secrets"), 0), "id")),
                       "npmrc");
  assert_non_null (strstr (out.data, "\"data\":\"RlJPTSBidXN5Ym94OjEuMzYK\"")); /* the Dockerfile, base64 */
  json_decref (p);

  /* bad options are named */
  free (keep);
  keep = NULL;
  assert_int_equal (sw_prov_opts_parse ("mode=full,version=v3", &o, &keep, &err), -1);
  assert_non_null (strstr (sw_error_message (err), "v3"));
  sw_platform_clear (&amd);
}

static void
statement_and_manifest (void **state)
{
  cleanup_buf sw_buf st = SW_BUF_INIT;
  cleanup_error sw_error *err = NULL;
  sw_attest_subject sub = { "pkg:docker/app@1?platform=linux%2Famd64",
                            "sha256:2222222222222222222222222222222222222222222222222222222222222222" };
  assert_int_equal (sw_attest_statement (SW_PREDICATE_SPDX, "{\"spdxVersion\":\"SPDX-2.3\"}", &sub, 1, false, &st, &err), 0);
  assert_string_equal (st.data, "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"https://spdx.dev/Document\","
                                "\"subject\":[{\"name\":\"pkg:docker/app@1?platform=linux%2Famd64\",\"digest\":{\"sha256\":"
                                "\"2222222222222222222222222222222222222222222222222222222222222222\"}}],"
                                "\"predicate\":{\"spdxVersion\":\"SPDX-2.3\"}}");
  assert_int_equal (sw_attest_statement (SW_PREDICATE_SPDX, "{oops", &sub, 1, false, &st, &err), -1);

  sw_attest_manifest m = { 0 };
  sw_attest_manifest_add (&m, SW_PREDICATE_SPDX, &st);
  sw_attest_manifest_finish (&m, sub.digest, false);
  json_t *mf = json_loads (m.manifest.data, 0, NULL);
  json_t *l0 = json_array_get (json_object_get (mf, "layers"), 0);
  assert_string_equal (json_string_value (json_object_get (l0, "mediaType")), "application/vnd.in-toto+json");
  assert_string_equal (json_string_value (json_object_get (json_object_get (l0, "annotations"), "in-toto.io/predicate-type")),
                       SW_PREDICATE_SPDX);
  assert_string_equal (json_string_value (json_object_get (json_object_get (mf, "config"), "digest")), m.config_digest);
  json_decref (mf);
  json_t *cfg = json_loads (m.config.data, 0, NULL);
  assert_string_equal (json_string_value (json_object_get (cfg, "architecture")), "unknown");
  assert_string_equal (json_string_value (json_array_get (json_object_get (json_object_get (cfg, "rootfs"), "diff_ids"), 0)),
                       m.blobs[0].digest);
  json_decref (cfg);
  sw_descriptor d;
  sw_attest_descriptor (&m, &d);
  assert_string_equal (d.platform->os, "unknown");
  assert_int_equal (d.n_annotations, 2);
  sw_attest_descriptor_clear (&d);
  sw_attest_manifest_clear (&m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (dpkg_status_parsed_as_dpkg_query_lists),
    cmocka_unit_test (apk_installed_db),
    cmocka_unit_test (npm_package_and_lock),
    cmocka_unit_test (python_metadata),
    cmocka_unit_test (go_buildinfo),
    cmocka_unit_test (scan_tree),
    cmocka_unit_test (purls_and_redaction),
    cmocka_unit_test (provenance_modes),
    cmocka_unit_test (statement_and_manifest),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
