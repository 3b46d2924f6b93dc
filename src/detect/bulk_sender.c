/* BULK_SENDER_POSING_AS_TRUSTED, the APT31 pattern: mail that came through
 * a bulk-mail or ESP platform (fingerprints in data/esp-fingerprints.conf)
 * while its From claims a protected outlet, organisation or person -- by
 * address or display name -- and none of the domains that authenticated it
 * belongs to them. A real outlet's newsletter sent through an ESP is signed
 * with the outlet's own domain (that is how it passes DMARC) and stays quiet.
 *
 * The authenticated domains are those of dkim=pass and spf=pass in the
 * trusted Authentication-Results; without any, the DKIM-Signature d= and
 * Return-Path domains stand in (claimed, not verified, and said so in the
 * evidence). Score 4, high: with the DISPLAY_NAME_IMPERSONATION it usually
 * comes with, the message is suspicious on its own. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

typedef struct bw_esp {
	char *name;
	bool generic;        /* [bulk:*]: markers that need a second one */
	bw_strvec headers;   /* lower-case; trailing '*' is a prefix match */
	bw_strvec domains;   /* registrable domains, lower-case */
	bw_strvec mailers;   /* X-Mailer substrings */
	char *source;
} bw_esp;

struct bw_esp_db {
	bw_esp *v;
	size_t n, cap;
};

#define MAX_HITS 16

void bw_esp_db_free(bw_esp_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++) {
		free(db->v[i].name);
		free(db->v[i].source);
		bw_strvec_free(&db->v[i].headers);
		bw_strvec_free(&db->v[i].domains);
		bw_strvec_free(&db->v[i].mailers);
	}
	free(db->v);
	free(db);
}

static void read_items(GKeyFile *kf, const char *group, const char *key, bw_strvec *out)
{
	char *v = g_key_file_get_string(kf, group, key, NULL);
	char **items = v ? g_strsplit(v, ";", -1) : NULL;
	for (char **it = items; it && *it; it++) {
		char *t = g_strstrip(*it);
		if (*t) {
			bw_ascii_lower(t);
			bw_strvec_push(out, t);
		}
	}
	g_strfreev(items);
	g_free(v);
}

bw_esp_db *bw_esp_db_load(const char *path, char **error)
{
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
		bw_buf b = {0};
		bw_buf_printf(&b, "%s: %s", path, err->message);
		*error = bw_buf_steal(&b);
		g_error_free(err);
		g_key_file_free(kf);
		return NULL;
	}
	bw_esp_db *db = bw_xcalloc(1, sizeof *db);
	gsize ng = 0;
	char **groups = g_key_file_get_groups(kf, &ng);
	for (gsize i = 0; i < ng; i++) {
		bool generic = strncmp(groups[i], "bulk:", 5) == 0;
		if (!generic && strncmp(groups[i], "esp:", 4) != 0)
			continue;
		bw_grow((void **)&db->v, &db->cap, db->n + 1, sizeof *db->v);
		bw_esp *x = &db->v[db->n++];
		memset(x, 0, sizeof *x);
		x->name = bw_xstrdup(groups[i] + (generic ? 5 : 4));
		x->generic = generic;
		read_items(kf, groups[i], "headers", &x->headers);
		read_items(kf, groups[i], "domains", &x->domains);
		read_items(kf, groups[i], "mailers", &x->mailers);
		char *src = g_key_file_get_string(kf, groups[i], "source", NULL);
		x->source = src ? bw_xstrdup(src) : NULL;
		g_free(src);
	}
	g_strfreev(groups);
	g_key_file_free(kf);
	return db;
}

static bool header_name_matches(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern);
	if (pl && pattern[pl - 1] == '*')
		return g_ascii_strncasecmp(pattern, name, pl - 1) == 0;
	return bw_ascii_iequal(pattern, name);
}

/* host is domain or under it. */
static bool under(const char *host, const char *domain)
{
	size_t hl = strlen(host), dl = strlen(domain);
	return hl >= dl && g_ascii_strcasecmp(host + hl - dl, domain) == 0 && (hl == dl || host[hl - dl - 1] == '.');
}

typedef struct hit {
	const bw_esp *esp;
	const char *where;  /* "header", "x-mailer", "dkim-signature", ... */
	char *what;         /* the header name or domain that matched */
} hit;

typedef struct hits {
	hit v[MAX_HITS];
	size_t n;
} hits;

