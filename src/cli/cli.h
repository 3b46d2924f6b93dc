/* Subcommands of the bulwark command and what they share. */
#ifndef BULWARK_CLI_H
#define BULWARK_CLI_H

#include <stdbool.h>

#include "bulwark/engine.h"

enum { EXIT_CLEAN = 0, EXIT_FLAGGED = 1, EXIT_ERROR = 2 };

int cmd_scan(int argc, char **argv);
int cmd_html(int argc, char **argv);
int cmd_sanitize(int argc, char **argv);
int cmd_auth_check(int argc, char **argv);

/* The defaults, then /etc/bulwark/bulwark.conf when it exists, or the file
 * given. An explicitly given file that cannot be read is an error (said on
 * standard error; cfg is then freed). */
int cli_load_config(bw_config *cfg, const char *path);

typedef struct bw_progress bw_progress;
/* NULL unless stderr is a terminal. */
bw_progress *bw_progress_start(unsigned long long total_bytes);
void bw_progress_update(bw_progress *p, unsigned long long bytes, unsigned long messages);
void bw_progress_finish(bw_progress *p);

#endif
