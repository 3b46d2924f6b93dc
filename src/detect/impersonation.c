/* Who is really writing: display names borrowing a protected person's,
 * organisation's or news outlet's name, sender domains that look like a
 * protected domain, and Reply-To / Return-Path pointing somewhere else.
 *
 * Scores (suspicious at 5, malicious at 10 by default):
 *   DISPLAY_NAME_IMPERSONATION  4 (outlet, organisation), 3 (person: people
 *                               also write from private mailboxes)
 *   LOOKALIKE_DOMAIN            4 homoglyph/skeleton, 3 typo, swapped TLD,
 *                               added word, domain as subdomain; 2 weaker
 *   DISPLAY_NAME_ADDRESS        2 (an address in the name that is not the sender's)
 *   REPLY_TO_DIVERGES           2 when the From claims a protected identity, else 0
 *   ENVELOPE_FROM_DIVERGES      0 (informational: normal for mailing services)
 *   FROM_ADDRESS_MISSING        2 (the From shows a name and no address: a
 *                               reader sees only the name, replies go to
 *                               the Reply-To; no mail system sends that)
 * So an outlet's name over a lookalike domain (4 + 3) is suspicious on its
 * own, and with the tracking such mail carries (pixel 1, known vendor 1,
 * recipient token 2) or a diverging Reply-To (2) it reaches malicious, while
 * ordinary mail (no protected name, no lookalike) scores 0. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

#define ATTACK_IMPERSONATION "T1656"

static const char *kind_name(bw_identity_kind k)
{
	switch (k) {
	case BW_IDENT_INSTITUTION: return "institution";
	case BW_IDENT_PERSON: return "person";
	case BW_IDENT_ORG: return "organisation";
	case BW_IDENT_OUTLET: return "news-outlet";
	}
	return "unknown";
}

/* The phishing vehicle: attachment (T1566.001), link (T1566.002), or
 * neither yet (T1566). */
static void push_phishing(bw_finding *f, const bw_message *m)
{
	bool att = false;
	for (size_t i = 0; i < m->nparts; i++)
		att |= m->parts[i].kind == BW_PART_ATTACHMENT;
	if (att)
		bw_strvec_push(&f->attack, "T1566.001");
	if (m->nlinks)
		bw_strvec_push(&f->attack, "T1566.002");
	if (!att && !m->nlinks)
		bw_strvec_push(&f->attack, "T1566");
}

static char *addr_domain(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;
	if (!at || !at[1])
		return NULL;
	char *d = bw_xstrdup(at + 1);
	size_t n = strlen(d);
	while (n && (d[n - 1] == '>' || d[n - 1] == '.' || d[n - 1] == ' '))
		d[--n] = '\0';
	bw_ascii_lower(d);
	return d;
}

bool bw_identity_owns_address(const bw_identity *id, const char *addr)
{
	if (!addr)
		return false;
	char *low = bw_xstrdup(addr);
	bw_ascii_lower(low);
	bool own = bw_strvec_contains(&id->addresses, low);
	char *dom = addr_domain(low);
	for (size_t i = 0; dom && !own && i < id->domains.n; i++) {
		size_t hl = strlen(dom), dl = strlen(id->domains.v[i]);
		own = hl >= dl && strcmp(dom + hl - dl, id->domains.v[i]) == 0 &&
		      (hl == dl || dom[hl - dl - 1] == '.');
	}
	free(dom);
	free(low);
	return own;
}

static void json_kv(bw_buf *b, const char *k, const char *v, bool comma)
{
	if (comma)
		bw_buf_putc(b, ',');
	bw_json_string(b, k);
	bw_buf_putc(b, ':');
	bw_json_string(b, v);
}

/* "Bloomberg Philanthropies", "Al Jazeera Restaurant", "Washington Post
 * Office": an outlet's name followed by a word naming another kind of
 * organisation is more often that organisation (or a namesake) than the
 * outlet. Returns the word, or NULL. Kept short: each word is one an outlet
 * does not call itself by. */
static const char *org_word_after(const char *display_key, const char *name_key)
{
	static const char *const words[] = {"philanthropies", "philanthropy", "foundation", "restaurant",
					    "cafe", "office", "pharmacy", "hotel", "school", "university",
					    "hospital", "clinic", "church"};
	size_t kl = strlen(name_key);
	for (const char *h = strstr(display_key, name_key); h; h = strstr(h + 1, name_key)) {
		if ((h != display_key && h[-1] != ' ') || h[kl] != ' ')
			continue;
		const char *w = h + kl + 1;
		size_t wl = strcspn(w, " ");
		for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
			if (wl == strlen(words[i]) && strncmp(w, words[i], wl) == 0)
				return words[i];
	}
	return NULL;
}

