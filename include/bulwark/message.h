/* The parsed message: what the parse stage (src/mail) produces and every later
 * stage reads. Extraction, detection and scoring add to it in that order. */
#ifndef BULWARK_MESSAGE_H
#define BULWARK_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulwark/auth.h"
#include "bulwark/limits.h"
#include "bulwark/util.h"

typedef enum bw_part_kind {
	BW_PART_TEXT,       /* text/plain and other text types shown inline */
	BW_PART_HTML,       /* text/html shown inline */
	BW_PART_ATTACHMENT  /* everything else, and text parts marked attachment */
} bw_part_kind;

typedef struct bw_part {
	bw_part_kind kind;
	char *content_type;   /* "type/subtype", lower-case */
	char *filename;       /* decoded (RFC 2231/2047), or NULL */
	char *data;           /* decoded content; text and HTML converted to UTF-8; NUL-terminated */
	size_t len;
	unsigned depth;       /* MIME nesting depth, 0 for the top-level body */
	char sha256[65];      /* hex digest of data */
	char *detected_type;  /* attachments: MIME type from content (libmagic), or NULL */
	/* archive extraction (src/mail/archive.c): members of an archive are
	 * attachments of their own, linked to the part they came from */
	char *archive_path;   /* member: its path inside the container, or NULL for a MIME leaf */
	unsigned container;   /* member: index of the archive part it was extracted from */
	unsigned archive_depth; /* 0 for a MIME leaf, container's + 1 for a member */
	bool encrypted;       /* member: encrypted, data empty; archive: has encrypted entries */
	bool truncated;       /* member: cut at max_archive_entry_bytes (hashes cover the cut data) */
	char *archive_format; /* archive: libarchive's name of its format, or NULL if not an archive */
	unsigned archive_entries; /* archive: entries read */
	const char *archive_limit; /* archive: the limit that stopped its extraction (static), or NULL */
	char md5[33];         /* attachments: hex digests of data, as intel feeds give them;
			       * empty until bw_part_hash_legacy */
	char sha1[41];
	/* tar: non-zero data after its end-of-archive marker, where readers
	 * stop (offset in the decompressed stream, and bytes from there); it is
	 * extracted as a member named BW_ARCHIVE_TRAILER (bulwark/archive.h) */
	size_t archive_trailing_offset, archive_trailing_bytes;
} bw_part;

typedef struct bw_address {
	char *name;     /* display name, decoded, or NULL */
	char *address;  /* addr-spec, or NULL */
} bw_address;

typedef struct bw_header {
	char *name;
	char *value;    /* unfolded, raw (not RFC 2047 decoded) */
} bw_header;

/* Tracker verdict kinds, as a bit set. */
enum {
	BW_TRACK_PIXEL = 1u << 0,           /* at most 2x2 */
	BW_TRACK_HIDDEN = 1u << 1,          /* not visible */
	BW_TRACK_KNOWN = 1u << 2,           /* matches a tracker list */
	BW_TRACK_RECIPIENT_TOKEN = 1u << 3, /* URL carries the recipient's address */
	BW_TRACK_UNIQUE_TOKEN = 1u << 4     /* high-entropy per-message identifier */
};

typedef struct bw_tracker {
	unsigned kinds;
	char *vendor;         /* or NULL */
	double confidence;    /* 0..1 */
	bw_strvec reasons;
	char *token_form;     /* recipient-token encoding ("md5", "base64", ...) or NULL */
} bw_tracker;

/* Flags on resources and links found while extracting HTML. */
enum {
	BW_RES_TINY = 1u << 0,            /* rendered at most 2x2 (attributes or CSS) */
	BW_RES_HIDDEN = 1u << 1,          /* element or an ancestor hidden */
	BW_RES_CANDIDATE = 1u << 2,       /* srcset/picture candidate: browser picks one */
	BW_LINK_TEXT_IS_URL = 1u << 3,    /* visible text looks like a URL or domain */
	BW_LINK_ZERO_SIZE_TEXT = 1u << 4, /* text rendered at zero size */
	BW_LINK_HOST_INVISIBLE = 1u << 5, /* the href's host held invisible characters URL parsing dropped */
	BW_LINK_HOST_BIDI = 1u << 6,      /* ... or bidirectional controls */
	BW_LINK_IN_DOCUMENT = 1u << 7     /* an external relationship of an attached document (rel_type) */
};

typedef struct bw_resource {
	char *url;            /* WHATWG-serialized absolute URL */
	const char *element;  /* static: "img", "img-srcset", "css-background", ... */
	bool on_open;         /* fetched merely by displaying the message */
	unsigned flags;       /* BW_RES_* */
	int width, height;    /* CSS pixels when known, else -1 */
	unsigned part;        /* index into bw_message.parts */
	size_t span_start;    /* byte span in the part's HTML that sanitize neutralizes */
	size_t span_end;
	bw_tracker *tracker;  /* NULL, or the tracker verdict */
} bw_resource;

