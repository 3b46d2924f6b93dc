#!/usr/bin/env python3
"""Hostile input against the resource limits (issue "Hostile input: resource
limits"). Every input is generated in a temporary directory, never stored in
the repository. For each one, `bulwark scan --json --no-progress FILE` runs in
a fresh child process and must:

- exit 0 or 1 (2 would mean an internal error; a signal means a crash),
- print exactly one JSON report,
- name the limit that was hit in the report's `errors` (where one applies),
- stay within MAX_RSS_MB of peak resident memory (os.wait4's rusage of that
  one child),
- finish within TIMEOUT seconds: a hang check, not a timing assertion.

`bulwark sanitize` runs on the inputs of groups 1, 3, 5 and 6 under the same
bounds; its output must scan again (one report, exit 0 or 1) and list no
resource fetched on open.

Usage: test_limits.py BULWARK [CASE-SUBSTRING...]

Environment: BULWARK_LIMITS_TIMEOUT (seconds, default 60; 180 under ASan),
BULWARK_LIMITS_MAX_RSS_MB (default 256; under ASan, whose shadow memory and
quarantine inflate RSS, memory is reported but only checked against 2048).
A child is killed when its RSS passes twice the bound (at least 1 GB), so a
runaway case fails without exhausting the machine.
"""
import base64
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib

MB = 1 << 20
MARKER_HOST = b"t.example"  # the host of every remote resource in the inputs


# ---- generators: each writes one input file ----

def headers(extra=b"", ctype=b"text/plain; charset=utf-8", cte=None):
    h = (b"From: Sender <sender@example.org>\r\n"
         b"To: Recipient <rcpt@example.net>\r\n"
         b"Subject: limits\r\n"
         b"Message-ID: <limits@example.org>\r\n"
         b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
         b"MIME-Version: 1.0\r\n" + extra +
         b"Content-Type: " + ctype + b"\r\n")
    if cte:
        h += b"Content-Transfer-Encoding: " + cte + b"\r\n"
    return h + b"\r\n"


