/* The intel database: SQLite schema, inserts the importers share, statistics
 * and matching of one observable against the active indicators. The table
 * and column names are read by campaign attribution too: add, never rename. */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "intel/intel_impl.h"

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS indicator("
	" id INTEGER PRIMARY KEY, stix_id TEXT, modified TEXT, source TEXT NOT NULL, name TEXT,"
	" pattern TEXT, valid_from TEXT, valid_until TEXT, revoked INTEGER NOT NULL DEFAULT 0,"
	" tlp TEXT, labels TEXT, created_by TEXT,"
	" kind TEXT NOT NULL CHECK (kind IN ('block', 'allow')),"
	" superseded INTEGER NOT NULL DEFAULT 0," /* a newer version of the STIX id exists */
	" UNIQUE(stix_id, modified));"
	"CREATE TABLE IF NOT EXISTS observable("
	" id INTEGER PRIMARY KEY, indicator_id INTEGER NOT NULL REFERENCES indicator(id),"
	" type TEXT NOT NULL, value TEXT NOT NULL, prefix_len INTEGER, and_group INTEGER);"
	"CREATE INDEX IF NOT EXISTS observable_value ON observable(type, value, prefix_len);"
	"CREATE INDEX IF NOT EXISTS observable_indicator ON observable(indicator_id, and_group);"
	"CREATE TABLE IF NOT EXISTS relationship(source_ref TEXT, relationship_type TEXT, target_ref TEXT,"
	" UNIQUE(source_ref, relationship_type, target_ref));"
	"CREATE INDEX IF NOT EXISTS relationship_target ON relationship(target_ref);"
	"CREATE TABLE IF NOT EXISTS intrusion_set(stix_id TEXT PRIMARY KEY, name TEXT NOT NULL,"
	" aliases TEXT, description TEXT, external_id TEXT);"
	"CREATE TABLE IF NOT EXISTS campaign_object(stix_id TEXT PRIMARY KEY, name TEXT);"
	"CREATE TABLE IF NOT EXISTS malware(stix_id TEXT PRIMARY KEY, name TEXT);"
	"CREATE TABLE IF NOT EXISTS technique(stix_id TEXT PRIMARY KEY, external_id TEXT, name TEXT);"
	"CREATE TABLE IF NOT EXISTS intrusion_set_technique(intrusion_set TEXT, technique TEXT,"
	" UNIQUE(intrusion_set, technique));"
	"CREATE TABLE IF NOT EXISTS identity(stix_id TEXT PRIMARY KEY, name TEXT);"
	/* threat actors named by MISP events, linked once an intrusion set
	 * goes by the name (whichever file comes first) */
	"CREATE TABLE IF NOT EXISTS indicator_actor(indicator TEXT NOT NULL, name TEXT NOT NULL,"
	" UNIQUE(indicator, name));"
	"CREATE INDEX IF NOT EXISTS indicator_actor_name ON indicator_actor(name);";

char *bw_intel_default_path(void)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg)
		return g_build_filename(xdg, "bulwark", "intel.db", NULL);
	const char *home = getenv("HOME");
	if (home && *home)
		return g_build_filename(home, ".local", "share", "bulwark", "intel.db", NULL);
	return NULL;
}

int intel_error(bw_intel *in, char **error)
{
	*error = bw_xasprintf("%s: %s", in->path, in->error ? in->error : sqlite3_errmsg(in->db));
	return -1;
}

static char *index_path(const bw_intel *in)
{
	return g_strconcat(in->path, ".idx", NULL);
}

/* The index is used only when it was written after the database's last
 * change: a failed rebuild must not hide newer indicators. */
static void open_index(bw_intel *in)
{
	char *ip = index_path(in);
	struct stat db, ix;
	if (stat(in->path, &db) == 0 && stat(ip, &ix) == 0 &&
	    (ix.st_mtim.tv_sec > db.st_mtim.tv_sec ||
	     (ix.st_mtim.tv_sec == db.st_mtim.tv_sec && ix.st_mtim.tv_nsec >= db.st_mtim.tv_nsec))) {
		char *err = NULL;
		in->ix = bw_ioc_index_open(ip, &err);
		free(err); /* a broken index: SQLite answers instead */
	}
	g_free(ip);
}

bool bw_intel_uses_index(const bw_intel *in)
{
	return in->ix != NULL;
}

