#!/usr/bin/env python3
"""Instruction-tune a T5 for InstructRec ranking and export a Hugging Face
directory our engine loads unchanged (config.json, model.safetensors, the
tokenizer, and the model-bound serving files templates.json + instructrec.json).

Data: `instructrec instructions --dataset-output out/games.json` (titles decoded
exactly as the service sees them, and each user's sequence). Examples are made
here, on the fly, with fresh negatives and templates every epoch, from every
training position of every user: the last two items of each sequence (the
validation and test targets) are never shown, not even as history or negatives.
Instructions are rendered with the model directory's templates.json exactly as
`TemplateSet.render` does (scripts/train/templates.py; render_parity.py prints fixed cases for a Swift
comparison), history capped at the model's `max_history_items`. The default --mix is mostly the
candidate-free templates the service ranks with (generate.history, generate.search.*specific), beside the
list ones, whose candidates are shown shuffled. --title-noise rewrites a share of the titles shown the way
another store might (scripts/train/title_noise.py, a variant of the eval's StoreTitleRewriter, not a copy).

Objective, per example (one instruction, C = 1 + negatives candidates):
  mle       cross-entropy of the target title + </s> (teacher forcing from pad);
  listwise  softmax over the C candidates' summed title log-likelihoods, which is
            the score the service ranks by, cross-entropy on the true item
            (a sampled softmax, as SASRec trains with; --listwise-weight, 0 = off).
The instruction is encoded once and its C candidates decode as one batch, as in serving.

Where the compute goes (the old recipe spent it on 300-token instructions and a
32k-way softmax): a domain vocabulary (scripts/train/vocab.py), next-item
templates, every position of every sequence each epoch.

Budget and resumption: --max-minutes is the whole run's budget (the learning rate
decays linearly over it, so a time-boxed run ends small, not at its peak); a
checkpoint (weights, optimizer, step, elapsed minutes) is written every
--checkpoint-minutes, with an exported model beside it, and --resume continues
from it, so a hard stop loses at most those minutes. A GPU is used when present.

Example (the shipped recipe; README has the whole sequence):
  venv/bin/python scripts/train/train.py --dataset out/games.json --model-dir models/default \
      --run-dir out/train/default --max-minutes 100 --threads 2
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import torch
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from templates import Templates, query_from  # noqa: E402  (torch-free; render_parity.py uses it too)
from title_noise import rewrite as store_rewrite  # noqa: E402  (training-side variant of StoreTitleRewriter)


# The service ranks with candidate-free templates (instruction_form "candidate_free": the instruction holds only
# the user's context and every candidate is scored against it), so they take 60 %; the list templates they
# came from keep 40 % (the service still renders them with instruction_form "list"). History-only requests
# dominate, searches (the query made from the target title) get 30 %. generate.search.specific is the
# candidate-free search template (formerly generate.query).
DEFAULT_MIX = ("generate.history=0.45,generate.search.history.specific=0.08,generate.search.specific=0.07,"
               "recommend.history=0.25,search.history.specific=0.08,search.specific=0.07")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="out/games.json",
                   help="the JSON `instructrec instructions --dataset-output` writes from the Amazon files "
                        "(default: %(default)s, from the repository root); see scripts/data/README.md")
    p.add_argument("--model-dir", default="models/default",
                   help="holds tokenizer.json, templates.json and instructrec.json (the model-bound settings)")
    p.add_argument("--output", help="export directory (default: the model dir)")
    p.add_argument("--run-dir", default="out/train/default", help="checkpoint and intermediate exports")
    p.add_argument("--resume", action="store_true", help="continue from run-dir/checkpoint.pt")
    p.add_argument("--init", help="HF checkpoint directory to fine-tune instead of training from scratch")
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=512)
    p.add_argument("--d-kv", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--decoder-layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-minutes", type=float, default=100, help="the run's whole budget (resumed runs included)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: budget only)")
    p.add_argument("--checkpoint-minutes", type=float, default=5)
    p.add_argument("--mix", default=DEFAULT_MIX,
                   help="template=weight,...: which templates examples are drawn from (names from the model's "
                        "templates.json; the service ranks with the candidate-free generate.* ones)")
    p.add_argument("--title-noise", type=float, default=0.2,
                   help="probability per title shown (history, candidates, target) of rewriting it the way another "
                        "store might (scripts/train/title_noise.py: a variant of StoreTitleRewriter that keeps the "
                        "out-of-catalog eval's own rewrites unseen; 0 = off)")
    p.add_argument("--negatives", type=int, default=9, help="negatives per example (T3 list and listwise loss)")
    p.add_argument("--popular-negatives", type=float, default=0.3,
                   help="fraction of negatives drawn by training popularity (the rest uniformly)")
    p.add_argument("--listwise-weight", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=1, help="data-generation processes")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="bf16: autocast matrix products to bfloat16 (weights, optimizer state and losses stay float32); "
                        "auto: bf16 on a GPU, fp32 on CPU (CPU bf16 autocast ran 12x slower than fp32 on our AMD EPYC machines)")
    p.add_argument("--users", type=int, default=0, help="use only the first N users (0: all; for smoke tests)")
    return p.parse_args()


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW_DATA = "../shared/data/games"  # the project's dataset directory, relative to the repository root


def require_dataset(path):
    """Exit with what to obtain and where to put it when --dataset is not there (before anything heavy loads)."""
    if os.path.isfile(path):
        return
    if os.path.isdir(path):
        sys.exit(f"train.py: --dataset {path} is a directory; it takes the JSON file made from it by\n"
                 f"  .build/release/instructrec instructions --data {path} --dataset-output out/games.json")
    lines = [f"train.py: no dataset at {path}."]
    if not os.path.isabs(path) and os.path.isfile(os.path.join(ROOT, path)):
        lines.append(f"It exists relative to the repository root ({ROOT}): run from there, or pass "
                     f"--dataset {os.path.join(ROOT, path)}.")
        sys.exit("\n".join(lines))
    raw = os.path.normpath(os.path.join(ROOT, RAW_DATA))
    has_raw = os.path.isfile(os.path.join(raw, "Games.item")) and any(
        os.path.isfile(os.path.join(raw, name)) for name in ("Games-6k.test.inter", "Games.test.inter"))
    lines.append("Training reads the dataset as the service decodes it, a JSON file made from the repository root by:\n"
                 f"  make build && .build/release/instructrec instructions --data {RAW_DATA} --dataset-output {path}")
    if has_raw:
        lines.append(f"({RAW_DATA} = {raw} holds the Amazon files, so that command is all that is missing.)")
    else:
        lines.append(f"That needs the Amazon Review Data (2018) \"Video Games\" 5-core files, which are not in the repository, in\n"
                     f"  {RAW_DATA}/ (relative to the repository root: {raw}):\n"
                     f"  Games.item and Games-6k.test.inter (Games.test.inter is accepted too).\n"
                     "Build them from the public review and metadata files with scripts/data/convert_amazon2018.py;\n"
                     "scripts/data/README.md says where to download those and gives the exact command.")
    sys.exit("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Examples

RENAMED = {"generate.query": "generate.search.specific"}


def parse_mix(mix, templates):
    """[(template name, weight)] from "name=weight,...", every name checked against the model's templates.json."""
    out = []
    for entry in mix.split(","):
        name, _, weight = entry.strip().partition("=")
        if name not in templates.templates:
            hint = f" (renamed {RENAMED[name]!r})" if name in RENAMED else ""
            sys.exit(f"--mix: template {name!r}{hint} is not in the model's templates.json; it has: "
                     f"{', '.join(sorted(templates.templates))}")
        try:
            value = float(weight)
        except ValueError:
            sys.exit(f"--mix: {entry!r} needs name=weight with a number")
        if value < 0:
            sys.exit(f"--mix: {entry!r}: a weight must not be negative")
        out.append((name, value))
    if sum(w for _, w in out) <= 0:
        sys.exit("--mix: the weights sum to zero")
    return out


