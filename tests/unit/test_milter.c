/* Unit tests for the milter's policy (src/milter/policy.c): its settings,
 * which actions a verdict and recipients get, and the header and body edits
 * of a plan. Sanitized plans are applied the way the MTA applies milter
 * edits, and the result is parsed and scanned again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/mail.h"
#include "milter/policy.h"

static char *write_temp(const char *text)
{
	char *path = bw_xstrdup("/tmp/bw-test-milter-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(bw_milter_config *c, const char *text, char **err)
{
	char *path = write_temp(text);
	bw_milter_config_default(c);
	*err = NULL;
	int rc = bw_milter_config_load(c, path, err);
	unlink(path);
	free(path);
	return rc;
}

static const char *const full_config =
	"[milter]\n"
	"socket = unix:/run/bulwark/milter.sock\n"
	"workers = 4\n"
	"timeout_ms = 2500\n"
	"default_action = accept\n"
	"authserv_id = mx.parliament.example\n"
	"metrics = 127.0.0.1:9899\n"
	"log = stderr\n"
	"[actions]\n"
	"clean = headers\n"
	"suspicious = headers, tag-subject\n"
	"malicious = quarantine ; headers\n"
	"subject_tag = [CHECK]\n"
	"[group:protected]\n"
	"recipients = Jane.Doe@Parliament.example, ministers.example\n"
	"clean = headers, sanitize\n"
	"malicious = reject\n"
	"[scoring]\n"
	"suspicious = 5\n";

static void test_config_load(void **state)
{
	bw_milter_config c;
	char *err;
	assert_int_equal(load(&c, full_config, &err), 0);
	assert_string_equal(c.socket, "unix:/run/bulwark/milter.sock");
	assert_int_equal(c.workers, 4);
	assert_int_equal(c.timeout_ms, 2500);
	assert_false(c.failsafe_tempfail);
	assert_string_equal(c.authserv_id, "mx.parliament.example");
	assert_string_equal(c.metrics, "127.0.0.1:9899");
	assert_int_equal(c.log_stderr, 1);
	assert_int_equal(c.actions[BW_CLEAN], BW_ACT_HEADERS);
	assert_int_equal(c.actions[BW_SUSPICIOUS], BW_ACT_HEADERS | BW_ACT_TAG_SUBJECT);
	assert_int_equal(c.actions[BW_MALICIOUS], BW_ACT_HEADERS | BW_ACT_QUARANTINE);
	assert_string_equal(c.subject_tag, "[CHECK]");
	assert_int_equal(c.ngroups, 1);
	assert_string_equal(c.groups[0].name, "protected");
	assert_string_equal(c.groups[0].recipients.v[0], "jane.doe@parliament.example");
	assert_int_equal(c.groups[0].actions[BW_CLEAN], BW_ACT_HEADERS | BW_ACT_SANITIZE);
	/* not set in the group: inherited from [actions] */
	assert_int_equal(c.groups[0].actions[BW_SUSPICIOUS], BW_ACT_HEADERS | BW_ACT_TAG_SUBJECT);
	assert_int_equal(c.groups[0].actions[BW_MALICIOUS], BW_ACT_REJECT);
	bw_milter_config_free(&c);
}

static void test_config_defaults_are_safe(void **state)
{
	bw_milter_config c;
	bw_milter_config_default(&c);
	for (int v = 0; v < BW_NVERDICTS; v++)
		assert_int_equal(c.actions[v], BW_ACT_HEADERS);
	assert_int_equal(c.ngroups, 0);
	bw_milter_config_free(&c);
}

static void expect_error(const char *text, const char *needle)
{
	bw_milter_config c;
	char *err;
	assert_int_equal(load(&c, text, &err), -1);
	assert_non_null(err);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err, needle);
	assert_non_null(strstr(err, "/tmp/bw-test-milter-"));
	free(err);
	bw_milter_config_free(&c);
}

static void test_config_errors(void **state)
{
	expect_error("[actions]\nmalicious = headers, explode\n", "[actions] malicious: unknown action \"explode\"");
	expect_error("[milter]\ndefault_action = maybe\n", "default_action must be accept or tempfail");
	expect_error("[milter]\nworkers = 0\n", "[milter] workers must be a number");
	expect_error("[milter]\ntimeout_ms = -5\n", "[milter] timeout_ms must be a number");
	expect_error("[milter]\nlog = file\n", "log must be syslog or stderr");
	expect_error("[group:empty]\nclean = sanitize\n", "[group:empty] needs recipients");
	expect_error("[milter\n", "");
}

