/* The WHATWG URL Standard's basic URL parser and URL serializer: owns turning
 * an href from a message into exactly the URL a browser would request.
 *
 * Hand-written because no library packaged in Debian implements the WHATWG
 * parser: libcurl's URL API and the RFC 3986 parsers differ from browsers on
 * backslashes, missing or extra slashes (http:host), IPv4 shorthand (0x7f.1,
 * 2130706433), removed tabs and newlines, and percent-encode sets, and those
 * differences are exactly what hostile mail uses to hide a destination.
 *
 * The state machine follows https://url.spec.whatwg.org/#concept-basic-url-parser
 * step by step, minus the state-override entry points that only the URL
 * setters use. Components are written back to back into one work buffer in
 * serialization order (scheme, username, password, host, path, query,
 * fragment): every state only ever appends to the component it is building,
 * so the spec's temporary "buffer" is either a span of the input or the tail
 * of the path, and a typical parse costs two allocations: the work buffer
 * and the result. */
#include "bulwark/url.h"
#include "bulwark/util.h"

#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX_INPUT (64u * 1024u)

/* One bit per percent-encode set of the standard (each a superset of the C0
 * control set), plus the forbidden host and forbidden domain code points. */
enum {
	S_C0 = 1 << 0,
	S_FRAG = 1 << 1,
	S_QUERY = 1 << 2,
	S_SQUERY = 1 << 3, /* special-query */
	S_PATH = 1 << 4,
	S_USER = 1 << 5,   /* userinfo */
	F_HOST = 1 << 6,
	F_DOMAIN = 1 << 7,
};
#define S_ALL (S_C0 | S_FRAG | S_QUERY | S_SQUERY | S_PATH | S_USER)
#define S_SPACE_LIKE (S_FRAG | S_QUERY | S_SQUERY | S_PATH | S_USER)
#define CTL (S_ALL | F_DOMAIN)
#define CTH (S_ALL | F_DOMAIN | F_HOST)
#define HI16 S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, \
	S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL, S_ALL

static const uint8_t cls[256] = {
	CTH, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTH, CTH, CTL, CTL, CTH, CTL, CTL,
	CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL, CTL,
	[' '] = S_SPACE_LIKE | F_HOST | F_DOMAIN,
	['"'] = S_SPACE_LIKE,
	['#'] = S_QUERY | S_SQUERY | S_PATH | S_USER | F_HOST | F_DOMAIN,
	['%'] = F_DOMAIN,
	['\''] = S_SQUERY,
	['/'] = S_USER | F_HOST | F_DOMAIN,
	[':'] = S_USER | F_HOST | F_DOMAIN,
	[';'] = S_USER,
	['<'] = S_SPACE_LIKE | F_HOST | F_DOMAIN,
	['='] = S_USER,
	['>'] = S_SPACE_LIKE | F_HOST | F_DOMAIN,
	['?'] = S_PATH | S_USER | F_HOST | F_DOMAIN,
	['@'] = S_USER | F_HOST | F_DOMAIN,
	['['] = S_USER | F_HOST | F_DOMAIN,
	['\\'] = S_USER | F_HOST | F_DOMAIN,
	[']'] = S_USER | F_HOST | F_DOMAIN,
	['^'] = S_PATH | S_USER | F_HOST | F_DOMAIN,
	['`'] = S_FRAG | S_PATH | S_USER,
	['{'] = S_PATH | S_USER,
	['|'] = S_USER | F_HOST | F_DOMAIN,
	['}'] = S_PATH | S_USER,
	[0x7f] = CTL,
	HI16, HI16, HI16, HI16, HI16, HI16, HI16, HI16,
};

enum { END = -1 }; /* the spec's EOF code point */

enum comp { C_SCHEME, C_USER, C_PASS, C_HOST, C_PATH, C_QUERY, C_FRAG, C_N };

typedef struct rec {
	bw_buf w;               /* all components, in serialization order */
	size_t off[C_N], len[C_N];
	int cur;                /* the component being appended to; ends at w.len */
	bool has_host, has_query, has_frag, opaque_path;
	bw_host_type host_type;
	int port;               /* -1: null */
	int default_port;       /* -1: the scheme has none */
	bool special, file;
} rec;

static bool is_alpha(int c) { return (unsigned)((c | 0x20) - 'a') < 26; }
static bool is_digit(int c) { return (unsigned)(c - '0') < 10; }
static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Room for n more bytes plus a NUL. */
static void need(bw_buf *w, size_t n)
{
	if (w->cap - w->len <= n)
		bw_buf_reserve(w, n + 1);
}

static void put(rec *r, const char *s, size_t n)
{
	need(&r->w, n);
	memcpy(r->w.data + r->w.len, s, n);
	r->w.len += n;
}

static void put_char(rec *r, char c)
{
	need(&r->w, 1);
	r->w.data[r->w.len++] = c;
}

static void close_comp(rec *r)
{
	r->len[r->cur] = r->w.len - r->off[r->cur];
}

