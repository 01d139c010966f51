/* Unit tests for image/: digests, media types, manifests, indexes, configs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "image/config.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "image/mediatype.h"

#define D1 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define D2 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
digest_validation (void **state)
{
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_digest_validate (D1, NULL), 0);
  assert_int_equal (sw_digest_validate ("sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL), -1);
  assert_int_equal (sw_digest_validate ("sha256:abc", &err), -1);
  assert_non_null (strstr (sw_error_message (err), "64 lowercase hex"));
  assert_int_equal (sw_digest_validate ("md5:abc", NULL), -1);
  assert_int_equal (sw_digest_validate ("", NULL), -1);
  assert_int_equal (sw_digest_validate ("nocolon", NULL), -1);
  assert_string_equal (sw_digest_hex (D1), D1 + 7);
}

static void
sha256_streams (void **state)
{
  char out[SW_DIGEST_BUFSZ];
  sw_sha256 *h = sw_sha256_new ();
  sw_sha256_update (h, "a", 1);
  sw_sha256_update (h, "bc", 2);
  sw_sha256_final (h, out);
  assert_string_equal (out, D1);
  sw_sha256_reset (h);
  sw_sha256_final (h, out);
  assert_string_equal (out, D2);
  sw_sha256_free (h);
  sw_digest_bytes ("abc", 3, out);
  assert_string_equal (out, D1);
}

static void
media_types_classified (void **state)
{
  assert_int_equal (sw_media_type_kind (SW_MT_DOCKER_LIST), SW_KIND_INDEX);
  assert_int_equal (sw_media_type_kind (SW_MT_OCI_INDEX "; charset=utf-8"), SW_KIND_INDEX);
  assert_int_equal (sw_media_type_kind (SW_MT_DOCKER_MANIFEST), SW_KIND_MANIFEST);
  assert_int_equal (sw_media_type_kind (SW_MT_DOCKER_SCHEMA1_SIGNED), SW_KIND_SCHEMA1);
  assert_int_equal (sw_media_type_kind ("text/plain"), SW_KIND_UNKNOWN);
  const char *noType = "{\"schemaVersion\":2,\"manifests\":[]}";
  assert_int_equal (sw_manifest_sniff (noType, strlen (noType), NULL), SW_KIND_INDEX);
  const char *s1 = "{\"schemaVersion\":1,\"fsLayers\":[]}";
  assert_int_equal (sw_manifest_sniff (s1, strlen (s1), "application/json"), SW_KIND_SCHEMA1);
}

static const char manifest_json[]
    = "{\"schemaVersion\":2,\"mediaType\":\"" SW_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"" SW_MT_OCI_CONFIG
      "\",\"digest\":\"" D1 "\",\"size\":3},\"layers\":[{\"mediaType\":\"" SW_MT_OCI_LAYER_GZIP "\",\"digest\":\"" D2
      "\",\"size\":0,\"annotations\":{\"b\":\"2\",\"a\":\"1\"}}]}";

static void
manifest_roundtrip_is_canonical (void **state)
{
  sw_manifest *m = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_manifest_parse (manifest_json, strlen (manifest_json), &m, &err), 0);
  assert_int_equal (m->n_layers, 1);
  assert_string_equal (m->config.digest, D1);
  assert_int_equal (m->layers[0].n_annotations, 2);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  sw_manifest_serialize (m, &b);
  /* annotations come out sorted; otherwise the same bytes */
  assert_non_null (strstr (b.data, "\"annotations\":{\"a\":\"1\",\"b\":\"2\"}"));
  assert_int_equal (strncmp (b.data, "{\"schemaVersion\":2,\"mediaType\":", 31), 0);
  sw_manifest *m2 = NULL;
  assert_int_equal (sw_manifest_parse (b.data, b.len, &m2, NULL), 0);
  cleanup_buf sw_buf b2 = SW_BUF_INIT;
  sw_manifest_serialize (m2, &b2);
  assert_string_equal (b.data, b2.data);
  sw_manifest_free (m);
  sw_manifest_free (m2);
}

