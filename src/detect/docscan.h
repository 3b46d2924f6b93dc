/* The hand-written document scanners behind the Office and PDF detectors
 * (office.c, pdf.c), exposed to those detectors' callers inside the
 * library and to the fuzz harnesses in tests/fuzz. Internal. */
#ifndef BULWARK_DOCSCAN_H
#define BULWARK_DOCSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* ---- RTF embedded objects (office.c) ---- */

enum { BW_RTF_MAX_OBJECTS = 64 };

typedef struct bw_rtf_object {
	size_t offset;      /* of \objdata (or \object when there is none) */
	char cls[65];       /* \objclass, else the OLE1 header's class name */
	size_t bytes;       /* decoded \objdata */
	bool update;        /* \objupdate */
	bool equation;
	bool package;       /* an embedded file (OLE Package) */
} bw_rtf_object;

/* The embedded objects of an RTF document, at most BW_RTF_MAX_OBJECTS,
 * into objs; returns how many. */
size_t bw_rtf_objects(const char *d, size_t len, bw_rtf_object *objs);

/* ---- PDF names and streams (pdf.c) ---- */

enum { BW_PDF_JAVASCRIPT, BW_PDF_JS, BW_PDF_LAUNCH, BW_PDF_OPENACTION, BW_PDF_AA, BW_PDF_EMBEDDEDFILE,
       BW_PDF_RICHMEDIA, BW_PDF_XFA, BW_PDF_NKEYS };

/* Stream filters decoded. */
enum { BW_PDF_FLATE, BW_PDF_AHX, BW_PDF_A85, BW_PDF_NFILTERS };

typedef struct bw_pdf_scan {
	unsigned count[BW_PDF_NKEYS];
	long first[BW_PDF_NKEYS]; /* offset in the file, of the name or of the stream holding it */
	bool escaped;             /* some key was written with #xx escapes */
	size_t streams, inflated; /* streams decoded, and the bytes they decoded to */
	unsigned filters[BW_PDF_NFILTERS]; /* uses of each filter in decoded streams */
} bw_pdf_scan;

/* Counts the key names of a whole PDF file, in the file and inside its
 * decodable streams, with bounded decoding. Zero s first. */
void bw_pdf_scan_file(bw_pdf_scan *s, const char *d, size_t len);

#endif
