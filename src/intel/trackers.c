/* Tracker lists: parses the published e-mail tracker lists in their own
 * syntaxes (Adblock filters, Ugly Email's "Vendor@@=regex" lines, Trocker's
 * JSON) and compiles every rule into one Hyperscan database.
 *
 * Why Hyperscan: a message carries dozens of URLs and the lists hold hundreds
 * of rules. Hyperscan compiles all of them into one automaton, so each URL is
 * scanned once, in time linear in its length whatever the number of rules;
 * trying the rules one by one would multiply the work by the rule count.
 *
 * Threads: a db owns a single Hyperscan scratch space, which every scan
 * writes to. One db must therefore be used by one thread at a time; a
 * multi-threaded caller loads one db per thread. */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <hs.h>
#include <jansson.h>

#include "bulwark/trackers.h"

/* Bounds on hostile list input. */
enum {
	MAX_FILE_BYTES = 4 * 1024 * 1024,
	MAX_LINE = 4096,
	MAX_RULES = 50000,
	MAX_NAME = 128,             /* vendor names */
	MAX_ERRORS_PER_FILE = 50,   /* then one line says more were left out */
	MAX_COMPILE_RETRIES = 64,   /* rules Hyperscan accepts alone but not together */
};

/* What a mail client does with a URL: fetch it as an image when the message
 * is opened, or follow it as a link when the reader clicks. */
enum { LOAD_IMAGE = 1u, LOAD_LINK = 2u };

enum party { PARTY_ANY, PARTY_THIRD, PARTY_FIRST };

/* How well a rule names who tracks; when several rules match, the report is
 * most useful with the best-named one. */
enum vendor_rank { VENDOR_NONE, VENDOR_DOMAIN, VENDOR_CODE, VENDOR_NAME };

typedef struct rule {
	char *vendor;         /* NULL with VENDOR_NONE */
	enum vendor_rank rank;
	const char *list;     /* owned by the db's list of file names */
	char *text;           /* as written in the list */
	unsigned loads;       /* LOAD_* the rule applies to */
	enum party party;
	bool exception;       /* Adblock "@@": suppresses block matches */
} rule;

struct bw_tracker_db {
	hs_database_t *hs;
	hs_scratch_t *scratch; /* see the threading note above */
	rule *rules;           /* indexed by Hyperscan expression id */
	size_t n;
	bw_strvec lists;
};

/* A rule waiting for the single compile at the end of the load. */
typedef struct pending {
	rule r;
	char *expr;
	unsigned flags;
	char *where;          /* "file:line" for error messages */
} pending;

typedef struct builder {
	pending *p;
	size_t n, cap;
	bw_strvec lists;
	bw_strvec *errors;    /* may be NULL */
	const char *file;     /* list being read */
	unsigned file_errors;
} builder;

/* Adblock's domain anchor "||": any scheme, then the host itself or any of
 * its subdomains. */
#define HOST_ANCHOR "^[a-z][a-z0-9+.-]*://(?:[^/?#]*\\.)?"
/* Adblock's "^": one character that cannot be part of a URL word, or the end. */
#define SEPARATOR "[^A-Za-z0-9_.%-]"
#define SEPARATOR_OR_END "(?:" SEPARATOR "|$)"

static void note(builder *b, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note(builder *b, const char *where, const char *fmt, ...)
{
	if (!b->errors)
		return;
	if (++b->file_errors > MAX_ERRORS_PER_FILE) {
		if (b->file_errors == MAX_ERRORS_PER_FILE + 1)
			bw_strvec_pushf(b->errors, "%s: more errors in this file not listed", b->file);
		return;
	}
	bw_buf msg = {0};
	va_list ap;
	va_start(ap, fmt);
	bw_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	bw_strvec_pushf(b->errors, "%s: %s", where, msg.data ? msg.data : "");
	bw_buf_free(&msg);
}

static void rule_clear(rule *r)
{
	free(r->vendor);
	free(r->text);
}

/* Takes ownership of r's strings and expr. The expression is checked alone
 * here so that one bad rule is skipped with its own message instead of
 * failing the whole compile. */
static void add_rule(builder *b, const char *where, rule *r, char *expr, unsigned flags)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;

	if (b->n >= MAX_RULES) {
		note(b, where, "more than %d rules, rule skipped", MAX_RULES);
	} else if (hs_expression_info(expr, flags, &info, &err) != HS_SUCCESS) {
		note(b, where, "rule '%s' skipped: %s", r->text, err->message);
		hs_free_compile_error(err);
	} else if (info->min_width == 0) {
		note(b, where, "rule '%s' skipped: matches the empty string", r->text);
	} else {
		void *v = b->p;
		bw_grow(&v, &b->cap, b->n + 1, sizeof *b->p);
		b->p = v;
		b->p[b->n++] = (pending){*r, expr, flags, bw_xstrdup(where)};
		free(info);
		return;
	}
	free(info);
	rule_clear(r);
	free(expr);
}

