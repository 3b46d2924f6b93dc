/* PDF_ACTIVE_CONTENT: a PDF that runs JavaScript (/JavaScript, /JS),
 * launches a program (/Launch), acts on open (/OpenAction, /AA with
 * script), or carries files (/EmbeddedFile). Names are read as PDF reads
 * them, with #xx escapes decoded (/J#61vaScript is /JavaScript, and writing
 * it so is itself a sign), in the file and inside Flate-compressed streams
 * (object streams hide dictionaries there), with bounded inflation.
 *
 * Scores: JavaScript 3, 4 when run on open; /Launch 4; embedded files 2;
 * +1 for escaped names; +1 for JavaScript together with /Launch. */
#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "bulwark/report.h"
#include "detect/detect.h"

enum {
	MAX_NAME = 64,
	MAX_STREAMS = 2000,
	MAX_INFLATE_STREAM = 4 << 20,
	MAX_INFLATE_TOTAL = 16 << 20,
};

enum { K_JAVASCRIPT, K_JS, K_LAUNCH, K_OPENACTION, K_AA, K_EMBEDDEDFILE, K_RICHMEDIA, K_XFA, NKEYS };
static const char *const keys[NKEYS] = {"JavaScript", "JS", "Launch", "OpenAction", "AA", "EmbeddedFile",
					"RichMedia", "XFA"};

typedef struct pdf_scan {
	unsigned count[NKEYS];
	long first[NKEYS];   /* offset in the file, of the name or of the stream holding it */
	bool escaped;        /* some key was written with #xx escapes */
	size_t streams, inflated;
} pdf_scan;

static bool delimiter(unsigned char c)
{
	return c <= ' ' || strchr("/[]<>(){}%", c) != NULL;
}

/* Counts the key names in d; at is the offset reported for them (-1: their own). */
static void scan_names(pdf_scan *s, const char *d, size_t len, long at)
{
	for (const char *p = memchr(d, '/', len); p; p = memchr(p, '/', len - (size_t)(p - d))) {
		size_t i = (size_t)(p - d) + 1;
		char name[MAX_NAME + 1];
		size_t k = 0;
		bool esc = false;
		while (i < len && !delimiter((unsigned char)d[i])) {
			int c = (unsigned char)d[i++];
			int hi = i + 1 < len ? g_ascii_xdigit_value(d[i]) : -1;
			int lo = hi >= 0 ? g_ascii_xdigit_value(d[i + 1]) : -1;
			if (c == '#' && lo >= 0) {
				c = hi << 4 | lo;
				i += 2;
				esc = true;
			}
			if (k < MAX_NAME)
				name[k++] = (char)c;
		}
		name[k] = '\0';
		for (int key = 0; key < NKEYS; key++)
			if (name[0] == keys[key][0] && strcmp(name, keys[key]) == 0) {
				if (s->count[key]++ == 0)
					s->first[key] = at >= 0 ? at : (long)(p - d);
				s->escaped |= esc;
			}
		p = d + i;
		if (i >= len)
			break;
	}
}

/* Inflates one stream body (zlib-wrapped, as /FlateDecode writes it) into
 * out, stopping at the per-stream and per-file bounds. The caller has checked
 * the two-byte zlib header; the deflate data after it is inflated raw. zlib
 * would give the same bytes and only then check the Adler-32 trailer, which
 * takes a third of the time and changes nothing read here. A header asking
 * for a preset dictionary gives nothing, as zlib would. */
static void inflate_bounded(pdf_scan *s, const char *d, size_t len, bw_buf *out)
{
	z_stream z = {0};
	if (len < 2 || ((unsigned char)d[1] & 0x20) || inflateInit2(&z, -15) != Z_OK)
		return;
	z.next_in = (Bytef *)d + 2;
	len -= 2;
	z.avail_in = (uInt)(len < UINT32_MAX ? len : UINT32_MAX);
	char chunk[16384];
	int r;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof chunk;
		r = inflate(&z, Z_NO_FLUSH);
		size_t got = sizeof chunk - z.avail_out;
		bw_buf_append(out, chunk, got);
		s->inflated += got;
	} while (r == Z_OK && z.avail_out == 0 && out->len < MAX_INFLATE_STREAM && s->inflated < MAX_INFLATE_TOTAL);
	inflateEnd(&z);
}

static void scan_streams(pdf_scan *s, const char *d, size_t len)
{
	bw_buf out = {0};
	for (const char *p = memmem(d, len, "stream", 6); p && s->streams < MAX_STREAMS &&
	     s->inflated < MAX_INFLATE_TOTAL; p = memmem(p, len - (size_t)(p - d), "stream", 6)) {
		size_t i = (size_t)(p - d) + 6;
		p += 6;
		if (i > 9 && memcmp(p - 9, "endstream", 9) == 0)
			continue;
		if (i < len && d[i] == '\r')
			i++;
		if (i < len && d[i] == '\n')
			i++;
		/* a zlib header: CMF 0x78, and CMF*256+FLG a multiple of 31 */
		if (i + 2 > len || (unsigned char)d[i] != 0x78 || (((unsigned char)d[i] << 8) | (unsigned char)d[i + 1]) % 31)
			continue;
		s->streams++;
		bw_buf_reset(&out);
		inflate_bounded(s, d + i, len - i, &out);
		if (out.len)
			scan_names(s, out.data, out.len, (long)i);
	}
	bw_buf_free(&out);
}

static void check_pdf(bw_message *m, unsigned part, bw_attach_hits *h)
{
	const bw_part *p = &m->parts[part];
	pdf_scan s = {0};
	scan_names(&s, p->data, p->len, -1);
	scan_streams(&s, p->data, p->len);
	bool js = s.count[K_JAVASCRIPT] || s.count[K_JS];
	bool on_open = js && (s.count[K_OPENACTION] || s.count[K_AA]);
	bool launch = s.count[K_LAUNCH] > 0, embedded = s.count[K_EMBEDDEDFILE] > 0;
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
	for (int k = 0; k < NKEYS; k++)
		if (s.count[k]) {
			bw_buf_printf(&det, "%s\"%s\":{\"count\":%u,\"offset\":%ld}", sep, keys[k], s.count[k], s.first[k]);
			sep = ",";
		}
	bw_buf_printf(&det, "},\"escaped_names\":%s,\"streams_inflated\":%zu,\"inflated_bytes\":%zu",
		      s.escaped ? "true" : "false", s.streams, s.inflated);
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
