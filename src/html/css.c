/* CSS as far as loading and visibility go: the CSS Syntax Level 3 tokenizer,
 * the stylesheet and style-attribute parser (rules, at-rules, CSS nesting,
 * error recovery), the url() references they make, media query evaluation
 * for a common mail-reading screen, and the declarations that hide or shrink
 * an element. Selector matching is in selector.c.
 *
 * Hand-written rather than built on libcroco: Debian's libcroco is deprecated
 * and unmaintained, predates CSS Syntax Level 3 (its url(), escape and error
 * recovery rules differ from what browsers do) and reports no source offsets,
 * while the sanitizer rewrites each url() by its exact byte span.
 *
 * Hostile input: the parser recurses once per nested block, at most
 * MAX_DEPTH deep; deeper blocks, and blocks no browser applies, are scanned
 * flat for url()s so that none is ever dropped. Tokens are spans of the
 * input: nothing is allocated per token, only per url() found, per rule and
 * per nested selector. */
#include "html/css.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/util.h"

/* ---- tokenizer ---- */

static inline int ch(const bw_css_lexer *lx, size_t i)
{
	return i < lx->len ? (unsigned char)lx->s[i] : -1;
}

static inline bool is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static inline bool is_nl(int c)
{
	return c == '\n' || c == '\r' || c == '\f';
}

static inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int hexval(int c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* A NUL byte stands for U+FFFD (input preprocessing), which like every
 * non-ASCII code point is a name code point. */
static inline bool is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80 || c == 0;
}

static inline bool is_name(int c)
{
	return is_name_start(c) || is_digit(c) || c == '-';
}

static inline int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static bool valid_escape(const bw_css_lexer *lx, size_t i)
{
	return ch(lx, i) == '\\' && !is_nl(ch(lx, i + 1));
}

static bool starts_ident(const bw_css_lexer *lx, size_t i)
{
	int c = ch(lx, i);
	if (c == '-') {
		int d = ch(lx, i + 1);
		return is_name_start(d) || d == '-' || valid_escape(lx, i + 1);
	}
	return is_name_start(c) || valid_escape(lx, i);
}

static bool starts_number(const bw_css_lexer *lx, size_t i)
{
	int c = ch(lx, i);
	if (c == '+' || c == '-')
		c = ch(lx, ++i);
	return is_digit(c) || (c == '.' && is_digit(ch(lx, i + 1)));
}

/* CRLF counts as one white space character. */
static size_t ws_len(const char *s, size_t i, size_t end)
{
	if (i >= end || !is_ws((unsigned char)s[i]))
		return 0;
	return s[i] == '\r' && i + 1 < end && s[i + 1] == '\n' ? 2 : 1;
}

/* Past the code point(s) after a backslash. */
static void skip_escape(bw_css_lexer *lx)
{
	if (!is_hex(ch(lx, lx->pos))) {
		if (lx->pos < lx->len)
			lx->pos++;
		return;
	}
	for (int n = 0; n < 6 && is_hex(ch(lx, lx->pos)); n++)
		lx->pos++;
	lx->pos += ws_len(lx->s, lx->pos, lx->len);
}

/* Returns whether the name held an escape or a NUL. */
static bool consume_name(bw_css_lexer *lx)
{
	bool esc = false;
	for (;;) {
		int c = ch(lx, lx->pos);
		if (c > 0 && c != '\\' && is_name(c)) {
			lx->pos++;
		} else if (c == 0) {
			esc = true;
			lx->pos++;
		} else if (valid_escape(lx, lx->pos)) {
			esc = true;
			lx->pos++;
			skip_escape(lx);
		} else {
			return esc;
		}
	}
}

static double consume_number(bw_css_lexer *lx)
{
	double sign = 1, v = 0;
	int c = ch(lx, lx->pos);
	if (c == '+' || c == '-') {
		sign = c == '-' ? -1 : 1;
		lx->pos++;
	}
	while (is_digit(c = ch(lx, lx->pos))) {
		v = v * 10 + (c - '0');
		lx->pos++;
	}
	if (c == '.' && is_digit(ch(lx, lx->pos + 1))) {
		double scale = 1;
		lx->pos++;
		while (is_digit(c = ch(lx, lx->pos))) {
			scale /= 10;
			v += (c - '0') * scale;
			lx->pos++;
		}
	}
	if (c == 'e' || c == 'E') {
		size_t i = lx->pos + 1;
		int d = ch(lx, i), esign = 1, e = 0;
		if (d == '+' || d == '-') {
			esign = d == '-' ? -1 : 1;
			d = ch(lx, ++i);
		}
		if (is_digit(d)) {
			while (is_digit(d = ch(lx, i))) {
				if (e < 1000)
					e = e * 10 + (d - '0');
				i++;
			}
			lx->pos = i;
			for (; e > 0 && v != 0 && !isinf(v); e--)
				v = esign > 0 ? v * 10 : v / 10;
		}
	}
	return sign * v;
}

static void lex_numeric(bw_css_lexer *lx, bw_css_tok *t)
{
	t->num = consume_number(lx);
	if (starts_ident(lx, lx->pos)) {
		t->type = BW_CSS_DIMENSION;
		t->vstart = lx->pos;
		t->escaped = consume_name(lx);
		t->vend = lx->pos;
	} else if (ch(lx, lx->pos) == '%') {
		lx->pos++;
		t->type = BW_CSS_PERCENTAGE;
	} else {
		t->type = BW_CSS_NUMBER;
	}
}

static void lex_string(bw_css_lexer *lx, bw_css_tok *t, int quote)
{
	t->vstart = ++lx->pos;
	for (;;) {
		int c = ch(lx, lx->pos);
		if (c == quote || c < 0) {
			t->vend = lx->pos;
			if (c >= 0)
				lx->pos++;
			t->type = BW_CSS_STRING;
			return;
		}
		if (is_nl(c)) { /* left for the next token */
			t->vend = lx->pos;
			t->type = BW_CSS_BAD_STRING;
			return;
		}
		if (c == '\\') {
			t->escaped = true;
			int d = ch(lx, ++lx->pos);
			if (is_nl(d))
				lx->pos += ws_len(lx->s, lx->pos, lx->len);
			else
				skip_escape(lx);
			continue;
		}
		if (c == 0)
			t->escaped = true;
		lx->pos++;
	}
}

static bool non_printable(int c)
{
	return (c >= 1 && c <= 8) || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f;
}

/* An unquoted url(, lx->pos just past the "(". */
static void lex_url(bw_css_lexer *lx, bw_css_tok *t)
{
	t->escaped = false;
	while (is_ws(ch(lx, lx->pos)))
		lx->pos++;
	t->vstart = lx->pos;
	for (;;) {
		int c = ch(lx, lx->pos);
		if (c == ')' || c < 0) {
			t->vend = lx->pos;
			if (c >= 0)
				lx->pos++;
			t->type = BW_CSS_URL;
			return;
		}
		if (is_ws(c)) {
			t->vend = lx->pos;
			while (is_ws(ch(lx, lx->pos)))
				lx->pos++;
			c = ch(lx, lx->pos);
			if (c == ')' || c < 0) {
				if (c >= 0)
					lx->pos++;
				t->type = BW_CSS_URL;
				return;
			}
			break;
		}
		if (c == '"' || c == '\'' || c == '(' || non_printable(c))
			break;
		if (c == '\\') {
			if (!valid_escape(lx, lx->pos))
				break;
			t->escaped = true;
			lx->pos++;
			skip_escape(lx);
			continue;
		}
		if (c == 0)
			t->escaped = true;
		lx->pos++;
	}
	/* the remnants of a bad url: up to ")", which an escape hides */
	for (;;) {
		int c = ch(lx, lx->pos);
		if (c < 0)
			break;
		lx->pos++;
		if (c == ')')
			break;
		if (c == '\\' && !is_nl(ch(lx, lx->pos)))
			skip_escape(lx);
	}
	t->type = BW_CSS_BAD_URL;
}

static void lex_identlike(bw_css_lexer *lx, bw_css_tok *t)
{
	t->vstart = lx->pos;
	t->escaped = consume_name(lx);
	t->vend = lx->pos;
	if (ch(lx, lx->pos) != '(') {
		t->type = BW_CSS_IDENT;
		return;
	}
	lx->pos++;
	t->type = BW_CSS_FUNCTION;
	if (!bw_css_tok_ieq(lx->s, t, "url"))
		return;
	while (is_ws(ch(lx, lx->pos)) && is_ws(ch(lx, lx->pos + 1)))
		lx->pos++;
	int c = ch(lx, lx->pos);
	if (is_ws(c))
		c = ch(lx, lx->pos + 1);
	if (c != '"' && c != '\'')
		lex_url(lx, t);
}

