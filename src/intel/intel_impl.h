/* What the intel store (store.c) shares with its importers and nothing else
 * needs: the handle's innards and statement helpers. */
#ifndef BULWARK_INTEL_IMPL_H
#define BULWARK_INTEL_IMPL_H

#include <jansson.h>
#include <sqlite3.h>

#include "bulwark/intel.h"
#include "bulwark/ioc_index.h"

#define INTEL_MAX_STMTS 48

struct bw_intel {
	sqlite3 *db;
	char *path;
	struct { const char *sql; sqlite3_stmt *st; } stmts[INTEL_MAX_STMTS];
	size_t nstmts;
	/* CIDR prefix lengths present per IP type: the SQLite matcher asks
	 * only for those */
	unsigned char prefixes[2][129];
	bool prefixes_loaded;
	char *error; /* the last statement error, for intel_error() */
	bw_ioc_index *ix; /* PATH.idx when it is as new as the database, else NULL */
};

/* Runs sql (a string literal: statements are cached by its address) with
 * parameters given by types: 's' text (NULL binds NULL), 'i' int64_t,
 * 'n' int (negative binds NULL). Returns the statement, stepped once and
 * positioned on its first row (SQLITE_ROW) or done (SQLITE_DONE), in *rc;
 * further rows with sqlite3_step. NULL on an error (in->error). */
sqlite3_stmt *intel_run(bw_intel *in, int *rc, const char *sql, const char *types, ...);
/* intel_run for statements without rows: 0 or -1. */
int intel_exec(bw_intel *in, const char *sql, const char *types, ...);
/* Sets *error to "PATH: what SQLite said" and returns -1. */
int intel_error(bw_intel *in, char **error);

/* "YYYY-MM-DDTHH:MM:SSZ" of a STIX/ISO timestamp (fractions dropped), the
 * form validity windows are compared in; NULL when it is not one. */
char *intel_time(const char *iso);
/* A JSON array of the strings in a jansson array, or NULL when empty. */
char *intel_json_strings(const json_t *arr);

typedef struct intel_indicator {
	const char *stix_id, *modified, *source, *name, *pattern, *valid_from, *valid_until;
	const char *tlp, *labels, *created_by;
	bool revoked, allow;
} intel_indicator;

/* Adds an indicator: its row id, 0 when the same id and modified is already
 * there (a duplicate, counted in sum), -1 on error. Keeps only the newest
 * version of a STIX id active. */
int64_t intel_add_indicator(bw_intel *in, const intel_indicator *ind, bw_intel_summary *sum);
int intel_add_observable(bw_intel *in, int64_t indicator, bw_obs_type type, const char *value,
			 int prefix_len, int64_t and_group, bw_intel_summary *sum);
void intel_unsupported(bw_intel_summary *sum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One format each (stix.c, misp.c, list.c); the file is parsed already
 * where it is JSON. Return 0, or -1 with *error naming what and where. */
int intel_import_stix(bw_intel *in, const json_t *root, const char *source, bw_intel_summary *sum,
		      char **error);
int intel_import_misp_event(bw_intel *in, const json_t *event, const char *source,
			    bw_intel_summary *sum, char **error);
int intel_import_misp_feed(bw_intel *in, const json_t *manifest, const char *dir, const char *source,
			   bw_intel_summary *sum, char **error);
/* source NULL: the warninglist's name. */
int intel_import_warninglist(bw_intel *in, const json_t *root, const char *source,
			     bw_intel_summary *sum, char **error);
int intel_import_galaxy(bw_intel *in, const json_t *root, bw_intel_summary *sum, char **error);
int intel_import_list(bw_intel *in, const char *path, const char *source, bw_intel_summary *sum,
		      char **error);
/* The observables (at most 2, malloc'd, not normalised) of a value whose
 * type is named the MISP way ("ip-dst", "domain|ip", "filename|sha256") or
 * ours ("ipv4"). IPs are typed by their form. Returns how many; *together:
 * both must match (an AND group, "filename|md5"), else each is an
 * indicator of its own ("domain|ip"). */
size_t intel_typed_values(const char *type_name, const char *value, bw_obs_type out_types[2],
			  char *out_values[2], bool *together);
/* Resolves the threat actor names stored with MISP indicators into
 * 'indicates' relationships to the intrusion sets now known. */
int intel_link_actors(bw_intel *in, char **error);
/* jansson's load with the file and line/column in the error. */
json_t *intel_load_json(const char *path, char **error);

#endif
