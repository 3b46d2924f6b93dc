/* The scan store: one SQLite file with what was scanned (messages, findings,
 * recipients, interned observables) and the campaigns grouped from it. The
 * schema is in docs/campaigns.md. */
#include <errno.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bulwark/store.h"
#include "campaign/campaign.h"

struct bw_store {
	sqlite3 *db;
	sqlite3_stmt *find_msg, *add_msg, *add_rcpt, *add_finding, *find_feature, *add_feature,
		*add_msg_feature;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS message("
	" id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, body_hash TEXT NOT NULL,"
	" date INTEGER, seen INTEGER NOT NULL, scanned_at INTEGER NOT NULL, source TEXT,"
	" from_addr TEXT, from_name TEXT, return_path TEXT, subject TEXT, score REAL, verdict TEXT,"
	" sim_subject INTEGER, sim_body INTEGER, sim_html INTEGER, body TEXT,"
	" UNIQUE(message_id, body_hash));"
	/* address is in clear only with [store] include_recipients; key is its SHA-256 */
	"CREATE TABLE IF NOT EXISTS recipient("
	" message INTEGER NOT NULL, key TEXT NOT NULL, address TEXT, PRIMARY KEY(message, key)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS finding("
	" message INTEGER NOT NULL, id TEXT NOT NULL, severity TEXT, score REAL, attack TEXT);"
	"CREATE INDEX IF NOT EXISTS finding_by_message ON finding(message);"
	"CREATE TABLE IF NOT EXISTS feature("
	" id INTEGER PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL, UNIQUE(kind, value));"
	"CREATE TABLE IF NOT EXISTS message_feature("
	" feature INTEGER NOT NULL, message INTEGER NOT NULL, PRIMARY KEY(feature, message)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS message_feature_by_message ON message_feature(message);"
	"CREATE TABLE IF NOT EXISTS campaign("
	" id TEXT PRIMARY KEY, created INTEGER NOT NULL, seq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS campaign_member("
	" message INTEGER PRIMARY KEY, campaign TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS campaign_member_by_campaign ON campaign_member(campaign);"
	"CREATE TABLE IF NOT EXISTS campaign_alias(old TEXT PRIMARY KEY, campaign TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS campaign_reason("
	" campaign TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, messages INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS campaign_reason_by_campaign ON campaign_reason(campaign);";

int bw_store_fail(sqlite3 *db, const char *what, char **error)
{
	*error = bw_xasprintf("store: %s: %s", what, sqlite3_errmsg(db));
	return -1;
}

char *bw_store_default_path(void)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	char *p = xdg && *xdg ? g_build_filename(xdg, "bulwark", "store.db", NULL)
			      : g_build_filename(g_get_home_dir(), ".local", "share", "bulwark", "store.db", NULL);
	char *r = bw_xstrdup(p);
	g_free(p);
	return r;
}

static int prepare(bw_store *s, sqlite3_stmt **st, const char *sql, char **error)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return bw_store_fail(s->db, sql, error);
	return 0;
}

static int prepare_all(bw_store *s, char **error)
{
	return prepare(s, &s->find_msg, "SELECT id FROM message WHERE message_id=? AND body_hash=?", error) ||
	       prepare(s, &s->add_msg,
		       "INSERT INTO message(message_id, body_hash, date, seen, scanned_at, source, from_addr,"
		       " from_name, return_path, subject, score, verdict, sim_subject, sim_body, sim_html, body)"
		       " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", error) ||
	       prepare(s, &s->add_rcpt, "INSERT OR IGNORE INTO recipient(message, key, address) VALUES(?,?,?)", error) ||
	       prepare(s, &s->add_finding,
		       "INSERT INTO finding(message, id, severity, score, attack) VALUES(?,?,?,?,?)", error) ||
	       prepare(s, &s->find_feature, "SELECT id FROM feature WHERE kind=? AND value=?", error) ||
	       prepare(s, &s->add_feature, "INSERT INTO feature(kind, value) VALUES(?,?)", error) ||
	       prepare(s, &s->add_msg_feature,
		       "INSERT OR IGNORE INTO message_feature(feature, message) VALUES(?,?)", error);
}