_Static_assert((int)BW_OBS_FILENAME == (int)BW_IOC_FILENAME && (int)BW_OBS_IPV4 == (int)BW_IOC_IPV4,
	       "bw_obs_type and bw_ioc_type share their order");

int bw_intel_build_index(bw_intel *in, char **error)
{
	bw_ioc_record *recs = NULL;
	size_t n = 0, cap = 0;
	bw_strvec values = {0};
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT o.id, o.type, o.value, o.prefix_len FROM observable o"
				     " JOIN indicator i ON i.id = o.indicator_id"
				     " WHERE NOT i.revoked AND NOT i.superseded",
				     "");
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		bw_obs_type t = bw_obs_type_from_name(col(st, 1));
		if (t == BW_OBS_NONE)
			continue;
		bw_grow((void **)&recs, &cap, n + 1, sizeof *recs);
		bool ip = t == BW_OBS_IPV4 || t == BW_OBS_IPV6;
		int prefix = sqlite3_column_type(st, 3) == SQLITE_NULL ? (t == BW_OBS_IPV4 ? 32 : 128)
									: sqlite3_column_int(st, 3);
		bw_strvec_push(&values, col(st, 2));
		recs[n++] = (bw_ioc_record){(bw_ioc_type)t, NULL, ip ? (uint8_t)prefix : 0,
					    (uint64_t)sqlite3_column_int64(st, 0)};
	}
	if (st)
		sqlite3_reset(st);
	int result = 0;
	if (!st || rc != SQLITE_DONE) {
		result = intel_error(in, error);
	} else {
		for (size_t i = 0; i < n; i++)
			recs[i].value = values.v[i];
		char *ip = index_path(in);
		result = bw_ioc_index_write(ip, recs, n, error);
		g_free(ip);
	}
	free(recs);
	bw_strvec_free(&values);
	bw_ioc_index_close(in->ix);
	in->ix = NULL;
	if (result == 0)
		open_index(in);
	return result;
}

/* file: URI of path (RFC 3986 escapes for what SQLite's URI parser treats
 * specially) with immutable=1: SQLite then takes no locks and never looks
 * for a journal or WAL file, so nothing is opened or probed after the open
 * (the milter's workers run without open(2) for writing or access(2)). */
static char *immutable_uri(const char *path)
{
	bw_buf b = {0};
	bw_buf_puts(&b, "file:");
	for (const char *p = path; *p; p++)
		if (*p == '%' || *p == '?' || *p == '#')
			bw_buf_printf(&b, "%%%02X", (unsigned char)*p);
		else
			bw_buf_putc(&b, *p);
	bw_buf_puts(&b, "?immutable=1");
	return bw_buf_steal(&b);
}

