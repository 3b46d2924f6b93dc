/* Attribution: placeholder until written. */
#include "bulwark/store.h"
int bw_attribute(bw_store *s, const char *campaign, const char *intel_db, bool json, FILE *out, char **error)
{
	*error = bw_xstrdup("not yet");
	return -1;
}
