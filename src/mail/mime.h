/* GMime plumbing shared by the parse stage and the sanitizer: one way to
 * construct a message, one tree walk, one text decoder. Internal. */
#ifndef BULWARK_MAIL_MIME_H
#define BULWARK_MAIL_MIME_H

#include <gmime/gmime.h>
#include <stdbool.h>

#include "bulwark/util.h"

/* Options that accept what real mail does (loose RFC 2047, 2231 and address
 * syntax). The caller frees them with g_mime_parser_options_free. */
GMimeParserOptions *bw_mime_options(void);

/* A bare HTML document (no header block: it starts with '<', which no
 * header field name can), read as a message whose only part is that HTML. */
bool bw_mime_is_bare_html(const char *data, size_t len);

/* NULL when the bytes are not a message at all. */
GMimeMessage *bw_mime_construct(const char *data, size_t len, GMimeParserOptions *opts);

/* Calls fn for every leaf part under root, depth-first in document order,
 * descending into multiparts and message/rfc822 parts. Iterative, so hostile
 * nesting cannot exhaust the stack. Parts deeper than max_depth are skipped;
 * returns false if any were. */
typedef void (*bw_mime_leaf_fn)(GMimePart *part, unsigned depth, void *arg);
bool bw_mime_walk(GMimeObject *root, unsigned max_depth, bw_mime_leaf_fn fn, void *arg);

/* The decoded content of a part (transfer encoding undone), at most max
 * bytes. *len gets the length; *cut is set when there was more. */
char *bw_mime_decoded(GMimePart *part, size_t max, size_t *len, bool *cut);

/* Converts decoded text to valid UTF-8 using the part's charset, with the
 * fallbacks browsers and mail clients use. Problems go to errors. */
char *bw_mime_text_utf8(GMimePart *part, const char *data, size_t len, bool html, size_t *out_len,
			bw_strvec *errors);

#endif
