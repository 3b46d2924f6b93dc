/* The parse stage: turns raw message bytes into a bw_message with GMime 3.
 * GMime does the MIME work (multipart nesting, base64, quoted-printable,
 * uuencode, RFC 2047/2231, charsets); this file walks its tree under our
 * limits, converts every text part to valid UTF-8 and records what went
 * wrong without ever giving up on the message. */
#include <errno.h>
#include <gmime/gmime.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/mail.h"
#include "mail/mime.h"

void bw_mail_init(void)
{
	static bool done;
	if (!done) {
		g_mime_init();
		done = true;
	}
}

typedef struct parse_state {
	bw_message *m;
	const bw_limits *lim;
	size_t decoded_total;
	unsigned warned; /* bit per GMimeParserWarning code, so each is reported once */
	bool parts_reported, decoded_reported;
	size_t len; /* bytes handed to GMime */
} parse_state;

static const char *warning_text(GMimeParserWarning code)
{
	switch (code) {
	case GMIME_WARN_DUPLICATED_HEADER: return "duplicated header";
	case GMIME_WARN_DUPLICATED_PARAMETER: return "duplicated header parameter";
	case GMIME_WARN_UNENCODED_8BIT_HEADER: return "unencoded 8-bit characters in a header";
	case GMIME_WARN_INVALID_CONTENT_TYPE: return "invalid Content-Type, assumed application/octet-stream";
	case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: return "invalid RFC 2047 encoded word";
	case GMIME_WARN_MALFORMED_MULTIPART: return "multipart without child parts";
	case GMIME_WARN_TRUNCATED_MESSAGE: return "message is truncated";
	case GMIME_WARN_MALFORMED_MESSAGE: return "message is malformed";
	case GMIME_WARN_INVALID_PARAMETER: return "invalid header parameter";
	case GMIME_WARN_INVALID_ADDRESS_LIST: return "invalid address list";
	case GMIME_WARN_PART_WITHOUT_CONTENT: return "MIME part headers ended by a boundary";
	default: return NULL;
	}
}

/* Only structural problems become report errors: duplicated headers and
 * 8-bit header bytes are everyday mail and would drown the real ones. */
static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
	parse_state *st = data;
	if (code == GMIME_WARN_DUPLICATED_HEADER || code == GMIME_WARN_UNENCODED_8BIT_HEADER ||
	    code == GMIME_WARN_DUPLICATED_PARAMETER)
		return;
	const char *text = warning_text(code);
	if (!text || code >= 32 || (st->warned & (1u << code)))
		return;
	st->warned |= 1u << code;
	/* GMime reports -1 where it has no position; a truncated message was
	 * cut at its end (it ran out of input inside an open part). */
	if (offset >= 0)
		bw_strvec_pushf(&st->m->errors, "parse: %s (at byte %lld)", text, (long long)offset);
	else if (code == GMIME_WARN_TRUNCATED_MESSAGE)
		bw_strvec_pushf(&st->m->errors, "parse: %s (input ends at byte %zu inside an unclosed "
				"multipart)", text, st->len);
	else
		bw_strvec_pushf(&st->m->errors, "parse: %s (position unknown)", text);
}

static char *strip_angles(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '<')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '>' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return bw_xstrndup(s, n);
}

/* Unfolds a raw header value: line breaks go, the folding white space stays
 * as one space, as RFC 5322 section 2.2.3 says. */
static char *unfold(const char *raw)
{
	while (*raw == ' ' || *raw == '\t')
		raw++;
	size_t n = strlen(raw), o = 0;
	char *out = bw_xmalloc(n + 1);
	for (size_t i = 0; i < n;) {
		size_t run = strcspn(raw + i, "\r\n");
		memcpy(out + o, raw + i, run);
		o += run;
		for (i += run; raw[i] == '\r' || raw[i] == '\n'; i++)
			;
	}
	while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
}

/* Cuts s to at most max bytes, on a UTF-8 character boundary; returns the
 * length it had. */
static size_t cut_field(char *s, size_t max)
{
	size_t n = strlen(s);
	if (max && n > max) {
		size_t k = max;
		while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		s[k] = '\0';
	}
	return n;
}

/* Header values past max_header_field_bytes are cut: every detector that
 * reads headers (address lists, keyword and lookalike checks) then works
 * on a bounded string. */
static void copy_headers(bw_message *m, GMimeObject *obj, const bw_limits *lim)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(obj);
	int n = g_mime_header_list_get_count(list);
	if (n <= 0)
		return;
	m->headers = bw_xcalloc((size_t)n, sizeof(bw_header));
	unsigned cut = 0;
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *raw = g_mime_header_get_raw_value(h);
		bw_header *out = &m->headers[m->nheaders++];
		out->name = bw_xstrdup(g_mime_header_get_name(h));
		out->value = unfold(raw ? raw : "");
		size_t len = cut_field(out->value, lim->max_header_field_bytes);
		if (len > lim->max_header_field_bytes && lim->max_header_field_bytes && !cut++)
			bw_strvec_pushf(&m->errors, "limit: header field %s is %zu bytes; only the first %zu "
					"were read (max_header_field_bytes)", out->name, len,
					lim->max_header_field_bytes);
	}
	if (cut > 1)
		bw_strvec_pushf(&m->errors, "limit: %u header fields were longer than %zu bytes and cut "
				"(max_header_field_bytes)", cut, lim->max_header_field_bytes);
}

