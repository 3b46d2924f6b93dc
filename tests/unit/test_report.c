/* Unit tests for the score and report stages: JSON escaping always yields
 * valid JSON, findings are ordered, thresholds decide the verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "bulwark/report.h"

static void test_json_string_escapes_and_repairs(void **state)
{
	bw_buf b = {0};
	bw_json_string(&b, "a\"b\\c\n\x01\x7f caf\xc3\xa9 \xff\xc3 \xed\xa0\x80 \xf0\x9f\x98\x80");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u007f caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd "
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80\"");
	json_error_t err;
	json_t *j = json_loads(b.data, JSON_DECODE_ANY, &err);
	assert_non_null(j);
	json_decref(j);
	bw_buf_reset(&b);
	bw_json_string(&b, NULL);
	assert_string_equal(b.data, "null");
	bw_buf_free(&b);
}

static void test_score_orders_and_thresholds(void **state)
{
	bw_config cfg;
	bw_config_default(&cfg);
	bw_message m = {0};
	bw_message_add_finding(&m, "LOW", BW_SEV_LOW, 1, "low");
	bw_message_add_finding(&m, "HIGH", BW_SEV_HIGH, 3, "high");
	bw_message_add_finding(&m, "INFO", BW_SEV_INFO, 0, "info");
	bw_score(&m, &cfg);
	assert_string_equal(m.findings[0].id, "HIGH");
	assert_string_equal(m.findings[2].id, "INFO");
	assert_true(m.score == 4.0);
	assert_int_equal(m.verdict, BW_CLEAN);
	bw_message_add_finding(&m, "MORE", BW_SEV_HIGH, 1, "more");
	bw_score(&m, &cfg);
	assert_int_equal(m.verdict, BW_SUSPICIOUS);
	bw_message_add_finding(&m, "MUCH", BW_SEV_HIGH, 5, "much");
	bw_score(&m, &cfg);
	assert_int_equal(m.verdict, BW_MALICIOUS);
	bw_message_free(&m);
}

static void test_report_is_contract_json(void **state)
{
	bw_message m = {0};
	m.source = bw_xstrdup("x.eml");
	m.subject = bw_xstrdup("s\xff");
	bw_resource *r = bw_message_add_resource(&m);
	r->url = bw_xstrdup("https://t.example/p.gif");
	r->element = "img";
	r->on_open = true;
	r->tracker = bw_tracker_new();
	r->tracker->kinds = BW_TRACK_PIXEL | BW_TRACK_RECIPIENT_TOKEN;
	r->tracker->confidence = 0.9;
	bw_strvec_push(&r->tracker->reasons, "tiny");
	bw_strvec_push(&m.errors, "limit: x");
	bw_buf b = {0};
	bw_report_json(&b, &m);
	json_error_t err;
	json_t *j = json_loads(b.data, 0, &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "verdict")), "clean");
	assert_true(json_is_null(json_object_get(j, "message_id")));
	json_t *res = json_array_get(json_object_get(j, "remote_resources"), 0);
	assert_true(json_is_true(json_object_get(res, "on_open")));
	json_t *kinds = json_object_get(json_object_get(res, "tracker"), "kinds");
	assert_string_equal(json_string_value(json_array_get(kinds, 0)), "pixel");
	assert_string_equal(json_string_value(json_array_get(kinds, 1)), "recipient-token");
	assert_int_equal(json_array_size(json_object_get(j, "errors")), 1);
	json_decref(j);
	bw_buf_free(&b);
	bw_message_free(&m);
}

static void test_config_file(void **state)
{
	char path[] = "/tmp/bw-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "[limits]\nmax_parts = 10\n[scoring]\nsuspicious = 2.5\nmalicious = 7\n";
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	bw_config cfg;
	bw_config_default(&cfg);
	char *err = NULL;
	assert_int_equal(bw_config_load(&cfg, path, &err), 0);
	assert_int_equal(cfg.limits.max_parts, 10);
	assert_true(cfg.suspicious_threshold == 2.5);
	fd = open(path, O_WRONLY | O_TRUNC);
	text = "[limits]\nmax_parts = -3\n";
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
	assert_int_equal(bw_config_load(&cfg, path, &err), -1);
	assert_non_null(strstr(err, path));
	free(err);
	unlink(path);
	bw_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string_escapes_and_repairs),
		cmocka_unit_test(test_score_orders_and_thresholds),
		cmocka_unit_test(test_report_is_contract_json),
		cmocka_unit_test(test_config_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
