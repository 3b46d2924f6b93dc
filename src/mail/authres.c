/* Parse stage for sender authentication: the Authentication-Results header
 * field (RFC 8601 section 2.2) tokenized by its grammar -- CFWS with nested
 * comments, quoted strings, authserv-id and version, "none", method[/version]
 * =result, reason=, ptype.property=value -- and the choice of which of these
 * headers a message's own MTA wrote (bw_authres_collect).
 *
 * Hand-written because no Debian library parses RFC 8601 (libopendmarc and
 * libopendkim only write it); it is a small recursive-descent lexer. */
#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/auth.h"
#include "bulwark/message.h"

/* Hostile input: a message may carry thousands of these headers. */
#define MAX_AR_HEADERS 100
#define MAX_RESULTS 256
#define MAX_COMMENT_DEPTH 32

void bw_authres_free(bw_authres *r)
{
	free(r->method);
	free(r->result);
	free(r->reason);
	free(r->authserv_id);
	free(r->domain);
	free(r->identity);
	free(r->selector);
	free(r->signature);
	free(r->policy);
	free(r->comment);
	bw_strvec_free(&r->props);
	memset(r, 0, sizeof *r);
}

const char *bw_authres_prop(const bw_authres *r, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < r->props.n; i++)
		if (strncmp(r->props.v[i], name, nl) == 0 && r->props.v[i][nl] == '=')
			return r->props.v[i] + nl + 1;
	return NULL;
}

typedef struct lexer {
	const char *s;
	size_t i;
	bw_buf comments; /* text of the comments skipped since the last reset */
	const char *error;
} lexer;

static bool at_end(const lexer *lx) { return lx->s[lx->i] == '\0'; }
static char peek(const lexer *lx) { return lx->s[lx->i]; }

/* CFWS: white space and (possibly nested) comments with quoted-pairs. */
static bool skip_cfws(lexer *lx)
{
	for (;;) {
		while (peek(lx) == ' ' || peek(lx) == '\t' || peek(lx) == '\r' || peek(lx) == '\n')
			lx->i++;
		if (peek(lx) != '(')
			return true;
		int depth = 0;
		size_t start = lx->i + 1;
		do {
			char c = peek(lx);
			if (c == '\0') {
				lx->error = "unterminated comment";
				return false;
			}
			if (c == '\\' && lx->s[lx->i + 1])
				lx->i++;
			else if (c == '(' && ++depth > MAX_COMMENT_DEPTH) {
				lx->error = "comments nested too deep";
				return false;
			} else if (c == ')')
				depth--;
			lx->i++;
		} while (depth > 0);
		if (lx->comments.len)
			bw_buf_putc(&lx->comments, ' ');
		bw_buf_append(&lx->comments, lx->s + start, lx->i - 1 - start);
	}
}

