/* The milter pool's frame decoders (src/milter/wire.c): results and
 * sightings are what a worker compromised by the mail it parsed sends to
 * the daemon, jobs and contacts what a worker reads. The first byte picks
 * the decoder, the rest is the payload. Properties checked: a payload that
 * decodes holds what the decoder promises, and encoding it and decoding
 * that again gives the same values (byte for byte where the encoding is
 * unique); one that does not decode leaves nothing to free. */
#include "common.h"

#include <math.h>

#include "milter/wire.h"

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Text the daemon copies into headers and logs: no control characters. */
static bool plain_text(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void check_job(const char *payload, size_t len)
{
	bw_wire_job job, again;
	bw_strvec rcpt = {0}, rcpt2 = {0};
	bw_buf enc = {0};
	if (bw_wire_decode_job(payload, len, &job, &rcpt) == 0) {
		FUZZ_CHECK(job.raw >= payload && job.raw + job.len == payload + len, "raw message outside the payload");
		FUZZ_CHECK(rcpt.n <= BW_WIRE_MAX_RECIPIENTS, "%zu recipients", rcpt.n);
		for (size_t i = 0; i < rcpt.n; i++)
			FUZZ_CHECK(*rcpt.v[i], "an empty recipient");
		bw_pool_job pj = {.raw = job.raw, .len = job.len, .recipients = (const char *const *)rcpt.v,
				  .nrecipients = rcpt.n, .want_sanitized = job.want_sanitized};
		bw_wire_encode_job_head(&enc, &pj);
		bw_buf_append(&enc, job.raw, job.len);
		uint32_t head[2];
		FUZZ_CHECK(enc.len >= sizeof head, "job frame without a header");
		memcpy(head, enc.data, sizeof head);
		FUZZ_CHECK(head[0] == BW_FRAME_JOB && head[1] == enc.len - sizeof head, "job frame header %u %u for %zu bytes",
			   head[0], head[1], enc.len);
		FUZZ_CHECK(bw_wire_decode_job(enc.data + sizeof head, enc.len - sizeof head, &again, &rcpt2) == 0,
			   "a re-encoded job does not decode");
		bool same = again.want_sanitized == job.want_sanitized && rcpt2.n == rcpt.n && again.len == job.len &&
			    memcmp(again.raw, job.raw, job.len) == 0;
		for (size_t i = 0; same && i < rcpt.n; i++)
			same = strcmp(rcpt.v[i], rcpt2.v[i]) == 0;
		FUZZ_CHECK(same, "a job changed in a round trip");
	}
	bw_strvec_free(&rcpt);
	bw_strvec_free(&rcpt2);
	bw_buf_free(&enc);
}

static void check_result(const char *payload, size_t len)
{
	bw_pool_result r, again;
	bw_buf enc = {0};
	if (bw_wire_decode_result(payload, len, &r) < 0) {
		FUZZ_CHECK(!r.ok && !r.findings && !r.report_json && !r.sanitized && !r.error,
			   "a malformed result left something to free");
		return;
	}
	FUZZ_CHECK(r.ok && r.verdict <= BW_MALICIOUS && isfinite(r.score) && fabs(r.score) <= 1e9,
		   "result verdict %d score %g", (int)r.verdict, r.score);
	FUZZ_CHECK(plain_text(r.findings) && plain_text(r.report_json) && plain_text(r.error),
		   "a result text with a control character");
	FUZZ_CHECK(!r.findings || strspn(r.findings, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_,") == strlen(r.findings),
		   "findings %s", r.findings);
	FUZZ_CHECK(r.sanitized || !r.sanitized_len, "%zu sanitized bytes without a copy", r.sanitized_len);
	bw_wire_encode_result(&enc, &r);
	FUZZ_CHECK(bw_wire_decode_result(enc.data, enc.len, &again) == 0, "a re-encoded result does not decode");
	FUZZ_CHECK(again.verdict == r.verdict && memcmp(&again.score, &r.score, sizeof r.score) == 0 &&
			   same_text(again.findings, r.findings) && same_text(again.report_json, r.report_json) &&
			   same_text(again.error, r.error) && again.sanitized_len == r.sanitized_len &&
			   !again.sanitized == !r.sanitized &&
			   (!r.sanitized || memcmp(again.sanitized, r.sanitized, r.sanitized_len) == 0),
		   "a result changed in a round trip");
	bw_pool_result_free(&again);
	bw_pool_result_free(&r);
	bw_buf_free(&enc);
}

static void check_sighting(const char *payload, size_t len)
{
	bw_sighting s, again;
	bw_buf strings = {0}, strings2 = {0}, enc = {0};
	if (bw_wire_decode_sighting(payload, len, &s, &strings) == 0) {
		const char *f[] = {s.msg_key, s.sender, s.sender_domain, s.recipient};
		for (int i = 0; i < 4; i++)
			FUZZ_CHECK(*f[i] && strlen(f[i]) <= BW_WIRE_MAX_FIELD && plain_text(f[i]),
				   "sighting field %d: %s", i, f[i]);
		/* every field is NUL-free, so the encoding is the payload itself */
		bw_wire_encode_sighting(&enc, &s);
		FUZZ_CHECK(enc.len == len && memcmp(enc.data, payload, len) == 0, "a sighting re-encodes differently");
		FUZZ_CHECK(bw_wire_decode_sighting(enc.data, enc.len, &again, &strings2) == 0 &&
				   strcmp(again.msg_key, s.msg_key) == 0 && strcmp(again.sender, s.sender) == 0 &&
				   strcmp(again.sender_domain, s.sender_domain) == 0 &&
				   strcmp(again.recipient, s.recipient) == 0 && again.sent == s.sent,
			   "a sighting changed in a round trip");
	}
	bw_buf_free(&strings);
	bw_buf_free(&strings2);
	bw_buf_free(&enc);
}

static void check_contact(const char *payload, size_t len)
{
	bw_contact c, again;
	char *error = NULL, *error2 = NULL;
	bw_buf enc = {0};
	int rc = bw_wire_decode_contact(payload, len, &c, &error);
	FUZZ_CHECK(rc >= -1 && rc <= 1 && (rc == 1) == (error != NULL), "contact rc %d with error %s", rc,
		   error ? error : "(none)");
	if (rc == 0) {
		bw_wire_encode_contact(&enc, &c, NULL);
		FUZZ_CHECK(enc.len == len && memcmp(enc.data, payload, len) == 0, "a contact re-encodes differently");
		FUZZ_CHECK(bw_wire_decode_contact(enc.data, enc.len, &again, &error2) == 0 && again.known == c.known &&
				   again.domain_known == c.domain_known && again.sender_messages == c.sender_messages &&
				   again.domain_messages == c.domain_messages && again.domain_senders == c.domain_senders &&
				   again.sent == c.sent && again.first_seen == c.first_seen &&
				   again.last_seen == c.last_seen && again.count == c.count,
			   "a contact changed in a round trip");
	} else if (rc == 1) {
		bw_wire_encode_contact(&enc, NULL, error);
		FUZZ_CHECK(bw_wire_decode_contact(enc.data, enc.len, &again, &error2) == 1 && strcmp(error2, error) == 0,
			   "a contact error changed in a round trip");
	}
	free(error);
	free(error2);
	bw_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* the payload is not copied: libFuzzer's buffer ends where it does, so
	 * a decoder reading past it is caught */
	const char *payload = (const char *)data + 1;
	switch (data[0] & 3) {
	case 0:
		check_job(payload, size - 1);
		break;
	case 1:
		check_result(payload, size - 1);
		break;
	case 2:
		check_sighting(payload, size - 1);
		break;
	default:
		check_contact(payload, size - 1);
		break;
	}
	return 0;
}
