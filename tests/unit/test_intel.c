/* Unit tests for the intel store (src/intel): the STIX pattern parser, each
 * importer (idempotence, one transaction per file), matching through SQLite
 * and through the memory-mapped index, and the INTEL_MATCH detector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/engine.h"
#include "bulwark/intel.h"
#include "bulwark/mail.h"
#include "bulwark/stix_pattern.h"
#include "helpers.h"

static char *tmpdir;

static char *write_file(const char *name, const char *text)
{
	char *p = g_build_filename(tmpdir, name, NULL);
	char *dir = g_path_get_dirname(p);
	g_mkdir_with_parents(dir, 0700);
	g_free(dir);
	assert_true(g_file_set_contents(p, text, -1, NULL));
	return p;
}

/* ---- pattern parser ---- */

static bw_pattern parse_ok(const char *s)
{
	bw_pattern p;
	char *err = NULL;
	if (bw_stix_pattern_parse(s, &p, &err) != 0)
		fail_msg("%s: %s", s, err);
	return p;
}

static char *parse_err(const char *s)
{
	bw_pattern p;
	char *err = NULL;
	assert_int_equal(bw_stix_pattern_parse(s, &p, &err), -1);
	assert_non_null(err);
	return err;
}

static void test_pattern_single(void **state)
{
	bw_pattern p = parse_ok("[domain-name:value = 'Evil.Example.']");
	assert_int_equal(p.n, 1);
	assert_int_equal(p.conj[0].n, 1);
	assert_int_equal(p.conj[0].terms[0].type, BW_OBS_DOMAIN);
	assert_string_equal(p.conj[0].terms[0].value, "evil.example");
	assert_int_equal(p.dropped, 0);
	bw_pattern_free(&p);

	p = parse_ok("[file:hashes.'SHA-256' = 'EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C']");
	assert_int_equal(p.conj[0].terms[0].type, BW_OBS_SHA256);
	assert_string_equal(p.conj[0].terms[0].value,
			    "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c");
	bw_pattern_free(&p);

	p = parse_ok("[email-message:from_ref.value = 'Boss@Corp.Example']");
	assert_int_equal(p.conj[0].terms[0].type, BW_OBS_EMAIL);
	assert_string_equal(p.conj[0].terms[0].value, "boss@corp.example");
	bw_pattern_free(&p);

	p = parse_ok("[file:name = 'It\\'s.exe']");
	assert_int_equal(p.conj[0].terms[0].type, BW_OBS_FILENAME);
	assert_string_equal(p.conj[0].terms[0].value, "it's.exe");
	bw_pattern_free(&p);
}

static void test_pattern_or_and(void **state)
{
	bw_pattern p = parse_ok("[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.1']");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.conj[1].terms[0].type, BW_OBS_IPV4);
	assert_int_equal(p.conj[1].terms[0].prefix_len, -1);
	bw_pattern_free(&p);

	/* AND binds tighter than OR */
	p = parse_ok("[email-message:from_ref.value = 'x@y.example' AND email-message:subject = 'Hi'"
		     " OR url:value = 'http://u.example/p']");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.conj[0].n, 2);
	assert_int_equal(p.conj[0].terms[1].type, BW_OBS_SUBJECT);
	assert_int_equal(p.conj[1].n, 1);
	assert_string_equal(p.conj[1].terms[0].value, "http://u.example/p");
	bw_pattern_free(&p);

	/* parentheses and observation-level AND multiply out */
	p = parse_ok("([domain-name:value = 'a.example'] OR [domain-name:value = 'b.example'])"
		     " AND [file:name = 'x.doc']");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.conj[0].n, 2);
	assert_string_equal(p.conj[0].terms[0].value, "a.example");
	assert_string_equal(p.conj[1].terms[0].value, "b.example");
	assert_string_equal(p.conj[1].terms[1].value, "x.doc");
	bw_pattern_free(&p);

	p = parse_ok("[file:hashes.MD5 IN ('00000000000000000000000000000001', '00000000000000000000000000000002')]");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.conj[1].terms[0].type, BW_OBS_MD5);
	bw_pattern_free(&p);
}

static void test_pattern_cidr(void **state)
{
	bw_pattern p = parse_ok("[ipv4-addr:value ISSUBSET '198.51.100.7/24']");
	assert_int_equal(p.n, 1);
	assert_string_equal(p.conj[0].terms[0].value, "198.51.100.0");
	assert_int_equal(p.conj[0].terms[0].prefix_len, 24);
	bw_pattern_free(&p);

	p = parse_ok("[ipv6-addr:value = '2001:DB8:0:0::1/32']");
	assert_string_equal(p.conj[0].terms[0].value, "2001:db8::");
	assert_int_equal(p.conj[0].terms[0].prefix_len, 32);
	bw_pattern_free(&p);
}

