/* Unit tests for the scan store and campaign grouping (src/campaign):
 * SimHash distances, URL templates, idempotent storing, and grouping that is
 * deterministic and the same whether messages arrive in one batch or two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/store.h"
#include "helpers.h"

static bw_engine *eng;

static int setup(void **state)
{
	bw_config cfg;
	bw_config_default(&cfg);
	cfg.outlets_off = true;
	bw_strvec errors = {0};
	eng = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	return 0;
}

static int teardown(void **state)
{
	bw_engine_free(eng);
	return 0;
}

static const char *const words[] = {
	"budget", "committee", "river", "orange", "window", "delegate", "harbour", "planet", "violin", "garden",
	"motion", "ledger", "summit", "copper", "lantern", "meadow", "quarry", "saddle", "thunder", "velvet",
	"walnut", "anchor", "bishop", "canyon", "dragon", "ember", "falcon", "glacier", "hazel", "island",
	"jungle", "kettle", "lemon", "marble", "nectar", "oyster", "pepper", "quartz", "raven", "salmon",
};

/* Thirty words drawn from the list by seed: unrelated texts for unrelated seeds. */
static void random_text(char *out, size_t n, unsigned seed)
{
	out[0] = '\0';
	for (int i = 0; i < 30; i++) {
		seed = seed * 1103515245u + 12345u;
		strncat(out, words[(seed >> 16) % 40], n - strlen(out) - 2);
		strncat(out, " ", n - strlen(out) - 1);
	}
}

static void test_simhash_near_duplicates(void **state)
{
	const char *a = "Dear customer, your mailbox storage is almost full. Please verify your account within 24 hours "
			"by following the secure link below, or your messages will be deleted permanently today.";
	const char *b = "Dear customer, your mailbox storage is almost full. Please verify your account within 48 hours "
			"by following the secure link below, or your messages will be deleted permanently today.";
	char c[1024];
	random_text(c, sizeof c, 7);
	size_t na, nc;
	uint64_t ha = bw_simhash_text(a, strlen(a), &na), hb = bw_simhash_text(b, strlen(b), NULL);
	uint64_t hc = bw_simhash_text(c, strlen(c), &nc);
	assert_int_equal(na, 29);
	assert_int_equal(nc, 30);
	/* numbers fold to one token: 24 and 48 hours read the same */
	assert_int_equal(bw_hamming64(ha, hb), 0);
	assert_true(bw_hamming64(ha, hc) > 10);
	const char *a2 = "Dear customer, your mailbox storage is nearly full. Please verify your account within 24 hours "
			 "by following the secure link below, or your messages will be deleted permanently today.";
	int d = bw_hamming64(ha, bw_simhash_text(a2, strlen(a2), NULL));
	assert_true(d > 0 && d <= 12);
	size_t nt = 0;
	bw_simhash_html_tags("<html><body><table><tr><td><a href=x>y</a></td></tr></table></body></html>", 75, &nt);
	assert_int_equal(nt, 12);
}

static void test_url_template(void **state)
{
	char *t = bw_url_template("https://t.example/o/12345/abcdef0123456789.gif?u=jane%40x.org&c=42&src=news");
	assert_string_equal(t, "t.example/o/{n}/{hex}.gif?c={n}&src=news&u={email}");
	free(t);
	t = bw_url_template("https://click.example/l/aGVsbG8td29ybGQtMTIzNDU2Nzg5MA/img_20231102.png");
	assert_string_equal(t, "click.example/l/{tok}/img_{n}.png");
	free(t);
	/* two recipients' copies of one tracker give one template */
	char *a = bw_url_template("https://trk.example/open?id=9f86d081884c7d659a2feaa0c55ad015&m=1001");
	char *b = bw_url_template("https://trk.example/open?m=2002&id=60303ae22b998861bce3b28f33eec1be");
	assert_string_equal(a, b);
	free(a);
	free(b);
	/* a 16-hex id without letters is still {hex}, not {n} */
	a = bw_url_template("https://trk.example/o/9f86d081884c7d65.gif");
	b = bw_url_template("https://trk.example/o/3718204955120934.gif");
	assert_string_equal(a, "trk.example/o/{hex}.gif");
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_null(bw_url_template("mailto:someone@example.org"));
}

