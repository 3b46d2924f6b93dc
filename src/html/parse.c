/* A hand-written HTML5 parser (HTML Living Standard §13.2) that builds
 * Gumbo's public tree (GumboOutput, GumboNode, ...) in the caller's arena.
 *
 * Why not Gumbo: profiling `bulwark scan` over the phishing_pot corpus put
 * gumbo_parse_with_options at ~47% of all CPU. Its tokenizer decodes input
 * one code point at a time through an iterator and appends code points one
 * by one to string buffers. This parser works on bytes: it finds the next
 * '<' with memchr, copies text runs in one go (decoding only where a
 * character reference, CR, NUL or non-ASCII byte asks for it) and hands the
 * tree builder whole runs of characters.
 *
 * It follows Gumbo 0.10.1 where the tree or the strings differ from the
 * current spec in ways callers see: text is decoded as Gumbo's utf8iterator
 * does (CR and CR LF become LF; invalid UTF-8, control characters and
 * non-characters become U+FFFD), a valueless attribute gets its name as
 * original_value, original_value keeps the quotes, text nodes are
 * WHITESPACE/TEXT/CDATA like Gumbo's and span (original_text) up to the
 * token that ended them, <template> is a GUMBO_NODE_TEMPLATE whose children
 * are its content, `<image>` becomes img.
 *
 * It also follows Gumbo's tree-building quirks, so that extraction and
 * sanitizing do not change: the adoption agency as Gumbo 0.10.1 runs it,
 * "any other end tag" matching by tag enum (any unknown end tag closes the
 * nearest unknown element), doctype lists compared whole (so "-//W3C//DTD
 * HTML 4.0 Transitional//EN" is no-quirks), reconstructed formatting
 * elements inserted before pending text is flushed.
 *
 * Where Gumbo is plainly wrong this parser follows the spec instead:
 * - with max_errors 0 (as dom.c ran it) Gumbo does not clear its buffer
 *   after a duplicate valueless attribute, so the next name is glued to it
 *   (`a a src=x` gives "asrc"); here the next attribute is itself.
 * - an unquoted value that starts with a character reference: Gumbo's
 *   original_value starts after that reference, here at the value.
 *
 * Simplifications (none changes which elements hold which on real mail):
 * script data is raw text (no script escape states); <isindex> is an
 * ordinary element (Gumbo expands it to a form); <frameset> in body is
 * ignored and "in frameset" keeps only framesets and frames; the active
 * formatting list stops growing at 256 entries after its last marker
 * (hostile input only).
 *
 * Hostile input: no recursion; memory is the arena plus a stack and the
 * list of active formatting elements; counts of open elements by tag let
 * end tags and scope checks that cannot match skip walking the stack. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html/dom.h"

/* ---- small buffers (heap, reused through the parse) ---- */

typedef struct sbuf {
	char *d;
	size_t n, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t more)
{
	if (b->n + more + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->n + more + 1)
			c *= 2;
		b->d = bw_xrealloc(b->d, c);
		b->cap = c;
	}
}

static inline void sb_add(sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->d + b->n, s, n);
	b->n += n;
}

static inline void sb_addc(sbuf *b, char c)
{
	sb_reserve(b, 1);
	b->d[b->n++] = c;
}

