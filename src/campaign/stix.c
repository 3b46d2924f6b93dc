/* STIX 2.1 export of campaigns: the institution's identity, each campaign,
 * an indicator per shared indicator with its pattern, a sighting of each by
 * the institution (count, first and last seen), the relationships, and the
 * TLP 2.0 marking. Ids are UUIDv5 of the content and timestamps come from
 * the messages, so exporting the same store twice gives the same bundle. */
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/intel.h"
#include "bulwark/report.h"
#include "campaign/campaign.h"

/* Namespace of Bulwark's ids: UUIDv5(URL namespace, the project's STIX URL). */
static const unsigned char bulwark_ns[16] = {0xb3, 0x8e, 0xcc, 0x15, 0x61, 0x74, 0x52, 0x05,
					     0x99, 0x19, 0x04, 0x12, 0xd9, 0x50, 0xc7, 0x7b};
/* STIX 2.1 section 2.9: the namespace of deterministic SCO ids. */
static const unsigned char sco_ns[16] = {0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c,
					 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7};

/* The official TLP 2.0 marking definitions (OASIS cti-stix-common-objects,
 * extension-definition-specifications/tlp-2.0). */
static const struct tlp {
	const char *level, *id, *name;
} tlps[] = {
	{"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR"},
	{"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN"},
	{"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER"},
	{"amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT"},
	{"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED"},
};
#define TLP2_EXTENSION "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
#define TLP2_CREATED "2022-10-01T00:00:00.000Z"
/* The identity object does not change with what is exported. */
#define IDENTITY_CREATED "2024-01-01T00:00:00.000Z"

/* "type--UUIDv5(ns, name)" (RFC 4122 section 4.3). */
static char *stix_id(const char *type, const unsigned char ns[16], const char *name)
{
	GChecksum *sha1 = g_checksum_new(G_CHECKSUM_SHA1);
	g_checksum_update(sha1, ns, 16);
	g_checksum_update(sha1, (const guchar *)name, (gssize)strlen(name));
	guint8 d[20];
	gsize len = sizeof d;
	g_checksum_get_digest(sha1, d, &len);
	g_checksum_free(sha1);
	d[6] = (guint8)((d[6] & 0x0f) | 0x50);
	d[8] = (guint8)((d[8] & 0x3f) | 0x80);
	bw_buf b = {0};
	bw_buf_printf(&b, "%s--", type);
	for (int i = 0; i < 16; i++)
		bw_buf_printf(&b, "%02x%s", d[i], i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
	return bw_buf_steal(&b);
}

static json_t *time_str(long long t)
{
	bw_buf b = {0};
	bw_format_time(&b, t, false);
	json_t *s = json_string(b.data);
	bw_buf_free(&b);
	return s;
}

/* A STIX pattern string literal: backslash and quote escaped. */
static void pattern_literal(bw_buf *b, const char *v)
{
	bw_buf_putc(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '\'')
			bw_buf_putc(b, '\\');
		bw_buf_putc(b, *p);
	}
	bw_buf_putc(b, '\'');
}

/* The pattern of a shared indicator, and a short name; false when the kind
 * has no STIX pattern. A tracker template becomes its host's domain: the
 * placeholders are ours, not STIX's. */
