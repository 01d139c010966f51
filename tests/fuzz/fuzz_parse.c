/* fuzz_parse — arbitrary bytes through the Dockerfile parser, the dump, the instruction
 * check and the located-error helpers.  Nothing may crash, leak or hang. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "dockerfile/ast.h"
#include "dockerfile/location.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
walk (const sw_dockerfile *df, const sw_df_node *n)
{
  int line, col;
  char *d = sw_df_node_dump (n);
  free (d);
  sw_df_locate (df, n, "--", &line, &col);
  for (size_t i = 0; i < n->n_heredocs; i++)
    free (sw_df_heredoc_chomp (n->heredocs[i].content));
  if (n->next != NULL)
    for (size_t i = 0; i < n->next->n_children; i++)
      walk (df, n->next->children[i]);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  sw_dockerfile *df = NULL;
  sw_error *err = NULL;

  if (sw_dockerfile_parse ((const char *) data, size, "Dockerfile", &df, &err) < 0)
    {
      if (err == NULL || sw_error_message (err) == NULL)
        abort (); /* a failure must say why */
      sw_error_free (err);
      return 0;
    }
  char *dump = sw_dockerfile_dump (df);
  free (dump);
  for (size_t i = 0; i < df->ast->n_children; i++)
    {
      const sw_df_node *n = df->ast->children[i];
      walk (df, n);
      sw_df_error_node (&err, df, n, "x");
      sw_error_free (err);
      err = NULL;
      free (sw_df_suggest_instruction (n->value));
    }
  if (sw_df_check_instructions (df, &err) < 0)
    sw_error_free (err);
  sw_dockerfile_free (df);
  return 0;
}
