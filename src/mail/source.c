/* Finding messages on disk: single RFC 5322 files, mbox files (mboxo and
 * mboxrd, with ">From " unquoting), Maildirs and directory trees, plus one
 * message on standard input. Large files are memory-mapped so that an mbox is
 * split without copying it; small ones are read into one reused buffer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/mail.h"

enum { MAX_DIR_DEPTH = 64 };
/* Mapping a file costs mmap, munmap and page faults: about 5% of the CPU time
 * of a scan of single-message files, several times what copying a small file
 * into a warm buffer costs. Files up to this size are read instead. */
enum { READ_MAX = 4 << 20 };

typedef struct reader {
	const bw_limits *lim;
	bw_mail_fn fn;
	bw_mail_err_fn err_fn;
	void *arg;
	unsigned failures;
	bool count_only;      /* only sum file sizes (for a progress bar) */
	unsigned long long bytes;
	char *buf;            /* for files up to READ_MAX */
	size_t cap;
} reader;

static void fail(reader *r, const char *path, const char *why)
{
	r->failures++;
	r->err_fn(path, why, r->arg);
}

/* An mbox "From " separator: at the start of the file or after an empty
 * line. Requiring the empty line keeps an unquoted "From " inside a body
 * (mboxo's ambiguity) from splitting a message in most real files. */
static bool is_from_line(const char *p, const char *start)
{
	if (strncmp(p, "From ", 5) != 0)
		return false;
	if (p == start)
		return true;
	if (p - start >= 2 && p[-1] == '\n' && p[-2] == '\n')
		return true;
	return p - start >= 3 && p[-1] == '\n' && p[-2] == '\r' && p[-3] == '\n';
}

/* mboxrd unquoting: one '>' is removed from every line matching ^>+From .
 * For mboxo files this undoes the single level of quoting they apply. */
static char *unquote_mbox(const char *p, size_t len, size_t *out_len)
{
	char *out = bw_xmalloc(len + 1);
	size_t o = 0;
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (bol && p[i] == '>') {
			size_t j = i;
			while (j < len && p[j] == '>')
				j++;
			if (len - j >= 5 && memcmp(p + j, "From ", 5) == 0)
				i++; /* drop one '>' */
		}
		out[o++] = p[i];
		bol = p[i] == '\n';
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static bool needs_unquote(const char *p, size_t len)
{
	for (const char *q = p; (q = memmem(q, len - (size_t)(q - p), ">From ", 6)) != NULL; q++) {
		const char *b = q;
		while (b > p && b[-1] == '>')
			b--;
		if (b == p || b[-1] == '\n')
			return true;
	}
	return false;
}

static void emit_mbox_message(reader *r, const char *path, unsigned index, const char *p, size_t len)
{
	/* Skip the separator line itself. */
	const char *nl = memchr(p, '\n', len);
	size_t skip = nl ? (size_t)(nl - p) + 1 : len;
	p += skip;
	len -= skip;
	char source[4096];
	snprintf(source, sizeof source, "%s:%u", path, index);
	if (needs_unquote(p, len)) {
		size_t ulen;
		char *u = unquote_mbox(p, len, &ulen);
		r->fn(source, u, ulen, r->arg);
		free(u);
	} else {
		r->fn(source, p, len, r->arg);
	}
}

static void read_mbox(reader *r, const char *path, const char *data, size_t len)
{
	const char *end = data + len;
	const char *start = data;
	unsigned index = 0;
	const char *p = data + 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		p = nl + 1;
		if (p < end && (size_t)(end - p) >= 5 && is_from_line(p, data)) {
			emit_mbox_message(r, path, ++index, start, (size_t)(p - start));
			start = p;
		}
	}
	emit_mbox_message(r, path, ++index, start, (size_t)(end - start));
}

