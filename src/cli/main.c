/* The bulwark command: dispatches to the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define DEFAULT_CONFIG "/etc/bulwark/bulwark.conf"

static void usage(FILE *f)
{
	fputs("usage: bulwark scan [--json] [--config FILE] [--trackers DIR] [--recipient ADDR]\n"
	      "                    [--no-progress] PATH...\n"
	      "       bulwark sanitize [--config FILE] IN [-o OUT]\n"
	      "       bulwark html PATH...\n"
	      "       bulwark --version\n"
	      "\n"
	      "PATH is an RFC 5322 file, an mbox file, a Maildir, a directory (recursive) or -\n"
	      "for standard input. Exit status: 0 clean, 1 suspicious or malicious found,\n"
	      "2 usage error, unreadable input or internal error.\n",
	      f);
}

int cli_load_config(bw_config *cfg, const char *path)
{
	bw_config_default(cfg);
	const char *p = path ? path : DEFAULT_CONFIG;
	if (!path && access(p, F_OK) != 0)
		return 0;
	char *err = NULL;
	if (bw_config_load(cfg, p, &err) < 0) {
		fprintf(stderr, "bulwark: %s\n", err);
		free(err);
		bw_config_free(cfg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_ERROR;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	if (strcmp(cmd, "sanitize") == 0)
		return cmd_sanitize(argc - 1, argv + 1);
	if (strcmp(cmd, "html") == 0)
		return cmd_html(argc - 1, argv + 1);
	if (strcmp(cmd, "auth-check") == 0)
		return cmd_auth_check(argc - 1, argv + 1);
	if (strcmp(cmd, "--version") == 0) {
		puts("bulwark 0.1.0");
		return EXIT_CLEAN;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return EXIT_CLEAN;
	}
	fprintf(stderr, "bulwark: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_ERROR;
}
