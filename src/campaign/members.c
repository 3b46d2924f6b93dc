/* bulwark campaigns --show: the messages of one campaign as the last
 * grouping run recorded them (campaign_member), oldest first. */
#include <sqlite3.h>
#include <stdlib.h>

#include "bulwark/report.h"
#include "campaign/campaign.h"

static void json_field(bw_buf *b, const char *key, const unsigned char *v, bool first)
{
	bw_buf_printf(b, "%s\"%s\":", first ? "" : ",", key);
	if (v)
		bw_json_string(b, (const char *)v);
	else
		bw_buf_puts(b, "null");
}

int bw_campaign_members(bw_store *s, const char *id, bool json, FILE *out, char **error)
{
	sqlite3 *db = bw_store_db(s);
	char *cid = bw_campaign_resolve(s, id);
	if (!cid) {
		*error = bw_xasprintf("no campaign \"%s\" in the store (run bulwark campaigns)", id);
		return -1;
	}
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "SELECT m.message_id, m.seen, m.from_addr, m.subject, m.source, m.verdict, m.score"
			       " FROM campaign_member cm JOIN message m ON m.id = cm.message WHERE cm.campaign = ?"
			       " ORDER BY m.seen, m.id", -1, &st, NULL) != SQLITE_OK) {
		free(cid);
		return bw_store_fail(db, "reading the campaign", error);
	}
	sqlite3_bind_text(st, 1, cid, -1, SQLITE_TRANSIENT);
	bw_buf b = {0};
	if (json) {
		bw_buf_puts(&b, "{\"campaign\":");
		bw_json_string(&b, cid);
		bw_buf_puts(&b, ",\"messages\":[");
	} else {
		bw_buf_printf(&b, "campaign %s\n", cid);
	}
	size_t n = 0;
	for (; sqlite3_step(st) == SQLITE_ROW; n++) {
		bw_buf date = {0};
		bw_format_time(&date, sqlite3_column_int64(st, 1), false);
		if (json) {
			bw_buf_puts(&b, n ? ",{" : "{");
			json_field(&b, "message_id", sqlite3_column_text(st, 0), true);
			json_field(&b, "date", (const unsigned char *)date.data, false);
			json_field(&b, "from", sqlite3_column_text(st, 2), false);
			json_field(&b, "subject", sqlite3_column_text(st, 3), false);
			json_field(&b, "source", sqlite3_column_text(st, 4), false);
			json_field(&b, "verdict", sqlite3_column_text(st, 5), false);
			bw_buf_printf(&b, ",\"score\":%.1f}", sqlite3_column_double(st, 6));
		} else {
			const unsigned char *subject = sqlite3_column_text(st, 3), *from = sqlite3_column_text(st, 2);
			bw_buf_printf(&b, "  %s  %s  %s  \"%s\"  %s\n", date.data, from ? (const char *)from : "-",
				      sqlite3_column_text(st, 0), subject ? (const char *)subject : "",
				      sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "-");
		}
		bw_buf_free(&date);
		fwrite(b.data, 1, b.len, out);
		bw_buf_reset(&b);
	}
	sqlite3_finalize(st);
	if (json)
		bw_buf_printf(&b, "],\"count\":%zu}\n", n);
	else
		bw_buf_printf(&b, "%zu messages\n", n);
	fwrite(b.data, 1, b.len, out);
	bw_buf_free(&b);
	free(cid);
	return 0;
}
