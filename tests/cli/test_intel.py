#!/usr/bin/env python3
"""End-to-end checks of bulwark intel import/stats/lookup and of INTEL_MATCH
in bulwark scan: the shared STIX examples, a MISP feed, a CSV and a
warninglist written here, then a message built here.

Usage: test_intel.py BULWARK SHARED_INTEL_DIR
"""
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest
from email.message import EmailMessage

BULWARK = INTEL = None
ATTACHMENT = b"harmless bulwark intel test attachment\n"


def run(*args, env=None):
    return subprocess.run([BULWARK, *args], capture_output=True, timeout=300, env=env)


class Intel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        # the default path: $XDG_DATA_HOME/bulwark/intel.db
        cls.env = dict(os.environ, XDG_DATA_HOME=os.path.join(t, "xdg"))
        cls.db = os.path.join(t, "xdg", "bulwark", "intel.db")
        feed = os.path.join(t, "feed")
        os.mkdir(feed)
        uuid = "5f0c0000-0000-4000-8000-00000000cafe"
        with open(os.path.join(feed, "manifest.json"), "w") as f:
            json.dump({uuid: {"info": "Test phishing wave", "timestamp": "1700000000"}}, f)
        with open(os.path.join(feed, uuid + ".json"), "w") as f:
            json.dump({"Event": {
                "uuid": uuid, "info": "Test phishing wave", "Orgc": {"name": "Partner CERT"},
                "Tag": [{"name": "tlp:amber"}],
                "Attribute": [
                    {"uuid": "b1", "type": "email-src", "value": "clerk@phish-parliament.example",
                     "to_ids": True, "timestamp": "1700000000"},
                    {"uuid": "b2", "type": "email-subject", "value": "Urgent: committee papers",
                     "to_ids": True, "timestamp": "1700000000"},
                ]}}, f)
        cls.csv = os.path.join(t, "iocs.csv")
        with open(cls.csv, "w") as f:
            f.write("type,value\n")
            f.write("sha256,%s\n" % hashlib.sha256(ATTACHMENT).hexdigest())
            f.write("domain,cdn.partner-good.example\n")
        cls.warn = os.path.join(t, "warninglist.json")
        with open(cls.warn, "w") as f:
            json.dump({"name": "Test known good", "version": 1, "type": "hostname",
                       "list": ["partner-good.example"]}, f)
        cls.stix = sorted(glob.glob(os.path.join(INTEL, "stix-examples", "*.json")) +
                          glob.glob(os.path.join(INTEL, "stix-examples", "threat-reports", "*.json")))
        cls.imported = run("intel", "import", *cls.stix, feed, cls.csv, cls.warn, env=cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_import_summary(self):
        p = self.imported
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        out = p.stdout.decode()
        self.assertTrue(os.path.exists(self.db), "not at the default path")
        self.assertTrue(os.path.exists(self.db + ".idx"))
        self.assertIn("poisonivy.json: stix: 25 indicators", out)
        # unevaluable patterns are listed, not dropped
        self.assertIn("unsupported: indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7: "
                      "email-message:subject MATCHES", out)
        self.assertIn("feed: misp-feed: 2 indicators, 2 observables", out)
        self.assertIn("iocs.csv: list: 2 indicators", out)
        self.assertIn("warninglist.json: warninglist: 1 indicators, 1 observables", out)

    def test_reimport_is_idempotent(self):
        before = run("intel", "stats", env=self.env).stdout
        p = run("intel", "import", *self.stix, self.csv, env=self.env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn(b"poisonivy.json: stix: 0 indicators, 0 observables, 25 duplicates skipped", p.stdout)
        self.assertEqual(run("intel", "stats", env=self.env).stdout, before)

    def test_malformed_file_is_named_with_position(self):
        bad = os.path.join(self.tmp.name, "bad.json")
        with open(bad, "w") as f:
            f.write('{"type": "bundle", "objects": [\n  {"type": "indicator",,}]}\n')
        p = run("intel", "import", "--db", os.path.join(self.tmp.name, "other.db"), bad)
        self.assertEqual(p.returncode, 2)
        self.assertIn(bad.encode() + b": line 2, column", p.stderr)
        self.assertIn(b"nothing imported", p.stderr)

    def test_stats_and_lookup(self):
        p = run("intel", "stats", env=self.env)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn(b"memory-mapped index", p.stdout)
        p = run("intel", "lookup", "sub.apple.cmdnetview.com", env=self.env)
        self.assertEqual(p.returncode, 1, p.stderr.decode())
        self.assertIn(b"domain apple.cmdnetview.com", p.stdout)
        self.assertIn(b"[poisonivy.json]", p.stdout)
        p = run("intel", "lookup", "112.65.4.4", env=self.env)  # apt1.json 112.64.0.0/15
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"112.64.0.0/15", p.stdout)
        p = run("intel", "lookup", "harmless.example", env=self.env)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"no active indicator", p.stdout)

    def test_lookup_invalid_dotted_quad(self):
        p = run("intel", "lookup", "999.1.1.1", env=self.env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'"999.1.1.1" is not a valid IP address', p.stderr)
        self.assertNotIn(b"filename", p.stdout)

    def test_list_cidrs_with_one_network_address(self):
        db = os.path.join(self.tmp.name, "cidr.db")
        cidr = os.path.join(self.tmp.name, "cidr2.txt")
        with open(cidr, "w") as f:
            f.write("198.19.0.0/24\n198.19.0.0/16\n")
        p = run("intel", "import", "--db", db, cidr)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn(b"2 indicators, 2 observables, 0 duplicates skipped", p.stdout)
        p = run("intel", "lookup", "--db", db, "198.19.7.7")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"198.19.0.0/16", p.stdout)

    def test_every_unsupported_construct_listed(self):
        db = os.path.join(self.tmp.name, "unsup.db")
        b = os.path.join(self.tmp.name, "unsup.json")
        with open(b, "w") as f:
            json.dump({"type": "indicator", "id": "indicator--u", "modified": "2024-01-01T00:00:00Z",
                       "pattern": "[domain-name:value LIKE '%.bad'] OR [process:name = 'x.exe'] OR "
                                  "[domain-name:value = 'partial-test.example']"}, f)
        p = run("intel", "import", "--db", db, b)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        self.assertIn(b"indicator--u: partly: domain-name:value LIKE; process:name = "
                      b"(2 of 3 alternatives not evaluable)", p.stdout)

    def scan(self, *extra):
        m = EmailMessage()
        m["Received"] = "from mx1.inside (mx1.inside [10.0.0.5]) by mx2.inside; Mon, 1 Jan 2024 00:00:00 +0000"
        m["Received"] = ("from relay.far (relay.far [60.10.1.120]) by mx1.inside; "
                         "Mon, 1 Jan 2024 00:00:00 +0000")
        m["From"] = "Committee Clerk <clerk@phish-parliament.example>"
        m["To"] = "member@parliament.example"
        m["Subject"] = "Urgent: committee papers"
        m.set_content("See the papers.")
        m.add_alternative('<p><a href="https://www.apple.cmdnetview.com/papers">papers</a>'
                          '<img src="https://cdn.partner-good.example/logo.png"></p>', subtype="html")
        m.add_attachment(ATTACHMENT, maintype="application", subtype="octet-stream", filename="papers.bin")
        path = os.path.join(self.tmp.name, "msg.eml")
        with open(path, "wb") as f:
            f.write(bytes(m))
        p = run("scan", "--json", *extra, path, env=self.env)
        self.assertIn(p.returncode, (0, 1), p.stderr.decode())
        return json.loads(p.stdout)

    def test_scan_intel_match_evidence(self):
        r = self.scan("--db", self.db)
        self.assertEqual(r["verdict"], "malicious")
        found = [f for f in r["findings"] if f["id"] == "INTEL_MATCH"]
        by_where = {}
        for f in found:
            for mt in f["evidence"]["matches"]:
                by_where.setdefault(mt["where"], []).append((f, mt))

        f, mt = by_where["link 1 host"][0]
        self.assertEqual(mt["seen"], "www.apple.cmdnetview.com")
        self.assertEqual(mt["indicator_value"], "apple.cmdnetview.com")
        self.assertEqual(f["evidence"]["source"], "poisonivy.json")
        self.assertTrue(f["evidence"]["stix_id"].startswith("indicator--"))
        self.assertIsInstance(f["evidence"]["indicator_id"], int)
        self.assertEqual(f["severity"], "high")
        self.assertIn("menuPass", [c["name"] for c in f["evidence"]["campaigns"]])

        hop = [w for w in by_where if w.startswith("Received hop 2")]
        self.assertEqual(len(hop), 1, by_where.keys())
        self.assertIn("first external hop", hop[0])
        self.assertFalse([w for w in by_where if w.startswith("Received hop 1")])  # internal

        f, mt = by_where["attachment 3 papers.bin"][0]
        self.assertEqual(mt["type"], "sha256")
        self.assertEqual(f["evidence"]["source"], "iocs.csv")

        # the MISP feed: address and subject, TLP and organisation from the event
        f, mt = by_where["From"][0]
        self.assertEqual(f["evidence"]["tlp"], "amber")
        self.assertEqual(f["evidence"]["created_by"], "Partner CERT")
        self.assertEqual(f["evidence"]["source"], "feed")
        self.assertIn("Subject", by_where)

        # the warninglist downgrades and says so
        f, mt = by_where["resource 1 (img) host"][0]
        self.assertEqual(f["severity"], "low")
        self.assertTrue(f["evidence"]["downgraded"])
        self.assertEqual(mt["warninglist"], "Test known good")

    def test_scan_uses_default_database(self):
        r = self.scan()
        self.assertTrue([f for f in r["findings"] if f["id"] == "INTEL_MATCH"])

    def test_scan_with_missing_db_fails(self):
        p = run("scan", "--db", os.path.join(self.tmp.name, "missing", "x.db"), "-", env=self.env)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"x.db", p.stderr)


if __name__ == "__main__":
    BULWARK, INTEL = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
