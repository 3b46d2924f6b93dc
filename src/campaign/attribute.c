/* Attribution: weighs a campaign against the intrusion sets of the intel
 * database. Evidence in order of weight: indicator overlap (an observable of
 * the campaign's messages is an indicator related to the set), infrastructure
 * overlap (an indicator of the set's malware or campaigns, a relay in the
 * same /24 as one of its IPs), technique overlap (ATT&CK techniques of the
 * findings, weighted by how few sets use them). The words follow analytic
 * confidence practice: a candidate, a confidence, the evidence, and a plain
 * statement when the evidence is not enough. */
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/intel.h"
#include "bulwark/report.h"
#include "campaign/campaign.h"

/* Weights: one indicator match outweighs any number of shared techniques. */
#define W_INDICATOR 10.0
#define W_INFRA 3.0
#define W_TECHNIQUE 1.0  /* times the technique's rarity, 0..1 */
/* Observables per campaign looked up; a hostile store cannot make it endless. */
#define MAX_LOOKUPS 20000

typedef enum { EV_INDICATOR, EV_INFRA, EV_TECHNIQUE } evidence_kind;

typedef struct candidate {
	char *stix_id, *name, *aliases;
	double score;
	size_t indicators, techniques;
	double infra;        /* infrastructure overlaps, each a share of W_INFRA */
	GHashTable *types;   /* observable types of indicator matches */
	GHashTable *seen;    /* evidence text already listed */
	GHashTable *weighed; /* indicators already counted: several observables can match one */
	bw_strvec evidence[3];
} candidate;

typedef struct attribution {
	sqlite3 *intel;      /* read-only, for relationships, techniques, neighbours */
	bw_intel *matcher;
	GHashTable *candidates; /* stix_id -> candidate */
	bw_strvec unrelated; /* indicator matches related to no intrusion set */
	const char *kind, *value; /* the campaign observable being looked up */
	long long messages;  /* of the observable in the campaign */
	size_t nsets;
} attribution;

static void candidate_free(gpointer p)
{
	candidate *c = p;
	free(c->stix_id);
	free(c->name);
	free(c->aliases);
	g_hash_table_destroy(c->types);
	g_hash_table_destroy(c->seen);
	g_hash_table_destroy(c->weighed);
	for (int i = 0; i < 3; i++)
		bw_strvec_free(&c->evidence[i]);
	free(c);
}

static candidate *get_candidate(attribution *a, const char *stix_id)
{
	candidate *c = g_hash_table_lookup(a->candidates, stix_id);
	if (c)
		return c;
	c = bw_xcalloc(1, sizeof *c);
	c->stix_id = bw_xstrdup(stix_id);
	c->types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	c->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	c->weighed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->intel, "SELECT name, aliases FROM intrusion_set WHERE stix_id=?", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, stix_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *n = (const char *)sqlite3_column_text(st, 0);
			const char *al = (const char *)sqlite3_column_text(st, 1);
			c->name = n ? bw_xstrdup(n) : NULL;
			c->aliases = al ? bw_xstrdup(al) : NULL;
		}
		sqlite3_finalize(st);
	}
	if (!c->name)
		c->name = bw_xstrdup(stix_id);
	g_hash_table_insert(a->candidates, c->stix_id, c);
	return c;
}

/* Lists evidence once, and weighs it once per source (an indicator matched
 * through the sender domain and the relay name is one piece of evidence). */
static void credit(attribution *a, const char *set, evidence_kind k, double weight, const char *what,
		   const char *source)
{
	candidate *c = get_candidate(a, set);
	if (g_hash_table_contains(c->seen, what))
		return;
	g_hash_table_add(c->seen, g_strdup(what));
	bw_strvec_push(&c->evidence[k], what);
	if (g_hash_table_contains(c->weighed, source))
		return;
	g_hash_table_add(c->weighed, g_strdup(source));
	c->score += weight;
	if (k == EV_INDICATOR)
		c->indicators++;
	else if (k == EV_INFRA)
		c->infra += weight / W_INFRA; /* a malware family of ten sets is a tenth each */
	else
		c->techniques++;
}

/* Intrusion sets related to ref by relationships of the given type, in
 * either direction ("uses" malware: set -> malware; "attributed-to": campaign -> set). */
