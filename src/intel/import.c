/* bw_intel_import: recognises a file's format by its content and imports it
 * in one transaction, so that a malformed file leaves nothing behind. */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel_impl.h"

/* Intel files are large (ATT&CK is 33 MB) but not unbounded. */
#define MAX_INTEL_FILE ((size_t)1 << 30)

json_t *intel_load_json(const char *path, char **error)
{
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		*error = bw_xasprintf("%s: line %d, column %d: %s", path, je.line, je.column, je.text);
	}
	return root;
}

static bool is_stix(const json_t *root)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	const char *id = json_string_value(json_object_get(root, "id"));
	return (type && strcmp(type, "bundle") == 0) || (type && id && strstr(id, "--"));
}

/* A MISP feed manifest: every member an event summary with "info". */
static bool is_manifest(const json_t *root)
{
	if (json_object_size(root) == 0)
		return false;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)root, k, v)
		if (!json_is_object(v) || !json_object_get(v, "info"))
			return false;
	return true;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int import_galaxies(bw_intel *in, const char *dir, bw_intel_summary *sum, char **error)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return 0;
	bw_strvec files = {0};
	for (const char *n; (n = g_dir_read_name(d));)
		if (g_str_has_suffix(n, ".json"))
			bw_strvec_push_owned(&files, g_build_filename(dir, n, NULL));
	g_dir_close(d);
	/* in name order: which cluster merges first decides ambiguities */
	qsort(files.v, files.n, sizeof *files.v, cmp_path);
	int rc = 0;
	/* twice: a synonym learnt from one galaxy can link a cluster of another */
	for (int pass = 0; pass < 2 && rc == 0; pass++)
		for (size_t i = 0; i < files.n && rc == 0; i++) {
			json_t *root = intel_load_json(files.v[i], error);
			rc = root ? intel_import_galaxy(in, root, sum, error) : -1;
			json_decref(root);
		}
	bw_strvec_free(&files);
	return rc;
}

/* misp-galaxy beside the file, or one level up (the layout of the shared
 * intel directory: attack/enterprise-attack.json, misp-galaxy/). */
static char *find_galaxy_dir(const char *path)
{
	char *dir = g_path_get_dirname(path);
	char *cands[] = {g_build_filename(dir, "misp-galaxy", NULL),
			 g_build_filename(dir, "..", "misp-galaxy", NULL)};
	char *found = NULL;
	for (size_t i = 0; i < 2; i++) {
		if (!found && g_file_test(cands[i], G_FILE_TEST_IS_DIR))
			found = bw_xstrdup(cands[i]);
		g_free(cands[i]);
	}
	g_free(dir);
	return found;
}

/* given_source: --source, or NULL (source is then the file's name). */
static int import_json(bw_intel *in, const char *path, json_t *root, const char *source,
		       const char *given_source, const char *galaxy_dir, bw_intel_summary *sum, char **error)
{
	if (!json_is_object(root)) {
		*error = bw_xasprintf("%s: not a STIX bundle, MISP feed, event, warninglist or galaxy", path);
		return -1;
	}
	int rc;
	if (is_stix(root)) {
		sum->format = "stix";
		rc = intel_import_stix(in, root, source, sum, error);
		if (rc == 0 && sum->intrusion_sets) {
			char *g = galaxy_dir ? bw_xstrdup(galaxy_dir) : find_galaxy_dir(path);
			if (g)
				rc = import_galaxies(in, g, sum, error);
			free(g);
		}
	} else if (json_object_get(root, "Event")) {
		sum->format = "misp-event";
		rc = intel_import_misp_event(in, json_object_get(root, "Event"), source, sum, error);
	} else if (json_is_array(json_object_get(root, "list"))) {
		sum->format = "warninglist";
		rc = intel_import_warninglist(in, root, given_source, sum, error);
	} else if (json_is_array(json_object_get(root, "values"))) {
		sum->format = "galaxy";
		rc = intel_import_galaxy(in, root, sum, error);
	} else if (is_manifest(root)) {
		sum->format = "misp-feed";
		char *dir = g_path_get_dirname(path);
		rc = intel_import_misp_feed(in, root, dir, source, sum, error);
		g_free(dir);
	} else {
		*error = bw_xasprintf("%s: not a STIX bundle, MISP feed, event, warninglist or galaxy", path);
		rc = -1;
	}
	return rc;
}

static int import_path(bw_intel *in, const char *path, const char *source, const char *given_source,
		       const char *galaxy_dir, bw_intel_summary *sum, char **error)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
		char *manifest = g_build_filename(path, "manifest.json", NULL);
		int rc = -1;
		if (!g_file_test(manifest, G_FILE_TEST_IS_REGULAR)) {
			*error = bw_xasprintf("%s: a directory without manifest.json (not a MISP feed)", path);
		} else {
			rc = import_path(in, manifest, source, given_source, galaxy_dir, sum, error);
		}
		g_free(manifest);
		return rc;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		*error = bw_xasprintf("%s: cannot open: %s", path, g_strerror(errno));
		return -1;
	}
	int c;
	while ((c = fgetc(f)) != EOF && g_ascii_isspace(c))
		;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	if (size < 0 || (size_t)size > MAX_INTEL_FILE) {
		*error = bw_xasprintf("%s: larger than %zu bytes", path, MAX_INTEL_FILE);
		return -1;
	}
	if (c == '{' || c == '[') {
		json_t *root = intel_load_json(path, error);
		if (!root)
			return -1;
		int rc = import_json(in, path, root, source, given_source, galaxy_dir, sum, error);
		json_decref(root);
		return rc;
	}
	sum->format = "list";
	return intel_import_list(in, path, source, sum, error);
}

int bw_intel_import(bw_intel *in, const char *path, const char *source, const char *galaxy_dir,
		    bw_intel_summary *sum, char **error)
{
	memset(sum, 0, sizeof *sum);
	*error = NULL;
	char *base = g_path_get_basename(path);
	if (g_file_test(path, G_FILE_TEST_IS_DIR) || strcmp(base, "manifest.json") == 0) {
		/* a feed is named by its directory */
		char *dir = g_file_test(path, G_FILE_TEST_IS_DIR) ? g_strdup(path) : g_path_get_dirname(path);
		g_free(base);
		base = g_path_get_basename(dir);
		g_free(dir);
	}
	if (intel_exec(in, "BEGIN IMMEDIATE", "") < 0) {
		g_free(base);
		return intel_error(in, error);
	}
	int rc = import_path(in, path, source ? source : base, source, galaxy_dir, sum, error);
	if (rc == 0)
		rc = intel_link_actors(in, error);
	if (rc < 0 && *error && strncmp(*error, path, strlen(path)) != 0) {
		/* importers name the object, line or event file; the file
		 * given goes in front */
		char *msg = bw_xasprintf("%s: %s", path, *error);
		free(*error);
		*error = msg;
	}
	if (rc == 0 && intel_exec(in, "COMMIT", "") < 0)
		rc = intel_error(in, error);
	if (rc < 0) {
		intel_exec(in, "ROLLBACK", "");
		bw_strvec_free(&sum->unsupported_list);
		bw_strvec_free(&sum->unknown_actors);
		const char *format = sum->format;
		memset(sum, 0, sizeof *sum);
		sum->format = format;
		if (!*error)
			intel_error(in, error);
	}
	in->prefixes_loaded = false;
	memset(in->prefixes, 0, sizeof in->prefixes);
	g_free(base);
	return rc;
}
