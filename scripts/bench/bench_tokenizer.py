#!/usr/bin/env python3
"""Reference side of `make bench-tokenizer`: Hugging Face `tokenizers`, single
thread, on the same corpus and the same tokenizer.json as the Swift benchmark.

Run: RAYON_NUM_THREADS=1 venv/bin/python scripts/bench/bench_tokenizer.py TOKENIZER_JSON CORPUS_JSONL
"""
import json
import statistics
import sys
import time

from tokenizers import Tokenizer


def main():
    tok_path = sys.argv[1] if len(sys.argv) > 1 else "Tests/TokenizerTests/Fixtures/tokenizer.json"
    corpus_path = sys.argv[2] if len(sys.argv) > 2 else "Tests/TokenizerTests/Fixtures/corpus.jsonl"
    tok = Tokenizer.from_file(tok_path)
    texts = [json.loads(line)["text"] for line in open(corpus_path, encoding="utf-8") if line.strip()]
    size = sum(len(t.encode("utf-8")) for t in texts)
    tokens = sum(len(tok.encode(t).ids) for t in texts)  # warm-up (fills HF's word cache, as ours has none)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for t in texts:
            tok.encode(t)
        times.append(time.perf_counter() - start)
    med = statistics.median(times)
    print(f"hf tokenizers (single thread, encode per string): {len(texts)} strings, {tokens} tokens, "
          f"{size / 1e6:.2f} MB: median pass {med * 1e3:.1f} ms = {tokens / med:.0f} tokens/s, {size / 1e6 / med:.2f} MB/s")


if __name__ == "__main__":
    main()
