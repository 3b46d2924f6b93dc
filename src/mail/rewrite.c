/* Sanitizing a whole message: every HTML part is replaced by a copy that
 * fetches nothing remote (src/html/sanitize.c), and the message is written
 * out again with GMime. Parts that need no change keep their bytes; a header
 * says what was removed.
 *
 * Nothing goes out unchecked: MIME parts nested deeper than max_mime_depth
 * (which the scan does not read either), and attached messages GMime left
 * unparsed (past its 1,024 levels of nesting, GMIME_CRIT_NESTING_OVERFLOW,
 * or a message/rfc822 sent base64- or QP-encoded), which mail clients may
 * still decode and show, are replaced by a short text/plain note.
 *
 * And the promise is checked: writing a malformed message out again can
 * change how it parses (a truncated multipart, a boundary cut short), so
 * the output is read back as the scan reads it, and when anything in it
 * would still load on open, its whole body is replaced by a note. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/html.h"
#include "bulwark/mail.h"
#include "mail/mime.h"

typedef struct rewrite_state {
	const bw_limits *lim;
	bw_sanitize_stats *stats;
	bw_strvec errors;
	unsigned removed; /* subtrees replaced by a note */
} rewrite_state;

/* bw_html_sanitize counts one part (it zeroes its stats first): the
 * message's totals are the sums. */
static bool stats_add(bw_sanitize_stats *sum, const bw_sanitize_stats *part)
{
	sum->images += part->images;
	sum->backgrounds += part->backgrounds;
	sum->stylesheets += part->stylesheets;
	sum->fonts += part->fonts;
	sum->frames += part->frames;
	sum->media += part->media;
	sum->other += part->other;
	sum->links_unwrapped += part->links_unwrapped;
	return part->images || part->backgrounds || part->stylesheets || part->fonts || part->frames ||
	       part->media || part->other || part->links_unwrapped;
}

/* g_mime_text_part_set_text takes a C string, so a NUL in the text would cut
 * off everything after it. A NUL displays as nothing (HTML5 drops it in text
 * and reads it as U+FFFD in attribute values), so it becomes U+FFFD: no
 * content is lost and the output carries no NUL for a client to trip on. */
static void set_text_without_nul(GMimeTextPart *part, const char *text, size_t len)
{
	bw_buf b = {0};
	const char *p = text, *end = text + len, *nul;
	while ((nul = memchr(p, '\0', (size_t)(end - p)))) {
		bw_buf_append(&b, p, (size_t)(nul - p));
		bw_buf_append(&b, "\xEF\xBF\xBD", 3);
		p = nul + 1;
	}
	bw_buf_append(&b, p, (size_t)(end - p));
	g_mime_text_part_set_text(part, b.data ? b.data : "");
	bw_buf_free(&b);
}

static void rewrite_leaf(GMimePart *part, unsigned depth, void *arg)
{
	rewrite_state *st = arg;
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	if (!ct || !g_mime_content_type_is_type(ct, "text", "html"))
		return;
	size_t len, utf8_len, out_len;
	bool cut;
	/* bw_html_sanitize reads at most max_html_bytes of the UTF-8 text and
	 * leaves out the rest of a longer part (never checked, so never sent
	 * on), so decoding more than yields that much is wasted memory: no
	 * charset takes more than 4 bytes (UTF-32) per UTF-8 byte. */
	size_t max_raw = SIZE_MAX;
	if (st->lim->max_html_bytes && st->lim->max_html_bytes < SIZE_MAX / 4 - 8)
		max_raw = 4 * st->lim->max_html_bytes + 8;
	char *raw = bw_mime_decoded(part, max_raw, &len, &cut);
	char *html = bw_mime_text_utf8(part, raw, len, true, &utf8_len, &st->errors);
	free(raw);
	bw_sanitize_stats part_stats;
	char *clean = bw_html_sanitize(html, utf8_len, st->lim, &part_stats, &out_len);
	/* Whenever the bytes differ, not only when something was counted: past
	 * a limit cut (bytes or nesting) the sanitizer leaves the rest of the
	 * part out because it was never checked, and keeping the original part
	 * would put that unchecked tail, beacons and all, back into the output.
	 * (Comparing the running totals before and after, as this did, also
	 * missed a part whose counts equalled the previous part's: the
	 * sanitizer zeroed the totals.) */
	bool changed = stats_add(st->stats, &part_stats) || out_len != utf8_len ||
		       memcmp(clean, html, out_len) != 0;
	free(html);
	if (changed && GMIME_IS_TEXT_PART(part)) {
		set_text_without_nul(GMIME_TEXT_PART(part), clean, out_len);
		g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	}
	free(clean);
}

/* Where a MIME object hangs: the index-th part of a multipart, or the body
 * of a message. */
typedef struct rewrite_item {
	GMimeObject *obj;
	unsigned depth;
	GMimeMultipart *mp;
	int index;
	GMimeMessage *msg;
} rewrite_item;

