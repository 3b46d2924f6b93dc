/* A <style> sheet and a style attribute through the CSS parser. */
#include "common.h"

#include "html/css.h"

static void check_refs(const bw_css_refs *refs, size_t len)
{
	for (size_t i = 0; i < refs->n; i++) {
		FUZZ_CHECK(refs->v[i].url != NULL, "ref %zu has no url", i);
		FUZZ_CHECK(refs->v[i].start <= refs->v[i].end && refs->v[i].end <= len,
			   "ref %zu span [%zu,%zu) outside %zu bytes", i, refs->v[i].start,
			   refs->v[i].end, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *css = fuzz_strndup(data, size);

	bw_css_sheet sheet;
	memset(&sheet, 0, sizeof sheet);
	bw_css_parse_sheet(css, size, &sheet);
	check_refs(&sheet.at_refs, size);
	for (size_t i = 0; i < sheet.nrules; i++)
		check_refs(&sheet.rules[i].refs, size);
	bw_css_sheet_free(&sheet);

	bw_css_box box;
	bw_css_refs refs;
	memset(&refs, 0, sizeof refs);
	bw_css_parse_inline(css, size, &box, &refs);
	check_refs(&refs, size);
	bw_css_refs_free(&refs);

	(void)bw_css_media_ok(css, size);
	(void)bw_css_media_always(css, size);
	free(css);
	return 0;
}