/* Campaign A: one sending domain. Campaign B: one body text, freemail senders
 * (which link nothing). Noise: unrelated singletons. */
static char *make_message(int i, char kind)
{
	char body[1024], *out = NULL;
	const char *rp, *from;
	char rpbuf[128], frombuf[128];
	if (kind == 'A') {
		random_text(body, sizeof body, 100u + (unsigned)i);
		snprintf(rpbuf, sizeof rpbuf, "bounce-%d@mailer-a.example", i);
		snprintf(frombuf, sizeof frombuf, "desk%d@brand-a.example", i);
	} else if (kind == 'B') {
		snprintf(body, sizeof body,
			 "Your parcel %d is held at the depot because the customs fee was not paid. Pay the fee of 2 euros "
			 "today using the form on our page or the parcel returns to the sender after seven days.", i);
		snprintf(rpbuf, sizeof rpbuf, "courier%d@gmail.com", i);
		snprintf(frombuf, sizeof frombuf, "courier%d@gmail.com", i);
	} else {
		random_text(body, sizeof body, 5000u + (unsigned)i * 7919u);
		snprintf(rpbuf, sizeof rpbuf, "n%d@noise%d.example", i, i);
		snprintf(frombuf, sizeof frombuf, "n%d@noise%d.example", i, i);
	}
	rp = rpbuf;
	from = frombuf;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	fprintf(f,
		"Return-Path: <%s>\r\nFrom: <%s>\r\nTo: user%d@parliament.example\r\nSubject: message %c %d\r\n"
		"Message-ID: <%c%d@test>\r\nDate: Mon, %d Jan 2024 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n%s\r\n",
		rp, from, i % 3, kind, i, kind, i, 1 + i % 28, body);
	fclose(f);
	return out;
}

static int add(bw_store *s, int i, char kind)
{
	char *raw = make_message(i, kind);
	bw_message m = {0};
	bw_engine_scan(eng, &m, "test", raw, strlen(raw));
	char *err = NULL;
	int rc = bw_store_add(s, &m, &eng->cfg, &err);
	if (rc < 0)
		fail_msg("%s", err);
	bw_message_free(&m);
	free(raw);
	return rc;
}

static char *run_campaigns(bw_store *s)
{
	bw_campaign_options o;
	bw_campaign_options_default(&o);
	char *out = NULL, *err = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	if (bw_campaigns_run(s, &o, true, f, &err) < 0)
		fail_msg("%s", err);
	fclose(f);
	return out;
}

/* "A1=c-..;A2=c-..;" in Message-ID order: the grouping and the ids. */
static char *membership(bw_store *s)
{
	sqlite3 *db = bw_store_db(s);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT m.message_id, coalesce(cm.campaign, '-') FROM message m"
					    " LEFT JOIN campaign_member cm ON cm.message = m.id ORDER BY m.message_id",
					    -1, &st, NULL),
			 SQLITE_OK);
	bw_buf b = {0};
	while (sqlite3_step(st) == SQLITE_ROW)
		bw_buf_printf(&b, "%s=%s;", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return bw_buf_steal(&b);
}

/* The partition alone: each message with the first message of its group. */
static char *partition(const char *members)
{
	bw_buf b = {0};
	char *copy = strdup(members);
	bw_strvec ids = {0}, groups = {0};
	for (char *tok = strtok(copy, ";"); tok; tok = strtok(NULL, ";")) {
		char *eq = strchr(tok, '=');
		*eq = '\0';
		bw_strvec_push(&ids, tok);
		bw_strvec_push(&groups, eq + 1);
	}
	for (size_t i = 0; i < ids.n; i++) {
		size_t first = i;
		if (strcmp(groups.v[i], "-") != 0)
			for (size_t k = 0; k < i && first == i; k++)
				if (strcmp(groups.v[k], groups.v[i]) == 0)
					first = k;
		bw_buf_printf(&b, "%s:%s;", ids.v[i], ids.v[first]);
	}
	bw_strvec_free(&ids);
	bw_strvec_free(&groups);
	free(copy);
	return bw_buf_steal(&b);
}

