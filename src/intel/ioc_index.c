/* The memory-mapped IOC index (include/bulwark/ioc_index.h, format in
 * docs/ioc-index.md): value normalisation, the writer that builds the file
 * and the reader that maps, validates and searches it.
 *
 * Every record becomes a key (its normalised value; for IPs the prefix
 * length and the masked address bytes) and a 64-bit hash of type and key.
 * The file holds a slot table and a pool of the distinct keys. The table is
 * linear probing with the entries inserted in hash order: an entry sits at
 * its home slot (the top bits of its hash) or just after the entries before
 * it, so hashes increase along the table and a search stops at the first
 * empty slot or larger hash. At a load of at most 0.7 a probe is one random
 * read (the slot's cache line) plus, on a hash hit, one key comparison in
 * the pool; random reads over hundreds of megabytes are what lookups cost.
 * Parent domains and IP prefixes are further probes, filtered by bitmaps of
 * the label counts and prefix lengths present, and issued as one batch so
 * that their cache misses overlap. Open maps and checks the header only;
 * every offset read from a slot is bounded when it is used. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/ioc_index.h"
#include "bulwark/util.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file is little-endian and read in place"
#endif

#define IX_MAGIC "BWIOCIX\n"
#define IX_VERSION 1u
#define IX_TYPES 10
#define IX_MAX_SLOT_BITS 32u
#define IX_MAX_ENTRIES 0xffffffffu
/* IPV4 filter: per /16, bit p says that some record of prefix length p
 * contains addresses of that /16, so a lookup probes only those lengths
 * instead of every length present anywhere (512 KB; it stays in cache). */
#define V4_FILTER_SIZE 65536
#define V4_PREFIX_MASK ((1ull << 33) - 1)

/* meta = pool offset (44 bits) | key length (16 bits) | type (4 bits) */
#define META_LEN_BITS 16
#define META_TYPE_BITS 4
#define META_OFF_SHIFT (META_LEN_BITS + META_TYPE_BITS)
#define IX_MAX_POOL (1ull << (64 - META_OFF_SHIFT))

/* Longest normalised value per type, in bytes. DNS names are at most 253;
 * addresses at most 64 + 1 + 255; hashes and IPs are stored in binary. */
static const size_t max_key_len[IX_TYPES] = {
	[BW_IOC_DOMAIN] = 253,  [BW_IOC_URL] = 65535,   [BW_IOC_IPV4] = 5,
	[BW_IOC_IPV6] = 17,     [BW_IOC_EMAIL] = 320,   [BW_IOC_SUBJECT] = 65535,
	[BW_IOC_MD5] = 16,      [BW_IOC_SHA1] = 20,     [BW_IOC_SHA256] = 32,
	[BW_IOC_FILENAME] = 4096,
};
#define IX_NORM_BUF 4096 /* largest of the types normalised into a buffer */

static const char *const type_names[IX_TYPES] = {
	"domain", "url", "ipv4", "ipv6", "email", "subject", "md5", "sha1", "sha256", "filename",
};

typedef struct ix_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t file_size;
	uint64_t entry_count;
	uint64_t type_count[IX_TYPES];
	uint64_t slot_bits;   /* home slot = top slot_bits bits of the hash */
	uint64_t slot_count;  /* (1 << slot_bits) plus the overflow at the end */
	uint64_t slots_off;   /* slot_count ix_entry; key length 0 = empty */
	uint64_t max_disp;    /* largest distance of an entry from its home slot */
	uint64_t pool_off;
	uint64_t pool_size;
	uint64_t v4_filter_off;    /* 0 without IPV4 records, else V4_FILTER_SIZE masks */
	uint64_t v6_prefixes[3];   /* bits 0..128 */
	uint64_t domain_labels[2]; /* bit l: some DOMAIN record has l labels (1..127) */
	uint64_t header_hash;      /* of every byte before this field */
} ix_header;

typedef struct ix_entry {
	uint64_t hash;
	uint64_t meta;
	uint64_t ref;
} ix_entry;

