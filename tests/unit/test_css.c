/* Tests of src/html/css.c and selector.c: the tokenizer, url() spans,
 * @import, @font-face, media queries, boxes, nesting, selector matching on
 * Gumbo trees, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "html/css.h"

/* ---- helpers ---- */

static void assert_span(const char *css, const bw_css_ref *r, const char *text)
{
	size_t n = strlen(text);
	assert_int_equal(r->end - r->start, n);
	assert_memory_equal(css + r->start, text, n);
}

static int lex_all(const char *s, bw_css_tok *out, int max)
{
	bw_css_lexer lx = { s, strlen(s), 0 };
	int n = 0;
	for (;;) {
		bw_css_tok t;
		bw_css_lex(&lx, &t);
		if (t.type == BW_CSS_EOF || n == max)
			return n;
		out[n++] = t;
	}
}

static char *value(const char *s, const bw_css_tok *t)
{
	static char buf[256];
	bw_css_unescape(s, t->vstart, t->vend, t->type == BW_CSS_STRING, buf);
	return buf;
}

static bw_css_refs inline_refs(const char *css, bw_css_box *box)
{
	bw_css_refs refs = { 0 };
	bw_css_parse_inline(css, strlen(css), box, &refs);
	return refs;
}

static bw_css_box inline_box(const char *css)
{
	bw_css_box b;
	bw_css_parse_inline(css, strlen(css), &b, NULL);
	return b;
}

/* media_ok of a rule inside @media <query>. */
static bool media(const char *query)
{
	char css[512];
	snprintf(css, sizeof css, "@media %s { a { background: url(x) } }", query);
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules, 1);
	assert_int_equal(sh.rules[0].refs.n, 1);
	bool ok = sh.rules[0].media_ok;
	assert_true(sh.rules[0].refs.v[0].media_ok == ok);
	bw_css_sheet_free(&sh);
	return ok;
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

/* ---- tokenizer ---- */

static void test_tokens(void **state)
{
	(void)state;
	const char *s = "a{b:-1.5em 50% +3 1e2 #id #1x 'str' <!-- --> @media /* c */ f(}";
	bw_css_tok t[32];
	int n = lex_all(s, t, 32);
	bw_css_tok_type want[] = {
		BW_CSS_IDENT, BW_CSS_LBRACE, BW_CSS_IDENT, BW_CSS_COLON, BW_CSS_DIMENSION, BW_CSS_WS,
		BW_CSS_PERCENTAGE, BW_CSS_WS, BW_CSS_NUMBER, BW_CSS_WS, BW_CSS_NUMBER, BW_CSS_WS,
		BW_CSS_HASH, BW_CSS_WS, BW_CSS_HASH, BW_CSS_WS, BW_CSS_STRING, BW_CSS_WS, BW_CSS_CDO,
		BW_CSS_WS, BW_CSS_CDC, BW_CSS_WS, BW_CSS_AT_KEYWORD, BW_CSS_WS, BW_CSS_WS,
		BW_CSS_FUNCTION, BW_CSS_RBRACE,
	};
	assert_int_equal(n, sizeof want / sizeof want[0]);
	for (int i = 0; i < n; i++)
		assert_int_equal(t[i].type, want[i]);
	assert_true(t[4].num == -1.5);
	assert_string_equal(value(s, &t[4]), "em");
	assert_true(t[6].num == 50);
	assert_true(t[10].num == 100);
	assert_true(t[12].id);
	assert_false(t[14].id);
	assert_string_equal(value(s, &t[16]), "str");
	assert_string_equal(value(s, &t[22]), "media");
}

static void test_token_escapes(void **state)
{
	(void)state;
	bw_css_tok t[8];
	const char *s = "\\75 rl(x\\29.png) \\64 isplay \"a\\\"b\\41 c\\\nd\" \\0 \\D800 ";
	int n = lex_all(s, t, 8);
	assert_int_equal(n, 7); /* an escape eats one white space after it */
	assert_int_equal(t[0].type, BW_CSS_URL);
	assert_string_equal(value(s, &t[0]), "x).png");
	assert_int_equal(t[2].type, BW_CSS_IDENT);
	assert_true(bw_css_tok_ieq(s, &t[2], "display"));
	assert_int_equal(t[4].type, BW_CSS_STRING);
	assert_string_equal(value(s, &t[4]), "a\"bAcd");
	/* NUL and a surrogate become U+FFFD, as does a backslash at EOF in a name */
	assert_string_equal(value(s, &t[6]), "\xEF\xBF\xBD\xEF\xBF\xBD");
	const char *u = "\\D800 a\\";
	n = lex_all(u, t, 8);
	assert_int_equal(n, 1);
	assert_string_equal(value(u, &t[0]), "\xEF\xBF\xBD" "a\xEF\xBF\xBD");
	/* url( with a quote is a function; case and escapes do not matter */
	const char *f = "URL( 'x') u\\rl(\"y\")";
	n = lex_all(f, t, 8);
	assert_int_equal(t[0].type, BW_CSS_FUNCTION);
	assert_true(bw_css_tok_ieq(f, &t[0], "url"));
	assert_int_equal(t[1].type, BW_CSS_WS);
	assert_int_equal(t[2].type, BW_CSS_STRING);
	assert_int_equal(t[5].type, BW_CSS_FUNCTION);
}