static void sb_addcp(sbuf *b, uint32_t c)
{
	char u[4];
	size_t n;
	if (c < 0x80) {
		u[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		u[0] = (char)(0xC0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		u[0] = (char)(0xE0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		u[3] = (char)(0x80 | (c & 0x3F));
		n = 4;
	}
	sb_add(b, u, n);
}

/* ---- named character references ---- */

typedef struct entity {
	const char *name;
	unsigned char len;
	const char *value;
	unsigned char vlen;
} entity;

static const entity entities[] = {
#include "html/entities.inc"
};

static const entity *entity_find(const char *s, size_t n)
{
	size_t lo = 0, hi = sizeof entities / sizeof *entities;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const entity *e = &entities[mid];
		size_t m = e->len < n ? e->len : n;
		int c = memcmp(e->name, s, m);
		if (!c)
			c = e->len < n ? -1 : e->len > n ? 1 : 0;
		if (!c)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const uint16_t win1252[32] = {
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
	0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
};

/* Code points Gumbo's input stream replaces with U+FFFD. */
static inline bool bad_cp(uint32_t c)
{
	return (c >= 0x1 && c <= 0x8) || c == 0xB || (c >= 0xE && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
	       (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFF) == 0xFFFE || (c & 0xFFFF) == 0xFFFF;
}

static inline bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Character reference at s[0] == '&', s[0..n). Appends the decoded text and
 * returns the bytes consumed, or 0 (nothing consumed: '&' is literal). */
static size_t char_ref(sbuf *b, const char *s, size_t n, bool in_attr, int extra)
{
	if (n < 2)
		return 0;
	unsigned char c = (unsigned char)s[1];
	if (is_ws(c) || c == '<' || c == '&' || (extra >= 0 && c == extra))
		return 0;
	if (c == '#') {
		size_t i = 2;
		bool hex = i < n && (s[i] | 32) == 'x';
		if (hex)
			i++;
		size_t d0 = i;
		uint32_t v = 0;
		for (; i < n; i++) {
			unsigned char x = (unsigned char)s[i];
			int dv;
			if (x >= '0' && x <= '9')
				dv = x - '0';
			else if (hex && (x | 32) >= 'a' && (x | 32) <= 'f')
				dv = (x | 32) - 'a' + 10;
			else
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)dv;
			if (v > 0x10FFFF)
				v = 0x110000;
		}
		if (i == d0)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (v >= 0x80 && v <= 0x9F)
			v = win1252[v - 0x80];
		/* control characters and non-characters stay (a parse error) */
		if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			v = 0xFFFD;
		sb_addcp(b, v);
		return i;
	}
	size_t i = 1;
	while (i < n && i < 40 && is_alnum((unsigned char)s[i]))
		i++;
	if (i == 1)
		return 0;
	const entity *e = NULL;
	if (i < n && s[i] == ';')
		e = entity_find(s + 1, i);
	if (!e) {
		/* legacy names without ';' are at most 6 long */
		for (size_t l = i - 1 < 6 ? i - 1 : 6; l >= 2 && !e; l--)
			e = entity_find(s + 1, l);
		if (!e)
			return 0;
		size_t end = 1 + e->len;
		if (in_attr && end < n && (s[end] == '=' || is_alnum((unsigned char)s[end])))
			return 0;
	}
	sb_add(b, e->value, e->vlen);
	return 1 + e->len;
}

/* ---- decoding text as Gumbo's input stream does ---- */

enum {
	DEC_LOWER = 1,  /* ASCII lower-case */
	DEC_REFS = 2,   /* character references */
	DEC_ATTR = 4,   /* ... in an attribute value */
	DEC_NULDROP = 8 /* NUL dropped, else U+FFFD */
};

/* Bytes decode() must look at: [0] as they are, [1] lower-casing too. */
static unsigned char special[2][256];

static void init_special(void)
{
	if (special[0]['&'])
		return;
	for (int i = 0; i < 256; i++) {
		special[0][i] = i >= 0x80 || (i < 0x20 && i != '\t' && i != '\n' && i != '\f') || i == 0x7F ||
				i == '&';
		special[1][i] = special[0][i] || (i >= 'A' && i <= 'Z');
	}
}

/* Appends s[0..n) decoded to b. extra: the attribute's quote, or -1. */
static void decode(sbuf *b, const char *s, size_t n, int flags, int extra)
{
	sb_reserve(b, n);
	const unsigned char *sp = special[(flags & DEC_LOWER) != 0];
	size_t i = 0;
	while (i < n) {
		size_t run = i;
		while (i < n && !sp[(unsigned char)s[i]])
			i++;
		if (i > run)
			sb_add(b, s + run, i - run);
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z') {
			sb_addc(b, (flags & DEC_LOWER) ? (char)(c + 32) : (char)c);
			i++;
		} else if (c == '&') {
			size_t k = (flags & DEC_REFS) ? char_ref(b, s + i, n - i, flags & DEC_ATTR, extra) : 0;
			if (!k) {
				sb_addc(b, '&');
				k = 1;
			}
			i += k;
		} else if (c == '\r') {
			sb_addc(b, '\n');
			i += i + 1 < n && s[i + 1] == '\n' ? 2 : 1;
		} else if (c == 0) {
			if (!(flags & DEC_NULDROP))
				sb_add(b, "\xEF\xBF\xBD", 3);
			i++;
		} else if (c < 0x80) {
			/* controls other than tab, LF, FF */
			if (c == '\t' || c == '\n' || c == '\f')
				sb_addc(b, (char)c);
			else
				sb_add(b, "\xEF\xBF\xBD", 3);
			i++;
		} else {
			/* UTF-8 sequence, validated like Gumbo's decoder */
			size_t need;
			uint32_t cp;
			unsigned char lo = 0x80, hi = 0xBF;
			if (c >= 0xC2 && c <= 0xDF) {
				need = 1;
				cp = c & 0x1F;
			} else if (c >= 0xE0 && c <= 0xEF) {
				need = 2;
				cp = c & 0x0F;
				if (c == 0xE0)
					lo = 0xA0;
				else if (c == 0xED)
					hi = 0x9F;
			} else if (c >= 0xF0 && c <= 0xF4) {
				need = 3;
				cp = c & 0x07;
				if (c == 0xF0)
					lo = 0x90;
				else if (c == 0xF4)
					hi = 0x8F;
			} else {
				sb_add(b, "\xEF\xBF\xBD", 3);
				i++;
				continue;
			}
			size_t j = 1;
			bool ok = true;
			for (; j <= need; j++) {
				if (i + j >= n) {
					/* truncated at the end of the run */
					ok = false;
					j = n - i;
					break;
				}
				unsigned char x = (unsigned char)s[i + j];
				if (x < lo || x > hi) {
					ok = false;
					break;
				}
				lo = 0x80;
				hi = 0xBF;
				cp = (cp << 6) | (x & 0x3F);
			}
			if (!ok) {
				sb_add(b, "\xEF\xBF\xBD", 3);
				i += j;
				continue;
			}
			if (bad_cp(cp))
				sb_add(b, "\xEF\xBF\xBD", 3);
			else
				sb_add(b, s + i, need + 1);
			i += need + 1;
		}
	}
}

/* ---- the parser ---- */

enum tok_type { T_START, T_END, T_CHARS, T_COMMENT, T_DOCTYPE, T_EOF };

typedef struct tok {
	enum tok_type type;
	GumboTag tag;
	const char *name;     /* lower-case tag name (scratch) */
	size_t nlen;
	bool selfclose;
	size_t start, end;    /* original text */
	GumboAttribute **attrs;
	unsigned nattrs;
	/* characters (decoded) */
	const char *text;
	size_t tlen;
	bool cdata;
	/* doctype */
	const char *dt_name, *dt_pub, *dt_sys;
	bool force_quirks, has_pub, has_sys;
} tok;

enum mode {
	M_INITIAL, M_BEFORE_HTML, M_BEFORE_HEAD, M_IN_HEAD, M_IN_HEAD_NOSCRIPT, M_AFTER_HEAD, M_IN_BODY,
	M_TEXT, M_IN_TABLE, M_IN_TABLE_TEXT, M_IN_CAPTION, M_IN_COLGROUP, M_IN_TBODY, M_IN_ROW, M_IN_CELL,
	M_IN_SELECT, M_IN_SELECT_IN_TABLE, M_IN_TEMPLATE, M_AFTER_BODY, M_IN_FRAMESET, M_AFTER_FRAMESET,
	M_AFTER_AFTER_BODY, M_AFTER_AFTER_FRAMESET
};

enum tstate { TS_DATA, TS_RCDATA, TS_RAWTEXT, TS_PLAINTEXT };

/* An element and its lower-case name (kept for unknown tags). */
typedef struct xnode {
	GumboNode n;
	const char *name;
	size_t nlen;
	bool on;        /* on the stack of open elements */
} xnode;

enum { AFL_MAX = 256 };

typedef struct P {
	const char *h;
	size_t len, pos;
	size_t nodes, max_nodes; /* nodes made so far; the budget (0: none) */
	size_t stopped;          /* where the budget stopped the input, or SIZE_MAX */
	void *(*alloc)(void *, size_t);
	void *ud;
	sbuf sb, tb, name;      /* scratch; pending text; tag name */
	GumboAttribute **attrs;
	size_t nattrs, capattrs;
	uint64_t *ahash;        /* duplicate check for tags with many attributes: */
	size_t ahcap, ah_n;     /* slots (generation << 32 | index), attributes in it */
	uint32_t ah_gen;
	/* pending text node */
	size_t text_start;
	GumboNodeType text_type;
	bool text_on;
	size_t tok_start;       /* where the current token starts */
	size_t carry;           /* 1 + where the next character token starts, or 0 */
	size_t open_tag;        /* 1 + where a tag starts that is being read, or 0 */
	GumboOutput *out;
	GumboNode *doc;
	GumboNode **stack;
	size_t depth, cap;
	GumboNode **afl;        /* NULL: marker */
	size_t nafl, capafl;
	int *tmodes;
	size_t ntm, captm;
	unsigned counts[GUMBO_TAG_LAST + 1]; /* open HTML elements by tag */
	GumboNode *head, *form;
	enum mode mode, orig_mode;
	enum tstate ts;
	char rawname[16];
	size_t rawlen;
	bool frameset_ok, foster, ignore_lf, quirks, done;
	uint64_t set_special[3], set_scope[3], set_implied[3], set_thorough[3],
		set_headlike[3];
} P;

/* Every node (element, clone, text, comment) is made here. */
static void *xalloc(P *p, size_t n)
{
	p->nodes++;
	void *r = p->alloc(p->ud, n);
	memset(r, 0, n);
	return r;
}

static char *xstrndup(P *p, const char *s, size_t n)
{
	char *r = p->alloc(p->ud, n + 1);
	memcpy(r, s, n);
	r[n] = 0;
	return r;
}

static inline void set_add(uint64_t *s, GumboTag t)
{
	s[t / 64] |= (uint64_t)1 << (t % 64);
}

static inline bool set_has(const uint64_t *s, GumboTag t)
{
	return (s[t / 64] >> (t % 64)) & 1;
}

static void set_fill(uint64_t *s, const GumboTag *t)
{
	for (; *t != GUMBO_TAG_LAST; t++)
		set_add(s, *t);
}

#define TAGS(...) ((const GumboTag[]){__VA_ARGS__, GUMBO_TAG_LAST})
#define G(x) GUMBO_TAG_##x

static void init_sets(P *p)
{
	set_fill(p->set_special,
		 TAGS(G(ADDRESS), G(APPLET), G(AREA), G(ARTICLE), G(ASIDE), G(BASE), G(BASEFONT), G(BGSOUND),
		      G(BLOCKQUOTE), G(BODY), G(BR), G(BUTTON), G(CAPTION), G(CENTER), G(COL), G(COLGROUP),
		      G(MENUITEM), G(DD), G(DETAILS), G(DIR), G(DIV), G(DL), G(DT), G(EMBED), G(FIELDSET),
		      G(FIGCAPTION), G(FIGURE), G(FOOTER), G(FORM), G(FRAME), G(FRAMESET), G(H1), G(H2), G(H3),
		      G(H4), G(H5), G(H6), G(HEAD), G(HEADER), G(HGROUP), G(HR), G(HTML), G(IFRAME), G(IMG),
		      G(INPUT), G(ISINDEX), G(LI), G(LINK), G(LISTING), G(MARQUEE), G(MENU), G(META), G(NAV),
		      G(NOEMBED), G(NOFRAMES), G(NOSCRIPT), G(OBJECT), G(OL), G(P), G(PARAM), G(PLAINTEXT),
		      G(PRE), G(SCRIPT), G(SECTION), G(SELECT), G(SOURCE), G(STYLE), G(SUMMARY), G(TABLE),
		      G(TBODY), G(TD), G(TEMPLATE), G(TEXTAREA), G(TFOOT), G(TH), G(THEAD), G(TITLE), G(TR),
		      G(TRACK), G(UL), G(WBR), G(XMP), G(MAIN)));
	set_fill(p->set_scope, TAGS(G(APPLET), G(CAPTION), G(HTML), G(TABLE), G(TD), G(TH), G(MARQUEE),
				    G(OBJECT), G(TEMPLATE)));
	set_fill(p->set_implied, TAGS(G(DD), G(DT), G(LI), G(OPTION), G(OPTGROUP), G(P), G(RP), G(RT),
				      G(RB), G(RTC)));
	set_fill(p->set_thorough, TAGS(G(CAPTION), G(COLGROUP), G(DD), G(DT), G(LI), G(OPTION), G(OPTGROUP),
				       G(P), G(RP), G(RT), G(RB), G(RTC), G(TBODY), G(TD), G(TFOOT), G(TH),
				       G(THEAD), G(TR)));
	set_fill(p->set_headlike, TAGS(G(BASE), G(BASEFONT), G(BGSOUND), G(LINK), G(META), G(NOFRAMES),
				       G(SCRIPT), G(STYLE), G(TEMPLATE), G(TITLE)));
}

/* ---- nodes ---- */

static inline GumboElement *EL(GumboNode *n)
{
	return &n->v.element;
}

static inline bool is_html_ns(const GumboNode *n)
{
	return n->v.element.tag_namespace == GUMBO_NAMESPACE_HTML;
}

static inline bool is_tag(const GumboNode *n, GumboTag t)
{
	return n->v.element.tag == t && n->v.element.tag_namespace == GUMBO_NAMESPACE_HTML;
}

static inline GumboNode *cur(P *p)
{
	return p->depth ? p->stack[p->depth - 1] : NULL;
}

static inline bool in_set(const uint64_t *s, const GumboNode *n)
{
	return is_html_ns(n) && set_has(s, n->v.element.tag);
}

static GumboVector *kids(GumboNode *n)
{
	return n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children : &n->v.element.children;
}

static void vec_insert(P *p, GumboVector *v, void *x, unsigned at)
{
	if (v->length == v->capacity) {
		unsigned c = v->capacity ? v->capacity * 2 : 4;
		void **d = p->alloc(p->ud, c * sizeof *d);
		if (v->length)
			memcpy(d, v->data, v->length * sizeof *d);
		v->data = d;
		v->capacity = c;
	}
	if (at < v->length)
		memmove(v->data + at + 1, v->data + at, (v->length - at) * sizeof *v->data);
	v->data[at] = x;
	v->length++;
}

static void node_insert(P *p, GumboNode *parent, GumboNode *n, unsigned at)
{
	GumboVector *v = kids(parent);
	vec_insert(p, v, n, at);
	n->parent = parent;
	for (unsigned i = at; i < v->length; i++)
		((GumboNode *)v->data[i])->index_within_parent = i;
}

static void node_remove(GumboNode *n)
{
	GumboNode *parent = n->parent;
	if (!parent)
		return;
	GumboVector *v = kids(parent);
	unsigned at = (unsigned)n->index_within_parent;
	if (at >= v->length || v->data[at] != n)
		return;
	memmove(v->data + at, v->data + at + 1, (v->length - at - 1) * sizeof *v->data);
	v->length--;
	for (unsigned i = at; i < v->length; i++)
		((GumboNode *)v->data[i])->index_within_parent = i;
	n->parent = NULL;
}

static void node_append(P *p, GumboNode *parent, GumboNode *n)
{
	node_insert(p, parent, n, kids(parent)->length);
}

typedef struct place {
	GumboNode *parent;
	unsigned at;
} place;

static bool is_table_ish(const GumboNode *n)
{
	return is_tag(n, G(TABLE)) || is_tag(n, G(TBODY)) || is_tag(n, G(TFOOT)) || is_tag(n, G(THEAD)) ||
	       is_tag(n, G(TR));
}

/* The appropriate place for inserting a node (§13.2.6.1). */
static place where(P *p, GumboNode *target)
{
	if (!target)
		target = cur(p);
	place r = {target, kids(target)->length};
	if (p->foster && is_table_ish(target)) {
		GumboNode *tmpl = NULL, *table = NULL;
		size_t ti = 0, bi = 0;
		for (size_t i = p->depth; i-- > 0;) {
			if (!tmpl && is_tag(p->stack[i], G(TEMPLATE))) {
				tmpl = p->stack[i];
				ti = i;
			}
			if (!table && is_tag(p->stack[i], G(TABLE))) {
				table = p->stack[i];
				bi = i;
			}
		}
		if (tmpl && (!table || ti > bi)) {
			r.parent = tmpl;
			r.at = kids(tmpl)->length;
		} else if (!table) {
			r.parent = p->stack[0];
			r.at = kids(r.parent)->length;
		} else if (table->parent) {
			r.parent = table->parent;
			r.at = (unsigned)table->index_within_parent;
		} else {
			r.parent = p->stack[bi - 1];
			r.at = kids(r.parent)->length;
		}
	}
	return r;
}

static void flush_text(P *p)
{
	if (!p->text_on)
		return;
	p->text_on = false;
	place w = where(p, NULL);
	if (w.parent->type == GUMBO_NODE_DOCUMENT) {
		p->tb.n = 0;
		return;
	}
	GumboNode *n = xalloc(p, sizeof *n);
	n->type = p->text_type;
	n->parse_flags = GUMBO_INSERTION_NORMAL;
	n->v.text.text = xstrndup(p, p->tb.d, p->tb.n);
	size_t end = p->tok_start > p->text_start ? p->tok_start : p->text_start;
	n->v.text.original_text.data = p->h + p->text_start;
	n->v.text.original_text.length = end - p->text_start;
	n->v.text.start_pos.offset = (unsigned)p->text_start;
	node_insert(p, w.parent, n, w.at);
	p->tb.n = 0;
}

/* Buffers text for a text node. raw: where it starts in the document. */
static void add_text(P *p, const char *s, size_t n, size_t raw, bool cdata)
{
	if (!n)
		return;
	if (!p->text_on) {
		p->text_on = true;
		/* Gumbo's input stream skips the CR of CR LF */
		if (raw + 1 < p->len && p->h[raw] == '\r' && p->h[raw + 1] == '\n')
			raw++;
		p->text_start = raw;
		p->text_type = GUMBO_NODE_WHITESPACE;
	}
	if (cdata) {
		p->text_type = GUMBO_NODE_CDATA;
	} else if (p->text_type == GUMBO_NODE_WHITESPACE || p->text_type == GUMBO_NODE_CDATA) {
		for (size_t i = 0; i < n; i++)
			if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\f' || s[i] == '\r')) {
				p->text_type = GUMBO_NODE_TEXT;
				break;
			}
	}
	sb_add(&p->tb, s, n);
}

static void push(P *p, GumboNode *n)
{
	if (p->depth == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->stack = bw_xrealloc(p->stack, p->cap * sizeof *p->stack);
	}
	p->stack[p->depth++] = n;
	((xnode *)n)->on = true;
	if (is_html_ns(n))
		p->counts[n->v.element.tag]++;
}

static GumboNode *pop(P *p)
{
	flush_text(p);
	GumboNode *n = p->stack[--p->depth];
	((xnode *)n)->on = false;
	if (is_html_ns(n))
		p->counts[n->v.element.tag]--;
	return n;
}

static void stack_remove(P *p, GumboNode *n)
{
	for (size_t i = p->depth; i-- > 0;) {
		if (p->stack[i] == n) {
			/* no flush: Gumbo removes from the middle of its vector */
			memmove(p->stack + i, p->stack + i + 1, (p->depth - i - 1) * sizeof *p->stack);
			p->depth--;
			((xnode *)n)->on = false;
			if (is_html_ns(n))
				p->counts[n->v.element.tag]--;
			return;
		}
	}
}

static bool on_stack(P *p, GumboNode *n, size_t *at)
{
	if (!at)
		return ((xnode *)n)->on;
	for (size_t i = p->depth; i-- > 0;)
		if (p->stack[i] == n) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

static bool same_name(const GumboNode *n, const tok *t)
{
	if (n->v.element.tag != t->tag)
		return false;
	if (t->tag != G(UNKNOWN))
		return true;
	const xnode *x = (const xnode *)n;
	return x->nlen == t->nlen && !memcmp(x->name, t->name, t->nlen);
}

static GumboNode *make_element(P *p, const tok *t, GumboNamespaceEnum ns)
{
	xnode *x = xalloc(p, sizeof *x);
	GumboNode *n = &x->n;
	n->type = t->tag == G(TEMPLATE) && ns == GUMBO_NAMESPACE_HTML ? GUMBO_NODE_TEMPLATE : GUMBO_NODE_ELEMENT;
	GumboElement *e = EL(n);
	e->tag = t->tag;
	e->tag_namespace = ns;
	if (t->tag == G(UNKNOWN)) {
		x->name = xstrndup(p, t->name, t->nlen);
		x->nlen = t->nlen;
	}
	if (t->end > t->start) {
		e->original_tag.data = p->h + t->start;
		e->original_tag.length = t->end - t->start;
	}
	e->start_pos.offset = (unsigned)t->start;
	if (t->nattrs) {
		e->attributes.data = p->alloc(p->ud, t->nattrs * sizeof(void *));
		memcpy(e->attributes.data, t->attrs, t->nattrs * sizeof(void *));
		e->attributes.length = e->attributes.capacity = t->nattrs;
	}
	return n;
}

static GumboNode *clone_element(P *p, GumboNode *o)
{
	xnode *x = xalloc(p, sizeof *x);
	*x = *(xnode *)o;
	x->on = false;
	GumboNode *n = &x->n;
	n->parent = NULL;
	n->index_within_parent = 0;
	n->parse_flags |= GUMBO_INSERTION_ADOPTION_AGENCY_CLONED;
	GumboElement *e = EL(n);
	memset(&e->children, 0, sizeof e->children);
	GumboVector *a = &e->attributes;
	if (a->length) {
		void **d = p->alloc(p->ud, a->length * sizeof *d);
		memcpy(d, a->data, a->length * sizeof *d);
		a->data = d;
		a->capacity = a->length;
	}
	return n;
}

/* (Gumbo inserts reconstructed formatting elements before it flushes the
 * pending text, which then goes into them.) */
static GumboNode *insert_noflush(P *p, GumboNode *n, GumboNode *target)
{
	place w = where(p, target);
	node_insert(p, w.parent, n, w.at);
	push(p, n);
	return n;
}

static GumboNode *insert_element_at(P *p, GumboNode *n, GumboNode *target)
{
	flush_text(p);
	return insert_noflush(p, n, target);
}

static GumboNode *insert(P *p, const tok *t)
{
	return insert_element_at(p, make_element(p, t, GUMBO_NAMESPACE_HTML), NULL);
}

static GumboNode *insert_implied(P *p, GumboTag tag)
{
	tok t = {.type = T_START, .tag = tag};
	GumboNode *n = make_element(p, &t, GUMBO_NAMESPACE_HTML);
	n->parse_flags = GUMBO_INSERTION_IMPLIED | GUMBO_INSERTION_BY_PARSER;
	EL(n)->start_pos.offset = (unsigned)p->tok_start;
	return insert_element_at(p, n, NULL);
}

static void insert_comment(P *p, const tok *t, GumboNode *parent)
{
	flush_text(p);
	GumboNode *n = xalloc(p, sizeof *n);
	n->type = GUMBO_NODE_COMMENT;
	n->v.text.text = xstrndup(p, t->text, t->tlen);
	n->v.text.original_text.data = p->h + t->start;
	n->v.text.original_text.length = t->end - t->start;
	n->v.text.start_pos.offset = (unsigned)t->start;
	if (parent) {
		node_append(p, parent, n);
	} else {
		place w = where(p, NULL);
		node_insert(p, w.parent, n, w.at);
	}
}

/* Attributes of t that el lacks go to el (a second <html> or <body>). */
static void merge_attrs(P *p, GumboNode *el, const tok *t)
{
	GumboVector *v = &EL(el)->attributes;
	for (unsigned i = 0; i < t->nattrs; i++) {
		bool have = false;
		for (unsigned j = 0; j < v->length && !have; j++)
			have = !strcmp(((GumboAttribute *)v->data[j])->name, t->attrs[i]->name);
		if (!have)
			vec_insert(p, v, t->attrs[i], v->length);
	}
}

/* ---- scopes ---- */

enum scope { SC_DEFAULT, SC_LIST, SC_BUTTON, SC_TABLE, SC_SELECT };

static bool scope_boundary(P *p, const GumboNode *n, enum scope s)
{
	GumboTag t = n->v.element.tag;
	switch (n->v.element.tag_namespace) {
	case GUMBO_NAMESPACE_HTML:
		switch (s) {
		case SC_TABLE:
			return t == G(HTML) || t == G(TABLE) || t == G(TEMPLATE);
		case SC_SELECT:
			return t != G(OPTGROUP) && t != G(OPTION);
		case SC_LIST:
			if (t == G(OL) || t == G(UL))
				return true;
			break;
		case SC_BUTTON:
			if (t == G(BUTTON))
				return true;
			break;
		default:
			break;
		}
		return set_has(p->set_scope, t);
	case GUMBO_NAMESPACE_MATHML:
		return s != SC_TABLE && s != SC_SELECT &&
		       (t == G(MI) || t == G(MO) || t == G(MN) || t == G(MS) || t == G(MTEXT) || t == G(ANNOTATION_XML));
	case GUMBO_NAMESPACE_SVG:
		return s != SC_TABLE && s != SC_SELECT && (t == G(FOREIGNOBJECT) || t == G(DESC) || t == G(TITLE));
	}
	return false;
}

static bool in_scope(P *p, GumboTag tag, enum scope s)
{
	if (!p->counts[tag])
		return false;
	for (size_t i = p->depth; i-- > 0;) {
		GumboNode *n = p->stack[i];
		if (is_tag(n, tag))
			return true;
		if (scope_boundary(p, n, s))
			return false;
	}
	return false;
}

static bool node_in_scope(P *p, GumboNode *el, enum scope s)
{
	for (size_t i = p->depth; i-- > 0;) {
		GumboNode *n = p->stack[i];
		if (n == el)
			return true;
		if (scope_boundary(p, n, s))
			return false;
	}
	return false;
}

static bool heading_in_scope(P *p)
{
	if (!(p->counts[G(H1)] | p->counts[G(H2)] | p->counts[G(H3)] | p->counts[G(H4)] | p->counts[G(H5)] |
	      p->counts[G(H6)]))
		return false;
	for (size_t i = p->depth; i-- > 0;) {
		GumboNode *n = p->stack[i];
		GumboTag t = n->v.element.tag;
		if (is_html_ns(n) && t >= G(H1) && t <= G(H6))
			return true;
		if (scope_boundary(p, n, SC_DEFAULT))
			return false;
	}
	return false;
}

static void pop_until(P *p, GumboTag tag)
{
	while (p->depth) {
		GumboNode *n = pop(p);
		if (is_tag(n, tag))
			break;
	}
}

static void implied_end(P *p, GumboTag except)
{
	while (p->depth && in_set(p->set_implied, cur(p)) && !is_tag(cur(p), except))
		pop(p);
}

static void implied_end_thorough(P *p)
{
	while (p->depth && in_set(p->set_thorough, cur(p)))
		pop(p);
}

static void close_p(P *p)
{
	implied_end(p, G(P));
	pop_until(p, G(P));
}

static void close_p_in_button_scope(P *p)
{
	if (in_scope(p, G(P), SC_BUTTON))
		close_p(p);
}

/* ---- active formatting elements ---- */

static void afl_push_raw(P *p, GumboNode *n)
{
	if (p->nafl == p->capafl) {
		p->capafl = p->capafl ? p->capafl * 2 : 32;
		p->afl = bw_xrealloc(p->afl, p->capafl * sizeof *p->afl);
	}
	p->afl[p->nafl++] = n;
}

static bool same_attrs(GumboNode *a, GumboNode *b)
{
	GumboVector *x = &EL(a)->attributes, *y = &EL(b)->attributes;
	if (x->length != y->length)
		return false;
	for (unsigned i = 0; i < x->length; i++) {
		GumboAttribute *u = x->data[i];
		bool found = false;
		for (unsigned j = 0; j < y->length && !found; j++) {
			GumboAttribute *w = y->data[j];
			found = u->attr_namespace == w->attr_namespace && !strcmp(u->name, w->name) &&
				!strcmp(u->value, w->value);
		}
		if (!found)
			return false;
	}
	return true;
}

static void afl_push(P *p, GumboNode *n)
{
	int same = 0;
	size_t earliest = 0, count = 0;
	for (size_t i = p->nafl; i-- > 0;) {
		GumboNode *x = p->afl[i];
		if (!x)
			break;
		count++;
		if (EL(x)->tag == EL(n)->tag && EL(x)->tag_namespace == EL(n)->tag_namespace && same_attrs(x, n)) {
			same++;
			earliest = i;
		}
	}
	if (same >= 3) {
		memmove(p->afl + earliest, p->afl + earliest + 1, (p->nafl - earliest - 1) * sizeof *p->afl);
		p->nafl--;
	}
	if (count >= AFL_MAX)
		return;
	afl_push_raw(p, n);
}

static bool afl_find(P *p, GumboNode *n, size_t *at)
{
	for (size_t i = p->nafl; i-- > 0;)
		if (p->afl[i] == n) {
			if (at)
				*at = i;
			return true;
		}
	return false;
}

static void afl_remove(P *p, GumboNode *n)
{
	size_t i;
	if (afl_find(p, n, &i)) {
		memmove(p->afl + i, p->afl + i + 1, (p->nafl - i - 1) * sizeof *p->afl);
		p->nafl--;
	}
}

static void afl_clear_to_marker(P *p)
{
	while (p->nafl) {
		GumboNode *x = p->afl[--p->nafl];
		if (!x)
			break;
	}
}

static void reconstruct(P *p)
{
	if (!p->nafl)
		return;
	GumboNode *last = p->afl[p->nafl - 1];
	if (!last || on_stack(p, last, NULL))
		return;
	size_t i = p->nafl - 1;
	while (i > 0) {
		GumboNode *x = p->afl[i - 1];
		if (!x || on_stack(p, x, NULL))
			break;
		i--;
	}
	for (; i < p->nafl; i++) {
		GumboNode *n = clone_element(p, p->afl[i]);
		n->parse_flags = GUMBO_INSERTION_RECONSTRUCTED_FORMATTING_ELEMENT;
		insert_noflush(p, n, NULL);
		p->afl[i] = n;
	}
}

static bool is_special(P *p, const GumboNode *n)
{
	GumboTag t = n->v.element.tag;
	switch (n->v.element.tag_namespace) {
	case GUMBO_NAMESPACE_HTML:
		return set_has(p->set_special, t);
	case GUMBO_NAMESPACE_MATHML:
		return t == G(MI) || t == G(MO) || t == G(MN) || t == G(MS) || t == G(MTEXT) || t == G(ANNOTATION_XML);
	case GUMBO_NAMESPACE_SVG:
		return t == G(FOREIGNOBJECT) || t == G(DESC) || t == G(TITLE);
	}
	return false;
}

/* "Any other end tag" in body. */
static void any_other_end(P *p, const tok *t)
{
	if (!p->counts[t->tag])
		return; /* cannot match: the walk would stop at a special element */
	for (size_t i = p->depth; i-- > 0;) {
		GumboNode *n = p->stack[i];
		/* by tag only, as Gumbo does: any unknown element matches any
		 * unknown end tag */
		if (is_tag(n, t->tag)) {
			implied_end(p, t->tag);
			while (p->depth > i)
				pop(p);
			return;
		}
		if (is_special(p, n))
			return;
	}
}

static void adoption(P *p, const tok *t)
{
	GumboNode *c = cur(p);
	if (c && is_html_ns(c) && same_name(c, t) && !afl_find(p, c, NULL)) {
		pop(p);
		return;
	}
	for (int outer = 0; outer < 8; outer++) {
		GumboNode *fe = NULL;
		size_t fe_afl = 0;
		for (size_t i = p->nafl; i-- > 0;) {
			GumboNode *x = p->afl[i];
			if (!x)
				break;
			if (is_html_ns(x) && same_name(x, t)) {
				fe = x;
				fe_afl = i;
				break;
			}
		}
		if (!fe)
			return; /* (Gumbo: not "any other end tag") */
		size_t fe_st;
		if (!on_stack(p, fe, &fe_st)) {
			afl_remove(p, fe);
			return;
		}
		if (!in_scope(p, EL(fe)->tag, SC_DEFAULT)) /* (Gumbo: by tag) */
			return;
		GumboNode *fb = NULL;
		size_t fb_st = 0;
		for (size_t i = fe_st + 1; i < p->depth; i++)
			if (is_special(p, p->stack[i])) {
				fb = p->stack[i];
				fb_st = i;
				break;
			}
		if (!fb) {
			while (p->depth > fe_st)
				pop(p);
			afl_remove(p, fe);
			return;
		}
		GumboNode *common = p->stack[fe_st - 1];
		size_t bookmark = fe_afl;
		GumboNode *node = fb, *last = fb;
		size_t node_st = fb_st;
		flush_text(p);
		for (int inner = 1;; inner++) {
			node_st--;
			node = p->stack[node_st];
			if (node == fe)
				break;
			size_t na;
			bool in_afl = afl_find(p, node, &na);
			if (inner > 3 && in_afl) {
				/* (Gumbo leaves the node on the stack) */
				memmove(p->afl + na, p->afl + na + 1, (p->nafl - na - 1) * sizeof *p->afl);
				p->nafl--;
				if (na < bookmark)
					bookmark--;
				continue;
			}
			if (!in_afl) {
				memmove(p->stack + node_st, p->stack + node_st + 1,
					(p->depth - node_st - 1) * sizeof *p->stack);
				p->depth--;
				((xnode *)node)->on = false;
				if (is_html_ns(node))
					p->counts[EL(node)->tag]--;
				fb_st--;
				continue;
			}
			GumboNode *nn = clone_element(p, node);
			p->afl[na] = nn;
			p->stack[node_st] = nn;
			((xnode *)node)->on = false;
			((xnode *)nn)->on = true;
			node = nn;
			if (last == fb)
				bookmark = na + 1;
			node_remove(last);
			node_append(p, node, last);
			last = node;
		}
		node_remove(last);
		place w = where(p, common);
		node_insert(p, w.parent, last, w.at);
		GumboNode *ne = clone_element(p, fe);
		GumboVector *fk = kids(fb);
		for (unsigned i = 0; i < fk->length; i++) {
			GumboNode *k = fk->data[i];
			vec_insert(p, kids(ne), k, kids(ne)->length);
			k->parent = ne;
			k->index_within_parent = i;
		}
		fk->length = 0;
		node_append(p, fb, ne);
		/* formatting element out of the list, the new one in at the bookmark */
		size_t fa;
		if (afl_find(p, fe, &fa)) {
			memmove(p->afl + fa, p->afl + fa + 1, (p->nafl - fa - 1) * sizeof *p->afl);
			p->nafl--;
			if (fa < bookmark)
				bookmark--;
		}
		if (bookmark > p->nafl)
			bookmark = p->nafl;
		afl_push_raw(p, NULL);
		memmove(p->afl + bookmark + 1, p->afl + bookmark, (p->nafl - 1 - bookmark) * sizeof *p->afl);
		p->afl[bookmark] = ne;
		/* and in the stack: fe out, ne just below fb */
		stack_remove(p, fe);
		size_t fbi = 0;
		on_stack(p, fb, &fbi);
		push(p, ne); /* grows and counts; then move into place */
		memmove(p->stack + fbi + 2, p->stack + fbi + 1, (p->depth - fbi - 2) * sizeof *p->stack);
		p->stack[fbi + 1] = ne;
	}
}

/* ---- insertion mode reset ---- */

static void reset_mode(P *p)
{
	for (size_t i = p->depth; i-- > 0;) {
		GumboNode *n = p->stack[i];
		bool last = i == 0;
		if (!is_html_ns(n)) {
			if (last) {
				p->mode = M_IN_BODY;
				return;
			}
			continue;
		}
		switch (EL(n)->tag) {
		case G(SELECT):
			for (size_t j = i; !last && j-- > 0;) {
				if (is_tag(p->stack[j], G(TEMPLATE)))
					break;
				if (is_tag(p->stack[j], G(TABLE))) {
					p->mode = M_IN_SELECT_IN_TABLE;
					return;
				}
			}
			p->mode = M_IN_SELECT;
			return;
		case G(TD):
		case G(TH):
			if (!last) {
				p->mode = M_IN_CELL;
				return;
			}
			break;
		case G(TR): p->mode = M_IN_ROW; return;
		case G(TBODY):
		case G(THEAD):
		case G(TFOOT): p->mode = M_IN_TBODY; return;
		case G(CAPTION): p->mode = M_IN_CAPTION; return;
		case G(COLGROUP): p->mode = M_IN_COLGROUP; return;
		case G(TABLE): p->mode = M_IN_TABLE; return;
		case G(TEMPLATE): p->mode = p->ntm ? (enum mode)p->tmodes[p->ntm - 1] : M_IN_BODY; return;
		case G(HEAD):
			if (!last) {
				p->mode = M_IN_HEAD;
				return;
			}
			break;
		case G(BODY): p->mode = M_IN_BODY; return;
		case G(FRAMESET): p->mode = M_IN_FRAMESET; return;
		case G(HTML): p->mode = p->head ? M_AFTER_HEAD : M_BEFORE_HEAD; return;
		default: break;
		}
		if (last) {
			p->mode = M_IN_BODY;
			return;
		}
	}
	p->mode = M_IN_BODY;
}

static void tmode_push(P *p, enum mode m)
{
	if (p->ntm == p->captm) {
		p->captm = p->captm ? p->captm * 2 : 8;
		p->tmodes = bw_xrealloc(p->tmodes, p->captm * sizeof *p->tmodes);
	}
	p->tmodes[p->ntm++] = (int)m;
}

static void raw_element(P *p, const tok *t, enum tstate ts)
{
	insert(p, t);
	p->ts = ts;
	size_t n = t->nlen < sizeof p->rawname ? t->nlen : sizeof p->rawname;
	memcpy(p->rawname, t->name, n);
	p->rawlen = n;
	p->orig_mode = p->mode;
	p->mode = M_TEXT;
}

/* ---- foreign content ---- */

static const char *const svg_attr_fix[][2] = {
	{"attributename", "attributeName"}, {"attributetype", "attributeType"}, {"basefrequency", "baseFrequency"},
	{"baseprofile", "baseProfile"}, {"calcmode", "calcMode"}, {"clippathunits", "clipPathUnits"},
	{"diffuseconstant", "diffuseConstant"}, {"edgemode", "edgeMode"}, {"filterunits", "filterUnits"},
	{"glyphref", "glyphRef"}, {"gradienttransform", "gradientTransform"}, {"gradientunits", "gradientUnits"},
	{"kernelmatrix", "kernelMatrix"}, {"kernelunitlength", "kernelUnitLength"}, {"keypoints", "keyPoints"},
	{"keysplines", "keySplines"}, {"keytimes", "keyTimes"}, {"lengthadjust", "lengthAdjust"},
	{"limitingconeangle", "limitingConeAngle"}, {"markerheight", "markerHeight"}, {"markerunits", "markerUnits"},
	{"markerwidth", "markerWidth"}, {"maskcontentunits", "maskContentUnits"}, {"maskunits", "maskUnits"},
	{"numoctaves", "numOctaves"}, {"pathlength", "pathLength"}, {"patterncontentunits", "patternContentUnits"},
	{"patterntransform", "patternTransform"}, {"patternunits", "patternUnits"}, {"pointsatx", "pointsAtX"},
	{"pointsaty", "pointsAtY"}, {"pointsatz", "pointsAtZ"}, {"preservealpha", "preserveAlpha"},
	{"preserveaspectratio", "preserveAspectRatio"}, {"primitiveunits", "primitiveUnits"}, {"refx", "refX"},
	{"refy", "refY"}, {"repeatcount", "repeatCount"}, {"repeatdur", "repeatDur"},
	{"requiredextensions", "requiredExtensions"}, {"requiredfeatures", "requiredFeatures"},
	{"specularconstant", "specularConstant"}, {"specularexponent", "specularExponent"},
	{"spreadmethod", "spreadMethod"}, {"startoffset", "startOffset"}, {"stddeviation", "stdDeviation"},
	{"stitchtiles", "stitchTiles"}, {"surfacescale", "surfaceScale"}, {"systemlanguage", "systemLanguage"},
	{"tablevalues", "tableValues"}, {"targetx", "targetX"}, {"targety", "targetY"}, {"textlength", "textLength"},
	{"viewbox", "viewBox"}, {"viewtarget", "viewTarget"}, {"xchannelselector", "xChannelSelector"},
	{"ychannelselector", "yChannelSelector"}, {"zoomandpan", "zoomAndPan"},
};

static const struct {
	const char *from, *to;
	GumboAttributeNamespaceEnum ns;
} foreign_attr_fix[] = {
	{"xlink:actuate", "actuate", GUMBO_ATTR_NAMESPACE_XLINK}, {"xlink:arcrole", "arcrole", GUMBO_ATTR_NAMESPACE_XLINK},
	{"xlink:href", "href", GUMBO_ATTR_NAMESPACE_XLINK},       {"xlink:role", "role", GUMBO_ATTR_NAMESPACE_XLINK},
	{"xlink:show", "show", GUMBO_ATTR_NAMESPACE_XLINK},       {"xlink:title", "title", GUMBO_ATTR_NAMESPACE_XLINK},
	{"xlink:type", "type", GUMBO_ATTR_NAMESPACE_XLINK},       {"xml:lang", "lang", GUMBO_ATTR_NAMESPACE_XML},
	{"xml:space", "space", GUMBO_ATTR_NAMESPACE_XML},         {"xmlns", "xmlns", GUMBO_ATTR_NAMESPACE_XMLNS},
	{"xmlns:xlink", "xlink", GUMBO_ATTR_NAMESPACE_XMLNS},
};

static void adjust_attrs(tok *t, GumboNamespaceEnum ns)
{
	for (unsigned i = 0; i < t->nattrs; i++) {
		GumboAttribute *a = t->attrs[i];
		if (ns == GUMBO_NAMESPACE_SVG) {
			for (size_t j = 0; j < sizeof svg_attr_fix / sizeof *svg_attr_fix; j++)
				if (!strcmp(a->name, svg_attr_fix[j][0])) {
					a->name = svg_attr_fix[j][1];
					break;
				}
		} else if (ns == GUMBO_NAMESPACE_MATHML && !strcmp(a->name, "definitionurl")) {
			a->name = "definitionURL";
		}
		if (a->name[0] == 'x')
			for (size_t j = 0; j < sizeof foreign_attr_fix / sizeof *foreign_attr_fix; j++)
				if (!strcmp(a->name, foreign_attr_fix[j].from)) {
					a->name = foreign_attr_fix[j].to;
					a->attr_namespace = foreign_attr_fix[j].ns;
					break;
				}
	}
}

static GumboNode *insert_foreign(P *p, tok *t, GumboNamespaceEnum ns)
{
	adjust_attrs(t, ns);
	GumboNode *n = insert_element_at(p, make_element(p, t, ns), NULL);
	if (t->selfclose)
		pop(p);
	return n;
}

static bool html_integration_point(const GumboNode *n)
{
	GumboTag t = n->v.element.tag;
	if (n->v.element.tag_namespace == GUMBO_NAMESPACE_SVG)
		return t == G(FOREIGNOBJECT) || t == G(DESC) || t == G(TITLE);
	if (n->v.element.tag_namespace == GUMBO_NAMESPACE_MATHML && t == G(ANNOTATION_XML)) {
		const GumboVector *v = &n->v.element.attributes;
		for (unsigned i = 0; i < v->length; i++) {
			const GumboAttribute *a = v->data[i];
			if (!strcmp(a->name, "encoding") &&
			    (bw_ascii_iequal(a->value, "text/html") || bw_ascii_iequal(a->value, "application/xhtml+xml")))
				return true;
		}
	}
	return false;
}

static bool mathml_text_point(const GumboNode *n)
{
	GumboTag t = n->v.element.tag;
	return n->v.element.tag_namespace == GUMBO_NAMESPACE_MATHML &&
	       (t == G(MI) || t == G(MO) || t == G(MN) || t == G(MS) || t == G(MTEXT));
}

static bool use_foreign_rules(P *p, const tok *t)
{
	GumboNode *n = cur(p);
	if (!n || is_html_ns(n) || t->type == T_EOF)
		return false;
	if (mathml_text_point(n) &&
	    ((t->type == T_START && t->tag != G(MGLYPH) && t->tag != G(MALIGNMARK)) || t->type == T_CHARS))
		return false;
	if (EL(n)->tag_namespace == GUMBO_NAMESPACE_MATHML && EL(n)->tag == G(ANNOTATION_XML) && t->type == T_START &&
	    t->tag == G(SVG))
		return false;
	if (html_integration_point(n) && (t->type == T_START || t->type == T_CHARS))
		return false;
	return true;
}

static bool tok_has_attr(const tok *t, const char *name)
{
	for (unsigned i = 0; i < t->nattrs; i++)
		if (!strcmp(t->attrs[i]->name, name))
			return true;
	return false;
}

/* Returns false when the token is to be processed by the insertion mode. */
static bool foreign(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS:
		add_text(p, t->text, t->tlen, t->start, t->cdata);
		for (size_t i = 0; i < t->tlen; i++)
			if (!is_ws((unsigned char)t->text[i])) {
				p->frameset_ok = false;
				break;
			}
		return true;
	case T_COMMENT:
		insert_comment(p, t, NULL);
		return true;
	case T_DOCTYPE:
		return true;
	case T_START: {
		switch (t->tag) {
		case G(B): case G(BIG): case G(BLOCKQUOTE): case G(BODY): case G(BR): case G(CENTER): case G(CODE):
		case G(DD): case G(DIV): case G(DL): case G(DT): case G(EM): case G(EMBED): case G(H1): case G(H2):
		case G(H3): case G(H4): case G(H5): case G(H6): case G(HEAD): case G(HR): case G(I): case G(IMG):
		case G(LI): case G(LISTING): case G(MENU): case G(META): case G(NOBR): case G(OL): case G(P):
		case G(PRE): case G(RUBY): case G(S): case G(SMALL): case G(SPAN): case G(STRONG): case G(STRIKE):
		case G(SUB): case G(SUP): case G(TABLE): case G(TT): case G(U): case G(UL): case G(VAR):
			break;
		case G(FONT):
			if (tok_has_attr(t, "color") || tok_has_attr(t, "face") || tok_has_attr(t, "size"))
				break;
			/* fall through */
		default:
			insert_foreign(p, t, EL(cur(p))->tag_namespace);
			return true;
		}
		while (p->depth > 1 && !is_html_ns(cur(p)) && !mathml_text_point(cur(p)) &&
		       !html_integration_point(cur(p)))
			pop(p);
		return false;
	}
	case T_END: {
		size_t i = p->depth - 1;
		GumboNode *n = p->stack[i];
		for (;;) {
			if (i == 0)
				return true;
			if (same_name(n, t)) {
				while (p->depth > i)
					pop(p);
				return true;
			}
			n = p->stack[--i];
			if (is_html_ns(n))
				return false;
		}
	}
	default:
		return false;
	}
}

/* ---- insertion modes ---- */

static size_t ws_prefix(const tok *t)
{
	size_t i = 0;
	while (i < t->tlen && is_ws((unsigned char)t->text[i]))
		i++;
	return i;
}

/* Removes the first k characters (white space) of a character token; the
 * document offset moves over as many white-space bytes. */
static void drop_prefix(P *p, tok *t, size_t k)
{
	t->text += k;
	t->tlen -= k;
	size_t s = t->start;
	for (size_t i = 0; i < k && s < p->len; i++) {
		if (p->h[s] == '\r' && s + 1 < p->len && p->h[s + 1] == '\n')
			s++;
		s++;
	}
	t->start = s;
}

static void body_chars(P *p, tok *t)
{
	if (!t->tlen)
		return;
	reconstruct(p);
	add_text(p, t->text, t->tlen, t->start, t->cdata);
	if (ws_prefix(t) < t->tlen)
		p->frameset_ok = false;
}

static bool in_head(P *p, tok *t);
static bool in_body(P *p, tok *t);
static bool in_table(P *p, tok *t);
static bool in_select(P *p, tok *t);

/* Leading white space of a character token is inserted as text and dropped
 * from the token; true when nothing is left. */
static bool insert_leading_ws(P *p, tok *t)
{
	size_t k = ws_prefix(t);
	if (k) {
		add_text(p, t->text, k, t->start, false);
		drop_prefix(p, t, k);
	}
	return !t->tlen;
}

/* The steps "in head", "after head" and "in column group" open with: white
 * space is inserted, a comment is inserted, a DOCTYPE is ignored. True when
 * the token is used up; a character token may come back shortened. */
static bool opening_steps(P *p, tok *t)
{
	if (t->type == T_CHARS)
		return insert_leading_ws(p, t);
	if (t->type == T_COMMENT) {
		insert_comment(p, t, NULL);
		return true;
	}
	return t->type == T_DOCTYPE;
}

static bool initial(P *p, tok *t)
{
	if (t->type == T_CHARS) {
		size_t k = ws_prefix(t);
		drop_prefix(p, t, k);
		if (!t->tlen)
			return true;
	} else if (t->type == T_COMMENT) {
		insert_comment(p, t, p->doc);
		return true;
	} else if (t->type == T_DOCTYPE) {
		GumboDocument *d = &p->doc->v.document;
		d->has_doctype = true;
		d->name = xstrndup(p, t->dt_name, strlen(t->dt_name));
		d->public_identifier = xstrndup(p, t->dt_pub, strlen(t->dt_pub));
		d->system_identifier = xstrndup(p, t->dt_sys, strlen(t->dt_sys));
		/* The spec's lists, compared as Gumbo 0.10.1 does: the "prefixes"
		 * must match the whole identifier (ASCII case-insensitively), the
		 * exact matches are case-sensitive. So "-//W3C//DTD HTML 4.0
		 * Transitional//EN" is no-quirks here as in Gumbo (quirks in
		 * browsers). */
		static const char *const quirk_ids[] = {
			"+//Silmaril//dtd html Pro v0r11 19970101//", "-//AdvaSoft Ltd//DTD HTML 3.0 asWedit + extensions//",
			"-//AS//DTD HTML 3.0 asWedit + extensions//", "-//IETF//DTD HTML 2.0 Level 1//",
			"-//IETF//DTD HTML 2.0 Level 2//", "-//IETF//DTD HTML 2.0 Strict Level 1//",
			"-//IETF//DTD HTML 2.0 Strict Level 2//", "-//IETF//DTD HTML 2.0 Strict//", "-//IETF//DTD HTML 2.0//",
			"-//IETF//DTD HTML 2.1E//", "-//IETF//DTD HTML 3.0//", "-//IETF//DTD HTML 3.2 Final//",
			"-//IETF//DTD HTML 3.2//", "-//IETF//DTD HTML 3//", "-//IETF//DTD HTML Level 0//",
			"-//IETF//DTD HTML Level 1//", "-//IETF//DTD HTML Level 2//", "-//IETF//DTD HTML Level 3//",
			"-//IETF//DTD HTML Strict Level 0//", "-//IETF//DTD HTML Strict Level 1//",
			"-//IETF//DTD HTML Strict Level 2//", "-//IETF//DTD HTML Strict Level 3//",
			"-//IETF//DTD HTML Strict//", "-//IETF//DTD HTML//", "-//Metrius//DTD Metrius Presentational//",
			"-//Microsoft//DTD Internet Explorer 2.0 HTML Strict//",
			"-//Microsoft//DTD Internet Explorer 2.0 HTML//", "-//Microsoft//DTD Internet Explorer 2.0 Tables//",
			"-//Microsoft//DTD Internet Explorer 3.0 HTML Strict//",
			"-//Microsoft//DTD Internet Explorer 3.0 HTML//", "-//Microsoft//DTD Internet Explorer 3.0 Tables//",
			"-//Netscape Comm. Corp.//DTD HTML//", "-//Netscape Comm. Corp.//DTD Strict HTML//",
			"-//O'Reilly and Associates//DTD HTML 2.0//", "-//O'Reilly and Associates//DTD HTML Extended 1.0//",
			"-//O'Reilly and Associates//DTD HTML Extended Relaxed 1.0//",
			"-//SoftQuad Software//DTD HoTMetaL PRO 6.0::19990601::extensions to HTML 4.0//",
			"-//SoftQuad//DTD HoTMetaL PRO 4.0::19971010::extensions to HTML 4.0//",
			"-//Spyglass//DTD HTML 2.0 Extended//", "-//SQ//DTD HTML 2.0 HoTMetaL + extensions//",
			"-//Sun Microsystems Corp.//DTD HotJava HTML//", "-//Sun Microsystems Corp.//DTD HotJava Strict HTML//",
			"-//W3C//DTD HTML 3 1995-03-24//", "-//W3C//DTD HTML 3.2 Draft//", "-//W3C//DTD HTML 3.2 Final//",
			"-//W3C//DTD HTML 3.2//", "-//W3C//DTD HTML 3.2S Draft//", "-//W3C//DTD HTML 4.0 Frameset//",
			"-//W3C//DTD HTML 4.0 Transitional//", "-//W3C//DTD HTML Experimental 19960712//",
			"-//W3C//DTD HTML Experimental 970421//", "-//W3C//DTD W3 HTML//", "-//W3O//DTD W3 HTML 3.0//",
			"-//WebTechs//DTD Mozilla HTML 2.0//", "-//WebTechs//DTD Mozilla HTML//", NULL};
		const char *pub = t->dt_pub, *sys = t->dt_sys;
		bool q = t->force_quirks || strcmp(t->dt_name, "html") ||
			 !strcmp(pub, "-//W3O//DTD W3 HTML Strict 3.0//EN//") ||
			 !strcmp(pub, "-/W3C/DTD HTML 4.0 Transitional/EN") || !strcmp(pub, "HTML") ||
			 !strcmp(sys, "http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd");
		for (size_t i = 0; !q && quirk_ids[i]; i++)
			q = bw_ascii_iequal(pub, quirk_ids[i]);
		bool frames = bw_ascii_iequal(pub, "-//W3C//DTD HTML 4.01 Frameset//") ||
			      bw_ascii_iequal(pub, "-//W3C//DTD HTML 4.01 Transitional//");
		if (!q && frames && !t->has_sys)
			q = true;
		if (q)
			d->doc_type_quirks_mode = GUMBO_DOCTYPE_QUIRKS;
		else if (frames || bw_ascii_iequal(pub, "-//W3C//DTD XHTML 1.0 Frameset//") ||
			 bw_ascii_iequal(pub, "-//W3C//DTD XHTML 1.0 Transitional//"))
			d->doc_type_quirks_mode = GUMBO_DOCTYPE_LIMITED_QUIRKS;
		p->quirks = q;
		p->mode = M_BEFORE_HTML;
		return true;
	}
	p->doc->v.document.doc_type_quirks_mode = GUMBO_DOCTYPE_QUIRKS;
	p->quirks = true;
	p->mode = M_BEFORE_HTML;
	return false;
}

static bool is_end_of(const tok *t, GumboTag a)
{
	return t->type == T_END && t->tag == a;
}

static bool before_html(P *p, tok *t)
{
	if (t->type == T_DOCTYPE)
		return true;
	if (t->type == T_COMMENT) {
		insert_comment(p, t, p->doc);
		return true;
	}
	if (t->type == T_CHARS) {
		drop_prefix(p, t, ws_prefix(t));
		if (!t->tlen)
			return true;
	}
	if (t->type == T_START && t->tag == G(HTML)) {
		GumboNode *n = make_element(p, t, GUMBO_NAMESPACE_HTML);
		node_append(p, p->doc, n);
		push(p, n);
		p->out->root = n;
		p->mode = M_BEFORE_HEAD;
		return true;
	}
	if (t->type == T_END && t->tag != G(HEAD) && t->tag != G(BODY) && t->tag != G(HTML) && t->tag != G(BR))
		return true;
	tok h = {.type = T_START, .tag = G(HTML)};
	GumboNode *n = make_element(p, &h, GUMBO_NAMESPACE_HTML);
	n->parse_flags = GUMBO_INSERTION_IMPLIED | GUMBO_INSERTION_BY_PARSER;
	node_append(p, p->doc, n);
	push(p, n);
	p->out->root = n;
	p->mode = M_BEFORE_HEAD;
	return false;
}

static bool before_head(P *p, tok *t)
{
	if (t->type == T_CHARS) {
		drop_prefix(p, t, ws_prefix(t));
		if (!t->tlen)
			return true;
	} else if (t->type == T_COMMENT) {
		insert_comment(p, t, NULL);
		return true;
	} else if (t->type == T_DOCTYPE) {
		return true;
	} else if (t->type == T_START && t->tag == G(HTML)) {
		return in_body(p, t);
	} else if (t->type == T_START && t->tag == G(HEAD)) {
		p->head = insert(p, t);
		p->mode = M_IN_HEAD;
		return true;
	} else if (t->type == T_END && t->tag != G(HEAD) && t->tag != G(BODY) && t->tag != G(HTML) &&
		   t->tag != G(BR)) {
		return true;
	}
	p->head = insert_implied(p, G(HEAD));
	p->mode = M_IN_HEAD;
	return false;
}

static void end_template(P *p)
{
	if (!p->counts[G(TEMPLATE)])
		return;
	implied_end_thorough(p);
	pop_until(p, G(TEMPLATE));
	afl_clear_to_marker(p);
	if (p->ntm)
		p->ntm--;
	reset_mode(p);
}

static bool in_head(P *p, tok *t)
{
	if (opening_steps(p, t))
		return true;
	if (t->type == T_START) {
		switch (t->tag) {
		case G(HTML):
			return in_body(p, t);
		case G(BASE): case G(BASEFONT): case G(BGSOUND): case G(LINK): case G(META): case G(MENUITEM):
			insert(p, t);
			pop(p);
			return true;
		case G(TITLE):
			raw_element(p, t, TS_RCDATA);
			return true;
		case G(NOFRAMES): case G(STYLE):
			raw_element(p, t, TS_RAWTEXT);
			return true;
		case G(NOSCRIPT):
			insert(p, t);
			p->mode = M_IN_HEAD_NOSCRIPT;
			return true;
		case G(SCRIPT):
			raw_element(p, t, TS_RAWTEXT);
			return true;
		case G(TEMPLATE):
			insert(p, t);
			afl_push_raw(p, NULL);
			p->frameset_ok = false;
			p->mode = M_IN_TEMPLATE;
			tmode_push(p, M_IN_TEMPLATE);
			return true;
		case G(HEAD):
			return true;
		default:
			break;
		}
	} else if (t->type == T_END) {
		switch (t->tag) {
		case G(HEAD):
			pop(p);
			p->mode = M_AFTER_HEAD;
			return true;
		case G(BODY): case G(HTML): case G(BR):
			break;
		case G(TEMPLATE):
			end_template(p);
			return true;
		default:
			return true;
		}
	}
	pop(p);
	p->mode = M_AFTER_HEAD;
	return false;
}

static bool in_head_noscript(P *p, tok *t)
{
	if (t->type == T_DOCTYPE)
		return true;
	if (t->type == T_START && t->tag == G(HTML))
		return in_body(p, t);
	if (is_end_of(t, G(NOSCRIPT))) {
		pop(p);
		p->mode = M_IN_HEAD;
		return true;
	}
	if (t->type == T_COMMENT)
		return in_head(p, t);
	if (t->type == T_CHARS && insert_leading_ws(p, t))
		return true;
	if (t->type == T_START && (t->tag == G(BASEFONT) || t->tag == G(BGSOUND) || t->tag == G(LINK) ||
				   t->tag == G(META) || t->tag == G(NOFRAMES) || t->tag == G(STYLE)))
		return in_head(p, t);
	if (t->type == T_START && (t->tag == G(HEAD) || t->tag == G(NOSCRIPT)))
		return true;
	if (t->type == T_END && t->tag != G(BR))
		return true;
	pop(p);
	p->mode = M_IN_HEAD;
	return false;
}

static bool after_head(P *p, tok *t)
{
	if (opening_steps(p, t))
		return true;
	if (t->type == T_START) {
		if (t->tag == G(HTML))
			return in_body(p, t);
		if (t->tag == G(BODY)) {
			insert(p, t);
			p->frameset_ok = false;
			p->mode = M_IN_BODY;
			return true;
		}
		if (t->tag == G(FRAMESET)) {
			insert(p, t);
			p->mode = M_IN_FRAMESET;
			return true;
		}
		if (set_has(p->set_headlike, t->tag)) {
			flush_text(p); /* pending white space belongs to html */
			push(p, p->head);
			in_head(p, t);
			stack_remove(p, p->head);
			return true;
		}
		if (t->tag == G(HEAD))
			return true;
	} else if (t->type == T_END) {
		if (t->tag == G(TEMPLATE))
			return in_head(p, t);
		if (t->tag != G(BODY) && t->tag != G(HTML) && t->tag != G(BR))
			return true;
	}
	insert_implied(p, G(BODY));
	p->mode = M_IN_BODY;
	return false;
}

static bool body_start(P *p, tok *t)
{
	GumboTag tag = t->tag;
	switch (tag) {
	case G(HTML):
		if (!p->counts[G(TEMPLATE)] && p->depth)
			merge_attrs(p, p->stack[0], t);
		return true;
	case G(BASE): case G(BASEFONT): case G(BGSOUND): case G(LINK): case G(META): case G(NOFRAMES):
	case G(SCRIPT): case G(STYLE): case G(TEMPLATE): case G(TITLE): case G(MENUITEM):
		return in_head(p, t);
	case G(BODY):
		if (p->depth < 2 || !is_tag(p->stack[1], G(BODY)) || p->counts[G(TEMPLATE)])
			return true;
		p->frameset_ok = false;
		merge_attrs(p, p->stack[1], t);
		return true;
	case G(FRAMESET):
		return true;
	case G(ADDRESS): case G(ARTICLE): case G(ASIDE): case G(BLOCKQUOTE): case G(CENTER): case G(DETAILS):
	case G(DIR): case G(DIV): case G(DL): case G(FIELDSET): case G(FIGCAPTION): case G(FIGURE):
	case G(FOOTER): case G(HEADER): case G(HGROUP): case G(MENU): case G(MAIN): case G(NAV): case G(OL):
	case G(P): case G(SECTION): case G(SUMMARY): case G(UL):
		close_p_in_button_scope(p);
		insert(p, t);
		return true;
	case G(H1): case G(H2): case G(H3): case G(H4): case G(H5): case G(H6):
		close_p_in_button_scope(p);
		if (is_html_ns(cur(p)) && EL(cur(p))->tag >= G(H1) && EL(cur(p))->tag <= G(H6))
			pop(p);
		insert(p, t);
		return true;
	case G(PRE): case G(LISTING):
		close_p_in_button_scope(p);
		insert(p, t);
		p->ignore_lf = true;
		p->frameset_ok = false;
		return true;
	case G(FORM):
		if (p->form && !p->counts[G(TEMPLATE)])
			return true;
		close_p_in_button_scope(p);
		{
			GumboNode *f = insert(p, t);
			if (!p->counts[G(TEMPLATE)])
				p->form = f;
		}
		return true;
	case G(LI): case G(DD): case G(DT): {
		p->frameset_ok = false;
		for (size_t i = p->depth; i-- > 0;) {
			GumboNode *n = p->stack[i];
			GumboTag nt = EL(n)->tag;
			if (is_html_ns(n) && (tag == G(LI) ? nt == G(LI) : (nt == G(DD) || nt == G(DT)))) {
				implied_end(p, nt);
				pop_until(p, nt);
				break;
			}
			if (is_special(p, n) && !is_tag(n, G(ADDRESS)) && !is_tag(n, G(DIV)) && !is_tag(n, G(P)))
				break;
		}
		close_p_in_button_scope(p);
		insert(p, t);
		return true;
	}
	case G(PLAINTEXT):
		close_p_in_button_scope(p);
		insert(p, t);
		p->ts = TS_PLAINTEXT;
		return true;
	case G(BUTTON):
		if (in_scope(p, G(BUTTON), SC_DEFAULT)) {
			implied_end(p, G(LAST));
			pop_until(p, G(BUTTON));
		}
		reconstruct(p);
		insert(p, t);
		p->frameset_ok = false;
		return true;
	case G(A):
		for (size_t i = p->nafl; i-- > 0;) {
			GumboNode *x = p->afl[i];
			if (!x)
				break;
			if (is_tag(x, G(A))) {
				tok e = {.type = T_END, .tag = G(A), .name = "a", .nlen = 1};
				adoption(p, &e);
				/* then the last <a> in the list (which may be a clone),
				 * as Gumbo does */
				for (size_t j = p->nafl; j-- > 0;) {
					GumboNode *y = p->afl[j];
					if (!y)
						break;
					if (is_tag(y, G(A))) {
						afl_remove(p, y);
						stack_remove(p, y);
						break;
					}
				}
				break;
			}
		}
		reconstruct(p);
		afl_push(p, insert(p, t));
		return true;
	case G(B): case G(BIG): case G(CODE): case G(EM): case G(FONT): case G(I): case G(S): case G(SMALL):
	case G(STRIKE): case G(STRONG): case G(TT): case G(U):
		reconstruct(p);
		afl_push(p, insert(p, t));
		return true;
	case G(NOBR):
		reconstruct(p);
		if (in_scope(p, G(NOBR), SC_DEFAULT)) {
			tok e = {.type = T_END, .tag = G(NOBR), .name = "nobr", .nlen = 4};
			adoption(p, &e);
			reconstruct(p);
		}
		afl_push(p, insert(p, t));
		return true;
	case G(APPLET): case G(MARQUEE): case G(OBJECT):
		reconstruct(p);
		insert(p, t);
		afl_push_raw(p, NULL);
		p->frameset_ok = false;
		return true;
	case G(TABLE):
		if (!p->quirks)
			close_p_in_button_scope(p);
		insert(p, t);
		p->frameset_ok = false;
		p->mode = M_IN_TABLE;
		return true;
	case G(AREA): case G(BR): case G(EMBED): case G(IMG): case G(KEYGEN): case G(WBR):
		reconstruct(p);
		insert(p, t);
		pop(p);
		p->frameset_ok = false;
		return true;
	case G(INPUT): {
		reconstruct(p);
		insert(p, t);
		pop(p);
		bool hidden = false;
		for (unsigned i = 0; i < t->nattrs; i++)
			if (!strcmp(t->attrs[i]->name, "type") && bw_ascii_iequal(t->attrs[i]->value, "hidden"))
				hidden = true;
		if (!hidden)
			p->frameset_ok = false;
		return true;
	}
	case G(PARAM): case G(SOURCE): case G(TRACK):
		insert(p, t);
		pop(p);
		return true;
	case G(HR):
		close_p_in_button_scope(p);
		insert(p, t);
		pop(p);
		p->frameset_ok = false;
		return true;
	case G(IMAGE):
		t->tag = G(IMG);
		return body_start(p, t);
	case G(TEXTAREA):
		insert(p, t);
		p->ignore_lf = true;
		p->ts = TS_RCDATA;
		memcpy(p->rawname, "textarea", 8);
		p->rawlen = 8;
		p->frameset_ok = false;
		p->orig_mode = p->mode;
		p->mode = M_TEXT;
		return true;
	case G(XMP):
		close_p_in_button_scope(p);
		reconstruct(p);
		p->frameset_ok = false;
		raw_element(p, t, TS_RAWTEXT);
		return true;
	case G(IFRAME):
		p->frameset_ok = false;
		raw_element(p, t, TS_RAWTEXT);
		return true;
	case G(NOEMBED):
		raw_element(p, t, TS_RAWTEXT);
		return true;
	case G(SELECT):
		reconstruct(p);
		insert(p, t);
		p->frameset_ok = false;
		p->mode = (p->mode == M_IN_TABLE || p->mode == M_IN_CAPTION || p->mode == M_IN_TBODY ||
			   p->mode == M_IN_ROW || p->mode == M_IN_CELL)
				  ? M_IN_SELECT_IN_TABLE
				  : M_IN_SELECT;
		return true;
	case G(OPTGROUP): case G(OPTION):
		if (is_tag(cur(p), G(OPTION)))
			pop(p);
		reconstruct(p);
		insert(p, t);
		return true;
	case G(RB): case G(RTC): case G(RP): case G(RT):
		if (in_scope(p, G(RUBY), SC_DEFAULT))
			implied_end(p, tag == G(RP) || tag == G(RT) ? G(RTC) : G(LAST));
		insert(p, t);
		return true;
	case G(MATH):
		reconstruct(p);
		insert_foreign(p, t, GUMBO_NAMESPACE_MATHML);
		return true;
	case G(SVG):
		reconstruct(p);
		insert_foreign(p, t, GUMBO_NAMESPACE_SVG);
		return true;
	case G(CAPTION): case G(COL): case G(COLGROUP): case G(FRAME): case G(HEAD): case G(TBODY): case G(TD):
	case G(TFOOT): case G(TH): case G(THEAD): case G(TR):
		return true;
	default:
		reconstruct(p);
		insert(p, t);
		return true;
	}
}

static bool body_end(P *p, tok *t)
{
	GumboTag tag = t->tag;
	switch (tag) {
	case G(TEMPLATE):
		return in_head(p, t);
	case G(BODY):
		if (in_scope(p, G(BODY), SC_DEFAULT))
			p->mode = M_AFTER_BODY;
		return true;
	case G(HTML):
		if (!in_scope(p, G(BODY), SC_DEFAULT))
			return true;
		p->mode = M_AFTER_BODY;
		return false;
	case G(ADDRESS): case G(ARTICLE): case G(ASIDE): case G(BLOCKQUOTE): case G(BUTTON): case G(CENTER):
	case G(DETAILS): case G(DIR): case G(DIV): case G(DL): case G(FIELDSET): case G(FIGCAPTION):
	case G(FIGURE): case G(FOOTER): case G(HEADER): case G(HGROUP): case G(LISTING): case G(MAIN):
	case G(MENU): case G(NAV): case G(OL): case G(PRE): case G(SECTION): case G(SUMMARY): case G(UL):
		if (!in_scope(p, tag, SC_DEFAULT))
			return true;
		implied_end(p, G(LAST));
		pop_until(p, tag);
		return true;
	case G(FORM):
		if (!p->counts[G(TEMPLATE)]) {
			GumboNode *f = p->form;
			p->form = NULL;
			if (!f || !node_in_scope(p, f, SC_DEFAULT))
				return true;
			implied_end(p, G(LAST));
			stack_remove(p, f);
		} else {
			if (!in_scope(p, G(FORM), SC_DEFAULT))
				return true;
			implied_end(p, G(LAST));
			pop_until(p, G(FORM));
		}
		return true;
	case G(P):
		if (!in_scope(p, G(P), SC_BUTTON)) {
			tok s = {.type = T_START, .tag = G(P), .name = "p", .nlen = 1, .start = t->start};
			GumboNode *n = make_element(p, &s, GUMBO_NAMESPACE_HTML);
			n->parse_flags = GUMBO_INSERTION_CONVERTED_FROM_END_TAG;
			insert_element_at(p, n, NULL);
		}
		close_p(p);
		return true;
	case G(LI):
		if (!in_scope(p, G(LI), SC_LIST))
			return true;
		implied_end(p, G(LI));
		pop_until(p, G(LI));
		return true;
	case G(DD): case G(DT):
		if (!in_scope(p, tag, SC_DEFAULT))
			return true;
		implied_end(p, tag);
		pop_until(p, tag);
		return true;
	case G(H1): case G(H2): case G(H3): case G(H4): case G(H5): case G(H6):
		if (!heading_in_scope(p))
			return true;
		implied_end(p, G(LAST));
		while (p->depth) {
			GumboNode *n = pop(p);
			if (is_html_ns(n) && EL(n)->tag >= G(H1) && EL(n)->tag <= G(H6))
				break;
		}
		return true;
	case G(A): case G(B): case G(BIG): case G(CODE): case G(EM): case G(FONT): case G(I): case G(NOBR):
	case G(S): case G(SMALL): case G(STRIKE): case G(STRONG): case G(TT): case G(U):
		adoption(p, t);
		return true;
	case G(APPLET): case G(MARQUEE): case G(OBJECT):
		if (!in_scope(p, tag, SC_TABLE)) /* (Gumbo: table scope) */
			return true;
		implied_end(p, G(LAST));
		pop_until(p, tag);
		afl_clear_to_marker(p);
		return true;
	case G(BR): {
		/* a <br> made by the parser: no original tag, as in Gumbo */
		tok s = *t;
		s.type = T_START;
		s.nattrs = 0;
		s.start = s.end = 0;
		return body_start(p, &s);
	}
	default:
		any_other_end(p, t);
		return true;
	}
}

static bool in_body(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS:
		body_chars(p, t);
		return true;
	case T_COMMENT:
		insert_comment(p, t, NULL);
		return true;
	case T_DOCTYPE:
		return true;
	case T_START:
		return body_start(p, t);
	case T_END:
		return body_end(p, t);
	case T_EOF:
		if (p->ntm && p->counts[G(TEMPLATE)]) {
			end_template(p);
			return false;
		}
		p->done = true;
		return true;
	}
	return true;
}

static void clear_to(P *p, GumboTag a, GumboTag b, GumboTag c)
{
	while (p->depth && !is_tag(cur(p), a) && !is_tag(cur(p), b) && !is_tag(cur(p), c) &&
	       !is_tag(cur(p), G(TEMPLATE)) && !is_tag(cur(p), G(HTML)))
		pop(p);
}

static bool in_table(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS:
		/* (Gumbo does not check that the current node is a table element) */
		p->orig_mode = p->mode;
		p->mode = M_IN_TABLE_TEXT;
		return false;
	case T_COMMENT:
		insert_comment(p, t, NULL);
		return true;
	case T_DOCTYPE:
		return true;
	case T_START:
		switch (t->tag) {
		case G(CAPTION):
			clear_to(p, G(TABLE), G(TABLE), G(TABLE));
			afl_push_raw(p, NULL);
			insert(p, t);
			p->mode = M_IN_CAPTION;
			return true;
		case G(COLGROUP):
			clear_to(p, G(TABLE), G(TABLE), G(TABLE));
			insert(p, t);
			p->mode = M_IN_COLGROUP;
			return true;
		case G(COL):
			clear_to(p, G(TABLE), G(TABLE), G(TABLE));
			insert_implied(p, G(COLGROUP));
			p->mode = M_IN_COLGROUP;
			return false;
		case G(TBODY): case G(TFOOT): case G(THEAD):
			clear_to(p, G(TABLE), G(TABLE), G(TABLE));
			insert(p, t);
			p->mode = M_IN_TBODY;
			return true;
		case G(TD): case G(TH): case G(TR):
			clear_to(p, G(TABLE), G(TABLE), G(TABLE));
			insert_implied(p, G(TBODY));
			p->mode = M_IN_TBODY;
			return false;
		case G(TABLE):
			if (!in_scope(p, G(TABLE), SC_TABLE))
				return true;
			pop_until(p, G(TABLE));
			reset_mode(p);
			return false;
		case G(STYLE): case G(SCRIPT): case G(TEMPLATE):
			return in_head(p, t);
		case G(INPUT): {
			bool hidden = false;
			for (unsigned i = 0; i < t->nattrs; i++)
				if (!strcmp(t->attrs[i]->name, "type") && bw_ascii_iequal(t->attrs[i]->value, "hidden"))
					hidden = true;
			if (!hidden)
				break;
			insert(p, t);
			pop(p);
			return true;
		}
		case G(FORM):
			if (p->counts[G(TEMPLATE)] || p->form)
				return true;
			p->form = insert(p, t);
			pop(p);
			return true;
		default:
			break;
		}
		break;
	case T_END:
		switch (t->tag) {
		case G(TABLE):
			if (!in_scope(p, G(TABLE), SC_TABLE))
				return true;
			pop_until(p, G(TABLE));
			reset_mode(p);
			return true;
		case G(BODY): case G(CAPTION): case G(COL): case G(COLGROUP): case G(HTML): case G(TBODY): case G(TD):
		case G(TFOOT): case G(TH): case G(THEAD): case G(TR):
			return true;
		case G(TEMPLATE):
			return in_head(p, t);
		default:
			break;
		}
		break;
	case T_EOF:
		return in_body(p, t);
	}
	p->foster = true;
	bool r = in_body(p, t);
	p->foster = false;
	return r;
}

