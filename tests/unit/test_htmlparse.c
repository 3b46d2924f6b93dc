/* Unit tests for the HTML5 parser (src/html/parse.c): on tricky snippets its
 * tree is Gumbo's (the oracle, called directly) node for node, with the same
 * names, namespaces, attributes, text and source spans; hostile input ends
 * in linear time without recursion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html/dom.h"

typedef struct out {
	char *d;
	size_t n, cap;
} out;

static void put(out *o, const char *s, size_t n)
{
	if (o->n + n + 1 > o->cap) {
		o->cap = (o->n + n + 1) * 2;
		o->d = realloc(o->d, o->cap);
	}
	memcpy(o->d + o->n, s, n);
	o->n += n;
	o->d[o->n] = 0;
}

static void puts_(out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void span(out *o, const char *base, const char *what, GumboStringPiece p)
{
	char t[80];
	snprintf(t, sizeof t, " %s@%ld+%zu", what, p.data ? (long)(p.data - base) : -1L, p.length);
	puts_(o, t);
}

/* The tree as text, one node a line: depth, kind, tag or text, namespace,
 * attributes (namespace, name, value) and source spans. Iterative. */
static char *serialize(const GumboNode *doc, const char *base)
{
	out o = {0};
	size_t cap = 64, n = 0;
	const GumboNode **st = malloc(cap * sizeof *st);
	int *dp = malloc(cap * sizeof *dp);
	st[n] = doc;
	dp[n++] = 0;
	while (n) {
		const GumboNode *x = st[--n];
		int d = dp[n];
		char line[160];
		snprintf(line, sizeof line, "%d ", d);
		puts_(&o, line);
		const GumboVector *k = NULL;
		if (x->type == GUMBO_NODE_DOCUMENT) {
			const GumboDocument *doc_ = &x->v.document;
			snprintf(line, sizeof line, "#document quirks=%d doctype=%d ", doc_->doc_type_quirks_mode,
				 doc_->has_doctype);
			puts_(&o, line);
			if (doc_->has_doctype) {
				puts_(&o, doc_->name);
				puts_(&o, "|");
				puts_(&o, doc_->public_identifier);
				puts_(&o, "|");
				puts_(&o, doc_->system_identifier);
			}
			k = &doc_->children;
		} else if (x->type == GUMBO_NODE_ELEMENT || x->type == GUMBO_NODE_TEMPLATE) {
			const GumboElement *e = &x->v.element;
			char tag[64];
			bw_dom_tag(x, tag, sizeof tag);
			snprintf(line, sizeof line, "%s<%d:%s>", x->type == GUMBO_NODE_TEMPLATE ? "T" : "",
				 e->tag_namespace, tag);
			puts_(&o, line);
			span(&o, base, "tag", e->original_tag);
			for (unsigned i = 0; i < e->attributes.length; i++) {
				const GumboAttribute *a = e->attributes.data[i];
				snprintf(line, sizeof line, " %d:", a->attr_namespace);
				puts_(&o, line);
				puts_(&o, a->name);
				puts_(&o, "=\"");
				puts_(&o, a->value);
				puts_(&o, "\"");
				span(&o, base, "n", a->original_name);
				span(&o, base, "v", a->original_value);
			}
			k = &e->children;
		} else {
			snprintf(line, sizeof line, "#%d \"", x->type);
			puts_(&o, line);
			puts_(&o, x->v.text.text);
			puts_(&o, "\"");
			span(&o, base, "text", x->v.text.original_text);
		}
		puts_(&o, "\n");
		if (k) {
			if (n + k->length > cap) {
				cap = (n + k->length) * 2;
				st = realloc(st, cap * sizeof *st);
				dp = realloc(dp, cap * sizeof *dp);
			}
			for (unsigned i = k->length; i-- > 0;) {
				const GumboNode *c = k->data[i];
				assert_ptr_equal(c->parent, x);
				assert_int_equal(c->index_within_parent, i);
				st[n] = c;
				dp[n++] = d + 1;
			}
		}
	}
	free(st);
	free(dp);
	return o.d;
}

