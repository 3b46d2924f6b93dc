/* What the store keeps of a scanned message for correlation: observables
 * (addresses, domains, URLs, tracker templates, DKIM d=, the first external
 * relay from the parse stage's Received chain, attachment hashes), SimHash fingerprints, recipients, date and a
 * body hash. Reads the parsed message only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/store.h"
#include "bulwark/url.h"

/* Per message, so that one hostile message cannot bloat the store. */
#define MAX_OBSERVABLES 600
#define MAX_RECIPIENTS 200
#define MAX_BODY_TEXT (256u * 1024u)

static void obs_add(bw_observables *o, const char *kind, const char *value)
{
	if (!value || !*value || o->n >= MAX_OBSERVABLES || strlen(value) > 2048)
		return;
	for (size_t i = 0; i < o->n; i++)
		if (o->v[i].kind == kind && strcmp(o->v[i].value, value) == 0)
			return;
	bw_grow((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v);
	o->v[o->n].kind = kind;
	o->v[o->n].value = bw_xstrdup(value);
	o->n++;
}

/* "address" and "domain" observables of one header address. The domain of a
 * Return-Path is its registrable domain: bounce hosts are often per message. */
static void add_address(bw_observables *o, const char *addr, const char *addr_kind,
			const char *domain_kind, bool registrable)
{
	if (!addr)
		return;
	char *a = bw_xstrdup(addr);
	bw_ascii_lower(a);
	const char *at = strrchr(a, '@');
	if (at && at[1]) {
		obs_add(o, addr_kind, a);
		char *reg = registrable ? bw_registrable_domain(at + 1) : NULL;
		obs_add(o, domain_kind, reg ? reg : at + 1);
		free(reg);
	}
	free(a);
}

static void add_url(bw_observables *o, const char *url, const char *url_kind, const char *host_kind,
		    const char *domain_kind)
{
	bw_url u;
	if (!url || bw_url_parse(url, strlen(url), NULL, &u) < 0)
		return;
	if (bw_url_is_remote(&u)) {
		obs_add(o, url_kind, u.href);
		obs_add(o, host_kind, u.host);
		char *reg = bw_registrable_domain(u.host);
		obs_add(o, domain_kind, reg);
		free(reg);
	}
	bw_url_free(&u);
}

static void add_template(bw_observables *o, const char *url)
{
	char *t = bw_url_template(url);
	obs_add(o, "tracker-template", t);
	free(t);
}

/* d= of every DKIM-Signature header (whether it verifies is the
 * authentication stage's business: a signing domain links messages either way). */
static void add_dkim_domains(bw_observables *o, const bw_message *m)
{
	for (size_t i = 0; i < m->nheaders; i++) {
		if (!bw_ascii_iequal(m->headers[i].name, "DKIM-Signature"))
			continue;
		const char *v = m->headers[i].value;
		for (const char *p = v; p && *p;) {
			while (*p == ';' || isspace((unsigned char)*p))
				p++;
			if (p[0] == 'd' && (p[1] == '=' || isspace((unsigned char)p[1]))) {
				const char *eq = strchr(p, '=');
				if (!eq)
					break;
				eq++;
				while (isspace((unsigned char)*eq))
					eq++;
				size_t n = strcspn(eq, "; \t\r\n");
				char *d = bw_xstrndup(eq, n);
				bw_ascii_lower(d);
				obs_add(o, "dkim-domain", d);
				free(d);
				break;
			}
			p = strchr(p, ';');
		}
	}
}

/* The first external relay (bw_received_parse), its name's registrable
 * domain, and its /24 (IPv4) or /48 (IPv6). */
static void add_relay(bw_observables *o, const bw_message *m)
{
	const bw_received_hop *hop = NULL;
	for (size_t i = 0; i < m->nreceived && !hop; i++)
		if (m->received[i].first_external && m->received[i].ip)
			hop = &m->received[i];
	if (!hop)
		return;
	obs_add(o, "relay-ip", hop->ip);
	char *name = hop->from_host ? bw_registrable_domain(hop->from_host) : NULL;
	if (name && strchr(name, '.'))
		obs_add(o, "relay-domain", name);
	free(name);
	unsigned char a[16];
	char net[80], txt[64];
	if (inet_pton(AF_INET, hop->ip, a) == 1) {
		snprintf(net, sizeof net, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		obs_add(o, "relay-net", net);
	} else if (inet_pton(AF_INET6, hop->ip, a) == 1) {
		memset(a + 6, 0, 10);
		if (inet_ntop(AF_INET6, a, txt, sizeof txt)) {
			snprintf(net, sizeof net, "%s/48", txt);
			obs_add(o, "relay-net", net);
		}
	}
}

static void add_recipients(bw_features *f, const bw_message *m)
{
	static const char *const names[] = {"To", "Cc", "Delivered-To", "X-Original-To"};
	if (m->recipient) {
		char *r = bw_xstrdup(m->recipient);
		bw_ascii_lower(r);
		bw_strvec_push_owned(&f->recipients, r);
	}
	for (size_t i = 0; i < m->nheaders && f->recipients.n < MAX_RECIPIENTS; i++) {
		bool wanted = false;
		for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
			wanted |= bw_ascii_iequal(m->headers[i].name, names[k]);
		if (!wanted)
			continue;
		InternetAddressList *list = internet_address_list_parse(NULL, m->headers[i].value);
		if (!list)
			continue;
		int n = internet_address_list_length(list);
		for (int k = 0; k < n && f->recipients.n < MAX_RECIPIENTS; k++) {
			InternetAddress *ia = internet_address_list_get_address(list, k);
			if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
				continue;
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			if (!addr || !strchr(addr, '@'))
				continue;
			char *r = bw_xstrdup(addr);
			bw_ascii_lower(r);
			if (bw_strvec_contains(&f->recipients, r))
				free(r);
			else
				bw_strvec_push_owned(&f->recipients, r);
		}
		g_object_unref(list);
	}
}

/* HTML with tags, scripts and styles dropped: the words a reader sees,
 * roughly, which is all a near-duplicate fingerprint needs. */
static void html_words(bw_buf *out, const char *h, size_t n)
{
	for (size_t i = 0; i < n && out->len < MAX_BODY_TEXT; i++) {
		if (h[i] != '<') {
			bw_buf_putc(out, h[i]);
			continue;
		}
		const char *skip_to = NULL;
		if (bw_ascii_istartswith(h + i, "<script"))
			skip_to = "</script";
		else if (bw_ascii_istartswith(h + i, "<style"))
			skip_to = "</style";
		if (skip_to) {
			const char *e = bw_ascii_strcasestr(h + i, skip_to);
			i = e ? (size_t)(e - h) : n;
		}
		const char *gt = i < n ? memchr(h + i, '>', n - i) : NULL;
		i = gt ? (size_t)(gt - h) : n;
		bw_buf_putc(out, ' ');
	}
}

/* "Re: Fwd: AW: subject" compares as "subject". */
static const char *subject_core(const char *s)
{
	static const char *const prefixes[] = {"re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:", "vs:"};
	for (bool again = true; again;) {
		again = false;
		while (isspace((unsigned char)*s))
			s++;
		for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
			if (bw_ascii_istartswith(s, prefixes[i])) {
				s += strlen(prefixes[i]);
				again = true;
			}
	}
	return s;
}

/* Too few words and unrelated messages collide ("Invoice", "Hello"). */
#define MIN_SUBJECT_WORDS 4
#define MIN_BODY_WORDS 20
#define MIN_HTML_TAGS 20

void bw_features_extract(const bw_message *m, bw_features *f)
{
	memset(f, 0, sizeof *f);
	f->date = -1;
	bw_observables *o = &f->obs;
	add_address(o, m->from.address, "from-address", "from-domain", false);
	add_address(o, m->reply_to.address, "reply-to-address", "reply-to-domain", false);
	add_address(o, m->return_path, "return-path-address", "return-path-domain", true);
	add_dkim_domains(o, m);
	add_relay(o, m);
	if (m->subject && *m->subject)
		obs_add(o, "subject", m->subject);
	for (size_t i = 0; i < m->nresources; i++) {
		add_url(o, m->resources[i].url, "resource-url", "resource-host", "resource-domain");
		if (m->resources[i].tracker)
			add_template(o, m->resources[i].url);
	}
	for (size_t i = 0; i < m->nlinks; i++) {
		add_url(o, m->links[i].url, "link-url", "link-host", "link-domain");
		if (m->links[i].unwrapped)
			add_url(o, m->links[i].unwrapped, "link-url", "link-host", "link-domain");
		if (m->links[i].tracker)
			add_template(o, m->links[i].url);
	}
	GChecksum *body = g_checksum_new(G_CHECKSUM_SHA256);
	bw_buf text = {0};
	bool have_text = false;
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		/* the parse stage hashes attachments only (hashing every text part
		 * would slow every scan): text and HTML are hashed here, when stored */
		char digest[65];
		if (!p->sha256[0])
			bw_sha256_hex(p->data ? p->data : "", p->len, digest);
		g_checksum_update(body, (const guchar *)(p->sha256[0] ? p->sha256 : digest), 64);
		if (p->kind == BW_PART_ATTACHMENT && p->len > 0) {
			obs_add(o, "attachment-sha256", p->sha256);
			char md5[33], sha1[41]; /* what no intel scan left behind */
			if (p->md5[0]) {
				memcpy(md5, p->md5, sizeof md5);
				memcpy(sha1, p->sha1, sizeof sha1);
			} else {
				bw_md5_sha1_hex(p->data ? p->data : "", p->len, md5, sha1);
			}
			obs_add(o, "attachment-sha1", sha1);
			obs_add(o, "attachment-md5", md5);
			if (p->filename) {
				char *fn = bw_xstrdup(p->filename);
				bw_ascii_lower(fn);
				obs_add(o, "attachment-name", fn);
				free(fn);
			}
		} else if (p->kind == BW_PART_TEXT && text.len < MAX_BODY_TEXT) {
			bw_buf_append(&text, p->data, p->len < MAX_BODY_TEXT ? p->len : MAX_BODY_TEXT);
			bw_buf_putc(&text, '\n');
			have_text = true;
		}
	}
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (p->kind != BW_PART_HTML)
			continue;
		if (!have_text)
			html_words(&text, p->data, p->len);
		size_t ntags = 0;
		uint64_t h = bw_simhash_html_tags(p->data, p->len, &ntags);
		if (!f->has_html && ntags >= MIN_HTML_TAGS) {
			f->sim_html = h;
			f->has_html = true;
		}
	}
	snprintf(f->body_hash, sizeof f->body_hash, "%s", g_checksum_get_string(body));
	g_checksum_free(body);
	size_t nwords = 0;
	f->sim_body = bw_simhash_text(text.data ? text.data : "", text.len, &nwords);
	f->has_body = nwords >= MIN_BODY_WORDS;
	f->body_text = bw_buf_steal(&text);
	if (m->subject) {
		const char *core = subject_core(m->subject);
		f->sim_subject = bw_simhash_text(core, strlen(core), &nwords);
		f->has_subject = nwords >= MIN_SUBJECT_WORDS;
	}
	const char *date = bw_message_header(m, "Date");
	GDateTime *dt = date ? g_mime_utils_header_decode_date(date) : NULL;
	if (dt) {
		f->date = g_date_time_to_unix(dt);
		g_date_time_unref(dt);
	}
	add_recipients(f, m);
}

void bw_features_free(bw_features *f)
{
	for (size_t i = 0; i < f->obs.n; i++)
		free(f->obs.v[i].value);
	free(f->obs.v);
	bw_strvec_free(&f->recipients);
	free(f->body_text);
	memset(f, 0, sizeof *f);
}
