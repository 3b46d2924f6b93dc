/* The WHATWG URL parser with and without a base, redirect unwrapping, and
 * the round-trip property: parsing an href again gives the same href.
 * Input: "BASE\nURL" (relative parse against BASE), and the whole input is
 * also parsed on its own. */
#include "common.h"

#include "bulwark/url.h"

static void check_one(const bw_url *u)
{
	bw_url again;
	size_t n = strlen(u->href);
	FUZZ_CHECK(bw_url_parse(u->href, n, NULL, &again) == 0, "href \"%s\" does not parse again",
		   u->href);
	FUZZ_CHECK(strcmp(again.href, u->href) == 0, "href \"%s\" parses again as \"%s\"", u->href,
		   again.href);
	bw_url_free(&again);

	char *dest = bw_url_unwrap(u);
	if (dest) {
		bw_url d;
		FUZZ_CHECK(bw_url_parse(dest, strlen(dest), NULL, &d) == 0,
			   "unwrapped destination \"%s\" does not parse", dest);
		bw_url_free(&d);
		free(dest);
	}
	(void)bw_url_is_remote(u);
	free(bw_registrable_domain(u->host));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	bw_url u;
	if (bw_url_parse(s, size, NULL, &u) == 0) {
		check_one(&u);
		bw_url_free(&u);
	}

	const char *nl = memchr(s, '\n', size);
	if (nl) {
		bw_url base;
		if (bw_url_parse(s, (size_t)(nl - s), NULL, &base) == 0) {
			const char *rel = nl + 1;
			size_t rlen = size - (size_t)(rel - s);
			if (bw_url_parse(rel, rlen, &base, &u) == 0) {
				check_one(&u);
				bw_url_free(&u);
			}
			bw_url_free(&base);
		}
	}
	return 0;
}
