/* Unit tests for bw_html_extract (src/html/extract.c): which remote resources
 * an HTML part loads on open, as Chromium does with scripting disabled, their
 * flags and spans, links, limits and hostile nesting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/html.h"

static bw_limits lim;
static bw_part part;

/* Extracts html as part 0 of m. The part's data is the caller's: it is
 * detached again before bw_message_free. */
static void extract(bw_message *m, const char *html)
{
	memset(m, 0, sizeof *m);
	memset(&part, 0, sizeof part);
	part.kind = BW_PART_HTML;
	part.data = (char *)html;
	part.len = strlen(html);
	m->parts = &part;
	m->nparts = 1;
	bw_html_extract(m, 0, &lim);
}

static void done(bw_message *m)
{
	m->parts = NULL;
	m->nparts = 0;
	bw_message_free(m);
}

static const bw_resource *res(const bw_message *m, const char *url)
{
	for (size_t i = 0; i < m->nresources; i++)
		if (!strcmp(m->resources[i].url, url))
			return &m->resources[i];
	return NULL;
}

/* The resource must be listed, from element, loaded on open or not. */
static const bw_resource *expect(const bw_message *m, const char *url, const char *element, bool on_open)
{
	const bw_resource *r = res(m, url);
	if (!r)
		fail_msg("%s not listed", url);
	assert_string_equal(r->element, element);
	if (r->on_open != on_open)
		fail_msg("%s: on_open %d, expected %d", url, r->on_open, on_open);
	return r;
}

static const bw_link *link_to(const bw_message *m, const char *url)
{
	for (size_t i = 0; i < m->nlinks; i++)
		if (!strcmp(m->links[i].url, url))
			return &m->links[i];
	fail_msg("no link to %s", url);
	return NULL;
}

static bool has_error(const bw_message *m, const char *needle)
{
	for (size_t i = 0; i < m->errors.n; i++)
		if (strstr(m->errors.v[i], needle))
			return true;
	return false;
}

static void test_img_even_hidden(void **state)
{
	bw_message m;
	extract(&m, "<p>hi<img src='https://a.example/shown.png' width=600>"
		    "<div style='display:none'><img src='https://a.example/in-hidden.png'></div>"
		    "<img src='https://a.example/none.png' style='display:none'>"
		    "<img src='https://a.example/lazy.png' loading=lazy>"
		    "<img src='https://a.example/pixel.gif' width=1 height=1>"
		    "<img src='https://a.example/half.gif' height='1px'>"
		    "<img src='https://a.example/zero.gif' width=0 height=0>"
		    "<img src='https://a.example/css.gif' style='width:2px;height:2px'>");
	assert_int_equal(m.nresources, 8);
	const bw_resource *r = expect(&m, "https://a.example/shown.png", "img", true);
	assert_int_equal(r->flags, 0);
	assert_int_equal(r->width, 600);
	assert_int_equal(r->height, -1);
	r = expect(&m, "https://a.example/in-hidden.png", "img", true);
	assert_true(r->flags & BW_RES_HIDDEN);
	r = expect(&m, "https://a.example/none.png", "img", true);
	assert_true(r->flags & BW_RES_HIDDEN);
	r = expect(&m, "https://a.example/lazy.png", "img", true);
	assert_int_equal(r->flags, 0);
	r = expect(&m, "https://a.example/pixel.gif", "img", true);
	assert_int_equal(r->flags, BW_RES_TINY);
	assert_int_equal(r->width, 1);
	assert_int_equal(r->height, 1);
	r = expect(&m, "https://a.example/half.gif", "img", true);
	assert_int_equal(r->flags, BW_RES_TINY);
	r = expect(&m, "https://a.example/zero.gif", "img", true);
	assert_int_equal(r->flags, BW_RES_TINY | BW_RES_HIDDEN);
	r = expect(&m, "https://a.example/css.gif", "img", true);
	assert_int_equal(r->flags, BW_RES_TINY);
	assert_int_equal(r->width, 2);
	done(&m);
}

