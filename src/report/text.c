/* The readable report: one block per message, for a person at a terminal.
 * It shows the verdict, the top findings and, for each tracker, who learns
 * what when the message is opened. */
#include <string.h>

#include "bulwark/report.h"

enum { TOP_FINDINGS = 8, TOP_TRACKERS = 10 };

static const char *verdict_color(bw_verdict v)
{
	return v == BW_MALICIOUS ? "\033[1;31m" : v == BW_SUSPICIOUS ? "\033[1;33m" : "\033[1;32m";
}

static void tracker_line(bw_buf *b, const char *url, const bw_tracker *t)
{
	static const char *const kind_names[] = {"pixel", "hidden", "known-tracker", "recipient-token",
						 "unique-token"};
	bw_buf_puts(b, "    - ");
	bool first = true;
	for (unsigned k = 0; k < 5; k++) {
		if (!(t->kinds & (1u << k)))
			continue;
		bw_buf_printf(b, "%s%s", first ? "" : "+", kind_names[k]);
		first = false;
	}
	if (t->vendor)
		bw_buf_printf(b, " (%s)", t->vendor);
	size_t n = strlen(url);
	bw_buf_printf(b, ": %.*s%s\n", n > 100 ? 100 : (int)n, url, n > 100 ? "..." : "");
	if (t->kinds & BW_TRACK_RECIPIENT_TOKEN)
		bw_buf_printf(b, "      learns your address (%s) with the time, IP address and user agent\n",
			      t->token_form ? t->token_form : "encoded");
}

void bw_report_text(bw_buf *b, const bw_message *m, bool color)
{
	bw_buf_printf(b, "%s\n", m->source);
	bw_buf_printf(b, "  verdict: %s%s%s (score %g)\n", color ? verdict_color(m->verdict) : "",
		      bw_verdict_name(m->verdict), color ? "\033[0m" : "", m->score);
	if (m->from.address || m->from.name)
		bw_buf_printf(b, "  from:    %s <%s>\n", m->from.name ? m->from.name : "",
			      m->from.address ? m->from.address : "");
	if (m->subject)
		bw_buf_printf(b, "  subject: %s\n", m->subject);
	for (size_t i = 0; i < m->nfindings && i < TOP_FINDINGS; i++) {
		const bw_finding *f = &m->findings[i];
		bw_buf_printf(b, "  [%s] %s: %s", bw_severity_name(f->severity), f->id, f->summary);
		for (size_t k = 0; k < f->attack.n; k++)
			bw_buf_printf(b, "%s%s", k ? ", " : " (ATT&CK ", f->attack.v[k]);
		bw_buf_puts(b, f->attack.n ? ")\n" : "\n");
	}
	if (m->nfindings > TOP_FINDINGS)
		bw_buf_printf(b, "  ... %zu more findings (--json shows all)\n", m->nfindings - TOP_FINDINGS);
	size_t shown = 0, total = 0;
	for (size_t i = 0; i < m->nresources; i++)
		if (m->resources[i].tracker && m->resources[i].on_open)
			total++;
	if (total)
		bw_buf_printf(b, "  trackers fired on open: %zu\n", total);
	for (size_t i = 0; i < m->nresources && shown < TOP_TRACKERS; i++) {
		const bw_resource *r = &m->resources[i];
		if (r->tracker && r->on_open) {
			tracker_line(b, r->url, r->tracker);
			shown++;
		}
	}
	if (total > shown)
		bw_buf_printf(b, "    ... %zu more\n", total - shown);
	for (size_t i = 0; i < m->errors.n && i < 5; i++)
		bw_buf_printf(b, "  error: %s\n", m->errors.v[i]);
	bw_buf_putc(b, '\n');
}