static bool in_table_text(P *p, tok *t)
{
	if (t->type == T_CHARS) {
		add_text(p, t->text, t->tlen, t->start, t->cdata);
		return true;
	}
	if (p->text_on && p->text_type != GUMBO_NODE_WHITESPACE) {
		p->foster = true;
		reconstruct(p);
	}
	flush_text(p);
	p->foster = false;
	p->mode = p->orig_mode;
	return false;
}

static bool in_caption(P *p, tok *t)
{
	bool close = false;
	if (is_end_of(t, G(CAPTION))) {
		if (!in_scope(p, G(CAPTION), SC_TABLE))
			return true;
		implied_end(p, G(LAST));
		pop_until(p, G(CAPTION));
		afl_clear_to_marker(p);
		p->mode = M_IN_TABLE;
		return true;
	}
	if (t->type == T_START) {
		switch (t->tag) {
		case G(CAPTION): case G(COL): case G(COLGROUP): case G(TBODY): case G(TD): case G(TFOOT): case G(TH):
		case G(THEAD): case G(TR):
			close = true;
			break;
		default:
			break;
		}
	} else if (t->type == T_END) {
		switch (t->tag) {
		case G(TABLE):
			close = true;
			break;
		case G(BODY): case G(COL): case G(COLGROUP): case G(HTML): case G(TBODY): case G(TD): case G(TFOOT):
		case G(TH): case G(THEAD): case G(TR):
			return true;
		default:
			break;
		}
	}
	if (close) {
		if (!in_scope(p, G(CAPTION), SC_TABLE))
			return true;
		implied_end(p, G(LAST));
		pop_until(p, G(CAPTION));
		afl_clear_to_marker(p);
		p->mode = M_IN_TABLE;
		return false;
	}
	return in_body(p, t);
}

