/* The Received chain: for each hop the host and IP it came from and the host
 * that received it, and which hop first handed the message to us from
 * outside (the one whose IP an attacker cannot forge). Received headers have
 * no reliable grammar in practice (RFC 5321 4.4 is loosely followed), so the
 * "from" clause is searched for the forms MTAs write: "[IP]", "(IP)",
 * "[IPv6:addr]", a bare address. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/mail.h"
#include "bulwark/url.h"

#define MAX_HOPS 64

/* The canonical form of an IPv4 or IPv6 literal (s[0..n)), or NULL. */
static char *ip_literal(const char *s, size_t n)
{
	char buf[64];
	if (n >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		n -= 5;
	}
	if (n == 0 || n >= sizeof buf)
		return NULL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	unsigned char addr[16];
	char out[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, buf, addr) == 1)
		return bw_xstrdup(inet_ntop(AF_INET, addr, out, sizeof out));
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		/* ::ffff:a.b.c.d is an IPv4 peer */
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(addr, mapped, 12) == 0)
			return bw_xstrdup(inet_ntop(AF_INET, addr + 12, out, sizeof out));
		return bw_xstrdup(inet_ntop(AF_INET6, addr, out, sizeof out));
	}
	return NULL;
}

/* The first IP in the "from" clause: bracketed ones first, then any word. */
static char *clause_ip(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '[')
			continue;
		const char *close = memchr(s + i, ']', n - i);
		if (!close)
			break;
		char *ip = ip_literal(s + i + 1, (size_t)(close - s) - i - 1);
		if (ip)
			return ip;
	}
	static const char seps[] = " \t()[]=,;<>";
	for (size_t i = 0; i < n;) {
		while (i < n && strchr(seps, s[i]))
			i++;
		size_t st = i;
		while (i < n && !strchr(seps, s[i]))
			i++;
		char *ip = ip_literal(s + st, i - st);
		if (ip)
			return ip;
	}
	return NULL;
}

/* The word after a keyword ("from", "by") at a word boundary, or NULL;
 * *at is where the keyword starts. */
static const char *keyword(const char *s, const char *kw, const char **at)
{
	size_t k = strlen(kw);
	for (const char *p = s; (p = bw_ascii_strcasestr(p, kw)); p += k) {
		if ((p == s || isspace((unsigned char)p[-1]) || p[-1] == ')') && isspace((unsigned char)p[k])) {
			*at = p;
			p += k;
			while (isspace((unsigned char)*p))
				p++;
			return p;
		}
	}
	return NULL;
}

static char *word(const char *s)
{
	size_t n = strcspn(s, " \t();[]");
	return n ? bw_xstrndup(s, n < 255 ? n : 255) : NULL;
}

bool bw_ip_in_network(const char *ip, const char *cidr)
{
	const char *slash = strchr(cidr, '/');
	char net[64];
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (n >= sizeof net)
		return false;
	memcpy(net, cidr, n);
	net[n] = '\0';
	unsigned char a[16], b[16];
	int af = strchr(net, ':') ? AF_INET6 : AF_INET, bits = af == AF_INET ? 32 : 128;
	if (inet_pton(af, ip, a) != 1 || inet_pton(af, net, b) != 1)
		return false;
	int prefix = slash ? atoi(slash + 1) : bits;
	if (prefix < 0 || prefix > bits)
		return false;
	for (int i = 0; i < bits / 8 && prefix > 0; i++, prefix -= 8) {
		unsigned char mask = prefix >= 8 ? 0xff : (unsigned char)(0xff << (8 - prefix));
		if ((a[i] & mask) != (b[i] & mask))
			return false;
	}
	return true;
}

/* Not routable on the Internet: our own side of the chain. */
static bool private_ip(const char *ip)
{
	static const char *const nets[] = {
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7", "fe80::/10", "::/128",
	};
	for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++)
		if (bw_ip_in_network(ip, nets[i]))
			return true;
	return false;
}

/* A public IP can still be ours: big providers relay between their own
 * public addresses (Exchange Online: outlook.com to office365.com). A hop
 * from a host in a domain that a hop above it named as receiver ("by") is
 * one more of ours. Fills ours with the registrable domains of by_host. */
static bool our_domain(bw_strvec *ours, const bw_received_hop *h)
{
	if (h->by_host && ours->n < 32) {
		char *by = bw_registrable_domain(h->by_host);
		if (by && strchr(by, '.') && !bw_strvec_contains(ours, by))
			bw_strvec_push(ours, by);
		free(by);
	}
	if (!h->from_host)
		return false;
	char *from = bw_registrable_domain(h->from_host);
	bool r = from && bw_strvec_contains(ours, from);
	free(from);
	return r;
}

void bw_received_parse(bw_message *m, const bw_strvec *internal_networks)
{
	bool found_external = false;
	bw_strvec ours = {0};
	size_t cap = 0;
	for (size_t i = 0; i < m->nheaders && m->nreceived < MAX_HOPS; i++) {
		if (!bw_ascii_iequal(m->headers[i].name, "Received"))
			continue;
		const char *v = m->headers[i].value;
		size_t len = strcspn(v, ";"); /* the date follows ';' */
		char *clause = bw_xstrndup(v, len);
		bw_grow((void **)&m->received, &cap, m->nreceived + 1, sizeof *m->received);
		bw_received_hop *h = &m->received[m->nreceived++];
		memset(h, 0, sizeof *h);
		const char *from_at = NULL, *by_at = NULL;
		const char *from = keyword(clause, "from", &from_at);
		const char *by = keyword(clause, "by", &by_at);
		if (by)
			h->by_host = word(by);
		if (from) {
			h->from_host = word(from);
			size_t end = by_at && by_at > from ? (size_t)(by_at - from) : strlen(from);
			h->ip = clause_ip(from, end);
		}
		for (char *c = h->by_host; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (char *c = h->from_host; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		bool ours_by_name = our_domain(&ours, h);
		if (h->ip) {
			h->internal = private_ip(h->ip) || ours_by_name;
			for (size_t k = 0; k < internal_networks->n && !h->internal; k++)
				h->internal = bw_ip_in_network(h->ip, internal_networks->v[k]);
			if (!h->internal && !found_external)
				h->first_external = found_external = true;
		}
		free(clause);
	}
	bw_strvec_free(&ours);
}
