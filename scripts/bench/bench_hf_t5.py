#!/usr/bin/env python3
"""Reference side of the engine benchmark: Hugging Face transformers (PyTorch,
CPU) scoring the same rerank-N workload as `instructrec-bench engine` (`make bench`), on random
weights with Flan-T5 shapes.

The instruction is encoded once; the decoder runs all candidates as one batch
with the encoder output shared (expanded as a view, not copied), teacher
forcing, log-softmax gathered at the targets. That is the most favourable way
to do it in transformers.

Run: venv/bin/python scripts/bench/bench_hf_t5.py --size small --candidates 20 --threads 2
"""
import argparse
import statistics
import time

import torch
from transformers import T5Config, T5ForConditionalGeneration

SIZES = {
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_heads=12),
    "large": dict(d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="small", choices=SIZES)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--instruction-tokens", type=int, default=384)
    parser.add_argument("--title-tokens", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = T5Config(vocab_size=32128, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                      decoder_start_token_id=0, **SIZES[args.size])
    model = T5ForConditionalGeneration(config).eval()
    g = torch.Generator().manual_seed(1)
    instruction = torch.randint(3, 32000, (1, args.instruction_tokens), generator=g)
    titles = torch.randint(3, 32000, (args.candidates, args.title_tokens), generator=g)
    targets = torch.cat([titles, torch.ones(args.candidates, 1, dtype=torch.long)], dim=1)
    decoder_input = torch.cat([torch.zeros(args.candidates, 1, dtype=torch.long), titles], dim=1)

    @torch.inference_mode()
    def score():
        encoded = model.encoder(input_ids=instruction).last_hidden_state
        shared = encoded.expand(args.candidates, -1, -1)
        logits = model(encoder_outputs=(shared,), decoder_input_ids=decoder_input).logits
        return torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1).sum(-1)

    for _ in range(2):
        score()
    times = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        score()
        times.append(time.perf_counter() - start)
    print(f"transformers {args.size} rerank-{args.candidates} ({args.threads} threads): "
          f"median {statistics.median(times) * 1e3:.1f} ms over {args.iterations} requests")


if __name__ == "__main__":
    main()