static void test_token_recovery(void **state)
{
	(void)state;
	bw_css_tok t[8];
	/* a bad url runs to ")", which an escape hides */
	const char *s = "url(a b\\) c) x";
	int n = lex_all(s, t, 8);
	assert_int_equal(n, 3);
	assert_int_equal(t[0].type, BW_CSS_BAD_URL);
	assert_int_equal(t[2].type, BW_CSS_IDENT);
	const char *q = "url(a\"b) y";
	n = lex_all(q, t, 8);
	assert_int_equal(t[0].type, BW_CSS_BAD_URL);
	assert_int_equal(t[2].type, BW_CSS_IDENT);
	/* a bad string stops before the newline */
	const char *b = "'abc\nd";
	n = lex_all(b, t, 8);
	assert_int_equal(n, 3);
	assert_int_equal(t[0].type, BW_CSS_BAD_STRING);
	assert_int_equal(t[1].type, BW_CSS_WS);
	/* unterminated comment, string and url at EOF */
	const char *e = "a /* x";
	assert_int_equal(lex_all(e, t, 8), 2);
	const char *u = "url( x.png ";
	n = lex_all(u, t, 8);
	assert_int_equal(n, 1);
	assert_int_equal(t[0].type, BW_CSS_URL);
	assert_string_equal(value(u, &t[0]), "x.png");
}

/* ---- references ---- */

static void test_url_spans(void **state)
{
	(void)state;
	const char *css = "background:url(x.png) no-repeat, URL( \"a b.png\" ) ; "
			  "list-style-image:\\75 rl(li.gif);"
			  "background-image:image-set(\"lo.png\" 1x, url(hi.png) 2x type('image/png'));"
			  "cursor:url('c\\2e cur'),auto;content:'url(no)'";
	bw_css_refs r = inline_refs(css, NULL);
	assert_int_equal(r.n, 6);
	assert_span(css, &r.v[0], "url(x.png)");
	assert_string_equal(r.v[0].url, "x.png");
	assert_int_equal(r.v[0].kind, BW_CSS_REF_BACKGROUND);
	assert_string_equal(r.v[0].property, "background");
	assert_span(css, &r.v[1], "URL( \"a b.png\" )");
	assert_string_equal(r.v[1].url, "a b.png");
	assert_span(css, &r.v[2], "\\75 rl(li.gif)");
	assert_int_equal(r.v[2].kind, BW_CSS_REF_OTHER);
	assert_string_equal(r.v[2].property, "list-style-image");
	assert_span(css, &r.v[3], "\"lo.png\"");
	assert_string_equal(r.v[3].url, "lo.png");
	assert_int_equal(r.v[3].kind, BW_CSS_REF_BACKGROUND);
	assert_span(css, &r.v[4], "url(hi.png)");
	assert_span(css, &r.v[5], "url('c\\2e cur')");
	assert_string_equal(r.v[5].url, "c.cur");
	assert_string_equal(r.v[5].property, "cursor");
	for (size_t i = 0; i < r.n; i++)
		assert_true(r.v[i].media_ok);
	bw_css_refs_free(&r);

	/* a url("...") left open at EOF still loads; a bad url does not */
	const char *open = "background:url('open.png'";
	r = inline_refs(open, NULL);
	assert_int_equal(r.n, 1);
	assert_span(open, &r.v[0], "url('open.png'");
	bw_css_refs_free(&r);
	r = inline_refs("background:url(a b)", NULL);
	assert_int_equal(r.n, 0);
	bw_css_refs_free(&r);
}

static void test_import(void **state)
{
	(void)state;
	const char *css = "@charset \"utf-8\";\n@import \"a.css\";\n@import url(b.css) screen;\n"
			  "@import url( 'c.css' ) print;\n"
			  "@import 'd.css' layer(base) supports(display: grid) (max-width: 600px);\n"
			  "@import u\\rl(e.css) not all;\n"
			  "p { color: red }\n@import \"late.css\";";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.at_refs.n, 6);
	const char *spans[] = { "\"a.css\"", "url(b.css)", "url( 'c.css' )", "'d.css'", "u\\rl(e.css)",
				"\"late.css\"" };
	const char *urls[] = { "a.css", "b.css", "c.css", "d.css", "e.css", "late.css" };
	/* Imported sheets are fetched whatever their media (Chromium 156 fetches
	 * "@import ... print"); a misplaced one after a rule is not. */
	bool ok[] = { true, true, true, true, true, false };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sh.at_refs.v[i].kind, BW_CSS_REF_IMPORT);
		assert_string_equal(sh.at_refs.v[i].property, "@import");
		assert_span(css, &sh.at_refs.v[i], spans[i]);
		assert_string_equal(sh.at_refs.v[i].url, urls[i]);
		assert_int_equal(sh.at_refs.v[i].media_ok, ok[i]);
	}
	bw_css_sheet_free(&sh);
}

