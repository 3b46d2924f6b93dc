/* Fixtures shared by the cmocka unit tests (see helpers.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

char *test_write_temp(const char *text)
{
	char *path = strdup("/tmp/bw-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

bw_engine *test_engine_from(const char *conf, char **error)
{
	char *path = test_write_temp(conf);
	bw_config cfg;
	bw_config_default(&cfg);
	char *err = NULL;
	int rc = bw_config_load(&cfg, path, &err);
	unlink(path);
	free(path);
	if (rc < 0) {
		bw_config_free(&cfg);
		if (!error)
			fail_msg("config: %s", err);
		*error = err;
		return NULL;
	}
	bw_strvec errors = {0};
	bw_engine *e = bw_engine_new(&cfg, &errors);
	for (size_t i = 0; i < errors.n; i++)
		if (!strstr(errors.v[i], "libmagic"))
			fail_msg("engine error: %s", errors.v[i]);
	bw_strvec_free(&errors);
	assert_non_null(e);
	return e;
}

const bw_finding *test_find(const bw_message *m, const char *id)
{
	for (size_t i = 0; i < m->nfindings; i++)
		if (strcmp(m->findings[i].id, id) == 0)
			return &m->findings[i];
	return NULL;
}

char *test_temp_db(const char *prefix)
{
	char *path = bw_xasprintf("/tmp/%s-XXXXXX", prefix);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	return path;
}

void test_remove_db(char *path)
{
	char side[512];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	free(path);
}