class ExampleStream(torch.utils.data.IterableDataset):
    """Endless batches: every training position of every user once per epoch, shuffled,
    a template drawn per example from --mix, negatives fresh each time."""

    def __init__(self, args, titles, sequences, templates, tokenizer_file, epoch_offset):
        self.args, self.titles, self.sequences, self.templates = args, titles, sequences, templates
        self.tokenizer_file, self.epoch_offset = tokenizer_file, epoch_offset
        self.mix = parse_mix(args.mix, templates)
        self.positions = [(u, p) for u, items in enumerate(sequences) for p in range(1, len(items) - 2)]
        counts = [0] * len(titles)
        for items in sequences:
            for item in items[:-2]:
                counts[item] += 1
        self.popular = [i for i, c in enumerate(counts) for _ in range(c) if titles[i]]  # draw ∝ training count
        self.valid_items = [i for i, t in enumerate(titles) if t]

    def negatives(self, rng, touched, count):
        chosen = []
        while len(chosen) < count:
            pool = self.popular if rng.random() < self.args.popular_negatives else self.valid_items
            item = pool[rng.randrange(len(pool))]
            if item not in touched and item not in chosen:
                chosen.append(item)
        return chosen

    def example(self, rng, user, position):
        args, items = self.args, self.sequences[user]
        target = items[position]
        history = items[max(0, position - args.max_history):position]
        touched = set(items)
        roll, name = rng.random() * sum(w for _, w in self.mix), self.mix[0][0]
        for candidate_name, weight in self.mix:
            roll -= weight
            if roll < 0:
                name = candidate_name
                break
        negatives = self.negatives(rng, touched, args.negatives)
        listed = negatives + [target]
        rng.shuffle(listed)  # list templates show the candidates in a random order, the target anywhere
        uses = self.templates.placeholders(name)
        # Title noise: a candidate's title is drawn once and used both in the list and as its decoder target;
        # each history occurrence is drawn on its own. The query comes from the catalog title (a user's search
        # does not depend on the store).
        noisy = {}  # candidate item -> its rewritten title, for this example

        def shown(item):
            if args.title_noise > 0 and rng.random() < args.title_noise:
                return store_rewrite(self.titles[item], rng.getrandbits(32))
            return None

        for item in listed:
            changed = shown(item)
            if changed is not None:
                noisy[item] = changed
        history_titles = []
        if "history" in uses:
            for item in history:
                changed = shown(item)
                history_titles.append(self.titles[item] if changed is None else changed)
        text = self.templates.render(
            name, history=history_titles,
            intention=query_from(self.titles[target]) if "intention" in uses else None,
            candidates=[noisy.get(i, self.titles[i]) for i in listed] if "candidates" in uses else ())
        # The listwise candidates: the listed ones for T3, the same draw for T2 (a sampled softmax).
        return text, listed, listed.index(target), noisy

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        tokenizer = Tokenizer.from_file(self.tokenizer_file)
        limit_in, limit_out = self.args.max_input, self.args.max_target
        title_ids = {}

        def target_ids(item, noisy):
            if item in noisy:  # a rewritten title: this example's own, not cached
                return tokenizer.encode(noisy[item], add_special_tokens=False).ids[:limit_out] + [1]
            if item not in title_ids:
                ids = tokenizer.encode(self.titles[item], add_special_tokens=False).ids
                title_ids[item] = ids[:limit_out] + [1]
            return title_ids[item]

        epoch = self.epoch_offset
        while True:
            rng = random.Random((self.args.seed * 1_000_003 + epoch) * 131 + worker)
            order = list(range(worker, len(self.positions), workers))
            rng.shuffle(order)
            batch = self.args.batch_size
            # Sort 32 batches' worth by length so a batch pads little, then shuffle the batches.
            for start in range(0, len(order), batch * 32):
                chunk = [self.example(rng, *self.positions[i]) for i in order[start:start + batch * 32]]
                encoded = tokenizer.encode_batch([c[0] for c in chunk])
                rows = []
                for (text, listed, label, noisy), enc in zip(chunk, encoded):
                    ids = enc.ids if len(enc.ids) <= limit_in else enc.ids[:limit_in - 1] + [1]
                    rows.append((ids, [target_ids(i, noisy) for i in listed], label))
                rows.sort(key=lambda r: len(r[0]))
                groups = [rows[i:i + batch] for i in range(0, len(rows), batch)]
                rng.shuffle(groups)
                for group in groups:
                    yield collate(group)
            epoch += 1