/* PCRE takes a backslash before any non-alphanumeric character as that
 * character, so escaping all of them is safe and needs no metacharacter list. */
static void put_literal(bw_buf *re, unsigned char c)
{
	if (g_ascii_isalnum(c))
		bw_buf_putc(re, (char)c);
	else if (c >= 0x80)
		bw_buf_printf(re, "\\x%02x", c);
	else {
		bw_buf_putc(re, '\\');
		bw_buf_putc(re, (char)c);
	}
}

static void put_literal_n(bw_buf *re, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put_literal(re, (unsigned char)s[i]);
}

/* JavaScript regex source to PCRE as Hyperscan reads it. The two agree on
 * nearly everything; the differences fixed here are JS's identity escapes
 * ("\Q" is a plain Q in JS but starts a quote in PCRE), \uXXXX, \v, \0, and
 * the JS-only classes "[]" and "[^]". What Hyperscan does not support
 * (backreferences, lookaround) is left for it to reject. */
static const char *js_regex_to_pcre(const char *js, bw_buf *re)
{
	bool in_class = false;

	for (const char *p = js; *p; p++) {
		if (*p == '\\') {
			char c = *++p;
			if (!c)
				return "trailing backslash";
			if (c == 'u' && g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2]) &&
			    g_ascii_isxdigit(p[3]) && g_ascii_isxdigit(p[4])) {
				bw_buf_printf(re, "\\x{%.4s}", p + 1);
				p += 4;
			} else if (c == 'x' && !(g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2]))) {
				bw_buf_putc(re, 'x'); /* PCRE would read a NUL */
			} else if (c == 'v') {
				bw_buf_puts(re, "\\x0b");
			} else if (c == '0' && !g_ascii_isdigit(p[1])) {
				bw_buf_puts(re, "\\x00");
			} else if (g_ascii_isalpha(c) && !strchr("dDwWsSbBnrtfcxk", c)) {
				bw_buf_putc(re, c);
			} else {
				bw_buf_putc(re, '\\');
				bw_buf_putc(re, c);
			}
		} else if (!in_class && *p == '[') {
			if (strncmp(p, "[^]", 3) == 0) {
				bw_buf_puts(re, "[\\s\\S]");
				p += 2;
			} else if (p[1] == ']') {
				return "empty character class never matches";
			} else {
				in_class = true;
				bw_buf_putc(re, '[');
				if (p[1] == '^')
					bw_buf_putc(re, *++p);
			}
		} else if (in_class && *p == '[') {
			bw_buf_puts(re, "\\["); /* PCRE would read "[:" as a POSIX class */
		} else {
			if (*p == ']')
				in_class = false;
			bw_buf_putc(re, *p);
		}
	}
	return in_class ? "unterminated character class" : NULL;
}

/* ---- Adblock ---------------------------------------------------------- */

typedef struct ab_options {
	unsigned loads;
	enum party party;
	bool match_case;
} ab_options;

static bool opt_is(const char *opt, size_t n, const char *name)
{
	return strlen(name) == n && g_ascii_strncasecmp(opt, name, n) == 0;
}