static void replace_with_note(rewrite_state *st, const rewrite_item *it)
{
	GMimeTextPart *note = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(note, "[Bulwark removed MIME content here that it could not check: "
				  "nested too deeply, or an encoded attached message.]\n");
	if (it->mp) {
		GMimeObject *old = g_mime_multipart_replace(it->mp, it->index, GMIME_OBJECT(note));
		if (old)
			g_object_unref(old);
	} else {
		g_mime_message_set_mime_part(it->msg, GMIME_OBJECT(note));
	}
	g_object_unref(note);
	st->removed++;
}

/* A leaf of a type GMime parses as an attached message when it can. */
static bool unparsed_message(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	return ct && (g_mime_content_type_is_type(ct, "message", "rfc822") ||
		      g_mime_content_type_is_type(ct, "message", "news") ||
		      g_mime_content_type_is_type(ct, "message", "global"));
}

/* Like bw_mime_walk (iterative: hostile nesting cannot exhaust the stack),
 * but it knows each object's parent so that it can replace it. */
static void rewrite_tree(rewrite_state *st, GMimeMessage *msg)
{
	rewrite_item *stack = NULL;
	size_t n = 0, cap = 0;
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (!body)
		return;
	void *p = stack;
	bw_grow(&p, &cap, 1, sizeof *stack);
	stack = p;
	stack[n++] = (rewrite_item){.obj = body, .msg = msg};
	while (n) {
		rewrite_item it = stack[--n];
		if (it.depth > st->lim->max_mime_depth) {
			replace_with_note(st, &it);
		} else if (GMIME_IS_MULTIPART(it.obj)) {
			GMimeMultipart *mp = GMIME_MULTIPART(it.obj);
			int count = g_mime_multipart_get_count(mp);
			p = stack;
			bw_grow(&p, &cap, n + (size_t)(count > 0 ? count : 0), sizeof *stack);
			stack = p;
			for (int i = count - 1; i >= 0; i--)
				stack[n++] = (rewrite_item){.obj = g_mime_multipart_get_part(mp, i),
							    .depth = it.depth + 1, .mp = mp, .index = i};
		} else if (GMIME_IS_MESSAGE_PART(it.obj)) {
			GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(it.obj));
			GMimeObject *inner_body = inner ? g_mime_message_get_mime_part(inner) : NULL;
			if (inner_body) {
				p = stack;
				bw_grow(&p, &cap, n + 1, sizeof *stack);
				stack = p;
				stack[n++] = (rewrite_item){.obj = inner_body, .depth = it.depth + 1, .msg = inner};
			}
		} else if (GMIME_IS_PART(it.obj)) {
			if (unparsed_message(it.obj))
				replace_with_note(st, &it);
			else
				rewrite_leaf(GMIME_PART(it.obj), it.depth, st);
		}
	}
	free(stack);
}

static void summary(bw_buf *b, const bw_sanitize_stats *s)
{
	struct {
		unsigned n;
		const char *what;
	} items[] = {
		{s->images, "images"},         {s->backgrounds, "backgrounds"},
		{s->stylesheets, "stylesheets"}, {s->fonts, "fonts"},
		{s->frames, "frames"},         {s->media, "media"},
		{s->other, "other"},
	};
	bool any = false;
	for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
		if (!items[i].n)
			continue;
		bw_buf_printf(b, "%s%s=%u", any ? ", " : "removed ", items[i].what, items[i].n);
		any = true;
	}
	if (s->links_unwrapped)
		bw_buf_printf(b, "%slinks-unwrapped=%u", any ? "; " : "", s->links_unwrapped), any = true;
	if (!any)
		bw_buf_puts(b, "nothing remote found");
}

/* GMime keeps a header's raw value only up to a NUL byte, and a last header
 * may lack its line end: written out as is, such a header runs into the next
 * line and moves the header/body boundary, which can turn body text into
 * headers (found by fuzzing: a text part became an HTML part that loads a
 * stylesheet). Every raw value is made to end its line. */
static void terminate_headers(GMimeObject *obj)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(obj);
	int n = g_mime_header_list_get_count(list);
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *raw = g_mime_header_get_raw_value(h);
		size_t len = raw ? strlen(raw) : 0;
		if (raw && len && raw[len - 1] == '\n')
			continue;
		bw_buf b = {0};
		bw_buf_printf(&b, "%s\n", raw ? raw : " ");
		g_mime_header_set_raw_value(h, b.data);
		bw_buf_free(&b);
	}
}

static void terminate_part_headers(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	terminate_headers(part);
}

/* The message written out, NUL-terminated. It is taken from the stream's
 * buffer, not copied: for a large message a copy would be one more
 * message-sized allocation at the peak. (g_malloc is the system malloc since
 * GLib 2.46, so the caller's free() is the right deallocator.) */
static char *serialize(GMimeMessage *msg, size_t *len)
{
	GMimeStream *out = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, out);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	g_object_unref(out);
	*len = bytes->len;
	g_byte_array_append(bytes, (const guint8 *)"", 1);
	return (char *)g_byte_array_free(bytes, FALSE);
}

