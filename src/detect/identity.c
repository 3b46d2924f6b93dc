/* Protected identities as the detectors compare them: every name and domain
 * folded (case, accents) and reduced to its UTS #39 skeleton once per engine,
 * one ICU spoof checker per engine, and the lookalike-domain test shared by
 * the impersonation and link detectors. */
#include <glib.h>
#include <idn2.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uspoof.h>

#include "bulwark/url.h"
#include "detect/detect.h"

typedef struct pdomain {
	char *domain;      /* ASCII, lower-case */
	char *label;       /* registrable label: "bbc" of bbc.co.uk */
	const char *suffix;/* into domain: "co.uk" */
	char *skeleton;    /* of the Unicode form */
	char *label_skel;
	char *reg;         /* registrable domain of domain */
	bool generic;      /* label is an ordinary word: homoglyphs and subdomain use only */
	size_t label_len;  /* in code points, of the Unicode label */
	char *label_nohy;  /* label_skel without hyphens */
	long skel_len;     /* code points of label_skel */
	char *dotted;      /* ".domain." */
	char *dotted_label;/* ".label." */
	size_t ident;
	size_t domain_len;
	uint64_t label_chars; /* char_set of label_skel */
	uint64_t nohy_bytes, dotted_bytes, dotted_label_bytes; /* byte_set of label_nohy, dotted, dotted_label */
	bool hyphenated;      /* label_skel has words: "northern-daily-news" */
	guint reg_hash, skeleton_hash; /* g_str_hash: most unequal strings differ here */
} pdomain;

typedef struct pname {
	char *key;         /* bw_name_key */
	const char *name;  /* the configured spelling */
	size_t ident;
} pname;

struct bw_protected {
	const bw_identities *ids;
	pdomain *doms;
	size_t ndoms, capdoms;
	pname *names;
	size_t nnames, capnames;
	USpoofChecker *skel;   /* skeletons */
	USpoofChecker *check;  /* restriction level and mixed-script checks */
	GHashTable *shorteners;
};

/* Skeletons of recent strings, per thread: a message asks for the skeleton
 * of each host it names, hosts recur across messages, and one costs about
 * 15,000 instructions. A skeleton depends only on the string and ICU's
 * confusables data, which every checker opened by uspoof_open shares. */
enum { SKEL_CACHE = 256, SKEL_CACHE_MAX = 128 };
typedef struct skel_entry {
	char *s, *skeleton;
} skel_entry;
static __thread skel_entry skel_cache[SKEL_CACHE];

static char *skeleton_of(const bw_protected *p, const char *s);

char *bw_skeleton(const bw_protected *p, const char *s)
{
	if (strlen(s) > SKEL_CACHE_MAX)
		return skeleton_of(p, s);
	skel_entry *e = &skel_cache[g_str_hash(s) % SKEL_CACHE];
	if (!e->s || strcmp(e->s, s) != 0) {
		free(e->s);
		free(e->skeleton);
		e->s = bw_xstrdup(s);
		e->skeleton = skeleton_of(p, s);
	}
	return bw_xstrdup(e->skeleton);
}

static char *skeleton_of(const bw_protected *p, const char *s)
{
	char *nfkd = g_utf8_normalize(s, -1, G_NORMALIZE_NFKD);
	if (!nfkd)
		return bw_xstrdup("");
	GString *g = g_string_new(NULL);
	for (const char *q = nfkd; *q; q = g_utf8_next_char(q)) {
		gunichar c = g_utf8_get_char(q);
		if (!g_unichar_ismark(c))
			g_string_append_unichar(g, c);
	}
	g_free(nfkd);
	char *low = g_utf8_strdown(g->str, -1);
	g_string_free(g, TRUE);
	UErrorCode st = U_ZERO_ERROR;
	char buf[512];
	int32_t n = uspoof_getSkeletonUTF8(p->skel, 0, low, -1, buf, sizeof buf, &st);
	char *out;
	if (U_SUCCESS(st)) {
		out = g_utf8_strdown(buf, n);
	} else if (st == U_BUFFER_OVERFLOW_ERROR) {
		char *big = bw_xmalloc((size_t)n + 1);
		st = U_ZERO_ERROR;
		uspoof_getSkeletonUTF8(p->skel, 0, low, -1, big, n + 1, &st);
		out = U_SUCCESS(st) ? g_utf8_strdown(big, n) : g_strdup(low);
		free(big);
	} else {
		out = g_strdup(low); /* invalid UTF-8: compare folded only */
	}
	g_free(low);
	char *r = bw_xstrdup(out);
	g_free(out);
	return r;
}

