#!/usr/bin/env python3
"""Writes N synthetic message records straight into a Bulwark scan store
(bypassing MIME parsing), shaped like real campaign traffic, with the ground
truth in a table bench_truth(message, campaign) (-message for noise).

Shapes (bench/README.md): many small campaigns and a few large ones (a
heavy-tailed size distribution), campaigns sending through their own domains
and /24s or through shared ESPs, rotating sender domains, tracker pixels
with per-recipient tokens, landing and image domains (own, or common
platforms), near-duplicate subjects and bodies (a few SimHash bits flipped),
attachments, and singleton noise from freemail, ESPs and unique domains.

Usage: generate.py BULWARK STORE [--messages N] [--seed S]
"""
import argparse
import array
import hashlib
import os
import random
import sqlite3
import subprocess
import sys

ESPS = ["sendgrid.net", "amazonses.com", "mailgun.org", "mcsv.net", "sparkpostmail.com", "mandrillapp.com"]
FREEMAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "gmx.de", "web.de"]
PLATFORMS = ["bit.ly", "google.com", "facebook.com", "linkedin.com", "youtube.com", "twitter.com"]
IMAGE_HOSTS = ["imgur.com", "googleusercontent.com", "cloudfront.net"]


def label(rng, n=8):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def flip(rng, h, k):
    for _ in range(k):
        h ^= 1 << rng.randrange(64)
    return h


def signed(h):
    return h - (1 << 64) if h >= (1 << 63) else h


class Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE IF NOT EXISTS bench_truth(message INTEGER PRIMARY KEY, campaign INTEGER)")
        self.features = {}
        self.pairs = array.array("q")   # feature << 32 | message
        self.messages = []
        self.recipients = []
        self.findings = []
        self.truth = []

    def feature(self, kind, value):
        key = (kind, value)
        f = self.features.get(key)
        if f is None:
            f = self.features[key] = len(self.features) + 1
        return f

    def add(self, mid, truth, seen, from_addr, subject, sim_s, sim_b, obs, rcpt, attack):
        self.messages.append((mid, f"<{mid}@bench>", hashlib.sha256(str(mid).encode()).hexdigest(), seen, seen,
                              seen, "bench", from_addr, subject, signed(sim_s) if sim_s is not None else None,
                              signed(sim_b) if sim_b is not None else None))
        for kind, value in obs:
            self.pairs.append(self.feature(kind, value) << 32 | mid)
        self.recipients.append((mid, hashlib.sha256(rcpt.encode()).hexdigest()))
        if attack:
            self.findings.append((mid, "PHISHING_LINK", "medium", 3.0, attack))
        self.truth.append((mid, truth))

    def write(self):
        db = self.db
        db.executemany("INSERT INTO message(id, message_id, body_hash, date, seen, scanned_at, source, from_addr,"
                       " subject, sim_subject, sim_body) VALUES(?,?,?,?,?,?,?,?,?,?,?)", self.messages)
        db.executemany("INSERT INTO feature(id, kind, value) VALUES(?,?,?)",
                       ((f, k, v) for (k, v), f in self.features.items()))
        pairs = sorted(set(self.pairs))
        db.executemany("INSERT INTO message_feature(feature, message) VALUES(?,?)",
                       ((p >> 32, p & 0xffffffff) for p in pairs))
        db.executemany("INSERT OR IGNORE INTO recipient(message, key) VALUES(?,?)", self.recipients)
        db.executemany("INSERT INTO finding(message, id, severity, score, attack) VALUES(?,?,?,?,?)", self.findings)
        db.executemany("INSERT INTO bench_truth(message, campaign) VALUES(?,?)", self.truth)
        db.commit()
        return len(pairs)


def campaign_sizes(rng, n):
    """Heavy-tailed: most campaigns are a handful of messages, a few are huge."""
    sizes, total = [], 0
    while total < n * 0.75:
        r = rng.random()
        s = rng.randint(2, 20) if r < 0.90 else rng.randint(21, 500) if r < 0.99 else rng.randint(1000, 20000)
        s = min(s, int(n * 0.75) - total) if total + s > n * 0.75 else s
        if s < 2:
            break
        sizes.append(s)
        total += s
    return sizes


def snowshoe(store, rng, cid, size, mid, bulletproof, institution, t0):
    """A fresh sender domain per message, no tracker, rotating subjects,
    bodies varied beyond the SimHash threshold now and then, sent from
    hosting that other snowshoe senders use too: the hard case."""
    landing = [f"{label(rng)}.online" for _ in range(5)]
    nets = rng.sample(bulletproof, 2)
    sim_b = rng.getrandbits(64)
    start = t0 + rng.randrange(2 * 365 * 86400)
    for _ in range(size):
        mid += 1
        dom = f"{label(rng, 10)}.top"
        obs = [("from-domain", dom), ("from-address", f"info@{dom}"), ("return-path-domain", dom),
               ("relay-net", rng.choice(nets)), ("link-domain", rng.choice(landing))]
        store.add(mid, cid, start + rng.randrange(30 * 86400), f"info@{dom}", f"campaign {cid}",
                  rng.getrandbits(64), flip(rng, sim_b, rng.choice([0, 1, 2, 3, 4, 5])), obs,
                  rng.choice(institution), "")
    return mid


