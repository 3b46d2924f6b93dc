/* Correlation fingerprints: SimHash of normalised text and of HTML tag
 * structure, and URL path templates. Hand-written: Debian has no SimHash
 * library, and these run once per stored message over bounded input. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/store.h"
#include "bulwark/url.h"
#include "campaign/campaign.h"

/* Beyond this much text the fingerprint does not change in any useful way. */
#define SIMHASH_MAX_BYTES (256u * 1024u)

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

uint64_t bw_hash64(const char *s, size_t n, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h);
}

typedef struct simhash_acc {
	int v[64];
} simhash_acc;

static void acc_add(simhash_acc *a, uint64_t h)
{
	for (int i = 0; i < 64; i++)
		a->v[i] += (h >> i) & 1 ? 1 : -1;
}

static uint64_t acc_result(const simhash_acc *a)
{
	uint64_t r = 0;
	for (int i = 0; i < 64; i++)
		if (a->v[i] > 0)
			r |= 1ULL << i;
	return r;
}

int bw_hamming64(uint64_t a, uint64_t b)
{
	return __builtin_popcountll(a ^ b);
}

static bool word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

/* Words are runs of letters and digits (any non-ASCII byte counts as a
 * letter, so UTF-8 words stay whole), lower-cased; a number becomes "0" so
 * that amounts, dates and reference numbers do not separate copies. */
uint64_t bw_simhash_text(const char *text, size_t len, size_t *ntokens)
{
	simhash_acc acc = {0};
	uint64_t prev = 0;
	size_t count = 0;
	char word[64];
	if (len > SIMHASH_MAX_BYTES)
		len = SIMHASH_MAX_BYTES;
	size_t i = 0;
	while (i < len) {
		while (i < len && !word_byte((unsigned char)text[i]))
			i++;
		if (i >= len)
			break;
		size_t wl = 0;
		bool digits = true;
		while (i < len && word_byte((unsigned char)text[i])) {
			unsigned char c = (unsigned char)text[i++];
			digits &= isdigit(c) != 0;
			if (wl < sizeof word)
				word[wl++] = (char)tolower(c);
		}
		if (digits) {
			word[0] = '0';
			wl = 1;
		}
		uint64_t h = bw_hash64(word, wl, 0);
		acc_add(&acc, h);
		if (count)
			acc_add(&acc, mix64(prev * 31 + h));
		prev = h;
		count++;
	}
	if (ntokens)
		*ntokens = count;
	return count ? acc_result(&acc) : 0;
}

uint64_t bw_simhash_html_tags(const char *html, size_t len, size_t *ntags)
{
	simhash_acc acc = {0};
	uint64_t h1 = 0, h2 = 0;
	size_t count = 0;
	if (len > SIMHASH_MAX_BYTES)
		len = SIMHASH_MAX_BYTES;
	for (size_t i = 0; i + 1 < len; i++) {
		if (html[i] != '<')
			continue;
		size_t j = i + 1;
		char name[18];
		size_t nl = 0;
		if (html[j] == '/') {
			name[nl++] = '/';
			j++;
		}
		if (j >= len || !isalpha((unsigned char)html[j]))
			continue;
		while (j < len && isalnum((unsigned char)html[j]) && nl < sizeof name)
			name[nl++] = (char)tolower((unsigned char)html[j++]);
		uint64_t h = bw_hash64(name, nl, 1);
		if (count >= 2)
			acc_add(&acc, mix64(h2 * 961 + h1 * 31 + h));
		h2 = h1;
		h1 = h;
		count++;
		i = j - 1;
	}
	if (ntags)
		*ntags = count;
	return count >= 3 ? acc_result(&acc) : 0;
}

static bool all_of(const char *s, size_t n, int (*pred)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!pred((unsigned char)s[i]))
			return false;
	return n > 0;
}

static int is_tokenchar(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '=' || c == '+' || c == '%' || c == '.';
}

/* One path segment, query key or query value, with what varies per
 * recipient or per message replaced by a placeholder. */
static void template_token(bw_buf *out, const char *s, size_t n)
{
	const char *pct_at = bw_ascii_strcasestr(s, "%40"); /* s is inside a NUL-terminated URL */
	if (memchr(s, '@', n) || (pct_at && pct_at + 3 <= s + n)) {
		bw_buf_puts(out, "{email}");
		return;
	}
	/* "9f86d0818....gif": the stem varies, the extension does not */
	const char *dot = memrchr(s, '.', n);
	size_t ext = dot ? n - (size_t)(dot - s) - 1 : 0;
	if (dot && dot > s && ext >= 1 && ext <= 5 && all_of(dot + 1, ext, isalnum)) {
		template_token(out, s, (size_t)(dot - s));
		bw_buf_append(out, dot, ext + 1);
		return;
	}
	bool digit = false, alpha = false;
	for (size_t i = 0; i < n; i++) {
		digit |= isdigit((unsigned char)s[i]) != 0;
		alpha |= isalpha((unsigned char)s[i]) != 0;
	}
	/* 8+ hex digits first: a hex id that happens to have no letter a-f
	 * must give the same template as its siblings */
	if (n >= 8 && digit && all_of(s, n, isxdigit)) {
		bw_buf_puts(out, "{hex}");
	} else if (all_of(s, n, isdigit)) {
		bw_buf_puts(out, "{n}");
	} else if (n >= 16 && digit && alpha && all_of(s, n, is_tokenchar)) {
		bw_buf_puts(out, "{tok}");
	} else {
		/* "img_20231102.png": long digit runs vary, the rest does not */
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && isdigit((unsigned char)s[j]))
				j++;
			if (j - i >= 3) {
				bw_buf_puts(out, "{n}");
				i = j;
			} else if (j > i) {
				bw_buf_append(out, s + i, j - i);
				i = j;
			} else {
				bw_buf_putc(out, s[i++]);
			}
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *bw_url_template(const char *url)
{
	bw_url u;
	if (!url || bw_url_parse(url, strlen(url), NULL, &u) < 0)
		return NULL;
	if (!u.host || !*u.host) {
		bw_url_free(&u);
		return NULL;
	}
	bw_buf out = {0};
	bw_buf_puts(&out, u.host);
	const char *p = u.path;
	while (*p) {
		if (*p == '/') {
			bw_buf_putc(&out, '/');
			p++;
			continue;
		}
		size_t n = strcspn(p, "/");
		template_token(&out, p, n);
		p += n;
	}
	if (u.query && *u.query) {
		bw_strvec pairs = {0};
		const char *q = u.query;
		/* a bounded number of parameters: hostile URLs can have thousands */
		while (*q && pairs.n < 64) {
			size_t n = strcspn(q, "&;");
			if (n) {
				const char *eq = memchr(q, '=', n);
				size_t kl = eq ? (size_t)(eq - q) : n;
				bw_buf kv = {0};
				template_token(&kv, q, kl);
				if (eq) {
					bw_buf_putc(&kv, '=');
					template_token(&kv, eq + 1, n - kl - 1);
				}
				bw_strvec_push_owned(&pairs, bw_buf_steal(&kv));
			}
			q += n;
			if (*q)
				q++;
		}
		if (pairs.n > 1)
			qsort(pairs.v, pairs.n, sizeof *pairs.v, cmp_str);
		for (size_t i = 0; i < pairs.n; i++) {
			bw_buf_putc(&out, i ? '&' : '?');
			bw_buf_puts(&out, pairs.v[i]);
		}
		bw_strvec_free(&pairs);
	}
	bw_url_free(&u);
	return bw_buf_steal(&out);
}
