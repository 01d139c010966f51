/* image/mediatype.c — see mediatype.h. */
#include <string.h>
#include <jansson.h>

#include "image/mediatype.h"

static bool
is (const char *mt, size_t n, const char *want)
{
  return strlen (want) == n && strncmp (mt, want, n) == 0;
}

sw_manifest_kind
sw_media_type_kind (const char *mt)
{
  if (mt == NULL)
    return SW_KIND_UNKNOWN;
  while (*mt == ' ')
    mt++;
  size_t n = strcspn (mt, "; ");
  if (is (mt, n, SW_MT_OCI_INDEX) || is (mt, n, SW_MT_DOCKER_LIST))
    return SW_KIND_INDEX;
  if (is (mt, n, SW_MT_OCI_MANIFEST) || is (mt, n, SW_MT_DOCKER_MANIFEST))
    return SW_KIND_MANIFEST;
  if (is (mt, n, SW_MT_DOCKER_SCHEMA1) || is (mt, n, SW_MT_DOCKER_SCHEMA1_SIGNED)
      || is (mt, n, "application/json"))
    return n == strlen ("application/json") ? SW_KIND_UNKNOWN : SW_KIND_SCHEMA1;
  return SW_KIND_UNKNOWN;
}

sw_manifest_kind
sw_manifest_sniff (const char *body, size_t len, const char *content_type)
{
  json_t *doc = json_loadb (body, len, 0, NULL);
  sw_manifest_kind k = SW_KIND_UNKNOWN;
  if (json_is_object (doc))
    {
      k = sw_media_type_kind (json_string_value (json_object_get (doc, "mediaType")));
      if (k == SW_KIND_UNKNOWN)
        k = sw_media_type_kind (content_type);
      if (k == SW_KIND_UNKNOWN)
        {
          json_int_t v = json_integer_value (json_object_get (doc, "schemaVersion"));
          if (v == 1)
            k = SW_KIND_SCHEMA1;
          else if (json_is_array (json_object_get (doc, "manifests")))
            k = SW_KIND_INDEX;
          else if (json_is_object (json_object_get (doc, "config")))
            k = SW_KIND_MANIFEST;
        }
    }
  json_decref (doc);
  return k;
}
