/* The pipeline in one place: parse (src/mail) -> extract (src/html, src/url)
 * -> detect (src/detect) -> score (src/report). Also the configuration file,
 * because every stage reads its part of it. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/archive.h"
#include "bulwark/docrels.h"
#include "bulwark/engine.h"
#include "bulwark/html.h"
#include "bulwark/intel.h"
#include "bulwark/mail.h"
#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

void bw_config_default(bw_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	bw_limits_default(&cfg->limits);
	cfg->suspicious_threshold = 5.0;
	cfg->malicious_threshold = 10.0;
	cfg->yara_timeout = 10;
}

static void free_campaign_config(bw_config *cfg)
{
	char **strs[] = {&cfg->store_db, &cfg->institution_name, &cfg->institution_class,
			 &cfg->institution_sector, &cfg->institution_contact, &cfg->export_tlp,
			 &cfg->campaign_shared_file};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

void bw_config_free(bw_config *cfg)
{
	free(cfg->tracker_dir);
	free(cfg->recipient);
	cfg->tracker_dir = cfg->recipient = NULL;
	bw_identities_free(&cfg->identities);
	free(cfg->outlets_file);
	free(cfg->shorteners_file);
	cfg->outlets_file = cfg->shorteners_file = NULL;
	free(cfg->history_db);
	cfg->history_db = NULL;
	free(cfg->yara_rules);
	cfg->yara_rules = NULL;
	bw_strvec_free(&cfg->trusted_authserv_ids);
	free(cfg->esp_file);
	cfg->esp_file = NULL;
	free(cfg->intel_db);
	cfg->intel_db = NULL;
	bw_strvec_free(&cfg->internal_networks);
	bw_strvec_free(&cfg->more_recipients);
	free_campaign_config(cfg);
}

/* ---- protected identities ---- */

void bw_identities_free(bw_identities *ids)
{
	for (size_t i = 0; i < ids->n; i++) {
		bw_identity *d = &ids->v[i];
		free(d->name);
		free(d->source);
		bw_strvec_free(&d->aliases);
		bw_strvec_free(&d->addresses);
		bw_strvec_free(&d->domains);
		bw_strvec_free(&d->generic_domains);
	}
	free(ids->v);
	memset(ids, 0, sizeof *ids);
}

static bw_identity *identity_add(bw_identities *ids, bw_identity_kind kind, const char *name)
{
	bw_grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v);
	bw_identity *d = &ids->v[ids->n++];
	memset(d, 0, sizeof *d);
	d->kind = kind;
	d->name = bw_xstrdup(name);
	return d;
}

/* A list value: items separated by ';' or ',', trimmed, empty ones dropped. */
static void push_list(bw_strvec *sv, const char *value, bool lower)
{
	char **items = g_strsplit_set(value, ";,", -1);
	for (char **it = items; *it; it++) {
		char *t = g_strstrip(*it);
		if (!*t)
			continue;
		if (lower)
			bw_ascii_lower(t);
		if (!bw_strvec_contains(sv, t))
			bw_strvec_push(sv, t);
	}
	g_strfreev(items);
}

static void read_list(GKeyFile *kf, const char *group, const char *key, bw_strvec *sv, bool lower)
{
	char *v = g_key_file_get_string(kf, group, key, NULL);
	if (v)
		push_list(sv, v, lower);
	g_free(v);
}

/* "Jane Doe <jane@example.org>; Other Name <o@example.net>" */
static int read_people(GKeyFile *kf, bw_identities *ids, GError **err)
{
	char *v = g_key_file_get_string(kf, "protected", "people", NULL);
	if (!v)
		return 0;
	char **items = g_strsplit(v, ";", -1);
	int rc = 0;
	for (char **it = items; *it && rc == 0; it++) {
		char *t = g_strstrip(*it);
		if (!*t)
			continue;
		char *lt = strchr(t, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (!lt || !gt || lt == t) {
			g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
				    "[protected] people: \"%s\" is not \"Name <address>\"", t);
			rc = -1;
			break;
		}
		*lt = *gt = '\0';
		char *name = g_strstrip(t), *addr = g_strstrip(lt + 1);
		bw_identity *d = identity_add(ids, BW_IDENT_PERSON, name);
		push_list(&d->addresses, addr, true);
	}
	g_strfreev(items);
	g_free(v);
	return rc;
}