/* Would the scan list a resource that loads on open in data? The HTML
 * parts are read as bw_engine_scan reads them. */
static bool loads_on_open(const char *data, size_t len, const bw_limits *lim)
{
	bw_message m = {0};
	bw_mail_parse(&m, "sanitized", data, len, NULL, lim);
	bool loads = false;
	for (size_t i = 0; i < m.nparts && !loads; i++) {
		if (m.parts[i].kind != BW_PART_HTML)
			continue;
		size_t before = m.nresources;
		bw_html_extract(&m, (unsigned)i, lim);
		for (size_t r = before; r < m.nresources; r++)
			loads = loads || m.resources[r].on_open;
	}
	bw_message_free(&m);
	return loads;
}

/* The last resort: the body becomes a note, the headers stay. */
static void body_replaced(GMimeMessage *msg, const char *summary)
{
	GMimeTextPart *note = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(note, "[Bulwark removed the content of this message: its MIME structure "
				  "is malformed, and written out again it would still load remote content "
				  "when opened.]\n");
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(note));
	g_object_unref(note);
	bw_buf b = {0};
	bw_buf_printf(&b, "%s; body replaced (malformed structure that would still load remote content)", summary);
	g_mime_object_set_header(GMIME_OBJECT(msg), "X-Bulwark-Sanitized", b.data, NULL);
	bw_buf_free(&b);
}

char *bw_mail_sanitize(const char *data, size_t len, const bw_limits *lim,
		       bw_sanitize_stats *stats, size_t *out_len, char **error)
{
	bw_mail_init();
	memset(stats, 0, sizeof *stats);
	GMimeMessage *msg = NULL;
	if (bw_mime_is_bare_html(data, len)) {
		/* As the scan reads it: a message whose one part is this HTML,
		 * which the walk below then sanitizes like any other. */
		msg = g_mime_message_new(FALSE);
		GMimeTextPart *part = g_mime_text_part_new_with_subtype("html");
		char *text = g_utf8_make_valid(data, (gssize)len);
		/* g_utf8_make_valid already turns NUL into U+FFFD (g_utf8_validate
		 * rejects NUL within a length). */
		g_mime_text_part_set_text(part, text);
		g_free(text);
		g_mime_message_set_mime_part(msg, GMIME_OBJECT(part));
		g_object_unref(part);
	} else {
		GMimeParserOptions *opts = bw_mime_options();
		msg = bw_mime_construct(data, len, opts);
		g_mime_parser_options_free(opts);
	}
	size_t blank = 0;
	while (blank < len && (data[blank] == ' ' || data[blank] == '\t' || data[blank] == '\r' ||
			       data[blank] == '\n'))
		blank++;
	/* An empty input reveals nothing: it becomes an empty message that
	 * carries the header, so a pipeline always gets a message back. */
	if (!msg && blank == len)
		msg = g_mime_message_new(FALSE);
	if (!msg) {
		*error = bw_xstrdup("not an RFC 5322 message");
		return NULL;
	}
	/* Rewrite first, while every part has the type the scan gives it:
	 * changing a header's raw value makes GMime parse that header again,
	 * and when it is the first of two Content-Type fields (cut at a NUL,
	 * say) the part turns into application/octet-stream, so that its HTML
	 * went out unsanitized and loaded its images when scanned again
	 * (fuzz_sanitize found it). */
	rewrite_state st = {.lim = lim, .stats = stats};
	rewrite_tree(&st, msg);
	bw_strvec_free(&st.errors);
	terminate_headers(GMIME_OBJECT(msg));
	g_mime_message_foreach(msg, terminate_part_headers, NULL);

	bw_buf b = {0};
	summary(&b, stats);
	if (st.removed)
		bw_buf_printf(&b, "; unchecked-parts-removed=%u (nested deeper than max_mime_depth %u, "
			      "or encoded attached messages)", st.removed, lim->max_mime_depth);
	/* bw_mime_construct (parse.c) cuts a message whose structure would
	 * take GMime absurd time or memory, and records the offset + 1 and the
	 * reason under these keys. */
	gsize cut = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), "bw-structure-cut"));
	const char *why = g_object_get_data(G_OBJECT(msg), "bw-structure-cut-why");
	if (cut)
		bw_buf_printf(&b, "; truncated at byte %zu (%s)", (size_t)(cut - 1), why ? why : "limit");
	g_mime_object_set_header(GMIME_OBJECT(msg), "X-Bulwark-Sanitized", b.data, NULL);

	char *text = serialize(msg, out_len);
	if (loads_on_open(text, *out_len, lim)) {
		free(text);
		body_replaced(msg, b.data);
		text = serialize(msg, out_len);
		if (loads_on_open(text, *out_len, lim)) {
			free(text);
			text = NULL;
			*error = bw_xstrdup("the sanitized message still loads remote content");
		}
	}
	bw_buf_free(&b);
	g_object_unref(msg);
	return text;
}
