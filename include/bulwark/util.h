/* Small containers shared by every stage: a growable byte buffer and a string
 * vector. Everything else in the tree builds on these two. */
#ifndef BULWARK_UTIL_H
#define BULWARK_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct bw_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
} bw_buf;

void bw_buf_reserve(bw_buf *b, size_t extra);
void bw_buf_append(bw_buf *b, const void *data, size_t len);
void bw_buf_puts(bw_buf *b, const char *s);
void bw_buf_putc(bw_buf *b, char c);
void bw_buf_printf(bw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bw_buf_vprintf(bw_buf *b, const char *fmt, va_list ap);
char *bw_buf_steal(bw_buf *b); /* returns the string (never NULL) and resets b */
void bw_buf_reset(bw_buf *b);
void bw_buf_free(bw_buf *b);

typedef struct bw_strvec {
	char **v;
	size_t n;
	size_t cap;
} bw_strvec;

void bw_strvec_push(bw_strvec *sv, const char *s);        /* copies s */
void bw_strvec_push_owned(bw_strvec *sv, char *s);        /* takes s */
void bw_strvec_pushf(bw_strvec *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool bw_strvec_contains(const bw_strvec *sv, const char *s);
void bw_strvec_free(bw_strvec *sv);

/* Allocation that aborts on failure: out-of-memory is not a recoverable
 * condition for a scanner, and checking every small allocation hides logic. */
void *bw_xmalloc(size_t n);
void *bw_xcalloc(size_t n, size_t size);
void *bw_xrealloc(void *p, size_t n);
char *bw_xstrdup(const char *s);
char *bw_xstrndup(const char *s, size_t n);
char *bw_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bw_xvasprintf(const char *fmt, va_list ap);

/* Grow *v (element size esz) so that it holds at least need elements. */
void bw_grow(void **v, size_t *cap, size_t need, size_t esz);

bool bw_ascii_iequal(const char *a, const char *b);
bool bw_ascii_istartswith(const char *s, const char *prefix);
const char *bw_ascii_strcasestr(const char *hay, const char *needle);
void bw_ascii_lower(char *s);

/* Whether s[0..n) (UTF-8) holds zero-width or soft-hyphen characters, or
 * bidirectional controls (then *bidi is set too). */
bool bw_invisible_or_bidi(const char *s, size_t n, bool *bidi);

/* Process-wide malloc settings for scanning: call once at start-up, in
 * every process that scans or copies messages (the CLI, the milter). */
void bw_malloc_tune(void);

/* Lower-case hex digests of data[0..len), NUL-terminated. */
void bw_sha256_hex(const void *data, size_t len, char out[65]);
void bw_md5_sha1_hex(const void *data, size_t len, char md5[33], char sha1[41]);

#endif
