/* Unit tests for the parse stage (src/mail): MIME structure, encodings,
 * charsets, limits, and the mbox/Maildir readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "bulwark/mail.h"

static bw_limits lim;

static void parse(bw_message *m, const char *raw)
{
	memset(m, 0, sizeof *m);
	bw_mail_parse(m, "test", raw, strlen(raw), NULL, &lim);
}

static bool has_error(const bw_message *m, const char *needle)
{
	for (size_t i = 0; i < m->errors.n; i++)
		if (strstr(m->errors.v[i], needle))
			return true;
	return false;
}

static void test_headers_and_encoded_words(void **state)
{
	bw_message m;
	parse(&m, "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@example.org>\r\n"
		  "To: Someone <someone@example.net>\r\n"
		  "Subject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?Q?_=E2=82=AC?=\r\n"
		  "Message-ID: <abc@example.org>\r\n"
		  "Return-Path: <bounce@example.com>\r\n\r\nhello\r\n");
	assert_string_equal(m.from.name, "Jürgen Müller");
	assert_string_equal(m.from.address, "jm@example.org");
	assert_string_equal(m.subject, "Café €");
	assert_string_equal(m.message_id, "abc@example.org");
	assert_string_equal(m.return_path, "bounce@example.com");
	assert_string_equal(m.recipient, "someone@example.net");
	assert_int_equal(m.nparts, 1);
	assert_int_equal(m.parts[0].kind, BW_PART_TEXT);
	assert_string_equal(m.parts[0].data, "hello\r\n");
	bw_message_free(&m);
}

static void test_recipient_prefers_delivered_to(void **state)
{
	bw_message m;
	parse(&m, "To: a@example.org\r\nX-Original-To: b@example.org\r\nDelivered-To: c@example.org\r\n\r\nx");
	assert_string_equal(m.recipient, "c@example.org");
	bw_message_free(&m);
	memset(&m, 0, sizeof m);
	bw_mail_parse(&m, "t", "To: a@example.org\r\n\r\nx", 22, "override@example.org", &lim);
	assert_string_equal(m.recipient, "override@example.org");
	bw_message_free(&m);
}

static void test_nested_multipart_and_encodings(void **state)
{
	bw_message m;
	parse(&m, "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
		  "--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
		  "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
		  "Content-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve=\r\n text\r\n"
		  "--b\r\nContent-Type: text/html; charset=koi8-r\r\n"
		  "Content-Transfer-Encoding: base64\r\n\r\nPHA+9MXT1DwvcD4=\r\n"
		  "--b--\r\n"
		  "--a\r\nContent-Type: application/octet-stream\r\n"
		  "Content-Disposition: attachment; filename*=UTF-8''%E2%82%AC.bin\r\n"
		  "Content-Transfer-Encoding: x-uuencode\r\n\r\n"
		  "begin 644 x.bin\r\n#86)C\r\n`\r\nend\r\n"
		  "--a--\r\n");
	assert_int_equal(m.nparts, 3);
	assert_string_equal(m.parts[0].data, "naïve text"); /* the CRLF before a boundary belongs to it */
	assert_int_equal(m.parts[0].depth, 2);
	assert_int_equal(m.parts[1].kind, BW_PART_HTML);
	assert_string_equal(m.parts[1].data, "<p>Тест</p>");
	assert_int_equal(m.parts[2].kind, BW_PART_ATTACHMENT);
	assert_string_equal(m.parts[2].filename, "€.bin");
	assert_int_equal(m.parts[2].len, 3);
	assert_memory_equal(m.parts[2].data, "abc", 3);
	/* sha256("abc") */
	assert_string_equal(m.parts[2].sha256,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	bw_message_free(&m);
}

static void test_message_rfc822_is_walked(void **state)
{
	bw_message m;
	parse(&m, "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
		  "--o\r\nContent-Type: message/rfc822\r\n\r\n"
		  "Subject: inner\r\nContent-Type: text/html\r\n\r\n<b>inner html</b>\r\n"
		  "--o--\r\n");
	assert_int_equal(m.nparts, 1);
	assert_int_equal(m.parts[0].kind, BW_PART_HTML);
	assert_non_null(strstr(m.parts[0].data, "inner html"));
	bw_message_free(&m);
}

