/* Unit tests for the sender-history store (src/intel/history.c) and the
 * FIRST_CONTACT detector (src/detect/first_contact.c): answers depend on
 * which messages were seen and when, not on scan order or re-scans; the
 * parse stage collects every recipient and the Date. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/history.h"
#include "bulwark/mail.h"
#include "helpers.h"

static bw_contact see(bw_history *h, const char *key, const char *sender, const char *recipient, int64_t t)
{
	const char *dom = strrchr(sender, '@') + 1;
	bw_sighting s = {.msg_key = key, .sender = sender, .sender_domain = dom, .recipient = recipient, .sent = t};
	bw_contact c;
	char *err = NULL;
	if (bw_history_record(h, &s, &c, &err) < 0)
		fail_msg("%s", err);
	return c;
}

static void test_store_is_order_independent(void **state)
{
	char *path = test_temp_db("bw-test-history");
	char *err = NULL;
	bw_history *h = bw_history_open(path, &err);
	assert_non_null(h);

	bw_contact c = see(h, "m1", "a@news.example", "r@parl.example", 1000);
	assert_false(c.known);
	assert_false(c.domain_known);
	assert_int_equal(c.count, 1);
	c = see(h, "m2", "a@news.example", "r@parl.example", 2000);
	assert_true(c.known);
	assert_int_equal(c.sender_messages, 1);
	assert_int_equal(c.first_seen, 1000);
	assert_int_equal(c.last_seen, 2000);
	/* a re-scan: a message is not its own prior contact, and counts stay */
	c = see(h, "m1", "a@news.example", "r@parl.example", 999999);
	assert_false(c.known);
	assert_int_equal(c.sent, 1000);
	assert_int_equal(c.count, 2);
	/* another recipient is another pair */
	assert_false(see(h, "m2", "a@news.example", "s@parl.example", 2000).known);
	/* an older message scanned later becomes the first contact */
	assert_false(see(h, "m0", "a@news.example", "r@parl.example", 500).known);
	assert_true(see(h, "m1", "a@news.example", "r@parl.example", 1000).known);
	/* same time: the key decides, so each answer is still stable */
	assert_false(see(h, "k1", "z@t.example", "r@parl.example", 3000).known);
	assert_true(see(h, "k2", "z@t.example", "r@parl.example", 3000).known);
	assert_false(see(h, "k1", "z@t.example", "r@parl.example", 3000).known);
	/* a colleague at a known domain */
	c = see(h, "m3", "b@news.example", "r@parl.example", 4000);
	assert_false(c.known);
	assert_true(c.domain_known);
	assert_int_equal(c.domain_messages, 3);
	assert_int_equal(c.domain_senders, 1);
	bw_history_close(h);

	/* committed on close and read back */
	h = bw_history_open(path, &err);
	assert_non_null(h);
	c = see(h, "m2", "a@news.example", "r@parl.example", 2000);
	assert_true(c.known);
	assert_int_equal(c.count, 3);
	bw_history_close(h);
	test_remove_db(path);
}

static void test_refuses_foreign_database(void **state)
{
	char *path = test_temp_db("bw-test-history");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char *err = NULL;
	assert_null(bw_history_open(path, &err));
	assert_non_null(strstr(err, "not a Bulwark history store"));
	assert_non_null(strstr(err, path));
	free(err);
	test_remove_db(path);

	assert_null(bw_history_open("/nonexistent-dir/h.db", &err));
	assert_non_null(strstr(err, "/nonexistent-dir/h.db"));
	free(err);
}

static bw_engine *engine_with_history(const char *path)
{
	bw_config cfg;
	bw_config_default(&cfg);
	cfg.history_db = strdup(path);
	cfg.outlets_off = true;
	bw_strvec errors = {0};
	bw_engine *e = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	assert_non_null(e->history);
	return e;
}

/* The FIRST_CONTACT evidence of a scan, or NULL when it did not fire. */
static json_t *first_contact(bw_engine *e, const char *msg)
{
	bw_message m = {0};
	bw_engine_scan(e, &m, "t.eml", msg, strlen(msg));
	json_t *ev = NULL;
	for (size_t i = 0; i < m.nfindings; i++)
		if (strcmp(m.findings[i].id, "FIRST_CONTACT") == 0)
			ev = json_loads(m.findings[i].evidence_json, 0, NULL);
	assert_int_equal(m.errors.n, 0);
	bw_message_free(&m);
	return ev;
}

