#!/usr/bin/env python3
"""Reference half of the pointwise benchmark: MonoT5 scoring of 100 documents
of 200 tokens each (`make bench-pointwise`; the other half is the Swift engine,
which reads the same checkpoint and the same token ids and runs in the same
`make` invocation, so the numbers are comparable).

What it measures: the wall time to score the whole workload (by default 100
inputs "Query: <q> Document: <200 tokens> Relevant:" + </s>, 220 ids each)
pointwise: one encoder pass per input and one decoder step from the start
token, relevance = softmax(logits[true, false])[true] (ids 1176 "▁true" and
6136 "▁false"). The weights are random, with MonoT5-small's shapes (T5 v1.0,
relu, tied embeddings), in float32. Two engines, CPU only, `--threads` threads:

  * transformers (PyTorch), batched forward padded to the longest input with
    an attention mask, `--batch` inputs per forward (one or more sizes; each
    is timed and the fastest is reported);
  * CTranslate2 (float32), `Translator.score_batch` with target "▁true", with
    the same `--batch` sizes as max_batch_size. Its scores are log P(▁true)
    over the full vocabulary; they are checked against transformers'
    log_softmax at id 1176 on every input (worst difference printed; above
    1e-3 the script exits 1 after writing its results). CT2 scores two
    decoder positions ("▁true" and the </s> it appends), transformers one.

Each configuration gets one warm-up run, then `--repeats` timed runs; the
median is reported, in seconds per workload (= per 100 documents by default).
Token ids are prepared before timing (the same for both engines).

Run:
  venv/bin/python scripts/bench/bench_pointwise.py \\
      --make-model .build/bench-models/monot5-small-random \\
      --ids .build/bench-models/pointwise-100x200.json --json /tmp/pointwise-ref.json

--make-model DIR writes a random checkpoint there if DIR/model.safetensors is
absent (and reuses it otherwise); --model DIR uses an existing checkpoint
(config.json + model.safetensors, and tokenizer.json for CT2). The CTranslate2
conversion is cached in DIR-ct2. The workload file (--ids) is written if absent
and read otherwise:
  {"documents": 100, "tokens": 200, "query": ..., "texts": [...], "inputs": [[ids...], ...]}
where inputs[i] are the tokenizer ids of texts[i] followed by </s> (id 1);
the document part of each is exactly `tokens` ids. Needs torch, transformers,
tokenizers; ctranslate2 is optional (its row is skipped when not installed).
"""
import argparse
import json
import os
import random
import shutil
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE_TOKENIZER = os.path.join(REPO, "Tests", "TokenizerTests", "Fixtures", "tokenizer.json")
TRUE_ID, FALSE_ID, EOS_ID, PAD_ID = 1176, 6136, 1, 0
QUERY = "what are the health benefits of drinking green tea every day"
SEED = 20240517
MODEL_SEED = 0
MONOT5_SMALL = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                    num_heads=8, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                    feed_forward_proj="relu", tie_word_embeddings=True, decoder_start_token_id=0,
                    pad_token_id=PAD_ID, eos_token_id=EOS_ID, dropout_rate=0.1, layer_norm_epsilon=1e-6)

