#!/usr/bin/env python3
"""Attachment analysis end to end: archive extraction (zip, nested zip, 7z,
tar.gz, gzip, rar, iso, cab, encrypted zip and 7z), dangerous types, type mismatches,
Office macros (an OLE file with a VBA storage, a docx with
word/vbaProject.bin), RTF objects and the Equation Editor class, PDF active
content (plain, #xx-escaped, inside a compressed object stream, under
ASCIIHex/ASCII85/Flate filter chains), content hidden after a tar's end,
OOXML remote templates (T1221) and YARA
(a rule of our own, a rule file that does not compile, and the shared
rules). Every fixture is generated here and harmless: executables are a
bare "MZ" header, macros are empty storages, exploits are class names.

Usage: test_attachments.py BULWARK SHARED_DIR
"""
import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

BULWARK, SHARED = sys.argv[1], sys.argv[2]
FAILED = []


def mail(parts, body="See attached."):
    out = [b"From: Sender <sender@example.org>\r\nTo: r@example.net\r\nSubject: files\r\n"
           b"Message-ID: <att@example.org>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\n"
           b"Content-Type: text/plain\r\n\r\n" + body.encode() + b"\r\n"]
    for name, ctype, data in parts:
        out.append(b"--B\r\nContent-Type: %s\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\n" % (ctype.encode(), name.encode("utf-8")))
        out.append(base64.encodebytes(data).replace(b"\n", b"\r\n"))
    out.append(b"--B--\r\n")
    return b"".join(out)