static void first_mailbox(InternetAddressList *list, bw_address *out)
{
	if (!list)
		return;
	/* Groups are flattened: the first mailbox inside counts. */
	for (int depth = 0; depth < 4; depth++) {
		if (internet_address_list_length(list) <= 0)
			return;
		InternetAddress *ia = internet_address_list_get_address(list, 0);
		if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			list = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
			continue;
		}
		const char *name = internet_address_get_name(ia);
		const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
		if (name && *name)
			out->name = bw_xstrdup(name);
		if (addr && *addr)
			out->address = bw_xstrdup(addr);
		return;
	}
}

static bool is_address(const char *a)
{
	const char *at = a ? strrchr(a, '@') : NULL;
	return at && at > a && at[1];
}

/* What a mail client shows for a From or Reply-To that GMime's strict
 * parser gives up on: specials in an unquoted name ("Congratulation
 * [username] <no-reply@shop.example>", "Dringend->Icloud<x@y.example>"), a
 * bracketed local part ("reply-[nu_24]@in2.esp.example"), or no address at
 * all ("\"Facebook\" <>", a bare name). The address is the last <...> that
 * holds one, else the last word with an '@'; the name is what comes before
 * it. Phishers write such headers so that the name is all a reader sees. */
static void mailbox_from_raw(const bw_message *m, const char *header, bw_address *out)
{
	const char *v = bw_message_header(m, header);
	if (!v || (out->name && is_address(out->address)))
		return;
	char *addr = NULL;
	size_t name_end = strlen(v);
	const char *lt = strrchr(v, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt) {
		name_end = (size_t)(lt - v);
		while (name_end && (v[name_end - 1] == '<' || v[name_end - 1] == ' '))
			name_end--; /* "Name"<<>> */
		char *in = g_strstrip(bw_xstrndup(lt + 1, (size_t)(gt - lt - 1)));
		if (is_address(in) && !strpbrk(in, " \t<>"))
			addr = bw_xstrdup(in);
		free(in);
	} else {
		char **words = g_strsplit_set(v, " \t,;\"", -1);
		for (char **w = words; *w; w++)
			if (is_address(*w)) {
				free(addr);
				addr = bw_xstrdup(*w);
				name_end = (size_t)(strstr(v, *w) - v);
			}
		g_strfreev(words);
	}
	if (!is_address(out->address) && addr) {
		free(out->address);
		out->address = addr;
		addr = NULL;
	}
	free(addr);
	if (!out->name) {
		char *raw = bw_xstrndup(v, name_end);
		char *dec = g_mime_utils_header_decode_phrase(NULL, raw);
		char *name = g_strstrip(g_strdup(dec ? dec : raw));
		size_t n = strlen(name);
		if (n >= 2 && name[0] == '"' && name[n - 1] == '"') {
			name[n - 1] = '\0';
			memmove(name, name + 1, n - 1);
		}
		if (*name)
			out->name = bw_xstrdup(name);
		g_free(name);
		g_free(dec);
		free(raw);
	}
}

static char *first_address_of_header(const bw_message *m, const char *name)
{
	const char *v = bw_message_header(m, name);
	if (!v)
		return NULL;
	InternetAddressList *list = internet_address_list_parse(NULL, v);
	bw_address a = {0};
	first_mailbox(list, &a);
	if (list)
		g_object_unref(list);
	free(a.name);
	return a.address;
}

void bw_message_add_recipient(bw_message *m, const char *addr)
{
	if (!addr || !*addr || !strchr(addr, '@') || m->recipients.n >= BW_MAX_RECIPIENTS)
		return;
	char *low = bw_xstrdup(addr);
	bw_ascii_lower(low);
	if (bw_strvec_contains(&m->recipients, low))
		free(low);
	else
		bw_strvec_push_owned(&m->recipients, low);
}

/* Every mailbox of every recipient header, group members included (groups
 * do not nest in RFC 5322). */
static void collect_recipients(bw_message *m)
{
	static const char *const fields[] = {"Delivered-To", "X-Original-To", "To", "Cc"};
	for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++)
		for (size_t i = 0; i < m->nheaders && m->recipients.n < BW_MAX_RECIPIENTS; i++) {
			if (!bw_ascii_iequal(m->headers[i].name, fields[f]))
				continue;
			InternetAddressList *list = internet_address_list_parse(NULL, m->headers[i].value);
			int n = list ? internet_address_list_length(list) : 0;
			for (int j = 0; j < n; j++) {
				InternetAddress *ia = internet_address_list_get_address(list, j);
				if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
					bw_message_add_recipient(m, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
					continue;
				}
				InternetAddressList *members = internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
				int k = members ? internet_address_list_length(members) : 0;
				for (int g = 0; g < k; g++) {
					InternetAddress *ma = internet_address_list_get_address(members, g);
					if (INTERNET_ADDRESS_IS_MAILBOX(ma))
						bw_message_add_recipient(m, internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ma)));
				}
			}
			if (list)
				g_object_unref(list);
		}
}

