/* Locking a worker process down once it has loaded everything: drop root,
 * no new privileges, Landlock, seccomp (docs/sandbox.md). */
#ifndef BULWARK_MILTER_SANDBOX_H
#define BULWARK_MILTER_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "bulwark/util.h"

/* Switches to uid/gid for good and proves that root cannot be regained.
 * Returns 0, or -1 with a reason appended to why. */
int bw_sandbox_drop_user(uid_t uid, gid_t gid, bw_buf *why);

/* Sets no_new_privs, restricts the file system with Landlock when the
 * kernel has it, and installs the seccomp filter. After this the process
 * can read and write the descriptors it has, read the few files listed in
 * docs/sandbox.md, and nothing else. summary receives what was applied.
 * Returns 0, or -1 with a reason appended to why. */
int bw_sandbox_lock_down(bw_buf *summary, bw_buf *why);

#endif
