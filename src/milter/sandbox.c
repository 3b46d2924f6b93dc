/* The worker sandbox (sandbox.h, docs/sandbox.md). Order matters: the worker
 * has loaded everything it needs before it gets here, because afterwards it
 * can open nothing but a few read-only system files. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <iconv.h>

#include "milter/sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define BW_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BW_SANITIZER_BUILD 1
#endif
#endif

int bw_sandbox_drop_user(uid_t uid, gid_t gid, bw_buf *why)
{
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		bw_buf_printf(why, "cannot switch to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
			      strerror(errno));
		return -1;
	}
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	bool same = ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid;
	/* a process that can still become root has not dropped it */
	if (!same || (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0))) {
		bw_buf_printf(why, "uid %u gid %u: root can still be regained", (unsigned)uid, (unsigned)gid);
		return -1;
	}
	return 0;
}

/* ---- Landlock ----
 * Debian 12's kernel headers know Landlock ABI 1-2 only; newer rights are
 * defined here from the kernel's UAPI so that a newer kernel restricts them
 * too. */
#define LL_FS_TRUNCATE (1ULL << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV (1ULL << 15)  /* ABI 5 */
#define LL_NET_BIND_TCP (1ULL << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

/* Directories a worker still reads after lock-down: glibc's iconv loads the
 * converter for a charset (gconv module, a shared object) the first time a
 * message uses it, and there are too many to load them all up front. The
 * gconv directory is found next to libc itself. */
static void add_read_rule(int ruleset, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return;
	struct landlock_path_beneath_attr pb = {.allowed_access = access, .parent_fd = fd};
	syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(fd);
}

static void add_gconv_rule(int ruleset)
{
	Dl_info info;
	if (!dladdr((void *)iconv_open, &info) || !info.dli_fname)
		return;
	const char *slash = strrchr(info.dli_fname, '/');
	if (!slash)
		return;
	bw_buf dir = {0};
	bw_buf_append(&dir, info.dli_fname, (size_t)(slash - info.dli_fname));
	bw_buf_puts(&dir, "/gconv");
	add_read_rule(ruleset, dir.data, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR);
	bw_buf_free(&dir);
}

/* Returns the ABI applied, 0 when the kernel has no Landlock, -1 on error. */
static int landlock_restrict(bw_buf *why)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0; /* ENOSYS or EOPNOTSUPP: kernel without Landlock */
	struct ll_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
			LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
			LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
			LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
			LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
			LANDLOCK_ACCESS_FS_MAKE_SYM,
	};
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 5)
		attr.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof attr;
	}
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ruleset < 0) {
		bw_buf_printf(why, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	add_gconv_rule(ruleset);
	int rc = (int)syscall(SYS_landlock_restrict_self, ruleset, 0);
	int e = errno;
	close(ruleset);
	if (rc < 0) {
		bw_buf_printf(why, "landlock_restrict_self: %s", strerror(e));
		return -1;
	}
	return (int)abi;
}

/* ---- seccomp ----
 * Default action: kill the process. A worker that makes a system call it
 * never needs is either exploited or about to misbehave; killing it cannot be
 * probed or worked around, its job gets the fail-safe default and the pool
 * starts a fresh worker. The few calls that libraries make on purpose and
 * cope with failing (opening a file to write, a socket for syslog) fail with
 * EACCES instead, so that such a path degrades rather than kills. */

static const int allowed[] = {
	/* I/O on the descriptors the worker already has (its socket, stderr) */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fcntl),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(mremap),
	SCMP_SYS(brk), SCMP_SYS(madvise),
	/* threads and time (GLib, the test hooks' sleep) */
	SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(sched_yield),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getrandom),
	/* signals: returning from handlers, and abort() */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
#ifdef BW_SANITIZER_BUILD
	/* AddressSanitizer's and UBSan's reports: the path of the program, a
	 * pipe to test whether memory is readable, and the alternate stack of
	 * its deadly-signal handler (measured with strace on workers that
	 * overflow a buffer and that abort) */
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(pipe), SCMP_SYS(pipe2),
	SCMP_SYS(sigaltstack),