static bool is_utf8_name(const char *cs)
{
	return bw_ascii_iequal(cs, "utf-8") || bw_ascii_iequal(cs, "utf8") ||
	       bw_ascii_iequal(cs, "us-ascii") || bw_ascii_iequal(cs, "ascii");
}

/* The charset a browser would take from <meta charset> or <meta http-equiv>
 * in the first 1024 bytes, used only when MIME declares none. */
static char *sniff_meta_charset(const char *html, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	char head[1025];
	memcpy(head, html, n);
	head[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (head[i] == '\0')
			head[i] = ' ';
	const char *p = bw_ascii_strcasestr(head, "charset=");
	if (!p)
		return NULL;
	p += 8;
	while (*p == '"' || *p == '\'' || *p == ' ')
		p++;
	size_t k = 0;
	while (p[k] && (g_ascii_isalnum(p[k]) || p[k] == '-' || p[k] == '_' || p[k] == '.' || p[k] == ':'))
		k++;
	return k ? bw_xstrndup(p, k) : NULL;
}

/* g_utf8_validate, except that NUL bytes count as valid (they are valid
 * UTF-8; GLib's check stops at them). *bad gets the first invalid byte, or
 * the end. A character of more than one byte has only bytes >= 0x80, so
 * every ASCII byte is a character boundary: ASCII is skipped eight bytes at
 * a time and GLib checks only the runs of other bytes, which makes this
 * several times faster on the mostly-ASCII text of mail. */
static bool utf8_valid(const char *s, size_t len, const char **bad)
{
	const char *end = s + len;
	while (s < end) {
		uint64_t w;
		if (end - s >= 8 && (memcpy(&w, s, 8), !(w & 0x8080808080808080ULL))) {
			s += 8;
			continue;
		}
		if (!((unsigned char)*s & 0x80)) {
			s++;
			continue;
		}
		const char *run = s, *e;
		while (s < end && ((unsigned char)*s & 0x80))
			s++;
		if (!g_utf8_validate(run, s - run, &e)) {
			*bad = e;
			return false;
		}
	}
	*bad = end;
	return true;
}

/* Appends U+FFFD. */
static void put_replacement(bw_buf *b)
{
	bw_buf_append(b, "\xef\xbf\xbd", 3);
}

/* Length of the longest prefix of s[0..len) (valid UTF-8) that is at most
 * max bytes and ends on a character boundary. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* Converts from a charset iconv knows to UTF-8, writing at most max bytes
 * (*cut is set when there was more). The output is bounded as it is made, so
 * that a part in a single-byte charset (up to 3 UTF-8 bytes per byte) cannot
 * triple the memory it takes before any limit is checked. A byte sequence
 * invalid in the charset becomes U+FFFD and conversion goes on after it, as
 * browsers do (iconv would otherwise give up on the whole part). Returns
 * false when iconv cannot convert from cs at all. */
static bool convert_bounded(const char *cs, const char *data, size_t len, size_t max, bw_buf *out,
			    bool *cut)
{
	iconv_t cd = g_mime_iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return false;
	/* A first guess: most text grows little; the buffer doubles as needed. */
	size_t want = len + len / 4 + 16;
	bw_buf_reserve(out, want < max ? want : max);
	char *in = (char *)data;
	size_t inleft = len;
	while (inleft > 0) {
		if (out->len >= max) {
			*cut = true;
			break;
		}
		if (out->cap - out->len < 16 + 1) {
			size_t grow = out->cap < max - out->len ? out->cap : max - out->len;
			bw_buf_reserve(out, grow > 16 ? grow : 16);
		}
		size_t room = out->cap - out->len - 1; /* keep the NUL */
		if (room > max - out->len)
			room = max - out->len;
		char *o = out->data + out->len;
		size_t oleft = room;
		size_t r = iconv(cd, &in, &inleft, &o, &oleft);
		out->len += room - oleft;
		out->data[out->len] = '\0';
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			if (oleft < room)
				continue; /* progress: go on with more room */
			/* the next character does not fit in what is left */
			if (room >= max - out->len) {
				*cut = true;
				break;
			}
			bw_buf_reserve(out, out->cap);
			continue;
		}
		/* EILSEQ: an invalid sequence; EINVAL: an incomplete one at the end */
		if (out->len + 3 > max) {
			*cut = true;
			break;
		}
		put_replacement(out);
		in++;
		inleft--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	if (inleft == 0) {
		/* flush the shift state (stateful charsets such as ISO-2022-JP) */
		char tail[16], *o = tail;
		size_t oleft = sizeof tail;
		if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1 && out->len + (sizeof tail - oleft) <= max)
			bw_buf_append(out, tail, sizeof tail - oleft);
	}
	g_mime_iconv_close(cd);
	return true;
}

/* Decoded part bytes as valid UTF-8, at most max bytes. Declared charset
 * first; with none, UTF-8 if the bytes are valid UTF-8, else windows-1252,
 * which is what mail clients and browsers fall back to. Invalid sequences
 * become U+FFFD. Returns NULL when data[0..len) can be used as it is (valid
 * UTF-8 within max), so that callers holding the bytes need not copy them;
 * else a malloc'd string. */
