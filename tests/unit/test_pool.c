/* The milter's scan pool, with real worker processes: results equal an
 * in-process scan; the installed sandbox refuses file writes, sockets and
 * exec (probed from inside a worker), and the worker runs as nobody with no
 * capabilities when the test runs as root; crashing and hung workers cost
 * only their own job and are replaced; concurrent scans; reload swaps the
 * workers without failing jobs in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/mail.h"
#include "bulwark/report.h"
#include "milter/pool.h"
#include "milter/wire.h"

#define CRASH_MARKER "BULWARK-TEST-CRASH-7f3a"
#define HANG_MARKER "BULWARK-TEST-HANG-7f3a"
#define GARBLE_MARKER "BULWARK-TEST-GARBLE-7f3a"

static const char *samples[] = {"news-impersonation.eml", "plain.eml", "tracked-newsletter.eml"};
#define NSAMPLES (sizeof samples / sizeof *samples)

static char config_path[256];

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *data = malloc((size_t)n + 1);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

static char *read_sample(size_t i, size_t *len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/samples/%s", BW_SOURCE_DIR, samples[i]);
	return read_file(path, len);
}

static const char *run_as(void)
{
	return geteuid() == 0 ? "nobody" : NULL;
}

static bw_pool *new_pool(unsigned nworkers, unsigned timeout_ms)
{
	char *err = NULL;
	bw_pool *p = bw_pool_new(config_path, nworkers, timeout_ms, run_as(), &err);
	if (!p)
		fail_msg("bw_pool_new: %s", err);
	return p;
}

static int scan_text(bw_pool *p, const char *text, bw_pool_result *r)
{
	bw_pool_job job = {.raw = text, .len = strlen(text)};
	return bw_pool_scan(p, &job, r);
}

static pid_t only_worker(bw_pool *p)
{
	pid_t pid;
	assert_int_equal(bw_pool_worker_pids(p, &pid, 1), 1);
	return pid;
}

static void expect_clean_scan(bw_pool *p)
{
	size_t len;
	char *raw = read_sample(1, &len);
	bw_pool_job job = {.raw = raw, .len = len};
	bw_pool_result r;
	assert_int_equal(bw_pool_scan(p, &job, &r), 0);
	if (!r.ok)
		fail_msg("scan after a failure: %s", r.error);
	assert_int_equal(r.verdict, BW_CLEAN);
	bw_pool_result_free(&r);
	free(raw);
}

/* ---- results equal an in-process scan ---- */

static void test_same_results_as_in_process(void **state)
{
	(void)state;
	bw_pool *p = new_pool(2, 20000);
	bw_config cfg;
	bw_config_default(&cfg);
	char *err = NULL;
	assert_int_equal(bw_config_load(&cfg, config_path, &err), 0);
	bw_strvec warnings = {0};
	bw_engine *e = bw_engine_new(&cfg, &warnings);
	bw_strvec_free(&warnings);
	const char *rcpt[] = {"mp.office@parliament.example"};
	for (size_t i = 0; i < NSAMPLES; i++) {
		for (int with_rcpt = 0; with_rcpt < 2; with_rcpt++) {
			size_t len;
			char *raw = read_sample(i, &len);
			free(e->cfg.recipient);
			e->cfg.recipient = with_rcpt ? strdup(rcpt[0]) : NULL;
			bw_message m = {0};
			bw_engine_scan(e, &m, "milter", raw, len);
			bw_buf report = {0};
			bw_report_json(&report, &m);
			bw_buf ids = {0};
			for (size_t f = 0; f < m.nfindings; f++)
				bw_buf_printf(&ids, "%s%s", f ? "," : "", m.findings[f].id);
			bw_sanitize_stats stats;
			size_t san_len;
			char *sanitized = bw_mail_sanitize(raw, len, &e->cfg.limits, &stats, &san_len, &err);
			assert_non_null(sanitized);

			bw_pool_job job = {.raw = raw, .len = len, .recipients = rcpt,
					   .nrecipients = (size_t)with_rcpt, .want_sanitized = true};
			bw_pool_result r;
			assert_int_equal(bw_pool_scan(p, &job, &r), 0);
			if (!r.ok)
				fail_msg("%s: %s", samples[i], r.error);
			assert_int_equal(r.verdict, m.verdict);
			assert_true(r.score == m.score);
			assert_string_equal(r.findings ? r.findings : "", ids.data ? ids.data : "");
			assert_string_equal(r.report_json, report.data);
			assert_int_equal(r.sanitized_len, san_len);
			assert_memory_equal(r.sanitized, sanitized, san_len);
			if (i == 0) /* the impersonation sample is flagged */
				assert_int_equal(r.verdict, BW_MALICIOUS);
			bw_pool_result_free(&r);
			free(sanitized);
			bw_buf_free(&ids);
			bw_buf_free(&report);
			bw_message_free(&m);
			free(raw);
		}
	}
	bw_engine_free(e);
	bw_pool_free(p);
}

