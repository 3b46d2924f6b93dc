/* What the files of src/campaign share and nothing else needs. */
#ifndef BULWARK_CAMPAIGN_INTERNAL_H
#define BULWARK_CAMPAIGN_INTERNAL_H

#include <sqlite3.h>

#include "bulwark/store.h"

/* "store: WHAT: sqlite's message" into *error; returns -1. */
int bw_store_fail(sqlite3 *db, const char *what, char **error);

/* Domains whose presence in two messages links nothing (freemail, ESPs,
 * common platforms): data/shared-infrastructure.conf. */
typedef struct bw_shared_infra bw_shared_infra;
bw_shared_infra *bw_shared_infra_load(const char *path, char **error);
void bw_shared_infra_free(bw_shared_infra *s);
/* host is a listed domain or under one. */
bool bw_shared_infra_has(const bw_shared_infra *s, const char *host);

/* FNV-1a with a final mix: fingerprint features and distinct counts. */
uint64_t bw_hash64(const char *s, size_t n, uint64_t seed);

/* "2025-01-31T12:00:00.000Z" for STIX, or the date alone with date_only. */
void bw_format_time(bw_buf *b, long long t, bool date_only);

#endif
