/* What extract.c and sanitize.c share: a Gumbo parse that survives hostile
 * input, attribute and span helpers, and the single walk (bw_html_scan, in
 * extract.c) that finds every URL an HTML part makes a browser fetch.
 * Internal to src/html. */
#ifndef BULWARK_HTML_DOM_H
#define BULWARK_HTML_DOM_H

#include <stdbool.h>
#include <stddef.h>

#include <gumbo.h>

#include "bulwark/limits.h"
#include "bulwark/message.h"
#include "bulwark/util.h"

struct bw_arena;

typedef struct bw_html_doc {
	const char *html;        /* the caller's buffer: every position refers to it */
	size_t len;              /* bytes handed to Gumbo (limits may cut the input) */
	bool cut;                /* len is less than the input's length */
	size_t open_tag;         /* where a tag starts that the input ends inside
				    of (Gumbo and browsers drop it), or len */
	GumboOutput *out;
	struct bw_arena *arena;  /* owns all of out */
} bw_html_doc;

/* Parses html[0..len) with scripting disabled. Input over lim->max_html_bytes,
 * or nested deeper than lim->max_html_depth, is cut there (Gumbo's tree
 * building is quadratic in nesting depth) and a line goes to errors, which
 * may be NULL. Never fails. */
void bw_html_doc_parse(bw_html_doc *d, const char *html, size_t len,
		       const bw_limits *lim, bw_strvec *errors);
void bw_html_doc_free(bw_html_doc *d);

/* The HTML5 parser (parse.c): Gumbo's tree for html[0..len), scripting
 * disabled, every node from alloc(userdata, size), which never fails; the
 * tree is freed with the allocator's memory, never by gumbo_destroy_output. */
/* Stops after max_nodes nodes (0: no limit), at a token boundary, as if the
 * input ended there; *stopped gets that offset, or SIZE_MAX. */
GumboOutput *bw_html_parse(const char *html, size_t len, size_t max_nodes, size_t *stopped,
			   void *(*alloc)(void *, size_t), void *userdata);

/* Element name, lower-case (also for tags Gumbo does not know, e.g. SVG
 * feImage), written to buf. Returns buf. */
const char *bw_dom_tag(const GumboNode *el, char *buf, size_t size);
/* Attribute by name (Gumbo lower-cases HTML attribute names). xlink:href is
 * found as "href" with namespace GUMBO_ATTR_NAMESPACE_XLINK: ns picks which. */
GumboAttribute *bw_dom_attr(const GumboNode *el, const char *name);
GumboAttribute *bw_dom_attr_ns(const GumboNode *el, const char *name, GumboAttributeNamespaceEnum ns);
const char *bw_dom_attr_value(const GumboNode *el, const char *name); /* or NULL */

/* Byte spans in the document of an attribute: the whole `name="value"`, and
 * its value with quotes (when the attribute has a value). False when Gumbo
 * made the attribute up (no bytes in the input). */
bool bw_dom_attr_span(const bw_html_doc *d, const GumboAttribute *a, size_t *start, size_t *end);
bool bw_dom_value_span(const bw_html_doc *d, const GumboAttribute *a, size_t *start, size_t *end);
/* Where a->value starts in the document, when its bytes are exactly the
 * decoded value (no character references or newline normalization), so that
 * offsets into the value map to the document by adding one number. */
bool bw_dom_value_verbatim(const bw_html_doc *d, const GumboAttribute *a, size_t *start);

/* The attributes as written in a start tag, duplicates included (Gumbo keeps
 * the first; Chromium's preload scanner may use a later one). h[*pos..len)
 * is the tag after its name. Gives the span of the next attribute (name and
 * value) and where its name ends; false at the end of the tag. */
bool bw_dom_next_attr(const char *h, size_t len, size_t *pos, size_t *start, size_t *name_end,
		      size_t *end);

/* Appends s[0..n) with & < > " escaped, for attribute values and foreign text. */
void bw_dom_escape(bw_buf *b, const char *s, size_t n);

/* ---- the walk (extract.c) ---- */

/* Counters of bw_sanitize_stats, by index. */
typedef enum bw_html_stat {
	BW_STAT_IMAGES,
	BW_STAT_BACKGROUNDS,
	BW_STAT_STYLESHEETS,
	BW_STAT_FONTS,
	BW_STAT_FRAMES,
	BW_STAT_MEDIA,
	BW_STAT_OTHER,
	BW_STAT_LINKS_UNWRAPPED,
	BW_STAT_NONE          /* counted elsewhere (a duplicate attribute) */
} bw_html_stat;

/* Replace document bytes [start, end) with text. */
typedef struct bw_html_edit {
	size_t start, end;
	char *text;
	bw_html_stat stat;
} bw_html_edit;

typedef struct bw_html_edits {
	bw_html_edit *v;
	size_t n, cap;
} bw_html_edits;

/* Walks d once. When m is non-NULL, appends the remote resources and links
 * of part number `part` to m (within lim's counts, errors to m->errors).
 * When edits is non-NULL, appends the edits that make the part fetch
 * nothing remote (unordered, possibly overlapping). */
void bw_html_scan(const bw_html_doc *d, bw_message *m, unsigned part,
		  const bw_limits *lim, bw_html_edits *edits);
void bw_html_edits_free(bw_html_edits *e);

#endif
