/* Unit tests for bw_html_sanitize (src/html/sanitize.c): the copy loads
 * nothing remote (checked by extracting it again), keeps every other byte,
 * keeps links clickable and unwraps click-tracking redirects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/html.h"
#include "bulwark/mail.h"

static bw_limits lim;

static char *sanitize(const char *html, bw_sanitize_stats *st)
{
	size_t n = 12345;
	char *out = bw_html_sanitize(html, strlen(html), &lim, st, &n);
	assert_non_null(out);
	assert_int_equal(n, strlen(out));
	return out;
}

/* Remote resources html still lists (whether loaded on open or not). */
static size_t remote_left(const char *html, bool show)
{
	bw_part part = {.kind = BW_PART_HTML, .data = (char *)html, .len = strlen(html)};
	bw_message m;
	memset(&m, 0, sizeof m);
	m.parts = &part;
	m.nparts = 1;
	bw_html_extract(&m, 0, &lim);
	size_t n = m.nresources;
	for (size_t i = 0; show && i < n; i++)
		fprintf(stderr, "left: %s %s\n", m.resources[i].element, m.resources[i].url);
	m.parts = NULL;
	m.nparts = 0;
	bw_message_free(&m);
	return n;
}

static const char everything[] =
	"<html><head><base href='https://base.example/d/'>\n"
	"<meta http-equiv=refresh content='10;url=https://a.example/go'>\n"
	"<link rel=stylesheet href='https://a.example/s.css'><link rel=icon href=/favicon.ico>\n"
	"<link rel=preload as=font href='https://a.example/f.woff2'>\n"
	"<style>@import 'https://a.example/i.css';\n"
	"@font-face{font-family:F;src:url(https://a.example/f.woff)}\n"
	"body{background:url(bg.png)} .x{cursor:url(https://a.example/c.cur),auto}</style>\n"
	"<noscript><link rel=stylesheet href='https://a.example/ns.css'></noscript></head>\n"
	"<body background='https://a.example/body.png'>\n"
	"<p>Dear customer, <b>please</b> verify.</p>\n"
	"<img src='logo.png' alt='Bank &amp; Co logo' width=120>\n"
	"<img srcset='https://a.example/1.png 1x, https://a.example/2.png 2x' alt=pic>\n"
	"<picture><source srcset='https://a.example/p.webp'><img src='https://a.example/p.png' alt=''></picture>\n"
	"<table background='https://a.example/t.png'><tr><td style=\"background:url(&quot;https://a.example/q.png&quot;)\">cell</td></tr></table>\n"
	"<div style='background-image:url(https://a.example/d.png);color:red'>styled</div>\n"
	"<iframe src='https://a.example/f.html'></iframe><iframe srcdoc='<img src=https://a.example/sd.png>'></iframe>\n"
	"<video poster='https://a.example/v.jpg'><source src='https://a.example/v.mp4'><track src='https://a.example/t.vtt'></video>\n"
	"<audio src='https://a.example/a.mp3'></audio><input type=image src='https://a.example/in.png' alt=Go>\n"
	"<object data='https://a.example/o.swf'></object><embed src='https://a.example/e.swf'>\n"
	"<svg><image href='https://a.example/s.png'/><use xlink:href='https://a.example/u.svg#i'/></svg>\n"
	"<img src='//cdn.example/protocol-relative.png'><script src='https://a.example/x.js'></script>\n"
	"<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' alt=inline><img src='cid:logo@mail' alt=cid>\n"
	"<a href='https://bank.example/login'>Sign in</a> <a href='help.html'>Help</a>\n"
	"</body></html>\n";

static void test_nothing_remote_left(void **state)
{
	assert_true(remote_left(everything, false) > 25);
	bw_sanitize_stats st;
	char *out = sanitize(everything, &st);
	assert_int_equal(remote_left(out, true), 0);
	/* nothing of the remote hosts survives outside the links */
	assert_null(strstr(out, "a.example"));
	assert_null(strstr(out, "cdn.example"));
	/* text, alt text, inline and cid images unchanged */
	assert_non_null(strstr(out, "<p>Dear customer, <b>please</b> verify.</p>\n"));
	assert_non_null(strstr(out, "alt='Bank &amp; Co logo' width=120>"));
	assert_non_null(strstr(out, "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw=' alt=inline>"));
	assert_non_null(strstr(out, "<img src='cid:logo@mail' alt=cid>"));
	assert_non_null(strstr(out, ">cell</td>"));
	assert_non_null(strstr(out, "color:red'>styled</div>"));
	/* links stay; relative ones become absolute as <base> goes */
	assert_non_null(strstr(out, "<a href='https://bank.example/login'>Sign in</a>"));
	assert_non_null(strstr(out, "<a href=\"https://base.example/d/help.html\">Help</a>"));
	assert_null(strstr(out, "base.example/d/'"));
	assert_non_null(strstr(out, "data-bulwark-removed=\"src\""));
	assert_true(st.images >= 7);
	assert_true(st.backgrounds >= 4);
	assert_int_equal(st.stylesheets, 3);
	assert_int_equal(st.fonts, 1);
	assert_true(st.frames >= 4);
	assert_int_equal(st.media, 4);
	assert_int_equal(st.links_unwrapped, 0);
	free(out);
}

