/* Unit tests for the authentication detectors (src/detect/auth.c) and
 * BULK_SENDER_POSING_AS_TRUSTED (src/detect/bulk_sender.c): each finding
 * fires on trusted results only, and the bulk-sender finding stays quiet
 * when the outlet's own domain authenticated its newsletter. */
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
#include "helpers.h"

static bw_engine *engine_with(const char *text)
{
	setenv("BULWARK_ESP_FINGERPRINTS", BW_SOURCE_DIR "/data/esp-fingerprints.conf", 1);
	bw_engine *e = test_engine_from(text, NULL);
	assert_non_null(e->esps);
	return e;
}

static const char *CONF = "[auth]\n"
			  "trusted_authserv_ids = mx.parliament.example\n"
			  "[protected]\n"
			  "outlets =\n"
			  "[org:Daily Planet]\n"
			  "domains = dailyplanet.example\n";

static void scan(bw_engine *e, bw_message *m, const char *raw)
{
	memset(m, 0, sizeof *m);
	bw_engine_scan(e, m, "test", raw, strlen(raw));
}

static void test_auth_findings(void **state)
{
	(void)state;
	bw_engine *e = engine_with(CONF);
	bw_message m;
	scan(e, &m,
	     "Authentication-Results: mx.parliament.example; spf=fail smtp.mailfrom=x@spoof.example;\n"
	     " dkim=fail header.d=spoof.example; arc=fail; dmarc=fail policy.dmarc=reject header.from=bank.example\n"
	     "Received: from outside.example by mx.parliament.example\n"
	     "From: Bank <alerts@bank.example>\n\nhello\n");
	const bw_finding *f = test_find(&m, "DMARC_FAIL");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_HIGH);
	json_t *ev = json_loads(f->evidence_json, 0, NULL);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "authserv_id")), "mx.parliament.example");
	assert_string_equal(json_string_value(json_object_get(ev, "domain")), "bank.example");
	assert_non_null(strstr(json_string_value(json_object_get(ev, "header")), "dmarc=fail"));
	json_decref(ev);
	assert_non_null(test_find(&m, "SPF_FAIL"));
	assert_int_equal(test_find(&m, "DKIM_FAIL")->severity, BW_SEV_MEDIUM);
	assert_non_null(test_find(&m, "ARC_FAIL"));
	assert_null(test_find(&m, "DMARC_MISALIGNED"));
	bw_message_free(&m);

	/* the same results from an authserv-id that is not trusted: nothing */
	scan(e, &m,
	     "Authentication-Results: mx.attacker.example; spf=fail smtp.mailfrom=x@spoof.example;"
	     " dmarc=fail policy.dmarc=reject header.from=bank.example\n"
	     "From: Bank <alerts@bank.example>\n\nhello\n");
	assert_int_equal(m.nauth, 0);
	assert_null(test_find(&m, "DMARC_FAIL"));
	assert_null(test_find(&m, "SPF_FAIL"));
	bw_message_free(&m);

	/* authenticated, but as another domain, and no DMARC record */
	scan(e, &m,
	     "Authentication-Results: mx.parliament.example; spf=pass smtp.mailfrom=b@esp.example;"
	     " dkim=pass header.d=esp.example; dmarc=none header.from=dailyplanet.example\n"
	     "From: News <news@dailyplanet.example>\n\nhello\n");
	f = test_find(&m, "DMARC_MISALIGNED");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_MEDIUM); /* the From domain is protected */
	bw_message_free(&m);

	/* aligned: a subdomain of the From's registrable domain passed */
	scan(e, &m,
	     "Authentication-Results: mx.parliament.example; dkim=pass header.d=mail.shop.example; dmarc=none\n"
	     "From: Shop <news@shop.example>\n\nhello\n");
	assert_null(test_find(&m, "DMARC_MISALIGNED"));
	bw_message_free(&m);
	bw_engine_free(e);
}

static void test_bulk_sender(void **state)
{
	(void)state;
	bw_engine *e = engine_with(CONF);
	bw_message m;
	/* the outlet's name over an ESP account authenticated as someone else */
	scan(e, &m,
	     "Authentication-Results: mx.parliament.example; spf=pass smtp.mailfrom=bounces@em.sender.example;"
	     " dkim=pass header.d=sendgrid.net\n"
	     "Received: from o1.sendgrid.net by mx.parliament.example\n"
	     "X-SG-EID: abc\n"
	     "From: Daily Planet <newsdesk@sender.example>\n\nPlease comment on our story.\n");
	const bw_finding *f = test_find(&m, "BULK_SENDER_POSING_AS_TRUSTED");
	assert_non_null(f);
	assert_int_equal(f->severity, BW_SEV_HIGH);
	json_t *ev = json_loads(f->evidence_json, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(ev, "platform")), "SendGrid (Twilio)");
	assert_string_equal(json_string_value(json_object_get(ev, "identity")), "Daily Planet");
	assert_true(json_is_true(json_object_get(ev, "verified")));
	json_decref(ev);
	bw_message_free(&m);

	/* the outlet's own newsletter through the same ESP, signed with its domain */
	scan(e, &m,
	     "Authentication-Results: mx.parliament.example; spf=pass smtp.mailfrom=bounces@sendgrid.net;"
	     " dkim=pass header.d=dailyplanet.example; dkim=pass header.d=sendgrid.net\n"
	     "X-SG-EID: abc\n"
	     "From: Daily Planet <newsletter@dailyplanet.example>\n\nToday's news.\n");
	assert_null(test_find(&m, "BULK_SENDER_POSING_AS_TRUSTED"));
	bw_message_free(&m);

	/* the outlet's address, no trusted results: claimed DKIM d= and
	 * Return-Path stand in; one generic marker alone is not a platform */
	scan(e, &m,
	     "Return-Path: <b@mailer.example>\n"
	     "DKIM-Signature: v=1; a=rsa-sha256; d=mailer.example; s=s; h=from; bh=x; b=y\n"
	     "List-Unsubscribe: <mailto:u@mailer.example>\n"
	     "From: Daily Planet <desk@dailyplanet.example>\n\nhello\n");
	assert_null(test_find(&m, "BULK_SENDER_POSING_AS_TRUSTED"));
	bw_message_free(&m);
	scan(e, &m,
	     "Return-Path: <b@mailer.example>\n"
	     "DKIM-Signature: v=1; a=rsa-sha256; d=mailer.example; s=s; h=from; bh=x; b=y\n"
	     "List-Unsubscribe: <https://list-manage.com/unsub?u=1>\n"
	     "From: Daily Planet <desk@dailyplanet.example>\n\nhello\n");
	f = test_find(&m, "BULK_SENDER_POSING_AS_TRUSTED");
	assert_non_null(f);
	ev = json_loads(f->evidence_json, 0, NULL);
	assert_true(json_is_false(json_object_get(ev, "verified")));
	assert_string_equal(json_string_value(json_object_get(ev, "claimed_by")), "from-address");
	json_decref(ev);
	bw_message_free(&m);
	bw_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_findings),
		cmocka_unit_test(test_bulk_sender),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
