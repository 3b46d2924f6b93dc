/* Live sender authentication for the milter: SPF (libspf2), DKIM
 * (libopendkim) and DMARC (libopendmarc), written out as one
 * Authentication-Results header value that the same parser as in archive
 * scans (authres.c) then reads.
 *
 * All three libraries would otherwise resolve through the process-wide
 * resolv.conf without a bound we control, so every DNS query goes through
 * one private resolver state per bw_auth (a configurable server and port,
 * per-query timeout, one attempt): libspf2 gets it as a DNS layer of its own,
 * libopendkim through its key-lookup callback, and libopendmarc is handed
 * the DMARC record we fetched (opendmarc_policy_store_dmarc). After one
 * timeout the rest of the message's queries fail at once, so a dead resolver
 * costs one timeout, not one per SPF mechanism.
 *
 * The message comes in chunks (bw_auth_feed) while the MTA sends it, so
 * that DKIM canonicalizes and hashes the body as it arrives: end of data
 * then only verifies signatures and asks DNS. Hashing a 2.9 MB body at end
 * of data took 59 ms of the milter's reply time. */
#include <arpa/inet.h>
#include <errno.h>
#include <arpa/nameser.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>

#include "bulwark/auth.h"
#include "bulwark/mail.h"
#include "bulwark/url.h"

#define PSL_FILE "/usr/share/publicsuffix/public_suffix_list.dat"
#define MAX_HEADER_BYTES (256 * 1024) /* header block scanned for From */
#define MAX_SIGS 16                   /* DKIM signatures reported */

struct bw_auth {
	struct __res_state res;
	char *authserv_id;
	unsigned timeout_ms;
	SPF_server_t *spf;
	SPF_dns_server_t *spf_layer; /* ours: SPF_server_new_dns does not take it */
	DKIM_LIB *dkim;
	/* per bw_auth_finish call */
	bool dns_down;      /* a query timed out: fail the rest at once */
	bool spf_dns_temp;  /* an SPF query failed temporarily */
	struct timespec deadline;
};

/* One message being checked: DKIM's running state, and the header block
 * kept for DMARC's From. */
struct bw_auth_message {
	DKIM *dkim;         /* NULL: the verifier could not start */
	DKIM_STAT dkim_st;  /* the first error dkim_chunk gave, or DKIM_STAT_OK */
	bw_buf head;        /* the first MAX_HEADER_BYTES bytes */
};

typedef enum dns_status { DNS_OK, DNS_NXDOMAIN, DNS_NODATA, DNS_TEMP } dns_status;

/* ---- DNS through the private resolver state ---- */

static bool past_deadline(const bw_auth *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > a->deadline.tv_sec ||
	       (now.tv_sec == a->deadline.tv_sec && now.tv_nsec > a->deadline.tv_nsec);
}

/* Sends one query; *len is the answer's length. res_nsend rather than
 * res_nquery because the latter hides the length of NXDOMAIN answers, which
 * libopendkim wants to read itself. */
static dns_status dns_query(bw_auth *a, const char *name, int type, unsigned char *ans, int anslen, int *len)
{
	*len = -1;
	if (a->dns_down || past_deadline(a))
		return DNS_TEMP;
	unsigned char q[NS_PACKETSZ];
	int ql = res_nmkquery(&a->res, ns_o_query, name, ns_c_in, type, NULL, 0, NULL, q, sizeof q);
	if (ql < 0)
		return DNS_NXDOMAIN; /* not a valid name */
	*len = res_nsend(&a->res, q, ql, ans, anslen);
	if (*len < 0) {
		a->dns_down = true; /* timeout or no server */
		return DNS_TEMP;
	}
	if (*len > anslen)
		*len = anslen; /* glibc reports the full length of an answer it cut */
	if (*len < NS_HFIXEDSZ)
		return DNS_TEMP;
	const HEADER *h = (const HEADER *)ans;
	if (h->rcode == ns_r_nxdomain)
		return DNS_NXDOMAIN;
	if (h->rcode != ns_r_noerror)
		return DNS_TEMP; /* SERVFAIL, REFUSED */
	return ntohs(h->ancount) ? DNS_OK : DNS_NODATA;
}