static void test_font_face(void **state)
{
	(void)state;
	const char *css = "@font-face { font-family: X; src: url(a.woff2) format(\"woff2\"), local(\"Y\"),\n"
			  "  url('b.woff') format('woff'); unicode-range: U+0-7F }\n"
			  "@media print { @font-face { src: url(p.woff) } }\n"
			  ".t { font-family: X; src: url(notfont.png) }";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.at_refs.n, 3);
	assert_span(css, &sh.at_refs.v[0], "url(a.woff2)");
	assert_span(css, &sh.at_refs.v[1], "url('b.woff')");
	assert_span(css, &sh.at_refs.v[2], "url(p.woff)");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sh.at_refs.v[i].kind, BW_CSS_REF_FONT);
		assert_string_equal(sh.at_refs.v[i].property, "src");
		/* b.woff is a fallback: fetched only if a.woff2 fails */
		assert_int_equal(sh.at_refs.v[i].media_ok, i == 0);
	}
	assert_int_equal(sh.nrules, 1);
	assert_true(sh.rules[0].box.has_font_family);
	assert_int_equal(sh.rules[0].refs.n, 1);
	assert_int_equal(sh.rules[0].refs.v[0].kind, BW_CSS_REF_OTHER);
	bw_css_sheet_free(&sh);

	/* .eot and SVG fonts are skipped by browsers: the first other URL loads */
	css = "@font-face { font-family: Z; src: url(z.eot?#iefix) format('embedded-opentype'),"
	      " url(z.svg#z) format('svg'), url(z.woff) format('woff'), url(z.ttf) }";
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.at_refs.n, 4);
	assert_false(sh.at_refs.v[0].media_ok);
	assert_false(sh.at_refs.v[1].media_ok);
	assert_true(sh.at_refs.v[2].media_ok);
	assert_false(sh.at_refs.v[3].media_ok);
	bw_css_sheet_free(&sh);
}

/* url()s no browser loads on screen are still reported, for the sanitizer */
static void test_dead_refs(void **state)
{
	(void)state;
	const char *css = "@namespace svg url(http://www.w3.org/2000/svg);\n"
			  "@page { background: url(page.png) }\n"
			  "@-moz-document url-prefix() { .x { background: url(moz.png) } }\n"
			  "@media screen { color: red; background: url(decl.png) }\n"
			  "a[href=url(sel.png)] { }\n"
			  "@keyframes k { from { background: url(kf.png) } }";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules, 0);
	const char *spans[] = { "url(http://www.w3.org/2000/svg)", "url(page.png)", "url(moz.png)",
				"url(decl.png)", "url(sel.png)", "url(kf.png)" };
	assert_int_equal(sh.at_refs.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_span(css, &sh.at_refs.v[i], spans[i]);
		assert_int_equal(sh.at_refs.v[i].media_ok, i == 5); /* keyframes apply */
	}
	/* blocks scanned flat still tell a background from the rest */
	assert_int_equal(sh.at_refs.v[1].kind, BW_CSS_REF_BACKGROUND);
	assert_int_equal(sh.at_refs.v[5].kind, BW_CSS_REF_BACKGROUND);
	bw_css_sheet_free(&sh);

	/* a stray "}" ends a style attribute */
	const char *in = "color:red} background:url(after.png)";
	bw_css_box b;
	bw_css_refs r = inline_refs(in, &b);
	assert_int_equal(r.n, 1);
	assert_false(r.v[0].media_ok);
	assert_false(b.sets_background_image);
	bw_css_refs_free(&r);

	/* a rule in a style attribute is skipped; what follows still counts */
	const char *rule = "a:{x}url('q') ; background:url(r)";
	r = inline_refs(rule, &b);
	assert_int_equal(r.n, 2);
	assert_span(rule, &r.v[0], "url('q')");
	assert_false(r.v[0].media_ok);
	assert_span(rule, &r.v[1], "url(r)");
	assert_true(r.v[1].media_ok);
	assert_true(b.sets_background_image);
	bw_css_refs_free(&r);
}

/* ---- rules ---- */