void bw_css_lex(bw_css_lexer *lx, bw_css_tok *t)
{
	while (ch(lx, lx->pos) == '/' && ch(lx, lx->pos + 1) == '*') {
		const char *e = memmem(lx->s + lx->pos + 2, lx->len - lx->pos - 2, "*/", 2);
		lx->pos = e ? (size_t)(e - lx->s) + 2 : lx->len;
	}
	t->escaped = t->id = false;
	t->delim = 0;
	t->num = 0;
	t->start = t->vstart = t->vend = lx->pos;
	int c = ch(lx, lx->pos);
	switch (c) {
	case -1:
		t->type = BW_CSS_EOF;
		break;
	case ' ': case '\t': case '\n': case '\r': case '\f':
		while (is_ws(ch(lx, ++lx->pos)))
			;
		t->type = BW_CSS_WS;
		break;
	case '"': case '\'':
		lex_string(lx, t, c);
		break;
	case '#':
		if (is_name(ch(lx, lx->pos + 1)) || valid_escape(lx, lx->pos + 1)) {
			t->type = BW_CSS_HASH;
			t->id = starts_ident(lx, ++lx->pos);
			t->vstart = lx->pos;
			t->escaped = consume_name(lx);
			t->vend = lx->pos;
		} else {
			goto delim;
		}
		break;
	case '(': t->type = BW_CSS_LPAREN; lx->pos++; break;
	case ')': t->type = BW_CSS_RPAREN; lx->pos++; break;
	case '[': t->type = BW_CSS_LBRACKET; lx->pos++; break;
	case ']': t->type = BW_CSS_RBRACKET; lx->pos++; break;
	case '{': t->type = BW_CSS_LBRACE; lx->pos++; break;
	case '}': t->type = BW_CSS_RBRACE; lx->pos++; break;
	case ',': t->type = BW_CSS_COMMA; lx->pos++; break;
	case ':': t->type = BW_CSS_COLON; lx->pos++; break;
	case ';': t->type = BW_CSS_SEMICOLON; lx->pos++; break;
	case '+': case '.':
		if (!starts_number(lx, lx->pos))
			goto delim;
		lex_numeric(lx, t);
		break;
	case '-':
		if (starts_number(lx, lx->pos)) {
			lex_numeric(lx, t);
		} else if (ch(lx, lx->pos + 1) == '-' && ch(lx, lx->pos + 2) == '>') {
			t->type = BW_CSS_CDC;
			lx->pos += 3;
		} else if (starts_ident(lx, lx->pos)) {
			lex_identlike(lx, t);
		} else {
			goto delim;
		}
		break;
	case '<':
		if (lx->pos + 4 > lx->len || memcmp(lx->s + lx->pos, "<!--", 4) != 0)
			goto delim;
		t->type = BW_CSS_CDO;
		lx->pos += 4;
		break;
	case '@':
		if (!starts_ident(lx, lx->pos + 1))
			goto delim;
		t->type = BW_CSS_AT_KEYWORD;
		t->vstart = ++lx->pos;
		t->escaped = consume_name(lx);
		t->vend = lx->pos;
		break;
	case '\\':
		if (!valid_escape(lx, lx->pos))
			goto delim;
		lex_identlike(lx, t);
		break;
	default:
		if (is_digit(c))
			lex_numeric(lx, t);
		else if (is_name_start(c))
			lex_identlike(lx, t);
		else
			goto delim;
	}
	t->end = lx->pos;
	return;
delim:
	t->type = BW_CSS_DELIM;
	t->delim = (char)c;
	t->end = ++lx->pos;
}

static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t bw_css_unescape(const char *s, size_t start, size_t end, bool string, char *out)
{
	size_t o = 0, i = start;
	while (i < end) {
		unsigned char c = (unsigned char)s[i];
		if (c != '\\' && c != 0) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		i++;
		if (c == 0) {
			o += put_utf8(out + o, 0xFFFD);
			continue;
		}
		if (i >= end) { /* a backslash at EOF */
			if (!string)
				o += put_utf8(out + o, 0xFFFD);
			break;
		}
		c = (unsigned char)s[i];
		if (is_nl(c)) { /* line continuation in a string */
			i += ws_len(s, i, end);
			continue;
		}
		if (!is_hex(c)) {
			if (c == 0)
				o += put_utf8(out + o, 0xFFFD);
			else
				out[o++] = (char)c;
			i++;
			continue;
		}
		unsigned long cp = 0;
		for (int n = 0; n < 6 && i < end && is_hex((unsigned char)s[i]); n++, i++)
			cp = cp * 16 + (unsigned long)hexval((unsigned char)s[i]);
		i += ws_len(s, i, end);
		if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			cp = 0xFFFD;
		o += put_utf8(out + o, cp);
	}
	out[o] = '\0';
	return o;
}

const char *bw_css_tok_lower(const char *s, const bw_css_tok *t, char *buf, size_t n)
{
	size_t len = t->vend - t->vstart;
	char tmp[3 * 64 + 1];
	const char *v = s + t->vstart;
	if (t->escaped && len <= 64) {
		len = bw_css_unescape(s, t->vstart, t->vend, t->type == BW_CSS_STRING, tmp);
		v = tmp;
	}
	if (len >= n || (t->escaped && v != tmp)) {
		buf[0] = '\0';
		return buf;
	}
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)lower((unsigned char)v[i]);
	buf[len] = '\0';
	return buf;
}

bool bw_css_tok_ieq(const char *s, const bw_css_tok *t, const char *lower_kw)
{
	size_t k = strlen(lower_kw);
	if (!t->escaped) {
		if (t->vend - t->vstart != k)
			return false;
		for (size_t i = 0; i < k; i++)
			if (lower((unsigned char)s[t->vstart + i]) != lower_kw[i])
				return false;
		return true;
	}
	char buf[64];
	return k < sizeof buf && strcmp(bw_css_tok_lower(s, t, buf, sizeof buf), lower_kw) == 0;
}

static bool name_in(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

/* ---- references ---- */

static void ref_add(bw_css_refs *r, bw_css_ref_kind kind, const char *prop, bool media_ok,
		    size_t start, size_t end, char *url)
{
	void *v = r->v;
	bw_grow(&v, &r->cap, r->n + 1, sizeof *r->v);
	r->v = v;
	r->v[r->n++] = (bw_css_ref){ .kind = kind, .url = url, .start = start, .end = end,
				     .property = prop, .media_ok = media_ok };
}

static char *tok_value(const char *s, const bw_css_tok *t)
{
	size_t n = t->vend - t->vstart;
	if (!t->escaped)
		return bw_xstrndup(s + t->vstart, n);
	char *out = bw_xmalloc(3 * n + 1);
	bw_css_unescape(s, t->vstart, t->vend, t->type == BW_CSS_STRING, out);
	return out;
}

void bw_css_refs_free(bw_css_refs *refs)
{
	if (!refs)
		return;
	for (size_t i = 0; i < refs->n; i++)
		free(refs->v[i].url);
	free(refs->v);
	refs->v = NULL;
	refs->n = refs->cap = 0;
}

/* ---- properties ---- */

enum prop {
	P_UNKNOWN, P_CUSTOM, P_OTHER, P_BACKGROUND, P_SRC,
	P_DISPLAY, P_VISIBILITY, P_OPACITY, P_POSITION, P_LEFT, P_TOP, P_INSET, P_TEXT_INDENT,
	P_CLIP, P_CLIP_PATH, P_WIDTH, P_HEIGHT, P_MAX_WIDTH, P_MAX_HEIGHT,
	P_FONT_FAMILY, P_FONT, P_FONT_SIZE
};

typedef struct prop_info {
	enum prop id;
	const char *name; /* static */
} prop_info;

/* Properties that affect the box, and those that take a URL (for their
 * name in bw_css_ref.property). */
static const prop_info props[] = {
	{ P_BACKGROUND, "background" }, { P_BACKGROUND, "background-image" },
	{ P_DISPLAY, "display" }, { P_VISIBILITY, "visibility" }, { P_OPACITY, "opacity" },
	{ P_POSITION, "position" }, { P_LEFT, "left" }, { P_TOP, "top" }, { P_INSET, "inset" },
	{ P_TEXT_INDENT, "text-indent" }, { P_CLIP, "clip" }, { P_CLIP_PATH, "clip-path" },
	{ P_CLIP_PATH, "-webkit-clip-path" }, { P_WIDTH, "width" }, { P_HEIGHT, "height" },
	{ P_MAX_WIDTH, "max-width" }, { P_MAX_HEIGHT, "max-height" },
	{ P_FONT_FAMILY, "font-family" }, { P_FONT, "font" }, { P_FONT_SIZE, "font-size" },
	{ P_SRC, "src" },
	{ P_OTHER, "list-style" }, { P_OTHER, "list-style-image" }, { P_OTHER, "border-image" },
	{ P_OTHER, "border-image-source" }, { P_OTHER, "-webkit-border-image" },
	{ P_OTHER, "content" }, { P_OTHER, "cursor" }, { P_OTHER, "mask" }, { P_OTHER, "mask-image" },
	{ P_OTHER, "mask-border" }, { P_OTHER, "mask-border-source" }, { P_OTHER, "-webkit-mask" },
	{ P_OTHER, "-webkit-mask-image" }, { P_OTHER, "-webkit-mask-box-image" },
	{ P_OTHER, "-webkit-mask-box-image-source" }, { P_OTHER, "filter" },
	{ P_OTHER, "backdrop-filter" }, { P_OTHER, "shape-outside" }, { P_OTHER, "offset-path" },
	{ P_OTHER, "marker" }, { P_OTHER, "marker-start" }, { P_OTHER, "marker-mid" },
	{ P_OTHER, "marker-end" }, { P_OTHER, "fill" }, { P_OTHER, "stroke" },
	{ P_OTHER, "-webkit-box-reflect" }, { P_OTHER, "behavior" },
};

static prop_info lookup_prop(const char *s, const bw_css_tok *name)
{
	char buf[40];
	bw_css_tok_lower(s, name, buf, sizeof buf);
	if (buf[0] == '-' && buf[1] == '-')
		return (prop_info){ P_CUSTOM, "custom-property" };
	size_t n = strlen(buf);
	for (size_t i = 0; n && i < sizeof props / sizeof props[0]; i++)
		if (props[i].name[0] == buf[0] && strcmp(props[i].name, buf) == 0)
			return props[i];
	if (name->vend - name->vstart > 2 && s[name->vstart] == '-' && s[name->vstart + 1] == '-')
		return (prop_info){ P_CUSTOM, "custom-property" };
	return (prop_info){ P_UNKNOWN, "unknown" };
}

/* ---- boxes ---- */

/* Property groups: bits of bw_css_box.decl.set and .important. */
enum {
	G_DISPLAY = 1u << 0, G_VISIBILITY = 1u << 1, G_OPACITY = 1u << 2, G_POSITION = 1u << 3,
	G_LEFT = 1u << 4, G_TOP = 1u << 5, G_TEXT_INDENT = 1u << 6, G_CLIP = 1u << 7,
	G_CLIP_PATH = 1u << 8, G_WIDTH = 1u << 9, G_HEIGHT = 1u << 10, G_MAX_WIDTH = 1u << 11,
	G_MAX_HEIGHT = 1u << 12, G_BACKGROUND = 1u << 13, G_FONT_FAMILY = 1u << 14,
	G_FONT_SIZE = 1u << 15
};

void bw_css_box_init(bw_css_box *b)
{
	memset(b, 0, sizeof *b);
	b->width_px = b->height_px = -1;
	b->decl.width = b->decl.height = -1;
}

/* The derived fields, for the groups set (a caller may have filled the
 * others from HTML attributes). */
static void derive(bw_css_box *b)
{
	const struct bw_css_box_decls *d = &b->decl;
	if (d->set & (G_POSITION | G_LEFT | G_TOP | G_TEXT_INDENT | G_CLIP | G_CLIP_PATH))
		b->offscreen = (d->positioned && (d->far_left || d->far_top || d->clip_zero)) ||
			       d->far_indent || d->clip_path_zero;
	if (d->set & (G_WIDTH | G_MAX_WIDTH))
		b->width_px = d->max_width_zero ? 0 : (d->set & G_WIDTH) ? d->width : -1;
	if (d->set & (G_HEIGHT | G_MAX_HEIGHT))
		b->height_px = d->max_height_zero ? 0 : (d->set & G_HEIGHT) ? d->height : -1;
}

/* Does src's declaration of group g replace dst's? The later one wins unless
 * only the earlier one is !important. */
static bool take(bw_css_box *dst, const bw_css_box *src, unsigned g)
{
	if (!(src->decl.set & g))
		return false;
	bool imp = src->decl.important & g;
	if ((dst->decl.important & g) && !imp)
		return false;
	dst->decl.set |= g;
	dst->decl.important = imp ? dst->decl.important | g : dst->decl.important & ~g;
	return true;
}

void bw_css_box_merge(bw_css_box *dst, const bw_css_box *src)
{
	struct bw_css_box_decls *d = &dst->decl;
	const struct bw_css_box_decls *s = &src->decl;
	if (take(dst, src, G_DISPLAY))
		dst->display_none = src->display_none;
	if (take(dst, src, G_VISIBILITY))
		dst->visibility_hidden = src->visibility_hidden;
	if (take(dst, src, G_OPACITY))
		dst->opacity_zero = src->opacity_zero;
	if (take(dst, src, G_BACKGROUND))
		dst->sets_background_image = src->sets_background_image;
	if (take(dst, src, G_FONT_FAMILY))
		dst->has_font_family = src->has_font_family;
	if (take(dst, src, G_FONT_SIZE)) {
		dst->zero_font_size = src->zero_font_size;
		dst->font_size_absolute = src->font_size_absolute;
	}
	if (take(dst, src, G_POSITION))
		d->positioned = s->positioned;
	if (take(dst, src, G_LEFT))
		d->far_left = s->far_left;
	if (take(dst, src, G_TOP))
		d->far_top = s->far_top;
	if (take(dst, src, G_TEXT_INDENT))
		d->far_indent = s->far_indent;
	if (take(dst, src, G_CLIP))
		d->clip_zero = s->clip_zero;
	if (take(dst, src, G_CLIP_PATH))
		d->clip_path_zero = s->clip_path_zero;
	if (take(dst, src, G_WIDTH))
		d->width = s->width;
	if (take(dst, src, G_HEIGHT))
		d->height = s->height;
	if (take(dst, src, G_MAX_WIDTH))
		d->max_width_zero = s->max_width_zero;
	if (take(dst, src, G_MAX_HEIGHT))
		d->max_height_zero = s->max_height_zero;
	derive(dst);
}

#define MAX_VALUE_TOKENS 16

/* The non-white-space tokens of s[start..end), at most MAX_VALUE_TOKENS;
 * returns how many there are (more than fit: MAX_VALUE_TOKENS + 1). */
static int value_tokens(const char *s, size_t start, size_t end, bw_css_tok *v)
{
	bw_css_lexer lx = { s, end, start };
	int n = 0;
	for (bw_css_tok t;;) {
		bw_css_lex(&lx, &t);
		if (t.type == BW_CSS_EOF)
			return n;
		if (t.type == BW_CSS_WS)
			continue;
		if (n == MAX_VALUE_TOKENS)
			return n + 1;
		v[n++] = t;
	}
}

/* A length in CSS px. Unitless numbers count as px, as in quirks mode (most
 * mail has no doctype); font-relative units only when font_rel, as 16px. */
static bool length_px(const char *s, const bw_css_tok *t, bool font_rel, double *px)
{
	static const struct { const char *unit; double px; bool font_rel; } units[] = {
		{ "px", 1, false }, { "pt", 4.0 / 3, false }, { "pc", 16, false },
		{ "in", 96, false }, { "cm", 96 / 2.54, false }, { "mm", 96 / 25.4, false },
		{ "q", 96 / 101.6, false }, { "em", 16, true }, { "rem", 16, true },
	};
	if (t->type == BW_CSS_NUMBER) {
		*px = t->num;
		return true;
	}
	if (t->type != BW_CSS_DIMENSION)
		return false;
	char unit[8];
	bw_css_tok_lower(s, t, unit, sizeof unit);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(unit, units[i].unit) == 0 && (font_rel || !units[i].font_rel)) {
			*px = t->num * units[i].px;
			return true;
		}
	}
	return false;
}

