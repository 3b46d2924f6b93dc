/* Which characters a reader cannot see or that reorder what is shown:
 * zero-width characters and bidirectional controls, shared by the link
 * extractor (hosts, before URL parsing drops them) and the link detector
 * (visible text). */
#include <glib.h>

#include "bulwark/util.h"

bool bw_invisible_or_bidi(const char *s, size_t n, bool *bidi)
{
	bool any = false;
	if (!s || !g_utf8_validate(s, (gssize)n, NULL))
		return false;
	for (const char *q = s; q < s + n && *q; q = g_utf8_next_char(q)) {
		gunichar c = g_utf8_get_char(q);
		if (c == 0x202E || c == 0x202D || c == 0x2066 || c == 0x2067 || c == 0x2068 || c == 0x202A ||
		    c == 0x202B) {
			*bidi = true;
			any = true;
		} else if (c == 0x200B || c == 0x200C || c == 0x200D || c == 0x2060 || c == 0xFEFF || c == 0x00AD) {
			any = true; /* IDNA maps these to nothing: "pay\u200bpal.com" is paypal.com */
		}
	}
	return any;
}
