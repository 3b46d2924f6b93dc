/* Data the milter's sandboxed workers use after lock-down: an intel
 * database (opened immutable in the load phase) gives INTEL_MATCH inside a
 * worker, and the sender history, owned by the daemon, gives FIRST_CONTACT
 * for the first message of a sender to a recipient only, with the same
 * report as an in-process scan and the sightings on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/intel.h"
#include "bulwark/report.h"
#include "milter/pool.h"

static char dir[256];

static const char *run_as(void)
{
	return geteuid() == 0 ? "nobody" : NULL;
}

static char *path_in_dir(const char *name)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static bw_pool *pool_with_config(const char *config_text, char **config)
{
	*config = path_in_dir("bulwark.conf");
	write_text(*config, config_text);
	char *err = NULL;
	bw_pool *p = bw_pool_new(*config, 1, 20000, run_as(), &err);
	if (!p)
		fail_msg("bw_pool_new: %s", err);
	return p;
}

static bool has_finding(const char *list, const char *id)
{
	size_t n = strlen(id);
	for (const char *s = list; s && (s = strstr(s, id)); s += n)
		if ((s == list || s[-1] == ',') && (s[n] == ',' || s[n] == '\0'))
			return true;
	return false;
}

static void test_intel_match_inside_a_worker(void **state)
{
	(void)state;
	char *csv = path_in_dir("iocs.csv"), *db = path_in_dir("intel.db");
	write_text(csv, "type,value\ndomain,reuters-news-desk.example\n");
	char *err = NULL;
	bw_intel *in = bw_intel_open(db, true, &err);
	assert_non_null(in);
	bw_intel_summary sum = {0};
	if (bw_intel_import(in, csv, "test-feed", NULL, &sum, &err) < 0)
		fail_msg("import: %s", err);
	assert_int_equal(sum.indicators, 1);
	bw_intel_summary_free(&sum);
	assert_int_equal(bw_intel_build_index(in, &err), 0);
	bw_intel_close(in);

	char conf[1024], *config;
	snprintf(conf, sizeof conf, "[intel]\ndb = %s\n", db);
	bw_pool *p = pool_with_config(conf, &config);
	pid_t before, after;
	assert_int_equal(bw_pool_worker_pids(p, &before, 1), 1);
	char *sample = NULL;
	size_t len = 0;
	char path[512];
	snprintf(path, sizeof path, "%s/samples/news-impersonation.eml", BW_SOURCE_DIR);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(getdelim(&sample, &len, '\0', f) > 0, 1);
	fclose(f);
	for (int round = 0; round < 2; round++) {
		bw_pool_job job = {.raw = sample, .len = strlen(sample)};
		bw_pool_result r;
		assert_int_equal(bw_pool_scan(p, &job, &r), 0);
		if (!r.ok)
			fail_msg("scan: %s", r.error);
		if (!has_finding(r.findings, "INTEL_MATCH"))
			fail_msg("no INTEL_MATCH in %s", r.findings);
		assert_non_null(strstr(r.report_json, "test-feed"));
		bw_pool_result_free(&r);
	}
	/* the lookups neither killed the worker nor needed a new one */
	assert_int_equal(bw_pool_worker_pids(p, &after, 1), 1);
	assert_int_equal(before, after);
	bw_pool_free(p);
	free(sample);
	unlink(config);
	unlink(csv);
	unlink(db);
	char *idx = path_in_dir("intel.db.idx");
	unlink(idx);
	free(idx);
	free(config);
	free(csv);
	free(db);
}

static const char first_message[] =
	"From: Alice Example <Alice@Sender.example>\r\nTo: bob@rcpt.example\r\n"
	"Subject: hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <one@sender.example>\r\n"
	"\r\nFirst message.\r\n";
static const char second_message[] =
	"From: Alice Example <alice@sender.example>\r\nTo: bob@rcpt.example\r\n"
	"Subject: again\r\nDate: Tue, 2 Jan 2024 10:00:00 +0000\r\nMessage-ID: <two@sender.example>\r\n"
	"\r\nSecond message.\r\n";