/* s with its statements prepared, or NULL (s closed) with *error. */
static bw_store *prepared(bw_store *s, char **error)
{
	if (prepare_all(s, error)) {
		bw_store_close(s);
		return NULL;
	}
	return s;
}

static bw_store *open_db(const char *path, int flags, char **error)
{
	bw_store *s = bw_xcalloc(1, sizeof *s);
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		*error = bw_xasprintf("store: %s: %s", path, sqlite3_errmsg(s->db));
		bw_store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 10000);
	return s;
}

bw_store *bw_store_open(const char *path, char **error)
{
	char *dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0700) < 0) {
		*error = bw_xasprintf("store: cannot create %s: %s", dir, strerror(errno));
		g_free(dir);
		return NULL;
	}
	g_free(dir);
	bw_store *s = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
	if (!s)
		return NULL;
	char *msg = NULL;
	if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		*error = bw_xasprintf("store: %s: %s", path, msg ? msg : "cannot create the schema");
		sqlite3_free(msg);
		bw_store_close(s);
		return NULL;
	}
	return prepared(s, error);
}

/* The tables every store has: anything else is some other SQLite file. */
static const char store_tables[] =
	"SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('message', 'recipient', 'finding',"
	" 'feature', 'message_feature', 'campaign', 'campaign_member', 'campaign_alias', 'campaign_reason')";
#define NSTORE_TABLES 9

