/* Unit tests for attachment analysis: extension parsing, the CFB directory
 * reader on malformed files (cycles, out-of-range sectors, bad headers), the
 * archive limits through the engine (ratio, entry size, their [limits]
 * keys), and RTF/PDF scanning of truncated or corrupt input. The end-to-end
 * fixtures are in tests/cli/test_attachments.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "bulwark/engine.h"
#include "detect/detect.h"
#include "detect/docscan.h"
#include "helpers.h"

/* A message with one base64 attachment. */
static void scan_attachment(bw_engine *e, bw_message *m, const char *name, const void *data, size_t len)
{
	gchar *b64 = g_base64_encode(data, len);
	bw_buf msg = {0};
	bw_buf_printf(&msg, "From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
		      "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n%s\r\n", name, b64);
	g_free(b64);
	memset(m, 0, sizeof *m);
	bw_engine_scan(e, m, "t.eml", msg.data, msg.len);
	bw_buf_free(&msg);
}

static void test_extension(void **state)
{
	char ext[32];
	assert_string_equal(bw_attach_extension("invoice.pdf.exe", ext, sizeof ext, 0), "exe");
	assert_string_equal(bw_attach_extension("invoice.pdf.exe", ext, sizeof ext, 1), "pdf");
	assert_string_equal(bw_attach_extension("Invoice.PDF      .EXE. ", ext, sizeof ext, 0), "exe");
	assert_string_equal(bw_attach_extension("Invoice.PDF      .EXE. ", ext, sizeof ext, 1), "pdf");
	assert_string_equal(bw_attach_extension("noext", ext, sizeof ext, 0), "");
	assert_string_equal(bw_attach_extension(".profile", ext, sizeof ext, 0), "");
	assert_string_equal(bw_attach_extension("dir.d/file", ext, sizeof ext, 0), "");
	assert_string_equal(bw_attach_extension(NULL, ext, sizeof ext, 0), "");
	assert_string_equal(bw_attach_extension("a.exe", ext, sizeof ext, 3), "");
}

/* A 3-sector compound file: header, FAT (sector 0), directory (sector 1). */
static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff, p[1] = v >> 8 & 0xff, p[2] = v >> 16 & 0xff, p[3] = v >> 24;
}

static void dir_entry(unsigned char *e, const char *name, int type, uint32_t child)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		e[2 * i] = (unsigned char)name[i];
	e[0x40] = (unsigned char)(2 * n + 2);
	e[0x42] = (unsigned char)type;
	put32(e + 0x44, 0xffffffff);
	put32(e + 0x48, 0xffffffff);
	put32(e + 0x4c, child);
}

