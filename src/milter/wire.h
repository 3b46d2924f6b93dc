/* The pool's wire protocol between the daemon and a worker: frames of
 * (u32 type, u32 length, payload) on a stream socket, and the encoding of a
 * job and of a result inside them. Both sides bound and validate every
 * length: a worker may be compromised by the mail it parses, so the daemon
 * trusts nothing it sends. */
#ifndef BULWARK_MILTER_WIRE_H
#define BULWARK_MILTER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulwark/history.h"
#include "bulwark/util.h"
#include "milter/pool.h"

enum {
	BW_FRAME_JOB = 1,    /* daemon -> worker */
	BW_FRAME_READY = 2,  /* worker -> daemon: loaded and locked down; payload: sandbox summary */
	BW_FRAME_FAILED = 3, /* worker -> daemon: could not load or lock down; payload: why */
	BW_FRAME_RESULT = 4,  /* worker -> daemon */
	BW_FRAME_SIGHTING = 5, /* worker -> daemon, during a job: record this in the history store */
	BW_FRAME_CONTACT = 6   /* daemon -> worker: what the history store answered */
};

/* The largest message the pool accepts, and what a worker may send back for
 * it (sanitized copy, report, findings): a reply larger than this for its
 * job is malformed. */
#define BW_WIRE_MAX_MESSAGE ((size_t)256 << 20)
#define BW_WIRE_MAX_RECIPIENTS 1000
#define BW_WIRE_MAX_READY 4096
size_t bw_wire_max_reply(size_t job_len);

/* Milliseconds on the monotonic clock. */
int64_t bw_wire_now_ms(void);

/* Whole-buffer I/O until deadline_ms (monotonic; -1: no deadline). Sockets
 * may be non-blocking. Writes never raise SIGPIPE. Return 0, or -1 with
 * errno (ETIMEDOUT at the deadline, EPIPE when the peer closed). */
int bw_wire_write(int fd, const void *data, size_t len, int64_t deadline_ms);
int bw_wire_read(int fd, void *data, size_t len, int64_t deadline_ms);

/* Reads one frame whose payload is at most max bytes into *payload
 * (malloc'd, NUL-terminated). Returns 0, or -1 with errno: EPROTO for an
 * oversized frame, EPIPE at end of file, ETIMEDOUT. */
int bw_wire_read_frame(int fd, uint32_t *type, char **payload, size_t *len, size_t max,
		       int64_t deadline_ms);
int bw_wire_write_frame(int fd, uint32_t type, const void *payload, size_t len, int64_t deadline_ms);

/* A job on the wire: the frame header and every field but the raw message,
 * which the caller sends right after it so that it is not copied. */
void bw_wire_encode_job_head(bw_buf *out, const bw_pool_job *job);

/* The worker's view of a decoded job; pointers into the payload. */
typedef struct bw_wire_job {
	bool want_sanitized;
	const char *raw;
	size_t len;
} bw_wire_job;
/* Returns 0, or -1 when the payload is malformed. recipients (emptied
 * first) receives the envelope recipients, non-empty ones only. */
int bw_wire_decode_job(const char *payload, size_t len, bw_wire_job *job, bw_strvec *recipients);

/* A result on the wire, and its strict decoding (-1: malformed; out then
 * holds nothing to free). */
void bw_wire_encode_result(bw_buf *out, const bw_pool_result *r);
int bw_wire_decode_result(const char *payload, size_t len, bw_pool_result *out);

/* The sender history lives in the daemon, which may write (docs/sandbox.md):
 * during a job a worker sends each (message, sender, recipient) sighting and
 * waits for the contact. The daemon decodes strictly: every string non-empty,
 * at most BW_WIRE_MAX_FIELD bytes, UTF-8 without control characters; the
 * strings point into the payload. */
#define BW_WIRE_MAX_FIELD 2048
void bw_wire_encode_sighting(bw_buf *out, const bw_sighting *s);
int bw_wire_decode_sighting(const char *payload, size_t len, bw_sighting *s, bw_buf *strings);
/* Contact payload: u32 ok, then the contact or the error text. */
void bw_wire_encode_contact(bw_buf *out, const bw_contact *c, const char *error);
/* Returns 0 with *c, 1 with *error (malloc'd) when the store failed, -1
 * when malformed. */
int bw_wire_decode_contact(const char *payload, size_t len, bw_contact *c, char **error);

#endif