/* Components are only ever started in increasing order. */
static void to_comp(rec *r, int k)
{
	if (r->cur == k)
		return;
	close_comp(r);
	r->off[k] = r->w.len;
	r->cur = k;
}

static void copy_comp(rec *r, int k, const char *s)
{
	to_comp(r, k);
	if (s)
		put(r, s, strlen(s));
}

/* ---- percent-encoding ---- */

/* Length of the UTF-8 sequence at s (n >= 1, s[0] >= 0x80) when valid; when
 * not, minus the length of its maximal invalid subpart, which the Encoding
 * Standard's decoder (what a browser ran over the page) turns into U+FFFD. */
static int utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF, b = s[0];
	int more;
	if (b >= 0xC2 && b <= 0xDF) {
		more = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		more = 2;
		lo = b == 0xE0 ? 0xA0 : 0x80;
		hi = b == 0xED ? 0x9F : 0xBF;
	} else if (b >= 0xF0 && b <= 0xF4) {
		more = 3;
		lo = b == 0xF0 ? 0x90 : 0x80;
		hi = b == 0xF4 ? 0x8F : 0xBF;
	} else {
		return -1;
	}
	for (int i = 1; i <= more; i++) {
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xBF;
	}
	return more + 1;
}

static const char hexdig[] = "0123456789ABCDEF";

static char *put_pct(char *d, unsigned char b)
{
	d[0] = '%';
	d[1] = hexdig[b >> 4];
	d[2] = hexdig[b & 15];
	return d + 3;
}

/* UTF-8 percent-encodes s[0..n) with the percent-encode set `set`. */
static void pct_encode(bw_buf *w, const char *s, size_t n, unsigned set)
{
	const unsigned char *u = (const unsigned char *)s;
	need(w, 3 * n);
	char *d = w->data + w->len;
	for (size_t i = 0; i < n;) {
		unsigned char b = u[i];
		if (!(cls[b] & set)) {
			*d++ = (char)b;
			i++;
		} else if (b < 0x80) {
			d = put_pct(d, b);
			i++;
		} else {
			int k = utf8_seq(u + i, n - i);
			if (k > 0) {
				for (int j = 0; j < k; j++)
					d = put_pct(d, u[i + (size_t)j]);
				i += (size_t)k;
			} else {
				/* 9 output bytes for as little as one input byte: regrow */
				w->len = (size_t)(d - w->data);
				need(w, 9 + 3 * (n - i));
				d = w->data + w->len;
				memcpy(d, "%EF%BF%BD", 9);
				d += 9;
				i += (size_t)-k;
			}
		}
	}
	w->len = (size_t)(d - w->data);
}

size_t bw_url_pct_decode(char *dst, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (src[i] == '%' && i + 2 < n && (h = hexval((unsigned char)src[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)src[i + 2])) >= 0) {
			dst[o++] = (char)(h * 16 + l);
			i += 2;
		} else {
			dst[o++] = src[i];
		}
	}
	return o;
}

/* ---- hosts ---- */

static int parse_ipv6(const char *s, size_t n, uint16_t a[8])
{
	size_t p = 0;
	int piece = 0, compress = -1;
#define C6 (p < n ? (unsigned char)s[p] : END)
	memset(a, 0, 8 * sizeof *a);
	if (C6 == ':') {
		if (p + 1 >= n || s[p + 1] != ':')
			return -1;
		p += 2;
		compress = ++piece;
	}
	while (C6 != END) {
		if (piece == 8)
			return -1;
		if (C6 == ':') {
			if (compress >= 0)
				return -1;
			p++;
			compress = ++piece;
			continue;
		}
		unsigned value = 0;
		size_t length = 0;
		while (length < 4 && hexval(C6) >= 0) {
			value = value * 16 + (unsigned)hexval(C6);
			p++;
			length++;
		}
		if (C6 == '.') {
			if (length == 0 || piece > 6)
				return -1;
			p -= length;
			int seen = 0;
			while (C6 != END) {
				int v4 = -1;
				if (seen > 0) {
					if (C6 != '.' || seen >= 4)
						return -1;
					p++;
				}
				if (!is_digit(C6))
					return -1;
				while (is_digit(C6)) {
					if (v4 == 0)
						return -1; /* leading zero */
					v4 = (v4 < 0 ? 0 : v4 * 10) + (C6 - '0');
					if (v4 > 255)
						return -1;
					p++;
				}
				a[piece] = (uint16_t)(a[piece] * 0x100 + v4);
				if (++seen == 2 || seen == 4)
					piece++;
			}
			if (seen != 4)
				return -1;
			break;
		}
		if (C6 == ':') {
			p++;
			if (C6 == END)
				return -1;
		} else if (C6 != END) {
			return -1;
		}
		a[piece++] = (uint16_t)value;
	}
#undef C6
	if (compress >= 0) {
		int swaps = piece - compress;
		for (piece = 7; piece != 0 && swaps > 0; piece--, swaps--) {
			uint16_t t = a[piece];
			a[piece] = a[compress + swaps - 1];
			a[compress + swaps - 1] = t;
		}
	} else if (piece != 8) {
		return -1;
	}
	return 0;
}

