/* Counters of the milter and the Prometheus text endpoint that shows them. */
#ifndef BULWARK_MILTER_METRICS_H
#define BULWARK_MILTER_METRICS_H

#include "bulwark/message.h"
#include "bulwark/util.h"

typedef enum bw_metric_error {
	BW_MERR_SCAN,     /* worker crashed, timed out or failed */
	BW_MERR_OVERLOAD, /* no worker free and the queue full */
	BW_MERR_OVERSIZE, /* message above [milter] max_message_bytes */
	BW_MERR_INTERNAL, /* the daemon itself (a libmilter call failed, ...) */
	BW_MERR_COUNT
} bw_metric_error;

void bw_metrics_verdict(bw_verdict v);
void bw_metrics_actions(unsigned actions);
/* An error and the fail-safe default applied for it. */
void bw_metrics_error(bw_metric_error e, bool tempfail);
void bw_metrics_reload(bool ok);
/* Processing time of one message at end of data, in seconds. */
void bw_metrics_latency(double seconds);

/* The exposition text (format version 0.0.4). */
void bw_metrics_render(bw_buf *b);
/* Serves GET of any path with the text on host:port ("127.0.0.1:9899",
 * "[::1]:9899") from a thread. Returns 0, or -1 with *error. */
int bw_metrics_serve(const char *addr, char **error);

#endif