static char *text_to_utf8(const char *declared, const char *data, size_t len, bool html, size_t max,
			  size_t *out_len, bool *cut, bw_strvec *errors)
{
	char *sniffed = NULL;
	const char *cs = declared;
	*cut = false;
	if (!cs && html)
		cs = sniffed = sniff_meta_charset(data, len);
	const char *bad;
	bool valid = utf8_valid(data, len, &bad);
	if ((!cs || is_utf8_name(cs)) && valid) {
		free(sniffed);
		*out_len = utf8_prefix(data, len, max);
		*cut = *out_len < len;
		return NULL;
	}
	if (!cs || bw_ascii_iequal(cs, "us-ascii") || bw_ascii_iequal(cs, "ascii"))
		cs = "windows-1252";
	bw_buf out = {0};
	bool converted = false;
	if (!is_utf8_name(cs)) {
		converted = convert_bounded(cs, data, len, max, &out, cut);
		if (!converted) {
			bw_strvec_pushf(errors, "parse: unknown charset \"%s\", read as windows-1252", cs);
			converted = convert_bounded("windows-1252", data, len, max, &out, cut);
		}
	}
	if (converted && !utf8_valid(out.data ? out.data : "", out.len, &bad)) {
		bw_buf_free(&out); /* not expected from iconv; be safe */
		converted = false;
	}
	if (!converted) {
		/* UTF-8 declared but invalid: each bad byte becomes U+FFFD */
		bw_buf_reset(&out);
		*cut = false;
		const char *p = data, *end = data + len;
		while (p < end) {
			utf8_valid(p, (size_t)(end - p), &bad);
			size_t good = utf8_prefix(p, (size_t)(bad - p), max - out.len);
			bw_buf_append(&out, p, good);
			if (good < (size_t)(bad - p) || (bad < end && out.len + 3 > max)) {
				*cut = true;
				break;
			}
			if (bad < end)
				put_replacement(&out);
			p = bad < end ? bad + 1 : end;
		}
	}
	free(sniffed);
	*out_len = out.len;
	return bw_buf_steal(&out);
}

char *bw_mime_text_utf8(GMimePart *part, const char *data, size_t len, bool html, size_t *out_len,
			bw_strvec *errors)
{
	const char *declared = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	bool cut;
	char *s = text_to_utf8(declared && *declared ? declared : NULL, data, len, html, SIZE_MAX,
			       out_len, &cut, errors);
	return s ? s : bw_xstrndup(data, len);
}

/* The decoded content of a part, read through GMime's decoding filter (as
 * g_mime_data_wrapper_write_to_stream does) into one buffer, stopping after
 * max bytes: the content is never held twice, and a part over the limit is
 * never decoded whole. The buffer is sized from the encoded length, which no
 * transfer encoding's decoded form exceeds, so it is normally allocated once. */
char *bw_mime_decoded(GMimePart *part, size_t max, size_t *len, bool *cut)
{
	*cut = false;
	*len = 0;
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *src = content ? g_mime_data_wrapper_get_stream(content) : NULL; /* not a new ref */
	if (!src)
		return bw_xstrdup("");
	if (max > SIZE_MAX / 2)
		max = SIZE_MAX / 2;
	g_mime_stream_reset(src);
	GMimeStream *in = src;
	GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE) {
		GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);
		in = g_mime_stream_filter_new(src);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(in), f);
		g_object_unref(f);
	}
	gint64 enc_len = g_mime_stream_length(src);
	size_t guess = enc_len >= 0 ? (size_t)enc_len : 65536;
	size_t cap = (guess < max ? guess : max) + 1, n = 0;
	char *buf = bw_xmalloc(cap);
	for (;;) {
		if (n + 1 < cap) {
			ssize_t r = g_mime_stream_read(in, buf + n, cap - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			continue;
		}
		/* full: is there more? */
		char probe[4096];
		ssize_t r = g_mime_stream_read(in, probe, sizeof probe);
		if (r <= 0)
			break;
		size_t take = (size_t)r < max - n ? (size_t)r : max - n;
		if (take) {
			size_t ncap = cap < max / 2 ? cap * 2 : max + 1;
			if (ncap < n + take + 1)
				ncap = n + take + 1;
			buf = bw_xrealloc(buf, ncap);
			cap = ncap;
			memcpy(buf + n, probe, take);
			n += take;
		}
		if (take < (size_t)r) {
			*cut = true;
			break;
		}
	}
	buf[n] = '\0';
	if (in != src)
		g_object_unref(in);
	g_mime_stream_reset(src);
	*len = n;
	return buf;
}

void bw_part_hash(bw_part *p)
{
	bw_sha256_hex(p->data ? p->data : "", p->len, p->sha256);
}

void bw_part_hash_legacy(bw_part *p)
{
	if (!p->md5[0])
		bw_md5_sha1_hex(p->data ? p->data : "", p->len, p->md5, p->sha1);
}