static bw_intel *open_db(const char *path, bool writable, bool immutable, char **error)
{
	bw_intel *in = bw_xcalloc(1, sizeof *in);
	in->path = bw_xstrdup(path);
	if (writable) {
		char *dir = g_path_get_dirname(path);
		if (g_mkdir_with_parents(dir, 0700) < 0) {
			*error = bw_xasprintf("%s: cannot create directory %s: %s", path, dir, strerror(errno));
			g_free(dir);
			bw_intel_close(in);
			return NULL;
		}
		g_free(dir);
	}
	int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	char *uri = immutable ? immutable_uri(path) : NULL;
	int rc = sqlite3_open_v2(uri ? uri : path, &in->db, flags | (uri ? SQLITE_OPEN_URI : 0), NULL);
	free(uri);
	if (rc != SQLITE_OK ||
	    sqlite3_exec(in->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    (writable && sqlite3_exec(in->db, schema, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(in->db, "SELECT id FROM indicator LIMIT 0", NULL, NULL, NULL) != SQLITE_OK) {
		intel_error(in, error);
		bw_intel_close(in);
		return NULL;
	}
	sqlite3_busy_timeout(in->db, 5000);
	open_index(in);
	return in;
}

bw_intel *bw_intel_open(const char *path, bool writable, char **error)
{
	return open_db(path, writable, false, error);
}

bw_intel *bw_intel_open_immutable(const char *path, char **error)
{
	return open_db(path, false, true, error);
}

void bw_intel_close(bw_intel *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->nstmts; i++)
		sqlite3_finalize(in->stmts[i].st);
	bw_ioc_index_close(in->ix);
	sqlite3_close(in->db);
	free(in->path);
	free(in->error);
	free(in);
}

const char *bw_intel_path(const bw_intel *in)
{
	return in->path;
}

/* ---- statements ---- */

static sqlite3_stmt *vrun(bw_intel *in, int *rc, const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st = NULL;
	for (size_t i = 0; i < in->nstmts && !st; i++)
		if (in->stmts[i].sql == sql)
			st = in->stmts[i].st;
	if (!st) {
		if (in->nstmts == INTEL_MAX_STMTS)
			abort(); /* a programming error: raise INTEL_MAX_STMTS */
		if (sqlite3_prepare_v2(in->db, sql, -1, &st, NULL) != SQLITE_OK)
			goto fail;
		in->stmts[in->nstmts].sql = sql;
		in->stmts[in->nstmts++].st = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 's') {
			const char *s = va_arg(ap, const char *);
			if (s)
				sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
		} else if (types[i] == 'i') {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else {
			int n = va_arg(ap, int);
			if (n >= 0)
				sqlite3_bind_int(st, i + 1, n);
		}
	}
	*rc = sqlite3_step(st);
	if (*rc == SQLITE_ROW || *rc == SQLITE_DONE)
		return st;
fail:
	free(in->error);
	in->error = bw_xstrdup(sqlite3_errmsg(in->db));
	if (st)
		sqlite3_reset(st);
	return NULL;
}

sqlite3_stmt *intel_run(bw_intel *in, int *rc, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vrun(in, rc, sql, types, ap);
	va_end(ap);
	return st;
}

int intel_exec(bw_intel *in, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int rc;
	sqlite3_stmt *st = vrun(in, &rc, sql, types, ap);
	va_end(ap);
	if (st)
		sqlite3_reset(st);
	return st ? 0 : -1;
}

/* ---- shared by the importers ---- */

char *intel_time(const char *iso)
{
	if (!iso || strlen(iso) < 19)
		return NULL;
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !g_ascii_isdigit(iso[i]) : iso[i] != shape[i] && !(i == 10 && iso[i] == ' '))
			return NULL;
	char *t = bw_xmalloc(21);
	memcpy(t, iso, 19);
	t[10] = 'T';
	t[19] = 'Z';
	t[20] = '\0';
	return t;
}

char *intel_json_strings(const json_t *arr)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return NULL;
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	char *s = json_array_size(out) ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return s;
}

void intel_unsupported(bw_intel_summary *sum, const char *fmt, ...)
{
	sum->unsupported++;
	if (sum->unsupported_list.n >= 1000)
		return;
	va_list ap;
	va_start(ap, fmt);
	bw_strvec_push_owned(&sum->unsupported_list, bw_xvasprintf(fmt, ap));
	va_end(ap);
}

void bw_intel_summary_free(bw_intel_summary *s)
{
	bw_strvec_free(&s->unsupported_list);
	bw_strvec_free(&s->unknown_actors);
	memset(s, 0, sizeof *s);
}

int64_t intel_add_indicator(bw_intel *in, const intel_indicator *ind, bw_intel_summary *sum)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT id FROM indicator WHERE stix_id = ? AND modified = ?",
				     "ss", ind->stix_id, ind->modified);
	if (!st)
		return -1;
	bool dup = rc == SQLITE_ROW;
	sqlite3_reset(st);
	if (dup) {
		sum->duplicates++;
		return 0;
	}
	char *from = intel_time(ind->valid_from), *until = intel_time(ind->valid_until);
	int err = intel_exec(in,
			     "INSERT INTO indicator(stix_id, modified, source, name, pattern, valid_from,"
			     " valid_until, revoked, tlp, labels, created_by, kind)"
			     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			     "sssssssnssss", ind->stix_id, ind->modified, ind->source, ind->name, ind->pattern,
			     from, until, ind->revoked ? 1 : 0, ind->tlp, ind->labels, ind->created_by,
			     ind->allow ? "allow" : "block");
	free(from);
	free(until);
	if (err < 0)
		return -1;
	int64_t id = sqlite3_last_insert_rowid(in->db);
	/* only the newest version of a STIX object counts */
	if (intel_exec(in,
		       "UPDATE indicator SET superseded = (id != (SELECT id FROM indicator i2"
		       " WHERE i2.stix_id = indicator.stix_id ORDER BY modified DESC, id DESC LIMIT 1))"
		       " WHERE stix_id = ?",
		       "s", ind->stix_id) < 0)
		return -1;
	sum->indicators++;
	return id;
}