static void test_rules(void **state)
{
	(void)state;
	const char *css = "<!-- .a, .b > p { background: url(1.png) }\n"
			  "garbage ; { } .c { display:none; color: red; ; x{y:z} ; background-image: none }\n"
			  ".d { color: red }\n"
			  ".e { width: 1px; background: url(\"2.png\") -->";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	/* "garbage ; { }", .d and the rule nested in .c set nothing of interest */
	assert_int_equal(sh.nrules, 4);
	assert_int_equal(sh.at_refs.n, 0);
	assert_string_equal(sh.rules[0].selector, ".a, .b > p");
	assert_int_equal(sh.rules[0].refs.n, 1);
	assert_span(css, &sh.rules[0].refs.v[0], "url(1.png)");
	assert_true(sh.rules[0].box.sets_background_image);
	assert_true(sh.rules[0].media_ok);
	assert_string_equal(sh.rules[1].selector, ".c");
	assert_true(sh.rules[1].box.display_none);
	assert_false(sh.rules[1].box.sets_background_image);
	/* the declaration after the nested rule is a rule of its own, in order */
	assert_string_equal(sh.rules[2].selector, ".c");
	assert_true(sh.rules[2].box.sets_background_image);
	assert_false(sh.rules[2].box.display_none);
	/* cut by EOF, and still a rule */
	assert_string_equal(sh.rules[3].selector, ".e");
	assert_true(sh.rules[3].box.width_px == 1);
	assert_span(css, &sh.rules[3].refs.v[0], "url(\"2.png\")");
	bw_css_sheet_free(&sh);
}

static void test_nesting(void **state)
{
	(void)state;
	const char *css = ".a, .b { background: url(1.png);\n"
			  "  .c { background: url(2.png) }\n"
			  "  > p, &:first-child { display: none }\n"
			  "  @media (max-width: 100px) { background: url(3.png) }\n"
			  "  color: red; width: 2px }";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules, 5);
	assert_string_equal(sh.rules[0].selector, ".a, .b");
	assert_string_equal(sh.rules[1].selector, ":is(.a, .b) .c");
	assert_string_equal(sh.rules[2].selector, ":is(.a, .b) > p, :is(.a, .b):first-child");
	assert_true(sh.rules[2].box.display_none);
	assert_string_equal(sh.rules[3].selector, ".a, .b");
	assert_false(sh.rules[3].media_ok);
	assert_false(sh.rules[3].refs.v[0].media_ok);
	assert_string_equal(sh.rules[4].selector, ".a, .b");
	assert_true(sh.rules[4].box.width_px == 2);
	bw_css_sheet_free(&sh);
}

/* ---- media queries ---- */

static void test_media(void **state)
{
	(void)state;
	assert_true(media("screen"));
	assert_true(media("all"));
	assert_true(media("only screen and (max-width: 600px)"));
	assert_true(media("(min-width:600px) and (max-width:1000px)"));
	assert_true(media("(max-width: 37.5em)"));
	assert_true(media("(prefers-color-scheme: dark)"));
	assert_true(media("(prefers-color-scheme: light)"));
	assert_true(media("screen and (-webkit-min-device-pixel-ratio: 2), (min-resolution: 192dpi)"));
	assert_true(media("print, screen"));
	assert_true(media("not print"));
	assert_true(media("(foo-bar: 3)"));
	assert_true(media("screen and (orientation: portrait)"));
	assert_true(media("(400px <= width <= 700px)"));
	assert_true(media("(width > 1900px)"));
	assert_true(media("not (max-width: 600px)"));
	assert_true(media("((min-width: 100px) or (max-width: 5px))"));
	assert_true(media("only screen and (max-device-width: 480px)"));
	assert_true(media("screen and (max-width: 600px) garbage"));

	assert_false(media("print"));
	assert_false(media("speech"));
	assert_false(media("not all"));
	assert_false(media("not screen"));
	assert_false(media("tv, handheld"));
	assert_false(media("(max-width: 100px)"));
	assert_false(media("screen and (min-width: 3000px)"));
	assert_false(media("(min-width: 600px) and (max-width: 500px)"));
	assert_false(media("(width < 300px)"));
	assert_false(media("(2000px < width)"));
	assert_false(media("(-webkit-min-device-pixel-ratio: 3)"));
	assert_false(media("(resolution: 1.5dppx)"));
	assert_false(media("(prefers-color-scheme: dark) and (prefers-color-scheme: light)"));
	assert_false(media("not (min-width: 100px)"));
	assert_false(media("(monochrome)"));
	assert_false(media("(scripting: enabled)"));

	/* the same test for media= attributes */
	assert_true(bw_css_media_ok("", 0));
	assert_true(bw_css_media_ok("screen and (max-width: 600px)", 29));
	assert_false(bw_css_media_ok("print", 5));
	assert_false(bw_css_media_ok("(min-width: 2000px)", 19));
}

