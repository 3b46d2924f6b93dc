/* Office documents: OFFICE_MACRO for a VBA project (an OLE .doc/.xls/.ppt,
 * or vbaProject.bin in an OOXML zip, which extraction has made a member);
 * OFFICE_EQUATION_EDITOR for an OLE object of the Equation Editor 3.0
 * class; RTF_EMBEDDED_OBJECT for OLE objects in RTF (\object, \objdata)
 * and RTF_EQUATION_EDITOR when one of them is Equation.3, the component of
 * CVE-2017-11882 and CVE-2018-0802 that APT40 and many others exploited
 * with RTF lures; OFFICE_REMOTE_TEMPLATE for an OOXML document that loads
 * a template, frame, sub-document or OLE object from outside itself on open
 * (an external relationship, extracted as a link by src/mail/docrels.c):
 * Template Injection, T1221, as APT28 and Gamaredon use it to fetch the
 * macro or exploit only once the document is opened past the gateway.
 *
 * Scores: a macro 4 (a document that runs code; some internal templates
 * have them); an embedded object in RTF 2, 3 when it updates itself on
 * open (\objupdate: no click needed); the Equation Editor 6, suspicious on
 * its own: no current document needs that 2000-era component. A remote
 * template over http(s) or ftp 5 (documents from honest senders carry
 * their template, or name one on an internal share); over file:/UNC 4
 * (also leaks the reader's NTLM hash to that host, T1187); another
 * scheme 3. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/report.h"
#include "detect/detect.h"
#include "detect/docscan.h"

enum {
	MAX_OBJECT_BYTES = 8 << 20, /* decoded \objdata kept per object */
	MAX_WORD = 32,
};

static const unsigned char CFB_MAGIC[4] = {0xd0, 0xcf, 0x11, 0xe0};

static void check_cfb(bw_message *m, unsigned i, const char *data, size_t len, bw_attach_hits *macro,
		      bw_attach_hits *equation)
{
	const bw_part *p = &m->parts[i];
	bw_cfb_info info;
	bool ok = bw_cfb_read(data, len, &info);
	bool named = p->archive_path && p->filename && bw_ascii_iequal(p->filename, "vbaProject.bin");
	if ((ok && info.vba) || named) {
		bw_buf det = {0};
		bw_buf_puts(&det, "\"vba_streams\":[");
		for (size_t k = 0; k < info.vba_streams.n; k++) {
			if (k)
				bw_buf_putc(&det, ',');
			bw_json_string(&det, info.vba_streams.v[k]);
		}
		bw_buf_printf(&det, "],\"ole_entries\":%u", info.entries);
		bw_attach_hit(macro, m, i, 4, "T1566.001 T1204.002 T1059.005",
			      ok && info.vba ? "VBA macro project" : "vbaProject.bin (unreadable)", det.data);
		bw_buf_free(&det);
	}
	if (ok && info.equation) {
		bw_buf det = {0};
		bw_buf_printf(&det, "\"clsid\":\"%s\"", info.clsid);
		bw_attach_hit(equation, m, i, 6, "T1203 T1566.001 T1204.002",
			      "OLE object of the Equation Editor 3.0 class (CVE-2017-11882)", det.data);
		bw_buf_free(&det);
	}
	bw_cfb_info_free(&info);
}

/* ---- RTF ---- */

/* A control word at d[i] == '\\': its letters into w, returns the index
 * after it and its numeric parameter (and the space that ends it). */
static size_t control_word(const char *d, size_t len, size_t i, char *w)
{
	size_t k = 0;
	i++;
	while (i < len && ((d[i] | 0x20) >= 'a' && (d[i] | 0x20) <= 'z')) {
		if (k < MAX_WORD)
			w[k++] = (char)(d[i] | 0x20);
		i++;
	}
	w[k] = '\0';
	if (i < len && d[i] == '-')
		i++;
	while (i < len && d[i] >= '0' && d[i] <= '9')
		i++;
	if (i < len && d[i] == ' ')
		i++;
	return i;
}

/* \objdata: hex digits up to the end of its group. Writers (and
 * obfuscators) put white space, control words and nested groups between
 * the digits; Word skips them, and so does this. */
