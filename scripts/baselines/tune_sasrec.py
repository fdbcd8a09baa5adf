#!/usr/bin/env python3
"""Summarises SASRec tuning runs on the validation split as a Markdown table.

Each tuning run is one sasrec.py training that scores valid case files as it goes and keeps
the epoch with the best HR@1 on the first of them:

  python scripts/baselines/sasrec.py --threads 1 --epochs 200 --minutes 20 --eval-every 2 --patience 5 \\
      --valid-cases out/cases/valid-uniform99.cases.jsonl --valid-cases out/cases/valid-uniform9.cases.jsonl \\
      --log out/baselines/sasrec-tuning.jsonl --negatives 1024

This script reads the --log file (one JSON line per evaluation) and prints one row per
configuration: its best epoch by HR@1 on the selecting file (the first --valid-cases), that
epoch's HR@1 and NDCG@5 on every valid file, the wall-clock minutes to that epoch, the epochs
trained and the wall-clock minutes in all (validation included).
The test split is never read.

  python scripts/baselines/tune_sasrec.py out/baselines/sasrec-tuning.jsonl
"""
import argparse
import json
import os

KEYS = ("negatives", "dim", "blocks", "max_len", "dropout", "lr", "batch_size", "seed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", help="JSON Lines written by sasrec.py --log")
    args = parser.parse_args()

    runs = {}  # configuration -> evaluations in order (a repeated configuration: its last run)
    with open(args.log, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            entry = json.loads(line)
            key = tuple((k, entry["config"].get(k)) for k in KEYS)
            if key in runs and entry["epoch"] <= runs[key][-1]["epoch"]:
                runs[key] = []  # a new run of the same configuration
            runs.setdefault(key, []).append(entry)

    files = []
    for evaluations in runs.values():
        for path in evaluations[0]["valid"]:
            if path not in files:
                files.append(path)
    names = [os.path.basename(p).replace(".cases.jsonl", "") for p in files]
    header = ["config", "best epoch"] + [f"{n} {m}" for n in names for m in ("HR@1", "NDCG@5")] + ["minutes to best", "epochs run", "minutes run"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for key, evaluations in runs.items():
        config = dict(key)
        selecting = next(iter(evaluations[0]["valid"]))
        best = max(evaluations, key=lambda e: (e["valid"][selecting]["HR@1"], -e["epoch"]))
        shown = ", ".join(f"{k}={v}" for k, v in config.items() if k != "seed")
        cells = [shown, str(best["epoch"])]
        for path in files:
            m = best["valid"].get(path)
            cells += [f"{m['HR@1']:.4f}", f"{m['NDCG@5']:.4f}"] if m else ["", ""]
        cells += [f"{best['seconds'] / 60:.1f}", str(evaluations[-1]["epoch"]), f"{evaluations[-1]['seconds'] / 60:.1f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
