#!/usr/bin/env python3
"""Golden fixtures for the pointwise rerankers (MonoT5, RankT5), made by Hugging Face transformers.

Builds two tiny random T5 v1.0 checkpoints (relu FFN, tied embeddings, the real
vocabulary size 32128) with fixed seeds:
  monot5-tiny   scorer "monot5": input "Query: {q} Document: {d} Relevant:",
                score = logit("true") - logit("false"), relevance = P(true) = softmax of the two
  rankt5-tiny   scorer "rankt5": input "Query: {q} Document: {d}",
                score = relevance = logit(<extra_id_10>)
Both score with a single decoder step from the start token 0. The rows of the
shared embedding for "true" (1176), "false" (6136) and <extra_id_10> (32089)
are scaled up so that the scores differ visibly between documents.

Each directory gets config.json, model.safetensors, instructrec.json (scorer and
max_input_tokens = 64) and golden.json: per case and document, the score, the
relevance, the windows' token ids and scores (documents longer than the budget
are cut into overlapping windows and scored by their best window), plus the
keep_start, keep_end and max_tokens 8 truncation variants.

Text is tokenised with the real T5 tokenizer, Tests/TokenizerTests/Fixtures/tokenizer.json,
without its post-processor; </s> (id 1) is appended here.

Run:  python3 -m venv venv && venv/bin/pip install -r scripts/requirements.txt
      venv/bin/python scripts/make_pointwise_fixtures.py Tests/ServiceTests/Fixtures
"""
import json
import os
import sys

import torch
from tokenizers import Tokenizer
from transformers import T5ForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_t5_fixtures  # noqa: E402

TOKENIZER = "Tests/TokenizerTests/Fixtures/tokenizer.json"  # relative to the repository root
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = 32128
EOS = 1
TRUE_ID, FALSE_ID, EXTRA_ID_10 = 1176, 6136, 32089
MAX_INPUT_TOKENS = 64
MAX_TOKENS_VARIANT = 8
# Scale of the embedding rows of the three scored ids. The tied lm_head reads the
# same rows, so this widens the logits the scorers look at; with 1 (HF's init) every
# P(true) sits near 0.5 and a wrong document order could go unnoticed.
SCORED_ROW_SCALE = 3.0

MODELS = {
    "monot5-tiny": dict(scorer="monot5", seed=20240611),
    "rankt5-tiny": dict(scorer="rankt5", seed=20240612),
}
ARCH = dict(d_model=12, d_kv=4, num_heads=3, d_ff=24, num_layers=2, num_decoder_layers=2,
            feed_forward_proj="relu", tie_word_embeddings=True)


def long_document(n_chars=5000):
    """Deterministic prose of exactly n_chars characters (varied sentences, so windows differ)."""
    subjects = ["The knight", "A small robot", "Our pilot", "The old wizard", "Every racer", "A lost cat"]
    verbs = ["explores", "defends", "repairs", "races across", "sings about", "maps"]
    objects = ["the frozen castle", "a neon city", "the deep ocean trench", "seven floating islands",
               "an abandoned space station", "the haunted forest"]
    tails = ["before sunrise.", "with two loyal friends.", "while the music swells.",
             "and finds a hidden key.", "despite the storm.", "for the third time."]
    text, i = "", 0
    while len(text) < n_chars:
        text += f"{subjects[i % 6]} {verbs[(i * 5 + 1) % 6]} {objects[(i * 7 + 2) % 6]} {tails[(i // 6) % 6]} "
        i += 1
    return text[:n_chars]


def medium_document():
    """A little over the budget: two windows, the second one clamped to the document's end."""
    return ("A cozy farming game where you grow crops, raise animals, fish in the river, "
            "befriend the villagers, and restore the old community center over many seasons. "
            "Decorate your farmhouse, cook meals from your harvest, explore the mines for ore, "
            "and attend the festivals that mark the turning of the year.")


# The short documents were picked (from a few candidates) so that, with these seeds,
# every two documents of a case differ by at least 0.05 in relevance for both models.
CASES = [
    {"query": "a platform game with a plumber who jumps on enemies",
     "documents": [
         "Super Mario Bros. is a platform game in which a plumber rescues a princess.",
         "A turn-based strategy game about building an empire across centuries.",
         "Meet me at the café near the station at noon.",
         "Mario",
         "Pokémon trainers catch creatures in tall grass.",
         "The team won the championship in overtime.",
     ]},
    {"query": "an adventure story with a knight and a castle",
     "documents": [
         "A brave knight defends the king's castle from a dragon.",
         long_document(),
         "Learn to bake sourdough bread at home.",
     ]},
    {"query": "relaxing farm simulation",
     "documents": [medium_document(), "Farm life."]},
]


