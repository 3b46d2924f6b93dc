/* Lifetime of a bw_message and the append helpers every stage uses to add
 * resources, links and findings to it. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/message.h"

bw_tracker *bw_tracker_new(void)
{
	return bw_xcalloc(1, sizeof(bw_tracker));
}

void bw_tracker_free(bw_tracker *t)
{
	if (!t)
		return;
	free(t->vendor);
	free(t->token_form);
	bw_strvec_free(&t->reasons);
	free(t);
}

bw_resource *bw_message_add_resource(bw_message *m)
{
	void *p = m->resources;
	bw_grow(&p, &m->capresources, m->nresources + 1, sizeof(bw_resource));
	m->resources = p;
	bw_resource *r = &m->resources[m->nresources++];
	memset(r, 0, sizeof *r);
	r->width = r->height = -1;
	return r;
}

bw_link *bw_message_add_link(bw_message *m)
{
	void *p = m->links;
	bw_grow(&p, &m->caplinks, m->nlinks + 1, sizeof(bw_link));
	m->links = p;
	bw_link *l = &m->links[m->nlinks++];
	memset(l, 0, sizeof *l);
	return l;
}

bw_finding *bw_message_add_finding(bw_message *m, const char *id, bw_severity sev,
				   double score, const char *summary)
{
	void *p = m->findings;
	bw_grow(&p, &m->capfindings, m->nfindings + 1, sizeof(bw_finding));
	m->findings = p;
	bw_finding *f = &m->findings[m->nfindings++];
	memset(f, 0, sizeof *f);
	f->id = bw_xstrdup(id);
	f->severity = sev;
	f->score = score;
	f->summary = bw_xstrdup(summary);
	return f;
}

const char *bw_message_header(const bw_message *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders; i++)
		if (bw_ascii_iequal(m->headers[i].name, name))
			return m->headers[i].value;
	return NULL;
}

void bw_message_free(bw_message *m)
{
	if (!m)
		return;
	free(m->source);
	free(m->message_id);
	free(m->from.name);
	free(m->from.address);
	free(m->reply_to.name);
	free(m->reply_to.address);
	free(m->return_path);
	free(m->subject);
	free(m->recipient);
	for (size_t i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
	for (size_t i = 0; i < m->nparts; i++) {
		free(m->parts[i].content_type);
		free(m->parts[i].filename);
		free(m->parts[i].data);
		free(m->parts[i].detected_type);
		free(m->parts[i].archive_path);
		free(m->parts[i].archive_format);
	}
	free(m->parts);
	bw_strvec_free(&m->errors);
	for (size_t i = 0; i < m->nresources; i++) {
		free(m->resources[i].url);
		bw_tracker_free(m->resources[i].tracker);
	}
	free(m->resources);
	for (size_t i = 0; i < m->nlinks; i++) {
		free(m->links[i].url);
		free(m->links[i].text);
		free(m->links[i].unwrapped);
		free(m->links[i].rel_type);
		bw_tracker_free(m->links[i].tracker);
	}
	free(m->links);
	for (size_t i = 0; i < m->nauth; i++)
		bw_authres_free(&m->auth[i]);
	free(m->auth);
	bw_strvec_free(&m->dkim_signers);
	for (size_t i = 0; i < m->nfindings; i++) {
		free(m->findings[i].id);
		free(m->findings[i].summary);
		bw_strvec_free(&m->findings[i].attack);
		free(m->findings[i].evidence_json);
	}
	free(m->findings);
	bw_strvec_free(&m->recipients);
	for (size_t i = 0; i < m->nreceived; i++) {
		free(m->received[i].from_host);
		free(m->received[i].ip);
		free(m->received[i].by_host);
	}
	free(m->received);
	memset(m, 0, sizeof *m);
}

const char *bw_severity_name(bw_severity s)
{
	static const char *const names[] = {"info", "low", "medium", "high"};
	return names[s];
}

const char *bw_verdict_name(bw_verdict v)
{
	static const char *const names[] = {"clean", "suspicious", "malicious"};
	return names[v];
}
