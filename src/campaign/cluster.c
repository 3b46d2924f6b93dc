/* Campaign grouping: union-find over stored messages linked by strong shared
 * features (tracker templates, sending domains, relay /24s, link domains,
 * attachment hashes) and by near-duplicate subjects and bodies (SimHash,
 * banded LSH), then stable campaign ids persisted in the store. Every run
 * regroups all messages from the store, so the result depends only on what is
 * stored, never on the order it was scanned in; memory is a few tens of bytes
 * per message (design target: 1,000,000 messages in 2 GB). */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/report.h"
#include "campaign/campaign.h"

/* ---- shared infrastructure list ---- */

struct bw_shared_infra {
	GHashTable *domains;
};

bw_shared_infra *bw_shared_infra_load(const char *path, char **error)
{
	char *text = NULL;
	GError *err = NULL;
	if (!g_file_get_contents(path, &text, NULL, &err)) {
		*error = bw_xasprintf("shared infrastructure list: %s", err->message);
		g_error_free(err);
		return NULL;
	}
	bw_shared_infra *s = bw_xcalloc(1, sizeof *s);
	s->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	char **lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		char *hash = strchr(*l, '#');
		if (hash)
			*hash = '\0';
		char *d = g_strstrip(*l);
		if (*d) {
			bw_ascii_lower(d);
			g_hash_table_add(s->domains, g_strdup(d));
		}
	}
	g_strfreev(lines);
	g_free(text);
	return s;
}

void bw_shared_infra_free(bw_shared_infra *s)
{
	if (!s)
		return;
	g_hash_table_destroy(s->domains);
	free(s);
}

bool bw_shared_infra_has(const bw_shared_infra *s, const char *host)
{
	for (const char *p = host; p; p = strchr(p, '.')) {
		if (*p == '.')
			p++;
		if (g_hash_table_contains(s->domains, p))
			return true;
	}
	return false;
}

void bw_format_time(bw_buf *b, long long t, bool date_only)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char s[40];
	strftime(s, sizeof s, date_only ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	bw_buf_puts(b, s);
}

void bw_campaign_options_default(bw_campaign_options *o)
{
	memset(o, 0, sizeof *o);
	o->subject_distance = 3;
	o->body_distance = 3;
	o->min_messages = 2;
}

/* ---- grouping ---- */

/* The feature kinds that link messages, and how a reason is worded. */
static const struct link_kind {
	const char *kind;
	bool check_shared;   /* not when the value is shared infrastructure */
	bool weak;           /* links only in pairs, and not when too common (COMMON_SHARE) */
} link_kinds[] = {
	{"tracker-template", true, false},
	{"return-path-domain", true, false},
	{"dkim-domain", true, false},
	{"relay-net", false, false}, /* but not for messages sent through shared infrastructure */
	{"link-domain", true, true},
	{"resource-domain", true, true},
	{"attachment-sha256", false, false},
};

/* A link or image domain in more than this share of all messages (and more
 * than COMMON_MIN of them) is a platform that no list names yet (an image
 * host, a brand everybody links to), not a campaign's own: it would chain
 * unrelated campaigns into one. */
#define COMMON_SHARE 0.005
#define COMMON_MIN 10
#define NLINK_KINDS (sizeof link_kinds / sizeof link_kinds[0])
#define RELAY_NET 3

/* Feature kinds that say a message was sent through a shared provider. */
static bool sending_kind(const char *k)
{
	return strcmp(k, "return-path-domain") == 0 || strcmp(k, "dkim-domain") == 0 ||
	       strcmp(k, "relay-domain") == 0;
}

enum { LINK_SUBJECT = 1, LINK_BODY = 2, LINK_FEATURE = 4 };

typedef struct feature_link {
	sqlite3_int64 feature;
	uint32_t first;      /* a message carrying it */
	uint32_t messages;
	uint8_t kind;        /* index into link_kinds */
} feature_link;

typedef struct grouping {
	size_t n;
	sqlite3_int64 *rowid;
	long long *seen;
	uint32_t *parent;
	uint16_t *linked;    /* LINK_*, and LINK_FEATURE << kind */
	uint8_t *via_shared; /* sent through shared infrastructure */
	feature_link *links;
	size_t nlinks, caplinks;
	size_t common_skipped;  /* weak features not linked because too common */
} grouping;

/* qsort, which must not be given a NULL array even when it is empty. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

/* The smaller index wins, so roots do not depend on the order of unions. */
static void uf_union(uint32_t *p, uint32_t a, uint32_t b)
{
	a = uf_find(p, a);
	b = uf_find(p, b);
	if (a < b)
		p[b] = a;
	else if (b < a)
		p[a] = b;
}

static int64_t msg_index(const grouping *g, sqlite3_int64 rowid)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (g->rowid[mid] < rowid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && g->rowid[lo] == rowid ? (int64_t)lo : -1;
}

typedef struct simrec {
	uint64_t h;
	uint32_t msg;
} simrec;

static int cmp_simrec(const void *a, const void *b)
{
	const simrec *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->msg < y->msg ? -1 : x->msg > y->msg;
}

static int band_of;

static int cmp_band(const void *a, const void *b)
{
	const simrec *x = a, *y = b;
	uint64_t bx = (x->h >> (16 * band_of)) & 0xffff, by = (y->h >> (16 * band_of)) & 0xffff;
	if (bx != by)
		return bx < by ? -1 : 1;
	return cmp_simrec(a, b);
}

/* Compare each distinct value with at most this many following values of its
 * band bucket: a bucket holding thousands of variants of one template would
 * otherwise cost its square. The variants still chain through neighbours. */
#define LSH_NEIGHBOURS 64

/* Links messages whose fingerprints differ in at most k bits (k <= 3): four
 * 16-bit bands, so two such fingerprints agree exactly on at least one band
 * (pigeonhole); only values sharing a band bucket are compared. */
