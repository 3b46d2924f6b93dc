/* CSS as far as loading and visibility go: a CSS Syntax Level 3 tokenizer,
 * the url() references a stylesheet or style attribute makes, the declarations
 * that hide or shrink an element, and selector matching against Gumbo nodes.
 * Internal to src/html. */
#ifndef BULWARK_HTML_CSS_H
#define BULWARK_HTML_CSS_H

#include <stdbool.h>
#include <stddef.h>

#include <gumbo.h>

typedef enum bw_css_ref_kind {
	BW_CSS_REF_IMPORT,     /* @import */
	BW_CSS_REF_FONT,       /* @font-face src */
	BW_CSS_REF_BACKGROUND, /* background, background-image */
	BW_CSS_REF_OTHER       /* list-style-image, border-image, content, cursor, mask, ... */
} bw_css_ref_kind;

/* One URL referenced from CSS. */
typedef struct bw_css_ref {
	bw_css_ref_kind kind;
	char *url;            /* the URL string with CSS escapes resolved, not yet parsed */
	size_t start, end;    /* byte span of the url(...) token or @import string in the CSS text */
	const char *property; /* static: "background-image", "src", "@import", ... */
	bool media_ok;        /* applies on some common screen (any width, density, colour scheme) */
} bw_css_ref;

typedef struct bw_css_refs {
	bw_css_ref *v;
	size_t n, cap;
} bw_css_refs;

/* The declarations of one rule or style attribute that matter for loading and
 * visibility. A field is set only when the declaration was present. */
typedef struct bw_css_box {
	bool display_none;
	bool visibility_hidden;
	bool opacity_zero;
	bool offscreen;              /* positioned far outside the viewport, or clipped away */
	double width_px, height_px;  /* < 0: not set or not in px */
	bool sets_background_image;  /* background or background-image set (even to none):
					overrides a background= attribute */
	bool has_font_family;        /* font-family or font set */
	bool zero_font_size;         /* font-size: 0 */

	/* Private to css.c. Which declarations were present (and which were
	 * !important), and the parts that several declarations combine into
	 * offscreen, width_px and height_px, so that bw_css_box_merge can
	 * cascade one rule onto another. Read the fields above instead. */
	struct bw_css_box_decls {
		unsigned set, important;  /* bit masks, one bit per property group */
		bool positioned;          /* position: absolute | fixed */
		bool far_left, far_top, far_indent;
		bool clip_zero, clip_path_zero;
		bool max_width_zero, max_height_zero;
		double width, height;     /* width / height in px, < 0 when not px */
	} decl;
	bool font_size_absolute;     /* font-size set to a non-zero size that does not scale
					with the parent's (px, pt, a keyword): text inside
					a font-size: 0 wrapper shows again */
} bw_css_box;

void bw_css_box_init(bw_css_box *b);
/* Later declarations win: copies into dst each field that src sets, unless
 * dst's declaration of it was !important and src's is not. */
void bw_css_box_merge(bw_css_box *dst, const bw_css_box *src);

/* A style attribute: declarations only. Spans are relative to css. box (may
 * be NULL) is initialised, then describes the attribute alone; refs (may be
 * NULL) is appended to. url()s a browser would not load (in rules, which a
 * style attribute cannot hold, or after a stray "}") come with media_ok false. */
void bw_css_parse_inline(const char *css, size_t len, bw_css_box *box, bw_css_refs *refs);

typedef struct bw_css_rule {
	char *selector;       /* selector list text, as written; for a nested rule
				 (CSS nesting) the equivalent absolute selector,
				 the parent written as :is(parent) */
	bool media_ok;        /* the enclosing @media/@supports could apply on a common screen */
	bool media_always;    /* ... and applies on every common screen: only then can its
				 declarations be taken as certain (display:none hiding a
				 background, background-image overriding background=) */
	bw_css_box box;
	bw_css_refs refs;     /* url()s in this rule's declarations */
} bw_css_rule;

typedef struct bw_css_sheet {
	bw_css_rule *rules;
	size_t nrules, caprules;
	bw_css_refs at_refs;  /* @import and @font-face references; also url()s of
				 @keyframes and @property, those nested too deep to
				 attribute to a rule, and (media_ok false) every
				 url() no browser loads: @namespace, @page, unknown
				 at-rules, misplaced @import, rule preludes */
} bw_css_sheet;

