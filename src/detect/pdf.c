/* PDF_ACTIVE_CONTENT: a PDF that runs JavaScript (/JavaScript, /JS),
 * launches a program (/Launch), acts on open (/OpenAction, /AA with
 * script), or carries files (/EmbeddedFile). Names are read as PDF reads
 * them, with #xx escapes decoded (/J#61vaScript is /JavaScript, and writing
 * it so is itself a sign), in the file and inside encoded streams (object
 * streams hide dictionaries there): the stream's /Filter chain of
 * FlateDecode, ASCIIHexDecode and ASCII85Decode is decoded, bounded per
 * stream and per file, and a stream without a /Filter this scanner reads
 * is still inflated when it starts with a zlib header. Images and font
 * programs are not decoded (stream_is_inert). Hand-written: the
 * PDF libraries in Debian (poppler, qpdf) parse and repair the whole
 * document, far more surface than counting a few names needs.
 *
 * Scores: JavaScript 3, 4 when run on open; /Launch 4; embedded files 2;
 * +1 for escaped names; +1 for JavaScript together with /Launch. */
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "bulwark/report.h"
#include "detect/detect.h"
#include "detect/docscan.h"

enum {
	MAX_NAME = 64,
	MAX_STREAMS = 2000,
	MAX_INFLATE_STREAM = 4 << 20,
	MAX_INFLATE_TOTAL = 16 << 20,
	MAX_DICT = 4096,  /* bytes before "stream" searched for its /Filter */
	MAX_FILTERS = 8,  /* in one chain */
};

static const char *const keys[BW_PDF_NKEYS] = {"JavaScript", "JS", "Launch", "OpenAction", "AA",
					       "EmbeddedFile", "RichMedia", "XFA"};
/* Full names, then the abbreviations inline images use and readers accept on streams too. */
static const char *const filter_names[BW_PDF_NFILTERS][2] = {
	{"FlateDecode", "Fl"}, {"ASCIIHexDecode", "AHx"}, {"ASCII85Decode", "A85"}};

static bool delimiter(unsigned char c)
{
	return c <= ' ' || strchr("/[]<>(){}%", c) != NULL;
}

/* The name at d[i] == '/' with #xx escapes decoded (cut at MAX_NAME) into
 * name; returns the index after it. */
static size_t read_name(const char *d, size_t len, size_t i, char name[MAX_NAME + 1], bool *esc)
{
	size_t k = 0;
	i++;
	while (i < len && !delimiter((unsigned char)d[i])) {
		int c = (unsigned char)d[i++];
		int hi = i + 1 < len ? g_ascii_xdigit_value(d[i]) : -1;
		int lo = hi >= 0 ? g_ascii_xdigit_value(d[i + 1]) : -1;
		if (c == '#' && lo >= 0) {
			c = hi << 4 | lo;
			i += 2;
			*esc = true;
		}
		if (k < MAX_NAME)
			name[k++] = (char)c;
	}
	name[k] = '\0';
	return i;
}

/* Counts the key names in d; at is the offset reported for them (-1: their own). */
static void scan_names(bw_pdf_scan *s, const char *d, size_t len, long at)
{
	for (const char *p = memchr(d, '/', len); p; p = memchr(p, '/', len - (size_t)(p - d))) {
		char name[MAX_NAME + 1];
		bool esc = false;
		size_t i = read_name(d, len, (size_t)(p - d), name, &esc);
		for (int key = 0; key < BW_PDF_NKEYS; key++)
			if (strcmp(name, keys[key]) == 0) {
				if (s->count[key]++ == 0)
					s->first[key] = at >= 0 ? at : (long)(p - d);
				s->escaped |= esc;
			}
		p = d + i;
		if (i >= len)
			break;
	}
}

/* Room left for one stream's decoded bytes, under both bounds. */
static size_t room(const bw_pdf_scan *s, const bw_buf *out)
{
	size_t a = MAX_INFLATE_STREAM - out->len, b = MAX_INFLATE_TOTAL - s->inflated;
	return a < b ? a : b;
}

static void emit(bw_pdf_scan *s, bw_buf *out, const char *d, size_t n)
{
	bw_buf_append(out, d, n);
	s->inflated += n;
}

/* Inflates one stream body (zlib-wrapped, as /FlateDecode writes it) into
 * out, stopping at the per-stream and per-file bounds. After the two-byte
 * zlib header (checked here: deflate, no preset dictionary, valid check
 * bits) the deflate data is inflated raw. zlib would give the same bytes and
 * only then check the Adler-32 trailer, which takes a third of the time and
 * changes nothing read here. */
