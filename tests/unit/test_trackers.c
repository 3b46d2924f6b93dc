/* Tracker lists: the four shared lists load and name the right vendors, the
 * Adblock options and exceptions behave, bad lines are reported, and the
 * MailTrackerBlocker fixture's trackers are found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>

#include "bulwark/trackers.h"

#define LISTS BW_SHARED_DIR "/intel/trackers"
#define FIXTURE BW_SHARED_DIR "/corpora/tracking/mailtrackerblocker/multibgcsstrackers.html"

static bw_tracker_db *shared_db;

static int load_shared(void **state)
{
	bw_strvec errors = {0};
	(void)state;
	shared_db = bw_tracker_db_load(LISTS, &errors);
	for (size_t i = 0; i < errors.n; i++)
		fprintf(stderr, "list error: %s\n", errors.v[i]);
	bw_strvec_free(&errors);
	return shared_db ? 0 : -1;
}

static int free_shared(void **state)
{
	(void)state;
	bw_tracker_db_free(shared_db);
	return 0;
}

/* Vendor of the rule that matches, "" for a rule that names none, NULL for
 * no match. */
static const char *vendor_of(const bw_tracker_db *db, const char *url, bool image, bool third)
{
	bw_tracker_match m;
	if (!bw_tracker_db_match(db, url, image, third, &m))
		return NULL;
	assert_non_null(m.list);
	assert_non_null(m.rule);
	return m.vendor ? m.vendor : "";
}

/* want: the vendor (any case), "" for a match naming none, "*" for any
 * match, NULL for no match. */
static void check(const bw_tracker_db *db, const char *url, bool image, bool third,
		  const char *want)
{
	const char *got = vendor_of(db, url, image, third);
	bool ok = want ? got && (strcmp(want, "*") == 0 || strcasecmp(got, want) == 0) : !got;
	if (!ok)
		fail_msg("%s (%s, %s): vendor %s, want %s", url, image ? "image" : "link",
			 third ? "third party" : "first party", got ? got : "(no match)",
			 want ? want : "(no match)");
}

static void test_shared_lists_load(void **state)
{
	(void)state;
	assert_true(bw_tracker_db_rule_count(shared_db) > 500);
}

static void test_shared_vendors(void **state)
{
	(void)state;
	check(shared_db, "https://dqmaer86.emltrk.com/v2/dqmaer86?d=Vyau4ZI", true, true, "Litmus");
	check(shared_db, "https://example.com/wf/open?upn=abc", true, true, "SendGrid");
	check(shared_db, "https://acme.us5.list-manage.com/track/open.php?u=1&id=2", true, true,
	      "MailChimp");
	/* Trocker's click list names vendors by code; its rules apply to links. */
	check(shared_db, "https://t.sidekickopen01.com/s1t/c/abc", false, true, "SK");
	/* An EasyPrivacy rule names nobody: the report gets the rule's host. */
	check(shared_db, "https://go.sparkpostmail.com/q/abc~~/def~~", true, true,
	      "sparkpostmail.com");

	check(shared_db, "https://www.example.org/about", true, true, NULL);
	check(shared_db, "https://www.example.org/about", false, true, NULL);
	/* $image rules and pixel lists do not flag a link to the same URL. */
	check(shared_db, "https://go.sparkpostmail.com/q/abc~~/def~~", false, true, NULL);
	/* Trocker's click rule for mkt4477.com/ctt does not apply to images. */
	check(shared_db, "https://mkt4477.com/ctt?x=1", true, true, NULL);
	check(shared_db, "https://mkt4477.com/ctt?x=1", false, true, "IB");
}

static void test_match_reports_list_and_rule(void **state)
{
	bw_tracker_match m;
	(void)state;
	assert_true(bw_tracker_db_match(shared_db, "https://t.yesware.com/t/abc/o.gif", true, true, &m));
	assert_non_null(strstr(m.rule, "yesware"));
	assert_true(strcmp(m.list, "leavemealone-trackers.txt") == 0 ||
		    strcmp(m.list, "trocker-lists.json") == 0 ||
		    strcmp(m.list, "ugly-email-list.txt") == 0);
	assert_false(bw_tracker_db_match(shared_db, "https://example.net/", true, true, &m));
	assert_null(m.vendor);
	assert_null(m.rule);
}

/* The test's own scan for URLs in HTML and CSS: from "http" to a quote,
 * parenthesis, angle bracket or space. */