/* Resource types a browser knows but a mail client never requests. */
static bool foreign_type(const char *o, size_t n)
{
	static const char *const types[] = {
		"script", "stylesheet", "css", "xmlhttprequest", "xhr", "subdocument",
		"frame", "object", "object-subrequest", "media", "font", "ping",
		"websocket", "webrtc", "other", "beacon", "csp_report",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
		if (opt_is(o, n, types[i]))
			return true;
	return false;
}

/* Options restrict what a rule applies to. domain= (and from=) name the page
 * a request comes from; a message has no such page, so they are ignored and
 * the rule applies everywhere. Unknown options stay in the rule text but do
 * not limit it. */
static ab_options parse_options(const char *opts)
{
	ab_options o = {0, PARTY_ANY, false};
	unsigned want = 0, unwant = 0;
	bool typed = false;

	while (opts && *opts) {
		size_t n = strcspn(opts, ",");
		bool neg = *opts == '~';
		const char *s = opts + neg;
		size_t k = n - neg;
		unsigned bit = 0;

		if (opt_is(s, k, "image"))
			bit = LOAD_IMAGE;
		else if (opt_is(s, k, "document") || opt_is(s, k, "doc") ||
			 opt_is(s, k, "popup") || opt_is(s, k, "main_frame"))
			bit = LOAD_LINK;
		else if (opt_is(s, k, "all"))
			bit = LOAD_IMAGE | LOAD_LINK;
		else if (foreign_type(s, k))
			typed |= !neg;
		else if (opt_is(s, k, "third-party") || opt_is(s, k, "3p"))
			o.party = neg ? PARTY_FIRST : PARTY_THIRD;
		else if (opt_is(s, k, "first-party") || opt_is(s, k, "1p"))
			o.party = neg ? PARTY_THIRD : PARTY_FIRST;
		else if (opt_is(s, k, "match-case"))
			o.match_case = !neg;
		if (bit) {
			if (neg)
				unwant |= bit;
			else
				want |= bit, typed = true;
		}
		opts += n + (opts[n] == ',');
	}
	o.loads = (typed ? want : LOAD_IMAGE | LOAD_LINK) & ~unwant;
	return o;
}

static const char *adblock_to_regex(const char *pat, bw_buf *re)
{
	const char *p = pat, *end = pat + strlen(pat);
	bool end_anchor = false;

	if (strncmp(p, "||", 2) == 0) {
		bw_buf_puts(re, HOST_ANCHOR);
		p += 2;
	} else if (*p == '|') {
		bw_buf_putc(re, '^');
		p++;
	}
	if (end > p && end[-1] == '|') {
		end_anchor = true;
		end--;
	}
	/* A wildcard at either end of a substring search adds nothing; after
	 * a start anchor a leading one is kept. */
	if (p == pat)
		while (p < end && *p == '*')
			p++;
	while (end > p && end[-1] == '*')
		end--, end_anchor = false;
	if (p == end)
		return "matches every URL";
	for (const char *q = p; q < end; q++) {
		if (*q == '*') {
			if (q[-1] != '*')
				bw_buf_puts(re, ".*");
		} else if (*q == '^') {
			/* Hyperscan refuses "$" before more pattern; there it
			 * could not match anyway. */
			bw_buf_puts(re, q + 1 == end ? SEPARATOR_OR_END : SEPARATOR);
		} else {
			put_literal(re, (unsigned char)*q);
		}
	}
	if (end_anchor)
		bw_buf_putc(re, '$');
	return NULL;
}

static bool file_extension(const char *s, size_t n)
{
	static const char *const ext[] = {
		"gif", "png", "jpg", "jpeg", "webp", "svg", "ico", "php", "asp",
		"aspx", "jsp", "html", "htm", "js", "css", "dll", "cgi", "pl",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(ext); i++)
		if (opt_is(s, n, ext[i]))
			return true;
	return false;
}

/* Adblock lists rarely name the company behind a rule, but most rules start
 * with its host (".emltrk.com/", "||emltrk.com^", "/ap.lijit.com/"), which
 * tells the reader of a report who tracks. Returns that host or NULL when the
 * rule starts with a path or file name instead. */
static char *domain_label(const char *pat)
{
	const char *s = pat;
	const char *sep = strstr(s, "://");

	if (strncmp(s, "||", 2) == 0)
		s += 2;
	else if (sep && strspn(s, "|abcdefghijklmnopqrstuvwxyz") == (size_t)(sep - s))
		s = sep + 3;
	else if (*s == '.' || *s == '/')
		s++;

	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-");
	if (s[n] && !strchr("/^:", s[n]))
		return NULL; /* "open.html?", "convertkit*.com": not a whole host */
	const char *dot = memrchr(s, '.', n);
	if (!dot || dot == s || s[0] == '-' || memmem(s, n, "..", 2))
		return NULL;
	const char *tld = dot + 1;
	size_t tl = n - (size_t)(tld - s);
	if (tl < 2 || file_extension(tld, tl))
		return NULL;
	for (size_t i = 0; i < tl; i++)
		if (!g_ascii_isalpha(tld[i]))
			return NULL;
	char *label = bw_xstrndup(s, n);
	bw_ascii_lower(label);
	return label;
}

static void adblock_rule(builder *b, const char *where, const char *line, const char *vendor)
{
	const char *p = line;
	bool exception = strncmp(p, "@@", 2) == 0;
	if (exception)
		p += 2;

	/* Options follow the last '$', except inside a /regex/ rule. */
	const char *dollar = strrchr(p, '$');
	size_t plen = dollar ? (size_t)(dollar - p) : strlen(p);
	size_t whole = strlen(p);
	bool regex = plen >= 2 && p[0] == '/' && p[plen - 1] == '/';
	if (!regex && whole >= 2 && p[0] == '/' && p[whole - 1] == '/') {
		regex = true;
		plen = whole;
	}
	const char *opts = plen < whole ? p + plen + 1 : NULL;
	ab_options o = parse_options(opts);
	if (!o.loads)
		return; /* only for request types a mail client never makes */

	char *pat = bw_xstrndup(p, plen);
	bw_buf re = {0};
	const char *why = NULL;
	if (regex) {
		pat[plen - 1] = '\0';
		why = js_regex_to_pcre(pat + 1, &re);
	} else {
		why = adblock_to_regex(pat, &re);
	}
	if (why) {
		note(b, where, "rule '%s' skipped: %s", line, why);
		free(pat);
		bw_buf_free(&re);
		return;
	}

	rule r = {
		.list = b->file, .text = bw_xstrdup(line), .loads = o.loads,
		.party = o.party, .exception = exception,
	};
	if (vendor) {
		r.vendor = bw_xstrdup(vendor);
		r.rank = VENDOR_NAME;
	} else if (!regex && (r.vendor = domain_label(pat))) {
		r.rank = VENDOR_DOMAIN;
	}
	free(pat);
	unsigned flags = HS_FLAG_SINGLEMATCH | (o.match_case ? 0 : HS_FLAG_CASELESS);
	add_rule(b, where, &r, bw_buf_steal(&re), flags);
}

/* Leave Me Alone's list heads each group of rules with "! Vendor (https://
 * vendor.example)"; the name holds until a blank line or another comment.
 * Comments that cite no site ("! Common tracking endpoints") name nobody. */
static void section_vendor(const char *comment, char *vendor)
{
	const char *paren = strstr(comment, "(http");
	vendor[0] = '\0';
	if (!paren)
		return;
	const char *s = comment + strspn(comment, " \t");
	size_t n = (size_t)(paren - s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n && n <= MAX_NAME && !memchr(s, ':', n)) {
		memcpy(vendor, s, n);
		vendor[n] = '\0';
	}
}

typedef struct adblock_state {
	char vendor[MAX_NAME + 1];
} adblock_state;

static void adblock_line(builder *b, const char *where, const char *line, void *state)
{
	adblock_state *st = state;
	size_t n = strlen(line);

	if (n == 0) {
		st->vendor[0] = '\0';
	} else if (line[0] == '!') {
		section_vendor(line + 1, st->vendor);
	} else if (line[0] == '[' && line[n - 1] == ']') {
		/* "[Adblock Plus 2.0]" header */
	} else if (strstr(line, "##") || strstr(line, "#@#") || strstr(line, "#?#") ||
		   strstr(line, "#$#") || strstr(line, "#%#")) {
		/* element hiding, snippets: about page layout, not requests */
	} else {
		adblock_rule(b, where, line, st->vendor[0] ? st->vendor : NULL);
	}
}

/* ---- Ugly Email ------------------------------------------------------- */

static void ugly_line(builder *b, const char *where, const char *line, void *state)
{
	(void)state;
	if (!*line)
		return;
	const char *sep = strstr(line, "@@=");
	size_t vn = sep ? (size_t)(sep - line) : 0;
	while (vn && line[vn - 1] == ' ')
		vn--;
	if (!vn || vn > MAX_NAME || !sep[3]) {
		note(b, where, "not a \"Vendor@@=regex\" line");
		return;
	}
	bw_buf re = {0};
	const char *why = js_regex_to_pcre(sep + 3, &re);
	if (why) {
		note(b, where, "rule '%s' skipped: %s", line, why);
		bw_buf_free(&re);
		return;
	}
	/* Ugly Email blocks images; JavaScript regexes are case-sensitive unless
	 * flagged, and its lines carry no flags. */
	rule r = {
		.vendor = bw_xstrndup(line, vn), .rank = VENDOR_NAME, .list = b->file,
		.text = bw_xstrdup(line), .loads = LOAD_IMAGE, .party = PARTY_ANY,
	};
	add_rule(b, where, &r, bw_buf_steal(&re), HS_FLAG_SINGLEMATCH);
}

/* ---- line-oriented files ---------------------------------------------- */

typedef void line_fn(builder *b, const char *where, const char *line, void *state);

/* Calls fn on each line, trimmed and NUL-terminated in place; blank lines
 * too, since they end Adblock sections. Over-long lines and lines with
 * control characters are reported and skipped. */
static void each_line(builder *b, char *text, size_t len, line_fn *fn, void *state)
{
	char *p = text, *end = text + len;
	char where[PATH_MAX + 32];

	for (unsigned lineno = 1; p < end; lineno++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;
		char *next = nl ? nl + 1 : end;
		snprintf(where, sizeof where, "%s:%u", b->file, lineno);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		size_t n = (size_t)(e - p);
		bool ctl = false;
		for (size_t i = 0; i < n && !ctl; i++)
			ctl = (unsigned char)p[i] < 0x20 || p[i] == 0x7f;
		if (n > MAX_LINE)
			note(b, where, "line longer than %d bytes skipped", MAX_LINE);
		else if (ctl)
			note(b, where, "line with control characters skipped");
		else {
			*e = '\0';
			fn(b, where, p, state);
		}
		p = next;
	}
}

/* Ugly Email's list and Adblock lists both end in .txt; the first rule line
 * tells them apart. */
static bool is_ugly_email(const char *text)
{
	for (const char *p = text; *p; ) {
		size_t n = strcspn(p, "\n");
		size_t sp = strspn(p, " \t\r");
		if (sp < n && p[sp] != '!' && p[sp] != '[') {
			const char *sep = g_strstr_len(p, (gssize)n, "@@=");
			return sep && strncmp(p + sp, "@@", 2) != 0;
		}
		p += n + (p[n] == '\n');
	}
	return false;
}

/* ---- Trocker ---------------------------------------------------------- */

/* Trocker's "domains" are a host, optionally followed by a path prefix:
 * "t.yesware.com/t". The host matches itself or a subdomain; hosts compare
 * case-insensitively, the path as written. */
static const char *trocker_domain_to_regex(const char *d, bw_buf *re)
{
	size_t hl = strcspn(d, "/");
	if (hl == 0)
		return "empty host";
	if (strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hl)
		return "not a host name";
	bw_buf_puts(re, HOST_ANCHOR "(?i:");
	put_literal_n(re, d, hl);
	bw_buf_putc(re, ')');
	if (d[hl])
		put_literal_n(re, d + hl, strlen(d + hl));
	else
		bw_buf_puts(re, "(?:[:/?#]|$)");
	return NULL;
}

/* Trocker's "patterns" are WebExtension match patterns,
 * "<scheme>://<host>/<path>", where scheme "*" is http(s) or ws(s), host "*"
 * or "*.example.com" covers subdomains, and "*" in the path is any run. */
static const char *match_pattern_to_regex(const char *mp, bw_buf *re)
{
	const char *sep = strstr(mp, "://");
	if (!sep)
		return "no \"://\"";
	size_t sl = (size_t)(sep - mp);
	const char *host = sep + 3;
	size_t hl = strcspn(host, "/");
	if (!host[hl])
		return "no path";

	bw_buf_putc(re, '^');
	if (sl == 1 && mp[0] == '*')
		bw_buf_puts(re, "(?:https?|wss?)");
	else if (sl && strspn(mp, "abcdefghijklmnopqrstuvwxyz") == sl)
		bw_buf_append(re, mp, sl);
	else
		return "bad scheme";
	bw_buf_puts(re, "://");

	if (hl == 1 && host[0] == '*') {
		bw_buf_puts(re, "[^/?#]*");
	} else {
		if (hl > 2 && strncmp(host, "*.", 2) == 0) {
			bw_buf_puts(re, "(?:[^/?#]*\\.)?");
			host += 2, hl -= 2;
		}
		if (memchr(host, '*', hl))
			return "wildcard inside host";
		bw_buf_puts(re, "(?i:");
		put_literal_n(re, host, hl);
		bw_buf_putc(re, ')');
	}
	bw_buf_puts(re, "(?::[0-9]+)?");
	for (const char *p = host + hl; *p; p++) {
		if (*p == '*')
			bw_buf_puts(re, ".*");
		else
			put_literal(re, (unsigned char)*p);
	}
	bw_buf_puts(re, "(?:#|$)"); /* match patterns ignore the fragment */
	return NULL;
}

typedef const char *to_regex_fn(const char *s, bw_buf *re);

static void trocker_strings(builder *b, const char *where, json_t *arr, const char *code,
			    unsigned loads, to_regex_fn *to_regex)
{
	size_t i;
	json_t *v;

	if (arr && !json_is_array(arr)) {
		note(b, where, "not an array");
		return;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		const char *why = NULL;
		bw_buf re = {0};

		if (!s || !*s || strlen(s) > MAX_LINE)
			why = "not a string of 1 to 4096 bytes";
		for (const char *c = s; !why && *c; c++)
			if ((unsigned char)*c <= 0x20 || *c == 0x7f)
				why = "space or control character";
		if (!why)
			why = to_regex(s, &re);
		if (why) {
			note(b, where, "entry %zu skipped: %s", i, why);
			bw_buf_free(&re);
			continue;
		}
		rule r = {
			.vendor = bw_xstrdup(code), .rank = VENDOR_CODE, .list = b->file,
			.text = bw_xstrdup(s), .loads = loads, .party = PARTY_ANY,
		};
		add_rule(b, where, &r, bw_buf_steal(&re), HS_FLAG_SINGLEMATCH);
	}
}

/* open_trackers are pixels, click_trackers wrap links. Each entry's "regex"
 * and "param" only tell Trocker how to recover a wrapped link's destination;
 * detection needs just "domains" and "patterns". */
static void load_trocker(builder *b, const char *text, size_t len)
{
	static const struct { const char *key; unsigned loads; } kinds[] = {
		{"open_trackers", LOAD_IMAGE},
		{"click_trackers", LOAD_LINK},
	};
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	char where[PATH_MAX + 64];

	if (!json_is_object(root)) {
		snprintf(where, sizeof where, "%s:%d", b->file, jerr.line);
		note(b, where, "%s", root ? "not a JSON object" : jerr.text);
		json_decref(root);
		return;
	}
	for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
		json_t *arr = json_object_get(root, kinds[k].key), *entry;
		size_t i;

		json_array_foreach(arr, i, entry) {
			snprintf(where, sizeof where, "%s: %s[%zu]", b->file, kinds[k].key, i);
			const char *code = json_string_value(json_object_get(entry, "name"));
			if (!code || !*code || strlen(code) > MAX_NAME) {
				note(b, where, "entry without a usable \"name\" skipped");
				continue;
			}
			trocker_strings(b, where, json_object_get(entry, "domains"), code,
					kinds[k].loads, trocker_domain_to_regex);
			trocker_strings(b, where, json_object_get(entry, "patterns"), code,
					kinds[k].loads, match_pattern_to_regex);
		}
	}
	json_decref(root);
}

