/* The parse stage: turns raw message bytes into a bw_message with GMime 3.
 * GMime does the MIME work (multipart nesting, base64, quoted-printable,
 * uuencode, RFC 2047/2231, charsets); this file walks its tree under our
 * limits, converts every text part to valid UTF-8 and records what went
 * wrong without ever giving up on the message. */
#include <gmime/gmime.h>
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
	bw_strvec_pushf(&st->m->errors, "parse: %s (at byte %lld)", text, (long long)offset);
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
	for (size_t i = 0; i < n; i++)
		if (raw[i] != '\r' && raw[i] != '\n')
			out[o++] = raw[i];
	while (o && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	out[o] = '\0';
	return out;
}

static void copy_headers(bw_message *m, GMimeObject *obj)
{
	GMimeHeaderList *list = g_mime_object_get_header_list(obj);
	int n = g_mime_header_list_get_count(list);
	if (n <= 0)
		return;
	m->headers = bw_xcalloc((size_t)n, sizeof(bw_header));
	for (int i = 0; i < n; i++) {
		GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
		const char *raw = g_mime_header_get_raw_value(h);
		m->headers[m->nheaders].name = bw_xstrdup(g_mime_header_get_name(h));
		m->headers[m->nheaders].value = unfold(raw ? raw : "");
		m->nheaders++;
	}
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

/* Converts decoded part bytes to valid UTF-8. Declared charset first; with
 * none, UTF-8 if the bytes are valid UTF-8, else windows-1252, which is what
 * mail clients and browsers fall back to. Invalid sequences become U+FFFD. */
static char *text_to_utf8(const char *declared, const char *data, size_t len, bool html,
			  size_t *out_len, bw_strvec *errors)
{
	char *sniffed = NULL;
	const char *cs = declared;
	if (!cs && html)
		cs = sniffed = sniff_meta_charset(data, len);
	bool valid = g_utf8_validate(data, (gssize)len, NULL);
	char *out = NULL;
	if ((!cs || is_utf8_name(cs)) && valid) {
		out = bw_xstrndup(data, len);
		*out_len = len;
		free(sniffed);
		return out;
	}
	if (!cs || bw_ascii_iequal(cs, "us-ascii") || bw_ascii_iequal(cs, "ascii"))
		cs = "windows-1252";
	if (!is_utf8_name(cs)) {
		iconv_t cd = g_mime_iconv_open("UTF-8", cs);
		if (cd == (iconv_t)-1) {
			bw_strvec_pushf(errors, "parse: unknown charset \"%s\", read as windows-1252", cs);
			cd = g_mime_iconv_open("UTF-8", "windows-1252");
		}
		if (cd != (iconv_t)-1) {
			char *conv = g_mime_iconv_strndup(cd, data, len);
			g_mime_iconv_close(cd);
			if (conv) {
				char *valid_conv = g_utf8_make_valid(conv, -1);
				g_free(conv);
				out = bw_xstrdup(valid_conv);
				g_free(valid_conv);
			}
		}
	}
	if (!out) {
		char *v = g_utf8_make_valid(data, (gssize)len);
		out = bw_xstrdup(v);
		g_free(v);
	}
	free(sniffed);
	*out_len = strlen(out);
	return out;
}

char *bw_mime_text_utf8(GMimePart *part, const char *data, size_t len, bool html, size_t *out_len,
			bw_strvec *errors)
{
	const char *declared = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	return text_to_utf8(declared && *declared ? declared : NULL, data, len, html, out_len, errors);
}

char *bw_mime_decoded(GMimePart *part, size_t max, size_t *len, bool *cut)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	if (content)
		g_mime_data_wrapper_write_to_stream(content, stream);
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	size_t n = bytes->len;
	*cut = n > max;
	if (*cut)
		n = max;
	char *out = bw_xstrndup(bytes->data ? (const char *)bytes->data : "", n);
	g_object_unref(stream);
	*len = n;
	return out;
}

