/* STIX 2.x patterns (the grammar of STIXPattern.g4) reduced to what a single
 * message can be matched against: a disjunction of conjunctions of
 * "observable of type T equals V" terms. */
#ifndef BULWARK_STIX_PATTERN_H
#define BULWARK_STIX_PATTERN_H

#include <stddef.h>

#include "bulwark/intel.h"

typedef struct bw_pattern_term {
	bw_obs_type type;   /* BW_OBS_NONE: a comparison we cannot evaluate */
	char *value;        /* normalised (bw_obs_normalise); for BW_OBS_NONE, why */
	int prefix_len;     /* CIDR, or -1 */
} bw_pattern_term;

typedef struct bw_pattern_conj {
	bw_pattern_term *terms; /* all must match */
	size_t n;
} bw_pattern_conj;

typedef struct bw_pattern {
	bw_pattern_conj *conj;  /* any may match; only evaluable conjunctions */
	size_t n;
	size_t dropped;         /* conjunctions left out: they hold a term we cannot evaluate */
	char *unsupported;      /* every distinct reason one was left out ("; " between), or NULL */
} bw_pattern;

/* Limits that keep a hostile pattern from exploding when it is multiplied
 * out: more is a syntax-level error. */
#define BW_PATTERN_MAX_LEN 65536
#define BW_PATTERN_MAX_DEPTH 64
#define BW_PATTERN_MAX_CONJ 256
#define BW_PATTERN_MAX_TERMS 32

/* Parses s. Returns 0 and fills *out (possibly with no conjunction at all,
 * when nothing is evaluable), or -1 with *error (malloc'd):
 * "offset N: what was wrong" for malformed patterns. */
int bw_stix_pattern_parse(const char *s, bw_pattern *out, char **error);
void bw_pattern_free(bw_pattern *p);

#endif