/* Returns the identity claimed by the display name, or NULL. */
static const bw_identity *display_name(bw_message *m, const bw_protected *p)
{
	const char *matched = NULL;
	const bw_identity *id = bw_protected_name_in(p, m->from.name, &matched);
	if (!id)
		return NULL;
	if (bw_protected_name_owned(p, matched, bw_identity_owns_address, m->from.address))
		return NULL;
	char *k1 = bw_name_key(p, m->from.name), *k2 = bw_name_key(p, matched);
	const char *org_word = id->kind == BW_IDENT_OUTLET ? org_word_after(k1, k2) : NULL;
	double score = org_word ? 2 : id->kind == BW_IDENT_PERSON ? 3 : 4;
	bw_buf s = {0}, ev = {0};
	bw_buf_printf(&s, "The sender's name \"%s\" is that of %s (%s), but the address %s is not one of theirs",
		      m->from.name, id->name, kind_name(id->kind), m->from.address ? m->from.address : "(none)");
	if (org_word)
		bw_buf_printf(&s, " (followed by \"%s\": perhaps another organisation)", org_word);
	bw_finding *f = bw_message_add_finding(m, "DISPLAY_NAME_IMPERSONATION", org_word ? BW_SEV_MEDIUM : BW_SEV_HIGH,
					       score, s.data);
	bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
	push_phishing(f, m);
	bw_buf_putc(&ev, '{');
	json_kv(&ev, "display_name", m->from.name, false);
	json_kv(&ev, "protected_name", matched, true);
	json_kv(&ev, "display_skeleton", k1, true);
	json_kv(&ev, "protected_skeleton", k2, true);
	json_kv(&ev, "identity", id->name, true);
	json_kv(&ev, "kind", kind_name(id->kind), true);
	json_kv(&ev, "address", m->from.address, true);
	bw_buf_puts(&ev, ",\"own_domains\":[");
	for (size_t i = 0; i < id->domains.n; i++) {
		if (i)
			bw_buf_putc(&ev, ',');
		bw_json_string(&ev, id->domains.v[i]);
	}
	bw_buf_puts(&ev, "],\"distance\":0");
	json_kv(&ev, "source", id->source, true);
	json_kv(&ev, "followed_by_organisation_word", org_word, true);
	bw_buf_putc(&ev, '}');
	f->evidence_json = bw_buf_steal(&ev);
	free(k1);
	free(k2);
	bw_buf_free(&s);
	return id;
}

/* "paypal@paypal.com" <x@evil.example>: an address in the display name that
 * is not the sender's. */
/* The name as it reads: without combining marks and invisible format
 * characters, which phishers sprinkle into a shown address
 * ("service.a\u073Fmaz\u073Fon.com") so that it does not parse as one. */
static char *visible_text(const char *utf8, bool *removed)
{
	bw_buf b = {0};
	*removed = false;
	for (const char *c = utf8; *c; c = g_utf8_next_char(c)) {
		gunichar u = g_utf8_get_char_validated(c, -1);
		if (u == (gunichar)-1 || u == (gunichar)-2)
			break;
		GUnicodeType t = g_unichar_type(u);
		if (t == G_UNICODE_NON_SPACING_MARK || t == G_UNICODE_ENCLOSING_MARK || t == G_UNICODE_FORMAT) {
			*removed = true;
			continue;
		}
		bw_buf_append(&b, c, (size_t)(g_utf8_next_char(c) - c));
	}
	return bw_buf_steal(&b);
}

