/* The milter's settings and the plan for one message (see policy.h). */
#include <glib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter/policy.h"

static const struct {
	const char *name;
	unsigned bit;
} action_names[] = {
	{"accept", 0},
	{"headers", BW_ACT_HEADERS},
	{"tag-subject", BW_ACT_TAG_SUBJECT},
	{"quarantine", BW_ACT_QUARANTINE},
	{"reject", BW_ACT_REJECT},
	{"sanitize", BW_ACT_SANITIZE},
};

static const char *const verdict_keys[BW_NVERDICTS] = {"clean", "suspicious", "malicious"};

void bw_milter_config_default(bw_milter_config *c)
{
	memset(c, 0, sizeof *c);
	c->socket = bw_xstrdup("inet:8893@127.0.0.1");
	c->workers = 2;
	c->timeout_ms = 10000;
	c->failsafe_tempfail = true;
	char host[256] = "localhost";
	gethostname(host, sizeof host - 1);
	c->authserv_id = bw_xstrdup(host);
	c->log_stderr = -1;
	/* the engine's own message limit: a larger message would be scanned only
	 * in part, so it takes the fail-safe path instead */
	bw_limits engine_limits;
	bw_limits_default(&engine_limits);
	c->max_message_bytes = engine_limits.max_message_bytes;
	for (int v = 0; v < BW_NVERDICTS; v++)
		c->actions[v] = BW_ACT_HEADERS;
	c->reject_text = bw_xstrdup("Message rejected by the Bulwark mail security policy");
	c->subject_tag = bw_xstrdup("[SUSPICIOUS]");
	c->auth = true;
	c->dns_timeout_ms = 2000;
}

void bw_milter_config_free(bw_milter_config *c)
{
	free(c->socket);
	free(c->authserv_id);
	free(c->metrics);
	free(c->user);
	free(c->reject_text);
	free(c->subject_tag);
	free(c->resolver);
	for (size_t i = 0; i < c->ngroups; i++) {
		free(c->groups[i].name);
		bw_strvec_free(&c->groups[i].recipients);
	}
	free(c->groups);
	memset(c, 0, sizeof *c);
}

int bw_milter_parse_actions(const char *list, unsigned *out, char **error)
{
	unsigned bits = 0;
	char **items = g_strsplit_set(list, ",;", -1);
	int rc = 0;
	for (char **it = items; *it && rc == 0; it++) {
		char *t = g_strstrip(*it);
		if (!*t)
			continue;
		size_t i = 0;
		while (i < G_N_ELEMENTS(action_names) && g_ascii_strcasecmp(t, action_names[i].name) != 0)
			i++;
		if (i == G_N_ELEMENTS(action_names)) {
			bw_buf b = {0};
			bw_buf_printf(&b, "unknown action \"%s\" (accept, headers, tag-subject, quarantine, "
				      "reject, sanitize)", t);
			*error = bw_buf_steal(&b);
			rc = -1;
		}
		else
			bits |= action_names[i].bit;
	}
	g_strfreev(items);
	if (rc == 0)
		*out = bits;
	return rc;
}

void bw_milter_action_names(unsigned actions, bw_buf *b)
{
	bool any = false;
	for (size_t i = 1; i < G_N_ELEMENTS(action_names); i++) {
		if (!(actions & action_names[i].bit))
			continue;
		bw_buf_printf(b, "%s%s", any ? "," : "", action_names[i].name);
		any = true;
	}
	if (!any)
		bw_buf_puts(b, "accept");
}

/* A string key replaces *dst when present (empty allowed only if empty_ok). */
static int read_string(GKeyFile *kf, const char *group, const char *key, char **dst, bool empty_ok,
		       bw_buf *err)
{
	char *v = g_key_file_get_string(kf, group, key, NULL);
	if (!v)
		return 0;
	g_strstrip(v);
	if (!*v && !empty_ok) {
		bw_buf_printf(err, "[%s] %s must not be empty", group, key);
		g_free(v);
		return -1;
	}
	free(*dst);
	*dst = *v ? bw_xstrdup(v) : NULL;
	g_free(v);
	return 0;
}

static int read_number(GKeyFile *kf, const char *group, const char *key, guint64 min, guint64 max,
		       guint64 *dst, bw_buf *err)
{
	char *v = g_key_file_get_string(kf, group, key, NULL);
	if (!v)
		return 0;
	guint64 n = 0;
	gboolean ok = g_ascii_string_to_unsigned(g_strstrip(v), 10, min, max, &n, NULL);
	if (ok)
		*dst = n;
	else
		bw_buf_printf(err, "[%s] %s must be a number from %llu to %llu", group, key,
			      (unsigned long long)min, (unsigned long long)max);
	g_free(v);
	return ok ? 0 : -1;
}