static void inflate_bounded(bw_pdf_scan *s, const char *d, size_t len, bw_buf *out)
{
	z_stream z = {0};
	if (len < 2 || ((unsigned char)d[0] & 0x0f) != 8 || ((unsigned char)d[1] & 0x20) ||
	    (((unsigned char)d[0] << 8) | (unsigned char)d[1]) % 31 != 0 || inflateInit2(&z, -15) != Z_OK)
		return;
	z.next_in = (Bytef *)d + 2;
	len -= 2;
	z.avail_in = (uInt)(len < UINT32_MAX ? len : UINT32_MAX);
	char chunk[16384];
	int r;
	do {
		size_t want = room(s, out);
		z.next_out = (Bytef *)chunk;
		z.avail_out = (uInt)(want < sizeof chunk ? want : sizeof chunk);
		if (!z.avail_out)
			break;
		uInt asked = z.avail_out;
		r = inflate(&z, Z_NO_FLUSH);
		emit(s, out, chunk, asked - z.avail_out);
	} while (r == Z_OK && z.avail_out == 0);
	inflateEnd(&z);
}

static bool pdf_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\0';
}

/* /ASCIIHexDecode: hex digit pairs up to '>', white space ignored, an odd
 * last digit padded with 0. Stops at anything else. */
static void ahx_decode(bw_pdf_scan *s, const char *d, size_t len, bw_buf *out)
{
	int hi = -1;
	for (size_t i = 0; i < len && room(s, out); i++) {
		int v = g_ascii_xdigit_value(d[i]);
		if (v < 0) {
			if (pdf_space((unsigned char)d[i]))
				continue;
			break;
		}
		if (hi < 0) {
			hi = v;
		} else {
			char c = (char)(hi << 4 | v);
			emit(s, out, &c, 1);
			hi = -1;
		}
	}
	if (hi >= 0 && room(s, out)) {
		char c = (char)(hi << 4);
		emit(s, out, &c, 1);
	}
}

/* /ASCII85Decode: groups of five '!'..'u' for four bytes, 'z' for four
 * zeros, white space ignored, '~>' at the end; a last group of n < 5
 * characters gives n - 1 bytes. Stops at anything else or an overflowing
 * group. */
static void a85_decode(bw_pdf_scan *s, const char *d, size_t len, bw_buf *out)
{
	uint64_t v = 0;
	unsigned n = 0;
	size_t i = 0;
	if (len >= 2 && d[0] == '<' && d[1] == '~')
		i = 2;
	for (; i < len && room(s, out) >= 4; i++) {
		unsigned char c = (unsigned char)d[i];
		if (pdf_space(c))
			continue;
		if (c == 'z' && n == 0) {
			emit(s, out, "\0\0\0\0", 4);
			continue;
		}
		if (c < '!' || c > 'u')
			break;
		v = v * 85 + (c - '!');
		if (++n == 5) {
			if (v > UINT32_MAX)
				return;
			char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
			emit(s, out, b, 4);
			v = 0;
			n = 0;
		}
	}
	if (n > 1 && room(s, out) >= 4) {
		for (unsigned k = n; k < 5; k++)
			v = v * 85 + 84;
		if (v > UINT32_MAX)
			return;
		char b[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};
		emit(s, out, b, n - 1);
	}
}

/* True when the object whose dictionary ends d (the bytes before "stream")
 * is an image or a font program, which a reader never parses as PDF
 * syntax: names in them are pixels or glyphs, and inflating them was 90% of
 * the decoding on phishing_pot (61 of 70 MB). Only the names after the
 * last "obj" keyword count as the stream's own; with no such keyword, or
 * with a sign of an object stream (/First, /ObjStm) anywhere in d, the
 * stream is decoded. */
static bool stream_is_inert(const char *d, size_t len)
{
	const char *own = NULL;
	for (const char *p = memmem(d, len, "obj", 3); p; p = memmem(p + 3, len - (size_t)(p + 3 - d), "obj", 3))
		if (p == d || p[-1] != 'd') /* not "endobj" */
			own = p + 3;
	if (!own)
		return false;
	bool inert = false;
	for (const char *p = memchr(d, '/', len); p; p = memchr(p, '/', len - (size_t)(p - d))) {
		char name[MAX_NAME + 1];
		bool esc = false;
		size_t i = read_name(d, len, (size_t)(p - d), name, &esc);
		if (strcmp(name, "First") == 0 || strcmp(name, "ObjStm") == 0)
			return false;
		if (p >= own)
			inert |= strcmp(name, "Image") == 0 || strcmp(name, "Length1") == 0 ||
				 strcmp(name, "Length2") == 0 || strcmp(name, "Length3") == 0 ||
				 strcmp(name, "Type1C") == 0 || strcmp(name, "CIDFontType0C") == 0 ||
				 strcmp(name, "OpenType") == 0;
		if (i >= len)
			break;
		p = d + i;
	}
	return inert;
}

