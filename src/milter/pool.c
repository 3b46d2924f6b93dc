/* The scan pool (pool.h). Three kinds of process:
 *   - the daemon: many threads call bw_pool_scan; a supervisor thread starts
 *     workers and watches them come up;
 *   - the spawner: forked once by bw_pool_new while the daemon is still
 *     single-threaded, it forks every worker on request. Forking workers from
 *     the threaded daemon instead could copy a lock some other thread holds
 *     (GLib, stdio) into the child, which would then hang;
 *   - the workers (worker.c), which load, lock down and scan.
 * The daemon talks to the spawner over a SOCK_SEQPACKET pair and gets each
 * worker's socket and pidfd back through SCM_RIGHTS; the pidfd lets it kill
 * a hung worker without racing against pid reuse. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "milter/pool.h"
#include "milter/wire.h"
#include "milter/worker.h"

/* A worker gets this long to load configuration, lists and rules. */
#define LOAD_TIMEOUT_MS 120000
/* Restart back-off for a slot whose workers keep dying before finishing a
 * job: doubles from the first to the cap. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

typedef enum slot_state {
	SLOT_EMPTY,    /* unused */
	SLOT_DEAD,     /* wants a worker of its generation (at next_spawn_ms) */
	SLOT_STARTING, /* forked, loading; only the supervisor touches it */
	SLOT_IDLE,
	SLOT_BUSY      /* owned by one bw_pool_scan call */
} slot_state;

typedef struct slot {
	slot_state state;
	unsigned gen;
	int fd, pidfd;
	pid_t pid;
	bool retire;          /* BUSY in an old generation: close when the job ends */
	int64_t deadline_ms;  /* STARTING: load deadline */
	int64_t next_spawn_ms;
	unsigned failures;    /* consecutive deaths without a finished job */
} slot;

struct bw_pool {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a worker came free, became ready or failed to */
	slot *slots;
	unsigned nslots, nworkers;
	unsigned gen, next_gen;
	char *config_path;
	char *gen_error;        /* why a worker of generation gen failed to start */
	unsigned timeout_ms;
	bool drop_user;
	uid_t uid;
	gid_t gid;
	int spawner_fd;
	pid_t spawner_pid;
	bool spawner_gone;
	int wake_fd;            /* eventfd: tells the supervisor to look again */
	pthread_t supervisor;
	bool supervisor_running, stopping;
	char *sandbox;
	/* [history] db: opened here, not in the workers, which may not write;
	 * they send sightings during a job (answer_sighting) */
	pthread_mutex_t history_lock;
	bw_history *history;
	char *history_path;
};

/* ---- the spawner process ---- */

typedef struct spawn_reply {
	int32_t pid;
	int32_t err;
} spawn_reply;

static void send_fds(int sock, const spawn_reply *rep, const int *fds, int nfds)
{
	char control[CMSG_SPACE(2 * sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)rep, .iov_len = sizeof *rep};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		msg.msg_control = control;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* Logs how a worker ended, unless it was retired normally. */
static void reap_workers(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
			fprintf(stderr, "bulwark pool: worker %d killed by signal %d (%s)\n", (int)pid,
				WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			fprintf(stderr, "bulwark pool: worker %d exited with status %d\n", (int)pid,
				WEXITSTATUS(status));
	}
}

static void spawn_worker(int ctl, const char *config_path, const bw_pool *p, int sigfd)
{
	int pair[2];
	spawn_reply rep = {0};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
		rep.err = errno;
		send_fds(ctl, &rep, NULL, 0);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ctl);
		close(sigfd);
		close(pair[0]);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGCHLD, SIG_DFL);
		bw_pool_worker_main(pair[1], config_path, p->drop_user, p->uid, p->gid);
	}
	close(pair[1]);
	int pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
	if (pid < 0 || pidfd < 0) {
		rep.err = errno;
		if (pid > 0)
			kill(pid, SIGKILL);
		send_fds(ctl, &rep, NULL, 0);
	} else {
		rep.pid = pid;
		int fds[2] = {pair[0], pidfd};
		send_fds(ctl, &rep, fds, 2);
		close(pidfd);
	}
	close(pair[0]);
}

/* Serves spawn requests ('=' and a config path, empty for the defaults)
 * until the daemon closes its end. */