static bool is_numeric(const bw_css_tok *t)
{
	return t->type == BW_CSS_NUMBER || t->type == BW_CSS_DIMENSION || t->type == BW_CSS_PERCENTAGE;
}

/* A font size that does not scale with the parent's: a length in absolute
 * units, rem (the root's size) or a keyword other than larger/smaller. Email
 * templates set font-size: 0 on a wrapper (to remove the gaps between
 * inline blocks) and a real size on the text inside. */
static bool font_size_absolute(const char *s, const bw_css_tok *t)
{
	double px;
	char word[16];
	if (t->type == BW_CSS_IDENT) {
		bw_css_tok_lower(s, t, word, sizeof word);
		return strcmp(word, "larger") != 0 && strcmp(word, "smaller") != 0 && strcmp(word, "inherit") != 0 &&
		       strcmp(word, "unset") != 0;
	}
	if (t->type == BW_CSS_DIMENSION) {
		bw_css_tok_lower(s, t, word, sizeof word);
		if (!strcmp(word, "rem"))
			return t->num > 0;
	}
	return t->type == BW_CSS_DIMENSION && length_px(s, t, false, &px) && px > 0;
}

/* left / top: far out of the viewport? False when not a position at all. */
static bool offset_far(const char *s, const bw_css_tok *t, bool *far)
{
	double px;
	if (length_px(s, t, true, &px)) {
		*far = px <= -1000 || px >= 5000;
		return true;
	}
	*far = false;
	return t->type == BW_CSS_PERCENTAGE || (t->type == BW_CSS_IDENT && bw_css_tok_ieq(s, t, "auto"));
}

/* The arguments of the function v[0], up to its ")": numbers, lengths and
 * auto (as NAN), commas skipped. Returns how many, or -1 for anything else. */
static int function_args(const char *s, const bw_css_tok *v, int n, bw_css_tok *args, int max)
{
	int k = 0;
	for (int i = 1; i < n && v[i].type != BW_CSS_RPAREN; i++) {
		if (v[i].type == BW_CSS_COMMA)
			continue;
		if (k == max || !(is_numeric(&v[i]) || (v[i].type == BW_CSS_IDENT && bw_css_tok_ieq(s, &v[i], "auto"))))
			return -1;
		args[k++] = v[i];
	}
	return k;
}