static void put_ipv6(rec *r, const uint16_t a[8])
{
	int best = -1, bestlen = 1;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && a[j] == 0)
			j++;
		if (j - i > bestlen) {
			best = i;
			bestlen = j - i;
		}
		i = j > i ? j : i + 1;
	}
	bool ignore0 = false;
	for (int i = 0; i < 8; i++) {
		if (ignore0 && a[i] == 0)
			continue;
		ignore0 = false;
		if (i == best) {
			put(r, "::", i == 0 ? 2 : 1);
			ignore0 = true;
			continue;
		}
		char tmp[5];
		int k = 0;
		for (int sh = 12; sh >= 0; sh -= 4)
			if ((a[i] >> sh) || sh == 0 || k)
				tmp[k++] = "0123456789abcdef"[(a[i] >> sh) & 15];
		put(r, tmp, (size_t)k);
		if (i != 7)
			put_char(r, ':');
	}
}

/* The IPv4 number parser; values past 2^32 are clamped, which is enough to
 * reject them and keeps hostile digit runs from overflowing. */
static int ipv4_number(const char *s, size_t n, uint64_t *out)
{
	unsigned radix = 10;
	if (n == 0)
		return -1;
	if (n >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
		s += 2;
		n -= 2;
		radix = 16;
	} else if (n >= 2 && s[0] == '0') {
		s++;
		n--;
		radix = 8;
	}
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexval((unsigned char)s[i]);
		if (d < 0 || (unsigned)d >= radix)
			return -1;
		v = v * radix + (unsigned)d;
		if (v > UINT32_MAX)
			v = (uint64_t)UINT32_MAX + 1;
	}
	*out = v;
	return 0;
}

static bool ends_in_number(const char *d, size_t n)
{
	if (n > 0 && d[n - 1] == '.')
		n--;
	size_t i = n;
	while (i > 0 && d[i - 1] != '.')
		i--;
	const char *last = d + i;
	size_t len = n - i;
	if (len == 0)
		return false;
	size_t k = 0;
	while (k < len && is_digit(last[k]))
		k++;
	if (k == len)
		return true;
	if (len < 2 || last[0] != '0' || (last[1] | 0x20) != 'x')
		return false;
	for (k = 2; k < len; k++)
		if (hexval((unsigned char)last[k]) < 0)
			return false;
	return true;
}

static int parse_ipv4(const char *d, size_t n, uint32_t *out)
{
	uint64_t num[4];
	int count = 0;
	if (n > 0 && d[n - 1] == '.')
		n--;
	for (size_t i = 0;; i++) {
		size_t j = i;
		while (j < n && d[j] != '.')
			j++;
		if (count == 4 || ipv4_number(d + i, j - i, &num[count]) < 0)
			return -1;
		count++;
		if (j >= n)
			break;
		i = j;
	}
	for (int i = 0; i < count - 1; i++)
		if (num[i] > 255)
			return -1;
	if (num[count - 1] >= (uint64_t)1 << (8 * (5 - count)))
		return -1;
	uint64_t v = num[count - 1];
	for (int i = 0; i < count - 1; i++)
		v += num[i] << (8 * (3 - i));
	*out = (uint32_t)v;
	return 0;
}

static char *cat(char *d, const char *s, size_t n)
{
	memcpy(d, s, n);
	return d + n;
}

static char *cat_uint(char *d, unsigned v)
{
	char tmp[10];
	size_t k = sizeof tmp;
	do
		tmp[--k] = (char)('0' + v % 10);
	while (v /= 10);
	return cat(d, tmp + k, sizeof tmp - k);
}

/* d is lower-cased */
static bool has_xn_label(const char *d, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if ((i == 0 || d[i - 1] == '.') && !memcmp(d + i, "xn--", 4))
			return true;
	return false;
}

/* UTS #46 ToASCII of the NUL-terminated UTF-8 domain at w[start..], replacing
 * it. libidn2 checks labels against IDNA2008, which disallows symbols such as
 * emoji and U+2603 that UTS #46 (and so every browser) accepts; its
 * transitional mode accepts them. Transitional processing differs from the
 * spec's non-transitional one only in mapping the four deviation characters
 * (U+00DF, U+03C2, ZWNJ, ZWJ), so the retry is taken only for a disallowed
 * code point and when none of those is present. */
