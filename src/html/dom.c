/* The Gumbo side of src/html: parsing hostile HTML safely, and small helpers
 * on Gumbo nodes and attributes that extract.c and sanitize.c both use.
 *
 * The tree is Gumbo's data structure, built by parse.c (bw_html_parse),
 * which replaced gumbo_parse_with_options for speed. Two hazards, found
 * with Gumbo 0.10.1 and shared by any HTML5 tree builder, shape the parse:
 * - gumbo_destroy_output frees the tree recursively and overflows the stack
 *   near 300,000 nested elements. All of Gumbo's memory therefore comes from
 *   an arena that is released in one go; the tree is never destroyed node by
 *   node. (Gumbo frees little before the end, so the arena costs ~10% more
 *   peak memory and saves a malloc/free per node.)
 * - tree building scans the stack of open elements for many start tags
 *   ("close a p element in button scope"), so 30,000 nested <div>s already
 *   take over a second. A cheap pre-scan estimates nesting and cuts the
 *   input where it passes lim->max_html_depth. Browsers stop nesting at 512
 *   (Blink) anyway, so the cut only ever hits hostile input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html/dom.h"

/* ---- arena ---- */

enum { ARENA_BLOCK = 256 * 1024 };

typedef struct arena_block {
	struct arena_block *next;
	max_align_t data[];
} arena_block;

struct bw_arena {
	arena_block *blocks;
	char *p;
	size_t left;
};

static void *arena_alloc(void *userdata, size_t size)
{
	struct bw_arena *a = userdata;
	size = (size + 15) & ~(size_t)15;
	if (size > ARENA_BLOCK / 4) {
		/* Large: a block of its own, behind the current one. */
		arena_block *b = bw_xmalloc(sizeof *b + size);
		if (a->blocks) {
			b->next = a->blocks->next;
			a->blocks->next = b;
		} else {
			b->next = NULL;
			a->blocks = b;
		}
		return b->data;
	}
	if (size > a->left) {
		arena_block *b = bw_xmalloc(sizeof *b + ARENA_BLOCK);
		b->next = a->blocks;
		a->blocks = b;
		a->p = (char *)b->data;
		a->left = ARENA_BLOCK;
	}
	void *r = a->p;
	a->p += size;
	a->left -= size;
	return r;
}

/* ---- nesting pre-scan ---- */

/* Lower-case tag name packed into 8 bytes: enough to tell tags apart here. */
static uint64_t name_key(const char *s, size_t n)
{
	uint64_t k = 0;
	for (size_t i = 0; i < n && i < 8; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		k |= (uint64_t)c << (8 * i);
	}
	return k;
}

#define KEY(s) name_key(s, sizeof(s) - 1)

static bool key_in(uint64_t k, const uint64_t *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (k == keys[i])
			return true;
	return false;
}

/* Elements that never nest in the tree: void elements, and those that close
 * an open element of their kind (p, li, td, headings, ...). Counting them
 * would overestimate depth on sloppy but harmless mail. */
static const char *const flat_tags[] = {
	"area", "base", "br", "col", "embed", "hr", "img", "image", "input", "link", "meta",
	"param", "source", "track", "wbr", "keygen", "basefont", "bgsound", "frame", "menuitem",
	"p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "tbody", "thead",
	"tfoot", "colgroup", "caption", "rb", "rt", "rp", "rtc", "a", "nobr", "button",
	"form", "h1", "h2", "h3", "h4", "h5", "h6", NULL
};
/* Content up to the matching end tag is text. (noscript is markup: scripting
 * is disabled.) */
static const char *const raw_tags[] = {
	"script", "style", "xmp", "iframe", "noembed", "noframes", "textarea", "title", NULL
};

enum { NFLAT = sizeof flat_tags / sizeof flat_tags[0] - 1, NRAW = sizeof raw_tags / sizeof raw_tags[0] - 1 };