static void test_actions_by_recipient(void **state)
{
	bw_milter_config c;
	char *err;
	assert_int_equal(load(&c, full_config, &err), 0);
	char *jane[] = {"<JANE.DOE@parliament.example>"};
	char *minister[] = {"<pm@office.ministers.example>"};
	char *lookalike[] = {"<pm@evilministers.example>"};
	char *both[] = {"<jane.doe@parliament.example>", "<clerk@parliament.example>"};
	assert_int_equal(bw_milter_actions(&c, BW_CLEAN, jane, 1), BW_ACT_HEADERS | BW_ACT_SANITIZE);
	assert_int_equal(bw_milter_actions(&c, BW_MALICIOUS, jane, 1), BW_ACT_REJECT);
	/* a subdomain belongs to the domain; a longer label does not */
	assert_int_equal(bw_milter_actions(&c, BW_CLEAN, minister, 1), BW_ACT_HEADERS | BW_ACT_SANITIZE);
	assert_int_equal(bw_milter_actions(&c, BW_CLEAN, lookalike, 1), BW_ACT_HEADERS);
	/* one message for a grouped and an ungrouped recipient: the union */
	assert_int_equal(bw_milter_actions(&c, BW_MALICIOUS, both, 2),
			 BW_ACT_REJECT | BW_ACT_QUARANTINE | BW_ACT_HEADERS);
	assert_int_equal(bw_milter_actions(&c, BW_SUSPICIOUS, NULL, 0), BW_ACT_HEADERS | BW_ACT_TAG_SUBJECT);
	assert_true(bw_milter_actions_any(&c, jane, 1) & BW_ACT_SANITIZE);
	assert_false(bw_milter_actions_any(&c, lookalike, 1) & BW_ACT_SANITIZE);
	bw_milter_config_free(&c);
}

static void test_action_names(void **state)
{
	unsigned bits;
	char *err = NULL;
	assert_int_equal(bw_milter_parse_actions("Reject, sanitize;;", &bits, &err), 0);
	assert_int_equal(bits, BW_ACT_REJECT | BW_ACT_SANITIZE);
	assert_int_equal(bw_milter_parse_actions("accept", &bits, &err), 0);
	assert_int_equal(bits, 0);
	bw_buf b = {0};
	bw_milter_action_names(0, &b);
	bw_buf_puts(&b, "|");
	bw_milter_action_names(BW_ACT_HEADERS | BW_ACT_QUARANTINE, &b);
	assert_string_equal(b.data, "accept|headers,quarantine");
	bw_buf_free(&b);
}

static void test_authserv_claim(void **state)
{
	assert_true(bw_milter_claims_authserv(" mx.parliament.example; spf=pass", "mx.parliament.example"));
	assert_true(bw_milter_claims_authserv(" MX.Parliament.Example 1; none", "mx.parliament.example"));
	assert_true(bw_milter_claims_authserv("\r\n\tmx.parliament.example;\r\n\tdkim=pass", "mx.parliament.example"));
	assert_false(bw_milter_claims_authserv(" mx.parliament.example.evil; spf=pass", "mx.parliament.example"));
	assert_false(bw_milter_claims_authserv(" other.example; spf=pass", "mx.parliament.example"));
}

static void test_crlf(void **state)
{
	size_t n;
	char *s = bw_milter_crlf("a\nb\r\nc\rd", 8, &n);
	assert_int_equal(n, 10);
	assert_memory_equal(s, "a\r\nb\r\nc\r\nd", 10);
	free(s);
}

/* Finds the edit for a header, or NULL. */
static const bw_milter_edit *find_edit(const bw_milter_plan *p, bw_edit_op op, const char *name, int index)
{
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].op == op && strcmp(p->edits[i].name, name) == 0 &&
		    (op != BW_EDIT_CHANGE || p->edits[i].index == index))
			return &p->edits[i];
	return NULL;
}

static void test_strip_forged(void **state)
{
	bw_milter_config c;
	bw_milter_config_default(&c);
	free(c.authserv_id);
	c.authserv_id = bw_xstrdup("mx.example");
	bw_header h[] = {
		{"Authentication-Results", " relay.example; spf=fail"},
		{"X-Bulwark-Verdict", " clean"},
		{"Authentication-Results", " mx.example; dkim=pass"},
		{"Subject", " hi"},
		{"x-bulwark-verdict", " clean"},
	};
	bw_milter_message m = {h, 5, "", 0};
	bw_milter_plan p = {0};
	bw_milter_plan_strip(&c, &m, &p);
	assert_int_equal(p.nedits, 3);
	/* only the one claiming our authserv-id; the second of that name */
	assert_string_equal(p.edits[0].name, "Authentication-Results");
	assert_int_equal(p.edits[0].index, 2);
	assert_null(p.edits[0].value);
	/* highest index first, so that each index still means the original */
	assert_int_equal(p.edits[1].index, 2);
	assert_int_equal(p.edits[2].index, 1);
	bw_milter_plan_free(&p);
	bw_milter_config_free(&c);
}