static void link_simhash(grouping *g, simrec *recs, size_t n, int k, uint16_t flag)
{
	if (n < 2)
		return;
	sort(recs, n, sizeof *recs, cmp_simrec);
	size_t nu = 0;
	for (size_t i = 0; i < n; i++) {
		if (nu && recs[nu - 1].h == recs[i].h) {
			uf_union(g->parent, recs[nu - 1].msg, recs[i].msg);
			g->linked[recs[nu - 1].msg] |= flag;
			g->linked[recs[i].msg] |= flag;
			continue;
		}
		recs[nu++] = recs[i];
	}
	for (int band = 0; band < 4; band++) {
		band_of = band;
		sort(recs, nu, sizeof *recs, cmp_band);
		for (size_t i = 0; i < nu; i++) {
			uint64_t key = (recs[i].h >> (16 * band)) & 0xffff;
			for (size_t j = i + 1; j < nu && j <= i + LSH_NEIGHBOURS; j++) {
				if (((recs[j].h >> (16 * band)) & 0xffff) != key)
					break;
				if (bw_hamming64(recs[i].h, recs[j].h) <= k) {
					uf_union(g->parent, recs[i].msg, recs[j].msg);
					g->linked[recs[i].msg] |= flag;
					g->linked[recs[j].msg] |= flag;
				}
			}
		}
	}
}

static int load_messages(sqlite3 *db, grouping *g, simrec **subj, size_t *nsubj, simrec **body,
			 size_t *nbody, char **error)
{
	sqlite3_stmt *st;
	sqlite3_int64 count = 0;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM message", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "counting messages", error);
	if (sqlite3_step(st) == SQLITE_ROW)
		count = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (count >= UINT32_MAX) {
		*error = bw_xstrdup("store: too many messages to group (at most 2^32)");
		return -1;
	}
	size_t n = (size_t)count;
	g->rowid = bw_xmalloc((n + 1) * sizeof *g->rowid);
	g->seen = bw_xmalloc((n + 1) * sizeof *g->seen);
	*subj = bw_xmalloc((n + 1) * sizeof **subj);
	*body = bw_xmalloc((n + 1) * sizeof **body);
	if (sqlite3_prepare_v2(db, "SELECT id, seen, sim_subject, sim_body FROM message ORDER BY id", -1,
			       &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading messages", error);
	size_t i = 0;
	while (i < n && sqlite3_step(st) == SQLITE_ROW) {
		g->rowid[i] = sqlite3_column_int64(st, 0);
		g->seen[i] = sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			(*subj)[(*nsubj)++] = (simrec){(uint64_t)sqlite3_column_int64(st, 2), (uint32_t)i};
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			(*body)[(*nbody)++] = (simrec){(uint64_t)sqlite3_column_int64(st, 3), (uint32_t)i};
		i++;
	}
	sqlite3_finalize(st);
	g->n = i;
	g->parent = bw_xmalloc((i + 1) * sizeof *g->parent);
	for (size_t k = 0; k < i; k++)
		g->parent[k] = (uint32_t)k;
	g->linked = bw_xcalloc(i + 1, sizeof *g->linked);
	g->via_shared = bw_xcalloc(i + 1, 1);
	return 0;
}

/* Feature ids that link (sorted, with their kind), and the messages sent
 * through shared infrastructure. */
typedef struct linkable {
	sqlite3_int64 *id;
	uint8_t *kind;
	size_t n, cap;
} linkable;

/* kind is in the comma-separated list (NULL: every kind). */
static bool kind_enabled(const char *list, const char *kind)
{
	if (!list)
		return true;
	size_t n = strlen(kind);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, kind, n) == 0)
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

static int find_linkable(sqlite3 *db, grouping *g, const bw_shared_infra *shared, const char *enabled,
			 linkable *out, char **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT id, kind, value FROM feature ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading features", error);
	GArray *shared_senders = g_array_new(false, false, sizeof(sqlite3_int64));
	size_t capkind = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		const char *value = (const char *)sqlite3_column_text(st, 2);
		if (!kind || !value)
			continue;
		/* a tracker template is "host/path?query": its host decides */
		char host[256];
		size_t hl = strcspn(value, "/?");
		snprintf(host, sizeof host, "%.*s", (int)(hl < 255 ? hl : 255), value);
		/* a domain without a dot ("correios") is a forgery, not infrastructure */
		bool is_shared = bw_shared_infra_has(shared, host) || !strchr(host, '.');
		if (sending_kind(kind) && is_shared)
			g_array_append_val(shared_senders, id);
		for (size_t k = 0; k < NLINK_KINDS; k++) {
			if (strcmp(kind, link_kinds[k].kind) != 0)
				continue;
			if ((link_kinds[k].check_shared && is_shared) || !kind_enabled(enabled, kind))
				break;
			bw_grow((void **)&out->id, &out->cap, out->n + 1, sizeof *out->id);
			bw_grow((void **)&out->kind, &capkind, out->n + 1, sizeof *out->kind);
			out->id[out->n] = id;
			out->kind[out->n++] = (uint8_t)k;
			break;
		}
	}
	sqlite3_finalize(st);
	int rc = 0;
	if (sqlite3_prepare_v2(db, "SELECT message FROM message_feature WHERE feature=?", -1, &st, NULL) != SQLITE_OK) {
		rc = bw_store_fail(db, "reading features", error);
	} else {
		for (guint i = 0; i < shared_senders->len; i++) {
			sqlite3_bind_int64(st, 1, g_array_index(shared_senders, sqlite3_int64, i));
			while (sqlite3_step(st) == SQLITE_ROW) {
				int64_t m = msg_index(g, sqlite3_column_int64(st, 0));
				if (m >= 0)
					g->via_shared[m] = 1;
			}
			sqlite3_reset(st);
		}
		sqlite3_finalize(st);
	}
	g_array_free(shared_senders, true);
	return rc;
}

