/* Unit tests for src/intel/ioc_index.c: every indicator type and its
 * normalisation, parent domains, nested CIDR prefixes, duplicates, and
 * corrupt or truncated index files rejected without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/ioc_index.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/bw-ioc-test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/ioc.idx", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static bw_ioc_index *build(const bw_ioc_record *recs, size_t n)
{
	char *err = NULL;
	if (bw_ioc_index_write(path, recs, n, &err) != 0)
		fail_msg("write: %s", err);
	bw_ioc_index *ix = bw_ioc_index_open(path, &err);
	if (!ix)
		fail_msg("open: %s", err);
	return ix;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Asserts that value matches exactly the refs in want (any order). */
static void expect(const bw_ioc_index *ix, bw_ioc_type type, const char *value, size_t nwant,
		   const uint64_t *want)
{
	uint64_t got[64];
	size_t n = bw_ioc_index_lookup(ix, type, value, got, 64);
	if (n != nwant)
		fail_msg("lookup %d \"%s\": %zu matches, expected %zu", (int)type, value, n, nwant);
	uint64_t w[64];
	memcpy(w, want, nwant * sizeof *w);
	qsort(got, n, sizeof *got, cmp_u64);
	qsort(w, n, sizeof *w, cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (got[i] != w[i])
			fail_msg("lookup %d \"%s\": match %zu is ref %llu, expected %llu", (int)type,
				 value, i, (unsigned long long)got[i], (unsigned long long)w[i]);
}

#define EXPECT(ix, type, value, ...)                                                    \
	do {                                                                            \
		static const uint64_t want_[] = {__VA_ARGS__};                            \
		expect(ix, type, value, sizeof want_ / sizeof *want_ - 1, want_ + 1);     \
	} while (0)
/* EXPECT(ix, type, value, 0, refs...): the leading 0 allows an empty list */

static const bw_ioc_record every_type[] = {
	{BW_IOC_DOMAIN, "Evil.Example.", 0, 1},
	{BW_IOC_URL, "  http://bad.example/x?a=1\n", 0, 2},
	{BW_IOC_IPV4, "198.51.100.7", 32, 3},
	{BW_IOC_IPV6, "2001:db8::7", 128, 4},
	{BW_IOC_EMAIL, "Boss@Corp.Example", 0, 5},
	{BW_IOC_SUBJECT, "Urgent: Invoice 42", 0, 6},
	{BW_IOC_MD5, "D41D8CD98F00B204E9800998ECF8427E", 0, 7},
	{BW_IOC_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", 0, 8},
	{BW_IOC_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0, 9},
	{BW_IOC_FILENAME, "Invoice.PDF.exe", 0, 10},
};

static void test_every_type(void **state)
{
	(void)state;
	bw_ioc_index *ix = build(every_type, sizeof every_type / sizeof *every_type);
	EXPECT(ix, BW_IOC_DOMAIN, "evil.example", 0, 1);
	EXPECT(ix, BW_IOC_URL, "http://bad.example/x?a=1", 0, 2);
	EXPECT(ix, BW_IOC_IPV4, "198.51.100.7", 0, 3);
	EXPECT(ix, BW_IOC_IPV6, "2001:DB8:0::7", 0, 4);
	EXPECT(ix, BW_IOC_EMAIL, "boss@corp.example", 0, 5);
	EXPECT(ix, BW_IOC_SUBJECT, "Urgent: Invoice 42", 0, 6);
	EXPECT(ix, BW_IOC_MD5, "d41d8cd98f00b204e9800998ecf8427e", 0, 7);
	EXPECT(ix, BW_IOC_SHA1, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", 0, 8);
	EXPECT(ix, BW_IOC_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       0, 9);
	EXPECT(ix, BW_IOC_FILENAME, "invoice.pdf.EXE", 0, 10);

	/* misses, including values of one type looked up as another */
	EXPECT(ix, BW_IOC_DOMAIN, "good.example", 0);
	EXPECT(ix, BW_IOC_URL, "http://bad.example/x?a=2", 0);
	EXPECT(ix, BW_IOC_URL, "HTTP://bad.example/x?a=1", 0); /* URLs are exact */
	EXPECT(ix, BW_IOC_IPV4, "198.51.100.8", 0);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8::8", 0);
	EXPECT(ix, BW_IOC_EMAIL, "boss@corp.example.net", 0);
	EXPECT(ix, BW_IOC_SUBJECT, "urgent: invoice 42", 0); /* subjects are exact bytes */
	EXPECT(ix, BW_IOC_SUBJECT, "Urgent: Invoice 42 ", 0);
	EXPECT(ix, BW_IOC_MD5, "d41d8cd98f00b204e9800998ecf8427f", 0);
	EXPECT(ix, BW_IOC_MD5, "not hex", 0);
	EXPECT(ix, BW_IOC_SHA1, "d41d8cd98f00b204e9800998ecf8427e", 0); /* an MD5 */
	EXPECT(ix, BW_IOC_FILENAME, "invoice.pdf", 0);
	EXPECT(ix, BW_IOC_FILENAME, "evil.example", 0);
	EXPECT(ix, BW_IOC_IPV4, "not an address", 0);
	EXPECT(ix, BW_IOC_IPV4, "2001:db8::7", 0);
	EXPECT(ix, BW_IOC_DOMAIN, "", 0);
	assert_int_equal(bw_ioc_index_lookup(ix, (bw_ioc_type)99, "evil.example", NULL, 0), 0);
	assert_int_equal(bw_ioc_index_lookup(ix, BW_IOC_DOMAIN, NULL, NULL, 0), 0);
	/* refs may be NULL when only the count is wanted */
	assert_int_equal(bw_ioc_index_lookup(ix, BW_IOC_DOMAIN, "evil.example", NULL, 5), 1);
	bw_ioc_index_close(ix);
}

static void test_parent_domains(void **state)
{
	(void)state;
	static const bw_ioc_record r[] = {
		{BW_IOC_DOMAIN, "evil.example", 0, 1},
		{BW_IOC_DOMAIN, "b.evil.example", 0, 2},
		{BW_IOC_DOMAIN, "a.b.evil.example", 0, 3},
		{BW_IOC_DOMAIN, "other.example", 0, 4},
		{BW_IOC_DOMAIN, "*.wild.example", 0, 5},
		{BW_IOC_DOMAIN, ".dot.example", 0, 6},
		{BW_IOC_DOMAIN, "zip", 0, 7},
	};
	bw_ioc_index *ix = build(r, sizeof r / sizeof *r);
	EXPECT(ix, BW_IOC_DOMAIN, "a.b.evil.example", 0, 1, 2, 3);
	EXPECT(ix, BW_IOC_DOMAIN, "X.A.B.Evil.Example.", 0, 1, 2, 3);
	EXPECT(ix, BW_IOC_DOMAIN, "c.evil.example", 0, 1);
	EXPECT(ix, BW_IOC_DOMAIN, "notevil.example", 0);   /* label boundary */
	EXPECT(ix, BW_IOC_DOMAIN, "example", 0);            /* a parent never matches a child */
	EXPECT(ix, BW_IOC_DOMAIN, "evil.example.net", 0);
	EXPECT(ix, BW_IOC_DOMAIN, "www.wild.example", 0, 5);
	EXPECT(ix, BW_IOC_DOMAIN, "wild.example", 0, 5);
	EXPECT(ix, BW_IOC_DOMAIN, "dot.example", 0, 6);
	EXPECT(ix, BW_IOC_DOMAIN, "payload.zip", 0, 7);
	EXPECT(ix, BW_IOC_DOMAIN, "a..b.zip", 0, 7);
	/* a lookup of many empty labels stays within the label bitmap */
	char dots[300];
	memset(dots, '.', sizeof dots - 1);
	dots[sizeof dots - 1] = '\0';
	EXPECT(ix, BW_IOC_DOMAIN, dots + 300 - 254, 0);
	bw_ioc_index_close(ix);
}

static void test_nested_cidr(void **state)
{
	(void)state;
	static const bw_ioc_record r[] = {
		{BW_IOC_IPV4, "10.0.0.0", 8, 1},
		{BW_IOC_IPV4, "10.1.0.0/16", 0, 2},
		{BW_IOC_IPV4, "10.1.2.3", 32, 3},
		{BW_IOC_IPV4, "10.1.2.99/25", 25, 4}, /* host bits set: masked */
		{BW_IOC_IPV4, "192.0.2.0", 24, 5},
		{BW_IOC_IPV4, "11.0.0.0", 8, 6},
		{BW_IOC_IPV4, "10.0.0.0/8", 0, 7}, /* a second record of the same network */
	};
	bw_ioc_index *ix = build(r, sizeof r / sizeof *r);
	EXPECT(ix, BW_IOC_IPV4, "10.1.2.3", 0, 1, 2, 3, 4, 7);
	EXPECT(ix, BW_IOC_IPV4, "10.1.2.200", 0, 1, 2, 7);
	EXPECT(ix, BW_IOC_IPV4, "10.1.9.9", 0, 1, 2, 7);
	EXPECT(ix, BW_IOC_IPV4, "10.200.0.1", 0, 1, 7);
	EXPECT(ix, BW_IOC_IPV4, "10.255.255.255", 0, 1, 7);
	EXPECT(ix, BW_IOC_IPV4, " 192.0.2.255 ", 0, 5);
	EXPECT(ix, BW_IOC_IPV4, "192.0.3.0", 0);
	EXPECT(ix, BW_IOC_IPV4, "11.0.0.1", 0, 6);
	EXPECT(ix, BW_IOC_IPV4, "11.255.1.1", 0, 6);
	EXPECT(ix, BW_IOC_IPV4, "12.0.0.1", 0);
	EXPECT(ix, BW_IOC_IPV4, "9.255.255.255", 0);
	/* the most specific prefix comes first */
	uint64_t refs[1];
	assert_int_equal(bw_ioc_index_lookup(ix, BW_IOC_IPV4, "10.1.2.3", refs, 1), 5);
	assert_int_equal(refs[0], 3);
	/* an IPv4-mapped IPv6 address matches IPv4 records */
	EXPECT(ix, BW_IOC_IPV6, "::ffff:10.1.2.3", 0, 1, 2, 3, 4, 7);
	bw_ioc_index_close(ix);
}

static void test_zero_prefix(void **state)
{
	(void)state;
	static const bw_ioc_record r[] = {
		{BW_IOC_IPV4, "0.0.0.0/0", 0, 1},
		{BW_IOC_IPV4, "255.255.255.255", 32, 2},
		{BW_IOC_IPV6, "::", 0, 3},
	};
	bw_ioc_index *ix = build(r, sizeof r / sizeof *r);
	EXPECT(ix, BW_IOC_IPV4, "0.0.0.0", 0, 1);
	EXPECT(ix, BW_IOC_IPV4, "203.0.113.1", 0, 1);
	EXPECT(ix, BW_IOC_IPV4, "255.255.255.255", 0, 1, 2);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8::1", 0, 3);
	EXPECT(ix, BW_IOC_IPV6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, 3);
	bw_ioc_index_close(ix);

	/* a host address with prefix_len 0 is a caller mistake, not /0 */
	static const bw_ioc_record host0[] = {{BW_IOC_IPV4, "203.0.113.1", 0, 1}};
	char *err = NULL;
	assert_int_equal(bw_ioc_index_write(path, host0, 1, &err), -1);
	assert_non_null(strstr(err, "prefix_len 0"));
	free(err);
}

static void test_ipv6(void **state)
{
	(void)state;
	static const bw_ioc_record r[] = {
		{BW_IOC_IPV6, "2001:db8::", 32, 1},
		{BW_IOC_IPV6, "2001:db8:1::/48", 0, 2},
		{BW_IOC_IPV6, "2001:db8:1::1", 128, 3},
		{BW_IOC_IPV6, "2001:db8:1:2:3:4:5:6/127", 127, 4},
	};
	bw_ioc_index *ix = build(r, sizeof r / sizeof *r);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8:1::1", 0, 1, 2, 3);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8:1:2:3:4:5:7", 0, 1, 2, 4);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8:1:2:3:4:5:8", 0, 1, 2);
	EXPECT(ix, BW_IOC_IPV6, "2001:db8:ffff::1", 0, 1);
	EXPECT(ix, BW_IOC_IPV6, "2001:db9::1", 0);
	EXPECT(ix, BW_IOC_IPV6, "10.1.2.3", 0);
	bw_ioc_index_close(ix);
}

static void test_duplicates_and_max(void **state)
{
	(void)state;
	static const bw_ioc_record r[] = {
		{BW_IOC_DOMAIN, "dup.example", 0, 10},
		{BW_IOC_DOMAIN, "DUP.example", 0, 11},
		{BW_IOC_DOMAIN, "dup.example.", 0, 12},
		{BW_IOC_DOMAIN, "dup.example", 0, 10}, /* the same record twice is kept twice */
		{BW_IOC_FILENAME, "dup.example", 0, 13},
		{BW_IOC_DOMAIN, "x.dup.example", 0, 14},
	};
	bw_ioc_index *ix = build(r, sizeof r / sizeof *r);
	EXPECT(ix, BW_IOC_DOMAIN, "dup.example", 0, 10, 10, 11, 12);
	EXPECT(ix, BW_IOC_DOMAIN, "x.dup.example", 0, 10, 10, 11, 12, 14);
	EXPECT(ix, BW_IOC_FILENAME, "dup.example", 0, 13);

	uint64_t refs[3] = {0, 0, 99};
	assert_int_equal(bw_ioc_index_lookup(ix, BW_IOC_DOMAIN, "x.dup.example", refs, 2), 5);
	assert_int_equal(refs[0], 14); /* the most specific domain first */
	assert_true(refs[1] >= 10 && refs[1] <= 12);
	assert_int_equal(refs[2], 99); /* nothing written past max */
	assert_int_equal(bw_ioc_index_lookup(ix, BW_IOC_DOMAIN, "x.dup.example", refs, 0), 5);
	bw_ioc_index_close(ix);
}

static void test_empty_index(void **state)
{
	(void)state;
	bw_ioc_index *ix = build(NULL, 0);
	EXPECT(ix, BW_IOC_DOMAIN, "evil.example", 0);
	EXPECT(ix, BW_IOC_IPV4, "10.0.0.1", 0);
	EXPECT(ix, BW_IOC_IPV6, "::ffff:10.0.0.1", 0);
	bw_ioc_index_close(ix);
}

static void test_bad_records(void **state)
{
	(void)state;
	static const bw_ioc_record bad[] = {
		{BW_IOC_MD5, "d41d8cd98f00b204e9800998ecf8427", 0, 1},
		{BW_IOC_SHA256, "zz", 0, 1},
		{BW_IOC_IPV4, "10.0.0.0", 33, 1},
		{BW_IOC_IPV4, "10.0.0.0/8", 16, 1},
		{BW_IOC_IPV4, "10.0.0.0/", 0, 1},
		{BW_IOC_IPV4, "10.0.0.0/x", 0, 1},
		{BW_IOC_IPV4, "10.0.0.300", 32, 1},
		{BW_IOC_IPV6, "10.0.0.1", 128, 1},
		{BW_IOC_DOMAIN, "a..example", 0, 1},
		{BW_IOC_DOMAIN, ".", 0, 1},
		{BW_IOC_EMAIL, "nobody", 0, 1},
		{BW_IOC_URL, "   ", 0, 1},
		{(bw_ioc_type)42, "x", 0, 1},
		{BW_IOC_DOMAIN, NULL, 0, 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		bw_ioc_record two[2] = {{BW_IOC_DOMAIN, "fine.example", 0, 1}, bad[i]};
		char *err = NULL;
		if (bw_ioc_index_write(path, two, 2, &err) != -1)
			fail_msg("bad record %zu (%s) was accepted", i, bad[i].value);
		assert_non_null(err);
		assert_non_null(strstr(err, "record 1"));
		free(err);
	}
	char long_domain[300];
	memset(long_domain, 'a', sizeof long_domain - 1);
	long_domain[sizeof long_domain - 1] = '\0';
	bw_ioc_record r = {BW_IOC_DOMAIN, long_domain, 0, 1};
	char *err = NULL;
	assert_int_equal(bw_ioc_index_write(path, &r, 1, &err), -1);
	free(err);
}

static unsigned char *read_file(size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(*len);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void write_bytes(const unsigned char *b, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
}

static void expect_rejected(const char *what, size_t at)
{
	char *err = NULL;
	bw_ioc_index *ix = bw_ioc_index_open(path, &err);
	if (ix)
		fail_msg("%s at %zu: opened", what, at);
	if (!err || !strstr(err, path))
		fail_msg("%s at %zu: no error naming the file", what, at);
	free(err);
}

/* Every lookup of the test values, on an index that opened. */
static void lookup_all(const bw_ioc_index *ix)
{
	uint64_t refs[4];
	for (size_t i = 0; i < sizeof every_type / sizeof *every_type; i++)
		(void)bw_ioc_index_lookup(ix, every_type[i].type, every_type[i].value, refs, 4);
	(void)bw_ioc_index_lookup(ix, BW_IOC_DOMAIN, "a.b.c.evil.example", refs, 4);
	(void)bw_ioc_index_lookup(ix, BW_IOC_IPV4, "198.51.100.7", refs, 4);
}

static void test_corrupt_files(void **state)
{
	(void)state;
	bw_ioc_index_close(build(every_type, sizeof every_type / sizeof *every_type));
	size_t len;
	unsigned char *good = read_file(&len);
	assert_true(len > 300);
	uint32_t hsize; /* the header_size field (docs/ioc-index.md) */
	memcpy(&hsize, good + 12, 4);
	assert_true(hsize > 100 && hsize < 300);

	const size_t cuts[] = {0, 1, 7, 8, 100, hsize - 1, hsize, hsize + 1, 300, len / 2, len - 1};
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		write_bytes(good, cuts[i]);
		expect_rejected("truncated", cuts[i]);
	}
	/* trailing garbage is as wrong as a missing tail */
	unsigned char *longer = malloc(len + 8);
	memcpy(longer, good, len);
	memset(longer + len, 0, 8);
	write_bytes(longer, len + 8);
	expect_rejected("extended", len);
	free(longer);

	/* any changed header byte: magic, version, counts, offsets, bitmaps, checksum */
	unsigned char *bad = malloc(len);
	for (size_t at = 0; at < hsize; at++) {
		memcpy(bad, good, len);
		bad[at] ^= 0x41;
		write_bytes(bad, len);
		expect_rejected("flipped header byte", at);
	}

	/* damage past the header is not seen at open; lookups must stay in
	 * bounds. Every byte of the slots and keys at the end (a few hundred
	 * bytes here), a sample of the 512 KB IPv4 filter before them. */
	size_t tail = len - hsize > 1024 ? len - 1024 : hsize;
	for (size_t at = hsize; at < len; at += at < tail ? 4093 : 1) {
		memcpy(bad, good, len);
		bad[at] ^= 0xff;
		write_bytes(bad, len);
		bw_ioc_index *ix = bw_ioc_index_open(path, NULL);
		assert_non_null(ix);
		lookup_all(ix);
		bw_ioc_index_close(ix);
	}
	memcpy(bad, good, len);
	memset(bad + hsize, 0xff, len - hsize);
	write_bytes(bad, len);
	bw_ioc_index *ix = bw_ioc_index_open(path, NULL);
	assert_non_null(ix);
	lookup_all(ix);
	bw_ioc_index_close(ix);
	free(bad);
	free(good);

	char *err = NULL;
	assert_null(bw_ioc_index_open("/nonexistent/ioc.idx", &err));
	assert_non_null(strstr(err, "/nonexistent/ioc.idx"));
	free(err);
	assert_null(bw_ioc_index_open(dir, &err));
	free(err);
}

static void test_write_error(void **state)
{
	(void)state;
	char *err = NULL;
	assert_int_equal(bw_ioc_index_write("/nonexistent/dir/ioc.idx", every_type, 1, &err), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/ioc.idx"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_cidr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
