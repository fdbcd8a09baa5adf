#!/usr/bin/env python3
"""Chooses the default model's calibrated-scoring weights on the validation split.

Reads the per-case likelihoods, priors and title token counts that
`instructrec eval --split valid --scoring calibrated --dump-scores out/dumps/valid-SETTING.jsonl
--output out/dumps/valid-SETTING.json` writes for each setting (what users send: 9 and 99 uniform
negatives, 99 popularity-drawn negatives, a co-occurrence retriever's top 100, and the same with
every title rewritten the way another store writes it: out of the catalog), and scores each case
for every point of a grid exactly as the service does (`Scoring.weight` / `combine`):

    alpha(t) = a + (a_unfamiliar - a) * sigmoid((tau - prior(t) / tokens(t)) / 0.5)
    score(t) = likelihood(t) - alpha(t) * prior(t)

HR@1 counts ties against the target, as `instructrec eval` does. A grid point is admissible when,
on every catalog setting, it is at or above that setting's transitions row (the eval's own JSON)
and, on the 10-candidate protocol, at or above --protocol-floor. Among admissible points it
maximises the mean over settings of HR@1 relative to the best HR@1 any point reached there, so
each setting counts at its own scale (the out-of-catalog ones included). Prints the constant-alpha
rows, the best points, and the chosen line for models/default/instructrec.json.

  venv/bin/python scripts/select_scoring.py --dumps out/dumps   (stdlib only; any python3 works)
"""
import argparse
import itertools
import json
import math
import os
import sys

CATALOG = ["u9", "u99", "pop99", "cooc100"]
OUT_OF_CATALOG = ["rw9", "rw99"]
SPREAD = 0.5  # Scoring.familiaritySpread


def load(dumps, name):
    path = os.path.join(dumps, f"valid-{name}.jsonl")
    if not os.path.exists(path):
        return None
    cases = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    summary = json.load(open(os.path.join(dumps, f"valid-{name}.json")))
    transitions = summary["metrics"].get("transitions", {}).get("HR@1")
    return cases, transitions


def hit_rate(cases, a, a_unfamiliar, tau):
    hits = 0
    for c in cases:
        scores = []
        for l, p, n in zip(c["likelihoods"], c["priors"], c["tokens"]):
            if a_unfamiliar is None:
                alpha = a
            else:
                z = (p / max(1, n) - tau) / SPREAD
                unfamiliarity = 1 / (1 + math.exp(z)) if z > -60 else 1.0
                alpha = a + (a_unfamiliar - a) * unfamiliarity
            scores.append(l - alpha * p)
        t = c["target"]
        if t < 0:
            continue
        mine = scores[t]
        if not any(s >= mine for i, s in enumerate(scores) if i != t):
            hits += 1
    return hits / max(1, len(cases))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dumps", default="out/dumps")
    ap.add_argument("--protocol-floor", type=float, default=0.60, help="HR@1 the 10-candidate protocol must keep on valid")
    args = ap.parse_args()
    data = {name: load(args.dumps, name) for name in CATALOG + OUT_OF_CATALOG}
    missing = [n for n, d in data.items() if d is None]
    if missing:
        sys.exit(f"missing dumps for {missing} in {args.dumps} (see this script's docstring for the eval commands)")
    alphas = [0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0]
    grid = [(a, None, None) for a in alphas]
    grid += [(a, hi, tau) for a, hi, tau in itertools.product([0, 0.125, 0.25, 0.375, 0.5], [0.75, 1.0, 1.25],
                                                              [-6.5, -6, -5.5, -5, -4.5, -4]) if hi > a]
    results = {}
    for point in grid:
        results[point] = {name: hit_rate(data[name][0], *point) for name in data}
    best = {name: max(r[name] for r in results.values()) for name in data}

    def admissible(r):
        return all(r[n] >= (data[n][1] or 0) for n in CATALOG) and r["u9"] >= args.protocol_floor

    def objective(r):
        return sum(r[n] / best[n] for n in data if best[n] > 0) / len(data)

    header = "point".ljust(34) + "".join(n.rjust(9) for n in data) + "  objective  admissible"
    print(header)
    print("transitions".ljust(34) + "".join((f"{data[n][1]:.4f}" if data[n][1] is not None else "-").rjust(9) for n in data))

    def row(point):
        a, hi, tau = point
        name = f"a={a}" if hi is None else f"a={a} a_unfamiliar={hi} tau={tau}"
        r = results[point]
        return name.ljust(34) + "".join(f"{r[n]:.4f}".rjust(9) for n in data) + f"  {objective(r):.4f}     {admissible(r)}"

    for point in grid[:len(alphas)]:
        print(row(point))
    ranked = sorted((p for p in grid if admissible(results[p])), key=lambda p: -objective(results[p]))
    print("best admissible points:")
    for point in ranked[:8]:
        print(row(point))
    if not ranked:
        sys.exit("no admissible point: no setting of the grid keeps every catalog row at or above transitions")
    a, hi, tau = ranked[0]
    chosen = {"scoring": "calibrated", "prior_weight": a}
    if hi is not None:
        chosen.update({"unfamiliar_prior_weight": hi, "familiarity_threshold": tau})
    print("chosen:", json.dumps(chosen))


if __name__ == "__main__":
    main()