/* The keys of the lists above, made once per part rather than per tag. */
typedef struct tag_keys {
	uint64_t flat[NFLAT], raw[NRAW], svg, math, plaintext;
} tag_keys;

static void tag_keys_init(tag_keys *t)
{
	for (size_t i = 0; i < NFLAT; i++)
		t->flat[i] = name_key(flat_tags[i], strlen(flat_tags[i]));
	for (size_t i = 0; i < NRAW; i++)
		t->raw[i] = name_key(raw_tags[i], strlen(raw_tags[i]));
	t->svg = KEY("svg");
	t->math = KEY("math");
	t->plaintext = KEY("plaintext");
}

static bool is_alpha(unsigned char c)
{
	return (c | 32) >= 'a' && (c | 32) <= 'z';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

bool bw_dom_next_attr(const char *h, size_t len, size_t *pos, size_t *start, size_t *name_end,
		      size_t *end)
{
	size_t p = *pos;
	while (p < len && (is_space((unsigned char)h[p]) || (h[p] == '/' && !(p + 1 < len && h[p + 1] == '>'))))
		p++;
	if (p >= len || h[p] == '>' || h[p] == '/') {
		*pos = p;
		return false;
	}
	*start = p++; /* a leading '=' belongs to the name */
	while (p < len && !is_space((unsigned char)h[p]) && h[p] != '/' && h[p] != '>' && h[p] != '=')
		p++;
	*name_end = *end = p;
	size_t q = p;
	while (q < len && is_space((unsigned char)h[q]))
		q++;
	if (q < len && h[q] == '=') {
		q++;
		while (q < len && is_space((unsigned char)h[q]))
			q++;
		if (q < len && (h[q] == '"' || h[q] == '\'')) {
			const char *e = memchr(h + q + 1, h[q], len - q - 1);
			q = e ? (size_t)(e - h) + 1 : len;
		} else {
			while (q < len && !is_space((unsigned char)h[q]) && h[q] != '>')
				q++;
		}
		*end = p = q;
	}
	*pos = p;
	return true;
}

/* From p (just after a tag name) past the closing '>'. *selfclose tells "/>". */
static size_t skip_tag(const char *h, size_t len, size_t p, bool *selfclose)
{
	size_t s, ne, e;
	while (bw_dom_next_attr(h, len, &p, &s, &ne, &e))
		;
	*selfclose = p < len && h[p] == '/';
	return p >= len ? len : p + 1 + *selfclose;
}

static bool ieq_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (x != y)
			return false;
	}
	return true;
}

/* Offset of a case-insensitive "</name" (name lower-case) at or after p, or len. */
static size_t find_end_tag(const char *h, size_t len, size_t p, const char *name)
{
	size_t n = strlen(name);
	while (p + 2 + n <= len) {
		const char *lt = memchr(h + p, '<', len - p);
		if (!lt)
			break;
		p = (size_t)(lt - h);
		if (p + 2 + n <= len && h[p + 1] == '/' && ieq_n(h + p + 2, name, n))
			return p;
		p++;
	}
	return len;
}

/* Offset of the '<' of the first start tag at which the estimated element
 * nesting exceeds max_depth, or len. *open_tag gets the offset of a tag that
 * the input ends inside of, or len. */