static void test_pattern_unsupported(void **state)
{
	bw_pattern p = parse_ok("[email-message:subject MATCHES '^[IMPORTANT] Please']");
	assert_int_equal(p.n, 0);
	assert_int_equal(p.dropped, 1);
	assert_non_null(strstr(p.unsupported, "MATCHES"));
	bw_pattern_free(&p);

	/* partly evaluable: the domain stays */
	p = parse_ok("[domain-name:value = 'a.example' OR x509-certificate:issuer = 'CN=x']");
	assert_int_equal(p.n, 1);
	assert_int_equal(p.dropped, 1);
	assert_non_null(strstr(p.unsupported, "x509-certificate:issuer"));
	bw_pattern_free(&p);

	/* an unevaluable conjunct drops the whole conjunction */
	p = parse_ok("[domain-name:value = 'a.example' AND NOT file:name = 'x']");
	assert_int_equal(p.n, 0);
	bw_pattern_free(&p);

	p = parse_ok("[domain-name:value = 'a.example'] REPEATS 5 TIMES WITHIN 10 SECONDS");
	assert_int_equal(p.n, 0);
	assert_non_null(strstr(p.unsupported, "qualifier"));
	bw_pattern_free(&p);

	p = parse_ok("[domain-name:value = 'a.example'] FOLLOWEDBY [file:name = 'x']");
	assert_int_equal(p.n, 0);
	assert_string_equal(p.unsupported, "FOLLOWEDBY");
	bw_pattern_free(&p);

	p = parse_ok("[ipv4-addr:value = 'not an address']");
	assert_int_equal(p.n, 0);
	assert_non_null(strstr(p.unsupported, "not a valid ipv4"));
	bw_pattern_free(&p);

	p = parse_ok("[network-traffic:dst_port > 1024 AND file:size <= 10]");
	assert_int_equal(p.n, 0);
	bw_pattern_free(&p);

	/* every distinct construct is named, not only the first */
	p = parse_ok("[domain-name:value LIKE '%.bad'] OR [process:name = 'x.exe'] OR "
		     "[domain-name:value = 'partial-test.example'] OR [domain-name:value LIKE '%.worse']");
	assert_int_equal(p.n, 1);
	assert_int_equal(p.dropped, 3);
	assert_string_equal(p.unsupported, "domain-name:value LIKE; process:name =");
	bw_pattern_free(&p);
}

