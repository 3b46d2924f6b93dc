/* Unit tests for the impersonation detectors (src/detect/impersonation.c,
 * src/detect/identity.c) and the protected-identity configuration: each
 * finding fires where it should, and stays quiet on the owner's own mail,
 * subdomains, short labels and ordinary mail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/report.h"
#include "detect/detect.h"
#include "helpers.h"

#define OUTLETS BW_SOURCE_DIR "/data/news-outlets.conf"

static const char *CONF = "[protected]\n"
			  "domains = parliament.example; senate.example\n"
			  "outlets = " OUTLETS "\n"
			  "people = Jane Doe <jane.doe@parliament.example>; Max Mustermann <max@senate.example>\n"
			  "[person:Amelie Durand]\n"
			  "aliases = A. Durand\n"
			  "addresses = amelie.durand@parliament.example; amelie@private.example\n"
			  "[org:Election Commission]\n"
			  "aliases = Electoral Commission\n"
			  "domains = elections.example\n"
			  "source = https://elections.example/\n";

static bw_engine *engine_from(const char *text)
{
	bw_engine *e = test_engine_from(text, NULL);
	assert_non_null(e->protected_ids);
	return e;
}

static bw_engine *eng;

static int setup(void **state)
{
	eng = engine_from(CONF);
	return 0;
}

static int teardown(void **state)
{
	bw_engine_free(eng);
	return 0;
}

static void scan(bw_message *m, const char *headers, const char *html)
{
	char buf[8192];
	snprintf(buf, sizeof buf,
		 "%sTo: mp@parliament.example\r\nSubject: test\r\nMessage-ID: <t@x>\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>%s</body></html>\r\n",
		 headers, html ? html : "<p>Hello</p>");
	memset(m, 0, sizeof *m);
	bw_engine_scan(eng, m, "t.eml", buf, strlen(buf));
}

static json_t *evidence(const bw_finding *f)
{
	json_error_t je;
	json_t *j = json_loads(f->evidence_json, 0, &je);
	assert_non_null(j);
	return j;
}

static const char *first_match_method(const bw_finding *f, json_t **keep)
{
	*keep = evidence(f);
	json_t *m0 = json_array_get(json_object_get(*keep, "matches"), 0);
	return json_string_value(json_object_get(m0, "method"));
}

static bool has_attack(const bw_finding *f, const char *t)
{
	return bw_strvec_contains(&f->attack, t);
}

/* ---- configuration and the outlet list ---- */

static void test_outlet_list_loads(void **state)
{
	bw_identities ids = {0};
	char *err = NULL;
	assert_int_equal(bw_identities_load(&ids, OUTLETS, BW_IDENT_OUTLET, &err), 0);
	assert_true(ids.n >= 100);
	size_t reuters = 0;
	for (size_t i = 0; i < ids.n; i++) {
		assert_int_equal(ids.v[i].kind, BW_IDENT_OUTLET);
		assert_true(ids.v[i].domains.n > 0);
		assert_non_null(ids.v[i].source);
		assert_true(strncmp(ids.v[i].source, "http", 4) == 0);
		if (strcmp(ids.v[i].name, "Reuters") == 0)
			reuters = i + 1;
	}
	assert_true(reuters > 0);
	assert_true(bw_strvec_contains(&ids.v[reuters - 1].domains, "reuters.com"));
	bw_identities_free(&ids);
}

static void test_config_identities(void **state)
{
	const bw_identities *ids = &eng->cfg.identities;
	size_t inst = 0, person = 0, org = 0, outlet = 0;
	for (size_t i = 0; i < ids->n; i++)
		switch (ids->v[i].kind) {
		case BW_IDENT_INSTITUTION: inst++; break;
		case BW_IDENT_PERSON: person++; break;
		case BW_IDENT_ORG: org++; break;
		case BW_IDENT_OUTLET: outlet++; break;
		}
	assert_int_equal(inst, 2);
	assert_int_equal(person, 3);
	assert_int_equal(org, 1);
	assert_true(outlet >= 100);
	assert_string_equal(eng->cfg.outlets_file, OUTLETS);

	bw_config cfg;
	bw_config_default(&cfg);
	char *path = test_write_temp("[protected]\npeople = Jane Doe jane@example.org\n");
	char *err = NULL;
	assert_int_equal(bw_config_load(&cfg, path, &err), -1);
	assert_non_null(strstr(err, "people"));
	free(err);
	unlink(path);
	free(path);
	bw_config_free(&cfg);

	bw_config_default(&cfg);
	path = test_write_temp("[org:Nothing]\naliases = x\n");
	assert_int_equal(bw_config_load(&cfg, path, &err), -1);
	assert_non_null(strstr(err, "no domains"));
	free(err);
	unlink(path);
	free(path);
	bw_config_free(&cfg);
}

