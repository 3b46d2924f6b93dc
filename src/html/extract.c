/* Everything an HTML part makes a browser fetch, and every link in it: the
 * one walk over the Gumbo tree (bw_html_scan) that both the report
 * (bw_html_extract) and the sanitizer (sanitize.c) use.
 *
 * What is fetched merely by displaying the part, as Chromium does with
 * scripting disabled (measured with chromium-headless-shell 156; "shown"
 * means no display:none on the element or an ancestor, incl. hidden=):
 *
 *   construct                             element               on_open
 *   img src                               img                   yes, even hidden or loading=lazy;
 *                                                               no when a 1x/w srcset candidate or an
 *                                                               unconditional <picture> source replaces it
 *   img srcset, picture > source srcset   img-srcset            yes (candidates: one is picked)
 *   input type=image src                  input-image           yes, even hidden
 *   svg image/feImage/use href            svg-image             yes, even hidden (href wins over xlink:href)
 *   iframe src / frame src                iframe / frame        yes, even hidden or lazy
 *   video poster                          video-poster          yes
 *   video/audio src, their source src     media                 yes, unless preload=none without autoplay
 *   track src                             track                 yes
 *   object data / embed src               object / embed        when shown (no plugin load when hidden)
 *   background= on body table thead tbody tfoot tr td th
 *                                         background-attribute  when shown and no CSS background
 *                                                               (background/background-image, even
 *                                                               "none") overrides it; other elements
 *                                                               never load it
 *   style="" url()                        css-background/-other when shown (visibility:hidden and
 *                                                               zero size still load)
 *   <style> rule url()                    css-background/-other when its selector matches a shown
 *                                                               element, on some common screen
 *   <style> @import                       css-import            yes, whatever its media (unless
 *                                                               misplaced: css.c's media_ok)
 *   <style> @font-face src                font                  when its family is named in the CSS
 *                                                               and its unicode-range meets the shown
 *                                                               text (all weights: a superset)
 *   link rel=stylesheet (also alternate)  link-stylesheet       unless disabled or type is not text/css
 *   link rel=preload                      link-preload          when as= is given
 *   link rel=prefetch / modulepreload     link-prefetch/...     yes
 *   link rel=icon, apple-touch-icon,      link-icon, ...        no (not loaded by the renderer)
 *     manifest, dns-prefetch, preconnect
 *   meta http-equiv=refresh               meta-refresh          yes (a navigation)
 *   any of these with user@ in the URL    (as above)            no: Chromium blocks credentials
 *                                                               in subresource URLs
 *   script src, template content, a ping  -                     never (scripting off, inert)
 *
 * Where Chromium's choice varies with the content (which srcset candidate,
 * which video source, whether a font is used) the answer errs to "yes".
 * <noscript> content is markup (Gumbo parses it so; scripting is off). */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/html.h"
#include "bulwark/url.h"
#include "html/css.h"
#include "html/dom.h"

enum { LINK_TEXT_MAX = 2048 };

/* The last compound selector of one selector in a list, reduced to one thing
 * an element must have for the selector to match: an id, a class or a tag.
 * Checked before bw_css_selector_matches, which parses the selector. */
typedef struct sel_key {
	char kind; /* '#', '.' or 't' */
	const char *s;
	size_t n;
} sel_key;

typedef struct sheet {
	bw_css_sheet css;
	const char *text;     /* the CSS parsed */
	size_t len;
	bool verbatim;        /* text is the document bytes at off */
	size_t off;
	size_t start, end;    /* document span of the CSS */
	char *owned;          /* text, when not verbatim (foreign <style>) */
	bool media_ok;        /* media= could apply on a screen */
	bool media_always;    /* media= applies on every common screen */
	size_t full_len;      /* len before the max_css_bytes cut */
} sheet;

typedef struct rule_ref {
	const bw_css_rule *rule;
	sel_key *keys;        /* any of them: NULL/0 means no prefilter */
	size_t nkeys;
	bool box_matters;     /* it hides, sizes or sets a background */
	bool want_match;      /* it has url()s whose loading depends on a match */
	bool matched;         /* selector matched a shown element */
	unsigned flags;       /* of the most visible such element */
	int width, height;
} rule_ref;

typedef struct frame {
	const GumboNode *node;
	unsigned next;        /* next child to visit */
	bool shown;           /* no display:none here or above: CSS and background= load */
	bool hidden;          /* not visible for any reason */
	bool zero_font;
	bool owns_link;       /* the link collecting text is this element's */
} frame;

typedef struct scan {
	const bw_html_doc *d;
	bw_message *m;        /* report, or NULL */
	unsigned part;
	const bw_limits *lim;
	bw_html_edits *ed;    /* sanitize, or NULL */
	bw_url base;
	bool has_base;
	bw_url probe;         /* any http page's URL: shows scheme-relative URLs */
	sheet *sheets;
	size_t nsheets, capsheets;
	rule_ref *rules;
	size_t nrules, caprules;
	bool res_full, links_full;
	long text_link;       /* m->links index collecting text, or -1 */
	bw_buf text;
	bool text_seen, text_unseen; /* the link's text has words a reader sees / does not see */
	bool break_pending;   /* a word break came while no link collected text */
	bool fonts;           /* the sheets have @font-face rules */
	bw_buf font_use;      /* CSS that may name a font family, @font-face blocks left out */
	unsigned char *chars; /* bitmap of the BMP code points of shown text */
	bool astral;          /* shown text has code points above U+FFFF */
	bool any_text;
	struct style_memo *styles; /* boxes of style attributes without url()s, see inline_style */
	size_t nstyles, capstyles;     /* capstyles: 0 or a power of two */
	bool css_cut_reported;
} scan;

/* Where a URL leads: nowhere remote, remote (listed), or remote once the
 * part is shown on an http(s) page (scheme-relative "//host/x": sanitize
 * neutralizes those too, the report does not list them). */
enum { URL_LOCAL, URL_REMOTE, URL_REMOTE_IF_HOSTED };

