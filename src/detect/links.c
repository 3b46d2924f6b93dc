/* Deceptive links: text that shows another site than the link goes to, IP
 * literals, user-info that looks like a host, confusable or punycode hosts,
 * URL shorteners, script/data URIs and obfuscation (invisible or bidi
 * characters, percent-encoded hosts, IPv4 hosts not written as a dotted
 * quad, zero-size text).
 *
 * One finding per kind per message (count and up to 10 examples), so that
 * a long newsletter does not add up. Scores: USERINFO and SCRIPT_OR_DATA_URI
 * 3 (no legitimate mail needs them); TEXT_MISMATCH 2 (3 when the text shows
 * a protected domain; 0.5 when the link goes through a known click tracker
 * or shortener that cannot be unwrapped: ordinary newsletters); IP_LITERAL, CONFUSABLE_HOST
 * (mixed script) and OBFUSCATED 2; punycode alone 1; SHORTENER 0.5. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

#define ATTACK_LINK "T1566.002"
#define ATTACK_RTLO "T1036.002"
#define ATTACK_MASQ "T1036"

enum { MAX_EXAMPLES = 10 };

typedef struct kind {
	const char *id;
	bw_severity sev;
	double score;
	size_t count;
	bw_buf items;
	bool rtlo;
} kind;

static void hit(kind *k, bw_severity sev, double score, const char *json_item)
{
	if (k->count++ == 0 || score > k->score) {
		k->score = score;
		k->sev = sev;
	}
	if (k->count <= MAX_EXAMPLES) {
		if (k->items.len)
			bw_buf_putc(&k->items, ',');
		bw_buf_puts(&k->items, json_item);
	}
}

static void emit(bw_message *m, kind *k, const char *what, const char *attack2)
{
	if (k->count) {
		bw_buf s = {0}, ev = {0};
		bw_buf_printf(&s, "%s (%zu link%s)", what, k->count, k->count == 1 ? "" : "s");
		bw_finding *f = bw_message_add_finding(m, k->id, k->sev, k->score, s.data);
		bw_strvec_push(&f->attack, ATTACK_LINK);
		if (attack2)
			bw_strvec_push(&f->attack, attack2);
		if (k->rtlo)
			bw_strvec_push(&f->attack, ATTACK_RTLO);
		bw_buf_printf(&ev, "{\"count\":%zu,\"links\":[%s]}", k->count, k->items.data ? k->items.data : "");
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
	}
	bw_buf_free(&k->items);
}

static void item(bw_buf *b, const bw_link *l, const char *k1, const char *v1, const char *k2, const char *v2)
{
	bw_buf_puts(b, "{\"url\":");
	bw_json_string(b, l->url);
	bw_buf_puts(b, ",\"text\":");
	bw_json_string(b, l->text);
	if (k1) {
		bw_buf_printf(b, ",\"%s\":", k1);
		bw_json_string(b, v1);
	}
	if (k2) {
		bw_buf_printf(b, ",\"%s\":", k2);
		bw_json_string(b, v2);
	}
	bw_buf_putc(b, '}');
}

static char *reg_of(const char *url, bw_url *keep)
{
	bw_url u;
	if (!url || bw_url_parse(url, strlen(url), NULL, &u) != 0)
		return NULL;
	char *r = u.host && *u.host ? bw_registrable_domain(u.host) : NULL;
	if (keep)
		*keep = u;
	else
		bw_url_free(&u);
	return r;
}

static char *label_of(const char *reg)
{
	const char *dot = reg ? strchr(reg, '.') : NULL;
	return dot ? bw_xstrndup(reg, (size_t)(dot - reg)) : NULL;
}

/* The registrable domain the visible text shows, or NULL. */
static char *text_domain(const bw_link *l)
{
	if (!(l->flags & BW_LINK_TEXT_IS_URL) || !l->text)
		return NULL;
	/* the first word: "www.example.org fonts.html" shows www.example.org */
	size_t n = strcspn(l->text, " \t\r\n");
	bw_buf in = {0};
	if (!memmem(l->text, n, "://", 3))
		bw_buf_puts(&in, "http://");
	bw_buf_append(&in, l->text, n);
	bw_url u;
	char *r = NULL;
	/* "www.examplecom" is no site: its last label is no top-level domain */
	if (bw_url_parse(in.data, in.len, NULL, &u) == 0) {
		if (u.host && *u.host && bw_host_has_known_suffix(u.host))
			r = bw_registrable_domain(u.host);
		bw_url_free(&u);
	}
	bw_buf_free(&in);
	/* a registrable domain needs a dot: "localhost" or a bare word is no site */
	if (r && !strchr(r, '.')) {
		free(r);
		r = NULL;
	}
	return r;
}