static const struct {
	int i;
	char kind;
} corpus[] = {
	{1, 'A'}, {1, 'N'}, {1, 'B'}, {2, 'A'}, {2, 'N'}, {2, 'B'}, {3, 'A'}, {3, 'N'},
	{3, 'B'}, {4, 'A'}, {4, 'N'}, {4, 'B'}, {5, 'A'}, {5, 'N'}, {6, 'N'},
};
#define NCORPUS (sizeof corpus / sizeof corpus[0])

/* Exchange Online relays between its own public addresses: the first
 * external relay is the host that handed the message to outlook.com. */
static void test_first_external_relay(void **state)
{
	const char *raw =
		"Received: from MN0PR19MB6408.namprd19.prod.outlook.com (2603:10b6:208:3d3::7) by\r\n"
		" MN0PR19MB6312.namprd19.prod.outlook.com with HTTPS; Wed, 26 Jul 2023 21:13:38 +0000\r\n"
		"Received: from VI1EUR05FT062.eop-eur05.prod.protection.outlook.com (2603:10a6:d10:a1:cafe::d5)\r\n"
		" by MN0PR19MB6408.namprd19.prod.outlook.com (2603:10b6:208:3d3::7) with SMTP\r\n"
		"Received: from thcultarfdes.co.uk (89.144.44.2) by\r\n"
		" VI1EUR05FT062.mail.protection.outlook.com (10.233.243.189) with SMTP\r\n"
		"Received: from [10.0.0.5] (forged.example [203.0.113.9]) by thcultarfdes.co.uk with SMTP\r\n"
		"From: <a@thcultarfdes.co.uk>\r\nSubject: x\r\n\r\nbody\r\n";
	bw_message m = {0};
	bw_engine_scan(eng, &m, "test", raw, strlen(raw));
	bw_features f;
	bw_features_extract(&m, &f);
	bool ip = false, net = false, name = false;
	for (size_t i = 0; i < f.obs.n; i++) {
		ip |= strcmp(f.obs.v[i].kind, "relay-ip") == 0 && strcmp(f.obs.v[i].value, "89.144.44.2") == 0;
		net |= strcmp(f.obs.v[i].kind, "relay-net") == 0 && strcmp(f.obs.v[i].value, "89.144.44.0/24") == 0;
		name |= strcmp(f.obs.v[i].kind, "relay-domain") == 0 && strcmp(f.obs.v[i].value, "thcultarfdes.co.uk") == 0;
	}
	assert_true(ip && net && name);
	bw_features_free(&f);
	bw_message_free(&m);
}