static void add_hit(hits *h, const bw_esp *esp, const char *where, const char *what)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].esp == esp && strcmp(h->v[i].what, what) == 0)
			return;
	if (h->n < MAX_HITS)
		h->v[h->n++] = (hit){esp, where, bw_xstrdup(what)};
}

static void match_domain(hits *h, const bw_esp_db *db, const char *where, const char *domain)
{
	for (size_t i = 0; domain && i < db->n; i++)
		for (size_t j = 0; j < db->v[i].domains.n; j++)
			if (under(domain, db->v[i].domains.v[j]))
				add_hit(h, &db->v[i], where, domain);
}

/* The hosts of a List-Unsubscribe value: <mailto:x@host>, <https://host/...>. */
static void match_unsubscribe(hits *h, const bw_esp_db *db, const char *value)
{
	for (const char *p = value; (p = strchr(p, '<')) != NULL;) {
		const char *end = strchr(++p, '>');
		if (!end)
			break;
		char *uri = bw_xstrndup(p, (size_t)(end - p));
		char *host = NULL;
		if (bw_ascii_istartswith(uri, "mailto:")) {
			char *q = strchr(uri, '?');
			if (q)
				*q = '\0';
			host = bw_mail_domain(uri + 7);
		} else {
			bw_url u;
			if (bw_url_parse(uri, strlen(uri), NULL, &u) == 0) {
				if (u.host && u.host_type == BW_HOST_DOMAIN)
					host = bw_xstrdup(u.host);
				bw_url_free(&u);
			}
		}
		match_domain(h, db, "list-unsubscribe", host);
		free(host);
		free(uri);
		p = end;
	}
}

static void fingerprint(hits *h, const bw_message *m, const bw_esp_db *db, const bw_strvec *auth_domains)
{
	for (size_t k = 0; k < m->nheaders; k++) {
		const bw_header *hd = &m->headers[k];
		for (size_t i = 0; i < db->n; i++) {
			for (size_t j = 0; j < db->v[i].headers.n; j++)
				if (header_name_matches(db->v[i].headers.v[j], hd->name))
					add_hit(h, &db->v[i], "header", hd->name);
			if (bw_ascii_iequal(hd->name, "X-Mailer"))
				for (size_t j = 0; j < db->v[i].mailers.n; j++)
					if (bw_ascii_strcasestr(hd->value, db->v[i].mailers.v[j]))
						add_hit(h, &db->v[i], "x-mailer", hd->value);
		}
		if (bw_ascii_iequal(hd->name, "List-Unsubscribe"))
			match_unsubscribe(h, db, hd->value);
	}
	for (size_t i = 0; i < m->dkim_signers.n; i++)
		match_domain(h, db, "dkim-signature", m->dkim_signers.v[i]);
	char *rp = bw_mail_domain(m->return_path);
	match_domain(h, db, "return-path", rp);
	free(rp);
	for (size_t i = 0; i < auth_domains->n; i++)
		match_domain(h, db, "authenticated", auth_domains->v[i]);
}

/* Whether the platform evidence is enough: one named platform, or two
 * different generic markers. */
static bool is_bulk(const hits *h)
{
	size_t generic = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (!h->v[i].esp->generic)
			return true;
		generic++;
	}
	return generic >= 2;
}

/* The domains that vouch for the message, and whether they were verified. */
static bool authenticated_domains(const bw_message *m, bw_strvec *out)
{
	for (size_t i = 0; i < m->nauth; i++) {
		const bw_authres *r = &m->auth[i];
		if ((strcmp(r->method, "dkim") == 0 || strcmp(r->method, "spf") == 0) && strcmp(r->result, "pass") == 0 &&
		    r->domain && !bw_strvec_contains(out, r->domain))
			bw_strvec_push(out, r->domain);
	}
	if (m->nauth)
		return true;
	for (size_t i = 0; i < m->dkim_signers.n; i++)
		if (!bw_strvec_contains(out, m->dkim_signers.v[i]))
			bw_strvec_push(out, m->dkim_signers.v[i]);
	char *rp = bw_mail_domain(m->return_path);
	if (rp && !bw_strvec_contains(out, rp))
		bw_strvec_push(out, rp);
	free(rp);
	return false;
}

/* One of the identity's own domains (or the domain of one of its addresses)
 * vouches for the message: the same registrable domain, as DMARC's relaxed
 * alignment has it. */