static void read_file(reader *r, const char *path)
{
	if (r->count_only) {
		struct stat st;
		if (stat(path, &st) == 0)
			r->bytes += (unsigned long long)st.st_size;
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fail(r, path, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		fail(r, path, strerror(errno));
		close(fd);
		return;
	}
	size_t len = (size_t)st.st_size;
	if (len == 0) {
		r->fn(path, "", 0, r->arg);
		close(fd);
		return;
	}
	bool mapped = len > READ_MAX;
	const char *data;
	if (mapped) {
		data = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (data == MAP_FAILED) {
			fail(r, path, strerror(errno));
			return;
		}
	} else {
		if (r->cap < len) {
			free(r->buf);
			r->buf = bw_xmalloc(len);
			r->cap = len;
		}
		size_t got = 0;
		ssize_t n = 0;
		while (got < len && ((n = read(fd, r->buf + got, len - got)) > 0 || (n < 0 && errno == EINTR)))
			got += n > 0 ? (size_t)n : 0;
		int e = errno;
		close(fd);
		if (got < len && n < 0) {
			fail(r, path, strerror(e));
			return;
		}
		data = r->buf;
		len = got;
	}
	if (len > 5 && memcmp(data, "From ", 5) == 0)
		read_mbox(r, path, data, len);
	else
		r->fn(path, data, len, r->arg);
	if (mapped)
		munmap((void *)data, len);
}

static void read_stdin(reader *r)
{
	bw_buf b = {0};
	char chunk[65536];
	ssize_t n;
	while ((n = read(STDIN_FILENO, chunk, sizeof chunk)) > 0) {
		/* Keep one byte over the limit so the parser reports the cut. */
		size_t room = r->lim->max_message_bytes + 1 > b.len ? r->lim->max_message_bytes + 1 - b.len : 0;
		size_t take = (size_t)n < room ? (size_t)n : room;
		bw_buf_append(&b, chunk, take);
	}
	if (n < 0)
		fail(r, "-", strerror(errno));
	else
		r->fn("-", b.data ? b.data : "", b.len, r->arg);
	bw_buf_free(&b);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void read_path(reader *r, const char *path, unsigned depth);

/* Regular files and subdirectories of dir, sorted, so output order is
 * stable across file systems. */
static void read_dir_entries(reader *r, const char *dir, unsigned depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		fail(r, dir, strerror(errno));
		return;
	}
	bw_strvec names = {0};
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue; /* ., .., and Maildir/dotfile metadata */
		size_t dl = strlen(dir);
		while (dl > 1 && dir[dl - 1] == '/')
			dl--;
		bw_strvec_pushf(&names, "%.*s/%s", (int)dl, dir, e->d_name);
	}
	closedir(d);
	qsort(names.v, names.n, sizeof(char *), cmp_names);
	for (size_t i = 0; i < names.n; i++)
		read_path(r, names.v[i], depth + 1);
	bw_strvec_free(&names);
}

static bool is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void read_path(reader *r, const char *path, unsigned depth)
{
	struct stat st;
	/* lstat: symlinks inside a tree are not followed, so a link loop cannot
	 * make the walk endless; a path given on the command line is followed. */
	if ((depth == 0 ? stat(path, &st) : lstat(path, &st)) < 0) {
		fail(r, path, strerror(errno));
		return;
	}
	if (S_ISREG(st.st_mode)) {
		read_file(r, path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (depth == 0)
			fail(r, path, "not a regular file or directory");
		return;
	}
	if (depth >= MAX_DIR_DEPTH) {
		fail(r, path, "directory nesting too deep");
		return;
	}
	char cur[4096], nw[4096];
	snprintf(cur, sizeof cur, "%s/cur", path);
	snprintf(nw, sizeof nw, "%s/new", path);
	if (is_dir(cur) && is_dir(nw)) {
		/* Maildir: messages live in cur/ and new/; tmp/ is in flight. */
		read_dir_entries(r, cur, depth);
		read_dir_entries(r, nw, depth);
		return;
	}
	read_dir_entries(r, path, depth);
}

unsigned bw_mail_read_paths(char *const *paths, size_t npaths, const bw_limits *lim,
			    bw_mail_fn fn, bw_mail_err_fn err_fn, void *arg)
{
	reader r = {.lim = lim, .fn = fn, .err_fn = err_fn, .arg = arg};
	for (size_t i = 0; i < npaths; i++) {
		if (strcmp(paths[i], "-") == 0)
			read_stdin(&r);
		else
			read_path(&r, paths[i], 0);
	}
	free(r.buf);
	return r.failures;
}

static void ignore_error(const char *path, const char *why, void *arg)
{
}

unsigned long long bw_mail_total_bytes(char *const *paths, size_t npaths)
{
	reader r = {.err_fn = ignore_error, .count_only = true};
	for (size_t i = 0; i < npaths; i++)
		if (strcmp(paths[i], "-") != 0)
			read_path(&r, paths[i], 0);
	return r.bytes;
}