static void test_byte_identical_without_remote(void **state)
{
	const char *html = "<!DOCTYPE html><html><head><style>p { color: red }</style></head>\r\n"
			   "<body><p class=\"a\">Caf\xc3\xa9 &amp; <i>tea</i></p><img src=\"cid:x\" alt=\"A &lt; B\">"
			   "<a href=\"https://example.org/x?y=1&amp;z=2\">link</a><!-- https://a.example/c.png -->"
			   "</body></html>";
	bw_sanitize_stats st;
	char *out = sanitize(html, &st);
	assert_string_equal(out, html);
	bw_sanitize_stats zero = {0};
	assert_memory_equal(&st, &zero, sizeof st);
	free(out);
}

static void test_css_edits(void **state)
{
	bw_sanitize_stats st;
	char *out = sanitize("<style>\n@import url(\"https://a.example/i.css\") screen;\n"
			     "a { background: #fff url(https://a.example/b.png) no-repeat; }\n</style>"
			     "<p style=\"background:url('https://a.example/p.png');margin:0\">x</p>"
			     "<p style=\"background:url(&quot;https://a.example/q.png&quot;) &amp; more\">y</p>", &st);
	assert_string_equal(out, "<style>\n\na { background: #fff none no-repeat; }\n</style>"
				 "<p style=\"background:none;margin:0\">x</p>"
				 "<p style=\"background:none &amp; more\">y</p>");
	assert_int_equal(st.stylesheets, 1);
	assert_int_equal(st.backgrounds, 3);
	free(out);
}

static void test_link_unwrap(void **state)
{
	bw_sanitize_stats st;
	char *out = sanitize("<a href='https://t.example/r?url=https://dest.example/page'>go</a>"
			     "<a href=\"https://plain.example/\">plain</a>", &st);
	assert_string_equal(out, "<a href=\"https://dest.example/page\">go</a>"
				 "<a href=\"https://plain.example/\">plain</a>");
	assert_int_equal(st.links_unwrapped, 1);
	free(out);
}

/* A browser keeps the first of duplicate attributes (and merges a second
 * <body>'s), but Chromium's preload scanner may load a later one: none of
 * them may come back once the first is gone. */
static void test_duplicates_cannot_take_over(void **state)
{
	const char *html = "<body background='https://a.example/1.png'>"
			   "<link rel=stylesheet href='https://a.example/a.css' HREF='https://a.example/b.css'>"
			   "<img src='https://a.example/2.png' src='https://a.example/3.png'>"
			   "<body background='https://a.example/4.png'>";
	char *out = sanitize(html, NULL);
	assert_null(strstr(out, "a.example/1"));
	assert_null(strstr(out, "a.example/a.css"));
	assert_null(strstr(out, "a.example/b.css"));
	assert_null(strstr(out, "a.example/2"));
	assert_null(strstr(out, "a.example/3"));
	/* the second <body>'s attribute stays ignored: the first keeps an empty one */
	assert_non_null(strstr(out, "<body background=\"\" data-bulwark-removed=\"background\">"));
	assert_int_equal(remote_left(out, true), 0);
	free(out);
}

static void test_deep_nesting(void **state)
{
	size_t n = 1000000;
	const char *tail = "<img src='https://a.example/deep.png'>";
	char *html = malloc(n * 5 + strlen(tail) + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(html + i * 5, "<div>", 5);
	strcpy(html + n * 5, tail);
	size_t len;
	char *out = bw_html_sanitize(html, strlen(html), &lim, NULL, &len);
	/* what was not read is not passed on */
	assert_true(len < strlen(html));
	assert_null(strstr(out, "a.example"));
	free(out);
	free(html);
}

static void test_empty_and_broken(void **state)
{
	size_t len = 99;
	char *out = bw_html_sanitize(NULL, 0, &lim, NULL, &len);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);
	/* a tag cut off at the end would load if a viewer appended to the copy */
	out = sanitize("<p>x</p><img alt=a src='https://a.example/x.png", NULL);
	assert_string_equal(out, "<p>x</p>");
	free(out);
}

