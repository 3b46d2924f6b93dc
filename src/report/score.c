/* The score stage: the verdict is the sum of finding scores against the
 * configured thresholds. Findings are ordered highest score first, ties in
 * detector order, as the report contract requires. */
#include <stdlib.h>

#include "bulwark/report.h"

static int by_score_desc(const void *a, const void *b)
{
	const bw_finding *fa = a, *fb = b;
	if (fa->score != fb->score)
		return fa->score < fb->score ? 1 : -1;
	return (fa < fb) ? -1 : (fa > fb);
}

void bw_score(bw_message *m, const bw_config *cfg)
{
	/* qsort is not stable; the address tie-break keeps detector order
	 * because the array is still in insertion order when compared. */
	if (m->nfindings > 1)
		qsort(m->findings, m->nfindings, sizeof(bw_finding), by_score_desc);
	double sum = 0;
	for (size_t i = 0; i < m->nfindings; i++)
		sum += m->findings[i].score;
	m->score = sum;
	if (sum >= cfg->malicious_threshold)
		m->verdict = BW_MALICIOUS;
	else if (sum >= cfg->suspicious_threshold)
		m->verdict = BW_SUSPICIOUS;
	else
		m->verdict = BW_CLEAN;
}
