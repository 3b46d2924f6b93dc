/* A whole raw message through the pipeline (parse -> extract -> detect ->
 * score), with the shared tracker lists loaded once and Authentication-Results
 * headers trusted (also those without an authserv-id), so that the
 * authentication detectors see fuzzed results too. */
#include "common.h"

#include "bulwark/engine.h"

#ifndef BW_SHARED_DIR
#define BW_SHARED_DIR "../shared"
#endif

static bw_engine *engine;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bw_config cfg;
	bw_config_default(&cfg);
	const char *dir = getenv("BULWARK_FUZZ_TRACKERS");
	cfg.tracker_dir = strdup(dir ? dir : BW_SHARED_DIR "/intel/trackers");
	bw_strvec_push(&cfg.trusted_authserv_ids, "(none)");
	bw_strvec_push(&cfg.trusted_authserv_ids, "mx.google.com");
	bw_strvec errors = {0};
	engine = bw_engine_new(&cfg, &errors);
	bw_strvec_free(&errors);
	if (!engine->trackers)
		fprintf(stderr, "fuzz_message: tracker lists not loaded from %s\n", engine->cfg.tracker_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bw_message m;
	memset(&m, 0, sizeof m);
	bw_engine_scan(engine, &m, "fuzz", (const char *)data, size);
	bw_message_free(&m);
	return 0;
}