static void display_address(bw_message *m, const bw_protected *p)
{
	if (!m->from.name || !m->from.address)
		return;
	bool marks_removed;
	char *n = visible_text(m->from.name, &marks_removed);
	const char *at = strchr(n, '@');
	if (!at) {
		free(n);
		return;
	}
	const char *b = at, *e = at + 1;
	while (b > n && (g_ascii_isalnum(b[-1]) || strchr("._%+-'", b[-1])))
		b--;
	while (*e && (g_ascii_isalnum(*e) || *e == '.' || *e == '-'))
		e++;
	while (e > at + 1 && e[-1] == '.')
		e--;
	if (b == at || !memchr(at, '.', (size_t)(e - at))) {
		free(n);
		return;
	}
	char *shown = bw_xstrndup(b, (size_t)(e - b));
	while (*shown == '\'') memmove(shown, shown + 1, strlen(shown));
	if (!bw_ascii_iequal(shown, m->from.address)) {
		char *dom = addr_domain(shown);
		const bw_identity *owner = bw_protected_owner(p, dom);
		bw_buf s = {0}, ev = {0};
		bw_buf_printf(&s, "The sender's name shows the address %s, but the mail is from %s", shown,
			      m->from.address);
		bw_finding *f = bw_message_add_finding(m, "DISPLAY_NAME_ADDRESS", owner ? BW_SEV_HIGH : BW_SEV_MEDIUM,
						       owner ? 3 : 2, s.data);
		bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
		push_phishing(f, m);
		bw_buf_putc(&ev, '{');
		json_kv(&ev, "display_name", m->from.name, false);
		json_kv(&ev, "shown_address", shown, true);
		bw_buf_printf(&ev, ",\"hidden_marks_removed\":%s", marks_removed ? "true" : "false");
		json_kv(&ev, "address", m->from.address, true);
		json_kv(&ev, "protected_owner", owner ? owner->name : NULL, true);
		bw_buf_putc(&ev, '}');
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
		free(dom);
	}
	free(shown);
	free(n);
}

typedef struct place {
	const char *where;
	char *host;
} place;

/* One LOOKALIKE_DOMAIN finding per message, listing every lookalike host and
 * where it appears; its score is the strongest match's. */
static bool lookalikes(bw_message *m, const bw_protected *p, bool *from_lookalike)
{
	place pl[3 + 64];
	size_t n = 0;
	pl[n++] = (place){"from", addr_domain(m->from.address)};
	pl[n++] = (place){"reply-to", addr_domain(m->reply_to.address)};
	pl[n++] = (place){"return-path", addr_domain(m->return_path)};
	for (size_t i = 0; i < m->nlinks && n < sizeof pl / sizeof pl[0]; i++) {
		for (int k = 0; k < 2 && n < sizeof pl / sizeof pl[0]; k++) {
			const char *url = k ? m->links[i].unwrapped : m->links[i].url;
			bw_url u;
			if (!url || bw_url_parse(url, strlen(url), NULL, &u) != 0)
				continue;
			if (u.host && u.host_type == BW_HOST_DOMAIN) {
				bool dup = false;
				for (size_t j = 3; j < n && !dup; j++)
					dup = strcmp(pl[j].host, u.host) == 0;
				if (!dup)
					pl[n++] = (place){"link", bw_xstrdup(u.host)};
			}
			bw_url_free(&u);
		}
	}
	bw_buf items = {0};
	double best = 0;
	size_t count = 0;
	const char *first_host = NULL, *first_prot = NULL, *first_method = NULL;
	for (size_t i = 0; i < n; i++) {
		bw_lookalike l;
		if (!pl[i].host || !bw_lookalike_check(p, pl[i].host, &l))
			continue;
		if (i == 0)
			*from_lookalike = true;
		if (count++ < 10) {
			bw_buf_puts(&items, items.len ? ",{" : "{");
			json_kv(&items, "where", pl[i].where, false);
			json_kv(&items, "host", pl[i].host, true);
			json_kv(&items, "host_unicode", l.host_unicode, true);
			json_kv(&items, "protected", l.protected_domain, true);
			json_kv(&items, "identity", l.owner->name, true);
			json_kv(&items, "method", l.method, true);
			json_kv(&items, "skeleton", l.skeleton, true);
			json_kv(&items, "protected_skeleton", l.protected_skeleton, true);
			bw_buf_printf(&items, ",\"distance\":%d,\"punycode\":%s,\"mixed_script\":%s}", l.distance,
				      l.punycode ? "true" : "false", l.mixed_script ? "true" : "false");
		}
		double s = l.score + ((l.punycode || l.mixed_script) && l.score < 4 ? 1 : 0);
		if (s > best || !first_host) {
			best = s > best ? s : best;
			first_host = pl[i].host;
			first_prot = l.protected_domain;
			first_method = l.method;
		}
		bw_lookalike_free(&l);
	}
	if (count) {
		bw_buf s = {0}, ev = {0};
		bw_buf_printf(&s, "%s looks like the protected domain %s (%s)%s", first_host, first_prot, first_method,
			      count > 1 ? ", and more lookalike hosts" : "");
		bw_finding *f = bw_message_add_finding(m, "LOOKALIKE_DOMAIN", best >= 3 ? BW_SEV_HIGH : BW_SEV_MEDIUM,
						       best, s.data);
		bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
		push_phishing(f, m);
		bw_buf_printf(&ev, "{\"count\":%zu,\"matches\":[%s]}", count, items.data ? items.data : "");
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
	}
	bw_buf_free(&items);
	for (size_t i = 0; i < n; i++)
		free(pl[i].host);
	return count > 0;
}

