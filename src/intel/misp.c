/* MISP formats: feeds (manifest.json and one JSON file per event), single
 * events, warninglists (imported as allow lists) and galaxy clusters (whose
 * synonyms become intrusion set aliases). */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel_impl.h"

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* MISP attribute type -> observable type; for composite types ("a|b") which
 * half is the observable: 0 first, 1 second, 2 both, 3 both together (an
 * AND group: the file name and the hash describe the same file, as MISP
 * writes them to STIX: [file:name = .. AND file:hashes.MD5 = ..]). */
static const struct { const char *misp; bw_obs_type type, second; int half; } misp_types[] = {
	{"domain", BW_OBS_DOMAIN, BW_OBS_NONE, 0},
	{"hostname", BW_OBS_DOMAIN, BW_OBS_NONE, 0},
	{"hostname|port", BW_OBS_DOMAIN, BW_OBS_NONE, 0},
	{"domain|ip", BW_OBS_DOMAIN, BW_OBS_IPV4, 2},
	{"url", BW_OBS_URL, BW_OBS_NONE, 0},
	{"uri", BW_OBS_URL, BW_OBS_NONE, 0},
	{"ip-src", BW_OBS_IPV4, BW_OBS_NONE, 0},
	{"ip-dst", BW_OBS_IPV4, BW_OBS_NONE, 0},
	{"ip-src|port", BW_OBS_IPV4, BW_OBS_NONE, 0},
	{"ip-dst|port", BW_OBS_IPV4, BW_OBS_NONE, 0},
	{"email", BW_OBS_EMAIL, BW_OBS_NONE, 0},
	{"email-src", BW_OBS_EMAIL, BW_OBS_NONE, 0},
	{"email-dst", BW_OBS_EMAIL, BW_OBS_NONE, 0},
	{"email-reply-to", BW_OBS_EMAIL, BW_OBS_NONE, 0},
	{"email-subject", BW_OBS_SUBJECT, BW_OBS_NONE, 0},
	{"email-attachment", BW_OBS_FILENAME, BW_OBS_NONE, 0},
	{"md5", BW_OBS_MD5, BW_OBS_NONE, 0},
	{"sha1", BW_OBS_SHA1, BW_OBS_NONE, 0},
	{"sha256", BW_OBS_SHA256, BW_OBS_NONE, 0},
	{"filename", BW_OBS_FILENAME, BW_OBS_NONE, 0},
	{"filename|md5", BW_OBS_FILENAME, BW_OBS_MD5, 3},
	{"filename|sha1", BW_OBS_FILENAME, BW_OBS_SHA1, 3},
	{"filename|sha256", BW_OBS_FILENAME, BW_OBS_SHA256, 3},
};

/* The observables of a MISP (or list) value of type_name, which may also
 * be one of ours ("ipv4", "email-subject"). IPs are typed by their form. */
size_t intel_typed_values(const char *type_name, const char *value, bw_obs_type out_types[2],
			  char *out_values[2], bool *together)
{
	bw_obs_type t = bw_obs_type_from_name(type_name), second = BW_OBS_NONE;
	int half = 0;
	for (size_t i = 0; t == BW_OBS_NONE && i < sizeof misp_types / sizeof misp_types[0]; i++)
		if (strcmp(type_name, misp_types[i].misp) == 0) {
			t = misp_types[i].type;
			second = misp_types[i].second;
			half = misp_types[i].half;
		}
	*together = half == 3;
	if (t == BW_OBS_NONE && second == BW_OBS_NONE)
		return 0;
	const char *bar = strchr(type_name, '|') ? strchr(value, '|') : NULL;
	char *parts[2] = {bar ? bw_xstrndup(value, (size_t)(bar - value)) : bw_xstrdup(value),
			  bar ? bw_xstrdup(bar + 1) : NULL};
	bw_obs_type types[2] = {t, second};
	size_t n = 0;
	for (int i = 0; i < 2; i++) {
		if (!parts[i] || types[i] == BW_OBS_NONE || (half < 2 && half != i)) {
			free(parts[i]);
			continue;
		}
		if (types[i] == BW_OBS_IPV4 && strchr(parts[i], ':'))
			types[i] = BW_OBS_IPV6;
		out_types[n] = types[i];
		out_values[n++] = parts[i];
	}
	return n;
}

/* "1617875568" (MISP's epoch seconds) as an ISO timestamp. */
static char *epoch_iso(const json_t *v)
{
	long long secs = json_is_integer(v) ? json_integer_value(v)
			 : json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
	time_t t = (time_t)secs;
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return bw_xstrdup(buf);
}