static void test_pattern_malformed(void **state)
{
	static const struct {
		const char *pattern, *error;
	} cases[] = {
		{"[domain-name:value = 'a.example'", "offset 32: expected ']' to close the observation"},
		{"[domain-name:value = 'a.example]", "offset 21: unterminated string literal"},
		{"[domain-name:'unterminated path", "offset 13: unterminated string literal"},
		{"[domain-name value = 'x']", "offset 13: expected ':' after the object type"},
		{"[domain-name:value ~ 'x']", "offset 19: unexpected character '~'"},
		{"[domain-name:value = 'x'] garbage", "offset 26: unexpected text after the pattern"},
		{"", "offset 0: expected '[' or '('"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *e = parse_err(cases[i].pattern);
		assert_string_equal(e, cases[i].error);
		free(e);
	}
	char *e = parse_err("[file:name = 'a\\x']");
	assert_non_null(strstr(e, "invalid escape"));
	free(e);

	/* hostile: deep nesting and exploding products are refused, not run */
	bw_buf b = {0};
	for (int i = 0; i < 200; i++)
		bw_buf_putc(&b, '(');
	bw_buf_puts(&b, "[file:name = 'x']");
	for (int i = 0; i < 200; i++)
		bw_buf_putc(&b, ')');
	e = parse_err(b.data);
	assert_non_null(strstr(e, "nested deeper"));
	free(e);
	bw_buf_reset(&b);
	for (int i = 0; i < 12; i++)
		bw_buf_printf(&b, "%s([file:name = 'a%d'] OR [file:name = 'b%d'])", i ? " AND " : "", i, i);
	e = parse_err(b.data);
	assert_non_null(strstr(e, "alternatives"));
	free(e);
	bw_buf_free(&b);
}

/* ---- importers and matching ---- */

static const char bundle[] =
	"{\"type\": \"bundle\", \"id\": \"bundle--1\", \"objects\": [\n"
	" {\"type\": \"identity\", \"id\": \"identity--1\", \"name\": \"National CERT\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--dom\", \"modified\": \"2024-01-01T00:00:00.000Z\","
	"  \"created_by_ref\": \"identity--1\", \"labels\": [\"malicious-activity\"], \"name\": \"C2 domain\","
	"  \"object_marking_refs\": [\"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421\"],"
	"  \"pattern\": \"[domain-name:value = 'evil.example']\", \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--net\", \"modified\": \"2024-01-01T00:00:00Z\","
	"  \"pattern\": \"[ipv4-addr:value ISSUBSET '198.51.100.0/24']\", \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--and\", \"modified\": \"2024-01-01T00:00:00Z\","
	"  \"pattern\": \"[email-message:from_ref.value = 'boss@corp.example' AND email-message:subject = 'Wire now']\","
	"  \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--old\", \"modified\": \"2024-01-01T00:00:00Z\","
	"  \"pattern\": \"[domain-name:value = 'expired.example']\", \"valid_from\": \"2020-01-01T00:00:00Z\","
	"  \"valid_until\": \"2021-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--rev\", \"modified\": \"2024-01-01T00:00:00Z\", \"revoked\": true,"
	"  \"pattern\": \"[domain-name:value = 'revoked.example']\", \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--rx\", \"modified\": \"2024-01-01T00:00:00Z\","
	"  \"pattern\": \"[file:name MATCHES '.*']\", \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"indicator\", \"id\": \"indicator--good\", \"modified\": \"2024-01-01T00:00:00Z\","
	"  \"pattern\": \"[domain-name:value = 'shared.example']\", \"valid_from\": \"2020-01-01T00:00:00Z\"},\n"
	" {\"type\": \"intrusion-set\", \"id\": \"intrusion-set--1\", \"name\": \"Example Set\", \"aliases\": [\"EXSET\"],"
	"  \"external_references\": [{\"source_name\": \"mitre-attack\", \"external_id\": \"G9999\"}]},\n"
	" {\"type\": \"attack-pattern\", \"id\": \"attack-pattern--1\", \"name\": \"Spearphishing Link\","
	"  \"external_references\": [{\"source_name\": \"mitre-attack\", \"external_id\": \"T1566.002\"}]},\n"
	" {\"type\": \"relationship\", \"id\": \"relationship--1\", \"relationship_type\": \"indicates\","
	"  \"source_ref\": \"indicator--dom\", \"target_ref\": \"intrusion-set--1\"},\n"
	" {\"type\": \"relationship\", \"id\": \"relationship--2\", \"relationship_type\": \"uses\","
	"  \"source_ref\": \"intrusion-set--1\", \"target_ref\": \"attack-pattern--1\"}\n"
	"]}\n";

static char *db_path(const char *name)
{
	char *p = g_build_filename(tmpdir, name, NULL);
	unlink(p);
	char *idx = g_strconcat(p, ".idx", NULL);
	unlink(idx);
	g_free(idx);
	return p;
}

static bw_intel *open_db(const char *path)
{
	char *err = NULL;
	bw_intel *in = bw_intel_open(path, true, &err);
	if (!in)
		fail_msg("%s", err);
	return in;
}

static void import_ok(bw_intel *in, const char *path, bw_intel_summary *sum)
{
	char *err = NULL;
	if (bw_intel_import(in, path, NULL, NULL, sum, &err) != 0)
		fail_msg("%s", err);
}

/* An import that must fail, and its error (the caller frees it). */
static char *import_err(bw_intel *in, const char *path)
{
	bw_intel_summary sum;
	char *err = NULL;
	assert_int_equal(bw_intel_import(in, path, NULL, NULL, &sum, &err), -1);
	assert_non_null(err);
	bw_intel_summary_free(&sum);
	return err;
}

typedef struct hits {
	int n, allow;
	char last_value[256], last_stix[128], last_tlp[32], last_by[64];
	size_t sets, techniques, group; /* group: observables of its AND group (1: none) */
	char last_source[64];
	char technique[32];
} hits;

static void collect(const bw_intel_hit *h, void *arg)
{
	hits *r = arg;
	r->n++;
	r->allow += h->allow;
	snprintf(r->last_value, sizeof r->last_value, "%s", h->value);
	snprintf(r->last_stix, sizeof r->last_stix, "%s", h->stix_id ? h->stix_id : "");
	snprintf(r->last_tlp, sizeof r->last_tlp, "%s", h->tlp ? h->tlp : "");
	snprintf(r->last_by, sizeof r->last_by, "%s", h->created_by ? h->created_by : "");
	r->sets = h->intrusion_sets->n;
	r->group = h->group_size;
	snprintf(r->last_source, sizeof r->last_source, "%s", h->source);
	r->techniques = h->techniques->n;
	if (h->techniques->n)
		snprintf(r->technique, sizeof r->technique, "%s", h->techniques->v[0].external_id);
}

static hits match_at(bw_intel *in, bw_obs_type t, const char *v, time_t now)
{
	hits r = {0};
	bw_intel_match(in, t, v, now, collect, &r);
	return r;
}

static hits match(bw_intel *in, bw_obs_type t, const char *v)
{
	return match_at(in, t, v, time(NULL));
}

static void check_matching(bw_intel *in)
{
	hits r = match(in, BW_OBS_DOMAIN, "a.b.Evil.Example");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.last_value, "evil.example");
	assert_string_equal(r.last_stix, "indicator--dom");
	assert_string_equal(r.last_tlp, "amber");
	assert_string_equal(r.last_by, "National CERT");
	assert_int_equal(r.sets, 1);
	assert_int_equal(r.techniques, 1);
	assert_string_equal(r.technique, "T1566.002");
	assert_int_equal(match(in, BW_OBS_DOMAIN, "notevil.example").n, 0);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "example").n, 0);

	r = match(in, BW_OBS_IPV4, "198.51.100.77");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.last_value, "198.51.100.0");
	assert_int_equal(match(in, BW_OBS_IPV4, "198.51.101.1").n, 0);

	/* validity window and revocation */
	assert_int_equal(match(in, BW_OBS_DOMAIN, "expired.example").n, 0);
	assert_int_equal(match_at(in, BW_OBS_DOMAIN, "expired.example", 1577923200 /* 2020-01-02 */).n, 1);
	assert_int_equal(match_at(in, BW_OBS_DOMAIN, "evil.example", 1500000000 /* 2017 */).n, 0);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "revoked.example").n, 0);
}