/* A suffix brands register their name under as a matter of course: a
 * country code (de, co.uk, com.br) or com, net, org. Phishers register the
 * name under the cheap new ones instead (osmosis.claims for osmosis.zone,
 * t6wer.club shown as t6wer.top). */
static bool established_suffix(const char *reg)
{
	const char *tld = strrchr(reg, '.');
	tld = tld ? tld + 1 : reg;
	return strlen(tld) == 2 || !strcmp(tld, "com") || !strcmp(tld, "net") || !strcmp(tld, "org");
}

static bool same_site(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	if (strcmp(a, b) == 0)
		return true;
	/* brand.co.uk over brand.com: the same label across established suffixes */
	char *la = label_of(a), *lb = label_of(b);
	bool same = la && lb && strcmp(la, lb) == 0 && established_suffix(a) && established_suffix(b);
	free(la);
	free(lb);
	return same;
}

static bool url_has_encoded_invisible(const char *url, bool *rtlo)
{
	const char *zw[] = {"%E2%80%8B", "%E2%80%8C", "%E2%80%8D", "%E2%81%A0", "%EF%BB%BF"};
	const char *bidi[] = {"%E2%80%AE", "%E2%80%AD", "%E2%80%AA", "%E2%80%AB", "%E2%81%A6", "%E2%81%A7"};
	bool any = false;
	/* every needle starts "%E2" or "%EF": most URLs have neither */
	const char *pct = url;
	while ((pct = strchr(pct, '%')) && !((pct[1] | 32) == 'e' && (pct[2] == '2' || (pct[2] | 32) == 'f')))
		pct++;
	if (!pct)
		return false;
	for (size_t i = 0; i < sizeof zw / sizeof zw[0]; i++)
		any |= bw_ascii_strcasestr(url, zw[i]) != NULL;
	for (size_t i = 0; i < sizeof bidi / sizeof bidi[0]; i++)
		if (bw_ascii_strcasestr(url, bidi[i]))
			any = *rtlo = true;
	return any;
}

/* The authority of the raw href as written in the message ("user@host:port"),
 * or false when the link has no span or no "//". */
static bool raw_authority(const bw_message *m, const bw_link *l, const char **auth, size_t *len)
{
	if (l->part >= m->nparts || l->span_end <= l->span_start || l->span_end > m->parts[l->part].len)
		return false;
	const char *raw = m->parts[l->part].data + l->span_start;
	size_t n = l->span_end - l->span_start;
	const char *sep = memmem(raw, n, "//", 2);
	if (!sep)
		return false;
	const char *q = sep + 2;
	while (q < raw + n && *q != '/' && *q != '?' && *q != '#' && *q != '\\')
		q++;
	*auth = sep + 2;
	*len = (size_t)(q - *auth);
	return true;
}

/* A '%' in the raw authority: the host was percent-encoded to hide it. */
static bool raw_host_percent(const bw_message *m, const bw_link *l)
{
	const char *a;
	size_t n;
	return raw_authority(m, l, &a, &n) && memchr(a, '%', n);
}

/* An IPv4 host written other than as a dotted quad: "1.2.3", "0x7f.1",
 * "3232235777", "0300.0250.0.1" all parse (WHATWG) to an address that the
 * reader cannot recognise as one. */
