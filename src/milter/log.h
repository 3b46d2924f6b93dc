/* Structured log lines (key=value) of the milter, to syslog or stderr. */
#ifndef BULWARK_MILTER_LOG_H
#define BULWARK_MILTER_LOG_H

#include <stdbool.h>
#include <syslog.h>

void bw_mlog_open(bool to_stderr);
/* level is a syslog priority; fmt gives the key=value pairs after
 * "level=... ". Safe from any thread. */
void bw_mlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
