/* STIX: placeholder until written. */
#include "bulwark/store.h"
int bw_export_stix(bw_store *s, const bw_config *cfg, const char *campaign, long long since, FILE *out, char **error)
{
	*error = bw_xstrdup("not yet");
	return -1;
}
