/* Tracking detectors: decide which remote resources and links are trackers
 * (tiny, hidden, on a tracker list, carrying the recipient's address or a
 * per-message identifier) and report what opening the message reveals.
 *
 * Scores are deliberately low: most newsletters track their readers, and a
 * tracked newsletter from a sender that checks out must stay clean. Tracking
 * raises a verdict only together with evidence from other detectors. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

enum { EVIDENCE_URLS = 10 };

#define ATTACK_RECON "T1598.003" /* Phishing for Information: Spearphishing Link */

static const char *sender_domain(const bw_message *m)
{
	const char *at = m->from.address ? strrchr(m->from.address, '@') : NULL;
	return at ? at + 1 : NULL;
}

static char *host_of(const char *url)
{
	bw_url u;
	if (bw_url_parse(url, strlen(url), NULL, &u) != 0)
		return NULL;
	char *h = u.host ? bw_xstrdup(u.host) : NULL;
	bw_url_free(&u);
	return h;
}

typedef struct classify_ctx {
	const bw_engine *e;
	bw_recipient_forms *forms;
	char *sender_reg;     /* registrable domain of the From address */
} classify_ctx;

static void add_kind(bw_tracker **tp, unsigned kind, double conf, const char *reason)
{
	if (!*tp)
		*tp = bw_tracker_new();
	bw_tracker *t = *tp;
	t->kinds |= kind;
	if (conf > t->confidence)
		t->confidence = conf;
	bw_strvec_push(&t->reasons, reason);
}

/* Annotations shared by resources and links: tracker lists, recipient
 * tokens. is_image selects open-tracker rules over click-tracker rules. */
static void classify_url(classify_ctx *c, const char *url, bool is_image, bw_tracker **tp)
{
	if (c->e->trackers) {
		char *host = host_of(url);
		char *reg = host ? bw_registrable_domain(host) : NULL;
		bool third = !c->sender_reg || !reg || strcmp(reg, c->sender_reg) != 0;
		bw_tracker_match tm;
		if (bw_tracker_db_match(c->e->trackers, url, is_image, third, &tm)) {
			bw_buf r = {0};
			bw_buf_printf(&r, "matches %s rule \"%s\"", tm.list, tm.rule);
			add_kind(tp, BW_TRACK_KNOWN, 0.95, r.data);
			bw_buf_free(&r);
			if (tm.vendor && !(*tp)->vendor)
				(*tp)->vendor = bw_xstrdup(tm.vendor);
		}
		free(host);
		free(reg);
	}
	const char *form = c->forms ? bw_recipient_forms_find(c->forms, url) : NULL;
	if (form) {
		bw_buf r = {0};
		bw_buf_printf(&r, "URL carries the recipient's address (%s)", form);
		add_kind(tp, BW_TRACK_RECIPIENT_TOKEN, 0.95, r.data);
		bw_buf_free(&r);
		if (!(*tp)->token_form)
			(*tp)->token_form = bw_xstrdup(form);
	}
}

static void classify_resource(classify_ctx *c, bw_resource *r)
{
	if (r->flags & BW_RES_TINY) {
		bw_buf why = {0};
		if (r->width >= 0 && r->height >= 0)
			bw_buf_printf(&why, "rendered at %dx%d px", r->width, r->height);
		else
			bw_buf_puts(&why, "rendered at most 2x2 px");
		add_kind(&r->tracker, BW_TRACK_PIXEL, 0.7, why.data);
		bw_buf_free(&why);
	}
	if ((r->flags & BW_RES_HIDDEN) && r->on_open)
		add_kind(&r->tracker, BW_TRACK_HIDDEN, 0.6, "loaded although not visible");
	classify_url(c, r->url, true, &r->tracker);
	/* A high-entropy identifier alone is common in CDN file names; it
	 * marks a tracker only on a resource that is already one. */
	if (r->tracker) {
		char *tok = bw_find_unique_token(r->url);
		if (tok) {
			bw_buf why = {0};
			bw_buf_printf(&why, "URL carries a unique identifier \"%.40s\"", tok);
			add_kind(&r->tracker, BW_TRACK_UNIQUE_TOKEN, 0.8, why.data);
			bw_buf_free(&why);
			free(tok);
		}
	}
}

