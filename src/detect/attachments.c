/* Attachment types: DANGEROUS_ATTACHMENT for files that run when opened
 * (executables, scripts, shortcuts, installers, help files), for disk images
 * and OneNote files that carry them past Mark-of-the-Web, and for names
 * that hide such an extension (double extension, right-to-left override);
 * ATTACHMENT_TYPE_MISMATCH when the content (libmagic) is not what the
 * extension or the declared Content-Type says. Archive members count like
 * any attachment.
 *
 * Scores: a runnable file 5 (with the default thresholds, suspicious on its
 * own: a parliament has no business receiving .exe or .js by mail), 3 for
 * disk images and OneNote, +3 when the name hides the extension; a type
 * mismatch 2, 4 when the true type is runnable, 0.5 when it is a type
 * honest senders produce too (text where an image is promised, RTF sent
 * as a Word document). */
#include <string.h>

#include "bulwark/report.h"
#include "detect/detect.h"

#define ATTACK_FILE "T1566.001 T1204.002"

typedef struct danger {
	const char *exts;   /* space-separated */
	const char *what;
	double score;
	const char *attack; /* besides ATTACK_FILE */
} danger;

static const danger dangers[] = {
	{"exe scr com pif cpl dll ocx sys xll", "Windows executable", 5, NULL},
	{"msi msp msix appx appxbundle application", "installer", 5, "T1218.007"},
	{"js jse vbs vbe wsf wsh wsc ps1 psm1 bat cmd sct", "script", 5, "T1059"},
	{"hta", "HTML application", 5, "T1218.005"},
	{"lnk url scf settingcontent-ms library-ms", "shortcut", 5, NULL},
	{"chm", "compiled HTML help", 5, "T1218.001"},
	{"jar reg inf msc gadget", "file Windows runs when opened", 5, NULL},
	{"iso img vhd vhdx", "disk image (bypasses Mark-of-the-Web)", 3, "T1553.005"},
	{"one onepkg", "OneNote file (carries embedded files)", 3, NULL},
};

/* libmagic types that are runnable whatever the name says. */
static const char *const runnable_types[] = {
	"application/x-dosexec", "application/x-msdownload", "application/vnd.microsoft.portable-executable",
	"application/x-ms-shortcut", "application/x-msi", "application/vnd.ms-htmlhelp",
	"application/x-executable", "application/x-sharedlib", "application/x-mach-binary",
};

/* Extensions a lure shows before the real one. */
static const char *const lure_exts =
	" pdf doc docx xls xlsx ppt pptx rtf txt jpg jpeg png gif zip rar htm html csv odt mp3 mp4 ";

static bool in_list(const char *list, const char *word)
{
	size_t n = strlen(word);
	if (!n)
		return false;
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* Prefix match against a space-separated list of type prefixes. */
static bool type_in(const char *list, const char *type)
{
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n && strncmp(type, p, n) == 0)
			return true;
		p += n + (e != NULL);
	}
	return false;
}

static bool runnable_type(const char *t)
{
	for (size_t i = 0; t && i < sizeof runnable_types / sizeof runnable_types[0]; i++)
		if (strcmp(t, runnable_types[i]) == 0)
			return true;
	return false;
}

static void check_dangerous(bw_message *m, unsigned i, bw_attach_hits *h)
{
	const bw_part *p = &m->parts[i];
	char ext[32], ext2[32];
	bw_attach_extension(p->filename, ext, sizeof ext, 0);
	const danger *d = NULL;
	for (size_t k = 0; k < sizeof dangers / sizeof dangers[0] && !d; k++)
		if (in_list(dangers[k].exts, ext))
			d = &dangers[k];
	bool runnable = runnable_type(p->detected_type);
	if (!d && !runnable)
		return;
	double score = d ? d->score : 5;
	bw_buf phrase = {0}, attack = {0}, det = {0};
	bw_buf_puts(&attack, ATTACK_FILE);
	bw_buf_printf(&phrase, "%s", d ? d->what : "runnable content");
	if (d && d->attack)
		bw_buf_printf(&attack, " %s", d->attack);
	bw_buf_printf(&det, "\"extension\":\"%s\",\"detected_type\":", ext);
	bw_json_string(&det, p->detected_type);
	if (d && in_list(lure_exts, bw_attach_extension(p->filename, ext2, sizeof ext2, 1))) {
		score += 3;
		bw_buf_printf(&phrase, " behind a double extension (.%s.%s)", ext2, ext);
		bw_buf_puts(&attack, " T1036.007");
	}
	/* U+202E RIGHT-TO-LEFT OVERRIDE makes "annexe\u202Efdp.exe" read "annexeexe.pdf" */
	if (p->filename && strstr(p->filename, "\xe2\x80\xae")) {
		score += 3;
		bw_buf_puts(&phrase, ", name reversed by a right-to-left override");
		bw_buf_puts(&attack, " T1036.002");
	}
	bw_attach_hit(h, m, i, score, attack.data, phrase.data, det.data);
	bw_buf_free(&phrase);
	bw_buf_free(&attack);
	bw_buf_free(&det);
}

/* What a name or declared type promises, and the libmagic types that keep
 * the promise. Types outside this table promise nothing checkable. */
typedef struct kind {
	const char *name;
	const char *exts;
	const char *declared; /* type prefixes */
	const char *detected; /* type prefixes */
	const char *weak;     /* other types seen from honest senders: a mismatch of little weight */
} kind;

