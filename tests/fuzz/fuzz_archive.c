/* Archive extraction (src/mail/archive.c) as the engine runs it: the input
 * is one mail attachment, and every member extracted is extracted in turn,
 * under small limits so that bombs are cut quickly; then the archive
 * detector reads the result. The first byte picks the attachment's name,
 * which names the member of a compressed single file. */
#include "common.h"

#include "bulwark/archive.h"
#include "detect/detect.h"

static const char *const names[] = {"a.zip", "a.tar.gz", "report.pdf.gz", "a", "a.7z", "a.iso"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bw_limits lim;
	bw_limits_default(&lim);
	lim.max_archive_depth = 3;
	lim.max_archive_bytes = 4u << 20;
	lim.max_archive_ratio = 200;
	lim.max_archive_entries = 64;
	lim.max_archive_entry_bytes = 1u << 20;

	bw_message m;
	fuzz_message_with_parts(&m, 1);
	bw_part *p = &m.parts[0];
	p->kind = BW_PART_ATTACHMENT;
	p->filename = strdup(names[data[0] % (sizeof names / sizeof names[0])]);
	p->data = fuzz_strndup(data + 1, size - 1);
	p->len = size - 1;
	bw_part_hash(p);

	bw_archive_budget b = {0};
	for (size_t i = 0; i < m.nparts; i++)
		bw_archive_extract(&m, (unsigned)i, &lim, &b);
	FUZZ_CHECK(b.bytes <= lim.max_archive_bytes + (64u << 10), "%zu bytes extracted past the %zu limit",
		   b.bytes, lim.max_archive_bytes);
	for (size_t i = 1; i < m.nparts; i++) {
		FUZZ_CHECK(m.parts[i].container < i, "member %zu's container %u is not before it", i,
			   m.parts[i].container);
		FUZZ_CHECK(m.parts[i].archive_depth <= lim.max_archive_depth + 1, "member %zu at depth %u", i,
			   m.parts[i].archive_depth);
		FUZZ_CHECK(m.parts[i].len <= lim.max_archive_entry_bytes, "member %zu is %zu bytes", i, m.parts[i].len);
	}
	bw_archive_budget_free(&b);
	bw_detect_archives(&m, NULL);
	bw_message_free(&m);
	return 0;
}