static void test_import_stix_and_match(void **state)
{
	char *db = db_path("stix.db");
	char *f = write_file("bundle.json", bundle);
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	import_ok(in, f, &sum);
	assert_string_equal(sum.format, "stix");
	assert_int_equal(sum.indicators, 7);
	assert_int_equal(sum.observables, 7); /* the AND pattern has two */
	assert_int_equal(sum.unsupported, 1);
	assert_non_null(strstr(sum.unsupported_list.v[0], "indicator--rx"));
	assert_int_equal(sum.intrusion_sets, 1);
	assert_int_equal(sum.set_techniques, 1);
	bw_intel_summary_free(&sum);

	check_matching(in); /* SQLite */
	assert_false(bw_intel_uses_index(in));
	char *err = NULL;
	assert_int_equal(bw_intel_build_index(in, &err), 0);
	assert_true(bw_intel_uses_index(in));
	check_matching(in); /* the index */

	/* idempotent */
	import_ok(in, f, &sum);
	assert_int_equal(sum.indicators, 0);
	assert_int_equal(sum.observables, 0);
	assert_int_equal(sum.duplicates, 7);
	assert_int_equal(sum.relationships, 0);
	bw_intel_summary_free(&sum);
	bw_intel_stats st;
	assert_int_equal(bw_intel_get_stats(in, &st, &err), 0);
	assert_int_equal(st.indicators, 7);
	assert_int_equal(st.observables, 7);

	/* a newer version that revokes it replaces it */
	char *v2 = write_file("bundle-v2.json",
			      "{\"type\": \"indicator\", \"id\": \"indicator--dom\", \"modified\": \"2025-01-01T00:00:00Z\","
			      " \"revoked\": true, \"pattern\": \"[domain-name:value = 'evil.example']\","
			      " \"valid_from\": \"2020-01-01T00:00:00Z\"}");
	import_ok(in, v2, &sum);
	assert_int_equal(sum.indicators, 1);
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "evil.example").n, 0);
	bw_intel_close(in);
	g_free(v2);
	g_free(f);
	g_free(db);
}

static void test_import_malformed_imports_nothing(void **state)
{
	char *db = db_path("bad.db");
	bw_intel *in = open_db(db);
	char *f = write_file("broken.json", "{\"type\": \"bundle\", \"objects\": [\n"
					    "  {\"type\": \"indicator\", \"id\": \"indicator--a\",\n"
					    "   \"pattern\": \"[domain-name:value = 'a.example']\" \"oops\"}]}\n");
	char *err = import_err(in, f);
	assert_non_null(strstr(err, f));
	assert_non_null(strstr(err, "line 3"));
	free(err);

	/* valid JSON, but the second object is broken: the first is rolled back */
	char *g = write_file("half.json", "{\"type\": \"bundle\", \"objects\": [\n"
					  "  {\"type\": \"indicator\", \"id\": \"indicator--a\", \"modified\": \"2024-01-01T00:00:00Z\","
					  "   \"pattern\": \"[domain-name:value = 'a.example']\"},\n"
					  "  {\"type\": \"indicator\", \"id\": \"indicator--b\"}]}\n");
	err = import_err(in, g);
	assert_non_null(strstr(err, "objects[1]"));
	assert_non_null(strstr(err, "indicator--b"));
	free(err);
	bw_intel_stats st;
	assert_int_equal(bw_intel_get_stats(in, &st, &err), 0);
	assert_int_equal(st.indicators, 0);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "a.example").n, 0);

	char *l = write_file("binary.txt", "evil.example\n\xff\xfe\n");
	err = import_err(in, l);
	assert_non_null(strstr(err, "line 2"));
	free(err);
	assert_int_equal(bw_intel_get_stats(in, &st, &err), 0);
	assert_int_equal(st.indicators, 0);
	bw_intel_close(in);
	g_free(f);
	g_free(g);
	g_free(l);
	g_free(db);
}