/* The evidence list of URLs and the parties (registrable domains) behind
 * them, for every resource or link matching kind. */
typedef struct party_list {
	bw_strvec urls;
	bw_strvec parties;
	size_t count;
} party_list;

static void party_add(party_list *pl, const char *url)
{
	pl->count++;
	if (pl->urls.n < EVIDENCE_URLS)
		bw_strvec_push(&pl->urls, url);
	char *host = host_of(url);
	char *reg = host ? bw_registrable_domain(host) : NULL;
	if (reg && !bw_strvec_contains(&pl->parties, reg))
		bw_strvec_push(&pl->parties, reg);
	free(host);
	free(reg);
}

static void json_strvec(bw_buf *b, const char *k, const bw_strvec *sv)
{
	bw_json_string(b, k);
	bw_buf_puts(b, ":[");
	for (size_t i = 0; i < sv->n; i++) {
		if (i)
			bw_buf_putc(b, ',');
		bw_json_string(b, sv->v[i]);
	}
	bw_buf_putc(b, ']');
}

static void join(bw_buf *b, const bw_strvec *sv, size_t max)
{
	for (size_t i = 0; i < sv->n && i < max; i++)
		bw_buf_printf(b, "%s%s", i ? ", " : "", sv->v[i]);
	if (sv->n > max)
		bw_buf_printf(b, " and %zu more", sv->n - max);
}

/* What the sender learns, said plainly. A static scan sees only the first
 * request of each URL; parties reached through redirects stay invisible. */
static char *exposure(const party_list *pl, const char *recipient, const char *form)
{
	bw_buf b = {0};
	bw_buf_puts(&b, "Opening this message tells ");
	join(&b, &pl->parties, 6);
	bw_buf_puts(&b, " the time it was opened, the reader's IP address (and so approximate location "
			"and network) and the mail client's user agent (software and device)");
	if (form && recipient)
		bw_buf_printf(&b, ", and ties the open to %s through the address encoded as %s", recipient,
			      form);
	bw_buf_puts(&b, ". A static scan sees only the first request: parties reached through redirects "
			"from these URLs are not visible here.");
	return bw_buf_steal(&b);
}

static void finding(bw_message *m, const char *id, bw_severity sev, double score, const char *summary,
		    const party_list *pl, const char *extra_json)
{
	bw_finding *f = bw_message_add_finding(m, id, sev, score, summary);
	bw_strvec_push(&f->attack, ATTACK_RECON);
	bw_buf ev = {0};
	bw_buf_printf(&ev, "{\"count\":%zu,", pl->count);
	json_strvec(&ev, "urls", &pl->urls);
	bw_buf_putc(&ev, ',');
	json_strvec(&ev, "parties", &pl->parties);
	if (extra_json)
		bw_buf_printf(&ev, ",%s", extra_json);
	bw_buf_putc(&ev, '}');
	f->evidence_json = bw_buf_steal(&ev);
}

static void party_list_free(party_list *pl)
{
	bw_strvec_free(&pl->urls);
	bw_strvec_free(&pl->parties);
}

