/* INTEL_MATCH: every observable of the message (addresses and their domains,
 * link and resource URLs and hosts, Received IPs, attachment hashes and
 * names, the subject) against the active indicators of the intel database.
 * One finding per indicator; an AND-pattern only when all its observables
 * are in the message; a warninglist hit on the same origin downgrades it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/intel.h"
#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

#define MAX_OBSERVABLES 4096
#define MAX_ORIGINS 8

typedef struct observable {
	bw_obs_type type;
	char *value;
	char *where;                 /* the first place it was seen */
	unsigned origins[MAX_ORIGINS]; /* what it was derived from (a link, an address, ...) */
	size_t norigins;
} observable;

typedef struct allow_hit {
	unsigned origin;
	char *list, *value;
} allow_hit;

typedef struct match {
	size_t obs;          /* index into observables */
	char *indicator_value;
	int prefix_len;
	int64_t observable_id, and_group;
	size_t group_size;
} match;

typedef struct indicator_hit {
	int64_t id;
	char *stix_id, *name, *source, *tlp, *labels, *created_by;
	bw_buf related;      /* the JSON members for intrusion sets ... techniques */
	bw_strvec techniques;
	bw_strvec set_names;
	match *matches;
	size_t nmatches, cap;
} indicator_hit;

typedef struct scan {
	observable *obs;
	size_t nobs, capobs;
	unsigned next_origin;
	allow_hit *allows;
	size_t nallows, capallows;
	indicator_hit *hits;
	size_t nhits, caphits;
	size_t current; /* observable being matched */
} scan;

static char *dup_or_null(const char *s)
{
	return s ? bw_xstrdup(s) : NULL;
}

static void add_obs(scan *s, bw_obs_type type, const char *value, unsigned origin, const char *where)
{
	if (!value || !*value)
		return;
	int prefix;
	char *norm = bw_obs_normalise(type, value, &prefix);
	if (!norm || prefix >= 0) {
		free(norm);
		return;
	}
	for (size_t i = 0; i < s->nobs; i++) {
		observable *o = &s->obs[i];
		if (o->type == type && strcmp(o->value, norm) == 0) {
			bool known = false;
			for (size_t k = 0; k < o->norigins; k++)
				known = known || o->origins[k] == origin;
			if (!known && o->norigins < MAX_ORIGINS)
				o->origins[o->norigins++] = origin;
			free(norm);
			return;
		}
	}
	if (s->nobs >= MAX_OBSERVABLES) {
		free(norm);
		return;
	}
	bw_grow((void **)&s->obs, &s->capobs, s->nobs + 1, sizeof *s->obs);
	observable *o = &s->obs[s->nobs++];
	memset(o, 0, sizeof *o);
	o->type = type;
	o->value = norm;
	o->where = bw_xstrdup(where);
	o->origins[o->norigins++] = origin;
}

static void add_address(scan *s, const char *addr, const char *where)
{
	if (!addr)
		return;
	unsigned origin = s->next_origin++;
	add_obs(s, BW_OBS_EMAIL, addr, origin, where);
	const char *at = strrchr(addr, '@');
	if (at) {
		char w[64];
		snprintf(w, sizeof w, "%s domain", where);
		add_obs(s, BW_OBS_DOMAIN, at + 1, origin, w);
	}
}

/* A URL, and its host as a domain or an IP (parent domains, and so the
 * registrable domain, are matched by the lookup itself). */
static void add_url(scan *s, const char *url, unsigned origin, const char *where)
{
	if (!url)
		return;
	add_obs(s, BW_OBS_URL, url, origin, where);
	bw_url u;
	if (bw_url_parse(url, strlen(url), NULL, &u) < 0)
		return;
	char w[96];
	snprintf(w, sizeof w, "%s host", where);
	if (u.host_type == BW_HOST_DOMAIN)
		add_obs(s, BW_OBS_DOMAIN, u.host, origin, w);
	else if (u.host_type == BW_HOST_IPV4)
		add_obs(s, BW_OBS_IPV4, u.host, origin, w);
	else if (u.host_type == BW_HOST_IPV6)
		add_obs(s, BW_OBS_IPV6, u.host, origin, w);
	bw_url_free(&u);
}