static void test_import_misp_lists_galaxy(void **state)
{
	char *db = db_path("misp.db");
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	char *b = write_file("b2.json", bundle);
	import_ok(in, b, &sum);
	bw_intel_summary_free(&sum);

	write_file("feed/manifest.json", "{\"5f0c0000-0000-0000-0000-000000000001\": {\"info\": \"Phish wave\"}}");
	write_file("feed/5f0c0000-0000-0000-0000-000000000001.json",
		   "{\"Event\": {\"uuid\": \"5f0c0000-0000-0000-0000-000000000001\", \"info\": \"Phish wave\","
		   " \"Orgc\": {\"name\": \"Partner CERT\"}, \"Tag\": [{\"name\": \"tlp:green\"}],"
		   " \"Galaxy\": [{\"type\": \"threat-actor\", \"GalaxyCluster\": [{\"value\": \"EXSET\"}]}],"
		   " \"Attribute\": ["
		   "  {\"uuid\": \"a1\", \"type\": \"ip-dst\", \"value\": \"203.0.113.9\", \"to_ids\": true, \"timestamp\": \"1700000000\"},"
		   "  {\"uuid\": \"a2\", \"type\": \"email-src\", \"value\": \"Phisher@Bad.Example\", \"to_ids\": true, \"timestamp\": \"1700000000\"},"
		   "  {\"uuid\": \"a3\", \"type\": \"filename|md5\", \"value\": \"inv.doc|0123456789abcdef0123456789abcdef\", \"to_ids\": true, \"timestamp\": \"1700000000\"},"
		   "  {\"uuid\": \"a4\", \"type\": \"domain\", \"value\": \"context.example\", \"to_ids\": false, \"timestamp\": \"1700000000\"},"
		   "  {\"uuid\": \"a5\", \"type\": \"regkey\", \"value\": \"HKLM\\\\x\", \"to_ids\": true, \"timestamp\": \"1700000000\"}],"
		   " \"Object\": [{\"Attribute\": [{\"uuid\": \"a6\", \"type\": \"url\", \"value\": \"HTTP://Bad.Example/login\", \"to_ids\": true, \"timestamp\": \"1700000000\"}]}]"
		   "}}");
	char *feed = g_build_filename(tmpdir, "feed", NULL);
	import_ok(in, feed, &sum);
	assert_string_equal(sum.format, "misp-feed");
	assert_int_equal(sum.indicators, 4);
	assert_int_equal(sum.observables, 5); /* filename|md5 gives two */
	assert_int_equal(sum.unsupported, 2); /* regkey, and one not to_ids */
	bw_intel_summary_free(&sum);
	hits r = match(in, BW_OBS_IPV4, "203.0.113.9");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.last_tlp, "green");
	assert_string_equal(r.last_by, "Partner CERT");
	assert_int_equal(r.sets, 1); /* through the threat-actor galaxy, by alias */
	assert_int_equal(match(in, BW_OBS_EMAIL, "phisher@bad.example").n, 1);
	/* filename|md5: the name and the hash of one file, an AND group */
	r = match(in, BW_OBS_MD5, "0123456789ABCDEF0123456789ABCDEF");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.group, 2);
	r = match(in, BW_OBS_FILENAME, "INV.DOC");
	assert_int_equal(r.n, 1);
	assert_int_equal(r.group, 2);
	assert_int_equal(match(in, BW_OBS_URL, "http://bad.example/login").n, 1);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "context.example").n, 0);
	import_ok(in, feed, &sum);
	assert_int_equal(sum.indicators, 0);
	assert_int_equal(sum.duplicates, 4);
	bw_intel_summary_free(&sum);

	char *wl = write_file("wl.json", "{\"name\": \"Known good\", \"version\": 3, \"type\": \"hostname\","
					 " \"list\": [\"shared.example\", \"cdn.example\", \"bad entry!\"]}");
	import_ok(in, wl, &sum);
	assert_string_equal(sum.format, "warninglist");
	assert_int_equal(sum.observables, 2);
	assert_int_equal(sum.unsupported, 1);
	bw_intel_summary_free(&sum);
	r = match(in, BW_OBS_DOMAIN, "www.shared.example");
	assert_int_equal(r.n, 2);
	assert_int_equal(r.allow, 1);

	char *csv = write_file("iocs.csv", "# partner list\ntype,value,comment\n"
					   "ip-dst,192.0.2.200,scanner\nsha256,"
					   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,dropper\n"
					   "mutex,xyz,unknown type\n"
					   "filename|sha1,a.scr|0123456789abcdef0123456789abcdef01234567,both\n"
					   "filename|sha1,b.scr|not-a-hash,neither\n");
	import_ok(in, csv, &sum);
	assert_string_equal(sum.format, "list");
	assert_int_equal(sum.indicators, 3);
	assert_int_equal(sum.observables, 4);
	assert_int_equal(sum.unsupported, 2);
	assert_int_equal(match(in, BW_OBS_FILENAME, "a.scr").group, 2);
	assert_int_equal(match(in, BW_OBS_FILENAME, "b.scr").n, 0);
	bw_intel_summary_free(&sum);
	char *plain = write_file("plain.txt", "198.18.0.0/15\nwww.Plain.Example\nreport.exe\n"
					      "x@plain.example\nhttps://plain.example/a\n??\n");
	import_ok(in, plain, &sum);
	assert_int_equal(sum.indicators, 5);
	assert_int_equal(sum.unsupported, 1);
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_IPV4, "198.19.1.1").n, 1);
	assert_int_equal(match(in, BW_OBS_FILENAME, "REPORT.EXE").n, 1);
	assert_int_equal(match(in, BW_OBS_SHA256, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").n, 1);

	char *gal = write_file("galaxy.json", "{\"type\": \"threat-actor\", \"uuid\": \"g\", \"values\": ["
					      " {\"value\": \"Example Set\", \"meta\": {\"synonyms\": [\"Foo Panda\", \"EXSET\"]}},"
					      " {\"value\": \"Unrelated\", \"meta\": {\"synonyms\": [\"Bar\"]}}]}");
	import_ok(in, gal, &sum);
	assert_string_equal(sum.format, "galaxy");
	assert_int_equal(sum.aliases_merged, 1); /* Foo Panda; EXSET was there */
	bw_intel_summary_free(&sum);
	bw_intel_close(in);
	g_free(b);
	g_free(feed);
	g_free(wl);
	g_free(csv);
	g_free(plain);
	g_free(gal);
	g_free(db);
}

/* Two CIDRs with the same network address are two indicators: the prefix
 * is part of the list's synthesized id. */
static void test_list_cidr_ids(void **state)
{
	char *db = db_path("cidr.db");
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	char *f = write_file("cidr2.txt", "198.19.0.0/24\n198.19.0.0/16\n198.19.0.0\n");
	import_ok(in, f, &sum);
	assert_int_equal(sum.indicators, 3);
	assert_int_equal(sum.observables, 3);
	assert_int_equal(sum.duplicates, 0);
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_IPV4, "198.19.7.7").n, 1);
	assert_int_equal(match(in, BW_OBS_IPV4, "198.19.0.7").n, 2);
	assert_int_equal(match(in, BW_OBS_IPV4, "198.19.0.0").n, 3);
	import_ok(in, f, &sum);
	assert_int_equal(sum.indicators, 0);
	assert_int_equal(sum.duplicates, 3);
	bw_intel_summary_free(&sum);
	bw_intel_close(in);
	g_free(f);
	g_free(db);
}