static int resolve(scan *sc, const char *s, size_t n, bw_url *u)
{
	if (bw_url_parse(s, n, sc->has_base ? &sc->base : NULL, u) == 0) {
		if (bw_url_is_remote(u))
			return URL_REMOTE;
		bw_url_free(u);
		return URL_LOCAL;
	}
	if (!sc->ed || sc->has_base)
		return URL_LOCAL;
	int r = URL_LOCAL;
	if (bw_url_parse(s, n, &sc->probe, u) == 0) {
		if (bw_url_is_remote(u) && u->host && strcmp(u->host, sc->probe.host) != 0)
			r = URL_REMOTE_IF_HOSTED;
		bw_url_free(u);
	}
	return r;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool has_userinfo(const bw_url *u)
{
	return (u->username && *u->username) || (u->password && *u->password);
}

/* ---- output ---- */

static void push_edit(bw_html_edits *e, size_t start, size_t end, char *text, bw_html_stat stat)
{
	void *p = e->v;
	bw_grow(&p, &e->cap, e->n + 1, sizeof *e->v);
	e->v = p;
	e->v[e->n++] = (bw_html_edit){start, end, text, stat};
}

/* Takes u (frees it). */
static void add_resource(scan *sc, bw_url *u, const char *element, bool on_open,
			 unsigned flags, int width, int height, size_t start, size_t end)
{
	if (sc->m && !sc->res_full && sc->lim->max_resources &&
	    sc->m->nresources >= sc->lim->max_resources) {
		sc->res_full = true;
		bw_strvec_pushf(&sc->m->errors, "more than max_resources (%u) remote resources: the rest are not listed",
				sc->lim->max_resources);
	}
	if (sc->m && !sc->res_full) {
		bw_resource *r = bw_message_add_resource(sc->m);
		r->url = u->href;
		u->href = NULL;
		/* the request: a browser never sends the fragment */
		char *hash = strchr(r->url, '#');
		if (hash)
			*hash = 0;
		r->element = element;
		r->on_open = on_open && !has_userinfo(u);
		r->flags = flags;
		r->width = width;
		r->height = height;
		r->part = sc->part;
		r->span_start = start;
		r->span_end = end;
	}
	bw_url_free(u);
}

/* Sanitize: the attribute keeps its name with an empty value, which loads
 * nothing, so that a duplicate later in the tag or a second <body> tag
 * cannot take its place; every copy in the element's tag goes the same way. */
static void neutralize_attr(scan *sc, const GumboNode *el, const GumboAttribute *a, bw_html_stat stat)
{
	size_t s, e;
	if (!sc->ed || !bw_dom_attr_span(sc->d, a, &s, &e))
		return;
	char name[40];
	size_t n = a->original_name.length < sizeof name - 1 ? a->original_name.length : sizeof name - 1;
	for (size_t i = 0; i < n; i++) {
		char c = a->original_name.data[i];
		name[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	name[n] = 0;
	bw_buf b = {0};
	bw_buf_printf(&b, "%s=\"\" data-bulwark-removed=\"%s\"", name, name);
	char *text = bw_buf_steal(&b);
	push_edit(sc->ed, s, e, bw_xstrdup(text), stat);

	const GumboStringPiece *tag = &el->v.element.original_tag;
	const char *h = sc->d->html;
	if (tag->data < h || tag->data + tag->length > h + sc->d->len) {
		free(text);
		return;
	}
	size_t base = (size_t)(tag->data - h), pos = 1, as, ne, ae;
	while (pos < tag->length && !is_ws(tag->data[pos]) && tag->data[pos] != '/' && tag->data[pos] != '>')
		pos++;
	while (bw_dom_next_attr(tag->data, tag->length, &pos, &as, &ne, &ae))
		if (base + as != s && ne - as == a->original_name.length &&
		    !strncasecmp(tag->data + as, a->original_name.data, ne - as))
			push_edit(sc->ed, base + as, base + ae, bw_xstrdup(text), BW_STAT_NONE);
	free(text);
}

/* Element state the resources of one element share. */
typedef struct el_info {
	const GumboNode *el;
	const frame *f;
	int width, height;    /* CSS px or attribute, -1 unknown */
	unsigned flags;       /* BW_RES_HIDDEN, BW_RES_TINY */
} el_info;

/* A URL-valued attribute: one resource, neutralized as a whole. */
static void url_attr(scan *sc, const el_info *ei, const GumboAttribute *a, const char *element,
		     bool on_open, bw_html_stat stat)
{
	if (!a)
		return;
	bw_url u;
	int r = resolve(sc, a->value, strlen(a->value), &u);
	if (r == URL_LOCAL)
		return;
	neutralize_attr(sc, ei->el, a, stat);
	if (r == URL_REMOTE) {
		size_t s = 0, e = 0;
		bw_dom_attr_span(sc->d, a, &s, &e);
		add_resource(sc, &u, element, on_open, ei->flags, ei->width, ei->height, s, e);
	}
}

/* A srcset candidate's descriptors ("2x", "640w", ""): -1 when invalid (the
 * browser drops the candidate), 1 when it is a 1x or a width candidate,
 * either of which keeps an <img>'s src out of the set, else 0. */
static int srcset_descriptors(const char *d, const char *end)
{
	int kind = 1;
	while (d < end) {
		while (d < end && is_ws(*d))
			d++;
		const char *t = d;
		while (d < end && !is_ws(*d))
			d++;
		if (d == t)
			break;
		char *num_end;
		double v = strtod(t, &num_end);
		char unit = num_end + 1 == d ? (char)(*num_end | 32) : 0;
		if (unit == 'x')
			kind = v == 1.0 && kind ? 1 : 0;
		else if (unit != 'w' && unit != 'h')
			return -1;
	}
	return kind;
}

/* srcset: every candidate URL (HTML's "parse a srcset attribute"). Returns
 * whether the img's own src stops being a candidate. */
static bool srcset_attr(scan *sc, const el_info *ei, const GumboAttribute *a)
{
	if (!a)
		return false;
	bool replaces = false;
	const char *p = a->value;
	bool neutralize = false;
	size_t s = 0, e = 0;
	bw_dom_attr_span(sc->d, a, &s, &e);
	for (;;) {
		while (is_ws(*p) || *p == ',')
			p++;
		if (!*p)
			break;
		const char *u0 = p;
		while (*p && !is_ws(*p))
			p++;
		const char *u1 = p;
		bool descriptors = true;
		while (u1 > u0 && u1[-1] == ',') {
			u1--;
			descriptors = false;
		}
		const char *d = p;
		if (descriptors) {
			int paren = 0;
			for (; *p && (paren || *p != ','); p++)
				paren += *p == '(' ? 1 : *p == ')' && paren ? -1 : 0;
		}
		int kind = srcset_descriptors(d, p);
		replaces |= kind == 1;
		bw_url u;
		int r = resolve(sc, u0, (size_t)(u1 - u0), &u);
		if (r != URL_LOCAL)
			neutralize = true;
		if (r == URL_REMOTE && kind < 0)
			bw_url_free(&u);
		else if (r == URL_REMOTE)
			add_resource(sc, &u, "img-srcset", true, ei->flags | BW_RES_CANDIDATE,
				     ei->width, ei->height, s, e);
	}
	if (neutralize)
		neutralize_attr(sc, ei->el, a, BW_STAT_IMAGES);
	return replaces;
}

/* In a <picture>, a <source> before the img that always applies (no media,
 * a type every browser shows) wins: the img's src is never loaded. */
static bool picture_source_wins(const GumboNode *img)
{
	static const char *const types[] = {"image/jpeg", "image/png", "image/gif", "image/webp",
					    "image/avif", "image/svg+xml", "image/apng", NULL};
	const GumboNode *pic = img->parent;
	char tag[16];
	if (!pic || pic->type != GUMBO_NODE_ELEMENT || strcmp(bw_dom_tag(pic, tag, sizeof tag), "picture"))
		return false;
	const GumboVector *kids = &pic->v.element.children;
	for (unsigned i = 0; i < kids->length && kids->data[i] != img; i++) {
		const GumboNode *k = kids->data[i];
		if (k->type != GUMBO_NODE_ELEMENT || k->v.element.tag != GUMBO_TAG_SOURCE)
			continue;
		const char *srcset = bw_dom_attr_value(k, "srcset"), *media = bw_dom_attr_value(k, "media");
		const char *type = bw_dom_attr_value(k, "type");
		bool type_ok = !type || !*type;
		for (size_t t = 0; !type_ok && types[t]; t++)
			type_ok = bw_ascii_iequal(type, types[t]);
		while (srcset && is_ws(*srcset))
			srcset++;
		if (srcset && *srcset && (!media || !*media) && type_ok)
			return true;
	}
	return false;
}

/* The URL of a refresh declaration ("5; url='x'"), as HTML's shared
 * declarative refresh steps find it; NULL when it only reloads. */
static const char *refresh_url(const char *c, size_t *n)
{
	while (is_ws(*c))
		c++;
	const char *t = c;
	while ((*c >= '0' && *c <= '9') || *c == '.')
		c++;
	if (c == t || !*c || (!is_ws(*c) && *c != ';' && *c != ','))
		return NULL;
	while (is_ws(*c))
		c++;
	if (*c == ';' || *c == ',')
		c++;
	while (is_ws(*c))
		c++;
	if ((c[0] | 32) == 'u' && (c[1] | 32) == 'r' && (c[2] | 32) == 'l') {
		const char *q = c + 3;
		while (is_ws(*q))
			q++;
		if (*q == '=') {
			q++;
			while (is_ws(*q))
				q++;
			c = q;
		}
	}
	if (*c == '"' || *c == '\'') {
		const char *end = strchr(c + 1, *c);
		*n = end ? (size_t)(end - c - 1) : strlen(c + 1);
		return c + 1;
	}
	*n = strlen(c);
	return *n ? c : NULL;
}

/* ---- CSS ---- */

/* A CSS text being scanned: an inline style or a sheet. */
typedef struct css_src {
	const char *text;
	size_t len;
	bool verbatim;        /* text is the document bytes at off */
	size_t off;
	size_t start, end;    /* document span that holds the CSS */
	bool attribute;       /* a style="" value (with its quotes in start..end) */
	bw_html_edits local;  /* edits relative to text */
} css_src;

static const char *ref_element(bw_css_ref_kind k, bw_html_stat *stat)
{
	switch (k) {
	case BW_CSS_REF_IMPORT: *stat = BW_STAT_STYLESHEETS; return "css-import";
	case BW_CSS_REF_FONT: *stat = BW_STAT_FONTS; return "font";
	case BW_CSS_REF_BACKGROUND: *stat = BW_STAT_BACKGROUNDS; return "css-background";
	default: *stat = BW_STAT_OTHER; return "css-other";
	}
}

/* The whole "@import ...;" around an import's URL token, or false. */
static bool import_rule(const css_src *c, const bw_css_ref *r, size_t *s, size_t *e)
{
	size_t a = r->start;
	while (a > 0 && is_ws(c->text[a - 1]))
		a--;
	if (a < 7 || !bw_ascii_istartswith(c->text + a - 7, "@import"))
		return false;
	for (size_t i = r->end; i < c->len; i++) {
		char ch = c->text[i];
		if (ch == '{' || ch == '}')
			return false;
		if (ch == ';') {
			*s = a - 7;
			*e = i + 1;
			return true;
		}
	}
	*s = a - 7;
	*e = c->len;
	return true;
}

static void css_ref(scan *sc, css_src *c, const bw_css_ref *r, bool on_open, unsigned flags,
		    int width, int height)
{
	bw_url u;
	int res = resolve(sc, r->url, strlen(r->url), &u);
	if (res == URL_LOCAL)
		return;
	bw_html_stat stat;
	const char *element = ref_element(r->kind, &stat);
	if (sc->ed) {
		size_t s = r->start, e = r->end;
		bool drop = r->kind == BW_CSS_REF_IMPORT && import_rule(c, r, &s, &e);
		push_edit(&c->local, s, e, bw_xstrdup(drop ? "" : "none"), stat);
	}
	if (res == URL_REMOTE) {
		size_t s = c->start, e = c->end;
		if (c->verbatim) {
			s = c->off + r->start;
			e = c->off + r->end;
		}
		add_resource(sc, &u, element, on_open, flags, width, height, s, e);
	}
}

static int cmp_edit(const void *a, const void *b)
{
	const bw_html_edit *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* Moves a CSS text's edits to the document: one by one where the text is the
 * document's bytes, else as one rewrite of the whole span, re-escaped. */
static void css_flush(scan *sc, css_src *c)
{
	bw_html_edits *l = &c->local;
	if (!sc->ed || !l->n) {
		bw_html_edits_free(l);
		return;
	}
	qsort(l->v, l->n, sizeof *l->v, cmp_edit);
	if (c->verbatim) {
		for (size_t i = 0; i < l->n; i++) {
			push_edit(sc->ed, c->off + l->v[i].start, c->off + l->v[i].end, l->v[i].text, l->v[i].stat);
			l->v[i].text = NULL;
		}
	} else {
		bw_buf css = {0}, out = {0};
		size_t at = 0;
		for (size_t i = 0; i < l->n; i++) {
			if (l->v[i].start < at)
				continue;
			bw_buf_append(&css, c->text + at, l->v[i].start - at);
			bw_buf_puts(&css, l->v[i].text);
			at = l->v[i].end;
		}
		bw_buf_append(&css, c->text + at, c->len - at);
		if (c->attribute)
			bw_buf_putc(&out, '"');
		bw_dom_escape(&out, css.data, css.len);
		if (c->attribute)
			bw_buf_putc(&out, '"');
		push_edit(sc->ed, c->start, c->end, bw_buf_steal(&out), l->v[0].stat);
		bw_buf_free(&css);
	}
	bw_html_edits_free(l);
}

static bool ident_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c >= 0x80;
}

/* Fills r->keys from its selector list; leaves none (match everything) when
 * the list has anything this reading cannot vouch for. */
static void rule_keys(rule_ref *r)
{
	const char *sel = r->rule->selector;
	if (!sel || strpbrk(sel, "()\\|"))
		return;
	size_t n = 1;
	for (const char *p = sel; *p; p++)
		n += *p == ',';
	sel_key *keys = bw_xcalloc(n, sizeof *keys);
	size_t nk = 0;
	const char *p = sel;
	for (;;) {
		const char *end = p + strcspn(p, ",");
		const char *e = end;
		while (e > p && is_ws(e[-1]))
			e--;
		/* start of the last compound: after the last combinator outside [] */
		const char *c = p;
		int br = 0;
		for (const char *q = p; q < e; q++) {
			if (*q == '[')
				br++;
			else if (*q == ']' && br)
				br--;
			else if (!br && (is_ws(*q) || *q == '>' || *q == '+' || *q == '~'))
				c = q + 1;
		}
		sel_key k = {0};
		for (const char *q = c; q < e && !k.kind; q++) {
			if (*q == '[') {
				q = memchr(q, ']', (size_t)(e - q));
				if (!q)
					break;
			} else if ((*q == '#' || *q == '.') && q + 1 < e && ident_char((unsigned char)q[1])) {
				const char *s = q + 1, *t = s;
				while (t < e && ident_char((unsigned char)*t))
					t++;
				k = (sel_key){*q, s, (size_t)(t - s)};
			} else if (*q == ':') {
				break;
			}
		}
		if (!k.kind && c < e && ident_char((unsigned char)*c) && !(*c >= '0' && *c <= '9')) {
			const char *t = c;
			while (t < e && ident_char((unsigned char)*t))
				t++;
			k = (sel_key){'t', c, (size_t)(t - c)};
		}
		if (!k.kind) {
			free(keys);
			return;
		}
		keys[nk++] = k;
		if (!*end)
			break;
		p = end + 1;
	}
	r->keys = keys;
	r->nkeys = nk;
}

static bool word_in(const char *list, const char *w, size_t n)
{
	if (!list)
		return false;
	for (const char *p = list; *p;) {
		while (is_ws(*p))
			p++;
		const char *s = p;
		while (*p && !is_ws(*p))
			p++;
		if ((size_t)(p - s) == n && !strncasecmp(s, w, n))
			return true;
	}
	return false;
}

/* Could r match el? (ids and classes compared without case: most mail has
 * no doctype, and quirks mode matches them so.) */
static bool rule_may_match(const rule_ref *r, const char *tag, const char *id, const char *cls)
{
	if (!r->nkeys)
		return true;
	for (size_t i = 0; i < r->nkeys; i++) {
		const sel_key *k = &r->keys[i];
		if (k->kind == '#' ? id && strlen(id) == k->n && !strncasecmp(id, k->s, k->n)
		    : k->kind == '.' ? word_in(cls, k->s, k->n)
		    : strlen(tag) == k->n && !strncasecmp(tag, k->s, k->n))
			return true;
	}
	return false;
}

static bool box_matters(const bw_css_box *b)
{
	return b->display_none || b->visibility_hidden || b->opacity_zero || b->offscreen ||
	       b->width_px >= 0 || b->height_px >= 0 || b->sets_background_image || b->zero_font_size;
}

/* ---- fonts ----
 * Chromium loads a @font-face only for shown text that uses its family and
 * has a character in its unicode-range; Google Fonts style sheets declare
 * dozens of faces of which a mail uses a few. A face counts as used when its
 * family is named anywhere in the part's CSS outside @font-face rules (or in
 * <font face>) and its range meets the shown text (weights are not matched:
 * a superset). */

/* The "@font-face {...}" block around pos in css, or false. */
static bool font_face_block(const char *css, size_t len, size_t pos, size_t *s, size_t *e)
{
	size_t a = pos;
	while (a > 0 && css[a - 1] != '{' && css[a - 1] != '}')
		a--;
	if (!a || css[a - 1] != '{')
		return false;
	size_t k = a - 1;
	while (k > 0 && is_ws(css[k - 1]))
		k--;
	if (k < 10 || strncasecmp(css + k - 10, "@font-face", 10))
		return false;
	*s = k - 10;
	const char *close = memchr(css + pos, '}', len - pos);
	*e = close ? (size_t)(close - css) + 1 : len;
	return true;
}

/* Appends css to font_use, @font-face blocks blanked. */
static void font_use_add(scan *sc, const char *css, size_t len)
{
	size_t at = 0;
	for (const char *p = css; (p = bw_ascii_strcasestr(p, "@font-face")) && (size_t)(p - css) < len; p++) {
		size_t s = (size_t)(p - css);
		const char *open = memchr(p, '{', len - s);
		if (!open)
			break;
		size_t e, bs;
		if (!font_face_block(css, len, (size_t)(open - css) + 1, &bs, &e) || bs != s)
			continue;
		bw_buf_append(&sc->font_use, css + at, s - at);
		at = e;
		p = css + e - 1;
	}
	if (at < len)
		bw_buf_append(&sc->font_use, css + at, len - at);
	bw_buf_putc(&sc->font_use, '\n');
}

static void note_chars(scan *sc, const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p;) {
		unsigned cp = *p++, extra = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
		if (extra)
			cp &= 0x3f >> extra;
		for (; extra && (*p & 0xc0) == 0x80; extra--)
			cp = cp << 6 | (*p++ & 0x3f);
		if (cp > 0xffff)
			sc->astral = true;
		else if (cp > ' ')
			sc->chars[cp >> 3] |= (unsigned char)(1u << (cp & 7));
		sc->any_text |= cp > ' ';
	}
}

/* Does the descriptor value "U+0000-00FF, U+0131, U+4??" meet the text? A
 * value that does not parse is ignored, as CSS ignores invalid descriptors:
 * the face then covers everything. */
static bool range_used(const scan *sc, const char *r, size_t n)
{
	bool hit = false;
	for (size_t i = 0; i < n;) {
		while (i < n && (is_ws(r[i]) || r[i] == ','))
			i++;
		if (i == n)
			break;
		if (i + 2 >= n || (r[i] | 32) != 'u' || r[i + 1] != '+')
			return sc->any_text;
		unsigned long a = 0, b = 0;
		size_t j = i + 2, digits = 0;
		for (; j < n && digits < 6 && (isxdigit((unsigned char)r[j]) || r[j] == '?'); j++, digits++) {
			unsigned v = r[j] == '?' ? 0 : (unsigned)(isdigit((unsigned char)r[j]) ? r[j] - '0' : (r[j] | 32) - 'a' + 10);
			a = a << 4 | v;
			b = b << 4 | (r[j] == '?' ? 15 : v);
		}
		if (!digits)
			return sc->any_text;
		if (j < n && r[j] == '-') {
			b = 0;
			for (j++; j < n && isxdigit((unsigned char)r[j]); j++)
				b = b << 4 | (unsigned)(isdigit((unsigned char)r[j]) ? r[j] - '0' : (r[j] | 32) - 'a' + 10);
		}
		if (b > 0xffff && sc->astral)
			hit = true;
		for (unsigned long cp = a; !hit && cp <= b && cp <= 0xffff; cp++)
			hit = sc->chars[cp >> 3] & (1u << (cp & 7));
		i = j;
		while (i < n && r[i] != ',') {
			if (!is_ws(r[i]))
				return sc->any_text;
			i++;
		}
	}
	return hit;
}

/* The value of descriptor name in a @font-face block, or NULL. */
static const char *descriptor(const char *css, size_t s, size_t e, const char *name, size_t *n)
{
	size_t nl = strlen(name);
	for (size_t i = s; i + nl < e; i++) {
		if (strncasecmp(css + i, name, nl) || (i > s && css[i - 1] != '{' && css[i - 1] != ';' && !is_ws(css[i - 1])))
			continue;
		size_t j = i + nl;
		while (j < e && is_ws(css[j]))
			j++;
		if (j >= e || css[j] != ':')
			continue;
		j++;
		while (j < e && is_ws(css[j]))
			j++;
		size_t k = j;
		while (k < e && css[k] != ';' && css[k] != '}')
			k++;
		*n = k - j;
		return css + j;
	}
	return NULL;
}

/* Is name one of the families of a font-family or font declaration in css?
 * One pass: a name counts where the last of ':', ';', '{' and '}' before it
 * is the colon of a font or font-family property. The text is every style
 * that mentions fonts and may be large; searching back from each match, as
 * this did, was quadratic, and an empty name made it loop forever
 * (fuzz_html: a NUL at the start of a font-family value). */
static bool family_named(const char *css, const char *name)
{
	size_t n = strlen(name);
	if (!n)
		return false;
	bool in_font_value = false;
	for (const char *p = css; *p; p++) {
		if (*p == ';' || *p == '{' || *p == '}') {
			in_font_value = false;
		} else if (*p == ':') {
			const char *pe = p;
			while (pe > css && is_ws(pe[-1]))
				pe--;
			size_t k = 0;
			while (pe - k > css && ident_char((unsigned char)pe[-1 - (long)k]))
				k++;
			in_font_value = (k == 11 && !strncasecmp(pe - 11, "font-family", 11)) ||
					(k == 4 && !strncasecmp(pe - 4, "font", 4));
		} else if (in_font_value && !strncasecmp(p, name, n) &&
			   (p == css || !ident_char((unsigned char)p[-1])) && !ident_char((unsigned char)p[n])) {
			return true;
		}
	}
	return false;
}

static bool font_used(const scan *sc, const css_src *c, const bw_css_ref *r)
{
	size_t s, e, n;
	if (!sc->chars || !font_face_block(c->text, c->len, r->start, &s, &e))
		return true;
	const char *fam = descriptor(c->text, s, e, "font-family", &n);
	if (fam) {
		char name[128];
		while (n && (*fam == '"' || *fam == '\'' || is_ws(*fam))) {
			fam++;
			n--;
		}
		while (n && (fam[n - 1] == '"' || fam[n - 1] == '\'' || is_ws(fam[n - 1])))
			n--;
		if (n && n < sizeof name) {
			memcpy(name, fam, n);
			name[n] = 0;
			if (!sc->font_use.data || !family_named(sc->font_use.data, name))
				return false;
		}
	}
	const char *range = descriptor(c->text, s, e, "unicode-range", &n);
	return range ? range_used(sc, range, n) : sc->any_text;
}


/* How much of a style sheet or attribute is read: at most max_css_bytes,
 * cut on a UTF-8 character boundary. The CSS past the cut is parsed by no
 * one, so sanitize leaves it out (tail_edit): a browser then reads the same
 * prefix, ended where ours ended. */
static size_t css_cut(scan *sc, const char *css, size_t len, const char *what)
{
	size_t max = sc->lim->max_css_bytes;
	if (!max || len <= max)
		return len;
	size_t k = max;
	while (k > 0 && ((unsigned char)css[k] & 0xC0) == 0x80)
		k--;
	if (sc->m && !sc->css_cut_reported) {
		sc->css_cut_reported = true;
		bw_strvec_pushf(&sc->m->errors, "limit: %s of %zu bytes in HTML part %u: only the first %zu "
				"were read (max_css_bytes)", what, len, sc->part, k);
	}
	return k;
}

static void tail_edit(scan *sc, css_src *c, size_t read)
{
	if (sc->ed && read < c->len)
		push_edit(&c->local, read, c->len, bw_xstrdup(""), BW_STAT_OTHER);
}

static void add_sheet(scan *sc, const GumboNode *style)
{
	const GumboVector *kids = &style->v.element.children;
	const GumboText *first = NULL, *last = NULL;
	for (unsigned i = 0; i < kids->length; i++) {
		const GumboNode *k = kids->data[i];
		if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE || k->type == GUMBO_NODE_CDATA) {
			if (!first)
				first = &k->v.text;
			last = &k->v.text;
		}
	}
	const char *h = sc->d->html;
	if (!first || !first->original_text.data || !last->original_text.data ||
	    first->original_text.data < h ||
	    last->original_text.data + last->original_text.length > h + sc->d->len ||
	    last->original_text.data < first->original_text.data)
		return;
	void *p = sc->sheets;
	bw_grow(&p, &sc->capsheets, sc->nsheets + 1, sizeof *sc->sheets);
	sc->sheets = p;
	sheet *s = &sc->sheets[sc->nsheets++];
	memset(s, 0, sizeof *s);
	s->start = (size_t)(first->original_text.data - h);
	s->end = (size_t)(last->original_text.data + last->original_text.length - h);
	const char *media = bw_dom_attr_value(style, "media");
	s->media_ok = !media || bw_css_media_ok(media, strlen(media));
	s->media_always = !media || bw_css_media_always(media, strlen(media));
	if (style->v.element.tag_namespace == GUMBO_NAMESPACE_HTML) {
		/* raw text: the document's bytes are the CSS */
		s->verbatim = true;
		s->off = s->start;
		s->text = h + s->start;
		s->len = s->end - s->start;
	} else {
		/* foreign (SVG) <style>: markup, so references are decoded */
		bw_buf b = {0};
		for (unsigned i = 0; i < kids->length; i++) {
			const GumboNode *k = kids->data[i];
			if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE || k->type == GUMBO_NODE_CDATA)
				bw_buf_puts(&b, k->v.text.text);
		}
		s->len = b.len;
		s->owned = bw_buf_steal(&b);
		s->text = s->owned;
		s->verbatim = s->len == s->end - s->start && !memcmp(s->text, h + s->start, s->len);
		s->off = s->start;
	}
	s->full_len = s->len;
	s->len = css_cut(sc, s->text, s->len, "a <style> sheet");
	bw_css_parse_sheet(s->text, s->len, &s->css);
}

