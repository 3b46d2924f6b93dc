/* Unit tests for the Authentication-Results parser (src/mail/authres.c):
 * the RFC 8601 grammar including its examples, real-world variants, malformed
 * input, and which headers a message's trusted block contains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/auth.h"
#include "bulwark/mail.h"
#include "bulwark/message.h"

typedef struct parsed {
	bw_authres *v;
	size_t n, cap;
	char *id, *err;
	int rc;
} parsed;

static parsed parse(const char *value)
{
	parsed p = {0};
	p.rc = bw_authres_parse_value(value, 0, &p.id, &p.v, &p.n, &p.cap, 64, &p.err);
	return p;
}

static void parsed_free(parsed *p)
{
	for (size_t i = 0; i < p->n; i++)
		bw_authres_free(&p->v[i]);
	free(p->v);
	free(p->id);
	free(p->err);
}

static void test_rfc8601_examples(void **state)
{
	(void)state;
	/* RFC 8601 appendix B.2, B.3, B.4, B.6 */
	parsed p = parse("example.org 1; none");
	assert_int_equal(p.rc, 0);
	assert_string_equal(p.id, "example.org");
	assert_int_equal(p.n, 0);
	parsed_free(&p);

	p = parse("example.com; spf=pass smtp.mailfrom=example.net");
	assert_int_equal(p.rc, 1);
	assert_string_equal(p.v[0].method, "spf");
	assert_string_equal(p.v[0].result, "pass");
	assert_string_equal(p.v[0].domain, "example.net");
	assert_string_equal(p.v[0].identity, "example.net");
	parsed_free(&p);

	p = parse("example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; "
		  "spf=pass smtp.mailfrom=example.net");
	assert_int_equal(p.rc, 2);
	assert_string_equal(p.v[0].method, "auth");
	assert_string_equal(p.v[0].comment, "cram-md5");
	assert_string_equal(bw_authres_prop(&p.v[0], "smtp.auth"), "sender@example.net");
	assert_string_equal(p.v[1].domain, "example.net");
	parsed_free(&p);

	p = parse("example.com; dkim=pass reason=\"good signature\" header.i=@mail-router.example.net; "
		  "dkim=fail reason=\"bad signature\" header.i=@newyork.example.com");
	assert_int_equal(p.rc, 2);
	assert_string_equal(p.v[0].reason, "good signature");
	assert_string_equal(p.v[0].domain, "mail-router.example.net");
	assert_string_equal(p.v[0].identity, "@mail-router.example.net");
	assert_string_equal(p.v[1].result, "fail");
	assert_string_equal(p.v[1].domain, "newyork.example.com");
	parsed_free(&p);
}