static void add_link(grouping *g, sqlite3_int64 feature, uint8_t kind, const uint32_t *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uf_union(g->parent, msgs[0], msgs[i]);
		g->linked[msgs[i]] |= (uint16_t)(LINK_FEATURE << kind);
	}
	bw_grow((void **)&g->links, &g->caplinks, g->nlinks + 1, sizeof *g->links);
	g->links[g->nlinks++] = (feature_link){feature, msgs[0], (uint32_t)n, kind};
}

/* A weak feature carried by one message: linked later, in pairs. */
typedef struct weak_ref {
	uint32_t msg;
	uint32_t carriers;   /* messages carrying the feature: fewer is more specific */
	uint8_t kind;
	sqlite3_int64 feature;
} weak_ref;

typedef struct weak_refs {
	weak_ref *v;
	size_t n, cap;
} weak_refs;

static void finish_run(grouping *g, weak_refs *weak, sqlite3_int64 feature, uint8_t kind,
		       const uint32_t *msgs, size_t n)
{
	if (n < 2)
		return;
	if (!link_kinds[kind].weak) {
		add_link(g, feature, kind, msgs, n);
		return;
	}
	if (n > COMMON_MIN && (double)n > COMMON_SHARE * (double)g->n) {
		g->common_skipped++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bw_grow((void **)&weak->v, &weak->cap, weak->n + 1, sizeof *weak->v);
		weak->v[weak->n++] = (weak_ref){msgs[i], (uint32_t)n, kind, feature};
	}
}

static int cmp_weak(const void *a, const void *b)
{
	const weak_ref *x = a, *y = b;
	if (x->msg != y->msg)
		return x->msg < y->msg ? -1 : 1;
	if (x->carriers != y->carriers)
		return x->carriers < y->carriers ? -1 : 1;
	return (x->feature > y->feature) - (x->feature < y->feature);
}

typedef struct weak_pair {
	sqlite3_int64 a, b;  /* feature ids, a < b */
	uint32_t msg;
	uint8_t kind_a, kind_b;
} weak_pair;

static int cmp_pair(const void *x, const void *y)
{
	const weak_pair *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return (p->msg > q->msg) - (p->msg < q->msg);
}

/* Per message, the most specific this many weak features form pairs (at
 * most 28, 24 bytes each: bounded memory for a million messages). */
#define WEAK_PER_MESSAGE 8

/* One shared link or image domain is weak evidence: an attacker and a
 * newsletter both link to the same brand, image host or shortener, and
 * single-linkage would chain unrelated campaigns through it. Two shared
 * (the landing domain and the image host, or the same domain as link and
 * image) link messages. Pairs are compound keys, so this stays a sort. */
static void link_weak_pairs(grouping *g, weak_refs *weak)
{
	sort(weak->v, weak->n, sizeof *weak->v, cmp_weak);
	weak_pair *pairs = NULL;
	size_t np = 0, cap = 0;
	for (size_t i = 0; i < weak->n;) {
		size_t j = i;
		while (j < weak->n && weak->v[j].msg == weak->v[i].msg)
			j++;
		size_t end = j - i > WEAK_PER_MESSAGE ? i + WEAK_PER_MESSAGE : j;
		for (size_t x = i; x < end; x++)
			for (size_t y = x + 1; y < end; y++) {
				const weak_ref *p = &weak->v[x], *q = &weak->v[y];
				if (p->feature > q->feature) {
					const weak_ref *t = p;
					p = q;
					q = t;
				}
				bw_grow((void **)&pairs, &cap, np + 1, sizeof *pairs);
				pairs[np++] = (weak_pair){p->feature, q->feature, p->msg, p->kind, q->kind};
			}
		i = j;
	}
	sort(pairs, np, sizeof *pairs, cmp_pair);
	uint32_t *run = bw_xmalloc((np + 1) * sizeof *run);
	for (size_t i = 0; i < np;) {
		size_t j = i;
		while (j < np && pairs[j].a == pairs[i].a && pairs[j].b == pairs[i].b)
			j++;
		if (j - i >= 2) {
			for (size_t k = i; k < j; k++)
				run[k - i] = pairs[k].msg;
			add_link(g, pairs[i].a, pairs[i].kind_a, run, j - i);
			add_link(g, pairs[i].b, pairs[i].kind_b, run, j - i);
		}
		i = j;
	}
	free(run);
	free(pairs);
}

/* One pass over message_feature in its primary-key order (feature, message). */
static int link_features(sqlite3 *db, grouping *g, const linkable *lk, char **error)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT feature, message FROM message_feature ORDER BY feature, message",
			       -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading observables", error);
	size_t li = 0;
	sqlite3_int64 cur = -1;
	uint8_t cur_kind = 0;
	bool cur_linkable = false;
	uint32_t *run = NULL;
	size_t nrun = 0, caprun = 0;
	weak_refs weak = {0};
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 f = sqlite3_column_int64(st, 0);
		if (f != cur) {
			if (cur_linkable)
				finish_run(g, &weak, cur, cur_kind, run, nrun);
			nrun = 0;
			cur = f;
			while (li < lk->n && lk->id[li] < f)
				li++;
			cur_linkable = li < lk->n && lk->id[li] == f;
			cur_kind = cur_linkable ? lk->kind[li] : 0;
		}
		if (!cur_linkable)
			continue;
		int64_t m = msg_index(g, sqlite3_column_int64(st, 1));
		if (m < 0 || (cur_kind == RELAY_NET && g->via_shared[m]))
			continue;
		bw_grow((void **)&run, &caprun, nrun + 1, sizeof *run);
		run[nrun++] = (uint32_t)m;
	}
	if (cur_linkable)
		finish_run(g, &weak, cur, cur_kind, run, nrun);
	free(run);
	sqlite3_finalize(st);
	link_weak_pairs(g, &weak);
	free(weak.v);
	return 0;
}

/* ---- campaigns and their persisted ids ---- */

typedef struct campaign {
	uint32_t root;
	uint32_t size;
	uint32_t earliest;   /* message index: earliest seen, then lowest rowid */
	char *id;
	long long first, last;
} campaign;

