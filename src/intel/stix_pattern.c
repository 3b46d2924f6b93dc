/* The STIX patterning language (STIXPattern.g4), parsed by recursive descent
 * straight into disjunctive normal form. Hand-written because the grammar's
 * only generator, ANTLR, has no C runtime in Debian, and because what we need
 * is not a tree but "which sets of observables must all be present": every
 * OR concatenates alternatives, every AND multiplies them out (bounded). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/stix_pattern.h"

typedef enum tok_kind {
	T_END, T_LBRACK, T_RBRACK, T_LPAREN, T_RPAREN, T_COLON, T_DOT, T_COMMA, T_STAR,
	T_OP,      /* = != < > <= >= */
	T_WORD,    /* identifiers and keywords */
	T_STRING,  /* '...' with escapes resolved */
	T_NUMBER,
	T_OTHER_LITERAL /* t'..', h'..', b'..' */
} tok_kind;

typedef struct tok {
	tok_kind kind;
	size_t pos;
	char *text; /* T_OP, T_WORD, T_STRING, T_NUMBER: malloc'd */
} tok;

typedef struct dnf {
	bw_pattern_conj *v;
	size_t n, cap;
} dnf;

typedef struct parser {
	const char *s;
	size_t len, pos;
	tok cur;
	unsigned depth;
	char *error;
} parser;