/* The character-strings of one TXT RDATA, concatenated (RFC 7208 3.3,
 * RFC 6376 3.6.2.2). */
static char *txt_join(const unsigned char *rd, size_t n)
{
	bw_buf b = {0};
	for (size_t i = 0; i < n;) {
		size_t l = rd[i++];
		if (l > n - i)
			l = n - i;
		bw_buf_append(&b, rd + i, l);
		i += l;
	}
	if (!b.data)
		bw_buf_puts(&b, "");
	return bw_buf_steal(&b);
}

/* The TXT records at name, each joined. */
static dns_status dns_txt(bw_auth *a, const char *name, bw_strvec *out)
{
	unsigned char ans[8192];
	int len;
	dns_status st = dns_query(a, name, ns_t_txt, ans, sizeof ans, &len);
	if (st != DNS_OK)
		return st;
	ns_msg msg;
	if (ns_initparse(ans, len, &msg) < 0)
		return DNS_TEMP;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_txt)
			bw_strvec_push_owned(out, txt_join(ns_rr_rdata(rr), ns_rr_rdlen(rr)));
	}
	return out->n ? DNS_OK : DNS_NODATA;
}

/* ---- libspf2 DNS layer ---- */

static SPF_dns_rr_t *spf_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type, int should_cache)
{
	bw_auth *a = srv->hook;
	unsigned char ans[8192];
	int len;
	dns_status st = dns_query(a, domain, type, ans, sizeof ans, &len);
	static const SPF_dns_stat_t herr[] = {[DNS_NXDOMAIN] = HOST_NOT_FOUND, [DNS_NODATA] = NO_DATA,
					      [DNS_TEMP] = TRY_AGAIN};
	ns_msg msg;
	if (st == DNS_OK && ns_initparse(ans, len, &msg) < 0)
		st = DNS_TEMP;
	if (st != DNS_OK) {
		a->spf_dns_temp |= st == DNS_TEMP;
		return SPF_dns_rr_new_init(srv, domain, type, 0, herr[st]);
	}
	SPF_dns_rr_t *out = SPF_dns_rr_new_init(srv, domain, type, 0, NETDB_SUCCESS);
	int cnt = 0;
	for (int i = 0; out && i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != type)
			continue;
		const unsigned char *rd = ns_rr_rdata(rr);
		size_t rdlen = ns_rr_rdlen(rr);
		char name[NS_MAXDNAME];
		switch (type) {
		case ns_t_a:
			if (rdlen != 4 || SPF_dns_rr_buf_realloc(out, cnt, sizeof(struct in_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&out->rr[cnt]->a, rd, 4);
			break;
		case ns_t_aaaa:
			if (rdlen != 16 || SPF_dns_rr_buf_realloc(out, cnt, sizeof(struct in6_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&out->rr[cnt]->aaaa, rd, 16);
			break;
		case ns_t_mx:
		case ns_t_ptr: {
			const unsigned char *p = type == ns_t_mx ? rd + 2 : rd;
			if (rdlen < (type == ns_t_mx ? 3u : 1u) ||
			    dn_expand(ns_msg_base(msg), ns_msg_end(msg), p, name, sizeof name) < 0 ||
			    SPF_dns_rr_buf_realloc(out, cnt, strlen(name) + 1) != SPF_E_SUCCESS)
				continue;
			strcpy(type == ns_t_mx ? out->rr[cnt]->mx : out->rr[cnt]->ptr, name);
			break;
		}
		case ns_t_txt: {
			char *t = txt_join(rd, rdlen);
			if (SPF_dns_rr_buf_realloc(out, cnt, strlen(t) + 1) != SPF_E_SUCCESS) {
				free(t);
				continue;
			}
			strcpy(out->rr[cnt]->txt, t);
			free(t);
			break;
		}
		default:
			continue;
		}
		cnt++;
	}
	if (out) {
		out->num_rr = cnt;
		if (!cnt)
			out->herrno = NO_DATA;
	}
	return out;
}

/* ---- construction ---- */

static int set_resolver(bw_auth *a, const char *resolver, char **error)
{
	char host[64];
	unsigned port = 53;
	const char *colon = strrchr(resolver, ':');
	size_t hl = colon ? (size_t)(colon - resolver) : strlen(resolver);
	if (hl >= sizeof host)
		hl = sizeof host - 1;
	memcpy(host, resolver, hl);
	host[hl] = '\0';
	if (colon) {
		char *end;
		unsigned long p = strtoul(colon + 1, &end, 10);
		port = *end || p == 0 || p > 65535 ? 0 : (unsigned)p;
	}
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (!port || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		bw_buf b = {0};
		bw_buf_printf(&b, "resolver \"%s\" is not IPv4-ADDRESS[:PORT]", resolver);
		*error = bw_buf_steal(&b);
		return -1;
	}
	/* glibc keeps IPv6 servers from resolv.conf in _u._ext.nsaddrs, which
	 * take precedence over nsaddr_list; drop them */
	for (int i = 0; i < MAXNS; i++) {
		free(a->res._u._ext.nsaddrs[i]);
		a->res._u._ext.nsaddrs[i] = NULL;
	}
	a->res.nsaddr_list[0] = sin;
	a->res.nscount = 1;
	return 0;
}

static pthread_once_t libraries_once = PTHREAD_ONCE_INIT;
static OPENDMARC_LIB_T dmarc_lib; /* libopendmarc keeps a pointer to it */
static bool dmarc_ready;

/* Process-wide set-up, once even when milter threads start together. */
static void libraries_init(void)
{
	bw_mail_init();
	dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	snprintf((char *)dmarc_lib.tld_source_file, sizeof dmarc_lib.tld_source_file, "%s", PSL_FILE);
	dmarc_ready = opendmarc_policy_library_init(&dmarc_lib) == DMARC_PARSE_OKAY;
}

static int dkim_query_start(void *srv, int type, unsigned char *name, unsigned char *buf, size_t buflen, void **qh);
static int dkim_query_cancel(void *srv, void *qh);
static int dkim_query_wait(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error, int *dnssec);

bw_auth *bw_auth_new(const bw_auth_config *cfg, char **error)
{
	*error = NULL;
	pthread_once(&libraries_once, libraries_init);
	if (!dmarc_ready) {
		*error = bw_xstrdup("libopendmarc did not initialise (is " PSL_FILE " installed? Debian package publicsuffix)");
		return NULL;
	}
	bw_auth *a = bw_xcalloc(1, sizeof *a);
	a->authserv_id = bw_xstrdup(cfg->authserv_id && *cfg->authserv_id ? cfg->authserv_id : "localhost");
	a->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	if (res_ninit(&a->res) != 0) {
		*error = bw_xstrdup("res_ninit failed");
		bw_auth_free(a);
		return NULL;
	}
	/* glibc's resolver counts whole seconds */
	a->res.retrans = (int)((a->timeout_ms + 999) / 1000);
	a->res.retry = 1;
	a->res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (cfg->resolver && set_resolver(a, cfg->resolver, error) < 0) {
		bw_auth_free(a);
		return NULL;
	}
	SPF_dns_server_t *layer = a->spf_layer = bw_xcalloc(1, sizeof *layer);
	layer->lookup = spf_lookup;
	layer->name = "bulwark";
	layer->hook = a;
	a->spf = SPF_server_new_dns(layer, 0);
	a->dkim = dkim_init(NULL, NULL);
	if (!a->spf || !a->dkim) {
		*error = bw_xstrdup(a->spf ? "dkim_init failed" : "SPF_server_new_dns failed");
		bw_auth_free(a);
		return NULL;
	}
	unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
	dkim_options(a->dkim, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
	/* no init/close: the service is this bw_auth, freed by bw_auth_free */
	dkim_dns_set_init(a->dkim, NULL);
	dkim_dns_set_close(a->dkim, NULL);
	dkim_dns_set_query_service(a->dkim, a);
	dkim_dns_set_query_start(a->dkim, dkim_query_start);
	dkim_dns_set_query_cancel(a->dkim, dkim_query_cancel);
	dkim_dns_set_query_waitreply(a->dkim, dkim_query_wait);
	return a;
}

void bw_auth_free(bw_auth *a)
{
	if (!a)
		return;
	if (a->spf)
		SPF_server_free(a->spf);
	free(a->spf_layer);
	if (a->dkim)
		dkim_close(a->dkim);
	res_nclose(&a->res);
	free(a->authserv_id);
	free(a);
}

/* ---- writing the header ---- */

/* A pvalue, quoted when it is not a plain token or address. */
static void put_pvalue(bw_buf *b, const char *v)
{
	bool plain = *v != '\0';
	for (const char *p = v; *p && plain; p++)
		plain = (unsigned char)*p > ' ' && (unsigned char)*p < 127 && !strchr("()<>,;:\\\"[]", *p);
	if (plain) {
		bw_buf_puts(b, v);
		return;
	}
	bw_buf_putc(b, '"');
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			bw_buf_putc(b, '\\');
		if ((unsigned char)*p >= ' ')
			bw_buf_putc(b, *p);
	}
	bw_buf_putc(b, '"');
}

static void put_prop(bw_buf *b, const char *name, const char *v)
{
	if (!v || !*v)
		return;
	bw_buf_printf(b, " %s=", name);
	put_pvalue(b, v);
}

/* A comment: parentheses and backslashes escaped. */
static void put_comment(bw_buf *b, const char *text)
{
	bw_buf_puts(b, " (");
	for (const char *p = text; *p; p++) {
		if (strchr("()\\", *p))
			bw_buf_putc(b, '\\');
		if ((unsigned char)*p >= ' ')
			bw_buf_putc(b, *p);
	}
	bw_buf_putc(b, ')');
}

/* ---- SPF ---- */

static const char *spf_result_name(SPF_result_t r, int *dmarc_outcome)
{
	switch (r) {
	case SPF_RESULT_PASS: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_PASS; return "pass";
	case SPF_RESULT_FAIL: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_FAIL; return "fail";
	case SPF_RESULT_SOFTFAIL: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_FAIL; return "softfail";
	case SPF_RESULT_NEUTRAL: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_NONE; return "neutral";
	case SPF_RESULT_TEMPERROR: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_TMPFAIL; return "temperror";
	case SPF_RESULT_PERMERROR: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_FAIL; return "permerror";
	default: *dmarc_outcome = DMARC_POLICY_SPF_OUTCOME_NONE; return "none";
	}
}

/* Appends "spf=..." and gives DMARC the checked domain and outcome. */
static void check_spf(bw_auth *a, bw_buf *b, const char *ip, const char *helo, const char *mail_from,
		      char **spf_domain, int *outcome, bool *from_helo)
{
	SPF_request_t *req = SPF_request_new(a->spf);
	bool ip_ok = ip && (strchr(ip, ':') ? SPF_request_set_ipv6_str(req, ip) : SPF_request_set_ipv4_str(req, ip)) ==
					   SPF_E_SUCCESS;
	const char *result = "none";
	*outcome = DMARC_POLICY_SPF_OUTCOME_NONE;
	*from_helo = !mail_from || !*mail_from;
	const char *identity = *from_helo ? helo : mail_from;
	if (!ip_ok) {
		result = "permerror";
	} else {
		if (helo && *helo)
			SPF_request_set_helo_dom(req, helo);
		if (!*from_helo)
			SPF_request_set_env_from(req, mail_from);
		SPF_response_t *resp = NULL;
		a->spf_dns_temp = false;
		SPF_request_query_mailfrom(req, &resp);
		SPF_result_t r = resp ? SPF_response_result(resp) : SPF_RESULT_NONE;
		/* libspf2 1.2.10 answers "none" when the record lookup itself
		 * timed out; RFC 7208 section 4.4 says temperror */
		if (a->spf_dns_temp && (r == SPF_RESULT_NONE || r == SPF_RESULT_INVALID))
			r = SPF_RESULT_TEMPERROR;
		result = spf_result_name(r, outcome);
		if (resp)
			SPF_response_free(resp);
	}
	SPF_request_free(req);
	bw_buf_printf(b, "; spf=%s", result);
	if (!ip_ok)
		put_comment(b, "client address not usable");
	put_prop(b, *from_helo ? "smtp.helo" : "smtp.mailfrom", identity);
	if (identity && *identity) {
		const char *at = strrchr(identity, '@');
		*spf_domain = bw_xstrdup(at ? at + 1 : identity);
		bw_ascii_lower(*spf_domain);
	}
}

/* ---- DKIM ---- */

/* libopendkim's DNS service: queries run synchronously in query_start, and
 * waitreply hands over the answer, which libopendkim parses itself. */
typedef struct dkim_query {
	dns_status status;
	int len;
} dkim_query;

static int dkim_query_start(void *srv, int type, unsigned char *name, unsigned char *buf, size_t buflen, void **qh)
{
	dkim_query *q = bw_xcalloc(1, sizeof *q);
	q->status = dns_query(srv, (const char *)name, type, buf, buflen > INT32_MAX ? INT32_MAX : (int)buflen, &q->len);
	*qh = q;
	return DKIM_DNS_SUCCESS;
}

static int dkim_query_cancel(void *srv, void *qh)
{
	free(qh);
	return DKIM_DNS_SUCCESS;
}

static int dkim_query_wait(void *srv, void *qh, struct timeval *to, size_t *bytes, int *error, int *dnssec)
{
	const dkim_query *q = qh;
	if (dnssec)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	if (q->status == DNS_TEMP || q->len < 0) {
		if (error)
			*error = ETIMEDOUT;
		return DKIM_DNS_ERROR;
	}
	if (bytes)
		*bytes = (size_t)q->len;
	if (error)
		*error = 0;
	return DKIM_DNS_SUCCESS;
}

static const char *dkim_result_of(DKIM_SIGINFO *sig, int *dmarc_outcome, const char **why)
{
	*why = NULL;
	if (DKIM_SIG_CHECK(sig)) {
		*dmarc_outcome = DMARC_POLICY_DKIM_OUTCOME_PASS;
		return "pass";
	}
	int err = dkim_sig_geterror(sig);
	if (err == DKIM_SIGERROR_KEYFAIL || err == DKIM_SIGERROR_DNSSYNTAX ||
	    (!(dkim_sig_getflags(sig) & DKIM_SIGFLAG_PROCESSED) && err == DKIM_SIGERROR_UNKNOWN)) {
		*dmarc_outcome = DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
		*why = "key not retrieved";
		return "temperror";
	}
	*dmarc_outcome = DMARC_POLICY_DKIM_OUTCOME_FAIL;
	if (err == DKIM_SIGERROR_OK || err == DKIM_SIGERROR_BADSIG) {
		*why = dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ? "body hash did not verify" : "signature did not verify";
		return "fail";
	}
	*why = dkim_sig_geterrorstr(err);
	if (err == DKIM_SIGERROR_EXPIRED || err == DKIM_SIGERROR_FUTURE)
		return "neutral";
	return "permerror";
}

typedef struct dkim_seen {
	char *domain, *selector;
	int outcome;
} dkim_seen;

static size_t check_dkim(bw_buf *b, bw_auth_message *m, dkim_seen *seen)
{
	DKIM *d = m->dkim;
	size_t n = 0;
	if (!d) {
		bw_buf_puts(b, "; dkim=temperror");
		put_comment(b, "verifier could not start");
		return 0;
	}
	DKIM_STAT st = m->dkim_st;
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	if (st == DKIM_STAT_NOSIG || dkim_getsiglist(d, &sigs, &nsigs) != DKIM_STAT_OK || nsigs <= 0) {
		bw_buf_puts(b, "; dkim=none");
		return 0;
	}
	for (int i = 0; i < nsigs && n < MAX_SIGS; i++) {
		int outcome;
		const char *why;
		const char *res = dkim_result_of(sigs[i], &outcome, &why);
		const char *dom = (const char *)dkim_sig_getdomain(sigs[i]);
		const char *sel = (const char *)dkim_sig_getselector(sigs[i]);
		bw_buf_printf(b, "; dkim=%s", res);
		if (why)
			put_comment(b, why);
		put_prop(b, "header.d", dom);
		put_prop(b, "header.s", sel);
		u_char ident[256];
		if (dkim_sig_getidentity(d, sigs[i], ident, sizeof ident) == DKIM_STAT_OK)
			put_prop(b, "header.i", (const char *)ident);
		const u_char *sigb = dkim_sig_gettagvalue(sigs[i], false, (u_char *)"b");
		if (sigb) {
			char prefix[9];
			snprintf(prefix, sizeof prefix, "%s", (const char *)sigb);
			put_prop(b, "header.b", prefix);
		}
		if (dom) {
			seen[n].domain = bw_xstrdup(dom);
			seen[n].selector = bw_xstrdup(sel ? sel : "");
			seen[n++].outcome = outcome;
		}
	}
	return n;
}

/* ---- DMARC ---- */

/* The domain of the one From mailbox; NULL when there is none or several
 * (*several set), as RFC 7489 section 6.6.1 leaves that to local policy. */
static char *from_domain(const char *raw, size_t len, bool *several)
{
	*several = false;
	size_t hlen = len < MAX_HEADER_BYTES ? len : MAX_HEADER_BYTES;
	GMimeParserOptions *opts = g_mime_parser_options_new();
	char *dom = NULL;
	size_t nfrom = 0;
	for (size_t i = 0; i < hlen;) {
		const char *line = raw + i;
		const char *eol = memchr(line, '\n', hlen - i);
		size_t ll = eol ? (size_t)(eol - line) : hlen - i;
		if (ll == 0 || (ll == 1 && line[0] == '\r'))
			break; /* end of the header */
		i += ll + 1;
		if (ll < 5 || g_ascii_strncasecmp(line, "From:", 5) != 0)
			continue;
		bw_buf v = {0};
		bw_buf_append(&v, line + 5, ll - 5);
		while (i < hlen && (raw[i] == ' ' || raw[i] == '\t')) { /* folded lines */
			const char *e = memchr(raw + i, '\n', hlen - i);
			size_t l = e ? (size_t)(e - (raw + i)) : hlen - i;
			bw_buf_append(&v, raw + i, l);
			i += l + 1;
		}
		InternetAddressList *list = internet_address_list_parse(opts, v.data);
		for (int k = 0; list && k < internet_address_list_length(list); k++) {
			InternetAddress *ia = internet_address_list_get_address(list, k);
			if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
				continue;
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
			const char *at = addr ? strrchr(addr, '@') : NULL;
			nfrom++;
			if (at && at[1] && !dom) {
				dom = bw_xstrdup(at + 1);
				bw_ascii_lower(dom);
			} else if (!at || !dom || g_ascii_strcasecmp(at + 1, dom) != 0) {
				*several = true;
			}
		}
		if (list)
			g_object_unref(list);
		bw_buf_free(&v);
	}
	g_mime_parser_options_free(opts);
	if (*several || nfrom == 0) {
		free(dom);
		return NULL;
	}
	return dom;
}

/* The DMARC record for domain, falling back to its organisational domain
 * (RFC 7489 section 6.6.3). *org is set when the record came from there. */
static dns_status dmarc_record(bw_auth *a, const char *domain, char **record, char **org)
{
	*record = *org = NULL;
	char *reg = bw_registrable_domain(domain);
	const char *tries[2] = {domain, reg && strcmp(reg, domain) != 0 ? reg : NULL};
	dns_status st = DNS_NXDOMAIN;
	for (int t = 0; t < 2 && tries[t] && !*record; t++) {
		char name[NS_MAXDNAME];
		snprintf(name, sizeof name, "_dmarc.%s", tries[t]);
		bw_strvec txt = {0};
		st = dns_txt(a, name, &txt);
		for (size_t i = 0; st == DNS_OK && i < txt.n && !*record; i++) {
			const char *v = txt.v[i];
			while (*v == ' ')
				v++;
			if (g_ascii_strncasecmp(v, "v=DMARC1", 8) == 0 && (!v[8] || v[8] == ';' || v[8] == ' '))
				*record = bw_xstrdup(txt.v[i]);
		}
		if (st == DNS_OK && !*record)
			st = DNS_NODATA;
		if (*record && t == 1)
			*org = bw_xstrdup(tries[1]);
		bw_strvec_free(&txt);
		if (st == DNS_TEMP)
			break;
	}
	free(reg);
	return *record ? DNS_OK : st;
}

static const char *policy_name(int p)
{
	return p == DMARC_RECORD_P_REJECT ? "reject" : p == DMARC_RECORD_P_QUARANTINE ? "quarantine"
	       : p == DMARC_RECORD_P_NONE ? "none" : NULL;
}

static void check_dmarc(bw_auth *a, bw_buf *b, const bw_buf *head, const char *ip, const char *spf_domain,
			int spf_outcome, bool spf_helo, const dkim_seen *seen, size_t nseen)
{
	bool several;
	char *from = from_domain(head->data ? head->data : "", head->len, &several);
	if (!from) {
		bw_buf_puts(b, "; dmarc=permerror");
		put_comment(b, several ? "more than one From domain" : "no From domain");
		return;
	}
	char *record, *org;
	dns_status st = dmarc_record(a, from, &record, &org);
	if (st != DNS_OK) {
		bw_buf_printf(b, "; dmarc=%s", st == DNS_TEMP ? "temperror" : "none");
		put_prop(b, "header.from", from);
		free(from);
		return;
	}
	DMARC_POLICY_T *p = opendmarc_policy_connect_init((u_char *)(ip ? ip : "0.0.0.0"),
							  ip && strchr(ip, ':') ? DMARC_POLICY_IP_TYPE_IPV6
										: DMARC_POLICY_IP_TYPE_IPV4);
	const char *result = "permerror", *why = "record not usable";
	int pol = DMARC_RECORD_P_UNSPECIFIED, dkim_align = 0, spf_align = 0;
	if (p && opendmarc_policy_store_from_domain(p, (u_char *)from) == DMARC_PARSE_OKAY &&
	    opendmarc_policy_store_dmarc(p, (u_char *)record, (u_char *)from, (u_char *)org) == DMARC_PARSE_OKAY) {
		if (spf_domain)
			opendmarc_policy_store_spf(p, (u_char *)spf_domain, spf_outcome,
						   spf_helo ? DMARC_POLICY_SPF_ORIGIN_HELO : DMARC_POLICY_SPF_ORIGIN_MAILFROM,
						   NULL);
		for (size_t i = 0; i < nseen; i++)
			opendmarc_policy_store_dkim(p, (u_char *)seen[i].domain, (u_char *)seen[i].selector,
						    seen[i].outcome, NULL);
		int enforce = opendmarc_get_policy_to_enforce(p);
		opendmarc_policy_fetch_p(p, &pol);
		opendmarc_policy_fetch_alignment(p, &dkim_align, &spf_align);
		why = NULL;
		switch (enforce) {
		case DMARC_POLICY_PASS: result = "pass"; break;
		case DMARC_POLICY_REJECT:
		case DMARC_POLICY_QUARANTINE:
		case DMARC_POLICY_NONE: result = "fail"; break;
		case DMARC_POLICY_ABSENT: result = "none"; break;
		default: result = "permerror"; why = "policy not evaluated"; break;
		}
	}
	bw_buf_printf(b, "; dmarc=%s", result);
	bw_buf c = {0};
	if (why)
		bw_buf_puts(&c, why);
	else
		bw_buf_printf(&c, "p=%s dkim_aligned=%s spf_aligned=%s", policy_name(pol) ? policy_name(pol) : "unset",
			      dkim_align == DMARC_POLICY_DKIM_ALIGNMENT_PASS ? "yes" : "no",
			      spf_align == DMARC_POLICY_SPF_ALIGNMENT_PASS ? "yes" : "no");
	put_comment(b, c.data);
	bw_buf_free(&c);
	put_prop(b, "header.from", from);
	put_prop(b, "policy.dmarc", policy_name(pol));
	if (p)
		opendmarc_policy_connect_shutdown(p);
	free(record);
	free(org);
	free(from);
}

/* Each phase of a check gets its own DNS budget: every query may take the
 * timeout, one phase at most 8 of them. libopendkim fetches keys as soon
 * as the header block is in (inside bw_auth_feed); SPF and DMARC ask in
 * bw_auth_finish, which may come long after on a slow connection. */
static void dns_budget_start(bw_auth *a)
{
	a->dns_down = false;
	clock_gettime(CLOCK_MONOTONIC, &a->deadline);
	unsigned long long ns = (unsigned long long)a->res.retrans * 8ull * 1000000000ull;
	a->deadline.tv_sec += (time_t)(ns / 1000000000ull);
}

bw_auth_message *bw_auth_begin(bw_auth *a)
{
	dns_budget_start(a);
	bw_auth_message *m = bw_xcalloc(1, sizeof *m);
	DKIM_STAT st;
	m->dkim = dkim_verify(a->dkim, (const u_char *)"bulwark", NULL, &st);
	m->dkim_st = DKIM_STAT_OK;
	return m;
}

void bw_auth_feed(bw_auth_message *m, const char *data, size_t len)
{
	if (!len)
		return;
	if (m->head.len < MAX_HEADER_BYTES) {
		size_t keep = MAX_HEADER_BYTES - m->head.len;
		bw_buf_append(&m->head, data, len < keep ? len : keep);
	}
	if (m->dkim && m->dkim_st == DKIM_STAT_OK)
		m->dkim_st = dkim_chunk(m->dkim, (u_char *)data, len);
}

void bw_auth_message_free(bw_auth_message *m)
{
	if (!m)
		return;
	if (m->dkim)
		dkim_free(m->dkim);
	bw_buf_free(&m->head);
	free(m);
}

char *bw_auth_finish(bw_auth *a, bw_auth_message *m, const char *client_ip, const char *helo,
		     const char *mail_from)
{
	bw_buf b = {0};
	put_pvalue(&b, a->authserv_id);
	dns_budget_start(a);

	/* "<a@b>" as milters get it */
	char *mf = NULL;
	if (mail_from) {
		const char *s = mail_from;
		while (*s == '<' || *s == ' ')
			s++;
		mf = bw_xstrdup(s);
		size_t n = strlen(mf);
		while (n && (mf[n - 1] == '>' || mf[n - 1] == ' '))
			mf[--n] = '\0';
	}
	char *spf_domain = NULL;
	int spf_outcome;
	bool spf_helo;
	check_spf(a, &b, client_ip, helo, mf, &spf_domain, &spf_outcome, &spf_helo);
	dkim_seen seen[MAX_SIGS];
	size_t nseen = check_dkim(&b, m, seen);
	check_dmarc(a, &b, &m->head, client_ip, spf_domain, spf_outcome, spf_helo, seen, nseen);
	for (size_t i = 0; i < nseen; i++) {
		free(seen[i].domain);
		free(seen[i].selector);
	}
	free(spf_domain);
	free(mf);
	bw_auth_message_free(m);
	return bw_buf_steal(&b);
}
