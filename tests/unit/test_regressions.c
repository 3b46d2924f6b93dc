/* Regression tests for bugs found by the fuzzers in tests/fuzz: each runs
 * the minimised input through the same code path as its harness and checks
 * that it completes (under the sanitizer build: without a report). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/archive.h"
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

/* One HTML part through bw_html_extract, as the engine and fuzz_html call
 * it; release_html frees the message but not the caller's HTML. */
static bw_part html_part;

static void extract_html(bw_message *m, const char *html, size_t len)
{
	bw_limits lim;
	bw_limits_default(&lim);
	html_part = (bw_part){ .kind = BW_PART_HTML, .data = (char *)html, .len = len };
	memset(m, 0, sizeof *m);
	m->parts = &html_part;
	m->nparts = 1;
	bw_html_extract(m, 0, &lim);
}

static void release_html(bw_message *m)
{
	m->parts = NULL;
	m->nparts = 0;
	bw_message_free(m);
}

static void test_css_display_17_idents_html(void **state)
{
	static const char html[] =
		"<div style='display:a a a a a a a a a a a a a a a a a'>"
		"<img src='https://a.example/x.png'></div>";
	bw_message m;
	extract_html(&m, html, strlen(html));
	assert_int_equal(m.nresources, 1);
	release_html(&m);
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

/* How many resources a scan of data lists as loading on open. */
static size_t scan_on_open(bw_engine *e, const char *data, size_t len)
{
	bw_message m;
	memset(&m, 0, sizeof m);
	bw_engine_scan(e, &m, "input", data, len);
	size_t on_open = 0;
	for (size_t i = 0; i < m.nresources; i++)
		on_open += m.resources[i].on_open;
	bw_message_free(&m);
	return on_open;
}

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
	size_t on_open = scan_on_open(e, out, out_len);
	free(out);
	bw_engine_free(e);
	return on_open;
}

/* fuzz_sanitize (a 30-minute run, 2026-11-25): a mutated phishing_pot message
 * whose header block holds two Content-Type fields, each with an unclosed
 * boundary="..." quote. The structure pre-scan repaired only the last one;
 * GMime read no parts, so the scan listed nothing, and the sanitized copy,
 * re-serialized with the boundary closed, loaded 4 CSS backgrounds on open.
 * Every unterminated Content-Type field is now repaired. */
static char *read_data_file(const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/unit/data/%s", BW_SOURCE_DIR, name);
	gchar *data = NULL;
	gsize n = 0;
	assert_true(g_file_get_contents(path, &data, &n, NULL));
	*len = n;
	return data;
}

/* fuzz_html: a CSS width beyond int (9.7e124 px in the fuzzer's input) was
 * converted to int, which is undefined behaviour; on x86 it came out as
 * INT_MIN and made a huge image "tiny". Such a size is now INT_MAX. */
static void test_css_width_beyond_int(void **state)
{
	static const char html[] = "<img style='width:1e300px;height:9.66e124pt' src='https://a.example/x.png'>";
	bw_message m;
	extract_html(&m, html, strlen(html));
	assert_int_equal(m.nresources, 1);
	assert_int_equal(m.resources[0].width, INT_MAX);
	assert_int_equal(m.resources[0].height, INT_MAX);
	assert_false(m.resources[0].flags & BW_RES_TINY);
	release_html(&m);
}

static void test_two_unclosed_boundaries(void **state)
{
	size_t len;
	char *data = read_data_file("fuzz-sanitize-two-unclosed-boundaries.eml", &len);
	bw_config cfg;
	bw_config_default(&cfg);
	bw_strvec errors = {0};
	bw_engine *e = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	assert_int_equal(scan_on_open(e, data, len), 4); /* what the scan now sees, as a client would */
	bw_engine_free(e);
	assert_int_equal(sanitize_then_scan(data, len), 0);
	g_free(data);
}

/* fuzz_html (a one-hour run, 2026-11-25, a 26 KB input; this is the
 * minimal form): an @font-face whose font-family value starts with a NUL
 * gave an empty family name, and the search for it in the styles that use
 * fonts matched the empty string at the same place forever. */
static void test_font_family_starting_with_nul(void **state)
{
	static const char html[] = "<style>@font-face{font-family:\0x;src:url(https://a.example/f.woff)}</style>"
				   "<p style=\"font-family:y\">text</p>";
	bw_message m;
	extract_html(&m, html, sizeof html - 1);
	assert_int_equal(m.nresources, 1);
	assert_false(m.resources[0].on_open); /* no text uses that family */
	release_html(&m);
}

/* The fuzzer's input in tests/unit/data, sanitized and scanned again: nothing
 * may load on open. */
static void assert_sanitized_file_quiet(const char *name)
{
	size_t len;
	char *data = read_data_file(name, &len);
	assert_int_equal(sanitize_then_scan(data, len), 0);
	g_free(data);
}