char *bw_name_key(const bw_protected *p, const char *name)
{
	char *valid = g_utf8_make_valid(name, -1);
	char *sk = bw_skeleton(p, valid);
	g_free(valid);
	bw_buf b = {0};
	bool prev_single = false;
	for (const char *q = sk; *q;) {
		size_t gap = 0;
		for (; *q && !g_unichar_isalnum(g_utf8_get_char(q)); q = g_utf8_next_char(q))
			gap++;
		if (!*q)
			break;
		const char *w = q;
		size_t chars = 0;
		for (; *q && g_unichar_isalnum(g_utf8_get_char(q)); q = g_utf8_next_char(q))
			chars++;
		/* letters spaced out one by one ("J a n e  D o e", "A B C News")
		 * are one word; a wider gap still ends it */
		bool single = chars == 1;
		if (b.len && !(single && prev_single && gap == 1))
			bw_buf_putc(&b, ' ');
		bw_buf_append(&b, w, (size_t)(q - w));
		prev_single = single;
	}
	free(sk);
	return bw_buf_steal(&b);
}

char *bw_host_unicode(const char *host)
{
	if (!strstr(host, "xn--"))
		return bw_xstrdup(host);
	char *u = NULL;
	if (idn2_to_unicode_8z8z(host, &u, 0) != IDN2_OK || !u) {
		free(u);
		return bw_xstrdup(host);
	}
	char *r = bw_xstrdup(u);
	idn2_free(u);
	return r;
}

bool bw_label_mixed_script(const bw_protected *p, const char *label)
{
	UErrorCode st = U_ZERO_ERROR;
	int32_t r = uspoof_checkUTF8(p->check, label, -1, NULL, &st);
	return U_SUCCESS(st) && (r & (USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_SCRIPT_CONFUSABLE));
}

/* host (hl bytes) is d or a subdomain of d */
static bool host_under(const char *host, size_t hl, const pdomain *d)
{
	size_t dl = d->domain_len;
	if (hl < dl || memcmp(host + hl - dl, d->domain, dl) != 0)
		return false;
	return hl == dl || host[hl - dl - 1] == '.';
}

const bw_identity *bw_protected_owner(const bw_protected *p, const char *host)
{
	if (!p || !host)
		return NULL;
	size_t hl = strlen(host);
	for (size_t i = 0; i < p->ndoms; i++)
		if (host_under(host, hl, &p->doms[i]))
			return &p->ids->v[p->doms[i].ident];
	return NULL;
}

/* A one-word name ("Bloomberg", "Forbes") is also a surname: "John Forbes"
 * is a person. It counts at the start of the display name ("Reuters
 * Editorial"), after "at", "from", "via", "by", "for" or "of", or at the
 * start of a part after a separator ("Jane Doe (Reuters)", "Jane Doe |
 * Reuters", "Jane Doe, Reuters"); not inside a phrase ("Toutes nos
 * felicitations, ..." is not NOS). */
static bool single_word_ok(const char *display, const char *hay, const char *hit, const char *key)
{
	if (strchr(key, ' ') || hit == hay + 1)
		return true;
	const char *end = hit - 1, *start = end;
	while (start > hay && start[-1] != ' ')
		start--;
	static const char *const preps[] = {"at", "from", "via", "by", "for", "of"};
	for (size_t i = 0; i < sizeof preps / sizeof preps[0]; i++)
		if ((size_t)(end - start) == strlen(preps[i]) && strncmp(start, preps[i], (size_t)(end - start)) == 0)
			return true;
	return false;
}