/* Before the walk: <style> sheets (they apply to elements before them too)
 * and the first <base href>. Template content is inert and skipped. */
static void prepass(scan *sc)
{
	const GumboNode **stack = NULL;
	size_t n = 0, cap = 0;
	void *p = stack;
	bw_grow(&p, &cap, 1, sizeof *stack);
	stack = p;
	stack[n++] = sc->d->out->document;
	bool base_seen = false;
	while (n) {
		const GumboNode *node = stack[--n];
		const GumboVector *kids;
		if (node->type == GUMBO_NODE_DOCUMENT) {
			kids = &node->v.document.children;
		} else if (node->type == GUMBO_NODE_ELEMENT) {
			const GumboElement *e = &node->v.element;
			if (e->tag == GUMBO_TAG_STYLE) {
				add_sheet(sc, node);
				continue;
			}
			if (e->tag == GUMBO_TAG_BASE && e->tag_namespace == GUMBO_NAMESPACE_HTML && !base_seen) {
				const char *href = bw_dom_attr_value(node, "href");
				if (href) {
					base_seen = true;
					sc->has_base = bw_url_parse(href, strlen(href), NULL, &sc->base) == 0;
				}
			}
			kids = &e->children;
		} else {
			continue;
		}
		p = stack;
		bw_grow(&p, &cap, n + kids->length, sizeof *stack);
		stack = p;
		/* reversed, so that nodes come off in document order */
		for (unsigned i = kids->length; i-- > 0;)
			stack[n++] = kids->data[i];
	}
	free(stack);

	for (size_t i = 0; i < sc->nsheets; i++) {
		const bw_css_sheet *css = &sc->sheets[i].css;
		for (size_t j = 0; j < css->nrules; j++) {
			const bw_css_rule *rule = &css->rules[j];
			/* A conditional rule may hide or override on one screen
			 * and not another: only unconditional ones count, so
			 * what loads on any screen is still listed. */
			bool matters = rule->media_always && sc->sheets[i].media_always &&
				       box_matters(&rule->box);
			bool refs = false;
			for (size_t k = 0; k < rule->refs.n; k++)
				refs |= rule->refs.v[k].kind == BW_CSS_REF_BACKGROUND ||
					rule->refs.v[k].kind == BW_CSS_REF_OTHER;
			if (!matters && !refs)
				continue;
			p = sc->rules;
			bw_grow(&p, &sc->caprules, sc->nrules + 1, sizeof *sc->rules);
			sc->rules = p;
			rule_ref *r = &sc->rules[sc->nrules++];
			memset(r, 0, sizeof *r);
			r->rule = rule;
			r->box_matters = matters;
			r->want_match = refs && rule->media_ok && sc->sheets[i].media_ok;
			rule_keys(r);
		}
		for (size_t k = 0; k < css->at_refs.n; k++)
			sc->fonts |= css->at_refs.v[k].kind == BW_CSS_REF_FONT;
	}
	if (sc->fonts && sc->m) {
		sc->chars = bw_xcalloc(0x10000 / 8, 1);
		for (size_t i = 0; i < sc->nsheets; i++)
			font_use_add(sc, sc->sheets[i].text, sc->sheets[i].len);
	}
}