int intel_add_observable(bw_intel *in, int64_t indicator, bw_obs_type type, const char *value,
			 int prefix_len, int64_t and_group, bw_intel_summary *sum)
{
	int rc = intel_exec(in,
			    "INSERT INTO observable(indicator_id, type, value, prefix_len, and_group)"
			    " VALUES (?, ?, ?, ?, nullif(?, 0))",
			    "issni", indicator, bw_obs_type_name(type), value, prefix_len, and_group);
	if (rc == 0)
		sum->observables++;
	return rc;
}

/* ---- statistics ---- */

static int64_t count(bw_intel *in, const char *sql, int *failed)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, sql, "");
	if (!st) {
		*failed = 1;
		return 0;
	}
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return n;
}

int bw_intel_get_stats(bw_intel *in, bw_intel_stats *s, char **error)
{
	memset(s, 0, sizeof *s);
	int failed = 0;
	s->indicators = count(in, "SELECT count(*) FROM indicator", &failed);
	s->block = count(in, "SELECT count(*) FROM indicator WHERE kind = 'block'", &failed);
	s->allow = count(in, "SELECT count(*) FROM indicator WHERE kind = 'allow'", &failed);
	s->revoked = count(in, "SELECT count(*) FROM indicator WHERE revoked", &failed);
	s->observables = count(in, "SELECT count(*) FROM observable", &failed);
	s->relationships = count(in, "SELECT count(*) FROM relationship", &failed);
	s->intrusion_sets = count(in, "SELECT count(*) FROM intrusion_set", &failed);
	s->techniques = count(in, "SELECT count(*) FROM technique", &failed);
	s->set_techniques = count(in, "SELECT count(*) FROM intrusion_set_technique", &failed);
	s->campaigns = count(in, "SELECT count(*) FROM campaign_object", &failed);
	s->malware = count(in, "SELECT count(*) FROM malware", &failed);
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT type, count(*) FROM observable GROUP BY type", "");
	if (!st)
		failed = 1;
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		bw_obs_type t = bw_obs_type_from_name(col(st, 0));
		if (t != BW_OBS_NONE)
			s->by_type[t] = sqlite3_column_int64(st, 1);
	}
	if (st)
		sqlite3_reset(st);
	return failed ? intel_error(in, error) : 0;
}

/* ---- matching ---- */

typedef struct ref_list {
	int64_t *v;
	size_t n, cap;
} ref_list;

static void ref_push(ref_list *l, int64_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == id)
			return;
	bw_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
	l->v[l->n++] = id;
}

static void candidates_exact(bw_intel *in, bw_obs_type type, const char *value, int prefix_len,
			     ref_list *out)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT id FROM observable WHERE type = ? AND value = ? AND prefix_len IS ?",
				     "ssn", bw_obs_type_name(type), value, prefix_len);
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st))
		ref_push(out, sqlite3_column_int64(st, 0));
	if (st)
		sqlite3_reset(st);
}

static void load_prefixes(bw_intel *in)
{
	in->prefixes_loaded = true;
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT DISTINCT type, prefix_len FROM observable"
				     " WHERE type IN ('ipv4', 'ipv6') AND prefix_len IS NOT NULL",
				     "");
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		int p = sqlite3_column_int(st, 1);
		if (p >= 0 && p <= 128)
			in->prefixes[strcmp(col(st, 0), "ipv6") == 0][p] = 1;
	}
	if (st)
		sqlite3_reset(st);
}

/* Observable row ids that may match: the value itself, its parent domains,
 * the networks containing an address. */
static void candidates(bw_intel *in, bw_obs_type type, const char *value, ref_list *out)
{
	if (in->ix) {
		uint64_t refs[256];
		size_t n = bw_ioc_index_lookup(in->ix, (bw_ioc_type)type, value, refs, 256);
		for (size_t i = 0; i < n && i < 256; i++)
			ref_push(out, (int64_t)refs[i]);
		return;
	}
	candidates_exact(in, type, value, -1, out);
	if (type == BW_OBS_DOMAIN) {
		for (const char *d = strchr(value, '.'); d; d = strchr(d + 1, '.'))
			candidates_exact(in, type, d + 1, -1, out);
	} else if (type == BW_OBS_IPV4 || type == BW_OBS_IPV6) {
		if (!in->prefixes_loaded)
			load_prefixes(in);
		bool v6 = type == BW_OBS_IPV6;
		int bits = v6 ? 128 : 32;
		for (int p = 0; p < bits; p++) {
			if (!in->prefixes[v6][p])
				continue;
			char cidr[64];
			snprintf(cidr, sizeof cidr, "%s/%d", value, p);
			int prefix;
			char *net = bw_obs_normalise(type, cidr, &prefix);
			if (net)
				candidates_exact(in, type, net, p, out);
			free(net);
		}
	}
}

