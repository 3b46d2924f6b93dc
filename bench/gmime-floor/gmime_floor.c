/* The floor under any scanner that reads MIME with GMime 3: each message of
 * a corpus is parsed into a GMime tree and every leaf part's content is
 * decoded (base64, quoted-printable, uuencode) into memory, and nothing
 * else happens: no charset conversion, HTML, URLs, detectors or report.
 * It prints messages per CPU-second of this process, the number
 * bench/scan-vs-rspamd reports for bulwark and rspamd, so that the three
 * can be set side by side (bench/README.md).
 *   gmime_floor DIR [REPEAT]     every regular file under DIR, sorted */
#include <dirent.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct corpus {
	char **data;
	size_t *len, n, cap;
} corpus;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load(corpus *c, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		exit(2);
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 256) * sizeof *names)))
			exit(2);
		names[n++] = g_build_filename(dir, e->d_name, NULL);
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		gchar *data;
		gsize len;
		if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			load(c, names[i]);
		} else if (S_ISREG(st.st_mode) && g_file_get_contents(names[i], &data, &len, NULL)) {
			if (c->n == c->cap) {
				c->cap = c->cap ? 2 * c->cap : 1024;
				c->data = realloc(c->data, c->cap * sizeof *c->data);
				c->len = realloc(c->len, c->cap * sizeof *c->len);
				if (!c->data || !c->len)
					exit(2);
			}
			c->data[c->n] = data;
			c->len[c->n++] = len;
		}
		g_free(names[i]);
	}
	free(names);
}

static void decode_leaf(GMimeObject *parent, GMimeObject *part, gpointer total)
{
	if (!GMIME_IS_PART(part))
		return;
	GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(part));
	if (!w)
		return;
	GMimeStream *out = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(w, out);
	*(size_t *)total += (size_t)g_mime_stream_length(out);
	g_object_unref(out);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: gmime_floor DIR [REPEAT]\n", stderr);
		return 2;
	}
	int repeat = argc > 2 ? atoi(argv[2]) : 3;
	g_mime_init();
	corpus c = {0};
	load(&c, argv[1]);
	size_t bytes = 0;
	for (size_t i = 0; i < c.n; i++)
		bytes += c.len[i];
	for (int r = 0; r < repeat; r++) {
		size_t decoded = 0, failed = 0;
		double t0 = cpu_seconds();
		for (size_t i = 0; i < c.n; i++) {
			GMimeStream *s = g_mime_stream_mem_new_with_buffer(c.data[i], c.len[i]);
			GMimeParser *p = g_mime_parser_new_with_stream(s);
			GMimeMessage *m = g_mime_parser_construct_message(p, NULL);
			if (m) {
				g_mime_message_foreach(m, decode_leaf, &decoded);
				g_object_unref(m);
			} else {
				failed++;
			}
			g_object_unref(p);
			g_object_unref(s);
		}
		double cpu = cpu_seconds() - t0;
		printf("pass %d: %zu messages (%zu MB, %zu not parsed), %zu MB decoded, %.3f CPU-s, "
		       "%.0f messages per CPU-second\n",
		       r + 1, c.n, bytes >> 20, failed, decoded >> 20, cpu, c.n / cpu);
	}
	return 0;
}