/* A <style> block. Spans are relative to css. Never fails: invalid CSS is
 * skipped as the CSS error-recovery rules say. sheet is overwritten, not
 * freed, first. */
void bw_css_parse_sheet(const char *css, size_t len, bw_css_sheet *sheet);
void bw_css_sheet_free(bw_css_sheet *sheet);
void bw_css_refs_free(bw_css_refs *refs);

/* Could the media query list media[0..len) (a media= attribute, or an
 * @media prelude) apply on some common mail-reading screen: a viewport 320 to
 * 1920 CSS px wide, device pixel ratio 1 or 2, light or dark colour scheme?
 * What it cannot tell counts as yes; an empty list is "all". The same test
 * gives bw_css_ref.media_ok and bw_css_rule.media_ok. */
bool bw_css_media_ok(const char *media, size_t len);
/* Does it apply on every common screen? */
bool bw_css_media_always(const char *media, size_t len);

/* Could any selector of the list match el on open? Dynamic pseudo-classes
 * (:hover, :focus, :active, :visited, :target) never match; structural ones
 * that cannot be checked cheaply are assumed to match, so the answer errs
 * towards a superset. */
bool bw_css_selector_matches(const char *selector, const GumboNode *el);

/* ---- the tokenizer (CSS Syntax Level 3, section 4), shared with selector.c ---- */

typedef enum bw_css_tok_type {
	BW_CSS_EOF, BW_CSS_WS, BW_CSS_IDENT, BW_CSS_FUNCTION, BW_CSS_AT_KEYWORD,
	BW_CSS_HASH, BW_CSS_STRING, BW_CSS_BAD_STRING, BW_CSS_URL, BW_CSS_BAD_URL,
	BW_CSS_DELIM, BW_CSS_NUMBER, BW_CSS_PERCENTAGE, BW_CSS_DIMENSION,
	BW_CSS_CDO, BW_CSS_CDC, BW_CSS_COLON, BW_CSS_SEMICOLON, BW_CSS_COMMA,
	BW_CSS_LBRACKET, BW_CSS_RBRACKET, BW_CSS_LPAREN, BW_CSS_RPAREN,
	BW_CSS_LBRACE, BW_CSS_RBRACE
} bw_css_tok_type;

/* Values are spans of the source, so tokenizing allocates nothing. */
typedef struct bw_css_tok {
	bw_css_tok_type type;
	bool escaped;         /* the value holds a backslash escape or a NUL byte */
	bool id;              /* HASH: the value would start an identifier */
	char delim;           /* DELIM: the byte */
	size_t start, end;    /* the whole token (a FUNCTION ends after its "(") */
	size_t vstart, vend;  /* the name of IDENT, FUNCTION, AT_KEYWORD and HASH;
				 the contents of STRING and URL; a DIMENSION's unit */
	double num;           /* NUMBER, PERCENTAGE, DIMENSION */
} bw_css_tok;

typedef struct bw_css_lexer {
	const char *s;
	size_t len, pos;
} bw_css_lexer;

/* The token at lx->pos, which then moves past it. Comments are skipped. */
void bw_css_lex(bw_css_lexer *lx, bw_css_tok *t);
/* Writes s[start..end), a token value, with escapes resolved and NUL bytes
 * replaced, as NUL-terminated UTF-8 to out, which must hold 3 * (end - start)
 * + 1 bytes. string: the value of a STRING (an escaped newline is dropped, as
 * is a backslash at the very end). Returns the length written. */
size_t bw_css_unescape(const char *s, size_t start, size_t end, bool string, char *out);
/* Is the token's value, escapes resolved, lower_kw in ASCII any case? */
bool bw_css_tok_ieq(const char *s, const bw_css_tok *t, const char *lower_kw);
/* The token's value, escapes resolved, ASCII lower-cased into buf (of size
 * n): for names and keywords. Returns buf, "" when the value does not fit. */
const char *bw_css_tok_lower(const char *s, const bw_css_tok *t, char *buf, size_t n);

#endif