static bool in_colgroup(P *p, tok *t)
{
	if (opening_steps(p, t))
		return true;
	if (t->type == T_START && t->tag == G(HTML)) {
		return in_body(p, t);
	} else if (t->type == T_START && t->tag == G(COL)) {
		insert(p, t);
		pop(p);
		return true;
	} else if (is_end_of(t, G(COLGROUP))) {
		if (is_tag(cur(p), G(COLGROUP))) {
			pop(p);
			p->mode = M_IN_TABLE;
		}
		return true;
	} else if (is_end_of(t, G(COL))) {
		return true;
	} else if ((t->type == T_START || t->type == T_END) && t->tag == G(TEMPLATE)) {
		return in_head(p, t);
	} else if (t->type == T_EOF) {
		return in_body(p, t);
	}
	if (!is_tag(cur(p), G(COLGROUP)))
		return true;
	pop(p);
	p->mode = M_IN_TABLE;
	return false;
}

static bool in_tbody(P *p, tok *t)
{
	if (t->type == T_START) {
		switch (t->tag) {
		case G(TR):
			clear_to(p, G(TBODY), G(TFOOT), G(THEAD));
			insert(p, t);
			p->mode = M_IN_ROW;
			return true;
		case G(TH): case G(TD):
			clear_to(p, G(TBODY), G(TFOOT), G(THEAD));
			insert_implied(p, G(TR));
			p->mode = M_IN_ROW;
			return false;
		case G(CAPTION): case G(COL): case G(COLGROUP): case G(TBODY): case G(TFOOT): case G(THEAD):
			goto close_section;
		default:
			break;
		}
	} else if (t->type == T_END) {
		switch (t->tag) {
		case G(TBODY): case G(TFOOT): case G(THEAD):
			if (!in_scope(p, t->tag, SC_TABLE))
				return true;
			clear_to(p, G(TBODY), G(TFOOT), G(THEAD));
			pop(p);
			p->mode = M_IN_TABLE;
			return true;
		case G(TABLE):
			goto close_section;
		case G(BODY): case G(CAPTION): case G(COL): case G(COLGROUP): case G(HTML): case G(TD): case G(TH):
		case G(TR):
			return true;
		default:
			break;
		}
	}
	return in_table(p, t);
close_section:
	if (!in_scope(p, G(TBODY), SC_TABLE) && !in_scope(p, G(THEAD), SC_TABLE) && !in_scope(p, G(TFOOT), SC_TABLE))
		return true;
	clear_to(p, G(TBODY), G(TFOOT), G(THEAD));
	pop(p);
	p->mode = M_IN_TABLE;
	return false;
}

