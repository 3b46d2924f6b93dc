/* FIRST_CONTACT: the sender has never written to this recipient before,
 * according to the sender-history store ([history] db). Every scan records
 * the message, so the store learns from archive scans and the milter alike.
 *
 * First contact is normal (every correspondent writes a first time), so it
 * only informs: info and score 0 when others at the sender's domain have
 * written to the recipient before, low and 0.5 when the domain is new too.
 * It matters next to the impersonation findings: an "outlet" that has never
 * written before. */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/history.h"
#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

/* Dates before this (1990-01-01) are junk, as are dates more than a day
 * ahead of the clock: such messages are recorded at scan time instead. */
#define EARLIEST_DATE 631152000
#define FUTURE_SLACK (24 * 60 * 60)
#define MAX_LISTED 20

/* Message-ID when there is one; otherwise a digest of the header block,
 * which is the same every time the same message is scanned. */
static char *message_key(const bw_message *m)
{
	if (m->message_id)
		return g_strconcat("mid:", m->message_id, NULL);
	GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
	for (size_t i = 0; i < m->nheaders; i++) {
		g_checksum_update(c, (const guchar *)m->headers[i].name, -1);
		g_checksum_update(c, (const guchar *)":", 1);
		g_checksum_update(c, (const guchar *)m->headers[i].value, -1);
		g_checksum_update(c, (const guchar *)"\n", 1);
	}
	char *key = g_strconcat("hdr:", g_checksum_get_string(c), NULL);
	g_checksum_free(c);
	return key;
}

static void json_time(bw_buf *b, int64_t t)
{
	GDateTime *d = g_date_time_new_from_unix_utc(t);
	char *s = d ? g_date_time_format(d, "%Y-%m-%dT%H:%M:%SZ") : NULL;
	if (s)
		bw_json_string(b, s);
	else
		bw_buf_puts(b, "null");
	g_free(s);
	if (d)
		g_date_time_unref(d);
}

void bw_detect_first_contact(bw_message *m, const bw_engine *e)
{
	const char *at = m->from.address ? strrchr(m->from.address, '@') : NULL;
	if ((!e->history && !e->history_record) || !at || !at[1] || !m->recipients.n)
		return;
	char *sender = bw_xstrdup(m->from.address);
	bw_ascii_lower(sender);
	char *domain = bw_registrable_domain(strrchr(sender, '@') + 1);
	char *key = message_key(m);
	int64_t now = (int64_t)time(NULL);
	bool dated = m->date >= EARLIEST_DATE && m->date <= now + FUTURE_SLACK;
	bw_sighting s = {.msg_key = key, .sender = sender, .sender_domain = domain ? domain : "",
			 .sent = dated ? m->date : now};

	bw_buf list = {0};
	size_t first = 0, new_domain = 0;
	const char *example = NULL;
	for (size_t i = 0; i < m->recipients.n; i++) {
		s.recipient = m->recipients.v[i];
		if (strcmp(s.recipient, sender) == 0)
			continue;
		bw_contact c;
		char *err = NULL;
		if ((e->history_record ? e->history_record(e->history_arg, &s, &c, &err)
				       : bw_history_record(e->history, &s, &c, &err)) < 0) {
			bw_strvec_push_owned(&m->errors, err);
			break;
		}
		if (c.known)
			continue;
		if (!example)
			example = s.recipient;
		new_domain += !c.domain_known;
		if (first++ >= MAX_LISTED)
			continue;
		bw_buf_puts(&list, first > 1 ? ",{\"recipient\":" : "{\"recipient\":");
		bw_json_string(&list, s.recipient);
		bw_buf_printf(&list, ",\"domain_seen_before\":%s,\"domain_messages\":%lld,"
			      "\"domain_senders\":%lld,\"recorded_at\":",
			      c.domain_known ? "true" : "false", (long long)c.domain_messages,
			      (long long)c.domain_senders);
		json_time(&list, c.sent);
		bw_buf_putc(&list, '}');
	}

	if (first) {
		bw_buf sum = {0};
		if (first == 1)
			bw_buf_printf(&sum, "First message from %s to %s", sender, example);
		else
			bw_buf_printf(&sum, "First message from %s to %zu recipients", sender, first);
		bw_buf_puts(&sum, new_domain ? "; no one at its domain has written to them before"
					     : "; others at its domain have written before");
		bw_finding *f = bw_message_add_finding(m, "FIRST_CONTACT", new_domain ? BW_SEV_LOW : BW_SEV_INFO,
						       new_domain ? 0.5 : 0, sum.data);
		bw_buf ev = {0};
		bw_buf_puts(&ev, "{\"sender\":");
		bw_json_string(&ev, sender);
		bw_buf_puts(&ev, ",\"sender_domain\":");
		bw_json_string(&ev, s.sender_domain);
		bw_buf_printf(&ev, ",\"time_source\":\"%s\",\"first_contact_recipients\":%zu,"
			      "\"recipients\":[", dated ? "date-header" : "scan-time", first);
		bw_buf_append(&ev, list.data, list.len);
		bw_buf_puts(&ev, "]}");
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&sum);
	}
	bw_buf_free(&list);
	g_free(key);
	free(domain);
	free(sender);
}