def collate(rows):
    """input_ids/attention [B, S]; decoder_input/labels [B*C, L] (candidate c of example b at row b*C+c);
    target [B] (the true item's index among its C candidates)."""
    count, per = len(rows), len(rows[0][1])
    s = max(len(r[0]) for r in rows)
    l = max(len(t) for r in rows for t in r[1])
    input_ids = torch.zeros((count, s), dtype=torch.long)
    attention = torch.zeros((count, s), dtype=torch.long)
    decoder_input = torch.zeros((count * per, l), dtype=torch.long)
    labels = torch.full((count * per, l), -100, dtype=torch.long)
    for b, (ids, targets, _) in enumerate(rows):
        input_ids[b, :len(ids)] = torch.tensor(ids)
        attention[b, :len(ids)] = 1
        for c, t in enumerate(targets):
            labels[b * per + c, :len(t)] = torch.tensor(t)
            decoder_input[b * per + c, 1:len(t)] = torch.tensor(t[:-1])  # shifted right from pad (decoder start 0)
    target = torch.tensor([r[2] for r in rows], dtype=torch.long)
    return input_ids, attention, decoder_input, labels, target


# ---------------------------------------------------------------------------------------------
# Model, loss, export

def build_model(args, vocab_size):
    from transformers import T5Config, T5ForConditionalGeneration
    if args.init:
        return T5ForConditionalGeneration.from_pretrained(args.init, torch_dtype=torch.float32)
    config = T5Config(vocab_size=vocab_size, d_model=args.d_model, d_ff=args.d_ff, d_kv=args.d_kv, num_heads=args.heads,
                      num_layers=args.layers, num_decoder_layers=args.decoder_layers, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=True, dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0,
                      eos_token_id=1, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      # T5 v1.0's rescaling of tied decoder outputs by d_model^-0.5, stated for transformers 5
                      # (which stores it as its own key) and harmless to 4.x (which derives it from the tie).
                      scale_decoder_outputs=True)
    return T5ForConditionalGeneration(config)