/* The /Filter of the stream dictionary in d (the bytes before "stream"):
 * a name or an array of names, as BW_PDF_* values in out. Returns how
 * many; -1 when a filter is one this scanner does not decode, 0 when
 * there is no /Filter. */
static int stream_filters(const char *d, size_t len, int out[MAX_FILTERS])
{
	int n = 0;
	for (const char *p = memchr(d, '/', len); p; p = memchr(p, '/', len - (size_t)(p - d))) {
		char name[MAX_NAME + 1];
		bool esc = false;
		size_t i = read_name(d, len, (size_t)(p - d), name, &esc);
		p = d + i;
		if (strcmp(name, "Filter") != 0)
			continue;
		n = 0; /* the last /Filter is the stream's own */
		while (i < len && pdf_space((unsigned char)d[i]))
			i++;
		bool array = i < len && d[i] == '[';
		i += array;
		for (;;) {
			while (i < len && pdf_space((unsigned char)d[i]))
				i++;
			if (i >= len || d[i] != '/')
				break;
			i = read_name(d, len, i, name, &esc);
			int f = -1;
			for (int k = 0; k < BW_PDF_NFILTERS && f < 0; k++)
				if (strcmp(name, filter_names[k][0]) == 0 || strcmp(name, filter_names[k][1]) == 0)
					f = k;
			if (f < 0 || n == MAX_FILTERS)
				return -1;
			out[n++] = f;
			if (!array)
				break;
		}
		p = d + i;
		if (i >= len)
			break;
	}
	return n;
}

/* Decodes body through the filter chain into out (bounded). */
static void decode_chain(bw_pdf_scan *s, const char *body, size_t len, const int *filters, int n, bw_buf *out)
{
	bw_buf prev = {0};
	const char *in = body;
	for (int k = 0; k < n && len; k++) {
		bw_buf_reset(out);
		s->filters[filters[k]]++;
		if (filters[k] == BW_PDF_FLATE)
			inflate_bounded(s, in, len, out);
		else if (filters[k] == BW_PDF_AHX)
			ahx_decode(s, in, len, out);
		else
			a85_decode(s, in, len, out);
		if (k + 1 < n) { /* this output is the next filter's input */
			bw_buf t = prev;
			prev = *out;
			*out = t;
			in = prev.data;
			len = prev.len;
		}
	}
	bw_buf_free(&prev);
}

/* Where the dictionary of the stream whose keyword is at d[at] starts:
 * after the previous object's end, at most MAX_DICT bytes back and not
 * before floor (the end of the previous stream keyword), so that every
 * byte is searched back over once however many keywords a file holds. */
static size_t dict_start(const char *d, size_t at, size_t floor)
{
	size_t from = at > MAX_DICT ? at - MAX_DICT : 0;
	if (from < floor)
		from = floor;
	for (size_t i = at; i > from; i--)
		if (i >= 6 && memcmp(d + i - 6, "endobj", 6) == 0)
			return i;
		else if (i >= 9 && memcmp(d + i - 9, "endstream", 9) == 0)
			return i;
	return from;
}