static void refs_clear(bw_intel_refs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].stix_id);
		free(r->v[i].name);
		free(r->v[i].external_id);
	}
	r->n = 0;
}

static void refs_add(bw_intel_refs *r, const char *stix_id, const char *name, const char *external_id)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].stix_id, stix_id) == 0)
			return;
	bw_grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v);
	r->v[r->n++] = (bw_intel_ref){bw_xstrdup(stix_id), name ? bw_xstrdup(name) : NULL,
				      external_id ? bw_xstrdup(external_id) : NULL};
}

typedef struct related {
	bw_intel_refs sets, campaigns, malware, techniques;
	bw_intel_refs direct; /* sets related to the indicator itself */
} related;

static void add_techniques_of_set(bw_intel *in, related *r, const char *set)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT t.stix_id, t.name, t.external_id FROM intrusion_set_technique s"
				     " JOIN technique t ON t.stix_id = s.technique WHERE s.intrusion_set = ?"
				     " ORDER BY t.external_id",
				     "s", set);
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st))
		refs_add(&r->techniques, col(st, 0), col(st, 1), col(st, 2));
	if (st)
		sqlite3_reset(st);
}

static void add_set(bw_intel *in, related *r, const char *set)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT name, external_id FROM intrusion_set WHERE stix_id = ?",
				     "s", set);
	if (!st)
		return;
	char *name = rc == SQLITE_ROW && col(st, 0) ? bw_xstrdup(col(st, 0)) : NULL;
	char *ext = rc == SQLITE_ROW && col(st, 1) ? bw_xstrdup(col(st, 1)) : NULL;
	sqlite3_reset(st);
	refs_add(&r->sets, set, name, ext);
	free(name);
	free(ext);
}

static char *name_of(bw_intel *in, const char *target)
{
	int rc;
	sqlite3_stmt *st = NULL;
	if (strncmp(target, "campaign--", 10) == 0)
		st = intel_run(in, &rc, "SELECT name FROM campaign_object WHERE stix_id = ?", "s", target);
	else if (strncmp(target, "malware--", 9) == 0)
		st = intel_run(in, &rc, "SELECT name FROM malware WHERE stix_id = ?", "s", target);
	if (!st)
		return NULL;
	char *name = rc == SQLITE_ROW && col(st, 0) ? bw_xstrdup(col(st, 0)) : NULL;
	sqlite3_reset(st);
	return name;
}

/* What an indicator points at: intrusion sets (directly, or through a
 * campaign or malware attributed to / used by one), campaigns, malware and
 * ATT&CK techniques. */
static void load_related(bw_intel *in, const char *stix_id, related *r)
{
	refs_clear(&r->sets);
	refs_clear(&r->campaigns);
	refs_clear(&r->malware);
	refs_clear(&r->techniques);
	refs_clear(&r->direct);
	if (!stix_id)
		return;
	bw_strvec targets = {0};
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT target_ref FROM relationship WHERE source_ref = ?",
				     "s", stix_id);
	for (; st && rc == SQLITE_ROW && targets.n < 64; rc = sqlite3_step(st))
		bw_strvec_push(&targets, col(st, 0));
	if (st)
		sqlite3_reset(st);
	for (size_t i = 0; i < targets.n; i++) {
		const char *t = targets.v[i];
		if (strncmp(t, "intrusion-set--", 15) == 0) {
			add_set(in, r, t);
			refs_add(&r->direct, t, NULL, NULL);
		} else if (strncmp(t, "attack-pattern--", 16) == 0) {
			st = intel_run(in, &rc, "SELECT name, external_id FROM technique WHERE stix_id = ?", "s", t);
			if (st && rc == SQLITE_ROW)
				refs_add(&r->techniques, t, col(st, 0), col(st, 1));
			if (st)
				sqlite3_reset(st);
		} else if (strncmp(t, "campaign--", 10) == 0 || strncmp(t, "malware--", 9) == 0) {
			char *name = name_of(in, t);
			refs_add(t[0] == 'c' ? &r->campaigns : &r->malware, t, name, NULL);
			free(name);
			/* campaign attributed-to intrusion set; intrusion set uses malware */
			bw_strvec sets = {0};
			st = intel_run(in, &rc,
				       "SELECT target_ref FROM relationship WHERE source_ref = ?"
				       " AND relationship_type = 'attributed-to' AND target_ref LIKE 'intrusion-set--%'"
				       " UNION SELECT source_ref FROM relationship WHERE target_ref = ?"
				       " AND relationship_type = 'uses' AND source_ref LIKE 'intrusion-set--%'",
				       "ss", t, t);
			for (; st && rc == SQLITE_ROW && sets.n < 16; rc = sqlite3_step(st))
				bw_strvec_push(&sets, col(st, 0));
			if (st)
				sqlite3_reset(st);
			for (size_t j = 0; j < sets.n; j++)
				add_set(in, r, sets.v[j]);
			bw_strvec_free(&sets);
		}
	}
	bw_strvec_free(&targets);
	for (size_t i = 0; i < r->sets.n; i++)
		add_techniques_of_set(in, r, r->sets.v[i].stix_id);
}