static const char *tags_tlp(const json_t *tags, const char *fallback)
{
	static const char *const names[] = {"clear", "white", "green", "amber", "amber+strict", "red"};
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *n = str(t, "name");
		if (n && bw_ascii_istartswith(n, "tlp:"))
			for (size_t k = 0; k < 6; k++)
				if (bw_ascii_iequal(n + 4, names[k]))
					return k == 1 ? "clear" : names[k];
	}
	return fallback;
}

static char *tag_names(const json_t *a, const json_t *b)
{
	json_t *all = json_array();
	const json_t *lists[] = {a, b};
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *t;
		json_array_foreach(lists[l], i, t)
			if (str(t, "name"))
				json_array_append(all, json_object_get(t, "name"));
	}
	char *s = intel_json_strings(all);
	json_decref(all);
	return s;
}

static bool truthy(const json_t *v)
{
	return json_is_true(v) || (json_is_integer(v) && json_integer_value(v)) ||
	       (json_is_string(v) && strcmp(json_string_value(v), "1") == 0);
}

static char *find_set_by_name(bw_intel *in, const char *name)
{
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc,
				     "SELECT stix_id FROM intrusion_set WHERE name = ?1 COLLATE NOCASE"
				     " OR external_id = ?1 OR EXISTS (SELECT 1 FROM json_each(aliases)"
				     " WHERE value = ?1 COLLATE NOCASE) LIMIT 1",
				     "s", name);
	char *id = st && rc == SQLITE_ROW ? bw_xstrdup((const char *)sqlite3_column_text(st, 0)) : NULL;
	if (st)
		sqlite3_reset(st);
	return id;
}

/* The intrusion set going by name (its name, ATT&CK id or an alias), or NULL.
 * MISP's mitre-intrusion-set clusters are "APT31 - G0128": the ATT&CK id
 * decides when the whole value is not a name. */
static char *find_intrusion_set(bw_intel *in, const char *name)
{
	char *id = find_set_by_name(in, name);
	const char *dash = strstr(name, " - G");
	if (!id && dash && dash[4] && strspn(dash + 4, "0123456789") == strlen(dash + 4))
		id = find_set_by_name(in, dash + 3);
	return id;
}


/* Galaxies whose clusters are threat actors, i.e. intrusion sets. */
static bool actor_galaxy(const char *type)
{
	static const char *const actor_galaxies[] = {"threat-actor", "mitre-intrusion-set",
						     "mitre-enterprise-attack-intrusion-set",
						     "microsoft-activity-group"};
	for (size_t i = 0; type && i < sizeof actor_galaxies / sizeof actor_galaxies[0]; i++)
		if (strcmp(type, actor_galaxies[i]) == 0)
			return true;
	return false;
}

/* The cluster values of galaxy tags, misp-galaxy:threat-actor="APT31"
 * (quotes optional), appended to names once each. */
static void galaxy_tag_actors(const json_t *tags, bw_strvec *names)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t) {
		const char *n = str(t, "name");
		const char *eq = n && strncmp(n, "misp-galaxy:", 12) == 0 ? strchr(n, '=') : NULL;
		if (!eq)
			continue;
		char *galaxy = bw_xstrndup(n + 12, (size_t)(eq - n - 12));
		char *value = g_strstrip(bw_xstrdup(eq + 1));
		size_t len = strlen(value);
		if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
			memmove(value, value + 1, len - 2);
			value[len - 2] = '\0';
		}
		if (actor_galaxy(galaxy) && *value && !bw_strvec_contains(names, value))
			bw_strvec_push(names, value);
		free(galaxy);
		free(value);
	}
}

typedef struct misp_event {
	bw_intel *in;
	const char *source;
	bw_intel_summary *sum;
	const char *info, *org, *tlp;
	const json_t *tags;
	bw_strvec actors;      /* threat actor names of the event's galaxies and galaxy tags */
	GHashTable *skipped;   /* attribute type -> count */
	size_t not_ids;
} misp_event;

