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
	      "                    [--history DB] [--db DB] [--no-progress] PATH...\n"
	      "       bulwark sanitize [--config FILE] IN [-o OUT]\n"
	      "       bulwark html PATH...\n"
	      "       bulwark intel import|stats|lookup [--db DB] ... (bulwark intel --help)\n"
	      "       bulwark scan --store DB ... (also records what was scanned)\n"
	      "       bulwark campaigns [--store DB] [--json] [--config FILE]\n"
	      "       bulwark attribute CAMPAIGN [--store DB] [--db INTEL_DB] [--json]\n"
	      "       bulwark export --stix [--store DB] [--config FILE] (CAMPAIGN | --since DATE)\n"
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
	bw_malloc_tune();
	if (strcmp(cmd, "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	if (strcmp(cmd, "sanitize") == 0)
		return cmd_sanitize(argc - 1, argv + 1);
	if (strcmp(cmd, "html") == 0)
		return cmd_html(argc - 1, argv + 1);
	if (strcmp(cmd, "auth-check") == 0)
		return cmd_auth_check(argc - 1, argv + 1);
	if (strcmp(cmd, "intel") == 0)
		return cmd_intel(argc - 1, argv + 1);
	if (strcmp(cmd, "campaigns") == 0)
		return cmd_campaigns(argc - 1, argv + 1);
	if (strcmp(cmd, "attribute") == 0)
		return cmd_attribute(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
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