static void test_skeleton_and_distance(void **state)
{
	const bw_protected *p = eng->protected_ids;
	char *a = bw_skeleton(p, "R\xc3\xa9uters"), *b = bw_skeleton(p, "R\xd0\xb5uters"), *c = bw_skeleton(p, "reuters");
	assert_string_equal(a, c); /* accent */
	assert_string_equal(b, c); /* Cyrillic e */
	free(a);
	free(b);
	free(c);
	a = bw_skeleton(p, "paypa1.com");
	b = bw_skeleton(p, "paypal.com");
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(bw_edit_distance("reuters", "reutres", 2), 1); /* transposition */
	assert_int_equal(bw_edit_distance("guardian", "gaurdain", 2), 2);
	assert_int_equal(bw_edit_distance("abc", "xyzabc", 2), 3);
}

/* ---- DISPLAY_NAME_IMPERSONATION ---- */

static void test_display_name_outlet(void **state)
{
	bw_message m;
	scan(&m, "From: \"Reuters Editorial\" <editorial@gmail.example>\r\n", NULL);
	const bw_finding *f = test_find(&m, "DISPLAY_NAME_IMPERSONATION");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_HIGH);
	assert_true(f->score == 4);
	assert_true(has_attack(f, "T1656"));
	json_t *ev = evidence(f);
	assert_string_equal(json_string_value(json_object_get(ev, "protected_name")), "Reuters");
	assert_string_equal(json_string_value(json_object_get(ev, "display_skeleton")), "reuters editorial");
	assert_string_equal(json_string_value(json_object_get(ev, "protected_skeleton")), "reuters");
	json_decref(ev);
	bw_message_free(&m);

	/* accents and confusables */
	scan(&m, "From: =?utf-8?q?R=C3=A9uters?= <a@x.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: =?utf-8?q?BB=D0=A1_News?= <a@x.example>\r\n", NULL); /* Cyrillic capital ES */
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* a journalist's signature style */
	scan(&m, "From: \"Jane Roe (Bloomberg)\" <jroe@mail.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: \"Jane Roe, Reuters\" <jroe@mail.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: Forbes Councils <x@other.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
}