static int import_attribute(misp_event *e, const json_t *a)
{
	const char *type = str(a, "type"), *value = str(a, "value"), *uuid = str(a, "uuid");
	if (!type || !value || !uuid || truthy(json_object_get(a, "deleted")))
		return 0;
	if (!truthy(json_object_get(a, "to_ids"))) {
		e->not_ids++;
		return 0;
	}
	bw_obs_type types[2];
	char *values[2];
	bool together;
	size_t n = intel_typed_values(type, value, types, values, &together);
	if (n == 0) {
		gpointer c = g_hash_table_lookup(e->skipped, type);
		g_hash_table_insert(e->skipped, (char *)type, GSIZE_TO_POINTER(GPOINTER_TO_SIZE(c) + 1));
		return 0;
	}
	char *id = g_strconcat("indicator--", uuid, NULL);
	char *modified = epoch_iso(json_object_get(a, "timestamp"));
	char *labels = tag_names(e->tags, json_object_get(a, "Tag"));
	intel_indicator ind = {
		.stix_id = id, .modified = modified, .source = e->source, .name = e->info,
		.tlp = tags_tlp(json_object_get(a, "Tag"), e->tlp), .labels = labels, .created_by = e->org,
	};
	int64_t row = intel_add_indicator(e->in, &ind, e->sum);
	int rc = row < 0 ? -1 : 0;
	char *norms[2] = {NULL, NULL};
	int prefix[2];
	size_t valid = 0;
	for (size_t i = 0; i < n && row > 0; i++) {
		norms[i] = bw_obs_normalise(types[i], values[i], &prefix[i]);
		if (norms[i])
			valid++;
		else
			intel_unsupported(e->sum, "%s: %s value '%s' is not valid", id, type, values[i]);
	}
	/* half an AND group would match on its own: all or nothing */
	for (size_t i = 0; i < n && rc == 0 && (!together || valid == n); i++)
		if (norms[i])
			rc = intel_add_observable(e->in, row, types[i], norms[i], prefix[i], together, e->sum);
	for (size_t i = 0; i < n; i++) {
		free(norms[i]);
		free(values[i]);
	}
	/* kept by name (also for a duplicate, so that a database from before
	 * this table learns them): intel_link_actors resolves them whenever
	 * intrusion sets arrive, whatever the import order */
	bw_strvec actors = {0};
	for (size_t i = 0; i < e->actors.n; i++)
		bw_strvec_push(&actors, e->actors.v[i]);
	galaxy_tag_actors(json_object_get(a, "Tag"), &actors);
	for (size_t i = 0; i < actors.n && row >= 0 && rc == 0; i++)
		rc = intel_exec(e->in, "INSERT OR IGNORE INTO indicator_actor(indicator, name) VALUES (?, ?)", "ss",
				id, actors.v[i]);
	bw_strvec_free(&actors);
	g_free(id);
	free(modified);
	free(labels);
	return rc;
}

int intel_import_misp_event(bw_intel *in, const json_t *event, const char *source,
			    bw_intel_summary *sum, char **error)
{
	if (!json_is_object(event)) {
		*error = bw_xstrdup("\"Event\" is not an object");
		return -1;
	}
	misp_event e = {
		.in = in, .source = source, .sum = sum, .info = str(event, "info"),
		.org = str(json_object_get(event, "Orgc"), "name"),
		.tags = json_object_get(event, "Tag"),
		.skipped = g_hash_table_new(g_str_hash, g_str_equal),
	};
	e.tlp = tags_tlp(e.tags, NULL);
	size_t i, j;
	json_t *g, *cl, *a, *o;
	json_array_foreach(json_object_get(event, "Galaxy"), i, g) {
		if (!actor_galaxy(str(g, "type")))
			continue;
		json_array_foreach(json_object_get(g, "GalaxyCluster"), j, cl)
			if (str(cl, "value") && !bw_strvec_contains(&e.actors, str(cl, "value")))
				bw_strvec_push(&e.actors, str(cl, "value"));
	}
	galaxy_tag_actors(e.tags, &e.actors);
	for (i = 0; i < e.actors.n; i++) {
		char *set = find_intrusion_set(in, e.actors.v[i]);
		if (!set)
			bw_strvec_pushf(&sum->unknown_actors, "event %s: %s",
					str(event, "uuid") ? str(event, "uuid") : "?", e.actors.v[i]);
		free(set);
	}
	int rc = 0;
	json_array_foreach(json_object_get(event, "Attribute"), i, a)
		if (rc == 0)
			rc = import_attribute(&e, a);
	json_array_foreach(json_object_get(event, "Object"), i, o)
		json_array_foreach(json_object_get(o, "Attribute"), j, a)
			if (rc == 0)
				rc = import_attribute(&e, a);
	GHashTableIter it;
	gpointer k, v;
	g_hash_table_iter_init(&it, e.skipped);
	while (g_hash_table_iter_next(&it, &k, &v))
		intel_unsupported(sum, "event %s: %zu attribute(s) of type %s", str(event, "uuid") ? str(event, "uuid") : "?",
				  GPOINTER_TO_SIZE(v), (const char *)k);
	if (e.not_ids)
		intel_unsupported(sum, "event %s: %zu attribute(s) not marked to_ids (context, not indicators)",
				  str(event, "uuid") ? str(event, "uuid") : "?", e.not_ids);
	g_hash_table_destroy(e.skipped);
	bw_strvec_free(&e.actors);
	return rc < 0 ? intel_error(in, error) : 0;
}

