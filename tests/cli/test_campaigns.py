#!/usr/bin/env python3
"""End-to-end checks of the scan store and what is built on it: scan --store
(idempotent), campaigns, export --stix (valid against the OASIS STIX 2.1
schemas, stable, recipients only when configured, re-imported through
bulwark intel import without loss) and attribute (ranking and wording).

Usage: test_campaigns.py BULWARK STIX_SCHEMA_DIR
"""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unittest

BULWARK = SCHEMAS = None


def run(*args, check=True):
    p = subprocess.run([BULWARK, *args], capture_output=True, timeout=300)
    if check and p.returncode not in (0, 1):
        raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr.decode()}")
    return p


def message(mid, rp, frm, to, subject, body, received=None, link=None):
    lines = [f"Return-Path: <{rp}>"]
    if received:
        lines.append(f"Received: {received}")
    lines += [f"From: <{frm}>", f"To: <{to}>", f"Subject: {subject}", f"Message-ID: <{mid}>",
              "Date: Tue, 02 Jan 2024 09:00:00 +0000", "Content-Type: text/plain; charset=utf-8", "", body]
    if link:
        lines.append(link)
    return "\r\n".join(lines) + "\r\n"


RELAY = ("from mx.evil-sender.example (mx.evil-sender.example [198.51.100.7]) by mx.parliament.example "
         "(Postfix) with ESMTPS id 4A; Tue, 02 Jan 2024 09:00:01 +0000")
PARCEL = ("Your parcel {n} is held at the depot because the customs fee was not paid. Pay the fee of 2 euros "
          "today using the form on our page or the parcel returns to the sender after seven days.")


def write_corpus(root):
    """Campaign X: one sending domain, relay and landing domain. Campaign Y:
    one parcel text from freemail senders. Two unrelated messages."""
    os.makedirs(root)
    for i in range(4):
        with open(os.path.join(root, f"x{i}.eml"), "w") as f:
            f.write(message(f"x{i}@evil-sender.example", f"bounce{i}@evil-sender.example",
                            f"it-desk{i}@evil-sender.example", f"member{i}@parliament.example",
                            f"Mailbox notice number {i}", f"Please confirm your mailbox, reference {i}.",
                            RELAY, f"https://login.evil-landing.example/verify?u={i}"))
    for i in range(3):
        with open(os.path.join(root, f"y{i}.eml"), "w") as f:
            f.write(message(f"y{i}@mail.gmail.com", f"courier{i}@gmail.com", f"courier{i}@gmail.com",
                            f"clerk{i}@parliament.example", f"Parcel {i}", PARCEL.format(n=1000 + i)))
    for i, (dom, text) in enumerate([("choir.example", "Rehearsal moves to Thursday at seven in the hall."),
                                     ("library.example", "The books you asked for are ready at the desk.")]):
        with open(os.path.join(root, f"n{i}.eml"), "w") as f:
            f.write(message(f"n{i}@{dom}", f"info@{dom}", f"info@{dom}", "clerk0@parliament.example",
                            "Notice", text))


def schema_validator():
    """A validator for bundle.json whose $refs resolve to the local files."""
    by_id, by_path = {}, {}
    for d, _, files in os.walk(SCHEMAS):
        for name in files:
            if name.endswith(".json"):
                path = os.path.join(d, name)
                with open(path) as f:
                    s = json.load(f)
                by_id[s["$id"]] = s
                by_path[os.path.relpath(path, SCHEMAS)] = s
    import jsonschema
    cls = jsonschema.Draft202012Validator
    try:
        from referencing import Registry, Resource
        registry = Registry().with_resources((k, Resource.from_contents(v)) for k, v in by_id.items())
        make = lambda s: cls(s, registry=registry)
    except ImportError:  # jsonschema < 4.18 (Debian 12)
        make = lambda s: cls(s, resolver=jsonschema.RefResolver.from_schema(s, store=by_id))
    return make, by_path