/* [person:NAME] and [org:NAME] groups, and [protected] domains/people. */
static int read_identities(GKeyFile *kf, bw_identities *ids, bw_identity_kind org_kind, GError **err)
{
	if (org_kind != BW_IDENT_OUTLET) {
		char *v = g_key_file_get_string(kf, "protected", "domains", NULL);
		if (v) {
			bw_strvec doms = {0};
			push_list(&doms, v, true);
			for (size_t i = 0; i < doms.n; i++) {
				bw_identity *d = identity_add(ids, BW_IDENT_INSTITUTION, doms.v[i]);
				bw_strvec_push(&d->domains, doms.v[i]);
			}
			bw_strvec_free(&doms);
			g_free(v);
		}
		if (read_people(kf, ids, err) < 0)
			return -1;
	}
	gsize ngroups = 0;
	char **groups = g_key_file_get_groups(kf, &ngroups);
	int rc = 0;
	for (gsize i = 0; i < ngroups && rc == 0; i++) {
		const char *g = groups[i];
		bw_identity_kind kind;
		const char *name;
		if (strncmp(g, "person:", 7) == 0 && org_kind != BW_IDENT_OUTLET) {
			kind = BW_IDENT_PERSON;
			name = g + 7;
		} else if (strncmp(g, "org:", 4) == 0) {
			kind = org_kind;
			name = g + 4;
		} else {
			continue;
		}
		char *nm = g_key_file_get_string(kf, g, "name", NULL);
		char *tn = g_strstrip(g_strdup(nm ? nm : name));
		if (!*tn) {
			g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "[%s] has no name", g);
			rc = -1;
		} else {
			bw_identity *d = identity_add(ids, kind, tn);
			read_list(kf, g, "aliases", &d->aliases, false);
			read_list(kf, g, "addresses", &d->addresses, true);
			read_list(kf, g, "domains", &d->domains, true);
			read_list(kf, g, "generic_domains", &d->generic_domains, true);
			for (size_t j = 0; j < d->generic_domains.n; j++)
				if (!bw_strvec_contains(&d->domains, d->generic_domains.v[j]))
					bw_strvec_push(&d->domains, d->generic_domains.v[j]);
			char *src = g_key_file_get_string(kf, g, "source", NULL);
			if (src)
				d->source = bw_xstrdup(src);
			g_free(src);
			if (!d->domains.n && (kind != BW_IDENT_PERSON || !d->addresses.n)) {
				g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
					    "[%s] has no %s", g, kind == BW_IDENT_PERSON ? "addresses or domains" : "domains");
				rc = -1;
			}
		}
		g_free(tn);
		g_free(nm);
	}
	g_strfreev(groups);
	return rc;
}

/* "PATH: what GLib said", for the caller to show. */
static int key_file_error(const char *path, GError *err, char **error)
{
	bw_buf b = {0};
	bw_buf_printf(&b, "%s: %s", path, err->message);
	*error = bw_buf_steal(&b);
	g_error_free(err);
	return -1;
}

int bw_identities_load(bw_identities *ids, const char *path, bw_identity_kind kind, char **error)
{
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;
	if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err))
		read_identities(kf, ids, kind, &err);
	g_key_file_free(kf);
	if (err)
		return key_file_error(path, err, error);
	return 0;
}

/* Where a shipped data file is: the environment variable env when set, then
 * data/NAME in the source tree of a binary run from its build directory
 * (build/bulwark, build/tests/test_*), then ../share/bulwark/NAME beside an
 * installed binary (PREFIX/bin/bulwark), then /usr/share/bulwark. NULL when
 * none exists (or env is set but empty). */
char *bw_default_data_file(const char *name, const char *env)
{
	const char *ev = getenv(env);
	if (ev)
		return *ev ? bw_xstrdup(ev) : NULL;
	char *exe = g_file_read_link("/proc/self/exe", NULL);
	char *found = NULL;
	if (exe) {
		char *dir = g_path_get_dirname(exe);
		const char *rel[] = {"../data", "../../data", "../share/bulwark"};
		for (size_t i = 0; i < sizeof rel / sizeof rel[0] && !found; i++) {
			char *p = g_build_filename(dir, rel[i], name, NULL);
			if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
				found = bw_xstrdup(p);
			g_free(p);
		}
		g_free(dir);
		g_free(exe);
	}
	char *sys = g_build_filename("/usr/share/bulwark", name, NULL);
	if (!found && g_file_test(sys, G_FILE_TEST_IS_REGULAR))
		found = bw_xstrdup(sys);
	g_free(sys);
	return found;
}

