/* What the extraction stage (src/mail/archive.c) met in archives:
 * ARCHIVE_BOMB when a limit stopped it, ARCHIVE_ENCRYPTED when content
 * was locked away from the scanner, which is why attackers put the
 * password in the message body; ARCHIVE_TRAILING_DATA when a tar holds
 * content after its end-of-archive marker, which tar(1) and most scanners
 * never read (extraction made it a member of its own).
 *
 * Scores: a bomb by nesting or expansion ratio 4 (evasion, or an attack on
 * the scanner); by size or entry count 2 (large archives exist, but their
 * unread rest was not checked); encryption 2 (routine in some offices,
 * and a staple of malware delivery); trailing data 3 (no tool writes it:
 * it is there to be missed). */
#include <string.h>

#include "bulwark/report.h"
#include "detect/detect.h"

enum { MAX_NAMES = 20 }; /* encrypted entry names listed per archive */

void bw_detect_archives(bw_message *m, const bw_engine *e)
{
	bw_attach_hits bomb = {0}, locked = {0}, trailing = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		const bw_part *p = &m->parts[i];
		if (!p->archive_format)
			continue;
		bw_buf det = {0}, phrase = {0};
		bw_buf_puts(&det, "\"format\":");
		bw_json_string(&det, p->archive_format);
		bw_buf_printf(&det, ",\"entries\":%u", p->archive_entries);
		if (p->archive_limit) {
			bool evasive = strcmp(p->archive_limit, "max_archive_ratio") == 0 ||
				       strcmp(p->archive_limit, "max_archive_depth") == 0;
			bw_buf_printf(&phrase, "extraction stopped at %s", p->archive_limit);
			bw_buf det2 = {0};
			bw_buf_printf(&det2, "%s,\"limit\":\"%s\"", det.data, p->archive_limit);
			bw_attach_hit(&bomb, m, (unsigned)i, evasive ? 4 : 2,
				      evasive ? "T1027 T1027.001" : "T1027", phrase.data, det2.data);
			bw_buf_free(&det2);
			bw_buf_reset(&phrase);
		}
		if (p->archive_trailing_bytes) {
			bw_buf det2 = {0};
			bw_buf_printf(&det2, "%s,\"trailing_offset\":%zu,\"trailing_bytes\":%zu", det.data,
				      p->archive_trailing_offset, p->archive_trailing_bytes);
			bw_buf_printf(&phrase, "%zu bytes after the end-of-archive marker", p->archive_trailing_bytes);
			bw_attach_hit(&trailing, m, (unsigned)i, 3, "T1027", phrase.data, det2.data);
			bw_buf_free(&det2);
			bw_buf_reset(&phrase);
		}
		if (p->encrypted) {
			bw_buf_puts(&det, ",\"encrypted_entries\":[");
			unsigned n = 0;
			for (size_t j = i + 1; j < m->nparts; j++)
				if (m->parts[j].archive_path && m->parts[j].container == i && m->parts[j].encrypted &&
				    n++ < MAX_NAMES) {
					if (n > 1)
						bw_buf_putc(&det, ',');
					bw_json_string(&det, m->parts[j].archive_path);
				}
			bw_buf_putc(&det, ']');
			bw_buf_printf(&phrase, "%s archive with %u encrypted entr%s", p->archive_format, n,
				      n == 1 ? "y" : "ies");
			bw_attach_hit(&locked, m, (unsigned)i, 2, "T1027.013 T1566.001", phrase.data, det.data);
		}
		bw_buf_free(&det);
		bw_buf_free(&phrase);
	}
	bw_attach_hits_emit(m, &bomb, "ARCHIVE_BOMB");
	bw_attach_hits_emit(m, &locked, "ARCHIVE_ENCRYPTED");
	bw_attach_hits_emit(m, &trailing, "ARCHIVE_TRAILING_DATA");
}
