#!/usr/bin/env python3
"""PyTorch expectations for calibrated scoring on the shipped default model:
score = log P(title | instruction) - alpha * log P(title | the same template with an
empty context), for candidate-free (generate.*) and list (recommend.history)
instructions rendered exactly as the service renders them (item_format, separators,
candidates in the service's canonical order: by title). Each candidate's likelihood
and prior are stored apart, so the Swift test
(Tests/ServiceTests/CalibratedScoringGoldenTests.swift) checks both halves and the
combination through the service's own pipeline.

Run: venv/bin/python scripts/make_calibrated_fixtures.py models/default Tests/ServiceTests/Fixtures/default-model-calibrated.json
"""
import json
import os
import random
import sys

import torch
from tokenizers import Tokenizer
from transformers import T5ForConditionalGeneration

from sample_titles import TITLES  # noqa: E402  (scripts/ is on sys.path when run as a script)
from t5_reference import log_likelihoods  # noqa: E402

ALPHA = 0.75


def render(template, item_format, history_sep, candidate_sep, history=(), intention="", candidates=()):
    fmt = lambda t: item_format.replace("{title}", t)  # noqa: E731
    return (template.replace("{history}", history_sep.join(fmt(t) for t in history))
            .replace("{preference}", "").replace("{intention}", intention)
            .replace("{candidates}", candidate_sep.join(fmt(t) for t in candidates)))


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/default"
    out = sys.argv[2] if len(sys.argv) > 2 else "Tests/ServiceTests/Fixtures/default-model-calibrated.json"
    spec = json.load(open(os.path.join(model_dir, "templates.json")))
    templates, item_format = spec["templates"], spec.get("item_format", '"{title}"')
    history_sep, candidate_sep = spec.get("history_separator", ", "), spec.get("candidate_separator", ", ")
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    model = T5ForConditionalGeneration.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    rng = random.Random(21)
    requests = []
    for r in range(9):
        name = ["generate.history", "generate.search.specific", "recommend.history"][r % 3]
        picks = rng.sample(TITLES, 4 + 6)
        history, candidates = picks[:4], picks[4:]
        intention = candidates[0].split(" ")[0].lower() if "search" in name else ""
        canonical = sorted(candidates, key=lambda t: t.encode("utf-8"))
        args = (templates[name], item_format, history_sep, candidate_sep)
        text = render(*args, history=history if "history" in name else (), intention=intention, candidates=canonical)
        prior_text = render(*args)
        instruction, prior_instruction = tokenizer.encode(text).ids, tokenizer.encode(prior_text).ids
        targets = [tokenizer.encode(t, add_special_tokens=False).ids for t in candidates]
        likelihoods = log_likelihoods(model, instruction, targets)
        priors = log_likelihoods(model, prior_instruction, targets)
        requests.append({"template": name, "history": history if "history" in name else [], "query": intention,
                         "instruction": text, "instruction_ids": instruction,
                         "prior_instruction": prior_text, "prior_instruction_ids": prior_instruction,
                         "candidates": candidates, "candidate_ids": targets, "likelihoods": likelihoods, "priors": priors,
                         "scores": [l - ALPHA * p for l, p in zip(likelihoods, priors)]})
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"model": model_dir, "alpha": ALPHA, "requests": requests}, f)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
