/* Shared by the libFuzzer harnesses in tests/fuzz. */
#ifndef BW_FUZZ_COMMON_H
#define BW_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/message.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (embedded NULs kept). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Writes the input to path, for the harnesses whose code under test reads files. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
}

/* An empty message with nparts zeroed parts, for the harnesses of the
 * extraction steps, which read parts the parse stage made. */
static inline void fuzz_message_with_parts(bw_message *m, size_t nparts)
{
	memset(m, 0, sizeof *m);
	m->parts = calloc(nparts, sizeof *m->parts);
	if (!m->parts)
		abort();
	m->nparts = m->capparts = nparts;
}

#define FUZZ_CHECK(cond, ...)                                            \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "fuzz property violated: " __VA_ARGS__); \
			fputc('\n', stderr);                             \
			abort();                                         \
		}                                                        \
	} while (0)

#endif