/* ... or at the start of a part of the display name after a separator. */
static bool segment_starts_with(const bw_protected *p, const char *display, const char *key)
{
	char *valid = g_utf8_make_valid(display, -1);
	char **segs = g_regex_split_simple("[()|,:/@\\[\\]\u2013\u2014]| - ", valid, 0, 0);
	g_free(valid);
	bool ok = false;
	if (!segs)
		return false;
	size_t kl = strlen(key);
	for (char **s = segs; *s && !ok; s++) {
		char *k = bw_name_key(p, *s);
		ok = strncmp(k, key, kl) == 0 && (k[kl] == ' ' || k[kl] == '\0');
		free(k);
	}
	g_strfreev(segs);
	return ok;
}

bool bw_protected_name_owned(const bw_protected *p, const char *matched,
			     bool (*owns)(const bw_identity *, const char *), const char *addr)
{
	char *key = bw_name_key(p, matched);
	bool own = false;
	for (size_t i = 0; i < p->nnames && !own; i++)
		if (strcmp(p->names[i].key, key) == 0)
			own = owns(&p->ids->v[p->names[i].ident], addr);
	free(key);
	return own;
}

const bw_identity *bw_protected_name_in(const bw_protected *p, const char *display, const char **matched)
{
	if (!p || !display || !*display || !p->nnames)
		return NULL;
	char *key = bw_name_key(p, display);
	bw_buf hay = {0};
	bw_buf_printf(&hay, " %s ", key);
	free(key);
	const bw_identity *best = NULL;
	size_t bestlen = 0;
	for (size_t i = 0; i < p->nnames; i++) {
		const pname *n = &p->names[i];
		size_t kl = strlen(n->key);
		if (kl <= bestlen)
			continue;
		const char *hit = strstr(hay.data, n->key);
		/* whole words only: "AP" must not match "Apple" */
		while (hit && !(hit[-1] == ' ' && hit[kl] == ' ' &&
				(single_word_ok(display, hay.data, hit, n->key) || segment_starts_with(p, display, n->key))))
			hit = strstr(hit + 1, n->key);
		if (hit) {
			best = &p->ids->v[n->ident];
			bestlen = kl;
			*matched = n->name;
		}
	}
	bw_buf_free(&hay);
	return best;
}

bool bw_protected_is_shortener(const bw_protected *p, const char *host)
{
	if (!p || !p->shorteners || !host)
		return false;
	for (const char *h = host; h; h = strchr(h, '.'), h = h ? h + 1 : NULL)
		if (g_hash_table_contains(p->shorteners, h))
			return true;
	return false;
}

size_t bw_protected_count(const bw_protected *p)
{
	return p ? p->ids->n : 0;
}

static void add_name(bw_protected *p, const char *name, size_t ident)
{
	char *key = bw_name_key(p, name);
	/* two characters match too much ("AP", "FT"): such names need an alias */
	if (strlen(key) < 3) {
		free(key);
		return;
	}
	bw_grow((void **)&p->names, &p->capnames, p->nnames + 1, sizeof *p->names);
	p->names[p->nnames++] = (pname){key, name, ident};
}

static bool has_token(const char *label, const char *tok)
{
	size_t tl = strlen(tok);
	for (const char *h = strstr(label, tok); h; h = strstr(h + 1, tok))
		if ((h == label || h[-1] == '-') && (h[tl] == '\0' || h[tl] == '-'))
			return true;
	return false;
}

static char *strip_hyphens(const char *s)
{
	char *r = bw_xstrdup(s), *w = r;
	for (const char *q = s; *q; q++)
		if (*q != '-')
			*w++ = *q;
	*w = '\0';
	return r;
}

/* A run of two or more whole hyphen-separated words of label that, without
 * the hyphens, spells word: "bank-of-england-alerts" holds "bankofengland".
 * The protected label's own word boundaries are unknown; the candidate's
 * hyphens supply them. */
