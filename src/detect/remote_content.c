/* REMOTE_CONTENT: an informational finding listing everything that loads
 * from the network when the message is displayed, tracker or not, because
 * each such request tells its server that and when the message was read. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

enum { MAX_HOSTS = 20 };

void bw_detect_remote_content(bw_message *m, const bw_engine *e)
{
	bw_strvec hosts = {0};
	size_t count = 0;
	for (size_t i = 0; i < m->nresources; i++) {
		const bw_resource *r = &m->resources[i];
		if (!r->on_open)
			continue;
		count++;
		bw_url u;
		if (bw_url_parse(r->url, strlen(r->url), NULL, &u) == 0) {
			if (u.host && hosts.n < MAX_HOSTS && !bw_strvec_contains(&hosts, u.host))
				bw_strvec_push(&hosts, u.host);
			bw_url_free(&u);
		}
	}
	if (count) {
		bw_buf s = {0}, ev = {0};
		bw_buf_printf(&s, "%zu remote resource%s from %zu host%s load when the message is displayed",
			      count, count == 1 ? "" : "s", hosts.n, hosts.n == 1 ? "" : "s");
		bw_finding *f = bw_message_add_finding(m, "REMOTE_CONTENT", BW_SEV_INFO, 0, s.data);
		bw_buf_printf(&ev, "{\"count\":%zu,\"hosts\":[", count);
		for (size_t i = 0; i < hosts.n; i++) {
			if (i)
				bw_buf_putc(&ev, ',');
			bw_json_string(&ev, hosts.v[i]);
		}
		bw_buf_puts(&ev, "],\"exposure\":\"Each host learns the time of the open, the reader's IP "
				 "address and the mail client's user agent.\"}");
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
	}
	bw_strvec_free(&hosts);
}
