/* URLs as a browser sees them: the WHATWG URL Standard's basic URL parser and
 * serializer, registrable domains (libpsl) and redirect-wrapper unwrapping. */
#ifndef BULWARK_URL_H
#define BULWARK_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bw_host_type {
	BW_HOST_NONE = 0, /* no host (mailto:, data:, ...) */
	BW_HOST_DOMAIN,   /* ASCII (IDNA-encoded) domain */
	BW_HOST_IPV4,
	BW_HOST_IPV6,     /* serialized with brackets in href, without in host */
	BW_HOST_OPAQUE,   /* non-special scheme host */
	BW_HOST_EMPTY
} bw_host_type;

/* A parsed URL. All strings are owned by the struct and NUL-terminated.
 * Component strings are the serialized forms, without their delimiters. */
typedef struct bw_url {
	char *href;       /* full serialization (the string a browser requests) */
	char *scheme;     /* lower-case, no ':' */
	char *username;   /* "" when absent */
	char *password;   /* "" when absent */
	char *host;       /* NULL when BW_HOST_NONE; IPv6 without brackets */
	bw_host_type host_type;
	int port;         /* -1 when absent or default for the scheme */
	char *path;       /* serialized path, "" when empty */
	char *query;      /* NULL when absent; without '?' */
	char *fragment;   /* NULL when absent; without '#' */
	bool special;     /* http, https, ws, wss, ftp, file */
} bw_url;

/* Parses input (need not be NUL-terminated) against base (may be NULL).
 * Leading/trailing C0 controls and spaces are stripped and tab/newline removed,
 * as the standard says. Returns 0 and fills *out on success, -1 on failure
 * (out is then zeroed and needs no free). */
int bw_url_parse(const char *input, size_t len, const bw_url *base, bw_url *out);
void bw_url_free(bw_url *u);

/* The standard's percent-decode: writes src[0..n) to dst with each "%XX" (two
 * hex digits) replaced by its byte; other '%' stay. dst may equal src and needs
 * n bytes; no NUL is added. Returns the decoded length. */
size_t bw_url_pct_decode(char *dst, const char *src, size_t n);

/* http or https with a host: the only URLs a mail client fetches remotely. */
bool bw_url_is_remote(const bw_url *u);

/* Registrable domain (eTLD+1) of an ASCII host per the Public Suffix List, or
 * a copy of host when it is an IP address or has no registrable part.
 * Returns a malloc'd string or NULL for NULL/empty host. */
char *bw_registrable_domain(const char *host);
/* host is an IP address or ends in a suffix of the Public Suffix List
 * ("www.examplecom" does not: its last label is no top-level domain). */
bool bw_host_has_known_suffix(const char *host);

/* Destination of a click-tracking or redirect wrapper, recovered from the URL
 * itself: a query/fragment/path value that is a URL (plain, percent-encoded,
 * or base64/base64url-encoded), followed through nested wrappers. Returns a
 * malloc'd serialized URL, or NULL when there is no single embedded
 * destination (none, or several different ones: ambiguous). */
char *bw_url_unwrap(const bw_url *u);

/* The next URL in plain text at or after *pos, as a mail client would link
 * it (http://, https://, www.). Sets [*start, *end) and moves *pos past it;
 * false when there is none. */
bool bw_text_next_url(const char *s, size_t n, size_t *pos, size_t *start, size_t *end);

#endif
