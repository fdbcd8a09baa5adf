#!/usr/bin/env python3
"""Instruction-tune a T5 on the JSONL that `instructrec instructions` writes,
then export a Hugging Face directory our engine loads unchanged
(config.json, model.safetensors, tokenizer.json).

Two ways to start:
  from scratch   --d-model/--layers/... with the Flan-T5 tokenizer (the shipped default model)
  fine-tune      --init DIR  (an HF checkpoint such as google/flan-t5-xl downloaded by the user)

The loss is the one the service ranks with: cross-entropy of the target text
(title + </s>) given the instruction, teacher forcing from the pad token.

Example (the shipped recipe, 45 minutes on 2 CPU cores; the README has the full command):
  venv/bin/python scripts/train/train.py --data out/instructions.jsonl --output models/default \
      --tokenizer ../shared/data/t5 --max-minutes 45 --lr 3e-3 --threads 2 \
      --template-weight search.specific=0.5 ...   (the T3/T2 next-item templates at full weight, the rest at half)

With --max-minutes the learning rate decays over the time budget (whichever of steps or minutes ends first),
so a time-boxed run ends at a small learning rate rather than being cut off at its peak.
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
from transformers import T5Config, T5ForConditionalGeneration


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="out/instructions.jsonl")
    p.add_argument("--output", default="models/default")
    p.add_argument("--init", help="HF checkpoint directory to fine-tune instead of training from scratch")
    p.add_argument("--tokenizer", default="../shared/data/t5", help="directory with tokenizer.json (from-scratch runs)")
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=512)
    p.add_argument("--d-kv", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--decoder-layers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-input", type=int, default=384)
    p.add_argument("--max-target", type=int, default=32)
    p.add_argument("--max-examples", type=int, default=0, help="use at most this many examples (0: all)")
    p.add_argument("--max-minutes", type=float, default=0, help="stop training after this many minutes (0: no limit)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all cores)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--save-dtype", default="bfloat16", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout for from-scratch runs (0: the shipped recipe sees each example about once, so it underfits)")
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"],
                   help="bf16: autocast matrix products to bfloat16 (AMX/AVX-512 BF16 on CPU, tensor cores on GPU); "
                        "weights, optimizer state and the loss stay float32")
    p.add_argument("--template-weight", action="append", default=[], metavar="NAME=W",
                   help="keep this fraction of a template's examples (W<1) or repeat them (W>1); repeatable")
    return p.parse_args()


def progress(step, total, loss, tokens_per_s, elapsed, eta):
    width = 30
    filled = int(width * min(step / max(total, 1), 1))
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] step {step}/{total} loss {loss:.4f} {tokens_per_s:,.0f} tok/s "
                     f"elapsed {elapsed / 60:.1f}m eta {eta / 60:.1f}m ")
    sys.stderr.flush()


def main():
    args = parse()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    tokenizer_dir = args.init or args.tokenizer
    tokenizer_file = os.path.join(tokenizer_dir, "tokenizer.json")
    tokenizer = Tokenizer.from_file(tokenizer_file)

    examples = []
    with open(args.data, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            examples.append((row["instruction"], row["target"], row.get("template", "")))
    weights = {}
    for item in args.template_weight:
        name, _, weight = item.partition("=")
        weights[name] = float(weight)
    if weights:
        kept = []
        for example in examples:
            weight = weights.get(example[2], 1.0)
            kept += [example] * int(weight)
            if random.random() < weight - int(weight):
                kept.append(example)
        examples = kept
    counts = {}
    for example in examples:
        counts[example[2]] = counts.get(example[2], 0) + 1
    random.shuffle(examples)
    if args.max_examples:
        examples = examples[: args.max_examples]
    print(f"{len(examples)} examples from {args.data}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
          file=sys.stderr)

    # tokenizer(text) appends </s> through the post-processor, exactly as the service encodes.
    def encode(batch, limit):
        out = tokenizer.encode_batch(batch)
        return [e.ids[: limit - 1] + [1] if len(e.ids) > limit else e.ids for e in out]

    t0 = time.time()
    inputs, targets = [], []
    for start in range(0, len(examples), 4096):
        chunk = examples[start:start + 4096]
        inputs += encode([c[0] for c in chunk], args.max_input)
        targets += encode([c[1] for c in chunk], args.max_target)
    print(f"tokenized in {time.time() - t0:.0f}s; mean input {sum(map(len, inputs)) / len(inputs):.0f} tokens, "
          f"mean target {sum(map(len, targets)) / len(targets):.1f}", file=sys.stderr)

    if args.init:
        model = T5ForConditionalGeneration.from_pretrained(args.init, torch_dtype=torch.float32)
    else:
        config = T5Config(vocab_size=32128, d_model=args.d_model, d_ff=args.d_ff, d_kv=args.d_kv, num_heads=args.heads,
                          num_layers=args.layers, num_decoder_layers=args.decoder_layers, feed_forward_proj="gated-gelu",
                          tie_word_embeddings=True, dropout_rate=args.dropout, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                          relative_attention_num_buckets=32, relative_attention_max_distance=128)
        model = T5ForConditionalGeneration(config)
    model.to(device).train()
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {params / 1e6:.2f}M parameters on {device}", file=sys.stderr)

    # Batches of similar input length waste less on padding.
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    batches = [order[i:i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    steps_per_epoch = len(batches)
    total_steps = max(1, int(steps_per_epoch * args.epochs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, total_steps // 50)
    start = time.time()

    # Linear warm-up, then linear decay to 2% of the peak over the run. With --max-minutes the run's
    # length is whichever ends first, steps or minutes, so a time-boxed run still ends with a small
    # learning rate instead of being cut off at its peak.
    def progress_fraction(s):
        fraction = s / total_steps
        if args.max_minutes:
            fraction = max(fraction, (time.time() - start) / (args.max_minutes * 60))
        return min(fraction, 1.0)

    def learning_rate_factor(s):
        return min(1.0, (s + 1) / warmup) * max(0.02, 1 - progress_fraction(s))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor)
    autocast_device = "cuda" if device == "cuda" else "cpu"

    ema, tokens_seen, step = None, 0, 0
    while step < total_steps:
        random.shuffle(batches)
        for batch in batches:
            if step >= total_steps:
                break
            if args.max_minutes and time.time() - start > args.max_minutes * 60:
                total_steps = step
                break
            max_in = max(len(inputs[i]) for i in batch)
            max_out = max(len(targets[i]) for i in batch)
            input_ids = torch.zeros((len(batch), max_in), dtype=torch.long)
            attention = torch.zeros((len(batch), max_in), dtype=torch.long)
            labels = torch.full((len(batch), max_out), -100, dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, :len(inputs[i])] = torch.tensor(inputs[i])
                attention[row, :len(inputs[i])] = 1
                labels[row, :len(targets[i])] = torch.tensor(targets[i])
            with torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                loss = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                             labels=labels.to(device)).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            tokens_seen += int(attention.sum()) + int((labels != -100).sum())
            ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
            elapsed = time.time() - start
            if step % 10 == 0 or step == total_steps:
                eta = elapsed / step * (total_steps - step)
                if args.max_minutes:
                    eta = min(eta, max(0.0, args.max_minutes * 60 - elapsed))
                progress(step, total_steps, ema, tokens_seen / max(elapsed, 1e-9), elapsed, eta)
    sys.stderr.write("\n")
    print(f"trained {step} steps ({step / steps_per_epoch:.2f} epochs) in {(time.time() - start) / 60:.1f} min, "
          f"final loss {ema:.4f}", file=sys.stderr)

    os.makedirs(args.output, exist_ok=True)
    model.eval()
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[args.save_dtype]
    model.to("cpu").to(dtype).save_pretrained(args.output, safe_serialization=True)
    for extra in ("generation_config.json",):
        path = os.path.join(args.output, extra)
        if os.path.exists(path):
            os.remove(path)
    shutil.copyfile(tokenizer_file, os.path.join(args.output, "tokenizer.json"))
    with open(os.path.join(args.output, "training.json"), "w") as f:
        json.dump({"data": args.data, "examples": len(examples), "steps": step, "final_loss": ema,
                   "args": vars(args)}, f, indent=2)
    print(f"exported {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
