/* cli/gitctx.h — a Git URL as the build context (see gitctx.c). */
#ifndef SW_CLI_GITCTX_H
#define SW_CLI_GITCTX_H

#include <stdbool.h>

/* True when s is a Git URL buildx would fetch rather than a path. */
bool cli_git_is_url (const char *s);
/* Fetch spec's commit into a new temporary directory (*dir_out, for cli_git_cleanup) and
 * give the context directory inside it (*context_out: the subdir when the URL names one).
 * secrets: the build's --secret specs (NULL-terminated, may be NULL), for GIT_AUTH_TOKEN.
 * Reports failures itself; returns 0 or -1. */
int cli_git_fetch (const char *spec, const char *const *secrets, char **dir_out, char **context_out);
/* Remove what cli_git_fetch made. */
void cli_git_cleanup (const char *dir);

#endif