def zip_bytes(files, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in files:
            z.writestr(name, data)
    return b.getvalue()


FAKE_EXE = b"MZ\x90\x00\x03" + b"\x00" * 59 + b"This program cannot be run in DOS mode.\r\n"
# the header of a shell link: size 0x4C and the LinkCLSID
FAKE_LNK = struct.pack("<I", 0x4C) + bytes.fromhex("0114020000000000c000000000000046") + b"\x00" * 56


def cfb(entries, root_clsid=b"\x00" * 16):
    """A minimal OLE compound file: header, one FAT sector, then the
    directory. entries: (name, type, left, right, child, clsid); entry 0 is
    the root. Streams are empty: only the directory is read."""
    ssz = 512
    dirs = b""
    for name, typ, left, right, child, clsid in entries:
        u = name.encode("utf-16-le") + b"\x00\x00"
        e = u.ljust(64, b"\x00") + struct.pack("<HBB", len(u), typ, 1)
        e += struct.pack("<III", left, right, child) + clsid + b"\x00" * 4 + b"\x00" * 16
        e += struct.pack("<IQ", 0xFFFFFFFE, 0)
        dirs += e.ljust(128, b"\x00")
    ndir = (len(dirs) + ssz - 1) // ssz
    dirs = dirs.ljust(ndir * ssz, b"\x00")
    fat = [0xFFFFFFFD] + [i + 1 for i in range(1, ndir)] + [0xFFFFFFFE]
    fat = struct.pack("<%dI" % len(fat), *fat).ljust(ssz, b"\xff")
    hdr = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
    hdr += b"\x00" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    hdr += struct.pack("<I", 0) + b"\xff" * (4 * 108)
    assert len(hdr) == 512
    return hdr + fat + dirs


NONE = 0xFFFFFFFF
Z16 = b"\x00" * 16
EQ_CLSID = bytes.fromhex("02ce020000000000c000000000000046")
VBA_OLE = cfb([("Root Entry", 5, NONE, NONE, 1, Z16), ("VBA", 1, NONE, NONE, 2, Z16),
               ("dir", 2, 3, 4, NONE, Z16), ("_VBA_PROJECT", 2, NONE, NONE, NONE, Z16),
               ("Module1", 2, NONE, NONE, NONE, Z16)])
PLAIN_OLE = cfb([("Root Entry", 5, NONE, NONE, 1, Z16), ("WordDocument", 2, NONE, NONE, NONE, Z16)])
EQ_OLE = cfb([("Root Entry", 5, NONE, NONE, 1, EQ_CLSID), ("Equation Native", 2, NONE, NONE, NONE, Z16)])

DOCX_PARTS = [("[Content_Types].xml", b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
               b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
               b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'),
              ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>'),
              ("word/document.xml", b'<?xml version="1.0"?><w:document/>')]


def ole1(cls, payload):
    """An OLE1 embedded object header, as RTF \\objdata carries it."""
    c = cls.encode() + b"\x00"
    return struct.pack("<II", 0x0501, 2) + struct.pack("<I", len(c)) + c + b"\x00" * 8 + \
        struct.pack("<I", len(payload)) + payload


def rtf(objclass, data, update=False):
    hexdata = data.hex()
    # white space and a junk group inside the hex, as obfuscated samples do
    hexdata = hexdata[:20] + "\r\n {\\*\\junk 00} " + hexdata[20:]
    return ("{\\rtf1\\ansi{\\fonttbl{\\f0 Times;}}\\pard Hello\\par"
            "{\\object\\objemb%s{\\*\\objclass %s}\\objw100\\objh100{\\*\\objdata %s}}}" % (
                "\\objupdate" if update else "", objclass, hexdata)).encode()


def pdf(objs, extra=b""):
    body = b"%PDF-1.7\n"
    for i, o in enumerate(objs, 1):
        body += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    return body + extra + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


PDF_PLAIN = pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
PDF_JS = pdf([b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /JavaScript /JS (app.alert('hi')) >>"])
PDF_LAUNCH = pdf([b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /Launch /F (calc.exe) >>"])
PDF_ESCAPED = pdf([b"<< /Type /Catalog /OpenAction 2 0 R >>", b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"])
_objstm = zlib.compress(b"3 0 << /S /JavaScript /JS (app.alert(2)) >>")
PDF_OBJSTM = pdf([b"<< /Type /Catalog /OpenAction 3 0 R >>",
                  b"<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\nstream\n" % len(_objstm)
                  + _objstm + b"\nendstream"])


def pdf_stream(filters, js=b"<< /S /JavaScript /JS (app.alert(3)) >>"):
    """A PDF whose only JavaScript is inside one stream encoded by filters
    (applied to js in the order a reader decodes them)."""
    enc = {"/FlateDecode": zlib.compress, "/Fl": zlib.compress,
           "/ASCIIHexDecode": lambda b: b.hex().encode() + b">", "/AHx": lambda b: b.hex().encode() + b">",
           "/ASCII85Decode": lambda b: base64.a85encode(b, wrapcol=60) + b"~>",
           "/A85": lambda b: base64.a85encode(b) + b"~>"}
    body = b"3 0 " + js
    for f in reversed(filters):
        body = enc[f](body)
    names = ("[ %s ]" if len(filters) > 1 else "%s") % " ".join(filters)
    return pdf([b"<< /Type /Catalog /OpenAction 3 0 R >>",
                b"<< /Type /ObjStm /N 1 /First 4 /Filter %s /Length %d >>\nstream\n" % (names.encode(), len(body))
                + body + b"\nendstream"])


def tar_bytes(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def rar4(name, data):
    """A RAR 4.x archive holding one stored file (no free tool writes RAR).
    Each block's HEAD_CRC is the low 16 bits of the CRC32 of the block from
    HEAD_TYPE on; libarchive rejects a block whose CRC is wrong."""
    def block(htype, flags, body):
        rest = struct.pack("<BHH", htype, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(rest) & 0xFFFF) + rest
    n = name.encode()
    dos_time = (2024 - 1980) << 25 | 1 << 21 | 1 << 16
    # PACK_SIZE, UNP_SIZE, HOST_OS (Win32), FILE_CRC, FTIME, UNP_VER 2.9, METHOD stored, NAME_SIZE, ATTR
    fh = struct.pack("<IIBIIBBHI", len(data), len(data), 2, zlib.crc32(data), dos_time, 29, 0x30, len(n), 0x20) + n
    return (b"Rar!\x1a\x07\x00" + block(0x73, 0, b"\x00" * 6) + block(0x74, 0x8000, fh) + data
            + block(0x7B, 0x4000, b""))


def both16(v):
    return struct.pack("<H", v) + struct.pack(">H", v)


def both32(v):
    return struct.pack("<I", v) + struct.pack(">I", v)


def iso_record(ident, lba, size, flags):
    """An ECMA-119 directory record (9.1), padded to an even length."""
    r = b"\x00\x00" + both32(lba) + both32(size) + bytes([124, 1, 1, 0, 0, 0, 0, flags, 0, 0]) + both16(1)
    r += bytes([len(ident)]) + ident
    r += b"\x00" * (len(r) % 2)
    return bytes([len(r)]) + r[1:]


def iso9660(name, data):
    """An ISO 9660 image (ECMA-119, no Rock Ridge or Joliet) with one file in
    its root: system area, primary volume descriptor, terminator, L and M
    path tables, root directory, file data. name: an ISO level 1 name."""
    blk = 2048
    root, first = 20, 21
    # libarchive bids only when 8 blocks follow the system area
    blocks = max(first + (len(data) + blk - 1) // blk, 16 + 8)
    rootdir = iso_record(b"\x00", root, blk, 2) + iso_record(b"\x01", root, blk, 2) + \
        iso_record(name.encode() + b";1", first, len(data), 0)
    date = b"2024010100000000\x00"
    pvd = b"\x01CD001\x01\x00" + b" " * 32 + b"BULWARK_TEST".ljust(32) + b"\x00" * 8 + both32(blocks) + b"\x00" * 32
    pvd += both16(1) + both16(1) + both16(blk) + both32(10) + struct.pack("<II", 18, 0) + struct.pack(">II", 19, 0)
    pvd += iso_record(b"\x00", root, blk, 2) + b" " * (128 * 4 + 37 * 3) + date * 2 + (b"0" * 16 + b"\x00") * 2
    pvd += b"\x01\x00"
    assert len(pvd) == 883
    path_table = struct.pack("<BBIH", 1, 0, root, 1), struct.pack(">BBIH", 1, 0, root, 1)
    img = b"\x00" * (16 * blk) + pvd.ljust(blk, b"\x00") + b"\xffCD001\x01".ljust(blk, b"\x00")
    img += b"".join((p + b"\x00\x00").ljust(blk, b"\x00") for p in path_table) + rootdir.ljust(blk, b"\x00") + data
    return img.ljust(blocks * blk, b"\x00")


def cab_checksum(b, seed=0):
    """The CFDATA checksum of [MS-CAB] 2.6: XOR of little-endian 32-bit
    words, the 1 to 3 trailing bytes taken big-end first."""
    whole = len(b) - len(b) % 4
    csum = seed
    for (v,) in struct.iter_unpack("<I", b[:whole]):
        csum ^= v
    tail = 0
    for c in b[whole:]:
        tail = tail << 8 | c
    return csum ^ tail


def cab(name, data):
    """An MS-CAB cabinet: one uncompressed folder (typeCompress 0) with one
    file in one CFDATA block; libarchive verifies the block's checksum."""
    n = name.encode() + b"\x00"
    coff_files = 36 + 8
    coff_data = coff_files + 16 + len(n)
    hdr = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, coff_data + 8 + len(data), 0, coff_files, 0, 3, 1, 1, 1, 0, 0, 0)
    folder = struct.pack("<IHH", coff_data, 1, 0)
    cffile = struct.pack("<IIHHHH", len(data), 0, 0, (2024 - 1980) << 9 | 1 << 5 | 1, 0, 0x20) + n
    sizes = struct.pack("<HH", len(data), len(data))
    return hdr + folder + cffile + struct.pack("<I", cab_checksum(sizes, cab_checksum(data))) + sizes + data

def rels(*relationships):
    """A .rels part; relationships: (type, target, mode). The type is
    written with a character reference, as a parser must read it."""
    out = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.' \
          b'openxmlformats.org/package/2006/relationships">'
    for k, (typ, target, mode) in enumerate(relationships, 1):
        out += b'<Relationship Id="rId%d" Type="http://schemas.openxmlformats.org/officeDocument/2006/' \
               b'relationships/%s" Target="%s"%s/>' % (k, typ.replace("T", "&#84;", 1).encode(), target.encode(),
                                                       b' TargetMode="%s"' % mode.encode() if mode else b"")
    return out + b"</Relationships>"


def seven_zip(tmp, name, files, password=None):
    d = os.path.join(tmp, name + ".d")
    os.makedirs(d)
    for fn, data in files:
        with open(os.path.join(d, fn), "wb") as f:
            f.write(data)
    out = os.path.join(tmp, name)
    cmd = ["7z", "a", "-bd", "-y", out] + [fn for fn, _ in files]
    if password:
        cmd[3:3] = ["-p" + password, "-mhe=on"]
    subprocess.run(cmd, cwd=d, check=True, stdout=subprocess.DEVNULL)
    with open(out, "rb") as f:
        return f.read()


def encrypted_zip(tmp):
    d = os.path.join(tmp, "enc.d")
    os.makedirs(d)
    with open(os.path.join(d, "payload.exe"), "wb") as f:
        f.write(FAKE_EXE)
    subprocess.run(["zip", "-q", "-P", "infected", "../enc.zip", "payload.exe"], cwd=d, check=True)
    with open(os.path.join(tmp, "enc.zip"), "rb") as f:
        return f.read()


def scan(tmp, name, msg, config=None):
    path = os.path.join(tmp, name + ".eml")
    with open(path, "wb") as f:
        f.write(msg)
    cmd = [BULWARK, "scan", "--json", "--no-progress"]
    if config:
        cfg = os.path.join(tmp, name + ".conf")
        with open(cfg, "w") as f:
            f.write(config)
        cmd += ["--config", cfg]
    p = subprocess.run(cmd + [path], capture_output=True, timeout=120)
    if p.returncode not in (0, 1):
        raise AssertionError("%s: exit %d: %s" % (name, p.returncode, p.stderr.decode()[-2000:]))
    rep = json.loads(p.stdout)
    rep["_stderr"] = p.stderr.decode()
    return rep


def finding(rep, fid):
    return next((f for f in rep["findings"] if f["id"] == fid), None)


def check(name, cond, detail=""):
    print("%s %s" % ("ok  " if cond else "FAIL", name))
    if not cond:
        print("     " + str(detail)[:3000])
        FAILED.append(name)


def main():
    tmp = tempfile.mkdtemp(prefix="bulwark-att-")
    try:
        run(tmp)
    finally:
        shutil.rmtree(tmp)
    print("%d failed" % len(FAILED))
    return 1 if FAILED else 0


def run(tmp):
    # nested zips, with a double extension at the bottom
    inner = zip_bytes([("invoice.pdf.exe", FAKE_EXE), ("readme.txt", b"hello")])
    outer = zip_bytes([("docs/inner.zip", inner), ("notes.txt", b"x" * 1000)])
    rep = scan(tmp, "nested", mail([("files.zip", "application/zip", outer)]))
    att = rep["attachments"]
    names = [(a["filename"], a["path"], a["container"]) for a in att]
    check("nested zip: members listed with container and path",
          ("inner.zip", "docs/inner.zip", 0) in names and ("invoice.pdf.exe", "invoice.pdf.exe",
                                                            [a["path"] for a in att].index("docs/inner.zip")) in names,
          names)
    exe = next((a for a in att if a["filename"] == "invoice.pdf.exe"), {})
    check("nested zip: member typed and hashed like a MIME leaf",
          exe.get("detected_type") == "application/x-dosexec" and len(exe.get("sha256", "")) == 64, exe)
    f = finding(rep, "DANGEROUS_ATTACHMENT")
    check("nested zip: DANGEROUS_ATTACHMENT for the double extension",
          f and f["severity"] == "high" and f["score"] >= 8 and "T1036.007" in f["attack"]
          and f["evidence"]["attachments"][0]["in"] == "files.zip > docs/inner.zip > invoice.pdf.exe", f)
    check("nested zip: suspicious verdict", rep["verdict"] in ("suspicious", "malicious"), rep["verdict"])

    # 7z and tar.gz and a single gzip file
    sz = seven_zip(tmp, "a.7z", [("run.js", b"WScript.Echo(1)")])
    tg = io.BytesIO()
    with tarfile.open(fileobj=tg, mode="w:gz") as t:
        ti = tarfile.TarInfo("dir/link.lnk")
        ti.size = len(FAKE_LNK)
        t.addfile(ti, io.BytesIO(FAKE_LNK))
    rep = scan(tmp, "formats", mail([("a.7z", "application/x-7z-compressed", sz),
                                     ("b.tar.gz", "application/gzip", tg.getvalue()),
                                     ("c.pdf.gz", "application/gzip", gzip.compress(PDF_PLAIN))]))
    paths = {a["path"]: a for a in rep["attachments"] if a["path"]}
    check("7z, tar.gz and gzip members extracted",
          {"run.js", "dir/link.lnk", "c.pdf"} <= set(paths) and paths["c.pdf"]["detected_type"] == "application/pdf",
          list(paths))
    f = finding(rep, "DANGEROUS_ATTACHMENT")
    found = {a["filename"] for a in f["evidence"]["attachments"]} if f else set()
    check("script in 7z and shortcut in tar.gz are dangerous", {"run.js", "link.lnk"} <= found, f)

    # rar, iso and cab, written here (no free tool writes RAR; the others
    # keep the test free of xorriso and gcab): each holds an executable
    # that must come out intact and be found through the archive
    rep = scan(tmp, "rar-iso-cab", mail([("a.rar", "application/vnd.rar", rar4("invoice.pdf.exe", FAKE_EXE)),
                                         ("disk.iso", "application/x-iso9660-image", iso9660("INVOICE.EXE", FAKE_EXE)),
                                         ("setup.cab", "application/vnd.ms-cab-compressed",
                                          cab("update.pdf.exe", FAKE_EXE))]))
    members = {}
    for a in rep["attachments"]:
        if a["container"] is not None:
            members.setdefault(rep["attachments"][a["container"]]["filename"], []).append(a)
    f = finding(rep, "DANGEROUS_ATTACHMENT")
    hits = {a["in"]: a["finding"] for a in f["evidence"]["attachments"]} if f else {}
    exe_sha256 = hashlib.sha256(FAKE_EXE).hexdigest()
    for archive, member, why in (("a.rar", "invoice.pdf.exe", "double extension"),
                                 ("disk.iso", "INVOICE.EXE", "Windows executable"),
                                 ("setup.cab", "update.pdf.exe", "double extension")):
        got = [(a["path"], a["detected_type"], a["sha256"]) for a in members.get(archive, [])]
        check("%s: its one member extracted intact" % archive,
              got == [(member, "application/x-dosexec", exe_sha256)], got)
        where = "%s > %s" % (archive, member)
        check("%s: DANGEROUS_ATTACHMENT for the member, in %s" % (archive, where), why in hits.get(where, ""), f)
    check("the iso image itself is a dangerous disk image",
          "disk image" in hits.get("disk.iso", "") and rep["errors"] == [], (f, rep["errors"]))

    # encrypted archives: names still checked
    rep = scan(tmp, "encrypted", mail([("enc.zip", "application/zip", encrypted_zip(tmp)),
                                       ("enc.7z", "application/octet-stream",
                                        seven_zip(tmp, "enc.7z", [("x.txt", b"x")], "infected"))],
                                      body="The password is infected"))
    f = finding(rep, "ARCHIVE_ENCRYPTED")
    enc = {a["filename"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("ARCHIVE_ENCRYPTED for zip -P and 7z -mhe",
          set(enc) == {"enc.zip", "enc.7z"} and enc["enc.zip"]["encrypted_entries"] == ["payload.exe"]
          and "T1027.013" in f["attack"], f)
    member = next((a for a in rep["attachments"] if a["path"] == "payload.exe"), {})
    check("encrypted member listed, empty, flagged", member.get("encrypted") is True and member.get("size") == 0,
          member)
    check("encrypted member's name is still dangerous", finding(rep, "DANGEROUS_ATTACHMENT") is not None,
          rep["findings"])

    # type mismatches, and their absence on honest files
    rep = scan(tmp, "mismatch", mail([("report.pdf", "application/pdf", FAKE_EXE),
                                      ("photo.jpg", "image/jpeg", PDF_PLAIN),
                                      ("ok.pdf", "application/pdf", PDF_PLAIN),
                                      ("doc.docx", "application/vnd.openxmlformats-officedocument."
                                       "wordprocessingml.document", zip_bytes(DOCX_PARTS))]))
    f = finding(rep, "ATTACHMENT_TYPE_MISMATCH")
    hits = {a["filename"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("ATTACHMENT_TYPE_MISMATCH: exe as .pdf, pdf as .jpg; honest pdf and docx quiet",
          set(hits) == {"report.pdf", "photo.jpg"} and f["score"] == 4
          and hits["photo.jpg"]["detected_type"] == "application/pdf" and "T1036.008" in f["attack"], f)
    check("runnable content under a harmless name is dangerous",
          finding(rep, "DANGEROUS_ATTACHMENT") is not None, rep["findings"])
    check("plain docx: no macro finding", finding(rep, "OFFICE_MACRO") is None, rep["findings"])

    # Office macros: OLE with a VBA storage; docx carrying vbaProject.bin
    docm = zip_bytes(DOCX_PARTS + [("word/vbaProject.bin", VBA_OLE)])
    rep = scan(tmp, "macro", mail([("budget.xls", "application/vnd.ms-excel", VBA_OLE),
                                   ("plain.doc", "application/msword", PLAIN_OLE),
                                   ("memo.docm", "application/vnd.ms-word.document.macroEnabled.12", docm)]))
    f = finding(rep, "OFFICE_MACRO")
    hits = {a["in"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("OFFICE_MACRO: OLE VBA storage and OOXML vbaProject.bin, not a plain OLE file",
          set(hits) == {"budget.xls", "memo.docm > word/vbaProject.bin"}
          and set(hits["budget.xls"]["vba_streams"]) == {"dir", "_VBA_PROJECT", "Module1"}
          and "T1059.005" in f["attack"], f)

    # RTF objects and the Equation Editor
    eq = rtf("Equation.3", ole1("Equation.3", EQ_OLE), update=True)
    pkg = rtf("Package", ole1("Package", b"\x02\x00note.txt\x00"))
    rep = scan(tmp, "rtf", mail([("cv.rtf", "application/rtf", eq), ("pkg.doc", "application/msword", pkg)]))
    f = finding(rep, "RTF_EQUATION_EDITOR")
    check("RTF_EQUATION_EDITOR: Equation.3 object, T1203, high",
          f and f["severity"] == "high" and "T1203" in f["attack"]
          and [a["filename"] for a in f["evidence"]["attachments"]] == ["cv.rtf"], f)
    f = finding(rep, "RTF_EMBEDDED_OBJECT")
    objs = {a["filename"]: a["objects"] for a in f["evidence"]["attachments"]} if f else {}
    check("RTF_EMBEDDED_OBJECT: both objects, class names, \\objupdate",
          objs.get("cv.rtf", [{}])[0].get("objupdate") is True and objs.get("pkg.doc", [{}])[0].get("class") == "Package"
          and objs["cv.rtf"][0]["equation_editor"] and not objs["pkg.doc"][0]["equation_editor"], f)
    f = finding(rep, "ATTACHMENT_TYPE_MISMATCH")
    check("RTF as .doc: a low-weight type mismatch (old Word did send that)",
          f and f["score"] == 0.5 and f["severity"] == "low", rep["findings"])
    rep = scan(tmp, "oleeq", mail([("eq.bin", "application/octet-stream", EQ_OLE)]))
    check("OFFICE_EQUATION_EDITOR on an OLE file of that class", finding(rep, "OFFICE_EQUATION_EDITOR") is not None,
          rep["findings"])

    # PDF
    rep = scan(tmp, "pdf", mail([("js.pdf", "application/pdf", PDF_JS), ("launch.pdf", "application/pdf", PDF_LAUNCH),
                                 ("esc.pdf", "application/pdf", PDF_ESCAPED), ("objstm.pdf", "application/pdf", PDF_OBJSTM),
                                 ("plain.pdf", "application/pdf", PDF_PLAIN)]))
    f = finding(rep, "PDF_ACTIVE_CONTENT")
    hits = {a["filename"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("PDF_ACTIVE_CONTENT: JS on open, launch, escaped names, object stream; plain PDF quiet",
          set(hits) == {"js.pdf", "launch.pdf", "esc.pdf", "objstm.pdf"}
          and hits["esc.pdf"]["escaped_names"] and "JavaScript" in hits["esc.pdf"]["names"]
          and "JS" in hits["objstm.pdf"]["names"] and hits["objstm.pdf"]["streams_inflated"] == 1
          and "Launch" in hits["launch.pdf"]["names"] and "T1059.007" in f["attack"], f)

    # PDF streams under ASCIIHex, ASCII85 and chains of them with Flate
    chains = {"ahx.pdf": ["/ASCIIHexDecode"], "a85.pdf": ["/A85"], "ahx-fl.pdf": ["/AHx", "/FlateDecode"],
              "a85-fl.pdf": ["/ASCII85Decode", "/Fl"], "fl-ahx.pdf": ["/FlateDecode", "/ASCIIHexDecode"]}
    rep = scan(tmp, "pdf-filters", mail([(n, "application/pdf", pdf_stream(c)) for n, c in sorted(chains.items())]))
    f = finding(rep, "PDF_ACTIVE_CONTENT")
    hits = {a["filename"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("PDF_ACTIVE_CONTENT: JavaScript found through ASCIIHex, ASCII85 and chains with Flate",
          set(hits) == set(chains) and all("JS" in h["names"] and h["streams_inflated"] == 1 for h in hits.values())
          and hits["ahx-fl.pdf"]["filters"] == {"FlateDecode": 1, "ASCIIHexDecode": 1, "ASCII85Decode": 0}
          and hits["a85.pdf"]["filters"]["ASCII85Decode"] == 1, f)

    # a tar hiding its content after zero blocks: gzip of two zero blocks
    # then a tar, which tar(1) lists as empty; and a plain tar followed by
    # a second one
    hidden = tar_bytes([("payload/run.js", b"WScript.Echo(1)")])
    honest = tar_bytes([("a.txt", b"hello")])
    rep = scan(tmp, "tar-trailer", mail([("empty.tar.gz", "application/gzip", gzip.compress(b"\0" * 1024 + hidden)),
                                        ("two.tar", "application/x-tar", honest + hidden),
                                        ("honest.tar.gz", "application/gzip", gzip.compress(honest))]))
    f = finding(rep, "ARCHIVE_TRAILING_DATA")
    hits = {a["filename"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("ARCHIVE_TRAILING_DATA: data after the end of a tar, not for an honest tar.gz",
          set(hits) == {"empty.tar.gz", "two.tar"} and hits["empty.tar.gz"]["trailing_offset"] == 1024
          and hits["empty.tar.gz"]["entries"] == 0 and hits["two.tar"]["trailing_offset"] == len(honest)
          and hits["two.tar"]["trailing_bytes"] == len(hidden) and "T1027" in f["attack"], f)
    f = finding(rep, "DANGEROUS_ATTACHMENT")
    where = sorted(a["in"] for a in f["evidence"]["attachments"]) if f else []
    check("content after the end of a tar is extracted and analysed",
          where == ["empty.tar.gz > (after end of archive) > payload/run.js",
                    "two.tar > (after end of archive) > payload/run.js"], f)

    # OOXML template injection (T1221): external attachedTemplate, frame
    # (in a UTF-16 .rels) and oleObject relationships; an external
    # hyperlink is only a link
    settings = rels(("attachedTemplate", "https://templates.example.com/t.dotm", "External"))
    webset = rels(("frame", "\\\\files.example.net\\share\\f.docx", "External"),
                  ("attachedTemplate", "local.dotx", None))
    docrels = rels(("oleObject", "http://198.51.100.7/o.hta", "External"),
                   ("hyperlink", "https://www.example.org/about", "External"), ("styles", "styles.xml", None))
    inj = zip_bytes(DOCX_PARTS + [("word/_rels/settings.xml.rels", settings),
                                  ("word/_rels/webSettings.xml.rels", webset.decode().encode("utf-16")),
                                  ("word/_rels/document.xml.rels", docrels)])
    rep = scan(tmp, "template", mail([("offer.docx", "application/vnd.openxmlformats-officedocument."
                                       "wordprocessingml.document", inj)]))
    f = finding(rep, "OFFICE_REMOTE_TEMPLATE")
    hits = {a["relationship"]: a for a in f["evidence"]["attachments"]} if f else {}
    check("OFFICE_REMOTE_TEMPLATE: attachedTemplate, frame (UNC) and oleObject, with their URLs",
          set(hits) == {"attachedTemplate", "frame", "oleObject"} and f["severity"] == "high"
          and hits["attachedTemplate"]["url"] == "https://templates.example.com/t.dotm"
          and hits["attachedTemplate"]["in"] == "offer.docx > word/_rels/settings.xml.rels"
          and hits["frame"]["url"] == "file://files.example.net/share/f.docx"
          and "T1221" in f["attack"] and "T1187" in f["attack"], f)
    links = {l["url"]: l for l in rep["links"]}
    check("external relationships are links of the message, with their type",
          set(links) == {"https://templates.example.com/t.dotm", "file://files.example.net/share/f.docx",
                         "http://198.51.100.7/o.hta", "https://www.example.org/about"}
          and links["https://www.example.org/about"]["document_relationship"] == "hyperlink", rep["links"])
    check("a document link to an IP literal is seen by the link detectors",
          finding(rep, "LINK_IP_LITERAL") is not None, rep["findings"])
    bad = zip_bytes(DOCX_PARTS + [("word/_rels/document.xml.rels", b"<Relationships><Relationship Id='a' "
                                   b"Type='x/attachedTemplate' Target='http://h.example/' TargetMode='External'/>"
                                   b"<oops</Relationships>")])
    rep = scan(tmp, "badrels", mail([("bad.docx", "application/octet-stream", bad)]))
    check("malformed .rels: relationships before the error kept, error names member and position",
          finding(rep, "OFFICE_REMOTE_TEMPLATE") is not None
          and any("word/_rels/document.xml.rels\" line 1" in e for e in rep["errors"]), rep["errors"])
    many = zip_bytes(DOCX_PARTS + [("word/_rels/document.xml.rels",
                                    rels(*[("hyperlink", "https://h%d.example/" % k, "External") for k in range(300)]))])
    rep = scan(tmp, "manyrels", mail([("many.docx", "application/octet-stream", many)]))
    check("more than 256 external relationships in one .rels: 256 kept, a limit entry",
          len(rep["links"]) == 256 and any(e.startswith("limit: document relationships") for e in rep["errors"]),
          (len(rep["links"]), rep["errors"]))
    corpus = os.path.join(SHARED, "corpora", "spamassassin", "spam", "olevbmacro", "target_uri.eml")
    if os.path.exists(corpus):
        with open(corpus, "rb") as fh:
            rep = scan(tmp, "target_uri", fh.read())
        check("spamassassin target_uri.eml: an external hyperlink, a link but no template injection",
              [(l["url"], l.get("document_relationship")) for l in rep["links"]]
              == [("https://spamassassin.apache.org/", "hyperlink")]
              and finding(rep, "OFFICE_REMOTE_TEMPLATE") is None, (rep["links"], rep["findings"]))

    # YARA: our own rule, a broken file, and the shared rules
    rules = os.path.join(tmp, "rules")
    os.makedirs(rules)
    with open(os.path.join(rules, "own.yar"), "w") as f:
        f.write('rule Bulwark_Test_Marker : test marker {\n meta:\n  description = "test marker"\n  score = 70\n'
                ' strings:\n  $a = "BULWARK-YARA-TEST-MARKER"\n condition:\n  $a\n}\n')
    with open(os.path.join(rules, "broken.yar"), "w") as f:
        f.write("rule Broken { condition: undefined_identifier }\n")
    shell = b"<?php @eval($_POST['cmd']);?>\n"
    marker = zip_bytes([("inner/marker.txt", b"xx BULWARK-YARA-TEST-MARKER xx")])
    rep = scan(tmp, "yara", mail([("m.zip", "application/zip", marker), ("x.php", "text/plain", shell)]),
               config="[attachments]\nyara_rules = %s\n" % rules)
    f = finding(rep, "YARA_MATCH")
    hit = f["evidence"]["attachments"][0]["matches"][0] if f else {}
    check("YARA_MATCH: own rule on an archive member, with namespace, tags, meta, offset",
          f and f["evidence"]["attachments"][0]["in"] == "m.zip > inner/marker.txt"
          and hit.get("rule") == "Bulwark_Test_Marker" and hit.get("namespace") == "own"
          and hit.get("tags") == ["test", "marker"] and hit.get("meta", {}).get("score") == 70
          and hit.get("strings") == [{"id": "$a", "offset": 3}], f)
    check("YARA: a broken rule file is named and skipped",
          "broken.yar not loaded" in rep["_stderr"] and "own.yar" not in rep["_stderr"], rep["_stderr"])
    rep = scan(tmp, "yara-shared", mail([("x.php", "text/plain", shell)]),
               config="[attachments]\nyara_rules = %s\n" % os.path.join(SHARED, "intel", "yara"))
    f = finding(rep, "YARA_MATCH")
    check("YARA: shared rules all compile and ChinaChopper_Generic matches a one-line PHP shell",
          f and f["evidence"]["attachments"][0]["matches"][0]["rule"] == "ChinaChopper_Generic"
          and "yara" not in rep["_stderr"], (f, rep["_stderr"]))


if __name__ == "__main__":
    sys.exit(main())
