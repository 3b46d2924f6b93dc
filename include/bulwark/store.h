/* The scan store and what is built on it: every scanned message's metadata,
 * findings, observables and correlation features in SQLite (src/campaign),
 * campaigns grouped from them, attribution against the intel database, and
 * STIX 2.1 export (docs/campaigns.md). */
#ifndef BULWARK_STORE_H
#define BULWARK_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bulwark/engine.h"
#include "bulwark/message.h"
#include "bulwark/util.h"

/* ---- correlation features (src/campaign/simhash.c, features.c) ---- */

/* 64-bit SimHash of the normalised words of UTF-8 text (lower-case, numbers
 * folded, word unigrams and bigrams). *ntokens gets the number of words, so
 * that callers can refuse to compare texts too short to mean anything. */
uint64_t bw_simhash_text(const char *text, size_t len, size_t *ntokens);
/* SimHash of the sequence of HTML tag names (3-tag shingles): the layout of a
 * template independent of its words. *ntags as above. */
uint64_t bw_simhash_html_tags(const char *html, size_t len, size_t *ntags);
int bw_hamming64(uint64_t a, uint64_t b);

/* The path template of a URL: host + path + sorted query keys, with digits,
 * hex, base64-like tokens and addresses replaced by {n}, {hex}, {tok}, {email},
 * so that every recipient's copy of a tracker URL gives the same string.
 * malloc'd, or NULL when url does not parse or has no host. */
char *bw_url_template(const char *url);

typedef struct bw_observable {
	const char *kind;  /* static: "return-path-domain", "tracker-template", ... */
	char *value;
} bw_observable;

typedef struct bw_observables {
	bw_observable *v;
	size_t n, cap;
} bw_observables;

typedef struct bw_features {
	bw_observables obs;       /* distinct (kind, value) pairs */
	uint64_t sim_subject, sim_body, sim_html;
	bool has_subject, has_body, has_html; /* enough words/tags to compare */
	long long date;           /* Date: header, seconds since the epoch, or -1 */
	char body_hash[65];       /* SHA-256 over the parts' digests */
	bw_strvec recipients;     /* To, Cc, Delivered-To, X-Original-To, lower-case */
	char *body_text;          /* normalised text the body SimHash saw */
} bw_features;

void bw_features_extract(const bw_message *m, bw_features *f);
void bw_features_free(bw_features *f);

/* ---- the store (src/campaign/store.c) ---- */

typedef struct bw_store bw_store;

/* $XDG_DATA_HOME/bulwark/store.db, else ~/.local/share/bulwark/store.db. */
char *bw_store_default_path(void);

/* Opens (creating the file, its directory and the schema when needed).
 * NULL with *error (malloc'd) on failure. */
bw_store *bw_store_open(const char *path, char **error);
/* Opens a store that must exist, read-only unless writable, without
 * creating anything: NULL with *error when path is missing or is not a
 * Bulwark store (for the commands that read one). */
bw_store *bw_store_open_existing(const char *path, bool writable, char **error);
void bw_store_close(bw_store *s);
void *bw_store_db(bw_store *s); /* the sqlite3 handle */

/* Records one scanned message; cfg's [store] says whether the body text and
 * recipient addresses in clear are kept (otherwise their SHA-256 only). Returns 1 when added, 0 when the same
 * Message-ID and body hash are already stored (only an unseen recipient is
 * then added), -1 on a database error (*error malloc'd). */
int bw_store_add(bw_store *s, const bw_message *m, const bw_config *cfg, char **error);
/* Groups writes into transactions (scan calls begin once, commit at the end). */
int bw_store_begin(bw_store *s);
int bw_store_commit(bw_store *s);

/* ---- campaigns (src/campaign/cluster.c, report.c) ---- */

typedef struct bw_campaign_options {
	int subject_distance;     /* SimHash Hamming distance that links subjects */
	int body_distance;
	unsigned min_messages;    /* smaller groups are not reported as campaigns */
	const char *shared_file;  /* shared-infrastructure list; NULL: the default */
	const char *features;     /* comma-separated link kinds to use; NULL: all */
} bw_campaign_options;

void bw_campaign_options_default(bw_campaign_options *o);

/* Groups every stored message, persists campaign ids (existing campaigns keep
 * theirs) and writes the report: JSON (one object with "campaigns") or text.
 * Returns 0, or -1 with *error. */
int bw_campaigns_run(bw_store *s, const bw_campaign_options *o, bool json, FILE *out, char **error);

/* The messages of a campaign (or alias) as the last bw_campaigns_run
 * recorded them, oldest first: text, or JSON {"campaign", "messages", "count"}
 * (src/campaign/members.c). Returns 0, or -1 with *error. */
int bw_campaign_members(bw_store *s, const char *id, bool json, FILE *out, char **error);

/* The campaign an id or a merged (alias) id names now, malloc'd, or NULL. */
char *bw_campaign_resolve(bw_store *s, const char *id);

/* ---- attribution (src/campaign/attribute.c) ---- */

/* Compares a campaign with the intrusion sets in the intel database at
 * intel_db and writes ranked candidates with their evidence. */
int bw_attribute(bw_store *s, const char *campaign, const char *intel_db, bool json, FILE *out,
		 char **error);

/* ---- STIX 2.1 export (src/campaign/stix.c) ---- */

/* One bundle, from cfg's [institution] and [export], with the campaign (campaign != NULL) or every campaign last
 * seen at or after since (seconds). */
int bw_export_stix(bw_store *s, const bw_config *cfg, const char *campaign, long long since,
		   FILE *out, char **error);

#endif
