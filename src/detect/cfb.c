/* A bounded reader of the directory of OLE compound files (CFB, [MS-CFB]):
 * which storages and streams a .doc/.xls/.msi or an embedded OLE object
 * holds, and its class. Hand-written because only entry names and class
 * IDs are needed, and no library in the dependency set reads CFB (libgsf
 * would add GObject-based I/O for ~150 lines of directory walking). Every
 * sector number, chain and tree walk is checked against the file's size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect/detect.h"

enum {
	HEADER = 512,
	DIR_ENTRY = 128,
	MAX_ENTRIES = 1 << 16, /* far more than any real document */
	END_OF_CHAIN = (int)0xfffffffe,
};

static const unsigned char SIGNATURE[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
/* {0002CE02-0000-0000-C000-000000000046} as stored (little-endian fields) */
static const unsigned char CLSID_EQUATION3[16] = {0x02, 0xce, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
						  0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46};

static uint32_t u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct cfb {
	const unsigned char *d;
	size_t len, ssz, nsect;
} cfb;

static const unsigned char *sector(const cfb *c, uint32_t sid)
{
	return sid < c->nsect ? c->d + HEADER + (size_t)sid * c->ssz : NULL;
}

/* The FAT sector holding entry k of the FAT: from the header's 109 DIFAT
 * slots, then the DIFAT chain. */
static const unsigned char *fat_sector(const cfb *c, size_t k)
{
	if (k < 109)
		return sector(c, u32(c->d + 0x4c + 4 * k));
	k -= 109;
	size_t per = c->ssz / 4 - 1;
	uint32_t sid = u32(c->d + 0x44);
	for (size_t hops = 0; hops <= k / per; hops++) {
		const unsigned char *s = sector(c, sid);
		if (!s)
			return NULL;
		if (hops == k / per)
			return sector(c, u32(s + 4 * (k % per)));
		sid = u32(s + 4 * per);
	}
	return NULL;
}

static uint32_t next_sector(const cfb *c, uint32_t sid)
{
	size_t per = c->ssz / 4;
	const unsigned char *f = fat_sector(c, sid / per);
	return f ? u32(f + 4 * (sid % per)) : (uint32_t)END_OF_CHAIN;
}

/* The entry's name as ASCII (other UTF-16 units become '?'). */
static void entry_name(const unsigned char *e, char out[33])
{
	unsigned n = (unsigned)(e[0x40] | e[0x41] << 8) / 2;
	if (n > 32)
		n = 32;
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned ch = e[2 * i] | e[2 * i + 1] << 8;
		if (!ch)
			break;
		out[k++] = ch < 0x80 ? (char)ch : '?';
	}
	out[k] = '\0';
}

static void format_clsid(const unsigned char *g, char out[37])
{
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* Names of the children of one storage, walking its red-black tree with
 * an explicit stack bounded by the entry count. */
static void list_children(const unsigned char **ents, size_t n, uint32_t child, bw_strvec *out, size_t max)
{
	uint32_t stack[64];
	size_t top = 0, seen = 0;
	if (child < n)
		stack[top++] = child;
	while (top && seen++ < n && out->n < max) {
		const unsigned char *e = ents[stack[--top]];
		char name[33];
		entry_name(e, name);
		if (e[0x42] == 2 && !bw_strvec_contains(out, name))
			bw_strvec_push(out, name);
		uint32_t l = u32(e + 0x44), r = u32(e + 0x48);
		if (l < n && top < 64)
			stack[top++] = l;
		if (r < n && top < 64)
			stack[top++] = r;
	}
}

static bool ieq(const char *a, const char *b)
{
	return bw_ascii_iequal(a, b);
}

bool bw_cfb_read(const char *data, size_t len, bw_cfb_info *out)
{
	memset(out, 0, sizeof *out);
	const unsigned char *d = (const unsigned char *)data;
	if (len < HEADER || memcmp(d, SIGNATURE, 8) != 0)
		return false;
	unsigned shift = d[0x1e] | d[0x1f] << 8;
	if (shift != 9 && shift != 12)
		return false;
	cfb c = {.d = d, .len = len, .ssz = (size_t)1 << shift};
	c.nsect = (len - HEADER) / c.ssz;
	/* collect directory entries along the directory chain */
	size_t cap = c.nsect * (c.ssz / DIR_ENTRY);
	if (cap > MAX_ENTRIES)
		cap = MAX_ENTRIES;
	const unsigned char **ents = bw_xcalloc(cap ? cap : 1, sizeof *ents);
	size_t n = 0;
	uint32_t sid = u32(d + 0x30);
	for (size_t hops = 0; hops < c.nsect && n < cap; hops++) {
		const unsigned char *s = sector(&c, sid);
		if (!s)
			break;
		for (size_t k = 0; k < c.ssz / DIR_ENTRY && n < cap; k++)
			ents[n++] = s + k * DIR_ENTRY;
		sid = next_sector(&c, sid);
	}
	if (n == 0 || ents[0][0x42] != 5) { /* the first entry is the root */
		free(ents);
		return false;
	}
	out->entries = (unsigned)n;
	format_clsid(ents[0] + 0x50, out->clsid);
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = ents[i];
		unsigned type = e[0x42];
		if (type != 1 && type != 2 && type != 5)
			continue;
		char name[33];
		entry_name(e, name);
		if (memcmp(e + 0x50, CLSID_EQUATION3, 16) == 0 || (type == 2 && ieq(name, "Equation Native")))
			out->equation = true;
		if (type == 2 && ieq(name, "\x01Ole10Native"))
			out->ole10native = true;
		if (type == 2 && ieq(name, "_VBA_PROJECT"))
			out->vba = true;
		if (type == 1 && ieq(name, "VBA")) {
			out->vba = true;
			list_children(ents, n, u32(e + 0x4c), &out->vba_streams, 20);
		}
	}
	free(ents);
	return true;
}

void bw_cfb_info_free(bw_cfb_info *info)
{
	bw_strvec_free(&info->vba_streams);
}
