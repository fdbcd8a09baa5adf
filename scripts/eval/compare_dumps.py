#!/usr/bin/env python3
"""How far one weights type moves a model's rankings from another's, and why: score noise against the gaps it crosses.

Reads two score dumps of the same cases, e.g. F32 and int8,

  instructrec eval --split valid --users 300 --negatives 99 --weights-dtype f32  --dump-scores out/q/f32.jsonl  --output out/q/f32.json
  instructrec eval --split valid --users 300 --negatives 99 --weights-dtype int8 --dump-scores out/q/int8.jsonl --output out/q/int8.json

and scores every case as the service scores a history context (calibrated scoring,
score(t) = likelihood(t) - alpha * prior(t), alpha the model's prior_weight). It reports:

  * how often both give the same top K (as a set) and the same first candidate, as `eval
    --compare-weights-dtype` does;
  * the noise: per case, the standard deviation over candidates of score(other) - score(reference)
    less its mean (a shift common to all candidates moves no ranking), its median over the cases;
  * the reference's gap between its K-th and (K+1)-th candidates, at the 5th, 25th and 50th
    percentile of the cases: a swap at the boundary needs the noise to cross this gap.

When the median noise exceeds the low percentiles of the gap, no product of that precision keeps the
top K in nearly every case: the boundary sits closer than the type's resolution.

  python3 scripts/eval/compare_dumps.py out/q/f32.jsonl out/q/int8.jsonl --alpha 0.3    (standard library only)
"""
import argparse
import json
import statistics


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def scores(record, alpha):
    priors = record.get("priors") or [0.0] * len(record["likelihoods"])
    return [l - alpha * p for l, p in zip(record["likelihoods"], priors)]


def ranked(values):
    return sorted(range(len(values)), key=lambda i: (-values[i], i))


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", help="score dump of the reference type (e.g. f32)")
    parser.add_argument("other", help="score dump of the same cases in another type")
    parser.add_argument("--alpha", type=float, required=True, help="the model's prior_weight (its instructrec.json)")
    parser.add_argument("--top", type=int, default=10, help="K of 'same top K'")
    args = parser.parse_args()

    reference, other = load(args.reference), load(args.other)
    if len(reference) != len(other):
        raise SystemExit(f"the dumps hold {len(reference)} and {len(other)} cases: run both on the same users")
    same_top = same_first = 0
    noise, gaps = [], []
    for r, o in zip(reference, other):
        if r["user_index"] != o["user_index"] or len(r["likelihoods"]) != len(o["likelihoods"]):
            raise SystemExit(f"case of user {r['user_index']} differs between the dumps: run both on the same users")
        a, b = scores(r, args.alpha), scores(o, args.alpha)
        order_a, order_b = ranked(a), ranked(b)
        same_top += set(order_a[:args.top]) == set(order_b[:args.top])
        same_first += order_a[0] == order_b[0]
        differences = [y - x for x, y in zip(a, b)]
        noise.append(statistics.pstdev(differences))
        if len(a) > args.top:
            gaps.append(a[order_a[args.top - 1]] - a[order_a[args.top]])
    cases = len(reference)
    print(f"{cases} cases, {len(reference[0]['likelihoods']) if cases else 0} candidates each, alpha {args.alpha}")
    print(f"same top {args.top}: {same_top} ({same_top / max(cases, 1):.1%}); same first candidate: {same_first} "
          f"({same_first / max(cases, 1):.1%})")
    print(f"score noise (std over candidates, common shift removed), median over cases: {statistics.median(noise):.4f}")
    if gaps:
        print(f"reference gap between candidates {args.top} and {args.top + 1}: 5th percentile {percentile(gaps, 5):.4f}, "
              f"25th {percentile(gaps, 25):.4f}, median {percentile(gaps, 50):.4f}")


if __name__ == "__main__":
    main()