static bool words_spell(const char *label, const char *word)
{
	size_t wl = strlen(word);
	for (const char *st = label; st; st = strchr(st, '-'), st = st ? st + 1 : NULL) {
		size_t k = 0, words = 1;
		const char *q = st;
		for (; *q && k < wl; q++) {
			if (*q == '-')
				words++;
			else if (*q == word[k])
				k++;
			else
				break;
		}
		if (k == wl && words >= 2 && (*q == '\0' || *q == '-'))
			return true;
	}
	return false;
}

/* The words of part, each whole and in order, are words of label, starting
 * with label's first word ("northern-daily" of "northern-daily-news"); the
 * number of part's words goes to *words. */
static bool words_subsequence(const char *part, const char *label, size_t *words)
{
	bool first = true;
	*words = 0;
	for (const char *s = part; *s; first = false) {
		size_t sn = strcspn(s, "-");
		for (bool eq = false; !eq;) {
			size_t ln = strcspn(label, "-");
			if (!ln)
				return false;
			eq = ln == sn && memcmp(s, label, sn) == 0;
			label += ln + (label[ln] == '-');
			if (!eq && first)
				return false;
		}
		++*words;
		s += sn + (s[sn] == '-');
	}
	return true;
}

/* A public suffix for government, military or academic registrants only
 * ("gov.au", "ac.uk", "edu", "gob.mx"): a short label under one is that
 * institution's own, not another's swapped TLD ("afp.gov.au", the
 * Australian Federal Police, is not afp.com). */
static bool institutional_suffix(const char *suffix)
{
	static const char *const words[] = {"gov", "gob", "gouv", "govt", "go", "edu", "ac", "mil"};
	for (const char *l = suffix; *l; l += strcspn(l, ".") + (l[strcspn(l, ".")] == '.')) {
		size_t n = strcspn(l, ".");
		for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
			if (n == strlen(words[i]) && strncmp(l, words[i], n) == 0)
				return true;
	}
	return false;
}

/* A set of code points, folded into 64 bits: each character of one label
 * whose bit the other label lacks needs an edit of its own (insertions,
 * deletions and substitutions each remove at most one character and add at
 * most one; transpositions neither), so the larger of the two counts is a
 * lower bound of the edit distance. Folding characters together only makes
 * the bound weaker, never wrong. It spares the full edit distance for almost
 * every protected label a host is compared with. */
static uint64_t char_set(const char *s)
{
	uint64_t set = 0;
	for (const char *q = s; *q; q = g_utf8_next_char(q))
		set |= (uint64_t)1 << (g_utf8_get_char(q) % 64);
	return set;
}

/* The bytes of s, folded into 64 bits: a string whose byte_set has a bit
 * that another's lacks is no substring of it, nor equal to it. */
static uint64_t byte_set(const char *s)
{
	uint64_t set = 0;
	for (; *s; s++)
		set |= (uint64_t)1 << ((unsigned char)*s % 64);
	return set;
}

static bool within(uint64_t part, uint64_t whole)
{
	return (part & ~whole) == 0;
}

static int char_set_bound(uint64_t a, uint64_t b)
{
	int x = __builtin_popcountll(a & ~b), y = __builtin_popcountll(b & ~a);
	return x > y ? x : y;
}