/* A NUL in an HTML part must not cut off what follows it in the sanitized
 * message (g_mime_text_part_set_text takes a C string): the tracker after it
 * is neutralized and the text after it is kept. */
static void test_nul_in_html_part(void **state)
{
	(void)state;
	static const char msg[] =
		"From: a@example.org\r\nTo: b@example.net\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
		"Content-Type: text/html; charset=utf-8\r\n\r\n"
		"<p>before NUL\0after NUL <img src=\"http://t.example/p.gif\" width=1 height=1> tail text</p>\r\n";
	static const char bare[] = "<p>before NUL\0after NUL <img src=\"http://t.example/p.gif\"> tail text</p>";
	const struct { const char *data; size_t len; } inputs[] = {
		{msg, sizeof msg - 1}, {bare, sizeof bare - 1}};
	for (size_t i = 0; i < 2; i++) {
		bw_sanitize_stats st;
		size_t n = 0;
		char *err = NULL;
		char *out = bw_mail_sanitize(inputs[i].data, inputs[i].len, &lim, &st, &n, &err);
		assert_non_null(out);
		assert_int_equal(st.images, 1);
		/* quoted-printable: U+FFFD is =EF=BF=BD */
		assert_non_null(strstr(out, "before NUL=EF=BF=BDafter NUL"));
		assert_non_null(strstr(out, "tail text</p>"));
		assert_null(strstr(out, "t.example"));
		assert_null(memchr(out, '\0', n));
		free(out);
	}
}

/* boundary="b with no closing quote: the parts lenient clients show are
 * found, the tracker in them is neutralized, and the output's boundary is
 * well-formed. */
static void test_unclosed_boundary_quote(void **state)
{
	(void)state;
	static const char msg[] =
		"From: a@example.org\r\nSubject: q\r\nMIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		"--b\r\nContent-Type: text/html\r\n\r\n"
		"<p>hi <img src=\"http://t.example/p.gif\" width=1 height=1></p>\r\n--b--\r\n";
	bw_sanitize_stats st;
	size_t n = 0;
	char *err = NULL;
	char *out = bw_mail_sanitize(msg, sizeof msg - 1, &lim, &st, &n, &err);
	assert_non_null(out);
	assert_int_equal(st.images, 1);
	assert_null(strstr(out, "t.example"));
	const char *b = strstr(out, "boundary=\"b\"");
	assert_non_null(b);
	assert_true(b[12] == '\r' || b[12] == '\n');
	assert_non_null(strstr(out, "hello"));
	free(out);
}

/* CSS past max_css_bytes is read by no one: the scan says so in errors, and
 * sanitize leaves it out, so a url() beyond the cut cannot load. */
static void test_css_past_limit(void **state)
{
	(void)state;
	bw_limits small = lim;
	small.max_css_bytes = 64;
	static const char html[] =
		"<style>p{color:red}/* filler filler filler filler filler filler filler */"
		"div{background:url(https://t.example/late.png)}</style>"
		"<div style='color:blue; /* filler filler filler filler filler filler filler */"
		" background:url(https://t.example/attr.png)'>x</div><p>text</p>";
	bw_part part = {.kind = BW_PART_HTML, .data = (char *)html, .len = sizeof html - 1};
	bw_message m;
	memset(&m, 0, sizeof m);
	m.parts = &part;
	m.nparts = 1;
	bw_html_extract(&m, 0, &small);
	size_t hits = 0;
	for (size_t i = 0; i < m.errors.n; i++)
		hits += strstr(m.errors.v[i], "(max_css_bytes)") != NULL;
	assert_int_equal(hits, 1); /* once per part */
	m.parts = NULL;
	m.nparts = 0;
	bw_message_free(&m);

	size_t n = 0;
	char *out = bw_html_sanitize(html, sizeof html - 1, &small, NULL, &n);
	assert_non_null(out);
	assert_null(strstr(out, "t.example"));
	/* the unread tails are gone, not merely their url()s */
	assert_null(strstr(out, "div{background"));
	assert_null(strstr(out, "background:url"));
	assert_non_null(strstr(out, "p{color:red}"));
	assert_non_null(strstr(out, "<p>text</p>"));
	assert_int_equal(remote_left(out, true), 0);
	free(out);
}

int main(void)
{
	bw_limits_default(&lim);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_remote_left),
		cmocka_unit_test(test_byte_identical_without_remote),
		cmocka_unit_test(test_css_edits),
		cmocka_unit_test(test_link_unwrap),
		cmocka_unit_test(test_duplicates_cannot_take_over),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_empty_and_broken),
		cmocka_unit_test(test_nul_in_html_part),
		cmocka_unit_test(test_unclosed_boundary_quote),
		cmocka_unit_test(test_css_past_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
