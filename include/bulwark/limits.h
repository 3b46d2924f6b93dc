/* Resource limits applied to every hostile input. Each limit that is hit adds
 * an entry to the message's errors; analysis then continues on what was read. */
#ifndef BULWARK_LIMITS_H
#define BULWARK_LIMITS_H

#include <stddef.h>

typedef struct bw_limits {
	size_t max_message_bytes;   /* raw message size read; the rest is cut */
	unsigned max_mime_depth;    /* nesting of multiparts and message/rfc822 */
	unsigned max_parts;         /* MIME parts per message, all levels */
	size_t max_decoded_bytes;   /* decoded bytes per message, all parts */
	size_t max_html_bytes;      /* one HTML part handed to the HTML parser */
	unsigned max_html_depth;    /* element nesting walked in one HTML part */
	unsigned max_html_nodes;    /* nodes the HTML parser makes for one part (0: no limit) */
	unsigned max_resources;     /* remote resources listed per message */
	unsigned max_links;         /* links listed per message */
	unsigned max_archive_depth; /* archives inside archives; 1: members of a mail attachment only */
	size_t max_archive_bytes;   /* bytes extracted from all archives of a message */
	unsigned max_archive_ratio; /* extracted bytes per byte of the attachment they came from */
	unsigned max_archive_entries; /* archive entries read per message */
	size_t max_archive_entry_bytes; /* one entry; the rest is cut */
	size_t max_header_field_bytes; /* one header field, unfolded; the rest is cut */
	size_t max_css_bytes;       /* one <style> sheet or style attribute; the rest is cut */
} bw_limits;

void bw_limits_default(bw_limits *l);

#endif