static void collect(scan *s, const bw_message *m)
{
	char w[160];
	add_address(s, m->from.address, "From");
	add_address(s, m->reply_to.address, "Reply-To");
	add_address(s, m->return_path, "Return-Path");
	add_obs(s, BW_OBS_SUBJECT, m->subject, s->next_origin++, "Subject");
	for (size_t i = 0; i < m->nlinks; i++) {
		unsigned origin = s->next_origin++;
		snprintf(w, sizeof w, "link %zu", i + 1);
		add_url(s, m->links[i].url, origin, w);
		snprintf(w, sizeof w, "link %zu destination", i + 1);
		add_url(s, m->links[i].unwrapped, origin, w);
	}
	for (size_t i = 0; i < m->nresources; i++) {
		snprintf(w, sizeof w, "resource %zu (%s)", i + 1, m->resources[i].element);
		add_url(s, m->resources[i].url, s->next_origin++, w);
	}
	for (size_t i = 0; i < m->nreceived; i++) {
		const bw_received_hop *h = &m->received[i];
		if (!h->ip || h->internal)
			continue;
		snprintf(w, sizeof w, "Received hop %zu from %.64s%s", i + 1, h->from_host ? h->from_host : "?",
			 h->first_external ? " (first external hop)" : "");
		add_obs(s, strchr(h->ip, ':') ? BW_OBS_IPV6 : BW_OBS_IPV4, h->ip, s->next_origin++, w);
	}
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (p->kind != BW_PART_ATTACHMENT && !p->filename)
			continue;
		unsigned origin = s->next_origin++;
		snprintf(w, sizeof w, "attachment %zu%s%.80s", i + 1, p->filename ? " " : "",
			 p->filename ? p->filename : "");
		add_obs(s, BW_OBS_FILENAME, p->filename, origin, w);
		if (p->kind != BW_PART_ATTACHMENT)
			continue;
		add_obs(s, BW_OBS_MD5, p->md5, origin, w);
		add_obs(s, BW_OBS_SHA1, p->sha1, origin, w);
		add_obs(s, BW_OBS_SHA256, p->sha256, origin, w);
	}
}

static void refs_json(bw_buf *b, const char *key, const bw_intel_refs *r)
{
	bw_buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < r->n; i++) {
		bw_buf_puts(b, i ? ",{\"stix_id\":" : "{\"stix_id\":");
		bw_json_string(b, r->v[i].stix_id);
		bw_buf_puts(b, ",\"name\":");
		bw_json_string(b, r->v[i].name);
		if (r->v[i].external_id) {
			bw_buf_puts(b, ",\"external_id\":");
			bw_json_string(b, r->v[i].external_id);
		}
		bw_buf_putc(b, '}');
	}
	bw_buf_putc(b, ']');
}