static void test_real_world(void **state)
{
	(void)state;
	parsed p = parse("mx.google.com;\r\n       dkim=pass header.i=@gmail.com header.s=20120113 "
			 "header.b=Ab+/cd=9;\r\n       spf=pass (google.com: domain of j@gmail.com designates "
			 "2a00:1450::241 as permitted sender) smtp.mailfrom=j@gmail.com;\r\n"
			 "       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com");
	assert_int_equal(p.rc, 3);
	assert_string_equal(p.id, "mx.google.com");
	assert_string_equal(p.v[0].domain, "gmail.com");
	assert_string_equal(p.v[0].selector, "20120113");
	assert_string_equal(p.v[0].signature, "Ab+/cd=9");
	assert_string_equal(p.v[1].identity, "j@gmail.com");
	assert_string_equal(p.v[2].policy, "none");
	assert_string_equal(p.v[2].domain, "gmail.com");
	parsed_free(&p);

	/* method version, CFWS everywhere, quoted authserv-id, policy property,
	 * quoted local part, nested comments, trailing ';' */
	p = parse("\"mx (x).example\" 1 ; spf / 1 = softfail (a (nested) comment) smtp . mailfrom = "
		  "\"john doe\"@EXAMPLE.net ; dmarc=fail policy.dmarc=REJECT header.from=Example.NET;");
	assert_int_equal(p.rc, 2);
	assert_string_equal(p.id, "mx (x).example");
	assert_string_equal(p.v[0].result, "softfail");
	assert_string_equal(p.v[0].identity, "john doe@EXAMPLE.net");
	assert_string_equal(p.v[0].domain, "example.net");
	assert_string_equal(p.v[0].comment, "a (nested) comment");
	assert_string_equal(p.v[1].policy, "reject");
	assert_string_equal(p.v[1].domain, "example.net");
	parsed_free(&p);

	/* Microsoft 365: no authserv-id, bare "action=" properties */
	p = parse("spf=temperror (sender IP is 137.184.34.4)\r\n smtp.mailfrom=ubuntu-s-1; dkim=none (message not\r\n"
		  " signed) header.d=none;dmarc=fail action=oreject\r\n header.from=atendimento.com.br;compauth=fail reason=001");
	assert_int_equal(p.rc, 4);
	assert_string_equal(p.id, BW_AUTHSERV_NONE);
	assert_string_equal(p.v[0].result, "temperror");
	assert_string_equal(p.v[2].method, "dmarc");
	assert_string_equal(p.v[2].domain, "atendimento.com.br");
	assert_string_equal(p.v[2].policy, "reject");
	assert_string_equal(bw_authres_prop(&p.v[2], "action"), "oreject");
	assert_string_equal(p.v[3].reason, "001");
	parsed_free(&p);

	/* a malformed resinfo (SpamAssassin's ARC test mail) does not hide the
	 * next one, but is reported */
	p = parse("sa-test.spamassassin.org; header.From=test@sa-test.spamassassin.org; dkim=pass (\n"
		  "        message from spamassassin.org verified; );");
	assert_int_equal(p.rc, -1);
	assert_non_null(p.err);
	assert_non_null(strstr(p.err, "at byte"));
	assert_int_equal(p.n, 1);
	assert_string_equal(p.v[0].method, "dkim");
	assert_string_equal(p.v[0].result, "pass");
	parsed_free(&p);
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {"", "example.com; spf", "example.com; spf=", "example.com; spf=pass (unterminated",
			     "example.com 2; spf=pass", "\"unterminated", "example.com spf=pass",
			     "example.com; spf=pass smtp.mailfrom=\"x", "example.com; dkim=pass header.=x",
			     "((((((((((((((((((((((((((((((((((((x))))))))))))))))))))))))))))))))))))) ex; spf=pass"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		parsed p = parse(bad[i]);
		if (p.rc != -1 || !p.err)
			fail_msg("accepted: %s", bad[i]);
		parsed_free(&p);
	}
}

static void scan_headers(bw_message *m, const char *raw, const char *trusted)
{
	bw_limits lim;
	bw_limits_default(&lim);
	bw_mail_init();
	bw_mail_parse(m, "t", raw, strlen(raw), NULL, &lim);
	bw_strvec ids = {0};
	bw_strvec_push(&ids, trusted);
	bw_authres_collect(m, &ids);
	bw_strvec_free(&ids);
}

static void test_trusted_block(void **state)
{
	(void)state;
	const char *raw =
		"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@a.example\n"
		"Received: from internal by mx2.example\n"
		"Authentication-Results: MX.example; spf=pass smtp.mailfrom=x@a.example\n"
		"Authentication-Results: mx.example; dkim=pass header.d=a.example\n"
		"Received: from outside.example by mx.example\n"
		"Authentication-Results: mx.example; dmarc=pass header.from=a.example\n"
		"From: x@a.example\n\nbody\n";
	bw_message m = {0};
	scan_headers(&m, raw, "mx.example");
	assert_int_equal(m.nauth, 2);
	assert_string_equal(m.auth[0].method, "spf");
	assert_string_equal(m.auth[0].result, "pass");
	assert_string_equal(m.auth[0].authserv_id, "mx.example");
	assert_int_equal(m.auth[0].header, 2);
	assert_string_equal(m.auth[1].method, "dkim");
	bw_message_free(&m);

	memset(&m, 0, sizeof m);
	scan_headers(&m, raw, "nobody.example");
	assert_int_equal(m.nauth, 0);
	bw_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8601_examples),
		cmocka_unit_test(test_real_world),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_trusted_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
