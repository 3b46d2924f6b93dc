/* The detector table's contract. A detector reads the parsed and extracted
 * message, may annotate its resources and links, and appends findings. It
 * never re-parses anything. Internal to the library. */
#ifndef BULWARK_DETECT_H
#define BULWARK_DETECT_H

#include "bulwark/engine.h"
#include "bulwark/message.h"

typedef void (*bw_detector_fn)(bw_message *m, const bw_engine *e);

typedef struct bw_detector {
	const char *name;
	bw_detector_fn run;
} bw_detector;

/* Runs every registered detector, in table order. */
void bw_detect_all(bw_message *m, const bw_engine *e);

void bw_detect_tracking(bw_message *m, const bw_engine *e);
void bw_detect_remote_content(bw_message *m, const bw_engine *e);
void bw_detect_impersonation(bw_message *m, const bw_engine *e);
void bw_detect_links(bw_message *m, const bw_engine *e);
void bw_detect_auth(bw_message *m, const bw_engine *e);
void bw_detect_bulk_sender(bw_message *m, const bw_engine *e);

/* ---- protected identities, precomputed once per engine (identity.c) ---- */

/* Built from the engine's identities (which must outlive it); shorteners is a
 * MISP warning list (JSON, "list" of host names) or NULL. */
bw_protected *bw_protected_new(const bw_identities *ids, const char *shorteners, bw_strvec *errors);
void bw_protected_free(bw_protected *p);

/* Case-, accent- and confusable-insensitive form: NFKD without marks,
 * lower-case, UTS #39 skeleton, lower-case. malloc'd. */
char *bw_skeleton(const bw_protected *p, const char *utf8);
/* The skeleton of a name with everything but letters and digits turned into
 * single spaces: what display names are compared on. malloc'd. */
char *bw_name_key(const bw_protected *p, const char *name);
/* Unicode form of an IDNA host (a copy when it is not IDNA or does not decode). */
char *bw_host_unicode(const char *ascii_host);
/* A label mixes scripts beyond ICU's "highly restrictive" level, or is a
 * mixed-script confusable. */
bool bw_label_mixed_script(const bw_protected *p, const char *utf8_label);
/* The identity owning host (host is one of its domains or under one), or NULL. */
const bw_identity *bw_protected_owner(const bw_protected *p, const char *host);
/* The identity whose name or alias appears in a display name, or NULL;
 * *matched is that name. */
const bw_identity *bw_protected_name_in(const bw_protected *p, const char *display, const char **matched);
/* Some identity going by the name matched owns addr, by owns(): two
 * outlets may share a name ("ABC News"). */
bool bw_protected_name_owned(const bw_protected *p, const char *matched,
			     bool (*owns)(const bw_identity *, const char *), const char *addr);
bool bw_protected_is_shortener(const bw_protected *p, const char *host);
size_t bw_protected_count(const bw_protected *p);

/* A host that looks like a protected domain without being one of them. */
typedef struct bw_lookalike {
	const char *protected_domain; /* the domain it imitates */
	const bw_identity *owner;
	const char *method;           /* "skeleton", "swapped-tld", "edit-distance", ... */
	int distance;                 /* edit distance of the labels (skeletons) */
	double score;
	char *host_unicode;           /* malloc'd */
	char *skeleton;               /* skeleton of the host's registrable domain */
	const char *protected_skeleton;
	bool punycode, mixed_script;
} bw_lookalike;
bool bw_lookalike_check(const bw_protected *p, const char *host, bw_lookalike *out);
void bw_lookalike_free(bw_lookalike *l);
/* Damerau-Levenshtein (optimal string alignment) distance of two UTF-8
 * strings in code points; returns max+1 as soon as it exceeds max. */
int bw_edit_distance(const char *a, const char *b, int max);

/* ---- sender authentication (auth.c, bulk_sender.c) ---- */

/* The identity owns addr: one of its addresses, or at one of its domains or
 * under one (impersonation.c). */
bool bw_identity_owns_address(const bw_identity *id, const char *addr);
/* Bulk-mail platform fingerprints (data/esp-fingerprints.conf). NULL with
 * *error (malloc'd, naming the file) when the file cannot be read. */
bw_esp_db *bw_esp_db_load(const char *path, char **error);
void bw_esp_db_free(bw_esp_db *db);

#endif