static void add_leaf(GMimePart *part, unsigned depth, void *arg)
{
	parse_state *st = arg;
	bw_message *m = st->m;
	if (m->nparts >= st->lim->max_parts) {
		if (!st->parts_reported)
			bw_strvec_pushf(&m->errors, "limit: more than %u MIME parts; the rest were not read",
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

	size_t budget = st->lim->max_decoded_bytes > st->decoded_total
				? st->lim->max_decoded_bytes - st->decoded_total : 0;
	size_t len;
	bool cut;
	char *raw = bw_mime_decoded(part, budget, &len, &cut);
	if (cut && !st->decoded_reported) {
		bw_strvec_pushf(&m->errors, "limit: decoded content exceeds %zu bytes; parts were cut",
				st->lim->max_decoded_bytes);
		st->decoded_reported = true;
	}
	st->decoded_total += len;

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
		char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)raw, len);
		memcpy(bp->sha256, hex, 64);
		g_free(hex);
	} else {
		bp->data = bw_mime_text_utf8(part, raw, len, kind == BW_PART_HTML, &bp->len, &m->errors);
		free(raw);
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

GMimeMessage *bw_mime_construct(const char *data, size_t len, GMimeParserOptions *opts)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
	g_object_unref(parser);
	g_object_unref(stream);
	return msg;
}

/* A bare HTML document (a saved mail body, as tracker studies publish them)
 * starts with '<', which no header field name can. It is read as a message
 * whose only part is that HTML, and the report says so. */
static bool is_bare_html(const char *data, size_t len)
{
	size_t i = 0;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i < len && data[i] == '<';
}

static void parse_bare_html(bw_message *m, const char *data, size_t len)
{
	bw_strvec_push(&m->errors, "parse: no message headers; read as a bare HTML body");
	m->parts = bw_xcalloc(1, sizeof(bw_part));
	m->nparts = m->capparts = 1;
	bw_part *p = &m->parts[0];
	p->kind = BW_PART_HTML;
	p->content_type = bw_xstrdup("text/html");
	p->data = text_to_utf8(NULL, data, len, true, &p->len, &m->errors);
}

void bw_mail_parse(bw_message *m, const char *source, const char *data, size_t len,
		   const char *recipient, const bw_limits *lim)
{
	parse_state st = {.m = m, .lim = lim};
	m->source = bw_xstrdup(source);
	if (len > lim->max_message_bytes) {
		bw_strvec_pushf(&m->errors, "limit: message is %zu bytes; only the first %zu were read",
				len, lim->max_message_bytes);
		len = lim->max_message_bytes;
	}
	if (len == 0)
		bw_strvec_push(&m->errors, "parse: empty message");
	if (is_bare_html(data, len)) {
		parse_bare_html(m, data, len);
		if (recipient)
			m->recipient = bw_xstrdup(recipient);
		return;
	}

	GMimeParserOptions *opts = bw_mime_options();
	g_mime_parser_options_set_warning_callback(opts, on_warning, &st);
	GMimeMessage *msg = bw_mime_construct(data, len, opts);

	if (!msg) {
		bw_strvec_push(&m->errors, "parse: not an RFC 5322 message; nothing could be read");
	} else {
		copy_headers(m, GMIME_OBJECT(msg));
		const char *mid = g_mime_message_get_message_id(msg);
		if (mid && *mid)
			m->message_id = strip_angles(mid);
		const char *subj = g_mime_message_get_subject(msg);
		if (subj)
			m->subject = bw_xstrdup(subj);
		first_mailbox(g_mime_message_get_from(msg), &m->from);
		first_mailbox(g_mime_message_get_reply_to(msg), &m->reply_to);
		const char *rp = bw_message_header(m, "Return-Path");
		if (rp)
			m->return_path = strip_angles(rp);
		GMimeObject *body = g_mime_message_get_mime_part(msg);
		if (body && !bw_mime_walk(body, lim->max_mime_depth, add_leaf, &st))
			bw_strvec_pushf(&m->errors, "limit: MIME nesting deeper than %u; deeper parts were not read",
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
}
