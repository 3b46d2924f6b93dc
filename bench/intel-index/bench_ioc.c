/* The IOC index against a plain SQLite table with an index, on the same
 * records and lookups (bench/intel-index/run drives it; bench/README.md has
 * the figures). Each lookup step runs in its own process so that resident
 * memory is that of one matcher only. Prints "name value" lines.
 *
 *   bench_ioc build RECORDS.tsv INDEX DB
 *   bench_ioc lookup-index INDEX QUERIES.tsv [PREFIX]
 *   bench_ioc lookup-sqlite DB QUERIES.tsv [PREFIX]
 * PREFIX names the output lines (default "index" or "sqlite"). */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bulwark/ioc_index.h"
#include "bench_common.h"

#define MAX_REFS 16

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* The machine is shared: CPU time of this process is what a lookup costs,
 * wall time also counts the time other processes had the core. */
static double cpu_now(void)
{
	return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_ioc: %s: %s\n", what, detail ? detail : "failed");
	exit(1);
}

/* VmRSS or VmHWM of this process, in MiB */
static double status_mib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	size_t klen = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':')
			kb = strtol(line + klen + 1, NULL, 10);
	if (f)
		fclose(f);
	return (double)kb / 1024.0;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path, "cannot open");
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc(*len + 1);
	if (!b || fread(b, 1, *len, f) != *len)
		die(path, "cannot read");
	b[*len] = '\0';
	fclose(f);
	return b;
}

/* Splits the next TAB-separated field off *p (NUL-terminating it). */
static char *field(char **p, char end)
{
	char *s = *p, *e = strchr(s, end);
	if (!e)
		die("input", "short line");
	*e = '\0';
	*p = e + 1;
	return s;
}

typedef struct queries {
	bw_ioc_type *type;
	const char **value;
	size_t n;
} queries;

static queries load_queries(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len), *p = buf;
	queries q = {0};
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	q.type = malloc(lines * sizeof *q.type);
	q.value = malloc(lines * sizeof *q.value);
	while (*p) {
		q.type[q.n] = (bw_ioc_type)atoi(field(&p, '\t'));
		field(&p, '\t');
		q.value[q.n++] = field(&p, '\n');
	}
	return q; /* buf stays alive for the process */
}

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err);
}

static int build(const char *records, const char *index, const char *dbpath)
{
	size_t len;
	double t0 = now();
	char *buf = slurp(records, &len), *p = buf;
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	bw_ioc_record *recs = malloc(lines * sizeof *recs);
	size_t n = 0;
	while (*p) {
		bw_ioc_record *r = &recs[n++];
		r->type = (bw_ioc_type)atoi(field(&p, '\t'));
		r->prefix_len = (uint8_t)atoi(field(&p, '\t'));
		r->ref = strtoull(field(&p, '\t'), NULL, 10);
		r->value = field(&p, '\n');
	}
	printf("records %zu\nrecords_read_s %.2f\n", n, now() - t0);

	t0 = now();
	char *err = NULL;
	if (bw_ioc_index_write(index, recs, n, &err) != 0)
		die(index, err);
	printf("index_write_s %.2f\n", now() - t0);

	t0 = now();
	unlink(dbpath);
	sqlite3 *db;
	if (sqlite3_open(dbpath, &db) != SQLITE_OK)
		die(dbpath, sqlite3_errmsg(db));
	sql_exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		     "CREATE TABLE ioc(type INTEGER NOT NULL, value TEXT NOT NULL, ref INTEGER NOT NULL);"
		     "CREATE TABLE ip_prefix(type INTEGER NOT NULL, prefix INTEGER NOT NULL,"
		     " PRIMARY KEY(type, prefix)) WITHOUT ROWID; BEGIN");
	sqlite3_stmt *ins;
	sqlite3_prepare_v2(db, "INSERT INTO ioc VALUES(?, ?, ?)", -1, &ins, NULL);
	unsigned char present[2][129] = {{0}};
	for (size_t i = 0; i < n; i++) {
		char ip[80];
		const char *v = recs[i].value;
		if (recs[i].type == BW_IOC_IPV4 || recs[i].type == BW_IOC_IPV6) {
			snprintf(ip, sizeof ip, "%s/%u", v, recs[i].prefix_len);
			present[recs[i].type == BW_IOC_IPV6][recs[i].prefix_len] = 1;
			v = ip;
		}
		sqlite3_bind_int(ins, 1, (int)recs[i].type);
		sqlite3_bind_text(ins, 2, v, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)recs[i].ref);
		if (sqlite3_step(ins) != SQLITE_DONE)
			die(dbpath, sqlite3_errmsg(db));
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	for (int v6 = 0; v6 < 2; v6++)
		for (int pl = 0; pl <= 128; pl++)
			if (present[v6][pl]) {
				char sql[128];
				snprintf(sql, sizeof sql, "INSERT INTO ip_prefix VALUES(%d, %d)",
					 v6 ? BW_IOC_IPV6 : BW_IOC_IPV4, pl);
				sql_exec(db, sql);
			}
	sql_exec(db, "COMMIT");
	printf("sqlite_insert_s %.2f\n", now() - t0);
	double t1 = now();
	sql_exec(db, "CREATE INDEX ioc_type_value ON ioc(type, value)");
	printf("sqlite_index_s %.2f\nsqlite_build_s %.2f\n", now() - t1, now() - t0);
	sqlite3_close(db);
	free(recs);
	free(buf);
	return 0;
}

