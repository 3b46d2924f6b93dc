#!/usr/bin/python3
"""Live sender authentication against a real DNS server (suite "auth").

Starts unbound on 127.0.0.1 (a free high port, its own configuration) serving
test zones -- SPF, DKIM keys for key pairs made here with openssl, DMARC --
signs messages with python3-dkim, and runs `bulwark auth-check` (the check the
milter runs, src/mail/auth_verify.c) on them. Then verifies every signed
message of the shared DKIM corpora with libopendkim (through bulwark) and
with python3-dkim, both fetching keys from the same unbound, and compares.

Then sends signed messages through bulwark-milter with miltertest, so that
the milter's chunk-by-chunk DKIM path is checked against the same keys.

usage: test_auth.py BULWARK SHARED_CORPORA [BULWARK_MILTER]
"""
import base64
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dkim
import dns.resolver

BULWARK, CORPORA = sys.argv[1], sys.argv[2]
MILTER = sys.argv[3] if len(sys.argv) > 3 else None
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def txt_strings(value):
    """A TXT value as quoted character-strings of at most 255 bytes."""
    return " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200))


def make_key(tmp, name):
    key = os.path.join(tmp, name + ".pem")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", key, "2048"], check=True,
                   stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return open(key, "rb").read(), base64.b64encode(der).decode()


def pem_body(path):
    return "".join(l.strip() for l in open(path) if l.strip() and not l.startswith("-----"))


def corpus_keys():
    """Key records the corpora ship: MimeKit's example.bind9 and gmail.pub;
    RFC 8463's Ed25519 example key (section A.2) for rfc8463-example.msg.
    SpamAssassin's dkim/ mail names keys published only in spamassassin.org's
    live DNS, which this hermetic server answers NXDOMAIN."""
    mk = os.path.join(CORPORA, "mimekit", "dkim")
    bind9 = open(os.path.join(mk, "example.bind9")).read()
    name = bind9.split()[0].rstrip(".")
    value = "".join(re.findall(r'"([^"]*)"', bind9))
    return {
        name: value,
        "20120113._domainkey.gmail.com": "v=DKIM1; k=rsa; p=" + pem_body(os.path.join(mk, "gmail.pub")),
        "brisbane._domainkey.football.example.com":
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    }