static void related_sets(attribution *a, const char *ref, bw_strvec *out)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->intel,
			       "SELECT source_ref FROM relationship WHERE target_ref=?1 AND source_ref LIKE 'intrusion-set--%'"
			       " UNION SELECT target_ref FROM relationship WHERE source_ref=?1"
			       " AND target_ref LIKE 'intrusion-set--%' ORDER BY 1", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		bw_strvec_push(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void describe_hit(bw_buf *b, const attribution *a, const bw_intel_hit *h)
{
	bw_buf_printf(b, "%s %s (in %lld message%s) matched indicator ", a->kind, a->value, a->messages,
		      a->messages == 1 ? "" : "s");
	if (h->name)
		bw_buf_printf(b, "\"%s\" ", h->name);
	bw_buf_printf(b, "[%s, source %s, pattern %s]", h->stix_id ? h->stix_id : "list entry",
		      h->source ? h->source : "?", h->pattern ? h->pattern : h->value);
}

static void on_hit(const bw_intel_hit *h, void *arg)
{
	attribution *a = arg;
	if (h->allow || (h->and_group && h->group_size > 1))
		return; /* known good, or one part of an AND that needs the rest */
	bw_buf what = {0}, source = {0};
	describe_hit(&what, a, h);
	bw_buf_printf(&source, "indicator %lld", (long long)h->indicator_id);
	bool credited = false;
	/* only the sets the indicator itself indicates: those reached through a
	 * campaign or malware are infrastructure overlap, weighed below */
	for (size_t i = 0; h->direct_sets && i < h->direct_sets->n; i++) {
		credit(a, h->direct_sets->v[i].stix_id, EV_INDICATOR, W_INDICATOR, what.data, source.data);
		g_hash_table_add(get_candidate(a, h->direct_sets->v[i].stix_id)->types,
				 g_strdup(bw_obs_type_name(h->type)));
		credited = true;
	}
	/* an indicator of a campaign or malware that intrusion sets are tied to */
	const bw_intel_refs *via[] = {h->campaigns, h->malware};
	const char *how[] = {"campaign", "malware"};
	for (int v = 0; v < 2; v++) {
		for (size_t i = 0; via[v] && i < via[v]->n; i++) {
			bw_strvec sets = {0};
			related_sets(a, via[v]->v[i].stix_id, &sets);
			for (size_t k = 0; k < sets.n; k++) {
				bw_buf w = {0};
				bw_buf_printf(&w, "%s, an indicator of %s %s, which is related to this intrusion set", what.data,
					      how[v], via[v]->v[i].name ? via[v]->v[i].name : via[v]->v[i].stix_id);
				credit(a, sets.v[k], EV_INFRA, W_INFRA / (double)sets.n, w.data, source.data);
				bw_buf_free(&w);
				credited = true;
			}
			bw_strvec_free(&sets);
		}
	}
	if (!credited && !bw_strvec_contains(&a->unrelated, what.data) && a->unrelated.n < 100)
		bw_strvec_push(&a->unrelated, what.data);
	bw_buf_free(&what);
	bw_buf_free(&source);
}

/* The campaign's observable kinds and the intel type they are looked up as. */
static bw_obs_type obs_type_of(const char *kind, const char *value)
{
	static const struct {
		const char *kind;
		bw_obs_type type;
	} map[] = {
		{"from-address", BW_OBS_EMAIL},       {"reply-to-address", BW_OBS_EMAIL},
		{"return-path-address", BW_OBS_EMAIL}, {"from-domain", BW_OBS_DOMAIN},
		{"reply-to-domain", BW_OBS_DOMAIN},   {"return-path-domain", BW_OBS_DOMAIN},
		{"dkim-domain", BW_OBS_DOMAIN},       {"relay-domain", BW_OBS_DOMAIN},
		{"link-host", BW_OBS_DOMAIN},         {"resource-host", BW_OBS_DOMAIN},
		{"link-url", BW_OBS_URL},             {"resource-url", BW_OBS_URL},
		{"subject", BW_OBS_SUBJECT},          {"attachment-sha256", BW_OBS_SHA256},
		{"attachment-sha1", BW_OBS_SHA1},     {"attachment-md5", BW_OBS_MD5},
		{"attachment-name", BW_OBS_FILENAME},
	};
	if (strcmp(kind, "relay-ip") == 0)
		return strchr(value, ':') ? BW_OBS_IPV6 : BW_OBS_IPV4;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].type;
	return BW_OBS_NONE;
}

