/* The intel importers: the input is written as one file (JSON when it starts
 * with '{': STIX, MISP event or feed manifest, warninglist, galaxy; else a
 * list) and imported into an in-memory database. It imports or fails with an
 * error naming the file; a failed import leaves nothing behind. */
#include "common.h"

#include <unistd.h>

#include "bulwark/intel.h"

static char dir[64], path[96];

static void ignore_hit(const bw_intel_hit *h, void *arg)
{
	FUZZ_CHECK(h->value && h->source, "a hit without value or source");
}
static bw_intel *db;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof dir, "/tmp/bw-fuzz-intel-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/input", dir);
	char *err = NULL;
	db = bw_intel_open(":memory:", true, &err);
	if (!db)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_write_file(path, data, size);
	bw_intel_stats before, after;
	char *err = NULL;
	FUZZ_CHECK(bw_intel_get_stats(db, &before, &err) == 0, "stats: %s", err);
	bw_intel_summary sum;
	if (bw_intel_import(db, path, "fuzz", dir, &sum, &err) < 0) {
		FUZZ_CHECK(err && strstr(err, path), "error does not name the file: %s", err ? err : "(null)");
		free(err);
		FUZZ_CHECK(bw_intel_get_stats(db, &after, &err) == 0, "stats: %s", err);
		FUZZ_CHECK(after.indicators == before.indicators && after.observables == before.observables,
			   "a failed import left rows behind");
	}
	bw_intel_summary_free(&sum);
	bw_intel_match(db, BW_OBS_DOMAIN, "a.evil.example", 1700000000, ignore_hit, NULL);
	bw_intel_match(db, BW_OBS_IPV4, "10.1.2.3", 1700000000, ignore_hit, NULL);
	return 0;
}
