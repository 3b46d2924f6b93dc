/* Unit tests for the deceptive-link detectors (src/detect/links.c): each
 * LINK_* finding fires on its construct and stays quiet on ordinary links,
 * same-brand links across suffixes and unwrappable redirect wrappers. */
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
#include "detect/detect.h"
#include "helpers.h"

#define SHORTENERS BW_SHARED_DIR "/intel/misp-warninglists/url-shortener/list.json"

static bw_engine *eng, *eng_noshort;

static int setup(void **state)
{
	eng = test_engine_from("[protected]\ndomains = parliament.uk\noutlets =\n"
			       "[links]\nshorteners = " SHORTENERS "\n", NULL);
	eng_noshort = test_engine_from("[protected]\noutlets =\n", NULL);
	return 0;
}

static int teardown(void **state)
{
	bw_engine_free(eng);
	bw_engine_free(eng_noshort);
	return 0;
}

static void scan_with(bw_engine *e, bw_message *m, const char *html)
{
	char buf[8192];
	snprintf(buf, sizeof buf,
		 "From: Alice <alice@example.org>\r\nTo: mp@parliament.uk\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
		 "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>%s</body></html>\r\n",
		 html);
	memset(m, 0, sizeof *m);
	bw_engine_scan(e, m, "t.eml", buf, strlen(buf));
}

static void scan(bw_message *m, const char *html)
{
	scan_with(eng, m, html);
}

static json_t *first_link(const bw_finding *f)
{
	json_error_t je;
	json_t *j = json_loads(f->evidence_json, 0, &je);
	assert_non_null(j);
	json_t *l = json_incref(json_array_get(json_object_get(j, "links"), 0));
	json_decref(j);
	assert_non_null(l);
	return l;
}

static const char *LINK_IDS[] = {"LINK_TEXT_MISMATCH", "LINK_IP_LITERAL", "LINK_USERINFO",
				 "LINK_CONFUSABLE_HOST", "LINK_SHORTENER", "LINK_SCRIPT_OR_DATA_URI",
				 "LINK_OBFUSCATED"};

static void assert_no_link_findings(const char *html)
{
	bw_message m;
	scan(&m, html);
	for (size_t i = 0; i < sizeof LINK_IDS / sizeof LINK_IDS[0]; i++)
		if (test_find(&m, LINK_IDS[i]))
			fail_msg("%s fired on %s", LINK_IDS[i], html);
	bw_message_free(&m);
}

static void test_text_mismatch(void **state)
{
	bw_message m;
	scan(&m, "<a href=\"https://evil.example/login\">https://www.parliament.uk/vote</a>");
	const bw_finding *f = test_find(&m, "LINK_TEXT_MISMATCH");
	assert_non_null(f);
	assert_true(f->score == 3); /* the text shows a protected domain */
	assert_true(bw_strvec_contains(&f->attack, "T1566.002"));
	json_t *l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "text_domain")), "parliament.uk");
	assert_string_equal(json_string_value(json_object_get(l, "href_domain")), "evil.example");
	assert_non_null(json_object_get(l, "text_skeleton"));
	assert_true(json_integer_value(json_object_get(l, "distance")) > 0);
	json_decref(l);
	bw_message_free(&m);

	scan(&m, "<a href=\"https://evil.example/\">www.bank.example</a>");
	f = test_find(&m, "LINK_TEXT_MISMATCH");
	assert_non_null(f);
	assert_true(f->score == 2);
	bw_message_free(&m);

	/* behind a shortener: the destination is unknown, low score */
	scan(&m, "<a href=\"https://bit.ly/3abc\">www.bank.example</a>");
	f = test_find(&m, "LINK_TEXT_MISMATCH");
	assert_non_null(f);
	assert_true(f->score == 0.5);
	bw_message_free(&m);

	/* the first word of the text is the domain it shows */
	scan(&m, "<a href=\"https://evil.example/\">www.bank.example fonts.html</a>");
	f = test_find(&m, "LINK_TEXT_MISMATCH");
	assert_non_null(f);
	l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "text_domain")), "bank.example");
	json_decref(l);
	bw_message_free(&m);

	/* a wrapper whose destination differs from the text */
	scan(&m, "<a href=\"https://click.esp.example/r?u=https%3A%2F%2Fevil.example%2F\">www.example.org</a>");
	assert_non_null(test_find(&m, "LINK_TEXT_MISMATCH"));
	bw_message_free(&m);
}