static size_t decode_objdata(const char *d, size_t len, size_t i, bw_buf *out)
{
	int depth = 0, hi = -1;
	char w[MAX_WORD + 1];
	while (i < len) {
		unsigned char c = (unsigned char)d[i];
		if (c == '}') {
			if (depth-- == 0)
				break;
			i++;
		} else if (c == '{') {
			depth++;
			i++;
		} else if (c == '\\') {
			i = control_word(d, len, i, w);
			if (!w[0])
				i++; /* a control symbol */
		} else {
			int v = g_ascii_xdigit_value((char)c);
			if (v >= 0 && out->len < MAX_OBJECT_BYTES) {
				if (hi < 0) {
					hi = v;
				} else {
					bw_buf_putc(out, (char)(hi << 4 | v));
					hi = -1;
				}
			}
			i++;
		}
	}
	return i;
}

static bool contains_ci(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if ((hay[i] | 0x20) == (needle[0] | 0x20) && strncasecmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

static void analyse_object(bw_rtf_object *o, const bw_buf *bin)
{
	o->bytes = bin->len;
	if (!bin->len)
		return;
	/* OLE1 ObjectHeader: version, format, then a counted class name */
	if (!o->cls[0] && bin->len >= 12) {
		const unsigned char *b = (const unsigned char *)bin->data;
		size_t n = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
		if (n > 1 && n <= 64 && 12 + n <= bin->len) {
			size_t k = 0;
			for (; k < n - 1 && b[12 + k] >= 0x20 && b[12 + k] < 0x7f; k++)
				o->cls[k] = (char)b[12 + k];
			o->cls[k] = '\0';
		}
	}
	if (contains_ci(o->cls, strlen(o->cls), "Equation.3") || contains_ci(bin->data, bin->len, "Equation.3"))
		o->equation = true;
	if (bw_ascii_iequal(o->cls, "Package"))
		o->package = true;
	const char *cfb = memmem(bin->data, bin->len, CFB_MAGIC, sizeof CFB_MAGIC);
	if (cfb) {
		bw_cfb_info info;
		if (bw_cfb_read(cfb, bin->len - (size_t)(cfb - bin->data), &info)) {
			o->equation |= info.equation;
			o->package |= info.ole10native;
		}
		bw_cfb_info_free(&info);
	}
}

size_t bw_rtf_objects(const char *d, size_t len, bw_rtf_object *objs)
{
	size_t n = 0;
	char w[MAX_WORD + 1];
	bw_rtf_object *cur = NULL;
	for (size_t i = 0; i < len;) {
		const char *bs = memchr(d + i, '\\', len - i);
		if (!bs)
			break;
		size_t at = (size_t)(bs - d);
		i = control_word(d, len, at, w);
		if (!w[0]) {
			i = at + 2;
			continue;
		}
		if (strcmp(w, "object") == 0 || (strcmp(w, "objdata") == 0 && (!cur || cur->bytes))) {
			if (n == BW_RTF_MAX_OBJECTS)
				break;
			cur = &objs[n++];
			memset(cur, 0, sizeof *cur);
			cur->offset = at;
		}
		if (!cur)
			continue;
		if (strcmp(w, "objupdate") == 0) {
			cur->update = true;
		} else if (strcmp(w, "objclass") == 0) {
			size_t k = 0;
			while (i < len && d[i] != '}' && d[i] != '\\' && d[i] != '{') {
				if (k < sizeof cur->cls - 1 && (unsigned char)d[i] >= 0x20 && d[i] != ' ')
					cur->cls[k++] = d[i];
				i++;
			}
			cur->cls[k] = '\0';
		} else if (strcmp(w, "objdata") == 0) {
			bw_buf bin = {0};
			cur->offset = at;
			i = decode_objdata(d, len, i, &bin);
			analyse_object(cur, &bin);
			if (!cur->bytes)
				cur->bytes = 1; /* an empty \objdata still ends this object */
			bw_buf_free(&bin);
		}
	}
	return n;
}

static void check_rtf(bw_message *m, unsigned i, bw_attach_hits *embedded, bw_attach_hits *equation)
{
	const bw_part *p = &m->parts[i];
	bw_rtf_object *objs = bw_xcalloc(BW_RTF_MAX_OBJECTS, sizeof *objs);
	size_t n = bw_rtf_objects(p->data, p->len, objs);
	if (n) {
		bool update = false, eq = false;
		bw_buf det = {0};
		bw_buf_puts(&det, "\"objects\":[");
		for (size_t k = 0; k < n; k++) {
			const bw_rtf_object *o = &objs[k];
			update |= o->update;
			eq |= o->equation;
			bw_buf_printf(&det, "%s{\"offset\":%zu,\"class\":", k ? "," : "", o->offset);
			bw_json_string(&det, o->cls[0] ? o->cls : NULL);
			bw_buf_printf(&det, ",\"bytes\":%zu,\"objupdate\":%s,\"equation_editor\":%s,\"package\":%s}",
				      o->bytes, o->update ? "true" : "false", o->equation ? "true" : "false",
				      o->package ? "true" : "false");
		}
		bw_buf_putc(&det, ']');
		bw_buf phrase = {0};
		bw_buf_printf(&phrase, "%zu embedded OLE object%s%s", n, n == 1 ? "" : "s",
			      update ? " that update on open (\\objupdate)" : "");
		bw_attach_hit(embedded, m, i, update ? 3 : 2, "T1566.001 T1204.002", phrase.data, det.data);
		if (eq)
			bw_attach_hit(equation, m, i, 6, "T1203 T1566.001 T1204.002",
				      "Equation Editor 3.0 object (CVE-2017-11882, CVE-2018-0802)", det.data);
		bw_buf_free(&phrase);
		bw_buf_free(&det);
	}
	free(objs);
}

/* Relationship types whose external target Word loads by itself. */
static const char *const loaded_on_open[] = {"attachedTemplate", "frame", "subDocument", "oleObject"};

static void check_remote_templates(bw_message *m, bw_attach_hits *h)
{
	for (size_t i = 0; i < m->nlinks; i++) {
		const bw_link *l = &m->links[i];
		bool loaded = false;
		for (size_t k = 0; l->rel_type && k < sizeof loaded_on_open / sizeof loaded_on_open[0]; k++)
			loaded |= bw_ascii_iequal(l->rel_type, loaded_on_open[k]);
		if (!loaded)
			continue;
		bool web = bw_ascii_istartswith(l->url, "http:") || bw_ascii_istartswith(l->url, "https:") ||
			   bw_ascii_istartswith(l->url, "ftp:");
		bool smb = bw_ascii_istartswith(l->url, "file:");
		bw_buf phrase = {0}, det = {0};
		bw_buf_printf(&phrase, "%s loaded from %s on open", l->rel_type, web ? "the web" : smb ? "a file share" : "outside the document");
		bw_buf_puts(&det, "\"relationship\":");
		bw_json_string(&det, l->rel_type);
		bw_buf_puts(&det, ",\"url\":");
		bw_json_string(&det, l->url);
		bw_attach_hit(h, m, l->part, web ? 5 : smb ? 4 : 3,
			      smb ? "T1221 T1187 T1566.001 T1204.002" : "T1221 T1566.001 T1204.002", phrase.data, det.data);
		bw_buf_free(&phrase);
		bw_buf_free(&det);
	}
}

void bw_detect_office(bw_message *m, const bw_engine *e)
{
	bw_attach_hits macro = {0}, ole_eq = {0}, rtf_obj = {0}, rtf_eq = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (p->kind != BW_PART_ATTACHMENT)
			continue;
		check_cfb(m, (unsigned)i, p->data, p->len, &macro, &ole_eq);
		/* Word opens anything starting "{\rt" as RTF */
		if (p->len >= 4 && memcmp(p->data, "{\\rt", 4) == 0)
			check_rtf(m, (unsigned)i, &rtf_obj, &rtf_eq);
	}
	bw_attach_hits_emit(m, &macro, "OFFICE_MACRO");
	bw_attach_hits_emit(m, &ole_eq, "OFFICE_EQUATION_EDITOR");
	bw_attach_hits_emit(m, &rtf_obj, "RTF_EMBEDDED_OBJECT");
	bw_attach_hits_emit(m, &rtf_eq, "RTF_EQUATION_EDITOR");
	bw_attach_hits remote = {0};
	check_remote_templates(m, &remote);
	bw_attach_hits_emit(m, &remote, "OFFICE_REMOTE_TEMPLATE");
}
