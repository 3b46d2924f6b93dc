/* YARA_MATCH: every attachment and archive member scanned with the rules of
 * the configured directory ([attachments] yara_rules), compiled once per
 * engine with libyara. A rule file that does not compile is reported and
 * left out; the others still load. Scans run with a timeout; after one times
 * out the rest of that message is not scanned, so one hostile message
 * cannot hold a worker for the timeout times its attachment count.
 *
 * Score 5 (suspicious on its own): a rule is a statement that the file
 * resembles known malicious tooling, though generic rules can misfire. */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yara.h>

#include "bulwark/report.h"
#include "detect/detect.h"

enum { MAX_STRINGS = 5, MAX_MATCHES = 10 };

/* External variables that shared rule sets (e.g. signature-base) test. */
static const char *const externals[] = {"filename", "filepath", "extension", "filetype", "owner"};

struct bw_yara {
	YR_RULES *rules;
	YR_SCANNER *scanner;
	unsigned files, rule_count;
};

typedef struct compile_log {
	bw_buf first; /* the first error, "FILE:LINE: message" */
} compile_log;

static void on_compile(int level, const char *file, int line, const YR_RULE *rule, const char *msg, void *arg)
{
	compile_log *log = arg;
	if (level == YARA_ERROR_LEVEL_ERROR && !log->first.len)
		bw_buf_printf(&log->first, "%s:%d: %s", file ? file : "?", line, msg);
}

static YR_COMPILER *new_compiler(compile_log *log)
{
	YR_COMPILER *c;
	if (yr_compiler_create(&c) != ERROR_SUCCESS)
		return NULL;
	yr_compiler_set_callback(c, on_compile, log);
	for (size_t i = 0; i < sizeof externals / sizeof externals[0]; i++)
		yr_compiler_define_string_variable(c, externals[i], "");
	return c;
}

/* Compiles path into c under namespace ns; returns the number of errors.
 * A compiler that saw an error cannot be used again (libyara), so each
 * file is first tried alone. */
static int add_file(YR_COMPILER *c, const char *path, const char *ns)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int errors = yr_compiler_add_file(c, f, ns, path);
	fclose(f);
	return errors;
}

static bool rule_file(const char *name)
{
	const char *dot = strrchr(name, '.');
	return name[0] != '.' && dot && (strcmp(dot, ".yar") == 0 || strcmp(dot, ".yara") == 0);
}

bw_yara *bw_yara_load(const char *dir, int timeout, bw_strvec *errors)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d) {
		bw_strvec_pushf(errors, "yara: cannot open rules directory %s", dir);
		return NULL;
	}
	bw_strvec names = {0};
	for (const char *n; (n = g_dir_read_name(d));)
		if (rule_file(n))
			bw_strvec_push(&names, n);
	g_dir_close(d);
	qsort(names.v, names.n, sizeof *names.v, (int (*)(const void *, const void *))g_strcmp0);
	if (yr_initialize() != ERROR_SUCCESS) {
		bw_strvec_push(errors, "yara: libyara did not initialise");
		bw_strvec_free(&names);
		return NULL;
	}
	compile_log log = {0};
	YR_COMPILER *all = new_compiler(&log);
	bw_yara *y = bw_xcalloc(1, sizeof *y);
	for (size_t i = 0; all && i < names.n; i++) {
		char *path = g_build_filename(dir, names.v[i], NULL);
		char *ns = bw_xstrndup(names.v[i], strrchr(names.v[i], '.') - names.v[i]);
		compile_log trial_log = {0};
		YR_COMPILER *trial = new_compiler(&trial_log);
		int bad = trial ? add_file(trial, path, ns) : -1;
		if (trial)
			yr_compiler_destroy(trial);
		if (bad == 0 && add_file(all, path, ns) == 0)
			y->files++;
		else
			bw_strvec_pushf(errors, "yara: %s not loaded: %s", path,
					trial_log.first.len ? trial_log.first.data : "unreadable");
		bw_buf_free(&trial_log.first);
		free(ns);
		g_free(path);
	}
	bw_strvec_free(&names);
	bw_buf_free(&log.first);
	if (all && y->files && yr_compiler_get_rules(all, &y->rules) == ERROR_SUCCESS &&
	    yr_scanner_create(y->rules, &y->scanner) == ERROR_SUCCESS) {
		YR_RULE *r;
		yr_rules_foreach(y->rules, r)
			y->rule_count++;
		yr_scanner_set_timeout(y->scanner, timeout);
	} else if (!y->files) {
		bw_strvec_pushf(errors, "yara: no rules loaded from %s", dir);
	}
	if (all)
		yr_compiler_destroy(all);
	if (!y->scanner) {
		bw_yara_free(y);
		return NULL;
	}
	return y;
}

void bw_yara_free(bw_yara *y)
{
	if (!y)
		return;
	if (y->scanner)
		yr_scanner_destroy(y->scanner);
	if (y->rules)
		yr_rules_destroy(y->rules);
	free(y);
	yr_finalize();
}