int intel_import_misp_feed(bw_intel *in, const json_t *manifest, const char *dir, const char *source,
			   bw_intel_summary *sum, char **error)
{
	const char *uuid;
	json_t *v;
	json_object_foreach((json_t *)manifest, uuid, v) {
		if (strchr(uuid, '/') || strstr(uuid, "..")) {
			*error = bw_xasprintf("manifest.json: \"%s\" is not an event uuid", uuid);
			return -1;
		}
		char *name = g_strconcat(uuid, ".json", NULL);
		char *path = g_build_filename(dir, name, NULL);
		g_free(name);
		json_t *root = intel_load_json(path, error);
		int rc = -1;
		if (root && json_is_object(json_object_get(root, "Event"))) {
			rc = intel_import_misp_event(in, json_object_get(root, "Event"), source, sum, error);
		} else if (root) {
			*error = bw_xasprintf("%s: no \"Event\" object", path);
		}
		json_decref(root);
		g_free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int intel_import_warninglist(bw_intel *in, const json_t *root, const char *source,
			     bw_intel_summary *sum, char **error)
{
	const char *name = str(root, "name"), *type = str(root, "type");
	if (!name) {
		*error = bw_xstrdup("warninglist without a name");
		return -1;
	}
	if (!type)
		type = "string";
	json_t *list = json_object_get(root, "list");
	if (strcmp(type, "string") != 0 && strcmp(type, "hostname") != 0 && strcmp(type, "cidr") != 0) {
		intel_unsupported(sum, "warninglist %s: type %s (%zu entries)", name, type, json_array_size(list));
		return 0;
	}
	char *id = g_strconcat("warninglist:", name, NULL);
	json_t *ver = json_object_get(root, "version");
	char *modified = json_is_integer(ver) ? g_strdup_printf("%lld", (long long)json_integer_value(ver))
					      : g_strdup(json_string_value(ver) ? json_string_value(ver) : "");
	/* every warninglist file is list.json: its name says which it is */
	intel_indicator ind = {.stix_id = id, .modified = modified, .source = source ? source : name,
			       .name = name, .allow = true};
	int64_t row = intel_add_indicator(in, &ind, sum);
	int rc = row < 0 ? -1 : 0;
	/* ".google.ad" and "google.ad" are one domain once normalised */
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		if (row <= 0 || rc < 0)
			break;
		const char *s = json_string_value(v);
		bw_obs_type t = !s ? BW_OBS_NONE
				: strcmp(type, "hostname") == 0 ? BW_OBS_DOMAIN
				: strcmp(type, "cidr") == 0 ? (strchr(s, ':') ? BW_OBS_IPV6 : BW_OBS_IPV4)
				: bw_obs_detect(s);
		int prefix;
		char *norm = bw_obs_normalise(t, s, &prefix);
		bool fresh = norm && g_hash_table_add(seen, g_strdup_printf("%d %s/%d", (int)t, norm, prefix));
		if (fresh)
			rc = intel_add_observable(in, row, t, norm, prefix, 0, sum);
		else if (!norm)
			intel_unsupported(sum, "warninglist %s: entry %zu '%s' not recognised", name, i, s ? s : "?");
		free(norm);
	}
	g_hash_table_destroy(seen);
	g_free(id);
	g_free(modified);
	return rc < 0 ? intel_error(in, error) : 0;
}

/* Links every indicator with a threat actor name to the intrusion set
 * going by that name, once there is one: run after every import. */
int intel_link_actors(bw_intel *in, char **error)
{
	bw_strvec names = {0};
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT DISTINCT name FROM indicator_actor", "");
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st))
		bw_strvec_push(&names, (const char *)sqlite3_column_text(st, 0));
	if (st)
		sqlite3_reset(st);
	int err = st ? 0 : -1;
	for (size_t i = 0; i < names.n && err == 0; i++) {
		char *set = find_intrusion_set(in, names.v[i]);
		if (set)
			err = intel_exec(in,
					 "INSERT OR IGNORE INTO relationship SELECT indicator, 'indicates', ?"
					 " FROM indicator_actor WHERE name = ?",
					 "ss", set, names.v[i]);
		free(set);
	}
	bw_strvec_free(&names);
	return err < 0 ? intel_error(in, error) : 0;
}

/* ---- galaxies: synonyms into intrusion set aliases ---- */

