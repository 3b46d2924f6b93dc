/* The PDF name and stream scanner (src/detect/pdf.c): #xx-escaped names,
 * /Filter chains and the bounded Flate, ASCIIHex and ASCII85 decoders. */
#include "common.h"

#include "detect/docscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_pdf_scan s;
	memset(&s, 0, sizeof s);
	bw_pdf_scan_file(&s, (const char *)data, size);
	FUZZ_CHECK(s.inflated <= (16u << 20), "%zu bytes decoded, over the per-file bound", s.inflated);
	return 0;
}