static void test_display_name_must_not_fire(void **state)
{
	bw_message m;
	/* the outlet's own domain and a subdomain of it */
	scan(&m, "From: Reuters <newsletters@reuters.com>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: \"BBC News\" <news@email.bbc.co.uk>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* a one-word outlet name that is also a surname */
	scan(&m, "From: John Forbes <john@example.org>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* a short name inside a phrase */
	scan(&m, "From: =?utf-8?q?Toutes_nos_f=C3=A9licitations=2C_Marie?= <info@shop.example>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* two outlets share the name "ABC News": either one's mail is fine */
	scan(&m, "From: ABC News <news@abc.net.au>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* words inside words: "Apple" is not "AP", "Timeshare" not "TIME" */
	scan(&m, "From: Apple Timeshare <a@example.org>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
}

static void test_display_name_person(void **state)
{
	bw_message m;
	scan(&m, "From: Jane Doe <jane.doe@parliament.example>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: =?utf-8?q?Am=C3=A9lie_Durand?= <amelie@private.example>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: \"Jane Doe\" <jane.doe.mp@freemail.example>\r\n", NULL);
	const bw_finding *f = test_find(&m, "DISPLAY_NAME_IMPERSONATION");
	assert_non_null(f);
	assert_true(f->score == 3);
	bw_message_free(&m);
	scan(&m, "From: \"Electoral Commission\" <info@elections-update.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
}

/* Likely namesakes in the default outlet list: an outlet's name followed by
 * a word naming another kind of organisation is medium, not high; a short
 * label under a government suffix is no swapped TLD. */
static void test_outlet_namesakes(void **state)
{
	static const struct {
		const char *from, *word;
	} namesakes[] = {
		{"From: \"Bloomberg Philanthropies\" <info@bloomberg.org>\r\n", "philanthropies"},
		{"From: \"Al Jazeera Restaurant\" <orders@aljazeera-grill.example>\r\n", "restaurant"},
		{"From: \"Washington Post Office\" <postmaster@town.example>\r\n", "office"},
	};
	for (size_t i = 0; i < sizeof namesakes / sizeof namesakes[0]; i++) {
		bw_message m;
		scan(&m, namesakes[i].from, NULL);
		const bw_finding *f = test_find(&m, "DISPLAY_NAME_IMPERSONATION");
		if (!f)
			fail_msg("no DISPLAY_NAME_IMPERSONATION for %s", namesakes[i].from);
		assert_int_equal(f->severity, BW_SEV_MEDIUM);
		assert_true(f->score == 2);
		json_t *ev = evidence(f);
		assert_string_equal(json_string_value(json_object_get(ev, "followed_by_organisation_word")),
				    namesakes[i].word);
		json_decref(ev);
		bw_message_free(&m);
	}
	/* the outlet's own kind of word, and a person, stay high */
	bw_message m;
	scan(&m, "From: \"Bloomberg News\" <news@mail.example>\r\n", NULL);
	assert_int_equal(test_find(&m, "DISPLAY_NAME_IMPERSONATION")->severity, BW_SEV_HIGH);
	bw_message_free(&m);
	scan(&m, "From: \"Jane Doe Office\" <jane@mail.example>\r\n", NULL);
	assert_int_equal(test_find(&m, "DISPLAY_NAME_IMPERSONATION")->severity, BW_SEV_HIGH);
	bw_message_free(&m);

	bw_lookalike l;
	assert_false(bw_lookalike_check(eng->protected_ids, "afp.gov.au", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "www.afp.gov.au", &l));
	assert_true(bw_lookalike_check(eng->protected_ids, "afp.co", &l));
	assert_string_equal(l.method, "swapped-tld");
	bw_lookalike_free(&l);
	/* a longer label is a swapped TLD under any suffix */
	assert_true(bw_lookalike_check(eng->protected_ids, "reuters.gov.au", &l));
	assert_string_equal(l.method, "swapped-tld");
	bw_lookalike_free(&l);
}

/* Letters spaced out one by one are one word: the spoof is caught, and an
 * acronym written with spaces is still the outlet's own name. */
static void test_display_name_spaced_letters(void **state)
{
	char *k = bw_name_key(eng->protected_ids, "J a n e  D o e");
	assert_string_equal(k, "jane doe");
	free(k);
	k = bw_name_key(eng->protected_ids, "A B C News");
	assert_string_equal(k, "abc news");
	free(k);
	k = bw_name_key(eng->protected_ids, "A. Durand");
	assert_string_equal(k, "a durand");
	free(k);

	bw_message m;
	scan(&m, "From: \"J a n e  D o e\" <jane@gmail.com>\r\n", NULL);
	const bw_finding *f = test_find(&m, "DISPLAY_NAME_IMPERSONATION");
	assert_non_null(f);
	json_t *ev = evidence(f);
	assert_string_equal(json_string_value(json_object_get(ev, "protected_name")), "Jane Doe");
	json_decref(ev);
	bw_message_free(&m);
	scan(&m, "From: \"A B C News\" <news@abc.net.au>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	scan(&m, "From: \"A B C News\" <news@mail.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
	/* an initial before a name stays an initial */
	scan(&m, "From: \"A. Durand\" <amelie@private.example>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);
}

static void test_display_name_address(void **state)
{
	bw_message m;
	scan(&m, "From: \"jane.doe@parliament.example\" <x@evil.example>\r\n", NULL);
	const bw_finding *f = test_find(&m, "DISPLAY_NAME_ADDRESS");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_HIGH); /* the shown address is protected */
	json_t *ev = evidence(f);
	assert_string_equal(json_string_value(json_object_get(ev, "shown_address")), "jane.doe@parliament.example");
	json_decref(ev);
	bw_message_free(&m);
	scan(&m, "From: \"bob@example.org\" <bob@example.org>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_ADDRESS"));
	bw_message_free(&m);
}

/* phishing_pot sample-350: Syriac combining marks (U+073F) inside the
 * shown domain kept it from reading as an address. */
static void test_display_address_with_hidden_marks(void **state)
{
	bw_message m;
	scan(&m, "From: =?UTF-8?B?bm9yZXBseUBzZXJ2aWNlLty/3L9hbdy/ety/3L9uLmPcv29t?= <x@evil.example>\r\n", NULL);
	const bw_finding *f = test_find(&m, "DISPLAY_NAME_ADDRESS");
	assert_non_null(f);
	json_t *ev = evidence(f);
	assert_string_equal(json_string_value(json_object_get(ev, "shown_address")), "noreply@service.amzn.com");
	assert_true(json_is_true(json_object_get(ev, "hidden_marks_removed")));
	json_decref(ev);
	bw_message_free(&m);
	/* a zero-width joiner in the sender's own address shown as the name */
	scan(&m, "From: =?UTF-8?B?Ym9iQGV4YW1w4oCNbGUub3Jn?= <bob@example.org>\r\n", NULL);
	assert_null(test_find(&m, "DISPLAY_NAME_ADDRESS"));
	bw_message_free(&m);
}

/* ---- LOOKALIKE_DOMAIN ---- */

static void expect_lookalike(const char *from, const char *method, const char *protected_domain)
{
	char hdr[512];
	snprintf(hdr, sizeof hdr, "From: Someone <x@%s>\r\n", from);
	bw_message m;
	scan(&m, hdr, NULL);
	const bw_finding *f = test_find(&m, "LOOKALIKE_DOMAIN");
	if (!f)
		fail_msg("no LOOKALIKE_DOMAIN for %s", from);
	json_t *ev;
	const char *got = first_match_method(f, &ev);
	if (strcmp(got, method) != 0)
		fail_msg("%s: method %s, expected %s", from, got, method);
	json_t *m0 = json_array_get(json_object_get(ev, "matches"), 0);
	assert_string_equal(json_string_value(json_object_get(m0, "protected")), protected_domain);
	assert_string_equal(json_string_value(json_object_get(m0, "where")), "from");
	assert_non_null(json_object_get(m0, "skeleton"));
	assert_non_null(json_object_get(m0, "protected_skeleton"));
	assert_true(json_is_integer(json_object_get(m0, "distance")));
	assert_true(has_attack(f, "T1656"));
	json_decref(ev);
	bw_message_free(&m);
}

static void test_lookalike_fires(void **state)
{
	expect_lookalike("par1iament.example", "skeleton", "parliament.example");
	expect_lookalike("xn--bb-pmc.co.uk", "skeleton", "bbc.co.uk"); /* Cyrillic es */
	expect_lookalike("reuters.co", "swapped-tld", "reuters.com");
	expect_lookalike("reutres.com", "edit-distance", "reuters.com");
	expect_lookalike("theguardain.com", "edit-distance", "theguardian.com");
	expect_lookalike("bbc-news.example", "added-word", "bbc.co.uk");
	expect_lookalike("bbc.co.uk.mail-news.example", "protected-domain-as-subdomain", "bbc.co.uk");
	expect_lookalike("parliament-secure.example", "added-word", "parliament.example");
	expect_lookalike("ny-times.com", "edit-distance", "nytimes.com");
	expect_lookalike("reutersnews.example", "prefixed-label", "reuters.com");
	expect_lookalike("www.time.com.login.example", "protected-domain-as-subdomain", "time.com");

	/* a lookalike link host and the punycode flag */
	bw_message m;
	scan(&m, "From: a@example.org\r\n", "<a href=\"https://xn--reuter-nvf.com/x\">read</a>");
	const bw_finding *f = test_find(&m, "LOOKALIKE_DOMAIN");
	assert_non_null(f);
	json_t *ev = evidence(f);
	json_t *m0 = json_array_get(json_object_get(ev, "matches"), 0);
	assert_string_equal(json_string_value(json_object_get(m0, "where")), "link");
	assert_true(json_is_true(json_object_get(m0, "punycode")));
	json_decref(ev);
	bw_message_free(&m);

	/* a punycode From domain arrives decoded from the address parser */
	scan(&m, "From: a <a@xn--bb-pmc.co.uk>\r\n", NULL);
	f = test_find(&m, "LOOKALIKE_DOMAIN");
	assert_non_null(f);
	ev = evidence(f);
	m0 = json_array_get(json_object_get(ev, "matches"), 0);
	assert_true(json_is_true(json_object_get(m0, "punycode")));
	json_decref(ev);
	bw_message_free(&m);
}

static void test_lookalike_must_not_fire(void **state)
{
	const char *own[] = {"parliament.example", "mail.parliament.example", "bbc.co.uk", "news.bbc.co.uk",
			     "bbc.com", "reuters.com", "example.org", "cnm.com", "dw.org", "ftp.example",
			     "gmail.com", "newsletter.example.net"};
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
		char hdr[256];
		snprintf(hdr, sizeof hdr, "From: Someone <x@%s>\r\n", own[i]);
		bw_message m;
		scan(&m, hdr, NULL);
		if (test_find(&m, "LOOKALIKE_DOMAIN"))
			fail_msg("LOOKALIKE_DOMAIN fired for %s", own[i]);
		bw_message_free(&m);
	}
	bw_lookalike l;
	assert_false(bw_lookalike_check(eng->protected_ids, "www.theguardian.com", &l));
	/* short labels: skeleton equality only, no edit distance */
	assert_false(bw_lookalike_check(eng->protected_ids, "bbd.co.uk", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "cnm.com", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "mbc.nyc", &l)); /* "rnbc": skeletons are longer */
	/* two edits on an 8-letter label, a compound ending in a name */
	assert_false(bw_lookalike_check(eng->protected_ids, "lapampa.gob.ar", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "tagesspiegel.example", &l));
	/* generic-word domains: no typos or added words */
	assert_false(bw_lookalike_check(eng->protected_ids, "lime.com", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "sky-mail.example", &l));
	assert_false(bw_lookalike_check(eng->protected_ids, "bbc-news.cn", &l) && strcmp(l.protected_domain, "news.cn") == 0);
	bw_lookalike_free(&l);
}

/* Words dropped from a hyphenated protected label, and a protected label
 * spelled as hyphenated words with another word added. */
static void test_lookalike_words(void **state)
{
	bw_engine *e = engine_from("[protected]\ndomains = northern-daily-news.com; bankofengland.co.uk; "
				   "keystone-sda.ch\n");
	static const struct {
		const char *host, *method, *protected_domain;
	} hit[] = {
		{"northern-daily.com", "dropped-word", "northern-daily-news.com"},
		{"northern-news.net", "dropped-word", "northern-daily-news.com"},
		{"bank-of-england-alerts.com", "hyphens-added-word", "bankofengland.co.uk"},
		{"secure-bank-of-england.com", "hyphens-added-word", "bankofengland.co.uk"},
	};
	for (size_t i = 0; i < sizeof hit / sizeof hit[0]; i++) {
		bw_lookalike l;
		if (!bw_lookalike_check(e->protected_ids, hit[i].host, &l))
			fail_msg("no lookalike for %s", hit[i].host);
		assert_string_equal(l.method, hit[i].method);
		assert_string_equal(l.protected_domain, hit[i].protected_domain);
		assert_true(l.score == 3);
		bw_lookalike_free(&l);
	}
	/* one word left is just a word; words not from the start, or out of
	 * order; the name ending inside a word of the candidate */
	const char *miss[] = {"northern.com", "daily-news.com", "news-daily.com", "keystone.ch", "sda.ch",
			      "bankof-englandish.com"};
	for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++) {
		bw_lookalike l;
		if (bw_lookalike_check(e->protected_ids, miss[i], &l))
			fail_msg("lookalike %s (%s) for %s", l.protected_domain, l.method, miss[i]);
		bw_lookalike_free(&l);
	}
	bw_engine_free(e);
}

/* ---- FROM_ADDRESS_MISSING, and headers GMime's parser gives up on ----
 * (reduced from phishing_pot messages rspamd's REPLYTO_DOM_NEQ_FROM_DOM
 * caught and Bulwark did not) */

static void test_from_address_missing(void **state)
{
	bw_message m;
	/* sample-789: "Facebook" <> with a Reply-To at a freemail */
	scan(&m, "From: \"Facebook\" <>\r\nReply-To: support-team@freemail.example\r\n", NULL);
	assert_string_equal(m.from.name, "Facebook");
	assert_null(m.from.address);
	const bw_finding *f = test_find(&m, "FROM_ADDRESS_MISSING");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_MEDIUM);
	assert_true(f->score == 2);
	assert_true(has_attack(f, "T1656"));
	json_t *j = evidence(f);
	assert_string_equal(json_string_value(json_object_get(j, "display_name")), "Facebook");
	assert_string_equal(json_string_value(json_object_get(j, "reply_to")), "support-team@freemail.example");
	json_decref(j);
	const bw_finding *r = test_find(&m, "REPLY_TO_DIVERGES");
	assert_non_null(r);
	assert_non_null(strstr(r->summary, "shows no address"));
	bw_message_free(&m);

	/* sample-2492 "Name"<<>>, sample-1301 a bare name, sample-999 no '@' */
	scan(&m, "From: \"Jacob Doe\"<<>>\r\n", NULL);
	assert_string_equal(m.from.name, "Jacob Doe");
	assert_non_null(test_find(&m, "FROM_ADDRESS_MISSING"));
	assert_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
	scan(&m, "From: Rachid Doe\r\nReply-To: <rachid@freemail.example>\r\n", NULL);
	assert_string_equal(m.from.name, "Rachid Doe");
	assert_non_null(test_find(&m, "FROM_ADDRESS_MISSING"));
	assert_non_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
	scan(&m, "From: \"BANK\"<host-1.compute.cloud.example>\r\n", NULL);
	assert_non_null(test_find(&m, "FROM_ADDRESS_MISSING"));
	bw_message_free(&m);
	scan(&m, "", NULL);
	f = test_find(&m, "FROM_ADDRESS_MISSING");
	assert_non_null(f);
	assert_string_equal(f->summary, "The message has no From header");
	bw_message_free(&m);

	/* a protected name with no address is still impersonation */
	scan(&m, "From: \"Jane Doe\" <>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	bw_message_free(&m);

	/* an ordinary From: none of this */
	scan(&m, "From: Alice <alice@example.org>\r\nReply-To: alice@example.org\r\n", NULL);
	assert_null(test_find(&m, "FROM_ADDRESS_MISSING"));
	assert_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
}

static void test_unparseable_from_and_reply_to(void **state)
{
	bw_message m;
	/* sample-6573: specials in an unquoted name */
	scan(&m, "From: Congratulation [username] <no-reply@shop.example>\r\n"
		 "Reply-To: reply-x@in2.esp.example\r\n", NULL);
	assert_string_equal(m.from.address, "no-reply@shop.example");
	assert_string_equal(m.from.name, "Congratulation [username]");
	assert_null(test_find(&m, "FROM_ADDRESS_MISSING"));
	assert_non_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
	/* sample-1041: "->" and no space before the address */
	scan(&m, "From: Dringend->Icloud\xf0\x9f\x93\xb1<newsletter@news.shop.example>\r\n"
		 "Reply-To: reply_to@winner.example\r\n", NULL);
	assert_string_equal(m.from.address, "newsletter@news.shop.example");
	assert_non_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
	/* sample-7161: a bracketed local part in the Reply-To */
	scan(&m, "From: Abo <roundup@random.example>\r\nReply-To: reply-[nu_24]@in2.esp.example\r\n", NULL);
	assert_string_equal(m.reply_to.address, "reply-[nu_24]@in2.esp.example");
	assert_non_null(test_find(&m, "REPLY_TO_DIVERGES"));
	bw_message_free(&m);
}

/* ---- REPLY_TO_DIVERGES, ENVELOPE_FROM_DIVERGES ---- */

static void test_divergence(void **state)
{
	bw_message m;
	scan(&m, "Return-Path: <bounce@esp.example>\r\nFrom: a@example.org\r\nReply-To: list@lists.example\r\n", NULL);
	const bw_finding *r = test_find(&m, "REPLY_TO_DIVERGES"), *env = test_find(&m, "ENVELOPE_FROM_DIVERGES");
	assert_non_null(r);
	assert_non_null(env);
	assert_true(r->score == 0);
	assert_int_equal(r->severity, BW_SEV_LOW);
	assert_true(env->score == 0);
	assert_int_equal(env->severity, BW_SEV_INFO);
	assert_true(m.score == 0);
	bw_message_free(&m);

	scan(&m, "Return-Path: <b@bounces.example.org>\r\nFrom: a@example.org\r\nReply-To: c@mail.example.org\r\n",
	     NULL);
	assert_null(test_find(&m, "REPLY_TO_DIVERGES"));
	assert_null(test_find(&m, "ENVELOPE_FROM_DIVERGES"));
	bw_message_free(&m);

	/* the envelope sender's evidence says whether the From claims an identity */
	scan(&m, "Return-Path: <b@esp.example>\r\nFrom: \"Reuters\" <news@mail.example>\r\n", NULL);
	env = test_find(&m, "ENVELOPE_FROM_DIVERGES");
	assert_non_null(env);
	json_t *eev = evidence(env);
	assert_true(json_is_true(json_object_get(eev, "claims_protected_identity")));
	json_decref(eev);
	bw_message_free(&m);
	scan(&m, "Return-Path: <b@esp.example>\r\nFrom: \"Ann\" <ann@mail.example>\r\n", NULL);
	eev = evidence(test_find(&m, "ENVELOPE_FROM_DIVERGES"));
	assert_true(json_is_false(json_object_get(eev, "claims_protected_identity")));
	json_decref(eev);
	bw_message_free(&m);

	scan(&m, "From: \"Le Monde\" <redaction@lemonde-presse.example>\r\nReply-To: j@freemail.example\r\n", NULL);
	r = test_find(&m, "REPLY_TO_DIVERGES");
	assert_non_null(r);
	assert_true(r->score == 2);
	bw_message_free(&m);
}

/* ---- scores ---- */

static void test_scores(void **state)
{
	bw_message m;
	/* ordinary mail */
	scan(&m, "Return-Path: <a@example.org>\r\nFrom: Alice Example <a@example.org>\r\n",
	     "<p>See <a href=\"https://www.example.org/agenda\">www.example.org</a></p>");
	assert_true(m.score == 0);
	assert_int_equal(m.verdict, BW_CLEAN);
	bw_message_free(&m);
	/* an outlet's name over a lookalike domain: suspicious */
	scan(&m, "From: \"BBC News\" <desk@bbc-news.example>\r\n", NULL);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	assert_non_null(test_find(&m, "LOOKALIKE_DOMAIN"));
	assert_int_equal(m.verdict, BW_SUSPICIOUS);
	bw_message_free(&m);
	/* and with tracking: malicious */
	scan(&m, "From: \"BBC News\" <desk@bbc-news.example>\r\n",
	     "<img src=\"https://t.bbc-news.example/o.gif?u=mp%40parliament.example\" width=1 height=1>");
	assert_non_null(test_find(&m, "TRACKING_PIXEL"));
	assert_int_equal(m.verdict, BW_MALICIOUS);
	bw_message_free(&m);
}

static void test_sample_message(void **state)
{
	FILE *fp = fopen(BW_SOURCE_DIR "/samples/news-impersonation.eml", "rb");
	assert_non_null(fp);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf, fp);
	fclose(fp);
	bw_message m = {0};
	bw_engine_scan(eng, &m, "s.eml", buf, n);
	assert_non_null(test_find(&m, "DISPLAY_NAME_IMPERSONATION"));
	assert_non_null(test_find(&m, "LOOKALIKE_DOMAIN"));
	assert_non_null(test_find(&m, "LINK_TEXT_MISMATCH"));
	assert_non_null(test_find(&m, "REPLY_TO_DIVERGES"));
	assert_int_equal(m.verdict, BW_MALICIOUS);
	bw_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outlet_list_loads),
		cmocka_unit_test(test_config_identities),
		cmocka_unit_test(test_skeleton_and_distance),
		cmocka_unit_test(test_display_name_outlet),
		cmocka_unit_test(test_display_name_must_not_fire),
		cmocka_unit_test(test_display_name_person),
		cmocka_unit_test(test_display_name_address),
		cmocka_unit_test(test_lookalike_fires),
		cmocka_unit_test(test_lookalike_must_not_fire),
		cmocka_unit_test(test_lookalike_words),
		cmocka_unit_test(test_display_name_spaced_letters),
		cmocka_unit_test(test_outlet_namesakes),
		cmocka_unit_test(test_divergence),
		cmocka_unit_test(test_display_address_with_hidden_marks),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_sample_message),
		cmocka_unit_test(test_from_address_missing),
		cmocka_unit_test(test_unparseable_from_and_reply_to),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