static void add_domain(bw_protected *p, const char *domain, bool generic, size_t ident)
{
	char *reg = bw_registrable_domain(domain);
	if (!reg)
		return;
	bw_grow((void **)&p->doms, &p->capdoms, p->ndoms + 1, sizeof *p->doms);
	pdomain *d = &p->doms[p->ndoms++];
	d->domain = bw_xstrdup(domain);
	d->domain_len = strlen(domain);
	d->ident = ident;
	d->generic = generic;
	/* the label is that of the registrable domain; a configured subdomain
	 * (news.example.org) still protects only itself */
	const char *dot = strchr(reg, '.');
	d->label = dot ? bw_xstrndup(reg, (size_t)(dot - reg)) : bw_xstrdup(reg);
	const char *rd = strstr(d->domain, reg);
	d->suffix = dot && rd ? rd + (dot - reg) + 1 : "";
	char *u = bw_host_unicode(reg), *ul = bw_host_unicode(d->label);
	d->skeleton = bw_skeleton(p, u);
	d->label_skel = bw_skeleton(p, ul);
	d->label_len = (size_t)g_utf8_strlen(ul, -1);
	d->label_nohy = strip_hyphens(d->label_skel);
	d->label_chars = char_set(d->label_skel);
	d->skel_len = g_utf8_strlen(d->label_skel, -1);
	d->dotted = g_strdup_printf(".%s.", d->domain);
	d->dotted_label = g_strdup_printf(".%s.", d->label);
	d->nohy_bytes = byte_set(d->label_nohy);
	d->dotted_bytes = byte_set(d->dotted);
	d->dotted_label_bytes = byte_set(d->dotted_label);
	d->hyphenated = strchr(d->label_skel, '-') != NULL;
	free(u);
	free(ul);
	d->reg = reg;
	d->reg_hash = g_str_hash(reg);
	d->skeleton_hash = g_str_hash(d->skeleton);
}

static void load_shorteners(bw_protected *p, const char *path, bw_strvec *errors)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	json_t *list = root ? json_object_get(root, "list") : NULL;
	if (!json_is_array(list)) {
		bw_strvec_pushf(errors, "%s: not a MISP warning list (%s)", path,
				root ? "no \"list\" array" : jerr.text);
		json_decref(root);
		return;
	}
	p->shorteners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (!json_is_string(v))
			continue;
		char *h = g_ascii_strdown(json_string_value(v), -1);
		g_hash_table_add(p->shorteners, h);
	}
	json_decref(root);
}

bw_protected *bw_protected_new(const bw_identities *ids, const char *shorteners, bw_strvec *errors)
{
	bw_protected *p = bw_xcalloc(1, sizeof *p);
	p->ids = ids;
	UErrorCode st = U_ZERO_ERROR;
	p->skel = uspoof_open(&st);
	UErrorCode st2 = U_ZERO_ERROR;
	p->check = uspoof_open(&st2);
	if (U_FAILURE(st) || U_FAILURE(st2)) {
		bw_strvec_pushf(errors, "ICU spoof checker not available (%s): impersonation checks are off",
				u_errorName(U_FAILURE(st) ? st : st2));
		bw_protected_free(p);
		return NULL;
	}
	uspoof_setChecks(p->check, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_SCRIPT_CONFUSABLE, &st);
	uspoof_setRestrictionLevel(p->check, USPOOF_HIGHLY_RESTRICTIVE);
	for (size_t i = 0; i < ids->n; i++) {
		const bw_identity *d = &ids->v[i];
		if (d->kind != BW_IDENT_INSTITUTION) {
			add_name(p, d->name, i);
			for (size_t j = 0; j < d->aliases.n; j++)
				add_name(p, d->aliases.v[j], i);
		}
		for (size_t j = 0; j < d->domains.n; j++)
			add_domain(p, d->domains.v[j], bw_strvec_contains(&d->generic_domains, d->domains.v[j]), i);
	}
	if (shorteners)
		load_shorteners(p, shorteners, errors);
	return p;
}

void bw_protected_free(bw_protected *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ndoms; i++) {
		free(p->doms[i].domain);
		free(p->doms[i].label);
		free(p->doms[i].skeleton);
		free(p->doms[i].label_skel);
		free(p->doms[i].reg);
		free(p->doms[i].label_nohy);
		g_free(p->doms[i].dotted);
		g_free(p->doms[i].dotted_label);
	}
	free(p->doms);
	for (size_t i = 0; i < p->nnames; i++)
		free(p->names[i].key);
	free(p->names);
	if (p->skel)
		uspoof_close(p->skel);
	if (p->check)
		uspoof_close(p->check);
	if (p->shorteners)
		g_hash_table_destroy(p->shorteners);
	free(p);
}