static void fail(parser *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(parser *p, size_t pos, const char *fmt, ...)
{
	if (p->error)
		return;
	bw_buf b = {0};
	bw_buf_printf(&b, "offset %zu: ", pos);
	va_list ap;
	va_start(ap, fmt);
	bw_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	p->error = bw_buf_steal(&b);
}

/* ---- lexer ---- */

static void lex_quoted(parser *p, size_t start, size_t open)
{
	bw_buf b = {0};
	size_t i = open + 1;
	for (;;) {
		if (i >= p->len) {
			fail(p, start, "unterminated string literal");
			bw_buf_free(&b);
			return;
		}
		char c = p->s[i];
		if (c == '\'')
			break;
		if (c == '\\') {
			char e = i + 1 < p->len ? p->s[i + 1] : '\0';
			if (e != '\'' && e != '\\') {
				fail(p, i, "invalid escape in string literal (only \\' and \\\\)");
				bw_buf_free(&b);
				return;
			}
			bw_buf_putc(&b, e);
			i += 2;
			continue;
		}
		bw_buf_putc(&b, c);
		i++;
	}
	p->cur.text = bw_buf_steal(&b);
	p->pos = i + 1;
}

/* A failed literal leaves no token behind for the parser to read. */
static void lex_literal(parser *p, tok_kind kind, size_t start, size_t open)
{
	p->cur.kind = kind;
	lex_quoted(p, start, open);
	if (p->error)
		p->cur.kind = T_END;
}

static void next(parser *p)
{
	free(p->cur.text);
	p->cur.text = NULL;
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
	size_t st = p->pos;
	p->cur.pos = st;
	if (p->error || st >= p->len) {
		p->cur.kind = T_END;
		return;
	}
	char c = p->s[st], d = st + 1 < p->len ? p->s[st + 1] : '\0';
	static const char singles[] = "[]():.,*";
	static const tok_kind single_kinds[] = {T_LBRACK, T_RBRACK, T_LPAREN, T_RPAREN,
						T_COLON, T_DOT, T_COMMA, T_STAR};
	const char *sp = strchr(singles, c);
	if (c && sp && !(c == '.' && isdigit((unsigned char)d))) {
		p->cur.kind = single_kinds[sp - singles];
		p->pos++;
		return;
	}
	if (c == '=' || c == '<' || c == '>' || (c == '!' && d == '=')) {
		size_t n = (d == '=' || (c == '<' && d == '>')) ? 2 : 1;
		p->cur.kind = T_OP;
		p->cur.text = bw_xstrndup(p->s + st, n);
		p->pos += n;
		return;
	}
	if (c == '\'') {
		lex_literal(p, T_STRING, st, st);
		return;
	}
	if ((c == 't' || c == 'h' || c == 'b') && d == '\'') {
		lex_literal(p, T_OTHER_LITERAL, st, st + 1);
		return;
	}
	if (isdigit((unsigned char)c) || c == '.' || ((c == '-' || c == '+') &&
						      (isdigit((unsigned char)d) || d == '.'))) {
		size_t i = st + 1;
		while (i < p->len && (isdigit((unsigned char)p->s[i]) || p->s[i] == '.'))
			i++;
		p->cur.kind = T_NUMBER;
		p->cur.text = bw_xstrndup(p->s + st, i - st);
		p->pos = i;
		return;
	}
	if (isalpha((unsigned char)c) || c == '_') {
		size_t i = st + 1;
		while (i < p->len && (isalnum((unsigned char)p->s[i]) || p->s[i] == '_' || p->s[i] == '-'))
			i++;
		p->cur.kind = T_WORD;
		p->cur.text = bw_xstrndup(p->s + st, i - st);
		p->pos = i;
		return;
	}
	fail(p, st, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
	p->cur.kind = T_END;
}

static bool is_word(const parser *p, const char *w)
{
	return p->cur.kind == T_WORD && strcmp(p->cur.text, w) == 0;
}

static bool expect(parser *p, tok_kind k, const char *what)
{
	if (p->cur.kind != k) {
		fail(p, p->cur.pos, "expected %s", what);
		return false;
	}
	next(p);
	return true;
}

/* ---- DNF algebra ---- */

static void conj_free(bw_pattern_conj *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->terms[i].value);
	free(c->terms);
}

static void dnf_free(dnf *d)
{
	for (size_t i = 0; i < d->n; i++)
		conj_free(&d->v[i]);
	free(d->v);
	memset(d, 0, sizeof *d);
}

static void dnf_push(dnf *d, bw_pattern_conj c)
{
	bw_grow((void **)&d->v, &d->cap, d->n + 1, sizeof *d->v);
	d->v[d->n++] = c;
}

static dnf dnf_term(bw_obs_type type, char *value, int prefix_len)
{
	dnf d = {0};
	bw_pattern_conj c = {bw_xmalloc(sizeof(bw_pattern_term)), 1};
	c.terms[0] = (bw_pattern_term){type, value, prefix_len};
	dnf_push(&d, c);
	return d;
}

static dnf dnf_unsupported(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static dnf dnf_unsupported(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *why = bw_xvasprintf(fmt, ap);
	va_end(ap);
	return dnf_term(BW_OBS_NONE, why, -1);
}

/* a OR b, into a; b is consumed. */
static void dnf_or(parser *p, dnf *a, dnf *b)
{
	if (a->n + b->n > BW_PATTERN_MAX_CONJ)
		fail(p, p->cur.pos, "pattern has more than %d alternatives", BW_PATTERN_MAX_CONJ);
	for (size_t i = 0; i < b->n && !p->error; i++) {
		dnf_push(a, b->v[i]);
		b->v[i] = (bw_pattern_conj){0};
	}
	dnf_free(b);
}

/* a AND b, into a; b is consumed. */
static void dnf_and(parser *p, dnf *a, dnf *b)
{
	dnf out = {0};
	if (a->n * b->n > BW_PATTERN_MAX_CONJ)
		fail(p, p->cur.pos, "pattern has more than %d alternatives once multiplied out",
		     BW_PATTERN_MAX_CONJ);
	for (size_t i = 0; i < a->n && !p->error; i++)
		for (size_t j = 0; j < b->n && !p->error; j++) {
			size_t n = a->v[i].n + b->v[j].n;
			if (n > BW_PATTERN_MAX_TERMS) {
				fail(p, p->cur.pos, "more than %d comparisons must hold together",
				     BW_PATTERN_MAX_TERMS);
				break;
			}
			bw_pattern_conj c = {bw_xmalloc(n * sizeof(bw_pattern_term)), n};
			for (size_t k = 0; k < n; k++) {
				const bw_pattern_term *t = k < a->v[i].n ? &a->v[i].terms[k]
									 : &b->v[j].terms[k - a->v[i].n];
				c.terms[k] = (bw_pattern_term){t->type, bw_xstrdup(t->value), t->prefix_len};
			}
			dnf_push(&out, c);
		}
	dnf_free(a);
	dnf_free(b);
	*a = out;
}

/* ---- object paths and comparisons ---- */

/* The observable type of "object-type:path", or BW_OBS_NONE. */
static bw_obs_type path_type(const char *object, const char *path)
{
	static const struct { const char *object, *path; bw_obs_type type; } paths[] = {
		{"domain-name", "value", BW_OBS_DOMAIN},
		{"url", "value", BW_OBS_URL},
		{"ipv4-addr", "value", BW_OBS_IPV4},
		{"ipv6-addr", "value", BW_OBS_IPV6},
		{"email-addr", "value", BW_OBS_EMAIL},
		{"email-message", "from_ref.value", BW_OBS_EMAIL},
		{"email-message", "sender_ref.value", BW_OBS_EMAIL},
		{"email-message", "subject", BW_OBS_SUBJECT},
		{"file", "name", BW_OBS_FILENAME},
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (strcmp(object, paths[i].object) == 0 && strcmp(path, paths[i].path) == 0)
			return paths[i].type;
	if (strcmp(object, "file") == 0 && strncmp(path, "hashes.", 7) == 0) {
		/* 'SHA-256', SHA256, sha256 ... */
		char key[16];
		size_t k = 0;
		for (const char *c = path + 7; *c && k < sizeof key - 1; c++)
			if (*c != '-')
				key[k++] = (char)toupper((unsigned char)*c);
		key[k] = '\0';
		if (strcmp(key, "MD5") == 0)
			return BW_OBS_MD5;
		if (strcmp(key, "SHA1") == 0)
			return BW_OBS_SHA1;
		if (strcmp(key, "SHA256") == 0)
			return BW_OBS_SHA256;
	}
	return BW_OBS_NONE;
}

/* objectType ':' firstPathComponent objectPathComponent*, as "type" and
 * "a.b[*].c". */
static bool object_path(parser *p, char **object, char **path)
{
	if (p->cur.kind != T_WORD) {
		fail(p, p->cur.pos, "expected an object path (type:property)");
		return false;
	}
	*object = bw_xstrdup(p->cur.text);
	next(p);
	if (!expect(p, T_COLON, "':' after the object type"))
		return false;
	bw_buf b = {0};
	if (p->cur.kind != T_WORD && p->cur.kind != T_STRING) {
		fail(p, p->cur.pos, "expected a property name after ':'");
		return false;
	}
	bw_buf_puts(&b, p->cur.text);
	next(p);
	for (;;) {
		if (p->cur.kind == T_DOT) {
			next(p);
			if (p->cur.kind != T_WORD && p->cur.kind != T_STRING) {
				fail(p, p->cur.pos, "expected a property name after '.'");
				break;
			}
			bw_buf_printf(&b, ".%s", p->cur.text);
			next(p);
		} else if (p->cur.kind == T_LBRACK) {
			next(p);
			if (p->cur.kind == T_STAR)
				bw_buf_puts(&b, "[*]");
			else if (p->cur.kind == T_NUMBER)
				bw_buf_printf(&b, "[%s]", p->cur.text);
			else
				fail(p, p->cur.pos, "expected an index or '*'");
			next(p);
			expect(p, T_RBRACK, "']' after the index");
		} else {
			break;
		}
		if (p->error)
			break;
	}
	*path = bw_buf_steal(&b);
	return !p->error;
}

static bool at_literal(const parser *p)
{
	return p->cur.kind == T_STRING || p->cur.kind == T_NUMBER || p->cur.kind == T_OTHER_LITERAL ||
	       is_word(p, "true") || is_word(p, "false");
}

/* One literal: a term of the comparison's type when we evaluate it (type is
 * not BW_OBS_NONE), else only checked and skipped. */
static dnf literal(parser *p, bw_obs_type type, const char *object, const char *path)
{
	dnf d = {0};
	if (!at_literal(p)) {
		fail(p, p->cur.pos, "expected a literal");
		return d;
	}
	if (type != BW_OBS_NONE && p->cur.kind != T_STRING) {
		d = dnf_unsupported("%s:%s compared with a non-string literal", object, path);
	} else if (type != BW_OBS_NONE) {
		int prefix;
		char *v = bw_obs_normalise(type, p->cur.text, &prefix);
		d = v ? dnf_term(type, v, prefix)
		      : dnf_unsupported("%s:%s: '%s' is not a valid %s", object, path, p->cur.text,
					bw_obs_type_name(type));
	}
	next(p);
	return d;
}

static dnf comparison_or(parser *p);

static const char *const operators[] = {"=", "!=", "<>", "<", ">", "<=", ">=", "IN", "LIKE",
					"MATCHES", "ISSUBSET", "ISSUPERSET"};

/* objectPath NOT? OPERATOR literal-or-set, after the path. */
static dnf comparison(parser *p, bool negated, const char *object, const char *path)
{
	dnf d = {0};
	const char *op = NULL;
	if (p->cur.kind == T_OP || p->cur.kind == T_WORD)
		for (size_t i = 0; i < sizeof operators / sizeof operators[0] && !op; i++)
			if (strcmp(p->cur.text, operators[i]) == 0)
				op = operators[i];
	if (!op) {
		fail(p, p->cur.pos, "expected a comparison operator");
		return d;
	}
	next(p);
	bw_obs_type type = path_type(object, path);
	bool ip = type == BW_OBS_IPV4 || type == BW_OBS_IPV6;
	bool evaluable = !negated && type != BW_OBS_NONE &&
			 (strcmp(op, "=") == 0 || strcmp(op, "IN") == 0 ||
			  (strcmp(op, "ISSUBSET") == 0 && ip));
	bw_obs_type as = evaluable ? type : BW_OBS_NONE;
	if (strcmp(op, "IN") != 0) {
		d = literal(p, as, object, path);
	} else if (expect(p, T_LPAREN, "'(' to open the set")) {
		for (bool first = true; !p->error && p->cur.kind != T_RPAREN; first = false) {
			if (!first && !expect(p, T_COMMA, "',' or ')' in the set"))
				break;
			dnf one = literal(p, as, object, path);
			dnf_or(p, &d, &one);
		}
		expect(p, T_RPAREN, "')' to close the set");
	}
	if (!p->error && !evaluable) {
		dnf_free(&d);
		d = dnf_unsupported("%s%s:%s %s", negated ? "NOT " : "", object, path, op);
	}
	return d;
}

/* propTest */
static dnf prop_test(parser *p)
{
	dnf d = {0};
	if (p->cur.kind == T_LPAREN) {
		if (++p->depth > BW_PATTERN_MAX_DEPTH) {
			fail(p, p->cur.pos, "nested deeper than %d", BW_PATTERN_MAX_DEPTH);
			return d;
		}
		next(p);
		d = comparison_or(p);
		expect(p, T_RPAREN, "')'");
		p->depth--;
		return d;
	}
	bool negated = false, exists = false;
	if (is_word(p, "NOT")) {
		negated = true;
		next(p);
	}
	if (is_word(p, "EXISTS")) {
		exists = true;
		next(p);
	}
	char *object = NULL, *path = NULL;
	if (object_path(p, &object, &path)) {
		if (exists) {
			d = dnf_unsupported("EXISTS %s:%s", object, path);
		} else {
			if (is_word(p, "NOT")) {
				negated = true;
				next(p);
			}
			d = comparison(p, negated, object, path);
		}
	}
	free(object);
	free(path);
	if (p->error)
		dnf_free(&d);
	return d;
}

/* operand (word operand)*, folded from the left: the AND and OR levels of
 * both the comparison and the observation grammar. */
static dnf fold_left(parser *p, const char *word, dnf (*operand)(parser *p),
		     void (*combine)(parser *p, dnf *a, dnf *b))
{
	dnf d = operand(p);
	while (!p->error && is_word(p, word)) {
		next(p);
		dnf r = operand(p);
		combine(p, &d, &r);
	}
	return d;
}

static dnf comparison_and(parser *p)
{
	return fold_left(p, "AND", prop_test, dnf_and);
}

static dnf comparison_or(parser *p)
{
	return fold_left(p, "OR", comparison_and, dnf_or);
}

static dnf observation_list(parser *p);

/* observationExpression with its qualifiers. A single message has no time
 * window or repetition to check, so a qualified observation is not
 * evaluable. */
static dnf observation(parser *p)
{
	dnf d = {0};
	if (++p->depth > BW_PATTERN_MAX_DEPTH) {
		fail(p, p->cur.pos, "nested deeper than %d", BW_PATTERN_MAX_DEPTH);
		return d;
	}
	if (p->cur.kind == T_LBRACK) {
		next(p);
		d = comparison_or(p);
		expect(p, T_RBRACK, "']' to close the observation");
	} else if (p->cur.kind == T_LPAREN) {
		next(p);
		d = observation_list(p);
		expect(p, T_RPAREN, "')'");
	} else {
		fail(p, p->cur.pos, "expected '[' or '('");
	}
	p->depth--;
	while (!p->error) {
		const char *q = NULL;
		if (is_word(p, "WITHIN")) {
			next(p);
			if (p->cur.kind == T_NUMBER)
				next(p);
			else
				fail(p, p->cur.pos, "expected a number after WITHIN");
			if (!is_word(p, "SECONDS"))
				fail(p, p->cur.pos, "expected SECONDS");
			q = "WITHIN";
		} else if (is_word(p, "REPEATS")) {
			next(p);
			if (p->cur.kind == T_NUMBER)
				next(p);
			else
				fail(p, p->cur.pos, "expected a number after REPEATS");
			if (!is_word(p, "TIMES"))
				fail(p, p->cur.pos, "expected TIMES");
			q = "REPEATS";
		} else if (is_word(p, "START")) {
			next(p);
			if (p->cur.kind == T_OTHER_LITERAL)
				next(p);
			else
				fail(p, p->cur.pos, "expected a timestamp after START");
			if (!is_word(p, "STOP"))
				fail(p, p->cur.pos, "expected STOP");
			next(p);
			if (p->cur.kind != T_OTHER_LITERAL)
				fail(p, p->cur.pos, "expected a timestamp after STOP");
			q = "START/STOP";
		} else {
			break;
		}
		next(p);
		dnf u = dnf_unsupported("%s qualifier", q);
		dnf_and(p, &d, &u);
	}
	if (p->error)
		dnf_free(&d);
	return d;
}

static dnf observation_and(parser *p)
{
	return fold_left(p, "AND", observation, dnf_and);
}

static dnf observation_or(parser *p)
{
	return fold_left(p, "OR", observation_and, dnf_or);
}

static dnf observation_list(parser *p)
{
	dnf d = observation_or(p);
	while (!p->error && is_word(p, "FOLLOWEDBY")) {
		next(p);
		dnf r = observation_or(p);
		dnf u = dnf_unsupported("FOLLOWEDBY");
		dnf_and(p, &d, &r);
		dnf_and(p, &d, &u);
	}
	return d;
}

void bw_pattern_free(bw_pattern *pt)
{
	for (size_t i = 0; i < pt->n; i++)
		conj_free(&pt->conj[i]);
	free(pt->conj);
	free(pt->unsupported);
	memset(pt, 0, sizeof *pt);
}

int bw_stix_pattern_parse(const char *s, bw_pattern *out, char **error)
{
	memset(out, 0, sizeof *out);
	parser p = {.s = s, .len = strlen(s)};
	if (p.len > BW_PATTERN_MAX_LEN)
		fail(&p, BW_PATTERN_MAX_LEN, "pattern longer than %d bytes", BW_PATTERN_MAX_LEN);
	next(&p);
	dnf d = observation_list(&p);
	if (!p.error && p.cur.kind != T_END)
		fail(&p, p.cur.pos, "unexpected text after the pattern");
	free(p.cur.text);
	if (p.error) {
		dnf_free(&d);
		*error = p.error;
		return -1;
	}
	/* keep only what we can evaluate; name every distinct reason, so that
	 * the summary shows all constructs a feed relies on, not the first */
	size_t kept = 0;
	bw_strvec why = {0};
	for (size_t i = 0; i < d.n; i++) {
		bool bad = false;
		for (size_t j = 0; j < d.v[i].n; j++)
			if (d.v[i].terms[j].type == BW_OBS_NONE) {
				bad = true;
				if (!bw_strvec_contains(&why, d.v[i].terms[j].value))
					bw_strvec_push(&why, d.v[i].terms[j].value);
			}
		if (bad) {
			out->dropped++;
			conj_free(&d.v[i]);
		} else {
			d.v[kept++] = d.v[i];
		}
	}
	if (why.n) {
		bw_buf b = {0};
		for (size_t i = 0; i < why.n; i++)
			bw_buf_printf(&b, "%s%s", i ? "; " : "", why.v[i]);
		out->unsupported = bw_buf_steal(&b);
	}
	bw_strvec_free(&why);
	out->conj = d.v;
	out->n = kept;
	return 0;
}
