#!/usr/bin/env python3
"""Writes a random T5 checkpoint (config.json + model.safetensors, BF16) with
the tensor names and shapes of a Hugging Face T5ForConditionalGeneration, for
memory and speed measurements at real sizes (flan-t5-base, flan-t5-xl) without
downloading weights. Plain Python: no torch, no numpy.

Values are N(0, std) with roughly HF's initialisation scales (the same as
`T5Weights(randomWithConfig:)`), norms are 1, so activations stay finite.
To write gigabytes quickly, each tensor is tiled from a 1 Mi-value pool of
normal samples per scale, starting at a random offset.

Usage: scripts/make_random_t5_checkpoint.py CONFIG_JSON OUT_DIR
  e.g. scripts/make_random_t5_checkpoint.py ../shared/data/t5/flan-t5-xl/config.json /tmp/xl-bf16
"""
import array
import json
import math
import os
import random
import shutil
import struct
import sys

POOL = 1 << 20


def bf16_pool(std, rng):
    """POOL normal samples * std as BF16 bytes (round to nearest even)."""
    floats = array.array("f", (rng.gauss(0.0, std) for _ in range(POOL)))
    words = array.array("I", floats.tobytes())
    halves = array.array("H", (((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words))
    return halves.tobytes()


def tensors(c):
    """(name, shape, std or None for ones) in HF's layout."""
    d, heads, dkv = c["d_model"], c["num_heads"], c["d_kv"]
    inner, ff = heads * dkv, c["d_ff"]
    vocab, buckets = c.get("vocab_size", 32128), c.get("relative_attention_num_buckets", 32)
    gated = c.get("feed_forward_proj", "relu").startswith("gated-")
    tied = c.get("tie_word_embeddings", True)
    sd, s_inner, s_ff = 1 / math.sqrt(d), 1 / math.sqrt(inner), 1 / math.sqrt(ff)
    out = [("shared.weight", [vocab, d], 1.0)]
    if not tied:
        out.append(("lm_head.weight", [vocab, d], sd))

    def ffn(prefix):
        wi = [f"{prefix}.wi_0.weight", f"{prefix}.wi_1.weight"] if gated else [f"{prefix}.wi.weight"]
        return [(n, [ff, d], sd) for n in wi] + [(f"{prefix}.wo.weight", [d, ff], s_ff)]

    def attention(prefix):
        return [(f"{prefix}.{x}.weight", [inner, d], sd * 0.5) for x in "qkv"] + [(f"{prefix}.o.weight", [d, inner], s_inner)]

    for stack, layers in (("encoder", c["num_layers"]), ("decoder", c.get("num_decoder_layers") or c["num_layers"])):
        for i in range(layers):
            p = f"{stack}.block.{i}.layer"
            out += attention(f"{p}.0.SelfAttention") + [(f"{p}.0.layer_norm.weight", [d], None)]
            if i == 0:
                out.append((f"{p}.0.SelfAttention.relative_attention_bias.weight", [buckets, heads], 1.0))
            ffn_layer = 1
            if stack == "decoder":
                out += attention(f"{p}.1.EncDecAttention") + [(f"{p}.1.layer_norm.weight", [d], None)]
                ffn_layer = 2
            out += ffn(f"{p}.{ffn_layer}.DenseReluDense") + [(f"{p}.{ffn_layer}.layer_norm.weight", [d], None)]
        out.append((f"{stack}.final_layer_norm.weight", [d], None))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    config_path, out_dir = sys.argv[1], sys.argv[2]
    with open(config_path) as f:
        config = json.load(f)
    os.makedirs(out_dir, exist_ok=True)
    shutil.copyfile(config_path, os.path.join(out_dir, "config.json"))
    rng = random.Random(42)
    pools = {}
    layout = tensors(config)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in layout:
        size = 2 * math.prod(shape)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    path = os.path.join(out_dir, "model.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes)
        for name, shape, std in layout:
            count = math.prod(shape)
            if std is None:
                f.write(struct.pack("<H", 0x3F80) * count)   # 1.0 in BF16
                continue
            if std not in pools:
                pools[std] = bf16_pool(std, rng)
            pool = pools[std]
            start = 2 * rng.randrange(POOL)
            remaining = 2 * count
            while remaining > 0:
                chunk = pool[start:start + remaining]
                f.write(chunk)
                remaining -= len(chunk)
                start = 0
    params = sum(math.prod(s) for _, s, _ in layout)
    print(f"{path}: {len(layout)} tensors, {params / 1e6:.0f} M parameters, {offset / 1e9:.2f} GB of BF16")


if __name__ == "__main__":
    main()