/* ---- lookups ---- */

typedef struct sql_matcher {
	sqlite3 *db;
	sqlite3_stmt *sel;
	int prefixes[2][129];
	int nprefixes[2];
} sql_matcher;

static size_t sql_probe(sql_matcher *m, bw_ioc_type type, const char *value, size_t len)
{
	size_t n = 0;
	sqlite3_bind_int(m->sel, 1, (int)type);
	sqlite3_bind_text(m->sel, 2, value, (int)len, SQLITE_STATIC);
	while (sqlite3_step(m->sel) == SQLITE_ROW)
		n++;
	sqlite3_reset(m->sel);
	return n;
}

/* The same semantics as bw_ioc_index_lookup on generated data: a domain and
 * its parents; an address against each prefix length present. */
static size_t sql_lookup(sql_matcher *m, bw_ioc_type type, const char *value)
{
	if (type == BW_IOC_DOMAIN) {
		size_t n = 0;
		for (const char *s = value; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL)
			n += sql_probe(m, type, s, strlen(s));
		return n;
	}
	if (type == BW_IOC_IPV4 || type == BW_IOC_IPV6) {
		int v6 = type == BW_IOC_IPV6, af = v6 ? AF_INET6 : AF_INET;
		unsigned char addr[16], masked[16];
		if (inet_pton(af, value, addr) != 1)
			return 0;
		size_t n = 0;
		for (int i = 0; i < m->nprefixes[v6]; i++) {
			char text[INET6_ADDRSTRLEN + 8];
			memcpy(masked, addr, 16);
			mask_bytes(masked, v6 ? 16 : 4, (unsigned)m->prefixes[v6][i]);
			inet_ntop(af, masked, text, sizeof text);
			size_t tl = strlen(text);
			tl += (size_t)snprintf(text + tl, sizeof text - tl, "/%d", m->prefixes[v6][i]);
			n += sql_probe(m, type, text, tl);
		}
		return n;
	}
	return sql_probe(m, type, value, strlen(value));
}

static void sql_open(sql_matcher *m, const char *path)
{
	if (sqlite3_open_v2(path, &m->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die(path, sqlite3_errmsg(m->db));
	sqlite3_stmt *st;
	sqlite3_prepare_v2(m->db, "SELECT type, prefix FROM ip_prefix ORDER BY prefix DESC", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int v6 = sqlite3_column_int(st, 0) == BW_IOC_IPV6;
		m->prefixes[v6][m->nprefixes[v6]++] = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(m->db, "SELECT ref FROM ioc WHERE type = ? AND value = ?", -1, &m->sel,
			       NULL) != SQLITE_OK)
		die(path, sqlite3_errmsg(m->db));
}

static int measure(bool sql, const char *what, const char *path, const char *qpath)
{
	queries q = load_queries(qpath);
	double rss_before = status_mib("VmRSS");
	bw_ioc_index *ix = NULL;
	sql_matcher m = {0};
	double t0 = now();
	if (sql) {
		sql_open(&m, path);
	} else {
		char *err = NULL;
		ix = bw_ioc_index_open(path, &err);
		if (!ix)
			die(path, err);
	}
	double open_s = now() - t0;
	double rss_open = status_mib("VmRSS");

	size_t matches = 0, matched = 0;
	uint64_t refs[MAX_REFS];
	t0 = now();
	double c0 = cpu_now();
	for (size_t i = 0; i < q.n; i++) {
		size_t k = sql ? sql_lookup(&m, q.type[i], q.value[i])
			       : bw_ioc_index_lookup(ix, q.type[i], q.value[i], refs, MAX_REFS);
		matches += k;
		matched += k > 0;
	}
	double lookup_s = now() - t0, lookup_cpu_s = cpu_now() - c0;
	printf("%s_open_s %.6f\n", what, open_s);
	printf("%s_lookups %zu\n%s_lookup_s %.3f\n%s_lookups_per_s %.0f\n", what, q.n, what, lookup_s,
	       what, (double)q.n / lookup_s);
	printf("%s_lookup_cpu_s %.3f\n%s_lookups_per_cpu_s %.0f\n", what, lookup_cpu_s, what,
	       (double)q.n / lookup_cpu_s);
	printf("%s_matched_queries %zu\n%s_matches %zu\n", what, matched, what, matches);
	printf("%s_rss_queries_mib %.1f\n%s_rss_after_open_mib %.1f\n", what, rss_before, what, rss_open);
	printf("%s_rss_after_lookups_mib %.1f\n%s_hwm_mib %.1f\n", what, status_mib("VmRSS"), what,
	       status_mib("VmHWM"));
	if (sql) {
		sqlite3_finalize(m.sel);
		sqlite3_close(m.db);
	} else {
		bw_ioc_index_close(ix);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "build") == 0)
		return build(argv[2], argv[3], argv[4]);
	bool sql = argc >= 2 && strcmp(argv[1], "lookup-sqlite") == 0;
	if ((argc == 4 || argc == 5) && (sql || strcmp(argv[1], "lookup-index") == 0))
		return measure(sql, argc == 5 ? argv[4] : sql ? "sqlite" : "index", argv[2], argv[3]);
	fprintf(stderr, "usage: bench_ioc build RECORDS.tsv INDEX DB\n"
			"       bench_ioc lookup-index INDEX QUERIES.tsv [PREFIX]\n"
			"       bench_ioc lookup-sqlite DB QUERIES.tsv [PREFIX]\n");
	return 2;
}