/* Reads an unsigned size key if present; rejects negative and absurd values
 * rather than wrapping them. */
static int read_size(GKeyFile *kf, const char *group, const char *key, size_t *out, GError **err)
{
	if (!g_key_file_has_key(kf, group, key, NULL))
		return 0;
	guint64 v = g_key_file_get_uint64(kf, group, key, err);
	if (*err)
		return -1;
	if (v == 0 || v > ((guint64)1 << 40)) {
		g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "[%s] %s must be between 1 and 2^40", group, key);
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static int read_uint(GKeyFile *kf, const char *group, const char *key, unsigned *out, GError **err)
{
	size_t v = *out;
	if (read_size(kf, group, key, &v, err) < 0)
		return -1;
	if (v > 100000000) {
		g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "[%s] %s is too large", group, key);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int read_double(GKeyFile *kf, const char *group, const char *key, double *out, GError **err)
{
	if (!g_key_file_has_key(kf, group, key, NULL))
		return 0;
	double v = g_key_file_get_double(kf, group, key, err);
	if (*err)
		return -1;
	*out = v;
	return 0;
}

/* [history] db = PATH; empty turns it off again. */
static void read_history(GKeyFile *kf, bw_config *cfg)
{
	char *db = g_key_file_get_string(kf, "history", "db", NULL);
	if (!db)
		return;
	g_strstrip(db);
	free(cfg->history_db);
	cfg->history_db = *db ? bw_xstrdup(db) : NULL;
	g_free(db);
}

static int read_archive_limits(GKeyFile *kf, bw_limits *l, GError **err)
{
	if (read_uint(kf, "limits", "max_archive_depth", &l->max_archive_depth, err) < 0 ||
	    read_size(kf, "limits", "max_archive_bytes", &l->max_archive_bytes, err) < 0 ||
	    read_uint(kf, "limits", "max_archive_ratio", &l->max_archive_ratio, err) < 0 ||
	    read_uint(kf, "limits", "max_archive_entries", &l->max_archive_entries, err) < 0 ||
	    read_size(kf, "limits", "max_archive_entry_bytes", &l->max_archive_entry_bytes, err) < 0 ||
	    read_size(kf, "limits", "max_header_field_bytes", &l->max_header_field_bytes, err) < 0 ||
	    read_size(kf, "limits", "max_css_bytes", &l->max_css_bytes, err) < 0)
		return -1;
	return 0;
}

/* [attachments]: YARA rules directory and scan timeout. */
static int read_attachments(GKeyFile *kf, bw_config *cfg, GError **err)
{
	unsigned timeout = (unsigned)cfg->yara_timeout;
	if (read_uint(kf, "attachments", "yara_timeout", &timeout, err) < 0)
		return -1;
	if (timeout > 3600) {
		g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "[attachments] yara_timeout must be at most 3600 seconds");
		return -1;
	}
	cfg->yara_timeout = (int)timeout;
	char *dir = g_key_file_get_string(kf, "attachments", "yara_rules", NULL);
	if (dir) {
		g_strstrip(dir);
		free(cfg->yara_rules);
		cfg->yara_rules = *dir ? bw_xstrdup(dir) : NULL;
		g_free(dir);
	}
	return 0;
}

/* [auth]: whose Authentication-Results headers are believed, and the
 * bulk-mail platform fingerprints. */
static void read_auth(GKeyFile *kf, bw_config *cfg)
{
	read_list(kf, "auth", "trusted_authserv_ids", &cfg->trusted_authserv_ids, true);
	/* bulwark-milter's own results (src/milter): it removes forged ones */
	read_list(kf, "milter", "authserv_id", &cfg->trusted_authserv_ids, true);
	char *esp = g_key_file_get_string(kf, "auth", "esp_fingerprints", NULL);
	if (esp) {
		g_strstrip(esp);
		free(cfg->esp_file);
		cfg->esp_file = *esp ? bw_xstrdup(esp) : NULL;
		cfg->esp_off = !*esp;
		g_free(esp);
	}
}

/* [intel] db and internal_networks (docs/intel.md). */
static int read_intel(GKeyFile *kf, bw_config *cfg, GError **err)
{
	char *db = g_key_file_get_string(kf, "intel", "db", NULL);
	if (db) {
		g_strstrip(db);
		free(cfg->intel_db);
		cfg->intel_db = *db ? bw_xstrdup(db) : NULL;
		g_free(db);
	}
	bw_strvec nets = {0};
	read_list(kf, "intel", "internal_networks", &nets, true);
	for (size_t i = 0; i < nets.n; i++) {
		int prefix;
		bw_obs_type t = strchr(nets.v[i], ':') ? BW_OBS_IPV6 : BW_OBS_IPV4;
		char *net = bw_obs_normalise(t, nets.v[i], &prefix);
		if (!net) {
			g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
				    "[intel] internal_networks: \"%s\" is not an IP network", nets.v[i]);
			bw_strvec_free(&nets);
			return -1;
		}
		bw_strvec_pushf(&cfg->internal_networks, "%s/%d", net, prefix < 0 ? (t == BW_OBS_IPV4 ? 32 : 128) : prefix);
		free(net);
	}
	bw_strvec_free(&nets);
	return 0;
}