/* Galaxy tags link MISP attributes to intrusion sets, and the link is
 * made whichever comes first: the event or the intrusion sets. */
static void test_misp_actor_tags_any_order(void **state)
{
	char *db = db_path("actors.db");
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	char *ev = write_file("actor-event.json",
			      "{\"Event\": {\"uuid\": \"e-actor\", \"info\": \"Router wave\","
			      " \"Tag\": [{\"name\": \"misp-galaxy:threat-actor=\\\"Foo Panda\\\"\"},"
			      "  {\"name\": \"misp-galaxy:threat-actor=\\\"Nobody Known\\\"\"}],"
			      " \"Attribute\": ["
			      "  {\"uuid\": \"t1\", \"type\": \"ip-dst\", \"value\": \"203.0.113.31\", \"to_ids\": true,"
			      "   \"timestamp\": \"1700000000\"},"
			      "  {\"uuid\": \"t2\", \"type\": \"domain\", \"value\": \"g-tag.example\", \"to_ids\": true,"
			      "   \"timestamp\": \"1700000000\","
			      "   \"Tag\": [{\"name\": \"misp-galaxy:mitre-intrusion-set=\\\"Other Set - G9998\\\"\"}]}]}}");
	/* the event first: nothing to link to yet, both names listed */
	import_ok(in, ev, &sum);
	assert_int_equal(sum.indicators, 2);
	assert_int_equal(sum.unknown_actors.n, 2);
	assert_non_null(strstr(sum.unknown_actors.v[0], "Foo Panda"));
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_IPV4, "203.0.113.31").sets, 0);

	/* then the intrusion sets: Foo Panda is an alias of Example Set, the
	 * attribute's own tag names another set by its ATT&CK id */
	char *b = write_file("actor-bundle.json",
			     "{\"type\": \"bundle\", \"id\": \"bundle--a\", \"objects\": ["
			     " {\"type\": \"intrusion-set\", \"id\": \"intrusion-set--1\", \"name\": \"Example Set\","
			     "  \"aliases\": [\"Foo Panda\"]},"
			     " {\"type\": \"intrusion-set\", \"id\": \"intrusion-set--2\", \"name\": \"Second Set\","
			     "  \"external_references\": [{\"source_name\": \"mitre-attack\", \"external_id\": \"G9998\"}]}]}");
	import_ok(in, b, &sum);
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_IPV4, "203.0.113.31").sets, 1);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "g-tag.example").sets, 2);

	/* the other order, in a fresh database */
	bw_intel_close(in);
	g_free(db);
	db = db_path("actors2.db");
	in = open_db(db);
	import_ok(in, b, &sum);
	bw_intel_summary_free(&sum);
	import_ok(in, ev, &sum);
	assert_int_equal(sum.unknown_actors.n, 1);
	assert_non_null(strstr(sum.unknown_actors.v[0], "Nobody Known"));
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_IPV4, "203.0.113.31").sets, 1);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "g-tag.example").sets, 2);
	bw_intel_close(in);
	g_free(b);
	g_free(ev);
	g_free(db);
}

