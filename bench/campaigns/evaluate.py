#!/usr/bin/env python3
"""Clustering quality of `bulwark campaigns` against the generator's ground
truth: pairwise precision, recall and F1 (over pairs of messages put in the
same campaign), and the adjusted Rand index. Messages in no campaign count
as singletons on both sides.

Usage: evaluate.py STORE
"""
import sqlite3
import sys
from collections import Counter


def c2(n):
    return n * (n - 1) // 2


def main():
    db = sqlite3.connect(sys.argv[1])
    rows = db.execute("SELECT t.message, t.campaign, cm.campaign FROM bench_truth t"
                      " LEFT JOIN campaign_member cm ON cm.message = t.message")
    joint, truth, pred = Counter(), Counter(), Counter()
    n = 0
    for mid, t, p in rows:
        p = p if p is not None else f"-{mid}"
        joint[(t, p)] += 1
        truth[t] += 1
        pred[p] += 1
        n += 1
    same_both = sum(c2(v) for v in joint.values())
    same_truth = sum(c2(v) for v in truth.values())
    same_pred = sum(c2(v) for v in pred.values())
    precision = same_both / same_pred if same_pred else 1.0
    recall = same_both / same_truth if same_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    expected = same_truth * same_pred / c2(n)
    ari = (same_both - expected) / ((same_truth + same_pred) / 2 - expected)
    true_campaigns = sum(1 for k, v in truth.items() if v >= 2)
    found = sum(1 for k, v in pred.items() if v >= 2)
    print(f"messages {n}, true campaigns {true_campaigns}, campaigns found {found}")
    print(f"pairwise precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f} ARI {ari:.4f}")


if __name__ == "__main__":
    main()
