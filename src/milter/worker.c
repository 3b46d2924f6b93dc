/* A pool worker (worker.h). Two phases, in this order:
 *   1. load: configuration, tracker lists, libmagic, identities, and a
 *      warm-up scan so that every library has opened its data files;
 *      anything new that must be read from disk (intel database, YARA rules)
 *      belongs here, in load_engine; the sender history, which needs
 *      writes, stays in the daemon (ask_daemon);
 *   2. lock down (sandbox.c), then serve jobs; from here on no file can be
 *      opened for writing and no socket made.
 * The worker exits with _exit: after lock-down there is nothing to flush,
 * and the sanitizers' exit-time leak check needs system calls (ptrace) that
 * the sandbox forbids. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/mail.h"
#include "bulwark/report.h"
#include "milter/sandbox.h"
#include "milter/wire.h"
#include "milter/worker.h"

/* Test hooks, read from the environment in the load phase (docs/sandbox.md):
 * BULWARK_TEST_CRASH_MARKER=S  abort() on a message containing S;
 * BULWARK_TEST_HANG_MARKER=S   sleep forever on a message containing S;
 * BULWARK_TEST_GARBLE_MARKER=S reply with a malformed result to it;
 * BULWARK_TEST_SANDBOX_PROBE=1 a message "BULWARK-PROBE OP [PATH]" runs OP
 *                              inside the sandbox and reports the outcome. */
typedef struct test_hooks {
	const char *crash_marker;
	const char *hang_marker;
	const char *garble_marker;
	bool probe;
} test_hooks;

static const char *env_marker(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static bool contains(const char *raw, size_t len, const char *marker)
{
	return marker && memmem(raw, len, marker, strlen(marker));
}

static __attribute__((noreturn)) void fail(int fd, const char *why)
{
	fprintf(stderr, "bulwark pool worker %d: %s\n", (int)getpid(), why);
	bw_wire_write_frame(fd, BW_FRAME_FAILED, why, strlen(why), -1);
	_exit(2);
}

/* A message that exercises what scanning initialises lazily: MIME parsing,
 * charset conversion (iconv's module cache), HTML extraction, tracker
 * matching, attachment typing and sanitizing. */
static const char warm_up_message[] =
	"From: Warm Up <warm@example.org>\r\nTo: someone@example.net\r\n"
	"Subject: =?iso-8859-1?q?warm_=E9?=\r\nMIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	"--b\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n"
	"<p>caf\xe9 <a href=\"https://example.org/x?u=someone@example.net\">link</a>"
	"<img src=\"https://example.org/p.gif\" width=1 height=1></p>\r\n"
	"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee www.example.com\r\n"
	"--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
	"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";

/* FIRST_CONTACT's history store belongs to the daemon, because recording
 * a sighting writes and the sandbox forbids writes: the worker sends the
 * sighting on its socket in the middle of the job and waits for the answer
 * (docs/sandbox.md). The daemon bounds how long. */
static int ask_daemon(void *arg, const bw_sighting *s, bw_contact *out, char **error)
{
	int fd = *(const int *)arg;
	bw_buf q = {0};
	bw_wire_encode_sighting(&q, s);
	int rc = bw_wire_write_frame(fd, BW_FRAME_SIGHTING, q.data, q.len, -1);
	bw_buf_free(&q);
	uint32_t type;
	char *payload = NULL;
	size_t len;
	if (rc == 0)
		rc = bw_wire_read_frame(fd, &type, &payload, &len, 64 * 1024, -1);
	if (rc < 0 || type != BW_FRAME_CONTACT)
		_exit(2); /* the daemon gave up on this job */
	rc = bw_wire_decode_contact(payload, len, out, error);
	free(payload);
	if (rc < 0)
		_exit(2);
	return rc == 0 ? 0 : -1;
}

static bw_engine *load_engine(int *fd, const char *config_path)
{
	bw_config cfg;
	bw_config_default(&cfg);
	char *err = NULL;
	if (config_path && bw_config_load(&cfg, config_path, &err) < 0)
		fail(*fd, err);
	/* opened by the daemon, not here (ask_daemon) */
	char *history_db = cfg.history_db;
	cfg.history_db = NULL;
	/* nothing may be opened after lock-down, not even SQLite's journal probe */
	cfg.intel_immutable = true;
	bw_strvec warnings = {0};
	bw_engine *e = bw_engine_new(&cfg, &warnings);
	e->cfg.history_db = history_db;
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, "bulwark pool worker: %s\n", warnings.v[i]);
	bw_strvec_free(&warnings);

	bw_message m = {0};
	bw_engine_scan(e, &m, "warm-up", warm_up_message, sizeof warm_up_message - 1);
	bw_buf report = {0};
	bw_report_json(&report, &m);
	bw_buf_free(&report);
	bw_message_free(&m);
	bw_sanitize_stats stats;
	size_t n;
	free(bw_mail_sanitize(warm_up_message, sizeof warm_up_message - 1, &e->cfg.limits, &stats, &n, &err));
	free(err);
	/* after the warm-up, which must not record a sighting */
	if (history_db) {
		e->history_record = ask_daemon;
		e->history_arg = fd;
	}
	return e;
}

