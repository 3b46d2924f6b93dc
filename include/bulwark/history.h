/* The sender-history store: which sender addresses have written to which
 * recipients, and when (SQLite). FIRST_CONTACT reads and updates it.
 *
 * Answers do not depend on the order in which messages are scanned: each
 * (message, sender, recipient) is recorded once, and "known" means an
 * EARLIER message (by its recorded time, then by its key) from the same
 * sender to the same recipient exists. So a message is never its own prior
 * contact, and re-scanning an archive gives the same answers and leaves the
 * counts unchanged. */
#ifndef BULWARK_HISTORY_H
#define BULWARK_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bw_history bw_history;

/* Opens or creates the store (WAL journal). NULL with *error (malloc'd)
 * naming the file when it cannot be opened or is not a history store. */
bw_history *bw_history_open(const char *path, char **error);
/* Commits what is pending and closes. */
void bw_history_close(bw_history *h);

/* One sighting: message msg_key from sender (lower-case addr-spec, domain
 * sender_domain) to recipient, sent at `sent` (Unix seconds). */
typedef struct bw_sighting {
	const char *msg_key;
	const char *sender;
	const char *sender_domain;
	const char *recipient;
	int64_t sent;
} bw_sighting;

typedef struct bw_contact {
	bool known;               /* an earlier message from sender to recipient exists */
	bool domain_known;        /* an earlier message from sender_domain to recipient exists */
	int64_t sender_messages;  /* earlier messages from sender to recipient */
	int64_t domain_messages;  /* earlier messages from sender_domain to recipient */
	int64_t domain_senders;   /* distinct earlier senders at sender_domain */
	int64_t sent;             /* the time this message is recorded with */
	int64_t first_seen, last_seen, count; /* the pair over all recorded messages */
} bw_contact;

/* Records the sighting (unless this message is already recorded, whose
 * recorded time then counts) and answers for it. Writes are batched in a
 * transaction committed every few hundred sightings, after a second, and on
 * close. Returns 0, or -1 with *error (malloc'd). */
int bw_history_record(bw_history *h, const bw_sighting *s, bw_contact *out, char **error);
/* Commits pending writes now. Returns 0, or -1 with *error (malloc'd). */
int bw_history_commit(bw_history *h, char **error);

#endif