static void read_string(GKeyFile *kf, const char *group, const char *key, char **out)
{
	char *v = g_key_file_get_string(kf, group, key, NULL);
	if (!v)
		return;
	g_strstrip(v);
	free(*out);
	*out = *v ? bw_xstrdup(v) : NULL;
	g_free(v);
}

static int read_bool(GKeyFile *kf, const char *group, const char *key, bool *out, GError **err)
{
	if (!g_key_file_has_key(kf, group, key, NULL))
		return 0;
	gboolean v = g_key_file_get_boolean(kf, group, key, err);
	if (*err)
		return -1;
	*out = v;
	return 0;
}

/* [store], [campaigns], [institution], [export] (docs/campaigns.md) */
static int read_campaigns(GKeyFile *kf, bw_config *cfg, GError **err)
{
	read_string(kf, "store", "db", &cfg->store_db);
	read_string(kf, "campaigns", "shared_infrastructure", &cfg->campaign_shared_file);
	read_string(kf, "institution", "name", &cfg->institution_name);
	read_string(kf, "institution", "identity_class", &cfg->institution_class);
	read_string(kf, "institution", "sector", &cfg->institution_sector);
	read_string(kf, "institution", "contact", &cfg->institution_contact);
	read_string(kf, "export", "tlp", &cfg->export_tlp);
	if (cfg->export_tlp) {
		bw_ascii_lower(cfg->export_tlp);
		const char *ok[] = {"clear", "green", "amber", "amber+strict", "red"};
		bool known = false;
		for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
			known |= strcmp(cfg->export_tlp, ok[i]) == 0;
		if (!known) {
			g_set_error(err, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
				    "[export] tlp must be clear, green, amber, amber+strict or red");
			return -1;
		}
	}
	if (read_bool(kf, "store", "keep_bodies", &cfg->store_keep_bodies, err) < 0 ||
	    read_bool(kf, "store", "include_recipients", &cfg->store_include_recipients, err) < 0 ||
	    read_bool(kf, "export", "include_recipients", &cfg->export_include_recipients, err) < 0)
		return -1;
	return 0;
}