static int read_verdict_actions(GKeyFile *kf, const char *group, unsigned actions[BW_NVERDICTS],
				bw_buf *err)
{
	for (int v = 0; v < BW_NVERDICTS; v++) {
		char *list = g_key_file_get_string(kf, group, verdict_keys[v], NULL);
		if (!list)
			continue;
		char *why = NULL;
		int rc = bw_milter_parse_actions(list, &actions[v], &why);
		g_free(list);
		if (rc < 0) {
			bw_buf_printf(err, "[%s] %s: %s", group, verdict_keys[v], why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* A key with one of two values: *dst becomes 0 for first, 1 for second. */
static int read_choice(GKeyFile *kf, const char *group, const char *key, const char *first,
		       const char *second, int *dst, bw_buf *err)
{
	char *v = NULL;
	if (read_string(kf, group, key, &v, false, err) < 0)
		return -1;
	int rc = 0;
	if (v && strcmp(v, first) != 0 && strcmp(v, second) != 0) {
		bw_buf_printf(err, "[%s] %s must be %s or %s", group, key, first, second);
		rc = -1;
	} else if (v) {
		*dst = strcmp(v, second) == 0;
	}
	free(v);
	return rc;
}

static int read_milter_section(GKeyFile *kf, bw_milter_config *c, bw_buf *err)
{
	guint64 workers = c->workers, timeout = c->timeout_ms, max = c->max_message_bytes;
	guint64 dns_timeout = c->dns_timeout_ms;
	int tempfail = c->failsafe_tempfail, auth = c->auth;
	int rc = read_string(kf, "milter", "socket", &c->socket, false, err) == 0 &&
		 read_number(kf, "milter", "workers", 1, 256, &workers, err) == 0 &&
		 read_number(kf, "milter", "timeout_ms", 10, 3600000, &timeout, err) == 0 &&
		 read_number(kf, "milter", "max_message_bytes", 1024, (guint64)1 << 32, &max, err) == 0 &&
		 read_string(kf, "milter", "authserv_id", &c->authserv_id, false, err) == 0 &&
		 read_string(kf, "milter", "metrics", &c->metrics, true, err) == 0 &&
		 read_string(kf, "milter", "user", &c->user, true, err) == 0 &&
		 read_choice(kf, "milter", "default_action", "accept", "tempfail", &tempfail, err) == 0 &&
		 read_choice(kf, "milter", "log", "syslog", "stderr", &c->log_stderr, err) == 0 &&
		 read_choice(kf, "milter", "auth", "off", "on", &auth, err) == 0 &&
		 read_string(kf, "milter", "resolver", &c->resolver, true, err) == 0 &&
		 read_number(kf, "milter", "dns_timeout_ms", 100, 60000, &dns_timeout, err) == 0
		 ? 0 : -1;
	c->workers = (unsigned)workers;
	c->timeout_ms = (unsigned)timeout;
	c->max_message_bytes = (size_t)max;
	c->dns_timeout_ms = (unsigned)dns_timeout;
	c->failsafe_tempfail = tempfail;
	c->auth = auth;
	return rc;
}

static int read_groups(GKeyFile *kf, bw_milter_config *c, bw_buf *err)
{
	gchar **groups = g_key_file_get_groups(kf, NULL);
	int rc = 0;
	for (gchar **g = groups; *g && rc == 0; g++) {
		if (strncmp(*g, "group:", 6) != 0)
			continue;
		void *p = c->groups;
		size_t cap = c->ngroups;
		bw_grow(&p, &cap, c->ngroups + 1, sizeof *c->groups);
		c->groups = p;
		bw_milter_group *grp = &c->groups[c->ngroups++];
		memset(grp, 0, sizeof *grp);
		grp->name = bw_xstrdup(*g + 6);
		memcpy(grp->actions, c->actions, sizeof grp->actions);
		char *list = g_key_file_get_string(kf, *g, "recipients", NULL);
		char **items = g_strsplit_set(list ? list : "", ",;", -1);
		for (char **it = items; *it; it++) {
			char *t = g_strstrip(*it);
			bw_ascii_lower(t);
			if (*t && !bw_strvec_contains(&grp->recipients, t))
				bw_strvec_push(&grp->recipients, t);
		}
		g_strfreev(items);
		g_free(list);
		if (!grp->recipients.n) {
			bw_buf_printf(err, "[%s] needs recipients (addresses or domains)", *g);
			rc = -1;
		} else {
			rc = read_verdict_actions(kf, *g, grp->actions, err);
		}
	}
	g_strfreev(groups);
	return rc;
}

int bw_milter_config_load(bw_milter_config *c, const char *path, char **error)
{
	GKeyFile *kf = g_key_file_new();
	GError *gerr = NULL;
	bw_buf err = {0};
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &gerr)) {
		bw_buf_puts(&err, gerr->message);
		g_error_free(gerr);
	} else if (read_milter_section(kf, c, &err) == 0 &&
		   read_verdict_actions(kf, "actions", c->actions, &err) == 0 &&
		   read_string(kf, "actions", "reject_text", &c->reject_text, false, &err) == 0 &&
		   read_string(kf, "actions", "subject_tag", &c->subject_tag, false, &err) == 0) {
		/* [group:*] inherit [actions], so they are read after it. */
		read_groups(kf, c, &err);
	}
	g_key_file_free(kf);
	if (!err.len)
		return 0;
	bw_buf msg = {0};
	bw_buf_printf(&msg, "%s: %s", path, err.data);
	bw_buf_free(&err);
	*error = bw_buf_steal(&msg);
	return -1;
}

/* "<Jane@Example.org>" -> "jane@example.org" */
static char *bare_address(const char *rcpt)
{
	while (*rcpt == ' ' || *rcpt == '<')
		rcpt++;
	size_t n = strcspn(rcpt, ">");
	char *a = bw_xstrndup(rcpt, n);
	bw_ascii_lower(a);
	return a;
}

/* An entry with '@' is one address; otherwise a domain and its subdomains. */
static bool group_has(const bw_milter_group *g, const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *domain = at ? at + 1 : addr;
	size_t dlen = strlen(domain);
	for (size_t i = 0; i < g->recipients.n; i++) {
		const char *e = g->recipients.v[i];
		if (strchr(e, '@')) {
			if (strcmp(e, addr) == 0)
				return true;
			continue;
		}
		size_t elen = strlen(e);
		if (dlen == elen ? strcmp(domain, e) == 0
				 : dlen > elen && domain[dlen - elen - 1] == '.' && strcmp(domain + dlen - elen, e) == 0)
			return true;
	}
	return false;
}

static unsigned actions_for(const bw_milter_config *c, unsigned verdict_mask, char *const *rcpts, size_t n)
{
	unsigned bits = 0;
	bool ungrouped = n == 0;
	for (size_t r = 0; r < n; r++) {
		char *addr = bare_address(rcpts[r]);
		bool grouped = false;
		for (size_t g = 0; g < c->ngroups; g++) {
			if (!group_has(&c->groups[g], addr))
				continue;
			grouped = true;
			for (int v = 0; v < BW_NVERDICTS; v++)
				if (verdict_mask & (1u << v))
					bits |= c->groups[g].actions[v];
		}
		ungrouped |= !grouped;
		free(addr);
	}
	if (ungrouped)
		for (int v = 0; v < BW_NVERDICTS; v++)
			if (verdict_mask & (1u << v))
				bits |= c->actions[v];
	return bits;
}

unsigned bw_milter_actions(const bw_milter_config *c, bw_verdict v, char *const *rcpts, size_t n)
{
	return actions_for(c, 1u << v, rcpts, n);
}

unsigned bw_milter_actions_any(const bw_milter_config *c, char *const *rcpts, size_t n)
{
	return actions_for(c, (1u << BW_NVERDICTS) - 1, rcpts, n);
}

bool bw_milter_claims_authserv(const char *value, const char *authserv_id)
{
	while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
		value++;
	size_t n = strlen(authserv_id);
	if (g_ascii_strncasecmp(value, authserv_id, n) != 0)
		return false;
	char next = value[n];
	return next == '\0' || next == ';' || next == ' ' || next == '\t' || next == '\r' || next == '\n' ||
	       next == '(';
}

char *bw_milter_crlf(const char *s, size_t len, size_t *out_len)
{
	bw_buf b = {0};
	bw_buf_reserve(&b, len + len / 32 + 2);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\r') {
			bw_buf_append(&b, "\r\n", 2);
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		} else if (s[i] == '\n') {
			bw_buf_append(&b, "\r\n", 2);
		} else {
			bw_buf_putc(&b, s[i]);
		}
	}
	*out_len = b.len;
	return bw_buf_steal(&b);
}

