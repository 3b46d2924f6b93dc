/* Sender authentication findings from the trusted Authentication-Results
 * (m->auth, parsed in src/mail/authres.c): SPF_FAIL, DKIM_FAIL, DMARC_FAIL,
 * ARC_FAIL and DMARC_MISALIGNED. Nothing fires without a trusted
 * authserv-id in the configuration: an untrusted header proves nothing.
 *
 * Scores (suspicious at 5, malicious at 10):
 *   SPF_FAIL          1.5 fail, 0.5 softfail (forwarding breaks SPF)
 *   DKIM_FAIL         1.5 when no signature passes, else 0 (lists alter mail)
 *   DMARC_FAIL        3 (high) when the domain asks for quarantine/reject,
 *                     1.5 under p=none (its owner does not trust its own setup)
 *   ARC_FAIL          1 (a broken chain of custody)
 *   DMARC_MISALIGNED  1, or 2 when the From domain is protected: SPF or DKIM
 *                     passed, but for another domain than the From's, and no
 *                     DMARC verdict covers it (no record). Normal for ESPs;
 *                     BULK_SENDER_POSING_AS_TRUSTED says when it is not. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/report.h"
#include "bulwark/url.h"
#include "detect/detect.h"

#define ATTACK_SPOOFING "T1672" /* Email Spoofing */
#define ATTACK_IMPERSONATION "T1656"

/* Registrable domains equal: DMARC's relaxed alignment (RFC 7489 3.1). */
static bool aligned(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	if (strcmp(a, b) == 0)
		return true;
	char *ra = bw_registrable_domain(a), *rb = bw_registrable_domain(b);
	bool same = ra && rb && strcmp(ra, rb) == 0;
	free(ra);
	free(rb);
	return same;
}

/* The evidence every finding of this file carries. */
static void evidence_start(bw_buf *ev, const bw_message *m, const bw_authres *r)
{
	bw_buf_putc(ev, '{');
	bw_json_member(ev, "authserv_id", r->authserv_id, true);
	bw_json_member(ev, "header", r->header < m->nheaders ? m->headers[r->header].value : NULL, false);
	bw_json_member(ev, "method", r->method, false);
	bw_json_member(ev, "result", r->result, false);
	bw_json_member(ev, "reason", r->reason, false);
	bw_json_member(ev, "domain", r->domain, false);
}

static bw_finding *add(bw_message *m, const bw_authres *r, const char *id, bw_severity sev, double score,
		       const char *summary, const char *from_domain)
{
	bw_finding *f = bw_message_add_finding(m, id, sev, score, summary);
	bw_strvec_push(&f->attack, ATTACK_SPOOFING);
	bw_buf ev = {0};
	evidence_start(&ev, m, r);
	bw_json_member(&ev, "from_domain", from_domain, false);
	if (r->identity)
		bw_json_member(&ev, "identity", r->identity, false);
	if (r->policy)
		bw_json_member(&ev, "policy", r->policy, false);
	bw_buf_putc(&ev, '}');
	f->evidence_json = bw_buf_steal(&ev);
	return f;
}

static const bw_authres *first_of(const bw_message *m, const char *method)
{
	for (size_t i = 0; i < m->nauth; i++)
		if (strcmp(m->auth[i].method, method) == 0)
			return &m->auth[i];
	return NULL;
}

static void spf(bw_message *m, const char *fd)
{
	const bw_authres *r = first_of(m, "spf");
	if (!r || (strcmp(r->result, "fail") != 0 && strcmp(r->result, "softfail") != 0))
		return;
	bool hard = strcmp(r->result, "fail") == 0;
	bw_buf s = {0};
	bw_buf_printf(&s, "SPF %s: %s says the sending server may not send for %s", r->result, r->authserv_id,
		      r->domain ? r->domain : "the envelope sender");
	add(m, r, "SPF_FAIL", hard ? BW_SEV_MEDIUM : BW_SEV_LOW, hard ? 1.5 : 0.5, s.data, fd);
	bw_buf_free(&s);
}

static void dkim(bw_message *m, const char *fd)
{
	const bw_authres *failed = NULL;
	bool any_pass = false;
	for (size_t i = 0; i < m->nauth; i++) {
		const bw_authres *r = &m->auth[i];
		if (strcmp(r->method, "dkim") != 0)
			continue;
		any_pass |= strcmp(r->result, "pass") == 0;
		if (!failed && strcmp(r->result, "fail") == 0)
			failed = r;
	}
	if (!failed)
		return;
	bw_buf s = {0};
	bw_buf_printf(&s, "DKIM signature of %s did not verify (%s)%s", failed->domain ? failed->domain : "(no domain)",
		      failed->authserv_id, any_pass ? ", but another signature did" : "");
	add(m, failed, "DKIM_FAIL", any_pass ? BW_SEV_INFO : BW_SEV_MEDIUM, any_pass ? 0 : 1.5, s.data, fd);
	bw_buf_free(&s);
}

