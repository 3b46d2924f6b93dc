/* A read-only, memory-mapped index of threat-intel indicators (IOCs) that
 * answers "which indicators match this observable" in well under a
 * microsecond at ten million indicators. File format, normalisation and
 * limits: docs/ioc-index.md. */
#ifndef BULWARK_IOC_INDEX_H
#define BULWARK_IOC_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef enum bw_ioc_type {
	BW_IOC_DOMAIN,
	BW_IOC_URL,
	BW_IOC_IPV4,
	BW_IOC_IPV6,
	BW_IOC_EMAIL,
	BW_IOC_SUBJECT,
	BW_IOC_MD5,
	BW_IOC_SHA1,
	BW_IOC_SHA256,
	BW_IOC_FILENAME
} bw_ioc_type;

typedef struct bw_ioc_record {
	bw_ioc_type type;
	const char *value;
	uint8_t prefix_len; /* CIDR length for IPV4 (0..32) and IPV6 (0..128), else 0 */
	uint64_t ref;       /* the caller's id for the indicator, returned by lookups */
} bw_ioc_record;

typedef struct bw_ioc_index bw_ioc_index;

/* Writes an index of recs to path (through a temporary file and rename, so
 * readers never see a half-written index). Returns 0, or -1 and sets *error
 * to a malloc'd message naming the first bad record. */
int bw_ioc_index_write(const char *path, const bw_ioc_record *recs, size_t n, char **error);

/* Maps and validates an index file. A corrupt or truncated file gives NULL
 * and a malloc'd *error, never a crash. */
bw_ioc_index *bw_ioc_index_open(const char *path, char **error);

/* Writes the refs of up to max records matching value into refs and returns
 * how many records matched (which may exceed max). DOMAIN lookups also match
 * records for every parent domain; IPV4/IPV6 lookups take one address and
 * match every record whose prefix contains it. */
size_t bw_ioc_index_lookup(const bw_ioc_index *ix, bw_ioc_type type, const char *value,
			   uint64_t *refs, size_t max);

void bw_ioc_index_close(bw_ioc_index *ix);

#endif