def build(seed):
    # make_t5_fixtures' tiny random T5 (same config and randomisation), then the scored rows made larger.
    model = make_t5_fixtures.build("pointwise", ARCH, seed=seed)
    with torch.no_grad():
        shared = model.get_input_embeddings().weight
        shared[[TRUE_ID, FALSE_ID, EXTRA_ID_10]] *= SCORED_ROW_SCALE
    return model


class Scorer:
    def __init__(self, kind, model, tokenizer):
        self.kind, self.model, self.tok = kind, model, tokenizer
        self.mismatches = []

    def ids(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids

    def text(self, query, document):
        if self.kind == "monot5":
            return f"Query: {query} Document: {document} Relevant:"
        return f"Query: {query} Document: {document}"

    def prefix(self, query):
        return self.ids(f"Query: {query} Document:")

    def suffix(self):
        return self.ids("Relevant:") if self.kind == "monot5" else []

    @torch.no_grad()
    def window_score(self, ids):
        """One decoder step from token 0; returns (score, relevance) as Python floats (F32 arithmetic)."""
        logits = self.model(input_ids=torch.tensor([ids]),
                            decoder_input_ids=torch.tensor([[0]])).logits[0, 0]
        if self.kind == "monot5":
            pair = torch.stack([logits[TRUE_ID], logits[FALSE_ID]])
            return (pair[0] - pair[1]).item(), torch.softmax(pair, dim=0)[0].item()
        value = logits[EXTRA_ID_10].item()
        return value, value

    def room(self, query):
        """W: the document tokens one window holds, besides the prefix, the suffix and </s>."""
        return MAX_INPUT_TOKENS - len(self.prefix(query)) - len(self.suffix()) - 1

    def window_inputs(self, query, document, doc_ids=None):
        """The model inputs for one document under the default policy (sliding windows)."""
        prefix, suffix = self.prefix(query), self.suffix()
        if doc_ids is None:
            full = self.ids(self.text(query, document)) + [EOS]
            doc_ids = self.ids(document)
            if len(full) <= MAX_INPUT_TOKENS:
                # The whole text fits: it is encoded in one piece, exactly as a short input
                # always was. Check that gluing the parts gives the same ids, since the
                # windows below are glued from separately encoded parts.
                glued = prefix + doc_ids + suffix + [EOS]
                if glued != full:
                    self.mismatches.append((query, document, full, glued))
                    print(f"WARNING {self.kind}: glued ids differ from the whole-text encoding for {document!r}:"
                          f"\n  whole {full}\n  glued {glued}")
                return [full]
        elif len(prefix) + len(doc_ids) + len(suffix) + 1 <= MAX_INPUT_TOKENS:
            return [prefix + doc_ids + suffix + [EOS]]
        # Too long: the query part (prefix) and the suffix are repeated in every window and
        # the document is cut into overlapping slices of W tokens. The stride is 3/4 of W so
        # that neighbouring windows share a quarter of their tokens (a passage cut at a
        # window edge is still seen whole by one window). The last start is clamped to
        # len(doc) - W so that the final window is full rather than a short tail.
        width = self.room(query)
        assert width > 0, "the query leaves no room for the document"
        stride = width - width // 4
        starts, s = [], 0
        while True:
            starts.append(s)
            if s + width >= len(doc_ids):
                break
            s = min(s + stride, len(doc_ids) - width)
        return [prefix + doc_ids[s:s + width] + suffix + [EOS] for s in starts]

    def best(self, inputs):
        """A document scores as its best window; its relevance is that window's relevance."""
        scored = [self.window_score(ids) for ids in inputs]
        i = max(range(len(scored)), key=lambda k: scored[k][0])
        return scored[i], [s for s, _ in scored]

    def truncated(self, query, document, keep):
        """keep_start / keep_end: a single window holding the first / last W document tokens."""
        full = self.ids(self.text(query, document)) + [EOS]
        if len(full) <= MAX_INPUT_TOKENS:
            ids = full
        else:
            doc, width = self.ids(document), self.room(query)
            part = doc[:width] if keep == "start" else doc[len(doc) - width:]
            ids = self.prefix(query) + part + self.suffix() + [EOS]
        score, relevance = self.window_score(ids)
        return {"score": score, "relevance": relevance, "inputs": [ids]}

    def max_tokens(self, query, document, n):
        """The document cut to its first n tokens, then windowed like any other."""
        inputs = self.window_inputs(query, document, doc_ids=self.ids(document)[:n])
        (score, relevance), _ = self.best(inputs)
        return {"score": score, "relevance": relevance, "inputs": inputs}

    def case(self, case):
        q = case["query"]
        out = {"query": q, "documents": case["documents"], "results": [],
               "keep_start": [], "keep_end": [], f"max_tokens_{MAX_TOKENS_VARIANT}": []}
        for d in case["documents"]:
            inputs = self.window_inputs(q, d)
            assert all(len(ids) <= MAX_INPUT_TOKENS for ids in inputs)
            (score, relevance), window_scores = self.best(inputs)
            out["results"].append({"score": score, "relevance": relevance, "windows": len(inputs),
                                   "window_scores": window_scores, "inputs": inputs})
            out["keep_start"].append(self.truncated(q, d, "start"))
            out["keep_end"].append(self.truncated(q, d, "end"))
            out[f"max_tokens_{MAX_TOKENS_VARIANT}"].append(self.max_tokens(q, d, MAX_TOKENS_VARIANT))
        return out


@torch.no_grad()
def centre_monot5(model, tokenizer):
    """Shift the "false" row so that the mean MonoT5 score over the cases' documents is 0.

    The score is (e_true - e_false) . h, with h the lm_head input (the decoder output,
    already times d_model^-0.5). A random tiny model gives h a large common part, so every
    score sits around the same negative value and P(true) is near 0 for every document.
    Adding c * m / |m|^2 to e_false, where m is the mean h over the calibration inputs
    (each document's first window) and c their mean score, makes that mean score 0 and
    leaves the differences between documents as they were, so P(true) spreads around 0.5.
    """
    scorer = Scorer("monot5", model, tokenizer)
    inputs = [scorer.window_inputs(c["query"], d)[0] for c in CASES for d in c["documents"]]
    seen = []
    hook = model.lm_head.register_forward_hook(lambda mod, args, out: seen.append(args[0][0, 0].clone()))
    scores = [scorer.window_score(ids)[0] for ids in inputs]
    hook.remove()
    mean_h = torch.stack(seen).mean(dim=0)
    mean_score = sum(scores) / len(scores)
    model.get_input_embeddings().weight[FALSE_ID] += mean_score * mean_h / mean_h.dot(mean_h)
    print(f"monot5: mean score {mean_score:+.4f} moved to "
          f"{sum(scorer.window_score(ids)[0] for ids in inputs) / len(inputs):+.2e}")


def write(name, spec, tokenizer, out_dir):
    directory = os.path.join(out_dir, name)
    os.makedirs(directory, exist_ok=True)
    model = build(spec["seed"])
    if spec["scorer"] == "monot5":
        centre_monot5(model, tokenizer)
    model.save_pretrained(directory, safe_serialization=True)
    path = os.path.join(directory, "generation_config.json")
    if os.path.exists(path):
        os.remove(path)
    with open(os.path.join(directory, "instructrec.json"), "w") as f:
        json.dump({"scorer": spec["scorer"], "max_input_tokens": MAX_INPUT_TOKENS}, f, indent=2)
        f.write("\n")
    # Score with the checkpoint as saved (reloaded), F32 as transformers computes it.
    model = T5ForConditionalGeneration.from_pretrained(directory, dtype=torch.float32).eval()
    scorer = Scorer(spec["scorer"], model, tokenizer)
    golden = {"tokenizer": TOKENIZER, "scorer": spec["scorer"], "max_input_tokens": MAX_INPUT_TOKENS,
              "cases": [scorer.case(c) for c in CASES]}
    with open(os.path.join(directory, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    report(name, golden)
    return scorer.mismatches


def report(name, golden):
    print(f"{name}:")
    for c in golden["cases"]:
        rel = [r["relevance"] for r in c["results"]]
        gaps = sorted(rel)
        min_gap = min((b - a for a, b in zip(gaps, gaps[1:])), default=float("nan"))
        print(f"  query {c['query']!r}: relevance spread {max(rel) - min(rel):.4f}, min gap {min_gap:.4f}")
        for d, r in zip(c["documents"], c["results"]):
            print(f"    windows {r['windows']:2d}  score {r['score']:+.5f}  relevance {r['relevance']:.5f}"
                  f"  ({len(d)} chars) {d[:50]!r}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/ServiceTests/Fixtures"
    torch.set_num_threads(2)
    tokenizer = Tokenizer.from_file(os.path.join(ROOT, TOKENIZER))
    for text, want in (("true", [TRUE_ID]), ("false", [FALSE_ID]), ("<extra_id_10>", [EXTRA_ID_10])):
        got = tokenizer.encode(text, add_special_tokens=False).ids
        print(f"{text!r} -> {got}")
        assert got == want, f"{text!r} encodes to {got}, expected {want}"
    mismatches = []
    for name, spec in MODELS.items():
        mismatches += write(name, spec, tokenizer, out)
    print(f"tokenization mismatches (glued parts vs whole text): {len(mismatches)}")
    print("wrote fixtures to", out)


if __name__ == "__main__":
    main()