static void report_findings(bw_message *m)
{
	party_list pixels = {0}, known = {0}, token = {0};
	bw_strvec vendors = {0};
	const char *form = NULL;
	for (size_t i = 0; i < m->nresources; i++) {
		const bw_resource *r = &m->resources[i];
		const bw_tracker *t = r->tracker;
		if (!t || !r->on_open)
			continue;
		if (t->kinds & (BW_TRACK_PIXEL | BW_TRACK_HIDDEN))
			party_add(&pixels, r->url);
		if (t->kinds & BW_TRACK_KNOWN) {
			party_add(&known, r->url);
			if (t->vendor && !bw_strvec_contains(&vendors, t->vendor))
				bw_strvec_push(&vendors, t->vendor);
		}
		if (t->kinds & BW_TRACK_RECIPIENT_TOKEN) {
			party_add(&token, r->url);
			form = form ? form : t->token_form;
		}
	}
	size_t token_links = 0;
	for (size_t i = 0; i < m->nlinks; i++) {
		const bw_tracker *t = m->links[i].tracker;
		if (t && (t->kinds & BW_TRACK_RECIPIENT_TOKEN)) {
			party_add(&token, m->links[i].url);
			form = form ? form : t->token_form;
			token_links++;
		}
	}
	bw_buf s = {0}, extra = {0};
	if (pixels.count) {
		char *exp = exposure(&pixels, NULL, NULL);
		bw_buf_printf(&s, "%zu tracking pixel%s load%s when the message is opened", pixels.count,
			      pixels.count == 1 ? "" : "s", pixels.count == 1 ? "s" : "");
		bw_buf_puts(&extra, "\"exposure\":");
		bw_json_string(&extra, exp);
		finding(m, "TRACKING_PIXEL", BW_SEV_LOW, 1.0, s.data, &pixels, extra.data);
		free(exp);
		bw_buf_reset(&s), bw_buf_reset(&extra);
	}
	if (known.count) {
		char *exp = exposure(&known, NULL, NULL);
		bw_buf_printf(&s, "Resources of known tracking services load on open (");
		join(&s, vendors.n ? &vendors : &known.parties, 4);
		bw_buf_putc(&s, ')');
		json_strvec(&extra, "vendors", &vendors);
		bw_buf_puts(&extra, ",\"exposure\":");
		bw_json_string(&extra, exp);
		finding(m, "TRACKING_KNOWN_VENDOR", BW_SEV_LOW, 1.0, s.data, &known, extra.data);
		free(exp);
		bw_buf_reset(&s), bw_buf_reset(&extra);
	}
	if (token.count) {
		char *exp = exposure(&token, m->recipient, form);
		bw_buf_printf(&s, "%zu URL%s the recipient's address (%s) to ", token.count,
			      token.count == 1 ? " carries" : "s carry", form);
		join(&s, &token.parties, 4);
		bw_buf_puts(&extra, "\"recipient\":");
		bw_json_string(&extra, m->recipient);
		bw_buf_puts(&extra, ",\"form\":");
		bw_json_string(&extra, form);
		bw_buf_printf(&extra, ",\"in_links\":%zu,\"in_resources\":%zu,\"exposure\":", token_links,
			      token.count - token_links);
		bw_json_string(&extra, exp);
		finding(m, "TRACKING_RECIPIENT_TOKEN", BW_SEV_MEDIUM, 2.0, s.data, &token, extra.data);
		free(exp);
	}
	bw_buf_free(&s);
	bw_buf_free(&extra);
	bw_strvec_free(&vendors);
	party_list_free(&pixels);
	party_list_free(&known);
	party_list_free(&token);
}

void bw_detect_tracking(bw_message *m, const bw_engine *e)
{
	classify_ctx c = {.e = e};
	if (m->recipient && *m->recipient)
		c.forms = bw_recipient_forms_new(m->recipient);
	const char *sd = sender_domain(m);
	c.sender_reg = sd ? bw_registrable_domain(sd) : NULL;
	for (size_t i = 0; i < m->nresources; i++)
		classify_resource(&c, &m->resources[i]);
	for (size_t i = 0; i < m->nlinks; i++) {
		bw_link *l = &m->links[i];
		classify_url(&c, l->url, false, &l->tracker);
	}
	report_findings(m);
	bw_recipient_forms_free(c.forms);
	free(c.sender_reg);
}
