#!/usr/bin/env python3
"""int8 and bf16 pointwise scoring over HTTP against CTranslate2 int8, interleaved in one run
(`make bench-pointwise` runs it after the float32 comparison).

The workload is bench_pointwise.py's: MonoT5-small shapes (random weights), 100 documents of
200 tokens and one query. Three things score it, round after round, in turn, so drift on the
machine hits all alike:

  * ours int8: `instructrec serve --model DIR --set scorer=monot5 --set weights_dtype=int8`,
    one POST /v2/rerank {"query", "documents": 100 texts} per round (HTTP, JSON, tokenization,
    windows, batching and the engine all inside the time);
  * ours bf16: the same with weights_dtype bf16;
  * ours float32: the same with weights_dtype f32 (the reference answer, and the F32 row);
  * CTranslate2 int8: `Translator(compute_type="int8").score_batch` on the same inputs'
    pieces (token ids prepared before timing), at its best max_batch_size, chosen first from
    --batch by a median of 3 runs each (2 threads, as ours).

Reported: each median, ours int8 / CTranslate2 int8, and what the reduced types do to the answer:
ours, worst |P(true) - P(true) f32|, how many of f32's top 10 stay in the top 10, and the spread of
P(true) - P(true) f32 beside f32's gap between its 10th and 11th documents (the random weights put
P(true) near ties, so that gap says whether a reduced type can keep the top 10 at all); CTranslate2
int8, the same against CTranslate2 float32 with |log P(true)| (its P(true) is over the whole
vocabulary, ours over true/false, so each is held to its own float32). The ratio the README quotes is ours int8 /
CTranslate2 int8.

Run (make bench-pointwise does):
  venv/bin/python scripts/bench/bench_pointwise_reduced.py --serve .build/release/instructrec \\
      --model .build/bench-models/monot5-small-random --ids .build/bench-models/pointwise-100x200.json
Needs ctranslate2 and tokenizers (scripts/requirements.txt); the checkpoint, its CTranslate2
conversion and the ids come from bench_pointwise.py.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pointwise  # noqa: E402  (the workload, the checkpoint and its conversion)
import bench_servers  # noqa: E402  (instructrec serve on a free port)

TRUE_TOKEN = "▁true"


def start_server(binary, model_dir, dtype, threads):
    """`instructrec serve` for MonoT5 with weights_dtype `dtype`, one worker, the context cache off; (process, port)."""
    return bench_servers.start(binary, model_dir, threads, ["scorer=monot5", f"weights_dtype={dtype}", "workers=1",
                                                            "max_input_tokens=512", "context_cache_mb=0"])


def rerank(port, query, documents):
    body = json.dumps({"query": query, "documents": documents}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/rerank", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as r:
        answer = json.load(r)
    scores = [0.0] * len(documents)
    for result in answer["results"]:
        scores[result["index"]] = result["relevance_score"]
    return scores


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def top10(scores):
    return set(sorted(range(len(scores)), key=lambda i: -scores[i])[:10])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", required=True, help="the instructrec binary")
    parser.add_argument("--model", required=True, help="MonoT5-shaped HF checkpoint (bench_pointwise.py --make-model)")
    parser.add_argument("--ids", required=True, help="bench_pointwise.py's workload file")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8, 16, 32, 100],
                        help="CTranslate2 max_batch_size candidates; the fastest is timed")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    import ctranslate2
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(bench_pointwise.tokenizer_path_for(args.model))
    workload = bench_pointwise.load_workload(args.ids, tokenizer, 100, 200)
    query = workload["query"]
    prefix, suffix = f"Query: {query} Document: ", " Relevant:"
    documents = [t[len(prefix):-len(suffix)] for t in workload["texts"]]
    assert all(t == prefix + d + suffix for t, d in zip(workload["texts"], documents))
    pieces = [[tokenizer.id_to_token(i) for i in x] for x in workload["inputs"]]
    targets = [[TRUE_TOKEN]] * len(pieces)

    translator = ctranslate2.Translator(bench_pointwise.ct2_model_dir(args.model), device="cpu", compute_type="int8",
                                        intra_threads=args.threads, inter_threads=1)
    exact_ct2 = ctranslate2.Translator(bench_pointwise.ct2_model_dir(args.model), device="cpu", compute_type="float32",
                                       intra_threads=args.threads, inter_threads=1)
    ct2_f32 = [math.exp(r.log_probs[0]) for r in exact_ct2.score_batch(pieces, targets, max_batch_size=16)]
    del exact_ct2

    def ct2(batch):
        return [math.exp(r.log_probs[0]) for r in translator.score_batch(pieces, targets, max_batch_size=batch)]

    # CTranslate2's best batch, by a median of 3 runs each (after a warm-up).
    by_batch = {}
    for batch in args.batch:
        ct2(batch)
        by_batch[batch] = statistics.median(timed(lambda: ct2(batch))[0] for _ in range(3))
    best = min(by_batch, key=by_batch.get)
    print("CTranslate2 int8 by max_batch_size: " + ", ".join(f"{b}: {s:.3f} s" for b, s in by_batch.items())
          + f"; timing {best}", flush=True)

    servers = {}
    try:
        for dtype in ("int8", "bf16", "f32"):
            servers[dtype] = start_server(args.serve, args.model, dtype, args.threads)
        with urllib.request.urlopen(f"http://127.0.0.1:{servers['int8'][1]}/info") as r:
            info = json.load(r)
        kernel = info["models"][0].get("int8_kernel", "?")
        with urllib.request.urlopen(f"http://127.0.0.1:{servers['bf16'][1]}/info") as r:
            bf16_kernel = json.load(r)["models"][0].get("bf16_kernel", "?")
        # Warm-up, and the answers compared.
        answers = {dtype: rerank(port, query, documents) for dtype, (_, port) in servers.items()}
        answers["ct2"] = ct2(best)
        times = {"int8": [], "bf16": [], "f32": [], "ct2": []}
        for _ in range(args.rounds):
            times["ct2"].append(timed(lambda: ct2(best))[0])
            for dtype in ("int8", "bf16", "f32"):
                times[dtype].append(timed(lambda: rerank(servers[dtype][1], query, documents))[0])
    finally:
        for process, _ in servers.values():
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    medians = {k: statistics.median(v) for k, v in times.items()}
    exact = {"int8": answers["f32"], "bf16": answers["f32"], "ct2": ct2_f32}
    worst = {k: max(abs(a - b) for a, b in zip(answers[k], exact[k])) for k in ("int8", "bf16")}
    # CTranslate2's P(true) is over the whole vocabulary (tiny with random weights): compared as log P.
    worst["ct2"] = max(abs(math.log(a) - math.log(b)) for a, b in zip(answers["ct2"], ct2_f32))
    same_top = {k: top10(answers[k]) == top10(exact[k]) for k in ("int8", "bf16", "ct2")}
    kept = {k: len(top10(answers[k]) & top10(exact[k])) for k in ("int8", "bf16", "ct2")}
    # Whether keeping the top 10 is within reach: F32's gap between its 10th and 11th documents against each
    # type's noise (the spread of P - P f32 over the documents).
    ordered = sorted(answers["f32"], reverse=True)
    boundary_gap = ordered[9] - ordered[10] if len(ordered) > 10 else float("nan")
    noise = {k: statistics.pstdev([a - b for a, b in zip(answers[k], exact[k])]) for k in ("int8", "bf16")}
    core = os.environ.get("OPENBLAS_CORETYPE", "unset (the library's choice)")
    print(f"\npointwise int8 over HTTP, {len(documents)} documents x {workload['tokens']} tokens, {args.threads} threads, "
          f"{args.rounds} interleaved rounds; CPU {bench_pointwise.cpu_model()}, OPENBLAS_CORETYPE {core}; "
          f"int8 kernel {kernel}, bf16 kernel {bf16_kernel}")
    for dtype in ("int8", "bf16"):
        print(f"  ours {dtype} /v2/rerank        median {medians[dtype]:.3f} s   worst |dP| vs f32 {worst[dtype]:.4f}, "
              f"top 10 kept {kept[dtype]} of 10, noise (std of dP) {noise[dtype]:.4f}")
    print(f"  f32 P(true) from {min(answers['f32']):.3f} to {max(answers['f32']):.3f}; "
          f"gap between its 10th and 11th documents {boundary_gap:.4f}")
    print(f"  ours f32 /v2/rerank         median {medians['f32']:.3f} s")
    print(f"  CTranslate2 {ctranslate2.__version__} int8 (batch {best})  median {medians['ct2']:.3f} s   "
          f"worst |d log P| vs CTranslate2 float32 {worst['ct2']:.4f}, top 10 kept {kept['ct2']} of 10")
    print(f"  ours int8 / CTranslate2 int8 = {medians['int8'] / medians['ct2']:.2f}; "
          f"ours int8 / ours f32 = {medians['int8'] / medians['f32']:.2f}; ours bf16 / ours f32 = {medians['bf16'] / medians['f32']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"medians_s": medians, "runs_s": times, "ct2_batch": best, "ct2_by_batch": by_batch,
                       "worst_abs_dp": worst, "same_top10": same_top, "top10_kept": kept,
                       "noise_dp": noise, "f32_boundary_gap": boundary_gap, "int8_kernel": kernel,
                       "bf16_kernel": bf16_kernel,
                       "ct2_version": ctranslate2.__version__, "core_type": core}, f, indent=1)


if __name__ == "__main__":
    main()
