/* The detector table's contract. A detector reads the parsed and extracted
 * message, may annotate its resources and links, and appends findings. It
 * never re-parses anything. Internal to the library. */
#ifndef BULWARK_DETECT_H
#define BULWARK_DETECT_H

#include "bulwark/engine.h"
#include "bulwark/message.h"

typedef void (*bw_detector_fn)(bw_message *m, const bw_engine *e);

typedef struct bw_detector {
	const char *name;
	bw_detector_fn run;
} bw_detector;

/* Runs every registered detector, in table order. */
void bw_detect_all(bw_message *m, const bw_engine *e);

void bw_detect_tracking(bw_message *m, const bw_engine *e);
void bw_detect_remote_content(bw_message *m, const bw_engine *e);

#endif