static void expect_worker_is_nobody(bw_pool *p);

/* No config file and no user, as the daemon starts with no settings at
 * all: as root, workers still drop root (to nobody). */
static void test_defaults_without_config(void **state)
{
	(void)state;
	char *err = NULL;
	bw_pool *p = bw_pool_new(NULL, 1, 20000, NULL, &err);
	if (!p)
		fail_msg("bw_pool_new: %s", err);
	expect_clean_scan(p);
	expect_worker_is_nobody(p);
	bw_pool_free(p);
}

/* Charsets whose iconv converters the warm-up scan did not load: the worker
 * loads them inside the sandbox and converts like the daemon does. */
static void test_charsets_load_inside_the_sandbox(void **state)
{
	(void)state;
	/* charset, link text in it, the same in UTF-8 (Python's codecs) */
	static const char *parts[][3] = {
		{"koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "\u041f\u0440\u0438\u0432\u0435\u0442"},
		{"iso-2022-jp", "\x1b$B$3$s$K$A$O\x1b(B", "\u3053\u3093\u306b\u3061\u306f"},
		{"big5", "\xa7\x41\xa6\x6e", "\u4f60\u597d"},
		{"gb18030", "\xc4\xe3\xba\xc3", "\u4f60\u597d"},
		{"euc-kr", "\xbe\xc8\xb3\xe7", "\uc548\ub155"},
	};
	bw_pool *p = new_pool(1, 20000);
	bw_config cfg;
	bw_config_default(&cfg);
	bw_strvec warnings = {0};
	bw_engine *e = bw_engine_new(&cfg, &warnings);
	bw_strvec_free(&warnings);
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		bw_buf raw = {0};
		bw_buf_printf(&raw, "Subject: charset\r\nMIME-Version: 1.0\r\n"
			      "Content-Type: text/html; charset=%s\r\n\r\n<p>"
			      "<a href=\"https://example.org/\">%s</a></p>\r\n", parts[i][0], parts[i][1]);
		bw_message m = {0};
		bw_engine_scan(e, &m, "milter", raw.data, raw.len);
		bw_buf report = {0};
		bw_report_json(&report, &m);
		bw_pool_result r;
		bw_pool_job job = {.raw = raw.data, .len = raw.len};
		assert_int_equal(bw_pool_scan(p, &job, &r), 0);
		if (!r.ok)
			fail_msg("%s: %s", parts[i][0], r.error);
		assert_string_equal(r.report_json, report.data);
		if (!strstr(r.report_json, parts[i][2]))
			fail_msg("%s: %s", parts[i][0], r.report_json);
		bw_pool_result_free(&r);
		bw_buf_free(&report);
		bw_message_free(&m);
		bw_buf_free(&raw);
	}
	bw_engine_free(e);
	bw_pool_free(p);
}

