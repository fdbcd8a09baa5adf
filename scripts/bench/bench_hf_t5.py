#!/usr/bin/env python3
"""Reference side of the engine benchmark: Hugging Face transformers (PyTorch,
CPU) scoring the same rerank-N workload as `instructrec-bench engine` (`make bench`), on random
weights with Flan-T5 shapes: one instruction of `--instruction-tokens` ids, N candidates of
`--title-tokens` ids each, a candidate's score the sum of its log-probabilities (teacher forcing
from decoder start id 0, its title then </s>).

Every request encodes the instruction once, at batch 1, runs the N candidates' decoder inputs as
one batch and gathers log-softmax at the targets. What is shared between the candidates
(`--share`):

  kv       (default) the encoder output AND the decoder's cross-attention keys/values: each
           decoder layer's EncDecAttention k/v projections run once on the batch-1 encoder
           output, into transformers' own `EncoderDecoderCache` (cross-attention `DynamicCache`
           pre-filled, its tensors expanded to N as views, not copies; self-attention
           `DynamicCache` empty, fresh per request). The cache marks every layer updated, so
           T5Attention reads those K/V and the N-row pass never runs the k/v projections. That
           is the most favourable way to do it in transformers.
  encoder  the encoder output alone (expanded to N as a view); the decoder projects it to K/V
           for each of the N rows (no cache).

Before timing, the scores are checked against the plain full-batch computation (the encoder run
on the instruction repeated N times, no cache): the worst per-candidate difference is printed
and must be within 1e-4. Forward hooks on the EncDecAttention k/v modules count their calls in
one request (filling the cache, and the N-row pass) and are removed before timing; with `kv`
the N-row pass must make none.

Output, the last line (the median of `--iterations` timed requests, after two warm-ups):
  transformers small rerank-20 (2 threads): median 123.4 ms over 10 requests, shared kv

With `--ids FILE` (written by `instructrec-bench engine --end-to-end-json FILE`, as `make bench` does) it scores
the exact ids our HTTP figure scored, titles of any length, and prints ours / transformers.

Run: venv/bin/python scripts/bench/bench_hf_t5.py --size small --candidates 20 --threads 2 [--share kv|encoder]
"""
import argparse
import json
import os
import sys
import urllib.request
import statistics
import time

import torch
from transformers import DynamicCache, EncoderDecoderCache, T5Config, T5ForConditionalGeneration

SIZES = {
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12),
    "large": dict(d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16),
}
TOLERANCE = 1e-4


