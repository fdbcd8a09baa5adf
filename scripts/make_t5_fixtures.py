#!/usr/bin/env python3
"""Golden parity fixtures for the Swift T5 engine, made by Hugging Face transformers.

Builds two tiny random T5 checkpoints with the real vocabulary size (32128, so
the lm_head shape is real) and a fixed seed:
  t5-v1_0-tiny       relu FFN, tied embeddings (decoder output scaled by d_model^-0.5)
  t5-v1_1-tiny       gated-gelu (gelu_new) FFN, untied lm_head, more decoder than encoder layers
  t5-v1_1-tiny-bf16  the v1_1 checkpoint saved as BF16; its golden is computed in F32 from the
                     BF16-rounded weights, which is what our engine does (it widens to F32 at load)

For each, golden.json holds, for two instructions (150 tokens, so the far relative
buckets are used, and 6 tokens) and a padded batch of candidates of lengths 1..12:
  encoder hidden states, and per decoder position the logsumexp of the logits, the
  logits at 64 fixed vocabulary ids and at the target, the token log-probabilities,
  and sum/mean scores (batched and, as a cross-check, each candidate alone).

Run:  python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt
      venv/bin/python scripts/make_t5_fixtures.py Tests/T5Tests/Fixtures
"""
import json
import os
import sys

import torch
from transformers import T5Config, T5ForConditionalGeneration

SEED = 20230512
VOCAB = 32128

CONFIGS = {
    "t5-v1_0-tiny": dict(d_model=12, d_kv=4, num_heads=3, d_ff=24, num_layers=2, num_decoder_layers=2,
                         feed_forward_proj="relu", tie_word_embeddings=True),
    "t5-v1_1-tiny": dict(d_model=16, d_kv=8, num_heads=3, d_ff=40, num_layers=2, num_decoder_layers=3,
                         feed_forward_proj="gated-gelu", tie_word_embeddings=False),
}


def build(name, overrides, seed=SEED):
    """A tiny random T5 (also scripts/make_pointwise_fixtures.py's): real vocabulary, random norms and biases."""
    torch.manual_seed(seed)
    config = T5Config(vocab_size=VOCAB, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      dropout_rate=0.0, layer_norm_epsilon=1e-6, decoder_start_token_id=0, pad_token_id=0,
                      eos_token_id=1, **overrides)
    model = T5ForConditionalGeneration(config).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "layer_norm" in pname:
                # HF initialises norms to 1; random weights make the test see them.
                p.uniform_(0.5, 1.5)
            elif "relative_attention_bias" in pname:
                p.normal_(0.0, 1.0)
    return model


def inputs():
    g = torch.Generator().manual_seed(SEED + 1)
    long_instruction = torch.randint(3, 32100, (149,), generator=g).tolist() + [1]
    short_instruction = torch.randint(3, 32100, (5,), generator=g).tolist() + [1]
    lengths = [5, 1, 12, 3, 7]
    candidates = [torch.randint(3, 32100, (n,), generator=g).tolist() for n in lengths]
    candidates[4][-1] = VOCAB - 1  # the last model id, beyond the tokenizer's range
    probe_ids = sorted(set(torch.randint(0, VOCAB, (64,), generator=g).tolist()))
    return {"long": long_instruction, "short": short_instruction}, candidates, probe_ids


@torch.no_grad()
def golden_case(model, instruction, candidates, probe_ids):
    cfg = model.config
    enc_ids = torch.tensor([instruction])
    encoder_hidden = model.encoder(input_ids=enc_ids).last_hidden_state[0]
    longest = max(len(c) for c in candidates) + 1
    dec_in = torch.zeros((len(candidates), longest), dtype=torch.long)
    targets = torch.full((len(candidates), longest), -100, dtype=torch.long)
    for b, c in enumerate(candidates):
        seq = [cfg.decoder_start_token_id] + c
        dec_in[b, :len(seq)] = torch.tensor(seq)
        targets[b, :len(c) + 1] = torch.tensor(c + [cfg.eos_token_id])
    out = model(input_ids=enc_ids.expand(len(candidates), -1), decoder_input_ids=dec_in)
    logits = out.logits.float()
    logprobs = torch.log_softmax(logits, dim=-1)
    lse = torch.logsumexp(logits, dim=-1)
    result = {"instruction": instruction, "encoder_hidden": encoder_hidden.flatten().tolist(), "candidates": []}
    for b, c in enumerate(candidates):
        n = len(c) + 1
        tgt = targets[b, :n]
        token_lp = logprobs[b, torch.arange(n), tgt]
        # Each candidate alone, unpadded: the batch must not change its numbers.
        alone = model(input_ids=enc_ids, decoder_input_ids=dec_in[b:b + 1, :n]).logits.float()
        alone_lp = torch.log_softmax(alone, dim=-1)[0, torch.arange(n), tgt]
        result["candidates"].append({
            "tokens": c,
            "logsumexp": lse[b, :n].tolist(),
            "probe_logits": logits[b, :n][:, probe_ids].flatten().tolist(),
            "target_logits": logits[b, torch.arange(n), tgt].tolist(),
            "token_logprobs": token_lp.tolist(),
            "score_sum": token_lp.sum().item(),
            "score_mean": token_lp.mean().item(),
            "score_sum_alone": alone_lp.sum().item(),
        })
    return result


def write(model, directory, instructions, candidates, probe_ids, dtype=None):
    os.makedirs(directory, exist_ok=True)
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(directory, safe_serialization=True)
    reference = model.float()  # F32 arithmetic on the (possibly BF16-rounded) weights
    golden = {
        "probe_ids": probe_ids,
        "d_model": reference.config.d_model,
        "vocab_size": VOCAB,
        "cases": {k: golden_case(reference, v, candidates, probe_ids) for k, v in instructions.items()},
    }
    with open(os.path.join(directory, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    for extra in ("generation_config.json",):
        path = os.path.join(directory, extra)
        if os.path.exists(path):
            os.remove(path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/T5Tests/Fixtures"
    torch.set_num_threads(2)
    instructions, candidates, probe_ids = inputs()
    for name, overrides in CONFIGS.items():
        write(build(name, overrides), os.path.join(out, name), instructions, candidates, probe_ids)
    write(build("t5-v1_1-tiny", CONFIGS["t5-v1_1-tiny"]), os.path.join(out, "t5-v1_1-tiny-bf16"),
          instructions, candidates, probe_ids, dtype=torch.bfloat16)
    print("wrote fixtures to", out)


if __name__ == "__main__":
    main()