/* After the walk: the sheets' references, now that matches are known. */
static void sheet_refs(scan *sc)
{
	size_t ri = 0;
	for (size_t i = 0; i < sc->nsheets; i++) {
		sheet *s = &sc->sheets[i];
		css_src c = {.text = s->text, .len = s->full_len, .verbatim = s->verbatim, .off = s->off,
			     .start = s->start, .end = s->end};
		tail_edit(sc, &c, s->len);
		for (size_t k = 0; k < s->css.at_refs.n; k++) {
			const bw_css_ref *ref = &s->css.at_refs.v[k];
			bool on_open = ref->media_ok && (ref->kind != BW_CSS_REF_FONT || font_used(sc, &c, ref));
			css_ref(sc, &c, ref, on_open, 0, -1, -1);
		}
		for (size_t j = 0; j < s->css.nrules; j++) {
			const bw_css_rule *rule = &s->css.rules[j];
			const rule_ref *r = ri < sc->nrules && sc->rules[ri].rule == rule ? &sc->rules[ri++] : NULL;
			for (size_t k = 0; k < rule->refs.n; k++) {
				const bw_css_ref *ref = &rule->refs.v[k];
				bool on_open = r && r->matched && ref->media_ok;
				css_ref(sc, &c, ref, on_open, r && r->matched ? r->flags : 0,
					r && r->matched ? r->width : -1, r && r->matched ? r->height : -1);
			}
		}
		css_flush(sc, &c);
	}
}