static bool raw_ipv4_disguised(const bw_message *m, const bw_link *l, const bw_url *u)
{
	const char *a;
	size_t n;
	if (u->host_type != BW_HOST_IPV4 || !raw_authority(m, l, &a, &n))
		return false;
	const char *at = NULL;
	for (const char *q = a; q < a + n; q++)
		if (*q == '@')
			at = q;
	if (at) {
		n -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	const char *colon = memchr(a, ':', n);
	if (colon)
		n = (size_t)(colon - a);
	while (n && a[n - 1] == '.')
		n--; /* "192.0.2.1." is the same address, written plainly */
	return n != strlen(u->host) || g_ascii_strncasecmp(a, u->host, n) != 0;
}

void bw_detect_links(bw_message *m, const bw_engine *e)
{
	const bw_protected *p = e->protected_ids;
	kind mismatch = {.id = "LINK_TEXT_MISMATCH"}, ip = {.id = "LINK_IP_LITERAL"}, userinfo = {.id = "LINK_USERINFO"},
	     confusable = {.id = "LINK_CONFUSABLE_HOST"}, shortener = {.id = "LINK_SHORTENER"},
	     script = {.id = "LINK_SCRIPT_OR_DATA_URI"}, obfuscated = {.id = "LINK_OBFUSCATED"};
	for (size_t i = 0; i < m->nlinks; i++) {
		const bw_link *l = &m->links[i];
		bw_url u;
		if (!l->url || bw_url_parse(l->url, strlen(l->url), NULL, &u) != 0)
			continue;
		bw_buf it = {0};
		if (!strcmp(u.scheme, "javascript") || !strcmp(u.scheme, "data") || !strcmp(u.scheme, "vbscript")) {
			item(&it, l, "scheme", u.scheme, NULL, NULL);
			hit(&script, BW_SEV_HIGH, 3, it.data);
			bw_buf_reset(&it);
		}
		bool remote = bw_url_is_remote(&u);
		if (remote && (u.host_type == BW_HOST_IPV4 || u.host_type == BW_HOST_IPV6)) {
			item(&it, l, "host", u.host, NULL, NULL);
			hit(&ip, BW_SEV_MEDIUM, 2, it.data);
			bw_buf_reset(&it);
		}
		if (remote && (*u.username || *u.password)) {
			item(&it, l, "userinfo", u.username, "host", u.host);
			hit(&userinfo, BW_SEV_HIGH, 3, it.data);
			bw_buf_reset(&it);
		}
		if (remote && u.host_type == BW_HOST_DOMAIN && p) {
			bool puny = strstr(u.host, "xn--") != NULL;
			char *uh = bw_host_unicode(u.host);
			bool mixed = false;
			char **labels = g_strsplit(uh, ".", -1);
			for (char **lb = labels; *lb && !mixed; lb++)
				mixed = bw_label_mixed_script(p, *lb);
			g_strfreev(labels);
			if (puny || mixed) {
				char *sk = bw_skeleton(p, uh);
				item(&it, l, "host_unicode", uh, "skeleton", sk);
				hit(&confusable, mixed ? BW_SEV_MEDIUM : BW_SEV_LOW, mixed ? 2 : 1, it.data);
				bw_buf_reset(&it);
				free(sk);
			}
			free(uh);
			if (bw_protected_is_shortener(p, u.host)) {
				item(&it, l, "host", u.host, NULL, NULL);
				hit(&shortener, BW_SEV_LOW, 0.5, it.data);
				bw_buf_reset(&it);
			}
		}
		bool rtlo = false;
		const char *why = NULL;
		if (l->text && bw_invisible_or_bidi(l->text, strlen(l->text), &rtlo))
			why = rtlo ? "bidirectional override in the text" : "invisible characters in the text";
		else if ((rtlo = l->flags & BW_LINK_HOST_BIDI) || (l->flags & BW_LINK_HOST_INVISIBLE))
			why = rtlo ? "bidirectional override in the host" : "invisible characters in the host";
		else if (url_has_encoded_invisible(l->url, &rtlo))
			why = rtlo ? "bidirectional override in the URL" : "invisible characters in the URL";
		else if (remote && raw_host_percent(m, l))
			why = "percent-encoded host";
		else if (remote && raw_ipv4_disguised(m, l, &u))
			why = "IP address not written as four decimal numbers";
		if (why) {
			item(&it, l, "reason", why, NULL, NULL);
			hit(&obfuscated, BW_SEV_MEDIUM, 2, it.data);
			obfuscated.rtlo |= rtlo;
			bw_buf_reset(&it);
		} else if ((l->flags & BW_LINK_ZERO_SIZE_TEXT) && l->text && *l->text) {
			item(&it, l, "reason", "text rendered at zero size", NULL, NULL);
			hit(&obfuscated, BW_SEV_LOW, 1, it.data);
			bw_buf_reset(&it);
		}
		char *shown = remote ? text_domain(l) : NULL;
		if (shown) {
			char *href_reg = u.host ? bw_registrable_domain(u.host) : NULL;
			char *dest_reg = reg_of(l->unwrapped, NULL);
			if (!same_site(shown, href_reg) && !same_site(shown, dest_reg)) {
				const bw_identity *owner = p ? bw_protected_owner(p, shown) : NULL;
				/* behind a click tracker or shortener that cannot be unwrapped
				 * the destination is unknown rather than different: what
				 * newsletters do, so only a low score unless the text shows
				 * a protected domain */
				bool redirector = !dest_reg && ((l->tracker && (l->tracker->kinds & BW_TRACK_KNOWN)) ||
								bw_protected_is_shortener(p, u.host));
				double score = owner ? 3 : redirector ? 0.5 : 2;
				bw_buf_puts(&it, "{\"url\":");
				bw_json_string(&it, l->url);
				bw_buf_puts(&it, ",\"text\":");
				bw_json_string(&it, l->text);
				bw_buf_puts(&it, ",\"text_domain\":");
				bw_json_string(&it, shown);
				bw_buf_puts(&it, ",\"href_domain\":");
				bw_json_string(&it, href_reg);
				bw_buf_puts(&it, ",\"unwrapped_domain\":");
				bw_json_string(&it, dest_reg);
				bw_buf_puts(&it, ",\"text_protected_owner\":");
				bw_json_string(&it, owner ? owner->name : NULL);
				if (p) {
					char *a = bw_skeleton(p, shown), *b = bw_skeleton(p, dest_reg ? dest_reg : href_reg ? href_reg : "");
					bw_buf_puts(&it, ",\"text_skeleton\":");
					bw_json_string(&it, a);
					bw_buf_puts(&it, ",\"destination_skeleton\":");
					bw_json_string(&it, b);
					bw_buf_printf(&it, ",\"distance\":%d", bw_edit_distance(a, b, 64));
					free(a);
					free(b);
				}
				bw_buf_putc(&it, '}');
				hit(&mismatch, score >= 2 ? BW_SEV_MEDIUM : BW_SEV_LOW, score, it.data);
			}
			free(href_reg);
			free(dest_reg);
			free(shown);
		}
		bw_buf_free(&it);
		bw_url_free(&u);
	}
	emit(m, &mismatch, "Link text shows a site other than the one the link leads to", NULL);
	emit(m, &ip, "A link leads to a bare IP address", NULL);
	emit(m, &userinfo, "A link puts user-info before the host: what precedes '@' is not where it leads",
	     ATTACK_MASQ);
	emit(m, &confusable, "A link leads to a punycode or mixed-script host", ATTACK_MASQ);
	emit(m, &shortener, "A link goes through a URL shortener that hides its destination", NULL);
	emit(m, &script, "A link is a javascript:, vbscript: or data: URI", NULL);
	emit(m, &obfuscated,
	     "A link hides its text or destination (invisible or bidi characters, encoded host, zero-size text)",
	     NULL);
}
