/* Generates a deterministic set of indicators shaped like real CERT, MISP and
 * abuse.ch feeds, and a shuffled set of lookups for bench_ioc: half taken
 * from the indicators (subdomains of listed domains, addresses inside listed
 * CIDRs) and half fresh values. Written in C because Python needs minutes for
 * ten million records.
 *
 *   gen_iocs RECORDS QUERIES OUT_RECORDS.tsv OUT_QUERIES.tsv
 *
 * records: "type<TAB>prefix_len<TAB>ref<TAB>value", type as bw_ioc_type
 * queries: "type<TAB>from_record(0|1)<TAB>value"
 * Values are already normalised (lower-case, masked networks), so a plain
 * SQLite table holds the same semantics as the index. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/ioc_index.h"
#include "bench_common.h"

static uint64_t rng_state = 0x5eed2024u;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(((rnd() >> 32) * n) >> 32);
}

typedef struct weighted {
	const char *s;
	unsigned w;
} weighted;

static const char *pick(const weighted *t, size_t n)
{
	unsigned total = 0;
	for (size_t i = 0; i < n; i++)
		total += t[i].w;
	unsigned r = rn(total);
	for (size_t i = 0; i < n; i++) {
		if (r < t[i].w)
			return t[i].s;
		r -= t[i].w;
	}
	return t[0].s;
}
#define PICK(t) pick(t, sizeof t / sizeof *t)
#define ONE_OF(a) a[rn(sizeof a / sizeof *a)]

/* TLD shares roughly as in phishing and malware-domain feeds */
static const weighted tlds[] = {
	{"com", 380}, {"net", 60}, {"org", 40}, {"ru", 55}, {"xyz", 35}, {"top", 40}, {"info", 30},
	{"cn", 25},   {"io", 15},  {"de", 15},  {"co.uk", 12}, {"com.br", 12}, {"online", 20},
	{"site", 20}, {"shop", 18}, {"tk", 10}, {"ml", 8},  {"cc", 10},  {"in", 10},  {"pl", 8},
	{"fr", 8},    {"icu", 12}, {"buzz", 8}, {"live", 10}, {"app", 10}, {"club", 8}, {"vip", 8},
	{"me", 8},    {"us", 8},   {"co", 10},  {"su", 5},  {"pw", 5},   {"biz", 8},  {"ir", 5},
	{"cfd", 6},   {"sbs", 6},  {"quest", 4}, {"rest", 3}, {"ws", 3},  {"gq", 4},  {"ga", 4},
};
static const char *const sub_labels[] = {
	"www", "mail", "login", "secure", "account", "update", "cdn", "api", "m", "portal",
	"verify", "auth", "webmail", "owa", "docs", "drive", "support", "signin", "id", "app",
};
static const char *const freemail[] = {
	"gmail.com", "outlook.com", "yahoo.com", "mail.ru", "qq.com", "163.com", "proton.me",
	"hotmail.com", "gmx.de", "yandex.ru", "aol.com", "icloud.com",
};
static const char *const words[] = {
	"invoice", "payment", "order", "scan", "document", "receipt", "contract", "statement",
	"shipping", "urgent", "quote", "remittance", "salary", "report", "tender", "agenda",
	"minutes", "policy", "update", "account", "delivery", "notice", "swift", "proforma",
};
static const char *const bad_ext[] = {
	"exe", "scr", "js", "vbs", "docm", "xlsm", "zip", "iso", "lnk", "hta", "one", "rar",
	"7z", "img", "pdf.exe", "doc.js", "msi", "dll", "wsf", "chm", "html", "cab",
};
static const char *const url_dirs[] = {
	"wp-content", "wp-includes", "uploads", "images", "admin", "js", "css", "files", "tmp",
	"login", "secure", "office365", "auth", "bin", "download", "api", "cgi-bin", "plugins",
};
static const char *const url_ends[] = {
	"index.php", "login.php", "verify.html", "", "update.exe", "doc.zip", "invoice.js",
	"i.php", "gate.php", "payload.bin", "setup.msi", "index.html", "a.hta",
};
static const char *const subjects[] = {
	"Invoice %u overdue", "Re: Payment confirmation #%u", "Your account will be suspended %u",
	"Shipment %u delivery failed", "Urgent: wire transfer %u", "Meeting agenda %u",
	"Password expiry notice %u", "Fwd: Scanned document %u",
};

/* A pronounceable or random label: feeds are a mix of dictionary-like
 * names and DGA output. */
