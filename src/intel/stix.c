/* STIX 2.0 and 2.1 bundles (and single objects): indicators with their
 * patterns, markings and validity, the relationships between objects, and
 * the intrusion sets, campaigns, malware and ATT&CK techniques they point at. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/stix_pattern.h"
#include "intel/intel_impl.h"

/* The TLP marking definitions STIX predefines: 1.0 in STIX 2.0/2.1, 2.0 in
 * the OASIS TLP 2.0 extension. "white" is TLP 2.0's "clear". */
static const struct { const char *id, *tlp; } tlp_ids[] = {
	{"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "clear"},
	{"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "green"},
	{"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber"},
	{"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red"},
	{"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "clear"},
	{"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "green"},
	{"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "amber"},
	{"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "amber+strict"},
	{"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "red"},
};

static int tlp_rank(const char *tlp)
{
	static const char *const order[] = {"clear", "green", "amber", "amber+strict", "red"};
	for (int i = 0; i < 5; i++)
		if (tlp && strcmp(tlp, order[i]) == 0)
			return i;
	return -1;
}

/* "TLP:AMBER+STRICT", "amber", "white" -> the names above, or NULL. */
static const char *tlp_name(const char *s)
{
	if (!s)
		return NULL;
	if (bw_ascii_istartswith(s, "tlp:"))
		s += 4;
	static const char *const names[] = {"clear", "green", "amber", "amber+strict", "red"};
	for (size_t i = 0; i < 5; i++)
		if (bw_ascii_iequal(s, names[i]))
			return names[i];
	return bw_ascii_iequal(s, "white") ? "clear" : NULL;
}

typedef struct stix_ctx {
	bw_intel *in;
	const char *source;
	bw_intel_summary *sum;
	GHashTable *tlp;       /* marking-definition id -> static TLP name */
	GHashTable *identity;  /* identity id -> name (borrowed from the JSON) */
	char **error;
} stix_ctx;

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The most restrictive TLP among an object's marking refs. */
static const char *object_tlp(stix_ctx *c, const json_t *obj)
{
	const char *best = NULL;
	size_t i;
	json_t *ref;
	json_array_foreach(json_object_get(obj, "object_marking_refs"), i, ref) {
		const char *t = g_hash_table_lookup(c->tlp, json_string_value(ref) ? json_string_value(ref) : "");
		if (t && tlp_rank(t) > tlp_rank(best))
			best = t;
	}
	return best;
}

static void first_pass(stix_ctx *c, const json_t *obj)
{
	const char *type = str(obj, "type"), *id = str(obj, "id");
	if (strcmp(type, "identity") == 0 && str(obj, "name")) {
		g_hash_table_insert(c->identity, (char *)id, (char *)str(obj, "name"));
		intel_exec(c->in, "INSERT OR REPLACE INTO identity(stix_id, name) VALUES (?, ?)", "ss", id,
			   str(obj, "name"));
	} else if (strcmp(type, "marking-definition") == 0) {
		/* 2.0: definition_type "tlp", definition.tlp; 2.1 TLP 2.0: name "TLP:RED" */
		const char *t = NULL;
		if (str(obj, "definition_type") && strcmp(str(obj, "definition_type"), "tlp") == 0)
			t = tlp_name(str(json_object_get(obj, "definition"), "tlp"));
		if (!t && bw_ascii_istartswith(str(obj, "name") ? str(obj, "name") : "", "tlp:"))
			t = tlp_name(str(obj, "name"));
		if (t)
			g_hash_table_insert(c->tlp, (char *)id, (char *)t);
	}
}

static char *labels_of(const json_t *obj)
{
	json_t *all = json_array();
	const char *keys[] = {"labels", "indicator_types"};
	for (size_t k = 0; k < 2; k++) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(obj, keys[k]), i, v)
			json_array_append(all, v);
	}
	char *s = intel_json_strings(all);
	json_decref(all);
	return s;
}

static int import_indicator(stix_ctx *c, const json_t *obj, const char *id)
{
	const char *pattern = str(obj, "pattern");
	if (!pattern) {
		*c->error = bw_xasprintf("%s: indicator without a pattern", id);
		return -1;
	}
	const char *ptype = str(obj, "pattern_type");
	const char *by = str(obj, "created_by_ref");
	const char *by_name = by ? g_hash_table_lookup(c->identity, by) : NULL;
	char *labels = labels_of(obj);
	const char *modified = str(obj, "modified") ? str(obj, "modified") : str(obj, "created");
	intel_indicator ind = {
		.stix_id = id,
		.modified = modified ? modified : "",
		.source = c->source,
		.name = str(obj, "name"),
		.pattern = pattern,
		.valid_from = str(obj, "valid_from"),
		.valid_until = str(obj, "valid_until"),
		.tlp = object_tlp(c, obj),
		.labels = labels,
		.created_by = by_name ? by_name : by,
		.revoked = json_is_true(json_object_get(obj, "revoked")),
	};
	int64_t row = intel_add_indicator(c->in, &ind, c->sum);
	free(labels);
	if (row < 0)
		return intel_error(c->in, c->error);
	if (row == 0)
		return 0;
	if (ptype && strcmp(ptype, "stix") != 0) {
		intel_unsupported(c->sum, "%s: pattern_type %s", id, ptype);
		return 0;
	}
	bw_pattern pt;
	char *perr = NULL;
	if (bw_stix_pattern_parse(pattern, &pt, &perr) < 0) {
		intel_unsupported(c->sum, "%s: malformed pattern: %s", id, perr);
		free(perr);
		return 0;
	}
	int rc = 0;
	for (size_t i = 0; i < pt.n && rc == 0; i++)
		for (size_t j = 0; j < pt.conj[i].n && rc == 0; j++) {
			const bw_pattern_term *t = &pt.conj[i].terms[j];
			rc = intel_add_observable(c->in, row, t->type, t->value, t->prefix_len,
						  pt.conj[i].n > 1 ? (int64_t)i + 1 : 0, c->sum);
		}
	if (pt.dropped)
		intel_unsupported(c->sum, "%s: %s%s (%zu of %zu alternatives not evaluable)", id,
				  pt.n ? "partly: " : "", pt.unsupported, pt.dropped, pt.dropped + pt.n);
	bw_pattern_free(&pt);
	return rc < 0 ? intel_error(c->in, c->error) : 0;
}

/* The ATT&CK id ("T1566.002", "G0006") among the external references. */
static const char *external_id(const json_t *obj)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(obj, "external_references"), i, r) {
		const char *src = str(r, "source_name");
		if (src && strcmp(src, "mitre-attack") == 0 && str(r, "external_id"))
			return str(r, "external_id");
	}
	return NULL;
}

static bool withdrawn(const json_t *obj)
{
	return json_is_true(json_object_get(obj, "revoked")) ||
	       json_is_true(json_object_get(obj, "x_mitre_deprecated"));
}

static int import_relationship(stix_ctx *c, const json_t *obj, const char *id)
{
	const char *src = str(obj, "source_ref"), *type = str(obj, "relationship_type"),
		   *dst = str(obj, "target_ref");
	if (!src || !type || !dst) {
		*c->error = bw_xasprintf("%s: relationship without source_ref, relationship_type or target_ref", id);
		return -1;
	}
	if (withdrawn(obj))
		return 0;
	if (intel_exec(c->in, "INSERT OR IGNORE INTO relationship VALUES (?, ?, ?)", "sss", src, type, dst) < 0)
		return intel_error(c->in, c->error);
	c->sum->relationships += (size_t)sqlite3_changes(c->in->db);
	if (strcmp(type, "uses") == 0 && strncmp(src, "intrusion-set--", 15) == 0 &&
	    strncmp(dst, "attack-pattern--", 16) == 0) {
		if (intel_exec(c->in, "INSERT OR IGNORE INTO intrusion_set_technique VALUES (?, ?)", "ss", src,
			       dst) < 0)
			return intel_error(c->in, c->error);
		c->sum->set_techniques += (size_t)sqlite3_changes(c->in->db);
	}
	return 0;
}

static int import_object(stix_ctx *c, const json_t *obj, const char *type, const char *id)
{
	int rc = 0;
	const char *name = str(obj, "name");
	if (strcmp(type, "indicator") == 0)
		return import_indicator(c, obj, id);
	if (strcmp(type, "relationship") == 0)
		return import_relationship(c, obj, id);
	if (withdrawn(obj))
		return 0;
	if (strcmp(type, "intrusion-set") == 0) {
		/* a re-import keeps the aliases merged from galaxies (after the
		 * set's own), so that the galaxy merge then finds nothing new */
		char *aliases = intel_json_strings(json_object_get(obj, "aliases"));
		rc = intel_exec(c->in,
				"INSERT INTO intrusion_set(stix_id, name, aliases, description, external_id)"
				" VALUES (?, ?, ?, ?, ?) ON CONFLICT(stix_id) DO UPDATE SET name = excluded.name,"
				" aliases = (SELECT json_group_array(value) FROM (SELECT value FROM"
				"  (SELECT value, 0 AS k, key FROM json_each(excluded.aliases) UNION ALL"
				"   SELECT value, 1, key FROM json_each(intrusion_set.aliases) WHERE lower(value) NOT IN"
				"    (SELECT lower(value) FROM json_each(excluded.aliases))) ORDER BY k, key)),"
				" description = excluded.description, external_id = excluded.external_id",
				"sssss", id, name ? name : id, aliases, str(obj, "description"), external_id(obj));
		free(aliases);
		c->sum->intrusion_sets++;
	} else if (strcmp(type, "campaign") == 0) {
		rc = intel_exec(c->in, "INSERT OR REPLACE INTO campaign_object(stix_id, name) VALUES (?, ?)",
				"ss", id, name);
		c->sum->campaigns++;
	} else if (strcmp(type, "malware") == 0) {
		rc = intel_exec(c->in, "INSERT OR REPLACE INTO malware(stix_id, name) VALUES (?, ?)", "ss", id,
				name);
		c->sum->malware++;
	} else if (strcmp(type, "attack-pattern") == 0) {
		rc = intel_exec(c->in,
				"INSERT OR REPLACE INTO technique(stix_id, external_id, name) VALUES (?, ?, ?)",
				"sss", id, external_id(obj), name);
		c->sum->techniques++;
	}
	return rc < 0 ? intel_error(c->in, c->error) : 0;
}

int intel_import_stix(bw_intel *in, const json_t *root, const char *source, bw_intel_summary *sum,
		      char **error)
{
	json_t *objects = json_object_get(root, "objects");
	json_t *single = NULL;
	if (!objects) {
		single = json_array();
		json_array_append(single, (json_t *)root);
		objects = single;
	} else if (!json_is_array(objects)) {
		*error = bw_xstrdup("bundle \"objects\" is not an array");
		return -1;
	}
	stix_ctx c = {in, source, sum, g_hash_table_new(g_str_hash, g_str_equal),
		      g_hash_table_new(g_str_hash, g_str_equal), error};
	for (size_t i = 0; i < sizeof tlp_ids / sizeof tlp_ids[0]; i++)
		g_hash_table_insert(c.tlp, (char *)tlp_ids[i].id, (char *)tlp_ids[i].tlp);
	int rc = 0;
	size_t i;
	json_t *obj;
	json_array_foreach(objects, i, obj) {
		if (!json_is_object(obj) || !str(obj, "type") || !str(obj, "id")) {
			*error = bw_xasprintf("objects[%zu]: not an object with a type and an id", i);
			rc = -1;
			break;
		}
		first_pass(&c, obj);
	}
	json_array_foreach(objects, i, obj) {
		if (rc < 0)
			break;
		rc = import_object(&c, obj, str(obj, "type"), str(obj, "id"));
		if (rc < 0 && *error && !strstr(*error, "objects[")) {
			char *msg = bw_xasprintf("objects[%zu]: %s", i, *error);
			free(*error);
			*error = msg;
		}
	}
	g_hash_table_destroy(c.tlp);
	g_hash_table_destroy(c.identity);
	json_decref(single);
	return rc;
}
