#!/usr/bin/env python3
"""Chooses a likelihood model's history-context prior weight (prior_weight) on the validation split.

Reads the per-case likelihoods, priors and title token counts that
`instructrec eval --split valid --dump-scores DIR/valid-SETTING.jsonl --output DIR/valid-SETTING.json`
writes for each setting (what users send: u9 and u99, 9 and 99 uniform negatives; pop99, 99
popularity-drawn negatives; cooc100, a co-occurrence retriever's top 100; and rw9/rw99, the same
with every title rewritten the way another store writes it: out of the catalog), and scores each case
for every α of a grid exactly as the service scores a history context:

    score(t) = likelihood(t) - alpha * prior(t)          (one alpha for every candidate)

The reference row replays the rule the service used before a score had to belong to its
(context, candidate) pair alone: one alpha per request from its candidates' familiarity,

    m = median over the request's candidates of prior(t) / tokens(t)
    alpha = 0.375 + (0.9 - 0.375) * sigmoid((-5 - m) / 0.25)

so the table shows what that independence costs or gains in each setting. The settings' HR@1 over alpha
is a plateau whose differences from the reference are a few users in thousands, so an alpha is
admissible when no catalog setting (u9, u99, pop99, cooc100) falls below the reference by more than one
paired standard error (sqrt(discordant cases) / cases: the users one side hits and the other misses);
among those it maximises the mean over the catalog settings of HR@1 relative to the best any alpha
reached. A
per-title alpha (each candidate's own familiarity) was measured and dropped: it reorders candidates by
their priors (0.2-0.3 HR@1 on u9 against 0.63).

The query-context weight (query_prior_weight) and both relevance mappings are chosen and fitted by
`instructrec eval --split valid --fit-relevance`, which reports the query pairs' AUC for the model's
weights (run it with INSTRUCTREC_QUERY_PRIOR_WEIGHT=0.5, 0.75, 1 to compare).

HR@1 counts ties against the target, as `instructrec eval` does.

  python3 scripts/eval/select_scoring.py --dumps out/dumps     (standard library only)
"""
import argparse
import json
import math
import os
import sys

CATALOG = ["u9", "u99", "pop99", "cooc100"]
OUT_OF_CATALOG = ["rw9", "rw99"]


def load(dumps, name):
    path = os.path.join(dumps, f"valid-{name}.jsonl")
    if not os.path.exists(path):
        return None
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def familiarity_alpha(case):
    per_token = sorted(p / max(1, n) for p, n in zip(case["priors"], case["tokens"]))
    median = per_token[len(per_token) // 2]
    z = max(-60.0, min(60.0, (median + 5.0) / 0.25))
    return 0.375 + (0.9 - 0.375) / (1 + math.exp(z))


def hits(cases, alpha_of):
    """One flag per case: the target ranked first (ties count against it; a case without its target misses)."""
    flags = []
    for c in cases:
        t = c["target"]
        if t < 0:
            flags.append(False)
            continue
        alpha = alpha_of(c)
        scores = [l - alpha * p for l, p in zip(c["likelihoods"], c["priors"])]
        flags.append(not any(s >= scores[t] for i, s in enumerate(scores) if i != t))
    return flags


def paired_standard_error(a, b):
    discordant = sum(x != y for x, y in zip(a, b))
    return math.sqrt(discordant) / max(1, len(a))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dumps", default="out/dumps")
    ap.add_argument("--alphas", default="0,0.25,0.3,0.35,0.375,0.4,0.45,0.5,0.6,0.75,1")
    args = ap.parse_args()
    data = {name: load(args.dumps, name) for name in CATALOG + OUT_OF_CATALOG}
    missing = [n for n in CATALOG if data[n] is None]
    if missing:
        sys.exit(f"missing dumps for {missing} in {args.dumps} (valid-SETTING.jsonl; see this script's docstring)")
    names = [n for n in CATALOG + OUT_OF_CATALOG if data[n] is not None]
    alphas = [float(a) for a in args.alphas.split(",")]
    flags = {a: {n: hits(data[n], lambda c, a=a: a) for n in names} for a in alphas}
    rows = {a: {n: sum(f[n]) / len(f[n]) for n in names} for a, f in flags.items()}
    reference_flags = {n: hits(data[n], familiarity_alpha) for n in names}
    reference = {n: sum(f) / len(f) for n, f in reference_flags.items()}
    best = {n: max(r[n] for r in rows.values()) for n in CATALOG}
    users = {n: len(data[n]) for n in names}
    print("HR@1 on valid (" + ", ".join(f"{n} {users[n]} users" for n in names) + ")")
    print("alpha".ljust(22) + "".join(n.rjust(9) for n in names) + "  objective  admissible (worst catalog deficit, in paired SE)")

    def objective(r):
        return sum(r[n] / best[n] for n in CATALOG if best[n] > 0) / len(CATALOG)

    print("familiarity (before)".ljust(22) + "".join(f"{reference[n]:.4f}".rjust(9) for n in names))
    admissible = []
    for a in alphas:
        r = rows[a]
        deficits = [(reference[n] - r[n]) / max(1e-12, paired_standard_error(flags[a][n], reference_flags[n])) for n in CATALOG]
        worst = max(0.0, max(deficits))
        ok = worst <= 1.0
        if ok:
            admissible.append(a)
        print(f"{a:g}".ljust(22) + "".join(f"{r[n]:.4f}".rjust(9) for n in names) + f"  {objective(r):.4f}     {ok} ({worst:.2f})")
    if not admissible:
        sys.exit("no alpha keeps every catalog setting within one paired standard error of the reference row")
    chosen = max(admissible, key=lambda a: objective(rows[a]))
    print("chosen:", json.dumps({"scoring": "calibrated", "prior_weight": chosen}))


if __name__ == "__main__":
    main()
