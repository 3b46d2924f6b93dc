/* The sender-history store in SQLite (include/bulwark/history.h): one row per
 * (recipient, sender, message) sighting, a per-pair summary, and the queries
 * that say whether an earlier message exists. Statements are prepared once;
 * writes are batched in one transaction, because a commit per message would
 * make archive scans disk-bound. */
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/history.h"
#include "bulwark/util.h"

/* "BWH1": marks a database as ours, so a wrong path is refused rather than
 * written into. */
#define HISTORY_APP_ID 0x42574831
#define BATCH_SIGHTINGS 500
#define BATCH_MICROSECONDS G_USEC_PER_SEC

enum {
	ST_EXISTING,
	ST_INSERT,
	ST_CONTACT_UPSERT,
	ST_EARLIER_SENDER,
	ST_EARLIER_DOMAIN,
	ST_CONTACT,
	ST_COUNT
};

static const char *const statements[ST_COUNT] = {
	[ST_EXISTING] = "SELECT sent FROM sightings WHERE recipient=?1 AND sender=?2 AND msg_key=?3",
	[ST_INSERT] = "INSERT INTO sightings(recipient, sender, msg_key, sender_domain, sent) "
		      "VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_CONTACT_UPSERT] = "INSERT INTO contacts(recipient, sender, first_seen, last_seen, count) "
			      "VALUES(?1, ?2, ?3, ?3, 1) ON CONFLICT(recipient, sender) DO UPDATE SET "
			      "first_seen=min(first_seen, excluded.first_seen), "
			      "last_seen=max(last_seen, excluded.last_seen), count=count+1",
	[ST_EARLIER_SENDER] = "SELECT count(*) FROM sightings WHERE recipient=?1 AND sender=?2 "
			      "AND (sent < ?3 OR (sent = ?3 AND msg_key < ?4))",
	[ST_EARLIER_DOMAIN] = "SELECT count(*), count(DISTINCT sender) FROM sightings "
			      "WHERE recipient=?1 AND sender_domain=?2 "
			      "AND (sent < ?3 OR (sent = ?3 AND msg_key < ?4))",
	[ST_CONTACT] = "SELECT first_seen, last_seen, count FROM contacts WHERE recipient=?1 AND sender=?2",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS sightings("
	" recipient TEXT NOT NULL, sender TEXT NOT NULL, msg_key TEXT NOT NULL,"
	" sender_domain TEXT NOT NULL, sent INTEGER NOT NULL,"
	" PRIMARY KEY(recipient, sender, msg_key)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS sightings_by_time ON sightings(recipient, sender, sent, msg_key);"
	"CREATE INDEX IF NOT EXISTS sightings_by_domain ON sightings(recipient, sender_domain, sent, msg_key);"
	"CREATE TABLE IF NOT EXISTS contacts("
	" recipient TEXT NOT NULL, sender TEXT NOT NULL, first_seen INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL, count INTEGER NOT NULL,"
	" PRIMARY KEY(recipient, sender)) WITHOUT ROWID;";

struct bw_history {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	bool in_txn;
	unsigned pending;
	gint64 txn_start;
};

static int fail(bw_history *h, const char *what, char **error)
{
	bw_buf b = {0};
	bw_buf_printf(&b, "history %s: %s: %s", h->path, what, sqlite3_errmsg(h->db));
	*error = bw_buf_steal(&b);
	return -1;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* A new (empty) database becomes ours; one of ours is used as it is;
 * anything else is refused. */
static int claim_database(bw_history *h, char **error)
{
	int64_t app = pragma_int(h->db, "PRAGMA application_id");
	if (app < 0)
		return fail(h, "cannot read", error);
	if (app == 0) {
		int64_t tables = pragma_int(h->db, "SELECT count(*) FROM sqlite_schema");
		if (tables != 0) {
			bw_buf b = {0};
			bw_buf_printf(&b, "history %s: an SQLite database that is not a Bulwark history store",
				      h->path);
			*error = bw_buf_steal(&b);
			return -1;
		}
		char sql[64];
		snprintf(sql, sizeof sql, "PRAGMA application_id=%d", HISTORY_APP_ID);
		if (sqlite3_exec(h->db, sql, NULL, NULL, NULL) != SQLITE_OK)
			return fail(h, "cannot initialise", error);
	} else if (app != HISTORY_APP_ID) {
		bw_buf b = {0};
		bw_buf_printf(&b, "history %s: not a Bulwark history store (application_id %lld)",
			      h->path, (long long)app);
		*error = bw_buf_steal(&b);
		return -1;
	}
	if (sqlite3_exec(h->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return fail(h, "cannot create tables", error);
	return 0;
}

bw_history *bw_history_open(const char *path, char **error)
{
	*error = NULL;
	bw_history *h = bw_xcalloc(1, sizeof *h);
	h->path = bw_xstrdup(path);
	int rc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK ||
	    /* the milter may hold it open in several processes */
	    sqlite3_busy_timeout(h->db, 5000) != SQLITE_OK ||
	    sqlite3_exec(h->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK ||
	    claim_database(h, error) < 0) {
		if (!*error)
			fail(h, "cannot open", error);
		bw_history_close(h);
		return NULL;
	}
	for (int i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(h->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &h->st[i], NULL) != SQLITE_OK) {
			fail(h, "cannot prepare queries", error);
			bw_history_close(h);
			return NULL;
		}
	return h;
}

int bw_history_commit(bw_history *h, char **error)
{
	if (!h->in_txn)
		return 0;
	h->in_txn = false;
	h->pending = 0;
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		int rc = fail(h, "commit", error);
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

void bw_history_close(bw_history *h)
{
	if (!h)
		return;
	char *err = NULL;
	if (bw_history_commit(h, &err) < 0)
		g_warning("%s", err);
	free(err);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(h->st[i]);
	sqlite3_close(h->db);
	free(h->path);
	free(h);
}

static sqlite3_stmt *bind_pair(bw_history *h, int which, const bw_sighting *s)
{
	sqlite3_stmt *st = h->st[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, s->recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, which == ST_EARLIER_DOMAIN ? s->sender_domain : s->sender, -1, SQLITE_STATIC);
	return st;
}

/* Runs an earlier-than query for the message recorded at `sent`. */
static int earlier(bw_history *h, int which, const bw_sighting *s, int64_t sent, int64_t *n, int64_t *distinct)
{
	sqlite3_stmt *st = bind_pair(h, which, s);
	sqlite3_bind_int64(st, 3, sent);
	sqlite3_bind_text(st, 4, s->msg_key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	*n = sqlite3_column_int64(st, 0);
	if (distinct)
		*distinct = sqlite3_column_int64(st, 1);
	return 0;
}

static int record(bw_history *h, const bw_sighting *s, bw_contact *out)
{
	sqlite3_stmt *st = bind_pair(h, ST_EXISTING, s);
	sqlite3_bind_text(st, 3, s->msg_key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->sent = sqlite3_column_int64(st, 0);
	} else if (rc == SQLITE_DONE) {
		out->sent = s->sent;
		st = bind_pair(h, ST_INSERT, s);
		sqlite3_bind_text(st, 3, s->msg_key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, s->sender_domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, s->sent);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
		st = bind_pair(h, ST_CONTACT_UPSERT, s);
		sqlite3_bind_int64(st, 3, s->sent);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
		h->pending++;
	} else {
		return -1;
	}
	if (earlier(h, ST_EARLIER_SENDER, s, out->sent, &out->sender_messages, NULL) < 0 ||
	    earlier(h, ST_EARLIER_DOMAIN, s, out->sent, &out->domain_messages, &out->domain_senders) < 0)
		return -1;
	out->known = out->sender_messages > 0;
	out->domain_known = out->domain_messages > 0;
	st = bind_pair(h, ST_CONTACT, s);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	out->first_seen = sqlite3_column_int64(st, 0);
	out->last_seen = sqlite3_column_int64(st, 1);
	out->count = sqlite3_column_int64(st, 2);
	return 0;
}

int bw_history_record(bw_history *h, const bw_sighting *s, bw_contact *out, char **error)
{
	memset(out, 0, sizeof *out);
	if (!h->in_txn) {
		if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return fail(h, "begin", error);
		h->in_txn = true;
		h->txn_start = g_get_monotonic_time();
	}
	int rc = record(h, s, out);
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_reset(h->st[i]);
	if (rc < 0)
		return fail(h, "record", error);
	if (h->pending >= BATCH_SIGHTINGS || g_get_monotonic_time() - h->txn_start >= BATCH_MICROSECONDS)
		return bw_history_commit(h, error);
	return 0;
}