def start_server(binary, model_dir, ours, threads):
    """`instructrec serve` on these weights with the file's tokenizer and templates, one worker, the context cache
    off (every timed request is the same); (process, port) once ready."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_servers import start
    return start(binary, model_dir, threads, [f"tokenizer={ours['tokenizer']}", f"templates={ours['templates']}",
                                              "workers=1", "context_cache_mb=0"])


def request(port, ours):
    call = urllib.request.Request(f"http://127.0.0.1:{port}{ours['path']}", data=ours["body"].encode(),
                                  headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=120) as r:
        assert r.status == 200, r.status
        return r.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small", choices=SIZES)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--instruction-tokens", type=int, default=384)
    parser.add_argument("--title-tokens", type=int, default=15)
    parser.add_argument("--ids", help="score these ids instead of random ones: the JSON `instructrec-bench engine "
                             "--end-to-end-json` writes (instruction, candidates, http_ms); the ratio to its HTTP median "
                             "is printed")
    parser.add_argument("--serve", metavar="BIN",
                        help="with --ids: also serve these very weights with `BIN serve` (the file's tokenizer and templates, "
                             "context cache off) and time its POST of the file's body interleaved with transformers, "
                             "request by request: ours / transformers from one run")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--share", default="kv", choices=["kv", "encoder"],
                        help="kv: encoder output and cross-attention K/V computed once (default); "
                             "encoder: encoder output alone, K/V projected per candidate")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                      decoder_start_token_id=0, **SIZES[args.size])
    model = T5ForConditionalGeneration(config).eval()
    if args.serve:
        if not args.ids:
            parser.error("--serve needs --ids (the request body and the ids it scores)")
        saved = os.path.join(".build", "bench-models", f"flan-t5-{args.size}-hf-random")
        model.save_pretrained(saved, safe_serialization=True)   # the weights both sides use
    ours = None
    if args.ids:
        # The exact ids `instructrec-bench engine --end-to-end-json` scored over HTTP (its instruction with </s>,
        # its candidates' titles without), and its median, for the ratio.
        with open(args.ids) as f:
            ours = json.load(f)
        instruction = torch.tensor([ours["instruction"]], dtype=torch.long)
        title_lists = ours["candidates"]
    else:
        g = torch.Generator().manual_seed(1)
        instruction = torch.randint(3, 32000, (1, args.instruction_tokens), generator=g)
        title_lists = torch.randint(3, 32000, (args.candidates, args.title_tokens), generator=g).tolist()
    n = len(title_lists)
    # Titles of different lengths are padded at the end (pad id 0, the target masked): the decoder is causal,
    # so padding after a title changes none of its positions.
    width = max(len(t) for t in title_lists) + 1
    targets = torch.zeros(n, width, dtype=torch.long)
    mask = torch.zeros(n, width, dtype=torch.bool)
    decoder_input = torch.zeros(n, width, dtype=torch.long)
    for row, title in enumerate(title_lists):
        targets[row, :len(title) + 1] = torch.tensor(title + [1])
        mask[row, :len(title) + 1] = True
        decoder_input[row, 1:len(title) + 1] = torch.tensor(title)
    cross_attentions = [block.layer[1].EncDecAttention for block in model.decoder.block]

    def gather(logits):
        picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        return (picked * mask).sum(-1)

    def shared_cache(encoded):
        """The cross-attention K/V of every decoder layer from the batch-1 encoder output, laid out
        as T5Attention lays them out ([batch, heads, length, d_kv]), expanded to the N candidates."""
        cross = DynamicCache()
        for attention in cross_attentions:
            heads, d_kv = attention.n_heads, attention.key_value_proj_dim
            k = attention.k(encoded).view(1, -1, heads, d_kv).transpose(1, 2)
            v = attention.v(encoded).view(1, -1, heads, d_kv).transpose(1, 2)
            cross.update(k, v, attention.layer_idx)
            layer = cross.layers[attention.layer_idx]
            layer.keys = layer.keys.expand(n, -1, -1, -1)  # views: no copy per candidate
            layer.values = layer.values.expand(n, -1, -1, -1)
        cache = EncoderDecoderCache(DynamicCache(), cross)
        assert all(cache.is_updated.get(a.layer_idx) for a in cross_attentions)
        return cache

    @torch.inference_mode()
    def prepare():
        """Per-request work done once, at batch 1: the encoder, and with kv the cross-attention cache."""
        encoded = model.encoder(input_ids=instruction).last_hidden_state
        return encoded, (shared_cache(encoded) if args.share == "kv" else None)

    @torch.inference_mode()
    def candidates(encoded, cache):
        """The N-row teacher-forced decoder pass. With a cache the encoder states are still passed
        (they make the decoder run its cross-attention), but T5Attention reads K/V from the cache."""
        shared = encoded.expand(n, -1, -1)
        if cache is None:
            logits = model(encoder_outputs=(shared,), decoder_input_ids=decoder_input, use_cache=False).logits
        else:
            logits = model(encoder_outputs=(shared,), decoder_input_ids=decoder_input,
                           past_key_values=cache, use_cache=True).logits
        return gather(logits)

    def score():
        return candidates(*prepare())

    @torch.inference_mode()
    def plain():
        """No sharing at all: the encoder on the instruction repeated N times, no cache."""
        logits = model(input_ids=instruction.repeat(n, 1), decoder_input_ids=decoder_input, use_cache=False).logits
        return gather(logits)

    # The K/V projections of the cross-attention, counted over one request.
    calls = {"prepare": [], "candidates": []}
    phase = ["prepare"]
    hooks = [module.register_forward_hook(lambda _m, inputs, _o: calls[phase[0]].append(inputs[0].shape[0]))
             for attention in cross_attentions for module in (attention.k, attention.v)]
    encoded, cache = prepare()
    phase[0] = "candidates"
    scores = candidates(encoded, cache)
    for hook in hooks:
        hook.remove()
    layers = len(cross_attentions)
    if args.share == "kv":
        assert calls["prepare"] == [1] * (2 * layers), calls["prepare"]
        assert calls["candidates"] == [], f"cross-attention k/v projected in the N-row pass: {calls['candidates']}"
    else:
        assert calls["prepare"] == [] and calls["candidates"] == [n] * (2 * layers), calls
    print(f"cross-attention k/v projections in one request: {len(calls['prepare'])} at batch 1 before the "
          f"candidates, {len(calls['candidates'])} in the {n}-row pass"
          + (f" (batch {n})" if calls["candidates"] else ""))

    worst = (scores - plain()).abs().max().item()
    print(f"shared {args.share} against the unshared full batch: worst |score difference| {worst:.2e} "
          f"over {n} candidates (tolerance {TOLERANCE:.0e})")
    assert worst <= TOLERANCE, f"shared-{args.share} scores differ from the full batch by {worst:.2e}"

    server = start_server(args.serve, saved, ours, args.threads) if args.serve else None
    try:
        post = (lambda: request(server[1], ours)) if server else None
        for _ in range(2):
            score()
            if post:
                post()
        times, served = [], []
        for _ in range(args.iterations):
            start = time.perf_counter()
            score()
            times.append(time.perf_counter() - start)
            if post:
                # PyTorch's OpenMP threads spin for a while after a parallel region: each side starts from an
                # idle machine, not beside the other's spinning threads.
                time.sleep(0.3)
                start = time.perf_counter()
                post()
                served.append(time.perf_counter() - start)
                time.sleep(0.3)
    finally:
        if server:
            server[0].terminate()
            server[0].wait(timeout=30)
    if served:
        ours["http_ms"] = statistics.median(served) * 1e3
    median = statistics.median(times) * 1e3
    print(f"transformers {args.size} rerank-{n} ({args.threads} threads): "
          f"median {median:.1f} ms over {args.iterations} requests, shared {args.share}")
    if ours is not None:
        where = ("`instructrec serve` on the same weights, interleaved request by request" if served
                 else "instructrec-bench's in-process server, measured before this run")
        core = os.environ.get("OPENBLAS_CORETYPE", "unset (the library's choice)")
        print(f"ours over HTTP (POST /recommend, {len(ours['instruction'])} instruction tokens, {n} candidates, the same ids): "
              f"median {ours['http_ms']:.1f} ms = {ours['http_ms'] / median:.2f}x transformers' time "
              f"(torch {torch.__version__}, {args.threads} threads, OPENBLAS_CORETYPE {core}; ours: {where})")


if __name__ == "__main__":
    main()