static int idna_to_ascii(rec *r, size_t start)
{
	const char *in = r->w.data + start;
	char *out = NULL;
	int rc = idn2_to_ascii_8z(in, &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc == IDN2_DISALLOWED && !strstr(in, "\xC3\x9F") && !strstr(in, "\xCF\x82") &&
	    !strstr(in, "\xE2\x80\x8C") && !strstr(in, "\xE2\x80\x8D"))
		rc = idn2_to_ascii_8z(in, &out, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
	if (rc != IDN2_OK)
		return -1;
	size_t n = strlen(out);
	r->w.len = start;
	put(r, out, n);
	idn2_free(out);
	if (n == 0)
		return -1;
	for (size_t i = start; i < r->w.len; i++)
		if (cls[(unsigned char)r->w.data[i]] & F_DOMAIN)
			return -1;
	return 0;
}

/* Host parsing of a special URL's host that is not an IPv6 literal. */
static int parse_domain(rec *r, const char *s, size_t n)
{
	size_t start = r->w.len;
	need(&r->w, n + 1);
	char *d = r->w.data + start;
	size_t m = bw_url_pct_decode(d, s, n);
	bool ascii = true;
	if (m == 0)
		return -1;
	/* UTS #46 keeps every ASCII code point when STD3 rules are off (only
	 * lower-casing letters), so a forbidden one before mapping is one after:
	 * reject early, which also keeps NULs away from libidn2. */
	size_t spaces = 0;
	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c >= 0x80)
			ascii = false;
		else if (c == ' ')
			spaces++;
		else if (cls[c] & F_DOMAIN)
			return -1;
		else
			d[i] = lower((char)c);
	}
	r->w.len = start + m;
	/* The standard rejects a space in a host, but Chromium requests such
	 * a URL with the space as %20 (seen: src="http://img.relacio\n
	 * namentovivo.com.br/..." in real phishing). We list what the browser
	 * fetches, so an ASCII host with spaces is kept that way. */
	if (spaces) {
		if (!ascii)
			return -1;
		char *copy = bw_xstrndup(d, m);
		r->w.len = start;
		need(&r->w, m + 2 * spaces + 1);
		for (size_t i = 0; i < m; i++) {
			if (copy[i] == ' ')
				memcpy(r->w.data + r->w.len, "%20", 3), r->w.len += 3;
			else
				r->w.data[r->w.len++] = copy[i];
		}
		free(copy);
		r->host_type = BW_HOST_DOMAIN;
		return 0;
	}
	/* the spec's own shortcut: without non-ASCII or "xn--" labels, ToASCII
	 * is the lower-casing just done */
	if (!ascii || has_xn_label(d, m)) {
		d[m] = '\0';
		if (idna_to_ascii(r, start) < 0)
			return -1;
		d = r->w.data + start;
		m = r->w.len - start;
	}
	r->host_type = BW_HOST_DOMAIN;
	if (ends_in_number(d, m)) {
		uint32_t v;
		if (parse_ipv4(d, m, &v) < 0)
			return -1;
		need(&r->w, 15);
		d = r->w.data + start;
		for (int i = 3; i >= 0; i--) {
			d = cat_uint(d, (v >> (8 * i)) & 255);
			if (i)
				*d++ = '.';
		}
		r->w.len = (size_t)(d - r->w.data);
		r->host_type = BW_HOST_IPV4;
	}
	return 0;
}

/* The host parser, writing the serialized host (IPv6 without brackets). */
static int parse_host(rec *r, const char *s, size_t n, bool opaque)
{
	to_comp(r, C_HOST);
	r->has_host = true;
	if (n > 0 && s[0] == '[') {
		uint16_t a[8];
		if (n < 2 || s[n - 1] != ']' || parse_ipv6(s + 1, n - 2, a) < 0)
			return -1;
		put_ipv6(r, a);
		r->host_type = BW_HOST_IPV6;
		return 0;
	}
	if (!opaque)
		return parse_domain(r, s, n);
	for (size_t i = 0; i < n; i++)
		if (cls[(unsigned char)s[i]] & F_HOST)
			return -1;
	pct_encode(&r->w, s, n, S_C0);
	r->host_type = n ? BW_HOST_OPAQUE : BW_HOST_EMPTY;
	return 0;
}

/* ---- paths ---- */

static bool is_drive(const char *s) { return is_alpha(s[0]) && (s[1] == ':' || s[1] == '|'); }

static bool starts_with_drive(const char *s, size_t n)
{
	return n >= 2 && is_drive(s) &&
	       (n == 2 || s[2] == '/' || s[2] == '\\' || s[2] == '?' || s[2] == '#');
}

/* Length of a leading "." or "%2e" in d, or 0. */
static size_t dot_len(const char *d, size_t n)
{
	if (n >= 1 && d[0] == '.')
		return 1;
	if (n >= 3 && d[0] == '%' && d[1] == '2' && (d[2] | 0x20) == 'e')
		return 3;
	return 0;
}

static bool is_dot(const char *d, size_t n)
{
	size_t k = dot_len(d, n);
	return k && k == n;
}

static bool is_dotdot(const char *d, size_t n)
{
	size_t k = dot_len(d, n);
	return k && is_dot(d + k, n - k);
}

/* Whether a serialized path's first segment is a normalized Windows drive
 * letter ("/C:" alone or followed by more segments). */