static void add_leaf(GMimePart *part, unsigned depth, void *arg)
{
	parse_state *st = arg;
	bw_message *m = st->m;
	if (m->nparts >= st->lim->max_parts) {
		if (!st->parts_reported)
			bw_strvec_pushf(&m->errors, "limit: more than %u MIME parts; the rest were not read (max_parts)",
					st->lim->max_parts);
		st->parts_reported = true;
		return;
	}
	GMimeObject *obj = GMIME_OBJECT(part);
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	char *type = bw_xstrdup(mime ? mime : "application/octet-stream");
	g_free(mime);
	bw_ascii_lower(type);

	/* max_decoded_bytes bounds what the message's parts hold in memory
	 * together: decoded attachments and text as stored, in UTF-8. */
	size_t budget = st->lim->max_decoded_bytes > st->decoded_total
				? st->lim->max_decoded_bytes - st->decoded_total : 0;
	size_t len;
	bool cut;
	char *raw = bw_mime_decoded(part, budget, &len, &cut);
	GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
	bool attachment = disp && g_mime_content_disposition_is_attachment(disp);
	bw_part_kind kind = BW_PART_ATTACHMENT;
	if (!attachment && strcmp(type, "text/html") == 0)
		kind = BW_PART_HTML;
	else if (!attachment && strncmp(type, "text/", 5) == 0)
		kind = BW_PART_TEXT;

	void *p = m->parts;
	bw_grow(&p, &m->capparts, m->nparts + 1, sizeof(bw_part));
	m->parts = p;
	bw_part *bp = &m->parts[m->nparts++];
	memset(bp, 0, sizeof *bp);
	bp->kind = kind;
	bp->content_type = type;
	bp->depth = depth;
	const char *fname = g_mime_part_get_filename(part);
	if (fname && *fname)
		bp->filename = bw_xstrdup(fname);

	if (kind == BW_PART_ATTACHMENT) {
		bp->data = raw;
		bp->len = len;
		bw_part_hash(bp);
	} else {
		/* Text: the decoded bytes are kept as they are when they are
		 * UTF-8 already, else replaced by their conversion. */
		const char *declared = g_mime_object_get_content_type_parameter(obj, "charset");
		bool conv_cut;
		char *utf8 = text_to_utf8(declared && *declared ? declared : NULL, raw, len,
					  kind == BW_PART_HTML, budget, &bp->len, &conv_cut, &m->errors);
		if (utf8) {
			free(raw);
			bp->data = utf8;
		} else {
			bp->data = raw;
			raw[bp->len] = '\0';
		}
		cut |= conv_cut;
	}
	st->decoded_total += bp->len;
	if (cut && !st->decoded_reported) {
		bw_strvec_pushf(&m->errors, "limit: decoded content exceeds %zu bytes; parts were cut "
				"(max_decoded_bytes)", st->lim->max_decoded_bytes);
		st->decoded_reported = true;
	}
}

typedef struct walk_item {
	GMimeObject *obj;
	unsigned depth;
} walk_item;

static void push_item(walk_item **stack, size_t *n, size_t *cap, GMimeObject *obj, unsigned depth)
{
	void *p = *stack;
	bw_grow(&p, cap, *n + 1, sizeof(walk_item));
	*stack = p;
	(*stack)[(*n)++] = (walk_item){obj, depth};
}

bool bw_mime_walk(GMimeObject *root, unsigned max_depth, bw_mime_leaf_fn fn, void *arg)
{
	walk_item *stack = NULL;
	size_t n = 0, cap = 0;
	bool complete = true;
	push_item(&stack, &n, &cap, root, 0);
	while (n) {
		walk_item it = stack[--n];
		if (it.depth > max_depth) {
			complete = false;
			continue;
		}
		if (GMIME_IS_MULTIPART(it.obj)) {
			GMimeMultipart *mp = GMIME_MULTIPART(it.obj);
			for (int i = g_mime_multipart_get_count(mp) - 1; i >= 0; i--)
				push_item(&stack, &n, &cap, g_mime_multipart_get_part(mp, i), it.depth + 1);
		} else if (GMIME_IS_MESSAGE_PART(it.obj)) {
			GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(it.obj));
			GMimeObject *body = inner ? g_mime_message_get_mime_part(inner) : NULL;
			if (body)
				push_item(&stack, &n, &cap, body, it.depth + 1);
		} else if (GMIME_IS_PART(it.obj)) {
			fn(GMIME_PART(it.obj), it.depth, arg);
		}
	}
	free(stack);
	return complete;
}

GMimeParserOptions *bw_mime_options(void)
{
	GMimeParserOptions *opts = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(opts, GMIME_RFC_COMPLIANCE_LOOSE);
	return opts;
}

/* ---- structure pre-scan ---- */

/* GMime builds its whole tree before any of our limits apply, and some
 * shapes of input make that tree, or the time to build it, far larger than
 * the message:
 * - every line that starts with "--" is compared against every boundary
 *   open at that point: 1,000 nested multiparts followed by 8 MB of "--x"
 *   lines take 10 s, a 64 MiB message over a minute (GMime itself only stops
 *   nesting at 1,024 levels, GMIME_CRIT_NESTING_OVERFLOW);
 * - each MIME part costs ~1.3 KB of objects: 200,000 empty parts (1.4 MB of
 *   input) take 270 MB, and max_parts only applies after they are built;
 * - each header field costs ~25 times its size (address lists more):
 *   a 64 MiB To: would take over a gigabyte.
 * A light reading of the structure (header blocks, Content-Type boundaries
 * and message/rfc822, boundary lines) therefore cuts the message before the
 * first part or header line past one of these caps. They are far above
 * what real mail has and above the default limits (max_mime_depth 32,
 * max_parts 1000), so nothing a scan would have read is lost. The reading
 * errs towards seeing less structure than GMime does: it can only cut where
 * GMime would have built at least as much. */
