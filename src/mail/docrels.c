/* External relationships of Office Open XML documents: every .rels member
 * that archive extraction took out of a docx/xlsx/pptx is parsed, and each
 * Relationship with TargetMode="External" becomes a link of the message
 * (rel_type set, BW_LINK_IN_DOCUMENT), so that the link detectors and
 * intel matching see the URLs a document fetches or points to, as they do
 * the mail body's. What Word loads by itself on open (attachedTemplate,
 * frame, subDocument, oleObject: ATT&CK T1221) is judged in
 * src/detect/office.c.
 *
 * The XML is read with GLib's GMarkup (entities, character references,
 * attribute quoting), bounded in bytes and relationships. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/docrels.h"
#include "bulwark/url.h"

enum {
	MAX_RELS_BYTES = 1 << 20,
	MAX_RELS = 256,       /* external relationships kept per .rels member */
	MAX_TARGET = 4096,
	MAX_TYPE = 64,
};

typedef struct rels_state {
	bw_message *m;
	unsigned part;
	const bw_limits *lim;
	unsigned kept;
	bool limited; /* parsing was stopped by a limit, not by bad XML */
} rels_state;

static bool is_rels(const bw_part *p)
{
	size_t n = p->archive_path ? strlen(p->archive_path) : 0;
	return n > 5 && bw_ascii_iequal(p->archive_path + n - 5, ".rels");
}

/* The last segment of a relationship type URI: ".../relationships/attachedTemplate". */
static char *type_name(const char *type)
{
	const char *slash = strrchr(type, '/');
	const char *t = slash ? slash + 1 : type;
	return bw_xstrndup(t, strnlen(t, MAX_TYPE));
}

/* The target as a URL: a UNC path (\\host\share\file) is the file: URL
 * Windows fetches it by (over SMB); others as WHATWG serializes them, or as
 * written when they do not parse (detectors that parse links skip those). */
static char *target_url(const char *target)
{
	bw_buf in = {0};
	if ((target[0] == '\\' || target[0] == '/') && (target[1] == '\\' || target[1] == '/')) {
		bw_buf_puts(&in, "file:");
		for (const char *c = target; *c; c++)
			bw_buf_putc(&in, *c == '\\' ? '/' : *c);
	} else {
		bw_buf_puts(&in, target);
	}
	bw_url u;
	char *out;
	if (bw_url_parse(in.data, in.len, NULL, &u) == 0) {
		out = bw_xstrdup(u.href);
		bw_url_free(&u);
	} else {
		out = bw_xstrdup(target);
	}
	bw_buf_free(&in);
	return out;
}

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names, const char **values,
		     gpointer data, GError **error)
{
	rels_state *st = data;
	const char *colon = strrchr(element, ':'); /* a prefixed name: its namespace is not checked */
	if (strcmp(colon ? colon + 1 : element, "Relationship") != 0)
		return;
	const char *type = NULL, *target = NULL, *mode = NULL;
	for (size_t i = 0; names[i]; i++)
		if (strcmp(names[i], "Type") == 0)
			type = values[i];
		else if (strcmp(names[i], "Target") == 0)
			target = values[i];
		else if (strcmp(names[i], "TargetMode") == 0)
			mode = values[i];
	if (!type || !target || !*target || !mode || !bw_ascii_iequal(mode, "External"))
		return;
	bw_message *m = st->m;
	if (st->kept >= MAX_RELS || (st->lim->max_links && m->nlinks >= st->lim->max_links)) {
		g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
			    "more than %u external relationships or max_links (%u) links: the rest are not listed",
			    MAX_RELS, st->lim->max_links);
		st->limited = true;
		return;
	}
	st->kept++;
	char *t = bw_xstrndup(target, strnlen(target, MAX_TARGET));
	bw_link *l = bw_message_add_link(m);
	l->url = target_url(t);
	l->flags = BW_LINK_IN_DOCUMENT;
	l->part = st->part;
	l->rel_type = type_name(type);
	free(t);
}

void bw_docrels_extract(bw_message *m, unsigned part, const bw_limits *lim)
{
	const bw_part *p = &m->parts[part];
	if (p->kind != BW_PART_ATTACHMENT || !is_rels(p) || !p->len)
		return;
	/* .rels may be UTF-16 (with a BOM), which GMarkup does not read */
	char *conv = NULL;
	const char *xml = p->data;
	gsize len = p->len < MAX_RELS_BYTES ? p->len : MAX_RELS_BYTES;
	const unsigned char *u = (const unsigned char *)p->data;
	if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		gsize out = 0;
		conv = g_convert(p->data + 2, (gssize)(len - 2) & ~(gssize)1, "UTF-8", u[0] == 0xff ? "UTF-16LE" : "UTF-16BE",
				 NULL, &out, NULL);
		xml = conv;
		len = out;
	} else if (len >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
		xml += 3;
		len -= 3;
	}
	char *path = bw_xstrdup(p->archive_path); /* parts do not move here, links do */
	rels_state st = {.m = m, .part = part, .lim = lim};
	GMarkupParser parser = {.start_element = on_start};
	GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &st, NULL);
	GError *err = NULL;
	if (!xml) {
		bw_strvec_pushf(&m->errors, "parse: document relationships \"%s\": not UTF-16", path);
	} else if (!g_markup_parse_context_parse(ctx, xml, (gssize)len, &err) ||
		   !g_markup_parse_context_end_parse(ctx, &err)) {
		int line = 0, col = 0;
		g_markup_parse_context_get_position(ctx, &line, &col);
		bw_strvec_pushf(&m->errors, "%s: document relationships \"%s\" line %d column %d: %s",
				st.limited ? "limit" : "parse", path, line, col, err ? err->message : "malformed XML");
	}
	if (err)
		g_error_free(err);
	g_markup_parse_context_free(ctx);
	free(path);
	g_free(conv);
}