static bool first_segment_is_drive(const char *path, size_t n)
{
	return n >= 3 && path[0] == '/' && is_alpha(path[1]) && path[2] == ':' &&
	       (n == 3 || path[3] == '/');
}

/* The path is stored serialized: each segment preceded by '/'. */
static void shorten_path(rec *r)
{
	size_t start = r->off[C_PATH], i = r->w.len;
	const char *p = r->w.data;
	if (r->file && i - start == 3 && first_segment_is_drive(p + start, 3))
		return;
	while (i > start && p[i - 1] != '/')
		i--;
	if (i > start)
		r->w.len = i - 1;
}

/* Starts a path segment; returns where its content begins. */
static size_t begin_segment(rec *r)
{
	to_comp(r, C_PATH);
	put_char(r, '/');
	return r->w.len;
}

/* The path state's end of a segment, whose content is w[seg..]. */
static void end_segment(rec *r, size_t seg, bool slash)
{
	char *d = r->w.data + seg;
	size_t n = r->w.len - seg;
	if (is_dotdot(d, n)) {
		r->w.len = seg - 1;
		shorten_path(r);
		if (!slash)
			put_char(r, '/');
	} else if (is_dot(d, n)) {
		r->w.len = seg - 1;
		if (!slash)
			put_char(r, '/');
	} else if (r->file && seg - 1 == r->off[C_PATH] && n == 2 && is_drive(d)) {
		d[1] = ':';
	}
}

static bool base_has_opaque_path(const bw_url *b)
{
	return !b->host && b->path[0] != '/';
}

/* ---- the state machine ---- */

static const struct {
	const char *name;
	int port;
} special_schemes[] = {
	{"http", 80}, {"https", 443}, {"ws", 80}, {"wss", 443}, {"ftp", 21}, {"file", -1},
};

static void set_scheme(rec *r, const char *s, size_t n)
{
	need(&r->w, n);
	for (size_t i = 0; i < n; i++)
		r->w.data[i] = lower(s[i]);
	r->w.len = n;
	for (size_t i = 0; i < sizeof special_schemes / sizeof *special_schemes; i++) {
		if (strlen(special_schemes[i].name) == n && !memcmp(special_schemes[i].name, r->w.data, n)) {
			r->special = true;
			r->default_port = special_schemes[i].port;
			r->file = !strcmp(special_schemes[i].name, "file");
		}
	}
}

static void inherit_scheme(rec *r, const char *scheme)
{
	if (r->w.len == 0)
		set_scheme(r, scheme, strlen(scheme));
}

static void copy_host(rec *r, const bw_url *b)
{
	if (!b->host)
		return;
	copy_comp(r, C_HOST, b->host);
	r->has_host = true;
	r->host_type = b->host_type;
}

static void copy_authority(rec *r, const bw_url *b)
{
	copy_comp(r, C_USER, b->username);
	copy_comp(r, C_PASS, b->password);
	copy_host(r, b);
	r->port = b->port;
}

static void copy_query(rec *r, const bw_url *b)
{
	if (b->query) {
		copy_comp(r, C_QUERY, b->query);
		r->has_query = true;
	}
}

static void start_query(rec *r)
{
	to_comp(r, C_QUERY);
	r->has_query = true;
}

static void start_fragment(rec *r)
{
	to_comp(r, C_FRAG);
	r->has_frag = true;
}

/* Appends userinfo input to the username until the first ':', then to the
 * password, as the authority state does at each '@'. */
static void put_userinfo(rec *r, const char *s, size_t n, bool *pw_seen)
{
	if (!*pw_seen) {
		const char *colon = memchr(s, ':', n);
		size_t k = colon ? (size_t)(colon - s) : n;
		to_comp(r, C_USER);
		pct_encode(&r->w, s, k, S_USER);
		if (!colon)
			return;
		*pw_seen = true;
		s += k + 1;
		n -= k + 1;
	}
	to_comp(r, C_PASS);
	pct_encode(&r->w, s, n, S_USER);
}

enum state {
	ST_SCHEME_START, ST_SCHEME, ST_NO_SCHEME, ST_SPECIAL_RELATIVE_OR_AUTHORITY,
	ST_PATH_OR_AUTHORITY, ST_RELATIVE, ST_RELATIVE_SLASH, ST_SPECIAL_AUTHORITY_SLASHES,
	ST_SPECIAL_AUTHORITY_IGNORE_SLASHES, ST_AUTHORITY, ST_HOST, ST_PORT, ST_FILE,
	ST_FILE_SLASH, ST_FILE_HOST, ST_PATH_START, ST_PATH, ST_OPAQUE_PATH, ST_QUERY,
	ST_FRAGMENT,
};

/* Index of the first forbidden host code point in s[p..n), or n: a cheap
 * filter for the authority and host states, whose delimiters all are. */
static size_t skip_host_chars(const char *s, size_t p, size_t n)
{
	while (p < n && !(cls[(unsigned char)s[p]] & F_HOST))
		p++;
	return p;
}

