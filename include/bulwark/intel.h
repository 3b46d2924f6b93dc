/* The threat-intel database (docs/intel.md): a SQLite file of indicators and
 * their observables, imported from STIX, MISP and plain lists, and the one
 * lookup API that `bulwark intel lookup`, the INTEL_MATCH detector and
 * campaign attribution share. */
#ifndef BULWARK_INTEL_H
#define BULWARK_INTEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bulwark/util.h"

/* Kinds of observable, in the order of bw_ioc_type (ioc_index.h). */
typedef enum bw_obs_type {
	BW_OBS_DOMAIN,
	BW_OBS_URL,
	BW_OBS_IPV4,
	BW_OBS_IPV6,
	BW_OBS_EMAIL,
	BW_OBS_SUBJECT,
	BW_OBS_MD5,
	BW_OBS_SHA1,
	BW_OBS_SHA256,
	BW_OBS_FILENAME,
	BW_OBS_NONE /* unknown, or a comparison we cannot evaluate */
} bw_obs_type;

/* The names stored in observable.type: "domain", "url", "ipv4", "ipv6",
 * "email", "email-subject", "md5", "sha1", "sha256", "filename". */
const char *bw_obs_type_name(bw_obs_type t);
bw_obs_type bw_obs_type_from_name(const char *name);

/* The type a bare value most likely is (a list entry, a lookup argument):
 * IP or CIDR, e-mail address, URL, hash by length, domain; else BW_OBS_NONE. */
bw_obs_type bw_obs_detect(const char *value);
/* Digits and dots with three dots or more ("999.1.1.1"): meant as an IPv4
 * address, so not a file or domain name even when it is not a valid one. */
bool bw_obs_looks_like_ipv4(const char *value);

/* The stored form of value: domains lower-case IDNA without a final dot, URLs
 * WHATWG-serialized, IPs canonical with CIDRs reduced to their network
 * (*prefix_len set, else -1), addresses, hashes and file names lower-case.
 * Returns a malloc'd string, or NULL when value is not a valid one. */
char *bw_obs_normalise(bw_obs_type t, const char *value, int *prefix_len);

typedef struct bw_intel bw_intel;

/* $XDG_DATA_HOME/bulwark/intel.db, else ~/.local/share/bulwark/intel.db.
 * malloc'd; NULL when neither variable is set. */
char *bw_intel_default_path(void);

/* Opens (writable: creating file, parent directory and schema) a database.
 * Returns NULL with *error (malloc'd) naming the file and the problem. */
bw_intel *bw_intel_open(const char *path, bool writable, char **error);
/* Read-only with SQLite's immutable=1, for the milter's sandboxed workers:
 * no locks, no journal or WAL probes, so no file is touched after this call.
 * Changes written to the file later (an import) are not seen, and content
 * still in a WAL file is ignored: reload the milter (SIGHUP) after an
 * import, which starts workers that open it afresh. */
bw_intel *bw_intel_open_immutable(const char *path, char **error);
void bw_intel_close(bw_intel *in);
const char *bw_intel_path(const bw_intel *in);

/* ---- matching ---- */

typedef struct bw_intel_ref {
	char *stix_id;
	char *name;
	char *external_id; /* techniques: "T1566.002"; intrusion sets: "G0006" */
} bw_intel_ref;

typedef struct bw_intel_refs {
	bw_intel_ref *v;
	size_t n, cap;
} bw_intel_refs;

/* One active indicator observable that matched a value. Everything is owned
 * by the matcher and valid only during the callback. */
typedef struct bw_intel_hit {
	int64_t indicator_id;
	int64_t observable_id;
	const char *stix_id;      /* or NULL (lists) */
	const char *name;         /* or NULL */
	const char *source;       /* file or feed it came from */
	const char *tlp;          /* "clear", "green", "amber", "amber+strict", "red", or NULL */
	const char *labels;       /* JSON array, or NULL */
	const char *created_by;   /* identity name or ref, or NULL */
	const char *pattern;      /* STIX pattern, or NULL */
	bool allow;               /* from a warninglist: known good, not bad */
	bw_obs_type type;
	const char *value;        /* the indicator's observable (a parent domain, a CIDR) */
	int prefix_len;           /* CIDR prefix, or -1 */
	int64_t and_group;        /* 0, or the group all of whose observables must match */
	size_t group_size;        /* observables in that group (1 when and_group is 0) */
	const bw_intel_refs *intrusion_sets; /* related through relationships */
	const bw_intel_refs *campaigns;
	const bw_intel_refs *malware;
	const bw_intel_refs *techniques;     /* ATT&CK, of the indicator and its intrusion sets */
	/* the intrusion_sets the indicator itself is related to (indicates);
	 * the others were reached through a campaign or malware */
	const bw_intel_refs *direct_sets;
} bw_intel_hit;

typedef void (*bw_intel_hit_fn)(const bw_intel_hit *hit, void *arg);

/* Calls fn for every active indicator observable (valid at now, not revoked,
 * the latest version of its STIX id) matching value of type: domains match
 * their parent domains, IPs the ranges containing them. value is normalised
 * first. Returns the number of hits, or -1 when value is not of that type. */
int bw_intel_match(bw_intel *in, bw_obs_type type, const char *value, time_t now,
		   bw_intel_hit_fn fn, void *arg);

/* ---- import ---- */

typedef struct bw_intel_summary {
	const char *format;       /* "stix", "misp-feed", "misp-event", "warninglist", "galaxy", "list" */
	size_t indicators;        /* new indicator rows */
	size_t observables;
	size_t duplicates;        /* already there (same id and modified): skipped */
	size_t relationships;
	size_t intrusion_sets, campaigns, malware, techniques, set_techniques;
	size_t aliases_merged;    /* aliases added from MISP galaxies */
	size_t unsupported;       /* patterns, attribute types or entries we cannot evaluate */
	bw_strvec unsupported_list; /* "indicator--...: why" (the first 1000) */
	bw_strvec unknown_actors;   /* "event UUID: NAME": a threat actor no intrusion set goes by (yet) */
} bw_intel_summary;

void bw_intel_summary_free(bw_intel_summary *s);

/* Imports one file (or a MISP feed directory) in one transaction: on error
 * nothing of it is kept and *error (malloc'd) names the file and position.
 * source names the feed in the indicator rows (NULL: the file's name).
 * galaxy_dir: MISP galaxy clusters whose synonyms are merged into intrusion
 * set aliases; NULL looks for a misp-galaxy directory beside the file and
 * one level up. */
int bw_intel_import(bw_intel *in, const char *path, const char *source, const char *galaxy_dir,
		    bw_intel_summary *sum, char **error);

/* Rewrites PATH.idx, the memory-mapped index of the observables of live
 * (not revoked, not superseded) indicators that the matcher then probes
 * instead of SQLite (docs/intel.md). Run after importing. */
int bw_intel_build_index(bw_intel *in, char **error);
/* The matcher uses the memory-mapped index (else SQLite queries). */
bool bw_intel_uses_index(const bw_intel *in);

typedef struct bw_intel_stats {
	int64_t indicators, block, allow, revoked, observables, relationships;
	int64_t intrusion_sets, techniques, set_techniques, campaigns, malware;
	int64_t by_type[BW_OBS_NONE];
} bw_intel_stats;

int bw_intel_get_stats(bw_intel *in, bw_intel_stats *st, char **error);

#endif
