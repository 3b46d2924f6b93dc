/* The IOC index reader and writer on hostile input. First byte even: the
 * rest is opened as an index file as it is, which must be rejected or give
 * lookups that stay in bounds. Odd: the rest is records, one a line (type
 * byte, prefix byte, value) up to an empty line, then bytes XORed into the
 * written file past its header. Without that damage every record must be
 * found again by a lookup of its own value; with it, lookups must stay in
 * bounds. */
#include "common.h"

#include <unistd.h>

#include "bulwark/ioc_index.h"

#define MAX_RECORDS 64

static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/bw-fuzz-ioc.XXXXXX";
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/ioc.idx", dir);
	return 0;
}

static const char *const probes[] = {
	"evil.example", "a.b.evil.example", "10.1.2.3", "::ffff:10.1.2.3", "2001:db8::1",
	"d41d8cd98f00b204e9800998ecf8427e", "boss@corp.example", "x",
};

static void lookup_fixed(const bw_ioc_index *ix)
{
	uint64_t refs[4];
	for (int t = BW_IOC_DOMAIN; t <= BW_IOC_FILENAME; t++)
		for (size_t i = 0; i < sizeof probes / sizeof *probes; i++)
			(void)bw_ioc_index_lookup(ix, (bw_ioc_type)t, probes[i], refs, 4);
}

/* The address part of an IP record value (its "/N" removed). */
static void strip_prefix(char *v)
{
	char *slash = strchr(v, '/');
	if (slash)
		*slash = '\0';
}

static void records_mode(const uint8_t *data, size_t size)
{
	bw_ioc_record recs[MAX_RECORDS];
	char *values[MAX_RECORDS];
	size_t n = 0, pos = 0;
	while (pos < size && n < MAX_RECORDS) {
		size_t start = pos;
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		pos = end + 1;
		if (end == start)
			break;
		if (end - start < 2)
			continue;
		values[n] = fuzz_strndup(data + start + 2, end - start - 2);
		recs[n] = (bw_ioc_record){(bw_ioc_type)(data[start] % 10), values[n], data[start + 1], n};
		n++;
	}
	const uint8_t *damage = pos < size ? data + pos : NULL;
	size_t ndamage = pos < size ? size - pos : 0;

	char *err = NULL;
	if (bw_ioc_index_write(path, recs, n, &err) == 0) {
		FILE *f = fopen(path, "rb");
		if (!f)
			abort();
		/* the 512 KB IPv4 filter plus what at most 4 KB of input can add */
		static uint8_t buf[1 << 20];
		size_t flen = fread(buf, 1, sizeof buf, f);
		fclose(f);
		uint32_t hsize = 0; /* the header_size field (docs/ioc-index.md) */
		if (flen >= 16)
			memcpy(&hsize, buf + 12, 4);
		FUZZ_CHECK(flen >= hsize && hsize > 0 && flen < sizeof buf,
			   "index of %zu records is %zu bytes, header %u", n, flen, hsize);
		for (size_t i = 0; i < ndamage && hsize + i < flen; i++)
			buf[hsize + i] ^= damage[i];
		fuzz_write_file(path, buf, flen);
		bw_ioc_index *ix = bw_ioc_index_open(path, &err);
		FUZZ_CHECK(ix != NULL, "a written index does not open: %s", err);
		lookup_fixed(ix);
		for (size_t i = 0; i < n; i++) {
			uint64_t refs[MAX_RECORDS];
			if (recs[i].type == BW_IOC_IPV4 || recs[i].type == BW_IOC_IPV6)
				strip_prefix(values[i]);
			size_t hits = bw_ioc_index_lookup(ix, recs[i].type, values[i], refs, MAX_RECORDS);
			FUZZ_CHECK(ndamage || hits >= 1, "record %zu (type %d, \"%s\") not found", i,
				   (int)recs[i].type, values[i]);
		}
		bw_ioc_index_close(ix);
	} else {
		FUZZ_CHECK(err != NULL, "write failed without an error");
		free(err);
	}
	for (size_t i = 0; i < n; i++)
		free(values[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1) {
		records_mode(data + 1, size - 1);
		return 0;
	}
	fuzz_write_file(path, data + 1, size - 1);
	char *err = NULL;
	bw_ioc_index *ix = bw_ioc_index_open(path, &err);
	if (ix) {
		lookup_fixed(ix);
		bw_ioc_index_close(ix);
	} else {
		FUZZ_CHECK(err != NULL, "open failed without an error");
		free(err);
	}
	return 0;
}