/* ---- links ---- */

/* The text shows a URL: it starts with a scheme or "www.", or its first word
 * is a domain name and the text is short ("Kaufland.de Kundenkonto", an
 * image's alt written twice): a domain at the head of a sentence-long text
 * is prose, not an address shown in place of the link. */
static bool text_is_url(const char *t)
{
	if (bw_ascii_istartswith(t, "http://") || bw_ascii_istartswith(t, "https://") ||
	    bw_ascii_istartswith(t, "www."))
		return true;
	size_t words = 1;
	for (const char *q = strchr(t, ' '); q; q = strchr(q + 1, ' '))
		words++;
	if (words > 3)
		return false;
	/* a domain name (labels, dots, a TLD of two or more letters), then maybe a path */
	size_t labels = 0, len = 0;
	bool alpha = true;
	const char *p = t;
	for (;; p++) {
		unsigned char c = (unsigned char)*p;
		if (!c || c == '/' || c == '.' || c == ' ') {
			if (!len)
				return false;
			labels++;
			if (c != '.')
				break;
			len = 0;
			alpha = true;
		} else if ((ident_char(c) && c != '_')) {
			len++;
			alpha &= (c | 32) >= 'a' && (c | 32) <= 'z';
		} else {
			return false;
		}
	}
	return labels >= 2 && alpha && len >= 2;
}

/* U+00A0 (&nbsp;) separates words as a space does: "&nbsp;https://..." */
static size_t nbsp_at(const bw_buf *b, size_t i)
{
	return i + 1 < b->len && (unsigned char)b->data[i] == 0xC2 && (unsigned char)b->data[i + 1] == 0xA0 ? 2 : 0;
}

static void link_text_finish(scan *sc)
{
	if (sc->text_link < 0)
		return;
	bw_link *l = &sc->m->links[sc->text_link];
	/* collapse white space */
	bw_buf t = {0};
	bool space = false;
	for (size_t i = 0; i < sc->text.len; i++) {
		char c = sc->text.data[i];
		size_t nb = nbsp_at(&sc->text, i);
		if (is_ws(c) || nb) {
			space = t.len > 0;
			i += nb ? nb - 1 : 0;
			continue;
		}
		if (space)
			bw_buf_putc(&t, ' ');
		space = false;
		bw_buf_putc(&t, c);
	}
	l->text = bw_buf_steal(&t);
	if (text_is_url(l->text))
		l->flags |= BW_LINK_TEXT_IS_URL;
	if (sc->text_unseen && !sc->text_seen)
		l->flags |= BW_LINK_ZERO_SIZE_TEXT;
	bw_buf_reset(&sc->text);
	sc->text_link = -1;
	sc->break_pending = false;
}

/* Text nodes join as the reader sees them: "verification.<span>metamask.io</span>"
 * is one word; elements that are not inline (blocks, line breaks, images
 * whose alt stands in) separate words (link_text_break). */
static void link_text(scan *sc, const char *s, bool unseen)
{
	if (sc->text_link >= 0 && sc->text.len < LINK_TEXT_MAX) {
		size_t n = strlen(s);
		bw_buf_append(&sc->text, s, n < LINK_TEXT_MAX ? n : LINK_TEXT_MAX);
		if (s[strspn(s, " \t\r\n\f")]) {
			sc->text_unseen |= unseen;
			sc->text_seen |= !unseen;
		}
	}
}

static void link_text_break(scan *sc)
{
	if (sc->text_link < 0)
		sc->break_pending = true;
	else if (sc->text.len && sc->text.len < LINK_TEXT_MAX)
		bw_buf_putc(&sc->text, ' ');
}

/* phrasing elements a browser lays out inline without a break; unknown
 * elements (a misspelt "</spa>" leaves one open) are inline too */
static bool inline_tag(GumboTag t)
{
	switch (t) {
	case GUMBO_TAG_A: case GUMBO_TAG_ABBR: case GUMBO_TAG_B: case GUMBO_TAG_BDI: case GUMBO_TAG_BDO:
	case GUMBO_TAG_BIG: case GUMBO_TAG_CITE: case GUMBO_TAG_CODE: case GUMBO_TAG_DATA: case GUMBO_TAG_DEL:
	case GUMBO_TAG_DFN: case GUMBO_TAG_EM: case GUMBO_TAG_FONT: case GUMBO_TAG_I: case GUMBO_TAG_INS:
	case GUMBO_TAG_KBD: case GUMBO_TAG_LABEL: case GUMBO_TAG_MARK: case GUMBO_TAG_NOBR: case GUMBO_TAG_Q:
	case GUMBO_TAG_S: case GUMBO_TAG_SAMP: case GUMBO_TAG_SMALL: case GUMBO_TAG_SPAN: case GUMBO_TAG_STRIKE:
	case GUMBO_TAG_STRONG: case GUMBO_TAG_SUB: case GUMBO_TAG_SUP: case GUMBO_TAG_TIME: case GUMBO_TAG_TT:
	case GUMBO_TAG_U: case GUMBO_TAG_VAR: case GUMBO_TAG_WBR: case GUMBO_TAG_UNKNOWN:
		return true;
	default:
		return false;
	}
}

