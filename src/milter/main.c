/* bulwark-milter: the libmilter daemon. It collects each message, has a
 * sandboxed worker analyse it (pool.h), and carries out the configured
 * actions (policy.h); whatever goes wrong, the configured fail-safe default
 * applies. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/auth.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/policy.h"
#include "milter/pool.h"

/* The settings in force. A message holds a reference from end of data to
 * its reply, so that SIGHUP can swap them under running connections. */
typedef struct settings {
	bw_milter_config cfg;
	unsigned refs;
} settings;

static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static settings *current;
static const char *config_path; /* NULL: defaults only */
static bw_pool *pool;

static settings *settings_acquire(void)
{
	pthread_mutex_lock(&settings_lock);
	settings *s = current;
	s->refs++;
	pthread_mutex_unlock(&settings_lock);
	return s;
}

static void settings_release(settings *s)
{
	pthread_mutex_lock(&settings_lock);
	bool last = --s->refs == 0;
	pthread_mutex_unlock(&settings_lock);
	if (last) {
		bw_milter_config_free(&s->cfg);
		free(s);
	}
}

static settings *settings_read(char **error)
{
	settings *s = bw_xcalloc(1, sizeof *s);
	bw_milter_config_default(&s->cfg);
	if (config_path && bw_milter_config_load(&s->cfg, config_path, error) < 0) {
		bw_milter_config_free(&s->cfg);
		free(s);
		return NULL;
	}
	s->refs = 1;
	return s;
}

/* One SMTP connection, and the message being received on it. */
typedef struct conn {
	char *client_ip;
	char *helo;
	bool lead_space;   /* header values come and go with their leading white space */
	bool no_hdr_reply; /* the MTA expects no reply to each header */
	bw_auth *auth;     /* live authentication (one per thread: per connection) */
	bw_auth_message *auth_msg; /* this message's check, fed as it arrives */
	char *mail_from;
	bw_strvec rcpts;
	bw_header *headers;
	size_t nheaders, capheaders;
	bw_buf body;
	size_t bytes;
	bool oversize;
} conn;

static void message_reset(conn *c)
{
	free(c->mail_from);
	c->mail_from = NULL;
	bw_strvec_free(&c->rcpts);
	for (size_t i = 0; i < c->nheaders; i++) {
		free(c->headers[i].name);
		free(c->headers[i].value);
	}
	free(c->headers);
	c->headers = NULL;
	c->nheaders = c->capheaders = 0;
	bw_buf_free(&c->body);
	c->bytes = 0;
	c->oversize = false;
	bw_auth_message_free(c->auth_msg);
	c->auth_msg = NULL;
}

static conn *get_conn(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);
	if (!c) {
		c = bw_xcalloc(1, sizeof *c);
		smfi_setpriv(ctx, c);
	}
	return c;
}

/* A value safe inside a key="value" log field: spaces stay readable,
 * quotes and backslashes get a backslash, control characters and bytes
 * outside ASCII become \xNN. At most about 200 characters. */
static char *log_safe(const char *s)
{
	bw_buf b = {0};
	for (const unsigned char *p = (const unsigned char *)s; p && *p && b.len < 200; p++) {
		if (*p == '"' || *p == '\\')
			bw_buf_printf(&b, "\\%c", *p);
		else if (*p < ' ' || *p >= 127)
			bw_buf_printf(&b, "\\x%02x", *p);
		else
			bw_buf_putc(&b, (char)*p);
	}
	return bw_buf_steal(&b);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			     unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
			     unsigned long *pf3)
{
	conn *c = get_conn(ctx);
	settings *s = settings_acquire();
	/* Only what the configured actions can use: deleting forged headers
	 * and adding ours always, the body and quarantine when configured. */
	unsigned any = 0;
	for (int v = 0; v < BW_NVERDICTS; v++) {
		any |= s->cfg.actions[v];
		for (size_t g = 0; g < s->cfg.ngroups; g++)
			any |= s->cfg.groups[g].actions[v];
	}
	settings_release(s);
	unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
	if (any & BW_ACT_SANITIZE)
		want |= SMFIF_CHGBODY;
	if (any & BW_ACT_QUARANTINE)
		want |= SMFIF_QUARANTINE;
	if ((f0 & want) != want)
		bw_mlog(LOG_WARNING, "event=negotiate missing_actions=0x%lx", want & ~f0);
	*pf0 = f0 & want;
	unsigned long steps = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH | SMFIP_HDR_LEADSPC | SMFIP_NR_HDR;
	*pf1 = f1 & steps;
	c->lead_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	c->no_hdr_reply = (*pf1 & SMFIP_NR_HDR) != 0;
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
	conn *c = get_conn(ctx);
	char ip[INET6_ADDRSTRLEN] = "";
	if (addr && addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)addr)->sin_addr, ip, sizeof ip);
	else if (addr && addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)addr)->sin6_addr, ip, sizeof ip);
	free(c->client_ip);
	c->client_ip = *ip ? bw_xstrdup(ip) : NULL;
	return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
	conn *c = get_conn(ctx);
	free(c->helo);
	c->helo = bw_xstrdup(helo ? helo : "");
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	conn *c = get_conn(ctx);
	message_reset(c);
	c->mail_from = bw_xstrdup(argv && argv[0] ? argv[0] : "");
	return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
	conn *c = get_conn(ctx);
	if (argv && argv[0])
		bw_strvec_push(&c->rcpts, argv[0]);
	return SMFIS_CONTINUE;
}