static void test_text_mismatch_must_not_fire(void **state)
{
	/* same site, same brand across suffixes, unwrappable wrapper, plain words */
	assert_no_link_findings("<a href=\"https://example.org/a\">www.example.org</a>");
	assert_no_link_findings("<a href=\"https://shop.brand.com/x\">brand.co.uk</a>");
	assert_no_link_findings("<a href=\"https://brand.com/x\">https://www.brand.co.uk/offers</a>");
	assert_no_link_findings("<a href=\"https://click.esp.example/r?u=https%3A%2F%2Fwww.example.org%2Fpage\">"
				"www.example.org</a>");
	assert_no_link_findings("<a href=\"https://evil.example/\">Click here</a>");
	/* phishing_pot sample-6001: a typo, not a domain (no top-level domain) */
	assert_no_link_findings("<a href=\"https://url2089.esp.example/ls/click?upn=x\">www.futuresoftindiacom</a>");
	assert_no_link_findings("<a href=\"mailto:alice@example.org\">alice@example.org</a>");
}

static const char *mismatch_text_domain(const char *html)
{
	static char shown[256];
	bw_message m;
	scan(&m, html);
	const bw_finding *f = test_find(&m, "LINK_TEXT_MISMATCH");
	shown[0] = '\0';
	if (f) {
		json_t *l = first_link(f);
		snprintf(shown, sizeof shown, "%s", json_string_value(json_object_get(l, "text_domain")));
		json_decref(l);
	}
	bw_message_free(&m);
	return shown;
}

/* The link text as a reader sees it (reduced from phishing_pot messages
 * rspamd's PHISHING caught and Bulwark did not). */
static void test_text_as_the_reader_sees_it(void **state)
{
	/* sample-340: a URL split over inline elements is one word */
	assert_string_equal(mismatch_text_domain("<a href=\"https://links.esp.example/u/click?_t=1\">"
						 "<span>https://verification.</span><span>wallet.example</span>"
						 "/KYC?id=0</a>"),
			    "wallet.example");
	/* sample-2435: misnested markup makes the parser clone the <a>; still one text */
	assert_string_equal(mismatch_text_domain("<sp><a href=\"https://t.esp.example/ls/click?upn=x\">"
						 "https://www.<span class=\"il\">brand</spa>.example/c<wbr>laim</a>"),
			    "brand.example");
	/* sample-6898: an unclosed <a> is cloned into each later block, but an
	 * <a> written in the source to the same URL is a link of its own */
	bw_message m;
	scan(&m, "<p><a href=\"https://casino.example/4z\">Offer</p><p>more</p>"
		 "<p>Play responsibly <a href=\"https://casino.example/4z\">brand.de</a></p>");
	assert_int_equal(m.nlinks, 2);
	assert_string_equal(m.links[0].text, "Offer more Play responsibly");
	assert_string_equal(m.links[1].text, "brand.de");
	assert_non_null(test_find(&m, "LINK_TEXT_MISMATCH"));
	bw_message_free(&m);
	/* sample-6311: a leading &nbsp; */
	assert_string_equal(mismatch_text_domain("<a href=\"http://emailservices.example/4zYM\">"
						 "&nbsp;https://www.brand.example/nl/contact</a>"),
			    "brand.example");
	/* sample-6413: a domain, then a word ("Kaufland.de Kundenkonto") */
	assert_string_equal(mismatch_text_domain("<a href=\"http://emailservices.example/4QHy\">"
						 "Brand.de Kundenkonto</a>"),
			    "brand.de");
	/* sample-61: two images whose alt shows a domain */
	assert_string_equal(mismatch_text_domain("<a href=\"http://shop.example/cl/1\"><img src=\"cid:a\" "
						 "alt=\"Dating.example\"><br><img src=\"cid:b\" alt=\"Dating.example\"></a>"),
			    "dating.example");
	/* sample-1400: an href with no scheme opens as http:// in mail clients */
	assert_string_equal(mismatch_text_domain("<a href=\"redirect.example/cl/415\">dating.example</a>"),
			    "dating.example");
	/* sample-3565, sample-4390: the same name under new top-level domains */
	assert_string_equal(mismatch_text_domain("<a href=\"https://osmosis.claims/?a=1\">support.osmosis.zone</a>"),
			    "osmosis.zone");
	assert_string_equal(mismatch_text_domain("<a href=\"https://t6wer.club/\">t6wer.top</a>"), "t6wer.top");
}