static void on_hit(const bw_intel_hit *h, void *arg)
{
	scan *s = arg;
	if (h->allow) {
		const observable *o = &s->obs[s->current];
		for (size_t k = 0; k < o->norigins; k++) {
			bw_grow((void **)&s->allows, &s->capallows, s->nallows + 1, sizeof *s->allows);
			s->allows[s->nallows++] = (allow_hit){o->origins[k], bw_xstrdup(h->name ? h->name : h->source),
							      bw_xstrdup(h->value)};
		}
		return;
	}
	indicator_hit *ih = NULL;
	for (size_t i = 0; i < s->nhits && !ih; i++)
		if (s->hits[i].id == h->indicator_id)
			ih = &s->hits[i];
	if (!ih) {
		bw_grow((void **)&s->hits, &s->caphits, s->nhits + 1, sizeof *s->hits);
		ih = &s->hits[s->nhits++];
		memset(ih, 0, sizeof *ih);
		ih->id = h->indicator_id;
		ih->stix_id = dup_or_null(h->stix_id);
		ih->name = dup_or_null(h->name);
		ih->source = dup_or_null(h->source);
		ih->tlp = dup_or_null(h->tlp);
		ih->labels = dup_or_null(h->labels);
		ih->created_by = dup_or_null(h->created_by);
		refs_json(&ih->related, "intrusion_sets", h->intrusion_sets);
		refs_json(&ih->related, "campaigns", h->campaigns);
		refs_json(&ih->related, "malware", h->malware);
		refs_json(&ih->related, "techniques", h->techniques);
		for (size_t i = 0; i < h->techniques->n; i++)
			if (h->techniques->v[i].external_id &&
			    !bw_strvec_contains(&ih->techniques, h->techniques->v[i].external_id))
				bw_strvec_push(&ih->techniques, h->techniques->v[i].external_id);
		for (size_t i = 0; i < h->intrusion_sets->n; i++)
			if (h->intrusion_sets->v[i].name)
				bw_strvec_push(&ih->set_names, h->intrusion_sets->v[i].name);
	}
	bw_grow((void **)&ih->matches, &ih->cap, ih->nmatches + 1, sizeof *ih->matches);
	ih->matches[ih->nmatches++] = (match){s->current, bw_xstrdup(h->value), h->prefix_len,
					      h->observable_id, h->and_group, h->group_size};
}

/* A match outside AND groups counts; one in a group counts when each of the
 * group's observables matched something in the message. */
static bool counts(const indicator_hit *ih, const match *a)
{
	if (!a->and_group)
		return true;
	size_t distinct = 0;
	for (size_t j = 0; j < ih->nmatches; j++) {
		const match *b = &ih->matches[j];
		if (b->and_group != a->and_group)
			continue;
		bool first = true;
		for (size_t k = 0; k < j && first; k++)
			first = ih->matches[k].observable_id != b->observable_id;
		distinct += first;
	}
	return distinct >= a->group_size;
}

static bool indicator_matches(const indicator_hit *ih)
{
	for (size_t i = 0; i < ih->nmatches; i++)
		if (counts(ih, &ih->matches[i]))
			return true;
	return false;
}

static const allow_hit *allowlisted(const scan *s, const observable *o)
{
	for (size_t k = 0; k < o->norigins; k++)
		for (size_t a = 0; a < s->nallows; a++)
			if (s->allows[a].origin == o->origins[k])
				return &s->allows[a];
	return NULL;
}