def start_unbound(tmp, records):
    port = free_port()
    lines = ["server:", "  interface: 127.0.0.1", "  port: %d" % port, "  do-ip6: no",
             "  do-daemonize: no", "  username: \"\"", "  chroot: \"\"", "  directory: \"%s\"" % tmp,
             "  pidfile: \"\"", "  use-syslog: no", "  logfile: \"\"", "  verbosity: 0",
             "  access-control: 127.0.0.0/8 allow", "  module-config: \"iterator\"",
             # everything not listed below is NXDOMAIN: the test never leaves the machine
             "  local-zone: \".\" static"]
    for name, value in records:
        lines.append("  local-data: '%s. 300 IN TXT %s'" % (name, txt_strings(value)))
    lines += ["remote-control:", "  control-enable: no"]
    conf = os.path.join(tmp, "unbound.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    check_conf = subprocess.run(["unbound-checkconf", conf], capture_output=True, text=True)
    if check_conf.returncode != 0:
        sys.exit("unbound-checkconf: " + check_conf.stdout + check_conf.stderr)
    proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 1
    for _ in range(100):  # until it answers
        if proc.poll() is not None:
            sys.exit("unbound exited: " + proc.stdout.read().decode(errors="replace"))
        try:
            res.resolve("_dmarc.pass.test", "TXT")
            break
        except Exception:
            time.sleep(0.1)
    else:
        proc.kill()
        sys.exit("unbound did not answer on port %d" % port)
    return proc, port, res


def auth_check(path, resolver, ip=None, helo=None, mail_from=None, timeout_ms=2000):
    args = [BULWARK, "auth-check", "--resolver", resolver, "--timeout-ms", str(timeout_ms),
            "--authserv-id", "mx.test"]
    if ip:
        args += ["--client-ip", ip]
    if helo:
        args += ["--helo", helo]
    if mail_from is not None:
        args += ["--mail-from", mail_from]
    r = subprocess.run(args + [path], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        failures.append("auth-check failed: " + r.stderr)
        return ""
    return r.stdout.split("\t", 1)[1].strip()


def results(ar, method):
    """[(result, {prop: value})] of one method in an Authentication-Results value."""
    out = []
    for part in ar.split(";")[1:]:
        part = re.sub(r"\([^)]*\)", " ", part).strip()
        m = re.match(r"(\w+)=(\w+)(.*)", part)
        if m and m.group(1) == method:
            out.append((m.group(2), dict(re.findall(r"(\S+)=(\S+)", m.group(3)))))
    return out


def write(tmp, name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def sign(msg, selector, domain, key):
    return dkim.sign(msg, selector.encode(), domain.encode(), key,
                     include_headers=[b"from", b"to", b"subject", b"date"]) + msg


def live_checks(tmp, resolver):
    msg = (b"From: Alice <alice@pass.test>\r\nTo: bob@rcpt.test\r\nSubject: hello\r\n"
           b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nHello Bob.\r\n")
    signed = write(tmp, "signed.eml", sign(msg, "sel1", "pass.test", KEYS["pass"]))

    ar = auth_check(signed, resolver, "192.0.2.10", "mx.pass.test", "alice@pass.test")
    print("   " + ar)
    check(ar.startswith("mx.test;"), "header starts with the authserv-id")
    check(results(ar, "spf")[0][0] == "pass", "SPF pass from the listed address")
    check(results(ar, "spf")[0][1].get("smtp.mailfrom") == "alice@pass.test", "smtp.mailfrom reported")
    d = results(ar, "dkim")
    check(d and d[0][0] == "pass" and d[0][1].get("header.d") == "pass.test"
          and d[0][1].get("header.s") == "sel1", "DKIM pass with header.d and header.s")
    dm = results(ar, "dmarc")
    check(dm and dm[0][0] == "pass" and dm[0][1].get("header.from") == "pass.test"
          and dm[0][1].get("policy.dmarc") == "reject", "DMARC pass, policy reject")

    ar = auth_check(signed, resolver, "198.51.100.7", "evil.test", "alice@pass.test")
    check(results(ar, "spf")[0][0] == "fail", "SPF fail from an unlisted address (-all)")
    check(results(ar, "dmarc")[0][0] == "pass", "DMARC still passes on aligned DKIM when SPF fails")

    ar = auth_check(signed, resolver, "198.51.100.7", "evil.test", "x@soft.test")
    check(results(ar, "spf")[0][0] == "softfail", "SPF softfail (~all)")
    ar = auth_check(signed, resolver, "198.51.100.7", "evil.test", "x@nospf.test")
    check(results(ar, "spf")[0][0] == "none", "SPF none without a record")

    tampered = open(signed, "rb").read().replace(b"Hello Bob.", b"Hello Bob, send money.")
    tampered = write(tmp, "tampered.eml", tampered)
    ar = auth_check(tampered, resolver, "198.51.100.7", "evil.test", "alice@pass.test")
    print("   " + ar)
    check(results(ar, "dkim")[0][0] == "fail", "DKIM fail when the body is tampered with")
    check(results(ar, "dmarc")[0][0] == "fail", "DMARC fail when neither SPF nor DKIM pass")

    # authenticated, but by another domain: the APT31 pattern at the protocol level
    other = write(tmp, "other.eml", sign(msg, "esp", "bulk.test", KEYS["bulk"]))
    ar = auth_check(other, resolver, "203.0.113.5", "out.bulk.test", "bounce@bulk.test")
    print("   " + ar)
    check(results(ar, "spf")[0][0] == "pass" and results(ar, "dkim")[0][0] == "pass",
          "SPF and DKIM pass for the ESP's own domain")
    dm = results(ar, "dmarc")
    check(dm and dm[0][0] == "fail", "DMARC fail: neither authenticated domain aligns with From")

    # relaxed alignment: a subdomain's signature aligns with the parent From
    sub = write(tmp, "sub.eml", sign(msg, "sel1", "mail.pass.test", KEYS["sub"]))
    ar = auth_check(sub, resolver, "198.51.100.7", "evil.test", "alice@pass.test")
    check(results(ar, "dkim")[0][0] == "pass" and results(ar, "dmarc")[0][0] == "pass",
          "DMARC relaxed alignment: d=mail.pass.test for From pass.test")

    # a resolver that never answers: every method temperror, in bounded time
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    ar = auth_check(signed, "127.0.0.1:%d" % silent.getsockname()[1], "192.0.2.10", "mx.pass.test",
                    "alice@pass.test", timeout_ms=1000)
    silent.close()
    print("   " + ar)
    check(results(ar, "spf")[0][0] == "temperror", "SPF temperror when DNS does not answer")
    check(results(ar, "dkim")[0][0] == "temperror", "DKIM temperror when DNS does not answer")
    check(results(ar, "dmarc")[0][0] == "temperror", "DMARC temperror when DNS does not answer")


def no_body_result(port, path):
    """The Authentication-Results bulwark-milter adds to the message at path
    when it gets no body chunk at all, which miltertest cannot do (it sends
    a dummy body): this speaks the milter protocol as an MTA would."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "milter"))
    from test_protocol import milter_packet, read_packet
    head = open(path, "rb").read().split(b"\r\n\r\n", 1)[0]
    headers = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1][1] += b"\r\n" + line
        else:
            name, _, value = line.partition(b":")
            headers.append([name, value])
    steps = [(b"O", struct.pack(">III", 6, 0x1FF, 0)), (b"C", b"client.example\0U"),
             (b"H", b"client.example\0"), (b"M", b"<alice@pass.test>\0"), (b"R", b"<bob@rcpt.test>\0")]
    steps += [(b"L", n + b"\0" + v + b"\0") for n, v in headers]
    steps.append((b"N", b""))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for cmd, data in steps:
            sock.sendall(milter_packet(cmd, data))
            if read_packet(sock) is None:
                return ""
        sock.sendall(milter_packet(b"E"))
        ar = ""
        while True:
            reply = read_packet(sock)
            if reply is None or reply[0] not in (b"h", b"i", b"m"):
                break
            # h: name\0value\0; i and m: an index first
            name, _, value = (reply[1] if reply[0] == b"h" else reply[1][4:]).partition(b"\0")
            if name == b"Authentication-Results":
                ar = value.rstrip(b"\0").decode(errors="replace")
        sock.sendall(milter_packet(b"Q"))
    print("   " + ar)
    return ar


def milter_checks(tmp, resolver):
    """The signed message and a tampered copy through bulwark-milter, in
    body chunks (miltertest speaks for the MTA), and a signed message
    without a body."""
    if not MILTER or not shutil.which("miltertest"):
        check(False, "bulwark-milter and miltertest available")
        return
    msg = (b"From: Alice <alice@pass.test>\r\nTo: bob@rcpt.test\r\nSubject: hello\r\n"
           b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n")
    # three body chunks of 65,535 bytes and a partial one
    body = b"".join(b"line %06d of a long letter to Bob.\r\n" % i for i in range(6000))
    signed = write(tmp, "m-signed.eml", sign(msg + body, "sel1", "pass.test", KEYS["pass"]))
    tampered = write(tmp, "m-tampered.eml", open(signed, "rb").read().replace(b"line 004000", b"line 999999"))
    empty = write(tmp, "m-empty.eml", sign(msg, "sel1", "pass.test", KEYS["pass"]))
    port = free_port(socket.SOCK_STREAM)
    conf = write(tmp, "milter.conf", ("[milter]\nauthserv_id = mx.test\nresolver = %s\n"
                                      "dns_timeout_ms = 2000\nworkers = 1\n" % resolver).encode())
    log = open(os.path.join(tmp, "milter.log"), "w")
    spec = "inet:%d@127.0.0.1" % port
    proc = subprocess.Popen([MILTER, "--foreground", "--config", conf, "--socket", spec], stdout=log,
                            stderr=log)
    try:
        lib = os.path.join(os.path.dirname(HERE), "milter", "lib.lua")
        r = subprocess.run(["miltertest", "-D", "SOCKET=" + spec, "-D", "LIB=" + lib, "-D", "AUTHSERV=mx.test",
                            "-D", "SIGNED=" + signed, "-D", "TAMPERED=" + tampered,
                            "-s", os.path.join(HERE, "milter_dkim.lua")],
                           capture_output=True, text=True, timeout=120)
        sys.stdout.write(r.stdout)
        for line in r.stdout.splitlines():
            if line.startswith("ok: "):
                check(True, line[4:])
        check(r.returncode == 0 and "FAIL" not in r.stdout and r.stdout.count("ok: ") == 2,
              "the milter's DKIM checks in miltertest all ran and passed")
        d = results(no_body_result(port, empty), "dkim")
        check(d and d[0][0] == "pass" and d[0][1].get("header.d") == "pass.test",
              "milter: DKIM pass on a message without a body chunk")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = open(os.path.join(tmp, "milter.log")).read()
    check("ERROR: AddressSanitizer" not in text and "runtime error:" not in text, "milter: no sanitizer report")


def python_dkim(data, res):
    """python3-dkim's verdict per signature: 'pass' or 'fail'."""
    def dnsfunc(name, timeout=5):
        try:
            ans = res.resolve(name.decode().rstrip("."), "TXT")
        except Exception:
            return None
        return b"".join(b"".join(r.strings) for r in ans)
    d = dkim.DKIM(data)
    n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    out = []
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception:
            ok = False
        out.append("pass" if ok else "fail")
    return out


def corpus_checks(resolver, res):
    dirs = [os.path.join(CORPORA, "spamassassin", "dkim"), os.path.join(CORPORA, "mimekit", "dkim")]
    agree = disagree = 0
    counts = {}
    for d in dirs:
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if not os.path.isfile(path) or not (name.endswith(".msg") or name.endswith(".eml")):
                continue
            data = open(path, "rb").read()
            if b"dkim-signature:" not in data.lower():
                continue
            ours = [r for r, _ in results(auth_check(path, resolver), "dkim")]
            theirs = python_dkim(data, res)
            # python3-dkim says only pass or fail; ours fail, permerror,
            # neutral and temperror are all "did not verify"
            mine = ["pass" if r == "pass" else "fail" for r in ours]
            same = mine == theirs
            agree += same
            disagree += not same
            for r in ours:
                counts[r] = counts.get(r, 0) + 1
            if not same or "pass" in mine:
                print("   %-60s libopendkim=%s python3-dkim=%s" % (os.path.relpath(path, CORPORA), ours, theirs))
    print("   corpora: %d messages agree, %d disagree; libopendkim results %s" % (agree, disagree, counts))
    check(agree >= 30, "libopendkim and python3-dkim agree on the DKIM corpora")
    check(disagree == 0, "no disagreement between libopendkim and python3-dkim")
    check(counts.get("pass", 0) >= 2, "corpus messages whose keys ship with the corpus verify")


KEYS = {}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        records = [("pass.test", "v=spf1 ip4:192.0.2.10 -all"),
                   ("soft.test", "v=spf1 ~all"),
                   ("bulk.test", "v=spf1 ip4:203.0.113.0/24 -all"),
                   ("_dmarc.pass.test", "v=DMARC1; p=reject; adkim=r; aspf=r")]
        for name, sel, dom in [("pass", "sel1", "pass.test"), ("bulk", "esp", "bulk.test"),
                               ("sub", "sel1", "mail.pass.test")]:
            KEYS[name], pub = make_key(tmp, name)
            records.append(("%s._domainkey.%s" % (sel, dom), "v=DKIM1; k=rsa; p=" + pub))
        records += list(corpus_keys().items())
        proc, port, res = start_unbound(tmp, records)
        try:
            resolver = "127.0.0.1:%d" % port
            live_checks(tmp, resolver)
            milter_checks(tmp, resolver)
            corpus_checks(resolver, res)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
