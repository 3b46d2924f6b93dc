/* The pipeline in one place: parse (src/mail) -> extract (src/html, src/url)
 * -> detect (src/detect) -> score (src/report). Also the configuration file,
 * because every stage reads its part of it. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/engine.h"
#include "bulwark/html.h"
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
}

void bw_config_free(bw_config *cfg)
{
	free(cfg->tracker_dir);
	free(cfg->recipient);
	cfg->tracker_dir = cfg->recipient = NULL;
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
	    read_double(kf, "scoring", "suspicious", &cfg->suspicious_threshold, &err) == 0 &&
	    read_double(kf, "scoring", "malicious", &cfg->malicious_threshold, &err) == 0) {
		char *dir = g_key_file_get_string(kf, "trackers", "lists", NULL);
		if (dir) {
			free(cfg->tracker_dir);
			cfg->tracker_dir = bw_xstrdup(dir);
			g_free(dir);
		}
	}
	g_key_file_free(kf);
	if (err) {
		bw_buf b = {0};
		bw_buf_printf(&b, "%s: %s", path, err->message);
		*error = bw_buf_steal(&b);
		g_error_free(err);
		return -1;
	}
	if (cfg->malicious_threshold < cfg->suspicious_threshold) {
		bw_buf b = {0};
		bw_buf_printf(&b, "%s: [scoring] malicious is below suspicious", path);
		*error = bw_buf_steal(&b);
		return -1;
	}
	return 0;
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
	return e;
}

void bw_engine_free(bw_engine *e)
{
	if (!e)
		return;
	bw_tracker_db_free(e->trackers);
	bw_filetype_free(e->filetype);
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
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].kind == BW_PART_ATTACHMENT)
			m->parts[i].detected_type = bw_filetype_detect(e->filetype, m->parts[i].data, m->parts[i].len);
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].kind == BW_PART_HTML)
			bw_html_extract(m, (unsigned)i, &e->cfg.limits);
		else if (m->parts[i].kind == BW_PART_TEXT)
			extract_text_links(m, (unsigned)i, &e->cfg.limits);
	bw_detect_all(m, e);
	bw_score(m, &e->cfg);
}