enum {
	CAP_NESTING = 64,
	CAP_PARTS = 10000,
	CAP_HEADER_BYTES = 2 << 20 /* all header blocks together */
};
/* The cut is recorded on the message (offset + 1, and a reason) under these
 * keys; rewrite.c reads the first too. */
#define BW_CUT_KEY "bw-structure-cut"
#define BW_CUT_WHY_KEY "bw-structure-cut-why"
/* Offset + 1 of the first repaired boundary parameter (see bw_mime_construct). */
#define BW_UNCLOSED_KEY "bw-unclosed-boundary"

typedef struct nest_level {
	char *boundary; /* a multipart's boundary; NULL for a message/rfc822 level */
	size_t blen;
} nest_level;

/* type/subtype and boundary of a Content-Type value, loosely: enough to
 * follow the structure, erring towards seeing less nesting than GMime.
 * *unterminated is set when the boundary's quoted string has no closing
 * quote: it then runs to the end of the field, as lenient readers (Python's
 * email package, mail clients) take it, white space at the end left out. */
static void read_content_type(const char *v, size_t n, bool *multipart, bool *message,
			      const char **b, size_t *blen, bool *unterminated)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	*multipart = n >= 10 && g_ascii_strncasecmp(v, "multipart/", 10) == 0;
	*message = (n >= 14 && g_ascii_strncasecmp(v, "message/rfc822", 14) == 0) ||
		   (n >= 14 && g_ascii_strncasecmp(v, "message/global", 14) == 0);
	*b = NULL;
	*blen = 0;
	*unterminated = false;
	for (size_t i = 0; *multipart && i + 9 <= n; i++) {
		if (g_ascii_strncasecmp(v + i, "boundary=", 9) != 0 ||
		    (i > 0 && v[i - 1] != ';' && v[i - 1] != ' ' && v[i - 1] != '\t'))
			continue;
		size_t j = i + 9, k;
		if (j < n && v[j] == '"') {
			for (k = ++j; k < n && v[k] != '"'; k++)
				;
			if (k == n) {
				while (k > j && (v[k - 1] == ' ' || v[k - 1] == '\t'))
					k--;
				*unterminated = k > j;
			}
		} else {
			for (k = j; k < n && v[k] != ';' && v[k] != ' ' && v[k] != '\t' && v[k] != '\r' &&
				    v[k] != '\n'; k++)
				;
		}
		if (k > j) {
			*b = v + j;
			*blen = k - j;
		}
		return;
	}
}

/* "Name:" with a printable ASCII name, as a header field starts (white space
 * before the colon is tolerated, as GMime does). */