static bool in_row(P *p, tok *t)
{
	if (t->type == T_START) {
		switch (t->tag) {
		case G(TH): case G(TD):
			clear_to(p, G(TR), G(TR), G(TR));
			insert(p, t);
			p->mode = M_IN_CELL;
			afl_push_raw(p, NULL);
			return true;
		case G(CAPTION): case G(COL): case G(COLGROUP): case G(TBODY): case G(TFOOT): case G(THEAD): case G(TR):
			if (!in_scope(p, G(TR), SC_TABLE))
				return true;
			clear_to(p, G(TR), G(TR), G(TR));
			pop(p);
			p->mode = M_IN_TBODY;
			return false;
		default:
			break;
		}
	} else if (t->type == T_END) {
		switch (t->tag) {
		case G(TR):
			if (!in_scope(p, G(TR), SC_TABLE))
				return true;
			clear_to(p, G(TR), G(TR), G(TR));
			pop(p);
			p->mode = M_IN_TBODY;
			return true;
		case G(TABLE):
			if (!in_scope(p, G(TR), SC_TABLE))
				return true;
			clear_to(p, G(TR), G(TR), G(TR));
			pop(p);
			p->mode = M_IN_TBODY;
			return false;
		case G(TBODY): case G(TFOOT): case G(THEAD):
			if (!in_scope(p, t->tag, SC_TABLE) || !in_scope(p, G(TR), SC_TABLE))
				return true;
			clear_to(p, G(TR), G(TR), G(TR));
			pop(p);
			p->mode = M_IN_TBODY;
			return false;
		case G(BODY): case G(CAPTION): case G(COL): case G(COLGROUP): case G(HTML): case G(TD): case G(TH):
			return true;
		default:
			break;
		}
	}
	return in_table(p, t);
}