static void same_as_gumbo(const char *html)
{
	size_t len = strlen(html);
	bw_html_doc d;
	bw_html_doc_parse(&d, html, len, NULL, NULL);
	assert_int_equal(d.len, len);
	GumboOutput *g = gumbo_parse_with_options(&kGumboDefaultOptions, html, len);
	char *want = serialize(g->document, html), *got = serialize(d.out->document, html);
	if (strcmp(want, got))
		print_error("input: %s\n--- gumbo:\n%s--- bw_html_parse:\n%s", html, want, got);
	assert_string_equal(got, want);
	assert_non_null(d.out->root);
	assert_ptr_equal(d.out->root->parent, d.out->document);
	assert_int_equal(d.out->root->v.element.tag, GUMBO_TAG_HTML);
	free(want);
	free(got);
	gumbo_destroy_output(&kGumboDefaultOptions, g);
	bw_html_doc_free(&d);
}

static void test_document(void **state)
{
	(void)state;
	same_as_gumbo("");
	same_as_gumbo("x");
	same_as_gumbo("   ");
	same_as_gumbo("<!DOCTYPE html><title>t</title><p>x");
	same_as_gumbo("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"><p>x");
	same_as_gumbo("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" "
		      "\"http://www.w3.org/TR/html4/loose.dtd\"><p>x");
	same_as_gumbo("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
		      "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\"><html><body>x");
	same_as_gumbo("<!doctype html public \"-//W3C//DTD HTML 4.0 Transitional//EN\"><p>x");
	same_as_gumbo("<!DOCTYPE><p>x");
	same_as_gumbo("<!-- a --><html><!-- b --><head><!-- c --></head><!-- d --><body>x</body><!-- e --></html><!-- f -->");
	same_as_gumbo("<html>\r\n<head>\r\n<meta charset=utf-8>\r\n</head>\r\n<title>t</title>  \r\n <body> x</body>\n</html>\n");
	same_as_gumbo("<head></head><style>a{}</style><body>");
	same_as_gumbo("</br>x</p>y</div>z");
	same_as_gumbo("<p>a</body>b</html>c<p>d");
}

static void test_multiple_bodies(void **state)
{
	(void)state;
	same_as_gumbo("<body background=a.png class=x><p>x<body background=b.png bgcolor=red id=y>z");
	same_as_gumbo("<html lang=en><body><html lang=de dir=rtl><p>x");
	same_as_gumbo("<p>x</p><body background=late.png>");
	same_as_gumbo("<frameset><frame src=x></frameset>");
}

static void test_tables(void **state)
{
	(void)state;
	same_as_gumbo("<table><tr><td>a<td>b</table>");
	same_as_gumbo("<table><td>a</td></tr><tr><th>b</table>c");
	same_as_gumbo("<table>text<tr><td>x</td>more</tr></table>");
	same_as_gumbo("<table><b>bold<tr><td>cell</b></td></tr></table>after");
	same_as_gumbo("<table><img src=x.png><tr><td><img src=y.png></table>");
	same_as_gumbo("<table><caption>c<table><tr><td>x</table></caption><col><colgroup><col></table>");
	same_as_gumbo("<table><tbody><tr><td><table><tr><td>inner</table>outer</td></tr></tbody></table>");
	same_as_gumbo("<table><tr><td><p>x<td>y</p></table>");
	same_as_gumbo("<table><form><input type=hidden><input type=text></form></table>");
	same_as_gumbo("<table><style>a{}</style><script>x</script><tr><td>a</td></tr></table>");
	same_as_gumbo("<p><table><tr><td>quirks: table inside p</table>");
	same_as_gumbo("<!DOCTYPE html><p><table><tr><td>standards: p closed</table>");
	same_as_gumbo("<table><tr><td><select><option>a<td>b</select></table>");
	same_as_gumbo("<table>  <tr> <td>x</td> </tr> </table>");
	same_as_gumbo("<div><table><a href=x>link</a><tr><td>y</td></tr></table></div>");
	same_as_gumbo("<table><tr><td>a</tr><tr>b</table>");
}

static void test_formatting(void **state)
{
	(void)state;
	same_as_gumbo("<b>1<i>2</b>3</i>4");
	same_as_gumbo("<a href=1>x<div>y</a>z</div>");
	same_as_gumbo("<a href=1><a href=2>x</a>");
	same_as_gumbo("<p><b><i>x</p><p>y</b>z");
	same_as_gumbo("<b><b><b><b>x</b></b></b></b>y");
	same_as_gumbo("<font color=red><p>a</font>b<p>c");
	same_as_gumbo("<a><div><div><div><div><div><div><div><p><span><a>z</a></span></p></div></div></div></div></div></div> y");
	same_as_gumbo("<b><p>foo</b>bar");
	same_as_gumbo("<nobr>a<nobr>b</nobr>c");
	same_as_gumbo("<div><a href=1>\n<div>\n<p>x</p><p><span><a href=2><u>y</u>\n</a></span></p>\n</div>\n</a>\n</div>\n");
	same_as_gumbo("<i><b><u><s><em>x</i>y</b>z");
	same_as_gumbo("<a href=x><table><tr><td>in cell</td></tr></table></a>");
	same_as_gumbo("<object><b>x</object>y");
	same_as_gumbo("<foo><bar>x</foo>y</bar>z");
	same_as_gumbo("<span><o:p>x</o:p></span>");
}

static void test_lists_blocks(void **state)
{
	(void)state;
	same_as_gumbo("<ul><li>a<li>b<ul><li>c<li>d</ul><li>e</ul>");
	same_as_gumbo("<dl><dt>a<dd>b<dt>c<dd>d</dl>");
	same_as_gumbo("<ol><li><p>x<li>y</ol>");
	same_as_gumbo("<p>a<div>b</div><p>c<h1>d</h1><h2>e<h3>f</h3>");
	same_as_gumbo("<h1>a<h2>b</h1>c");
	same_as_gumbo("<p>a<p>b<center>c</center><hr>d");
	same_as_gumbo("<button>a<button>b</button>");
	same_as_gumbo("<form><form><input></form></form>x");
	same_as_gumbo("<pre>\nx</pre><pre>\n\ny</pre><textarea>\nz</textarea><listing>\r\nw</listing>");
	same_as_gumbo("<select><option>a<optgroup><option>b</select>c");
	same_as_gumbo("<ruby>a<rt>b<rp>c</ruby>");
	same_as_gumbo("<image src=x.png><p>x");
	same_as_gumbo("<p>a</li></dd></h3></form></button></marquee>b");
}

static void test_foreign(void **state)
{
	(void)state;
	same_as_gumbo("<svg viewbox='0 0 1 1'><image xlink:href=a.png /><feImage href=b.png></feImage>"
		      "<foreignObject><p>html<img src=c.png></foreignObject><style>@import 'd.css';</style></svg>x");
	same_as_gumbo("<svg><a xlink:href=x><text>t</text></a><use xlink:href='#i'/><p>breaks out</svg>");
	same_as_gumbo("<math><mi>x<b>y</b></mi><annotation-xml encoding=text/html><div>d</div></annotation-xml></math>");
	same_as_gumbo("<svg><![CDATA[ <b>not a tag</b> ]]><desc><b>html</b></desc></svg>");
	same_as_gumbo("<p><svg><font color=red>x</font></svg>");
	same_as_gumbo("<svg><g><g><circle/></g></svg>after");
	same_as_gumbo("<svg xmlns:xlink=http://www.w3.org/1999/xlink xml:lang=en><title>t</title></svg>");
	same_as_gumbo("<div><![CDATA[x]]></div>");
}

static void test_template(void **state)
{
	(void)state;
	same_as_gumbo("<template><img src=x.png><p>y</template><p>z");
	same_as_gumbo("<head><template><link rel=stylesheet href=a.css></template></head>");
	same_as_gumbo("<table><template><tr><td>x</td></tr></template></table>");
	same_as_gumbo("<template><template>x</template></template>");
	same_as_gumbo("<template><td>cell</template>");
	same_as_gumbo("<body><template>unclosed");
}

static void test_text_and_entities(void **state)
{
	(void)state;
	same_as_gumbo("<p>&amp; &lt; &gt; &quot; &apos; &nbsp; &copy &copy; &notit; &notin; &amp &ampx; &unknown; &#65; &#x42; "
		      "&#X43 &#0; &#128; &#x9f; &#xD800; &#1114112; &#17; &# &#x; & x");
	same_as_gumbo("<a href='?a=1&amp;b=2&copy=3&copyx&copy;&notin;&not=&lt'>x</a>");
	same_as_gumbo("<a href=\"&quot;q&#34;\" title=x&amp;&gt;>x</a>");
	same_as_gumbo("<img src=a.png alt=\"&NotNestedGreaterGreater; &CounterClockwiseContourIntegral;\">");
	same_as_gumbo("<p>caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 bad:\xff\xc3( \xe2\x82 \xed\xa0\x80 \xc2\x80 ctl:\x01\x0b\x7f");
	same_as_gumbo("<p title='\xc3\xa9\xff\x01\r\nx'>a\r\nb\rc\0d</p>");
	same_as_gumbo("<p>a<!-- c -->b</p>");
	same_as_gumbo("<p>\r\n  x\r\n</p>");
}

static void test_raw_text(void **state)
{
	(void)state;
	same_as_gumbo("<style>a < b { x: '</p>' } &amp; </style><p>y");
	same_as_gumbo("<style>\r\n@import url(a.css);\r\n</STYLE >x");
	same_as_gumbo("<script>if (a < b) document.write('<b>');</script>x");
	same_as_gumbo("<title>a &amp; <b>b</b></title><textarea>c &lt; <i>d</i></textarea>");
	same_as_gumbo("<xmp><b>x</b></xmp><iframe src=f.html><p>y</iframe><noembed><img src=z></noembed>");
	same_as_gumbo("<noframes><img src=x></noframes>z");
	same_as_gumbo("<plaintext><b>x</b></plaintext>");
	same_as_gumbo("<style>unterminated <p>");
	same_as_gumbo("<style></styl</style>x");
	same_as_gumbo("<style>a</style foo=bar>b");
}

static void test_noscript(void **state)
{
	(void)state;
	same_as_gumbo("<noscript><img src=a.png></noscript><p>x");
	same_as_gumbo("<head><noscript><link rel=stylesheet href=a.css><style>x{}</style></noscript></head>");
	same_as_gumbo("<head><noscript><img src=b.png></noscript></head><body>y");
	same_as_gumbo("<p><noscript><p>x</noscript>");
}

static void test_comments_and_markup(void **state)
{
	(void)state;
	same_as_gumbo("<!--x--><!----><!---><!--><!-- a -- b --><!-- c --!><p>d<!-- unterminated");
	same_as_gumbo("<p><? php ?><! bogus ><!DOCTYPE late></ foo></>x");
	same_as_gumbo("<p>a < b <3 <a href=x>c</a> <");
	same_as_gumbo("</");
	same_as_gumbo("<p>x</p");
	same_as_gumbo("<a href=x");
	same_as_gumbo("<a href=\"x");
	same_as_gumbo("<div id=a<b>c</div>");
	same_as_gumbo("<!--[if mso]><table><tr><td><![endif]-->x<!--[if mso]></td></tr></table><![endif]-->");
}

static void test_attributes(void **state)
{
	(void)state;
	same_as_gumbo("<img src=a.png SRC=b.png Src=\"c.png\" alt>");
	same_as_gumbo("<img alt alt src=x.png>");
	same_as_gumbo("<IMG SRC = 'a.png' ALT = \"x\" / ><br/><p/>y");
	same_as_gumbo("<a href=x title='t'class=c>y</a>");
	same_as_gumbo("<img =a b= c=>d");
	same_as_gumbo("<img src=x.png/ alt=y/>");
	same_as_gumbo("<div a=1 b='2' c=\"3\" d e=>x</div>");
	same_as_gumbo("<p \"a\"='b' <c=d>x");
	same_as_gumbo("<img\nsrc\n=\r\n\"a.png\"\r\nalt=\"\">");
	same_as_gumbo("<td background=bg.png width=1 height=1 style=\"background:url(x.png)\">");
}

/* ---- hostile input ---- */

static size_t count_nodes(const GumboNode *root)
{
	size_t cap = 1024, n = 0, total = 0;
	const GumboNode **st = malloc(cap * sizeof *st);
	st[n++] = root;
	while (n) {
		const GumboNode *x = st[--n];
		total++;
		const GumboVector *k = x->type == GUMBO_NODE_DOCUMENT ? &x->v.document.children
				       : x->type == GUMBO_NODE_ELEMENT || x->type == GUMBO_NODE_TEMPLATE ? &x->v.element.children
												      : NULL;
		if (!k)
			continue;
		if (n + k->length > cap) {
			cap = (n + k->length) * 2;
			st = realloc(st, cap * sizeof *st);
		}
		for (unsigned i = 0; i < k->length; i++)
			st[n++] = k->data[i];
	}
	free(st);
	return total;
}

static char *repeat(const char *s, size_t times, size_t *len)
{
	size_t n = strlen(s);
	char *r = malloc(n * times + 1);
	for (size_t i = 0; i < times; i++)
		memcpy(r + i * n, s, n);
	r[n * times] = 0;
	*len = n * times;
	return r;
}

/* Parsed whole: no byte limit, and no depth cut unless cut (dom.c's
 * pre-scan is quadratic in depth for stray end tags, so its limit stays). */
static size_t parse_nodes_cut(const char *html, size_t len, bool cut)
{
	bw_limits lim;
	bw_limits_default(&lim);
	lim.max_html_bytes = len + 1;
	lim.max_html_nodes = 0;
	if (!cut)
		lim.max_html_depth = 4000000;
	bw_html_doc d;
	bw_html_doc_parse(&d, html, len, &lim, NULL);
	if (!cut)
		assert_int_equal(d.len, len);
	size_t n = count_nodes(d.out->document);
	bw_html_doc_free(&d);
	return n;
}

static size_t parse_nodes(const char *html, size_t len)
{
	return parse_nodes_cut(html, len, false);
}

static void test_hostile(void **state)
{
	(void)state;
	size_t len;
	char *h = repeat("<div>", 1000000, &len);
	assert_int_equal(parse_nodes(h, len), 1000000 + 4);
	free(h);
	h = repeat("<b id=x>", 1000000, &len);
	assert_true(parse_nodes(h, len) > 1000000);
	free(h);
	h = repeat("<svg>", 1000000, &len);
	assert_int_equal(parse_nodes(h, len), 1000000 + 4);
	free(h);
	h = repeat("<table><tr><td>", 300000, &len);
	assert_true(parse_nodes_cut(h, len, true) > 2000);
	free(h);
	h = repeat("<a href=x><p>", 300000, &len);
	assert_true(parse_nodes_cut(h, len, true) > 600000);
	free(h);
	h = repeat("<", 10u << 20, &len);
	assert_int_equal(parse_nodes(h, len), 5); /* html, head, body, one text node */
	free(h);
	h = repeat("<p><b id=1></p>", 200000, &len);
	assert_true(parse_nodes_cut(h, len, true) > 2000);
	free(h);
	h = repeat("<i><div><span>", 100000, &len);
	char *h2 = malloc(len + 6 * 200000 + 1);
	memcpy(h2, h, len);
	for (int i = 0; i < 200000; i++)
		memcpy(h2 + len + 6 * i, "</foo>", 6);
	assert_true(parse_nodes_cut(h2, len + 6 * 200000, true) > 2000);
	free(h);
	free(h2);
	h = repeat("<img a=1 ", 200000, &len);
	assert_true(parse_nodes(h, len) > 3);
	free(h);
	/* one tag with 100,000 attributes, many duplicates */
	h = malloc(2000000);
	size_t n = (size_t)sprintf(h, "<img");
	for (int i = 0; i < 100000; i++)
		n += (size_t)sprintf(h + n, " a%d=%d", i % 50000, i);
	n += (size_t)sprintf(h + n, ">");
	bw_html_doc d;
	bw_html_doc_parse(&d, h, n, NULL, NULL);
	const GumboNode *body = d.out->root->v.element.children.data[1];
	const GumboNode *img = body->v.element.children.data[0];
	assert_int_equal(img->v.element.attributes.length, 50000);
	assert_string_equal(((GumboAttribute *)img->v.element.attributes.data[49999])->value, "49999");
	bw_html_doc_free(&d);
	free(h);
	/* unterminated everything */
	static const char *const cut[] = {"<!--", "<!DOCTYPE", "<![CDATA[", "<svg><![CDATA[x", "<a href='", "<a href=\"x",
					  "<a href=x", "<a href", "<a ", "<a", "</a", "</", "<", "&", "&#", "&#x", "&am", "<style>",
					  "<style>x</sty", "<title>&amp", "<textarea>", "<plaintext>", "<table><tr><td", "<select><option",
					  "<template><tr", "<math><mi", "<svg><foreignObject><p", NULL};
	for (size_t i = 0; cut[i]; i++)
		same_as_gumbo(cut[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_multiple_bodies),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_formatting),
		cmocka_unit_test(test_lists_blocks),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_text_and_entities),
		cmocka_unit_test(test_raw_text),
		cmocka_unit_test(test_noscript),
		cmocka_unit_test(test_comments_and_markup),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