/* ---- loading ---------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && g_ascii_strcasecmp(s + n - k, suffix) == 0;
}

static int list_file(const struct dirent *d)
{
	return d->d_name[0] != '.' && (has_suffix(d->d_name, ".txt") || has_suffix(d->d_name, ".json"));
}

/* Returns the file's contents, NUL-terminated, or NULL after noting why. */
static char *read_list(builder *b, const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	char *text = NULL;

	if (!fp) {
		note(b, b->file, "cannot open");
		return NULL;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		note(b, b->file, "not a regular file");
	} else if (st.st_size > MAX_FILE_BYTES) {
		note(b, b->file, "larger than %d bytes, skipped", MAX_FILE_BYTES);
	} else {
		/* What was appended after the fstat is left for the next load. */
		text = bw_xmalloc((size_t)st.st_size + 1);
		*len = fread(text, 1, (size_t)st.st_size, fp);
		if (ferror(fp)) {
			note(b, b->file, "read error");
			free(text);
			text = NULL;
		} else {
			text[*len] = '\0';
		}
	}
	fclose(fp);
	return text;
}

static void load_file(builder *b, const char *dir, const char *name)
{
	char path[PATH_MAX];
	size_t len = 0;

	bw_strvec_push(&b->lists, name);
	b->file = b->lists.v[b->lists.n - 1];
	b->file_errors = 0;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
		note(b, name, "path too long");
		return;
	}
	char *text = read_list(b, path, &len);
	if (!text)
		return;
	if (has_suffix(name, ".json")) {
		load_trocker(b, text, len);
	} else if (memchr(text, '\0', len)) {
		note(b, name, "binary file skipped");
	} else if (is_ugly_email(text)) {
		each_line(b, text, len, ugly_line, NULL);
	} else {
		adblock_state st = {{0}};
		each_line(b, text, len, adblock_line, &st);
	}
	free(text);
}

