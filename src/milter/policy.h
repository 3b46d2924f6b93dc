/* The milter's own settings ([milter], [actions], [group:NAME] in the
 * configuration file) and the plan they give for one message: which actions
 * apply, and the header and body edits that carry them out. Everything here
 * is pure (no libmilter calls), so that unit tests can check every decision. */
#ifndef BULWARK_MILTER_POLICY_H
#define BULWARK_MILTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/message.h"
#include "bulwark/util.h"

/* Actions, as a bit set; an empty set is "accept". */
enum {
	BW_ACT_HEADERS = 1u << 0,     /* X-Bulwark-* and Authentication-Results */
	BW_ACT_TAG_SUBJECT = 1u << 1,
	BW_ACT_QUARANTINE = 1u << 2,  /* SMFIR_QUARANTINE: a Postfix hold */
	BW_ACT_REJECT = 1u << 3,      /* 5xx with reject_text */
	BW_ACT_SANITIZE = 1u << 4     /* body replaced by the sanitized message */
};

#define BW_NVERDICTS 3

typedef struct bw_milter_group {
	char *name;
	bw_strvec recipients; /* lower-case addresses (with '@') and domains */
	unsigned actions[BW_NVERDICTS];
} bw_milter_group;

typedef struct bw_milter_config {
	char *socket;              /* libmilter spec: unix:/path or inet:port@host */
	unsigned workers;
	unsigned timeout_ms;       /* per message in a worker */
	bool failsafe_tempfail;    /* default_action: tempfail (true) or accept */
	char *authserv_id;
	char *metrics;             /* host:port of the Prometheus endpoint, or NULL */
	int log_stderr;            /* -1: unset (stderr in the foreground, else syslog) */
	char *user;                /* workers run as this user, or NULL */
	size_t max_message_bytes;  /* collected per message; above: fail-safe default */
	unsigned actions[BW_NVERDICTS];
	char *reject_text;
	char *subject_tag;
	bw_milter_group *groups;
	size_t ngroups;
	bool auth;                 /* live SPF/DKIM/DMARC in the daemon */
	char *resolver;            /* "127.0.0.1" or "127.0.0.1:5353"; NULL: resolv.conf */
	unsigned dns_timeout_ms;   /* per DNS query */
} bw_milter_config;

/* Safe defaults: headers for every verdict, nothing rejected or held. */
void bw_milter_config_default(bw_milter_config *c);
/* Reads the milter's sections of the file over the defaults. Returns 0, or
 * -1 with *error (malloc'd) naming the file, section and key. */
int bw_milter_config_load(bw_milter_config *c, const char *path, char **error);
void bw_milter_config_free(bw_milter_config *c);

/* "headers, tag-subject" -> bits. Returns -1 with *error on an unknown name. */
int bw_milter_parse_actions(const char *list, unsigned *out, char **error);
/* Bits -> "headers,tag-subject" ("accept" for none), appended to b. */
void bw_milter_action_names(unsigned actions, bw_buf *b);

/* The actions for a verdict and the message's envelope recipients: the
 * union over every group a recipient belongs to, plus [actions] when some
 * recipient is in no group (one message reaches all its recipients, so the
 * strictest wish wins). Recipients may carry angle brackets. */
unsigned bw_milter_actions(const bw_milter_config *c, bw_verdict v, char *const *rcpts, size_t n);
/* The union over all verdicts: whether the workers need to sanitize. */
unsigned bw_milter_actions_any(const bw_milter_config *c, char *const *rcpts, size_t n);

/* One header change for libmilter. Values are what follows the colon,
 * leading white space included. */
typedef enum bw_edit_op {
	BW_EDIT_INSERT, /* smfi_insheader at the top */
	BW_EDIT_CHANGE, /* smfi_chgheader(name, index); value NULL deletes */
	BW_EDIT_ADD     /* smfi_addheader at the end */
} bw_edit_op;

typedef struct bw_milter_edit {
	bw_edit_op op;
	char *name;
	int index; /* 1-based among headers of that name (CHANGE) */
	char *value;
} bw_milter_edit;

/* What arrived: headers as the MTA gave them and the body (CRLF lines). */
typedef struct bw_milter_message {
	const bw_header *headers;
	size_t nheaders;
	const char *body;
	size_t body_len;
} bw_milter_message;

/* What the scan found (from the worker). */
typedef struct bw_milter_scan {
	bw_verdict verdict;
	double score;
	const char *findings;        /* comma-separated ids, or NULL */
	const char *auth_results;    /* our Authentication-Results value, or NULL */
	const char *sanitized;       /* whole sanitized message, or NULL */
	size_t sanitized_len;
} bw_milter_scan;

typedef struct bw_milter_plan {
	unsigned actions;            /* what was decided */
	bool reject;
	bool quarantine;
	bw_milter_edit *edits;
	size_t nedits, capedits;
	char *body;                  /* replacement body (CRLF), or NULL: keep */
	size_t body_len;
} bw_milter_plan;

/* Incoming headers that only we may write: Authentication-Results claiming
 * our authserv-id (RFC 8601 section 5) and X-Bulwark-*. Deletions are added
 * to plan, highest index first. */
void bw_milter_plan_strip(const bw_milter_config *c, const bw_milter_message *m, bw_milter_plan *plan);
/* The edits for actions: headers, subject tag, the sanitized body with the
 * MIME headers it needs, quarantine, reject. */
void bw_milter_plan_actions(const bw_milter_config *c, const bw_milter_message *m,
			    const bw_milter_scan *s, unsigned actions, bw_milter_plan *plan);
void bw_milter_plan_free(bw_milter_plan *plan);

/* True when the value (after the colon) of an Authentication-Results
 * header names authserv_id. */
bool bw_milter_claims_authserv(const char *value, const char *authserv_id);

/* Bare LF and bare CR become CRLF, as SMTP and libmilter bodies want. */
char *bw_milter_crlf(const char *s, size_t len, size_t *out_len);


#endif