static void test_srcset_and_picture(void **state)
{
	bw_message m;
	extract(&m, "<img src='https://a.example/src.png' srcset='https://a.example/1x.png,"
		    " https://a.example/a,b.png 2x , https://a.example/w.png 640w'>"
		    "<img src='https://a.example/src2.png' srcset='https://a.example/2x.png 2x'>"
		    "<img src='https://a.example/src 3.png' srcset='https://a.example/src 3.png 1x'>"
		    "<picture><source srcset='https://a.example/p.webp' media='(max-width:600px)'>"
		    "<img src='https://a.example/p.png'></picture>"
		    "<picture><source srcset='https://a.example/q.avif' type=image/avif>"
		    "<img src='https://a.example/q.png'></picture>");
	const bw_resource *r = expect(&m, "https://a.example/a,b.png", "img-srcset", true);
	assert_true(r->flags & BW_RES_CANDIDATE);
	expect(&m, "https://a.example/1x.png", "img-srcset", true);
	expect(&m, "https://a.example/w.png", "img-srcset", true);
	/* a 1x or width candidate takes the place of src */
	expect(&m, "https://a.example/src.png", "img", false);
	/* a 2x one leaves src as the 1x candidate */
	expect(&m, "https://a.example/src2.png", "img", true);
	expect(&m, "https://a.example/2x.png", "img-srcset", true);
	/* a candidate with a bad descriptor ("3.png") is dropped: src stays */
	expect(&m, "https://a.example/src%203.png", "img", true);
	assert_null(res(&m, "https://a.example/src"));
	/* a source with media applies on some screens only */
	expect(&m, "https://a.example/p.webp", "img-srcset", true);
	expect(&m, "https://a.example/p.png", "img", true);
	/* an unconditional source always wins over the img */
	expect(&m, "https://a.example/q.avif", "img-srcset", true);
	expect(&m, "https://a.example/q.png", "img", false);
	done(&m);
}

static void test_background_attribute(void **state)
{
	bw_message m;
	extract(&m, "<body background='https://a.example/body.png'>"
		    "<table background='https://a.example/table.png'><tr background='https://a.example/tr.png'>"
		    "<td background='https://a.example/td.png'>x</td>"
		    "<td background='https://a.example/overridden.png' style='background-image:url(https://a.example/css.png)'>y</td>"
		    "<td background='https://a.example/none.png' style='background:none'>z</td></tr></table>"
		    "<div background='https://a.example/div.png'>ignored by browsers</div>"
		    "<div style='display:none'><table><tr><td background='https://a.example/hidden.png'>h</td></tr></table></div>");
	expect(&m, "https://a.example/body.png", "background-attribute", true);
	expect(&m, "https://a.example/table.png", "background-attribute", true);
	expect(&m, "https://a.example/tr.png", "background-attribute", true);
	expect(&m, "https://a.example/td.png", "background-attribute", true);
	expect(&m, "https://a.example/overridden.png", "background-attribute", false);
	expect(&m, "https://a.example/css.png", "css-background", true);
	expect(&m, "https://a.example/none.png", "background-attribute", false);
	assert_null(res(&m, "https://a.example/div.png"));
	const bw_resource *r = expect(&m, "https://a.example/hidden.png", "background-attribute", false);
	assert_true(r->flags & BW_RES_HIDDEN);
	done(&m);
}

static void test_css_background_needs_display(void **state)
{
	bw_message m;
	extract(&m, "<div style='display:none'>"
		    "<div style='background:url(\"https://a.example/bg.png\") no-repeat'>x</div>"
		    "<img src='https://a.example/img.png'></div>"
		    "<div style='visibility:hidden;background-image:url(https://a.example/vis.png)'>v</div>"
		    "<div style='list-style-image:url(https://a.example/list.png)'>l</div>");
	const bw_resource *r = expect(&m, "https://a.example/bg.png", "css-background", false);
	assert_true(r->flags & BW_RES_HIDDEN);
	expect(&m, "https://a.example/img.png", "img", true);
	/* visibility:hidden still lays the box out, so Chromium loads it */
	r = expect(&m, "https://a.example/vis.png", "css-background", true);
	assert_true(r->flags & BW_RES_HIDDEN);
	expect(&m, "https://a.example/list.png", "css-other", true);
	done(&m);
}