struct bw_ioc_index {
	void *map;
	size_t map_len;
	const ix_entry *slots;
	const unsigned char *pool;
	uint64_t slot_count;
	uint64_t max_disp;
	uint64_t pool_size;
	unsigned slot_bits;
	uint64_t type_count[IX_TYPES];
	const uint64_t *v4_filter;
	uint64_t v6_prefixes[3];
	uint64_t domain_labels[2];
};

/* ---- hashing ---- */

/* Hand-written rather than taken from libxxhash: the hash is part of the
 * file format, so it must not change with a library upgrade, and the keys
 * are short (a domain, 5 or 17 bytes of address, a binary digest), where one
 * 64x64->128 multiply-fold per 8 bytes is as fast as any library hash. It is
 * not collision-resistant against chosen input; equal hashes only cost extra
 * key comparisons. */
#define HK0 0x9e3779b97f4a7c15ull
#define HK1 0xbf58476d1ce4e5b9ull
#define HK2 0x94d049bb133111ebull

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static uint64_t ix_hash(unsigned type, const unsigned char *p, size_t n)
{
	uint64_t h = fold_mul((uint64_t)type ^ HK0, (uint64_t)n ^ HK1);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = fold_mul(w ^ HK1, h ^ HK2);
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	if (n)
		memcpy(&w, p, n);
	h = fold_mul(w ^ HK2, h ^ HK0);
	return fold_mul(h ^ HK1, HK2);
}

static inline uint64_t home_slot(uint64_t slot_bits, uint64_t hash)
{
	return slot_bits ? hash >> (64 - slot_bits) : 0;
}

/* ---- normalisation ---- */

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Masks addr (alen bytes) to prefix bits and writes the key [prefix][addr]. */
static void ip_key(const unsigned char *addr, size_t alen, unsigned prefix, unsigned char *key)
{
	key[0] = (unsigned char)prefix;
	for (size_t i = 0; i < alen; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * (unsigned)i : 0;
		key[1 + i] = keep ? (unsigned char)(addr[i] & (0xffu << (8 - keep))) : 0;
	}
}

/* Parses a textual address of the given IP type into addr. */
static bool parse_ip(bw_ioc_type type, const char *s, size_t n, unsigned char *addr)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(type == BW_IOC_IPV4 ? AF_INET : AF_INET6, tmp, addr) == 1;
}

/* The key of a non-IP value: points *key either into value (URL, SUBJECT)
 * or into buf (IX_NORM_BUF bytes). Returns the key length, or -1 when the
 * value cannot be a key of this type. */
static long norm_key(bw_ioc_type type, const char *value, unsigned char *buf,
		     const unsigned char **key)
{
	size_t n = strlen(value);
	const char *s = value;
	if (type != BW_IOC_SUBJECT && type != BW_IOC_FILENAME)
		trim(&s, &n);
	if (n == 0)
		return -1;
	switch (type) {
	case BW_IOC_URL:
	case BW_IOC_SUBJECT:
		if (n > max_key_len[type])
			return -1;
		*key = (const unsigned char *)s;
		return (long)n;
	case BW_IOC_DOMAIN:
		if (n >= 2 && s[0] == '*' && s[1] == '.') {
			s += 2;
			n -= 2;
		}
		if (n && s[0] == '.') {
			s++;
			n--;
		}
		if (n && s[n - 1] == '.')
			n--;
		/* lower-cased like addresses and file names */
		__attribute__((fallthrough));
	case BW_IOC_EMAIL:
	case BW_IOC_FILENAME:
		if (n == 0 || n > max_key_len[type])
			return -1;
		for (size_t i = 0; i < n; i++)
			buf[i] = ascii_lower((unsigned char)s[i]);
		*key = buf;
		return (long)n;
	case BW_IOC_MD5:
	case BW_IOC_SHA1:
	case BW_IOC_SHA256:
		if (n != 2 * max_key_len[type])
			return -1;
		for (size_t i = 0; i < n; i += 2) {
			int hi = hex_digit((unsigned char)s[i]), lo = hex_digit((unsigned char)s[i + 1]);
			if (hi < 0 || lo < 0)
				return -1;
			buf[i / 2] = (unsigned char)(hi << 4 | lo);
		}
		*key = buf;
		return (long)(n / 2);
	case BW_IOC_IPV4:
	case BW_IOC_IPV6:
		break;
	}
	return -1;
}