static const char MSG1[] = "From: Ann <Ann@News.example>\r\n"
			   "To: r@parl.example, Team: x@parl.example, y@parl.example;\r\n"
			   "Cc: r@parl.example, ann@news.example\r\n"
			   "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
			   "Message-ID: <one@news.example>\r\n\r\nhello\r\n";
static const char MSG2[] = "From: ann@news.example\r\n"
			   "To: r@parl.example\r\n"
			   "Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
			   "Message-ID: <two@news.example>\r\n\r\nagain\r\n";
/* no Message-ID, no usable Date */
static const char MSG3[] = "From: bob@news.example\r\n"
			   "To: r@parl.example\r\n"
			   "Date: 1 Jan 1970 00:00:00 +0000\r\n\r\nhi\r\n";

static void test_detector_rescan_gives_same_answers(void **state)
{
	char *path = test_temp_db("bw-test-history");
	for (int pass = 0; pass < 2; pass++) {
		bw_engine *e = engine_with_history(path);
		json_t *ev = first_contact(e, MSG1);
		assert_non_null(ev);
		assert_string_equal(json_string_value(json_object_get(ev, "sender")), "ann@news.example");
		assert_string_equal(json_string_value(json_object_get(ev, "time_source")), "date-header");
		/* r, x, y once each; the sender's own Cc is not a contact */
		assert_int_equal(json_integer_value(json_object_get(ev, "first_contact_recipients")), 3);
		json_t *r0 = json_array_get(json_object_get(ev, "recipients"), 0);
		assert_string_equal(json_string_value(json_object_get(r0, "recipient")), "r@parl.example");
		assert_false(json_is_true(json_object_get(r0, "domain_seen_before")));
		assert_string_equal(json_string_value(json_object_get(r0, "recorded_at")), "2024-01-01T10:00:00Z");
		json_decref(ev);

		assert_null(first_contact(e, MSG2));

		ev = first_contact(e, MSG3);
		assert_non_null(ev);
		assert_string_equal(json_string_value(json_object_get(ev, "time_source")), "scan-time");
		r0 = json_array_get(json_object_get(ev, "recipients"), 0);
		assert_true(json_is_true(json_object_get(r0, "domain_seen_before")));
		assert_int_equal(json_integer_value(json_object_get(r0, "domain_senders")), 1);
		json_decref(ev);
		bw_engine_free(e);
	}
	test_remove_db(path);
}

static void test_parse_collects_recipients_and_date(void **state)
{
	bw_limits lim;
	bw_limits_default(&lim);
	bw_mail_init();
	bw_message m = {0};
	bw_mail_parse(&m, "t", MSG1, strlen(MSG1), NULL, &lim);
	assert_int_equal(m.recipients.n, 4);
	assert_string_equal(m.recipients.v[0], "r@parl.example");
	assert_string_equal(m.recipients.v[1], "x@parl.example");
	assert_string_equal(m.recipients.v[3], "ann@news.example");
	assert_int_equal(m.date, 1704103200);
	bw_message_free(&m);

	bw_mail_parse(&m, "t", MSG1, strlen(MSG1), "Only@Parl.example", &lim);
	assert_int_equal(m.recipients.n, 1);
	assert_string_equal(m.recipients.v[0], "only@parl.example");
	bw_message_free(&m);
}

static void test_recipients_are_bounded(void **state)
{
	bw_buf b = {0};
	bw_buf_puts(&b, "From: a@b.example\r\nTo: ");
	for (int i = 0; i < 5000; i++)
		bw_buf_printf(&b, "%su%d@parl.example", i ? ", " : "", i);
	bw_buf_puts(&b, "\r\n\r\nx\r\n");
	bw_limits lim;
	bw_limits_default(&lim);
	bw_message m = {0};
	bw_mail_parse(&m, "t", b.data, b.len, NULL, &lim);
	assert_int_equal(m.recipients.n, BW_MAX_RECIPIENTS);
	bw_message_free(&m);
	bw_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_is_order_independent),
		cmocka_unit_test(test_refuses_foreign_database),
		cmocka_unit_test(test_detector_rescan_gives_same_answers),
		cmocka_unit_test(test_parse_collects_recipients_and_date),
		cmocka_unit_test(test_recipients_are_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