/* clip: rect(top, right, bottom, left) with no area left. */
static bool clip_rect_zero(const char *s, const bw_css_tok *v, int n)
{
	bw_css_tok a[4];
	double e[4] = { 0, INFINITY, INFINITY, 0 }; /* auto: the border box edge */
	if (v[0].type != BW_CSS_FUNCTION || !bw_css_tok_ieq(s, &v[0], "rect") ||
	    function_args(s, v, n, a, 4) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (a[i].type != BW_CSS_IDENT && !length_px(s, &a[i], true, &e[i]))
			return false;
	return e[2] <= e[0] || e[1] <= e[3];
}

/* clip-path: inset() of half or more from both sides, or a circle or
 * ellipse of radius 0. */
static bool clip_path_zero(const char *s, const bw_css_tok *v, int n)
{
	bw_css_tok a[4];
	if (v[0].type != BW_CSS_FUNCTION)
		return false;
	if (bw_css_tok_ieq(s, &v[0], "circle") || bw_css_tok_ieq(s, &v[0], "ellipse")) {
		int radii = bw_css_tok_ieq(s, &v[0], "circle") ? 1 : 2;
		for (int i = 1; i <= radii && i < n; i++)
			if (is_numeric(&v[i]) && v[i].num == 0)
				return true;
		return false;
	}
	if (!bw_css_tok_ieq(s, &v[0], "inset"))
		return false;
	int k = 0;
	for (int i = 1; i < n && k < 4 && v[i].type == BW_CSS_PERCENTAGE; i++)
		a[k++] = v[i];
	if (k == 0)
		return false;
	double t = a[0].num, r = a[k > 1 ? 1 : 0].num, b = a[k > 2 ? 2 : 0].num;
	double l = a[k > 3 ? 3 : k > 1 ? 1 : 0].num;
	return t + b >= 100 || l + r >= 100;
}

static bool all_idents(const bw_css_tok *v, int n)
{
	if (n <= 0 || n > MAX_VALUE_TOKENS) /* n is MAX_VALUE_TOKENS + 1 when more did not fit */
		return false;
	for (int i = 0; i < n; i++)
		if (v[i].type != BW_CSS_IDENT)
			return false;
	return true;
}

/* One more declaration of box, value s[start..end) without !important. */
static void box_declare(bw_css_box *box, const char *s, enum prop id, size_t start, size_t end, bool important)
{
	bw_css_tok v[MAX_VALUE_TOKENS];
	int n = value_tokens(s, start, end, v);
	if (n == 0)
		return;
	bw_css_box one;
	bw_css_box_init(&one);
	struct bw_css_box_decls *d = &one.decl;
	unsigned g = 0;
	bool far;
	switch (id) {
	case P_DISPLAY:
		if (all_idents(v, n)) {
			g = G_DISPLAY;
			one.display_none = n == 1 && bw_css_tok_ieq(s, &v[0], "none");
		}
		break;
	case P_VISIBILITY:
		if (n == 1 && v[0].type == BW_CSS_IDENT) {
			g = G_VISIBILITY;
			one.visibility_hidden = bw_css_tok_ieq(s, &v[0], "hidden") || bw_css_tok_ieq(s, &v[0], "collapse");
		}
		break;
	case P_OPACITY:
		if (n == 1 && (v[0].type == BW_CSS_NUMBER || v[0].type == BW_CSS_PERCENTAGE)) {
			g = G_OPACITY;
			one.opacity_zero = v[0].num <= 0;
		}
		break;
	case P_POSITION:
		if (n == 1 && v[0].type == BW_CSS_IDENT) {
			g = G_POSITION;
			d->positioned = bw_css_tok_ieq(s, &v[0], "absolute") || bw_css_tok_ieq(s, &v[0], "fixed");
		}
		break;
	case P_LEFT:
	case P_TOP:
		if (n == 1 && offset_far(s, &v[0], &far)) {
			g = id == P_LEFT ? G_LEFT : G_TOP;
			d->far_left = d->far_top = far;
		}
		break;
	case P_INSET: { /* top right bottom left, as margin */
		bool f[4];
		if (n > 4)
			break;
		for (int i = 0; i < n; i++)
			if (!offset_far(s, &v[i], &f[i]))
				return;
		g = G_LEFT | G_TOP;
		d->far_top = f[0];
		d->far_left = f[n == 4 ? 3 : n > 1 ? 1 : 0];
		break;
	}
	case P_TEXT_INDENT:
		for (int i = 0; i < n && i < MAX_VALUE_TOKENS; i++) {
			double px;
			if (is_numeric(&v[i])) {
				g = G_TEXT_INDENT;
				d->far_indent = length_px(s, &v[i], true, &px) && px <= -999;
				break;
			}
		}
		break;
	case P_CLIP:
		g = G_CLIP;
		d->clip_zero = n <= MAX_VALUE_TOKENS && clip_rect_zero(s, v, n);
		break;
	case P_CLIP_PATH:
		g = G_CLIP_PATH;
		d->clip_path_zero = n <= MAX_VALUE_TOKENS && clip_path_zero(s, v, n);
		break;
	case P_WIDTH:
	case P_HEIGHT: {
		double px = -1;
		if (n != 1 || !length_px(s, &v[0], false, &px) || px < 0)
			px = -1;
		g = id == P_WIDTH ? G_WIDTH : G_HEIGHT;
		d->width = d->height = px;
		break;
	}
	case P_MAX_WIDTH:
	case P_MAX_HEIGHT:
		g = id == P_MAX_WIDTH ? G_MAX_WIDTH : G_MAX_HEIGHT;
		d->max_width_zero = d->max_height_zero = n == 1 && is_numeric(&v[0]) && v[0].num == 0;
		break;
	case P_BACKGROUND:
		g = G_BACKGROUND;
		one.sets_background_image = true;
		break;
	case P_FONT_FAMILY:
		g = G_FONT_FAMILY;
		one.has_font_family = true;
		break;
	case P_FONT: /* the size is the first length; a non-zero number is a weight */
		g = G_FONT_FAMILY | G_FONT_SIZE;
		one.has_font_family = true;
		for (int i = 0; i < n && i < MAX_VALUE_TOKENS; i++) {
			if (v[i].type == BW_CSS_DIMENSION || v[i].type == BW_CSS_PERCENTAGE ||
			    (v[i].type == BW_CSS_NUMBER && v[i].num == 0)) {
				one.zero_font_size = v[i].num == 0;
				one.font_size_absolute = font_size_absolute(s, &v[i]);
				break;
			}
		}
		break;
	case P_FONT_SIZE:
		if (n == 1 && (is_numeric(&v[0]) || v[0].type == BW_CSS_IDENT)) {
			g = G_FONT_SIZE;
			one.zero_font_size = is_numeric(&v[0]) && v[0].num == 0;
			one.font_size_absolute = font_size_absolute(s, &v[0]);
		}
		break;
	default:
		break;
	}
	if (!g)
		return;
	d->set = g;
	d->important = important ? g : 0;
	bw_css_box_merge(box, &one);
}

/* ---- media queries ----
 * Does a media query list possibly apply on a common mail-reading screen:
 * any viewport width from 320 to 1920 CSS px, device pixel ratio 1 or 2,
 * light or dark colour scheme? Each query compiles to reverse Polish
 * notation over three-valued logic (unknown features are "maybe", so the
 * answer errs towards yes), then runs for every width where some width test
 * changes its answer, each ratio and each scheme. */

enum { MQ_F, MQ_U, MQ_T, MQ_WIDTH, MQ_DPR, MQ_DARK, MQ_NOT, MQ_AND, MQ_OR, MQ_END };
enum { CMP_LT, CMP_LE, CMP_EQ, CMP_GE, CMP_GT };

#define MQ_OPS 96         /* per query list; longer lists are "maybe" */
#define MQ_TOKENS 128
#define MQ_NEST 16
#define MQ_STACK 8        /* nested @media evaluated together; deeper ones alone */
#define MQ_THRESHOLDS 16  /* distinct widths tested; more: "maybe" */
#define MIN_WIDTH 320.0
#define MAX_WIDTH 1920.0

typedef struct mq_op {
	unsigned char op, cmp;
	double v;
} mq_op;

typedef struct mq_list {
	mq_op op[MQ_OPS];
	int n;
} mq_list;

typedef struct mq_stack {
	mq_list l[MQ_STACK + 1]; /* the last one is scratch for lists too deep */
	int n;
} mq_stack;

typedef struct mqc {
	const char *s;
	bw_css_tok tk[MQ_TOKENS];
	int close[MQ_TOKENS]; /* an opener's matching closer, or n */
	int n;
	mq_list *out;
	bool full;
} mqc;

static void emit(mqc *m, int op, int cmp, double v)
{
	if (m->out->n == MQ_OPS)
		m->full = true;
	else
		m->out->op[m->out->n++] = (mq_op){ (unsigned char)op, (unsigned char)cmp, v };
}

static bool mq_is(const mqc *m, int i, bw_css_tok_type type, const char *kw)
{
	return i < m->n && m->tk[i].type == type && (!kw || bw_css_tok_ieq(m->s, &m->tk[i], kw));
}

static bool cmp_true(double x, int cmp, double v)
{
	switch (cmp) {
	case CMP_LT: return x < v;
	case CMP_LE: return x <= v;
	case CMP_EQ: return x == v;
	case CMP_GE: return x >= v;
	default: return x > v;
	}
}

/* x cmp v for some x in [lo, hi]: always, never or maybe. */
static int interval(int cmp, double v, double lo, double hi)
{
	bool at_lo = cmp_true(lo, cmp, v), at_hi = cmp_true(hi, cmp, v);
	if (cmp == CMP_EQ)
		return v >= lo && v <= hi ? MQ_U : MQ_F;
	return at_lo && at_hi ? MQ_T : !at_lo && !at_hi ? MQ_F : MQ_U;
}

static bool mq_length(const mqc *m, const bw_css_tok *t, double *px)
{
	if (t->type == BW_CSS_NUMBER)
		return t->num == 0 && (*px = 0, true);
	return length_px(m->s, t, true, px);
}

static bool mq_resolution(const mqc *m, const bw_css_tok *t, double *dppx)
{
	char unit[8];
	if (t->type != BW_CSS_DIMENSION)
		return false;
	bw_css_tok_lower(m->s, t, unit, sizeof unit);
	if (!strcmp(unit, "dppx") || !strcmp(unit, "x"))
		*dppx = t->num;
	else if (!strcmp(unit, "dpi"))
		*dppx = t->num / 96;
	else if (!strcmp(unit, "dpcm"))
		*dppx = t->num * 2.54 / 96;
	else
		return false;
	return true;
}

/* feature cmp value, for the features that vary or are known. */
static void mq_leaf(mqc *m, const char *name, int cmp, const bw_css_tok *t)
{
	double x;
	if (!strcmp(name, "width") && mq_length(m, t, &x))
		emit(m, MQ_WIDTH, cmp, x);
	else if (!strcmp(name, "device-width") && mq_length(m, t, &x))
		emit(m, interval(cmp, x, MIN_WIDTH, 3840), 0, 0);
	else if (!strcmp(name, "resolution") && mq_resolution(m, t, &x))
		emit(m, MQ_DPR, cmp, x);
	else if (!strcmp(name, "-webkit-device-pixel-ratio") && t->type == BW_CSS_NUMBER)
		emit(m, MQ_DPR, cmp, t->num);
	else if (!strcmp(name, "prefers-color-scheme") && cmp == CMP_EQ && t->type == BW_CSS_IDENT &&
		 (bw_css_tok_ieq(m->s, t, "dark") || bw_css_tok_ieq(m->s, t, "light")))
		emit(m, MQ_DARK, 0, bw_css_tok_ieq(m->s, t, "dark"));
	else if (!strcmp(name, "scripting") && cmp == CMP_EQ && t->type == BW_CSS_IDENT)
		emit(m, bw_css_tok_ieq(m->s, t, "none") ? MQ_T : MQ_F, 0, 0);
	else if ((!strcmp(name, "monochrome") || !strcmp(name, "grid")) && t->type == BW_CSS_NUMBER)
		emit(m, cmp_true(0, cmp, t->num) ? MQ_T : MQ_F, 0, 0);
	else
		emit(m, MQ_U, 0, 0);
}

/* (name: value) and (name) */
static void mq_plain(mqc *m, int a, int b)
{
	char name[48];
	bw_css_tok_lower(m->s, &m->tk[a], name, sizeof name);
	if (a + 1 == b) { /* boolean context: true unless the value is zero or none */
		static const char *const zero[] = { "grid", "monochrome", "scripting" };
		static const char *const known[] = { "width", "height", "device-width", "device-height",
			"resolution", "-webkit-device-pixel-ratio", "color", "prefers-color-scheme" };
		int v = name_in(name, zero, sizeof zero / sizeof zero[0]) ? MQ_F :
			name_in(name, known, sizeof known / sizeof known[0]) ? MQ_T : MQ_U;
		emit(m, v, 0, 0);
		return;
	}
	if (a + 3 != b) { /* values of several tokens (ratios) are not tested */
		emit(m, MQ_U, 0, 0);
		return;
	}
	int cmp = CMP_EQ;
	const char *base = name;
	if (!strncmp(name, "min-", 4) || !strncmp(name, "max-", 4)) {
		cmp = name[1] == 'i' ? CMP_GE : CMP_LE;
		base += 4;
	} else if (!strncmp(name, "-webkit-min-", 12) || !strncmp(name, "-webkit-max-", 12)) {
		cmp = name[9] == 'i' ? CMP_GE : CMP_LE;
		memmove(name + 8, name + 12, strlen(name + 12) + 1);
	}
	mq_leaf(m, base, cmp, &m->tk[a + 2]);
}

/* A comparison operator at i: < <= > >= =. Returns the index after it. */
static int mq_cmp(const mqc *m, int i, int *cmp)
{
	if (!mq_is(m, i, BW_CSS_DELIM, NULL))
		return -1;
	char c = m->tk[i].delim;
	bool eq = i + 1 < m->n && m->tk[i + 1].type == BW_CSS_DELIM && m->tk[i + 1].delim == '=' &&
		  m->tk[i + 1].start == m->tk[i].end;
	if (c == '=') {
		*cmp = CMP_EQ;
		return i + 1;
	}
	if (c != '<' && c != '>')
		return -1;
	*cmp = c == '<' ? (eq ? CMP_LE : CMP_LT) : (eq ? CMP_GE : CMP_GT);
	return i + 1 + eq;
}

static int flip(int cmp)
{
	return CMP_GT - cmp;
}

/* Range syntax: (name < v), (v < name), (v1 < name < v2). */
static void mq_range(mqc *m, int a, int b)
{
	char name[48];
	int c1, c2 = CMP_EQ, k, j = -1;
	if (m->tk[a].type == BW_CSS_IDENT) {
		k = mq_cmp(m, a + 1, &c1);
		if (k < 0 || k + 1 != b)
			emit(m, MQ_U, 0, 0);
		else
			mq_leaf(m, bw_css_tok_lower(m->s, &m->tk[a], name, sizeof name), c1, &m->tk[k]);
		return;
	}
	k = mq_cmp(m, a + 1, &c1);
	if (k >= 0 && k + 1 < b)
		j = mq_cmp(m, k + 1, &c2);
	bool same_way = (c1 <= CMP_LE && c2 <= CMP_LE) || (c1 >= CMP_GE && c2 >= CMP_GE);
	if (k < 0 || k >= b || !mq_is(m, k, BW_CSS_IDENT, NULL) ||
	    (k + 1 < b && (j < 0 || j + 1 != b || !same_way))) {
		emit(m, MQ_U, 0, 0);
		return;
	}
	bw_css_tok_lower(m->s, &m->tk[k], name, sizeof name);
	mq_leaf(m, name, flip(c1), &m->tk[a]);
	if (k + 1 < b) {
		mq_leaf(m, name, c2, &m->tk[j]);
		emit(m, MQ_AND, 0, 0);
	}
}

static bool mq_condition(mqc *m, int i, int j, bool allow_or, int depth);

/* <media-in-parens> at i, before j: emits one value, returns the index
 * after it, or -1 when there is none. */
static int mq_in_parens(mqc *m, int i, int j, int depth)
{
	if (i >= j)
		return -1;
	bw_css_tok_type type = m->tk[i].type;
	if (type != BW_CSS_LPAREN && type != BW_CSS_FUNCTION)
		return -1;
	int c = m->close[i] < j ? m->close[i] : j, next = c < j ? c + 1 : j;
	if (type == BW_CSS_FUNCTION) { /* <general-enclosed> */
		emit(m, MQ_U, 0, 0);
		return next;
	}
	int a = i + 1;
	bool nested = a < c && (m->tk[a].type == BW_CSS_LPAREN || m->tk[a].type == BW_CSS_FUNCTION ||
				(mq_is(m, a, BW_CSS_IDENT, "not") && a + 1 < c));
	if (nested) {
		int mark = m->out->n;
		if (!mq_condition(m, a, c, true, depth + 1)) {
			m->out->n = mark;
			emit(m, MQ_U, 0, 0);
		}
	} else if (a < c && m->tk[a].type == BW_CSS_IDENT && (a + 1 == c || m->tk[a + 1].type == BW_CSS_COLON)) {
		mq_plain(m, a, c);
	} else if (a < c) {
		mq_range(m, a, c);
	} else {
		emit(m, MQ_U, 0, 0);
	}
	return next;
}

static bool mq_condition(mqc *m, int i, int j, bool allow_or, int depth)
{
	if (depth > MQ_NEST) {
		emit(m, MQ_U, 0, 0);
		return true;
	}
	if (mq_is(m, i, BW_CSS_IDENT, "not")) {
		if (mq_in_parens(m, i + 1, j, depth) != j)
			return false;
		emit(m, MQ_NOT, 0, 0);
		return true;
	}
	int k = mq_in_parens(m, i, j, depth), op = 0;
	if (k < 0)
		return false;
	while (k < j) {
		int this = mq_is(m, k, BW_CSS_IDENT, "and") ? MQ_AND : mq_is(m, k, BW_CSS_IDENT, "or") ? MQ_OR : 0;
		if (!this || (op && this != op) || (this == MQ_OR && !allow_or))
			return false;
		op = this;
		if ((k = mq_in_parens(m, k + 1, j, depth)) < 0)
			return false;
		emit(m, op, 0, 0);
	}
	return true;
}

/* print, speech, the deprecated types and unknown ones match no screen */
static int media_type(const mqc *m, int i)
{
	return mq_is(m, i, BW_CSS_IDENT, "screen") || mq_is(m, i, BW_CSS_IDENT, "all") ? MQ_T : MQ_F;
}

static bool mq_query(mqc *m, int i, int j)
{
	static const char *const reserved[] = { "not", "only", "and", "or", "layer" };
	if (i >= j)
		return false;
	bool neg = false;
	if (mq_is(m, i, BW_CSS_IDENT, "not") && i + 1 < j && m->tk[i + 1].type == BW_CSS_IDENT) {
		neg = true;
		i++;
	} else if (mq_is(m, i, BW_CSS_IDENT, "only") && i + 1 < j && m->tk[i + 1].type == BW_CSS_IDENT) {
		i++;
	}
	if (m->tk[i].type != BW_CSS_IDENT || (!neg && mq_is(m, i, BW_CSS_IDENT, "not")))
		return mq_condition(m, i, j, true, 0);
	for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
		if (mq_is(m, i, BW_CSS_IDENT, reserved[k]))
			return false;
	emit(m, media_type(m, i), 0, 0);
	if (++i < j) {
		if (!mq_is(m, i, BW_CSS_IDENT, "and") || !mq_condition(m, i + 1, j, false, 0))
			return false;
		emit(m, MQ_AND, 0, 0);
	}
	if (neg)
		emit(m, MQ_NOT, 0, 0);
	return true;
}

static bool is_opener(bw_css_tok_type t)
{
	return t == BW_CSS_LPAREN || t == BW_CSS_FUNCTION || t == BW_CSS_LBRACKET || t == BW_CSS_LBRACE;
}

static bw_css_tok_type closer_of(bw_css_tok_type t)
{
	return t == BW_CSS_LBRACKET ? BW_CSS_RBRACKET : t == BW_CSS_LBRACE ? BW_CSS_RBRACE : BW_CSS_RPAREN;
}

/* Compiles the media query list s[start..end) into out. import: the list
 * follows @import, after optional layer and supports(). */
static void mq_compile(const char *s, size_t start, size_t end, bool import, mq_list *out)
{
	mqc *m = &(mqc){ .s = s, .out = out };
	int open[MQ_TOKENS], nopen = 0;
	bw_css_lexer lx = { s, end, start };
	out->n = 0;
	for (bw_css_tok t;;) {
		bw_css_lex(&lx, &t);
		if (t.type == BW_CSS_EOF)
			break;
		if (t.type == BW_CSS_WS)
			continue;
		if (m->n == MQ_TOKENS)
			goto maybe;
		m->close[m->n] = -1;
		if (is_opener(t.type))
			open[nopen++] = m->n;
		else if (nopen && t.type == closer_of(m->tk[open[nopen - 1]].type))
			m->close[open[--nopen]] = m->n;
		m->tk[m->n++] = t;
	}
	while (nopen)
		m->close[open[--nopen]] = m->n;
	int i = 0;
	if (import) {
		if (mq_is(m, i, BW_CSS_IDENT, "layer"))
			i++;
		else if (mq_is(m, i, BW_CSS_FUNCTION, "layer"))
			i = m->close[i] + 1;
		if (mq_is(m, i, BW_CSS_FUNCTION, "supports"))
			i = m->close[i] + 1;
	}
	if (i >= m->n) { /* no list: all */
		emit(m, MQ_T, 0, 0);
		emit(m, MQ_END, 0, 0);
		return;
	}
	for (;;) {
		int j = i;
		while (j < m->n && m->tk[j].type != BW_CSS_COMMA)
			j = m->close[j] >= 0 ? m->close[j] + 1 : j + 1;
		int mark = out->n;
		if (!mq_query(m, i, j)) { /* unparseable: maybe */
			out->n = mark;
			emit(m, MQ_U, 0, 0);
		}
		emit(m, MQ_END, 0, 0);
		if (j >= m->n)
			break;
		i = j + 1;
	}
	if (!m->full)
		return;
maybe:
	out->n = 0;
	out->op[out->n++] = (mq_op){ MQ_U, 0, 0 };
	out->op[out->n++] = (mq_op){ MQ_END, 0, 0 };
}

static int mq_eval(const mq_list *l, double width, double dpr, bool dark)
{
	unsigned char st[MQ_OPS];
	int sp = 0, best = MQ_F;
	for (int i = 0; i < l->n; i++) {
		const mq_op *o = &l->op[i];
		switch (o->op) {
		case MQ_F: case MQ_U: case MQ_T:
			st[sp++] = o->op;
			break;
		case MQ_WIDTH:
			st[sp++] = cmp_true(width, o->cmp, o->v) ? MQ_T : MQ_F;
			break;
		case MQ_DPR:
			st[sp++] = cmp_true(dpr, o->cmp, o->v) ? MQ_T : MQ_F;
			break;
		case MQ_DARK:
			st[sp++] = dark == (o->v != 0) ? MQ_T : MQ_F;
			break;
		case MQ_NOT:
			if (sp)
				st[sp - 1] = (unsigned char)(MQ_T - st[sp - 1]);
			break;
		case MQ_AND: /* Kleene logic, F < U < T: the lesser */
		case MQ_OR:  /* the greater */
			if (sp >= 2) {
				sp--;
				if ((o->op == MQ_AND) == (st[sp] < st[sp - 1]))
					st[sp - 1] = st[sp];
			}
			break;
		case MQ_END:
			if (sp && st[sp - 1] > best)
				best = st[sp - 1];
			sp = 0;
			break;
		}
	}
	return best;
}

/* Evaluates l[0..n) together on the common screens (widths around every
 * threshold the lists name, 1x and 2x, light and dark). every = false: could
 * they all apply at once on some screen? every = true: do they all apply on
 * every screen? */
static bool mq_check(const mq_list *l, int n, bool every)
{
	double w[2 + 3 * MQ_THRESHOLDS] = { MIN_WIDTH, MAX_WIDTH };
	int nw = 2;
	for (int k = 0; k < n; k++) {
		for (int i = 0; i < l[k].n; i++) {
			double v = l[k].op[i].v;
			if (l[k].op[i].op != MQ_WIDTH || v <= MIN_WIDTH || v >= MAX_WIDTH)
				continue;
			if (nw + 3 > (int)(sizeof w / sizeof w[0]))
				return !every;
			w[nw++] = v - 1.0 / 64 < MIN_WIDTH ? MIN_WIDTH : v - 1.0 / 64;
			w[nw++] = v;
			w[nw++] = v + 1.0 / 64;
		}
	}
	for (int dpr = 1; dpr <= 2; dpr++)
		for (int dark = 0; dark <= 1; dark++)
			for (int i = 0; i < nw; i++) {
				int k = 0;
				while (k < n && (every ? mq_eval(&l[k], w[i], dpr, dark) == MQ_T
						       : mq_eval(&l[k], w[i], dpr, dark) != MQ_F))
					k++;
				if (every && k < n)
					return false;
				if (!every && k == n)
					return true;
			}
	return every;
}

static bool mq_possible(const mq_list *l, int n)
{
	return mq_check(l, n, false);
}

bool bw_css_media_ok(const char *media, size_t len)
{
	mq_list l;
	mq_compile(media ? media : "", 0, media ? len : 0, false, &l);
	return mq_possible(&l, 1);
}

bool bw_css_media_always(const char *media, size_t len)
{
	mq_list l;
	mq_compile(media ? media : "", 0, media ? len : 0, false, &l);
	return mq_check(&l, 1, true);
}

/* ---- parser ---- */

#define MAX_DEPTH 64
#define NO_RULE SIZE_MAX
#define STOP(type) (1u << (type))
#define STOP_ONE (1u << 31) /* walk: one component value only */

/* What a {}-block holds, which decides where its declarations go. */
typedef enum ctx {
	C_SHEET,       /* the top level of a style sheet */
	C_GROUP,       /* @media, @supports... outside style rules: rules */
	C_STYLE,       /* a style rule, or a group rule nested in one */
	C_INLINE,      /* a style attribute */
	C_FONT_FACE,
	C_KEYFRAMES,   /* keyframe rules */
	C_DESCRIPTORS, /* a keyframe, @property: url()s count, boxes do not */
	C_DEAD         /* nothing in it applies on screen */
} ctx;

typedef struct frame {
	ctx ctx;
	int depth;
	bool media_ok;
	bool media_always; /* the enclosing @media lists hold on every common screen */
	const char *sel;   /* C_STYLE: what its declarations apply to */
	size_t rule;       /* C_STYLE: the rule taking its declarations now */
	bw_css_box *box;   /* C_INLINE */
	bw_css_refs *refs; /* C_INLINE */
} frame;

/* Where url()s found by a walk go, and as what. */
typedef struct sink {
	bw_css_refs *refs;
	bw_css_ref_kind kind;
	const char *prop;
	bool media_ok;
	bool guess; /* kind and prop follow each "name:" (blocks not parsed) */
} sink;

enum { IT_OTHER, IT_BANG, IT_IMPORTANT };

/* The top-level items of a declaration value. */
typedef struct walk_info {
	size_t first;           /* start of the first */
	size_t end[3];          /* ends of the last three */
	unsigned char last[2];  /* IT_* of the last two */
	unsigned items;
	bool strict;            /* not a custom property: a top-level {}-block ends the walk */
	bool rule;              /* it did so: a rule, not a declaration */
} walk_info;

typedef struct parser {
	bw_css_lexer lx;
	bw_css_tok t;           /* the next token */
	bw_css_sheet *sheet;    /* NULL for a style attribute */
	bw_css_refs *dead;      /* url()s no browser loads, or nested too deep */
	bw_css_refs tmp;        /* a declaration's url()s until it proves to be one */
	mq_stack *mq;
	bool imports_ok;
	struct {                /* the blocks open in a walk: kind and K_* flags */
		unsigned char *v;
		size_t n, cap;
		unsigned char fixed[64];
	} st;
	size_t ufn_level;       /* the url("...") function open in the walk, or SIZE_MAX */
	size_t ufn_start;
	int ufn_state;          /* 0: before its string, 1: string seen, 2: not a URL */
	bw_css_tok ufn_str;
} parser;

enum { K_PAREN = 1, K_BRACKET = 2, K_BRACE = 3, K_KIND = 3, K_IMGSET = 4 };

static void adv(parser *p)
{
	bw_css_lex(&p->lx, &p->t);
}

static void skip_ws(parser *p)
{
	while (p->t.type == BW_CSS_WS)
		adv(p);
}

static void st_push(parser *p, unsigned char k)
{
	if (p->st.n == p->st.cap) {
		size_t ncap = p->st.cap * 2;
		unsigned char *v = bw_xmalloc(ncap);
		memcpy(v, p->st.v, p->st.n);
		if (p->st.v != p->st.fixed)
			free(p->st.v);
		p->st.v = v;
		p->st.cap = ncap;
	}
	p->st.v[p->st.n++] = k;
}

static void report(parser *p, sink *sk, size_t start, size_t end, const bw_css_tok *value)
{
	ref_add(sk->refs, sk->kind, sk->prop, sk->media_ok, start, end, tok_value(p->lx.s, value));
}

static void item(walk_info *wi, const bw_css_tok *t, unsigned char what)
{
	if (!wi)
		return;
	if (!wi->items)
		wi->first = t->start;
	wi->items++;
	wi->end[2] = wi->end[1];
	wi->end[1] = wi->end[0];
	wi->end[0] = t->end;
	wi->last[1] = wi->last[0];
	wi->last[0] = what;
}

static bool url_pending(const parser *p)
{
	return p->ufn_level != SIZE_MAX;
}

/* Consumes component values until a top-level token whose STOP() bit is in
 * stops (not consumed), or EOF, reporting every url() to sk: url tokens,
 * url("...") functions (span up to their ")") and the strings of
 * image-set(). With STOP_ONE, consumes one component value. */
static void walk(parser *p, unsigned stops, sink *sk, walk_info *wi)
{
	bw_css_tok cand = { .type = BW_CSS_EOF }; /* guess: a property name before ":" */
	for (;;) {
		bw_css_tok *t = &p->t;
		bool top = p->st.n == 0;
		if (top && (STOP(t->type) & stops & ~STOP_ONE))
			return;
		unsigned char f = top ? 0 : p->st.v[p->st.n - 1];
		bool in_ufn = url_pending(p) && p->ufn_level == p->st.n - 1;
		switch (t->type) {
		case BW_CSS_EOF: /* blocks close at EOF: a url("x" still loads */
			if (url_pending(p) && p->ufn_state == 1)
				report(p, sk, p->ufn_start, t->end, &p->ufn_str);
			p->ufn_level = SIZE_MAX;
			p->st.n = 0;
			return;
		case BW_CSS_WS:
			break;
		case BW_CSS_URL:
			if (!url_pending(p))
				report(p, sk, t->start, t->end, t);
			if (top)
				item(wi, t, IT_OTHER);
			break;
		case BW_CSS_FUNCTION: {
			unsigned char k = K_PAREN;
			if (!url_pending(p) && bw_css_tok_ieq(p->lx.s, t, "url")) {
				p->ufn_level = p->st.n;
				p->ufn_start = t->start;
				p->ufn_state = 0;
			} else if (bw_css_tok_ieq(p->lx.s, t, "image-set") ||
				   bw_css_tok_ieq(p->lx.s, t, "-webkit-image-set")) {
				k |= K_IMGSET;
			}
			if (top)
				item(wi, t, IT_OTHER);
			st_push(p, k);
			break;
		}
		case BW_CSS_LPAREN:
		case BW_CSS_LBRACKET:
		case BW_CSS_LBRACE:
			/* CSS Syntax takes "name: x {...}" for a nested rule, and "name:
			 * {...}" for a declaration that no property accepts: a rule with
			 * an invalid selector is as dead, and parsing it as one at once
			 * keeps hostile "a:{a:{...} x} x" from being walked again at
			 * every level. */
			if (top && t->type == BW_CSS_LBRACE && wi && wi->strict) {
				wi->rule = true;
				return;
			}
			if (top)
				item(wi, t, IT_OTHER);
			st_push(p, t->type == BW_CSS_LPAREN ? K_PAREN : t->type == BW_CSS_LBRACKET ? K_BRACKET : K_BRACE);
			break;
		case BW_CSS_RPAREN:
		case BW_CSS_RBRACKET:
		case BW_CSS_RBRACE: {
			int kind = t->type == BW_CSS_RPAREN ? K_PAREN : t->type == BW_CSS_RBRACKET ? K_BRACKET : K_BRACE;
			if (top || (f & K_KIND) != kind) { /* a stray closer is just a token */
				if (top)
					item(wi, t, IT_OTHER);
				break;
			}
			p->st.n--;
			if (url_pending(p) && p->ufn_level == p->st.n) {
				if (p->ufn_state == 1)
					report(p, sk, p->ufn_start, t->end, &p->ufn_str);
				p->ufn_level = SIZE_MAX;
			}
			if (p->st.n == 0 && wi)
				wi->end[0] = t->end;
			break;
		}
		case BW_CSS_STRING:
			if (in_ufn && p->ufn_state == 0) {
				p->ufn_state = 1;
				p->ufn_str = *t;
			} else if ((f & K_IMGSET) && !url_pending(p)) {
				report(p, sk, t->start, t->end, t);
			}
			if (top)
				item(wi, t, IT_OTHER);
			break;
		default:
			if (in_ufn && p->ufn_state == 0)
				p->ufn_state = 2;
			if (top && wi) {
				bool important = wi->items && wi->last[0] == IT_BANG && t->type == BW_CSS_IDENT &&
						 bw_css_tok_ieq(p->lx.s, t, "important");
				item(wi, t, t->type == BW_CSS_DELIM && t->delim == '!' ? IT_BANG :
					    important ? IT_IMPORTANT : IT_OTHER);
			}
			break;
		}
		if (sk->guess) {
			if (t->type == BW_CSS_COLON && cand.type == BW_CSS_IDENT) {
				prop_info pi = lookup_prop(p->lx.s, &cand);
				sk->prop = pi.name;
				sk->kind = pi.id == P_BACKGROUND ? BW_CSS_REF_BACKGROUND : BW_CSS_REF_OTHER;
			} else if (t->type == BW_CSS_SEMICOLON || t->type == BW_CSS_LBRACE || t->type == BW_CSS_RBRACE) {
				sk->prop = "unknown";
				sk->kind = BW_CSS_REF_OTHER;
			}
			if (t->type != BW_CSS_WS)
				cand = *t;
		}
		adv(p);
		if ((stops & STOP_ONE) && p->st.n == 0)
			return;
	}
}

static sink dead_sink(parser *p, const char *prop)
{
	return (sink){ .refs = p->dead, .kind = BW_CSS_REF_OTHER, .prop = prop, .media_ok = false };
}

/* Appends the url()s of p->tmp to dst (media_ok false when !live). */
static void move_refs(parser *p, bw_css_refs *dst, bool live)
{
	for (size_t i = 0; i < p->tmp.n; i++) {
		bw_css_ref *r = &p->tmp.v[i];
		if (dst)
			ref_add(dst, r->kind, r->property, r->media_ok && live, r->start, r->end, r->url);
		else
			free(r->url);
	}
	p->tmp.n = 0;
}

static bw_css_rule *rule_at(parser *p, frame *f)
{
	bw_css_sheet *sh = p->sheet;
	if (f->rule == NO_RULE) {
		void *v = sh->rules;
		bw_grow(&v, &sh->caprules, sh->nrules + 1, sizeof *sh->rules);
		sh->rules = v;
		bw_css_rule *r = &sh->rules[sh->nrules];
		*r = (bw_css_rule){ .selector = bw_xstrdup(f->sel), .media_ok = f->media_ok,
				    .media_always = f->media_always };
		bw_css_box_init(&r->box);
		f->rule = sh->nrules++;
	}
	return &sh->rules[f->rule];
}

static bool box_property(enum prop id)
{
	return id >= P_BACKGROUND && id != P_SRC;
}

/* An @font-face src list is a list of alternatives: a browser fetches the
 * first it can use and stops. Embedded OpenType (.eot) and SVG fonts are
 * skipped by current browsers, so the first other URL is the one fetched;
 * the rest load only if it fails, and are listed as not loaded on open.
 * Format hints are not read: a URL's extension is enough in real mail. */
static bool font_url_skipped(const char *url)
{
	size_t n = strcspn(url, "?#");
	return (n >= 4 && strncasecmp(url + n - 4, ".eot", 4) == 0) ||
	       (n >= 4 && strncasecmp(url + n - 4, ".svg", 4) == 0);
}

static void first_usable_font(bw_css_refs *src)
{
	size_t first = src->n;
	for (size_t i = 0; i < src->n && first == src->n; i++)
		if (!font_url_skipped(src->v[i].url))
			first = i;
	if (first == src->n)
		return; /* nothing usable by that rule: keep them all (superset) */
	for (size_t i = 0; i < src->n; i++)
		if (i != first)
			src->v[i].media_ok = false;
}

/* A declaration, if the next tokens are one; otherwise nothing is consumed
 * that matters (the caller rewinds). */
static bool parse_declaration(parser *p, frame *f)
{
	if (p->t.type != BW_CSS_IDENT)
		return false;
	bw_css_tok name = p->t;
	adv(p);
	skip_ws(p);
	if (p->t.type != BW_CSS_COLON)
		return false;
	adv(p);
	skip_ws(p);
	prop_info pi = lookup_prop(p->lx.s, &name);
	bool font_src = f->ctx == C_FONT_FACE && pi.id == P_SRC;
	sink sk = { .refs = &p->tmp, .prop = pi.name, .media_ok = f->media_ok,
		    .kind = font_src ? BW_CSS_REF_FONT : pi.id == P_BACKGROUND ? BW_CSS_REF_BACKGROUND :
										  BW_CSS_REF_OTHER };
	walk_info wi = { .strict = pi.id != P_CUSTOM };
	walk(p, STOP(BW_CSS_SEMICOLON) | STOP(BW_CSS_RBRACE), &sk, &wi);
	if (wi.rule) {
		move_refs(p, NULL, false);
		return false;
	}
	if (p->t.type == BW_CSS_SEMICOLON)
		adv(p);
	bool important = wi.items >= 2 && wi.last[0] == IT_IMPORTANT && wi.last[1] == IT_BANG;
	size_t vend = important ? (wi.items > 2 ? wi.end[2] : wi.first) : wi.end[0];
	bw_css_box *box = NULL;
	if (f->ctx == C_STYLE) {
		if (p->tmp.n || box_property(pi.id)) {
			bw_css_rule *r = rule_at(p, f);
			move_refs(p, &r->refs, true);
			box = &r->box;
		}
	} else if (f->ctx == C_INLINE) {
		move_refs(p, f->refs, true);
		box = f->box;
	} else { /* outside rules only @font-face src, keyframes and @property load */
		if (font_src)
			first_usable_font(&p->tmp);
		move_refs(p, p->dead, font_src || f->ctx == C_DESCRIPTORS);
	}
	if (box && wi.items && box_property(pi.id))
		box_declare(box, p->lx.s, pi.id, wi.first, vend, important);
	return true;
}

static void parse_contents(parser *p, frame *f);

/* The contents of the {}-block whose "{" was just consumed, and its "}". */
static void block(parser *p, frame *c)
{
	if (c->ctx == C_DEAD || c->depth > MAX_DEPTH) {
		sink sk = { .refs = p->dead, .kind = BW_CSS_REF_OTHER, .prop = "unknown",
			    .media_ok = c->ctx != C_DEAD && c->media_ok, .guess = true };
		walk(p, STOP(BW_CSS_RBRACE), &sk, NULL);
	} else {
		parse_contents(p, c);
	}
	if (p->t.type == BW_CSS_RBRACE)
		adv(p);
}

/* The parent selector list, as the nesting selector "&" stands for it:
 * :is(parent), or "*" (which matches more) once the budget of copies is
 * spent, since hostile nesting would grow the text exponentially. */
static void put_parent(bw_buf *b, const char *parent, size_t *budget)
{
	size_t n = strlen(parent) + 5;
	if (n > *budget) {
		bw_buf_putc(b, '*');
		return;
	}
	*budget -= n;
	bw_buf_puts(b, ":is(");
	bw_buf_puts(b, parent);
	bw_buf_putc(b, ')');
}

/* The selector a nested rule's relative selector list s[start..end) stands
 * for: "&" becomes the parent, and a selector without "&" is a descendant of
 * the parent (or follows it by its leading combinator). */
static char *nest_selector(const char *s, size_t start, size_t end, const char *parent)
{
	size_t budget = 4096;
	bw_buf b = { 0 };
	bw_css_lexer lx = { s, end, start };
	bw_css_tok t;
	bw_css_lex(&lx, &t);
	for (;;) {
		while (t.type == BW_CSS_WS || t.type == BW_CSS_COMMA)
			bw_css_lex(&lx, &t);
		if (t.type == BW_CSS_EOF)
			break;
		/* one selector: up to a top-level comma */
		size_t from = t.start, to = t.start, depth = 0;
		bool amp = false;
		for (; t.type != BW_CSS_EOF && (depth || t.type != BW_CSS_COMMA); bw_css_lex(&lx, &t)) {
			if (is_opener(t.type))
				depth++;
			else if (depth && (t.type == BW_CSS_RPAREN || t.type == BW_CSS_RBRACKET || t.type == BW_CSS_RBRACE))
				depth--;
			amp |= t.type == BW_CSS_DELIM && t.delim == '&';
			if (t.type != BW_CSS_WS)
				to = t.end;
		}
		if (b.len)
			bw_buf_puts(&b, ", ");
		size_t copied = from;
		if (!amp) {
			put_parent(&b, parent, &budget);
			bw_buf_putc(&b, ' ');
		} else {
			bw_css_lexer sub = { s, to, from };
			bw_css_tok u;
			for (bw_css_lex(&sub, &u); u.type != BW_CSS_EOF; bw_css_lex(&sub, &u)) {
				if (u.type != BW_CSS_DELIM || u.delim != '&')
					continue;
				bw_buf_append(&b, s + copied, u.start - copied);
				put_parent(&b, parent, &budget);
				copied = u.end;
			}
		}
		bw_buf_append(&b, s + copied, to - copied);
	}
	return bw_buf_steal(&b);
}

static char *trimmed(const char *s, size_t start, size_t end)
{
	while (start < end && is_ws((unsigned char)s[start]))
		start++;
	while (end > start && is_ws((unsigned char)s[end - 1]))
		end--;
	return bw_xstrndup(s + start, end - start);
}

static void parse_qualified(parser *p, frame *f)
{
	size_t start = p->t.start;
	sink sk = dead_sink(p, "selector");
	unsigned stops = STOP(BW_CSS_LBRACE);
	if (f->ctx != C_SHEET)
		stops |= STOP(BW_CSS_SEMICOLON) | STOP(BW_CSS_RBRACE);
	walk(p, stops, &sk, NULL);
	if (p->t.type != BW_CSS_LBRACE)
		return; /* EOF, or ";" / "}" in a block: no rule */
	size_t end = p->t.start;
	adv(p);
	frame c = { .ctx = C_DEAD, .depth = f->depth + 1, .media_ok = f->media_ok,
		    .media_always = f->media_always, .rule = NO_RULE };
	char *sel = NULL;
	switch (f->ctx) {
	case C_SHEET:
		p->imports_ok = false;
		/* fallthrough */
	case C_GROUP:
		c.ctx = C_STYLE;
		c.sel = sel = trimmed(p->lx.s, start, end);
		break;
	case C_STYLE:
		c.ctx = C_STYLE;
		c.sel = sel = nest_selector(p->lx.s, start, end, f->sel);
		break;
	case C_KEYFRAMES:
		c.ctx = C_DESCRIPTORS;
		break;
	default:
		break;
	}
	block(p, &c);
	free(sel);
}

/* @import "x" | url(x) [layer] [supports()] [media list]; */
static void parse_import(parser *p, frame *f, unsigned stops)
{
	skip_ws(p);
	sink sk = { .refs = &p->tmp, .kind = BW_CSS_REF_IMPORT, .prop = "@import", .media_ok = true };
	if (p->t.type == BW_CSS_STRING) {
		report(p, &sk, p->t.start, p->t.end, &p->t);
		adv(p);
	} else if (p->t.type == BW_CSS_URL || p->t.type == BW_CSS_FUNCTION) {
		walk(p, STOP_ONE, &sk, NULL);
	}
	bool ok = p->tmp.n > 0 && f->ctx == C_SHEET && p->imports_ok;
	sink rest = dead_sink(p, "@import");
	walk(p, stops, &rest, NULL);
	/* Chromium fetches an imported sheet whatever its media list says
	 * (print included), as it does link rel=stylesheet media=print; only
	 * a misplaced or malformed @import is dropped. */
	if (p->t.type == BW_CSS_LBRACE)
		ok = false;
	move_refs(p, p->dead, ok);
	if (p->t.type == BW_CSS_SEMICOLON) {
		adv(p);
	} else if (p->t.type == BW_CSS_LBRACE) {
		adv(p);
		block(p, &(frame){ .ctx = C_DEAD });
	}
}

static void parse_at_rule(parser *p, frame *f)
{
	static const char *const group[] = { "media", "supports", "container", "layer", "scope",
					     "starting-style" };
	static const char *const keyframes[] = { "keyframes", "-webkit-keyframes" };
	char name[32];
	bw_css_tok_lower(p->lx.s, &p->t, name, sizeof name);
	adv(p);
	unsigned stops = STOP(BW_CSS_SEMICOLON) | STOP(BW_CSS_LBRACE);
	if (f->ctx != C_SHEET)
		stops |= STOP(BW_CSS_RBRACE);
	if (!strcmp(name, "import")) {
		parse_import(p, f, stops);
		return;
	}
	size_t start = p->t.start;
	sink sk = dead_sink(p, "at-rule");
	walk(p, stops, &sk, NULL);
	size_t end = p->t.start;
	bool known = name_in(name, group, sizeof group / sizeof group[0]) ||
		     name_in(name, keyframes, sizeof keyframes / sizeof keyframes[0]) ||
		     !strcmp(name, "font-face") || !strcmp(name, "property") ||
		     !strcmp(name, "namespace") || !strcmp(name, "page");
	if (p->t.type != BW_CSS_LBRACE) { /* a statement: @charset, @namespace, @layer a, b; */
		if (!strcmp(name, "namespace"))
			p->imports_ok = false;
		if (p->t.type == BW_CSS_SEMICOLON)
			adv(p);
		return;
	}
	adv(p);
	if (known)
		p->imports_ok = false;
	frame c = { .ctx = C_DEAD, .depth = f->depth + 1, .media_ok = f->media_ok,
		    .media_always = f->media_always, .rule = NO_RULE };
	bool rule_level = f->ctx == C_SHEET || f->ctx == C_GROUP;
	bool pushed = false;
	if (name_in(name, group, sizeof group / sizeof group[0])) {
		if (f->ctx == C_STYLE) { /* nested: its declarations apply to the parent's elements */
			c.ctx = C_STYLE;
			c.sel = f->sel;
		} else if (rule_level) {
			c.ctx = C_GROUP;
		}
		if (c.ctx != C_DEAD && !strcmp(name, "media") && p->mq) {
			mq_stack *ms = p->mq;
			pushed = ms->n < MQ_STACK;
			mq_list *l = &ms->l[pushed ? ms->n : MQ_STACK];
			mq_compile(p->lx.s, start, end, false, l);
			if (pushed)
				ms->n++;
			c.media_ok = f->media_ok && (pushed ? mq_possible(ms->l, ms->n) : mq_possible(l, 1));
			c.media_always = f->media_always && mq_check(l, 1, true);
		}
	} else if (rule_level && !strcmp(name, "font-face")) {
		c.ctx = C_FONT_FACE;
	} else if (rule_level && name_in(name, keyframes, sizeof keyframes / sizeof keyframes[0])) {
		c.ctx = C_KEYFRAMES;
	} else if (rule_level && !strcmp(name, "property")) {
		c.ctx = C_DESCRIPTORS;
	}
	block(p, &c);
	if (pushed)
		p->mq->n--;
}

/* A block's contents (CSS Syntax, "consume a block's contents"):
 * declarations and nested rules, up to "}" or EOF. */
static void parse_contents(parser *p, frame *f)
{
	for (;;) {
		switch (p->t.type) {
		case BW_CSS_EOF:
		case BW_CSS_RBRACE:
			return;
		case BW_CSS_WS:
		case BW_CSS_SEMICOLON:
			adv(p);
			break;
		case BW_CSS_AT_KEYWORD:
			parse_at_rule(p, f);
			f->rule = NO_RULE; /* later declarations come after it */
			break;
		default: {
			bw_css_lexer lx = p->lx;
			bw_css_tok t = p->t;
			if (parse_declaration(p, f))
				break;
			p->lx = lx;
			p->t = t;
			parse_qualified(p, f);
			f->rule = NO_RULE;
		}
		}
	}
}

static void parser_init(parser *p, const char *css, size_t len, bw_css_refs *dead)
{
	p->lx = (bw_css_lexer){ css ? css : "", css ? len : 0, 0 };
	p->sheet = NULL;
	p->dead = dead;
	p->tmp = (bw_css_refs){ 0 };
	p->mq = NULL;
	p->imports_ok = true;
	p->st.v = p->st.fixed;
	p->st.n = 0;
	p->st.cap = sizeof p->st.fixed;
	p->ufn_level = SIZE_MAX;
	adv(p);
}

static void parser_done(parser *p)
{
	bw_css_refs_free(&p->tmp);
	if (p->st.v != p->st.fixed)
		free(p->st.v);
}

void bw_css_parse_inline(const char *css, size_t len, bw_css_box *box, bw_css_refs *refs)
{
	parser p;
	bw_css_refs scratch = { 0 };
	parser_init(&p, css, len, refs ? refs : &scratch);
	if (box)
		bw_css_box_init(box);
	frame f = { .ctx = C_INLINE, .media_ok = true, .media_always = true, .rule = NO_RULE,
		    .box = box, .refs = refs };
	parse_contents(&p, &f);
	/* a stray "}" ends a style attribute; url()s after it still get reported */
	sink sk = dead_sink(&p, "unknown");
	sk.guess = true;
	walk(&p, 0, &sk, NULL);
	parser_done(&p);
	bw_css_refs_free(&scratch);
}

void bw_css_parse_sheet(const char *css, size_t len, bw_css_sheet *sheet)
{
	parser p;
	memset(sheet, 0, sizeof *sheet);
	parser_init(&p, css, len, &sheet->at_refs);
	p.sheet = sheet;
	p.mq = bw_xmalloc(sizeof *p.mq);
	p.mq->n = 0;
	frame f = { .ctx = C_SHEET, .media_ok = true, .media_always = true, .rule = NO_RULE };
	while (p.t.type != BW_CSS_EOF) {
		switch (p.t.type) {
		case BW_CSS_WS:
		case BW_CSS_CDO:
		case BW_CSS_CDC:
			adv(&p);
			break;
		case BW_CSS_AT_KEYWORD:
			parse_at_rule(&p, &f);
			break;
		default:
			parse_qualified(&p, &f);
		}
	}
	free(p.mq);
	parser_done(&p);
}

void bw_css_sheet_free(bw_css_sheet *sheet)
{
	if (!sheet)
		return;
	for (size_t i = 0; i < sheet->nrules; i++) {
		free(sheet->rules[i].selector);
		bw_css_refs_free(&sheet->rules[i].refs);
	}
	free(sheet->rules);
	bw_css_refs_free(&sheet->at_refs);
	memset(sheet, 0, sizeof *sheet);
}
