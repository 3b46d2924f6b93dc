/* Observable kinds, their stored (normalised) form and type detection of
 * bare values: one definition so that import and matching compare the same
 * strings. */
#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <libpsl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/intel.h"
#include "bulwark/url.h"

static const char *const type_names[] = {
	"domain", "url", "ipv4", "ipv6", "email", "email-subject", "md5", "sha1", "sha256", "filename",
};

const char *bw_obs_type_name(bw_obs_type t)
{
	return t < BW_OBS_NONE ? type_names[t] : "unknown";
}

bw_obs_type bw_obs_type_from_name(const char *name)
{
	for (int t = 0; t < BW_OBS_NONE; t++)
		if (strcmp(type_names[t], name) == 0)
			return (bw_obs_type)t;
	return BW_OBS_NONE;
}

/* A copy without surrounding white space. */
static char *trimmed(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return bw_xstrndup(s, n);
}

static char *norm_domain(const char *value)
{
	char *s = trimmed(value);
	char *d = s;
	if (strncmp(d, "*.", 2) == 0)
		d += 2;
	else if (*d == '.')
		d++;
	size_t n = strlen(d);
	if (n && d[n - 1] == '.')
		d[--n] = '\0';
	char *ascii = NULL;
	/* idn2 refuses underscores, which DNS carries anyway: ASCII names are
	 * taken as they are */
	bool is_ascii = true;
	for (size_t i = 0; i < n; i++)
		is_ascii = is_ascii && (unsigned char)d[i] < 0x80;
	char *out = NULL;
	if (n == 0 || n > 253)
		out = NULL;
	else if (is_ascii)
		out = bw_xstrdup(d);
	else if (idn2_to_ascii_8z(d, &ascii, IDN2_NONTRANSITIONAL) == IDN2_OK)
		out = bw_xstrdup(ascii);
	free(ascii);
	free(s);
	if (!out)
		return NULL;
	bw_ascii_lower(out);
	/* letters, digits, '-', '_'; every label between 1 and 63 bytes */
	size_t label = 0;
	for (const char *p = out;; p++) {
		if (*p == '.' || !*p) {
			if (label == 0 || label > 63) {
				free(out);
				return NULL;
			}
			if (!*p)
				break;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' || *p == '_') {
			label++;
		} else {
			free(out);
			return NULL;
		}
	}
	return out;
}

static char *norm_ip(bw_obs_type t, const char *value, int *prefix_len)
{
	char *s = trimmed(value);
	char *slash = strchr(s, '/');
	int af = t == BW_OBS_IPV4 ? AF_INET : AF_INET6, bits = t == BW_OBS_IPV4 ? 32 : 128;
	int prefix = bits;
	if (slash) {
		*slash = '\0';
		char *end;
		long p = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || p < 0 || p > bits) {
			free(s);
			return NULL;
		}
		prefix = (int)p;
	}
	unsigned char addr[16];
	if (inet_pton(af, s, addr) != 1) {
		free(s);
		return NULL;
	}
	free(s);
	for (int i = 0; i < bits / 8; i++) {
		int keep = prefix - i * 8;
		addr[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(af, addr, buf, sizeof buf);
	*prefix_len = prefix == bits ? -1 : prefix;
	return bw_xstrdup(buf);
}

static char *norm_email(const char *value)
{
	char *s = trimmed(value);
	char *a = s;
	if (bw_ascii_istartswith(a, "mailto:"))
		a += 7;
	size_t n = strlen(a);
	if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
		a[n - 1] = '\0';
		a++;
	}
	char *at = strrchr(a, '@');
	char *out = NULL;
	if (at && at != a && at[1] && strlen(a) <= 320 && !strpbrk(a, " \t<>")) {
		char *dom = norm_domain(at + 1);
		if (dom) {
			bw_buf b = {0};
			bw_buf_append(&b, a, (size_t)(at - a) + 1);
			bw_ascii_lower(b.data);
			bw_buf_puts(&b, dom);
			out = bw_buf_steal(&b);
			free(dom);
		}
	}
	free(s);
	return out;
}