static void test_style_rules(void **state)
{
	bw_message m;
	extract(&m, "<html><head><style>\n"
		    "@import url(https://a.example/import.css);\n"
		    "@font-face { font-family: 'Brand Sans'; src: url(https://a.example/brand.woff2) format('woff2'); }\n"
		    "@font-face { font-family: 'Brand Sans'; src: url(https://a.example/brand-cyr.woff2);"
		    " unicode-range: U+0400-045F, U+0490-0491; }\n"
		    "@font-face { font-family: Unused; src: url(https://a.example/unused.woff2); }\n"
		    "p { font-family: 'Brand Sans', Arial, sans-serif }\n"
		    ".used { background: url(https://a.example/used.png); }\n"
		    ".unused { background-image: url(https://a.example/unused.png); }\n"
		    ".gone { display: none; background-image: url(https://a.example/gone.png); }\n"
		    "@media only screen and (max-width: 600px) { .used { background-image: url(https://a.example/phone.png); } }\n"
		    "@media (prefers-color-scheme: dark) { .used { background-image: url(https://a.example/dark.png); } }\n"
		    "@media print { .used { background-image: url(https://a.example/print.png); } }\n"
		    ".hidden-parent-child { background: url(https://a.example/child.png); }\n"
		    "</style></head><body>"
		    "<p class='big used'>text</p><div class=gone>g</div>"
		    "<div style='display:none'><span class=hidden-parent-child>c</span></div>"
		    "<style>.late { background-image: url(https://a.example/late.png) }</style>"
		    "</body></html>");
	expect(&m, "https://a.example/import.css", "css-import", true);
	/* fonts: only faces of a family the CSS names, for characters the text has */
	expect(&m, "https://a.example/brand.woff2", "font", true);
	expect(&m, "https://a.example/brand-cyr.woff2", "font", false);
	expect(&m, "https://a.example/unused.woff2", "font", false);
	expect(&m, "https://a.example/used.png", "css-background", true);
	expect(&m, "https://a.example/unused.png", "css-background", false);
	expect(&m, "https://a.example/gone.png", "css-background", false);
	expect(&m, "https://a.example/phone.png", "css-background", true);
	expect(&m, "https://a.example/dark.png", "css-background", true);
	expect(&m, "https://a.example/print.png", "css-background", false);
	expect(&m, "https://a.example/child.png", "css-background", false);
	expect(&m, "https://a.example/late.png", "css-background", false);
	done(&m);

	/* a rule applies to elements before its <style>, too */
	extract(&m, "<div class=late>x</div><style>.late { background-image: url(https://a.example/late.png) }</style>");
	expect(&m, "https://a.example/late.png", "css-background", true);
	done(&m);
}

static void test_link_rels(void **state)
{
	bw_message m;
	extract(&m, "<head><link rel=stylesheet href='https://a.example/s.css'>"
		    "<link rel='alternate stylesheet' title=alt href='https://a.example/alt.css'>"
		    "<link rel=stylesheet disabled href='https://a.example/disabled.css'>"
		    "<link rel=preload as=image href='https://a.example/pre.png'>"
		    "<link rel=preload href='https://a.example/pre-noas.png'>"
		    "<link rel=prefetch href='https://a.example/prefetch'>"
		    "<link rel=modulepreload href='https://a.example/m.js'>"
		    "<link rel='shortcut icon' href='https://a.example/favicon.ico'>"
		    "<link rel=apple-touch-icon href='https://a.example/touch.png'>"
		    "<link rel=manifest href='https://a.example/app.webmanifest'>"
		    "<link rel=dns-prefetch href='https://dns.example/'>"
		    "<link rel=preconnect href='https://conn.example/'>"
		    "<link rel=canonical href='https://a.example/canonical'>"
		    "<script src='https://a.example/script.js'></script></head>");
	expect(&m, "https://a.example/s.css", "link-stylesheet", true);
	expect(&m, "https://a.example/alt.css", "link-stylesheet", true);
	expect(&m, "https://a.example/disabled.css", "link-stylesheet", false);
	expect(&m, "https://a.example/pre.png", "link-preload", true);
	expect(&m, "https://a.example/pre-noas.png", "link-preload", false);
	expect(&m, "https://a.example/prefetch", "link-prefetch", true);
	expect(&m, "https://a.example/m.js", "link-modulepreload", true);
	expect(&m, "https://a.example/favicon.ico", "link-icon", false);
	expect(&m, "https://a.example/touch.png", "link-apple-touch-icon", false);
	expect(&m, "https://a.example/app.webmanifest", "link-manifest", false);
	expect(&m, "https://dns.example/", "link-dns-prefetch", false);
	expect(&m, "https://conn.example/", "link-preconnect", false);
	assert_null(res(&m, "https://a.example/canonical"));
	assert_null(res(&m, "https://a.example/script.js"));
	done(&m);
}

