/* Archive extraction with libarchive. Every entry is streamed in bounded
 * chunks and counted against the message's archive limits as it is
 * decompressed, so a bomb is stopped after at most one chunk past a limit
 * and its full expansion is never allocated. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/archive.h"

enum {
	CHUNK = 64 * 1024,
	MAX_PATH_BYTES = 1024,
	/* the ratio limit applies only past this many extracted bytes: a small
	 * file of zeros compresses a thousand times and harms no one */
	RATIO_FLOOR = 1 << 20,
};

/* One bit per limit in bw_archive_budget.reported. */
enum { REP_DEPTH = 1, REP_BYTES = 2, REP_RATIO = 4, REP_ENTRIES = 8, REP_ENTRY_BYTES = 16 };

typedef struct extract_state {
	bw_message *m;
	const bw_limits *lim;
	bw_archive_budget *b;
	unsigned part;  /* the archive */
	unsigned top;   /* the MIME attachment its tree started from */
	size_t top_len;
	const char *label; /* the archive's name for messages, valid during extraction only */
} extract_state;

/* raw_only: read the decompressed stream as one entry, whatever it holds. */
static struct archive *open_reader(const char *data, size_t len, bool raw_only)
{
	struct archive *a = archive_read_new();
	/* Explicit filters: archive_read_support_filter_all also enables
	 * lrzip, lzop and grzip, which libarchive runs as external programs. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_compress(a);
	if (!raw_only) {
		archive_read_support_format_zip(a);
		archive_read_support_format_7zip(a);
		archive_read_support_format_rar(a);
		archive_read_support_format_rar5(a);
		archive_read_support_format_tar(a);
		archive_read_support_format_iso9660(a);
		archive_read_support_format_cab(a);
		archive_read_support_format_cpio(a);
		archive_read_support_format_xar(a);
		archive_read_support_format_lha(a);
	}
	/* raw bids lowest: it wins only for a compressed single file (.gz),
	 * and for anything else, which extract() then leaves alone */
	archive_read_support_format_raw(a);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Names a limit in m->errors once per message; always marks the archive. */
static void hit_limit(extract_state *st, unsigned bit, const char *limit, const char *fmt, size_t value)
{
	bw_part *p = &st->m->parts[st->part];
	if (!p->archive_limit)
		p->archive_limit = limit;
	if (st->b->reported & bit)
		return;
	st->b->reported |= bit;
	bw_buf why = {0};
	bw_buf_printf(&why, fmt, value);
	bw_strvec_pushf(&st->m->errors, "limit: archive \"%s\": %s; extraction stopped (%s)",
			st->label, why.data, limit);
	bw_buf_free(&why);
}

static size_t *tree_bytes(extract_state *st)
{
	bw_archive_budget *b = st->b;
	if (b->ntree <= st->top) {
		size_t old = b->ntree;
		void *v = b->tree_bytes;
		bw_grow(&v, &b->ntree, st->top + 1, sizeof(size_t));
		b->tree_bytes = v;
		memset(b->tree_bytes + old, 0, (b->ntree - old) * sizeof(size_t));
	}
	return &b->tree_bytes[st->top];
}

/* The ratio limit, against bytes already extracted plus those an entry
 * declares it will add (declared sizes catch a bomb before inflating it;
 * a lying header is caught as the bytes arrive). */
static bool over_ratio(extract_state *st, size_t more)
{
	size_t total = *tree_bytes(st) + more;
	return total > RATIO_FLOOR && total / st->lim->max_archive_ratio > st->top_len;
}

static bool ratio_stop(extract_state *st, size_t more)
{
	if (!over_ratio(st, more))
		return false;
	hit_limit(st, REP_RATIO, "max_archive_ratio", "expands to over %zu times the attachment's size",
		  st->lim->max_archive_ratio);
	return true;
}

/* One chunk of n bytes read from the archive, counted against the message's
 * limits; false when a limit stops extraction. */
static bool count_bytes(extract_state *st, size_t n)
{
	*tree_bytes(st) += n;
	st->b->bytes += n;
	if (st->b->bytes > st->lim->max_archive_bytes) {
		hit_limit(st, REP_BYTES, "max_archive_bytes", "more than %zu bytes extracted from the message's archives",
			  st->lim->max_archive_bytes);
		return false;
	}
	return !ratio_stop(st, 0);
}

/* archive_read_data, and on failure an errors entry; 0 at the end. */
static la_ssize_t read_chunk(extract_state *st, struct archive *a, char *chunk, size_t size)
{
	la_ssize_t r = archive_read_data(a, chunk, size);
	if (r < 0)
		bw_strvec_pushf(&st->m->errors, "parse: archive \"%s\": %s", st->label,
				archive_error_string(a) ? archive_error_string(a) : "read error");
	return r;
}

/* Reads one entry's data into buf, bounded. Returns false when extraction
 * of this archive must stop (a message-wide limit, or a read error). */
static bool read_entry(extract_state *st, struct archive *a, bw_buf *buf, bool *cut)
{
	const bw_limits *lim = st->lim;
	char chunk[CHUNK];
	for (;;) {
		la_ssize_t r = read_chunk(st, a, chunk, sizeof chunk);
		if (r == 0)
			return true;
		if (r < 0)
			return false;
		size_t n = (size_t)r;
		if (!count_bytes(st, n)) {
			*cut = true;
			return false;
		}
		/* Past the entry limit the rest is read and dropped rather than
		 * skipped: skipping a compressed stream decompresses it anyway,
		 * and reading counts it against the limits above. */
		size_t room = lim->max_archive_entry_bytes - buf->len;
		if (n > room && !*cut) {
			hit_limit(st, REP_ENTRY_BYTES, "max_archive_entry_bytes", "an entry is over %zu bytes; it was cut",
				  lim->max_archive_entry_bytes);
			*cut = true;
		}
		bw_buf_append(buf, chunk, n < room ? n : room);
	}
}

/* raw_name: the name of the one entry of a compressed single file, which
 * the raw format calls "data"; NULL for archives, whose entries may be
 * named "data" or nothing at all. */
static char *entry_path(struct archive_entry *e, const char *raw_name)
{
	if (raw_name)
		return bw_xstrdup(raw_name);
	const char *path = archive_entry_pathname_utf8(e);
	if (!path)
		path = archive_entry_pathname(e);
	if (!path || !*path)
		path = "(unnamed)";
	size_t n = strnlen(path, MAX_PATH_BYTES);
	return bw_xstrndup(path, n);
}

/* "report.pdf" for "report.pdf.gz": the single file inside a compressed one. */
static char *raw_member_name(const char *container_name)
{
	if (!container_name)
		return bw_xstrdup("data");
	const char *base = strrchr(container_name, '/');
	base = base ? base + 1 : container_name;
	const char *dot = strrchr(base, '.');
	return dot && dot != base ? bw_xstrndup(base, (size_t)(dot - base)) : bw_xstrdup(base);
}

static void add_member(extract_state *st, char *path, bw_buf *data, bool encrypted, bool cut)
{
	bw_message *m = st->m;
	void *v = m->parts;
	bw_grow(&v, &m->capparts, m->nparts + 1, sizeof(bw_part));
	m->parts = v;
	const bw_part *c = &m->parts[st->part];
	bw_part *p = &m->parts[m->nparts++];
	memset(p, 0, sizeof *p);
	p->kind = BW_PART_ATTACHMENT;
	p->depth = c->depth;
	p->container = st->part;
	p->archive_depth = c->archive_depth + 1;
	p->archive_path = path;
	const char *slash = strrchr(path, '/');
	p->filename = bw_xstrdup(slash && slash[1] ? slash + 1 : path);
	p->encrypted = encrypted;
	p->truncated = cut;
	p->len = data->len;
	p->data = bw_buf_steal(data); /* NUL-terminated, as parts are */
	if (!encrypted)
		bw_part_hash(p);
}

/* Returns true when it read to the archive's end. */
static bool extract(extract_state *st, struct archive *a, struct archive_entry *e, const char *raw_name)
{
	const bw_limits *lim = st->lim;
	for (bool first = true;; first = false) {
		if (!first) {
			int r = archive_read_next_header(a, &e);
			if (r == ARCHIVE_EOF)
				return true;
			if (r < ARCHIVE_WARN) {
				bool enc = archive_read_has_encrypted_entries(a) > 0;
				st->m->parts[st->part].encrypted |= enc;
				bw_strvec_pushf(&st->m->errors, "parse: archive \"%s\": %s", st->label,
						archive_error_string(a) ? archive_error_string(a) : "bad entry header");
				return false;
			}
		}
		if (st->b->entries >= lim->max_archive_entries) {
			hit_limit(st, REP_ENTRIES, "max_archive_entries", "more than %zu entries in the message's archives",
				  lim->max_archive_entries);
			return false;
		}
		st->b->entries++;
		st->m->parts[st->part].archive_entries++;
		if (archive_entry_filetype(e) != AE_IFREG)
			continue;
		bool encrypted = archive_entry_is_encrypted(e);
		size_t declared = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
					  ? (size_t)archive_entry_size(e) : 0;
		if (!encrypted && ratio_stop(st, declared))
			return false;
		bw_buf data = {0};
		if (declared && !encrypted)
			bw_buf_reserve(&data, (declared < lim->max_archive_entry_bytes ? declared
						: lim->max_archive_entry_bytes) + 1);
		bool cut = false, go_on = encrypted || read_entry(st, a, &data, &cut);
		if (encrypted)
			st->m->parts[st->part].encrypted = true;
		/* what was read of an entry a limit stopped still goes to the
		 * later stages: its start tells its type */
		add_member(st, entry_path(e, raw_name), &data, encrypted, cut);
		if (!go_on)
			return false;
	}
}

/* A tar ends at its first zero block, and so do libarchive and tar(1):
 * whatever follows is a place to hide content from tools that stop there
 * (a .tar.gz whose tar starts with two zero blocks reads as an empty
 * archive). The decompressed rest, re-read from the start with a raw
 * reader, is kept from its first non-zero 512-byte block on as a member
 * of its own (BW_ARCHIVE_TRAILER), which is then extracted and analysed
 * like any other. end: the offset of the end of the tar in the
 * decompressed stream; the bytes before it were counted by the first pass. */
static void extract_trailer(extract_state *st, size_t end)
{
	const bw_part *p = &st->m->parts[st->part];
	struct archive *a = open_reader(p->data, p->len, true);
	struct archive_entry *e;
	if (!a || archive_read_next_header(a, &e) != ARCHIVE_OK) {
		if (a)
			archive_read_free(a);
		return;
	}
	char chunk[CHUNK];
	bw_buf rest = {0};
	size_t pos = 0, start = 0; /* start: offset of the first non-zero block, once found */
	bool found = false, cut = false;
	la_ssize_t r;
	while ((r = read_chunk(st, a, chunk, sizeof chunk)) > 0) {
		size_t n = (size_t)r, from = 0;
		if (pos + n <= end) {
			pos += n;
			continue;
		}
		if (pos < end)
			from = end - pos;
		if (!count_bytes(st, n - from)) {
			cut = true;
			break;
		}
		if (!found) {
			size_t k = from;
			while (k < n && chunk[k] == 0)
				k++;
			if (k < n) {
				found = true;
				start = (pos + k) / 512 * 512;
				from = start > pos ? start - pos : 0;
			}
		}
		if (found) {
			size_t room = st->lim->max_archive_entry_bytes - rest.len;
			if (n - from > room)
				cut = true;
			bw_buf_append(&rest, chunk + from, n - from < room ? n - from : room);
		}
		pos += n;
	}
	archive_read_free(a);
	if (found) {
		bw_part *ap = &st->m->parts[st->part];
		ap->archive_trailing_offset = start;
		ap->archive_trailing_bytes = pos - start;
		add_member(st, bw_xstrdup(BW_ARCHIVE_TRAILER), &rest, false, cut);
	}
	bw_buf_free(&rest);
}

void bw_archive_extract(bw_message *m, unsigned part, const bw_limits *lim, bw_archive_budget *b)
{
	const bw_part *p = &m->parts[part];
	if (p->kind != BW_PART_ATTACHMENT || p->len == 0 || p->encrypted)
		return;
	struct archive *a = open_reader(p->data, p->len, false);
	if (!a)
		return;
	struct archive_entry *e;
	int r = archive_read_next_header(a, &e);
	int format = archive_format(a);
	bool raw = (format & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW;
	/* raw without a compression filter: not an archive at all */
	if ((raw && archive_filter_count(a) <= 1) || format == 0) {
		archive_read_free(a);
		return;
	}
	const char *fmt_name = archive_format_name(a);
	bw_part *ap = &m->parts[part];
	ap->archive_format = bw_xstrdup(raw ? archive_filter_name(a, 0) : fmt_name ? fmt_name : "archive");
	unsigned top = part;
	while (m->parts[top].archive_path)
		top = m->parts[top].container;
	char *raw_name = raw ? raw_member_name(ap->filename) : NULL;
	extract_state st = {.m = m, .lim = lim, .b = b, .part = part, .top = top, .top_len = m->parts[top].len,
			    .label = ap->archive_path ? ap->archive_path : ap->filename ? ap->filename : "(unnamed)"};
	char *label = bw_xstrdup(st.label); /* parts move as members are added */
	st.label = label;
	if (r < ARCHIVE_WARN) {
		ap->encrypted = archive_read_has_encrypted_entries(a) > 0;
		bw_strvec_pushf(&m->errors, "parse: archive \"%s\": %s", label,
				archive_error_string(a) ? archive_error_string(a) : "unreadable");
	} else if (ap->archive_depth >= lim->max_archive_depth) {
		hit_limit(&st, REP_DEPTH, "max_archive_depth", "archives nested more than %zu deep",
			  lim->max_archive_depth);
	} else if ((r == ARCHIVE_EOF || extract(&st, a, e, raw_name)) &&
		   (format & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_TAR) {
		la_int64_t end = archive_filter_bytes(a, 0);
		if (end >= 0)
			extract_trailer(&st, (size_t)end);
	}
	free(raw_name);
	free(label);
	archive_read_free(a);
}

void bw_archive_budget_free(bw_archive_budget *b)
{
	free(b->tree_bytes);
	memset(b, 0, sizeof *b);
}