static bool indicator_pattern(const char *kind, const char *value, bw_buf *pattern, bw_buf *name)
{
	if (strcmp(kind, "tracker-template") == 0) {
		size_t n = strcspn(value, "/?");
		char *host = bw_xstrndup(value, n);
		bool ip = strspn(host, "0123456789.") == n;
		bw_buf_puts(pattern, ip ? "[ipv4-addr:value = " : "[domain-name:value = ");
		pattern_literal(pattern, host);
		bw_buf_printf(name, "Tracker host %s (template %s)", host, value);
		free(host);
	} else if (strcmp(kind, "return-path-domain") == 0 || strcmp(kind, "dkim-domain") == 0 ||
		   strcmp(kind, "link-domain") == 0 || strcmp(kind, "resource-domain") == 0) {
		bool ip = strspn(value, "0123456789.") == strlen(value);
		bw_buf_puts(pattern, ip ? "[ipv4-addr:value = " : "[domain-name:value = ");
		pattern_literal(pattern, value);
		bw_buf_printf(name, "%s %s", kind, value);
	} else if (strcmp(kind, "relay-net") == 0) {
		bw_buf_puts(pattern, strchr(value, ':') ? "[ipv6-addr:value = " : "[ipv4-addr:value = ");
		pattern_literal(pattern, value);
		bw_buf_printf(name, "Sending relay network %s", value);
	} else if (strcmp(kind, "attachment-sha256") == 0) {
		bw_buf_puts(pattern, "[file:hashes.'SHA-256' = ");
		pattern_literal(pattern, value);
		bw_buf_printf(name, "Attachment SHA-256 %s", value);
	} else {
		return false;
	}
	bw_buf_putc(pattern, ']');
	return true;
}

typedef struct exporter {
	sqlite3 *db;
	const bw_config *cfg;
	json_t *objects;
	GHashTable *ids;        /* ids already in the bundle */
	char *identity;
	const struct tlp *tlp;
	json_t *markings;       /* object_marking_refs */
	sqlite3_stmt *summary, *reasons, *sighting, *recipients, *attack;
	sqlite3 *intel;         /* read-only, for technique names; or NULL */
} exporter;

static void add_object(exporter *x, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	if (g_hash_table_contains(x->ids, id)) {
		json_decref(o);
		return;
	}
	g_hash_table_add(x->ids, g_strdup(id));
	json_array_append_new(x->objects, o);
}

/* The common properties of an object we create. */
static json_t *sdo(exporter *x, const char *type, const char *id, long long created, long long modified)
{
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string(type));
	json_object_set_new(o, "spec_version", json_string("2.1"));
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "created", time_str(created));
	json_object_set_new(o, "modified", time_str(modified));
	json_object_set_new(o, "created_by_ref", json_string(x->identity));
	json_object_set(o, "object_marking_refs", x->markings);
	return o;
}

static void add_relationship(exporter *x, const char *src, const char *type, const char *dst,
			     long long created, long long modified)
{
	bw_buf key = {0};
	bw_buf_printf(&key, "%s|%s|%s|%s", x->identity, src, type, dst);
	char *id = stix_id("relationship", bulwark_ns, key.data);
	json_t *r = sdo(x, "relationship", id, created, modified);
	json_object_set_new(r, "relationship_type", json_string(type));
	json_object_set_new(r, "source_ref", json_string(src));
	json_object_set_new(r, "target_ref", json_string(dst));
	add_object(x, r);
	free(id);
	bw_buf_free(&key);
}

static void add_fixed_objects(exporter *x)
{
	const bw_config *cfg = x->cfg;
	const char *name = cfg->institution_name ? cfg->institution_name : "Bulwark user";
	bw_buf key = {0};
	bw_buf_printf(&key, "identity|%s", name);
	x->identity = stix_id("identity", bulwark_ns, key.data);
	bw_buf_free(&key);
	json_t *id = json_object();
	json_object_set_new(id, "type", json_string("identity"));
	json_object_set_new(id, "spec_version", json_string("2.1"));
	json_object_set_new(id, "id", json_string(x->identity));
	json_object_set_new(id, "created", json_string(IDENTITY_CREATED));
	json_object_set_new(id, "modified", json_string(IDENTITY_CREATED));
	json_object_set_new(id, "name", json_string(name));
	json_object_set_new(id, "identity_class",
			    json_string(cfg->institution_class ? cfg->institution_class : "organization"));
	if (cfg->institution_sector)
		json_object_set_new(id, "sectors", json_pack("[s]", cfg->institution_sector));
	if (cfg->institution_contact)
		json_object_set_new(id, "contact_information", json_string(cfg->institution_contact));
	x->markings = json_pack("[s]", x->tlp->id);
	json_object_set(id, "object_marking_refs", x->markings);
	add_object(x, id);

	/* The marking names the official TLP 2.0 extension definition by id, as
	 * its publication says; the definition object itself is not repeated:
	 * the OASIS bundle schema does not list extension-definition and takes
	 * it for an ambiguous custom object. */
	json_t *m = json_object();
	json_object_set_new(m, "type", json_string("marking-definition"));
	json_object_set_new(m, "spec_version", json_string("2.1"));
	json_object_set_new(m, "id", json_string(x->tlp->id));
	json_object_set_new(m, "created", json_string(TLP2_CREATED));
	json_object_set_new(m, "name", json_string(x->tlp->name));
	json_object_set_new(m, "extensions",
			    json_pack("{s:{s:s,s:s}}", TLP2_EXTENSION, "extension_type", "property-extension",
				      "tlp_2_0", x->tlp->level));
	add_object(x, m);
}