/* Output order: biggest first, then by id. */
static int cmp_campaign(const void *a, const void *b)
{
	const campaign *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Before ids exist: biggest first, then earliest message. */
static int cmp_campaign_new(const void *a, const void *b)
{
	const campaign *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return (x->earliest > y->earliest) - (x->earliest < y->earliest);
}

/* Sorts the campaigns and points every member's index at its new place. */
static void sort_campaigns(campaign *cs, size_t nc, int (*cmp)(const void *, const void *),
			   grouping *g, uint32_t *cidx)
{
	sort(cs, nc, sizeof *cs, cmp);
	uint32_t *by_root = bw_xmalloc((g->n + 1) * sizeof *by_root);
	for (size_t c = 0; c < nc; c++)
		by_root[cs[c].root] = (uint32_t)c;
	for (size_t m = 0; m < g->n; m++)
		if (cidx[m] != UINT32_MAX)
			cidx[m] = by_root[uf_find(g->parent, (uint32_t)m)];
	free(by_root);
}

static char *new_campaign_id(sqlite3 *db, sqlite3_int64 rowid)
{
	sqlite3_stmt *st;
	char *id = NULL;
	if (sqlite3_prepare_v2(db, "SELECT message_id, body_hash FROM message WHERE id=?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, rowid);
		if (sqlite3_step(st) == SQLITE_ROW) {
			bw_buf b = {0};
			bw_buf_printf(&b, "%s\n%s", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
			char *h = g_compute_checksum_for_string(G_CHECKSUM_SHA256, b.data, -1);
			bw_buf_reset(&b);
			bw_buf_printf(&b, "c-%.16s", h);
			id = bw_buf_steal(&b);
			g_free(h);
			bw_buf_free(&b);
		}
		sqlite3_finalize(st);
	}
	return id;
}

/* Existing ids are kept: a campaign that grows keeps its id; when two merge,
 * the older id (first created) stays and the other becomes an alias. */
static int assign_ids(sqlite3 *db, grouping *g, campaign *cs, size_t nc, const uint32_t *cidx, char **error)
{
	sqlite3_stmt *st;
	/* campaign id -> creation order */
	GHashTable *seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_int64 maxseq = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, seq FROM campaign", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading campaigns", error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		sqlite3_int64 s = sqlite3_column_int64(st, 1);
		g_hash_table_insert(seq, g_strdup((const char *)sqlite3_column_text(st, 0)), GINT_TO_POINTER((gint)s));
		if (s > maxseq)
			maxseq = s;
	}
	sqlite3_finalize(st);
	char **old = bw_xcalloc(g->n + 1, sizeof *old); /* message -> its stored campaign */
	if (sqlite3_prepare_v2(db, "SELECT message, campaign FROM campaign_member", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading campaign members", error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t m = msg_index(g, sqlite3_column_int64(st, 0));
		if (m >= 0)
			old[m] = bw_xstrdup((const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);

	const char **best = bw_xcalloc(nc + 1, sizeof *best);
	gint *best_seq = bw_xcalloc(nc + 1, sizeof *best_seq);
	for (size_t m = 0; m < g->n; m++) {
		uint32_t c = cidx[m];
		if (c == UINT32_MAX || !old[m])
			continue;
		gpointer v;
		if (!g_hash_table_lookup_extended(seq, old[m], NULL, &v))
			continue;
		if (!best[c] || GPOINTER_TO_INT(v) < best_seq[c]) {
			best[c] = old[m];
			best_seq[c] = GPOINTER_TO_INT(v);
		}
	}
	GHashTable *used = g_hash_table_new(g_str_hash, g_str_equal);
	int rc = 0;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *add = NULL, *alias = NULL, *member = NULL, *drop = NULL;
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO campaign(id, created, seq) VALUES(?,?,?)", -1, &add, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO campaign_alias(old, campaign) VALUES(?,?)", -1, &alias, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO campaign_member(message, campaign) VALUES(?,?)", -1, &member, NULL) ||
	    sqlite3_prepare_v2(db, "DELETE FROM campaign WHERE id=?", -1, &drop, NULL)) {
		rc = bw_store_fail(db, "writing campaigns", error);
		goto out;
	}
	/* biggest first, so that when a campaign splits the bigger part keeps the id */
	for (size_t c = 0; c < nc; c++) {
		if (best[c] && !g_hash_table_contains(used, best[c])) {
			cs[c].id = bw_xstrdup(best[c]);
		} else {
			cs[c].id = new_campaign_id(db, g->rowid[cs[c].earliest]);
			if (!cs[c].id || g_hash_table_contains(used, cs[c].id)) {
				free(cs[c].id);
				cs[c].id = bw_xasprintf("c-m%lld", (long long)g->rowid[cs[c].earliest]);
			}
			sqlite3_bind_text(add, 1, cs[c].id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(add, 2, (sqlite3_int64)time(NULL));
			sqlite3_bind_int64(add, 3, ++maxseq);
			sqlite3_step(add);
			sqlite3_reset(add);
		}
		g_hash_table_add(used, cs[c].id);
	}
	for (size_t m = 0; m < g->n; m++) {
		uint32_t c = cidx[m];
		if (c == UINT32_MAX)
			continue;
		if (old[m] && strcmp(old[m], cs[c].id) == 0)
			continue;
		if (old[m] && !g_hash_table_contains(used, old[m])) {
			sqlite3_bind_text(alias, 1, old[m], -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(alias, 2, cs[c].id, -1, SQLITE_TRANSIENT);
			sqlite3_step(alias);
			sqlite3_reset(alias);
			sqlite3_bind_text(drop, 1, old[m], -1, SQLITE_TRANSIENT);
			sqlite3_step(drop);
			sqlite3_reset(drop);
		}
		sqlite3_bind_int64(member, 1, g->rowid[m]);
		sqlite3_bind_text(member, 2, cs[c].id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(member) != SQLITE_DONE)
			rc = bw_store_fail(db, "writing campaign members", error);
		sqlite3_reset(member);
		if (rc)
			break;
	}
out:
	sqlite3_finalize(add);
	sqlite3_finalize(alias);
	sqlite3_finalize(member);
	sqlite3_finalize(drop);
	sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	g_hash_table_destroy(used);
	free(best);
	free(best_seq);
	for (size_t m = 0; m < g->n; m++)
		free(old[m]);
	free(old);
	g_hash_table_destroy(seq);
	return rc;
}

static void grouping_free(grouping *g)
{
	free(g->rowid);
	free(g->seen);
	free(g->parent);
	free(g->linked);
	free(g->via_shared);
	free(g->links);
}

/* ---- the run and its report ---- */

static const char *const link_reason[] = {
	"same tracker host and path template", "same Return-Path domain", "same DKIM d= domain",
	"same first external relay /24", "same link domain", "same resource domain",
	"same attachment (SHA-256)",
};

/* Shared indicators listed and persisted per campaign. */
#define MAX_INDICATORS 50

static int cmp_link(const void *a, const void *b, void *arg)
{
	const feature_link *x = a, *y = b;
	const uint32_t *cidx = arg;
	uint32_t cx = cidx[x->first], cy = cidx[y->first];
	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return (x->feature > y->feature) - (x->feature < y->feature);
}

/* The shared indicators of every campaign (campaign_reason), for the report,
 * attribution and export. g->links ends up sorted by campaign. */
static int persist_reasons(sqlite3 *db, grouping *g, const campaign *cs, size_t nc,
			   const uint32_t *cidx, char **error)
{
	(void)cs;
	size_t keep = 0;
	for (size_t i = 0; i < g->nlinks; i++)
		if (cidx[g->links[i].first] != UINT32_MAX)
			g->links[keep++] = g->links[i];
	g->nlinks = keep;
	if (g->nlinks > 1)
		g_qsort_with_data(g->links, (gint)g->nlinks, sizeof *g->links, cmp_link, (void *)cidx);
	sqlite3_stmt *get = NULL, *put = NULL;
	int rc = 0;
	sqlite3_exec(db, "BEGIN; DELETE FROM campaign_reason", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT kind, value FROM feature WHERE id=?", -1, &get, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO campaign_reason(campaign, kind, value, messages) VALUES(?,?,?,?)",
			       -1, &put, NULL)) {
		rc = bw_store_fail(db, "writing campaign reasons", error);
	} else {
		uint32_t prev = UINT32_MAX;
		size_t listed = 0;
		sqlite3_int64 shown[MAX_INDICATORS];
		for (size_t i = 0; i < g->nlinks && rc == 0; i++) {
			uint32_t c = cidx[g->links[i].first];
			if (c != prev)
				listed = 0;
			prev = c;
			if (listed >= MAX_INDICATORS || c >= nc)
				continue;
			/* a weak feature appears once per pair it formed: the biggest counts */
			bool dup = false;
			for (size_t k = 0; k < listed; k++)
				dup |= shown[k] == g->links[i].feature;
			if (dup)
				continue;
			shown[listed++] = g->links[i].feature;
			sqlite3_bind_int64(get, 1, g->links[i].feature);
			if (sqlite3_step(get) == SQLITE_ROW) {
				sqlite3_bind_text(put, 1, cs[c].id, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(put, 2, (const char *)sqlite3_column_text(get, 0), -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(put, 3, (const char *)sqlite3_column_text(get, 1), -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(put, 4, g->links[i].messages);
				if (sqlite3_step(put) != SQLITE_DONE)
					rc = bw_store_fail(db, "writing campaign reasons", error);
				sqlite3_reset(put);
			}
			sqlite3_reset(get);
		}
	}
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	sqlite3_exec(db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return rc;
}

/* (campaign, 64-bit key) pairs: distinct counts and per-day counts. */
typedef struct ckey {
	uint32_t c;
	uint64_t key;
	const char *text; /* sender address, or NULL */
} ckey;

static int cmp_ckey(const void *a, const void *b)
{
	const ckey *x = a, *y = b;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	return (x->key > y->key) - (x->key < y->key);
}

typedef struct ckeys {
	ckey *v;
	size_t n, cap;
} ckeys;

static void ckeys_add(ckeys *k, uint32_t c, uint64_t key, const char *text)
{
	bw_grow((void **)&k->v, &k->cap, k->n + 1, sizeof *k->v);
	k->v[k->n++] = (ckey){c, key, text};
}

/* Start of each campaign's run in a sorted ckeys (nc + 1 offsets). */
static size_t *ckeys_index(ckeys *k, size_t nc)
{
	sort(k->v, k->n, sizeof *k->v, cmp_ckey);
	size_t *start = bw_xcalloc(nc + 2, sizeof *start);
	size_t i = 0;
	for (size_t c = 0; c <= nc; c++) {
		while (i < k->n && k->v[i].c < c)
			i++;
		start[c] = i;
	}
	start[nc + 1] = k->n;
	return start;
}

#define TOP_SENDERS 5
#define EXAMPLES 3

typedef struct report_data {
	ckeys recipients, senders, days;
	size_t *rstart, *sstart, *dstart;
	bw_strvec *attack;      /* per campaign */
	GStringChunk *strings;
	uint32_t (*by_kind)[NLINK_KINDS + 2]; /* per campaign: messages linked by simhash, each kind */
	uint32_t (*examples)[EXAMPLES];       /* per campaign: its first messages, UINT32_MAX-padded */
} report_data;

static uint64_t key_of(const char *s)
{
	return bw_hash64(s, strlen(s), 7);
}

static int collect(sqlite3 *db, const grouping *g, size_t nc, const uint32_t *cidx, report_data *d,
		   char **error)
{
	sqlite3_stmt *st;
	d->strings = g_string_chunk_new(1 << 16);
	if (sqlite3_prepare_v2(db, "SELECT message, key FROM recipient", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading recipients", error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t m = msg_index(g, sqlite3_column_int64(st, 0));
		if (m >= 0 && cidx[m] != UINT32_MAX)
			ckeys_add(&d->recipients, cidx[m], key_of((const char *)sqlite3_column_text(st, 1)), NULL);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT id, coalesce(from_addr, '') FROM message", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading senders", error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t m = msg_index(g, sqlite3_column_int64(st, 0));
		if (m < 0 || cidx[m] == UINT32_MAX)
			continue;
		const char *from = (const char *)sqlite3_column_text(st, 1);
		ckeys_add(&d->senders, cidx[m], key_of(from), g_string_chunk_insert_const(d->strings, from));
	}
	sqlite3_finalize(st);
	d->by_kind = bw_xcalloc(nc + 1, sizeof *d->by_kind);
	d->examples = bw_xmalloc((nc + 1) * sizeof *d->examples);
	memset(d->examples, 0xff, (nc + 1) * sizeof *d->examples);
	for (size_t m = 0; m < g->n; m++) {
		uint32_t c = cidx[m];
		if (c == UINT32_MAX)
			continue;
		ckeys_add(&d->days, c, (uint64_t)(g->seen[m] / 86400), NULL);
		for (size_t k = 0; k < NLINK_KINDS + 2; k++)
			d->by_kind[c][k] += (g->linked[m] & (1u << k)) != 0;
		for (size_t e = 0; e < EXAMPLES; e++)
			if (d->examples[c][e] == UINT32_MAX) {
				d->examples[c][e] = (uint32_t)m;
				break;
			}
	}
	d->attack = bw_xcalloc(nc + 1, sizeof *d->attack);
	if (sqlite3_prepare_v2(db, "SELECT message, attack FROM finding WHERE attack <> ''", -1, &st, NULL) != SQLITE_OK)
		return bw_store_fail(db, "reading findings", error);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t m = msg_index(g, sqlite3_column_int64(st, 0));
		if (m < 0 || cidx[m] == UINT32_MAX)
			continue;
		char **ids = g_strsplit((const char *)sqlite3_column_text(st, 1), ",", -1);
		for (char **t = ids; *t; t++)
			if (**t && !bw_strvec_contains(&d->attack[cidx[m]], *t))
				bw_strvec_push(&d->attack[cidx[m]], *t);
		g_strfreev(ids);
	}
	sqlite3_finalize(st);
	d->rstart = ckeys_index(&d->recipients, nc);
	d->sstart = ckeys_index(&d->senders, nc);
	d->dstart = ckeys_index(&d->days, nc);
	return 0;
}

static void report_data_free(report_data *d, size_t nc)
{
	free(d->recipients.v);
	free(d->senders.v);
	free(d->days.v);
	free(d->rstart);
	free(d->sstart);
	free(d->dstart);
	for (size_t c = 0; d->attack && c < nc; c++)
		bw_strvec_free(&d->attack[c]);
	free(d->attack);
	free(d->by_kind);
	free(d->examples);
	if (d->strings)
		g_string_chunk_free(d->strings);
}

static size_t distinct(const ckeys *k, size_t from, size_t to)
{
	size_t n = 0;
	for (size_t i = from; i < to; i++)
		n += i == from || k->v[i].key != k->v[i - 1].key;
	return n;
}

typedef struct sender_count {
	const char *address;
	size_t messages;
} sender_count;

static int cmp_sender(const void *a, const void *b)
{
	const sender_count *x = a, *y = b;
	if (x->messages != y->messages)
		return x->messages > y->messages ? -1 : 1;
	return strcmp(x->address, y->address);
}


static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report_one(sqlite3 *db, const grouping *g, const campaign *c, size_t ci,
		       const uint32_t *cidx, report_data *d, sqlite3_stmt *reasons,
		       sqlite3_stmt *example, bool json, bw_buf *b)
{
	size_t nrcpt = distinct(&d->recipients, d->rstart[ci], d->rstart[ci + 1]);
	/* senders by message count */
	size_t s0 = d->sstart[ci], s1 = d->sstart[ci + 1];
	sender_count *sc = bw_xmalloc((s1 - s0 + 1) * sizeof *sc);
	size_t nsc = 0;
	for (size_t i = s0; i < s1; i++) {
		if (i > s0 && d->senders.v[i].key == d->senders.v[i - 1].key)
			sc[nsc - 1].messages++;
		else
			sc[nsc++] = (sender_count){d->senders.v[i].text, 1};
	}
	sort(sc, nsc, sizeof *sc, cmp_sender);
	bw_strvec *attack = &d->attack[ci];
	sort(attack->v, attack->n, sizeof *attack->v, strcmp_ptr);
	const uint32_t *by_kind = d->by_kind[ci];
	static const char *const sim_reason[] = {"near-duplicate subject (SimHash)",
						 "near-duplicate body text (SimHash)"};
	static const char *const sim_feature[] = {"subject-simhash", "body-simhash"};
	if (json) {
		bw_buf_puts(b, "{\"id\":");
		bw_json_string(b, c->id);
		bw_buf_printf(b, ",\"messages\":%u,\"first_seen\":\"", c->size);
		bw_format_time(b, c->first, false);
		bw_buf_puts(b, "\",\"last_seen\":\"");
		bw_format_time(b, c->last, false);
		bw_buf_printf(b, "\",\"recipients\":%zu,\"sender_count\":%zu,\"senders\":[", nrcpt, nsc);
		for (size_t i = 0; i < nsc && i < TOP_SENDERS; i++) {
			bw_buf_puts(b, i ? ",{\"address\":" : "{\"address\":");
			bw_json_string(b, sc[i].address);
			bw_buf_printf(b, ",\"messages\":%zu}", sc[i].messages);
		}
		bw_buf_puts(b, "],\"reasons\":[");
		bool first = true;
		for (size_t k = 0; k < NLINK_KINDS + 2; k++) {
			if (!by_kind[k])
				continue;
			bw_buf_puts(b, first ? "{\"reason\":" : ",{\"reason\":");
			first = false;
			bw_json_string(b, k < 2 ? sim_reason[k] : link_reason[k - 2]);
			bw_buf_puts(b, ",\"feature\":");
			bw_json_string(b, k < 2 ? sim_feature[k] : link_kinds[k - 2].kind);
			bw_buf_printf(b, ",\"messages\":%u}", by_kind[k]);
		}
		bw_buf_puts(b, "],\"indicators\":[");
	} else {
		bw_buf_printf(b, "campaign %s: %u messages, %zu recipients, ", c->id, c->size, nrcpt);
		bw_format_time(b, c->first, true);
		bw_buf_puts(b, " .. ");
		bw_format_time(b, c->last, true);
		bw_buf_printf(b, "\n  senders (%zu):", nsc);
		for (size_t i = 0; i < nsc && i < TOP_SENDERS; i++)
			bw_buf_printf(b, "%s %s (%zu)", i ? "," : "", *sc[i].address ? sc[i].address : "(none)",
				      sc[i].messages);
		if (nsc > TOP_SENDERS)
			bw_buf_puts(b, ", ...");
		bw_buf_puts(b, "\n  grouped by:");
		bool first = true;
		for (size_t k = 0; k < NLINK_KINDS + 2; k++) {
			if (!by_kind[k])
				continue;
			bw_buf_printf(b, "%s %s (%u messages)", first ? "" : ";",
				      k < 2 ? sim_reason[k] : link_reason[k - 2], by_kind[k]);
			first = false;
		}
		bw_buf_puts(b, "\n  shared indicators:");
	}
	sqlite3_bind_text(reasons, 1, c->id, -1, SQLITE_TRANSIENT);
	for (int i = 0; sqlite3_step(reasons) == SQLITE_ROW; i++) {
		const char *kind = (const char *)sqlite3_column_text(reasons, 0);
		const char *value = (const char *)sqlite3_column_text(reasons, 1);
		int n = sqlite3_column_int(reasons, 2);
		if (json) {
			bw_buf_puts(b, i ? ",{\"kind\":" : "{\"kind\":");
			bw_json_string(b, kind);
			bw_buf_puts(b, ",\"value\":");
			bw_json_string(b, value);
			bw_buf_printf(b, ",\"messages\":%d}", n);
		} else if (i < 10) {
			bw_buf_printf(b, "\n    %s %s (%d messages)", kind, value, n);
		}
	}
	sqlite3_reset(reasons);
	bw_buf_puts(b, json ? "],\"attack\":[" : "\n  ATT&CK:");
	for (size_t i = 0; i < attack->n; i++) {
		if (json) {
			if (i)
				bw_buf_putc(b, ',');
			bw_json_string(b, attack->v[i]);
		} else {
			bw_buf_printf(b, " %s", attack->v[i]);
		}
	}
	bw_buf_puts(b, json ? "],\"timeline\":[" : "\n  timeline:");
	size_t d0 = d->dstart[ci], d1 = d->dstart[ci + 1];
	for (size_t i = d0; i < d1;) {
		size_t j = i;
		while (j < d1 && d->days.v[j].key == d->days.v[i].key)
			j++;
		if (json) {
			bw_buf_puts(b, i > d0 ? ",{\"date\":\"" : "{\"date\":\"");
			bw_format_time(b, (long long)d->days.v[i].key * 86400, true);
			bw_buf_printf(b, "\",\"messages\":%zu}", j - i);
		} else {
			bw_buf_putc(b, ' ');
			bw_format_time(b, (long long)d->days.v[i].key * 86400, true);
			bw_buf_printf(b, " %zu", j - i);
		}
		i = j;
	}
	bw_buf_puts(b, json ? "],\"examples\":[" : "\n  examples:");
	size_t shown = 0;
	for (size_t e = 0; e < EXAMPLES && d->examples[ci][e] != UINT32_MAX; e++) {
		sqlite3_bind_int64(example, 1, g->rowid[d->examples[ci][e]]);
		if (sqlite3_step(example) == SQLITE_ROW) {
			const char *src = (const char *)sqlite3_column_text(example, 0);
			const char *mid = (const char *)sqlite3_column_text(example, 1);
			const char *subj = (const char *)sqlite3_column_text(example, 2);
			if (json) {
				bw_buf_puts(b, shown ? ",{\"source\":" : "{\"source\":");
				bw_json_string(b, src);
				bw_buf_puts(b, ",\"message_id\":");
				bw_json_string(b, mid);
				bw_buf_puts(b, ",\"subject\":");
				bw_json_string(b, subj);
				bw_buf_putc(b, '}');
			} else {
				bw_buf_printf(b, "\n    %s: %s", src ? src : "", subj ? subj : "");
			}
			shown++;
		}
		sqlite3_reset(example);
	}
	bw_buf_puts(b, json ? "]}" : "\n\n");
	free(sc);
}

static int report(sqlite3 *db, const grouping *g, const campaign *cs, size_t nc, const uint32_t *cidx,
		  bool json, FILE *out, char **error)
{
	report_data d = {0};
	sqlite3_stmt *reasons = NULL, *example = NULL;
	int rc = collect(db, g, nc, cidx, &d, error);
	if (rc == 0 &&
	    (sqlite3_prepare_v2(db, "SELECT kind, value, messages FROM campaign_reason WHERE campaign=? "
				    "ORDER BY messages DESC, kind, value", -1, &reasons, NULL) ||
	     sqlite3_prepare_v2(db, "SELECT source, message_id, subject FROM message WHERE id=?", -1,
				&example, NULL)))
		rc = bw_store_fail(db, "reading campaigns", error);
	size_t grouped = 0;
	for (size_t c = 0; c < nc; c++)
		grouped += cs[c].size;
	bw_buf b = {0};
	if (json)
		bw_buf_printf(&b, "{\"messages\":%zu,\"grouped_messages\":%zu,\"campaign_count\":%zu,"
			      "\"common_domains_not_linked\":%zu,\"campaigns\":[",
			      g->n, grouped, nc, g->common_skipped);
	else
		bw_buf_printf(&b, "%zu campaigns, %zu of %zu messages grouped (%zu link or image domains too "
			      "common to link)\n\n", nc, grouped, g->n, g->common_skipped);
	for (size_t c = 0; c < nc && rc == 0; c++) {
		if (json && c)
			bw_buf_putc(&b, ',');
		report_one(db, g, &cs[c], c, cidx, &d, reasons, example, json, &b);
		fwrite(b.data, 1, b.len, out);
		bw_buf_reset(&b);
	}
	if (json)
		bw_buf_puts(&b, "]}\n");
	if (b.data)
		fwrite(b.data, 1, b.len, out);
	bw_buf_free(&b);
	sqlite3_finalize(reasons);
	sqlite3_finalize(example);
	report_data_free(&d, nc);
	return rc;
}

/* Every kind in the comma-separated list is a link kind; else *error names
 * the first that is not, and the valid ones. */
static int check_kinds(const char *list, char **error)
{
	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		bool known = (len == 15 && strncmp(p, "subject-simhash", len) == 0) ||
			     (len == 12 && strncmp(p, "body-simhash", len) == 0);
		for (size_t k = 0; k < NLINK_KINDS && !known; k++)
			known = strlen(link_kinds[k].kind) == len && strncmp(p, link_kinds[k].kind, len) == 0;
		if (!known) {
			bw_buf valid = {0};
			for (size_t k = 0; k < NLINK_KINDS; k++)
				bw_buf_printf(&valid, "%s, ", link_kinds[k].kind);
			*error = bw_xasprintf("campaigns: unknown feature kind \"%.*s\" (valid: %ssubject-simhash, body-simhash)",
					      (int)len, p, valid.data);
			bw_buf_free(&valid);
			return -1;
		}
		p += len;
		if (*p)
			p++;
	}
	return 0;
}

int bw_campaigns_run(bw_store *s, const bw_campaign_options *o, bool json, FILE *out, char **error)
{
	if (check_kinds(o->features, error) < 0)
		return -1;
	sqlite3 *db = bw_store_db(s);
	grouping g = {0};
	simrec *subj = NULL, *body = NULL;
	size_t nsubj = 0, nbody = 0;
	linkable lk = {0};
	campaign *cs = NULL;
	uint32_t *cidx = NULL;
	bw_shared_infra *shared = NULL;
	int rc = -1;
	char *path = o->shared_file ? bw_xstrdup(o->shared_file)
				    : bw_default_data_file("shared-infrastructure.conf", "BULWARK_SHARED_INFRASTRUCTURE");
	if (!path) {
		*error = bw_xstrdup("shared infrastructure list not found (set [campaigns] shared_infrastructure)");
		goto out;
	}
	shared = bw_shared_infra_load(path, error);
	free(path);
	if (!shared)
		goto out;
	if (load_messages(db, &g, &subj, &nsubj, &body, &nbody, error) < 0 ||
	    find_linkable(db, &g, shared, o->features, &lk, error) < 0 || link_features(db, &g, &lk, error) < 0)
		goto out;
	if (kind_enabled(o->features, "subject-simhash"))
		link_simhash(&g, subj, nsubj, o->subject_distance, LINK_SUBJECT);
	if (kind_enabled(o->features, "body-simhash"))
		link_simhash(&g, body, nbody, o->body_distance, LINK_BODY);

	/* components with enough messages become campaigns */
	uint32_t *size = bw_xcalloc(g.n + 1, sizeof *size);
	for (size_t m = 0; m < g.n; m++)
		size[uf_find(g.parent, (uint32_t)m)]++;
	cidx = bw_xmalloc((g.n + 1) * sizeof *cidx);
	size_t nc = 0, capc = 0;
	for (size_t m = 0; m < g.n; m++) {
		uint32_t r = uf_find(g.parent, (uint32_t)m);
		if (size[r] < o->min_messages || size[r] < 2) {
			cidx[m] = UINT32_MAX;
			continue;
		}
		if (r == m) {
			bw_grow((void **)&cs, &capc, nc + 1, sizeof *cs);
			cs[nc] = (campaign){.root = r, .size = size[r], .earliest = r, .first = g.seen[r],
					    .last = g.seen[r]};
			cidx[m] = (uint32_t)nc++;
		} else {
			cidx[m] = cidx[r]; /* roots are the smallest index of their set */
		}
		campaign *c = &cs[cidx[m]];
		if (g.seen[m] < c->first) {
			c->first = g.seen[m];
			c->earliest = (uint32_t)m;
		}
		if (g.seen[m] > c->last)
			c->last = g.seen[m];
	}
	free(size);
	sort_campaigns(cs, nc, cmp_campaign_new, &g, cidx);
	if (assign_ids(db, &g, cs, nc, cidx, error) < 0)
		goto out_campaigns;
	sort_campaigns(cs, nc, cmp_campaign, &g, cidx);
	if (persist_reasons(db, &g, cs, nc, cidx, error) < 0)
		goto out_campaigns;
	rc = report(db, &g, cs, nc, cidx, json, out, error);
out_campaigns:
	for (size_t c = 0; c < nc; c++)
		free(cs[c].id);
out:
	free(cs);
	free(cidx);
	free(subj);
	free(body);
	free(lk.id);
	free(lk.kind);
	grouping_free(&g);
	bw_shared_infra_free(shared);
	return rc;
}

char *bw_campaign_resolve(bw_store *s, const char *id)
{
	sqlite3 *db = bw_store_db(s);
	sqlite3_stmt *st;
	char *r = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT id FROM campaign WHERE id=?1 UNION ALL "
			       "SELECT campaign FROM campaign_alias WHERE old=?1 LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = bw_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return r;
}
