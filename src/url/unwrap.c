/* Destinations of click-tracking and redirect wrappers (Google /url, Outlook
 * Safe Links, Proofpoint URL Defense v2 and v3, Barracuda, Cisco and Trend
 * Micro link protection, mailer click trackers), recovered from
 * the wrapper URL itself without fetching anything: the one embedded http(s)
 * URL, followed through wrappers nested inside wrappers.
 *
 * Any query or fragment parameter, and any path segment, is a candidate;
 * wrappers disagree on names (q, u, url, r, target...) and an attacker picks
 * whichever the scanner does not know, so no name is trusted or required.
 * Several different destinations make the answer ambiguous rather than a
 * guess. */
#include "bulwark/url.h"
#include "bulwark/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define UNWRAP_MAX_DEPTH 8
#define DECODE_ROUNDS 3 /* wrappers double-encode; a third pass costs nothing */

typedef struct search {
	bw_url found;   /* the destination so far; found.href NULL when none */
	bool ambiguous; /* a second, different destination was seen */
	bw_buf a, b;    /* scratch for decoding */
} search;

static bool istarts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && !strncasecmp(s, prefix, k);
}

/* An absolute http(s) URL as a browser would accept it from an href. */
static bool looks_http(const char *s, size_t n)
{
	size_t k = istarts(s, n, "http:") ? 5 : istarts(s, n, "https:") ? 6 : 0;
	return k && n > k && (s[k] == '/' || s[k] == '\\');
}

