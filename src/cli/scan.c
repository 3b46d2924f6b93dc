/* bulwark scan: runs the pipeline over every message found under the given
 * paths and prints one report per message, in input order. Also bulwark
 * html, which prints the decoded HTML parts the scan looked at, so that a
 * browser can be shown exactly the same bytes (tests/browser). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/mail.h"
#include "bulwark/report.h"
#include "bulwark/store.h"
#include "cli/cli.h"

typedef struct scan_run {
	bw_engine *engine;
	bool json;
	bool color;
	bool flagged;
	bw_buf out;
	bw_progress *progress;
	unsigned long long bytes;
	unsigned long messages;
	bw_store *store;         /* --store or [store] db, else NULL */
	unsigned long stored, store_errors;
} scan_run;

static void store_message(scan_run *r, const bw_message *m)
{
	char *err = NULL;
	int rc = bw_store_add(r->store, m, &r->engine->cfg, &err);
	if (rc < 0) {
		fprintf(stderr, "bulwark: %s: %s\n", m->source, err);
		free(err);
		r->store_errors++;
	}
	r->stored += rc > 0;
	/* commit now and then, so that an interrupted scan keeps what it did */
	if ((r->messages + 1) % 1000 == 0) {
		bw_store_commit(r->store);
		bw_store_begin(r->store);
	}
}

static void on_message(const char *source, const char *data, size_t len, void *arg)
{
	scan_run *r = arg;
	bw_message m = {0};
	bw_engine_scan(r->engine, &m, source, data, len);
	if (m.verdict != BW_CLEAN)
		r->flagged = true;
	bw_buf_reset(&r->out);
	if (r->json) {
		bw_report_json(&r->out, &m);
		bw_buf_putc(&r->out, '\n');
	} else {
		bw_report_text(&r->out, &m, r->color);
	}
	fwrite(r->out.data, 1, r->out.len, stdout);
	if (r->store)
		store_message(r, &m);
	bw_message_free(&m);
	r->bytes += len;
	r->messages++;
	bw_progress_update(r->progress, r->bytes, r->messages);
}

static void on_error(const char *path, const char *why, void *arg)
{
	fprintf(stderr, "bulwark: %s: %s\n", path, why);
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"config", required_argument, NULL, 'c'},
		{"trackers", required_argument, NULL, 't'},
		{"recipient", required_argument, NULL, 'r'},
		{"no-progress", no_argument, NULL, 'P'},
		{"history", required_argument, NULL, 'H'},
		{"db", required_argument, NULL, 'd'},
		{"store", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool json = false, progress = true;
	const char *config = NULL, *trackers = NULL, *recipient = NULL, *history = NULL, *db = NULL,
		   *store = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "jc:t:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'c': config = optarg; break;
		case 't': trackers = optarg; break;
		case 'r': recipient = optarg; break;
		case 'P': progress = false; break;
		case 'H': history = optarg; break;
		case 'd': db = optarg; break;
		case 's': store = optarg; break;
		case 'h':
			puts("usage: bulwark scan [--json] [--config FILE] [--trackers DIR] "
			     "[--recipient ADDR] [--history DB] [--db DB] [--store DB] [--no-progress] PATH...");
			return EXIT_CLEAN;
		default: return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		fputs("bulwark scan: no PATH given (use - for standard input)\n", stderr);
		return EXIT_ERROR;
	}
	bw_config cfg;
	if (cli_load_config(&cfg, config) < 0)
		return EXIT_ERROR;
	if (!trackers)
		trackers = getenv("BULWARK_TRACKER_LISTS");
	if (trackers) {
		free(cfg.tracker_dir);
		cfg.tracker_dir = bw_xstrdup(trackers);
	}
	if (recipient)
		cfg.recipient = bw_xstrdup(recipient);
	if (history) {
		free(cfg.history_db);
		cfg.history_db = bw_xstrdup(history);
	}
	if (db) {
		free(cfg.intel_db);
		cfg.intel_db = bw_xstrdup(db);
	}

	bw_strvec errors = {0};
	scan_run run = {.json = json, .color = !json && isatty(STDOUT_FILENO)};
	run.engine = bw_engine_new(&cfg, &errors);
	for (size_t i = 0; i < errors.n; i++)
		fprintf(stderr, "bulwark: %s\n", errors.v[i]);
	bool tracker_failure = (run.engine->cfg.tracker_dir && !run.engine->trackers) ||
			       (run.engine->cfg.history_db && !run.engine->history) ||
			       (run.engine->cfg.intel_db && !run.engine->intel);
	bw_strvec_free(&errors);
	if (tracker_failure) {
		bw_engine_free(run.engine);
		return EXIT_ERROR;
	}
	if (!run.engine->trackers && !json)
		fputs("bulwark: no tracker lists configured (--trackers DIR); known-tracker detection is off\n",
		      stderr);

	if (!store)
		store = run.engine->cfg.store_db;
	if (store) {
		char *err = NULL;
		run.store = bw_store_open(store, &err);
		if (!run.store) {
			fprintf(stderr, "bulwark: %s\n", err);
			free(err);
			bw_engine_free(run.engine);
			return EXIT_ERROR;
		}
		bw_store_begin(run.store);
	}

	static char outbuf[1 << 16];
	setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	char *const *paths = argv + optind;
	size_t npaths = (size_t)(argc - optind);
	if (progress && isatty(STDERR_FILENO))
		run.progress = bw_progress_start(bw_mail_total_bytes(paths, npaths));
	unsigned failures = bw_mail_read_paths(paths, npaths, &run.engine->cfg.limits, on_message,
					       on_error, &run);
	bw_progress_finish(run.progress);
	fflush(stdout);
	if (run.store) {
		if (bw_store_commit(run.store) < 0)
			run.store_errors++;
		bw_store_close(run.store);
		if (!json)
			fprintf(stderr, "bulwark: %lu new messages stored in %s\n", run.stored, store);
	}
	bw_buf_free(&run.out);
	bw_engine_free(run.engine);
	if (failures || run.store_errors)
		return EXIT_ERROR;
	return run.flagged ? EXIT_FLAGGED : EXIT_CLEAN;
}

typedef struct html_run {
	bw_limits lim;
	bw_buf out;
} html_run;

static void on_message_html(const char *source, const char *data, size_t len, void *arg)
{
	html_run *r = arg;
	bw_message m = {0};
	bw_mail_parse(&m, source, data, len, NULL, &r->lim);
	bw_buf_reset(&r->out);
	bw_buf_puts(&r->out, "{\"source\":");
	bw_json_string(&r->out, source);
	bw_buf_puts(&r->out, ",\"parts\":[");
	bool first = true;
	for (size_t i = 0; i < m.nparts; i++) {
		if (m.parts[i].kind != BW_PART_HTML)
			continue;
		if (!first)
			bw_buf_putc(&r->out, ',');
		first = false;
		bw_json_string(&r->out, m.parts[i].data);
	}
	bw_buf_puts(&r->out, "]}\n");
	fwrite(r->out.data, 1, r->out.len, stdout);
	bw_message_free(&m);
}

int cmd_html(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: bulwark html PATH...\n", stderr);
		return EXIT_ERROR;
	}
	bw_mail_init();
	html_run run = {0};
	bw_limits_default(&run.lim);
	unsigned failures = bw_mail_read_paths(argv + 1, (size_t)(argc - 1), &run.lim, on_message_html,
					       on_error, &run);
	bw_buf_free(&run.out);
	return failures ? EXIT_ERROR : EXIT_CLEAN;
}