/* ---- the sandbox, probed from inside a worker ---- */

static void probe(bw_pool *p, const char *op, int *rc, int *err)
{
	char text[512];
	snprintf(text, sizeof text, "BULWARK-PROBE %s\r\n", op);
	bw_pool_result r;
	assert_int_equal(scan_text(p, text, &r), 0);
	if (!r.ok)
		fail_msg("probe %s: %s", op, r.error);
	char name[64];
	assert_int_equal(sscanf(r.report_json, "{\"probe\":\"%63[^\"]\",\"rc\":%d,\"errno\":%d}", name, rc, err), 3);
	bw_pool_result_free(&r);
}

/* Field from /proc/PID/status, e.g. "Uid:", as its text. */
static void proc_status(pid_t pid, const char *field, char *out, size_t size)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, strlen(field)) == 0) {
			snprintf(out, size, "%s", line + strlen(field) + strspn(line + strlen(field), " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	fclose(f);
}

/* As root, the worker runs as nobody (uid and gid 65534), with no groups
 * and no capabilities. */
static void expect_worker_is_nobody(bw_pool *p)
{
	if (geteuid() != 0) {
		print_message("skipped: not running as root, so the switch to nobody is not tested\n");
		return;
	}
	pid_t pid = only_worker(p);
	char v[256];
	proc_status(pid, "Uid:", v, sizeof v);
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	proc_status(pid, "Gid:", v, sizeof v);
	assert_string_equal(v, "65534\t65534\t65534\t65534");
	proc_status(pid, "Groups:", v, sizeof v);
	assert_string_equal(v, "");
	proc_status(pid, "CapEff:", v, sizeof v);
	assert_string_equal(v, "0000000000000000");
	proc_status(pid, "CapPrm:", v, sizeof v);
	assert_string_equal(v, "0000000000000000");
}

static void test_sandbox_refuses_writes_sockets_exec(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 20000);
	pid_t pid = only_worker(p);
	char v[256];
	proc_status(pid, "NoNewPrivs:", v, sizeof v);
	assert_string_equal(v, "1");
	proc_status(pid, "Seccomp:", v, sizeof v);
	assert_string_equal(v, "2"); /* filter mode */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
	struct stat mem;
	assert_int_equal(stat(path, &mem), 0);
	assert_int_equal(mem.st_uid, 0); /* not dumpable: its memory belongs to root */
	print_message("sandbox: %s\n", bw_pool_sandbox(p));

	char target[128], op[256];
	snprintf(target, sizeof target, "/tmp/bulwark-pool-probe-%d", (int)getpid());
	unlink(target);
	snprintf(op, sizeof op, "open-write %s", target);
	int rc, err;
	probe(p, op, &rc, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err, EACCES);
	struct stat st;
	assert_int_equal(stat(target, &st), -1);

	probe(p, "socket", &rc, &err);
	assert_int_equal(rc, -1);
	assert_int_equal(err, EACCES);

	/* outside the gconv directory nothing can be read, when the kernel
	 * has Landlock */
	probe(p, "open-read /etc/hostname", &rc, &err);
	if (strstr(bw_pool_sandbox(p), "landlock=abi")) {
		assert_int_equal(rc, -1);
		assert_int_equal(err, EACCES);
	} else {
		print_message("skipped: the kernel has no Landlock, so reads are not confined\n");
	}

	/* exec and fork are not refused but punished: the worker is killed */
	const char *fatal[] = {"BULWARK-PROBE exec\r\n", "BULWARK-PROBE fork\r\n"};
	for (size_t i = 0; i < 2; i++) {
		bw_pool_result r;
		assert_int_equal(scan_text(p, fatal[i], &r), 0);
		assert_false(r.ok);
		bw_pool_result_free(&r);
	}

	expect_clean_scan(p); /* waits for the replacement */
	expect_worker_is_nobody(p);
	bw_pool_free(p);
}

/* ---- crashes and hangs ---- */

/* Text that makes the worker misbehave fails its scan with an error saying
 * why, and the next scan runs clean on a new worker. Returns the old one. */
static pid_t expect_worker_replaced(bw_pool *p, const char *text, const char *why)
{
	pid_t before = only_worker(p);
	bw_pool_result r;
	assert_int_equal(scan_text(p, text, &r), 0);
	assert_false(r.ok);
	assert_non_null(strstr(r.error, why));
	assert_null(r.findings);
	bw_pool_result_free(&r);
	expect_clean_scan(p);
	assert_int_not_equal(only_worker(p), before);
	return before;
}

static void test_crashing_worker_is_replaced(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 20000);
	expect_worker_replaced(p, "Subject: x\r\n\r\n" CRASH_MARKER "\r\n", "died");
	bw_pool_free(p);
}