int bw_edit_distance(const char *a, const char *b, int max)
{
	enum { CAP = 128 }; /* DNS labels have at most 63 characters */
	gunichar x[CAP], y[CAP];
	long la = 0, lb = 0;
	for (const char *q = a; *q && la < CAP; q = g_utf8_next_char(q))
		x[la++] = g_utf8_get_char(q);
	for (const char *q = b; *q && lb < CAP; q = g_utf8_next_char(q))
		y[lb++] = g_utf8_get_char(q);
	if (labs(la - lb) > max || la >= CAP || lb >= CAP)
		return max + 1;
	/* three rows of the optimal-string-alignment table */
	int rows[3][CAP + 1];
	int *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
	for (long j = 0; j <= lb; j++)
		r1[j] = (int)j;
	for (long i = 1; i <= la; i++) {
		r2[0] = (int)i;
		for (long j = 1; j <= lb; j++) {
			int cost = x[i - 1] != y[j - 1];
			int v = MIN(MIN(r1[j] + 1, r2[j - 1] + 1), r1[j - 1] + cost);
			if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1])
				v = MIN(v, r0[j - 2] + 1);
			r2[j] = v;
		}
		int *t = r0;
		r0 = r1;
		r1 = r2;
		r2 = t;
	}
	return MIN(r1[lb], max + 1);
}

void bw_lookalike_free(bw_lookalike *l)
{
	free(l->host_unicode);
	free(l->skeleton);
	memset(l, 0, sizeof *l);
}

/* Lookalike tests, strongest first; each returns its score or 0. Scores:
 * a skeleton-equal (homoglyph) domain is indistinguishable to a reader (4);
 * a swapped suffix, one or two typos, a protected domain used as a
 * subdomain, or the protected label as a hyphenated word are the usual
 * registrations for impersonation (3); the label merely contained in a
 * longer word is weaker (2). */