static void dmarc(bw_message *m, const char *fd)
{
	const bw_authres *r = first_of(m, "dmarc");
	if (!r || strcmp(r->result, "fail") != 0)
		return;
	bool enforced = r->policy && (strcmp(r->policy, "reject") == 0 || strcmp(r->policy, "quarantine") == 0);
	bw_buf s = {0};
	bw_buf_printf(&s, "DMARC failed for the From domain %s (policy %s): neither SPF nor DKIM authenticated it",
		      r->domain ? r->domain : fd ? fd : "(unknown)", r->policy ? r->policy : "unknown");
	bw_finding *f = add(m, r, "DMARC_FAIL", enforced ? BW_SEV_HIGH : BW_SEV_MEDIUM, enforced ? 3 : 1.5, s.data, fd);
	bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
	bw_buf_free(&s);
}

static void arc(bw_message *m, const char *fd)
{
	const bw_authres *r = first_of(m, "arc");
	if (!r || strcmp(r->result, "fail") != 0)
		return;
	bw_buf s = {0};
	bw_buf_printf(&s, "The ARC chain of custody is broken (%s)", r->authserv_id);
	add(m, r, "ARC_FAIL", BW_SEV_MEDIUM, 1, s.data, fd);
	bw_buf_free(&s);
}

/* SPF or DKIM passed, but only for domains other than the From's, and no
 * DMARC result settles it. */
static void misaligned(bw_message *m, const bw_engine *e, const char *fd)
{
	const bw_authres *dm = first_of(m, "dmarc");
	if (!fd || (dm && (strcmp(dm->result, "pass") == 0 || strcmp(dm->result, "fail") == 0)))
		return;
	const bw_authres *first_pass = NULL;
	bool any_aligned = false;
	bw_buf doms = {0};
	for (size_t i = 0; i < m->nauth && !any_aligned; i++) {
		const bw_authres *r = &m->auth[i];
		if ((strcmp(r->method, "spf") != 0 && strcmp(r->method, "dkim") != 0) || strcmp(r->result, "pass") != 0 ||
		    !r->domain)
			continue;
		any_aligned = aligned(r->domain, fd);
		if (!first_pass)
			first_pass = r;
		if (doms.len)
			bw_buf_putc(&doms, ',');
		bw_buf_putc(&doms, '{');
		bw_json_member(&doms, "method", r->method, true);
		bw_json_member(&doms, "domain", r->domain, false);
		bw_buf_putc(&doms, '}');
	}
	if (first_pass && !any_aligned) {
		const bw_identity *owner = e->protected_ids ? bw_protected_owner(e->protected_ids, fd) : NULL;
		bw_buf s = {0}, ev = {0};
		bw_buf_printf(&s, "Authenticated as %s (%s), not as the From domain %s%s", first_pass->domain,
			      first_pass->method, fd, owner ? ", which is protected" : "");
		bw_finding *f = bw_message_add_finding(m, "DMARC_MISALIGNED", owner ? BW_SEV_MEDIUM : BW_SEV_LOW,
						       owner ? 2 : 1, s.data);
		bw_strvec_push(&f->attack, ATTACK_SPOOFING);
		if (owner)
			bw_strvec_push(&f->attack, ATTACK_IMPERSONATION);
		evidence_start(&ev, m, first_pass);
		bw_json_member(&ev, "from_domain", fd, false);
		bw_json_member(&ev, "dmarc", dm ? dm->result : NULL, false);
		bw_json_member(&ev, "protected_owner", owner ? owner->name : NULL, false);
		bw_buf_printf(&ev, ",\"authenticated\":[%s]}", doms.data);
		f->evidence_json = bw_buf_steal(&ev);
		bw_buf_free(&s);
	}
	bw_buf_free(&doms);
}

void bw_detect_auth(bw_message *m, const bw_engine *e)
{
	if (!m->nauth)
		return;
	char *fd = bw_mail_domain(m->from.address);
	spf(m, fd);
	dkim(m, fd);
	dmarc(m, fd);
	arc(m, fd);
	misaligned(m, e, fd);
	free(fd);
}