def generate(store, n, rng):
    t0 = 1672531200  # 2023-01-01
    mid = 0
    institution = [f"staff{i}@parliament.example" for i in range(5000)]
    sizes = campaign_sizes(rng, n)
    # bulletproof hosting: /24s that unrelated snowshoe senders sometimes share
    bulletproof = [f"185.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(1000)]
    for cid, size in enumerate(sizes, 1):
        if rng.random() < 0.1:
            mid = snowshoe(store, rng, cid, size, mid, bulletproof, institution, t0)
            continue
        own = [f"{label(rng)}.{rng.choice(['com', 'net', 'info', 'xyz', 'top'])}" for _ in range(rng.randint(1, 4))]
        via_esp = rng.random() < 0.35
        esp = rng.choice(ESPS)
        nets = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
                for _ in range(rng.randint(1, 2))]
        esp_net = f"167.89.{rng.randrange(256)}.0/24"
        dkim_own = rng.random() < 0.6
        tracker = f"trk.{own[0]}/o/{{tok}}.gif" if rng.random() < 0.5 else None
        landing = [f"{label(rng)}.{rng.choice(['com', 'site', 'online', 'shop'])}" for _ in range(rng.randint(1, 3))]
        platform_link = rng.choice(PLATFORMS) if rng.random() < 0.5 else None
        image = f"img.{own[0]}" if rng.random() < 0.4 else rng.choice(IMAGE_HOSTS) if rng.random() < 0.5 else None
        stable_subject = rng.random() < 0.8
        stable_body = rng.random() < 0.9
        sim_s, sim_b = rng.getrandbits(64), rng.getrandbits(64)
        attachment = hashlib.sha256(f"att{cid}".encode()).hexdigest() if rng.random() < 0.1 else None
        start = t0 + rng.randrange(2 * 365 * 86400)
        span = rng.randint(1, 60) * 86400
        for _ in range(size):
            mid += 1
            dom = rng.choice(own)
            obs = [("from-domain", dom), ("from-address", f"{label(rng, 5)}@{dom}")]
            if via_esp:
                obs += [("return-path-domain", esp), ("relay-net", esp_net), ("relay-domain", esp),
                        ("dkim-domain", dom if dkim_own else esp)]
            else:
                obs += [("return-path-domain", dom), ("relay-net", rng.choice(nets))]
                if dkim_own:
                    obs.append(("dkim-domain", dom))
            if tracker:
                obs += [("tracker-template", tracker), ("resource-domain", own[0])]
            obs.append(("link-domain", rng.choice(landing)))
            if platform_link:
                obs.append(("link-domain", platform_link))
            if image:
                obs.append(("resource-domain", image))
            if attachment:
                obs.append(("attachment-sha256", attachment))
            s = flip(rng, sim_s, rng.choice([0, 0, 1, 2])) if stable_subject else rng.getrandbits(64)
            b = flip(rng, sim_b, rng.choice([0, 1, 2, 3])) if stable_body else rng.getrandbits(64)
            store.add(mid, cid, start + rng.randrange(span), obs[1][1], f"campaign {cid}", s, b, obs,
                      rng.choice(institution), "T1566.002" if rng.random() < 0.2 else "")
    # noise: one message per sender, from freemail, ESPs or unique domains
    while mid < n:
        mid += 1
        r = rng.random()
        if r < 0.35:
            dom = rng.choice(FREEMAIL)
            obs = [("return-path-domain", dom), ("dkim-domain", dom), ("relay-domain", "google.com"),
                   ("relay-net", f"209.85.{rng.randrange(256)}.0/24")]
        elif r < 0.6:
            dom, esp = f"{label(rng)}.com", rng.choice(ESPS)
            obs = [("return-path-domain", esp), ("dkim-domain", dom), ("relay-domain", esp),
                   ("relay-net", f"167.89.{rng.randrange(256)}.0/24")]
        else:
            dom = f"{label(rng)}.org"
            obs = [("return-path-domain", dom),
                   ("relay-net", f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24")]
        obs += [("from-domain", dom), ("from-address", f"{label(rng, 6)}@{dom}"),
                ("link-domain", f"{label(rng)}.net"), ("link-domain", rng.choice(PLATFORMS))]
        if rng.random() < 0.3:
            obs.append(("resource-domain", rng.choice(IMAGE_HOSTS)))
        store.add(mid, -mid, t0 + rng.randrange(2 * 365 * 86400), obs[-3][1] if False else f"x@{dom}",
                  "noise", rng.getrandbits(64), rng.getrandbits(64), obs, rng.choice(institution), "")
    return len(sizes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bulwark")
    ap.add_argument("store")
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if os.path.exists(a.store):
        sys.exit(f"{a.store} exists: the generator writes a new store")
    # the schema is bulwark's: let it create the store
    subprocess.run([a.bulwark, "campaigns", "--store", a.store], check=True, stdout=subprocess.DEVNULL)
    store = Store(a.store)
    ncamp = generate(store, a.messages, random.Random(a.seed))
    npairs = store.write()
    print(f"{a.messages} messages, {ncamp} true campaigns, {len(store.features)} features, "
          f"{npairs} message-feature rows in {a.store}")


if __name__ == "__main__":
    main()