static void close_cell(P *p)
{
	implied_end(p, G(LAST));
	while (p->depth) {
		GumboNode *n = pop(p);
		if (is_tag(n, G(TD)) || is_tag(n, G(TH)))
			break;
	}
	afl_clear_to_marker(p);
	p->mode = M_IN_ROW;
}

static bool in_cell(P *p, tok *t)
{
	if (t->type == T_END) {
		switch (t->tag) {
		case G(TD): case G(TH):
			if (!in_scope(p, t->tag, SC_TABLE))
				return true;
			implied_end(p, G(LAST));
			pop_until(p, t->tag);
			afl_clear_to_marker(p);
			p->mode = M_IN_ROW;
			return true;
		case G(BODY): case G(CAPTION): case G(COL): case G(COLGROUP): case G(HTML):
			return true;
		case G(TABLE): case G(TBODY): case G(TFOOT): case G(THEAD): case G(TR):
			if (!in_scope(p, t->tag, SC_TABLE))
				return true;
			close_cell(p);
			return false;
		default:
			break;
		}
	} else if (t->type == T_START) {
		switch (t->tag) {
		case G(CAPTION): case G(COL): case G(COLGROUP): case G(TBODY): case G(TD): case G(TFOOT): case G(TH):
		case G(THEAD): case G(TR):
			if (!in_scope(p, G(TD), SC_TABLE) && !in_scope(p, G(TH), SC_TABLE))
				return true;
			close_cell(p);
			return false;
		default:
			break;
		}
	}
	return in_body(p, t);
}