static void pending_drop(pending *p)
{
	rule_clear(&p->r);
	free(p->expr);
	free(p->where);
}

/* Compiling the lists takes about 0.2 s, which dominates a short scan. The
 * compiled database is cached under $XDG_CACHE_HOME/bulwark (or
 * ~/.cache/bulwark), named by a SHA-256 of every expression and flag and of
 * the Hyperscan version, so any change to the lists or the library makes a
 * new entry. A cache that cannot be read or written is simply not used. */
static char *cache_path(const builder *b)
{
	const char *base = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (getenv("BULWARK_NO_CACHE") || (!(base && *base) && !(home && *home)))
		return NULL;
	GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
	const char *version = hs_version();
	g_checksum_update(sum, (const guchar *)version, (gssize)strlen(version));
	for (size_t i = 0; i < b->n; i++) {
		char flags[32];
		snprintf(flags, sizeof flags, "\n%u\n", b->p[i].flags);
		g_checksum_update(sum, (const guchar *)b->p[i].expr, (gssize)strlen(b->p[i].expr));
		g_checksum_update(sum, (const guchar *)flags, (gssize)strlen(flags));
	}
	bw_buf path = {0};
	if (base && *base)
		bw_buf_printf(&path, "%s/bulwark/trackers-%s.hsdb", base, g_checksum_get_string(sum));
	else
		bw_buf_printf(&path, "%s/.cache/bulwark/trackers-%s.hsdb", home, g_checksum_get_string(sum));
	g_checksum_free(sum);
	return bw_buf_steal(&path);
}