static void test_hung_worker_is_killed(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 1500);
	pid_t before = expect_worker_replaced(p, "Subject: x\r\n\r\n" HANG_MARKER "\r\n", "timed out");
	/* it slept forever: only the SIGKILL ends it (the spawner reaps it) */
	int tries = 0;
	while (kill(before, 0) == 0 && tries++ < 100)
		usleep(100000);
	assert_int_equal(kill(before, 0), -1);
	assert_int_equal(errno, ESRCH);
	bw_pool_free(p);
}

/* A header injection attempt in the findings: the reply is refused, the
 * worker replaced. */
static void test_malformed_reply_replaces_worker(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 20000);
	expect_worker_replaced(p, "Subject: x\r\n\r\n" GARBLE_MARKER "\r\n", "malformed");
	bw_pool_free(p);
}

/* ---- the daemon's checks on what a worker sends ---- */

static bw_buf good_reply(void)
{
	bw_pool_result r = {.verdict = BW_SUSPICIOUS, .score = 6.5, .findings = "TRACKING_PIXEL,REMOTE_CONTENT",
			    .report_json = "{\"verdict\":\"suspicious\"}", .sanitized = "S\0x", .sanitized_len = 3};
	bw_buf b = {0};
	bw_wire_encode_result(&b, &r);
	return b;
}

static void expect_malformed(const bw_buf *b, const char *what)
{
	bw_pool_result r;
	if (bw_wire_decode_result(b->data, b->len, &r) != -1)
		fail_msg("accepted %s", what);
	assert_null(r.findings);
	assert_null(r.report_json);
	assert_null(r.sanitized);
}