static void test_invalid_bytes_become_valid_utf8(void **state)
{
	bw_message m;
	/* Declared UTF-8 but not: must come out valid, with U+FFFD. */
	parse(&m, "Content-Type: text/plain; charset=utf-8\r\n\r\nA\xff\xfe" "B");
	assert_true(g_utf8_validate(m.parts[0].data, -1, NULL));
	assert_non_null(strstr(m.parts[0].data, "\xef\xbf\xbd"));
	bw_message_free(&m);
	/* No charset and not UTF-8: windows-1252. */
	parse(&m, "Content-Type: text/plain\r\n\r\nna\xefve \x80");
	assert_string_equal(m.parts[0].data, "naïve €");
	bw_message_free(&m);
}

/* The UTF-8 check skips ASCII in 8-byte steps: characters and bad bytes on
 * either side of those steps, and NUL bytes, must come out as a byte-wise
 * check would have them. */
static void test_utf8_check_across_ascii_runs(void **state)
{
	static const char raw[] = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
				  "abcdefgh\xc3\xa9ijklmnop\0qrstuvwx\xe2\x82\xacyz\xe2\x82" "0123456789\xff";
	static const char want[] = "abcdefgh\xc3\xa9ijklmnop\0qrstuvwx\xe2\x82\xacyz"
				   "\xef\xbf\xbd\xef\xbf\xbd" "0123456789\xef\xbf\xbd";
	bw_message m = {0};
	bw_mail_parse(&m, "test", raw, sizeof raw - 1, NULL, &lim);
	assert_int_equal(m.nparts, 1);
	assert_int_equal(m.parts[0].len, sizeof want - 1);
	assert_memory_equal(m.parts[0].data, want, sizeof want - 1);
	bw_message_free(&m);
	/* valid with a NUL inside: kept as it is */
	static const char ok[] = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
				 "0123456789\0abcdefgh\xe2\x82\xac";
	memset(&m, 0, sizeof m);
	bw_mail_parse(&m, "test", ok, sizeof ok - 1, NULL, &lim);
	assert_int_equal(m.parts[0].len, 22);
	assert_memory_equal(m.parts[0].data, "0123456789\0abcdefgh\xe2\x82\xac", 22);
	bw_message_free(&m);
}