static unsigned char *make_cfb(size_t *len, uint32_t dir_next)
{
	*len = 512 * 3;
	unsigned char *d = calloc(1, *len);
	memcpy(d, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	d[0x1e] = 9;
	put32(d + 0x2c, 1);
	put32(d + 0x30, 1);            /* first directory sector */
	put32(d + 0x44, 0xfffffffe);
	put32(d + 0x4c, 0);            /* FAT in sector 0 */
	for (int i = 1; i < 109; i++)
		put32(d + 0x4c + 4 * i, 0xffffffff);
	unsigned char *fat = d + 512;
	memset(fat, 0xff, 512);
	put32(fat, 0xfffffffd);
	put32(fat + 4, dir_next);       /* the directory chain after sector 1 */
	unsigned char *dir = d + 1024;
	dir_entry(dir, "Root Entry", 5, 1);
	dir_entry(dir + 128, "VBA", 1, 2);
	dir_entry(dir + 256, "dir", 2, 0xffffffff);
	dir_entry(dir + 384, "_VBA_PROJECT", 2, 0xffffffff);
	return d;
}

static void test_cfb(void **state)
{
	size_t len;
	bw_cfb_info info;
	unsigned char *d = make_cfb(&len, 0xfffffffe);
	assert_true(bw_cfb_read((char *)d, len, &info));
	assert_true(info.vba);
	assert_int_equal(info.entries, 4);
	assert_true(bw_strvec_contains(&info.vba_streams, "dir"));
	bw_cfb_info_free(&info);

	/* a directory chain that loops on itself ends at the file's sector count */
	put32(d + 512 + 4, 1);
	assert_true(bw_cfb_read((char *)d, len, &info));
	assert_int_equal(info.entries, 8); /* 2 sectors' worth: nsect bounds the walk */
	bw_cfb_info_free(&info);

	/* the directory beyond the end of the file */
	put32(d + 0x30, 1000);
	assert_false(bw_cfb_read((char *)d, len, &info));
	bw_cfb_info_free(&info);

	/* a FAT sector number beyond the end, and a bad sector size */
	put32(d + 0x30, 1);
	put32(d + 0x4c, 0x7fffffff);
	assert_true(bw_cfb_read((char *)d, len, &info)); /* the first directory sector still reads */
	bw_cfb_info_free(&info);
	d[0x1e] = 13;
	assert_false(bw_cfb_read((char *)d, len, &info));
	bw_cfb_info_free(&info);

	/* truncated to the header */
	d[0x1e] = 9;
	assert_false(bw_cfb_read((char *)d, 512, &info));
	bw_cfb_info_free(&info);
	assert_false(bw_cfb_read("not a compound file", 19, &info));
	bw_cfb_info_free(&info);
	free(d);
}

/* size bytes of 'A', gzip-compressed (not zeros: tar reads a gzip of zero
 * blocks as an empty tar archive) */
static unsigned char *gzip_repeated(size_t size, size_t *out_len)
{
	z_stream z = {0};
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = size / 500 + 1024;
	unsigned char *out = malloc(cap), *zeros = malloc(65536);
	memset(zeros, 'A', 65536);
	z.next_out = out;
	z.avail_out = (uInt)cap;
	for (size_t left = size; left;) {
		size_t n = left < 65536 ? left : 65536;
		z.next_in = zeros;
		z.avail_in = (uInt)n;
		assert_int_equal(deflate(&z, Z_NO_FLUSH), Z_OK);
		left -= n;
	}
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	free(zeros);
	return out;
}

static const bw_part *member(const bw_message *m)
{
	for (size_t i = 0; i < m->nparts; i++)
		if (m->parts[i].archive_path)
			return &m->parts[i];
	return NULL;
}

static void test_archive_limits(void **state)
{
	size_t len;
	unsigned char *gz = gzip_repeated(4 << 20, &len); /* ~1000 times */
	char *err = NULL;
	bw_message m;

	/* defaults: past 1 MiB at a ratio over 100, it is a bomb */
	bw_engine *e = test_engine_from("[limits]\n", &err);
	scan_attachment(e, &m, "zeros.bin.gz", gz, len);
	const bw_finding *f = test_find(&m, "ARCHIVE_BOMB");
	assert_non_null(f);
	assert_true(f->score == 4);
	assert_non_null(strstr(f->evidence_json, "\"limit\":\"max_archive_ratio\""));
	assert_non_null(member(&m));
	assert_true(member(&m)->len < (2u << 20)); /* stopped early */
	assert_string_equal(member(&m)->archive_path, "zeros.bin");
	bool named = false;
	for (size_t i = 0; i < m.errors.n; i++)
		named |= strstr(m.errors.v[i], "(max_archive_ratio)") != NULL;
	assert_true(named);
	bw_message_free(&m);
	bw_engine_free(e);

	/* a higher ratio lets it through whole */
	e = test_engine_from("[limits]\nmax_archive_ratio = 100000\n", &err);
	scan_attachment(e, &m, "zeros.bin.gz", gz, len);
	assert_null(test_find(&m, "ARCHIVE_BOMB"));
	assert_int_equal(member(&m)->len, 4 << 20);
	assert_false(member(&m)->truncated);
	bw_message_free(&m);
	bw_engine_free(e);

	/* the entry limit cuts the member, keeping its start */
	e = test_engine_from("[limits]\nmax_archive_ratio = 100000\nmax_archive_entry_bytes = 1000\n", &err);
	scan_attachment(e, &m, "zeros.bin.gz", gz, len);
	assert_int_equal(member(&m)->len, 1000);
	assert_true(member(&m)->truncated);
	f = test_find(&m, "ARCHIVE_BOMB");
	assert_non_null(f);
	assert_true(f->score == 2);
	bw_message_free(&m);
	bw_engine_free(e);

	/* depth 0 would open nothing: rejected like any zero limit */
	assert_null(test_engine_from("[limits]\nmax_archive_depth = 0\n", &err));
	assert_non_null(strstr(err, "max_archive_depth"));
	free(err);
	err = NULL;
	assert_null(test_engine_from("[attachments]\nyara_timeout = 100000\n", &err));
	assert_non_null(strstr(err, "yara_timeout"));
	free(err);
	free(gz);
}

static void test_rtf_pdf_malformed(void **state)
{
	char *err = NULL;
	bw_engine *e = test_engine_from("[limits]\n", &err);
	bw_message m;
	/* unterminated \objdata with an odd digit count */
	const char *rtf = "{\\rtf1{\\object\\objupdate{\\*\\objclass Equation.3}{\\*\\objdata 0105000002000";
	scan_attachment(e, &m, "a.rtf", rtf, strlen(rtf));
	assert_non_null(test_find(&m, "RTF_EMBEDDED_OBJECT"));
	assert_non_null(test_find(&m, "RTF_EQUATION_EDITOR"));
	bw_message_free(&m);
	/* a bare backslash at the end, no objects */
	scan_attachment(e, &m, "b.rtf", "{\\rt\\", 5);
	assert_null(test_find(&m, "RTF_EMBEDDED_OBJECT"));
	bw_message_free(&m);
	/* a zlib header on garbage, a name at the very end, a dangling escape */
	const char pdf[] = "%PDF-1.4\n1 0 obj << /Length 9 >>\nstream\n\x78\x9c\xff\xff\xff\xff\nendstream\n/J#6";
	scan_attachment(e, &m, "c.pdf", pdf, sizeof pdf - 1);
	assert_null(test_find(&m, "PDF_ACTIVE_CONTENT"));
	bw_message_free(&m);
	const char js[] = "%PDF-1.4\n<< /S /JavaScript /JS";
	scan_attachment(e, &m, "d.pdf", js, sizeof js - 1);
	assert_non_null(test_find(&m, "PDF_ACTIVE_CONTENT"));
	bw_message_free(&m);
	bw_engine_free(e);
}

static bw_pdf_scan pdf_scan(const char *d, size_t len)
{
	bw_pdf_scan s;
	memset(&s, 0, sizeof s);
	bw_pdf_scan_file(&s, d, len);
	return s;
}

#define PDF_SCAN(lit) pdf_scan(lit, sizeof lit - 1)

static void test_pdf_filters(void **state)
{
	/* ASCIIHex: white space between digits, upper and lower case */
	bw_pdf_scan s = PDF_SCAN("1 0 obj <</Filter /ASCIIHexDecode>>\nstream\n2F 4a\n53>\nendstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	assert_int_equal(s.filters[BW_PDF_AHX], 1);
	/* an odd last digit is padded with 0: "2f4a5" is "/JP", no key */
	s = PDF_SCAN("<</Filter/AHx>>stream\n2f4a5>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 0);
	assert_int_equal(s.inflated, 3);
	/* ASCII85: a last partial group, 'z' for four zeros, "<~" tolerated */
	s = PDF_SCAN("<</Filter/A85>>stream\n01o.~>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	s = PDF_SCAN("<</Filter [/ASCII85Decode]>>stream\n<~z01oYr@8gZ\nVBlJ.~>endstream");
	assert_int_equal(s.count[BW_PDF_JAVASCRIPT], 1);
	assert_int_equal(s.inflated, 15);
	/* a group over 2^32 - 1 stops decoding */
	s = PDF_SCAN("<</Filter/A85>>stream\nuuuuu01o.~>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 0);
	assert_int_equal(s.inflated, 0);
	/* a filter name hidden with #xx is still read; the stream's own /Filter
	 * is the last one before it, not an earlier object's */
	s = PDF_SCAN("<</Filter/FlateDecode>> endobj 2 0 obj <</F#69lter/A#48x>>stream\n2f4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	assert_int_equal(s.filters[BW_PDF_FLATE], 0);
	/* a filter this scanner does not decode: the chain is left alone */
	s = PDF_SCAN("<</Filter[/AHx/LZWDecode]>>stream\n2f4a53>endstream");
	assert_int_equal(s.streams, 0);

	/* images and font programs are not decoded: a reader never parses them */
	s = PDF_SCAN("1 0 obj <</Subtype/Image/Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 0);
	assert_int_equal(s.streams, 0);
	s = PDF_SCAN("1 0 obj <</Length1 6/Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.streams, 0);
	/* unless it also says object stream, or the image is another object's */
	s = PDF_SCAN("1 0 obj <</Type/ObjStm/N 1/First 0/Subtype/Im#61ge/Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	s = PDF_SCAN("1 0 obj <</First 0/xobj/Subtype/Image/Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	s = PDF_SCAN("1 0 obj <</Subtype/Image>> 2 0 obj <</Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);
	/* no object header in sight: decoded */
	s = PDF_SCAN("<</Subtype/Image/Filter/AHx>>\nstream\n2F4a53>endstream");
	assert_int_equal(s.count[BW_PDF_JS], 1);

	/* a Flate bomb behind ASCIIHex stops at 4 MiB per stream and 16 MiB a file */
	size_t zlen = compressBound(32u << 20);
	unsigned char *zeros = calloc(32u << 20, 1), *z = malloc(zlen);
	assert_int_equal(compress(z, &zlen, zeros, 32u << 20), Z_OK);
	free(zeros);
	bw_buf pdf = {0};
	bw_buf_puts(&pdf, "%PDF-1.7\n");
	for (int k = 0; k < 6; k++) {
		bw_buf_puts(&pdf, "<</Filter [/AHx /Fl]>>\nstream\n");
		for (size_t i = 0; i < zlen; i++)
			bw_buf_printf(&pdf, "%02x", z[i]);
		bw_buf_puts(&pdf, ">\nendstream\nendobj\n");
	}
	free(z);
	s = pdf_scan(pdf.data, pdf.len);
	assert_true(s.inflated <= 16u << 20);
	assert_true(s.inflated > 12u << 20);
	assert_int_equal(s.filters[BW_PDF_FLATE], s.filters[BW_PDF_AHX]);
	bw_buf_free(&pdf);
}

static void tar_header(bw_buf *b, const char *name, size_t size)
{
	char h[512] = {0};
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "0000644");
	snprintf(h + 124, 12, "%011zo", size);
	snprintf(h + 136, 12, "%011o", 0);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	h[156] = '0';
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	bw_buf_append(b, h, 512);
}

/* A tar of one file, its end marker, then zero bytes and a payload. */
static void tar_with_trailer(bw_buf *b, size_t zeros, const char *payload)
{
	static const char block[512];
	tar_header(b, "a.txt", 5);
	bw_buf_append(b, "hello", 5);
	bw_buf_append(b, block, 512 - 5);
	bw_buf_append(b, block, 512);
	bw_buf_append(b, block, 512);
	for (size_t k = 0; k < zeros; k++)
		bw_buf_putc(b, 0);
	bw_buf_puts(b, payload);
}

static void test_archive_trailer(void **state)
{
	char *err = NULL;
	bw_engine *e = test_engine_from("[limits]\n", &err);
	bw_message m;
	/* the trailer starts at the 512-byte block holding its first non-zero byte */
	bw_buf t = {0};
	tar_with_trailer(&t, 700, "MZ hidden");
	scan_attachment(e, &m, "t.tar", t.data, t.len);
	const bw_finding *f = test_find(&m, "ARCHIVE_TRAILING_DATA");
	assert_non_null(f);
	assert_non_null(strstr(f->evidence_json, "\"trailing_offset\":2560,\"trailing_bytes\":"));
	const bw_part *p = member(&m);
	assert_non_null(p);
	bool found = false;
	for (size_t i = 0; i < m.nparts; i++)
		if (m.parts[i].archive_path && strcmp(m.parts[i].archive_path, "(after end of archive)") == 0) {
			assert_int_equal(m.parts[i].len, 700 + 9 - 512);
			assert_memory_equal(m.parts[i].data + 700 - 512, "MZ hidden", 9);
			found = true;
		}
	assert_true(found);
	bw_message_free(&m);
	/* zero padding after the end, as tar(1) writes it, is nothing */
	bw_buf_reset(&t);
	tar_with_trailer(&t, 8192, "");
	scan_attachment(e, &m, "t.tar", t.data, t.len);
	assert_null(test_find(&m, "ARCHIVE_TRAILING_DATA"));
	assert_int_equal(m.nparts, 2); /* the tar and a.txt */
	bw_message_free(&m);
	bw_engine_free(e);

	/* the trailer is counted against the message's byte limit */
	e = test_engine_from("[limits]\nmax_archive_bytes = 2000\n", &err);
	bw_buf_reset(&t);
	tar_with_trailer(&t, 0, "");
	for (int k = 0; k < 5000; k++)
		bw_buf_putc(&t, 'x');
	scan_attachment(e, &m, "t.tar", t.data, t.len);
	bool named = false;
	for (size_t i = 0; i < m.errors.n; i++)
		named |= strstr(m.errors.v[i], "(max_archive_bytes)") != NULL;
	assert_true(named);
	bw_message_free(&m);
	bw_engine_free(e);
	bw_buf_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extension),
		cmocka_unit_test(test_cfb),
		cmocka_unit_test(test_archive_limits),
		cmocka_unit_test(test_rtf_pdf_malformed),
		cmocka_unit_test(test_pdf_filters),
		cmocka_unit_test(test_archive_trailer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