static void test_reply_decoding_is_strict(void **state)
{
	(void)state;
	bw_buf b = good_reply();
	bw_pool_result r;
	assert_int_equal(bw_wire_decode_result(b.data, b.len, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.verdict, BW_SUSPICIOUS);
	assert_true(r.score == 6.5);
	assert_string_equal(r.findings, "TRACKING_PIXEL,REMOTE_CONTENT");
	assert_int_equal(r.sanitized_len, 3);
	assert_memory_equal(r.sanitized, "S\0x", 3);
	assert_null(r.error);
	bw_pool_result_free(&r);

	for (size_t cut = 0; cut < b.len; cut++) {
		bw_buf t = {0};
		bw_buf_append(&t, b.data, cut);
		expect_malformed(&t, "a truncated reply");
		bw_buf_free(&t);
	}
	bw_buf t = good_reply();
	bw_buf_putc(&t, 0);
	expect_malformed(&t, "trailing bytes");
	bw_buf_free(&t);

	t = good_reply();
	uint32_t verdict = 3;
	memcpy(t.data, &verdict, sizeof verdict);
	expect_malformed(&t, "verdict 3");
	bw_buf_free(&t);

	double bad_scores[] = {0.0 / 0.0, 1.0 / 0.0, 1e12};
	for (size_t i = 0; i < 3; i++) {
		t = good_reply();
		memcpy(t.data + 4, &bad_scores[i], sizeof(double));
		expect_malformed(&t, "a score out of range");
		bw_buf_free(&t);
	}

	/* a findings length pointing past the end */
	t = good_reply();
	uint32_t huge = 0xfffffff0u;
	memcpy(t.data + 12, &huge, sizeof huge);
	expect_malformed(&t, "an oversized length");
	bw_buf_free(&t);

	const char *bad_findings[] = {"A\r\nX-Evil: 1", "lower_case", "A B"};
	for (size_t i = 0; i < 3; i++) {
		bw_pool_result bad = {.findings = (char *)bad_findings[i], .report_json = "{}"};
		bw_buf_reset(&t);
		bw_wire_encode_result(&t, &bad);
		expect_malformed(&t, bad_findings[i]);
	}
	const char *bad_text[] = {"{\"a\":\"\xff\"}", "{\"a\":\"\n\"}"};
	for (size_t i = 0; i < 2; i++) {
		bw_pool_result bad = {.report_json = (char *)bad_text[i]};
		bw_buf_reset(&t);
		bw_wire_encode_result(&t, &bad);
		expect_malformed(&t, "a report with invalid UTF-8 or control characters");
	}
	bw_buf_free(&t);
	bw_buf_free(&b);
}

static void test_oversized_frame_is_refused(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char payload[64] = {0};
	assert_int_equal(bw_wire_write_frame(sv[0], BW_FRAME_RESULT, payload, sizeof payload, -1), 0);
	uint32_t type;
	char *got = NULL;
	size_t len;
	assert_int_equal(bw_wire_read_frame(sv[1], &type, &got, &len, 63, bw_wire_now_ms() + 5000), -1);
	assert_int_equal(errno, EPROTO);
	assert_null(got);
	close(sv[0]);
	close(sv[1]);
}

/* fuzz_milter_wire: a contact whose bool byte is 56 (the fuzzer's payload,
 * as the worker reads it) decoded into a bw_contact; reading that bool is
 * undefined behaviour. Bytes other than 0 and 1 are now malformed. */
static void test_contact_bool_byte_not_0_or_1_is_malformed(void **state)
{
	(void)state;
	static const char fuzzed[] =
		"\x01\x00\x00\x00\x38\x01\x00\x00\x00\x32\xff\xff\xff\xff\xff\xff"
		"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
		"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
		"\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00\x68\x01\x00\x00"
		"\x00\x2e\xc2\xc2";
	bw_contact c;
	char *error = NULL;
	assert_int_equal(sizeof fuzzed - 1, 4 + sizeof c);
	assert_int_equal(bw_wire_decode_contact(fuzzed, sizeof fuzzed - 1, &c, &error), -1);
	assert_null(error);

	char valid[sizeof fuzzed - 1];
	memcpy(valid, fuzzed, sizeof valid);
	valid[4 + offsetof(bw_contact, known)] = 1;
	valid[4 + offsetof(bw_contact, domain_known)] = 0;
	assert_int_equal(bw_wire_decode_contact(valid, sizeof valid, &c, &error), 0);
	assert_true(c.known);
	assert_false(c.domain_known);
	valid[4 + offsetof(bw_contact, domain_known)] = 2;
	assert_int_equal(bw_wire_decode_contact(valid, sizeof valid, &c, &error), -1);
}

/* ---- threads ---- */

typedef struct scanner {
	bw_pool *p;
	unsigned rounds;
	unsigned ok, failed, overloaded, wrong;
	bw_verdict want[NSAMPLES];
	volatile bool *stop;
} scanner;

static void *scan_loop(void *arg)
{
	scanner *s = arg;
	for (unsigned i = 0; s->stop ? !*s->stop : i < s->rounds; i++) {
		size_t len, k = i % NSAMPLES;
		char *raw = read_sample(k, &len);
		bw_pool_job job = {.raw = raw, .len = len};
		bw_pool_result r;
		if (bw_pool_scan(s->p, &job, &r) < 0) {
			s->overloaded++;
		} else {
			if (!r.ok)
				s->failed++;
			else if (r.verdict != s->want[k])
				s->wrong++;
			else
				s->ok++;
			bw_pool_result_free(&r);
		}
		free(raw);
	}
	return NULL;
}

static void test_concurrent_scans(void **state)
{
	(void)state;
	bw_pool *p = new_pool(2, 20000);
	scanner s[4] = {0};
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		s[i] = (scanner){.p = p, .rounds = 9, .want = {BW_MALICIOUS, BW_CLEAN, BW_CLEAN}};
		assert_int_equal(pthread_create(&t[i], NULL, scan_loop, &s[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(s[i].ok, 9);
	}
	bw_pool_free(p);
}

/* ---- overload and recipients ---- */

typedef struct hang_job {
	bw_pool *p;
	int rc;
	bw_pool_result r;
} hang_job;

static void *scan_hang(void *arg)
{
	hang_job *h = arg;
	h->rc = scan_text(h->p, "Subject: x\r\n\r\n" HANG_MARKER "\r\n", &h->r);
	return NULL;
}

/* One worker, three messages that hang, sent at once. Whichever gets the
 * worker holds it until its timeout; the next one to get a worker (the
 * replacement, which comes up only after that timeout) holds it for another
 * full timeout, longer than the third waits for a free one. So at least one
 * scan must be refused as overload (-1: the caller's fail-safe default), at
 * least one must time out, and none may succeed. */
static void test_overload_when_no_worker_is_free(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 3000);
	hang_job h[3];
	pthread_t t[3];
	for (int i = 0; i < 3; i++) {
		h[i] = (hang_job){.p = p, .rc = 42};
		assert_int_equal(pthread_create(&t[i], NULL, scan_hang, &h[i]), 0);
	}
	int overloaded = 0, timed_out = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		if (h[i].rc == -1) {
			overloaded++;
			assert_null(h[i].r.error); /* untouched */
		} else {
			assert_int_equal(h[i].rc, 0);
			assert_false(h[i].r.ok);
			assert_non_null(strstr(h[i].r.error, "timed out"));
			timed_out++;
			bw_pool_result_free(&h[i].r);
		}
	}
	print_message("overload: %d refused, %d timed out\n", overloaded, timed_out);
	assert_true(overloaded >= 1);
	assert_true(timed_out >= 1);
	expect_clean_scan(p); /* and the pool serves again */
	bw_pool_free(p);
}

/* More envelope recipients than travel to the worker: the message is still
 * scanned (only the first is used, for the tracker token checks). */
static void test_many_recipients_are_scanned(void **state)
{
	(void)state;
	bw_pool *p = new_pool(1, 20000);
	enum { N = BW_WIRE_MAX_RECIPIENTS * 3 / 2 };
	char **rcpts = bw_xcalloc(N, sizeof *rcpts);
	for (size_t i = 0; i < N; i++)
		rcpts[i] = bw_xasprintf("<member%zu@parliament.example>", i);
	size_t len;
	char *raw = read_sample(1, &len);
	bw_pool_job job = {.raw = raw, .len = len, .recipients = (const char *const *)rcpts, .nrecipients = N};
	bw_pool_result r;
	assert_int_equal(bw_pool_scan(p, &job, &r), 0);
	if (!r.ok)
		fail_msg("scan with %d recipients: %s", (int)N, r.error);
	assert_int_equal(r.verdict, BW_CLEAN);
	bw_pool_result_free(&r);
	free(raw);
	for (size_t i = 0; i < N; i++)
		free(rcpts[i]);
	free(rcpts);
	bw_pool_free(p);
}

/* The reloaded config lowers the thresholds: the tracked newsletter (score
 * 4) becomes suspicious. */
static void test_reload_swaps_workers(void **state)
{
	(void)state;
	bw_pool *p = new_pool(2, 20000);
	pid_t before[2];
	assert_int_equal(bw_pool_worker_pids(p, before, 2), 2);
	volatile bool stop = false;
	scanner s[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		s[i] = (scanner){.p = p, .stop = &stop, .want = {BW_MALICIOUS, BW_CLEAN, BW_CLEAN}};
		assert_int_equal(pthread_create(&t[i], NULL, scan_loop, &s[i]), 0);
	}
	char reloaded[300];
	snprintf(reloaded, sizeof reloaded, "%s.reload", config_path);
	FILE *f = fopen(reloaded, "w");
	assert_non_null(f);
	fprintf(f, "[trackers]\nlists = %s/intel/trackers\n[scoring]\nsuspicious = 2\nmalicious = 50\n", BW_SHARED_DIR);
	fclose(f);
	char *err = NULL;
	if (bw_pool_reload(p, reloaded, &err) < 0)
		fail_msg("reload: %s", err);
	stop = true;
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		/* jobs in flight during the swap all finished; the verdicts they
		 * got are the old or the new config's */
		assert_int_equal(s[i].failed, 0);
		assert_int_equal(s[i].overloaded, 0);
		assert_true(s[i].ok + s[i].wrong > 0);
	}
	pid_t after[2];
	assert_int_equal(bw_pool_worker_pids(p, after, 2), 2);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			assert_int_not_equal(after[i], before[j]);
	size_t len;
	char *raw = read_sample(2, &len);
	bw_pool_job job = {.raw = raw, .len = len};
	bw_pool_result r;
	assert_int_equal(bw_pool_scan(p, &job, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.verdict, BW_SUSPICIOUS);
	bw_pool_result_free(&r);
	free(raw);

	/* a config that does not load leaves the workers as they are */
	assert_int_equal(bw_pool_reload(p, "/nonexistent/bulwark.conf", &err), -1);
	assert_non_null(err);
	free(err);
	pid_t still[2];
	assert_int_equal(bw_pool_worker_pids(p, still, 2), 2);
	assert_memory_equal(still, after, sizeof after);
	unlink(reloaded);
	bw_pool_free(p);
}

int main(void)
{
	setenv("BULWARK_TEST_CRASH_MARKER", CRASH_MARKER, 1);
	setenv("BULWARK_TEST_HANG_MARKER", HANG_MARKER, 1);
	setenv("BULWARK_TEST_GARBLE_MARKER", GARBLE_MARKER, 1);
	setenv("BULWARK_TEST_SANDBOX_PROBE", "1", 1);
	snprintf(config_path, sizeof config_path, "/tmp/bulwark-test-pool-%d.conf", (int)getpid());
	FILE *f = fopen(config_path, "w");
	if (!f)
		return 1;
	fprintf(f, "[trackers]\nlists = %s/intel/trackers\n", BW_SHARED_DIR);
	fclose(f);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_results_as_in_process),
		cmocka_unit_test(test_defaults_without_config),
		cmocka_unit_test(test_charsets_load_inside_the_sandbox),
		cmocka_unit_test(test_sandbox_refuses_writes_sockets_exec),
		cmocka_unit_test(test_crashing_worker_is_replaced),
		cmocka_unit_test(test_hung_worker_is_killed),
		cmocka_unit_test(test_malformed_reply_replaces_worker),
		cmocka_unit_test(test_reply_decoding_is_strict),
		cmocka_unit_test(test_oversized_frame_is_refused),
		cmocka_unit_test(test_contact_bool_byte_not_0_or_1_is_malformed),
		cmocka_unit_test(test_concurrent_scans),
		cmocka_unit_test(test_reload_swaps_workers),
		cmocka_unit_test(test_overload_when_no_worker_is_free),
		cmocka_unit_test(test_many_recipients_are_scanned),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(config_path);
	return rc;
}