def write_repeated(f, unit, size):
    """Writes unit repeated up to size bytes, in large blocks."""
    block = unit * max(1, (4 * MB) // len(unit))
    left = size
    while left > 0:
        chunk = block[:left]
        f.write(chunk)
        left -= len(chunk)


def big_text(path):
    with open(path, "wb") as f:
        f.write(headers())
        write_repeated(f, b"The committee will meet on Tuesday at ten in room 4.\r\n", 50 * MB)


def big_base64(path):
    raw = os.urandom(3 * MB)
    line = base64.encodebytes(raw).replace(b"\n", b"\r\n")  # 76-char lines
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="b1"'))
        f.write(b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
                b"--b1\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Disposition: attachment; filename=\"big.bin\"\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\n")
        write_repeated(f, line, 50 * MB)
        f.write(b"\r\n--b1--\r\n")


def big_html(path):
    # Over max_html_bytes (8 MiB): the HTML part is cut there.
    with open(path, "wb") as f:
        f.write(headers(ctype=b"text/html; charset=utf-8"))
        f.write(b"<!doctype html><html><body>"
                b"<img src=\"https://t.example/open.gif\" width=1 height=1>\r\n")
        write_repeated(f, b"<p>The committee will meet on Tuesday at ten.</p>\r\n", 50 * MB)
        f.write(b"<img src=\"https://t.example/late.gif\"></body></html>\r\n")


def over_limit(path):
    # 100 MB: over max_message_bytes (25 MiB), read only up to the limit
    with open(path, "wb") as f:
        f.write(headers())
        write_repeated(f, b"The committee will meet on Tuesday at ten in room 4.\r\n", 100 * MB)


def big_latin1(path):
    # 50 MB of bytes that each become 2 or 3 bytes of UTF-8 (windows-1252
    # to UTF-8 triples "\x80", the euro sign)
    with open(path, "wb") as f:
        f.write(headers(ctype=b"text/plain; charset=windows-1252"))
        write_repeated(f, b"\x80\xe9" * 38 + b"\r\n", 50 * MB)


def big_bad_utf8(path):
    # declared UTF-8, every other byte invalid: each becomes U+FFFD (3 bytes)
    with open(path, "wb") as f:
        f.write(headers(ctype=b"text/html; charset=utf-8"))
        f.write(b"<img src=\"https://t.example/open.gif\">")
        write_repeated(f, b"\xff " * 38 + b"\r\n", 50 * MB)


def many_parts(path, n=10000):
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="p"'))
        for i in range(n):
            f.write(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
        f.write(b"--p--\r\n")


def empty_parts(path, n=200000):
    # each MIME part costs GMime ~1.3 KB however small it is
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="p"'))
        write_repeated(f, b"--p\n\nx\n", 7 * n)
        f.write(b"--p--\n")


def nested_multipart(path, depth=1000, html=False):
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="n0"'))
        for i in range(1, depth):
            f.write(b"--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n" % (i - 1, i))
        f.write(b"--n%d\r\nContent-Type: text/html\r\n\r\n"
                b"<img src=\"https://t.example/deep.gif\">\r\n" % (depth - 1))
        for i in range(depth - 1, -1, -1):
            f.write(b"--n%d--\r\n" % i)


def nested_then_dashes(path, depth=1000):
    # GMime compares every line that starts with "--" against every open
    # boundary: with 1,000 levels open, 48 MB of such lines took over a minute.
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="n0"'))
        for i in range(1, depth):
            f.write(b"--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n" % (i - 1, i))
        f.write(b"--n%d\r\nContent-Type: text/html\r\n\r\n"
                b"<img src=\"https://t.example/deep.gif\">\r\n" % (depth - 1))
        write_repeated(f, b"--x\n", 48 * MB)


def many_headers(path, n=100000):
    with open(path, "wb") as f:
        for i in range(n):
            f.write(b"X-Filler-%d: value %d\r\n" % (i, i))
        f.write(headers())
        f.write(b"body\r\n")


def nested_rfc822(path, depth=1000):
    with open(path, "wb") as f:
        f.write(headers(ctype=b"message/rfc822"))
        for i in range(depth - 1):
            f.write(b"Subject: level %d\r\nContent-Type: message/rfc822\r\n\r\n" % i)
        f.write(b"Subject: bottom\r\nContent-Type: text/html\r\n\r\n"
                b"<img src=\"https://t.example/deep.gif\">\r\n")


def encoded_rfc822(path):
    # GMime leaves a base64-encoded message/rfc822 unparsed; mail clients may
    # decode and show it, so sanitize must not pass it on unchecked
    inner = (b"Subject: inner\r\nContent-Type: text/html\r\n\r\n"
             b"<img src=\"https://t.example/b64.gif\">\r\n")
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="b"'))
        f.write(b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
                b"--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                + base64.encodebytes(inner).replace(b"\n", b"\r\n") + b"--b--\r\n")


def long_subject(path):
    with open(path, "wb") as f:
        f.write(b"Subject: " + b"A" * MB + b"\r\n")
        f.write(headers()[len(b""):].replace(b"Subject: limits\r\n", b""))
        f.write(b"body\r\n")


def long_subject_folded(path):
    # 1 MB of words, folded as RFC 5322 allows, with an encoded word in each line
    with open(path, "wb") as f:
        f.write(b"Subject:")
        write_repeated(f, b" =?utf-8?q?R=C3=A9sum=C3=A9?= of the briefing\r\n", MB)
        f.write(headers().replace(b"Subject: limits\r\n", b""))
        f.write(b"body\r\n")


def many_recipients(path, n=50000):
    with open(path, "wb") as f:
        f.write(b"To: ")
        for start in range(0, n, 10000):
            f.write(b",\r\n ".join(b"\"Person %d\" <p%d@example.net>" % (i, i)
                                    for i in range(start, min(n, start + 10000))))
            f.write(b",\r\n " if start + 10000 < n else b"\r\n")
        f.write(headers().replace(b"To: Recipient <rcpt@example.net>\r\n", b""))
        f.write(b"body <img src=\"https://t.example/x.gif\">\r\n")


def html_message(path, body_writer, prefix=b"", suffix=b""):
    with open(path, "wb") as f:
        f.write(headers(ctype=b"text/html; charset=utf-8"))
        f.write(b"<!doctype html><html><head>" + prefix)
        body_writer(f)
        f.write(suffix + b"</html>\r\n")


def nested_div(path):
    html_message(path, lambda f: (f.write(b"<body>"), write_repeated(f, b"<div>", 5 * 1000000),
                                  f.write(b"<img src=\"https://t.example/x.gif\">")))


def nested_table(path):
    html_message(path, lambda f: (f.write(b"<body>"),
                                  write_repeated(f, b"<table><tr><td>", 15 * 1000000)))


def nested_formatting(path):
    html_message(path, lambda f: (f.write(b"<body>"), write_repeated(f, b"<b><i>", 6 * 1000000)))


def formatting_reconstruct(path):
    # Distinct formatting elements (so the Noah's Ark clause keeps them all)
    # left in the list of active formatting elements, then reconstructed at
    # every text run: each 13-byte "<div>x</div>" would add 1,000 elements.
    def body(f):
        f.write(b"<body><div>")
        for i in range(1000):
            f.write(b"<b id=%d>" % i)
        f.write(b"</div>")
        write_repeated(f, b"<div>x</div>", 6 * MB)
    html_message(path, body)


def many_elements(path):
    # 2,000,000 sibling elements: nothing nests, every node is real.
    html_message(path, lambda f: (f.write(b"<body>"), write_repeated(f, b"<br>", 8 * MB - 100)))


def css_unterminated_url(path):
    html_message(path, lambda f: (f.write(b"<body><div style=\"background:"),
                                  write_repeated(f, b"url(", MB), f.write(b"\">x</div>")))


def css_nested_media(path):
    html_message(path, lambda f: (f.write(b"<style>"), write_repeated(f, b"@media screen{", 14 * 100000),
                                  f.write(b"div{background:url(https://t.example/m.gif)}</style>"
                                          b"<body><div>x</div>")))


def css_selector_list(path):
    sel = b",".join(b"div.c%d#i%d>span:not(.x)" % (i, i) for i in range(100000))
    html_message(path, lambda f: (f.write(b"<style>" + sel + b"{background:url(https://t.example/s.gif)}</style>"
                                          b"<body><div class=c5 id=i5><span>x</span></div>")))


def css_many_urls(path):
    def body(f):
        f.write(b"<style>")
        for i in range(200000):
            f.write(b".c%d{background:url(https://t.example/%d.gif)}\n" % (i, i))
        f.write(b"</style><body><div class=c1>x</div>")
    html_message(path, body)


def css_then_big_html(path):
    # everything at once: an 8 MB style sheet (160,000 rules with url()s)
    # at the head of a 50 MB HTML part
    with open(path, "wb") as f:
        f.write(headers(ctype=b"text/html; charset=utf-8"))
        f.write(b"<html><head><style>")
        i = n = 0
        chunk = []
        while n < 8 * MB - 200:
            line = b".c%d{background:url(https://t.example/%d.gif)}\n" % (i, i)
            chunk.append(line)
            n += len(line)
            i += 1
        f.write(b"".join(chunk))
        f.write(b"</style></head><body>")
        write_repeated(f, b"<p>The committee will meet on Tuesday at ten.</p>\r\n", 42 * MB)


def many_links(path):
    def body(f):
        f.write(b"<body>")
        for i in range(100000):
            f.write(b"<a href=\"https://example.com/%d\">link %d</a>\n" % (i, i))
    html_message(path, body)


def many_text_links(path):
    with open(path, "wb") as f:
        f.write(headers())
        for i in range(100000):
            f.write(b"see https://example.com/%d\r\n" % i)


# ---- archive bombs: small files that expand to gigabytes ----

def zero_deflate(size, chunk=MB):
    """Raw deflate of size zero bytes and its CRC-32, built from one
    compressed chunk repeated: a full flush byte-aligns the stream and
    resets the window, so copies of it concatenate into valid deflate.
    Nothing of the expansion is ever held in memory."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
    crc, zeros = 0, bytes(chunk)
    for _ in range(size // chunk):
        crc = zlib.crc32(zeros, crc)
    return block * (size // chunk) + tail, crc


def zip_raw(entries):
    """A zip of (name, deflate_data, crc, declared_size) entries, written by
    hand so that the deflate data and the declared sizes are ours."""
    out, central = b"", b""
    for name, data, crc, usize in entries:
        n = name.encode()
        hdr = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), usize, len(n), 0)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), usize,
                               len(n), 0, 0, 0, 0, 0, len(out)) + n
        out += hdr + n + data
    return out + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                       len(central), len(out), 0)


def zip_deflated(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in entries:
            z.writestr(name, data)
    return b.getvalue()


def attach(path, name, data):
    with open(path, "wb") as f:
        f.write(headers(ctype=b'multipart/mixed; boundary="z"'))
        f.write(b"--z\r\nContent-Type: text/plain\r\n\r\nThe figures.\r\n"
                b"--z\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n"
                b"Content-Disposition: attachment; filename=\"" + name + b"\"\r\n\r\n")
        f.write(base64.encodebytes(data).replace(b"\n", b"\r\n"))
        f.write(b"--z--\r\n")


def nested_zip_bomb(path):
    # 42.zip's construction: 16 zips of 16 zips of 1 GiB of zeros: 256 GiB
    data, crc = zero_deflate(1 << 30)
    level1 = zip_raw([("zeros.bin", data, crc, 1 << 30)])
    level2 = zip_deflated([("l1-%02d.zip" % i, level1) for i in range(16)])
    level3 = zip_deflated([("l2-%02d.zip" % i, level2) for i in range(16)])
    attach(path, b"figures.zip", level3)


def lying_zip_bomb(path):
    # one entry of 2 GiB of zeros whose headers declare 1,000 bytes
    data, crc = zero_deflate(2 << 30)
    attach(path, b"report.zip", zip_raw([("report.pdf", data, crc, 1000)]))


def targz_bomb(path):
    # a tar of one 2 GiB file of zeros, gzip-compressed
    hdr = tarfile.TarInfo("zeros.bin")
    hdr.size = 2 << 30
    tar_head = hdr.tobuf(tarfile.USTAR_FORMAT)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = c.compress(tar_head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MB)) + c.flush(zlib.Z_FULL_FLUSH)
    # gzip's trailer CRC is left wrong: extraction must stop long before it
    attach(path, b"backup.tar.gz", body + block * 2048 + c.flush(zlib.Z_FINISH))


# ---- cases ----
# (name, generator, expected error regex or None, run sanitize too)
CASES = [
    ("1a 50MB text part", big_text, r"^limit: message is \d+ bytes.*max_message_bytes", True),
    ("1b 50MB base64 attachment", big_base64, r"^limit: message is \d+ bytes.*max_message_bytes", True),
    ("1c 50MB HTML part", big_html, r"max_html_bytes", True),
    ("1d 100MB message", over_limit, r"^limit: message is \d+ bytes.*max_message_bytes", False),
    ("1e 50MB windows-1252 text", big_latin1, r"max_decoded_bytes", True),
    ("1f 50MB invalid UTF-8 HTML", big_bad_utf8, r"max_decoded_bytes|max_html_bytes", True),
    ("2 10000 MIME parts", many_parts, r"^limit: more than 1000 MIME parts", False),
    ("2b 200000 empty MIME parts", empty_parts, r"more than 10000 MIME parts", False),
    ("3a 1000 nested multiparts", nested_multipart, r"^limit: MIME nesting deeper than 32", True),
    ("3b 1000 nested message/rfc822", nested_rfc822, r"^limit: MIME nesting deeper than 32", True),
    ("3c 1000 nested multiparts + 48MB of --", nested_then_dashes, r"max_mime_depth", True),
    ("3d 63 nested multiparts + 48MB of --", lambda p: nested_then_dashes(p, 63), r"max_mime_depth", False),
    ("3e base64-encoded message/rfc822", encoded_rfc822, None, True),
    ("4a 1MB Subject line", long_subject, r"^limit: header field Subject .*max_header_field_bytes", False),
    ("4b 1MB folded encoded Subject", long_subject_folded,
     r"^limit: header field Subject .*max_header_field_bytes", False),
    ("4c To with 50000 addresses", many_recipients, r"^limit: header field To .*max_header_field_bytes", False),
    ("4d 100000 header fields", many_headers, r"bytes of header fields", False),
    ("4e To with 1500000 addresses", lambda p: many_recipients(p, 1500000), r"bytes of header fields", False),
    ("5a 1e6 nested <div>", nested_div, r"max_html_depth", True),
    ("5b 1e6 nested <table><tr><td>", nested_table, r"max_html_(depth|bytes)", True),
    ("5c 1e6 nested <b><i>", nested_formatting, r"max_html_depth", True),
    ("5d formatting reconstruction", formatting_reconstruct, r"max_html_nodes", True),
    ("5e 2e6 sibling <br>", many_elements, r"max_html_nodes", True),
    ("6a 1MB style of unterminated url(", css_unterminated_url,
     r"^limit: a style attribute of \d+ bytes.*max_css_bytes", True),
    ("6b 100000 nested @media", css_nested_media, r"^limit: a <style> sheet of \d+ bytes.*max_css_bytes", True),
    ("6c 100000 compound selectors", css_selector_list,
     r"^limit: a <style> sheet of \d+ bytes.*max_css_bytes", True),
    ("6d 200000 url() in 5MB <style>", css_many_urls, r"max_resources \(5000\)", True),
    ("6e 8MB <style> + 42MB HTML", css_then_big_html, r"max_html_bytes", True),
    ("7a 100000 HTML links", many_links, r"max_links \(5000\)", False),
    ("7b 100000 plain-text links", many_text_links, r"max_links \(5000\)", False),
    ("8a zip bomb: 16x16 nested zips of 1 GiB", nested_zip_bomb, r"max_archive_ratio", False),
    ("8b zip bomb: 2 GiB entry declaring 1000 bytes", lying_zip_bomb, r"max_archive_(ratio|bytes)", False),
    ("8c tar.gz bomb: 2 GiB entry", targz_bomb, r"max_archive_ratio", False),
]

# Findings a case must produce besides its errors entry.
CASE_FINDINGS = {
    "8a zip bomb: 16x16 nested zips of 1 GiB": "ARCHIVE_BOMB",
    "8b zip bomb: 2 GiB entry declaring 1000 bytes": "ARCHIVE_BOMB",
    "8c tar.gz bomb: 2 GiB entry": "ARCHIVE_BOMB",
}


def is_asan(binary):
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


def marker_in(data):
    """The first place where the sanitized message still names MARKER_HOST,
    the host of every remote resource in the inputs: in the bytes (quoted-
    printable soft breaks undone) or inside base64 blocks."""
    needle = b"//" + MARKER_HOST
    flat = data.replace(b"=\r\n", b"").replace(b"=\n", b"")
    at = flat.find(needle)
    if at >= 0:
        return flat[at:at + 60]
    for m in re.finditer(rb"(?:[A-Za-z0-9+/=]{8,}\r?\n)+", data):
        try:
            dec = base64.b64decode(re.sub(rb"\s+", b"", m.group(0)))
        except ValueError:
            continue
        at = dec.find(needle)
        if at >= 0:
            return b"(base64) " + dec[at:at + 60]
    return None


class Run:
    pass


GNU_TIME = "/usr/bin/time"


def tree_rss_kib(pid):
    """Current RSS of pid and its descendants, from /proc (0 if gone)."""
    total, todo = 0, [pid]
    while todo:
        q = todo.pop()
        try:
            with open("/proc/%d/status" % q) as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        total += int(ln.split()[1])
                        break
            with open("/proc/%d/task/%d/children" % (q, q)) as f:
                todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return total


def run_child(argv, out_path, timeout, kill_kib):
    """Runs argv in a fresh process (its own session, so that a timeout kills
    the whole group) with stdout to out_path. Returns a Run with status,
    signal, peak RSS (KiB), seconds, stderr and timed_out.

    Peak RSS comes from GNU time (%M) when it is installed: its child is
    forked from a small process, whereas the ru_maxrss of a child forked
    from this Python process starts at Python's own peak (Linux keeps the
    high-water mark across exec). Without it, os.wait4's rusage is used and
    overstates small runs by Python's size."""
    use_time = os.access(GNU_TIME, os.X_OK)
    fd, rss_path = tempfile.mkstemp(suffix=".rss")
    os.close(fd)
    cmd = [GNU_TIME, "-o", rss_path, "-f", "%M", "--"] + argv if use_time else argv
    with open(out_path, "wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        timed_out = killed_rss = False
        watched_kib = 0
        deadline = t0 + timeout
        while p.poll() is None:
            # Watchdog: a runaway child is stopped at kill_kib of RSS so that
            # a failing case cannot take the machine down with it.
            kib = tree_rss_kib(p.pid)
            watched_kib = max(watched_kib, kib)
            if kib > kill_kib:
                killed_rss = True
            elif time.monotonic() > deadline:
                timed_out = True
            if killed_rss or timed_out:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                break
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    r = Run()
    r.seconds = seconds
    r.timed_out = timed_out
    r.killed_rss = killed_rss
    r.signal = r.status = None
    r.rss_kib = 0
    if use_time:
        try:
            with open(rss_path) as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        for ln in lines:
            m = re.match(r"Command terminated by signal (\d+)", ln)
            if m:
                r.signal = int(m.group(1))
        if lines and lines[-1].strip().isdigit():
            r.rss_kib = int(lines[-1])
        if r.signal is None and not timed_out:
            r.status = p.returncode
    else:
        # Popen reaped the child; its rusage is in RUSAGE_CHILDREN (the
        # maximum over all children so far, so only an upper bound).
        import resource
        r.rss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if p.returncode < 0:
            r.signal = -p.returncode
        else:
            r.status = p.returncode
    if os.path.exists(rss_path):
        os.unlink(rss_path)
    if timed_out or killed_rss:
        r.signal = None
    # a killed child leaves no GNU time report: use what the watchdog saw
    r.rss_kib = max(r.rss_kib, watched_kib)
    r.stderr = stderr
    return r


class Checker:
    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        asan = is_asan(binary)
        self.timeout = float(os.environ.get("BULWARK_LIMITS_TIMEOUT", 180 if asan else 60))
        self.max_rss_mb = float(os.environ.get("BULWARK_LIMITS_MAX_RSS_MB", 2048 if asan else 256))
        self.kill_kib = int(max(2 * self.max_rss_mb, 1024) * 1024)
        self.asan = asan
        self.passed = self.failed = 0

    def bounded(self, r, what, problems):
        for pat in (r"CRITICAL \*\*", r"WARNING \*\*", r"runtime error:", r"ERROR: \w*Sanitizer",
                    r"out of memory"):
            m = re.search(pat, r.stderr)
            if m:
                problems.append("%s: stderr: %s" % (what, r.stderr[max(0, m.start() - 200):m.start() + 1500]))
                break
        if r.killed_rss:
            problems.append("%s: stopped by the watchdog at %.0f MB of RSS" % (what, r.rss_kib / 1024))
        elif r.timed_out:
            problems.append("%s: no result after %.0f s (hang?)" % (what, self.timeout))
        elif r.signal is not None:
            problems.append("%s: killed by signal %d: %s" % (what, r.signal, r.stderr[-2000:]))
        elif r.status not in (0, 1):
            problems.append("%s: exit status %s: %s" % (what, r.status, r.stderr[-2000:]))
        if r.rss_kib / 1024 > self.max_rss_mb:
            problems.append("%s: peak RSS %.0f MB > %.0f MB" % (what, r.rss_kib / 1024, self.max_rss_mb))

    def scan(self, path, problems, what="scan"):
        out = path + ".json"
        r = run_child([self.binary, "scan", "--json", "--no-progress", path], out, self.timeout,
                      self.kill_kib)
        self.bounded(r, what, problems)
        reports = []
        if not r.timed_out and r.signal is None:
            with open(out, "rb") as f:
                lines = [ln for ln in f.read().split(b"\n") if ln.strip()]
            try:
                reports = [json.loads(ln) for ln in lines]
            except ValueError as e:
                problems.append("%s: output is not JSON Lines: %s" % (what, e))
            if len(lines) != 1:
                problems.append("%s: %d reports, expected exactly one" % (what, len(lines)))
        os.unlink(out)
        return r, (reports[0] if len(reports) == 1 else None)

    def run_case(self, name, gen, expect, sanitize):
        path = os.path.join(self.tmp, re.sub(r"\W+", "_", name) + ".eml")
        gen(path)
        size = os.path.getsize(path)
        problems = []
        r, rep = self.scan(path, problems)
        errs = rep.get("errors") if rep else None
        shown = ""
        if rep is not None:
            if not isinstance(errs, list):
                problems.append("scan: no errors array")
                errs = []
            if expect:
                hit = [e for e in errs if re.search(expect, e)]
                if not hit:
                    problems.append("scan: no error matching /%s/ in %r" % (expect, errs))
                shown = hit[0] if hit else ""
            elif errs:
                shown = "(none expected) " + "; ".join(errs)
            want = CASE_FINDINGS.get(name)
            if want and not any(f.get("id") == want for f in rep.get("findings", [])):
                problems.append("scan: no %s finding in %r" % (want, [f.get("id") for f in rep.get("findings", [])]))
        self.report(name, "scan", size, r, shown, problems)

        if sanitize:
            problems = []
            clean = path + ".clean"
            s = run_child([self.binary, "sanitize", path, "-o", clean], os.devnull, self.timeout,
                          self.kill_kib)
            self.bounded(s, "sanitize", problems)
            shown = ""
            if not problems:
                if s.status != 0 or not os.path.exists(clean):
                    problems.append("sanitize: no output (status %s): %s" % (s.status, s.stderr[-500:]))
                else:
                    with open(clean, "rb") as f:
                        hit = marker_in(f.read())
                    if hit:
                        problems.append("sanitized output still names %r" % hit)
                    r2, rep2 = self.scan(clean, problems, "scan of sanitized")
                    if rep2 is not None:
                        live = [x["url"] for x in rep2.get("remote_resources", []) if x.get("on_open")]
                        if live:
                            problems.append("sanitized output still loads %d resources on open, e.g. %s"
                                            % (len(live), live[0]))
                        shown = "rescan %.0f MB %.1f s; %d bytes out" % (
                            r2.rss_kib / 1024, r2.seconds, os.path.getsize(clean))
            if os.path.exists(clean):
                os.unlink(clean)
            self.report(name, "sanitize", size, s, shown, problems)
        os.unlink(path)

    def report(self, name, mode, size, r, shown, problems):
        ok = not problems
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %-36s %-8s %6.1f MB in  %6.0f MB RSS  %6.1f s  %s" % (
            "ok  " if ok else "FAIL", name, mode, size / MB, r.rss_kib / 1024, r.seconds, shown[:160]))
        for p in problems:
            print("     " + p[:3000])
        sys.stdout.flush()


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="bulwark-limits-") as tmp:
        c = Checker(binary, tmp)
        print("binary %s%s; timeout %.0f s, RSS bound %.0f MB" % (
            binary, " (ASan)" if c.asan else "", c.timeout, c.max_rss_mb))
        for name, gen, expect, sanitize in CASES:
            if only and not any(o in name for o in only):
                continue
            c.run_case(name, gen, expect, sanitize)
        print("%d passed, %d failed" % (c.passed, c.failed))
        return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