static bool base_is(const bw_url *b, const char *scheme, size_t n)
{
	return b && strlen(b->scheme) == n && !memcmp(b->scheme, scheme, n);
}

/* The basic URL parser over s[0..n), already trimmed and without tabs or
 * newlines. p is the spec's pointer: "decrease pointer by 1" may take it from
 * 0 to SIZE_MAX, and the loop's increment wraps it back to 0. */
static int run(rec *r, const char *s, size_t n, const bw_url *base)
{
	enum state st = ST_SCHEME_START;
	size_t bstart = 0; /* in the buffer states, the spec's buffer is s[bstart..p) */
	size_t seg = 0;    /* in the path state, the segment being built is w[seg..] */
	bool at_seen = false, in_brackets = false, pw_seen = false;

#define IS_SLASH(c) ((c) == '/' || (r->special && (c) == '\\'))
#define IS_END(c) ((c) == END || IS_SLASH(c) || (c) == '?' || (c) == '#')
#define TO_PATH() (st = ST_PATH, seg = begin_segment(r))

	for (size_t p = 0;; p++) {
		int c = p < n ? (unsigned char)s[p] : END;
		switch (st) {
		case ST_SCHEME_START:
			if (is_alpha(c)) {
				st = ST_SCHEME;
			} else {
				st = ST_NO_SCHEME;
				p--;
			}
			break;

		case ST_SCHEME:
			if (is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.')
				break;
			if (c != ':') {
				st = ST_NO_SCHEME;
				p = (size_t)-1; /* start over */
				break;
			}
			set_scheme(r, s, p);
			if (r->file) {
				st = ST_FILE;
			} else if (r->special && base_is(base, r->w.data, r->w.len)) {
				st = ST_SPECIAL_RELATIVE_OR_AUTHORITY;
			} else if (r->special) {
				st = ST_SPECIAL_AUTHORITY_SLASHES;
			} else if (p + 1 < n && s[p + 1] == '/') {
				st = ST_PATH_OR_AUTHORITY;
				p++;
			} else {
				to_comp(r, C_PATH);
				r->opaque_path = true;
				st = ST_OPAQUE_PATH;
			}
			break;

		case ST_NO_SCHEME:
			if (!base || (base_has_opaque_path(base) && c != '#'))
				return -1;
			if (base_has_opaque_path(base)) {
				inherit_scheme(r, base->scheme);
				copy_comp(r, C_PATH, base->path);
				r->opaque_path = true;
				copy_query(r, base);
				start_fragment(r);
				st = ST_FRAGMENT;
			} else {
				st = base_is(base, "file", 4) ? ST_FILE : ST_RELATIVE;
				p--;
			}
			break;

		case ST_SPECIAL_RELATIVE_OR_AUTHORITY:
			if (c == '/' && p + 1 < n && s[p + 1] == '/') {
				st = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p++;
			} else {
				st = ST_RELATIVE;
				p--;
			}
			break;

		case ST_PATH_OR_AUTHORITY:
			if (c == '/') {
				st = ST_AUTHORITY;
				bstart = p + 1;
			} else {
				TO_PATH();
				p--;
			}
			break;

		case ST_RELATIVE:
			inherit_scheme(r, base->scheme);
			if (IS_SLASH(c)) {
				st = ST_RELATIVE_SLASH;
				break;
			}
			copy_authority(r, base);
			copy_comp(r, C_PATH, base->path);
			if (c == '?') {
				start_query(r);
				st = ST_QUERY;
			} else if (c == '#') {
				copy_query(r, base);
				start_fragment(r);
				st = ST_FRAGMENT;
			} else if (c != END) {
				shorten_path(r);
				TO_PATH();
				p--;
			} else {
				copy_query(r, base);
			}
			break;

		case ST_RELATIVE_SLASH:
			if (r->special && (c == '/' || c == '\\')) {
				st = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			} else if (c == '/') {
				st = ST_AUTHORITY;
				bstart = p + 1;
			} else {
				copy_authority(r, base);
				TO_PATH();
				p--;
			}
			break;

		case ST_SPECIAL_AUTHORITY_SLASHES:
			st = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			if (c == '/' && p + 1 < n && s[p + 1] == '/')
				p++;
			else
				p--;
			break;

		case ST_SPECIAL_AUTHORITY_IGNORE_SLASHES:
			if (c != '/' && c != '\\') {
				st = ST_AUTHORITY;
				bstart = p;
				p--;
			}
			break;

		case ST_AUTHORITY:
			while (c != '@' && !IS_END(c)) {
				p = skip_host_chars(s, p + 1, n);
				c = p < n ? (unsigned char)s[p] : END;
			}
			if (c == '@') {
				if (at_seen)
					put_userinfo(r, "%40", 3, &pw_seen);
				at_seen = true;
				put_userinfo(r, s + bstart, p - bstart, &pw_seen);
				bstart = p + 1;
			} else {
				if (at_seen && p == bstart)
					return -1;
				p = bstart - 1;
				st = ST_HOST;
			}
			break;

		case ST_HOST:
			while (!(c == ':' && !in_brackets) && !IS_END(c)) {
				if (c == '[')
					in_brackets = true;
				else if (c == ']')
					in_brackets = false;
				p = skip_host_chars(s, p + 1, n);
				c = p < n ? (unsigned char)s[p] : END;
			}
			if (c == ':') {
				if (p == bstart || parse_host(r, s + bstart, p - bstart, !r->special) < 0)
					return -1;
				st = ST_PORT;
				bstart = p + 1;
			} else {
				if ((r->special && p == bstart) ||
				    parse_host(r, s + bstart, p - bstart, !r->special) < 0)
					return -1;
				st = ST_PATH_START;
				p--;
			}
			break;

		case ST_PORT:
			while (is_digit(c))
				c = ++p < n ? (unsigned char)s[p] : END;
			if (!IS_END(c))
				return -1;
			if (p > bstart) {
				unsigned long v = 0;
				for (size_t i = bstart; i < p && v <= 65535; i++)
					v = v * 10 + (unsigned long)(s[i] - '0');
				if (v > 65535)
					return -1;
				r->port = (int)v == r->default_port ? -1 : (int)v;
			}
			st = ST_PATH_START;
			p--;
			break;

		case ST_FILE:
			inherit_scheme(r, "file");
			to_comp(r, C_HOST);
			r->has_host = true;
			r->host_type = BW_HOST_EMPTY;
			if (c == '/' || c == '\\') {
				st = ST_FILE_SLASH;
			} else if (base_is(base, "file", 4)) {
				copy_host(r, base);
				copy_comp(r, C_PATH, base->path);
				if (c == '?') {
					start_query(r);
					st = ST_QUERY;
				} else if (c == '#') {
					copy_query(r, base);
					start_fragment(r);
					st = ST_FRAGMENT;
				} else if (c != END) {
					if (!starts_with_drive(s + p, n - p))
						shorten_path(r);
					else
						r->w.len = r->off[C_PATH];
					TO_PATH();
					p--;
				} else {
					copy_query(r, base);
				}
			} else {
				TO_PATH();
				p--;
			}
			break;

		case ST_FILE_SLASH:
			if (c == '/' || c == '\\') {
				st = ST_FILE_HOST;
				bstart = p + 1;
				break;
			}
			if (base_is(base, "file", 4)) {
				copy_host(r, base);
				if (!starts_with_drive(s + p, n - p) &&
				    first_segment_is_drive(base->path, strlen(base->path))) {
					to_comp(r, C_PATH);
					put(r, base->path, 3);
				}
			}
			TO_PATH();
			p--;
			break;

		case ST_FILE_HOST:
			if (!(c == END || c == '/' || c == '\\' || c == '?' || c == '#'))
				break;
			if (p - bstart == 2 && is_drive(s + bstart)) {
				/* not a host but the path's drive letter ("file://C:/") */
				TO_PATH();
				put(r, s + bstart, 2);
			} else {
				if (p > bstart && parse_host(r, s + bstart, p - bstart, false) < 0)
					return -1;
				if (r->w.len - r->off[C_HOST] == 9 &&
				    !memcmp(r->w.data + r->off[C_HOST], "localhost", 9)) {
					r->w.len = r->off[C_HOST];
					r->host_type = BW_HOST_EMPTY;
				}
				st = ST_PATH_START;
			}
			p--;
			break;

		case ST_PATH_START:
			if (r->special) {
				TO_PATH();
				if (c != '/' && c != '\\')
					p--;
			} else if (c == '?') {
				start_query(r);
				st = ST_QUERY;
			} else if (c == '#') {
				start_fragment(r);
				st = ST_FRAGMENT;
			} else if (c != END) {
				TO_PATH();
				if (c != '/')
					p--;
			}
			break;

		case ST_PATH:
			for (;;) {
				size_t e = p;
				while (e < n && !IS_SLASH(s[e]) && s[e] != '?' && s[e] != '#')
					e++;
				pct_encode(&r->w, s + p, e - p, S_PATH);
				p = e;
				c = p < n ? (unsigned char)s[p] : END;
				end_segment(r, seg, IS_SLASH(c));
				if (!IS_SLASH(c))
					break;
				seg = begin_segment(r);
				p++;
			}
			if (c == '?') {
				start_query(r);
				st = ST_QUERY;
			} else if (c == '#') {
				start_fragment(r);
				st = ST_FRAGMENT;
			}
			break;

		case ST_OPAQUE_PATH: {
			size_t e = p;
			while (e < n && s[e] != '?' && s[e] != '#')
				e++;
			/* a space just before '?' or '#' is encoded so that the path
			 * survives losing its query or fragment */
			bool space = e < n && e > p && s[e - 1] == ' ';
			pct_encode(&r->w, s + p, e - p - space, S_C0);
			if (space)
				put(r, "%20", 3);
			p = e;
			if (p < n && s[p] == '?') {
				start_query(r);
				st = ST_QUERY;
			} else if (p < n) {
				start_fragment(r);
				st = ST_FRAGMENT;
			}
			break;
		}

		case ST_QUERY: {
			const char *hash = memchr(s + p, '#', n - p);
			size_t e = hash ? (size_t)(hash - s) : n;
			pct_encode(&r->w, s + p, e - p, r->special ? S_SQUERY : S_QUERY);
			p = e;
			if (hash) {
				start_fragment(r);
				st = ST_FRAGMENT;
			}
			break;
		}

		case ST_FRAGMENT:
			pct_encode(&r->w, s + p, n - p, S_FRAG);
			p = n;
			break;
		}
		if (p == n)
			break;
	}
#undef IS_SLASH
#undef IS_END
#undef TO_PATH
	close_comp(r);
	return 0;
}

/* Builds the href and the component strings in one allocation. The href
 * comes first, so the block is freed through it: a caller may keep the href
 * alone (take it, set u->href to NULL, bw_url_free) and free() it later. */
static void serialize(const rec *r, bw_url *out)
{
	const char *w = r->w.data;
	const size_t *len = r->len;
	bool v6 = r->host_type == BW_HOST_IPV6;
	bool creds = len[C_USER] || len[C_PASS];
	/* "/." keeps a path that starts with an empty segment from reading as a host */
	bool dot = !r->has_host && !r->opaque_path && len[C_PATH] > 1 && w[r->off[C_PATH] + 1] == '/';
	size_t total = 0;
	for (int k = 0; k < C_N; k++)
		total += 2 * len[k] + 1;
	total += sizeof "://:@[]:65535/.?#";

	char *blk = bw_xmalloc(total), *d = blk;
#define ADD(k) (d = cat(d, w + r->off[k], len[k]))
	ADD(C_SCHEME);
	*d++ = ':';
	if (r->has_host) {
		d = cat(d, "//", 2);
		if (creds) {
			ADD(C_USER);
			if (len[C_PASS]) {
				*d++ = ':';
				ADD(C_PASS);
			}
			*d++ = '@';
		}
		if (v6)
			*d++ = '[';
		ADD(C_HOST);
		if (v6)
			*d++ = ']';
		if (r->port >= 0) {
			*d++ = ':';
			d = cat_uint(d, (unsigned)r->port);
		}
	}
	if (dot)
		d = cat(d, "/.", 2);
	ADD(C_PATH);
	if (r->has_query) {
		*d++ = '?';
		ADD(C_QUERY);
	}
	if (r->has_frag) {
		*d++ = '#';
		ADD(C_FRAG);
	}
	*d++ = '\0';
	out->href = blk;

	char **field[C_N] = {&out->scheme, &out->username, &out->password, &out->host,
	                     &out->path, &out->query, &out->fragment};
	for (int k = 0; k < C_N; k++) {
		*field[k] = d;
		ADD(k);
		*d++ = '\0';
	}
#undef ADD
	if (!r->has_host)
		out->host = NULL;
	if (!r->has_query)
		out->query = NULL;
	if (!r->has_frag)
		out->fragment = NULL;
	out->host_type = r->has_host ? r->host_type : BW_HOST_NONE;
	out->port = r->port;
	out->special = r->special;
}

int bw_url_parse(const char *input, size_t len, const bw_url *base, bw_url *out)
{
	memset(out, 0, sizeof *out);
	if (!input || len > URL_MAX_INPUT)
		return -1;
	if (base && !base->href)
		base = NULL;

	/* strip leading and trailing C0 controls and spaces */
	const unsigned char *u = (const unsigned char *)input;
	size_t a = 0, b = len;
	while (a < b && u[a] <= 0x20)
		a++;
	while (b > a && u[b - 1] <= 0x20)
		b--;
	const char *s = input + a;
	size_t n = b - a;

	/* remove all tabs and newlines */
	char *clean = NULL;
	if (memchr(s, '\t', n) || memchr(s, '\n', n) || memchr(s, '\r', n)) {
		size_t m = 0;
		clean = bw_xmalloc(n);
		for (size_t i = 0; i < n; i++)
			if (s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
				clean[m++] = s[i];
		s = clean;
		n = m;
	}

	rec r = {.port = -1, .default_port = -1};
	need(&r.w, 2 * n + (base ? strlen(base->href) : 0) + 16);
	int rc = run(&r, s, n, base);
	if (rc == 0)
		serialize(&r, out);
	bw_buf_free(&r.w);
	free(clean);
	return rc;
}

void bw_url_free(bw_url *u)
{
	if (!u)
		return;
	free(u->href); /* every component string lives in the href's block */
	memset(u, 0, sizeof *u);
}

bool bw_url_is_remote(const bw_url *u)
{
	return u && u->host && u->host[0] &&
	       (!strcmp(u->scheme, "http") || !strcmp(u->scheme, "https"));
}
