/* The analysis pipeline as one call: parse -> extract -> detect -> score.
 * An engine holds what is loaded once (configuration, tracker lists) and is
 * used by one thread at a time. */
#ifndef BULWARK_ENGINE_H
#define BULWARK_ENGINE_H

#include <stddef.h>

#include "bulwark/filetype.h"
#include "bulwark/limits.h"
#include "bulwark/message.h"
#include "bulwark/trackers.h"

typedef struct bw_config {
	bw_limits limits;
	double suspicious_threshold; /* score at which a message is suspicious */
	double malicious_threshold;
	char *tracker_dir;           /* directory of tracker lists, or NULL */
	char *recipient;             /* overrides the recipient taken from headers */
} bw_config;

void bw_config_default(bw_config *cfg);
/* Reads an INI-style file (GLib key file) over the defaults. Returns 0, or -1
 * with *error (malloc'd) naming the file and the problem. */
int bw_config_load(bw_config *cfg, const char *path, char **error);
void bw_config_free(bw_config *cfg);

typedef struct bw_engine {
	bw_config cfg;
	bw_tracker_db *trackers; /* NULL when no lists are configured */
	bw_filetype *filetype;   /* NULL when libmagic's database is missing */
} bw_engine;

/* Takes ownership of cfg's strings. Problems loading tracker lists go to
 * errors; the engine still works without them. */
bw_engine *bw_engine_new(bw_config *cfg, bw_strvec *errors);
void bw_engine_free(bw_engine *e);

/* Analyses one raw message into m (zeroed by the caller). */
void bw_engine_scan(bw_engine *e, bw_message *m, const char *source, const char *data, size_t len);

#endif