static const char third_message[] =
	"From: Alice Example <alice@sender.example>\r\nTo: bob@rcpt.example\r\n"
	"Subject: once more\r\nDate: Wed, 3 Jan 2024 10:00:00 +0000\r\nMessage-ID: <three@sender.example>\r\n"
	"\r\nThird message.\r\n";

static int64_t count_rows(const char *db, const char *sql)
{
	sqlite3 *h;
	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* The report of an in-process scan with its own, fresh history store. */
static char *in_process_report(const char *db, const char *raw)
{
	bw_config cfg;
	bw_config_default(&cfg);
	cfg.history_db = strdup(db);
	bw_strvec warnings = {0};
	bw_engine *e = bw_engine_new(&cfg, &warnings);
	bw_strvec_free(&warnings);
	assert_non_null(e->history);
	bw_message m = {0};
	bw_engine_scan(e, &m, "milter", raw, strlen(raw));
	bw_buf report = {0};
	bw_report_json(&report, &m);
	bw_message_free(&m);
	bw_engine_free(e);
	return bw_buf_steal(&report);
}

static void test_first_contact_through_the_daemon(void **state)
{
	(void)state;
	char *db = path_in_dir("history.db"), *local_db = path_in_dir("local-history.db");
	char conf[1024], *config;
	snprintf(conf, sizeof conf, "[history]\ndb = %s\n", db);
	bw_pool *p = pool_with_config(conf, &config);
	const char *rcpt[] = {"bob@rcpt.example"};
	const char *messages[] = {first_message, second_message};
	for (int i = 0; i < 2; i++) {
		bw_pool_job job = {.raw = messages[i], .len = strlen(messages[i]), .recipients = rcpt,
				   .nrecipients = 1};
		bw_pool_result r;
		assert_int_equal(bw_pool_scan(p, &job, &r), 0);
		if (!r.ok)
			fail_msg("scan %d: %s", i, r.error);
		assert_int_equal(has_finding(r.findings, "FIRST_CONTACT"), i == 0);
		/* committed at once: on disk before the next message */
		assert_int_equal(count_rows(db, "SELECT count(*) FROM sightings"), i + 1);
		if (i == 0) {
			/* the same finding, evidence, score and verdict as bulwark scan */
			char *local = in_process_report(local_db, messages[i]);
			assert_non_null(strstr(local, "FIRST_CONTACT"));
			assert_string_equal(r.report_json, local);
			free(local);
		}
		bw_pool_result_free(&r);
	}
	assert_int_equal(count_rows(db, "SELECT count FROM contacts WHERE sender='alice@sender.example' "
				    "AND recipient='bob@rcpt.example'"), 2);

	/* every envelope recipient counts, not only the first: carol is only
	 * in the envelope (a Bcc), and new */
	const char *both[] = {"bob@rcpt.example", "Carol@Rcpt.example"};
	bw_pool_job job = {.raw = third_message, .len = strlen(third_message), .recipients = both, .nrecipients = 2};
	bw_pool_result r;
	assert_int_equal(bw_pool_scan(p, &job, &r), 0);
	if (!r.ok)
		fail_msg("scan 3: %s", r.error);
	assert_true(has_finding(r.findings, "FIRST_CONTACT"));
	assert_non_null(strstr(r.report_json, "First message from alice@sender.example to carol@rcpt.example"));
	bw_pool_result_free(&r);
	assert_int_equal(count_rows(db, "SELECT count FROM contacts WHERE sender='alice@sender.example' "
				    "AND recipient='carol@rcpt.example'"), 1);
	assert_int_equal(count_rows(db, "SELECT count FROM contacts WHERE sender='alice@sender.example' "
				    "AND recipient='bob@rcpt.example'"), 3);
	bw_pool_free(p);
	const char *suffix[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		char name[600];
		snprintf(name, sizeof name, "%s%s", db, suffix[i]);
		unlink(name);
		snprintf(name, sizeof name, "%s%s", local_db, suffix[i]);
		unlink(name);
	}
	unlink(config);
	free(config);
	free(db);
	free(local_db);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/bulwark-test-pool-data-%d", (int)getpid());
	if (mkdir(dir, 0755) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intel_match_inside_a_worker),
		cmocka_unit_test(test_first_contact_through_the_daemon),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