static hs_database_t *cache_load(const char *path)
{
	gchar *data = NULL;
	gsize len = 0;
	hs_database_t *db = NULL;
	if (path && g_file_get_contents(path, &data, &len, NULL) &&
	    hs_deserialize_database(data, len, &db) != HS_SUCCESS)
		db = NULL;
	g_free(data);
	return db;
}

static void cache_store(const char *path, const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;
	if (!path || hs_serialize_database(db, &bytes, &len) != HS_SUCCESS)
		return;
	char *dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0700) == 0)
		g_file_set_contents(path, bytes, (gssize)len, NULL); /* writes a temp file, then renames */
	g_free(dir);
	free(bytes);
}

/* One compile for all rules. Every rule passed hs_expression_info alone, so a
 * failure here is rare (resource limits); the named rule is dropped and the
 * rest compiled again. */
static hs_database_t *compile_all(builder *b)
{
	b->file = "hyperscan";
	b->file_errors = 0;
	char *cached = cache_path(b);
	hs_database_t *hit = cache_load(cached);
	if (hit) {
		free(cached);
		return hit;
	}
	for (unsigned attempt = 0; b->n; attempt++) {
		const char **exprs = bw_xmalloc(b->n * sizeof *exprs);
		unsigned *flags = bw_xmalloc(b->n * sizeof *flags);
		unsigned *ids = bw_xmalloc(b->n * sizeof *ids);
		hs_database_t *db = NULL;
		hs_compile_error_t *err = NULL;

		for (size_t i = 0; i < b->n; i++) {
			exprs[i] = b->p[i].expr;
			flags[i] = b->p[i].flags;
			ids[i] = (unsigned)i;
		}
		hs_error_t rc = hs_compile_multi(exprs, flags, ids, (unsigned)b->n, HS_MODE_BLOCK,
						 NULL, &db, &err);
		free(exprs);
		free(flags);
		free(ids);
		if (rc == HS_SUCCESS) {
			/* Only a first-try compile is cached: after a dropped
			 * rule the key no longer describes the database. */
			if (attempt == 0)
				cache_store(cached, db);
			free(cached);
			return db;
		}

		int bad = err->expression;
		if (bad < 0 || (size_t)bad >= b->n || attempt >= MAX_COMPILE_RETRIES) {
			note(b, "hyperscan", "compiling %zu rules failed: %s", b->n, err->message);
			hs_free_compile_error(err);
			free(cached);
			return NULL;
		}
		pending *p = &b->p[bad];
		note(b, p->where, "rule '%s' skipped: %s", p->r.text, err->message);
		hs_free_compile_error(err);
		pending_drop(p);
		memmove(p, p + 1, (b->n - (size_t)bad - 1) * sizeof *p);
		b->n--;
	}
	free(cached);
	return NULL;
}