/* fuzz_sanitize (a one-hour run, 2026-11-25): a phishing_pot message whose
 * first Content-Type field holds NUL bytes and whose second says text/html.
 * The scan reads the body as HTML with 3 images that load on open; the
 * sanitizer first made every header end its line (GMime cuts a raw value at
 * a NUL), which made GMime parse the first Content-Type again, the part
 * became application/octet-stream, and its HTML went out untouched. */
static void test_sanitize_nul_in_content_type(void **state)
{
	assert_sanitized_file_quiet("fuzz-sanitize-nul-in-content-type.eml");
}

/* fuzz_sanitize (a second run, 2026-11-25): a message cut off inside an
 * unclosed multipart whose boundary parameter GMime writes out differently.
 * The scan saw no HTML and the sanitizer changed nothing, but the message
 * written out again parsed into HTML parts with 8 CSS backgrounds that load
 * on open. The sanitizer now reads its output back and, when anything
 * would load, replaces the body with a note. */
static void test_sanitize_truncated_multipart(void **state)
{
	assert_sanitized_file_quiet("fuzz-sanitize-truncated-multipart.eml");
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

/* fuzz_archive: a zip entry with an empty name (here a local header with
 * name length 0 and a central directory naming nothing usable) made
 * entry_path (src/mail/archive.c) fall back to the raw format's member name,
 * NULL for a zip, and strnlen(NULL): a crash on any mail carrying such a
 * zip. So did an entry named "data". The fuzzer's input, minus its first
 * byte (the harness's choice of attachment name, "a.zip"). */
static const char zip_unnamed_entry[] =
	"\x50\x4b\x03\x04\x14\xa0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x13\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x03\x00\x00\x00\x00\x48\x00\x80\xff\xff\xff\x00\x00\x08\x00\x7a\x50\x4b\x05\x06\x00\x00"
	"\x00\x00\x01\x00\x01\x00\x2f\x00\x00\x00\xf2\x00\x00\x00\x00\x00";

/* Runs data through archive extraction as the harness and the engine do:
 * every member extracted in turn. Returns the message for checks. */
static void extract_all(bw_message *m, const char *name, const char *data, size_t len)
{
	bw_limits lim;
	bw_limits_default(&lim);
	memset(m, 0, sizeof *m);
	m->parts = calloc(1, sizeof *m->parts);
	assert_non_null(m->parts);
	m->nparts = m->capparts = 1;
	m->parts[0].kind = BW_PART_ATTACHMENT;
	m->parts[0].filename = strdup(name);
	m->parts[0].data = malloc(len + 1);
	assert_non_null(m->parts[0].data);
	memcpy(m->parts[0].data, data, len);
	m->parts[0].data[len] = '\0';
	m->parts[0].len = len;
	bw_archive_budget b = {0};
	for (size_t i = 0; i < m->nparts; i++)
		bw_archive_extract(m, (unsigned)i, &lim, &b);
	bw_archive_budget_free(&b);
}

static void test_archive_zip_unnamed_entry(void **state)
{
	bw_message m;
	extract_all(&m, "a.zip", zip_unnamed_entry, sizeof zip_unnamed_entry - 1);
	assert_non_null(m.parts[0].archive_format);
	for (size_t i = 1; i < m.nparts; i++)
		assert_non_null(m.parts[i].archive_path);
	bw_message_free(&m);
}

/* A stored zip whose one entry is named "data": kept as "data". */
static void test_archive_zip_entry_named_data(void **state)
{
	/* zipfile.ZipFile.writestr(ZipInfo("data"), b"A"), stored */
	static const char zip[] =
		"\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21\x00\x8b\x9e\xd9\xd3\x01\x00\x00"
		"\x00\x01\x00\x00\x00\x04\x00\x00\x00\x64\x61\x74\x61\x41\x50\x4b\x01\x02\x14\x03\x14"
		"\x00\x00\x00\x00\x00\x00\x00\x21\x00\x8b\x9e\xd9\xd3\x01\x00\x00\x00\x01\x00\x00\x00"
		"\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x64\x61\x74"
		"\x61\x50\x4b\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x32\x00\x00\x00\x23\x00\x00\x00"
		"\x00\x00";
	bw_message m;
	extract_all(&m, "b.zip", zip, sizeof zip - 1);
	assert_int_equal(m.nparts, 2);
	assert_string_equal(m.parts[1].archive_path, "data");
	assert_int_equal(m.parts[1].len, 1);
	assert_int_equal(m.parts[1].data[0], 'A');
	bw_message_free(&m);
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
		cmocka_unit_test(test_archive_zip_unnamed_entry),
		cmocka_unit_test(test_archive_zip_entry_named_data),
		cmocka_unit_test(test_two_unclosed_boundaries),
		cmocka_unit_test(test_css_width_beyond_int),
		cmocka_unit_test(test_sanitize_nul_in_content_type),
		cmocka_unit_test(test_font_family_starting_with_nul),
		cmocka_unit_test(test_sanitize_truncated_multipart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
