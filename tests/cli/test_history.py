#!/usr/bin/env python3
"""bulwark scan --history / [history] db: FIRST_CONTACT end to end. Re-scanning
an archive gives the same answers; a path that is not a history store is an
error (exit 2).

Usage: test_history.py BULWARK
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

BULWARK = None

MBOX = b"""From MAILER-DAEMON Mon Jan  1 10:00:00 2024
From: Ann <ann@news.example>
To: r@parl.example
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <one@news.example>

first

From MAILER-DAEMON Tue Jan  2 10:00:00 2024
From: ann@news.example
To: r@parl.example
Date: Tue, 02 Jan 2024 10:00:00 +0000
Message-ID: <two@news.example>

second

From MAILER-DAEMON Wed Jan  3 10:00:00 2024
From: bob@news.example
To: r@parl.example, s@parl.example
Date: Wed, 03 Jan 2024 10:00:00 +0000
Message-ID: <three@news.example>

third
"""


def scan(*args):
    p = subprocess.run([BULWARK, "scan", "--json", *args], capture_output=True, timeout=120)
    return p, [json.loads(line) for line in p.stdout.splitlines()]


def first_contacts(reports):
    out = []
    for r in reports:
        f = [x for x in r["findings"] if x["id"] == "FIRST_CONTACT"]
        out.append((f[0]["severity"], [x["recipient"] for x in f[0]["evidence"]["recipients"]])
                   if f else None)
    return out


class History(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.mbox = os.path.join(self.dir.name, "archive.mbox")
        with open(self.mbox, "wb") as f:
            f.write(MBOX)
        self.db = os.path.join(self.dir.name, "history.db")

    def tearDown(self):
        self.dir.cleanup()

    def test_first_contact_and_rescan(self):
        expected = [("low", ["r@parl.example"]), None, ("low", ["r@parl.example", "s@parl.example"])]
        for _ in range(2):
            p, reports = scan("--history", self.db, self.mbox)
            self.assertIn(p.returncode, (0, 1), p.stderr)
            self.assertEqual(first_contacts(reports), expected)
        # bob -> r alone: a new sender at a domain r knows is only info
        p, reports = scan("--history", self.db, "--recipient", "r@parl.example", self.mbox)
        f = [x for x in reports[2]["findings"] if x["id"] == "FIRST_CONTACT"][0]
        self.assertEqual(f["severity"], "info")
        self.assertEqual(f["evidence"]["recipients"][0]["domain_messages"], 2)
        db = sqlite3.connect(self.db)
        counts = db.execute("SELECT sender, recipient, count FROM contacts ORDER BY 1, 2").fetchall()
        db.close()
        self.assertEqual(counts, [("ann@news.example", "r@parl.example", 2),
                                  ("bob@news.example", "r@parl.example", 1),
                                  ("bob@news.example", "s@parl.example", 1)])

    def test_config_key_and_off_by_default(self):
        _, reports = scan(self.mbox)
        self.assertEqual(first_contacts(reports), [None, None, None])
        conf = os.path.join(self.dir.name, "bulwark.conf")
        with open(conf, "w") as f:
            f.write("[history]\ndb = %s\n" % self.db)
        _, reports = scan("--config", conf, self.mbox)
        self.assertEqual(first_contacts(reports)[1], None)
        self.assertIsNotNone(first_contacts(reports)[0])
        self.assertTrue(os.path.exists(self.db))

    def test_not_a_history_store_is_exit_2(self):
        db = sqlite3.connect(self.db)
        db.execute("CREATE TABLE other(x)")
        db.commit()
        db.close()
        p, _ = scan("--history", self.db, self.mbox)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"not a Bulwark history store", p.stderr)


if __name__ == "__main__":
    BULWARK = sys.argv[1]
    del sys.argv[1]
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