static void test_plan_headers_subject_reject(void **state)
{
	bw_milter_config c;
	bw_milter_config_default(&c);
	bw_header h[] = {{"Subject", " Agenda\r\n for Monday"}};
	bw_milter_message m = {h, 1, "", 0};
	bw_milter_scan s = {BW_SUSPICIOUS, 7.5, "TRACKING_PIXEL,BAD\r\nInjected: x", "mx.example; spf=pass", NULL, 0};
	bw_milter_plan p = {0};
	bw_milter_plan_actions(&c, &m, &s, BW_ACT_HEADERS | BW_ACT_TAG_SUBJECT, &p);
	assert_false(p.reject);
	assert_string_equal(find_edit(&p, BW_EDIT_ADD, "X-Bulwark-Verdict", 0)->value, " suspicious");
	assert_string_equal(find_edit(&p, BW_EDIT_ADD, "X-Bulwark-Score", 0)->value, " 7.50");
	/* only the characters of ids: no line break, no injected header */
	assert_string_equal(find_edit(&p, BW_EDIT_ADD, "X-Bulwark-Findings", 0)->value,
			    " TRACKING_PIXEL, BADInjectedx");
	assert_string_equal(find_edit(&p, BW_EDIT_INSERT, "Authentication-Results", 0)->value,
			    " mx.example; spf=pass");
	assert_string_equal(find_edit(&p, BW_EDIT_CHANGE, "Subject", 1)->value, " [SUSPICIOUS] Agenda for Monday");
	bw_milter_plan_free(&p);

	/* already tagged: unchanged; no Subject at all: one is added */
	bw_header tagged[] = {{"Subject", " [SUSPICIOUS] Agenda"}};
	m = (bw_milter_message){tagged, 1, "", 0};
	bw_milter_plan_actions(&c, &m, &s, BW_ACT_TAG_SUBJECT, &p);
	assert_int_equal(p.nedits, 0);
	bw_milter_plan_free(&p);
	m = (bw_milter_message){NULL, 0, "", 0};
	bw_milter_plan_actions(&c, &m, &s, BW_ACT_TAG_SUBJECT | BW_ACT_QUARANTINE, &p);
	assert_string_equal(find_edit(&p, BW_EDIT_ADD, "Subject", 0)->value, " [SUSPICIOUS]");
	assert_true(p.quarantine);
	bw_milter_plan_free(&p);

	bw_milter_plan_actions(&c, &m, &s, BW_ACT_REJECT | BW_ACT_HEADERS | BW_ACT_QUARANTINE, &p);
	assert_true(p.reject);
	assert_int_equal(p.nedits, 0);
	bw_milter_plan_free(&p);
	bw_milter_config_free(&c);
}

/* An arrived message split as the MTA hands it to the milter. */
typedef struct arrived {
	bw_header h[16];
	size_t nh;
	char *body;
	size_t body_len;
} arrived;

static void arrive(arrived *a, const char *raw)
{
	memset(a, 0, sizeof *a);
	size_t len;
	char *crlf = bw_milter_crlf(raw, strlen(raw), &len);
	char *sep = strstr(crlf, "\r\n\r\n");
	assert_non_null(sep);
	*sep = '\0';
	for (char *line = strtok(crlf, "\n"); line; line = strtok(NULL, "\n")) {
		size_t l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		char *colon = strchr(line, ':');
		assert_non_null(colon);
		a->h[a->nh].name = bw_xstrndup(line, (size_t)(colon - line));
		a->h[a->nh++].value = bw_xstrdup(colon + 1);
	}
	a->body_len = len - (size_t)(sep + 4 - crlf);
	a->body = bw_xstrndup(sep + 4, a->body_len);
	free(crlf);
}

static void arrived_free(arrived *a)
{
	for (size_t i = 0; i < a->nh; i++) {
		free(a->h[i].name);
		free(a->h[i].value);
	}
	free(a->body);
}