static void test_nested_media(void **state)
{
	(void)state;
	const char *css = "@media (min-width: 600px) {\n"
			  "  @media (max-width: 500px) { .a { background: url(a) } }\n"
			  "  @media (max-width: 800px) { .b { background: url(b) } }\n"
			  "  @supports (display: grid) { .c { background: url(c) } }\n"
			  "  .d { background: url(d) }\n"
			  "}\n"
			  "@media print { @media screen { .e { background: url(e) } } }";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules, 5);
	bool want[] = { false, true, true, true, false };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sh.rules[i].media_ok, want[i]);
		assert_int_equal(sh.rules[i].refs.v[0].media_ok, want[i]);
	}
	bw_css_sheet_free(&sh);
}

/* ---- boxes ---- */

static void test_inline_box(void **state)
{
	(void)state;
	bw_css_box b = inline_box("DISPLAY: None !IMPORTANT; display: block");
	assert_true(b.display_none); /* the later one is not important */
	b = inline_box("display:none; display: block");
	assert_false(b.display_none);
	b = inline_box("display:none!important; display: block !important");
	assert_false(b.display_none);
	b = inline_box("d\\isplay: n\\6f ne");
	assert_true(b.display_none);
	b = inline_box("display: var(--x)");
	assert_false(b.display_none);
	b = inline_box("visibility:hidden");
	assert_true(b.visibility_hidden);
	b = inline_box("visibility:collapse;opacity:0.0");
	assert_true(b.visibility_hidden);
	assert_true(b.opacity_zero);
	b = inline_box("opacity: 0.01");
	assert_false(b.opacity_zero);
	b = inline_box("width:1px;height:1PX");
	assert_true(b.width_px == 1 && b.height_px == 1);
	b = inline_box("width:50%;height:auto");
	assert_true(b.width_px < 0 && b.height_px < 0);
	b = inline_box("width:600px;max-width:0;max-height:0px;overflow:hidden");
	assert_true(b.width_px == 0 && b.height_px == 0);
	b = inline_box("font-size:0");
	assert_true(b.zero_font_size);
	b = inline_box("font: 0/0 a");
	assert_true(b.zero_font_size && b.has_font_family);
	b = inline_box("font: 700 12px Arial");
	assert_false(b.zero_font_size);
	b = inline_box("font-size: 0em");
	assert_true(b.zero_font_size);
	/* sizes that show text again inside a font-size: 0 wrapper, and ones that scale it */
	b = inline_box("font-size: 14px");
	assert_true(b.font_size_absolute && !b.zero_font_size);
	b = inline_box("font: bold 11pt Arial");
	assert_true(b.font_size_absolute);
	b = inline_box("font-size: medium");
	assert_true(b.font_size_absolute);
	b = inline_box("font-size: 1rem");
	assert_true(b.font_size_absolute);
	b = inline_box("font-size: 150%");
	assert_false(b.font_size_absolute);
	b = inline_box("font-size: 2em");
	assert_false(b.font_size_absolute);
	b = inline_box("font-size: 0px");
	assert_false(b.font_size_absolute);
	b = inline_box("background: none");
	assert_true(b.sets_background_image);
	b = inline_box("background-color: red");
	assert_false(b.sets_background_image);
	b = inline_box("position:absolute; left:-9999px");
	assert_true(b.offscreen);
	b = inline_box("position:relative; left:-9999px");
	assert_false(b.offscreen);
	b = inline_box("position:fixed; top: 6000px");
	assert_true(b.offscreen);
	b = inline_box("text-indent:-9999px");
	assert_true(b.offscreen);
	b = inline_box("position:absolute;clip:rect(0 0 0 0)");
	assert_true(b.offscreen);
	b = inline_box("position:absolute;clip:rect(1px, 1px, 1px, 1px)");
	assert_true(b.offscreen);
	b = inline_box("position:absolute;clip:rect(0, auto, auto, 0)");
	assert_false(b.offscreen);
	b = inline_box("clip-path: inset(50%)");
	assert_true(b.offscreen);
	b = inline_box("clip-path: inset(10% 20%)");
	assert_false(b.offscreen);
	b = inline_box("color: red");
	assert_false(b.display_none || b.visibility_hidden || b.opacity_zero || b.offscreen ||
		     b.sets_background_image || b.has_font_family || b.zero_font_size);
	assert_true(b.width_px < 0 && b.height_px < 0);
	/* a rule {} block is not a declaration */
	b = inline_box("a:hover{display:none}");
	assert_false(b.display_none);
}

static void test_merge(void **state)
{
	(void)state;
	bw_css_box rule = inline_box("display:none !important; position:absolute; width: 1px");
	bw_css_box in = inline_box("display:block; left:-5000px; width: 2px");
	bw_css_box all;
	bw_css_box_init(&all);
	assert_true(all.width_px == -1 && all.height_px == -1);
	bw_css_box_merge(&all, &rule);
	assert_true(all.display_none);
	assert_false(all.offscreen);
	bw_css_box_merge(&all, &in);
	assert_true(all.display_none); /* !important in the rule beats the attribute */
	assert_true(all.offscreen);    /* position from one, left from the other */
	assert_true(all.width_px == 2);
	/* fields a caller filled itself survive merges that do not set them */
	bw_css_box_init(&all);
	all.height_px = 7;
	bw_css_box_merge(&all, &rule);
	assert_true(all.height_px == 7);
}