#endif
};

static const int denied_eacces[] = {
	SCMP_SYS(open), SCMP_SYS(creat), SCMP_SYS(socket), SCMP_SYS(socketpair),
};

/* Flags that make an open do more than read. */
static const uint64_t write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE};

/* One argument comparison. libseccomp's SCMP_An() macros leave datum_b
 * unset, which clang's -Wmissing-field-initializers rejects. */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	return (struct scmp_arg_cmp){.arg = arg, .op = op, .datum_a = a, .datum_b = b};
}

static int seccomp_install(bw_buf *why)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		bw_buf_puts(why, "seccomp_init failed");
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; i < sizeof denied_eacces / sizeof *denied_eacces && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), denied_eacces[i], 0);
	/* read-only opens: the gconv modules iconv loads on first use (see
	 * add_gconv_rule; Landlock confines them to that directory when the
	 * kernel has it) */
	uint64_t mask = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | __O_TMPFILE;
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				      arg_cmp(2, SCMP_CMP_MASKED_EQ, mask, 0));
	for (size_t i = 0; i < sizeof write_flags / sizeof *write_flags && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
				      arg_cmp(2, SCMP_CMP_MASKED_EQ, write_flags[i], write_flags[i]));
	/* openat2 has its flags in a struct seccomp cannot see: make callers
	 * fall back to openat */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(openat2), 0);
	/* send() on its socket (no SIGPIPE): to the connected peer only, never
	 * to an address */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1, arg_cmp(4, SCMP_CMP_EQ, 0, 0));
	/* isatty() on stderr (GLib's log handler) */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, arg_cmp(1, SCMP_CMP_EQ, TCGETS, 0));
	/* raise() from abort(): signals to itself only */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				      arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		bw_buf_printf(why, "seccomp: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* A backstop under the per-message limits (include/bulwark/limits.h): a
 * worker whose allocations run away fails an allocation and dies (its job
 * gets the fail-safe default) instead of pushing the host into swap. The
 * sanitizers reserve terabytes of address space, so not in their builds. */
#define WORKER_MAX_ADDRESS_SPACE ((rlim_t)2 << 30)

static int limit_resources(bw_buf *why)
{
	/* no core file with mail content in it, and no ptrace or /proc/PID/mem
	 * access from other processes of the same user */
	struct rlimit none = {0, 0};
	if (setrlimit(RLIMIT_CORE, &none) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		bw_buf_printf(why, "core limit / PR_SET_DUMPABLE: %s", strerror(errno));
		return -1;
	}
#ifndef BW_SANITIZER_BUILD
	struct rlimit as = {WORKER_MAX_ADDRESS_SPACE, WORKER_MAX_ADDRESS_SPACE};
	if (setrlimit(RLIMIT_AS, &as) < 0) {
		bw_buf_printf(why, "RLIMIT_AS: %s", strerror(errno));
		return -1;
	}
#endif
	return 0;
}

int bw_sandbox_lock_down(bw_buf *summary, bw_buf *why)
{
	if (limit_resources(why) < 0)
		return -1;
	/* no setuid binary, file capability or LSM transition can give the
	 * worker more than it has now; also what Landlock and an unprivileged
	 * seccomp filter require */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		bw_buf_printf(why, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	int abi = landlock_restrict(why);
	if (abi < 0)
		return -1;
	if (seccomp_install(why) < 0)
		return -1;
	if (abi > 0)
		bw_buf_printf(summary, "no_new_privs seccomp=kill landlock=abi%d", abi);
	else
		bw_buf_puts(summary, "no_new_privs seccomp=kill landlock=unsupported");
#ifdef BW_SANITIZER_BUILD
	bw_buf_puts(summary, " sanitizer-syscalls");
#endif
	return 0;
}