static bool is_field_line(const char *line, size_t n)
{
	size_t i = 0;
	while (i < n && line[i] > ' ' && line[i] < 127 && line[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < n && line[i] == ':';
}

/* The offset after the last non-blank byte of a field line starting at pos,
 * or prev when the line is all blank. */
static size_t field_end(const char *line, size_t content, size_t pos, size_t prev)
{
	while (content && (line[content - 1] == ' ' || line[content - 1] == '\t'))
		content--;
	return content ? pos + content : prev;
}

/* read_content_type of one finished Content-Type field; when its boundary
 * quote is unterminated, ct_end (where the closing quote belongs) goes to
 * unclosed. */
static void field_content_type(const char *ctype, size_t ctlen, size_t ct_end, GArray *unclosed,
			       bool *mp, bool *msg, const char **b, size_t *blen)
{
	bool unterminated;
	read_content_type(ctype, ctlen, mp, msg, b, blen, &unterminated);
	if (unterminated)
		g_array_append_val(unclosed, ct_end);
}

/* Offset of the line at which the message passes one of the caps, or len;
 * *why says which. The offsets where a Content-Type field with an unterminated
 * quoted boundary ends (where its closing quote belongs) go to unclosed. */
static size_t structure_cut(const char *d, size_t len, const char **why, GArray *unclosed)
{
	nest_level *st = bw_xcalloc(CAP_NESTING + 1, sizeof *st);
	size_t depth = 0, cut = len, pos = 0, block = 0, parts = 0, header_bytes = 0;
	bool headers = true;
	char ctype[4096];
	size_t ctlen = 0, ct_end = 0; /* ct_end: after the field's last non-blank byte */
	bool in_ct = false;
	*why = NULL;
	while (pos < len) {
		const char *nl = memchr(d + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - d) + 1 : len;
		const char *line = d + pos;
		size_t n = end - pos;
		size_t content = n - (n && line[n - 1] == '\n') - (n >= 2 && line[n - 2] == '\r');
		/* a boundary line: the innermost open boundary it starts with */
		long hit = -1;
		if (content >= 2 && line[0] == '-' && line[1] == '-') {
			for (size_t i = depth; i-- > 0;)
				if (st[i].boundary && content >= 2 + st[i].blen &&
				    memcmp(line + 2, st[i].boundary, st[i].blen) == 0) {
					hit = (long)i;
					break;
				}
		}
		bool in_headers = headers;
		if (hit >= 0) {
			bool close = content >= 4 + st[hit].blen && line[2 + st[hit].blen] == '-' &&
				     line[3 + st[hit].blen] == '-';
			size_t keep = (size_t)hit + (close ? 0 : 1);
			while (depth > keep)
				free(st[--depth].boundary);
			if (!close && ++parts > CAP_PARTS) {
				cut = pos;
				*why = "more than 10000 MIME parts";
				break;
			}
			headers = !close;
			block = end;
			ctlen = 0;
			in_ct = false;
			in_headers = false;
		} else if (headers && content > 0 && line[0] != ' ' && line[0] != '\t' &&
			   !is_field_line(line, content)) {
			/* not a header: GMime takes the body to start here */
			headers = in_headers = false;
		}
		if (in_headers) {
			header_bytes += n;
			if (header_bytes > CAP_HEADER_BYTES) {
				cut = pos;
				*why = "more than 2097152 bytes of header fields";
				break;
			}
		}
		if (in_headers && content == 0) {
			/* end of a header block: does it open a level? */
			bool mp, msg;
			const char *b;
			size_t blen;
			field_content_type(ctype, ctlen, ct_end, unclosed, &mp, &msg, &b, &blen);
			if ((mp && b) || msg) {
				if (depth == CAP_NESTING) {
					cut = block;
					*why = "MIME nesting deeper than 64 levels";
					break;
				}
				st[depth].boundary = mp ? bw_xstrndup(b, blen) : NULL;
				st[depth].blen = mp ? blen : 0;
				depth++;
				if (msg && !mp && ++parts > CAP_PARTS) {
					cut = block;
					*why = "more than 10000 MIME parts";
					break;
				}
			}
			headers = msg && !mp; /* a message's body starts with headers */
			block = end;
			ctlen = 0;
			in_ct = false;
		} else if (in_headers && (line[0] == ' ' || line[0] == '\t')) {
			if (in_ct) {
				size_t take = content < sizeof ctype - ctlen ? content : sizeof ctype - ctlen;
				memcpy(ctype + ctlen, line, take);
				ctlen += take;
				ct_end = field_end(line, content, pos, ct_end);
			}
		} else if (in_headers) {
			/* a block may hold several Content-Type fields, and GMime may
			 * take any of them: every unterminated one is repaired */
			if (in_ct) {
				bool mp, msg;
				const char *b;
				size_t blen;
				field_content_type(ctype, ctlen, ct_end, unclosed, &mp, &msg, &b, &blen);
			}
			in_ct = content >= 13 && g_ascii_strncasecmp(line, "content-type:", 13) == 0;
			if (in_ct) {
				ctlen = content - 13 < sizeof ctype ? content - 13 : sizeof ctype;
				memcpy(ctype, line + 13, ctlen);
				ct_end = field_end(line, content, pos, pos + 13);
			}
		}
		pos = end;
	}
	while (depth)
		free(st[--depth].boundary);
	free(st);
	return cut;
}

static void free_array_not_data(gpointer array)
{
	g_byte_array_free(array, FALSE);
}

/* The stream reads the caller's bytes in place: g_mime_stream_mem_new_with_buffer
 * would copy the whole message (up to max_message_bytes) once more. The
 * GByteArray only points at data; the stream does not own it, nothing writes
 * to it, and when the stream goes (after the message and every part's
 * substream, which hold references to it) only the GByteArray header is
 * freed. The caller keeps data valid while the message lives. */
GMimeMessage *bw_mime_construct(const char *data, size_t len, GMimeParserOptions *opts)
{
	if (len > G_MAXUINT) /* GByteArray lengths are guint */
		len = G_MAXUINT;
	const char *why;
	GArray *unclosed = g_array_new(FALSE, FALSE, sizeof(size_t));
	size_t cut = structure_cut(data, len, &why, unclosed);
	GByteArray *array;
	if (unclosed->len == 0) {
		array = g_byte_array_new_take((guint8 *)data, cut);
	} else {
		/* GMime takes boundary="b (no closing quote) to have no boundary
		 * and finds no parts, while lenient clients read boundary b and
		 * show the parts, trackers and all. The copy closes each such
		 * quote where its field ends, so GMime reads what they do. Rare,
		 * so the copy (one message size more) is paid only here. */
		array = g_byte_array_sized_new((guint)(cut + unclosed->len));
		size_t from = 0;
		for (guint i = 0; i < unclosed->len; i++) {
			size_t at = g_array_index(unclosed, size_t, i);
			g_byte_array_append(array, (const guint8 *)data + from, (guint)(at - from));
			g_byte_array_append(array, (const guint8 *)"\"", 1);
			from = at;
		}
		g_byte_array_append(array, (const guint8 *)data + from, (guint)(cut - from));
	}
	GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(array);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
	g_object_set_data_full(G_OBJECT(stream), "bw-array", array,
			       unclosed->len ? (GDestroyNotify)g_byte_array_unref : free_array_not_data);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg && cut < len) {
		g_object_set_data(G_OBJECT(msg), BW_CUT_KEY, GSIZE_TO_POINTER(cut + 1));
		g_object_set_data(G_OBJECT(msg), BW_CUT_WHY_KEY, (gpointer)why);
	}
	if (msg && unclosed->len)
		g_object_set_data(G_OBJECT(msg), BW_UNCLOSED_KEY,
				  GSIZE_TO_POINTER(g_array_index(unclosed, size_t, 0) + 1));
	g_array_free(unclosed, TRUE);
	return msg;
}

/* Where bw_mime_construct cut the message (SIZE_MAX: it did not), and why. */
static size_t structure_cut_of(GMimeMessage *msg, const char **why)
{
	gsize v = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), BW_CUT_KEY));
	*why = g_object_get_data(G_OBJECT(msg), BW_CUT_WHY_KEY);
	return v ? v - 1 : SIZE_MAX;
}