static void test_mailtrackerblocker_fixture(void **state)
{
	FILE *fp = fopen(FIXTURE, "rb");
	static char html[1 << 20];
	bool litmus = false, sparkpost = false;
	(void)state;

	assert_non_null(fp);
	size_t n = fread(html, 1, sizeof html - 1, fp);
	fclose(fp);
	html[n] = '\0';
	for (const char *p = html; (p = strstr(p, "http")); p++) {
		size_t len = strcspn(p, "\"'()<> \t\r\n");
		char *url = strndup(p, len);
		const char *v = vendor_of(shared_db, url, true, true);
		litmus |= v && strcasecmp(v, "Litmus") == 0;
		sparkpost |= v && strcasestr(v, "sparkpost") != NULL;
		free(url);
	}
	assert_true(litmus);
	assert_true(sparkpost);
}

/* ---- synthetic lists ---------------------------------------------------- */

static char tmpdir[] = "/tmp/bw_trackers_XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void remove_files(void)
{
	static const char *const names[] = {"a-adblock.txt", "b-ugly.txt", "c-trocker.json", "NOTES"};
	char path[256];
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
}

static bool has_error(const bw_strvec *errors, const char *where)
{
	for (size_t i = 0; i < errors->n; i++)
		if (strstr(errors->v[i], where))
			return true;
	return false;
}

static void test_synthetic_lists(void **state)
{
	bw_strvec errors = {0};
	char long_line[6000];
	(void)state;

	assert_non_null(mkdtemp(tmpdir));
	memset(long_line, 'a', sizeof long_line - 2);
	long_line[sizeof long_line - 2] = '\n';
	long_line[sizeof long_line - 1] = '\0';

	write_file("a-adblock.txt",
		   "[Adblock Plus 2.0]\n"                        /* 1 */
		   "! Example Tracking (https://tracker.test)\n"  /* 2 */
		   "||tracker.test^$image\n"                      /* 3 */
		   "\n"                                           /* 4 */
		   "@@||tracker.test/allowed/$image\n"            /* 5 */
		   "/pixel.gif$third-party\n"                     /* 6 */
		   "||scripts.test^$script\n"                     /* 7 */
		   "||first.test/o/$~third-party\n"               /* 8 */
		   "example.com##.ad\n"                           /* 9 */
		   "/\\/r[0-9]+\\/open/$image\n"                  /* 10 */
		   "/Track/Open$match-case\n"                     /* 11 */
		   "|https://anchored.test/x|\n"                  /* 12 */
		   "/(a)\\1/\n"                                   /* 13: backreference */
		   "bad\x01line\n"                                /* 14 */
		   "||$image\n");                                 /* 15 */
	{
		/* line 16: longer than any list line may be */
		char path[256];
		snprintf(path, sizeof path, "%s/a-adblock.txt", tmpdir);
		FILE *fp = fopen(path, "ab");
		assert_non_null(fp);
		fputs(long_line, fp);
		fputs(".late.test/px\n", fp);                 /* 17 */
		fclose(fp);
	}
	write_file("b-ugly.txt",
		   "Acme Mail@@=acme\\.test\\/px\\/\\d+\n"
		   "no separator here\n"
		   "Escapes@@=esc\\.test\\/\\Q\\x\\u0041[^]\n");
	write_file("c-trocker.json",
		   "{\"open_trackers\":[{\"name\":\"ZZ\",\"domains\":[\"zz.test/p\"],"
		   "\"patterns\":[\"*://*.yy.test/o*\"]},{\"domains\":[\"nobody.test\"]}],"
		   "\"click_trackers\":[{\"name\":\"ZC\",\"domains\":[\"click.zz.test\"],"
		   "\"patterns\":[\"not a pattern\"]}]}");
	write_file("NOTES", "||everything.test^\n");

	bw_tracker_db *db = bw_tracker_db_load(tmpdir, &errors);
	assert_non_null(db);

	/* Rules: 3, 5, 6, 8, 10, 11, 12, 17; Acme, Escapes; zz domain, yy
	 * pattern, click domain. */
	assert_int_equal(bw_tracker_db_rule_count(db), 13);
	assert_true(has_error(&errors, "a-adblock.txt:13"));
	assert_true(has_error(&errors, "a-adblock.txt:14"));
	assert_true(has_error(&errors, "a-adblock.txt:15"));
	assert_true(has_error(&errors, "a-adblock.txt:16"));
	assert_true(has_error(&errors, "b-ugly.txt:2"));
	assert_true(has_error(&errors, "c-trocker.json: open_trackers[1]"));
	assert_true(has_error(&errors, "c-trocker.json: click_trackers[0]"));
	assert_int_equal(errors.n, 7);

	/* Domain anchor, separator, section vendor, exception. */
	bw_tracker_match m;
	assert_true(bw_tracker_db_match(db, "https://img.tracker.test/o.gif", true, true, &m));
	assert_string_equal(m.vendor, "Example Tracking");
	assert_string_equal(m.list, "a-adblock.txt");
	assert_string_equal(m.rule, "||tracker.test^$image");
	check(db, "https://tracker.test", true, true, "*");
	check(db, "https://nottracker.test/o.gif", true, true, NULL);
	check(db, "https://tracker.test.evil.example/o.gif", true, true, NULL);
	check(db, "https://tracker.test/allowed/o.gif", true, true, NULL);
	check(db, "https://tracker.test/o.gif", false, true, NULL);

	/* $third-party / $~third-party; a rule without a host names nobody. */
	check(db, "https://a.example/pixel.gif?x", true, true, "");
	check(db, "https://a.example/pixel.gif?x", true, false, NULL);
	check(db, "https://first.test/o/1", true, false, "first.test");
	check(db, "https://first.test/o/1", true, true, NULL);

	/* $script only: nothing a mail client loads. */
	check(db, "https://scripts.test/a.js", true, true, NULL);
	check(db, "https://scripts.test/a.js", false, true, NULL);

	/* /regex/ rules, match-case, start and end anchors. */
	check(db, "https://x.example/r12/open", true, true, "*");
	check(db, "https://x.example/r/open", true, true, NULL);
	check(db, "https://x.example/Track/Open", false, true, "*");
	check(db, "https://x.example/track/open", false, true, NULL);
	check(db, "https://anchored.test/x", false, true, "*");
	check(db, "https://anchored.test/xy", false, true, NULL);
	check(db, "http://x.example/?https://anchored.test/x", false, true, NULL);
	/* ".host" is a plain substring: the subdomain is needed. */
	check(db, "https://www.late.test/px", true, true, "late.test");
	check(db, "https://late.test/px", true, true, NULL);

	/* Ugly Email and Trocker. */
	check(db, "https://acme.test/px/42", true, true, "Acme Mail");
	check(db, "https://acme.test/px/x", true, true, NULL);
	/* JavaScript's identity escapes "\Q" and "\x", "\u0041" and "[^]". */
	check(db, "https://esc.test/QxA!", true, true, "Escapes");
	check(db, "https://esc.test/QxA", true, true, NULL);
	check(db, "https://a.zz.test/p/1", true, true, "ZZ");
	check(db, "https://zz.test.evil.example/p/1", true, true, NULL);
	check(db, "https://YY.test/open?x", true, true, "ZZ");
	check(db, "https://yy.test/close", true, true, NULL);
	check(db, "https://click.zz.test/?u=1", false, true, "ZC");
	check(db, "https://click.zz.test/?u=1", true, true, NULL);

	/* Files other than *.txt and *.json are not lists. */
	check(db, "https://everything.test/", true, true, NULL);

	bw_tracker_db_free(db);
	bw_strvec_free(&errors);
	remove_files();
	rmdir(tmpdir);
}

