/* The archive extraction stage: attachments that are archives (zip, 7z, rar,
 * tar, cab, ISO, cpio, xar, lha, and single gzip/bzip2/xz/zstd/lz4 files) are
 * opened with libarchive and their members appended to the message as
 * attachments of their own, under the bw_limits archive limits. */
#ifndef BULWARK_ARCHIVE_H
#define BULWARK_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/limits.h"
#include "bulwark/message.h"

/* What one message has used of its archive limits, across calls. Zero it
 * before the first call for a message; bw_archive_budget_free after. */
typedef struct bw_archive_budget {
	size_t bytes;          /* extracted, all archives */
	unsigned entries;      /* read, all archives */
	size_t *tree_bytes;    /* by part index: extracted from the tree under that MIME attachment */
	size_t ntree;
	unsigned reported;     /* bit per limit already named in the message's errors */
} bw_archive_budget;

/* The member holding what follows a tar's end-of-archive marker. */
#define BW_ARCHIVE_TRAILER "(after end of archive)"

/* If part is an archive, records its format and appends its members as
 * BW_PART_ATTACHMENT parts (hashed, archive_path and container set); they
 * are themselves extracted when the caller reaches them, which bounds the
 * nesting by max_archive_depth without recursion. A limit crossed stops the
 * extraction at once: the part's archive_limit names it and m->errors says
 * so. m->parts may move. */
void bw_archive_extract(bw_message *m, unsigned part, const bw_limits *lim, bw_archive_budget *b);
void bw_archive_budget_free(bw_archive_budget *b);

#endif
