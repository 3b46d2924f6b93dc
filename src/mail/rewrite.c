/* Sanitizing a whole message: every HTML part, at any depth, is replaced by
 * a copy that fetches nothing remote (src/html/sanitize.c), and the message
 * is written out again with GMime. Parts that need no change keep their
 * bytes; a header says what was removed. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/mail.h"
#include "mail/mime.h"

typedef struct rewrite_state {
	const bw_limits *lim;
	bw_sanitize_stats *stats;
	bw_strvec errors;
} rewrite_state;

static bool stats_changed(const bw_sanitize_stats *a, const bw_sanitize_stats *b)
{
	return memcmp(a, b, sizeof *a) != 0;
}

static void rewrite_leaf(GMimePart *part, unsigned depth, void *arg)
{
	rewrite_state *st = arg;
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
	if (!ct || !g_mime_content_type_is_type(ct, "text", "html"))
		return;
	size_t len, utf8_len, out_len;
	bool cut;
	/* The whole part is sanitized whatever its size: leaving the tail of a
	 * long part untouched would leave its beacons live. */
	char *raw = bw_mime_decoded(part, SIZE_MAX, &len, &cut);
	char *html = bw_mime_text_utf8(part, raw, len, true, &utf8_len, &st->errors);
	free(raw);
	bw_sanitize_stats before = *st->stats;
	char *clean = bw_html_sanitize(html, utf8_len, st->lim, st->stats, &out_len);
	free(html);
	if (stats_changed(&before, st->stats) && GMIME_IS_TEXT_PART(part)) {
		g_mime_text_part_set_text(GMIME_TEXT_PART(part), clean);
		g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	}
	free(clean);
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

char *bw_mail_sanitize(const char *data, size_t len, const bw_limits *lim,
		       bw_sanitize_stats *stats, size_t *out_len, char **error)
{
	bw_mail_init();
	memset(stats, 0, sizeof *stats);
	GMimeParserOptions *opts = bw_mime_options();
	GMimeMessage *msg = bw_mime_construct(data, len, opts);
	g_mime_parser_options_free(opts);
	if (!msg) {
		*error = bw_xstrdup("not an RFC 5322 message");
		return NULL;
	}
	rewrite_state st = {.lim = lim, .stats = stats};
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	if (body)
		bw_mime_walk(body, UINT_MAX, rewrite_leaf, &st);
	bw_strvec_free(&st.errors);

	bw_buf b = {0};
	summary(&b, stats);
	g_mime_object_set_header(GMIME_OBJECT(msg), "X-Bulwark-Sanitized", b.data, NULL);
	bw_buf_free(&b);

	GMimeStream *out = g_mime_stream_mem_new();
	g_mime_object_write_to_stream(GMIME_OBJECT(msg), NULL, out);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	char *result = bw_xstrndup((const char *)bytes->data, bytes->len);
	*out_len = bytes->len;
	g_object_unref(out);
	g_object_unref(msg);
	return result;
}