static unsigned count_labels(const unsigned char *k, size_t n)
{
	unsigned labels = 1;
	for (size_t i = 0; i < n; i++)
		labels += k[i] == '.';
	return labels;
}

static void set_bit(uint64_t *bits, unsigned i)
{
	bits[i / 64] |= 1ull << (i % 64);
}

static bool has_bit(const uint64_t *bits, unsigned i)
{
	return bits[i / 64] >> (i % 64) & 1;
}

static void set_error(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(char **error, const char *fmt, ...)
{
	if (!error)
		return;
	va_list ap;
	va_start(ap, fmt);
	*error = bw_xvasprintf(fmt, ap);
	va_end(ap);
}

/* ---- writer ---- */

typedef struct wrec {
	uint64_t hash;
	uint64_t key_off; /* into the writer's key arena */
	uint64_t ref;
	uint32_t key_len;
	uint8_t type;
} wrec;

static int wrec_cmp(const void *a, const void *b, void *arena)
{
	const wrec *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	int c = memcmp((const char *)arena + x->key_off, (const char *)arena + y->key_off, x->key_len);
	if (c)
		return c;
	return x->ref < y->ref ? -1 : x->ref > y->ref;
}

static bool same_key(const wrec *x, const wrec *y, const char *arena)
{
	return x->hash == y->hash && x->type == y->type && x->key_len == y->key_len &&
	       memcmp(arena + x->key_off, arena + y->key_off, x->key_len) == 0;
}

/* Marks the /16s that an IPv4 key [prefix][network] covers. */
static void add_to_v4_filter(uint64_t **filter, const unsigned char *key, unsigned prefix)
{
	if (!*filter)
		*filter = bw_xcalloc(V4_FILTER_SIZE, sizeof **filter);
	uint64_t bit = 1ull << prefix, *f = *filter;
	unsigned first = (unsigned)key[1] << 8 | key[2];
	/* a shorter prefix covers 2^(16-p) /16s; networks of one length are
	 * disjoint, so a set first bit means this network was marked before */
	if (f[first] & bit)
		return;
	unsigned span = prefix >= 16 ? 1 : 1u << (16 - prefix);
	for (unsigned j = 0; j < span; j++)
		f[first + j] |= bit;
}

/* The key of record r into key (IX_NORM_BUF bytes), updating the bitmaps. */
static long record_key(const bw_ioc_record *r, unsigned char *buf, const unsigned char **key,
		       ix_header *h, uint64_t **v4_filter, char **error, size_t i)
{
	if ((unsigned)r->type >= IX_TYPES || !r->value) {
		set_error(error, "record %zu: unknown type %d or no value", i, (int)r->type);
		return -1;
	}
	const char *tn = type_names[r->type];
	if (r->type == BW_IOC_IPV4 || r->type == BW_IOC_IPV6) {
		unsigned bits = r->type == BW_IOC_IPV4 ? 32 : 128;
		size_t n = strlen(r->value);
		const char *s = r->value;
		trim(&s, &n);
		const char *slash = memchr(s, '/', n);
		unsigned prefix = r->prefix_len;
		size_t alen = n;
		if (slash) {
			alen = (size_t)(slash - s);
			char *end;
			char num[4] = {0};
			size_t dn = n - alen - 1;
			if (dn == 0 || dn > 3)
				goto bad_ip;
			memcpy(num, slash + 1, dn);
			unsigned long p = strtoul(num, &end, 10);
			if (*end || num[0] < '0' || num[0] > '9' || p > bits ||
			    (r->prefix_len && r->prefix_len != p))
				goto bad_ip;
			prefix = (unsigned)p;
		}
		unsigned char addr[16];
		if (prefix > bits || !parse_ip(r->type, s, alen, addr))
			goto bad_ip;
		if (prefix == 0 && !slash) {
			/* Almost always a caller that forgot the length of a host
			 * address; a match-everything record must say so. */
			for (unsigned j = 0; j < bits / 8; j++)
				if (addr[j]) {
					set_error(error,
						  "record %zu: %s \"%.80s\" has prefix_len 0, which matches "
						  "every address; write \"%s/0\" if that is meant",
						  i, tn, r->value, r->type == BW_IOC_IPV4 ? "0.0.0.0" : "::");
					return -1;
				}
		}
		ip_key(addr, bits / 8, prefix, buf);
		if (r->type == BW_IOC_IPV4)
			add_to_v4_filter(v4_filter, buf, prefix);
		else
			set_bit(h->v6_prefixes, prefix);
		*key = buf;
		return (long)(1 + bits / 8);
	bad_ip:
		set_error(error, "record %zu: %s \"%.80s\" (prefix_len %u) is not an address or CIDR",
			  i, tn, r->value, (unsigned)r->prefix_len);
		return -1;
	}
	long len = norm_key(r->type, r->value, buf, key);
	if (len < 0) {
		set_error(error, "record %zu: %s value \"%.80s\" is empty, too long (limit %zu bytes) or malformed",
			  i, tn, r->value, max_key_len[r->type]);
		return -1;
	}
	if (r->type == BW_IOC_EMAIL && !memchr(*key, '@', (size_t)len)) {
		set_error(error, "record %zu: email \"%.80s\" has no @", i, r->value);
		return -1;
	}
	if (r->type == BW_IOC_DOMAIN) {
		const unsigned char *k = *key;
		for (long j = 0; j < len; j++)
			if (k[j] == '.' && (j == 0 || k[j - 1] == '.')) {
				set_error(error, "record %zu: domain \"%.80s\" has an empty label", i, r->value);
				return -1;
			}
		set_bit(h->domain_labels, count_labels(k, (size_t)len));
	}
	return len;
}

static bool write_all(FILE *f, const void *p, size_t n)
{
	return n == 0 || fwrite(p, 1, n, f) == n;
}

static int write_file(const char *path, ix_header *h, const uint64_t *v4_filter, const wrec *w,
		      size_t n, const char *arena, char **error)
{
	size_t plen = strlen(path);
	char *tmp = bw_xmalloc(plen + 16);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		set_error(error, "%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	FILE *f = fdopen(fd, "wb");
	if (!f) {
		set_error(error, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	/* Whole, aligned 4 MB writes let the page cache hold the file in
	 * 2 MB folios, which the reader's mapping can then use as huge pages. */
	char *iobuf = bw_xmalloc(4 << 20); /* glibc ignores the size without a buffer */
	setvbuf(f, iobuf, _IOFBF, 4 << 20);

	bool ok = write_all(f, h, sizeof *h) &&
		  (!v4_filter || write_all(f, v4_filter, V4_FILTER_SIZE * sizeof *v4_filter));
	static const ix_entry empty;
	uint64_t off = 0, slot = 0;
	for (size_t i = 0; ok && i < n; i++) {
		if (i > 0 && !same_key(&w[i], &w[i - 1], arena))
			off += w[i - 1].key_len;
		for (uint64_t home = home_slot(h->slot_bits, w[i].hash); ok && slot < home; slot++)
			ok = write_all(f, &empty, sizeof empty);
		ix_entry e = {w[i].hash,
			      off << META_OFF_SHIFT | (uint64_t)w[i].key_len << META_TYPE_BITS | w[i].type,
			      w[i].ref};
		ok = ok && write_all(f, &e, sizeof e);
		slot++;
	}
	for (; ok && slot < h->slot_count; slot++)
		ok = write_all(f, &empty, sizeof empty);
	for (size_t i = 0; ok && i < n; i++)
		if (i == 0 || !same_key(&w[i], &w[i - 1], arena))
			ok = write_all(f, arena + w[i].key_off, w[i].key_len);
	ok = ok && fseek(f, 0, SEEK_SET) == 0 && write_all(f, h, sizeof *h) && fflush(f) == 0 &&
	     fsync(fd) == 0;
	int saved = errno;
	if (fclose(f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	free(iobuf);
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		set_error(error, "%s: cannot write: %s", path, strerror(saved));
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

int bw_ioc_index_write(const char *path, const bw_ioc_record *recs, size_t n, char **error)
{
	if (error)
		*error = NULL;
	if (n > IX_MAX_ENTRIES) {
		set_error(error, "%s: %zu records, more than the limit of %u", path, n, IX_MAX_ENTRIES);
		return -1;
	}
	ix_header h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, IX_MAGIC, 8);
	h.version = IX_VERSION;
	h.header_size = sizeof h;
	h.entry_count = n;

	wrec *w = bw_xmalloc((n ? n : 1) * sizeof *w);
	uint64_t *v4_filter = NULL;
	bw_buf arena = {0};
	unsigned char buf[IX_NORM_BUF];
	for (size_t i = 0; i < n; i++) {
		const unsigned char *key;
		long len = record_key(&recs[i], buf, &key, &h, &v4_filter, error, i);
		if (len < 0) {
			free(v4_filter);
			free(w);
			bw_buf_free(&arena);
			return -1;
		}
		w[i] = (wrec){ix_hash(recs[i].type, key, (size_t)len), arena.len, recs[i].ref,
			      (uint32_t)len, (uint8_t)recs[i].type};
		bw_buf_append(&arena, key, (size_t)len);
		h.type_count[recs[i].type]++;
	}
	qsort_r(w, n, sizeof *w, wrec_cmp, arena.data);

	/* a load of at most 0.7 keeps probe runs short */
	while (h.slot_bits < IX_MAX_SLOT_BITS && ((uint64_t)7 << h.slot_bits) < (uint64_t)n * 10)
		h.slot_bits++;
	h.slot_count = (uint64_t)1 << h.slot_bits;
	uint64_t next = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || !same_key(&w[i], &w[i - 1], arena.data))
			h.pool_size += w[i].key_len;
		uint64_t home = home_slot(h.slot_bits, w[i].hash), slot = home > next ? home : next;
		if (slot - home > h.max_disp)
			h.max_disp = slot - home;
		next = slot + 1;
	}
	if (next > h.slot_count)
		h.slot_count = next;
	int rc = -1;
	if (h.pool_size >= IX_MAX_POOL) {
		set_error(error, "%s: %llu bytes of distinct values, more than the format allows", path,
			  (unsigned long long)h.pool_size);
	} else {
		h.v4_filter_off = v4_filter ? sizeof h : 0;
		h.slots_off = sizeof h + (v4_filter ? V4_FILTER_SIZE * sizeof *v4_filter : 0);
		h.pool_off = h.slots_off + h.slot_count * sizeof(ix_entry);
		h.file_size = h.pool_off + h.pool_size;
		h.header_hash = ix_hash(0, (const unsigned char *)&h, offsetof(ix_header, header_hash));
		rc = write_file(path, &h, v4_filter, w, n, arena.data, error);
	}
	free(v4_filter);
	free(w);
	bw_buf_free(&arena);
	return rc;
}

/* ---- reader ---- */

static const char *check_header(const ix_header *h, uint64_t size)
{
	if (memcmp(h->magic, IX_MAGIC, 8) != 0)
		return "not an IOC index (bad magic)";
	if (h->version != IX_VERSION)
		return "unsupported index version";
	if (h->header_size != sizeof *h)
		return "bad header size";
	if (h->header_hash != ix_hash(0, (const unsigned char *)h, offsetof(ix_header, header_hash)))
		return "header checksum mismatch";
	if (h->file_size != size)
		return "file size differs from the header (truncated?)";
	if (h->entry_count > IX_MAX_ENTRIES || h->slot_bits > IX_MAX_SLOT_BITS ||
	    h->slot_count < (1ull << h->slot_bits) ||
	    h->slot_count - (1ull << h->slot_bits) > h->entry_count || h->max_disp >= h->slot_count ||
	    h->slot_count < h->entry_count)
		return "entry count or slot table size out of range";
	uint64_t sum = 0;
	for (int t = 0; t < IX_TYPES; t++) {
		if (h->type_count[t] > h->entry_count)
			return "bad per-type count";
		sum += h->type_count[t];
	}
	if (sum != h->entry_count)
		return "per-type counts do not add up";
	if ((h->v6_prefixes[2] >> 1) || (h->domain_labels[0] & 1))
		return "bad prefix or label bitmap";
	uint64_t filter_size = h->type_count[BW_IOC_IPV4] ? V4_FILTER_SIZE * sizeof(uint64_t) : 0;
	if (h->v4_filter_off != (filter_size ? sizeof *h : 0))
		return "IPv4 filter offset inconsistent";
	if (h->slots_off != sizeof *h + filter_size ||
	    h->pool_off != h->slots_off + h->slot_count * sizeof(ix_entry) ||
	    h->pool_size >= IX_MAX_POOL || h->pool_off + h->pool_size != size)
		return "section offsets or sizes inconsistent";
	return NULL;
}

bw_ioc_index *bw_ioc_index_open(const char *path, char **error)
{
	if (error)
		*error = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_error(error, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_error(error, "%s: not a regular file", path);
		close(fd);
		return NULL;
	}
	if ((uint64_t)st.st_size < sizeof(ix_header)) {
		set_error(error, "%s: truncated: %lld bytes, shorter than the header", path,
			  (long long)st.st_size);
		close(fd);
		return NULL;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int saved = errno;
	close(fd);
	if (map == MAP_FAILED) {
		set_error(error, "%s: mmap: %s", path, strerror(saved));
		return NULL;
	}
	const ix_header *h = map;
	const char *why = check_header(h, (uint64_t)st.st_size);
	if (why) {
		set_error(error, "%s: %s", path, why);
		munmap(map, (size_t)st.st_size);
		return NULL;
	}
	/* Lookups touch a few random cache lines; readahead would only fill
	 * memory with pages nobody reads. Random reads over hundreds of MB
	 * miss the TLB on every probe; huge pages (where the page cache holds
	 * 2 MB folios, see write_file) make those misses far cheaper. Both are
	 * hints: failure changes only the speed. */
	madvise(map, (size_t)st.st_size, MADV_RANDOM);
	madvise(map, (size_t)st.st_size, MADV_HUGEPAGE);

	bw_ioc_index *ix = bw_xcalloc(1, sizeof *ix);
	const unsigned char *base = map;
	ix->map = map;
	ix->map_len = (size_t)st.st_size;
	ix->slots = (const ix_entry *)(base + h->slots_off);
	ix->pool = base + h->pool_off;
	ix->slot_count = h->slot_count;
	ix->max_disp = h->max_disp;
	ix->pool_size = h->pool_size;
	ix->slot_bits = (unsigned)h->slot_bits;
	memcpy(ix->type_count, h->type_count, sizeof ix->type_count);
	ix->v4_filter = h->v4_filter_off ? (const uint64_t *)(base + h->v4_filter_off) : NULL;
	memcpy(ix->v6_prefixes, h->v6_prefixes, sizeof ix->v6_prefixes);
	memcpy(ix->domain_labels, h->domain_labels, sizeof ix->domain_labels);
	return ix;
}

void bw_ioc_index_close(bw_ioc_index *ix)
{
	if (!ix)
		return;
	munmap(ix->map, ix->map_len);
	free(ix);
}

/* One key to look up. For IPs the key lives in ip[]. */
typedef struct probe {
	uint64_t hash;
	const unsigned char *key;
	uint32_t len;
	uint8_t type;
	unsigned char ip[17];
} probe;

#define MAX_PROBES (129 + 33) /* every IPv6 prefix length, plus IPv4 for a mapped address */

/* Runs the probes in two passes (fetch the home slots, then search) so that
 * the cache misses of one lookup's probes overlap. */
static size_t run_probes(const bw_ioc_index *ix, const probe *p, size_t np, uint64_t *refs, size_t max)
{
	for (size_t i = 0; i < np; i++)
		__builtin_prefetch(&ix->slots[home_slot(ix->slot_bits, p[i].hash)]);
	size_t count = 0;
	for (size_t i = 0; i < np; i++) {
		uint64_t s = home_slot(ix->slot_bits, p[i].hash);
		/* a valid file has every entry within max_disp of its home slot */
		uint64_t end = ix->slot_count - s > ix->max_disp ? s + ix->max_disp + 1 : ix->slot_count;
		for (; s < end; s++) {
			const ix_entry *en = &ix->slots[s];
			uint32_t len = (uint32_t)(en->meta >> META_TYPE_BITS) & ((1u << META_LEN_BITS) - 1);
			if (len == 0 || en->hash > p[i].hash)
				break;
			uint64_t off = en->meta >> META_OFF_SHIFT;
			if (en->hash != p[i].hash || (en->meta & ((1u << META_TYPE_BITS) - 1)) != p[i].type ||
			    len != p[i].len || off > ix->pool_size || len > ix->pool_size - off ||
			    memcmp(ix->pool + off, p[i].key, len) != 0)
				continue;
			if (count < max)
				refs[count] = en->ref;
			count++;
		}
	}
	return count;
}

static void add_probe(probe *p, size_t *np, bw_ioc_type type, const unsigned char *key, size_t len)
{
	probe *q = &p[(*np)++];
	q->type = (uint8_t)type;
	q->key = key;
	q->len = (uint32_t)len;
	q->hash = ix_hash(type, key, len);
}

/* One probe per prefix length present in the index, most specific first. */
static void add_ip_probes(const bw_ioc_index *ix, probe *p, size_t *np, bw_ioc_type type,
			  const unsigned char *addr)
{
	if (!ix->type_count[type])
		return;
	unsigned bits = type == BW_IOC_IPV4 ? 32 : 128;
	uint64_t v4_present = 0;
	if (type == BW_IOC_IPV4 && ix->v4_filter)
		v4_present = ix->v4_filter[addr[0] << 8 | addr[1]] & V4_PREFIX_MASK;
	const uint64_t *present = type == BW_IOC_IPV4 ? &v4_present : ix->v6_prefixes;
	for (unsigned len = bits + 1; len-- > 0;) {
		if (!has_bit(present, len))
			continue;
		ip_key(addr, bits / 8, len, p[*np].ip);
		add_probe(p, np, type, p[*np].ip, 1 + bits / 8);
	}
}

static bool is_v4_mapped(const unsigned char *a)
{
	static const unsigned char head[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a, head, sizeof head) == 0;
}

size_t bw_ioc_index_lookup(const bw_ioc_index *ix, bw_ioc_type type, const char *value,
			   uint64_t *refs, size_t max)
{
	if (!ix || !value || (unsigned)type >= IX_TYPES)
		return 0;
	if (!refs)
		max = 0;
	probe p[MAX_PROBES];
	size_t np = 0;
	if (type == BW_IOC_IPV4 || type == BW_IOC_IPV6) {
		size_t n = strlen(value);
		const char *s = value;
		trim(&s, &n);
		unsigned char addr[16];
		if (!parse_ip(type, s, n, addr))
			return 0;
		add_ip_probes(ix, p, &np, type, addr);
		if (type == BW_IOC_IPV6 && is_v4_mapped(addr))
			add_ip_probes(ix, p, &np, BW_IOC_IPV4, addr + 12);
		return run_probes(ix, p, np, refs, max);
	}
	if (!ix->type_count[type])
		return 0;
	unsigned char buf[IX_NORM_BUF];
	const unsigned char *key;
	long len = norm_key(type, value, buf, &key);
	if (len < 0)
		return 0;
	if (type != BW_IOC_DOMAIN) {
		add_probe(p, &np, type, key, (size_t)len);
		return run_probes(ix, p, np, refs, max);
	}
	/* the domain and each parent, skipping label counts no record has */
	unsigned labels = count_labels(key, (size_t)len);
	for (size_t i = 0;;) {
		if (labels < 128 && has_bit(ix->domain_labels, labels))
			add_probe(p, &np, type, key + i, (size_t)len - i);
		const unsigned char *dot = memchr(key + i, '.', (size_t)len - i);
		if (!dot)
			break;
		i = (size_t)(dot - key) + 1;
		labels--;
	}
	return run_probes(ix, p, np, refs, max);
}