static size_t depth_cut(const char *h, size_t len, unsigned max_depth, size_t *open_tag)
{
	uint64_t *stack = bw_xmalloc(((size_t)max_depth + 1) * sizeof *stack);
	tag_keys t;
	tag_keys_init(&t);
	size_t depth = 0, foreign = 0, p = 0, cut = len;
	while (p < len) {
		const char *lt = memchr(h + p, '<', len - p);
		if (!lt)
			break;
		p = (size_t)(lt - h);
		size_t rest = len - p;
		if (rest >= 4 && !memcmp(h + p, "<!--", 4)) {
			const char *e = memmem(h + p + 4, rest - 4, "-->", 3);
			if (!e)
				break;
			p = (size_t)(e - h) + 3;
			continue;
		}
		bool end = rest >= 2 && h[p + 1] == '/';
		size_t n0 = p + 1 + end, n1 = n0;
		if (n0 >= len || !is_alpha((unsigned char)h[n0])) {
			if (rest >= 2 && (h[p + 1] == '!' || h[p + 1] == '?' || end)) {
				const char *e = memchr(h + p, '>', rest);
				if (!e)
					break;
				p = (size_t)(e - h) + 1;
			} else {
				p++;
			}
			continue;
		}
		while (n1 < len && !is_space((unsigned char)h[n1]) && h[n1] != '/' && h[n1] != '>')
			n1++;
		uint64_t k = name_key(h + n0, n1 - n0);
		bool selfclose;
		size_t after = skip_tag(h, len, n1, &selfclose);
		if (after == len && h[len - 1] != '>') {
			*open_tag = p;
			break;
		}
		if (end) {
			/* An end tag closes the innermost open element of its name;
			 * stray ones close nothing. */
			for (size_t i = depth; i-- > 0;) {
				if (stack[i] == k) {
					for (size_t j = i; j < depth; j++)
						if (stack[j] == t.svg || stack[j] == t.math)
							foreign--;
					depth = i;
					break;
				}
			}
			p = after;
			continue;
		}
		if (k == t.plaintext)
			break;
		if (key_in(k, t.raw, NRAW)) {
			char name[16];
			size_t nl = n1 - n0 < sizeof name - 1 ? n1 - n0 : sizeof name - 1;
			for (size_t i = 0; i < nl; i++)
				name[i] = (char)(h[n0 + i] | 32);
			name[nl] = 0;
			p = find_end_tag(h, len, after, name);
			continue;
		}
		if (!key_in(k, t.flat, NFLAT) && !(selfclose && foreign)) {
			if (depth == max_depth) {
				cut = p;
				break;
			}
			stack[depth++] = k;
			if (k == t.svg || k == t.math)
				foreign++;
		}
		p = after;
	}
	free(stack);
	return cut;
}

void bw_html_doc_parse(bw_html_doc *d, const char *html, size_t len,
		       const bw_limits *lim, bw_strvec *errors)
{
	memset(d, 0, sizeof *d);
	d->html = html;
	d->len = len;
	d->open_tag = len;
	if (lim && lim->max_html_bytes && d->len > lim->max_html_bytes) {
		d->len = lim->max_html_bytes;
		if (errors)
			bw_strvec_pushf(errors, "HTML part of %zu bytes cut to max_html_bytes (%zu)",
					len, lim->max_html_bytes);
	}
	/* max_html_depth 0 would mean "no limit", which Gumbo cannot take. */
	unsigned max_depth = lim && lim->max_html_depth ? lim->max_html_depth : 2000;
	size_t cut = depth_cut(html, d->len, max_depth, &d->open_tag);
	if (cut < d->len) {
		d->len = cut;
		if (errors)
			bw_strvec_pushf(errors, "HTML nested deeper than max_html_depth (%u): cut at byte %zu",
					max_depth, cut);
	}
	d->cut = d->len < len;

	d->arena = bw_xcalloc(1, sizeof *d->arena);
	size_t stopped, max_nodes = lim ? lim->max_html_nodes : 500000;
	d->out = bw_html_parse(html, d->len, max_nodes, &stopped, arena_alloc, d->arena);
	if (stopped < d->len) {
		d->len = stopped;
		d->cut = true;
		if (d->open_tag > stopped)
			d->open_tag = stopped;
		if (errors)
			bw_strvec_pushf(errors, "HTML part makes more than max_html_nodes (%zu) nodes: cut at byte %zu",
					max_nodes, stopped);
	}
}

