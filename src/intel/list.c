/* Plain lists and CSV: one value per line, its type detected, or CSV with a
 * header naming a "value" column (and optionally "type", MISP or our type
 * names). Lines starting with '#' are comments. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel_impl.h"

#define MAX_LINE 65536

typedef struct list_ctx {
	bw_intel *in;
	const char *source;
	bw_intel_summary *sum;
	int value_col, type_col; /* -1: the whole line is the value */
	char delim;
} list_ctx;

static char **split(const char *line, char delim)
{
	char d[2] = {delim, 0};
	char **f = g_strsplit(line, d, -1);
	for (char **p = f; *p; p++) {
		g_strstrip(*p);
		size_t n = strlen(*p);
		if (n >= 2 && (*p)[0] == '"' && (*p)[n - 1] == '"') {
			memmove(*p, *p + 1, n - 2);
			(*p)[n - 2] = '\0';
		}
	}
	return f;
}

/* A header line: one field is "value" (or "indicator", "ioc"). */
static bool read_header(list_ctx *c, const char *line)
{
	static const char delims[] = ",;\t";
	for (const char *d = delims; *d; d++) {
		if (!strchr(line, *d))
			continue;
		char **f = split(line, *d);
		for (int i = 0; f[i]; i++) {
			if (bw_ascii_iequal(f[i], "value") || bw_ascii_iequal(f[i], "indicator") ||
			    bw_ascii_iequal(f[i], "ioc"))
				c->value_col = i;
			else if (bw_ascii_iequal(f[i], "type"))
				c->type_col = i;
		}
		g_strfreev(f);
		if (c->value_col >= 0) {
			c->delim = *d;
			return true;
		}
		c->type_col = -1;
	}
	return false;
}

/* One indicator with the observables norms[0..n) (an AND group when more
 * than one), its synthetic id made of them: the same values from the same
 * source are the same indicator on re-import. A CIDR's prefix is part of
 * the id (10.0.0.0/8 and 10.0.0.0/24 differ). */
static int add_indicator(list_ctx *c, const bw_obs_type *types, char **norms, const int *prefix, size_t n)
{
	bw_buf id = {0};
	bw_buf_printf(&id, "list:%s:", c->source);
	for (size_t i = 0; i < n; i++)
		bw_buf_printf(&id, "%s%s", i ? "|" : "", bw_obs_type_name(types[i]));
	for (size_t i = 0; i < n; i++) {
		bw_buf_printf(&id, "%s%s", i ? "|" : ":", norms[i]);
		if (prefix[i] >= 0)
			bw_buf_printf(&id, "/%d", prefix[i]);
	}
	intel_indicator ind = {.stix_id = id.data, .modified = "", .source = c->source};
	int64_t row = intel_add_indicator(c->in, &ind, c->sum);
	int rc = row < 0 ? -1 : 0;
	for (size_t i = 0; i < n && row > 0 && rc == 0; i++)
		rc = intel_add_observable(c->in, row, types[i], norms[i], prefix[i], n > 1, c->sum);
	bw_buf_free(&id);
	return rc;
}

static int add_value(list_ctx *c, size_t lineno, const char *type_name, const char *value)
{
	bw_obs_type types[2];
	char *values[2], *norms[2] = {NULL, NULL};
	int prefix[2];
	size_t n;
	bool together = false;
	if (type_name && *type_name) {
		n = intel_typed_values(type_name, value, types, values, &together);
	} else {
		types[0] = bw_obs_detect(value);
		values[0] = bw_xstrdup(value);
		n = types[0] == BW_OBS_NONE ? 0 : 1;
		if (!n)
			free(values[0]);
	}
	if (n == 0) {
		intel_unsupported(c->sum, "line %zu: '%s' %s%s", lineno, value,
				  type_name && *type_name ? "has unknown type " : "is not a recognised value",
				  type_name && *type_name ? type_name : "");
		return 0;
	}
	size_t valid = 0;
	for (size_t i = 0; i < n; i++) {
		norms[i] = bw_obs_normalise(types[i], values[i], &prefix[i]);
		if (norms[i])
			valid++;
		else
			intel_unsupported(c->sum, "line %zu: '%s' is not a valid %s", lineno, values[i],
					  bw_obs_type_name(types[i]));
	}
	int rc = 0;
	if (together) {
		if (valid == n)
			rc = add_indicator(c, types, norms, prefix, n);
	} else {
		for (size_t i = 0; i < n && rc == 0; i++)
			if (norms[i])
				rc = add_indicator(c, &types[i], &norms[i], &prefix[i], 1);
	}
	for (size_t i = 0; i < n; i++) {
		free(norms[i]);
		free(values[i]);
	}
	return rc;
}

int intel_import_list(bw_intel *in, const char *path, const char *source, bw_intel_summary *sum,
		      char **error)
{
	char *data = NULL;
	gsize len = 0;
	GError *gerr = NULL;
	if (!g_file_get_contents(path, &data, &len, &gerr)) {
		*error = g_strdup(gerr->message);
		g_error_free(gerr);
		return -1;
	}
	list_ctx c = {in, source, sum, -1, -1, 0};
	int rc = 0;
	size_t lineno = 0;
	bool first = true;
	for (char *line = data, *next; line && rc == 0; line = next) {
		lineno++;
		char *nl = memchr(line, '\n', len - (size_t)(line - data));
		next = nl ? nl + 1 : NULL;
		size_t n = nl ? (size_t)(nl - line) : len - (size_t)(line - data);
		if (n == 0 && !nl)
			break;
		if (n > MAX_LINE || memchr(line, '\0', n) || !g_utf8_validate(line, (gssize)n, NULL)) {
			*error = bw_xasprintf("line %zu: %s", lineno,
					      n > MAX_LINE ? "longer than 65536 bytes" : "not UTF-8 text");
			rc = -1;
			break;
		}
		char *l = g_strstrip(g_strndup(line, n));
		if (*l && *l != '#' && !(first && read_header(&c, l))) {
			size_t cut = strcspn(l, ",;\t");
			if (c.value_col < 0 && l[cut] && bw_obs_detect(l) == BW_OBS_NONE)
				l[cut] = '\0'; /* "value,comment" without a header */
			if (c.value_col < 0) {
				rc = add_value(&c, lineno, NULL, g_strstrip(l));
			} else {
				char **f = split(l, c.delim);
				guint nf = g_strv_length(f);
				if ((guint)c.value_col < nf && *f[c.value_col])
					rc = add_value(&c, lineno, c.type_col >= 0 && (guint)c.type_col < nf ? f[c.type_col] : NULL,
						       f[c.value_col]);
				g_strfreev(f);
			}
		}
		if (*l && *l != '#')
			first = false;
		g_free(l);
	}
	g_free(data);
	if (rc < 0 && !*error)
		return intel_error(in, error);
	return rc;
}