static void related_free(related *r)
{
	bw_intel_refs *all[] = {&r->sets, &r->campaigns, &r->malware, &r->techniques, &r->direct};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		refs_clear(all[i]);
		free(all[i]->v);
	}
}

static int64_t group_size(bw_intel *in, int64_t indicator, int64_t group)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT count(*) FROM observable WHERE indicator_id = ? AND and_group = ?",
				     "ii", indicator, group);
	int64_t n = st && rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
	if (st)
		sqlite3_reset(st);
	return n;
}

int bw_intel_match(bw_intel *in, bw_obs_type type, const char *value, time_t now,
		   bw_intel_hit_fn fn, void *arg)
{
	int prefix;
	char *norm = bw_obs_normalise(type, value, &prefix);
	if (!norm || prefix >= 0) {
		free(norm);
		return -1;
	}
	ref_list refs = {0};
	candidates(in, type, norm, &refs);
	char when[32];
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	int hits = 0;
	related rel = {0};
	for (size_t i = 0; i < refs.n; i++) {
		int rc;
		sqlite3_stmt *st = intel_run(
			in, &rc,
			"SELECT o.indicator_id, o.value, o.prefix_len, o.and_group, i.stix_id, i.name,"
			" i.source, i.tlp, i.labels, i.created_by, i.pattern, i.kind"
			" FROM observable o JOIN indicator i ON i.id = o.indicator_id"
			" WHERE o.id = ? AND NOT i.revoked AND NOT i.superseded"
			" AND (i.valid_from IS NULL OR i.valid_from <= ?)"
			" AND (i.valid_until IS NULL OR i.valid_until > ?)",
			"iss", refs.v[i], when, when);
		if (!st || rc != SQLITE_ROW) {
			if (st)
				sqlite3_reset(st);
			continue;
		}
		/* copies: load_related reuses the statement cache */
		char *cols[8];
		for (int c = 0; c < 8; c++)
			cols[c] = col(st, 4 + c) ? bw_xstrdup(col(st, 4 + c)) : NULL;
		char *ovalue = bw_xstrdup(col(st, 1));
		bw_intel_hit h = {
			.indicator_id = sqlite3_column_int64(st, 0),
			.observable_id = refs.v[i],
			.value = ovalue,
			.prefix_len = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 2),
			.and_group = sqlite3_column_int64(st, 3),
			.type = type,
		};
		sqlite3_reset(st);
		h.stix_id = cols[0];
		h.name = cols[1];
		h.source = cols[2];
		h.tlp = cols[3];
		h.labels = cols[4];
		h.created_by = cols[5];
		h.pattern = cols[6];
		h.allow = cols[7] && strcmp(cols[7], "allow") == 0;
		h.group_size = h.and_group ? (size_t)group_size(in, h.indicator_id, h.and_group) : 1;
		load_related(in, h.allow ? NULL : h.stix_id, &rel);
		h.intrusion_sets = &rel.sets;
		h.campaigns = &rel.campaigns;
		h.malware = &rel.malware;
		h.techniques = &rel.techniques;
		h.direct_sets = &rel.direct;
		fn(&h, arg);
		hits++;
		for (int c = 0; c < 8; c++)
			free(cols[c]);
		free(ovalue);
	}
	related_free(&rel);
	free(refs.v);
	free(norm);
	return hits;
}
