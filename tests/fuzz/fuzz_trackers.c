/* A tracker-list directory built from the input: the input is written as one
 * list file (Adblock/Ugly Email .txt, or Trocker .json when it starts with
 * '{'), loaded, and a few URLs matched against it. */
#include "common.h"

#include <unistd.h>

#include "bulwark/trackers.h"

static char dir[64];
static char txt[96], json[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof dir, "/tmp/bw-fuzz-trackers-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(txt, sizeof txt, "%s/list.txt", dir);
	snprintf(json, sizeof json, "%s/list.json", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = size && data[0] == '{' ? json : txt;
	unlink(txt);
	unlink(json);
	fuzz_write_file(path, data, size);

	bw_strvec errors = {0};
	bw_tracker_db *db = bw_tracker_db_load(dir, &errors);
	bw_strvec_free(&errors);
	if (db) {
		static const char *urls[] = {
			"https://pixel.example.com/open.gif?id=abc123",
			"http://t.sidekickopen.com/e1t/o/5/f18dQhb0S7ks8dDMPbW2n0x6l2B9gXrN7sKj6v5KRN6W8",
			"https://a.example/",
		};
		bw_tracker_match match;
		for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
			(void)bw_tracker_db_match(db, urls[i], true, true, &match);
			(void)bw_tracker_db_match(db, urls[i], false, false, &match);
		}
		(void)bw_tracker_db_rule_count(db);
		bw_tracker_db_free(db);
	}
	return 0;
}