static __attribute__((noreturn)) void spawner_main(int ctl, const bw_pool *p)
{
	/* the daemon may ignore SIGCHLD; the spawner reaps and logs */
	signal(SIGCHLD, SIG_DFL);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sigfd = signalfd(-1, &chld, SFD_CLOEXEC);
	for (;;) {
		struct pollfd pfd[2] = {{.fd = ctl, .events = POLLIN}, {.fd = sigfd, .events = POLLIN}};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sigfd, &si, sizeof si) < 0 && errno == EINTR)
				;
			reap_workers();
		}
		if (!pfd[0].revents)
			continue;
		char req[4098];
		ssize_t n = recv(ctl, req, sizeof req - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || req[0] != '=')
			_exit(0);
		req[n] = '\0';
		spawn_worker(ctl, n > 1 ? req + 1 : NULL, p, sigfd);
	}
}

static int start_spawner(bw_pool *p, char **error)
{
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		*error = bw_xstrdup(strerror(errno));
		return -1;
	}
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		/* keep standard error for the workers' diagnostics; drop the
		 * daemon's listening sockets and files */
		if (dup2(pair[1], 3) < 0)
			_exit(1);
		close_range(4, ~0U, 0);
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			if (devnull > 3)
				close(devnull);
		}
		spawner_main(3, p);
	}
	close(pair[1]);
	if (pid < 0) {
		close(pair[0]);
		*error = bw_xstrdup(strerror(errno));
		return -1;
	}
	p->spawner_fd = pair[0];
	p->spawner_pid = pid;
	return 0;
}

/* Asks the spawner for a worker. Returns 0 with the slot's fd, pidfd and
 * pid set, or -1. */