/* Over the size cap nothing more is kept; end of data then applies the
 * fail-safe default (still removing forged headers when it accepts). */
static bool count_bytes(conn *c, size_t n, size_t cap)
{
	c->bytes += n;
	if (c->bytes > cap && !c->oversize) {
		c->oversize = true;
		bw_buf_free(&c->body);
	}
	return !c->oversize;
}

static size_t size_cap(void)
{
	settings *s = settings_acquire();
	size_t cap = s->cfg.max_message_bytes;
	settings_release(s);
	return cap;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	conn *c = get_conn(ctx);
	size_t n = strlen(name) + strlen(value) + 3;
	/* Headers are kept even past the cap (their count is bounded by the
	 * MTA's header_size_limit) so that forged ones can still be removed. */
	count_bytes(c, n, size_cap());
	void *p = c->headers;
	bw_grow(&p, &c->capheaders, c->nheaders + 1, sizeof *c->headers);
	c->headers = p;
	bw_buf v = {0};
	if (!c->lead_space)
		bw_buf_putc(&v, ' ');
	bw_buf_puts(&v, value);
	c->headers[c->nheaders++] = (bw_header){bw_xstrdup(name), bw_buf_steal(&v)};
	return c->no_hdr_reply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* The header block as the workers read it: headers in arrival order
 * without Authentication-Results that claim our authserv-id, then the
 * empty line. */
static void header_block(const conn *c, const bw_milter_config *cfg, bw_buf *b)
{
	for (size_t i = 0; i < c->nheaders; i++) {
		const bw_header *h = &c->headers[i];
		if (bw_ascii_iequal(h->name, "Authentication-Results") &&
		    bw_milter_claims_authserv(h->value, cfg->authserv_id))
			continue;
		size_t vlen;
		char *v = bw_milter_crlf(h->value, strlen(h->value), &vlen);
		bw_buf_printf(b, "%s:%s\r\n", h->name, v);
		free(v);
	}
	bw_buf_puts(b, "\r\n");
}

/* SPF, DKIM and DMARC need DNS, so they run here and not in the sandboxed
 * workers. The check starts with the first body chunk, when every header is
 * in (the header block goes first), and takes each chunk as it comes, so
 * that DKIM hashes the body while the MTA sends it, not after end of data.
 * Nothing past the size cap is fed: such a message gets the fail-safe. */
static void auth_feed(conn *c, const bw_milter_config *cfg, const void *chunk, size_t len)
{
	if (!cfg->auth || c->oversize)
		return;
	if (!c->auth_msg) {
		if (!c->auth) {
			bw_auth_config ac = {cfg->resolver, cfg->dns_timeout_ms, cfg->authserv_id};
			char *error = NULL;
			c->auth = bw_auth_new(&ac, &error);
			if (!c->auth) {
				bw_mlog(LOG_ERR, "event=auth_failed why=\"%s\"", error ? error : "");
				bw_metrics_error(BW_MERR_INTERNAL, false);
				free(error);
				return;
			}
		}
		c->auth_msg = bw_auth_begin(c->auth);
		bw_buf head = {0};
		header_block(c, cfg, &head);
		bw_auth_feed(c->auth_msg, head.data, head.len);
		bw_buf_free(&head);
	}
	bw_auth_feed(c->auth_msg, chunk, len);
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	conn *c = get_conn(ctx);
	settings *s = settings_acquire();
	if (count_bytes(c, len, s->cfg.max_message_bytes)) {
		bw_buf_append(&c->body, chunk, len);
		auth_feed(c, &s->cfg, chunk, len);
	}
	settings_release(s);
	return SMFIS_CONTINUE;
}

/* The message as the workers read it: the header block, then the body. */
static char *build_raw(const conn *c, const bw_milter_config *cfg, size_t *len)
{
	bw_buf b = {0};
	bw_buf_reserve(&b, c->body.len + 4096);
	header_block(c, cfg, &b);
	bw_buf_append(&b, c->body.data ? c->body.data : "", c->body.len);
	*len = b.len;
	return bw_buf_steal(&b);
}

/* The Authentication-Results value of the check auth_feed ran; it goes on
 * top of the message the workers read, where the scan trusts it (its
 * authserv-id is ours, and the forged ones were taken out). NULL when live
 * checks are off or cannot start. */
static char *authenticate(conn *c, const bw_milter_config *cfg)
{
	if (!cfg->auth)
		return NULL;
	if (!c->auth_msg && c->body.len == 0)
		auth_feed(c, cfg, NULL, 0); /* no body came (else it could not start, and said so) */
	if (!c->auth_msg)
		return NULL;
	char *ar = bw_auth_finish(c->auth, c->auth_msg, c->client_ip, c->helo, c->mail_from);
	c->auth_msg = NULL;
	return ar;
}

/* A header value as libmilter takes it: without our leading space unless
 * the MTA agreed to take values with their white space. */
static const char *milter_value(const conn *c, const char *v)
{
	return (v && !c->lead_space && *v == ' ') ? v + 1 : v;
}

/* Returns the number of libmilter calls that failed. */
static unsigned apply_edits(SMFICTX *ctx, const conn *c, const bw_milter_plan *plan)
{
	unsigned failed = 0;
	for (size_t i = 0; i < plan->nedits; i++) {
		const bw_milter_edit *e = &plan->edits[i];
		char *value = (char *)milter_value(c, e->value);
		int rc = e->op == BW_EDIT_INSERT ? smfi_insheader(ctx, 0, e->name, value)
			 : e->op == BW_EDIT_ADD  ? smfi_addheader(ctx, e->name, value)
						 : smfi_chgheader(ctx, e->name, e->index, value);
		if (rc != MI_SUCCESS) {
			bw_mlog(LOG_ERR, "event=edit_failed header=%s", e->name);
			failed++;
		}
	}
	if (plan->body && smfi_replacebody(ctx, (unsigned char *)plan->body, (int)plan->body_len) != MI_SUCCESS) {
		bw_mlog(LOG_ERR, "event=edit_failed body=replace");
		failed++;
	}
	return failed;
}

static const char *const error_kinds[BW_MERR_COUNT] = {"scan", "overload", "oversize", "internal"};

/* The configured default for a message that was not scanned. Accepting
 * still removes forged X-Bulwark-* headers and says the message is
 * unscanned. */
static sfsistat failsafe(SMFICTX *ctx, conn *c, const bw_milter_config *cfg, bw_metric_error kind,
			 const char *why, const char *qid)
{
	bw_metrics_error(kind, cfg->failsafe_tempfail);
	char *safe_why = log_safe(why);
	bw_mlog(LOG_WARNING, "event=failsafe qid=%s kind=%s action=%s why=\"%s\"", qid, error_kinds[kind],
		cfg->failsafe_tempfail ? "tempfail" : "accept", safe_why);
	free(safe_why);
	if (cfg->failsafe_tempfail) {
		smfi_setreply(ctx, "451", "4.7.1", "Message could not be checked now, try again later");
		return SMFIS_TEMPFAIL;
	}
	bw_milter_message m = {c->headers, c->nheaders, c->body.data, c->body.len};
	bw_milter_plan plan = {0};
	bw_milter_plan_strip(cfg, &m, &plan);
	apply_edits(ctx, c, &plan);
	bw_milter_plan_free(&plan);
	char *v = bw_xstrdup(" unscanned");
	smfi_addheader(ctx, "X-Bulwark-Verdict", (char *)milter_value(c, v));
	free(v);
	return SMFIS_CONTINUE;
}

/* smfi_setreply takes printf-like text: no '%', and one line. */
static char *reply_text(const char *text)
{
	char *t = bw_xstrdup(text);
	for (char *p = t; *p; p++)
		if (*p == '%' || *p == '\r' || *p == '\n')
			*p = ' ';
	return t;
}

static sfsistat decide(SMFICTX *ctx, conn *c, const bw_milter_config *cfg, const char *qid,
		       const struct timespec *t0)
{
	if (c->oversize)
		return failsafe(ctx, c, cfg, BW_MERR_OVERSIZE, "message above max_message_bytes", qid);
	size_t len;
	char *raw = build_raw(c, cfg, &len);
	char *auth_results = authenticate(c, cfg);
	if (auth_results) {
		bw_buf b = {0};
		bw_buf_reserve(&b, len + strlen(auth_results) + 32);
		bw_buf_printf(&b, "Authentication-Results: %s\r\n", auth_results);
		bw_buf_append(&b, raw, len);
		free(raw);
		len = b.len;
		raw = bw_buf_steal(&b);
	}
	bw_pool_job job = {raw, len, (const char *const *)c->rcpts.v, c->rcpts.n,
			   (bw_milter_actions_any(cfg, c->rcpts.v, c->rcpts.n) & BW_ACT_SANITIZE) != 0};
	bw_pool_result res = {0};
	int rc = bw_pool_scan(pool, &job, &res);
	free(raw);
	sfsistat ret;
	if (rc < 0) {
		ret = failsafe(ctx, c, cfg, BW_MERR_OVERLOAD, "no worker free", qid);
	} else if (!res.ok) {
		ret = failsafe(ctx, c, cfg, BW_MERR_SCAN, res.error ? res.error : "worker failed", qid);
	} else {
		unsigned actions = bw_milter_actions(cfg, res.verdict, c->rcpts.v, c->rcpts.n);
		bw_milter_message m = {c->headers, c->nheaders, c->body.data, c->body.len};
		bw_milter_scan scan = {res.verdict, res.score, res.findings, auth_results, res.sanitized,
					res.sanitized_len};
		bw_milter_plan plan = {0};
		bw_milter_plan_strip(cfg, &m, &plan);
		bw_milter_plan_actions(cfg, &m, &scan, actions, &plan);
		ret = SMFIS_CONTINUE;
		if (plan.reject) {
			char *text = reply_text(cfg->reject_text);
			smfi_setreply(ctx, "550", "5.7.1", text);
			free(text);
			ret = SMFIS_REJECT;
		} else {
			unsigned failed = apply_edits(ctx, c, &plan);
			if (plan.quarantine) {
				char reason[96];
				snprintf(reason, sizeof reason, "Bulwark: %s, score %.2f", bw_verdict_name(res.verdict),
					 res.score);
				failed += smfi_quarantine(ctx, reason) != MI_SUCCESS;
			}
			if (failed)
				bw_metrics_error(BW_MERR_INTERNAL, false);
		}
		bw_metrics_verdict(res.verdict);
		bw_metrics_actions(actions);
		double secs = seconds_since(t0);
		bw_metrics_latency(secs);
		const char *msgid = NULL;
		for (size_t i = 0; i < c->nheaders && !msgid; i++)
			if (bw_ascii_iequal(c->headers[i].name, "Message-ID"))
				msgid = c->headers[i].value;
		char *safe_id = log_safe(msgid ? msgid + strspn(msgid, " \t") : "");
		char *safe_findings = log_safe(res.findings);
		bw_buf names = {0}, rcpts = {0};
		bw_milter_action_names(actions, &names);
		/* the log keeps about 200 characters of them */
		for (size_t i = 0; i < c->rcpts.n && rcpts.len < 256; i++)
			bw_buf_printf(&rcpts, "%s%s", i ? "," : "", c->rcpts.v[i]);
		char *safe_rcpts = log_safe(rcpts.data);
		bw_mlog(LOG_INFO,
			"event=scan qid=%s msgid=\"%s\" rcpts=\"%s\" verdict=%s score=%.2f actions=%s "
			"body_replaced=%d findings=\"%s\" bytes=%zu ms=%.3f",
			qid, safe_id, safe_rcpts, bw_verdict_name(res.verdict), res.score, names.data,
			plan.body != NULL, safe_findings, c->bytes, secs * 1000);
		free(safe_rcpts);
		bw_buf_free(&rcpts);
		bw_buf_free(&names);
		free(safe_id);
		free(safe_findings);
		bw_milter_plan_free(&plan);
	}
	bw_pool_result_free(&res);
	free(auth_results);
	return ret;
}

/* The MTA's queue id goes into an unquoted log field: letters and digits
 * only, "-" for anything else. */
static const char *queue_id(SMFICTX *ctx)
{
	const char *i = smfi_getsymval(ctx, "i");
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = i ? strlen(i) : 0;
	return n && n <= 64 && strspn(i, alnum) == n ? i : "-";
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	conn *c = get_conn(ctx);
	settings *s = settings_acquire();
	sfsistat ret = decide(ctx, c, &s->cfg, queue_id(ctx), &t0);
	settings_release(s);
	message_reset(c);
	return ret;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	message_reset(get_conn(ctx));
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	conn *c = smfi_getpriv(ctx);
	if (c) {
		message_reset(c);
		free(c->client_ip);
		free(c->helo);
		if (c->auth)
			bw_auth_free(c->auth);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static void reload(void)
{
	char *error = NULL;
	settings *s = settings_read(&error);
	if (!s) {
		bw_mlog(LOG_ERR, "event=reload result=failed why=\"%s\"", error);
		free(error);
		bw_metrics_reload(false);
		return;
	}
	pthread_mutex_lock(&settings_lock);
	settings *old = current;
	current = s;
	pthread_mutex_unlock(&settings_lock);
	settings_release(old);
	bool ok = bw_pool_reload(pool, config_path, &error) == 0;
	if (ok)
		bw_mlog(LOG_NOTICE, "event=reload result=ok");
	else
		bw_mlog(LOG_ERR, "event=reload result=failed why=\"%s\"", error ? error : "pool");
	free(error);
	bw_metrics_reload(ok);
}

/* libmilter's own signal thread stops the milter on SIGHUP. The kernel
 * offers a process-directed signal first to the main thread when that
 * thread does not block it, so the main thread (which only waits for the
 * milter thread) keeps SIGHUP, SIGTERM and SIGINT unblocked and catches them
 * here; every other thread blocks them, libmilter's included. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	(void)!write(signal_pipe[1], &b, 1);
	errno = saved;
}

static void *control_thread(void *arg)
{
	unsigned char sig;
	for (;;) {
		ssize_t n = read(signal_pipe[0], &sig, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		if (sig == SIGHUP) {
			reload();
		} else {
			bw_mlog(LOG_NOTICE, "event=stop signal=%d", sig);
			smfi_stop();
		}
	}
}

static void *milter_thread(void *arg)
{
	return (void *)(intptr_t)smfi_main();
}

#define MILTER_MAX_PACKET ((size_t)1 << 20)

static struct smfiDesc filter = {
	.xxfi_name = "bulwark",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_QUARANTINE,
	.xxfi_connect = on_connect,
	.xxfi_helo = on_helo,
	.xxfi_envfrom = on_envfrom,
	.xxfi_envrcpt = on_envrcpt,
	.xxfi_header = on_header,
	.xxfi_body = on_body,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

static void usage(FILE *out)
{
	fputs("usage: bulwark-milter [--config FILE] [--socket SPEC] [--foreground]\n"
	      "  --config FILE   settings ([milter], [actions], [group:NAME] and the scan's own);\n"
	      "                  default /etc/bulwark/bulwark.conf when it exists\n"
	      "  --socket SPEC   unix:/path or inet:PORT@HOST, overriding [milter] socket\n"
	      "  --foreground    do not detach; log to stderr unless [milter] log is set\n",
	      out);
}

/* libmilter answers end of data with several small frames (one per header
 * change, then the verdict). With Nagle's algorithm each frame after the
 * first waits for the MTA's delayed ACK, about 40 ms per message (measured
 * with bench/milter/direct: 44 ms round trip for 1.6 ms of work). libmilter
 * has no option for it, but Linux copies TCP_NODELAY from a listening
 * socket to the connections it accepts, and right after smfi_opensocket
 * libmilter's is the only listening socket of the process. */
static void set_nodelay_on_listener(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		int listening = 0, family = 0, one = 1;
		socklen_t len = sizeof listening;
		if (fd <= 2 || fd == dirfd(d) ||
		    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
			continue;
		len = sizeof family;
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len) == 0 &&
		    (family == AF_INET || family == AF_INET6))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	closedir(d);
}

/* Runs the thread with SIGHUP, SIGTERM and SIGINT blocked. */
static int start_blocked(pthread_t *tid, void *(*fn)(void *))
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	int rc = pthread_create(tid, NULL, fn, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"foreground", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *socket_spec = NULL;
	bool foreground = false;
	bw_malloc_tune(); /* the daemon copies whole messages too (build_raw) */
	for (int o; (o = getopt_long(argc, argv, "c:s:fh", opts, NULL)) != -1;) {
		switch (o) {
		case 'c': config_path = optarg; break;
		case 's': socket_spec = optarg; break;
		case 'f': foreground = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!config_path && access("/etc/bulwark/bulwark.conf", F_OK) == 0)
		config_path = "/etc/bulwark/bulwark.conf";
	char *error = NULL;
	current = settings_read(&error);
	if (!current) {
		fprintf(stderr, "bulwark-milter: %s\n", error);
		free(error);
		return 2;
	}
	bw_milter_config *cfg = &current->cfg;
	if (socket_spec) {
		free(cfg->socket);
		cfg->socket = bw_xstrdup(socket_spec);
	}
	bw_mlog_open(cfg->log_stderr < 0 ? foreground : cfg->log_stderr);
	signal(SIGPIPE, SIG_IGN);
	/* A unix socket is for the MTA's group, not for every local user. */
	umask(0117);
	/* libmilter drops the connection on a packet above its limit, 64 KiB
	 * by default, and one header is one packet: Postfix passes headers up
	 * to header_size_limit (100 KiB by default). 1 MiB is libmilter's
	 * largest setting (docs/configuration.md). */
	smfi_setmaxdatasize(MILTER_MAX_PACKET);
	if (smfi_register(filter) == MI_FAILURE || smfi_setconn(cfg->socket) == MI_FAILURE ||
	    smfi_opensocket(true) == MI_FAILURE) {
		fprintf(stderr, "bulwark-milter: cannot listen on %s\n", cfg->socket);
		return 1;
	}
	set_nodelay_on_listener();
	if (!foreground && daemon(0, 0) < 0) {
		fprintf(stderr, "bulwark-milter: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	pool = bw_pool_new(config_path, cfg->workers, cfg->timeout_ms, cfg->user, &error);
	if (!pool) {
		bw_mlog(LOG_ERR, "event=start result=failed why=\"%s\"", error ? error : "pool");
		if (foreground)
			fprintf(stderr, "bulwark-milter: %s\n", error ? error : "cannot start the workers");
		free(error);
		return 1;
	}
	if (cfg->metrics && bw_metrics_serve(cfg->metrics, &error) < 0) {
		bw_mlog(LOG_ERR, "event=start result=failed why=\"%s\"", error);
		free(error);
		bw_pool_free(pool);
		return 1;
	}
	if (pipe2(signal_pipe, O_CLOEXEC) < 0)
		return 1;
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pthread_t control, milter;
	if (start_blocked(&control, control_thread) != 0 || start_blocked(&milter, milter_thread) != 0)
		return 1;
	pthread_detach(control);
	bw_mlog(LOG_NOTICE, "event=start socket=%s workers=%u timeout_ms=%u default_action=%s config=%s sandbox=\"%s\"",
		cfg->socket, cfg->workers, cfg->timeout_ms, cfg->failsafe_tempfail ? "tempfail" : "accept",
		config_path ? config_path : "-", bw_pool_sandbox(pool));
	void *rc;
	pthread_join(milter, &rc);
	bw_mlog(LOG_NOTICE, "event=exit status=%d", (int)(intptr_t)rc);
	bw_pool_free(pool);
	return (intptr_t)rc == MI_SUCCESS ? 0 : 1;
}