/* The message the recipient gets: the plan's edits applied to the header
 * list as the MTA applies them (index-th header of that name changed or
 * deleted, ADD at the end, INSERT at the top), then the body. */
static char *delivered(const arrived *a, const bw_milter_plan *p, size_t *len)
{
	bw_header h[32];
	size_t n = a->nh;
	for (size_t i = 0; i < n; i++)
		h[i] = (bw_header){bw_xstrdup(a->h[i].name), bw_xstrdup(a->h[i].value)};
	for (size_t e = 0; e < p->nedits; e++) {
		const bw_milter_edit *ed = &p->edits[e];
		if (ed->op == BW_EDIT_CHANGE) {
			int seen = 0;
			for (size_t i = 0; i < n; i++) {
				if (!bw_ascii_iequal(h[i].name, ed->name) || ++seen != ed->index)
					continue;
				free(h[i].value);
				if (ed->value) {
					h[i].value = bw_xstrdup(ed->value);
				} else {
					free(h[i].name);
					memmove(&h[i], &h[i + 1], (n - i - 1) * sizeof *h);
					n--;
				}
				break;
			}
		} else {
			size_t at = ed->op == BW_EDIT_INSERT ? 0 : n;
			memmove(&h[at + 1], &h[at], (n - at) * sizeof *h);
			h[at] = (bw_header){bw_xstrdup(ed->name), bw_xstrdup(ed->value)};
			n++;
		}
	}
	bw_buf b = {0};
	for (size_t i = 0; i < n; i++) {
		bw_buf_printf(&b, "%s:%s\r\n", h[i].name, h[i].value);
		free(h[i].name);
		free(h[i].value);
	}
	bw_buf_puts(&b, "\r\n");
	if (p->body)
		bw_buf_append(&b, p->body, p->body_len);
	else
		bw_buf_append(&b, a->body, a->body_len);
	*len = b.len;
	return bw_buf_steal(&b);
}

static bw_engine *engine;

static int setup(void **state)
{
	bw_config cfg;
	bw_config_default(&cfg);
	bw_strvec errors = {0};
	engine = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	return 0;
}

static int teardown(void **state)
{
	bw_engine_free(engine);
	return 0;
}

static unsigned on_open_count(const char *raw, size_t len, bool *has_text)
{
	bw_message m = {0};
	bw_engine_scan(engine, &m, "delivered", raw, len);
	unsigned n = 0;
	for (size_t i = 0; i < m.nresources; i++)
		n += m.resources[i].on_open;
	*has_text = false;
	for (size_t i = 0; i < m.nparts; i++)
		if (m.parts[i].data && strstr(m.parts[i].data, "Committee agenda"))
			*has_text = true;
	bw_message_free(&m);
	return n;
}

/* Runs the whole path: arrival, sanitize (as a worker does), plan, delivery;
 * returns the plan for checks. */
static void sanitize_and_deliver(const char *raw, bw_milter_plan *p, char **out, size_t *out_len, arrived *a)
{
	arrive(a, raw);
	bw_buf worker_raw = {0};
	for (size_t i = 0; i < a->nh; i++)
		bw_buf_printf(&worker_raw, "%s:%s\r\n", a->h[i].name, a->h[i].value);
	bw_buf_puts(&worker_raw, "\r\n");
	bw_buf_append(&worker_raw, a->body, a->body_len);
	bw_sanitize_stats st;
	char *err = NULL;
	size_t slen;
	bw_config cfg;
	bw_config_default(&cfg);
	char *san = bw_mail_sanitize(worker_raw.data, worker_raw.len, &cfg.limits, &st, &slen, &err);
	bw_config_free(&cfg);
	assert_non_null(san);
	bw_milter_config c;
	bw_milter_config_default(&c);
	bw_milter_message m = {a->h, a->nh, a->body, a->body_len};
	bw_milter_scan s = {BW_CLEAN, 3, "TRACKING_PIXEL", NULL, san, slen};
	memset(p, 0, sizeof *p);
	bw_milter_plan_actions(&c, &m, &s, BW_ACT_SANITIZE, p);
	*out = delivered(a, p, out_len);
	bool text;
	assert_true(on_open_count(worker_raw.data, worker_raw.len, &text) > 0);
	free(san);
	bw_buf_free(&worker_raw);
	bw_milter_config_free(&c);
}