typedef struct known_set {
	char *stix_id;
	json_t *aliases; /* array of strings */
	bool changed;
} known_set;

static void key_add(GHashTable *keys, const char *k, gssize idx)
{
	char *low = g_utf8_casefold(k, -1);
	gpointer old;
	if (g_hash_table_lookup_extended(keys, low, NULL, &old) && GPOINTER_TO_SIZE(old) != (gsize)idx + 1)
		g_hash_table_replace(keys, low, GSIZE_TO_POINTER(0)); /* ambiguous */
	else
		g_hash_table_replace(keys, low, GSIZE_TO_POINTER((gsize)idx + 1));
}

static gssize key_find(GHashTable *keys, const char *k)
{
	char *low = g_utf8_casefold(k, -1);
	gsize v = GPOINTER_TO_SIZE(g_hash_table_lookup(keys, low));
	g_free(low);
	return (gssize)v - 1;
}

static bool key_known(GHashTable *keys, const char *k)
{
	char *low = g_utf8_casefold(k, -1);
	bool known = g_hash_table_contains(keys, low);
	g_free(low);
	return known;
}

/* Merges each cluster's value and synonyms into the one intrusion set that
 * already goes by one of them (by name, ATT&CK id or alias). A cluster that
 * names two different sets merges into neither. */
int intel_import_galaxy(bw_intel *in, const json_t *root, bw_intel_summary *sum, char **error)
{
	known_set *sets = NULL;
	size_t nsets = 0, cap = 0;
	GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	int rc;
	sqlite3_stmt *st = intel_run(in, &rc, "SELECT stix_id, name, external_id, aliases FROM intrusion_set", "");
	for (; st && rc == SQLITE_ROW; rc = sqlite3_step(st)) {
		bw_grow((void **)&sets, &cap, nsets + 1, sizeof *sets);
		known_set *k = &sets[nsets];
		k->stix_id = bw_xstrdup((const char *)sqlite3_column_text(st, 0));
		const char *al = (const char *)sqlite3_column_text(st, 3);
		k->aliases = al ? json_loads(al, 0, NULL) : NULL;
		if (!json_is_array(k->aliases)) {
			json_decref(k->aliases);
			k->aliases = json_array();
		}
		k->changed = false;
		for (int c = 1; c <= 2; c++)
			if (sqlite3_column_text(st, c))
				key_add(keys, (const char *)sqlite3_column_text(st, c), (gssize)nsets);
		size_t i;
		json_t *a;
		json_array_foreach(k->aliases, i, a)
			key_add(keys, json_string_value(a), (gssize)nsets);
		nsets++;
	}
	if (st)
		sqlite3_reset(st);
	size_t i, j;
	json_t *cl, *syn;
	json_array_foreach(json_object_get(root, "values"), i, cl) {
		const char *value = str(cl, "value");
		json_t *meta = json_object_get(cl, "meta");
		json_t *synonyms = json_object_get(meta, "synonyms");
		if (!value)
			continue;
		gssize found = key_find(keys, value);
		const char *ext = str(meta, "external_id");
		gssize by_ext = ext ? key_find(keys, ext) : -1;
		if (found < 0)
			found = by_ext;
		json_array_foreach(synonyms, j, syn) {
			gssize s = json_string_value(syn) ? key_find(keys, json_string_value(syn)) : -1;
			if (s >= 0 && found >= 0 && s != found) {
				found = -1;
				break;
			}
			if (found < 0)
				found = s;
		}
		if (found < 0)
			continue;
		known_set *k = &sets[found];
		const char *names[1 + 64];
		size_t n = 0;
		names[n++] = value;
		json_array_foreach(synonyms, j, syn)
			if (json_string_value(syn) && n < sizeof names / sizeof names[0])
				names[n++] = json_string_value(syn);
		for (size_t m = 0; m < n; m++) {
			if (key_known(keys, names[m]))
				continue; /* already a name or alias of it (or of another set) */
			json_array_append_new(k->aliases, json_string(names[m]));
			key_add(keys, names[m], found);
			k->changed = true;
			sum->aliases_merged++;
		}
	}
	int err = 0;
	for (size_t k = 0; k < nsets; k++) {
		if (sets[k].changed && !err) {
			char *al = json_dumps(sets[k].aliases, JSON_COMPACT);
			err = intel_exec(in, "UPDATE intrusion_set SET aliases = ? WHERE stix_id = ?", "ss", al,
					 sets[k].stix_id);
			free(al);
		}
		free(sets[k].stix_id);
		json_decref(sets[k].aliases);
	}
	free(sets);
	g_hash_table_destroy(keys);
	return err < 0 ? intel_error(in, error) : 0;
}