/* Runs one probe operation inside the sandbox; the outcome goes into the
 * report as {"probe": OP, "rc": N, "errno": E}. A forbidden call that the
 * filter punishes by death never returns. */
static void run_probe(const char *raw, size_t len, bw_pool_result *r)
{
	char line[512];
	size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
	memcpy(line, raw, n);
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	char *op = line + strlen("BULWARK-PROBE ");
	char *arg = strchr(op, ' ');
	if (arg)
		*arg++ = '\0';
	long rc = -1;
	errno = 0;
	if (strcmp(op, "open-write") == 0 && arg)
		rc = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	else if (strcmp(op, "open-read") == 0 && arg)
		rc = open(arg, O_RDONLY);
	else if (strcmp(op, "socket") == 0)
		rc = socket(AF_INET, SOCK_STREAM, 0);
	else if (strcmp(op, "exec") == 0)
		rc = execl("/bin/true", "true", (char *)NULL);
	else if (strcmp(op, "fork") == 0)
		rc = fork();
	else
		errno = EINVAL;
	int e = errno;
	bw_buf b = {0};
	bw_buf_printf(&b, "{\"probe\":\"%s\",\"rc\":%ld,\"errno\":%d}", op, rc, rc < 0 ? e : 0);
	r->report_json = bw_buf_steal(&b);
	if (rc >= 0 && strcmp(op, "fork") != 0)
		close((int)rc);
	else if (rc == 0)
		_exit(0);
}

static char *findings_list(const bw_message *m)
{
	bw_buf b = {0};
	for (size_t i = 0; i < m->nfindings; i++) {
		if (i)
			bw_buf_putc(&b, ',');
		bw_buf_puts(&b, m->findings[i].id);
	}
	return b.data ? bw_buf_steal(&b) : NULL;
}

/* The first envelope recipient is the one whose tokens are looked for;
 * all of them count for FIRST_CONTACT. */
