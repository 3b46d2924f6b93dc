/* bulwark sanitize: writes a copy of one message that reveals nothing when
 * opened. The output is written to a temporary file and renamed, so a failed
 * run never leaves a half-written message behind. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/mail.h"
#include "cli/cli.h"

typedef struct sanitize_run {
	const bw_limits *lim;
	unsigned count;
	char *out;      /* the sanitized first message */
	size_t out_len;
	char *error;
} sanitize_run;

/* Sanitizes the first message while its bytes are still mapped, so that a
 * large message is not held twice. */
static void take_message(const char *source, const char *data, size_t len, void *arg)
{
	sanitize_run *run = arg;
	if (run->count++ == 0) {
		bw_sanitize_stats stats;
		run->out = bw_mail_sanitize(data, len, run->lim, &stats, &run->out_len, &run->error);
	}
}

static void on_error(const char *path, const char *why, void *arg)
{
	fprintf(stderr, "bulwark sanitize: %s: %s\n", path, why);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_output(const char *path, const char *data, size_t len)
{
	if (!path || strcmp(path, "-") == 0)
		return write_all(STDOUT_FILENO, data, len);
	bw_buf tmp = {0};
	bw_buf_printf(&tmp, "%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp.data);
	int rc = -1;
	if (fd >= 0) {
		rc = write_all(fd, data, len);
		if (close(fd) < 0)
			rc = -1;
		if (rc == 0)
			rc = rename(tmp.data, path);
		if (rc != 0)
			unlink(tmp.data);
	}
	bw_buf_free(&tmp);
	return rc;
}

int cmd_sanitize(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *out = NULL, *config = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "o:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'c': config = optarg; break;
		case 'h': puts("usage: bulwark sanitize [--config FILE] IN [-o OUT]"); return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	if (argc - optind != 1) {
		fputs("usage: bulwark sanitize [--config FILE] IN [-o OUT]\n", stderr);
		return EXIT_ERROR;
	}
	bw_config cfg;
	if (cli_load_config(&cfg, config) < 0)
		return EXIT_ERROR;
	sanitize_run run = {.lim = &cfg.limits};
	bw_mail_init();
	/* The input is read whole: sanitizing must not cut a message short. */
	cfg.limits.max_message_bytes = (size_t)-1 / 2;
	unsigned failures = bw_mail_read_paths(argv + optind, 1, &cfg.limits, take_message, on_error, &run);
	int rc = EXIT_ERROR;
	if (failures) {
		/* on_error said why */
	} else if (run.count != 1) {
		fprintf(stderr, "bulwark sanitize: %s holds %u messages; give one message\n", argv[optind],
			run.count);
	} else if (!run.out) {
		fprintf(stderr, "bulwark sanitize: %s: %s\n", argv[optind], run.error);
	} else if (write_output(out, run.out, run.out_len) < 0) {
		fprintf(stderr, "bulwark sanitize: %s: %s\n", out, strerror(errno));
	} else {
		rc = EXIT_CLEAN;
	}
	free(run.out);
	free(run.error);
	bw_config_free(&cfg);
	return rc;
}