static void add_edit(bw_milter_plan *p, bw_edit_op op, const char *name, int index, char *value)
{
	void *v = p->edits;
	bw_grow(&v, &p->capedits, p->nedits + 1, sizeof *p->edits);
	p->edits = v;
	p->edits[p->nedits++] = (bw_milter_edit){op, bw_xstrdup(name), index, value};
}

static char *with_space(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *with_space(const char *fmt, ...)
{
	bw_buf b = {0};
	bw_buf_putc(&b, ' ');
	va_list ap;
	va_start(ap, fmt);
	bw_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return bw_buf_steal(&b);
}

static void delete_all(const bw_milter_message *m, const char *name, const char *authserv_id,
		       bw_milter_plan *plan)
{
	int count = 0;
	int *claim = bw_xcalloc(m->nheaders + 1, sizeof *claim);
	for (size_t i = 0; i < m->nheaders; i++)
		if (g_ascii_strcasecmp(m->headers[i].name, name) == 0) {
			count++;
			claim[count] = !authserv_id || bw_milter_claims_authserv(m->headers[i].value, authserv_id);
		}
	for (int k = count; k >= 1; k--)
		if (claim[k])
			add_edit(plan, BW_EDIT_CHANGE, name, k, NULL);
	free(claim);
}

static const char *const own_headers[] = {"X-Bulwark-Verdict", "X-Bulwark-Score", "X-Bulwark-Findings",
					  "X-Bulwark-Sanitized"};

void bw_milter_plan_strip(const bw_milter_config *c, const bw_milter_message *m, bw_milter_plan *plan)
{
	delete_all(m, "Authentication-Results", c->authserv_id, plan);
	for (size_t i = 0; i < G_N_ELEMENTS(own_headers); i++)
		delete_all(m, own_headers[i], NULL, plan);
}

/* Unfolded and trimmed: "a;\r\n\tb" -> "a;\tb". */
static char *unfold(const char *v, size_t len)
{
	bw_buf b = {0};
	for (size_t i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			bw_buf_putc(&b, v[i]);
	char *s = bw_buf_steal(&b);
	char *t = bw_xstrdup(g_strstrip(s));
	free(s);
	return t;
}

static const bw_header *find_header(const bw_header *h, size_t n, const char *name, int *count)
{
	const bw_header *first = NULL;
	*count = 0;
	for (size_t i = 0; i < n; i++)
		if (g_ascii_strcasecmp(h[i].name, name) == 0) {
			if (!first)
				first = &h[i];
			(*count)++;
		}
	return first;
}

/* The top-level header block of a whole message, unfolded, and where its
 * body starts. */
static size_t split_headers(const char *msg, size_t len, bw_header **out, size_t *nout)
{
	bw_header *h = NULL;
	size_t n = 0, cap = 0, pos = 0;
	while (pos < len) {
		const char *nl = memchr(msg + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - msg) + 1 : len;
		size_t line_len = end - pos;
		if (line_len == 1 || (line_len == 2 && msg[pos] == '\r')) {
			pos = end;
			break;
		}
		/* The header runs on while the next line starts with white space. */
		while (end < len && (msg[end] == ' ' || msg[end] == '\t')) {
			nl = memchr(msg + end, '\n', len - end);
			end = nl ? (size_t)(nl - msg) + 1 : len;
		}
		const char *colon = memchr(msg + pos, ':', end - pos);
		if (colon) {
			void *p = h;
			bw_grow(&p, &cap, n + 1, sizeof *h);
			h = p;
			h[n].name = bw_xstrndup(msg + pos, (size_t)(colon - msg) - pos);
			h[n].value = unfold(colon + 1, end - (size_t)(colon + 1 - msg));
			n++;
		}
		pos = end;
	}
	*out = h;
	*nout = n;
	return pos;
}

static const char *const mime_headers[] = {"MIME-Version", "Content-Type", "Content-Transfer-Encoding"};

/* The sanitizer rewrites parts in place, so the top-level header block
 * changes only in the MIME headers that describe the new body (a single
 * HTML part re-encoded as quoted-printable, a part replaced by a note):
 * those follow the new message, and the rest stay as the MTA has them. */
static void plan_sanitized(const bw_milter_message *m, const bw_milter_scan *s, bw_milter_plan *plan)
{
	bw_header *sh;
	size_t nsh;
	size_t body_at = split_headers(s->sanitized, s->sanitized_len, &sh, &nsh);
	size_t body_len;
	char *body = bw_milter_crlf(s->sanitized + body_at, s->sanitized_len - body_at, &body_len);
	if (body_len != m->body_len || memcmp(body, m->body, body_len) != 0) {
		plan->body = body;
		plan->body_len = body_len;
		body = NULL;
		for (size_t i = 0; i < G_N_ELEMENTS(mime_headers); i++) {
			int norig, nnew;
			const bw_header *o = find_header(m->headers, m->nheaders, mime_headers[i], &norig);
			const bw_header *n = find_header(sh, nsh, mime_headers[i], &nnew);
			char *ov = o ? unfold(o->value, strlen(o->value)) : NULL;
			bool same = n && ov && strcmp(ov, n->value) == 0;
			free(ov);
			if (same)
				continue;
			for (int k = norig; k >= (n ? 2 : 1); k--)
				add_edit(plan, BW_EDIT_CHANGE, mime_headers[i], k, NULL);
			if (n)
				add_edit(plan, norig ? BW_EDIT_CHANGE : BW_EDIT_ADD, mime_headers[i], 1,
					 with_space("%s", n->value));
		}
	}
	int count;
	const bw_header *note = find_header(sh, nsh, "X-Bulwark-Sanitized", &count);
	if (note)
		add_edit(plan, BW_EDIT_ADD, "X-Bulwark-Sanitized", 0, with_space("%s", note->value));
	for (size_t i = 0; i < nsh; i++) {
		free(sh[i].name);
		free(sh[i].value);
	}
	free(sh);
	free(body);
}

/* Finding ids come from our own detectors, but the header is built only of
 * the characters ids use and kept well inside the 998-byte line limit. */
static char *findings_value(const char *findings)
{
	bw_buf b = {0};
	bw_buf_putc(&b, ' ');
	size_t last_comma = 1;
	for (const char *f = findings ? findings : ""; *f && b.len < 900; f++) {
		if (*f == ',') {
			last_comma = b.len;
			bw_buf_puts(&b, ", ");
		} else if (g_ascii_isalnum(*f) || *f == '_' || *f == '-') {
			bw_buf_putc(&b, *f);
		}
	}
	if (b.len >= 900) {
		b.len = last_comma;
		b.data[b.len] = '\0';
	}
	if (b.len == 1)
		bw_buf_puts(&b, "none");
	return bw_buf_steal(&b);
}

static void plan_subject(const bw_milter_config *c, const bw_milter_message *m, bw_milter_plan *plan)
{
	int count;
	const bw_header *subj = find_header(m->headers, m->nheaders, "Subject", &count);
	char *old = subj ? unfold(subj->value, strlen(subj->value)) : bw_xstrdup("");
	if (strncmp(old, c->subject_tag, strlen(c->subject_tag)) != 0) {
		char *v = *old ? with_space("%s %s", c->subject_tag, old) : with_space("%s", c->subject_tag);
		add_edit(plan, subj ? BW_EDIT_CHANGE : BW_EDIT_ADD, "Subject", 1, v);
	}
	free(old);
}

void bw_milter_plan_actions(const bw_milter_config *c, const bw_milter_message *m,
			    const bw_milter_scan *s, unsigned actions, bw_milter_plan *plan)
{
	plan->actions = actions;
	if (actions & BW_ACT_REJECT) {
		plan->reject = true;
		return;
	}
	plan->quarantine = (actions & BW_ACT_QUARANTINE) != 0;
	if (actions & BW_ACT_TAG_SUBJECT)
		plan_subject(c, m, plan);
	if ((actions & BW_ACT_SANITIZE) && s->sanitized)
		plan_sanitized(m, s, plan);
	if (actions & BW_ACT_HEADERS) {
		if (s->auth_results)
			add_edit(plan, BW_EDIT_INSERT, "Authentication-Results", 0,
				 with_space("%s", s->auth_results));
		add_edit(plan, BW_EDIT_ADD, "X-Bulwark-Verdict", 0, with_space("%s", bw_verdict_name(s->verdict)));
		add_edit(plan, BW_EDIT_ADD, "X-Bulwark-Score", 0, with_space("%.2f", s->score));
		add_edit(plan, BW_EDIT_ADD, "X-Bulwark-Findings", 0, findings_value(s->findings));
	}
}

void bw_milter_plan_free(bw_milter_plan *plan)
{
	for (size_t i = 0; i < plan->nedits; i++) {
		free(plan->edits[i].name);
		free(plan->edits[i].value);
	}
	free(plan->edits);
	free(plan->body);
	memset(plan, 0, sizeof *plan);
}
