/* Regression tests for bugs found by the fuzzers in tests/fuzz: each runs
 * the minimised input through the same code path as its harness and checks
 * that it completes (under the sanitizer build: without a report). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/engine.h"
#include "bulwark/html.h"
#include "bulwark/mail.h"
#include "html/css.h"

/* fuzz_css: a declaration value of more than MAX_VALUE_TOKENS (16) tokens made
 * all_idents (src/html/css.c) read v[16], one past the token array on the
 * stack, before checking the count. */
static const char css_17_idents[] = "display:a a a a a a a a a a a a a a a a a";

static void test_css_display_17_idents_inline(void **state)
{
	bw_css_box box;
	bw_css_refs refs = {0};
	bw_css_parse_inline(css_17_idents, strlen(css_17_idents), &box, &refs);
	assert_false(box.display_none);
	bw_css_refs_free(&refs);
}

static void test_css_display_17_idents_sheet(void **state)
{
	static const char sheet_css[] = "p{display:a a a a a a a a a a a a a a a a a}";
	bw_css_sheet sheet;
	memset(&sheet, 0, sizeof sheet);
	bw_css_parse_sheet(sheet_css, strlen(sheet_css), &sheet);
	assert_int_equal(sheet.nrules, 1);
	assert_false(sheet.rules[0].box.display_none);
	bw_css_sheet_free(&sheet);
}

static void test_css_display_17_idents_html(void **state)
{
	static const char html[] =
		"<div style='display:a a a a a a a a a a a a a a a a a'>"
		"<img src='https://a.example/x.png'></div>";
	bw_limits lim;
	bw_limits_default(&lim);
	bw_part part = { .kind = BW_PART_HTML, .data = (char *)html, .len = strlen(html) };
	bw_message m;
	memset(&m, 0, sizeof m);
	m.parts = &part;
	m.nparts = 1;
	bw_html_extract(&m, 0, &lim);
	assert_int_equal(m.nresources, 1);
	m.parts = NULL;
	m.nparts = 0;
	bw_message_free(&m);
}

/* fuzz_sanitize: input whose first non-blank byte is '<'. bw_mail_parse
 * (src/mail/parse.c, is_bare_html) reads it as a bare HTML body and lists the
 * img as loaded on open; bw_mail_sanitize (src/mail/rewrite.c) has no such
 * path: GMime takes "<" as a header name, the body is empty, nothing is
 * neutralized, and the output, scanned again, still loads http://"/ on open. */
static const char bare_html[] = "<:<img src=http:\">";

/* fuzz_sanitize: a header value holding a NUL byte. GMime keeps the raw value
 * only up to the NUL, so it writes the header without its line end; the blank
 * line after it then ends that header line, and the text/plain body's first
 * lines become headers of the sanitized output: there it is an HTML part
 * that loads http://0.0.0.9/ as a stylesheet on open. */
static const char nul_header[] = "Content-:\0\n\nContent-type:text/html\n\n"
				 "<link href=\"http:9\"rel=\"stylesheet\">";

/* Sanitizes in, scans the result; returns how many resources load on open. */
static size_t sanitize_then_scan(const char *in, size_t len)
{
	bw_config cfg;
	bw_config_default(&cfg);
	bw_limits lim = cfg.limits;
	bw_strvec errors = {0};
	bw_engine *e = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	bw_sanitize_stats stats;
	size_t out_len = 0;
	char *error = NULL;
	char *out = bw_mail_sanitize(in, len, &lim, &stats, &out_len, &error);
	assert_non_null(out);
	free(error);
	bw_message m;
	memset(&m, 0, sizeof m);
	bw_engine_scan(e, &m, "sanitized", out, out_len);
	size_t on_open = 0;
	for (size_t i = 0; i < m.nresources; i++)
		on_open += m.resources[i].on_open;
	bw_message_free(&m);
	free(out);
	bw_engine_free(e);
	return on_open;
}

static void test_sanitize_bare_html_completes(void **state)
{
	(void)sanitize_then_scan(bare_html, strlen(bare_html));
}

/* The sanitizer's promise for the same input: bare HTML is sanitized as the
 * scan reads it. */
static void test_sanitize_bare_html_loads_nothing(void **state)
{
	assert_int_equal(sanitize_then_scan(bare_html, strlen(bare_html)), 0);
}

static void test_sanitize_nul_in_header_completes(void **state)
{
	(void)sanitize_then_scan(nul_header, sizeof nul_header - 1);
}

/* The header/body boundary survives a NUL in a header. */
static void test_sanitize_nul_in_header_loads_nothing(void **state)
{
	assert_int_equal(sanitize_then_scan(nul_header, sizeof nul_header - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_css_display_17_idents_inline),
		cmocka_unit_test(test_css_display_17_idents_sheet),
		cmocka_unit_test(test_css_display_17_idents_html),
		cmocka_unit_test(test_sanitize_bare_html_completes),
		cmocka_unit_test(test_sanitize_bare_html_loads_nothing),
		cmocka_unit_test(test_sanitize_nul_in_header_completes),
		cmocka_unit_test(test_sanitize_nul_in_header_loads_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
