/* Default resource limits. They are generous for real mail (the largest
 * message in the shared corpora is a few MB) and small enough that one
 * hostile message cannot exhaust a milter worker. */
#include "bulwark/limits.h"

void bw_limits_default(bw_limits *l)
{
	l->max_message_bytes = 64u << 20;
	l->max_mime_depth = 32;
	l->max_parts = 1000;
	/* Decoded parts, as stored (text in UTF-8), stay in memory together with
	 * the raw message until the report is written, so the peak of one scan
	 * is about max_message_bytes + max_decoded_bytes + the HTML parse of
	 * one part. 64 MiB keeps that within the 256 MB a milter worker gets;
	 * only charset conversion (up to 3 UTF-8 bytes per windows-1252 byte)
	 * makes a message of at most max_message_bytes decode to more. */
	l->max_decoded_bytes = 64u << 20;
	l->max_html_bytes = 8u << 20;
	l->max_html_depth = 2000;
	l->max_resources = 5000;
	l->max_links = 5000;
}