static void test_sanitize_single_html_part(void **state)
{
	/* The only part is HTML in 8bit: the sanitizer re-encodes it as
	 * quoted-printable, so Content-Transfer-Encoding must follow. */
	const char *raw = "From: news@example.org\nTo: jane@example.net\nSubject: t\nMIME-Version: 1.0\n"
			  "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
			  "<html><body><p>Committee agenda \xc3\xa9t\xc3\xa9</p>"
			  "<img src=\"https://t.example/open?u=1\" width=1 height=1></body></html>\n";
	bw_milter_plan p;
	char *out;
	size_t len;
	arrived a;
	sanitize_and_deliver(raw, &p, &out, &len, &a);
	assert_non_null(p.body);
	const bw_milter_edit *cte = find_edit(&p, BW_EDIT_CHANGE, "Content-Transfer-Encoding", 1);
	assert_non_null(cte);
	assert_string_equal(cte->value, " quoted-printable");
	assert_non_null(find_edit(&p, BW_EDIT_ADD, "X-Bulwark-Sanitized", 0));
	/* every line of the new body ends in CRLF */
	for (size_t i = 0; i < p.body_len; i++)
		if (p.body[i] == '\n')
			assert_true(i > 0 && p.body[i - 1] == '\r');
	bool text;
	assert_int_equal(on_open_count(out, len, &text), 0);
	assert_true(text);
	free(out);
	bw_milter_plan_free(&p);
	arrived_free(&a);
}

static void test_sanitize_multipart(void **state)
{
	const char *raw = "From: news@example.org\nTo: jane@example.net\nSubject: t\nMIME-Version: 1.0\n"
			  "Content-Type: multipart/alternative; boundary=\"b1\"\n\n"
			  "--b1\nContent-Type: text/plain\n\nCommittee agenda\n"
			  "--b1\nContent-Type: text/html\n\n<p>Committee agenda</p>"
			  "<img src=\"https://t.example/open?u=1\" width=1 height=1>\n--b1--\n";
	bw_milter_plan p;
	char *out;
	size_t len;
	arrived a;
	sanitize_and_deliver(raw, &p, &out, &len, &a);
	assert_non_null(p.body);
	/* the top-level headers still describe the body: no MIME header edits */
	assert_null(find_edit(&p, BW_EDIT_CHANGE, "Content-Type", 1));
	assert_null(find_edit(&p, BW_EDIT_CHANGE, "Content-Transfer-Encoding", 1));
	assert_null(find_edit(&p, BW_EDIT_ADD, "Content-Transfer-Encoding", 0));
	bool text;
	assert_int_equal(on_open_count(out, len, &text), 0);
	assert_true(text);
	/* the untouched text part keeps its bytes */
	assert_non_null(strstr(out, "--b1\r\nContent-Type: text/plain\r\n\r\nCommittee agenda\r\n"));
	free(out);
	bw_milter_plan_free(&p);
	arrived_free(&a);
}

static void test_sanitize_nothing_to_remove_keeps_body(void **state)
{
	arrived a;
	arrive(&a, "From: a@example.org\nSubject: t\n\nJust text, line one.\nLine two.\n");
	bw_config cfg;
	bw_config_default(&cfg);
	bw_buf raw = {0};
	for (size_t i = 0; i < a.nh; i++)
		bw_buf_printf(&raw, "%s:%s\r\n", a.h[i].name, a.h[i].value);
	bw_buf_puts(&raw, "\r\n");
	bw_buf_append(&raw, a.body, a.body_len);
	bw_sanitize_stats st;
	char *err = NULL;
	size_t slen;
	char *san = bw_mail_sanitize(raw.data, raw.len, &cfg.limits, &st, &slen, &err);
	bw_milter_config c;
	bw_milter_config_default(&c);
	bw_milter_message m = {a.h, a.nh, a.body, a.body_len};
	bw_milter_scan s = {BW_CLEAN, 0, "", NULL, san, slen};
	bw_milter_plan p = {0};
	bw_milter_plan_actions(&c, &m, &s, BW_ACT_SANITIZE, &p);
	assert_null(p.body);
	assert_int_equal(p.nedits, 1); /* X-Bulwark-Sanitized only */
	bw_milter_plan_free(&p);
	bw_milter_config_free(&c);
	bw_config_free(&cfg);
	bw_buf_free(&raw);
	free(san);
	arrived_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_load),
		cmocka_unit_test(test_config_defaults_are_safe),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_actions_by_recipient),
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_authserv_claim),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_strip_forged),
		cmocka_unit_test(test_plan_headers_subject_reject),
		cmocka_unit_test(test_sanitize_single_html_part),
		cmocka_unit_test(test_sanitize_multipart),
		cmocka_unit_test(test_sanitize_nothing_to_remove_keeps_body),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
