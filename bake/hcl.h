/* bake/hcl.h — the HCL that bake files are written in: parse, then evaluate.
 *
 * The subset bake files use: blocks (`target "name" { … }`, `group`, `variable`),
 * attributes, top-level attributes (which act as variables, as buildx treats them),
 * strings with `${…}` interpolation (`$${` is a literal `${`), heredocs (`<<EOT`,
 * `<<-EOT`), numbers, bools, null, lists, objects/maps, references to variables with
 * `.attr` and `[index]`, the operators (! - * / % + - < <= > >= == != && || ?:), and
 * the functions people call in bake files (see the table in hcl.c).  A JSON bake file is
 * read as HCL's JSON syntax: the same blocks, strings are templates.
 *
 * Evaluation: variables are evaluated when first used (a cycle is an error); a variable's
 * value comes from the environment when it is set there (converted to the type of its
 * default: bool or number), else from its default (none: ""); later files override
 * earlier ones.  Values are jansson values: string, integer/real, true/false, null,
 * array, object.  Errors name the file, line and column.
 */
#ifndef SW_BAKE_HCL_H
#define SW_BAKE_HCL_H

#include <jansson.h>
#include <stddef.h>
#include "common/error.h"

typedef struct sw_hcl_file sw_hcl_file;

int sw_hcl_parse (const char *text, size_t len, const char *name, sw_hcl_file **out, sw_error **err);
int sw_hcl_parse_json (const char *text, size_t len, const char *name, sw_hcl_file **out, sw_error **err);
void sw_hcl_file_free (sw_hcl_file *f);

/* One evaluated block: its type ("target", "group"), its label, its attributes. */
typedef struct sw_hcl_block
{
  char *type;
  char *name;
  json_t *attrs; /* object, attributes in file order */
  char *where;   /* "docker-bake.hcl:12" */
} sw_hcl_block;

/* Evaluate every block but variables over the files (in order).  lookup returns the
 * environment's value of a variable (NULL: unset). */
typedef const char *(*sw_hcl_lookup_fn) (void *ud, const char *name);
int sw_hcl_eval (sw_hcl_file *const *files, size_t n_files, sw_hcl_lookup_fn lookup, void *ud, sw_hcl_block **out,
                 size_t *n_out, sw_error **err);
void sw_hcl_blocks_free (sw_hcl_block *b, size_t n);

/* A value as a template interpolates it ("4", "true"); NULL for null, lists, objects. */
char *sw_hcl_value_string (const json_t *v);

#endif
