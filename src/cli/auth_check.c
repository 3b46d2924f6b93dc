/* bulwark auth-check (not in the usage text: a test and diagnosis tool): the
 * live SPF/DKIM/DMARC check the milter runs, on one message from a file,
 * printing the Authentication-Results value it produces. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/auth.h"
#include "bulwark/mail.h"
#include "cli/cli.h"

typedef struct check_run {
	bw_auth *auth;
	const char *ip, *helo, *mail_from;
	unsigned count;
} check_run;

static void check_message(const char *source, const char *data, size_t len, void *arg)
{
	check_run *run = arg;
	/* in the pieces an MTA sends a milter (Postfix: 65,535 bytes), cut
	 * anywhere, so that the tests exercise the milter's chunked path */
	bw_auth_message *m = bw_auth_begin(run->auth);
	for (size_t at = 0; at < len; at += 65535)
		bw_auth_feed(m, data + at, len - at < 65535 ? len - at : 65535);
	char *ar = bw_auth_finish(run->auth, m, run->ip, run->helo, run->mail_from);
	printf("%s\t%s\n", source, ar);
	free(ar);
	run->count++;
}

static void on_error(const char *path, const char *why, void *arg)
{
	fprintf(stderr, "bulwark auth-check: %s: %s\n", path, why);
}

int cmd_auth_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"client-ip", required_argument, NULL, 'i'}, {"helo", required_argument, NULL, 'h'},
		{"mail-from", required_argument, NULL, 'f'}, {"resolver", required_argument, NULL, 'r'},
		{"timeout-ms", required_argument, NULL, 't'}, {"authserv-id", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0}};
	check_run run = {0};
	bw_auth_config cfg = {.authserv_id = "bulwark.invalid"};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i': run.ip = optarg; break;
		case 'h': run.helo = optarg; break;
		case 'f': run.mail_from = optarg; break;
		case 'r': cfg.resolver = optarg; break;
		case 't': cfg.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'a': cfg.authserv_id = optarg; break;
		default:
			fputs("usage: bulwark auth-check [--client-ip IP] [--helo NAME] [--mail-from ADDR]\n"
			      "                          [--resolver IP[:PORT]] [--timeout-ms N] [--authserv-id ID] PATH...\n",
			      stderr);
			return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		fputs("bulwark auth-check: no message given\n", stderr);
		return EXIT_ERROR;
	}
	char *err = NULL;
	run.auth = bw_auth_new(&cfg, &err);
	if (!run.auth) {
		fprintf(stderr, "bulwark auth-check: %s\n", err);
		free(err);
		return EXIT_ERROR;
	}
	bw_limits lim;
	bw_limits_default(&lim);
	unsigned bad = bw_mail_read_paths(argv + optind, (size_t)(argc - optind), &lim, check_message, on_error, &run);
	bw_auth_free(run.auth);
	return bad ? EXIT_ERROR : EXIT_CLEAN;
}
