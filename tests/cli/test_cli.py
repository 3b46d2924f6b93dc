#!/usr/bin/env python3
"""End-to-end checks of the bulwark command: input forms, the JSON Lines
contract (../shared/docs/report-contract.md), exit statuses and sanitize.

Usage: test_cli.py BULWARK SAMPLES_DIR TRACKER_LISTS_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

BULWARK = SAMPLES = TRACKERS = None


def run(*args, stdin=None):
    return subprocess.run([BULWARK, *args], input=stdin, capture_output=True, timeout=120)


def scan_json(*paths, extra=()):
    p = run("scan", "--json", "--trackers", TRACKERS, *extra, *paths)
    assert p.returncode in (0, 1), p.stderr.decode()
    return p, [json.loads(line) for line in p.stdout.splitlines()]


class InputForms(unittest.TestCase):
    def test_directory_recursive_in_sorted_order(self):
        _, reports = scan_json(SAMPLES)
        sources = [os.path.relpath(r["source"], SAMPLES) for r in reports]
        self.assertEqual(sources, [
            "committee.mbox:1", "committee.mbox:2",
            "maildir/cur/1700000000.M1P1.host:2,S", "maildir/new/1700000001.M2P2.host",
            "news-impersonation.eml", "plain.eml", "tracked-newsletter.eml"])

    def test_mbox_split_and_from_unquoting(self):
        _, reports = scan_json(os.path.join(SAMPLES, "committee.mbox"))
        self.assertEqual([r["subject"] for r in reports], ["Minutes", "Résumé of the briefing"])
        att = reports[1]["attachments"]
        self.assertEqual(len(att), 1)
        self.assertEqual(att[0]["filename"], "résumé.pdf")  # RFC 2231
        self.assertEqual(att[0]["content_type"], "application/pdf")
        self.assertEqual(att[0]["detected_type"], "application/pdf")  # libmagic
        self.assertEqual(len(att[0]["sha256"]), 64)

    def test_stdin(self):
        with open(os.path.join(SAMPLES, "plain.eml"), "rb") as f:
            p = run("scan", "--json", "-", stdin=f.read())
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["source"], "-")
        self.assertEqual(r["message_id"], "agenda-1119@parliament.example")
        self.assertEqual(r["from"], {"name": "Clerk of the Committee", "address": "clerk@parliament.example"})

    def test_forwarded_message_is_scanned(self):
        _, reports = scan_json(os.path.join(SAMPLES, "maildir"))
        fwd = reports[1]
        urls = [r["url"] for r in fwd["remote_resources"]]
        self.assertIn("https://summit.example/t/open.gif", urls)

    def test_unreadable_path_is_exit_2(self):
        p = run("scan", "/nonexistent/mail")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"/nonexistent/mail", p.stderr)

    def test_usage_error_is_exit_2(self):
        self.assertEqual(run("scan").returncode, 2)
        self.assertEqual(run("frobnicate").returncode, 2)

    def test_garbage_gets_a_report_with_errors(self):
        p = run("scan", "--json", "-", stdin=b"")
        r = json.loads(p.stdout)
        self.assertTrue(r["errors"])
        self.assertEqual(r["verdict"], "clean")


class Tracking(unittest.TestCase):
    def setUp(self):
        _, reports = scan_json(os.path.join(SAMPLES, "tracked-newsletter.eml"))
        self.r = reports[0]

    def test_newsletter_stays_clean_but_trackers_are_reported(self):
        self.assertEqual(self.r["verdict"], "clean")
        ids = {f["id"] for f in self.r["findings"]}
        self.assertTrue({"TRACKING_PIXEL", "TRACKING_RECIPIENT_TOKEN", "REMOTE_CONTENT"} <= ids, ids)
        for f in self.r["findings"]:
            if f["id"].startswith("TRACKING_"):
                self.assertIn("T1598.003", f["attack"])
                self.assertIn("IP address", f["evidence"]["exposure"])

    def test_resources_and_verdicts(self):
        res = {r["url"]: r for r in self.r["remote_resources"]}
        pixel = res["https://open.newsletter.example/wf/open?upn=aGVsbG8td29ybGQtMTIzNDU2Nzg5MGFiY2RlZg"]
        self.assertTrue(pixel["on_open"])
        self.assertIn("pixel", pixel["tracker"]["kinds"])
        self.assertIn("known-tracker", pixel["tracker"]["kinds"])  # SendGrid /wf/open
        hidden = [r for u, r in res.items() if u.startswith("https://pixel.adtrack.example/")][0]
        self.assertIn("recipient-token", hidden["tracker"]["kinds"])
        self.assertEqual(hidden["tracker"]["token_form"], "md5")
        # The td has no CSS background-image, so its background= attribute loads;
        # the mobile-only CSS background loads on phones.
        self.assertTrue(res["https://cdn.civicweekly.example/hero.jpg"]["on_open"])
        self.assertTrue(res["https://cdn.civicweekly.example/hero-mobile.jpg"]["on_open"])
        self.assertIsNone(res["https://cdn.civicweekly.example/logo.png"]["tracker"])

    def test_link_unwrapped(self):
        link = [l for l in self.r["links"] if "click.newsletter.example" in l["url"]][0]
        self.assertEqual(link["unwrapped"], "https://civicweekly.example/2026/46")
        self.assertEqual(link["text"], "Read the full story")


class Sanitize(unittest.TestCase):
    def test_sanitized_message_loads_nothing(self):
        src = os.path.join(SAMPLES, "tracked-newsletter.eml")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "clean.eml")
            p = run("sanitize", src, "-o", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, "rb") as f:
                data = f.read()
            self.assertIn(b"X-Bulwark-Sanitized: removed", data)
            _, reports = scan_json(out)
            r = reports[0]
            self.assertEqual([x for x in r["remote_resources"] if x["on_open"]], [])
            self.assertEqual(r["subject"], "This week in the chamber — budget vote")
            # Links stay clickable; the click tracker is unwrapped.
            self.assertIn("https://civicweekly.example/2026/46", [l["url"] for l in r["links"]])
            p = run("html", out)
            html = json.loads(p.stdout)["parts"][0]
            self.assertIn("The budget vote, explained.", html)
            self.assertIn('alt="Civic Weekly"', html)

    def test_sanitize_refuses_missing_input(self):
        self.assertEqual(run("sanitize", "/nonexistent").returncode, 2)


if __name__ == "__main__":
    BULWARK, SAMPLES, TRACKERS = sys.argv[1:4]
    del sys.argv[1:4]
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