static void scan_streams(bw_pdf_scan *s, const char *d, size_t len)
{
	bw_buf out = {0};
	size_t floor = 0;
	/* the next "endstream", found once for all the keywords before it */
	const char *next_end = NULL;
	bool no_end = false;
	for (const char *p = memmem(d, len, "stream", 6); p && s->streams < MAX_STREAMS &&
	     s->inflated < MAX_INFLATE_TOTAL; p = memmem(p, len - (size_t)(p - d), "stream", 6)) {
		size_t at = (size_t)(p - d), i = at + 6, from = dict_start(d, at, floor);
		p += 6;
		floor = at + 6;
		if (at >= 3 && memcmp(d + at - 3, "end", 3) == 0)
			continue;
		if (i < len && d[i] == '\r')
			i++;
		if (i < len && d[i] == '\n')
			i++;
		int filters[MAX_FILTERS];
		bool inert = stream_is_inert(d + from, at - from);
		int n = inert ? 0 : stream_filters(d + from, at - from, filters);
		if (n > 0 && !no_end && (!next_end || next_end < d + i)) {
			next_end = memmem(d + i, len - i, "endstream", 9);
			no_end = !next_end;
		}
		const char *end = n > 0 && !no_end ? next_end : NULL;
		size_t body = end ? (size_t)(end - d) - i : len - i;
		if (n <= 0) {
			/* no /Filter this scanner decodes: a zlib header (CMF 0x78,
			 * CMF*256+FLG a multiple of 31) still says Flate */
			if (inert || i + 2 > len || (unsigned char)d[i] != 0x78 ||
			    (((unsigned char)d[i] << 8) | (unsigned char)d[i + 1]) % 31)
				continue;
			filters[0] = BW_PDF_FLATE;
			n = 1;
		}
		s->streams++;
		decode_chain(s, d + i, body, filters, n, &out);
		if (out.len)
			scan_names(s, out.data, out.len, (long)i);
		if (end) /* the body is data, not keywords */
			p = end + 9;
	}
	bw_buf_free(&out);
}

void bw_pdf_scan_file(bw_pdf_scan *s, const char *d, size_t len)
{
	scan_names(s, d, len, -1);
	scan_streams(s, d, len);
}

static void check_pdf(bw_message *m, unsigned part, bw_attach_hits *h)
{
	const bw_part *p = &m->parts[part];
	bw_pdf_scan s = {0};
	bw_pdf_scan_file(&s, p->data, p->len);
	bool js = s.count[BW_PDF_JAVASCRIPT] || s.count[BW_PDF_JS];
	bool on_open = js && (s.count[BW_PDF_OPENACTION] || s.count[BW_PDF_AA]);
	bool launch = s.count[BW_PDF_LAUNCH] > 0, embedded = s.count[BW_PDF_EMBEDDEDFILE] > 0;
	if (!js && !launch && !embedded)
		return;
	double score = launch || on_open ? 4 : js ? 3 : 2;
	score += s.escaped + (js && launch);
	bw_buf phrase = {0}, det = {0}, attack = {0};
	bw_buf_puts(&attack, "T1566.001 T1204.002");
	const char *sep = "";
	if (js) {
		bw_buf_printf(&phrase, "JavaScript%s", on_open ? " run on open" : "");
		bw_buf_puts(&attack, " T1059.007");
		sep = ", ";
	}
	if (launch) {
		bw_buf_printf(&phrase, "%slaunch action", sep);
		sep = ", ";
	}
	if (embedded) {
		bw_buf_printf(&phrase, "%sembedded files", sep);
		bw_buf_puts(&attack, " T1027.009");
	}
	if (s.escaped) {
		bw_buf_puts(&phrase, " (names hidden with #xx escapes)");
		bw_buf_puts(&attack, " T1027");
	}
	bw_buf_puts(&det, "\"names\":{");
	sep = "";
	for (int k = 0; k < BW_PDF_NKEYS; k++)
		if (s.count[k]) {
			bw_buf_printf(&det, "%s\"%s\":{\"count\":%u,\"offset\":%ld}", sep, keys[k], s.count[k], s.first[k]);
			sep = ",";
		}
	bw_buf_printf(&det, "},\"escaped_names\":%s,\"streams_inflated\":%zu,\"inflated_bytes\":%zu,\"filters\":{",
		      s.escaped ? "true" : "false", s.streams, s.inflated);
	for (int k = 0; k < BW_PDF_NFILTERS; k++)
		bw_buf_printf(&det, "%s\"%s\":%u", k ? "," : "", filter_names[k][0], s.filters[k]);
	bw_buf_putc(&det, '}');
	bw_attach_hit(h, m, part, score, attack.data, phrase.data, det.data);
	bw_buf_free(&phrase);
	bw_buf_free(&det);
	bw_buf_free(&attack);
}

void bw_detect_pdf(bw_message *m, const bw_engine *e)
{
	bw_attach_hits h = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		/* readers accept the header anywhere in the first KB */
		if (p->kind == BW_PART_ATTACHMENT && p->len > 8 &&
		    memmem(p->data, p->len < 1024 ? p->len : 1024, "%PDF-", 5))
			check_pdf(m, (unsigned)i, &h);
	}
	bw_attach_hits_emit(m, &h, "PDF_ACTIVE_CONTENT");
}