static int request_worker(bw_pool *p, const char *config_path, slot *s)
{
	/* '=' then the path: an empty packet would read as end of file */
	bw_buf req = {0};
	bw_buf_putc(&req, '=');
	if (config_path)
		bw_buf_puts(&req, config_path);
	ssize_t sent = req.len <= 4097 ? send(p->spawner_fd, req.data, req.len, MSG_NOSIGNAL) : -1;
	bw_buf_free(&req);
	if (sent < 0)
		return -1;
	spawn_reply rep;
	char control[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof control};
	ssize_t n;
	while ((n = recvmsg(p->spawner_fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof rep)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (rep.err || !c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
		return -1;
	int fds[2];
	memcpy(fds, CMSG_DATA(c), sizeof fds);
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
	s->fd = fds[0];
	s->pidfd = fds[1];
	s->pid = rep.pid;
	return 0;
}

/* ---- slots ---- */

static void wake_supervisor(bw_pool *p)
{
	uint64_t one = 1;
	ssize_t n = write(p->wake_fd, &one, sizeof one);
	(void)n; /* a full counter already means "wake up" */
}

static void close_worker(slot *s)
{
	if (s->pidfd >= 0) {
		pidfd_send_signal(s->pidfd, SIGKILL, NULL, 0);
		close(s->pidfd);
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = s->pidfd = -1;
	s->pid = 0;
	s->retire = false;
}

/* The worker in s is gone or unusable: kill it, and restart it later if its
 * generation is still wanted. Called with the lock held. */
static void worker_failed(bw_pool *p, slot *s, int64_t now)
{
	close_worker(s);
	if (s->gen != p->gen) {
		s->state = SLOT_EMPTY;
		return;
	}
	s->state = SLOT_DEAD;
	unsigned delay = 0;
	if (s->failures) {
		delay = BACKOFF_FIRST_MS << (s->failures < 10 ? s->failures - 1 : 9);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	s->failures++;
	s->next_spawn_ms = now + delay;
	wake_supervisor(p);
}

static unsigned count_ready(const bw_pool *p, unsigned gen)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->nslots; i++)
		if (p->slots[i].gen == gen && (p->slots[i].state == SLOT_IDLE || p->slots[i].state == SLOT_BUSY))
			n++;
	return n;
}

/* Keeps nworkers slots of the current generation alive or coming up, and
 * retires the older generation once the current one is all ready. */
static void balance(bw_pool *p)
{
	unsigned wanted = 0;
	for (unsigned i = 0; i < p->nslots; i++) {
		slot *s = &p->slots[i];
		if (s->gen == p->gen && s->state != SLOT_EMPTY)
			wanted++;
		else if (s->gen != p->gen && s->state == SLOT_DEAD)
			s->state = SLOT_EMPTY;
	}
	for (unsigned i = 0; i < p->nslots && wanted < p->nworkers; i++) {
		slot *s = &p->slots[i];
		if (s->state == SLOT_EMPTY) {
			*s = (slot){.state = SLOT_DEAD, .gen = p->gen, .fd = -1, .pidfd = -1};
			wanted++;
		}
	}
	if (count_ready(p, p->gen) < p->nworkers)
		return;
	for (unsigned i = 0; i < p->nslots; i++) {
		slot *s = &p->slots[i];
		if (s->gen == p->gen)
			continue;
		if (s->state == SLOT_IDLE) {
			close_worker(s);
			s->state = SLOT_EMPTY;
		} else if (s->state == SLOT_BUSY || s->state == SLOT_STARTING) {
			/* its owner (a scan, the supervisor) closes it */
			s->retire = true;
		}
	}
}

/* Reads a starting worker's first frame. Called without the lock: only the
 * supervisor touches STARTING slots. */
static void worker_came_up(bw_pool *p, slot *s)
{
	uint32_t type;
	char *payload = NULL;
	size_t len;
	int rc = bw_wire_read_frame(s->fd, &type, &payload, &len, BW_WIRE_MAX_READY,
				    bw_wire_now_ms() + 1000);
	bool printable = rc == 0 && strlen(payload) == len;
	for (size_t i = 0; printable && i < len; i++)
		printable = payload[i] >= 0x20 && payload[i] < 0x7f;
	pthread_mutex_lock(&p->lock);
	if (printable && type == BW_FRAME_READY) {
		s->state = SLOT_IDLE;
		if (!p->sandbox || strcmp(p->sandbox, payload) != 0) {
			free(p->sandbox);
			p->sandbox = payload;
			payload = NULL;
		}
		balance(p);
	} else {
		if (s->gen == p->gen && !p->gen_error) {
			bw_buf b = {0};
			if (printable && type == BW_FRAME_FAILED)
				bw_buf_printf(&b, "worker failed to start: %s", payload);
			else
				bw_buf_puts(&b, "worker died while starting (see its messages on standard error)");
			p->gen_error = bw_buf_steal(&b);
		}
		worker_failed(p, s, bw_wire_now_ms());
	}
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	free(payload);
}

static void *supervise(void *arg)
{
	bw_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		balance(p);
		int64_t now = bw_wire_now_ms(), wake_at = -1;
		for (unsigned i = 0; i < p->nslots; i++) {
			slot *s = &p->slots[i];
			if (s->state == SLOT_DEAD && !p->spawner_gone) {
				if (s->next_spawn_ms > now) {
					wake_at = wake_at < 0 || s->next_spawn_ms < wake_at ? s->next_spawn_ms : wake_at;
				} else if (request_worker(p, p->config_path, s) == 0) {
					s->state = SLOT_STARTING;
					s->deadline_ms = now + LOAD_TIMEOUT_MS;
				} else {
					p->spawner_gone = true;
					free(p->gen_error);
					p->gen_error = bw_xstrdup("the worker spawner process is gone");
					pthread_cond_broadcast(&p->changed);
				}
			}
		}
		struct pollfd pfd[1 + 64];
		slot *owner[1 + 64];
		unsigned n = 0;
		pfd[n++] = (struct pollfd){.fd = p->wake_fd, .events = POLLIN};
		for (unsigned i = 0; i < p->nslots && n < 1 + 64; i++) {
			slot *s = &p->slots[i];
			if (s->state != SLOT_STARTING)
				continue;
			if (s->retire) {
				close_worker(s);
				s->state = SLOT_EMPTY;
				continue;
			}
			if (s->deadline_ms <= now) {
				worker_failed(p, s, now);
				continue;
			}
			wake_at = wake_at < 0 || s->deadline_ms < wake_at ? s->deadline_ms : wake_at;
			owner[n] = s;
			pfd[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		}
		pthread_mutex_unlock(&p->lock);
		int timeout = wake_at < 0 ? -1 : (int)(wake_at - now < 0 ? 0 : wake_at - now);
		int ready = poll(pfd, n, timeout);
		if (ready > 0 && pfd[0].revents) {
			uint64_t v;
			ssize_t r = read(p->wake_fd, &v, sizeof v);
			(void)r;
		}
		for (unsigned i = 1; ready > 0 && i < n; i++)
			if (pfd[i].revents)
				worker_came_up(p, owner[i]);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Waits for a change in the pool until deadline_ms at the latest. Lock
 * held. The condition variable runs on the monotonic clock (bw_pool_new). */
static void wait_changed(bw_pool *p, int64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
	pthread_cond_timedwait(&p->changed, &p->lock, &ts);
}

/* Waits until generation gen is all ready or has failed. Lock held. */
static int wait_generation(bw_pool *p, char **error)
{
	int64_t deadline = bw_wire_now_ms() + LOAD_TIMEOUT_MS + 1000;
	while (count_ready(p, p->gen) < p->nworkers && !p->gen_error) {
		if (bw_wire_now_ms() >= deadline) {
			*error = bw_xstrdup("workers did not start in time");
			return -1;
		}
		wait_changed(p, deadline);
	}
	if (p->gen_error) {
		*error = bw_xstrdup(p->gen_error);
		return -1;
	}
	return 0;
}

/* The config is read here too so that a bad file is reported at once, not
 * as workers that fail to start. *history_db: its [history] db (malloc'd)
 * or NULL. */
static int check_config(const char *path, char **history_db, char **error)
{
	*history_db = NULL;
	if (!path)
		return 0;
	bw_config cfg;
	bw_config_default(&cfg);
	int rc = bw_config_load(&cfg, path, error);
	*history_db = cfg.history_db;
	cfg.history_db = NULL;
	bw_config_free(&cfg);
	return rc;
}

/* Makes path the history store (NULL: none), unless it already is. Returns
 * 1 with the previous store and path in *history and *old_path (the caller
 * closes them, or puts them back when its reload fails), 0 when nothing
 * changed, -1 when the store cannot be opened. Takes ownership of path. */
static int swap_history(bw_pool *p, char *path, bw_history **history, char **old_path, char **error)
{
	bw_history *h = NULL;
	if (path && p->history_path && strcmp(path, p->history_path) == 0) {
		free(path);
		return 0;
	}
	if (path && !(h = bw_history_open(path, error))) {
		free(path);
		return -1;
	}
	pthread_mutex_lock(&p->history_lock);
	*history = p->history;
	*old_path = p->history_path;
	p->history = h;
	p->history_path = path;
	pthread_mutex_unlock(&p->history_lock);
	return 1;
}

bw_pool *bw_pool_new(const char *config_path, unsigned nworkers, unsigned timeout_ms,
		     const char *run_as_user, char **error)
{
	*error = NULL;
	if (nworkers == 0 || nworkers > 32 || timeout_ms == 0) {
		*error = bw_xstrdup("a pool needs 1 to 32 workers and a timeout");
		return NULL;
	}
	char *history_db;
	if (check_config(config_path, &history_db, error) < 0)
		return NULL;
	bw_pool *p = bw_xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->history_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	p->nworkers = nworkers;
	p->nslots = 2 * nworkers; /* room for a new generation next to the old */
	p->slots = bw_xcalloc(p->nslots, sizeof *p->slots);
	for (unsigned i = 0; i < p->nslots; i++)
		p->slots[i].fd = p->slots[i].pidfd = -1;
	p->timeout_ms = timeout_ms;
	p->config_path = config_path ? bw_xstrdup(config_path) : NULL;
	p->gen = p->next_gen = 1;
	p->spawner_fd = p->wake_fd = -1;
	/* Workers never parse mail as root: a root daemon with no user
	 * configured switches them to nobody. */
	if (!run_as_user && geteuid() == 0)
		run_as_user = BW_POOL_DEFAULT_USER;
	bw_history *none;
	char *no_path;
	if (swap_history(p, history_db, &none, &no_path, error) < 0) {
		bw_pool_free(p);
		return NULL;
	}
	if (run_as_user) {
		struct passwd pw, *res = NULL;
		char buf[4096];
		if (getpwnam_r(run_as_user, &pw, buf, sizeof buf, &res) != 0 || !res) {
			bw_buf b = {0};
			bw_buf_printf(&b, "unknown user %s", run_as_user);
			*error = bw_buf_steal(&b);
		} else if (geteuid() != 0 && res->pw_uid != geteuid()) {
			bw_buf b = {0};
			bw_buf_printf(&b, "cannot run workers as %s: not running as root", run_as_user);
			*error = bw_buf_steal(&b);
		} else {
			p->drop_user = true;
			p->uid = res->pw_uid;
			p->gid = res->pw_gid;
		}
	}
	if (!*error) {
		p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->wake_fd < 0)
			*error = bw_xstrdup(strerror(errno));
	}
	if (!*error && start_spawner(p, error) == 0) {
		if (pthread_create(&p->supervisor, NULL, supervise, p) != 0) {
			*error = bw_xstrdup("cannot start the supervisor thread");
		} else {
			p->supervisor_running = true;
			pthread_mutex_lock(&p->lock);
			balance(p);
			wake_supervisor(p);
			wait_generation(p, error);
			pthread_mutex_unlock(&p->lock);
		}
	}
	if (*error) {
		bw_pool_free(p);
		return NULL;
	}
	return p;
}

int bw_pool_reload(bw_pool *p, const char *config_path, char **error)
{
	*error = NULL;
	char *history_db;
	bw_history *old_history;
	char *old_history_path;
	if (check_config(config_path, &history_db, error) < 0) {
		free(history_db);
		return -1;
	}
	int swapped = swap_history(p, history_db, &old_history, &old_history_path, error);
	if (swapped < 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	unsigned old_gen = p->gen;
	char *old_path = p->config_path;
	p->config_path = config_path ? bw_xstrdup(config_path) : NULL;
	p->gen = ++p->next_gen;
	free(p->gen_error);
	p->gen_error = NULL;
	balance(p);
	wake_supervisor(p);
	int rc = wait_generation(p, error);
	if (rc < 0) {
		/* back to the workers that work; the new ones are retired */
		free(p->config_path);
		p->config_path = old_path;
		p->gen = old_gen;
		free(p->gen_error);
		p->gen_error = NULL;
		balance(p);
		wake_supervisor(p);
	} else {
		free(old_path);
	}
	pthread_mutex_unlock(&p->lock);
	if (swapped && rc < 0) {
		/* the old workers keep serving, with the old store */
		pthread_mutex_lock(&p->history_lock);
		bw_history_close(p->history);
		free(p->history_path);
		p->history = old_history;
		p->history_path = old_history_path;
		pthread_mutex_unlock(&p->history_lock);
	} else if (swapped) {
		bw_history_close(old_history);
		free(old_history_path);
	}
	return rc;
}

/* ---- scanning ---- */

static slot *take_worker(bw_pool *p, int64_t deadline)
{
	for (;;) {
		slot *best = NULL;
		for (unsigned i = 0; i < p->nslots; i++) {
			slot *s = &p->slots[i];
			if (s->state == SLOT_IDLE && (!best || s->gen == p->gen))
				best = s;
		}
		if (best) {
			best->state = SLOT_BUSY;
			return best;
		}
		if (bw_wire_now_ms() >= deadline)
			return NULL;
		wait_changed(p, deadline);
	}
}

/* Records a sighting the worker sent during its job and sends the answer.
 * The sighting is untrusted, but it says nothing a message could not: the
 * sender and recipients come from its headers. Committed at once: the
 * milter writes one message at a time and must not lose them. Returns -1
 * when it is malformed or the worker cannot be answered. */
static int answer_sighting(bw_pool *p, int fd, const char *payload, size_t len, int64_t deadline)
{
	bw_buf strings = {0}, reply = {0};
	bw_sighting s;
	int rc = bw_wire_decode_sighting(payload, len, &s, &strings);
	if (rc == 0) {
		bw_contact c = {0};
		char *err = NULL;
		pthread_mutex_lock(&p->history_lock);
		if (p->history && bw_history_record(p->history, &s, &c, &err) == 0)
			bw_history_commit(p->history, &err);
		else if (!p->history)
			err = bw_xstrdup("history store closed by a reload");
		pthread_mutex_unlock(&p->history_lock);
		bw_wire_encode_contact(&reply, &c, err);
		free(err);
		rc = bw_wire_write_frame(fd, BW_FRAME_CONTACT, reply.data, reply.len, deadline);
	}
	bw_buf_free(&strings);
	bw_buf_free(&reply);
	return rc;
}

/* Sends the job and reads the result, answering the history sightings the
 * worker sends on the way; the worker's fd belongs to this call. */
static int exchange(bw_pool *p, int fd, const bw_pool_job *job, int64_t deadline, bw_pool_result *out,
		    const char **why)
{
	bw_buf head = {0};
	bw_wire_encode_job_head(&head, job);
	int rc = bw_wire_write(fd, head.data, head.len, deadline);
	bw_buf_free(&head);
	if (rc == 0)
		rc = bw_wire_write(fd, job->raw, job->len, deadline);
	uint32_t type = 0;
	char *payload = NULL;
	size_t len = 0;
	/* FIRST_CONTACT sends one per recipient (at most BW_MAX_RECIPIENTS) */
	for (unsigned sightings = 0; rc == 0; sightings++) {
		rc = bw_wire_read_frame(fd, &type, &payload, &len, bw_wire_max_reply(job->len), deadline);
		if (rc < 0 || type != BW_FRAME_SIGHTING)
			break;
		if (sightings >= BW_MAX_RECIPIENTS ||
		    answer_sighting(p, fd, payload, len, deadline) < 0) {
			free(payload);
			*why = "worker sent a malformed reply";
			return -1;
		}
		free(payload);
		payload = NULL;
	}
	if (rc < 0) {
		*why = errno == ETIMEDOUT ? "worker timed out; killed"
		       : errno == EPROTO ? "worker sent an oversized reply"
		       : "worker died during the scan";
		return -1;
	}
	rc = type == BW_FRAME_RESULT ? bw_wire_decode_result(payload, len, out) : -1;
	free(payload);
	if (rc < 0)
		*why = "worker sent a malformed reply";
	return rc;
}

int bw_pool_scan(bw_pool *p, const bw_pool_job *job, bw_pool_result *out)
{
	int64_t start = bw_wire_now_ms();
	if (job->len > BW_WIRE_MAX_MESSAGE) {
		memset(out, 0, sizeof *out);
		out->error = bw_xstrdup("message too large for the scan pool");
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	slot *s = take_worker(p, start + p->timeout_ms);
	pthread_mutex_unlock(&p->lock);
	if (!s)
		return -1;
	const char *why = NULL;
	int rc = exchange(p, s->fd, job, bw_wire_now_ms() + p->timeout_ms, out, &why);
	pthread_mutex_lock(&p->lock);
	if (rc < 0) {
		memset(out, 0, sizeof *out);
		out->error = bw_xstrdup(why);
		worker_failed(p, s, bw_wire_now_ms());
	} else if (s->retire) {
		close_worker(s);
		s->state = SLOT_EMPTY;
		wake_supervisor(p);
	} else {
		s->failures = 0;
		s->state = SLOT_IDLE;
	}
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

const char *bw_pool_sandbox(bw_pool *p)
{
	return p->sandbox ? p->sandbox : "";
}

unsigned bw_pool_worker_pids(bw_pool *p, pid_t *pids, unsigned max)
{
	unsigned n = 0;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nslots && n < max; i++)
		if (p->slots[i].state == SLOT_IDLE || p->slots[i].state == SLOT_BUSY)
			pids[n++] = p->slots[i].pid;
	pthread_mutex_unlock(&p->lock);
	return n;
}

void bw_pool_free(bw_pool *p)
{
	if (!p)
		return;
	if (p->supervisor_running) {
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		wake_supervisor(p);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->supervisor, NULL);
	}
	for (unsigned i = 0; i < p->nslots; i++)
		close_worker(&p->slots[i]);
	if (p->spawner_fd >= 0) {
		close(p->spawner_fd); /* the spawner exits; its workers get SIGKILL */
		while (waitpid(p->spawner_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p->slots);
	free(p->config_path);
	free(p->gen_error);
	free(p->sandbox);
	bw_history_close(p->history);
	free(p->history_path);
	pthread_mutex_destroy(&p->history_lock);
	free(p);
}