static void
manifest_errors_name_the_field (void **state)
{
  sw_manifest *m = NULL;
  cleanup_error sw_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
  const char *bad = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}";
  assert_int_equal (sw_manifest_parse (bad, strlen (bad), &m, &e1), -1);
  assert_non_null (strstr (sw_error_message (e1), "manifest.config.digest"));
  const char *s1 = "{\"schemaVersion\":1}";
  assert_int_equal (sw_manifest_parse (s1, strlen (s1), &m, &e2), -1);
  assert_non_null (strstr (sw_error_message (e2), "schema1"));
  assert_int_equal (sw_manifest_parse ("{", 1, &m, &e3), -1);
  assert_non_null (strstr (sw_error_message (e3), "invalid JSON"));
}

static void
index_with_platforms (void **state)
{
  const char *j = "{\"schemaVersion\":2,\"mediaType\":\"" SW_MT_DOCKER_LIST "\",\"manifests\":["
                  "{\"mediaType\":\"" SW_MT_DOCKER_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
                  "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}";
  sw_index *ix = NULL;
  assert_int_equal (sw_index_parse (j, strlen (j), &ix, NULL), 0);
  assert_int_equal (ix->n_manifests, 1);
  assert_string_equal (ix->manifests[0].platform->architecture, "arm64");
  assert_string_equal (ix->manifests[0].platform->variant, "v8");
  cleanup_buf sw_buf b = SW_BUF_INIT;
  sw_index_serialize (ix, &b);
  assert_string_equal (b.data, j);
  sw_index_free (ix);
}

static void
config_roundtrip_keeps_null_and_empty (void **state)
{
  const char *j = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[],"
                  "\"Labels\":{\"z\":\"1\",\"a\":\"2\"},\"ExposedPorts\":{\"80/tcp\":{}}},"
                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D2 "\"]},"
                  "\"history\":[{\"created_by\":\"x\",\"empty_layer\":true}]}";
  sw_image_config *c = NULL;
  cleanup_error sw_error *err = NULL;
  assert_int_equal (sw_image_config_parse (j, strlen (j), &c, &err), 0);
  assert_null (c->entrypoint);
  assert_non_null (c->cmd);
  assert_null (c->cmd[0]);
  assert_true (c->history[0].empty_layer);
  cleanup_buf sw_buf b = SW_BUF_INIT;
  sw_image_config_serialize (c, &b);
  assert_string_equal (b.data, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"ExposedPorts\":{\"80/tcp\":{}},"
                               "\"Env\":[\"PATH=/bin\"],\"Cmd\":[],\"Labels\":{\"a\":\"2\",\"z\":\"1\"}},"
                               "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D2 "\"]},"
                               "\"history\":[{\"created_by\":\"x\",\"empty_layer\":true}]}");
  sw_image_config_free (c);
  const char *bad = "{\"rootfs\":{\"diff_ids\":[\"sha256:zz\"]}}";
  cleanup_error sw_error *e2 = NULL;
  assert_int_equal (sw_image_config_parse (bad, strlen (bad), &c, &e2), -1);
  assert_non_null (strstr (sw_error_message (e2), "diff_ids[0]"));
}

/* the digests an ADD --checksum may name, against FIPS 180-2's "abc" vectors */
static void
hashers_of_every_checksum_algorithm (void **state)
{
  static const struct
  {
    const char *alg, *want;
  } v[] = {
    { "sha256", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "sha384", "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7" },
    { "sha512", "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
  };
  for (size_t i = 0; i < 3; i++)
    {
      sw_hasher *h = sw_hasher_new (v[i].alg);
      assert_non_null (h);
      sw_hasher_update (h, "a", 1);
      sw_hasher_update (h, "bc", 2);
      char out[SW_DIGEST_MAX_BUFSZ];
      sw_hasher_final (h, out);
      assert_string_equal (out, v[i].want);
      sw_hasher_free (h);
    }
  assert_null (sw_hasher_new ("md5"));
  assert_null (sw_hasher_new (NULL));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (digest_validation),
    cmocka_unit_test (sha256_streams),
    cmocka_unit_test (hashers_of_every_checksum_algorithm),
    cmocka_unit_test (media_types_classified),
    cmocka_unit_test (manifest_roundtrip_is_canonical),
    cmocka_unit_test (manifest_errors_name_the_field),
    cmocka_unit_test (index_with_platforms),
    cmocka_unit_test (config_roundtrip_keeps_null_and_empty),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
