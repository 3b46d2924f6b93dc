/* One HTML part through bw_html_extract, as the engine calls it. */
#include "common.h"

#include "bulwark/html.h"

static bw_limits lim;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bw_limits_default(&lim);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_message m;
	memset(&m, 0, sizeof m);
	/* bw_message_add_* may grow arrays but never touches parts. */
	bw_part *part = calloc(1, sizeof *part);
	part->kind = BW_PART_HTML;
	part->content_type = strdup("text/html");
	part->data = fuzz_strndup(data, size);
	part->len = size;
	m.parts = part;
	m.nparts = m.capparts = 1;
	bw_html_extract(&m, 0, &lim);
	for (size_t i = 0; i < m.nresources; i++)
		FUZZ_CHECK(m.resources[i].span_start <= m.resources[i].span_end &&
			   m.resources[i].span_end <= size,
			   "resource %zu span [%zu,%zu) outside part of %zu bytes", i,
			   m.resources[i].span_start, m.resources[i].span_end, size);
	for (size_t i = 0; i < m.nlinks; i++)
		FUZZ_CHECK(m.links[i].span_start <= m.links[i].span_end && m.links[i].span_end <= size,
			   "link %zu span [%zu,%zu) outside part of %zu bytes", i,
			   m.links[i].span_start, m.links[i].span_end, size);
	bw_message_free(&m);
	return 0;
}