static bool in_select(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS:
		add_text(p, t->text, t->tlen, t->start, t->cdata);
		return true;
	case T_COMMENT:
		insert_comment(p, t, NULL);
		return true;
	case T_DOCTYPE:
		return true;
	case T_EOF:
		return in_body(p, t);
	case T_START:
		switch (t->tag) {
		case G(HTML):
			return in_body(p, t);
		case G(OPTION):
			if (is_tag(cur(p), G(OPTION)))
				pop(p);
			insert(p, t);
			return true;
		case G(OPTGROUP):
			if (is_tag(cur(p), G(OPTION)))
				pop(p);
			if (is_tag(cur(p), G(OPTGROUP)))
				pop(p);
			insert(p, t);
			return true;
		case G(SELECT):
			if (in_scope(p, G(SELECT), SC_SELECT)) {
				pop_until(p, G(SELECT));
				reset_mode(p);
			}
			return true;
		case G(INPUT): case G(KEYGEN): case G(TEXTAREA):
			if (!in_scope(p, G(SELECT), SC_SELECT))
				return true;
			pop_until(p, G(SELECT));
			reset_mode(p);
			return false;
		case G(SCRIPT): case G(TEMPLATE):
			return in_head(p, t);
		default:
			return true;
		}
	case T_END:
		switch (t->tag) {
		case G(OPTGROUP):
			if (is_tag(cur(p), G(OPTION)) && p->depth > 1 && is_tag(p->stack[p->depth - 2], G(OPTGROUP)))
				pop(p);
			if (is_tag(cur(p), G(OPTGROUP)))
				pop(p);
			return true;
		case G(OPTION):
			if (is_tag(cur(p), G(OPTION)))
				pop(p);
			return true;
		case G(SELECT):
			if (in_scope(p, G(SELECT), SC_SELECT)) {
				pop_until(p, G(SELECT));
				reset_mode(p);
			}
			return true;
		case G(TEMPLATE):
			return in_head(p, t);
		default:
			return true;
		}
	}
	return true;
}

static bool in_select_in_table(P *p, tok *t)
{
	if ((t->type == T_START || t->type == T_END)) {
		switch (t->tag) {
		case G(CAPTION): case G(TABLE): case G(TBODY): case G(TFOOT): case G(THEAD): case G(TR): case G(TD):
		case G(TH):
			if (t->type == T_END && !in_scope(p, t->tag, SC_TABLE))
				return true;
			pop_until(p, G(SELECT));
			reset_mode(p);
			return false;
		default:
			break;
		}
	}
	return in_select(p, t);
}

static bool in_template(P *p, tok *t)
{
	enum mode m;
	switch (t->type) {
	case T_CHARS: case T_COMMENT: case T_DOCTYPE:
		return in_body(p, t);
	case T_START:
		if (set_has(p->set_headlike, t->tag))
			return in_head(p, t);
		switch (t->tag) {
		case G(CAPTION): case G(COLGROUP): case G(TBODY): case G(TFOOT): case G(THEAD): m = M_IN_TABLE; break;
		case G(COL): m = M_IN_COLGROUP; break;
		case G(TR): m = M_IN_TBODY; break;
		case G(TD): case G(TH): m = M_IN_ROW; break;
		default: m = M_IN_BODY; break;
		}
		if (p->ntm)
			p->ntm--;
		tmode_push(p, m);
		p->mode = m;
		return false;
	case T_END:
		if (t->tag == G(TEMPLATE))
			return in_head(p, t);
		return true;
	case T_EOF:
		if (!p->counts[G(TEMPLATE)]) {
			p->done = true;
			return true;
		}
		end_template(p);
		return false;
	}
	return true;
}

static bool after_body(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS: {
		size_t k = ws_prefix(t);
		if (k == t->tlen)
			return in_body(p, t);
		break;
	}
	case T_COMMENT:
		insert_comment(p, t, p->stack[0]);
		return true;
	case T_DOCTYPE:
		return true;
	case T_START:
		if (t->tag == G(HTML))
			return in_body(p, t);
		break;
	case T_END:
		if (t->tag == G(HTML)) {
			p->mode = M_AFTER_AFTER_BODY;
			return true;
		}
		break;
	case T_EOF:
		p->done = true;
		return true;
	}
	p->mode = M_IN_BODY;
	return false;
}

static bool in_frameset(P *p, tok *t)
{
	switch (t->type) {
	case T_CHARS:
		return true; /* (white space would be kept) */
	case T_COMMENT:
		insert_comment(p, t, NULL);
		return true;
	case T_START:
		switch (t->tag) {
		case G(HTML): return in_body(p, t);
		case G(FRAMESET): insert(p, t); return true;
		case G(FRAME): insert(p, t); pop(p); return true;
		case G(NOFRAMES): return in_head(p, t);
		default: return true;
		}
	case T_END:
		if (t->tag == G(FRAMESET) && p->depth > 1) {
			pop(p);
			if (!is_tag(cur(p), G(FRAMESET)))
				p->mode = p->mode == M_IN_FRAMESET ? M_AFTER_FRAMESET : p->mode;
		} else if (t->tag == G(HTML) && p->mode == M_AFTER_FRAMESET) {
			p->mode = M_AFTER_AFTER_FRAMESET;
		}
		return true;
	case T_EOF:
		p->done = true;
		return true;
	default:
		return true;
	}
}

static bool after_after_body(P *p, tok *t)
{
	switch (t->type) {
	case T_COMMENT:
		insert_comment(p, t, p->doc);
		return true;
	case T_DOCTYPE:
		return in_body(p, t);
	case T_CHARS:
		if (ws_prefix(t) == t->tlen)
			return in_body(p, t);
		break;
	case T_START:
		if (t->tag == G(HTML))
			return in_body(p, t);
		break;
	case T_EOF:
		p->done = true;
		return true;
	default:
		break;
	}
	if (p->mode == M_AFTER_AFTER_FRAMESET)
		return t->type == T_START && t->tag == G(NOFRAMES) ? in_head(p, t) : true;
	p->mode = M_IN_BODY;
	return false;
}

static bool text_mode(P *p, tok *t)
{
	if (t->type == T_CHARS) {
		add_text(p, t->text, t->tlen, t->start, t->cdata);
		return true;
	}
	if (t->type == T_EOF) {
		pop(p);
		p->mode = p->orig_mode;
		return false;
	}
	if (t->type == T_END) {
		GumboNode *n = pop(p);
		EL(n)->original_end_tag.data = p->h + t->start;
		EL(n)->original_end_tag.length = t->end - t->start;
		EL(n)->end_pos.offset = (unsigned)t->start;
		p->mode = p->orig_mode;
	}
	return true;
}

static void process(P *p, tok *t)
{
	if (t->type != T_CHARS)
		p->carry = 0;
	/* after <pre>, <listing>, <textarea>: a newline right after the tag
	 * goes; any other token ends the chance */
	if (p->ignore_lf) {
		p->ignore_lf = false;
		if (t->type == T_CHARS && t->tlen && t->text[0] == '\n')
			drop_prefix(p, t, 1);
	}
	for (int guard = 0; guard < 64; guard++) {
		if (t->type == T_CHARS && !t->tlen)
			return;
		bool done;
		if (p->mode != M_TEXT && use_foreign_rules(p, t)) {
			done = foreign(p, t);
		} else {
			switch (p->mode) {
			case M_INITIAL: done = initial(p, t); break;
			case M_BEFORE_HTML: done = before_html(p, t); break;
			case M_BEFORE_HEAD: done = before_head(p, t); break;
			case M_IN_HEAD: done = in_head(p, t); break;
			case M_IN_HEAD_NOSCRIPT: done = in_head_noscript(p, t); break;
			case M_AFTER_HEAD: done = after_head(p, t); break;
			case M_IN_BODY: done = in_body(p, t); break;
			case M_TEXT: done = text_mode(p, t); break;
			case M_IN_TABLE: done = in_table(p, t); break;
			case M_IN_TABLE_TEXT: done = in_table_text(p, t); break;
			case M_IN_CAPTION: done = in_caption(p, t); break;
			case M_IN_COLGROUP: done = in_colgroup(p, t); break;
			case M_IN_TBODY: done = in_tbody(p, t); break;
			case M_IN_ROW: done = in_row(p, t); break;
			case M_IN_CELL: done = in_cell(p, t); break;
			case M_IN_SELECT: done = in_select(p, t); break;
			case M_IN_SELECT_IN_TABLE: done = in_select_in_table(p, t); break;
			case M_IN_TEMPLATE: done = in_template(p, t); break;
			case M_AFTER_BODY: done = after_body(p, t); break;
			case M_IN_FRAMESET: case M_AFTER_FRAMESET: done = in_frameset(p, t); break;
			case M_AFTER_AFTER_BODY: case M_AFTER_AFTER_FRAMESET: done = after_after_body(p, t); break;
			default: done = true; break;
			}
		}
		if (done)
			return;
	}
}

/* ---- tokenizer ---- */

static void emit_chars(P *p, size_t s, size_t e, int flags)
{
	if (e <= s)
		return;
	p->sb.n = 0;
	decode(&p->sb, p->h + s, e - s, flags, -1);
	size_t from = p->carry ? p->carry - 1 : s;
	p->carry = 0;
	tok t = {.type = T_CHARS, .start = from, .end = e, .text = p->sb.d, .tlen = p->sb.n};
	p->tok_start = from;
	process(p, &t);
}

static size_t skip_ws(P *p, size_t i)
{
	while (i < p->len && is_ws((unsigned char)p->h[i]))
		i++;
	return i;
}

static uint64_t name_hash(const char *a, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)a[i]) * 1099511628211ull;
	return h;
}

static void ah_insert(P *p, size_t idx)
{
	const char *a = p->attrs[idx]->name;
	size_t j = name_hash(a, strlen(a)) & (p->ahcap - 1);
	while ((uint32_t)(p->ahash[j] >> 32) == p->ah_gen)
		j = (j + 1) & (p->ahcap - 1);
	p->ahash[j] = (uint64_t)p->ah_gen << 32 | idx;
}

/* Is name[0..n) among the tag's attributes so far? */
static bool attr_dup(P *p, const char *name, size_t n)
{
	if (p->nattrs < 16) {
		for (size_t i = 0; i < p->nattrs; i++)
			if (!strncmp(p->attrs[i]->name, name, n) && !p->attrs[i]->name[n])
				return true;
		return false;
	}
	if (p->ahcap < p->nattrs * 4) {
		size_t c = 64;
		while (c < p->nattrs * 8)
			c *= 2;
		free(p->ahash);
		p->ahash = bw_xcalloc(c, sizeof *p->ahash);
		p->ahcap = c;
		p->ah_gen++;
		p->ah_n = 0;
	}
	while (p->ah_n < p->nattrs)
		ah_insert(p, p->ah_n++);
	size_t j = name_hash(name, n) & (p->ahcap - 1);
	while ((uint32_t)(p->ahash[j] >> 32) == p->ah_gen) {
		const char *a = p->attrs[(uint32_t)p->ahash[j]]->name;
		if (!strncmp(a, name, n) && !a[n])
			return true;
		j = (j + 1) & (p->ahcap - 1);
	}
	return false;
}

/* Parses a tag from h[i] == '<' with the name at [ns, ne). Returns the
 * offset after the tag, or len when the input ends inside it (no token). */
