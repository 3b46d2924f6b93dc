/* Default resource limits. They are generous for real mail (the largest
 * message in the shared corpora is a few MB) and small enough that one
 * hostile message cannot exhaust a milter worker. */
#include "bulwark/limits.h"

void bw_limits_default(bw_limits *l)
{
	l->max_message_bytes = 64u << 20;
	l->max_mime_depth = 32;
	l->max_parts = 1000;
	l->max_decoded_bytes = 128u << 20;
	l->max_html_bytes = 8u << 20;
	l->max_html_depth = 2000;
	l->max_resources = 5000;
	l->max_links = 5000;
}