/* IPv4 indicators of intrusion sets in the same /24 as a relay, that the
 * relay itself did not match. */
static void relay_neighbours(attribution *a, const char *ip)
{
	const char *dot = strrchr(ip, '.');
	if (!dot || strchr(ip, ':'))
		return;
	char lo[64], hi[64];
	snprintf(lo, sizeof lo, "%.*s.", (int)(dot - ip), ip);
	snprintf(hi, sizeof hi, "%.*s/", (int)(dot - ip), ip); /* '/' sorts right after '.' */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->intel,
			       "SELECT DISTINCT o.value, i.stix_id, r.target_ref FROM observable o"
			       " JOIN indicator i ON i.id = o.indicator_id"
			       " JOIN relationship r ON r.source_ref = i.stix_id AND r.target_ref LIKE 'intrusion-set--%'"
			       " WHERE o.type = 'ipv4' AND o.value >= ? AND o.value < ? AND o.value <> ? AND i.revoked = 0"
			       " ORDER BY 1, 2, 3 LIMIT 200", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, lo, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, ip, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		bw_buf w = {0};
		bw_buf_printf(&w, "first external relay %s (in %lld message%s) is in the same /24 as %s, indicator %s",
			      ip, a->messages, a->messages == 1 ? "" : "s", sqlite3_column_text(st, 0),
			      sqlite3_column_text(st, 1));
		credit(a, (const char *)sqlite3_column_text(st, 2), EV_INFRA, W_INFRA, w.data,
		       (const char *)sqlite3_column_text(st, 1));
		bw_buf_free(&w);
	}
	sqlite3_finalize(st);
}

/* Shared ATT&CK techniques, each weighted by its rarity among all sets:
 * ln(sets / sets using it) / ln(sets). Phishing techniques that a hundred
 * sets use weigh almost nothing. */
