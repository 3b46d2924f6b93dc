/* Content-based file type detection (libmagic) for attachments. One handle
 * per thread: libmagic cookies are not shared safely. */
#ifndef BULWARK_FILETYPE_H
#define BULWARK_FILETYPE_H

#include <stddef.h>

typedef struct bw_filetype bw_filetype;

/* NULL when libmagic's database cannot be loaded. */
bw_filetype *bw_filetype_new(void);
void bw_filetype_free(bw_filetype *ft);

/* MIME type of data ("application/pdf"), malloc'd, or NULL. */
char *bw_filetype_detect(bw_filetype *ft, const char *data, size_t len);

#endif
