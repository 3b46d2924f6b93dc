/* The one table of detectors. Adding a detector family means adding a file
 * in src/detect and a line here; order decides only the order of findings
 * before they are sorted by score. */
#include "detect/detect.h"

static const bw_detector detectors[] = {
	{"tracking", bw_detect_tracking},
	{"remote-content", bw_detect_remote_content},
	{"impersonation", bw_detect_impersonation},
	{"links", bw_detect_links}, /* after tracking: reads link trackers */
	{"auth", bw_detect_auth},
	{"bulk-sender", bw_detect_bulk_sender},
};

void bw_detect_all(bw_message *m, const bw_engine *e)
{
	for (size_t i = 0; i < sizeof detectors / sizeof detectors[0]; i++)
		detectors[i].run(m, e);
}