static void label(char *out, size_t *len)
{
	static const char cons[] = "bcdfghjklmnprstvwxz";
	static const char vow[] = "aeiouy";
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned n = 4 + rn(6) + rn(6);
	bool dga = rn(4) == 0;
	for (unsigned i = 0; i < n; i++) {
		char c = dga ? alnum[rn(36)] : (i % 2 ? vow[rn(6)] : cons[rn(19)]);
		out[(*len)++] = c;
	}
	if (!dga && rn(8) == 0) {
		out[(*len)++] = '-';
		for (unsigned i = 0; i < 3 + rn(5); i++)
			out[(*len)++] = (char)('a' + rn(26));
	}
	if (!dga && rn(6) == 0)
		*len += (size_t)sprintf(out + *len, "%u", rn(1000));
}

static size_t registrable(char *out)
{
	size_t len = 0;
	label(out, &len);
	len += (size_t)sprintf(out + len, ".%s", PICK(tlds));
	return len;
}

static size_t domain(char *out)
{
	size_t len = 0;
	unsigned subs = rn(100) < 65 ? 0 : 1 + rn(2);
	for (unsigned i = 0; i < subs; i++) {
		if (rn(3))
			len += (size_t)sprintf(out + len, "%s.", ONE_OF(sub_labels));
		else {
			label(out, &len);
			out[len++] = '.';
		}
	}
	return len + registrable(out + len);
}