/* Names of the techniques our detectors report, for when the intel
 * database (which has them all) is not there. */
static const struct {
	const char *id, *name;
} technique_names[] = {
	{"T1027", "Obfuscated Files or Information"},
	{"T1027.001", "Obfuscated Files or Information: Binary Padding"},
	{"T1027.009", "Obfuscated Files or Information: Embedded Payloads"},
	{"T1027.013", "Obfuscated Files or Information: Encrypted/Encoded File"},
	{"T1036", "Masquerading"},
	{"T1036.002", "Masquerading: Right-to-Left Override"},
	{"T1036.007", "Masquerading: Double File Extension"},
	{"T1036.008", "Masquerading: Masquerade File Type"},
	{"T1059", "Command and Scripting Interpreter"},
	{"T1059.005", "Command and Scripting Interpreter: Visual Basic"},
	{"T1059.007", "Command and Scripting Interpreter: JavaScript"},
	{"T1203", "Exploitation for Client Execution"},
	{"T1204.002", "User Execution: Malicious File"},
	{"T1218.001", "System Binary Proxy Execution: Compiled HTML File"},
	{"T1218.005", "System Binary Proxy Execution: Mshta"},
	{"T1218.007", "System Binary Proxy Execution: Msiexec"},
	{"T1553.005", "Subvert Trust Controls: Mark-of-the-Web Bypass"},
	{"T1566", "Phishing"},
	{"T1566.001", "Phishing: Spearphishing Attachment"},
	{"T1566.002", "Phishing: Spearphishing Link"},
	{"T1585.002", "Establish Accounts: Email Accounts"},
	{"T1598.003", "Phishing for Information: Spearphishing Link"},
	{"T1656", "Impersonation"},
	{"T1672", "Email Spoofing"},
};

/* The technique's name from the intel database when it has it, else the
 * built-in one, else the id. malloc'd. */
