/* The score and report stages: verdict from findings, and the two output
 * forms (JSON Lines per docs/report-format.md, and readable text). */
#ifndef BULWARK_REPORT_H
#define BULWARK_REPORT_H

#include <stdbool.h>

#include "bulwark/engine.h"
#include "bulwark/message.h"
#include "bulwark/util.h"

/* Sorts findings (highest score first), sums the score and sets the verdict. */
void bw_score(bw_message *m, const bw_config *cfg);

/* Appends s as a JSON string literal. Invalid UTF-8 becomes U+FFFD, so the
 * output is always valid JSON whatever the mail contained. NULL -> null. */
void bw_json_string(bw_buf *b, const char *s);
/* ",\"key\":value" (without the comma when first); value NULL is null. */
void bw_json_member(bw_buf *b, const char *key, const char *value, bool first);

/* One JSON object, no trailing newline. */
void bw_report_json(bw_buf *out, const bw_message *m);

/* A readable block: verdict, top findings, trackers and what they learn. */
void bw_report_text(bw_buf *out, const bw_message *m, bool color);

#endif