int bw_config_load(bw_config *cfg, const char *path, char **error)
{
	GKeyFile *kf = g_key_file_new();
	GError *err = NULL;
	bw_limits *l = &cfg->limits;
	if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err) &&
	    read_size(kf, "limits", "max_message_bytes", &l->max_message_bytes, &err) == 0 &&
	    read_uint(kf, "limits", "max_mime_depth", &l->max_mime_depth, &err) == 0 &&
	    read_uint(kf, "limits", "max_parts", &l->max_parts, &err) == 0 &&
	    read_size(kf, "limits", "max_decoded_bytes", &l->max_decoded_bytes, &err) == 0 &&
	    read_size(kf, "limits", "max_html_bytes", &l->max_html_bytes, &err) == 0 &&
	    read_uint(kf, "limits", "max_html_depth", &l->max_html_depth, &err) == 0 &&
	    read_uint(kf, "limits", "max_html_nodes", &l->max_html_nodes, &err) == 0 &&
	    read_uint(kf, "limits", "max_resources", &l->max_resources, &err) == 0 &&
	    read_uint(kf, "limits", "max_links", &l->max_links, &err) == 0 &&
	    read_archive_limits(kf, l, &err) == 0 &&
	    read_attachments(kf, cfg, &err) == 0 &&
	    read_double(kf, "scoring", "suspicious", &cfg->suspicious_threshold, &err) == 0 &&
	    read_double(kf, "scoring", "malicious", &cfg->malicious_threshold, &err) == 0) {
		char *dir = g_key_file_get_string(kf, "trackers", "lists", NULL);
		if (dir) {
			free(cfg->tracker_dir);
			cfg->tracker_dir = bw_xstrdup(dir);
			g_free(dir);
		}
		char *outlets = g_key_file_get_string(kf, "protected", "outlets", NULL);
		if (outlets) {
			g_strstrip(outlets);
			free(cfg->outlets_file);
			cfg->outlets_file = *outlets ? bw_xstrdup(outlets) : NULL;
			cfg->outlets_off = !*outlets;
			g_free(outlets);
		}
		char *short_file = g_key_file_get_string(kf, "links", "shorteners", NULL);
		if (short_file) {
			g_strstrip(short_file);
			free(cfg->shorteners_file);
			cfg->shorteners_file = *short_file ? bw_xstrdup(short_file) : NULL;
			g_free(short_file);
		}
		read_identities(kf, &cfg->identities, BW_IDENT_ORG, &err);
		read_history(kf, cfg);
		read_auth(kf, cfg);
		if (!err)
			read_intel(kf, cfg, &err);
		if (!err)
			read_campaigns(kf, cfg, &err);
	}
	g_key_file_free(kf);
	if (err)
		return key_file_error(path, err, error);
	if (cfg->malicious_threshold < cfg->suspicious_threshold) {
		bw_buf b = {0};
		bw_buf_printf(&b, "%s: [scoring] malicious is below suspicious", path);
		*error = bw_buf_steal(&b);
		return -1;
	}
	return 0;
}

/* An explicitly configured fingerprint list must load; the default one is
 * used when found. */
static void load_esps(bw_engine *e, bw_strvec *errors)
{
	char *path = e->cfg.esp_off ? NULL
		     : e->cfg.esp_file ? bw_xstrdup(e->cfg.esp_file)
				       : bw_default_data_file("esp-fingerprints.conf", "BULWARK_ESP_FINGERPRINTS");
	if (!path)
		return;
	char *err = NULL;
	e->esps = bw_esp_db_load(path, &err);
	if (!e->esps)
		bw_strvec_push_owned(errors, err);
	free(path);
}

/* A configured database must open; the default one is used when it exists. */
static void open_intel(bw_engine *e, bw_strvec *errors)
{
	char *path = e->cfg.intel_db ? bw_xstrdup(e->cfg.intel_db) : bw_intel_default_path();
	if (path && (e->cfg.intel_db || g_file_test(path, G_FILE_TEST_IS_REGULAR))) {
		char *err = NULL;
		e->intel = e->cfg.intel_immutable ? bw_intel_open_immutable(path, &err)
						  : bw_intel_open(path, false, &err);
		if (!e->intel)
			bw_strvec_push_owned(errors, err);
	}
	free(path);
}

