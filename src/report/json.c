/* The JSON Lines report. Written with a streaming writer rather than by
 * building a jansson tree: a report is written once per message on the hot
 * path, and appending to one buffer avoids a tree of small allocations.
 * jansson remains the reader of JSON input. */
#include <stdio.h>
#include <string.h>

#include "bulwark/report.h"

/* Length of the valid UTF-8 sequence at p (max n bytes), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void bw_json_member(bw_buf *b, const char *key, const char *value, bool first)
{
	if (!first)
		bw_buf_putc(b, ',');
	bw_json_string(b, key);
	bw_buf_putc(b, ':');
	bw_json_string(b, value);
}

void bw_json_string(bw_buf *b, const char *s)
{
	if (!s) {
		bw_buf_puts(b, "null");
		return;
	}
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	bw_buf_reserve(b, n + 2);
	bw_buf_putc(b, '"');
	size_t run = 0; /* bytes copied verbatim are appended in runs */
	for (size_t i = 0; i < n;) {
		/* printable ASCII other than '"' and '\\' is most of any report */
		size_t plain = i;
		while (plain < n && p[plain] >= 0x20 && p[plain] < 0x7f && p[plain] != '"' && p[plain] != '\\')
			plain++;
		run += plain - i;
		i = plain;
		if (i == n)
			break;
		unsigned char c = p[i];
		const char *esc = NULL;
		char u[7];
		size_t seq = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
			esc = u;
		} else if (c >= 0x80) {
			seq = utf8_seq(p + i, n - i);
			if (seq == 0) {
				esc = "\xef\xbf\xbd";
				seq = 1;
			}
		}
		if (esc) {
			bw_buf_append(b, p + i - run, run);
			run = 0;
			bw_buf_puts(b, esc);
			i += seq;
		} else {
			run += seq;
			i += seq;
		}
	}
	bw_buf_append(b, p + n - run, run);
	bw_buf_putc(b, '"');
}

static void key(bw_buf *b, const char *k)
{
	bw_json_string(b, k);
	bw_buf_putc(b, ':');
}

static void tracker_json(bw_buf *b, const bw_tracker *t)
{
	static const char *const kind_names[] = {"pixel", "hidden", "known-tracker", "recipient-token",
						 "unique-token"};
	if (!t) {
		bw_buf_puts(b, "null");
		return;
	}
	bw_buf_puts(b, "{\"kinds\":[");
	bool first = true;
	for (unsigned k = 0; k < 5; k++) {
		if (!(t->kinds & (1u << k)))
			continue;
		if (!first)
			bw_buf_putc(b, ',');
		first = false;
		bw_json_string(b, kind_names[k]);
	}
	bw_buf_puts(b, "],");
	key(b, "vendor");
	bw_json_string(b, t->vendor);
	bw_buf_printf(b, ",\"confidence\":%.2f,", t->confidence);
	if (t->token_form) {
		key(b, "token_form");
		bw_json_string(b, t->token_form);
		bw_buf_putc(b, ',');
	}
	key(b, "reasons");
	bw_buf_putc(b, '[');
	for (size_t i = 0; i < t->reasons.n; i++) {
		if (i)
			bw_buf_putc(b, ',');
		bw_json_string(b, t->reasons.v[i]);
	}
	bw_buf_puts(b, "]}");
}

static void address_json(bw_buf *b, const bw_address *a)
{
	bw_buf_puts(b, "{\"name\":");
	bw_json_string(b, a->name);
	bw_buf_puts(b, ",\"address\":");
	bw_json_string(b, a->address);
	bw_buf_putc(b, '}');
}

static void findings_json(bw_buf *b, const bw_message *m)
{
	bw_buf_puts(b, "\"findings\":[");
	for (size_t i = 0; i < m->nfindings; i++) {
		const bw_finding *f = &m->findings[i];
		if (i)
			bw_buf_putc(b, ',');
		bw_buf_puts(b, "{\"id\":");
		bw_json_string(b, f->id);
		bw_buf_puts(b, ",\"severity\":");
		bw_json_string(b, bw_severity_name(f->severity));
		bw_buf_printf(b, ",\"score\":%g,\"summary\":", f->score);
		bw_json_string(b, f->summary);
		bw_buf_puts(b, ",\"attack\":[");
		for (size_t k = 0; k < f->attack.n; k++) {
			if (k)
				bw_buf_putc(b, ',');
			bw_json_string(b, f->attack.v[k]);
		}
		bw_buf_puts(b, "],\"evidence\":");
		bw_buf_puts(b, f->evidence_json ? f->evidence_json : "{}");
		bw_buf_putc(b, '}');
	}
	bw_buf_puts(b, "],");
}