static void technique_overlap(attribution *a, const bw_strvec *techniques)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a->intel,
			       "SELECT ist.intrusion_set, (SELECT count(DISTINCT x.intrusion_set) FROM intrusion_set_technique x"
			       " WHERE x.technique = t.stix_id) FROM technique t"
			       " JOIN intrusion_set_technique ist ON ist.technique = t.stix_id"
			       " WHERE t.external_id = ? ORDER BY 1", -1, &st, NULL) != SQLITE_OK)
		return;
	for (size_t i = 0; i < techniques->n; i++) {
		sqlite3_bind_text(st, 1, techniques->v[i], -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			long long users = sqlite3_column_int64(st, 1);
			double rarity = a->nsets > 1 && users > 0 ? log((double)a->nsets / (double)users) / log((double)a->nsets) : 0;
			bw_buf w = {0};
			bw_buf_printf(&w, "technique %s, used by %lld of %zu intrusion sets (rarity %.2f)", techniques->v[i],
				      users, a->nsets, rarity);
			credit(a, (const char *)sqlite3_column_text(st, 0), EV_TECHNIQUE, W_TECHNIQUE * rarity, w.data,
			       techniques->v[i]);
			bw_buf_free(&w);
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

/* Analysts' words for how far the evidence goes. */
static const char *confidence(const candidate *c)
{
	double infra = c->infra + 1e-9; /* three thirds make one */
	if (c->indicators >= 3 && (g_hash_table_size(c->types) >= 2 || infra >= 1))
		return "high";
	if (c->indicators >= 2 && infra >= 1)
		return "high";
	if (c->indicators >= 1 || infra >= 2)
		return "moderate";
	return "low";
}

static gint cmp_candidate(gconstpointer x, gconstpointer y)
{
	const candidate *a = *(candidate *const *)x, *b = *(candidate *const *)y;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Technique-only candidates shown, of the many that share common techniques. */
#define TECHNIQUE_ONLY_SHOWN 5

static void write_candidate(bw_buf *b, const candidate *c, size_t rank, bool json)
{
	static const char *const section[] = {"indicator overlap", "infrastructure overlap", "technique overlap"};
	static const char *const key[] = {"indicators", "infrastructure", "techniques"};
	if (json) {
		bw_buf_puts(b, "{\"intrusion_set\":");
		bw_json_string(b, c->stix_id);
		bw_buf_puts(b, ",\"name\":");
		bw_json_string(b, c->name);
		bw_buf_printf(b, ",\"aliases\":%s,\"confidence\":\"%s\",\"score\":%.2f,\"evidence\":{",
			      c->aliases ? c->aliases : "[]", confidence(c), c->score);
		for (int k = 0; k < 3; k++) {
			bw_buf_printf(b, "%s\"%s\":[", k ? "," : "", key[k]);
			for (size_t i = 0; i < c->evidence[k].n; i++) {
				if (i)
					bw_buf_putc(b, ',');
				bw_json_string(b, c->evidence[k].v[i]);
			}
			bw_buf_putc(b, ']');
		}
		bw_buf_puts(b, "}}");
		return;
	}
	bw_buf_printf(b, "  %zu. candidate %s", rank, c->name);
	if (c->aliases && strcmp(c->aliases, "[]") != 0)
		bw_buf_printf(b, " (aliases %s)", c->aliases);
	bw_buf_printf(b, ": %s confidence (score %.2f)\n", confidence(c), c->score);
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < c->evidence[k].n; i++)
			bw_buf_printf(b, "       %s: %s\n", section[k], c->evidence[k].v[i]);
}

static int lookup_observables(attribution *a, sqlite3 *store, const char *campaign, bw_strvec *techniques,
			      char **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store,
			       "SELECT f.kind, f.value, count(*) FROM feature f JOIN message_feature mf ON mf.feature = f.id"
			       " JOIN campaign_member cm ON cm.message = mf.message WHERE cm.campaign = ?"
			       " GROUP BY f.id ORDER BY 3 DESC, 1, 2", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(store, "reading the campaign", error);
	sqlite3_bind_text(st, 1, campaign, -1, SQLITE_TRANSIENT);
	time_t now = time(NULL);
	for (size_t n = 0; n < MAX_LOOKUPS && sqlite3_step(st) == SQLITE_ROW; n++) {
		a->kind = (const char *)sqlite3_column_text(st, 0);
		a->value = (const char *)sqlite3_column_text(st, 1);
		a->messages = sqlite3_column_int64(st, 2);
		bw_obs_type t = obs_type_of(a->kind, a->value);
		if (t != BW_OBS_NONE)
			bw_intel_match(a->matcher, t, a->value, now, on_hit, a);
		if (strcmp(a->kind, "relay-ip") == 0)
			relay_neighbours(a, a->value);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(store,
			       "SELECT DISTINCT f.attack FROM finding f JOIN campaign_member cm ON cm.message = f.message"
			       " WHERE cm.campaign = ? AND f.attack <> ''", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(store, "reading the campaign", error);
	sqlite3_bind_text(st, 1, campaign, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char **ids = g_strsplit((const char *)sqlite3_column_text(st, 0), ",", -1);
		for (char **t = ids; *t; t++)
			if (**t && !bw_strvec_contains(techniques, *t))
				bw_strvec_push(techniques, *t);
		g_strfreev(ids);
	}
	sqlite3_finalize(st);
	return 0;
}

int bw_attribute(bw_store *s, const char *campaign_arg, const char *intel_db, bool json, FILE *out,
		 char **error)
{
	char *campaign = bw_campaign_resolve(s, campaign_arg);
	if (!campaign) {
		*error = bw_xasprintf("no campaign \"%s\" in the store (run bulwark campaigns)", campaign_arg);
		return -1;
	}
	attribution a = {0};
	int rc = -1;
	bw_strvec techniques = {0};
	GPtrArray *ranked = NULL;
	a.candidates = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, candidate_free);
	a.matcher = intel_db ? bw_intel_open(intel_db, false, error) : NULL;
	if (!intel_db)
		*error = bw_xstrdup("no intel database (bulwark intel import, or --db)");
	if (!a.matcher)
		goto out;
	if (sqlite3_open_v2(intel_db, &a.intel, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		bw_store_fail(a.intel, intel_db, error);
		goto out;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(a.intel, "SELECT count(*) FROM intrusion_set", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			a.nsets = (size_t)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	if (lookup_observables(&a, bw_store_db(s), campaign, &techniques, error) < 0)
		goto out;
	technique_overlap(&a, &techniques);

	ranked = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;
	g_hash_table_iter_init(&it, a.candidates);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(ranked, v);
	g_ptr_array_sort(ranked, cmp_candidate);
	/* the strongest candidates with more than techniques, then a few
	 * technique-only ones, labelled as such */
	size_t strong = 0;
	for (guint i = 0; i < ranked->len; i++) {
		candidate *c = g_ptr_array_index(ranked, i);
		strong += c->indicators + c->infra > 0;
	}
	const candidate *top = ranked->len ? g_ptr_array_index(ranked, 0) : NULL;
	const candidate *second = ranked->len > 1 ? g_ptr_array_index(ranked, 1) : NULL;
	bool enough = top && top->indicators + top->infra > 0 && strcmp(confidence(top), "low") != 0;
	bool tied = enough && second && second->indicators + second->infra > 0 &&
		    strcmp(confidence(top), confidence(second)) == 0 && second->score >= top->score * 0.8;
	bw_buf b = {0};
	bw_buf assessment = {0};
	if (!enough)
		bw_buf_printf(&assessment, "The evidence is not enough to attribute this campaign: %s",
			      strong ? "infrastructure overlap alone is weak and nothing matched an indicator of an "
				       "intrusion set."
				     : "no observable of its messages matched an indicator related to an intrusion set, and "
				       "shared ATT&CK techniques are common to many intrusion sets.");
	else if (tied)
		bw_buf_printf(&assessment,
			      "The evidence points to more than one intrusion set with similar weight (%s and %s, %s "
			      "confidence); it does not tell them apart.",
			      top->name, second->name, confidence(top));
	else
		bw_buf_printf(&assessment,
			      "The campaign is most consistent with the intrusion set %s, with %s confidence: an assessment "
			      "from the evidence listed, not a certainty.",
			      top->name, confidence(top));
	if (json) {
		bw_buf_puts(&b, "{\"campaign\":");
		bw_json_string(&b, campaign);
		bw_buf_printf(&b, ",\"intrusion_sets_compared\":%zu,\"enough_evidence\":%s,\"assessment\":", a.nsets,
			      enough ? "true" : "false");
		bw_json_string(&b, assessment.data);
		bw_buf_puts(&b, ",\"candidates\":[");
	} else {
		bw_buf_printf(&b, "Attribution of campaign %s against %zu intrusion sets (%s)\n%s\n", campaign, a.nsets,
			      intel_db, assessment.data);
		bw_buf_puts(&b, strong ? "\nCandidates with indicator or infrastructure evidence:\n" : "");
	}
	size_t shown = 0, technique_only = 0;
	for (guint i = 0; i < ranked->len; i++) {
		candidate *c = g_ptr_array_index(ranked, i);
		bool only_techniques = c->indicators + c->infra == 0;
		if (only_techniques && technique_only++ >= TECHNIQUE_ONLY_SHOWN)
			continue;
		if (only_techniques && technique_only == 1 && !json)
			bw_buf_puts(&b, "\nShared techniques only (common to many sets: not evidence of attribution on "
					"their own):\n");
		if (json && shown)
			bw_buf_putc(&b, ',');
		write_candidate(&b, c, ++shown, json);
	}
	if (json) {
		bw_buf_puts(&b, "],\"unrelated_indicator_matches\":[");
		for (size_t i = 0; i < a.unrelated.n; i++) {
			if (i)
				bw_buf_putc(&b, ',');
			bw_json_string(&b, a.unrelated.v[i]);
		}
		bw_buf_puts(&b, "]}\n");
	} else {
		if (!shown)
			bw_buf_puts(&b, "\nNo intrusion set shares anything with this campaign.\n");
		for (size_t i = 0; i < a.unrelated.n; i++)
			bw_buf_printf(&b, "%s  indicator match related to no intrusion set: %s\n", i ? "" : "\n",
				      a.unrelated.v[i]);
	}
	fwrite(b.data, 1, b.len, out);
	bw_buf_free(&b);
	bw_buf_free(&assessment);
	rc = 0;
out:
	if (ranked)
		g_ptr_array_free(ranked, true);
	bw_strvec_free(&techniques);
	bw_strvec_free(&a.unrelated);
	g_hash_table_destroy(a.candidates);
	bw_intel_close(a.matcher);
	sqlite3_close(a.intel);
	free(campaign);
	return rc;
}