# Vocabulary for the pseudo-random documents: common English words, so the
# token statistics (pieces per word) look like real text.
WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been one all we their has would when if can more will no out so
said what up its about into than them only other new some could time these two may first then do any
like my now over such our man me even most made after also did many before must through back years
where much your way well down should because each just those people how too little state good very
make world still own see men work long get here between both life being under never day same another
know while last might us great old year off come since against go came right used take three states
himself few house use during without again place american around however home small found mrs thought
went say part once general high upon school every don does got united left number course war until
always away something fact though water less public put think almost hand enough far took head yet
government system better set told nothing night end why called didn eyes find going look asked later
knew point next city give group toward young days let room president side social given present several
order national possible rather second face per among form important often things looked early white
case john become large big need four within felt along children saw best church ever least power
development light thing family interest want members mind country area others done turned although
open god service problem certain kind different thus began door help means sense whole matter perhaps
itself york times law human line above name example action company hands local show five history
whether gave either today act feet across taken past quite anything seen having death week experience
tea green leaf leaves brewed cup cups drink drinking health benefit benefits study studies research
heart blood pressure cholesterol antioxidant antioxidants caffeine metabolism weight loss risk cancer
diet daily morning evening hot cold sugar milk coffee plant plants china japan garden market price
river mountain valley forest train station music film book books story teacher student students
computer software network data model models engine search query document documents ranking score""".split()
SENTENCE_WORDS = (6, 18)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- checkpoint

def make_model(out_dir):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration
    if os.path.exists(os.path.join(out_dir, "model.safetensors")):
        log(f"reusing {out_dir}/model.safetensors")
    else:
        torch.manual_seed(MODEL_SEED)
        model = T5ForConditionalGeneration(T5Config(**MONOT5_SMALL)).eval()
        model.save_pretrained(out_dir, safe_serialization=True)
        params = sum(p.numel() for p in model.parameters())
        log(f"wrote random MonoT5-small-shaped checkpoint to {out_dir} ({params / 1e6:.1f} M parameters, float32)")
    tokenizer_path = os.path.join(out_dir, "tokenizer.json")
    if not os.path.exists(tokenizer_path):
        shutil.copyfile(FIXTURE_TOKENIZER, tokenizer_path)


def tokenizer_path_for(model_dir):
    path = os.path.join(model_dir, "tokenizer.json")
    return path if os.path.exists(path) else FIXTURE_TOKENIZER


# --------------------------------------------------------------------------- workload

def make_workload(tokenizer, documents, tokens):
    """`documents` inputs, each = ids("Query: q Document: <doc> Relevant:") + [</s>],
    the document part exactly `tokens` ids. The tokenizer splits on whitespace
    first (Metaspace), so a text's ids are the concatenation of its words' ids:
    words are added while they fit, then the gap is filled with one-token words;
    the result is checked by tokenizing the full text."""
    rng = random.Random(SEED)
    count = {}

    def n_tokens(word):
        if word not in count:
            count[word] = len(tokenizer.encode(word, add_special_tokens=False).ids)
        return count[word]

    one_token = [w for w in WORDS if n_tokens(w) == 1]
    prefix = tokenizer.encode(f"Query: {QUERY} Document:", add_special_tokens=False).ids
    suffix = tokenizer.encode("Relevant:", add_special_tokens=False).ids
    texts, inputs = [], []
    for _ in range(documents):
        words, total, left_in_sentence = [], 0, 0
        while total < tokens:
            if left_in_sentence == 0:
                left_in_sentence = rng.randint(*SENTENCE_WORDS)
            word = rng.choice(WORDS)
            if not words or words[-1].endswith("."):
                word = word.capitalize()
            left_in_sentence -= 1
            if left_in_sentence == 0:
                word += "."
            if total + n_tokens(word) > tokens:
                word = rng.choice(one_token)
            words.append(word)
            total += n_tokens(word)
        doc = " ".join(words)
        doc_ids = tokenizer.encode(doc, add_special_tokens=False).ids
        text = f"Query: {QUERY} Document: {doc} Relevant:"
        ids = tokenizer.encode(text, add_special_tokens=False).ids + [EOS_ID]
        assert len(doc_ids) == tokens, (len(doc_ids), doc)
        assert ids == prefix + doc_ids + suffix + [EOS_ID], text
        texts.append(text)
        inputs.append(ids)
    return {"documents": documents, "tokens": tokens, "seed": SEED, "query": QUERY,
            "texts": texts, "inputs": inputs}


def load_workload(path, tokenizer, documents, tokens):
    if not os.path.exists(path):
        workload = make_workload(tokenizer, documents, tokens)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(workload, f)
        log(f"wrote workload {path}: {documents} inputs of {len(workload['inputs'][0])} ids")
    with open(path) as f:
        workload = json.load(f)
    inputs = workload["inputs"]
    if len(inputs) != workload["documents"]:
        sys.exit(f"{path}: {len(inputs)} inputs but documents = {workload['documents']}")
    return workload


# --------------------------------------------------------------------------- engines

def time_runs(fn, repeats):
    result = fn()                                  # warm-up (and the scores for checking)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def bench_transformers(model_dir, inputs, batches, threads, repeats):
    import torch
    from transformers import T5ForConditionalGeneration
    torch.set_num_threads(threads)
    model = T5ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    by_batch, runs, log_p_true, relevance = {}, {}, None, None
    for batch in batches:
        chunks = []
        for start in range(0, len(inputs), batch):
            part = inputs[start:start + batch]
            longest = max(len(x) for x in part)
            ids = torch.full((len(part), longest), PAD_ID, dtype=torch.long)
            mask = torch.zeros((len(part), longest), dtype=torch.long)
            for row, x in enumerate(part):
                ids[row, :len(x)] = torch.tensor(x)
                mask[row, :len(x)] = 1
            chunks.append((ids, mask, torch.zeros((len(part), 1), dtype=torch.long)))

        @torch.inference_mode()
        def score():
            rel, lp = [], []
            for ids, mask, decoder in chunks:
                logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder).logits[:, 0, :]
                rel.append(torch.softmax(logits[:, [TRUE_ID, FALSE_ID]], dim=-1)[:, 0])
                lp.append(torch.log_softmax(logits, dim=-1)[:, TRUE_ID])
            return torch.cat(rel).tolist(), torch.cat(lp).tolist()

        median, times, (rel, lp) = time_runs(score, repeats)
        log(f"  transformers batch {batch}: median {median:.3f} s  ({' '.join(f'{t:.3f}' for t in times)})")
        by_batch[batch] = median
        runs[batch] = times
        if log_p_true is None:
            relevance, log_p_true = rel, lp
        else:                                      # batch sizes must not change the scores
            worst = max(abs(a - b) for a, b in zip(lp, log_p_true))
            if worst > 1e-3:
                log(f"  WARNING: transformers batch {batch} differs from batch {batches[0]} by {worst:.2e}")
    return by_batch, runs, relevance, log_p_true, torch.__version__


def ct2_model_dir(model_dir):
    out_dir = model_dir.rstrip("/") + "-ct2"
    source = os.path.join(model_dir, "model.safetensors")
    target = os.path.join(out_dir, "model.bin")
    if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source):
        import ctranslate2
        log(f"converting {model_dir} -> {out_dir} (CTranslate2 {ctranslate2.__version__})")
        ctranslate2.converters.TransformersConverter(model_dir).convert(out_dir, force=True)
    return out_dir


def bench_ct2(model_dir, pieces, batches, threads, repeats):
    import ctranslate2
    translator = ctranslate2.Translator(ct2_model_dir(model_dir), device="cpu", compute_type="float32",
                                        intra_threads=threads, inter_threads=1)
    targets = [["▁true"]] * len(pieces)
    by_batch, runs, log_p_true = {}, {}, None
    for batch in batches:
        def score():
            return [r.log_probs[0] for r in translator.score_batch(pieces, targets, max_batch_size=batch)]

        median, times, lp = time_runs(score, repeats)
        log(f"  ctranslate2 max_batch_size {batch}: median {median:.3f} s  ({' '.join(f'{t:.3f}' for t in times)})")
        by_batch[batch] = median
        runs[batch] = times
        log_p_true = log_p_true or lp
    return by_batch, runs, log_p_true, ctranslate2.__version__


# --------------------------------------------------------------------------- main

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="existing HF T5 checkpoint dir (config.json + model.safetensors)")
    source.add_argument("--make-model", metavar="DIR", help="write (if absent) a random MonoT5-small-shaped checkpoint")
    parser.add_argument("--ids", required=True, help="workload JSON (written if absent, then read)")
    parser.add_argument("--documents", type=int, default=100, help="inputs when writing --ids (default 100)")
    parser.add_argument("--tokens", type=int, default=200, help="document tokens when writing --ids (default 200)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, nargs="+", default=[100],
                        help="batch size(s) per forward (transformers) / max_batch_size (CT2); default 100")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="write the results here as one JSON object")
    args = parser.parse_args()

    model_dir = args.model or args.make_model
    if args.make_model:
        make_model(model_dir)
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(tokenizer_path_for(model_dir))
    workload = load_workload(args.ids, tokenizer, args.documents, args.tokens)
    inputs = workload["inputs"]
    lengths = sorted(len(x) for x in inputs)
    log(f"workload: {len(inputs)} inputs of {lengths[0]}..{lengths[-1]} ids ({workload['tokens']} document tokens), "
        f"{args.threads} threads, batch {args.batch}, {args.repeats} repeats")

    result = {"core_type": os.environ.get("OPENBLAS_CORETYPE", "unset"), "cpu": cpu_model(),
              "threads": args.threads, "documents": len(inputs), "tokens": workload["tokens"],
              "input_ids": lengths[-1], "repeats": args.repeats}

    by_batch, runs, relevance, hf_lp, torch_version = bench_transformers(model_dir, inputs, args.batch, args.threads,
                                                                   args.repeats)
    best = min(by_batch, key=by_batch.get)
    result.update(transformers_s=by_batch[best], transformers_batch=best,
                  transformers_by_batch={str(b): s for b, s in by_batch.items()},
                  transformers_runs={str(b): t for b, t in runs.items()}, torch_version=torch_version)

    agreement_ok = True
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        ctranslate2 = None
        print("ctranslate2 is not installed (venv/bin/pip install ctranslate2): skipping the CTranslate2 row",
              flush=True)
    if ctranslate2 is not None:
        pieces = [[tokenizer.id_to_token(i) for i in x] for x in inputs]
        ct2_by_batch, ct2_runs, ct2_lp, ct2_version = bench_ct2(model_dir, pieces, args.batch, args.threads, args.repeats)
        diffs = [abs(a - b) for a, b in zip(ct2_lp, hf_lp)]
        worst = max(range(len(diffs)), key=diffs.__getitem__)
        agreement_ok = diffs[worst] <= 1e-3
        ct2_best = min(ct2_by_batch, key=ct2_by_batch.get)
        result.update(ctranslate2_s=ct2_by_batch[ct2_best], ct2_batch=ct2_best,
                      ctranslate2_by_batch={str(b): s for b, s in ct2_by_batch.items()},
                      ctranslate2_runs={str(b): t for b, t in ct2_runs.items()}, ct2_version=ct2_version,
                      ct2_max_abs_diff_log_p_true=diffs[worst], ct2_agrees=agreement_ok)
        log(f"CT2 vs transformers log P(▁true), {len(diffs)} inputs: worst |diff| {diffs[worst]:.2e} "
            f"(input {worst}: {ct2_lp[worst]:.6f} vs {hf_lp[worst]:.6f})")
    result["reference_log_p_true"] = hf_lp
    result["reference_relevance"] = relevance

    n = len(inputs)
    print(f"\npointwise MonoT5-small (random weights), {n} documents x {workload['tokens']} tokens "
          f"({lengths[-1]} ids per input), {args.threads} threads, median of {args.repeats}")
    print(f"CPU: {result['cpu']}  (OPENBLAS_CORETYPE={result['core_type']})")
    print(f"{'engine':<28} {'batch':>6} {'s / workload':>13} {'ms / doc':>9}")
    rows = [(f"transformers {torch_version}", best, result["transformers_s"])]
    if "ctranslate2_s" in result:
        rows.append((f"ctranslate2 {result['ct2_version']}", result["ct2_batch"], result["ctranslate2_s"]))
    for name, batch, seconds in rows:
        print(f"{name:<28} {batch:>6} {seconds:>13.3f} {seconds / n * 1e3:>9.2f}")
    if len(args.batch) > 1:
        print("by batch: transformers " + ", ".join(f"{b}: {s:.3f} s" for b, s in by_batch.items())
              + ("; ctranslate2 " + ", ".join(f"{b}: {s:.3f} s" for b, s in ct2_by_batch.items())
                 if "ctranslate2_s" in result else ""))
    if "ct2_max_abs_diff_log_p_true" in result:
        print(f"CT2 vs transformers: worst |log P(true) diff| = {result['ct2_max_abs_diff_log_p_true']:.2e}"
              + ("" if agreement_ok else "  MISMATCH (> 1e-3)"))

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f)
            f.write("\n")
    summary = {k: v for k, v in result.items() if not k.startswith("reference_") and not k.endswith("_runs")}
    print(json.dumps(summary))
    if not agreement_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
