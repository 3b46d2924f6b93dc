/* The milter's scan pool: analysis runs in sandboxed worker processes, never
 * in the daemon (docs/sandbox.md). The daemon hands each message to a free
 * worker over a socketpair and treats what comes back as untrusted. */
#ifndef BULWARK_MILTER_POOL_H
#define BULWARK_MILTER_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bulwark/message.h"

typedef struct bw_pool_job {
	const char *raw;
	size_t len;
	/* envelope recipients; the first is the address the tracker token
	 * checks look for (none: taken from the headers, as bulwark scan does) */
	const char *const *recipients;
	size_t nrecipients;
	bool want_sanitized;
} bw_pool_job;

typedef struct bw_pool_result {
	bool ok; /* false: worker crashed, timed out or failed -> caller applies the fail-safe default */
	bw_verdict verdict;
	double score;
	char *findings;    /* comma-separated finding ids, highest score first */
	char *report_json;
	char *sanitized;   /* want_sanitized: the sanitized message, or NULL (then error says why) */
	size_t sanitized_len;
	char *error;
} bw_pool_result;

typedef struct bw_pool bw_pool;

#define BW_POOL_DEFAULT_USER "nobody"

/* Starts nworkers workers and waits until they have loaded config_path
 * (NULL: the defaults) and locked themselves down. run_as_user: the account
 * workers switch to (needs root), or NULL: BW_POOL_DEFAULT_USER when the
 * daemon runs as root (an error if that account does not exist), else the
 * daemon's own. Call it
 * before the daemon starts threads: the pool forks a small spawner process
 * here, and forking is only safe from a single-threaded process. Returns
 * NULL with *error (malloc'd) when the config or the sandbox fails. */
bw_pool *bw_pool_new(const char *config_path, unsigned nworkers, unsigned timeout_ms,
		     const char *run_as_user, char **error);

/* Scans one message in a worker. Thread-safe. Waits at most timeout_ms for a
 * free worker and returns -1 when none came free (overload; *out untouched).
 * Otherwise returns 0 with *out filled: ok=false when the worker crashed,
 * took longer than timeout_ms (it is killed) or sent a malformed reply; the
 * worker is then replaced. Free *out with bw_pool_result_free. */
int bw_pool_scan(bw_pool *p, const bw_pool_job *job, bw_pool_result *out);

/* For SIGHUP (call it from a thread, not from the signal handler): starts
 * new workers with the new config, tracker lists and intel, and retires the
 * old ones once all new ones are ready; jobs in flight finish on the old
 * ones. On error (bad config, new workers fail to start) the old workers
 * keep serving and -1 is returned with *error (malloc'd). */
int bw_pool_reload(bw_pool *p, const char *config_path, char **error);

void bw_pool_result_free(bw_pool_result *r);

/* No scan may be in flight. */
void bw_pool_free(bw_pool *p);

/* For logs, metrics and tests. */
/* What the workers' sandbox consists of, e.g. "user=nobody seccomp=kill
 * landlock=abi6" (docs/sandbox.md). */
const char *bw_pool_sandbox(bw_pool *p);
/* Fills pids with the workers that serve jobs now; returns how many. */
unsigned bw_pool_worker_pids(bw_pool *p, pid_t *pids, unsigned max);

#endif