static void test_limits_are_reported(void **state)
{
	bw_buf raw = {0};
	for (int i = 0; i < 50; i++)
		bw_buf_printf(&raw, "Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n", i, i);
	bw_buf_puts(&raw, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	bw_message m;
	parse(&m, raw.data);
	assert_true(has_error(&m, "MIME nesting deeper than 32"));
	assert_int_equal(m.nparts, 0);
	bw_message_free(&m);

	bw_buf_reset(&raw);
	bw_buf_puts(&raw, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < 1500; i++)
		bw_buf_puts(&raw, "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n");
	bw_buf_puts(&raw, "--p--\r\n");
	parse(&m, raw.data);
	assert_int_equal(m.nparts, lim.max_parts);
	assert_true(has_error(&m, "more than 1000 MIME parts"));
	bw_message_free(&m);

	bw_limits small = lim;
	small.max_message_bytes = 10;
	memset(&m, 0, sizeof m);
	bw_mail_parse(&m, "t", "Subject: long\r\n\r\nbody", 21, NULL, &small);
	assert_true(has_error(&m, "only the first 10 were read"));
	bw_message_free(&m);
	bw_buf_free(&raw);
}

static void test_garbage_still_gives_a_message(void **state)
{
	bw_message m;
	parse(&m, "");
	assert_true(has_error(&m, "empty message"));
	bw_message_free(&m);
	parse(&m, "\x01\x02\x03 not mail at all");
	assert_string_equal(m.source, "test");
	bw_message_free(&m);
}

typedef struct collected {
	bw_strvec sources;
	bw_strvec bodies;
} collected;

static void collect(const char *source, const char *data, size_t len, void *arg)
{
	collected *c = arg;
	bw_strvec_push(&c->sources, source);
	bw_strvec_push_owned(&c->bodies, bw_xstrndup(data, len));
}

static void no_error(const char *path, const char *why, void *arg)
{
	fail_msg("%s: %s", path, why);
}

static void test_mbox_and_maildir(void **state)
{
	char dir[] = "/tmp/bw-test-mail-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[1024];
	snprintf(path, sizeof path, "%s/box.mbox", dir);
	FILE *f = fopen(path, "w");
	fputs("From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From here\n>>From there\nFrom inside\n\n"
	      "From b@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n", f);
	fclose(f);
	char *paths[] = {path};
	collected c = {0};
	assert_int_equal(bw_mail_read_paths(paths, 1, &lim, collect, no_error, &c), 0);
	assert_int_equal(c.sources.n, 2);
	assert_string_equal(strrchr(c.sources.v[0], '/'), "/box.mbox:1");
	/* mboxrd: one '>' removed; the unquoted "From inside" (no blank line
	 * before it) does not split the message. */
	assert_string_equal(c.bodies.v[0], "Subject: one\n\nFrom here\n>From there\nFrom inside\n\n");
	assert_string_equal(c.bodies.v[1], "Subject: two\n\nbody\n");
	bw_strvec_free(&c.sources);
	bw_strvec_free(&c.bodies);

	char md[100];
	snprintf(md, sizeof md, "%s/Maildir", dir);
	mkdir(md, 0700);
	const char *subs[] = {"cur", "new", "tmp"};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", md, subs[i]);
		mkdir(path, 0700);
		snprintf(path, sizeof path, "%s/%s/msg", md, subs[i]);
		f = fopen(path, "w");
		fprintf(f, "Subject: %s\n\nx\n", subs[i]);
		fclose(f);
	}
	char *mpaths[] = {md};
	assert_int_equal(bw_mail_read_paths(mpaths, 1, &lim, collect, no_error, &c), 0);
	assert_int_equal(c.sources.n, 2); /* tmp/ is in flight, not read */
	assert_non_null(strstr(c.sources.v[0], "/cur/msg"));
	assert_non_null(strstr(c.sources.v[1], "/new/msg"));
	assert_true(bw_mail_total_bytes(mpaths, 1) > 0);
	bw_strvec_free(&c.sources);
	bw_strvec_free(&c.bodies);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* boundary="b with no closing quote: lenient clients read boundary b and
 * show the parts, so the scan must read them too and say the parameter was
 * malformed; a nested multipart, a folded field and trailing blanks too. */
static void test_unclosed_boundary_quote(void **state)
{
	bw_message m;
	parse(&m, "From: a@example.org\r\nSubject: q\r\nMIME-Version: 1.0\r\n"
		  "Content-Type: multipart/mixed; boundary=\"b\r\n\r\n"
		  "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
		  "--b\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"in ner \t\r\n\r\n"
		  "--in ner\r\nContent-Type: text/html\r\n\r\n<img src=\"http://t.example/p.gif\">\r\n"
		  "--in ner--\r\n--b--\r\n");
	assert_int_equal(m.nparts, 2);
	assert_int_equal(m.parts[0].kind, BW_PART_TEXT);
	assert_string_equal(m.parts[0].data, "hello");
	assert_int_equal(m.parts[1].kind, BW_PART_HTML);
	assert_non_null(strstr(m.parts[1].data, "http://t.example/p.gif"));
	assert_true(has_error(&m, "malformed Content-Type boundary parameter"));
	assert_false(has_error(&m, "truncated"));
	bw_message_free(&m);

	/* GMime gives no position for a truncated message: the report names
	 * where the input ended, never byte -1 */
	parse(&m, "Subject: t\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
		  "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n");
	assert_true(has_error(&m, "message is truncated (input ends at byte"));
	assert_false(has_error(&m, "-1"));
	bw_message_free(&m);
}

int main(void)
{
	bw_mail_init();
	bw_limits_default(&lim);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_encoded_words),
		cmocka_unit_test(test_recipient_prefers_delivered_to),
		cmocka_unit_test(test_nested_multipart_and_encodings),
		cmocka_unit_test(test_message_rfc822_is_walked),
		cmocka_unit_test(test_invalid_bytes_become_valid_utf8),
		cmocka_unit_test(test_utf8_check_across_ascii_runs),
		cmocka_unit_test(test_limits_are_reported),
		cmocka_unit_test(test_garbage_still_gives_a_message),
		cmocka_unit_test(test_mbox_and_maildir),
		cmocka_unit_test(test_unclosed_boundary_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