static char *technique_name(sqlite3 *intel, const char *t)
{
	sqlite3_stmt *st;
	char *name = NULL;
	if (intel && sqlite3_prepare_v2(intel, "SELECT name FROM technique WHERE external_id=? LIMIT 1", -1, &st,
					NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, t, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			name = bw_xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	for (size_t i = 0; !name && i < sizeof technique_names / sizeof technique_names[0]; i++)
		if (strcmp(technique_names[i].id, t) == 0)
			name = bw_xstrdup(technique_names[i].name);
	return name ? name : bw_xstrdup(t);
}

static int export_campaign(exporter *x, const char *cid, char **error)
{
	sqlite3_bind_text(x->summary, 1, cid, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(x->summary) != SQLITE_ROW || sqlite3_column_int64(x->summary, 0) == 0) {
		sqlite3_reset(x->summary);
		*error = bw_xasprintf("no campaign \"%s\" in the store (run bulwark campaigns)", cid);
		return -1;
	}
	long long n = sqlite3_column_int64(x->summary, 0), first = sqlite3_column_int64(x->summary, 1),
		  last = sqlite3_column_int64(x->summary, 2), flagged = sqlite3_column_int64(x->summary, 3);
	sqlite3_reset(x->summary);

	bw_buf key = {0};
	bw_buf_printf(&key, "campaign|%s|%s", x->identity, cid);
	char *campaign_id = stix_id("campaign", bulwark_ns, key.data);
	json_t *c = sdo(x, "campaign", campaign_id, first, last);
	bw_buf name = {0}, desc = {0};
	bw_buf_printf(&name, "Bulwark campaign %s", cid);
	bw_buf_printf(&desc, "%lld messages (%lld flagged) grouped by Bulwark from mail received by %s; shared indicators:",
		      n, flagged, x->cfg->institution_name ? x->cfg->institution_name : "the exporting institution");
	json_object_set_new(c, "name", json_string(name.data));
	json_object_set_new(c, "first_seen", time_str(first));
	json_object_set_new(c, "last_seen", time_str(last));
	json_object_set_new(c, "objective", json_string("Unknown: observed as e-mail sent to the institution."));

	/* one indicator and one sighting per shared indicator with a pattern */
	sqlite3_bind_text(x->reasons, 1, cid, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(x->reasons) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(x->reasons, 0);
		const char *value = (const char *)sqlite3_column_text(x->reasons, 1);
		bw_buf pattern = {0}, iname = {0};
		if (!indicator_pattern(kind, value, &pattern, &iname)) {
			bw_buf_free(&pattern);
			bw_buf_free(&iname);
			continue;
		}
		bw_buf_printf(&desc, " %s;", iname.data);
		sqlite3_bind_text(x->sighting, 1, kind, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(x->sighting, 2, value, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(x->sighting, 3, cid, -1, SQLITE_TRANSIENT);
		long long count = 0, sfirst = first, slast = last;
		if (sqlite3_step(x->sighting) == SQLITE_ROW && sqlite3_column_int64(x->sighting, 0) > 0) {
			count = sqlite3_column_int64(x->sighting, 0);
			sfirst = sqlite3_column_int64(x->sighting, 1);
			slast = sqlite3_column_int64(x->sighting, 2);
		}
		sqlite3_reset(x->sighting);
		bw_buf_reset(&key);
		bw_buf_printf(&key, "indicator|%s|%s", x->identity, pattern.data);
		char *ind_id = stix_id("indicator", bulwark_ns, key.data);
		json_t *ind = sdo(x, "indicator", ind_id, first, last);
		json_object_set_new(ind, "name", json_string(iname.data));
		json_object_set_new(ind, "indicator_types",
				    json_pack("[s]", flagged ? "malicious-activity" : "anomalous-activity"));
		json_object_set_new(ind, "pattern", json_string(pattern.data));
		json_object_set_new(ind, "pattern_type", json_string("stix"));
		json_object_set_new(ind, "valid_from", time_str(first));
		add_object(x, ind);
		add_relationship(x, ind_id, "indicates", campaign_id, first, last);
		bw_buf_reset(&key);
		bw_buf_printf(&key, "sighting|%s|%s|%s", x->identity, cid, pattern.data);
		char *sig_id = stix_id("sighting", bulwark_ns, key.data);
		json_t *s = sdo(x, "sighting", sig_id, sfirst, slast);
		json_object_set_new(s, "sighting_of_ref", json_string(ind_id));
		json_object_set_new(s, "count", json_integer(count ? count : 1));
		json_object_set_new(s, "first_seen", time_str(sfirst));
		json_object_set_new(s, "last_seen", time_str(slast));
		json_object_set_new(s, "where_sighted_refs", json_pack("[s]", x->identity));
		add_object(x, s);
		free(sig_id);
		free(ind_id);
		bw_buf_free(&pattern);
		bw_buf_free(&iname);
	}
	sqlite3_reset(x->reasons);
	json_object_set_new(c, "description", json_string(desc.data));
	add_object(x, c);

	/* ATT&CK techniques of the findings: the campaign uses them */
	sqlite3_bind_text(x->attack, 1, cid, -1, SQLITE_TRANSIENT);
	bw_strvec techniques = {0};
	while (sqlite3_step(x->attack) == SQLITE_ROW) {
		char **ids = g_strsplit((const char *)sqlite3_column_text(x->attack, 0), ",", -1);
		for (char **t = ids; *t; t++)
			if (**t && !bw_strvec_contains(&techniques, *t))
				bw_strvec_push(&techniques, *t);
		g_strfreev(ids);
	}
	sqlite3_reset(x->attack);
	for (size_t i = 0; i < techniques.n; i++) {
		const char *t = techniques.v[i];
		bw_buf_reset(&key);
		bw_buf_printf(&key, "attack-pattern|%s|%s", x->identity, t);
		char *ap_id = stix_id("attack-pattern", bulwark_ns, key.data);
		json_t *ap = sdo(x, "attack-pattern", ap_id, first, last);
		char *tname = technique_name(x->intel, t);
		json_object_set_new(ap, "name", json_string(tname));
		free(tname);
		bw_buf url = {0};
		bw_buf_puts(&url, "https://attack.mitre.org/techniques/");
		for (const char *p = t; *p; p++) /* T1566.002 -> T1566/002 */
			bw_buf_putc(&url, *p == '.' ? '/' : *p);
		bw_buf_putc(&url, '/');
		json_object_set_new(ap, "external_references",
				    json_pack("[{s:s,s:s,s:s}]", "source_name", "mitre-attack", "external_id", t,
					      "url", url.data));
		bw_buf_free(&url);
		add_object(x, ap);
		add_relationship(x, campaign_id, "uses", ap_id, first, last);
		free(ap_id);
	}
	bw_strvec_free(&techniques);

	/* recipient addresses only when configured, and only those stored in clear */
	if (x->cfg->export_include_recipients) {
		sqlite3_bind_text(x->recipients, 1, cid, -1, SQLITE_TRANSIENT);
		json_t *refs = json_array();
		while (sqlite3_step(x->recipients) == SQLITE_ROW) {
			const char *addr = (const char *)sqlite3_column_text(x->recipients, 0);
			bw_buf canon = {0};
			bw_buf_puts(&canon, "{\"value\":");
			bw_json_string(&canon, addr);
			bw_buf_putc(&canon, '}');
			char *eid = stix_id("email-addr", sco_ns, canon.data);
			bw_buf_free(&canon);
			json_t *e = json_object();
			json_object_set_new(e, "type", json_string("email-addr"));
			json_object_set_new(e, "spec_version", json_string("2.1"));
			json_object_set_new(e, "id", json_string(eid));
			json_object_set_new(e, "value", json_string(addr));
			json_object_set(e, "object_marking_refs", x->markings);
			add_object(x, e);
			json_array_append_new(refs, json_string(eid));
			free(eid);
		}
		sqlite3_reset(x->recipients);
		if (json_array_size(refs)) {
			bw_buf_reset(&key);
			bw_buf_printf(&key, "observed-data|%s|%s", x->identity, cid);
			char *od_id = stix_id("observed-data", bulwark_ns, key.data);
			json_t *od = sdo(x, "observed-data", od_id, first, last);
			json_object_set_new(od, "first_observed", time_str(first));
			json_object_set_new(od, "last_observed", time_str(last));
			json_object_set_new(od, "number_observed", json_integer(n));
			json_object_set(od, "object_refs", refs);
			add_object(x, od);
			add_relationship(x, campaign_id, "related-to", od_id, first, last);
			free(od_id);
		}
		json_decref(refs);
	}
	free(campaign_id);
	bw_buf_free(&key);
	bw_buf_free(&name);
	bw_buf_free(&desc);
	return 0;
}

int bw_export_stix(bw_store *s, const bw_config *cfg, const char *campaign, long long since, FILE *out,
		   char **error)
{
	exporter x = {.db = bw_store_db(s), .cfg = cfg, .objects = json_array()};
	x.ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *level = cfg->export_tlp ? cfg->export_tlp : "amber";
	for (size_t i = 0; i < sizeof tlps / sizeof tlps[0]; i++)
		if (strcmp(tlps[i].level, level) == 0)
			x.tlp = &tlps[i];
	int rc = -1;
	bw_strvec cids = {0};
	sqlite3_stmt *list = NULL;
	if (!x.tlp) {
		*error = bw_xstrdup("[export] tlp is not a TLP 2.0 level");
		goto out;
	}
	char *intel = cfg->intel_db ? bw_xstrdup(cfg->intel_db) : bw_intel_default_path();
	if (sqlite3_open_v2(intel, &x.intel, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(x.intel);
		x.intel = NULL;
	}
	free(intel);
	if (sqlite3_prepare_v2(x.db,
			       "SELECT count(*), min(m.seen), max(m.seen), sum(m.verdict <> 'clean') FROM campaign_member cm"
			       " JOIN message m ON m.id = cm.message WHERE cm.campaign = ?", -1, &x.summary, NULL) ||
	    sqlite3_prepare_v2(x.db, "SELECT kind, value FROM campaign_reason WHERE campaign = ?"
				     " ORDER BY messages DESC, kind, value", -1, &x.reasons, NULL) ||
	    sqlite3_prepare_v2(x.db,
			       "SELECT count(*), min(m.seen), max(m.seen) FROM feature f"
			       " JOIN message_feature mf ON mf.feature = f.id"
			       " JOIN campaign_member cm ON cm.message = mf.message"
			       " JOIN message m ON m.id = mf.message"
			       " WHERE f.kind = ? AND f.value = ? AND cm.campaign = ?", -1, &x.sighting, NULL) ||
	    sqlite3_prepare_v2(x.db,
			       "SELECT DISTINCT r.address FROM recipient r JOIN campaign_member cm ON cm.message = r.message"
			       " WHERE cm.campaign = ? AND r.address IS NOT NULL ORDER BY r.address", -1, &x.recipients, NULL) ||
	    sqlite3_prepare_v2(x.db,
			       "SELECT DISTINCT f.attack FROM finding f JOIN campaign_member cm ON cm.message = f.message"
			       " WHERE cm.campaign = ? AND f.attack <> '' ORDER BY f.attack", -1, &x.attack, NULL) ||
	    sqlite3_prepare_v2(x.db,
			       "SELECT cm.campaign FROM campaign_member cm JOIN message m ON m.id = cm.message"
			       " GROUP BY cm.campaign HAVING max(m.seen) >= ? ORDER BY cm.campaign", -1, &list, NULL)) {
		rc = bw_store_fail(x.db, "reading campaigns", error);
		goto out;
	}
	if (campaign) {
		char *resolved = bw_campaign_resolve(s, campaign);
		bw_strvec_push(&cids, resolved ? resolved : campaign);
		free(resolved);
	} else {
		sqlite3_bind_int64(list, 1, since);
		while (sqlite3_step(list) == SQLITE_ROW)
			bw_strvec_push(&cids, (const char *)sqlite3_column_text(list, 0));
	}
	add_fixed_objects(&x);
	rc = 0;
	for (size_t i = 0; i < cids.n && rc == 0; i++)
		rc = export_campaign(&x, cids.v[i], error);
	if (rc == 0) {
		/* the bundle's id follows from what it holds */
		bw_buf key = {0};
		for (size_t i = 0; i < json_array_size(x.objects); i++)
			bw_buf_printf(&key, "%s|", json_string_value(json_object_get(json_array_get(x.objects, i), "id")));
		char *bid = stix_id("bundle", bulwark_ns, key.data ? key.data : "");
		json_t *bundle = json_pack("{s:s,s:s,s:O}", "type", "bundle", "id", bid, "objects", x.objects);
		char *text = json_dumps(bundle, JSON_INDENT(1) | JSON_SORT_KEYS);
		fputs(text, out);
		fputc('\n', out);
		free(text);
		json_decref(bundle);
		free(bid);
		bw_buf_free(&key);
	}
out:
	sqlite3_finalize(x.summary);
	sqlite3_finalize(x.reasons);
	sqlite3_finalize(x.sighting);
	sqlite3_finalize(x.recipients);
	sqlite3_finalize(x.attack);
	sqlite3_finalize(list);
	bw_strvec_free(&cids);
	json_decref(x.objects);
	json_decref(x.markings);
	g_hash_table_destroy(x.ids);
	free(x.identity);
	sqlite3_close(x.intel);
	return rc;
}
