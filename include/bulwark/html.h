/* HTML parts: what a mail client would load when it shows them, and a copy
 * that loads nothing. Parsing is HTML5 (Gumbo) with scripting disabled. */
#ifndef BULWARK_HTML_H
#define BULWARK_HTML_H

#include <stddef.h>

#include "bulwark/limits.h"
#include "bulwark/message.h"

/* Appends to m every remote resource and every link of HTML part number
 * `part` (m->parts[part].data, UTF-8). Limits hit are added to m->errors. */
void bw_html_extract(bw_message *m, unsigned part, const bw_limits *lim);

typedef struct bw_sanitize_stats {
	unsigned images;          /* img, input type=image, picture sources, srcset */
	unsigned backgrounds;     /* background= attributes and CSS backgrounds */
	unsigned stylesheets;     /* link rel=stylesheet and @import */
	unsigned fonts;           /* @font-face sources */
	unsigned frames;          /* iframe, frame, object, embed */
	unsigned media;           /* video, audio, source, track, poster */
	unsigned other;           /* anything else remote (meta refresh, prefetch, ...) */
	unsigned links_unwrapped; /* click-tracking redirects replaced by their destination */
} bw_sanitize_stats;

/* Returns a malloc'd copy of html in which nothing is fetched remotely when
 * it is displayed; text, alt text and clickable links stay. Byte-for-byte
 * identical outside the neutralized spans. *out_len gets the length. */
char *bw_html_sanitize(const char *html, size_t len, const bw_limits *lim,
		       bw_sanitize_stats *stats, size_t *out_len);

#endif