/* A Reply-To with a domain diverges from a From without one, too: the
 * reply goes somewhere the From never showed. */
static void divergence(bw_message *m, const char *id, const char *what, const char *other_addr, bool claims)
{
	char *fd = addr_domain(m->from.address), *od = addr_domain(other_addr);
	char *fr = fd ? bw_registrable_domain(fd) : NULL, *or = od ? bw_registrable_domain(od) : NULL;
	bool reply = strcmp(id, "REPLY_TO_DIVERGES") == 0;
	if (or && ((fr && strcmp(fr, or) != 0) || (!fr && reply))) {
		double score = reply && claims ? 2 : 0;
		bw_severity sev = reply ? (claims ? BW_SEV_MEDIUM : BW_SEV_LOW) : BW_SEV_INFO;
		bw_buf s = {0}, ev = {0};
		if (fr)
			bw_buf_printf(&s, "%s goes to %s, not to the From domain %s", what, or, fr);
		else
			bw_buf_printf(&s, "%s goes to %s, while the From shows no address", what, or);
		if (reply && claims)
			bw_buf_puts(&s, ", while the From claims a protected identity");
		bw_finding *f = bw_message_add_finding(m, id, sev, score, s.data);
		if (reply && claims)
			bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
		bw_buf_putc(&ev, '{');
		json_kv(&ev, "from", m->from.address, false);
		json_kv(&ev, "from_domain", fr, true);
		json_kv(&ev, reply ? "reply_to" : "return_path", other_addr, true);
		json_kv(&ev, reply ? "reply_to_domain" : "return_path_domain", or, true);
		bw_buf_printf(&ev, ",\"claims_protected_identity\":%s}", claims ? "true" : "false");
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
	}
	free(fd);
	free(od);
	free(fr);
	free(or);
}

/* "Facebook" <>, a bare name, an address without '@', or no From at all */
static void from_address_missing(bw_message *m)
{
	char *dom = addr_domain(m->from.address);
	bool has = dom && strchr(m->from.address, '@') != m->from.address;
	free(dom);
	if (has || !m->nheaders)
		return;
	const char *raw = bw_message_header(m, "From");
	bw_buf s = {0}, ev = {0};
	if (!raw)
		bw_buf_puts(&s, "The message has no From header");
	else if (m->from.name)
		bw_buf_printf(&s, "The From shows the name \"%s\" and no sender address", m->from.name);
	else
		bw_buf_puts(&s, "The From header holds no sender address");
	if (m->reply_to.address)
		bw_buf_printf(&s, "; replies go to %s", m->reply_to.address);
	bw_finding *f = bw_message_add_finding(m, "FROM_ADDRESS_MISSING", BW_SEV_MEDIUM, 2, s.data);
	if (m->from.name)
		bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
	push_phishing(f, m);
	bw_buf_putc(&ev, '{');
	json_kv(&ev, "from_header", raw, false);
	json_kv(&ev, "display_name", m->from.name, true);
	json_kv(&ev, "address", m->from.address, true);
	json_kv(&ev, "reply_to", m->reply_to.address, true);
	bw_buf_putc(&ev, '}');
	f->evidence_json = bw_buf_steal(&ev);
	bw_buf_free(&s);
}

void bw_detect_impersonation(bw_message *m, const bw_engine *e)
{
	from_address_missing(m);
	const bw_protected *p = e->protected_ids;
	bool claims = false;
	if (p) {
		const bw_identity *id = display_name(m, p);
		display_address(m, p);
		bool from_look = false;
		lookalikes(m, p, &from_look);
		char *fd = addr_domain(m->from.address);
		claims = id || from_look || (fd && bw_protected_owner(p, fd));
		free(fd);
	}
	if (m->reply_to.address)
		divergence(m, "REPLY_TO_DIVERGES", "Reply-To", m->reply_to.address, claims);
	if (m->return_path && *m->return_path)
		divergence(m, "ENVELOPE_FROM_DIVERGES", "The envelope sender (Return-Path)", m->return_path, claims);
}
