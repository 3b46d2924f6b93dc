/* URLs in plain text, found the way mail clients turn them into links:
 * http://, https:// and www. runs, ended by white space or markup
 * characters, with trailing sentence punctuation and unbalanced closing
 * brackets left out. */
#include <string.h>

#include "bulwark/url.h"

static bool url_char(unsigned char c)
{
	return c > ' ' && c != '<' && c != '>' && c != '"' && c != '`' && c != 0x7f;
}

static bool starts_url(const char *s, size_t n, size_t i)
{
	if (i > 0 && (unsigned char)s[i - 1] > ' ' && strchr("(<\"'[", s[i - 1]) == NULL)
		return false; /* inside a word: "xhttp://" is no link */
	size_t left = n - i;
	return (left > 7 && strncasecmp(s + i, "http://", 7) == 0) ||
	       (left > 8 && strncasecmp(s + i, "https://", 8) == 0) ||
	       (left > 4 && strncasecmp(s + i, "www.", 4) == 0);
}

/* Drops trailing punctuation that ends a sentence rather than the URL, and
 * a closing bracket that has no opening one inside the URL. */
static size_t trim_end(const char *s, size_t start, size_t end)
{
	while (end > start) {
		char c = s[end - 1];
		if (strchr(".,;:!?'\"", c)) {
			end--;
			continue;
		}
		if (c == ')' || c == ']') {
			char open = c == ')' ? '(' : '[';
			int balance = 0;
			for (size_t i = start; i < end; i++)
				balance += (s[i] == open) - (s[i] == c);
			if (balance < 0) {
				end--;
				continue;
			}
		}
		break;
	}
	return end;
}

bool bw_text_next_url(const char *s, size_t n, size_t *pos, size_t *start, size_t *end)
{
	for (size_t i = *pos; i < n; i++) {
		if (!starts_url(s, n, i))
			continue;
		size_t j = i;
		while (j < n && url_char((unsigned char)s[j]))
			j++;
		size_t e = trim_end(s, i, j);
		*pos = j;
		if (e - i <= 8)
			continue; /* "http://" alone */
		*start = i;
		*end = e;
		return true;
	}
	*pos = n;
	return false;
}