static size_t tag(P *p, size_t lt, size_t ns, bool end)
{
	const char *h = p->h;
	size_t len = p->len, i = ns;
	p->open_tag = lt + 1; /* until it is emitted: the input may end inside it */
	while (i < len && !is_ws((unsigned char)h[i]) && h[i] != '/' && h[i] != '>')
		i++;
	if (i >= len)
		return len;
	p->name.n = 0;
	decode(&p->name, h + ns, i - ns, DEC_LOWER, -1);
	sb_addc(&p->name, 0);
	p->name.n--;
	p->nattrs = 0;
	if (p->ah_n) {
		p->ah_gen++; /* empties the set */
		p->ah_n = 0;
	}
	bool selfclose = false;
	for (;;) {
		/* before attribute name */
		while (i < len && (is_ws((unsigned char)h[i]) || h[i] == '/')) {
			if (h[i] == '/') {
				if (i + 1 < len && h[i + 1] == '>') {
					selfclose = true;
					i++;
					break;
				}
			}
			i++;
		}
		if (i >= len)
			return len;
		if (h[i] == '>')
			break;
		/* attribute name: a leading '=' belongs to it */
		size_t as = i++;
		while (i < len && !is_ws((unsigned char)h[i]) && h[i] != '/' && h[i] != '>' && h[i] != '=')
			i++;
		if (i >= len)
			return len;
		size_t ae = i;
		/* after attribute name */
		size_t j = skip_ws(p, i);
		if (j >= len)
			return len;
		size_t vs = 0, ve = 0, dvs = 0, dve = 0;
		int quote = -1;
		bool has_value = false;
		if (h[j] == '=') {
			j = skip_ws(p, j + 1);
			if (j >= len)
				return len;
			if (h[j] == '"' || h[j] == '\'') {
				quote = h[j];
				const char *q = memchr(h + j + 1, h[j], len - j - 1);
				if (!q)
					return len;
				vs = j;
				ve = (size_t)(q - h) + 1;
				dvs = j + 1;
				dve = ve - 1;
				has_value = true;
				i = ve;
				/* after attribute value (quoted): anything but white space,
				 * '/' or '>' starts the next attribute */
			} else if (h[j] == '>') {
				i = j; /* missing value: empty, original_value stays the name */
			} else {
				size_t k = j;
				while (k < len && !is_ws((unsigned char)h[k]) && h[k] != '>')
					k++;
				if (k >= len)
					return len;
				vs = dvs = j;
				ve = dve = k;
				has_value = true;
				i = k;
			}
		} else {
			i = j;
		}
		if (end)
			continue;
		/* the name, decoded */
		size_t mark = p->sb.n = 0;
		decode(&p->sb, h + as, ae - as, DEC_LOWER, -1);
		if (attr_dup(p, p->sb.d + mark, p->sb.n))
			continue;
		GumboAttribute *a = p->alloc(p->ud, sizeof *a);
		memset(a, 0, sizeof *a);
		a->attr_namespace = GUMBO_ATTR_NAMESPACE_NONE;
		a->name = xstrndup(p, p->sb.d, p->sb.n);
		a->original_name.data = h + as;
		a->original_name.length = ae - as;
		a->name_start.offset = (unsigned)as;
		a->name_end.offset = (unsigned)ae;
		if (has_value) {
			p->sb.n = 0;
			decode(&p->sb, h + dvs, dve - dvs, DEC_REFS | DEC_ATTR, quote);
			a->value = xstrndup(p, p->sb.d, p->sb.n);
			a->original_value.data = h + vs;
			a->original_value.length = ve - vs;
			a->value_start.offset = (unsigned)vs;
			a->value_end.offset = (unsigned)ve;
		} else {
			a->value = "";
			a->original_value = a->original_name;
			a->value_start.offset = (unsigned)as;
			a->value_end.offset = (unsigned)ae;
		}
		if (p->nattrs == p->capattrs) {
			p->capattrs = p->capattrs ? p->capattrs * 2 : 16;
			p->attrs = bw_xrealloc(p->attrs, p->capattrs * sizeof *p->attrs);
		}
		p->attrs[p->nattrs++] = a;
	}
	size_t after = i + 1;
	tok t = {.type = end ? T_END : T_START, .name = p->name.d, .nlen = p->name.n, .selfclose = selfclose,
		 .start = lt, .end = after, .attrs = p->attrs, .nattrs = (unsigned)p->nattrs};
	t.tag = gumbo_tagn_enum(t.name, (unsigned)t.nlen);
	p->open_tag = 0;
	p->tok_start = lt;
	p->pos = after;
	process(p, &t);
	return after;
}

static void comment(P *p, size_t lt, size_t cs, size_t ce, size_t after)
{
	p->sb.n = 0;
	decode(&p->sb, p->h + cs, ce - cs, 0, -1);
	tok t = {.type = T_COMMENT, .start = lt, .end = after, .text = p->sb.d, .tlen = p->sb.n};
	p->tok_start = lt;
	process(p, &t);
}

static bool ieq(const char *s, const char *lit, size_t n)
{
	return !strncasecmp(s, lit, n);
}

/* <!DOCTYPE ...> from lt; returns the offset after it. */
static size_t doctype(P *p, size_t lt, size_t i)
{
	const char *h = p->h;
	size_t len = p->len;
	const char *gt = memchr(h + i, '>', len - i);
	size_t e = gt ? (size_t)(gt - h) : len, after = gt ? e + 1 : len;
	tok t = {.type = T_DOCTYPE, .start = lt, .end = after, .dt_name = "", .dt_pub = "", .dt_sys = ""};
	char *name = NULL, *pub = NULL, *sys = NULL;
	i = skip_ws(p, i);
	if (i >= e) {
		t.force_quirks = true;
	} else {
		size_t s = i;
		while (i < e && !is_ws((unsigned char)h[i]))
			i++;
		p->sb.n = 0;
		decode(&p->sb, h + s, i - s, DEC_LOWER, -1);
		name = bw_xstrndup(p->sb.d, p->sb.n);
		t.dt_name = name;
		i = skip_ws(p, i);
		for (int k = 0; k < 2 && i < e; k++) {
			bool is_pub = i + 6 <= e && ieq(h + i, "public", 6);
			bool is_sys = i + 6 <= e && ieq(h + i, "system", 6);
			if (k == 1 && !(h[i] == '"' || h[i] == '\'')) {
				t.force_quirks = true;
				break;
			}
			if (k == 0 && !is_pub && !is_sys) {
				t.force_quirks = true;
				break;
			}
			if (k == 0)
				i = skip_ws(p, i + 6);
			if (i >= e || (h[i] != '"' && h[i] != '\'')) {
				t.force_quirks = true;
				break;
			}
			const char *q = memchr(h + i + 1, h[i], e - i - 1);
			size_t qe = q ? (size_t)(q - h) : e;
			p->sb.n = 0;
			decode(&p->sb, h + i + 1, qe - i - 1, 0, -1);
			char *v = bw_xstrndup(p->sb.d, p->sb.n);
			if (k == 0 && is_pub) {
				pub = v;
				t.has_pub = true;
			} else {
				free(sys);
				sys = v;
				t.has_sys = true;
				if (k == 0)
					k = 1; /* SYSTEM: nothing follows */
			}
			if (!q) {
				t.force_quirks = true;
				break;
			}
			i = skip_ws(p, qe + 1);
		}
		if (pub)
			t.dt_pub = pub;
		if (sys)
			t.dt_sys = sys;
	}
	if (!gt)
		t.force_quirks = true;
	p->tok_start = lt;
	process(p, &t);
	free(name);
	free(pub);
	free(sys);
	return after;
}

/* After '<' at lt in the data state. Returns where to continue. */
static size_t markup(P *p, size_t lt)
{
	const char *h = p->h;
	size_t len = p->len, i = lt + 1;
	if (i >= len) {
		emit_chars(p, lt, len, DEC_NULDROP);
		return len;
	}
	unsigned char c = (unsigned char)h[i];
	if ((c | 32) >= 'a' && (c | 32) <= 'z')
		return tag(p, lt, i, false);
	if (c == '/') {
		i++;
		if (i >= len) {
			emit_chars(p, lt, len, DEC_NULDROP);
			return len;
		}
		c = (unsigned char)h[i];
		if ((c | 32) >= 'a' && (c | 32) <= 'z')
			return tag(p, lt, i, true);
		if (c == '>') {
			/* nothing; Gumbo's next character token starts here */
			p->carry = lt + 1;
			return i + 1;
		}
		/* bogus comment */
		const char *gt = memchr(h + i, '>', len - i);
		size_t e = gt ? (size_t)(gt - h) : len;
		comment(p, lt, i, e, gt ? e + 1 : len);
		return gt ? e + 1 : len;
	}
	if (c == '!') {
		i++;
		if (i + 2 <= len && h[i] == '-' && h[i + 1] == '-') {
			size_t cs = i + 2;
			if (cs < len && h[cs] == '>') {
				comment(p, lt, cs, cs, cs + 1);
				return cs + 1;
			}
			if (cs + 1 < len && h[cs] == '-' && h[cs + 1] == '>') {
				comment(p, lt, cs, cs, cs + 2);
				return cs + 2;
			}
			size_t k = cs;
			for (;;) {
				const char *d = k < len ? memchr(h + k, '-', len - k) : NULL;
				if (!d) {
					comment(p, lt, cs, len, len);
					return len;
				}
				k = (size_t)(d - h);
				if (k + 2 < len && h[k + 1] == '-' && h[k + 2] == '>') {
					comment(p, lt, cs, k, k + 3);
					return k + 3;
				}
				if (k + 3 < len && h[k + 1] == '-' && h[k + 2] == '!' && h[k + 3] == '>') {
					comment(p, lt, cs, k, k + 4);
					return k + 4;
				}
				k++;
			}
		}
		if (i + 7 <= len && ieq(h + i, "doctype", 7))
			return doctype(p, lt, i + 7);
		if (i + 7 <= len && !memcmp(h + i, "[CDATA[", 7) && p->depth && !is_html_ns(cur(p))) {
			size_t cs = i + 7;
			const char *e = memmem(h + cs, len - cs, "]]>", 3);
			size_t ce = e ? (size_t)(e - h) : len;
			if (ce > cs) {
				p->sb.n = 0;
				decode(&p->sb, h + cs, ce - cs, 0, -1);
				/* (Gumbo's text starts at "<![CDATA[") */
				tok t = {.type = T_CHARS, .start = lt, .end = ce, .text = p->sb.d, .tlen = p->sb.n,
					 .cdata = true};
				p->tok_start = lt;
				process(p, &t);
			}
			return e ? ce + 3 : len;
		}
		const char *gt = memchr(h + i, '>', len - i);
		size_t e = gt ? (size_t)(gt - h) : len;
		comment(p, lt, i, e, gt ? e + 1 : len);
		return gt ? e + 1 : len;
	}
	if (c == '?') {
		const char *gt = memchr(h + i, '>', len - i);
		size_t e = gt ? (size_t)(gt - h) : len;
		comment(p, lt, i, e, gt ? e + 1 : len);
		return gt ? e + 1 : len;
	}
	/* a lone '<' is text */
	emit_chars(p, lt, lt + 1, DEC_NULDROP);
	return lt + 1;
}

/* Raw text or RCDATA: up to the appropriate end tag. */
static size_t raw(P *p, size_t i)
{
	const char *h = p->h;
	size_t len = p->len, n = p->rawlen, k = i;
	int flags = p->ts == TS_RCDATA ? DEC_REFS : 0;
	for (;;) {
		const char *lt = k < len ? memchr(h + k, '<', len - k) : NULL;
		if (!lt) {
			emit_chars(p, i, len, flags);
			p->ts = TS_DATA;
			return len;
		}
		k = (size_t)(lt - h);
		if (k + 2 + n <= len && h[k + 1] == '/' && ieq(h + k + 2, p->rawname, n)) {
			size_t e = k + 2 + n;
			if (e < len && (is_ws((unsigned char)h[e]) || h[e] == '/' || h[e] == '>')) {
				emit_chars(p, i, k, flags);
				p->ts = TS_DATA;
				size_t r = tag(p, k, k + 2, true);
				return r;
			}
			if (e >= len) {
				emit_chars(p, i, len, flags);
				p->ts = TS_DATA;
				return len;
			}
		}
		k++;
	}
}

static void tokenize(P *p)
{
	const char *h = p->h;
	size_t len = p->len, i = 0;
	while (i < len && !p->done) {
		/* Hostile input can make far more nodes than it has bytes:
		 * distinct formatting elements left open are cloned again at
		 * every run of text (up to AFL_MAX per run). Stop at the budget,
		 * at a token boundary, as if the input ended here. */
		if (p->max_nodes && p->nodes >= p->max_nodes) {
			p->stopped = i;
			len = i;
			break;
		}
		if (p->ts == TS_PLAINTEXT) {
			emit_chars(p, i, len, 0);
			break;
		}
		if (p->ts != TS_DATA) {
			i = raw(p, i);
			continue;
		}
		const char *lt = memchr(h + i, '<', len - i);
		size_t e = lt ? (size_t)(lt - h) : len;
		if (e > i) {
			bool foreign_ctx = p->depth && !is_html_ns(cur(p));
			emit_chars(p, i, e, DEC_REFS | (foreign_ctx ? 0 : DEC_NULDROP));
		}
		if (!lt)
			break;
		i = markup(p, e);
	}
	p->pos = len;
	/* Gumbo's end-of-file token starts where a dropped tag did */
	p->tok_start = p->open_tag ? p->open_tag - 1 : len;
	tok t = {.type = T_EOF, .start = len, .end = len};
	for (int guard = 0; guard < 1000000 && !p->done; guard++) {
		size_t before = p->depth;
		enum mode m = p->mode;
		process(p, &t);
		if (p->done || (p->depth == before && p->mode == m))
			break;
	}
	flush_text(p);
}

GumboOutput *bw_html_parse(const char *html, size_t len, size_t max_nodes, size_t *stopped,
			   void *(*alloc)(void *, size_t), void *userdata)
{
	init_special();
	P *p = bw_xcalloc(1, sizeof *p);
	p->h = html;
	p->len = len;
	p->max_nodes = max_nodes;
	p->stopped = SIZE_MAX;
	p->alloc = alloc;
	p->ud = userdata;
	init_sets(p);
	p->out = xalloc(p, sizeof *p->out);
	p->doc = xalloc(p, sizeof *p->doc);
	p->doc->type = GUMBO_NODE_DOCUMENT;
	p->doc->v.document.name = "";
	p->doc->v.document.public_identifier = "";
	p->doc->v.document.system_identifier = "";
	p->out->document = p->doc;
	p->mode = M_INITIAL;
	p->frameset_ok = true;
	tokenize(p);
	if (!p->out->root) {
		/* empty input: Gumbo still makes html, head and body */
		tok t = {.type = T_EOF};
		p->mode = M_INITIAL;
		p->done = false;
		for (int g = 0; g < 8 && !p->done; g++)
			process(p, &t);
	}
	free(p->sb.d);
	free(p->tb.d);
	free(p->name.d);
	free(p->attrs);
	free(p->ahash);
	free(p->stack);
	free(p->afl);
	free(p->tmodes);
	GumboOutput *out = p->out;
	*stopped = p->stopped;
	free(p);
	return out;
}