static void scan_job(bw_engine *e, const bw_wire_job *job, const bw_strvec *recipients,
		     const char *config_recipient, bw_pool_result *r)
{
	free(e->cfg.recipient);
	bw_strvec_free(&e->cfg.more_recipients);
	const char *rcpt = recipients->n ? recipients->v[0] : config_recipient;
	e->cfg.recipient = rcpt ? bw_xstrdup(rcpt) : NULL;
	for (size_t i = 1; i < recipients->n; i++)
		bw_strvec_push(&e->cfg.more_recipients, recipients->v[i]);
	bw_message m = {0};
	bw_engine_scan(e, &m, "milter", job->raw, job->len);
	r->verdict = m.verdict;
	r->score = m.score;
	r->findings = findings_list(&m);
	bw_buf report = {0};
	bw_report_json(&report, &m);
	r->report_json = bw_buf_steal(&report);
	bw_message_free(&m);
	if (job->want_sanitized) {
		/* the whole message: a sanitized copy must not be cut short */
		bw_limits lim = e->cfg.limits;
		lim.max_message_bytes = BW_WIRE_MAX_MESSAGE;
		bw_sanitize_stats stats;
		r->sanitized = bw_mail_sanitize(job->raw, job->len, &lim, &stats, &r->sanitized_len, &r->error);
	}
}

static void serve(int fd, bw_engine *e, const test_hooks *hooks)
{
	char *config_recipient = e->cfg.recipient ? bw_xstrdup(e->cfg.recipient) : NULL;
	bw_strvec recipients = {0};
	bw_buf reply = {0};
	for (;;) {
		uint32_t type;
		char *payload;
		size_t len;
		if (bw_wire_read_frame(fd, &type, &payload, &len,
				       BW_WIRE_MAX_MESSAGE + BW_WIRE_MAX_RECIPIENTS * 1024, -1) < 0)
			_exit(errno == EPIPE ? 0 : 2); /* the daemon closed: retired */
		bw_wire_job job;
		if (type != BW_FRAME_JOB || bw_wire_decode_job(payload, len, &job, &recipients) < 0)
			_exit(2);
		if (contains(job.raw, job.len, hooks->crash_marker))
			abort();
		while (contains(job.raw, job.len, hooks->hang_marker))
			sleep(60);
		bw_pool_result r = {.ok = true};
		if (contains(job.raw, job.len, hooks->garble_marker))
			r.findings = bw_xstrdup("INJECTED\r\nX-Bulwark-Verdict: clean");
		else if (hooks->probe && job.len > 14 && memcmp(job.raw, "BULWARK-PROBE ", 14) == 0)
			run_probe(job.raw, job.len, &r);
		else
			scan_job(e, &job, &recipients, config_recipient, &r);
		free(payload);
		bw_buf_reset(&reply);
		bw_wire_encode_result(&reply, &r);
		bw_pool_result_free(&r);
		if (bw_wire_write_frame(fd, BW_FRAME_RESULT, reply.data, reply.len, -1) < 0)
			_exit(errno == EPIPE ? 0 : 2);
	}
}

void bw_pool_worker_main(int fd, const char *config_path, bool drop_user, uid_t uid, gid_t gid)
{
	test_hooks hooks = {
		.crash_marker = env_marker("BULWARK_TEST_CRASH_MARKER"),
		.hang_marker = env_marker("BULWARK_TEST_HANG_MARKER"),
		.garble_marker = env_marker("BULWARK_TEST_GARBLE_MARKER"),
		.probe = env_marker("BULWARK_TEST_SANDBOX_PROBE") != NULL,
	};
	/* ---- load phase: everything that reads files ---- */
	bw_malloc_tune();
	bw_engine *e = load_engine(&fd, config_path);

	/* ---- lock down ---- */
	bw_buf summary = {0}, why = {0};
	if (drop_user && bw_sandbox_drop_user(uid, gid, &why) < 0)
		fail(fd, why.data);
	/* after the credential change, which clears it: die with the spawner */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	bw_buf_printf(&summary, "uid=%u gid=%u ", (unsigned)getuid(), (unsigned)getgid());
	if (bw_sandbox_lock_down(&summary, &why) < 0)
		fail(fd, why.data);
	if (bw_wire_write_frame(fd, BW_FRAME_READY, summary.data, summary.len, -1) < 0)
		_exit(2);
	bw_buf_free(&summary);
	bw_buf_free(&why);

	/* ---- serve ---- */
	serve(fd, e, &hooks);
	_exit(0);
}
