/* The Authentication-Results parser (RFC 8601, src/mail/authres.c): one
 * header value per input. Properties checked: every result it returns has a
 * method and a result, the count never exceeds the cap, and an error comes
 * with a message. */
#include "common.h"

#include "bulwark/auth.h"

#define MAX_RESULTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = fuzz_strndup(data, size);
	char *id = NULL, *error = NULL;
	bw_authres *res = NULL;
	size_t n = 0, cap = 0;
	int rc = bw_authres_parse_value(value, 0, &id, &res, &n, &cap, MAX_RESULTS, &error);
	FUZZ_CHECK(n <= MAX_RESULTS, "%zu results over a cap of %d", n, MAX_RESULTS);
	FUZZ_CHECK(rc < 0 ? error != NULL : (size_t)rc == n, "rc %d with %zu results, error %s", rc,
		   n, error ? error : "(none)");
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(res[i].method && *res[i].method && res[i].result,
			   "result %zu without method or result", i);
		(void)bw_authres_prop(&res[i], "header.d");
		free(bw_mail_domain(res[i].identity));
		bw_authres_free(&res[i]);
	}
	free(res);
	free(id);
	free(error);
	free(value);
	return 0;
}
