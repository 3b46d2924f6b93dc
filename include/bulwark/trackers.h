/* Tracker knowledge: published e-mail tracker lists (Adblock-syntax lists,
 * Ugly Email's regexes, Trocker's JSON) compiled into one Hyperscan database,
 * and the encodings of a recipient's address that trackers put into URLs. */
#ifndef BULWARK_TRACKERS_H
#define BULWARK_TRACKERS_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/util.h"

typedef struct bw_tracker_db bw_tracker_db;

/* Loads every list found in dir, recognised by content and name:
 * *.txt in Adblock syntax (lines starting '!' are comments), Ugly Email's
 * "Vendor@@=regex" lines, and Trocker's JSON (open_trackers/click_trackers).
 * Rules that cannot be compiled are skipped and described in errors.
 * Returns NULL (with errors) when dir cannot be read or holds no rule. */
bw_tracker_db *bw_tracker_db_load(const char *dir, bw_strvec *errors);
void bw_tracker_db_free(bw_tracker_db *db);
size_t bw_tracker_db_rule_count(const bw_tracker_db *db);

typedef struct bw_tracker_match {
	const char *vendor;   /* vendor name where the list names one, else NULL */
	const char *list;     /* file the rule came from */
	const char *rule;     /* the rule as written */
} bw_tracker_match;

/* Matches a serialized URL. is_image: the request is a subresource loaded on
 * open (Adblock $image and similar apply); third_party: its registrable
 * domain differs from the sender's. Click-tracker rules match only when
 * is_image is false. Returns true and fills *match on the first match. */
bool bw_tracker_db_match(const bw_tracker_db *db, const char *url, bool is_image,
			 bool third_party, bw_tracker_match *match);

/* Every encoding of one address that the PETS 2018 e-mail tracking study
 * checked: raw, lower-case, URL-encoded, base64, base64url, hex, MD5, SHA-1,
 * SHA-256, SHA-512 and CRC32 of the address. */
typedef struct bw_recipient_forms bw_recipient_forms;

bw_recipient_forms *bw_recipient_forms_new(const char *address);
void bw_recipient_forms_free(bw_recipient_forms *f);

/* Name of the first form found in s ("raw", "lowercase", "urlencoded",
 * "base64", "base64url", "hex", "md5", "sha1", "sha256", "sha512", "crc32"),
 * or NULL. Hex digests match in either case. */
const char *bw_recipient_forms_find(const bw_recipient_forms *f, const char *s);

/* A high-entropy identifier in the URL's path or query that looks unique to
 * one message or recipient. Returns a malloc'd copy of the token or NULL. */
char *bw_find_unique_token(const char *url);

#endif