/* Warninglists: one observable per normalised value, named by the list's
 * name; re-importing intrusion sets counts no alias as merged again. */
static void test_warninglist_and_alias_reimport(void **state)
{
	char *db = db_path("wl2.db");
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	char *wl = write_file("lists/google/list.json",
			      "{\"name\": \"Google domains\", \"version\": 1, \"type\": \"hostname\","
			      " \"list\": [\".google.ad\", \"google.ad\", \"GOOGLE.AD.\", \"google.ae\"]}");
	import_ok(in, wl, &sum);
	assert_int_equal(sum.observables, 2);
	bw_intel_summary_free(&sum);
	hits r = match(in, BW_OBS_DOMAIN, "www.google.ad");
	assert_int_equal(r.n, 1);
	assert_string_equal(r.last_source, "Google domains"); /* not "list.json" */
	bw_intel_stats st;
	char *err = NULL;
	assert_int_equal(bw_intel_get_stats(in, &st, &err), 0);
	assert_int_equal(st.observables, 2);

	/* ATT&CK-like intrusion set with a galaxy beside it */
	write_file("att/misp-galaxy/threat-actor.json",
		   "{\"values\": [{\"value\": \"Example Set\", \"meta\": {\"synonyms\": [\"Foo Panda\", \"Bar Bear\"]}}]}");
	char *b = write_file("att/sets.json",
			     "{\"type\": \"bundle\", \"id\": \"bundle--s\", \"objects\": ["
			     " {\"type\": \"intrusion-set\", \"id\": \"intrusion-set--1\", \"name\": \"Example Set\","
			     "  \"aliases\": [\"Example Set\", \"EXSET\"]}]}");
	import_ok(in, b, &sum);
	assert_int_equal(sum.aliases_merged, 2);
	bw_intel_summary_free(&sum);
	import_ok(in, b, &sum);
	assert_int_equal(sum.aliases_merged, 0); /* nothing changed */
	bw_intel_summary_free(&sum);
	/* the merged aliases are still there */
	char *ev = write_file("bear.json", "{\"Event\": {\"uuid\": \"e-bear\", \"info\": \"x\","
					   " \"Tag\": [{\"name\": \"misp-galaxy:threat-actor=\\\"Bar Bear\\\"\"}],"
					   " \"Attribute\": [{\"uuid\": \"bb1\", \"type\": \"domain\","
					   " \"value\": \"bear.example\", \"to_ids\": true, \"timestamp\": \"1700000000\"}]}}");
	import_ok(in, ev, &sum);
	assert_int_equal(sum.unknown_actors.n, 0);
	bw_intel_summary_free(&sum);
	assert_int_equal(match(in, BW_OBS_DOMAIN, "bear.example").sets, 1);
	bw_intel_close(in);
	g_free(ev);
	g_free(b);
	g_free(wl);
	g_free(db);
}

/* ---- the detector ---- */

static bw_engine *engine_for(const char *db)
{
	char *conf = g_strdup_printf("[intel]\ndb = %s\ninternal_networks = 203.0.113.0/28\n"
				     "[protected]\noutlets =\n", db);
	bw_engine *e = test_engine_from(conf, NULL);
	g_free(conf);
	assert_non_null(e->intel);
	return e;
}

static const bw_finding *intel_finding(const bw_message *m, const char *needle)
{
	for (size_t i = 0; i < m->nfindings; i++)
		if (strcmp(m->findings[i].id, "INTEL_MATCH") == 0 && strstr(m->findings[i].evidence_json, needle))
			return &m->findings[i];
	return NULL;
}