/* ---- selectors ---- */

/* The element number nth (from 0) named tag, in document order; *seen
 * counts those passed. */
static const GumboNode *find(const GumboNode *n, const char *tag, int nth, int *seen)
{
	if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_DOCUMENT)
		return NULL;
	const GumboVector *v = n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children : &n->v.element.children;
	if (n->type == GUMBO_NODE_ELEMENT && !strcmp(gumbo_normalized_tagname(n->v.element.tag), tag) &&
	    (*seen)++ == nth)
		return n;
	for (size_t i = 0; i < v->length; i++) {
		const GumboNode *r = find(v->data[i], tag, nth, seen);
		if (r)
			return r;
	}
	return NULL;
}

static const GumboNode *el(GumboOutput *out, const char *tag, int nth)
{
	int seen = 0;
	const GumboNode *n = find(out->document, tag, nth, &seen);
	assert_non_null(n);
	return n;
}

static const char doc[] =
	"<!DOCTYPE html><html><head></head><body>"
	"<div id=\"main\" class=\"wrap  Big\">"
	"<p class=\"a\">one</p>\n"
	"<p class=\"b\" lang=\"en-US\">two</p>"
	"<span><!-- c --></span>"
	"<a href=\"http://x\">link</a><a name=\"n\">anchor</a>"
	"<input type=\"checkbox\" checked><input type=\"RADIO\">"
	"</div>"
	"<table><tr><td data-x=\"foo bar\" align=\"Center\">cell</td></tr></table>"
	"</body></html>";