bw_engine *bw_engine_new(bw_config *cfg, bw_strvec *errors)
{
	bw_mail_init();
	bw_engine *e = bw_xcalloc(1, sizeof *e);
	e->cfg = *cfg;
	memset(cfg, 0, sizeof *cfg);
	if (e->cfg.tracker_dir)
		e->trackers = bw_tracker_db_load(e->cfg.tracker_dir, errors);
	e->filetype = bw_filetype_new();
	if (!e->filetype)
		bw_strvec_push(errors, "libmagic database not loaded: attachment types are not detected");
	/* the outlet list: an explicitly configured file must load; the default
	 * one is used when it is found */
	char *outlets = e->cfg.outlets_off ? NULL
			: e->cfg.outlets_file ? bw_xstrdup(e->cfg.outlets_file)
				: bw_default_data_file("news-outlets.conf", "BULWARK_OUTLETS");
	if (outlets) {
		char *err = NULL;
		if (bw_identities_load(&e->cfg.identities, outlets, BW_IDENT_OUTLET, &err) < 0) {
			bw_strvec_push_owned(errors, err);
		} else if (!e->cfg.outlets_file) {
			e->cfg.outlets_file = outlets;
			outlets = NULL;
		}
		free(outlets);
	}
	e->protected_ids = bw_protected_new(&e->cfg.identities, e->cfg.shorteners_file, errors);
	if (e->cfg.history_db) {
		char *err = NULL;
		e->history = bw_history_open(e->cfg.history_db, &err);
		if (!e->history)
			bw_strvec_push_owned(errors, err);
	}
	if (e->cfg.yara_rules)
		e->yara = bw_yara_load(e->cfg.yara_rules, e->cfg.yara_timeout, errors);
	load_esps(e, errors);
	open_intel(e, errors);
	return e;
}

void bw_engine_free(bw_engine *e)
{
	if (!e)
		return;
	bw_tracker_db_free(e->trackers);
	bw_filetype_free(e->filetype);
	bw_protected_free(e->protected_ids);
	bw_history_close(e->history);
	bw_yara_free(e->yara);
	bw_esp_db_free(e->esps);
	bw_intel_close(e->intel);
	bw_config_free(&e->cfg);
	free(e);
}

/* Links in a plain-text part: what a mail client would make clickable. */
static void extract_text_links(bw_message *m, unsigned part, const bw_limits *lim)
{
	const bw_part *p = &m->parts[part];
	size_t pos = 0, start, end;
	while (bw_text_next_url(p->data, p->len, &pos, &start, &end)) {
		if (m->nlinks >= lim->max_links) {
			/* the words bw_html_extract uses, once per message */
			char why[96];
			snprintf(why, sizeof why, "more than max_links (%u) links: the rest are not listed",
				 lim->max_links);
			if (!bw_strvec_contains(&m->errors, why))
				bw_strvec_push(&m->errors, why);
			return;
		}
		bw_buf in = {0};
		if (bw_ascii_istartswith(p->data + start, "www."))
			bw_buf_puts(&in, "http://");
		bw_buf_append(&in, p->data + start, end - start);
		bw_url u;
		if (bw_url_parse(in.data, in.len, NULL, &u) == 0) {
			bw_link *l = bw_message_add_link(m);
			l->url = bw_xstrdup(u.href);
			l->text = bw_xstrndup(p->data + start, end - start);
			l->unwrapped = bw_url_unwrap(&u);
			l->flags = BW_LINK_TEXT_IS_URL;
			l->part = part;
			l->span_start = start;
			l->span_end = end;
			bw_url_free(&u);
		}
		bw_buf_free(&in);
	}
}

void bw_engine_scan(bw_engine *e, bw_message *m, const char *source, const char *data, size_t len)
{
	bw_mail_parse(m, source, data, len, e->cfg.recipient, &e->cfg.limits);
	for (size_t i = 0; i < e->cfg.more_recipients.n; i++)
		bw_message_add_recipient(m, e->cfg.more_recipients.v[i]);
	/* archive members are appended as the loop goes: they get their type
	 * and are extracted in turn, like the attachments they came from */
	bw_archive_budget budget = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		if (m->parts[i].kind != BW_PART_ATTACHMENT)
			continue;
		m->parts[i].detected_type = bw_filetype_detect(e->filetype, m->parts[i].data, m->parts[i].len);
		bw_archive_extract(m, (unsigned)i, &e->cfg.limits, &budget);
	}
	bw_archive_budget_free(&budget);
	bw_authres_collect(m, &e->cfg.trusted_authserv_ids);
	bw_received_parse(m, &e->cfg.internal_networks);
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].kind == BW_PART_HTML)
			bw_html_extract(m, (unsigned)i, &e->cfg.limits);
		else if (m->parts[i].kind == BW_PART_TEXT)
			extract_text_links(m, (unsigned)i, &e->cfg.limits);
		else
			bw_docrels_extract(m, (unsigned)i, &e->cfg.limits);
	bw_detect_all(m, e);
	bw_score(m, &e->cfg);
}
