#!/usr/bin/env python3
"""Train the default model's domain vocabulary: a SentencePiece unigram model on
the item titles and the template text, written as `spiece.model` (Google
sentencepiece) and `tokenizer.json` (Hugging Face tokenizers), with T5's special
ids (pad 0, </s> 1, <unk> 2) and no <extra_id_N> sentinels.

Why a domain vocabulary: with Flan-T5's 32,128 pieces the lm_head of a d_model-128
model costs more than the rest of the network together, and a game title takes
about 13 pieces. A few thousand pieces learned on the catalogue make titles and
instructions shorter (fewer encoder tokens, fewer decoder rows) and the lm_head
several times cheaper, in training and serving alike.

Corpus: every title once (titles are the targets and most of the instruction
text), and instructions rendered from every template with random titles, so the
template words and the list punctuation get pieces in proportion to their use.
(Repeating the bare template text instead gave worse pieces: sentencepiece's
unigram seeding does poorly on a few thousand copies of 17 sentences.)

Run:  venv/bin/python scripts/train/vocab.py --dataset out/games.json \
          --templates models/default/templates.json --size 8000 --output models/default
"""
import argparse
import base64
import io
import json
import os
import random
import re
import sys

import sentencepiece as spm


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="out/games.json", help="from `instructrec instructions --dataset-output`")
    p.add_argument("--templates", default="models/default/templates.json")
    p.add_argument("--size", type=int, default=8000, help="vocabulary size, special tokens included")
    p.add_argument("--output", default="models/default")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args()


def corpus(dataset, templates):
    """Titles once each, plus instructions rendered from every template with random titles: the text the
    encoder really reads, so template words and list punctuation get whole pieces in proportion."""
    titles = [t for t in dataset["titles"] if t]
    rng = random.Random(5)
    item_format = templates.get("item_format", "\"{title}\"")
    separators = {"history": templates.get("history_separator", ", "), "candidates": templates.get("candidate_separator", ", ")}
    lines = list(titles)
    texts = list(templates["templates"].values())
    for n in range(len(titles) // 2):
        text = texts[n % len(texts)]
        def fill(match):
            name = match.group(1)
            if name in separators:
                return separators[name].join(item_format.replace("{title}", rng.choice(titles)) for _ in range(3))
            if name == "item":
                return item_format.replace("{title}", rng.choice(titles))
            return rng.choice(titles).lower()
        lines.append(re.sub(r"\{([a-z]+)\}", fill, text))
    lines += ["yes", "no"] * 100
    return lines


def main():
    args = parse()
    dataset = json.load(open(args.dataset, encoding="utf-8"))
    templates = json.load(open(args.templates, encoding="utf-8"))
    lines = corpus(dataset, templates)
    os.makedirs(args.output, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=args.size, model_type="unigram",
        # T5's layout: pad 0 (also decoder_start), </s> 1, <unk> 2, no <s>.
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="nmt_nfkc", character_coverage=1.0, max_sentence_length=8192,
        num_threads=args.threads, shuffle_input_sentence=True, input_sentence_size=0, seed_sentencepiece_size=1_000_000,
        # Digits stay whole in titles ("2K19", "360"): years and numbered sequels are identity, not noise.
        split_digits=False, byte_fallback=False, minloglevel=2)
    spiece = os.path.join(args.output, "spiece.model")
    with open(spiece, "wb") as f:
        f.write(model.getvalue())

    # tokenizer.json in exactly the layout of Flan-T5's (Precompiled charsmap + Replace normalizer,
    # Metaspace with prepend_scheme "always", </s> appended by the post-processor): the layout both our
    # tokenizer and HF `tokenizers` read, filled with this model's pieces, scores and charsmap.
    from sentencepiece import sentencepiece_model_pb2
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode("ascii")
    special = {0: "<pad>", 1: "</s>", 2: "<unk>"}
    vocab = [[p.piece, 0.0 if i in special else p.score] for i, p in enumerate(proto.pieces)]
    assert all(vocab[i][0] == piece for i, piece in special.items()), "special pieces must be ids 0, 1, 2"
    metaspace = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    document = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": piece, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, piece in special.items()],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": metaspace,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                           "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": False},
    }
    with open(os.path.join(args.output, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False, indent=2)

    processor = spm.SentencePieceProcessor(model_file=spiece)
    sample = [t for t in dataset["titles"] if t][:2000]
    pieces = sum(len(processor.encode(t)) for t in sample) / len(sample)
    print(f"wrote {spiece} and tokenizer.json: {processor.get_piece_size()} pieces, "
          f"{pieces:.1f} pieces per title on average (first 2,000 titles)", file=sys.stderr)


if __name__ == "__main__":
    main()
