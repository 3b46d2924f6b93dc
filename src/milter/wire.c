/* The pool's wire protocol (wire.h): framing, deadlines and the strict
 * decoding of what a worker sends. */
#include <errno.h>
#include <glib.h>
#include <math.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "milter/wire.h"

size_t bw_wire_max_reply(size_t job_len)
{
	/* sanitizing can lengthen a message a little (a summary header, longer
	 * neutralized URLs); the report lists at most max_links + max_resources
	 * entries with bounded evidence */
	return 2 * job_len + ((size_t)64 << 20);
}

int64_t bw_wire_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		int timeout = -1;
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - bw_wire_now_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd pfd = {.fd = fd, .events = events};
		int n = poll(&pfd, 1, timeout);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

int bw_wire_write(int fd, const void *data, size_t len, int64_t deadline_ms)
{
	const char *p = data;
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLOUT, deadline_ms) == 0)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int bw_wire_read(int fd, void *data, size_t len, int64_t deadline_ms)
{
	char *p = data;
	while (len) {
		if (deadline_ms >= 0 && wait_fd(fd, POLLIN, deadline_ms) < 0)
			return -1;
		ssize_t r = read(fd, p, len);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int bw_wire_read_frame(int fd, uint32_t *type, char **payload, size_t *len, size_t max,
		       int64_t deadline_ms)
{
	uint32_t head[2];
	if (bw_wire_read(fd, head, sizeof head, deadline_ms) < 0)
		return -1;
	if (head[1] > max) {
		errno = EPROTO;
		return -1;
	}
	char *p = malloc((size_t)head[1] + 1);
	if (!p)
		return -1;
	if (bw_wire_read(fd, p, head[1], deadline_ms) < 0) {
		int e = errno;
		free(p);
		errno = e;
		return -1;
	}
	p[head[1]] = '\0';
	*type = head[0];
	*payload = p;
	*len = head[1];
	return 0;
}

int bw_wire_write_frame(int fd, uint32_t type, const void *payload, size_t len, int64_t deadline_ms)
{
	uint32_t head[2] = {type, (uint32_t)len};
	if (len > UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (bw_wire_write(fd, head, sizeof head, deadline_ms) < 0)
		return -1;
	return bw_wire_write(fd, payload, len, deadline_ms);
}

/* ---- fields ---- */

static void put_u32(bw_buf *b, uint32_t v)
{
	bw_buf_append(b, &v, sizeof v);
}

static void put_bytes(bw_buf *b, const char *s, size_t len)
{
	put_u32(b, (uint32_t)len);
	if (len)
		bw_buf_append(b, s, len);
}

static void put_str(bw_buf *b, const char *s)
{
	put_bytes(b, s, s ? strlen(s) : 0);
}

typedef struct cursor {
	const char *p;
	size_t left;
} cursor;

static bool get_u32(cursor *c, uint32_t *v)
{
	if (c->left < sizeof *v)
		return false;
	memcpy(v, c->p, sizeof *v);
	c->p += sizeof *v;
	c->left -= sizeof *v;
	return true;
}

static bool get_bytes(cursor *c, const char **s, size_t *len)
{
	uint32_t n;
	if (!get_u32(c, &n) || n > c->left)
		return false;
	*s = c->p;
	*len = n;
	c->p += n;
	c->left -= n;
	return true;
}

/* Job payload: u32 want_sanitized, u32 nrecipients, recipients, raw. A
 * message may have any number of envelope recipients; the worker's token
 * checks use the first and FIRST_CONTACT each, so the first
 * BW_WIRE_MAX_RECIPIENTS travel. */
void bw_wire_encode_job_head(bw_buf *out, const bw_pool_job *job)
{
	bw_buf fields = {0};
	size_t nrcpt = job->nrecipients < BW_WIRE_MAX_RECIPIENTS ? job->nrecipients : BW_WIRE_MAX_RECIPIENTS;
	put_u32(&fields, job->want_sanitized);
	put_u32(&fields, (uint32_t)nrcpt);
	for (size_t i = 0; i < nrcpt; i++)
		put_str(&fields, job->recipients[i]);
	put_u32(&fields, (uint32_t)job->len);
	put_u32(out, BW_FRAME_JOB);
	put_u32(out, (uint32_t)(fields.len + job->len));
	bw_buf_append(out, fields.data, fields.len);
	bw_buf_free(&fields);
}

int bw_wire_decode_job(const char *payload, size_t len, bw_wire_job *job, bw_strvec *recipients)
{
	bw_strvec_free(recipients);
	cursor c = {payload, len};
	uint32_t want, nrcpt;
	if (!get_u32(&c, &want) || want > 1 || !get_u32(&c, &nrcpt) || nrcpt > BW_WIRE_MAX_RECIPIENTS)
		return -1;
	memset(job, 0, sizeof *job);
	job->want_sanitized = want;
	for (uint32_t i = 0; i < nrcpt; i++) {
		const char *s;
		size_t n;
		if (!get_bytes(&c, &s, &n) || memchr(s, '\0', n))
			return -1;
		if (n)
			bw_strvec_push_owned(recipients, bw_xstrndup(s, n));
	}
	if (!get_bytes(&c, &job->raw, &job->len) || c.left)
		return -1;
	return 0;
}

/* Result payload: u32 verdict, f64 score, findings, report, u32 has
 * sanitized, sanitized, error. */
void bw_wire_encode_result(bw_buf *out, const bw_pool_result *r)
{
	put_u32(out, (uint32_t)r->verdict);
	bw_buf_append(out, &r->score, sizeof r->score);
	put_str(out, r->findings);
	put_str(out, r->report_json);
	put_u32(out, r->sanitized != NULL);
	put_bytes(out, r->sanitized, r->sanitized_len);
	put_str(out, r->error);
}

/* Text that goes into a header or a log line: UTF-8, no control
 * characters (no CR/LF to inject headers with). */
static char *get_text(cursor *c, bool *ok)
{
	const char *s;
	size_t n;
	if (!get_bytes(c, &s, &n) || !g_utf8_validate(s, (gssize)n, NULL)) {
		*ok = false;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			*ok = false;
			return NULL;
		}
	return n ? bw_xstrndup(s, n) : NULL;
}

/* Finding ids are UPPER_SNAKE (docs/report-format.md); the milter copies
 * the list into X-Bulwark-Findings. */
static bool findings_well_formed(const char *s)
{
	for (; s && *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == ','))
			return false;
	return true;
}

/* Here, not in pool.c, because the decoder frees with it: wire.c links
 * alone (tests/fuzz/fuzz_milter_wire). */
void bw_pool_result_free(bw_pool_result *r)
{
	free(r->findings);
	free(r->report_json);
	free(r->sanitized);
	free(r->error);
	memset(r, 0, sizeof *r);
}

int bw_wire_decode_result(const char *payload, size_t len, bw_pool_result *out)
{
	cursor c = {payload, len};
	memset(out, 0, sizeof *out);
	uint32_t verdict, has_sanitized;
	double score;
	if (!get_u32(&c, &verdict) || verdict > BW_MALICIOUS || c.left < sizeof score)
		return -1;
	memcpy(&score, c.p, sizeof score);
	c.p += sizeof score;
	c.left -= sizeof score;
	bool ok = isfinite(score) && fabs(score) <= 1e9;
	out->verdict = (bw_verdict)verdict;
	out->score = score;
	out->findings = get_text(&c, &ok);
	out->report_json = get_text(&c, &ok);
	const char *s;
	size_t n;
	if (ok && get_u32(&c, &has_sanitized) && has_sanitized <= 1 && get_bytes(&c, &s, &n)) {
		if (has_sanitized) {
			out->sanitized = bw_xmalloc(n + 1);
			memcpy(out->sanitized, s, n);
			out->sanitized[n] = '\0';
			out->sanitized_len = n;
		}
	} else {
		ok = false;
	}
	out->error = ok ? get_text(&c, &ok) : NULL;
	if (!ok || c.left || !findings_well_formed(out->findings)) {
		bw_pool_result_free(out);
		return -1;
	}
	out->ok = true;
	return 0;
}

/* Sighting payload: msg_key, sender, sender_domain, recipient, i64 sent. */
void bw_wire_encode_sighting(bw_buf *out, const bw_sighting *s)
{
	put_str(out, s->msg_key);
	put_str(out, s->sender);
	put_str(out, s->sender_domain);
	put_str(out, s->recipient);
	bw_buf_append(out, &s->sent, sizeof s->sent);
}

/* A non-empty field of at most BW_WIRE_MAX_FIELD bytes, copied (with its
 * NUL) into strings; returns its offset there, or -1. */
static long get_field(cursor *c, bw_buf *strings)
{
	const char *s;
	size_t n;
	if (!get_bytes(c, &s, &n) || n == 0 || n > BW_WIRE_MAX_FIELD || !g_utf8_validate(s, (gssize)n, NULL))
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	long off = (long)strings->len;
	bw_buf_append(strings, s, n);
	bw_buf_putc(strings, '\0');
	return off;
}

int bw_wire_decode_sighting(const char *payload, size_t len, bw_sighting *s, bw_buf *strings)
{
	cursor c = {payload, len};
	bw_buf_reset(strings);
	long off[4];
	for (int i = 0; i < 4; i++)
		if ((off[i] = get_field(&c, strings)) < 0)
			return -1;
	if (c.left != sizeof s->sent)
		return -1;
	memcpy(&s->sent, c.p, sizeof s->sent);
	s->msg_key = strings->data + off[0];
	s->sender = strings->data + off[1];
	s->sender_domain = strings->data + off[2];
	s->recipient = strings->data + off[3];
	return 0;
}

void bw_wire_encode_contact(bw_buf *out, const bw_contact *c, const char *error)
{
	put_u32(out, error == NULL);
	if (error)
		put_str(out, error);
	else
		bw_buf_append(out, c, sizeof *c);
}

int bw_wire_decode_contact(const char *payload, size_t len, bw_contact *c, char **error)
{
	cursor cur = {payload, len};
	uint32_t ok;
	if (!get_u32(&cur, &ok) || ok > 1)
		return -1;
	if (ok) {
		if (cur.left != sizeof *c)
			return -1;
		/* the struct travels as raw bytes, and a bool byte other than 0
		 * or 1 is undefined behaviour to read (fuzz_milter_wire) */
		if ((unsigned char)cur.p[offsetof(bw_contact, known)] > 1 ||
		    (unsigned char)cur.p[offsetof(bw_contact, domain_known)] > 1)
			return -1;
		memcpy(c, cur.p, sizeof *c);
		return 0;
	}
	const char *s;
	size_t n;
	if (!get_bytes(&cur, &s, &n) || cur.left)
		return -1;
	*error = bw_xstrndup(s, n);
	return 1;
}
