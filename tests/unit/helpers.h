/* Fixtures shared by the cmocka unit tests: temporary files and databases,
 * engines built from config text, and finding lookup. Include after
 * <cmocka.h>; tests/meson.build links helpers.c into every unit test. */
#ifndef BW_TEST_HELPERS_H
#define BW_TEST_HELPERS_H

#include "bulwark/engine.h"

/* Writes text to a fresh file under /tmp; the caller unlinks and frees the path. */
char *test_write_temp(const char *text);

/* An engine from config text. When the config does not load, returns NULL
 * with *error set, or fails the test when error is NULL. Engine errors other
 * than a missing libmagic database fail the test. */
bw_engine *test_engine_from(const char *conf, char **error);

/* The first finding with this id, or NULL. */
const bw_finding *test_find(const bw_message *m, const char *id);

/* A fresh path under /tmp where no file exists yet, for SQLite to create. */
char *test_temp_db(const char *prefix);

/* Removes an SQLite database with its -wal and -shm files and frees path. */
void test_remove_db(char *path);

#endif
