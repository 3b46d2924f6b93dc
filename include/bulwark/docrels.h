/* The extraction step for Office Open XML relationships (src/mail/docrels.c):
 * external targets of a document's .rels members become links of the
 * message. */
#ifndef BULWARK_DOCRELS_H
#define BULWARK_DOCRELS_H

#include "bulwark/limits.h"
#include "bulwark/message.h"

/* If part is a .rels archive member, adds a link (BW_LINK_IN_DOCUMENT,
 * rel_type set) per Relationship with TargetMode="External"; malformed XML
 * gives an errors entry naming the member, line and column. */
void bw_docrels_extract(bw_message *m, unsigned part, const bw_limits *lim);

#endif