static char *norm_hex(const char *value, size_t len)
{
	char *s = trimmed(value);
	bool ok = strlen(s) == len;
	for (size_t i = 0; ok && i < len; i++)
		ok = isxdigit((unsigned char)s[i]);
	if (!ok) {
		free(s);
		return NULL;
	}
	bw_ascii_lower(s);
	return s;
}

static char *norm_url(const char *value)
{
	char *s = trimmed(value);
	bw_url u;
	char *out = NULL;
	if (*s && bw_url_parse(s, strlen(s), NULL, &u) == 0) {
		out = bw_xstrdup(u.href);
		bw_url_free(&u);
	}
	free(s);
	return out;
}

/* Subjects and file names: trimmed, bounded; file names compared without
 * case, as the systems that open them do. */
static char *norm_text(const char *value, bool lower)
{
	char *s = trimmed(value);
	if (!*s || strlen(s) > 1024) {
		free(s);
		return NULL;
	}
	if (lower)
		bw_ascii_lower(s);
	return s;
}

char *bw_obs_normalise(bw_obs_type t, const char *value, int *prefix_len)
{
	*prefix_len = -1;
	if (!value)
		return NULL;
	switch (t) {
	case BW_OBS_DOMAIN: return norm_domain(value);
	case BW_OBS_URL: return norm_url(value);
	case BW_OBS_IPV4:
	case BW_OBS_IPV6: return norm_ip(t, value, prefix_len);
	case BW_OBS_EMAIL: return norm_email(value);
	case BW_OBS_SUBJECT: return norm_text(value, false);
	case BW_OBS_MD5: return norm_hex(value, 32);
	case BW_OBS_SHA1: return norm_hex(value, 40);
	case BW_OBS_SHA256: return norm_hex(value, 64);
	case BW_OBS_FILENAME: return norm_text(value, true);
	case BW_OBS_NONE: break;
	}
	return NULL;
}

static bool normalises(bw_obs_type t, const char *value)
{
	int prefix;
	char *n = bw_obs_normalise(t, value, &prefix);
	free(n);
	return n != NULL;
}

bool bw_obs_looks_like_ipv4(const char *value)
{
	size_t dots = 0;
	for (const char *p = value; *p; p++) {
		if (*p == '.')
			dots++;
		else if (*p < '0' || *p > '9')
			return false;
	}
	return dots >= 3;
}

bw_obs_type bw_obs_detect(const char *value)
{
	if (!value)
		return BW_OBS_NONE;
	if (normalises(BW_OBS_IPV4, value))
		return BW_OBS_IPV4;
	if (bw_obs_looks_like_ipv4(value))
		return BW_OBS_NONE;
	if (strchr(value, ':') && normalises(BW_OBS_IPV6, value))
		return BW_OBS_IPV6;
	if (strstr(value, "://"))
		return normalises(BW_OBS_URL, value) ? BW_OBS_URL : BW_OBS_NONE;
	if (strchr(value, '@'))
		return normalises(BW_OBS_EMAIL, value) ? BW_OBS_EMAIL : BW_OBS_NONE;
	static const bw_obs_type hashes[] = {BW_OBS_MD5, BW_OBS_SHA1, BW_OBS_SHA256};
	for (size_t i = 0; i < 3; i++)
		if (normalises(hashes[i], value))
			return hashes[i];
	int prefix;
	char *dom = bw_obs_normalise(BW_OBS_DOMAIN, value, &prefix);
	if (dom) {
		/* a domain only when its last label is a listed suffix: "report.exe"
		 * is a file name, "evil.example.com" is not */
		const char *tld = strrchr(dom, '.');
		bool listed = tld && psl_is_public_suffix2(psl_builtin(), tld + 1,
							    PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
		free(dom);
		if (listed)
			return BW_OBS_DOMAIN;
	}
	if (strchr(value, '.') && !strchr(value, '/') && normalises(BW_OBS_FILENAME, value))
		return BW_OBS_FILENAME;
	return BW_OBS_NONE;
}
