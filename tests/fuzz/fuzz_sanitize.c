/* bw_mail_sanitize, then the property the sanitizer promises: scanning its
 * output lists no resource fetched on open. */
#include "common.h"

#include "bulwark/engine.h"
#include "bulwark/mail.h"

static bw_engine *engine;
static bw_limits lim;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bw_config cfg;
	bw_config_default(&cfg);
	lim = cfg.limits;
	bw_strvec errors = {0};
	engine = bw_engine_new(&cfg, &errors); /* also initialises GMime */
	bw_strvec_free(&errors);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_sanitize_stats stats;
	memset(&stats, 0, sizeof stats);
	size_t out_len = 0;
	char *error = NULL;
	char *out = bw_mail_sanitize((const char *)data, size, &lim, &stats, &out_len, &error);
	free(error);
	if (!out)
		return 0;
	bw_message m;
	memset(&m, 0, sizeof m);
	bw_engine_scan(engine, &m, "sanitized", out, out_len);
	for (size_t i = 0; i < m.nresources; i++)
		if (m.resources[i].on_open) {
			fprintf(stderr, "sanitized output still loads %s (%s) on open\n",
				m.resources[i].url, m.resources[i].element);
			fwrite(out, 1, out_len, stderr);
			fputc('\n', stderr);
			abort();
		}
	bw_message_free(&m);
	free(out);
	return 0;
}
