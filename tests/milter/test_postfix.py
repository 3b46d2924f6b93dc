#!/usr/bin/env python3
"""bulwark-milter end to end in a real Postfix (private instance on
127.0.0.1, postfix_instance.py), with mail sent by swaks:

- a tracked newsletter is delivered sanitized: the X-Bulwark-* headers and
  our Authentication-Results are there, the delivered copy is valid MIME,
  reads the same, and scans again with no on_open resource;
- a clean message is delivered with its body byte-identical;
- a phishing message is rejected (swaks sees 550) or, for a recipient in a
  holding group, held (postqueue -j shows it in the hold queue);
- a worker crash tempfails the message (451), and so does a milter that is
  SIGKILLed (milter_default_action = tempfail): once the milter is back,
  the same message goes through. Nothing is lost.

usage: test_postfix.py BULWARK_MILTER BULWARK SAMPLES_DIR
Exit status 77 (skipped) without root or Postfix."""
import email
import email.policy
import html.parser
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postfix_instance import PrivatePostfix, can_run, free_port, swaks  # noqa: E402

CRASH_MARKER = "bulwark-test-crash-marker"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def milter_config(dns_port, metrics_port):
    return f"""[milter]
metrics = 127.0.0.1:{metrics_port}
authserv_id = mx.test.example
resolver = 127.0.0.1:{dns_port}
dns_timeout_ms = 200
default_action = tempfail
log = stderr
user = nobody

[actions]
clean = headers, sanitize
suspicious = headers, sanitize
malicious = reject
reject_text = Rejected: impersonation

[group:hold]
recipients = holdme@parliament.example
malicious = quarantine, headers
"""


class Milter:
    def __init__(self, exe, config, port, log_path, env):
        self.args = [exe, "--foreground", "--config", config, "--socket", f"inet:{port}@127.0.0.1"]
        self.port, self.log_path, self.env = port, log_path, env
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("bulwark-milter did not start")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.log.close()


class TextOf(html.parser.HTMLParser):
    """What a reader sees of an HTML part: its text, white space collapsed."""

    def __init__(self):
        super().__init__()
        self.words, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "head")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "head") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.words += data.split()


def reading(data):
    """The message as read: per text part, its type and text."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    out = []
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        text = part.get_content()
        if part.get_content_subtype() == "html":
            p = TextOf()
            p.feed(text)
            text = " ".join(p.words)
        out.append((part.get_content_type(), text.replace("\r\n", "\n").strip()))
    return out


def mime_defects(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return [f"{type(d).__name__}" for part in msg.walk() for d in part.defects]


def wait_delivered(pf, test_id, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = pf.find_delivered("X-Test-Id", test_id)
        if data is not None:
            return data
        time.sleep(0.25)
    return None


def body_of(data):
    data = data.replace(b"\r\n", b"\n")
    return data.split(b"\n\n", 1)[1]


def main():
    why = can_run()
    if why:
        print(f"skipped: {why}")
        return 77
    milter_exe, bulwark, samples = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
    outlets = os.path.join(os.path.dirname(samples), "data", "news-outlets.conf")
    with tempfile.TemporaryDirectory(prefix="bw-postfix-") as tmp:
        os.chmod(tmp, 0o755)  # Postfix's own user walks through it
        config = os.path.join(tmp, "bulwark.conf")
        with open(config, "w") as f:
            metrics_port = free_port()
            f.write(milter_config(free_port(), metrics_port))
        mport = free_port()
        env = dict(os.environ, BULWARK_OUTLETS=outlets, BULWARK_TEST_CRASH_MARKER=CRASH_MARKER)
        milter = Milter(milter_exe, config, mport, os.path.join(tmp, "milter.log"), env)
        pf = PrivatePostfix(os.path.join(tmp, "postfix"), f"inet:127.0.0.1:{mport}", "tempfail")
        milter.start()
        pf.start()
        try:
            run_cases(pf, milter, bulwark, samples, env)
            check_metrics(metrics_port)
        finally:
            pf.stop()
            milter.stop()
        log = open(milter.log_path).read()
        check(milter.proc.returncode == 0, f"milter stopped cleanly on SIGTERM (status {milter.proc.returncode})")
        check("Sanitizer" not in log and "runtime error:" not in log, "no sanitizer report from the milter")
        if failures:
            print("--- postfix log\n" + pf.log_text()[-6000:])
            print("--- milter log\n" + log[-6000:])
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} failure(s)")
    return 1 if failures else 0


def check_metrics(port):
    """The Prometheus page of the restarted milter: it has seen one clean
    message since the restart (the retried one)."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    check(values.get('bulwark_milter_messages_total{verdict="clean"}') == 1,
          "metrics: 1 clean message since the restart")
    check(values.get('bulwark_milter_actions_total{action="sanitize"}') == 1, "metrics: 1 sanitize action")
    check(values.get("bulwark_milter_scan_seconds_count") == 1 and
          values.get('bulwark_milter_scan_seconds_bucket{le="+Inf"}') == 1, "metrics: latency histogram")
    check('bulwark_milter_errors_total{kind="scan"}' in values, "metrics: error counters")