/* href="easilett.com/cl/415" with no <base>: relative, so it resolves to
 * nothing, but mail clients and webmail open it as http://easilett.com/...
 * (and phishers write it so). Taken as such when it starts with a host
 * under a public suffix followed by a path, or with "www.": "page.html" or
 * "file.zip" alone stay relative. */
static bool schemeless_web_link(const char *v, bw_url *u)
{
	size_t hl = strcspn(v, "/?#");
	if (hl == 0 || hl > 253 || (v[hl] != '/' && !bw_ascii_istartswith(v, "www.")) || memchr(v, ':', hl) ||
	    memchr(v, '@', hl) || !memchr(v, '.', hl))
		return false;
	char *host = bw_xstrndup(v, hl);
	bool known = bw_host_has_known_suffix(host);
	free(host);
	if (!known)
		return false;
	bw_buf b = {0};
	bw_buf_puts(&b, "http://");
	bw_buf_puts(&b, v);
	int r = bw_url_parse(b.data, b.len, NULL, u);
	bw_buf_free(&b);
	return r == 0;
}

/* Misnested markup ("<a>https://www.<span>brand</spa>.net</a>" inside other
 * formatting) makes the HTML parser close the <a> and reopen a clone of it:
 * two elements, one link on screen. A clone of the last link (its href is
 * the same span of the source) continues its text; an <a> written in the
 * source is a link of its own, even to the same URL. */
static bool continues_last_link(scan *sc, const GumboNode *el, size_t span_start, size_t span_end)
{
	bw_message *m = sc->m;
	if (!m->nlinks || span_end <= span_start ||
	    !(el->parse_flags & (GUMBO_INSERTION_RECONSTRUCTED_FORMATTING_ELEMENT | GUMBO_INSERTION_ADOPTION_AGENCY_CLONED)))
		return false;
	bw_link *last = &m->links[m->nlinks - 1];
	if (last->part != sc->part || last->span_start != span_start || last->span_end != span_end)
		return false;
	if (sc->text_link != (long)(m->nlinks - 1)) {
		link_text_finish(sc);
		bw_buf_reset(&sc->text);
		bw_buf_puts(&sc->text, last->text ? last->text : "");
		free(last->text);
		last->text = NULL;
		last->flags &= ~(unsigned)(BW_LINK_TEXT_IS_URL | BW_LINK_ZERO_SIZE_TEXT);
		sc->text_link = (long)(m->nlinks - 1);
		/* the clone opened in a new block: "Offer</p><p>more" is two words */
		if (sc->break_pending)
			link_text_break(sc);
	}
	return true;
}

/* The href's authority as written (entities decoded): URL parsing maps
 * zero-width characters in a host to nothing, so only here can one see that
 * "pay&#8203;pal.com" was made to be read as something else. */
static unsigned host_hidden_chars(const char *v)
{
	const char *sep = strstr(v, "//");
	if (!sep)
		return 0;
	size_t n = strcspn(sep + 2, "/?#\\");
	bool bidi = false;
	if (!bw_invisible_or_bidi(sep + 2, n, &bidi))
		return 0;
	return bidi ? BW_LINK_HOST_BIDI : BW_LINK_HOST_INVISIBLE;
}

/* Gumbo normalizes \r\n: a stray \r elsewhere would count as text. */
static void link(scan *sc, const frame *f, const GumboAttribute *a)
{
	const char *v = a->value;
	while (is_ws(*v))
		v++;
	if (!*v || *v == '#')
		return;
	bw_url u;
	if (bw_url_parse(v, strlen(v), sc->has_base ? &sc->base : NULL, &u) != 0 && !schemeless_web_link(v, &u))
		return;
	char *dest = bw_url_unwrap(&u);
	size_t vs = 0, ve = 0;
	bool span = bw_dom_value_span(sc->d, a, &vs, &ve);
	if (sc->ed && span) {
		/* a wrapper's destination, or (the <base> goes) the absolute URL */
		const char *to = dest;
		bw_url rel;
		if (!to && sc->has_base) {
			if (bw_url_parse(v, strlen(v), NULL, &rel) == 0)
				bw_url_free(&rel);
			else
				to = u.href;
		}
		if (to) {
			bw_buf b = {0};
			bw_buf_putc(&b, '"');
			bw_dom_escape(&b, to, strlen(to));
			bw_buf_putc(&b, '"');
			push_edit(sc->ed, vs, ve, bw_buf_steal(&b), dest ? BW_STAT_LINKS_UNWRAPPED : BW_STAT_OTHER);
		}
	}
	if (sc->m && !sc->links_full && sc->lim->max_links && sc->m->nlinks >= sc->lim->max_links) {
		sc->links_full = true;
		bw_strvec_pushf(&sc->m->errors, "more than max_links (%u) links: the rest are not listed",
				sc->lim->max_links);
	}
	/* without the quotes */
	if (span && ve - vs >= 2 && (sc->d->html[vs] == '"' || sc->d->html[vs] == '\'')) {
		vs++;
		ve--;
	}
	if (sc->m && !sc->links_full && continues_last_link(sc, f->node, span ? vs : 0, span ? ve : 0)) {
		free(dest);
		bw_url_free(&u);
		return;
	}
	if (sc->m && !sc->links_full) {
		link_text_finish(sc);
		sc->text_seen = sc->text_unseen = false;
		bw_link *l = bw_message_add_link(sc->m);
		l->url = u.href;
		u.href = NULL;
		l->unwrapped = dest;
		dest = NULL;
		l->part = sc->part;
		l->flags |= host_hidden_chars(v);
		if (span) {
			l->span_start = vs;
			l->span_end = ve;
		}
		sc->text_link = (long)(l - sc->m->links);
	}
	free(dest);
	bw_url_free(&u);
}

/* ---- elements ---- */

static int dim_attr(const GumboNode *el, const char *name)
{
	const char *v = bw_dom_attr_value(el, name);
	if (!v)
		return -1;
	while (is_ws(*v))
		v++;
	if (*v < '0' || *v > '9')
		return -1;
	long n = 0;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n < 100000 ? n * 10 + (*v - '0') : n;
	while (*v == '.' || (*v >= '0' && *v <= '9'))
		v++;
	return *v == '%' ? -1 : (int)n;
}

static bool preload_none(const GumboNode *media)
{
	const char *p = bw_dom_attr_value(media, "preload");
	return p && bw_ascii_iequal(p, "none") && !bw_dom_attr(media, "autoplay");
}

static const GumboNode *parent_el(const GumboNode *n)
{
	const GumboNode *p = n->parent;
	return p && p->type == GUMBO_NODE_ELEMENT ? p : NULL;
}

/* <link>: the fetching relation its rel names, with Chromium's behaviour. */
static void link_el(scan *sc, const el_info *ei, const GumboNode *el)
{
	static const struct {
		const char *rel, *element;
		bool on_open;
		bw_html_stat stat;
	} rels[] = {
		{"stylesheet", "link-stylesheet", true, BW_STAT_STYLESHEETS},
		{"preload", "link-preload", true, BW_STAT_OTHER},
		{"modulepreload", "link-modulepreload", true, BW_STAT_OTHER},
		{"prefetch", "link-prefetch", true, BW_STAT_OTHER},
		{"icon", "link-icon", false, BW_STAT_OTHER},
		{"apple-touch-icon", "link-apple-touch-icon", false, BW_STAT_OTHER},
		{"apple-touch-icon-precomposed", "link-apple-touch-icon", false, BW_STAT_OTHER},
		{"mask-icon", "link-icon", false, BW_STAT_OTHER},
		{"manifest", "link-manifest", false, BW_STAT_OTHER},
		{"dns-prefetch", "link-dns-prefetch", false, BW_STAT_OTHER},
		{"preconnect", "link-preconnect", false, BW_STAT_OTHER},
	};
	GumboAttribute *href = bw_dom_attr(el, "href");
	if (!href)
		return;
	const char *rel = bw_dom_attr_value(el, "rel");
	for (size_t i = 0; rel && i < sizeof rels / sizeof *rels; i++) {
		if (!word_in(rel, rels[i].rel, strlen(rels[i].rel)))
			continue;
		bool on_open = rels[i].on_open;
		if (i == 0) {
			const char *type = bw_dom_attr_value(el, "type");
			on_open = !bw_dom_attr(el, "disabled") && (!type || !*type || bw_ascii_iequal(type, "text/css"));
		} else if (i == 1) {
			const char *as = bw_dom_attr_value(el, "as");
			on_open = as && *as;
		}
		url_attr(sc, ei, href, rels[i].element, on_open, rels[i].stat);
		return;
	}
	/* other relations load nothing, but a page may not know them all */
	bw_url u;
	if (sc->ed && resolve(sc, href->value, strlen(href->value), &u) != URL_LOCAL) {
		neutralize_attr(sc, el, href, BW_STAT_OTHER);
		bw_url_free(&u);
	}
}

