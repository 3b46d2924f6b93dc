/* Growable buffers, string vectors, aborting allocators and the ASCII-only
 * string helpers that mail syntax needs (locale-independent on purpose:
 * header names and URL schemes are ASCII, and tolower() depends on locale). */
#include <malloc.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/util.h"

void bw_malloc_tune(void)
{
	/* A scan allocates and frees buffers of a few MB per large message
	 * (decoded parts, GMime's stream arrays, the DOM). glibc's adaptive
	 * thresholds kept handing those to mmap and trimming the heap after
	 * each message, so every large message paid for fresh pages again:
	 * a 2.9 MB HTML message (phishing_pot sample-3049) took 68 ms a scan,
	 * 15% of it in page faults, and 42 ms with these settings, at the same
	 * peak RSS (37 MB). */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

static void oom(void)
{
	fputs("bulwark: out of memory\n", stderr);
	abort();
}

void *bw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *bw_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *bw_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *bw_xstrndup(const char *s, size_t n)
{
	char *d = bw_xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *bw_xstrdup(const char *s)
{
	return bw_xstrndup(s, strlen(s));
}

char *bw_xvasprintf(const char *fmt, va_list ap)
{
	bw_buf b = {0};
	bw_buf_vprintf(&b, fmt, ap);
	return bw_buf_steal(&b);
}

char *bw_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = bw_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void bw_grow(void **v, size_t *cap, size_t need, size_t esz)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / esz)
			oom();
		ncap *= 2;
	}
	*v = bw_xrealloc(*v, ncap * esz);
	*cap = ncap;
}

void bw_buf_reserve(bw_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len - 1)
		oom();
	void *p = b->data;
	bw_grow(&p, &b->cap, b->len + extra + 1, 1);
	b->data = p;
}

void bw_buf_append(bw_buf *b, const void *data, size_t len)
{
	bw_buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void bw_buf_puts(bw_buf *b, const char *s)
{
	bw_buf_append(b, s, strlen(s));
}

void bw_buf_putc(bw_buf *b, char c)
{
	bw_buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

void bw_buf_vprintf(bw_buf *b, const char *fmt, va_list ap)
{
	/* Most formatted pieces are short: format once into the stack and copy,
	 * and only format twice when the piece is long. */
	char small[256];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		bw_buf_append(b, small, (size_t)n);
		return;
	}
	bw_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void bw_buf_printf(bw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bw_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *bw_buf_steal(bw_buf *b)
{
	char *s = b->data ? b->data : bw_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

void bw_buf_reset(bw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void bw_buf_free(bw_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void bw_strvec_push_owned(bw_strvec *sv, char *s)
{
	void *p = sv->v;
	bw_grow(&p, &sv->cap, sv->n + 1, sizeof(char *));
	sv->v = p;
	sv->v[sv->n++] = s;
}

void bw_strvec_push(bw_strvec *sv, const char *s)
{
	bw_strvec_push_owned(sv, bw_xstrdup(s));
}

void bw_strvec_pushf(bw_strvec *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bw_strvec_push_owned(sv, bw_xvasprintf(fmt, ap));
	va_end(ap);
}

bool bw_strvec_contains(const bw_strvec *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void bw_strvec_free(bw_strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

static inline char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool bw_ascii_iequal(const char *a, const char *b)
{
	while (*a && ascii_lower(*a) == ascii_lower(*b))
		a++, b++;
	return *a == *b;
}

bool bw_ascii_istartswith(const char *s, const char *prefix)
{
	while (*prefix) {
		if (ascii_lower(*s) != ascii_lower(*prefix))
			return false;
		s++, prefix++;
	}
	return true;
}

const char *bw_ascii_strcasestr(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return hay;
	for (; *hay; hay++)
		if (ascii_lower(*hay) == ascii_lower(*needle) && bw_ascii_istartswith(hay, needle))
			return hay;
	return NULL;
}

void bw_ascii_lower(char *s)
{
	for (; *s; s++)
		*s = ascii_lower(*s);
}