static void test_text_as_the_reader_sees_it_must_not_fire(void **state)
{
	/* words in separate blocks stay separate words */
	assert_no_link_findings("<a href=\"https://evil.example/\"><div>Visit</div><div>www.example.org</div></a>");
	/* a sentence that begins with a domain is prose */
	assert_no_link_findings("<a href=\"https://evil.example/\">Brand.de has new offers for you</a>");
	/* a relative href with no host-like start is no link at all */
	bw_message m;
	scan(&m, "<a href=\"page.html\">www.example.org</a> <a href=\"file.zip\">example.org</a>");
	assert_int_equal(m.nlinks, 0);
	bw_message_free(&m);
	scan(&m, "<a href=\"redirect.example/cl/415\">here</a>");
	assert_int_equal(m.nlinks, 1);
	assert_string_equal(m.links[0].url, "http://redirect.example/cl/415");
	bw_message_free(&m);
	/* two adjacent links to one URL with text between stay two links */
	scan(&m, "<a href=\"https://example.org/\">one</a> and <a href=\"https://example.org/\">two</a>");
	assert_int_equal(m.nlinks, 2);
	assert_string_equal(m.links[1].text, "two");
	bw_message_free(&m);
	/* the established same-brand exemption still holds */
	assert_no_link_findings("<a href=\"https://brand.com/\">brand.de</a>");
}

static void test_ip_userinfo_script(void **state)
{
	bw_message m;
	scan(&m, "<a href=\"http://192.0.2.7/login\">log in</a>");
	const bw_finding *f = test_find(&m, "LINK_IP_LITERAL");
	assert_non_null(f);
	json_t *l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "host")), "192.0.2.7");
	json_decref(l);
	bw_message_free(&m);

	scan(&m, "<a href=\"https://parliament.uk@evil.example/\">vote</a>");
	f = test_find(&m, "LINK_USERINFO");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_HIGH);
	l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "userinfo")), "parliament.uk");
	assert_string_equal(json_string_value(json_object_get(l, "host")), "evil.example");
	json_decref(l);
	bw_message_free(&m);

	scan(&m, "<a href=\"javascript:alert(1)\">open</a> <a href=\"data:text/html,hi\">doc</a>");
	f = test_find(&m, "LINK_SCRIPT_OR_DATA_URI");
	assert_non_null(f);
	assert_true(f->score == 3);
	bw_message_free(&m);
}

/* sample-1819 ("https://1.2.3"), sample-6776 ("http://012152606204/", an
 * octal number): an IP address the reader cannot recognise as one */
static void test_disguised_ip(void **state)
{
	const char *disguised[] = {"http://1.2.3/", "http://012152606204/x", "http://0x7f.1/", "http://3232235777/",
				   "http://user@0300.0250.0.1:8080/"};
	for (size_t i = 0; i < sizeof disguised / sizeof disguised[0]; i++) {
		char html[256];
		snprintf(html, sizeof html, "<a href=\"%s\">Open Gift</a>", disguised[i]);
		bw_message m;
		scan(&m, html);
		assert_non_null(test_find(&m, "LINK_IP_LITERAL"));
		const bw_finding *f = test_find(&m, "LINK_OBFUSCATED");
		if (!f)
			fail_msg("no LINK_OBFUSCATED for %s", disguised[i]);
		json_t *l = first_link(f);
		assert_string_equal(json_string_value(json_object_get(l, "reason")),
				    "IP address not written as four decimal numbers");
		json_decref(l);
		bw_message_free(&m);
	}
	/* a dotted quad, with port, user-info or a trailing dot, is plainly an IP */
	const char *plain[] = {"http://192.0.2.7/login", "http://192.0.2.7:8080/", "http://192.0.2.7./"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		char html[256];
		snprintf(html, sizeof html, "<a href=\"%s\">log in</a>", plain[i]);
		bw_message m;
		scan(&m, html);
		assert_non_null(test_find(&m, "LINK_IP_LITERAL"));
		if (test_find(&m, "LINK_OBFUSCATED"))
			fail_msg("LINK_OBFUSCATED for %s", plain[i]);
		bw_message_free(&m);
	}
}