static void test_selectors(void **state)
{
	(void)state;
	GumboOutput *out = gumbo_parse(doc);
	const GumboNode *p1 = el(out, "p", 0), *p2 = el(out, "p", 1), *span = el(out, "span", 0);
	const GumboNode *div = el(out, "div", 0), *a1 = el(out, "a", 0), *a2 = el(out, "a", 1);
	const GumboNode *td = el(out, "td", 0), *html = el(out, "html", 0);
	const GumboNode *box = el(out, "input", 0), *radio = el(out, "input", 1);

	assert_true(bw_css_selector_matches("p", p1));
	assert_true(bw_css_selector_matches("  P  ", p1));
	assert_true(bw_css_selector_matches("*", p1));
	assert_true(bw_css_selector_matches("div p", p1));
	assert_true(bw_css_selector_matches("body div > p", p1));
	assert_true(bw_css_selector_matches("html > body p", p1));
	assert_false(bw_css_selector_matches("body > p", p1));
	assert_false(bw_css_selector_matches("table p", p1));
	assert_true(bw_css_selector_matches("p + p", p2));
	assert_false(bw_css_selector_matches("p + p", p1));
	assert_true(bw_css_selector_matches(".a ~ span", span));
	assert_false(bw_css_selector_matches("span + p", p2));
	assert_true(bw_css_selector_matches(".a", p1));
	assert_true(bw_css_selector_matches("div.Big.wrap#main", div));
	assert_false(bw_css_selector_matches(".big", div)); /* standards mode */
	assert_false(bw_css_selector_matches("#MAIN", div));
	assert_true(bw_css_selector_matches("#m\\61 in", div));
	assert_false(bw_css_selector_matches("#1x", div));
	assert_true(bw_css_selector_matches("[data-x]", td));
	assert_true(bw_css_selector_matches("td[data-x~=bar]", td));
	assert_false(bw_css_selector_matches("td[data-x~=ba]", td));
	assert_true(bw_css_selector_matches("[data-x^=fo][data-x$=\"ar\"]", td));
	assert_true(bw_css_selector_matches("[data-x*='o b']", td));
	assert_true(bw_css_selector_matches("[lang|=en]", p2));
	assert_false(bw_css_selector_matches("[lang|=e]", p2));
	assert_true(bw_css_selector_matches("[data-x='FOO BAR' i]", td));
	assert_false(bw_css_selector_matches("[data-x='FOO BAR']", td));
	assert_true(bw_css_selector_matches("[align=center]", td)); /* legacy case-insensitive */
	assert_true(bw_css_selector_matches("[DATA-X]", td));
	assert_true(bw_css_selector_matches("[*|data-x]", td));
	assert_false(bw_css_selector_matches("a:hover", a1));
	assert_false(bw_css_selector_matches("a:visited, a:focus", a1));
	assert_true(bw_css_selector_matches("a:link", a1));
	assert_false(bw_css_selector_matches("a:link", a2));
	assert_true(bw_css_selector_matches(":root", html));
	assert_false(bw_css_selector_matches(":root", div));
	assert_true(bw_css_selector_matches("p:first-child", p1));
	assert_false(bw_css_selector_matches("p:last-child", p1));
	assert_true(bw_css_selector_matches("p:first-of-type", p1));
	assert_true(bw_css_selector_matches("p:last-of-type", p2));
	assert_true(bw_css_selector_matches("td:only-child", td));
	assert_true(bw_css_selector_matches("span:only-of-type", span));
	assert_true(bw_css_selector_matches("span:empty", span));
	assert_false(bw_css_selector_matches("p:empty", p1));
	assert_true(bw_css_selector_matches("p:not(.a)", p2));
	assert_false(bw_css_selector_matches("p:not(.a)", p1));
	assert_false(bw_css_selector_matches("p:not(div > .a)", p1));
	assert_true(bw_css_selector_matches("p:not(:hover)", p1));
	assert_true(bw_css_selector_matches("p:not(:disabled)", p1)); /* assumed: stays a superset */
	assert_true(bw_css_selector_matches("p:nth-child(2)", p2));
	assert_true(bw_css_selector_matches("p:nth-child(2n+1)", p1));
	assert_false(bw_css_selector_matches("p:nth-child(2n+1)", p2));
	assert_true(bw_css_selector_matches(":nth-child(odd)", p1));
	assert_true(bw_css_selector_matches("a:nth-last-child(-n+4)", a1));
	assert_true(bw_css_selector_matches("a:nth-of-type(2)", a2));
	assert_true(bw_css_selector_matches("div:is(.x, #main)", div));
	assert_true(bw_css_selector_matches(":is(body, table) > div", div));
	assert_false(bw_css_selector_matches(":where(.nope, p:hover)", p1));
	assert_true(bw_css_selector_matches(":is(:foo, p)", p1)); /* forgiving */
	assert_true(bw_css_selector_matches("p::before", p1));
	assert_true(bw_css_selector_matches("p:before", p1));
	assert_true(bw_css_selector_matches("::-webkit-scrollbar", p1));
	assert_true(bw_css_selector_matches("div:has(span)", div));
	assert_true(bw_css_selector_matches("input:checked", box));
	assert_false(bw_css_selector_matches("input:checked", radio));
	assert_true(bw_css_selector_matches("input[type=radio]", radio));
	assert_true(bw_css_selector_matches(".x, p", p1));
	assert_true(bw_css_selector_matches("p:f\\69rst-child", p1));
	char *many = repeat("", "div ", 100, "p"); /* too long to check: assumed */
	assert_true(bw_css_selector_matches(many, p1));
	free(many);

	/* selectors the browser drops */
	assert_false(bw_css_selector_matches("p:foo", p1));
	assert_false(bw_css_selector_matches("p, :foo", p1));
	assert_false(bw_css_selector_matches("p,", p1));
	assert_false(bw_css_selector_matches("", p1));
	assert_false(bw_css_selector_matches("> p", p1));
	assert_false(bw_css_selector_matches("p >", p1));
	assert_false(bw_css_selector_matches("p::-moz-selection", p1));
	assert_false(bw_css_selector_matches("p:not()", p1));
	assert_false(bw_css_selector_matches("p { }", p1));
	assert_false(bw_css_selector_matches("p", out->document));
	gumbo_destroy_output(&kGumboDefaultOptions, out);

	/* quirks mode (no doctype): class and id ignore case */
	out = gumbo_parse("<div class=Big id=Main></div>");
	div = el(out, "div", 0);
	assert_true(bw_css_selector_matches(".big", div));
	assert_true(bw_css_selector_matches("#main", div));
	gumbo_destroy_output(&kGumboDefaultOptions, out);

	/* a nested rule's selector works as written to it */
	const char *css = ".wrap { & > p { color: red } .b { background: url(x) } }";
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	out = gumbo_parse(doc);
	assert_int_equal(sh.nrules, 1);
	assert_true(bw_css_selector_matches(sh.rules[0].selector, el(out, "p", 1)));
	assert_false(bw_css_selector_matches(sh.rules[0].selector, el(out, "p", 0)));
	gumbo_destroy_output(&kGumboDefaultOptions, out);
	bw_css_sheet_free(&sh);
}

/* ---- hostile input ---- */