bool bw_lookalike_check(const bw_protected *p, const char *host, bw_lookalike *out)
{
	memset(out, 0, sizeof *out);
	if (!p || !host || !*host || !p->ndoms || bw_protected_owner(p, host))
		return false;
	char *reg = bw_registrable_domain(host);
	if (!reg)
		return false;
	const char *dot = strchr(reg, '.');
	if (!dot) {
		free(reg);
		return false;
	}
	char *label = bw_xstrndup(reg, (size_t)(dot - reg));
	size_t sublen = strlen(host) - strlen(reg);
	char *sub = bw_xstrndup(host, sublen); /* "a.b." or "" */
	char *dotsub = g_strconcat(".", sub, NULL);
	char *ureg = bw_host_unicode(reg), *ulabel = bw_host_unicode(label);
	char *skel = bw_skeleton(p, ureg), *lskel = bw_skeleton(p, ulabel);
	char *nohy = strip_hyphens(lskel);
	long lsklen = g_utf8_strlen(lskel, -1);
	uint64_t lchars = char_set(lskel), lbytes = byte_set(lskel), subbytes = byte_set(dotsub);
	uint64_t nohybytes = byte_set(nohy);
	bool lhyphen = strchr(lskel, '-') != NULL;
	guint reg_hash = g_str_hash(reg), skel_hash = g_str_hash(skel);
	size_t llen = g_utf8_strlen(ulabel, -1); /* lengths of the labels, not of skeletons ("m" -> "rn") */
	double best = 0;
	size_t bestlen = 0;
	for (size_t i = 0; i < p->ndoms; i++) {
		const pdomain *d = &p->doms[i];
		/* a configured subdomain (folha.uol.com.br): its parent is no lookalike */
		if (reg_hash == d->reg_hash && strcmp(reg, d->reg) == 0)
			continue;
		size_t plen = d->label_len;
		double s = 0;
		const char *method = NULL;
		int dist = 0;
		/* The bytes of label_nohy are all in lskel when lskel equals,
		 * hyphenates, contains or starts with label_skel, and those of a
		 * dotted name in dotsub when it is part of it: byte sets rule out
		 * most protected domains before any string comparison. */
		bool related = within(d->nohy_bytes, lbytes);
		if (skel_hash == d->skeleton_hash && strcmp(skel, d->skeleton) == 0) {
			s = 4, method = "skeleton";
		} else if (d->generic && !sublen) {
			continue;
		} else if (related && strcmp(lskel, d->label_skel) == 0 && plen >= 3 && !d->generic) {
			if (plen < 5 && strcmp(label, d->label) == 0 && institutional_suffix(dot + 1))
				continue;
			s = strcmp(label, d->label) == 0 ? 3 : 4;
			method = strcmp(label, d->label) == 0 ? "swapped-tld" : "skeleton-swapped-tld";
		} else if (sublen) {
			if (within(d->dotted_bytes, subbytes) && strstr(dotsub, d->dotted))
				s = 3, method = "protected-domain-as-subdomain";
			else if (plen >= 5 && !d->generic && within(d->dotted_label_bytes, subbytes) &&
				 strstr(dotsub, d->dotted_label))
				s = 2, method = "protected-label-as-subdomain";
		}
		if (!method && plen >= 4 && llen >= 4 && !d->generic) {
			int lim = plen >= 9 ? 2 : 1; /* "lapampa" is two edits from "lastampa" */
			dist = labs(lsklen - d->skel_len) > lim || char_set_bound(lchars, d->label_chars) > lim
				       ? lim + 1 : bw_edit_distance(lskel, d->label_skel, lim);
			if (dist <= lim)
				s = 3, method = "edit-distance";
		}
		if (!method && plen >= 3 && !d->generic && related) {
			if (strcmp(nohy, d->label_nohy) == 0)
				s = 3, method = "hyphens";
			else if (has_token(lskel, d->label_skel))
				s = 3, method = "added-word";
			else if (plen >= 5 && lhyphen && words_spell(lskel, d->label_nohy))
				s = 3, method = "hyphens-added-word";
			/* a word added without hyphen, "reutersnews"; only as a prefix:
			 * compounds ending in a name are often real ("tagesspiegel") */
			else if (plen >= 6 && strncmp(lskel, d->label_skel, strlen(d->label_skel)) == 0)
				s = 2, method = "prefixed-label";
		}
		/* a word dropped from a hyphenated label; the rest must be two
		 * words at least: one alone is just a word ("keystone") */
		size_t kept;
		if (!method && d->hyphenated && !d->generic && lsklen < d->skel_len && within(nohybytes, d->nohy_bytes) &&
		    words_subsequence(lskel, d->label_skel, &kept) && kept >= 2)
			s = 3, method = "dropped-word";
		/* the strongest match; on a tie, the longer protected label */
		if (method && (s > best || (s == best && plen > bestlen))) {
			best = s;
			bestlen = plen;
			bw_lookalike_free(out);
			out->protected_domain = d->domain;
			out->owner = &p->ids->v[d->ident];
			out->method = method;
			out->distance = method[0] == 'e' ? dist : bw_edit_distance(lskel, d->label_skel, 64);
			out->score = s;
			out->host_unicode = bw_host_unicode(host);
			out->skeleton = bw_xstrdup(skel);
			out->protected_skeleton = d->skeleton;
		}
	}
	if (best > 0) {
		/* the address parser hands over From domains already decoded: a
		 * non-ASCII host was punycode on the wire or is an IDN anyway */
		bool ascii = true;
		for (const char *q = host; *q && ascii; q++)
			ascii = !((unsigned char)*q & 0x80);
		out->punycode = strstr(host, "xn--") != NULL || !ascii;
		out->mixed_script = bw_label_mixed_script(p, ulabel);
	}
	free(label);
	free(sub);
	g_free(dotsub);
	free(ureg);
	free(ulabel);
	free(skel);
	free(lskel);
	free(nohy);
	free(reg);
	return best > 0;
}
