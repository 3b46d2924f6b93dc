/* The STIX pattern parser: any input either fails with an "offset N: ..."
 * error inside the input, or gives bounded conjunctions of evaluable terms
 * whose values are already in their stored form (normalising them again
 * changes nothing). */
#include "common.h"

#include "bulwark/stix_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size);
	bw_pattern p;
	char *err = NULL;
	if (bw_stix_pattern_parse(s, &p, &err) < 0) {
		unsigned long off = 0;
		FUZZ_CHECK(err && sscanf(err, "offset %lu:", &off) == 1, "error without offset: %s", err ? err : "(null)");
		FUZZ_CHECK(off <= strlen(s) || off == BW_PATTERN_MAX_LEN, "offset %lu beyond the input", off);
		free(err);
		free(s);
		return 0;
	}
	FUZZ_CHECK(p.n <= BW_PATTERN_MAX_CONJ, "%zu conjunctions", p.n);
	FUZZ_CHECK(!p.dropped == !p.unsupported, "dropped %zu without a reason", p.dropped);
	for (size_t i = 0; i < p.n; i++) {
		FUZZ_CHECK(p.conj[i].n >= 1 && p.conj[i].n <= BW_PATTERN_MAX_TERMS, "%zu terms", p.conj[i].n);
		for (size_t j = 0; j < p.conj[i].n; j++) {
			const bw_pattern_term *t = &p.conj[i].terms[j];
			FUZZ_CHECK(t->type < BW_OBS_NONE && t->value, "unevaluable term kept");
			char again[2048];
			if (t->prefix_len >= 0)
				snprintf(again, sizeof again, "%s/%d", t->value, t->prefix_len);
			else
				snprintf(again, sizeof again, "%s", t->value);
			if (strlen(t->value) < 1024) {
				int prefix;
				char *n = bw_obs_normalise(t->type, again, &prefix);
				FUZZ_CHECK(n && strcmp(n, t->value) == 0 && prefix == t->prefix_len,
					   "%s \"%s\" normalises again to \"%s\"", bw_obs_type_name(t->type), again,
					   n ? n : "(null)");
				free(n);
			}
		}
	}
	bw_pattern_free(&p);
	free(s);
	return 0;
}