/* forms post what the reader types: their targets are links too */
static void test_form_targets(void **state)
{
	bw_message m;
	scan(&m, "<form action=\"javascript:steal()\"><input name=p type=password><button>Log in</button></form>");
	assert_non_null(test_find(&m, "LINK_SCRIPT_OR_DATA_URI"));
	bw_message_free(&m);
	scan(&m, "<form action=\"https://login.example/\"><input type=submit formaction=\"http://192.0.2.9/p\">"
		 "<button formaction=\"data:text/html,x\">Go</button></form>");
	assert_non_null(test_find(&m, "LINK_IP_LITERAL"));
	assert_non_null(test_find(&m, "LINK_SCRIPT_OR_DATA_URI"));
	assert_int_equal(m.nlinks, 3);
	bw_message_free(&m);
	assert_no_link_findings("<form action=\"https://www.example.org/search\"><input name=q></form>");
}

static void test_confusable_host(void **state)
{
	bw_message m;
	/* Cyrillic a + Latin: mixed script */
	scan(&m, "<a href=\"https://\xd0\xb0pple.example/\">apple</a>");
	const bw_finding *f = test_find(&m, "LINK_CONFUSABLE_HOST");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_MEDIUM);
	assert_true(bw_strvec_contains(&f->attack, "T1036"));
	json_t *l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "skeleton")), "apple.exarnple");
	json_decref(l);
	bw_message_free(&m);
	/* single-script IDN: punycode, low */
	scan(&m, "<a href=\"https://m\xc3\xbcnchen.example/\">Stadt</a>");
	f = test_find(&m, "LINK_CONFUSABLE_HOST");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_LOW);
	assert_true(f->score == 1);
	bw_message_free(&m);
}

static void test_shortener(void **state)
{
	bw_message m;
	scan(&m, "<a href=\"https://bit.ly/3abcDEF\">details</a>");
	const bw_finding *f = test_find(&m, "LINK_SHORTENER");
	assert_non_null(f);
	assert_true(f->score == 0.5);
	bw_message_free(&m);
	/* no list configured: quietly skipped */
	scan_with(eng_noshort, &m, "<a href=\"https://bit.ly/3abcDEF\">details</a>");
	assert_null(test_find(&m, "LINK_SHORTENER"));
	bw_message_free(&m);
}