def losses(model, batch, args, device, autocast):
    input_ids, attention, decoder_input, labels, target = (t.to(device, non_blocking=True) for t in batch)
    count = input_ids.shape[0]
    per = decoder_input.shape[0] // count
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        encoded = model.encoder(input_ids=input_ids, attention_mask=attention).last_hidden_state  # [B, S, d]
        if args.listwise_weight > 0:
            rows = torch.arange(count, device=device).repeat_interleave(per)
            decoder_labels, decoder_in = labels, decoder_input
        else:  # the true item's row only
            rows = torch.arange(count, device=device)
            pick = rows * per + target
            decoder_labels, decoder_in = labels[pick], decoder_input[pick]
        hidden = model.decoder(input_ids=decoder_in, encoder_hidden_states=encoded[rows],
                               encoder_attention_mask=attention[rows]).last_hidden_state  # [R, L, d]
        # Causal self-attention with padding only at the end needs no decoder mask. The lm_head
        # and log-softmax run on the real (non-padding) positions only: about a third of R x L.
        mask = decoder_labels != -100  # [R, L]
        real = hidden[mask]  # [N, d]
        if getattr(model.config, "scale_decoder_outputs", model.config.tie_word_embeddings):
            real = real * model.config.d_model ** -0.5
        logits = model.lm_head(real)  # [N, V]
    logp = torch.log_softmax(logits.float(), dim=-1)
    token = torch.zeros(mask.shape, device=device, dtype=torch.float32)  # [R, L]
    token[mask] = logp.gather(-1, decoder_labels[mask].unsqueeze(-1)).squeeze(-1)
    if args.listwise_weight > 0:
        scores = token.sum(-1).view(count, per)  # the service's "sum" score of each candidate
        true_rows = torch.arange(count, device=device) * per + target
        mle = -token[true_rows].sum() / mask[true_rows].sum()
        listwise = torch.nn.functional.cross_entropy(scores, target)
        return mle, listwise
    mle = -token.sum() / mask.sum()
    return mle, torch.zeros((), device=device)