static void test_frames_media_objects(void **state)
{
	bw_message m;
	extract(&m, "<iframe src='https://a.example/frame.html' style='display:none'></iframe>"
		    "<video poster='https://a.example/poster.jpg' src='https://a.example/v.mp4'>"
		    "<source src='https://a.example/v.webm'><track src='https://a.example/t.vtt' default></video>"
		    "<audio preload=none src='https://a.example/a.mp3'></audio>"
		    "<input type=image src='https://a.example/button.png'>"
		    "<input type=text src='https://a.example/not-an-image.png'>"
		    "<object data='https://a.example/obj.png' type=image/png></object>"
		    "<embed src='https://a.example/emb.png' type=image/png>"
		    "<div style='display:none'><object data='https://a.example/hidden-obj.png'></object></div>"
		    "<frameset><frame src='https://a.example/ignored.html'></frameset>");
	expect(&m, "https://a.example/frame.html", "iframe", true);
	expect(&m, "https://a.example/poster.jpg", "video-poster", true);
	expect(&m, "https://a.example/v.mp4", "media", true);
	expect(&m, "https://a.example/v.webm", "media", true);
	expect(&m, "https://a.example/t.vtt", "track", true);
	expect(&m, "https://a.example/a.mp3", "media", false);
	expect(&m, "https://a.example/button.png", "input-image", true);
	assert_null(res(&m, "https://a.example/not-an-image.png"));
	expect(&m, "https://a.example/obj.png", "object", true);
	expect(&m, "https://a.example/emb.png", "embed", true);
	expect(&m, "https://a.example/hidden-obj.png", "object", false);
	/* a frameset after body content is dropped by the parser */
	assert_null(res(&m, "https://a.example/ignored.html"));
	done(&m);

	extract(&m, "<frameset><frame src='https://a.example/f.html'></frameset>");
	expect(&m, "https://a.example/f.html", "frame", true);
	done(&m);
}

static void test_meta_refresh(void **state)
{
	bw_message m;
	const char *html = "<meta http-equiv=Refresh content=\"0; URL='https://a.example/next?x=1'\">"
			   "<meta http-equiv=refresh content=30>";
	extract(&m, html);
	assert_int_equal(m.nresources, 1);
	const bw_resource *r = expect(&m, "https://a.example/next?x=1", "meta-refresh", true);
	assert_memory_equal(html + r->span_start, "content=\"", 9);
	assert_int_equal(html[r->span_end - 1], '"');
	done(&m);
}

static void test_svg(void **state)
{
	bw_message m;
	extract(&m, "<svg width=10 height=10><image href='https://a.example/i.png'/>"
		    "<image xlink:href='https://a.example/x.png'/>"
		    "<use href='https://a.example/sprite.svg#icon'/>"
		    "<feImage href='https://a.example/fe.png'/>"
		    "<a href='https://a.example/svg-link'><text>t</text></a></svg>");
	expect(&m, "https://a.example/i.png", "svg-image", true);
	expect(&m, "https://a.example/x.png", "svg-image", true);
	expect(&m, "https://a.example/sprite.svg", "svg-image", true);
	expect(&m, "https://a.example/fe.png", "svg-image", true);
	link_to(&m, "https://a.example/svg-link");
	done(&m);
}

static void test_base_href(void **state)
{
	bw_message m;
	extract(&m, "<head><base href='https://base.example/dir/page.html'>"
		    "<base href='https://second.example/'></head>"
		    "<img src='logo.png'><img src='/root.png'><img src='//other.example/x.png'>"
		    "<a href='../up.html'>up</a>");
	expect(&m, "https://base.example/dir/logo.png", "img", true);
	expect(&m, "https://base.example/root.png", "img", true);
	expect(&m, "https://other.example/x.png", "img", true);
	link_to(&m, "https://base.example/up.html");
	assert_int_equal(m.nresources, 3);
	done(&m);

	/* no base: relative URLs load nothing remote */
	extract(&m, "<img src='logo.png'><img src='cid:part1@x'><img src='data:image/gif;base64,R0lGOD=='>");
	assert_int_equal(m.nresources, 0);
	done(&m);
}

