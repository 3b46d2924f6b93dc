/* Unique-token heuristic: spots the identifier a tracker embeds in a URL's
 * path or query to tell one recipient or message from another, without
 * knowing the tracker. Random identifiers differ from the words, dates,
 * version numbers and file names that also fill URLs in measurable ways:
 * length, Shannon entropy per character, how often the kind of character
 * (lower, upper, digit) changes, and not being cut into short pieces. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "bulwark/trackers.h"

enum { MIN_TOKEN = 16 };

/* Base64, base64url and the site-specific variants ("~~" padding, "-3D"
 * escapes) that tokens are written in. */
static bool token_char(char c)
{
	return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '=' || c == '~';
}

/* "logo_header_2023.png" is judged by its stem; a dot followed by a long
 * run is part of the token ("u001.LfBx..."), not an extension. */
static size_t stem_length(const char *s, size_t n)
{
	const char *dot = memrchr(s, '.', n);
	if (!dot)
		return n;
	size_t ext = n - (size_t)(dot - s) - 1;
	if (ext < 1 || ext > 5 || !g_ascii_isalpha(dot[1]))
		return n;
	for (size_t i = 1; i <= ext; i++)
		if (!g_ascii_isalnum(dot[i]))
			return n;
	return (size_t)(dot - s);
}

enum char_kind { NONE, DIGIT, UPPER, LOWER };

static enum char_kind char_kind(char c)
{
	return g_ascii_isdigit(c) ? DIGIT : g_ascii_isupper(c) ? UPPER : LOWER;
}

enum { SLUG_PIECE = 10 };

/* log2(x) for x >= 1, to 16 fractional bits by repeated squaring. The
 * entropy test needs no more, and this keeps libm off the link line. */
static double log2_ge1(double x)
{
	double r = 0, bit = 1;
	while (x >= 2) {
		x /= 2;
		r += 1;
	}
	for (int i = 0; i < 16; i++) {
		x *= x;
		bit /= 2;
		if (x >= 2) {
			x /= 2;
			r += bit;
		}
	}
	return r;
}

static bool looks_unique(const char *s, size_t n)
{
	unsigned counts[256] = {0};
	size_t alnum = 0, digits = 0, changes = 0, seps = 0, piece = 0, longest = 0;
	bool hex = true;
	enum char_kind prev = NONE;

	if (n < MIN_TOKEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		counts[(unsigned char)s[i]]++;
		if (!g_ascii_isalnum(s[i])) {
			seps++;
			piece = 0;
			continue;
		}
		enum char_kind k = char_kind(s[i]);
		alnum++;
		digits += k == DIGIT;
		/* A capital starting a word ("Sale") is not a change. */
		changes += prev != NONE && k != prev && !(prev == UPPER && k == LOWER);
		prev = k;
		hex &= g_ascii_isxdigit(s[i]);
		if (++piece > longest)
			longest = piece;
	}
	/* Words, dates and numbers ("banner_1200x628_v2", "IMG_20240115")
	 * change class a few times; random base64 and hex about every other
	 * character. */
	if (!digits || digits == alnum || changes * 4 < alnum)
		return false;
	/* Separators between short pieces make a slug or a file name
	 * ("Spring-Sale-2024-Women-50off"); a token written with separators
	 * (UUID, SendGrid's "u001.<base64>") keeps a long random piece. */
	if (seps >= 2 && longest < SLUG_PIECE)
		return false;

	double h = 0;
	for (size_t c = 0; c < 256; c++)
		if (counts[c])
			h += (double)counts[c] / (double)n * log2_ge1((double)n / counts[c]);
	/* Sixteen hex symbols cannot reach the 3.5 bits a base64 token of the
	 * same length does: a random 16-char hex string averages about 3.3. */
	return h >= (hex ? 3.0 : 3.5);
}

/* Start of the path: after "scheme://authority", so the host never counts. */
static const char *after_host(const char *url)
{
	size_t sl = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (sl && g_ascii_isalpha(url[0]) && url[sl] == ':') {
		url += sl + 1;
		if (url[0] == '/' && url[1] == '/')
			url += 2 + strcspn(url + 2, "/?#");
	}
	return url;
}

char *bw_find_unique_token(const char *url)
{
	if (!url)
		return NULL;
	const char *p = after_host(url);
	const char *query = p + strcspn(p, "?#");
	const char *end = query + strcspn(query, "#");
	const char *best = NULL;
	size_t best_len = 0;

	while (p < end) {
		/* Components: path segments, then query parameters. A parameter
		 * is judged by its value, so "upn=" is not part of the token. */
		bool in_query = p >= query;
		size_t n = strcspn(p, in_query ? "&;#" : "/?#");
		if (p + n > end)
			n = (size_t)(end - p);
		const char *c = p, *ce = p + n;
		if (in_query) {
			const char *eq = memchr(c, '=', n);
			if (eq)
				c = eq + 1;
		}
		while (c < ce) {
			size_t run = 0;
			while (c + run < ce && token_char(c[run]))
				run++;
			size_t stem = stem_length(c, run);
			if (stem > best_len && looks_unique(c, stem)) {
				best = c;
				best_len = stem;
			}
			c += run ? run : 1;
		}
		p += n + 1;
	}
	return best ? bw_xstrndup(best, best_len) : NULL;
}