class Campaigns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.corpus = os.path.join(cls.tmp.name, "mail")
        write_corpus(cls.corpus)
        cls.config = os.path.join(cls.tmp.name, "bulwark.conf")
        with open(cls.config, "w") as f:
            f.write("[institution]\nname = Example Parliament\nsector = government\n"
                    "[export]\ntlp = green\ninclude_recipients = true\n"
                    "[store]\ninclude_recipients = true\n")
        cls.store = os.path.join(cls.tmp.name, "store.db")
        run("scan", "--json", "--config", cls.config, "--store", cls.store, cls.corpus)
        p = run("campaigns", "--store", cls.store, "--json")
        cls.report = json.loads(p.stdout)
        cls.by_size = {c["messages"]: c for c in cls.report["campaigns"]}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def count(self, db, sql):
        with sqlite3.connect(db) as c:
            return c.execute(sql).fetchone()[0]

    def test_scan_again_adds_nothing(self):
        before = self.count(self.store, "SELECT count(*) FROM message")
        self.assertEqual(before, 9)
        run("scan", "--json", "--store", self.store, self.corpus)
        self.assertEqual(self.count(self.store, "SELECT count(*) FROM message"), before)
        self.assertEqual(self.count(self.store, "SELECT count(*) FROM message_feature"),
                         self.count(self.store, "SELECT count(*) FROM (SELECT DISTINCT * FROM message_feature)"))

    def test_campaigns_and_reasons(self):
        self.assertEqual(self.report["campaign_count"], 2)
        x, y = self.by_size[4], self.by_size[3]
        self.assertEqual(x["recipients"], 4)
        kinds = {r["feature"] for r in x["reasons"]}
        self.assertIn("return-path-domain", kinds)
        self.assertIn("relay-net", kinds)
        self.assertIn({"kind": "relay-net", "value": "198.51.100.0/24", "messages": 4}, x["indicators"])
        self.assertEqual([r["feature"] for r in y["reasons"]], ["body-simhash"])
        self.assertEqual(x["timeline"], [{"date": "2024-01-02", "messages": 4}])
        text = run("campaigns", "--store", self.store).stdout.decode()
        self.assertIn("same Return-Path domain (4 messages)", text)

    def test_show_members(self):
        cid = self.by_size[4]["id"]
        report = json.loads(run("campaigns", "--store", self.store, "--show", cid, "--json").stdout)
        self.assertEqual(report["campaign"], cid)
        self.assertEqual(report["count"], 4)
        self.assertEqual(sorted(m["message_id"] for m in report["messages"]),
                         [f"x{i}@evil-sender.example" for i in range(4)])
        text = run("campaigns", "--store", self.store, "--show", cid).stdout.decode()
        self.assertIn("x3@evil-sender.example", text)
        self.assertIn("4 messages", text)
        p = run("campaigns", "--store", self.store, "--show", "c-nosuchcampaign", check=False)
        self.assertEqual(p.returncode, 2)

    def test_read_commands_need_a_store(self):
        missing = os.path.join(self.tmp.name, "no-such-store.db")
        other = os.path.join(self.tmp.name, "other.db")
        with sqlite3.connect(other) as c:
            c.execute("CREATE TABLE t(x)")
        for path in (missing, other):
            for args in (["campaigns"], ["attribute", "c-x"], ["export", "--stix", "--since", "2024-01-01"]):
                p = run(*args, "--store", path, check=False)
                self.assertEqual(p.returncode, 2, (args, path))
                self.assertIn("does not exist" if path == missing else "not a Bulwark store", p.stderr.decode())
        self.assertFalse(os.path.exists(missing))
        with sqlite3.connect(other) as c:
            self.assertEqual([r[0] for r in c.execute("SELECT name FROM sqlite_master")], ["t"])

    def test_option_validation(self):
        p = run("campaigns", "--store", self.store, "--features", "return-path-domain,bogus", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn('"bogus"', p.stderr.decode())
        self.assertIn("body-simhash", p.stderr.decode())
        for bad in ("-5", "many", "3x", ""):
            p = run("campaigns", "--store", self.store, "--min-messages", bad, check=False)
            self.assertEqual(p.returncode, 2, bad)
        copy = os.path.join(self.tmp.name, "copy.db")  # regrouping rewrites the reasons
        with sqlite3.connect(self.store) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        p = run("campaigns", "--store", copy, "--min-messages", "4", "--json", "--features", "relay-net")
        self.assertEqual(json.loads(p.stdout)["campaign_count"], 1)

    def export(self, *extra, store=None, config=None):
        p = run("export", "--stix", "--store", store or self.store, "--config", config or self.config, *extra)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_stix_bundle_is_valid_and_stable(self):
        raw = self.export("--since", "2023-12-01")
        self.assertEqual(raw, self.export("--since", "2023-12-01"))
        bundle = json.loads(raw)
        make, by_path = schema_validator()
        errors = [e.message for e in make(by_path["common/bundle.json"]).iter_errors(bundle)]
        self.assertEqual(errors, [])
        types = {}
        for o in bundle["objects"]:
            types.setdefault(o["type"], []).append(o)
            for kind in ("sdos", "sros", "observables", "common"):
                path = f"{kind}/{o['type']}.json"
                if path in by_path:
                    self.assertEqual([e.message for e in make(by_path[path]).iter_errors(o)], [], o["id"])
                    break
        self.assertEqual(len(types["campaign"]), 2)
        self.assertEqual([i["name"] for i in types["identity"]], ["Example Parliament"])
        marking = types["marking-definition"][0]["id"]
        for o in bundle["objects"]:
            if o["type"] != "marking-definition":
                self.assertEqual(o.get("object_marking_refs"), [marking], o["id"])
        for ap in types.get("attack-pattern", []):
            ext = ap["external_references"][0]["external_id"]
            self.assertNotEqual(ap["name"], ext)
            self.assertRegex(ext, r"^T\d{4}")
        self.assertEqual(types["marking-definition"][0]["id"],
                         "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb")
        patterns = {i["pattern"] for i in types["indicator"]}
        self.assertIn("[domain-name:value = 'evil-sender.example']", patterns)
        self.assertIn("[ipv4-addr:value = '198.51.100.0/24']", patterns)
        sighting = [s for s in types["sighting"] if s["count"] == 4]
        self.assertTrue(sighting and sighting[0]["first_seen"] == "2024-01-02T09:00:00.000Z")
        rels = {(r["relationship_type"], r["source_ref"].split("--")[0], r["target_ref"].split("--")[0])
                for r in types["relationship"]}
        self.assertIn(("indicates", "indicator", "campaign"), rels)
        # recipients: configured for export and stored in clear here
        self.assertIn("member0@parliament.example", {e["value"] for e in types.get("email-addr", [])})

    def test_recipients_only_when_configured(self):
        plain = os.path.join(self.tmp.name, "plain.conf")
        with open(plain, "w") as f:
            f.write("[institution]\nname = Example Parliament\n")
        bundle = json.loads(self.export("--since", "2023-12-01", config=plain))
        self.assertNotIn("email-addr", {o["type"] for o in bundle["objects"]})
        self.assertNotIn(b"member0@parliament.example", json.dumps(bundle).encode())
        self.assertIn("55d920b0-5e8b-4f79-9ee9-91f868d9b421", json.dumps(bundle))  # amber by default

    def test_reimport_without_loss(self):
        raw = self.export("--since", "2023-12-01")
        path = os.path.join(self.tmp.name, "export.json")
        with open(path, "wb") as f:
            f.write(raw)
        intel = os.path.join(self.tmp.name, "reimport.db")
        p = run("intel", "import", "--db", intel, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        exported = sorted(o["pattern"] for o in json.loads(raw)["objects"] if o["type"] == "indicator")
        with sqlite3.connect(intel) as c:
            imported = sorted(r[0] for r in c.execute("SELECT pattern FROM indicator"))
        self.assertEqual(imported, exported)

    def intel_db(self):
        """Alpha: three indicators of campaign X. Gamma: its landing domain
        only. Beta: nothing but techniques."""
        def obj(t, n, **kw):
            return {"type": t, "spec_version": "2.1", "id": f"{t}--{n}", "created": "2023-01-01T00:00:00.000Z",
                    "modified": "2023-01-01T00:00:00.000Z", **kw}
        sets = {"alpha": "00000000-0000-4000-8000-00000000000a", "beta": "00000000-0000-4000-8000-00000000000b",
                "gamma": "00000000-0000-4000-8000-00000000000c"}
        objects = [obj("intrusion-set", u, name=f"Test Set {k.title()}") for k, u in sets.items()]
        indicators = [("1", "[domain-name:value = 'evil-sender.example']", "alpha"),
                      ("2", "[ipv4-addr:value = '198.51.100.7']", "alpha"),
                      ("3", "[domain-name:value = 'evil-landing.example']", "alpha"),
                      ("4", "[domain-name:value = 'evil-landing.example']", "gamma")]
        for n, pattern, owner in indicators:
            iid = f"00000000-0000-4000-8000-00000000010{n}"
            objects.append(obj("indicator", iid, pattern=pattern, pattern_type="stix",
                               valid_from="2023-01-01T00:00:00Z", indicator_types=["malicious-activity"]))
            objects.append(obj("relationship", f"00000000-0000-4000-8000-00000000020{n}", relationship_type="indicates",
                               source_ref=f"indicator--{iid}", target_ref=f"intrusion-set--{sets[owner]}"))
        path = os.path.join(self.tmp.name, "intel.json")
        with open(path, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}, f)
        db = os.path.join(self.tmp.name, "intel.db")
        if not os.path.exists(db):
            p = run("intel", "import", "--db", db, path)
            self.assertEqual(p.returncode, 0, p.stderr)
        return db

    def test_attribution_ranks_and_qualifies(self):
        db = self.intel_db()
        x = self.by_size[4]["id"]
        out = run("attribute", x, "--store", self.store, "--db", db).stdout.decode()
        self.assertIn("most consistent with the intrusion set Test Set Alpha, with high confidence", out)
        self.assertIn("not a certainty", out)
        self.assertLess(out.index("candidate Test Set Alpha"), out.index("candidate Test Set Gamma"))
        self.assertIn("candidate Test Set Gamma: moderate confidence", out)
        self.assertIn("198.51.100.7", out)
        report = json.loads(run("attribute", x, "--store", self.store, "--db", db, "--json").stdout)
        self.assertTrue(report["enough_evidence"])
        self.assertEqual([c["name"] for c in report["candidates"]], ["Test Set Alpha", "Test Set Gamma"])
        alpha = report["candidates"][0]
        self.assertEqual(alpha["score"], 30.0)  # three indicators, each weighed once
        self.assertEqual(len(alpha["evidence"]["indicators"]), 5)  # every observable that matched is listed

    def test_attribution_indirect_is_infrastructure(self):
        """An indicator of a malware family that three sets use is
        infrastructure overlap shared among them, not an indicator of each."""
        def obj(t, n, **kw):
            return {"type": t, "spec_version": "2.1", "id": f"{t}--{n}", "created": "2023-01-01T00:00:00.000Z",
                    "modified": "2023-01-01T00:00:00.000Z", **kw}
        uid = lambda n: f"00000000-0000-4000-8000-{n:012d}"
        malware = obj("malware", uid(900), name="Generic Loader", is_family=True)
        objects = [malware, obj("indicator", uid(901), pattern="[domain-name:value = 'evil-landing.example']",
                                pattern_type="stix", valid_from="2023-01-01T00:00:00Z"),
                   obj("relationship", uid(902), relationship_type="indicates", source_ref=f"indicator--{uid(901)}",
                       target_ref=malware["id"])]
        for k in range(3):
            objects.append(obj("intrusion-set", uid(910 + k), name=f"Loader User {k}"))
            objects.append(obj("relationship", uid(920 + k), relationship_type="uses",
                               source_ref=f"intrusion-set--{uid(910 + k)}", target_ref=malware["id"]))
        path = os.path.join(self.tmp.name, "indirect.json")
        with open(path, "w") as f:
            json.dump({"type": "bundle", "id": "bundle--" + uid(903), "objects": objects}, f)
        db = os.path.join(self.tmp.name, "indirect.db")
        p = run("intel", "import", "--db", db, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        report = json.loads(run("attribute", self.by_size[4]["id"], "--store", self.store, "--db", db,
                                "--json").stdout)
        users = [c for c in report["candidates"] if c["name"].startswith("Loader User")]
        self.assertEqual(len(users), 3)
        for c in users:
            self.assertEqual(c["evidence"]["indicators"], [])
            self.assertEqual(len(c["evidence"]["infrastructure"]), 1)
            self.assertAlmostEqual(c["score"], 1.0)
            self.assertEqual(c["confidence"], "low")
        self.assertFalse(report["enough_evidence"])

    def test_attribution_not_enough_evidence(self):
        db = self.intel_db()
        y = self.by_size[3]["id"]
        out = run("attribute", y, "--store", self.store, "--db", db).stdout.decode()
        self.assertIn("The evidence is not enough to attribute this campaign", out)
        self.assertNotIn("most consistent", out)
        p = run("attribute", "c-nosuchcampaign", "--store", self.store, "--db", db, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("no campaign", p.stderr.decode())


if __name__ == "__main__":
    BULWARK, SCHEMAS = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