/* RFC 2045 token characters: not SP, CTL or tspecials. */
static bool is_token_char(char c)
{
	return (unsigned char)c > ' ' && (unsigned char)c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* Keyword (RFC 5321 ldh-string, with '_' as seen in the wild). */
static char *read_keyword(lexer *lx)
{
	size_t b = lx->i;
	while (g_ascii_isalnum(peek(lx)) || peek(lx) == '-' || peek(lx) == '_')
		lx->i++;
	if (lx->i == b)
		return NULL;
	char *k = bw_xstrndup(lx->s + b, lx->i - b);
	bw_ascii_lower(k);
	return k;
}

static char *read_quoted(lexer *lx)
{
	bw_buf out = {0};
	lx->i++; /* the opening quote */
	for (;;) {
		char c = peek(lx);
		if (c == '\0') {
			lx->error = "unterminated quoted string";
			bw_buf_free(&out);
			return NULL;
		}
		lx->i++;
		if (c == '"')
			break;
		if (c == '\\' && peek(lx))
			c = lx->s[lx->i++];
		bw_buf_putc(&out, c);
	}
	if (!out.data)
		bw_buf_puts(&out, "");
	return bw_buf_steal(&out);
}

/* value = token / quoted-string (RFC 2045) */
static char *read_value(lexer *lx)
{
	if (peek(lx) == '"')
		return read_quoted(lx);
	size_t b = lx->i;
	while (is_token_char(peek(lx)))
		lx->i++;
	if (lx->i == b) {
		lx->error = "expected a value";
		return NULL;
	}
	return bw_xstrndup(lx->s + b, lx->i - b);
}

/* pvalue = value / [[local-part] "@"] domain-name. A quoted local part may
 * be followed by "@domain"; otherwise the value runs to white space, ';' or
 * a comment, which also covers base64 header.b values ('/', '+', '='). */
static char *read_pvalue(lexer *lx)
{
	bw_buf out = {0};
	if (peek(lx) == '"') {
		char *q = read_quoted(lx);
		if (!q)
			return NULL;
		bw_buf_puts(&out, q);
		free(q);
	}
	while (!at_end(lx) && !strchr(" \t\r\n;()", peek(lx)))
		bw_buf_putc(&out, lx->s[lx->i++]);
	if (!out.data) {
		lx->error = "expected a property value";
		return NULL;
	}
	return bw_buf_steal(&out);
}

static bool expect(lexer *lx, char c, const char *error)
{
	if (!skip_cfws(lx))
		return false;
	if (peek(lx) != c) {
		lx->error = error;
		return false;
	}
	lx->i++;
	return skip_cfws(lx);
}

char *bw_mail_domain(const char *v)
{
	if (!v || !*v)
		return NULL;
	const char *at = strrchr(v, '@');
	char *d = bw_xstrdup(at ? at + 1 : v);
	size_t n = strlen(d);
	while (n && d[n - 1] == '.')
		d[--n] = '\0';
	bw_ascii_lower(d);
	if (!*d) {
		free(d);
		return NULL;
	}
	return d;
}

static char *dup_or_null(const char *s) { return s ? bw_xstrdup(s) : NULL; }

/* p=REJECT inside a comment, as Gmail and others write the policy. */
static char *policy_from_comment(const char *c)
{
	for (const char *p = c; p && (p = strstr(p, "p=")) != NULL; p += 2) {
		if (p != c && (g_ascii_isalnum(p[-1]) || p[-1] == '.'))
			continue;
		size_t n = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
		if (n) {
			char *v = bw_xstrndup(p + 2, n);
			bw_ascii_lower(v);
			return v;
		}
	}
	return NULL;
}

/* Fills the per-method convenience fields from the properties. */
static void derive_fields(bw_authres *r)
{
	if (strcmp(r->method, "spf") == 0) {
		const char *id = bw_authres_prop(r, "smtp.mailfrom");
		if (!id)
			id = bw_authres_prop(r, "smtp.mail"); /* pre-RFC 7601 spelling */
		if (!id)
			id = bw_authres_prop(r, "smtp.helo");
		r->identity = dup_or_null(id);
		r->domain = bw_mail_domain(id);
	} else if (strcmp(r->method, "dkim") == 0) {
		const char *d = bw_authres_prop(r, "header.d"), *i = bw_authres_prop(r, "header.i");
		r->identity = dup_or_null(i);
		r->domain = bw_mail_domain(d ? d : i);
		r->selector = dup_or_null(bw_authres_prop(r, "header.s"));
		r->signature = dup_or_null(bw_authres_prop(r, "header.b"));
	} else if (strcmp(r->method, "dmarc") == 0) {
		r->domain = bw_mail_domain(bw_authres_prop(r, "header.from"));
		const char *p = bw_authres_prop(r, "policy.dmarc");
		const char *action = bw_authres_prop(r, "action"); /* Microsoft 365 */
		if (p) {
			r->policy = bw_xstrdup(p);
			bw_ascii_lower(r->policy);
		} else if (action && (bw_ascii_strcasestr(action, "reject") || bw_ascii_strcasestr(action, "quarantine"))) {
			r->policy = bw_xstrdup(bw_ascii_strcasestr(action, "reject") ? "reject" : "quarantine");
		} else {
			r->policy = policy_from_comment(r->comment);
		}
	}
}

/* One resinfo after its ';': methodspec [reasonspec] *propspec. */
static bool read_resinfo(lexer *lx, bw_authres *r)
{
	bw_buf_reset(&lx->comments);
	if (!(r->method = read_keyword(lx))) {
		lx->error = "expected a method";
		return false;
	}
	if (!skip_cfws(lx))
		return false;
	if (peek(lx) == '/') { /* method-version */
		lx->i++;
		if (!skip_cfws(lx))
			return false;
		size_t b = lx->i;
		while (g_ascii_isdigit(peek(lx)))
			lx->i++;
		if (b == lx->i) {
			lx->error = "expected a method version";
			return false;
		}
	}
	if (!expect(lx, '=', "expected '=' after the method"))
		return false;
	if (!(r->result = read_keyword(lx))) {
		lx->error = "expected a result";
		return false;
	}
	for (;;) {
		if (!skip_cfws(lx))
			return false;
		if (at_end(lx) || peek(lx) == ';')
			break;
		char *ptype = read_keyword(lx);
		if (!ptype) {
			lx->error = "expected reason= or a property";
			return false;
		}
		if (strcmp(ptype, "reason") == 0 && (skip_cfws(lx), peek(lx) == '=')) {
			free(ptype);
			lx->i++;
			if (!skip_cfws(lx))
				return false;
			free(r->reason);
			if (!(r->reason = read_value(lx)))
				return false;
			continue;
		}
		char *prop = NULL;
		bool bare = skip_cfws(lx) && peek(lx) == '='; /* Microsoft's "action=none" */
		bool ok = bare ? expect(lx, '=', "expected '='")
			       : expect(lx, '.', "expected ptype.property") && (prop = read_keyword(lx)) != NULL &&
					 expect(lx, '=', "expected '=' after the property");
		char *val = ok ? read_pvalue(lx) : NULL;
		if (val && r->props.n < 32)
			bw_strvec_pushf(&r->props, "%s%s%s=%s", ptype, bare ? "" : ".", bare ? "" : prop, val);
		free(ptype);
		free(prop);
		free(val);
		if (!val) {
			if (!lx->error)
				lx->error = "expected a property";
			return false;
		}
	}
	if (lx->comments.len)
		r->comment = bw_xstrdup(lx->comments.data);
	derive_fields(r);
	return true;
}

/* Skips to the next ';' outside comments and quoted strings, so that one
 * malformed resinfo (seen in the wild: "; header.From=x; dkim=pass") does not
 * hide the results after it. */
static void resync(lexer *lx)
{
	int depth = 0;
	bool quoted = false;
	while (!at_end(lx)) {
		char c = peek(lx);
		if (c == '\\' && lx->s[lx->i + 1])
			lx->i++;
		else if (quoted)
			quoted = c != '"';
		else if (c == '"')
			quoted = true;
		else if (c == '(')
			depth++;
		else if (c == ')' && depth)
			depth--;
		else if (c == ';' && !depth)
			return;
		lx->i++;
	}
}

static void set_error(char **error, const lexer *lx, size_t header_index)
{
	if (!error || *error)
		return;
	bw_buf b = {0};
	bw_buf_printf(&b, "Authentication-Results (header %zu): %s at byte %zu", header_index + 1, lx->error,
		      lx->i);
	*error = bw_buf_steal(&b);
}

int bw_authres_parse_value(const char *value, size_t header_index, char **authserv_id,
			   bw_authres **out, size_t *n, size_t *cap, size_t max, char **error)
{
	lexer lx = {.s = value};
	int added = 0;
	*authserv_id = NULL;
	if (!skip_cfws(&lx)) {
		set_error(error, &lx, header_index);
		bw_buf_free(&lx.comments);
		return -1;
	}
	/* Microsoft 365 writes no authserv-id ("spf=pass (sender IP is ...)");
	 * such headers go by the pseudo-id "(none)", trusted only when listed */
	size_t start = lx.i;
	char *first = read_keyword(&lx);
	bool anonymous = first && skip_cfws(&lx) && peek(&lx) == '=';
	free(first);
	lx.i = start;
	lx.error = NULL;
	if (anonymous)
		*authserv_id = bw_xstrdup(BW_AUTHSERV_NONE);
	else if (!(*authserv_id = read_value(&lx)) || !skip_cfws(&lx)) {
		set_error(error, &lx, header_index);
		bw_buf_free(&lx.comments);
		return -1;
	}
	bw_ascii_lower(*authserv_id);
	if (!anonymous && g_ascii_isdigit(peek(&lx))) { /* authres-version */
		size_t b = lx.i;
		while (g_ascii_isdigit(peek(&lx)))
			lx.i++;
		if (lx.i - b != 1 || lx.s[b] != '1') {
			lx.i = b;
			lx.error = "unsupported version";
			set_error(error, &lx, header_index);
			bw_buf_free(&lx.comments);
			return -1;
		}
	}
	bool failed = false;
	while (skip_cfws(&lx) && !at_end(&lx)) {
		if (anonymous) {
			anonymous = false; /* the first resinfo has no ';' before it */
		} else if (peek(&lx) != ';') {
			lx.error = "expected ';'";
			break;
		} else {
			lx.i++;
		}
		if (!skip_cfws(&lx) || at_end(&lx))
			break; /* a trailing ';' is common and harmless */
		size_t save = lx.i;
		char *kw = read_keyword(&lx);
		bool none = kw && strcmp(kw, "none") == 0 && skip_cfws(&lx) && (at_end(&lx) || peek(&lx) == ';');
		free(kw);
		if (none)
			continue;
		lx.i = save;
		lx.error = NULL;
		bw_authres r = {0};
		if (read_resinfo(&lx, &r)) {
			if (*n < max) {
				r.authserv_id = bw_xstrdup(*authserv_id);
				r.header = header_index;
				bw_grow((void **)out, cap, *n + 1, sizeof **out);
				(*out)[(*n)++] = r;
				added++;
				continue;
			}
		} else {
			set_error(error, &lx, header_index);
			failed = true;
			resync(&lx);
			lx.error = NULL;
		}
		bw_authres_free(&r);
	}
	if (lx.error) {
		set_error(error, &lx, header_index);
		failed = true;
	}
	bw_buf_free(&lx.comments);
	return failed ? -1 : added;
}

/* The d= tag of every DKIM-Signature (RFC 6376 tag-list: "tag=value;"),
 * what the bulk-sender detector compares when no trusted header says which
 * signatures verified. */
static void collect_dkim_signers(bw_message *m)
{
	for (size_t i = 0; i < m->nheaders && m->dkim_signers.n < 16; i++) {
		if (!bw_ascii_iequal(m->headers[i].name, "DKIM-Signature"))
			continue;
		char **tags = g_strsplit(m->headers[i].value, ";", 64);
		for (char **t = tags; *t; t++) {
			char *tag = g_strstrip(*t);
			if (tag[0] != 'd' || (tag[1] != '=' && tag[1] != ' ' && tag[1] != '\t'))
				continue;
			char *eq = strchr(tag, '=');
			if (!eq)
				continue;
			char *d = bw_mail_domain(g_strstrip(eq + 1));
			if (d && !bw_strvec_contains(&m->dkim_signers, d))
				bw_strvec_push(&m->dkim_signers, d);
			free(d);
		}
		g_strfreev(tags);
	}
}

static bool trusted(const bw_strvec *ids, const char *id)
{
	for (size_t i = 0; id && i < ids->n; i++)
		if (bw_ascii_iequal(ids->v[i], id))
			return true;
	return false;
}

/* Which headers count: only those written by the receiving side's own MTAs.
 * Anyone can put "Authentication-Results: our-mx; dkim=pass" into a message
 * before sending it, and RFC 8601 section 5 only asks (does not guarantee)
 * that border MTAs delete such forgeries. Headers are prepended in transit,
 * so ours are on top: the block starts at the topmost header with a trusted
 * authserv-id and ends at the next Received header below it, the hop where
 * the message entered from outside. Trusted-looking headers under that line
 * came from the sender or an earlier relay and are ignored, as are headers of
 * untrusted authserv-ids anywhere. */
void bw_authres_collect(struct bw_message *m, const bw_strvec *trusted_ids)
{
	collect_dkim_signers(m);
	if (!trusted_ids || !trusted_ids->n)
		return;
	bool started = false;
	unsigned seen = 0;
	for (size_t i = 0; i < m->nheaders; i++) {
		const bw_header *h = &m->headers[i];
		if (started && bw_ascii_iequal(h->name, "Received"))
			break;
		if (!bw_ascii_iequal(h->name, "Authentication-Results"))
			continue;
		if (++seen > MAX_AR_HEADERS) {
			bw_strvec_pushf(&m->errors, "limit: more than %d Authentication-Results headers; the rest were not read",
					MAX_AR_HEADERS);
			break;
		}
		bw_authres *tmp = NULL;
		size_t n = 0, cap = 0;
		char *id = NULL, *err = NULL;
		bw_authres_parse_value(h->value, i, &id, &tmp, &n, &cap, MAX_RESULTS - m->nauth, &err);
		if (trusted(trusted_ids, id)) {
			started = true;
			for (size_t k = 0; k < n; k++) {
				bw_grow((void **)&m->auth, &m->capauth, m->nauth + 1, sizeof *m->auth);
				m->auth[m->nauth++] = tmp[k];
			}
			n = 0;
			if (err)
				bw_strvec_push_owned(&m->errors, err), err = NULL;
		}
		for (size_t k = 0; k < n; k++)
			bw_authres_free(&tmp[k]);
		free(tmp);
		free(id);
		free(err);
	}
}
