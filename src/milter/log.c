/* Structured log lines of the milter (see log.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "bulwark/util.h"
#include "milter/log.h"

static bool log_stderr = true;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void bw_mlog_open(bool to_stderr)
{
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog("bulwark-milter", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static const char *level_name(int level)
{
	switch (level) {
	case LOG_ERR: return "error";
	case LOG_WARNING: return "warning";
	case LOG_NOTICE: return "notice";
	case LOG_INFO: return "info";
	default: return "debug";
	}
}

void bw_mlog(int level, const char *fmt, ...)
{
	bw_buf b = {0};
	bw_buf_printf(&b, "level=%s ", level_name(level));
	va_list ap;
	va_start(ap, fmt);
	bw_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (!log_stderr) {
		syslog(level, "%s", b.data);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		/* One write per line, so that lines of different threads never mix. */
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "time=%s.%03ldZ %s\n", when, ts.tv_nsec / 1000000, b.data);
		fflush(stderr);
		pthread_mutex_unlock(&log_lock);
	}
	bw_buf_free(&b);
}