static void emit(bw_message *m, const scan *s, const indicator_hit *ih)
{
	/* weak on their own: a name or subject can be innocent, and hops below
	 * the first external one are written by the sender */
	bool strong = false, all_allowed = true;
	const observable *first = NULL;
	for (size_t i = 0; i < ih->nmatches; i++) {
		if (!counts(ih, &ih->matches[i]))
			continue;
		const observable *o = &s->obs[ih->matches[i].obs];
		if (!first)
			first = o;
		if (o->type != BW_OBS_FILENAME && o->type != BW_OBS_SUBJECT &&
		    !(strncmp(o->where, "Received", 8) == 0 && !strstr(o->where, "first external")))
			strong = true;
		if (!allowlisted(s, o))
			all_allowed = false;
	}
	bw_severity sev = all_allowed ? BW_SEV_LOW : strong ? BW_SEV_HIGH : BW_SEV_MEDIUM;
	double score = all_allowed ? 1.0 : strong ? 10.0 : 5.0;

	bw_buf sum = {0};
	bw_buf_printf(&sum, "Known indicator: %s %s (%s) matches %s from %s", bw_obs_type_name(first->type),
		      first->value, first->where, ih->name ? ih->name : ih->stix_id ? ih->stix_id : "an indicator",
		      ih->source);
	if (ih->set_names.n)
		bw_buf_printf(&sum, ", related to %s", ih->set_names.v[0]);
	if (all_allowed)
		bw_buf_puts(&sum, "; downgraded: on a warninglist");
	bw_finding *f = bw_message_add_finding(m, "INTEL_MATCH", sev, score, sum.data);
	bw_buf_free(&sum);
	for (size_t i = 0; i < ih->techniques.n; i++)
		bw_strvec_push(&f->attack, ih->techniques.v[i]);

	bw_buf ev = {0};
	bw_buf_printf(&ev, "{\"indicator_id\":%lld,\"stix_id\":", (long long)ih->id);
	bw_json_string(&ev, ih->stix_id);
	const char *keys[] = {"name", "source", "tlp", "created_by"};
	const char *vals[] = {ih->name, ih->source, ih->tlp, ih->created_by};
	for (size_t i = 0; i < 4; i++) {
		bw_buf_printf(&ev, ",\"%s\":", keys[i]);
		bw_json_string(&ev, vals[i]);
	}
	bw_buf_printf(&ev, ",\"labels\":%s", ih->labels ? ih->labels : "[]");
	bw_buf_append(&ev, ih->related.data, ih->related.len);
	bw_buf_puts(&ev, ",\"matches\":[");
	bool comma = false;
	for (size_t i = 0; i < ih->nmatches; i++) {
		const match *mt = &ih->matches[i];
		if (!counts(ih, mt))
			continue;
		const observable *o = &s->obs[mt->obs];
		bw_buf_puts(&ev, comma ? ",{\"type\":" : "{\"type\":");
		comma = true;
		bw_json_string(&ev, bw_obs_type_name(o->type));
		bw_buf_puts(&ev, ",\"seen\":");
		bw_json_string(&ev, o->value);
		bw_buf_puts(&ev, ",\"where\":");
		bw_json_string(&ev, o->where);
		bw_buf_puts(&ev, ",\"indicator_value\":");
		bw_json_string(&ev, mt->indicator_value);
		if (mt->prefix_len >= 0)
			bw_buf_printf(&ev, ",\"prefix_len\":%d", mt->prefix_len);
		if (mt->and_group)
			bw_buf_printf(&ev, ",\"and_group\":%lld,\"group_size\":%zu", (long long)mt->and_group,
				      mt->group_size);
		const allow_hit *a = allowlisted(s, o);
		if (a) {
			bw_buf_puts(&ev, ",\"warninglist\":");
			bw_json_string(&ev, a->list);
			bw_buf_puts(&ev, ",\"warninglist_value\":");
			bw_json_string(&ev, a->value);
		}
		bw_buf_putc(&ev, '}');
	}
	bw_buf_printf(&ev, "],\"downgraded\":%s}", all_allowed ? "true" : "false");
	f->evidence_json = bw_buf_steal(&ev);
}

static void scan_free(scan *s)
{
	for (size_t i = 0; i < s->nobs; i++) {
		free(s->obs[i].value);
		free(s->obs[i].where);
	}
	free(s->obs);
	for (size_t i = 0; i < s->nallows; i++) {
		free(s->allows[i].list);
		free(s->allows[i].value);
	}
	free(s->allows);
	for (size_t i = 0; i < s->nhits; i++) {
		indicator_hit *ih = &s->hits[i];
		free(ih->stix_id);
		free(ih->name);
		free(ih->source);
		free(ih->tlp);
		free(ih->labels);
		free(ih->created_by);
		bw_buf_free(&ih->related);
		bw_strvec_free(&ih->techniques);
		bw_strvec_free(&ih->set_names);
		for (size_t j = 0; j < ih->nmatches; j++)
			free(ih->matches[j].indicator_value);
		free(ih->matches);
	}
	free(s->hits);
}

void bw_detect_intel(bw_message *m, const bw_engine *e)
{
	if (!e->intel)
		return;
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].kind == BW_PART_ATTACHMENT)
			bw_part_hash_legacy(&m->parts[i]);
	scan s = {0};
	collect(&s, m);
	time_t now = time(NULL);
	for (s.current = 0; s.current < s.nobs; s.current++)
		bw_intel_match(e->intel, s.obs[s.current].type, s.obs[s.current].value, now, on_hit, &s);
	for (size_t i = 0; i < s.nhits; i++)
		if (indicator_matches(&s.hits[i]))
			emit(m, &s, &s.hits[i]);
	scan_free(&s);
}
