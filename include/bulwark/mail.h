/* The parse stage: raw RFC 5322 bytes in, bw_message out (GMime 3), and the
 * readers that find messages in files, mbox files, Maildirs and directories. */
#ifndef BULWARK_MAIL_H
#define BULWARK_MAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "bulwark/html.h"
#include "bulwark/limits.h"
#include "bulwark/message.h"

/* Must be called once before any parse (initialises GMime). */
void bw_mail_init(void);

/* Parses one message. Never fails: what cannot be parsed is described in
 * m->errors. recipient overrides the address used for token checks (NULL:
 * Delivered-To, X-Original-To, then the first To address). */
void bw_mail_parse(bw_message *m, const char *source, const char *data, size_t len,
		   const char *recipient, const bw_limits *lim);

/* Fills m->received from the Received headers. IPs in internal_networks
 * ("net/prefix" strings) count as internal, as private ones do. */
void bw_received_parse(bw_message *m, const bw_strvec *internal_networks);
/* ip (canonical or not) lies in "net/prefix". */
bool bw_ip_in_network(const char *ip, const char *cidr);

/* Calls fn for every message found under each path, in input order:
 * "-" (one message on standard input), a file (one message, or an mbox when
 * it starts with a "From " line), a Maildir (cur/ and new/), or a directory
 * (recursively, sorted by name). The data passed to fn is valid only during
 * the call. Unreadable paths are reported through err_fn and skipped.
 * Returns the number of unreadable paths. */
typedef void (*bw_mail_fn)(const char *source, const char *data, size_t len, void *arg);
typedef void (*bw_mail_err_fn)(const char *path, const char *why, void *arg);
unsigned bw_mail_read_paths(char *const *paths, size_t npaths, const bw_limits *lim,
			    bw_mail_fn fn, bw_mail_err_fn err_fn, void *arg);

/* Total size of the files bw_mail_read_paths would read (standard input not
 * counted), for progress reporting. */
unsigned long long bw_mail_total_bytes(char *const *paths, size_t npaths);

/* Rewrites a message so that displaying it fetches nothing remote: every
 * HTML part (at any depth) goes through bw_html_sanitize, and a header
 * X-Bulwark-Sanitized summarises what was removed. Returns the new message
 * bytes (malloc'd) or NULL with *error set when the input cannot be parsed
 * as a message at all. */
char *bw_mail_sanitize(const char *data, size_t len, const bw_limits *lim,
		       bw_sanitize_stats *stats, size_t *out_len, char **error);

#endif