static void test_noscript_template_script(void **state)
{
	bw_message m;
	extract(&m, "<head><noscript><link rel=stylesheet href='https://a.example/ns.css'></noscript></head>"
		    "<body><noscript><img src='https://a.example/ns.png'></noscript>"
		    "<template><img src='https://a.example/tpl.png'></template>"
		    "<script src='https://a.example/s.js'></script>"
		    "<script>document.write('<img src=\"https://a.example/js.png\">')</script></body>");
	expect(&m, "https://a.example/ns.css", "link-stylesheet", true);
	expect(&m, "https://a.example/ns.png", "img", true);
	assert_int_equal(m.nresources, 2);
	done(&m);
}

static void test_url_forms(void **state)
{
	bw_message m;
	extract(&m, "<img src='http://user@a.example/creds.png'>"
		    "<img src='http:\\\\b.example\\x.png'>"
		    "<img src='http:/c.example/y.png'>"
		    "<img src='http://0x7f.1/ip.png'>"
		    "<img src=' https://D.Example/sp ace.png?a=1&amp;b=2 '>");
	expect(&m, "http://user@a.example/creds.png", "img", false);
	expect(&m, "http://b.example/x.png", "img", true);
	expect(&m, "http://c.example/y.png", "img", true);
	expect(&m, "http://127.0.0.1/ip.png", "img", true);
	expect(&m, "https://d.example/sp%20ace.png?a=1&b=2", "img", true);
	done(&m);
}

static void test_spans(void **state)
{
	bw_message m;
	const char *html = "<img alt=x\r\n SRC = \"https://a.example/1.png\" ><img src=https://a.example/2.png>"
			   "<div style=\"color:red; background:url('https://a.example/3.png')\">t</div>"
			   "<div style=\"background:url(&quot;https://a.example/4.png&quot;)\">t</div>"
			   "<style>p{background:url(https://a.example/5.png)}</style><p>x</p>";
	extract(&m, html);
	const bw_resource *r = res(&m, "https://a.example/1.png");
	assert_non_null(r);
	assert_int_equal(r->span_end - r->span_start, strlen("SRC = \"https://a.example/1.png\""));
	assert_memory_equal(html + r->span_start, "SRC = \"https://a.example/1.png\"", r->span_end - r->span_start);
	r = res(&m, "https://a.example/2.png");
	assert_memory_equal(html + r->span_start, "src=https://a.example/2.png", r->span_end - r->span_start);
	assert_int_equal(html[r->span_end], '>');
	r = res(&m, "https://a.example/3.png");
	assert_memory_equal(html + r->span_start, "url('https://a.example/3.png')", r->span_end - r->span_start);
	/* a value with character references: the whole value (offsets inside differ) */
	r = res(&m, "https://a.example/4.png");
	assert_memory_equal(html + r->span_start, "\"background:url(&quot;https://a.example/4.png&quot;)\"",
			    r->span_end - r->span_start);
	r = res(&m, "https://a.example/5.png");
	assert_memory_equal(html + r->span_start, "url(https://a.example/5.png)", r->span_end - r->span_start);
	done(&m);
}

static void test_links(void **state)
{
	bw_message m;
	const char *html = "<base href='https://base.example/'>"
			   "<a href=\"https://shop.example/login?a=1&amp;b=2\">  Log\n  in <b>now</b> </a>"
			   "<a href='https://evil.example/'>www.bank.example</a>"
			   "<a href='https://evil.example/2'>paypal.com/signin</a>"
			   "<a href='https://evil.example/3'><img src='https://a.example/btn.png' alt='Click here'></a>"
			   "<a href='https://evil.example/4' style='font-size:0'>hidden</a>"
			   "<a href='#top'>top</a><a href=''>empty</a><a>no href</a>"
			   "<a href='mailto:x@y.example'>mail</a>"
			   "<map><area href='https://area.example/' alt=a></map>"
			   "<a href='https://t.example/r?url=https://dest.example/page'>wrapped</a>"
			   "<a href='rel/page'>relative</a>";
	extract(&m, html);
	const bw_link *l = link_to(&m, "https://shop.example/login?a=1&b=2");
	assert_string_equal(l->text, "Log in now");
	assert_int_equal(l->flags, 0);
	assert_memory_equal(html + l->span_start, "https://shop.example/login?a=1&amp;b=2", l->span_end - l->span_start);
	assert_true(link_to(&m, "https://evil.example/")->flags & BW_LINK_TEXT_IS_URL);
	assert_true(link_to(&m, "https://evil.example/2")->flags & BW_LINK_TEXT_IS_URL);
	assert_string_equal(link_to(&m, "https://evil.example/3")->text, "Click here");
	assert_false(link_to(&m, "https://evil.example/3")->flags & BW_LINK_TEXT_IS_URL);
	assert_true(link_to(&m, "https://evil.example/4")->flags & BW_LINK_ZERO_SIZE_TEXT);
	link_to(&m, "mailto:x@y.example");
	link_to(&m, "https://area.example/");
	link_to(&m, "https://base.example/rel/page");
	l = link_to(&m, "https://t.example/r?url=https://dest.example/page");
	assert_non_null(l->unwrapped);
	assert_string_equal(l->unwrapped, "https://dest.example/page");
	assert_int_equal(m.nlinks, 9);
	done(&m);
}