/* A bare HTML document (a saved mail body, as tracker studies publish them)
 * starts with '<', which no header field name can. It is read as a message
 * whose only part is that HTML, and the report says so. */
bool bw_mime_is_bare_html(const char *data, size_t len)
{
	size_t i = 0;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i < len && data[i] == '<';
}

static void parse_bare_html(bw_message *m, const char *data, size_t len, const bw_limits *lim)
{
	bw_strvec_push(&m->errors, "parse: no message headers; read as a bare HTML body");
	m->parts = bw_xcalloc(1, sizeof(bw_part));
	m->nparts = m->capparts = 1;
	bw_part *p = &m->parts[0];
	p->kind = BW_PART_HTML;
	p->content_type = bw_xstrdup("text/html");
	bool cut;
	p->data = text_to_utf8(NULL, data, len, true, lim->max_decoded_bytes, &p->len, &cut, &m->errors);
	if (!p->data)
		p->data = bw_xstrndup(data, p->len);
	if (cut)
		bw_strvec_pushf(&m->errors, "limit: decoded content exceeds %zu bytes; parts were cut "
				"(max_decoded_bytes)", lim->max_decoded_bytes);
}

void bw_mail_parse(bw_message *m, const char *source, const char *data, size_t len,
		   const char *recipient, const bw_limits *lim)
{
	parse_state st = {.m = m, .lim = lim};
	m->source = bw_xstrdup(source);
	if (len > lim->max_message_bytes) {
		bw_strvec_pushf(&m->errors, "limit: message is %zu bytes; only the first %zu were read (max_message_bytes)",
				len, lim->max_message_bytes);
		len = lim->max_message_bytes;
	}
	if (len == 0)
		bw_strvec_push(&m->errors, "parse: empty message");
	if (bw_mime_is_bare_html(data, len)) {
		parse_bare_html(m, data, len, lim);
		if (recipient) {
			m->recipient = bw_xstrdup(recipient);
			bw_message_add_recipient(m, recipient);
		}
		return;
	}

	st.len = len;
	GMimeParserOptions *opts = bw_mime_options();
	g_mime_parser_options_set_warning_callback(opts, on_warning, &st);
	GMimeMessage *msg = bw_mime_construct(data, len, opts);

	if (!msg) {
		bw_strvec_push(&m->errors, "parse: not an RFC 5322 message; nothing could be read");
	} else {
		const char *why;
		size_t cut = structure_cut_of(msg, &why);
		if (cut != SIZE_MAX)
			bw_strvec_pushf(&m->errors, "limit: %s at byte %zu; the rest of the message was not read",
					why, cut);
		gsize unclosed = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(msg), BW_UNCLOSED_KEY));
		if (unclosed)
			bw_strvec_pushf(&m->errors, "parse: malformed Content-Type boundary parameter: quoted "
					"string not closed (field ends at byte %zu); read as running to the end "
					"of the field, as lenient mail clients do", (size_t)(unclosed - 1));
		copy_headers(m, GMIME_OBJECT(msg), lim);
		const char *mid = g_mime_message_get_message_id(msg);
		if (mid && *mid)
			m->message_id = strip_angles(mid);
		const char *subj = g_mime_message_get_subject(msg);
		if (subj) {
			m->subject = bw_xstrdup(subj);
			cut_field(m->subject, lim->max_header_field_bytes);
		}
		first_mailbox(g_mime_message_get_from(msg), &m->from);
		first_mailbox(g_mime_message_get_reply_to(msg), &m->reply_to);
		mailbox_from_raw(m, "From", &m->from);
		mailbox_from_raw(m, "Reply-To", &m->reply_to);
		GDateTime *date = g_mime_message_get_date(msg);
		if (date)
			m->date = g_date_time_to_unix(date);
		const char *rp = bw_message_header(m, "Return-Path");
		if (rp)
			m->return_path = strip_angles(rp);
		GMimeObject *body = g_mime_message_get_mime_part(msg);
		if (body && !bw_mime_walk(body, lim->max_mime_depth, add_leaf, &st))
			bw_strvec_pushf(&m->errors, "limit: MIME nesting deeper than %u; deeper parts were not read (max_mime_depth)",
					lim->max_mime_depth);
		g_object_unref(msg);
	}
	g_mime_parser_options_free(opts);

	if (recipient)
		m->recipient = bw_xstrdup(recipient);
	if (!m->recipient)
		m->recipient = first_address_of_header(m, "Delivered-To");
	if (!m->recipient)
		m->recipient = first_address_of_header(m, "X-Original-To");
	if (!m->recipient)
		m->recipient = first_address_of_header(m, "To");
	if (recipient)
		bw_message_add_recipient(m, recipient);
	else
		collect_recipients(m);
}
