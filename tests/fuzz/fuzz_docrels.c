/* The Office Open XML relationship parser (src/mail/docrels.c): the input is
 * the content of a .rels member, extracted twice, as two members of one
 * message, so that both caps are reached: MAX_RELS per member and max_links
 * per message. Properties checked: every link is an in-document link of a
 * member with a URL and a short relationship type, the counts stay within
 * both caps, and every error names its member and says why it stopped. */
#include "common.h"

#include "bulwark/docrels.h"

#define MAX_RELS 256 /* docrels.c's per-member cap */
#define MAX_LINKS 300
#define MAX_TYPE 64

static const char *const paths[] = {"word/_rels/document.xml.rels", "xl/worksheets/_rels/sheet1.xml.rels"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_limits lim;
	bw_limits_default(&lim);
	lim.max_links = MAX_LINKS;

	bw_message m;
	fuzz_message_with_parts(&m, 2);
	for (unsigned i = 0; i < 2; i++) {
		bw_part *p = &m.parts[i];
		p->kind = BW_PART_ATTACHMENT;
		p->archive_path = strdup(paths[i]);
		p->data = fuzz_strndup(data, size);
		p->len = size;
		p->archive_depth = 1;
		bw_docrels_extract(&m, i, &lim);
	}

	FUZZ_CHECK(m.nlinks <= MAX_LINKS, "%zu links over max_links %d", m.nlinks, MAX_LINKS);
	size_t per_part[2] = {0, 0};
	for (size_t i = 0; i < m.nlinks; i++) {
		const bw_link *l = &m.links[i];
		FUZZ_CHECK(l->flags == BW_LINK_IN_DOCUMENT, "link %zu has flags %#x", i, l->flags);
		FUZZ_CHECK(l->part < 2 && (i == 0 || l->part >= m.links[i - 1].part), "link %zu of part %u out of order",
			   i, l->part);
		FUZZ_CHECK(l->url && *l->url, "link %zu without a URL", i);
		FUZZ_CHECK(l->rel_type && strlen(l->rel_type) <= MAX_TYPE && !strchr(l->rel_type, '/'),
			   "link %zu has relationship type %s", i, l->rel_type ? l->rel_type : "(none)");
		per_part[l->part]++;
	}
	FUZZ_CHECK(per_part[0] <= MAX_RELS && per_part[1] <= MAX_RELS, "%zu and %zu relationships over a cap of %d",
		   per_part[0], per_part[1], MAX_RELS);
	FUZZ_CHECK(m.errors.n <= 2, "%zu errors for two members", m.errors.n);
	for (size_t i = 0; i < m.errors.n; i++) {
		const char *e = m.errors.v[i];
		bool limit = strncmp(e, "limit: ", 7) == 0;
		FUZZ_CHECK(limit || strncmp(e, "parse: ", 7) == 0, "error without a kind: %s", e);
		const char *quoted = strchr(e, '"');
		unsigned part = 2;
		for (unsigned k = 0; k < 2 && quoted; k++)
			if (strncmp(quoted + 1, paths[k], strlen(paths[k])) == 0 && quoted[1 + strlen(paths[k])] == '"')
				part = k;
		FUZZ_CHECK(part < 2, "error without its member: %s", e);
		FUZZ_CHECK(!limit || per_part[part] == MAX_RELS || m.nlinks == MAX_LINKS,
			   "a limit error with %zu links from its member and %zu in all: %s", per_part[part], m.nlinks, e);
	}
	bw_message_free(&m);
	return 0;
}
