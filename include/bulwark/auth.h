/* Sender authentication: Authentication-Results (RFC 8601) as parsed from
 * trusted headers (src/mail/authres.c), and live SPF/DKIM/DMARC verification
 * for the milter (src/mail/auth_verify.c) that produces such a header. */
#ifndef BULWARK_AUTH_H
#define BULWARK_AUTH_H

#include <stddef.h>

#include "bulwark/util.h"

/* The authserv-id given to headers that have none (Microsoft 365's). */
#define BW_AUTHSERV_NONE "(none)"

/* One "method=result" of a trusted Authentication-Results header. */
typedef struct bw_authres {
	char *method;      /* "spf", "dkim", "dmarc", "arc", ... lower-case */
	char *result;      /* "pass", "fail", "softfail", ... lower-case */
	char *reason;      /* reason= value, or NULL */
	char *authserv_id; /* lower-case */
	size_t header;     /* index into bw_message.headers of the header it came from */
	/* spf: smtp.mailfrom (or smtp.helo) domain; dkim: header.d (or the
	 * domain of header.i); dmarc: header.from; else NULL. Lower-case. */
	char *domain;
	char *identity;    /* spf: smtp.mailfrom or smtp.helo; dkim: header.i; or NULL */
	char *selector;    /* dkim: header.s, or NULL */
	char *signature;   /* dkim: header.b (a prefix of b=), or NULL */
	char *policy;      /* dmarc: policy.dmarc, or p= from a comment, lower-case; or NULL */
	char *comment;     /* the comments of this result, joined by spaces, or NULL */
	bw_strvec props;   /* every "ptype.property=value", ptype and property lower-case */
} bw_authres;

void bw_authres_free(bw_authres *r);

/* The domain of "local@domain" or of a bare domain: lower-case, no trailing
 * dot, malloc'd; NULL for NULL or empty. */
char *bw_mail_domain(const char *addr_or_domain);

/* The value of a property ("header.d"), or NULL. */
const char *bw_authres_prop(const bw_authres *r, const char *name);

/* Parses one Authentication-Results value (unfolded). Returns the number of
 * results appended to *out (grown with bw_grow), or -1 with *error
 * (malloc'd, naming the byte position) when the value is malformed; results
 * before the error are kept. *authserv_id gets the authserv-id (malloc'd)
 * when it could be read. At most max results are appended. */
int bw_authres_parse_value(const char *value, size_t header_index, char **authserv_id,
			   bw_authres **out, size_t *n, size_t *cap, size_t max, char **error);

/* Fills m->dkim_signers, and appends to m->auth the results of the topmost block of
 * Authentication-Results headers whose authserv-id is in trusted_ids (see
 * the comment in src/mail/authres.c for which block and why); malformed
 * ones go to m->errors. Nothing when trusted_ids is empty. */
struct bw_message;
void bw_authres_collect(struct bw_message *m, const bw_strvec *trusted_ids);

/* ---- live verification ---- */

typedef struct bw_auth_config {
	const char *resolver; /* "127.0.0.1" or "127.0.0.1:5353"; NULL = system resolv.conf */
	unsigned timeout_ms;  /* per DNS query; 0 means 5000 */
	const char *authserv_id;
} bw_auth_config;

typedef struct bw_auth bw_auth;

bw_auth *bw_auth_new(const bw_auth_config *cfg, char **error);
void bw_auth_free(bw_auth *a);

/* One message's check. Its bytes go to bw_auth_feed in order, in chunks of
 * any size, as the MTA sends them (the milter feeds the header block at end
 * of headers and each body chunk on arrival), so that DKIM hashes the body
 * while it arrives (libopendkim also fetches the keys as soon as the header
 * block is complete, so bw_auth_feed may wait on DNS, within the same
 * bounds as the rest); bw_auth_finish then runs SPF (libspf2) from client_ip,
 * helo and mail_from, finishes DKIM (libopendkim) and runs DMARC
 * (libopendmarc). It returns the value of an Authentication-Results header
 * (RFC 8601) starting with cfg->authserv_id, e.g. "mx.example; spf=pass
 * smtp.mailfrom=a@b; dkim=pass header.d=b header.s=sel; dmarc=pass
 * header.from=b", malloc'd, never NULL: DNS failures or timeouts become
 * temperror; and it frees m. bw_auth_message_free drops a message not
 * finished. Thread-safe for one bw_auth per thread. */
typedef struct bw_auth_message bw_auth_message;
bw_auth_message *bw_auth_begin(bw_auth *a);
void bw_auth_feed(bw_auth_message *m, const char *data, size_t len);
char *bw_auth_finish(bw_auth *a, bw_auth_message *m, const char *client_ip, const char *helo,
		     const char *mail_from);
void bw_auth_message_free(bw_auth_message *m);

#endif