static void test_obfuscated(void **state)
{
	bw_message m;
	scan(&m, "<a href=\"https://evil.example/x\">invoice\xe2\x80\xae" "fdp.exe</a>");
	const bw_finding *f = test_find(&m, "LINK_OBFUSCATED");
	assert_non_null(f);
	assert_true(bw_strvec_contains(&f->attack, "T1036.002"));
	bw_message_free(&m);

	scan(&m, "<a href=\"https://evil.example/x\">pay\xe2\x80\x8bpal</a>");
	assert_non_null(test_find(&m, "LINK_OBFUSCATED"));
	bw_message_free(&m);

	/* a zero-width character in the host, as an entity and raw: the parsed
	 * URL no longer shows it, the href did */
	const char *zw_hosts[] = {"<a href=\"https://pay&#8203;pal.com/\">PayPal</a>",
				  "<a href=\"https://pay\xe2\x80\x8bpal.com/login\">PayPal</a>",
				  "<a href=\"https://pay&shy;pal.com/\">PayPal</a>"};
	for (size_t i = 0; i < sizeof zw_hosts / sizeof zw_hosts[0]; i++) {
		scan(&m, zw_hosts[i]);
		f = test_find(&m, "LINK_OBFUSCATED");
		if (!f)
			fail_msg("no LINK_OBFUSCATED for %s", zw_hosts[i]);
		json_t *zl = first_link(f);
		assert_string_equal(json_string_value(json_object_get(zl, "reason")), "invisible characters in the host");
		json_decref(zl);
		bw_message_free(&m);
	}
	/* ... but not in the path, which URL parsing keeps (percent-encoded) */
	scan(&m, "<a href=\"https://paypal.com/a&#8203;b\">PayPal</a>");
	f = test_find(&m, "LINK_OBFUSCATED");
	if (f) {
		json_t *zl = first_link(f);
		assert_string_not_equal(json_string_value(json_object_get(zl, "reason")), "invisible characters in the host");
		json_decref(zl);
	}
	bw_message_free(&m);

	scan(&m, "<a href=\"https://%65vil.example/x\">home</a>");
	f = test_find(&m, "LINK_OBFUSCATED");
	assert_non_null(f);
	json_t *l = first_link(f);
	assert_string_equal(json_string_value(json_object_get(l, "reason")), "percent-encoded host");
	json_decref(l);
	bw_message_free(&m);

	scan(&m, "<a href=\"https://evil.example/x\" style=\"font-size:0\">hidden words</a>");
	f = test_find(&m, "LINK_OBFUSCATED");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_LOW);
	bw_message_free(&m);

	/* a size relative to zero is zero */
	scan(&m, "<div style=\"font-size:0\"><a href=\"https://evil.example/x\">hidden "
		 "<span style=\"font-size:150%\">still</span></a></div>");
	assert_non_null(test_find(&m, "LINK_OBFUSCATED"));
	bw_message_free(&m);
}

/* Email templates put font-size: 0 on a wrapper to close the gaps between
 * inline blocks, and a real size on what is inside (phishing_pot sample-309,
 * -615, -5707 and ten more of twenty Bulwark-only LINK_OBFUSCATED reviewed);
 * social icons are images whose alt is the link text (sample-6330). */
static void test_zero_font_wrapper_is_no_obfuscation(void **state)
{
	assert_no_link_findings("<table><tr><td style=\"font-size:0px\"><a href=\"https://shop.example/b\">"
				"<div style=\"font-size:14px\">CLAIM NOW!</div></a></td></tr></table>");
	assert_no_link_findings("<body style=\"font-size:0\"><p><span style=\"font-size: 18px;\">More? "
				"<a href=\"https://shop.example/a\">Look here &gt;&gt;</a></span></p></body>");
	assert_no_link_findings("<center style=\"font-size:0px\"><a href=\"https://shop.example/i\">"
				"<img src=\"https://img.example/instagram.png\" alt=\"Instagram\" width=\"34\"></a></center>");
	/* but an image hidden with the text is hidden */
	bw_message m;
	scan(&m, "<div style=\"width:0;max-height:0;overflow:hidden\"><a href=\"https://evil.example/i\">"
		 "<img src=\"https://img.example/x.png\" alt=\"Instagram\"></a></div>");
	assert_non_null(test_find(&m, "LINK_OBFUSCATED"));
	bw_message_free(&m);
}

static void test_ordinary_links(void **state)
{
	assert_no_link_findings("<p><a href=\"https://www.example.org/agenda\">Agenda</a> and "
				"<a href=\"https://news.example.net/a?id=1\">https://news.example.net/a</a></p>");
	bw_message m;
	scan(&m, "<a href=\"https://www.example.org/agenda\">Agenda</a>");
	assert_true(m.score == 0);
	bw_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_mismatch),
		cmocka_unit_test(test_text_mismatch_must_not_fire),
		cmocka_unit_test(test_text_as_the_reader_sees_it),
		cmocka_unit_test(test_text_as_the_reader_sees_it_must_not_fire),
		cmocka_unit_test(test_ip_userinfo_script),
		cmocka_unit_test(test_confusable_host),
		cmocka_unit_test(test_disguised_ip),
		cmocka_unit_test(test_form_targets),
		cmocka_unit_test(test_zero_font_wrapper_is_no_obfuscation),
		cmocka_unit_test(test_shortener),
		cmocka_unit_test(test_obfuscated),
		cmocka_unit_test(test_ordinary_links),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