unsigned bw_yara_rule_count(const bw_yara *y)
{
	return y ? y->rule_count : 0;
}

typedef struct scan_state {
	bw_buf matches; /* JSON objects */
	unsigned n;
	bw_strvec names;
} scan_state;

static void meta_json(bw_buf *b, const YR_RULE *rule)
{
	const YR_META *meta;
	bool first = true;
	bw_buf_putc(b, '{');
	yr_rule_metas_foreach(rule, meta) {
		if (!first)
			bw_buf_putc(b, ',');
		first = false;
		bw_json_string(b, meta->identifier);
		bw_buf_putc(b, ':');
		if (meta->type == META_TYPE_STRING)
			bw_json_string(b, meta->string);
		else if (meta->type == META_TYPE_BOOLEAN)
			bw_buf_puts(b, meta->integer ? "true" : "false");
		else
			bw_buf_printf(b, "%lld", (long long)meta->integer);
	}
	bw_buf_putc(b, '}');
}

static int on_scan(YR_SCAN_CONTEXT *ctx, int message, void *data, void *arg)
{
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	scan_state *st = arg;
	const YR_RULE *rule = data;
	if (st->n++ >= MAX_MATCHES)
		return CALLBACK_CONTINUE;
	bw_strvec_push(&st->names, rule->identifier);
	bw_buf *b = &st->matches;
	if (b->len)
		bw_buf_putc(b, ',');
	bw_buf_puts(b, "{\"rule\":");
	bw_json_string(b, rule->identifier);
	bw_buf_puts(b, ",\"namespace\":");
	bw_json_string(b, rule->ns->name);
	bw_buf_puts(b, ",\"tags\":[");
	const char *tag;
	bool first = true;
	yr_rule_tags_foreach(rule, tag) {
		if (!first)
			bw_buf_putc(b, ',');
		first = false;
		bw_json_string(b, tag);
	}
	bw_buf_puts(b, "],\"meta\":");
	meta_json(b, rule);
	bw_buf_puts(b, ",\"strings\":[");
	const YR_STRING *s;
	unsigned shown = 0;
	yr_rule_strings_foreach(rule, s) {
		/* libyara 4.2 keeps matches at unaligned addresses, so each is
		 * copied out rather than read in place (yr_string_matches_foreach) */
		const YR_MATCH *at = ctx->matches[s->idx].head;
		while (at && shown < MAX_STRINGS) {
			YR_MATCH mt;
			memcpy(&mt, at, sizeof mt);
			if (!mt.is_private) {
				if (shown++)
					bw_buf_putc(b, ',');
				bw_buf_puts(b, "{\"id\":");
				bw_json_string(b, s->identifier);
				bw_buf_printf(b, ",\"offset\":%lld}", (long long)(mt.base + mt.offset));
				break;
			}
			at = mt.next;
		}
	}
	bw_buf_puts(b, "]}");
	return CALLBACK_CONTINUE;
}

void bw_detect_yara(bw_message *m, const bw_engine *e)
{
	if (!e->yara)
		return;
	YR_SCANNER *sc = e->yara->scanner;
	bw_attach_hits h = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (p->kind != BW_PART_ATTACHMENT || p->len == 0)
			continue;
		char ext[32];
		bw_attach_extension(p->filename, ext, sizeof ext, 0);
		const char *values[] = {p->filename ? p->filename : "", p->archive_path ? p->archive_path : "",
					ext, p->detected_type ? p->detected_type : "", ""};
		for (size_t k = 0; k < sizeof externals / sizeof externals[0]; k++)
			yr_scanner_define_string_variable(sc, externals[k], values[k]);
		scan_state st = {0};
		yr_scanner_set_callback(sc, on_scan, &st);
		int rc = yr_scanner_scan_mem(sc, (const uint8_t *)p->data, p->len);
		if (st.n) {
			bw_buf phrase = {0}, det = {0};
			bw_buf_printf(&phrase, "YARA rule%s ", st.n == 1 ? "" : "s");
			for (size_t k = 0; k < st.names.n; k++)
				bw_buf_printf(&phrase, "%s%s", k ? ", " : "", st.names.v[k]);
			bw_buf_printf(&det, "\"rules_matched\":%u,\"matches\":[", st.n);
			bw_buf_append(&det, st.matches.data, st.matches.len);
			bw_buf_putc(&det, ']');
			bw_attach_hit(&h, m, (unsigned)i, 5, "T1566.001 T1204.002", phrase.data, det.data);
			bw_buf_free(&phrase);
			bw_buf_free(&det);
		}
		bw_buf_free(&st.matches);
		bw_strvec_free(&st.names);
		if (rc == ERROR_SCAN_TIMEOUT) {
			bw_strvec_pushf(&m->errors, "limit: YARA scan of \"%s\" timed out (yara_timeout); "
					"the message's other attachments were not scanned",
					p->filename ? p->filename : "(unnamed)");
			break;
		}
	}
	bw_attach_hits_emit(m, &h, "YARA_MATCH");
}