static void resources_json(bw_buf *b, const bw_message *m)
{
	bw_buf_puts(b, "\"remote_resources\":[");
	for (size_t i = 0; i < m->nresources; i++) {
		const bw_resource *r = &m->resources[i];
		if (i)
			bw_buf_putc(b, ',');
		bw_buf_puts(b, "{\"url\":");
		bw_json_string(b, r->url);
		bw_buf_puts(b, ",\"element\":");
		bw_json_string(b, r->element);
		bw_buf_printf(b, ",\"on_open\":%s,\"candidate\":%s,\"hidden\":%s",
			      r->on_open ? "true" : "false",
			      (r->flags & BW_RES_CANDIDATE) ? "true" : "false",
			      (r->flags & BW_RES_HIDDEN) ? "true" : "false");
		if (r->width >= 0)
			bw_buf_printf(b, ",\"width\":%d", r->width);
		if (r->height >= 0)
			bw_buf_printf(b, ",\"height\":%d", r->height);
		bw_buf_printf(b, ",\"part\":%u,\"tracker\":", r->part);
		tracker_json(b, r->tracker);
		bw_buf_putc(b, '}');
	}
	bw_buf_puts(b, "],");
}

static void links_json(bw_buf *b, const bw_message *m)
{
	bw_buf_puts(b, "\"links\":[");
	for (size_t i = 0; i < m->nlinks; i++) {
		const bw_link *l = &m->links[i];
		if (i)
			bw_buf_putc(b, ',');
		bw_buf_puts(b, "{\"url\":");
		bw_json_string(b, l->url);
		bw_buf_puts(b, ",\"text\":");
		bw_json_string(b, l->text);
		bw_buf_puts(b, ",\"unwrapped\":");
		bw_json_string(b, l->unwrapped);
		bw_buf_printf(b, ",\"text_is_url\":%s,\"hidden_text\":%s,\"tracker\":",
			      (l->flags & BW_LINK_TEXT_IS_URL) ? "true" : "false",
			      (l->flags & BW_LINK_ZERO_SIZE_TEXT) ? "true" : "false");
		tracker_json(b, l->tracker);
		if (l->rel_type) {
			bw_buf_printf(b, ",\"part\":%u,\"document_relationship\":", l->part);
			bw_json_string(b, l->rel_type);
		}
		bw_buf_putc(b, '}');
	}
	bw_buf_puts(b, "],");
}

/* Position of part in the attachments array (which leaves out text and HTML). */
static size_t attachment_index(const bw_message *m, size_t part)
{
	size_t n = 0;
	for (size_t i = 0; i < part; i++)
		n += m->parts[i].kind == BW_PART_ATTACHMENT;
	return n;
}

/* Where a member came from, and what an archive held. */
static void archive_fields_json(bw_buf *b, const bw_message *m, const bw_part *p)
{
	bw_buf_puts(b, ",\"container\":");
	if (p->archive_path)
		bw_buf_printf(b, "%zu", attachment_index(m, p->container));
	else
		bw_buf_puts(b, "null");
	bw_buf_puts(b, ",\"path\":");
	bw_json_string(b, p->archive_path);
	bw_buf_printf(b, ",\"encrypted\":%s,\"truncated\":%s,\"archive\":",
		      p->encrypted ? "true" : "false", p->truncated ? "true" : "false");
	if (!p->archive_format) {
		bw_buf_puts(b, "null");
		return;
	}
	bw_buf_puts(b, "{\"format\":");
	bw_json_string(b, p->archive_format);
	bw_buf_printf(b, ",\"entries\":%u,\"limit\":", p->archive_entries);
	bw_json_string(b, p->archive_limit);
	bw_buf_putc(b, '}');
}

static void attachments_json(bw_buf *b, const bw_message *m)
{
	bw_buf_puts(b, "\"attachments\":[");
	bool first = true;
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (p->kind != BW_PART_ATTACHMENT)
			continue;
		if (!first)
			bw_buf_putc(b, ',');
		first = false;
		bw_buf_puts(b, "{\"filename\":");
		bw_json_string(b, p->filename);
		bw_buf_puts(b, ",\"content_type\":");
		bw_json_string(b, p->content_type);
		bw_buf_puts(b, ",\"detected_type\":");
		bw_json_string(b, p->detected_type);
		bw_buf_printf(b, ",\"size\":%zu,\"sha256\":\"%s\",\"depth\":%u", p->len, p->sha256, p->depth);
		archive_fields_json(b, m, p);
		bw_buf_putc(b, '}');
	}
	bw_buf_puts(b, "],");
}

void bw_report_json(bw_buf *b, const bw_message *m)
{
	bw_buf_puts(b, "{\"source\":");
	bw_json_string(b, m->source);
	bw_buf_puts(b, ",\"message_id\":");
	bw_json_string(b, m->message_id);
	bw_buf_puts(b, ",\"from\":");
	address_json(b, &m->from);
	bw_buf_puts(b, ",\"subject\":");
	bw_json_string(b, m->subject);
	bw_buf_puts(b, ",\"recipient\":");
	bw_json_string(b, m->recipient);
	bw_buf_puts(b, ",\"verdict\":");
	bw_json_string(b, bw_verdict_name(m->verdict));
	bw_buf_printf(b, ",\"score\":%g,", m->score);
	findings_json(b, m);
	resources_json(b, m);
	links_json(b, m);
	attachments_json(b, m);
	bw_buf_puts(b, "\"errors\":[");
	for (size_t i = 0; i < m->errors.n; i++) {
		if (i)
			bw_buf_putc(b, ',');
		bw_json_string(b, m->errors.v[i]);
	}
	bw_buf_puts(b, "]}");
}
