/* A pool worker process: load, lock down, then scan jobs from the daemon
 * until its socket closes (docs/sandbox.md). */
#ifndef BULWARK_MILTER_WORKER_H
#define BULWARK_MILTER_WORKER_H

#include <stdbool.h>
#include <sys/types.h>

/* Never returns. fd: the worker's end of its socketpair. config_path NULL:
 * the defaults. drop_user: switch to uid/gid before locking down. */
__attribute__((noreturn))
void bw_pool_worker_main(int fd, const char *config_path, bool drop_user, uid_t uid, gid_t gid);

#endif
