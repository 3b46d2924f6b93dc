/* The analysis pipeline as one call: parse -> extract -> detect -> score.
 * An engine holds what is loaded once (configuration, tracker lists) and is
 * used by one thread at a time. */
#ifndef BULWARK_ENGINE_H
#define BULWARK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/filetype.h"
#include "bulwark/history.h"
#include "bulwark/limits.h"
#include "bulwark/message.h"
#include "bulwark/trackers.h"

/* A protected identity: someone whose name or domains an attacker would borrow
 * (docs/configuration.md, [protected], [person:NAME], [org:NAME]). */
typedef enum bw_identity_kind {
	BW_IDENT_INSTITUTION, /* [protected] domains: the institution's own */
	BW_IDENT_PERSON,      /* [person:NAME], [protected] people */
	BW_IDENT_ORG,         /* [org:NAME] in the configuration */
	BW_IDENT_OUTLET       /* [org:NAME] in the news-outlet list */
} bw_identity_kind;

typedef struct bw_identity {
	bw_identity_kind kind;
	char *name;
	bw_strvec aliases;    /* other names it goes by */
	bw_strvec addresses;  /* its own mailboxes, lower-case */
	bw_strvec domains;    /* its own domains, lower-case ASCII (IDNA) */
	bw_strvec generic_domains; /* those of domains whose label is an ordinary word */
	char *source;         /* where the data comes from, or NULL */
} bw_identity;

typedef struct bw_identities {
	bw_identity *v;
	size_t n, cap;
} bw_identities;

/* Appends the [org:NAME] groups of a key file (the news-outlet list format)
 * as identities of kind. Returns 0, or -1 with *error (malloc'd). */
int bw_identities_load(bw_identities *ids, const char *path, bw_identity_kind kind, char **error);
void bw_identities_free(bw_identities *ids);

typedef struct bw_protected bw_protected; /* precomputed skeletons (src/detect) */
typedef struct bw_yara bw_yara;           /* compiled YARA rules (src/detect/yara.c) */
typedef struct bw_esp_db bw_esp_db;       /* bulk-mail platform fingerprints (src/detect) */

typedef struct bw_config {
	bw_limits limits;
	double suspicious_threshold; /* score at which a message is suspicious */
	double malicious_threshold;
	char *tracker_dir;           /* directory of tracker lists, or NULL */
	char *recipient;             /* overrides the recipient taken from headers */
	bw_identities identities;    /* [protected], [person:*], [org:*] */
	char *outlets_file;          /* [protected] outlets; NULL: the default list */
	bool outlets_off;            /* [protected] outlets = (empty): no outlet list */
	char *shorteners_file;       /* [links] shorteners (MISP warning list), or NULL */
	char *history_db;            /* [history] db: sender-history store, or NULL (off) */
	char *yara_rules;            /* [attachments] yara_rules: directory of .yar/.yara files, or NULL */
	int yara_timeout;            /* [attachments] yara_timeout: seconds per attachment scan */
	bw_strvec trusted_authserv_ids; /* [auth] trusted_authserv_ids, lower-case */
	char *esp_file;              /* [auth] esp_fingerprints; NULL: the default list */
	bool esp_off;                /* [auth] esp_fingerprints = (empty) */
	char *intel_db;              /* [intel] db, or scan --db: must open; NULL: the default if present */
	bw_strvec internal_networks; /* [intel] internal_networks: CIDRs whose Received hops are ours */
	char *store_db;              /* [store] db, or NULL: bw_store_default_path() */
	bool store_keep_bodies;      /* [store] keep_bodies */
	bool store_include_recipients; /* [store] include_recipients */
	char *institution_name;      /* [institution] name: the STIX identity of exports */
	char *institution_class;     /* [institution] identity_class */
	char *institution_sector;    /* [institution] sector, or NULL */
	char *institution_contact;   /* [institution] contact, or NULL */
	char *export_tlp;            /* [export] tlp: clear, green, amber, amber+strict, red */
	bool export_include_recipients; /* [export] include_recipients */
	char *campaign_shared_file;  /* [campaigns] shared_infrastructure, or NULL: the default */
	bool intel_immutable;        /* open the intel database immutable (milter workers, docs/sandbox.md) */
	bw_strvec more_recipients;   /* milter: the envelope recipients after .recipient, who
				      * count for FIRST_CONTACT too (not read from a file) */
} bw_config;

void bw_config_default(bw_config *cfg);
/* A file shipped in data/ (installed in share/bulwark): the environment
 * variable env when set, else the copy beside the binary. malloc'd or NULL. */
char *bw_default_data_file(const char *name, const char *env);
/* Reads an INI-style file (GLib key file) over the defaults. Returns 0, or -1
 * with *error (malloc'd) naming the file and the problem. */
int bw_config_load(bw_config *cfg, const char *path, char **error);
void bw_config_free(bw_config *cfg);

typedef struct bw_engine {
	bw_config cfg;
	bw_tracker_db *trackers; /* NULL when no lists are configured */
	bw_filetype *filetype;   /* NULL when libmagic's database is missing */
	bw_protected *protected_ids; /* identities, skeletons, spoof checker, shorteners */
	bw_history *history;     /* NULL unless [history] db is set and opened */
	bw_yara *yara;           /* NULL when no rules are configured or none compiled */
	bw_esp_db *esps;         /* NULL when no fingerprint list is loaded */
	struct bw_intel *intel;      /* the intel database, or NULL (docs/intel.md) */
	/* Where FIRST_CONTACT records a sighting instead of history: a
	 * sandboxed milter worker may not write, so it asks the daemon, which
	 * owns the store (docs/sandbox.md). NULL: bw_history_record(history). */
	int (*history_record)(void *arg, const bw_sighting *s, bw_contact *out, char **error);
	void *history_arg;
} bw_engine;

/* Takes ownership of cfg's strings. Problems loading tracker lists or
 * opening the history store go to errors; the engine still works without
 * them (history stays NULL). */
bw_engine *bw_engine_new(bw_config *cfg, bw_strvec *errors);
void bw_engine_free(bw_engine *e);

/* Analyses one raw message into m (zeroed by the caller). */
void bw_engine_scan(bw_engine *e, bw_message *m, const char *source, const char *data, size_t len);

#endif