def run_cases(pf, milter, bulwark, samples, env):
    newsletter = os.path.join(samples, "tracked-newsletter.eml")
    plain = os.path.join(samples, "plain.eml")
    phish = os.path.join(samples, "news-impersonation.eml")

    rc, out = swaks(pf.port, newsletter, "reader@parliament.example", "newsletter")
    check(rc == 0, "tracked newsletter accepted")
    data = wait_delivered(pf, "newsletter")
    check(data is not None, "tracked newsletter delivered")
    if data is not None:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        for h in ("X-Bulwark-Verdict", "X-Bulwark-Score", "X-Bulwark-Findings", "X-Bulwark-Sanitized"):
            check(msg.get(h) is not None, f"delivered newsletter has {h}: {msg.get(h)}")
        check((msg.get("Authentication-Results") or "").startswith("mx.test.example;"),
              "our Authentication-Results on the delivered newsletter")
        check("TRACKING_PIXEL" in (msg.get("X-Bulwark-Findings") or ""), "findings name the tracking pixel")
        check(mime_defects(data) == [], f"delivered newsletter is valid MIME {mime_defects(data)}")
        with open(newsletter, "rb") as f:
            original = f.read()
        read = reading(original)
        check(any(t for _, t in read) and reading(data) == read,
              "delivered newsletter reads the same as the original")
        scan = subprocess.run([bulwark, "scan", "--json", "-"], input=data, capture_output=True, env=env)
        report = json.loads(scan.stdout.decode().splitlines()[0])
        on_open = [r["url"] for r in report.get("remote_resources", []) if r.get("on_open")]
        check(on_open == [], f"re-scan of the delivered copy: no on_open resource {on_open}")
        orig_scan = subprocess.run([bulwark, "scan", "--json", newsletter], capture_output=True, env=env)
        orig_on_open = [r for r in json.loads(orig_scan.stdout.decode().splitlines()[0]).get("remote_resources", [])
                        if r.get("on_open")]
        check(len(orig_on_open) > 0, f"the original had {len(orig_on_open)} on_open resources")

    # swaks ends DATA with CRLF "." CRLF after the text, adding a line break
    # of its own: sent without its last one, the file arrives as it is.
    plain_sent = os.path.join(pf.root, "plain-sent.eml")
    with open(plain, "rb") as f, open(plain_sent, "wb") as out_f:
        out_f.write(f.read().rstrip(b"\r\n"))
    rc, out = swaks(pf.port, plain_sent, "clerk@parliament.example", "plain")
    check(rc == 0, "plain message accepted")
    data = wait_delivered(pf, "plain")
    check(data is not None, "plain message delivered")
    if data is not None:
        with open(plain, "rb") as f:
            check(body_of(data) == body_of(f.read()), "plain message body byte-identical")
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        check(msg.get("X-Bulwark-Verdict") == "clean", "plain message X-Bulwark-Verdict: clean")
        check(msg.get("X-Bulwark-Sanitized") is not None and "nothing remote" in msg.get("X-Bulwark-Sanitized"),
              "plain message: sanitizer found nothing remote")

    # One header of 80 KiB (folded into SMTP-sized lines, below Postfix's
    # header_size_limit): scanned and delivered, not tempfailed.
    long_header = os.path.join(pf.root, "long-header.eml")
    with open(plain, "rb") as f, open(long_header, "wb") as out_f:
        out_f.write(b"X-Long: " + b"\r\n ".join([b"x" * 900] * 91) + b"\r\n" + f.read())
    rc, out = swaks(pf.port, long_header, "clerk@parliament.example", "long-header")
    check(rc == 0, "message with an 80 KiB header accepted")
    data = wait_delivered(pf, "long-header")
    check(data is not None and email.message_from_bytes(data).get("X-Bulwark-Verdict") == "clean",
          "message with an 80 KiB header scanned (X-Bulwark-Verdict: clean)")

    rc, out = swaks(pf.port, phish, "clerk@parliament.example", "phish-reject")
    check(rc != 0 and "550 5.7.1 Rejected: impersonation" in out, "phishing message rejected with 550 5.7.1")

    rc, out = swaks(pf.port, phish, "holdme@parliament.example", "phish-hold")
    check(rc == 0, "phishing message to the holding group accepted for hold")
    held = []
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        held = [e for e in pf.queue_entries() if e.get("queue_name") == "hold"]
        time.sleep(0.25)
    check(len(held) == 1 and held[0]["recipients"][0]["address"] == "holdme@parliament.example",
          f"phishing message held (postqueue -j: {held})")
    check(pf.find_delivered("X-Test-Id", "phish-reject") is None and
          pf.find_delivered("X-Test-Id", "phish-hold") is None, "no phishing message delivered")

    crash_copy = os.path.join(pf.root, "crash.eml")
    with open(plain, "rb") as f, open(crash_copy, "wb") as out_f:
        out_f.write(b"X-Crash: " + CRASH_MARKER.encode() + b"\n" + f.read())
    rc, out = swaks(pf.port, crash_copy, "clerk@parliament.example", "crash")
    check(rc != 0 and "451 4.7.1" in out, "worker crash: the message is tempfailed (451 4.7.1)")
    rc, out = swaks(pf.port, plain, "clerk@parliament.example", "after-crash")
    check(rc == 0 and wait_delivered(pf, "after-crash") is not None, "next message after a worker crash delivered")

    milter.stop(signal.SIGKILL)
    rc, out = swaks(pf.port, plain, "clerk@parliament.example", "milter-down")
    check(rc != 0 and " 451 " in out, "milter SIGKILLed: Postfix tempfails (milter_default_action)")
    milter.start()
    rc, out = swaks(pf.port, plain, "clerk@parliament.example", "milter-down")
    check(rc == 0 and wait_delivered(pf, "milter-down") is not None,
          "milter restarted: the retried message is delivered")


if __name__ == "__main__":
    sys.exit(main())
