/* cli/cli.h — the slipway command.  Uses only include/slipway.h, and the debug helpers
 * of include/slipway-debug.h (not installed, not exported by libslipway.so). */
#ifndef SW_CLI_H
#define SW_CLI_H

#include "slipway.h"
#include "slipway-debug.h"

/* Library messages outside a build (imagetools, login, debug, prune) go to the process-wide
 * log callback; the library itself prints nothing.  Part of libslipway's public API
 * (common/log.c); declared here until include/slipway.h carries it. */
/* Each subcommand: argv[0] is the subcommand's name; returns the process exit status. */
int cli_build (int argc, char **argv);
int cli_version (int argc, char **argv);
int cli_debug (int argc, char **argv);
int cli_imagetools (int argc, char **argv);
int cli_login (int argc, char **argv);
int cli_logout (int argc, char **argv);
int cli_debug_run (int argc, char **argv);
int cli_prune (int argc, char **argv);
/* The `docker buildx` face (cli/buildx.c): argv[0] "buildx"; and main() when run as docker-buildx. */
int cli_buildx (int argc, char **argv);
int cli_buildx_plugin (int argc, char **argv);
int cli_bake (int argc, char **argv);
int cli_publish (int argc, char **argv);

/* "slipway: MESSAGE" on stderr. */
void cli_fail (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Report err (and free it); returns the exit status for a failed command. */
int cli_report (sw_error *err);
/* True when argv holds -h or --help before any "--". */
int cli_wants_help (int argc, char **argv);

#endif