static size_t ipv4_text(char *out, uint32_t a)
{
	return (size_t)sprintf(out, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
}

static uint32_t mask4(unsigned prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

static size_t url(char *out)
{
	size_t len = (size_t)sprintf(out, "%s://", rn(10) < 6 ? "http" : "https");
	if (rn(100) < 15) {
		len += ipv4_text(out + len, (uint32_t)rnd());
		if (rn(2))
			len += (size_t)sprintf(out + len, ":%u", 8000 + rn(1000));
	} else {
		len += domain(out + len);
	}
	for (unsigned i = 0, n = 1 + rn(3); i < n; i++) {
		if (rn(3))
			len += (size_t)sprintf(out + len, "/%s", ONE_OF(url_dirs));
		else
			len += (size_t)sprintf(out + len, "/%08llx", (unsigned long long)(rnd() & 0xffffffffffull));
	}
	len += (size_t)sprintf(out + len, "/%s", ONE_OF(url_ends));
	if (rn(10) < 3)
		len += (size_t)sprintf(out + len, "?id=%u&u=%llx", rn(100000), (unsigned long long)rnd());
	return len;
}

static size_t hex(char *out, unsigned digits)
{
	static const char h[] = "0123456789abcdef";
	for (unsigned i = 0; i < digits; i++)
		out[i] = h[rn(16)];
	return digits;
}

static size_t email(char *out)
{
	size_t len = 0;
	switch (rn(3)) {
	case 0:
		label(out, &len);
		out[len++] = '.';
		label(out, &len);
		break;
	case 1:
		len += (size_t)sprintf(out, "%s", ONE_OF(words));
		len += (size_t)sprintf(out + len, "%u", rn(10000));
		break;
	default:
		label(out, &len);
	}
	out[len++] = '@';
	if (rn(3) == 0)
		return len + (size_t)sprintf(out + len, "%s", ONE_OF(freemail));
	return len + domain(out + len);
}

static size_t filename(char *out)
{
	return (size_t)sprintf(out, "%s_%u.%s", ONE_OF(words), rn(100000), ONE_OF(bad_ext));
}

/* An IPv6 address: (global 2000::/3) with prefix bits of the record. */
static void ipv6_rand(unsigned char a[16])
{
	uint64_t x = rnd(), y = rnd();
	memcpy(a, &x, 8);
	memcpy(a + 8, &y, 8);
	a[0] = (unsigned char)(0x20 | (a[0] & 0x1f));
}

typedef struct record {
	bw_ioc_type type;
	unsigned prefix;
	char value[512];
	size_t len;
	/* what a lookup that should match this record asks */
	char probe[512];
} record;

static const weighted ipv4_prefixes[] = {
	{"24", 55}, {"22", 10}, {"23", 8}, {"20", 7}, {"19", 5}, {"16", 3}, {"28", 5}, {"29", 4}, {"30", 3},
};

static void make(record *r, bw_ioc_type type)
{
	r->type = type;
	r->prefix = 0;
	switch (type) {
	case BW_IOC_DOMAIN:
		r->len = domain(r->value);
		r->value[r->len] = '\0';
		/* mail links mostly point below a listed domain */
		if (rn(2))
			snprintf(r->probe, sizeof r->probe, "%s.%s", ONE_OF(sub_labels), r->value);
		else
			strcpy(r->probe, r->value);
		return;
	case BW_IOC_URL:
		r->len = url(r->value);
		break;
	case BW_IOC_IPV4: {
		uint32_t a = (uint32_t)rnd();
		r->prefix = rn(10) ? 32 : (unsigned)atoi(PICK(ipv4_prefixes));
		uint32_t net = a & mask4(r->prefix);
		r->len = ipv4_text(r->value, net);
		ipv4_text(r->probe, net | ((uint32_t)rnd() & ~mask4(r->prefix)));
		return;
	}
	case BW_IOC_IPV6: {
		unsigned char a[16], in[16];
		ipv6_rand(a);
		unsigned roll = rn(100);
		r->prefix = roll < 80 ? 128 : roll < 95 ? 64 : 48;
		memcpy(in, a, 16);
		mask_bytes(a, 16, r->prefix);
		inet_ntop(AF_INET6, a, r->value, sizeof r->value);
		r->len = strlen(r->value);
		inet_ntop(AF_INET6, in, r->probe, sizeof r->probe);
		return;
	}
	case BW_IOC_EMAIL:
		r->len = email(r->value);
		break;
	case BW_IOC_SUBJECT:
		r->len = (size_t)snprintf(r->value, sizeof r->value, ONE_OF(subjects), rn(1000000));
		break;
	case BW_IOC_MD5:
		r->len = hex(r->value, 32);
		break;
	case BW_IOC_SHA1:
		r->len = hex(r->value, 40);
		break;
	case BW_IOC_SHA256:
		r->len = hex(r->value, 64);
		break;
	case BW_IOC_FILENAME:
		r->len = filename(r->value);
		break;
	}
	r->value[r->len] = '\0';
	strcpy(r->probe, r->value);
}

/* Shares in per mille, as seen in a mix of national-CERT, MISP and abuse.ch feeds */
static const unsigned type_share[] = {
	[BW_IOC_DOMAIN] = 300, [BW_IOC_URL] = 190, [BW_IOC_IPV4] = 150, [BW_IOC_IPV6] = 30,
	[BW_IOC_EMAIL] = 70,   [BW_IOC_SUBJECT] = 10, [BW_IOC_MD5] = 80, [BW_IOC_SHA1] = 50,
	[BW_IOC_SHA256] = 100, [BW_IOC_FILENAME] = 20,
};

static bw_ioc_type pick_type(void)
{
	unsigned r = rn(1000);
	for (int t = 0; t < 10; t++) {
		if (r < type_share[t])
			return (bw_ioc_type)t;
		r -= type_share[t];
	}
	return BW_IOC_DOMAIN;
}

typedef struct query {
	char *text; /* "type\thit\tvalue\n" */
} query;

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: gen_iocs RECORDS QUERIES OUT_RECORDS.tsv OUT_QUERIES.tsv\n");
		return 2;
	}
	size_t nrec = strtoull(argv[1], NULL, 10), nq = strtoull(argv[2], NULL, 10);
	FILE *rf = fopen(argv[3], "w"), *qf = fopen(argv[4], "w");
	if (!rf || !qf || nrec == 0) {
		perror("gen_iocs");
		return 1;
	}
	setvbuf(rf, NULL, _IOFBF, 1 << 22);
	/* half the queries come from records, sampled evenly as they are made */
	size_t nhit = nq / 2, taken = 0;
	char **qs = calloc(nq ? nq : 1, sizeof *qs);
	record r;
	for (size_t i = 0; i < nrec; i++) {
		make(&r, pick_type());
		fprintf(rf, "%d\t%u\t%zu\t%s\n", (int)r.type, r.prefix, i, r.value);
		size_t want = (i + 1) * nhit / nrec;
		if (taken < want) {
			char line[600];
			snprintf(line, sizeof line, "%d\t1\t%s\n", (int)r.type, r.probe);
			qs[taken++] = strdup(line);
		}
	}
	rng_state ^= 0xdeadbeefcafeull; /* fresh values for the misses */
	for (size_t i = taken; i < nq; i++) {
		make(&r, pick_type());
		char line[600];
		snprintf(line, sizeof line, "%d\t0\t%s\n", (int)r.type, r.probe);
		qs[i] = strdup(line);
	}
	for (size_t i = nq; i > 1; i--) {
		size_t j = (size_t)(rnd() % i);
		char *t = qs[i - 1];
		qs[i - 1] = qs[j];
		qs[j] = t;
	}
	for (size_t i = 0; i < nq; i++) {
		fputs(qs[i], qf);
		free(qs[i]);
	}
	free(qs);
	if (fclose(rf) != 0 || fclose(qf) != 0) {
		perror("gen_iocs");
		return 1;
	}
	return 0;
}
