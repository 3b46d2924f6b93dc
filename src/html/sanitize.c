/* A copy of an HTML part that fetches nothing remote when shown. The walk in
 * extract.c finds what to neutralize and proposes edits (attributes renamed
 * to data-bulwark-removed, CSS url()s replaced by none, @import rules
 * dropped, links unwrapped or made absolute); this file applies them to the
 * original bytes, so everything else stays byte-identical. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/html.h"
#include "html/dom.h"

/* By start; of two edits that start together the longer (outer) first. */
static int cmp_edit(const void *a, const void *b)
{
	const bw_html_edit *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end > y->end ? -1 : x->end < y->end ? 1 : 0;
}

static void count(bw_sanitize_stats *s, bw_html_stat stat)
{
	switch (stat) {
	case BW_STAT_IMAGES: s->images++; break;
	case BW_STAT_BACKGROUNDS: s->backgrounds++; break;
	case BW_STAT_STYLESHEETS: s->stylesheets++; break;
	case BW_STAT_FONTS: s->fonts++; break;
	case BW_STAT_FRAMES: s->frames++; break;
	case BW_STAT_MEDIA: s->media++; break;
	case BW_STAT_OTHER: s->other++; break;
	case BW_STAT_LINKS_UNWRAPPED: s->links_unwrapped++; break;
	case BW_STAT_NONE: break;
	}
}

char *bw_html_sanitize(const char *html, size_t len, const bw_limits *lim,
		       bw_sanitize_stats *stats, size_t *out_len)
{
	bw_sanitize_stats dummy;
	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof *stats);
	if (!html)
		len = 0;
	bw_buf out = {0};
	bw_buf_reserve(&out, len + 1);
	if (len) {
		bw_html_doc d;
		bw_html_doc_parse(&d, html, len, lim, NULL);
		bw_html_edits ed = {0};
		bw_html_scan(&d, NULL, 0, lim, &ed);
		if (ed.n)
			qsort(ed.v, ed.n, sizeof *ed.v, cmp_edit);
		/* A tag the part ends inside of is dropped when shown alone, but
		 * whatever a viewer appends could complete it: leave it out. */
		size_t end = d.open_tag < d.len ? d.open_tag : d.len;
		size_t at = 0;
		for (size_t i = 0; i < ed.n; i++) {
			const bw_html_edit *e = &ed.v[i];
			/* inside or across one already applied: the outer one wins */
			if (e->start < at || e->end > end)
				continue;
			bw_buf_append(&out, html + at, e->start - at);
			bw_buf_puts(&out, e->text);
			at = e->end;
			count(stats, e->stat);
		}
		/* past a limit cut nothing was checked: it is left out too */
		bw_buf_append(&out, html + at, end - at);
		bw_html_edits_free(&ed);
		bw_html_doc_free(&d);
	}
	if (out_len)
		*out_len = out.len;
	return bw_buf_steal(&out);
}