static void test_store_is_idempotent(void **state)
{
	char *path = test_temp_db("bw-test-campaign"), *err = NULL;
	bw_store *s = bw_store_open(path, &err);
	assert_non_null(s);
	assert_int_equal(add(s, 1, 'A'), 1);
	assert_int_equal(add(s, 1, 'A'), 0);
	assert_int_equal(add(s, 2, 'A'), 1);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(bw_store_db(s), "SELECT (SELECT count(*) FROM message), (SELECT count(*) FROM recipient),"
					   " (SELECT count(*) FROM feature WHERE kind = 'return-path-domain')", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	assert_int_equal(sqlite3_column_int(st, 1), 2);
	assert_int_equal(sqlite3_column_int(st, 2), 1); /* interned once */
	sqlite3_finalize(st);
	bw_store_close(s);
	test_remove_db(path);
}

/* Stores raw mail, returning bw_store_add's result. */
static int add_raw(bw_store *s, const char *raw)
{
	bw_message m = {0};
	bw_engine_scan(eng, &m, "test", raw, strlen(raw));
	char *err = NULL;
	int rc = bw_store_add(s, &m, &eng->cfg, &err);
	if (rc < 0)
		fail_msg("%s", err);
	bw_message_free(&m);
	return rc;
}

/* The body hash covers the text itself: the parse stage hashes only
 * attachments, and a hash of empty digests made every message with one
 * Message-ID (or none) the same message. */
static void test_body_hash_covers_text(void **state)
{
	char *path = test_temp_db("bw-test-campaign"), *err = NULL;
	bw_store *s = bw_store_open(path, &err);
	assert_non_null(s);
	const char *same_id = "From: <a@x.example>\r\nMessage-ID: <same@x>\r\nSubject: s\r\n\r\n";
	const char *no_id = "From: <a@x.example>\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n";
	char raw[512];
	snprintf(raw, sizeof raw, "%sfirst body\r\n", same_id);
	assert_int_equal(add_raw(s, raw), 1);
	snprintf(raw, sizeof raw, "%ssecond body\r\n", same_id);
	assert_int_equal(add_raw(s, raw), 1);
	assert_int_equal(add_raw(s, raw), 0);
	snprintf(raw, sizeof raw, "%s<p>first html</p>\r\n", no_id);
	assert_int_equal(add_raw(s, raw), 1);
	snprintf(raw, sizeof raw, "%s<p>second html</p>\r\n", no_id);
	assert_int_equal(add_raw(s, raw), 1);
	assert_int_equal(add_raw(s, raw), 0);
	bw_store_close(s);
	test_remove_db(path);
}

static void test_grouping(void **state)
{
	char *path = test_temp_db("bw-test-campaign"), *err = NULL;
	bw_store *s = bw_store_open(path, &err);
	for (size_t k = 0; k < NCORPUS; k++)
		add(s, corpus[k].i, corpus[k].kind);
	char *out1 = run_campaigns(s), *out2 = run_campaigns(s);
	assert_string_equal(out1, out2); /* deterministic, and a second run changes nothing */
	assert_non_null(strstr(out1, "\"campaign_count\":2"));
	assert_non_null(strstr(out1, "\"feature\":\"return-path-domain\",\"messages\":5"));
	assert_non_null(strstr(out1, "\"feature\":\"body-simhash\",\"messages\":4"));
	assert_null(strstr(out1, "\"value\":\"gmail.com\""));  /* freemail links nothing */
	char *m = membership(s), *p = partition(m);
	assert_string_equal(p, "A1@test:A1@test;A2@test:A1@test;A3@test:A1@test;A4@test:A1@test;A5@test:A1@test;"
			       "B1@test:B1@test;B2@test:B1@test;B3@test:B1@test;B4@test:B1@test;"
			       "N1@test:N1@test;N2@test:N2@test;N3@test:N3@test;N4@test:N4@test;N5@test:N5@test;"
			       "N6@test:N6@test;");
	free(m);
	free(p);
	free(out1);
	free(out2);
	bw_store_close(s);
	test_remove_db(path);
}

static void test_two_batches_equal_one(void **state)
{
	char *one = test_temp_db("bw-test-campaign"), *two = test_temp_db("bw-test-campaign"), *err = NULL;
	bw_store *s1 = bw_store_open(one, &err), *s2 = bw_store_open(two, &err);
	for (size_t k = 0; k < NCORPUS; k++)
		add(s1, corpus[k].i, corpus[k].kind);
	free(run_campaigns(s1));
	/* the second store sees the later half first */
	for (size_t k = NCORPUS / 2; k < NCORPUS; k++)
		add(s2, corpus[k].i, corpus[k].kind);
	free(run_campaigns(s2));
	char *before = membership(s2);
	for (size_t k = 0; k < NCORPUS / 2; k++)
		add(s2, corpus[k].i, corpus[k].kind);
	free(run_campaigns(s2));
	char *m1 = membership(s1), *m2 = membership(s2);
	char *p1 = partition(m1), *p2 = partition(m2);
	assert_string_equal(p1, p2);
	/* messages of the first batch keep the campaign id they had */
	char *copy = strdup(before);
	for (char *tok = strtok(copy, ";"); tok; tok = strtok(NULL, ";"))
		if (!strstr(tok, "=-"))
			assert_non_null(strstr(m2, tok));
	free(copy);
	free(before);
	free(m1);
	free(m2);
	free(p1);
	free(p2);
	bw_store_close(s1);
	bw_store_close(s2);
	test_remove_db(one);
	test_remove_db(two);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simhash_near_duplicates),
		cmocka_unit_test(test_url_template),
		cmocka_unit_test(test_first_external_relay),
		cmocka_unit_test(test_store_is_idempotent),
		cmocka_unit_test(test_body_hash_covers_text),
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_two_batches_equal_one),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
