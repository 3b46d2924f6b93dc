/* The true type of an attachment, from its content (libmagic), so that a
 * declared type or extension cannot hide what a file is. */
#include <magic.h>
#include <stdlib.h>

#include "bulwark/filetype.h"
#include "bulwark/util.h"

/* libmagic reads only the start of a file for almost every type; capping
 * what it may read bounds its time on hostile attachments. */
enum { MAGIC_BYTES = 1 << 20 };

struct bw_filetype {
	magic_t cookie;
};

bw_filetype *bw_filetype_new(void)
{
	magic_t cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
	if (!cookie)
		return NULL;
	if (magic_load(cookie, NULL) != 0) {
		magic_close(cookie);
		return NULL;
	}
	size_t bytes = MAGIC_BYTES;
	magic_setparam(cookie, MAGIC_PARAM_BYTES_MAX, &bytes);
	bw_filetype *ft = bw_xcalloc(1, sizeof *ft);
	ft->cookie = cookie;
	return ft;
}

void bw_filetype_free(bw_filetype *ft)
{
	if (!ft)
		return;
	magic_close(ft->cookie);
	free(ft);
}

char *bw_filetype_detect(bw_filetype *ft, const char *data, size_t len)
{
	if (!ft || len == 0)
		return NULL;
	const char *type = magic_buffer(ft->cookie, data, len < MAGIC_BYTES ? len : MAGIC_BYTES);
	return type ? bw_xstrdup(type) : NULL;
}