static void meta_el(scan *sc, const el_info *ei, const GumboNode *el)
{
	const char *equiv = bw_dom_attr_value(el, "http-equiv");
	GumboAttribute *content = bw_dom_attr(el, "content");
	if (!equiv || !content || !bw_ascii_iequal(equiv, "refresh"))
		return;
	size_t n;
	const char *url = refresh_url(content->value, &n);
	bw_url u;
	int r = url ? resolve(sc, url, n, &u) : URL_LOCAL;
	if (r == URL_LOCAL)
		return;
	neutralize_attr(sc, el, content, BW_STAT_OTHER);
	if (r == URL_REMOTE) {
		size_t s = 0, e = 0;
		bw_dom_attr_span(sc->d, content, &s, &e);
		add_resource(sc, &u, "meta-refresh", true, ei->flags, -1, -1, s, e);
	}
}

/* SVG href wins over xlink:href; sanitize removes both. */
static const GumboAttribute *svg_href(const GumboNode *el, GumboAttribute **other)
{
	GumboAttribute *h = bw_dom_attr(el, "href");
	GumboAttribute *x = bw_dom_attr_ns(el, "href", GUMBO_ATTR_NAMESPACE_XLINK);
	*other = h ? x : NULL;
	return h ? h : x;
}

static void element_urls(scan *sc, const el_info *ei, const GumboNode *el, const bw_css_box *box)
{
	const GumboElement *e = &el->v.element;
	const frame *f = ei->f;
	if (e->tag_namespace == GUMBO_NAMESPACE_SVG) {
		char tag[16];
		bw_dom_tag(el, tag, sizeof tag);
		GumboAttribute *other;
		const GumboAttribute *h = svg_href(el, &other);
		if (!strcmp(tag, "image") || !strcmp(tag, "feimage") || !strcmp(tag, "use")) {
			url_attr(sc, ei, h, "svg-image", true, BW_STAT_IMAGES);
			url_attr(sc, ei, other, "svg-image", false, BW_STAT_IMAGES);
		} else if (!strcmp(tag, "a") && h) {
			link(sc, f, h);
		}
		return;
	}
	if (e->tag_namespace != GUMBO_NAMESPACE_HTML)
		return;
	const GumboNode *parent = parent_el(el);
	switch (e->tag) {
	case GUMBO_TAG_IMG: {
		bool srcset = srcset_attr(sc, ei, bw_dom_attr(el, "srcset"));
		url_attr(sc, ei, bw_dom_attr(el, "src"), "img", !srcset && !picture_source_wins(el),
			 BW_STAT_IMAGES);
		if (sc->text_link >= 0 && f->shown) {
			const char *alt = bw_dom_attr_value(el, "alt");
			if (alt) {
				/* the image stands for its alt; its size is not the font's */
				link_text(sc, alt, f->hidden);
				link_text_break(sc);
			}
		}
		break;
	}
	case GUMBO_TAG_SOURCE:
		if (parent && (parent->v.element.tag == GUMBO_TAG_VIDEO || parent->v.element.tag == GUMBO_TAG_AUDIO))
			url_attr(sc, ei, bw_dom_attr(el, "src"), "media", !preload_none(parent), BW_STAT_MEDIA);
		srcset_attr(sc, ei, bw_dom_attr(el, "srcset"));
		break;
	case GUMBO_TAG_INPUT: {
		const char *type = bw_dom_attr_value(el, "type");
		if (type && bw_ascii_iequal(type, "image"))
			url_attr(sc, ei, bw_dom_attr(el, "src"), "input-image", true, BW_STAT_IMAGES);
		if (bw_dom_attr(el, "formaction"))
			link(sc, f, bw_dom_attr(el, "formaction"));
		break;
	}
	case GUMBO_TAG_IFRAME:
		url_attr(sc, ei, bw_dom_attr(el, "src"), "iframe", true, BW_STAT_FRAMES);
		/* srcdoc is a whole document this walk does not enter */
		if (bw_dom_attr(el, "srcdoc"))
			neutralize_attr(sc, el, bw_dom_attr(el, "srcdoc"), BW_STAT_FRAMES);
		break;
	case GUMBO_TAG_FRAME:
		url_attr(sc, ei, bw_dom_attr(el, "src"), "frame", true, BW_STAT_FRAMES);
		break;
	case GUMBO_TAG_VIDEO:
		url_attr(sc, ei, bw_dom_attr(el, "poster"), "video-poster", true, BW_STAT_MEDIA);
		url_attr(sc, ei, bw_dom_attr(el, "src"), "media", !preload_none(el), BW_STAT_MEDIA);
		break;
	case GUMBO_TAG_AUDIO:
		url_attr(sc, ei, bw_dom_attr(el, "src"), "media", !preload_none(el), BW_STAT_MEDIA);
		break;
	case GUMBO_TAG_TRACK:
		url_attr(sc, ei, bw_dom_attr(el, "src"), "track", true, BW_STAT_MEDIA);
		break;
	case GUMBO_TAG_OBJECT:
		url_attr(sc, ei, bw_dom_attr(el, "data"), "object", f->shown, BW_STAT_FRAMES);
		break;
	case GUMBO_TAG_EMBED:
		url_attr(sc, ei, bw_dom_attr(el, "src"), "embed", f->shown, BW_STAT_FRAMES);
		break;
	case GUMBO_TAG_LINK:
		link_el(sc, ei, el);
		break;
	case GUMBO_TAG_META:
		meta_el(sc, ei, el);
		break;
	case GUMBO_TAG_SCRIPT: {
		/* not run here (scripting is off), but the copy may be shown elsewhere */
		GumboAttribute *src = bw_dom_attr(el, "src");
		bw_url u;
		if (sc->ed && src && resolve(sc, src->value, strlen(src->value), &u) != URL_LOCAL) {
			neutralize_attr(sc, el, src, BW_STAT_OTHER);
			bw_url_free(&u);
		}
		break;
	}
	case GUMBO_TAG_BASE:
		/* sanitize rewrites relative links as absolute, so <base> can go */
		if (sc->ed && sc->has_base && bw_dom_attr(el, "href"))
			neutralize_attr(sc, el, bw_dom_attr(el, "href"), BW_STAT_OTHER);
		break;
	case GUMBO_TAG_BODY:
	case GUMBO_TAG_TABLE:
	case GUMBO_TAG_THEAD:
	case GUMBO_TAG_TBODY:
	case GUMBO_TAG_TFOOT:
	case GUMBO_TAG_TR:
	case GUMBO_TAG_TD:
	case GUMBO_TAG_TH:
		url_attr(sc, ei, bw_dom_attr(el, "background"), "background-attribute",
			 f->shown && !box->sets_background_image, BW_STAT_BACKGROUNDS);
		break;
	case GUMBO_TAG_A:
	case GUMBO_TAG_AREA:
		if (bw_dom_attr(el, "href"))
			link(sc, f, bw_dom_attr(el, "href"));
		break;
	/* where a form sends what the reader types (a credential form in the
	 * mail itself) is a link too: javascript:, data: or an IP there are
	 * the same deception */
	case GUMBO_TAG_FORM:
		if (bw_dom_attr(el, "action"))
			link(sc, f, bw_dom_attr(el, "action"));
		break;
	case GUMBO_TAG_BUTTON:
		if (bw_dom_attr(el, "formaction"))
			link(sc, f, bw_dom_attr(el, "formaction"));
		break;
	default:
		break;
	}
}

/* The box of a style attribute. Mail repeats one style on many elements
 * (every cell of a table), so the box of a style without url()s is parsed
 * once per part; the text is the attribute value in the parsed document,
 * which outlives the scan. */
typedef struct style_memo {
	const char *css; /* NULL: free slot */
	size_t len;
	uint64_t hash;
	bw_css_box box;
} style_memo;

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/* The slot of css in the open-addressing table: its entry or a free one. */
static style_memo *style_slot(style_memo *t, size_t cap, const char *css, size_t len, uint64_t h)
{
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!t[i].css || (t[i].hash == h && t[i].len == len && memcmp(t[i].css, css, len) == 0))
			return &t[i];
}

