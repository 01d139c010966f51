/* image/config.h — the image configuration ("application/vnd.oci.image.config.v1+json",
 * the same document Docker calls container.image.v1+json).
 *
 * Guarantees: parse keeps every field the build engine reads or writes (with absent and
 * empty kept apart: Cmd null is not Cmd []); serialize is canonical and deterministic —
 * compact, fields in the OCI spec's order, map keys (Labels, ExposedPorts, Volumes) sorted
 * as Go writes them — so the config digest (the image ID) depends only on the model.
 * Fields slipway does not model (e.g. Docker's "container_config") are dropped.
 */
#ifndef SW_IMAGE_CONFIG_H
#define SW_IMAGE_CONFIG_H

#include <stdbool.h>
#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h" /* the config's lists are sw_strlist arrays */
#include "image/manifest.h"

typedef struct sw_history
{
  char *created;
  char *created_by;
  char *author;
  char *comment;
  bool empty_layer;
} sw_history;

/* String lists are NULL-terminated arrays; a NULL list means "absent". */
typedef struct sw_image_config
{
  char *created;
  char *author;
  char *architecture;
  char *os;
  char *os_version;
  char *variant;

  char *user;
  char **exposed_ports; /* "80/tcp" … (a set) */
  char **env;           /* "K=V", in order */
  char **entrypoint;
  char **cmd;
  char **volumes;       /* a set */
  char *working_dir;
  sw_kv *labels;
  size_t n_labels;
  char *stop_signal;
  bool args_escaped;
  char **shell;
  char **on_build;
  char *healthcheck_json; /* Docker's Healthcheck object, kept as compact JSON */

  char **diff_ids;
  sw_history *history;
  size_t n_history;
} sw_image_config;

int sw_image_config_parse (const char *body, size_t len, sw_image_config **out, sw_error **err);
void sw_image_config_serialize (const sw_image_config *c, sw_buf *out);
sw_image_config *sw_image_config_new (void);
void sw_image_config_free (sw_image_config *c);

#endif