typedef struct bw_link {
	char *url;            /* serialized absolute URL (any scheme) */
	char *text;           /* visible text, white space collapsed */
	char *unwrapped;      /* destination recovered from a redirect wrapper, or NULL */
	unsigned flags;       /* BW_LINK_* */
	unsigned part;
	size_t span_start;    /* span of the href attribute value (without quotes) */
	size_t span_end;
	bw_tracker *tracker;
	/* BW_LINK_IN_DOCUMENT: the relationship type's last segment
	 * ("attachedTemplate", "hyperlink", ...); part is the .rels member */
	char *rel_type;
} bw_link;

/* One Received header, top (newest) first. */
typedef struct bw_received_hop {
	char *from_host;      /* the name in the "from" clause, or NULL */
	char *ip;             /* the connecting IP of the "from" clause, canonical, or NULL */
	char *by_host;        /* the receiving host, or NULL */
	bool internal;        /* ip is private, loopback, link-local or a configured internal network */
	bool first_external;  /* the topmost hop with an external ip: who handed the message to us */
} bw_received_hop;

typedef enum bw_severity { BW_SEV_INFO, BW_SEV_LOW, BW_SEV_MEDIUM, BW_SEV_HIGH } bw_severity;

typedef struct bw_finding {
	char *id;             /* UPPER_SNAKE */
	bw_severity severity;
	double score;
	char *summary;        /* one human sentence */
	bw_strvec attack;     /* ATT&CK technique IDs */
	char *evidence_json;  /* a JSON object, serialized */
} bw_finding;

typedef enum bw_verdict { BW_CLEAN, BW_SUSPICIOUS, BW_MALICIOUS } bw_verdict;

typedef struct bw_message {
	/* parse */
	char *source;
	char *message_id;
	bw_address from;
	bw_address reply_to;
	char *return_path;
	char *subject;
	char *recipient;      /* address used for token checks (--recipient, Delivered-To, X-Original-To, To) */
	bw_header *headers;
	size_t nheaders;
	bw_part *parts;
	size_t nparts, capparts;
	bw_strvec errors;     /* parse problems and limits hit, from any stage */

	/* extract */
	bw_resource *resources;
	size_t nresources, capresources;
	bw_link *links;
	size_t nlinks, caplinks;

	/* detect, score */
	bw_finding *findings;
	size_t nfindings, capfindings;
	double score;
	bw_verdict verdict;

	/* parse: every recipient address (--recipient, else Delivered-To,
	 * X-Original-To, To, Cc), lower-case, distinct, at most
	 * BW_MAX_RECIPIENTS; and the Date header in Unix seconds (0: absent or
	 * unparseable) */
	bw_strvec recipients;
	int64_t date;
	/* parse: results of the topmost block of Authentication-Results headers
	 * from trusted authserv-ids (src/mail/authres.c) */
	bw_authres *auth;
	size_t nauth, capauth;
	bw_strvec dkim_signers; /* d= of each DKIM-Signature, lower-case: claimed, not verified */
	/* parse: Received chain (bw_received_parse) */
	bw_received_hop *received;
	size_t nreceived;
} bw_message;

#define BW_MAX_RECIPIENTS 100

void bw_message_free(bw_message *m);
/* SHA-256 of p->data: the one path every attachment and archive member
 * takes, so that all of them can be matched the same way. */
void bw_part_hash(bw_part *p);
/* Adds addr to m->recipients, lower-case, unless it is there, is not an
 * address, or the list is full (BW_MAX_RECIPIENTS). */
void bw_message_add_recipient(bw_message *m, const char *addr);
/* MD5 and SHA-1 of p->data, unless already there: only intel matching and
 * the campaign store read them, so a scan without either does not pay for
 * them (a third of the hashing time). */
void bw_part_hash_legacy(bw_part *p);
const char *bw_message_header(const bw_message *m, const char *name); /* first, or NULL */

bw_resource *bw_message_add_resource(bw_message *m);  /* zeroed, width/height -1 */
bw_link *bw_message_add_link(bw_message *m);          /* zeroed */
bw_finding *bw_message_add_finding(bw_message *m, const char *id, bw_severity sev,
				   double score, const char *summary);

bw_tracker *bw_tracker_new(void);
void bw_tracker_free(bw_tracker *t);

const char *bw_severity_name(bw_severity s);
const char *bw_verdict_name(bw_verdict v);

#endif
