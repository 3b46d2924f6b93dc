/* Default resource limits. They are generous for real mail (the largest
 * message in the shared corpora is a few MB) and small enough that one
 * hostile message cannot exhaust a milter worker. */
#include "bulwark/limits.h"

void bw_limits_default(bw_limits *l)
{
	/* Gmail and Exchange Online accept 25 MB per message and Postfix
	 * defaults to 10 MB (message_size_limit); the largest message in the
	 * shared corpora is a few MB. Beyond 25 MiB a message is cut and the
	 * error says so. */
	l->max_message_bytes = 25u << 20;
	l->max_mime_depth = 32;
	l->max_parts = 1000;
	/* Decoded parts, as stored (text in UTF-8), stay in memory together with
	 * the raw message until the report is written, so the peak of one scan
	 * is about max_message_bytes + max_decoded_bytes + the HTML parse of
	 * one part. Twice max_message_bytes keeps that within the 256 MB a
	 * milter worker gets; only charset conversion (up to 3 UTF-8 bytes per
	 * windows-1252 byte) makes a message decode to more than its size. */
	l->max_decoded_bytes = 50u << 20;
	/* The largest HTML part in the shared corpora is 2.6 MB. An 8 MB part
	 * full of CSS made sanitize peak at 288 MB (the parse tree and the
	 * stylesheet model are several times the input), so 4 MiB. */
	l->max_html_bytes = 4u << 20;
	l->max_html_depth = 2000;
	/* ~200 bytes each: 100 MB. Input of max_html_bytes could otherwise make
	 * millions (one per 4 bytes of <br>, or hundreds per byte when open
	 * formatting elements are reconstructed at every run of text). */
	l->max_html_nodes = 500000;
	l->max_resources = 5000;
	l->max_links = 5000;
	/* Extracted members stay in memory with the message like any decoded
	 * part, so max_archive_bytes adds to the peak max_decoded_bytes sets;
	 * 32 MiB keeps a scan under 256 MB. Nesting beyond a zip in a zip
	 * in an ISO is evasion, not filing. Office documents (zips of XML)
	 * expand 5-20 times; the ratio applies past 1 MiB, so small files of
	 * zeros are not bombs. */
	l->max_archive_depth = 4;
	l->max_archive_bytes = 32u << 20;
	l->max_archive_ratio = 100;
	l->max_archive_entries = 2000;
	l->max_archive_entry_bytes = 16u << 20;
	/* RFC 5322 limits a line to 998 bytes; folded fields run longer (DKIM
	 * and ARC signatures: a few KB; a To of many addresses). The longest
	 * field of a real message in the shared corpora is a 25 KB To of
	 * ~800 addresses (phishing_pot); only mimekit's stack-overflow.txt, a
	 * 135 KB To made to overflow parsers, comes near. 256 KiB is ten times
	 * real mail. */
	l->max_header_field_bytes = 256u << 10;
	/* The largest <style> block in the shared corpora is 188 KB
	 * (phishing_pot), the largest style attribute 1.8 KB. The CSS parse and
	 * the selector matching against every element grow with the sheet;
	 * 512 KiB is well above real mail and bounds both. */
	l->max_css_bytes = 512u << 10;
}