static void inline_style(scan *sc, const char *css, size_t len, bw_css_box *box, bw_css_refs *refs)
{
	uint64_t h = fnv1a(css, len);
	style_memo *slot = sc->capstyles ? style_slot(sc->styles, sc->capstyles, css, len, h) : NULL;
	if (slot && slot->css) {
		*box = slot->box;
		return;
	}
	bw_css_parse_inline(css, len, box, refs);
	if (refs->n)
		return;
	if (2 * (sc->nstyles + 1) > sc->capstyles) {
		size_t cap = sc->capstyles ? 2 * sc->capstyles : 64;
		style_memo *t = bw_xcalloc(cap, sizeof *t);
		for (size_t i = 0; i < sc->capstyles; i++)
			if (sc->styles[i].css)
				*style_slot(t, cap, sc->styles[i].css, sc->styles[i].len, sc->styles[i].hash) = sc->styles[i];
		free(sc->styles);
		sc->styles = t;
		sc->capstyles = cap;
	}
	*style_slot(sc->styles, sc->capstyles, css, len, h) = (style_memo){css, len, h, *box};
	sc->nstyles++;
}

/* A CSS length in whole pixels. CSS allows any number ("width:1e300px"):
 * converting one beyond int to int is undefined behaviour (fuzz_html found
 * it), and every such size is simply huge. */
static int css_px_to_int(double px)
{
	return px >= INT_MAX ? INT_MAX : (int)(px + 0.5);
}

/* Entering an element: its style, its state, its URLs. */
static void enter(scan *sc, frame *f, const frame *up)
{
	const GumboNode *el = f->node;
	const GumboElement *e = &el->v.element;
	bool html = e->tag_namespace == GUMBO_NAMESPACE_HTML;
	char tag[32];
	bw_dom_tag(el, tag, sizeof tag);
	const char *id = bw_dom_attr_value(el, "id"), *cls = bw_dom_attr_value(el, "class");

	bw_css_box box;
	bw_css_box_init(&box);
	for (size_t i = 0; i < sc->nrules; i++) {
		rule_ref *r = &sc->rules[i];
		if (r->box_matters && rule_may_match(r, tag, id, cls) &&
		    bw_css_selector_matches(r->rule->selector, el))
			bw_css_box_merge(&box, &r->rule->box);
	}
	GumboAttribute *style = bw_dom_attr(el, "style");
	size_t style_len = style ? css_cut(sc, style->value, strlen(style->value), "a style attribute") : 0;
	bw_css_refs irefs = {0};
	if (sc->chars) {
		const char *face = html && e->tag == GUMBO_TAG_FONT ? bw_dom_attr_value(el, "face") : NULL;
		if (face) {
			bw_buf_puts(&sc->font_use, "font-family:");
			font_use_add(sc, face, strlen(face));
		}
		if (style && bw_ascii_strcasestr(style->value, "font"))
			font_use_add(sc, style->value, style_len);
	}
	if (style) {
		bw_css_box ibox;
		inline_style(sc, style->value, style_len, &ibox, &irefs);
		bw_css_box_merge(&box, &ibox);
	}

	el_info ei = {el, f, dim_attr(el, "width"), dim_attr(el, "height"), 0};
	if (box.width_px >= 0)
		ei.width = css_px_to_int(box.width_px);
	if (box.height_px >= 0)
		ei.height = css_px_to_int(box.height_px);
	f->shown = up->shown && !box.display_none && !(html && bw_dom_attr(el, "hidden"));
	f->hidden = up->hidden || !f->shown || box.visibility_hidden || box.opacity_zero ||
		    box.offscreen || ei.width == 0 || ei.height == 0;
	f->zero_font = box.zero_font_size || (up->zero_font && !box.font_size_absolute);
	if (f->hidden)
		ei.flags |= BW_RES_HIDDEN;
	if ((ei.width >= 0 || ei.height >= 0) && ei.width <= 2 && ei.height <= 2)
		ei.flags |= BW_RES_TINY;

	element_urls(sc, &ei, el, &box);

	if (style) {
		size_t at = 0;
		css_src c = {.text = style->value, .len = strlen(style->value), .attribute = true};
		c.verbatim = bw_dom_value_verbatim(sc->d, style, &at);
		c.off = at;
		if (!c.verbatim && !bw_dom_value_span(sc->d, style, &c.start, &c.end))
			c.start = c.end = 0;
		tail_edit(sc, &c, style_len);
		for (size_t i = 0; i < irefs.n; i++)
			css_ref(sc, &c, &irefs.v[i], f->shown && irefs.v[i].media_ok, ei.flags, ei.width, ei.height);
		css_flush(sc, &c);
		bw_css_refs_free(&irefs);
	}

	/* <style> rules with url()s load when they match a shown element */
	if (f->shown) {
		for (size_t i = 0; i < sc->nrules; i++) {
			rule_ref *r = &sc->rules[i];
			if (!r->want_match || (r->matched && !(r->flags & BW_RES_HIDDEN)) ||
			    !rule_may_match(r, tag, id, cls) || !bw_css_selector_matches(r->rule->selector, el))
				continue;
			r->matched = true;
			r->flags = ei.flags;
			r->width = ei.width;
			r->height = ei.height;
		}
	}
}

void bw_html_scan(const bw_html_doc *d, bw_message *m, unsigned part,
		  const bw_limits *lim, bw_html_edits *edits)
{
	bw_limits deflim;
	if (!lim) {
		bw_limits_default(&deflim);
		lim = &deflim;
	}
	scan sc = {.d = d, .m = m, .part = part, .lim = lim, .ed = edits, .text_link = -1};
	static const char probe[] = "https://bulwark.invalid/";
	if (edits)
		bw_url_parse(probe, sizeof probe - 1, NULL, &sc.probe);
	prepass(&sc);

	frame *stack = NULL;
	size_t n = 0, cap = 0;
	void *p = stack;
	bw_grow(&p, &cap, 2, sizeof *stack);
	stack = p;
	stack[n++] = (frame){.node = d->out->document, .shown = true};
	while (n) {
		frame *f = &stack[n - 1];
		const GumboVector *kids = f->node->type == GUMBO_NODE_DOCUMENT ? &f->node->v.document.children
									      : &f->node->v.element.children;
		if (f->next >= kids->length) {
			if (f->owns_link)
				link_text_finish(&sc);
			else if (f->node->type == GUMBO_NODE_ELEMENT && !inline_tag(f->node->v.element.tag))
				link_text_break(&sc);
			n--;
			continue;
		}
		const GumboNode *k = kids->data[f->next++];
		if (k->type == GUMBO_NODE_TEXT || k->type == GUMBO_NODE_WHITESPACE || k->type == GUMBO_NODE_CDATA) {
			if (sc.text_link >= 0 && f->shown)
				link_text(&sc, k->v.text.text, f->hidden || f->zero_font);
			if (sc.chars && f->shown)
				note_chars(&sc, k->v.text.text);
			continue;
		}
		/* template content is inert; script/style text is not shown */
		if (k->type != GUMBO_NODE_ELEMENT)
			continue;
		p = stack;
		bw_grow(&p, &cap, n + 1, sizeof *stack);
		stack = p;
		f = &stack[n - 1];
		frame *c = &stack[n++];
		*c = (frame){.node = k};
		long link_before = sc.text_link;
		if (!inline_tag(k->v.element.tag))
			link_text_break(&sc);
		enter(&sc, c, f);
		c->owns_link = sc.text_link >= 0 && sc.text_link != link_before;
		GumboTag t = k->v.element.tag;
		if (t == GUMBO_TAG_SCRIPT || t == GUMBO_TAG_STYLE || t == GUMBO_TAG_NOEMBED ||
		    t == GUMBO_TAG_NOFRAMES || t == GUMBO_TAG_IFRAME)
			c->next = k->v.element.children.length;
	}
	if (m)
		link_text_finish(&sc);
	free(stack);

	sheet_refs(&sc);

	for (size_t i = 0; i < sc.nsheets; i++) {
		bw_css_sheet_free(&sc.sheets[i].css);
		free(sc.sheets[i].owned);
	}
	free(sc.sheets);
	for (size_t i = 0; i < sc.nrules; i++)
		free(sc.rules[i].keys);
	free(sc.rules);
	bw_buf_free(&sc.text);
	bw_buf_free(&sc.font_use);
	free(sc.chars);
	free(sc.styles);
	if (sc.has_base)
		bw_url_free(&sc.base);
	if (edits)
		bw_url_free(&sc.probe);
}

void bw_html_edits_free(bw_html_edits *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].text);
	free(e->v);
	memset(e, 0, sizeof *e);
}

void bw_html_extract(bw_message *m, unsigned part, const bw_limits *lim)
{
	if (part >= m->nparts || !m->parts[part].data)
		return;
	bw_html_doc d;
	bw_html_doc_parse(&d, m->parts[part].data, m->parts[part].len, lim, &m->errors);
	bw_html_scan(&d, m, part, lim, NULL);
	bw_html_doc_free(&d);
}
