/* Recipient address forms: the encodings and digests of one address that
 * trackers put into URLs to say who opened or clicked, as checked by
 * Englehardt et al., "I never signed up for this! Privacy implications of
 * email tracking" (PETS 2018), and a search for them in a string. */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <zlib.h>

#include "bulwark/trackers.h"

typedef struct form {
	const char *name;
	char *value;     /* lower-cased when fold */
	size_t len;
	bool fold;       /* matched case-insensitively */
	bool delimited;  /* must not touch a hex digit: short enough to occur by chance */
	size_t order;    /* insertion order, breaks length ties */
} form;

struct bw_recipient_forms {
	form *v;
	size_t n, cap;
};

/* Takes value. A value already present under an earlier name is dropped, so
 * each string is reported by its first (most specific) name. */
static void add(bw_recipient_forms *f, const char *name, char *value, bool fold, bool delimited)
{
	if (fold)
		bw_ascii_lower(value);
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].fold == fold && strcmp(f->v[i].value, value) == 0) {
			free(value);
			return;
		}
	}
	void *v = f->v;
	bw_grow(&v, &f->cap, f->n + 1, sizeof *f->v);
	f->v = v;
	f->v[f->n] = (form){name, value, strlen(value), fold, delimited, f->n};
	f->n++;
}

/* encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) escaped. */
static char *url_encode(const char *s)
{
	bw_buf b = {0};
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (g_ascii_isalnum(c) || strchr("-_.!~*'()", c))
			bw_buf_putc(&b, (char)c);
		else
			bw_buf_printf(&b, "%%%02X", c);
	}
	return bw_buf_steal(&b);
}

static char *base64(const char *s, bool url, bool pad)
{
	gchar *g = g_base64_encode((const guchar *)s, strlen(s));
	char *out = bw_xstrdup(g);
	g_free(g);
	for (char *p = out; *p; p++) {
		if (url && *p == '+')
			*p = '-';
		else if (url && *p == '/')
			*p = '_';
		else if (!pad && *p == '=')
			*p = '\0';
	}
	return out;
}

static char *hex(const char *s)
{
	bw_buf b = {0};
	for (; *s; s++)
		bw_buf_printf(&b, "%02x", (unsigned char)*s);
	return bw_buf_steal(&b);
}

static char *digest(GChecksumType type, const char *s)
{
	gchar *g = g_compute_checksum_for_string(type, s, -1);
	char *out = bw_xstrdup(g);
	g_free(g);
	return out;
}

static char *crc(const char *s)
{
	bw_buf b = {0};
	uLong c = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)s, (uInt)strlen(s));
	bw_buf_printf(&b, "%08lx", (unsigned long)c);
	return bw_buf_steal(&b);
}

static void add_encodings(bw_recipient_forms *f, const char *a)
{
	add(f, "urlencoded", url_encode(a), true, false);
	add(f, "base64", base64(a, false, true), false, false);
	add(f, "base64", base64(a, false, false), false, false);
	add(f, "base64url", base64(a, true, true), false, false);
	add(f, "base64url", base64(a, true, false), false, false);
	add(f, "hex", hex(a), true, false);
	add(f, "md5", digest(G_CHECKSUM_MD5, a), true, false);
	add(f, "sha1", digest(G_CHECKSUM_SHA1, a), true, false);
	add(f, "sha256", digest(G_CHECKSUM_SHA256, a), true, false);
	add(f, "sha512", digest(G_CHECKSUM_SHA512, a), true, false);
	add(f, "crc32", crc(a), true, true);
}

/* Longest first: a longer form found is the more specific answer, and an
 * MD5 that happens to sit inside a longer digest is never the one named. */
static int by_length(const void *x, const void *y)
{
	const form *a = x, *b = y;
	if (a->len != b->len)
		return a->len < b->len ? 1 : -1;
	return a->order < b->order ? -1 : a->order > b->order;
}

bw_recipient_forms *bw_recipient_forms_new(const char *address)
{
	if (!address || !*address)
		return NULL;
	bw_recipient_forms *f = bw_xcalloc(1, sizeof *f);
	char *lower = bw_xstrdup(address);
	bw_ascii_lower(lower);

	/* "raw" is the address exactly as given; "lowercase" catches it in any
	 * other case. Services normalise addresses to lower case before hashing,
	 * but some hash what the user typed, so both feed the encodings. */
	add(f, "raw", bw_xstrdup(address), false, false);
	add(f, "lowercase", bw_xstrdup(lower), true, false);
	add_encodings(f, lower);
	if (strcmp(lower, address) != 0)
		add_encodings(f, address);
	free(lower);
	qsort(f->v, f->n, sizeof *f->v, by_length);
	return f;
}

void bw_recipient_forms_free(bw_recipient_forms *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].value);
	free(f->v);
	free(f);
}

static bool occurs(const char *hay, size_t n, const form *fm)
{
	const char *end = hay + n;
	for (const char *p = hay; (p = memmem(p, (size_t)(end - p), fm->value, fm->len)); p++) {
		if (!fm->delimited)
			return true;
		const char *after = p + fm->len;
		if ((p == hay || !g_ascii_isxdigit(p[-1])) && (after == end || !g_ascii_isxdigit(*after)))
			return true;
	}
	return false;
}

/* Runs on every URL of every message: one lower-cased copy of s serves all
 * case-insensitive forms, and each form is one memmem. */
const char *bw_recipient_forms_find(const bw_recipient_forms *f, const char *s)
{
	if (!f || !s)
		return NULL;
	size_t n = strlen(s);
	char stack[2048];
	char *low = n < sizeof stack ? stack : bw_xmalloc(n + 1);
	memcpy(low, s, n + 1);
	bw_ascii_lower(low);

	const char *found = NULL;
	for (size_t i = 0; i < f->n && !found; i++)
		if (occurs(f->v[i].fold ? low : s, n, &f->v[i]))
			found = f->v[i].name;
	if (low != stack)
		free(low);
	return found;
}