static void offer(search *se, const char *s, size_t n)
{
	bw_url u;
	if (bw_url_parse(s, n, NULL, &u) < 0)
		return;
	if (!bw_url_is_remote(&u)) {
		bw_url_free(&u);
	} else if (!se->found.href) {
		se->found = u;
	} else {
		if (strcmp(se->found.href, u.href) != 0)
			se->ambiguous = true;
		bw_url_free(&u);
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Decodes base64 or base64url (either alphabet, padding already removed)
 * into out (n * 3 / 4 bytes); returns the length or -1. */
static long b64_decode(const char *s, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	long o = 0;
	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	return o;
}

/* base64("http:/") and base64("https:") are 8 characters: decode those
 * first so that the long random tokens every tracker carries cost nothing. */
static bool try_base64(search *se, const char *s, size_t n)
{
	char head[6];
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (n < 12 || b64_decode(s, 8, head) != 6 ||
	    !(istarts(head, 6, "http:/") || istarts(head, 6, "https:")))
		return false;
	bw_buf_reset(&se->b);
	bw_buf_reserve(&se->b, n);
	long m = b64_decode(s, n, se->b.data);
	if (m < 0 || !looks_http(se->b.data, (size_t)m))
		return false;
	offer(se, se->b.data, (size_t)m);
	return true;
}

/* Proofpoint URL Defense v2 (u=https-3A__host_path) writes '%' as '-' and
 * '/' as '_', and escapes literal '-' and '_' as -2D and -5F, so undoing the
 * two substitutions and percent-decoding is exact. */
static bool try_proofpoint_v2(search *se, const char *s, size_t n)
{
	if (!istarts(s, n, "http-3A__") && !istarts(s, n, "https-3A__"))
		return false;
	bw_buf_reset(&se->b);
	bw_buf_reserve(&se->b, n);
	char *d = se->b.data;
	for (size_t i = 0; i < n; i++)
		d[i] = s[i] == '-' ? '%' : s[i] == '_' ? '/' : s[i];
	offer(se, d, bw_url_pct_decode(d, d, n));
	return true;
}

static size_t utf8_len(unsigned char c)
{
	return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Proofpoint URL Defense v3 (urldefense.com/v3/__URL__;TRAILER!!...) keeps
 * the destination as it is, except characters it replaced with '*': their
 * text comes, in order, from TRAILER (base64url of UTF-8). "**X" stands for
 * a run of 2 + (X's place in the base64url alphabet) characters. A '*' the
 * trailer cannot account for leaves the link undecoded rather than guessed.
 * Returns whether the URL was a v3 wrapper. */
static bool try_proofpoint_v3(search *se, const bw_url *u)
{
	const char *start = strstr(u->href, "/v3/__");
	if (!start || strncmp(u->path, "/v3/__", 6) != 0)
		return false;
	start += 6;
	const char *end = strstr(start, "__;");
	if (!end)
		return false;
	const char *trailer = end + 3;
	size_t tn = strcspn(trailer, "!");
	while (tn > 0 && trailer[tn - 1] == '=')
		tn--;
	char *subst = bw_xmalloc(tn * 3 / 4 + 1);
	long sn = b64_decode(trailer, tn, subst);
	size_t si = 0;
	bw_buf_reset(&se->b);
	bool ok = sn >= 0;
	for (const char *q = start; q < end && ok; q++) {
		if (*q != '*') {
			bw_buf_putc(&se->b, *q);
			continue;
		}
		int run = 1;
		if (q + 2 < end && q[1] == '*' && b64_value((unsigned char)q[2]) >= 0) {
			run = 2 + b64_value((unsigned char)q[2]);
			q += 2;
		}
		for (int k = 0; k < run && ok; k++) {
			ok = si < (size_t)sn;
			size_t cl = ok ? utf8_len((unsigned char)subst[si]) : 0;
			ok = ok && si + cl <= (size_t)sn;
			if (ok)
				bw_buf_append(&se->b, subst + si, cl);
			si += cl;
		}
	}
	free(subst);
	if (ok && looks_http(se->b.data, se->b.len))
		offer(se, se->b.data, se->b.len);
	return true;
}

/* One candidate value: plain, percent-encoded up to DECODE_ROUNDS times,
 * Proofpoint-encoded or base64, in that order of precedence. */
static void consider(search *se, const char *v, size_t n)
{
	if (se->ambiguous)
		return; /* the answer is settled; skip the parsing */
	bw_buf_reset(&se->a);
	bw_buf_append(&se->a, v, n);
	for (int round = 0;; round++) {
		const char *s = se->a.data;
		size_t len = se->a.len;
		if (looks_http(s, len)) {
			offer(se, s, len);
			return;
		}
		if (try_proofpoint_v2(se, s, len) || try_base64(se, s, len))
			return;
		if (round == DECODE_ROUNDS || !memchr(s, '%', len))
			return;
		size_t m = bw_url_pct_decode(se->a.data, s, len);
		if (m == len)
			return;
		se->a.len = m;
	}
}

/* '&'-separated parameters: each value, and each whole parameter for the
 * bare form "?https://..." (a URL value with its own '=' stays whole). */
static void scan_params(search *se, const char *s)
{
	while (s) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		consider(se, s, len);
		if (eq)
			consider(se, eq + 1, len - (size_t)(eq + 1 - s));
		s = amp ? amp + 1 : NULL;
	}
}

/* Each segment, and the rest of the path (with the query) from a segment
 * that starts a plain URL: "/r/https://evil.example/x" parses to the
 * segments "https:", "", "evil.example", "x". */
static void scan_path(search *se, const bw_url *u)
{
	for (const char *seg = u->path; *seg == '/'; ) {
		seg++;
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);
		if (istarts(seg, len, "http:") || istarts(seg, len, "https:")) {
			bw_buf rest = {0};
			bw_buf_puts(&rest, seg);
			if (u->query) {
				bw_buf_putc(&rest, '?');
				bw_buf_puts(&rest, u->query);
			}
			consider(se, rest.data, rest.len);
			bw_buf_free(&rest);
			return;
		}
		consider(se, seg, len);
		if (!end)
			return;
		seg = end;
	}
}

char *bw_url_unwrap(const bw_url *u)
{
	if (!bw_url_is_remote(u))
		return NULL;
	search se = {0};
	bw_url dest = {0};
	const bw_url *at = u;
	for (int depth = 0; depth < UNWRAP_MAX_DEPTH; depth++) {
		if (!try_proofpoint_v3(&se, at)) {
			scan_path(&se, at);
			if (at->query)
				scan_params(&se, at->query);
			if (at->fragment)
				scan_params(&se, at->fragment);
		}
		if (!se.found.href || se.ambiguous) {
			/* past the first level, the last unambiguous wrapper stands */
			bw_url_free(&se.found);
			break;
		}
		bw_url_free(&dest);
		dest = se.found;
		memset(&se.found, 0, sizeof se.found);
		at = &dest;
	}
	char *res = dest.href ? bw_xstrdup(dest.href) : NULL;
	bw_url_free(&dest);
	bw_buf_free(&se.a);
	bw_buf_free(&se.b);
	return res;
}
