#!/usr/bin/env python3
"""SASRec (Kang & McAuley 2018, "Self-Attentive Sequential Recommendation") as an
external baseline for `instructrec eval`, on exactly its users and candidates.

Training data: the training part of every user's sequence, items[:-2] (all but the
validation and test items: the same data the InstructRec model trains on), with a
next-item prediction at every position (inputs items[:-3], targets items[1:-2]),
the last --max-len positions of each. Model: item + learned position embeddings,
--blocks causal self-attention blocks (pre-LayerNorm, one head, point-wise
feed-forward), --dim 64, dropout --dropout, item embeddings shared with the output
layer. Loss: softmax cross-entropy over the target and --negatives items sampled
uniformly per batch (sampled softmax; 0 = the full softmax over all items).
Training stops after --minutes (wall clock, checked between batches) or
--epochs, whichever comes first; everything is seeded (--seed), CPU by default.

Scoring reads case files written by `instructrec eval --dump-cases FILE`: each case's
"sequence" is the user's whole sequence before the target (items[:-2] on the valid
split, items[:-1] on test); the model reads its last --max-len items and scores every
candidate by the dot product of the final hidden state with the candidate's
embedding. One model is trained, then every --cases file is scored and written to
the matching --scores file (default: FILE with .cases.jsonl/.jsonl replaced by
.scores.jsonl) as JSON Lines {"user_index", "user", "candidates", "scores"}, which
`instructrec eval --external-scores sasrec=SCORES` reads (same tie rule: ties count
against the target). The script also prints HR@1/3/5 and NDCG@3/5 per file.
Items a case lists in "cold" (the target under `instructrec eval --rewrite-titles`: an
out-of-catalog item whose id the model has never seen) get the case's lowest score
minus 1, so they rank last and tie with nothing.

  instructrec eval --no-model --data DIR --users 5000 --dump-cases out/test.cases.jsonl
  python scripts/baselines/sasrec.py --data DIR --cases out/test.cases.jsonl
  instructrec eval --data DIR --users 5000 --external-scores sasrec=out/test.scores.jsonl

Tuning on the validation split: --valid-cases FILE (valid-split cases, repeatable) is
scored every --eval-every epochs; the weights of the epoch with the best HR@1 on the first
such file are kept (saved with --save and used for --cases), --patience N stops after N
evaluations without a better one, and --log FILE appends one JSON line per evaluation
(scripts/baselines/tune_sasrec.py turns that log into a table).

--save FILE keeps the trained weights; --load FILE scores with them without training.
Requirements: scripts/requirements.txt (torch, numpy; venv/).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_sequences(data, prefix):
    """Each user's full chronological sequence (test target last) from <prefix>-6k.test.inter."""
    path = os.path.join(data, f"{prefix}-6k.test.inter")
    if not os.path.exists(path):
        path = os.path.join(data, f"{prefix}.test.inter")
    sequences = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for number, line in enumerate(f, start=2):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                sys.exit(f"{path}:{number}: expected user<TAB>history<TAB>item")
            sequences.append([int(x) for x in fields[1].split()] + [int(fields[2])])
    return sequences


def item_count(data, prefix):
    ids = []
    with open(os.path.join(data, f"{prefix}.item"), encoding="utf-8") as f:
        next(f)
        for line in f:
            head = line.split("\t", 1)[0]
            if head.strip():
                ids.append(int(head))
    return max(ids) + 1


class Block(nn.Module):
    def __init__(self, dim, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, 1, dropout=dropout, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(dim, dim), nn.Dropout(dropout))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, causal, keep):
        q = self.norm1(x)
        a, _ = self.attention(q, q, q, attn_mask=causal, need_weights=False)
        x = (x + self.dropout(a)) * keep
        x = (x + self.ff(self.norm2(x))) * keep
        return x


class SASRec(nn.Module):
    """Item ids are shifted by one: 0 is padding. Sequences are right-padded, so with the
    causal mask a real position never attends to padding."""

    def __init__(self, items, dim, blocks, max_len, dropout):
        super().__init__()
        self.item = nn.Embedding(items + 1, dim, padding_idx=0)
        self.position = nn.Embedding(max_len, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([Block(dim, dropout) for _ in range(blocks)])
        self.norm = nn.LayerNorm(dim)
        self.dim = dim
        nn.init.normal_(self.item.weight, std=dim ** -0.5)
        with torch.no_grad():
            self.item.weight[0].zero_()

    def forward(self, seq):
        """seq: [B, L] shifted ids, right-padded -> hidden states [B, L, dim]."""
        length = seq.shape[1]
        keep = (seq > 0).unsqueeze(-1).float()
        x = self.item(seq) * math.sqrt(self.dim) + self.position(torch.arange(length, device=seq.device))
        x = self.dropout(x) * keep
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=seq.device), diagonal=1)
        for block in self.blocks:
            x = block(x, causal, keep)
        return self.norm(x)


