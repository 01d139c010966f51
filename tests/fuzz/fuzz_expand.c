/* libFuzzer target for dockerfile/expand.
 *
 * Input: one byte of options (escape character and the four lexer flags), then the word,
 * then NUL-separated "KEY=VALUE" entries that make the environment.  Both entry points
 * run on every input and must agree on success or failure; ASan/UBSan watch the rest. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "dockerfile/expand.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  sw_expand_opts o = {
    .escape = (data[0] & 1) ? '`' : '\\',
    .raw_quotes = data[0] & 2,
    .raw_escapes = data[0] & 4,
    .skip_process_quotes = data[0] & 8,
    .skip_unset_env = data[0] & 16,
  };
  char *buf = sw_xmalloc (size);
  memcpy (buf, data + 1, size - 1);
  buf[size - 1] = '\0';

  size_t nenv = 0;
  char **env = sw_xcalloc (size + 1, sizeof *env);
  for (size_t i = 0; i + 1 < size; i++)
    if (buf[i] == '\0' && i + 1 < size - 1)
      env[nenv++] = buf + i + 1;
  env[nenv] = NULL;

  char *out = NULL, **words = NULL;
  size_t n = 0;
  sw_error *e1 = NULL, *e2 = NULL;
  bool no_err = data[0] & 32; /* callers may pass err == NULL */
  int r1 = sw_expand_word (buf, &o, sw_expand_lookup_envv, env, &out, no_err ? NULL : &e1);
  int r2 = sw_expand_words (buf, &o, sw_expand_lookup_envv, env, &words, &n, &e2);
  if (r1 != r2)
    abort ();
  if (r2 == 0 && words[n] != NULL)
    abort ();
  free (out);
  sw_expand_words_free (words);
  sw_error_free (e1);
  sw_error_free (e2);
  free (env);
  free (buf);
  return 0;
}
