/* Counters of the milter and a minimal HTTP/1.0 listener for Prometheus.
 * Hand-written because a scrape is one GET of one page: a web server
 * library would be more code to configure than this is. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "milter/metrics.h"
#include "milter/policy.h"

static const double bucket_bounds[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof bucket_bounds / sizeof bucket_bounds[0])

static const char *const error_names[BW_MERR_COUNT] = {"scan", "overload", "oversize", "internal"};
static const char *const action_labels[] = {"headers", "tag-subject", "quarantine", "reject", "sanitize"};

static atomic_ullong verdicts[BW_NVERDICTS];
static atomic_ullong accepted_plain;
static atomic_ullong actions_count[5];
static atomic_ullong errors[BW_MERR_COUNT];
static atomic_ullong failsafe[2]; /* accept, tempfail */
static atomic_ullong reloads[2];  /* failed, ok */
static atomic_ullong buckets[NBUCKETS];
static atomic_ullong latency_count;
static atomic_ullong latency_sum_us;

void bw_metrics_verdict(bw_verdict v)
{
	atomic_fetch_add(&verdicts[v], 1);
}

void bw_metrics_actions(unsigned actions)
{
	if (!actions)
		atomic_fetch_add(&accepted_plain, 1);
	for (unsigned i = 0; i < 5; i++)
		if (actions & (1u << i))
			atomic_fetch_add(&actions_count[i], 1);
}

void bw_metrics_error(bw_metric_error e, bool tempfail)
{
	atomic_fetch_add(&errors[e], 1);
	atomic_fetch_add(&failsafe[tempfail], 1);
}

void bw_metrics_reload(bool ok)
{
	atomic_fetch_add(&reloads[ok], 1);
}

void bw_metrics_latency(double seconds)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		if (seconds <= bucket_bounds[i])
			atomic_fetch_add(&buckets[i], 1);
	atomic_fetch_add(&latency_count, 1);
	atomic_fetch_add(&latency_sum_us, (unsigned long long)(seconds * 1e6));
}

void bw_metrics_render(bw_buf *b)
{
	bw_buf_puts(b, "# HELP bulwark_milter_messages_total Messages scanned, by verdict.\n"
		       "# TYPE bulwark_milter_messages_total counter\n");
	for (int v = 0; v < BW_NVERDICTS; v++)
		bw_buf_printf(b, "bulwark_milter_messages_total{verdict=\"%s\"} %llu\n",
			      bw_verdict_name((bw_verdict)v), atomic_load(&verdicts[v]));
	bw_buf_puts(b, "# HELP bulwark_milter_actions_total Actions taken on scanned messages.\n"
		       "# TYPE bulwark_milter_actions_total counter\n");
	bw_buf_printf(b, "bulwark_milter_actions_total{action=\"accept\"} %llu\n", atomic_load(&accepted_plain));
	for (unsigned i = 0; i < 5; i++)
		bw_buf_printf(b, "bulwark_milter_actions_total{action=\"%s\"} %llu\n", action_labels[i],
			      atomic_load(&actions_count[i]));
	bw_buf_puts(b, "# HELP bulwark_milter_errors_total Messages not scanned, by cause.\n"
		       "# TYPE bulwark_milter_errors_total counter\n");
	for (int e = 0; e < BW_MERR_COUNT; e++)
		bw_buf_printf(b, "bulwark_milter_errors_total{kind=\"%s\"} %llu\n", error_names[e],
			      atomic_load(&errors[e]));
	bw_buf_puts(b, "# HELP bulwark_milter_failsafe_total Fail-safe defaults applied.\n"
		       "# TYPE bulwark_milter_failsafe_total counter\n");
	bw_buf_printf(b, "bulwark_milter_failsafe_total{action=\"accept\"} %llu\n", atomic_load(&failsafe[0]));
	bw_buf_printf(b, "bulwark_milter_failsafe_total{action=\"tempfail\"} %llu\n", atomic_load(&failsafe[1]));
	bw_buf_puts(b, "# HELP bulwark_milter_reloads_total Reloads on SIGHUP.\n"
		       "# TYPE bulwark_milter_reloads_total counter\n");
	bw_buf_printf(b, "bulwark_milter_reloads_total{result=\"ok\"} %llu\n", atomic_load(&reloads[1]));
	bw_buf_printf(b, "bulwark_milter_reloads_total{result=\"failed\"} %llu\n", atomic_load(&reloads[0]));
	bw_buf_puts(b, "# HELP bulwark_milter_scan_seconds Processing time at end of data.\n"
		       "# TYPE bulwark_milter_scan_seconds histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++)
		bw_buf_printf(b, "bulwark_milter_scan_seconds_bucket{le=\"%g\"} %llu\n", bucket_bounds[i],
			      atomic_load(&buckets[i]));
	unsigned long long count = atomic_load(&latency_count);
	bw_buf_printf(b, "bulwark_milter_scan_seconds_bucket{le=\"+Inf\"} %llu\n", count);
	bw_buf_printf(b, "bulwark_milter_scan_seconds_sum %.6f\n", (double)atomic_load(&latency_sum_us) / 1e6);
	bw_buf_printf(b, "bulwark_milter_scan_seconds_count %llu\n", count);
}

static void *serve_thread(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	unsigned backoff_ms = 0;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* Out of descriptors or memory: the pending connection stays
			 * queued, so retrying at once would spin at full CPU. Wait
			 * 10 ms, doubling up to 1 s while it lasts. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				backoff_ms = backoff_ms ? (backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2) : 10;
				struct timespec ts = {.tv_sec = backoff_ms / 1000, .tv_nsec = (long)(backoff_ms % 1000) * 1000000};
				while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
					;
				continue;
			}
			return NULL;
		}
		backoff_ms = 0;
		/* A slow or silent client must not hold the scrape thread. */
		struct timeval tv = {.tv_sec = 2};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		char req[2048];
		size_t got = 0;
		while (got < sizeof req - 1) {
			ssize_t n = recv(fd, req + got, sizeof req - 1 - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
				break;
		}
		bw_buf body = {0};
		bw_metrics_render(&body);
		bw_buf resp = {0};
		bw_buf_printf(&resp, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			      "Content-Length: %zu\r\nConnection: close\r\n\r\n", body.len);
		bw_buf_append(&resp, body.data, body.len);
		for (size_t off = 0; off < resp.len;) {
			ssize_t n = send(fd, resp.data + off, resp.len - off, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		bw_buf_free(&body);
		bw_buf_free(&resp);
		close(fd);
	}
}

int bw_metrics_serve(const char *addr, char **error)
{
	const char *colon = strrchr(addr, ':');
	bw_buf err = {0};
	if (!colon || colon == addr || !colon[1]) {
		bw_buf_printf(&err, "metrics address \"%s\" is not host:port", addr);
		*error = bw_buf_steal(&err);
		return -1;
	}
	char *host = bw_xstrndup(addr, (size_t)(colon - addr));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	free(host);
	int fd = -1;
	if (rc != 0) {
		bw_buf_printf(&err, "metrics address \"%s\": %s", addr, gai_strerror(rc));
	} else {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
			bw_buf_printf(&err, "metrics address \"%s\": %s", addr, strerror(errno));
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
	}
	pthread_t tid;
	if (fd >= 0 && pthread_create(&tid, NULL, serve_thread, (void *)(intptr_t)fd) != 0) {
		bw_buf_puts(&err, "metrics: cannot start the listener thread");
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		*error = bw_buf_steal(&err);
		return -1;
	}
	pthread_detach(tid);
	return 0;
}