bw_tracker_db *bw_tracker_db_load(const char *dir, bw_strvec *errors)
{
	builder b = {.errors = errors, .file = dir ? dir : "(null)"};
	struct dirent **names = NULL;
	int count = dir ? scandir(dir, &names, list_file, alphasort) : -1;

	if (count < 0) {
		note(&b, b.file, "cannot read tracker list directory");
		return NULL;
	}
	for (int i = 0; i < count; i++) {
		load_file(&b, dir, names[i]->d_name);
		free(names[i]);
	}
	free(names);

	bw_tracker_db *db = NULL;
	hs_database_t *hs = NULL;
	hs_scratch_t *scratch = NULL;
	if (b.n == 0) {
		b.file = dir;
		b.file_errors = 0;
		note(&b, dir, "no tracker rule found");
	} else if ((hs = compile_all(&b)) && hs_alloc_scratch(hs, &scratch) != HS_SUCCESS) {
		note(&b, "hyperscan", "cannot allocate scratch space");
		hs_free_database(hs);
		hs = NULL;
	}
	if (hs) {
		db = bw_xcalloc(1, sizeof *db);
		db->hs = hs;
		db->scratch = scratch;
		db->n = b.n;
		db->rules = bw_xmalloc(b.n * sizeof *db->rules);
		for (size_t i = 0; i < b.n; i++) {
			db->rules[i] = b.p[i].r;
			free(b.p[i].expr);
			free(b.p[i].where);
		}
		db->lists = b.lists;
	} else {
		for (size_t i = 0; i < b.n; i++)
			pending_drop(&b.p[i]);
		bw_strvec_free(&b.lists);
	}
	free(b.p);
	return db;
}

