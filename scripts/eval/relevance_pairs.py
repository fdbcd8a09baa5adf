#!/usr/bin/env python3
"""Held-out relevance: does `relevance_score` threshold, one document at a time?

Sends every pair of relevance_pairs.json (beside this script) alone to /v2/rerank
({"query": ..., "documents": [document]}), and prints the ROC AUC of
relevance_score over all pairs (ties count one half), the accuracy of the
threshold given with --threshold (relevant when relevance_score >= it), and the
same per query kind (franchise, kind, platform, genre). The pairs were written
before any relevance fitting and are never fitted or selected on: they measure.
It is a measurement, not a test: it exits 0 whatever the figures, unless the
server fails.

Against a running server:
    python3 scripts/eval/relevance_pairs.py --url http://127.0.0.1:8080 --threshold 0.5

Starting one itself (a free port, waits for /readyz, stops it at the end):
    python3 scripts/eval/relevance_pairs.py --serve .build/release/instructrec --model models/default

--output FILE writes every pair with its relevance_score and score (JSON).
Exit status: 0 after a measurement; 2 when the server could not be started or answered 5xx.
Python 3 standard library only.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common_sense import Server, ServerFailure, http  # noqa: E402

DEFAULT_PAIRS = os.path.join(HERE, "relevance_pairs.json")


def roc_auc(values, labels):
    """Probability that a random relevant pair outranks a random irrelevant one (ties: one half)."""
    positives = [v for v, y in zip(values, labels) if y]
    negatives = [v for v, y in zip(values, labels) if not y]
    if not positives or not negatives:
        return float("nan")
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def accuracy(values, labels, threshold):
    return sum((v >= threshold) == y for v, y in zip(values, labels)) / max(1, len(values))


def best_threshold(values, labels):
    """The threshold with the highest accuracy on these pairs (hindsight: reported, never chosen from)."""
    best = (0.0, 0.0)
    for t in sorted(set(values)):
        best = max(best, (accuracy(values, labels, t), t))
    return best


def score_pair(url, pair, timeout):
    body = {"model": "instructrec", "query": pair["query"], "documents": [pair["document"]]}
    try:
        status, answer = http("POST", f"{url}/v2/rerank", body, timeout=timeout)
    except OSError as error:
        raise ServerFailure(f"no answer from {url}: {error}")
    if status != 200:
        raise ServerFailure(f"{pair['query']!r} / {pair['document']!r}: HTTP {status}: {answer}")
    return answer["results"][0]["relevance_score"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="a running server")
    parser.add_argument("--serve", metavar="BINARY", help="start BINARY serve on a free port instead of --url")
    parser.add_argument("--model", help="model directory for --serve")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--pairs", default=DEFAULT_PAIRS)
    parser.add_argument("--threshold", type=float, default=0.5, help="relevant when relevance_score >= this (the README's)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--output", help="write every pair with its relevance_score (JSON)")
    args = parser.parse_args()
    with open(args.pairs, encoding="utf-8") as f:
        pairs = json.load(f)["pairs"]
    server = None
    try:
        if args.serve:
            server = Server(args.serve, args.model, args.settings, ready_timeout=120)
            url = server.url
        else:
            url = args.url
        values = [score_pair(url, pair, args.timeout) for pair in pairs]
    except ServerFailure as failure:
        print(f"relevance_pairs: {failure}", file=sys.stderr)
        return 2
    finally:
        if server:
            server.stop()
    labels = [pair["relevant"] for pair in pairs]
    queries = len({pair["query"] for pair in pairs})
    print(f"{len(pairs)} pairs over {queries} queries ({sum(labels)} relevant)")
    print(f"ROC AUC {roc_auc(values, labels):.3f}; accuracy at threshold {args.threshold:g}: "
          f"{accuracy(values, labels, args.threshold):.3f}")
    hindsight, at = best_threshold(values, labels)
    print(f"(hindsight: the best threshold on these pairs, {at:.4f}, is right {hindsight:.3f} of the time)")
    for kind in sorted({pair["kind"] for pair in pairs}):
        chosen = [i for i, pair in enumerate(pairs) if pair["kind"] == kind]
        v = [values[i] for i in chosen]
        y = [labels[i] for i in chosen]
        print(f"  {kind:<10} {len(chosen):>4} pairs  AUC {roc_auc(v, y):.3f}  accuracy {accuracy(v, y, args.threshold):.3f}")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump([dict(pair, relevance_score=value) for pair, value in zip(pairs, values)], f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
