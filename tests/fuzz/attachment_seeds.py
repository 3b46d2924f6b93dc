#!/usr/bin/env python3
"""Seeds for the attachment harnesses (fuzz_cfb, fuzz_rtf, fuzz_pdf,
fuzz_archive, fuzz_docrels): small valid documents built here, each reaching
a different branch (VBA storages, the Equation Editor class, multi-sector
directories, RTF objects with OLE1 headers, PDF filter chains, every archive
format we extract, a tar hiding data after its end, .rels with external
targets, entities, CDATA and UTF-16), plus every attachment of the corpora
sorted by its magic bytes, and the .rels members of their OOXML documents. fuzz_archive reads the first byte as the
choice of attachment name, so its seeds get one prepended.

Usage: attachment_seeds.py SEEDS_DIR CORPORA_DIR
"""
import base64
import bz2
import email
import email.policy
import gzip
import io
import lzma
import os
import struct
import sys
import tarfile
import zipfile
import zlib

SEEDS, CORPORA = sys.argv[1], sys.argv[2]
NONE = 0xFFFFFFFF
EQUATION3 = bytes.fromhex("02ce020000000000c000000000000046")


def cfb(entries, shift=9, root_clsid=b"\x00" * 16):
    """A compound file: header, one FAT sector, the directory (as many
    sectors as it needs, chained in the FAT). entries: (name, type, left,
    right, child, clsid); entry 0 is the root."""
    ssz = 1 << shift
    dirs = b""
    for name, typ, left, right, child, clsid in entries:
        u = name.encode("utf-16-le") + b"\x00\x00"
        e = u.ljust(64, b"\x00") + struct.pack("<HBB", len(u), typ, 1)
        e += struct.pack("<III", left, right, child) + clsid + b"\x00" * 20
        e += struct.pack("<IQ", 0xFFFFFFFE, 0)
        dirs += e.ljust(128, b"\x00")
    ndir = max(1, (len(dirs) + ssz - 1) // ssz)
    dirs = dirs.ljust(ndir * ssz, b"\x00")
    fat = [0xFFFFFFFD] + [i + 1 for i in range(1, ndir)] + [0xFFFFFFFE]
    fat = struct.pack("<%dI" % len(fat), *fat).ljust(ssz, b"\xff")
    hdr = bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 16
    hdr += struct.pack("<HHHHH", 0x3E, 3 if shift == 9 else 4, 0xFFFE, shift, 6)
    hdr += b"\x00" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    hdr += struct.pack("<I", 0) + b"\xff" * (4 * 108)
    return hdr.ljust(ssz, b"\x00") + fat + dirs


def cfb_samples():
    root = ("Root Entry", 5, NONE, NONE, 1, b"\x00" * 16)
    yield cfb([root, ("Macros", 1, NONE, NONE, 2, b"\x00" * 16), ("VBA", 1, NONE, NONE, 3, b"\x00" * 16),
               ("dir", 2, NONE, 4, NONE, b"\x00" * 16), ("Module1", 2, 5, NONE, NONE, b"\x00" * 16),
               ("_VBA_PROJECT", 2, NONE, NONE, NONE, b"\x00" * 16)])
    yield cfb([("Root Entry", 5, NONE, NONE, 1, EQUATION3), ("Equation Native", 2, NONE, 2, NONE, b"\x00" * 16),
               ("\x01Ole10Native", 2, NONE, NONE, NONE, b"\x00" * 16)])
    many = [("Root Entry", 5, NONE, NONE, 1, b"\x00" * 16)]
    many += [("S%d" % k, 2, NONE, k + 2 if k < 9 else NONE, NONE, b"\x00" * 16) for k in range(1, 11)]
    yield cfb(many)
    yield cfb([root, ("VBA", 1, NONE, NONE, NONE, b"\x00" * 16)], shift=12)


def ole1(cls, payload):
    c = cls.encode() + b"\x00"
    return struct.pack("<III", 0x501, 2, len(c)) + c + struct.pack("<III", 0, 0, len(payload)) + payload


def rtf_samples():
    eq = ole1("Equation.3", cfb_samples().__next__())
    yield b"{\\rtf1{\\object\\objemb\\objupdate{\\*\\objclass Equation.3}{\\*\\objdata " + eq.hex().encode() + b"}}}"
    spaced = " ".join(eq.hex()[i:i + 7] for i in range(0, 400, 7)).encode()
    yield b"{\\rtf1\\ansi{\\object{\\*\\objdata {\\*\\x} " + spaced + b"\\'41 \\bin0 {}}}}"
    yield b"{\\rt{\\object\\objocx{\\*\\objclass Package}{\\*\\objdata " + ole1("Package", b"x" * 40).hex().encode() + b"}}}"
    yield b"{\\rtf1{\\*\\objdata 0105000002000000}{\\*\\objdata}{\\object\\objclass-12 {}}}"


def pdf(objs):
    out = b"%PDF-1.7\n"
    for k, body in enumerate(objs, 1):
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    return out + b"trailer\n<</Root 1 0 R>>\n%%EOF\n"


def stream(filters, data):
    return b"<</Length %d /Filter %s>>\nstream\n" % (len(data), filters) + data + b"\nendstream"


def a85(b):
    return base64.a85encode(b) + b"~>"


def pdf_samples():
    js = b"<</Type/Action/S/JavaScript/JS(app.alert(1))>>"
    yield pdf([b"<</Type/Catalog/OpenAction 2 0 R>>", js])
    yield pdf([b"<</Type/Catalog/Names<</J#61vaScript 2 0 R>>>>", b"<</S/Launch/F(cmd.exe)>>"])
    yield pdf([stream(b"/FlateDecode", zlib.compress(js))])
    yield pdf([stream(b"/ASCIIHexDecode", js.hex().encode() + b">")])
    yield pdf([stream(b"/A85", a85(js))])
    yield pdf([stream(b"[/AHx /Fl]", zlib.compress(js).hex().encode() + b">")])
    yield pdf([stream(b"[/ASCII85Decode/FlateDecode]", a85(zlib.compress(js)))])
    yield pdf([stream(b"/LZWDecode", b"\x78\x9c" + zlib.compress(js)[2:]), b"<</EmbeddedFile 3 0 R/AA<<>>/XFA 1>>"])


def tar(files, hidden=None):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue() + (hidden or b"")


def zip_bytes(files, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in files:
            z.writestr(name, data)
    return b.getvalue()


def archive_samples():
    files = [("a.txt", b"hello\n"), ("dir/b.exe", b"MZ" + b"\x00" * 62)]
    inner = zip_bytes(files)
    yield 0, zip_bytes(files + [("inner.zip", inner)])
    yield 0, zip_bytes(files, zipfile.ZIP_STORED)
    yield 1, gzip.compress(tar(files))
    yield 1, gzip.compress(b"\x00" * 1024 + tar(files))
    yield 3, tar(files, hidden=tar([("hidden.js", b"WScript.Echo(1)")]))
    yield 2, gzip.compress(b"%PDF-1.4\n")
    yield 3, bz2.compress(tar(files))
    yield 3, lzma.compress(tar(files))
    yield 0, zip_bytes([("z", b"\x00" * 200000)])
    yield 3, zip_bytes([("word/document.xml", b"<w:document/>"), ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")])


RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def rels(items, head='<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'):
    """A .rels document; items: (type, target, mode or None)."""
    out = head + '<Relationships xmlns="%s">' % RELS_NS
    for k, (typ, target, mode) in enumerate(items, 1):
        m = ' TargetMode="%s"' % mode if mode else ""
        out += '<Relationship Id="rId%d" Type="%s%s" Target="%s"%s/>' % (k, REL_TYPE, typ, target, m)
    return (out + "</Relationships>").encode()


def docrels_samples():
    yield rels([("styles", "styles.xml", None), ("hyperlink", "https://login.example/a?b=c&amp;d=e", "External"),
                ("image", "http://img.example/x.png", "External")])
    yield rels([("attachedTemplate", "http://192.0.2.7/t.dotm", "External")])
    yield rels([("oleObject", "\\\\203.0.113.9\\share\\o.bin", "External"),
                ("frame", "//h.example/f.html", "external"), ("subDocument", "file:///C:/x.docx", "External")])
    yield rels([("hyperlink", "&#104;ttp://e&#x78;ample.test/&lt;&quot;&apos;&gt;", "External"),
                ("hyperlink", "", "External"), ("hyperlink", "http://no-mode.example/", None)])
    yield (b'\xef\xbb\xbf<r:Relationships xmlns:r="' + RELS_NS.encode() + b'"><!-- c --><![CDATA[<x>]]>'
           b'<r:Relationship Type="t" Target="http://p.example/" TargetMode="External"/><?pi x?></r:Relationships>')
    yield b"\xff\xfe" + rels([("hyperlink", "http://utf16.example/\u00e9", "External")], head="").decode().encode("utf-16-le")
    yield rels([("hyperlink", "http://x.example/%d" % k, "External") for k in range(260)])


def corpus_attachments():
    """Decoded non-text parts of every message in the corpora."""
    for d, _, names in os.walk(CORPORA):
        for n in sorted(names):
            try:
                raw = open(os.path.join(d, n), "rb").read()
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                for part in msg.walk():
                    if part.is_multipart() or part.get_content_maintype() == "text":
                        continue
                    data = part.get_payload(decode=True)
                    if data:
                        yield data
            except Exception:  # a corpus message Python cannot parse: not a seed
                continue


def kind(data):
    if data.startswith(bytes.fromhex("d0cf11e0a1b11ae1")):
        return "cfb"
    if data.startswith(b"{\\rt"):
        return "rtf"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data[:4] in (b"PK\x03\x04", b"7z\xbc\xaf", b"Rar!") or data[:2] == b"\x1f\x8b" or \
            data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00" or data[257:262] == b"ustar":
        return "archive"
    return None


def main():
    seeds = {"cfb": list(cfb_samples()), "rtf": list(rtf_samples()), "pdf": list(pdf_samples()),
             "archive": [bytes([name]) + data for name, data in archive_samples()],
             "docrels": list(docrels_samples())}
    for data in corpus_attachments():
        k = kind(data)
        if k and len(data) <= 1 << 20:
            seeds[k].append(b"\x00" + data if k == "archive" else data)
            if k == "archive" and data[:4] == b"PK\x03\x04":
                try:  # OOXML members: the OLE, RTF and relationships inside documents
                    with zipfile.ZipFile(io.BytesIO(data)) as z:
                        for info in z.infolist()[:50]:
                            if info.file_size <= 1 << 20:
                                inner = z.read(info)
                                ik = "docrels" if info.filename.lower().endswith(".rels") else kind(inner)
                                if ik in ("cfb", "rtf", "pdf", "docrels"):
                                    seeds[ik].append(inner)
                except Exception:  # a damaged zip: it is already a seed as it is
                    pass
    for k, items in seeds.items():
        os.makedirs(os.path.join(SEEDS, k), exist_ok=True)
        for i, data in enumerate(dict.fromkeys(items)):
            with open(os.path.join(SEEDS, k, "a%d" % i), "wb") as out:
                out.write(data)
        print("fuzz: %d %s seeds" % (len(set(items)), k))


main()