void bw_tracker_db_free(bw_tracker_db *db)
{
	if (!db)
		return;
	hs_free_scratch(db->scratch);
	hs_free_database(db->hs);
	for (size_t i = 0; i < db->n; i++)
		rule_clear(&db->rules[i]);
	free(db->rules);
	bw_strvec_free(&db->lists);
	free(db);
}

size_t bw_tracker_db_rule_count(const bw_tracker_db *db)
{
	return db ? db->n : 0;
}

/* ---- matching --------------------------------------------------------- */

typedef struct scan {
	const bw_tracker_db *db;
	unsigned load;
	bool third_party;
	const rule *best;
	bool excepted;
} scan;

static int on_match(unsigned id, unsigned long long from, unsigned long long to,
		    unsigned flags, void *ctx)
{
	scan *s = ctx;
	const rule *r = &s->db->rules[id];
	(void)from, (void)to, (void)flags;

	if (!(r->loads & s->load) ||
	    (r->party == PARTY_THIRD && !s->third_party) ||
	    (r->party == PARTY_FIRST && s->third_party))
		return 0;
	if (r->exception) {
		/* An exception in any list allows the URL, as when a blocker
		 * combines several lists. Nothing else can change that: stop. */
		s->excepted = true;
		return 1;
	}
	/* Hyperscan reports in order of match end; rank, then list order,
	 * makes the choice independent of that. */
	if (!s->best || r->rank > s->best->rank || (r->rank == s->best->rank && r < s->best))
		s->best = r;
	return 0;
}

bool bw_tracker_db_match(const bw_tracker_db *db, const char *url, bool is_image,
			 bool third_party, bw_tracker_match *match)
{
	scan s = {db, is_image ? LOAD_IMAGE : LOAD_LINK, third_party, NULL, false};

	if (match)
		*match = (bw_tracker_match){0};
	if (!db || !url)
		return false;
	size_t len = strlen(url);
	if (len > UINT_MAX)
		return false;
	hs_error_t rc = hs_scan(db->hs, url, (unsigned)len, 0, db->scratch, on_match, &s);
	if ((rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) || s.excepted || !s.best)
		return false;
	if (match)
		*match = (bw_tracker_match){s.best->vendor, s.best->list, s.best->text};
	return true;
}