void bw_html_doc_free(bw_html_doc *d)
{
	if (d->arena) {
		for (arena_block *b = d->arena->blocks, *next; b; b = next) {
			next = b->next;
			free(b);
		}
		free(d->arena);
	}
	memset(d, 0, sizeof *d);
}

/* ---- nodes and attributes ---- */

const char *bw_dom_tag(const GumboNode *el, char *buf, size_t size)
{
	const GumboElement *e = &el->v.element;
	if (e->tag != GUMBO_TAG_UNKNOWN) {
		const char *name = gumbo_normalized_tagname(e->tag);
		size_t n = strlen(name);
		n = n < size - 1 ? n : size - 1;
		memcpy(buf, name, n);
		buf[n] = 0;
		return buf;
	}
	GumboStringPiece t = e->original_tag;
	if (t.data && t.length)
		gumbo_tag_from_original_text(&t);
	size_t n = t.data ? (t.length < size - 1 ? t.length : size - 1) : 0;
	for (size_t i = 0; i < n; i++) {
		char c = t.data[i];
		buf[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	buf[n] = 0;
	return buf;
}

GumboAttribute *bw_dom_attr_ns(const GumboNode *el, const char *name, GumboAttributeNamespaceEnum ns)
{
	const GumboVector *v = &el->v.element.attributes;
	for (unsigned i = 0; i < v->length; i++) {
		GumboAttribute *a = v->data[i];
		if (a->attr_namespace == ns && bw_ascii_iequal(a->name, name))
			return a;
	}
	return NULL;
}

GumboAttribute *bw_dom_attr(const GumboNode *el, const char *name)
{
	return bw_dom_attr_ns(el, name, GUMBO_ATTR_NAMESPACE_NONE);
}

const char *bw_dom_attr_value(const GumboNode *el, const char *name)
{
	GumboAttribute *a = bw_dom_attr(el, name);
	return a ? a->value : NULL;
}

static bool in_doc(const bw_html_doc *d, const char *p, size_t n)
{
	return p && p >= d->html && n <= d->len && (size_t)(p - d->html) <= d->len - n;
}

/* Gumbo gives a valueless attribute its name as original_value. */
static bool has_value(const GumboAttribute *a)
{
	return a->original_value.data && a->original_value.data != a->original_name.data;
}

bool bw_dom_attr_span(const bw_html_doc *d, const GumboAttribute *a, size_t *start, size_t *end)
{
	/* Positions from the pieces: Gumbo's value_end is off by one after CR LF. */
	const GumboStringPiece *last = has_value(a) ? &a->original_value : &a->original_name;
	if (!in_doc(d, a->original_name.data, a->original_name.length) ||
	    !in_doc(d, last->data, last->length) || last->data < a->original_name.data)
		return false;
	*start = (size_t)(a->original_name.data - d->html);
	*end = (size_t)(last->data - d->html) + last->length;
	return true;
}

bool bw_dom_value_span(const bw_html_doc *d, const GumboAttribute *a, size_t *start, size_t *end)
{
	if (!has_value(a) || !in_doc(d, a->original_value.data, a->original_value.length))
		return false;
	*start = (size_t)(a->original_value.data - d->html);
	*end = *start + a->original_value.length;
	return true;
}

bool bw_dom_value_verbatim(const bw_html_doc *d, const GumboAttribute *a, size_t *start)
{
	size_t s, e;
	if (!bw_dom_value_span(d, a, &s, &e))
		return false;
	if (e - s >= 2 && (d->html[s] == '"' || d->html[s] == '\'') && d->html[e - 1] == d->html[s]) {
		s++;
		e--;
	}
	size_t n = strlen(a->value);
	if (e - s != n || memcmp(d->html + s, a->value, n))
		return false;
	*start = s;
	return true;
}

void bw_dom_escape(bw_buf *b, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		default: continue;
		}
		bw_buf_append(b, s + run, i - run);
		bw_buf_puts(b, rep);
		run = i + 1;
	}
	bw_buf_append(b, s + run, n - run);
}
