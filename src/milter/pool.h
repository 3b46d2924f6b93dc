/* The pool of sandboxed worker processes that run the analysis for the milter
 * (interface as agreed with the pool branch, whose version of this file wins). */
#ifndef BULWARK_MILTER_POOL_H
#define BULWARK_MILTER_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/message.h"

typedef struct bw_pool_job {
	const char *raw;
	size_t len;
	const char *const *recipients;
	size_t nrecipients;
	bool want_sanitized;
} bw_pool_job;

typedef struct bw_pool_result {
	bool ok; /* false: worker crashed, timed out or failed -> caller applies the fail-safe default */
	bw_verdict verdict;
	double score;
	char *findings; /* comma-separated finding ids, highest score first */
	char *report_json;
	char *sanitized;
	size_t sanitized_len;
	char *error;
} bw_pool_result;

typedef struct bw_pool bw_pool;

bw_pool *bw_pool_new(const char *config_path, unsigned nworkers, unsigned timeout_ms,
		     const char *run_as_user, char **error);
/* Thread-safe; waits for a free worker (bounded queue: returns -1 on overload). */
int bw_pool_scan(bw_pool *p, const bw_pool_job *job, bw_pool_result *out);
/* New workers with the new config/intel/trackers; in-flight jobs finish. */
int bw_pool_reload(bw_pool *p, const char *config_path, char **error);
void bw_pool_result_free(bw_pool_result *r);
void bw_pool_free(bw_pool *p);

#endif