bw_store *bw_store_open_existing(const char *path, bool writable, char **error)
{
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		*error = bw_xasprintf("store: %s does not exist (scan with --store %s first)", path, path);
		return NULL;
	}
	bw_store *s = open_db(path, writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, error);
	if (!s)
		return NULL;
	sqlite3_stmt *st = NULL;
	int tables = -1;
	if (sqlite3_prepare_v2(s->db, store_tables, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (tables != NSTORE_TABLES) {
		*error = tables < 0 ? bw_xasprintf("store: %s is not a Bulwark store: %s", path, sqlite3_errmsg(s->db))
				    : bw_xasprintf("store: %s is not a Bulwark store (it lacks the store's tables)", path);
		bw_store_close(s);
		return NULL;
	}
	return prepared(s, error);
}

void bw_store_close(bw_store *s)
{
	if (!s)
		return;
	sqlite3_stmt *all[] = {s->find_msg, s->add_msg, s->add_rcpt, s->add_finding,
			       s->find_feature, s->add_feature, s->add_msg_feature};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(s->db);
	free(s);
}

void *bw_store_db(bw_store *s)
{
	return s->db;
}

int bw_store_begin(bw_store *s)
{
	return sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int bw_store_commit(bw_store *s)
{
	return sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static int step_done(bw_store *s, sqlite3_stmt *st, const char *what, char **error)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return bw_store_fail(s->db, what, error);
	return 0;
}

static int add_recipients(bw_store *s, sqlite3_int64 msg, const bw_features *f, bool clear, char **error)
{
	for (size_t i = 0; i < f->recipients.n; i++) {
		char *key = g_compute_checksum_for_string(G_CHECKSUM_SHA256, f->recipients.v[i], -1);
		sqlite3_bind_int64(s->add_rcpt, 1, msg);
		bind_text(s->add_rcpt, 2, key);
		bind_text(s->add_rcpt, 3, clear ? f->recipients.v[i] : NULL);
		g_free(key);
		if (step_done(s, s->add_rcpt, "adding a recipient", error) < 0)
			return -1;
	}
	return 0;
}

static sqlite3_int64 feature_id(bw_store *s, const char *kind, const char *value, char **error)
{
	bind_text(s->find_feature, 1, kind);
	bind_text(s->find_feature, 2, value);
	sqlite3_int64 id = -1;
	if (sqlite3_step(s->find_feature) == SQLITE_ROW)
		id = sqlite3_column_int64(s->find_feature, 0);
	sqlite3_reset(s->find_feature);
	sqlite3_clear_bindings(s->find_feature);
	if (id >= 0)
		return id;
	bind_text(s->add_feature, 1, kind);
	bind_text(s->add_feature, 2, value);
	if (step_done(s, s->add_feature, "adding a feature", error) < 0)
		return -1;
	return sqlite3_last_insert_rowid(s->db);
}

static void bind_sim(sqlite3_stmt *st, int i, bool has, uint64_t v)
{
	if (has)
		sqlite3_bind_int64(st, i, (sqlite3_int64)v);
	else
		sqlite3_bind_null(st, i);
}

int bw_store_add(bw_store *s, const bw_message *m, const bw_config *cfg, char **error)
{
	bw_features f;
	bw_features_extract(m, &f);
	const char *mid = m->message_id ? m->message_id : "";
	int rc = -1;
	bind_text(s->find_msg, 1, mid);
	bind_text(s->find_msg, 2, f.body_hash);
	sqlite3_int64 existing = -1;
	if (sqlite3_step(s->find_msg) == SQLITE_ROW)
		existing = sqlite3_column_int64(s->find_msg, 0);
	sqlite3_reset(s->find_msg);
	sqlite3_clear_bindings(s->find_msg);
	if (existing >= 0) {
		/* the same message in another mailbox: only its recipient is news */
		if (add_recipients(s, existing, &f, cfg->store_include_recipients, error) == 0)
			rc = 0;
		goto out;
	}
	long long now = (long long)time(NULL);
	sqlite3_stmt *st = s->add_msg;
	bind_text(st, 1, mid);
	bind_text(st, 2, f.body_hash);
	if (f.date >= 0)
		sqlite3_bind_int64(st, 3, f.date);
	sqlite3_bind_int64(st, 4, f.date >= 0 ? f.date : now);
	sqlite3_bind_int64(st, 5, now);
	bind_text(st, 6, m->source);
	char *from = m->from.address ? bw_xstrdup(m->from.address) : NULL;
	if (from)
		bw_ascii_lower(from);
	bind_text(st, 7, from);
	free(from);
	bind_text(st, 8, m->from.name);
	bind_text(st, 9, m->return_path);
	bind_text(st, 10, m->subject);
	sqlite3_bind_double(st, 11, m->score);
	bind_text(st, 12, bw_verdict_name(m->verdict));
	bind_sim(st, 13, f.has_subject, f.sim_subject);
	bind_sim(st, 14, f.has_body, f.sim_body);
	bind_sim(st, 15, f.has_html, f.sim_html);
	bind_text(st, 16, cfg->store_keep_bodies ? f.body_text : NULL);
	if (step_done(s, st, "adding a message", error) < 0)
		goto out;
	sqlite3_int64 msg = sqlite3_last_insert_rowid(s->db);
	if (add_recipients(s, msg, &f, cfg->store_include_recipients, error) < 0)
		goto out;
	for (size_t i = 0; i < m->nfindings; i++) {
		const bw_finding *fd = &m->findings[i];
		bw_buf attack = {0};
		for (size_t k = 0; k < fd->attack.n; k++)
			bw_buf_printf(&attack, "%s%s", k ? "," : "", fd->attack.v[k]);
		sqlite3_bind_int64(s->add_finding, 1, msg);
		bind_text(s->add_finding, 2, fd->id);
		bind_text(s->add_finding, 3, bw_severity_name(fd->severity));
		sqlite3_bind_double(s->add_finding, 4, fd->score);
		bind_text(s->add_finding, 5, attack.data ? attack.data : "");
		bw_buf_free(&attack);
		if (step_done(s, s->add_finding, "adding a finding", error) < 0)
			goto out;
	}
	for (size_t i = 0; i < f.obs.n; i++) {
		sqlite3_int64 fid = feature_id(s, f.obs.v[i].kind, f.obs.v[i].value, error);
		if (fid < 0)
			goto out;
		sqlite3_bind_int64(s->add_msg_feature, 1, fid);
		sqlite3_bind_int64(s->add_msg_feature, 2, msg);
		if (step_done(s, s->add_msg_feature, "adding an observable", error) < 0)
			goto out;
	}
	rc = 1;
out:
	bw_features_free(&f);
	return rc;
}