static void test_limits(void **state)
{
	bw_message m;
	bw_limits saved = lim;
	lim.max_resources = 2;
	lim.max_links = 1;
	extract(&m, "<img src='https://a.example/1'><img src='https://a.example/2'><img src='https://a.example/3'>"
		    "<a href='https://a.example/l1'>1</a><a href='https://a.example/l2'>2</a>");
	assert_int_equal(m.nresources, 2);
	assert_int_equal(m.nlinks, 1);
	assert_true(has_error(&m, "max_resources"));
	assert_true(has_error(&m, "max_links"));
	assert_int_equal(m.errors.n, 2);
	done(&m);

	lim = saved;
	lim.max_html_bytes = 40;
	extract(&m, "<img src='https://a.example/1'><img src='https://a.example/2'>");
	assert_int_equal(m.nresources, 1);
	assert_true(has_error(&m, "max_html_bytes"));
	done(&m);
	lim = saved;
}

/* A million nested elements: Gumbo's tree building is quadratic and its
 * destructor recursive; neither may be reached. */
static void test_deep_nesting(void **state)
{
	static const char *const opens[] = {"<div>", "<span>", "<b>", "<table><tr><td>"};
	for (size_t k = 0; k < sizeof opens / sizeof *opens; k++) {
		size_t n = 1000000, ol = strlen(opens[k]);
		const char *tail = "<img src='https://a.example/deep.png'>";
		char *html = malloc(n * ol + strlen(tail) + 1);
		for (size_t i = 0; i < n; i++)
			memcpy(html + i * ol, opens[k], ol);
		strcpy(html + n * ol, tail);
		bw_message m;
		extract(&m, html);
		assert_true(has_error(&m, "max_html_depth"));
		done(&m);
		free(html);
	}

	/* deep but within the limit, and closed again: all of it is read */
	bw_buf b = {0};
	for (int i = 0; i < 1500; i++)
		bw_buf_puts(&b, "<div><p>x");
	for (int i = 0; i < 1500; i++)
		bw_buf_puts(&b, "</div>");
	for (int i = 0; i < 5000; i++)
		bw_buf_puts(&b, "<span></span><li>");
	bw_buf_puts(&b, "<img src='https://a.example/after.png'>");
	bw_message m;
	extract(&m, b.data);
	assert_int_equal(m.errors.n, 0);
	expect(&m, "https://a.example/after.png", "img", true);
	done(&m);
	bw_buf_free(&b);
}

static void test_garbage(void **state)
{
	static const char *const inputs[] = {
		"", "<", "<img src=", "<img src='https://a.example/x", "<style>@import url(", "<svg><style>",
		"<a href='https://a.example/'><a href='https://b.example/'>x</a>", "\xff\xfe<\x00img>",
		"<table><td background=https://a.example/t.png><style>td{background:url(https://a.example/u.png)}",
		"<!-- <img src='https://a.example/comment.png'> -->",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
		bw_message m;
		extract(&m, inputs[i]);
		assert_null(res(&m, "https://a.example/comment.png"));
		done(&m);
	}
}

int main(void)
{
	bw_limits_default(&lim);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_img_even_hidden),
		cmocka_unit_test(test_srcset_and_picture),
		cmocka_unit_test(test_background_attribute),
		cmocka_unit_test(test_css_background_needs_display),
		cmocka_unit_test(test_style_rules),
		cmocka_unit_test(test_link_rels),
		cmocka_unit_test(test_frames_media_objects),
		cmocka_unit_test(test_meta_refresh),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_base_href),
		cmocka_unit_test(test_noscript_template_script),
		cmocka_unit_test(test_url_forms),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
