/* image/json.h — the one way image/ writes JSON: compact, UTF-8, '/' unescaped, fields in
 * insertion order (callers insert in spec order; maps are inserted sorted by key, as Go's
 * encoding/json writes them).  Same model in, same bytes out. */
#ifndef SW_IMAGE_JSON_H
#define SW_IMAGE_JSON_H

#include <jansson.h>
#include "common/buf.h"

void sw_json_dump (json_t *o, sw_buf *out);
/* An object from parallel key/value arrays, keys sorted (values are stolen). */
json_t *sw_json_sorted_object (const char **keys, json_t **values, size_t n);

#endif