static void test_deep_css(void **state)
{
	(void)state;
	/* 200,000 nested rules: the url() in the middle is still found */
	char *css = repeat("", "a{", 200000, "background:url(deep.png)}}}");
	bw_css_sheet sh;
	bw_css_parse_sheet(css, strlen(css), &sh);
	size_t found = 0;
	for (size_t i = 0; i < sh.at_refs.n; i++) {
		if (!strcmp(sh.at_refs.v[i].url, "deep.png")) {
			found++;
			assert_span(css, &sh.at_refs.v[i], "url(deep.png)");
			assert_int_equal(sh.at_refs.v[i].kind, BW_CSS_REF_BACKGROUND);
			assert_true(sh.at_refs.v[i].media_ok);
		}
	}
	assert_int_equal(found, 1);
	bw_css_sheet_free(&sh);
	free(css);

	/* deep @media, parentheses, and a style attribute full of blocks */
	css = repeat("", "@media print{", 100000, "p{background:url(m.png)}");
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules + sh.at_refs.n, 1);
	bw_css_refs *r = sh.nrules ? &sh.rules[0].refs : &sh.at_refs;
	assert_int_equal(r->n, 1);
	assert_false(r->v[0].media_ok);
	bw_css_sheet_free(&sh);
	free(css);

	css = repeat("background:", "(", 300000, "url(p.png)");
	bw_css_refs refs = inline_refs(css, NULL);
	assert_int_equal(refs.n, 1);
	bw_css_refs_free(&refs);
	free(css);

	css = repeat("", "a:b{", 100000, "background:url(i.png)");
	refs = inline_refs(css, NULL);
	assert_int_equal(refs.n, 1);
	assert_false(refs.v[0].media_ok);
	bw_css_refs_free(&refs);
	free(css);

	/* nesting that would multiply selectors stays bounded */
	css = repeat("", ".x{& & & &, & + &{", 60, "color:red");
	bw_css_parse_sheet(css, strlen(css), &sh);
	bw_css_sheet_free(&sh);
	free(css);

	/* a long media query list */
	css = repeat("@media ", "(max-width: 10px), ", 20000, "print { a { background: url(q) } }");
	bw_css_parse_sheet(css, strlen(css), &sh);
	assert_int_equal(sh.nrules, 1);
	assert_true(sh.rules[0].media_ok); /* too long to evaluate: maybe */
	bw_css_sheet_free(&sh);
	free(css);
}

static void test_deep_tree(void **state)
{
	(void)state;
	/* a 300,000-deep chain of divs, built by hand (Gumbo would take long) */
	enum { DEPTH = 300000 };
	GumboNode *n = calloc(DEPTH + 1, sizeof *n);
	void **kids = calloc(DEPTH, sizeof *kids);
	n[0].type = GUMBO_NODE_DOCUMENT;
	for (size_t i = 1; i <= DEPTH; i++) {
		GumboNode *e = &n[i];
		e->type = GUMBO_NODE_ELEMENT;
		e->parent = &n[i - 1];
		e->v.element.tag = i == DEPTH ? GUMBO_TAG_SPAN : GUMBO_TAG_DIV;
		e->v.element.tag_namespace = GUMBO_NAMESPACE_HTML;
		kids[i - 1] = e;
		GumboVector *v = i == 1 ? &n[0].v.document.children : &n[i - 1].v.element.children;
		v->data = &kids[i - 1];
		v->length = v->capacity = 1;
	}
	const GumboNode *leaf = &n[DEPTH];
	assert_true(bw_css_selector_matches("div span", leaf));
	assert_true(bw_css_selector_matches(":root div > div span:only-child", leaf));
	assert_false(bw_css_selector_matches("p span", leaf));
	assert_false(bw_css_selector_matches("p div div span", leaf));
	assert_true(bw_css_selector_matches(":is(div div) > span", leaf));
	/* worst case: the step budget answers "maybe" */
	assert_true(bw_css_selector_matches(":is(p div) div span", leaf));
	free(kids);
	free(n);
}

static void test_media_always(void **state)
{
	const char *css = ".a{display:none} @media (max-width:600px){.b{display:none}} "
			  "@media screen{.c{display:none}} @media (prefers-color-scheme:dark){.d{display:none}}";
	bw_css_sheet sheet;
	bw_css_parse_sheet(css, strlen(css), &sheet);
	assert_int_equal(sheet.nrules, 4);
	assert_true(sheet.rules[0].media_always);
	assert_false(sheet.rules[1].media_always);
	assert_true(sheet.rules[1].media_ok);
	assert_true(sheet.rules[2].media_always);
	assert_false(sheet.rules[3].media_always);
	bw_css_sheet_free(&sheet);
	assert_true(bw_css_media_always("all", 3));
	assert_false(bw_css_media_always("screen and (min-width: 700px)", 29));
	assert_false(bw_css_media_ok("print", 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_media_always),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_token_escapes),
		cmocka_unit_test(test_token_recovery),
		cmocka_unit_test(test_url_spans),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_font_face),
		cmocka_unit_test(test_dead_refs),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_media),
		cmocka_unit_test(test_nested_media),
		cmocka_unit_test(test_inline_box),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_deep_css),
		cmocka_unit_test(test_deep_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