static void test_unusable_dirs(void **state)
{
	bw_strvec errors = {0};
	char empty[] = "/tmp/bw_trackers_empty_XXXXXX";
	(void)state;

	assert_null(bw_tracker_db_load("/nonexistent/bulwark", &errors));
	assert_int_equal(errors.n, 1);
	assert_non_null(mkdtemp(empty));
	assert_null(bw_tracker_db_load(empty, &errors));
	assert_int_equal(errors.n, 2);
	assert_null(bw_tracker_db_load(empty, NULL));
	rmdir(empty);
	bw_strvec_free(&errors);
	assert_false(bw_tracker_db_match(NULL, "https://x/", true, true, NULL));
	assert_int_equal(bw_tracker_db_rule_count(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		cmocka_unit_test(test_shared_lists_load),
		cmocka_unit_test(test_shared_vendors),
		cmocka_unit_test(test_match_reports_list_and_rule),
		cmocka_unit_test(test_mailtrackerblocker_fixture),
	};
	const struct CMUnitTest synthetic[] = {
		cmocka_unit_test(test_synthetic_lists),
		cmocka_unit_test(test_unusable_dirs),
	};
	return cmocka_run_group_tests_name("shared lists", shared, load_shared, free_shared) |
	       cmocka_run_group_tests_name("synthetic lists", synthetic, NULL, NULL);
}