def export(model, args, directory, extra):
    """An HF directory: config.json written here (independent of the transformers version), weights in
    BF16 safetensors with tied embeddings stored once as shared.weight, tokenizer and serving files copied."""
    from safetensors.torch import save_file
    os.makedirs(directory, exist_ok=True)
    c = model.config
    tied = bool(getattr(c, "tie_word_embeddings", True))
    config = {"architectures": ["T5ForConditionalGeneration"], "d_ff": c.d_ff, "d_kv": c.d_kv, "d_model": c.d_model,
              "decoder_start_token_id": 0, "dense_act_fn": c.dense_act_fn, "dropout_rate": 0.0, "eos_token_id": 1,
              "feed_forward_proj": c.feed_forward_proj, "initializer_factor": 1.0, "is_encoder_decoder": True,
              "is_gated_act": c.is_gated_act, "layer_norm_epsilon": c.layer_norm_epsilon, "model_type": "t5",
              "num_decoder_layers": c.num_decoder_layers, "num_heads": c.num_heads, "num_layers": c.num_layers,
              "pad_token_id": 0, "relative_attention_max_distance": c.relative_attention_max_distance,
              "relative_attention_num_buckets": c.relative_attention_num_buckets, "tie_word_embeddings": tied,
              "scale_decoder_outputs": bool(getattr(c, "scale_decoder_outputs", tied)),
              "torch_dtype": "bfloat16", "use_cache": True, "vocab_size": c.vocab_size}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    skip = {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"} | ({"lm_head.weight"} if tied else set())
    state = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in model.state_dict().items() if k not in skip}
    save_file(state, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    source = args.init or args.model_dir
    for name in ("tokenizer.json", "spiece.model", "templates.json", "instructrec.json"):
        for folder in (args.model_dir, source):
            path = os.path.join(folder, name)
            if os.path.exists(path) and os.path.abspath(folder) != os.path.abspath(directory):
                shutil.copyfile(path, os.path.join(directory, name))
                break
    with open(os.path.join(directory, "training.json"), "w") as f:
        json.dump(extra, f, indent=2)


def main():
    args = parse()
    require_dataset(args.dataset)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings_file = os.path.join(args.model_dir, "instructrec.json")
    settings = json.load(open(settings_file)) if os.path.exists(settings_file) else {}
    args.max_history = int(settings.get("max_history_items", 10))
    args.max_input = int(settings.get("max_input_tokens", 512))
    args.max_target = int(settings.get("max_target_tokens", 64))
    tokenizer_file = os.path.join(args.init or args.model_dir, "tokenizer.json")
    templates = Templates(os.path.join(args.model_dir, "templates.json") if os.path.exists(
        os.path.join(args.model_dir, "templates.json")) else "config/templates.json")
    parse_mix(args.mix, templates)  # fail before loading anything heavy
    if not 0 <= args.title_noise <= 1:
        sys.exit("--title-noise: a probability in [0, 1]")
    data = json.load(open(args.dataset, encoding="utf-8"))
    titles, sequences = data["titles"], data["sequences"]
    if args.users:
        sequences = sequences[:args.users]
    vocab_size = Tokenizer.from_file(tokenizer_file).get_vocab_size()

    os.makedirs(args.run_dir, exist_ok=True)
    checkpoint_file = os.path.join(args.run_dir, "checkpoint.pt")
    model = build_model(args, vocab_size).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                                  **({"fused": True} if device.type == "cuda" else {}))
    step, elapsed_before, epochs_started, history = 0, 0.0, 0, []
    if args.resume and os.path.exists(checkpoint_file):
        state = torch.load(checkpoint_file, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed_before = state["step"], state["elapsed_s"]
        epochs_started, history = state["epochs_started"] + 1000, state.get("history", [])
        print(f"resumed at step {step}, {elapsed_before / 60:.1f} of {args.max_minutes:.0f} minutes", file=sys.stderr)
    elif args.resume:
        print(f"--resume: no {checkpoint_file}; starting fresh", file=sys.stderr)

    stream = ExampleStream(args, titles, sequences, templates, tokenizer_file, epochs_started)
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(stream.positions):,} training positions from {len(sequences):,} users; model {params / 1e6:.2f}M "
          f"parameters, vocabulary {vocab_size}, on {device}; history ≤ {args.max_history} items, "
          f"input ≤ {args.max_input} tokens; mix {args.mix}; title noise {args.title_noise}", file=sys.stderr)
    loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=args.workers,
                                         pin_memory=device.type == "cuda", prefetch_factor=8 if args.workers else None,
                                         persistent_workers=False)
    budget = args.max_minutes * 60
    start = time.time()
    last_checkpoint = start
    autocast = args.precision == "bf16" or (args.precision == "auto" and device.type == "cuda")

    def elapsed():
        return elapsed_before + time.time() - start

    def lr_factor():
        # Linear warm-up, then linear decay to 2% over the time (or step) budget.
        fraction = elapsed() / budget
        if args.max_steps:
            fraction = max(fraction, step / args.max_steps)
        return min(1.0, (step + 1) / args.warmup_steps) * max(0.02, 1 - min(fraction, 1.0))

    def save(final=False):
        info = {"dataset": args.dataset, "steps": step, "minutes": round(elapsed() / 60, 2),
                "examples_seen": step * args.batch_size, "positions_per_epoch": len(stream.positions),
                "epochs": round(step * args.batch_size / len(stream.positions), 2), "device": str(device),
                "loss_history": history[-200:], "args": vars(args)}
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "elapsed_s": elapsed(), "epochs_started": epochs_started, "history": history}, checkpoint_file + ".tmp")
        os.replace(checkpoint_file + ".tmp", checkpoint_file)
        export(model, args, os.path.join(args.run_dir, "export"), info)
        if final:
            export(model, args, args.output or args.model_dir, info)

    ema_mle = ema_list = None
    tokens = 0
    for batch in loader:
        if elapsed() >= budget or (args.max_steps and step >= args.max_steps):
            break
        for group in optimizer.param_groups:
            group["lr"] = args.lr * lr_factor()
        mle, listwise = losses(model, batch, args, device, autocast)
        loss = mle + args.listwise_weight * listwise
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens += int(batch[1].sum())
        if step % 25 == 0 or step == 1:
            m, lw = mle.item(), listwise.item()
            ema_mle = m if ema_mle is None else 0.9 * ema_mle + 0.1 * m
            ema_list = lw if ema_list is None else 0.9 * ema_list + 0.1 * lw
            if step % 500 == 0:
                history.append({"step": step, "minutes": round(elapsed() / 60, 2), "mle": round(ema_mle, 4),
                                "listwise": round(ema_list, 4)})
            sys.stderr.write(f"\rstep {step} mle {ema_mle:.4f} listwise {ema_list:.4f} lr {args.lr * lr_factor():.2e} "
                             f"{step * args.batch_size / max(time.time() - start, 1e-9):,.0f} ex/s "
                             f"{tokens / max(time.time() - start, 1e-9):,.0f} in-tok/s "
                             f"{elapsed() / 60:.1f}/{args.max_minutes:.0f} min ")
            sys.stderr.flush()
        if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
            save()
            last_checkpoint = time.time()
    sys.stderr.write("\n")
    save(final=True)
    print(f"trained {step} steps ({step * args.batch_size / len(stream.positions):.2f} epochs of positions) in "
          f"{elapsed() / 60:.1f} min; exported {args.output or args.model_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