#define OLE_TYPES "application/msword application/vnd.ms- application/x-ole-storage application/cdfv2 " \
	"application/x-msi application/vnd.visio"
#define ZIP_TYPES "application/zip application/vnd.openxmlformats application/vnd.ms- " \
	"application/vnd.oasis.opendocument application/java-archive application/epub"

/* Plain text where a binary type is promised is mostly a placeholder or a
 * damaged file; RTF is what old Word versions sent as application/msword. */
#define WEAK "text/plain"

static const kind kinds[] = {
	{"PDF", "pdf", "application/pdf application/x-pdf", "application/pdf", WEAK},
	{"Office 97-2003 document", "doc dot xls xlt xla ppt pps pot msg", "application/msword application/vnd.ms-excel "
	 "application/vnd.ms-powerpoint application/vnd.ms-outlook", OLE_TYPES, WEAK " text/rtf"},
	/* a password-protected OOXML file is an OLE file holding the encrypted package */
	{"Office Open XML document", "docx docm dotx dotm xlsx xlsm xltx xltm xlsb pptx pptm ppsx potx",
	 "application/vnd.openxmlformats", ZIP_TYPES " application/encrypted application/cdfv2", WEAK},
	{"OpenDocument", "odt ods odp odg", "application/vnd.oasis.opendocument", ZIP_TYPES, WEAK},
	{"RTF", "rtf", "application/rtf text/rtf", "text/rtf application/rtf", WEAK},
	{"image", "jpg jpeg jpe png gif bmp tif tiff webp ico heic", "image/", "image/", WEAK},
	{"zip", "zip", "application/zip application/x-zip", "application/zip", WEAK},
	{"7z", "7z", "application/x-7z", "application/x-7z", WEAK},
	{"rar", "rar", "application/x-rar application/vnd.rar", "application/x-rar application/vnd.rar", WEAK},
	{"gzip", "gz tgz", "application/gzip application/x-gzip", "application/gzip application/x-gzip", WEAK},
	{"text", "txt csv log", "text/plain text/csv", "text/ application/csv application/json", ""},
	{"HTML", "htm html", "text/html", "text/ application/xhtml", ""},
	{"audio or video", "mp3 wav m4a ogg mp4 mov avi", "audio/ video/", "audio/ video/ application/ogg", WEAK},
};

/* Types libmagic gives when it cannot tell: no evidence against anything. */
static bool unknown_type(const char *t)
{
	return !t || strcmp(t, "application/octet-stream") == 0 || strcmp(t, "inode/x-empty") == 0 ||
	       strcmp(t, "application/x-empty") == 0;
}

static const kind *kind_of_ext(const char *ext)
{
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		if (in_list(kinds[k].exts, ext))
			return &kinds[k];
	return NULL;
}

static const kind *kind_of_type(const char *type)
{
	for (size_t k = 0; type && k < sizeof kinds / sizeof kinds[0]; k++)
		if (type_in(kinds[k].declared, type))
			return &kinds[k];
	return NULL;
}

static void check_mismatch(bw_message *m, unsigned i, bw_attach_hits *h)
{
	const bw_part *p = &m->parts[i];
	const char *t = p->detected_type;
	if (unknown_type(t) || p->truncated || p->encrypted)
		return;
	char ext[32];
	const kind *by_ext = kind_of_ext(bw_attach_extension(p->filename, ext, sizeof ext, 0));
	const kind *by_decl = kind_of_type(p->content_type);
	const char *claim = NULL;
	const kind *k = NULL;
	if (by_ext && !type_in(by_ext->detected, t))
		k = by_ext, claim = "extension";
	else if (by_decl && !type_in(by_decl->detected, t))
		k = by_decl, claim = "Content-Type";
	if (!k)
		return;
	bool runnable = runnable_type(t), weak = type_in(k->weak, t);
	bw_buf phrase = {0}, det = {0};
	bw_buf_printf(&phrase, "%s says %s, content is %s", claim, k->name, t);
	bw_buf_printf(&det, "\"claimed_by\":\"%s\",\"claimed\":\"%s\",\"extension\":\"%s\",\"declared_type\":",
		      claim, k->name, ext);
	bw_json_string(&det, p->content_type);
	bw_buf_puts(&det, ",\"detected_type\":");
	bw_json_string(&det, t);
	bw_attach_hit(h, m, i, runnable ? 4 : weak ? 0.5 : 2, runnable ? "T1036.008 T1566.001 T1204.002" : "T1036.008",
		      phrase.data, det.data);
	bw_buf_free(&phrase);
	bw_buf_free(&det);
}

void bw_detect_attachments(bw_message *m, const bw_engine *e)
{
	bw_attach_hits dangerous = {0}, mismatch = {0};
	for (size_t i = 0; i < m->nparts; i++) {
		if (m->parts[i].kind != BW_PART_ATTACHMENT)
			continue;
		check_dangerous(m, (unsigned)i, &dangerous);
		check_mismatch(m, (unsigned)i, &mismatch);
	}
	bw_attach_hits_emit(m, &dangerous, "DANGEROUS_ATTACHMENT");
	bw_attach_hits_emit(m, &mismatch, "ATTACHMENT_TYPE_MISMATCH");
}
