/* The shape every attachment finding shares (attachments.c, archives.c,
 * office.c, pdf.c, yara.c): one finding per id per message, scored by its
 * worst hit, listing up to 10 attachments with where each one sits
 * (archive path and the chain of containers) and what was found in it. */
#include <glib.h>
#include <string.h>

#include "bulwark/report.h"
#include "detect/detect.h"

enum { MAX_EXAMPLES = 10 };

/* "files.zip > docs/inner.zip": the containers of a member, outermost first. */
static void container_chain(bw_buf *b, const bw_message *m, const bw_part *p)
{
	if (!p->archive_path) {
		bw_buf_puts(b, p->filename ? p->filename : "(unnamed)");
		return;
	}
	container_chain(b, m, &m->parts[p->container]);
	bw_buf_puts(b, " > ");
	bw_buf_puts(b, p->archive_path);
}

void bw_attach_hit(bw_attach_hits *h, const bw_message *m, unsigned part, double score,
		   const char *attack, const char *phrase, const char *details)
{
	const bw_part *p = &m->parts[part];
	bool worst = h->count++ == 0 || score > h->score;
	if (worst)
		h->score = score;
	if (attack) {
		char **ids = g_strsplit(attack, " ", -1);
		for (char **id = ids; *id; id++)
			if (**id && !bw_strvec_contains(&h->attack, *id))
				bw_strvec_push(&h->attack, *id);
		g_strfreev(ids);
	}
	bw_buf where = {0};
	container_chain(&where, m, p);
	if (worst) { /* the summary names the worst hit */
		bw_buf_reset(&h->summary);
		bw_buf_printf(&h->summary, "%s: %s", where.data, phrase);
	}
	if (h->count <= MAX_EXAMPLES) {
		bw_buf *b = &h->items;
		if (b->len)
			bw_buf_putc(b, ',');
		bw_buf_puts(b, "{\"filename\":");
		bw_json_string(b, p->filename);
		bw_buf_puts(b, ",\"path\":");
		bw_json_string(b, p->archive_path);
		bw_buf_puts(b, ",\"in\":");
		bw_json_string(b, where.data);
		bw_buf_printf(b, ",\"sha256\":\"%s\",\"finding\":", p->sha256);
		bw_json_string(b, phrase);
		if (details && *details) {
			bw_buf_putc(b, ',');
			bw_buf_puts(b, details);
		}
		bw_buf_putc(b, '}');
	}
	bw_buf_free(&where);
}

void bw_attach_hits_emit(bw_message *m, bw_attach_hits *h, const char *id)
{
	if (h->count) {
		bw_severity sev = h->score >= 4 ? BW_SEV_HIGH : h->score >= 2 ? BW_SEV_MEDIUM
				  : h->score > 0 ? BW_SEV_LOW : BW_SEV_INFO;
		if (h->count > 1)
			bw_buf_printf(&h->summary, " (and %zu more)", h->count - 1);
		bw_finding *f = bw_message_add_finding(m, id, sev, h->score, h->summary.data);
		for (size_t i = 0; i < h->attack.n; i++)
			bw_strvec_push(&f->attack, h->attack.v[i]);
		bw_buf ev = {0};
		bw_buf_printf(&ev, "{\"count\":%zu,\"attachments\":[", h->count);
		bw_buf_append(&ev, h->items.data, h->items.len);
		bw_buf_puts(&ev, "]}");
		f->evidence_json = bw_buf_steal(&ev);
	}
	bw_buf_free(&h->items);
	bw_buf_free(&h->summary);
	bw_strvec_free(&h->attack);
	memset(h, 0, sizeof *h);
}

const char *bw_attach_extension(const char *name, char *out, size_t outsz, unsigned which)
{
	out[0] = '\0';
	if (!name)
		return out;
	size_t end = strlen(name);
	for (unsigned k = 0; k <= which; k++) {
		/* trailing dots and spaces are dropped by Windows; padding with
		 * spaces before the real extension hides it in a listing */
		while (end && (name[end - 1] == ' ' || name[end - 1] == '.'))
			end--;
		size_t dot = end;
		while (dot && name[dot - 1] != '.' && name[dot - 1] != '/' && name[dot - 1] != '\\')
			dot--;
		if (!dot || name[dot - 1] != '.' || dot - 1 == 0)
			return out[0] = '\0', out;
		if (k == which) {
			size_t n = end - dot < outsz - 1 ? end - dot : outsz - 1;
			memcpy(out, name + dot, n);
			out[n] = '\0';
			bw_ascii_lower(out);
			return out;
		}
		end = dot - 1;
	}
	return out;
}
