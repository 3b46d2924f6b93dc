/* The RTF embedded-object scanner (src/detect/office.c): control words,
 * \objclass, the \objdata hex decoder and the OLE1/CFB headers inside it. */
#include "common.h"

#include "detect/docscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_rtf_object *objs = calloc(BW_RTF_MAX_OBJECTS, sizeof *objs);
	if (!objs)
		abort();
	size_t n = bw_rtf_objects((const char *)data, size, objs);
	FUZZ_CHECK(n <= BW_RTF_MAX_OBJECTS, "%zu objects", n);
	for (size_t k = 0; k < n; k++) {
		FUZZ_CHECK(objs[k].offset < size, "object offset %zu past the input (%zu)", objs[k].offset, size);
		FUZZ_CHECK(strlen(objs[k].cls) < sizeof objs[k].cls, "class name not terminated");
	}
	free(objs);
	return 0;
}