def pad(rows):
    length = max(len(r) for r in rows)
    out = np.zeros((len(rows), length), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return torch.from_numpy(out)


def training_pairs(sequences, max_len):
    """(inputs, targets) per user from items[:-2], last max_len positions, ids shifted by one."""
    pairs = []
    for items in sequences:
        train = [i + 1 for i in items[:-2]]
        if len(train) < 2:
            continue
        inputs, targets = train[:-1][-max_len:], train[1:][-max_len:]
        pairs.append((inputs, targets))
    return pairs


def batches(pairs, batch_size, rng):
    """Length-bucketed batches (less padding), in a shuffled order."""
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][0]), rng.random()))
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(chunks)
    return chunks


def train(model, pairs, items, args, validate=None):
    """Trains in place. validate(epoch) -> (HR@1, metrics), when given, runs after every
    --eval-every epochs (and after the last one); the weights with the best HR@1 so far are
    kept and loaded back at the end, and --patience evaluations without a new best stop training."""
    rng = random.Random(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98))
    deadline = time.time() + args.minutes * 60
    started, steps, predictions = time.time(), 0, 0
    best, best_epoch, best_state, stale = -1.0, 0, None, 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, count = 0.0, 0
        for chunk in batches(pairs, args.batch_size, rng):
            if time.time() >= deadline:
                break
            inputs = pad([pairs[i][0] for i in chunk])
            targets = pad([pairs[i][1] for i in chunk])
            hidden = model(inputs)
            real = targets > 0
            h, t = hidden[real], targets[real]
            if args.negatives > 0:
                negatives = torch.randint(1, items + 1, (args.negatives,), generator=generator)
                positive = (h * model.item(t)).sum(-1, keepdim=True)
                negative = h @ model.item(negatives).T
                negative = negative.masked_fill(negatives.unsqueeze(0) == t.unsqueeze(1), float("-inf"))
                logits = torch.cat([positive, negative], dim=1)
                loss = F.cross_entropy(logits, torch.zeros(len(t), dtype=torch.long))
            else:
                logits = h @ model.item.weight[1:].T
                loss = F.cross_entropy(logits, t - 1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.item.weight[0].zero_()
            steps += 1
            predictions += len(t)
            total += loss.item() * len(t)
            count += len(t)
        print(f"epoch {epoch}: loss {total / max(count, 1):.4f}, {predictions} predictions, "
              f"{time.time() - started:.0f}s", flush=True)
        last = time.time() >= deadline or epoch == args.epochs
        if validate and (epoch % args.eval_every == 0 or last):
            hr1, shown = validate(epoch)
            print(f"  valid epoch {epoch}: {shown}", flush=True)
            if hr1 > best:
                best, best_epoch, stale = hr1, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if args.patience and stale >= args.patience:
                    print(f"  no better valid HR@1 in {stale} evaluations: stopping", flush=True)
                    break
        if time.time() >= deadline:
            break
    print(f"trained {steps} steps, {predictions} next-item predictions in {time.time() - started:.0f}s", flush=True)
    if best_state is not None:
        model.load_state_dict(best_state)
        print(f"kept the weights of epoch {best_epoch} (best valid HR@1 {best:.4f})", flush=True)


@torch.no_grad()
def score_cases(model, cases, max_len, batch_size=512):
    model.eval()
    out = []
    for start in range(0, len(cases), batch_size):
        chunk = cases[start:start + batch_size]
        rows = [[i + 1 for i in c["sequence"][-max_len:]] or [0] for c in chunk]
        hidden = model(pad(rows))
        last = hidden[torch.arange(len(rows)), torch.tensor([max(len(r), 1) - 1 for r in rows])]
        for c, h in zip(chunk, last):
            candidates = torch.tensor([i + 1 for i in c["candidates"]])
            out.append(cold_lowest(c, (model.item(candidates) @ h).tolist()))
    return out


def cold_lowest(case, scores):
    """Scores of the case's "cold" items (never seen: an out-of-catalog target) set below every other score."""
    cold = set(case.get("cold") or [])
    if not cold:
        return scores
    floor = min(scores) - 1.0
    return [floor if item in cold else s for item, s in zip(case["candidates"], scores)]


def metrics(cases, scores):
    """HR@1/3/5 and NDCG@3/5 with instructrec eval's rule: ties count against the target."""
    sums = {"HR@1": 0.0, "HR@3": 0.0, "HR@5": 0.0, "NDCG@3": 0.0, "NDCG@5": 0.0}
    for c, s in zip(cases, scores):
        if c["target"] not in c["candidates"]:
            continue
        position = c["candidates"].index(c["target"])
        rank = 1 + sum(1 for j, v in enumerate(s) if j != position and v >= s[position])
        for k in (1, 3, 5):
            sums[f"HR@{k}"] += rank <= k
        for k in (3, 5):
            sums[f"NDCG@{k}"] += 1 / math.log2(rank + 1) if rank <= k else 0
    return {k: v / max(len(cases), 1) for k, v in sums.items()}


def read_cases(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def default_scores_path(cases_path):
    for suffix in (".cases.jsonl", ".jsonl"):
        if cases_path.endswith(suffix):
            return cases_path[: -len(suffix)] + ".scores.jsonl"
    return cases_path + ".scores.jsonl"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/games", help="dataset directory")
    parser.add_argument("--prefix", default="Games")
    parser.add_argument("--cases", action="append", default=[], help="cases file from instructrec eval --dump-cases (repeatable)")
    parser.add_argument("--scores", action="append", default=[], help="scores file per --cases, in order (default: derived)")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget in wall-clock minutes")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256, help="users per batch")
    parser.add_argument("--negatives", type=int, default=256, help="sampled-softmax negatives per batch; 0: full softmax")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 is several times faster than 2 on a 2-core machine shared with other work")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", help="write the trained weights here")
    parser.add_argument("--load", help="score with these weights; no training")
    parser.add_argument("--valid-cases", action="append", default=[],
                        help="valid-split cases file scored during training (repeatable); the first one selects: "
                             "the weights of the epoch with its best HR@1 are kept (saved and used for --cases)")
    parser.add_argument("--eval-every", type=int, default=1, help="epochs between --valid-cases evaluations")
    parser.add_argument("--patience", type=int, default=0,
                        help="stop after this many --valid-cases evaluations without a better HR@1; 0: never")
    parser.add_argument("--log", help="append one JSON line per --valid-cases evaluation (config, epoch, seconds, metrics)")
    args = parser.parse_args()
    if args.scores and len(args.scores) != len(args.cases):
        sys.exit("--scores must be given once per --cases, or not at all")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)

    items = item_count(args.data, args.prefix)
    model = SASRec(items, args.dim, args.blocks, args.max_len, args.dropout)
    if args.load:
        model.load_state_dict(torch.load(args.load))
        print(f"loaded {args.load}")
    else:
        sequences = read_sequences(args.data, args.prefix)
        pairs = training_pairs(sequences, args.max_len)
        print(f"{len(sequences)} users, {items} items, {sum(len(p[1]) for p in pairs)} training positions per epoch", flush=True)
        validate = None
        if args.valid_cases:
            for path in args.valid_cases:
                if any(c.get("split") not in (None, "valid") for c in read_cases(path)[:1]):
                    sys.exit(f"{path}: --valid-cases must be valid-split cases (tuning never reads the test split)")
            valid = [(path, read_cases(path)) for path in args.valid_cases]
            started = time.time()
            config = {k: getattr(args, k) for k in ("negatives", "epochs", "minutes", "dim", "blocks", "max_len",
                                                     "dropout", "lr", "batch_size", "seed")}

            def validate(epoch):
                results = {path: metrics(cases, score_cases(model, cases, args.max_len)) for path, cases in valid}
                if args.log:
                    with open(args.log, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"config": config, "epoch": epoch, "seconds": round(time.time() - started),
                                            "valid": results}) + "\n")
                shown = "  ".join(f"{os.path.basename(p)} HR@1 {m['HR@1']:.4f} NDCG@5 {m['NDCG@5']:.4f}"
                                  for p, m in results.items())
                return results[args.valid_cases[0]]["HR@1"], shown
        train(model, pairs, items, args, validate)
        if args.save:
            torch.save(model.state_dict(), args.save)
            print(f"saved {args.save}")

    for index, path in enumerate(args.cases):
        cases = read_cases(path)
        scores = score_cases(model, cases, args.max_len)
        out = args.scores[index] if args.scores else default_scores_path(path)
        with open(out, "w", encoding="utf-8") as f:
            for c, s in zip(cases, scores):
                f.write(json.dumps({"user_index": c["user_index"], "user": c["user"], "candidates": c["candidates"],
                                    "scores": s}, allow_nan=False) + "\n")
        m = metrics(cases, scores)
        print(f"{path}: {len(cases)} cases -> {out}")
        print("  " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()), flush=True)


if __name__ == "__main__":
    main()