static bool identity_aligned(const bw_identity *id, const bw_strvec *domains)
{
	for (size_t i = 0; i < domains->n; i++) {
		bw_buf addr = {0};
		bw_buf_printf(&addr, "x@%s", domains->v[i]);
		bool own = bw_identity_owns_address(id, addr.data);
		bw_buf_free(&addr);
		char *reg = bw_registrable_domain(domains->v[i]);
		for (size_t j = 0; reg && !own && j < id->domains.n; j++)
			own = under(id->domains.v[j], reg);
		for (size_t j = 0; reg && !own && j < id->addresses.n; j++) {
			char *d = bw_mail_domain(id->addresses.v[j]);
			own = d && under(d, reg);
			free(d);
		}
		free(reg);
		if (own)
			return true;
	}
	return false;
}

static void report(bw_message *m, const bw_identity *id, const char *how, const char *matched, const hits *h,
		   const bw_strvec *auth, bool verified)
{
	const char *platform = NULL;
	for (size_t i = 0; i < h->n && !platform; i++)
		if (!h->v[i].esp->generic)
			platform = h->v[i].esp->name;
	bw_buf s = {0}, ev = {0};
	bw_buf_printf(&s, "Sent through %s while the From claims %s, whose domains did not authenticate it",
		      platform ? platform : "a bulk-mail platform", id->name);
	bw_finding *f = bw_message_add_finding(m, "BULK_SENDER_POSING_AS_TRUSTED", BW_SEV_HIGH, 4, s.data);
	bw_strvec_push(&f->attack, "T1656");
	bw_strvec_push(&f->attack, "T1566");
	bw_strvec_push(&f->attack, "T1585.002");
	if (strcmp(how, "from-address") == 0)
		bw_strvec_push(&f->attack, "T1672");
	bw_buf_putc(&ev, '{');
	bw_json_member(&ev, "identity", id->name, true);
	bw_json_member(&ev, "claimed_by", how, false);
	bw_json_member(&ev, "matched", matched, false);
	bw_json_member(&ev, "from", m->from.address, false);
	bw_json_member(&ev, "display_name", m->from.name, false);
	bw_buf_puts(&ev, ",\"identity_domains\":[");
	for (size_t i = 0; i < id->domains.n; i++) {
		if (i)
			bw_buf_putc(&ev, ',');
		bw_json_string(&ev, id->domains.v[i]);
	}
	bw_buf_puts(&ev, "],\"authenticated_domains\":[");
	for (size_t i = 0; i < auth->n; i++) {
		if (i)
			bw_buf_putc(&ev, ',');
		bw_json_string(&ev, auth->v[i]);
	}
	bw_buf_printf(&ev, "],\"verified\":%s,\"platform\":", verified ? "true" : "false");
	bw_json_string(&ev, platform);
	bw_buf_puts(&ev, ",\"fingerprints\":[");
	for (size_t i = 0; i < h->n; i++) {
		bw_buf_puts(&ev, i ? ",{" : "{");
		bw_json_member(&ev, "platform", h->v[i].esp->name, true);
		bw_json_member(&ev, "where", h->v[i].where, false);
		bw_json_member(&ev, "value", h->v[i].what, false);
		bw_json_member(&ev, "source", h->v[i].esp->source, false);
		bw_buf_putc(&ev, '}');
	}
	bw_buf_puts(&ev, "]}");
	f->evidence_json = bw_buf_steal(&ev);
	bw_buf_free(&s);
}

void bw_detect_bulk_sender(bw_message *m, const bw_engine *e)
{
	const bw_protected *p = e->protected_ids;
	if (!p || !e->esps || !m->from.address)
		return;
	/* who the From claims to be */
	char *fd = bw_mail_domain(m->from.address);
	const char *how = "from-address", *matched = fd;
	const bw_identity *id = fd ? bw_protected_owner(p, fd) : NULL;
	if (!id) {
		id = bw_protected_name_in(p, m->from.name, &matched);
		how = "display-name";
		if (id && bw_protected_name_owned(p, matched, bw_identity_owns_address, m->from.address))
			id = NULL;
	}
	if (id) {
		bw_strvec auth = {0};
		bool verified = authenticated_domains(m, &auth);
		hits h = {.n = 0};
		fingerprint(&h, m, e->esps, &auth);
		if (is_bulk(&h) && !identity_aligned(id, &auth))
			report(m, id, how, matched, &h, &auth, verified);
		for (size_t i = 0; i < h.n; i++)
			free(h.v[i].what);
		bw_strvec_free(&auth);
	}
	free(fd);
}
