/* The OLE compound-file directory reader (src/detect/cfb.c) on raw bytes:
 * every sector number, FAT and DIFAT chain and tree walk comes from the
 * input. */
#include "common.h"

#include "detect/detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_cfb_info info;
	if (bw_cfb_read((const char *)data, size, &info)) {
		FUZZ_CHECK(info.entries > 0, "a compound file read with no directory entries");
		FUZZ_CHECK(info.vba_streams.n <= 20, "%zu VBA stream names listed", info.vba_streams.n);
	}
	bw_cfb_info_free(&info);
	return 0;
}