static void test_detector(void **state)
{
	char *db = db_path("detect.db");
	bw_intel *in = open_db(db);
	bw_intel_summary sum;
	char *f = write_file("b3.json", bundle);
	import_ok(in, f, &sum);
	bw_intel_summary_free(&sum);
	char *wl = write_file("wl2.json", "{\"name\": \"Known good\", \"version\": 1, \"type\": \"hostname\","
					  " \"list\": [\"shared.example\"]}");
	import_ok(in, wl, &sum);
	bw_intel_summary_free(&sum);
	/* MD5 and SHA-1 are computed only for intel matching (bw_part_hash_legacy) */
	char *hashes = write_file("hashes.csv", "type,value\nmd5,ac0cfc164e2a441e73fe5b54ad1aca70\n"
						"sha1,d8e06d90861dcb7c684686619f29b08863386ada\n");
	import_ok(in, hashes, &sum);
	bw_intel_summary_free(&sum);
	bw_intel_close(in);
	bw_engine *e = engine_for(db);

	const char *msg =
		"Received: from mx.inside (mx.inside [203.0.113.2]) by gw.inside; Mon, 1 Jan 2024 00:00:00 +0000\n"
		"Received: from relay.far ([198.51.100.9]) by mx.inside; Mon, 1 Jan 2024 00:00:00 +0000\n"
		"Received: from origin (origin [192.0.2.1]) by relay.far; Mon, 1 Jan 2024 00:00:00 +0000\n"
		"From: Boss <boss@corp.example>\nSubject: Wire now\nTo: a@b.example\n"
		"Content-Type: text/html\n\n"
		"<a href=\"https://login.evil.example/x\">x</a> <a href=\"https://www.shared.example/\">y</a>\n";
	bw_message m = {0};
	bw_engine_scan(e, &m, "t", msg, strlen(msg));
	assert_int_equal(m.nreceived, 3);
	assert_true(m.received[0].internal);
	assert_true(m.received[1].first_external);
	assert_string_equal(m.received[1].ip, "198.51.100.9");
	assert_false(m.received[2].first_external);

	const bw_finding *dom = intel_finding(&m, "indicator--dom");
	assert_non_null(dom);
	assert_int_equal(dom->severity, BW_SEV_HIGH);
	assert_non_null(strstr(dom->evidence_json, "\"where\":\"link 1 host\""));
	assert_non_null(strstr(dom->evidence_json, "\"tlp\":\"amber\""));
	assert_non_null(strstr(dom->evidence_json, "Example Set"));
	assert_int_equal(dom->attack.n, 1);
	assert_string_equal(dom->attack.v[0], "T1566.002");
	const bw_finding *net = intel_finding(&m, "indicator--net");
	assert_non_null(net);
	assert_non_null(strstr(net->evidence_json, "first external hop"));
	const bw_finding *both = intel_finding(&m, "indicator--and");
	assert_non_null(both);
	const bw_finding *good = intel_finding(&m, "indicator--good");
	assert_non_null(good);
	assert_int_equal(good->severity, BW_SEV_LOW);
	assert_non_null(strstr(good->evidence_json, "\"warninglist\":\"Known good\""));
	assert_non_null(strstr(good->evidence_json, "\"downgraded\":true"));
	bw_message_free(&m);

	const char *attached =
		"From: x@y.example\nSubject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
		"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/octet-stream; name=a.bin\n"
		"Content-Transfer-Encoding: base64\n\nTVotYXR0YWNobWVudC1ieXRlcw==\n--b--\n";
	bw_engine_scan(e, &m, "t", attached, strlen(attached));
	assert_non_null(intel_finding(&m, "ac0cfc164e2a441e73fe5b54ad1aca70"));
	assert_non_null(intel_finding(&m, "d8e06d90861dcb7c684686619f29b08863386ada"));
	bw_message_free(&m);

	/* the AND pattern needs both: the sender alone is not enough */
	const char *half = "From: Boss <boss@corp.example>\nSubject: Lunch\n\nhi\n";
	bw_engine_scan(e, &m, "t", half, strlen(half));
	assert_null(intel_finding(&m, "indicator--and"));
	bw_message_free(&m);
	bw_engine_free(e);
	g_free(f);
	g_free(wl);
	g_free(hashes);
	g_free(db);
}

static int setup(void **state)
{
	tmpdir = g_dir_make_tmp("bw-test-intel-XXXXXX", NULL);
	return tmpdir ? 0 : -1;
}

static void rm_rf(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	for (const char *n; d && (n = g_dir_read_name(d));) {
		char *p = g_build_filename(dir, n, NULL);
		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			rm_rf(p);
		else
			unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	rm_rf(tmpdir);
	g_free(tmpdir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pattern_single),
		cmocka_unit_test(test_pattern_or_and),
		cmocka_unit_test(test_pattern_cidr),
		cmocka_unit_test(test_pattern_unsupported),
		cmocka_unit_test(test_pattern_malformed),
		cmocka_unit_test(test_import_stix_and_match),
		cmocka_unit_test(test_import_malformed_imports_nothing),
		cmocka_unit_test(test_import_misp_lists_galaxy),
		cmocka_unit_test(test_detector),
		cmocka_unit_test(test_list_cidr_ids),
		cmocka_unit_test(test_misp_actor_tags_any_order),
		cmocka_unit_test(test_warninglist_and_alias_reimport),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
